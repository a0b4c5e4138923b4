/* _errors.c: the one mapping of core error codes to Python exceptions (botocore's classes and
 * ClientError's response dict), and the exception classes of the module state */

#include "_smneo.h"

#include <stdarg.h>
#include <string.h>

/* ---- errors ------------------------------------------------------------------ */

/* Fetches the exception classes from smneo._errors (built there on first use). */
int smneo_py_errors_ready(smneo_state *st)
{
    if (st->SmneoError)
        return 0;
    PyObject *mod = PyImport_ImportModule("smneo._errors");
    PyObject *all = mod ? PyObject_CallMethod(mod, "classes", NULL) : NULL;
    Py_XDECREF(mod);
    if (!all)
        return -1;
    if (!PyDict_Check(all)) {
        Py_DECREF(all);
        PyErr_SetString(PyExc_TypeError, "smneo._errors.classes() must return a dict");
        return -1;
    }
    static const struct {
        const char *name;
        size_t offset;
    } fields[] = {
#define F(n) {#n, offsetof(smneo_state, n)}
        F(ClientError), F(ParamValidationError), F(NoCredentialsError), F(CredentialRetrievalError),
        F(TokenRetrievalError), F(UnauthorizedSSOTokenError),
        F(NoRegionError), F(HTTPClientError), F(EndpointConnectionError), F(SSLError), F(ReadTimeoutError),
        F(ConnectTimeoutError), F(ProxyConnectionError), F(ConnectionClosedError), F(PaginationError),
        F(ResponseParserError), F(WaiterError), F(CompilationJobFailed), F(CompilationJobStopped),
        F(WaiterTimeout), F(WaiterCancelled), F(ArtifactError), F(UnsafeArchiveError), F(DigestMismatchError),
        {"_modeled", offsetof(smneo_state, modeled_errors)},
        F(SmneoError), /* last: its presence means "all filled" */
#undef F
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        PyObject *cls = PyDict_GetItemString(all, fields[i].name);
        if (!cls) {
            Py_DECREF(all);
            PyErr_Format(PyExc_RuntimeError, "smneo._errors has no %s", fields[i].name);
            return -1;
        }
        PyObject **slot = (PyObject **)((char *)st + fields[i].offset);
        Py_INCREF(cls);
        Py_XSETREF(*slot, cls);
    }
    Py_DECREF(all);
    return 0;
}

PyObject *smneo_py_param_error(smneo_state *st, const char *path, const char *rule, const char *fmt, ...)
{
    if (smneo_py_errors_ready(st))
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    PyObject *msg = PyUnicode_FromFormatV(fmt, ap);
    va_end(ap);
    if (!msg)
        return NULL;
    PyObject *issue = Py_BuildValue("(sssO)", "error", path ? path : "", rule, msg);
    PyObject *targs = issue ? PyTuple_Pack(1, issue) : NULL;
    PyObject *is = targs ? PyTuple_Type.tp_new(st->IssueType, targs, NULL) : NULL;
    Py_XDECREF(issue);
    Py_XDECREF(targs);
    PyObject *list = is ? PyList_New(1) : NULL;
    if (!list) {
        Py_XDECREF(is);
        Py_DECREF(msg);
        return NULL;
    }
    PyList_SET_ITEM(list, 0, is);
    /* botocore's keyword: ParamValidationError(report=...) formats
     * "Parameter validation failed:\n{report}" */
    PyObject *kw = Py_BuildValue("{s:N}", "report", msg);
    PyObject *noargs = PyTuple_New(0);
    PyObject *exc = kw && noargs ? PyObject_Call(st->ParamValidationError, noargs, kw) : NULL;
    Py_XDECREF(kw);
    Py_XDECREF(noargs);
    if (exc && PyObject_SetAttr(exc, st->s_issues, list) == 0)
        PyErr_SetObject(st->ParamValidationError, exc);
    Py_XDECREF(exc);
    Py_DECREF(list);
    return NULL;
}

static PyObject *str_or_none(const char *s)
{
    if (!s)
        Py_RETURN_NONE;
    return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "replace");
}

/* Raises `cls(message, **kwargs)` (message NULL: no positional argument; both
 * references stolen, kwargs may be NULL), then sets extra attributes (name,
 * value) pairs, NULL-terminated (values stolen). */
