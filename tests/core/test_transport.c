/* The libcurl transport against the test HTTP server on 127.0.0.1. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "httpserver.h"
#include "localserver.h"
#include "smneo/transport.h"

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void set_body(test_http_response *resp, const char *s, size_t len)
{
    resp->body = malloc(len + 1);
    memcpy(resp->body, s, len);
    resp->body[len] = '\0';
    resp->body_len = len;
}

/* /echo: the body lists what arrived ("METHOD path\nname: value\n...\n\nbody");
 * /slow: answers after 1500 ms; /truncate: half the body then close;
 * /close: closes without answering; /status/NNN: that status. A request
 * whose path is an absolute URI arrived as at a proxy. */
static void handler(const test_http_request *req, test_http_response *resp, void *payload)
{
    (void)payload;
    char buf[16384];
    size_t n = (size_t)snprintf(buf, sizeof buf, "%s %s\n", req->method, req->path);
    for (size_t i = 0; i < req->header_count && n < sizeof buf; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s: %s\n", req->header_names[i], req->header_values[i]);
    if (n < sizeof buf)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "\n");
    if (n + req->body_len < sizeof buf) {
        memcpy(buf + n, req->body, req->body_len);
        n += req->body_len;
    }
    if (n > sizeof buf)
        n = sizeof buf;
    set_body(resp, buf, n);
    snprintf(resp->headers, sizeof resp->headers,
             "X-Reply: a\r\nX-Spaced:   padded value  \r\nx-amzn-RequestId: rid-1\r\n");
    const char *p = req->path;
    if (!strcmp(p, "/big")) {
        /* 4 MiB answer whose bytes depend on their offset; the request body's
         * length goes into a header. */
        free(resp->body);
        resp->body_len = 4u << 20;
        resp->body = malloc(resp->body_len);
        for (size_t i = 0; i < resp->body_len; i++)
            resp->body[i] = (char)('a' + (i * 7 + i / 4096) % 26);
        snprintf(resp->headers, sizeof resp->headers, "X-Got: %zu\r\n", req->body_len);
        return;
    }
    if (!strncmp(p, "/status/", 8))
        resp->status = atoi(p + 8);
    else if (!strcmp(p, "/slow"))
        resp->delay_ms = 1500;
    else if (!strcmp(p, "/truncate"))
        resp->truncate = 1;
    else if (!strcmp(p, "/close"))
        resp->status = 0;
}

static smneo_transport *new_transport(long read_timeout_ms)
{
    smneo_curl_options o = SMNEO_CURL_OPTIONS_INIT;
    o.connect_timeout_ms = 2000;
    o.read_timeout_ms = read_timeout_ms;
    smneo_transport *t = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_curl_transport_new(&t, &o, &err);
    CHECK_MSG(rc == 0, "%s", err.message ? err.message : "");
    smneo_error_clear(&err);
    return t;
}

static smneo_request *make_request(const char *method, const char *base, const char *path)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", base, path);
    smneo_request *r = NULL;
    CHECK(smneo_request_new(&r, method, url) == 0);
    return r;
}

