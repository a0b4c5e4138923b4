/* Plain HTTP request/response values. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "internal.h"
#include "smneo/http.h"

/* Bodies may hold secrets (a credentials answer, a web identity token, an
 * S3 error quoting the canonical request): wiped before they are freed. */
static void free_body(char *body, size_t len)
{
    if (body) {
        OPENSSL_cleanse(body, len);
        free(body);
    }
}

/* 1 when s holds a control character (CR/LF above all): such a method or
 * URL would split the request line or the Host header. */
static int has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

int smneo__url_has_userinfo(const char *url)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t n = strcspn(p, "/?#");
    return memchr(p, '@', n) != NULL;
}

int smneo_request_new(smneo_request **out, const char *method, const char *url)
{
    if (!out || !method || !url)
        return SMNEO_EINVAL;
    *out = NULL;
    /* User information would go out in the Host header (and be signed). */
    if (!*method || has_control(method) || strchr(method, ' ') || has_control(url) ||
        smneo__url_has_userinfo(url))
        return SMNEO_EINVAL;
    smneo_request *r = calloc(1, sizeof *r);
    if (!r)
        return SMNEO_ENOMEM;
    r->method = smneo__strdup(method);
    r->url = smneo__strdup(url);
    /* Split "scheme://host[:port]/path?query" into host and path. */
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    const char *slash = strchr(p, '/');
    r->host = slash ? smneo__strndup(p, (size_t)(slash - p)) : smneo__strdup(p);
    r->path = smneo__strdup(slash ? slash : "/");
    if (!r->method || !r->url || !r->host || !r->path) {
        smneo_request_free(r);
        return SMNEO_ENOMEM;
    }
    *out = r;
    return 0;
}

static void free_headers(smneo_header *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(h[i].name);
        smneo__free_secret(h[i].value); /* may hold a token or signature */
    }
    free(h);
}

void smneo_request_free(smneo_request *r)
{
    if (!r)
        return;
    free(r->method);
    free(r->url);
    free(r->host);
    free(r->path);
    free_headers(r->headers, r->header_count);
    free_body(r->body, r->body_len);
    free(r);
}

static int add_header(smneo_header **headers, size_t *count, const char *name, size_t nlen, const char *value,
                      size_t vlen)
{
    smneo_header *h = realloc(*headers, (*count + 1) * sizeof *h);
    if (!h)
        return SMNEO_ENOMEM;
    *headers = h;
    h[*count].name = smneo__strndup(name, nlen);
    h[*count].value = smneo__strndup(value, vlen);
    if (!h[*count].name || !h[*count].value) {
        free(h[*count].name);
        smneo__free_secret(h[*count].value);
        return SMNEO_ENOMEM;
    }
    (*count)++;
    return 0;
}

int smneo_request_add_header(smneo_request *r, const char *name, const char *value)
{
    if (!r || !name || !value)
        return SMNEO_EINVAL;
    return add_header(&r->headers, &r->header_count, name, strlen(name), value, strlen(value));
}

int smneo_request_set_header(smneo_request *r, const char *name, const char *value)
{
    if (!r || !name || !value)
        return SMNEO_EINVAL;
    for (size_t i = 0; i < r->header_count; i++) {
        if (!strcasecmp(r->headers[i].name, name)) {
            char *v = smneo__strdup(value);
            if (!v)
                return SMNEO_ENOMEM;
            smneo__free_secret(r->headers[i].value);
            r->headers[i].value = v;
            return 0;
        }
    }
    return smneo_request_add_header(r, name, value);
}

const char *smneo_request_header(const smneo_request *r, const char *name)
{
    if (!r || !name)
        return NULL;
    for (size_t i = 0; i < r->header_count; i++)
        if (!strcasecmp(r->headers[i].name, name))
            return r->headers[i].value;
    return NULL;
}

int smneo_request_set_body(smneo_request *r, const char *body, size_t len)
{
    if (!r || (!body && len))
        return SMNEO_EINVAL;
    char *b = malloc(len + 1);
    if (!b)
        return SMNEO_ENOMEM;
    if (len)
        memcpy(b, body, len);
    b[len] = '\0';
    free_body(r->body, r->body_len);
    r->body = b;
    r->body_len = len;
    return 0;
}

int smneo_request_clone(smneo_request **out, const smneo_request *src)
{
    if (!out || !src)
        return SMNEO_EINVAL;
    *out = NULL;
    smneo_request *r = calloc(1, sizeof *r);
    if (!r)
        return SMNEO_ENOMEM;
    r->method = smneo__strdup(src->method);
    r->url = smneo__strdup(src->url);
    r->host = smneo__strdup(src->host);
    r->path = smneo__strdup(src->path);
    int rc = (!r->method || !r->url || !r->host || !r->path) ? SMNEO_ENOMEM : 0;
    for (size_t i = 0; rc == 0 && i < src->header_count; i++)
        rc = smneo_request_add_header(r, src->headers[i].name, src->headers[i].value);
    if (rc == 0 && src->body)
        rc = smneo_request_set_body(r, src->body, src->body_len);
    if (rc) {
        smneo_request_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

int smneo_response_new(smneo_response **out, int status)
{
    if (!out)
        return SMNEO_EINVAL;
    *out = calloc(1, sizeof **out);
    if (!*out)
        return SMNEO_ENOMEM;
    (*out)->status = status;
    return 0;
}

void smneo_response_free(smneo_response *r)
{
    if (!r)
        return;
    free_headers(r->headers, r->header_count);
    free_body(r->body, r->body_len);
    free(r);
}

int smneo_response_add_header(smneo_response *r, const char *name, size_t nlen, const char *value, size_t vlen)
{
    if (!r || !name || !value)
        return SMNEO_EINVAL;
    return add_header(&r->headers, &r->header_count, name, nlen, value, vlen);
}

int smneo_response_append_body(smneo_response *r, const char *data, size_t len)
{
    if (!r || (!data && len))
        return SMNEO_EINVAL;
    if (len > SIZE_MAX - 1 - r->body_len)
        return SMNEO_ENOMEM;
    /* A new block, the old one wiped: realloc could leave it behind. */
    char *b = malloc(r->body_len + len + 1);
    if (!b)
        return SMNEO_ENOMEM;
    if (r->body_len)
        memcpy(b, r->body, r->body_len);
    if (len)
        memcpy(b + r->body_len, data, len);
    free_body(r->body, r->body_len);
    r->body = b;
    r->body_len += len;
    r->body[r->body_len] = '\0';
    return 0;
}

const char *smneo_response_header(const smneo_response *r, const char *name)
{
    if (!r || !name)
        return NULL;
    for (size_t i = 0; i < r->header_count; i++)
        if (!strcasecmp(r->headers[i].name, name))
            return r->headers[i].value;
    return NULL;
}
