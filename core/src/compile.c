/* The one-call compile flow: pack, check the layout, validate, upload,
 * create, wait, download, verify, extract. Every step reuses a public piece
 * of the core (artifact, validate, s3, the call machines); this file only
 * sequences them, names things and reports. See docs/compile.md. */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "client_internal.h"
#include "joblogs_internal.h"
#include "compile_internal.h"
#include "internal.h"
#include "options_internal.h"
#include "artifact_internal.h"
#include "validate_internal.h"
#include "s3_internal.h"
#include "smneo/artifact.h"
#include "smneo/compile.h"
#include "smneo/s3.h"
#include "smneo/validate.h"
#include "smneo/value.h"

enum { JOB_NAME_MAX = 63, DEFAULT_MAX_RUNTIME = 900 };

enum { FAILED_LOG_LINES = 50 };

/* ---- result ----------------------------------------------------------------- */

void smneo_compile_result_free(smneo_compile_result *r)
{
    if (!r)
        return;
    smneo_result_free(r->job);
    free(r->job_name);
    free(r->artifact_path);
    free(r->extracted_dir);
    free(r->input_uri);
    smneo_issues_free(r->issues);
    for (size_t i = 0; i < r->n_log; i++) {
        free((char *)r->log[i].message);
        free((char *)r->log[i].stream);
    }
    free(r->log);
    smneo_diagnosis_free(r->diagnosis);
    free(r);
}

const smneo_result *smneo_compile_result_job(const smneo_compile_result *r) { return r ? r->job : NULL; }
const char *smneo_compile_result_job_name(const smneo_compile_result *r) { return r ? r->job_name : NULL; }
const char *smneo_compile_result_artifact_path(const smneo_compile_result *r) { return r ? r->artifact_path : NULL; }
const char *smneo_compile_result_extracted_dir(const smneo_compile_result *r) { return r ? r->extracted_dir : NULL; }
int smneo_compile_result_digest_verified(const smneo_compile_result *r) { return r ? r->digest_verified : 0; }
const char *smneo_compile_result_input_uri(const smneo_compile_result *r) { return r ? r->input_uri : NULL; }
const smneo_issues *smneo_compile_result_issues(const smneo_compile_result *r) { return r ? r->issues : NULL; }
size_t smneo_compile_result_log_count(const smneo_compile_result *r) { return r ? r->n_log : 0; }

int smneo_compile_result_log_at(smneo_log_event *out, const smneo_compile_result *r, size_t i)
{
    if (!out || !r || i >= r->n_log)
        return SMNEO_EINVAL;
    *out = r->log[i];
    return 0;
}

const smneo_diagnosis *smneo_compile_result_diagnosis(const smneo_compile_result *r)
{
    return r ? r->diagnosis : NULL;
}

/* ---- job names ---------------------------------------------------------------- */

static int is_alnum(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

char *smneo__compile_job_name(const char *base, int64_t now, unsigned rnd)
{
    char suffix[40];
    time_t t = (time_t)now;
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        memset(&tm, 0, sizeof tm);
    snprintf(suffix, sizeof suffix, "-%04d%02d%02d%02d%02d%02d-%04x", (tm.tm_year + 1900) % 10000, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, rnd & 0xffffu);
    size_t room = JOB_NAME_MAX - strlen(suffix);
    char *name = malloc(JOB_NAME_MAX + 1);
    if (!name)
        return NULL;
    size_t n = 0;
    for (const char *p = base ? base : ""; *p && n < room; p++) {
        char ch = is_alnum(*p) ? *p : '-';
        if (n == 0 && ch == '-')
            continue; /* the first character must be alphanumeric */
        if (ch == '-' && name[n - 1] == '-')
            continue;
        name[n++] = ch;
    }
    while (n > 0 && name[n - 1] == '-')
        n--;
    if (n == 0) {
        memcpy(name, "model", 5);
        n = 5;
    }
    memcpy(name + n, suffix, strlen(suffix) + 1);
    return name;
}

/* The model's base name: the last path component without .tar.gz/.tgz/.tar. */
static char *model_base_name(const char *model)
{
    size_t len = strlen(model);
    while (len > 1 && model[len - 1] == '/')
        len--;
    const char *start = model;
    for (size_t i = 0; i < len; i++)
        if (model[i] == '/')
            start = model + i + 1;
    size_t n = len - (size_t)(start - model);
    static const char *const exts[] = {".tar.gz", ".tgz", ".tar"};
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        size_t el = strlen(exts[i]);
        if (n > el && strncasecmp(start + n - el, exts[i], el) == 0) {
            n -= el;
            break;
        }
    }
    return smneo__strndup(start, n);
}

/* A model package version's name: ...:model-package/<name>/<version>. */
static char *package_base_name(const char *arn)
{
    const char *p = strstr(arn, "model-package/");
    p = p ? p + strlen("model-package/") : arn;
    const char *slash = strchr(p, '/');
    return smneo__strndup(p, slash ? (size_t)(slash - p) : strlen(p));
}

static unsigned random16(void)
{
    unsigned char b[2] = {0, 0};
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t got = read(fd, b, sizeof b);
        close(fd);
        if (got == (ssize_t)sizeof b)
            return (unsigned)b[0] << 8 | b[1];
    }
    return (unsigned)((uint64_t)smneo__monotonic_ms() * 2654435761u ^ (unsigned)getpid()) & 0xffffu;
}

/* ---- reading a description ------------------------------------------------------ */

static const char *vstr(const smneo_value *root, const char *a, const char *b, const char *c)
{
    smneo_value v = *root, next;
    const char *names[3] = {a, b, c};
    for (int i = 0; i < 3 && names[i]; i++) {
        if (smneo_value_get(&next, &v, names[i]))
            return NULL;
        v = next;
    }
    return smneo_value_string(&v);
}

/* ---- the flow's context ---------------------------------------------------------- */


/* ---- the step machine's event queue ------------------------------------------------- */

/* Events raised while the machine runs (on the driving thread, or on a WORK
 * step's threads: the pack and the transfer's part threads) wait here for
 * their EVENT steps. Progress events are merged into the last one queued when
 * the queue is long, so that a long transfer does not grow it without end. */
typedef struct evq_item {
    smneo_compile_event ev;
    char *msg;
    smneo_value desc;
    int has_desc;
} evq_item;

struct smneo__evq {
    pthread_mutex_t mu;
    evq_item *v;
    size_t head, n, cap;
};

enum { EVQ_MERGE_AT = 1024 };

static int progress_kind(smneo_compile_event_kind k)
{
    return k == SMNEO_COMPILE_EVENT_PACK || k == SMNEO_COMPILE_EVENT_UPLOAD || k == SMNEO_COMPILE_EVENT_DOWNLOAD;
}

static void evq_push(struct smneo__evq *q, const smneo_compile_event *ev)
{
    pthread_mutex_lock(&q->mu);
    evq_item *last = q->n > q->head ? &q->v[q->n - 1] : NULL;
    if (last && q->n - q->head >= EVQ_MERGE_AT && progress_kind(ev->kind) && last->ev.kind == ev->kind) {
        last->ev.done = ev->done;
        last->ev.total = ev->total;
        last->ev.elapsed = ev->elapsed;
        pthread_mutex_unlock(&q->mu);
        return;
    }
    if (q->head && q->head == q->n)
        q->head = q->n = 0;
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 16;
        evq_item *grown = realloc(q->v, cap * sizeof *grown);
        if (!grown) {
            pthread_mutex_unlock(&q->mu);
            return; /* out of memory: the event is lost, not the flow */
        }
        q->v = grown;
        q->cap = cap;
    }
    evq_item *it = &q->v[q->n];
    memset(it, 0, sizeof *it);
    it->ev = *ev;
    it->msg = ev->message ? smneo__strdup(ev->message) : NULL;
    it->ev.message = NULL;
    if (ev->description) {
        it->desc = *ev->description;
        it->has_desc = 1;
    }
    it->ev.description = NULL;
    q->n++;
    pthread_mutex_unlock(&q->mu);
}

/* Takes the oldest event into *out (the caller frees out->msg); 0 when none. */
static int evq_pop(struct smneo__evq *q, evq_item *out)
{
    pthread_mutex_lock(&q->mu);
    int got = q->head < q->n;
    if (got)
        *out = q->v[q->head++];
    pthread_mutex_unlock(&q->mu);
    return got;
}

static int is_cancelled(cx *x) { return __atomic_load_n(&x->cancelled, __ATOMIC_SEQ_CST); }
static void set_cancelled(cx *x) { __atomic_store_n(&x->cancelled, 1, __ATOMIC_SEQ_CST); }

static int emit(cx *x, smneo_compile_event_kind kind, const char *msg, uint64_t done, uint64_t total,
                const smneo_value *desc)
{
    if (!x->o->callback && !x->q)
        return 0;
    smneo_compile_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = kind;
    ev.message = msg;
    ev.done = done;
    ev.total = total;
    ev.description = desc;
    ev.elapsed = (double)(smneo__monotonic_ms() - x->start_ms) / 1000.0;
    if (x->q) {
        /* the step machine: the driver sees it as an EVENT step; a cancel
         * made after an earlier one is seen here (stopping a WORK step) */
        evq_push(x->q, &ev);
        return is_cancelled(x);
    }
    if (x->o->callback(&ev, x->o->payload)) {
        set_cancelled(x);
        return 1;
    }
    return 0;
}

