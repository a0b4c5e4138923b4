/* Private: the JSON helpers (json.c) that the validator, the protocol and the artifact code share. Not
 * installed. */
#ifndef SMNEO_JSON_INTERNAL_H
#define SMNEO_JSON_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "smneo/model.h"

/* JSON numbers: 1 when integral and representable in int64. */
int smneo__json_int(const cJSON *v, int64_t *out);

/* Strict JSON parse of exactly len bytes, as Python's json.loads: only JSON
 * whitespace (space, tab, LF, CR) may come before or after the value. NULL
 * when it does not parse; *errpos (if non-NULL) is then the byte offset of
 * the problem and *trailing (if non-NULL) 1 when a complete value was
 * followed by other text. */
cJSON *smneo__parse_json_strict(const char *text, size_t len, size_t *errpos, int *trailing);
/* The strict parse's fast path alone: the same tree cJSON would make, or NULL
 * where it leaves the text to cJSON (tests/core/test_json.c). */
cJSON *smneo__parse_json_fast(const char *text, size_t len);
/* The same, reading a document of `shape` (a response's output): the keys of
 * its structures' known members are the model's static names, flagged
 * cJSON_StringIsConst, instead of allocated copies (the tree is otherwise
 * the same; cJSON_Delete and cJSON_Duplicate handle such keys). shape NULL:
 * as the unshaped calls. */
cJSON *smneo__parse_json_fast_shaped(const char *text, size_t len, const smneo_shape *shape);
cJSON *smneo__parse_json_strict_shaped(const char *text, size_t len, const smneo_shape *shape, size_t *errpos,
                                       int *trailing);
cJSON *smneo__parse_json_exact(const char *text, size_t len, size_t *errpos);

/* Offset of the first NUL character in JSON text (a raw 0 byte, or a
 * \u0000 escape inside a string), or -1. cJSON keeps strings as C strings
 * and would silently cut a name or value there ("Name\u0000x" -> "Name"). */
long smneo__json_find_nul(const char *text, size_t len);

/* Tolerant parse of a JSON text that may be written in Python style (single
 * quotes, True/False/None) as the Neo documentation does. *python_style is set
 * to 1 when the text only parsed after that conversion. NULL when it parses
 * neither way; then *errpos (if non-NULL) holds the byte offset of the
 * failure in the original text. */
cJSON *smneo__parse_loose_json(const char *text, size_t len, int *python_style, size_t *errpos);

#endif