static void test_round_trip(void)
{
    test_http_server *s = test_http_server_start(handler, NULL);
    smneo_transport *t = new_transport(5000);
    smneo_request *r = make_request("POST", test_http_server_url(s), "/echo?x=1");
    smneo_request_add_header(r, "Host", r->host);
    smneo_request_add_header(r, "X-Amz-Target", "SageMaker.ListCompilationJobs");
    smneo_request_add_header(r, "Content-Type", "application/x-amz-json-1.1");
    smneo_request_add_header(r, "X-Amz-Date", "20260101T000000Z");
    smneo_request_add_header(r, "X-Empty", "");
    static const char body[] = "{\"MaxResults\":10,\"bin\":\"\0x\"}";
    smneo_request_set_body(r, body, sizeof body - 1);

    smneo_response *resp = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_transport_send(&resp, t, r, &err);
    CHECK_MSG(rc == 0, "%s", err.message ? err.message : "");
    if (rc == 0) {
        CHECK_INT(resp->status, 200);
        CHECK_STR(smneo_response_header(resp, "x-reply"), "a");
        CHECK_STR(smneo_response_header(resp, "X-Spaced"), "padded value");
        CHECK_STR(smneo_response_header(resp, "X-Amzn-RequestId"), "rid-1");
        CHECK(smneo_response_header(resp, "Content-Length") != NULL);
        const char *b = resp->body;
        char expect_head[512];
        snprintf(expect_head, sizeof expect_head,
                 "POST /echo?x=1\nHost: %s\nX-Amz-Target: SageMaker.ListCompilationJobs\n"
                 "Content-Type: application/x-amz-json-1.1\nX-Amz-Date: 20260101T000000Z\nX-Empty: \n"
                 "Content-Length: %zu\n\n",
                 r->host, sizeof body - 1);
        CHECK_MSG(resp->body_len >= strlen(expect_head) && !strncmp(b, expect_head, strlen(expect_head)),
                  "server saw:\n%s", b);
        /* The body, NUL included, arrived byte for byte. */
        CHECK(resp->body_len == strlen(expect_head) + sizeof body - 1 &&
              !memcmp(b + strlen(expect_head), body, sizeof body - 1));
        CHECK(!strcasestr(b, "\nAccept:") && !strcasestr(b, "\nExpect:") && !strcasestr(b, "\nUser-Agent:"));
    }
    smneo_response_free(resp);
    smneo_request_free(r);

    /* POST without Content-Type: libcurl must not add a form type. */
    r = make_request("POST", test_http_server_url(s), "/echo");
    smneo_request_set_body(r, "a=b", 3);
    resp = NULL;
    rc = smneo_transport_send(&resp, t, r, &err);
    CHECK(rc == 0);
    if (rc == 0) {
        CHECK(!strcasestr(resp->body, "\nContent-Type:"));
        CHECK(strstr(resp->body, "\nContent-Length: 3\n") != NULL);
    }
    smneo_response_free(resp);
    smneo_request_free(r);

    /* GET: no body, no Content-Type; PUT and DELETE keep their method;
     * a 404 is a response, not an error; the path is sent as is. */
    const char *methods[] = {"GET", "PUT", "DELETE", "GET"};
    const char *paths[] = {"/a/./b/../c", "/put", "/status/404", "/status/503"};
    for (int i = 0; i < 4; i++) {
        r = make_request(methods[i], test_http_server_url(s), paths[i]);
        resp = NULL;
        rc = smneo_transport_send(&resp, t, r, &err);
        CHECK_MSG(rc == 0, "%s", err.message ? err.message : "");
        if (rc == 0) {
            char first[128];
            snprintf(first, sizeof first, "%s %s\n", methods[i], paths[i]);
            CHECK_MSG(!strncmp(resp->body, first, strlen(first)), "got %s", resp->body);
            CHECK(!strcasestr(resp->body, "\nContent-Type:"));
            CHECK_INT(resp->status, i == 2 ? 404 : i == 3 ? 503 : 200);
            /* PUT without a body still says Content-Length: 0; GET says nothing. */
            CHECK(!strcmp(methods[i], "PUT") == !!strstr(resp->body, "\nContent-Length: 0\n"));
        }
        smneo_response_free(resp);
        smneo_request_free(r);
    }
    /* Large bodies both ways, in many pieces. */
    r = make_request("POST", test_http_server_url(s), "/big");
    size_t up = 3u << 20;
    char *upload = malloc(up);
    memset(upload, 'u', up);
    smneo_request_set_body(r, upload, up);
    free(upload);
    resp = NULL;
    rc = smneo_transport_send(&resp, t, r, &err);
    CHECK_MSG(rc == 0, "%s", err.message ? err.message : "");
    if (rc == 0) {
        CHECK_STR(smneo_response_header(resp, "X-Got"), "3145728");
        CHECK_INT(resp->body_len, 4u << 20);
        size_t bad = 0;
        for (size_t i = 0; i < resp->body_len; i++)
            bad += resp->body[i] != (char)('a' + (i * 7 + i / 4096) % 26);
        CHECK_INT(bad, 0);
    }
    smneo_response_free(resp);
    smneo_request_free(r);

    smneo_error_clear(&err);
    smneo_transport_free(t);
    test_http_server_stop(s);
}

