/* smneo._smneo.Client, its paginator iterator and the waiter driver.
 *
 * Every blocking core call runs with the GIL released, in one small wrapper
 * each (the blocking_* functions below); arguments are converted before. */
#include "_smneo.h"
#include "_methods.h"
#include "curl_multi.h"

#include <math.h>
#include <string.h>
#include <structmember.h>
#include <time.h>

typedef struct {
    PyObject_HEAD
    smneo_client *client;        /* owns its transport (libcurl, from the client options) */
    PyObject *module;            /* strong: keeps the state alive */
    smneo_state *st;
    int users;                   /* calls in flight + live iterators (GIL-protected) */
    int closed;
    int max_attempts;
    PyObject *region, *endpoint; /* str, for repr and meta */
    PyObject *send_hook;         /* callable or NULL: client.meta.events (per request sent) */
    PyObject *call_hook;         /* callable or NULL: smneo.stub, client.meta.events (per operation request) */
    PyObject *response_hook;     /* callable or NULL: client.meta.events (per attempt's answer) */
    PyObject *params_hook;       /* callable or NULL: client.meta.events (parameters per operation request) */
    smneo_transport *own_transport; /* a Python transport (_transport=), or NULL: freed after the core */
    PyObject *weakrefs;
    PyObject *mfa_callback;      /* callable or NULL: MFA codes for assumed roles */
} ClientObject;

/* The core's MFA callback: calls mfa_token_callback with botocore's prompt
 * ("Enter MFA code for ARN: ", so getpass.getpass fits) under the GIL. A
 * str comes back as the code; anything else, or an exception, refuses (the
 * exception becomes the CredentialRetrievalError's __cause__). */
static int py_mfa_cb(char *out, size_t size, const char *serial, const char *profile, void *payload)
{
    ClientObject *self = payload;
    (void)profile;
    PyGILState_STATE g = PyGILState_Ensure();
    int rc = 1;
    PyObject *r = NULL;
    PyObject *prompt = PyUnicode_FromFormat("Enter MFA code for %s: ", serial);
    if (prompt && self->mfa_callback)
        r = PyObject_CallOneArg(self->mfa_callback, prompt);
    Py_XDECREF(prompt);
    if (r && PyUnicode_Check(r)) {
        Py_ssize_t n = 0;
        const char *code = PyUnicode_AsUTF8AndSize(r, &n);
        if (code && (size_t)n < size && strlen(code) == (size_t)n) {
            memcpy(out, code, (size_t)n + 1);
            rc = 0;
        } else if (code) {
            PyErr_Format(PyExc_ValueError, "mfa_token_callback returned a code of %zd characters (or with a NUL): "
                         "return the device's current code", n);
        }
    } else if (r) {
        PyErr_Format(PyExc_TypeError, "mfa_token_callback must return the code as a str, not %s",
                     Py_TYPE(r)->tp_name);
    }
    Py_XDECREF(r);
    if (rc)
        smneo_py_stash_cause();
    PyGILState_Release(g);
    return rc;
}

typedef struct {
    PyObject_HEAD
    ClientObject *client; /* strong */
    smneo_call *call;
    const char *operation; /* static model string */
    int pages;
    int busy;
    PyObject *resume_token; /* str or None, after the run */
} PaginateObject;

typedef struct {
    PyObject_HEAD
    ClientObject *client; /* strong */
    smneo_joblogs *logs;
    int busy;
} JobLogsObject;

/* ---- lifetime of the core client ------------------------------------------- */

/* Lifetime rules (the GIL protects every field):
 * - `users` counts the calls in flight and the live iterators; a user reads
 *   self->client once, after enter(), and the core client it read stays
 *   alive until its leave().
 * - The pointer is only ever detached (set to NULL or replaced) while
 *   users == 0, in one step with no GIL release between the check and the
 *   swap; the detached client is then freed without the GIL, when nobody
 *   can reach it any more.
 * - close() while in use only marks the client closed: new calls are refused
 *   at once and the last leave() frees it. __init__ while in use is refused
 *   (also when a call started while __init__ was building the new client
 *   without the GIL). */
static void free_core(smneo_client *c)
{
    if (c) {
        Py_BEGIN_ALLOW_THREADS
        smneo_client_free(c);
        Py_END_ALLOW_THREADS
    }
}

static void release_core(ClientObject *self)
{
    smneo_client *c = self->client;
    self->client = NULL;
    free_core(c);
}

static int enter(ClientObject *self)
{
    if (smneo_py_log_sync())
        return -1;
    if (self->closed || !self->client) {
        PyErr_SetString(PyExc_RuntimeError,
                        self->closed ? "this smneo.Client is closed: create a new one"
                                     : "this smneo.Client was not initialised (call __init__)");
        return -1;
    }
    self->users++;
    return 0;
}

static void leave(ClientObject *self)
{
    if (--self->users == 0 && self->closed)
        release_core(self);
}

/* ---- blocking wrappers (GIL released) --------------------------------------- */

static int blocking_client_new(smneo_client **out, const smneo_client_options *o, smneo_error *err)
{
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = smneo_client_new(out, o, err);
    Py_END_ALLOW_THREADS
    return rc;
}

/* Runs a call's steps without the GIL until it needs to sleep, has an event
 * or is done; the core sends each SEND step with the client's transport (a
 * short-timeout one for credential requests) and feeds the answer back. */
static void steps_nogil(smneo_call *call, smneo_step *step)
{
    for (;;) {
        smneo_call_next(step, call);
        if (step->kind != SMNEO_STEP_SEND)
            return;
        smneo_call_send(call, step);
    }
}

static void blocking_steps(smneo_call *call, smneo_step *step)
{
    Py_BEGIN_ALLOW_THREADS
    steps_nogil(call, step);
    Py_END_ALLOW_THREADS
}

/* Creates a call and runs it up to its first sleep, event or end. */
static int blocking_call_start(smneo_call **out, smneo_client *c, const char *op, const char *json, size_t len,
                               smneo_step *step, smneo_error *err)
{
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = smneo_call_new(out, c, op, json, len, err);
    if (rc == 0)
        steps_nogil(*out, step);
    Py_END_ALLOW_THREADS
    return rc;
}

static int blocking_build(smneo_request **out, smneo_client *c, const char *op, const char *json, size_t len,
                          int64_t ts, smneo_error *err)
{
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = smneo_client_build_request(out, c, op, json, len, ts, err);
    Py_END_ALLOW_THREADS
    return rc;
}

static void blocking_sleep(long ms)
{
    Py_BEGIN_ALLOW_THREADS
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1)
        ;
    Py_END_ALLOW_THREADS
}

/* A hook's (status, headers, body) answer as a response: 0, or -1 with an
 * exception set naming `who` ("a send hook"). */
static int hook_answer(smneo_response **out, PyObject *ans, const char *who)
{
    *out = NULL;
    if (!PyTuple_Check(ans) || PyTuple_GET_SIZE(ans) != 3 || !PyLong_Check(PyTuple_GET_ITEM(ans, 0))) {
        PyErr_Format(PyExc_TypeError, "%s returns None or (status, headers, body), not %R", who, ans);
        return -1;
    }
    long status = PyLong_AsLong(PyTuple_GET_ITEM(ans, 0));
    if (status < 100 || status > 599) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_ValueError, "%s's status must be an HTTP status, not %ld", who, status);
        return -1;
    }
    return smneo_py_make_response(out, (int)status, PyTuple_GET_ITEM(ans, 1), PyTuple_GET_ITEM(ans, 2));
}

/* Drives a call until an event or its end, sleeping (in <= 200 ms steps, as
 * the core asks) without the GIL and checking for Ctrl-C between steps.
 * `step` may already hold the call's current step (have_step). Returns -1
 * with an exception set when a signal handler raised. */
/* With a send hook (client.meta.events: a transport double in
 * front of the transport) the steps run with the GIL held and each SEND goes
 * to hook(request) first: a (status, headers, body) answer is fed to the call
 * as the transport's response; None sends the request with the transport. An
 * exception from the hook (or a malformed answer) cancels the call and
 * propagates: -1. */
/* One SEND step through the send hook: 0 when the hook answered (fed to the
 * call), 1 when it said None (send it with the transport), -1 when it raised
 * or answered nonsense (the call is cancelled, the exception set). */
static int hook_send(ClientObject *self, PyObject *hook, smneo_call *call, const smneo_step *step)
{
    PyObject *req = smneo_py_request(self->st, step->request);
    PyObject *ans = req ? PyObject_CallOneArg(hook, req) : NULL;
    Py_XDECREF(req);
    if (ans == Py_None) {
        Py_DECREF(ans);
        return 1;
    }
    smneo_response *resp = NULL;
    if (ans && hook_answer(&resp, ans, "a send hook") == 0) {
        Py_DECREF(ans);
        smneo_call_feed(call, resp, 0, NULL);
        return 0;
    }
    Py_XDECREF(ans);
    smneo_call_feed(call, NULL, SMNEO_ECANCELLED, "the send hook raised an exception");
    smneo_call_cancel(call);
    return -1;
}

static int hooked_steps(ClientObject *self, smneo_call *call, smneo_step *step)
{
    PyObject *hook = self->send_hook;
    Py_INCREF(hook);
    int rc = 0;
    for (;;) {
        smneo_call_next(step, call);
        if (step->kind != SMNEO_STEP_SEND)
            break;
        int r = hook_send(self, hook, call, step);
        if (r == 1) {
            Py_BEGIN_ALLOW_THREADS
            smneo_call_send(call, step);
            Py_END_ALLOW_THREADS
        } else if (r < 0) {
            rc = -1;
            break;
        }
    }
    Py_DECREF(hook);
    return rc;
}

static int run_steps(ClientObject *self, smneo_call *call, smneo_step *step)
{
    if (self->send_hook)
        return hooked_steps(self, call, step);
    blocking_steps(call, step);
    return 0;
}

static int drive(ClientObject *self, smneo_call *call, smneo_step *step, int have_step)
{
    if (!have_step && run_steps(self, call, step))
        return -1;
    while (step->kind == SMNEO_STEP_SLEEP) {
        blocking_sleep(step->sleep_ms);
        if (PyErr_CheckSignals() || run_steps(self, call, step))
            return -1;
    }
    return 0;
}

/* ---- the request hook (smneo.stub, client.meta.events) ------------------------ */

/* The core's request hook: call_hook(operation_name, params) once per
 * operation request (each call, page, waiter poll, compile()'s calls), before
 * credentials. None lets the request go on; (status, headers, body) is its
 * final answer (never sent, never retried). An exception cancels the call,
 * which then raises it. Takes the GIL: the steps may run without it. */
static int py_request_hook(smneo_response **out, const smneo_operation *op, const smneo_value *params, void *payload)
{
    ClientObject *self = payload;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *hook = self->call_hook;
    if (!hook) {
        PyGILState_Release(g);
        return 0;
    }
    Py_INCREF(hook);
    int rc = 1;
    PyObject *p = smneo_py_value(self->st, params);
    PyObject *ans = p ? PyObject_CallFunction(hook, "sO", op->name, p) : NULL;
    Py_XDECREF(p);
    Py_DECREF(hook);
    if (ans == Py_None || (ans && hook_answer(out, ans, "a request hook") == 0))
        rc = 0;
    Py_XDECREF(ans);
    if (rc)
        smneo_py_stash_hook_error();
    PyGILState_Release(g);
    return rc;
}

/* The core's parameters hook (installed only while self->params_hook is
 * set): params_hook(operation_name, params) before the request hook; it
 * returns None (keep them) or the parameters to use instead (a dict). An
 * exception, or a replacement with values JSON cannot hold, cancels the
 * call, which raises it. Takes the GIL. */
static int py_params_hook(char **out, const smneo_operation *op, const smneo_value *params, void *payload)
{
    ClientObject *self = payload;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *hook = self->params_hook;
    if (!hook) {
        PyGILState_Release(g);
        return 0;
    }
    Py_INCREF(hook);
    int rc = 1;
    PyObject *p = smneo_py_value(self->st, params);
    PyObject *ans = p ? PyObject_CallFunction(hook, "sO", op->name, p) : NULL;
    Py_XDECREF(p);
    Py_DECREF(hook);
    smneo_jsonw *w = NULL;
    if (ans == Py_None) {
        rc = 0;
    } else if (ans && !PyDict_Check(ans)) {
        PyErr_Format(PyExc_TypeError, "a parameters hook returns None or a dict of parameters, not %s",
                     Py_TYPE(ans)->tp_name);
    } else if (ans && smneo_py_params(self->st, ans, &w) == 0) {
        size_t len;
        const char *json = smneo_jsonw_data(&len, w);
        *out = malloc(len + 1);
        if (*out) {
            memcpy(*out, json, len);
            (*out)[len] = '\0';
            rc = 0;
        } else {
            PyErr_NoMemory();
        }
        smneo_jsonw_free(w);
    }
    Py_XDECREF(ans);
    if (rc)
        smneo_py_stash_hook_error();
    PyGILState_Release(g);
    return rc;
}

