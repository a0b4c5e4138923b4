/* SigV4: the header-signing cases of the AWS signing test suite
 * (tests/fixtures/aws-signing-test-suite/v4), vectors computed with
 * botocore 1.43's SigV4Auth, the signing-key cache, session tokens,
 * UNSIGNED-PAYLOAD, path handling and error reporting. */
#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "harness.h"
#include "sigv4.h"
#include "smneo/auth.h"
#include "smneo/http.h"

#define SUITE_DIR "aws-signing-test-suite/v4"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

/* ---- parsing the suite's raw HTTP requests ------------------------------ */

/* Parses "METHOD path HTTP/1.1\nName:value\n[ folded]\n...\n\nbody". The path
 * may contain spaces; a line starting with whitespace continues the previous
 * header (kept with its line break, the signer folds it). */
static smneo_request *parse_http(const char *text, size_t len)
{
    const char *end = text + len;
    const char *eol = memchr(text, '\n', len);
    if (!eol)
        eol = end;
    size_t line_len = (size_t)(eol - text);
    if (line_len && text[line_len - 1] == '\r')
        line_len--;
    char *line = strndup(text, line_len);
    char *sp1 = strchr(line, ' ');
    char *sp2 = strrchr(line, ' ');
    if (!sp1 || sp1 == sp2) {
        free(line);
        return NULL;
    }
    *sp1 = '\0';
    *sp2 = '\0';
    const char *method = line, *path = sp1 + 1;

    smneo_request *req = NULL;
    if (smneo_request_new(&req, method, "https://placeholder/") != 0) {
        free(line);
        return NULL;
    }
    free(req->path);
    req->path = strdup(path);
    free(line);

    const char *p = eol < end ? eol + 1 : end;
    while (p < end) {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        if (!e)
            e = end;
        size_t n = (size_t)(e - p);
        if (n && p[n - 1] == '\r')
            n--;
        if (n == 0) { /* blank line: the body follows */
            p = e < end ? e + 1 : end;
            smneo_request_set_body(req, p, (size_t)(end - p));
            break;
        }
        if ((*p == ' ' || *p == '\t') && req->header_count) {
            smneo_header *h = &req->headers[req->header_count - 1];
            size_t old = strlen(h->value);
            char *v = realloc(h->value, old + 1 + n + 1);
            if (!v) {
                smneo_request_free(req);
                return NULL;
            }
            v[old] = '\n';
            memcpy(v + old + 1, p, n);
            v[old + 1 + n] = '\0';
            h->value = v;
        } else {
            const char *colon = memchr(p, ':', n);
            if (!colon) {
                smneo_request_free(req);
                return NULL;
            }
            char *name = strndup(p, (size_t)(colon - p));
            char *value = strndup(colon + 1, n - (size_t)(colon - p) - 1);
            smneo_request_add_header(req, name, value);
            if (!strcasecmp(name, "host")) {
                free(req->host);
                req->host = strdup(value);
            }
            free(name);
            free(value);
        }
        p = e < end ? e + 1 : end;
    }
    return req;
}

static char *read_case_file(const char *dir, const char *file)
{
    char rel[512];
    snprintf(rel, sizeof rel, "%s/%s/%s", SUITE_DIR, dir, file);
    return smneo_test_read_file(smneo_test_fixture(rel), NULL);
}

static int64_t parse_iso8601(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm))
        return -1;
    return (int64_t)timegm(&tm);
}

static const char *json_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int json_bool(const cJSON *o, const char *key)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static int count_headers(const smneo_request *req, const char *name)
{
    int n = 0;
    for (size_t i = 0; i < req->header_count; i++)
        n += !strcasecmp(req->headers[i].name, name);
    return n;
}

/* Every header of `want` appears in `got` with the same value, and the counts
 * match (names compared case-insensitively, order not significant). */
static int same_headers(const smneo_request *got, const smneo_request *want)
{
    if (got->header_count != want->header_count)
        return 0;
    for (size_t i = 0; i < want->header_count; i++) {
        int found = 0;
        for (size_t j = 0; j < got->header_count && !found; j++)
            found = !strcasecmp(want->headers[i].name, got->headers[j].name) &&
                    !strcmp(want->headers[i].value, got->headers[j].value);
        if (!found) {
            fprintf(stderr, "  missing header %s:%s\n", want->headers[i].name, want->headers[i].value);
            return 0;
        }
    }
    return 1;
}

