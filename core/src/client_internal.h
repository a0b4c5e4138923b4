/* Private client hooks for other core modules (S3 transfers). Not installed. */
#ifndef SMNEO_CLIENT_INTERNAL_H
#define SMNEO_CLIENT_INTERNAL_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "smneo/auth.h"
#include "smneo/client.h"

/* The resolved S3 endpoint URL, e.g. "https://s3.us-east-1.amazonaws.com" or
 * the local endpoint's URL (borrowed). */
const char *smneo__client_s3_endpoint(const smneo_client *c);
/* The resolved CloudWatch Logs endpoint URL (borrowed). */
const char *smneo__client_logs_endpoint(const smneo_client *c);
/* The resolved STS endpoint URL (borrowed), or NULL when STS has none for
 * the client's region and settings. */
const char *smneo__client_sts_endpoint(const smneo_client *c);
/* A single call (with retries) of an operation of any service the client
 * has an endpoint for (SageMaker, CloudWatch Logs, STS): smneo_call_new by
 * operation descriptor. */
int smneo__call_op_new(smneo_call **out, smneo_client *c, const smneo_operation *op, const char *params, size_t len,
                       smneo_error *err);
/* The client's transport (borrowed; NULL with no_transport). */
smneo_transport *smneo__client_transport(const smneo_client *c);
smneo_credential_chain *smneo__client_chain(const smneo_client *c);
/* Current credentials from the client's chain (caller-owned *out). */
int smneo__client_credentials(smneo_credentials **out, smneo_client *c, smneo_error *err);

/* The client's retry policy (mode, max_attempts, retry quota, backoff).
 * After a failed attempt number `attempt` (1-based) with code rc and details
 * e: returns 1 and the delay before the next attempt when it should be
 * retried (a retry cost is taken from the quota and remembered in
 * *quota_cost), else 0. rng: caller's jitter state (any seed). */
int smneo__retry_next(smneo_client *c, int rc, const smneo_error *e, int attempt, uint64_t *rng, int *quota_cost,
                      double *delay_s, int *quota_reached);
/* The same for S3 requests (s3 = 1: legacy mode also retries a 400
 * RequestTimeout or BadDigest, as botocore's _retry.json for s3).
 * *quota_reached (may be NULL) is 1 when a retry was due but the retry
 * quota had too little left (botocore's RetryQuotaReached), else 0. */
int smneo__retry_next_s3(smneo_client *c, int rc, const smneo_error *e, int attempt, uint64_t *rng, int *quota_cost,
                         double *delay_s, int s3, int *quota_reached);
/* Adaptive mode: seconds to wait for a send token (0: go), and the rate
 * update after each answer (rc 0 for a success). No-ops in other modes. */
double smneo__client_rate_acquire(smneo_client *c);
void smneo__client_rate_update(smneo_client *c, int rc, const smneo_error *e);
struct smneo_ratelimit;
struct smneo_ratelimit *smneo__client_ratelimit(smneo_client *c);
/* How S3 transfers address a bucket (resolved once per client). */
enum { SMNEO__S3_STYLE_AUTO = 0, SMNEO__S3_STYLE_VIRTUAL = 1, SMNEO__S3_STYLE_PATH = 2 };
int smneo__client_s3_style(const smneo_client *c);
/* The retry quota left (tests). */
int smneo__client_quota(smneo_client *c);
/* After a successful attempt: gives back the retry cost (or the refund). */
void smneo__retry_succeeded(smneo_client *c, int *quota_cost);

/* A create that meets its own resource (client_create.c). The describe
 * operation paired with a create ("CreateX" -> "DescribeX"), or NULL. */
const smneo_operation *smneo__create_describe_op(const smneo_operation *create);
/* The describe's parameters (its required members, from the create's);
 * SMNEO_EINVAL when the create's parameters lack one. */
int smneo__create_describe_params(cJSON **out, const smneo_operation *describe, const cJSON *params);
/* 1 when the description holds every value the create's parameters give
 * (members the describe output does not model, such as Tags, and members
 * left out are not compared; enum values case-insensitively) and the
 * members the create answers with; else 0. */
int smneo__create_is_ours(const smneo_operation *create, const cJSON *params, const cJSON *description);
/* The create's result made of the description (its output members), with
 * the description's response. */
int smneo__create_result(smneo_result **out, const smneo_operation *create, smneo_result *description);

#endif
