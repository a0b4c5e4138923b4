/* Private pieces of compile.c, exposed for its tests. Not installed. */
#ifndef SMNEO_COMPILE_INTERNAL_H
#define SMNEO_COMPILE_INTERNAL_H

#include "smneo/compile.h"
#include "smneo/diagnose.h"
#include "smneo/joblogs.h"

/* A unique CompilationJobName from `base` (a job name or a file name; NULL:
 * "model"): characters outside [a-zA-Z0-9-] become '-', runs of '-' are
 * collapsed, leading non-alphanumerics and trailing '-' are dropped, the
 * result is cut so that base + "-YYYYMMDDhhmmss-xxxx" fits in 63
 * characters. `now` is the wall clock (epoch seconds), `rnd` 16 random bits.
 * Caller frees. */
char *smneo__compile_job_name(const char *base, int64_t now, unsigned rnd);

/* What smneo_compile hands back. */
struct smneo_compile_result {
    smneo_result *job;
    char *job_name;
    char *artifact_path;
    char *extracted_dir;
    char *input_uri;
    int digest_verified;
    smneo_issues *issues;
    smneo_log_event *log;        /* FAILED: the log's last lines (strings owned here) */
    size_t n_log;
    smneo_diagnosis *diagnosis;  /* FAILED */
};

/* The context of one job's flow (compile.c). */
typedef struct cx {
    smneo_client *c;
    const smneo_compile_options *o;
    smneo_compile_result *r;
    smneo_error e;     /* the flow's error, handed to the caller at the end */
    int64_t start_ms;
    int cancelled;     /* the callback asked to stop (atomic: smneo_call_cancel may set it during work) */
    struct smneo__evq *q; /* the step machine's event queue: events are queued for EVENT steps
                             instead of calling o->callback (NULL: called directly) */
    char status[32];   /* last job status seen */
} cx;

/* One job's pieces, shared by smneo_compile and smneo_compile_many
 * (compile_many.c). A job owns a copy of its options (o: its callback and
 * output_dir may be changed before the step that uses them), its temporary
 * archive, request and result. `same` is a job of the same model prepared
 * (and uploaded) before: its archive and digest are reused. Each step
 * returns 0 or the error code, with the message in x.e. */
typedef struct smneo__cjob {
    cx x;
    smneo_compile_options o;
    char *tmpdir, *archive_tmp, *digest, *prefix, *output_uri, *params;
    const char *archive; /* archive_tmp, the model itself, or same's */
    size_t params_len;
    smneo_call *create_call; /* validated at prepare */
    int uploaded;
    char *default_bucket; /* o.s3_bucket when the caller gave none (smneo_s3_default_bucket) */
} smneo__cjob;

smneo__cjob *smneo__cjob_new(smneo_client *c, const smneo_compile_options *o);
void smneo__cjob_free(smneo__cjob *j);
/* Checks the options, packs (or reuses same's archive), checks the layout,
 * names the job (job_name: a name recorded before, used as is) and builds
 * the validated CreateCompilationJob request. */
int smneo__cjob_prepare(smneo__cjob *j, const smneo__cjob *same, const char *job_name);
int smneo__cjob_upload(smneo__cjob *j, const smneo__cjob *same);
int smneo__cjob_emit(smneo__cjob *j, smneo_compile_event_kind kind, const char *msg, const smneo_value *desc);
/* follow_logs: a LOG or WARNING event of the job's reader becomes the job's
 * LOG event or warning, as smneo_compile reports them; 1 when cancelled. */
int smneo__cjob_log_event(smneo__cjob *j, smneo_joblogs *l, smneo_event_kind event);
int smneo__cjob_fail(smneo__cjob *j, int rc, const char *step, const char *message);
int smneo__cjob_fail_step(smneo__cjob *j, const char *step, int rc);
/* Download, verify, extract: x.r->job must hold the COMPLETED description. */
int smneo__cjob_finish(smneo__cjob *j, const char *output_dir);
/* FAILED (x.r->job holds the description): reads the log's last lines and
 * sets x.r->diagnosis, as smneo_compile does (best-effort). */
void smneo__cjob_explain(smneo__cjob *j);
/* After a cancel or a timeout: 1 when the job is to be stopped (STOPPING
 * reported; the caller sends StopCompilationJob, then smneo__cjob_stop_end
 * with its outcome); 0 when its last status is final or keep_job_on_cancel. */
int smneo__cjob_stop_begin(smneo__cjob *j);
void smneo__cjob_stop_end(smneo__cjob *j, int rc, const smneo_error *se);
smneo_compile_result *smneo__cjob_take_result(smneo__cjob *j);

#endif
