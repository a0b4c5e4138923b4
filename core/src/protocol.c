/* Build signed requests and parse responses, for the protocol of the
 * operation's service (op->service): AWS JSON 1.0/1.1 here, AWS Query in
 * protocol_query.c, REST-JSON in protocol_rest.c. Operations the model marks
 * unauthenticated (smithy.api#noAuth) are sent unsigned, as botocore does.
 * No I/O. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "crypto.h"
#include "internal.h"
#include "options_internal.h"
#include "protocol_internal.h"
#include "smneo/log.h"
#include "smneo/validate.h"
#include "validate_internal.h"
#include "value_internal.h"

struct smneo_result {
    smneo_issues *issues; /* validation issues that did not stop the request */
    cJSON *root;
    const smneo_shape *shape;
    smneo_response *response;
    const char *request_id; /* borrowed from response headers */
    int attempts;
    int secret; /* the output holds sensitive members: wiped when freed */
};

static void json_wipe(cJSON *j)
{
    for (cJSON *c = j; c; c = c->next) {
        if (c->valuestring)
            smneo__wipe(c->valuestring, strlen(c->valuestring));
        json_wipe(c->child);
    }
}

void smneo__json_wipe_delete(cJSON *j)
{
    json_wipe(j);
    cJSON_Delete(j);
}

/* Does a shape reach a sensitive one (a token, a secret key)? */
static int shape_secret_walk(const smneo_shape *s, int depth)
{
    if (!s || depth > 32)
        return 0;
    if (s->sensitive)
        return 1;
    for (size_t i = 0; i < s->member_count; i++)
        if (shape_secret_walk(s->members[i].shape, depth + 1))
            return 1;
    return shape_secret_walk(s->member, depth + 1) || shape_secret_walk(s->value, depth + 1);
}

/* The same, remembered per thread for the last few top-level shapes (the
 * tables are constant; a call asks for its input's and its output's). */
static int shape_secret(const smneo_shape *s)
{
    enum { SLOTS = 4 };
    static _Thread_local const smneo_shape *seen[SLOTS];
    static _Thread_local int answer[SLOTS];
    static _Thread_local unsigned next;
    if (!s)
        return 0;
    for (unsigned i = 0; i < SLOTS; i++)
        if (seen[i] == s)
            return answer[i];
    int secret = shape_secret_walk(s, 0);
    unsigned i = next++ % SLOTS;
    seen[i] = s;
    answer[i] = secret;
    return secret;
}

/* ---- serialization ------------------------------------------------------ */

static int write_value(smneo_buf *b, const cJSON *n, const smneo_shape *shape);

static int write_raw(smneo_buf *b, const cJSON *n)
{
    char *s = cJSON_PrintUnformatted(n);
    if (!s)
        return SMNEO_ENOMEM;
    int rc = smneo__buf_puts(b, s);
    cJSON_free(s);
    return rc;
}

static int write_struct(smneo_buf *b, const cJSON *n, const smneo_shape *shape)
{
    int first = 1;
    smneo__buf_putc(b, '{');
    for (size_t i = 0; i < shape->member_count; i++) {
        const smneo_member *m = &shape->members[i];
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(n, m->name);
        if (!item || cJSON_IsNull(item) || m->location != SMNEO_LOCATION_BODY)
            continue; /* absent and null members are not sent; REST's located ones travel elsewhere */
        if (!first)
            smneo__buf_putc(b, ',');
        first = 0;
        smneo__json_escape(b, m->name, strlen(m->name));
        smneo__buf_putc(b, ':');
        int rc = write_value(b, item, m->shape);
        if (rc)
            return rc;
    }
    /* Members the shape does not know are not sent (validation reports them). */
    return smneo__buf_putc(b, '}');
}

