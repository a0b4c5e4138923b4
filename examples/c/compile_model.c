/* compile_model MODEL FRAMEWORK INPUT_SHAPE TARGET BUCKET ROLE_ARN OUTPUT_DIR
 *
 * The whole flow in one call (smneo_compile): pack MODEL (a directory or a
 * .tar.gz), check its layout, validate, upload it to s3://BUCKET/smneo/...,
 * create the job, wait, download the compiled artifact into OUTPUT_DIR and
 * verify its digest. TARGET is a device (ml_c5, jetson_nano, ...) or a
 * platform OS/ARCH (LINUX/ARM64).
 *
 * Shows: an options struct started from its _INIT (every other field keeps
 * its default), a progress callback (smneo_compile_cb: the event, then the
 * `void *payload` given in the options; returning non-zero cancels, which
 * Ctrl-C does here: the job is then stopped), and a result the caller owns
 * and frees, also on a FAILED job.
 *
 * Exit status: 0 compiled and verified, 1 failure, 130 interrupted. */
#define _POSIX_C_SOURCE 200809L /* sigaction */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <smneo.h>

#include "example.h"

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* What the callback keeps between events: the payload. */
typedef struct progress {
    smneo_compile_event_kind kind; /* the transfer being reported */
    int quarter;                   /* the last quarter of it printed (0..4), -1 none */
} progress;

/* Prints a transfer at 0, 25, 50, 75 and 100%. */
static void print_transfer(progress *p, const char *what, const smneo_compile_event *ev)
{
    int percent = ev->total ? (int)(ev->done * 100 / ev->total) : 100;
    if (ev->kind != p->kind || percent / 25 < p->quarter) { /* a new transfer */
        p->kind = ev->kind;
        p->quarter = -1;
    }
    if (percent / 25 > p->quarter) {
        p->quarter = percent / 25;
        printf("  %-9s %3d%% of %llu bytes\n", what, percent, (unsigned long long)ev->total);
    }
}

static int on_event(const smneo_compile_event *ev, void *payload)
{
    progress *p = payload;
    switch (ev->kind) {
    case SMNEO_COMPILE_EVENT_PACK: print_transfer(p, "packing", ev); break;
    case SMNEO_COMPILE_EVENT_UPLOAD: print_transfer(p, "uploading", ev); break;
    case SMNEO_COMPILE_EVENT_DOWNLOAD: print_transfer(p, "download", ev); break;
    case SMNEO_COMPILE_EVENT_PACKED: printf("packed     %s\n", ev->message); break;
    case SMNEO_COMPILE_EVENT_UPLOADED: printf("uploaded   %s\n", ev->message); break;
    case SMNEO_COMPILE_EVENT_CREATED: printf("created    %s\n", ev->message); break;
    case SMNEO_COMPILE_EVENT_STATUS: printf("status     %s (%.1f s)\n", ev->message, ev->elapsed); break;
    case SMNEO_COMPILE_EVENT_VERIFIED: printf("verified   %s\n", ev->message); break;
    case SMNEO_COMPILE_EVENT_WARNING: printf("warning    %s\n", ev->message); break;
    case SMNEO_COMPILE_EVENT_STOPPING: printf("stopping   %s\n", ev->message); break;
    case SMNEO_COMPILE_EVENT_WAITING: break; /* every ~200 ms: only a chance to cancel */
    default: break;                          /* kinds added by later versions */
    }
    fflush(stdout);
    return interrupted; /* non-zero cancels the flow */
}

int main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: compile_model MODEL FRAMEWORK INPUT_SHAPE TARGET BUCKET ROLE_ARN OUTPUT_DIR\n"
                        "  e.g. compile_model ./model PYTORCH '{\"input0\":[1,3,224,224]}' ml_c5 my-bucket \\\n"
                        "       arn:aws:iam::111122223333:role/NeoRole out\n");
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);

    smneo_error err = SMNEO_ERROR_INIT;
    smneo_client *client = NULL;
    smneo_client_options copts = SMNEO_CLIENT_OPTIONS_INIT;
    if (smneo_client_new(&client, &copts, &err) != 0)
        return example_fail("compile_model", "creating the client", &err);

    progress p = {0, -1};
    char os[64] = "";
    smneo_compile_options o = SMNEO_COMPILE_OPTIONS_INIT;
    o.model = argv[1];
    o.framework = argv[2];
    o.data_input_config = argv[3];
    const char *slash = strchr(argv[4], '/');
    if (slash && (size_t)(slash - argv[4]) < sizeof os) { /* OS/ARCH: a TargetPlatform */
        memcpy(os, argv[4], (size_t)(slash - argv[4]));
        o.target_os = os;
        o.target_arch = slash + 1;
    } else {
        o.target_device = argv[4];
    }
    o.s3_bucket = argv[5];
    o.role_arn = argv[6];
    o.output_dir = argv[7];
    o.delay = 0.5; /* poll every 0.5 s at first (default 5 s), backing off to 2 s */
    o.max_delay = 2;
    o.callback = on_event;
    o.payload = &p;

    smneo_compile_result *res = NULL; /* caller-owned: smneo_compile_result_free */
    int rc = smneo_compile(&res, client, &o, &err);
    int status;
    if (rc == 0) {
        printf("job        %s\n", smneo_compile_result_job_name(res));
        printf("artifact   %s (digest %s)\n", smneo_compile_result_artifact_path(res),
               smneo_compile_result_digest_verified(res) ? "verified" : "not verifiable: see the warnings");
        status = 0;
    } else if (rc == SMNEO_EJOBFAILED && res) {
        /* the final description travels with the result */
        smneo_value job;
        smneo_result_root(&job, smneo_compile_result_job(res));
        fprintf(stderr, "compile_model: job %s FAILED: %s\n", smneo_compile_result_job_name(res),
                example_member(&job, "FailureReason"));
        status = 1;
    } else if (rc == SMNEO_ECANCELLED) {
        fprintf(stderr, "compile_model: interrupted\n");
        status = 130;
    } else {
        status = example_fail("compile_model", "compiling", &err);
    }
    smneo_compile_result_free(res);
    smneo_client_free(client);
    smneo_error_clear(&err);
    return status;
}
