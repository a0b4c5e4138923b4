/* smneo_compile_many: many compile() jobs under the account's concurrent-job
 * limit, polled in one loop, resumable from a state file. Each job's steps
 * are compile.c's (smneo__cjob); this file schedules them and keeps the
 * record. See docs/compile.md. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "client_internal.h"
#include "compile_internal.h"
#include "smneo/s3.h"
#include "internal.h"
#include "joblogs_internal.h"
#include "options_internal.h"
#include "s3_internal.h"
#include "smneo/compile.h"
#include "smneo/value.h"

/* PH_CREATING: its CreateCompilationJob is being stepped; PH_WORK: a WORK
 * step is due for it (download, or a FAILED job's log tail); PH_STOPPING:
 * its StopCompilationJob is being stepped. */
enum { PH_SKIP, PH_KEEP, PH_PENDING, PH_ATTACH, PH_RUNNING, PH_DONE, PH_CREATING, PH_WORK, PH_STOPPING };
enum { MM_PREPARE, MM_UPLOAD, MM_RUN, MM_DONE };
enum { W_NONE, W_FINISH, W_EXPLAIN };
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
    smneo_call *call;    /* PH_CREATING: the create; PH_STOPPING: the stop */
    int work;            /* PH_WORK: W_FINISH or W_EXPLAIN */
    int timed_out;       /* follow_logs: the log reader was cancelled at the deadline */
    int stop_timeout;    /* PH_STOPPING after the waiter's timeout (else after a cancel) */
    int stop_rc;         /* PH_STOPPING after the timeout: the waiter's code */
    char *strings[24];   /* the machine's copies of the options' strings */
} mjob;

/* An event waiting for its EVENT step (the machine's): the job's index
 * (SMNEO_COMPILE_MANY_ALL: none) and a copy of its message. */
typedef struct mevent {
    size_t job;
    smneo_compile_event ev;
    char *msg;
    smneo_value desc;
    int has_desc;
} mevent;

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
    char *default_bucket; /* for the jobs given no bucket (the SageMaker Python SDK's default) */
    char *default_account; /* its expected owner */
    int bucket_ready;      /* HeadBucket (or CreateBucket) done */
    smneo_call *bucket_call; /* the default bucket's steps, forwarded before a preparation or upload WORK:
                                its name (GetCallerIdentity) before the jobs are validated, HeadBucket and
                                CreateBucket after */
    int named, ensured;    /* bucket_call ran for the name, for the bucket */
    int name_rc, ensure_rc; /* their outcomes, reported by the job that first needs them */
    smneo_error name_err, ensure_err;
    mjob *jobs;
    char *state_file;      /* the copy opts.state_file points at */
    /* the step machine */
    smneo_compile_many_options opts; /* the copy m->o points at */
    int queued;            /* events become EVENT steps (else the callback is called as they happen) */
    pthread_mutex_t mu;    /* guards the queue: a WORK step's threads push to it */
    mevent *q;
    size_t qhead, qn, qcap;
    mevent cur;            /* the last EVENT step's event */
    int mstate;            /* MM_* */
    int work_ready, work_ran, work_rc;
    mjob *work_job;        /* MM_RUN: whose WORK step runs */
    mjob *send_job;        /* whose SEND step is out (its answer goes to it) */
    int slept;             /* a SLEEP step was handed out: WAITING comes next */
    int cancel_started;
    int rc;                /* MM_DONE: the outcome */
    smneo_error e;
    smneo_compile_many_result *res;
    int taken;
};

static int is_cancelled(many *m) { return __atomic_load_n(&m->cancelled, __ATOMIC_SEQ_CST); }
static void set_cancelled(many *m) { __atomic_store_n(&m->cancelled, 1, __ATOMIC_SEQ_CST); }

/* ---- events ----------------------------------------------------------------------- */

/* Every event of the run: to the callback as it happens (smneo_compile_many),
 * or queued for an EVENT step (the machine; from any thread). 1 when
 * cancelled. */
