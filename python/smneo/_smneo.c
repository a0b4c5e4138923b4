/* smneo._smneo: module definition, exceptions, Issue and Request types, the
 * error mapping and module-level functions. The client lives in _client.c,
 * value conversion in _convert.c. */
#include "_smneo.h"

#include <datetime.h>
#include <stdarg.h>
#include <string.h>

/* ---- Issue: a tuple (severity, path, rule, message) with named fields ------- */

static PyObject *issue_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"severity", "path", "rule", "message", NULL};
    PyObject *sev, *path, *rule, *msg;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "UUUU:Issue", kwlist, &sev, &path, &rule, &msg))
        return NULL;
    PyObject *items = PyTuple_Pack(4, sev, path, rule, msg);
    if (!items)
        return NULL;
    PyObject *targs = PyTuple_Pack(1, items);
    Py_DECREF(items);
    if (!targs)
        return NULL;
    PyObject *self = PyTuple_Type.tp_new(type, targs, NULL);
    Py_DECREF(targs);
    return self;
}

static PyObject *issue_field(PyObject *self, void *closure)
{
    Py_ssize_t i = (Py_ssize_t)(intptr_t)closure;
    if (PyTuple_GET_SIZE(self) <= i) {
        PyErr_SetString(PyExc_AttributeError, "malformed Issue");
        return NULL;
    }
    PyObject *v = PyTuple_GET_ITEM(self, i);
    Py_INCREF(v);
    return v;
}

static PyObject *issue_repr(PyObject *self)
{
    if (PyTuple_GET_SIZE(self) != 4)
        return PyUnicode_FromString("Issue(?)");
    return PyUnicode_FromFormat("Issue(severity=%R, path=%R, rule=%R, message=%R)", PyTuple_GET_ITEM(self, 0),
                                PyTuple_GET_ITEM(self, 1), PyTuple_GET_ITEM(self, 2), PyTuple_GET_ITEM(self, 3));
}

static PyObject *issue_reduce(PyObject *self, PyObject *unused)
{
    PyObject *items = PyTuple_GetSlice(self, 0, PyTuple_GET_SIZE(self));
    if (!items)
        return NULL;
    PyObject *r = Py_BuildValue("(ON)", (PyObject *)Py_TYPE(self), items);
    return r;
}

static PyGetSetDef issue_getset[] = {
    {"severity", issue_field, NULL, "'error' or 'warning'", (void *)0},
    {"path", issue_field, NULL, "field path, e.g. 'OutputConfig.CompilerOptions.gpu-code' ('' for the root)",
     (void *)1},
    {"rule", issue_field, NULL, "stable rule id (docs/validation.md)", (void *)2},
    {"message", issue_field, NULL, "what is wrong and what to change", (void *)3},
    {NULL},
};

static PyMethodDef issue_methods[] = {
    {"__reduce__", issue_reduce, METH_NOARGS, NULL},
    {NULL},
};

static PyType_Slot issue_slots[] = {
    {Py_tp_new, issue_new},
    {Py_tp_repr, issue_repr},
    {Py_tp_getset, issue_getset},
    {Py_tp_methods, issue_methods},
    {Py_tp_doc, "Issue(severity, path, rule, message)\n\n"
                "One validation finding: severity is 'error' or 'warning', path the field\n"
                "('Tags[3].Key', '' for the root), rule a stable id, message what to change.\n"
                "A tuple: unpacks as (severity, path, rule, message)."},
    {0, NULL},
};

static PyType_Spec issue_spec = {"smneo.Issue", 0, 0, Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE, issue_slots};

static PyObject *make_issue(smneo_state *st, const smneo_issue *is)
{
    const char *sev = is->severity == SMNEO_SEVERITY_WARNING ? "warning" : "error";
    PyObject *items = Py_BuildValue("(ssss)", sev, is->path ? is->path : "", is->rule ? is->rule : "",
                                    is->message ? is->message : "");
    if (!items)
        return NULL;
    PyObject *targs = PyTuple_Pack(1, items);
    Py_DECREF(items);
    if (!targs)
        return NULL;
    PyObject *r = PyTuple_Type.tp_new(st->IssueType, targs, NULL);
    Py_DECREF(targs);
    return r;
}

