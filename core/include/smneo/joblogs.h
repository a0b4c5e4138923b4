/* smneo/joblogs.h: a compilation job's log (CloudWatch Logs), as events.
 *
 * Neo writes a job's compiler output to the log group
 * /aws/sagemaker/CompilationJobs, in the streams whose names are the job's
 * name (JOB) or start with it and a slash (JOB/model-info-extraction, ...).
 * A job-log reader lists those streams (DescribeLogStreams), reads each from
 * its start (GetLogEvents, startFromHead, until the forward token comes back
 * unchanged) and hands out their events merged in timestamp order (ties in
 * stream-name order).
 *
 * With follow, it then asks for the job's status (DescribeCompilationJob)
 * and, until the job is COMPLETED, FAILED or STOPPED, sleeps with the
 * waiter's backoff (delay doubling up to max_delay, back to delay whenever
 * new lines came), lists the streams again (stages add streams) and reads
 * what each stream gained since. Once the job has ended it reads one last
 * time and finishes, as `aws logs tail --follow` stops at the job's end.
 *
 * It is a step machine like a call (client.h): smneo_joblogs_step says
 * SEND (step.request; answer with smneo_joblogs_feed), SLEEP (at most 200
 * ms), EVENT (step.event: SMNEO_EVENT_LOG, a log event for
 * smneo_joblogs_event; SMNEO_EVENT_WARNING, smneo_joblogs_warning;
 * SMNEO_EVENT_STATUS, the job's status changed, smneo_call_page-like
 * smneo_joblogs_description) or DONE (smneo_joblogs_result). It never
 * blocks by itself; smneo_joblogs_next drives it with the client's
 * transport.
 *
 * A log that cannot be read is not an error of the reader: no log group or
 * no stream yet ("no log yet") and a refused read (AccessDeniedException:
 * logs:DescribeLogStreams / logs:GetLogEvents missing) are warnings, and
 * the reader ends normally (follow keeps waiting for streams to appear;
 * a refusal ends it). Other errors (throttling after retries, the network,
 * an unknown job in follow mode) end it with their code.
 *
 * Ownership: smneo_joblogs_new / _free. Everything handed out (events,
 * warnings, the description) is borrowed: an event and a description until
 * the next step, warnings until _free. */
#ifndef SMNEO_JOBLOGS_H
#define SMNEO_JOBLOGS_H

#include "client.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The log group Neo writes compilation jobs' logs to. */
#define SMNEO_JOBLOGS_GROUP "/aws/sagemaker/CompilationJobs"

typedef struct smneo_joblogs smneo_joblogs;

typedef struct smneo_joblogs_options {
    int version;          /* SMNEO_JOBLOGS_OPTIONS_VERSION */
    int64_t start_time;   /* ms since the epoch: only events at or after it; 0: from the start */
    int follow;           /* 1: follow until the job ends (see above) */
    double delay;         /* follow: first delay between polls in seconds (0: 5) */
    double max_delay;     /* follow: the backoff's cap in seconds (0: 60) */
    size_t tail;          /* >0: only the last `tail` events of the log as it is (not with follow) */
} smneo_joblogs_options;

#define SMNEO_JOBLOGS_OPTIONS_VERSION 1
#define SMNEO_JOBLOGS_OPTIONS_INIT {.version = SMNEO_JOBLOGS_OPTIONS_VERSION}
/* Zeroes *opts (the size of that version) and sets its version; SMNEO_EINVAL for a version
 * outside 1 to SMNEO_JOBLOGS_OPTIONS_VERSION. For programs that cannot use the macro (FFI). */
SMNEO_EXTERN(int) smneo_joblogs_options_init(smneo_joblogs_options *opts, int version);

typedef struct smneo_log_event {
    int64_t timestamp;   /* ms since the epoch */
    const char *message; /* NUL-terminated, as CloudWatch Logs stored it */
    size_t message_len;
    const char *stream;  /* the log stream's name */
} smneo_log_event;

/* A reader of job_name's log. SMNEO_EINVAL for an empty job name, tail with
 * follow, or negative delays. */
SMNEO_EXTERN(int) smneo_joblogs_new(smneo_joblogs **out, smneo_client *c, const char *job_name,
                                    const smneo_joblogs_options *opts, smneo_error *err);
SMNEO_EXTERN(void) smneo_joblogs_free(smneo_joblogs *l);

/* The next step (never fails: errors surface as DONE). */
SMNEO_EXTERN(void) smneo_joblogs_step(smneo_step *out, smneo_joblogs *l);
/* Hands back the answer to the last SEND (takes ownership of resp); resp
 * NULL with the transport's error code and message when sending failed. */
SMNEO_EXTERN(void) smneo_joblogs_feed(smneo_joblogs *l, smneo_response *resp, int transport_error,
                                      const char *transport_message);
/* Performs a SEND step with the client's transport and feeds the answer
 * back (blocking; a binding releases its interpreter lock around it). */
SMNEO_EXTERN(void) smneo_joblogs_send(smneo_joblogs *l, const smneo_step *step);
/* After EVENT_LOG: the event (borrowed until the next step). */
SMNEO_EXTERN(int) smneo_joblogs_event(smneo_log_event *out, const smneo_joblogs *l);
/* After EVENT_WARNING: its text; else the latest warning, or NULL. */
SMNEO_EXTERN(const char *) smneo_joblogs_warning(const smneo_joblogs *l);
/* Every warning so far, in order (borrowed until _free). */
SMNEO_EXTERN(size_t) smneo_joblogs_warning_count(const smneo_joblogs *l);
SMNEO_EXTERN(const char *) smneo_joblogs_warning_at(const smneo_joblogs *l, size_t i);
/* Follow: the job's latest description (borrowed until the next step) and
 * its status, or NULL before the first. */
SMNEO_EXTERN(const smneo_result *) smneo_joblogs_description(const smneo_joblogs *l);
SMNEO_EXTERN(const char *) smneo_joblogs_status(const smneo_joblogs *l);
/* The next step is DONE with SMNEO_ECANCELLED. */
SMNEO_EXTERN(void) smneo_joblogs_cancel(smneo_joblogs *l);
/* After DONE: 0 (the log was read; see the warnings), or the error code with
 * err filled. */
SMNEO_EXTERN(int) smneo_joblogs_result(smneo_joblogs *l, smneo_error *err);

/* Blocking iterator over the steps above: 0 and the next event (borrowed
 * until the next call), SMNEO_ITEROVER at the end, or an error. Warnings
 * and status changes are skipped (read them with _warning_count/_at and
 * _status). */
SMNEO_EXTERN(int) smneo_joblogs_next(smneo_log_event *out, smneo_joblogs *l, smneo_error *err);

#ifdef __cplusplus
}
#endif
#endif
