/* smneo/log.h: debug logging (off by default).
 *
 * Set SMNEO_DEBUG=1 to log to stderr, or install a callback. Requests and
 * responses are logged with secrets (secret keys, session tokens, signatures)
 * redacted. */
#ifndef SMNEO_LOG_H
#define SMNEO_LOG_H

#include "http.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { SMNEO_LOG_DEBUG = 0, SMNEO_LOG_INFO = 1, SMNEO_LOG_WARN = 2 } smneo_log_level;

typedef void (*smneo_log_cb)(int level, const char *message, void *payload);

/* Installs a process-wide sink (NULL removes it; SMNEO_DEBUG still logs to stderr). */
SMNEO_EXTERN(void) smneo_log_set_callback(smneo_log_cb fn, void *payload);
SMNEO_EXTERN(int) smneo_log_enabled(void);
SMNEO_EXTERN(void) smneo_log(int level, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Logs a request/response with secrets redacted: the Authorization
 * signature or token, and headers, query parameters, form fields, JSON
 * members and XML elements whose names carry a secret (docs/transport.md). */
SMNEO_EXTERN(void) smneo_log_request(const smneo_request *req);
SMNEO_EXTERN(void) smneo_log_response(const smneo_response *resp);
/* Writes a redacted copy of a request as text (caller-owned, free()). */
SMNEO_EXTERN(int) smneo_request_redacted(char **out, const smneo_request *req);

#ifdef __cplusplus
}
#endif
#endif