PyObject *smneo_py_issues(smneo_state *st, const smneo_issues *issues)
{
    size_t n = issues ? smneo_issues_count(issues) : 0;
    PyObject *list = PyList_New((Py_ssize_t)n);
    if (!list)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        PyObject *it = make_issue(st, smneo_issues_at(issues, i));
        if (!it) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, it);
    }
    return list;
}

/* ---- Request: a signed request that was not sent ----------------------------- */

typedef struct {
    PyObject_HEAD
    PyObject *method, *url, *headers, *body;
} RequestObject;

static int request_traverse(RequestObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->headers);
    return 0;
}

static int request_clear(RequestObject *self)
{
    Py_CLEAR(self->method);
    Py_CLEAR(self->url);
    Py_CLEAR(self->headers);
    Py_CLEAR(self->body);
    return 0;
}

static void request_dealloc(RequestObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    request_clear(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *request_repr(RequestObject *self)
{
    /* The signature and a session token are credentials: leave them out. */
    return PyUnicode_FromFormat("<smneo.Request %U %U (%zd headers, %zd body bytes)>", self->method, self->url,
                                PyDict_GET_SIZE(self->headers), PyBytes_GET_SIZE(self->body));
}

#include <structmember.h>
static PyMemberDef request_members[] = {
    {"method", T_OBJECT, offsetof(RequestObject, method), READONLY, "HTTP method ('POST')"},
    {"url", T_OBJECT, offsetof(RequestObject, url), READONLY, "full URL"},
    {"headers", T_OBJECT, offsetof(RequestObject, headers), READONLY,
     "dict of headers in the order they are sent (Authorization included)"},
    {"body", T_OBJECT, offsetof(RequestObject, body), READONLY, "body bytes"},
    {NULL},
};

static PyType_Slot request_slots[] = {
    {Py_tp_dealloc, request_dealloc},
    {Py_tp_traverse, request_traverse},
    {Py_tp_clear, request_clear},
    {Py_tp_repr, request_repr},
    {Py_tp_members, request_members},
    {Py_tp_doc, "A signed request built by Client.build_request (nothing was sent).\n\n"
                "Attributes: method, url, headers (dict), body (bytes)."},
    {0, NULL},
};

static PyType_Spec request_spec = {"smneo.Request", sizeof(RequestObject), 0,
                                   Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE |
                                       Py_TPFLAGS_DISALLOW_INSTANTIATION,
                                   request_slots};

PyObject *smneo_py_request(smneo_state *st, const smneo_request *req)
{
    RequestObject *self = PyObject_GC_New(RequestObject, st->RequestType);
    if (!self)
        return NULL;
    self->method = PyUnicode_FromString(req->method ? req->method : "");
    self->url = PyUnicode_FromString(req->url ? req->url : "");
    self->headers = PyDict_New();
    self->body = PyBytes_FromStringAndSize(req->body ? req->body : "", req->body ? (Py_ssize_t)req->body_len : 0);
    PyObject_GC_Track(self);
    if (!self->method || !self->url || !self->headers || !self->body) {
        Py_DECREF(self);
        return NULL;
    }
    for (size_t i = 0; i < req->header_count; i++) {
        const char *name = req->headers[i].name;
        PyObject *k = smneo_py_cached_name(st, name, strlen(name)); /* the same names on every request */
        if (!k && !PyErr_Occurred())
            k = PyUnicode_FromString(name);
        PyObject *v = k ? PyUnicode_FromString(req->headers[i].value) : NULL;
        if (!v || PyDict_SetItem(self->headers, k, v)) {
            Py_XDECREF(k);
            Py_XDECREF(v);
            Py_DECREF(self);
            return NULL;
        }
        Py_DECREF(k);
        Py_DECREF(v);
    }
    return (PyObject *)self;
}

/* ---- headers ----------------------------------------------------------------- */

PyObject *smneo_py_headers(smneo_state *st, const smneo_response *resp)
{
    PyObject *d = PyDict_New();
    if (!d)
        return NULL;
    char small[128];
    for (size_t i = 0; i < resp->header_count; i++) {
        const char *name = resp->headers[i].name;
        size_t n = strlen(name);
        char *low = n < sizeof small ? small : PyMem_Malloc(n + 1);
        if (!low) {
            Py_DECREF(d);
            return PyErr_NoMemory();
        }
        for (size_t k = 0; k < n; k++)
            low[k] = (char)((name[k] >= 'A' && name[k] <= 'Z') ? name[k] + 32 : name[k]);
        low[n] = '\0';
        PyObject *key = smneo_py_cached_name(st, low, n); /* the same few names on every answer */
        if (!key && !PyErr_Occurred())
            key = PyUnicode_DecodeLatin1(low, (Py_ssize_t)n, NULL);
        if (low != small)
            PyMem_Free(low);
        const char *val = resp->headers[i].value ? resp->headers[i].value : "";
        PyObject *v = PyUnicode_DecodeLatin1(val, (Py_ssize_t)strlen(val), NULL);
        if (!key || !v)
            goto fail;
        PyObject *old = PyDict_GetItemWithError(d, key);
        if (old) {
            PyObject *joined = PyUnicode_FromFormat("%U, %U", old, v);
            Py_DECREF(v);
            v = joined;
            if (!v)
                goto fail;
        } else if (PyErr_Occurred()) {
            goto fail;
        }
        if (PyDict_SetItem(d, key, v))
            goto fail;
        Py_DECREF(key);
        Py_DECREF(v);
        continue;
    fail:
        Py_XDECREF(key);
        Py_XDECREF(v);
        Py_DECREF(d);
        return NULL;
    }
    return d;
}

static int add_header_pair(smneo_response *resp, PyObject *k, PyObject *v)
{
    Py_ssize_t kn, vn;
    const char *ks, *vs;
    if (!PyUnicode_Check(k) || !(PyUnicode_Check(v) || PyBytes_Check(v))) {
        PyErr_SetString(PyExc_TypeError, "headers: names must be str and values str or bytes");
        return -1;
    }
    ks = PyUnicode_AsUTF8AndSize(k, &kn);
    if (!ks)
        return -1;
    if (PyBytes_Check(v)) {
        vs = PyBytes_AS_STRING(v);
        vn = PyBytes_GET_SIZE(v);
    } else {
        vs = PyUnicode_AsUTF8AndSize(v, &vn);
        if (!vs)
            return -1;
    }
    if (smneo_response_add_header(resp, ks, (size_t)kn, vs, (size_t)vn)) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

int smneo_py_make_response(smneo_response **out, int status, PyObject *headers, PyObject *body)
{
    *out = NULL;
    smneo_response *resp = NULL;
    if (smneo_response_new(&resp, status)) {
        PyErr_NoMemory();
        return -1;
    }
    if (headers && headers != Py_None) {
        PyObject *items = PyMapping_Check(headers) && !PyList_Check(headers) && !PyTuple_Check(headers)
                              ? PyMapping_Items(headers)
                              : PySequence_List(headers);
        if (!items)
            goto fail;
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
            PyObject *pair = PyList_GET_ITEM(items, i);
            if (!PyTuple_Check(pair) && !PyList_Check(pair)) {
                PyErr_SetString(PyExc_TypeError, "headers must be a mapping or a sequence of (name, value) pairs");
                Py_DECREF(items);
                goto fail;
            }
            if (PySequence_Size(pair) != 2) {
                PyErr_SetString(PyExc_TypeError, "headers must be a mapping or a sequence of (name, value) pairs");
                Py_DECREF(items);
                goto fail;
            }
            PyObject *k = PySequence_GetItem(pair, 0), *v = PySequence_GetItem(pair, 1);
            int rc = (k && v) ? add_header_pair(resp, k, v) : -1;
            Py_XDECREF(k);
            Py_XDECREF(v);
            if (rc) {
                Py_DECREF(items);
                goto fail;
            }
        }
        Py_DECREF(items);
    }
    if (body && body != Py_None) {
        Py_buffer view;
        if (PyUnicode_Check(body)) {
            Py_ssize_t n;
            const char *s = PyUnicode_AsUTF8AndSize(body, &n);
            if (!s)
                goto fail;
            if (n && smneo_response_append_body(resp, s, (size_t)n)) {
                PyErr_NoMemory();
                goto fail;
            }
        } else {
            if (PyObject_GetBuffer(body, &view, PyBUF_SIMPLE))
                goto fail;
            int rc = view.len ? smneo_response_append_body(resp, view.buf, (size_t)view.len) : 0;
            PyBuffer_Release(&view);
            if (rc) {
                PyErr_NoMemory();
                goto fail;
            }
        }
    }
    *out = resp;
    return 0;
fail:
    smneo_response_free(resp);
    return -1;
}

/* ---- logging: the core's debug log to Python's logging ------------------------ */

/* The core's sink is process-wide, so these are too. The sink is installed
 * only while the "smneo" logger is enabled for DEBUG (checked as each call
 * starts): otherwise the core formats no log line at all. */
static PyObject *log_logger; /* logging.getLogger("smneo") */
/* logging.getLogger("smneo") */
static int log_on;

static void log_sink(int level, const char *message, void *payload)
{
    (void)payload;
    if (!Py_IsInitialized())
        return;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *logger = log_logger;
    if (logger) {
        Py_INCREF(logger);
        int pylevel = level == SMNEO_LOG_WARN ? 30 : level == SMNEO_LOG_INFO ? 20 : 10;
        PyObject *msg = PyUnicode_DecodeUTF8(message, (Py_ssize_t)strlen(message), "replace");
        static PyObject *log_name;
        if (!log_name)
            log_name = PyUnicode_InternFromString("log");
        PyObject *lvl = PyLong_FromLong(pylevel), *fmt = PyUnicode_FromString("%s");
        PyObject *r = msg && lvl && fmt && log_name ? PyObject_CallMethodObjArgs(logger, log_name, lvl, fmt, msg, NULL)
                                                    : NULL;
        Py_XDECREF(lvl);
        Py_XDECREF(fmt);
        if (!r)
            PyErr_WriteUnraisable(logger);
        Py_XDECREF(r);
        Py_XDECREF(msg);
        Py_DECREF(logger);
    }
    PyGILState_Release(g);
}

int smneo_py_log_sync(void)
{
    if (!log_logger) {
        PyObject *logging = PyImport_ImportModule("logging");
        log_logger = logging ? PyObject_CallMethod(logging, "getLogger", "s", "smneo") : NULL;
        Py_XDECREF(logging);
        if (!log_logger)
            return -1;
    }
    /* interned name and a cached int: a fresh name string per call would
     * fill the type attribute cache (keyed by the name's address) */
    static PyObject *name, *debug;
    if (!name && !(name = PyUnicode_InternFromString("isEnabledFor")))
        return -1;
    if (!debug && !(debug = PyLong_FromLong(10)))
        return -1;
    PyObject *r = PyObject_CallMethodObjArgs(log_logger, name, debug, NULL);
    int on = r ? PyObject_IsTrue(r) : -1;
    Py_XDECREF(r);
    if (on < 0)
        return -1;
    if (on != log_on) {
        smneo_log_set_callback(on ? log_sink : NULL, NULL);
        log_on = on;
    }
    return 0;
}

/* ---- module functions -------------------------------------------------------- */

static PyObject *mod_validate(PyObject *module, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"operation_name", "params", "allow_unknown_enum_values", NULL};
    const char *op;
    PyObject *params = Py_None;
    int allow = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "s|O$p:validate", kwlist, &op, &params, &allow))
        return NULL;
    smneo_state *st = smneo_get_state(module);
    const smneo_operation *o = smneo_model_operation(op);
    if (!o)
        return PyErr_Format(PyExc_ValueError, "unknown operation %R: use e.g. 'CreateCompilationJob'",
                            PyTuple_GET_ITEM(args, 0));
    smneo_jsonw *w;
    if (smneo_py_params(st, params, &w)) {
        /* a value that cannot be converted is itself a finding */
        if (PyErr_ExceptionMatches(st->ParamValidationError)) {
            PyObject *type, *value, *tb;
            PyErr_Fetch(&type, &value, &tb);
            PyErr_NormalizeException(&type, &value, &tb);
            PyObject *issues = value ? PyObject_GetAttr(value, st->s_issues) : NULL;
            Py_XDECREF(type);
            Py_XDECREF(value);
            Py_XDECREF(tb);
            return issues;
        }
        return NULL;
    }
    size_t len;
    const char *json = smneo_jsonw_data(&len, w);
    smneo_validate_options vo = SMNEO_VALIDATE_OPTIONS_INIT;
    vo.allow_unknown_enum_values = allow;
    smneo_issues *issues = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_validate(&issues, o->name, json, len, &vo, &err);
    smneo_jsonw_free(w);
    PyObject *res;
    if (rc == SMNEO_EVALIDATION && err.issues)
        res = smneo_py_issues(st, err.issues);
    else if (rc)
        res = smneo_py_raise(st, rc, &err, o->name, 0);
    else
        res = smneo_py_issues(st, issues);
    smneo_issues_free(issues);
    smneo_error_clear(&err);
    return res;
}

