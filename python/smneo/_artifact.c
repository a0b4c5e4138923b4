/* smneo._smneo artifact functions: pack, inspect, extract, digest, verify.
 * The GIL is released while the core works; progress callbacks (and Ctrl-C
 * checks) re-acquire it. The Python-facing API is smneo/artifact.py. */
#include "_smneo.h"

#include "smneo/artifact.h"

#include <string.h>

/* ---- progress -------------------------------------------------------------- */

typedef struct progress {
    PyObject *callback;    /* borrowed, or NULL */
    PyObject *exc_type, *exc_value, *exc_tb; /* an exception raised while the core ran */
} progress;

/* May run on any thread; returns non-zero to cancel. */
static int progress_cb(uint64_t done, uint64_t total, void *payload)
{
    progress *p = payload;
    PyGILState_STATE g = PyGILState_Ensure();
    int cancel = 0;
    if (p->exc_type) {
        cancel = 1;
    } else {
        if (PyErr_CheckSignals() == 0 && p->callback) {
            PyObject *r = PyObject_CallFunction(p->callback, "KK", (unsigned long long)done,
                                                (unsigned long long)total);
            Py_XDECREF(r);
        }
        if (PyErr_Occurred()) {
            PyErr_Fetch(&p->exc_type, &p->exc_value, &p->exc_tb);
            cancel = 1;
        }
    }
    PyGILState_Release(g);
    return cancel;
}

/* After the call: re-raise a stored exception (returns 1), else 0. */
static int progress_reraise(progress *p)
{
    if (!p->exc_type)
        return 0;
    PyErr_Restore(p->exc_type, p->exc_value, p->exc_tb);
    p->exc_type = p->exc_value = p->exc_tb = NULL;
    return 1;
}

static PyObject *raise_artifact(smneo_state *st, int rc, smneo_error *err, progress *p)
{
    if (p && progress_reraise(p)) {
        smneo_error_clear(err);
        return NULL;
    }
    smneo_py_raise(st, rc, err, NULL, 0);
    smneo_error_clear(err);
    return NULL;
}

/* A filesystem path argument (str or os.PathLike) as bytes; NULL on error. */
static PyObject *fspath(PyObject *o)
{
    PyObject *b = NULL;
    if (!PyUnicode_FSConverter(o, &b))
        return NULL;
    return b;
}

/* ---- pack ------------------------------------------------------------------ */

static int blocking_pack(smneo_artifact_pack_result **out, const char *source, const char *base,
                         const char *const *paths, size_t n, const char *dest, const smneo_pack_options *o,
                         smneo_error *err)
{
    int rc;
    Py_BEGIN_ALLOW_THREADS
    if (paths)
        rc = smneo_artifact_pack_files(out, base, paths, n, dest, o, err);
    else
        rc = smneo_artifact_pack(out, source, dest, o, err);
    Py_END_ALLOW_THREADS
    return rc;
}

/* _artifact_pack(source, dest, compresslevel, threads, progress, base_dir) -> (path, size, digest)
 * source: a directory path, or a list of paths relative to base_dir. */
static PyObject *artifact_pack(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"source", "dest", "compresslevel", "threads", "progress", "base_dir", NULL};
    PyObject *source, *dest, *cb = Py_None, *base = Py_None;
    int level = 6, threads = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|iiOO:pack", kwlist, &source, &dest, &level, &threads, &cb,
                                     &base))
        return NULL;
    smneo_state *st = smneo_get_state(module);
    if (level < 1 || level > 9)
        return PyErr_Format(PyExc_ValueError, "compresslevel must be 1..9, not %d", level);
    if (threads < 0)
        return PyErr_Format(PyExc_ValueError, "threads must be positive or None");
    if (cb != Py_None && !PyCallable_Check(cb))
        return PyErr_Format(PyExc_TypeError, "progress must be callable or None");
    PyObject *dest_b = fspath(dest);
    if (!dest_b)
        return NULL;
    PyObject *src_b = NULL, *base_b = NULL, *list = NULL;
    const char **paths = NULL;
    Py_ssize_t n = 0;
    PyObject *out = NULL;
    if (PyList_Check(source) || PyTuple_Check(source)) {
        list = PySequence_List(source);
        if (!list)
            goto done;
        n = PyList_GET_SIZE(list);
        if (n == 0) {
            PyErr_SetString(PyExc_ValueError, "pack: the list of files is empty");
            goto done;
        }
        paths = PyMem_Calloc((size_t)n, sizeof *paths);
        if (!paths) {
            PyErr_NoMemory();
            goto done;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *b = fspath(PyList_GET_ITEM(list, i));
            if (!b)
                goto done;
            PyList_SET_ITEM(list, i, b); /* the list now owns the bytes (old item released below) */
            paths[i] = PyBytes_AS_STRING(b);
        }
        if (base != Py_None && !(base_b = fspath(base)))
            goto done;
    } else if (!(src_b = fspath(source))) {
        goto done;
    }
    smneo_pack_options o = SMNEO_PACK_OPTIONS_INIT;
    o.compress_level = level;
    o.threads = threads;
    progress p = {cb == Py_None ? NULL : cb, NULL, NULL, NULL};
    o.progress = progress_cb;
    o.payload = &p;
    smneo_artifact_pack_result *res = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = blocking_pack(&res, src_b ? PyBytes_AS_STRING(src_b) : NULL, base_b ? PyBytes_AS_STRING(base_b) : NULL,
                           paths, (size_t)n, PyBytes_AS_STRING(dest_b), &o, &err);
    if (rc) {
        raise_artifact(st, rc, &err, &p);
    } else {
        progress_reraise(&p);
        if (!PyErr_Occurred())
            out = Py_BuildValue("(O&KN)", PyUnicode_DecodeFSDefault, smneo_artifact_pack_result_path(res),
                                (unsigned long long)smneo_artifact_pack_result_size(res),
                                PyUnicode_FromString(smneo_artifact_pack_result_digest(res)));
    }
    smneo_artifact_pack_result_free(res);
    smneo_error_clear(&err);
