/* libFuzzer target for smneo_explain (core/src/diagnose.c): a description and
 * log lines come from the service and the compiler, so anything may be in
 * them.
 *
 * Input layout: the first line is the description when it starts with '{'
 * (else there is none); the other lines, split at '\n', are the log, passed
 * with their lengths (no NUL terminator, NULs allowed). Every string the
 * diagnosis hands out must be valid UTF-8 without control characters, and
 * the text must have no control character but '\n'. Build and run:
 * tests/fuzz/run_core.sh diagnose. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smneo/diagnose.h"

static void check_printable(const char *s, int newlines)
{
    const unsigned char *p = (const unsigned char *)s;
    if (!s)
        return;
    while (*p) {
        if ((*p < 0x20 && !(newlines && *p == '\n')) || *p == 0x7F)
            abort();
        size_t n = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 : (*p >> 3) == 30 ? 4 : 0;
        if (!n)
            abort();
        for (size_t i = 1; i < n; i++)
            if ((p[i] & 0xC0) != 0x80)
                abort();
        if (n == 2 && p[0] == 0xC2 && p[1] < 0xA0)
            abort(); /* C1 control */
        if (n == 3 && p[0] == 0xE2 && ((p[1] == 0x80 && (p[2] == 0x8E || p[2] == 0x8F || (p[2] >= 0xA8 && p[2] <= 0xAE))) ||
                                       (p[1] == 0x81 && p[2] >= 0xA6 && p[2] <= 0xA9)))
            abort(); /* line separators and bidirectional controls */
        p += n;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data, *end = text + size;
    const char *desc = NULL;
    size_t dlen = 0;
    const char *first_nl = memchr(text, '\n', size);
    const char *rest = text;
    if (size && text[0] == '{') {
        desc = text;
        dlen = first_nl ? (size_t)(first_nl - text) : size;
        rest = first_nl ? first_nl + 1 : end;
    }
    size_t cap = 16, n = 0;
    const char **lines = malloc(cap * sizeof *lines);
    size_t *lens = malloc(cap * sizeof *lens);
    if (!lines || !lens)
        goto out;
    for (const char *s = rest; s < end;) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t len = nl ? (size_t)(nl - s) : (size_t)(end - s);
        if (n == cap) {
            cap *= 2;
            const char **nlines = realloc(lines, cap * sizeof *lines);
            if (!nlines)
                goto out;
            lines = nlines;
            size_t *nlens = realloc(lens, cap * sizeof *lens);
            if (!nlens)
                goto out;
            lens = nlens;
        }
        lines[n] = s;
        lens[n++] = len;
        s = nl ? nl + 1 : end;
    }
    /* the description must not be read past its length */
    char *dcopy = desc ? malloc(dlen ? dlen : 1) : NULL;
    if (desc && dcopy)
        memcpy(dcopy, desc, dlen);
    smneo_diagnosis *d = NULL;
    if (smneo_explain(&d, dcopy, dlen, lines, lens, n, NULL) == 0) {
        check_printable(smneo_diagnosis_evidence(d), 0);
        check_printable(smneo_diagnosis_failure_reason(d), 0);
        check_printable(smneo_diagnosis_job_name(d), 0);
        check_printable(smneo_diagnosis_status(d), 0);
        if (smneo_diagnosis_evidence_kind(d) == SMNEO_EVIDENCE_LOG && smneo_diagnosis_evidence_line(d) >= n)
            abort();
        char *t = NULL;
        if (smneo_diagnosis_format(&t, d) == 0)
            check_printable(t, 1);
        free(t);
        smneo_diagnosis_free(d);
    }
    free(dcopy);
out:
    free(lines);
    free(lens);
    return 0;
}