/* _validate_response(operation, json_text): None when the stubbed answer fits the
 * operation's output shape (smneo_validate_response, botocore's Stubber checks),
 * else raises ParamValidationError with the issues. */
static PyObject *mod_validate_response(PyObject *module, PyObject *args)
{
    const char *op, *json;
    Py_ssize_t len;
    if (!PyArg_ParseTuple(args, "ss#:_validate_response", &op, &json, &len))
        return NULL;
    smneo_state *st = smneo_get_state(module);
    smneo_issues *issues = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_validate_response(&issues, op, json, (size_t)len, &err);
    PyObject *res = NULL;
    if (rc) {
        PyErr_SetString(PyExc_ValueError, err.message ? err.message : "cannot check the response");
    } else if (smneo_issues_count(issues)) {
        err.code = SMNEO_EVALIDATION;
        err.issues = issues; /* owned by err now */
        issues = NULL;
        smneo_py_raise(st, SMNEO_EVALIDATION, &err, op, 0);
    } else {
        Py_INCREF(Py_None);
        res = Py_None;
    }
    smneo_issues_free(issues);
    smneo_error_clear(&err);
    return res;
}

static PyObject *mod_api_version(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    const smneo_service *svc = smneo_model_service("sagemaker");
    return PyUnicode_FromString(svc && svc->api_version ? svc->api_version : "");
}

