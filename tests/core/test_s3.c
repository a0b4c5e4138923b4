/* S3 transfer against the local endpoint (python3 -m smneo.local), a tiny C
 * server (headers sent), a recording transport (URL styles, fallback), and
 * moto_server when moto is installed. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "aws_env.h"
#include "harness.h"
#include "httpserver.h"
#include "localserver.h"
#include "smneo/auth.h"
#include "smneo/s3.h"

#define MIB (1024u * 1024u)

static int ci(void)
{
    const char *v = getenv("CI");
    return v && (!strcmp(v, "true") || !strcmp(v, "1"));
}

/* ---- helpers -------------------------------------------------------------------- */

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* Writes n pseudo-random bytes (seeded) to path. */
static int write_file(const char *path, size_t n, unsigned seed)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    uint32_t x = seed * 2654435761u + 1;
    char buf[65536];
    size_t done = 0;
    while (done < n) {
        size_t k = n - done < sizeof buf ? n - done : sizeof buf;
        for (size_t i = 0; i < k; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            buf[i] = (char)(x >> 24);
        }
        fwrite(buf, 1, k, f);
        done += k;
    }
    return fclose(f);
}

static int files_equal(const char *a, const char *b)
{
    size_t na = 0, nb = 0;
    char *da = smneo_test_read_file(a, &na);
    char *db = smneo_test_read_file(b, &nb);
    int eq = da && db && na == nb && !memcmp(da, db, na);
    free(da);
    free(db);
    return eq;
}

/* Number of directory entries other than . and .. (and `except`). */
static int count_entries(const char *dir, const char *except)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && (!except || strcmp(e->d_name, except)))
            n++;
    closedir(d);
    return n;
}

static void sha256_hex(char out[65], const char *data, size_t len)
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
}

typedef struct progress {
    uint64_t last_done, total;
    int calls;
    int backwards;
    uint64_t cancel_at; /* 0: never */
} progress;

static int on_progress(uint64_t done, uint64_t total, void *payload)
{
    progress *p = payload;
    if (p->calls && done < p->last_done)
        p->backwards = 1;
    p->calls++;
    p->last_done = done;
    p->total = total;
    return p->cancel_at && done >= p->cancel_at;
}

/* ---- URI parsing (no network) --------------------------------------------------- */

static void check_uri(const char *uri, const char *bucket, const char *key)
{
    char *b = NULL, *k = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_s3_parse_uri(&b, &k, uri, &err);
    CHECK_MSG(rc == 0, "%s: %s", uri, err.message ? err.message : "");
    if (rc == 0) {
        CHECK_STR(b, bucket);
        CHECK_STR(k, key);
    }
    free(b);
    free(k);
    smneo_error_clear(&err);
}

static void check_bad_uri(const char *uri, const char *needle)
{
    char *b = NULL, *k = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(smneo_s3_parse_uri(&b, &k, uri, &err), SMNEO_EINVAL);
    CHECK(b == NULL && k == NULL);
    CHECK_MSG(err.message && strstr(err.message, needle), "%s: message \"%s\" lacks \"%s\"", uri,
              err.message ? err.message : "(null)", needle);
    smneo_error_clear(&err);
}

static void test_parse_uri(void)
{
    check_uri("s3://bucket/key", "bucket", "key");
    check_uri("s3://my-bucket/a/b/model.tar.gz", "my-bucket", "a/b/model.tar.gz");
    check_uri("S3://my.dotted.bucket/x y%20z", "my.dotted.bucket", "x y%20z"); /* s3:// keys are literal */
    check_uri("https://bucket.s3.us-west-2.amazonaws.com/dir/a%20b.tgz", "bucket", "dir/a b.tgz");
    check_uri("https://bucket.s3.amazonaws.com/k", "bucket", "k");
    check_uri("https://bucket.s3-eu-west-1.amazonaws.com/k?versionId=1", "bucket", "k");
    check_uri("https://s3.us-east-1.amazonaws.com/bucket/dir/k", "bucket", "dir/k");
    check_uri("http://127.0.0.1:9000/bkt/a%2Fb", "bkt", "a/b");
    check_bad_uri("bucket/key", "s3://bucket/key");
    check_bad_uri("s3://bucket", "no object key");
    check_bad_uri("s3://bucket/", "no object key");
    check_bad_uri("s3:///key", "no bucket");
    check_bad_uri("s3://Bad_Bucket/key", "bucket name 'Bad_Bucket' is not valid");
    check_bad_uri("s3://ab/key", "is not valid");
    check_bad_uri("https://s3.amazonaws.com/bucket/a%zz", "percent-escape");
    char *b = NULL, *k = NULL;
    CHECK_INT(smneo_s3_parse_uri(&b, &k, NULL, NULL), SMNEO_EINVAL);
}

/* ---- a recording version-1 transport: URL styles, signing mode, fallback ----------- */

typedef struct recorder {
    smneo_transport base;
    char url[1024];
    char host[512];
    char sha[128];
    int requests;
} recorder;

static int rec_send(smneo_transport *self, smneo_response **out, const smneo_request *req, smneo_error *err)
{
    recorder *r = (recorder *)self;
    r->requests++;
    snprintf(r->url, sizeof r->url, "%s", req->url);
    const char *h = smneo_request_header(req, "Host");
    snprintf(r->host, sizeof r->host, "%s", h ? h : "");
    const char *s = smneo_request_header(req, "x-amz-content-sha256");
    snprintf(r->sha, sizeof r->sha, "%s", s ? s : "");
    smneo_response_new(out, 200);
    smneo_response_add_header(*out, "Content-Length", 14, "1234", 4);
    smneo_response_add_header(*out, "ETag", 4, "\"abc\"", 5);
    smneo_response_add_header(*out, "x-amz-meta-smneo-blake2b", 24, "d1g", 3);
    const char *im = smneo_request_header(req, "If-Match");
    if (!strcmp(req->method, "GET") && im && !strcmp(im, "\"abc\"")) {
        char body[1234];
        memset(body, 'x', sizeof body);
        smneo_response_append_body(*out, body, sizeof body);
    }
    (void)err;
    return 0;
}

static void rec_free(smneo_transport *self) { (void)self; }

