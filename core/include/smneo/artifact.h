/* smneo/artifact.h: model.tar.gz pack / inspect / safe extract, digests.
 *
 * All functions are plain blocking calls (a binding releases its interpreter
 * lock around them). Long ones take a progress callback; a non-zero return
 * from it cancels the call: temporary files are removed and the call returns
 * SMNEO_ECANCELLED. Nothing here keeps global state; calls may run in
 * parallel from several threads.
 *
 * Ownership: smneo_artifact_pack_result and smneo_artifact_inspection are
 * opaque, caller-owned (*out) and released with their _free (NULL is a
 * no-op). Strings and structs returned by their accessors are borrowed and
 * live as long as the parent. smneo_artifact_digest's *out is a malloc'd
 * string the caller frees with free().
 *
 * Formats, limits and guarantees are described in docs/artifacts.md. */
#ifndef SMNEO_ARTIFACT_H
#define SMNEO_ARTIFACT_H

#include "common.h"
#include "validate.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Progress: `done` of `total` units (bytes of file content for pack, bytes of
 * the archive read for inspect, extract and digest). Return non-zero to cancel. */
typedef int (*smneo_artifact_progress_cb)(uint64_t done, uint64_t total, void *payload);

/* ---- pack ------------------------------------------------------------------- */

typedef struct smneo_pack_options {
    int version;              /* SMNEO_PACK_OPTIONS_VERSION */
    int compress_level;       /* 1..9; 0 or -1: 6 */
    int threads;              /* compression threads; 0: number of online CPUs (max 8).
                                 The output does not depend on it. */
    int64_t source_date_epoch;/* mtime of every entry (> 0); 0 or -1: $SOURCE_DATE_EPOCH, else 0 */
    smneo_artifact_progress_cb progress; /* may be NULL */
    void *payload;
    size_t block_size;        /* bytes per compressed block; 0: 1 MiB (min 64 KiB).
                                 Part of the output format: keep the default for
                                 reproducible digests. */
} smneo_pack_options;

#define SMNEO_PACK_OPTIONS_VERSION 1
#define SMNEO_PACK_OPTIONS_INIT {.version = SMNEO_PACK_OPTIONS_VERSION}
/* Zeroes *opts (the size of that version) and sets its version; SMNEO_EINVAL for a version
 * outside 1 to SMNEO_PACK_OPTIONS_VERSION. For programs that cannot use the macro (FFI). */
SMNEO_EXTERN(int) smneo_pack_options_init(smneo_pack_options *opts, int version);

typedef struct smneo_artifact_pack_result smneo_artifact_pack_result;

/* Packs the contents of directory `source` (entries named relative to it,
 * e.g. "model.pth", "code/inference.py") into the gzip-compressed tar `dest`
 * (written to a temporary file beside it, fsync'ed, then renamed).
 * Errors: SMNEO_EINVAL (bad option, source not a directory, a symlink pointing
 * outside the source, a special file), SMNEO_EIO, SMNEO_ECANCELLED. */
SMNEO_EXTERN(int) smneo_artifact_pack(smneo_artifact_pack_result **out, const char *source, const char *dest,
                                      const smneo_pack_options *opts, smneo_error *err);

/* Packs a list of paths relative to `base_dir` (NULL: the current directory);
 * each is stored under that relative name, directories recursively. Paths
 * must not be absolute nor contain "..". */
SMNEO_EXTERN(int) smneo_artifact_pack_files(smneo_artifact_pack_result **out, const char *base_dir,
                                            const char *const *paths, size_t npaths, const char *dest,
                                            const smneo_pack_options *opts, smneo_error *err);

SMNEO_EXTERN(void) smneo_artifact_pack_result_free(smneo_artifact_pack_result *r);
/* The final path of the archive (as given in `dest`). */
SMNEO_EXTERN(const char *) smneo_artifact_pack_result_path(const smneo_artifact_pack_result *r);
/* Size of the archive in bytes. */
SMNEO_EXTERN(uint64_t) smneo_artifact_pack_result_size(const smneo_artifact_pack_result *r);
/* BLAKE2b-512 of the archive, 128 lowercase hex digits (computed while writing). */
SMNEO_EXTERN(const char *) smneo_artifact_pack_result_digest(const smneo_artifact_pack_result *r);

/* ---- inspect ---------------------------------------------------------------- */

