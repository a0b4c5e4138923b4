/* The libcurl transport.
 *
 * Pool: each slot is a (CURLM, CURL) pair used by one thread at a time. The
 * multi handle owns the slot's connection cache, so a slot that goes back to
 * the free list keeps its keep-alive connection for the next request. Slots
 * beyond max_connections idle ones are destroyed when released. A CURLSH
 * shares the DNS cache and TLS sessions between slots (mutex per lock data);
 * connections themselves are not shared (libcurl does not support sharing a
 * connection cache between concurrent threads).
 *
 * Driving each request through its own multi handle lets us implement the
 * read timeout ("no bytes for read_timeout_ms") with millisecond precision:
 * the wait loop knows when bytes last moved, which CURLOPT_LOW_SPEED_TIME
 * (whole seconds) cannot do. */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "crypto.h"
#include "curl_multi.h"
#include "internal.h"
#include "options_internal.h"
#include "smneo/log.h"
#include "smneo/transport.h"
#include "transport_internal.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 60000L
#define DEFAULT_READ_TIMEOUT_MS 60000L
#define DEFAULT_MAX_CONNECTIONS 16

typedef struct slot {
    CURLM *multi;
    CURL *easy;
} slot;

typedef struct curl_transport {
    smneo_transport base; /* first: a smneo_transport * is a curl_transport * */
    long connect_timeout_ms;
    long read_timeout_ms;
    int verify_tls;
    char *ca_bundle;            /* NULL: the system store */
    const char *ca_bundle_from; /* "options" or "AWS_CA_BUNDLE" */
    int max_connections;
    int proxies_set;
    char *proxy_http, *proxy_https, *proxy_ca_bundle, *proxy_client_cert, *proxy_client_key;
    char *client_cert, *client_key;
    int tcp_keepalive;
    CURLSH *share;
    pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
    pthread_mutex_t pool_mu;
    slot *idle; /* free list (LIFO: the warmest connection first) */
    int idle_count;
} curl_transport;

/* ---- global init ---------------------------------------------------------- */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_OK;

static void global_init(void) { global_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

/* ---- share locks ---------------------------------------------------------- */

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *userptr)
{
    (void)h;
    (void)access;
    curl_transport *t = userptr;
    if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
        pthread_mutex_lock(&t->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *userptr)
{
    (void)h;
    curl_transport *t = userptr;
    if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
        pthread_mutex_unlock(&t->share_locks[data]);
}

/* ---- first use ------------------------------------------------------------- */

/* libcurl is initialised, and the transport's share handle made, when the
 * first request is sent, not when the transport is created: a client that
 * never sends (or not yet) costs no libcurl (and OpenSSL) initialisation,
 * and the Python extension, which loads libcurl only on first use
 * (docs/architecture.md, "Lazy loading"), does not load it at Client(). */
static int ready(curl_transport *t, smneo_error *err)
{
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK)
        return smneo__error(err, SMNEO_ERROR, "libcurl failed to initialise: %s", curl_easy_strerror(global_rc));
    int rc = 0;
    pthread_mutex_lock(&t->pool_mu);
    if (!t->share) {
        CURLSH *share = curl_share_init();
        if (!share ||
            curl_share_setopt(share, CURLSHOPT_LOCKFUNC, share_lock) != CURLSHE_OK ||
            curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, share_unlock) != CURLSHE_OK ||
            curl_share_setopt(share, CURLSHOPT_USERDATA, t) != CURLSHE_OK ||
            curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK ||
            curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK) {
            if (share)
                curl_share_cleanup(share);
            rc = SMNEO_ENOMEM;
        } else {
            t->share = share;
        }
    }
    pthread_mutex_unlock(&t->pool_mu);
    return rc ? smneo__error(err, rc, "out of memory creating the curl transport's share handle") : 0;
}

/* ---- pool ----------------------------------------------------------------- */

static void slot_destroy(slot *s)
{
    if (s->easy)
        curl_easy_cleanup(s->easy);
    if (s->multi)
        curl_multi_cleanup(s->multi);
    s->easy = NULL;
    s->multi = NULL;
}

/* Takes an idle slot or makes a new one. 0 or SMNEO_ENOMEM. */
static int slot_acquire(curl_transport *t, slot *out)
{
    pthread_mutex_lock(&t->pool_mu);
    if (t->idle_count > 0) {
        *out = t->idle[--t->idle_count];
        pthread_mutex_unlock(&t->pool_mu);
        return 0;
    }
    pthread_mutex_unlock(&t->pool_mu);
    out->multi = curl_multi_init();
    out->easy = curl_easy_init();
    if (!out->multi || !out->easy) {
        slot_destroy(out);
        return SMNEO_ENOMEM;
    }
    curl_multi_setopt(out->multi, CURLMOPT_MAXCONNECTS, 4L);
    return 0;
}

static void slot_release(curl_transport *t, slot *s)
{
    pthread_mutex_lock(&t->pool_mu);
    if (t->idle_count < t->max_connections) {
        t->idle[t->idle_count++] = *s;
        s = NULL;
    }
    pthread_mutex_unlock(&t->pool_mu);
    if (s)
        slot_destroy(s);
}

/* ---- one transfer ---------------------------------------------------------- */

typedef struct xfer {
    smneo_response *resp;
    smneo_buf body;
    int64_t last_activity; /* monotonic ms of the last byte moved */
    int connected;         /* the request is about to be / has been sent */
    int sends;             /* times the request went out (libcurl resends once on a dead reused connection) */
    curl_off_t ulast;      /* upload progress last seen */
    curl_off_t dlast;
    int oom;
    int timed_out;         /* our read timeout fired */
    const smneo_body_source *src; /* streamed request body, or NULL */
    const smneo_body_sink *sink;  /* streamed 2xx response body, or NULL */
    uint64_t src_sent;
    int src_failed;        /* the source reported an error */
    int sink_failed;       /* the sink stopped the transfer */
} xfer;

