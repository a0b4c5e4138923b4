/* smneo_explain (smneo/diagnose.h): the catalogue compiles and is complete,
 * every case of tests/fixtures/diagnosis/cases.json is explained by its
 * entry (offline, and end to end: a job in smneo.local failed with each case
 * and with each failure of smneo.local's own catalogue, described, its log
 * read from GET /_smneo/logs), the matching order, not-failed and unknown
 * answers, the validation path, targets, the text, hostile input (huge and
 * many lines, invalid UTF-8, control characters, NUL bytes) and threads. */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diagnose_internal.h"
#include "harness.h"
#include "localserver.h"
#include "smneo.h"

static cJSON *fixture;

static cJSON *load_json(const char *path)
{
    size_t len;
    char *text = smneo_test_read_file(path, &len);
    cJSON *j = text ? cJSON_ParseWithLength(text, len) : NULL;
    free(text);
    return j;
}

static const char *str_of(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const smneo_failure_entry *entry_by_id(const char *id)
{
    for (size_t i = 0; i < smneo_diagnosis_catalogue_count(); i++)
        if (!strcmp(smneo_diagnosis_catalogue_at(i)->id, id))
            return smneo_diagnosis_catalogue_at(i);
    return NULL;
}

static int valid_utf8_printable(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        if (*p < 0x20 || *p == 0x7F)
            return 0;
        size_t n = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 : (*p >> 3) == 30 ? 4 : 0;
        if (!n)
            return 0;
        for (size_t i = 1; i < n; i++)
            if ((p[i] & 0xC0) != 0x80)
                return 0;
        if (n == 2 && p[0] == 0xC2 && p[1] < 0xA0) /* C1 control */
            return 0;
        p += n;
    }
    return 1;
}

/* A description like DescribeCompilationJob's for a fixture case. */
static char *case_description(const cJSON *c, const char *status, const char *name)
{
    cJSON *d = cJSON_CreateObject();
    if (name)
        cJSON_AddStringToObject(d, "CompilationJobName", name);
    cJSON_AddStringToObject(d, "CompilationJobStatus", status);
    if (str_of(c, "reason"))
        cJSON_AddStringToObject(d, "FailureReason", str_of(c, "reason"));
    cJSON *oc = cJSON_AddObjectToObject(d, "OutputConfig");
    cJSON_AddStringToObject(oc, "S3OutputLocation", "s3://models/out");
    const cJSON *platform = cJSON_GetObjectItemCaseSensitive(c, "platform");
    if (platform)
        cJSON_AddItemToObject(oc, "TargetPlatform", cJSON_Duplicate(platform, 1));
    else
        cJSON_AddStringToObject(oc, "TargetDevice", str_of(c, "target") ? str_of(c, "target") : "ml_c5");
    if (str_of(c, "compiler_options"))
        cJSON_AddStringToObject(oc, "CompilerOptions", str_of(c, "compiler_options"));
    char *s = cJSON_PrintUnformatted(d);
    cJSON_Delete(d);
    return s;
}

static const char **case_lines(const cJSON *c, size_t *n)
{
    const cJSON *log = cJSON_GetObjectItemCaseSensitive(c, "log");
    *n = (size_t)cJSON_GetArraySize(log);
    const char **lines = calloc(*n + 1, sizeof *lines);
    size_t i = 0;
    const cJSON *l;
    cJSON_ArrayForEach(l, log) lines[i++] = l->valuestring;
    return lines;
}

/* Checks a diagnosis against the expected id and evidence kind; the rule,
 * category and texts must be the catalogue entry's. */
