/* REST-JSON (the SSO portal, SSO-OIDC): the operation's method and URI
 * template, members located in URI labels, the query string and headers,
 * the rest as a JSON body; answers as JSON plus located headers. Model-driven
 * as botocore's RestJSONSerializer and parser. No I/O. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "crypto.h"
#include "internal.h"
#include "protocol_internal.h"
#include "smneo/log.h"

/* A scalar parameter as text (labels, query string, headers). */
static char *rest_text(const cJSON *n)
{
    if (cJSON_IsString(n))
        return smneo__strdup(n->valuestring);
    if (cJSON_IsBool(n))
        return smneo__strdup(cJSON_IsTrue(n) ? "true" : "false");
    if (cJSON_IsNumber(n) && n->valuedouble == floor(n->valuedouble) && fabs(n->valuedouble) < 9.2e18)
        return smneo__aprintf("%lld", (long long)n->valuedouble);
    return cJSON_PrintUnformatted(n);
}

/* Percent-encodes a label; a greedy label ({Name+}) keeps its '/'. */
static void label_escape(smneo_buf *b, const char *s, int greedy)
{
    for (const char *p = s; *p; p++) {
        if (greedy && *p == '/')
            smneo__buf_putc(b, '/');
        else
            smneo__form_escape(b, p, 1);
    }
}

int smneo__rest_build(smneo_request **out, const smneo_operation *op, const cJSON *params, const char *endpoint_url,
                      smneo_error *err)
{
    *out = NULL;
    const smneo_shape *in = op->input;
    smneo_buf url = SMNEO_BUF_SECRET_INIT; /* a label or query value may be secret */
    size_t n = strlen(endpoint_url);
    while (n && endpoint_url[n - 1] == '/')
        n--;
    smneo__buf_append(&url, endpoint_url, n);
    const char *tmpl = op->request_uri && *op->request_uri ? op->request_uri : "/";
    const char *q = strchr(tmpl, '?');
    const char *tend = q ? q : tmpl + strlen(tmpl);
    for (const char *p = tmpl; p < tend;) {
        if (*p != '{') {
            smneo__buf_putc(&url, *p++);
            continue;
        }
        const char *close = memchr(p, '}', (size_t)(tend - p));
        if (!close) {
            smneo__buf_free(&url);
            return smneo__error(err, SMNEO_EPROTOCOL, "%s: bad URI template %s", op->name, tmpl);
        }
        int greedy = close[-1] == '+';
        char *label = smneo__strndup(p + 1, (size_t)(close - p - 1 - greedy));
        const cJSON *v = NULL;
        for (size_t i = 0; label && i < in->member_count; i++) {
            const smneo_member *m = &in->members[i];
            if (m->location == SMNEO_LOCATION_URI && !strcmp(m->location_name ? m->location_name : m->name, label))
                v = cJSON_GetObjectItemCaseSensitive(params, m->name);
        }
        char *text = v ? rest_text(v) : NULL;
        if (!text || !*text) {
            int rc = smneo__error(err, SMNEO_EVALIDATION, "%s: the URI label {%s} has no value", op->name,
                                  label ? label : "?");
            free(label);
            free(text);
            smneo__buf_free(&url);
            return rc;
        }
        label_escape(&url, text, greedy);
        free(label);
        smneo__free_secret(text);
        p = close + 1;
    }
    /* The template's own query (e.g. "?tagging"), then located members. */
    int first = 1;
    if (q && q[1]) {
        smneo__buf_puts(&url, q);
        first = 0;
    }
    for (size_t i = 0; i < in->member_count; i++) {
        const smneo_member *m = &in->members[i];
        if (m->location != SMNEO_LOCATION_QUERYSTRING)
            continue;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, m->name);
        if (!v || cJSON_IsNull(v))
            continue;
        const char *key = m->location_name ? m->location_name : m->name;
        const cJSON *item = cJSON_IsArray(v) ? v->child : v;
        for (; item; item = cJSON_IsArray(v) ? item->next : NULL) {
            char *text = rest_text(item);
            if (!text) {
                smneo__buf_free(&url);
                return smneo__error(err, SMNEO_ENOMEM, "out of memory");
            }
            smneo__buf_putc(&url, first ? '?' : '&');
            first = 0;
            smneo__form_escape(&url, key, strlen(key));
            smneo__buf_putc(&url, '=');
            smneo__form_escape(&url, text, strlen(text));
            smneo__free_secret(text);
        }
    }
    if (url.failed) {
        smneo__buf_free(&url);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    smneo_request *req = NULL;
    int rc = smneo_request_new(&req, op->http_method ? op->http_method : "POST", url.data);
    smneo__buf_free(&url);
    if (rc == SMNEO_EINVAL)
        return smneo__error(err, rc, "invalid endpoint URL: it contains a control character (e.g. a line break)");
    if (rc)
        return smneo__error(err, rc, "invalid endpoint URL");
    for (size_t i = 0; rc == 0 && i < in->member_count; i++) {
        const smneo_member *m = &in->members[i];
        if (m->location != SMNEO_LOCATION_HEADER)
            continue;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, m->name);
        if (!v || cJSON_IsNull(v))
            continue;
        char *text = rest_text(v);
        if (!text)
            rc = SMNEO_ENOMEM;
        else if (strpbrk(text, "\r\n"))
            rc = smneo__error(err, SMNEO_EVALIDATION, "%s: %s contains a line break, which a header cannot hold",
                              op->name, m->name);
        else
            rc = smneo_request_add_header(req, m->location_name ? m->location_name : m->name, text);
        smneo__free_secret(text);
    }
    if (rc) {
        smneo_request_free(req);
        return rc == SMNEO_EVALIDATION ? rc : smneo__error(err, rc, "out of memory");
    }
    *out = req;
    return 0;
}

int smneo__rest_parse_headers(cJSON *root, const smneo_operation *op, const smneo_response *resp)
{
    const smneo_shape *o = op->output;
    for (size_t i = 0; o && i < o->member_count; i++) {
        const smneo_member *m = &o->members[i];
        cJSON *v = NULL;
        if (m->location == SMNEO_LOCATION_HEADER) {
            const char *h = smneo_response_header(resp, m->location_name ? m->location_name : m->name);
            if (!h)
                continue;
            if (m->shape->type == SMNEO_SHAPE_INTEGER || m->shape->type == SMNEO_SHAPE_LONG)
                v = cJSON_CreateNumber(strtod(h, NULL));
            else if (m->shape->type == SMNEO_SHAPE_BOOLEAN)
                v = cJSON_CreateBool(!strcasecmp(h, "true"));
            else
                v = cJSON_CreateString(h);
        } else if (m->location == SMNEO_LOCATION_STATUS_CODE) {
            v = cJSON_CreateNumber(resp->status);
        } else {
            continue;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(root, m->name);
        if (!v || !cJSON_AddItemToObject(root, m->name, v)) {
            cJSON_Delete(v);
            return SMNEO_ENOMEM;
        }
    }
    return 0;
}
