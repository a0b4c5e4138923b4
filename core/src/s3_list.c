/* S3 ListObjectsV2 over a prefix, page by page (smneo_s3_list_*, smneo/s3.h).
 *
 * The page logic is sans-I/O: list_query() says what the next request asks
 * for (the prefix, the page size, the continuation token of the page before)
 * and list_feed() reads a page's XML into the listing (its keys, sizes and
 * ETags, IsTruncated and NextContinuationToken). smneo_s3_list_next() only
 * moves them through the S3 request layer (s3.c: signing, retries) when the
 * items of the page before are used up. Calls down into s3.c only. */
#include <stdlib.h>
#include <string.h>

#include "s3_internal.h"

typedef struct listed {
    char *key;
    char *etag;
    uint64_t size;
} listed;

struct smneo_s3_list {
    s3_target t;        /* the bucket: path "/" (or the bucket's path-style path) */
    char *prefix;
    unsigned page_size; /* max-keys; 0: S3's default (1000) */
    char *token;        /* NextContinuationToken of the page before, or NULL */
    int started, last;  /* a page was asked for; the last page was read */
    listed *items;
    size_t n, at;
    char *query;        /* the query of the request in flight (owned) */
};

static void clear_items(smneo_s3_list *it)
{
    for (size_t i = 0; i < it->n; i++) {
        free(it->items[i].key);
        free(it->items[i].etag);
    }
    free(it->items);
    it->items = NULL;
    it->n = it->at = 0;
}

void smneo_s3_list_free(smneo_s3_list *it)
{
    if (!it)
        return;
    clear_items(it);
    smneo__s3_target_clear(&it->t);
    free(it->prefix);
    free(it->token);
    free(it->query);
    free(it);
}

