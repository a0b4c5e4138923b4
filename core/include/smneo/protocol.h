/* smneo/protocol.h: the sans-I/O protocol layer.
 *
 * smneo_protocol_build turns (operation, params, credentials, endpoint,
 * timestamp) into a complete signed request; smneo_protocol_parse turns a
 * response into a result or a typed error. Neither touches a socket. The
 * functions taking an operation name look it up in the client's service
 * (SageMaker, smneo_model_operation); the _operation variants take any
 * service's operation (smneo_service_operation, model.h) and speak the
 * protocol of op->service: AWS JSON (SageMaker, CloudWatch Logs) today;
 * Query and REST-JSON operations are refused with SMNEO_EUNSUPPORTED. */
#ifndef SMNEO_PROTOCOL_H
#define SMNEO_PROTOCOL_H

#include "auth.h"
#include "validate.h"
#include "value.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Build --------------------------------------------------------------- */
typedef struct smneo_build_options {
    int version;                /* SMNEO_BUILD_OPTIONS_VERSION */
    const char *region;         /* signing region (required) */
    const char *endpoint_url;   /* base URL (required; see smneo_endpoint_resolve) */
    int64_t timestamp;          /* signing time, epoch seconds (0: now) */
    int validation;             /* smneo_validation_mode (0: STRICT, which refuses errors) */
    int allow_unknown_enum_values;
    const char *user_agent;     /* NULL: "smneo/<version>" */
} smneo_build_options;

#define SMNEO_BUILD_OPTIONS_VERSION 1
#define SMNEO_BUILD_OPTIONS_INIT {.version = SMNEO_BUILD_OPTIONS_VERSION}
/* Zeroes *opts (the size of that version) and sets its version; SMNEO_EINVAL for a version
 * outside 1 to SMNEO_BUILD_OPTIONS_VERSION. For programs that cannot use the macro (FFI). */
SMNEO_EXTERN(int) smneo_build_options_init(smneo_build_options *opts, int version);

/* Builds the complete signed request. params_json may be NULL (= "{}").
 * With validation on, issues are checked first: errors refuse the request
 * (SMNEO_EVALIDATION, err->issues) in STRICT mode. The body lists members in
 * the shape's order; request timestamps become integer epoch seconds.
 * *out is caller-owned (smneo_request_free). */
SMNEO_EXTERN(int) smneo_protocol_build(smneo_request **out, const char *operation, const char *params_json,
                                       size_t params_len, const smneo_credentials *creds,
                                       const smneo_build_options *opts, smneo_error *err);

/* smneo_protocol_build for an operation of any service: X-Amz-Target is
 * op->service->target_prefix + "." + op->name, the content type
 * application/x-amz-json-<json_version>, the SigV4 service name
 * op->service->signing_name. opts->endpoint_url must be that service's
 * endpoint. *out is caller-owned (smneo_request_free). */
SMNEO_EXTERN(int) smneo_protocol_build_operation(smneo_request **out, const smneo_operation *op,
                                                 const char *params_json, size_t params_len,
                                                 const smneo_credentials *creds, const smneo_build_options *opts,
                                                 smneo_error *err);

/* Serializes params to the request body only (no signing): caller-owned
 * JSON text in *out (free()). */
SMNEO_EXTERN(int) smneo_protocol_serialize(char **out, size_t *out_len, const char *operation,
                                           const char *params_json, size_t params_len, smneo_error *err);

/* ---- Parse --------------------------------------------------------------- */
typedef struct smneo_result smneo_result;

/* Parses a response. 2xx: a result (caller-owned, smneo_result_free). Else
 * (or a malformed 2xx body) a negative code with err filled: service_code
 * from __type (after '#', before ':') or the x-amzn-ErrorType header,
 * message, http_status, request_id, retryable, and err->response set to a
 * copy of the response. */
SMNEO_EXTERN(int) smneo_protocol_parse(smneo_result **out, const char *operation, const smneo_response *resp,
                                       smneo_error *err);

/* smneo_protocol_parse for an operation of any service (op->service's protocol). */
SMNEO_EXTERN(int) smneo_protocol_parse_operation(smneo_result **out, const smneo_operation *op,
                                                 const smneo_response *resp, smneo_error *err);

SMNEO_EXTERN(void) smneo_result_free(smneo_result *r);
/* The parsed body (an object; an empty object for operations without output). */
SMNEO_EXTERN(void) smneo_result_root(smneo_value *out, const smneo_result *r);
SMNEO_EXTERN(const char *) smneo_result_request_id(const smneo_result *r); /* borrowed or NULL */
SMNEO_EXTERN(int) smneo_result_status(const smneo_result *r);
/* Attempts made to get this result (1 = first try). */
SMNEO_EXTERN(int) smneo_result_attempts(const smneo_result *r);
/* The raw response (borrowed, lives as long as the result). */
SMNEO_EXTERN(const smneo_response *) smneo_result_response(const smneo_result *r);

/* Validation issues that did not stop the request: the warnings (and, with
 * validation "warn", the errors too) found before it was sent. Borrowed;
 * NULL when there were none. Set on results of client calls and waits. */
SMNEO_EXTERN(const smneo_issues *) smneo_result_issues(const smneo_result *r);

/* Maps a service error code to an SMNEO_E* code and a retryable flag. */
SMNEO_EXTERN(int) smneo_protocol_error_class(int *retryable, const char *service_code, int http_status);

#ifdef __cplusplus
}
#endif
#endif