static void test_addressing(void)
{
    recorder rec;
    memset(&rec, 0, sizeof rec);
    rec.base.version = 1; /* a version-1 transport: no send_stream */
    rec.base.send = rec_send;
    rec.base.free = rec_free;
    smneo_client_options o = SMNEO_CLIENT_OPTIONS_INIT;
    o.region = "us-west-2";
    o.s3_endpoint_url = "https://s3.us-west-2.amazonaws.com";
    o.access_key_id = "AKIDEXAMPLE";
    o.secret_access_key = "secret";
    o.transport = &rec.base;
    smneo_client *c = NULL;
    CHECK_INT(smneo_client_new(&c, &o, NULL), 0);
    if (!c)
        return;
    smneo_s3_object obj;
    smneo_error err = SMNEO_ERROR_INIT;
    /* AWS: virtual-hosted style, UNSIGNED-PAYLOAD over HTTPS. */
    CHECK_INT(smneo_s3_head(&obj, c, "s3://bucket/dir/a b+c.tgz", &err), 0);
    CHECK_STR(rec.url, "https://bucket.s3.us-west-2.amazonaws.com/dir/a%20b%2Bc.tgz");
    CHECK_STR(rec.host, "bucket.s3.us-west-2.amazonaws.com");
    CHECK_STR(rec.sha, "UNSIGNED-PAYLOAD");
    CHECK_INT(obj.size, 1234);
    CHECK_STR(obj.etag, "abc");
    CHECK_STR(obj.blake2b, "d1g");
    smneo_s3_object_clear(&obj);
    /* A bucket with dots cannot be a TLS host name: path-style. */
    CHECK_INT(smneo_s3_head(&obj, c, "s3://my.bucket/k", &err), 0);
    CHECK_STR(rec.url, "https://s3.us-west-2.amazonaws.com/my.bucket/k");
    smneo_s3_object_clear(&obj);
    smneo_client_free(c);

    /* addressing_style "path" (option or the profile's s3 section) and "virtual". */
    o.s3_addressing_style = "path";
    CHECK_INT(smneo_client_new(&c, &o, NULL), 0);
    CHECK_INT(smneo_s3_head(&obj, c, "s3://bucket/k", &err), 0);
    CHECK_STR(rec.url, "https://s3.us-west-2.amazonaws.com/bucket/k");
    smneo_s3_object_clear(&obj);
    smneo_client_free(c);
    o.s3_addressing_style = "virtual";
    CHECK_INT(smneo_client_new(&c, &o, NULL), 0);
    CHECK_INT(smneo_s3_head(&obj, c, "s3://my.bucket/k", &err), 0);
    CHECK_STR(rec.url, "https://my.bucket.s3.us-west-2.amazonaws.com/k");
    smneo_s3_object_clear(&obj);
    smneo_client_free(c);
    o.s3_addressing_style = "sideways";
    CHECK_INT(smneo_client_new(&c, &o, &err), SMNEO_EINVAL);
    CHECK(err.message && strstr(err.message, "addressing_style"));
    smneo_error_clear(&err);
    o.s3_addressing_style = NULL;
    {
        char *pdir = smneo_test_tmpdir();
        char cfgpath[4096];
        snprintf(cfgpath, sizeof cfgpath, "%s/config", pdir);
        const char *text = "[default]\ns3 =\n  addressing_style = path\n";
        smneo_test_write_file(cfgpath, text, strlen(text));
        const char *old = getenv("AWS_CONFIG_FILE");
        char *saved = old ? strdup(old) : NULL;
        setenv("AWS_CONFIG_FILE", cfgpath, 1);
        CHECK_INT(smneo_client_new(&c, &o, NULL), 0);
        CHECK_INT(smneo_s3_head(&obj, c, "s3://bucket/k", &err), 0);
        CHECK_STR(rec.url, "https://s3.us-west-2.amazonaws.com/bucket/k");
        smneo_s3_object_clear(&obj);
        smneo_client_free(c);
        if (saved)
            setenv("AWS_CONFIG_FILE", saved, 1);
        else
            unsetenv("AWS_CONFIG_FILE");
        free(saved);
        smneo_test_rmtree(pdir);
        free(pdir);
    }

    /* A custom endpoint (with a base path): path-style. */
    o.s3_endpoint_url = "http://minio.local:9000/base/";
    CHECK_INT(smneo_client_new(&c, &o, NULL), 0);
    CHECK_INT(smneo_s3_head(&obj, c, "s3://bucket/k", &err), 0);
    CHECK_STR(rec.url, "http://minio.local:9000/base/bucket/k");
    /* Plain HTTP: the real payload hash (here of the empty body). */
    CHECK_STR(rec.sha, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    smneo_s3_object_clear(&obj);

    /* A version-1 transport cannot stream: large files are refused clearly. */
    char *dir = smneo_test_tmpdir();
    char *big = path_join(dir, "big.bin");
    CHECK_INT(write_file(big, 17 * MIB, 1), 0);
    int before = rec.requests;
    CHECK_INT(smneo_s3_upload(c, big, "s3://bucket/big", NULL, &err), SMNEO_EUNSUPPORTED);
    CHECK(err.message && strstr(err.message, "send_stream"));
    CHECK_INT(rec.requests, before);
    /* ... small ones go through memory. */
    char *small = path_join(dir, "small.bin");
    CHECK_INT(write_file(small, 1000, 2), 0);
    CHECK_INT(smneo_s3_upload(c, small, "s3://bucket/small", NULL, &err), 0);
    CHECK(strstr(rec.url, "/base/bucket/small") != NULL);
    /* ... and so do small downloads (If-Match: the ETag seen by HEAD). */
    char *out = path_join(dir, "got.bin");
    CHECK_INT(smneo_s3_download(c, "s3://bucket/small", out, NULL, &err), 0);
    struct stat st;
    CHECK(stat(out, &st) == 0 && st.st_size == 1234);
    free(out);
    smneo_error_clear(&err);
    smneo_s3_options so = SMNEO_S3_OPTIONS_INIT;
    so.part_size = 1024;
    CHECK_INT(smneo_s3_upload(c, small, "s3://bucket/small", &so, &err), SMNEO_EINVAL);
    CHECK(err.message && strstr(err.message, "part_size"));
    so.part_size = 0;
    so.version = 7;
    CHECK_INT(smneo_s3_upload(c, small, "s3://bucket/small", &so, &err), SMNEO_EINVAL);
    CHECK(err.message && strstr(err.message, "SMNEO_S3_OPTIONS_INIT"));
    CHECK_INT(smneo_s3_upload(c, dir, "s3://bucket/small", NULL, &err), SMNEO_EINVAL);
    CHECK(err.message && strstr(err.message, "not a regular file"));
    char *missing = path_join(dir, "missing.bin");
    CHECK_INT(smneo_s3_upload(c, missing, "s3://bucket/small", NULL, &err), SMNEO_EIO);
    CHECK(err.message && strstr(err.message, "missing.bin"));
    free(missing);
    smneo_error_clear(&err);
    smneo_client_free(c);
    smneo_test_rmtree(dir);
    free(big);
    free(small);
    free(dir);
}

/* ---- headers sent: SSE-KMS, metadata, payload hash, multipart parts --------------- */

typedef struct seen {
    pthread_mutex_t mu;
    char put_sse[128], put_kms[256], put_meta[128], put_sha[128], put_body_sha[128];
    char put_type[128], put_user_meta[128], create_type[128], create_user_meta[128];
    char create_sse[128], create_kms[256], create_meta[128];
    int part_with_sse;
    int parts;
    char complete_body[4096];
} seen;

static void copy_header(char *dst, size_t cap, const test_http_request *req, const char *name)
{
    const char *v = test_http_header(req, name);
    snprintf(dst, cap, "%s", v ? v : "");
}

static void sse_handler(const test_http_request *req, test_http_response *resp, void *payload)
{
    seen *s = payload;
    pthread_mutex_lock(&s->mu);
    resp->status = 200;
    if (!strcmp(req->method, "POST") && strstr(req->path, "?uploads")) {
        copy_header(s->create_sse, sizeof s->create_sse, req, "x-amz-server-side-encryption");
        copy_header(s->create_kms, sizeof s->create_kms, req, "x-amz-server-side-encryption-aws-kms-key-id");
        copy_header(s->create_meta, sizeof s->create_meta, req, "x-amz-meta-smneo-blake2b");
        copy_header(s->create_type, sizeof s->create_type, req, "Content-Type");
        copy_header(s->create_user_meta, sizeof s->create_user_meta, req, "x-amz-meta-stage");
        resp->body = strdup("<?xml version=\"1.0\"?><InitiateMultipartUploadResult><Bucket>b</Bucket>"
                            "<Key>k</Key><UploadId>up/1+2</UploadId></InitiateMultipartUploadResult>");
        resp->body_len = strlen(resp->body);
    } else if (!strcmp(req->method, "PUT") && strstr(req->path, "partNumber=")) {
        int n = atoi(strstr(req->path, "partNumber=") + 11);
        if (test_http_header(req, "x-amz-server-side-encryption"))
            s->part_with_sse = 1;
        if (!strstr(req->path, "uploadId=up%2F1%2B2"))
            resp->status = 400;
        s->parts++;
        snprintf(resp->headers, sizeof resp->headers, "ETag: \"etag-%d\"\r\n", n);
    } else if (!strcmp(req->method, "POST") && strstr(req->path, "uploadId=")) {
        snprintf(s->complete_body, sizeof s->complete_body, "%.*s", (int)req->body_len, req->body);
        resp->body = strdup("<CompleteMultipartUploadResult><ETag>&quot;x-3&quot;</ETag>"
                            "</CompleteMultipartUploadResult>");
        resp->body_len = strlen(resp->body);
    } else if (!strcmp(req->method, "PUT")) {
        copy_header(s->put_sse, sizeof s->put_sse, req, "x-amz-server-side-encryption");
        copy_header(s->put_kms, sizeof s->put_kms, req, "x-amz-server-side-encryption-aws-kms-key-id");
        copy_header(s->put_meta, sizeof s->put_meta, req, "x-amz-meta-smneo-blake2b");
        copy_header(s->put_type, sizeof s->put_type, req, "Content-Type");
        copy_header(s->put_user_meta, sizeof s->put_user_meta, req, "x-amz-meta-stage");
        copy_header(s->put_sha, sizeof s->put_sha, req, "x-amz-content-sha256");
        sha256_hex(s->put_body_sha, req->body, req->body_len);
        snprintf(resp->headers, sizeof resp->headers, "ETag: \"e\"\r\n");
    } else {
        resp->status = 405;
    }
    pthread_mutex_unlock(&s->mu);
}

static void test_headers_sent(void)
{
    seen s;
    memset(&s, 0, sizeof s);
    pthread_mutex_init(&s.mu, NULL);
    test_http_server *srv = test_http_server_start(sse_handler, &s);
    CHECK(srv != NULL);
    if (!srv)
        return;
    smneo_client *c = smneo_test_client(test_http_server_url(srv), NULL);
    char *dir = smneo_test_tmpdir();
    char *small = path_join(dir, "small.bin");
    char *mid = path_join(dir, "mid.bin");
    write_file(small, 300000, 3);
    write_file(mid, 11 * MIB, 4);
    smneo_s3_options o = SMNEO_S3_OPTIONS_INIT;
    o.sse_kms_key_id = "arn:aws:kms:us-east-1:123456789012:key/k-1";
    o.content_digest = "0123abcd";
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(smneo_s3_upload(c, small, "s3://bucket/model.tar.gz", &o, &err), 0);
    pthread_mutex_lock(&s.mu); /* the handler ran on the server's threads */
    CHECK_STR(s.put_sse, "aws:kms");
    CHECK_STR(s.put_kms, "arn:aws:kms:us-east-1:123456789012:key/k-1");
    CHECK_STR(s.put_meta, "0123abcd");
    CHECK_STR(s.put_sha, s.put_body_sha); /* plain HTTP signs the real SHA-256 */
    pthread_mutex_unlock(&s.mu);

    /* Multipart: SSE and metadata on CreateMultipartUpload only; the parts'
     * ETags in order in CompleteMultipartUpload; the upload id encoded. */
    o.multipart_threshold = 6 * MIB;
    o.part_size = 5 * MIB;
    o.concurrency = 3;
    CHECK_INT(smneo_s3_upload(c, mid, "s3://bucket/mid", &o, &err), 0);
    if (err.message)
        fprintf(stderr, "%s\n", err.message);
    pthread_mutex_lock(&s.mu);
    CHECK_STR(s.create_sse, "aws:kms");
    CHECK_STR(s.create_kms, "arn:aws:kms:us-east-1:123456789012:key/k-1");
    CHECK_STR(s.create_meta, "0123abcd");
    CHECK_INT(s.part_with_sse, 0);
    CHECK_INT(s.parts, 3);
    CHECK(strstr(s.complete_body, "<Part><ETag>&quot;etag-1&quot;</ETag><PartNumber>1</PartNumber></Part>"
                                  "<Part><ETag>&quot;etag-2&quot;</ETag><PartNumber>2</PartNumber></Part>"
                                  "<Part><ETag>&quot;etag-3&quot;</ETag><PartNumber>3</PartNumber></Part>") != NULL);
    CHECK_STR(s.create_type, "application/octet-stream");
    pthread_mutex_unlock(&s.mu);

    /* Version 2: content type, caller's metadata and SSE, on both paths */
    static const char *const meta[] = {"stage", "prod", NULL};
    smneo_s3_options v2 = SMNEO_S3_OPTIONS_INIT;
    v2.content_type = "application/gzip";
    v2.metadata = meta;
    v2.server_side_encryption = "AES256";
    CHECK_INT(smneo_s3_upload(c, small, "s3://bucket/v2", &v2, &err), 0);
    v2.multipart_threshold = 6 * MIB;
    v2.part_size = 5 * MIB;
    CHECK_INT(smneo_s3_upload(c, mid, "s3://bucket/v2mid", &v2, &err), 0);
    pthread_mutex_lock(&s.mu);
    CHECK_STR(s.put_type, "application/gzip");
    CHECK_STR(s.put_user_meta, "prod");
    CHECK_STR(s.put_sse, "AES256");
    CHECK_STR(s.put_kms, "");
    CHECK_STR(s.create_type, "application/gzip");
    CHECK_STR(s.create_user_meta, "prod");
    CHECK_STR(s.create_sse, "AES256");
    pthread_mutex_unlock(&s.mu);
    /* bad version-2 fields name the field */
    v2.sse_kms_key_id = "k";
    CHECK_INT(smneo_s3_upload(c, small, "s3://bucket/v2", &v2, &err), SMNEO_EINVAL);
    CHECK(err.message && strstr(err.message, "sse_kms_key_id needs server_side_encryption"));
    v2.sse_kms_key_id = NULL;
    v2.server_side_encryption = "aes";
    CHECK_INT(smneo_s3_upload(c, small, "s3://bucket/v2", &v2, &err), SMNEO_EINVAL);
    CHECK(err.message && strstr(err.message, "server_side_encryption \"aes\" is not valid"));
    v2.server_side_encryption = NULL;
    static const char *const bad_meta[] = {"a b", "x", NULL};
    v2.metadata = bad_meta;
    CHECK_INT(smneo_s3_upload(c, small, "s3://bucket/v2", &v2, &err), SMNEO_EINVAL);
    CHECK(err.message && strstr(err.message, "metadata: the name \"a b\""));
    /* a version-1 caller's struct ends at payload: the rest is not read */
    struct {
        smneo_s3_options o;
    } v1;
    memset(&v1, 0xff, sizeof v1);
    v1.o.version = 1;
    v1.o.multipart_threshold = 0;
    v1.o.part_size = 0;
    v1.o.concurrency = 0;
    v1.o.sse_kms_key_id = NULL;
    v1.o.content_digest = NULL;
    v1.o.progress = NULL;
    v1.o.payload = NULL;
    CHECK_INT(smneo_s3_upload(c, small, "s3://bucket/v1", &v1.o, &err), 0);
    pthread_mutex_lock(&s.mu);
    CHECK_STR(s.put_type, "application/octet-stream");
    CHECK_STR(s.put_user_meta, "");
    pthread_mutex_unlock(&s.mu);
    smneo_error_clear(&err);
    smneo_client_free(c);
    test_http_server_stop(srv);
    pthread_mutex_destroy(&s.mu);
    smneo_test_rmtree(dir);
    free(small);
    free(mid);
    free(dir);
}

/* ---- the streaming transport itself ----------------------------------------------- */

static void echo_handler(const test_http_request *req, test_http_response *resp, void *payload)
{
    (void)payload;
    if (!strcmp(req->path, "/err")) {
        resp->status = 404;
        resp->body = strdup("<Error><Code>NoSuchKey</Code></Error>");
        resp->body_len = strlen(resp->body);
        return;
    }
    resp->status = 200;
    resp->body = malloc(req->body_len + 1);
    memcpy(resp->body, req->body, req->body_len);
    resp->body_len = req->body_len;
    snprintf(resp->headers, sizeof resp->headers, "X-Method: %s\r\n", req->method);
}

typedef struct counter_src {
    size_t pos, fail_at;
} counter_src;

static size_t counter_read(void *payload, char *buf, size_t n)
{
    counter_src *c = payload;
    if (c->fail_at && c->pos >= c->fail_at)
        return (size_t)-1;
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)((c->pos + i) % 251);
    c->pos += n;
    return n;
}