static void check_diagnosis(const smneo_diagnosis *d, const char *what, const char *want_id,
                            const char *want_evidence)
{
    CHECK_MSG(d && !strcmp(smneo_diagnosis_id(d), want_id), "%s: diagnosed %s, expected %s", what,
              d ? smneo_diagnosis_id(d) : "(null)", want_id);
    if (!d)
        return;
    const smneo_failure_entry *e = entry_by_id(want_id);
    if (e) {
        CHECK_MSG(smneo_diagnosis_matched(d) && smneo_diagnosis_entry(d) == e, "%s: entry", what);
        CHECK_MSG(smneo_diagnosis_category(d) == e->category, "%s: category", what);
        CHECK_MSG((!e->rule && !smneo_diagnosis_rule(d)) ||
                      (e->rule && smneo_diagnosis_rule(d) && !strcmp(e->rule, smneo_diagnosis_rule(d))),
                  "%s: rule", what);
        CHECK_MSG(smneo_diagnosis_source(d) && !strncmp(smneo_diagnosis_source(d), "https://docs.aws.amazon.com/", 28),
                  "%s: source", what);
    } else {
        CHECK_MSG(!smneo_diagnosis_matched(d) && smneo_diagnosis_category(d) == SMNEO_FAILURE_SYSTEM, "%s: unknown",
                  what);
        CHECK_MSG(strstr(smneo_diagnosis_title(d), "does not recognise") != NULL, "%s: says so plainly", what);
    }
    smneo_evidence_kind k = smneo_diagnosis_evidence_kind(d);
    if (!strcmp(want_evidence, "log")) {
        CHECK_MSG(k == SMNEO_EVIDENCE_LOG && smneo_diagnosis_evidence_line(d) != (size_t)-1, "%s: evidence from log",
                  what);
    } else {
        CHECK_MSG(k == SMNEO_EVIDENCE_FAILURE_REASON && smneo_diagnosis_evidence(d) &&
                      smneo_diagnosis_failure_reason(d) &&
                      !strcmp(smneo_diagnosis_evidence(d), smneo_diagnosis_failure_reason(d)),
                  "%s: evidence from FailureReason (kind %d)", what, (int)k);
    }
}

/* ---- the catalogue ------------------------------------------------------------------ */

static void test_catalogue(void)
{
    const char *msg = NULL;
    CHECK_MSG(smneo__diagnose_self_check(&msg) == 0, "%s", msg ? msg : "");
    char path[4096];
    snprintf(path, sizeof path, "%s/model/neo-failures.json", smneo_test_source_dir());
    cJSON *data = load_json(path);
    CHECK(data != NULL);
    const cJSON *entries = cJSON_GetObjectItemCaseSensitive(data, "failures");
    CHECK_INT(smneo_diagnosis_catalogue_count(), cJSON_GetArraySize(entries));
    CHECK(smneo_diagnosis_catalogue_at(smneo_diagnosis_catalogue_count()) == NULL);
    size_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, entries)
    {
        const smneo_failure_entry *f = smneo_diagnosis_catalogue_at(i++);
        CHECK_STR(f->id, str_of(e, "id"));
        CHECK_STR(smneo_failure_category_name(f->category), str_of(e, "category"));
        CHECK(f->title && *f->title && f->cause && *f->cause && f->fix && *f->fix && f->source);
    }
    cJSON_Delete(data);
    /* every entry is the answer of some case */
    const cJSON *local = cJSON_GetObjectItemCaseSensitive(fixture, "local");
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(fixture, "cases");
    for (i = 0; i < smneo_diagnosis_catalogue_count(); i++) {
        const char *id = smneo_diagnosis_catalogue_at(i)->id;
        int hit = 0;
        const cJSON *c;
        cJSON_ArrayForEach(c, local) hit |= cJSON_IsString(c) && !strcmp(c->valuestring, id);
        cJSON_ArrayForEach(c, cases) hit |= str_of(c, "id") && !strcmp(str_of(c, "id"), id);
        CHECK_MSG(hit, "catalogue entry %s has no case in tests/fixtures/diagnosis/cases.json", id);
    }
    CHECK_STR(smneo_failure_category_name(SMNEO_FAILURE_NONE), "none");
    CHECK_STR(smneo_evidence_kind_name(SMNEO_EVIDENCE_FAILURE_REASON), "FailureReason");
    CHECK_STR(smneo_evidence_kind_name(SMNEO_EVIDENCE_LOG), "log");
    CHECK_STR(smneo_evidence_kind_name(SMNEO_EVIDENCE_VALIDATION), "validation");
    CHECK(smneo_evidence_kind_name(SMNEO_EVIDENCE_NONE) == NULL);
    CHECK_STR(smneo_failure_category_name((smneo_failure_category)99), "none");
}

/* ---- the fixture cases, offline ---------------------------------------------------------- */

static void test_cases_offline(void)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(fixture, "cases"))
    {
        char *desc = case_description(c, "FAILED", "job-1");
        size_t n;
        const char **lines = case_lines(c, &n);
        smneo_diagnosis *d = NULL;
        smneo_error err = SMNEO_ERROR_INIT;
        CHECK_INT(smneo_explain(&d, desc, strlen(desc), lines, NULL, n, &err), 0);
        check_diagnosis(d, str_of(c, "name"), str_of(c, "id"), str_of(c, "evidence"));
        CHECK(smneo_issues_count(smneo_diagnosis_issues(d)) == 0);
        /* the reason alone (no description but the reason) gives the same answer when it is the evidence */
        if (!strcmp(str_of(c, "evidence"), "FailureReason")) {
            smneo_diagnosis *d2 = NULL;
            cJSON *only = cJSON_CreateObject();
            cJSON_AddStringToObject(only, "FailureReason", str_of(c, "reason"));
            char *j = cJSON_PrintUnformatted(only);
            CHECK_INT(smneo_explain(&d2, j, strlen(j), NULL, NULL, 0, NULL), 0);
            if (!cJSON_GetObjectItemCaseSensitive(c, "target"))
                CHECK_MSG(d2 && !strcmp(smneo_diagnosis_id(d2), str_of(c, "id")), "%s: reason alone gives %s",
                          str_of(c, "name"), d2 ? smneo_diagnosis_id(d2) : "?");
            smneo_diagnosis_free(d2);
            free(j);
            cJSON_Delete(only);
        }
        smneo_diagnosis_free(d);
        smneo_error_clear(&err);
        free(lines);
        free(desc);
    }
}

