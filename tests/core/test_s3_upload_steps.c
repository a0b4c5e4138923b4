/* The S3 upload machine (smneo_s3_upload_new) driven by hand, with no
 * transport: every step it asks for is seen (parts in flight together, a
 * part retried, Complete, Abort), and smneo_s3_upload through a fake
 * transport for the cancel that comes while the last part is answered. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "aws_env.h"
#include "harness.h"
#include "smneo/s3.h"

#define MIB (1024 * 1024)

static smneo_client *new_client(smneo_transport *t)
{
    smneo_client_options o = SMNEO_CLIENT_OPTIONS_INIT;
    o.region = "us-east-1";
    o.endpoint_url = "http://127.0.0.1:9";
    o.access_key_id = "AKIDEXAMPLE";
    o.secret_access_key = "secret";
    o.transport = t;
    o.no_transport = t == NULL;
    o.retry_backoff_scale = 0.001;
    smneo_client *c = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_MSG(smneo_client_new(&c, &o, &err) == 0, "%s", err.message);
    smneo_error_clear(&err);
    return c;
}

static smneo_response *answer(int status, const char *const *headers, const char *body)
{
    smneo_response *r = NULL;
    smneo_response_new(&r, status);
    for (const char *const *h = headers; h && h[0]; h += 2)
        smneo_response_add_header(r, h[0], strlen(h[0]), h[1], strlen(h[1]));
    if (body) {
        r->body = strdup(body);
        r->body_len = strlen(body);
    }
    return r;
}

/* A file of n bytes, byte i = i * 7 % 251. */
static char *make_file(const char *dir, const char *name, size_t n)
{
    char *path = malloc(strlen(dir) + strlen(name) + 2);
    sprintf(path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    for (size_t i = 0; i < n; i++)
        fputc((int)(i * 7 % 251), f);
    fclose(f);
    return path;
}

static int region_ok(const char *buf, size_t off, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)buf[i] != (unsigned char)((off + i) * 7 % 251))
            return 0;
    return 1;
}

typedef struct seen {
    int events;
    uint64_t last, total;
    int total_before; /* an event of total bytes before `allow_total` */
    int allow_total;
    int cancel_at_total;
    smneo_s3_transfer *x;
} seen;

/* Drives SLEEP and EVENT steps until a SEND, WAIT or DONE. */
static void step(smneo_s3_step *st, smneo_s3_transfer *x, seen *s)
{
    for (;;) {
        smneo_s3_transfer_next(st, x);
        if (st->kind == SMNEO_STEP_SLEEP) {
            CHECK(st->sleep_ms > 0 && st->sleep_ms <= 200);
            usleep((useconds_t)st->sleep_ms * 1000);
            continue;
        }
        if (st->kind == SMNEO_STEP_EVENT) {
            CHECK(st->done >= s->last);
            CHECK(st->total == s->total);
            s->last = st->done;
            s->events++;
            if (st->done == st->total && !s->allow_total)
                s->total_before = 1;
            if (st->done == st->total && s->cancel_at_total)
                smneo_s3_transfer_cancel(x);
            continue;
        }
        return;
    }
}

/* Reads the whole streamed body of SEND st (checking it is the file's
 * region from off), and that the end gives 0. */