/* The core's response hook (installed only while self->response_hook is
 * set): response_hook(operation_name, attempt, http, parsed, exception,
 * delay) after each attempt. http is (status, headers, body) or None after a
 * transport error; parsed is the result dict (success) or the ClientError's
 * response (a service error); exception is what the call would raise (None
 * for a success); delay is the core's retry decision (seconds, or None: no
 * retry). The hook returns the decision to keep: None or a delay. An
 * exception cancels the call, which raises it. Takes the GIL. */
static int py_response_hook(double *out, const smneo_operation *op, int attempt, const smneo_result *result,
                            const smneo_error *err, void *payload)
{
    ClientObject *self = payload;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *hook = self->response_hook;
    if (!hook) {
        PyGILState_Release(g);
        return 0;
    }
    Py_INCREF(hook);
    int rc = 1;
    const smneo_response *resp = result ? smneo_result_response(result) : err ? err->response : NULL;
    PyObject *parsed = NULL, *exc = NULL, *http = NULL, *ans = NULL;
    if (result) {
        parsed = smneo_py_result(self->st, result);
        exc = parsed ? (Py_INCREF(Py_None), Py_None) : NULL;
    } else {
        exc = smneo_py_exception(self->st, err, op->name,
                                 smneo_client_max_attempts_reached(self->client, attempt, err), self->endpoint);
        parsed = exc && resp ? PyObject_GetAttrString(exc, "response") : NULL;
        if (exc && !parsed) {
            PyErr_Clear();
            parsed = (Py_INCREF(Py_None), Py_None);
        }
    }
    if (resp) {
        PyObject *h = smneo_py_headers(self->st, resp);
        http = h ? Py_BuildValue("(iNy#)", resp->status, h, resp->body ? resp->body : "", (Py_ssize_t)resp->body_len)
                 : NULL;
    } else {
        http = (Py_INCREF(Py_None), Py_None);
    }
    if (parsed && exc && http) {
        PyObject *delay = *out >= 0 ? PyFloat_FromDouble(*out) : (Py_INCREF(Py_None), Py_None);
        ans = delay ? PyObject_CallFunction(hook, "siOOOO", op->name, attempt, http, parsed, exc, delay) : NULL;
        Py_XDECREF(delay);
    }
    Py_XDECREF(parsed);
    Py_XDECREF(exc);
    Py_XDECREF(http);
    Py_DECREF(hook);
    if (ans == Py_None) {
        *out = -1;
        rc = 0;
    } else if (ans) {
        double d = PyFloat_Check(ans) || PyLong_Check(ans) ? PyFloat_AsDouble(ans) : -1.0;
        if (d >= 0 && d <= 86400) {
            *out = d;
            rc = 0;
        } else {
            PyErr_Clear();
            PyErr_Format(PyExc_ValueError, "a needs-retry answer is None, False or a delay in seconds "
                         "(0 to 86400), not %R", ans);
        }
    }
    Py_XDECREF(ans);
    if (rc)
        smneo_py_stash_hook_error();
    PyGILState_Release(g);
    return rc;
}

/* ---- a transport in Python (smneo.local.mock) -------------------------------- */

/* _transport=fn: every request the client sends, S3 transfers of compile()
 * included, goes to fn(smneo.Request) -> (status, headers, body) instead of
 * libcurl. Called without the GIL like any transport: it takes it. An
 * exception is a transport failure (ConnectionRefusedError: ECONNECT, other
 * ConnectionErrors: ECLOSED, TimeoutError: ETIMEOUT, others ECONNECT) whose
 * message names it. */
typedef struct {
    smneo_transport base;
    PyObject *fn;
    smneo_state *st;
} py_transport;

static int pyt_fail(smneo_error *err, int code)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value && PyErr_GivenExceptionMatches(value, PyExc_TimeoutError))
        code = SMNEO_ETIMEOUT;
    else if (value && PyErr_GivenExceptionMatches(value, PyExc_ConnectionRefusedError))
        code = SMNEO_ECONNECT;
    else if (value && PyErr_GivenExceptionMatches(value, PyExc_ConnectionError))
        code = SMNEO_ECLOSED;
    PyObject *text = value ? PyUnicode_FromFormat("the in-process transport raised %s: %S",
                                                  Py_TYPE(value)->tp_name, value)
                           : NULL;
    const char *utf8 = text ? PyUnicode_AsUTF8(text) : NULL;
    if (!utf8)
        PyErr_Clear();
    if (err) {
        smneo_error_clear(err);
        err->code = code;
        err->message = strdup(utf8 ? utf8 : "the in-process transport failed");
    }
    Py_XDECREF(text);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    return code;
}

static int pyt_send(smneo_transport *self, smneo_response **out, const smneo_request *req, smneo_error *err)
{
    py_transport *t = (py_transport *)self;
    *out = NULL;
    PyGILState_STATE g = PyGILState_Ensure();
    int rc = 0;
    PyObject *r = smneo_py_request(t->st, req);
    PyObject *ans = r ? PyObject_CallOneArg(t->fn, r) : NULL;
    Py_XDECREF(r);
    if (ans && (!PyTuple_Check(ans) || PyTuple_GET_SIZE(ans) != 3 || !PyLong_Check(PyTuple_GET_ITEM(ans, 0))))
        PyErr_Format(PyExc_TypeError, "a transport returns (status, headers, body), not %R", ans);
    else if (ans && smneo_py_make_response(out, (int)PyLong_AsLong(PyTuple_GET_ITEM(ans, 0)), PyTuple_GET_ITEM(ans, 1),
                                          PyTuple_GET_ITEM(ans, 2)) == 0 && !PyErr_Occurred()) {
        Py_DECREF(ans);
        PyGILState_Release(g);
        return 0;
    }
    Py_XDECREF(ans);
    smneo_response_free(*out);
    *out = NULL;
    rc = pyt_fail(err, SMNEO_ECONNECT);
    PyGILState_Release(g);
    return rc;
}

static void pyt_free(smneo_transport *self)
{
    py_transport *t = (py_transport *)self;
    if (!t)
        return;
    PyGILState_STATE g = PyGILState_Ensure();
    Py_CLEAR(t->fn);
    PyGILState_Release(g);
    free(t);
}

static smneo_transport *pyt_new(smneo_state *st, PyObject *fn)
{
    py_transport *t = calloc(1, sizeof *t);
    if (!t) {
        PyErr_NoMemory();
        return NULL;
    }
    t->base.version = 1;
    t->base.send = pyt_send;
    t->base.free = pyt_free;
    t->base.payload = t;
    Py_INCREF(fn);
    t->fn = fn;
    t->st = st;
    return &t->base;
}

/* ---- Client ----------------------------------------------------------------- */

static PyObject *client_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    ClientObject *self = (ClientObject *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    PyObject *module = PyType_GetModuleByDef(type, &smneo_module_def);
    if (!module) {
        Py_DECREF(self);
        return NULL;
    }
    Py_INCREF(module);
    self->module = module;
    self->st = smneo_get_state(module);
    return (PyObject *)self;
}

/* Optional str argument: NULL for None. */
static int opt_str(PyObject *o, const char *name, const char **out)
{
    *out = NULL;
    if (!o || o == Py_None)
        return 0;
    if (!PyUnicode_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be a str or None, not %s", name, Py_TYPE(o)->tp_name);
        return -1;
    }
    Py_ssize_t n;
    *out = PyUnicode_AsUTF8AndSize(o, &n);
    if (!*out)
        return -1;
    if (strlen(*out) != (size_t)n) {
        PyErr_Format(PyExc_ValueError, "%s contains a NUL character", name);
        return -1;
    }
    return 0;
}

static int opt_timeout(PyObject *o, const char *name, long *out_ms)
{
    *out_ms = 0;
    if (!o || o == Py_None)
        return 0;
    double s = PyFloat_AsDouble(o);
    if (s == -1.0 && PyErr_Occurred())
        return -1;
    if (!(s > 0) || !isfinite(s) || s > 86400.0 * 365) {
        PyErr_Format(PyExc_ValueError, "%s must be a positive number of seconds, not %R", name, o);
        return -1;
    }
    long ms = (long)ceil(s * 1000.0);
    *out_ms = ms < 1 ? 1 : ms;
    return 0;
}

/* The settings smneo.Client's Python layer took from a botocore Config and
 * boto3's client() arguments, already checked there: a dict of str, int and
 * None values (see _glue.py's _settings). Strings borrow from the dict. */
static int settings_str(PyObject *d, const char *key, const char **out)
{
    PyObject *v = PyDict_GetItemString(d, key);
    return opt_str(v, key, out);
}

static int settings_int(PyObject *d, const char *key, int *out)
{
    PyObject *v = PyDict_GetItemString(d, key);
    if (!v || v == Py_None)
        return 0;
    long n = PyLong_AsLong(v);
    if (n == -1 && PyErr_Occurred())
        return -1;
    if (n < -1 || n > 100000) {
        PyErr_Format(PyExc_ValueError, "%s is out of range: %ld", key, n);
        return -1;
    }
    *out = (int)n;
    return 0;
}

static int apply_settings(PyObject *d, smneo_client_options *o, smneo_curl_options *co)
{
    static const char *const known[] = {"defaults_mode", "user_agent", "user_agent_extra", "user_agent_appid",
                                        "proxies_set", "proxy_http", "proxy_https", "proxy_ca_bundle",
                                        "proxy_client_cert", "proxy_client_key", "client_cert", "client_key",
                                        "tcp_keepalive", "max_pool_connections", "use_fips", "use_dualstack",
                                        "ignore_configured_endpoint_urls", "use_http", "s3_addressing_style",
                                        NULL};
    if (!d || d == Py_None)
        return 0;
    if (!PyDict_Check(d)) {
        PyErr_SetString(PyExc_TypeError, "_settings must be a dict");
        return -1;
    }
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (PyDict_Next(d, &pos, &k, &v)) {
        const char *name = PyUnicode_Check(k) ? PyUnicode_AsUTF8(k) : NULL;
        int ok = 0;
        for (const char *const *n = known; name && *n; n++)
            ok |= !strcmp(*n, name);
        if (!ok) {
            PyErr_Format(PyExc_TypeError, "unknown _settings key %R", k);
            return -1;
        }
    }
    int pool = 0;
    if (settings_str(d, "defaults_mode", &o->defaults_mode) || settings_str(d, "user_agent", &o->user_agent) ||
        settings_str(d, "user_agent_extra", &o->user_agent_extra) ||
        settings_str(d, "user_agent_appid", &o->user_agent_appid) || settings_int(d, "proxies_set", &co->proxies_set) ||
        settings_str(d, "proxy_http", &co->proxy_http) || settings_str(d, "proxy_https", &co->proxy_https) ||
        settings_str(d, "proxy_ca_bundle", &co->proxy_ca_bundle) ||
        settings_str(d, "proxy_client_cert", &co->proxy_client_cert) ||
        settings_str(d, "proxy_client_key", &co->proxy_client_key) ||
        settings_str(d, "client_cert", &co->client_cert) || settings_str(d, "client_key", &co->client_key) ||
        settings_int(d, "tcp_keepalive", &co->tcp_keepalive) || settings_int(d, "max_pool_connections", &pool) ||
        settings_int(d, "use_fips", &o->use_fips) || settings_int(d, "use_dualstack", &o->use_dualstack) ||
        settings_int(d, "ignore_configured_endpoint_urls", &o->ignore_configured_endpoint_urls) ||
        settings_int(d, "use_http", &o->use_http) ||
        settings_str(d, "s3_addressing_style", &o->s3_addressing_style))
        return -1;
    co->max_connections = pool;
    o->transport_options = co;
    return 0;
}

static int refuse_reinit(void)
{
    PyErr_SetString(PyExc_RuntimeError,
                    "cannot re-initialise a smneo.Client while it is in use (calls in flight or open "
                    "paginators in this or other threads): create a new Client instead");
    return -1;
}