static void test_keepalive(void)
{
    test_http_server *s = test_http_server_start(handler, NULL);
    smneo_transport *t = new_transport(5000);
    for (int i = 0; i < 6; i++) {
        smneo_request *r = make_request(i % 2 ? "GET" : "POST", test_http_server_url(s), "/echo");
        if (i % 2 == 0)
            smneo_request_set_body(r, "{}", 2);
        smneo_response *resp = NULL;
        CHECK(smneo_transport_send(&resp, t, r, NULL) == 0);
        smneo_response_free(resp);
        smneo_request_free(r);
    }
    CHECK_INT(test_http_server_requests(s), 6);
    CHECK_INT(test_http_server_connections(s), 1);
    /* A closed connection is replaced transparently on the next request. */
    smneo_request *r = make_request("GET", test_http_server_url(s), "/truncate");
    smneo_response *resp = NULL;
    CHECK(smneo_transport_send(&resp, t, r, NULL) != 0);
    smneo_request_free(r);
    r = make_request("GET", test_http_server_url(s), "/echo");
    CHECK(smneo_transport_send(&resp, t, r, NULL) == 0);
    smneo_response_free(resp);
    smneo_request_free(r);
    CHECK_INT(test_http_server_connections(s), 2);
    smneo_transport_free(t);
    test_http_server_stop(s);
}

