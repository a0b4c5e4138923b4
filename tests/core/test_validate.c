/* Validation: every case of tests/fixtures/validation/cases.json (shared with
 * the Python and Lua suites), the coverage of every rule id documented in
 * docs/validation.md, and unit tests of the C entry point. */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "smneo/validate.h"
#include "validate_internal.h"

/* ------------------------------------------------------------------ helpers */

static int has_issue(const smneo_issues *iss, smneo_severity sev, const char *path, const char *rule)
{
    for (size_t i = 0; i < smneo_issues_count(iss); i++) {
        const smneo_issue *it = smneo_issues_at(iss, i);
        if (it->severity == sev && !strcmp(it->path, path) && !strcmp(it->rule, rule))
            return 1;
    }
    return 0;
}

static void dump_issues(const char *name, const smneo_issues *iss)
{
    for (size_t i = 0; i < smneo_issues_count(iss); i++) {
        const smneo_issue *it = smneo_issues_at(iss, i);
        fprintf(stderr, "    [%s] %s: %s: %s\n", it->severity == SMNEO_SEVERITY_ERROR ? "error" : "warning",
                it->path[0] ? it->path : "\"\"", it->rule, it->message);
    }
    (void)name;
}

static smneo_issues *validate_text(const char *op, const char *json, int allow_unknown, int *rc_out)
{
    smneo_validate_options opts = SMNEO_VALIDATE_OPTIONS_INIT;
    opts.allow_unknown_enum_values = allow_unknown;
    smneo_issues *iss = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_validate(&iss, op, json, strlen(json), &opts, &err);
    if (rc_out)
        *rc_out = rc;
    smneo_error_clear(&err);
    return iss;
}

/* ------------------------------------------------------------------ rule coverage */

#define MAX_RULES 128
static struct {
    char id[96];
    int invalid, valid;
} rules[MAX_RULES];
static size_t nrules;

static int rule_index(const char *id, int add)
{
    for (size_t i = 0; i < nrules; i++)
        if (!strcmp(rules[i].id, id))
            return (int)i;
    if (!add || nrules >= MAX_RULES)
        return -1;
    snprintf(rules[nrules].id, sizeof rules[nrules].id, "%s", id);
    return (int)nrules++;
}

