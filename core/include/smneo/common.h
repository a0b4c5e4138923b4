/* smneo/common.h: export macro, error codes, the caller-owned error struct.
 *
 * Every fallible call returns int: 0 on success or a negative SMNEO_E* code.
 * Details go into a caller-owned smneo_error (may be NULL when the caller only
 * wants the code). Nothing is kept in a process-wide global. */
#ifndef SMNEO_COMMON_H
#define SMNEO_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "version.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(SMNEO_BUILDING) && defined(__GNUC__)
#define SMNEO_EXTERN(type) __attribute__((visibility("default"))) type
#else
#define SMNEO_EXTERN(type) type
#endif

/* Result codes. Stable: bindings map them to exceptions / error codes. */
enum {
    SMNEO_OK = 0,
    SMNEO_ERROR = -1,          /* generic failure (see message) */
    SMNEO_ENOMEM = -2,
    SMNEO_EINVAL = -3,         /* misuse of the C API (NULL argument, bad option) */
    SMNEO_EVALIDATION = -4,    /* parameters refused by validation; err->issues */
    SMNEO_ENOCREDENTIALS = -5, /* no credentials found anywhere in the chain */
    SMNEO_ECREDENTIALS = -6,   /* a credential source exists but failed */
    SMNEO_ENOREGION = -7,
    SMNEO_ESERVICE = -8,       /* the service answered with an error (err->service_code) */
    SMNEO_ENOTFOUND = -9,      /* ResourceNotFound */
    SMNEO_ETHROTTLED = -10,    /* throttling error after retries */
    SMNEO_ECONNECT = -11,      /* could not connect (refused, unreachable) */
    SMNEO_EDNS = -12,          /* name resolution failed */
    SMNEO_ETLS = -13,          /* TLS handshake / certificate verification failed */
    SMNEO_ETIMEOUT = -14,      /* connect or read timeout */
    SMNEO_EPROTOCOL = -15,     /* malformed or truncated response */
    SMNEO_EDIGEST = -16,       /* digest mismatch */
    SMNEO_EUNSAFE = -17,       /* unsafe archive refused */
    SMNEO_EIO = -18,           /* local file system error */
    SMNEO_EJOBFAILED = -19,    /* waiter: job FAILED (err->message holds FailureReason) */
    SMNEO_EJOBSTOPPED = -20,   /* waiter: job STOPPED */
    SMNEO_EWAITTIMEOUT = -21,  /* waiter: overall timeout */
    SMNEO_ECANCELLED = -22,    /* cancelled by a callback or the caller */
    SMNEO_EUNSUPPORTED = -23,  /* a feature smneo does not support (yet) */
    SMNEO_EINUSE = -24,        /* ResourceInUse */
    SMNEO_ELIMIT = -25,        /* ResourceLimitExceeded */
    SMNEO_EAUTH = -26,         /* the service refused the signature / credentials */
    SMNEO_EARCHIVE = -27,      /* artifact: not a readable archive / bad layout */
    SMNEO_ECLOSED = -28,       /* the connection was closed (or reset) before a
                                  complete response arrived */
    SMNEO_EPAGINATION = -29,   /* paginator: the service sent back the token it
                                  was just sent (botocore's PaginationError) */
    SMNEO_ESSOTOKEN = -30,     /* the SSO token is not cached, or expired and could not be
                                  refreshed (botocore's TokenRetrievalError): the message
                                  names the `aws sso login` command to run */
    SMNEO_ESSOUNAUTHORIZED = -31, /* the SSO session expired or the portal refused its token
                                     (botocore's UnauthorizedSSOTokenError); idem */
    SMNEO_EABSENT = -32,       /* what was asked for is not there (smneo_value_get on a missing
                                  member, smneo_error_walk on an error without a modeled body) */
    SMNEO_ITEROVER = -100      /* iteration finished: not an error */
};

typedef enum {
    SMNEO_SEVERITY_ERROR = 0,
    SMNEO_SEVERITY_WARNING = 1
} smneo_severity;

typedef struct smneo_issues smneo_issues; /* validation issues, see validate.h */
struct smneo_response;                    /* see http.h */

/* Caller-owned error details. Initialise with SMNEO_ERROR_INIT, release the
 * strings with smneo_error_clear() (which leaves it ready for reuse). Strings
 * are NULL when not applicable. Never contains secrets. */
typedef struct smneo_error {
    int code;             /* the SMNEO_E* code returned */
    char *message;        /* human readable, says what to change */
    char *service_code;   /* service error code, e.g. "ResourceNotFound" */
    char *request_id;     /* x-amzn-RequestId of the failing response */
    int http_status;      /* 0 when no response was received */
    int retryable;        /* 1 when the error class is retryable */
    int attempts;         /* attempts made (1 = no retry) */
    char *field;          /* field path for a single-field error, if any */
    smneo_issues *issues; /* validation issues (owned), for SMNEO_EVALIDATION */
    struct smneo_response *response; /* the failing response (owned), or NULL */
} smneo_error;

#define SMNEO_ERROR_INIT {0, NULL, NULL, NULL, 0, 0, 0, NULL, NULL, NULL}

SMNEO_EXTERN(void) smneo_error_clear(smneo_error *err);
/* The code's stable name (SMNEO_ENOTFOUND: "ResourceNotFound",
 * SMNEO_ETHROTTLED: "Throttled"; "UnknownError" for a code this library does
 * not know). Never NULL, static. One table for C, Lua, Python and the CLI. */
SMNEO_EXTERN(const char *) smneo_error_name(int code);
/* The class of problem the code belongs to, what a caller acts on: "usage",
 * "validation", "credentials", "configuration", "service", "connection",
 * "protocol", "artifact", "io", "job", "cancelled", "absent", "iteration",
 * "internal", "ok". Never NULL, static. */
SMNEO_EXTERN(const char *) smneo_error_kind(int code);
/* The same as smneo_error_name (its older name). */
SMNEO_EXTERN(const char *) smneo_strerror(int code);

/* Version of the library this program runs with, e.g. "1.0.0": the
 * SMNEO_VERSION (version.h) it was built with. */
SMNEO_EXTERN(const char *) smneo_version(void);

#ifdef __cplusplus
}
#endif
#endif