static PyObject *mod_operations(PyObject *module, PyObject *unused)
{
    size_t n = smneo_model_operation_count();
    PyObject *list = PyList_New(0);
    if (!list)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const smneo_operation *o = smneo_model_operation_at(i);
        PyObject *errors = PyTuple_New((Py_ssize_t)o->error_count);
        if (!errors)
            goto fail;
        for (size_t k = 0; k < o->error_count; k++) {
            PyObject *s = PyUnicode_FromString(o->errors[k]);
            if (!s) {
                Py_DECREF(errors);
                goto fail;
            }
            PyTuple_SET_ITEM(errors, (Py_ssize_t)k, s);
        }
        PyObject *t = Py_BuildValue("{s:s,s:s,s:z,s:z,s:z,s:z,s:z,s:N}", "name", o->name, "python_name",
                                    o->python_name, "input_token", o->input_token, "output_token",
                                    o->output_token, "limit_key", o->limit_key, "result_key", o->result_key,
                                    "iter_name", o->iter_name, "errors", errors);
        if (!t || PyList_Append(list, t)) {
            Py_XDECREF(t);
            goto fail;
        }
        Py_DECREF(t);
    }
    return list;
fail:
    Py_DECREF(list);
    return NULL;
}

/* _set_result_type(operation_name, type): an operation method's result is
 * made as type, a dict subclass (the dict is built into it: no copy). */
