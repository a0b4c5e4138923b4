/* Private: S3 helpers exposed for tests and tests/fuzz/fuzz_s3xml.c. Not installed. */
#ifndef SMNEO_S3_INTERNAL_H
#define SMNEO_S3_INTERNAL_H

#include <stddef.h>

#include "smneo/client.h"

/* The text of the first <tag>...</tag> (or <tag attr...>) in an S3 XML
 * body of len bytes (no NUL needed), with the five XML entities and ASCII
 * numeric references decoded. Caller frees; NULL when absent. */
char *smneo__s3_xml_text(const char *body, size_t len, const char *tag);

/* smneo_s3_default_bucket in two steps, for smneo_compile_many (which
 * validates every job between them): the name and account from STS
 * GetCallerIdentity, no side effect (caller frees both); then HeadBucket
 * with the expected owner and CreateBucket when missing. */
int smneo__s3_default_bucket_name(char **bucket, char **account, smneo_client *c, smneo_error *err);
int smneo__s3_default_bucket_ensure(smneo_client *c, const char *bucket, const char *account, smneo_error *err);

#endif
