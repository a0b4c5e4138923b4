/* smneo_compile end to end: against smneo.local (python3 -m smneo.local,
 * started here) for a cloud and an edge target, a FAILED job, a cancel that
 * stops the job, a tampered compiled artifact, a create whose answer is lost
 * (ResourceInUse recognised as our own job), layout and option errors; and
 * against moto_server when moto is installed (COMPLETED, then "compiled
 * artifact not found at ..."). Job names are checked directly. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <pthread.h>

#include <cjson/cJSON.h>

#include "compile_internal.h"
#include "harness.h"
#include "httpserver.h"
#include "localserver.h"
#include "smneo.h"

/* ---- models ----------------------------------------------------------------- */

/* A fake TorchScript archive: a zip "model.pt" holding archive/constants.pkl,
 * archive/code/__torch__/model.py and archive/data.pkl (stored entries). */
static unsigned long crc32_of(const unsigned char *p, size_t n)
{
    unsigned long c = 0xffffffffUL;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320UL & (0UL - (c & 1)));
    }
    return c ^ 0xffffffffUL;
}

static void put16(FILE *f, unsigned v) { fputc(v & 0xff, f), fputc((v >> 8) & 0xff, f); }
static void put32(FILE *f, unsigned long v) { put16(f, v & 0xffff), put16(f, (v >> 16) & 0xffff); }

static void write_torchscript(const char *path)
{
    static const char *const names[] = {"archive/data.pkl", "archive/constants.pkl",
                                        "archive/code/__torch__/model.py", "archive/version"};
    static const char *const bodies[] = {"\x80\x02}q\x00.", "\x80\x02).", "class Model(Module):\n  pass\n",
                                         "3\n"};
    FILE *f = fopen(path, "wb");
    if (!f)
        return;
    long offs[4];
    for (int i = 0; i < 4; i++) {
        size_t nl = strlen(names[i]), bl = strlen(bodies[i]);
        unsigned long crc = crc32_of((const unsigned char *)bodies[i], bl);
        offs[i] = ftell(f);
        put32(f, 0x04034b50UL), put16(f, 20), put16(f, 0), put16(f, 0), put16(f, 0), put16(f, 0);
        put32(f, crc), put32(f, bl), put32(f, bl), put16(f, (unsigned)nl), put16(f, 0);
        fwrite(names[i], 1, nl, f);
        fwrite(bodies[i], 1, bl, f);
    }
    long cd = ftell(f);
    for (int i = 0; i < 4; i++) {
        size_t nl = strlen(names[i]), bl = strlen(bodies[i]);
        unsigned long crc = crc32_of((const unsigned char *)bodies[i], bl);
        put32(f, 0x02014b50UL), put16(f, 20), put16(f, 20), put16(f, 0), put16(f, 0), put16(f, 0), put16(f, 0);
        put32(f, crc), put32(f, bl), put32(f, bl), put16(f, (unsigned)nl), put16(f, 0), put16(f, 0);
        put16(f, 0), put16(f, 0), put32(f, 0), put32(f, (unsigned long)offs[i]);
        fwrite(names[i], 1, nl, f);
    }
    long end = ftell(f);
    put32(f, 0x06054b50UL), put16(f, 0), put16(f, 0), put16(f, 4), put16(f, 4);
    put32(f, (unsigned long)(end - cd)), put32(f, (unsigned long)cd), put16(f, 0);
    fclose(f);
}

/* dir/<name>/ with model.pt (TorchScript) and code/inference.py; returns the
 * model directory (caller frees). `tag` makes the content unique per test. */
static char *make_model(const char *dir, const char *name, const char *tag)
{
    char *m = NULL;
    if (asprintf(&m, "%s/%s", dir, name) < 0)
        return NULL;
    mkdir(m, 0755);
    char p[1024];
    snprintf(p, sizeof p, "%s/model.pt", m);
    write_torchscript(p);
    snprintf(p, sizeof p, "%s/code", m);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/code/inference.py", m);
    char body[256];
    snprintf(body, sizeof body, "# %s\ndef model_fn(model_dir):\n    return None\n", tag);
    CHECK_INT(smneo_test_write_file(p, body, strlen(body)), 0);
    return m;
}

/* ---- events ------------------------------------------------------------------ */

typedef struct rec {
    char statuses[256];     /* "STARTING,INPROGRESS,COMPLETED," */
    char job[80];
    char uploaded[512];
    char verified[160];
    char warnings[2048];
    int packed, pack_events, upload_events, download_events, stopping, waiting;
    const char *cancel_on;  /* cancel at this status ("*": the first one before COMPLETED) */
    int cancel_packed;      /* cancel at PACKED */
    int cancel_pack_progress; /* cancel at the first PACK progress */
    int tamper;             /* overwrite the artifact at COMPLETED */
    int break_input;        /* replace the input archive at CREATED */
    char input_key_url[512];
    const char *url;
    smneo_client *c;
    const char *bad_archive;
    int log_events;         /* follow_logs: LOG events */
    char last_log[512];
    int log_failed_line;    /* a LOG event said the job failed */
    int log_ts_ok;          /* every LOG event had a timestamp */
    int last_kind_ok;       /* elapsed never decreases */
    double last_elapsed;
} rec;

static int on_event(const smneo_compile_event *ev, void *payload)
{
    rec *r = payload;
    if (ev->elapsed < r->last_elapsed)
        r->last_kind_ok = 0;
    r->last_elapsed = ev->elapsed;
    switch (ev->kind) {
    case SMNEO_COMPILE_EVENT_PACKED:
        r->packed++;
        return r->cancel_packed;
    case SMNEO_COMPILE_EVENT_UPLOAD:
        r->upload_events++;
        break;
    case SMNEO_COMPILE_EVENT_PACK:
        r->pack_events++;
        if (ev->total == 0 || ev->done > ev->total)
            r->last_kind_ok = 0;
        return r->cancel_pack_progress;
    case SMNEO_COMPILE_EVENT_UPLOADED:
        snprintf(r->uploaded, sizeof r->uploaded, "%s", ev->message);
        break;
    case SMNEO_COMPILE_EVENT_CREATED:
        snprintf(r->job, sizeof r->job, "%s", ev->message);
        if (r->break_input) {
            /* The job reads its input when it "compiles": replace it with an
             * archive that has no model file. */
            smneo_error err = SMNEO_ERROR_INIT;
            int rc = smneo_s3_upload(r->c, r->bad_archive, r->input_key_url,
                                     NULL, &err);
            if (rc)
                fprintf(stderr, "break_input: %s\n", err.message);
            smneo_error_clear(&err);
        }
        break;
    case SMNEO_COMPILE_EVENT_STATUS: {
        size_t n = strlen(r->statuses);
        snprintf(r->statuses + n, sizeof r->statuses - n, "%s,", ev->message);
        if (!ev->description)
            r->last_kind_ok = 0;
        if (r->tamper && !strcmp(ev->message, "COMPLETED")) {
            smneo_value ma, uri;
            if (smneo_value_get(&ma, ev->description, "ModelArtifacts") == 0 &&
                smneo_value_get(&uri, &ma, "S3ModelArtifacts") == 0) {
                char *tmp = smneo_test_tmpdir();
                char p[1024];
                snprintf(p, sizeof p, "%s/evil.tar.gz", tmp);
                CHECK_INT(smneo_test_write_file(p, "not the compiled model", 22), 0);
                smneo_error err = SMNEO_ERROR_INIT;
                if (smneo_s3_upload(r->c, p, smneo_value_string(&uri), NULL, &err))
                    fprintf(stderr, "tamper: %s\n", err.message);
                smneo_error_clear(&err);
                smneo_test_rmtree(tmp);
                free(tmp);
            }
        }
        if (r->cancel_on && (!strcmp(ev->message, r->cancel_on) ||
                             (!strcmp(r->cancel_on, "*") && strcmp(ev->message, "COMPLETED"))))
            return 1;
        break;
    }
    case SMNEO_COMPILE_EVENT_DOWNLOAD:
        r->download_events++;
        break;
    case SMNEO_COMPILE_EVENT_VERIFIED:
        snprintf(r->verified, sizeof r->verified, "%s", ev->message);
        break;
    case SMNEO_COMPILE_EVENT_WARNING: {
        size_t n = strlen(r->warnings);
        snprintf(r->warnings + n, sizeof r->warnings - n, "%s\n", ev->message);
        break;
    }
    case SMNEO_COMPILE_EVENT_STOPPING:
        r->stopping++;
        break;
    case SMNEO_COMPILE_EVENT_WAITING:
        r->waiting++;
        break;
    case SMNEO_COMPILE_EVENT_LOG:
        r->log_events++;
        snprintf(r->last_log, sizeof r->last_log, "%s", ev->message);
        r->log_failed_line |= strstr(ev->message, " failed: ") != NULL;
        if (ev->done < 1000000000000ULL)
            r->log_ts_ok = 0;
        break;
    default: /* compile_many's own kinds */
        break;
    }
    return 0;
}

static void rec_init(rec *r, smneo_client *c, const char *url)
{
    memset(r, 0, sizeof *r);
    r->c = c;
    r->url = url;
    r->last_kind_ok = 1;
    r->log_ts_ok = 1;
}

static const char *job_status(const smneo_compile_result *res)
{
    smneo_value root, st;
    if (!res || !smneo_compile_result_job(res))
        return NULL;
    smneo_result_root(&root, smneo_compile_result_job(res));
    return smneo_value_get(&st, &root, "CompilationJobStatus") == 0 ? smneo_value_string(&st) : NULL;
}

