/* Options structs and their versions (docs/c-api.md, "Options structs and
 * their versions"): one layout per public options struct, and the one copy
 * every entry point makes of a caller's struct. Private. */
#ifndef SMNEO_OPTIONS_INTERNAL_H
#define SMNEO_OPTIONS_INTERNAL_H

#include <stddef.h>

#include "smneo.h"

/* What the library knows of one options struct: its name (for messages),
 * its current version, and sizes[v - 1], the size of version v (the offset
 * of the first member version v + 1 added; sizeof the struct for the
 * current one). */
typedef struct smneo__options_layout {
    const char *name;
    const char *init_macro; /* SMNEO_X_OPTIONS_INIT */
    int current;
    const size_t *sizes;
} smneo__options_layout;

extern const smneo__options_layout smneo__client_options_layout, smneo__paginate_options_layout,
    smneo__wait_options_layout, smneo__compile_options_layout, smneo__compile_many_options_layout,
    smneo__pack_options_layout, smneo__inspect_options_layout, smneo__extract_options_layout,
    smneo__digest_options_layout, smneo__curl_options_layout, smneo__validate_options_layout,
    smneo__s3_options_layout, smneo__sigv4_options_layout, smneo__chain_options_layout,
    smneo__joblogs_options_layout, smneo__endpoint_options_layout, smneo__build_options_layout;

/* Copies the caller's struct src (any version from 1 to the current one)
 * into dst, a full-size struct of the current version: the members src's
 * version has are copied, the others are zero (their defaults), and
 * dst->version is the current version. src NULL gives every default.
 * Version 0 or one newer than the library: SMNEO_EINVAL naming the struct
 * and the range accepted (dst is then all defaults too). */
int smneo__options_copy(void *dst, const void *src, const smneo__options_layout *layout, smneo_error *err);

/* The version src was made with (0 when src is NULL). */
static inline int smneo__options_version(const void *src)
{
    return src ? *(const int *)src : 0;
}

#endif
