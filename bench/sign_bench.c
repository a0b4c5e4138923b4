/* sign_bench: cost of SigV4-signing one DescribeCompilationJob request.
 *
 *   sign_bench [N]               prints "sign_ns <ns>" (signing key cached, the
 *                                steady state of a client), "sign_fresh_ns <ns>"
 *                                (the same, on a fresh copy of the unsigned request
 *                                each time: includes copying and freeing it) and
 *                                "sign_cold_ns <ns>" (a new day each time: the key
 *                                is derived again)
 *   sign_bench --auth EPOCH      prints the Authorization header for that time
 *                                (bench_sign.py checks it against botocore)
 *
 * The request is what the protocol layer sends: POST / with X-Amz-Target,
 * Content-Type, User-Agent and Content-Length, and a small JSON body. Each
 * iteration re-signs the same request in place (as a retry does), which
 * replaces X-Amz-Date and Authorization. Run by bench/bench_sign.py. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smneo/auth.h"
#include "smneo/http.h"

#define BODY "{\"CompilationJobName\": \"my-neo-job\"}"
#define AKID "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

static smneo_request *make_request(void)
{
    smneo_request *req = NULL;
    char len[32];
    snprintf(len, sizeof len, "%zu", strlen(BODY));
    if (smneo_request_new(&req, "POST", "https://api.sagemaker.us-west-2.amazonaws.com/") != 0 ||
        smneo_request_add_header(req, "X-Amz-Target", "SageMaker.DescribeCompilationJob") != 0 ||
        smneo_request_add_header(req, "Content-Type", "application/x-amz-json-1.1") != 0 ||
        smneo_request_add_header(req, "User-Agent", "smneo/0.1.0") != 0 ||
        smneo_request_add_header(req, "Content-Length", len) != 0 ||
        smneo_request_set_body(req, BODY, strlen(BODY)) != 0) {
        fprintf(stderr, "sign_bench: cannot build the request\n");
        exit(1);
    }
    return req;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void sign_or_die(smneo_request *req, const smneo_credentials *creds, const smneo_sigv4_options *o)
{
    smneo_error err = SMNEO_ERROR_INIT;
    if (smneo_sigv4_sign(req, creds, o, &err) != 0) {
        fprintf(stderr, "sign_bench: signing failed: %s\n", err.message ? err.message : "?");
        exit(1);
    }
}

int main(int argc, char **argv)
{
    smneo_credentials *creds = NULL;
    if (smneo_credentials_new(&creds, AKID, SECRET, NULL) != 0)
        return 1;
    smneo_sigv4_options o = SMNEO_SIGV4_OPTIONS_INIT;
    o.region = "us-west-2";
    o.service = "sagemaker";
    o.timestamp = (int64_t)time(NULL);
    smneo_request *req = make_request();

    if (argc == 3 && !strcmp(argv[1], "--auth")) {
        o.timestamp = strtoll(argv[2], NULL, 10);
        sign_or_die(req, creds, &o);
        printf("%s\n", smneo_request_header(req, "Authorization"));
        smneo_request_free(req);
        smneo_credentials_free(creds);
        return 0;
    }
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 200000;
    if (n <= 0) {
        fprintf(stderr, "usage: sign_bench [N] | sign_bench --auth EPOCH\n");
        return 2;
    }

    for (long i = 0; i < n / 10 + 100; i++) /* warm up: caches, key cache, allocator */
        sign_or_die(req, creds, &o);
    double t0 = now_ns();
    for (long i = 0; i < n; i++)
        sign_or_die(req, creds, &o);
    double warm = (now_ns() - t0) / (double)n;

    smneo_request *tmpl = make_request();
    t0 = now_ns();
    for (long i = 0; i < n / 2; i++) {
        smneo_request *copy = NULL;
        if (smneo_request_clone(&copy, tmpl) != 0)
            return 1;
        sign_or_die(copy, creds, &o);
        smneo_request_free(copy);
    }
    double fresh = (now_ns() - t0) / (double)(n / 2 > 0 ? n / 2 : 1);
    smneo_request_free(tmpl);

    long cold_n = n / 4 > 0 ? n / 4 : 1;
    int64_t base = o.timestamp;
    t0 = now_ns();
    for (long i = 0; i < cold_n; i++) {
        o.timestamp = base + 86400 * (int64_t)(i + 1); /* a new scope date every time */
        sign_or_die(req, creds, &o);
    }
    double cold = (now_ns() - t0) / (double)cold_n;

    printf("iterations %ld\n", n);
    printf("sign_ns %.1f\n", warm);
    printf("sign_fresh_ns %.1f\n", fresh);
    printf("sign_cold_ns %.1f\n", cold);
    smneo_request_free(req);
    smneo_credentials_free(creds);
    return 0;
}