static char *describe_status(smneo_client *c, const char *job)
{
    char params[256];
    snprintf(params, sizeof params, "{\"CompilationJobName\":\"%s\"}", job);
    smneo_result *r = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    char *out = NULL;
    if (smneo_client_call(&r, c, "DescribeCompilationJob", params, strlen(params), &err) == 0) {
        smneo_value root, st;
        smneo_result_root(&root, r);
        if (smneo_value_get(&st, &root, "CompilationJobStatus") == 0)
            out = strdup(smneo_value_string(&st));
    }
    smneo_result_free(r);
    smneo_error_clear(&err);
    return out;
}

static int file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static int name_ok(const char *n)
{
    size_t len = strlen(n);
    if (len < 1 || len > 63)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char ch = n[i];
        int alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
        if (!alnum && !(ch == '-' && i > 0 && i + 1 < len))
            return 0;
    }
    return 1;
}

/* ---- unit checks ---------------------------------------------------------------- */

static void test_job_names(void)
{
    int64_t t = 1767225600; /* 2026-01-01T00:00:00Z */
    char *n = smneo__compile_job_name("my_model.v2", t, 0xabcd);
    CHECK_STR(n, "my-model-v2-20260101000000-abcd");
    free(n);
    n = smneo__compile_job_name("__--x", t, 1);
    CHECK_STR(n, "x-20260101000000-0001");
    free(n);
    n = smneo__compile_job_name("", t, 2);
    CHECK_STR(n, "model-20260101000000-0002");
    free(n);
    n = smneo__compile_job_name(NULL, t, 2);
    CHECK_STR(n, "model-20260101000000-0002");
    free(n);
    char longname[200];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    longname[42] = '.'; /* the cut lands right after a separator: no "--" or trailing '-' left */
    n = smneo__compile_job_name(longname, t, 3);
    CHECK_INT(strlen(n), 42 + 20);
    CHECK(name_ok(n));
    CHECK(strstr(n, "--") == NULL);
    free(n);
    n = smneo__compile_job_name("résumé net", t, 4);
    CHECK(name_ok(n));
    CHECK_STR(n, "r-sum-net-20260101000000-0004");
    free(n);
}

/* ---- end to end: smneo.local ------------------------------------------------------ */

static smneo_test_server local;
static smneo_client *lc;
static char *work;
#define ROLE "arn:aws:iam::123456789012:role/service-role/NeoRole"
#define BUCKET "smneo-compile-test"

static void base_options(smneo_compile_options *o, const char *model, const char *prefix, rec *r)
{
    smneo_compile_options d = SMNEO_COMPILE_OPTIONS_INIT;
    *o = d;
    o->model = model;
    o->framework = "PYTORCH";
    o->target_device = "ml_c5";
    o->role_arn = ROLE;
    o->s3_bucket = BUCKET;
    o->s3_prefix = prefix;
    o->delay = 0.1;
    o->max_delay = 0.2;
    o->timeout = 60;
    o->callback = on_event;
    o->payload = r;
}

static void test_cloud_target(void)
{
    char *model = make_model(work, "resnet_18", "cloud");
    char *outdir = NULL;
    CHECK(asprintf(&outdir, "%s/out-cloud", work) > 0);
    rec r;
    rec_init(&r, lc, local.url);
    smneo_compile_options o;
    base_options(&o, model, "cloud/run", &r);
    o.output_dir = outdir;
    o.extract = 1;
    o.tags_json = "[{\"Key\":\"team\",\"Value\":\"ml\"}]";
    smneo_compile_result *res = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_compile(&res, lc, &o, &err);
    CHECK_MSG(rc == 0, "rc %d: %s", rc, err.message ? err.message : "");
    CHECK(res != NULL);
    if (res) {
        const char *job = smneo_compile_result_job_name(res);
        CHECK(job && strncmp(job, "resnet-18-", 10) == 0);
        CHECK(job && name_ok(job));
        CHECK_STR(r.job, job);
        CHECK_STR(job_status(res), "COMPLETED");
        CHECK(smneo_compile_result_digest_verified(res) == 1);
        CHECK(strlen(r.verified) == 128);
        const char *in = smneo_compile_result_input_uri(res);
        CHECK(in && strncmp(in, "s3://" BUCKET "/cloud/run/", 29) == 0 && strstr(in, "/model.tar.gz"));
        CHECK(in && strlen(in) == strlen("s3://" BUCKET "/cloud/run/") + 16 + strlen("/model.tar.gz"));
        CHECK_STR(r.uploaded, in);
        char expect[1024];
        snprintf(expect, sizeof expect, "%s/model-ml_c5.tar.gz", outdir);
        CHECK_STR(smneo_compile_result_artifact_path(res), expect);
        CHECK(file_exists(expect));
        snprintf(expect, sizeof expect, "%s/%s", outdir, job ? job : "");
        CHECK_STR(smneo_compile_result_extracted_dir(res), expect);
        char p[1200];
        snprintf(p, sizeof p, "%s/model.pt", expect);
        CHECK(file_exists(p));
        snprintf(p, sizeof p, "%s/smneo-local-manifest.json", expect);
        CHECK(file_exists(p));
        CHECK(smneo_compile_result_issues(res) != NULL);
    }
    CHECK(r.packed == 1);
    CHECK(r.pack_events > 0);
    CHECK(r.upload_events > 0);
    CHECK(r.download_events > 0);
    CHECK_MSG(strstr(r.statuses, "COMPLETED,") != NULL, "statuses %s", r.statuses);
    CHECK_MSG(strstr(r.statuses, "INPROGRESS,") != NULL, "statuses %s", r.statuses);
    CHECK(r.waiting > 0);
    CHECK(r.stopping == 0);
    CHECK(r.last_kind_ok);
    smneo_compile_result_free(res);
    smneo_error_clear(&err);

    /* Same content again: the upload is skipped, a new job is made. The
     * artifact replaces the first one: with the default mode (0644 less the
     * umask), not the replaced file's setuid and setgid bits. */
    char art[1024];
    snprintf(art, sizeof art, "%s/model-ml_c5.tar.gz", outdir);
    CHECK(chmod(art, 06755) == 0);
    mode_t old_mask = umask(027);
    rec r2;
    rec_init(&r2, lc, local.url);
    base_options(&o, model, "cloud/run", &r2);
    o.output_dir = outdir;
    rc = smneo_compile(&res, lc, &o, &err);
    umask(old_mask);
    CHECK_MSG(rc == 0, "rc %d: %s", rc, err.message ? err.message : "");
    struct stat ast;
    CHECK_MSG(stat(art, &ast) == 0 && (ast.st_mode & 07777) == 0640, "mode %o", (unsigned)(ast.st_mode & 07777));
    CHECK_MSG(strstr(r2.uploaded, "(already there)") != NULL, "uploaded: %s", r2.uploaded);
    CHECK(r2.upload_events == 0);
    CHECK(strcmp(r.job, r2.job) != 0);
    smneo_compile_result_free(res);
    smneo_error_clear(&err);
    free(outdir);
    free(model);
}

static void test_edge_target(void)
{
    char *model = make_model(work, "edge-model", "edge");
    char archive[1024];
    snprintf(archive, sizeof archive, "%s/edge-model.tar.gz", work);
    smneo_artifact_pack_result *pr = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK(smneo_artifact_pack(&pr, model, archive, NULL, &err) == 0);
    smneo_artifact_pack_result_free(pr);
    char *outdir = NULL;
    CHECK(asprintf(&outdir, "%s/out-edge/nested", work) > 0);
    rec r;
    rec_init(&r, lc, local.url);
    smneo_compile_options o;
    base_options(&o, archive, "/edge/", &r);
    o.target_device = NULL;
    o.target_os = "LINUX";
    o.target_arch = "ARM64";
    o.compiler_options = "{\"mcpu\": \"cortex-a72\"}";
    o.data_input_config = "{\"input0\": [1, 3, 224, 224]}";
    o.job_name = "edge job/v1.tar.gz";
    o.output_dir = outdir;
    smneo_compile_result *res = NULL;
    int rc = smneo_compile(&res, lc, &o, &err);
    CHECK_MSG(rc == 0, "rc %d: %s", rc, err.message ? err.message : "");
    if (res) {
        CHECK_MSG(strncmp(smneo_compile_result_job_name(res), "edge-job-v1-tar-gz-2", 20) == 0, "job %s",
                  smneo_compile_result_job_name(res));
        CHECK_STR(job_status(res), "COMPLETED");
        CHECK(smneo_compile_result_digest_verified(res));
        char expect[1200];
        snprintf(expect, sizeof expect, "%s/model-LINUX_ARM64.tar.gz", outdir);
        CHECK_STR(smneo_compile_result_artifact_path(res), expect);
        CHECK(file_exists(expect));
        CHECK(smneo_compile_result_extracted_dir(res) == NULL);
        const char *in = smneo_compile_result_input_uri(res);
        CHECK(in && strncmp(in, "s3://" BUCKET "/edge/", 25) == 0);
        smneo_value root, oc, tp, os;
        smneo_result_root(&root, smneo_compile_result_job(res));
        CHECK(smneo_value_get(&oc, &root, "OutputConfig") == 0 && smneo_value_get(&tp, &oc, "TargetPlatform") == 0 &&
              smneo_value_get(&os, &tp, "Arch") == 0 && !strcmp(smneo_value_string(&os), "ARM64"));
    }
    CHECK(r.packed == 0); /* an archive is used as it is */
    CHECK(r.pack_events > 0);  /* ... and hashed */
    smneo_compile_result_free(res);
    smneo_error_clear(&err);

    /* Without CompilerOptions a CPU platform gets the validator's warning,
     * as an event and in the result. */
    rec_init(&r, lc, local.url);
    base_options(&o, archive, "/edge/", &r);
    o.target_device = NULL;
    o.target_os = "LINUX";
    o.target_arch = "X86_64";
    o.data_input_config = "{\"input0\": [1, 3, 224, 224]}";
    o.output_dir = outdir;
    rc = smneo_compile(&res, lc, &o, &err);
    CHECK_MSG(rc == 0, "rc %d: %s", rc, err.message ? err.message : "");
    CHECK_MSG(strstr(r.warnings, "CompilerOptions are highly recommended"), "warnings: %s", r.warnings);
    int found = 0;
    const smneo_issues *is = smneo_compile_result_issues(res);
    for (size_t i = 0; i < smneo_issues_count(is); i++)
        found |= !strcmp(smneo_issues_at(is, i)->rule, "neo.compiler-options.recommended");
    CHECK(found);
    CHECK_MSG(strstr(r.uploaded, "(already there)"), "uploaded: %s", r.uploaded);
    smneo_compile_result_free(res);
    smneo_error_clear(&err);
    free(outdir);
    free(model);
}

