/* Parallel gzip: one standard gzip member compressed by several threads.
 *
 * The input is cut into fixed-size blocks; each is compressed independently
 * by libdeflate (whole-buffer raw deflate, no preset dictionary) into a
 * deflate stream that ends with a final block. Each output is then walked
 * with zlib's inflate in Z_BLOCK mode, which stops at every deflate block
 * boundary: that checks the output inflates back to the input, and gives the
 * bit position of the last deflate block's header and the exact end of its
 * end-of-block code. For every block but the last, the header's BFINAL bit
 * is cleared and an empty stored block follows (3 zero bits, byte alignment,
 * 00 00 ff ff: what zlib's Z_SYNC_FLUSH emits), which brings the stream to a
 * byte boundary where the next block's output continues it. Per-block CRC-32s
 * (libdeflate's) are joined with zlib's crc32_combine.
 *
 * Block boundaries depend only on the input and block_size, and libdeflate's
 * output only on its input, level and version (its match finders are
 * portable C; CPU-specific code only fills tables and computes checksums):
 * so the output is the same for any number of threads and on any CPU.
 *
 * Memory is bounded: a ring of 2*threads+2 slots, each holding one input and
 * one output block. The caller's thread fills blocks and writes finished
 * ones in order (hashing them with BLAKE2b-512 on the way out). */
#include <errno.h>
#include <libdeflate.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "artifact_internal.h"
#include "internal.h"

/* What follows a non-final block: at most one zero byte holding the rest of
 * the empty stored block's 3-bit header, then LEN 0000 and NLEN ffff. */
#define JOIN_MAX 5

enum { SLOT_FREE, SLOT_PENDING, SLOT_WORKING, SLOT_DONE, SLOT_FAILED };
enum { COMPRESS_ENOMEM = 1, COMPRESS_CHECK = 2 };

typedef struct slot {
    unsigned char *in;
    size_t in_len;
    unsigned char *out;
    size_t out_len, out_cap;
    uint32_t crc;
    int last;
    int state;
    int why; /* when SLOT_FAILED: COMPRESS_ENOMEM or COMPRESS_CHECK */
    uint64_t seq;
} slot;

struct smneo__pgz {
    int fd;
    int level;
    size_t block;
    int nthreads;
    pthread_t *threads;
    int started;
    size_t nslots;
    slot *slots;
    uint64_t fill_seq;  /* sequence number of the block being filled */
    uint64_t write_seq; /* next sequence number to write */
    pthread_mutex_t mu;
    pthread_cond_t work; /* a slot became pending, or stop */
    pthread_cond_t done; /* a slot finished */
    int stop;
    uint32_t crc;
    uint64_t isize;
    uint64_t written;
    smneo__hash *hash;
    int failed;
};

/* One worker's tools: a compressor, an inflater for the walk and a buffer
 * the walk inflates into. */
typedef struct tools {
    struct libdeflate_compressor *c;
    z_stream inf;
    int inf_ok;
    unsigned char *check;
} tools;

static slot *slot_of(smneo__pgz *z, uint64_t seq) { return &z->slots[seq % z->nslots]; }

/* Walks the raw deflate stream out[0..n) (one libdeflate output) to its end,
 * checking that it inflates to exactly in[0..in_len). *hdr: bit offset of
 * the last block's header; *end: bit offset just past its end-of-block code. */
