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
#include <pthread.h>
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

/* Reading ahead: for a file of READ_AHEAD_MIN bytes or more, a second
 * thread reads the next chunks while the calling thread hashes the one before
 * (the read's copy out of the page cache then costs no wall time). The
 * calling thread keeps everything else: the hashes, the progress callback and
 * a cancel, so the thread sees nothing but the file. */
#define CHUNK ((size_t)1 << 20)
#define NCHUNKS 4
#define READ_AHEAD_MIN ((uint64_t)16 << 20)

typedef struct read_ahead {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int fd;
    unsigned char *buf[NCHUNKS];
    size_t len[NCHUNKS];
    uint64_t filled, taken; /* chunks read, chunks handed to the hash */
    int eof, err, stop;     /* err: the read's errno */
} read_ahead;

static ssize_t read_chunk(int fd, unsigned char *buf, size_t cap)
{
    ssize_t n;
    do
        n = read(fd, buf, cap);
    while (n < 0 && errno == EINTR);
    return n;
}

static void *read_ahead_main(void *arg)
{
    read_ahead *ra = arg;
    pthread_mutex_lock(&ra->mu);
    for (;;) {
        while (!ra->stop && ra->filled - ra->taken == NCHUNKS)
            pthread_cond_wait(&ra->cv, &ra->mu);
        if (ra->stop)
            break;
        size_t slot = (size_t)(ra->filled % NCHUNKS);
        pthread_mutex_unlock(&ra->mu); /* the slot is not the consumer's until filled grows */
        ssize_t n = read_chunk(ra->fd, ra->buf[slot], CHUNK);
        int e = errno;
        pthread_mutex_lock(&ra->mu);
        if (n <= 0) {
            ra->eof = 1;
            ra->err = n < 0 ? e : 0;
        } else {
            ra->len[slot] = (size_t)n;
            ra->filled++;
        }
        pthread_cond_broadcast(&ra->cv);
        if (ra->eof)
            break;
    }
    pthread_mutex_unlock(&ra->mu);
    return NULL;
}

typedef struct hash_run {
    const char *path;
    smneo__hash *h1, *h2;
    const smneo_digest_options *opts;
    uint64_t done, total;
    smneo_error *err;
} hash_run;

/* One chunk into the hashes, then the progress callback: 0 to go on. */
static int hash_chunk(hash_run *r, const unsigned char *buf, size_t n)
{
    if (smneo__hash_update(r->h1, buf, n) || (r->h2 && smneo__hash_update(r->h2, buf, n)))
        return smneo__error(r->err, SMNEO_ERROR, "digest update failed");
    r->done += n;
    if (r->opts->progress && r->opts->progress(r->done, r->total, r->opts->payload))
        return smneo__error(r->err, SMNEO_ECANCELLED, "digest of %s cancelled by the progress callback", r->path);
    return 0;
}

static int read_error(hash_run *r, int e)
{
    return smneo__error(r->err, SMNEO_EIO, "cannot read %s: %s", r->path, strerror(e));
}

/* The file through one buffer on this thread. */
static int hash_plain(hash_run *r, int fd, unsigned char *buf)
{
    for (;;) {
        ssize_t n = read_chunk(fd, buf, CHUNK);
        if (n < 0)
            return read_error(r, errno);
        if (n == 0)
            return 0;
        int rc = hash_chunk(r, buf, (size_t)n);
        if (rc)
            return rc;
    }
}

/* The file read ahead by a second thread into bufs (NCHUNKS of CHUNK bytes);
 * 1 when that thread cannot start (nothing read yet: hash_plain instead). */
static int hash_read_ahead(hash_run *r, int fd, unsigned char *bufs)
{
    read_ahead ra = {.fd = fd};
    for (size_t i = 0; i < NCHUNKS; i++)
        ra.buf[i] = bufs + i * CHUNK;
    if (pthread_mutex_init(&ra.mu, NULL))
        return 1;
    if (pthread_cond_init(&ra.cv, NULL)) {
        pthread_mutex_destroy(&ra.mu);
        return 1;
    }
    pthread_t t;
    if (pthread_create(&t, NULL, read_ahead_main, &ra)) {
        pthread_cond_destroy(&ra.cv);
        pthread_mutex_destroy(&ra.mu);
        return 1;
    }
    int rc = 0;
    pthread_mutex_lock(&ra.mu);
    for (;;) {
        while (ra.filled == ra.taken && !ra.eof)
            pthread_cond_wait(&ra.cv, &ra.mu);
        if (ra.filled == ra.taken) { /* at the end, everything read taken */
            if (ra.err)
                rc = read_error(r, ra.err);
            break;
        }
        size_t slot = (size_t)(ra.taken % NCHUNKS);
        pthread_mutex_unlock(&ra.mu);
        rc = hash_chunk(r, ra.buf[slot], ra.len[slot]);
        pthread_mutex_lock(&ra.mu);
        ra.taken++;
        pthread_cond_broadcast(&ra.cv);
        if (rc)
            break;
    }
    ra.stop = 1;
    pthread_cond_broadcast(&ra.cv);
    pthread_mutex_unlock(&ra.mu);
    pthread_join(t, NULL);
    pthread_cond_destroy(&ra.cv);
    pthread_mutex_destroy(&ra.mu);
    return rc;
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
    hash_run r = {.path = path, .opts = &full, .err = err};
    int rc = smneo__hash_new(&r.h1, alg1, err);
    if (rc == 0 && alg2)
        rc = smneo__hash_new(&r.h2, alg2, err);
    if (rc) {
        smneo__hash_free(r.h1);
        return rc;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = smneo__error(err, SMNEO_EIO, "cannot open %s: %s", path, strerror(errno));
        goto out;
    }
    struct stat st;
    r.total = (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) ? (uint64_t)st.st_size : 0;
#ifdef POSIX_FADV_SEQUENTIAL
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    int ahead = r.total >= READ_AHEAD_MIN;
    unsigned char *buf = malloc(ahead ? NCHUNKS * CHUNK : CHUNK);
    if (!buf) {
        rc = smneo__error(err, SMNEO_ENOMEM, "out of memory");
        goto out;
    }
    rc = ahead ? hash_read_ahead(&r, fd, buf) : 1;
    if (rc == 1)
        rc = hash_plain(&r, fd, buf);
    free(buf);
    if (rc == 0 && (smneo__hash_final_hex(r.h1, hex1) || (r.h2 && smneo__hash_final_hex(r.h2, hex2))))
        rc = smneo__error(err, SMNEO_ERROR, "digest finalisation failed");
out:
    if (fd >= 0)
        close(fd);
    smneo__hash_free(r.h1);
    smneo__hash_free(r.h2);
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
