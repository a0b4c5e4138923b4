/* Listing a model archive and checking its layout for a Neo framework. */
#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "artifact_internal.h"
#include "options_internal.h"
#include "internal.h"
#include "validate_internal.h"

#define HEAD_MAX 4104 /* enough for the HDF5 signature at offset 0/512/1024/2048 */

typedef struct finfo {
    unsigned char head[HEAD_MAX];
    size_t head_len;
    int torchscript; /* a zip naming constants.pkl or code/__torch__ */
    int torch_save;  /* a zip naming data.pkl but no TorchScript marker */
} finfo;

struct smneo_artifact_inspection {
    smneo_artifact_member *members;
    finfo **info; /* per member, NULL unless the content matters for a check */
    size_t count, cap;
    int single;
    smneo_issues *issues;
};

const char *smneo_member_type_name(smneo_member_type t)
{
    switch (t) {
    case SMNEO_MEMBER_FILE: return "file";
    case SMNEO_MEMBER_DIRECTORY: return "directory";
    case SMNEO_MEMBER_SYMLINK: return "symlink";
    case SMNEO_MEMBER_HARDLINK: return "hardlink";
    default: return "other";
    }
}

void smneo_artifact_inspection_free(smneo_artifact_inspection *in)
{
    if (!in)
        return;
    for (size_t i = 0; i < in->count; i++) {
        free((char *)in->members[i].name);
        free((char *)in->members[i].linkname);
        free(in->info[i]);
    }
    free(in->members);
    free(in->info);
    smneo_issues_free(in->issues);
    free(in);
}

size_t smneo_artifact_inspection_member_count(const smneo_artifact_inspection *in) { return in ? in->count : 0; }
const smneo_artifact_member *smneo_artifact_inspection_member_at(const smneo_artifact_inspection *in, size_t i)
{
    return in && i < in->count ? &in->members[i] : NULL;
}
int smneo_artifact_inspection_single_gzip_member(const smneo_artifact_inspection *in) { return in ? in->single : 0; }
const smneo_issues *smneo_artifact_inspection_issues(const smneo_artifact_inspection *in)
{
    return in ? in->issues : NULL;
}

/* ---- name helpers ---- */

/* Name without a leading "./" (tar -czf x.tar.gz . writes those). */
static const char *clean(const char *name)
{
    while (name[0] == '.' && name[1] == '/')
        name += 2;
    return name;
}

static const char *base(const char *name)
{
    const char *s = strrchr(name, '/');
    return s ? s + 1 : name;
}

static int has_ext(const char *name, const char *ext)
{
    const char *b = base(name);
    size_t n = strlen(b), e = strlen(ext);
    return n > e && strcasecmp(b + n - e, ext) == 0;
}

static int interesting(const char *name)
{
    static const char *const exts[] = {".pt", ".pth", ".h5", ".hdf5", ".tflite", ".onnx", ".keras"};
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
        if (has_ext(name, exts[i]))
            return 1;
    return 0;
}

/* Streaming substring search across chunk boundaries. */
typedef struct scanner {
    char tail[32];
    size_t tail_len;
} scanner;

static int scan_for(scanner *sc, const unsigned char *p, size_t n, const char *const *pats, size_t npats, int *found)
{
    /* Look in tail+start of chunk, then in the chunk itself. */
    unsigned char joint[64];
    size_t take = n < 31 ? n : 31;
    memcpy(joint, sc->tail, sc->tail_len);
    memcpy(joint + sc->tail_len, p, take);
    for (size_t k = 0; k < npats; k++) {
        size_t L = strlen(pats[k]);
        if (memmem(joint, sc->tail_len + take, pats[k], L) || memmem(p, n, pats[k], L))
            found[k] = 1;
    }
    if (n >= 31) {
        memcpy(sc->tail, p + n - 31, 31);
        sc->tail_len = 31;
    } else {
        size_t keep = sc->tail_len + n > 31 ? 31 - n : sc->tail_len;
        memmove(sc->tail, sc->tail + sc->tail_len - keep, keep);
        memcpy(sc->tail + keep, p, n);
        sc->tail_len = keep + n;
    }
    return 0;
}

