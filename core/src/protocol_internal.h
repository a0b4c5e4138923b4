/* Private protocol helpers used by the client state machine. */
#ifndef SMNEO_PROTOCOL_INTERNAL_H
#define SMNEO_PROTOCOL_INTERNAL_H
#include <cjson/cJSON.h>

#include "internal.h"
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
/* Builds and signs (unless the operation is unauthenticated) a request for
 * an already-serialized body; params for REST's located members. */
int smneo__build_signed(smneo_request **out, const smneo_operation *op, const cJSON *params, const char *body,
                        size_t body_len, const smneo_credentials *creds, const smneo_build_options *o,
                        smneo_error *err);
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

/* Wipes every string of a cJSON tree (secrets), then deletes it. */
void smneo__json_wipe_delete(cJSON *j);

/* ---- AWS Query (protocol_query.c) ---- */
/* RFC 3986 percent-encoding, unreserved characters kept. */
int smneo__form_escape(smneo_buf *b, const char *s, size_t n);
/* Action=...&Version=...&<params>; *out is wiped-on-free material (it may
 * hold a token): wipe it before free. */
int smneo__query_serialize(char **out, size_t *out_len, const smneo_operation *op, const cJSON *params);
/* The result element of an XML answer as the output shape's JSON tree. */
int smneo__query_parse_body(cJSON **out, const smneo_operation *op, const char *body, size_t len);
/* Code, Message and RequestId of an XML error document (each may be NULL);
 * 0 when it is one, -1 when not. */
int smneo__query_parse_error(char **code, char **message, char **request_id, const char *body, size_t len);
typedef struct smneo_xml smneo_xml;
smneo_xml *smneo__xml_parse(const char *body, size_t len);
void smneo__xml_free(smneo_xml *x);
const smneo_xml *smneo__xml_child(const smneo_xml *x, const char *name);
const char *smneo__xml_text(const smneo_xml *x);
const char *smneo__xml_name(const smneo_xml *x);

/* ---- REST-JSON (protocol_rest.c) ---- */
/* The request of a REST-JSON operation: method, URI (labels filled, query
 * string), located headers and the JSON body of the body members. */
int smneo__rest_build(smneo_request **out, const smneo_operation *op, const cJSON *params, const char *endpoint_url,
                      smneo_error *err);
/* Moves header-located output members from resp into root. */
int smneo__rest_parse_headers(cJSON *root, const smneo_operation *op, const smneo_response *resp);
#endif
