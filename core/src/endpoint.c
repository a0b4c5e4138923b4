/* Endpoint resolution: configured endpoint URLs (option, environment, shared
 * config) and the partition rules of the services' endpoint rule sets
 * (botocore/data/<service>/<version>/endpoint-rule-set-1.json and
 * botocore/data/partitions.json): SageMaker's, S3's, and the generic
 * {prefix}[-fips].{region}.{suffix} of STS (plus its global endpoint), the
 * SSO portal, SSO-OIDC and the other services of the model. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_internal.h"
#include "internal.h"
#include "options_internal.h"
#include "smneo/model.h"
#include "smneo/protocol.h"

typedef struct partition {
    const char *name;
    const char *global_region;   /* the "<partition>-global" pseudo region */
    const char *prefixes[10];    /* regionRegex: ^(p1|p2...)-\w+-\d+$ */
    const char *dns_suffix;
    const char *dualstack_dns_suffix;
} partition;

/* In partitions.json order (the first matching regex wins). */
static const partition PARTITIONS[] = {
    {"aws", "aws-global", {"us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx", NULL}, "amazonaws.com", "api.aws"},
    {"aws-cn", "aws-cn-global", {"cn", NULL}, "amazonaws.com.cn", "api.amazonwebservices.com.cn"},
    {"aws-eusc", NULL, {"eusc-de", NULL}, "amazonaws.eu", "api.amazonwebservices.eu"},
    {"aws-iso", "aws-iso-global", {"us-iso", NULL}, "c2s.ic.gov", "api.aws.ic.gov"},
    {"aws-iso-b", "aws-iso-b-global", {"us-isob", NULL}, "sc2s.sgov.gov", "api.aws.scloud"},
    {"aws-iso-e", "aws-iso-e-global", {"eu-isoe", NULL}, "cloud.adc-e.uk", "api.cloud-aws.adc-e.uk"},
    {"aws-iso-f", "aws-iso-f-global", {"us-isof", NULL}, "csp.hci.ic.gov", "api.aws.hci.ic.gov"},
    {"aws-us-gov", "aws-us-gov-global", {"us-gov", NULL}, "amazonaws.com", "api.aws"},
};

#define NPARTITIONS (sizeof PARTITIONS / sizeof PARTITIONS[0])

static int is_word(char c) { return isalnum((unsigned char)c) || c == '_'; }

/* rest matches \w+-\d+ exactly */
static int word_dash_digits(const char *s)
{
    const char *p = s;
    while (is_word(*p))
        p++;
    /* \w+ is greedy but cannot contain '-', so the last '-' splits. */
    if (p == s || *p != '-')
        return 0;
    p++;
    const char *d = p;
    while (isdigit((unsigned char)*p))
        p++;
    return p > d && *p == '\0';
}

static const partition *find_partition(const char *region)
{
    for (size_t i = 0; i < NPARTITIONS; i++)
        if (PARTITIONS[i].global_region && !strcmp(region, PARTITIONS[i].global_region))
            return &PARTITIONS[i];
    for (size_t i = 0; i < NPARTITIONS; i++) {
        for (const char *const *pre = PARTITIONS[i].prefixes; *pre; pre++) {
            size_t n = strlen(*pre);
            if (!strncmp(region, *pre, n) && region[n] == '-' && word_dash_digits(region + n + 1))
                return &PARTITIONS[i];
        }
    }
    return &PARTITIONS[0]; /* unknown regions fall back to "aws", as botocore */
}

/* botocore's region check: a valid DNS host label. */
static int valid_host_label(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-')
            return 0;
    return 1;
}

/* Copies a configured URL, checking its scheme and dropping trailing '/'. */
static int take_url(char **out, const char *url, const char *source, smneo_error *err)
{
    if (smneo__url_has_userinfo(url))
        return smneo__userinfo_error(err, SMNEO_EINVAL, source);
    const char *host = NULL;
    if (!strncasecmp(url, "https://", 8))
        host = url + 8;
    else if (!strncasecmp(url, "http://", 7))
        host = url + 7;
    if (!host || !*host || *host == '/' || strpbrk(url, " \t\r\n"))
        return smneo__error(err, SMNEO_EINVAL,
                            "invalid endpoint URL '%s' from %s: use an absolute http:// or https:// URL "
                            "such as https://api.sagemaker.us-east-1.amazonaws.com",
                            url, source);
    size_t n = strlen(url);
    while (n > (size_t)(host - url) && url[n - 1] == '/')
        n--;
    *out = smneo__strndup(url, n);
    return *out ? 0 : smneo__error(err, SMNEO_ENOMEM, "out of memory");
}

/* Option (0/1) or environment variable, else the profile setting; 0 default. */
static int flag_setting(int opt, const char *env, const smneo__awsconfig *c, const char *profile, const char *key)
{
    if (opt)
        return opt > 0;
    int v = smneo__parse_bool(smneo__getenv(env));
    if (v >= 0)
        return v;
    v = smneo__parse_bool(smneo__profile_get(c, profile, key));
    return v > 0;
}

