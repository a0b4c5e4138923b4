/* smneo/model.h: the services, operations and shapes generated from the
 * public API models.
 *
 * tools/trim_model.py trims botocore's models to what smneo uses (model/
 * <service>.json: SageMaker, STS, SSO, SSO-OIDC, CloudWatch Logs) and
 * tools/gen_model.py turns them into these tables. Everything here is static,
 * read-only data owned by the library: never free it. A pointer returned by a
 * lookup stays valid for the life of the process; NULL means "not found".
 *
 * Two levels:
 *  - the service level: smneo_model_service("logs") gives a service
 *    descriptor (protocol, API version, target prefix, signing name, endpoint
 *    prefix, ...); smneo_service_operation(svc, "GetLogEvents") and
 *    smneo_service_shape(svc, "Tag") look inside one service (shape names
 *    repeat across services: "Tag" is SageMaker's and STS's).
 *  - the SageMaker shortcuts smneo_model_operation(), _operation_count(),
 *    _operation_at() and smneo_model_shape(): the service the client calls
 *    and the bindings expose, the same as the service-level calls on
 *    smneo_model_service("sagemaker").
 * Every operation points back to its service (op->service). */
#ifndef SMNEO_MODEL_H
#define SMNEO_MODEL_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    SMNEO_SHAPE_STRUCTURE = 1,
    SMNEO_SHAPE_LIST,
    SMNEO_SHAPE_MAP,
    SMNEO_SHAPE_STRING,
    SMNEO_SHAPE_INTEGER,
    SMNEO_SHAPE_LONG,
    SMNEO_SHAPE_BOOLEAN,
    SMNEO_SHAPE_TIMESTAMP,
    SMNEO_SHAPE_DOUBLE,
    SMNEO_SHAPE_FLOAT,
    SMNEO_SHAPE_BLOB
} smneo_shape_type;

/* The wire protocol a service speaks (its model's metadata.protocol). */
typedef enum {
    SMNEO_PROTOCOL_JSON = 1,  /* AWS JSON 1.0/1.1: POST /, X-Amz-Target (SageMaker, CloudWatch Logs) */
    SMNEO_PROTOCOL_QUERY,     /* AWS Query: form-encoded POST, XML answers (STS) */
    SMNEO_PROTOCOL_REST_JSON  /* REST-JSON: method + URI template, headers, JSON body (SSO, SSO-OIDC) */
} smneo_protocol_kind;

/* How a request is authenticated (the operation's "auth"/"authtype", else
 * the service's). */
typedef enum {
    SMNEO_AUTH_SIGV4 = 0, /* SigV4-signed with the service's signing name */
    SMNEO_AUTH_NONE       /* sent unsigned (smithy.api#noAuth): STS AssumeRoleWithWebIdentity,
                             SSO GetRoleCredentials, SSO-OIDC CreateToken */
} smneo_auth_type;

/* Where a structure member travels (REST protocols; "location" in the model). */
typedef enum {
    SMNEO_LOCATION_BODY = 0,    /* the body (always, for JSON and Query) */
    SMNEO_LOCATION_HEADER,      /* the header named location_name */
    SMNEO_LOCATION_HEADERS,     /* a map: one header per key, location_name the prefix */
    SMNEO_LOCATION_QUERYSTRING, /* the query parameter named location_name */
    SMNEO_LOCATION_URI,         /* the {location_name} label of the request URI */
    SMNEO_LOCATION_STATUS_CODE  /* output: the HTTP status */
} smneo_location;

/* How an operation pages. */
typedef enum {
    SMNEO_PAGING_NONE = 0,  /* one request, one answer */
    SMNEO_PAGING_TOKEN,     /* a botocore paginator (paginators-1.json): next page while the
                               output token is present; a token that repeats is an error */
    SMNEO_PAGING_SAME_TOKEN /* CloudWatch Logs GetLogEvents (no botocore paginator): the output
                               token is always there; the end is a token equal to the one sent */
} smneo_paging;

typedef struct smneo_shape smneo_shape;
typedef struct smneo_service smneo_service;

typedef struct smneo_member {
    const char *name;
    const smneo_shape *shape;
    int required;
    smneo_location location;
    const char *location_name; /* the header, query key or URI label; NULL: name */
} smneo_member;

struct smneo_shape {
    const char *name;
    smneo_shape_type type;
    int has_min, has_max;
    int64_t min, max;          /* length for string/list/map, value for numbers */
    const char *pattern;       /* the model's regex, or NULL */
    const char *const *enums;  /* enum values, or NULL */
    size_t enum_count;
    const smneo_member *members; /* structure members in model order */
    size_t member_count;
    const smneo_shape *member; /* list element */
    const smneo_shape *key, *value; /* map */
    int exception;             /* error shape */
    int sensitive;             /* a secret: never logged or shown (tokens, secret keys) */
    /* exception shapes */
    const char *error_code;    /* the code on the wire when it differs from name (STS's
                                  MalformedPolicyDocumentException is "MalformedPolicyDocument"), else NULL */
    int error_status;          /* the modeled HTTP status, 0 when the model has none */
    int fault;                 /* a server-side fault (else the caller's) */
};