static int run_case(const char *name)
{
    int failed_before = smneo_test_failed;
    size_t rlen = 0;
    char rel[512];
    snprintf(rel, sizeof rel, "%s/%s/request.txt", SUITE_DIR, name);
    char *raw = smneo_test_read_file(smneo_test_fixture(rel), &rlen);
    char *ctx_text = read_case_file(name, "context.json");
    char *want_creq = read_case_file(name, "header-canonical-request.txt");
    char *want_sts = read_case_file(name, "header-string-to-sign.txt");
    char *want_sig = read_case_file(name, "header-signature.txt");
    char *want_signed = read_case_file(name, "header-signed-request.txt");
    CHECK_MSG(raw && ctx_text && want_creq && want_sts && want_sig && want_signed, "%s: fixture files missing",
              name);
    if (!(raw && ctx_text && want_creq && want_sts && want_sig && want_signed))
        goto out;

    cJSON *ctx = cJSON_Parse(ctx_text);
    CHECK_MSG(ctx != NULL, "%s: context.json does not parse", name);
    if (!ctx)
        goto out;
    const cJSON *jc = cJSON_GetObjectItemCaseSensitive(ctx, "credentials");
    smneo_credentials *creds = NULL;
    CHECK_INT(smneo_credentials_new(&creds, json_str(jc, "access_key_id"), json_str(jc, "secret_access_key"),
                                    json_str(jc, "token")),
              0);
    smneo_sigv4_options opts = SMNEO_SIGV4_OPTIONS_INIT;
    opts.region = json_str(ctx, "region");
    opts.service = json_str(ctx, "service");
    opts.timestamp = parse_iso8601(json_str(ctx, "timestamp"));
    opts.no_normalize_path = !json_bool(ctx, "normalize");
    opts.sign_body_header = json_bool(ctx, "sign_body");
    opts.omit_session_token = json_bool(ctx, "omit_session_token");

    smneo_request *req = parse_http(raw, rlen);
    smneo_request *want_req = parse_http(want_signed, strlen(want_signed));
    CHECK_MSG(req && want_req, "%s: request.txt or header-signed-request.txt does not parse", name);
    if (req && want_req && creds) {
        char *creq = NULL, *sts = NULL, *auth = NULL;
        smneo_error err = SMNEO_ERROR_INIT;
        int rc = smneo_sigv4_debug(&creq, &sts, &auth, req, creds, &opts, &err);
        CHECK_MSG(rc == 0, "%s: smneo_sigv4_debug: %s", name, err.message ? err.message : "?");
        if (rc == 0) {
            CHECK_MSG(!strcmp(creq, want_creq), "%s: canonical request\n--- got\n%s\n--- want\n%s", name, creq,
                      want_creq);
            CHECK_MSG(!strcmp(sts, want_sts), "%s: string to sign\n--- got\n%s\n--- want\n%s", name, sts,
                      want_sts);
            const char *sig = strstr(auth, "Signature=");
            CHECK_MSG(sig && !strcmp(sig + 10, want_sig), "%s: signature %s, want %s", name, sig ? sig + 10 : "-",
                      want_sig);
            CHECK_STR(auth, smneo_request_header(want_req, "Authorization"));
        }
        /* Signing in place yields the suite's signed request. */
        rc = smneo_sigv4_sign(req, creds, &opts, &err);
        CHECK_MSG(rc == 0, "%s: smneo_sigv4_sign: %s", name, err.message ? err.message : "?");
        CHECK_STR(smneo_request_header(req, "Authorization"), smneo_request_header(want_req, "Authorization"));
        CHECK_MSG(same_headers(req, want_req), "%s: signed request headers differ from header-signed-request.txt",
                  name);
        CHECK_INT(req->body_len, want_req->body_len);
        free(creq);
        free(sts);
        free(auth);
        smneo_error_clear(&err);
    }
    smneo_request_free(req);
    smneo_request_free(want_req);
    smneo_credentials_free(creds);
    cJSON_Delete(ctx);
out:
    free(raw);
    free(ctx_text);
    free(want_creq);
    free(want_sts);
    free(want_sig);
    free(want_signed);
    return smneo_test_failed == failed_before;
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void test_signing_suite(void)
{
    DIR *d = opendir(smneo_test_fixture(SUITE_DIR));
    CHECK_MSG(d != NULL, "cannot open %s", smneo_test_fixture(SUITE_DIR));
    if (!d)
        return;
    char *names[256];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256)
        if (e->d_name[0] != '.')
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof names[0], cmp_names);
    size_t passed = 0;
    for (size_t i = 0; i < n; i++) {
        if (run_case(names[i]))
            passed++;
        else
            fprintf(stderr, "signing suite case failed: %s\n", names[i]);
        free(names[i]);
    }
    printf("aws-signing-test-suite (header signing): %zu cases run, %zu passed\n", n, passed);
    /* The copied suite has 38 cases; fewer means the fixtures went missing. */
    CHECK_INT(n, 38);
    CHECK_INT(passed, n);
}