static void touch(xfer *x) { x->last_activity = smneo__monotonic_ms(); }

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static size_t on_header(char *data, size_t size, size_t nitems, void *userdata)
{
    xfer *x = userdata;
    size_t len = size * nitems;
    touch(x);
    if (len >= 5 && !memcmp(data, "HTTP/", 5)) {
        /* A new response head (after 100 Continue or a redirect): start over. */
        smneo_response *fresh = NULL;
        if (smneo_response_new(&fresh, 0) != 0) {
            x->oom = 1;
            return 0;
        }
        /* "HTTP/1.1 200 OK": keep the status so the body callback knows
         * whether the body goes to the sink. */
        const char *sp = memchr(data, ' ', len);
        if (sp && (size_t)(sp - data) + 4 <= len)
            fresh->status = (int)strtol(sp + 1, NULL, 10);
        smneo_response_free(x->resp);
        x->resp = fresh;
        return len;
    }
    size_t end = len;
    while (end && is_space(data[end - 1]))
        end--;
    if (end == 0)
        return len; /* the blank line closing the head */
    if (data[0] == ' ' || data[0] == '\t') {
        /* obs-fold continuation: append to the previous value. */
        if (x->resp->header_count == 0)
            return len;
        size_t start = 0;
        while (start < end && is_space(data[start]))
            start++;
        smneo_header *h = &x->resp->headers[x->resp->header_count - 1];
        char *v = smneo__aprintf("%s %.*s", h->value, (int)(end - start), data + start);
        if (!v) {
            x->oom = 1;
            return 0;
        }
        smneo__free_secret(h->value);
        h->value = v;
        return len;
    }
    const char *colon = memchr(data, ':', end);
    if (!colon)
        return len; /* not a header line: ignore */
    size_t nlen = (size_t)(colon - data);
    while (nlen && is_space(data[nlen - 1]))
        nlen--;
    const char *v = colon + 1;
    while (v < data + end && is_space(*v))
        v++;
    if (smneo_response_add_header(x->resp, data, nlen, v, (size_t)(data + end - v)) != 0) {
        x->oom = 1;
        return 0;
    }
    return len;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    xfer *x = userdata;
    size_t len = size * nmemb;
    touch(x);
    if (x->sink && x->resp->status >= 200 && x->resp->status < 300) {
        if (len && x->sink->write(x->sink->payload, data, len) != 0) {
            x->sink_failed = 1;
            return 0;
        }
        return len;
    }
    if (smneo__buf_append(&x->body, data, len) != 0) {
        x->oom = 1;
        return 0;
    }
    return len;
}

static size_t on_read(char *buf, size_t size, size_t nitems, void *userdata)
{
    xfer *x = userdata;
    size_t n = size * nitems;
    touch(x);
    uint64_t left = x->src->length - x->src_sent;
    if ((uint64_t)n > left)
        n = (size_t)left;
    if (n == 0)
        return 0;
    size_t got = x->src->read(x->src->payload, buf, n);
    if (got == (size_t)-1 || got > n) {
        x->src_failed = 1;
        return CURL_READFUNC_ABORT;
    }
    if (got == 0) { /* ended early: the declared length cannot be met */
        x->src_failed = 1;
        return CURL_READFUNC_ABORT;
    }
    x->src_sent += got;
    return got;
}

static int on_progress(void *clientp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal;
    (void)ultotal;
    xfer *x = clientp;
    if (ulnow != x->ulast || dlnow != x->dlast) {
        x->ulast = ulnow;
        x->dlast = dlnow;
        touch(x);
    }
    return 0;
}

/* Called once the connection is up (new or reused), before the request is
 * sent: from here on the read timeout applies. libcurl calls it again when it
 * sends the request a second time by itself (a reused connection that closed
 * before any answer byte: "Connection died, retrying a fresh connect"), so
 * the calls count the sends. */
static int on_prereq(void *clientp, char *conn_primary_ip, char *conn_local_ip, int conn_primary_port,
                     int conn_local_port)
{
    (void)conn_primary_ip;
    (void)conn_local_ip;
    (void)conn_primary_port;
    (void)conn_local_port;
    xfer *x = clientp;
    x->connected = 1;
    x->sends++;
    touch(x);
    return CURL_PREREQFUNC_OK;
}

/* ---- helpers ---------------------------------------------------------------- */

static int is_https(const char *url) { return url && !strncasecmp(url, "https://", 8); }

