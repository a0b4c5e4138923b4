/* smneo/endpoint.h: endpoint resolution, as botocore 1.43 resolves a
 * service's URL. smneo_endpoint_resolve's *out is caller-owned (free());
 * the options and their strings are borrowed for the call. */
#ifndef SMNEO_ENDPOINT_H
#define SMNEO_ENDPOINT_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct smneo_endpoint_options {
    int version;                /* SMNEO_ENDPOINT_OPTIONS_VERSION */
    const char *region;         /* required unless endpoint_url is set */
    const char *endpoint_url;   /* explicit URL (wins over everything) */
    int use_fips;               /* 0: from env/config; 1: on; -1: off */
    int use_dualstack;          /* 0: from env/config; 1: on; -1: off */
    const char *profile;        /* for endpoint_url / use_* from the config file */
    const char *service;        /* "sagemaker" (default), "s3", or a model service:
                                   "sts", "sso", "sso-oidc", "logs" */
    /* version 2 */
    int ignore_configured;      /* 0: AWS_IGNORE_CONFIGURED_ENDPOINT_URLS / profile; 1: ignore the
                                   configured endpoint URLs; -1: use them */
    int use_http;               /* 1: a resolved (not configured) endpoint gets http:// (boto3's
                                   use_ssl=False) */
} smneo_endpoint_options;

#define SMNEO_ENDPOINT_OPTIONS_VERSION 2
#define SMNEO_ENDPOINT_OPTIONS_INIT {.version = SMNEO_ENDPOINT_OPTIONS_VERSION}
/* Zeroes *opts (the size of that version) and sets its version; SMNEO_EINVAL for a version
 * outside 1 to SMNEO_ENDPOINT_OPTIONS_VERSION. For programs that cannot use the macro (FFI). */
SMNEO_EXTERN(int) smneo_endpoint_options_init(smneo_endpoint_options *opts, int version);

/* Resolves the base URL as botocore does: explicit endpoint_url, then
 * AWS_ENDPOINT_URL_SAGEMAKER (AWS_ENDPOINT_URL_S3 for s3, the service's own
 * AWS_ENDPOINT_URL_STS, _SSO, _SSO_OIDC, ... for the others), AWS_ENDPOINT_URL,
 * the profile's endpoint_url settings (all skipped with
 * AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true), then the partition rules
 * (aws, aws-cn, aws-us-gov, FIPS, dual-stack). *out caller-owned (free()). */
SMNEO_EXTERN(int) smneo_endpoint_resolve(char **out, const smneo_endpoint_options *opts, smneo_error *err);

#ifdef __cplusplus
}
#endif
#endif