static PyObject *raise_kw(PyObject *cls, PyObject *message, PyObject *kwargs, ...)
{
    PyObject *args = message ? PyTuple_Pack(1, message) : PyTuple_New(0);
    PyObject *exc = args && !PyErr_Occurred() ? PyObject_Call(cls, args, kwargs) : NULL;
    Py_XDECREF(args);
    Py_XDECREF(message);
    Py_XDECREF(kwargs);
    va_list ap;
    va_start(ap, kwargs);
    PyObject *name;
    int failed = !exc;
    while ((name = va_arg(ap, PyObject *)) != NULL) {
        PyObject *value = va_arg(ap, PyObject *); /* stolen */
        if (failed || !value || PyObject_SetAttr(exc, name, value))
            failed = 1;
        Py_XDECREF(value);
    }
    va_end(ap);
    if (!failed)
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    Py_XDECREF(exc);
    return NULL;
}

/* Raises `cls(message)` with extra attributes (name, value) pairs, NULL-terminated. */
#define raise_with(cls, message, ...) raise_kw(cls, message, NULL, __VA_ARGS__)

/* botocore's keywords for the connection errors: endpoint_url (when known)
 * and error (the detail). */
static PyObject *conn_kwargs(PyObject *endpoint_url, const char *detail)
{
    PyObject *kw = PyDict_New();
    PyObject *d = str_or_none(detail);
    if (!kw || !d || PyDict_SetItemString(kw, "error", d) ||
        (endpoint_url && endpoint_url != Py_None && PyDict_SetItemString(kw, "endpoint_url", endpoint_url))) {
        Py_XDECREF(kw);
        Py_XDECREF(d);
        return NULL;
    }
    Py_DECREF(d);
    return kw;
}

static int starts_with(const char *s, const char *prefix)
{
    return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

static PyObject *client_error(smneo_state *st, const smneo_error *err, const char *operation, int reached)
{
    const char *code = err && err->service_code ? err->service_code : NULL;
    const char *message = err && err->message ? err->message : NULL;
    int attempts = err ? err->attempts : 0;

    PyObject *response = PyDict_New();
    PyObject *error = PyDict_New();
    if (!response || !error)
        goto fail;
    PyObject *v = PyUnicode_FromString(code ? code : "Unknown");
    if (!v || PyDict_SetItem(error, st->s_Code, v)) {
        Py_XDECREF(v);
        goto fail;
    }
    Py_DECREF(v);
    v = PyUnicode_DecodeUTF8(message ? message : "", message ? (Py_ssize_t)strlen(message) : 0, "replace");
    if (!v || PyDict_SetItem(error, st->s_Message, v)) {
        Py_XDECREF(v);
        goto fail;
    }
    Py_DECREF(v);
    if (PyDict_SetItem(response, st->s_Error, error))
        goto fail;
    PyObject *md = smneo_py_metadata(st, err ? err->response : NULL, err ? err->request_id : NULL,
                                     err ? err->http_status : 0, attempts, reached);
    if (!md || PyDict_SetItem(response, st->s_ResponseMetadata, md)) {
        Py_XDECREF(md);
        goto fail;
    }
    Py_DECREF(md);

    PyObject *cls = st->ClientError;
    if (code) {
        PyObject *sub = PyDict_GetItemString(st->modeled_errors, code);
        if (sub)
            cls = sub;
        /* botocore merges the members of a modeled error shape found in the
         * body into the top level of the response ({'Error': ..., 'Message': ...}) */
        PyObject *fields = sub && err ? smneo_py_error_fields(st, err) : (Py_INCREF(Py_None), Py_None);
        if (!fields && PyErr_ExceptionMatches(st->ResponseParserError)) {
            /* members nested too deeply: the service's error still stands, without them */
            PyErr_Clear();
            fields = Py_None;
            Py_INCREF(fields);
        }
        int failed = !fields || (PyDict_Check(fields) && PyDict_Update(response, fields));
        Py_XDECREF(fields);
        if (failed) {
            Py_DECREF(error);
            Py_DECREF(response);
            return NULL;
        }
    }
    Py_DECREF(error);
    PyObject *opname = str_or_none(operation);
    PyObject *exc = opname ? PyObject_CallFunctionObjArgs(cls, response, opname, NULL) : NULL;
    Py_XDECREF(opname);
    Py_DECREF(response);
    if (exc)
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    Py_XDECREF(exc);
    return NULL;
fail:
    Py_XDECREF(response);
    Py_XDECREF(error);
    return NULL;
}

/* The exception a Python callback raised inside a core call on this thread
 * (the MFA code callback): the cause of the error that call then raises. */
static _Thread_local PyObject *pending_cause;

/* The current exception (normalized, with its traceback), taken off the
 * thread; NULL when none. */
static PyObject *take_exception(void)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (!type)
        return NULL;
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb && value)
        PyException_SetTraceback(value, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return value;
}

