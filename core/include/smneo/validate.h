/* smneo/validate.h: validation of operation parameters before sending. */
#ifndef SMNEO_VALIDATE_H
#define SMNEO_VALIDATE_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct smneo_issue {
    smneo_severity severity;
    const char *path;    /* "OutputConfig.CompilerOptions.gpu-code", "Tags[3].Key", "" for the root */
    const char *rule;    /* stable rule id, listed in docs/validation.md */
    const char *message; /* what is wrong and what to change */
} smneo_issue;

/* How much a request's validation holds it back (smneo_client_options and
 * smneo_build_options' `validation`). */
typedef enum {
    SMNEO_VALIDATION_STRICT = 0, /* the default: errors refuse the request */
    SMNEO_VALIDATION_WARN = 1,
    SMNEO_VALIDATION_OFF = 2
} smneo_validation_mode;

typedef struct smneo_validate_options {
    int version;                    /* SMNEO_VALIDATE_OPTIONS_VERSION */
    int allow_unknown_enum_values;  /* 1: unknown enum values pass (newer than the table) */
} smneo_validate_options;

#define SMNEO_VALIDATE_OPTIONS_VERSION 1
#define SMNEO_VALIDATE_OPTIONS_INIT {.version = SMNEO_VALIDATE_OPTIONS_VERSION}
/* Zeroes *opts (the size of that version) and sets its version; SMNEO_EINVAL for a version
 * outside 1 to SMNEO_VALIDATE_OPTIONS_VERSION. For programs that cannot use the macro (FFI). */
SMNEO_EXTERN(int) smneo_validate_options_init(smneo_validate_options *opts, int version);

/* Validates params (JSON text) for an operation; every problem is reported.
 * *out is caller-owned (smneo_issues_free), possibly empty. Returns 0 when
 * validation ran (even with issues), SMNEO_EINVAL for an unknown operation,
 * SMNEO_EVALIDATION when the params are not a JSON object (with one issue:
 * in err->issues, owned by err, or in *out when err is NULL). */
SMNEO_EXTERN(int) smneo_validate(smneo_issues **out, const char *operation, const char *params_json, size_t len,
                                 const smneo_validate_options *opts, smneo_error *err);
/* Checks a response (JSON text: the parsed form a stubber queues, without or
 * with ResponseMetadata, which is ignored) against the operation's output
 * shape as botocore's Stubber checks one (validate_parameters on the output
 * shape): required and unknown members, types, minimum lengths and values;
 * no maximum, pattern or enum. An operation that returns nothing takes only
 * an empty object. *out is caller-owned (smneo_issues_free), empty when the
 * response fits. SMNEO_EINVAL for an unknown operation or text that is not a
 * JSON object. Used by the bindings' stubbers (smneo.stub). */
SMNEO_EXTERN(int) smneo_validate_response(smneo_issues **out, const char *operation, const char *json, size_t len,
                                          smneo_error *err);
SMNEO_EXTERN(void) smneo_issues_free(smneo_issues *issues);
SMNEO_EXTERN(size_t) smneo_issues_count(const smneo_issues *issues);
/* Borrowed; lives as long as `issues`. NULL past the end. */
SMNEO_EXTERN(const smneo_issue *) smneo_issues_at(const smneo_issues *issues, size_t i);
SMNEO_EXTERN(size_t) smneo_issues_error_count(const smneo_issues *issues);

/* Builders (used by the validator, the artifact layout checks and bindings). */
SMNEO_EXTERN(int) smneo_issues_new(smneo_issues **out);
SMNEO_EXTERN(int) smneo_issues_add(smneo_issues *issues, smneo_severity sev, const char *path, const char *rule,
                                   const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 5, 6)))
#endif
    ;

#ifdef __cplusplus
}
#endif
#endif
