/* Test helpers shared by the C suites: a clean AWS environment pointing at a
 * temporary HOME (test_config.c, test_credentials.c, test_endpoint.c), or one
 * where only the client options count (test_client.c, test_s3.c), so the
 * developer's own ~/.aws files and AWS_* variables never matter. */
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

/* Keeps the developer's endpoint, retry and profile settings and shared
 * files out of the way of clients configured entirely by their options. */
static inline void aws_env_isolate(void)
{
    static const char *const names[] = {"AWS_PROFILE",      "AWS_MAX_ATTEMPTS",    "AWS_RETRY_MODE",
                                        "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SAGEMAKER",
                                        "AWS_DEFAULTS_MODE", "AWS_NEW_RETRIES_2026", "AWS_SDK_UA_APP_ID"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unsetenv(names[i]);
    setenv("AWS_CONFIG_FILE", "/nonexistent/smneo-test-config", 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/smneo-test-credentials", 1);
}

/* Writes dir/rel with text; returns the path (static buffer). */
static inline const char *aws_write(const char *dir, const char *rel, const char *text)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    smneo_test_write_file(path, text, strlen(text));
    return path;
}

static inline void aws_remove(const char *dir, const char *rel)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    unlink(path);
}

#endif