static int add_member(smneo_artifact_inspection *in, struct archive_entry *e)
{
    if (in->count == in->cap) {
        size_t cap = in->cap ? in->cap * 2 : 32;
        smneo_artifact_member *m = realloc(in->members, cap * sizeof *m);
        if (!m)
            return SMNEO_ENOMEM;
        in->members = m;
        finfo **f = realloc(in->info, cap * sizeof *f);
        if (!f)
            return SMNEO_ENOMEM;
        in->info = f;
        in->cap = cap;
    }
    smneo_artifact_member *m = &in->members[in->count];
    const char *name = archive_entry_pathname(e);
    const char *hl = archive_entry_hardlink(e);
    const char *sl = archive_entry_symlink(e);
    m->name = smneo__strdup(name ? name : "");
    m->linkname = hl ? smneo__strdup(hl) : sl ? smneo__strdup(sl) : NULL;
    if (!m->name || ((hl || sl) && !m->linkname)) {
        free((char *)m->name);
        free((char *)m->linkname);
        return SMNEO_ENOMEM;
    }
    unsigned ft = archive_entry_filetype(e);
    m->size = 0;
    if (hl) {
        m->type = SMNEO_MEMBER_HARDLINK;
        if (archive_entry_size_is_set(e) && archive_entry_size(e) > 0) /* pax: a link carrying data */
            m->size = (uint64_t)archive_entry_size(e);
    } else if (ft == AE_IFREG) {
        m->type = SMNEO_MEMBER_FILE;
        m->size = (uint64_t)archive_entry_size(e);
    } else if (ft == AE_IFDIR)
        m->type = SMNEO_MEMBER_DIRECTORY;
    else if (ft == AE_IFLNK)
        m->type = SMNEO_MEMBER_SYMLINK;
    else
        m->type = SMNEO_MEMBER_OTHER;
    in->info[in->count] = NULL;
    in->count++;
    return 0;
}

/* Reads the current member's data, keeping what the checks need. */
static int read_content(struct archive *a, finfo *fi, int torch)
{
    static const char *const pats[] = {"constants.pkl", "code/__torch__", "data.pkl"};
    int found[3] = {0, 0, 0};
    scanner sc = {{0}, 0};
    const void *buf;
    size_t size;
    la_int64_t off;
    int zip = -1;
    for (;;) {
        int r = archive_read_data_block(a, &buf, &size, &off);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN)
            return r;
        if (fi->head_len < HEAD_MAX) {
            size_t n = HEAD_MAX - fi->head_len < size ? HEAD_MAX - fi->head_len : size;
            memcpy(fi->head + fi->head_len, buf, n);
            fi->head_len += n;
        }
        if (zip < 0 && fi->head_len >= 4)
            zip = memcmp(fi->head, "PK\003\004", 4) == 0;
        if (torch && zip == 1)
            scan_for(&sc, buf, size, pats, 3, found);
        else if (torch && zip == 0)
            torch = 0; /* not a zip: no need to scan on */
    }
    fi->torchscript = found[0] || found[1];
    fi->torch_save = !fi->torchscript && found[2];
    return ARCHIVE_OK;
}

/* ---- layout checks ---- */

typedef struct ctx {
    smneo_artifact_inspection *in;
    int rc;
} ctx;

#define ISSUE(c, sev, path, rule, ...)                                                        \
    do {                                                                                      \
        if ((c)->rc == 0)                                                                     \
            (c)->rc = smneo_issues_add((c)->in->issues, (sev), (path), (rule), __VA_ARGS__); \
    } while (0)