/* Rule ids are the "### `id`" headings of docs/validation.md. */
static void load_documented_rules(void)
{
    const char *src = getenv("SMNEO_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/docs/validation.md", src ? src : ".");
    char *doc = smneo_test_read_file(path, NULL);
    CHECK_MSG(doc != NULL, "cannot read %s", path);
    if (!doc)
        return;
    for (char *line = doc; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        if (!strncmp(line, "### `", 5)) {
            char *end = strchr(line + 5, '`');
            if (end) {
                *end = 0;
                rule_index(line + 5, 1);
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    free(doc);
    CHECK_MSG(nrules >= 20, "only %zu rule ids documented", nrules);
}

/* ------------------------------------------------------------------ fixtures */

static int match_list(const char *name, const cJSON *list, const smneo_issues *iss, smneo_severity sev)
{
    int ok = 1;
    const cJSON *e;
    cJSON_ArrayForEach(e, list)
    {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(e, "path");
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(e, "rule");
        if (!cJSON_IsString(p) || !cJSON_IsString(r)) {
            CHECK_MSG(0, "%s: malformed expectation", name);
            ok = 0;
            continue;
        }
        int idx = rule_index(r->valuestring, 0);
        CHECK_MSG(idx >= 0, "%s: rule %s is not documented in docs/validation.md", name, r->valuestring);
        if (idx >= 0)
            rules[idx].invalid++;
        int found = has_issue(iss, sev, p->valuestring, r->valuestring);
        CHECK_MSG(found, "%s: expected %s at \"%s\" rule %s", name, sev == SMNEO_SEVERITY_ERROR ? "error" : "warning",
                  p->valuestring, r->valuestring);
        ok &= found;
    }
    return ok;
}

static int in_expected(const cJSON *list, const smneo_issue *it)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, list)
    {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(e, "path");
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(e, "rule");
        if (cJSON_IsString(p) && cJSON_IsString(r) && !strcmp(p->valuestring, it->path) &&
            !strcmp(r->valuestring, it->rule))
            return 1;
    }
    return 0;
}

static void run_case(const cJSON *c, size_t index)
{
    const cJSON *jname = cJSON_GetObjectItemCaseSensitive(c, "name");
    const cJSON *jop = cJSON_GetObjectItemCaseSensitive(c, "operation");
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(c, "params");
    const cJSON *raw = cJSON_GetObjectItemCaseSensitive(c, "params_json");
    const cJSON *errors = cJSON_GetObjectItemCaseSensitive(c, "errors");
    const cJSON *warnings = cJSON_GetObjectItemCaseSensitive(c, "warnings");
    const cJSON *opts = cJSON_GetObjectItemCaseSensitive(c, "options");
    const cJSON *about = cJSON_GetObjectItemCaseSensitive(c, "rule");
    char name[256];
    snprintf(name, sizeof name, "case %zu (%s)", index, cJSON_IsString(jname) ? jname->valuestring : "?");
    if (!cJSON_IsString(jop) || !(cJSON_IsObject(params) || cJSON_IsString(raw)) || !cJSON_IsArray(errors)) {
        CHECK_MSG(0, "%s: malformed case", name);
        return;
    }
    char *text = cJSON_IsString(raw) ? strdup(raw->valuestring) : cJSON_PrintUnformatted(params);
    int allow = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(opts, "allow_unknown_enum_values"));
    int rc = 0;
    smneo_validate_options vopts = SMNEO_VALIDATE_OPTIONS_INIT;
    vopts.allow_unknown_enum_values = allow;
    smneo_issues *iss = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    rc = smneo_validate(&iss, jop->valuestring, text, strlen(text), &vopts, &err);
    if (rc == SMNEO_EVALIDATION && !iss) { /* the issue travels with the error */
        iss = err.issues;
        err.issues = NULL;
    }
    smneo_error_clear(&err);
    free(text);
    const cJSON *jrc = cJSON_GetObjectItemCaseSensitive(c, "result");
    if (cJSON_IsString(jrc) && !strcmp(jrc->valuestring, "invalid-params"))
        CHECK_MSG(rc == SMNEO_EVALIDATION, "%s: rc %d, expected SMNEO_EVALIDATION", name, rc);
    else
        CHECK_MSG(rc == 0, "%s: rc %d", name, rc);
    if (!iss) {
        CHECK_MSG(0, "%s: no issues list", name);
        return;
    }
    int ok = match_list(name, errors, iss, SMNEO_SEVERITY_ERROR);
    if (warnings)
        ok &= match_list(name, warnings, iss, SMNEO_SEVERITY_WARNING);
    for (size_t i = 0; i < smneo_issues_count(iss); i++) {
        const smneo_issue *it = smneo_issues_at(iss, i);
        CHECK_MSG(it->message && it->message[0], "%s: issue without a message", name);
        CHECK_MSG(rule_index(it->rule, 0) >= 0, "%s: emitted rule %s is not documented", name, it->rule);
        if (it->severity != SMNEO_SEVERITY_ERROR)
            continue;
        int expected = in_expected(errors, it);
        CHECK_MSG(expected, "%s: unexpected error at \"%s\" rule %s: %s", name, it->path, it->rule, it->message);
        ok &= expected;
    }
    /* "rule": "id" or ["id", ...]: the case shows valid input for these rules */
    const cJSON *one = cJSON_IsString(about) ? about : NULL;
    const cJSON *each = cJSON_IsArray(about) ? about->child : one;
    for (; each; each = one ? NULL : each->next) {
        if (!cJSON_IsString(each))
            continue;
        int idx = rule_index(each->valuestring, 0);
        CHECK_MSG(idx >= 0, "%s: case is about undocumented rule %s", name, each->valuestring);
        int fired = 0;
        for (size_t i = 0; i < smneo_issues_count(iss); i++)
            fired |= !strcmp(smneo_issues_at(iss, i)->rule, each->valuestring);
        CHECK_MSG(!fired, "%s: case shows valid input for %s but that rule fired", name, each->valuestring);
        if (idx >= 0 && !fired)
            rules[idx].valid++;
    }
    if (!ok || getenv("SMNEO_VALIDATE_VERBOSE")) {
        fprintf(stderr, "  issues of %s:\n", name);
        dump_issues(name, iss);
    }
    smneo_issues_free(iss);
}

