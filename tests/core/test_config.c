/* The shared config/credentials files: the INI parser, profile lookups,
 * smneo_config_get and region resolution. */
#include <stdlib.h>
#include <string.h>

#include "aws_env.h"
#include "config_internal.h"
#include "harness.h"
#include "smneo/auth.h"

static char *tmp;

static void test_ini_basics(void)
{
    const char *text = "orphan = ignored\n"
                       "# a comment\n"
                       "; another comment\n"
                       "[default]\n"
                       "  region = eu-west-1  \r\n"
                       "Output: json\n"
                       "\n"
                       "   # indented comment\n"
                       "[profile dev]\n"
                       "s3 =\n"
                       "  addressing_style = path\n"
                       "  max_concurrent_requests=5\n"
                       "region=us-west-2\n"
                       "note = first line\n"
                       "   second line\n"
                       "novalue line without delimiter\n"
                       "[profile dev]\n"
                       "region = ap-south-1\n";
    smneo__ini *ini = NULL;
    CHECK_INT(smneo__ini_parse(&ini, text, strlen(text)), 0);
    CHECK_STR(smneo__ini_get(ini, "default", "region"), "eu-west-1");
    CHECK_STR(smneo__ini_get(ini, "default", "output"), "json"); /* ':' delimiter, key lowercased */
    CHECK(smneo__ini_get(ini, "default", "orphan") == NULL);
    CHECK(smneo__ini_get(ini, "default", "# a comment") == NULL);
    /* The last section of a name wins. */
    CHECK_STR(smneo__ini_get(ini, "profile dev", "region"), "ap-south-1");
    CHECK(smneo__ini_get(ini, "profile dev", "s3.addressing_style") == NULL);
    smneo__ini_free(ini);

    /* Nested sub-sections and continuation lines. */
    const char *t2 = "[profile dev]\n"
                     "s3 =\n"
                     "  addressing_style = path\n"
                     "  max_concurrent_requests=5\n"
                     "region=us-west-2\n"
                     "note = first line\n"
                     "   second line\n"
                     "broken line\n"
                     "after = ok\n";
    CHECK_INT(smneo__ini_parse(&ini, t2, strlen(t2)), 0);
    CHECK_STR(smneo__ini_get(ini, "profile dev", "s3.addressing_style"), "path");
    CHECK_STR(smneo__ini_get(ini, "profile dev", "s3.max_concurrent_requests"), "5");
    CHECK_STR(smneo__ini_get(ini, "profile dev", "s3"), "");
    CHECK_STR(smneo__ini_get(ini, "profile dev", "region"), "us-west-2");
    CHECK_STR(smneo__ini_get(ini, "profile dev", "note"), "first line\nsecond line");
    CHECK_STR(smneo__ini_get(ini, "profile dev", "after"), "ok");
    smneo__ini_free(ini);

    /* Empty input and a file without trailing newline. */
    CHECK_INT(smneo__ini_parse(&ini, "", 0), 0);
    CHECK(smneo__ini_get(ini, "default", "region") == NULL);
    smneo__ini_free(ini);
    CHECK_INT(smneo__ini_parse(&ini, "[x]\nk=v", 7), 0);
    CHECK_STR(smneo__ini_get(ini, "x", "k"), "v");
    smneo__ini_free(ini);
}