static PyObject *mod_set_result_type(PyObject *module, PyObject *args)
{
    const char *op;
    PyObject *type;
    if (!PyArg_ParseTuple(args, "sO:_set_result_type", &op, &type))
        return NULL;
    const smneo_operation *o = smneo_model_operation(op);
    if (!o)
        return PyErr_Format(PyExc_ValueError, "unknown operation %s", op);
    if (!PyType_Check(type) || !PyType_IsSubtype((PyTypeObject *)type, &PyDict_Type))
        return PyErr_Format(PyExc_TypeError, "a result type is a dict subclass, not %R", type);
    smneo_state *st = smneo_get_state(module);
    for (int i = 0; i < SMNEO_PY_RESULT_TYPES; i++) {
        if (!st->result_type[i] || !strcmp(st->result_op[i], o->name)) {
            st->result_op[i] = o->name;
            Py_INCREF(type);
            Py_XSETREF(st->result_type[i], type);
            Py_RETURN_NONE;
        }
    }
    PyErr_SetString(PyExc_RuntimeError, "too many result types");
    return NULL;
}

static PyMethodDef module_methods[] = {
    {"_set_result_type", mod_set_result_type, METH_VARARGS,
     "_set_result_type(operation_name, type): the operation method's result is made as type, a dict subclass "
     "(internal: smneo._glue)"},
    {"_validate_response", mod_validate_response, METH_VARARGS,
     "_validate_response(operation, json_text): raises ParamValidationError when a stubbed answer does not fit "
     "the operation's output shape (internal: smneo.stub)"},
    {"validate", (PyCFunction)(void (*)(void))mod_validate, METH_VARARGS | METH_KEYWORDS,
     "validate(operation_name, params, *, allow_unknown_enum_values=False) -> list[Issue]\n\n"
     "Checks params for an operation ('CreateCompilationJob' or 'create_compilation_job')\n"
     "without sending anything and returns every finding (errors and warnings)."},
    {"_operations", mod_operations, METH_NOARGS, "The operations of the model (internal)."},
    {"_api_version", mod_api_version, METH_NOARGS, "SageMaker's API version in the model (internal)."},
    {NULL},
};