/* ---- order, not-failed, unknown, validation, targets -------------------------------------- */

static smneo_diagnosis *explain_json(const char *json, const char *const *lines, size_t n)
{
    smneo_diagnosis *d = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_explain(&d, json, json ? strlen(json) : 0, lines, NULL, n, &err);
    CHECK_MSG(rc == 0, "smneo_explain: %d %s", rc, err.message ? err.message : "");
    smneo_error_clear(&err);
    return d;
}

static void test_not_failed_and_unknown(void)
{
    smneo_diagnosis *d = explain_json(
        "{\"CompilationJobName\":\"j\",\"CompilationJobStatus\":\"COMPLETED\",\"FailureReason\":\"OperatorNotImplemented\"}",
        NULL, 0);
    CHECK_STR(smneo_diagnosis_id(d), "not-failed");
    CHECK(smneo_diagnosis_category(d) == SMNEO_FAILURE_NONE && !smneo_diagnosis_matched(d));
    CHECK(strstr(smneo_diagnosis_cause(d), "COMPLETED") != NULL);
    CHECK(smneo_diagnosis_evidence(d) == NULL && smneo_diagnosis_source(d) == NULL);
    smneo_diagnosis_free(d);
    d = explain_json("{\"CompilationJobStatus\":\"INPROGRESS\"}", NULL, 0);
    CHECK_STR(smneo_diagnosis_id(d), "not-failed");
    CHECK(strstr(smneo_diagnosis_fix(d), "Wait") != NULL);
    smneo_diagnosis_free(d);

    d = explain_json("{\"CompilationJobStatus\":\"FAILED\",\"FailureReason\":\"ClientError: the moon is wrong\"}", NULL, 0);
    CHECK_STR(smneo_diagnosis_id(d), "unknown");
    CHECK(smneo_diagnosis_category(d) == SMNEO_FAILURE_SYSTEM);
    CHECK(strstr(smneo_diagnosis_cause(d), "system error") != NULL);
    CHECK_STR(smneo_diagnosis_evidence(d), "ClientError: the moon is wrong");
    char *text = NULL;
    CHECK_INT(smneo_diagnosis_format(&text, d), 0);
    CHECK(text && strstr(text, "Diagnosis: unknown (a system error): smneo does not recognise this failure"));
    free(text);
    smneo_diagnosis_free(d);

    d = explain_json(NULL, NULL, 0);
    CHECK_STR(smneo_diagnosis_id(d), "unknown");
    CHECK(strstr(smneo_diagnosis_cause(d), "Nothing to go on") != NULL);
    CHECK(smneo_diagnosis_evidence_kind(d) == SMNEO_EVIDENCE_NONE);
    smneo_diagnosis_free(d);

    /* log lines alone */
    const char *lines[] = {"starting", "OperatorAttributeRequired: Required attribute axis not found in Concat.", "bye"};
    d = explain_json(NULL, lines, 3);
    CHECK_STR(smneo_diagnosis_id(d), "operator-attribute-required");
    CHECK_INT(smneo_diagnosis_evidence_line(d), 1);
    smneo_diagnosis_free(d);

    /* a specific reason beats a log line of an earlier entry; the newest log line is the evidence */
    const char *log2[] = {"S3 object does not exist (old run)", "OperatorNotImplemented: first",
                          "OperatorNotImplemented: second", "done"};
    d = explain_json("{\"FailureReason\":\"ClientError: InputConfiguration: No h5 file provided in s3://b/k\"}", log2, 4);
    CHECK_STR(smneo_diagnosis_id(d), "keras-no-h5");
    smneo_diagnosis_free(d);
    d = explain_json("{\"FailureReason\":\"InternalServerError: boom\"}", log2 + 1, 3);
    CHECK_STR(smneo_diagnosis_id(d), "operator-not-implemented");
    CHECK_INT(smneo_diagnosis_evidence_line(d), 1);
    CHECK_STR(smneo_diagnosis_evidence(d), "OperatorNotImplemented: second");
    smneo_diagnosis_free(d);
    /* a generic reason with only generic log lines: the reason wins */
    const char *log3[] = {"An error occurred (SlowDown) when calling the GetObject operation"};
    d = explain_json("{\"FailureReason\":\"ClientError: InputConfiguration: TVM cannot convert ONNX model.\"}", log3, 1);
    CHECK_STR(smneo_diagnosis_id(d), "tvm-cannot-convert");
    CHECK(smneo_diagnosis_evidence_kind(d) == SMNEO_EVIDENCE_FAILURE_REASON);
    smneo_diagnosis_free(d);
}

