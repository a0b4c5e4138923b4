/* Private header of the smneo CPython extension (python/smneo/_*.c).
 *
 * The extension is a thin binding: it converts Python values to the core's
 * JSON (smneo_jsonw), calls the core with the GIL released, converts results
 * back with the core's typed visitor and maps error codes to exceptions. */
#ifndef SMNEO_PY_H
#define SMNEO_PY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "_compat.h"

#include "smneo.h"

#define SMNEO_PY_KEY_CACHE 256 /* a power of two */
#define SMNEO_PY_RESULT_TYPES 4

/* Every type and exception lives in the module state (multi-phase init). */
typedef struct smneo_state {
    PyTypeObject *ClientType;
    PyTypeObject *PaginateType;
    PyTypeObject *JobLogsType;
    PyTypeObject *StepsType;  /* smneo.aio: a call driven step by step */
    PyTypeObject *MultiType;  /* smneo.aio: libcurl's multi interface on an event loop */
    PyTypeObject *RequestType;
    PyTypeObject *IssueType;

    PyObject *SmneoError;
    PyObject *ClientError;
    PyObject *ParamValidationError;
    PyObject *NoCredentialsError;
    PyObject *CredentialRetrievalError;
    PyObject *TokenRetrievalError;
    PyObject *UnauthorizedSSOTokenError;
    PyObject *NoRegionError;
    PyObject *HTTPClientError;
    PyObject *EndpointConnectionError;
    PyObject *SSLError;
    PyObject *ReadTimeoutError;
    PyObject *ConnectTimeoutError;
    PyObject *ProxyConnectionError;
    PyObject *ConnectionClosedError;
    PyObject *PaginationError;
    PyObject *ResponseParserError;
    PyObject *WaiterError;
    PyObject *CompilationJobFailed;
    PyObject *CompilationJobStopped;
    PyObject *WaiterTimeout;
    PyObject *WaiterCancelled;
    PyObject *ArtifactError;
    PyObject *UnsafeArchiveError;
    PyObject *DigestMismatchError;
    PyObject *ValidationWarning;
    PyObject *LogWarning;
    PyObject *modeled_errors; /* dict: service code -> ClientError subclass */
    /* The exception classes above (not the two warnings) are NULL until
     * smneo_py_errors_ready() fetched them from smneo._errors, which builds
     * them on first use (inheriting botocore's where it is importable). */

    PyObject *utc;            /* datetime.timezone.utc */
    PyObject *tzlocal;        /* dateutil.tz.tzlocal() or smneo._tz.tzlocal(); NULL until the first timestamp */
    long tz_std, tz_dst;      /* its offsets (s east of UTC), as it took them from the time module */
    long tz_c_timezone;       /* the C library's zone when it was made (remade after time.tzset()) */
    int tz_c_daylight;
    char tz_c_names[2][64];
    char tz_env[128];         /* the TZ variable then ("" unset; '\1' too long: never equal) */
    /* Instants known to share one offset (_convert.c local_zone): every
     * instant in [lo, hi] has gmtoff and isdst, learnt by probes at most a
     * day apart (the zone changes its offset at most once a day). */
    struct {
        int valid;
        int isdst;
        long gmtoff;
        long long lo, hi;
    } tz_span;
    /* interned keys used on every call */
    PyObject *s_ResponseMetadata, *s_RequestId, *s_HTTPStatusCode, *s_HTTPHeaders, *s_RetryAttempts,
        *s_MaxAttemptsReached, *s_Error, *s_Code, *s_Message, *s_response, *s_operation_name, *s_issues,
        *s_FailureReason, *s_last_response, *s_timestamp, *s_endpoint_url;
    /* Result keys already made (interned str, or NULL), direct-mapped by a
     * hash of their bytes: a result's member names repeat on every call. */
    PyObject *key_cache[SMNEO_PY_KEY_CACHE];
    /* The dict subclass an operation method's result is made as
     * (_set_result_type: smneo._glue's JobDescription, JobList), by
     * operation name (the model's); NULL slots unused. */
    const char *result_op[SMNEO_PY_RESULT_TYPES];
    PyObject *result_type[SMNEO_PY_RESULT_TYPES];
} smneo_state;

extern struct PyModuleDef smneo_module_def;

static inline smneo_state *smneo_get_state(PyObject *module)
{
    return (smneo_state *)PyModule_GetState(module);
}

/* ---- _errors.c: the error mapping; _smneo.c: Issue, Request, module functions - */
/* Raises the exception for a failed core call (always returns NULL). `err`
 * may be NULL; it is not cleared. operation may be NULL. `reached` is 1 when
 * the core decided that botocore would set MaxAttemptsReached
 * (smneo_client_max_attempts_reached), 0 otherwise. */
PyObject *smneo_py_raise(smneo_state *st, int code, const smneo_error *err, const char *operation, int reached);
/* The exception smneo_py_raise would raise for err, returned (new reference) and not raised; NULL with an
 * exception set on failure. */
PyObject *smneo_py_exception(smneo_state *st, const smneo_error *err, const char *operation, int reached,
                             PyObject *endpoint_url);
/* The same, with the endpoint URL the call went to (botocore's endpoint_url
 * keyword of the connection errors; NULL when unknown). */
PyObject *smneo_py_raise_at(smneo_state *st, int code, const smneo_error *err, const char *operation,
                            int reached, PyObject *endpoint_url);
/* Fills the exception classes of the state on first use: 0, or -1 with an
 * exception set. */
int smneo_py_errors_ready(smneo_state *st);
/* Installs the core's log sink while logging.getLogger("smneo") is enabled
 * for DEBUG, removes it otherwise (called as each call starts): 0 or -1. */
