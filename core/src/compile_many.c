/* smneo_compile_many: many compile() jobs under the account's concurrent-job
 * limit, polled in one loop, resumable from a state file. Each job's steps
 * are compile.c's (smneo__cjob); this file schedules them and keeps the
 * record. See docs/compile.md. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "compile_internal.h"
#include "smneo/s3.h"
#include "internal.h"
#include "joblogs_internal.h"
#include "options_internal.h"
#include "s3_internal.h"
#include "smneo/compile.h"
#include "smneo/value.h"

enum { PH_SKIP, PH_KEEP, PH_PENDING, PH_ATTACH, PH_RUNNING, PH_DONE };
enum { TICK_MS = 200 };

typedef struct row_store {
    smneo_compile_row row;
    char *model, *target, *name, *status, *artifact, *reason;
    smneo_diagnosis *diagnosis; /* FAILED in this run: as compile()'s */
} row_store;

struct smneo_compile_many_result {
    size_t n;
    row_store *rows;
};

typedef struct many many;

typedef struct mjob {
    many *m;
    size_t i;
    const smneo_compile_options *o;
    smneo__cjob *j;
    cJSON *st;       /* this job's entry in the state document (borrowed) */
    int phase;
    int created;     /* 1 once a create succeeded in this run (or a reattach found the job) */
    char *key, *target, *recorded;
    smneo_call *waiter;
    smneo_joblogs *logs; /* follow_logs: the job's log reader, which is then its waiter */
    int64_t wake_ms, started_ms, deadline_ms;
    row_store *out;
} mjob;

struct many {
    smneo_client *c;
    const smneo_compile_many_options *o;
    cJSON *state;
    int64_t start_ms;
    size_t n, running, limit;
    unsigned limit_hits;
    int64_t create_after_ms;
    int cancelled;
    int state_warned;
    char *default_bucket; /* for the jobs given no bucket (smneo_s3_default_bucket) */
    char *default_account; /* its expected owner */
    int bucket_ready;      /* HeadBucket (or CreateBucket) done */
    mjob *jobs;
};

/* ---- events ----------------------------------------------------------------------- */

static int emit_all(many *m, smneo_compile_event_kind kind, const char *msg)
{
    if (!m->o->callback)
        return 0;
    smneo_compile_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = kind;
    ev.message = msg;
    ev.elapsed = (double)(smneo__monotonic_ms() - m->start_ms) / 1000.0;
    if (m->o->callback(SMNEO_COMPILE_MANY_ALL, &ev, m->o->payload))
        m->cancelled = 1;
    return m->cancelled;
}

/* Each job's flow reports here (its options' callback). */
static int trampoline(const smneo_compile_event *ev, void *payload)
{
    mjob *mj = payload;
    many *m = mj->m;
    if (m->o->callback && m->o->callback(mj->i, ev, m->o->payload))
        m->cancelled = 1;
    return m->cancelled;
}

/* ---- the state file ----------------------------------------------------------------- */

static const char *st_str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int st_true(const cJSON *o, const char *k) { return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, k)); }

static void st_set(cJSON *o, const char *k, cJSON *v)
{
    if (!v) {
        cJSON_DeleteItemFromObjectCaseSensitive(o, k);
        return;
    }
    if (cJSON_GetObjectItemCaseSensitive(o, k))
        cJSON_ReplaceItemInObjectCaseSensitive(o, k, v);
    else
        cJSON_AddItemToObject(o, k, v);
}

static void st_set_str(cJSON *o, const char *k, const char *v) { st_set(o, k, v ? cJSON_CreateString(v) : NULL); }