static void test_validation_path(void)
{
    static const char fmt[] =
        "{\"CompilationJobName\":\"nv\",\"CompilationJobStatus\":\"FAILED\","
        "\"FailureReason\":\"%s\","
        "\"RoleArn\":\"arn:aws:iam::123456789012:role/NeoRole\","
        "\"InputConfig\":{\"S3Uri\":\"s3://models/in/model.tar.gz\",\"Framework\":\"PYTORCH\","
        "\"DataInputConfig\":\"{\\\"input0\\\": [1,3,224,224]}\"},"
        "\"OutputConfig\":{\"S3OutputLocation\":\"s3://models/out\","
        "\"TargetPlatform\":{\"Os\":\"LINUX\",\"Arch\":\"ARM64\",\"Accelerator\":\"NVIDIA\"},"
        "\"CompilerOptions\":\"{\\\"mcpu\\\": \\\"cortex-a72\\\"}\"},"
        "\"StoppingCondition\":{\"MaxRuntimeInSeconds\":900},"
        "\"CreationTime\":\"2024-01-01T00:00:00Z\",\"CompilationJobArn\":\"arn:x\"}";
    char desc[2048];
    snprintf(desc, sizeof desc, fmt, "InternalServerError: An internal error occurred while compiling the model.");
    smneo_diagnosis *d = explain_json(desc, NULL, 0);
    CHECK_STR(smneo_diagnosis_id(d), "nvidia-compiler-options");
    CHECK(smneo_diagnosis_evidence_kind(d) == SMNEO_EVIDENCE_VALIDATION);
    CHECK(smneo_diagnosis_evidence(d) && strstr(smneo_diagnosis_evidence(d), "neo.compiler-options.missing"));
    const smneo_issues *is = smneo_diagnosis_issues(d);
    CHECK_INT(smneo_issues_count(is), 3);
    for (size_t i = 0; i < smneo_issues_count(is); i++)
        CHECK_STR(smneo_issues_at(is, i)->rule, "neo.compiler-options.missing");
    char *text = NULL;
    CHECK_INT(smneo_diagnosis_format(&text, d), 0);
    CHECK(text && strstr(text, "Evidence (the job's parameters): OutputConfig.CompilerOptions.gpu-code"));
    CHECK(text && strstr(text, "FailureReason: InternalServerError"));
    free(text);
    smneo_diagnosis_free(d);

    /* a specific reason wins over the parameters, which are still reported */
    snprintf(desc, sizeof desc, fmt, "ClientError: InputConfiguration: Unable to untar input model.");
    d = explain_json(desc, NULL, 0);
    CHECK_STR(smneo_diagnosis_id(d), "not-tar-gz");
    CHECK_INT(smneo_issues_count(smneo_diagnosis_issues(d)), 3);
    CHECK_INT(smneo_diagnosis_format(&text, d), 0);
    CHECK(text && strstr(text, "The job's parameters also break validation rules:"));
    free(text);
    smneo_diagnosis_free(d);

    /* valid parameters: the generic reason stands, no issues */
    d = explain_json("{\"CompilationJobStatus\":\"FAILED\",\"FailureReason\":\"InternalServerError\","
                     "\"InputConfig\":{\"S3Uri\":\"s3://m/a.tar.gz\",\"Framework\":\"XGBOOST\"},"
                     "\"OutputConfig\":{\"S3OutputLocation\":\"s3://m/o\",\"TargetDevice\":\"ml_c5\"},"
                     "\"RoleArn\":\"arn:aws:iam::123456789012:role/R\",\"CompilationJobName\":\"ok\","
                     "\"StoppingCondition\":{\"MaxRuntimeInSeconds\":900}}",
                     NULL, 0);
    CHECK_STR(smneo_diagnosis_id(d), "system-error");
    CHECK_INT(smneo_issues_count(smneo_diagnosis_issues(d)), 0);
    smneo_diagnosis_free(d);
}

