/* The default bucket (sagemaker-{region}-{account}, as the SageMaker Python
 * SDK names it) as a step machine behind a smneo_call: STS
 * GetCallerIdentity for the account, then HeadBucket with the expected owner
 * and CreateBucket when the bucket is missing. Every request is a SEND step
 * (credential requests too), retries wait in SLEEP steps: nothing blocks, so
 * the compile machines forward these steps to their driver (a cosocket under
 * smneo.resty), and smneo_s3_default_bucket drives the same machine with the
 * client's transport. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"
#include "internal.h"
#include "s3_internal.h"
#include "smneo/log.h"
#include "smneo/model.h"
#include "smneo/s3.h"

enum { B_NAME, B_REQUEST, B_AWAIT, B_SLEEP, B_DONE };

typedef struct bm {
    smneo_client *c;
    int name_only;       /* stop once the name is known */
    int state;
    smneo_call *sts;     /* B_NAME: GetCallerIdentity */
    char *bucket, *account;
    s3_target t;
    s3_creds cr;
    const char *op;      /* HeadBucket or CreateBucket */
    char *create_body;
    smneo_request *req;  /* the S3 request handed out */
    int awaiting_creds;  /* the SEND handed out is cr.req */
    long timeout_ms;
    int64_t wake_ms;
    int attempt, quota_cost;
    uint64_t rng;
    int cancelled;
    int rc;
    smneo_error err;
} bm;

static void bm_finish(bm *b, int rc)
{
    b->rc = rc;
    b->state = B_DONE;
    if (rc && b->err.code != rc)
        b->err.code = rc;
    smneo_request_free(b->req);
    b->req = NULL;
}

/* A new message for err, keeping what S3 said (code, request id, status,
 * response). Returns code. */