typedef struct collect_sink {
    size_t got;
    int bad;
    int stop;
} collect_sink;

static int collect_write(void *payload, const char *data, size_t n)
{
    collect_sink *k = payload;
    for (size_t i = 0; i < n; i++)
        if (data[i] != (char)((k->got + i) % 251))
            k->bad = 1;
    k->got += n;
    return k->stop;
}

static void test_stream_transport(void)
{
    test_http_server *srv = test_http_server_start(echo_handler, NULL);
    CHECK(srv != NULL);
    if (!srv)
        return;
    smneo_curl_options co = SMNEO_CURL_OPTIONS_INIT;
    smneo_transport *t = NULL;
    CHECK_INT(smneo_curl_transport_new(&t, &co, NULL), 0);
    CHECK(t && smneo_transport_can_stream(t));
    char url[256];
    const char *methods[] = {"POST", "PUT"};
    for (int m = 0; m < 2; m++) {
        snprintf(url, sizeof url, "%s/echo", test_http_server_url(srv));
        smneo_request *req = NULL;
        smneo_request_new(&req, methods[m], url);
        counter_src cs = {0, 0};
        smneo_body_source src = {300000, counter_read, &cs};
        collect_sink ck = {0, 0, 0};
        smneo_body_sink sink = {collect_write, &ck};
        smneo_response *resp = NULL;
        smneo_error err = SMNEO_ERROR_INIT;
        CHECK_INT(smneo_transport_send_stream(&resp, t, req, &src, &sink, &err), 0);
        if (resp) {
            CHECK_INT(resp->status, 200);
            CHECK_STR(smneo_response_header(resp, "X-Method"), methods[m]);
            CHECK_INT(resp->body_len, 0); /* the body went to the sink */
        }
        CHECK_INT(ck.got, 300000);
        CHECK_INT(ck.bad, 0);
        smneo_response_free(resp);
        resp = NULL;
        /* A source error aborts. */
        cs.pos = 0;
        cs.fail_at = 100000;
        CHECK_INT(smneo_transport_send_stream(&resp, t, req, &src, NULL, &err), SMNEO_ECANCELLED);
        CHECK(resp == NULL && err.message && strstr(err.message, "source"));
        /* A sink that says stop aborts. */
        cs.pos = 0;
        cs.fail_at = 0;
        ck.got = 0;
        ck.stop = 1;
        CHECK_INT(smneo_transport_send_stream(&resp, t, req, &src, &sink, &err), SMNEO_ECANCELLED);
        CHECK(resp == NULL && err.message && strstr(err.message, "sink"));
        smneo_error_clear(&err);
        smneo_request_free(req);
    }
    /* An error body is not given to the sink: it stays in the response. */
    snprintf(url, sizeof url, "%s/err", test_http_server_url(srv));
    smneo_request *req = NULL;
    smneo_request_new(&req, "GET", url);
    collect_sink ck = {0, 0, 0};
    smneo_body_sink sink = {collect_write, &ck};
    smneo_response *resp = NULL;
    CHECK_INT(smneo_transport_send_stream(&resp, t, req, NULL, &sink, NULL), 0);
    CHECK(resp && resp->status == 404 && resp->body_len > 0 && strstr(resp->body, "NoSuchKey"));
    CHECK_INT(ck.got, 0);
    smneo_response_free(resp);
    smneo_request_free(req);
    smneo_transport_free(t);
    test_http_server_stop(srv);
}