static int many_event(many *m, size_t job, const smneo_compile_event *ev)
{
    if (m->queued) {
        pthread_mutex_lock(&m->mu);
        if (m->qhead && m->qhead == m->qn)
            m->qhead = m->qn = 0;
        if (m->qn == m->qcap) {
            size_t cap = m->qcap ? m->qcap * 2 : 16;
            mevent *grown = realloc(m->q, cap * sizeof *grown);
            if (grown) {
                m->q = grown;
                m->qcap = cap;
            }
        }
        if (m->qn < m->qcap) {
            mevent *it = &m->q[m->qn];
            memset(it, 0, sizeof *it);
            it->job = job;
            it->ev = *ev;
            it->msg = ev->message ? smneo__strdup(ev->message) : NULL;
            it->ev.message = NULL;
            it->ev.description = NULL;
            if (ev->description) {
                /* borrowed from the job's call, which does not step before this event's EVENT step */
                it->desc = *ev->description;
                it->has_desc = 1;
            }
            m->qn++;
        } /* else out of memory: the event is lost, not the run */
        pthread_mutex_unlock(&m->mu);
        return is_cancelled(m);
    }
    if (m->o->callback && m->o->callback(job, ev, m->o->payload))
        set_cancelled(m);
    return is_cancelled(m);
}

static int mq_pop(many *m, mevent *out)
{
    pthread_mutex_lock(&m->mu);
    int got = m->qhead < m->qn;
    if (got)
        *out = m->q[m->qhead++];
    pthread_mutex_unlock(&m->mu);
    return got;
}

static int emit_all(many *m, smneo_compile_event_kind kind, const char *msg)
{
    if (!m->o->callback && !m->queued)
        return 0;
    smneo_compile_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = kind;
    ev.message = msg;
    ev.elapsed = (double)(smneo__monotonic_ms() - m->start_ms) / 1000.0;
    return many_event(m, SMNEO_COMPILE_MANY_ALL, &ev);
}

/* Each job's flow reports here (its options' callback). */
static int trampoline(const smneo_compile_event *ev, void *payload)
{
    mjob *mj = payload;
    return many_event(mj->m, mj->i, ev);
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
    many_event(m, mj->i, &ev);
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

/* The job's create failed with rc and e (moved into the job's error): its
 * row says so and the state file forgets the name. */
static void create_failed(many *m, mjob *mj, int rc, smneo_error *e)
{
    smneo__cjob *j = mj->j;
    smneo_error_clear(&j->x.e);
    j->x.e = *e;
    memset(e, 0, sizeof *e); /* moved: nothing left to clear */
    smneo__cjob_fail_step(j, "create", rc);
    st_set_str(mj->st, "CompilationJobName", NULL);
    finish(m, mj, "", rc, j->x.e.message);
}

/* The job's create is answered (the create call has ended): the job runs,
 * waits for the account's limit (QUEUED), or failed. */
static void created(many *m, mjob *mj)
{
    smneo__cjob *j = mj->j;
    const char *name = j->x.r->job_name;
    smneo_call *call = mj->call;
    mj->call = NULL;
    smneo_error e = SMNEO_ERROR_INIT;
    int rc = smneo_call_result(NULL, call, &e);
    smneo_call_free(call);
    mj->phase = PH_PENDING;
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
        many_event(m, mj->i, &ev);
        smneo_error_clear(&e);
        return;
    }
    if (rc == SMNEO_ECANCELLED) {
        set_cancelled(m);
        smneo_error_clear(&e);
        return;
    }
    if (rc) {
        create_failed(m, mj, rc, &e);
        return;
    }
    m->limit_hits = 0;
    mj->created = 1;
    mj->started_ms = smneo__monotonic_ms();
    smneo__cjob_emit(j, SMNEO_COMPILE_EVENT_CREATED, name, NULL);
    rc = start_waiter(m, mj, &e);
    if (rc)
        finish(m, mj, "", rc, e.message);
    smneo_error_clear(&e);
}

/* Starts the job's create (recorded before it is sent: a rerun after a
 * crash looks for it). */