done:
    PyMem_Free(paths);
    Py_XDECREF(list);
    Py_XDECREF(src_b);
    Py_XDECREF(base_b);
    Py_DECREF(dest_b);
    return out;
}

/* ---- inspect ----------------------------------------------------------------- */

static int blocking_inspect(smneo_artifact_inspection **out, const char *path, const smneo_inspect_options *o,
                            smneo_error *err)
{
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = smneo_artifact_inspect(out, path, o, err);
    Py_END_ALLOW_THREADS
    return rc;
}

/* _artifact_inspect(path, framework, target, compiler_options, max_bytes, max_entries, max_ratio) ->
 *     ([(name, type, size, linkname)], single_gzip_member, [Issue]) */
static PyObject *artifact_inspect(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"path",      "framework",   "target",    "compiler_options",
                             "max_bytes", "max_entries", "max_ratio", NULL};
    PyObject *path;
    const char *framework = NULL, *target = NULL, *copts = NULL;
    unsigned long long max_bytes = 0, max_entries = 0;
    double max_ratio = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|zzzKKd:inspect", kwlist, &path, &framework, &target, &copts,
                                     &max_bytes, &max_entries, &max_ratio))
        return NULL;
    smneo_state *st = smneo_get_state(module);
    PyObject *path_b = fspath(path);
    if (!path_b)
        return NULL;
    smneo_inspect_options o = SMNEO_INSPECT_OPTIONS_INIT;
    o.framework = framework;
    o.target = target;
    o.compiler_options = copts;
    o.max_bytes = max_bytes;
    o.max_entries = max_entries;
    o.max_ratio = max_ratio;
    progress p = {NULL, NULL, NULL, NULL};
    o.progress = progress_cb;
    o.payload = &p;
    smneo_artifact_inspection *in = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = blocking_inspect(&in, PyBytes_AS_STRING(path_b), &o, &err);
    Py_DECREF(path_b);
    if (rc)
        return raise_artifact(st, rc, &err, &p);
    if (progress_reraise(&p)) {
        smneo_artifact_inspection_free(in);
        return NULL;
    }
    PyObject *out = NULL;
    size_t n = smneo_artifact_inspection_member_count(in);
    PyObject *members = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; members && i < n; i++) {
        const smneo_artifact_member *m = smneo_artifact_inspection_member_at(in, i);
        PyObject *link = m->linkname ? PyUnicode_DecodeFSDefault(m->linkname) : (Py_INCREF(Py_None), Py_None);
        PyObject *t = link ? Py_BuildValue("(O&sKN)", PyUnicode_DecodeFSDefault, m->name,
                                           smneo_member_type_name(m->type), (unsigned long long)m->size, link)
                           : NULL;
        if (!t) {
            Py_CLEAR(members);
            break;
        }
        PyList_SET_ITEM(members, (Py_ssize_t)i, t);
    }
    PyObject *issues = members ? smneo_py_issues(st, smneo_artifact_inspection_issues(in)) : NULL;
    if (issues)
        out = Py_BuildValue("(NOO)", members, smneo_artifact_inspection_single_gzip_member(in) ? Py_True : Py_False,
                            issues);
    else
        Py_XDECREF(members);
    Py_XDECREF(issues);
    smneo_artifact_inspection_free(in);
    return out;
}

/* ---- extract ----------------------------------------------------------------- */

static int blocking_extract(const char *path, const char *dest, const smneo_extract_options *o, smneo_error *err)
{
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = smneo_artifact_extract(path, dest, o, err);
    Py_END_ALLOW_THREADS
    return rc;
}