int smneo_py_log_sync(void);
/* Keeps the pending Python exception (raised by a callback inside a core
 * call on this thread) to become the __cause__ of the CredentialRetrievalError
 * smneo_py_raise raises next. Clears the error indicator. */
void smneo_py_stash_cause(void);
/* Keeps the exception a request hook raised (the call it cancelled raises it). */
void smneo_py_stash_hook_error(void);
/* A Python list of Issue objects for a core issues list (NULL -> []). */
PyObject *smneo_py_issues(smneo_state *st, const smneo_issues *issues);
/* Raises ParamValidationError with a single issue (returns NULL). */
PyObject *smneo_py_param_error(smneo_state *st, const char *path, const char *rule, const char *fmt, ...);
/* Wraps a request into a Request object. */
PyObject *smneo_py_request(smneo_state *st, const smneo_request *req);
/* A dict of response headers, names lower-cased (repeated names joined by ", "). */
PyObject *smneo_py_headers(smneo_state *st, const smneo_response *resp);
/* An ASCII name of up to 64 bytes as an interned str from the state's cache
 * (made and cached on a miss). New reference; NULL without an exception
 * set when the bytes are not such a name, with one on error. */
PyObject *smneo_py_cached_name(smneo_state *st, const char *s, size_t len);
/* Builds a smneo_response from (status, headers mapping or pairs, body bytes/str). */
int smneo_py_make_response(smneo_response **out, int status, PyObject *headers, PyObject *body);

/* ---- _convert.c ---------------------------------------------------------- */
/* Imports the datetime C API for _convert.c (called by the module's exec). */
int smneo_py_convert_init(void);
/* datetime's C API (a PyDateTime_CAPI *) taken from the C module _datetime,
 * so that importing smneo does not import the pure-Python datetime module
 * (PyDateTime_IMPORT does); NULL with an exception set on failure. */
void *smneo_py_datetime_capi(void);
/* Writes a Python object as JSON into w. Unsupported values raise
 * ParamValidationError naming the field path. Returns 0 or -1 (exception set). */
int smneo_py_to_json(smneo_state *st, smneo_jsonw *w, PyObject *obj);
/* Converts params (a dict or None) into a new JSON writer; -1 on error. */
int smneo_py_params(smneo_state *st, PyObject *params, smneo_jsonw **out);
/* Converts a core value into Python objects (dicts, lists, datetimes...). */
PyObject *smneo_py_value(smneo_state *st, const smneo_value *v);
/* The modeled members of a service error's body as a dict (None when the
 * error has no modeled shape or no parsable body). */
PyObject *smneo_py_error_fields(smneo_state *st, const smneo_error *err);
/* A result as boto3 returns it: the body plus ResponseMetadata. */
PyObject *smneo_py_result(smneo_state *st, const smneo_result *r);
/* The same, the top-level dict made as type (a dict subclass; NULL: dict). */
PyObject *smneo_py_result_as(smneo_state *st, const smneo_result *r, PyObject *type);
/* ResponseMetadata for a response (any of the arguments may be 0/NULL). */
PyObject *smneo_py_metadata(smneo_state *st, const smneo_response *resp, const char *request_id, int status,
                            int attempts, int max_attempts_reached);
/* An epoch-seconds float or int from a datetime (naive = UTC) or number; -1 on error. */
int smneo_py_epoch(PyObject *obj, double *out);

/* ---- _artifact.c --------------------------------------------------------- */
int smneo_py_artifact_init(PyObject *module, smneo_state *st);

/* ---- _diagnose.c --------------------------------------------------------- */
int smneo_py_diagnose_init(PyObject *module, smneo_state *st);
/* A diagnosis as the dict smneo.Diagnosis wraps (_diagnose.c). */
PyObject *smneo_py_diagnosis(smneo_state *st, const smneo_diagnosis *d);
/* A log event as {"timestamp": datetime (UTC), "message": str}. */
PyObject *smneo_py_log_event(smneo_state *st, const smneo_log_event *ev);

/* ---- _compile.c ---------------------------------------------------------- */
PyObject *smneo_py_compile(smneo_state *st, smneo_client *client, PyObject *opts, PyObject *callback);
/* The step driver's pieces (smneo.aio): the machine, an event's dict, the outcome. */
int smneo_py_compile_new(smneo_state *st, smneo_client *client, PyObject *opts, smneo_call **out);
PyObject *smneo_py_compile_event(smneo_state *st, const smneo_compile_event *ev);
PyObject *smneo_py_compile_finish(smneo_state *st, int rc, const smneo_compile_result *res, smneo_error *err,
                                  int cancelled_by_callback);
int smneo_py_compile_many_new(smneo_state *st, smneo_client *client, PyObject *jobs, PyObject *opts,
                              smneo_call **out);
PyObject *smneo_py_compile_many_finish(smneo_state *st, int rc, const smneo_compile_many_result *res,
                                       smneo_error *err);
PyObject *smneo_py_compile_many_event(smneo_state *st, size_t job, const smneo_compile_event *ev);
PyObject *smneo_py_compile_many(smneo_state *st, smneo_client *client, PyObject *jobs, PyObject *opts,
                                PyObject *callback);

/* ---- _s3.c -------------------------------------------------------------- */
PyObject *smneo_py_s3_transfer(smneo_state *st, smneo_client *client, int upload, const char *path, const char *uri,
                               PyObject *opts, PyObject *callback);

/* ---- _client.c ----------------------------------------------------------- */
int smneo_py_client_types(PyObject *module, smneo_state *st);

#endif