/* Regular files whose name ends with one of exts (NULL-terminated list). */
static size_t find_files(smneo_artifact_inspection *in, const char *const *exts, size_t *idx, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < in->count; i++) {
        if (in->members[i].type != SMNEO_MEMBER_FILE && in->members[i].type != SMNEO_MEMBER_HARDLINK)
            continue;
        for (const char *const *e = exts; *e; e++) {
            if (has_ext(in->members[i].name, *e)) {
                if (n < max)
                    idx[n] = i;
                n++;
                break;
            }
        }
    }
    return n;
}

static char *name_list(smneo_artifact_inspection *in, const size_t *idx, size_t n, size_t max)
{
    smneo_buf b = SMNEO_BUF_INIT;
    for (size_t i = 0; i < n && i < max; i++)
        smneo__buf_printf(&b, "%s%s", i ? ", " : "", in->members[idx[i]].name);
    if (n > max)
        smneo__buf_printf(&b, ", ... (%zu in all)", n);
    char *s = smneo__buf_detach(&b, NULL);
    return s ? s : smneo__strdup("");
}

static const finfo *info_of(smneo_artifact_inspection *in, size_t i) { return in->info[i]; }

static void check_single(ctx *c, const char *const *exts, const char *rule_prefix, const char *what,
                         const char *fix, size_t *found)
{
    size_t idx[8];
    size_t n = find_files(c->in, exts, idx, 8);
    char rule[96];
    if (n == 0) {
        snprintf(rule, sizeof rule, "%s.no-model", rule_prefix);
        ISSUE(c, SMNEO_SEVERITY_ERROR, "", rule, "no %s found in the archive: %s", what, fix);
    } else if (n > 1) {
        char *list = name_list(c->in, idx, n, 8);
        snprintf(rule, sizeof rule, "%s.multiple-models", rule_prefix);
        ISSUE(c, SMNEO_SEVERITY_ERROR, "", rule, "%zu %s files (%s): Neo needs exactly one; remove the others", n,
              what, list ? list : "");
        free(list);
    }
    *found = n == 1 ? idx[0] : (size_t)-1;
}

static void check_pytorch(ctx *c)
{
    static const char *const exts[] = {".pt", ".pth", NULL};
    size_t i;
    check_single(c, exts, "artifact.pytorch", ".pt/.pth model",
                 "add the TorchScript model saved with torch.jit.trace(model, example_input).save(\"model.pth\")",
                 &i);
    if (i == (size_t)-1)
        return;
    const finfo *fi = info_of(c->in, i);
    const char *name = c->in->members[i].name;
    if (!fi || c->in->members[i].type != SMNEO_MEMBER_FILE)
        return;
    int zip = fi->head_len >= 4 && memcmp(fi->head, "PK\003\004", 4) == 0;
    if (!zip)
        ISSUE(c, SMNEO_SEVERITY_ERROR, name, "artifact.pytorch.state-dict",
              "%s is not a TorchScript archive (it looks like a pickle written by torch.save, e.g. a state_dict): "
              "Neo needs TorchScript: save it with torch.jit.trace(model, example_input).save(\"%s\")",
              name, base(name));
    else if (!fi->torchscript)
        ISSUE(c, SMNEO_SEVERITY_ERROR, name, "artifact.pytorch.state-dict",
              "%s is a torch.save() archive (%s), not TorchScript (no constants.pkl or code/): save it with "
              "torch.jit.trace(model, example_input).save(\"%s\")",
              name, fi->torch_save ? "a pickled state_dict or module" : "no TorchScript code", base(name));
}

static int is_dir_prefix(const char *name, const char *dir, size_t dlen)
{
    return strncmp(clean(name), dir, dlen) == 0;
}