/* "host[:port]" for messages: the request's host, else parsed from the URL. */
static void host_of(const smneo_request *req, char *out, size_t cap)
{
    if (req->host && *req->host) {
        snprintf(out, cap, "%s", req->host);
        return;
    }
    const char *p = strstr(req->url, "://");
    p = p ? p + 3 : req->url;
    size_t n = strcspn(p, "/?#");
    const char *at = memchr(p, '@', n); /* never echo userinfo */
    if (at) {
        n -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    snprintf(out, cap, "%.*s", (int)n, p);
}

/* 1 when the URL's host is localhost, 127.0.0.1 or [::1] (the names added to
 * NO_PROXY below). */
static int is_loopback_url(const char *url)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t n = strcspn(p, "/?#");
    const char *at = memchr(p, '@', n);
    if (at) {
        n -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    size_t hl = p[0] == '[' ? strcspn(p, "]") + 1 : strcspn(p, ":/?#");
    if (hl > n)
        hl = n;
    return (hl == 9 && !strncasecmp(p, "localhost", 9)) || (hl == 9 && !strncmp(p, "127.0.0.1", 9)) ||
           (hl == 5 && !strncmp(p, "[::1]", 5));
}

/* Frees a header list built below. curl_slist_append copied each line
 * (session token, signature, bearer tokens): the copies are wiped first.
 * (libcurl's own copies, in the request it writes, are out of our reach.) */
static void free_header_list(struct curl_slist *list)
{
    for (struct curl_slist *l = list; l; l = l->next)
        if (l->data)
            smneo__wipe(l->data, strlen(l->data));
    curl_slist_free_all(list);
}

/* Builds the header list: exactly the request's headers, in order, plus
 * suppression of what libcurl would add on its own. */
static struct curl_slist *build_headers(const smneo_request *req, int *oom)
{
    struct curl_slist *list = NULL, *tmp;
    int have_accept = 0, have_ctype = 0, have_expect = 0;
    *oom = 0;
    for (size_t i = 0; i < req->header_count; i++) {
        const smneo_header *h = &req->headers[i];
        if (!strcasecmp(h->name, "Accept"))
            have_accept = 1;
        else if (!strcasecmp(h->name, "Content-Type"))
            have_ctype = 1;
        else if (!strcasecmp(h->name, "Expect"))
            have_expect = 1;
        /* "Name:" would make libcurl drop the header; "Name;" sends it empty. */
        char *line = h->value[0] ? smneo__aprintf("%s: %s", h->name, h->value) : smneo__aprintf("%s;", h->name);
        if (!line)
            goto fail;
        tmp = curl_slist_append(list, line);
        smneo__free_secret(line);
        if (!tmp)
            goto fail;
        list = tmp;
    }
    if (!have_accept && !(tmp = curl_slist_append(list, "Accept:")))
        goto fail;
    list = have_accept ? list : tmp;
    if (!have_ctype && !(tmp = curl_slist_append(list, "Content-Type:")))
        goto fail;
    list = have_ctype ? list : tmp;
    if (!have_expect && !(tmp = curl_slist_append(list, "Expect:")))
        goto fail;
    list = have_expect ? list : tmp;
    return list;
fail:
    free_header_list(list);
    *oom = 1;
    return NULL;
}

/* NO_PROXY from the environment, extended so that loopback never goes
 * through a proxy. Caller frees. */
static char *noproxy_for_loopback(void)
{
    const char *env = smneo__getenv("no_proxy");
    if (!env)
        env = smneo__getenv("NO_PROXY");
    if (env && !strcmp(env, "*"))
        return smneo__strdup("*");
    return smneo__aprintf("%s%slocalhost,127.0.0.1,::1", env ? env : "", env ? "," : "");
}

static int map_error(curl_transport *t, CURLcode rc, const xfer *x, const char *errbuf, const smneo_request *req,
                     smneo_error *err)
{
    char host[512];
    host_of(req, host, sizeof host);
    const char *detail = errbuf && *errbuf ? errbuf : curl_easy_strerror(rc);
    int code;
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
        code = smneo__error(err, SMNEO_EDNS, "could not resolve host %s (%s); check the endpoint URL and the "
                            "network's DNS", host, detail);
        break;
    case CURLE_COULDNT_RESOLVE_PROXY:
        code = smneo__error(err, SMNEO_EDNS, "could not resolve the proxy host for %s (%s); check HTTPS_PROXY/"
                            "http_proxy/ALL_PROXY in the environment", host, detail);
        break;
    case CURLE_COULDNT_CONNECT:
        code = smneo__error(err, SMNEO_ECONNECT, "could not connect to %s (%s)", host, detail);
        break;
    /* Connected, then the peer closed or reset the connection, or cut the
     * body: ECLOSED. A send/receive failure before the connection was up
     * (a proxy CONNECT, a refused connect) stays ECONNECT. */
    case CURLE_GOT_NOTHING:
        code = smneo__error(err, SMNEO_ECLOSED, "%s closed the connection without sending a response", host);
        break;
    case CURLE_PARTIAL_FILE:
        code = smneo__error(err, SMNEO_ECLOSED, "connection to %s closed before the whole response body "
                            "arrived (%s)", host, detail);
        break;
    case CURLE_SEND_ERROR:
        code = smneo__error(err, x->connected ? SMNEO_ECLOSED : SMNEO_ECONNECT, "connection to %s failed "
                            "while sending the request (%s)", host, detail);
        break;
    case CURLE_RECV_ERROR:
        code = smneo__error(err, x->connected ? SMNEO_ECLOSED : SMNEO_ECONNECT, "connection to %s failed "
                            "while receiving the response (%s)", host, detail);
        break;
    case CURLE_OPERATION_TIMEDOUT:
        if (x->connected)
            code = smneo__error(err, SMNEO_ETIMEOUT, "read timeout: no data from %s for %ld ms", host,
                                t->read_timeout_ms);
        else
            code = smneo__error(err, SMNEO_ETIMEOUT, "connect timeout: could not connect to %s within %ld ms",
                                host, t->connect_timeout_ms);
        break;
    case CURLE_SSL_CACERT_BADFILE:
        code = smneo__error(err, SMNEO_ETLS, "TLS to %s: cannot load the CA bundle %s%s%s (%s)", host,
                            t->ca_bundle ? t->ca_bundle : "(system store)", t->ca_bundle ? " from " : "",
                            t->ca_bundle ? t->ca_bundle_from : "", detail);
        break;
    case CURLE_PEER_FAILED_VERIFICATION:
        code = smneo__error(err, SMNEO_ETLS, "TLS to %s: the server certificate could not be verified (%s); "
                            "set AWS_CA_BUNDLE to the CA bundle that signs it", host, detail);
        break;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED:
        code = smneo__error(err, SMNEO_ETLS, "TLS handshake with %s failed (%s)", host, detail);
        break;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        code = smneo__error(err, SMNEO_EINVAL, "cannot send to %s: the URL is not a valid http(s) URL (%s)",
                            host, detail);
        break;
    case CURLE_OUT_OF_MEMORY:
        code = smneo__error(err, SMNEO_ENOMEM, "out of memory sending to %s", host);
        break;
    case CURLE_PROXY:
        code = smneo__error(err, SMNEO_ECONNECT, "the proxy refused the connection to %s (%s); check "
                            "HTTPS_PROXY/NO_PROXY", host, detail);
        break;
    default:
        code = smneo__error(err, SMNEO_ECONNECT, "request to %s failed (%s)", host, detail);
        break;
    }
    if (err && (code == SMNEO_ECONNECT || code == SMNEO_ECLOSED || code == SMNEO_ETIMEOUT || code == SMNEO_EDNS))
        err->retryable = 1;
    return code;
}