int smneo_s3_list_new(smneo_s3_list **out, smneo_client *c, const char *s3_uri, unsigned page_size,
                      smneo_error *err)
{
    if (!out)
        return smneo__error(err, SMNEO_EINVAL, "smneo_s3_list_new: out is NULL");
    *out = NULL;
    if (!s3_uri || strncmp(s3_uri, "s3://", 5) != 0 || !s3_uri[5] || s3_uri[5] == '/')
        return smneo__error(err, SMNEO_EINVAL, "\"%s\" is not an S3 prefix: give s3://BUCKET or s3://BUCKET/PREFIX",
                            s3_uri ? s3_uri : "(null)");
    if (page_size > 1000)
        return smneo__error(err, SMNEO_EINVAL, "page_size %u is above S3's 1000 keys a page: give 1 to 1000 (0: 1000)",
                            page_size);
    const char *b = s3_uri + 5, *slash = strchr(b, '/');
    size_t blen = slash ? (size_t)(slash - b) : strlen(b);
    smneo_s3_list *it = calloc(1, sizeof *it);
    char *bucket = it ? smneo__strndup(b, blen) : NULL;
    if (!it || !bucket || !(it->prefix = smneo__strdup(slash ? slash + 1 : ""))) {
        free(bucket);
        smneo_s3_list_free(it);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    it->page_size = page_size;
    int rc = smneo__s3_bucket_target_init(&it->t, c, bucket, err);
    free(bucket);
    if (rc) {
        smneo_s3_list_free(it);
        return rc;
    }
    /* the target's key names the request in messages ("... at s3://bucket/prefix"); its path is the bucket's */
    free(it->t.key);
    if (!(it->t.key = smneo__strdup(it->prefix))) {
        smneo_s3_list_free(it);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    *out = it;
    return 0;
}

/* ---- sans-I/O: the next page's query, a page's answer -------------------------- */

/* The query of the next page's request (encoded, sorted as SigV4 wants it). */
static char *list_query(const smneo_s3_list *it)
{
    smneo_buf q = SMNEO_BUF_INIT;
    if (it->token) {
        smneo__buf_puts(&q, "continuation-token=");
        smneo__s3_put_pct(&q, it->token, 0);
        smneo__buf_putc(&q, '&');
    }
    smneo__buf_puts(&q, "list-type=2");
    if (it->page_size) {
        char n[32];
        snprintf(n, sizeof n, "&max-keys=%u", it->page_size);
        smneo__buf_puts(&q, n);
    }
    smneo__buf_puts(&q, "&prefix=");
    smneo__s3_put_pct(&q, it->prefix, 0);
    return smneo__buf_detach(&q, NULL);
}

static const char *find_n(const char *s, const char *end, const char *what)
{
    size_t n = strlen(what);
    for (; s + n <= end; s++)
        if (!memcmp(s, what, n))
            return s;
    return NULL;
}

/* Reads one page: its <Contents> (Key, Size, ETag), IsTruncated and
 * NextContinuationToken. SMNEO_EPROTOCOL for a page that is not one. */
static int list_feed(smneo_s3_list *it, const char *body, size_t len, smneo_error *err)
{
    clear_items(it);
    const char *end = body + len;
    if (!find_n(body, end, "<ListBucketResult"))
        return smneo__error(err, SMNEO_EPROTOCOL, "S3 ListObjectsV2 for s3://%s/%s: the answer is not a "
                            "ListBucketResult", it->t.bucket, it->prefix);
    size_t cap = 0;
    for (const char *p = body; (p = find_n(p, end, "<Contents>")) != NULL;) {
        const char *close = find_n(p, end, "</Contents>");
        if (!close)
            return smneo__error(err, SMNEO_EPROTOCOL, "S3 ListObjectsV2: a <Contents> element is not closed");
        if (it->n == cap) {
            size_t ncap = cap ? 2 * cap : 16;
            listed *bigger = realloc(it->items, ncap * sizeof *bigger);
            if (!bigger)
                return smneo__error(err, SMNEO_ENOMEM, "out of memory");
            it->items = bigger;
            cap = ncap;
        }
        listed *l = &it->items[it->n];
        size_t clen = (size_t)(close - p);
        l->key = smneo__s3_xml_find(p, clen, "Key");
        l->etag = smneo__s3_xml_find(p, clen, "ETag");
        char *size = smneo__s3_xml_find(p, clen, "Size");
        char *e = NULL;
        l->size = size ? strtoull(size, &e, 10) : 0;
        int bad = !l->key || !size || !*size || *e;
        free(size);
        it->n++;
        if (bad)
            return smneo__error(err, SMNEO_EPROTOCOL, "S3 ListObjectsV2: a <Contents> element without a Key "
                                "or a valid Size");
        if (l->etag && l->etag[0] == '"') { /* as S3 returns it, quotes removed (smneo_s3_object) */
            size_t n = strlen(l->etag);
            memmove(l->etag, l->etag + 1, n);
            if (n >= 2 && l->etag[n - 2] == '"')
                l->etag[n - 2] = '\0';
        }
        p = close;
    }
    char *truncated = smneo__s3_xml_find(body, len, "IsTruncated");
    int more = truncated && !strcmp(truncated, "true");
    free(truncated);
    free(it->token);
    it->token = more ? smneo__s3_xml_find(body, len, "NextContinuationToken") : NULL;
    if (more && (!it->token || !*it->token))
        return smneo__error(err, SMNEO_EPROTOCOL, "S3 ListObjectsV2: a truncated page without a "
                            "NextContinuationToken");
    it->last = !more;
    return 0;
}

/* ---- the driver ------------------------------------------------------------------- */

int smneo_s3_list_next(smneo_s3_listed *out, smneo_s3_list *it, smneo_error *err)
{
    if (!out || !it)
        return smneo__error(err, SMNEO_EINVAL, "smneo_s3_list_next: out or the listing is NULL");
    memset(out, 0, sizeof *out);
    while (it->at == it->n) {
        if (it->started && it->last)
            return SMNEO_ITEROVER;
        it->started = 1;
        free(it->query);
        it->query = list_query(it);
        if (!it->query)
            return smneo__error(err, SMNEO_ENOMEM, "out of memory");
        s3_req r;
        memset(&r, 0, sizeof r);
        r.op = "ListObjectsV2";
        r.method = "GET";
        r.query = it->query;
        smneo_response *resp = NULL;
        int rc = smneo__s3_perform(&it->t, &r, &resp, err);
        if (rc) {
            it->last = 1;
            it->at = it->n;
            return rc;
        }
        rc = list_feed(it, resp->body ? resp->body : "", resp->body_len, err);
        smneo_response_free(resp);
        if (rc) {
            clear_items(it);
            it->last = 1;
            return rc;
        }
    }
    const listed *l = &it->items[it->at++];
    out->key = l->key;
    out->size = l->size;
    out->etag = l->etag;
    return 0;
}