static int reword(smneo_error *err, int code, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static int reword(smneo_error *err, int code, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char *m = smneo__strdup(buf);
    if (m) {
        free(err->message);
        err->message = m;
    }
    err->code = code;
    return code;
}

/* The HeadBucket (or CreateBucket) to send next. */
static int bm_start(bm *b, const char *op)
{
    b->op = op;
    b->attempt = 1;
    b->quota_cost = 0;
    b->state = B_REQUEST;
    if (!strcmp(op, "HeadBucket"))
        return smneo__s3_bucket_target_init_for(&b->t, b->c, b->bucket, 0, &b->err);
    const char *region = smneo_client_region(b->c);
    smneo_log(SMNEO_LOG_INFO, "S3: creating the default bucket %s in %s", b->bucket, region);
    if (region && strcmp(region, "us-east-1")) {
        b->create_body = smneo__aprintf("<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/"
                                        "2006-03-01/\"><LocationConstraint>%s</LocationConstraint>"
                                        "</CreateBucketConfiguration>", region);
        if (!b->create_body)
            return smneo__error(&b->err, SMNEO_ENOMEM, "out of memory");
    }
    return 0;
}

/* GetCallerIdentity answered: the account and the bucket's name. */
static void bm_named(bm *b)
{
    smneo_result *res = NULL;
    int rc = smneo_call_result(&res, b->sts, &b->err);
    smneo_call_free(b->sts);
    b->sts = NULL;
    if (!rc) {
        smneo_value root, v;
        smneo_result_root(&root, res);
        const char *account = smneo_value_get(&v, &root, "Account") == 0 ? smneo_value_string(&v) : NULL;
        if (!account)
            rc = smneo__error(&b->err, SMNEO_EPROTOCOL, "STS GetCallerIdentity answered without an Account");
        else if (!(b->account = smneo__strdup(account)))
            rc = smneo__error(&b->err, SMNEO_ENOMEM, "out of memory");
        smneo_result_free(res);
    }
    if (rc) {
        if (b->err.message) {
            char *m = smneo__aprintf("the default bucket needs the account: STS GetCallerIdentity failed: %s",
                                     b->err.message);
            if (m) {
                free(b->err.message);
                b->err.message = m;
            }
        }
        bm_finish(b, rc);
        return;
    }
    const char *region = smneo_client_region(b->c);
    b->bucket = smneo__aprintf("sagemaker-%s-%s", region ? region : "", b->account);
    if (!b->bucket)
        rc = smneo__error(&b->err, SMNEO_ENOMEM, "out of memory");
    else if (!b->name_only)
        rc = bm_start(b, "HeadBucket");
    if (rc || b->name_only)
        bm_finish(b, rc);
}

/* The current request, signed with fresh credentials: a SEND, or the
 * credential requests first. */
static void bm_request(bm *b)
{
    int c = smneo__s3_creds_step(&b->cr, b->c, &b->err);
    if (c == 2) { /* an STS/SSO retry's backoff */
        b->wake_ms = b->cr.wake_ms;
        b->state = B_SLEEP;
        return;
    }
    if (c == 1) {
        b->awaiting_creds = 1;
        b->timeout_ms = b->cr.timeout_ms;
        b->state = B_AWAIT;
        return;
    }
    if (c) {
        bm_finish(b, c);
        return;
    }
    const char *head[] = {"x-amz-expected-bucket-owner", b->account, NULL};
    s3_req r;
    memset(&r, 0, sizeof r);
    r.op = b->op;
    if (!strcmp(b->op, "HeadBucket")) {
        r.method = "HEAD";
        r.headers = head;
    } else {
        r.method = "PUT";
        r.body = b->create_body;
        r.body_len = b->create_body ? strlen(b->create_body) : 0;
    }
    int rc = smneo__s3_build(&b->req, &b->t, &r, b->cr.creds, &b->err);
    if (rc) {
        bm_finish(b, rc);
        return;
    }
    b->awaiting_creds = 0;
    b->timeout_ms = 0;
    b->state = B_AWAIT;
}

/* The request's final outcome (after retries): 0 or the code, e the error. */
static void bm_outcome(bm *b, int rc, smneo_error *e)
{
    const int head = !strcmp(b->op, "HeadBucket");
    smneo_error_clear(&b->err);
    b->err = *e;
    memset(e, 0, sizeof *e);
    smneo_error *err = &b->err;
    if (head && rc == SMNEO_ENOTFOUND) {
        smneo_error_clear(err);
        rc = bm_start(b, "CreateBucket");
        if (rc)
            bm_finish(b, rc);
        return;
    }
    if (!head && rc && err->service_code &&
        (!strcmp(err->service_code, "BucketAlreadyOwnedByYou") ||
         (!strcmp(err->service_code, "OperationAborted") && err->message &&
          strstr(err->message, "conflicting conditional operation")))) {
        smneo_error_clear(err); /* created meanwhile by another run of ours: fine */
        rc = 0;
    } else if (!head && rc && err->service_code && !strcmp(err->service_code, "BucketAlreadyExists")) {
        rc = reword(err, SMNEO_ESERVICE, "the default bucket %s belongs to another account (CreateBucket: "
                    "BucketAlreadyExists): smneo does not upload to it; give a bucket of account %s "
                    "(s3_bucket, --bucket)", b->bucket, b->account);
    } else if (head && rc && err->http_status == 403) {
        rc = reword(err, SMNEO_EAUTH, "the default bucket %s is not owned by account %s (HeadBucket with "
                    "ExpectedBucketOwner answered 403 Forbidden): smneo does not upload to it; give a bucket of "
                    "yours (s3_bucket, --bucket)", b->bucket, b->account);
    }
    bm_finish(b, rc);
}

static void bm_next(smneo_step *out, void *impl)
{
    bm *b = impl;
    memset(out, 0, sizeof *out);
    for (;;) {
        if (b->cancelled && b->state != B_DONE && b->state != B_NAME && b->state != B_AWAIT) {
            smneo_error_clear(&b->err);
            smneo__error(&b->err, SMNEO_ECANCELLED, "cancelled by the caller");
            bm_finish(b, SMNEO_ECANCELLED);
        }
        switch (b->state) {
        case B_NAME:
            smneo_call_next(out, b->sts);
            if (out->kind == SMNEO_STEP_SEND || out->kind == SMNEO_STEP_SLEEP)
                return;
            if (out->kind == SMNEO_STEP_DONE)
                bm_named(b);
            memset(out, 0, sizeof *out);
            continue;
        case B_REQUEST:
            bm_request(b);
            continue;
        case B_AWAIT:
            out->kind = SMNEO_STEP_SEND;
            out->request = b->awaiting_creds ? b->cr.req : b->req;
            out->timeout_ms = b->timeout_ms;
            return;
        case B_SLEEP: {
            int64_t left = b->wake_ms - smneo__monotonic_ms();
            if (left > 0) {
                out->kind = SMNEO_STEP_SLEEP;
                out->sleep_ms = left > 200 ? 200 : (long)left;
                return;
            }
            b->state = B_REQUEST;
            continue;
        }
        default:
            out->kind = SMNEO_STEP_DONE;
            return;
        }
    }
}

static void bm_feed(void *impl, smneo_response *resp, int transport_error, const char *message)
{
    bm *b = impl;
    if (b->state == B_NAME) {
        smneo_call_feed(b->sts, resp, transport_error, message);
        return;
    }
    if (b->state != B_AWAIT) {
        smneo_response_free(resp);
        return;
    }
    if (b->awaiting_creds) {
        b->awaiting_creds = 0;
        smneo__s3_creds_feed(&b->cr, resp, transport_error);
        b->state = B_REQUEST;
        return;
    }
    smneo_request_free(b->req);
    b->req = NULL;
    if (b->cancelled) { /* whatever came back: the caller asked to stop */
        smneo_response_free(resp);
        smneo_error_clear(&b->err);
        smneo__error(&b->err, SMNEO_ECANCELLED, "cancelled by the caller");
        bm_finish(b, SMNEO_ECANCELLED);
        return;
    }
    if (resp && resp->status >= 200 && resp->status < 300) {
        smneo_response_free(resp);
        smneo__retry_succeeded(b->c, &b->quota_cost);
        smneo_error_clear(&b->err);
        bm_finish(b, 0);
        return;
    }
    smneo_error e = SMNEO_ERROR_INIT;
    int rc;
    if (resp) {
        rc = smneo__s3_response_error(resp, &b->t, b->op, &e);
    } else {
        rc = transport_error ? transport_error : SMNEO_ECONNECT;
        smneo__error(&e, rc, "S3 %s for s3://%s/%s: %s", b->op, b->t.bucket, b->t.key,
                     message && *message ? message : smneo_strerror(rc));
    }
    e.code = rc;
    e.attempts = b->attempt;
    double delay = 0;
    if (smneo__retry_next_s3(b->c, rc, &e, b->attempt, &b->rng, &b->quota_cost, &delay, 1, NULL)) {
        smneo_log(SMNEO_LOG_INFO, "S3 %s s3://%s/%s: attempt %d failed (%s), retrying in %.3f s", b->op,
                  b->t.bucket, b->t.key, b->attempt, e.service_code ? e.service_code : smneo_strerror(rc), delay);
        smneo_error_clear(&e);
        b->attempt++;
        b->wake_ms = smneo__monotonic_ms() + (int64_t)(delay * 1000);
        b->state = B_SLEEP;
        return;
    }
    bm_outcome(b, rc, &e);
}

static void bm_work(void *impl) { (void)impl; }

static void bm_cancel(void *impl)
{
    bm *b = impl;
    b->cancelled = 1;
    if (b->sts)
        smneo_call_cancel(b->sts);
}

static void bm_free(void *impl)
{
    bm *b = impl;
    if (!b)
        return;
    smneo_call_free(b->sts);
    free(b->bucket);
    free(b->account);
    free(b->create_body);
    smneo_request_free(b->req);
    smneo__s3_creds_clear(&b->cr);
    smneo__s3_target_clear(&b->t);
    smneo_error_clear(&b->err);
    free(b);
}

static const smneo__call_ops bm_ops = {bm_next, bm_feed, bm_work, bm_cancel, bm_free};

int smneo__s3_bucket_new(smneo_call **out, smneo_client *c, int name_only, const char *bucket,
                         const char *account, smneo_error *err)
{
    *out = NULL;
    bm *b = calloc(1, sizeof *b);
    smneo_call *call = calloc(1, sizeof *call);
    if (!b || !call) {
        free(b);
        free(call);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    b->c = c;
    b->name_only = name_only;
    b->rng = (uint64_t)smneo__monotonic_ms() * 0x9E3779B97F4A7C15ULL ^ (uint64_t)(uintptr_t)b;
    call->client = c;
    call->kind = KIND_MACHINE;
    call->ops = &bm_ops;
    call->impl = b;
    int rc = 0;
    if (bucket) { /* the name is known: HeadBucket and CreateBucket only */
        b->bucket = smneo__strdup(bucket);
        b->account = smneo__strdup(account ? account : "");
        rc = b->bucket && b->account ? bm_start(b, "HeadBucket") : smneo__error(&b->err, SMNEO_ENOMEM, "out of memory");
    } else {
        const char *region = smneo_client_region(c);
        const smneo_operation *op = smneo_service_operation(smneo_model_service("sts"), "GetCallerIdentity");
        if (!smneo__client_sts_endpoint(c))
            rc = smneo__error(&b->err, SMNEO_EINVAL, "no STS endpoint for region %s with this client's settings: the "
                              "default bucket needs the account from STS GetCallerIdentity; give the bucket "
                              "(s3_bucket, --bucket)", region ? region : "(none)");
        else if (!op)
            rc = smneo__error(&b->err, SMNEO_ERROR, "STS GetCallerIdentity is not in the model");
        else
            rc = smneo__call_op_new(&b->sts, c, op, NULL, 0, &b->err);
        if (!rc)
            b->state = B_NAME;
    }
    if (rc) {
        if (err) {
            smneo_error_clear(err);
            *err = b->err;
            memset(&b->err, 0, sizeof b->err);
        }
        smneo_call_free(call);
        return rc;
    }
    *out = call;
    return 0;
}

int smneo__s3_bucket_result(char **bucket, char **account, smneo_call *call, smneo_error *err)
{
    if (bucket)
        *bucket = NULL;
    if (account)
        *account = NULL;
    if (!call || call->kind != KIND_MACHINE || call->ops != &bm_ops)
        return smneo__error(err, SMNEO_EINVAL, "not a default bucket machine");
    bm *b = call->impl;
    if (b->state != B_DONE)
        return smneo__error(err, SMNEO_EINVAL, "the default bucket machine has not finished");
    if (b->rc) {
        if (err) {
            smneo_error_clear(err);
            *err = b->err;
            memset(&b->err, 0, sizeof b->err);
        }
        return b->rc;
    }
    if (bucket) {
        *bucket = b->bucket;
        b->bucket = NULL;
    }
    if (account) {
        *account = b->account;
        b->account = NULL;
    }
    return 0;
}

int smneo_s3_default_bucket(char **out, smneo_client *c, smneo_error *err)
{
    if (!out)
        return smneo__error(err, SMNEO_EINVAL, "smneo_s3_default_bucket: out is NULL");
    *out = NULL;
    if (!c)
        return smneo__error(err, SMNEO_EINVAL, "smneo_s3_default_bucket: client is NULL");
    smneo_call *call = NULL;
    int rc = smneo__s3_bucket_new(&call, c, 0, NULL, NULL, err);
    if (rc)
        return rc;
    smneo_step st;
    smneo_call_run(&st, call); /* SEND with the client's transport, SLEEP */
    rc = smneo__s3_bucket_result(out, NULL, call, err);
    smneo_call_free(call);
    return rc;
}
