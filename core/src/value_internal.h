/* Private JSON helpers shared by value.c and protocol.c. */
#ifndef SMNEO_VALUE_INTERNAL_H
#define SMNEO_VALUE_INTERNAL_H
#include "internal.h"
#include "smneo/value.h"

/* A structure's member by name (as smneo_shape_member), searched from *next
 * on, wrapping: the service writes members in the model's order, so the one
 * after the last found is usually the one. Sets *next past the member found
 * (start with 0). model.c. */
const smneo_member *smneo__shape_member_next(const smneo_shape *s, const char *name, size_t *next);

/* Appends a JSON string literal (quoted, escaped). */
int smneo__json_escape(smneo_buf *b, const char *s, size_t len);
/* Appends a JSON number for a double (shortest exact form). */
int smneo__json_double(smneo_buf *b, double v);
/* ISO 8601 -> epoch seconds; 0 on success, -1 if not a timestamp. */
int smneo__parse_iso8601(const char *s, double *out);
/* Epoch seconds as decimal text ("1577836800"), as botocore accepts them;
 * 0 on success, -1 otherwise. */
int smneo__parse_epoch_text(const char *s, double *out);
#endif
