/* Private helpers shared by the artifact_*.c files. Not installed. */
#ifndef SMNEO_ARTIFACT_INTERNAL_H
#define SMNEO_ARTIFACT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "smneo/artifact.h"

/* ---- inspection (artifact_inspect.c) ---- */
/* smneo_artifact_inspect with the class_labels file name (or NULL) already
 * read from CompilerOptions; opts->compiler_options is not read. The compile
 * flow calls it with what the validator's reading of CompilerOptions gives. */
int smneo__artifact_inspect(smneo_artifact_inspection **out, const char *path, const smneo_inspect_options *opts,
                            const char *class_labels, smneo_error *err);

/* ---- hashing (artifact_digest.c) ---- */
typedef struct smneo__hash smneo__hash;
/* Known algorithm names -> 0 and *out; else SMNEO_EINVAL (err set). */
int smneo__hash_new(smneo__hash **out, const char *algorithm, smneo_error *err);
int smneo__hash_update(smneo__hash *h, const void *data, size_t len);
/* Writes lowercase hex (NUL-terminated) into hex (>= 129 bytes). */
int smneo__hash_final_hex(smneo__hash *h, char *hex);
void smneo__hash_free(smneo__hash *h);

/* ---- parallel gzip writer (artifact_gzip.c) ---- */
typedef struct smneo__pgz smneo__pgz;
/* Writes one gzip member to fd (not closed). threads >= 1. Output bytes do not
 * depend on threads. The BLAKE2b-512 of the output is computed as it is
 * written. */
int smneo__pgz_new(smneo__pgz **out, int fd, int level, int threads, size_t block_size, smneo_error *err);
int smneo__pgz_write(smneo__pgz *z, const void *data, size_t len, smneo_error *err);
/* Flushes the last block and the trailer. *size: bytes written; hex: digest. */
int smneo__pgz_finish(smneo__pgz *z, uint64_t *size, char *hex, smneo_error *err);
/* Stops the workers and frees everything (safe after finish or on error). */
void smneo__pgz_free(smneo__pgz *z);

/* ---- archive reader (artifact_read.c) ---- */
struct archive;
/* Decompresses gzip (all members) itself, so it can tell members apart,
 * detect truncation and count compressed bytes; hands the tar stream to a
 * libarchive reader (tar formats only). A file that is not gzip is read as
 * a plain tar. */
typedef struct smneo__areader {
    struct archive *a;        /* libarchive reader over the decompressed stream */
    const char *path;
    int fd;
    int gzip;                 /* 1: the file is gzip */
    int members;              /* gzip members started */
    int truncated;            /* the gzip stream ended early */
    int corrupt;              /* inflate reported an error */
    int trailing_garbage;     /* non-gzip bytes after a member */
    int cancelled;            /* the progress callback asked to stop */
    int ratio_hit;            /* max_ratio exceeded */
    int bytes_hit;            /* max_out exceeded */
    int io_errno;             /* read(2) failed */
    char zmsg[128];           /* inflate's message */
    uint64_t in_bytes;        /* compressed bytes consumed */
    uint64_t out_bytes;       /* decompressed bytes produced */
    uint64_t file_size;
    double max_ratio;         /* > 0: refuse beyond it (after the grace bytes) */
    uint64_t max_out;         /* > 0: refuse a decompressed stream longer than this */
    uint64_t max_bytes;       /* the caller's max_bytes, for the message when max_out is hit */
    smneo_artifact_progress_cb progress;
    void *payload;
    void *z;                  /* z_stream */
    unsigned char *inbuf, *outbuf;
    size_t last_len;          /* bytes handed to libarchive by the last callback */
    int eof;                  /* the file is read to its end */
    int end;                  /* the decompressed stream is finished */
} smneo__areader;

int smneo__areader_open(smneo__areader *r, const char *path, smneo_error *err);
/* Reads and discards the rest of the decompressed stream; *nonzero set when any
 * byte is not zero. Returns 0 or an archive error code. */
int smneo__areader_drain(smneo__areader *r, int *nonzero, smneo_error *err);
void smneo__areader_close(smneo__areader *r);
/* Maps the reader's state after a libarchive failure to an error. */
int smneo__areader_fail(smneo__areader *r, smneo_error *err, const char *what);

/* Checks an entry's declared data size against max_bytes: adds it to
 * *total, or returns SMNEO_EUNSAFE (err set) naming the entry and the option.
 * Inspect and extract use the same limits and the same message. */
int smneo__areader_count_bytes(uint64_t *total, uint64_t size, uint64_t max_bytes, const char *name,
                               smneo_error *err);

/* ---- small helpers ---- */
/* 1 when `name` is empty, absolute or has a ".." component. */
int smneo__path_unsafe(const char *name);
/* Why such a name is unsafe: "an empty name", "an absolute path" or "a \"..\"
 * component". */
const char *smneo__path_problem(const char *name);

#endif