static size_t read_body(smneo_s3_transfer *x, const smneo_s3_step *st, size_t off)
{
    CHECK(st->request->body == NULL);
    size_t want = st->request->body_len, got = 0;
    char *buf = malloc(want + 1);
    for (;;) {
        int64_t n = smneo_s3_transfer_read(x, st->id, buf + got, want + 1 - got > 65536 ? 65536 : want + 1 - got);
        CHECK(n >= 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    CHECK_INT(got, want);
    CHECK(region_ok(buf, off, got));
    free(buf);
    return got;
}

static int has(const smneo_request *r, const char *s)
{
    return strstr(r->url, s) != NULL;
}

static void test_put(void)
{
    smneo_client *c = new_client(NULL);
    char *dir = smneo_test_tmpdir();
    char *path = make_file(dir, "small.bin", 1000);
    smneo_s3_options o = SMNEO_S3_OPTIONS_INIT;
    o.content_digest = "abc123";
    smneo_s3_transfer *x = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(smneo_s3_upload_new(&x, c, path, "s3://bkt/k", &o, &err), 0);
    seen s = {0};
    s.total = 1000;
    smneo_s3_step st;
    step(&st, x, &s);
    CHECK_INT(s.events, 1); /* (0, 1000) before any request */
    CHECK_INT(st.kind, SMNEO_STEP_SEND);
    CHECK_STR(st.request->method, "PUT");
    CHECK_STR(smneo_request_header(st.request, "x-amz-meta-smneo-blake2b"), "abc123");
    CHECK_STR(smneo_request_header(st.request, "Content-Type"), "application/octet-stream");
    /* plain HTTP: the real payload hash is signed */
    const char *h = smneo_request_header(st.request, "x-amz-content-sha256");
    CHECK(h && strlen(h) == 64);
    CHECK_INT(st.request->body_len, 1000);
    read_body(x, &st, 0);
    /* a connection cut: the PUT again, its body from the start */
    smneo_s3_transfer_feed(x, st.id, NULL, SMNEO_ECLOSED, "connection closed");
    int old = st.id;
    step(&st, x, &s);
    CHECK_INT(st.kind, SMNEO_STEP_SEND);
    CHECK(st.id != old);
    char b[4];
    CHECK(smneo_s3_transfer_read(x, old, b, sizeof b) == 0); /* an id no longer in flight */
    read_body(x, &st, 0);
    CHECK(s.last < 1000); /* the last byte counts once S3 answered */
    s.allow_total = 1;
    smneo_s3_transfer_feed(x, st.id, answer(200, NULL, NULL), 0, NULL);
    step(&st, x, &s);
    CHECK_INT(st.kind, SMNEO_STEP_DONE);
    CHECK_INT(s.last, 1000);
    CHECK_INT(smneo_s3_transfer_result(x, &err), 0);
    smneo_s3_transfer_free(x);
    /* bad input: a clear error, no transfer */
    x = (smneo_s3_transfer *)1;
    CHECK_INT(smneo_s3_upload_new(&x, c, dir, "s3://bkt/k", NULL, &err), SMNEO_EINVAL);
    CHECK(x == NULL && err.message && strstr(err.message, "not a regular file"));
    CHECK_INT(smneo_s3_upload_new(&x, c, "/nonexistent/f", "s3://bkt/k", NULL, &err), SMNEO_EIO);
    CHECK(err.message && strstr(err.message, "cannot open"));
    smneo_error_clear(&err);
    smneo_test_rmtree(dir);
    free(dir);
    free(path);
    smneo_client_free(c);
}

static const char CREATED[] =
    "<InitiateMultipartUploadResult><Bucket>bkt</Bucket><Key>k</Key><UploadId>u/1+</UploadId>"
    "</InitiateMultipartUploadResult>";

/* 12 MiB in 5 MiB parts (5, 5, 2), two in flight. */
static smneo_s3_transfer *start_multipart(smneo_client *c, const char *path, seen *s, smneo_s3_step *st)
{
    smneo_s3_options o = SMNEO_S3_OPTIONS_INIT;
    o.multipart_threshold = 5 * MIB;
    o.part_size = 5 * MIB;
    o.concurrency = 2;
    smneo_s3_transfer *x = NULL;
    CHECK_INT(smneo_s3_upload_new(&x, c, path, "s3://bkt/k", &o, NULL), 0);
    memset(s, 0, sizeof *s);
    s->total = 12 * MIB;
    step(st, x, s);
    CHECK_INT(st->kind, SMNEO_STEP_SEND);
    CHECK_STR(st->request->method, "POST");
    CHECK(has(st->request, "?uploads"));
    smneo_s3_transfer_feed(x, st->id, answer(200, NULL, CREATED), 0, NULL);
    return x;
}

static void test_multipart(void)
{
    smneo_client *c = new_client(NULL);
    char *dir = smneo_test_tmpdir();
    char *path = make_file(dir, "big.bin", 12 * MIB);
    seen s;
    smneo_s3_step st, p1, p2, p3;
    smneo_s3_transfer *x = start_multipart(c, path, &s, &st);
    /* two parts in flight, then WAIT */
    step(&p1, x, &s);
    step(&p2, x, &s);
    CHECK_INT(p1.kind, SMNEO_STEP_SEND);
    CHECK_INT(p2.kind, SMNEO_STEP_SEND);
    CHECK(has(p1.request, "partNumber=1&uploadId=u%2F1%2B"));
    CHECK(has(p2.request, "partNumber=2&"));
    CHECK(p1.id != p2.id);
    step(&st, x, &s);
    CHECK_INT(st.kind, SMNEO_STEP_WAIT);
    read_body(x, &p2, 5 * MIB);
    read_body(x, &p1, 0);
    /* answered out of order: part 3 starts in the freed slot */
    const char *e2[] = {"ETag", "\"e2\"", NULL};
    smneo_s3_transfer_feed(x, p2.id, answer(200, e2, NULL), 0, NULL);
    step(&p3, x, &s);
    CHECK_INT(p3.kind, SMNEO_STEP_SEND);
    CHECK(has(p3.request, "partNumber=3&"));
    CHECK_INT(p3.request->body_len, 2 * MIB);
    read_body(x, &p3, 10 * MIB);
    step(&st, x, &s);
    CHECK_INT(st.kind, SMNEO_STEP_WAIT);
    /* part 1 meets a 503: retried on its own (SLEEP, then a new SEND) */
    const char *busy = "<Error><Code>SlowDown</Code><Message>slow</Message></Error>";
    smneo_s3_transfer_feed(x, p1.id, answer(503, NULL, busy), 0, NULL);
    const char *e3[] = {"ETag", "\"e3\"", NULL};
    smneo_s3_transfer_feed(x, p3.id, answer(200, e3, NULL), 0, NULL);
    step(&st, x, &s);
    CHECK_INT(st.kind, SMNEO_STEP_SEND);
    CHECK(has(st.request, "partNumber=1&"));
    read_body(x, &st, 0);
    CHECK(s.last < 12 * MIB && !s.total_before);
    s.allow_total = 1;
    const char *e1[] = {"ETag", "\"e&1\"", NULL};
    smneo_s3_transfer_feed(x, st.id, answer(200, e1, NULL), 0, NULL);
    /* the final event, then Complete with the ETags in part order */
    step(&st, x, &s);
    CHECK_INT(s.last, 12 * MIB);
    CHECK_INT(st.kind, SMNEO_STEP_SEND);
    CHECK_STR(st.request->method, "POST");
    CHECK(has(st.request, "?uploadId=u%2F1%2B"));
    CHECK(st.request->body && strstr(st.request->body, "<Part><ETag>&quot;e&amp;1&quot;</ETag><PartNumber>1</PartNumber>"
                                                       "</Part><Part><ETag>&quot;e2&quot;</ETag><PartNumber>2"));
    /* a 200 carrying <Error> is retried */
    smneo_s3_transfer_feed(x, st.id, answer(200, NULL, "<Error><Code>InternalError</Code></Error>"), 0, NULL);
    step(&st, x, &s);
    CHECK_INT(st.kind, SMNEO_STEP_SEND);
    CHECK(has(st.request, "?uploadId="));
    smneo_s3_transfer_feed(x, st.id, answer(200, NULL, "<CompleteMultipartUploadResult/>"), 0, NULL);
    step(&st, x, &s);
    CHECK_INT(st.kind, SMNEO_STEP_DONE);
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(smneo_s3_transfer_result(x, &err), 0);
    smneo_s3_transfer_free(x);

    /* a part refused (403): the other's answer is awaited, then Abort */
    x = start_multipart(c, path, &s, &st);
    step(&p1, x, &s);
    step(&p2, x, &s);
    const char *denied = "<Error><Code>AccessDenied</Code><Message>no</Message></Error>";
    smneo_s3_transfer_feed(x, p1.id, answer(403, NULL, denied), 0, NULL);
    step(&st, x, &s);
    CHECK_INT(st.kind, SMNEO_STEP_WAIT);
    CHECK(smneo_s3_transfer_read(x, p2.id, (char[8]){0}, 8) == -1); /* stop sending the sibling */
    smneo_s3_transfer_feed(x, p2.id, NULL, SMNEO_ECONNECT, "stopped");
    step(&st, x, &s);
    CHECK_INT(st.kind, SMNEO_STEP_SEND);
    CHECK_STR(st.request->method, "DELETE");
    CHECK(has(st.request, "?uploadId=u%2F1%2B"));
    smneo_s3_transfer_feed(x, st.id, answer(204, NULL, NULL), 0, NULL);
    step(&st, x, &s);
    CHECK_INT(st.kind, SMNEO_STEP_DONE);
    CHECK(smneo_s3_transfer_result(x, &err) != 0);
    CHECK(err.message && strstr(err.message, "AccessDenied") && strstr(err.message, "aborted"));
    CHECK_STR(smneo_s3_transfer_failed_operation(x), "UploadPart");
    smneo_s3_transfer_free(x);

    /* a retried Complete meets NoSuchUpload: a HEAD finds the object of 3 parts */
    x = start_multipart(c, path, &s, &st);
    for (int i = 0; i < 3; i++) {
        step(&st, x, &s);
        CHECK_INT(st.kind, SMNEO_STEP_SEND);
        read_body(x, &st, (size_t)i * 5 * MIB);
        smneo_s3_transfer_feed(x, st.id, answer(200, e2, NULL), 0, NULL);
    }
    step(&st, x, &s);
    CHECK(has(st.request, "?uploadId="));
    smneo_s3_transfer_feed(x, st.id, NULL, SMNEO_ECLOSED, "connection closed");
    step(&st, x, &s);
    const char *nsu = "<Error><Code>NoSuchUpload</Code><Message>gone</Message></Error>";
    smneo_s3_transfer_feed(x, st.id, answer(404, NULL, nsu), 0, NULL);
    step(&st, x, &s);
    CHECK_INT(st.kind, SMNEO_STEP_SEND);
    CHECK_STR(st.request->method, "HEAD");
    const char *etag3[] = {"ETag", "\"abc-3\"", "Content-Length", "12582912", NULL};
    smneo_s3_transfer_feed(x, st.id, answer(200, etag3, NULL), 0, NULL);
    step(&st, x, &s);
    CHECK_INT(st.kind, SMNEO_STEP_DONE);
    CHECK_INT(smneo_s3_transfer_result(x, &err), 0);
    smneo_s3_transfer_free(x);
    smneo_error_clear(&err);
    smneo_test_rmtree(dir);
    free(dir);
    free(path);
    smneo_client_free(c);
}

/* The bug of issue 14: a cancel (Ctrl-C) that comes after the last byte was
 * sent, while the last part's answer is awaited, aborts the upload. The
 * machine gives the final event once every part is answered, before
 * Complete. */
static void test_cancel_after_last_byte(void)
{
    smneo_client *c = new_client(NULL);
    char *dir = smneo_test_tmpdir();
    char *path = make_file(dir, "big.bin", 12 * MIB);
    seen s;
    smneo_s3_step st, p[3];
    smneo_s3_transfer *x = start_multipart(c, path, &s, &st);
    step(&p[0], x, &s);
    step(&p[1], x, &s);
    read_body(x, &p[0], 0);
    read_body(x, &p[1], 5 * MIB);
    const char *e[] = {"ETag", "\"e\"", NULL};
    smneo_s3_transfer_feed(x, p[0].id, answer(200, e, NULL), 0, NULL);
    step(&p[2], x, &s);
    read_body(x, &p[2], 10 * MIB);
    /* every byte sent; Ctrl-C now, while the answers are awaited */
    s.allow_total = 1;
    s.cancel_at_total = 1;
    smneo_s3_transfer_feed(x, p[2].id, answer(200, e, NULL), 0, NULL);
    step(&st, x, &s);
    CHECK_INT(st.kind, SMNEO_STEP_WAIT);
    smneo_s3_transfer_feed(x, p[1].id, answer(200, e, NULL), 0, NULL);
    step(&st, x, &s);
    CHECK_INT(s.last, 12 * MIB);
    CHECK_INT(st.kind, SMNEO_STEP_SEND);
    CHECK_STR(st.request->method, "DELETE"); /* not Complete */
    smneo_s3_transfer_feed(x, st.id, answer(204, NULL, NULL), 0, NULL);
    step(&st, x, &s);
    CHECK_INT(st.kind, SMNEO_STEP_DONE);
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(smneo_s3_transfer_result(x, &err), SMNEO_ECANCELLED);
    CHECK(err.message && strstr(err.message, "cancelled by the progress callback") && strstr(err.message, "aborted"));
    CHECK(smneo_s3_transfer_failed_operation(x) == NULL);
    smneo_s3_transfer_free(x);
    smneo_error_clear(&err);
    smneo_test_rmtree(dir);
    free(dir);
    free(path);
    smneo_client_free(c);
}

/* Credentials from the container endpoint: a SEND of the machine's own
 * (with its timeout), then the PUT signed with what it answered; the
 * download machine asks the same way (one helper for both). */

/* Hex SHA-256 of the file's region, computed here apart from the core. */
static void region_sha256(char out[65], size_t off, size_t n)
{
    unsigned char *buf = malloc(n ? n : 1), md[32];
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)((off + i) * 7 % 251);
    unsigned int len = 0;
    EVP_Digest(buf, n, md, &len, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
    free(buf);
}

static void *work_thread(void *x)
{
    smneo_s3_transfer_work(x);
    return NULL;
}

/* Runs the WORK step on a thread of its own (as a driver's pool would),
 * reading the body of SEND `flying` (another part) meanwhile. */
static void work_elsewhere(smneo_s3_transfer *x, const smneo_s3_step *flying, size_t off)
{
    pthread_t t;
    CHECK_INT(pthread_create(&t, NULL, work_thread, x), 0);
    if (flying)
        read_body(x, flying, off);
    pthread_join(t, NULL);
}

/* Work steps opted in (issue 14): over plain HTTP each part's payload hash
 * is a WORK step, run on another thread while a part is in flight; the
 * signed x-amz-content-sha256 is the part's SHA-256. */
static void test_work_steps(void)
{
    smneo_client *c = new_client(NULL);
    char *dir = smneo_test_tmpdir();
    char *path = make_file(dir, "big.bin", 12 * MIB);
    smneo_s3_options o = SMNEO_S3_OPTIONS_INIT;
    o.multipart_threshold = 5 * MIB;
    o.part_size = 5 * MIB;
    o.concurrency = 2;
    smneo_s3_transfer *x = NULL;
    CHECK_INT(smneo_s3_transfer_set_work_steps(NULL, 1), SMNEO_EINVAL);
    CHECK_INT(smneo_s3_upload_new(&x, c, path, "s3://bkt/k", &o, NULL), 0);
    CHECK_INT(smneo_s3_transfer_set_work_steps(x, 1), 0);
    seen s = {0};
    s.total = 12 * MIB;
    smneo_s3_step st, p1, p2, p3;
    step(&st, x, &s);
    CHECK_INT(st.kind, SMNEO_STEP_SEND); /* Create: no payload to hash */
    smneo_s3_transfer_feed(x, st.id, answer(200, NULL, CREATED), 0, NULL);
    step(&st, x, &s);
    CHECK_INT(st.kind, SMNEO_STEP_WORK);
    step(&st, x, &s);
    CHECK_INT(st.kind, SMNEO_STEP_WORK); /* not run: asked again */
    work_elsewhere(x, NULL, 0);
    step(&p1, x, &s);
    CHECK_INT(p1.kind, SMNEO_STEP_SEND);
    CHECK(has(p1.request, "partNumber=1&"));
    char want[65];
    region_sha256(want, 0, 5 * MIB);
    CHECK_STR(smneo_request_header(p1.request, "x-amz-content-sha256"), want);
    /* part 2's hash runs while part 1's body streams */
    step(&st, x, &s);
    CHECK_INT(st.kind, SMNEO_STEP_WORK);
    work_elsewhere(x, &p1, 0);
    step(&p2, x, &s);
    CHECK_INT(p2.kind, SMNEO_STEP_SEND);
    CHECK(has(p2.request, "partNumber=2&"));
    region_sha256(want, 5 * MIB, 5 * MIB);
    CHECK_STR(smneo_request_header(p2.request, "x-amz-content-sha256"), want);
    step(&st, x, &s);
    CHECK_INT(st.kind, SMNEO_STEP_WAIT); /* both slots busy */
    read_body(x, &p2, 5 * MIB);
    const char *e1[] = {"ETag", "\"e1\"", NULL};
    smneo_s3_transfer_feed(x, p1.id, answer(200, e1, NULL), 0, NULL);
    /* a retried part keeps its hash: no second WORK */
    smneo_s3_transfer_feed(x, p2.id, NULL, SMNEO_ECLOSED, "connection closed");
    int works = 0, old2 = p2.id;
    memset(&p3, 0, sizeof p3);
    for (;;) {
        step(&st, x, &s);
        if (st.kind == SMNEO_STEP_WORK) {
            works++;
            smneo_s3_transfer_work(x); /* inline, as a C driver would */
            continue;
        }
        CHECK_INT(st.kind, SMNEO_STEP_SEND);
        if (has(st.request, "partNumber=2&")) {
            region_sha256(want, 5 * MIB, 5 * MIB);
            CHECK_STR(smneo_request_header(st.request, "x-amz-content-sha256"), want);
            read_body(x, &st, 5 * MIB);
            p2 = st;
        } else {
            CHECK(has(st.request, "partNumber=3&"));
            region_sha256(want, 10 * MIB, 2 * MIB);
            CHECK_STR(smneo_request_header(st.request, "x-amz-content-sha256"), want);
            read_body(x, &st, 10 * MIB);
            p3 = st;
        }
        if (p3.kind == SMNEO_STEP_SEND && p2.id != old2)
            break;
    }
    CHECK_INT(works, 1); /* part 3's */
    s.allow_total = 1;
    smneo_s3_transfer_feed(x, p2.id, answer(200, e1, NULL), 0, NULL);
    smneo_s3_transfer_feed(x, p3.id, answer(200, e1, NULL), 0, NULL);
    step(&st, x, &s);
    CHECK_INT(st.kind, SMNEO_STEP_SEND);
    CHECK(has(st.request, "?uploadId="));
    smneo_s3_transfer_feed(x, st.id, answer(200, NULL, "<CompleteMultipartUploadResult/>"), 0, NULL);
    step(&st, x, &s);
    CHECK_INT(st.kind, SMNEO_STEP_DONE);
    CHECK_INT(smneo_s3_transfer_result(x, NULL), 0);
    smneo_s3_transfer_free(x);

    /* a cancel while a WORK is handed out: the work stops (or is dropped)
     * and the upload is aborted */
    CHECK_INT(smneo_s3_upload_new(&x, c, path, "s3://bkt/k", &o, NULL), 0);
    smneo_s3_transfer_set_work_steps(x, 1);
    memset(&s, 0, sizeof s);
    s.total = 12 * MIB;
    step(&st, x, &s);
    smneo_s3_transfer_feed(x, st.id, answer(200, NULL, CREATED), 0, NULL);
    step(&st, x, &s);
    CHECK_INT(st.kind, SMNEO_STEP_WORK);
    smneo_s3_transfer_cancel(x);
    smneo_s3_transfer_work(x); /* stops at once */
    step(&st, x, &s);
    CHECK_INT(st.kind, SMNEO_STEP_SEND);
    CHECK_STR(st.request->method, "DELETE");
    smneo_s3_transfer_feed(x, st.id, answer(204, NULL, NULL), 0, NULL);
    step(&st, x, &s);
    CHECK_INT(st.kind, SMNEO_STEP_DONE);
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(smneo_s3_transfer_result(x, &err), SMNEO_ECANCELLED);
    CHECK(err.message && strstr(err.message, "cancelled") && strstr(err.message, "aborted"));
    smneo_error_clear(&err);
    smneo_s3_transfer_free(x);
    /* over HTTPS the payload is UNSIGNED-PAYLOAD (as botocore sends a
     * streamed upload over TLS): no hash, so no WORK either */
    smneo_client_options co = SMNEO_CLIENT_OPTIONS_INIT;
    co.region = "us-east-1";
    co.endpoint_url = "https://127.0.0.1:9";
    co.access_key_id = "AKIDEXAMPLE";
    co.secret_access_key = "secret";
    co.no_transport = 1;
    smneo_client *tls = NULL;
    CHECK_INT(smneo_client_new(&tls, &co, NULL), 0);
    CHECK_INT(smneo_s3_upload_new(&x, tls, path, "s3://bkt/k", &o, NULL), 0);
    smneo_s3_transfer_set_work_steps(x, 1);
    memset(&s, 0, sizeof s);
    s.total = 12 * MIB;
    step(&st, x, &s);
    smneo_s3_transfer_feed(x, st.id, answer(200, NULL, CREATED), 0, NULL);
    step(&st, x, &s);
    CHECK_INT(st.kind, SMNEO_STEP_SEND);
    CHECK(has(st.request, "partNumber=1&"));
    CHECK_STR(smneo_request_header(st.request, "x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
    smneo_s3_transfer_free(x);
    smneo_client_free(tls);
    /* freed with a WORK handed out and never run: nothing leaks */
    CHECK_INT(smneo_s3_upload_new(&x, c, path, "s3://bkt/k", &o, NULL), 0);
    smneo_s3_transfer_set_work_steps(x, 1);
    step(&st, x, &s);
    smneo_s3_transfer_feed(x, st.id, answer(200, NULL, CREATED), 0, NULL);
    step(&st, x, &s);
    CHECK_INT(st.kind, SMNEO_STEP_WORK);
    smneo_s3_transfer_free(x);
    smneo_test_rmtree(dir);
    free(dir);
    free(path);
    smneo_client_free(c);
}

static void test_credential_requests(void)
{
    static const char *const env_creds[] = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                                            "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"};
    for (size_t i = 0; i < sizeof env_creds / sizeof env_creds[0]; i++)
        unsetenv(env_creds[i]);
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:9/creds", 1);
    smneo_client_options co = SMNEO_CLIENT_OPTIONS_INIT;
    co.region = "us-east-1";
    co.endpoint_url = "http://127.0.0.1:9";
    co.no_transport = 1;
    char *dir = smneo_test_tmpdir();
    char *path = make_file(dir, "small.bin", 100);
    const char *creds = "{\"AccessKeyId\": \"AKIDCONTAINER\", \"SecretAccessKey\": \"s\", \"Token\": \"t\", "
                        "\"Expiration\": \"2999-01-01T00:00:00Z\"}";
    for (int up = 1; up >= 0; up--) {
        smneo_client *c = NULL; /* each its own: the chain keeps what it resolved */
        CHECK_INT(smneo_client_new(&c, &co, NULL), 0);
        char out[600];
        snprintf(out, sizeof out, "%s/out.bin", dir);
        smneo_s3_transfer *x = NULL;
        if (up)
            CHECK_INT(smneo_s3_upload_new(&x, c, path, "s3://bkt/k", NULL, NULL), 0);
        else
            CHECK_INT(smneo_s3_download_new(&x, c, "s3://bkt/k", out, NULL, NULL), 0);
        seen s = {0};
        s.total = up ? 100 : 0;
        s.allow_total = 1;
        smneo_s3_step st;
        step(&st, x, &s);
        CHECK_INT(st.kind, SMNEO_STEP_SEND);
        CHECK_STR(st.request->url, "http://127.0.0.1:9/creds");
        CHECK(st.timeout_ms > 0);
        if (up) { /* while credentials resolve, nothing else goes out */
            smneo_s3_step w;
            step(&w, x, &s);
            CHECK_INT(w.kind, SMNEO_STEP_WAIT);
        }
        smneo_s3_transfer_feed(x, st.id, answer(200, NULL, creds), 0, NULL);
        step(&st, x, &s);
        CHECK_INT(st.kind, SMNEO_STEP_SEND);
        CHECK_STR(st.request->method, up ? "PUT" : "HEAD");
        const char *auth = smneo_request_header(st.request, "Authorization");
        CHECK(auth && strstr(auth, "Credential=AKIDCONTAINER/"));
        CHECK_STR(smneo_request_header(st.request, "X-Amz-Security-Token"), "t");
        smneo_s3_transfer_free(x);
        smneo_client_free(c);
    }
    unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    smneo_test_rmtree(dir);
    free(dir);
    free(path);
}

/* ---- smneo_s3_upload over a fake transport ------------------------------------------ */

typedef struct fake {
    pthread_mutex_t mu;
    int parts_done;   /* UploadPart requests answered */
    int interrupted;  /* "Ctrl-C": set once the last part's body was sent */
    int completes, aborts;
    int max_inflight, inflight;
} fake;

static fake F = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0, 0, 0};

static int fake_send_stream(smneo_transport *self, smneo_response **out, const smneo_request *req,
                            const smneo_body_source *src, const smneo_body_sink *sink, smneo_error *err)
{
    (void)self;
    (void)sink;
    (void)err;
    pthread_mutex_lock(&F.mu);
    F.inflight++;
    if (F.inflight > F.max_inflight)
        F.max_inflight = F.inflight;
    pthread_mutex_unlock(&F.mu);
    if (src) {
        char buf[65536];
        uint64_t got = 0;
        while (got < src->length) {
            size_t n = src->read(src->payload, buf, sizeof buf);
            if (n == (size_t)-1 || n == 0)
                break;
            got += n;
        }
    }
    usleep(20000); /* the parts overlap */
    const char *e[] = {"ETag", "\"e\"", NULL};
    pthread_mutex_lock(&F.mu);
    F.inflight--;
    if (strstr(req->url, "?uploads"))
        *out = answer(200, NULL, CREATED);
    else if (strstr(req->url, "partNumber=")) {
        if (++F.parts_done == 3)
            F.interrupted = 1; /* after the last byte, before its answer is fed */
        *out = answer(200, e, NULL);
    } else if (!strcmp(req->method, "DELETE")) {
        F.aborts++;
        *out = answer(204, NULL, NULL);
    } else {
        F.completes++;
        *out = answer(200, NULL, "<CompleteMultipartUploadResult/>");
    }
    pthread_mutex_unlock(&F.mu);
    return 0;
}

static int fake_send(smneo_transport *self, smneo_response **out, const smneo_request *req, smneo_error *err)
{
    return fake_send_stream(self, out, req, NULL, NULL, err);
}

static int interrupted_cb(uint64_t done, uint64_t total, void *payload)
{
    (void)done;
    (void)total;
    (void)payload;
    pthread_mutex_lock(&F.mu);
    int i = F.interrupted;
    pthread_mutex_unlock(&F.mu);
    return i;
}

static void test_upload_driver(void)
{
    smneo_transport t = {SMNEO_TRANSPORT_VERSION, fake_send, NULL, NULL, fake_send_stream};
    smneo_client *c = new_client(&t);
    char *dir = smneo_test_tmpdir();
    char *path = make_file(dir, "big.bin", 12 * MIB);
    smneo_s3_options o = SMNEO_S3_OPTIONS_INIT;
    o.multipart_threshold = 5 * MIB;
    o.part_size = 5 * MIB;
    o.concurrency = 3;
    o.progress = interrupted_cb;
    const char *failed = "unset";
    o.failed_operation = &failed;
    smneo_error err = SMNEO_ERROR_INIT;
    /* Ctrl-C while the last part's answer is awaited: cancelled, aborted */
    CHECK_INT(smneo_s3_upload(c, path, "s3://bkt/k", &o, &err), SMNEO_ECANCELLED);
    CHECK(err.message && strstr(err.message, "aborted"));
    CHECK_INT(F.aborts, 1);
    CHECK_INT(F.completes, 0);
    CHECK(failed == NULL);
    CHECK_INT(F.max_inflight, 3); /* the parts went in parallel */
    /* not interrupted: completed */
    o.progress = NULL;
    F.parts_done = 0;
    F.interrupted = 0;
    F.aborts = 0;
    CHECK_INT(smneo_s3_upload(c, path, "s3://bkt/k", &o, &err), 0);
    CHECK_INT(F.completes, 1);
    CHECK_INT(F.aborts, 0);
    smneo_error_clear(&err);
    smneo_test_rmtree(dir);
    free(dir);
    free(path);
    smneo_client_free(c);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    aws_env_isolate();
    RUN(test_put);
    RUN(test_multipart);
    RUN(test_cancel_after_last_byte);
    RUN(test_credential_requests);
    RUN(test_work_steps);
    RUN(test_upload_driver);
    return smneo_test_summary("test_s3_upload_steps");
}
