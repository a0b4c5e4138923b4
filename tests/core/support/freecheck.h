/* A free() wrapper for the C tests: does the library wipe its secrets?
 *
 * A test binary linked with
 *   -Wl,--wrap=free -Wl,--wrap=realloc -Wl,--wrap=curl_slist_free_all
 * sends every free(), realloc() and curl_slist_free_all() of the objects
 * linked into it (libsmneo.a among them) through this file. While checking
 * is armed on the calling thread, a block that still holds a watched secret
 * when it is freed (or handed to realloc, which may leave the old block
 * behind unwiped) is counted as a leak. Frees made inside shared libraries
 * (libcurl's, cJSON's own) are not seen: those copies are out of the
 * library's reach. Threads other than the armed one (a test server) are not
 * checked.
 *
 * Under glibc the heap is not wiped between uses, so a fresh block can carry
 * someone else's stale bytes past what its owner wrote; freecheck_prepare()
 * makes glibc wipe every freed block (GLIBC_TUNABLES perturb, no tcache) so
 * that what is found was left by the block's own owner. Under ASan the
 * allocator's quarantine and fill do the same. */
#ifndef SMNEO_TEST_FREECHECK_H
#define SMNEO_TEST_FREECHECK_H

#include <stddef.h>

/* Call first in main(): re-executes the test once under glibc with the
 * tunables above (no-op under ASan or when already set). */
void freecheck_prepare(char **argv);
/* Adds a secret to look for (up to 8; the string must outlive the test). */
void freecheck_watch(const char *secret);
/* Arms (1) or disarms (0) checking on the calling thread; FREECHECK_QUIET
 * arms it without printing what is found (the wrapper's own test). */
#define FREECHECK_QUIET 2
void freecheck_arm(int on);
/* Leaks seen since the last reset, and a description of the first one. */
int freecheck_leaks(void);
const char *freecheck_first(void);
void freecheck_reset(void);

#endif
