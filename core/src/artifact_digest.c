/* BLAKE2 / SHA-2 file digests and verification.
 *
 * BLAKE2b-512, BLAKE2s-256 and SHA-2 use OpenSSL's EVP (measured at about
 * 2.5x libb2 on this machine: bench/bench_artifact.sh). BLAKE2b with a
 * 256-bit output is not available from OpenSSL 3.0's EVP (the "size" parameter
 * arrived in 3.2), so it comes from libb2. */
#include <blake2.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "artifact_internal.h"
#include "options_internal.h"
#include "internal.h"

struct smneo__hash {
    EVP_MD_CTX *evp;   /* OpenSSL digests */
    blake2b_state b2b; /* libb2, for blake2b-256 */
    size_t outlen;
    int use_b2;
};

typedef struct {
    const char *name;
    int kind; /* 0 blake2b512, 1 blake2b256 (libb2), 2 blake2s256, 3 sha256, 4 sha512 */
} algo_entry;

static const algo_entry algos[] = {
    {"blake2b", 0},     {"blake2b-512", 0}, {"blake2b512", 0}, {"blake2b-256", 1}, {"blake2b256", 1},
    {"blake2s", 2},     {"blake2s-256", 2}, {"blake2s256", 2}, {"sha256", 3},      {"sha-256", 3},
    {"sha512", 4},      {"sha-512", 4},
};

static int algo_kind(const char *name)
{
    for (size_t i = 0; i < sizeof algos / sizeof algos[0]; i++)
        if (smneo__strcaseeq(name, algos[i].name))
            return algos[i].kind;
    return -1;
}

int smneo__hash_new(smneo__hash **out, const char *algorithm, smneo_error *err)
{
    if (!algorithm)
        algorithm = "blake2b";
    int kind = algo_kind(algorithm);
    if (kind < 0)
        return smneo__error(err, SMNEO_EINVAL,
                            "unknown digest algorithm \"%s\": use blake2b (blake2b-512), blake2b-256, "
                            "blake2s-256, sha256 or sha512",
                            algorithm);
    smneo__hash *h = calloc(1, sizeof *h);
    if (!h)
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    if (kind == 1) {
        h->use_b2 = 1;
        h->outlen = 32;
        if (blake2b_init(&h->b2b, 32) != 0) {
            free(h);
            return smneo__error(err, SMNEO_ERROR, "blake2b_init failed");
        }
    } else {
        const EVP_MD *md = kind == 0 ? EVP_blake2b512() : kind == 2 ? EVP_blake2s256()
                         : kind == 3 ? EVP_sha256() : EVP_sha512();
        h->evp = EVP_MD_CTX_new();
        if (!h->evp || EVP_DigestInit_ex(h->evp, md, NULL) != 1) {
            EVP_MD_CTX_free(h->evp);
            free(h);
            return smneo__error(err, SMNEO_ERROR, "cannot initialise the %s digest", algorithm);
        }
        h->outlen = (size_t)EVP_MD_get_size(md);
    }
    *out = h;
    return 0;
}

int smneo__hash_update(smneo__hash *h, const void *data, size_t len)
{
    if (h->use_b2)
        return blake2b_update(&h->b2b, data, len) == 0 ? 0 : SMNEO_ERROR;
    return EVP_DigestUpdate(h->evp, data, len) == 1 ? 0 : SMNEO_ERROR;
}

int smneo__hash_final_hex(smneo__hash *h, char *hex)
{
    unsigned char md[64];
    if (h->use_b2) {
        if (blake2b_final(&h->b2b, md, h->outlen) != 0)
            return SMNEO_ERROR;
    } else {
        unsigned int n = 0;
        if (EVP_DigestFinal_ex(h->evp, md, &n) != 1)
            return SMNEO_ERROR;
    }
    smneo__hex(hex, md, h->outlen);
    return 0;
}

void smneo__hash_free(smneo__hash *h)
{
    if (!h)
        return;
    EVP_MD_CTX_free(h->evp);
    free(h);
}

