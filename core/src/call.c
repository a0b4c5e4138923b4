/* core/src/call.c: the call machine (calls as steps: validate, build, sign, send, retry, parse) and
 * its blocking drivers */

#include <ctype.h>
#include <math.h>
#include <stddef.h>
#include <strings.h>
#include <pthread.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "client_internal.h"
#include "config_internal.h"
#include "credentials_internal.h"
#include "internal.h"
#include "options_internal.h"
#include "protocol_internal.h"
#include "ratelimit.h"
#include "smneo/client.h"
#include "smneo/log.h"
#include "smneo/validate.h"
#include "value_internal.h"

enum { MAX_SLEEP_STEP_MS = 200 };

/* ---- the call machine --------------------------------------------------- */

enum { AWAIT_NONE, AWAIT_CREDS, AWAIT_SERVICE, AWAIT_CHECK };

int smneo__client_credentials(smneo_credentials **out, smneo_client *c, smneo_error *err)
{
    /* A NULL transport makes the chain use short timeouts for IMDS/container. */
    return smneo__credential_chain_get(out, c->chain, c->own_transport ? NULL : c->transport, c->timed, err);
}

void smneo__call_finish(smneo_call *call, int rc)
{
    call->state = ST_DONE;
    call->rc = rc;
    call->awaiting = AWAIT_NONE;
    smneo_request_free(call->req);
    call->req = NULL;
}

void smneo__call_finish_error(smneo_call *call, int code, const char *fmt, const char *arg)
{
    smneo__error(&call->err, code, fmt, arg);
    call->err.attempts = call->attempt;
    smneo__call_finish(call, code);
}

int smneo__call_reserialize(smneo_call *call)
{
    free(call->body);
    call->body = NULL;
    return smneo__serialize_node(&call->body, &call->body_len, call->op, call->params);
}

static int call_alloc_op(smneo_call **out, smneo_client *c, const smneo_operation *op, const char *params,
                         size_t len, int kind, smneo_error *err)
{
    *out = NULL;
    if (!c)
        return smneo__error(err, SMNEO_EINVAL, "client is NULL");
    cJSON *p;
    int rc = smneo__parse_params(&p, params, len, err);
    if (rc)
        return rc;
    smneo_issues *kept = NULL;
    rc = smneo__validate_gate(op, p, c->validation, c->allow_unknown_enum_values, &kept, err);
    if (rc) {
        cJSON_Delete(p);
        return rc;
    }
    smneo_call *call = calloc(1, sizeof *call);
    if (!call) {
        cJSON_Delete(p);
        smneo_issues_free(kept);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    call->issues = kept;
    call->client = c;
    call->op = op;
    call->kind = kind;
    call->params = p;
    call->state = ST_REQUEST;
    call->rng = (uint64_t)smneo__monotonic_ms() * 0x9E3779B97F4A7C15ULL ^ (uint64_t)(uintptr_t)call;
    if (!call->rng)
        call->rng = 88172645463325252ULL;
    if (kind != KIND_PAGINATE && smneo__call_reserialize(call)) {
        smneo_call_free(call);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    *out = call;
    return 0;
}

int smneo__call_alloc(smneo_call **out, smneo_client *c, const char *operation, const char *params, size_t len,
                      int kind, smneo_error *err)
{
    *out = NULL;
    if (!c)
        return smneo__error(err, SMNEO_EINVAL, "client is NULL");
    const smneo_operation *op = smneo_model_operation(operation);
    if (!op)
        return smneo__error(err, SMNEO_EINVAL, "unknown operation \"%s\"", operation ? operation : "(null)");
    return call_alloc_op(out, c, op, params, len, kind, err);
}

int smneo__call_op_new(smneo_call **out, smneo_client *c, const smneo_operation *op, const char *params, size_t len,
                       smneo_error *err)
{
    if (!out || !op)
        return smneo__error(err, SMNEO_EINVAL, "out and operation must not be NULL");
    return call_alloc_op(out, c, op, params, len, KIND_CALL, err);
}

int smneo_call_new(smneo_call **out, smneo_client *c, const char *operation, const char *params, size_t len,
                   smneo_error *err)
{
    if (!out)
        return smneo__error(err, SMNEO_EINVAL, "out is NULL");
    return smneo__call_alloc(out, c, operation, params, len, KIND_CALL, err);
}

void smneo_call_free(smneo_call *call)
{
    if (!call)
        return;
    if (call->kind == KIND_MACHINE)
        call->ops->free(call->impl);
    cJSON_Delete(call->params);
    free(call->body);
    smneo_request_free(call->req);
    smneo_chain_resolution_free(call->credres);
    smneo_credentials_free(call->creds);
    smneo_result_free(call->page);
    smneo_result_free(call->final);
    smneo_issues_free(call->issues);
    smneo_error_clear(&call->err);
    free(call->request_token);
    free(call->resume_token);
    free(call->last_status);
    free(call);
}

/* ---- driving ------------------------------------------------------------ */

static int creds_fresh(const smneo_credentials *c)
{
    return c && (!c->expiration || c->expiration - smneo__now() > 60);
}

/* Hands out call->req as a SEND step awaiting `awaiting`. Returns 1. */
static int send_step(smneo_call *call, smneo_step *out, int awaiting)
{
    call->awaiting = awaiting;
    call->state = ST_AWAIT;
    out->kind = SMNEO_STEP_SEND;
    out->request = call->req;
    return 1;
}

void smneo_client_set_request_hook(smneo_client *c, smneo_request_hook_cb cb, void *payload)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->quota_lock);
    c->hook = cb;
    c->hook_payload = cb ? payload : NULL;
    pthread_mutex_unlock(&c->quota_lock);
}

