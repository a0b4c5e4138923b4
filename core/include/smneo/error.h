/* smneo/error.h: functions of the error struct (smneo_error, declared in
 * common.h with the codes). The walk hands borrowed views to the visitor,
 * valid during the callback only. */
#ifndef SMNEO_ERROR_H
#define SMNEO_ERROR_H

#include "common.h"
#include "value.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Walks the modeled members of a service error's body (those of the error
 * shape named by err->service_code, e.g. ResourceNotFound's Message) as one
 * object, the way botocore merges them into its error response. Returns the
 * walk's result, or SMNEO_EABSENT when the error has no modeled shape or
 * no parsable body. */
SMNEO_EXTERN(int) smneo_error_walk(const smneo_error *err, const smneo_visitor *vis, void *payload);

/* The API name of the operation whose request failed ("DescribeCompilationJob",
 * "PutObject", "HeadObject", "GetCallerIdentity"), for an error that carries
 * the service's answer (err->response); NULL for one that does not (no
 * request was sent, the connection failed). Static. A call that makes several
 * requests (smneo_compile, smneo_compile_many, smneo_s3_upload) reports the
 * one that failed: an S3 error during compile is PutObject's, not
 * CreateCompilationJob's. The bindings name it in their errors (Python's
 * ClientError.operation_name, Lua's err.operation, the CLI's message). */
SMNEO_EXTERN(const char *) smneo_error_operation(const smneo_error *err);

#ifdef __cplusplus
}
#endif
#endif