static void test_failures(void)
{
    test_http_server *s = test_http_server_start(handler, NULL);
    smneo_transport *t = new_transport(300);
    smneo_error err = SMNEO_ERROR_INIT;
    smneo_response *resp = (smneo_response *)&err; /* must be reset to NULL */

    /* Connection refused. */
    char url[128];
    int port = smneo_test_free_port();
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    smneo_request *r = make_request("POST", url, "/");
    int rc = smneo_transport_send(&resp, t, r, &err);
    CHECK_INT(rc, SMNEO_ECONNECT);
    CHECK(resp == NULL);
    CHECK_INT(err.code, SMNEO_ECONNECT);
    CHECK(err.retryable);
    char hostport[64];
    snprintf(hostport, sizeof hostport, "127.0.0.1:%d", port);
    CHECK_MSG(err.message && strstr(err.message, "could not connect") && strstr(err.message, hostport), "%s",
              err.message ? err.message : "(null)");
    smneo_request_free(r);

    /* Read timeout: the answer would come after 1500 ms; we give up at ~300. */
    r = make_request("GET", test_http_server_url(s), "/slow");
    long t0 = now_ms();
    rc = smneo_transport_send(&resp, t, r, &err);
    long took = now_ms() - t0;
    CHECK_INT(rc, SMNEO_ETIMEOUT);
    CHECK_MSG(took >= 280 && took < 1200, "read timeout fired after %ld ms", took);
    CHECK_MSG(err.message && strstr(err.message, "read timeout") && strstr(err.message, "300 ms"), "%s",
              err.message ? err.message : "(null)");
    smneo_request_free(r);

    /* Truncated body: a transport error, never a short body. */
    r = make_request("GET", test_http_server_url(s), "/truncate");
    rc = smneo_transport_send(&resp, t, r, &err);
    CHECK_INT(rc, SMNEO_ECLOSED);
    CHECK_INT(err.code, SMNEO_ECLOSED);
    CHECK(err.retryable);
    CHECK(resp == NULL);
    CHECK_MSG(err.message && strstr(err.message, "closed before the whole response body"), "%s",
              err.message ? err.message : "(null)");
    smneo_request_free(r);

    /* Closed without an answer. */
    r = make_request("POST", test_http_server_url(s), "/close");
    smneo_request_set_body(r, "{}", 2);
    rc = smneo_transport_send(&resp, t, r, &err);
    CHECK_INT(rc, SMNEO_ECLOSED);
    CHECK(err.retryable);
    CHECK_STR(smneo_strerror(rc), "ConnectionClosed");
    CHECK_MSG(err.message && strstr(err.message, "without sending a response"), "%s",
              err.message ? err.message : "(null)");
    smneo_request_free(r);

    /* Name resolution failure (.invalid never resolves). Where the resolver
     * itself is unreachable this becomes a connect timeout instead. */
    r = make_request("GET", "http://smneo-test-host.invalid", "/");
    t0 = now_ms();
    rc = smneo_transport_send(&resp, t, r, &err);
    took = now_ms() - t0;
    if (took < 1800) {
        CHECK_INT(rc, SMNEO_EDNS);
        CHECK_MSG(err.message && strstr(err.message, "smneo-test-host.invalid"), "%s",
                  err.message ? err.message : "(null)");
    } else {
        CHECK(rc == SMNEO_EDNS || rc == SMNEO_ETIMEOUT);
    }
    smneo_request_free(r);

    /* Connect timeout: TLS to a plain HTTP server never completes its
     * handshake, and the handshake counts as connecting. */
    smneo_curl_options co = SMNEO_CURL_OPTIONS_INIT;
    co.connect_timeout_ms = 300;
    co.read_timeout_ms = 60000;
    co.no_verify_tls = 1; /* no CA store to load: the handshake starts at once */
    smneo_transport *ct = NULL;
    CHECK(smneo_curl_transport_new(&ct, &co, &err) == 0);
    snprintf(url, sizeof url, "https://127.0.0.1:%d", test_http_server_port(s));
    r = make_request("POST", url, "/");
    t0 = now_ms();
    rc = smneo_transport_send(&resp, ct, r, &err);
    took = now_ms() - t0;
    CHECK_INT(rc, SMNEO_ETIMEOUT);
    /* A generous bound (valgrind is slow) that still tells a working
     * timeout from none: nothing else would end this request. */
    CHECK_MSG(took >= 280 && took < 3000, "connect timeout fired after %ld ms", took);
    CHECK_MSG(err.message && strstr(err.message, "connect timeout") && strstr(err.message, "300 ms"), "%s",
              err.message ? err.message : "(null)");
    smneo_request_free(r);
    smneo_transport_free(ct);

    /* The transport still works after all that. */
    r = make_request("GET", test_http_server_url(s), "/echo");
    rc = smneo_transport_send(&resp, t, r, &err);
    CHECK_INT(rc, 0);
    smneo_response_free(resp);
    smneo_request_free(r);

    /* Bad options. */
    smneo_curl_options o = SMNEO_CURL_OPTIONS_INIT;
    o.version = 99;
    smneo_transport *bad = (smneo_transport *)&o;
    CHECK_INT(smneo_curl_transport_new(&bad, &o, &err), SMNEO_EINVAL);
    CHECK(bad == NULL);
    CHECK(err.message && strstr(err.message, "SMNEO_CURL_OPTIONS_INIT"));

    smneo_error_clear(&err);
    smneo_transport_free(t);
    test_http_server_stop(s);
}

typedef struct worker {
    smneo_transport *t;
    const char *base;
    int id;
    int ok;
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < 50; i++) {
        char path[64], body[64];
        snprintf(path, sizeof path, "/echo/%d/%d", w->id, i);
        int blen = snprintf(body, sizeof body, "{\"w\":%d,\"i\":%d}", w->id, i);
        smneo_request *r = NULL;
        char url[256];
        snprintf(url, sizeof url, "%s%s", w->base, path);
        if (smneo_request_new(&r, "POST", url) != 0)
            continue;
        smneo_request_set_body(r, body, (size_t)blen);
        smneo_response *resp = NULL;
        if (smneo_transport_send(&resp, w->t, r, NULL) == 0 && resp->status == 200 &&
            strstr(resp->body, path) && resp->body_len >= (size_t)blen &&
            !memcmp(resp->body + resp->body_len - blen, body, (size_t)blen))
            w->ok++;
        smneo_response_free(resp);
        smneo_request_free(r);
    }
    return NULL;
}