/* ---- against a real S3 implementation ------------------------------------------- */

typedef struct env {
    const char *name;    /* "smneo.local" or "moto" */
    const char *url;
    const char *data_dir;/* local endpoint's data dir (multipart leftovers), or NULL */
    smneo_client *client;
    char *tmp;           /* local scratch dir */
} env;

static void test_roundtrip(env *e)
{
    char *src = path_join(e->tmp, "small.bin");
    char *dst = path_join(e->tmp, "small.out");
    CHECK_INT(write_file(src, 200001, 5), 0);
    smneo_s3_options o = SMNEO_S3_OPTIONS_INIT;
    o.content_digest = "b2digest";
    progress p;
    memset(&p, 0, sizeof p);
    o.progress = on_progress;
    o.payload = &p;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_MSG(smneo_s3_upload(e->client, src, "s3://smneo-test/dir/small file.bin", &o, &err) == 0, "%s: %s",
              e->name, err.message);
    CHECK_INT(p.total, 200001);
    CHECK_INT(p.last_done, 200001);
    CHECK_INT(p.backwards, 0);
    smneo_s3_object obj;
    CHECK_INT(smneo_s3_head(&obj, e->client, "s3://smneo-test/dir/small file.bin", &err), 0);
    CHECK_INT(obj.size, 200001);
    CHECK(obj.etag && strlen(obj.etag) == 32 && !strchr(obj.etag, '"'));
    CHECK_STR(obj.blake2b, "b2digest");
    smneo_s3_object_clear(&obj);
    memset(&p, 0, sizeof p);
    /* dst exists, setuid and setgid: replaced by a file of the default mode. */
    CHECK_INT(write_file(dst, 10, 1), 0);
    CHECK(chmod(dst, 06755) == 0);
    mode_t old_mask = umask(077);
    int drc = smneo_s3_download(e->client, "s3://smneo-test/dir/small file.bin", dst, &o, &err);
    umask(old_mask);
    CHECK_MSG(drc == 0, "%s: %s", e->name, err.message);
    struct stat mst;
    CHECK_MSG(stat(dst, &mst) == 0 && (mst.st_mode & 07777) == 0600, "%s: mode %o", e->name,
              (unsigned)(mst.st_mode & 07777));
    CHECK(files_equal(src, dst));
    CHECK_INT(p.last_done, 200001);
    CHECK_INT(count_entries(e->tmp, NULL), 2); /* no temporary file left */
    /* Empty file. */
    FILE *f = fopen(src, "wb");
    fclose(f);
    CHECK_INT(smneo_s3_upload(e->client, src, "s3://smneo-test/empty", NULL, &err), 0);
    CHECK_INT(smneo_s3_download(e->client, "s3://smneo-test/empty", dst, NULL, &err), 0);
    struct stat st;
    CHECK(stat(dst, &st) == 0 && st.st_size == 0);
    smneo_error_clear(&err);
    unlink(src);
    unlink(dst);
    free(src);
    free(dst);
}