/* Sets every option for one request on a (reset) easy handle. */
static CURLcode setup(curl_transport *t, CURL *e, const smneo_request *req, struct curl_slist *headers,
                      const char *noproxy, xfer *x, char *errbuf)
{
    CURLcode rc = CURLE_OK;
#define SET(opt, val)                                       \
    do {                                                    \
        if (rc == CURLE_OK)                                 \
            rc = curl_easy_setopt(e, opt, val);             \
    } while (0)
    SET(CURLOPT_SHARE, t->share);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_ERRORBUFFER, errbuf);
    SET(CURLOPT_URL, req->url);
    SET(CURLOPT_PATH_AS_IS, 1L); /* send the (signed) path untouched */
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    SET(CURLOPT_HTTPHEADER, headers);
    SET(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_TCP_KEEPALIVE, t->tcp_keepalive < 0 ? 0L : 1L);
    SET(CURLOPT_CONNECTTIMEOUT_MS, t->connect_timeout_ms);
    SET(CURLOPT_SSL_VERIFYPEER, t->verify_tls ? 1L : 0L);
    SET(CURLOPT_SSL_VERIFYHOST, t->verify_tls ? 2L : 0L);
    if (t->ca_bundle)
        SET(CURLOPT_CAINFO, t->ca_bundle);
    if (t->proxies_set) {
        /* Explicit proxies (botocore's Config.proxies) replace the
         * environment's, NO_PROXY and the loopback exemption included. */
        const char *p = strncmp(req->url, "https:", 6) ? t->proxy_http : t->proxy_https;
        SET(CURLOPT_PROXY, p ? p : "");
        SET(CURLOPT_NOPROXY, "");
        if (t->proxy_ca_bundle)
            SET(CURLOPT_PROXY_CAINFO, t->proxy_ca_bundle);
        if (t->proxy_client_cert)
            SET(CURLOPT_PROXY_SSLCERT, t->proxy_client_cert);
        if (t->proxy_client_key)
            SET(CURLOPT_PROXY_SSLKEY, t->proxy_client_key);
    } else if (noproxy) {
        SET(CURLOPT_NOPROXY, noproxy);
    }
    if (t->client_cert)
        SET(CURLOPT_SSLCERT, t->client_cert);
    if (t->client_key)
        SET(CURLOPT_SSLKEY, t->client_key);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, x);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, x);
    SET(CURLOPT_NOPROGRESS, 0L);
    SET(CURLOPT_XFERINFOFUNCTION, on_progress);
    SET(CURLOPT_XFERINFODATA, x);
    SET(CURLOPT_PREREQFUNCTION, on_prereq);
    SET(CURLOPT_PREREQDATA, x);

    const char *m = req->method;
    int has_body = req->body != NULL || !strcmp(m, "POST") || !strcmp(m, "PUT") || !strcmp(m, "PATCH");
    if (x->src) {
        SET(CURLOPT_READFUNCTION, on_read);
        SET(CURLOPT_READDATA, x);
        if (!strcmp(m, "POST")) {
            SET(CURLOPT_POST, 1L);
            SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->src->length);
        } else {
            SET(CURLOPT_UPLOAD, 1L);
            SET(CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->src->length);
            if (strcmp(m, "PUT") != 0)
                SET(CURLOPT_CUSTOMREQUEST, m);
        }
    } else if (!strcmp(m, "GET") && !req->body_len) {
        SET(CURLOPT_HTTPGET, 1L);
    } else if (!strcmp(m, "HEAD")) {
        SET(CURLOPT_NOBODY, 1L);
    } else {
        if (has_body) {
            SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
            SET(CURLOPT_POSTFIELDS, req->body ? req->body : "");
        }
        if (strcmp(m, "POST") != 0)
            SET(CURLOPT_CUSTOMREQUEST, m);
    }
#undef SET
    return rc;
}

/* Runs the transfer on the slot's multi handle with our read timeout. */
static CURLcode run(curl_transport *t, slot *s, xfer *x)
{
    if (curl_multi_add_handle(s->multi, s->easy) != CURLM_OK)
        return CURLE_FAILED_INIT;
    CURLcode result = CURLE_OK;
    int running = 1;
    touch(x);
    for (;;) {
        CURLMcode mc = curl_multi_perform(s->multi, &running);
        if (mc != CURLM_OK) {
            result = mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_FAILED_INIT;
            break;
        }
        if (!running) {
            int left;
            CURLMsg *msg;
            result = CURLE_GOT_NOTHING;
            while ((msg = curl_multi_info_read(s->multi, &left)) != NULL)
                if (msg->msg == CURLMSG_DONE && msg->easy_handle == s->easy)
                    result = msg->data.result;
            break;
        }
        long wait = 1000;
        if (x->connected) {
            long idle = (long)(smneo__monotonic_ms() - x->last_activity);
            long remaining = t->read_timeout_ms - idle;
            if (remaining <= 0) {
                x->timed_out = 1;
                result = CURLE_OPERATION_TIMEDOUT;
                break;
            }
            if (remaining < wait)
                wait = remaining;
        }
        if (curl_multi_poll(s->multi, NULL, 0, (int)wait, NULL) != CURLM_OK) {
            result = CURLE_FAILED_INIT;
            break;
        }
    }
    /* Removing an unfinished transfer closes its connection. */
    curl_multi_remove_handle(s->multi, s->easy);
    return result;
}

/* One request's state outside the handle: headers, NO_PROXY, the response
 * being collected. Prepared before a transfer and finished after it, by the
 * blocking send below and by the event-loop driver (smneo__curlm). */
typedef struct prepared {
    struct curl_slist *headers;
    char *noproxy;
    xfer x;
    char errbuf[CURL_ERROR_SIZE];
} prepared;

/* Checks the request, logs it, builds its headers and sets every option on a
 * (reset) easy handle: 0, with *setup_rc the options' outcome (for finish()),
 * or an error code, with nothing left to free. */