static int client_init(ClientObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"region_name", "endpoint_url", "profile_name", "aws_access_key_id",
                             "aws_secret_access_key", "aws_session_token", "max_attempts", "retry_mode",
                             "connect_timeout", "read_timeout", "verify", "validation",
                             "allow_unknown_enum_values", "_retry_backoff_scale", "_settings", "_transport", "mfa_token_callback", NULL};
    PyObject *region = NULL, *endpoint = NULL, *profile = NULL, *akid = NULL, *secret = NULL, *token = NULL,
             *max_attempts = NULL, *retry_mode = NULL, *connect_timeout = NULL, *read_timeout = NULL,
             *verify = NULL, *validation = NULL, *settings = NULL, *transport = NULL, *mfa = NULL;
    int allow_unknown = 0;
    double backoff_scale = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OOOOOOOOOOOOpdOO$O:Client", kwlist, &region, &endpoint, &profile,
                                     &akid, &secret, &token, &max_attempts, &retry_mode, &connect_timeout,
                                     &read_timeout, &verify, &validation, &allow_unknown, &backoff_scale, &settings,
                                     &transport, &mfa))
        return -1;
    if (transport == Py_None)
        transport = NULL;
    if (transport && !PyCallable_Check(transport)) {
        PyErr_Format(PyExc_TypeError, "_transport must be callable, not %s", Py_TYPE(transport)->tp_name);
        return -1;
    }
    if (self->users > 0)
        return refuse_reinit();
    if (mfa == Py_None)
        mfa = NULL;
    if (mfa && !PyCallable_Check(mfa)) {
        PyErr_Format(PyExc_TypeError, "mfa_token_callback must be callable (like getpass.getpass), not %s",
                     Py_TYPE(mfa)->tp_name);
        return -1;
    }
    smneo_client_options o = SMNEO_CLIENT_OPTIONS_INIT;
    smneo_curl_options co = SMNEO_CURL_OPTIONS_INIT;
    /* Python clients take botocore's defaults: legacy mode and 5 attempts
     * (standard with AWS_NEW_RETRIES_2026=true). */
    o.retry_defaults = SMNEO_RETRY_DEFAULTS_BOTOCORE;
    if (apply_settings(settings, &o, &co))
        return -1;
    if (opt_str(region, "region_name", &o.region) || opt_str(endpoint, "endpoint_url", &o.endpoint_url) ||
        opt_str(profile, "profile_name", &o.profile) || opt_str(akid, "aws_access_key_id", &o.access_key_id) ||
        opt_str(secret, "aws_secret_access_key", &o.secret_access_key) ||
        opt_str(token, "aws_session_token", &o.session_token) || opt_str(retry_mode, "retry_mode", &o.retry_mode))
        return -1;
    if (max_attempts && max_attempts != Py_None) {
        if (!PyLong_Check(max_attempts) || PyBool_Check(max_attempts)) {
            PyErr_Format(PyExc_TypeError, "max_attempts must be an int or None, not %s",
                         Py_TYPE(max_attempts)->tp_name);
            return -1;
        }
        long n = PyLong_AsLong(max_attempts);
        if (n == -1 && PyErr_Occurred())
            return -1;
        if (n < 1 || n > 100) {
            PyErr_Format(PyExc_ValueError, "max_attempts must be between 1 and 100, not %ld", n);
            return -1;
        }
        o.max_attempts = (int)n;
    }
    if (opt_timeout(connect_timeout, "connect_timeout", &o.connect_timeout_ms) ||
        opt_timeout(read_timeout, "read_timeout", &o.read_timeout_ms))
        return -1;
    if (!verify || verify == Py_None || verify == Py_True) {
        o.no_verify_tls = 0;
    } else if (verify == Py_False) {
        o.no_verify_tls = 1;
    } else if (PyUnicode_Check(verify)) {
        o.no_verify_tls = 0;
        if (opt_str(verify, "verify", &o.ca_bundle))
            return -1;
    } else {
        PyErr_Format(PyExc_TypeError, "verify must be True, False or a CA bundle path, not %s",
                     Py_TYPE(verify)->tp_name);
        return -1;
    }
    o.validation = SMNEO_VALIDATION_STRICT;
    if (validation && validation != Py_None) {
        const char *v = PyUnicode_Check(validation) ? PyUnicode_AsUTF8(validation) : NULL;
        if (v && !strcmp(v, "strict"))
            o.validation = SMNEO_VALIDATION_STRICT;
        else if (v && !strcmp(v, "warn"))
            o.validation = SMNEO_VALIDATION_WARN;
        else if (v && !strcmp(v, "off"))
            o.validation = SMNEO_VALIDATION_OFF;
        else {
            PyErr_Clear();
            PyErr_Format(PyExc_ValueError, "validation must be 'strict', 'warn' or 'off', not %R", validation);
            return -1;
        }
    }
    o.allow_unknown_enum_values = allow_unknown;
    o.retry_backoff_scale = backoff_scale > 0 ? backoff_scale : 0;
    /* The callback is the object's: set before the core client that calls
     * it exists (a re-initialisation replaces it; no call is in flight). */
    Py_XINCREF(mfa);
    Py_XSETREF(self->mfa_callback, mfa);
    if (mfa) {
        o.mfa_cb = py_mfa_cb;
        o.payload = self;
    }

    /* The core creates the libcurl transport from these options (timeouts,
     * verify_tls, ca_bundle: explicit, AWS_CA_BUNDLE, the profile's). */
    smneo_transport *pyt = transport ? pyt_new(self->st, transport) : NULL;
    if (transport && !pyt)
        return -1;
    o.transport = pyt;
    smneo_error err = SMNEO_ERROR_INIT;
    smneo_client *c = NULL;
    int rc = blocking_client_new(&c, &o, &err);
    if (rc) {
        smneo_py_raise(self->st, rc, &err, NULL, 0);
        smneo_error_clear(&err);
        smneo_transport_free(pyt);
        return -1;
    }
    PyObject *reg = PyUnicode_FromString(smneo_client_region(c) ? smneo_client_region(c) : "");
    PyObject *ep = PyUnicode_FromString(smneo_client_endpoint(c) ? smneo_client_endpoint(c) : "");
    if (!reg || !ep || self->users > 0) {
        /* users > 0: another thread started a call (or an iterator) on the
         * old client while the new one was being built without the GIL. */
        Py_XDECREF(reg);
        Py_XDECREF(ep);
        free_core(c);
        smneo_transport_free(pyt);
        return reg && ep ? refuse_reinit() : -1;
    }
    /* From the check above to the swap nothing releases the GIL or runs
     * Python code, so no call can start on the old client in between. */
    smneo_client *old = self->client;
    smneo_client_set_request_hook(c, py_request_hook, self); /* asks self->call_hook, when set */
    if (self->response_hook)
        smneo_client_set_response_hook(c, py_response_hook, self);
    if (self->params_hook)
        smneo_client_set_params_hook(c, py_params_hook, self);
    self->client = c;
    self->closed = 0;
    self->max_attempts = smneo_client_max_attempts(c);
    Py_XSETREF(self->region, reg);
    Py_XSETREF(self->endpoint, ep);
    smneo_transport *old_transport = self->own_transport;
    self->own_transport = pyt;
    free_core(old); /* re-initialisation: nobody can reach the old client now */
    smneo_transport_free(old_transport); /* after the core client that borrowed it */
    return 0;
}

static int client_traverse(ClientObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->module);
    Py_VISIT(self->send_hook);
    Py_VISIT(self->call_hook);
    Py_VISIT(self->response_hook);
    Py_VISIT(self->params_hook);
    Py_VISIT(self->mfa_callback);
    return 0;
}

static int client_clear(ClientObject *self)
{
    Py_CLEAR(self->region);
    Py_CLEAR(self->endpoint);
    Py_CLEAR(self->send_hook);
    Py_CLEAR(self->call_hook);
    Py_CLEAR(self->response_hook);
    Py_CLEAR(self->params_hook);
    /* The MFA callback may hold the client (a cycle): an unreachable client
     * has no call in flight, so its core goes first, then the callback. */
    if (self->mfa_callback && self->users == 0) {
        release_core(self);
        Py_CLEAR(self->mfa_callback);
    }
    return 0;
}

static void client_dealloc(ClientObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (self->weakrefs)
        PyObject_ClearWeakRefs((PyObject *)self);
    release_core(self);
    smneo_transport_free(self->own_transport); /* the core client borrowed it: freed just above */
    self->own_transport = NULL;
    client_clear(self);
    Py_CLEAR(self->mfa_callback);
    Py_CLEAR(self->module);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *client_repr(ClientObject *self)
{
    /* Region and endpoint only: never credentials. */
    if (!self->region)
        return PyUnicode_FromFormat("<%s (not initialised)>", Py_TYPE(self)->tp_name);
    return PyUnicode_FromFormat("<smneo.Client region=%R endpoint=%R%s>", self->region,
                                self->endpoint, self->closed ? " closed" : "");
}

static PyObject *client_close(ClientObject *self, PyObject *unused)
{
    if (!self->closed) {
        self->closed = 1;
        if (self->users == 0)
            release_core(self);
    }
    Py_RETURN_NONE;
}

static PyObject *client_enter(ClientObject *self, PyObject *unused)
{
    Py_INCREF(self);
    return (PyObject *)self;
}

static PyObject *client_exit(ClientObject *self, PyObject *args)
{
    PyObject *r = client_close(self, NULL);
    Py_XDECREF(r);
    if (!r)
        return NULL;
    Py_RETURN_FALSE;
}

/* Resolves an operation name ("DescribeCompilationJob" or the snake form). */
static const smneo_operation *find_op(PyObject *name)
{
    if (!PyUnicode_Check(name)) {
        PyErr_Format(PyExc_TypeError, "operation_name must be a str, not %s", Py_TYPE(name)->tp_name);
        return NULL;
    }
    const char *s = PyUnicode_AsUTF8(name);
    if (!s)
        return NULL;
    const smneo_operation *o = smneo_model_operation(s);
    if (!o)
        PyErr_Format(PyExc_ValueError, "unknown operation %R: use one of " SMNEO_PY_OPERATION_NAMES, name);
    return o;
}

/* Surfaces the validation issues the core kept on a result (those that did
 * not stop the request: warnings, and every finding in "warn" mode) as
 * smneo.ValidationWarning. -1 when a warnings filter turned one into an
 * exception (the request was sent: the result is then dropped). */
static int emit_issue_warnings(smneo_state *st, const char *operation, const smneo_issues *issues)
{
    size_t n = issues ? smneo_issues_count(issues) : 0;
    for (size_t i = 0; i < n; i++) {
        const smneo_issue *is = smneo_issues_at(issues, i);
        if (PyErr_WarnFormat(st->ValidationWarning, 1, "%s: %s%s%s%s [%s]", operation,
                             is->severity == SMNEO_SEVERITY_ERROR ? "error: " : "",
                             is->path && *is->path ? is->path : "", is->path && *is->path ? ": " : "",
                             is->message ? is->message : "", is->rule ? is->rule : ""))
            return -1;
    }
    return 0;
}

static int emit_warnings(smneo_state *st, const char *operation, const smneo_result *res)
{
    return emit_issue_warnings(st, operation, res ? smneo_result_issues(res) : NULL);
}

/* A call's result as a dict, after its warnings (NULL with an exception set). */
static PyObject *result_with_warnings(smneo_state *st, const char *operation, const smneo_result *res)
{
    if (emit_warnings(st, operation, res))
        return NULL;
    PyObject *type = NULL;
    for (int i = 0; i < SMNEO_PY_RESULT_TYPES && st->result_type[i]; i++)
        if (!strcmp(st->result_op[i], operation))
            type = st->result_type[i];
    return smneo_py_result_as(st, res, type);
}

/* ResponseMetadata.MaxAttemptsReached as botocore sets it, decided by the
 * core for the client's retry mode (smneo_client_max_attempts_reached):
 * added to a result dict or to a raised ClientError's response. */
static int mark_reached(smneo_state *st, PyObject *response)
{
    PyObject *md = response && PyDict_Check(response) ? PyDict_GetItemWithError(response, st->s_ResponseMetadata)
                                                      : NULL;
    if (!md)
        return PyErr_Occurred() ? -1 : 0;
    return PyDict_Check(md) ? PyDict_SetItem(md, st->s_MaxAttemptsReached, Py_True) : 0;
}

static PyObject *result_for(ClientObject *self, smneo_client *c, const smneo_result *res, PyObject *d)
{
    if (d && smneo_client_max_attempts_reached(c, smneo_result_attempts(res), NULL) && mark_reached(self->st, d)) {
        Py_DECREF(d);
        return NULL;
    }
    return d;
}

/* Raises the error of a call on client c (always returns NULL). call (may
 * be NULL: the call was not made) tells whether the retry quota stopped its
 * retries: ResponseMetadata.RetryQuotaReached, as botocore sets it. */
static PyObject *raise_for(ClientObject *self, smneo_client *c, int rc, const smneo_error *err, const char *op,
                           const smneo_call *call)
{
    int reached = err && smneo_client_max_attempts_reached(c, err->attempts, err);
    smneo_py_raise_at(self->st, rc, err, op, reached, self->endpoint);
    if (call && smneo_call_retry_quota_reached(call)) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyErr_NormalizeException(&type, &value, &tb);
        PyObject *response = value ? PyObject_GetAttr(value, self->st->s_response) : NULL;
        PyObject *md = response && PyDict_Check(response) ? PyDict_GetItemWithError(response,
                                                                                    self->st->s_ResponseMetadata)
                                                          : NULL;
        if (md && PyDict_Check(md) && PyDict_SetItemString(md, "RetryQuotaReached", Py_True))
            PyErr_Clear();
        if (PyErr_Occurred()) /* not a ClientError (no response): nothing to mark */
            PyErr_Clear();
        Py_XDECREF(response);
        PyErr_Restore(type, value, tb);
    }
    return NULL;
}