static void test_targets(void)
{
    static const char reason[] = "ClientError: InputConfiguration: no *config.json file found in the model archive";
    char buf[512];
    snprintf(buf, sizeof buf, "{\"FailureReason\":\"%s\",\"OutputConfig\":{\"TargetDevice\":\"ml_c5\"}}", reason);
    smneo_diagnosis *d = explain_json(buf, NULL, 0);
    CHECK_STR(smneo_diagnosis_id(d), "unknown");
    smneo_diagnosis_free(d);
    snprintf(buf, sizeof buf, "{\"FailureReason\":\"%s\",\"OutputConfig\":{\"TargetDevice\":\"amba_cv25\"}}", reason);
    d = explain_json(buf, NULL, 0);
    CHECK_STR(smneo_diagnosis_id(d), "ambarella-config");
    smneo_diagnosis_free(d);
    snprintf(buf, sizeof buf, "{\"FailureReason\":\"%s\"}", reason);
    d = explain_json(buf, NULL, 0);
    CHECK_STR(smneo_diagnosis_id(d), "ambarella-config");
    smneo_diagnosis_free(d);
}

/* ---- bad arguments and hostile input ---------------------------------------------------------- */

static void test_bad_arguments(void)
{
    smneo_diagnosis *d = (smneo_diagnosis *)1;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(smneo_explain(NULL, NULL, 0, NULL, NULL, 0, &err), SMNEO_EINVAL);
    smneo_error_clear(&err);
    CHECK_INT(smneo_explain(&d, "[1,2]", 5, NULL, NULL, 0, &err), SMNEO_EINVAL);
    CHECK(d == NULL && err.message && strstr(err.message, "not a JSON object"));
    smneo_error_clear(&err);
    CHECK_INT(smneo_explain(&d, "{\"FailureReason\":", 17, NULL, NULL, 0, &err), SMNEO_EINVAL);
    smneo_error_clear(&err);
    CHECK_INT(smneo_explain(&d, NULL, 0, NULL, NULL, 3, &err), SMNEO_EINVAL);
    smneo_error_clear(&err);
    const char *lines[] = {"a", NULL};
    CHECK_INT(smneo_explain(&d, NULL, 0, lines, NULL, 2, &err), SMNEO_EINVAL);
    CHECK(err.message && strstr(err.message, "line 1"));
    smneo_error_clear(&err);
    CHECK_INT(smneo_diagnosis_format(NULL, NULL), SMNEO_EINVAL);
    smneo_diagnosis_free(NULL);
    CHECK_STR(smneo_diagnosis_id(NULL), "unknown");
    /* a FailureReason of another JSON type counts as absent */
    CHECK_INT(smneo_explain(&d, "{\"FailureReason\":42,\"CompilationJobStatus\":[]}", 46, NULL, NULL, 0, NULL), 0);
    CHECK_STR(smneo_diagnosis_id(d), "unknown");
    smneo_diagnosis_free(d);
}