static int prepare(curl_transport *t, CURL *e, const smneo_request *req, const smneo_body_source *src,
                   const smneo_body_sink *sink, prepared *p, CURLcode *setup_rc, smneo_error *err)
{
    memset(p, 0, sizeof *p);
    if (!req || !req->method || !req->url)
        return smneo__error(err, SMNEO_EINVAL, "smneo_transport_send: the request needs a method and a URL");

    if (is_https(req->url) && t->verify_tls && t->ca_bundle && access(t->ca_bundle, R_OK) != 0) {
        char host[512];
        host_of(req, host, sizeof host);
        return smneo__error(err, SMNEO_ETLS, "TLS to %s: cannot read the CA bundle '%s' given by %s (%s); fix "
                            "the path or unset it", host, t->ca_bundle, t->ca_bundle_from, strerror(errno));
    }

    /* Last line of defence against header injection: libcurl would send a
     * line break in a name or value as is. The value is not quoted (it may
     * be a secret). */
    for (size_t i = 0; i < req->header_count; i++)
        if (strpbrk(req->headers[i].name, "\r\n") || strpbrk(req->headers[i].value, "\r\n"))
            return smneo__error(err, SMNEO_EINVAL, "the request's %.64s header contains a line break: not sent",
                                req->headers[i].name);

    if (smneo_log_enabled())
        smneo_log_request(req);

    int oom = 0;
    p->headers = build_headers(req, &oom);
    p->noproxy = is_loopback_url(req->url) ? noproxy_for_loopback() : NULL;
    smneo_buf init = SMNEO_BUF_SECRET_INIT; /* a credentials answer holds keys and a token */
    p->x.body = init;
    p->x.src = src && src->read ? src : NULL;
    p->x.sink = sink && sink->write ? sink : NULL;
    if (oom || (is_loopback_url(req->url) && !p->noproxy) || smneo_response_new(&p->x.resp, 0) != 0) {
        free_header_list(p->headers);
        free(p->noproxy);
        memset(p, 0, sizeof *p);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory preparing a request");
    }
    curl_easy_reset(e);
    *setup_rc = setup(t, e, req, p->headers, p->noproxy, &p->x, p->errbuf);
    return 0;
}

/* After the transfer ended with rc: the response or the mapped error; frees
 * what prepare() made and detaches it from the handle. */
static int finish(curl_transport *t, CURL *e, const smneo_request *req, prepared *p, CURLcode rc,
                  smneo_response **out, smneo_error *err)
{
    xfer *x = &p->x;
    if (x->oom) /* a callback failed to allocate (libcurl saw a write error) */
        rc = CURLE_OUT_OF_MEMORY;
    int result = 0;
    if (rc != CURLE_OK && (x->src_failed || x->sink_failed)) {
        char host[512];
        host_of(req, host, sizeof host);
        result = smneo__error(err, SMNEO_ECANCELLED, "the transfer with %s was stopped by the %s", host,
                              x->src_failed ? "request body source" : "response body sink");
    } else if (rc != CURLE_OK) {
        result = map_error(t, rc, x, p->errbuf, req, err);
    } else {
        long status = 0;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        x->resp->status = (int)status;
        x->resp->sends = x->sends;
        if (x->sends > 1 && smneo_log_enabled())
            smneo_log(SMNEO_LOG_DEBUG, "libcurl sent the request %d times: a reused connection closed without an "
                      "answer", x->sends);
        size_t len = 0;
        char *body = smneo__buf_detach(&x->body, &len);
        if (!body) {
            result = smneo__error(err, SMNEO_ENOMEM, "out of memory reading a response");
        } else {
            x->resp->body = body;
            x->resp->body_len = len;
        }
    }
    /* Detach request-scoped pointers before the handle is reused. */
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, NULL);
    free_header_list(p->headers);
    free(p->noproxy);
    p->headers = NULL;
    p->noproxy = NULL;
    smneo__buf_free(&x->body);

    if (result != 0) {
        smneo_response_free(x->resp);
        x->resp = NULL;
        if (smneo_log_enabled())
            smneo_log(SMNEO_LOG_DEBUG, "transport error %s: %s", smneo_strerror(result),
                      err && err->message ? err->message : "");
        return result;
    }
    if (smneo_log_enabled())
        smneo_log_response(x->resp);
    *out = x->resp;
    x->resp = NULL;
    return 0;
}

static int do_send(smneo_transport *self, const smneo_request *req, const smneo_body_source *src,
                   const smneo_body_sink *sink, smneo_response **out, smneo_error *err)
{
    curl_transport *t = (curl_transport *)self;
    if (!out)
        return smneo__error(err, SMNEO_EINVAL, "smneo_transport_send: out is NULL");
    *out = NULL;
    int rrc = ready(t, err);
    if (rrc)
        return rrc;
    slot s;
    if (slot_acquire(t, &s) != 0)
        return smneo__error(err, SMNEO_ENOMEM, "out of memory creating a connection handle");
    prepared p;
    CURLcode rc = CURLE_OK;
    int prc = prepare(t, s.easy, req, src, sink, &p, &rc, err);
    if (prc) { /* refused before any option was set */
        slot_release(t, &s);
        return prc;
    }
    if (rc == CURLE_OK)
        rc = run(t, &s, &p.x);
    int result = finish(t, s.easy, req, &p, rc, out, err);
    slot_release(t, &s);
    return result;
}

static int curl_send(smneo_transport *self, smneo_response **out, const smneo_request *req, smneo_error *err)
{
    return do_send(self, req, NULL, NULL, out, err);
}

static int curl_send_stream(smneo_transport *self, smneo_response **out, const smneo_request *req,
                            const smneo_body_source *src, const smneo_body_sink *sink, smneo_error *err)
{
    if (src && !src->read)
        return smneo__error(err, SMNEO_EINVAL, "smneo_transport_send_stream: the body source has no read "
                            "function");
    if (sink && !sink->write)
        return smneo__error(err, SMNEO_EINVAL, "smneo_transport_send_stream: the body sink has no write "
                            "function");
    return do_send(self, req, src, sink, out, err);
}

/* ---- driven by an event loop (curl_multi.h) ----------------------------------- */

typedef struct mxfer {
    struct mxfer *next, *prev;
    struct mxfer *qnext; /* waiting for a connection: the FIFO queue */
    int queued;          /* not (yet) handed to libcurl */
    CURL *easy;
    const smneo_request *req;
    void *token;
    prepared p;
} mxfer;

struct smneo__curlm {
    curl_transport *t;
    CURLM *multi;
    smneo__curlm_socket_cb on_socket;
    smneo__curlm_done_cb on_done;
    void *payload;
    mxfer *head;
    int count;                /* transfers, queued ones included */
    int active;               /* handed to libcurl: at most limit */
    int limit;                /* the transport's max_connections */
    mxfer *qhead, *qtail;     /* queued, oldest first */
    int64_t curl_deadline; /* monotonic ms libcurl asked to be called back at; -1: none */
    /* no transfer's read timeout is due before this (monotonic ms; -1: no
     * transfer): the transfers are scanned only once it has passed, not at
     * every action (hundreds in flight) */
    int64_t read_due;
};