static int has_issue_rule(const smneo_issues *is, const char *rule)
{
    for (size_t i = 0; i < smneo_issues_count(is); i++)
        if (!strcmp(smneo_issues_at(is, i)->rule, rule))
            return 1;
    return 0;
}

/* ml_inf1 takes CompilerOptions as a JSON string of Neuron flags: the
 * layout check cannot read that, says so, and the flow goes on. */
static void test_string_compiler_options(void)
{
    char *model = make_model(work, "inf1", "inf1");
    char *outdir = NULL;
    CHECK(asprintf(&outdir, "%s/out-inf1", work) > 0);
    rec r;
    rec_init(&r, lc, local.url);
    smneo_compile_options o;
    base_options(&o, model, "inf1", &r);
    o.target_device = "ml_inf1";
    o.compiler_options = "\"--verbose 1 --num-neuroncores 2\"";
    o.data_input_config = "{\"input0\": [1, 3, 224, 224]}";
    o.output_dir = outdir;
    smneo_compile_result *res = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_compile(&res, lc, &o, &err);
    CHECK_MSG(rc == 0, "rc %d: %s", rc, err.message ? err.message : "");
    CHECK_MSG(strstr(r.warnings, "CompilerOptions left out of the model layout check"), "warnings: %s", r.warnings);
    const smneo_issues *is = smneo_compile_result_issues(res);
    int found = 0;
    for (size_t i = 0; i < smneo_issues_count(is); i++)
        found |= !strcmp(smneo_issues_at(is, i)->rule, "compile.layout-check-skipped") &&
                 smneo_issues_at(is, i)->severity == SMNEO_SEVERITY_WARNING;
    CHECK(found);
    smneo_compile_result_free(res);
    smneo_error_clear(&err);
    free(outdir);
    free(model);
}

/* The layout check takes class_labels from the validator's reading of
 * CompilerOptions (Python style included): a labels file the archive lacks
 * stops the flow before anything is uploaded. */
static void test_class_labels_reach_the_layout_check(void)
{
    char *model = make_model(work, "labels", "labels");
    rec r;
    rec_init(&r, lc, local.url);
    smneo_compile_options o;
    base_options(&o, model, "labels", &r);
    o.compiler_options = "{'class_labels': 'labels.txt'}";
    smneo_compile_result *res = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(smneo_compile(&res, lc, &o, &err), SMNEO_EVALIDATION);
    CHECK(res == NULL);
    CHECK_MSG(err.message && strstr(err.message, "inspect: ") == err.message && strstr(err.message, "labels.txt"),
              "message: %s", err.message ? err.message : "(null)");
    CHECK(err.issues && has_issue_rule(err.issues, "artifact.coreml.class-labels"));
    CHECK(!strstr(r.warnings, "left out of the model layout check"));
    CHECK(r.uploaded[0] == '\0' && r.job[0] == '\0');
    smneo_error_clear(&err);
    free(model);
}

/* KmsKeyId goes into OutputConfig (and SSE-KMS on the upload). */
static void test_kms_key(void)
{
    char *model = make_model(work, "kms", "kms");
    char *outdir = NULL;
    CHECK(asprintf(&outdir, "%s/out-kms", work) > 0);
    rec r;
    rec_init(&r, lc, local.url);
    smneo_compile_options o;
    base_options(&o, model, "kms", &r);
    o.kms_key_id = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    o.max_runtime_seconds = 1200;
    o.output_dir = outdir;
    smneo_compile_result *res = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_compile(&res, lc, &o, &err);
    CHECK_MSG(rc == 0, "rc %d: %s", rc, err.message ? err.message : "");
    if (res) {
        smneo_value root, oc, k, sc, mr;
        smneo_result_root(&root, smneo_compile_result_job(res));
        CHECK(smneo_value_get(&oc, &root, "OutputConfig") == 0 && smneo_value_get(&k, &oc, "KmsKeyId") == 0);
        CHECK_STR(smneo_value_string(&k), o.kms_key_id);
        CHECK(smneo_value_get(&sc, &root, "StoppingCondition") == 0 &&
              smneo_value_get(&mr, &sc, "MaxRuntimeInSeconds") == 0);
        char *json = NULL;
        CHECK(smneo_value_to_json(&json, &mr) == 0);
        CHECK_STR(json, "1200");
        free(json);
    }
    smneo_compile_result_free(res);
    smneo_error_clear(&err);
    free(outdir);
    free(model);
}

static void test_failed_job(void)
{
    char *model = make_model(work, "will-fail", "fail");
    /* An archive without any model file, swapped in once the job exists. */
    char bad_dir[1024], bad[1024];
    snprintf(bad_dir, sizeof bad_dir, "%s/nomodel", work);
    mkdir(bad_dir, 0755);
    char p[1100];
    snprintf(p, sizeof p, "%s/README.txt", bad_dir);
    CHECK_INT(smneo_test_write_file(p, "no model here\n", 14), 0);
    snprintf(bad, sizeof bad, "%s/nomodel.tar.gz", work);
    smneo_artifact_pack_result *pr = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK(smneo_artifact_pack(&pr, bad_dir, bad, NULL, &err) == 0);
    smneo_artifact_pack_result_free(pr);
    /* The input key is content-addressed: pack the model the same way to know it. */
    char tmpa[1024];
    snprintf(tmpa, sizeof tmpa, "%s/will-fail.tar.gz", work);
    CHECK(smneo_artifact_pack(&pr, model, tmpa, NULL, &err) == 0);
    rec r;
    rec_init(&r, lc, local.url);
    snprintf(r.input_key_url, sizeof r.input_key_url, "s3://%s/failing/%.16s/model.tar.gz", BUCKET,
             pr ? smneo_artifact_pack_result_digest(pr) : "");
    smneo_artifact_pack_result_free(pr);
    r.break_input = 1;
    r.bad_archive = bad;
    smneo_compile_options o;
    base_options(&o, model, "failing", &r);
    smneo_compile_result *res = NULL;
    int rc = smneo_compile(&res, lc, &o, &err);
    CHECK_INT(rc, SMNEO_EJOBFAILED);
    CHECK_INT(err.code, SMNEO_EJOBFAILED);
    CHECK_MSG(err.message && strstr(err.message, "failed: ClientError") && strstr(err.message, r.job),
              "message: %s", err.message ? err.message : "(null)");
    CHECK(res != NULL);
    CHECK_STR(job_status(res), "FAILED");
    CHECK(smneo_compile_result_artifact_path(res) == NULL);
    CHECK(strstr(r.statuses, "FAILED,") != NULL);
    /* the log's last lines and the diagnosis made of them */
    size_t n = smneo_compile_result_log_count(res);
    CHECK_MSG(n >= 3 && n <= 50, "%zu log lines", n);
    smneo_log_event ev;
    int failed_line = 0;
    for (size_t i = 0; i < n; i++) {
        CHECK_INT(smneo_compile_result_log_at(&ev, res, i), 0);
        CHECK(strstr(ev.stream, r.job) == ev.stream);
        failed_line |= strstr(ev.message, " failed: ") != NULL;
    }
    CHECK(failed_line);
    CHECK_INT(smneo_compile_result_log_at(&ev, res, n), SMNEO_EINVAL);
    const smneo_diagnosis *d = smneo_compile_result_diagnosis(res);
    CHECK(d != NULL);
    CHECK_STR(d ? smneo_diagnosis_id(d) : NULL, "pytorch-model-files");
    smneo_compile_result_free(res);
    smneo_error_clear(&err);
    free(model);
}

static void post_fault(const char *json)
{
    char url[512];
    snprintf(url, sizeof url, "%s/_smneo/faults", local.url);
    CHECK_INT(smneo_test_http("POST", url, json, 0, NULL), 200);
}

static void clear_faults(void)
{
    char url[512];
    snprintf(url, sizeof url, "%s/_smneo/faults", local.url);
    smneo_test_http("DELETE", url, NULL, 0, NULL);
}

/* follow_logs: the log's lines as LOG events while waiting; a job failed
 * with a catalogue entry is explained from its log line. */
