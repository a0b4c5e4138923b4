/* The AWS Query protocol (STS): parameters form-encoded into a POST body,
 * answers and errors in XML. Model-driven as botocore's QuerySerializer and
 * QueryParser: member names from the model (locationName), lists as
 * Name.member.N (Name.N when flattened), maps as Name.entry.N.key/value,
 * booleans "true"/"false", timestamps ISO 8601. No I/O. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "crypto.h"
#include "internal.h"
#include "protocol_internal.h"
#include "value_internal.h"

/* ---- form encoding ------------------------------------------------------- */

/* RFC 3986 percent-encoding with only the unreserved characters kept, as
 * botocore's percent_encode (quote with safe "-_.~"); plus: a space is '+'. */
static int escape(smneo_buf *b, const char *s, size_t n, int plus)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (plus && c == ' ') {
            smneo__buf_putc(b, '+');
        } else if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            smneo__buf_putc(b, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            smneo__buf_append(b, e, 3);
        }
    }
    return b->failed ? SMNEO_ENOMEM : 0;
}

int smneo__form_escape(smneo_buf *b, const char *s, size_t n) { return escape(b, s, n, 0); }

/* A form body pair as botocore's urlencode writes it (quote_plus: a space
 * is '+'). */
static void form_pair(smneo_buf *b, const char *key, const char *value)
{
    if (b->len)
        smneo__buf_putc(b, '&');
    escape(b, key, strlen(key), 1);
    smneo__buf_putc(b, '=');
    escape(b, value, strlen(value), 1);
}

/* A scalar's text on the wire; NULL when n is not of the shape's type
 * (only with validation off: the value is then sent as JSON text). */
