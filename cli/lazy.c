/* The CLI's half of lazy loading (core/lazy/lazy_deps.c): the CLI links
 * neither libcurl nor libarchive, so a command that sends no request and
 * touches no archive (digest, verify, validate, explain, help) starts without
 * loading their dependency trees. The first request dlopens the plugin
 * smneo-curl.so, the first archive smneo-archive.so (cli/plugin/plugin.c),
 * each linking its library. They are looked up relative to the executable:
 *
 *   <bindir>/SMNEO_CLI_PLUGIN_RELDIR/   installed: cmake --install puts the
 *                                      plugins in <libdir>/smneo
 *   <dir of the executable>/smneo-plugins/   the build tree (build/smneo)
 *
 * docs/architecture.md, "Lazy loading"; smneo(1), FILES. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lazy_deps.h"

#ifndef SMNEO_CLI_PLUGIN_RELDIR
#error "SMNEO_CLI_PLUGIN_RELDIR (the plugins' directory relative to the executable's) is set by cmake/cli.cmake"
#endif

void *smneo__lazy_open(const char *lib, char *error, size_t size)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        snprintf(error, size, "smneo cannot find its plugin smneo-%s.so: /proc/self/exe: %s", lib,
                 n < 0 ? strerror(errno) : "empty");
        return NULL;
    }
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    int dirlen = slash ? (int)(slash - exe) : 0;
    char installed[PATH_MAX], built[PATH_MAX];
    int a = snprintf(installed, sizeof installed, "%.*s/%s/smneo-%s.so", dirlen, exe, SMNEO_CLI_PLUGIN_RELDIR, lib);
    int b = snprintf(built, sizeof built, "%.*s/smneo-plugins/smneo-%s.so", dirlen, exe, lib);
    if (a < 0 || (size_t)a >= sizeof installed || b < 0 || (size_t)b >= sizeof built) {
        snprintf(error, size, "smneo cannot find its plugin smneo-%s.so: path too long", lib);
        return NULL;
    }
    const char *path = access(installed, F_OK) == 0 || access(built, F_OK) != 0 ? installed : built;
    char what[64];
    snprintf(what, sizeof what, "its plugin for lib%s", lib);
    return smneo__lazy_dlopen(path, what, error, size);
}