/* ---- botocore vectors ---------------------------------------------------- */

/* A DescribeCompilationJob request as smneo's protocol layer builds it. The
 * expected Authorization values were computed with botocore 1.43.11:
 *   SigV4Auth(Credentials(AKID, SECRET, token), 'sagemaker', 'us-west-2')
 *   .add_auth(AWSRequest('POST', 'https://api.sagemaker.us-west-2.amazonaws.com/',
 *                        headers={X-Amz-Target, Content-Type, User-Agent}, data=body))
 * with get_current_datetime patched to 2026-11-27T12:34:56Z. */
#define SM_BODY "{\"CompilationJobName\": \"my-neo-job\"}"
#define SM_TOKEN "IQoJb3JpZ2luX2VjEXAMPLETOKEN//////////wEaCXVzLWVhc3QtMSJHMEUCIQ+abc/def=="

static smneo_request *sagemaker_request(void)
{
    smneo_request *req = NULL;
    if (smneo_request_new(&req, "POST", "https://api.sagemaker.us-west-2.amazonaws.com/") != 0)
        return NULL;
    smneo_request_add_header(req, "X-Amz-Target", "SageMaker.DescribeCompilationJob");
    smneo_request_add_header(req, "Content-Type", "application/x-amz-json-1.1");
    smneo_request_add_header(req, "User-Agent", "smneo/0.1.0");
    smneo_request_set_body(req, SM_BODY, strlen(SM_BODY));
    return req;
}

static smneo_sigv4_options sagemaker_options(void)
{
    smneo_sigv4_options o = SMNEO_SIGV4_OPTIONS_INIT;
    o.region = "us-west-2";
    o.service = "sagemaker";
    o.timestamp = 1795782896; /* 2026-11-27T12:34:56Z */
    return o;
}

static void test_botocore_vectors(void)
{
    CHECK_INT(parse_iso8601("2026-11-27T12:34:56Z"), 1795782896);
    smneo_sigv4_options o = sagemaker_options();
    smneo_credentials *creds = NULL;
    CHECK_INT(smneo_credentials_new(&creds, "AKIDEXAMPLE", SECRET, NULL), 0);
    smneo_request *req = sagemaker_request();
    CHECK_INT(smneo_sigv4_sign(req, creds, &o, NULL), 0);
    CHECK_STR(smneo_request_header(req, "Authorization"),
              "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261127/us-west-2/sagemaker/aws4_request, "
              "SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
              "Signature=d4c0f48b4598dca248a7ad9d53f23722c0eb52de7f9151585eeb814131180af0");
    CHECK_STR(smneo_request_header(req, "X-Amz-Date"), "20261127T123456Z");
    /* Host was absent: added from req->host, with AWS's casing. */
    CHECK_STR(smneo_request_header(req, "Host"), "api.sagemaker.us-west-2.amazonaws.com");
    int host_cased = 0, date_cased = 0, auth_cased = 0;
    for (size_t i = 0; i < req->header_count; i++) {
        host_cased |= !strcmp(req->headers[i].name, "Host");
        date_cased |= !strcmp(req->headers[i].name, "X-Amz-Date");
        auth_cased |= !strcmp(req->headers[i].name, "Authorization");
    }
    CHECK(host_cased && date_cased && auth_cased);
    CHECK(smneo_request_header(req, "X-Amz-Security-Token") == NULL);
    smneo_request_free(req);
    smneo_credentials_free(creds);

    CHECK_INT(smneo_credentials_new(&creds, "AKIDEXAMPLE", SECRET, SM_TOKEN), 0);
    req = sagemaker_request();
    CHECK_INT(smneo_sigv4_sign(req, creds, &o, NULL), 0);
    CHECK_STR(smneo_request_header(req, "Authorization"),
              "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261127/us-west-2/sagemaker/aws4_request, "
              "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, "
              "Signature=fb8becd3d3104a10e1b21ee41c9fe7ac1dae1dce09afd18f38d8bae462e48ce0");
    CHECK_STR(smneo_request_header(req, "X-Amz-Security-Token"), SM_TOKEN);
    smneo_request_free(req);
    smneo_credentials_free(creds);
}

/* Random requests (paths with dot segments and "//", encoded and empty
 * query pairs, whitespace to fold, tokens, several regions and services)
 * signed by botocore: botocore/make_vectors.py wrote vectors.json. */