/* x's read deadline is at or after now + read_timeout_ms: read_due stays a
 * lower bound (a transfer's last activity only moves forward). */
static void m_note(smneo__curlm *m, int64_t now)
{
    int64_t due = now + m->t->read_timeout_ms;
    if (m->read_due < 0 || due < m->read_due)
        m->read_due = due;
}

static int m_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)e;
    (void)socketp;
    smneo__curlm *m = userp;
    int w = what == CURL_POLL_REMOVE ? SMNEO__CURLM_REMOVE
                                     : ((what & CURL_POLL_IN) ? SMNEO__CURLM_IN : 0) |
                                           ((what & CURL_POLL_OUT) ? SMNEO__CURLM_OUT : 0);
    if (m->on_socket)
        m->on_socket((int)fd, w, m->payload);
    return 0;
}

static int m_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    smneo__curlm *m = userp;
    m->curl_deadline = timeout_ms < 0 ? -1 : smneo__monotonic_ms() + timeout_ms;
    return 0;
}

/* Ends a transfer: its response or error to on_done (notify), then frees it. */
static void m_end(smneo__curlm *m, mxfer *x, CURLcode rc, int notify)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        m->head = x->next;
    if (x->next)
        x->next->prev = x->prev;
    m->count--;
    if (x->queued) {
        for (mxfer **q = &m->qhead, *prev = NULL; *q; prev = *q, q = &(*q)->qnext)
            if (*q == x) {
                *q = x->qnext;
                if (m->qtail == x)
                    m->qtail = prev;
                break;
            }
    } else {
        /* Removing an unfinished transfer closes its connection. */
        curl_multi_remove_handle(m->multi, x->easy);
        m->active--;
    }
    smneo_response *resp = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int r = finish(m->t, x->easy, x->req, &x->p, rc, &resp, &err);
    curl_easy_cleanup(x->easy);
    if (notify)
        m->on_done(x->token, r ? NULL : resp, r, err.message, m->payload);
    else
        smneo_response_free(resp);
    smneo_error_clear(&err);
    free(x);
}

/* Hands queued transfers to libcurl while fewer than limit are active (the
 * pool's limit, as max_pool_connections caps aiohttp's connector). */
static void m_promote(smneo__curlm *m)
{
    while (m->active < m->limit && m->qhead) {
        mxfer *x = m->qhead;
        m->qhead = x->qnext;
        if (!m->qhead)
            m->qtail = NULL;
        x->qnext = NULL;
        touch(&x->p.x);
        if (curl_multi_add_handle(m->multi, x->easy) != CURLM_OK) {
            x->qnext = NULL;
            x->queued = 1; /* (no longer in the queue: m_end finds nothing to unlink) */
            m_end(m, x, CURLE_FAILED_INIT, 1);
            continue;
        }
        x->queued = 0;
        m->active++;
    }
}

int smneo__curlm_new(smneo__curlm **out, smneo_transport *t, smneo__curlm_socket_cb on_socket,
                     smneo__curlm_done_cb on_done, void *payload, smneo_error *err)
{
    if (!out || !on_done)
        return smneo__error(err, SMNEO_EINVAL, "smneo__curlm_new: out and on_done are required");
    *out = NULL;
    if (!t || t->send != curl_send)
        return smneo__error(err, SMNEO_EUNSUPPORTED, "the client's transport is not libcurl: it cannot be driven "
                            "by an event loop");
    int rrc = ready((curl_transport *)t, err);
    if (rrc)
        return rrc;
    smneo__curlm *m = calloc(1, sizeof *m);
    if (!m || !(m->multi = curl_multi_init())) {
        free(m);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory creating a libcurl multi handle");
    }
    m->t = (curl_transport *)t;
    m->on_socket = on_socket;
    m->on_done = on_done;
    m->payload = payload;
    m->curl_deadline = -1;
    m->read_due = -1;
    m->limit = m->t->max_connections > 0 ? m->t->max_connections : 1;
    /* keep-alive connections kept between transfers: the pool's size */
    curl_multi_setopt(m->multi, CURLMOPT_MAXCONNECTS, (long)m->limit);
    curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, m_socket);
    curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, m);
    curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION, m_timer);
    curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, m);
    *out = m;
    return 0;
}

int smneo__curlm_add(smneo__curlm *m, const smneo_request *req, void *token, smneo_error *err)
{
    if (!m || !req)
        return smneo__error(err, SMNEO_EINVAL, "smneo__curlm_add: no multi handle or request");
    mxfer *x = calloc(1, sizeof *x);
    if (!x || !(x->easy = curl_easy_init())) {
        free(x);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory creating a connection handle");
    }
    CURLcode rc = CURLE_OK;
    int prc = prepare(m->t, x->easy, req, NULL, NULL, &x->p, &rc, err);
    if (prc) {
        curl_easy_cleanup(x->easy);
        free(x);
        return prc;
    }
    x->req = req;
    x->token = token;
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
    touch(&x->p.x);
    m_note(m, x->p.x.last_activity);
    int queue = m->active >= m->limit;
    if (rc == CURLE_OK && !queue && curl_multi_add_handle(m->multi, x->easy) != CURLM_OK)
        rc = CURLE_FAILED_INIT;
    if (rc != CURLE_OK) {
        smneo_response *resp = NULL;
        int r = finish(m->t, x->easy, req, &x->p, rc, &resp, err);
        smneo_response_free(resp);
        curl_easy_cleanup(x->easy);
        free(x);
        return r ? r : smneo__error(err, SMNEO_ERROR, "libcurl refused the transfer");
    }
    x->next = m->head;
    if (m->head)
        m->head->prev = x;
    m->head = x;
    m->count++;
    if (queue) {
        x->queued = 1;
        if (m->qtail)
            m->qtail->qnext = x;
        else
            m->qhead = x;
        m->qtail = x;
    } else {
        m->active++;
    }
    return 0;
}

void smneo__curlm_remove(smneo__curlm *m, void *token)
{
    for (mxfer *x = m ? m->head : NULL; x; x = x->next)
        if (x->token == token) {
            m_end(m, x, CURLE_ABORTED_BY_CALLBACK, 0);
            m_promote(m);
            return;
        }
}

