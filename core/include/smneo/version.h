/* smneo/version.h: the one place the version of smneo is written.
 *
 * CMakeLists.txt (project version, SONAME, smneo.pc), setup.py (the Python
 * package), the extension modules (smneo.__version__, Lua's _VERSION) and the
 * CLI (smneo --version) all read it from here; nothing else spells it out.
 * Keep the three numbers on lines of the form "#define SMNEO_VERSION_X <n>":
 * the build scripts parse them.
 *
 * SMNEO_VERSION is the version of the headers a program was compiled with;
 * smneo_version() (common.h) is the version of the library it runs with. */
#ifndef SMNEO_VERSION_H
#define SMNEO_VERSION_H

#define SMNEO_VERSION_MAJOR 1
#define SMNEO_VERSION_MINOR 0
#define SMNEO_VERSION_PATCH 0

#define SMNEO__STRINGIFY2(x) #x
#define SMNEO__STRINGIFY(x) SMNEO__STRINGIFY2(x)

/* "MAJOR.MINOR.PATCH", e.g. "1.0.0". */
#define SMNEO_VERSION                                                                                        \
    SMNEO__STRINGIFY(SMNEO_VERSION_MAJOR) "." SMNEO__STRINGIFY(SMNEO_VERSION_MINOR) "." SMNEO__STRINGIFY(    \
        SMNEO_VERSION_PATCH)

/* One number for #if comparisons: 1.2.3 is 10203 (minor and patch below 100). */
#define SMNEO_VERSION_NUMBER (SMNEO_VERSION_MAJOR * 10000 + SMNEO_VERSION_MINOR * 100 + SMNEO_VERSION_PATCH)

#endif