static void test_botocore_random_vectors(void)
{
    char *text = smneo_test_read_file(smneo_test_fixture("aws-signing-test-suite/botocore/vectors.json"), NULL);
    CHECK_MSG(text != NULL, "botocore/vectors.json missing");
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    CHECK(root != NULL);
    free(text);
    if (!root)
        return;
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(root, "cases");
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(root, "timestamp");
    const char *akid = json_str(root, "access_key_id");
    int n = 0, same = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cases)
    {
        n++;
        smneo_request *req = NULL;
        smneo_credentials *creds = NULL;
        if (smneo_request_new(&req, json_str(c, "method"), json_str(c, "url")) != 0 ||
            smneo_credentials_new(&creds, akid, json_str(c, "secret_access_key"), json_str(c, "session_token")) != 0) {
            smneo_request_free(req);
            continue;
        }
        const cJSON *h;
        cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(c, "headers"))
            smneo_request_add_header(req, cJSON_GetArrayItem(h, 0)->valuestring, cJSON_GetArrayItem(h, 1)->valuestring);
        const char *body = json_str(c, "body");
        smneo_request_set_body(req, body, strlen(body));
        smneo_sigv4_options o = SMNEO_SIGV4_OPTIONS_INIT;
        o.region = json_str(c, "region");
        o.service = json_str(c, "service");
        o.timestamp = (int64_t)ts->valuedouble;
        const char *want = json_str(c, "authorization");
        CHECK_STR(req->path, json_str(c, "path"));
        if (smneo_sigv4_sign(req, creds, &o, NULL) == 0 && want &&
            !strcmp(smneo_request_header(req, "Authorization"), want)) {
            same++;
        } else {
            char *creq = NULL;
            smneo_sigv4_debug(&creq, NULL, NULL, req, creds, &o, NULL);
            fprintf(stderr, "botocore vector %d (%s): signatures differ; our canonical request:\n%s\n", n,
                    json_str(c, "url"), creq ? creq : "(error)");
            free(creq);
        }
        smneo_request_free(req);
        smneo_credentials_free(creds);
    }
    printf("botocore random vectors: %d cases run, %d identical\n", n, same);
    CHECK_INT(n, 120);
    CHECK_INT(same, n);
    cJSON_Delete(root);
}

/* ---- key cache ------------------------------------------------------------ */

static char *sign_auth(const char *secret, const char *region, int64_t ts)
{
    smneo_credentials *creds = NULL;
    smneo_credentials_new(&creds, "AKIDEXAMPLE", secret, NULL);
    smneo_sigv4_options o = sagemaker_options();
    o.region = region;
    o.timestamp = ts;
    smneo_request *req = sagemaker_request();
    char *auth = NULL;
    if (smneo_sigv4_sign(req, creds, &o, NULL) == 0)
        auth = strdup(smneo_request_header(req, "Authorization"));
    smneo_request_free(req);
    smneo_credentials_free(creds);
    return auth;
}

static void test_key_cache(void)
{
    smneo__sigv4_cache_stats st;
    smneo__sigv4_cache_reset();
    char *first = sign_auth(SECRET, "us-west-2", 1795782896);
    smneo__sigv4_cache_stats_get(&st);
    CHECK_INT(st.misses, 1);
    CHECK_INT(st.hits, 0);
    /* Same secret, date, region, service (later the same day): a hit, and
     * the cached key gives the signature botocore computes. */
    char *again = sign_auth(SECRET, "us-west-2", 1795782896);
    smneo__sigv4_cache_stats_get(&st);
    CHECK_INT(st.hits, 1);
    CHECK_INT(st.misses, 1);
    CHECK(first && again && !strcmp(first, again));
    CHECK(again && strstr(again, "Signature=d4c0f48b4598dca248a7ad9d53f23722c0eb52de7f9151585eeb814131180af0"));
    char *later = sign_auth(SECRET, "us-west-2", 1795782896 + 3600);
    smneo__sigv4_cache_stats_get(&st);
    CHECK_INT(st.hits, 2);
    CHECK(later && first && strcmp(later, first) != 0); /* X-Amz-Date differs */

    /* Another secret (same access key id), region or day: a miss. */
    char *other_secret = sign_auth("another-secret-key", "us-west-2", 1795782896);
    char *other_region = sign_auth(SECRET, "eu-west-1", 1795782896);
    char *next_day = sign_auth(SECRET, "us-west-2", 1795782896 + 86400);
    smneo__sigv4_cache_stats_get(&st);
    CHECK_INT(st.misses, 4);
    CHECK(other_secret && first && strcmp(other_secret, first) != 0);
    CHECK(other_region && strstr(other_region, "/eu-west-1/sagemaker/aws4_request"));
    CHECK(next_day && strstr(next_day, "/20261128/"));

    /* Evict everything with more scopes than slots; the first scope then
     * derives its key again and still gives the same signature. */
    for (int i = 0; i < SMNEO__SIGV4_CACHE_SLOTS + 4; i++) {
        char region[32];
        snprintf(region, sizeof region, "test-region-%d", i);
        free(sign_auth(SECRET, region, 1795782896));
    }
    smneo__sigv4_cache_stats_get(&st);
    uint64_t misses = st.misses;
    char *evicted = sign_auth(SECRET, "us-west-2", 1795782896);
    smneo__sigv4_cache_stats_get(&st);
    CHECK_INT(st.misses, misses + 1);
    CHECK(evicted && first && !strcmp(evicted, first));
    free(first);
    free(again);
    free(later);
    free(other_secret);
    free(other_region);
    free(next_day);
    free(evicted);
}