static char *scalar_text(const cJSON *n, const smneo_shape *shape)
{
    switch (shape->type) {
    case SMNEO_SHAPE_BOOLEAN:
        if (cJSON_IsBool(n))
            return smneo__strdup(cJSON_IsTrue(n) ? "true" : "false");
        break;
    case SMNEO_SHAPE_INTEGER:
    case SMNEO_SHAPE_LONG:
        if (cJSON_IsNumber(n) && n->valuedouble == floor(n->valuedouble) && fabs(n->valuedouble) < 9.2e18)
            return smneo__aprintf("%lld", (long long)n->valuedouble);
        break;
    case SMNEO_SHAPE_DOUBLE:
    case SMNEO_SHAPE_FLOAT:
        if (cJSON_IsNumber(n))
            return smneo__aprintf("%.17g", n->valuedouble);
        break;
    case SMNEO_SHAPE_TIMESTAMP: {
        double t;
        if (cJSON_IsNumber(n))
            t = n->valuedouble;
        else if (!cJSON_IsString(n) || (smneo__parse_iso8601(n->valuestring, &t) != 0 &&
                                        smneo__parse_epoch_text(n->valuestring, &t) != 0))
            break;
        if (!(fabs(t) < 2.5e11))
            break;
        time_t secs = (time_t)floor(t);
        struct tm tm;
        gmtime_r(&secs, &tm);
        int micro = (int)llround((t - floor(t)) * 1e6);
        if (micro >= 1000000)
            micro = 999999;
        /* botocore: fractional seconds only when there are some. */
        if (micro)
            return smneo__aprintf("%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, micro);
        return smneo__aprintf("%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                              tm.tm_hour, tm.tm_min, tm.tm_sec);
    }
    default:
        if (cJSON_IsString(n))
            return smneo__strdup(n->valuestring);
        break;
    }
    return cJSON_PrintUnformatted(n);
}

static int query_value(smneo_buf *b, const char *prefix, const cJSON *n, const smneo_shape *shape, int depth);

static int query_struct(smneo_buf *b, const char *prefix, const cJSON *n, const smneo_shape *shape, int depth)
{
    /* In the caller's order, as botocore walks the parameters dict. */
    for (const cJSON *item = n->child; item; item = item->next) {
        const smneo_member *m = smneo_shape_member(shape, item->string);
        if (!m || cJSON_IsNull(item))
            continue; /* unknown members were refused by validation (or are dropped with it off) */
        const char *wire = m->location_name ? m->location_name : m->name;
        char *key = *prefix ? smneo__aprintf("%s.%s", prefix, wire) : smneo__strdup(wire);
        if (!key)
            return SMNEO_ENOMEM;
        int rc = query_value(b, key, item, m->shape, depth + 1);
        free(key);
        if (rc)
            return rc;
    }
    return 0;
}

static int query_value(smneo_buf *b, const char *prefix, const cJSON *n, const smneo_shape *shape, int depth)
{
    if (depth > 64)
        return SMNEO_EINVAL;
    if (shape->type == SMNEO_SHAPE_STRUCTURE && cJSON_IsObject(n))
        return query_struct(b, prefix, n, shape, depth);
    if (shape->type == SMNEO_SHAPE_LIST && cJSON_IsArray(n)) {
        if (!n->child) {
            form_pair(b, prefix, ""); /* an empty list is sent as "Name=" */
            return b->failed ? SMNEO_ENOMEM : 0;
        }
        int i = 1;
        for (const cJSON *ch = n->child; ch; ch = ch->next, i++) {
            char *key = smneo__aprintf("%s.member.%d", prefix, i);
            if (!key)
                return SMNEO_ENOMEM;
            int rc = query_value(b, key, ch, shape->member, depth + 1);
            free(key);
            if (rc)
                return rc;
        }
        return 0;
    }
    if (shape->type == SMNEO_SHAPE_MAP && cJSON_IsObject(n)) {
        int i = 1;
        for (const cJSON *ch = n->child; ch; ch = ch->next, i++) {
            char *kk = smneo__aprintf("%s.entry.%d.key", prefix, i);
            char *vk = smneo__aprintf("%s.entry.%d.value", prefix, i);
            int rc = kk && vk ? 0 : SMNEO_ENOMEM;
            if (!rc) {
                form_pair(b, kk, ch->string);
                rc = query_value(b, vk, ch, shape->value, depth + 1);
            }
            free(kk);
            free(vk);
            if (rc)
                return rc;
        }
        return 0;
    }
    char *text = scalar_text(n, shape);
    if (!text)
        return SMNEO_ENOMEM;
    form_pair(b, prefix, text);
    if (shape->sensitive)
        smneo__free_secret(text);
    else
        free(text);
    return b->failed ? SMNEO_ENOMEM : 0;
}

int smneo__query_serialize(char **out, size_t *out_len, const smneo_operation *op, const cJSON *params)
{
    /* The body may carry a token (WebIdentityToken, TokenCode): wiped. */
    smneo_buf b = SMNEO_BUF_SECRET_INIT;
    form_pair(&b, "Action", op->name);
    form_pair(&b, "Version", op->service->api_version);
    int rc = cJSON_IsObject(params) ? query_struct(&b, "", params, op->input, 0) : 0;
    if (rc) {
        smneo__buf_free(&b);
        return rc;
    }
    smneo__buf_grow(&b, 0);
    *out = smneo__buf_detach(&b, out_len);
    return *out ? 0 : SMNEO_ENOMEM;
}

/* ---- a small XML reader -------------------------------------------------- */

/* Elements with their local name (namespace prefix dropped), their text and
 * their children; attributes, comments, processing instructions and the
 * doctype are skipped. Enough for the Query protocol's documents; anything
 * malformed is refused (NULL). Text is wiped when the tree is freed (it
 * holds credentials). */
struct smneo_xml {
    char *name;
    char *text;
    size_t text_len;
    smneo_xml *child, *next;
};

void smneo__xml_free(smneo_xml *x)
{
    while (x) {
        smneo_xml *next = x->next;
        smneo__xml_free(x->child);
        free(x->name);
        if (x->text) {
            smneo__wipe(x->text, x->text_len);
            free(x->text);
        }
        free(x);
        x = next;
    }
}

typedef struct xml_reader {
    const char *p, *end;
} xml_reader;

static int starts(const xml_reader *r, const char *s)
{
    size_t n = strlen(s);
    return (size_t)(r->end - r->p) >= n && !memcmp(r->p, s, n);
}

/* Skips past the first occurrence of s; 0, or -1 when it is absent. */
static int skip_past(xml_reader *r, const char *s)
{
    size_t n = strlen(s);
    for (const char *q = r->p; (size_t)(r->end - q) >= n; q++)
        if (!memcmp(q, s, n)) {
            r->p = q + n;
            return 0;
        }
    return -1;
}

static void skip_space(xml_reader *r)
{
    while (r->p < r->end && isspace((unsigned char)*r->p))
        r->p++;
}

/* Comments, processing instructions, the doctype: skipped. 1 when one was. */
static int skip_misc(xml_reader *r, int *bad)
{
    if (starts(r, "<!--"))
        return skip_past(r, "-->") ? (*bad = 1, 0) : 1;
    if (starts(r, "<?"))
        return skip_past(r, "?>") ? (*bad = 1, 0) : 1;
    if (starts(r, "<!DOCTYPE"))
        return skip_past(r, ">") ? (*bad = 1, 0) : 1; /* no internal subset in these answers */
    return 0;
}

static int name_char(char c) { return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.' || c == ':'; }

/* Decodes one entity at r->p ('&') into b. */
static int entity(xml_reader *r, smneo_buf *b)
{
    const char *semi = memchr(r->p, ';', (size_t)(r->end - r->p) < 12 ? (size_t)(r->end - r->p) : 12);
    if (!semi)
        return -1;
    const char *e = r->p + 1;
    size_t n = (size_t)(semi - e);
    static const struct {
        const char *name;
        char c;
    } named[] = {{"lt", '<'}, {"gt", '>'}, {"amp", '&'}, {"quot", '"'}, {"apos", '\''}};
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
        if (n == strlen(named[i].name) && !memcmp(e, named[i].name, n)) {
            smneo__buf_putc(b, named[i].c);
            r->p = semi + 1;
            return 0;
        }
    if (n < 2 || *e != '#')
        return -1;
    unsigned long cp = 0;
    int hexa = e[1] == 'x' || e[1] == 'X';
    const char *d = e + 1 + hexa;
    if (d == semi)
        return -1;
    for (; d < semi; d++) {
        int v = hexa ? smneo__hexval(*d) : (isdigit((unsigned char)*d) ? *d - '0' : -1);
        if (v < 0 || cp > 0x10FFFF)
            return -1;
        cp = cp * (hexa ? 16 : 10) + (unsigned long)v;
    }
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return -1;
    char u[4];
    size_t k;
    if (cp < 0x80) {
        u[0] = (char)cp;
        k = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        k = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        k = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        k = 4;
    }
    smneo__buf_append(b, u, k);
    r->p = semi + 1;
    return 0;
}

/* Reads one element at r->p ('<'). */
static smneo_xml *element(xml_reader *r, int depth)
{
    if (depth > 64 || r->p >= r->end || *r->p != '<')
        return NULL;
    r->p++;
    const char *ns = r->p;
    while (r->p < r->end && name_char(*r->p))
        r->p++;
    if (r->p == ns)
        return NULL;
    const char *colon = memchr(ns, ':', (size_t)(r->p - ns));
    const char *local = colon ? colon + 1 : ns;
    smneo_xml *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->name = smneo__strndup(local, (size_t)(r->p - local));
    size_t full_len = (size_t)(r->p - ns);
    /* attributes: name="value" or name='value', skipped */
    for (;;) {
        skip_space(r);
        if (r->p >= r->end || !x->name)
            goto bad;
        if (*r->p == '/' || *r->p == '>')
            break;
        while (r->p < r->end && name_char(*r->p))
            r->p++;
        skip_space(r);
        if (r->p >= r->end || *r->p != '=')
            goto bad;
        r->p++;
        skip_space(r);
        if (r->p >= r->end || (*r->p != '"' && *r->p != '\''))
            goto bad;
        const char *q = memchr(r->p + 1, *r->p, (size_t)(r->end - r->p - 1));
        if (!q)
            goto bad;
        r->p = q + 1;
    }
    if (*r->p == '/') {
        if (r->end - r->p < 2 || r->p[1] != '>')
            goto bad;
        r->p += 2;
        return x;
    }
    r->p++; /* '>' */
    smneo_buf text = SMNEO_BUF_SECRET_INIT;
    smneo_xml **tail = &x->child;
    for (;;) {
        if (r->p >= r->end)
            goto bad_text;
        if (*r->p == '<') {
            int misc_bad = 0;
            if (skip_misc(r, &misc_bad))
                continue;
            if (misc_bad)
                goto bad_text;
            if (starts(r, "<![CDATA[")) {
                const char *start = r->p + 9;
                r->p = start;
                if (skip_past(r, "]]>"))
                    goto bad_text;
                smneo__buf_append(&text, start, (size_t)(r->p - 3 - start));
                continue;
            }
            if (starts(r, "</")) {
                r->p += 2;
                if ((size_t)(r->end - r->p) < full_len || memcmp(r->p, ns, full_len))
                    goto bad_text;
                r->p += full_len;
                skip_space(r);
                if (r->p >= r->end || *r->p != '>')
                    goto bad_text;
                r->p++;
                break;
            }
            smneo_xml *c = element(r, depth + 1);
            if (!c)
                goto bad_text;
            *tail = c;
            tail = &c->next;
            continue;
        }
        if (*r->p == '&') {
            if (entity(r, &text))
                goto bad_text;
            continue;
        }
        smneo__buf_putc(&text, *r->p++);
    }
    if (text.failed)
        goto bad_text;
    smneo__buf_grow(&text, 0);
    x->text = smneo__buf_detach(&text, &x->text_len);
    if (!x->text)
        goto bad;
    return x;
bad_text:
    smneo__buf_free(&text);
bad:
    smneo__xml_free(x);
    return NULL;
}

smneo_xml *smneo__xml_parse(const char *body, size_t len)
{
    if (!body)
        return NULL;
    xml_reader r = {body, body + len};
    /* A UTF-8 byte order mark may start the document. */
    if (len >= 3 && !memcmp(body, "\xEF\xBB\xBF", 3))
        r.p += 3;
    int bad = 0;
    for (;;) {
        skip_space(&r);
        if (!skip_misc(&r, &bad))
            break;
    }
    if (bad || r.p >= r.end || memchr(body, '\0', len))
        return NULL;
    smneo_xml *root = element(&r, 0);
    if (!root)
        return NULL;
    for (;;) {
        skip_space(&r);
        if (r.p >= r.end)
            return root;
        if (!skip_misc(&r, &bad) || bad)
            break;
    }
    smneo__xml_free(root); /* text after the document element */
    return NULL;
}

const smneo_xml *smneo__xml_child(const smneo_xml *x, const char *name)
{
    for (const smneo_xml *c = x ? x->child : NULL; c; c = c->next)
        if (!strcmp(c->name, name))
            return c;
    return NULL;
}

const char *smneo__xml_text(const smneo_xml *x) { return x && x->text ? x->text : ""; }
const char *smneo__xml_name(const smneo_xml *x) { return x ? x->name : NULL; }

/* ---- XML to the output shape's JSON tree --------------------------------- */

static cJSON *xml_value(const smneo_xml *x, const smneo_shape *shape, int depth);

static cJSON *xml_struct(const smneo_xml *x, const smneo_shape *shape, int depth)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    for (size_t i = 0; i < shape->member_count; i++) {
        const smneo_member *m = &shape->members[i];
        const char *wire = m->location_name ? m->location_name : m->name;
        const smneo_xml *c = smneo__xml_child(x, wire);
        if (!c)
            continue;
        cJSON *v = xml_value(c, m->shape, depth + 1);
        if (!v || !cJSON_AddItemToObject(o, m->name, v)) {
            cJSON_Delete(v);
            smneo__json_wipe_delete(o);
            return NULL;
        }
    }
    return o;
}

static cJSON *xml_value(const smneo_xml *x, const smneo_shape *shape, int depth)
{
    if (depth > 64)
        return NULL;
    const char *t = smneo__xml_text(x);
    switch (shape->type) {
    case SMNEO_SHAPE_STRUCTURE:
        return xml_struct(x, shape, depth);
    case SMNEO_SHAPE_LIST: {
        cJSON *a = cJSON_CreateArray();
        for (const smneo_xml *c = x->child; a && c; c = c->next) {
            if (strcmp(c->name, "member") != 0)
                continue;
            cJSON *v = xml_value(c, shape->member, depth + 1);
            if (!v || !cJSON_AddItemToArray(a, v)) {
                cJSON_Delete(v);
                smneo__json_wipe_delete(a);
                return NULL;
            }
        }
        return a;
    }
    case SMNEO_SHAPE_MAP: {
        cJSON *o = cJSON_CreateObject();
        for (const smneo_xml *c = x->child; o && c; c = c->next) {
            if (strcmp(c->name, "entry") != 0)
                continue;
            const smneo_xml *k = smneo__xml_child(c, "key"), *v = smneo__xml_child(c, "value");
            if (!k || !v)
                continue;
            cJSON *val = xml_value(v, shape->value, depth + 1);
            if (!val || !cJSON_AddItemToObject(o, smneo__xml_text(k), val)) {
                cJSON_Delete(val);
                smneo__json_wipe_delete(o);
                return NULL;
            }
        }
        return o;
    }
    case SMNEO_SHAPE_BOOLEAN:
        return cJSON_CreateBool(!strcmp(t, "true"));
    case SMNEO_SHAPE_INTEGER:
    case SMNEO_SHAPE_LONG:
    case SMNEO_SHAPE_DOUBLE:
    case SMNEO_SHAPE_FLOAT: {
        char *end;
        double d = strtod(t, &end);
        if (end == t)
            return cJSON_CreateString(t); /* not a number: kept as text */
        return cJSON_CreateNumber(d);
    }
    case SMNEO_SHAPE_TIMESTAMP: {
        double d;
        if (smneo__parse_iso8601(t, &d) == 0 || smneo__parse_epoch_text(t, &d) == 0)
            return cJSON_CreateNumber(d);
        return cJSON_CreateString(t);
    }
    default:
        return cJSON_CreateString(t);
    }
}

int smneo__query_parse_body(cJSON **out, const smneo_operation *op, const char *body, size_t len)
{
    *out = NULL;
    smneo_xml *doc = smneo__xml_parse(body, len);
    if (!doc)
        return SMNEO_EPROTOCOL;
    int rc = 0;
    if (!op->output) {
        *out = cJSON_CreateObject();
    } else {
        /* <OpResponse><OpResult>...</OpResult><ResponseMetadata/></OpResponse> */
        const smneo_xml *res = op->result_wrapper ? smneo__xml_child(doc, op->result_wrapper) : doc;
        if (!res)
            *out = cJSON_CreateObject(); /* nothing came back: an empty result, as botocore */
        else
            *out = xml_value(res, op->output, 0);
    }
    if (!*out)
        rc = SMNEO_ENOMEM;
    smneo__xml_free(doc);
    return rc;
}

int smneo__query_parse_error(char **code, char **message, char **request_id, const char *body, size_t len)
{
    *code = *message = *request_id = NULL;
    smneo_xml *doc = smneo__xml_parse(body, len);
    if (!doc)
        return -1;
    /* <ErrorResponse><Error><Code/><Message/></Error><RequestId/></ErrorResponse>,
     * or <Response><Errors><Error>... (the EC2 spelling). */
    const smneo_xml *e = smneo__xml_child(doc, "Error");
    if (!e)
        e = smneo__xml_child(smneo__xml_child(doc, "Errors"), "Error");
    if (!e && !strcmp(doc->name, "Error"))
        e = doc;
    const smneo_xml *c = smneo__xml_child(e, "Code"), *m = smneo__xml_child(e, "Message");
    const smneo_xml *id = smneo__xml_child(doc, "RequestId");
    if (!id)
        id = smneo__xml_child(doc, "RequestID");
    if (c && *smneo__xml_text(c))
        *code = smneo__strdup(smneo__xml_text(c));
    if (m)
        *message = smneo__strdup(smneo__xml_text(m));
    if (id && *smneo__xml_text(id))
        *request_id = smneo__strdup(smneo__xml_text(id));
    smneo__xml_free(doc);
    return e ? 0 : -1;
}
