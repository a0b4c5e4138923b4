/* smneo/compile.h: the whole flow in one call: package, check, validate,
 * upload, create, wait, download, verify, (extract).
 *
 * 1. a directory `model` is packed (smneo_artifact_pack) and its layout
 *    checked for the framework and target; a .tar.gz is inspected as is;
 *    layout errors stop the flow before anything is uploaded;
 * 2. the full CreateCompilationJob request is validated (the client's mode);
 * 3. the archive is uploaded to s3://bucket/prefix/<digest[0:16]>/model.tar.gz
 *    (content-addressed), skipped when the object there carries the same
 *    BLAKE2b digest; the job's output goes to s3://bucket/prefix/<job>/output;
 * 4. the job is created (a unique name from job_name, or from the model's
 *    base name, within 63 characters); a create retried after a timeout that
 *    meets ResourceInUse is recognised as our own job when its settings
 *    match; then waited for with backoff, reporting status changes;
 * 5. on COMPLETED the compiled artifact (ModelArtifacts.S3ModelArtifacts) is
 *    downloaded into output_dir and verified against
 *    ModelDigests.ArtifactDigest (a mismatch is SMNEO_EDIGEST; a digest form
 *    that cannot be interpreted is a warning event); optionally extracted
 *    safely;
 * 6. FAILED is SMNEO_EJOBFAILED with the FailureReason; the result then
 *    carries the last 50 lines of the job's log (CloudWatch Logs, read
 *    best-effort: a missing log or a refused read is a warning, see
 *    joblogs.h) and the diagnosis made of both (diagnose.h); a cancel from the
 *    callback (Ctrl-C in a binding) or the waiter's timeout stops the job
 *    unless keep_job_on_cancel is 1.
 * Details (naming, S3 layout, verification, cancel): docs/compile.md. */
#ifndef SMNEO_COMPILE_H
#define SMNEO_COMPILE_H

#include "client.h"
#include "diagnose.h"
#include "joblogs.h"
#include "s3.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    SMNEO_COMPILE_EVENT_PACKED = 1,      /* message: archive path */
    SMNEO_COMPILE_EVENT_UPLOAD = 2,      /* done/total bytes */
    SMNEO_COMPILE_EVENT_UPLOADED = 3,    /* message: s3 uri ("... (already there)" when skipped) */
    SMNEO_COMPILE_EVENT_CREATED = 4,     /* message: job name */
    SMNEO_COMPILE_EVENT_STATUS = 5,      /* description: the job; message: status */
    SMNEO_COMPILE_EVENT_DOWNLOAD = 6,    /* done/total bytes */
    SMNEO_COMPILE_EVENT_VERIFIED = 7,    /* message: the digest */
    SMNEO_COMPILE_EVENT_WARNING = 8,     /* message: what to know */
    SMNEO_COMPILE_EVENT_STOPPING = 9,    /* message: job name (cancelled: stopping the job) */
    SMNEO_COMPILE_EVENT_WAITING = 10,    /* between polls and retries, about every 200 ms; message: the
                                            last status ("" before the first); lets a binding deliver
                                            Ctrl-C by returning non-zero */
    SMNEO_COMPILE_EVENT_PACK = 11,       /* done/total bytes packed (a directory) or hashed (an archive) */
    SMNEO_COMPILE_EVENT_LOG = 12,        /* follow_logs: message: a line of the job's log; done: its
                                            timestamp (ms since the epoch) */
    /* smneo_compile_many only: */
    SMNEO_COMPILE_EVENT_QUEUED = 13,     /* the job waits to start: the account's concurrent-job limit was met
                                            (ResourceLimitExceeded); message: the service's words; done: the
                                            concurrency now allowed */
    SMNEO_COMPILE_EVENT_SKIPPED = 14,    /* completed in the state file: not run again; message: job name */
    SMNEO_COMPILE_EVENT_REATTACHED = 15, /* running in the state file: waited for, not created; message: job name */
    SMNEO_COMPILE_EVENT_DONE = 16        /* the job's row is final; message: its status (COMPLETED, FAILED,
                                            STOPPED, STOPPING, or "" when it never started) */
} smneo_compile_event_kind;
/* The event's stable name ("PACKED", "UPLOAD", ..., "DONE"; "UNKNOWN" for a
 * kind this library does not know). Never NULL, static. */
SMNEO_EXTERN(const char *) smneo_compile_event_name(int kind);

typedef struct smneo_compile_event {
    smneo_compile_event_kind kind;
    const char *message;
    uint64_t done, total;
    const smneo_value *description; /* STATUS only */
    double elapsed;                 /* seconds since the call started */
} smneo_compile_event;