/* boto3's refusal of positional arguments to an operation method. */
static int keywords_only(const char *operation, PyObject *args)
{
    if (args && PyTuple_GET_SIZE(args) > 0) {
        const smneo_operation *o = smneo_model_operation(operation);
        PyErr_Format(PyExc_TypeError, "%s() only accepts keyword arguments.", o ? o->python_name : operation);
        return -1;
    }
    return 0;
}

/* A finished operation call: its result dict (after its warnings) or the
 * exception. */
static PyObject *call_done(ClientObject *self, smneo_call *call, const char *operation)
{
    smneo_result *res = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_call_result(&res, call, &err);
    PyObject *out = rc ? raise_for(self, self->client, rc, &err, operation, call)
                       : result_for(self, self->client, res, result_with_warnings(self->st, operation, res));
    smneo_result_free(res);
    smneo_error_clear(&err);
    return out;
}

/* The common path of every operation method. */
static PyObject *do_call(ClientObject *self, const char *operation, PyObject *args, PyObject *kwargs)
{
    smneo_state *st = self->st;
    if (keywords_only(operation, args))
        return NULL;
    smneo_jsonw *w;
    if (smneo_py_params(st, kwargs, &w))
        return NULL;
    if (enter(self)) {
        smneo_jsonw_free(w);
        return NULL;
    }
    size_t len;
    const char *json = smneo_jsonw_data(&len, w);
    smneo_error err = SMNEO_ERROR_INIT;
    smneo_call *call = NULL;
    smneo_step step;
    int have_step = !self->send_hook;
    int rc = have_step ? blocking_call_start(&call, self->client, operation, json, len, &step, &err)
                       : smneo_call_new(&call, self->client, operation, json, len, &err);
    smneo_jsonw_free(w);
    PyObject *out = NULL;
    if (rc)
        raise_for(self, self->client, rc, &err, operation, NULL);
    else if (drive(self, call, &step, have_step) == 0) /* else Ctrl-C during a retry's back-off */
        out = call_done(self, call, operation);
    smneo_call_free(call);
    smneo_error_clear(&err);
    leave(self);
    return out;
}

/* One method per operation of the model (_methods.h, generated). */
#define OP_METHOD(pyname, apiname, doc)                                                                        \
    static PyObject *client_##pyname(PyObject *self, PyObject *args, PyObject *kwargs)                          \
    {                                                                                                          \
        return do_call((ClientObject *)self, apiname, args, kwargs);                                           \
    }
SMNEO_PY_OPERATIONS(OP_METHOD)
#undef OP_METHOD

static PyObject *client_call(ClientObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"operation_name", "params", NULL};
    PyObject *name, *params = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|O:_call", kwlist, &name, &params))
        return NULL;
    const smneo_operation *o = find_op(name);
    if (!o)
        return NULL;
    return do_call(self, o->name, NULL, params);
}

static PyObject *client_build_request(ClientObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"operation_name", "params", "timestamp", NULL};
    PyObject *name, *params = Py_None, *tsobj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|OO:build_request", kwlist, &name, &params, &tsobj))
        return NULL;
    smneo_state *st = self->st;
    const smneo_operation *o = find_op(name);
    if (!o)
        return NULL;
    int64_t ts = 0;
    if (tsobj != Py_None) {
        double d;
        if (PyBool_Check(tsobj)) {
            PyErr_SetString(PyExc_TypeError, "timestamp must be an aware datetime or epoch seconds");
            return NULL;
        }
        if (PyObject_HasAttr(tsobj, st->s_timestamp) && !PyFloat_Check(tsobj) && !PyLong_Check(tsobj)) {
            /* a datetime: naive ones are refused here, a signing time must be unambiguous */
            PyObject *tz = PyObject_GetAttrString(tsobj, "tzinfo");
            if (!tz)
                return NULL;
            int naive = tz == Py_None;
            Py_DECREF(tz);
            if (naive) {
                PyErr_SetString(PyExc_ValueError,
                                "timestamp must be an aware datetime (e.g. datetime.now(timezone.utc)) or epoch "
                                "seconds");
                return NULL;
            }
        }
        if (smneo_py_epoch(tsobj, &d))
            return NULL;
        if (!(d >= 1) || d > 253402300799.0) {
            PyErr_Format(PyExc_ValueError, "timestamp %R is out of range (1970..9999)", tsobj);
            return NULL;
        }
        ts = (int64_t)floor(d);
    }
    smneo_jsonw *w;
    if (smneo_py_params(st, params, &w))
        return NULL;
    if (enter(self)) {
        smneo_jsonw_free(w);
        return NULL;
    }
    size_t len;
    const char *json = smneo_jsonw_data(&len, w);
    smneo_request *req = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = blocking_build(&req, self->client, o->name, json, len, ts, &err);
    smneo_jsonw_free(w);
    PyObject *out = rc ? smneo_py_raise(st, rc, &err, o->name, 0) : smneo_py_request(st, req);
    smneo_request_free(req);
    smneo_error_clear(&err);
    leave(self);
    return out;
}

static PyObject *parse_response_impl(smneo_state *st, PyObject *args, PyObject *kwargs, const char *fname)
{
    static char *kwlist[] = {"operation_name", "status_code", "headers", "body", NULL};
    PyObject *name, *headers = Py_None, *body = Py_None;
    int status;
    char fmt[64];
    snprintf(fmt, sizeof fmt, "Oi|OO:%s", fname);
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, fmt, kwlist, &name, &status, &headers, &body))
        return NULL;
    const smneo_operation *o = find_op(name);
    if (!o)
        return NULL;
    if (status < 100 || status > 999)
        return PyErr_Format(PyExc_ValueError, "status_code %d is not an HTTP status", status);
    smneo_response *resp;
    if (smneo_py_make_response(&resp, status, headers, body))
        return NULL;
    smneo_result *res = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_protocol_parse(&res, o->name, resp, &err);
    smneo_response_free(resp);
    /* One response is one final attempt (what boto3 reports with a single
     * attempt); the core says whether that reached the maximum. */
    if (rc && err.attempts < 1)
        err.attempts = 1;
    PyObject *out = rc ? smneo_py_raise(st, rc, &err, o->name,
                                        smneo_client_max_attempts_reached(NULL, err.attempts, &err))
                       : smneo_py_result(st, res);
    smneo_result_free(res);
    smneo_error_clear(&err);
    return out;
}

static PyObject *client_parse_response(ClientObject *self, PyObject *args, PyObject *kwargs)
{
    return parse_response_impl(self->st, args, kwargs, "parse_response");
}

/* Starts a paginated run from _paginate's arguments (operation_name, params,
 * max_items=0, page_size=0, starting_token=None, pages=True): 0 with the
 * call (the client entered: leave() when it ends), or -1. */
static int paginate_start(ClientObject *self, PyObject *args, PyObject *kwargs, const char *fname, smneo_call **out,
                          const smneo_operation **out_op, int *out_pages)
{
    static char *kwlist[] = {"operation_name", "params", "max_items", "page_size", "starting_token", "pages", NULL};
    PyObject *name, *params = Py_None, *start = Py_None;
    long long max_items = 0;
    int page_size = 0, pages = 1;
    char fmt[64];
    snprintf(fmt, sizeof fmt, "O|OLiOp:%s", fname);
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, fmt, kwlist, &name, &params, &max_items, &page_size, &start,
                                     &pages))
        return -1;
    smneo_state *st = self->st;
    const smneo_operation *o = find_op(name);
    if (!o)
        return -1;
    if (!o->result_key) {
        PyErr_Format(PyExc_ValueError, "operation %s cannot be paginated", o->name);
        return -1;
    }
    if (max_items < 0 || page_size < 0) {
        PyErr_Format(PyExc_ValueError, "MaxItems and PageSize must be positive");
        return -1;
    }
    smneo_paginate_options po = SMNEO_PAGINATE_OPTIONS_INIT;
    po.max_items = (int64_t)max_items;
    po.page_size = page_size;
    po.pages = pages;
    if (opt_str(start, "StartingToken", &po.starting_token))
        return -1;
    smneo_jsonw *w;
    if (smneo_py_params(st, params, &w))
        return -1;
    if (enter(self)) {
        smneo_jsonw_free(w);
        return -1;
    }
    size_t len;
    const char *json = smneo_jsonw_data(&len, w);
    smneo_call *call = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_paginate_new(&call, self->client, o->name, json, len, &po, &err);
    smneo_jsonw_free(w);
    if (rc) {
        raise_for(self, self->client, rc, &err, o->name, NULL);
        smneo_error_clear(&err);
        leave(self);
        return -1;
    }
    /* A paginator has no final result: its warnings are on the call. */
    if (emit_issue_warnings(st, o->name, smneo_call_issues(call))) {
        smneo_call_free(call);
        leave(self);
        return -1;
    }
    *out = call;
    *out_op = o;
    *out_pages = pages;
    return 0;
}

static PyObject *client_paginate(ClientObject *self, PyObject *args, PyObject *kwargs)
{
    smneo_call *call;
    const smneo_operation *o;
    int pages;
    if (paginate_start(self, args, kwargs, "_paginate", &call, &o, &pages))
        return NULL;
    PaginateObject *it = PyObject_GC_New(PaginateObject, self->st->PaginateType);
    if (!it) {
        smneo_call_free(call);
        leave(self);
        return NULL;
    }
    Py_INCREF(self);
    it->client = self; /* the iterator keeps its `users` count until it ends */
    it->call = call;
    it->operation = o->name;
    it->pages = pages;
    it->busy = 0;
    it->resume_token = Py_None;
    Py_INCREF(Py_None);
    PyObject_GC_Track(it);
    return (PyObject *)it;
}

/* Starts a waiter from wait_for_compilation_job's arguments: 0 with the call
 * (the client entered) and the callback (borrowed), or -1. */
static int wait_start(ClientObject *self, PyObject *args, PyObject *kwargs, smneo_call **out, PyObject **out_callback)
{
    static char *kwlist[] = {"name", "delay", "max_delay", "timeout", "callback", NULL};
    const char *name;
    double delay = 5, max_delay = 60;
    PyObject *timeout = Py_None, *callback = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "s|$ddOO:wait_for_compilation_job", kwlist, &name, &delay,
                                     &max_delay, &timeout, &callback))
        return -1;
    if (!(delay > 0) || !(max_delay > 0) || !isfinite(delay) || !isfinite(max_delay)) {
        PyErr_Format(PyExc_ValueError, "delay and max_delay must be positive numbers of seconds");
        return -1;
    }
    smneo_wait_options wo = SMNEO_WAIT_OPTIONS_INIT;
    wo.delay = delay;
    wo.max_delay = max_delay;
    if (timeout != Py_None) {
        wo.timeout = PyFloat_AsDouble(timeout);
        if (wo.timeout == -1.0 && PyErr_Occurred())
            return -1;
        if (!(wo.timeout > 0) || !isfinite(wo.timeout)) {
            PyErr_Format(PyExc_ValueError, "timeout must be a positive number of seconds or None");
            return -1;
        }
    }
    if (callback != Py_None && !PyCallable_Check(callback)) {
        PyErr_Format(PyExc_TypeError, "callback must be callable or None");
        return -1;
    }
    if (enter(self))
        return -1;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_wait_new(out, self->client, name, &wo, &err);
    if (rc) {
        raise_for(self, self->client, rc, &err, "DescribeCompilationJob", NULL);
        smneo_error_clear(&err);
        leave(self);
        return -1;
    }
    *out_callback = callback;
    return 0;
}

/* The description a waiter's STATUS event carries (None when it has none). */
static PyObject *wait_status(ClientObject *self, smneo_call *call)
{
    const smneo_result *page = smneo_call_page(call);
    if (!page)
        Py_RETURN_NONE;
    return smneo_py_result(self->st, page);
}

/* A finished waiter: the final description, or the exception with the last
 * description attached as last_response. */
static PyObject *wait_done(ClientObject *self, smneo_call *call)
{
    smneo_state *st = self->st;
    smneo_result *res = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    PyObject *out = NULL;
    int rc = smneo_call_result(&res, call, &err);
    if (rc == 0) {
        out = result_with_warnings(st, "DescribeCompilationJob", res);
    } else {
        PyObject *last = res ? smneo_py_result(st, res) : NULL;
        if (res && !last)
            PyErr_Clear();
        raise_for(self, self->client, rc, &err, "DescribeCompilationJob", call);
        if (last) {
            /* attach the final description to the waiter's exception */
            PyObject *type, *value, *tb;
            PyErr_Fetch(&type, &value, &tb);
            PyErr_NormalizeException(&type, &value, &tb);
            if (value && PyObject_SetAttr(value, st->s_last_response, last))
                PyErr_Clear();
            PyErr_Restore(type, value, tb);
            Py_DECREF(last);
        }
    }
    smneo_result_free(res);
    smneo_error_clear(&err);
    return out;
}