static void test_threads(void)
{
    test_http_server *s = test_http_server_start(handler, NULL);
    smneo_transport *t = new_transport(10000);
    pthread_t th[8];
    worker w[8];
    for (int i = 0; i < 8; i++) {
        w[i] = (worker){t, test_http_server_url(s), i, 0};
        pthread_create(&th[i], NULL, worker_main, &w[i]);
    }
    int ok = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        ok += w[i].ok;
    }
    CHECK_INT(ok, 400);
    CHECK_INT(test_http_server_requests(s), 400);
    /* Connections are pooled: never more than one per concurrent thread. */
    CHECK_MSG(test_http_server_connections(s) <= 8, "%d connections", test_http_server_connections(s));
    smneo_transport_free(t);
    test_http_server_stop(s);
}

static void test_ca_bundle(void)
{
    char url[128];
    snprintf(url, sizeof url, "https://127.0.0.1:%d", smneo_test_free_port());
    smneo_error err = SMNEO_ERROR_INIT;
    smneo_response *resp = NULL;

    setenv("AWS_CA_BUNDLE", "/nonexistent/smneo-ca.pem", 1);
    smneo_transport *t = new_transport(1000);
    smneo_request *r = make_request("POST", url, "/");
    int rc = smneo_transport_send(&resp, t, r, &err);
    CHECK_INT(rc, SMNEO_ETLS);
    CHECK_MSG(err.message && strstr(err.message, "/nonexistent/smneo-ca.pem") && strstr(err.message, "AWS_CA_BUNDLE"),
              "%s", err.message ? err.message : "(null)");
    smneo_request_free(r);

    /* Plain http is unaffected by the CA bundle. */
    test_http_server *s = test_http_server_start(handler, NULL);
    r = make_request("GET", test_http_server_url(s), "/echo");
    rc = smneo_transport_send(&resp, t, r, &err);
    CHECK_INT(rc, 0);
    smneo_response_free(resp);
    smneo_request_free(r);
    test_http_server_stop(s);
    smneo_transport_free(t);

    /* The option wins over the environment. */
    smneo_curl_options o = SMNEO_CURL_OPTIONS_INIT;
    o.ca_bundle = "/nonexistent/option-ca.pem";
    t = NULL;
    CHECK(smneo_curl_transport_new(&t, &o, &err) == 0);
    r = make_request("POST", url, "/");
    rc = smneo_transport_send(&resp, t, r, &err);
    CHECK_INT(rc, SMNEO_ETLS);
    CHECK_MSG(err.message && strstr(err.message, "/nonexistent/option-ca.pem"), "%s",
              err.message ? err.message : "(null)");
    smneo_request_free(r);
    smneo_transport_free(t);
    unsetenv("AWS_CA_BUNDLE");

    /* With a readable bundle (or none) and nothing listening: a connect error. */
    t = new_transport(1000);
    r = make_request("POST", url, "/");
    rc = smneo_transport_send(&resp, t, r, &err);
    CHECK_INT(rc, SMNEO_ECONNECT);
    smneo_request_free(r);
    smneo_transport_free(t);
    smneo_error_clear(&err);
}

/* Proxies come from the environment; NO_PROXY is honoured; loopback
 * (127.0.0.1, localhost) is never proxied. */