/* Return non-zero to cancel the flow. */
typedef int (*smneo_compile_cb)(const smneo_compile_event *ev, void *payload);

typedef struct smneo_compile_options {
    int version;                    /* SMNEO_COMPILE_OPTIONS_VERSION */
    const char *model;              /* model directory, or a .tar.gz archive */
    const char *framework;          /* InputConfig.Framework */
    const char *data_input_config;  /* JSON text, or NULL (XGBOOST, PyTorch on ml_*) */
    const char *framework_version;  /* or NULL */
    const char *target_device;      /* OutputConfig.TargetDevice, or NULL */
    const char *target_os;          /* TargetPlatform (when no target_device) */
    const char *target_arch;
    const char *target_accelerator; /* or NULL */
    const char *compiler_options;   /* JSON text, or NULL */
    const char *role_arn;
    const char *s3_bucket;
    const char *s3_prefix;          /* NULL: "smneo" */
    const char *job_name;           /* NULL: from the model's base name; made unique */
    const char *output_dir;         /* NULL: "." */
    int extract;                    /* 1: extract the compiled archive into output_dir/<job> */
    double timeout;                 /* waiter timeout in seconds; 0: none */
    double delay, max_delay;        /* waiter backoff (0: 5 and 60) */
    int max_runtime_seconds;        /* StoppingCondition.MaxRuntimeInSeconds (0: 900) */
    const char *tags_json;          /* Tags as JSON [{"Key":..,"Value":..}], or NULL */
    const char *kms_key_id;         /* OutputConfig.KmsKeyId and SSE-KMS on upload, or NULL */
    int keep_job_on_cancel;         /* 1: do not stop the job when cancelled */
    smneo_compile_cb callback;
    void *payload;
    /* version 2 */
    int follow_logs;                /* 1: while waiting, read the job's log and report each line
                                       (SMNEO_COMPILE_EVENT_LOG); the polls follow delay/max_delay */
    /* version 3 */
    const char *vpc_config_json;    /* VpcConfig as JSON {"SecurityGroupIds": [..], "Subnets": [..]}, or NULL */
    const char *model_package_version_arn; /* ModelPackageVersionArn instead of model and framework (nothing
                                              is packed or uploaded; the job reads the model package) */
    int max_wait_seconds;           /* StoppingCondition.MaxWaitTimeInSeconds (0: not sent) */
    int max_pending_seconds;        /* StoppingCondition.MaxPendingTimeInSeconds (0: not sent) */
} smneo_compile_options;

/* Versions 1 to 3 are accepted; an older struct ends before the members of the later versions. */
#define SMNEO_COMPILE_OPTIONS_VERSION 3
#define SMNEO_COMPILE_OPTIONS_INIT {.version = SMNEO_COMPILE_OPTIONS_VERSION}
/* Zeroes *opts (the size of that version) and sets its version; SMNEO_EINVAL for a version
 * outside 1 to SMNEO_COMPILE_OPTIONS_VERSION. For programs that cannot use the macro (FFI). */
SMNEO_EXTERN(int) smneo_compile_options_init(smneo_compile_options *opts, int version);

/* The options a binding's compile() takes, by their keyword names: one table
 * the bindings and the CLI read instead of each holding a list of their own.
 * A name is the member's name in smneo_compile_options without a "_json"
 * suffix ("tags" for tags_json, "vpc_config" for vpc_config_json); callback
 * and payload are not in it. */
typedef enum {
    SMNEO_COMPILE_OPTION_STRING = 1,  /* const char * */
    SMNEO_COMPILE_OPTION_JSON = 2,    /* const char *: JSON text (a binding may accept a table or dict) */
    SMNEO_COMPILE_OPTION_INTEGER = 3, /* int, a positive whole number */
    SMNEO_COMPILE_OPTION_SECONDS = 4, /* double, a positive number of seconds */
    SMNEO_COMPILE_OPTION_FLAG = 5     /* int, 0 or 1 */
} smneo_compile_option_type;

typedef struct smneo_compile_option_info {
    const char *name;               /* the keyword: "model", "tags", "max_wait_seconds", ... */
    smneo_compile_option_type type;
    size_t offset;                  /* offsetof(smneo_compile_options, member) */
    int per_job;                    /* 1: also a key of each job of smneo_compile_many (0:
                                       keep_job_on_cancel, compile's alone) */
} smneo_compile_option_info;

/* The i-th option (static, in the order of the struct), or NULL past the last. */
SMNEO_EXTERN(const smneo_compile_option_info *) smneo_compile_option_at(size_t i);

