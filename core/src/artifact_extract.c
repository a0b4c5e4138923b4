/* Safe extraction: every entry is checked before libarchive writes it (with
 * its secure-extraction flags on as a second line), into a temporary
 * directory beside the destination that is renamed into place at the end.
 * Any refusal or error removes the temporary directory: nothing is left. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "artifact_internal.h"
#include "options_internal.h"
#include "internal.h"

/* rm -rf without following symlinks; no global state (unlike nftw). */
static void rmtree_at(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
        DIR *d = fdopendir(fd);
        if (d) {
            struct dirent *de;
            while ((de = readdir(d)) != NULL) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                    continue;
                struct stat st;
                if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
                    fchmodat(fd, de->d_name, 0700, 0);
                    rmtree_at(fd, de->d_name);
                } else {
                    unlinkat(fd, de->d_name, 0);
                }
            }
            closedir(d);
        } else {
            close(fd);
        }
        unlinkat(dirfd, name, AT_REMOVEDIR);
    } else {
        unlinkat(dirfd, name, 0);
    }
}

static void rmtree(const char *path) { rmtree_at(AT_FDCWD, path); }

/* Every symlink under dir (real path root) must resolve inside root, or
 * dangle. Returns 0 or SMNEO_EUNSAFE naming the link. */
static int check_links(const char *root, const char *dir, size_t rootlen, smneo_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return smneo__error(err, SMNEO_EIO, "cannot read %s: %s", dir, strerror(errno));
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *p = smneo__aprintf("%s/%s", dir, de->d_name);
        if (!p) {
            rc = smneo__error(err, SMNEO_ENOMEM, "out of memory");
            break;
        }
        struct stat st;
        if (lstat(p, &st) == 0) {
            if (S_ISLNK(st.st_mode)) {
                char *real = realpath(p, NULL);
                if (real && !(strncmp(real, root, rootlen) == 0 && (real[rootlen] == 0 || real[rootlen] == '/')))
                    rc = smneo__error(err, SMNEO_EUNSAFE,
                                      "refused: symlink %s resolves outside the destination (through other links)",
                                      p + rootlen + 1);
                free(real);
            } else if (S_ISDIR(st.st_mode)) {
                rc = check_links(root, p, rootlen, err);
            }
        }
        free(p);
    }
    closedir(d);
    return rc;
}

/* 1 when the symlink target, taken relative to the entry's directory, stays
 * inside the root (lexically). */
static int link_inside(const char *name, const char *target)
{
    if (!target || !*target || target[0] == '/')
        return 0;
    int depth = 0;
    for (const char *p = name; *p; p++)
        if (*p == '/' && p[1] && p[1] != '/')
            depth++;
    const char *p = target;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            if (--depth < 0)
                return 0;
        } else if (n && !(n == 1 && p[0] == '.')) {
            depth++;
        }
        p += n + (e ? 1 : 0);
    }
    return 1;
}

static int dir_empty(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return 0;
    struct dirent *de;
    int empty = 1;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            empty = 0;
            break;
        }
    closedir(d);
    return empty;
}

static const char *type_name(unsigned ft)
{
    switch (ft) {
    case AE_IFCHR: return "a character device";
    case AE_IFBLK: return "a block device";
    case AE_IFIFO: return "a FIFO";
    case AE_IFSOCK: return "a socket";
    default: return "an entry of unknown type";
    }
}

/* One entry. name and hl are our copies (the entry's strings change when
 * the path is rewritten). */