static void test_proxy_env(void)
{
    test_http_server *proxy = test_http_server_start(handler, NULL);
    test_http_server *s = test_http_server_start(handler, NULL);
    setenv("http_proxy", test_http_server_url(proxy), 1);
    unsetenv("no_proxy");
    unsetenv("NO_PROXY");
    smneo_transport *t = new_transport(2000);
    smneo_response *resp = NULL;
    smneo_error err = SMNEO_ERROR_INIT;

    /* 127.0.0.1 goes direct even though a proxy is set. */
    smneo_request *r = make_request("GET", test_http_server_url(s), "/echo");
    CHECK_INT(smneo_transport_send(&resp, t, r, &err), 0);
    smneo_response_free(resp);
    smneo_request_free(r);
    CHECK_INT(test_http_server_requests(s), 1);
    CHECK_INT(test_http_server_requests(proxy), 0);

    /* Another host goes through the proxy (absolute URI at the proxy). */
    char url[128];
    int port = smneo_test_free_port();
    snprintf(url, sizeof url, "http://127.0.0.2:%d", port);
    r = make_request("GET", url, "/via-proxy");
    resp = NULL;
    int rc = smneo_transport_send(&resp, t, r, &err);
    CHECK_MSG(rc == 0, "%s", err.message ? err.message : "");
    if (rc == 0) {
        char first[160];
        snprintf(first, sizeof first, "GET http://127.0.0.2:%d/via-proxy\n", port);
        CHECK_MSG(!strncmp(resp->body, first, strlen(first)), "proxy saw %s", resp->body);
    }
    smneo_response_free(resp);
    CHECK_INT(test_http_server_requests(proxy), 1);

    /* NO_PROXY for that host: a direct (refused) connection instead. */
    setenv("NO_PROXY", "127.0.0.2", 1);
    resp = NULL;
    rc = smneo_transport_send(&resp, t, r, &err);
    CHECK_INT(rc, SMNEO_ECONNECT);
    CHECK_INT(test_http_server_requests(proxy), 1);
    smneo_request_free(r);

    unsetenv("NO_PROXY");
    unsetenv("http_proxy");
    smneo_error_clear(&err);
    smneo_transport_free(t);
    test_http_server_stop(s);
    test_http_server_stop(proxy);
}

/* A server that accepts one connection, reads the request, then resets the
 * connection (SO_LINGER 0: RST, not FIN). */
typedef struct {
    int fd;
} reset_server;

static void *reset_server_run(void *arg)
{
    reset_server *rs = arg;
    int c = accept(rs->fd, NULL, NULL);
    if (c < 0)
        return NULL;
    char buf[4096];
    (void)!recv(c, buf, sizeof buf, 0);
    struct linger lg = {1, 0};
    setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(c);
    return NULL;
}

/* Connected, then reset by the peer: ECLOSED (retryable), not ECONNECT;
 * refused before connecting stays ECONNECT (test_failures). */
static void test_reset_after_connect(void)
{
    reset_server rs;
    rs.fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(rs.fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    CHECK(bind(rs.fd, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(listen(rs.fd, 1) == 0);
    CHECK(getsockname(rs.fd, (struct sockaddr *)&a, &alen) == 0);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, reset_server_run, &rs) == 0);

    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", ntohs(a.sin_port));
    smneo_transport *t = new_transport(2000);
    smneo_request *r = make_request("POST", url, "/");
    smneo_request_set_body(r, "{}", 2);
    smneo_response *resp = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_transport_send(&resp, t, r, &err);
    CHECK_INT(rc, SMNEO_ECLOSED);
    CHECK(resp == NULL);
    CHECK(err.retryable);
    CHECK_MSG(err.message && strstr(err.message, "127.0.0.1"), "%s", err.message ? err.message : "(null)");
    pthread_join(th, NULL);
    close(rs.fd);
    smneo_request_free(r);
    smneo_error_clear(&err);
    smneo_transport_free(t);
}

int main(void)
{
    static const char *proxies[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                                    "ALL_PROXY", "no_proxy", "NO_PROXY", "AWS_CA_BUNDLE"};
    for (size_t i = 0; i < sizeof proxies / sizeof proxies[0]; i++)
        unsetenv(proxies[i]);
    RUN(test_round_trip);
    RUN(test_keepalive);
    RUN(test_failures);
    RUN(test_reset_after_connect);
    RUN(test_threads);
    RUN(test_ca_bundle);
    RUN(test_proxy_env);
    return smneo_test_summary("test_transport");
}