/* Several threads signing at once (sharing and evicting cache slots) get
 * the same signatures as one thread does. */
#define THREADS 4
#define THREAD_SIGNS 150
#define THREAD_REGIONS (SMNEO__SIGV4_CACHE_SLOTS + 6)

static char *g_expected[THREAD_REGIONS];

static void region_name(char *out, size_t n, int i) { snprintf(out, n, "region-%d", i); }

static void *sign_worker(void *arg)
{
    long id = (long)arg, mismatches = 0;
    for (int i = 0; i < THREAD_SIGNS; i++) {
        int r = (int)((i * 7 + id * 3) % THREAD_REGIONS);
        char region[32];
        region_name(region, sizeof region, r);
        char *auth = sign_auth(r % 2 ? SECRET : "second-secret", region, 1795782896);
        if (!auth || strcmp(auth, g_expected[r]) != 0)
            mismatches++;
        free(auth);
    }
    return (void *)mismatches;
}

static void test_threads(void)
{
    for (int r = 0; r < THREAD_REGIONS; r++) {
        char region[32];
        region_name(region, sizeof region, r);
        smneo__sigv4_cache_reset();
        g_expected[r] = sign_auth(r % 2 ? SECRET : "second-secret", region, 1795782896);
        CHECK(g_expected[r] != NULL);
    }
    smneo__sigv4_cache_reset();
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++)
        CHECK_INT(pthread_create(&t[i], NULL, sign_worker, (void *)i), 0);
    long mismatches = 0;
    for (int i = 0; i < THREADS; i++) {
        void *ret = NULL;
        pthread_join(t[i], &ret);
        mismatches += (long)ret;
    }
    CHECK_INT(mismatches, 0);
    smneo__sigv4_cache_stats st;
    smneo__sigv4_cache_stats_get(&st);
    CHECK_INT(st.hits + st.misses, THREADS * THREAD_SIGNS);
    CHECK(st.hits > 0 && st.misses >= THREAD_REGIONS);
    for (int r = 0; r < THREAD_REGIONS; r++)
        free(g_expected[r]);
}

/* ---- session tokens, re-signing, UNSIGNED-PAYLOAD, paths ------------------ */

static void test_session_token(void)
{
    smneo_credentials *creds = NULL;
    CHECK_INT(smneo_credentials_new(&creds, "AKIDEXAMPLE", SECRET, SM_TOKEN), 0);
    smneo_sigv4_options o = sagemaker_options();
    smneo_request *req = sagemaker_request();

    /* Re-signing (a retry) replaces the signing headers, never duplicates them. */
    CHECK_INT(smneo_sigv4_sign(req, creds, &o, NULL), 0);
    o.timestamp += 5;
    CHECK_INT(smneo_sigv4_sign(req, creds, &o, NULL), 0);
    CHECK_INT(count_headers(req, "Authorization"), 1);
    CHECK_INT(count_headers(req, "X-Amz-Date"), 1);
    CHECK_INT(count_headers(req, "X-Amz-Security-Token"), 1);
    CHECK_INT(count_headers(req, "Host"), 1);
    CHECK_STR(smneo_request_header(req, "X-Amz-Date"), "20261127T123501Z");

    /* Omitted from signing: present on the request, absent from SignedHeaders. */
    o.omit_session_token = 1;
    CHECK_INT(smneo_sigv4_sign(req, creds, &o, NULL), 0);
    CHECK_STR(smneo_request_header(req, "X-Amz-Security-Token"), SM_TOKEN);
    CHECK_INT(count_headers(req, "X-Amz-Security-Token"), 1);
    const char *auth = smneo_request_header(req, "Authorization");
    CHECK(auth && strstr(auth, "SignedHeaders=content-type;host;x-amz-date;x-amz-target,"));

    /* Credentials without a token: a stale token header is removed. */
    smneo_credentials *plain = NULL;
    CHECK_INT(smneo_credentials_new(&plain, "AKIDEXAMPLE", SECRET, ""), 0);
    CHECK(plain && plain->session_token == NULL);
    o.omit_session_token = 0;
    CHECK_INT(smneo_sigv4_sign(req, plain, &o, NULL), 0);
    CHECK_INT(count_headers(req, "X-Amz-Security-Token"), 0);

    /* debug() leaves the request untouched. */
    size_t before = req->header_count;
    char *creq = NULL;
    CHECK_INT(smneo_sigv4_debug(&creq, NULL, NULL, req, creds, &o, NULL), 0);
    CHECK(creq && strstr(creq, "\nx-amz-security-token:" SM_TOKEN "\n"));
    CHECK_INT(req->header_count, before);
    free(creq);
    smneo_request_free(req);
    smneo_credentials_free(creds);
    smneo_credentials_free(plain);
}