/* Replaces the state file (a temporary file in its directory, renamed). */
static int write_state(many *m, smneo_error *err)
{
    const char *path = m->o->state_file;
    if (!path)
        return 0;
    char *text = cJSON_Print(m->state);
    char *tmp = smneo__aprintf("%s.tmp-XXXXXX", path);
    int fd = text && tmp ? mkstemp(tmp) : -1;
    int rc = 0;
    if (fd < 0) {
        rc = smneo__error(err, SMNEO_EIO, "cannot write state_file \"%s\": %s", path,
                          text && tmp ? strerror(errno) : "out of memory");
    } else {
        size_t len = strlen(text), off = 0;
        while (off < len) {
            ssize_t w = write(fd, text + off, len - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        int en = errno;
        int ok = off == len && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
        if (!ok)
            en = errno ? errno : en;
        close(fd);
        if (!ok || rename(tmp, path) != 0) {
            if (ok)
                en = errno;
            unlink(tmp);
            rc = smneo__error(err, SMNEO_EIO, "cannot write state_file \"%s\": %s", path, strerror(en));
        }
    }
    free(text);
    free(tmp);
    return rc;
}

/* During the run a failed write is a warning (once): the jobs go on. */
static void save(many *m)
{
    smneo_error e = SMNEO_ERROR_INIT;
    if (write_state(m, &e) && !m->state_warned) {
        m->state_warned = 1;
        emit_all(m, SMNEO_COMPILE_EVENT_WARNING, e.message);
    }
    smneo_error_clear(&e);
}

static int load_state(many *m, smneo_error *err)
{
    const char *path = m->o->state_file;
    m->state = NULL;
    if (path) {
        FILE *f = fopen(path, "rb");
        if (!f && errno != ENOENT)
            return smneo__error(err, SMNEO_EIO, "cannot read state_file \"%s\": %s", path, strerror(errno));
        if (f) {
            smneo_buf b = SMNEO_BUF_INIT;
            char chunk[8192];
            size_t got;
            int bad = 0;
            while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
                bad = bad || smneo__buf_append(&b, chunk, got);
            fclose(f);
            m->state = bad ? NULL : cJSON_ParseWithLength(b.data ? b.data : "", b.len);
            smneo__buf_free(&b);
            const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(m->state, "Jobs");
            if (!cJSON_IsObject(m->state) || !cJSON_IsArray(jobs)) {
                cJSON_Delete(m->state);
                m->state = NULL;
                return smneo__error(err, SMNEO_EINVAL, "state_file \"%s\" is not a smneo compile_many state "
                                    "(a JSON object with a \"Jobs\" list): give another path or remove the file",
                                    path);
            }
            return 0;
        }
    }
    m->state = cJSON_CreateObject();
    if (!m->state || !cJSON_AddNumberToObject(m->state, "Version", 1) || !cJSON_AddArrayToObject(m->state, "Jobs"))
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    return 0;
}

/* ---- jobs --------------------------------------------------------------------------- */

static char *target_of(const smneo_compile_options *o)
{
    if (o->target_device)
        return smneo__strdup(o->target_device);
    if (o->target_accelerator)
        return smneo__aprintf("%s/%s/%s", o->target_os ? o->target_os : "", o->target_arch ? o->target_arch : "",
                              o->target_accelerator);
    return smneo__aprintf("%s/%s", o->target_os ? o->target_os : "", o->target_arch ? o->target_arch : "");
}

#define OR_EMPTY(s) ((s) ? (s) : "")

/* The model as the rows name it: the path, or the model package. */
static const char *model_of(const smneo_compile_options *o)
{
    if (o->model)
        return o->model;
    return o->version >= 3 && o->model_package_version_arn ? o->model_package_version_arn : "";
}

/* What identifies a job from one run to the next. */
static char *key_of(const smneo_compile_options *o, const char *target)
{
    return smneo__aprintf("%s|%s|%s|%s|%s|%s|%s", model_of(o), target,
                          OR_EMPTY(o->framework), OR_EMPTY(o->framework_version), OR_EMPTY(o->compiler_options),
                          OR_EMPTY(o->data_input_config), OR_EMPTY(o->job_name));
}

static cJSON *state_entry(many *m, const char *key, const mjob *mj)
{
    cJSON *jobs = cJSON_GetObjectItemCaseSensitive(m->state, "Jobs");
    cJSON *it;
    cJSON_ArrayForEach(it, jobs)
    {
        const char *k = st_str(it, "Key");
        if (!k || strcmp(k, key))
            continue;
        int taken = 0; /* the same job given twice gets two entries */
        for (size_t i = 0; i < mj->i; i++)
            taken = taken || m->jobs[i].st == it;
        if (!taken)
            return it;
    }
    it = cJSON_CreateObject();
    if (!it)
        return NULL;
    cJSON_AddItemToArray(jobs, it);
    st_set_str(it, "Key", key);
    st_set_str(it, "Model", model_of(mj->o));
    st_set_str(it, "Target", mj->target);
    return it;
}

/* Where a job stands from the state file. */
static int phase_of(many *m, mjob *mj)
{
    const char *name = st_str(mj->st, "CompilationJobName");
    const char *status = st_str(mj->st, "CompilationJobStatus");
    if (!name)
        return PH_PENDING;
    if (st_true(mj->st, "StoppedBySmneo"))
        return PH_PENDING; /* stopped on a cancel: run it again */
    if (status && !strcmp(status, "COMPLETED") && st_true(mj->st, "Downloaded"))
        return PH_SKIP;
    if (status && (!strcmp(status, "FAILED") || !strcmp(status, "STOPPED")))
        return m->o->retry_failed ? PH_PENDING : PH_KEEP;
    mj->recorded = smneo__strdup(name);
    return mj->recorded ? PH_ATTACH : PH_PENDING;
}

static void fresh_entry(cJSON *st)
{
    static const char *const drop[] = {"CompilationJobName", "CompilationJobStatus", "StoppedBySmneo", "Downloaded",
                                       "ArtifactPath", "DigestVerified", "FailureReason", "DurationSeconds",
                                       "DiagnosisInput"};
    for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++)
        cJSON_DeleteItemFromObjectCaseSensitive(st, drop[i]);
}

static void row_set(char **slot, const char *v)
{
    free(*slot);
    *slot = smneo__strdup(v);
}

/* A FAILED job's diagnosis is made of its description and its log's last
 * lines: the state file keeps both (DiagnosisInput), so that a rerun that
 * keeps the failed row gives it the same diagnosis without asking again. */
static void keep_diagnosis_input(mjob *mj, const smneo_compile_result *r)
{
    cJSON *in = cJSON_CreateObject(), *log = cJSON_CreateArray();
    char *json = NULL;
    smneo_value root;
    if (r->job) {
        smneo_result_root(&root, r->job);
        if (smneo_value_to_json(&json, &root) == 0)
            cJSON_AddItemToObject(in, "Description", cJSON_Parse(json));
        free(json);
    }
    for (size_t i = 0; log && i < r->n_log; i++)
        cJSON_AddItemToArray(log, cJSON_CreateString(r->log[i].message ? r->log[i].message : ""));
    if (!in || !log) {
        cJSON_Delete(in);
        cJSON_Delete(log);
        return;
    }
    cJSON_AddItemToObject(in, "Log", log);
    st_set(mj->st, "DiagnosisInput", in);
}

/* The diagnosis of a FAILED row kept from the state file: from its
 * DiagnosisInput, or (a state file without it) from its FailureReason. */
static smneo_diagnosis *diagnosis_from_state(const mjob *mj)
{
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(mj->st, "DiagnosisInput");
    const cJSON *desc = cJSON_GetObjectItemCaseSensitive(in, "Description");
    const cJSON *log = cJSON_GetObjectItemCaseSensitive(in, "Log");
    cJSON *made = NULL;
    if (!cJSON_IsObject(desc)) {
        made = cJSON_CreateObject();
        cJSON_AddStringToObject(made, "CompilationJobName", OR_EMPTY(st_str(mj->st, "CompilationJobName")));
        cJSON_AddStringToObject(made, "CompilationJobStatus", "FAILED");
        cJSON_AddStringToObject(made, "FailureReason", OR_EMPTY(st_str(mj->st, "FailureReason")));
        desc = made;
    }
    size_t n = 0;
    int count = cJSON_IsArray(log) ? cJSON_GetArraySize(log) : 0;
    const char **lines = count > 0 ? calloc((size_t)count, sizeof *lines) : NULL;
    for (const cJSON *l = lines ? log->child : NULL; l; l = l->next)
        if (cJSON_IsString(l))
            lines[n++] = l->valuestring;
    char *json = cJSON_PrintUnformatted(desc);
    smneo_diagnosis *d = NULL;
    if (json)
        smneo_explain(&d, json, strlen(json), lines, NULL, n, NULL);
    free(json);
    free(lines);
    cJSON_Delete(made);
    return d;
}

/* The job's row is final: recorded, and reported. */
static void finish(many *m, mjob *mj, const char *status, int error, const char *reason)
{
    row_store *r = mj->out;
    int recorded = mj->phase == PH_SKIP || mj->phase == PH_KEEP;
    const char *name = !recorded && mj->j->x.r->job_name ? mj->j->x.r->job_name
                                                          : st_str(mj->st, "CompilationJobName");
    if (!recorded && !mj->created)
        name = NULL; /* never started: the name it would have had means nothing */
    row_set(&r->name, name);
    row_set(&r->status, status ? status : "");
    row_set(&r->reason, reason);
    r->row.error = error;
    if (mj->started_ms)
        r->row.duration = (double)(smneo__monotonic_ms() - mj->started_ms) / 1000.0;
    if (!recorded) {
        const smneo_compile_result *cr = mj->j->x.r;
        row_set(&r->artifact, smneo_compile_result_artifact_path(cr));
        r->row.digest_verified = smneo_compile_result_digest_verified(cr);
    }
    if (!recorded) {
        if (status && *status)
            st_set_str(mj->st, "CompilationJobStatus", status);
        st_set_str(mj->st, "FailureReason", reason);
        st_set_str(mj->st, "ArtifactPath", r->artifact);
        st_set(mj->st, "DigestVerified", cJSON_CreateBool(r->row.digest_verified));
        st_set(mj->st, "Downloaded", cJSON_CreateBool(error == 0 && r->artifact));
        st_set(mj->st, "DurationSeconds", cJSON_CreateNumber(r->row.duration));
        save(m);
    }
    mj->phase = PH_DONE;
    smneo_compile_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = SMNEO_COMPILE_EVENT_DONE;
    ev.message = r->status;
    ev.elapsed = (double)(smneo__monotonic_ms() - m->start_ms) / 1000.0;
    if (m->o->callback && m->o->callback(mj->i, &ev, m->o->payload))
        m->cancelled = 1;
}

/* The job's waiter: with follow_logs its log reader in follow mode, which
 * polls the status at the same cadence and reads the log in the same round
 * (as smneo_compile does); `plain` (the log was refused): the plain waiter. */
static int start_waiter_as(many *m, mjob *mj, int plain, smneo_error *e)
{
    int rc;
    if (mj->o->follow_logs && !plain) {
        smneo_joblogs_options lo = SMNEO_JOBLOGS_OPTIONS_INIT;
        lo.follow = 1;
        lo.delay = mj->o->delay;
        lo.max_delay = mj->o->max_delay;
        rc = smneo_joblogs_new(&mj->logs, m->c, mj->j->x.r->job_name, &lo, e);
        smneo__joblogs_one_request_per_round(mj->logs); /* many jobs: the logs quotas are per account */
        mj->deadline_ms = mj->o->timeout > 0 ? smneo__monotonic_ms() + (int64_t)(mj->o->timeout * 1000) : 0;
    } else {
        smneo_wait_options wo = SMNEO_WAIT_OPTIONS_INIT;
        wo.delay = mj->o->delay;
        wo.max_delay = mj->o->max_delay;
        wo.timeout = mj->o->timeout;
        if (plain && mj->deadline_ms) {
            double left = (double)(mj->deadline_ms - smneo__monotonic_ms()) / 1000.0;
            wo.timeout = left > 0.001 ? left : 0.001;
        }
        rc = smneo_wait_new(&mj->waiter, m->c, mj->j->x.r->job_name, &wo, e);
    }
    if (rc)
        return rc;
    if (plain)
        return 0; /* still running, counted */
    mj->phase = PH_RUNNING;
    mj->wake_ms = 0;
    if (!mj->started_ms)
        mj->started_ms = smneo__monotonic_ms();
    m->running++;
    return 0;
}

static int start_waiter(many *m, mjob *mj, smneo_error *e) { return start_waiter_as(m, mj, 0, e); }

/* Creates the job; 1 when the account's limit was met (the job waits). */
static int create(many *m, mjob *mj)
{
    smneo__cjob *j = mj->j;
    const char *name = j->x.r->job_name;
    /* Recorded before it is sent: a rerun after a crash looks for it. */
    st_set_str(mj->st, "CompilationJobName", name);
    st_set_str(mj->st, "CompilationJobStatus", "CREATING");
    save(m);
    smneo_call *call = j->create_call;
    j->create_call = NULL;
    smneo_error e = SMNEO_ERROR_INIT;
    int rc = call ? 0 : smneo_call_new(&call, m->c, "CreateCompilationJob", j->params, j->params_len, &e);
    if (!rc)
        rc = smneo__cjob_run(j, call, NULL, &e);
    smneo_call_free(call);
    if (rc == SMNEO_ELIMIT) {
        /* Our own running jobs fill what the account allows: stay at that.
         * None running (others' jobs fill it): keep the limit, wait longer. */
        if (m->running > 0)
            m->limit = m->running;
        else {
            double d = (mj->o->delay > 0 ? mj->o->delay : 5) * (double)(1u << (m->limit_hits < 10 ? m->limit_hits : 10));
            double cap = mj->o->max_delay > 0 ? mj->o->max_delay : 60;
            m->create_after_ms = smneo__monotonic_ms() + (int64_t)((d < cap ? d : cap) * 1000);
            m->limit_hits++;
        }
        smneo_compile_event ev;
        memset(&ev, 0, sizeof ev);
        ev.kind = SMNEO_COMPILE_EVENT_QUEUED;
        ev.message = e.message;
        ev.done = m->limit;
        ev.elapsed = (double)(smneo__monotonic_ms() - m->start_ms) / 1000.0;
        if (m->o->callback && m->o->callback(mj->i, &ev, m->o->payload))
            m->cancelled = 1;
        smneo_error_clear(&e);
        return 1;
    }
    if (rc == SMNEO_ECANCELLED) {
        m->cancelled = 1;
        smneo_error_clear(&e);
        return 0;
    }
    if (rc) {
        smneo_error_clear(&j->x.e);
        j->x.e = e;
        smneo__cjob_fail_step(j, "create", rc);
        st_set_str(mj->st, "CompilationJobName", NULL);
        finish(m, mj, "", rc, j->x.e.message);
        return 0;
    }
    m->limit_hits = 0;
    mj->created = 1;
    mj->started_ms = smneo__monotonic_ms();
    if (smneo__cjob_emit(j, SMNEO_COMPILE_EVENT_CREATED, name, NULL))
        m->cancelled = 1;
    rc = start_waiter(m, mj, &e);
    if (rc) {
        finish(m, mj, "", rc, e.message);
        smneo_error_clear(&e);
    }
    return 0;
}

static char *output_dir_of(const mjob *mj)
{
    const char *base = mj->o->output_dir && *mj->o->output_dir ? mj->o->output_dir : ".";
    size_t n = strlen(base);
    return smneo__aprintf("%s%s%s", base, n && base[n - 1] == '/' ? "" : "/", mj->j->x.r->job_name);
}

static void waited(many *m, mjob *mj, int rc, smneo_result *desc, smneo_error *e);

static void set_status(many *m, mjob *mj, const char *status)
{
    snprintf(mj->j->x.status, sizeof mj->j->x.status, "%s", status ? status : "");
    mj->created = 1;
    st_set_str(mj->st, "CompilationJobStatus", mj->j->x.status);
    save(m);
}

/* follow_logs: steps the job's log reader until it sleeps or ends; its LOG
 * lines go to the callback with the job's index. */
static void poll_logs(many *m, mjob *mj)
{
    smneo__cjob *j = mj->j;
    smneo_step st;
    int timed_out = mj->deadline_ms && smneo__monotonic_ms() >= mj->deadline_ms;
    if (timed_out)
        smneo_joblogs_cancel(mj->logs);
    for (;;) {
        smneo_joblogs_step(&st, mj->logs);
        if (st.kind == SMNEO_STEP_SEND) {
            smneo_joblogs_send(mj->logs, &st);
            continue;
        }
        if (st.kind == SMNEO_STEP_SLEEP) {
            mj->wake_ms = smneo__monotonic_ms() + st.sleep_ms;
            return;
        }
        if (st.kind == SMNEO_STEP_EVENT) {
            if (st.event == SMNEO_EVENT_STATUS) {
                smneo_value root;
                smneo_result_root(&root, smneo_joblogs_description(mj->logs));
                set_status(m, mj, smneo_joblogs_status(mj->logs));
                if (smneo__cjob_emit(j, SMNEO_COMPILE_EVENT_STATUS, j->x.status, &root))
                    m->cancelled = 1;
            } else if (smneo__cjob_log_event(j, mj->logs, st.event)) {
                m->cancelled = 1;
            }
            if (m->cancelled)
                return; /* cancel_all stops it */
            continue;
        }
        break;
    }
    smneo_error e = SMNEO_ERROR_INIT;
    int rc = smneo_joblogs_result(mj->logs, &e);
    smneo_result *desc = smneo__joblogs_take_description(mj->logs);
    const char *status = smneo_joblogs_status(mj->logs);
    int terminal = status && (!strcmp(status, "COMPLETED") || !strcmp(status, "FAILED") || !strcmp(status, "STOPPED"));
    if (!rc && !terminal) {
        /* the log was refused (a warning said so): wait without it */
        smneo_result_free(desc);
        smneo_joblogs_free(mj->logs);
        mj->logs = NULL;
        if (start_waiter_as(m, mj, 1, &e)) {
            m->running--;
            finish(m, mj, j->x.status, e.code, e.message);
        }
        smneo_error_clear(&e);
        return;
    }
    if (timed_out && rc == SMNEO_ECANCELLED) {
        smneo_error_clear(&e);
        smneo__error(&e, SMNEO_EWAITTIMEOUT,
                     "the compilation job did not finish within the waiter's timeout (last status %s)",
                     *j->x.status ? j->x.status : "unknown");
        rc = SMNEO_EWAITTIMEOUT;
    } else if (!rc && !strcmp(status, "FAILED")) {
        smneo_value root, reason;
        smneo_result_root(&root, desc);
        const char *why = smneo_value_get(&reason, &root, "FailureReason") == 0 ? smneo_value_string(&reason) : NULL;
        smneo__error(&e, SMNEO_EJOBFAILED, "compilation job %s failed: %s", j->x.r->job_name,
                     why && *why ? why : "the compilation job failed");
        rc = SMNEO_EJOBFAILED;
    } else if (!rc && !strcmp(status, "STOPPED")) {
        rc = SMNEO_EJOBSTOPPED;
    }
    smneo_joblogs_free(mj->logs);
    mj->logs = NULL;
    waited(m, mj, rc, desc, &e);
}

/* Steps a running job's waiter until it sleeps or ends. */
static void poll_job(many *m, mjob *mj)
{
    if (mj->logs) {
        poll_logs(m, mj);
        return;
    }
    smneo__cjob *j = mj->j;
    smneo_step st;
    for (;;) {
        smneo_call_next(&st, mj->waiter);
        if (st.kind == SMNEO_STEP_SEND) {
            smneo_call_send(mj->waiter, &st);
            continue;
        }
        if (st.kind == SMNEO_STEP_SLEEP) {
            mj->wake_ms = smneo__monotonic_ms() + st.sleep_ms;
            return;
        }
        if (st.kind == SMNEO_STEP_EVENT) {
            if (st.event != SMNEO_EVENT_STATUS)
                continue;
            smneo_value root;
            smneo_result_root(&root, smneo_call_page(mj->waiter));
            smneo_value v;
            const char *status = smneo_value_get(&v, &root, "CompilationJobStatus") ? NULL : smneo_value_string(&v);
            set_status(m, mj, status);
            if (smneo__cjob_emit(j, SMNEO_COMPILE_EVENT_STATUS, j->x.status, &root))
                m->cancelled = 1;
            continue;
        }
        break;
    }
    smneo_result *desc = NULL;
    smneo_error e = SMNEO_ERROR_INIT;
    int rc = smneo_call_result(&desc, mj->waiter, &e);
    smneo_call_free(mj->waiter);
    mj->waiter = NULL;
    waited(m, mj, rc, desc, &e);
}

/* The waiter ended with rc (desc: the last description, taken; *ep: its error, moved). */
static void waited(many *m, mjob *mj, int rc, smneo_result *desc, smneo_error *ep)
{
    smneo__cjob *j = mj->j;
    smneo_error e = *ep;
    memset(ep, 0, sizeof *ep);
    m->running--;
    if (rc == SMNEO_ENOTFOUND && !mj->created) {
        /* recorded as CREATING but never made: create it under that name */
        smneo_error_clear(&e);
        mj->phase = PH_PENDING;
        return;
    }
    if (desc) {
        smneo_result_free(j->x.r->job);
        j->x.r->job = desc;
    }
    if (rc == 0) {
        char *dir = output_dir_of(mj);
        rc = dir ? smneo__cjob_finish(j, dir) : SMNEO_ENOMEM;
        free(dir);
        finish(m, mj, "COMPLETED", rc, rc ? j->x.e.message : NULL);
    } else if (rc == SMNEO_EJOBFAILED || rc == SMNEO_EJOBSTOPPED) {
        if (rc == SMNEO_EJOBFAILED) {
            /* the log's last lines and the diagnosis, as compile() gives them */
            smneo__cjob_explain(j);
            mj->out->diagnosis = j->x.r->diagnosis;
            j->x.r->diagnosis = NULL;
            keep_diagnosis_input(mj, j->x.r);
        }
        finish(m, mj, rc == SMNEO_EJOBFAILED ? "FAILED" : "STOPPED", rc,
               rc == SMNEO_EJOBFAILED ? e.message : "the compilation job was stopped");
    } else {
        smneo_error_clear(&j->x.e);
        j->x.e = e;
        memset(&e, 0, sizeof e);
        if (rc == SMNEO_EWAITTIMEOUT)
            smneo__cjob_stop(j);
        smneo__cjob_fail_step(j, "wait", rc);
        finish(m, mj, j->x.status, rc, j->x.e.message);
    }
    smneo_error_clear(&e);
}

/* After a cancel: every job still running is stopped (or left, if asked). */
static void cancel_all(many *m)
{
    for (size_t i = 0; i < m->n; i++) {
        mjob *mj = &m->jobs[i];
        if (mj->phase == PH_RUNNING) {
            smneo_call_free(mj->waiter);
            mj->waiter = NULL;
            smneo_joblogs_free(mj->logs);
            mj->logs = NULL;
            m->running--;
            smneo__cjob *j = mj->j;
            if (m->o->keep_jobs_on_cancel) {
                finish(m, mj, j->x.status, SMNEO_ECANCELLED, "cancelled; the compilation job was left running "
                       "(keep_jobs_on_cancel): a rerun with the state file waits for it");
                continue;
            }
            smneo__error(&j->x.e, SMNEO_ECANCELLED, "cancelled");
            smneo__cjob_stop(j);
            st_set(mj->st, "StoppedBySmneo", cJSON_CreateTrue());
            mj->out->row.stopped_by_smneo = 1;
            finish(m, mj, "STOPPING", SMNEO_ECANCELLED, j->x.e.message);
        } else if (mj->phase == PH_PENDING || mj->phase == PH_ATTACH) {
            if (st_str(mj->st, "CompilationJobStatus") && !strcmp(st_str(mj->st, "CompilationJobStatus"), "CREATING") &&
                mj->phase == PH_PENDING && !mj->recorded)
                fresh_entry(mj->st); /* never created */
            finish(m, mj, "", SMNEO_ECANCELLED, "cancelled before the job started");
        }
    }
}

static void run(many *m)
{
    for (size_t i = 0; i < m->n && !m->cancelled; i++) {
        mjob *mj = &m->jobs[i];
        if (mj->phase != PH_ATTACH)
            continue;
        smneo_error e = SMNEO_ERROR_INIT;
        if (smneo__cjob_emit(mj->j, SMNEO_COMPILE_EVENT_REATTACHED, mj->recorded, NULL))
            m->cancelled = 1;
        if (start_waiter(m, mj, &e))
            finish(m, mj, "", e.code, e.message);
        smneo_error_clear(&e);
    }
    for (;;) {
        if (m->cancelled)
            break;
        size_t pending = 0, active = 0;
        for (size_t i = 0; i < m->n; i++) {
            pending += m->jobs[i].phase == PH_PENDING;
            active += m->jobs[i].phase == PH_PENDING || m->jobs[i].phase == PH_RUNNING;
        }
        if (!active)
            break;
        int64_t now = smneo__monotonic_ms();
        /* start what the limit allows */
        for (size_t i = 0; i < m->n && pending && m->running < m->limit && now >= m->create_after_ms &&
                           !m->cancelled;
             i++) {
            mjob *mj = &m->jobs[i];
            if (mj->phase != PH_PENDING)
                continue;
            if (create(m, mj))
                break;
            pending--;
        }
        /* poll the running jobs that are due */
        int64_t next = smneo__monotonic_ms() + TICK_MS;
        for (size_t i = 0; i < m->n && !m->cancelled; i++) {
            mjob *mj = &m->jobs[i];
            if (mj->phase != PH_RUNNING)
                continue;
            if (smneo__monotonic_ms() >= mj->wake_ms)
                poll_job(m, mj);
            if (mj->phase == PH_RUNNING && mj->wake_ms < next)
                next = mj->wake_ms;
        }
        if (m->cancelled)
            break;
        int can_start = 0;
        for (size_t i = 0; i < m->n; i++)
            can_start = can_start || m->jobs[i].phase == PH_PENDING;
        if (can_start && m->running < m->limit) {
            if (m->create_after_ms <= smneo__monotonic_ms())
                continue;
            if (m->create_after_ms < next)
                next = m->create_after_ms;
        }
        int64_t wait = next - smneo__monotonic_ms();
        if (wait > 0)
            smneo__sleep_ms((long)wait);
        emit_all(m, SMNEO_COMPILE_EVENT_WAITING, "");
    }
    if (m->cancelled)
        cancel_all(m);
}

/* ---- results -------------------------------------------------------------------------- */

void smneo_compile_many_result_free(smneo_compile_many_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        row_store *s = &r->rows[i];
        free(s->model);
        free(s->target);
        free(s->name);
        free(s->status);
        free(s->artifact);
        free(s->reason);
        smneo_diagnosis_free(s->diagnosis);
    }
    free(r->rows);
    free(r);
}