static void check_tensorflow(ctx *c)
{
    smneo_artifact_inspection *in = c->in;
    size_t saved[8], nsaved = 0;
    for (size_t i = 0; i < in->count; i++)
        if (in->members[i].type == SMNEO_MEMBER_FILE && strcmp(base(in->members[i].name), "saved_model.pb") == 0) {
            if (nsaved < 8)
                saved[nsaved] = i;
            nsaved++;
        }
    if (nsaved > 1) {
        char *list = name_list(in, saved, nsaved, 8);
        ISSUE(c, SMNEO_SEVERITY_ERROR, "", "artifact.tensorflow.multiple-models",
              "%zu SavedModels (%s): put exactly one saved_model.pb (with its variables/) in the archive", nsaved,
              list ? list : "");
        free(list);
        return;
    }
    if (nsaved == 1) {
        const char *name = clean(in->members[saved[0]].name);
        size_t dlen = (size_t)(base(name) - name);
        char *vars = smneo__aprintf("%.*svariables/", (int)dlen, name);
        int has_vars = 0;
        for (size_t i = 0; vars && i < in->count && !has_vars; i++)
            has_vars = is_dir_prefix(in->members[i].name, vars, strlen(vars));
        if (vars && !has_vars)
            ISSUE(c, SMNEO_SEVERITY_WARNING, in->members[saved[0]].name, "artifact.tensorflow.no-variables",
                  "%s has no %s directory beside it: export the whole SavedModel directory "
                  "(tf.saved_model.save(model, dir)) unless the graph holds no variables",
                  in->members[saved[0]].name, vars);
        free(vars);
        return;
    }
    static const char *const exts[] = {".pb", ".pbtxt", NULL};
    size_t idx[8];
    size_t n = find_files(in, exts, idx, 8);
    if (n == 0)
        ISSUE(c, SMNEO_SEVERITY_ERROR, "", "artifact.tensorflow.no-model",
              "no saved_model.pb (SavedModel) and no frozen graph (.pb/.pbtxt) found: export with "
              "tf.saved_model.save(model, dir) and pack that directory");
    else if (n > 1) {
        char *list = name_list(in, idx, n, 8);
        ISSUE(c, SMNEO_SEVERITY_ERROR, "", "artifact.tensorflow.multiple-models",
              "%zu frozen graphs (%s): Neo needs exactly one .pb/.pbtxt; remove the others", n, list ? list : "");
        free(list);
    }
}

static int hdf5_signature(const finfo *fi)
{
    static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    static const size_t offs[] = {0, 512, 1024, 2048};
    for (size_t k = 0; k < 4; k++)
        if (fi->head_len >= offs[k] + 8 && memcmp(fi->head + offs[k], sig, 8) == 0)
            return 1;
    return 0;
}

static void check_keras(ctx *c)
{
    static const char *const exts[] = {".h5", ".hdf5", NULL};
    static const char *const v3[] = {".keras", NULL};
    size_t idx[8];
    size_t n = find_files(c->in, exts, idx, 8);
    if (n == 0) {
        size_t k;
        if (find_files(c->in, v3, &k, 1) > 0)
            ISSUE(c, SMNEO_SEVERITY_ERROR, c->in->members[k].name, "artifact.keras.no-model",
                  "%s is in the Keras v3 format, which Neo does not read: save the model in HDF5 with "
                  "model.save(\"model.h5\")",
                  c->in->members[k].name);
        else
            ISSUE(c, SMNEO_SEVERITY_ERROR, "", "artifact.keras.no-model",
                  "no .h5 model found in the archive: save the model with model.save(\"model.h5\")");
        return;
    }
    if (n > 1) {
        char *list = name_list(c->in, idx, n, 8);
        ISSUE(c, SMNEO_SEVERITY_ERROR, "", "artifact.keras.multiple-models",
              "%zu .h5 files (%s): Neo needs exactly one; remove the others", n, list ? list : "");
        free(list);
        return;
    }
    const finfo *fi = info_of(c->in, idx[0]);
    if (fi && !hdf5_signature(fi))
        ISSUE(c, SMNEO_SEVERITY_ERROR, c->in->members[idx[0]].name, "artifact.keras.not-hdf5",
              "%s does not start with the HDF5 signature: it is not a Keras HDF5 model; save it with "
              "model.save(\"model.h5\")",
              c->in->members[idx[0]].name);
}