/* _artifact_extract(path, dest_dir, max_bytes, max_entries, max_ratio, progress) */
static PyObject *artifact_extract(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"path", "dest_dir", "max_bytes", "max_entries", "max_ratio", "progress", NULL};
    PyObject *path, *dest, *cb = Py_None;
    unsigned long long max_bytes = 0, max_entries = 0;
    double max_ratio = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|KKdO:extract", kwlist, &path, &dest, &max_bytes,
                                     &max_entries, &max_ratio, &cb))
        return NULL;
    smneo_state *st = smneo_get_state(module);
    if (cb != Py_None && !PyCallable_Check(cb))
        return PyErr_Format(PyExc_TypeError, "progress must be callable or None");
    PyObject *path_b = fspath(path);
    if (!path_b)
        return NULL;
    PyObject *dest_b = fspath(dest);
    if (!dest_b) {
        Py_DECREF(path_b);
        return NULL;
    }
    smneo_extract_options o = SMNEO_EXTRACT_OPTIONS_INIT;
    o.max_bytes = max_bytes;
    o.max_entries = max_entries;
    o.max_ratio = max_ratio;
    progress p = {cb == Py_None ? NULL : cb, NULL, NULL, NULL};
    o.progress = progress_cb;
    o.payload = &p;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = blocking_extract(PyBytes_AS_STRING(path_b), PyBytes_AS_STRING(dest_b), &o, &err);
    Py_DECREF(path_b);
    Py_DECREF(dest_b);
    if (rc)
        return raise_artifact(st, rc, &err, &p);
    if (progress_reraise(&p))
        return NULL;
    Py_RETURN_NONE;
}

/* ---- digest / verify ------------------------------------------------------------ */

static int blocking_digest(char **out, const char *path, const char *algorithm, const char *expected,
                           const smneo_digest_options *o, smneo_error *err)
{
    int rc;
    Py_BEGIN_ALLOW_THREADS
    if (expected)
        rc = smneo_artifact_verify(path, expected, o, err);
    else
        rc = smneo_artifact_digest(out, path, algorithm, o, err);
    Py_END_ALLOW_THREADS
    return rc;
}

static PyObject *digest_impl(PyObject *module, PyObject *path, const char *algorithm, const char *expected,
                             PyObject *cb)
{
    smneo_state *st = smneo_get_state(module);
    if (cb != Py_None && !PyCallable_Check(cb))
        return PyErr_Format(PyExc_TypeError, "progress must be callable or None");
    PyObject *path_b = fspath(path);
    if (!path_b)
        return NULL;
    smneo_digest_options o = SMNEO_DIGEST_OPTIONS_INIT;
    progress p = {cb == Py_None ? NULL : cb, NULL, NULL, NULL};
    o.progress = progress_cb;
    o.payload = &p;
    char *hex = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = blocking_digest(&hex, PyBytes_AS_STRING(path_b), algorithm, expected, &o, &err);
    Py_DECREF(path_b);
    if (rc)
        return raise_artifact(st, rc, &err, &p);
    if (progress_reraise(&p)) {
        free(hex);
        return NULL;
    }
    if (expected)
        Py_RETURN_NONE;
    PyObject *r = PyUnicode_FromString(hex ? hex : "");
    free(hex);
    return r;
}

static PyObject *artifact_digest(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"path", "algorithm", "progress", NULL};
    PyObject *path, *cb = Py_None;
    const char *algorithm = "blake2b";
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|zO:digest", kwlist, &path, &algorithm, &cb))
        return NULL;
    return digest_impl(module, path, algorithm ? algorithm : "blake2b", NULL, cb);
}

static PyObject *artifact_verify(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"path", "expected", "progress", NULL};
    PyObject *path, *cb = Py_None;
    const char *expected;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "Os|O:verify", kwlist, &path, &expected, &cb))
        return NULL;
    return digest_impl(module, path, NULL, expected, cb);
}

#define KW (METH_VARARGS | METH_KEYWORDS)
#define FN(f) (PyCFunction)(void (*)(void))(f)
static PyMethodDef artifact_functions[] = {
    {"_artifact_pack", FN(artifact_pack), KW, "internal: see smneo.artifact.pack"},
    {"_artifact_inspect", FN(artifact_inspect), KW, "internal: see smneo.artifact.inspect"},
    {"_artifact_extract", FN(artifact_extract), KW, "internal: see smneo.artifact.extract"},
    {"_artifact_digest", FN(artifact_digest), KW, "internal: see smneo.artifact.digest"},
    {"_artifact_verify", FN(artifact_verify), KW, "internal: see smneo.artifact.verify"},
    {NULL},
};

int smneo_py_artifact_init(PyObject *module, smneo_state *st)
{
    if (PyModule_AddFunctions(module, artifact_functions))
        return -1;
    return PyModule_AddIntConstant(module, "ARTIFACT_DEFAULT_MAX_ENTRIES", (long)SMNEO_ARTIFACT_DEFAULT_MAX_ENTRIES) ||
                   PyModule_AddObject(module, "ARTIFACT_DEFAULT_MAX_BYTES",
                                      PyLong_FromUnsignedLongLong(SMNEO_ARTIFACT_DEFAULT_MAX_BYTES)) ||
                   PyModule_AddObject(module, "ARTIFACT_DEFAULT_MAX_RATIO",
                                      PyFloat_FromDouble(SMNEO_ARTIFACT_DEFAULT_MAX_RATIO))
               ? -1
               : 0;
}