static void test_follow_logs(void)
{
    post_fault("{\"kind\":\"fail\",\"job\":\"follow-logs-*\",\"failure\":\"unsupported-operator\","
               "\"params\":{\"operators\":\"aten::frobnicate\"}}");
    char *model = make_model(work, "follow-logs", "follow");
    rec r;
    rec_init(&r, lc, local.url);
    smneo_compile_options o;
    base_options(&o, model, "follow", &r);
    o.follow_logs = 1;
    smneo_compile_result *res = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_compile(&res, lc, &o, &err);
    CHECK_INT(rc, SMNEO_EJOBFAILED);
    CHECK_MSG(err.message && strstr(err.message, "wait: compilation job ") && strstr(err.message, r.job),
              "message: %s", err.message ? err.message : "(null)");
    CHECK_MSG(r.log_events >= 3 && r.log_ts_ok, "%d LOG events", r.log_events);
    CHECK(r.log_failed_line);
    CHECK(strstr(r.statuses, "FAILED,") != NULL);
    CHECK_STR(job_status(res), "FAILED");
    const smneo_diagnosis *d = smneo_compile_result_diagnosis(res);
    CHECK_STR(d ? smneo_diagnosis_id(d) : NULL, "operator-not-implemented");
    CHECK(d && smneo_diagnosis_evidence(d) && strstr(smneo_diagnosis_evidence(d), "frobnicate"));
    CHECK(smneo_compile_result_log_count(res) >= 3);
    smneo_compile_result_free(res);
    smneo_error_clear(&err);
    free(model);
    clear_faults();
}

/* Logs refused (AccessDenied): the failure stays what it is, with a warning. */
static void test_failed_job_logs_denied(void)
{
    post_fault("{\"kind\":\"fail\",\"job\":\"denied-logs-*\",\"failure\":\"pytorch-model-count\"}");
    post_fault("{\"kind\":\"deny\",\"target\":\"logs\",\"rate\":1}");
    char *model = make_model(work, "denied-logs", "denied");
    for (int follow = 0; follow < 2; follow++) {
        rec r;
        rec_init(&r, lc, local.url);
        smneo_compile_options o;
        base_options(&o, model, "denied", &r);
        o.follow_logs = follow;
        smneo_compile_result *res = NULL;
        smneo_error err = SMNEO_ERROR_INIT;
        int rc = smneo_compile(&res, lc, &o, &err);
        CHECK_INT(rc, SMNEO_EJOBFAILED);
        CHECK_MSG(err.message && strstr(err.message, "ClientError"), "message: %s",
                  err.message ? err.message : "(null)");
        CHECK_MSG(strstr(r.warnings, "AccessDeniedException") && strstr(r.warnings, "logs:GetLogEvents"),
                  "warnings: %s", r.warnings);
        CHECK_INT(r.log_events, 0);
        CHECK_INT((int)smneo_compile_result_log_count(res), 0);
        const smneo_issues *is = smneo_compile_result_issues(res);
        int kept = 0;
        for (size_t i = 0; is && i < smneo_issues_count(is); i++)
            kept |= !strcmp(smneo_issues_at(is, i)->rule, "logs.unreadable") &&
                    strstr(smneo_issues_at(is, i)->message, "AccessDeniedException") != NULL;
        CHECK_MSG(kept, "the log warning is in the result's issues");
        const smneo_diagnosis *d = smneo_compile_result_diagnosis(res);
        CHECK_STR(d ? smneo_diagnosis_id(d) : NULL, "pytorch-model-files");
        CHECK_STR(d ? smneo_evidence_kind_name(smneo_diagnosis_evidence_kind(d)) : NULL, "FailureReason");
        smneo_compile_result_free(res);
        smneo_error_clear(&err);
        if (!follow)
            post_fault("{\"kind\":\"fail\",\"job\":\"denied-logs-*\",\"failure\":\"pytorch-model-count\"}");
    }
    free(model);
    clear_faults();
}

/* A program built against version 1 of the options (no follow_logs). */
static void test_options_v1(void)
{
    smneo_compile_options o;
    base_options(&o, "/nonexistent/model", "v1", NULL);
    o.version = 1;
    smneo_compile_result *res = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(smneo_compile(&res, lc, &o, &err), SMNEO_EINVAL);
    CHECK_MSG(err.message && strstr(err.message, "cannot read model"), "%s", err.message ? err.message : "");
    smneo_error_clear(&err);
    o.version = SMNEO_COMPILE_OPTIONS_VERSION + 1;
    CHECK_INT(smneo_compile(&res, lc, &o, &err), SMNEO_EINVAL);
    CHECK_MSG(err.message && strstr(err.message, "1 to 3"), "%s", err.message ? err.message : "");
    smneo_error_clear(&err);
}

static void test_cancel_stops_job(void)
{
    char *model = make_model(work, "cancelme", "cancel");
    rec r;
    rec_init(&r, lc, local.url);
    r.cancel_on = "*"; /* STARTING, or INPROGRESS on a slow machine */
    smneo_compile_options o;
    base_options(&o, model, "cancel", &r);
    smneo_compile_result *res = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_compile(&res, lc, &o, &err);
    CHECK_INT(rc, SMNEO_ECANCELLED);
    CHECK(res == NULL);
    CHECK(r.stopping == 1);
    CHECK_MSG(err.message && strstr(err.message, "is being stopped"), "message: %s",
              err.message ? err.message : "(null)");
    char *st = describe_status(lc, r.job);
    CHECK_MSG(st && (!strcmp(st, "STOPPING") || !strcmp(st, "STOPPED")), "status %s", st ? st : "(null)");
    free(st);
    smneo_error_clear(&err);

    /* keep_job_on_cancel: the job goes on. */
    rec_init(&r, lc, local.url);
    r.cancel_on = "*"; /* STARTING, or INPROGRESS on a slow machine */
    base_options(&o, model, "cancel", &r);
    o.keep_job_on_cancel = 1;
    rc = smneo_compile(&res, lc, &o, &err);
    CHECK_INT(rc, SMNEO_ECANCELLED);
    CHECK(r.stopping == 0);
    CHECK_MSG(err.message && strstr(err.message, "left running"), "message: %s", err.message ? err.message : "(null)");
    st = describe_status(lc, r.job);
    CHECK_MSG(st && strcmp(st, "STOPPING") && strcmp(st, "STOPPED"), "status %s", st ? st : "(null)");
    free(st);
    smneo_error_clear(&err);
    free(model);
}

/* The waiter's timeout stops the job, like a cancel. */
static void test_timeout_stops_job(void)
{
    char *model = make_model(work, "slowjob", "timeout");
    rec r;
    rec_init(&r, lc, local.url);
    smneo_compile_options o;
    base_options(&o, model, "timeout", &r);
    o.timeout = 0.3; /* the local job takes 1 s */
    smneo_compile_result *res = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_compile(&res, lc, &o, &err);
    CHECK_INT(rc, SMNEO_EWAITTIMEOUT);
    CHECK(res == NULL);
    CHECK(r.stopping == 1);
    CHECK_MSG(err.message && strstr(err.message, "wait: ") == err.message && strstr(err.message, "is being stopped"),
              "message: %s", err.message ? err.message : "(null)");
    char *st = describe_status(lc, r.job);
    CHECK_MSG(st && (!strcmp(st, "STOPPING") || !strcmp(st, "STOPPED")), "status %s", st ? st : "(null)");
    free(st);
    smneo_error_clear(&err);
    free(model);
}

static void test_tampered_artifact(void)
{
    char *model = make_model(work, "tampered", "tamper");
    char *outdir = NULL;
    CHECK(asprintf(&outdir, "%s/out-tamper", work) > 0);
    rec r;
    rec_init(&r, lc, local.url);
    r.tamper = 1;
    smneo_compile_options o;
    base_options(&o, model, "tamper", &r);
    o.output_dir = outdir;
    o.extract = 1;
    smneo_compile_result *res = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_compile(&res, lc, &o, &err);
    CHECK_INT(rc, SMNEO_EDIGEST);
    CHECK(res == NULL);
    CHECK_MSG(err.message && strstr(err.message, "verify: ") == err.message &&
                  strstr(err.message, "ArtifactDigest") && strstr(err.message, ".rejected"),
              "message: %s", err.message ? err.message : "(null)");
    char p[1024];
    snprintf(p, sizeof p, "%s/model-ml_c5.tar.gz", outdir);
    CHECK(!file_exists(p));
    snprintf(p, sizeof p, "%s/model-ml_c5.tar.gz.rejected", outdir);
    CHECK(file_exists(p));
    snprintf(p, sizeof p, "%s/%s", outdir, r.job);
    CHECK(!file_exists(p)); /* nothing extracted */
    CHECK(r.verified[0] == '\0');
    smneo_error_clear(&err);
    free(outdir);
    free(model);
}

/* The answer to CreateCompilationJob is cut short after the job was made:
 * the retry meets ResourceInUse, recognised as our own job. */
static void test_lost_create_answer(void)
{
    char url[512];
    snprintf(url, sizeof url, "%s/_smneo/faults", local.url);
    CHECK_INT(smneo_test_http("POST", url,
                           "{\"kind\": \"truncate\", \"count\": 1, \"target\": \"sagemaker\", "
                           "\"operation\": \"CreateCompilationJob\"}", 0, NULL),
              200);
    char *model = make_model(work, "lost-answer", "lost");
    rec r;
    rec_init(&r, lc, local.url);
    smneo_compile_options o;
    base_options(&o, model, "lost", &r);
    char *outdir = NULL;
    CHECK(asprintf(&outdir, "%s/out-lost", work) > 0);
    o.output_dir = outdir;
    smneo_compile_result *res = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_compile(&res, lc, &o, &err);
    CHECK_MSG(rc == 0, "rc %d: %s", rc, err.message ? err.message : "");
    CHECK_STR(job_status(res), "COMPLETED");
    /* The fault was used up: the first answer really was cut short. */
    char *pending = NULL;
    CHECK_INT(smneo_test_http("GET", url, NULL, 0, &pending), 200);
    CHECK_MSG(pending && !strstr(pending, "truncate"), "pending faults: %s", pending ? pending : "(null)");
    free(pending);
    smneo_compile_result_free(res);
    smneo_error_clear(&err);
    smneo_test_http("DELETE", url, NULL, 0, NULL);
    free(outdir);
    free(model);
}