/* Strips botocore's FIPS pseudo-region spellings ("fips-us-east-1",
 * "us-east-1-fips"); returns 1 when the region named FIPS. */
static int strip_fips(char *region)
{
    int found = 0;
    char *p;
    while ((p = strstr(region, "fips-")) != NULL) {
        memmove(p, p + 5, strlen(p + 5) + 1);
        found = 1;
    }
    while ((p = strstr(region, "-fips")) != NULL) {
        memmove(p, p + 5, strlen(p + 5) + 1);
        found = 1;
    }
    return found;
}

/* The regions sts_regional_endpoints = legacy sends to sts.amazonaws.com
 * (the UseGlobalEndpoint list of STS's rule set). */
static const char *const STS_LEGACY_REGIONS[] = {
    "ap-northeast-1", "ap-south-1", "ap-southeast-1", "ap-southeast-2", "aws-global", "ca-central-1",
    "eu-central-1", "eu-north-1", "eu-west-1", "eu-west-2", "eu-west-3", "sa-east-1",
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", NULL};

static int configured_url(char **out, const smneo_endpoint_options *opts, const smneo_service *svc, int s3,
                          const smneo__awsconfig *c, const char *profile, smneo_error *err)
{
    *out = NULL;
    int ignore = opts->ignore_configured ? opts->ignore_configured > 0
                                                               : smneo__parse_bool(smneo__getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"));
    if (ignore < 0)
        ignore = smneo__parse_bool(smneo__profile_get(c, profile, "ignore_configured_endpoint_urls")) > 0;
    if (ignore)
        return 0;
    const char *svc_env = s3 ? "AWS_ENDPOINT_URL_S3" : svc->endpoint_env;
    const char *v = smneo__getenv(svc_env);
    if (v)
        return take_url(out, v, svc_env, err);
    v = smneo__getenv("AWS_ENDPOINT_URL");
    if (v)
        return take_url(out, v, "AWS_ENDPOINT_URL", err);
    const char *services = smneo__profile_get(c, profile, "services");
    if (services && *services) {
        char *section = smneo__aprintf("services %s", services);
        if (!section)
            return smneo__error(err, SMNEO_ENOMEM, "out of memory");
        char *key = smneo__aprintf("%s.endpoint_url", s3 ? "s3" : svc->config_key);
        v = key ? smneo__config_section_get(c, section, key) : NULL;
        free(key);
        if (!v && !smneo__config_has_section(c, section)) {
            /* A missing services section is an error in botocore too. */
            int rc = smneo__error(err, SMNEO_ERROR,
                                  "profile '%s' sets services = %s but the config file %s has no "
                                  "[services %s] section: add it or remove the setting",
                                  profile, services, c->config_path ? c->config_path : "(none)", services);
            free(section);
            return rc;
        }
        free(section);
        if (v) {
            char *src = smneo__aprintf("the [services %s] section of %s", services,
                                       c->config_path ? c->config_path : "the config file");
            int rc = take_url(out, v, src ? src : "the config file", err);
            free(src);
            return rc;
        }
    }
    v = smneo__profile_get(c, profile, "endpoint_url");
    if (v && *v) {
        char *src = smneo__aprintf("the endpoint_url of profile '%s'", profile);
        int rc = take_url(out, v, src ? src : "the config file", err);
        free(src);
        return rc;
    }
    return 0;
}

int smneo_endpoint_resolve(char **out, const smneo_endpoint_options *opts, smneo_error *err)
{
    if (!out || !opts)
        return smneo__error(err, SMNEO_EINVAL, "smneo_endpoint_resolve: out and opts are required");
    *out = NULL;
    smneo_endpoint_options full;
    int orc = smneo__options_copy(&full, opts, &smneo__endpoint_options_layout, err);
    if (orc)
        return orc;
    opts = &full;
    int s3 = 0;
    const smneo_service *svc = smneo_model_service("sagemaker");
    if (opts->service && *opts->service) {
        if (!strcmp(opts->service, "s3")) {
            s3 = 1;
        } else if (!(svc = smneo_model_service(opts->service))) {
            smneo_buf names = SMNEO_BUF_INIT;
            for (size_t i = 0; i < smneo_model_service_count(); i++)
                smneo__buf_printf(&names, "\"%s\", ", smneo_model_service_at(i)->name);
            int rc = smneo__error(err, SMNEO_EINVAL, "endpoint service '%s' is not supported: use %sor \"s3\"",
                                  opts->service, names.data ? names.data : "");
            smneo__buf_free(&names);
            return rc;
        }
    }
    int sagemaker = !s3 && !strcmp(svc->name, "sagemaker");
    if (opts->endpoint_url && *opts->endpoint_url)
    {
        char *src = s3          ? smneo__strdup("the endpoint_url option for S3")
                    : sagemaker ? smneo__strdup("the endpoint_url option")
                                : smneo__aprintf("the endpoint_url option for %s", svc->service_id);
        int rc = take_url(out, opts->endpoint_url, src ? src : "the endpoint_url option", err);
        free(src);
        return rc;
    }

    smneo__awsconfig *c = NULL;
    int rc = smneo__awsconfig_load(&c, err);
    if (rc)
        return rc;
    const char *profile = smneo__profile_name(opts->profile);
    rc = configured_url(out, opts, svc, s3, c, profile, err);
    if (rc || *out) {
        smneo__awsconfig_free(c);
        return rc;
    }
    if (!opts->region || !*opts->region) {
        smneo__awsconfig_free(c);
        return smneo__error(err, SMNEO_ENOREGION,
                            "no region to build the %s endpoint from: set a region (option, AWS_REGION, "
                            "AWS_DEFAULT_REGION or the profile's region) or an endpoint URL",
                            s3 ? "S3" : svc->service_id);
    }
    if (!valid_host_label(opts->region)) {
        smneo__awsconfig_free(c);
        return smneo__error(err, SMNEO_EINVAL,
                            "region '%s' is not valid: a region is a DNS label of letters, digits and '-' "
                            "such as us-east-1",
                            opts->region);
    }
    char *region = smneo__strdup(opts->region);
    if (!region) {
        smneo__awsconfig_free(c);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    int fips = strip_fips(region);
    if (!fips)
        fips = flag_setting(opts->use_fips, "AWS_USE_FIPS_ENDPOINT", c, profile, "use_fips_endpoint");
    int dual = flag_setting(opts->use_dualstack, "AWS_USE_DUALSTACK_ENDPOINT", c, profile, "use_dualstack_endpoint");
    /* STS: sts_regional_endpoints (AWS_STS_REGIONAL_ENDPOINTS, then the
     * profile); "regional" is botocore's default. */
    int sts_legacy = 0;
    if (!s3 && !strcmp(svc->name, "sts")) {
        const char *mode = smneo__getenv("AWS_STS_REGIONAL_ENDPOINTS");
        if (!mode)
            mode = smneo__profile_get(c, profile, "sts_regional_endpoints");
        sts_legacy = mode && !strcasecmp(mode, "legacy");
    }
    smneo__awsconfig_free(c);
    if (!valid_host_label(region)) {
        rc = smneo__error(err, SMNEO_EINVAL, "region '%s' is not valid once its FIPS marker is removed",
                          opts->region);
        free(region);
        return rc;
    }
    const partition *p = find_partition(region);
    if (s3) {
        *out = smneo__aprintf("https://s3%s%s.%s.%s", fips ? "-fips" : "", dual ? ".dualstack" : "", region,
                              p->dns_suffix);
    } else if (!sagemaker) {
        /* {prefix}[-fips].{region}.{suffix}, as the rule sets of STS, the SSO
         * portal, SSO-OIDC and CloudWatch Logs give it. */
        const char *prefix = svc->endpoint_prefix;
        int sts = !strcmp(svc->name, "sts"), global = 0;
        if (sts && !fips && !dual) {
            global = !strcmp(region, "aws-global");
            for (const char *const *g = STS_LEGACY_REGIONS; sts_legacy && *g && !global; g++)
                global = !strcmp(region, *g);
        }
        /* STS and Logs in GovCloud are FIPS endpoints already. */
        if (fips && !dual && (sts || !strcmp(svc->name, "logs")) && !strcmp(p->name, "aws-us-gov"))
            fips = 0;
        if (global && svc->global_endpoint)
            *out = smneo__aprintf("https://%s", svc->global_endpoint);
        else
            *out = smneo__aprintf("https://%s%s.%s.%s", prefix, fips ? "-fips" : "", region,
                                  dual ? p->dualstack_dns_suffix : p->dns_suffix);
    } else if (fips && dual) {
        *out = smneo__aprintf("https://api.sagemaker-fips.%s.%s", region, p->dualstack_dns_suffix);
    } else if (fips) {
        if (!strcmp(p->name, "aws") || !strcmp(p->name, "aws-us-gov"))
            *out = smneo__aprintf("https://api-fips.sagemaker.%s.amazonaws.com", region);
        else
            *out = smneo__aprintf("https://api.sagemaker-fips.%s.%s", region, p->dns_suffix);
    } else if (dual) {
        *out = smneo__aprintf("https://api.sagemaker.%s.%s", region, p->dualstack_dns_suffix);
    } else {
        *out = smneo__aprintf("https://api.sagemaker.%s.%s", region, p->dns_suffix);
    }
    free(region);
    if (*out && opts->use_http)
        memmove(*out + 4, *out + 5, strlen(*out + 5) + 1); /* "https://" -> "http://" */
    return *out ? 0 : smneo__error(err, SMNEO_ENOMEM, "out of memory");
}