void smneo_client_set_response_hook(smneo_client *c, smneo_response_hook_cb cb, void *payload)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->quota_lock);
    c->response_hook = cb;
    c->response_hook_payload = cb ? payload : NULL;
    pthread_mutex_unlock(&c->quota_lock);
}

void smneo_client_set_params_hook(smneo_client *c, smneo_params_hook_cb cb, void *payload)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->quota_lock);
    c->params_hook = cb;
    c->params_hook_payload = cb ? payload : NULL;
    pthread_mutex_unlock(&c->quota_lock);
}

/* The parameters hook's replacement: validated as the call's were, then the
 * request's parameters. 0, or an error code with call->err set. */
static int replace_params(smneo_call *call, const char *json)
{
    cJSON *p;
    int rc = smneo__parse_params(&p, json, strlen(json), &call->err);
    if (rc)
        return rc;
    smneo_issues *kept = NULL;
    rc = smneo__validate_gate(call->op, p, call->client->validation, call->client->allow_unknown_enum_values,
                              &kept, &call->err);
    if (rc) {
        cJSON_Delete(p);
        return rc;
    }
    cJSON_Delete(call->params);
    call->params = p;
    smneo_issues_free(call->issues);
    call->issues = kept;
    if (smneo__call_reserialize(call))
        return smneo__error(&call->err, SMNEO_ENOMEM, "out of memory");
    return 0;
}

static void handle_success(smneo_call *call, smneo_result *r);

/* The request hook's answer: the final answer of the logical request, as
 * one attempt that was never sent (no retry, no quota, no rate update). */
static void take_answer(smneo_call *call, smneo_response *resp)
{
    smneo_result *r = NULL;
    call->attempt = 1;
    int rc = smneo__protocol_parse_owned(&r, call->op, resp, &call->err);
    if (rc == 0) {
        smneo_error_clear(&call->err);
        handle_success(call, r);
        return;
    }
    call->err.attempts = call->attempt;
    smneo__call_finish(call, rc);
}

/* Asks the client's request hook (once per logical request, before
 * credentials). Returns 1 when the request goes on, 0 when the hook answered
 * or cancelled it. */