static void test_unsigned_payload(void)
{
    smneo_credentials *creds = NULL;
    CHECK_INT(smneo_credentials_new(&creds, "AKIDEXAMPLE", SECRET, NULL), 0);
    smneo_sigv4_options o = sagemaker_options();
    o.service = "s3";
    o.no_normalize_path = 1;
    o.sign_body_header = 1;
    o.payload_hash = "UNSIGNED-PAYLOAD";
    smneo_request *req = NULL;
    CHECK_INT(smneo_request_new(&req, "PUT", "https://bucket.s3.us-west-2.amazonaws.com/key"), 0);
    smneo_request_set_body(req, "data", 4);
    char *creq = NULL, *auth = NULL;
    CHECK_INT(smneo_sigv4_debug(&creq, NULL, &auth, req, creds, &o, NULL), 0);
    size_t cl = creq ? strlen(creq) : 0;
    CHECK(cl > 17 && !strcmp(creq + cl - 17, "\nUNSIGNED-PAYLOAD"));
    CHECK(creq && strstr(creq, "\nx-amz-content-sha256:UNSIGNED-PAYLOAD\n"));
    CHECK(auth && strstr(auth, "SignedHeaders=host;x-amz-content-sha256;x-amz-date,"));
    CHECK_INT(smneo_sigv4_sign(req, creds, &o, NULL), 0);
    CHECK_STR(smneo_request_header(req, "X-Amz-Content-Sha256"), "UNSIGNED-PAYLOAD");
    CHECK_STR(smneo_request_header(req, "Authorization"), auth);
    free(creq);
    free(auth);

    /* Without payload_hash the body is hashed: sha256("data"). */
    o.payload_hash = NULL;
    CHECK_INT(smneo_sigv4_sign(req, creds, &o, NULL), 0);
    CHECK_STR(smneo_request_header(req, "X-Amz-Content-Sha256"),
              "3a6eb0790f39ac87c94f3856b2dd2c5d110e6811602261a9a923d3bb23adc8b7");
    CHECK_INT(count_headers(req, "X-Amz-Content-Sha256"), 1);
    smneo_request_free(req);
    smneo_credentials_free(creds);
}

static char *canonical_of(const char *path, const char *service, int normalize)
{
    smneo_credentials *creds = NULL;
    smneo_credentials_new(&creds, "AKIDEXAMPLE", SECRET, NULL);
    smneo_sigv4_options o = sagemaker_options();
    o.service = service;
    o.no_normalize_path = !normalize;
    smneo_request *req = NULL;
    smneo_request_new(&req, "GET", "https://example.amazonaws.com/");
    free(req->path);
    req->path = strdup(path);
    char *creq = NULL;
    smneo_sigv4_debug(&creq, NULL, NULL, req, creds, &o, NULL);
    smneo_request_free(req);
    smneo_credentials_free(creds);
    /* Keep the first three lines: method, path, query. */
    char *p = creq;
    for (int i = 0; p && i < 3; i++) {
        p = strchr(p, '\n');
        if (p && i < 2)
            p++;
    }
    if (p)
        *p = '\0';
    return creq;
}