static void test_hostile_lines(void)
{
    /* a 4 MiB line, a line of bytes that are not UTF-8 with escape sequences and a NUL, many lines */
    size_t big = 4u << 20;
    char *huge = malloc(big);
    memset(huge, 'B', big);
    memcpy(huge, "Bucket ", 7);
    for (size_t i = 7; i + 32 < big; i += 32)
        memcpy(huge + i, " Bucket x is in region y which ", 31);
    static const char evil[] = "\xff\xfe\x1b[31mERROR\x1b[0m \x00 \xc0\xaf OperatorNotImplemented: \xe2\x82 'Grid\x07'\x9b"
                               " \xe2\x80\xae\xe2\x81\xa6\xe2\x80\xa8";
    size_t n = 50000;
    const char **lines = calloc(n, sizeof *lines);
    size_t *lens = calloc(n, sizeof *lens);
    for (size_t i = 0; i < n; i++) {
        lines[i] = "INFO: a quiet line of the compiler's output";
        lens[i] = strlen(lines[i]);
    }
    lines[0] = "OperatorAttributeRequired: too old to be read";
    lens[0] = strlen(lines[0]);
    lines[n - 3] = huge;
    lens[n - 3] = big;
    lines[n - 2] = evil;
    lens[n - 2] = sizeof evil - 1;
    smneo_diagnosis *d = NULL;
    CHECK_INT(smneo_explain(&d, NULL, 0, lines, lens, n, NULL), 0);
    CHECK_STR(smneo_diagnosis_id(d), "operator-not-implemented");
    CHECK_INT(smneo_diagnosis_evidence_line(d), n - 2);
    const char *ev = smneo_diagnosis_evidence(d);
    CHECK_MSG(ev && valid_utf8_printable(ev), "evidence not printable UTF-8: %s", ev ? ev : "(null)");
    CHECK(ev && strstr(ev, "OperatorNotImplemented") && strstr(ev, "\xEF\xBF\xBD"));
    CHECK(ev && !strstr(ev, "\xe2\x80\xae") && !strstr(ev, "\xe2\x81\xa6") && !strstr(ev, "\xe2\x80\xa8"));
    char *text = NULL;
    CHECK_INT(smneo_diagnosis_format(&text, d), 0);
    CHECK(text && !strchr(text, '\x1b') && !strchr(text, '\x07'));
    free(text);
    smneo_diagnosis_free(d);

    /* only the newest 20000 lines are read: line 0 is out of reach */
    lines[n - 2] = "nothing here";
    lens[n - 2] = strlen(lines[n - 2]);
    CHECK_INT(smneo_explain(&d, NULL, 0, lines, lens, n, NULL), 0);
    CHECK_STR(smneo_diagnosis_id(d), "unknown");
    smneo_diagnosis_free(d);

    /* a long matching line: the evidence is cut at a character boundary */
    size_t elen = 5000;
    char *longline = malloc(elen + 1);
    strcpy(longline, "OperatorNotImplemented: ");
    for (size_t i = strlen(longline); i + 2 <= elen; i += 2)
        memcpy(longline + i, "\xc3\xa9", 2);
    longline[elen - (elen - strlen("OperatorNotImplemented: ")) % 2] = 0;
    const char *one[] = {longline};
    d = explain_json(NULL, one, 1);
    ev = smneo_diagnosis_evidence(d);
    CHECK(ev && strlen(ev) <= 1024 + 3 && strlen(ev) > 900);
    CHECK(ev && !strcmp(ev + strlen(ev) - 3, "...") && valid_utf8_printable(ev));
    smneo_diagnosis_free(d);
    free(longline);

    /* a hostile FailureReason: control characters, invalid UTF-8, length */
    cJSON *o = cJSON_CreateObject();
    char *reason = malloc(100001);
    memset(reason, 'x', 100000);
    reason[100000] = 0;
    memcpy(reason, "\x1b]0;pwned\x07 No h5 file provided in \xff", 34);
    cJSON_AddStringToObject(o, "FailureReason", reason);
    cJSON_AddStringToObject(o, "CompilationJobName", "job\x1b[2J");
    char *json = cJSON_PrintUnformatted(o);
    d = explain_json(json, NULL, 0);
    CHECK_STR(smneo_diagnosis_id(d), "keras-no-h5");
    CHECK(valid_utf8_printable(smneo_diagnosis_failure_reason(d)) && valid_utf8_printable(smneo_diagnosis_job_name(d)));
    CHECK(strlen(smneo_diagnosis_failure_reason(d)) <= 4096 + 3);
    smneo_diagnosis_free(d);
    free(json);
    free(reason);
    cJSON_Delete(o);
    free(lines);
    free(lens);
    free(huge);
}

/* ---- threads: the first calls race to compile the catalogue ------------------------------------- */

static void *thread_main(void *arg)
{
    const char *lines[] = {"x", "OpAttributeInvalid: The value of attribute k in operator Pad is bad"};
    int *ok = arg;
    for (int i = 0; i < 50; i++) {
        smneo_diagnosis *d = NULL;
        if (smneo_explain(&d, NULL, 0, lines, NULL, 2, NULL) != 0 ||
            strcmp(smneo_diagnosis_id(d), "operator-attribute-invalid") != 0)
            *ok = 0;
        smneo_diagnosis_free(d);
    }
    return NULL;
}

static void test_threads(void)
{
    pthread_t t[4];
    int ok[4] = {1, 1, 1, 1};
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, thread_main, &ok[i]);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK(ok[i]);
    }
}

/* ---- end to end: jobs failed in smneo.local ---------------------------------------------------- */

static smneo_test_server local;
static smneo_client *lc;

/* smneo.local's fault texts are format strings: literal braces are doubled. */
static char *braces_doubled(const char *s)
{
    size_t n = 0;
    for (const char *p = s; *p; p++)
        n += (*p == '{' || *p == '}') ? 2 : 1;
    char *out = malloc(n + 1), *o = out;
    for (const char *p = s; *p; p++) {
        *o++ = *p;
        if (*p == '{' || *p == '}')
            *o++ = *p;
    }
    *o = 0;
    return out;
}

