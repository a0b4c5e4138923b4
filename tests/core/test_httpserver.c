/* Self-test of the test HTTP server (tests/core/support/httpserver.c), spoken
 * to with plain sockets so that it does not depend on the transport under test. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "httpserver.h"

/* Echo handler: the body says what the server received; the path selects a
 * behaviour. */
static void echo_handler(const test_http_request *req, test_http_response *resp, void *payload)
{
    (void)payload;
    const char *xt = test_http_header(req, "x-test");
    char buf[1024];
    int n = snprintf(buf, sizeof buf, "%s %s x-test=%s len=%zu body=%.*s", req->method, req->path,
                     xt ? xt : "-", req->body_len, (int)req->body_len, req->body);
    resp->body = malloc((size_t)n + 1);
    memcpy(resp->body, buf, (size_t)n + 1);
    resp->body_len = (size_t)n;
    snprintf(resp->headers, sizeof resp->headers, "X-Echo: yes\r\nContent-Type: text/plain\r\n");
    if (!strcmp(req->path, "/close"))
        resp->status = 0;
    else if (!strcmp(req->path, "/truncate"))
        resp->truncate = 1;
    else if (!strcmp(req->path, "/slow"))
        resp->delay_ms = 200;
    else if (!strcmp(req->path, "/404"))
        resp->status = 404;
}

static int connect_to(const test_http_server *s)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)test_http_server_port(s));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void send_str(int fd, const char *s) { CHECK(send(fd, s, strlen(s), MSG_NOSIGNAL) == (ssize_t)strlen(s)); }

/* Reads one response (head + Content-Length body). Returns the number of bytes
 * in out (NUL-terminated), and sets *eof when the server then closed. Waits at
 * most 5 s. */
static size_t read_response(int fd, char *out, size_t cap, int *eof)
{
    size_t len = 0;
    *eof = 0;
    long want = -1;
    for (;;) {
        char *end = strstr(out, "\r\n\r\n");
        if (len && end && want < 0) {
            const char *cl = strcasestr(out, "\r\nContent-Length:");
            want = (long)(end - out) + 4 + (cl ? atol(cl + 17) : 0);
        }
        if (want >= 0 && (long)len >= want)
            return len;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 5000) <= 0)
            return len;
        ssize_t n = recv(fd, out + len, cap - len - 1, 0);
        if (n <= 0) {
            *eof = 1;
            return len;
        }
        len += (size_t)n;
        out[len] = '\0';
    }
}

/* 1 when the peer closed the connection (recv returns 0 within 2 s). */
static int peer_closed(int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 2000) <= 0)
        return 0;
    char c;
    return recv(fd, &c, 1, 0) == 0;
}

