/* Client._compile: the binding of smneo_compile (pack, check, validate,
 * upload, create, wait, download, verify). The GIL is released while the core
 * works; events re-acquire it for the callback and for Ctrl-C checks. The
 * Python-facing method is Client.compile in _glue.py. */
#include "_smneo.h"

#include "smneo/compile.h"

#include <string.h>


typedef struct compile_ctx {
    smneo_state *st;
    PyObject *callback; /* borrowed, or NULL */
    PyObject *exc_type, *exc_value, *exc_tb; /* raised by a callback or a signal handler */
    int cancelled_by_callback;
} compile_ctx;

/* An event as the callback's dict (the blocking callback's and the step
 * driver's, smneo.aio). NULL with an exception set. */
PyObject *smneo_py_compile_event(smneo_state *st, const smneo_compile_event *ev)
{
    const char *kind = smneo_compile_event_name(ev->kind);
    PyObject *desc = NULL;
    if (ev->description) {
        desc = smneo_py_value(st, ev->description);
    } else {
        desc = Py_None;
        Py_INCREF(desc);
    }
    return desc ? Py_BuildValue("{s:s,s:s,s:K,s:K,s:d,s:N}", "kind", kind, "message", ev->message ? ev->message : "",
                                "done", (unsigned long long)ev->done, "total", (unsigned long long)ev->total,
                                "elapsed", ev->elapsed, "description", desc)
                : NULL;
}

/* compile_many's event dict: compile()'s plus "job" (its index, None for
 * SMNEO_COMPILE_MANY_ALL). Shared with the step driver. */
PyObject *smneo_py_compile_many_event(smneo_state *st, size_t job, const smneo_compile_event *ev)
{
    PyObject *event = smneo_py_compile_event(st, ev);
    if (event) {
        PyObject *index = job == SMNEO_COMPILE_MANY_ALL ? (Py_INCREF(Py_None), Py_None) : PyLong_FromSize_t(job);
        if (!index || PyDict_SetItemString(event, "job", index))
            Py_CLEAR(event);
        Py_XDECREF(index);
    }
    return event;
}

/* An event for job `job` (SIZE_MAX: none, as for compile()) to the callback. */
/* The operation an error is reported under: the request that failed (an S3
 * PutObject during the upload, a DescribeCompilationJob while waiting), else
 * CreateCompilationJob. */
static const char *operation_of(const smneo_error *err)
{
    const char *op = smneo_error_operation(err);
    return op ? op : "CreateCompilationJob";
}