static void test_fixture_cases(void)
{
    load_documented_rules();
    size_t len = 0;
    char *text = smneo_test_read_file(smneo_test_fixture("validation/cases.json"), &len);
    CHECK_MSG(text != NULL, "cannot read validation/cases.json");
    if (!text)
        return;
    cJSON *cases = cJSON_ParseWithLength(text, len);
    free(text);
    CHECK_MSG(cJSON_IsArray(cases), "cases.json must be a JSON array");
    size_t i = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cases) run_case(c, i++);
    CHECK_MSG(i >= 100, "only %zu fixture cases", i);
    cJSON_Delete(cases);
    /* every documented rule has an invalid case and a valid case */
    for (size_t r = 0; r < nrules; r++) {
        /* invalid UTF-8 cannot be written in a JSON fixture: tested below in C */
        if (!strcmp(rules[r].id, "encoding"))
            continue;
        CHECK_MSG(rules[r].invalid > 0, "rule %s has no failing fixture case", rules[r].id);
        CHECK_MSG(rules[r].valid > 0, "rule %s has no passing fixture case (\"rule\": \"%s\" with no issue of it)",
                  rules[r].id, rules[r].id);
    }
}

/* ------------------------------------------------------------------ entry point */

static void test_return_codes(void)
{
    smneo_issues *iss = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_validate(&iss, "CreateCompilationJobs", "{}", 2, NULL, &err);
    CHECK_INT(rc, SMNEO_EINVAL);
    CHECK(iss == NULL);
    CHECK(err.message && strstr(err.message, "CreateCompilationJob"));
    smneo_error_clear(&err);

    /* not an object: the one issue travels with the error... */
    rc = smneo_validate(&iss, "DescribeCompilationJob", "[1,2]", 5, NULL, &err);
    CHECK_INT(rc, SMNEO_EVALIDATION);
    CHECK(iss == NULL);
    CHECK_INT(err.code, SMNEO_EVALIDATION);
    CHECK_INT(smneo_issues_count(err.issues), 1);
    CHECK_STR(smneo_issues_at(err.issues, 0)->path, "");
    CHECK_STR(smneo_issues_at(err.issues, 0)->rule, "type");
    CHECK(err.message && strstr(err.message, "JSON object"));
    smneo_error_clear(&err);

    /* ...or comes in *out when there is no error struct */
    rc = smneo_validate(&iss, "DescribeCompilationJob", "{\"CompilationJobName\": ", 23, NULL, NULL);
    CHECK_INT(rc, SMNEO_EVALIDATION);
    CHECK_INT(smneo_issues_count(iss), 1);
    CHECK_STR(smneo_issues_at(iss, 0)->rule, "json");
    smneo_issues_free(iss);
    iss = NULL;

    /* trailing garbage is not a JSON object */
    const char *trail = "{\"CompilationJobName\": \"a\"} x";
    rc = smneo_validate(&iss, "DescribeCompilationJob", trail, strlen(trail), NULL, NULL);
    CHECK_INT(rc, SMNEO_EVALIDATION);
    smneo_issues_free(iss);

    /* the length is honoured: the text need not be NUL-terminated */
    const char *two = "{\"CompilationJobName\": \"a\"}GARBAGE";
    rc = smneo_validate(&iss, "describe_compilation_job", two, 27, NULL, NULL);
    CHECK_INT(rc, 0);
    CHECK_INT(smneo_issues_count(iss), 0);
    smneo_issues_free(iss);

    CHECK_INT(smneo_validate(NULL, "DescribeCompilationJob", "{}", 2, NULL, NULL), SMNEO_EINVAL);
    smneo_validate_options bad = {0, 0};
    CHECK_INT(smneo_validate(&iss, "DescribeCompilationJob", "{}", 2, &bad, NULL), SMNEO_EINVAL);
}