static void check_mxnet(ctx *c)
{
    smneo_artifact_inspection *in = c->in;
    static const char *const sym[] = {"-symbol.json", NULL};
    static const char *const par[] = {".params", NULL};
    size_t si[8], pi[16];
    size_t ns = find_files(in, sym, si, 8), np = find_files(in, par, pi, 16);
    if (ns == 0)
        ISSUE(c, SMNEO_SEVERITY_ERROR, "", "artifact.mxnet.no-symbol",
              "no MXNet symbol file (*-symbol.json) found: export the model with net.export(\"model\"), which "
              "writes model-symbol.json and model-0000.params");
    if (np == 0)
        ISSUE(c, SMNEO_SEVERITY_ERROR, "", "artifact.mxnet.no-params",
              "no MXNet parameter file (*.params) found: export the model with net.export(\"model\"), which "
              "writes model-symbol.json and model-0000.params");
    if (ns == 0 || np == 0)
        return;
    if (ns > 1) {
        char *list = name_list(in, si, ns, 8);
        ISSUE(c, SMNEO_SEVERITY_ERROR, "", "artifact.mxnet.multiple-models",
              "%zu symbol files (%s): Neo needs exactly one *-symbol.json; remove the others", ns, list ? list : "");
        free(list);
        return;
    }
    const char *s = clean(in->members[si[0]].name);
    size_t plen = strlen(s) - strlen("-symbol.json");
    int match = 0;
    for (size_t k = 0; k < np && k < 16 && !match; k++) {
        const char *p = clean(in->members[pi[k]].name);
        match = strncmp(p, s, plen) == 0 && p[plen] == '-';
    }
    if (!match)
        ISSUE(c, SMNEO_SEVERITY_WARNING, in->members[si[0]].name, "artifact.mxnet.prefix-mismatch",
              "no .params file shares the prefix of %s (expected %.*s-NNNN.params): export both with "
              "net.export(\"%.*s\")",
              in->members[si[0]].name, (int)plen, s, (int)plen, base(s));
}

static void check_onnx(ctx *c)
{
    static const char *const exts[] = {".onnx", NULL};
    size_t i;
    check_single(c, exts, "artifact.onnx", ".onnx model", "export the model with torch.onnx.export or tf2onnx", &i);
    if (i == (size_t)-1)
        return;
    const finfo *fi = info_of(c->in, i);
    /* ONNX ModelProto starts with ir_version (field 1, varint): byte 0x08. */
    if (fi && (fi->head_len == 0 || fi->head[0] != 0x08))
        ISSUE(c, SMNEO_SEVERITY_WARNING, c->in->members[i].name, "artifact.onnx.not-protobuf",
              "%s does not start like an ONNX ModelProto (ir_version first): check that it is an ONNX file",
              c->in->members[i].name);
}

static void check_tflite(ctx *c)
{
    static const char *const exts[] = {".tflite", NULL};
    size_t i;
    check_single(c, exts, "artifact.tflite", ".tflite model", "convert the model with tf.lite.TFLiteConverter", &i);
    if (i == (size_t)-1)
        return;
    const finfo *fi = info_of(c->in, i);
    if (fi && (fi->head_len < 8 || memcmp(fi->head + 4, "TFL3", 4) != 0))
        ISSUE(c, SMNEO_SEVERITY_ERROR, c->in->members[i].name, "artifact.tflite.identifier",
              "%s lacks the TFL3 file identifier: it is not a TensorFlow Lite flatbuffer; convert the model with "
              "tf.lite.TFLiteConverter",
              c->in->members[i].name);
}

static void check_xgboost(ctx *c)
{
    static const char *const exts[] = {".model", ".json", ".ubj", ".bst", ".xgb", ".bin", NULL};
    size_t i;
    check_single(c, exts, "artifact.xgboost", "XGBoost model file (.model, .json, .ubj, .bst)",
                 "save the booster with booster.save_model(\"xgboost.model\")", &i);
}