static void create_begin(many *m, mjob *mj)
{
    smneo__cjob *j = mj->j;
    st_set_str(mj->st, "CompilationJobName", j->x.r->job_name);
    st_set_str(mj->st, "CompilationJobStatus", "CREATING");
    save(m);
    smneo_call *call = j->create_call;
    j->create_call = NULL;
    smneo_error e = SMNEO_ERROR_INIT;
    int rc = call ? 0 : smneo_call_new(&call, m->c, "CreateCompilationJob", j->params, j->params_len, &e);
    if (rc) {
        create_failed(m, mj, rc, &e);
        return;
    }
    mj->call = call;
    mj->phase = PH_CREATING;
    mj->wake_ms = 0;
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

/* follow_logs: the job's log reader has ended. */
static void logs_done(many *m, mjob *mj)
{
    smneo__cjob *j = mj->j;
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
    if (mj->timed_out && rc == SMNEO_ECANCELLED) {
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

/* The plain waiter has ended. */
static void waiter_done(many *m, mjob *mj)
{
    smneo_result *desc = NULL;
    smneo_error e = SMNEO_ERROR_INIT;
    int rc = smneo_call_result(&desc, mj->waiter, &e);
    smneo_call_free(mj->waiter);
    mj->waiter = NULL;
    waited(m, mj, rc, desc, &e);
}

/* Starts the job's StopCompilationJob (after a cancel or the waiter's
 * timeout); 0 when there is nothing to stop (STOPPING not reported). */
static int stop_begin(many *m, mjob *mj)
{
    smneo__cjob *j = mj->j;
    if (!smneo__cjob_stop_begin(j))
        return 0;
    char *params = smneo__aprintf("{\"CompilationJobName\": \"%s\"}", j->x.r->job_name); /* [a-zA-Z0-9-] only */
    smneo_error se = SMNEO_ERROR_INIT;
    int rc = params ? smneo_call_new(&mj->call, m->c, "StopCompilationJob", params, strlen(params), &se)
                    : smneo__error(&se, SMNEO_ENOMEM, "out of memory");
    free(params);
    if (rc) {
        smneo__cjob_stop_end(j, rc, &se);
        smneo_error_clear(&se);
        return 0;
    }
    mj->phase = PH_STOPPING;
    mj->wake_ms = 0;
    return 1;
}

/* After a cancel, the stop done (or not needed): the row. */
static void cancel_stopped(many *m, mjob *mj)
{
    st_set(mj->st, "StoppedBySmneo", cJSON_CreateTrue());
    mj->out->row.stopped_by_smneo = 1;
    finish(m, mj, "STOPPING", SMNEO_ECANCELLED, mj->j->x.e.message);
}

/* After the waiter's timeout, the stop done (or not needed): the row. */
static void timeout_stopped(many *m, mjob *mj)
{
    smneo__cjob *j = mj->j;
    smneo__cjob_fail_step(j, "wait", mj->stop_rc);
    finish(m, mj, j->x.status, mj->stop_rc, j->x.e.message);
}

/* The job's StopCompilationJob has ended. */
static void stopped(many *m, mjob *mj)
{
    smneo_error se = SMNEO_ERROR_INIT;
    int rc = smneo_call_result(NULL, mj->call, &se);
    smneo__cjob_stop_end(mj->j, rc, &se);
    smneo_error_clear(&se);
    smneo_call_free(mj->call);
    mj->call = NULL;
    if (mj->stop_timeout)
        timeout_stopped(m, mj);
    else
        cancel_stopped(m, mj);
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
        mj->phase = PH_WORK; /* the download, verification and extraction */
        mj->work = W_FINISH;
    } else if (rc == SMNEO_EJOBFAILED) {
        smneo_error_clear(&j->x.e);
        j->x.e = e;
        memset(&e, 0, sizeof e);
        mj->phase = PH_WORK; /* the log's last lines and the diagnosis, as compile() gives them */
        mj->work = W_EXPLAIN;
    } else if (rc == SMNEO_EJOBSTOPPED) {
        finish(m, mj, "STOPPED", rc, "the compilation job was stopped");
    } else {
        smneo_error_clear(&j->x.e);
        j->x.e = e;
        memset(&e, 0, sizeof e);
        mj->stop_rc = rc;
        mj->stop_timeout = 1;
        if (rc != SMNEO_EWAITTIMEOUT || !stop_begin(m, mj))
            timeout_stopped(m, mj);
    }
    smneo_error_clear(&e);
}

/* A job's WORK step (on the driver's thread of choice). */
static int job_work(mjob *mj)
{
    smneo__cjob *j = mj->j;
    if (mj->work == W_FINISH) {
        char *dir = output_dir_of(mj);
        int rc = dir ? smneo__cjob_finish(j, dir) : SMNEO_ENOMEM;
        free(dir);
        return rc;
    }
    smneo__cjob_explain(j);
    return 0;
}

/* After the job's WORK step and its events. */
static void job_worked(many *m, mjob *mj, int rc)
{
    smneo__cjob *j = mj->j;
    if (mj->work == W_FINISH) {
        finish(m, mj, "COMPLETED", rc, rc ? j->x.e.message : NULL);
        return;
    }
    mj->out->diagnosis = j->x.r->diagnosis;
    j->x.r->diagnosis = NULL;
    keep_diagnosis_input(mj, j->x.r);
    finish(m, mj, "FAILED", SMNEO_EJOBFAILED, j->x.e.message);
}

/* After a cancel: every job still running is stopped (or left, if asked). */
static void cancel_begin(many *m)
{
    m->cancel_started = 1;
    for (size_t i = 0; i < m->n; i++) {
        mjob *mj = &m->jobs[i];
        if (mj->phase == PH_CREATING) {
            /* not sent yet or answered: its end is seen (as a cancel) in the next steps */
            smneo_call_cancel(mj->call);
        } else if (mj->phase == PH_RUNNING) {
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
            mj->stop_timeout = 0;
            if (!stop_begin(m, mj))
                cancel_stopped(m, mj);
        }
    }
}

/* After a cancel, once nothing is being created: the jobs that did not start. */
static void cancel_pending(many *m)
{
    for (size_t i = 0; i < m->n; i++) {
        mjob *mj = &m->jobs[i];
        if (mj->phase == PH_PENDING || mj->phase == PH_ATTACH) {
            if (st_str(mj->st, "CompilationJobStatus") && !strcmp(st_str(mj->st, "CompilationJobStatus"), "CREATING") &&
                mj->phase == PH_PENDING && !mj->recorded)
                fresh_entry(mj->st); /* never created */
            finish(m, mj, "", SMNEO_ECANCELLED, "cancelled before the job started");
        }
    }
}

/* One step of the job's current call (create, waiter or log reader, stop):
 * 1 with a SEND in *out to hand on; 0 to go on. */
static int step_job(many *m, mjob *mj, smneo_step *out)
{
    smneo_step st;
    if (mj->logs) {
        if (!mj->timed_out && mj->deadline_ms && smneo__monotonic_ms() >= mj->deadline_ms) {
            mj->timed_out = 1;
            smneo_joblogs_cancel(mj->logs);
        }
        smneo_joblogs_step(&st, mj->logs);
    } else {
        smneo_call_next(&st, mj->phase == PH_RUNNING ? mj->waiter : mj->call);
    }
    switch (st.kind) {
    case SMNEO_STEP_SEND:
        *out = st;
        m->send_job = mj;
        return 1;
    case SMNEO_STEP_SLEEP:
        mj->wake_ms = smneo__monotonic_ms() + st.sleep_ms;
        return 0;
    case SMNEO_STEP_EVENT:
        if (mj->phase != PH_RUNNING)
            return 0;
        if (mj->logs) {
            if (st.event == SMNEO_EVENT_STATUS) {
                smneo_value root;
                smneo_result_root(&root, smneo_joblogs_description(mj->logs));
                set_status(m, mj, smneo_joblogs_status(mj->logs));
                smneo__cjob_emit(mj->j, SMNEO_COMPILE_EVENT_STATUS, mj->j->x.status, &root);
            } else {
                smneo__cjob_log_event(mj->j, mj->logs, st.event);
            }
        } else if (st.event == SMNEO_EVENT_STATUS) {
            smneo_value root;
            smneo_result_root(&root, smneo_call_page(mj->waiter));
            smneo_value v;
            const char *status = smneo_value_get(&v, &root, "CompilationJobStatus") ? NULL : smneo_value_string(&v);
            set_status(m, mj, status);
            smneo__cjob_emit(mj->j, SMNEO_COMPILE_EVENT_STATUS, mj->j->x.status, &root);
        }
        return 0;
    default:
        if (mj->phase == PH_CREATING)
            created(m, mj);
        else if (mj->phase == PH_STOPPING)
            stopped(m, mj);
        else if (mj->logs)
            logs_done(m, mj);
        else
            waiter_done(m, mj);
        return 0;
    }
}

static int active(const mjob *mj)
{
    return mj->phase == PH_PENDING || mj->phase == PH_CREATING || mj->phase == PH_RUNNING || mj->phase == PH_WORK ||
           mj->phase == PH_STOPPING;
}

/* The jobs' rows are final: the outcome. */
static void run_end(many *m)
{
    save(m);
    smneo_compile_many_result *res = m->res;
    int rc = 0;
    for (size_t i = 0; i < m->n; i++) {
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
    if (is_cancelled(m))
        rc = SMNEO_ECANCELLED;
    if (rc) {
        size_t failed = 0;
        for (size_t i = 0; i < m->n; i++)
            failed += res->rows[i].row.error != 0;
        smneo__error(&m->e, rc, "%zu of %zu compilation jobs did not complete%s", failed, m->n,
                     is_cancelled(m) ? " (cancelled)" : "");
    }
    m->rc = rc;
    m->mstate = MM_DONE;
}

/* MM_RUN, one unit: 1 with a SEND, SLEEP or WORK step in *out; 0 to go on
 * (events queued, a state changed). One job's call steps at a time, so that
 * an event's borrowed description lives until its EVENT step. */
static int run_step(many *m, smneo_step *out)
{
    int cancelled = is_cancelled(m);
    if (cancelled) {
        /* once, and again for a job whose create succeeded after it */
        int running = 0;
        for (size_t i = 0; i < m->n; i++)
            running += m->jobs[i].phase == PH_RUNNING;
        if (!m->cancel_started || running) {
            cancel_begin(m);
            return 0;
        }
    }
    if (m->slept) {
        m->slept = 0;
        emit_all(m, SMNEO_COMPILE_EVENT_WAITING, "");
        return 0; /* a cancel in answer to it is seen next */
    }
    int creating = 0;
    for (size_t i = 0; i < m->n; i++) {
        mjob *mj = &m->jobs[i];
        if (mj->phase == PH_WORK) {
            m->work_job = mj;
            m->work_ready = 1;
            out->kind = SMNEO_STEP_WORK;
            return 1;
        }
        creating += mj->phase == PH_CREATING;
    }
    if (cancelled && !creating)
        cancel_pending(m);
    int64_t now = smneo__monotonic_ms();
    /* start what the limit allows, one create at a time */
    if (!cancelled && !creating && m->running < m->limit && now >= m->create_after_ms) {
        for (size_t i = 0; i < m->n; i++) {
            if (m->jobs[i].phase == PH_PENDING) {
                create_begin(m, &m->jobs[i]);
                return 0;
            }
        }
    }
    /* step the calls that are due */
    for (size_t i = 0; i < m->n; i++) {
        mjob *mj = &m->jobs[i];
        if ((mj->phase == PH_CREATING || mj->phase == PH_RUNNING || mj->phase == PH_STOPPING) && now >= mj->wake_ms) {
            if (step_job(m, mj, out))
                return 1;
            return 0;
        }
    }
    int any = 0;
    int64_t next = now + TICK_MS;
    for (size_t i = 0; i < m->n; i++) {
        mjob *mj = &m->jobs[i];
        if (!active(mj))
            continue;
        any = 1;
        if (mj->phase != PH_PENDING && mj->wake_ms < next)
            next = mj->wake_ms;
        if (mj->phase == PH_PENDING && !cancelled && !creating && m->running < m->limit && m->create_after_ms < next)
            next = m->create_after_ms;
    }
    if (!any) {
        run_end(m);
        return 0;
    }
    int64_t wait = next - now;
    if (wait <= 0)
        return 0;
    out->kind = SMNEO_STEP_SLEEP;
    out->sleep_ms = wait > TICK_MS ? TICK_MS : wait;
    m->slept = 1;
    return 1;
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

/* The default bucket's outcome (found by bucket_step before the WORK step)
 * for the job that first needs it: its code, the error moved into e. */
static int bucket_outcome(int *rc, smneo_error *saved, smneo_error *e)
{
    if (!*rc)
        return 0;
    smneo_error_clear(e);
    *e = *saved;
    memset(saved, 0, sizeof *saved);
    if (!e->message)
        smneo__error(e, *rc, "%s", smneo_strerror(*rc));
    e->code = *rc;
    return *rc;
}

/* Before the preparation (upload 0) or upload (upload 1) WORK step: the
 * default bucket's name from STS GetCallerIdentity (no side effect), or,
 * once every job is validated, HeadBucket and CreateBucket when missing,
 * as SEND and SLEEP steps of this machine. 1 with a step in *out; 0 when
 * there is nothing (more) to send: the outcome waits in name_rc / ensure_rc
 * for the job that first needs the bucket (each_job), so the errors and their
 * order stay those of the jobs. */
static int bucket_step(many *m, int upload, smneo_step *out)
{
    if (!m->bucket_call) {
        if (upload ? m->ensured || !m->default_bucket : m->named)
            return 0;
        int needed = 0;
        for (size_t i = 0; i < m->n && !needed; i++) {
            const mjob *mj = &m->jobs[i];
            const char *b = mj->j->o.s3_bucket;
            needed = mj->phase != PH_SKIP && mj->phase != PH_KEEP &&
                     (upload ? b == m->default_bucket : !b || !*b);
        }
        if (upload)
            m->ensured = 1;
        else
            m->named = 1;
        if (!needed)
            return 0;
        int *rc = upload ? &m->ensure_rc : &m->name_rc;
        *rc = smneo__s3_bucket_new(&m->bucket_call, m->c, !upload, m->default_bucket, m->default_account,
                                   upload ? &m->ensure_err : &m->name_err);
        if (*rc)
            return 0;
    }
    smneo_call_next(out, m->bucket_call);
    if (out->kind == SMNEO_STEP_SEND || out->kind == SMNEO_STEP_SLEEP)
        return 1;
    memset(out, 0, sizeof *out);
    if (upload)
        m->ensure_rc = smneo__s3_bucket_result(NULL, NULL, m->bucket_call, &m->ensure_err);
    else
        m->name_rc = smneo__s3_bucket_result(&m->default_bucket, &m->default_account, m->bucket_call, &m->name_err);
    smneo_call_free(m->bucket_call);
    m->bucket_call = NULL;
    return 0;
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
                rc = bucket_outcome(&m->name_rc, &m->name_err, &mj->j->x.e);
            if (rc)
                smneo__cjob_fail_step(mj->j, "bucket", rc);
            else
                mj->j->o.s3_bucket = m->default_bucket;
        }
        if (upload && !rc && m->default_bucket && !m->bucket_ready && mj->j->o.s3_bucket == m->default_bucket) {
            rc = bucket_outcome(&m->ensure_rc, &m->ensure_err, &mj->j->x.e);
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

/* ---- the run as a step machine ------------------------------------------------------- */

static void mm_free(void *impl);

/* MM_PREPARE and MM_UPLOAD: every job's WORK at once; MM_RUN: one job's. */
static void mm_work(void *impl)
{
    many *m = impl;
    if (!m || !m->work_ready || m->work_ran)
        return;
    int rc = 0;
    if (m->mstate == MM_PREPARE) {
        rc = each_job(m, 0, &m->e);
    } else if (m->mstate == MM_UPLOAD) {
        rc = each_job(m, 1, &m->e);
        if (!rc)
            rc = write_state(m, &m->e);
    } else if (m->mstate == MM_RUN && m->work_job) {
        rc = job_work(m->work_job);
    }
    m->work_rc = rc;
    m->work_ran = 1;
}

/* A failure before any job started: no rows. */
static void mm_fail(many *m, int rc)
{
    m->rc = rc;
    if (m->e.code != rc)
        m->e.code = rc;
    smneo_compile_many_result_free(m->res);
    m->res = NULL;
    m->mstate = MM_DONE;
}

static void mm_after_work(many *m)
{
    int rc = m->work_rc;
    m->work_ready = m->work_ran = 0;
    if (m->mstate == MM_PREPARE) {
        if (rc)
            mm_fail(m, rc);
        else
            m->mstate = MM_UPLOAD;
        return;
    }
    if (m->mstate == MM_UPLOAD) {
        if (rc) {
            mm_fail(m, rc);
            return;
        }
        for (size_t i = 0; i < m->n; i++)
            if (m->jobs[i].phase == PH_SKIP || m->jobs[i].phase == PH_KEEP)
                row_from_state(m, &m->jobs[i]);
        for (size_t i = 0; i < m->n && !is_cancelled(m); i++) {
            mjob *mj = &m->jobs[i];
            if (mj->phase != PH_ATTACH)
                continue;
            smneo_error e = SMNEO_ERROR_INIT;
            smneo__cjob_emit(mj->j, SMNEO_COMPILE_EVENT_REATTACHED, mj->recorded, NULL);
            if (start_waiter(m, mj, &e))
                finish(m, mj, "", e.code, e.message);
            smneo_error_clear(&e);
        }
        m->mstate = MM_RUN;
        return;
    }
    mjob *mj = m->work_job;
    m->work_job = NULL;
    if (mj)
        job_worked(m, mj, rc);
}

static void mm_next(smneo_step *out, void *impl)
{
    many *m = impl;
    memset(out, 0, sizeof *out);
    free(m->cur.msg);
    memset(&m->cur, 0, sizeof m->cur);
    m->send_job = NULL;
    for (;;) {
        if (mq_pop(m, &m->cur)) {
            out->kind = SMNEO_STEP_EVENT;
            out->event = SMNEO_EVENT_COMPILE;
            return;
        }
        switch (m->mstate) {
        case MM_DONE:
            out->kind = SMNEO_STEP_DONE;
            return;
        case MM_PREPARE:
        case MM_UPLOAD:
            if (!m->work_ran && bucket_step(m, m->mstate == MM_UPLOAD, out))
                return;
            if (!m->work_ran) {
                m->work_ready = 1;
                out->kind = SMNEO_STEP_WORK;
                return;
            }
            mm_after_work(m);
            continue;
        default:
            if (m->work_ran) {
                mm_after_work(m);
                continue;
            }
            if (run_step(m, out))
                return;
            continue;
        }
    }
}

static void mm_feed(void *impl, smneo_response *resp, int transport_error, const char *message)
{
    many *m = impl;
    mjob *mj = m ? m->send_job : NULL;
    if (m)
        m->send_job = NULL;
    if (m && m->bucket_call)
        smneo_call_feed(m->bucket_call, resp, transport_error, message);
    else if (mj && mj->logs)
        smneo_joblogs_feed(mj->logs, resp, transport_error, message);
    else if (mj && mj->phase == PH_RUNNING && mj->waiter)
        smneo_call_feed(mj->waiter, resp, transport_error, message);
    else if (mj && mj->call)
        smneo_call_feed(mj->call, resp, transport_error, message);
    else
        smneo_response_free(resp);
}

static void mm_cancel(void *impl)
{
    many *m = impl;
    if (m)
        set_cancelled(m);
}

static const smneo__call_ops mm_ops = {mm_next, mm_feed, mm_work, mm_cancel, mm_free};

static void mm_free(void *impl)
{
    many *m = impl;
    if (!m)
        return;
    for (size_t i = 0; m->jobs && i < m->n; i++) {
        mjob *mj = &m->jobs[i];
        smneo_call_free(mj->waiter);
        smneo_call_free(mj->call);
        smneo_joblogs_free(mj->logs);
        smneo__cjob_free(mj->j);
        free(mj->key);
        free(mj->target);
        free(mj->recorded);
        for (size_t k = 0; k < sizeof mj->strings / sizeof mj->strings[0]; k++)
            free(mj->strings[k]);
    }
    free(m->jobs);
    free(m->default_bucket);
    free(m->default_account);
    smneo_call_free(m->bucket_call);
    smneo_error_clear(&m->name_err);
    smneo_error_clear(&m->ensure_err);
    free(m->state_file);
    smneo_compile_many_result_free(m->res);
    cJSON_Delete(m->state);
    free(m->cur.msg);
    mevent it;
    while (mq_pop(m, &it))
        free(it.msg);
    free(m->q);
    pthread_mutex_destroy(&m->mu);
    smneo_error_clear(&m->e);
    free(m);
}

/* The job's copy of its options points at copies of their strings (the
 * machine's caller need not keep them). */
static int copy_strings(mjob *mj)
{
    size_t k = 0;
    const smneo_compile_option_info *info;
    for (size_t i = 0; (info = smneo_compile_option_at(i)) != NULL; i++) {
        if (info->type != SMNEO_COMPILE_OPTION_STRING && info->type != SMNEO_COMPILE_OPTION_JSON)
            continue;
        const char **slot = (const char **)((char *)&mj->j->o + info->offset);
        if (!*slot)
            continue;
        if (k == sizeof mj->strings / sizeof mj->strings[0])
            return -1;
        mj->strings[k] = smneo__strdup(*slot);
        if (!mj->strings[k])
            return -1;
        *slot = mj->strings[k++];
    }
    return 0;
}

/* queued: events come as EVENT steps; else to the callback as they happen. */
static int mm_new(smneo_call **out, smneo_client *c, const smneo_compile_options *const *jobs, size_t njobs,
                  const smneo_compile_many_options *opts, int queued, smneo_error *err)
{
    if (out)
        *out = NULL;
    if (!out || !c || (!jobs && njobs))
        return smneo__error(err, SMNEO_EINVAL, "out, client and jobs must not be NULL");
    many *m = calloc(1, sizeof *m);
    smneo_call *call = calloc(1, sizeof *call);
    if (!m || !call || pthread_mutex_init(&m->mu, NULL)) {
        free(m);
        free(call);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    call->client = c;
    call->kind = KIND_MACHINE;
    call->ops = &mm_ops;
    call->impl = m;
    int rc = smneo__options_copy(&m->opts, opts, &smneo__compile_many_options_layout, err);
    if (rc) {
        smneo_call_free(call);
        return rc;
    }
    m->c = c;
    m->o = &m->opts;
    m->queued = queued;
    m->n = njobs;
    m->limit = m->o->max_concurrent ? m->o->max_concurrent : SMNEO_COMPILE_MANY_DEFAULT_CONCURRENT;
    m->start_ms = smneo__monotonic_ms();
    m->mstate = MM_PREPARE;
    if (m->opts.state_file) {
        m->state_file = smneo__strdup(m->opts.state_file);
        if (!m->state_file) {
            smneo_call_free(call);
            return smneo__error(err, SMNEO_ENOMEM, "out of memory");
        }
        m->opts.state_file = m->state_file;
    }
    rc = load_state(m, err);
    if (rc) {
        smneo_call_free(call);
        return rc;
    }
    smneo_compile_many_result *res = calloc(1, sizeof *res);
    m->res = res;
    m->jobs = calloc(njobs ? njobs : 1, sizeof *m->jobs);
    if (res)
        res->rows = calloc(njobs ? njobs : 1, sizeof *res->rows);
    if (!res || !m->jobs || !res->rows) {
        smneo_call_free(call);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    res->n = njobs;
    /* where each job stands */
    for (size_t i = 0; i < njobs; i++) {
        mjob *mj = &m->jobs[i];
        mj->m = m;
        mj->i = i;
        if (!jobs[i]) {
            smneo_call_free(call);
            return smneo__error(err, SMNEO_EINVAL, "jobs[%zu] is NULL", i);
        }
        mj->j = smneo__cjob_new(c, jobs[i]);
        if (!mj->j || (queued && copy_strings(mj))) {
            smneo_call_free(call);
            return smneo__error(err, SMNEO_ENOMEM, "out of memory");
        }
        mj->o = &mj->j->o; /* the full struct, whatever version the caller's is */
        mj->out = &res->rows[i];
        mj->target = target_of(mj->o);
        mj->key = mj->target ? key_of(mj->o, mj->target) : NULL;
        mj->st = mj->key ? state_entry(m, mj->key, mj) : NULL;
        row_set(&mj->out->model, model_of(mj->o));
        row_set(&mj->out->target, mj->target);
        if (!mj->st) {
            smneo_call_free(call);
            return smneo__error(err, SMNEO_ENOMEM, "out of memory");
        }
        mj->j->o.callback = trampoline;
        mj->j->o.payload = mj;
        mj->phase = phase_of(m, mj);
        if (mj->phase == PH_PENDING)
            fresh_entry(mj->st);
    }
    *out = call;
    return 0;
}

int smneo_compile_many_new(smneo_call **out, smneo_client *c, const smneo_compile_options *const *jobs, size_t njobs,
                           const smneo_compile_many_options *opts, smneo_error *err)
{
    return mm_new(out, c, jobs, njobs, opts, 1, err);
}

int smneo_call_compile_many_event(smneo_compile_event *out, size_t *job, const smneo_call *call)
{
    if (!out || !job || !call || call->kind != KIND_MACHINE || call->ops != &mm_ops)
        return SMNEO_EINVAL;
    const many *m = call->impl;
    if (!m->cur.ev.kind)
        return SMNEO_EINVAL;
    *out = m->cur.ev;
    out->message = m->cur.msg;
    out->description = m->cur.has_desc ? &m->cur.desc : NULL;
    *job = m->cur.job;
    return 0;
}

int smneo_call_compile_many_result(smneo_compile_many_result **out, smneo_call *call, smneo_error *err)
{
    if (out)
        *out = NULL;
    if (!out || !call || call->kind != KIND_MACHINE || call->ops != &mm_ops)
        return smneo__error(err, SMNEO_EINVAL, "not a compile_many machine (smneo_compile_many_new)");
    many *m = call->impl;
    if (m->mstate != MM_DONE)
        return smneo__error(err, SMNEO_EINVAL, "the compile_many machine has not finished");
    if (m->taken)
        return smneo__error(err, SMNEO_EINVAL, "the compile_many machine's result was handed over already");
    m->taken = 1;
    *out = m->res;
    m->res = NULL;
    if (err) {
        smneo_error_clear(err);
        *err = m->e;
    } else {
        smneo_error_clear(&m->e);
    }
    memset(&m->e, 0, sizeof m->e);
    return m->rc;
}

/* ---- the run, blocking: a driver of the machine ----------------------------------------- */

/* WORK inline, SEND with the client's transport, SLEEP in the machine's
 * short steps; events reach the callback as they happen (from the
 * transfer's threads too, as the callback's contract says). */
int smneo_compile_many(smneo_compile_many_result **out, smneo_client *c, const smneo_compile_options *const *jobs,
                       size_t njobs, const smneo_compile_many_options *opts, smneo_error *err)
{
    if (out)
        *out = NULL;
    if (!out)
        return smneo__error(err, SMNEO_EINVAL, "out, client and jobs must not be NULL");
    smneo_call *call = NULL;
    int rc = mm_new(&call, c, jobs, njobs, opts, 0, err);
    if (rc)
        return rc;
    smneo_step st;
    smneo_call_run(&st, call); /* no EVENT steps: the callback is called directly */
    rc = smneo_call_compile_many_result(out, call, err);
    smneo_call_free(call);
    return rc;
}