static void test_layout_error_uploads_nothing(void)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/statedict", work);
    mkdir(dir, 0755);
    char p[1100];
    snprintf(p, sizeof p, "%s/weights.txt", dir);
    CHECK_INT(smneo_test_write_file(p, "not a model", 11), 0);
    rec r;
    rec_init(&r, lc, local.url);
    smneo_compile_options o;
    base_options(&o, dir, "layout", &r);
    smneo_compile_result *res = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_compile(&res, lc, &o, &err);
    CHECK_INT(rc, SMNEO_EVALIDATION);
    CHECK(res == NULL);
    CHECK(err.issues && smneo_issues_error_count(err.issues) > 0);
    CHECK_MSG(err.message && strstr(err.message, "inspect: ") == err.message && strstr(err.message, "nothing was uploaded"),
              "message: %s", err.message ? err.message : "(null)");
    CHECK(r.uploaded[0] == '\0' && r.job[0] == '\0');
    smneo_error_clear(&err);
    /* Nothing reached the bucket: the archive's key (packing is reproducible) is absent. */
    char arch[1100];
    snprintf(arch, sizeof arch, "%s/statedict.tar.gz", work);
    smneo_artifact_pack_result *pr = NULL;
    CHECK(smneo_artifact_pack(&pr, dir, arch, NULL, &err) == 0);
    char uri[512];
    snprintf(uri, sizeof uri, "s3://%s/layout/%.16s/model.tar.gz", BUCKET, pr ? smneo_artifact_pack_result_digest(pr) : "");
    smneo_artifact_pack_result_free(pr);
    smneo_s3_object obj;
    memset(&obj, 0, sizeof obj);
    CHECK_INT(smneo_s3_head(&obj, lc, uri, &err), SMNEO_ENOTFOUND);
    smneo_s3_object_clear(&obj);
    smneo_error_clear(&err);
}

static void test_bad_options(void)
{
    char *model = make_model(work, "opts", "opts");
    rec r;
    rec_init(&r, lc, local.url);
    smneo_compile_options o;
    smneo_compile_result *res = NULL;
    smneo_error err = SMNEO_ERROR_INIT;

    base_options(&o, model, "opts", &r);
    o.role_arn = NULL;
    CHECK_INT(smneo_compile(&res, lc, &o, &err), SMNEO_EINVAL);
    CHECK(err.message && strstr(err.message, "role_arn"));
    smneo_error_clear(&err);

    base_options(&o, model, "opts", &r);
    o.target_os = "LINUX";
    CHECK_INT(smneo_compile(&res, lc, &o, &err), SMNEO_EINVAL);
    CHECK(err.message && strstr(err.message, "not both"));
    smneo_error_clear(&err);

    base_options(&o, model, "opts", &r);
    o.version = 0;
    CHECK_INT(smneo_compile(&res, lc, &o, &err), SMNEO_EINVAL);
    smneo_error_clear(&err);

    base_options(&o, "/nonexistent/model/dir", "opts", &r);
    CHECK_INT(smneo_compile(&res, lc, &o, &err), SMNEO_EINVAL);
    CHECK(err.message && strstr(err.message, "/nonexistent/model/dir"));
    smneo_error_clear(&err);

    /* Refused by the client's validation before anything is uploaded. */
    base_options(&o, model, "opts", &r);
    o.role_arn = "NeoRole";
    CHECK_INT(smneo_compile(&res, lc, &o, &err), SMNEO_EVALIDATION);
    CHECK_MSG(err.message && strstr(err.message, "validate: ") == err.message && strstr(err.message, "RoleArn"),
              "message: %s", err.message ? err.message : "(null)");
    CHECK(err.issues != NULL);
    CHECK(r.uploaded[0] == '\0');
    smneo_error_clear(&err);
    CHECK(res == NULL);

    /* A cancel right after packing: nothing uploaded, no job. */
    rec_init(&r, lc, local.url);
    r.cancel_packed = 1;
    base_options(&o, model, "opts", &r);
    CHECK_INT(smneo_compile(&res, lc, &o, &err), SMNEO_ECANCELLED);
    CHECK(r.packed == 1 && r.uploaded[0] == '\0' && r.job[0] == '\0');
    CHECK_MSG(err.message && strstr(err.message, "pack: cancelled"), "message: %s", err.message ? err.message : "");
    smneo_error_clear(&err);

    /* ... and while packing. */
    rec_init(&r, lc, local.url);
    r.cancel_pack_progress = 1;
    base_options(&o, model, "opts", &r);
    CHECK_INT(smneo_compile(&res, lc, &o, &err), SMNEO_ECANCELLED);
    CHECK(r.pack_events == 1 && r.packed == 0 && r.uploaded[0] == '\0');
    CHECK_MSG(err.message && strstr(err.message, "pack: cancelled"), "message: %s", err.message ? err.message : "");
    smneo_error_clear(&err);
    free(model);
}


/* ---- a scripted SageMaker (S3 stays smneo.local) ------------------------------- */

typedef struct fake_sm {
    pthread_mutex_t lock;
    const char *digest;     /* ModelDigests.ArtifactDigest; NULL: none */
    const char *artifact;   /* ModelArtifacts.S3ModelArtifacts; NULL: none */
    const char *role;       /* RoleArn described */
    int conflict;           /* 1: the first create is answered by a closed connection, the next by ResourceInUse */
    int creates, stops;
    cJSON *created;         /* the last create's parameters, echoed by describe */
} fake_sm;

static char *str_of(const cJSON *o, const char *a, const char *b)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);
    if (b)
        v = cJSON_GetObjectItemCaseSensitive(v, b);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static void fake_handle(const test_http_request *req, test_http_response *resp, void *payload)
{
    fake_sm *f = payload;
    const char *target = test_http_header(req, "X-Amz-Target");
    const char *op = target && strchr(target, '.') ? strchr(target, '.') + 1 : "";
    cJSON *in = cJSON_ParseWithLength(req->body, req->body_len);
    snprintf(resp->headers, sizeof resp->headers,
             "Content-Type: application/x-amz-json-1.1\r\nx-amzn-RequestId: fake\r\n");
    resp->status = 200;
    cJSON *out = cJSON_CreateObject();
    pthread_mutex_lock(&f->lock);
    if (!strcmp(op, "CreateCompilationJob")) {
        int n = ++f->creates;
        cJSON_Delete(f->created);
        f->created = cJSON_Duplicate(in, 1);
        if (f->conflict && n == 1) {
            resp->status = 0;
        } else if (f->conflict) {
            resp->status = 400;
            cJSON_AddStringToObject(out, "__type", "ResourceInUse");
            cJSON_AddStringToObject(out, "message", "Resource Already Exists: Compilation job with name x already "
                                                    "exists. Choose a different name.");
        } else {
            cJSON_AddStringToObject(out, "CompilationJobArn", "arn:aws:sagemaker:us-east-1:123456789012:compilation-job/x");
        }
    } else if (!strcmp(op, "DescribeCompilationJob")) {
        /* The job as created (Tags are not described), with f->role. */
        cJSON_Delete(out);
        out = f->created ? cJSON_Duplicate(f->created, 1) : cJSON_CreateObject();
        cJSON_DeleteItemFromObject(out, "Tags");
        cJSON_DeleteItemFromObject(out, "RoleArn");
        cJSON_DeleteItemFromObject(out, "CompilationJobName");
        cJSON_AddStringToObject(out, "CompilationJobName", str_of(in, "CompilationJobName", NULL));
        cJSON_AddStringToObject(out, "CompilationJobArn", "arn:aws:sagemaker:us-east-1:123456789012:compilation-job/x");
        cJSON_AddStringToObject(out, "CompilationJobStatus", "COMPLETED");
        cJSON_AddStringToObject(out, "FailureReason", "");
        cJSON_AddStringToObject(out, "RoleArn", f->role);
        if (f->artifact)
            cJSON_AddStringToObject(cJSON_AddObjectToObject(out, "ModelArtifacts"), "S3ModelArtifacts", f->artifact);
        if (f->digest)
            cJSON_AddStringToObject(cJSON_AddObjectToObject(out, "ModelDigests"), "ArtifactDigest", f->digest);
    } else if (!strcmp(op, "StopCompilationJob")) {
        f->stops++;
    } else {
        resp->status = 400;
        cJSON_AddStringToObject(out, "__type", "UnknownOperationException");
    }
    pthread_mutex_unlock(&f->lock);
    resp->body = cJSON_PrintUnformatted(out);
    resp->body_len = strlen(resp->body);
    cJSON_Delete(out);
    cJSON_Delete(in);
}

static smneo_client *split_client(const char *sm_url, const char *s3_url)
{
    smneo_client_options o = SMNEO_CLIENT_OPTIONS_INIT;
    o.region = "us-east-1";
    o.endpoint_url = sm_url;
    o.s3_endpoint_url = s3_url;
    o.access_key_id = "test";
    o.secret_access_key = "test";
    o.retry_backoff_scale = 0.01;
    smneo_client *c = NULL;
    smneo_client_new(&c, &o, NULL);
    return c;
}

static int has_rule(const smneo_issues *is, const char *rule)
{
    for (size_t i = 0; i < smneo_issues_count(is); i++)
        if (!strcmp(smneo_issues_at(is, i)->rule, rule) && smneo_issues_at(is, i)->severity == SMNEO_SEVERITY_WARNING)
            return 1;
    return 0;
}