/* Hashes path with up to two algorithms in one pass. */
static int hash_file(const char *path, const char *alg1, char *hex1, const char *alg2, char *hex2,
                     const smneo_digest_options *opts, smneo_error *err)
{
    if (!path)
        return smneo__error(err, SMNEO_EINVAL, "path is NULL");
    smneo_digest_options full;
    int orc = smneo__options_copy(&full, opts, &smneo__digest_options_layout, err);
    if (orc)
        return orc;
    opts = &full;
    smneo__hash *h1 = NULL, *h2 = NULL;
    int rc = smneo__hash_new(&h1, alg1, err);
    if (rc == 0 && alg2)
        rc = smneo__hash_new(&h2, alg2, err);
    if (rc) {
        smneo__hash_free(h1);
        return rc;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = smneo__error(err, SMNEO_EIO, "cannot open %s: %s", path, strerror(errno));
        goto out;
    }
    struct stat st;
    uint64_t total = (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) ? (uint64_t)st.st_size : 0;
#ifdef POSIX_FADV_SEQUENTIAL
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    size_t cap = (size_t)1 << 20;
    unsigned char *buf = malloc(cap);
    if (!buf) {
        rc = smneo__error(err, SMNEO_ENOMEM, "out of memory");
        goto out;
    }
    uint64_t done = 0;
    for (;;) {
        ssize_t n = read(fd, buf, cap);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = smneo__error(err, SMNEO_EIO, "cannot read %s: %s", path, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        if (smneo__hash_update(h1, buf, (size_t)n) || (h2 && smneo__hash_update(h2, buf, (size_t)n))) {
            rc = smneo__error(err, SMNEO_ERROR, "digest update failed");
            break;
        }
        done += (uint64_t)n;
        if (opts && opts->progress && opts->progress(done, total, opts->payload)) {
            rc = smneo__error(err, SMNEO_ECANCELLED, "digest of %s cancelled by the progress callback", path);
            break;
        }
    }
    free(buf);
    if (rc == 0 && (smneo__hash_final_hex(h1, hex1) || (h2 && smneo__hash_final_hex(h2, hex2))))
        rc = smneo__error(err, SMNEO_ERROR, "digest finalisation failed");
out:
    if (fd >= 0)
        close(fd);
    smneo__hash_free(h1);
    smneo__hash_free(h2);
    return rc;
}

int smneo_artifact_digest(char **out, const char *path, const char *algorithm, const smneo_digest_options *opts,
                          smneo_error *err)
{
    if (!out)
        return smneo__error(err, SMNEO_EINVAL, "out is NULL");
    *out = NULL;
    char hex[129];
    int rc = hash_file(path, algorithm, hex, NULL, NULL, opts, err);
    if (rc)
        return rc;
    *out = smneo__strdup(hex);
    return *out ? 0 : smneo__error(err, SMNEO_ENOMEM, "out of memory");
}

static int is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return 0;
    }
    return 1;
}

static int hexeq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'F')
            x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'F')
            y = (char)(y - 'A' + 'a');
        if (x != y)
            return 0;
    }
    return 1;
}

int smneo_artifact_verify(const char *path, const char *expected, const smneo_digest_options *opts,
                          smneo_error *err)
{
    if (!expected)
        return smneo__error(err, SMNEO_EINVAL, "expected digest is NULL");
    /* Trim surrounding blanks (digests copied from consoles). */
    while (*expected == ' ' || *expected == '\t' || *expected == '\n')
        expected++;
    size_t len = strlen(expected);
    while (len && (expected[len - 1] == ' ' || expected[len - 1] == '\t' || expected[len - 1] == '\n' ||
                   expected[len - 1] == '\r'))
        len--;
    const char *colon = memchr(expected, ':', len);
    char hex1[129], hex2[129];
    if (colon) {
        size_t alen = (size_t)(colon - expected);
        char alg[32];
        if (alen == 0 || alen >= sizeof alg)
            return smneo__error(err, SMNEO_EINVAL,
                                "cannot interpret the expected digest: the part before ':' must name an "
                                "algorithm (blake2b, blake2b-256, blake2s-256, sha256, sha512)");
        memcpy(alg, expected, alen);
        alg[alen] = 0;
        int kind = algo_kind(alg);
        if (kind < 0)
            return smneo__error(err, SMNEO_EINVAL,
                                "cannot interpret the expected digest: unknown algorithm \"%s\" (use blake2b, "
                                "blake2b-256, blake2s-256, sha256 or sha512)",
                                alg);
        const char *hex = colon + 1;
        size_t hlen = len - alen - 1;
        size_t want = (kind == 0 || kind == 4) ? 128 : 64;
        if (hlen != want || !is_hex(hex, hlen))
            return smneo__error(err, SMNEO_EINVAL,
                                "cannot interpret the expected digest: a %s digest is %zu hex digits, got %zu "
                                "characters%s",
                                alg, want, hlen, is_hex(hex, hlen) ? "" : " (not all hex)");
        int rc = hash_file(path, alg, hex1, NULL, NULL, opts, err);
        if (rc)
            return rc;
        if (!hexeq(hex1, hex, want))
            return smneo__error(err, SMNEO_EDIGEST, "%s digest mismatch for %s: expected %.*s, got %s", alg, path,
                                (int)hlen, hex, hex1);
        return 0;
    }
    if (!is_hex(expected, len) || (len != 128 && len != 64))
        return smneo__error(err, SMNEO_EINVAL,
                            "cannot interpret the expected digest (%zu characters): give 128 hex digits "
                            "(BLAKE2b-512), 64 hex digits (BLAKE2b-256 or BLAKE2s-256) or algorithm:hex",
                            len);
    if (len == 128) {
        int rc = hash_file(path, "blake2b", hex1, NULL, NULL, opts, err);
        if (rc)
            return rc;
        if (!hexeq(hex1, expected, 128))
            return smneo__error(err, SMNEO_EDIGEST, "blake2b-512 digest mismatch for %s: expected %.*s, got %s",
                                path, (int)len, expected, hex1);
        return 0;
    }
    int rc = hash_file(path, "blake2b-256", hex1, "blake2s-256", hex2, opts, err);
    if (rc)
        return rc;
    if (hexeq(hex1, expected, 64) || hexeq(hex2, expected, 64))
        return 0;
    return smneo__error(err, SMNEO_EDIGEST,
                        "digest mismatch for %s: expected %.*s, got blake2b-256 %s and blake2s-256 %s", path,
                        (int)len, expected, hex1, hex2);
}