static int ask_hook(smneo_call *call)
{
    if (call->hooked)
        return 1;
    call->hooked = 1;
    smneo_client *c = call->client;
    pthread_mutex_lock(&c->quota_lock);
    smneo_request_hook_cb cb = c->hook;
    void *payload = c->hook_payload;
    smneo_params_hook_cb pcb = c->params_hook;
    void *ppayload = c->params_hook_payload;
    call->response_hook = c->response_hook;
    call->response_hook_payload = c->response_hook_payload;
    pthread_mutex_unlock(&c->quota_lock);
    if (pcb) {
        char *json = NULL;
        smneo_value given = {call->params, call->op->input};
        if (pcb(&json, call->op, &given, ppayload)) {
            free(json);
            smneo__error(&call->err, SMNEO_ECANCELLED, "%s: cancelled by the client's parameters hook",
                         call->op->name);
            smneo__call_finish(call, SMNEO_ECANCELLED);
            return 0;
        }
        int rc = json ? replace_params(call, json) : 0;
        free(json);
        if (rc) {
            call->err.attempts = 0;
            smneo__call_finish(call, rc);
            return 0;
        }
    }
    if (!cb)
        return 1;
    smneo_response *answer = NULL;
    smneo_value params = {call->params, call->op->input};
    if (cb(&answer, call->op, &params, payload)) {
        smneo_response_free(answer);
        smneo__error(&call->err, SMNEO_ECANCELLED, "%s: cancelled by the client's request hook", call->op->name);
        smneo__call_finish(call, SMNEO_ECANCELLED);
        return 0;
    }
    if (!answer)
        return 1;
    take_answer(call, answer);
    return 0;
}

/* ST_REQUEST: the request hook, credentials, then build+sign. Returns 1 with
 * a SEND step. */
static int make_request(smneo_call *call, smneo_step *out)
{
    if (!ask_hook(call))
        return 0;
    if (!creds_fresh(call->creds)) {
        smneo_credentials_free(call->creds);
        call->creds = NULL;
        if (!call->credres && smneo_chain_resolution_new(&call->credres, call->client->chain, smneo__now())) {
            smneo__call_finish_error(call, SMNEO_ENOMEM, "%s", "out of memory");
            return 0;
        }
        smneo_request *req = NULL;
        int rc = smneo_chain_resolution_step(&req, &call->creds, call->credres, &call->err);
        if (rc == 1) {
            call->req = req;
            long delay = smneo_chain_resolution_delay_ms(call->credres);
            if (delay > 0) {
                /* An STS/SSO retry: sleep its backoff, then send it. */
                call->cred_pending = 1;
                call->wake_ms = smneo__monotonic_ms() + delay;
                call->state = ST_SLEEP;
                return 0;
            }
            out->timeout_ms = smneo_chain_resolution_timeout_ms(call->credres);
            return send_step(call, out, AWAIT_CREDS);
        }
        smneo_chain_resolution_free(call->credres);
        call->credres = NULL;
        if (rc < 0) {
            smneo__call_finish(call, rc);
            return 0;
        }
    }
    /* Adaptive mode: wait for a token of the client's rate limiter. */
    double wait = smneo__client_rate_acquire(call->client);
    if (wait > 0) {
        call->wake_ms = smneo__monotonic_ms() + (int64_t)ceil(wait * 1000);
        call->state = ST_SLEEP;
        return 0;
    }
    smneo_build_options bo;
    smneo__client_build_options(&bo, call->client, call->op, 0);
    int rc = smneo__build_signed(&call->req, call->op, call->params, call->body, call->body_len, call->creds, &bo,
                                 &call->err);
    if (rc) {
        smneo__call_finish(call, rc);
        return 0;
    }
    return send_step(call, out, AWAIT_SERVICE);
}

/* ST_CHECK: describe what the create met, with the credentials it was just
 * sent with. Returns 1 with a SEND step; 0 when no request could be made
 * (the create's ResourceInUse stands). */
static int make_check_request(smneo_call *call, smneo_step *out)
{
    cJSON *params = NULL;
    char *body = NULL;
    size_t len = 0;
    smneo_error e = SMNEO_ERROR_INIT;
    int rc = smneo__create_describe_params(&params, call->check_op, call->params);
    if (rc == 0)
        rc = smneo__serialize_node(&body, &len, call->check_op, params);
    cJSON_Delete(params);
    if (rc == 0) {
        smneo_build_options bo;
        smneo__client_build_options(&bo, call->client, call->check_op, 0);
        rc = smneo__build_signed(&call->req, call->check_op, NULL, body, len, call->creds, &bo, &e);
    }
    free(body);
    smneo_error_clear(&e);
    if (rc) {
        smneo__call_finish(call, SMNEO_EINUSE);
        return 0;
    }
    return send_step(call, out, AWAIT_CHECK);
}