typedef struct smneo_compile_result smneo_compile_result;

/* Runs the flow. Options of version 1 (without follow_logs) are accepted.
 * On success *out is caller-owned (smneo_compile_result_free).
 * On SMNEO_EJOBFAILED / SMNEO_EJOBSTOPPED *out is set too (the final
 * description is in it). Errors name the step that failed. */
SMNEO_EXTERN(int) smneo_compile(smneo_compile_result **out, smneo_client *c, const smneo_compile_options *opts,
                                smneo_error *err);
SMNEO_EXTERN(void) smneo_compile_result_free(smneo_compile_result *r);

/* The same flow as a step machine (client.h), for drivers that must not
 * block: SEND and SLEEP steps for the API calls (without a bucket first the
 * default bucket's STS GetCallerIdentity, HeadBucket and CreateBucket; then
 * create, the waiter or the log reader, stop), WORK steps for what is
 * CPU-bound or blocking (pack or digest and the layout check and validation;
 * the S3 upload, unless transfer steps are on: smneo_call_set_transfer_steps;
 * the download, verification and extraction; a FAILED job's log
 * tail), run with smneo_call_work where the driver wants (inline, an
 * executor, a worker thread), and EVENT steps (step.event ==
 * SMNEO_EVENT_COMPILE) for every compile event, on the driving thread and in
 * order, including those raised on transfer threads during a WORK step:
 * they are queued and come after it (progress of a long transfer arrives when
 * its WORK step ends). opts->callback is not used; smneo_call_cancel after an
 * event is what the callback's non-zero return is to smneo_compile (the step
 * that was running is named in the error). smneo_compile drives this machine
 * (WORK inline, events to the callback as they happen). A nested machine's
 * SEND and SLEEP steps are forwarded as the compile machine's own; feed
 * answers with smneo_call_feed. The options are copied, their strings too.
 * Free with smneo_call_free. */
SMNEO_EXTERN(int) smneo_compile_new(smneo_call **out, smneo_client *c, const smneo_compile_options *opts,
                                    smneo_error *err);
/* Transfer steps (opt-in before the first step: on non-zero; 0, the
 * default, is off): the upload no longer runs inside a WORK step. The upload-skip's
 * HeadObject comes as the machine's own SEND (and SLEEP) steps, and the
 * upload itself (PutObject, or the multipart upload) as SMNEO_STEP_TRANSFER
 * steps: take the transfer with smneo_call_transfer and drive it with the
 * smneo_s3_transfer_ functions (s3.h, "Transfers as steps": SEND with ids and
 * streamed bodies, WAIT, SLEEP, EVENT) until its DONE, without taking its
 * result; then step the call again, which takes the result (an error is the
 * flow's "upload: ..." error, as with WORK). The transfer's progress
 * (its EVENT steps, and smneo_s3_transfer_progress) is queued as the flow's
 * UPLOAD events: stepping the call while the transfer is unfinished gives
 * them as EVENT steps, then TRANSFER again (the same transfer), so a driver
 * may deliver them during the upload. A cancel (smneo_call_cancel) reaches
 * the transfer at the call's next step: drive it on to DONE (it aborts a
 * multipart upload). For drivers that send S3 requests themselves
 * (cosockets, an event loop); a driver that did not opt in gets WORK, and
 * smneo_call_run never opts in. 0, or SMNEO_EINVAL for a call not made by
 * smneo_compile_new or already stepped. */
SMNEO_EXTERN(int) smneo_call_set_transfer_steps(smneo_call *call, int on);
/* After a TRANSFER step: the upload (borrowed: never free it or take its
 * result; it lives until the call's step after its DONE); NULL otherwise. */
SMNEO_EXTERN(smneo_s3_transfer *) smneo_call_transfer(smneo_call *call);
/* After an EVENT step with step.event == SMNEO_EVENT_COMPILE: the event
 * (its message and description borrowed until the next step). */
SMNEO_EXTERN(int) smneo_call_compile_event(smneo_compile_event *out, const smneo_call *call);
/* After DONE: what smneo_compile returns (*out caller-owned; set on success
 * and with SMNEO_EJOBFAILED / SMNEO_EJOBSTOPPED). Hands over once; again:
 * SMNEO_EINVAL. */
