/* libFuzzer target for the SigV4 signer on hostile requests: URLs (path
 * normalisation, query canonicalisation, percent-encoding, IPv6 hosts),
 * header names and values (trimming, folding, duplicates), bodies, and
 * region/service strings, with every signing option.
 *
 * Input layout: byte 0 options bits; the rest is split at 0xff bytes into
 * URL, header lines ("name:value" separated by '\n'), body, region, service.
 * Checks: signing the same request twice gives the same Authorization;
 * smneo_sigv4_debug agrees with smneo_sigv4_sign; a signed request has
 * exactly one Authorization header. Build and run:
 * tests/fuzz/run_core.sh sigv4. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smneo/auth.h"
#include "smneo/http.h"

static const char *part(const char **p, const char *end, size_t *len)
{
    const char *s = *p;
    const char *sep = memchr(s, 0xff, (size_t)(end - s));
    const char *e = sep ? sep : end;
    *len = (size_t)(e - s);
    *p = sep ? sep + 1 : end;
    return s;
}

static char *cstr(const char *s, size_t n)
{
    char *c = malloc(n + 1);
    if (!c)
        abort();
    memcpy(c, s, n);
    c[n] = 0;
    return c;
}

static smneo_request *make(const char *url, const char *headers, const char *body, size_t blen)
{
    smneo_request *req = NULL;
    if (smneo_request_new(&req, "POST", url) != 0)
        return NULL;
    for (const char *line = headers; *line;) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        char *l = cstr(line, n);
        char *colon = strchr(l, ':');
        if (colon) {
            *colon = 0;
            if (*l)
                smneo_request_add_header(req, l, colon + 1);
        }
        free(l);
        line += n + (nl ? 1 : 0);
    }
    smneo_request_set_body(req, body, blen);
    return req;
}

static size_t count_header(const smneo_request *req, const char *name)
{
    size_t c = 0;
    for (size_t i = 0; i < req->header_count; i++)
        if (!strcasecmp(req->headers[i].name, name))
            c++;
    return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t bits = data[0];
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    size_t ul, hl, bl, rl, sl;
    const char *u = part(&p, end, &ul), *h = part(&p, end, &hl), *b = part(&p, end, &bl);
    const char *r = part(&p, end, &rl), *s = part(&p, end, &sl);
    char *url = cstr(u, ul), *hdrs = cstr(h, hl), *body = cstr(b, bl), *region = cstr(r, rl),
         *service = cstr(s, sl);

    smneo_credentials creds = {0};
    creds.access_key_id = "AKIDEXAMPLE";
    creds.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    creds.session_token = (bits & 1) ? "session-token" : NULL;
    smneo_sigv4_options o = SMNEO_SIGV4_OPTIONS_INIT;
    o.region = rl ? region : "us-east-1";
    o.service = sl ? service : ((bits & 2) ? "s3" : "sagemaker");
    o.timestamp = (bits & 4) ? 1440938160 : 253402300799LL;
    o.no_normalize_path = !((bits >> 3) & 1);
    o.sign_body_header = (bits >> 4) & 1;
    o.omit_session_token = (bits >> 5) & 1;
    o.payload_hash = (bits & 0x40) ? "UNSIGNED-PAYLOAD" : NULL;

    smneo_request *a = make(url, hdrs, body, bl);
    smneo_request *c = make(url, hdrs, body, bl);
    if (a && c) {
        smneo_error err = SMNEO_ERROR_INIT;
        char *auth = NULL;
        int rd = smneo_sigv4_debug(NULL, NULL, &auth, c, &creds, &o, &err);
        smneo_error_clear(&err);
        int ra = smneo_sigv4_sign(a, &creds, &o, &err);
        int rc = smneo_sigv4_sign(c, &creds, &o, NULL);
        if (ra != rc || (ra == 0) != (rd == 0))
            abort(); /* same input, same outcome */
        if (ra == 0) {
            if (count_header(a, "Authorization") != 1)
                abort();
            const char *x = smneo_request_header(a, "Authorization"), *y = smneo_request_header(c, "Authorization");
            if (!x || !y || strcmp(x, y) != 0 || !auth || strcmp(auth, x) != 0)
                abort(); /* deterministic, and debug agrees with sign */
        } else if (!err.message || err.code != ra) {
            abort();
        }
        free(auth);
        smneo_error_clear(&err);
    }
    smneo_request_free(a);
    smneo_request_free(c);
    free(url);
    free(hdrs);
    free(body);
    free(region);
    free(service);
    return 0;
}