void smneo_call_next(smneo_step *out, smneo_call *call)
{
    memset(out, 0, sizeof *out);
    if (!call) {
        out->kind = SMNEO_STEP_DONE;
        return;
    }
    if (call->kind == KIND_MACHINE) {
        call->ops->next(out, call->impl);
        return;
    }
    for (;;) {
        if (call->cancelled && call->state != ST_DONE) {
            smneo__error(&call->err, SMNEO_ECANCELLED, "cancelled by the caller");
            smneo__call_finish(call, SMNEO_ECANCELLED);
        }
        switch (call->state) {
        case ST_DONE:
            out->kind = SMNEO_STEP_DONE;
            return;
        case ST_REQUEST:
            if (make_request(call, out))
                return;
            continue;
        case ST_CHECK:
            if (make_check_request(call, out))
                return;
            continue;
        case ST_AWAIT:
            /* The caller asked again without feeding: resend the same request. */
            out->kind = SMNEO_STEP_SEND;
            out->request = call->req;
            if (call->awaiting == AWAIT_CREDS)
                out->timeout_ms = smneo_chain_resolution_timeout_ms(call->credres);
            return;
        case ST_SLEEP: {
            int64_t left = call->wake_ms - smneo__monotonic_ms();
            if (left > 0) {
                out->kind = SMNEO_STEP_SLEEP;
                out->sleep_ms = left > MAX_SLEEP_STEP_MS ? MAX_SLEEP_STEP_MS : (long)left;
                return;
            }
            if (call->cred_pending) {
                call->cred_pending = 0;
                out->timeout_ms = smneo_chain_resolution_timeout_ms(call->credres);
                send_step(call, out, AWAIT_CREDS);
                return;
            }
            if (call->kind == KIND_WAIT && call->timeout > 0 &&
                smneo__monotonic_ms() >= call->start_ms + (int64_t)(call->timeout * 1000)) {
                smneo__error(&call->err, SMNEO_EWAITTIMEOUT,
                             "the compilation job did not finish within the waiter's timeout (last status %s)",
                             call->last_status ? call->last_status : "unknown");
                smneo__call_finish(call, SMNEO_EWAITTIMEOUT);
                continue;
            }
            call->state = ST_REQUEST;
            continue;
        }
        case ST_ITEMS: {
            if (call->page_pending) {
                call->page_pending = 0;
                out->kind = SMNEO_STEP_EVENT;
                out->event = SMNEO_EVENT_PAGE;
                /* Count the page's items towards max_items. */
                int64_t n = 0;
                for (const cJSON *it = call->next_item; it; it = it->next)
                    n++;
                int64_t max = call->popts.max_items;
                if (max > 0 && call->emitted + n > max) {
                    /* Truncate the page in place, as botocore does. */
                    int64_t keep = max - call->emitted;
                    const cJSON *it = call->next_item;
                    for (int64_t i = 1; it && i < keep; i++)
                        it = it->next;
                    cJSON *items = (cJSON *)smneo__paginate_items(call);
                    cJSON *cut = it ? it->next : NULL;
                    int64_t consumed = call->page_skipped + keep; /* of this page, as botocore counts */
                    free(call->resume_token);
                    call->resume_token = smneo__paginate_encode_token(call->request_token, consumed);
                    while (cut) {
                        cJSON *nx = cut->next;
                        cJSON_Delete(cJSON_DetachItemViaPointer(items, cut));
                        cut = nx;
                    }
                    call->emitted = max;
                    call->next_item = NULL;
                    call->popts.pages = 2; /* marker: stop after this page */
                } else {
                    call->emitted += n;
                    call->next_item = NULL;
                }
                return;
            }
            if (call->popts.pages == 2) {
                smneo__call_finish(call, SMNEO_ITEROVER);
                continue;
            }
            int64_t max = call->popts.max_items;
            if (!call->popts.pages && call->next_item && !(max > 0 && call->emitted >= max)) {
                call->item = call->next_item;
                call->next_item = call->next_item->next;
                call->emitted++;
                out->kind = SMNEO_STEP_EVENT;
                out->event = SMNEO_EVENT_ITEM;
                return;
            }
            /* Count how many items of this page were handed out (for a resume token). */
            int64_t consumed = call->page_skipped;
            const cJSON *items = smneo__paginate_items(call);
            for (const cJSON *it = items ? items->child : NULL; it && it != call->next_item; it = it->next)
                consumed++;
            smneo__paginate_advance(call, consumed);
            continue;
        }
        case ST_AFTER_EVENT:
            if (call->page_pending) {
                call->page_pending = 0;
                out->kind = SMNEO_STEP_EVENT;
                out->event = SMNEO_EVENT_STATUS;
                return;
            }
            smneo__wait_decide(call);
            continue;
        }
    }
}