/* The waiter: steps driven here so Ctrl-C and the callback run between them. */
static PyObject *client_wait(ClientObject *self, PyObject *args, PyObject *kwargs)
{
    smneo_call *call = NULL;
    PyObject *callback;
    if (wait_start(self, args, kwargs, &call, &callback))
        return NULL;
    Py_INCREF(callback);
    PyObject *out = NULL;
    for (;;) {
        smneo_step step;
        if (drive(self, call, &step, 0))
            break; /* KeyboardInterrupt (or whatever a signal handler raised) propagates */
        if (step.kind == SMNEO_STEP_EVENT) {
            if (step.event == SMNEO_EVENT_STATUS && callback != Py_None) {
                PyObject *desc = wait_status(self, call);
                if (!desc)
                    break;
                PyObject *r = PyObject_CallOneArg(callback, desc);
                Py_DECREF(desc);
                if (!r)
                    break;
                if (r == Py_False)
                    smneo_call_cancel(call);
                Py_DECREF(r);
            }
        } else { /* DONE */
            out = wait_done(self, call);
            break;
        }
        if (PyErr_CheckSignals())
            break;
    }
    Py_DECREF(callback);
    smneo_call_free(call);
    leave(self);
    return out;
}

/* Starts a job log reader from _job_logs' arguments (name, start_time_ms,
 * follow, delay, max_delay, tail): 0 with the reader (the client entered),
 * or -1. */
static int joblogs_start(ClientObject *self, PyObject *args, PyObject *kwargs, smneo_joblogs **out)
{
    static char *kwlist[] = {"name", "start_time_ms", "follow", "delay", "max_delay", "tail", NULL};
    const char *name;
    long long start = 0, tail = 0;
    int follow = 0;
    double delay = 0, max_delay = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "s|LpddL:_job_logs", kwlist, &name, &start, &follow, &delay,
                                     &max_delay, &tail))
        return -1;
    if (delay < 0 || max_delay < 0 || !isfinite(delay) || !isfinite(max_delay)) {
        PyErr_Format(PyExc_ValueError, "delay and max_delay must be positive numbers of seconds");
        return -1;
    }
    if (tail < 0) {
        PyErr_Format(PyExc_ValueError, "tail must be a positive number of lines");
        return -1;
    }
    smneo_joblogs_options o = SMNEO_JOBLOGS_OPTIONS_INIT;
    o.start_time = (int64_t)start;
    o.follow = follow;
    o.delay = delay;
    o.max_delay = max_delay;
    o.tail = (size_t)tail;
    if (enter(self))
        return -1;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_joblogs_new(out, self->client, name, &o, &err);
    if (rc) {
        smneo_py_raise(self->st, rc, &err, "GetLogEvents",
                       smneo_client_max_attempts_reached(self->client, err.attempts, &err));
        smneo_error_clear(&err);
        leave(self);
        return -1;
    }
    return 0;
}

/* Client._job_logs(name, start_time_ms, follow, delay, max_delay, tail) -> JobLogs */
static PyObject *client_job_logs(ClientObject *self, PyObject *args, PyObject *kwargs)
{
    smneo_joblogs *l = NULL;
    if (joblogs_start(self, args, kwargs, &l))
        return NULL;
    JobLogsObject *it = PyObject_GC_New(JobLogsObject, self->st->JobLogsType);
    if (!it) {
        smneo_joblogs_free(l);
        leave(self);
        return NULL;
    }
    Py_INCREF(self);
    it->client = self; /* keeps its `users` count until the log ends */
    it->logs = l;
    it->busy = 0;
    PyObject_GC_Track(it);
    return (PyObject *)it;
}

/* Stores hook (a callable, or None to clear) in *slot; what names it in the
 * TypeError. 0, or -1 with the error set. */
static int set_hook(PyObject **slot, PyObject *hook, const char *what)
{
    if (hook != Py_None && !PyCallable_Check(hook)) {
        PyErr_Format(PyExc_TypeError, "the %s hook must be callable or None, not %s", what, Py_TYPE(hook)->tp_name);
        return -1;
    }
    if (hook == Py_None)
        Py_CLEAR(*slot);
    else
        Py_XSETREF(*slot, (Py_INCREF(hook), hook));
    return 0;
}

static PyObject *client_set_call_hook(ClientObject *self, PyObject *hook)
{
    if (set_hook(&self->call_hook, hook, "request"))
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *client_set_params_hook(ClientObject *self, PyObject *hook)
{
    if (set_hook(&self->params_hook, hook, "parameters"))
        return NULL;
    if (self->client)
        smneo_client_set_params_hook(self->client, self->params_hook ? py_params_hook : NULL, self);
    Py_RETURN_NONE;
}

static PyObject *client_set_response_hook(ClientObject *self, PyObject *hook)
{
    if (set_hook(&self->response_hook, hook, "response"))
        return NULL;
    /* Installed in the core only while set: without it an answer costs nothing. */
    if (self->client)
        smneo_client_set_response_hook(self->client, self->response_hook ? py_response_hook : NULL, self);
    Py_RETURN_NONE;
}

static PyObject *client_set_send_hook(ClientObject *self, PyObject *hook)
{
    if (set_hook(&self->send_hook, hook, "send"))
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *client_compile_many(ClientObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"jobs", "options", "callback", NULL};
    PyObject *jobs, *opts, *callback = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!O!|O:_compile_many", kwlist, &PyList_Type, &jobs,
                                     &PyDict_Type, &opts, &callback))
        return NULL;
    if (enter(self))
        return NULL;
    /* the option strings are borrowed from these while the GIL is released */
    PyObject *copy = PyList_GetSlice(jobs, 0, PyList_GET_SIZE(jobs));
    PyObject *out = NULL;
    if (copy) {
        Py_INCREF(opts);
        out = smneo_py_compile_many(self->st, self->client, copy, opts, callback);
        Py_DECREF(opts);
        Py_DECREF(copy);
    }
    leave(self);
    return out;
}

static PyObject *client_s3_transfer(ClientObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"upload", "filename", "uri", "options", "callback", NULL};
    int upload;
    PyObject *filename, *opts, *callback = Py_None;
    const char *uri;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "pO&sO!|O:_s3_transfer", kwlist, &upload, PyUnicode_FSConverter,
                                     &filename, &uri, &PyDict_Type, &opts, &callback))
        return NULL;
    if (enter(self)) {
        Py_DECREF(filename);
        return NULL;
    }
    Py_INCREF(opts); /* the option strings are borrowed from it while the GIL is released */
    PyObject *out = smneo_py_s3_transfer(self->st, self->client, upload, PyBytes_AS_STRING(filename), uri, opts,
                                         callback);
    Py_DECREF(opts);
    Py_DECREF(filename);
    leave(self);
    return out;
}

static PyObject *client_compile(ClientObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"options", "callback", NULL};
    PyObject *opts, *callback = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!|O:_compile", kwlist, &PyDict_Type, &opts, &callback))
        return NULL;
    if (enter(self))
        return NULL;
    Py_INCREF(opts); /* the option strings are borrowed from it while the GIL is released */
    PyObject *out = smneo_py_compile(self->st, self->client, opts, callback);
    Py_DECREF(opts);
    leave(self);
    return out;
}

/* ---- smneo.aio: calls driven step by step by an event loop ------------------- */

static PyObject *paginate_event(ClientObject *client, smneo_call *call, const smneo_step *step,
                                const char *operation);
static int paginate_done(ClientObject *client, smneo_call *call, const char *operation, PyObject **resume_token);

enum { STEPS_CALL, STEPS_PAGES, STEPS_WAIT, STEPS_LOGS, STEPS_COMPILE, STEPS_COMPILE_MANY };

/* One call (an operation, a paginated run or a waiter) whose steps the
 * Python driver (smneo/aio.py) performs: advance() returns the next one.
 * The same conversions as the blocking methods: call_done, paginate_event,
 * paginate_done, wait_status and wait_done. */
typedef struct {
    PyObject_HEAD
    ClientObject *client; /* strong; entered while call or logs is set */
    smneo_call *call;
    smneo_joblogs *logs;  /* STEPS_LOGS: a job log reader instead of a call */
    const char *operation;
    int mode;
    smneo_step step;      /* the current one (its request is borrowed from the call) */
    int busy;             /* send_blocking() or work() is running in a thread */
    int working;          /* work(): smneo_call_cancel may come meanwhile */
    int cancelled_by_callback; /* compile: cancel(by_callback=True) came (WaiterCancelled) */
    int closing;          /* close() came while busy: the thread finishes */
    PyObject *resume_token;
    struct MultiObject *sending; /* borrowed: the CurlMulti sending its request, or NULL */
} StepsObject;

static void multi_abort(struct MultiObject *mo, StepsObject *s);

/* The machine under a Steps: a call or a job log reader. */
static int steps_open(const StepsObject *s) { return s->call != NULL || s->logs != NULL; }

static void steps_feed(StepsObject *s, smneo_response *resp, int rc, const char *message)
{
    if (s->logs)
        smneo_joblogs_feed(s->logs, resp, rc, message);
    else if (s->call)
        smneo_call_feed(s->call, resp, rc, message);
    else
        smneo_response_free(resp);
}

static void steps_cancel_machine(StepsObject *s)
{
    if (s->logs)
        smneo_joblogs_cancel(s->logs);
    else if (s->call)
        smneo_call_cancel(s->call);
}

static void steps_finish(StepsObject *self)
{
    if (self->busy) {
        self->closing = 1;
        return;
    }
    if (self->sending) /* the request is borrowed from the call: stop sending it first */
        multi_abort(self->sending, self);
    if (steps_open(self)) {
        smneo_call_free(self->call);
        smneo_joblogs_free(self->logs);
        self->call = NULL;
        self->logs = NULL;
        leave(self->client);
    }
}

static PyObject *steps_wrap(ClientObject *self, smneo_call *call, const char *operation, int mode)
{
    StepsObject *it = PyObject_GC_New(StepsObject, self->st->StepsType);
    if (!it) {
        smneo_call_free(call);
        leave(self);
        return NULL;
    }
    Py_INCREF(self);
    it->client = self;
    it->call = call;
    it->logs = NULL;
    it->operation = operation;
    it->mode = mode;
    memset(&it->step, 0, sizeof it->step);
    it->busy = it->closing = it->working = it->cancelled_by_callback = 0;
    it->sending = NULL;
    Py_INCREF(Py_None);
    it->resume_token = Py_None;
    PyObject_GC_Track(it);
    return (PyObject *)it;
}

/* _steps_call(operation_name, args, params) -> Steps */
static PyObject *client_steps_call(ClientObject *self, PyObject *args)
{
    PyObject *name, *pos, *params;
    if (!PyArg_ParseTuple(args, "OO!O:_steps_call", &name, &PyTuple_Type, &pos, &params))
        return NULL;
    const smneo_operation *o = find_op(name);
    if (!o || keywords_only(o->name, pos))
        return NULL;
    smneo_jsonw *w;
    if (smneo_py_params(self->st, params, &w))
        return NULL;
    if (enter(self)) {
        smneo_jsonw_free(w);
        return NULL;
    }
    size_t len;
    const char *json = smneo_jsonw_data(&len, w);
    smneo_call *call = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_call_new(&call, self->client, o->name, json, len, &err);
    smneo_jsonw_free(w);
    if (rc) {
        raise_for(self, self->client, rc, &err, o->name, NULL);
        smneo_error_clear(&err);
        leave(self);
        return NULL;
    }
    return steps_wrap(self, call, o->name, STEPS_CALL);
}

/* _steps_paginate(...): _paginate's arguments -> Steps */
static PyObject *client_steps_paginate(ClientObject *self, PyObject *args, PyObject *kwargs)
{
    smneo_call *call;
    const smneo_operation *o;
    int pages;
    if (paginate_start(self, args, kwargs, "_steps_paginate", &call, &o, &pages))
        return NULL;
    return steps_wrap(self, call, o->name, STEPS_PAGES);
}

/* _steps_logs(...): _job_logs' arguments -> Steps over the job's log */
static PyObject *client_steps_logs(ClientObject *self, PyObject *args, PyObject *kwargs)
{
    smneo_joblogs *l = NULL;
    if (joblogs_start(self, args, kwargs, &l))
        return NULL;
    StepsObject *it = (StepsObject *)steps_wrap(self, NULL, "GetLogEvents", STEPS_LOGS);
    if (!it) { /* steps_wrap left the client */
        smneo_joblogs_free(l);
        return NULL;
    }
    it->logs = l;
    return (PyObject *)it;
}

/* _steps_wait(name, *, delay, max_delay, timeout): wait_for_compilation_job's
 * arguments (the callback is the Python driver's) -> Steps */