void smneo__curlm_action(smneo__curlm *m, int fd, int what)
{
    if (!m)
        return;
    int running = 0;
    if (fd < 0) {
        if (m->curl_deadline >= 0 && smneo__monotonic_ms() >= m->curl_deadline) {
            m->curl_deadline = -1;
            curl_multi_socket_action(m->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        }
    } else {
        int ev = ((what & SMNEO__CURLM_IN) ? CURL_CSELECT_IN : 0) | ((what & SMNEO__CURLM_OUT) ? CURL_CSELECT_OUT : 0);
        curl_multi_socket_action(m->multi, (curl_socket_t)fd, ev, &running);
    }
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        mxfer *x = NULL;
        CURL *e = msg->easy_handle;
        CURLcode rc = msg->data.result;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
        if (x)
            m_end(m, x, rc, 1);
    }
    /* our read timeout: no byte moved for read_timeout_ms once connected
     * (scanned once the earliest possible deadline has passed; read_due is
     * then the earliest again, an unconnected transfer's no sooner than a
     * read timeout from now) */
    int64_t now = smneo__monotonic_ms();
    if (m->read_due >= 0 && now >= m->read_due) {
        m->read_due = -1;
        for (mxfer *x = m->head, *next; x; x = next) {
            next = x->next;
            if (x->p.x.connected && now - x->p.x.last_activity >= m->t->read_timeout_ms) {
                x->p.x.timed_out = 1;
                m_end(m, x, CURLE_OPERATION_TIMEDOUT, 1);
            } else {
                m_note(m, x->p.x.connected ? x->p.x.last_activity : now);
            }
        }
    }
    m_promote(m);
}

long smneo__curlm_timeout(smneo__curlm *m)
{
    if (!m)
        return -1;
    int64_t due = m->curl_deadline;
    if (m->head && m->read_due >= 0 && (due < 0 || m->read_due < due))
        due = m->read_due; /* (a lower bound: at worst an action that finds nothing due) */
    if (due < 0)
        return -1;
    int64_t left = due - smneo__monotonic_ms();
    return left < 0 ? 0 : (long)left;
}

int smneo__curlm_count(const smneo__curlm *m) { return m ? m->count : 0; }

void smneo__curlm_free(smneo__curlm *m)
{
    if (!m)
        return;
    /* the owner stops watching the sockets itself: no callbacks from here on */
    curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, NULL);
    m->on_socket = NULL;
    while (m->head)
        m_end(m, m->head, CURLE_ABORTED_BY_CALLBACK, 0);
    m->qhead = m->qtail = NULL;
    curl_multi_cleanup(m->multi);
    free(m);
}

static void curl_transport_free(smneo_transport *self)
{
    curl_transport *t = (curl_transport *)self;
    if (!t)
        return;
    for (int i = 0; i < t->idle_count; i++)
        slot_destroy(&t->idle[i]);
    free(t->idle);
    if (t->share)
        curl_share_cleanup(t->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&t->share_locks[i]);
    pthread_mutex_destroy(&t->pool_mu);
    free(t->ca_bundle);
    free(t->proxy_http);
    free(t->proxy_https);
    free(t->proxy_ca_bundle);
    free(t->proxy_client_cert);
    free(t->proxy_client_key);
    free(t->client_cert);
    free(t->client_key);
    free(t);
}

int smneo_curl_transport_new(smneo_transport **out, const smneo_curl_options *opts, smneo_error *err)
{
    if (!out)
        return smneo__error(err, SMNEO_EINVAL, "smneo_curl_transport_new: out is NULL");
    *out = NULL;
    smneo_curl_options full;
    int orc = smneo__options_copy(&full, opts, &smneo__curl_options_layout, err);
    if (orc)
        return orc;
    opts = &full;
    if (opts->tcp_keepalive < -1 || opts->tcp_keepalive > 1)
        return smneo__error(err, SMNEO_EINVAL, "smneo_curl_options.tcp_keepalive must be 0 (default), 1 or -1");
    if (opts->connect_timeout_ms < 0 || opts->read_timeout_ms < 0 || opts->max_connections < 0)
        return smneo__error(err, SMNEO_EINVAL, "smneo_curl_options: connect_timeout_ms, read_timeout_ms and "
                            "max_connections must not be negative (0 means the default)");

    curl_transport *t = calloc(1, sizeof *t);
    if (!t)
        return smneo__error(err, SMNEO_ENOMEM, "out of memory creating the curl transport");
    t->base.version = SMNEO_TRANSPORT_VERSION;
    t->base.send = curl_send;
    t->base.send_stream = curl_send_stream;
    t->base.free = curl_transport_free;
    t->base.payload = NULL;
    t->connect_timeout_ms = opts->connect_timeout_ms ? opts->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
    t->read_timeout_ms = opts->read_timeout_ms ? opts->read_timeout_ms : DEFAULT_READ_TIMEOUT_MS;
    t->verify_tls = !opts->no_verify_tls;
    t->max_connections = opts->max_connections ? opts->max_connections : DEFAULT_MAX_CONNECTIONS;
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&t->share_locks[i], NULL);
    pthread_mutex_init(&t->pool_mu, NULL);
    t->proxies_set = opts->proxies_set != 0;
    t->tcp_keepalive = opts->tcp_keepalive;
    if ((opts->proxy_http && !(t->proxy_http = smneo__strdup(opts->proxy_http))) ||
        (opts->proxy_https && !(t->proxy_https = smneo__strdup(opts->proxy_https))) ||
        (opts->proxy_ca_bundle && !(t->proxy_ca_bundle = smneo__strdup(opts->proxy_ca_bundle))) ||
        (opts->proxy_client_cert && !(t->proxy_client_cert = smneo__strdup(opts->proxy_client_cert))) ||
        (opts->proxy_client_key && !(t->proxy_client_key = smneo__strdup(opts->proxy_client_key))) ||
        (opts->client_cert && !(t->client_cert = smneo__strdup(opts->client_cert))) ||
        (opts->client_key && !(t->client_key = smneo__strdup(opts->client_key))))
        goto oom;

    const char *ca = opts->ca_bundle;
    t->ca_bundle_from = "smneo_curl_options.ca_bundle";
    if (!ca || !*ca) {
        ca = smneo__getenv("AWS_CA_BUNDLE");
        t->ca_bundle_from = "AWS_CA_BUNDLE";
    }
    if (ca && !(t->ca_bundle = smneo__strdup(ca)))
        goto oom;
    t->idle = calloc((size_t)t->max_connections, sizeof *t->idle);
    if (!t->idle)
        goto oom;
    *out = &t->base;
    return 0;