static int deliver(compile_ctx *x, size_t job, int many, const smneo_compile_event *ev)
{
    PyGILState_STATE g = PyGILState_Ensure();
    int cancel = 0;
    if (x->exc_type || x->cancelled_by_callback) {
        cancel = 1;
    } else if (PyErr_CheckSignals() == 0 && x->callback) {
        PyObject *event = many ? smneo_py_compile_many_event(x->st, job, ev) : smneo_py_compile_event(x->st, ev);
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

/* May be called on any thread the core uses; non-zero cancels the flow. */
static int on_event(const smneo_compile_event *ev, void *payload)
{
    return deliver(payload, SMNEO_COMPILE_MANY_ALL, 0, ev);
}

static int on_many_event(size_t job, const smneo_compile_event *ev, void *payload)
{
    return deliver(payload, job, 1, ev);
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

/* PyErr_Format for functions that return -1. */
static int fmt_error(PyObject *type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    PyErr_FormatV(type, fmt, ap);
    va_end(ap);
    return -1;
}

/* A dict of compile() options into *o; the strings are borrowed from the
 * dict. -1 with an exception set. */
static int convert_options(PyObject *opts, smneo_compile_options *o)
{
    if (!PyDict_Check(opts)) {
        PyErr_Format(PyExc_TypeError, "compile options must be a dict");
        return -1;
    }
    smneo_compile_options defaults = SMNEO_COMPILE_OPTIONS_INIT;
    *o = defaults;
    const smneo_compile_option_info *opt; /* the core's one table of compile()'s keywords */
    for (size_t i = 0; (opt = smneo_compile_option_at(i)); i++) {
        PyObject *v = PyDict_GetItemString(opts, opt->name); /* borrowed, kept alive by opts */
        if (!v || v == Py_None)
            continue;
        void *field = (char *)o + opt->offset;
        switch (opt->type) {
        case SMNEO_COMPILE_OPTION_STRING:
        case SMNEO_COMPILE_OPTION_JSON: { /* JSON: text made by the glue from a dict or list */
            if (!PyUnicode_Check(v))
                return fmt_error(PyExc_TypeError, "compile: %s must be a str, not %s", opt->name,
                                 Py_TYPE(v)->tp_name);
            Py_ssize_t n;
            const char *s = PyUnicode_AsUTF8AndSize(v, &n);
            if (!s)
                return -1;
            if (strlen(s) != (size_t)n)
                return fmt_error(PyExc_ValueError, "compile: %s contains a NUL character", opt->name);
            *(const char **)field = s;
            break;
        }
        case SMNEO_COMPILE_OPTION_FLAG: {
            int b = PyObject_IsTrue(v);
            if (b < 0)
                return -1;
            *(int *)field = b;
            break;
        }
        case SMNEO_COMPILE_OPTION_INTEGER: {
            long n = PyLong_AsLong(v);
            if (n == -1 && PyErr_Occurred())
                return -1;
            if (n < 1 || n > 0x7fffffff)
                return fmt_error(PyExc_ValueError, "compile: %s must be positive", opt->name);
            *(int *)field = (int)n;
            break;
        }
        case SMNEO_COMPILE_OPTION_SECONDS: {
            double d = PyFloat_AsDouble(v);
            if (d == -1.0 && PyErr_Occurred())
                return -1;
            if (!(d > 0))
                return fmt_error(PyExc_ValueError, "compile: %s must be a positive number of seconds", opt->name);
            *(double *)field = d;
            break;
        }
        }
    }
    return 0;
}

/* Client._compile(options: dict of str/int/float/bool, callback) -> dict */
PyObject *smneo_py_compile(smneo_state *st, smneo_client *client, PyObject *opts, PyObject *callback)
{
    if (callback != Py_None && !PyCallable_Check(callback))
        return PyErr_Format(PyExc_TypeError, "callback must be callable or None");
    smneo_compile_options o;
    if (convert_options(opts, &o))
        return NULL;
    compile_ctx x = {st, callback == Py_None ? NULL : callback, NULL, NULL, NULL, 0};
    o.callback = on_event;
    o.payload = &x;

    smneo_compile_result *res = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = blocking_compile(&res, client, &o, &err);
    PyObject *out = NULL;
    if (x.exc_type) /* a callback raised, or Ctrl-C: the job was stopped */
        PyErr_Restore(x.exc_type, x.exc_value, x.exc_tb);
    else
        out = smneo_py_compile_finish(st, rc, res, &err, x.cancelled_by_callback);
    smneo_compile_result_free(res);
    smneo_error_clear(&err);
    return out;
}

/* The flow's outcome: the result dict (rc 0), or its exception raised, with
 * the last result (a FAILED or STOPPED job's description, logs and
 * diagnosis) on it. Shared by the blocking compile and the step driver. */
PyObject *smneo_py_compile_finish(smneo_state *st, int rc, const smneo_compile_result *res, smneo_error *err,
                                  int cancelled_by_callback)
{
    if (rc == 0)
        return result_tuple(st, res);
    if (rc == SMNEO_ECANCELLED && cancelled_by_callback)
        err->code = rc; /* WaiterCancelled: the callback returned False */
    PyObject *last = NULL;
    if (res) {
        last = result_tuple(st, res);
        if (!last)
            PyErr_Clear();
    }
    smneo_py_raise(st, rc, err, operation_of(err), 0);
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
    return NULL;
}

/* The compile machine for options (compile()'s dict) in *out (the step
 * driver's); -1 with the exception the blocking compile would raise. */
int smneo_py_compile_new(smneo_state *st, smneo_client *client, PyObject *opts, smneo_call **out)
{
    *out = NULL;
    smneo_compile_options o;
    if (convert_options(opts, &o))
        return -1;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_compile_new(out, client, &o, &err); /* copies the options */
    if (rc) {
        smneo_py_compile_finish(st, rc, NULL, &err, 0);
        smneo_error_clear(&err);
        return -1;
    }
    return 0;
}

static int blocking_compile_many(smneo_compile_many_result **out, smneo_client *c,
                                 const smneo_compile_options *const *jobs, size_t n, const smneo_compile_many_options *o, smneo_error *err)
{
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = smneo_compile_many(out, c, jobs, n, o, err);
    Py_END_ALLOW_THREADS
    return rc;
}

static PyObject *row_dict(smneo_state *st, const smneo_compile_many_result *res, size_t i)
{
    const smneo_compile_row *row = smneo_compile_many_result_row(res, i);
    const smneo_diagnosis *d = smneo_compile_many_result_diagnosis(res, i);
    PyObject *diagnosis = d ? smneo_py_diagnosis(st, d) : (Py_INCREF(Py_None), Py_None);
    if (!diagnosis)
        return NULL;
    PyObject *out = Py_BuildValue("{s:s,s:s,s:z,s:s,s:d,s:z,s:O,s:z,s:O,s:O}", "model", row->model ? row->model : "",
                         "target", row->target ? row->target : "", "compilation_job_name", row->job_name,
                         "compilation_job_status", row->status, "duration_seconds", row->duration,
                         "artifact_path", row->artifact_path, "digest_verified",
                         row->digest_verified ? Py_True : Py_False, "failure_reason", row->failure_reason,
                         "stopped_by_smneo", row->stopped_by_smneo ? Py_True : Py_False, "skipped",
                         row->skipped ? Py_True : Py_False);
    if (out && PyDict_SetItemString(out, "diagnosis", diagnosis))
        Py_CLEAR(out);
    Py_DECREF(diagnosis);
    return out;
}

/* The core names the job an error before the start belongs to ("job 11
 * (model for target): ..."); an exception built from validation issues does
 * not carry that message: its text gets the same prefix, and .job the index. */
static void name_the_job(const smneo_error *err)
{
    unsigned long index;
    int used = 0;
    const char *m = err->message;
    const char *end = m ? strstr(m, "): ") : NULL;
    if (!end || sscanf(m, "job %lu (%n", &index, &used) != 1 || used == 0)
        return;
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    PyObject *text = value ? PyObject_Str(value) : NULL;
    const char *t = text ? PyUnicode_AsUTF8(text) : NULL;
    if (t && strncmp(t, m, (size_t)(end + 3 - m)) != 0) {
        PyObject *args = Py_BuildValue("(s#s)", m, (Py_ssize_t)(end + 3 - m), t);
        PyObject *joined = args ? PyUnicode_FromFormat("%s%s", PyUnicode_AsUTF8(PyTuple_GET_ITEM(args, 0)), t) : NULL;
        PyObject *new_args = joined ? PyTuple_Pack(1, joined) : NULL;
        if (!new_args || PyObject_SetAttrString(value, "args", new_args))
            PyErr_Clear();
        Py_XDECREF(new_args);
        Py_XDECREF(joined);
        Py_XDECREF(args);
    }
    PyErr_Clear();
    PyObject *idx = PyLong_FromUnsignedLong(index);
    if (!idx || !value || PyObject_SetAttrString(value, "job", idx))
        PyErr_Clear();
    Py_XDECREF(idx);
    Py_XDECREF(text);
    PyErr_Restore(type, value, tb);
}

/* compile_many's arguments (jobs: list of option dicts, mopts: dict) into
 * *o / *ptrs (PyMem, the caller frees both; strings borrowed from jobs and
 * mopts) and *mo. -1 with the exception. Shared by the blocking compile_many
 * and the step driver's. */
static int convert_many(PyObject *jobs, PyObject *mopts, smneo_compile_options **o_out,
                        const smneo_compile_options ***ptrs_out, smneo_compile_many_options *mo)
{
    *o_out = NULL;
    *ptrs_out = NULL;
    if (!PyList_Check(jobs) || !PyDict_Check(mopts)) {
        PyErr_Format(PyExc_TypeError, "compile_many: jobs must be a list and options a dict");
        return -1;
    }
    Py_ssize_t n = PyList_GET_SIZE(jobs);
    smneo_compile_options *o = PyMem_Calloc(n ? (size_t)n : 1, sizeof *o);
    const smneo_compile_options **ptrs = PyMem_Calloc(n ? (size_t)n : 1, sizeof *ptrs);
    *o_out = o;
    *ptrs_out = ptrs;
    if (!o || !ptrs) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        ptrs[i] = &o[i];
        if (convert_options(PyList_GET_ITEM(jobs, i), &o[i]))
            return -1;
    }
    *mo = (smneo_compile_many_options)SMNEO_COMPILE_MANY_OPTIONS_INIT;
    PyObject *v;
    if ((v = PyDict_GetItemString(mopts, "max_concurrent")) && v != Py_None) {
        long k = PyLong_AsLong(v);
        if ((k == -1 && PyErr_Occurred()) || k < 1 || k > 100000) {
            PyErr_Clear();
            PyErr_Format(PyExc_ValueError, "compile_many: max_concurrent must be a positive int");
            return -1;
        }
        mo->max_concurrent = (unsigned)k;
    }
    if ((v = PyDict_GetItemString(mopts, "state_file")) && v != Py_None) {
        Py_ssize_t len;
        mo->state_file = PyUnicode_Check(v) ? PyUnicode_AsUTF8AndSize(v, &len) : NULL;
        if (!mo->state_file || strlen(mo->state_file) != (size_t)len) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "compile_many: state_file must be a path (str) without NUL");
            return -1;
        }
    }
    if ((v = PyDict_GetItemString(mopts, "retry_failed")))
        mo->retry_failed = PyObject_IsTrue(v);
    if ((v = PyDict_GetItemString(mopts, "keep_jobs_on_cancel")))
        mo->keep_jobs_on_cancel = PyObject_IsTrue(v);
    return 0;
}