static PyObject *client_steps_wait(ClientObject *self, PyObject *args, PyObject *kwargs)
{
    smneo_call *call;
    PyObject *callback;
    if (wait_start(self, args, kwargs, &call, &callback))
        return NULL;
    return steps_wrap(self, call, "DescribeCompilationJob", STEPS_WAIT);
}

/* _steps_compile(options) -> Steps over compile()'s machine (options:
 * compile()'s dict, as _compile takes it) */
static PyObject *client_steps_compile(ClientObject *self, PyObject *opts)
{
    if (enter(self))
        return NULL;
    smneo_call *call = NULL;
    if (smneo_py_compile_new(self->st, self->client, opts, &call)) {
        leave(self);
        return NULL;
    }
    return steps_wrap(self, call, "CreateCompilationJob", STEPS_COMPILE);
}

/* compile's DONE: the result dict, or the blocking compile's exception */
static PyObject *compile_done(StepsObject *self)
{
    smneo_compile_result *res = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_call_compile_result(&res, self->call, &err);
    PyObject *out = smneo_py_compile_finish(self->client->st, rc, res, &err, self->cancelled_by_callback);
    smneo_compile_result_free(res);
    smneo_error_clear(&err);
    return out;
}

/* _steps_compile_many(jobs, options) -> Steps over compile_many()'s machine
 * (jobs and options as _compile_many takes them) */
static PyObject *client_steps_compile_many(ClientObject *self, PyObject *args)
{
    PyObject *jobs, *opts;
    if (!PyArg_ParseTuple(args, "O!O!:_steps_compile_many", &PyList_Type, &jobs, &PyDict_Type, &opts))
        return NULL;
    if (enter(self))
        return NULL;
    smneo_call *call = NULL;
    if (smneo_py_compile_many_new(self->st, self->client, jobs, opts, &call)) {
        leave(self);
        return NULL;
    }
    return steps_wrap(self, call, "CreateCompilationJob", STEPS_COMPILE_MANY);
}

/* compile_many's DONE: the rows, or the blocking compile_many's exception */
static PyObject *compile_many_done(StepsObject *self)
{
    smneo_compile_many_result *res = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_call_compile_many_result(&res, self->call, &err);
    PyObject *out = smneo_py_compile_many_finish(self->client->st, rc, res, &err);
    smneo_compile_many_result_free(res);
    smneo_error_clear(&err);
    return out;
}

static PyObject *compile_many_event(StepsObject *self)
{
    smneo_compile_event ev;
    size_t job;
    if (smneo_call_compile_many_event(&ev, &job, self->call))
        return PyErr_Format(PyExc_RuntimeError, "smneo: compile_many event without an event");
    return smneo_py_compile_many_event(self->client->st, job, &ev);
}

static PyObject *compile_event(StepsObject *self)
{
    smneo_compile_event ev;
    if (smneo_call_compile_event(&ev, self->call))
        return PyErr_Format(PyExc_RuntimeError, "smneo: compile event without an event");
    return smneo_py_compile_event(self->client->st, &ev);
}

static int steps_ready(StepsObject *self)
{
    if (!steps_open(self)) {
        PyErr_SetString(PyExc_RuntimeError, "this smneo call has ended");
        return -1;
    }
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError, "this smneo call is sending in another thread");
        return -1;
    }
    return 0;
}

/* A job log reader's next step (the blocking reader's conversions: events as
 * dicts, warnings as smneo.LogWarning, errors as GetLogEvents'). */
static PyObject *logs_advance(StepsObject *self)
{
    ClientObject *c = self->client;
    smneo_step *step = &self->step;
    for (;;) {
        smneo_joblogs_step(step, self->logs);
        if (step->kind == SMNEO_STEP_SEND)
            return Py_BuildValue("(iO)", SMNEO_STEP_SEND, step->timeout_ms > 0 ? Py_True : Py_False);
        if (step->kind == SMNEO_STEP_SLEEP)
            return Py_BuildValue("(id)", SMNEO_STEP_SLEEP, step->sleep_ms / 1000.0);
        if (step->kind == SMNEO_STEP_EVENT) {
            if (step->event == SMNEO_EVENT_LOG) {
                smneo_log_event ev;
                if (smneo_joblogs_event(&ev, self->logs))
                    return PyErr_Format(PyExc_RuntimeError, "smneo: log event without an event");
                PyObject *v = smneo_py_log_event(c->st, &ev);
                return v ? Py_BuildValue("(iN)", SMNEO_STEP_EVENT, v) : NULL;
            }
            if (step->event == SMNEO_EVENT_WARNING &&
                PyErr_WarnEx(c->st->LogWarning, smneo_joblogs_warning(self->logs), 1))
                return NULL;
            continue;
        }
        smneo_error err = SMNEO_ERROR_INIT;
        int rc = smneo_joblogs_result(self->logs, &err);
        if (rc)
            smneo_py_raise(c->st, rc, &err, "GetLogEvents", c->max_attempts);
        smneo_error_clear(&err);
        steps_finish(self);
        return rc ? NULL : Py_BuildValue("(iO)", SMNEO_STEP_DONE, Py_None);
    }
}

/* advance() -> (kind, value): (SEND, credential) when the current request
 * must be sent (credential: True for a credential request, which has its
 * own short timeouts: send_blocking() sends it), (SLEEP, seconds),
 * (EVENT, item / page / description) or (DONE, result); a failed call
 * raises its exception. A send hook answers SEND steps here, as in the
 * blocking methods. */
static PyObject *steps_advance(StepsObject *self, PyObject *unused)
{
    if (steps_ready(self))
        return NULL;
    ClientObject *c = self->client;
    smneo_step *step = &self->step;
    if (self->logs)
        return logs_advance(self);
    for (;;) {
        smneo_call_next(step, self->call);
        if (step->kind == SMNEO_STEP_WORK)
            return Py_BuildValue("(iO)", SMNEO_STEP_WORK, Py_None);
        if (step->kind == SMNEO_STEP_SEND) {
            if (c->send_hook && self->mode < STEPS_COMPILE) { /* (the blocking compiles send without it) */
                PyObject *hook = c->send_hook;
                Py_INCREF(hook);
                int r = hook_send(c, hook, self->call, step);
                Py_DECREF(hook);
                if (r == 0)
                    continue;
                if (r < 0) {
                    steps_finish(self);
                    return NULL;
                }
            }
            return Py_BuildValue("(iO)", SMNEO_STEP_SEND, step->timeout_ms > 0 ? Py_True : Py_False);
        }
        if (step->kind == SMNEO_STEP_SLEEP)
            return Py_BuildValue("(id)", SMNEO_STEP_SLEEP, step->sleep_ms / 1000.0);
        if (step->kind == SMNEO_STEP_EVENT) {
            PyObject *v = self->mode == STEPS_WAIT      ? wait_status(c, self->call)
                          : self->mode == STEPS_COMPILE ? compile_event(self)
                          : self->mode == STEPS_COMPILE_MANY ? compile_many_event(self)
                                                        : paginate_event(c, self->call, step, self->operation);
            if (!v)
                return NULL;
            return Py_BuildValue("(iN)", SMNEO_STEP_EVENT, v);
        }
        PyObject *out;
        if (self->mode == STEPS_CALL)
            out = call_done(c, self->call, self->operation);
        else if (self->mode == STEPS_WAIT)
            out = wait_done(c, self->call);
        else if (self->mode == STEPS_COMPILE)
            out = compile_done(self);
        else if (self->mode == STEPS_COMPILE_MANY)
            out = compile_many_done(self);
        else
            out = paginate_done(c, self->call, self->operation, &self->resume_token) ? NULL
                                                                                     : (Py_INCREF(Py_None), Py_None);
        steps_finish(self);
        if (!out)
            return NULL;
        return Py_BuildValue("(iN)", SMNEO_STEP_DONE, out);
    }
}

/* send_blocking(): sends the current SEND step with the client's transport,
 * without the GIL (for a thread: credential requests, in-process transports). */
static PyObject *steps_send_blocking(StepsObject *self, PyObject *unused)
{
    if (steps_ready(self))
        return NULL;
    if (self->step.kind != SMNEO_STEP_SEND)
        return PyErr_Format(PyExc_RuntimeError, "this smneo call has nothing to send");
    self->busy = 1;
    smneo_call *call = self->call;
    smneo_joblogs *logs = self->logs;
    smneo_step step = self->step;
    Py_BEGIN_ALLOW_THREADS
    if (logs)
        smneo_joblogs_send(logs, &step);
    else
        smneo_call_send(call, &step);
    Py_END_ALLOW_THREADS
    self->busy = 0;
    if (self->closing)
        steps_finish(self);
    Py_RETURN_NONE;
}

/* work(): runs the current WORK step (compile's packing, digests, S3
 * transfers, extraction) without the GIL: in the loop's executor. */
static PyObject *steps_work(StepsObject *self, PyObject *unused)
{
    if (steps_ready(self))
        return NULL;
    if (self->step.kind != SMNEO_STEP_WORK)
        return PyErr_Format(PyExc_RuntimeError, "this smneo call has no work to run");
    self->busy = self->working = 1;
    smneo_call *call = self->call;
    Py_BEGIN_ALLOW_THREADS
    smneo_call_work(call);
    Py_END_ALLOW_THREADS
    self->busy = self->working = 0;
    if (self->closing)
        steps_finish(self);
    Py_RETURN_NONE;
}

/* cancel(by_callback=False): the next step is DONE with WaiterCancelled /
 * the cancellation error (a waiter's or compile's callback returned False:
 * by_callback). A compile machine stops its job first (unless
 * keep_job_on_cancel), and a work() running in a thread stops early. */
static PyObject *steps_cancel(StepsObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"by_callback", NULL};
    int by_callback = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|p:cancel", kwlist, &by_callback))
        return NULL;
    if (!self->busy || self->working) {
        if (by_callback)
            self->cancelled_by_callback = 1;
        steps_cancel_machine(self);
    }
    Py_RETURN_NONE;
}

static PyObject *steps_close(StepsObject *self, PyObject *unused)
{
    steps_finish(self);
    Py_RETURN_NONE;
}

static PyObject *steps_get_open(StepsObject *self, void *closure)
{
    return PyBool_FromLong(steps_open(self));
}

static int steps_traverse(StepsObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->client);
    return 0;
}