static int write_value(smneo_buf *b, const cJSON *n, const smneo_shape *shape)
{
    switch (shape->type) {
    case SMNEO_SHAPE_STRUCTURE:
        if (cJSON_IsObject(n))
            return write_struct(b, n, shape);
        break;
    case SMNEO_SHAPE_LIST:
        if (cJSON_IsArray(n)) {
            smneo__buf_putc(b, '[');
            for (const cJSON *ch = n->child; ch; ch = ch->next) {
                if (ch != n->child)
                    smneo__buf_putc(b, ',');
                int rc = write_value(b, ch, shape->member);
                if (rc)
                    return rc;
            }
            return smneo__buf_putc(b, ']');
        }
        break;
    case SMNEO_SHAPE_MAP:
        if (cJSON_IsObject(n)) {
            smneo__buf_putc(b, '{');
            for (const cJSON *ch = n->child; ch; ch = ch->next) {
                if (ch != n->child)
                    smneo__buf_putc(b, ',');
                smneo__json_escape(b, ch->string, strlen(ch->string));
                smneo__buf_putc(b, ':');
                int rc = write_value(b, ch, shape->value);
                if (rc)
                    return rc;
            }
            return smneo__buf_putc(b, '}');
        }
        break;
    case SMNEO_SHAPE_TIMESTAMP: {
        /* As botocore: integer epoch seconds (fraction dropped). */
        /* Out of the int64 range (1e400 reads as inf), NaN: sent as given,
         * never cast (undefined behaviour); validation refuses these. */
        double t;
        if (cJSON_IsNumber(n) && fabs(n->valuedouble) < 9.2e18)
            return smneo__buf_printf(b, "%lld", (long long)floor(n->valuedouble));
        if (cJSON_IsString(n) &&
            (smneo__parse_iso8601(n->valuestring, &t) == 0 || smneo__parse_epoch_text(n->valuestring, &t) == 0) &&
            fabs(t) < 9.2e18)
            return smneo__buf_printf(b, "%lld", (long long)floor(t));
        break;
    }
    case SMNEO_SHAPE_INTEGER:
    case SMNEO_SHAPE_LONG:
        if (cJSON_IsNumber(n) && n->valuedouble == floor(n->valuedouble) && fabs(n->valuedouble) < 9.2e18)
            return smneo__buf_printf(b, "%lld", (long long)n->valuedouble);
        break;
    case SMNEO_SHAPE_STRING:
        if (cJSON_IsString(n))
            return smneo__json_escape(b, n->valuestring, strlen(n->valuestring));
        break;
    default:
        break;
    }
    /* A value of the wrong type (only possible with validation off) is sent
     * as given: the service decides. */
    return write_raw(b, n);
}

int smneo__parse_params(cJSON **out, const char *params_json, size_t len, smneo_error *err)
{
    *out = NULL;
    if (!params_json || len == 0) {
        *out = cJSON_CreateObject();
        return *out ? 0 : SMNEO_ENOMEM;
    }
    long nul = smneo__json_find_nul(params_json, len);
    if (nul >= 0)
        return smneo__error(err, SMNEO_EINVAL,
                            "parameters hold a NUL character (\\u0000 or a 0 byte) at byte %ld: names and values "
                            "sent to the service cannot contain NUL; remove it",
                            nul);
    size_t errpos = 0;
    cJSON *root = smneo__parse_json_exact(params_json, len, &errpos);
    if (!root)
        return smneo__error(err, SMNEO_EINVAL, "parameters are not valid JSON (near byte %zu)", errpos);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return smneo__error(err, SMNEO_EINVAL, "parameters must be a JSON object");
    }
    *out = root;
    return 0;
}

int smneo__serialize_node(char **out, size_t *out_len, const smneo_operation *op, const cJSON *params)
{
    if (op->service->protocol == SMNEO_PROTOCOL_QUERY)
        return smneo__query_serialize(out, out_len, op, params);
    if (op->service->protocol == SMNEO_PROTOCOL_REST_JSON) {
        /* A body only when the input has body members, as botocore. */
        int body = 0;
        for (size_t i = 0; i < op->input->member_count; i++)
            body |= op->input->members[i].location == SMNEO_LOCATION_BODY;
        if (!body) {
            *out = smneo__strdup("");
            if (out_len)
                *out_len = 0;
            return *out ? 0 : SMNEO_ENOMEM;
        }
    }
    /* Secret members (SSO-OIDC's clientSecret, refreshToken) are wiped. */
    smneo_buf b = SMNEO_BUF_INIT;
    b.secret = shape_secret(op->input);
    write_struct(&b, params, op->input);
    *out = smneo__buf_detach(&b, out_len);
    return *out ? 0 : SMNEO_ENOMEM;
}

/* An operation of the client's service (SageMaker) by name. */
static const smneo_operation *lookup_op(const char *operation, smneo_error *err)
{
    const smneo_operation *op = smneo_model_operation(operation);
    if (!op) {
        smneo_buf names = SMNEO_BUF_INIT;
        for (size_t i = 0; i < smneo_model_operation_count(); i++)
            smneo__buf_printf(&names, "%s%s", i ? ", " : "", smneo_model_operation_at(i)->name);
        size_t len = 0;
        char *list = smneo__buf_detach(&names, &len);
        smneo__error(err, SMNEO_EINVAL, "unknown operation \"%s\": use one of %s", operation ? operation : "(null)",
                     list ? list : "the model's operations");
        free(list);
    }
    return op;
}