static void test_messages(void)
{
    int rc;
    smneo_issues *iss = validate_text(
        "CreateCompilationJob",
        "{\"CompilationJobName\":\"j\",\"RoleArn\":\"arn:aws:iam::123456789012:role/R\","
        "\"InputConfig\":{\"S3Uri\":\"s3://b/m.tar.gz\",\"Framework\":\"XGBOOST\"},"
        "\"OutputConfig\":{\"S3OutputLocation\":\"s3://b/o\",\"TargetDevices\":\"ml_c5\"},"
        "\"StoppingCondition\":{\"MaxRuntimeInSeconds\":900}}",
        0, &rc);
    CHECK_INT(rc, 0);
    const smneo_issue *hit = NULL;
    for (size_t i = 0; i < smneo_issues_count(iss); i++)
        if (!strcmp(smneo_issues_at(iss, i)->rule, "unknown-member"))
            hit = smneo_issues_at(iss, i);
    CHECK(hit && !strcmp(hit->path, "OutputConfig.TargetDevices"));
    CHECK(hit && strstr(hit->message, "did you mean TargetDevice?"));
    smneo_issues_free(iss);

    iss = validate_text("ListCompilationJobs", "{\"StatusEquals\":\"COMPLETE\"}", 0, &rc);
    CHECK_INT(smneo_issues_count(iss), 1);
    CHECK(smneo_issues_count(iss) == 1 && strstr(smneo_issues_at(iss, 0)->message, "did you mean COMPLETED?"));
    smneo_issues_free(iss);

    /* a number written as a string: the message shows how to write it */
    iss = validate_text("ListCompilationJobs", "{\"MaxResults\":\"50\"}", 0, &rc);
    CHECK(smneo_issues_count(iss) == 1 && strstr(smneo_issues_at(iss, 0)->message, "without quotes: 50"));
    smneo_issues_free(iss);

    /* a value given at the wrong level: suggested with its full path */
    iss = validate_text("ListCompilationJobs", "{\"maxresults\":5}", 0, &rc);
    CHECK(smneo_issues_count(iss) == 1 && strstr(smneo_issues_at(iss, 0)->message, "did you mean MaxResults?"));
    smneo_issues_free(iss);
}