static int walk_blocks(tools *t, const unsigned char *out, size_t n, const unsigned char *in, size_t in_len,
                       uint64_t *hdr, uint64_t *end)
{
    z_stream *s = &t->inf;
    if (inflateReset(s) != Z_OK)
        return -1;
    s->next_in = (unsigned char *)out;
    s->avail_in = (uInt)n;
    s->next_out = t->check;
    s->avail_out = (uInt)in_len + 1; /* one spare byte: longer output is a mismatch */
    *hdr = 0;
    for (;;) {
        int r = inflate(s, Z_BLOCK);
        if (r != Z_OK)
            return -1; /* Z_STREAM_END cannot come before the boundary below */
        /* data_type: unused bits of the last input byte taken, +64 once the
         * final block's header has been read, +128 at a block boundary. */
        if (!(s->data_type & 128))
            continue;
        uint64_t pos = (uint64_t)(n - s->avail_in) * 8 - (uint64_t)(s->data_type & 63);
        if (s->data_type & 64) {
            *end = pos;
            break;
        }
        *hdr = pos; /* the next block's header starts here */
    }
    size_t got = (size_t)(s->next_out - t->check);
    if (s->avail_in != 0 || *end + 8 <= (uint64_t)n * 8 || got != in_len || memcmp(t->check, in, in_len) != 0)
        return -1;
    if (!((out[*hdr / 8] >> (*hdr % 8)) & 1))
        return -1; /* the last header must have BFINAL set */
    return 0;
}

/* 0, COMPRESS_ENOMEM or COMPRESS_CHECK. */
static int compress_slot(tools *t, slot *sl)
{
    size_t need = libdeflate_deflate_compress_bound(t->c, sl->in_len) + JOIN_MAX;
    if (sl->out_cap < need) {
        unsigned char *p = realloc(sl->out, need);
        if (!p)
            return COMPRESS_ENOMEM;
        sl->out = p;
        sl->out_cap = need;
    }
    size_t n = libdeflate_deflate_compress(t->c, sl->in, sl->in_len, sl->out, sl->out_cap - JOIN_MAX);
    uint64_t hdr, end;
    if (n == 0 || walk_blocks(t, sl->out, n, sl->in, sl->in_len, &hdr, &end) != 0)
        return COMPRESS_CHECK;
    if (!sl->last) {
        sl->out[hdr / 8] &= (unsigned char)~(1u << (hdr % 8)); /* not the final block any more */
        /* The padding after the end-of-block code becomes zero bits (it is
         * already in libdeflate's output: made sure): an empty stored block's
         * header (000) fits in it when there are 3 or more; else it spills
         * into one more zero byte. Then LEN, NLEN. */
        if (end % 8)
            sl->out[end / 8] &= (unsigned char)((1u << (end % 8)) - 1);
        if ((uint64_t)n * 8 - end < 3)
            sl->out[n++] = 0;
        static const unsigned char stored_empty[4] = {0x00, 0x00, 0xff, 0xff};
        memcpy(sl->out + n, stored_empty, sizeof stored_empty);
        n += sizeof stored_empty;
    }
    sl->out_len = n;
    sl->crc = libdeflate_crc32(0, sl->in, sl->in_len);
    return 0;
}

static void tools_free(tools *t)
{
    libdeflate_free_compressor(t->c);
    if (t->inf_ok)
        inflateEnd(&t->inf);
    free(t->check);
}

static int tools_init(tools *t, int level, size_t block)
{
    memset(t, 0, sizeof *t);
    t->c = libdeflate_alloc_compressor(level);
    t->inf_ok = inflateInit2(&t->inf, -15) == Z_OK;
    t->check = malloc(block + 1);
    if (!t->c || !t->inf_ok || !t->check) {
        tools_free(t);
        return -1;
    }
    return 0;
}

static void *worker(void *arg)
{
    smneo__pgz *z = arg;
    tools t;
    int ok = tools_init(&t, z->level, z->block) == 0;
    pthread_mutex_lock(&z->mu);
    for (;;) {
        slot *pick = NULL;
        while (!z->stop) {
            for (size_t i = 0; i < z->nslots; i++) {
                slot *sl = &z->slots[i];
                if (sl->state == SLOT_PENDING && (!pick || sl->seq < pick->seq))
                    pick = sl;
            }
            if (pick)
                break;
            pthread_cond_wait(&z->work, &z->mu);
        }
        if (z->stop)
            break;
        pick->state = SLOT_WORKING;
        pthread_mutex_unlock(&z->mu);
        int r = ok ? compress_slot(&t, pick) : COMPRESS_ENOMEM;
        pthread_mutex_lock(&z->mu);
        pick->state = r == 0 ? SLOT_DONE : SLOT_FAILED;
        pick->why = r;
        pthread_cond_broadcast(&z->done);
    }
    pthread_mutex_unlock(&z->mu);
    if (ok)
        tools_free(&t);
    return NULL;
}

