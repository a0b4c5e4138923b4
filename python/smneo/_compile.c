/* Client._compile: the binding of smneo_compile (pack, check, validate,
 * upload, create, wait, download, verify). The GIL is released while the core
 * works; events re-acquire it for the callback and for Ctrl-C checks. The
 * Python-facing method is Client.compile in _glue.py. */
#include "_smneo.h"

#include "smneo/compile.h"

#include <string.h>

static const char *const EVENT_NAMES[] = {"", "PACKED", "UPLOAD", "UPLOADED", "CREATED", "STATUS", "DOWNLOAD",
                                          "VERIFIED", "WARNING", "STOPPING", "WAITING", "PACK", "LOG"};
enum { N_EVENT_NAMES = sizeof EVENT_NAMES / sizeof EVENT_NAMES[0] };

typedef struct compile_ctx {
    smneo_state *st;
    PyObject *callback; /* borrowed, or NULL */
    PyObject *exc_type, *exc_value, *exc_tb; /* raised by a callback or a signal handler */
    int cancelled_by_callback;
} compile_ctx;

/* May be called on any thread the core uses; non-zero cancels the flow. */
static int on_event(const smneo_compile_event *ev, void *payload)
{
    compile_ctx *x = payload;
    PyGILState_STATE g = PyGILState_Ensure();
    int cancel = 0;
    if (x->exc_type || x->cancelled_by_callback) {
        cancel = 1;
    } else if (PyErr_CheckSignals() == 0 && x->callback) {
        const char *kind = (ev->kind >= 1 && (size_t)ev->kind < N_EVENT_NAMES) ? EVENT_NAMES[ev->kind] : "UNKNOWN";
        PyObject *desc = NULL;
        if (ev->description) {
            desc = smneo_py_value(x->st, ev->description);
        } else {
            desc = Py_None;
            Py_INCREF(desc);
        }
        PyObject *event = desc ? Py_BuildValue("{s:s,s:s,s:K,s:K,s:d,s:N}", "kind", kind, "message",
                                               ev->message ? ev->message : "", "done",
                                               (unsigned long long)ev->done, "total",
                                               (unsigned long long)ev->total, "elapsed", ev->elapsed,
                                               "description", desc)
                               : NULL;
        if (event) {
            PyObject *r = PyObject_CallOneArg(x->callback, event);
            Py_DECREF(event);
            if (r == Py_False)
                x->cancelled_by_callback = cancel = 1;
            Py_XDECREF(r);
        }
    }
    if (PyErr_Occurred()) {
        PyErr_Fetch(&x->exc_type, &x->exc_value, &x->exc_tb);
        cancel = 1;
    }
    PyGILState_Release(g);
    return cancel;
}

static int blocking_compile(smneo_compile_result **out, smneo_client *c, const smneo_compile_options *o,
                            smneo_error *err)
{
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = smneo_compile(out, c, o, err);
    Py_END_ALLOW_THREADS
    return rc;
}

static PyObject *result_tuple(smneo_state *st, const smneo_compile_result *r)
{
    const smneo_result *job = smneo_compile_result_job(r);
    PyObject *desc = job ? smneo_py_result(st, job) : (Py_INCREF(Py_None), Py_None);
    if (!desc)
        return NULL;
    PyObject *issues = smneo_py_issues(st, smneo_compile_result_issues(r));
    if (!issues) {
        Py_DECREF(desc);
        return NULL;
    }
    size_t n = smneo_compile_result_log_count(r);
    PyObject *logs = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; logs && i < n; i++) {
        smneo_log_event ev;
        PyObject *e = smneo_compile_result_log_at(&ev, r, i) == 0 ? smneo_py_log_event(st, &ev) : NULL;
        if (!e)
            Py_CLEAR(logs);
        else
            PyList_SET_ITEM(logs, (Py_ssize_t)i, e);
    }
    const smneo_diagnosis *d = smneo_compile_result_diagnosis(r);
    PyObject *diagnosis = d ? smneo_py_diagnosis(st, d) : (Py_INCREF(Py_None), Py_None);
    if (!logs || !diagnosis) {
        Py_DECREF(desc);
        Py_DECREF(issues);
        Py_XDECREF(logs);
        Py_XDECREF(diagnosis);
        return NULL;
    }
    return Py_BuildValue("{s:N,s:z,s:z,s:z,s:O,s:z,s:N,s:N,s:N}", "job", desc, "job_name",
                         smneo_compile_result_job_name(r), "artifact_path", smneo_compile_result_artifact_path(r),
                         "extracted_dir", smneo_compile_result_extracted_dir(r), "digest_verified",
                         smneo_compile_result_digest_verified(r) ? Py_True : Py_False, "input_uri",
                         smneo_compile_result_input_uri(r), "issues", issues, "logs", logs, "diagnosis", diagnosis);
}

