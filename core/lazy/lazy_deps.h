/* The front's half of lazy loading (core/lazy/lazy_deps.c): a front that
 * links lazy_deps.c instead of libcurl and libarchive defines this function. */
#ifndef SMNEO_LAZY_DEPS_H
#define SMNEO_LAZY_DEPS_H

#include <stddef.h>

/* dlopens the front's module that links library `lib` ("curl", "archive")
 * and returns its handle; or returns NULL with `error` (of `size` bytes)
 * saying what could not be loaded and what to do. Called once per library,
 * on the first call into it. */
void *smneo__lazy_open(const char *lib, char *error, size_t size);

/* For smneo__lazy_open: dlopens path (RTLD_NOW | RTLD_LOCAL) and returns the
 * handle; or NULL with "smneo could not load <what> (reinstall smneo): <why>"
 * in error. */
void *smneo__lazy_dlopen(const char *path, const char *what, char *error, size_t size);

#endif
