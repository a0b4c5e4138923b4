/* Options structs and their versions: the layouts, the smneo_x_options_init
 * functions and the one copy of a caller's struct (options_internal.h). */
#include "options_internal.h"

#include <string.h>

#include "internal.h"

int smneo__options_copy(void *dst, const void *src, const smneo__options_layout *l, smneo_error *err)
{
    size_t full = l->sizes[l->current - 1];
    memset(dst, 0, full);
    *(int *)dst = l->current;
    if (!src)
        return 0;
    int v = *(const int *)src;
    if (v < 1 || v > l->current)
        return smneo__error(err, SMNEO_EINVAL,
                            "%s.version is %d: this library accepts 1 to %d (initialise the struct with "
                            "%s or %s_init)",
                            l->name, v, l->current, l->init_macro, l->name);
    memcpy(dst, src, l->sizes[v - 1]);
    *(int *)dst = l->current;
    return 0;
}

static int options_init(void *o, int version, const smneo__options_layout *l)
{
    if (!o || version < 1 || version > l->current)
        return SMNEO_EINVAL;
    memset(o, 0, l->sizes[version - 1]);
    *(int *)o = version;
    return 0;
}

/* One layout and one smneo_<name>_init per struct: the sizes of versions
 * 1 .. current - 1 (offsetof the first member of the next version), then
 * sizeof for the current version. */
#define SMNEO__OPTIONS(name, NAME, ...)                                                                \
    static const size_t name##_sizes[] = {__VA_ARGS__ sizeof(smneo_##name)};                           \
    const smneo__options_layout smneo__##name##_layout = {"smneo_" #name, "SMNEO_" #NAME "_INIT",      \
                                                          SMNEO_##NAME##_VERSION, name##_sizes};                               \
    int smneo_##name##_init(smneo_##name *o, int version)                                              \
    {                                                                                                  \
        return options_init(o, version, &smneo__##name##_layout);                                      \
    }                                                                                                  \
    typedef char smneo__##name##_versions_listed[(sizeof name##_sizes / sizeof name##_sizes[0]) ==     \
                                                         SMNEO_##NAME##_VERSION                        \
                                                     ? 1                                               \
                                                     : -1]

SMNEO__OPTIONS(client_options, CLIENT_OPTIONS, offsetof(smneo_client_options, retry_defaults),
               offsetof(smneo_client_options, mfa_cb), );
SMNEO__OPTIONS(paginate_options, PAGINATE_OPTIONS, );
SMNEO__OPTIONS(wait_options, WAIT_OPTIONS, );
SMNEO__OPTIONS(compile_options, COMPILE_OPTIONS, offsetof(smneo_compile_options, follow_logs),
               offsetof(smneo_compile_options, vpc_config_json), );
SMNEO__OPTIONS(compile_many_options, COMPILE_MANY_OPTIONS, );
SMNEO__OPTIONS(pack_options, PACK_OPTIONS, );
SMNEO__OPTIONS(inspect_options, INSPECT_OPTIONS, offsetof(smneo_inspect_options, max_bytes), );
SMNEO__OPTIONS(extract_options, EXTRACT_OPTIONS, );
SMNEO__OPTIONS(digest_options, DIGEST_OPTIONS, );
SMNEO__OPTIONS(curl_options, CURL_OPTIONS, offsetof(smneo_curl_options, proxies_set), );
SMNEO__OPTIONS(validate_options, VALIDATE_OPTIONS, );
SMNEO__OPTIONS(s3_options, S3_OPTIONS, offsetof(smneo_s3_options, content_type), );
SMNEO__OPTIONS(sigv4_options, SIGV4_OPTIONS, );
SMNEO__OPTIONS(chain_options, CHAIN_OPTIONS, offsetof(smneo_chain_options, region), );
SMNEO__OPTIONS(joblogs_options, JOBLOGS_OPTIONS, );
SMNEO__OPTIONS(endpoint_options, ENDPOINT_OPTIONS, offsetof(smneo_endpoint_options, ignore_configured), );
SMNEO__OPTIONS(build_options, BUILD_OPTIONS, );

#define SMNEO__COMPILE_OPTION(key, member, type, per_job)                                               \
    {key, SMNEO_COMPILE_OPTION_##type, offsetof(smneo_compile_options, member), per_job}

static const smneo_compile_option_info compile_option_table[] = {
    SMNEO__COMPILE_OPTION("model", model, STRING, 1),
    SMNEO__COMPILE_OPTION("framework", framework, STRING, 1),
    SMNEO__COMPILE_OPTION("data_input_config", data_input_config, JSON, 1),
    SMNEO__COMPILE_OPTION("framework_version", framework_version, STRING, 1),
    SMNEO__COMPILE_OPTION("target_device", target_device, STRING, 1),
    SMNEO__COMPILE_OPTION("target_os", target_os, STRING, 1),
    SMNEO__COMPILE_OPTION("target_arch", target_arch, STRING, 1),
    SMNEO__COMPILE_OPTION("target_accelerator", target_accelerator, STRING, 1),
    SMNEO__COMPILE_OPTION("compiler_options", compiler_options, JSON, 1),
    SMNEO__COMPILE_OPTION("role_arn", role_arn, STRING, 1),
    SMNEO__COMPILE_OPTION("s3_bucket", s3_bucket, STRING, 1),
    SMNEO__COMPILE_OPTION("s3_prefix", s3_prefix, STRING, 1),
    SMNEO__COMPILE_OPTION("job_name", job_name, STRING, 1),
    SMNEO__COMPILE_OPTION("output_dir", output_dir, STRING, 1),
    SMNEO__COMPILE_OPTION("extract", extract, FLAG, 1),
    SMNEO__COMPILE_OPTION("timeout", timeout, SECONDS, 1),
    SMNEO__COMPILE_OPTION("delay", delay, SECONDS, 1),
    SMNEO__COMPILE_OPTION("max_delay", max_delay, SECONDS, 1),
    SMNEO__COMPILE_OPTION("max_runtime_seconds", max_runtime_seconds, INTEGER, 1),
    SMNEO__COMPILE_OPTION("tags", tags_json, JSON, 1),
    SMNEO__COMPILE_OPTION("kms_key_id", kms_key_id, STRING, 1),
    SMNEO__COMPILE_OPTION("keep_job_on_cancel", keep_job_on_cancel, FLAG, 0),
    SMNEO__COMPILE_OPTION("follow_logs", follow_logs, FLAG, 1),
    SMNEO__COMPILE_OPTION("vpc_config", vpc_config_json, JSON, 1),
    SMNEO__COMPILE_OPTION("model_package_version_arn", model_package_version_arn, STRING, 1),
    SMNEO__COMPILE_OPTION("max_wait_seconds", max_wait_seconds, INTEGER, 1),
    SMNEO__COMPILE_OPTION("max_pending_seconds", max_pending_seconds, INTEGER, 1),
};

const smneo_compile_option_info *smneo_compile_option_at(size_t i)
{
    return i < sizeof compile_option_table / sizeof compile_option_table[0] ? &compile_option_table[i] : NULL;
}
