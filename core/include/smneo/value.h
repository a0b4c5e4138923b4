/* smneo/value.h: how bindings hand parameters to the core and read results.
 *
 * In: parameters are JSON text (UTF-8). Bindings build it with the small
 * writer below, which handles escaping; timestamps may be written as epoch
 * seconds (number) or ISO 8601 strings, the core converts by shape.
 *
 * Out: results are walked with a visitor that receives typed events driven
 * by the shape table, so a binding never guesses which number is a
 * timestamp. */
#ifndef SMNEO_VALUE_H
#define SMNEO_VALUE_H

#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- JSON writer ----------------------------------------------------- */
typedef struct smneo_jsonw smneo_jsonw;

SMNEO_EXTERN(int) smneo_jsonw_new(smneo_jsonw **out);
SMNEO_EXTERN(void) smneo_jsonw_free(smneo_jsonw *w);
SMNEO_EXTERN(void) smneo_jsonw_reset(smneo_jsonw *w);
/* Structure calls; commas are inserted automatically. */
SMNEO_EXTERN(int) smneo_jsonw_begin_object(smneo_jsonw *w);
SMNEO_EXTERN(int) smneo_jsonw_end_object(smneo_jsonw *w);
SMNEO_EXTERN(int) smneo_jsonw_begin_array(smneo_jsonw *w);
SMNEO_EXTERN(int) smneo_jsonw_end_array(smneo_jsonw *w);
SMNEO_EXTERN(int) smneo_jsonw_key(smneo_jsonw *w, const char *key, size_t len);
SMNEO_EXTERN(int) smneo_jsonw_string(smneo_jsonw *w, const char *s, size_t len);
SMNEO_EXTERN(int) smneo_jsonw_int(smneo_jsonw *w, int64_t v);
SMNEO_EXTERN(int) smneo_jsonw_double(smneo_jsonw *w, double v); /* NaN/Inf: SMNEO_EINVAL */
SMNEO_EXTERN(int) smneo_jsonw_bool(smneo_jsonw *w, int v);
SMNEO_EXTERN(int) smneo_jsonw_null(smneo_jsonw *w);
/* Inserts already-valid JSON text as one value. */
SMNEO_EXTERN(int) smneo_jsonw_raw(smneo_jsonw *w, const char *json, size_t len);
/* The text so far (borrowed, NUL-terminated, valid until the next call). */
SMNEO_EXTERN(const char *) smneo_jsonw_data(size_t *len, const smneo_jsonw *w);

/* ---- Typed walk over a result ------------------------------------------ */
/* Each callback returns 0 to continue or non-zero to stop the walk (the walk
 * then returns that value). Any callback may be NULL (the event is skipped).
 * `shape` is the model shape of the value (NULL for values the model does
 * not describe, e.g. members newer than the table: they are delivered with
 * their JSON type). Members appear in the order of the response. */
typedef struct smneo_visitor {
    int (*begin_object)(void *payload, const smneo_shape *shape, size_t count);
    int (*end_object)(void *payload);
    int (*begin_array)(void *payload, const smneo_shape *shape, size_t count);
    int (*end_array)(void *payload);
    int (*key)(void *payload, const char *key, size_t len);
    int (*string)(void *payload, const char *s, size_t len);
    int (*integer)(void *payload, int64_t v);
    int (*number)(void *payload, double v);
    int (*boolean)(void *payload, int v);
    int (*timestamp)(void *payload, double epoch_seconds);
    int (*null)(void *payload);
} smneo_visitor;

/* A borrowed view of one value of a parsed document together with its
 * shape: results and paginator items hand these out; valid as long as the
 * object they came from. */
typedef struct smneo_value {
    const void *node;          /* private */
    const smneo_shape *shape;
} smneo_value;

SMNEO_EXTERN(int) smneo_value_walk(const smneo_value *v, const smneo_visitor *vis, void *payload);
/* Compact JSON text of the value (caller-owned, free()). */
SMNEO_EXTERN(int) smneo_value_to_json(char **out, const smneo_value *v);
/* Member of an object value by name; returns 0 and fills *out, or
 * SMNEO_EABSENT when v is not an object or has no such member. */
SMNEO_EXTERN(int) smneo_value_get(smneo_value *out, const smneo_value *v, const char *name);
/* String content of a string value (borrowed) or NULL. */
SMNEO_EXTERN(const char *) smneo_value_string(const smneo_value *v);

#ifdef __cplusplus
}
#endif
#endif