typedef enum {
    SMNEO_MEMBER_FILE = 0,
    SMNEO_MEMBER_DIRECTORY = 1,
    SMNEO_MEMBER_SYMLINK = 2,
    SMNEO_MEMBER_HARDLINK = 3,
    SMNEO_MEMBER_OTHER = 4 /* device, FIFO, socket, unknown */
} smneo_member_type;

typedef struct smneo_artifact_member {
    const char *name;      /* as stored in the archive */
    smneo_member_type type;
    uint64_t size;         /* 0 for non-files; for a hard link, the data it carries (pax), else 0 */
    const char *linkname;  /* symlink / hardlink target, else NULL */
} smneo_artifact_member;

typedef struct smneo_inspect_options {
    int version;                  /* SMNEO_INSPECT_OPTIONS_VERSION */
    const char *framework;        /* NULL: no layout check; else a Neo Framework value
                                     ("PYTORCH", "TENSORFLOW", ...), case-insensitive */
    const char *target;           /* target device/platform name, or NULL */
    const char *compiler_options; /* CompilerOptions text (CoreML class_labels), or NULL: JSON,
                                     or the Python style of the Neo documentation */
    smneo_artifact_progress_cb progress;
    void *payload;
    /* The limits of smneo_artifact_extract, with the same defaults and the same
     * meaning: inspect decompresses the whole archive too. */
    uint64_t max_entries;         /* 0: SMNEO_ARTIFACT_DEFAULT_MAX_ENTRIES */
    /* version 2: */
    uint64_t max_bytes;           /* 0: SMNEO_ARTIFACT_DEFAULT_MAX_BYTES; the data the members declare,
                                     plus whatever follows the end of the tar */
    double max_ratio;             /* 0: SMNEO_ARTIFACT_DEFAULT_MAX_RATIO; negative: no ratio limit */
} smneo_inspect_options;

#define SMNEO_INSPECT_OPTIONS_VERSION 2 /* 1 (without max_bytes, max_ratio) is accepted too */
#define SMNEO_INSPECT_OPTIONS_INIT {.version = SMNEO_INSPECT_OPTIONS_VERSION}
/* Zeroes *opts (the size of that version) and sets its version; SMNEO_EINVAL for a version
 * outside 1 to SMNEO_INSPECT_OPTIONS_VERSION. For programs that cannot use the macro (FFI). */
SMNEO_EXTERN(int) smneo_inspect_options_init(smneo_inspect_options *opts, int version);

typedef struct smneo_artifact_inspection smneo_artifact_inspection;

/* Lists the archive and checks its layout. Findings (the validation issue
 * format: severity, path = member name or "", rule "artifact.*", message
 * with the fix) are in smneo_artifact_inspection_issues; they do not make the
 * call fail. Errors: SMNEO_EINVAL (unknown framework, bad compiler_options),
 * SMNEO_EIO (cannot open), SMNEO_EARCHIVE (not a gzip/tar, truncated or
 * corrupt), SMNEO_EUNSAFE (over max_entries, max_bytes or max_ratio: a gzip
 * bomb is refused while it is being decompressed), SMNEO_ECANCELLED. */
SMNEO_EXTERN(int) smneo_artifact_inspect(smneo_artifact_inspection **out, const char *path,
                                         const smneo_inspect_options *opts, smneo_error *err);
SMNEO_EXTERN(void) smneo_artifact_inspection_free(smneo_artifact_inspection *in);
SMNEO_EXTERN(size_t) smneo_artifact_inspection_member_count(const smneo_artifact_inspection *in);
/* Borrowed; NULL past the end. */
SMNEO_EXTERN(const smneo_artifact_member *) smneo_artifact_inspection_member_at(const smneo_artifact_inspection *in,
                                                                               size_t i);
/* 1 when the file is exactly one gzip member holding one tar archive. */
SMNEO_EXTERN(int) smneo_artifact_inspection_single_gzip_member(const smneo_artifact_inspection *in);
/* Borrowed (never NULL on a successful inspection; may be empty). */
SMNEO_EXTERN(const smneo_issues *) smneo_artifact_inspection_issues(const smneo_artifact_inspection *in);
/* "file", "directory", "symlink", "hardlink", "other". Never NULL. */
SMNEO_EXTERN(const char *) smneo_member_type_name(smneo_member_type t);

/* ---- extract ---------------------------------------------------------------- */