SMNEO_EXTERN(int) smneo_call_compile_result(smneo_compile_result **out, smneo_call *call, smneo_error *err);
/* The final DescribeCompilationJob result (borrowed). */
SMNEO_EXTERN(const smneo_result *) smneo_compile_result_job(const smneo_compile_result *r);
SMNEO_EXTERN(const char *) smneo_compile_result_job_name(const smneo_compile_result *r);
SMNEO_EXTERN(const char *) smneo_compile_result_artifact_path(const smneo_compile_result *r); /* or NULL */
SMNEO_EXTERN(const char *) smneo_compile_result_extracted_dir(const smneo_compile_result *r); /* or NULL */
SMNEO_EXTERN(int) smneo_compile_result_digest_verified(const smneo_compile_result *r);
SMNEO_EXTERN(const char *) smneo_compile_result_input_uri(const smneo_compile_result *r);
/* Warnings gathered on the way (layout checks, validation, digest form, a
 * log that could not be read). */
SMNEO_EXTERN(const smneo_issues *) smneo_compile_result_issues(const smneo_compile_result *r);
/* FAILED: the last (up to 50) lines of the job's log, in time order
 * (borrowed; lives as long as the result); 0 lines otherwise, or when the
 * log could not be read (the reason is a warning in the issues). */
SMNEO_EXTERN(size_t) smneo_compile_result_log_count(const smneo_compile_result *r);
SMNEO_EXTERN(int) smneo_compile_result_log_at(smneo_log_event *out, const smneo_compile_result *r, size_t i);
/* FAILED: the diagnosis of the description and those lines (borrowed);
 * NULL otherwise. */
SMNEO_EXTERN(const smneo_diagnosis *) smneo_compile_result_diagnosis(const smneo_compile_result *r);

/* ---- many jobs: a model zoo for a device fleet ----------------------------------------
 *
 * smneo_compile_many runs *jobs[0..n-1] (each a compile() in its own terms;
 * pointers, so that each struct carries its own version)
 * together, under the account's concurrent-job limit:
 * - each unique model (the same `model` string) is packed, checked and
 *   uploaded once; every job's request is validated before the first job
 *   starts (a mistake in the last job is reported before any runs);
 * - up to max_concurrent jobs run at once; a create answered
 *   ResourceLimitExceeded is not a failure: the job waits (QUEUED event)
 *   and concurrency shrinks to the jobs running then;
 * - one loop polls the running jobs, each with the waiter's backoff (the
 *   job's delay, max_delay and timeout); a finished job is downloaded and
 *   verified into <output_dir>/<CompilationJobName>/; one job's failure
 *   never stops the others;
 * - state_file (JSON, replaced atomically after every change) makes a rerun
 *   resume: completed jobs are skipped, running ones are waited for (never
 *   created twice), failed ones are retried only with retry_failed, and jobs
 *   smneo stopped on a cancel are started again;
 * - a cancel (the callback returns non-zero) stops every running job it
 *   started unless keep_jobs_on_cancel, and the state file records it.
 * - a job with follow_logs reports its log's lines as LOG events with its
 *   index: its waiter is then the log reader, which reads the log in each of
 *   the job's poll rounds (no thread, no extra rounds).
 * The jobs' own callback and payload are not used: events come to the
 * many-callback with the job's index (SMNEO_COMPILE_MANY_ALL for WAITING
 * between polls, where returning non-zero cancels everything).
 * Details: docs/compile.md. */

#define SMNEO_COMPILE_MANY_ALL ((size_t)-1)
#define SMNEO_COMPILE_MANY_DEFAULT_CONCURRENT 4

/* Return non-zero to cancel every job. */
typedef int (*smneo_compile_many_cb)(size_t job, const smneo_compile_event *ev, void *payload);

typedef struct smneo_compile_many_options {
    int version;                 /* SMNEO_COMPILE_MANY_OPTIONS_VERSION */
    unsigned max_concurrent;     /* 0: SMNEO_COMPILE_MANY_DEFAULT_CONCURRENT */
    const char *state_file;      /* or NULL: nothing is recorded */
    int retry_failed;            /* 1: jobs FAILED in the state file run again */
    int keep_jobs_on_cancel;     /* 1: a cancel leaves the running jobs running */
    smneo_compile_many_cb callback;
    void *payload;
} smneo_compile_many_options;

#define SMNEO_COMPILE_MANY_OPTIONS_VERSION 1
#define SMNEO_COMPILE_MANY_OPTIONS_INIT {.version = SMNEO_COMPILE_MANY_OPTIONS_VERSION}
/* Zeroes *opts (the size of that version) and sets its version; SMNEO_EINVAL for a version
 * outside 1 to SMNEO_COMPILE_MANY_OPTIONS_VERSION. For programs that cannot use the macro (FFI). */
SMNEO_EXTERN(int) smneo_compile_many_options_init(smneo_compile_many_options *opts, int version);