static void test_multipart(env *e)
{
    char *src = path_join(e->tmp, "big.bin");
    char *dst = path_join(e->tmp, "big.out");
    CHECK_INT(write_file(src, 17 * MIB, 6), 0);
    smneo_s3_options o = SMNEO_S3_OPTIONS_INIT;
    o.multipart_threshold = 6 * MIB;
    o.part_size = 5 * MIB;
    o.concurrency = 3;
    o.content_digest = "mpdigest";
    progress p;
    memset(&p, 0, sizeof p);
    o.progress = on_progress;
    o.payload = &p;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_MSG(smneo_s3_upload(e->client, src, "s3://smneo-test/big.bin", &o, &err) == 0, "%s: %s", e->name,
              err.message);
    CHECK_INT(p.last_done, 17 * MIB);
    CHECK_INT(p.backwards, 0);
    smneo_s3_object obj;
    CHECK_INT(smneo_s3_head(&obj, e->client, "s3://smneo-test/big.bin", &err), 0);
    CHECK_INT(obj.size, 17 * MIB);
    size_t n = obj.etag ? strlen(obj.etag) : 0;
    CHECK_MSG(n > 2 && !strcmp(obj.etag + n - 2, "-4"), "%s: ETag %s", e->name, obj.etag);
    CHECK_STR(obj.blake2b, "mpdigest");
    smneo_s3_object_clear(&obj);
    CHECK_INT(smneo_s3_download(e->client, "s3://smneo-test/big.bin", dst, NULL, &err), 0);
    CHECK(files_equal(src, dst));
    smneo_error_clear(&err);
    unlink(dst);
    free(src);
    free(dst);
}