static int write_all(smneo__pgz *z, const unsigned char *p, size_t n, smneo_error *err)
{
    if (smneo__hash_update(z->hash, p, n))
        return smneo__error(err, SMNEO_ERROR, "digest update failed");
    while (n) {
        ssize_t w = write(z->fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return smneo__error(err, SMNEO_EIO, "cannot write the archive: %s", strerror(errno));
        p += w;
        n -= (size_t)w;
        z->written += (uint64_t)w;
    }
    return 0;
}

/* Writes finished blocks in order: all up to and including `upto` (waiting),
 * then any further ones already done. */
static int drain(smneo__pgz *z, uint64_t upto, int wait, smneo_error *err)
{
    for (;;) {
        if (z->write_seq >= z->fill_seq)
            return 0;
        slot *sl = slot_of(z, z->write_seq);
        pthread_mutex_lock(&z->mu);
        int must = wait && z->write_seq <= upto;
        while (must && (sl->state == SLOT_PENDING || sl->state == SLOT_WORKING))
            pthread_cond_wait(&z->done, &z->mu);
        int st = sl->state, why = sl->why;
        pthread_mutex_unlock(&z->mu);
        if (st == SLOT_FAILED && why == COMPRESS_CHECK)
            return smneo__error(err, SMNEO_ERROR,
                                "block %llu of the archive did not decompress back to its input (libdeflate %s): "
                                "the archive was not written; please report this",
                                (unsigned long long)z->write_seq, LIBDEFLATE_VERSION_STRING);
        if (st == SLOT_FAILED)
            return smneo__error(err, SMNEO_ENOMEM, "compression of a block failed (out of memory)");
        if (st != SLOT_DONE)
            return 0;
        int rc = write_all(z, sl->out, sl->out_len, err);
        if (rc)
            return rc;
        z->crc = (uint32_t)crc32_combine(z->crc, sl->crc, (z_off_t)sl->in_len);
        pthread_mutex_lock(&z->mu);
        sl->state = SLOT_FREE;
        pthread_mutex_unlock(&z->mu);
        z->write_seq++;
    }
}

int smneo__pgz_new(smneo__pgz **out, int fd, int level, int threads, size_t block_size, smneo_error *err)
{
    if (level < 1 || level > 9)
        return smneo__error(err, SMNEO_EINVAL, "compress level must be 1..9, got %d", level);
    if (threads < 1)
        threads = 1;
    smneo__pgz *z = calloc(1, sizeof *z);
    if (!z)
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    z->fd = fd;
    z->level = level;
    z->block = block_size;
    z->nthreads = threads;
    z->nslots = (size_t)threads * 2 + 2;
    z->slots = calloc(z->nslots, sizeof *z->slots);
    z->threads = calloc((size_t)threads, sizeof *z->threads);
    pthread_mutex_init(&z->mu, NULL);
    pthread_cond_init(&z->work, NULL);
    pthread_cond_init(&z->done, NULL);
    int rc = 0;
    if (!z->slots || !z->threads) {
        rc = smneo__error(err, SMNEO_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < z->nslots; i++) {
        z->slots[i].in = malloc(block_size);
        if (!z->slots[i].in) {
            rc = smneo__error(err, SMNEO_ENOMEM, "out of memory");
            goto fail;
        }
    }
    rc = smneo__hash_new(&z->hash, "blake2b", err);
    if (rc)
        goto fail;
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&z->threads[i], NULL, worker, z) != 0) {
            rc = smneo__error(err, SMNEO_ERROR, "cannot start a compression thread");
            goto fail;
        }
        z->started++;
    }
    /* gzip header: no MTIME, no name, XFL as gzip sets it, OS 255 (unknown). */
    unsigned char hdr[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, (unsigned char)(level == 9 ? 2 : level == 1 ? 4 : 0),
                             255};
    rc = write_all(z, hdr, sizeof hdr, err);
    if (rc)
        goto fail;
    z->crc = (uint32_t)crc32(0L, Z_NULL, 0);
    *out = z;
    return 0;
