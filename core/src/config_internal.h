/* Private: the shared config and credentials files (INI) and profile lookups.
 * Used by config.c, credentials.c and endpoint.c. Not installed. */
#ifndef SMNEO_CONFIG_INTERNAL_H
#define SMNEO_CONFIG_INTERNAL_H

#include <stddef.h>

#include "smneo/common.h"

/* A parsed INI file: sections in file order, keys lowercased. A key with an
 * empty value followed by indented "k = v" lines (a nested sub-section such
 * as "s3 =\n  addressing_style = path") is stored as "key.k". */
typedef struct smneo__ini smneo__ini;

int smneo__ini_parse(smneo__ini **out, const char *text, size_t len);
void smneo__ini_free(smneo__ini *ini);
/* Value of `key` in the LAST section named `section` (exact name), or NULL. */
const char *smneo__ini_get(const smneo__ini *ini, const char *section, const char *key);

/* Both shared files, loaded once per lookup. A missing file is empty
 * (exists = 0); an unreadable one is an SMNEO_EIO error. */
typedef struct smneo__awsconfig {
    char *config_path;      /* NULL when HOME is unset and AWS_CONFIG_FILE too */
    char *credentials_path;
    int config_exists;
    int credentials_exists;
    smneo__ini *config;
    smneo__ini *credentials;
} smneo__awsconfig;

int smneo__awsconfig_load(smneo__awsconfig **out, smneo_error *err);
void smneo__awsconfig_free(smneo__awsconfig *c);

/* The profile to use: explicit, else AWS_DEFAULT_PROFILE, else AWS_PROFILE
 * (botocore's order), else "default". Borrowed. */
const char *smneo__profile_name(const char *explicit_profile);
/* Where that name came from: "the profile option", "AWS_DEFAULT_PROFILE",
 * "AWS_PROFILE", or NULL for the default. */
const char *smneo__profile_origin(const char *explicit_profile);

/* An INI file (missing: empty, *exists 0; unreadable: SMNEO_EIO naming
 * `what` and the path). */
int smneo__ini_load(smneo__ini **out, int *exists, const char *path, const char *what, smneo_error *err);
/* "~" or "~/..." with HOME; else a copy. Caller frees. */
char *smneo__expand_user(const char *path);
/* Reads a whole file into b (a secret buffer: wiped when freed). 0, or -1
 * with errno (b freed). */
struct smneo_buf;
int smneo__read_secret_file(struct smneo_buf *b, const char *path);

/* Setting of a profile in the config file ("[default]"/"[profile NAME]"). */
const char *smneo__config_profile_get(const smneo__awsconfig *c, const char *profile, const char *key);
/* Setting of a profile in the credentials file ("[NAME]"). */
const char *smneo__credfile_profile_get(const smneo__awsconfig *c, const char *profile, const char *key);
/* Merged view as botocore builds it: the credentials file overrides the
 * config file. */
const char *smneo__profile_get(const smneo__awsconfig *c, const char *profile, const char *key);
/* 1 when the profile has a section in either file. */
int smneo__profile_exists(const smneo__awsconfig *c, const char *profile);
/* Value in a non-profile section of the config file, e.g. "services NAME". */
const char *smneo__config_section_get(const smneo__awsconfig *c, const char *section, const char *key);

/* 1 when the config file has that non-profile section ("services NAME"). */
int smneo__config_has_section(const smneo__awsconfig *c, const char *section);

/* "the config file (/x/config) and the credentials file (/x/credentials)",
 * for error messages. Caller frees. */
char *smneo__awsconfig_describe(const smneo__awsconfig *c);

/* The retry policy of a chain's STS, SSO and SSO-OIDC requests (the
 * client's environment and profile settings; credentials.c). */
struct smneo_credential_chain;
struct smneo__retry_policy;
void smneo__chain_set_retry(struct smneo_credential_chain *c, const struct smneo__retry_policy *p);

/* A profile setting (smneo_config_get), caller-owned, or NULL. */
char *smneo__profile_setting(const char *profile, const char *key);

#endif