static void test_missing(env *e)
{
    char *dst = path_join(e->tmp, "never.out");
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(smneo_s3_download(e->client, "s3://smneo-test/no/such-key", dst, NULL, &err), SMNEO_ENOTFOUND);
    CHECK_MSG(err.message && strstr(err.message, "not found at s3://smneo-test/no/such-key"), "%s: %s", e->name,
              err.message);
    CHECK(access(dst, F_OK) != 0);
    /* the failing request is named; a HEAD's bodiless 404 has botocore's code "404" */
    const char *op = "unset";
    smneo_s3_options o = SMNEO_S3_OPTIONS_INIT;
    o.failed_operation = &op;
    CHECK_INT(smneo_s3_download(e->client, "s3://smneo-test/no/such-key", dst, &o, &err), SMNEO_ENOTFOUND);
    CHECK_STR(op ? op : "(null)", "HeadObject");
    CHECK_STR(err.service_code ? err.service_code : "(null)", "404");
    smneo_s3_object obj;
    CHECK_INT(smneo_s3_head(&obj, e->client, "s3://smneo-test/no/such-key", &err), SMNEO_ENOTFOUND);
    CHECK_INT(err.http_status, 404);
    char *src = path_join(e->tmp, "never.in");
    write_file(src, 10, 1);
    op = "unset";
    CHECK_INT(smneo_s3_upload(e->client, src, "s3://no-such-bucket-smneo/k", &o, &err), SMNEO_ENOTFOUND);
    CHECK_STR(op ? op : "(null)", "PutObject");
    CHECK_STR(err.service_code ? err.service_code : "(null)", "NoSuchBucket");
    op = "unset";
    CHECK_INT(smneo_s3_upload(e->client, dst, "s3://smneo-test/k", &o, &err), SMNEO_EIO); /* no such file */
    CHECK(op == NULL);
    unlink(src);
    free(src);
    CHECK_INT(smneo_s3_download(e->client, "s3://no-such-bucket-smneo/k", dst, NULL, &err), SMNEO_ENOTFOUND);
    CHECK(err.message && strstr(err.message, "not found at s3://no-such-bucket-smneo/k"));
    CHECK_INT(count_entries(e->tmp, "big.bin"), 0);
    smneo_error_clear(&err);
    free(dst);
}

/* ---- local endpoint only: faults, cancel, leftovers ------------------------------- */

static int add_fault(const char *base, const char *json)
{
    char url[512];
    snprintf(url, sizeof url, "%s/_smneo/faults", base);
    return smneo_test_http("POST", url, json, 0, NULL);
}

static int faults_left(const char *base)
{
    char url[512], *body = NULL;
    snprintf(url, sizeof url, "%s/_smneo/faults", base);
    smneo_test_http("GET", url, NULL, 0, &body);
    int empty = body && strstr(body, "\"faults\": []") != NULL;
    free(body);
    return !empty;
}

static void test_part_retry(env *e)
{
    char *src = path_join(e->tmp, "big.bin");
    char *dst = path_join(e->tmp, "retry.out");
    /* The first UploadPart (a PUT) gets a 500: that part alone is retried. */
    CHECK_INT(add_fault(e->url, "{\"kind\":\"500\",\"count\":1,\"target\":\"s3\",\"operation\":\"PUT\"}"), 200);
    smneo_s3_options o = SMNEO_S3_OPTIONS_INIT;
    o.multipart_threshold = 6 * MIB;
    o.part_size = 5 * MIB;
    o.concurrency = 2;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_MSG(smneo_s3_upload(e->client, src, "s3://smneo-test/retried.bin", &o, &err) == 0, "%s", err.message);
    CHECK(!faults_left(e->url));
    smneo_s3_object obj;
    CHECK_INT(smneo_s3_head(&obj, e->client, "s3://smneo-test/retried.bin", &err), 0);
    CHECK(obj.etag && strstr(obj.etag, "-4"));
    smneo_s3_object_clear(&obj);
    /* A download whose first GET is cut short midway resumes where it
     * stopped: the retry asks for the rest (Range, answered 206) and the file
     * is whole. */
    char rurl[512];
    snprintf(rurl, sizeof rurl, "%s/_smneo/requests?service=s3", e->url);
    smneo_test_http("DELETE", rurl, NULL, 0, NULL);
    CHECK_INT(add_fault(e->url, "{\"kind\":\"truncate\",\"count\":1,\"target\":\"s3\",\"operation\":\"GET\"}"),
              200);
    CHECK_MSG(smneo_s3_download(e->client, "s3://smneo-test/retried.bin", dst, NULL, &err) == 0, "%s",
              err.message);
    CHECK(!faults_left(e->url));
    CHECK(files_equal(src, dst));
    char *log = NULL;
    smneo_test_http("GET", rurl, NULL, 0, &log);
    CHECK(log && strstr(log, "\"fault\": \"truncate\""));
    CHECK_MSG(log && strstr(log, "\"status\": 206"), "%s", log ? log : "(no request log)");
    free(log);
    /* Failures on every attempt: the error says so, the old file is intact,
     * no temporary file is left. */
    FILE *f = fopen(dst, "wb");
    fputs("previous", f);
    fclose(f);
    CHECK_INT(add_fault(e->url, "{\"kind\":\"500\",\"count\":5,\"target\":\"s3\",\"operation\":\"GET\"}"), 200);
    CHECK_INT(smneo_s3_download(e->client, "s3://smneo-test/retried.bin", dst, NULL, &err), SMNEO_ESERVICE);
    CHECK_INT(err.attempts, 3);
    CHECK_STR(err.service_code, "InternalError");
    char url[512];
    snprintf(url, sizeof url, "%s/_smneo/faults", e->url);
    smneo_test_http("DELETE", url, NULL, 0, NULL);
    size_t n = 0;
    char *content = smneo_test_read_file(dst, &n);
    CHECK(content && !strcmp(content, "previous"));
    free(content);
    CHECK_INT(count_entries(e->tmp, NULL), 2); /* big.bin and retry.out */
    smneo_error_clear(&err);
    unlink(dst);
    free(src);
    free(dst);
}