static void check_darknet(ctx *c)
{
    static const char *const cfg[] = {".cfg", NULL};
    static const char *const w[] = {".weights", NULL};
    size_t idx;
    if (find_files(c->in, cfg, &idx, 1) == 0)
        ISSUE(c, SMNEO_SEVERITY_ERROR, "", "artifact.darknet.no-cfg",
              "no DarkNet network configuration (.cfg) found: add the .cfg the weights were trained with");
    if (find_files(c->in, w, &idx, 1) == 0)
        ISSUE(c, SMNEO_SEVERITY_ERROR, "", "artifact.darknet.no-weights",
              "no DarkNet weights file (.weights) found: add it next to the .cfg");
}

static void check_class_labels(ctx *c, const char *labels)
{
    const char *want = clean(labels);
    for (size_t i = 0; i < c->in->count; i++) {
        const smneo_artifact_member *m = &c->in->members[i];
        if ((m->type == SMNEO_MEMBER_FILE || m->type == SMNEO_MEMBER_HARDLINK) && strcmp(clean(m->name), want) == 0)
            return;
    }
    ISSUE(c, SMNEO_SEVERITY_ERROR, "", "artifact.coreml.class-labels",
          "CompilerOptions class_labels names \"%s\" but the archive holds no such file: add it at that path "
          "(relative to the archive root)",
          labels);
}

typedef void (*checker)(ctx *);
static const struct {
    const char *name;
    checker fn;
} frameworks[] = {
    {"PYTORCH", check_pytorch}, {"TENSORFLOW", check_tensorflow}, {"KERAS", check_keras},
    {"MXNET", check_mxnet},     {"ONNX", check_onnx},             {"TFLITE", check_tflite},
    {"XGBOOST", check_xgboost}, {"DARKNET", check_darknet},       {"SKLEARN", NULL},
};

static void general_checks(ctx *c)
{
    smneo_artifact_inspection *in = c->in;
    size_t files = 0;
    for (size_t i = 0; i < in->count; i++) {
        const smneo_artifact_member *m = &in->members[i];
        if (m->type == SMNEO_MEMBER_FILE)
            files++;
        if (!*m->name)
            ISSUE(c, SMNEO_SEVERITY_ERROR, m->name, "artifact.path.unsafe",
                  "member %zu has an empty name: safe extractors refuse it; repack with a name for every member",
                  i + 1);
        else if (smneo__path_unsafe(m->name))
            ISSUE(c, SMNEO_SEVERITY_ERROR, m->name, "artifact.path.unsafe",
                  "member name %s has %s: safe extractors refuse it; repack with names relative to the model "
                  "directory",
                  m->name, smneo__path_problem(m->name));
        if (m->type == SMNEO_MEMBER_HARDLINK && m->size > 0)
            ISSUE(c, SMNEO_SEVERITY_ERROR, m->name, "artifact.link.data",
                  "hard link %s (to %s) carries %llu bytes of data, which would replace the content of %s: tar "
                  "readers disagree on it and smneo extract refuses it; repack with the file stored once",
                  m->name, m->linkname ? m->linkname : "", (unsigned long long)m->size,
                  m->linkname ? m->linkname : "");
        if (m->type == SMNEO_MEMBER_OTHER)
            ISSUE(c, SMNEO_SEVERITY_ERROR, m->name, "artifact.member.special",
                  "%s is a device node, FIFO or socket: remove it from the archive", m->name);
        if (m->type == SMNEO_MEMBER_SYMLINK && m->linkname) {
            /* Resolve lexically against the member's directory. */
            int depth = 0, escapes = m->linkname[0] == '/';
            const char *nm = clean(m->name);
            for (const char *p = nm; *p; p++)
                depth += *p == '/';
            const char *p = m->linkname;
            while (!escapes && *p) {
                const char *e = strchr(p, '/');
                size_t n = e ? (size_t)(e - p) : strlen(p);
                if (n == 2 && p[0] == '.' && p[1] == '.')
                    escapes = --depth < 0;
                else if (n && !(n == 1 && p[0] == '.'))
                    depth++;
                p += n + (e ? 1 : 0);
            }
            if (escapes)
                ISSUE(c, SMNEO_SEVERITY_ERROR, m->name, "artifact.link.outside",
                      "symlink %s points outside the archive (%s): store the file itself (smneo pack does)",
                      m->name, m->linkname);
        }
    }
    if (files == 0)
        ISSUE(c, SMNEO_SEVERITY_ERROR, "", "artifact.empty", "the archive holds no files: pack the model directory");
}

