/* core_bench: in-process cost of one call's protocol work, without I/O.
 *
 *   core_bench [N [BODY]]   prints "build_ns <ns>" (validate + serialize +
 *                    sign a CreateCompilationJob request), "parse_ns <ns>"
 *                    (parse a DescribeCompilationJob response, the file BODY
 *                    or tests/fixtures/protocol/describe_completed.json, and
 *                    walk it with a visitor, as a binding does), and
 *                    "call_ns <ns>" (both).
 *
 * Run by bench/bench_core.py, which prints the same work done by botocore
 * in the same run and the ratios. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smneo.h"

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "core_bench: cannot open %s\n", path);
        exit(1);
    }
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strdup(buf);
}

static int count_cb(void *p) { ++*(long *)p; return 0; }
static int count_str(void *p, const char *s, size_t n) { (void)s; (void)n; return count_cb(p); }
static int count_ts(void *p, double v) { (void)v; return count_cb(p); }
static int count_int(void *p, int64_t v) { (void)v; return count_cb(p); }
static int count_key(void *p, const char *k, size_t n) { (void)k; (void)n; return 0; }
static int count_obj(void *p, const smneo_shape *s, size_t n) { (void)s; (void)n; return count_cb(p); }

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 20000;
    const char *root = getenv("SMNEO_SOURCE_DIR") ? getenv("SMNEO_SOURCE_DIR") : ".";
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/fixtures/protocol/create_request.json", root);
    char *params = slurp(path);
    snprintf(path, sizeof path, "%s/tests/fixtures/protocol/describe_completed.json", root);
    char *body = slurp(argc > 2 ? argv[2] : path);

    smneo_credentials *creds = NULL;
    smneo_credentials_new(&creds, "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL);
    smneo_build_options bo = SMNEO_BUILD_OPTIONS_INIT;
    bo.region = "us-west-2";
    bo.endpoint_url = "https://api.sagemaker.us-west-2.amazonaws.com";
    bo.timestamp = 1795782896;
    if (getenv("CORE_BENCH_NOVALIDATE")) /* content rules off; structural checks still run */
        bo.validation = SMNEO_VALIDATION_OFF;
    size_t plen = strlen(params);

    smneo_response *resp = NULL;
    smneo_response_new(&resp, 200);
    smneo_response_add_header(resp, "x-amzn-RequestId", 16, "0f5c3f2e-1111-2222-3333-444455556666", 36);
    smneo_response_add_header(resp, "Content-Type", 12, "application/x-amz-json-1.1", 26);
    smneo_response_append_body(resp, body, strlen(body));
    smneo_visitor vis = {count_obj, NULL, count_obj, NULL, count_key, count_str, count_int, NULL, NULL, count_ts,
                         NULL};

    long events = 0;
    for (int pass = 0; pass < 2; pass++) { /* pass 0 warms up */
        long iters = pass ? n : n / 10 + 1;
        double t0 = now_ns();
        for (long i = 0; i < iters; i++) {
            smneo_request *req = NULL;
            if (smneo_protocol_build(&req, "CreateCompilationJob", params, plen, creds, &bo, NULL) != 0) {
                fprintf(stderr, "core_bench: build failed\n");
                return 1;
            }
            smneo_request_free(req);
        }
        double t1 = now_ns();
        for (long i = 0; i < iters; i++) {
            smneo_result *r = NULL;
            if (smneo_protocol_parse(&r, "DescribeCompilationJob", resp, NULL) != 0) {
                fprintf(stderr, "core_bench: parse failed\n");
                return 1;
            }
            smneo_value v;
            smneo_result_root(&v, r);
            smneo_value_walk(&v, &vis, &events);
            smneo_result_free(r);
        }
        double t2 = now_ns();
        if (pass) {
            printf("build_ns %.0f\n", (t1 - t0) / n);
            printf("parse_ns %.0f\n", (t2 - t1) / n);
            printf("call_ns %.0f\n", (t2 - t0) / n);
        }
    }
    smneo_response_free(resp);
    smneo_credentials_free(creds);
    free(params);
    free(body);
    return events > 0 ? 0 : 1;
}