static void test_cancel(env *e)
{
    char *src = path_join(e->tmp, "big.bin");
    char *dst = path_join(e->tmp, "cancel.out");
    smneo_s3_options o = SMNEO_S3_OPTIONS_INIT;
    o.multipart_threshold = 6 * MIB;
    o.part_size = 5 * MIB;
    o.concurrency = 2;
    progress p;
    memset(&p, 0, sizeof p);
    p.cancel_at = 7 * MIB;
    o.progress = on_progress;
    o.payload = &p;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(smneo_s3_upload(e->client, src, "s3://smneo-test/cancelled.bin", &o, &err), SMNEO_ECANCELLED);
    CHECK(err.message && strstr(err.message, "cancelled") && strstr(err.message, "aborted"));
    smneo_s3_object obj;
    CHECK_INT(smneo_s3_head(&obj, e->client, "s3://smneo-test/cancelled.bin", &err), SMNEO_ENOTFOUND);
    /* The aborted upload's parts are gone from the endpoint. */
    char *uploads = path_join(e->data_dir, ".uploads");
    CHECK_INT(count_entries(uploads, NULL), 0);
    free(uploads);
    /* Cancel a download: the partial file is removed. */
    memset(&p, 0, sizeof p);
    p.cancel_at = 3 * MIB;
    CHECK_INT(smneo_s3_download(e->client, "s3://smneo-test/big.bin", dst, &o, &err), SMNEO_ECANCELLED);
    CHECK(err.message && strstr(err.message, "removed"));
    CHECK(access(dst, F_OK) != 0);
    CHECK_INT(count_entries(e->tmp, "big.bin"), 0);
    smneo_error_clear(&err);
    free(src);
    free(dst);
}

/* Several transfers on one client at once. */
typedef struct job {
    env *e;
    int i;
    int rc;
} job;

static void *job_run(void *arg)
{
    job *j = arg;
    char name[64], uri[128];
    snprintf(name, sizeof name, "conc-%d.bin", j->i);
    snprintf(uri, sizeof uri, "s3://smneo-test/%s", name);
    char *src = path_join(j->e->tmp, name);
    char *dst = path_join(j->e->tmp, "x");
    free(dst);
    snprintf(name, sizeof name, "conc-%d.out", j->i);
    dst = path_join(j->e->tmp, name);
    write_file(src, 7 * MIB + (size_t)j->i, (unsigned)(100 + j->i));
    smneo_s3_options o = SMNEO_S3_OPTIONS_INIT;
    o.multipart_threshold = 6 * MIB;
    o.part_size = 5 * MIB;
    j->rc = smneo_s3_upload(j->e->client, src, uri, &o, NULL);
    if (!j->rc)
        j->rc = smneo_s3_download(j->e->client, uri, dst, NULL, NULL);
    if (!j->rc && !files_equal(src, dst))
        j->rc = -1000;
    unlink(src);
    unlink(dst);
    free(src);
    free(dst);
    return NULL;
}

static void test_concurrent(env *e)
{
    pthread_t th[3];
    job jobs[3];
    for (int i = 0; i < 3; i++) {
        jobs[i].e = e;
        jobs[i].i = i;
        jobs[i].rc = -1;
        pthread_create(&th[i], NULL, job_run, &jobs[i]);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT(jobs[i].rc, 0);
    }
}