static int extract_one(smneo__areader *r, struct archive *disk, struct archive_entry *e, const char *name,
                       const char *hl, const char *tmp, uint64_t max_bytes, uint64_t max_entries, uint64_t *entries,
                       uint64_t *bytes_total, smneo_error *err)
{
    uint64_t bytes = *bytes_total;
    {
        if (++*entries > max_entries)
            return smneo__error(err, SMNEO_EUNSAFE,
                                "refused: more than %llu entries (at %s); raise max_entries if the archive is trusted",
                                (unsigned long long)max_entries, name);
        if (!*name)
            return smneo__error(err, SMNEO_EUNSAFE,
                                "refused: entry %llu of the archive has an empty name: repack it with a name for "
                                "every member", (unsigned long long)*entries);
        if (smneo__path_unsafe(name))
            return smneo__error(err, SMNEO_EUNSAFE, "refused: entry %s has %s", name, smneo__path_problem(name));
        unsigned ft = archive_entry_filetype(e);
        const char *clean = name;
        while (clean[0] == '.' && clean[1] == '/')
            clean += 2;
        while (*clean == '/')
            clean++;
        if (!*clean || strcmp(clean, ".") == 0) {
            /* "./" itself: the destination. */
            if (archive_read_data_skip(r->a) < ARCHIVE_WARN)
                return smneo__areader_fail(r, err, "cannot read the archive");
            return 0;
        }
        if (hl) {
            if (smneo__path_unsafe(hl))
                return smneo__error(err, SMNEO_EUNSAFE, "refused: hard link %s points outside the destination (%s)",
                                    name, hl);
            /* pax lets a hard link carry data (the file's new content);
             * libarchive would make the link and leave that content zeros. */
            if (archive_entry_size_is_set(e) && archive_entry_size(e) > 0)
                return smneo__error(err, SMNEO_EUNSAFE,
                                    "refused: hard link %s (to %s) carries %lld bytes of data, which would replace "
                                    "the content of %s: repack the archive with the file stored once",
                                    name, hl, (long long)archive_entry_size(e), hl);
        } else if (ft == AE_IFLNK) {
            const char *t = archive_entry_symlink(e);
            if (!link_inside(clean, t))
                return smneo__error(err, SMNEO_EUNSAFE, "refused: symlink %s points outside the destination (%s)",
                                    name, t ? t : "");
        } else if (ft != AE_IFREG && ft != AE_IFDIR) {
            return smneo__error(err, SMNEO_EUNSAFE, "refused: entry %s is %s", name, type_name(ft));
        }
        if (ft == AE_IFREG && !hl) {
            uint64_t declared = bytes; /* the data read is counted as it comes */
            int rc = smneo__areader_count_bytes(&declared, (uint64_t)archive_entry_size(e), max_bytes, name, err);
            if (rc)
                return rc;
        }
        char *full = smneo__aprintf("%s/%s", tmp, clean);
        char *fullhl = hl ? smneo__aprintf("%s/%s", tmp, hl) : NULL;
        if (!full || (hl && !fullhl)) {
            free(full);
            free(fullhl);
            return smneo__error(err, SMNEO_ENOMEM, "out of memory");
        }
        archive_entry_set_pathname(e, full);
        if (hl)
            archive_entry_set_hardlink(e, fullhl);
        free(full);
        free(fullhl);
        archive_entry_set_uid(e, getuid());
        archive_entry_set_gid(e, getgid());
        int wr = archive_write_header(disk, e);
        if (wr < ARCHIVE_WARN) {
            int en = archive_errno(disk);
            if (en == ENOSPC || en == EIO || en == EDQUOT || en == EROFS || en == EACCES)
                return smneo__error(err, SMNEO_EIO, "cannot extract %s: %s", name, archive_error_string(disk));
            return smneo__error(err, SMNEO_EUNSAFE, "refused: cannot extract %s: %s", name,
                                archive_error_string(disk));
        }
        if (ft == AE_IFREG && !hl) {
            const void *buf;
            size_t size;
            la_int64_t off;
            for (;;) {
                int rr = archive_read_data_block(r->a, &buf, &size, &off);
                if (rr == ARCHIVE_EOF)
                    break;
                if (rr < ARCHIVE_WARN)
                    return smneo__areader_fail(r, err, "cannot read the archive");
                bytes += size;
                *bytes_total = bytes;
                if (bytes > max_bytes)
                    return smneo__error(err, SMNEO_EUNSAFE, "refused: %s takes the total over max_bytes (%llu)",
                                        name, (unsigned long long)max_bytes);
                if (archive_write_data_block(disk, buf, size, off) < ARCHIVE_WARN)
                    return smneo__error(err, SMNEO_EIO, "cannot write %s: %s", name, archive_error_string(disk));
            }
        }
        if (archive_write_finish_entry(disk) < ARCHIVE_WARN)
            return smneo__error(err, SMNEO_EIO, "cannot finish %s: %s", name, archive_error_string(disk));
        *bytes_total = bytes;
        return 0;
    }
}

static int extract_entries(smneo__areader *r, struct archive *disk, const char *tmp, uint64_t max_bytes,
                           uint64_t max_entries, smneo_error *err)
{
    struct archive_entry *e;
    uint64_t entries = 0, bytes = 0;
    for (;;) {
        int ar = archive_read_next_header(r->a, &e);
        if (ar == ARCHIVE_EOF)
            return 0;
        if (ar < ARCHIVE_WARN)
            return smneo__areader_fail(r, err, "cannot read the archive");
        const char *n0 = archive_entry_pathname(e);
        const char *h0 = archive_entry_hardlink(e);
        if (!n0)
            return smneo__error(err, SMNEO_EARCHIVE, "%s: an entry has no name", r->path);
        char *name = smneo__strdup(n0);
        char *hl = h0 ? smneo__strdup(h0) : NULL;
        int rc = (!name || (h0 && !hl)) ? smneo__error(err, SMNEO_ENOMEM, "out of memory")
                                        : extract_one(r, disk, e, name, hl, tmp, max_bytes, max_entries, &entries,
                                                      &bytes, err);
        free(name);
        free(hl);
        if (rc)
            return rc;
    }
}