size_t smneo_compile_many_result_count(const smneo_compile_many_result *r) { return r ? r->n : 0; }

const smneo_compile_row *smneo_compile_many_result_row(const smneo_compile_many_result *r, size_t i)
{
    return r && i < r->n ? &r->rows[i].row : NULL;
}

const smneo_diagnosis *smneo_compile_many_result_diagnosis(const smneo_compile_many_result *r, size_t i)
{
    return r && i < r->n ? r->rows[i].diagnosis : NULL;
}

/* A row taken from the state file as it stands (skipped or kept failed). */
static void row_from_state(many *m, mjob *mj)
{
    row_store *r = mj->out;
    const char *status = st_str(mj->st, "CompilationJobStatus");
    row_set(&r->artifact, st_str(mj->st, "ArtifactPath"));
    r->row.digest_verified = st_true(mj->st, "DigestVerified");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(mj->st, "DurationSeconds");
    r->row.duration = cJSON_IsNumber(d) ? d->valuedouble : 0;
    r->row.skipped = mj->phase == PH_SKIP;
    int error = mj->phase == PH_SKIP ? 0 : status && !strcmp(status, "STOPPED") ? SMNEO_EJOBSTOPPED : SMNEO_EJOBFAILED;
    if (mj->phase == PH_SKIP)
        smneo__cjob_emit(mj->j, SMNEO_COMPILE_EVENT_SKIPPED, st_str(mj->st, "CompilationJobName"), NULL);
    if (mj->phase == PH_KEEP && status && !strcmp(status, "FAILED")) {
        smneo_diagnosis_free(r->diagnosis);
        r->diagnosis = diagnosis_from_state(mj);
    }
    double keep = r->row.duration;
    finish(m, mj, status, error, st_str(mj->st, "FailureReason"));
    r->row.duration = keep;
}