int smneo__artifact_inspect(smneo_artifact_inspection **out, const char *path, const smneo_inspect_options *opts,
                            const char *class_labels, smneo_error *err)
{
    if (!out || !path)
        return smneo__error(err, SMNEO_EINVAL, "out and path are required");
    *out = NULL;
    smneo_inspect_options full;
    int orc = smneo__options_copy(&full, opts, &smneo__inspect_options_layout, err);
    if (orc)
        return orc;
    opts = &full;
    checker fn = NULL;
    if (opts->framework) {
        size_t k, nf = sizeof frameworks / sizeof frameworks[0];
        for (k = 0; k < nf; k++)
            if (smneo__strcaseeq(opts->framework, frameworks[k].name))
                break;
        if (k == nf)
            return smneo__error(err, SMNEO_EINVAL,
                                "framework \"%s\" is not known: use one of TENSORFLOW, KERAS, MXNET, ONNX, PYTORCH, "
                                "XGBOOST, TFLITE, DARKNET, SKLEARN",
                                opts->framework);
        fn = frameworks[k].fn;
    }
    const char *labels = class_labels;
    /* The limits of extract (a version-1 struct has max_entries only: the copy zeroed the others). */
    uint64_t max_entries = opts->max_entries ? opts->max_entries : SMNEO_ARTIFACT_DEFAULT_MAX_ENTRIES;
    uint64_t max_bytes = opts->max_bytes ? opts->max_bytes : SMNEO_ARTIFACT_DEFAULT_MAX_BYTES;
    double max_ratio = opts->max_ratio != 0 ? opts->max_ratio : SMNEO_ARTIFACT_DEFAULT_MAX_RATIO;

    smneo_artifact_inspection *in = calloc(1, sizeof *in);
    if (!in || smneo_issues_new(&in->issues)) {
        smneo_artifact_inspection_free(in);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    smneo__areader r;
    memset(&r, 0, sizeof r);
    r.fd = -1;
    r.max_ratio = max_ratio;
    r.max_bytes = max_bytes;
    r.progress = opts->progress;
    r.payload = opts->payload;
    int rc = smneo__areader_open(&r, path, err);
    uint64_t bytes = 0; /* data the entries declare, as extract counts it */
    struct archive_entry *e;
    while (rc == 0) {
        int ar = archive_read_next_header(r.a, &e);
        if (ar == ARCHIVE_EOF)
            break;
        if (ar < ARCHIVE_WARN) {
            rc = smneo__areader_fail(&r, err, "cannot read the archive");
            break;
        }
        if (in->count >= max_entries) {
            rc = smneo__error(err, SMNEO_EUNSAFE, "%s: more than %llu members: refused (raise max_entries if the "
                                                  "archive is trusted)",
                              path, (unsigned long long)max_entries);
            break;
        }
        if (add_member(in, e)) {
            rc = smneo__error(err, SMNEO_ENOMEM, "out of memory");
            break;
        }
        smneo_artifact_member *m = &in->members[in->count - 1];
        /* Before the data is decompressed (a bomb refused here costs nothing). */
        if ((rc = smneo__areader_count_bytes(&bytes, m->size, max_bytes, m->name, err)) != 0)
            break;
        if (m->type == SMNEO_MEMBER_FILE && interesting(m->name)) {
            finfo *fi = calloc(1, sizeof *fi);
            if (!fi) {
                rc = smneo__error(err, SMNEO_ENOMEM, "out of memory");
                break;
            }
            in->info[in->count - 1] = fi;
            if (read_content(r.a, fi, has_ext(m->name, ".pt") || has_ext(m->name, ".pth")) < ARCHIVE_WARN)
                rc = smneo__areader_fail(&r, err, "cannot read the archive");
        }
    }
    int tar_trailing = 0;
    if (rc == 0) {
        /* What follows the tar's end counts against what max_bytes leaves. */
        r.max_out = r.out_bytes + (max_bytes - bytes);
        if (r.max_out < r.out_bytes) /* wrapped */
            r.max_out = UINT64_MAX;
        rc = smneo__areader_drain(&r, &tar_trailing, err);
    }
    if (rc == 0) {
        ctx c = {in, 0};
        in->single = r.gzip && r.members == 1 && !r.trailing_garbage && !tar_trailing;
        if (!r.gzip)
            ISSUE(&c, SMNEO_SEVERITY_ERROR, "", "artifact.gzip.missing",
                  "the archive is a plain tar, not gzip-compressed: Neo needs model.tar.gz (tar -czf, or smneo "
                  "pack)");
        else if (r.members > 1)
            ISSUE(&c, SMNEO_SEVERITY_WARNING, "", "artifact.gzip.multi-member",
                  "the gzip file has %d members (concatenated gzip streams): some readers stop after the first; "
                  "repack it as one (smneo pack)",
                  r.members);
        if (r.trailing_garbage)
            ISSUE(&c, SMNEO_SEVERITY_WARNING, "", "artifact.gzip.trailing-data",
                  "bytes that are not gzip data follow the compressed stream: repack the archive");
        if (tar_trailing)
            ISSUE(&c, SMNEO_SEVERITY_WARNING, "", "artifact.tar.trailing-data",
                  "data follows the end of the tar archive (a second archive appended?): members there are "
                  "ignored by most readers; repack the archive");
        general_checks(&c);
        if (fn)
            fn(&c);
        /* Neo compiles TensorFlow Lite for edge devices only. */
        if (fn == check_tflite && opts->target && strncasecmp(opts->target, "ml_", 3) == 0)
            ISSUE(&c, SMNEO_SEVERITY_ERROR, "", "artifact.target.tflite-cloud",
                  "target %s is a cloud instance, but Neo compiles TensorFlow Lite models only for edge devices: "
                  "use framework TENSORFLOW with a SavedModel, or an edge target",
                  opts->target);
        if (labels)
            check_class_labels(&c, labels);
        if (c.rc)
            rc = smneo__error(err, c.rc, "cannot record a finding (out of memory)");
    }
    smneo__areader_close(&r);
    if (rc) {
        smneo_artifact_inspection_free(in);
        return rc;
    }
    *out = in;
    return 0;
}

int smneo_artifact_inspect(smneo_artifact_inspection **out, const char *path, const smneo_inspect_options *opts,
                           smneo_error *err)
{
    if (!out || !path)
        return smneo__error(err, SMNEO_EINVAL, "out and path are required");
    *out = NULL;
    char *labels = NULL;
    if (opts && opts->version >= 1 && opts->version <= SMNEO_INSPECT_OPTIONS_VERSION && opts->compiler_options &&
        *opts->compiler_options) {
        /* The text as the API takes it (the validator's reading): JSON, or
         * the Python style of the Neo documentation ({'class_labels': 'labels.txt'}). */
        switch (smneo__compiler_options_class_labels(opts->compiler_options, &labels)) {
        case SMNEO__CO_OK:
            break;
        case SMNEO__CO_NOT_OBJECT:
            return smneo__error(err, SMNEO_EINVAL, "compiler_options must be a JSON object, e.g. "
                                                   "{\"class_labels\": \"labels.txt\"}");
        case SMNEO__CO_BAD_LABELS:
            return smneo__error(err, SMNEO_EINVAL, "compiler_options.class_labels must be a file name string");
        default:
            return smneo__error(err, SMNEO_ENOMEM, "out of memory");
        }
    }
    int rc = smneo__artifact_inspect(out, path, opts, labels, err);
    free(labels);
    return rc;
}
