/* Client._s3_transfer: the binding of smneo_s3_upload / smneo_s3_download.
 * The GIL is released while the core moves the bytes; the progress callback
 * re-acquires it. The Python-facing methods (upload_file, download_file,
 * upload_fileobj, download_fileobj) are in _glue.py. */
#include "_smneo.h"

#include "smneo/s3.h"

#include <string.h>

typedef struct s3_ctx {
    PyObject *callback; /* borrowed, or NULL */
    PyObject *exc_type, *exc_value, *exc_tb; /* raised by the callback or a signal handler */
} s3_ctx;

/* May be called on any of the core's transfer threads (never two at once). */
static int on_progress(uint64_t done, uint64_t total, void *payload)
{
    s3_ctx *x = payload;
    PyGILState_STATE g = PyGILState_Ensure();
    int cancel = x->exc_type != NULL;
    if (!cancel && PyErr_CheckSignals() == 0 && x->callback) {
        PyObject *r = PyObject_CallFunction(x->callback, "KK", (unsigned long long)done, (unsigned long long)total);
        Py_XDECREF(r);
    }
    if (PyErr_Occurred()) {
        PyErr_Fetch(&x->exc_type, &x->exc_value, &x->exc_tb);
        cancel = 1;
    }
    PyGILState_Release(g);
    return cancel;
}

/* A str option (borrowed UTF-8 from the dict), or NULL. -1 with an exception. */
static int opt_str(PyObject *opts, const char *name, const char **out)
{
    *out = NULL;
    PyObject *v = PyDict_GetItemString(opts, name);
    if (!v || v == Py_None)
        return 0;
    if (!PyUnicode_Check(v)) {
        PyErr_Format(PyExc_TypeError, "%s must be a str, not %s", name, Py_TYPE(v)->tp_name);
        return -1;
    }
    Py_ssize_t n;
    *out = PyUnicode_AsUTF8AndSize(v, &n);
    if (!*out)
        return -1;
    if (strlen(*out) != (size_t)n) {
        PyErr_Format(PyExc_ValueError, "%s contains a NUL character", name);
        return -1;
    }
    return 0;
}

static int opt_u64(PyObject *opts, const char *name, uint64_t *out)
{
    PyObject *v = PyDict_GetItemString(opts, name);
    if (!v || v == Py_None)
        return 0;
    unsigned long long n = PyLong_AsUnsignedLongLong(v);
    if (n == (unsigned long long)-1 && PyErr_Occurred())
        return -1;
    *out = n;
    return 0;
}

static int blocking(int upload, smneo_client *c, const char *path, const char *uri, const smneo_s3_options *o,
                    smneo_error *err)
{
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = upload ? smneo_s3_upload(c, path, uri, o, err) : smneo_s3_download(c, uri, path, o, err);
    Py_END_ALLOW_THREADS
    return rc;
}

/* Client._s3_transfer(upload, filename, uri, options, callback) -> None.
 * options: content_type, server_side_encryption, sse_kms_key_id (str),
 * metadata (dict of str), multipart_threshold, part_size, concurrency (int).
 * callback(done, total) or None. */
PyObject *smneo_py_s3_transfer(smneo_state *st, smneo_client *client, int upload, const char *path, const char *uri,
                               PyObject *opts, PyObject *callback)
{
    if (callback != Py_None && !PyCallable_Check(callback))
        return PyErr_Format(PyExc_TypeError, "callback must be callable or None");
    smneo_s3_options o = SMNEO_S3_OPTIONS_INIT;
    uint64_t concurrency = 0;
    if (opt_str(opts, "content_type", &o.content_type) ||
        opt_str(opts, "server_side_encryption", &o.server_side_encryption) ||
        opt_str(opts, "sse_kms_key_id", &o.sse_kms_key_id) ||
        opt_u64(opts, "multipart_threshold", &o.multipart_threshold) || opt_u64(opts, "part_size", &o.part_size) ||
        opt_u64(opts, "concurrency", &concurrency))
        return NULL;
    if (concurrency > 1000)
        return PyErr_Format(PyExc_ValueError, "max_concurrency %llu is too large", (unsigned long long)concurrency);
    o.concurrency = (int)concurrency;
    const char **meta = NULL;
    PyObject *md = PyDict_GetItemString(opts, "metadata");
    if (md && md != Py_None) {
        if (!PyDict_Check(md))
            return PyErr_Format(PyExc_TypeError, "Metadata must be a dict of str to str, not %s",
                                Py_TYPE(md)->tp_name);
        Py_ssize_t n = PyDict_GET_SIZE(md), pos = 0, i = 0;
        meta = PyMem_Calloc((size_t)(2 * n + 1), sizeof *meta);
        if (!meta)
            return PyErr_NoMemory();
        PyObject *k, *v;
        while (PyDict_Next(md, &pos, &k, &v)) {
            if (!PyUnicode_Check(k) || !PyUnicode_Check(v)) {
                PyMem_Free(meta);
                return PyErr_Format(PyExc_TypeError, "Metadata must be a dict of str to str");
            }
            meta[i++] = PyUnicode_AsUTF8(k);
            meta[i++] = PyUnicode_AsUTF8(v);
            if (!meta[i - 2] || !meta[i - 1]) {
                PyMem_Free(meta);
                return NULL;
            }
        }
        o.metadata = meta;
    }
    const char *failed_op = NULL;
    o.failed_operation = &failed_op;
    s3_ctx x = {callback == Py_None ? NULL : callback, NULL, NULL, NULL};
    o.progress = on_progress;
    o.payload = &x;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = blocking(upload, client, path, uri, &o, &err);
    PyMem_Free(meta);
    PyObject *out = NULL;
    if (x.exc_type) { /* the callback raised, or Ctrl-C: the transfer was cancelled */
        PyErr_Restore(x.exc_type, x.exc_value, x.exc_tb);
    } else if (rc) {
        int reached = smneo_client_max_attempts_reached(client, err.attempts, &err);
        smneo_py_raise(st, rc, &err, smneo_error_operation(&err) ? smneo_error_operation(&err) : failed_op, reached);
    } else {
        out = Py_None;
        Py_INCREF(out);
    }
    smneo_error_clear(&err);
    return out;
}