/* ---- module init ------------------------------------------------------------- */

static int intern(PyObject **slot, const char *s)
{
    *slot = PyUnicode_InternFromString(s);
    return *slot ? 0 : -1;
}

void *smneo_py_datetime_capi(void)
{
    PyObject *mod = PyImport_ImportModule("_datetime");
    if (!mod) { /* an interpreter without the C module: the documented way */
        PyErr_Clear();
        return PyCapsule_Import(PyDateTime_CAPSULE_NAME, 0);
    }
    PyObject *capsule = PyObject_GetAttrString(mod, "datetime_CAPI");
    Py_DECREF(mod);
    if (!capsule) {
        PyErr_Clear();
        return PyCapsule_Import(PyDateTime_CAPSULE_NAME, 0);
    }
    void *api = PyCapsule_GetPointer(capsule, PyDateTime_CAPSULE_NAME);
    Py_DECREF(capsule); /* the module keeps it, and the API it points to, alive */
    return api;
}

static int module_exec(PyObject *module)
{
    smneo_state *st = smneo_get_state(module);
    PyDateTimeAPI = (PyDateTime_CAPI *)smneo_py_datetime_capi();
    if (!PyDateTimeAPI || smneo_py_convert_init())
        return -1;
    st->utc = PyDateTime_TimeZone_UTC;
    Py_INCREF(st->utc);

    st->IssueType = (PyTypeObject *)PyType_FromModuleAndSpec(module, &issue_spec, (PyObject *)&PyTuple_Type);
    if (!st->IssueType || PyModule_AddType(module, st->IssueType))
        return -1;
    st->RequestType = (PyTypeObject *)PyType_FromModuleAndSpec(module, &request_spec, NULL);
    if (!st->RequestType || PyModule_AddType(module, st->RequestType))
        return -1;

    {
        PyObject *w = PyErr_NewExceptionWithDoc(
            "smneo.ValidationWarning",
            "A validation finding that did not block a call (or any non-structural finding with "
            "validation='warn'), emitted after the call succeeded.",
            PyExc_UserWarning, NULL);
        if (!w || PyModule_AddObjectRef(module, "ValidationWarning", w)) {
            Py_XDECREF(w);
            return -1;
        }
        st->ValidationWarning = w;
        w = PyErr_NewExceptionWithDoc(
            "smneo.LogWarning",
            "A compilation job's log could not be read (no log yet, or CloudWatch Logs refused the read): the "
            "log is best-effort and this never hides the job's own result.",
            PyExc_UserWarning, NULL);
        if (!w || PyModule_AddObjectRef(module, "LogWarning", w)) {
            Py_XDECREF(w);
            return -1;
        }
        st->LogWarning = w;
    }
    /* The other exception classes (warnings aside) are made on first use by smneo._errors
     * (smneo_py_errors_ready): importing botocore to inherit its classes
     * costs more than the rest of `import smneo`. */

    if (intern(&st->s_ResponseMetadata, "ResponseMetadata") || intern(&st->s_RequestId, "RequestId") ||
        intern(&st->s_HTTPStatusCode, "HTTPStatusCode") || intern(&st->s_HTTPHeaders, "HTTPHeaders") ||
        intern(&st->s_RetryAttempts, "RetryAttempts") || intern(&st->s_MaxAttemptsReached, "MaxAttemptsReached") ||
        intern(&st->s_Error, "Error") || intern(&st->s_Code, "Code") || intern(&st->s_Message, "Message") ||
        intern(&st->s_response, "response") || intern(&st->s_operation_name, "operation_name") ||
        intern(&st->s_issues, "issues") || intern(&st->s_FailureReason, "FailureReason") ||
        intern(&st->s_last_response, "last_response") || intern(&st->s_timestamp, "timestamp") ||
        intern(&st->s_endpoint_url, "endpoint_url"))
        return -1;

    if (smneo_py_client_types(module, st) || smneo_py_artifact_init(module, st) ||
        smneo_py_diagnose_init(module, st))
        return -1;
    if (PyModule_AddStringConstant(module, "core_version", smneo_version()) ||
        PyModule_AddStringConstant(module, "__version__", SMNEO_VERSION))
        return -1;
    return 0;
}

