/* A small threaded HTTP/1.1 server on 127.0.0.1 for the C tests.
 *
 * One accept thread plus one thread per connection. Requests are read with
 * Content-Length or chunked bodies, answered by the handler callback, and the
 * connection is kept alive unless the client asks otherwise (or the handler
 * closes it with status 0 or truncate). Every thread waits in poll() on its
 * socket and on a wake-up pipe, so test_http_server_stop() can interrupt them
 * all (also during delay_ms), join them and free everything. */
#include "httpserver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_HEAD (64 * 1024)        /* request line + headers */
#define MAX_BODY (64 * 1024 * 1024) /* request body */

typedef struct conn {
    struct conn *next;
    test_http_server *server;
    int fd;
    pthread_t thread;
    atomic_int done; /* the thread has finished: join it */
} conn;

struct test_http_server {
    int listen_fd;
    int wake[2]; /* wake[1] is written once at stop; everyone polls wake[0] */
    int port;
    char url[64];
    test_http_handler handler;
    void *payload;
    pthread_t accept_thread;
    atomic_int stopping;
    atomic_int requests;
    atomic_int connections;
    pthread_mutex_t mu; /* guards conns */
    conn *conns;
};

/* Input buffer of one connection (bytes past the current request are kept
 * for the next one: pipelining). */
typedef struct inbuf {
    char *data;
    size_t len;
    size_t cap;
} inbuf;

/* Waits until fd is readable: 1 readable, 0 stopping, -1 error. */
static int wait_readable(test_http_server *s, int fd)
{
    for (;;) {
        if (atomic_load(&s->stopping))
            return 0;
        struct pollfd p[2] = {{fd, POLLIN, 0}, {s->wake[0], POLLIN, 0}};
        int n = poll(p, 2, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (p[1].revents)
            return 0;
        if (p[0].revents)
            return 1;
    }
}

/* Reads more bytes into b: >0 bytes read, 0 EOF/stopping, -1 error. */
static ssize_t fill(test_http_server *s, int fd, inbuf *b)
{
    if (b->cap - b->len < 4096) {
        size_t cap = b->cap ? b->cap * 2 : 8192;
        char *p = realloc(b->data, cap + 1);
        if (!p)
            return -1;
        b->data = p;
        b->cap = cap;
    }
    int w = wait_readable(s, fd);
    if (w <= 0)
        return w;
    ssize_t n;
    do {
        n = recv(fd, b->data + b->len, b->cap - b->len, 0);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
        b->len += (size_t)n;
        b->data[b->len] = '\0';
    }
    return n;
}

static void consume(inbuf *b, size_t n)
{
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    if (b->data)
        b->data[b->len] = '\0';
}

static int send_all(int fd, const char *data, size_t len)
{
    while (len) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Sleeps ms milliseconds unless the server stops first. */
static void interruptible_sleep(test_http_server *s, long ms)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long elapsed = (now.tv_sec - start.tv_sec) * 1000L + (now.tv_nsec - start.tv_nsec) / 1000000L;
        if (elapsed >= ms || atomic_load(&s->stopping))
            return;
        struct pollfd p = {s->wake[0], POLLIN, 0};
        poll(&p, 1, (int)(ms - elapsed));
    }
}

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
    }
}

typedef struct parsed {
    char *method, *path, *version;
    char **names, **values;
    size_t count;
    char *body;
    size_t body_len;
} parsed;

static void parsed_free(parsed *p)
{
    free(p->names);
    free(p->values);
    free(p->body);
    memset(p, 0, sizeof *p);
}

static const char *find_header(char **names, char **values, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcasecmp(names[i], name))
            return values[i];
    return NULL;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

/* Reads exactly n body bytes from b/fd into dst. 0 ok, -1 EOF/error. */
static int read_exact(test_http_server *s, int fd, inbuf *b, char *dst, size_t n)
{
    while (b->len < n)
        if (fill(s, fd, b) <= 0)
            return -1;
    memcpy(dst, b->data, n);
    consume(b, n);
    return 0;
}