oom:
    curl_transport_free(&t->base);
    return smneo__error(err, SMNEO_ENOMEM, "out of memory creating the curl transport");
}

void smneo_transport_free(smneo_transport *t)
{
    if (t && t->free)
        t->free(t);
}

int smneo_transport_send(smneo_response **out, smneo_transport *t, const smneo_request *req, smneo_error *err)
{
    if (!t || !t->send)
        return smneo__error(err, SMNEO_EINVAL, "smneo_transport_send: no transport");
    return t->send(t, out, req, err);
}

int smneo_transport_can_stream(const smneo_transport *t)
{
    return t && t->version >= 2 && t->send_stream != NULL;
}

int smneo_transport_send_stream(smneo_response **out, smneo_transport *t, const smneo_request *req,
                                const smneo_body_source *src, const smneo_body_sink *sink, smneo_error *err)
{
    if (!t || !t->send)
        return smneo__error(err, SMNEO_EINVAL, "smneo_transport_send_stream: no transport");
    if (smneo_transport_can_stream(t))
        return t->send_stream(t, out, req, src, sink, err);
    if (!out || !req)
        return smneo__error(err, SMNEO_EINVAL, "smneo_transport_send_stream: out and request must not be NULL");
    *out = NULL;
    /* A version-1 sender: move the bodies through memory. */
    smneo_request *copy = NULL;
    const smneo_request *send_req = req;
    if (src) {
        if (!src->read)
            return smneo__error(err, SMNEO_EINVAL, "smneo_transport_send_stream: the body source has no read "
                                "function");
        if (src->length > (uint64_t)SIZE_MAX / 2)
            return smneo__error(err, SMNEO_EUNSUPPORTED, "the transport cannot stream and the %llu-byte body "
                                "does not fit in memory", (unsigned long long)src->length);
        char *body = malloc(src->length ? (size_t)src->length : 1);
        if (!body)
            return smneo__error(err, SMNEO_ENOMEM, "out of memory buffering a %llu-byte request body",
                                (unsigned long long)src->length);
        uint64_t got = 0;
        while (got < src->length) {
            size_t n = src->read(src->payload, body + got, (size_t)(src->length - got));
            if (n == (size_t)-1 || n == 0 || n > src->length - got) {
                free(body);
                return smneo__error(err, SMNEO_ECANCELLED, "the transfer was stopped by the request body source");
            }
            got += n;
        }
        int rc = smneo_request_clone(&copy, req);
        if (!rc)
            rc = smneo_request_set_body(copy, body, (size_t)src->length);
        free(body);
        if (rc) {
            smneo_request_free(copy);
            return smneo__error(err, SMNEO_ENOMEM, "out of memory copying a request");
        }
        send_req = copy;
    }
    smneo_response *resp = NULL;
    int rc = t->send(t, &resp, send_req, err);
    smneo_request_free(copy);
    if (rc)
        return rc;
    if (sink && resp->status >= 200 && resp->status < 300) {
        if (!sink->write) {
            smneo_response_free(resp);
            return smneo__error(err, SMNEO_EINVAL, "smneo_transport_send_stream: the body sink has no write "
                                "function");
        }
        if (resp->body_len && sink->write(sink->payload, resp->body, resp->body_len) != 0) {
            smneo_response_free(resp);
            return smneo__error(err, SMNEO_ECANCELLED, "the transfer was stopped by the response body sink");
        }
        free(resp->body);
        resp->body = NULL;
        resp->body_len = 0;
    }
    *out = resp;
    return 0;
}

/* ---- transports with a request's own timeout (transport_internal.h) ---------- */

/* Distinct timeouts a chain uses: IMDS, the container endpoint, STS. */
#define TIMED_SLOTS 4

struct smneo__timed_transports {
    pthread_mutex_t lock;
    struct {
        long timeout_ms;
        smneo_transport *t;
    } slot[TIMED_SLOTS];
};

int smneo__timed_transports_new(smneo__timed_transports **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return SMNEO_ENOMEM;
    pthread_mutex_init(&(*out)->lock, NULL);
    return 0;
}

void smneo__timed_transports_free(smneo__timed_transports *tt)
{
    if (!tt)
        return;
    for (int i = 0; i < TIMED_SLOTS; i++)
        smneo_transport_free(tt->slot[i].t);
    pthread_mutex_destroy(&tt->lock);
    free(tt);
}

static int timed_new(smneo_transport **out, long timeout_ms)
{
    smneo_curl_options co = SMNEO_CURL_OPTIONS_INIT;
    co.connect_timeout_ms = timeout_ms;
    co.read_timeout_ms = timeout_ms;
    co.max_connections = 2;
    return smneo_curl_transport_new(out, &co, NULL);
}

int smneo__send_timed(smneo_response **out, smneo__timed_transports *tt, const smneo_request *req,
                      long timeout_ms, smneo_error *err)
{
    smneo_transport *t = NULL, *once = NULL;
    pthread_mutex_lock(&tt->lock);
    for (int i = 0; i < TIMED_SLOTS && !t; i++) {
        if (tt->slot[i].t && tt->slot[i].timeout_ms == timeout_ms)
            t = tt->slot[i].t;
        else if (!tt->slot[i].t && timed_new(&t, timeout_ms) == 0) {
            tt->slot[i].timeout_ms = timeout_ms;
            tt->slot[i].t = t;
        } else if (!tt->slot[i].t) {
            t = NULL;
            break;
        }
    }
    pthread_mutex_unlock(&tt->lock);
    /* Every slot taken by another timeout: a transport for this request only. */
    if (!t && timed_new(&once, timeout_ms) == 0)
        t = once;
    int rc = t ? smneo_transport_send(out, t, req, err)
               : smneo__error(err, SMNEO_ENOMEM, "cannot create a transport for a credential request");
    smneo_transport_free(once);
    return rc;
}
