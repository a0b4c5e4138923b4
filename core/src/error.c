/* The error codes' one vocabulary (names and kinds, used by C, Lua, Python
 * and the CLI) and the error struct's helpers. Calls only down: into http.c
 * (smneo_response_free) and issues.c (smneo_issues_free), neither of which
 * calls back, so util.c, http.c and issues.c no longer call each other in a
 * circle. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "smneo/compile.h"
#include "smneo/error.h"
#include "smneo/http.h"
#include "smneo/validate.h"

/* One row per code: its stable name and its kind (the class of problem a
 * caller acts on: docs/c-api.md, "Errors"). */
static const struct {
    int code;
    const char *name;
    const char *kind;
} codes[] = {
    {SMNEO_OK, "OK", "ok"},
    {SMNEO_ERROR, "Error", "internal"},
    {SMNEO_ENOMEM, "OutOfMemory", "internal"},
    {SMNEO_EINVAL, "InvalidArgument", "usage"},
    {SMNEO_EVALIDATION, "ValidationError", "validation"},
    {SMNEO_ENOCREDENTIALS, "NoCredentials", "credentials"},
    {SMNEO_ECREDENTIALS, "CredentialsError", "credentials"},
    {SMNEO_ESSOTOKEN, "TokenRetrievalError", "credentials"},
    {SMNEO_ESSOUNAUTHORIZED, "UnauthorizedSSOTokenError", "credentials"},
    {SMNEO_ENOREGION, "NoRegion", "configuration"},
    {SMNEO_ESERVICE, "ServiceError", "service"},
    {SMNEO_ENOTFOUND, "ResourceNotFound", "service"},
    {SMNEO_ETHROTTLED, "Throttled", "service"},
    {SMNEO_EINUSE, "ResourceInUse", "service"},
    {SMNEO_ELIMIT, "ResourceLimitExceeded", "service"},
    {SMNEO_EAUTH, "AuthFailure", "service"},
    {SMNEO_ECONNECT, "ConnectionError", "connection"},
    {SMNEO_EDNS, "DNSError", "connection"},
    {SMNEO_ETLS, "TLSError", "connection"},
    {SMNEO_ETIMEOUT, "Timeout", "connection"},
    {SMNEO_ECLOSED, "ConnectionClosed", "connection"},
    {SMNEO_EPROTOCOL, "ProtocolError", "protocol"},
    {SMNEO_EPAGINATION, "PaginationError", "protocol"},
    {SMNEO_EDIGEST, "DigestMismatch", "artifact"},
    {SMNEO_EUNSAFE, "UnsafeArchive", "artifact"},
    {SMNEO_EARCHIVE, "ArchiveError", "artifact"},
    {SMNEO_EIO, "IOError", "io"},
    {SMNEO_EJOBFAILED, "JobFailed", "job"},
    {SMNEO_EJOBSTOPPED, "JobStopped", "job"},
    {SMNEO_EWAITTIMEOUT, "WaiterTimeout", "job"},
    {SMNEO_ECANCELLED, "Cancelled", "cancelled"},
    {SMNEO_EUNSUPPORTED, "Unsupported", "usage"},
    {SMNEO_EABSENT, "Absent", "absent"},
    {SMNEO_ITEROVER, "IterOver", "iteration"},
};

static int row(int code)
{
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (codes[i].code == code)
            return (int)i;
    return -1;
}

const char *smneo_error_name(int code)
{
    int i = row(code);
    return i < 0 ? "UnknownError" : codes[i].name;
}

const char *smneo_error_kind(int code)
{
    int i = row(code);
    return i < 0 ? "internal" : codes[i].kind;
}

const char *smneo_strerror(int code) { return smneo_error_name(code); }

const char *smneo_compile_event_name(int kind)
{
    static const char *const names[] = {NULL,      "PACKED",   "UPLOAD",  "UPLOADED", "CREATED", "STATUS",
                                        "DOWNLOAD", "VERIFIED", "WARNING", "STOPPING", "WAITING", "PACK",
                                        "LOG",      "QUEUED",   "SKIPPED", "REATTACHED", "DONE"};
    return kind >= 1 && (size_t)kind < sizeof names / sizeof names[0] ? names[kind] : "UNKNOWN";
}

int smneo__verror(smneo_error *err, int code, const char *fmt, va_list ap)
{
    if (err) {
        smneo_error_clear(err);
        err->code = code;
        if (fmt) {
            va_list ap2;
            va_copy(ap2, ap);
            int n = vsnprintf(NULL, 0, fmt, ap);
            if (n >= 0) {
                err->message = malloc((size_t)n + 1);
                if (err->message)
                    vsnprintf(err->message, (size_t)n + 1, fmt, ap2);
            }
            va_end(ap2);
        }
    }
    return code;
}

int smneo__error(smneo_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    smneo__verror(err, code, fmt, ap);
    va_end(ap);
    return code;
}

void smneo_error_clear(smneo_error *err)
{
    if (!err)
        return;
    free(err->message);
    free(err->service_code);
    free(err->request_id);
    free(err->field);
    smneo_issues_free(err->issues);
    smneo_response_free(err->response);
    memset(err, 0, sizeof(*err));
}

const char *smneo_error_operation(const smneo_error *err)
{
    return err && err->response ? err->response->operation : NULL;
}

/* Here rather than in http.c, beside the URL check it reports, so that
 * http.c calls no error helper and error.c can free responses. */
int smneo__userinfo_error(smneo_error *err, int code, const char *source)
{
    return smneo__error(err, code,
                        "the endpoint URL from %s contains user information (user:password@ before the host): "
                        "smneo never sends credentials in a URL; remove the part up to '@'",
                        source);
}
