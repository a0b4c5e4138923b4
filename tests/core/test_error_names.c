/* The one vocabulary of error codes and compile events (core/src/error.c):
 * every code has a name and a kind, names are unique, unknown codes and
 * events get a fixed fallback; the bindings print these. */
#include <stddef.h>
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

/* compile()'s keywords (smneo_compile_option_at): every member of smneo_compile_options a
 * caller sets, once each, without overlap; the bindings and the CLI read this table. */
static void test_compile_option_table(void)
{
    size_t sizes[] = {0, sizeof(const char *), sizeof(const char *), sizeof(int), sizeof(double), sizeof(int)};
    unsigned char used[sizeof(smneo_compile_options)] = {0};
    size_t n = 0, compile_only = 0;
    const smneo_compile_option_info *o;
    for (; (o = smneo_compile_option_at(n)); n++) {
        CHECK(o->type >= SMNEO_COMPILE_OPTION_STRING && o->type <= SMNEO_COMPILE_OPTION_FLAG);
        CHECK(o->offset >= sizeof(int) && o->offset + sizes[o->type] <= sizeof(smneo_compile_options));
        for (size_t b = o->offset; b < o->offset + sizes[o->type] && b < sizeof used; b++) {
            CHECK(!used[b]);
            used[b] = 1;
        }
        for (size_t j = 0; j < n; j++)
            CHECK(strcmp(smneo_compile_option_at(j)->name, o->name) != 0);
        if (!o->per_job) {
            compile_only++;
            CHECK(!strcmp(o->name, "keep_job_on_cancel"));
        }
        if (!strcmp(o->name, "tags"))
            CHECK(o->offset == offsetof(smneo_compile_options, tags_json) && o->type == SMNEO_COMPILE_OPTION_JSON);
        if (!strcmp(o->name, "max_pending_seconds"))
            CHECK(o->offset == offsetof(smneo_compile_options, max_pending_seconds) &&
                  o->type == SMNEO_COMPILE_OPTION_INTEGER);
    }
    CHECK(n == 27); /* all the members but version, callback and payload */
    CHECK(compile_only == 1); /* keep_job_on_cancel: follow_logs is a job's too (compile_many) */
    CHECK(!used[offsetof(smneo_compile_options, callback)] && !used[offsetof(smneo_compile_options, payload)]);
    CHECK(smneo_compile_option_at(n + 1) == NULL);
}

int main(void)
{
    RUN(test_every_code_named);
    RUN(test_compile_event_names);
    RUN(test_compile_option_table);
    return smneo_test_summary("test_error_names");
}
