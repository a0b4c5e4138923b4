/* Private protocol helpers used by the client state machine. */
#ifndef SMNEO_PROTOCOL_INTERNAL_H
#define SMNEO_PROTOCOL_INTERNAL_H
#include <cjson/cJSON.h>

#include "smneo/protocol.h"

int smneo__parse_params(cJSON **out, const char *params_json, size_t len, smneo_error *err);
int smneo__serialize_node(char **out, size_t *out_len, const smneo_operation *op, const cJSON *params);
/* Validates per mode. Issues that do not stop the request (warnings; every
 * issue in WARN mode) are handed to *kept when it is non-NULL (NULL when
 * there are none), else logged and dropped. */
int smneo__validate_gate(const smneo_operation *op, const cJSON *params, int mode, int allow_unknown_enums,
                         smneo_issues **kept, smneo_error *err);
/* Moves issues into the result (the result owns them afterwards). */
void smneo__result_set_issues(smneo_result *r, smneo_issues *issues);
/* Builds and signs a request for an already-serialized body. */
int smneo__build_signed(smneo_request **out, const smneo_operation *op, const char *body, size_t body_len,
                        const smneo_credentials *creds, const smneo_build_options *o, smneo_error *err);
/* Parses and takes ownership of resp (kept in the result or err->response). */
int smneo__protocol_parse_owned(smneo_result **out, const smneo_operation *op, smneo_response *resp,
                                smneo_error *err);
void smneo__result_set_attempts(smneo_result *r, int attempts);
/* A result of op holding root and resp (both owned afterwards, freed on
 * failure too). */
int smneo__result_new(smneo_result **out, const smneo_operation *op, cJSON *root, smneo_response *resp);
/* Takes the response out of a result (the result keeps no request id). */
smneo_response *smneo__result_take_response(smneo_result *r);
const void *smneo__result_root_node(const smneo_result *r);
int smneo__is_throttling(const char *code);
int smneo__build_url(char **out, const char *endpoint_url);
#endif
