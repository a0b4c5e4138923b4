/* The S3 download machine (smneo_s3_download_new) driven by hand, with no
 * transport: the answers come from this file, so every step the machine asks
 * for is seen, including the resumed GET's Range and If-Match. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aws_env.h"
#include "harness.h"
#include "smneo/s3.h"

static const char OBJ[] = "0123456789abcdefghijklmnopqrstuvwxyz";

static smneo_client *new_client(void)
{
    smneo_client_options o = SMNEO_CLIENT_OPTIONS_INIT;
    o.region = "us-east-1";
    o.endpoint_url = "http://127.0.0.1:9";
    o.access_key_id = "AKIDEXAMPLE";
    o.secret_access_key = "secret";
    o.no_transport = 1;
    o.retry_backoff_scale = 0.001;
    smneo_client *c = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_MSG(smneo_client_new(&c, &o, &err) == 0, "%s", err.message);
    smneo_error_clear(&err);
    return c;
}

static smneo_response *answer(int status, const char *const *headers)
{
    smneo_response *r = NULL;
    smneo_response_new(&r, status);
    for (const char *const *h = headers; h && h[0]; h += 2)
        smneo_response_add_header(r, h[0], strlen(h[0]), h[1], strlen(h[1]));
    return r;
}

/* Drives SLEEP and EVENT steps (counting events) until a SEND or DONE. */
static void next_send(smneo_s3_step *st, smneo_s3_transfer *x, int *events, uint64_t *last_done)
{
    for (;;) {
        smneo_s3_transfer_next(st, x);
        if (st->kind == SMNEO_STEP_SLEEP) {
            CHECK(st->sleep_ms > 0 && st->sleep_ms <= 200);
            usleep((useconds_t)st->sleep_ms * 1000);
            continue;
        }
        if (st->kind == SMNEO_STEP_EVENT) {
            CHECK(st->total == sizeof OBJ - 1);
            CHECK(st->done >= *last_done);
            *last_done = st->done;
            (*events)++;
            continue;
        }
        return;
    }
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static char *read_all(const char *path)
{
    size_t n = 0;
    return smneo_test_read_file(path, &n);
}

static void test_resume(void)
{
    smneo_client *c = new_client();
    char *dir = smneo_test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/out.bin", dir);
    smneo_s3_transfer *x = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(smneo_s3_download_new(&x, c, "s3://bkt/k", path, NULL, &err), 0);
    int events = 0;
    uint64_t last = 0;
    smneo_s3_step st;
    /* HEAD */
    next_send(&st, x, &events, &last);
    CHECK_INT(st.kind, SMNEO_STEP_SEND);
    CHECK_STR(st.request->method, "HEAD");
    CHECK_INT(st.sink, 0);
    CHECK(smneo_request_header(st.request, "Authorization") != NULL);
    const char *hh[] = {"Content-Length", "36", "ETag", "\"e1\"", NULL};
    smneo_s3_transfer_feed(x, st.id + 7, answer(200, hh), 0, NULL); /* another id: ignored */
    smneo_s3_transfer_feed(x, st.id, answer(200, hh), 0, NULL);
    /* GET, cut after 10 bytes */
    next_send(&st, x, &events, &last);
    CHECK_INT(st.kind, SMNEO_STEP_SEND);
    CHECK_STR(st.request->method, "GET");
    CHECK_INT(st.sink, 1);
    CHECK_STR(smneo_request_header(st.request, "If-Match"), "\"e1\"");
    CHECK(smneo_request_header(st.request, "Range") == NULL);
    /* a download's requests carry no body streamed from the transfer */
    CHECK(st.request->body_len == 0);
    char buf[16];
    CHECK(smneo_s3_transfer_read(x, st.id, buf, sizeof buf) == 0);
    CHECK_INT(smneo_s3_transfer_write(x, st.id, OBJ, 10), 0);
    smneo_s3_transfer_feed(x, st.id, NULL, SMNEO_ECLOSED, "connection closed mid-body");
    /* the retry asks for the rest */
    next_send(&st, x, &events, &last);
    CHECK_INT(st.kind, SMNEO_STEP_SEND);
    CHECK_STR(smneo_request_header(st.request, "Range"), "bytes=10-");
    CHECK_STR(smneo_request_header(st.request, "If-Match"), "\"e1\"");
    CHECK_INT(smneo_s3_transfer_write(x, st.id, OBJ + 10, 26), 0);
    const char *h206[] = {"Content-Range", "bytes 10-35/36", NULL};
    smneo_s3_transfer_feed(x, st.id, answer(206, h206), 0, NULL);
    next_send(&st, x, &events, &last);
    CHECK_INT(st.kind, SMNEO_STEP_DONE);
    CHECK_INT(smneo_s3_transfer_result(x, &err), 0);
    CHECK(events >= 2 && last == 36); /* the start (0) and the end */
    char *got = read_all(path);
    CHECK(got && !strcmp(got, OBJ));
    free(got);
    smneo_s3_transfer_free(x);
    smneo_error_clear(&err);
    smneo_test_rmtree(dir);
    free(dir);
    smneo_client_free(c);
}

/* Resumed GETs answered wrongly, a changed object, a cancel: errors, and the
 * temporary file gone. */
static void test_resume_failures(void)
{
    smneo_client *c = new_client();
    char *dir = smneo_test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/out.bin", dir);
    const char *hh[] = {"Content-Length", "36", "ETag", "\"e1\"", NULL};
    for (int variant = 0; variant < 3; variant++) {
        smneo_s3_transfer *x = NULL;
        smneo_error err = SMNEO_ERROR_INIT;
        CHECK_INT(smneo_s3_download_new(&x, c, "s3://bkt/k", path, NULL, &err), 0);
        int events = 0;
        uint64_t last = 0;
        smneo_s3_step st;
        next_send(&st, x, &events, &last);
        smneo_s3_transfer_feed(x, st.id, answer(200, hh), 0, NULL);
        next_send(&st, x, &events, &last);
        CHECK_INT(smneo_s3_transfer_write(x, st.id, OBJ, 10), 0);
        if (variant == 2) {
            smneo_s3_transfer_cancel(x);
            CHECK(smneo_s3_transfer_write(x, st.id, OBJ + 10, 1) != 0); /* stop receiving */
        }
        smneo_s3_transfer_feed(x, st.id, NULL, SMNEO_ECLOSED, "cut");
        next_send(&st, x, &events, &last);
        if (variant == 0) { /* the server ignores Range and sends everything */
            CHECK_INT(st.kind, SMNEO_STEP_SEND);
            smneo_s3_transfer_write(x, st.id, OBJ, 36);
            smneo_s3_transfer_feed(x, st.id, answer(200, NULL), 0, NULL);
            next_send(&st, x, &events, &last);
            CHECK_INT(st.kind, SMNEO_STEP_DONE);
            CHECK_INT(smneo_s3_transfer_result(x, &err), SMNEO_EPROTOCOL);
            CHECK(err.message && strstr(err.message, "Range: bytes=10-"));
            CHECK_STR(smneo_s3_transfer_failed_operation(x), "GetObject");
        } else if (variant == 1) { /* the object changed: 412, never spliced */
            CHECK_INT(st.kind, SMNEO_STEP_SEND);
            smneo_s3_transfer_feed(x, st.id, answer(412, NULL), 0, NULL);
            next_send(&st, x, &events, &last);
            CHECK_INT(st.kind, SMNEO_STEP_DONE);
            CHECK_INT(smneo_s3_transfer_result(x, &err), SMNEO_ESERVICE);
            CHECK(err.message && strstr(err.message, "changed while it was being downloaded"));
        } else {
            CHECK_INT(st.kind, SMNEO_STEP_DONE);
            CHECK_INT(smneo_s3_transfer_result(x, &err), SMNEO_ECANCELLED);
            CHECK(err.message && strstr(err.message, "partial download was removed"));
            CHECK(smneo_s3_transfer_failed_operation(x) == NULL);
        }
        CHECK(access(path, F_OK) != 0);
        smneo_s3_transfer_free(x);
        smneo_error_clear(&err);
    }
    /* cancelled while the GET was in flight: a complete 2xx answer fed
     * afterwards does not undo the cancel */
    {
        smneo_s3_transfer *x = NULL;
        CHECK_INT(smneo_s3_download_new(&x, c, "s3://bkt/k", path, NULL, NULL), 0);
        smneo_s3_step st;
        int events = 0;
        uint64_t last = 0;
        next_send(&st, x, &events, &last);
        smneo_s3_transfer_feed(x, st.id, answer(200, hh), 0, NULL);
        next_send(&st, x, &events, &last);
        CHECK_INT(smneo_s3_transfer_write(x, st.id, OBJ, 36), 0);
        smneo_s3_transfer_cancel(x);
        smneo_s3_transfer_feed(x, st.id, answer(200, NULL), 0, NULL);
        next_send(&st, x, &events, &last);
        CHECK_INT(st.kind, SMNEO_STEP_DONE);
        smneo_error err = SMNEO_ERROR_INIT;
        CHECK_INT(smneo_s3_transfer_result(x, &err), SMNEO_ECANCELLED);
        CHECK(access(path, F_OK) != 0);
        smneo_error_clear(&err);
        smneo_s3_transfer_free(x);
    }
    /* freed before DONE: the temporary file goes too */
    smneo_s3_transfer *x = NULL;
    CHECK_INT(smneo_s3_download_new(&x, c, "s3://bkt/k", path, NULL, NULL), 0);
    smneo_s3_step st;
    int events = 0;
    uint64_t last = 0;
    next_send(&st, x, &events, &last);
    smneo_s3_transfer_feed(x, st.id, answer(200, hh), 0, NULL);
    next_send(&st, x, &events, &last);
    smneo_s3_transfer_write(x, st.id, OBJ, 5);
    smneo_s3_transfer_free(x);
    CHECK_INT(count_entries(dir), 0);
    smneo_test_rmtree(dir);
    free(dir);
    /* bad input: a clear error and no transfer */
    smneo_error err = SMNEO_ERROR_INIT;
    x = (smneo_s3_transfer *)1;
    CHECK_INT(smneo_s3_download_new(&x, c, "s3://bkt/k", "", NULL, &err), SMNEO_EINVAL);
    CHECK(x == NULL && err.message && strstr(err.message, "path"));
    CHECK_INT(smneo_s3_download_new(&x, c, "bkt/k", "/tmp/x", NULL, &err), SMNEO_EINVAL);
    smneo_error_clear(&err);
    smneo_client_free(c);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    aws_env_isolate();
    RUN(test_resume);
    RUN(test_resume_failures);
    return smneo_test_summary("test_s3_steps");
}