/* Client._compile(options: dict of str/int/float/bool, callback) -> dict */
PyObject *smneo_py_compile(smneo_state *st, smneo_client *client, PyObject *opts, PyObject *callback)
{
    if (!PyDict_Check(opts))
        return PyErr_Format(PyExc_TypeError, "compile options must be a dict");
    if (callback != Py_None && !PyCallable_Check(callback))
        return PyErr_Format(PyExc_TypeError, "callback must be callable or None");
    smneo_compile_options o = SMNEO_COMPILE_OPTIONS_INIT;
    static const struct {
        const char *name;
        size_t offset;
    } strings[] = {
        {"model", offsetof(smneo_compile_options, model)},
        {"framework", offsetof(smneo_compile_options, framework)},
        {"data_input_config", offsetof(smneo_compile_options, data_input_config)},
        {"framework_version", offsetof(smneo_compile_options, framework_version)},
        {"target_device", offsetof(smneo_compile_options, target_device)},
        {"target_os", offsetof(smneo_compile_options, target_os)},
        {"target_arch", offsetof(smneo_compile_options, target_arch)},
        {"target_accelerator", offsetof(smneo_compile_options, target_accelerator)},
        {"compiler_options", offsetof(smneo_compile_options, compiler_options)},
        {"role_arn", offsetof(smneo_compile_options, role_arn)},
        {"s3_bucket", offsetof(smneo_compile_options, s3_bucket)},
        {"s3_prefix", offsetof(smneo_compile_options, s3_prefix)},
        {"job_name", offsetof(smneo_compile_options, job_name)},
        {"output_dir", offsetof(smneo_compile_options, output_dir)},
        {"tags_json", offsetof(smneo_compile_options, tags_json)},
        {"kms_key_id", offsetof(smneo_compile_options, kms_key_id)},
    };
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        PyObject *v = PyDict_GetItemString(opts, strings[i].name); /* borrowed, kept alive by opts */
        if (!v || v == Py_None)
            continue;
        if (!PyUnicode_Check(v))
            return PyErr_Format(PyExc_TypeError, "compile: %s must be a str, not %s", strings[i].name,
                                Py_TYPE(v)->tp_name);
        Py_ssize_t n;
        const char *s = PyUnicode_AsUTF8AndSize(v, &n);
        if (!s)
            return NULL;
        if (strlen(s) != (size_t)n)
            return PyErr_Format(PyExc_ValueError, "compile: %s contains a NUL character", strings[i].name);
        *(const char **)((char *)&o + strings[i].offset) = s;
    }
    PyObject *v;
    if ((v = PyDict_GetItemString(opts, "extract")))
        o.extract = PyObject_IsTrue(v);
    if ((v = PyDict_GetItemString(opts, "keep_job_on_cancel")))
        o.keep_job_on_cancel = PyObject_IsTrue(v);
    if ((v = PyDict_GetItemString(opts, "follow_logs")))
        o.follow_logs = PyObject_IsTrue(v);
    if ((v = PyDict_GetItemString(opts, "max_runtime_seconds")) && v != Py_None) {
        long n = PyLong_AsLong(v);
        if (n == -1 && PyErr_Occurred())
            return NULL;
        if (n < 1 || n > 0x7fffffff)
            return PyErr_Format(PyExc_ValueError, "compile: max_runtime_seconds must be positive");
        o.max_runtime_seconds = (int)n;
    }
    static const struct {
        const char *name;
        size_t offset;
    } numbers[] = {
        {"timeout", offsetof(smneo_compile_options, timeout)},
        {"delay", offsetof(smneo_compile_options, delay)},
        {"max_delay", offsetof(smneo_compile_options, max_delay)},
    };
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
        v = PyDict_GetItemString(opts, numbers[i].name);
        if (!v || v == Py_None)
            continue;
        double d = PyFloat_AsDouble(v);
        if (d == -1.0 && PyErr_Occurred())
            return NULL;
        if (!(d > 0))
            return PyErr_Format(PyExc_ValueError, "compile: %s must be a positive number of seconds",
                                numbers[i].name);
        *(double *)((char *)&o + numbers[i].offset) = d;
    }
    compile_ctx x = {st, callback == Py_None ? NULL : callback, NULL, NULL, NULL, 0};
    o.callback = on_event;
    o.payload = &x;

    smneo_compile_result *res = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = blocking_compile(&res, client, &o, &err);
    PyObject *out = NULL;
    if (rc == 0) {
        if (x.exc_type)
            PyErr_Restore(x.exc_type, x.exc_value, x.exc_tb);
        else
            out = result_tuple(st, res);
    } else if (x.exc_type) { /* a callback raised, or Ctrl-C: the job was stopped */
        PyErr_Restore(x.exc_type, x.exc_value, x.exc_tb);
    } else {
        if (rc == SMNEO_ECANCELLED && x.cancelled_by_callback)
            err.code = rc; /* WaiterCancelled: the callback returned False */
        PyObject *last = NULL;
        if (res) {
            last = result_tuple(st, res);
            if (!last)
                PyErr_Clear();
        }
        smneo_py_raise(st, rc, &err, "CreateCompilationJob", 0);
        if (last) {
            PyObject *type, *value, *tb;
            PyErr_Fetch(&type, &value, &tb);
            PyErr_NormalizeException(&type, &value, &tb);
            PyObject *job = PyDict_GetItemString(last, "job");
            if (value && job && job != Py_None && PyObject_SetAttr(value, st->s_last_response, job))
                PyErr_Clear();
            if (value && PyObject_SetAttrString(value, "compile_result", last))
                PyErr_Clear();
            /* FAILED: the log's last lines and the diagnosis (CompilationJobFailed.logs/.diagnosis) */
            PyObject *logs = PyDict_GetItemString(last, "logs");
            PyObject *diag = PyDict_GetItemString(last, "diagnosis");
            if (value && rc == SMNEO_EJOBFAILED && logs && diag &&
                (PyObject_SetAttrString(value, "logs", logs) || PyObject_SetAttrString(value, "diagnosis", diag)))
                PyErr_Clear();
            PyErr_Restore(type, value, tb);
            Py_DECREF(last);
        }
    }
    smneo_compile_result_free(res);
    smneo_error_clear(&err);
    return out;
}