static void steps_dealloc(StepsObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    self->busy = 0; /* a sending thread holds a reference: not reached while it runs */
    steps_finish(self);
    Py_CLEAR(self->client);
    Py_CLEAR(self->resume_token);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyMemberDef steps_members[] = {
    {"resume_token", T_OBJECT, offsetof(StepsObject, resume_token), READONLY,
     "paginated run: token to resume from when MaxItems stopped it early (else None)"},
    {NULL},
};

static PyGetSetDef steps_getset[] = {
    {"open", (getter)steps_get_open, NULL, "False once the call has ended and released its handle", NULL},
    {NULL},
};

static PyMethodDef steps_methods[] = {
    {"advance", (PyCFunction)steps_advance, METH_NOARGS, "advance() -> (kind, value): the next step"},
    {"send_blocking", (PyCFunction)steps_send_blocking, METH_NOARGS,
     "send_blocking(): sends the current request with the client's transport (blocks; GIL released)"},
    {"cancel", (PyCFunction)(void (*)(void))steps_cancel, METH_VARARGS | METH_KEYWORDS,
     "cancel(by_callback=False): the call ends at its next step"},
    {"work", (PyCFunction)steps_work, METH_NOARGS,
     "work(): runs the current WORK step (blocks; GIL released)"},
    {"close", (PyCFunction)steps_close, METH_NOARGS, "close(): releases the call at once"},
    {NULL},
};

static PyType_Slot steps_slots[] = {
    {Py_tp_dealloc, steps_dealloc},
    {Py_tp_traverse, steps_traverse},
    {Py_tp_members, steps_members},
    {Py_tp_getset, steps_getset},
    {Py_tp_methods, steps_methods},
    {Py_tp_doc, "A call driven step by step (internal: smneo.aio)."},
    {0, NULL},
};

static PyType_Spec steps_spec = {"smneo._smneo.Steps", sizeof(StepsObject), 0,
                                 Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE |
                                     Py_TPFLAGS_DISALLOW_INSTANTIATION,
                                 steps_slots};

/* The client's libcurl transport on an event loop (core/src/curl_multi.h):
 * send(steps) starts a call's SEND step; the loop calls on_socket(fd, what)'s
 * watches back with action(fd, what) and action(-1, 0) after timeout()
 * seconds; action returns the Steps whose answer was fed to their call. */
typedef struct MultiObject {
    PyObject_HEAD
    ClientObject *client; /* strong; entered while m is set */
    smneo__curlm *m;
    PyObject *on_socket;
    PyObject *inflight;   /* set of Steps being sent */
    PyObject *done;       /* list, during action() */
} MultiObject;

static void multi_on_socket(int fd, int what, void *payload)
{
    MultiObject *self = payload;
    PyObject *r = PyObject_CallFunction(self->on_socket, "ii", fd, what);
    if (!r)
        PyErr_WriteUnraisable(self->on_socket);
    Py_XDECREF(r);
}

static void multi_on_done(void *token, smneo_response *resp, int rc, const char *message, void *payload)
{
    MultiObject *self = payload;
    StepsObject *s = token;
    s->sending = NULL;
    steps_feed(s, resp, rc, message);
    if (!self->done || PyList_Append(self->done, (PyObject *)s))
        PyErr_WriteUnraisable((PyObject *)s);
    if (PySet_Discard(self->inflight, (PyObject *)s) < 0)
        PyErr_WriteUnraisable((PyObject *)s);
}

/* _curl_multi(on_socket) -> CurlMulti, or None when the transport is not
 * libcurl (an in-process one: the driver sends in threads). */
static PyObject *client_curl_multi(ClientObject *self, PyObject *on_socket)
{
    if (!PyCallable_Check(on_socket))
        return PyErr_Format(PyExc_TypeError, "on_socket must be callable");
    if (enter(self))
        return NULL;
    MultiObject *mo = PyObject_GC_New(MultiObject, self->st->MultiType);
    if (!mo) {
        leave(self);
        return NULL;
    }
    Py_INCREF(self);
    mo->client = self;
    mo->m = NULL;
    Py_INCREF(on_socket);
    mo->on_socket = on_socket;
    mo->inflight = PySet_New(NULL);
    mo->done = NULL;
    PyObject_GC_Track(mo);
    if (!mo->inflight) {
        Py_DECREF(mo);
        return NULL;
    }
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo__curlm_new(&mo->m, smneo_client_transport(self->client), multi_on_socket, multi_on_done, mo, &err);
    if (rc) {
        smneo_error_clear(&err);
        Py_DECREF(mo); /* leaves */
        if (rc == SMNEO_EUNSUPPORTED)
            Py_RETURN_NONE;
        return PyErr_NoMemory();
    }
    return (PyObject *)mo;
}

static void multi_close_impl(MultiObject *self)
{
    if (!self->m)
        return;
    smneo__curlm_free(self->m); /* aborts the transfers: no on_done */
    self->m = NULL;
    if (self->inflight) {
        PyObject *it = PyObject_GetIter(self->inflight), *o;
        while (it && (o = PyIter_Next(it)) != NULL) {
            StepsObject *s = (StepsObject *)o;
            s->sending = NULL;
            if (steps_open(s)) {
                steps_feed(s, NULL, SMNEO_ECANCELLED, "the asyncio client was closed");
                steps_cancel_machine(s);
            }
            Py_DECREF(o);
        }
        Py_XDECREF(it);
        PyErr_Clear();
        PySet_Clear(self->inflight);
    }
    leave(self->client);
}

static int multi_ready(MultiObject *self)
{
    if (!self->m) {
        PyErr_SetString(PyExc_RuntimeError, "this smneo.aio client is closed");
        return -1;
    }
    return 0;
}

/* send(steps) -> True while the request is in flight; False when it ended
 * at once (refused before sending: its error was fed to the call). */
static PyObject *multi_send(MultiObject *self, PyObject *arg)
{
    if (multi_ready(self))
        return NULL;
    if (!PyObject_TypeCheck(arg, self->client->st->StepsType))
        return PyErr_Format(PyExc_TypeError, "send() takes a Steps");
    StepsObject *s = (StepsObject *)arg;
    if (steps_ready(s))
        return NULL;
    if (s->step.kind != SMNEO_STEP_SEND)
        return PyErr_Format(PyExc_RuntimeError, "this smneo call has nothing to send");
    if (PySet_Add(self->inflight, arg))
        return NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo__curlm_add(self->m, s->step.request, s, &err);
    s->sending = rc ? NULL : self;
    if (rc) {
        PySet_Discard(self->inflight, arg);
        steps_feed(s, NULL, rc, err.message);
        smneo_error_clear(&err);
        Py_RETURN_FALSE;
    }
    Py_RETURN_TRUE;
}

/* Stops sending s's request (its connection is closed) and cancels the call. */
static void multi_abort(MultiObject *self, StepsObject *s)
{
    s->sending = NULL;
    if (!self->m)
        return;
    smneo__curlm_remove(self->m, s);
    steps_feed(s, NULL, SMNEO_ECANCELLED, "the call was cancelled");
    steps_cancel_machine(s);
    Py_INCREF(s);
    if (PySet_Discard(self->inflight, (PyObject *)s) < 0)
        PyErr_WriteUnraisable((PyObject *)s);
    Py_DECREF(s);
}

/* remove(steps) -> [steps whose answer came]: stops sending its request and
 * cancels the call; a request queued for a connection takes its place (one
 * that ends at once is in the list, as action() returns them). */
static PyObject *multi_remove(MultiObject *self, PyObject *arg)
{
    PyObject *done = PyList_New(0);
    if (!done)
        return NULL;
    if (PyObject_TypeCheck(arg, self->client->st->StepsType) && ((StepsObject *)arg)->sending == self) {
        self->done = done;
        multi_abort(self, (StepsObject *)arg);
        self->done = NULL;
    }
    return done;
}

static PyObject *multi_action(MultiObject *self, PyObject *args)
{
    int fd, what;
    if (!PyArg_ParseTuple(args, "ii:action", &fd, &what) || multi_ready(self))
        return NULL;
    PyObject *done = PyList_New(0);
    if (!done)
        return NULL;
    self->done = done;
    smneo__curlm_action(self->m, fd, what);
    self->done = NULL;
    return done;
}

static PyObject *multi_timeout(MultiObject *self, PyObject *unused)
{
    long ms = self->m ? smneo__curlm_timeout(self->m) : -1;
    if (ms < 0)
        Py_RETURN_NONE;
    return PyFloat_FromDouble(ms / 1000.0);
}

static PyObject *multi_close(MultiObject *self, PyObject *unused)
{
    multi_close_impl(self);
    Py_RETURN_NONE;
}

static PyObject *multi_get_count(MultiObject *self, void *closure)
{
    return PyLong_FromLong(self->m ? smneo__curlm_count(self->m) : 0);
}

static int multi_traverse(MultiObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->client);
    Py_VISIT(self->on_socket);
    Py_VISIT(self->inflight);
    return 0;
}

static int multi_clear(MultiObject *self)
{
    multi_close_impl(self);
    Py_CLEAR(self->on_socket);
    Py_CLEAR(self->inflight);
    return 0;
}

static void multi_dealloc(MultiObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    multi_clear(self);
    Py_CLEAR(self->client);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyGetSetDef multi_getset[] = {
    {"count", (getter)multi_get_count, NULL, "requests in flight", NULL},
    {NULL},
};

static PyMethodDef multi_methods[] = {
    {"send", (PyCFunction)multi_send, METH_O, "send(steps) -> bool"},
    {"remove", (PyCFunction)multi_remove, METH_O, "remove(steps) -> [steps whose answer came]"},
    {"action", (PyCFunction)multi_action, METH_VARARGS, "action(fd, what) -> [steps whose answer came]"},
    {"timeout", (PyCFunction)multi_timeout, METH_NOARGS, "timeout() -> seconds until action(-1, 0), or None"},
    {"close", (PyCFunction)multi_close, METH_NOARGS, "close(): aborts what is in flight"},
    {NULL},
};

static PyType_Slot multi_slots[] = {
    {Py_tp_dealloc, multi_dealloc},
    {Py_tp_traverse, multi_traverse},
    {Py_tp_clear, multi_clear},
    {Py_tp_methods, multi_methods},
    {Py_tp_getset, multi_getset},
    {Py_tp_doc, "libcurl's multi interface on an event loop (internal: smneo.aio)."},
    {0, NULL},
};

static PyType_Spec multi_spec = {"smneo._smneo.CurlMulti", sizeof(MultiObject), 0,
                                 Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE |
                                     Py_TPFLAGS_DISALLOW_INSTANTIATION,
                                 multi_slots};

static PyObject *client_get_region(ClientObject *self, void *closure)
{
    PyObject *v = closure ? self->endpoint : self->region;
    if (!v)
        Py_RETURN_NONE;
    Py_INCREF(v);
    return v;
}

static PyObject *client_get_retry_mode(ClientObject *self, void *closure)
{
    (void)closure;
    const char *m = self->client ? smneo_client_retry_mode(self->client) : NULL;
    if (!m)
        Py_RETURN_NONE;
    return PyUnicode_FromString(m);
}

static PyObject *client_get_defaults_mode(ClientObject *self, void *closure)
{
    (void)closure;
    const char *m = self->client ? smneo_client_defaults_mode(self->client) : NULL;
    if (!m)
        Py_RETURN_NONE;
    return PyUnicode_FromString(m);
}

static PyObject *client_get_max_attempts(ClientObject *self, void *closure)
{
    return PyLong_FromLong(self->max_attempts);
}

static PyObject *client_get_closed(ClientObject *self, void *closure)
{
    return PyBool_FromLong(self->closed);
}

static PyGetSetDef client_getset[] = {
    {"region_name", (getter)client_get_region, NULL, "the resolved region", NULL},
    {"endpoint_url", (getter)client_get_region, NULL, "the resolved endpoint URL", (void *)1},
    {"max_attempts", (getter)client_get_max_attempts, NULL, "attempts per call (1 = no retry)", NULL},
    {"retry_mode", (getter)client_get_retry_mode, NULL, "the resolved retry mode: legacy, standard or adaptive",
     NULL},
    {"defaults_mode", (getter)client_get_defaults_mode, NULL,
     "the resolved defaults mode (AWS_DEFAULTS_MODE): legacy, standard, in-region, ...", NULL},
    {"closed", (getter)client_get_closed, NULL, "True after close()", NULL},
    {NULL},
};

#define KW (METH_VARARGS | METH_KEYWORDS)
#define FN(f) (PyCFunction)(void (*)(void))(f)
static PyMethodDef client_methods[] = {
#define OP_DEF(pyname, apiname, doc) {#pyname, FN(client_##pyname), KW, doc},
    SMNEO_PY_OPERATIONS(OP_DEF)
#undef OP_DEF
    {"_call", FN(client_call), KW, "_call(operation_name, params) -> dict (internal)"},
    {"build_request", FN(client_build_request), KW,
     "build_request(operation_name, params, timestamp=None) -> Request\n\n"
     "The signed request a call would send (method, url, headers, body); nothing is sent.\n"
     "timestamp: an aware datetime or epoch seconds (None: now)."},
    {"parse_response", FN(client_parse_response), KW,
     "parse_response(operation_name, status_code, headers, body) -> dict\n\n"
     "The result dict for a response, or raises exactly what a call with that response would raise."},
    {"_paginate", FN(client_paginate), KW, "_paginate(operation_name, params, max_items, page_size, starting_token, "
                                           "pages) -> iterator (internal)"},
    {"wait_for_compilation_job", FN(client_wait), KW,
     "wait_for_compilation_job(name, *, delay=5, max_delay=60, timeout=None, callback=None) -> dict\n\n"
     "Polls until the job is COMPLETED and returns its description. Raises CompilationJobFailed\n"
     "(.FailureReason), CompilationJobStopped, WaiterTimeout, or WaiterCancelled when callback(description)\n"
     "returns False. Ctrl-C interrupts promptly."},
    {"_set_call_hook", (PyCFunction)client_set_call_hook, METH_O,
     "_set_call_hook(hook or None) (internal: smneo.stub, client.meta.events): hook(operation_name, params)\n"
     "is asked once per operation request (calls, pages, waiter polls, compile()'s calls) before credentials;\n"
     "it returns None (go on) or (status, headers, body), the request's final answer (not sent, not retried)."},
    {"_set_params_hook", (PyCFunction)client_set_params_hook, METH_O,
     "_set_params_hook(hook or None) (internal: client.meta.events): before the request hook,\n"
     "hook(operation_name, params) -> None (keep them) or a dict, the parameters to use instead."},
    {"_set_response_hook", (PyCFunction)client_set_response_hook, METH_O,
     "_set_response_hook(hook or None) (internal: client.meta.events): after each attempt,\n"
     "hook(operation_name, attempt, http, parsed, exception, delay) -> None (no retry) or a delay."},
    {"_set_send_hook", (PyCFunction)client_set_send_hook, METH_O,
     "_set_send_hook(hook or None) (internal: client.meta.events): every request the calls,\n"
     "paginators and the waiter send goes to hook(smneo.Request) first; it returns (status, headers,\n"
     "body) to answer, None to send it, or raises to stop the call."},
    {"_s3_transfer", FN(client_s3_transfer), KW,
     "_s3_transfer(upload, filename, uri, options, callback=None) (internal: see Client.upload_file)"},
    {"_steps_compile", (PyCFunction)client_steps_compile, METH_O,
     "_steps_compile(options) -> Steps (internal: smneo.aio)"},
    {"_steps_compile_many", (PyCFunction)client_steps_compile_many, METH_VARARGS,
     "_steps_compile_many(jobs, options) -> Steps (internal: smneo.aio)"},
    {"_compile", FN(client_compile), KW, "_compile(options, callback=None) -> dict (internal: see Client.compile)"},
    {"_job_logs", FN(client_job_logs), KW,
     "_job_logs(name, start_time_ms=0, follow=False, delay=0, max_delay=0, tail=0) -> iterator (internal: see "
     "Client.get_compilation_job_logs)"},
    {"_compile_many", FN(client_compile_many), KW,
     "_compile_many(jobs, options, callback=None) -> list (internal: see Client.compile_many)"},
    {"_steps_call", (PyCFunction)client_steps_call, METH_VARARGS, "_steps_call(operation_name, args, params) -> Steps (internal: smneo.aio)"},
    {"_steps_paginate", FN(client_steps_paginate), KW, "_steps_paginate(...) -> Steps (internal: smneo.aio)"},
    {"_steps_wait", FN(client_steps_wait), KW, "_steps_wait(name, ...) -> Steps (internal: smneo.aio)"},
    {"_steps_logs", FN(client_steps_logs), KW, "_steps_logs(name, ...) -> Steps (internal: smneo.aio)"},
    {"_curl_multi", (PyCFunction)client_curl_multi, METH_O, "_curl_multi(on_socket) -> CurlMulti or None (internal: smneo.aio)"},
    {"close", (PyCFunction)client_close, METH_NOARGS, "close()\n\nReleases the connections. Idempotent."},
    {"__enter__", (PyCFunction)client_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)client_exit, METH_VARARGS, NULL},
    {NULL},
};