/* The run's outcome: the list of row dicts, or the exception of an error
 * before any job (naming the job). Shared by the blocking compile_many and
 * the step driver. */
PyObject *smneo_py_compile_many_finish(smneo_state *st, int rc, const smneo_compile_many_result *res,
                                       smneo_error *err)
{
    if (!res) {
        smneo_py_raise(st, rc, err, operation_of(err), 0);
        name_the_job(err);
        return NULL;
    }
    PyObject *out = PyList_New((Py_ssize_t)smneo_compile_many_result_count(res));
    for (size_t i = 0; out && i < smneo_compile_many_result_count(res); i++) {
        PyObject *row = row_dict(st, res, i);
        if (!row)
            Py_CLEAR(out);
        else
            PyList_SET_ITEM(out, (Py_ssize_t)i, row);
    }
    return out;
}

/* Client._compile_many(jobs: list of option dicts, options: dict, callback)
 * -> list of row dicts */
PyObject *smneo_py_compile_many(smneo_state *st, smneo_client *client, PyObject *jobs, PyObject *mopts,
                                PyObject *callback)
{
    if (callback != Py_None && !PyCallable_Check(callback))
        return PyErr_Format(PyExc_TypeError, "callback must be callable or None");
    smneo_compile_options *o;
    const smneo_compile_options **ptrs;
    smneo_compile_many_options mo;
    if (convert_many(jobs, mopts, &o, &ptrs, &mo)) {
        PyMem_Free(o);
        PyMem_Free(ptrs);
        return NULL;
    }
    compile_ctx x = {st, callback == Py_None ? NULL : callback, NULL, NULL, NULL, 0};
    mo.callback = on_many_event;
    mo.payload = &x;
    smneo_compile_many_result *res = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = blocking_compile_many(&res, client, ptrs, (size_t)PyList_GET_SIZE(jobs), &mo, &err);
    PyMem_Free(o);
    PyMem_Free(ptrs);
    PyObject *out = NULL;
    if (x.exc_type) /* a callback raised, or Ctrl-C: the jobs were stopped */
        PyErr_Restore(x.exc_type, x.exc_value, x.exc_tb);
    else
        out = smneo_py_compile_many_finish(st, rc, res, &err);
    smneo_compile_many_result_free(res);
    smneo_error_clear(&err);
    return out;
}

/* The compile_many machine for compile_many's arguments in *out (the step
 * driver's); -1 with the exception the blocking compile_many would raise. */
int smneo_py_compile_many_new(smneo_state *st, smneo_client *client, PyObject *jobs, PyObject *mopts,
                              smneo_call **out)
{
    *out = NULL;
    smneo_compile_options *o;
    const smneo_compile_options **ptrs;
    smneo_compile_many_options mo;
    int rc = convert_many(jobs, mopts, &o, &ptrs, &mo) ? -1 : 0;
    if (rc == 0) {
        smneo_error err = SMNEO_ERROR_INIT;
        int r = smneo_compile_many_new(out, client, ptrs, (size_t)PyList_GET_SIZE(jobs), &mo, &err); /* copies */
        if (r) {
            smneo_py_compile_many_finish(st, r, NULL, &err);
            rc = -1;
        }
        smneo_error_clear(&err);
    }
    PyMem_Free(o);
    PyMem_Free(ptrs);
    return rc;
}