static void test_paths_and_queries(void)
{
    char *c;
    /* Non-S3: normalised, then the (already encoded) path encoded once more. */
    c = canonical_of("/a%20b//./c/../d/", "sagemaker", 1);
    CHECK_STR(c, "GET\n/a%2520b/d/\n");
    free(c);
    c = canonical_of("/a/b/..", "sagemaker", 1); /* botocore: "/a" (RFC 3986 would say "/a/") */
    CHECK_STR(c, "GET\n/a\n");
    free(c);
    c = canonical_of("/a/b/./", "sagemaker", 1);
    CHECK_STR(c, "GET\n/a/b/\n");
    free(c);
    c = canonical_of("", "sagemaker", 1);
    CHECK_STR(c, "GET\n/\n");
    free(c);
    /* S3: the path as sent, no normalisation, no second encoding. */
    c = canonical_of("/my%20key//./x", "s3", 0);
    CHECK_STR(c, "GET\n/my%20key//./x\n");
    free(c);
    c = canonical_of("/my%20key//./x", "s3", 1); /* normalize_path is ignored for S3 */
    CHECK_STR(c, "GET\n/my%20key//./x\n");
    free(c);
    /* Query: decoded, re-encoded (RFC 3986), sorted by key then value; empty
     * values kept, '+' is a literal plus, '#fragment' is not sent. Checked
     * against botocore's SigV4Auth on 300 random paths and queries. */
    c = canonical_of("/?b=2&a=z&a=y&empty=&flag&sp=a%20b&plus=a+b&enc=%2f%7e#frag", "sagemaker", 1);
    CHECK_STR(c, "GET\n/\na=y&a=z&b=2&empty=&enc=%2F~&flag=&plus=a%2Bb&sp=a%20b");
    free(c);
    /* An empty pair is kept as "=", as botocore signs it. */
    c = canonical_of("/?b=1&&a=2&", "sagemaker", 1);
    CHECK_STR(c, "GET\n/\n=&=&a=2&b=1");
    free(c);
    c = canonical_of("/?bad=%zz%4", "sagemaker", 1);
    CHECK_STR(c, "GET\n/\nbad=%25zz%254");
    free(c);
}

static void test_headers_canonical(void)
{
    smneo_credentials *creds = NULL;
    smneo_credentials_new(&creds, "AKIDEXAMPLE", SECRET, NULL);
    smneo_sigv4_options o = sagemaker_options();
    smneo_request *req = NULL;
    smneo_request_new(&req, "GET", "https://example.amazonaws.com:8443/");
    smneo_request_add_header(req, "X-B", "  two   words\t here ");
    smneo_request_add_header(req, "x-a", "1");
    smneo_request_add_header(req, "X-A", " 2 ");
    smneo_request_add_header(req, "User-Agent", "not signed");
    smneo_request_add_header(req, "Connection", "keep-alive");
    char *creq = NULL, *auth = NULL;
    CHECK_INT(smneo_sigv4_debug(&creq, NULL, &auth, req, creds, &o, NULL), 0);
    CHECK(creq && strstr(creq, "\n\nhost:example.amazonaws.com:8443\nx-a:1,2\nx-amz-date:20261127T123456Z\n"
                               "x-b:two words here\n\nhost;x-a;x-amz-date;x-b\n"));
    CHECK(auth && strstr(auth, "SignedHeaders=host;x-a;x-amz-date;x-b,"));
    free(creq);
    free(auth);
    smneo_request_free(req);
    smneo_credentials_free(creds);
}

/* X-Amz-Date is computed without gmtime_r: compare with it over edge dates
 * (epoch, leap days, century rules, years 1 and 9999) and a sweep. */
