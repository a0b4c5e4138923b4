/* The list of validation issues (also used for artifact layout findings). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"
#include "smneo/validate.h"

struct smneo_issues {
    smneo_issue *items;
    size_t count;
    size_t cap;
};

int smneo_issues_new(smneo_issues **out)
{
    if (!out)
        return SMNEO_EINVAL;
    *out = calloc(1, sizeof **out);
    return *out ? 0 : SMNEO_ENOMEM;
}

void smneo_issues_free(smneo_issues *issues)
{
    if (!issues)
        return;
    for (size_t i = 0; i < issues->count; i++) {
        free((char *)issues->items[i].path);
        free((char *)issues->items[i].rule);
        free((char *)issues->items[i].message);
    }
    free(issues->items);
    free(issues);
}

size_t smneo_issues_count(const smneo_issues *issues) { return issues ? issues->count : 0; }

const smneo_issue *smneo_issues_at(const smneo_issues *issues, size_t i)
{
    return (issues && i < issues->count) ? &issues->items[i] : NULL;
}

size_t smneo_issues_error_count(const smneo_issues *issues)
{
    size_t n = 0;
    for (size_t i = 0; issues && i < issues->count; i++)
        n += issues->items[i].severity == SMNEO_SEVERITY_ERROR;
    return n;
}

int smneo_issues_add(smneo_issues *issues, smneo_severity sev, const char *path, const char *rule,
                     const char *fmt, ...)
{
    if (!issues || !rule || !fmt)
        return SMNEO_EINVAL;
    if (issues->count == issues->cap) {
        size_t cap = issues->cap ? issues->cap * 2 : 8;
        smneo_issue *p = realloc(issues->items, cap * sizeof *p);
        if (!p)
            return SMNEO_ENOMEM;
        issues->items = p;
        issues->cap = cap;
    }
    va_list ap;
    va_start(ap, fmt);
    smneo_buf b = SMNEO_BUF_INIT;
    char tmp[512];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof tmp) {
        va_start(ap, fmt);
        char *big = malloc((size_t)n + 1);
        if (big)
            vsnprintf(big, (size_t)n + 1, fmt, ap);
        va_end(ap);
        if (big)
            smneo__buf_puts(&b, big);
        free(big);
    } else if (n >= 0) {
        smneo__buf_puts(&b, tmp);
    }
    char *msg = smneo__buf_detach(&b, NULL);
    char *p = smneo__strdup(path ? path : "");
    char *r = smneo__strdup(rule);
    if (!msg || !p || !r) {
        free(msg);
        free(p);
        free(r);
        return SMNEO_ENOMEM;
    }
    smneo_issue *it = &issues->items[issues->count++];
    it->severity = sev;
    it->path = p;
    it->rule = r;
    it->message = msg;
    return 0;
}
