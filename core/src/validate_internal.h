/* Private: shared pieces of the validator (validate.c: generic shape checks,
 * validate_neo.c: Neo rules, validate_text.c: CompilerOptions; json.c: JSON helpers). */
#ifndef SMNEO_VALIDATE_INTERNAL_H
#define SMNEO_VALIDATE_INTERNAL_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"
#include "json_internal.h"
#include "smneo/model.h"
#include "smneo/validate.h"

typedef struct smneo__vctx {
    smneo_issues *issues;
    int allow_unknown_enum_values;
    int oom; /* an allocation failed: the result is incomplete */
    int response; /* 1: a response checked as botocore's Stubber checks one (required, unknown members,
                     types, minimum lengths and values; no maximum, pattern, enum or Neo rule) */
} smneo__vctx;

/* Adds an issue; on allocation failure sets ctx->oom. */
void smneo__v_add(smneo__vctx *ctx, smneo_severity sev, const char *path, const char *rule, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 5, 6)))
#endif
    ;
#define V_ERR(ctx, path, rule, ...) smneo__v_add((ctx), SMNEO_SEVERITY_ERROR, (path), (rule), __VA_ARGS__)
#define V_WARN(ctx, path, rule, ...) smneo__v_add((ctx), SMNEO_SEVERITY_WARNING, (path), (rule), __VA_ARGS__)

/* Paths: "a" + "b" -> "a.b" ("" + "b" -> "b"); "a" + [3] -> "a[3]". Caller
 * frees; NULL on allocation failure (sets ctx->oom). */
char *smneo__path_member(smneo__vctx *ctx, const char *parent, const char *member);
char *smneo__path_index(smneo__vctx *ctx, const char *parent, size_t i);

/* Whole-string match of a regex (PCRE2, UTF + UCP, anchored at both ends).
 * Compiled patterns are cached process-wide (thread-safe). Returns 1 match,
 * 0 no match, -1 the pattern or the subject could not be used. */
int smneo__regex_full_match(const char *pattern, const char *subject, size_t len);

/* How many patterns were compiled so far (tests: each is compiled once). */
size_t smneo__regex_compile_count(void);

/* Number of Unicode code points in a UTF-8 string; (size_t)-1 if invalid UTF-8. */
size_t smneo__utf8_length(const char *s, size_t len);

/* Closest candidate for a near miss (case-insensitive equal, or a small edit
 * distance); NULL when nothing is close. */
const char *smneo__closest(const char *s, const char *const *cands, size_t n);
/* The closest candidate whatever the distance (NULL only when n == 0). */
const char *smneo__closest_any(const char *s, const char *const *cands, size_t n);
size_t smneo__edit_distance(const char *a, const char *b);

/* Timestamps: an epoch number or an ISO 8601 string. Returns 0 and the epoch
 * seconds, or -1 when the value is neither. */
int smneo__timestamp_value(const cJSON *v, double *out);

/* Validates an already parsed params object (the caller checked it is a JSON
 * object from the strict parser, with no NUL). 0 or SMNEO_ENOMEM; *out is
 * caller-owned. Used by the request path so params are parsed only once. */
int smneo__validate_node(smneo_issues **out, const smneo_operation *op, const cJSON *root,
                         int allow_unknown_enum_values);

/* Neo rules for an operation (called after the generic checks). */
void smneo__validate_neo(smneo__vctx *ctx, const smneo_operation *op, const cJSON *params);

/* Exposed for the fuzz target: the DataInputConfig and CompilerOptions
 * checks on their own. framework / target may be NULL. */
void smneo__check_data_input_config(smneo__vctx *ctx, const char *text, const char *framework, const char *device,
                                    int platform);
void smneo__check_compiler_options_text(smneo__vctx *ctx, const char *text, const char *framework,
                                        const char *device, const char *os, const char *arch, const char *accel);

/* The validator's reading of CompilerOptions (validate_text.c): JSON, or the
 * Python style of the Neo documentation, as smneo__parse_loose_json. */
cJSON *smneo__read_compiler_options(const char *text, int *python_style, size_t *errpos);

/* What the model layout check needs from CompilerOptions, read by the
 * validator's own reader (JSON, or the Python style of the Neo
 * documentation): *class_labels is a copy of the file name class_labels
 * gives (the caller frees it), NULL when there is none. Returns
 * SMNEO__CO_OK, SMNEO__CO_NOT_OBJECT (the text does not parse, or is not a
 * JSON object: ml_inf1 takes a JSON string of flags), SMNEO__CO_BAD_LABELS
 * (class_labels is not a string) or SMNEO__CO_NOMEM; *class_labels is NULL
 * but for SMNEO__CO_OK. */
enum { SMNEO__CO_OK = 0, SMNEO__CO_NOT_OBJECT, SMNEO__CO_BAD_LABELS, SMNEO__CO_NOMEM };
int smneo__compiler_options_class_labels(const char *text, char **class_labels);

#endif