/* ---- the call ------------------------------------------------------------------------- */

static void prefix_job_error(smneo_error *e, size_t i, const mjob *mj)
{
    char *old = e->message;
    e->message = smneo__aprintf("job %zu (%s for %s): %s", i, model_of(mj->o), OR_EMPTY(mj->target),
                                old ? old : smneo_strerror(e->code));
    free(old);
}

/* Prepares (upload 0: archive, layout, validated request) or uploads
 * (upload 1) every job that runs, in order, each model once; the first error
 * names its job. The default bucket is created, when missing, in the upload
 * pass: no side effect before every request is validated. */
static int each_job(many *m, int upload, smneo_error *err)
{
    for (size_t i = 0; i < m->n; i++) {
        mjob *mj = &m->jobs[i];
        if (mj->phase == PH_SKIP || mj->phase == PH_KEEP)
            continue;
        const smneo__cjob *same = NULL;
        for (size_t k = 0; k < i && !same; k++) {
            const smneo__cjob *before = m->jobs[k].j;
            if ((upload ? before->uploaded : before->archive != NULL) &&
                !strcmp(model_of(m->jobs[k].o), model_of(mj->o)))
                same = before;
        }
        int rc = 0;
        if (!upload && (!mj->j->o.s3_bucket || !*mj->j->o.s3_bucket)) {
            /* no bucket: the default one's name, found once for every job;
             * checked (or created) only once every job is validated */
            if (!m->default_bucket)
                rc = smneo__s3_default_bucket_name(&m->default_bucket, &m->default_account, m->c, &mj->j->x.e);
            if (rc)
                smneo__cjob_fail_step(mj->j, "bucket", rc);
            else
                mj->j->o.s3_bucket = m->default_bucket;
        }
        if (upload && !rc && m->default_bucket && !m->bucket_ready && mj->j->o.s3_bucket == m->default_bucket) {
            rc = smneo__s3_default_bucket_ensure(m->c, m->default_bucket, m->default_account, &mj->j->x.e);
            if (rc)
                smneo__cjob_fail_step(mj->j, "bucket", rc);
            m->bucket_ready = rc == 0;
        }
        if (!rc)
            rc = upload ? smneo__cjob_upload(mj->j, same) : smneo__cjob_prepare(mj->j, same, mj->recorded);
        if (rc) {
            if (err) {
                smneo_error_clear(err);
                *err = mj->j->x.e;
                memset(&mj->j->x.e, 0, sizeof mj->j->x.e);
                prefix_job_error(err, i, mj);
            }
            return rc;
        }
    }
    return 0;
}