static int add_fault(const char *job, const char *failure, const cJSON *c)
{
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "kind", "fail");
    cJSON_AddStringToObject(f, "job", job);
    if (failure) {
        cJSON_AddStringToObject(f, "failure", failure);
    } else {
        char *r = braces_doubled(str_of(c, "reason"));
        cJSON_AddStringToObject(f, "reason", r);
        free(r);
        cJSON *log = cJSON_AddArrayToObject(f, "log");
        const cJSON *l;
        cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(c, "log"))
        {
            char *x = braces_doubled(l->valuestring);
            cJSON_AddItemToArray(log, cJSON_CreateString(x));
            free(x);
        }
    }
    char *body = cJSON_PrintUnformatted(f);
    cJSON_Delete(f);
    char url[512];
    snprintf(url, sizeof url, "%s/_smneo/faults", local.url);
    int st = smneo_test_http("POST", url, body, 0, NULL);
    free(body);
    return st;
}

static int create_job(const char *job, const cJSON *c)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "CompilationJobName", job);
    cJSON_AddStringToObject(p, "RoleArn", "arn:aws:iam::123456789012:role/NeoRole");
    cJSON *ic = cJSON_AddObjectToObject(p, "InputConfig");
    cJSON_AddStringToObject(ic, "S3Uri", "s3://models/in/model.tar.gz");
    const char *fw = c && str_of(c, "framework") ? str_of(c, "framework") : "PYTORCH";
    cJSON_AddStringToObject(ic, "Framework", fw);
    cJSON_AddStringToObject(ic, "DataInputConfig", strcmp(fw, "PYTORCH") == 0 ? "{\"input0\": [1,3,224,224]}"
                                                   : strcmp(fw, "TENSORFLOW") == 0 ? "{\"input\": [1,224,224,3]}"
                                                                                   : "{\"data\": [1,3,416,416]}");
    char *desc = c ? case_description(c, "FAILED", NULL) : NULL;
    cJSON *d = desc ? cJSON_Parse(desc) : NULL;
    cJSON *oc = d ? cJSON_DetachItemFromObjectCaseSensitive(d, "OutputConfig") : NULL;
    if (!oc) {
        oc = cJSON_CreateObject();
        cJSON_AddStringToObject(oc, "S3OutputLocation", "s3://models/out");
        cJSON_AddStringToObject(oc, "TargetDevice", "ml_c5");
    }
    cJSON_AddItemToObject(p, "OutputConfig", oc);
    cJSON_Delete(d);
    free(desc);
    cJSON *sc = cJSON_AddObjectToObject(p, "StoppingCondition");
    cJSON_AddNumberToObject(sc, "MaxRuntimeInSeconds", 900);
    char *json = cJSON_PrintUnformatted(p);
    cJSON_Delete(p);
    smneo_result *r = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_client_call(&r, lc, "CreateCompilationJob", json, strlen(json), &err);
    if (rc)
        fprintf(stderr, "create %s: %s\n", job, err.message ? err.message : "?");
    smneo_result_free(r);
    smneo_error_clear(&err);
    free(json);
    return rc;
}

/* DescribeCompilationJob as JSON once the job has ended (NULL after ~30 s). */
static char *describe_ended(const char *job)
{
    char params[256];
    snprintf(params, sizeof params, "{\"CompilationJobName\":\"%s\"}", job);
    for (int i = 0; i < 300; i++) {
        smneo_result *r = NULL;
        smneo_error err = SMNEO_ERROR_INIT;
        int rc = smneo_client_call(&r, lc, "DescribeCompilationJob", params, strlen(params), &err);
        smneo_error_clear(&err);
        if (rc)
            return NULL;
        smneo_value root, st;
        smneo_result_root(&root, r);
        const char *s = smneo_value_get(&st, &root, "CompilationJobStatus") == 0 ? smneo_value_string(&st) : NULL;
        char *json = NULL;
        if (s && strcmp(s, "STARTING") && strcmp(s, "INPROGRESS"))
            smneo_value_to_json(&json, &root);
        smneo_result_free(r);
        if (json)
            return json;
        usleep(100 * 1000);
    }
    return NULL;
}

/* The job's log lines from GET /_smneo/logs (caller frees the array and the doc). */
static const char **job_log(const char *job, size_t *n, cJSON **doc)
{
    char url[512];
    snprintf(url, sizeof url, "%s/_smneo/logs?job=%s", local.url, job);
    char *body = NULL;
    int st = smneo_test_http("GET", url, NULL, 0, &body);
    *doc = st == 200 && body ? cJSON_Parse(body) : NULL;
    free(body);
    const cJSON *events = cJSON_GetObjectItemCaseSensitive(*doc, "events");
    *n = (size_t)cJSON_GetArraySize(events);
    const char **lines = calloc(*n + 1, sizeof *lines);
    size_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, events) lines[i++] = str_of(e, "message");
    return lines;
}