static void test_amz_date(void)
{
    smneo_credentials *creds = NULL;
    smneo_credentials_new(&creds, "AKIDEXAMPLE", SECRET, NULL);
    smneo_request *req = sagemaker_request();
    smneo_sigv4_options o = sagemaker_options();
    int64_t fixed[] = {0, -1, 86399, 86400, 951782400 /* 2000-02-29 */, 4107542399 /* 2100-02-28T23:59:59 */,
                       4107542400, 1709164800 /* 2024-02-29 */, -62135596800LL /* 0001-01-01 */,
                       253402300799LL /* 9999-12-31T23:59:59 */, -2208988800LL /* 1900-01-01 */};
    int bad = 0, n = 0;
    for (int i = 0; i < (int)(sizeof fixed / sizeof fixed[0]) + 2000; i++) {
        int64_t ts = i < (int)(sizeof fixed / sizeof fixed[0])
                         ? fixed[i]
                         : -62135596800LL + (int64_t)(i - 11) * 157766400LL + (int64_t)i * 7919; /* ~5 y steps */
        if (ts > 253402300799LL)
            break;
        time_t t = (time_t)ts;
        struct tm tm;
        char want[96];
        gmtime_r(&t, &tm);
        snprintf(want, sizeof want, "%04d%02d%02dT%02d%02d%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_hour, tm.tm_min, tm.tm_sec);
        o.timestamp = ts;
        char *sts = NULL;
        if (smneo_sigv4_debug(NULL, &sts, NULL, req, creds, &o, NULL) != 0 || !sts ||
            strncmp(sts + strlen("AWS4-HMAC-SHA256\n"), want, 16) != 0) {
            if (bad++ < 5)
                fprintf(stderr, "  ts %lld: want %s, got %.33s\n", (long long)ts, want, sts ? sts : "(error)");
        }
        free(sts);
        n++;
    }
    CHECK_INT(bad, 0);
    CHECK(n > 1000);
    smneo_request_free(req);
    smneo_credentials_free(creds);
}

/* ---- credentials and errors ---------------------------------------------- */

static void test_credentials(void)
{
    smneo_credentials_free(NULL); /* no-op */
    smneo_credentials *c = NULL, *copy = NULL;
    CHECK_INT(smneo_credentials_new(NULL, "a", "b", NULL), SMNEO_EINVAL);
    CHECK_INT(smneo_credentials_new(&c, NULL, "b", NULL), SMNEO_EINVAL);
    CHECK(c == NULL);
    CHECK_INT(smneo_credentials_new(&c, "a", NULL, NULL), SMNEO_EINVAL);
    CHECK_INT(smneo_credentials_new(&c, "AKID", SECRET, SM_TOKEN), 0);
    CHECK_STR(c->source, "explicit");
    CHECK_INT(c->expiration, 0);
    c->expiration = 1234;
    CHECK_INT(smneo_credentials_copy(&copy, c), 0);
    CHECK(copy && copy != c && copy->secret_access_key != c->secret_access_key);
    CHECK_STR(copy->access_key_id, "AKID");
    CHECK_STR(copy->secret_access_key, SECRET);
    CHECK_STR(copy->session_token, SM_TOKEN);
    CHECK_INT(copy->expiration, 1234);
    smneo_credentials_free(copy);
    CHECK_INT(smneo_credentials_copy(&copy, NULL), SMNEO_EINVAL);
    CHECK(copy == NULL);
    smneo_credentials_free(c);
}

static void expect_error(const smneo_request *req, const smneo_credentials *creds, const smneo_sigv4_options *o,
                         int code, const char *word)
{
    smneo_error err = SMNEO_ERROR_INIT;
    char *auth = (char *)"untouched";
    int rc = smneo_sigv4_debug(NULL, NULL, &auth, req, creds, o, &err);
    CHECK_INT(rc, code);
    CHECK_INT(err.code, code);
    CHECK(auth == NULL);
    CHECK_MSG(err.message && strstr(err.message, word), "message \"%s\" should mention \"%s\"",
              err.message ? err.message : "(null)", word);
    CHECK(err.message && !strstr(err.message, SECRET) && !strstr(err.message, "Signature="));
    smneo_error_clear(&err);
}

static void test_errors(void)
{
    smneo_credentials *creds = NULL;
    smneo_credentials_new(&creds, "AKIDEXAMPLE", SECRET, NULL);
    smneo_request *req = sagemaker_request();
    smneo_sigv4_options o = sagemaker_options();

    o.region = "";
    expect_error(req, creds, &o, SMNEO_EINVAL, "region");
    o.region = "us west";
    expect_error(req, creds, &o, SMNEO_EINVAL, "region");
    o = sagemaker_options();
    o.service = NULL;
    expect_error(req, creds, &o, SMNEO_EINVAL, "service");
    o = sagemaker_options();
    o.version = 99;
    expect_error(req, creds, &o, SMNEO_EINVAL, "SMNEO_SIGV4_OPTIONS_INIT");
    o = sagemaker_options();
    o.payload_hash = "has space";
    expect_error(req, creds, &o, SMNEO_EINVAL, "payload_hash");
    o = sagemaker_options();
    o.timestamp = 300000000000LL;
    expect_error(req, creds, &o, SMNEO_EINVAL, "timestamp");
    expect_error(req, creds, NULL, SMNEO_EINVAL, "options");
    expect_error(NULL, creds, &o, SMNEO_EINVAL, "request");

    o = sagemaker_options();
    smneo_credentials bad = *creds;
    bad.secret_access_key = (char *)"";
    expect_error(req, &bad, &o, SMNEO_ECREDENTIALS, "secret access key");
    bad = *creds;
    bad.access_key_id = (char *)"AKID/EXAMPLE";
    expect_error(req, &bad, &o, SMNEO_ECREDENTIALS, "access key id");
    bad = *creds;
    bad.session_token = (char *)"tok\r\nX-Injected: 1";
    expect_error(req, &bad, &o, SMNEO_ECREDENTIALS, "session token");

    /* sign() with bad input leaves the request as it was. */
    size_t before = req->header_count;
    o.region = NULL;
    CHECK_INT(smneo_sigv4_sign(req, creds, &o, NULL), SMNEO_EINVAL);
    CHECK_INT(req->header_count, before);

    smneo_request_free(req);
    smneo_credentials_free(creds);
}

int main(void)
{
    RUN(test_signing_suite);
    RUN(test_botocore_vectors);
    RUN(test_botocore_random_vectors);
    RUN(test_key_cache);
    RUN(test_threads);
    RUN(test_session_token);
    RUN(test_unsigned_payload);
    RUN(test_paths_and_queries);
    RUN(test_headers_canonical);
    RUN(test_amz_date);
    RUN(test_credentials);
    RUN(test_errors);
    return smneo_test_summary("test_sigv4");
}
