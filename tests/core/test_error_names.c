/* The one vocabulary of error codes and compile events (core/src/error.c):
 * every code has a name and a kind, names are unique, unknown codes and
 * events get a fixed fallback; the bindings print these. */
#include <string.h>

#include "harness.h"
#include "smneo.h"

static void test_every_code_named(void)
{
    const char *seen[64] = {0};
    int n = 0;
    for (int code = SMNEO_EABSENT; code <= 0; code++) { /* SMNEO_EABSENT is the lowest code */
        const char *name = smneo_error_name(code);
        CHECK(name != NULL);
        CHECK(strcmp(name, "UnknownError") != 0);
        CHECK(strcmp(smneo_error_kind(code), "") != 0);
        for (int i = 0; i < n; i++)
            CHECK(strcmp(seen[i], name) != 0);
        if (n < 64)
            seen[n++] = name;
        CHECK_STR(smneo_strerror(code), name);
    }
    CHECK_STR(smneo_error_name(SMNEO_ITEROVER), "IterOver");
    CHECK_STR(smneo_error_kind(SMNEO_ITEROVER), "iteration");
    CHECK_STR(smneo_error_name(SMNEO_EABSENT), "Absent");
    CHECK_STR(smneo_error_name(SMNEO_ETHROTTLED), "Throttled");
    CHECK_STR(smneo_error_name(SMNEO_ECANCELLED), "Cancelled");
    CHECK_STR(smneo_error_kind(SMNEO_EDNS), "connection");
    CHECK_STR(smneo_error_kind(SMNEO_ECLOSED), "connection");
    CHECK_STR(smneo_error_kind(SMNEO_ENOTFOUND), "service");
    CHECK_STR(smneo_error_name(-999), "UnknownError");
    CHECK_STR(smneo_error_name(5), "UnknownError");
}

static void test_compile_event_names(void)
{
    CHECK_STR(smneo_compile_event_name(SMNEO_COMPILE_EVENT_PACKED), "PACKED");
    CHECK_STR(smneo_compile_event_name(SMNEO_COMPILE_EVENT_LOG), "LOG");
    CHECK_STR(smneo_compile_event_name(SMNEO_COMPILE_EVENT_DONE), "DONE");
    CHECK_STR(smneo_compile_event_name(0), "UNKNOWN");
    CHECK_STR(smneo_compile_event_name(SMNEO_COMPILE_EVENT_DONE + 1), "UNKNOWN");
    CHECK_STR(smneo_compile_event_name(-1), "UNKNOWN");
}

int main(void)
{
    RUN(test_every_code_named);
    RUN(test_compile_event_names);
    return smneo_test_summary("test_error_names");
}