int smneo_protocol_serialize(char **out, size_t *out_len, const char *operation, const char *params_json,
                             size_t params_len, smneo_error *err)
{
    if (!out)
        return smneo__error(err, SMNEO_EINVAL, "out is NULL");
    *out = NULL;
    const smneo_operation *op = lookup_op(operation, err);
    if (!op)
        return SMNEO_EINVAL;
    cJSON *params;
    int rc = smneo__parse_params(&params, params_json, params_len, err);
    if (rc)
        return rc;
    rc = smneo__serialize_node(out, out_len, op, params);
    cJSON_Delete(params);
    return rc;
}

/* ---- validation gate ---------------------------------------------------- */

/* Does this issue stop the request in this mode? Strict: every error. Warn
 * and off: only the structural errors (a member the model does not know, a
 * value of the wrong type), since the request could not be sent as the
 * caller wrote it: they are never dropped or sent as garbage silently. */
static int blocks(const smneo_issue *is, int mode)
{
    if (is->severity != SMNEO_SEVERITY_ERROR)
        return 0;
    if (mode == SMNEO_VALIDATION_STRICT)
        return 1;
    return !strcmp(is->rule, "type") || !strcmp(is->rule, "unknown-member") || !strcmp(is->rule, "json");
}

int smneo__validate_gate(const smneo_operation *op, const cJSON *params, int mode, int allow_unknown_enums,
                         smneo_issues **kept, smneo_error *err)
{
    if (kept)
        *kept = NULL;
    const char *operation = op->name;
    smneo_issues *issues = NULL;
    /* params came from smneo__parse_params: a JSON object, parsed once. */
    if (smneo__validate_node(&issues, op, params, allow_unknown_enums || mode == SMNEO_VALIDATION_OFF))
        return smneo__error(err, SMNEO_ENOMEM, "out of memory while validating");
    size_t nblock = 0;
    const smneo_issue *first = NULL;
    for (size_t i = 0; i < smneo_issues_count(issues); i++) {
        const smneo_issue *is = smneo_issues_at(issues, i);
        if (blocks(is, mode)) {
            if (!nblock++)
                first = is;
        } else if (mode != SMNEO_VALIDATION_OFF) {
            smneo_log(SMNEO_LOG_WARN, "%s: %s %s: %s", operation,
                      is->severity == SMNEO_SEVERITY_ERROR ? "error" : "warning", *is->path ? is->path : "(root)",
                      is->message);
        }
    }
    if (nblock > 0) {
        smneo__error(err, SMNEO_EVALIDATION, "%zu invalid parameter%s for %s; first: %s: %s", nblock,
                     nblock == 1 ? "" : "s", operation, *first->path ? first->path : "(root)", first->message);
        if (err) {
            err->field = smneo__strdup(first->path);
            if (mode != SMNEO_VALIDATION_STRICT) {
                /* Only what stopped the request: the rest was not asked for. */
                smneo_issues *only = NULL;
                if (smneo_issues_new(&only) == 0) {
                    for (size_t i = 0; i < smneo_issues_count(issues); i++) {
                        const smneo_issue *is = smneo_issues_at(issues, i);
                        if (blocks(is, mode))
                            smneo_issues_add(only, is->severity, is->path, is->rule, "%s", is->message);
                    }
                }
                smneo_issues_free(issues);
                issues = only;
            }
            err->issues = issues;
            return SMNEO_EVALIDATION;
        }
        smneo_issues_free(issues);
        return SMNEO_EVALIDATION;
    }
    if (kept && mode != SMNEO_VALIDATION_OFF && smneo_issues_count(issues) > 0) {
        *kept = issues;
        return 0;
    }
    smneo_issues_free(issues);
    return 0;
}

/* ---- build -------------------------------------------------------------- */

/* Host header value without a default port. */
static char *host_header(const smneo_request *req)
{
    const char *h = req->host;
    const char *colon = strrchr(h, ':');
    int https = strncasecmp(req->url, "https://", 8) == 0;
    if (colon && !strchr(colon, ']') &&
        ((https && !strcmp(colon, ":443")) || (!https && !strcmp(colon, ":80"))))
        return smneo__strndup(h, (size_t)(colon - h));
    return smneo__strdup(h);
}

int smneo__build_url(char **out, const char *endpoint_url)
{
    size_t n = strlen(endpoint_url);
    *out = smneo__aprintf("%s%s", endpoint_url, (n && endpoint_url[n - 1] == '/') ? "" : "/");
    return *out ? 0 : SMNEO_ENOMEM;
}