static void handle_success(smneo_call *call, smneo_result *r)
{
    smneo__result_set_attempts(r, call->attempt);
    if (call->kind == KIND_CALL) {
        call->final = r;
        smneo__call_finish(call, 0);
        return;
    }
    smneo_result_free(call->page);
    call->page = r;
    if (call->kind == KIND_PAGINATE) {
        smneo__paginate_page(call);
        return;
    }
    call->polls++;
    const char *status = smneo__wait_job_status(r);
    if (status && (!call->last_status || strcmp(status, call->last_status))) {
        free(call->last_status);
        call->last_status = smneo__strdup(status);
        call->state = ST_AFTER_EVENT;
        call->awaiting = AWAIT_NONE;
        call->item = NULL;
        /* The EVENT is reported by the next smneo_call_next via this flag. */
        call->page_pending = 1;
        return;
    }
    smneo__wait_decide(call);
}

/* The answer to ST_CHECK's description: the create's result when the
 * resource is the one an earlier copy of the request made, else the
 * create's ResourceInUse as it came. */
static void check_answered(smneo_call *call, smneo_response *resp)
{
    smneo_result *d = NULL, *r = NULL;
    smneo_error e = SMNEO_ERROR_INIT;
    int rc = resp ? smneo__protocol_parse_owned(&d, call->check_op, resp, &e) : SMNEO_ECONNECT;
    int ours = rc == 0 && smneo__create_is_ours(call->op, call->params, smneo__result_root_node(d));
    if (ours && smneo__create_result(&r, call->op, d) != 0)
        r = NULL;
    smneo_log(SMNEO_LOG_INFO, "%s: %s", call->op->name,
              r      ? "ResourceInUse is the resource an earlier copy of this request created (same settings): "
                       "success"
              : ours ? "out of memory answering with the resource an earlier copy of this request created"
              : rc   ? "ResourceInUse stands: the resource could not be described to compare it"
                     : "ResourceInUse stands: the existing resource has other settings");
    smneo_result_free(d);
    smneo_error_clear(&e);
    if (!r) {
        smneo__call_finish(call, SMNEO_EINUSE);
        return;
    }
    smneo__retry_succeeded(call->client, &call->quota_cost);
    smneo_error_clear(&call->err);
    handle_success(call, r);
}