static void test_lengths_in_code_points(void)
{
    /* 256 two-byte characters: 512 bytes but 256 characters = TagValue max */
    char value[600], json[1200];
    size_t o = 0;
    for (int i = 0; i < 256; i++) {
        value[o++] = (char)0xC3;
        value[o++] = (char)0xA9; /* é */
    }
    value[o] = 0;
    const char *base = "{\"CompilationJobName\":\"j\",\"RoleArn\":\"arn:aws:iam::123456789012:role/R\","
                       "\"InputConfig\":{\"S3Uri\":\"s3://b/m.tar.gz\",\"Framework\":\"XGBOOST\"},"
                       "\"OutputConfig\":{\"S3OutputLocation\":\"s3://b/o\",\"TargetDevice\":\"ml_c5\"},"
                       "\"StoppingCondition\":{\"MaxRuntimeInSeconds\":900},";
    snprintf(json, sizeof json, "%s\"Tags\":[{\"Key\":\"k\",\"Value\":\"%s\"}]}", base, value);
    int rc;
    smneo_issues *iss = validate_text("CreateCompilationJob", json, 0, &rc);
    CHECK_INT(smneo_issues_error_count(iss), 0);
    if (smneo_issues_error_count(iss))
        dump_issues("code points", iss);
    smneo_issues_free(iss);
    /* one more character is too long */
    snprintf(json, sizeof json, "%s\"Tags\":[{\"Key\":\"k\",\"Value\":\"%sx\"}]}", base, value);
    iss = validate_text("CreateCompilationJob", json, 0, &rc);
    CHECK(has_issue(iss, SMNEO_SEVERITY_ERROR, "Tags[0].Value", "length"));
    smneo_issues_free(iss);
    /* invalid UTF-8 is reported, not matched */
    snprintf(json, sizeof json, "%s\"Tags\":[{\"Key\":\"k\",\"Value\":\"a\xff\"}]}", base);
    iss = validate_text("CreateCompilationJob", json, 0, &rc);
    CHECK(has_issue(iss, SMNEO_SEVERITY_ERROR, "Tags[0].Value", "encoding"));
    smneo_issues_free(iss);

    CHECK_INT(smneo__utf8_length("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10), 4);
    CHECK_INT(smneo__utf8_length("\xc0\xaf", 2), -1);      /* overlong */
    CHECK_INT(smneo__utf8_length("\xed\xa0\x80", 3), -1);  /* surrogate */
    CHECK_INT(smneo__utf8_length("\xe2\x82", 2), -1);      /* truncated */
}

static void test_regex(void)
{
    /* whole-string matching even for unanchored model patterns */
    CHECK_INT(smneo__regex_full_match("[a-z]+", "abc", 3), 1);
    CHECK_INT(smneo__regex_full_match("[a-z]+", "abc1", 4), 0);
    CHECK_INT(smneo__regex_full_match("[a-z]+|x", "x1", 2), 0);
    /* Unicode classes */
    CHECK_INT(smneo__regex_full_match("[\\p{L}]+", "\xc3\xa9t\xc3\xa9", 5), 1);
    CHECK_INT(smneo__regex_full_match(".*", "a\nb", 3), 0);
    CHECK_INT(smneo__regex_full_match("[", "x", 1), -1);
}

static void test_loose_json(void)
{
    int py = 0;
    size_t pos = 0;
    const char *a = "{'mattr': ['+neon', \"+vfpv4\"], 'x': True, 'n': None, 's': 'it\\'s \"q\"',}";
    cJSON *v = smneo__parse_loose_json(a, strlen(a), &py, &pos);
    CHECK(v != NULL);
    CHECK_INT(py, 1);
    if (v) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(v, "mattr");
        CHECK(cJSON_GetArraySize(m) == 2 && !strcmp(cJSON_GetArrayItem(m, 1)->valuestring, "+vfpv4"));
        CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "x")));
        CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(v, "n")));
        CHECK_STR(cJSON_GetObjectItemCaseSensitive(v, "s")->valuestring, "it's \"q\"");
    }
    cJSON_Delete(v);
    const char *b = "{\"a\": 1}";
    v = smneo__parse_loose_json(b, strlen(b), &py, &pos);
    CHECK(v != NULL);
    CHECK_INT(py, 0);
    cJSON_Delete(v);
    const char *c = "{'a': 'unterminated}";
    v = smneo__parse_loose_json(c, strlen(c), &py, &pos);
    CHECK(v == NULL);
    const char *d = "{\"a\": 1} trailing";
    v = smneo__parse_loose_json(d, strlen(d), &py, &pos);
    CHECK(v == NULL);
}

static void test_timestamps(void)
{
    cJSON *v = cJSON_CreateString("2024-02-29T12:30:00.5+01:00");
    double t = 0;
    CHECK_INT(smneo__timestamp_value(v, &t), 0);
    CHECK(t == 1709206200.5);
    cJSON_Delete(v);
    v = cJSON_CreateString("2023-02-29T12:30:00Z");
    CHECK_INT(smneo__timestamp_value(v, &t), -1);
    cJSON_Delete(v);
    v = cJSON_CreateString("yesterday");
    CHECK_INT(smneo__timestamp_value(v, &t), -1);
    cJSON_Delete(v);
    v = cJSON_CreateNumber(1700000000);
    CHECK_INT(smneo__timestamp_value(v, &t), 0);
    cJSON_Delete(v);
}