int smneo__build_signed(smneo_request **out, const smneo_operation *op, const cJSON *params, const char *body,
                        size_t body_len, const smneo_credentials *creds, const smneo_build_options *o,
                        smneo_error *err)
{
    char *url = NULL;
    smneo_request *req = NULL;
    /* A control character in User-Agent would split the header (CR/LF) or
     * reach the server and its logs raw (ESC, tab, DEL): refused before
     * anything is signed. */
    for (const char *p = o->user_agent; p && *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return smneo__error(err, SMNEO_EINVAL,
                                "user_agent contains a control character (byte 0x%02x at offset %zu): use printable "
                                "text such as \"my-app/1.0\"",
                                (unsigned)(unsigned char)*p, (size_t)(p - o->user_agent));
    if (smneo__url_has_userinfo(o->endpoint_url))
        return smneo__userinfo_error(err, SMNEO_EINVAL, "smneo_build_options.endpoint_url");
    const smneo_service *svc = op->service;
    int rc;
    if (svc->protocol == SMNEO_PROTOCOL_REST_JSON) {
        rc = smneo__rest_build(&req, op, params, o->endpoint_url, err);
        if (rc)
            return rc;
    } else {
        rc = smneo__build_url(&url, o->endpoint_url);
        if (rc)
            return smneo__error(err, rc, "out of memory");
        rc = smneo_request_new(&req, "POST", url);
        free(url);
        if (rc == SMNEO_EINVAL)
            return smneo__error(err, rc, "invalid endpoint URL: it contains a control character (e.g. a line break)");
        if (rc)
            return smneo__error(err, rc, "invalid endpoint URL");
    }
    char *host = host_header(req);
    char target[128] = "";
    const char *ctype = NULL;
    if (svc->protocol == SMNEO_PROTOCOL_JSON) {
        /* AWS JSON: X-Amz-Target and the content type from the service's model. */
        snprintf(target, sizeof target, "%s.%s", svc->target_prefix, op->name);
        /* AWS JSON has two versions; jsonVersion absent means 1.0, as botocore. */
        ctype = svc->json_version && !strcmp(svc->json_version, "1.1") ? "application/x-amz-json-1.1"
                                                                        : "application/x-amz-json-1.0";
    } else if (svc->protocol == SMNEO_PROTOCOL_QUERY) {
        ctype = "application/x-www-form-urlencoded; charset=utf-8";
    } else if (body_len) {
        ctype = "application/json"; /* REST-JSON with a body */
    }
    char clen[32];
    snprintf(clen, sizeof clen, "%zu", body_len);
    if (!host || smneo_request_add_header(req, "Host", host) ||
        (*target && smneo_request_add_header(req, "X-Amz-Target", target)) ||
        (ctype && smneo_request_add_header(req, "Content-Type", ctype)) ||
        ((body_len || strcmp(req->method, "GET") != 0) && smneo_request_add_header(req, "Content-Length", clen)) ||
        (body_len && smneo_request_set_body(req, body, body_len))) {
        free(host);
        smneo_request_free(req);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    free(host);
    if (op->auth != SMNEO_AUTH_NONE) {
        smneo_sigv4_options so = SMNEO_SIGV4_OPTIONS_INIT;
        so.region = o->region;
        so.service = svc->signing_name;
        so.timestamp = o->timestamp ? o->timestamp : smneo__now();
        so.no_normalize_path = 0;
        rc = smneo_sigv4_sign(req, creds, &so, err);
        if (rc) {
            smneo_request_free(req);
            return rc;
        }
    }
    /* Not signed, as botocore leaves User-Agent out of the signature. */
    char ua[96];
    if (!o->user_agent)
        snprintf(ua, sizeof ua, "smneo/%s", smneo_version());
    if (smneo_request_add_header(req, "User-Agent", o->user_agent ? o->user_agent : ua)) {
        smneo_request_free(req);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    *out = req;
    return 0;
}

int smneo_protocol_build(smneo_request **out, const char *operation, const char *params_json, size_t params_len,
                         const smneo_credentials *creds, const smneo_build_options *o, smneo_error *err)
{
    if (!out)
        return smneo__error(err, SMNEO_EINVAL, "out is NULL");
    *out = NULL;
    const smneo_operation *op = lookup_op(operation, err);
    if (!op)
        return SMNEO_EINVAL;
    return smneo_protocol_build_operation(out, op, params_json, params_len, creds, o, err);
}

int smneo_protocol_build_operation(smneo_request **out, const smneo_operation *op, const char *params_json,
                                   size_t params_len, const smneo_credentials *creds, const smneo_build_options *o,
                                   smneo_error *err)
{
    if (!out)
        return smneo__error(err, SMNEO_EINVAL, "out is NULL");
    *out = NULL;
    if (!op)
        return smneo__error(err, SMNEO_EINVAL, "operation is NULL: look it up with smneo_service_operation");
    if (!o)
        return smneo__error(err, SMNEO_EINVAL, "build options need a region and an endpoint URL");
    smneo_build_options full;
    int orc = smneo__options_copy(&full, o, &smneo__build_options_layout, err);
    if (orc)
        return orc;
    o = &full;
    if (!o->region || !o->endpoint_url)
        return smneo__error(err, SMNEO_EINVAL, "build options need a region and an endpoint URL");
    /* Unauthenticated operations (AssumeRoleWithWebIdentity, SSO
     * GetRoleCredentials, SSO-OIDC CreateToken) need no credentials. */
    if (op->auth != SMNEO_AUTH_NONE && (!creds || !creds->access_key_id || !creds->secret_access_key))
        return smneo__error(err, SMNEO_ENOCREDENTIALS, "no credentials to sign the request with");
    cJSON *params;
    int rc = smneo__parse_params(&params, params_json, params_len, err);
    if (rc)
        return rc;
    rc = smneo__validate_gate(op, params, o->validation, o->allow_unknown_enum_values, NULL, err);
    char *body = NULL;
    size_t body_len = 0;
    if (rc == 0)
        rc = smneo__serialize_node(&body, &body_len, op, params);
    if (rc == 0)
        rc = smneo__build_signed(out, op, params, body, body_len, creds, o, err);
    else if (rc == SMNEO_ENOMEM)
        smneo__error(err, rc, "out of memory");
    /* The parameters and body may hold tokens (STS, SSO-OIDC): wiped. */
    smneo__json_wipe_delete(params);
    if (body)
        smneo__wipe(body, body_len);
    free(body);
    return rc;
}

/* ---- errors ------------------------------------------------------------- */

static const char *const THROTTLING_CODES[] = {
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
    "TooManyRequestsException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
    "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled",
    "SlowDown", "PriorRequestNotComplete", "EC2ThrottledException", NULL};
static const char *const TRANSIENT_CODES[] = {"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete",
                                              NULL};
static const char *const AUTH_CODES[] = {
    "UnrecognizedClientException", "InvalidSignatureException", "IncompleteSignatureException",
    "MissingAuthenticationTokenException", "AccessDeniedException", "ExpiredTokenException",
    "InvalidClientTokenId", "SignatureDoesNotMatch", "AccessDenied", "ExpiredToken", "RequestExpired",
    "InvalidAccessKeyId", "RequestTimeTooSkewed", "AuthFailure", NULL};

static int in_list(const char *const *list, const char *code)
{
    for (; code && *list; list++)
        if (!strcmp(*list, code))
            return 1;
    return 0;
}

int smneo__is_throttling(const char *code) { return in_list(THROTTLING_CODES, code); }

int smneo_protocol_error_class(int *retryable, const char *code, int status)
{
    int r = in_list(THROTTLING_CODES, code) || in_list(TRANSIENT_CODES, code) || status == 500 || status == 502 ||
            status == 503 || status == 504;
    if (retryable)
        *retryable = r;
    if (code) {
        if (!strcmp(code, "ResourceNotFound") || !strcmp(code, "ResourceNotFoundException"))
            return SMNEO_ENOTFOUND;
        if (!strcmp(code, "ResourceInUse"))
            return SMNEO_EINUSE;
        if (!strcmp(code, "ResourceLimitExceeded"))
            return SMNEO_ELIMIT;
        if (in_list(THROTTLING_CODES, code))
            return SMNEO_ETHROTTLED;
        if (in_list(AUTH_CODES, code))
            return SMNEO_EAUTH;
    }
    return SMNEO_ESERVICE;
}

static const char *reason_phrase(int status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
    }
}

static const char *find_request_id(const smneo_response *resp)
{
    const char *id = smneo_response_header(resp, "x-amzn-RequestId");
    if (!id)
        id = smneo_response_header(resp, "x-amz-request-id");
    return id;
}

/* Fills err from an error response; takes ownership of resp. */
static int parse_error(smneo_response *resp, const smneo_operation *op, smneo_error *err)
{
    char status_str[16];
    snprintf(status_str, sizeof status_str, "%d", resp->status);
    if (op->service->protocol == SMNEO_PROTOCOL_QUERY) {
        /* <ErrorResponse><Error><Code/><Message/></Error><RequestId/>; a
         * body that is no such document: the status is the code. */
        char *qcode = NULL, *qmsg = NULL, *qid = NULL;
        smneo__query_parse_error(&qcode, &qmsg, &qid, resp->body, resp->body_len);
        const char *code = qcode ? qcode : status_str;
        int retryable = 0;
        int rc = smneo_protocol_error_class(&retryable, code, resp->status);
        smneo__error(err, rc, "%s", qmsg && *qmsg ? qmsg : reason_phrase(resp->status));
        if (err) {
            err->service_code = smneo__strdup(code);
            err->http_status = resp->status;
            err->request_id = smneo__strdup(qid ? qid : find_request_id(resp));
            err->retryable = retryable;
            err->attempts = 1;
            err->response = resp;
            resp = NULL;
        }
        free(qcode);
        free(qmsg);
        free(qid);
        smneo_response_free(resp);
        return rc;
    }
    /* REST-JSON reads the code from x-amzn-ErrorType first, as botocore. */
    const char *rest_hdr =
        op->service->protocol == SMNEO_PROTOCOL_REST_JSON ? smneo_response_header(resp, "x-amzn-ErrorType") : NULL;
    /* A body that is not exactly one JSON object (text after it included)
     * is not read for a code, as botocore's json.loads fails on it. */
    cJSON *body = resp->body_len ? smneo__parse_json_exact(resp->body, resp->body_len, NULL) : NULL;
    const char *code = status_str, *message = NULL;
    char *code_copy = NULL;
    if (rest_hdr && *rest_hdr && *rest_hdr != ':') {
        const char *colon = strchr(rest_hdr, ':');
        code_copy = smneo__strndup(rest_hdr, colon ? (size_t)(colon - rest_hdr) : strlen(rest_hdr));
        code = code_copy;
    }
    if (cJSON_IsObject(body)) {
        const cJSON *t = code_copy ? NULL : cJSON_GetObjectItemCaseSensitive(body, "__type");
        if (!cJSON_IsString(t))
            t = cJSON_GetObjectItemCaseSensitive(body, "code");
        if (cJSON_IsString(t)) {
            /* "prefix#Code:extra" -> "Code", as botocore does. */
            const char *s = t->valuestring;
            const char *colon = strchr(s, ':');
            size_t n = colon ? (size_t)(colon - s) : strlen(s);
            code_copy = smneo__strndup(s, n);
            char *hash = code_copy ? strrchr(code_copy, '#') : NULL;
            code = hash ? hash + 1 : code_copy;
        }
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(body, "message");
        if (!cJSON_IsString(m))
            m = cJSON_GetObjectItemCaseSensitive(body, "Message");
        if (!cJSON_IsString(m)) /* SSO-OIDC's OAuth errors: error_description */
            m = cJSON_GetObjectItemCaseSensitive(body, "error_description");
        if (cJSON_IsString(m))
            message = m->valuestring;
    } else if (!body && code == status_str) {
        const char *hdr = smneo_response_header(resp, "x-amzn-ErrorType");
        if (hdr) {
            const char *colon = strchr(hdr, ':');
            code_copy = smneo__strndup(hdr, colon ? (size_t)(colon - hdr) : strlen(hdr));
            code = code_copy;
        }
    }
    if (!code || !*code) /* "__type": "#" or "x-amzn-ErrorType: :x" name nothing */
        code = status_str;
    int retryable = 0;
    int rc = smneo_protocol_error_class(&retryable, code, resp->status);
    /* The message as botocore's parsers.py makes it: from 500 up, an empty
     * body (whitespace only) or one starting with <html> is a generic error
     * whose message is the reason phrase; otherwise a body that is not a JSON
     * object is the message itself, and an object without message/Message
     * gives an empty one (an empty 429 has Message ''). */
    size_t skip = smneo__json_space_len(resp->body, resp->body_len);
    size_t rest = resp->body_len - skip;
    int generic = resp->status >= 500 && (rest == 0 || (rest >= 6 && !memcmp(resp->body + skip, "<html>", 6)));
    if (generic)
        smneo__error(err, rc, "%s", reason_phrase(resp->status));
    else if (message)
        smneo__error(err, rc, "%s", message);
    else if (!cJSON_IsObject(body) && resp->body_len)
        smneo__error(err, rc, "%.*s", (int)(resp->body_len > INT_MAX ? INT_MAX : resp->body_len), resp->body);
    else
        smneo__error(err, rc, "%s", "");
    if (err) {
        err->service_code = smneo__strdup(code);
        err->http_status = resp->status;
        err->request_id = smneo__strdup(find_request_id(resp));
        err->retryable = retryable;
        err->attempts = 1;
        err->response = resp;
        resp = NULL;
    }
    free(code_copy);
    cJSON_Delete(body);
    smneo_response_free(resp);
    return rc;
}

int smneo__protocol_parse_owned(smneo_result **out, const smneo_operation *op, smneo_response *resp,
                                smneo_error *err)
{
    *out = NULL;
    resp->operation = op->name; /* smneo_error_operation */
    if (resp->status < 200 || resp->status >= 300)
        return parse_error(resp, op, err);
    cJSON *root = NULL;
    if (op->service->protocol == SMNEO_PROTOCOL_QUERY) {
        int rc = smneo__query_parse_body(&root, op, resp->body, resp->body_len);
        if (rc == SMNEO_EPROTOCOL) {
            rc = smneo__error(err, SMNEO_EPROTOCOL, "malformed %s response: the %zu-byte body is not an XML document",
                              op->name, resp->body_len);
            if (err) {
                err->http_status = resp->status;
                err->request_id = smneo__strdup(find_request_id(resp));
                err->response = resp;
                resp = NULL;
            }
            smneo_response_free(resp);
            return rc;
        }
    } else if (smneo__json_space_len(resp->body, resp->body_len) == resp->body_len) {
        root = cJSON_CreateObject();
    } else {
        /* Exactly one JSON object, as json.loads takes it: whitespace may
         * follow it, other text (a second object, garbage) may not. */
        size_t at = 0;
        int trailing = 0;
        root = smneo__parse_json_strict_shaped(resp->body, resp->body_len, op->output, &at, &trailing);
        if (!cJSON_IsObject(root)) {
            cJSON_Delete(root);
            int rc = trailing ? smneo__error(err, SMNEO_EPROTOCOL,
                                             "malformed %s response: text after the JSON object (at byte %zu of "
                                             "%zu)",
                                             op->name, at, resp->body_len)
                              : smneo__error(err, SMNEO_EPROTOCOL,
                                             "malformed %s response: the %zu-byte body is not a JSON object "
                                             "(truncated?)",
                                             op->name, resp->body_len);
            if (err) {
                err->http_status = resp->status;
                err->request_id = smneo__strdup(find_request_id(resp));
                err->retryable = 0;
                err->response = resp;
                resp = NULL;
            }
            smneo_response_free(resp);
            return rc;
        }
    }
    if (!root) {
        smneo_response_free(resp);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    if (op->service->protocol == SMNEO_PROTOCOL_REST_JSON && smneo__rest_parse_headers(root, op, resp)) {
        smneo__json_wipe_delete(root);
        smneo_response_free(resp);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    int rc = smneo__result_new(out, op, root, resp);
    return rc ? smneo__error(err, rc, "out of memory") : 0;
}

/* Drops what botocore's parsers drop: members a structure's shape does not
 * have (newer than the model) and members that are null, at every level.
 * Lists and maps keep every entry (nulls included), as botocore's do; a
 * value of another JSON type than its shape's is kept as it came. */
static void prune(cJSON *n, const smneo_shape *shape)
{
    if (!shape || !n)
        return;
    if (shape->type == SMNEO_SHAPE_STRUCTURE && cJSON_IsObject(n)) {
        cJSON *next;
        size_t hint = 0;
        for (cJSON *ch = n->child; ch; ch = next) {
            next = ch->next;
            const smneo_member *m = smneo__shape_member_next(shape, ch->string, &hint);
            if (m && !cJSON_IsNull(ch))
                prune(ch, m->shape);
            else
                smneo__json_wipe_delete(cJSON_DetachItemViaPointer(n, ch));
        }
    } else if (shape->type == SMNEO_SHAPE_LIST && cJSON_IsArray(n)) {
        for (cJSON *ch = n->child; ch; ch = ch->next)
            prune(ch, shape->member);
    } else if (shape->type == SMNEO_SHAPE_MAP && cJSON_IsObject(n)) {
        for (cJSON *ch = n->child; ch; ch = ch->next)
            prune(ch, shape->value);
    }
}

int smneo__result_new(smneo_result **out, const smneo_operation *op, cJSON *root, smneo_response *resp)
{
    *out = NULL;
    /* The one place results are shaped as botocore's: every binding, the CLI
     * and smneo_value_to_json see the same members. */
    if (op->output)
        prune(root, op->output);
    else
        prune(root, &(const smneo_shape){.type = SMNEO_SHAPE_STRUCTURE});
    smneo_result *r = calloc(1, sizeof *r);
    if (!r) {
        cJSON_Delete(root);
        smneo_response_free(resp);
        return SMNEO_ENOMEM;
    }
    r->root = root;
    r->shape = op->output;
    r->secret = shape_secret(op->output);
    r->response = resp;
    r->request_id = resp ? find_request_id(resp) : NULL;
    r->attempts = 1;
    *out = r;
    return 0;
}

smneo_response *smneo__result_take_response(smneo_result *r)
{
    smneo_response *resp = r->response;
    r->response = NULL;
    r->request_id = NULL;
    return resp;
}

static int copy_response(smneo_response **out, const smneo_response *src)
{
    smneo_response *c;
    if (smneo_response_new(&c, src->status))
        return SMNEO_ENOMEM;
    for (size_t i = 0; i < src->header_count; i++)
        if (smneo_response_add_header(c, src->headers[i].name, strlen(src->headers[i].name), src->headers[i].value,
                                      strlen(src->headers[i].value))) {
            smneo_response_free(c);
            return SMNEO_ENOMEM;
        }
    if (src->body_len && smneo_response_append_body(c, src->body, src->body_len)) {
        smneo_response_free(c);
        return SMNEO_ENOMEM;
    }
    *out = c;
    return 0;
}

int smneo_protocol_parse(smneo_result **out, const char *operation, const smneo_response *resp, smneo_error *err)
{
    if (!out || !resp)
        return smneo__error(err, SMNEO_EINVAL, "out and resp must not be NULL");
    *out = NULL;
    const smneo_operation *op = lookup_op(operation, err);
    if (!op)
        return SMNEO_EINVAL;
    return smneo_protocol_parse_operation(out, op, resp, err);
}

int smneo_protocol_parse_operation(smneo_result **out, const smneo_operation *op, const smneo_response *resp,
                                   smneo_error *err)
{
    if (!out || !resp || !op)
        return smneo__error(err, SMNEO_EINVAL, "out, op and resp must not be NULL");
    *out = NULL;
    smneo_response *copy;
    if (copy_response(&copy, resp))
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    return smneo__protocol_parse_owned(out, op, copy, err);
}

int smneo_error_walk(const smneo_error *err, const smneo_visitor *vis, void *payload)
{
    if (!err || !vis)
        return SMNEO_EINVAL;
    const smneo_shape *shape = err->service_code ? smneo_model_shape(err->service_code) : NULL;
    if (!shape || !shape->exception || !err->response || !err->response->body_len)
        return SMNEO_EABSENT;
    cJSON *body = smneo__parse_json_exact(err->response->body, err->response->body_len, NULL);
    if (!cJSON_IsObject(body)) {
        cJSON_Delete(body);
        return SMNEO_EABSENT;
    }
    /* Only the members the error shape models, as botocore merges them. */
    size_t n = 0;
    for (size_t i = 0; i < shape->member_count; i++)
        n += cJSON_GetObjectItemCaseSensitive(body, shape->members[i].name) != NULL;
    int rc = vis->begin_object ? vis->begin_object(payload, shape, n) : 0;
    for (size_t i = 0; rc == 0 && i < shape->member_count; i++) {
        const smneo_member *m = &shape->members[i];
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, m->name);
        if (!v)
            continue;
        rc = vis->key ? vis->key(payload, m->name, strlen(m->name)) : 0;
        if (rc == 0) {
            smneo_value val = {v, m->shape};
            rc = smneo_value_walk(&val, vis, payload);
        }
    }
    if (rc == 0 && vis->end_object)
        rc = vis->end_object(payload);
    cJSON_Delete(body);
    return rc;
}

void smneo__result_set_attempts(smneo_result *r, int attempts) { r->attempts = attempts; }

const void *smneo__result_root_node(const smneo_result *r) { return r ? r->root : NULL; }

void smneo__result_set_issues(smneo_result *r, smneo_issues *issues)
{
    smneo_issues_free(r->issues);
    r->issues = issues;
}

const smneo_issues *smneo_result_issues(const smneo_result *r) { return r ? r->issues : NULL; }

void smneo_result_free(smneo_result *r)
{
    if (!r)
        return;
    smneo_issues_free(r->issues);
    if (r->secret) {
        /* Credentials or tokens: the tree and the raw body are wiped. */
        smneo__json_wipe_delete(r->root);
        if (r->response && r->response->body)
            smneo__wipe(r->response->body, r->response->body_len);
    } else {
        cJSON_Delete(r->root);
    }
    smneo_response_free(r->response);
    free(r);
}

void smneo_result_root(smneo_value *out, const smneo_result *r)
{
    if (!out)
        return;
    out->node = r ? r->root : NULL;
    out->shape = r ? r->shape : NULL;
}

const char *smneo_result_request_id(const smneo_result *r) { return r ? r->request_id : NULL; }
int smneo_result_status(const smneo_result *r) { return r && r->response ? r->response->status : 0; }
int smneo_result_attempts(const smneo_result *r) { return r ? r->attempts : 0; }
const smneo_response *smneo_result_response(const smneo_result *r) { return r ? r->response : NULL; }