void smneo_py_stash_cause(void)
{
    PyObject *value = take_exception();
    if (value)
        Py_XSETREF(pending_cause, value);
}

/* The exception the client's request hook (smneo.stub, client.meta.events)
 * raised on this thread: it cancelled the call, and the call raises it as it
 * was (botocore lets a handler's exception propagate). */
static _Thread_local PyObject *pending_hook_error;

void smneo_py_stash_hook_error(void)
{
    PyObject *value = take_exception();
    if (value)
        Py_XSETREF(pending_hook_error, value);
}

static PyObject *raise_code(smneo_state *st, int code, const smneo_error *err, const char *operation,
                            int reached, PyObject *endpoint_url);

PyObject *smneo_py_exception(smneo_state *st, const smneo_error *err, const char *operation, int reached,
                             PyObject *endpoint_url)
{
    /* The call raises its own exception later: it keeps the pending cause. */
    PyObject *cause = pending_cause;
    Py_XINCREF(cause);
    smneo_py_raise_at(st, err->code, err, operation, reached, endpoint_url);
    PyObject *exc = take_exception();
    Py_XSETREF(pending_cause, cause);
    return exc;
}

PyObject *smneo_py_raise(smneo_state *st, int code, const smneo_error *err, const char *operation, int reached)
{
    return smneo_py_raise_at(st, code, err, operation, reached, NULL);
}

PyObject *smneo_py_raise_at(smneo_state *st, int code, const smneo_error *err, const char *operation,
                            int reached, PyObject *endpoint_url)
{
    PyObject *hook_error = pending_hook_error;
    pending_hook_error = NULL;
    if (code == SMNEO_ECANCELLED && hook_error) {
        PyErr_SetObject((PyObject *)Py_TYPE(hook_error), hook_error);
        Py_DECREF(hook_error);
        return NULL;
    }
    Py_XDECREF(hook_error);
    raise_code(st, code, err, operation, reached, endpoint_url);
    PyObject *cause = pending_cause;
    pending_cause = NULL;
    if (cause && (code == SMNEO_ECREDENTIALS) && PyErr_Occurred()) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyErr_NormalizeException(&type, &value, &tb);
        if (value)
            PyException_SetCause(value, cause); /* steals cause */
        else
            Py_DECREF(cause);
        PyErr_Restore(type, value, tb);
    } else {
        Py_XDECREF(cause);
    }
    return NULL;
}