void smneo_call_feed(smneo_call *call, smneo_response *resp, int transport_error, const char *msg)
{
    if (call && call->kind == KIND_MACHINE) {
        call->ops->feed(call->impl, resp, transport_error, msg);
        return;
    }
    if (!call || call->state != ST_AWAIT) {
        smneo_response_free(resp);
        return;
    }
    smneo_request_free(call->req);
    call->req = NULL;
    if (call->awaiting == AWAIT_CREDS) {
        call->awaiting = AWAIT_NONE;
        smneo_chain_resolution_feed(call->credres, resp, resp ? 0 : (transport_error ? transport_error : SMNEO_ECONNECT));
        smneo_response_free(resp);
        call->state = ST_REQUEST;
        return;
    }
    if (call->awaiting == AWAIT_CHECK) {
        call->awaiting = AWAIT_NONE;
        check_answered(call, resp);
        return;
    }
    call->awaiting = AWAIT_NONE;
    /* Every copy the transport sent counts (libcurl's own resend on a dead
     * keep-alive connection included), as botocore counts the retry that
     * follows a closed connection. */
    call->attempt += resp && resp->sends > 1 ? resp->sends : 1;
    int rc;
    smneo_result *r = NULL;
    if (!resp) {
        rc = transport_error < 0 ? transport_error : SMNEO_ECONNECT;
        smneo__error(&call->err, rc, "%s", msg ? msg : "the request could not be sent");
        call->err.retryable = smneo__transport_code(rc);
    } else {
        rc = smneo__protocol_parse_owned(&r, call->op, resp, &call->err);
    }
    smneo__client_rate_update(call->client, rc, &call->err);
    if (rc)
        call->err.attempts = call->attempt;
    /* A create sent more than once (a retry after a lost answer, or the
     * transport's resend) may meet the resource its first copy made. */
    int check = rc == SMNEO_EINUSE && call->kind == KIND_CALL && call->attempt > 1 &&
                smneo__create_describe_op(call->op) != NULL;
    double d = -1;
    if (rc && !check &&
        !smneo__retry_next(call->client, rc, &call->err, call->attempt, &call->rng, &call->quota_cost, &d,
                           &call->quota_reached))
        d = -1;
    if (call->response_hook) {
        if (r)
            smneo__result_set_attempts(r, call->attempt);
        double before = d;
        if (call->response_hook(&d, call->op, call->attempt, r, rc ? &call->err : NULL, call->response_hook_payload)) {
            smneo_result_free(r);
            smneo__error(&call->err, SMNEO_ECANCELLED, "%s: cancelled by the client's response hook", call->op->name);
            smneo__call_finish(call, SMNEO_ECANCELLED);
            return;
        }
        if (d != before)
            smneo_log(SMNEO_LOG_INFO, "%s: the response hook changed the retry decision after attempt %d",
                      call->op->name, call->attempt);
    }
    if (d >= 0) {
        smneo_log(SMNEO_LOG_INFO, "%s: attempt %d failed (%s), retrying in %.3f s", call->op->name, call->attempt,
                  rc == 0 ? "the response hook asked for a retry"
                  : call->err.service_code ? call->err.service_code : smneo_strerror(rc), d);
        smneo_result_free(r);
        smneo_error_clear(&call->err);
        call->wake_ms = smneo__monotonic_ms() + (int64_t)(d * 1000);
        call->state = ST_SLEEP;
        return;
    }
    if (rc == 0) {
        smneo__retry_succeeded(call->client, &call->quota_cost);
        smneo_error_clear(&call->err);
        handle_success(call, r);
        return;
    }
    if (check) {
        call->check_op = smneo__create_describe_op(call->op);
        smneo_log(SMNEO_LOG_INFO, "%s: ResourceInUse after %d attempts: describing it to see whether an "
                  "earlier attempt created it", call->op->name, call->attempt);
        call->state = ST_CHECK;
        return;
    }
    smneo__call_finish(call, rc);
}

int smneo_call_retry_quota_reached(const smneo_call *call)
{
    return call && call->state == ST_DONE && call->rc != 0 && call->quota_reached;
}

int smneo_call_item(smneo_value *out, const smneo_call *call)
{
    if (!out || !call || !call->item)
        return SMNEO_EINVAL;
    const smneo_member *m = smneo_shape_member(call->op->output, call->op->result_key);
    out->node = call->item;
    out->shape = m && m->shape->member ? m->shape->member : NULL;
    return 0;
}

const smneo_result *smneo_call_page(const smneo_call *call) { return call ? call->page : NULL; }

void smneo_call_cancel(smneo_call *call)
{
    if (call && call->kind == KIND_MACHINE)
        call->ops->cancel(call->impl);
    else if (call)
        call->cancelled = 1;
}

void smneo_call_work(smneo_call *call)
{
    if (call && call->kind == KIND_MACHINE)
        call->ops->work(call->impl);
}

