/* The libcurl transport driven by an event loop (core/src/curl_multi.h, the
 * Python binding's smneo.aio), here driven by poll(2) against the test HTTP
 * server: at most max_connections transfers at once (the others wait in
 * order), a waiting or a running transfer removed, the handle freed with
 * transfers in flight (under ASan: nothing leaks). */
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "curl_multi.h"
#include "harness.h"
#include "httpserver.h"
#include "smneo/transport.h"

#define MAX_FDS 64
#define N 6

typedef struct loop {
    int fds[MAX_FDS];
    int what[MAX_FDS];
    int nfds;
    int done[N];      /* per request: 1 answered 200, -1 failed */
    int finished;
} loop;

static void on_socket(int fd, int what, void *payload)
{
    loop *l = payload;
    int i = 0;
    while (i < l->nfds && l->fds[i] != fd)
        i++;
    if (what & SMNEO__CURLM_REMOVE) {
        if (i < l->nfds) {
            l->fds[i] = l->fds[l->nfds - 1];
            l->what[i] = l->what[l->nfds - 1];
            l->nfds--;
        }
        return;
    }
    if (i == l->nfds) {
        CHECK(l->nfds < MAX_FDS);
        l->fds[l->nfds++] = fd;
    }
    l->what[i] = what;
}

static void on_done(void *token, smneo_response *resp, int rc, const char *message, void *payload)
{
    loop *l = payload;
    int i = (int)(intptr_t)token;
    CHECK_MSG(rc == 0, "request %d: %s", i, message ? message : "");
    l->done[i] = rc == 0 && resp && resp->status == 200 ? 1 : -1;
    l->finished++;
    smneo_response_free(resp);
}

/* Runs the loop until `until` transfers have finished (or 10 s). */
static void run(smneo__curlm *m, loop *l, int until)
{
    for (int spins = 0; l->finished < until && spins < 10000; spins++) {
        struct pollfd p[MAX_FDS];
        for (int i = 0; i < l->nfds; i++) {
            p[i].fd = l->fds[i];
            p[i].events = (short)(((l->what[i] & SMNEO__CURLM_IN) ? POLLIN : 0) |
                                  ((l->what[i] & SMNEO__CURLM_OUT) ? POLLOUT : 0));
            p[i].revents = 0;
        }
        long t = smneo__curlm_timeout(m);
        int n = poll(p, (nfds_t)l->nfds, t < 0 || t > 50 ? 50 : (int)t);
        if (n <= 0) {
            smneo__curlm_action(m, -1, 0);
            continue;
        }
        int nfds = l->nfds;
        int ready[MAX_FDS], readyw[MAX_FDS], k = 0;
        for (int i = 0; i < nfds; i++)
            if (p[i].revents) {
                ready[k] = p[i].fd;
                readyw[k++] = ((p[i].revents & (POLLIN | POLLHUP | POLLERR)) ? SMNEO__CURLM_IN : 0) |
                              ((p[i].revents & POLLOUT) ? SMNEO__CURLM_OUT : 0);
            }
        for (int i = 0; i < k; i++)
            smneo__curlm_action(m, ready[i], readyw[i]);
    }
}

static void handler(const test_http_request *req, test_http_response *resp, void *payload)
{
    (void)payload;
    resp->body = malloc(3);
    memcpy(resp->body, "{}", 3);
    resp->body_len = 2;
    if (!strcmp(req->path, "/slow"))
        resp->delay_ms = 100;
    else if (!strcmp(req->path, "/stuck"))
        resp->delay_ms = 1000;
}

static smneo_transport *transport(int max_connections)
{
    smneo_curl_options o = SMNEO_CURL_OPTIONS_INIT;
    o.connect_timeout_ms = 2000;
    o.read_timeout_ms = 5000;
    o.max_connections = max_connections;
    smneo_transport *t = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK(smneo_curl_transport_new(&t, &o, &err) == 0);
    smneo_error_clear(&err);
    return t;
}

static smneo_request *request(test_http_server *s, const char *path)
{
    char url[256];
    snprintf(url, sizeof url, "%s%s", test_http_server_url(s), path);
    smneo_request *r = NULL;
    CHECK(smneo_request_new(&r, "GET", url) == 0);
    return r;
}

static void test_pool_limit(void)
{
    test_http_server *s = test_http_server_start(handler, NULL);
    smneo_transport *t = transport(2);
    loop l = {0};
    smneo__curlm *m = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK(smneo__curlm_new(&m, t, on_socket, on_done, &l, &err) == 0);
    smneo_request *reqs[N];
    for (int i = 0; i < N; i++) {
        reqs[i] = request(s, "/slow");
        CHECK(smneo__curlm_add(m, reqs[i], (void *)(intptr_t)i, &err) == 0);
    }
    CHECK_INT(smneo__curlm_count(m), N);
    run(m, &l, N);
    CHECK_INT(l.finished, N);
    for (int i = 0; i < N; i++)
        CHECK_INT(l.done[i], 1);
    /* two connections, each reused for the transfers that waited for it */
    CHECK_INT(test_http_server_connections(s), 2);
    CHECK_INT(test_http_server_requests(s), N);
    CHECK_INT(smneo__curlm_count(m), 0);
    smneo__curlm_free(m);
    for (int i = 0; i < N; i++)
        smneo_request_free(reqs[i]);
    smneo_transport_free(t);
    test_http_server_stop(s);
}

static void test_remove_and_free_in_flight(void)
{
    test_http_server *s = test_http_server_start(handler, NULL);
    smneo_transport *t = transport(1);
    loop l = {0};
    smneo__curlm *m = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK(smneo__curlm_new(&m, t, on_socket, on_done, &l, &err) == 0);
    smneo_request *reqs[4] = {request(s, "/stuck"), request(s, "/slow"), request(s, "/slow"), request(s, "/stuck")};
    for (int i = 0; i < 4; i++)
        CHECK(smneo__curlm_add(m, reqs[i], (void *)(intptr_t)i, &err) == 0);
    smneo__curlm_action(m, -1, 0);
    smneo__curlm_remove(m, (void *)(intptr_t)2); /* a waiting one: the order of the others is kept */
    smneo__curlm_remove(m, (void *)(intptr_t)0); /* the running one: the next waiting one starts */
    CHECK_INT(smneo__curlm_count(m), 2);
    run(m, &l, 1);
    CHECK_INT(l.done[1], 1);
    CHECK_INT(l.done[2], 0);
    CHECK_INT(l.done[3], 0);
    smneo__curlm_remove(m, (void *)(intptr_t)99); /* unknown: nothing */
    CHECK_INT(smneo__curlm_count(m), 1);
    smneo__curlm_free(m); /* request 3 still in flight: aborted, no on_done */
    CHECK_INT(l.finished, 1);
    for (int i = 0; i < 4; i++)
        smneo_request_free(reqs[i]);
    smneo_transport_free(t);
    test_http_server_stop(s);
}

int main(void)
{
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");
    RUN(test_pool_limit);
    RUN(test_remove_and_free_in_flight);
    return smneo_test_summary("test_curl_multi");
}
