/* libFuzzer target for the S3 XML scanner (smneo__s3_xml_text, private in
 * core/src/s3.c): error bodies, CompleteMultipartUpload answers and
 * CreateMultipartUpload's UploadId come from the network.
 *
 * Input layout: byte 0 picks a tag (or, 255, takes the tag from the input:
 * byte 1 is its length); the rest is the body, copied to an exact-size
 * buffer without a NUL. Build and run: tests/fuzz/run_core.sh s3xml. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "s3_internal.h"

static const char *const TAGS[] = {"Code", "Message", "RequestId", "UploadId", "Error", "ETag", "Key", "HostId"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    char tagbuf[64];
    const char *tag = TAGS[data[0] % 8];
    size_t skip = 1;
    if (data[0] == 255) {
        size_t tl = data[1] % 32;
        if (size < 2 + tl)
            return 0;
        memcpy(tagbuf, data + 2, tl);
        tagbuf[tl] = 0;
        if (!tagbuf[0] || strlen(tagbuf) != tl)
            return 0;
        tag = tagbuf;
        skip = 2 + tl;
    }
    size_t n = size - skip;
    char *body = malloc(n ? n : 1);
    if (!body)
        return 0;
    memcpy(body, data + skip, n);
    char *text = smneo__s3_xml_text(body, n, tag);
    if (text) {
        size_t tl = strlen(text);
        if (tl > n) /* decoding only shrinks */
            abort();
        free(text);
    }
    free(body);
    return 0;
}