int smneo_call_result(smneo_result **out, smneo_call *call, smneo_error *err)
{
    if (out)
        *out = NULL;
    if (call && call->kind == KIND_MACHINE)
        return smneo__error(err, SMNEO_EINVAL, "a compile machine's result comes from smneo_call_compile_result");
    if (!call || call->state != ST_DONE)
        return smneo__error(err, SMNEO_EINVAL, "the call has not finished");
    if (call->final && call->issues) {
        smneo__result_set_issues(call->final, call->issues);
        call->issues = NULL;
    }
    if (call->rc == 0 || call->rc == SMNEO_ITEROVER) {
        if (out) {
            *out = call->final;
            call->final = NULL;
        }
        return 0;
    }
    if (err) {
        smneo_error_clear(err);
        *err = call->err; /* hand the details over */
        memset(&call->err, 0, sizeof call->err);
        err->code = call->rc;
    }
    /* FAILED / STOPPED: the final description is still available. */
    if (out && (call->rc == SMNEO_EJOBFAILED || call->rc == SMNEO_EJOBSTOPPED)) {
        *out = call->final;
        call->final = NULL;
    }
    return call->rc;
}

const smneo_issues *smneo_call_issues(const smneo_call *call) { return call ? call->issues : NULL; }

const char *smneo_call_resume_token(const smneo_call *call) { return call ? call->resume_token : NULL; }

/* ---- blocking drivers ------------------------------------------------------ */

void smneo_call_send(smneo_call *call, const smneo_step *step)
{
    if (!call || !step || step->kind != SMNEO_STEP_SEND)
        return;
    smneo_client *c = call->client;
    smneo_response *resp = NULL;
    smneo_error terr = SMNEO_ERROR_INIT;
    int rc;
    if (step->timeout_ms > 0 && c->own_transport) /* a credential request: its own timeouts */
        rc = smneo__send_timed(&resp, c->timed, step->request, step->timeout_ms, &terr);
    else if (c->transport)
        rc = smneo_transport_send(&resp, c->transport, step->request, &terr);
    else
        rc = smneo__error(&terr, SMNEO_EINVAL, "the client has no transport: drive the call with steps");
    smneo_call_feed(call, rc ? NULL : resp, rc, terr.message);
    smneo_error_clear(&terr);
}

void smneo_call_run(smneo_step *out, smneo_call *call)
{
    for (;;) {
        smneo_call_next(out, call);
        if (out->kind == SMNEO_STEP_SEND) {
            smneo_call_send(call, out);
            continue;
        }
        if (out->kind == SMNEO_STEP_SLEEP) {
            smneo__sleep_ms(out->sleep_ms);
            continue;
        }
        if (out->kind == SMNEO_STEP_WORK) {
            smneo_call_work(call);
            continue;
        }
        return;
    }
}

int smneo_client_call(smneo_result **out, smneo_client *c, const char *operation, const char *params, size_t len,
                      smneo_error *err)
{
    if (!out)
        return smneo__error(err, SMNEO_EINVAL, "out is NULL");
    *out = NULL;
    smneo_call *call;
    int rc = smneo_call_new(&call, c, operation, params, len, err);
    if (rc)
        return rc;
    smneo_step step;
    smneo_call_run(&step, call);
    rc = smneo_call_result(out, call, err);
    smneo_call_free(call);
    return rc;
}

struct smneo_iter {
    smneo_call *call;
};

int smneo_iter_new(smneo_iter **out, smneo_client *c, const char *operation, const char *params, size_t len,
                   const smneo_paginate_options *o, smneo_error *err)
{
    if (!out)
        return smneo__error(err, SMNEO_EINVAL, "out is NULL");
    *out = NULL;
    smneo_paginate_options po;
    int orc = smneo__options_copy(&po, o, &smneo__paginate_options_layout, err);
    if (orc)
        return orc;
    po.pages = 0;
    smneo_iter *it = calloc(1, sizeof *it);
    if (!it)
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    int rc = smneo_paginate_new(&it->call, c, operation, params, len, &po, err);
    if (rc) {
        free(it);
        return rc;
    }
    *out = it;
    return 0;
}

int smneo_iter_next(smneo_value *out, smneo_iter *it, smneo_error *err)
{
    if (!out || !it)
        return smneo__error(err, SMNEO_EINVAL, "out and iterator must not be NULL");
    smneo_step step;
    smneo_call_run(&step, it->call);
    if (step.kind == SMNEO_STEP_EVENT)
        return smneo_call_item(out, it->call);
    int rc = smneo_call_result(NULL, it->call, err);
    return rc ? rc : SMNEO_ITEROVER;
}

void smneo_iter_free(smneo_iter *it)
{
    if (!it)
        return;
    smneo_call_free(it->call);
    free(it);
}