#define RUN_ENV(fn, e)                                                               \
    do {                                                                             \
        int before_ = smneo_test_failed;                                             \
        fn(e);                                                                       \
        if (smneo_test_failed != before_)                                            \
            fprintf(stderr, "FAILED: %s (%s)\n", #fn, (e)->name);                    \
    } while (0)

/* smneo_s3_default_bucket: sagemaker-REGION-ACCOUNT, made once, found after */
static void test_default_bucket(env *e)
{
    char *b1 = NULL, *b2 = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_MSG(smneo_s3_default_bucket(&b1, e->client, &err) == 0, "%s: %s", e->name, err.message);
    char want[64];
    snprintf(want, sizeof want, "sagemaker-%s-123456789012", smneo_client_region(e->client));
    CHECK_STR(b1 ? b1 : "(null)", want);
    /* the bucket is there: a missing key in it is NoSuchKey, not NoSuchBucket */
    char uri[128];
    snprintf(uri, sizeof uri, "s3://%s/nothing", want);
    char *dst = path_join(e->tmp, "nothing.out");
    CHECK_INT(smneo_s3_download(e->client, uri, dst, NULL, &err), SMNEO_ENOTFOUND);
    CHECK_MSG(err.message && strstr(err.message, "object not found"), "%s: %s", e->name, err.message);
    CHECK_INT(smneo_s3_default_bucket(&b2, e->client, &err), 0); /* found, not created again */
    CHECK_STR(b2 ? b2 : "(null)", want);
    CHECK_INT(smneo_s3_default_bucket(NULL, e->client, &err), SMNEO_EINVAL);
    smneo_error_clear(&err);
    free(dst);
    free(b1);
    free(b2);
}

/* ListObjectsV2 page by page: 5 objects under list/ read 2 a page (three
 * pages joined by continuation tokens), in key order, with their sizes and
 * ETags; a plain string prefix; a missing bucket; bad arguments. */
static void test_list(env *e)
{
    static const char *const keys[] = {"list/a.bin", "list/b c.bin", "list/d/e.bin", "list/f&g.bin", "list/h.bin"};
    char *src = path_join(e->tmp, "item.bin");
    smneo_error err = SMNEO_ERROR_INIT;
    char uri[128];
    for (int i = 0; i < 5; i++) {
        CHECK_INT(write_file(src, (size_t)(100 + i), 3), 0);
        snprintf(uri, sizeof uri, "s3://smneo-test/%s", keys[i]);
        CHECK_MSG(smneo_s3_upload(e->client, src, uri, NULL, &err) == 0, "%s: %s", e->name, err.message);
    }
    CHECK_MSG(smneo_s3_upload(e->client, src, "s3://smneo-test/listing/x.bin", NULL, &err) == 0, "%s", e->name);
    for (unsigned page = 0; page <= 2; page += 2) {
        smneo_s3_list *it = NULL;
        CHECK_INT(smneo_s3_list_new(&it, e->client, "s3://smneo-test/list/", page, &err), 0);
        smneo_s3_listed obj;
        int n = 0, rc;
        while ((rc = smneo_s3_list_next(&obj, it, &err)) == 0) {
            if (n < 5) {
                CHECK_STR(obj.key, keys[n]);
                CHECK_INT(obj.size, 100 + n);
                CHECK(obj.etag && strlen(obj.etag) == 32 && !strchr(obj.etag, '"'));
            }
            n++;
        }
        CHECK_MSG(rc == SMNEO_ITEROVER, "%s: %d %s", e->name, rc, err.message ? err.message : "");
        CHECK_INT(n, 5);
        smneo_s3_list_free(it);
    }
    /* "list" is a string prefix: listing/ too */
    smneo_s3_list *it = NULL;
    CHECK_INT(smneo_s3_list_new(&it, e->client, "s3://smneo-test/list", 1, &err), 0);
    smneo_s3_listed obj;
    int n = 0, rc;
    while ((rc = smneo_s3_list_next(&obj, it, &err)) == 0)
        n += !strncmp(obj.key, "list", 4);
    CHECK_INT(rc, SMNEO_ITEROVER);
    CHECK_INT(n, 6);
    smneo_s3_list_free(it);
    /* a missing bucket: ListObjectsV2's error, at the first next */
    it = NULL;
    CHECK_INT(smneo_s3_list_new(&it, e->client, "s3://no-such-bucket-here", 0, &err), 0);
    CHECK_INT(smneo_s3_list_next(&obj, it, &err), SMNEO_ENOTFOUND);
    CHECK_STR(smneo_error_operation(&err) ? smneo_error_operation(&err) : "(null)", "ListObjectsV2");
    CHECK_STR(err.service_code ? err.service_code : "(null)", "NoSuchBucket");
    smneo_s3_list_free(it);
    it = NULL;
    CHECK_INT(smneo_s3_list_new(&it, e->client, "s3://smneo-test/", 1001, &err), SMNEO_EINVAL);
    CHECK(err.message && strstr(err.message, "1 to 1000"));
    CHECK_INT(smneo_s3_list_new(&it, e->client, "s3:///x", 0, &err), SMNEO_EINVAL);
    CHECK(it == NULL);
    smneo_s3_list_free(NULL);
    smneo_error_clear(&err);
    free(src);
}

static void run_local(void)
{
    char *data = smneo_test_tmpdir();
    smneo_test_server c;
    const char *const args[] = {"--data-dir", data, NULL};
    if (smneo_test_local_start(&c, args) != 0) {
        fprintf(stderr, "could not start python3 -m smneo.local\n");
        CHECK(0);
        smneo_test_rmtree(data);
        free(data);
        return;
    }
    CHECK_INT(smneo_test_create_bucket(c.url, "smneo-test"), 200);
    env e = {"smneo.local", c.url, data, smneo_test_client(c.url, NULL), smneo_test_tmpdir()};
    CHECK(e.client != NULL);
    if (e.client) {
        RUN_ENV(test_roundtrip, &e);
        RUN_ENV(test_multipart, &e);
        RUN_ENV(test_missing, &e);
        RUN_ENV(test_part_retry, &e);
        RUN_ENV(test_cancel, &e);
        RUN_ENV(test_concurrent, &e);
        RUN_ENV(test_default_bucket, &e);
        RUN_ENV(test_list, &e);
    }
    smneo_client_free(e.client);
    smneo_test_server_stop(&c);
    smneo_test_rmtree(e.tmp);
    free(e.tmp);
    smneo_test_rmtree(data);
    free(data);
}

static void run_moto(void)
{
    if (system("python3 -c 'import moto.server' >/dev/null 2>&1") != 0) {
        printf("moto: skipped (python3 cannot import moto)\n");
        CHECK_MSG(!ci(), "moto is required under CI=true");
        return;
    }
    smneo_test_server c;
    char why[256] = "";
    if (smneo_test_moto_start(&c, why, sizeof why) != 0) {
        fprintf(stderr, "could not start python3 -m moto.server: %s\n", why);
        CHECK(0);
        return;
    }
    CHECK_INT(smneo_test_create_bucket(c.url, "smneo-test"), 200);
    env e = {"moto", c.url, NULL, smneo_test_client(c.url, NULL), smneo_test_tmpdir()};
    CHECK(e.client != NULL);
    if (e.client) {
        RUN_ENV(test_roundtrip, &e);
        RUN_ENV(test_multipart, &e);
        RUN_ENV(test_missing, &e);
        RUN_ENV(test_default_bucket, &e);
        RUN_ENV(test_list, &e);
    }
    smneo_client_free(e.client);
    smneo_test_server_stop(&c);
    smneo_test_rmtree(e.tmp);
    free(e.tmp);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    /* Only the options given here decide the endpoints and credentials. */
    aws_env_isolate();
    RUN(test_parse_uri);
    RUN(test_addressing);
    RUN(test_headers_sent);
    RUN(test_stream_transport);
    run_local();
    run_moto();
    return smneo_test_summary("test_s3");
}