int smneo_compile_many(smneo_compile_many_result **out, smneo_client *c, const smneo_compile_options *const *jobs,
                       size_t njobs, const smneo_compile_many_options *opts, smneo_error *err)
{
    if (out)
        *out = NULL;
    if (!out || !c || (!jobs && njobs))
        return smneo__error(err, SMNEO_EINVAL, "out, client and jobs must not be NULL");
    smneo_compile_many_options full;
    int orc = smneo__options_copy(&full, opts, &smneo__compile_many_options_layout, err);
    if (orc)
        return orc;
    opts = &full;
    many m;
    memset(&m, 0, sizeof m);
    m.c = c;
    m.o = opts;
    m.n = njobs;
    m.limit = opts->max_concurrent ? opts->max_concurrent : SMNEO_COMPILE_MANY_DEFAULT_CONCURRENT;
    m.start_ms = smneo__monotonic_ms();
    int rc = load_state(&m, err);
    if (rc)
        return rc;
    smneo_compile_many_result *res = calloc(1, sizeof *res);
    m.jobs = calloc(njobs ? njobs : 1, sizeof *m.jobs);
    if (res)
        res->rows = calloc(njobs ? njobs : 1, sizeof *res->rows);
    if (!res || !m.jobs || !res->rows) {
        rc = smneo__error(err, SMNEO_ENOMEM, "out of memory");
        goto done;
    }
    res->n = njobs;

    /* where each job stands; every request prepared (and validated) first */
    for (size_t i = 0; i < njobs; i++) {
        mjob *mj = &m.jobs[i];
        mj->m = &m;
        mj->i = i;
        if (!jobs[i]) {
            rc = smneo__error(err, SMNEO_EINVAL, "jobs[%zu] is NULL", i);
            goto done;
        }
        mj->o = jobs[i];
        mj->out = &res->rows[i];
        mj->target = target_of(mj->o);
        mj->key = mj->target ? key_of(mj->o, mj->target) : NULL;
        mj->st = mj->key ? state_entry(&m, mj->key, mj) : NULL;
        mj->j = mj->st ? smneo__cjob_new(c, mj->o) : NULL;
        row_set(&mj->out->model, model_of(mj->o));
        row_set(&mj->out->target, mj->target);
        if (!mj->j) {
            rc = smneo__error(err, SMNEO_ENOMEM, "out of memory");
            goto done;
        }
        mj->j->o.callback = trampoline;
        mj->j->o.payload = mj;
        mj->phase = phase_of(&m, mj);
        if (mj->phase == PH_PENDING)
            fresh_entry(mj->st);
    }
    rc = each_job(&m, 0, err);
    if (!rc)
        rc = each_job(&m, 1, err);
    if (rc)
        goto done;
    rc = write_state(&m, err);
    if (rc)
        goto done;
    for (size_t i = 0; i < njobs; i++)
        if (m.jobs[i].phase == PH_SKIP || m.jobs[i].phase == PH_KEEP)
            row_from_state(&m, &m.jobs[i]);

    run(&m);
    save(&m);

    rc = 0;
    for (size_t i = 0; i < njobs; i++) {
        smneo_compile_row *row = &res->rows[i].row;
        row_store *s = &res->rows[i];
        row->model = s->model;
        row->target = s->target;
        row->job_name = s->name;
        row->status = s->status ? s->status : "";
        row->artifact_path = s->artifact;
        row->failure_reason = s->reason;
        if (row->error && !rc)
            rc = SMNEO_EJOBFAILED;
    }
    if (m.cancelled)
        rc = SMNEO_ECANCELLED;
    if (rc) {
        size_t failed = 0;
        for (size_t i = 0; i < njobs; i++)
            failed += res->rows[i].row.error != 0;
        smneo__error(err, rc, "%zu of %zu compilation jobs did not complete%s", failed, njobs,
                     m.cancelled ? " (cancelled)" : "");
    }
    *out = res;
    res = NULL;

done:
    for (size_t i = 0; m.jobs && i < njobs; i++) {
        mjob *mj = &m.jobs[i];
        smneo_call_free(mj->waiter);
        smneo_joblogs_free(mj->logs);
        smneo__cjob_free(mj->j);
        free(mj->key);
        free(mj->target);
        free(mj->recorded);
    }
    free(m.jobs);
    free(m.default_bucket);
    free(m.default_account);
    smneo_compile_many_result_free(res);
    cJSON_Delete(m.state);
    return rc;
}