static void test_digest_forms_and_missing_artifacts(void)
{
    fake_sm f;
    memset(&f, 0, sizeof f);
    pthread_mutex_init(&f.lock, NULL);
    f.role = ROLE;
    test_http_server *srv = test_http_server_start(fake_handle, &f);
    CHECK(srv != NULL);
    if (!srv)
        return;
    smneo_client *c = split_client(test_http_server_url(srv), local.url);
    /* A compiled artifact the fake service points at. */
    char *model = make_model(work, "fake-sm", "fake");
    char arch[1024];
    snprintf(arch, sizeof arch, "%s/fake-compiled.tar.gz", work);
    smneo_artifact_pack_result *pr = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK(smneo_artifact_pack(&pr, model, arch, NULL, &err) == 0);
    const char *art_uri = "s3://" BUCKET "/fake/compiled/fake-compiled.tar.gz";
    CHECK(smneo_s3_upload(c, arch, art_uri, NULL, &err) == 0);
    char *outdir = NULL;
    CHECK(asprintf(&outdir, "%s/out-fake", work) > 0);
    rec r;
    smneo_compile_options o;
    smneo_compile_result *res = NULL;

    /* A digest form smneo cannot interpret: a warning, not a failure. */
    f.artifact = art_uri;
    f.digest = "md5:0123456789abcdef";
    rec_init(&r, c, local.url);
    base_options(&o, model, "fake", &r);
    o.output_dir = outdir;
    o.extract = 1;
    int rc = smneo_compile(&res, c, &o, &err);
    CHECK_MSG(rc == 0, "rc %d: %s", rc, err.message ? err.message : "");
    CHECK(res && smneo_compile_result_digest_verified(res) == 0);
    CHECK(res && has_rule(smneo_compile_result_issues(res), "compile.digest-form"));
    CHECK_MSG(strstr(r.warnings, "md5:0123456789abcdef") && strstr(r.warnings, "not verified"), "warnings: %s",
              r.warnings);
    CHECK(r.verified[0] == '\0');
    CHECK(res && smneo_compile_result_extracted_dir(res) && file_exists(smneo_compile_result_extracted_dir(res)));
    smneo_compile_result_free(res);
    smneo_error_clear(&err);

    /* The right digest in algorithm:hex form verifies. */
    char dig[160];
    snprintf(dig, sizeof dig, "blake2b:%s", pr ? smneo_artifact_pack_result_digest(pr) : "");
    f.digest = dig;
    rec_init(&r, c, local.url);
    base_options(&o, model, "fake", &r);
    o.output_dir = outdir;
    rc = smneo_compile(&res, c, &o, &err);
    CHECK_MSG(rc == 0, "rc %d: %s", rc, err.message ? err.message : "");
    CHECK(res && smneo_compile_result_digest_verified(res) == 1);
    CHECK_STR(r.verified, dig);
    smneo_compile_result_free(res);
    smneo_error_clear(&err);

    /* No digest at all: a warning. */
    f.digest = NULL;
    rec_init(&r, c, local.url);
    base_options(&o, model, "fake", &r);
    o.output_dir = outdir;
    rc = smneo_compile(&res, c, &o, &err);
    CHECK_MSG(rc == 0, "rc %d: %s", rc, err.message ? err.message : "");
    CHECK(res && !smneo_compile_result_digest_verified(res) &&
          has_rule(smneo_compile_result_issues(res), "compile.digest-missing"));
    smneo_compile_result_free(res);
    smneo_error_clear(&err);

    /* No ModelArtifacts: "compiled artifact not found at <output location>". */
    f.artifact = NULL;
    rec_init(&r, c, local.url);
    base_options(&o, model, "fake", &r);
    o.output_dir = outdir;
    rc = smneo_compile(&res, c, &o, &err);
    CHECK_INT(rc, SMNEO_ENOTFOUND);
    char expect[512];
    snprintf(expect, sizeof expect, "download: compiled artifact not found at s3://%s/fake/%s/output", BUCKET, r.job);
    CHECK_MSG(err.message && strstr(err.message, expect) == err.message, "message: %s", err.message ? err.message : "");
    smneo_error_clear(&err);

    /* A create retried after a lost answer meets ResourceInUse for a job
     * that is not ours (another role): the conflict is reported. */
    f.artifact = art_uri;
    f.conflict = 1;
    f.creates = 0;
    f.role = "arn:aws:iam::123456789012:role/SomeoneElse";
    rec_init(&r, c, local.url);
    base_options(&o, model, "fake", &r);
    rc = smneo_compile(&res, c, &o, &err);
    CHECK_INT(rc, SMNEO_EINUSE);
    CHECK_INT(f.creates, 2);
    CHECK_MSG(err.message && strstr(err.message, "create: Resource Already Exists") == err.message, "message: %s",
              err.message ? err.message : "");
    CHECK(r.job[0] == '\0'); /* no CREATED event */
    smneo_error_clear(&err);

    /* The same, but the job is ours: the flow goes on. */
    f.creates = 0;
    f.role = ROLE;
    rec_init(&r, c, local.url);
    base_options(&o, model, "fake", &r);
    o.output_dir = outdir;
    rc = smneo_compile(&res, c, &o, &err);
    CHECK_MSG(rc == 0, "rc %d: %s", rc, err.message ? err.message : "");
    CHECK_INT(f.creates, 2);
    CHECK(f.stops == 0);
    smneo_compile_result_free(res);
    smneo_error_clear(&err);

    smneo_artifact_pack_result_free(pr);
    smneo_client_free(c);
    test_http_server_stop(srv);
    cJSON_Delete(f.created);
    pthread_mutex_destroy(&f.lock);
    free(outdir);
    free(model);
}

/* ---- the step machine (smneo_compile_new), driven here ------------------------------- */

typedef struct work_arg {
    smneo_call *call;
    pthread_t ran_on;
} work_arg;

static void *work_thread(void *p)
{
    work_arg *a = p;
    a->ran_on = pthread_self();
    smneo_call_work(a->call);
    return NULL;
}

static int callback_must_not_run(const smneo_compile_event *ev, void *payload)
{
    (void)ev;
    ++*(int *)payload;
    return 0;
}

typedef struct steps_run {
    char kinds[4096];        /* event names in delivery order, "PACK,PACKED,..." */
    int works, works_elsewhere, events, pack_events;
    int cancel_at;           /* cancel after the first event of this kind (0: never) */
    int cancel_at_status;    /* cancel at the first STATUS before COMPLETED */
    char job[80];
} steps_run;

/* SEND with the client's transport, SLEEP here, WORK on a thread of its own
 * (joined before the next step: the machine is never touched meanwhile),
 * EVENT read with smneo_call_compile_event. */