int smneo_artifact_extract(const char *path, const char *dest_dir, const smneo_extract_options *opts,
                           smneo_error *err)
{
    if (!path || !dest_dir || !*dest_dir)
        return smneo__error(err, SMNEO_EINVAL, "path and dest_dir are required");
    smneo_extract_options full;
    int orc = smneo__options_copy(&full, opts, &smneo__extract_options_layout, err);
    if (orc)
        return orc;
    opts = &full;
    uint64_t max_bytes = opts->max_bytes ? opts->max_bytes : SMNEO_ARTIFACT_DEFAULT_MAX_BYTES;
    uint64_t max_entries = opts->max_entries ? opts->max_entries : SMNEO_ARTIFACT_DEFAULT_MAX_ENTRIES;
    double max_ratio = opts->max_ratio == 0 ? SMNEO_ARTIFACT_DEFAULT_MAX_RATIO : opts->max_ratio;

    struct stat st;
    if (lstat(dest_dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            return smneo__error(err, SMNEO_EINVAL, "dest_dir %s exists and is not a directory: give a new directory",
                                dest_dir);
        if (!dir_empty(dest_dir))
            return smneo__error(err, SMNEO_EINVAL, "dest_dir %s is not empty: give a new or empty directory",
                                dest_dir);
    } else if (errno != ENOENT) {
        return smneo__error(err, SMNEO_EIO, "cannot check %s: %s", dest_dir, strerror(errno));
    }
    char *d1 = smneo__strdup(dest_dir), *d2 = smneo__strdup(dest_dir);
    char *parent = d1 ? realpath(dirname(d1), NULL) : NULL;
    int rc = 0;
    if (!d1 || !d2)
        rc = smneo__error(err, SMNEO_ENOMEM, "out of memory");
    else if (!parent)
        rc = smneo__error(err, SMNEO_EINVAL, "the parent directory of %s does not exist: create it first", dest_dir);
    char *tmp = rc ? NULL : smneo__aprintf("%s/.%s.smneo-XXXXXX", parent, basename(d2));
    free(d1);
    free(d2);
    free(parent);
    if (!rc && !tmp)
        rc = smneo__error(err, SMNEO_ENOMEM, "out of memory");
    if (rc) {
        free(tmp);
        return rc;
    }
    if (!mkdtemp(tmp)) {
        rc = smneo__error(err, SMNEO_EIO, "cannot create a temporary directory beside %s: %s", dest_dir,
                          strerror(errno));
        free(tmp);
        return rc;
    }
    chmod(tmp, 0755); /* mkdtemp made it 0700 */
    smneo__areader r;
    memset(&r, 0, sizeof r);
    r.fd = -1;
    r.max_ratio = max_ratio;
    r.progress = opts->progress;
    r.payload = opts->payload;
    struct archive *disk = archive_write_disk_new();
    if (!disk)
        rc = smneo__error(err, SMNEO_ENOMEM, "out of memory");
    if (!rc)
        archive_write_disk_set_options(disk, ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                                 ARCHIVE_EXTRACT_TIME);
    if (!rc)
        rc = smneo__areader_open(&r, path, err);
    if (!rc)
        rc = extract_entries(&r, disk, tmp, max_bytes, max_entries, err);
    if (!rc && archive_write_close(disk) != ARCHIVE_OK)
        rc = smneo__error(err, SMNEO_EIO, "cannot finish extraction: %s", archive_error_string(disk));
    if (disk)
        archive_write_free(disk);
    smneo__areader_close(&r);
    if (!rc)
        rc = check_links(tmp, tmp, strlen(tmp), err);
    if (!rc && rename(tmp, dest_dir) != 0)
        rc = smneo__error(err, errno == ENOTEMPTY || errno == EEXIST ? SMNEO_EINVAL : SMNEO_EIO,
                          "cannot move the extracted tree to %s: %s", dest_dir, strerror(errno));
    if (rc)
        rmtree(tmp);
    free(tmp);
    return rc;
}
