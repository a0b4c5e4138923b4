/* examples/c/example.h: what the three examples share: printing a failed
 * call's details from the caller-owned smneo_error, and reading a string
 * member of a result. */
#ifndef SMNEO_EXAMPLE_H
#define SMNEO_EXAMPLE_H

#include <stdio.h>

#include <smneo.h>

/* Prints "PROG: WHAT failed: <name>: <message>" and the details that are
 * set, then clears err (ready for reuse). Returns 1, the examples' exit
 * status for a failure. */
static inline int example_fail(const char *prog, const char *what, smneo_error *err)
{
    fprintf(stderr, "%s: %s failed: %s: %s\n", prog, what, smneo_strerror(err->code),
            err->message ? err->message : "(no message)");
    if (err->service_code)
        fprintf(stderr, "  service error %s (HTTP %d, request id %s)\n", err->service_code, err->http_status,
                err->request_id ? err->request_id : "-");
    if (err->field)
        fprintf(stderr, "  field: %s\n", err->field);
    for (size_t i = 0; i < smneo_issues_count(err->issues); i++) {
        const smneo_issue *is = smneo_issues_at(err->issues, i);
        fprintf(stderr, "  %s: %s\n", is->path[0] ? is->path : "(request)", is->message);
    }
    smneo_error_clear(err);
    return 1;
}

/* A string member of an object value (borrowed from the result the value
 * views), or "-" when it is absent or not a string. */
static inline const char *example_member(const smneo_value *obj, const char *name)
{
    smneo_value v;
    const char *s = smneo_value_get(&v, obj, name) == 0 ? smneo_value_string(&v) : NULL;
    return s ? s : "-";
}

#endif