/* Reads one CRLF-terminated line into a malloc'd string. NULL on EOF/error. */
static char *read_line(test_http_server *s, int fd, inbuf *b)
{
    for (;;) {
        char *eol = b->data ? memchr(b->data, '\n', b->len) : NULL;
        if (eol) {
            size_t n = (size_t)(eol - b->data);
            char *line = malloc(n + 1);
            if (!line)
                return NULL;
            memcpy(line, b->data, n);
            line[n] = '\0';
            if (n && line[n - 1] == '\r')
                line[n - 1] = '\0';
            consume(b, n + 1);
            return line;
        }
        if (b->len > MAX_HEAD || fill(s, fd, b) <= 0)
            return NULL;
    }
}

static int read_chunked(test_http_server *s, int fd, inbuf *b, parsed *p)
{
    size_t cap = 0;
    for (;;) {
        char *line = read_line(s, fd, b);
        if (!line)
            return -1;
        char *end;
        unsigned long long size = strtoull(line, &end, 16);
        int bad = end == line;
        free(line);
        if (bad || size > MAX_BODY || p->body_len + size > MAX_BODY)
            return -1;
        if (size == 0) {
            /* Trailers until an empty line. */
            for (;;) {
                char *t = read_line(s, fd, b);
                if (!t)
                    return -1;
                int empty = t[0] == '\0';
                free(t);
                if (empty)
                    return 0;
            }
        }
        if (p->body_len + size + 1 > cap) {
            size_t ncap = (p->body_len + size + 1) * 2;
            char *nb = realloc(p->body, ncap);
            if (!nb)
                return -1;
            p->body = nb;
            cap = ncap;
        }
        if (read_exact(s, fd, b, p->body + p->body_len, (size_t)size) != 0)
            return -1;
        p->body_len += (size_t)size;
        p->body[p->body_len] = '\0';
        char *crlf = read_line(s, fd, b);
        if (!crlf)
            return -1;
        free(crlf);
    }
}

/* Parses one request from the connection. The head is parsed in place in
 * *head (malloc'd, freed by the caller). 1 ok, 0 clean EOF, -1 error. */
static int read_request(test_http_server *s, int fd, inbuf *b, char **head, parsed *p)
{
    char *end;
    for (;;) {
        end = b->data ? strstr(b->data, "\r\n\r\n") : NULL;
        if (end)
            break;
        if (b->len > MAX_HEAD)
            return -1;
        ssize_t n = fill(s, fd, b);
        if (n <= 0)
            return b->len == 0 && n == 0 ? 0 : -1;
    }
    size_t head_len = (size_t)(end - b->data) + 4;
    *head = malloc(head_len + 1);
    if (!*head)
        return -1;
    memcpy(*head, b->data, head_len);
    (*head)[head_len] = '\0';
    consume(b, head_len);

    char *save = NULL;
    char *line = strtok_r(*head, "\r\n", &save);
    if (!line)
        return -1;
    char *sp1 = strchr(line, ' ');
    char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp1 || !sp2)
        return -1;
    *sp1 = '\0';
    *sp2 = '\0';
    p->method = line;
    p->path = sp1 + 1;
    p->version = sp2 + 1;

    size_t cap = 0;
    while ((line = strtok_r(NULL, "\r\n", &save)) != NULL) {
        char *colon = strchr(line, ':');
        if (!colon)
            return -1;
        *colon = '\0';
        if (p->count == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(p->names, cap * sizeof *nn);
            if (!nn)
                return -1;
            p->names = nn;
            char **nv = realloc(p->values, cap * sizeof *nv);
            if (!nv)
                return -1;
            p->values = nv;
        }
        p->names[p->count] = trim(line);
        p->values[p->count] = trim(colon + 1);
        p->count++;
    }

    const char *te = find_header(p->names, p->values, p->count, "Transfer-Encoding");
    const char *cl = find_header(p->names, p->values, p->count, "Content-Length");
    if (te && strcasestr(te, "chunked")) {
        if (read_chunked(s, fd, b, p) != 0)
            return -1;
    } else if (cl) {
        char *e;
        unsigned long long n = strtoull(cl, &e, 10);
        if (e == cl || n > MAX_BODY)
            return -1;
        p->body = malloc((size_t)n + 1);
        if (!p->body)
            return -1;
        if (read_exact(s, fd, b, p->body, (size_t)n) != 0)
            return -1;
        p->body[n] = '\0';
        p->body_len = (size_t)n;
    }
    return 1;
}

