/* Private pieces of compile.c, exposed for its tests. Not installed. */
#ifndef SMNEO_COMPILE_INTERNAL_H
#define SMNEO_COMPILE_INTERNAL_H

#include "smneo/compile.h"

/* A unique CompilationJobName from `base` (a job name or a file name; NULL:
 * "model"): characters outside [a-zA-Z0-9-] become '-', runs of '-' are
 * collapsed, leading non-alphanumerics and trailing '-' are dropped, the
 * result is cut so that base + "-YYYYMMDDhhmmss-xxxx" fits in 63
 * characters. `now` is the wall clock (epoch seconds), `rnd` 16 random bits.
 * Caller frees. */
char *smneo__compile_job_name(const char *base, int64_t now, unsigned rnd);

#endif