static void test_keepalive_and_body(void)
{
    test_http_server *s = test_http_server_start(echo_handler, NULL);
    CHECK(s != NULL);
    if (!s)
        return;
    CHECK(strncmp(test_http_server_url(s), "http://127.0.0.1:", 17) == 0);
    int fd = connect_to(s);
    CHECK(fd >= 0);
    char buf[8192] = "";
    int eof;

    send_str(fd, "GET /a?x=1 HTTP/1.1\r\nHost: h\r\nX-Test: one\r\n\r\n");
    size_t n = read_response(fd, buf, sizeof buf, &eof);
    CHECK(n > 0 && !eof);
    CHECK(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK(strstr(buf, "\r\nX-Echo: yes\r\n") != NULL);
    CHECK(strstr(buf, "\r\nConnection: keep-alive\r\n") != NULL);
    CHECK(strstr(buf, "\r\n\r\nGET /a?x=1 x-test=one len=0 body=") != NULL);

    memset(buf, 0, sizeof buf);
    send_str(fd, "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world");
    n = read_response(fd, buf, sizeof buf, &eof);
    CHECK(n > 0 && !eof);
    CHECK(strstr(buf, "\r\nContent-Length: 40\r\n") != NULL);
    CHECK(strstr(buf, "\r\n\r\nPOST /b x-test=- len=11 body=hello world") != NULL);

    /* Chunked request body. */
    memset(buf, 0, sizeof buf);
    send_str(fd, "PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
    n = read_response(fd, buf, sizeof buf, &eof);
    CHECK(strstr(buf, "\r\n\r\nPUT /c x-test=- len=11 body=hello world") != NULL);

    /* Two pipelined requests in one write. */
    memset(buf, 0, sizeof buf);
    send_str(fd, "GET /p1 HTTP/1.1\r\nHost: h\r\n\r\nGET /404 HTTP/1.1\r\nHost: h\r\n\r\n");
    n = 0;
    while (!strstr(buf, "GET /404 ") && n < sizeof buf - 1) {
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t r = poll(&p, 1, 5000) > 0 ? recv(fd, buf + n, sizeof buf - n - 1, 0) : -1;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    CHECK(strstr(buf, "\r\n\r\nGET /p1 ") != NULL);
    CHECK(strstr(buf, "HTTP/1.1 404 Not Found\r\n") > strstr(buf, "GET /p1 "));

    CHECK_INT(test_http_server_requests(s), 5);
    CHECK_INT(test_http_server_connections(s), 1);

    /* Connection: close from the client is honoured. */
    memset(buf, 0, sizeof buf);
    send_str(fd, "GET /last HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    n = read_response(fd, buf, sizeof buf, &eof);
    CHECK(strstr(buf, "\r\nConnection: close\r\n") != NULL);
    CHECK(peer_closed(fd));
    close(fd);
    test_http_server_stop(s);
}

static void test_close_truncate_delay(void)
{
    test_http_server *s = test_http_server_start(echo_handler, NULL);
    CHECK(s != NULL);
    if (!s)
        return;
    char buf[8192] = "";
    int eof;

    /* status 0: closed without a byte. */
    int fd = connect_to(s);
    send_str(fd, "GET /close HTTP/1.1\r\nHost: h\r\n\r\n");
    size_t n = read_response(fd, buf, sizeof buf, &eof);
    CHECK_INT(n, 0);
    CHECK(eof);
    close(fd);

    /* truncate: the announced length is not delivered, then EOF. */
    memset(buf, 0, sizeof buf);
    fd = connect_to(s);
    send_str(fd, "GET /truncate HTTP/1.1\r\nHost: h\r\n\r\n");
    n = read_response(fd, buf, sizeof buf, &eof);
    CHECK(eof);
    char *end = strstr(buf, "\r\n\r\n");
    const char *cl = strcasestr(buf, "\r\nContent-Length:");
    CHECK(end && cl);
    if (end && cl)
        CHECK(n - (size_t)(end + 4 - buf) < (size_t)atol(cl + 17));
    close(fd);

    /* delay_ms: the answer comes late. */
    memset(buf, 0, sizeof buf);
    fd = connect_to(s);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    send_str(fd, "GET /slow HTTP/1.1\r\nHost: h\r\n\r\n");
    n = read_response(fd, buf, sizeof buf, &eof);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    CHECK_MSG(ms >= 190, "answered after %ld ms", ms);
    CHECK(strstr(buf, "\r\n\r\nGET /slow ") != NULL);
    close(fd);

    CHECK_INT(test_http_server_connections(s), 3);
    test_http_server_stop(s);
}

/* Stopping with idle keep-alive connections and a request in its delay does
 * not hang. */
static void test_stop_with_open_connections(void)
{
    test_http_server *s = test_http_server_start(echo_handler, NULL);
    CHECK(s != NULL);
    if (!s)
        return;
    int idle = connect_to(s);
    int busy = connect_to(s);
    CHECK(idle >= 0 && busy >= 0);
    send_str(busy, "GET /slow HTTP/1.1\r\nHost: h\r\n\r\n");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    usleep(50 * 1000);
    test_http_server_stop(s);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    CHECK_MSG(ms < 1000, "stop took %ld ms", ms);
    CHECK(peer_closed(idle));
    close(idle);
    close(busy);
}

int main(void)
{
    RUN(test_keepalive_and_body);
    RUN(test_close_truncate_delay);
    RUN(test_stop_with_open_connections);
    return smneo_test_summary("test_httpserver");
}
