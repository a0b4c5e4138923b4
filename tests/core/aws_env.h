/* Test helpers shared by test_config.c, test_credentials.c and
 * test_endpoint.c: a clean AWS environment pointing at a temporary HOME, so
 * the developer's own ~/.aws files and AWS_* variables never matter. */
#ifndef SMNEO_TEST_AWS_ENV_H
#define SMNEO_TEST_AWS_ENV_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

extern char **environ;

/* Unsets every AWS_* variable and sets HOME to dir (which gets a .aws/). */
static inline void aws_env_reset(const char *dir)
{
    for (;;) {
        char name[256] = "";
        for (char **e = environ; *e; e++) {
            if (!strncmp(*e, "AWS_", 4)) {
                size_t n = strcspn(*e, "=");
                if (n < sizeof name) {
                    memcpy(name, *e, n);
                    name[n] = '\0';
                    break;
                }
            }
        }
        if (!name[0])
            break;
        unsetenv(name);
    }
    setenv("HOME", dir, 1);
    char aws[4096];
    snprintf(aws, sizeof aws, "%s/.aws", dir);
    mkdir(aws, 0700);
}

/* Writes dir/rel with text; returns the path (static buffer). */
static inline const char *aws_write(const char *dir, const char *rel, const char *text)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "cannot write %s\n", path);
        return path;
    }
    fputs(text, f);
    fclose(f);
    return path;
}

static inline void aws_remove(const char *dir, const char *rel)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    unlink(path);
}

#endif