static PyMemberDef client_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(ClientObject, weakrefs), READONLY},
    {NULL},
};

static PyType_Slot client_slots[] = {
    {Py_tp_new, client_new},
    {Py_tp_init, client_init},
    {Py_tp_dealloc, client_dealloc},
    {Py_tp_traverse, client_traverse},
    {Py_tp_clear, client_clear},
    {Py_tp_repr, client_repr},
    {Py_tp_methods, client_methods},
    {Py_tp_getset, client_getset},
    {Py_tp_members, client_members},
    {Py_tp_doc, "The C client (use smneo.Client)."},
    {0, NULL},
};

static PyType_Spec client_spec = {"smneo._smneo.Client", sizeof(ClientObject), 0,
                                  Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC |
                                      Py_TPFLAGS_IMMUTABLETYPE,
                                  client_slots};

/* ---- paginator iterator ----------------------------------------------------- */

static void paginate_finish(PaginateObject *self)
{
    if (self->call) {
        smneo_call_free(self->call);
        self->call = NULL;
        leave(self->client);
    }
}

static PyObject *paginate_next_impl(PaginateObject *self);

/* `busy` covers the whole step, not only the GIL-free part: converting a
 * result allocates Python objects, so a garbage collection may run a
 * finalizer that calls close() on this run. */
static PyObject *paginate_next(PaginateObject *self)
{
    if (!self->call)
        return NULL; /* exhausted: StopIteration */
    if (self->busy) {
        PyErr_SetString(PyExc_ValueError, "paginator already executing in another thread");
        return NULL;
    }
    self->busy = 1;
    PyObject *out = paginate_next_impl(self);
    self->busy = 0;
    return out;
}

/* A paginated run's EVENT: the item, or the page as a result dict. */
static PyObject *paginate_event(ClientObject *client, smneo_call *call, const smneo_step *step, const char *operation)
{
    smneo_state *st = client->st;
    if (step->event == SMNEO_EVENT_ITEM) {
        smneo_value v;
        int rc = smneo_call_item(&v, call);
        if (rc)
            return smneo_py_raise(st, rc, NULL, operation, 0);
        return smneo_py_value(st, &v);
    }
    const smneo_result *page = smneo_call_page(call);
    if (!page)
        return PyErr_Format(PyExc_RuntimeError, "smneo: page event without a page");
    return result_for(client, client->client, page, smneo_py_result(st, page));
}

/* A paginated run's end: its resume token into *resume_token (when it has
 * one), then 0, or -1 with its error raised. */
static int paginate_done(ClientObject *client, smneo_call *call, const char *operation, PyObject **resume_token)
{
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_call_result(NULL, call, &err);
    const char *tok = smneo_call_resume_token(call);
    if (tok) {
        PyObject *t = PyUnicode_FromString(tok);
        if (!t) {
            smneo_error_clear(&err);
            return -1;
        }
        Py_SETREF(*resume_token, t);
    }
    if (rc)
        raise_for(client, client->client, rc, &err, operation, call);
    smneo_error_clear(&err);
    return rc ? -1 : 0;
}

static PyObject *paginate_next_impl(PaginateObject *self)
{
    smneo_step step;
    if (drive(self->client, self->call, &step, 0))
        return NULL; /* Ctrl-C while backing off: the run can continue with next() */
    if (step.kind == SMNEO_STEP_EVENT)
        return paginate_event(self->client, self->call, &step, self->operation);
    paginate_done(self->client, self->call, self->operation, &self->resume_token); /* raises its error */
    paginate_finish(self);
    return NULL;
}

static int paginate_traverse(PaginateObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->client);
    return 0;
}

static void paginate_dealloc(PaginateObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    paginate_finish(self);
    Py_CLEAR(self->client);
    Py_CLEAR(self->resume_token);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *paginate_close(PaginateObject *self, PyObject *unused)
{
    if (self->busy) {
        PyErr_SetString(PyExc_ValueError, "paginator already executing in another thread");
        return NULL;
    }
    paginate_finish(self);
    Py_RETURN_NONE;
}

static PyMemberDef paginate_members[] = {
    {"resume_token", T_OBJECT, offsetof(PaginateObject, resume_token), READONLY,
     "token to resume from when MaxItems stopped the run early (else None)"},
    {NULL},
};

static PyMethodDef paginate_methods[] = {
    {"close", (PyCFunction)paginate_close, METH_NOARGS, "Stops the run and releases it."},
    {NULL},
};

static PyType_Slot paginate_slots[] = {
    {Py_tp_iter, PyObject_SelfIter},
    {Py_tp_iternext, paginate_next},
    {Py_tp_dealloc, paginate_dealloc},
    {Py_tp_traverse, paginate_traverse},
    {Py_tp_members, paginate_members},
    {Py_tp_methods, paginate_methods},
    {Py_tp_doc, "Iterator over the pages (or items) of a paginated run."},
    {0, NULL},
};

static PyType_Spec paginate_spec = {"smneo._smneo.PageRun", sizeof(PaginateObject), 0,
                                    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE |
                                        Py_TPFLAGS_DISALLOW_INSTANTIATION,
                                    paginate_slots};

/* ---- job log iterator ------------------------------------------------------- */

static void joblogs_finish(JobLogsObject *self)
{
    if (self->logs) {
        smneo_joblogs *l = self->logs;
        self->logs = NULL;
        smneo_joblogs_free(l);
        leave(self->client);
    }
}

/* The reader's steps without the GIL up to a sleep, an event or the end. */
static void joblogs_steps(smneo_joblogs *l, smneo_step *step)
{
    Py_BEGIN_ALLOW_THREADS
    for (;;) {
        smneo_joblogs_step(step, l);
        if (step->kind != SMNEO_STEP_SEND)
            break;
        smneo_joblogs_send(l, step);
    }
    Py_END_ALLOW_THREADS
}

static PyObject *joblogs_next_impl(JobLogsObject *self)
{
    smneo_state *st = self->client->st;
    for (;;) {
        smneo_step step;
        joblogs_steps(self->logs, &step);
        if (step.kind == SMNEO_STEP_SLEEP) {
            blocking_sleep(step.sleep_ms);
            if (PyErr_CheckSignals())
                return NULL; /* Ctrl-C between polls: at most 200 ms late */
            continue;
        }
        if (step.kind == SMNEO_STEP_EVENT) {
            if (step.event == SMNEO_EVENT_LOG) {
                smneo_log_event ev;
                if (smneo_joblogs_event(&ev, self->logs))
                    return PyErr_Format(PyExc_RuntimeError, "smneo: log event without an event");
                return smneo_py_log_event(st, &ev);
            }
            if (step.event == SMNEO_EVENT_WARNING &&
                PyErr_WarnEx(st->LogWarning, smneo_joblogs_warning(self->logs), 1))
                return NULL;
            if (PyErr_CheckSignals())
                return NULL;
            continue;
        }
        smneo_error err = SMNEO_ERROR_INIT;
        int rc = smneo_joblogs_result(self->logs, &err);
        if (rc)
            smneo_py_raise(st, rc, &err, "GetLogEvents",
                           smneo_client_max_attempts_reached(self->client->client, err.attempts, &err));
        smneo_error_clear(&err);
        joblogs_finish(self);
        return NULL;
    }
}

static PyObject *joblogs_next(JobLogsObject *self)
{
    if (!self->logs)
        return NULL;
    if (self->busy) {
        PyErr_SetString(PyExc_ValueError, "job log iterator already executing in another thread");
        return NULL;
    }
    self->busy = 1;
    PyObject *out = joblogs_next_impl(self);
    self->busy = 0;
    return out;
}

static int joblogs_traverse(JobLogsObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->client);
    return 0;
}

static void joblogs_dealloc(JobLogsObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    joblogs_finish(self);
    Py_CLEAR(self->client);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *joblogs_close(JobLogsObject *self, PyObject *unused)
{
    if (self->busy) {
        PyErr_SetString(PyExc_ValueError, "job log iterator already executing in another thread");
        return NULL;
    }
    joblogs_finish(self);
    Py_RETURN_NONE;
}

static PyObject *joblogs_get_status(JobLogsObject *self, void *closure)
{
    const char *s = self->logs ? smneo_joblogs_status(self->logs) : NULL;
    if (!s)
        Py_RETURN_NONE;
    return PyUnicode_FromString(s);
}

static PyGetSetDef joblogs_getset[] = {
    {"status", (getter)joblogs_get_status, NULL, "follow: the job's last status seen (None before, and after the end)",
     NULL},
    {NULL},
};

static PyMethodDef joblogs_methods[] = {
    {"close", (PyCFunction)joblogs_close, METH_NOARGS, "Stops reading and releases the reader."},
    {NULL},
};

static PyType_Slot joblogs_slots[] = {
    {Py_tp_iter, PyObject_SelfIter},
    {Py_tp_iternext, joblogs_next},
    {Py_tp_dealloc, joblogs_dealloc},
    {Py_tp_traverse, joblogs_traverse},
    {Py_tp_methods, joblogs_methods},
    {Py_tp_getset, joblogs_getset},
    {Py_tp_doc, "Iterator over a compilation job's log events (see Client.get_compilation_job_logs)."},
    {0, NULL},
};

static PyType_Spec joblogs_spec = {"smneo._smneo.JobLogs", sizeof(JobLogsObject), 0,
                                   Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE |
                                       Py_TPFLAGS_DISALLOW_INSTANTIATION,
                                   joblogs_slots};

/* module-level parse_response (no client needed) */
static PyObject *mod_parse_response(PyObject *module, PyObject *args, PyObject *kwargs)
{
    return parse_response_impl(smneo_get_state(module), args, kwargs, "parse_response");
}

static PyMethodDef extra_functions[] = {
    {"parse_response", FN(mod_parse_response), KW,
     "parse_response(operation_name, status_code, headers, body) -> dict\n\n"
     "Parses a response without a client (see Client.parse_response)."},
    {NULL},
};

int smneo_py_client_types(PyObject *module, smneo_state *st)
{
    st->ClientType = (PyTypeObject *)PyType_FromModuleAndSpec(module, &client_spec, NULL);
    if (!st->ClientType || PyModule_AddType(module, st->ClientType))
        return -1;
    st->PaginateType = (PyTypeObject *)PyType_FromModuleAndSpec(module, &paginate_spec, NULL);
    if (!st->PaginateType || PyModule_AddType(module, st->PaginateType))
        return -1;
    st->JobLogsType = (PyTypeObject *)PyType_FromModuleAndSpec(module, &joblogs_spec, NULL);
    if (!st->JobLogsType || PyModule_AddType(module, st->JobLogsType))
        return -1;
    st->StepsType = (PyTypeObject *)PyType_FromModuleAndSpec(module, &steps_spec, NULL);
    if (!st->StepsType || PyModule_AddType(module, st->StepsType))
        return -1;
    st->MultiType = (PyTypeObject *)PyType_FromModuleAndSpec(module, &multi_spec, NULL);
    if (!st->MultiType || PyModule_AddType(module, st->MultiType))
        return -1;
    return PyModule_AddFunctions(module, extra_functions);
}