/* One job's outcome (borrowed from the result). */
typedef struct smneo_compile_row {
    const char *model;            /* as given */
    const char *target;           /* TargetDevice, or OS/ARCH[/ACCELERATOR] */
    const char *job_name;         /* CompilationJobName, or NULL when none was made */
    const char *status;           /* COMPLETED, FAILED, STOPPED, STOPPING, or "" (never started) */
    double duration;              /* seconds from the create (or reattach) to the final status */
    const char *artifact_path;    /* the downloaded compiled archive, or NULL */
    int digest_verified;          /* 1 when checked against ModelDigests.ArtifactDigest */
    const char *failure_reason;   /* the job's FailureReason or smneo's error message, or NULL */
    int error;                    /* 0 when the job completed and was downloaded, else SMNEO_E* */
    int stopped_by_smneo;         /* 1 when a cancel stopped it */
    int skipped;                  /* 1 when taken as completed from the state file */
} smneo_compile_row;

typedef struct smneo_compile_many_result smneo_compile_many_result;

/* Runs the jobs. Returns 0 when every job completed; SMNEO_EJOBFAILED when
 * any failed, was stopped or could not be downloaded; SMNEO_ECANCELLED after
 * a cancel: in these three cases *out holds one row per job (caller frees).
 * Other errors (options, a job's validation or layout error, the upload, the
 * state file) come before any job starts, name the job, and leave *out NULL. */
SMNEO_EXTERN(int) smneo_compile_many(smneo_compile_many_result **out, smneo_client *c,
                                     const smneo_compile_options *const *jobs, size_t njobs,
                                     const smneo_compile_many_options *opts, smneo_error *err);
/* The same run as a step machine (client.h), for drivers that must not
 * block, as smneo_compile_new is for one job: SEND and SLEEP steps for the
 * API calls of every job (creates, waiters or log readers, stops: one job's
 * request at a time, the answer fed with smneo_call_feed goes to the job
 * whose request it is) and for the default bucket of the jobs given none
 * (STS GetCallerIdentity before the preparation WORK step; HeadBucket and
 * CreateBucket after it, once every job is validated, before the uploads),
 * WORK steps for what is CPU-bound or blocking (every job's preparation at
 * once: pack or digest, layout checks, validation; then every upload and the
 * state file; later one job's download,
 * verification and extraction, or a FAILED job's log tail), run with
 * smneo_call_work where the driver wants, and EVENT steps (step.event ==
 * SMNEO_EVENT_COMPILE) for every event with its job, on the driving thread
 * and in order (those raised on transfer threads during a WORK step come
 * after it). opts->callback is not used; smneo_call_cancel after an event
 * is what the callback's non-zero return is to smneo_compile_many.
 * smneo_compile_many drives this machine. The options and the jobs' options
 * are copied, their strings too. Free with smneo_call_free. */
SMNEO_EXTERN(int) smneo_compile_many_new(smneo_call **out, smneo_client *c, const smneo_compile_options *const *jobs,
                                         size_t njobs, const smneo_compile_many_options *opts, smneo_error *err);
/* After an EVENT step with step.event == SMNEO_EVENT_COMPILE: the event (its
 * message and description borrowed until the next step) and its job's index
 * (SMNEO_COMPILE_MANY_ALL for WAITING between polls). */
SMNEO_EXTERN(int) smneo_call_compile_many_event(smneo_compile_event *out, size_t *job, const smneo_call *call);
/* After DONE: what smneo_compile_many returns (*out caller-owned, set in the
 * same cases). Hands over once; again: SMNEO_EINVAL. */
SMNEO_EXTERN(int) smneo_call_compile_many_result(smneo_compile_many_result **out, smneo_call *call,
                                                 smneo_error *err);
SMNEO_EXTERN(void) smneo_compile_many_result_free(smneo_compile_many_result *r);
SMNEO_EXTERN(size_t) smneo_compile_many_result_count(const smneo_compile_many_result *r);
/* Row i (borrowed), or NULL when i is out of range. */
SMNEO_EXTERN(const smneo_compile_row *) smneo_compile_many_result_row(const smneo_compile_many_result *r, size_t i);
/* Row i's diagnosis (borrowed; smneo_explain's, made as smneo_compile makes
 * it from the description and the job log's last lines) when the job FAILED,
 * in this call or in the run whose state file kept the row (the state file
 * keeps that description and those lines as DiagnosisInput; an older one
 * without them: from the FailureReason alone); NULL otherwise, and when i is
 * out of range. */
SMNEO_EXTERN(const smneo_diagnosis *) smneo_compile_many_result_diagnosis(const smneo_compile_many_result *r,
                                                                         size_t i);

#ifdef __cplusplus
}
#endif
#endif