#define STATE_FIELDS(X)                                                                                        \
    X(ClientType) X(PaginateType) X(RequestType) X(IssueType) X(SmneoError) X(ClientError)                      \
    X(ParamValidationError) X(NoCredentialsError) X(CredentialRetrievalError) X(NoRegionError)                 \
    X(HTTPClientError) X(EndpointConnectionError) X(SSLError) X(ReadTimeoutError) X(ConnectionClosedError) \
    X(ConnectTimeoutError) X(ProxyConnectionError) X(TokenRetrievalError) X(UnauthorizedSSOTokenError) \
    X(ResponseParserError) X(PaginationError)                                                                  \
    X(WaiterError) X(CompilationJobFailed) X(CompilationJobStopped) X(WaiterTimeout) X(WaiterCancelled)        \
    X(ArtifactError) X(UnsafeArchiveError) X(DigestMismatchError) X(ValidationWarning) X(LogWarning) X(JobLogsType) X(StepsType) X(MultiType)                                           \
    X(modeled_errors) X(utc) X(tzlocal) X(s_ResponseMetadata) X(s_RequestId) X(s_HTTPStatusCode) X(s_HTTPHeaders)         \
    X(s_RetryAttempts) X(s_MaxAttemptsReached) X(s_Error) X(s_Code) X(s_Message) X(s_response)                  \
    X(s_operation_name) X(s_issues) X(s_FailureReason) X(s_last_response) X(s_timestamp) X(s_endpoint_url)

static int module_traverse(PyObject *module, visitproc visit, void *arg)
{
    smneo_state *st = smneo_get_state(module);
#define V(f) Py_VISIT(st->f);
    STATE_FIELDS(V)
#undef V
    for (int i = 0; i < SMNEO_PY_KEY_CACHE; i++)
        Py_VISIT(st->key_cache[i]);
    for (int i = 0; i < SMNEO_PY_RESULT_TYPES; i++)
        Py_VISIT(st->result_type[i]);
    return 0;
}

static int module_clear(PyObject *module)
{
    smneo_state *st = smneo_get_state(module);
#define C(f) Py_CLEAR(st->f);
    STATE_FIELDS(C)
#undef C
    for (int i = 0; i < SMNEO_PY_KEY_CACHE; i++)
        Py_CLEAR(st->key_cache[i]);
    for (int i = 0; i < SMNEO_PY_RESULT_TYPES; i++)
        Py_CLEAR(st->result_type[i]);
    return 0;
}

static void module_free(void *module)
{
    if (log_on) {
        smneo_log_set_callback(NULL, NULL);
        log_on = 0;
    }
    Py_CLEAR(log_logger);
    module_clear((PyObject *)module);
}

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
    {0, NULL},
};

struct PyModuleDef smneo_module_def = {
    PyModuleDef_HEAD_INIT,
    "smneo._smneo",
    "C core of smneo: a fast, validating client for the SageMaker Neo compilation API.\n"
    "Use the `smneo` package; this module is its implementation.",
    sizeof(smneo_state),
    module_methods,
    module_slots,
    module_traverse,
    module_clear,
    module_free,
};

PyMODINIT_FUNC PyInit__smneo(void)
{
    return PyModuleDef_Init(&smneo_module_def);
}