fail:
    smneo__pgz_free(z);
    return rc;
}

/* Hands the block being filled to the workers and prepares the next slot. */
static int submit(smneo__pgz *z, int last, smneo_error *err)
{
    slot *cur = slot_of(z, z->fill_seq);
    pthread_mutex_lock(&z->mu);
    cur->last = last;
    cur->seq = z->fill_seq;
    cur->state = SLOT_PENDING;
    pthread_cond_signal(&z->work);
    pthread_mutex_unlock(&z->mu);
    z->fill_seq++;
    if (last)
        return 0;
    /* The next slot last held block fill_seq - nslots: make sure it is written. */
    uint64_t need = z->fill_seq >= z->nslots ? z->fill_seq - z->nslots : 0;
    int rc = drain(z, need, z->fill_seq >= z->nslots, err);
    if (rc)
        return rc;
    slot_of(z, z->fill_seq)->in_len = 0;
    return 0;
}

int smneo__pgz_write(smneo__pgz *z, const void *data, size_t len, smneo_error *err)
{
    if (z->failed)
        return smneo__error(err, SMNEO_ERROR, "the compressor already failed");
    const unsigned char *p = data;
    while (len) {
        slot *cur = slot_of(z, z->fill_seq);
        if (cur->in_len == z->block) {
            int rc = submit(z, 0, err);
            if (rc) {
                z->failed = 1;
                return rc;
            }
            continue;
        }
        size_t n = z->block - cur->in_len;
        if (n > len)
            n = len;
        memcpy(cur->in + cur->in_len, p, n);
        cur->in_len += n;
        z->isize += n;
        p += n;
        len -= n;
    }
    return 0;
}

int smneo__pgz_finish(smneo__pgz *z, uint64_t *size, char *hex, smneo_error *err)
{
    if (z->failed)
        return smneo__error(err, SMNEO_ERROR, "the compressor already failed");
    int rc = submit(z, 1, err);
    if (!rc)
        rc = drain(z, z->fill_seq - 1, 1, err);
    if (!rc) {
        unsigned char t[8];
        uint32_t c = z->crc, n = (uint32_t)(z->isize & 0xffffffffu);
        for (int i = 0; i < 4; i++) {
            t[i] = (unsigned char)(c >> (8 * i));
            t[4 + i] = (unsigned char)(n >> (8 * i));
        }
        rc = write_all(z, t, sizeof t, err);
    }
    if (!rc && smneo__hash_final_hex(z->hash, hex))
        rc = smneo__error(err, SMNEO_ERROR, "digest finalisation failed");
    if (rc) {
        z->failed = 1;
        return rc;
    }
    *size = z->written;
    return 0;
}

void smneo__pgz_free(smneo__pgz *z)
{
    if (!z)
        return;
    pthread_mutex_lock(&z->mu);
    z->stop = 1;
    pthread_cond_broadcast(&z->work);
    pthread_mutex_unlock(&z->mu);
    /* Workers finish the block in hand before they see stop. */
    for (int i = 0; i < z->started; i++)
        pthread_join(z->threads[i], NULL);
    for (size_t i = 0; z->slots && i < z->nslots; i++) {
        free(z->slots[i].in);
        free(z->slots[i].out);
    }
    free(z->slots);
    free(z->threads);
    smneo__hash_free(z->hash);
    pthread_mutex_destroy(&z->mu);
    pthread_cond_destroy(&z->work);
    pthread_cond_destroy(&z->done);
    free(z);
}