/* A warning: kept in the result's issues and reported as an event. */
static void warn(cx *x, const char *path, const char *rule, const char *msg)
{
    smneo_issues_add(x->r->issues, SMNEO_SEVERITY_WARNING, path ? path : "", rule, "%s", msg);
    emit(x, SMNEO_COMPILE_EVENT_WARNING, msg, 0, 0, NULL);
}

/* Prefixes the error message with the step that failed; returns the code. */
static int fail_step(cx *x, const char *step, int rc)
{
    char *old = x->e.message;
    x->e.code = rc;
    x->e.message = smneo__aprintf("%s: %s", step, old ? old : smneo_strerror(rc));
    free(old);
    return rc;
}

static int fail(cx *x, int rc, const char *step, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static int fail(cx *x, int rc, const char *step, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    smneo__verror(&x->e, rc, fmt, ap);
    va_end(ap);
    return fail_step(x, step, rc);
}

static int cancelled(cx *x, const char *step)
{
    return fail(x, SMNEO_ECANCELLED, step, "cancelled by the callback");
}

/* ---- small file helpers --------------------------------------------------------- */

static int mkdir_p(const char *dir)
{
    char *p = smneo__strdup(dir);
    if (!p)
        return -1;
    int rc = 0;
    for (char *s = p + 1;; s++) {
        if (*s == '/' || !*s) {
            char keep = *s;
            *s = '\0';
            if (mkdir(p, 0777) && errno != EEXIST) {
                rc = -1;
                break;
            }
            *s = keep;
            if (!keep)
                break;
        }
    }
    free(p);
    struct stat st;
    return rc == 0 && stat(dir, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
}

static void remove_tmp(char *dir, char *archive)
{
    if (archive)
        unlink(archive);
    if (dir)
        rmdir(dir);
}

static char *join_path(const char *dir, const char *name)
{
    size_t n = strlen(dir);
    return smneo__aprintf("%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", name);
}

/* ---- building the request ---------------------------------------------------------- */

static int jkey(smneo_jsonw *w, const char *k) { return smneo_jsonw_key(w, k, strlen(k)); }
static int jstring(smneo_jsonw *w, const char *k, const char *v)
{
    return jkey(w, k) || smneo_jsonw_string(w, v, strlen(v));
}

static int build_params(char **out, size_t *out_len, cx *x, const char *job, const char *input_uri,
                        const char *output_uri)
{
    const smneo_compile_options *o = x->o;
    smneo_jsonw *w = NULL;
    int bad = smneo_jsonw_new(&w);
    bad = bad || smneo_jsonw_begin_object(w) || jstring(w, "CompilationJobName", job) ||
          jstring(w, "RoleArn", o->role_arn);
    if (o->model_package_version_arn) {
        bad = bad || jstring(w, "ModelPackageVersionArn", o->model_package_version_arn);
    } else {
        bad = bad || jkey(w, "InputConfig") || smneo_jsonw_begin_object(w) || jstring(w, "S3Uri", input_uri);
        if (o->data_input_config)
            bad = bad || jstring(w, "DataInputConfig", o->data_input_config);
        bad = bad || jstring(w, "Framework", o->framework);
        if (o->framework_version)
            bad = bad || jstring(w, "FrameworkVersion", o->framework_version);
        bad = bad || smneo_jsonw_end_object(w);
    }
    bad = bad || jkey(w, "OutputConfig") || smneo_jsonw_begin_object(w) ||
          jstring(w, "S3OutputLocation", output_uri);
    if (o->target_device) {
        bad = bad || jstring(w, "TargetDevice", o->target_device);
    } else {
        bad = bad || jkey(w, "TargetPlatform") || smneo_jsonw_begin_object(w) || jstring(w, "Os", o->target_os) ||
              jstring(w, "Arch", o->target_arch);
        if (o->target_accelerator)
            bad = bad || jstring(w, "Accelerator", o->target_accelerator);
        bad = bad || smneo_jsonw_end_object(w);
    }
    if (o->compiler_options)
        bad = bad || jstring(w, "CompilerOptions", o->compiler_options);
    if (o->kms_key_id)
        bad = bad || jstring(w, "KmsKeyId", o->kms_key_id);
    bad = bad || smneo_jsonw_end_object(w);
    if (o->vpc_config_json)
        bad = bad || jkey(w, "VpcConfig") || smneo_jsonw_raw(w, o->vpc_config_json, strlen(o->vpc_config_json));
    bad = bad || jkey(w, "StoppingCondition") || smneo_jsonw_begin_object(w) ||
          jkey(w, "MaxRuntimeInSeconds") ||
          smneo_jsonw_int(w, o->max_runtime_seconds > 0 ? o->max_runtime_seconds : DEFAULT_MAX_RUNTIME);
    if (o->max_wait_seconds > 0)
        bad = bad || jkey(w, "MaxWaitTimeInSeconds") || smneo_jsonw_int(w, o->max_wait_seconds);
    if (o->max_pending_seconds > 0)
        bad = bad || jkey(w, "MaxPendingTimeInSeconds") || smneo_jsonw_int(w, o->max_pending_seconds);
    bad = bad || smneo_jsonw_end_object(w);
    if (o->tags_json)
        bad = bad || jkey(w, "Tags") || smneo_jsonw_raw(w, o->tags_json, strlen(o->tags_json));
    bad = bad || smneo_jsonw_end_object(w);
    if (bad) {
        smneo_jsonw_free(w);
        return SMNEO_ENOMEM;
    }
    size_t len;
    const char *json = smneo_jsonw_data(&len, w);
    *out = smneo__strndup(json, len);
    *out_len = len;
    smneo_jsonw_free(w);
    return *out ? 0 : SMNEO_ENOMEM;
}

/* ---- steps -------------------------------------------------------------------------- */

static int check_options(cx *x)
{
    const smneo_compile_options *o = x->o;
    if (o->version < 1 || o->version > SMNEO_COMPILE_OPTIONS_VERSION)
        return fail(x, SMNEO_EINVAL, "options", "smneo_compile_options.version is %d: initialise the options "
                    "with SMNEO_COMPILE_OPTIONS_INIT", o->version);
    if (o->model_package_version_arn) {
        if (o->model || o->framework || o->data_input_config || o->framework_version)
            return fail(x, SMNEO_EINVAL, "options", "give either model_package_version_arn (the model package "
                        "holds the model and its framework) or model and framework, not both");
    }
    static const struct {
        size_t off;
        const char *name, *hint;
    } required[] = {
        {offsetof(smneo_compile_options, model), "model", "a model directory or a .tar.gz archive"},
        {offsetof(smneo_compile_options, framework), "framework", "e.g. \"PYTORCH\""},
        {offsetof(smneo_compile_options, role_arn), "role_arn", "the IAM role SageMaker assumes"},
    };
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        if (o->model_package_version_arn && i < 2)
            continue; /* model and framework come from the model package */
        const char *v = *(const char *const *)((const char *)o + required[i].off);
        if (!v || !*v)
            return fail(x, SMNEO_EINVAL, "options", "%s is required: give %s", required[i].name, required[i].hint);
    }
    int platform = o->target_os || o->target_arch || o->target_accelerator;
    if (o->target_device && platform)
        return fail(x, SMNEO_EINVAL, "options", "give either target_device or target_os/target_arch "
                    "(TargetPlatform), not both");
    if (!o->target_device && !platform)
        return fail(x, SMNEO_EINVAL, "options", "no target: give target_device (e.g. \"ml_c5\") or target_os "
                    "and target_arch (e.g. \"LINUX\" and \"ARM64\")");
    if (platform && (!o->target_os || !o->target_arch))
        return fail(x, SMNEO_EINVAL, "options", "a TargetPlatform needs both target_os and target_arch "
                    "(e.g. \"LINUX\" and \"ARM64\")");
    if (o->timeout < 0 || o->delay < 0 || o->max_delay < 0 || o->max_runtime_seconds < 0 ||
        o->max_wait_seconds < 0 || o->max_pending_seconds < 0)
        return fail(x, SMNEO_EINVAL, "options", "timeout, delay, max_delay, max_runtime_seconds, "
                    "max_wait_seconds and max_pending_seconds must not be negative");
    if (o->vpc_config_json) {
        cJSON *v = cJSON_Parse(o->vpc_config_json);
        int ok = cJSON_IsObject(v);
        cJSON_Delete(v);
        if (!ok)
            return fail(x, SMNEO_EINVAL, "options", "vpc_config_json must be a JSON object such as "
                        "{\"SecurityGroupIds\": [\"sg-0123\"], \"Subnets\": [\"subnet-0123\"]}");
    }
    if (o->tags_json) {
        cJSON *t = cJSON_Parse(o->tags_json);
        int ok = cJSON_IsArray(t);
        cJSON_Delete(t);
        if (!ok)
            return fail(x, SMNEO_EINVAL, "options", "tags_json must be a JSON list such as "
                        "[{\"Key\": \"team\", \"Value\": \"ml\"}]");
    }
    if (o->s3_bucket && strchr(o->s3_bucket, '/'))
        return fail(x, SMNEO_EINVAL, "options", "s3_bucket \"%s\" contains '/': give the bucket name only and "
                    "the rest as s3_prefix", o->s3_bucket);
    return 0;
}

/* The layout check: errors stop the flow, warnings go to the result. */
static int check_layout(cx *x, const char *archive)
{
    const smneo_compile_options *o = x->o;
    smneo_inspect_options io = SMNEO_INSPECT_OPTIONS_INIT;
    io.framework = o->framework;
    io.target = o->target_device;
    /* What the check needs of CompilerOptions (class_labels) comes from the
     * validator's reading; text it cannot take that from (a JSON string of
     * Neuron flags for ml_inf1, or what does not parse) is the validation's
     * business, next: the check goes on without it and says so. */
    char *labels = NULL;
    if (o->compiler_options && *o->compiler_options) {
        int co = smneo__compiler_options_class_labels(o->compiler_options, &labels);
        if (co == SMNEO__CO_NOMEM)
            return fail(x, SMNEO_ENOMEM, "inspect", "out of memory");
        if (co != SMNEO__CO_OK)
            warn(x, "OutputConfig.CompilerOptions", "compile.layout-check-skipped",
                 co == SMNEO__CO_NOT_OBJECT
                     ? "CompilerOptions left out of the model layout check: not a JSON object, so it names no "
                       "class_labels"
                     : "CompilerOptions left out of the model layout check: class_labels is not a file name string");
    }
    smneo_artifact_inspection *in = NULL;
    int rc = smneo__artifact_inspect(&in, archive, &io, labels, &x->e);
    /* A framework newer than the checker's table: validation judges it. */
    if (rc == SMNEO_EINVAL && io.framework) {
        char *msg = smneo__aprintf("the framework left out of the model layout check: %s",
                                   x->e.message ? x->e.message : "not understood");
        smneo_error_clear(&x->e);
        warn(x, "InputConfig.Framework", "compile.layout-check-skipped", msg ? msg : "layout check skipped");
        free(msg);
        io.framework = NULL;
        rc = smneo__artifact_inspect(&in, archive, &io, labels, &x->e);
    }
    free(labels);
    if (rc)
        return fail_step(x, "inspect", rc);
    const smneo_issues *is = smneo_artifact_inspection_issues(in);
    size_t nerr = smneo_issues_error_count(is);
    if (nerr) {
        smneo_issues *copy = NULL;
        const smneo_issue *first = NULL;
        if (smneo_issues_new(&copy) == 0) {
            for (size_t i = 0; i < smneo_issues_count(is); i++) {
                const smneo_issue *it = smneo_issues_at(is, i);
                smneo_issues_add(copy, it->severity, it->path, it->rule, "%s", it->message);
                if (!first && it->severity == SMNEO_SEVERITY_ERROR)
                    first = it;
            }
        }
        fail(x, SMNEO_EVALIDATION, "inspect",
             "the model archive does not have the layout %s needs (%zu problem%s; nothing was uploaded); first: "
             "%s%s%s",
             o->framework, nerr, nerr == 1 ? "" : "s", first && *first->path ? first->path : "",
             first && *first->path ? ": " : "", first ? first->message : "");
        x->e.issues = copy;
        if (first)
            x->e.field = smneo__strdup(first->path);
        smneo_artifact_inspection_free(in);
        return SMNEO_EVALIDATION;
    }
    for (size_t i = 0; i < smneo_issues_count(is); i++) {
        const smneo_issue *it = smneo_issues_at(is, i);
        char *msg = smneo__aprintf("model archive%s%s: %s", *it->path ? " member " : "", it->path, it->message);
        warn(x, it->path, it->rule, msg ? msg : it->message);
        free(msg);
    }
    smneo_artifact_inspection_free(in);
    return is_cancelled(x) ? cancelled(x, "inspect") : 0;
}

/* Warnings of the request (errors are the client's gate's business). */
static void collect_request_warnings(cx *x, const char *params, size_t len)
{
    smneo_issues *vi = NULL;
    if (smneo_validate(&vi, "CreateCompilationJob", params, len, NULL, NULL)) {
        smneo_issues_free(vi);
        return;
    }
    for (size_t i = 0; i < smneo_issues_count(vi); i++) {
        const smneo_issue *it = smneo_issues_at(vi, i);
        /* An error that got here passed the client's gate (validation WARN/OFF). */
        char *msg = smneo__aprintf("CreateCompilationJob %s%s%s", *it->path ? it->path : "(root)", ": ",
                                   it->message);
        warn(x, it->path, it->rule, msg ? msg : it->message);
        free(msg);
    }
    smneo_issues_free(vi);
}

typedef struct progress_ctx {
    cx *x;
    smneo_compile_event_kind kind;
} progress_ctx;

static int on_progress(uint64_t done, uint64_t total, void *payload)
{
    progress_ctx *p = payload;
    return emit(p->x, p->kind, NULL, done, total, NULL);
}

/* The upload-skip: the object is there with the archive's digest. */
static int already_there(const char *blake2b, const char *digest)
{
    return blake2b && strcasecmp(blake2b, digest) == 0;
}

static void emit_already_there(cx *x, const char *uri)
{
    char *msg = smneo__aprintf("%s (already there)", uri);
    emit(x, SMNEO_COMPILE_EVENT_UPLOADED, msg ? msg : uri, 0, 0, NULL);
    free(msg);
}

static void upload_options(cx *x, smneo_s3_options *so, const char *digest)
{
    smneo_s3_options init = SMNEO_S3_OPTIONS_INIT;
    *so = init;
    so->content_digest = digest;
    so->sse_kms_key_id = x->o->kms_key_id;
}

/* The upload's end: its code (UPLOADED reported after a success). */
static int upload_end(cx *x, const char *uri, int rc)
{
    if (rc)
        return fail_step(x, "upload", rc);
    emit(x, SMNEO_COMPILE_EVENT_UPLOADED, uri, 0, 0, NULL);
    return is_cancelled(x) ? cancelled(x, "upload") : 0;
}

static int upload(cx *x, const char *archive, const char *digest, const char *uri)
{
    smneo_s3_object obj;
    memset(&obj, 0, sizeof obj);
    int rc = smneo_s3_head(&obj, x->c, uri, &x->e);
    if (rc == 0) {
        int there = already_there(obj.blake2b, digest);
        smneo_s3_object_clear(&obj);
        if (there) {
            emit_already_there(x, uri);
            return is_cancelled(x) ? cancelled(x, "upload") : 0;
        }
    } else if (rc != SMNEO_ENOTFOUND) {
        return fail_step(x, "upload", rc);
    }
    smneo_error_clear(&x->e);
    progress_ctx pc = {x, SMNEO_COMPILE_EVENT_UPLOAD};
    smneo_s3_options so;
    upload_options(x, &so, digest);
    so.progress = on_progress;
    so.payload = &pc;
    return upload_end(x, uri, smneo_s3_upload(x->c, archive, uri, &so, &x->e));
}

/* ---- create, wait, stop: what the step machine does with its sub-machines --------- */

/* A create sent more than once (a lost answer retried, or libcurl's own
 * resend on a dead keep-alive connection) that meets ResourceInUse for the
 * job its first copy made is recognised by the call machine itself
 * (client_create.c): it answers with the job's ARN. */
static int create_done(cx *x, smneo_call *call, const char *job)
{
    smneo_result *res = NULL;
    int rc = smneo_call_result(&res, call, &x->e);
    smneo_result_free(res);
    if (rc == SMNEO_ECANCELLED)
        return cancelled(x, "create");
    if (rc)
        return fail_step(x, "create", rc);
    emit(x, SMNEO_COMPILE_EVENT_CREATED, job, 0, 0, NULL);
    return 0;
}

/* After a cancel or a timeout: 1 when the job is to be stopped (STOPPING
 * reported); 0 when its last status is final or keep_job_on_cancel (the
 * error message then says so). */
static int stop_begin(cx *x, const char *job)
{
    static const char *const over[] = {"COMPLETED", "FAILED", "STOPPING", "STOPPED"};
    for (size_t i = 0; i < sizeof over / sizeof over[0]; i++)
        if (!strcmp(x->status, over[i]))
            return 0; /* nothing left to stop */
    if (x->o->keep_job_on_cancel) {
        char *old = x->e.message;
        x->e.message = smneo__aprintf("%s; compilation job %s was left running (keep_job_on_cancel)",
                                      old ? old : "", job);
        free(old);
        return 0;
    }
    emit(x, SMNEO_COMPILE_EVENT_STOPPING, job, 0, 0, NULL);
    return 1;
}

/* The StopCompilationJob's outcome (rc, se), said in the error message. */
static void stop_end(cx *x, const char *job, int rc, const smneo_error *se)
{
    char *old = x->e.message;
    if (rc)
        x->e.message = smneo__aprintf("%s; stopping compilation job %s failed (%s): stop it with "
                                      "StopCompilationJob", old ? old : "", job, se->message ? se->message : "");
    else
        x->e.message = smneo__aprintf("%s; compilation job %s is being stopped", old ? old : "", job);
    free(old);
}

static int wait_plain_new(cx *x, smneo_call **w, const char *job)
{
    const smneo_compile_options *o = x->o;
    smneo_wait_options wo = SMNEO_WAIT_OPTIONS_INIT;
    wo.delay = o->delay;
    wo.max_delay = o->max_delay;
    wo.timeout = o->timeout;
    int rc = smneo_wait_new(w, x->c, job, &wo, &x->e);
    return rc ? fail_step(x, "wait", rc) : 0;
}

static void wait_plain_status(cx *x, smneo_call *w)
{
    smneo_value root;
    smneo_result_root(&root, smneo_call_page(w));
    const char *status = vstr(&root, "CompilationJobStatus", NULL, NULL);
    snprintf(x->status, sizeof x->status, "%s", status ? status : "");
    if (emit(x, SMNEO_COMPILE_EVENT_STATUS, x->status, 0, 0, &root))
        smneo_call_cancel(w);
}

/* The waiter's end: 0 or the error. *stop: a cancel or the timeout: stop
 * the job, then fail_step(x, "wait", rc). */
static int wait_plain_done(cx *x, smneo_call *w, const char *job, int *stop)
{
    *stop = 0;
    int rc = smneo_call_result(&x->r->job, w, &x->e);
    if (rc == SMNEO_EJOBFAILED) {
        char *reason = x->e.message;
        x->e.message = smneo__aprintf("compilation job %s failed: %s", job, reason ? reason : "");
        free(reason);
        return fail_step(x, "wait", rc);
    }
    if (rc == SMNEO_EJOBSTOPPED)
        return fail(x, rc, "wait", "compilation job %s was stopped", job);
    if (rc == SMNEO_ECANCELLED || rc == SMNEO_EWAITTIMEOUT) {
        if (rc == SMNEO_ECANCELLED)
            smneo__error(&x->e, rc, "cancelled by the callback while waiting for compilation job %s", job);
        *stop = 1;
        return rc;
    }
    return rc ? fail_step(x, "wait", rc) : 0;
}

/* follow_logs: the job-log reader in follow mode is the waiter (it polls
 * the job's status with the same backoff); its lines become LOG events. A
 * reader that ends before the job (the log refused) leaves the rest of the
 * wait to the plain waiter. */
static int wait_logs_new(cx *x, smneo_joblogs **l, const char *job, int64_t *deadline)
{
    const smneo_compile_options *o = x->o;
    smneo_joblogs_options lo = SMNEO_JOBLOGS_OPTIONS_INIT;
    lo.follow = 1;
    lo.delay = o->delay;
    lo.max_delay = o->max_delay;
    int rc = smneo_joblogs_new(l, x->c, job, &lo, &x->e);
    if (rc)
        return fail_step(x, "wait", rc);
    *deadline = o->timeout > 0 ? smneo__monotonic_ms() + (int64_t)(o->timeout * 1000) : 0;
    return 0;
}

static void wait_logs_event(cx *x, smneo_joblogs *l, smneo_event_kind event)
{
    if (event == SMNEO_EVENT_LOG) {
        smneo_log_event ev;
        if (smneo_joblogs_event(&ev, l) == 0 &&
            emit(x, SMNEO_COMPILE_EVENT_LOG, ev.message, (uint64_t)(ev.timestamp > 0 ? ev.timestamp : 0), 0, NULL))
            smneo_joblogs_cancel(l);
    } else if (event == SMNEO_EVENT_WARNING) {
        warn(x, "logs", "logs.unreadable", smneo_joblogs_warning(l));
    } else if (event == SMNEO_EVENT_STATUS) {
        smneo_value root;
        smneo_result_root(&root, smneo_joblogs_description(l));
        snprintf(x->status, sizeof x->status, "%s", smneo_joblogs_status(l));
        if (emit(x, SMNEO_COMPILE_EVENT_STATUS, x->status, 0, 0, &root))
            smneo_joblogs_cancel(l);
    }
}

/* The reader's end, as wait_plain_done; *plain: the log ended early (refused):
 * wait without it. */
static int wait_logs_done(cx *x, smneo_joblogs *l, const char *job, int timed_out, int *stop, int *plain)
{
    *stop = *plain = 0;
    int rc = smneo_joblogs_result(l, &x->e);
    smneo_result *desc = smneo__joblogs_take_description(l);
    const char *status = x->status;
    if (rc == SMNEO_ECANCELLED || rc == SMNEO_EWAITTIMEOUT || timed_out) {
        smneo_result_free(desc);
        smneo_error_clear(&x->e);
        if (timed_out && !is_cancelled(x)) {
            smneo__error(&x->e, SMNEO_EWAITTIMEOUT,
                         "the compilation job did not finish within the waiter's timeout (last status %s)",
                         *status ? status : "unknown");
            rc = SMNEO_EWAITTIMEOUT;
        } else {
            smneo__error(&x->e, SMNEO_ECANCELLED, "cancelled by the callback while waiting for compilation job %s",
                         job);
            rc = SMNEO_ECANCELLED;
        }
        *stop = 1;
        return rc;
    }
    if (rc) {
        smneo_result_free(desc);
        return fail_step(x, "wait", rc);
    }
    if (!desc || (strcmp(status, "COMPLETED") && strcmp(status, "FAILED") && strcmp(status, "STOPPED"))) {
        smneo_result_free(desc);
        *plain = 1;
        return 0;
    }
    x->r->job = desc;
    if (!strcmp(status, "FAILED")) {
        smneo_value root, reason;
        smneo_result_root(&root, desc);
        const char *why = smneo_value_get(&reason, &root, "FailureReason") == 0 ? smneo_value_string(&reason) : NULL;
        return fail(x, SMNEO_EJOBFAILED, "wait", "compilation job %s failed: %s", job,
                    why && *why ? why : "the compilation job failed");
    }
    if (!strcmp(status, "STOPPED"))
        return fail(x, SMNEO_EJOBSTOPPED, "wait", "compilation job %s was stopped", job);
    return 0;
}

/* FAILED: the log's last lines (best-effort: what cannot be read is a
 * warning) and the diagnosis made of the description and those lines. */
static void explain_failure(cx *x, const char *job)
{
    smneo_joblogs_options lo = SMNEO_JOBLOGS_OPTIONS_INIT;
    lo.tail = FAILED_LOG_LINES;
    smneo_joblogs *l = NULL;
    smneo_error le = SMNEO_ERROR_INIT;
    if (smneo_joblogs_new(&l, x->c, job, &lo, &le) == 0) {
        smneo_log_event ev;
        int rc;
        while ((rc = smneo_joblogs_next(&ev, l, &le)) == 0) {
            smneo_log_event *grown = realloc(x->r->log, (x->r->n_log + 1) * sizeof *grown);
            if (!grown)
                break;
            x->r->log = grown;
            smneo_log_event *e = &grown[x->r->n_log];
            *e = ev;
            e->message = smneo__strdup(ev.message);
            e->stream = smneo__strdup(ev.stream);
            if (!e->message || !e->stream) {
                free((char *)e->message);
                free((char *)e->stream);
                break;
            }
            x->r->n_log++;
        }
        for (size_t i = 0; i < smneo_joblogs_warning_count(l); i++)
            warn(x, "logs", "logs.unreadable", smneo_joblogs_warning_at(l, i));
        if (rc != SMNEO_ITEROVER && rc != 0) {
            char *m = smneo__aprintf("the job's log could not be read: %s", le.message ? le.message : smneo_strerror(rc));
            if (m)
                warn(x, "logs", "logs.unreadable", m);
            free(m);
        }
        smneo_joblogs_free(l);
    }
    smneo_error_clear(&le);
    char *json = NULL;
    smneo_value root;
    smneo_result_root(&root, x->r->job);
    if (smneo_value_to_json(&json, &root) != 0)
        return;
    const char **lines = x->r->n_log ? malloc(x->r->n_log * sizeof *lines) : NULL;
    for (size_t i = 0; lines && i < x->r->n_log; i++)
        lines[i] = x->r->log[i].message;
    smneo_explain(&x->r->diagnosis, json, strlen(json), lines, NULL, lines ? x->r->n_log : 0, NULL);
    free(lines);
    free(json);
}

void smneo__cjob_explain(smneo__cjob *j)
{
    if (j->x.r->job && !j->x.r->diagnosis)
        explain_failure(&j->x, j->x.r->job_name);
}

static int download_and_verify(cx *x, const char *job, const char *output_dir)
{
    smneo_value root;
    smneo_result_root(&root, x->r->job);
    const char *uri = vstr(&root, "ModelArtifacts", "S3ModelArtifacts", NULL);
    const char *out_loc = vstr(&root, "OutputConfig", "S3OutputLocation", NULL);
    if (!uri || !*uri)
        return fail(x, SMNEO_ENOTFOUND, "download", "compiled artifact not found at %s: the job's description "
                    "has no ModelArtifacts.S3ModelArtifacts", out_loc ? out_loc : "(no S3OutputLocation)");
    char *bucket = NULL, *key = NULL;
    int rc = smneo_s3_parse_uri(&bucket, &key, uri, &x->e);
    if (rc)
        return fail_step(x, "download", rc);
    const char *slash = strrchr(key, '/');
    const char *base = slash ? slash + 1 : key;
    char *fallback = NULL;
    if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
        base = fallback = smneo__aprintf("%s.tar.gz", job);
    if (mkdir_p(output_dir)) {
        int en = errno;
        free(bucket);
        free(key);
        free(fallback);
        return fail(x, SMNEO_EIO, "download", "cannot create output_dir \"%s\": %s", output_dir, strerror(en));
    }
    char *path = base ? join_path(output_dir, base) : NULL;
    free(bucket);
    free(key);
    free(fallback);
    if (!path)
        return fail(x, SMNEO_ENOMEM, "download", "out of memory");
    progress_ctx pc = {x, SMNEO_COMPILE_EVENT_DOWNLOAD};
    smneo_s3_options so = SMNEO_S3_OPTIONS_INIT;
    so.progress = on_progress;
    so.payload = &pc;
    rc = smneo_s3_download(x->c, uri, path, &so, &x->e);
    if (rc == SMNEO_ENOTFOUND) {
        free(path);
        return fail(x, rc, "download", "compiled artifact not found at %s (the job is COMPLETED but the object "
                    "does not exist)", uri);
    }
    if (rc) {
        free(path);
        return rc == SMNEO_ECANCELLED ? cancelled(x, "download") : fail_step(x, "download", rc);
    }

    const char *digest = vstr(&root, "ModelDigests", "ArtifactDigest", NULL);
    if (!digest || !*digest) {
        warn(x, "ModelDigests.ArtifactDigest", "compile.digest-missing",
             "the job reports no ModelDigests.ArtifactDigest: the compiled artifact was not verified");
    } else {
        rc = smneo_artifact_verify(path, digest, NULL, &x->e);
        if (rc == SMNEO_EDIGEST) {
            char *rejected = smneo__aprintf("%s.rejected", path);
            int moved = rejected && rename(path, rejected) == 0;
            if (!moved)
                unlink(path);
            char *detail = x->e.message;
            x->e.message = NULL;
            fail(x, rc, "verify", "the compiled artifact downloaded from %s does not match the job's "
                 "ModelDigests.ArtifactDigest (%s); %s%s", uri, detail ? detail : "",
                 moved ? "kept for inspection as " : "removed", moved ? rejected : "");
            free(detail);
            free(rejected);
            free(path);
            return rc;
        }
        if (rc == SMNEO_EINVAL) {
            char *msg = smneo__aprintf("the compiled artifact was not verified: ModelDigests.ArtifactDigest \"%.140s\" "
                                       "is in a form smneo cannot interpret (%s)",
                                       digest, x->e.message ? x->e.message : "");
            smneo_error_clear(&x->e);
            warn(x, "ModelDigests.ArtifactDigest", "compile.digest-form", msg ? msg : "digest not interpreted");
            free(msg);
        } else if (rc) {
            free(path);
            return fail_step(x, "verify", rc);
        } else {
            x->r->digest_verified = 1;
            emit(x, SMNEO_COMPILE_EVENT_VERIFIED, digest, 0, 0, NULL);
        }
    }
    x->r->artifact_path = path;
    if (is_cancelled(x))
        return cancelled(x, "verify");

    if (x->o->extract) {
        char *dest = join_path(output_dir, job);
        if (!dest)
            return fail(x, SMNEO_ENOMEM, "extract", "out of memory");
        struct stat st;
        if (lstat(dest, &st) == 0) {
            rc = fail(x, SMNEO_EINVAL, "extract", "%s exists already: the compiled archive is extracted into a "
                      "new directory; move it away or choose another output_dir", dest);
            free(dest);
            return rc;
        }
        smneo_extract_options eo = SMNEO_EXTRACT_OPTIONS_INIT;
        rc = smneo_artifact_extract(path, dest, &eo, &x->e);
        if (rc) {
            free(dest);
            return fail_step(x, "extract", rc);
        }
        x->r->extracted_dir = dest;
    }
    return 0;
}

/* ---- one job (smneo_compile here, many in compile_many.c) ----------------------- */

smneo__cjob *smneo__cjob_new(smneo_client *c, const smneo_compile_options *o)
{
    smneo__cjob *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    /* An older struct ends before the members of the later versions: copy what it has. */
    smneo_compile_options full;
    if (smneo__options_copy(&full, o, &smneo__compile_options_layout, NULL))
        full.version = o->version; /* refused by check_options, naming the job */
    j->o = full;
    j->x.c = c;
    j->x.o = &j->o;
    j->x.start_ms = smneo__monotonic_ms();
    j->x.r = calloc(1, sizeof *j->x.r);
    if (!j->x.r || smneo_issues_new(&j->x.r->issues)) {
        free(j->x.r);
        free(j);
        return NULL;
    }
    return j;
}

void smneo__cjob_free(smneo__cjob *j)
{
    if (!j)
        return;
    remove_tmp(j->tmpdir, j->archive_tmp);
    free(j->tmpdir);
    free(j->archive_tmp);
    free(j->digest);
    free(j->prefix);
    free(j->output_uri);
    free(j->params);
    free(j->default_bucket);
    smneo_call_free(j->create_call);
    smneo_compile_result_free(j->x.r);
    smneo_error_clear(&j->x.e);
    free(j);
}

/* The archive: packed from a directory or digested as is; or the one of
 * `same`, a job of the same model prepared before. */
static int prepare_archive(smneo__cjob *j, const smneo__cjob *same)
{
    cx *x = &j->x;
    const smneo_compile_options *o = x->o;
    if (same && same->archive && same->digest) {
        j->archive = same->archive;
        j->digest = smneo__strdup(same->digest);
        return j->digest ? 0 : fail(x, SMNEO_ENOMEM, "pack", "out of memory");
    }
    progress_ctx pack_progress = {x, SMNEO_COMPILE_EVENT_PACK};
    struct stat st;
    if (stat(o->model, &st))
        return fail(x, errno == ENOENT ? SMNEO_EINVAL : SMNEO_EIO, "pack", "cannot read model \"%s\": %s",
                    o->model, strerror(errno));
    int rc;
    if (S_ISDIR(st.st_mode)) {
        const char *t = smneo__getenv("TMPDIR");
        j->tmpdir = smneo__aprintf("%s/smneo-compile-XXXXXX", t ? t : "/tmp");
        if (!j->tmpdir || !mkdtemp(j->tmpdir)) {
            rc = fail(x, SMNEO_EIO, "pack", "cannot make a temporary directory for the archive: %s",
                      strerror(errno));
            free(j->tmpdir);
            j->tmpdir = NULL;
            return rc;
        }
        j->archive_tmp = join_path(j->tmpdir, "model.tar.gz");
        smneo_artifact_pack_result *pr = NULL;
        smneo_pack_options po = SMNEO_PACK_OPTIONS_INIT;
        po.progress = on_progress;
        po.payload = &pack_progress;
        rc = j->archive_tmp ? smneo_artifact_pack(&pr, o->model, j->archive_tmp, &po, &x->e) : SMNEO_ENOMEM;
        if (rc)
            return rc == SMNEO_ECANCELLED ? cancelled(x, "pack") : fail_step(x, "pack", rc);
        j->digest = smneo__strdup(smneo_artifact_pack_result_digest(pr));
        smneo_artifact_pack_result_free(pr);
        j->archive = j->archive_tmp;
        if (emit(x, SMNEO_COMPILE_EVENT_PACKED, j->archive, 0, 0, NULL))
            return cancelled(x, "pack");
    } else if (S_ISREG(st.st_mode)) {
        j->archive = o->model;
        smneo_digest_options dop = SMNEO_DIGEST_OPTIONS_INIT;
        dop.progress = on_progress;
        dop.payload = &pack_progress;
        rc = smneo_artifact_digest(&j->digest, j->archive, "blake2b", &dop, &x->e);
        if (rc)
            return rc == SMNEO_ECANCELLED ? cancelled(x, "digest") : fail_step(x, "digest", rc);
    } else {
        return fail(x, SMNEO_EINVAL, "pack", "model \"%s\" is neither a directory nor a .tar.gz file", o->model);
    }
    return j->digest ? 0 : fail(x, SMNEO_ENOMEM, "pack", "out of memory");
}

int smneo__cjob_prepare(smneo__cjob *j, const smneo__cjob *same, const char *job_name)
{
    cx *x = &j->x;
    const smneo_compile_options *o = x->o;
    int rc = check_options(x);
    if (!rc && (!o->s3_bucket || !*o->s3_bucket)) /* the machines find the default bucket first */
        return fail(x, SMNEO_EINVAL, "bucket", "no bucket: the default bucket was not found first");
    if (!rc && !o->model_package_version_arn)
        rc = prepare_archive(j, same);
    if (!rc && !o->model_package_version_arn)
        rc = check_layout(x, j->archive);
    if (rc)
        return rc;

    /* names and the validated request */
    if (job_name) {
        x->r->job_name = smneo__strdup(job_name);
    } else {
        char *base = o->job_name            ? smneo__strdup(o->job_name)
                     : o->model                ? model_base_name(o->model)
                                               : package_base_name(o->model_package_version_arn);
        x->r->job_name = smneo__compile_job_name(base, smneo__now(), random16());
        free(base);
    }
    const char *pp = o->s3_prefix ? o->s3_prefix : "smneo";
    while (*pp == '/')
        pp++;
    size_t pl = strlen(pp);
    while (pl && pp[pl - 1] == '/')
        pl--;
    j->prefix = pl ? smneo__aprintf("%.*s/", (int)pl, pp) : smneo__strdup("");
    if (!x->r->job_name || !j->prefix)
        return fail(x, SMNEO_ENOMEM, "create", "out of memory");
    const char *job = x->r->job_name;
    if (j->digest)
        x->r->input_uri = smneo__aprintf("s3://%s/%s%.16s/model.tar.gz", o->s3_bucket, j->prefix, j->digest);
    j->output_uri = smneo__aprintf("s3://%s/%s%s/output", o->s3_bucket, j->prefix, job);
    if ((j->digest && !x->r->input_uri) || !j->output_uri ||
        build_params(&j->params, &j->params_len, x, job, x->r->input_uri, j->output_uri))
        return fail(x, SMNEO_ENOMEM, "create", "out of memory");
    rc = smneo_call_new(&j->create_call, x->c, "CreateCompilationJob", j->params, j->params_len, &x->e);
    if (rc)
        return fail_step(x, "validate", rc);
    collect_request_warnings(x, j->params, j->params_len);
    return is_cancelled(x) ? cancelled(x, "validate") : 0;
}

int smneo__cjob_upload(smneo__cjob *j, const smneo__cjob *same)
{
    if (!j->archive)
        return 0; /* a model package: nothing to upload */
    if (same && same->uploaded && !strcmp(same->x.r->input_uri, j->x.r->input_uri)) {
        emit_already_there(&j->x, j->x.r->input_uri);
        j->uploaded = 1;
        return j->x.cancelled ? cancelled(&j->x, "upload") : 0;
    }
    int rc = upload(&j->x, j->archive, j->digest, j->x.r->input_uri);
    j->uploaded = rc == 0;
    return rc;
}

int smneo__cjob_emit(smneo__cjob *j, smneo_compile_event_kind kind, const char *msg, const smneo_value *desc)
{
    return emit(&j->x, kind, msg, 0, 0, desc);
}

int smneo__cjob_log_event(smneo__cjob *j, smneo_joblogs *l, smneo_event_kind event)
{
    wait_logs_event(&j->x, l, event);
    return is_cancelled(&j->x);
}

int smneo__cjob_fail(smneo__cjob *j, int rc, const char *step, const char *message)
{
    return fail(&j->x, rc, step, "%s", message);
}

int smneo__cjob_fail_step(smneo__cjob *j, const char *step, int rc)
{
    return fail_step(&j->x, step, rc);
}

int smneo__cjob_finish(smneo__cjob *j, const char *output_dir)
{
    return download_and_verify(&j->x, j->x.r->job_name, output_dir && *output_dir ? output_dir : ".");
}

int smneo__cjob_stop_begin(smneo__cjob *j)
{
    return stop_begin(&j->x, j->x.r->job_name);
}

void smneo__cjob_stop_end(smneo__cjob *j, int rc, const smneo_error *se)
{
    stop_end(&j->x, j->x.r->job_name, rc, se);
}

smneo_compile_result *smneo__cjob_take_result(smneo__cjob *j)
{
    smneo_compile_result *r = j->x.r;
    j->x.r = NULL;
    return r;
}

/* ---- the flow as a step machine ------------------------------------------------------ */

enum { M_PREPARE, M_BUCKET, M_UPLOAD, M_CREATE, M_WAIT, M_STOP, M_EXPLAIN, M_FINISH, M_DONE };

typedef struct smneo__cm {
    smneo__cjob *j;
    struct smneo__evq q;
    int state;
    int work_ready;      /* a WORK step was handed out */
    int work_ran;        /* ... and smneo_call_work ran it: work_rc */
    int work_rc;
    int rc;              /* M_DONE: the flow's code; M_STOP, M_EXPLAIN: the wait's */
    smneo_call *sub;     /* M_BUCKET, M_CREATE (j->create_call, not owned), M_WAIT without logs, M_STOP */
    smneo_joblogs *logs; /* M_WAIT with follow_logs */
    int slept;           /* the last step forwarded was a SLEEP: WAITING follows it */
    int sub_cancelled;
    int timed_out;
    int64_t deadline;
    evq_item cur;        /* the last EVENT step's event */
    char *strings[24];   /* the options' strings, copied (the caller's need not outlive the machine) */
    smneo_compile_result *res;
    int taken;           /* smneo_call_compile_result handed the outcome over */
    int transfer_steps;  /* smneo_call_set_transfer_steps: M_UPLOAD as the steps below, not WORK */
    smneo_s3_transfer *head; /* M_UPLOAD: the upload-skip's HeadObject, its SENDs forwarded */
    int head_id;         /* ... the id of its SEND in flight */
    smneo_s3_transfer *xfer; /* M_UPLOAD: the upload, handed out as TRANSFER steps */
} smneo__cm;

static void cm_finish(smneo__cm *m, int rc)
{
    cx *x = &m->j->x;
    m->rc = rc;
    m->state = M_DONE;
    if (rc == 0 || ((rc == SMNEO_EJOBFAILED || rc == SMNEO_EJOBSTOPPED) && x->r->job))
        m->res = smneo__cjob_take_result(m->j);
    if (rc && x->e.code != rc)
        x->e.code = rc;
    remove_tmp(m->j->tmpdir, m->j->archive_tmp);
}

static void cm_set_sub(smneo__cm *m, int state, smneo_call *sub, smneo_joblogs *logs)
{
    m->state = state;
    m->sub = sub;
    m->logs = logs;
    m->slept = m->sub_cancelled = 0;
}

static void cm_start_wait(smneo__cm *m, int with_logs)
{
    cx *x = &m->j->x;
    smneo_call *w = NULL;
    smneo_joblogs *l = NULL;
    int rc = with_logs ? wait_logs_new(x, &l, x->r->job_name, &m->deadline) : wait_plain_new(x, &w, x->r->job_name);
    if (rc)
        cm_finish(m, rc);
    else
        cm_set_sub(m, M_WAIT, w, l);
}

static void cm_after_wait(smneo__cm *m, int rc, int stop)
{
    cx *x = &m->j->x;
    const char *job = x->r->job_name;
    if (stop) {
        m->rc = rc;
        if (!stop_begin(x, job)) {
            cm_finish(m, fail_step(x, "wait", rc));
            return;
        }
        char *params = smneo__aprintf("{\"CompilationJobName\": \"%s\"}", job); /* [a-zA-Z0-9-] only */
        smneo_call *call = NULL;
        smneo_error se = SMNEO_ERROR_INIT;
        int src = params ? smneo_call_new(&call, x->c, "StopCompilationJob", params, strlen(params), &se)
                         : smneo__error(&se, SMNEO_ENOMEM, "out of memory");
        free(params);
        if (src) {
            stop_end(x, job, src, &se);
            smneo_error_clear(&se);
            cm_finish(m, fail_step(x, "wait", rc));
            return;
        }
        cm_set_sub(m, M_STOP, call, NULL);
        return;
    }
    if (rc == SMNEO_EJOBFAILED && x->r->job) {
        m->rc = rc;
        m->state = M_EXPLAIN;
        return;
    }
    if (rc)
        cm_finish(m, rc);
    else
        m->state = M_FINISH;
}

/* A sub-machine ended. */
static void cm_sub_done(smneo__cm *m)
{
    cx *x = &m->j->x;
    const char *job = x->r->job_name;
    int rc, stop = 0, plain = 0;
    switch (m->state) {
    case M_BUCKET: /* the default bucket: its name, found (or created) */
        rc = smneo__s3_bucket_result(&m->j->default_bucket, NULL, m->sub, &x->e);
        smneo_call_free(m->sub);
        m->sub = NULL;
        if (rc == SMNEO_ECANCELLED || (!rc && is_cancelled(x)))
            cm_finish(m, cancelled(x, x->o->model_package_version_arn ? "validate" : "pack"));
        else if (rc)
            cm_finish(m, fail_step(x, "bucket", rc));
        else {
            m->j->o.s3_bucket = m->j->default_bucket;
            m->state = M_PREPARE;
        }
        return;
    case M_CREATE:
        rc = create_done(x, m->sub, job);
        m->sub = NULL; /* the job's create_call */
        if (rc)
            cm_finish(m, rc);
        else
            cm_start_wait(m, x->o->follow_logs);
        return;
    case M_WAIT:
        if (m->logs) {
            rc = wait_logs_done(x, m->logs, job, m->timed_out, &stop, &plain);
            smneo_joblogs_free(m->logs);
            m->logs = NULL;
            if (plain) {
                cm_start_wait(m, 0);
                return;
            }
        } else {
            rc = wait_plain_done(x, m->sub, job, &stop);
            smneo_call_free(m->sub);
            m->sub = NULL;
        }
        cm_after_wait(m, rc, stop);
        return;
    case M_STOP: {
        smneo_error se = SMNEO_ERROR_INIT;
        rc = smneo_call_result(NULL, m->sub, &se);
        stop_end(x, job, rc, &se);
        smneo_error_clear(&se);
        smneo_call_free(m->sub);
        m->sub = NULL;
        cm_finish(m, fail_step(x, "wait", m->rc));
        return;
    }
    default:
        return;
    }
}

/* One step of the sub-machine: 1 with a SEND or SLEEP in *out to hand on,
 * 0 to go on (events queued, a state changed). */
static int cm_sub_step(smneo__cm *m, smneo_step *out)
{
    cx *x = &m->j->x;
    int cancellable = m->state != M_STOP;
    if (m->slept) {
        m->slept = 0;
        if (cancellable) {
            if (!is_cancelled(x))
                emit(x, SMNEO_COMPILE_EVENT_WAITING, x->status, 0, 0, NULL);
            if (m->deadline && smneo__monotonic_ms() >= m->deadline && m->logs) {
                m->timed_out = 1;
                smneo_joblogs_cancel(m->logs);
            }
            return 0; /* WAITING first (a cancel in answer to it is seen next) */
        }
    }
    if (cancellable && !m->sub_cancelled && is_cancelled(x)) {
        m->sub_cancelled = 1;
        if (m->logs)
            smneo_joblogs_cancel(m->logs);
        else
            smneo_call_cancel(m->sub);
    }
    smneo_step st;
    if (m->logs)
        smneo_joblogs_step(&st, m->logs);
    else
        smneo_call_next(&st, m->sub);
    switch (st.kind) {
    case SMNEO_STEP_SEND:
    case SMNEO_STEP_SLEEP:
        *out = st;
        m->slept = st.kind == SMNEO_STEP_SLEEP;
        return 1;
    case SMNEO_STEP_EVENT:
        if (m->state == M_WAIT) {
            if (m->logs)
                wait_logs_event(x, m->logs, st.event);
            else if (st.event == SMNEO_EVENT_STATUS)
                wait_plain_status(x, m->sub);
        }
        return 0;
    default:
        cm_sub_done(m);
        return 0;
    }
}

/* The WORK step of the current state: the flow's CPU-bound or blocking part. */
static void cm_work(void *impl)
{
    smneo__cm *m = impl;
    if (!m || !m->work_ready || m->work_ran)
        return;
    smneo__cjob *j = m->j;
    int rc = 0;
    switch (m->state) {
    case M_PREPARE: /* pack or digest, layout check, names, validation */
        rc = smneo__cjob_prepare(j, NULL, NULL);
        break;
    case M_UPLOAD:
        rc = smneo__cjob_upload(j, NULL);
        if (!rc)
            remove_tmp(j->tmpdir, j->archive_tmp);
        break;
    case M_EXPLAIN: /* the FAILED job's log tail and the diagnosis */
        explain_failure(&j->x, j->x.r->job_name);
        break;
    case M_FINISH: /* download, verify, extract */
        rc = smneo__cjob_finish(j, j->o.output_dir);
        break;
    default:
        break;
    }
    m->work_rc = rc;
    m->work_ran = 1;
}

/* The upload's end in M_UPLOAD (the WORK step's, or the transfer's). */
static void cm_uploaded(smneo__cm *m, int rc)
{
    cx *x = &m->j->x;
    if (!rc)
        remove_tmp(m->j->tmpdir, m->j->archive_tmp);
    if (!rc && is_cancelled(x))
        rc = cancelled(x, "upload");
    if (rc)
        cm_finish(m, rc);
    else
        cm_set_sub(m, M_CREATE, m->j->create_call, NULL);
}

static void cm_observe_upload(void *payload, uint64_t done, uint64_t total)
{
    emit(payload, SMNEO_COMPILE_EVENT_UPLOAD, NULL, done, total, NULL);
}

/* The HEAD answered: the upload is skipped, or it starts as a transfer. */
static void cm_head_done(smneo__cm *m)
{
    smneo__cjob *j = m->j;
    cx *x = &j->x;
    const char *uri = x->r->input_uri;
    int rc = smneo_s3_transfer_result(m->head, &x->e);
    int there = rc == 0 && already_there(smneo__s3_transfer_head_blake2b(m->head), j->digest);
    smneo_s3_transfer_free(m->head);
    m->head = NULL;
    if (rc == SMNEO_ECANCELLED) {
        smneo_error_clear(&x->e);
        cm_finish(m, cancelled(x, "upload"));
        return;
    }
    if (rc && rc != SMNEO_ENOTFOUND) {
        cm_finish(m, fail_step(x, "upload", rc));
        return;
    }
    if (there) {
        emit_already_there(x, uri);
        j->uploaded = 1;
        cm_uploaded(m, 0);
        return;
    }
    smneo_error_clear(&x->e);
    smneo_s3_options so;
    upload_options(x, &so, j->digest);
    rc = smneo_s3_upload_new(&m->xfer, x->c, j->archive, uri, &so, &x->e);
    if (rc) {
        cm_finish(m, fail_step(x, "upload", rc));
        return;
    }
    smneo__s3_transfer_observe(m->xfer, cm_observe_upload, x);
    if (is_cancelled(x))
        smneo_s3_transfer_cancel(m->xfer);
}

/* M_UPLOAD with transfer steps: the HEAD's SEND and SLEEP steps as the
 * machine's own, then the upload as TRANSFER steps until the driver has
 * driven it to DONE. 1 with a step in *out; 0 to go on. */
static int cm_upload_step(smneo__cm *m, smneo_step *out)
{
    smneo__cjob *j = m->j;
    cx *x = &j->x;
    if (m->xfer) {
        if (!smneo__s3_transfer_finished(m->xfer)) {
            if (is_cancelled(x))
                smneo_s3_transfer_cancel(m->xfer);
            out->kind = SMNEO_STEP_TRANSFER;
            return 1;
        }
        int rc = upload_end(x, x->r->input_uri, smneo_s3_transfer_result(m->xfer, &x->e));
        smneo_s3_transfer_free(m->xfer);
        m->xfer = NULL;
        j->uploaded = rc == 0;
        cm_uploaded(m, rc);
        return 0;
    }
    if (!m->head) {
        if (!j->archive) { /* a model package: nothing to upload */
            cm_uploaded(m, 0);
            return 0;
        }
        int rc = smneo__s3_head_new(&m->head, x->c, x->r->input_uri, &x->e);
        if (rc) {
            cm_finish(m, fail_step(x, "upload", rc));
            return 0;
        }
    }
    if (is_cancelled(x))
        smneo_s3_transfer_cancel(m->head);
    smneo_s3_step st;
    smneo_s3_transfer_next(&st, m->head);
    switch (st.kind) {
    case SMNEO_STEP_SEND:
        out->kind = SMNEO_STEP_SEND;
        out->request = st.request;
        out->timeout_ms = st.timeout_ms;
        m->head_id = st.id;
        return 1;
    case SMNEO_STEP_SLEEP:
        out->kind = SMNEO_STEP_SLEEP;
        out->sleep_ms = st.sleep_ms;
        return 1;
    case SMNEO_STEP_DONE:
        cm_head_done(m);
        return 0;
    default: /* a HEAD has no progress and one SEND at a time */
        return 0;
    }
}

/* After a WORK step and the delivery of its events: a cancel made in answer
 * to one of them names the step. */
static void cm_after_work(smneo__cm *m)
{
    cx *x = &m->j->x;
    int rc = m->work_rc;
    m->work_ready = m->work_ran = 0;
    switch (m->state) {
    case M_PREPARE:
        if (!rc && is_cancelled(x))
            rc = cancelled(x, x->o->model_package_version_arn ? "validate" : "pack");
        if (rc)
            cm_finish(m, rc);
        else
            m->state = M_UPLOAD;
        return;
    case M_UPLOAD:
        cm_uploaded(m, rc);
        return;
    case M_EXPLAIN:
        cm_finish(m, m->rc);
        return;
    case M_FINISH:
        if (!rc && is_cancelled(x))
            rc = cancelled(x, "verify");
        cm_finish(m, rc);
        return;
    default:
        return;
    }
}

static void cm_next(smneo_step *out, void *impl)
{
    smneo__cm *m = impl;
    memset(out, 0, sizeof *out);
    free(m->cur.msg);
    memset(&m->cur, 0, sizeof m->cur);
    for (;;) {
        if (evq_pop(&m->q, &m->cur)) {
            out->kind = SMNEO_STEP_EVENT;
            out->event = SMNEO_EVENT_COMPILE;
            return;
        }
        switch (m->state) {
        case M_DONE:
            out->kind = SMNEO_STEP_DONE;
            return;
        case M_PREPARE:
            if (!m->j->o.s3_bucket || !*m->j->o.s3_bucket) {
                /* no bucket: the SageMaker Python SDK's default, created when missing, found with SEND
                 * steps (after the options' check: nothing is sent for options that stop the flow) */
                cx *x = &m->j->x;
                smneo_call *b = NULL;
                int rc = check_options(x);
                if (!rc && (rc = smneo__s3_bucket_new(&b, x->c, 0, NULL, NULL, &x->e)))
                    fail_step(x, "bucket", rc);
                if (rc)
                    cm_finish(m, rc);
                else
                    cm_set_sub(m, M_BUCKET, b, NULL);
                continue;
            }
            /* fall through */
        case M_UPLOAD:
        case M_EXPLAIN:
        case M_FINISH:
            if (m->state == M_UPLOAD && m->transfer_steps) {
                if (cm_upload_step(m, out))
                    return;
                continue;
            }
            if (!m->work_ran) {
                m->work_ready = 1;
                out->kind = SMNEO_STEP_WORK;
                return;
            }
            cm_after_work(m);
            continue;
        default:
            if (cm_sub_step(m, out))
                return;
            continue;
        }
    }
}

static void cm_feed(void *impl, smneo_response *resp, int transport_error, const char *message)
{
    smneo__cm *m = impl;
    if (m && m->head)
        smneo_s3_transfer_feed(m->head, m->head_id, resp, transport_error, message);
    else if (m && m->logs)
        smneo_joblogs_feed(m->logs, resp, transport_error, message);
    else if (m && m->sub)
        smneo_call_feed(m->sub, resp, transport_error, message);
    else
        smneo_response_free(resp);
}

static void cm_cancel(void *impl)
{
    smneo__cm *m = impl;
    if (m)
        set_cancelled(&m->j->x);
}

static void cm_free(void *impl)
{
    smneo__cm *m = impl;
    if (!m)
        return;
    if (m->sub != m->j->create_call)
        smneo_call_free(m->sub);
    smneo_s3_transfer_free(m->head);
    smneo_s3_transfer_free(m->xfer);
    smneo_joblogs_free(m->logs);
    smneo_compile_result_free(m->res);
    free(m->cur.msg);
    evq_item it;
    while (evq_pop(&m->q, &it))
        free(it.msg);
    free(m->q.v);
    pthread_mutex_destroy(&m->q.mu);
    smneo__cjob_free(m->j);
    for (size_t i = 0; i < sizeof m->strings / sizeof m->strings[0]; i++)
        free(m->strings[i]);
    free(m);
}

static const smneo__call_ops cm_ops = {cm_next, cm_feed, cm_work, cm_cancel,
                                        cm_free};

/* queued: events come as EVENT steps; else to the options' callback as they happen. */
static int cm_new(smneo_call **out, smneo_client *c, const smneo_compile_options *o, int queued, smneo_error *err)
{
    if (out)
        *out = NULL;
    if (!out || !c || !o)
        return smneo__error(err, SMNEO_EINVAL, "out, client and options must not be NULL");
    if (o->version < 1 || o->version > SMNEO_COMPILE_OPTIONS_VERSION)
        return smneo__error(err, SMNEO_EINVAL, "options: smneo_compile_options.version is %d (this library takes "
                            "1 to %d): initialise the options with SMNEO_COMPILE_OPTIONS_INIT", o->version,
                            SMNEO_COMPILE_OPTIONS_VERSION);
    smneo__cm *m = calloc(1, sizeof *m);
    smneo_call *call = calloc(1, sizeof *call);
    smneo__cjob *j = m && call ? smneo__cjob_new(c, o) : NULL;
    if (!j || pthread_mutex_init(&m->q.mu, NULL)) {
        smneo__cjob_free(j);
        free(m);
        free(call);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    m->j = j;
    m->state = M_PREPARE;
    /* the job's copy of the options points at copies of their strings */
    static const size_t strings[] = {
        offsetof(smneo_compile_options, model), offsetof(smneo_compile_options, framework),
        offsetof(smneo_compile_options, data_input_config), offsetof(smneo_compile_options, framework_version),
        offsetof(smneo_compile_options, target_device), offsetof(smneo_compile_options, target_os),
        offsetof(smneo_compile_options, target_arch), offsetof(smneo_compile_options, target_accelerator),
        offsetof(smneo_compile_options, compiler_options), offsetof(smneo_compile_options, role_arn),
        offsetof(smneo_compile_options, s3_bucket), offsetof(smneo_compile_options, s3_prefix),
        offsetof(smneo_compile_options, job_name), offsetof(smneo_compile_options, output_dir),
        offsetof(smneo_compile_options, tags_json), offsetof(smneo_compile_options, kms_key_id),
        offsetof(smneo_compile_options, vpc_config_json), offsetof(smneo_compile_options, model_package_version_arn)};
    _Static_assert(sizeof strings / sizeof strings[0] <= sizeof m->strings / sizeof m->strings[0], "room");
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        const char **slot = (const char **)((char *)&j->o + strings[i]);
        if (!*slot)
            continue;
        m->strings[i] = smneo__strdup(*slot);
        if (!m->strings[i]) {
            call->ops = &cm_ops;
            call->impl = m;
            call->kind = KIND_MACHINE;
            smneo_call_free(call);
            return smneo__error(err, SMNEO_ENOMEM, "out of memory");
        }
        *slot = m->strings[i];
    }
    if (queued)
        j->x.q = &m->q;
    call->client = c;
    call->kind = KIND_MACHINE;
    call->ops = &cm_ops;
    call->impl = m;
    *out = call;
    return 0;
}

int smneo_compile_new(smneo_call **out, smneo_client *c, const smneo_compile_options *o, smneo_error *err)
{
    return cm_new(out, c, o, 1, err);
}

int smneo_call_compile_event(smneo_compile_event *out, const smneo_call *call)
{
    if (!out || !call || call->kind != KIND_MACHINE || call->ops != &cm_ops)
        return SMNEO_EINVAL;
    const smneo__cm *m = call->impl;
    if (!m->cur.ev.kind)
        return SMNEO_EINVAL;
    *out = m->cur.ev;
    out->message = m->cur.msg;
    out->description = m->cur.has_desc ? &m->cur.desc : NULL;
    return 0;
}

int smneo_call_set_transfer_steps(smneo_call *call, int on)
{
    if (!call || call->kind != KIND_MACHINE || call->ops != &cm_ops)
        return SMNEO_EINVAL;
    smneo__cm *m = call->impl;
    if (m->state != M_PREPARE || m->work_ready)
        return SMNEO_EINVAL; /* before the first step only */
    m->transfer_steps = on != 0;
    return 0;
}

smneo_s3_transfer *smneo_call_transfer(smneo_call *call)
{
    if (!call || call->kind != KIND_MACHINE || call->ops != &cm_ops)
        return NULL;
    smneo__cm *m = call->impl;
    return m->state == M_UPLOAD && m->xfer && !smneo__s3_transfer_finished(m->xfer) ? m->xfer : NULL;
}

int smneo_call_compile_result(smneo_compile_result **out, smneo_call *call, smneo_error *err)
{
    if (out)
        *out = NULL;
    if (!out || !call || call->kind != KIND_MACHINE || call->ops != &cm_ops)
        return smneo__error(err, SMNEO_EINVAL, "not a compile machine (smneo_compile_new)");
    smneo__cm *m = call->impl;
    if (m->state != M_DONE)
        return smneo__error(err, SMNEO_EINVAL, "the compile machine has not finished");
    if (m->taken)
        return smneo__error(err, SMNEO_EINVAL, "the compile machine's result was handed over already");
    m->taken = 1;
    *out = m->res;
    m->res = NULL;
    cx *x = &m->j->x;
    if (err) {
        smneo_error_clear(err);
        *err = x->e;
    } else {
        smneo_error_clear(&x->e);
    }
    memset(&x->e, 0, sizeof x->e);
    return m->rc;
}

/* ---- the flow, blocking: a driver of the machine ------------------------------------- */

/* WORK inline, SEND with the client's transport, SLEEP in the machine's short
 * steps; events reach the options' callback as they happen (from the
 * transfer's threads too, as the callback's contract says). */
int smneo_compile(smneo_compile_result **out, smneo_client *c, const smneo_compile_options *o, smneo_error *err)
{
    if (!out)
        return smneo__error(err, SMNEO_EINVAL, "out, client and options must not be NULL");
    smneo_call *call = NULL;
    int rc = cm_new(&call, c, o, 0, err);
    if (rc)
        return rc;
    smneo_step st;
    smneo_call_run(&st, call); /* no EVENT steps: the callback is called directly */
    rc = smneo_call_compile_result(out, call, err);
    smneo_call_free(call);
    return rc;
}