static void explain_live(const char *job, const char *what, const char *want_id, const char *want_evidence)
{
    char *desc = describe_ended(job);
    CHECK_MSG(desc != NULL, "%s: the job did not end", what);
    if (!desc)
        return;
    cJSON *doc = NULL;
    size_t n = 0;
    const char **lines = job_log(job, &n, &doc);
    CHECK_MSG(n >= 3, "%s: only %zu log lines", what, n);
    smneo_diagnosis *d = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(smneo_explain(&d, desc, strlen(desc), lines, NULL, n, &err), 0);
    check_diagnosis(d, what, want_id, want_evidence);
    CHECK_STR(smneo_diagnosis_status(d), "FAILED");
    CHECK_STR(smneo_diagnosis_job_name(d), job);
    smneo_diagnosis_free(d);
    smneo_error_clear(&err);
    free(lines);
    cJSON_Delete(doc);
    free(desc);
}

static void test_live(void)
{
    const cJSON *local_map = cJSON_GetObjectItemCaseSensitive(fixture, "local");
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(fixture, "cases");
    const cJSON *c;
    int k = 0;
    char job[64];
    /* every failure of smneo.local's own catalogue, then every case */
    cJSON_ArrayForEach(c, local_map)
    {
        snprintf(job, sizeof job, "diag-c-local-%d", k++);
        CHECK_INT(add_fault(job, c->string, NULL), 200);
        CHECK_INT(create_job(job, NULL), 0);
    }
    k = 0;
    cJSON_ArrayForEach(c, cases)
    {
        snprintf(job, sizeof job, "diag-c-case-%d", k++);
        CHECK_INT(add_fault(job, NULL, c), 200);
        CHECK_INT(create_job(job, c), 0);
    }
    k = 0;
    cJSON_ArrayForEach(c, local_map)
    {
        snprintf(job, sizeof job, "diag-c-local-%d", k++);
        char what[128];
        snprintf(what, sizeof what, "smneo.local %s", c->string);
        explain_live(job, what, c->valuestring, "FailureReason");
    }
    k = 0;
    cJSON_ArrayForEach(c, cases)
    {
        snprintf(job, sizeof job, "diag-c-case-%d", k++);
        explain_live(job, str_of(c, "name"), str_of(c, "id"), str_of(c, "evidence"));
    }
    /* a completed job: nothing to explain */
    char *dir = smneo_test_tmpdir(), archive[4096], model[4096];
    snprintf(archive, sizeof archive, "%s/model.tar.gz", dir);
    snprintf(model, sizeof model, "%s/examples/model", smneo_test_source_dir());
    smneo_pack_options po = SMNEO_PACK_OPTIONS_INIT;
    smneo_artifact_pack_result *pr = NULL;
    CHECK_INT(smneo_artifact_pack(&pr, model, archive, &po, NULL), 0);
    smneo_artifact_pack_result_free(pr);
    CHECK_INT(smneo_s3_upload(lc, archive, "s3://models/in/model.tar.gz", NULL, NULL), 0);
    smneo_test_rmtree(dir);
    free(dir);
    CHECK_INT(create_job("diag-c-ok", NULL), 0);
    char *desc = describe_ended("diag-c-ok");
    smneo_diagnosis *d = desc ? explain_json(desc, NULL, 0) : NULL;
    CHECK(d && !strcmp(smneo_diagnosis_id(d), "not-failed") && strstr(smneo_diagnosis_cause(d), "COMPLETED"));
    smneo_diagnosis_free(d);
    free(desc);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    fixture = load_json(smneo_test_fixture("diagnosis/cases.json"));
    if (!fixture) {
        CHECK_MSG(0, "cannot read %s", smneo_test_fixture("diagnosis/cases.json"));
        return smneo_test_summary("diagnose");
    }
    RUN(test_threads);
    RUN(test_catalogue);
    RUN(test_cases_offline);
    RUN(test_not_failed_and_unknown);
    RUN(test_validation_path);
    RUN(test_targets);
    RUN(test_bad_arguments);
    RUN(test_hostile_lines);
    static const char *const args[] = {"--job-duration", "0.2", NULL};
    if (smneo_test_local_start(&local, args) != 0) {
        CHECK_MSG(0, "could not start python3 -m smneo.local (PYTHONPATH=%s/python)", smneo_test_source_dir());
    } else {
        lc = smneo_test_client(local.url, NULL);
        CHECK_INT(smneo_test_create_bucket(local.url, "models"), 200);
        RUN(test_live);
        smneo_client_free(lc);
        smneo_test_server_stop(&local);
    }
    cJSON_Delete(fixture);
    return smneo_test_summary("diagnose");
}
