/* describe_bench: DescribeCompilationJob calls per second through libsmneo's
 * blocking call, the C baseline for the Python binding's overhead.
 *
 *   describe_bench URL N   makes 50 warm-up calls, then N timed ones, each
 *                          smneo_client_call + a walk over every value of
 *                          the result (what a caller reading it does) + free;
 *                          prints "calls_per_s <rate>" and "cpu_us_per_call
 *                          <CPU time of this process per call>".
 *
 * Run by bench/bench_python.py against nginx-describe.conf's fixed answer,
 * interleaved with the same calls made from Python. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smneo.h"

static int count(void *p) { return ++*(long *)p, 0; }
static int on_obj(void *p, const smneo_shape *s, size_t n) { (void)s; (void)n; return count(p); }
static int on_key(void *p, const char *k, size_t n) { (void)p; (void)k; (void)n; return 0; }
static int on_str(void *p, const char *s, size_t n) { (void)s; (void)n; return count(p); }
static int on_int(void *p, int64_t v) { (void)v; return count(p); }
static int on_ts(void *p, double v) { (void)v; return count(p); }

static double now_s(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int describe(smneo_client *c, long *events)
{
    static const char params[] = "{\"CompilationJobName\": \"resnet50-ml-c5\"}";
    static const smneo_visitor vis = {on_obj, NULL, on_obj, NULL, on_key, on_str, on_int, NULL, NULL, on_ts, NULL};
    smneo_error err = SMNEO_ERROR_INIT;
    smneo_result *r = NULL;
    if (smneo_client_call(&r, c, "DescribeCompilationJob", params, sizeof params - 1, &err) != 0) {
        fprintf(stderr, "describe_bench: %s\n", err.message ? err.message : "call failed");
        smneo_error_clear(&err);
        return -1;
    }
    smneo_value v;
    smneo_result_root(&v, r);
    smneo_value_walk(&v, &vis, events);
    smneo_result_free(r);
    return 0;
}

int main(int argc, char **argv)
{
    long n = argc == 3 ? atol(argv[2]) : 0;
    if (n <= 0) {
        fprintf(stderr, "usage: describe_bench URL N\n");
        return 2;
    }
    smneo_client_options o = SMNEO_CLIENT_OPTIONS_INIT;
    o.region = "us-east-1";
    o.endpoint_url = argv[1];
    o.access_key_id = "AKIDEXAMPLE";
    o.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    smneo_error err = SMNEO_ERROR_INIT;
    smneo_client *c = NULL;
    if (smneo_client_new(&c, &o, &err) != 0) {
        fprintf(stderr, "describe_bench: %s\n", err.message ? err.message : "cannot create the client");
        smneo_error_clear(&err);
        return 1;
    }
    long events = 0;
    int rc = 0;
    for (long i = 0; i < 50 && rc == 0; i++)
        rc = describe(c, &events);
    double t0 = now_s(CLOCK_MONOTONIC), c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
    for (long i = 0; i < n && rc == 0; i++)
        rc = describe(c, &events);
    double dt = now_s(CLOCK_MONOTONIC) - t0, dc = now_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    smneo_client_free(c);
    if (rc != 0 || events == 0)
        return 1;
    printf("calls_per_s %.1f\ncpu_us_per_call %.2f\n", (double)n / dt, dc * 1e6 / (double)n);
    return 0;
}