static PyObject *raise_code(smneo_state *st, int code, const smneo_error *err, const char *operation,
                            int reached, PyObject *endpoint_url)
{
    const char *msg = err && err->message ? err->message : smneo_strerror(code);
    if (code == SMNEO_ENOMEM)
        return PyErr_NoMemory();
    if (smneo_py_errors_ready(st))
        return NULL;
    switch (code) {
    case SMNEO_EVALIDATION: {
        PyObject *issues = smneo_py_issues(st, err ? err->issues : NULL);
        if (!issues)
            return NULL;
        /* botocore's layout: a header line, then one line per problem; the
         * lines are botocore's `report` keyword */
        PyObject *lines = PyUnicode_New(0, 0);
        for (Py_ssize_t i = 0; lines && i < PyList_GET_SIZE(issues); i++) {
            PyObject *is = PyList_GET_ITEM(issues, i);
            PyObject *path = PyTuple_GET_ITEM(is, 1);
            PyObject *next = PyUnicode_FromFormat("%U%s%s%U%s%U [%U]", lines, i ? "\n" : "",
                                                  PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(is, 0),
                                                                                   "warning") == 0
                                                      ? "warning: "
                                                      : "",
                                                  path, PyUnicode_GET_LENGTH(path) ? ": " : "",
                                                  PyTuple_GET_ITEM(is, 3), PyTuple_GET_ITEM(is, 2));
            Py_DECREF(lines);
            lines = next;
        }
        if (lines && PyList_GET_SIZE(issues) == 0) {
            Py_DECREF(lines);
            lines = str_or_none(msg);
        }
        PyObject *kw = lines ? Py_BuildValue("{s:N}", "report", lines) : NULL;
        if (!kw) {
            Py_DECREF(issues);
            return NULL;
        }
        return raise_kw(st->ParamValidationError, NULL, kw, st->s_issues, issues, NULL);
    }
    case SMNEO_ENOCREDENTIALS:
        return raise_with(st->NoCredentialsError, str_or_none(msg), NULL);
    case SMNEO_ECREDENTIALS:
        return raise_kw(st->CredentialRetrievalError, str_or_none(msg),
                        Py_BuildValue("{s:s}", "error_msg", msg), NULL);
    case SMNEO_ESSOTOKEN:
        return raise_kw(st->TokenRetrievalError, str_or_none(msg),
                        Py_BuildValue("{s:s,s:s}", "provider", "sso", "error_msg", msg), NULL);
    case SMNEO_ESSOUNAUTHORIZED:
        return raise_kw(st->UnauthorizedSSOTokenError, str_or_none(msg), NULL, NULL);
    case SMNEO_ENOREGION:
        return raise_with(st->NoRegionError, str_or_none(msg), NULL);
    case SMNEO_ECONNECT:
    case SMNEO_EDNS:
        /* the transport's texts (core/src/transport_curl.c) name a proxy failure */
        if (starts_with(msg, "the proxy ") || starts_with(msg, "could not resolve the proxy "))
            return raise_kw(st->ProxyConnectionError, str_or_none(msg), conn_kwargs(NULL, msg), NULL);
        return raise_kw(st->EndpointConnectionError, str_or_none(msg), conn_kwargs(endpoint_url, msg), NULL);
    case SMNEO_ETLS:
        return raise_kw(st->SSLError, str_or_none(msg), conn_kwargs(endpoint_url, msg), NULL);
    case SMNEO_ETIMEOUT:
        return raise_kw(starts_with(msg, "connect timeout") ? st->ConnectTimeoutError : st->ReadTimeoutError,
                        str_or_none(msg), conn_kwargs(endpoint_url, msg), NULL);
    case SMNEO_ECLOSED:
        return raise_kw(st->ConnectionClosedError, str_or_none(msg), conn_kwargs(endpoint_url, msg), NULL);
    case SMNEO_EPROTOCOL:
        if (err && err->http_status >= 300)
            return client_error(st, err, operation, reached);
        return raise_with(st->ResponseParserError, str_or_none(msg), NULL);
    case SMNEO_EPAGINATION:
    {
        /* the core's text is botocore's whole message: its `message` keyword is the rest */
        static const char prefix[] = "Error during pagination: ";
        const char *rest = starts_with(msg, prefix) ? msg + sizeof prefix - 1 : msg;
        return raise_kw(st->PaginationError, NULL, Py_BuildValue("{s:s}", "message", rest), NULL);
    }
    case SMNEO_ESERVICE:
    case SMNEO_ENOTFOUND:
    case SMNEO_ETHROTTLED:
    case SMNEO_EINUSE:
    case SMNEO_ELIMIT:
    case SMNEO_EAUTH:
        return client_error(st, err, operation, reached);
    case SMNEO_EJOBFAILED:
        return raise_with(st->CompilationJobFailed, PyUnicode_FromFormat("Compilation job failed: %s", msg),
                          st->s_FailureReason, str_or_none(err ? err->message : NULL), NULL);
    case SMNEO_EJOBSTOPPED:
        return raise_with(st->CompilationJobStopped, str_or_none(msg), NULL);
    case SMNEO_EWAITTIMEOUT:
        return raise_with(st->WaiterTimeout, str_or_none(msg), NULL);
    case SMNEO_ECANCELLED:
        return raise_with(st->WaiterCancelled, str_or_none(msg), NULL);
    case SMNEO_EINVAL:
        return raise_with(PyExc_ValueError, str_or_none(msg), NULL);
    case SMNEO_EUNSAFE:
        return raise_with(st->UnsafeArchiveError, str_or_none(msg), NULL);
    case SMNEO_EDIGEST:
        return raise_with(st->DigestMismatchError, str_or_none(msg), NULL);
    case SMNEO_EARCHIVE:
        return raise_with(st->ArtifactError, str_or_none(msg), NULL);
    case SMNEO_EUNSUPPORTED:
        return raise_with(PyExc_NotImplementedError, str_or_none(msg), NULL);
    case SMNEO_EIO:
        return raise_with(PyExc_OSError, str_or_none(msg), NULL);
    default:
        return raise_with(st->SmneoError, str_or_none(msg), NULL);
    }
}