/* Sends the 100 Continue interim answer when the client asked for it, before
 * the body is read. Returns -1 on a send error. */
static int maybe_continue(int fd, char *buf)
{
    char *end = strstr(buf, "\r\n\r\n");
    char saved = end[2];
    end[2] = '\0'; /* search the head only */
    int expect = strcasestr(buf, "\r\nExpect: 100-continue") != NULL;
    end[2] = saved;
    return expect ? send_all(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25) : 0;
}

static void *conn_main(void *arg)
{
    conn *c = arg;
    test_http_server *s = c->server;
    inbuf b = {NULL, 0, 0};
    for (;;) {
        /* Peek at the head to answer Expect: 100-continue before the body. */
        for (;;) {
            if (b.data && strstr(b.data, "\r\n\r\n"))
                break;
            if (b.len > MAX_HEAD)
                goto done;
            if (fill(s, c->fd, &b) <= 0)
                goto done;
        }
        if (maybe_continue(c->fd, b.data) != 0)
            goto done;

        char *head = NULL;
        parsed p;
        memset(&p, 0, sizeof p);
        int r = read_request(s, c->fd, &b, &head, &p);
        if (r <= 0) {
            parsed_free(&p);
            free(head);
            goto done;
        }

        test_http_request req;
        req.method = p.method;
        req.path = p.path;
        req.header_names = (const char *const *)p.names;
        req.header_values = (const char *const *)p.values;
        req.header_count = p.count;
        req.body = p.body ? p.body : "";
        req.body_len = p.body_len;

        test_http_response resp;
        memset(&resp, 0, sizeof resp);
        resp.status = 200;
        s->handler(&req, &resp, s->payload);
        atomic_fetch_add(&s->requests, 1);

        const char *conn_hdr = find_header(p.names, p.values, p.count, "Connection");
        int keep = strcmp(p.version, "HTTP/1.0") != 0;
        if (conn_hdr && !strcasecmp(conn_hdr, "close"))
            keep = 0;
        if (conn_hdr && !strcasecmp(conn_hdr, "keep-alive"))
            keep = 1;
        int is_head = !strcmp(p.method, "HEAD");
        parsed_free(&p);
        free(head);

        if (resp.delay_ms > 0)
            interruptible_sleep(s, resp.delay_ms);
        if (resp.status == 0 || atomic_load(&s->stopping)) {
            free(resp.body);
            goto done;
        }
        if (resp.truncate)
            keep = 0;
        char top[4096];
        resp.headers[sizeof resp.headers - 1] = '\0';
        int n = snprintf(top, sizeof top, "HTTP/1.1 %d %s\r\n%sContent-Length: %zu\r\nConnection: %s\r\n\r\n",
                         resp.status, reason(resp.status), resp.headers, resp.body_len,
                         keep ? "keep-alive" : "close");
        int failed = n < 0 || (size_t)n >= sizeof top || send_all(c->fd, top, (size_t)n) != 0;
        if (!failed && !is_head && resp.body_len) {
            size_t len = resp.truncate ? resp.body_len / 2 : resp.body_len;
            failed = send_all(c->fd, resp.body, len) != 0;
        }
        free(resp.body);
        if (failed || !keep)
            goto done;
    }
done:
    free(b.data);
    shutdown(c->fd, SHUT_RDWR);
    close(c->fd);
    c->fd = -1;
    atomic_store(&c->done, 1);
    return NULL;
}

