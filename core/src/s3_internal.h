/* Private: S3 helpers exposed for tests and tests/fuzz/fuzz_s3xml.c. Not installed. */
#ifndef SMNEO_S3_INTERNAL_H
#define SMNEO_S3_INTERNAL_H

#include <stddef.h>

/* The text of the first <tag>...</tag> (or <tag attr...>) in an S3 XML
 * body of len bytes (no NUL needed), with the five XML entities and ASCII
 * numeric references decoded. Caller frees; NULL when absent. */
char *smneo__s3_xml_text(const char *body, size_t len, const char *tag);

#endif
