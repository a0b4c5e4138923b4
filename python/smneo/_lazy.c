/* The Python extension's half of lazy loading (core/lazy/lazy_deps.c, which
 * setup.py compiles into the extension): libcurl and libarchive are loaded
 * on first use from small modules next to the extension, smneo/_curl*.so and
 * smneo/_archive*.so (python/smneo/deps/), that link them. Layout:
 * docs/architecture.md, "Lazy loading". */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lazy_deps.h"

/* The extension's own path, absolute, taken when it is loaded (a relative
 * sys.path entry would stop resolving after a chdir). */
static char self_path[PATH_MAX];

__attribute__((constructor)) static void locate_self(void)
{
    Dl_info info;
    if (!dladdr((void *)&locate_self, &info) || !info.dli_fname)
        return;
    if (info.dli_fname[0] == '/')
        snprintf(self_path, sizeof self_path, "%s", info.dli_fname);
    else if (!realpath(info.dli_fname, self_path))
        self_path[0] = '\0';
}

/* dlopens smneo/_<lib><suffix>, the suffix being this extension's after
 * "_smneo" (".cpython-311-x86_64-linux-gnu.so"). */
void *smneo__lazy_open(const char *lib, char *error, size_t size)
{
    const char *base = strrchr(self_path, '/');
    if (!base || strncmp(base + 1, "_smneo", 6) != 0) {
        snprintf(error, size, "smneo cannot load _%s: the extension's own path is unknown", lib);
        return NULL;
    }
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%.*s/_%s%s", (int)(base - self_path), self_path, lib, base + 7);
    if (n < 0 || (size_t)n >= sizeof path) {
        snprintf(error, size, "smneo cannot load _%s: path too long", lib);
        return NULL;
    }
    char what[64];
    snprintf(what, sizeof what, "its module smneo._%s", lib);
    return smneo__lazy_dlopen(path, what, error, size);
}