/* Every operation validates concurrently (patterns are compiled once, lazily). */
static void *worker(void *arg)
{
    int *bad = arg;
    for (int i = 0; i < 50; i++) {
        int rc;
        smneo_issues *iss = validate_text(
            "CreateCompilationJob",
            "{\"CompilationJobName\":\"job-1\",\"RoleArn\":\"arn:aws:iam::123456789012:role/R\","
            "\"InputConfig\":{\"S3Uri\":\"s3://b/m.tar.gz\",\"Framework\":\"PYTORCH\","
            "\"DataInputConfig\":\"{\\\"input0\\\":[1,3,224,224]}\"},"
            "\"OutputConfig\":{\"S3OutputLocation\":\"s3://b/o\",\"TargetDevice\":\"ml_c5\"},"
            "\"StoppingCondition\":{\"MaxRuntimeInSeconds\":900},"
            "\"Tags\":[{\"Key\":\"t\\u00e9\",\"Value\":\"v\"}]}",
            0, &rc);
        if (rc != 0 || smneo_issues_error_count(iss) != 0)
            (*bad)++;
        smneo_issues_free(iss);
    }
    return NULL;
}

static void test_threads(void)
{
    /* first use of the patterns happens here, from 4 threads at once */
    pthread_t t[4];
    int bad[4] = {0, 0, 0, 0};
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, worker, &bad[i]);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    CHECK_INT(bad[0] + bad[1] + bad[2] + bad[3], 0);
    /* no pattern is compiled again by later calls */
    size_t compiled = smneo__regex_compile_count();
    CHECK(compiled > 0);
    int dummy = 0;
    worker(&dummy);
    CHECK_INT(dummy, 0);
    CHECK_INT(smneo__regex_compile_count(), compiled);
}

/* smneo_validate_response: a stubbed answer checked as botocore's Stubber
 * checks one (required, unknown, types, minimums; no maximum, pattern, enum). */
static size_t response_issues(const char *op, const char *json, const char *rule)
{
    smneo_issues *is = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK(smneo_validate_response(&is, op, json, strlen(json), &err) == 0);
    size_t n = smneo_issues_count(is), hits = 0;
    for (size_t i = 0; i < n; i++)
        if (!rule || !strcmp(smneo_issues_at(is, i)->rule, rule))
            hits++;
    smneo_issues_free(is);
    smneo_error_clear(&err);
    return rule ? hits : n;
}

static void test_validate_response(void)
{
    const char *ok = "{\"CompilationJobSummaries\": [{\"CompilationJobName\": \"a\", \"CompilationJobArn\": "
                     "\"arn:x\", \"CreationTime\": 1714521600, \"CompilationJobStatus\": \"NOT-AN-ENUM\"}], "
                     "\"ResponseMetadata\": {\"RequestId\": \"r\"}}";
    CHECK(response_issues("ListCompilationJobs", ok, NULL) == 0); /* enums and patterns: not checked */
    CHECK(response_issues("ListCompilationJobs", "{}", "required") == 1);
    CHECK(response_issues("ListCompilationJobs", "{\"CompilationJobSummaries\": [], \"Nope\": 1}", "unknown-member") == 1);
    CHECK(response_issues("ListCompilationJobs", "{\"CompilationJobSummaries\": {}}", "type") == 1);
    CHECK(response_issues("DescribeCompilationJob", "{\"CompilationJobName\": \"\"}", "length") == 1);
    CHECK(response_issues("StopCompilationJob", "{}", NULL) == 0);
    CHECK(response_issues("StopCompilationJob", "{\"ResponseMetadata\": {}}", NULL) == 0);
    CHECK(response_issues("StopCompilationJob", "{\"Extra\": 1}", "unknown-member") == 1);
    smneo_issues *is = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK(smneo_validate_response(&is, "NoSuchOperation", "{}", 2, &err) == SMNEO_EINVAL && !is);
    smneo_error_clear(&err);
    CHECK(smneo_validate_response(&is, "StopCompilationJob", "[1]", 3, &err) == SMNEO_EINVAL && !is);
    smneo_error_clear(&err);
}

int main(void)
{
    RUN(test_threads); /* first: the pattern cache starts empty */
    RUN(test_return_codes);
    RUN(test_messages);
    RUN(test_lengths_in_code_points);
    RUN(test_regex);
    RUN(test_loose_json);
    RUN(test_timestamps);
    RUN(test_fixture_cases);
    RUN(test_validate_response);
    return smneo_test_summary("test_validate");
}