typedef struct smneo_operation {
    const char *name;          /* "CreateCompilationJob" */
    const char *python_name;   /* "create_compilation_job" */
    const smneo_shape *input;  /* never NULL */
    const smneo_shape *output; /* NULL when the operation returns nothing */
    const char *const *errors; /* modeled error shape names */
    size_t error_count;
    /* Paging (NULL unless paging != SMNEO_PAGING_NONE). result_key is the
     * first of result_keys (FilterLogEvents has two: events, searchedLogStreams). */
    const char *input_token, *output_token, *limit_key, *result_key;
    const smneo_service *service; /* the service it belongs to */
    const char *http_method;   /* "POST", "GET" */
    const char *request_uri;   /* "/", or a REST template such as "/federation/credentials" */
    smneo_auth_type auth;
    const char *result_wrapper; /* Query: the element wrapping the output ("AssumeRoleResult"), else NULL */
    smneo_paging paging;
    const char *const *result_keys;
    size_t result_key_count;
    const char *iter_name;     /* SMNEO_PAGING_TOKEN: the bindings' item iterator, "iter_compilation_jobs"
                                  (list_x -> iter_x); else NULL */
} smneo_operation;

struct smneo_service {
    const char *name;            /* botocore's client name: "sagemaker", "sts", "sso", "sso-oidc", "logs" */
    const char *service_id;      /* the model's serviceId: "SageMaker", "CloudWatch Logs" */
    smneo_protocol_kind protocol;
    const char *api_version;     /* "2017-07-24" */
    const char *json_version;    /* JSON and REST-JSON: "1.1"; else NULL */
    const char *target_prefix;   /* JSON: X-Amz-Target's prefix, "SageMaker", "Logs_20140328"; else NULL */
    const char *signing_name;    /* SigV4 service name: signingName, else endpointPrefix (as botocore) */
    const char *endpoint_prefix; /* "api.sagemaker", "logs", "sts", "portal.sso", "oidc" */
    const char *global_endpoint; /* the model's globalEndpoint ("sts.amazonaws.com"), else NULL */
    const char *xml_namespace;   /* Query: the response namespace, else NULL */
    const char *endpoint_env;    /* botocore's per-service endpoint variable: "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS" */
    const char *config_key;      /* its key in a config file's [services] section: "cloudwatch_logs" */
    smneo_auth_type auth;        /* the service's default */
    const smneo_operation *operations; /* the trimmed operations, in model order */
    size_t operation_count;
    const smneo_shape *const *shapes;  /* every shape they reach, sorted by name */
    size_t shape_count;
};

/* ---- services ------------------------------------------------------------- */

/* A service by botocore's client name ("sagemaker", "sts", "sso",
 * "sso-oidc", "logs"). NULL when unknown. */
SMNEO_EXTERN(const smneo_service *) smneo_model_service(const char *name);
SMNEO_EXTERN(size_t) smneo_model_service_count(void);
SMNEO_EXTERN(const smneo_service *) smneo_model_service_at(size_t i);

/* An operation of svc by API name ("GetLogEvents") or snake name
 * ("get_log_events"). NULL when svc is NULL or the name unknown. */
SMNEO_EXTERN(const smneo_operation *) smneo_service_operation(const smneo_service *svc, const char *name);
SMNEO_EXTERN(size_t) smneo_service_operation_count(const smneo_service *svc);
SMNEO_EXTERN(const smneo_operation *) smneo_service_operation_at(const smneo_service *svc, size_t i);
/* A shape of svc by name. NULL when unknown. */
SMNEO_EXTERN(const smneo_shape *) smneo_service_shape(const smneo_service *svc, const char *name);
/* The exception shape of svc for an error code on the wire (its error_code,
 * else its name). NULL when the service models no such error. */
SMNEO_EXTERN(const smneo_shape *) smneo_service_error_shape(const smneo_service *svc, const char *code);

/* ---- SageMaker shortcuts ---------------------------------------------------- */

/* smneo_service_operation(smneo_model_service("sagemaker"), name) and its
 * friends: the service smneo_client calls and the bindings expose. */
SMNEO_EXTERN(const smneo_operation *) smneo_model_operation(const char *name);
SMNEO_EXTERN(size_t) smneo_model_operation_count(void);
SMNEO_EXTERN(const smneo_operation *) smneo_model_operation_at(size_t i);
SMNEO_EXTERN(const smneo_shape *) smneo_model_shape(const char *name);

/* Member of a structure shape by name, or NULL. */
SMNEO_EXTERN(const smneo_member *) smneo_shape_member(const smneo_shape *s, const char *name);

#ifdef __cplusplus
}
#endif
#endif