#define SMNEO_ARTIFACT_DEFAULT_MAX_BYTES ((uint64_t)64 << 30) /* 64 GiB written in total */
#define SMNEO_ARTIFACT_DEFAULT_MAX_ENTRIES ((uint64_t)100000)
#define SMNEO_ARTIFACT_DEFAULT_MAX_RATIO 200.0 /* uncompressed / compressed bytes */
/* The ratio limit applies once this many bytes have been decompressed. */
#define SMNEO_ARTIFACT_RATIO_GRACE_BYTES ((uint64_t)16 << 20)

typedef struct smneo_extract_options {
    int version;          /* SMNEO_EXTRACT_OPTIONS_VERSION */
    uint64_t max_bytes;   /* 0: default */
    uint64_t max_entries; /* 0: default */
    double max_ratio;     /* 0: default; negative: no ratio limit */
    smneo_artifact_progress_cb progress;
    void *payload;
} smneo_extract_options;

#define SMNEO_EXTRACT_OPTIONS_VERSION 1
#define SMNEO_EXTRACT_OPTIONS_INIT {.version = SMNEO_EXTRACT_OPTIONS_VERSION}
/* Zeroes *opts (the size of that version) and sets its version; SMNEO_EINVAL for a version
 * outside 1 to SMNEO_EXTRACT_OPTIONS_VERSION. For programs that cannot use the macro (FFI). */
SMNEO_EXTERN(int) smneo_extract_options_init(smneo_extract_options *opts, int version);

/* Extracts the tar (gzip-compressed or not) `path` into `dest_dir`, which must
 * not exist or be an empty directory. Everything is written to a temporary
 * directory beside dest_dir and renamed into place at the end; on any error
 * nothing is left behind. Errors: SMNEO_EUNSAFE (absolute path, "..", a link
 * leaving the destination, device node, FIFO, socket; message names the
 * entry, or max_bytes / max_entries / max_ratio exceeded: a gzip bomb),
 * SMNEO_EARCHIVE (not an archive, truncated, corrupt), SMNEO_EINVAL
 * (dest_dir not empty), SMNEO_EIO, SMNEO_ECANCELLED. */
SMNEO_EXTERN(int) smneo_artifact_extract(const char *path, const char *dest_dir, const smneo_extract_options *opts,
                                         smneo_error *err);

/* ---- digest ----------------------------------------------------------------- */

typedef struct smneo_digest_options {
    int version; /* SMNEO_DIGEST_OPTIONS_VERSION */
    smneo_artifact_progress_cb progress;
    void *payload;
} smneo_digest_options;

#define SMNEO_DIGEST_OPTIONS_VERSION 1
#define SMNEO_DIGEST_OPTIONS_INIT {.version = SMNEO_DIGEST_OPTIONS_VERSION}
/* Zeroes *opts (the size of that version) and sets its version; SMNEO_EINVAL for a version
 * outside 1 to SMNEO_DIGEST_OPTIONS_VERSION. For programs that cannot use the macro (FFI). */
SMNEO_EXTERN(int) smneo_digest_options_init(smneo_digest_options *opts, int version);

/* Hashes a file, streamed. algorithm (case-insensitive; NULL = "blake2b"):
 * "blake2b" / "blake2b-512", "blake2b-256", "blake2s" / "blake2s-256",
 * "sha256", "sha512". *out: lowercase hex, caller frees with free().
 * opts may be NULL. Errors: SMNEO_EINVAL (unknown algorithm), SMNEO_EIO,
 * SMNEO_ECANCELLED. */
SMNEO_EXTERN(int) smneo_artifact_digest(char **out, const char *path, const char *algorithm,
                                        const smneo_digest_options *opts, smneo_error *err);

/* Checks a file against `expected`: 128 hex digits (BLAKE2b-512), 64 hex
 * digits (matches when BLAKE2b-256 or BLAKE2s-256 matches), or
 * "algorithm:hex" with an algorithm accepted by smneo_artifact_digest.
 * Returns 0 on a match, SMNEO_EDIGEST on a mismatch (message shows both),
 * SMNEO_EINVAL when `expected` cannot be interpreted, SMNEO_EIO,
 * SMNEO_ECANCELLED. opts may be NULL. */
SMNEO_EXTERN(int) smneo_artifact_verify(const char *path, const char *expected, const smneo_digest_options *opts,
                                        smneo_error *err);

#ifdef __cplusplus
}
#endif
#endif