/* Joins and frees finished connection threads (keeps the list short). */
static void reap(test_http_server *s)
{
    pthread_mutex_lock(&s->mu);
    conn **pp = &s->conns;
    while (*pp) {
        conn *c = *pp;
        if (atomic_load(&c->done)) {
            *pp = c->next;
            pthread_join(c->thread, NULL);
            free(c);
        } else {
            pp = &c->next;
        }
    }
    pthread_mutex_unlock(&s->mu);
}

static void *accept_main(void *arg)
{
    test_http_server *s = arg;
    for (;;) {
        int w = wait_readable(s, s->listen_fd);
        if (w <= 0)
            break;
        int fd = accept(s->listen_fd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN)
                continue;
            break;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->server = s;
        c->fd = fd;
        atomic_init(&c->done, 0);
        reap(s);
        atomic_fetch_add(&s->connections, 1);
        pthread_mutex_lock(&s->mu);
        if (pthread_create(&c->thread, NULL, conn_main, c) != 0) {
            pthread_mutex_unlock(&s->mu);
            close(fd);
            free(c);
            continue;
        }
        c->next = s->conns;
        s->conns = c;
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

test_http_server *test_http_server_start(test_http_handler handler, void *payload)
{
    if (!handler)
        return NULL;
    test_http_server *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->listen_fd = -1;
    s->wake[0] = s->wake[1] = -1;
    s->handler = handler;
    s->payload = payload;
    atomic_init(&s->stopping, 0);
    atomic_init(&s->requests, 0);
    atomic_init(&s->connections, 0);
    pthread_mutex_init(&s->mu, NULL);

    if (pipe(s->wake) != 0)
        goto fail;
    s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->listen_fd < 0)
        goto fail;
    int one = 1;
    setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (bind(s->listen_fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(s->listen_fd, 128) != 0)
        goto fail;
    socklen_t alen = sizeof addr;
    if (getsockname(s->listen_fd, (struct sockaddr *)&addr, &alen) != 0)
        goto fail;
    s->port = ntohs(addr.sin_port);
    snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d", s->port);
    if (pthread_create(&s->accept_thread, NULL, accept_main, s) != 0)
        goto fail;
    return s;
fail:
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->wake[0] >= 0) {
        close(s->wake[0]);
        close(s->wake[1]);
    }
    pthread_mutex_destroy(&s->mu);
    free(s);
    return NULL;
}

const char *test_http_server_url(const test_http_server *s) { return s->url; }

int test_http_server_port(const test_http_server *s) { return s->port; }

int test_http_server_requests(const test_http_server *s)
{
    return atomic_load(&((test_http_server *)s)->requests);
}

int test_http_server_connections(const test_http_server *s)
{
    return atomic_load(&((test_http_server *)s)->connections);
}

void test_http_server_stop(test_http_server *s)
{
    if (!s)
        return;
    atomic_store(&s->stopping, 1);
    char byte = 1;
    ssize_t w;
    do {
        w = write(s->wake[1], &byte, 1);
    } while (w < 0 && errno == EINTR);
    pthread_join(s->accept_thread, NULL);
    /* The accept thread is gone: the list no longer changes. */
    conn *c = s->conns;
    while (c) {
        conn *next = c->next;
        pthread_join(c->thread, NULL);
        free(c);
        c = next;
    }
    close(s->listen_fd);
    close(s->wake[0]);
    close(s->wake[1]);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

const char *test_http_header(const test_http_request *req, const char *name)
{
    if (!req || !name)
        return NULL;
    for (size_t i = 0; i < req->header_count; i++)
        if (!strcasecmp(req->header_names[i], name))
            return req->header_values[i];
    return NULL;
}
