/* The version: written once in smneo/version.h; the library reports the one
 * it was built with. (tests/python/test_version.py compares every other
 * place that shows it: Python, Lua, the CLI, smneo.pc, the SONAME.) */
#include <stdio.h>

#include "harness.h"
#include "smneo.h"

static void test_header_and_library_agree(void)
{
    char numbers[64];
    snprintf(numbers, sizeof numbers, "%d.%d.%d", SMNEO_VERSION_MAJOR, SMNEO_VERSION_MINOR, SMNEO_VERSION_PATCH);
    CHECK_STR(SMNEO_VERSION, numbers);
    CHECK_STR(smneo_version(), SMNEO_VERSION);
    CHECK_INT(SMNEO_VERSION_NUMBER, SMNEO_VERSION_MAJOR * 10000 + SMNEO_VERSION_MINOR * 100 + SMNEO_VERSION_PATCH);
    CHECK(SMNEO_VERSION_MINOR < 100 && SMNEO_VERSION_PATCH < 100);
#if SMNEO_VERSION_NUMBER < 10000
#error "smneo 1.0 or later: the preprocessor comparison documented in version.h must work"
#endif
}

int main(void)
{
    RUN(test_header_and_library_agree);
    return smneo_test_summary("test_version");
}