static int drive_steps(smneo_compile_result **res, smneo_call *call, steps_run *s, smneo_error *err)
{
    pthread_t self = pthread_self();
    for (;;) {
        smneo_step st;
        smneo_call_next(&st, call);
        if (st.kind == SMNEO_STEP_SEND) {
            smneo_call_send(call, &st);
        } else if (st.kind == SMNEO_STEP_SLEEP) {
            struct timespec ts = {st.sleep_ms / 1000, (st.sleep_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        } else if (st.kind == SMNEO_STEP_WORK) {
            work_arg a = {call, self};
            pthread_t th;
            CHECK_INT(pthread_create(&th, NULL, work_thread, &a), 0);
            pthread_join(th, NULL);
            s->works++;
            s->works_elsewhere += !pthread_equal(a.ran_on, self);
        } else if (st.kind == SMNEO_STEP_EVENT) {
            CHECK_INT(st.event, SMNEO_EVENT_COMPILE);
            smneo_compile_event ev;
            CHECK_INT(smneo_call_compile_event(&ev, call), 0);
            s->events++;
            s->pack_events += ev.kind == SMNEO_COMPILE_EVENT_PACK;
            const char *name = smneo_compile_event_name(ev.kind);
            size_t n = strlen(s->kinds);
            /* progress and WAITING are many: each kind once in a row */
            size_t nl = strlen(name);
            int repeat = n > nl && !strncmp(s->kinds + n - nl - 1, name, nl) &&
                         (n - nl - 1 == 0 || s->kinds[n - nl - 2] == ',');
            if (!repeat || ev.kind == SMNEO_COMPILE_EVENT_STATUS)
                snprintf(s->kinds + n, sizeof s->kinds - n, "%s,", name);
            if (ev.kind == SMNEO_COMPILE_EVENT_CREATED)
                snprintf(s->job, sizeof s->job, "%s", ev.message);
            if (ev.kind == SMNEO_COMPILE_EVENT_STATUS)
                CHECK(ev.description != NULL);
            if ((s->cancel_at && (int)ev.kind == s->cancel_at) ||
                (s->cancel_at_status && ev.kind == SMNEO_COMPILE_EVENT_STATUS && strcmp(ev.message, "COMPLETED")))
                smneo_call_cancel(call);
        } else {
            break;
        }
    }
    int rc = smneo_call_compile_result(res, call, err);
    smneo_compile_result *again = NULL;
    CHECK_INT(smneo_call_compile_result(&again, call, NULL), SMNEO_EINVAL); /* handed over once */
    return rc;
}

static void test_steps_machine(void)
{
    char *model = make_model(work, "stepped", "steps");
    char *outdir = NULL;
    CHECK(asprintf(&outdir, "%s/out-steps", work) > 0);
    int called = 0;
    smneo_compile_options o;
    base_options(&o, model, "steps", NULL);
    o.callback = callback_must_not_run; /* the machine's events are EVENT steps */
    o.payload = &called;
    o.output_dir = outdir;
    smneo_call *call = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(smneo_compile_new(&call, lc, &o, &err), 0);
    steps_run s;
    memset(&s, 0, sizeof s);
    smneo_compile_result *res = NULL;
    int rc = drive_steps(&res, call, &s, &err);
    CHECK_MSG(rc == 0, "rc %d: %s", rc, err.message ? err.message : "");
    CHECK_INT(called, 0);
    /* prepare, upload, download: each a WORK step, run on the other thread */
    CHECK_INT(s.works, 3);
    CHECK_INT(s.works_elsewhere, 3);
    CHECK(s.pack_events > 0); /* raised on the work's thread, delivered here */
    CHECK_MSG(!strncmp(s.kinds, "PACK,PACKED,", 12), "events %s", s.kinds);
    CHECK_MSG(strstr(s.kinds, ",UPLOAD,UPLOADED,CREATED,STATUS,"), "events %s", s.kinds);
    CHECK_MSG(strstr(s.kinds, "STATUS,") && strstr(s.kinds, ",DOWNLOAD,VERIFIED,"), "events %s", s.kinds);
    const char *tail = ",DOWNLOAD,VERIFIED,";
    CHECK_MSG(strlen(s.kinds) > strlen(tail) && !strcmp(s.kinds + strlen(s.kinds) - strlen(tail), tail),
              "events %s", s.kinds);
    CHECK_STR(job_status(res), "COMPLETED");
    CHECK(res && smneo_compile_result_digest_verified(res) == 1);
    CHECK(res && file_exists(smneo_compile_result_artifact_path(res)));
    CHECK_STR(res ? smneo_compile_result_job_name(res) : NULL, s.job);
    smneo_compile_result_free(res);
    smneo_call_free(call);
    smneo_error_clear(&err);

    /* A cancel in answer to PACKED: the step that was running is named, nothing is uploaded. */
    CHECK_INT(smneo_compile_new(&call, lc, &o, &err), 0);
    memset(&s, 0, sizeof s);
    s.cancel_at = SMNEO_COMPILE_EVENT_PACKED;
    rc = drive_steps(&res, call, &s, &err);
    CHECK_INT(rc, SMNEO_ECANCELLED);
    CHECK(res == NULL);
    CHECK_MSG(err.message && strstr(err.message, "pack: cancelled"), "message: %s", err.message ? err.message : "");
    CHECK_MSG(!strstr(s.kinds, "UPLOAD"), "events %s", s.kinds);
    smneo_call_free(call);
    smneo_error_clear(&err);

    /* A cancel at a status: the job is stopped, as smneo_compile's callback would have it. */
    CHECK_INT(smneo_compile_new(&call, lc, &o, &err), 0);
    memset(&s, 0, sizeof s);
    s.cancel_at_status = 1;
    rc = drive_steps(&res, call, &s, &err);
    CHECK_INT(rc, SMNEO_ECANCELLED);
    CHECK_MSG(strstr(s.kinds, "STOPPING,"), "events %s", s.kinds);
    CHECK_MSG(err.message && strstr(err.message, "is being stopped"), "message: %s", err.message ? err.message : "");
    char *st = describe_status(lc, s.job);
    CHECK_MSG(st && (!strcmp(st, "STOPPING") || !strcmp(st, "STOPPED")), "status %s", st ? st : "(null)");
    free(st);
    smneo_call_free(call);
    smneo_error_clear(&err);

    /* smneo_call_cancel from the driving thread while the WORK step runs on
     * another: the pack stops (or the step after it is refused), nothing is
     * uploaded. */
    char big[1024];
    snprintf(big, sizeof big, "%s/weights.bin", model);
    FILE *bf = fopen(big, "wb");
    CHECK(bf != NULL);
    for (int i = 0; bf && i < 8 * 1024; i++) {
        unsigned char block[1024];
        for (size_t k = 0; k < sizeof block; k++)
            block[k] = (unsigned char)(rand() >> 7);
        fwrite(block, 1, sizeof block, bf);
    }
    if (bf)
        fclose(bf);
    CHECK_INT(smneo_compile_new(&call, lc, &o, &err), 0);
    smneo_step cs;
    smneo_call_next(&cs, call);
    CHECK_INT(cs.kind, SMNEO_STEP_WORK);
    work_arg wa = {call, pthread_self()};
    pthread_t wt;
    CHECK_INT(pthread_create(&wt, NULL, work_thread, &wa), 0);
    smneo_call_cancel(call); /* the one function allowed while the work runs */
    pthread_join(wt, NULL);
    memset(&s, 0, sizeof s);
    rc = drive_steps(&res, call, &s, &err);
    CHECK_INT(rc, SMNEO_ECANCELLED);
    CHECK_MSG(err.message && strstr(err.message, "pack: cancelled"), "message: %s", err.message ? err.message : "");
    CHECK_MSG(!strstr(s.kinds, "UPLOAD"), "events %s", s.kinds);
    smneo_call_free(call);
    smneo_error_clear(&err);
    unlink(big);

    /* Freed half-way (after its first WORK step): nothing leaks, the temporary archive is gone. */
    CHECK_INT(smneo_compile_new(&call, lc, &o, &err), 0);
    smneo_step stp;
    smneo_call_next(&stp, call);
    CHECK_INT(stp.kind, SMNEO_STEP_WORK);
    smneo_call_work(call);
    smneo_call_next(&stp, call);
    CHECK_INT(stp.kind, SMNEO_STEP_EVENT);
    smneo_call_free(call);
    free(outdir);
    free(model);
}

/* ---- the upload as TRANSFER steps (smneo_call_set_transfer_steps) ---------------------- */

typedef struct xfer_run {
    int works, transfers, call_heads, parts, creates, completes, aborts, puts;
    int upload_events_in_flight; /* UPLOAD events taken while the transfer was unfinished */
    int cancel_at_upload;        /* cancel at the first UPLOAD event with bytes sent */
    char kinds[4096];
} xfer_run;

static void xfer_event(smneo_call *call, xfer_run *s)
{
    smneo_compile_event ev;
    CHECK_INT(smneo_call_compile_event(&ev, call), 0);
    const char *name = smneo_compile_event_name(ev.kind);
    size_t n = strlen(s->kinds), nl = strlen(name);
    int repeat = n > nl && !strncmp(s->kinds + n - nl - 1, name, nl) && (n - nl - 1 == 0 || s->kinds[n - nl - 2] == ',');
    if (!repeat)
        snprintf(s->kinds + n, sizeof s->kinds - n, "%s,", name);
    if (s->cancel_at_upload && ev.kind == SMNEO_COMPILE_EVENT_UPLOAD && ev.done > 0)
        smneo_call_cancel(call);
}

/* Drives the upload as the machine hands it over: each SEND sent at once
 * with its body read from the transfer (one at a time, so never WAIT); on
 * each progress EVENT the call is stepped for its queued events (then
 * TRANSFER again: the same transfer). */
static void drive_transfer(smneo_call *call, smneo_transport *t, xfer_run *s)
{
    smneo_s3_transfer *x = smneo_call_transfer(call);
    CHECK(x != NULL);
    if (!x)
        return;
    for (;;) {
        smneo_s3_step st;
        smneo_s3_transfer_next(&st, x);
        if (st.kind == SMNEO_STEP_DONE)
            return;
        if (st.kind == SMNEO_STEP_SLEEP) {
            struct timespec ts = {0, st.sleep_ms * 1000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        if (st.kind == SMNEO_STEP_EVENT) {
            smneo_step cs;
            for (;;) {
                smneo_call_next(&cs, call);
                if (cs.kind != SMNEO_STEP_EVENT)
                    break;
                s->upload_events_in_flight++;
                xfer_event(call, s);
            }
            CHECK_INT(cs.kind, SMNEO_STEP_TRANSFER); /* the upload is not finished */
            CHECK(smneo_call_transfer(call) == x);
            continue;
        }
        CHECK_INT(st.kind, SMNEO_STEP_SEND);
        if (st.kind != SMNEO_STEP_SEND)
            return;
        const smneo_request *r = st.request;
        int part = strstr(r->url, "partNumber=") != NULL;
        s->parts += part;
        s->creates += !strcmp(r->method, "POST") && strstr(r->url, "?uploads") != NULL;
        s->completes += !strcmp(r->method, "POST") && strstr(r->url, "uploadId=") != NULL;
        s->aborts += !strcmp(r->method, "DELETE") && strstr(r->url, "uploadId=") != NULL;
        s->puts += !strcmp(r->method, "PUT") && !part;
        smneo_request copy = *r;
        char *body = NULL;
        if (!r->body && r->body_len > 0) { /* a streamed body: read it from the transfer */
            body = malloc(r->body_len);
            size_t got = 0;
            int64_t k;
            while (body && got < r->body_len && (k = smneo_s3_transfer_read(x, st.id, body + got, r->body_len - got)) > 0)
                got += (size_t)k;
            CHECK(body && got == r->body_len);
            copy.body = body;
        }
        smneo_response *resp = NULL;
        smneo_error te = SMNEO_ERROR_INIT;
        int rc = smneo_transport_send(&resp, t, &copy, &te);
        smneo_s3_transfer_feed(x, st.id, rc ? NULL : resp, rc, te.message);
        smneo_error_clear(&te);
        free(body);
    }
}

static int drive_with_transfers(smneo_compile_result **res, smneo_call *call, smneo_transport *t, xfer_run *s,
                                smneo_error *err)
{
    for (;;) {
        smneo_step st;
        smneo_call_next(&st, call);
        if (st.kind == SMNEO_STEP_SEND) {
            s->call_heads += !strcmp(st.request->method, "HEAD");
            smneo_call_send(call, &st);
        } else if (st.kind == SMNEO_STEP_SLEEP) {
            struct timespec ts = {0, st.sleep_ms * 1000000L};
            nanosleep(&ts, NULL);
        } else if (st.kind == SMNEO_STEP_WORK) {
            s->works++;
            smneo_call_work(call);
        } else if (st.kind == SMNEO_STEP_TRANSFER) {
            s->transfers++;
            drive_transfer(call, t, s);
        } else if (st.kind == SMNEO_STEP_EVENT) {
            xfer_event(call, s);
        } else {
            break;
        }
    }
    return smneo_call_compile_result(res, call, err);
}

static void test_transfer_steps(void)
{
    /* a model archive over the 64 MiB multipart threshold: 2 parts */
    char *dir = make_model(work, "big", "transfer");
    char p[1024];
    snprintf(p, sizeof p, "%s/weights.bin", dir);
    FILE *f = fopen(p, "wb");
    CHECK(f != NULL);
    unsigned long long seed = 88172645463325252ULL;
    static unsigned char block[1 << 16];
    for (int i = 0; f && i < 65 * 16 + 2; i++) {
        for (size_t k = 0; k < sizeof block; k += 8) {
            seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17; /* xorshift: incompressible */
            memcpy(block + k, &seed, 8);
        }
        fwrite(block, 1, sizeof block, f);
    }
    if (f)
        fclose(f);
    char *model = NULL;
    CHECK(asprintf(&model, "%s/big.tar.gz", work) > 0);
    smneo_pack_options po = SMNEO_PACK_OPTIONS_INIT;
    po.compress_level = 1;
    smneo_artifact_pack_result *pr = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(smneo_artifact_pack(&pr, dir, model, &po, &err), 0);
    CHECK(pr && smneo_artifact_pack_result_size(pr) > 64ULL * 1024 * 1024);
    smneo_artifact_pack_result_free(pr);
    unlink(p);
    smneo_transport *t = NULL;
    CHECK_INT(smneo_curl_transport_new(&t, NULL, &err), 0);
    smneo_compile_options o;
    base_options(&o, model, "xfer", NULL);
    o.callback = NULL;
    o.output_dir = work;

    /* opting in: only a compile machine, only before its first step */
    smneo_call *call = NULL;
    CHECK_INT(smneo_call_new(&call, lc, "ListCompilationJobs", "{}", 2, &err), 0);
    CHECK_INT(smneo_call_set_transfer_steps(call, 1), SMNEO_EINVAL);
    CHECK(smneo_call_transfer(call) == NULL);
    smneo_call_free(call);

    /* A cancel at the first UPLOAD event with bytes sent (taken while the parts are sent):
     * the multipart upload is aborted, the flow ends "upload: cancelled". */
    CHECK_INT(smneo_compile_new(&call, lc, &o, &err), 0);
    CHECK_INT(smneo_call_set_transfer_steps(call, 1), 0);
    xfer_run s;
    memset(&s, 0, sizeof s);
    s.cancel_at_upload = 1;
    smneo_compile_result *res = NULL;
    int rc = drive_with_transfers(&res, call, t, &s, &err);
    CHECK_INT(rc, SMNEO_ECANCELLED);
    CHECK_MSG(err.message && !strncmp(err.message, "upload: ", 8), "message: %s", err.message ? err.message : "");
    CHECK_INT(s.transfers >= 1, 1);
    CHECK_INT(s.creates, 1);
    CHECK_INT(s.aborts, 1);
    CHECK_INT(s.completes, 0);
    CHECK_INT(s.call_heads, 1); /* the upload-skip's HEAD: a SEND of the machine */
    CHECK_MSG(!strstr(s.kinds, "CREATED"), "events %s", s.kinds);
    smneo_compile_result_free(res);
    smneo_call_free(call);
    smneo_error_clear(&err);

    /* The whole flow: the HEAD as a SEND, the parts as the transfer's SENDs,
     * WORK only for the preparation and the download. */
    CHECK_INT(smneo_compile_new(&call, lc, &o, &err), 0);
    CHECK_INT(smneo_call_set_transfer_steps(call, 1), 0);
    memset(&s, 0, sizeof s);
    rc = drive_with_transfers(&res, call, t, &s, &err);
    CHECK_MSG(rc == 0, "rc %d: %s", rc, err.message ? err.message : "");
    CHECK_INT(smneo_call_set_transfer_steps(call, 0), SMNEO_EINVAL); /* stepped already */
    CHECK_INT(s.works, 2);
    CHECK_INT(s.transfers, 1);
    CHECK_INT(s.call_heads, 1);
    CHECK_INT(s.creates, 1);
    CHECK_INT(s.parts, 2);
    CHECK_INT(s.completes, 1);
    CHECK_INT(s.aborts, 0);
    CHECK(s.upload_events_in_flight > 0);
    CHECK_MSG(strstr(s.kinds, "PACKED,UPLOAD,UPLOADED,CREATED,STATUS,") || strstr(s.kinds, ",UPLOAD,UPLOADED,CREATED,STATUS,"),
              "events %s", s.kinds);
    CHECK_STR(job_status(res), "COMPLETED");
    CHECK(res && smneo_compile_result_digest_verified(res) == 1);
    smneo_compile_result_free(res);
    smneo_call_free(call);
    smneo_error_clear(&err);

    /* Again: the HEAD finds the same digest, nothing is uploaded, no TRANSFER step. */
    CHECK_INT(smneo_compile_new(&call, lc, &o, &err), 0);
    CHECK_INT(smneo_call_set_transfer_steps(call, 1), 0);
    memset(&s, 0, sizeof s);
    rc = drive_with_transfers(&res, call, t, &s, &err);
    CHECK_MSG(rc == 0, "rc %d: %s", rc, err.message ? err.message : "");
    CHECK_INT(s.transfers, 0);
    CHECK_INT(s.call_heads, 1);
    CHECK_MSG(strstr(s.kinds, "UPLOADED,CREATED,") && !strstr(s.kinds, ",UPLOAD,"), "events %s", s.kinds);
    smneo_compile_result_free(res);
    smneo_call_free(call);
    smneo_error_clear(&err);

    smneo_transport_free(t);
    unlink(model);
    free(model);
    free(dir);
}

/* ---- moto -------------------------------------------------------------------------- */

static void test_moto(void)
{
    smneo_test_server moto;
    char why[256] = "";
    int st = smneo_test_moto_start(&moto, why, sizeof why);
    if (st != 0) {
        const char *ci = getenv("CI");
        if (ci && !strcmp(ci, "true")) {
            CHECK_MSG(0, "moto_server is needed under CI=true: %s", why);
        } else {
            printf("SKIP test_moto: %s\n", why);
        }
        return;
    }
    smneo_client *mc = smneo_test_client(moto.url, NULL);
    CHECK_INT(smneo_test_create_bucket(moto.url, BUCKET), 200);
    char *model = make_model(work, "moto-model", "moto");
    char *outdir = NULL;
    CHECK(asprintf(&outdir, "%s/out-moto", work) > 0);
    rec r;
    rec_init(&r, mc, moto.url);
    smneo_compile_options o;
    base_options(&o, model, "moto", &r);
    o.output_dir = outdir;
    smneo_compile_result *res = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_compile(&res, mc, &o, &err);
    CHECK_INT(rc, SMNEO_ENOTFOUND);
    CHECK(res == NULL);
    CHECK_MSG(strstr(r.statuses, "COMPLETED,") != NULL, "statuses %s", r.statuses);
    CHECK_MSG(r.uploaded[0] && !strstr(r.uploaded, "already"), "uploaded %s", r.uploaded);
    char expect[512];
    snprintf(expect, sizeof expect, "compiled artifact not found at s3://%s/moto/%s/output", BUCKET, r.job);
    CHECK_MSG(err.message && strstr(err.message, expect), "message: %s\nexpected: %s",
              err.message ? err.message : "(null)", expect);
    smneo_error_clear(&err);
    smneo_client_free(mc);
    smneo_test_server_stop(&moto);
    free(outdir);
    free(model);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    RUN(test_job_names);
    work = smneo_test_tmpdir();
    static const char *const local_args[] = {"--job-duration", "1", NULL};
    if (smneo_test_local_start(&local, local_args) != 0) {
        CHECK_MSG(0, "could not start python3 -m smneo.local (PYTHONPATH=%s/python)", smneo_test_source_dir());
        smneo_test_server_stop(&local);
        return smneo_test_summary("compile");
    }
    lc = smneo_test_client(local.url, NULL);
    CHECK_INT(smneo_test_create_bucket(local.url, BUCKET), 200);
    RUN(test_cloud_target);
    RUN(test_edge_target);
    RUN(test_string_compiler_options);
    RUN(test_class_labels_reach_the_layout_check);
    RUN(test_kms_key);
    RUN(test_failed_job);
    RUN(test_follow_logs);
    RUN(test_failed_job_logs_denied);
    RUN(test_options_v1);
    RUN(test_cancel_stops_job);
    RUN(test_steps_machine);
    RUN(test_transfer_steps);
    RUN(test_timeout_stops_job);
    RUN(test_tampered_artifact);
    RUN(test_lost_create_answer);
    RUN(test_layout_error_uploads_nothing);
    RUN(test_bad_options);
    RUN(test_digest_forms_and_missing_artifacts);
    smneo_client_free(lc);
    smneo_test_server_stop(&local);
    RUN(test_moto);
    smneo_test_rmtree(work);
    free(work);
    return smneo_test_summary("compile");
}