static void test_config_get(void)
{
    aws_env_reset(tmp);
    char *v = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    /* No files at all: absent, not an error. */
    CHECK_INT(smneo_config_get(&v, NULL, "region", &err), 0);
    CHECK(v == NULL);

    aws_write(tmp, ".aws/config",
              "[default]\nregion = us-east-2\nREGION_UPPER = yes\n"
              "[profile dev]\nregion = eu-north-1\nout = config\n"
              "[dev]\nregion = not-a-profile-in-config\n"
              "[profile   spaced]\nregion = ca-central-1\n");
    aws_write(tmp, ".aws/credentials", "[dev]\nout = credentials\n[profile dev]\nout = wrong\n");
    CHECK_INT(smneo_config_get(&v, NULL, "region", &err), 0);
    CHECK_STR(v, "us-east-2");
    free(v);
    CHECK_INT(smneo_config_get(&v, NULL, "Region_Upper", &err), 0); /* keys are case-insensitive */
    CHECK_STR(v, "yes");
    free(v);
    CHECK_INT(smneo_config_get(&v, "dev", "region", &err), 0);
    CHECK_STR(v, "eu-north-1");
    free(v);
    /* The credentials file's [dev] overrides the config file's [profile dev]. */
    CHECK_INT(smneo_config_get(&v, "dev", "out", &err), 0);
    CHECK_STR(v, "credentials");
    free(v);
    CHECK_INT(smneo_config_get(&v, "spaced", "region", &err), 0);
    CHECK_STR(v, "ca-central-1");
    free(v);
    /* AWS_PROFILE chooses the profile when none is given. */
    setenv("AWS_PROFILE", "dev", 1);
    CHECK_INT(smneo_config_get(&v, NULL, "region", &err), 0);
    CHECK_STR(v, "eu-north-1");
    free(v);
    unsetenv("AWS_PROFILE");
    CHECK_INT(smneo_config_get(&v, "nosuch", "region", &err), 0);
    CHECK(v == NULL);

    /* AWS_CONFIG_FILE replaces ~/.aws/config; a missing one is empty. */
    setenv("AWS_CONFIG_FILE", aws_write(tmp, "other-config", "[default]\nregion = sa-east-1\n"), 1);
    CHECK_INT(smneo_config_get(&v, NULL, "region", &err), 0);
    CHECK_STR(v, "sa-east-1");
    free(v);
    setenv("AWS_CONFIG_FILE", "/nonexistent/smneo/config", 1);
    CHECK_INT(smneo_config_get(&v, NULL, "region", &err), 0);
    CHECK(v == NULL);
    /* A directory in place of the file counts as missing, as in botocore. */
    setenv("AWS_CONFIG_FILE", tmp, 1);
    CHECK_INT(smneo_config_get(&v, NULL, "region", &err), 0);
    CHECK(v == NULL);
    unsetenv("AWS_CONFIG_FILE");
    /* "~/" is expanded with HOME. */
    setenv("AWS_CONFIG_FILE", "~/other-config", 1);
    CHECK_INT(smneo_config_get(&v, NULL, "region", &err), 0);
    CHECK_STR(v, "sa-east-1");
    free(v);
    unsetenv("AWS_CONFIG_FILE");

    CHECK_INT(smneo_config_get(NULL, NULL, "region", &err), SMNEO_EINVAL);
    smneo_error_clear(&err);
    aws_remove(tmp, ".aws/config");
    aws_remove(tmp, ".aws/credentials");
    aws_remove(tmp, "other-config");
}

static void test_region_order(void)
{
    aws_env_reset(tmp);
    char *v = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    aws_write(tmp, ".aws/config", "[default]\nregion = us-west-1\n[profile gov]\nregion = us-gov-west-1\n");
    CHECK_INT(smneo_region_resolve(&v, NULL, NULL, &err), 0);
    CHECK_STR(v, "us-west-1");
    free(v);
    CHECK_INT(smneo_region_resolve(&v, NULL, "gov", &err), 0);
    CHECK_STR(v, "us-gov-west-1");
    free(v);
    setenv("AWS_PROFILE", "gov", 1);
    CHECK_INT(smneo_region_resolve(&v, NULL, NULL, &err), 0);
    CHECK_STR(v, "us-gov-west-1");
    free(v);
    setenv("AWS_DEFAULT_REGION", "eu-west-3", 1);
    CHECK_INT(smneo_region_resolve(&v, NULL, NULL, &err), 0);
    CHECK_STR(v, "eu-west-3");
    free(v);
    /* AWS_REGION beats AWS_DEFAULT_REGION (botocore ignores AWS_REGION). */
    setenv("AWS_REGION", "ap-northeast-1", 1);
    CHECK_INT(smneo_region_resolve(&v, NULL, NULL, &err), 0);
    CHECK_STR(v, "ap-northeast-1");
    free(v);
    /* Explicit beats everything; empty explicit counts as unset. */
    CHECK_INT(smneo_region_resolve(&v, "me-south-1", NULL, &err), 0);
    CHECK_STR(v, "me-south-1");
    free(v);
    CHECK_INT(smneo_region_resolve(&v, "", NULL, &err), 0);
    CHECK_STR(v, "ap-northeast-1");
    free(v);
    /* An empty variable is unset. */
    setenv("AWS_REGION", "", 1);
    CHECK_INT(smneo_region_resolve(&v, NULL, NULL, &err), 0);
    CHECK_STR(v, "eu-west-3");
    free(v);
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    unsetenv("AWS_PROFILE");

    /* Nothing anywhere: ENOREGION naming every place looked at. */
    aws_remove(tmp, ".aws/config");
    CHECK_INT(smneo_region_resolve(&v, NULL, "work", &err), SMNEO_ENOREGION);
    CHECK(v == NULL);
    CHECK_INT(err.code, SMNEO_ENOREGION);
    CHECK(err.message && strstr(err.message, "AWS_REGION"));
    CHECK(err.message && strstr(err.message, "AWS_DEFAULT_REGION"));
    CHECK(err.message && strstr(err.message, "'work'"));
    CHECK(err.message && strstr(err.message, "/.aws/config (not found)"));
    smneo_error_clear(&err);
}

int main(void)
{
    tmp = smneo_test_tmpdir();
    if (!tmp)
        return 1;
    RUN(test_ini_basics);
    RUN(test_config_get);
    RUN(test_region_order);
    smneo_test_rmtree(tmp);
    free(tmp);
    return smneo_test_summary("test_config");
}
