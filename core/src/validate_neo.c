/* Validation, part 2: the Neo rules from the API documentation (see
 * docs/validation.md for every rule id). The generic shape checks have run
 * already; here every member is re-read defensively (it may have any JSON
 * type) and a rule only speaks when its inputs are well-formed.
 *
 * Policy: a false refusal is worse than a missed warning. What the service
 * documents as required or impossible is an error; what the documentation
 * merely does not list is a warning. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "validate_internal.h"

#define P_DIC "InputConfig.DataInputConfig"
#define P_CO "OutputConfig.CompilerOptions"

/* ------------------------------------------------------------------ targets */

typedef struct target {
    const char *device;    /* known TargetDevice, or NULL */
    int has_device;        /* TargetDevice given (maybe unknown) */
    int platform;          /* TargetPlatform given as an object */
    const char *os, *arch, *accel; /* TargetPlatform members (strings) or NULL */
    const char *framework; /* known InputConfig.Framework, or NULL */
} target;

static int in_list(const char *s, const char *const *list)
{
    for (; s && *list; list++)
        if (!strcmp(s, *list))
            return 1;
    return 0;
}

static const char *const CLOUD_CPU[] = {"ml_c4", "ml_c5", "ml_m4", "ml_m5", "ml_c6g", "ml_m6g", NULL};
static const char *const CLOUD_GPU[] = {"ml_p2", "ml_p3", "ml_g4dn", NULL};
static const char *const NEURON[] = {"ml_inf1", "ml_inf2", "ml_trn1", NULL};
static const char *const JETSON[] = {"jetson_tx1", "jetson_tx2", "jetson_nano", "jetson_xavier", NULL};

static int is_cloud(const char *dev) { return dev && !strncmp(dev, "ml_", 3); }
static int is_neuron(const char *dev) { return in_list(dev, NEURON); }
static int is_edge(const char *dev) { return dev && !is_cloud(dev); }
static int is_nvidia_target(const target *t)
{
    if (t->platform)
        return t->accel && !strcmp(t->accel, "NVIDIA");
    return in_list(t->device, CLOUD_GPU) || in_list(t->device, JETSON);
}
static int is_android(const target *t) { return t->platform && t->os && !strcmp(t->os, "ANDROID"); }
/* A CPU-only TargetPlatform (no accelerator). */
static int is_cpu_platform(const target *t) { return t->platform && !t->accel; }

static const char *known_enum(const cJSON *v, const smneo_shape *s)
{
    if (!cJSON_IsString(v) || !v->valuestring || !s || !s->enums)
        return NULL;
    for (size_t i = 0; i < s->enum_count; i++)
        if (!strcmp(s->enums[i], v->valuestring))
            return s->enums[i];
    return NULL;
}

static const char *str_member(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    return (cJSON_IsString(v) && v->valuestring) ? v->valuestring : NULL;
}

static void shorten(char *out, size_t n, const char *s)
{
    size_t len = strlen(s);
    if (len < n) {
        memcpy(out, s, len + 1);
    } else {
        size_t cut = n - 4;
        while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
            cut--;
        memcpy(out, s, cut);
        memcpy(out + cut, "...", 4);
    }
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = '?';
}

/* ------------------------------------------------------------------ shapes in DataInputConfig */

static int is_range_dim(const char *s)
{
    /* "a..b" with a >= 1 and b >= a, or b == -1 (unbounded) */
    char *end;
    long a = strtol(s, &end, 10);
    if (end == s || a < 1 || strncmp(end, "..", 2))
        return 0;
    const char *q = end + 2;
    long b = strtol(q, &end, 10);
    if (end == q || *end)
        return 0;
    return b == -1 || b >= a;
}

/* Checks one dimension; returns its value (> 0), 0 for a valid range, -1 on error. */
static long check_dim(smneo__vctx *ctx, const cJSON *d, const char *path, int allow_ranges)
{
    int64_t iv;
    if (smneo__json_int(d, &iv)) {
        if (iv > 0)
            return iv > 0x7fffffff ? 0x7fffffff : (long)iv;
        V_ERR(ctx, path, "neo.data-input-config.dimension",
              "%s is %lld: Neo compiles static shapes only, so every dimension must be a positive integer "
              "(use the real size, e.g. 1 for the batch)",
              path, (long long)iv);
        return -1;
    }
    if (cJSON_IsNull(d)) {
        V_ERR(ctx, path, "neo.data-input-config.dimension",
              "%s is null (a dynamic dimension): Neo compiles static shapes only, give the real size", path);
        return -1;
    }
    if (cJSON_IsString(d) && d->valuestring && allow_ranges && is_range_dim(d->valuestring))
        return 0;
    if (cJSON_IsString(d) && d->valuestring && is_range_dim(d->valuestring)) {
        V_ERR(ctx, path, "neo.data-input-config.dimension",
              "%s is a range (\"%s\"): ranges are for TargetDevice coreml only; give a positive integer", path,
              d->valuestring);
        return -1;
    }
    if (cJSON_IsNumber(d)) {
        V_ERR(ctx, path, "neo.data-input-config.dimension", "%s is %g: dimensions must be whole positive numbers",
              path, d->valuedouble);
        return -1;
    }
    V_ERR(ctx, path, "neo.data-input-config.dimension", "%s must be a positive integer%s", path,
          allow_ranges ? " or a range such as \"1..10\"" : "");
    return -1;
}

#define MAX_RANK 16

/* A shape: a non-empty list of dimensions. dims[] receives the values (0 for
 * a range) when rank <= MAX_RANK. Returns the rank, or -1 when it is not a
 * list (reported) ; *bad is set when a dimension was refused. */
static int check_shape(smneo__vctx *ctx, const cJSON *shape, const char *path, int allow_ranges, long *dims,
                       int *bad)
{
    *bad = 0;
    if (!cJSON_IsArray(shape)) {
        V_ERR(ctx, path, "neo.data-input-config.form",
              "%s must be a shape, a list of positive integers such as [1,3,224,224]", path);
        return -1;
    }
    int rank = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, shape)
    {
        char *dp = smneo__path_index(ctx, path, (size_t)rank);
        if (!dp)
            return -1;
        long v = check_dim(ctx, d, dp, allow_ranges);
        free(dp);
        if (v < 0)
            *bad = 1;
        if (rank < MAX_RANK)
            dims[rank] = v;
        rank++;
    }
    if (rank == 0) {
        V_ERR(ctx, path, "neo.data-input-config.form", "%s is an empty shape: give the input's dimensions", path);
        *bad = 1;
    }
    return rank;
}

static int nchw_framework(const char *fw)
{
    static const char *const l[] = {"KERAS", "MXNET", "ONNX", "DARKNET", "PYTORCH", NULL};
    return in_list(fw, l);
}

/* A plain static shape for one input (not CoreML). */
static void check_plain_input(smneo__vctx *ctx, const target *t, const cJSON *shape, const char *path)
{
    long dims[MAX_RANK];
    int bad;
    int rank = check_shape(ctx, shape, path, 0, dims, &bad);
    if (rank == 4 && !bad && nchw_framework(t->framework) && (dims[3] == 1 || dims[3] == 3 || dims[3] == 4) &&
        dims[1] >= 8 && dims[2] >= 8) {
        V_WARN(ctx, path, "neo.data-input-config.layout",
               "%s [%ld,%ld,%ld,%ld] looks channel-last (NHWC), but %s expects NCHW: did you mean [%ld,%ld,%ld,%ld]?",
               path, dims[0], dims[1], dims[2], dims[3], t->framework, dims[0], dims[3], dims[1], dims[2]);
    }
    int nhwc = t->framework && (!strcmp(t->framework, "TENSORFLOW") || !strcmp(t->framework, "TFLITE"));
    if (rank == 4 && !bad && nhwc && (dims[1] == 1 || dims[1] == 3 || dims[1] == 4) && dims[2] >= 8 &&
        dims[3] >= 8) {
        V_WARN(ctx, path, "neo.data-input-config.layout",
               "%s [%ld,%ld,%ld,%ld] looks channel-first (NCHW), but %s expects NHWC: did you mean [%ld,%ld,%ld,%ld]?",
               path, dims[0], dims[1], dims[2], dims[3], t->framework, dims[0], dims[2], dims[3], dims[1]);
    }
}

/* CoreML: {"shape": ..., "default_shape": ..., "type": "Image"|"Tensor", "bias": [...], "scale": x} */
static void check_coreml_spec(smneo__vctx *ctx, const target *t, const cJSON *spec, const char *path)
{
    static const char *const keys[] = {"shape", "default_shape", "type", "bias", "scale", NULL};
    const cJSON *k;
    cJSON_ArrayForEach(k, spec)
    {
        if (!in_list(k->string, keys)) {
            const char *near = smneo__closest(k->string ? k->string : "", keys, 5);
            char *kp = smneo__path_member(ctx, path, k->string ? k->string : "");
            if (!kp)
                return;
            V_WARN(ctx, kp, "neo.data-input-config.unknown-key",
                   "CoreML input spec key \"%s\" is not documented (known: shape, default_shape, type, bias, "
                   "scale)%s%s%s",
                   k->string ? k->string : "", near ? ": did you mean " : "", near ? near : "", near ? "?" : "");
            free(kp);
        }
    }
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(spec, "shape");
    char *sp = smneo__path_member(ctx, path, "shape");
    if (!sp)
        return;
    long dims[MAX_RANK];
    int rank = -1, enumerated = 0, bad = 0, nenum = 0;
    long enums[8][MAX_RANK] = {{0}};
    int enum_rank[8] = {0};
    if (!shape) {
        V_ERR(ctx, sp, "neo.data-input-config.coreml", "a CoreML input spec needs \"shape\", e.g. "
              "{\"shape\": [1,224,224,3]}");
    } else if (cJSON_IsArray(shape) && cJSON_IsArray(shape->child)) {
        enumerated = 1;
        const cJSON *e;
        int i = 0;
        cJSON_ArrayForEach(e, shape)
        {
            char *ep = smneo__path_index(ctx, sp, (size_t)i);
            if (!ep)
                break;
            long d[MAX_RANK];
            int b;
            int r = check_shape(ctx, e, ep, 0, d, &b);
            if (r > 0 && !b && i < 8 && r <= MAX_RANK) {
                memcpy(enums[i], d, sizeof d);
                enum_rank[i] = r;
                nenum = i + 1;
            }
            if (b || r < 0)
                bad = 1;
            free(ep);
            i++;
        }
        if (nenum > 0 && enum_rank[0] > 0) {
            rank = enum_rank[0];
            memcpy(dims, enums[0], sizeof dims);
        }
    } else {
        rank = check_shape(ctx, shape, sp, 1, dims, &bad);
    }
    /* default_shape: static, same rank, inside the ranges / among the enumerated shapes */
    const cJSON *def = cJSON_GetObjectItemCaseSensitive(spec, "default_shape");
    long ddims[MAX_RANK];
    int drank = -1;
    if (def) {
        char *dp = smneo__path_member(ctx, path, "default_shape");
        if (!dp) {
            free(sp);
            return;
        }
        int dbad;
        drank = check_shape(ctx, def, dp, 0, ddims, &dbad);
        if (drank > 0 && !dbad && !bad && rank > 0 && rank <= MAX_RANK && drank <= MAX_RANK) {
            if (enumerated) {
                int found = 0;
                for (int i = 0; i < nenum && !found; i++)
                    found = enum_rank[i] == drank && !memcmp(enums[i], ddims, sizeof(long) * (size_t)drank);
                if (!found)
                    V_ERR(ctx, dp, "neo.data-input-config.coreml",
                          "default_shape must be one of the enumerated shapes in \"shape\"");
            } else if (drank != rank) {
                V_ERR(ctx, dp, "neo.data-input-config.coreml",
                      "default_shape has %d dimensions but shape has %d: give one value per dimension", drank, rank);
            } else {
                const cJSON *sd = shape->child;
                for (int i = 0; i < rank && sd; i++, sd = sd->next) {
                    long lo = dims[i], hi = dims[i];
                    if (cJSON_IsString(sd)) {
                        char *end;
                        lo = strtol(sd->valuestring, &end, 10);
                        hi = strtol(end + 2, NULL, 10);
                    }
                    if (ddims[i] < lo || (hi != -1 && ddims[i] > hi)) {
                        char *ip = smneo__path_index(ctx, dp, (size_t)i);
                        if (ip)
                            V_ERR(ctx, ip, "neo.data-input-config.coreml",
                                  "default_shape dimension %d is %ld, outside the shape's %ld..%ld: pick a value "
                                  "inside the range", i, ddims[i], lo, hi);
                        free(ip);
                    }
                }
            }
        }
        free(dp);
    }
    free(sp);
    /* type, bias, scale */
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(spec, "type");
    int image = 0;
    if (type) {
        char *tp = smneo__path_member(ctx, path, "type");
        if (!tp)
            return;
        if (cJSON_IsString(type) && !strcmp(type->valuestring, "Image"))
            image = 1;
        else if (!(cJSON_IsString(type) && !strcmp(type->valuestring, "Tensor")))
            V_ERR(ctx, tp, "neo.data-input-config.coreml", "CoreML input type must be \"Image\" or \"Tensor\"");
        free(tp);
    }
    if (!image)
        return;
    const cJSON *bias = cJSON_GetObjectItemCaseSensitive(spec, "bias");
    const cJSON *scale = cJSON_GetObjectItemCaseSensitive(spec, "scale");
    char *bp = smneo__path_member(ctx, path, "bias");
    char *cp = smneo__path_member(ctx, path, "scale");
    if (!bp || !cp) {
        free(bp);
        free(cp);
        return;
    }
    if (!scale)
        V_ERR(ctx, cp, "neo.data-input-config.coreml", "an Image input needs \"scale\" (e.g. 0.007843137255)");
    else if (!cJSON_IsNumber(scale))
        V_ERR(ctx, cp, "neo.data-input-config.coreml", "\"scale\" must be a number");
    if (!bias) {
        V_ERR(ctx, bp, "neo.data-input-config.coreml",
              "an Image input needs \"bias\", one value per channel (e.g. [-1,-1,-1])");
    } else if (cJSON_IsNumber(bias)) {
        /* a single value: fine for one channel */
    } else if (!cJSON_IsArray(bias)) {
        V_ERR(ctx, bp, "neo.data-input-config.coreml", "\"bias\" must be a list of numbers, one per channel");
    } else {
        int n = 0, numbers = 1;
        const cJSON *b;
        cJSON_ArrayForEach(b, bias)
        {
            numbers &= cJSON_IsNumber(b);
            n++;
        }
        /* channels: a static rank-4 shape gives C at index 1 (NCHW) or 3 (NHWC) */
        const long *ref = drank == 4 ? ddims : (rank == 4 ? dims : NULL);
        if (!numbers) {
            V_ERR(ctx, bp, "neo.data-input-config.coreml", "\"bias\" must be a list of numbers");
        } else if (ref && ref[1] > 0 && ref[3] > 0) {
            long c_first = ref[1], c_last = ref[3];
            int pt = t->framework && !strcmp(t->framework, "PYTORCH");
            int tf = t->framework && !strcmp(t->framework, "TENSORFLOW");
            int ok = pt ? n == c_first : tf ? n == c_last : (n == c_first || n == c_last);
            if (!ok)
                V_ERR(ctx, bp, "neo.data-input-config.coreml",
                      "\"bias\" has %d value%s but the input has %ld channel%s: give one value per channel", n,
                      n == 1 ? "" : "s", pt ? c_first : c_last, (pt ? c_first : c_last) == 1 ? "" : "s");
        }
    }
    free(bp);
    free(cp);
}

static const char *fw_name(const target *t) { return t->framework ? t->framework : "this framework"; }

/* Checks the parsed DataInputConfig value against the framework/target. */
static void check_dic_value(smneo__vctx *ctx, const target *t, const cJSON *v)
{
    int coreml = t->device && !strcmp(t->device, "coreml");
    if (cJSON_IsObject(v)) {
        if (!v->child) {
            V_ERR(ctx, P_DIC, "neo.data-input-config.form",
                  "DataInputConfig is an empty dictionary: give each input's name and shape, e.g. "
                  "{\"input0\": [1,3,224,224]}");
            return;
        }
        const cJSON *in;
        cJSON_ArrayForEach(in, v)
        {
            char *ip = smneo__path_member(ctx, P_DIC, in->string ? in->string : "");
            if (!ip)
                return;
            if (cJSON_IsObject(in)) {
                if (coreml)
                    check_coreml_spec(ctx, t, in, ip);
                else
                    V_ERR(ctx, ip, "neo.data-input-config.form",
                          "%s is a CoreML input spec, which is for TargetDevice coreml only: give the shape as a "
                          "list of positive integers", ip);
            } else if (cJSON_IsArray(in)) {
                if (coreml)
                    check_shape(ctx, in, ip, 0, (long[MAX_RANK]){0}, &(int){0});
                else
                    check_plain_input(ctx, t, in, ip);
            } else {
                V_ERR(ctx, ip, "neo.data-input-config.form",
                      "%s must be the input's shape, a list of positive integers such as [1,3,224,224]", ip);
            }
            free(ip);
        }
        return;
    }
    if (cJSON_IsArray(v)) {
        int pytorch = t->framework && !strcmp(t->framework, "PYTORCH");
        if (t->framework && !pytorch) {
            V_ERR(ctx, P_DIC, "neo.data-input-config.form",
                  "the list form of DataInputConfig is for PYTORCH only: %s needs a dictionary of input names to "
                  "shapes, e.g. {\"input\": [1,224,224,3]}", fw_name(t));
            return;
        }
        if (!v->child) {
            V_ERR(ctx, P_DIC, "neo.data-input-config.form",
                  "DataInputConfig is an empty list: give one shape per input, e.g. [[1,3,224,224]]");
            return;
        }
        size_t i = 0;
        const cJSON *in;
        cJSON_ArrayForEach(in, v)
        {
            char *ip = smneo__path_index(ctx, P_DIC, i++);
            if (!ip)
                return;
            if (cJSON_IsObject(in) && coreml)
                check_coreml_spec(ctx, t, in, ip);
            else if (cJSON_IsArray(in))
                check_plain_input(ctx, t, in, ip);
            else
                V_ERR(ctx, ip, "neo.data-input-config.form",
                      "%s must be a shape such as [1,3,224,224]%s", ip,
                      coreml ? " or a CoreML input spec such as {\"shape\": [1,3,224,224]}" : "");
            free(ip);
        }
        return;
    }
    V_ERR(ctx, P_DIC, "neo.data-input-config.form",
          "DataInputConfig must be a JSON dictionary of input names to shapes, e.g. {\"input0\": [1,3,224,224]}%s",
          (t->framework && !strcmp(t->framework, "PYTORCH")) ? " (or a list of shapes, [[1,3,224,224]])" : "");
}

static void json_error(smneo__vctx *ctx, const char *path, const char *rule, const char *what, const char *text,
                       size_t pos)
{
    char near[40];
    size_t len = strlen(text);
    shorten(near, sizeof near, pos < len ? text + pos : "");
    V_ERR(ctx, path, rule, "%s is not valid JSON (at character %zu%s%s%s): write it as a JSON text such as %s", what,
          pos + 1, *near ? ", near \"" : "", near, *near ? "\"" : "",
          !strcmp(rule, "neo.data-input-config.json") ? "{\"input0\": [1,3,224,224]}" : "{\"mcpu\": \"cortex-a72\"}");
}

/* Parses and checks DataInputConfig; returns the parsed value (caller frees) or NULL. */
static cJSON *data_input_config(smneo__vctx *ctx, const target *t, const char *text)
{
    int py = 0;
    size_t pos = 0;
    cJSON *v = smneo__parse_loose_json(text, strlen(text), &py, &pos);
    if (!v) {
        json_error(ctx, P_DIC, "neo.data-input-config.json", "DataInputConfig", text, pos);
        return NULL;
    }
    if (py)
        V_WARN(ctx, P_DIC, "neo.data-input-config.python-style",
               "DataInputConfig is written in Python style (single quotes): use JSON with double quotes, e.g. "
               "{\"input0\": [1,3,224,224]}");
    check_dic_value(ctx, t, v);
    return v;
}

/* ------------------------------------------------------------------ CompilerOptions */

/* Where each known key applies. */
enum { K_ANY, K_CPU, K_NVIDIA, K_ANDROID, K_DTYPE, K_COREML, K_EIA };
static const struct {
    const char *key;
    int scope;
} CO_KEYS[] = {
    {"mcpu", K_CPU},         {"mattr", K_CPU},           {"gpu-code", K_NVIDIA},
    {"trt-ver", K_NVIDIA},   {"cuda-ver", K_NVIDIA},     {"ANDROID_PLATFORM", K_ANDROID},
    {"dtype", K_DTYPE},      {"class_labels", K_COREML}, {"precision_mode", K_EIA},
    {"signature_def_key", K_EIA}, {"output_names", K_EIA},
};
#define N_CO_KEYS (sizeof CO_KEYS / sizeof CO_KEYS[0])

static int scope_applies(int scope, const target *t)
{
    switch (scope) {
    case K_CPU: /* CPU flags: TargetPlatform, CPU cloud and edge devices (host CPU of GPU boards too) */
        return t->platform || in_list(t->device, CLOUD_CPU) || in_list(t->device, CLOUD_GPU) ||
               (is_edge(t->device) && strcmp(t->device, "coreml"));
    case K_NVIDIA: return is_nvidia_target(t);
    case K_ANDROID: return is_android(t);
    case K_DTYPE: return is_cloud(t->device) && !is_neuron(t->device);
    case K_COREML: return t->device && !strcmp(t->device, "coreml");
    case K_EIA: return t->device && !strcmp(t->device, "ml_eia2");
    }
    return 1;
}

static int target_known(const target *t) { return t->device || t->platform; }

static int match(const char *pattern, const char *s) { return smneo__regex_full_match(pattern, s, strlen(s)) == 1; }

/* Value checks of the known keys (whatever the target). */
static void check_co_value(smneo__vctx *ctx, const target *t, const char *key, const cJSON *v, const char *path)
{
    const char *s = (cJSON_IsString(v) && v->valuestring) ? v->valuestring : NULL;
    char shown[48];
    shorten(shown, sizeof shown, s ? s : "");
    if (!strcmp(key, "mcpu")) {
        if (!s || !*s)
            V_ERR(ctx, path, "neo.compiler-options.value",
                  "mcpu must be a CPU micro-architecture name as a string, e.g. \"skylake-avx512\"");
    } else if (!strcmp(key, "mattr")) {
        if (!cJSON_IsArray(v)) {
            V_ERR(ctx, path, "neo.compiler-options.value",
                  "mattr must be a list of CPU flags such as [\"+neon\", \"+vfpv4\"]");
            return;
        }
        size_t i = 0;
        const cJSON *f;
        cJSON_ArrayForEach(f, v)
        {
            if (!cJSON_IsString(f) || !match("[+-][A-Za-z0-9_.-]+", f->valuestring)) {
                char *fp = smneo__path_index(ctx, path, i);
                if (fp)
                    V_ERR(ctx, fp, "neo.compiler-options.value",
                          "each mattr flag must be a string starting with + or - (e.g. \"+neon\")");
                free(fp);
            }
            i++;
        }
    } else if (!strcmp(key, "gpu-code")) {
        if (!s || !match("sm_[0-9]{2,3}", s))
            V_ERR(ctx, path, "neo.compiler-options.value",
                  "gpu-code must name a GPU architecture as sm_NN (e.g. \"sm_72\"), not \"%s\"", shown);
    } else if (!strcmp(key, "trt-ver")) {
        if (!s || !match("[0-9]+\\.[0-9]+\\.[0-9]+(\\.[0-9]+)?", s))
            V_ERR(ctx, path, "neo.compiler-options.value",
                  "trt-ver must be a TensorRT version in x.y.z form (e.g. \"7.1.3\"), not \"%s\"", shown);
    } else if (!strcmp(key, "cuda-ver")) {
        if (!s || !match("[0-9]+\\.[0-9]+", s))
            V_ERR(ctx, path, "neo.compiler-options.value",
                  "cuda-ver must be a CUDA version in x.y form (e.g. \"10.2\"), not \"%s\"", shown);
    } else if (!strcmp(key, "ANDROID_PLATFORM")) {
        int64_t level;
        if (!smneo__json_int(v, &level))
            V_ERR(ctx, path, "neo.compiler-options.value",
                  "ANDROID_PLATFORM must be an integer API level from 21 to 29 (e.g. 28), not a %s",
                  cJSON_IsString(v) ? "string" : "non-integer");
        else if (level < 21 || level > 29)
            V_ERR(ctx, path, "neo.compiler-options.value",
                  "ANDROID_PLATFORM %lld is outside the available API levels 21 to 29", (long long)level);
        if (t->platform && !is_android(t))
            V_ERR(ctx, path, "neo.compiler-options.android-platform",
                  "ANDROID_PLATFORM applies only when TargetPlatform.Os is ANDROID: remove it or set Os to ANDROID");
        else if (t->device)
            V_WARN(ctx, path, "neo.compiler-options.not-applicable",
                   "ANDROID_PLATFORM is documented for TargetPlatform with Os ANDROID; TargetDevice %s may ignore it",
                   t->device);
    } else if (!strcmp(key, "dtype")) {
        static const char *const dt[] = {"float32", "float", "int64", "long", NULL};
        if (!s || !in_list(s, dt))
            V_ERR(ctx, path, "neo.compiler-options.value",
                  "dtype must be \"float32\" (or \"float\") or \"int64\" (or \"long\"), not \"%s\"", shown);
    } else if (!strcmp(key, "class_labels")) {
        if (!s || !*s)
            V_ERR(ctx, path, "neo.compiler-options.value",
                  "class_labels must be the name of the labels file inside the model archive, e.g. "
                  "\"imagenet_labels_1000.txt\"");
    } else if (!strcmp(key, "precision_mode")) {
        if (!s || (strcmp(s, "FP16") && strcmp(s, "FP32")))
            V_ERR(ctx, path, "neo.compiler-options.value", "precision_mode must be \"FP16\" or \"FP32\", not \"%s\"",
                  shown);
    } else if (!strcmp(key, "signature_def_key")) {
        if (!s || !*s)
            V_ERR(ctx, path, "neo.compiler-options.value",
                  "signature_def_key must be the name of a SavedModel signature as a string, e.g. "
                  "\"serving_default\"");
    } else if (!strcmp(key, "output_names")) {
        int ok = cJSON_IsArray(v) && v->child;
        const cJSON *n;
        cJSON_ArrayForEach(n, v) ok &= cJSON_IsString(n) && n->valuestring[0];
        if (!ok)
            V_ERR(ctx, path, "neo.compiler-options.value",
                  "output_names must be a non-empty list of output tensor names, e.g. [\"output:0\"]");
    }
}

static const char *const NVIDIA_KEYS[] = {"gpu-code", "trt-ver", "cuda-ver"};
static const char *const NVIDIA_EXAMPLES[] = {"\"sm_72\"", "\"7.1.3\"", "\"10.2\""};

static void nvidia_missing(smneo__vctx *ctx, const cJSON *opts)
{
    for (int i = 0; i < 3; i++) {
        if (opts && cJSON_GetObjectItemCaseSensitive(opts, NVIDIA_KEYS[i]))
            continue;
        /* a near miss such as gpu_code (the spelling of one line of the spec) */
        const char *near = NULL;
        const cJSON *k;
        cJSON_ArrayForEach(k, opts)
        {
            const char *cand[1] = {NVIDIA_KEYS[i]};
            if (k->string && smneo__closest(k->string, cand, 1))
                near = k->string;
        }
        char *kp = smneo__path_member(ctx, P_CO, NVIDIA_KEYS[i]);
        if (!kp)
            return;
        char spelled[96] = "";
        if (near)
            snprintf(spelled, sizeof spelled, " (found \"%.40s\": the option is spelled %s)", near, NVIDIA_KEYS[i]);
        V_ERR(ctx, kp, "neo.compiler-options.missing",
              "TargetPlatform Accelerator NVIDIA requires the compiler option %s%s: add \"%s\": %s to "
              "CompilerOptions (gpu-code, trt-ver and cuda-ver are all required)",
              NVIDIA_KEYS[i], spelled, NVIDIA_KEYS[i], NVIDIA_EXAMPLES[i]);
        free(kp);
    }
}

static const char *accepts_string_options(const target *t)
{
    return is_neuron(t->device) ? t->device : NULL;
}

/* Parses and checks CompilerOptions; returns the parsed value or NULL. */
static cJSON *compiler_options(smneo__vctx *ctx, const target *t, const char *text)
{
    int py = 0;
    size_t pos = 0;
    cJSON *v = smneo__read_compiler_options(text, &py, &pos);
    if (!v) {
        json_error(ctx, P_CO, "neo.compiler-options.json", "CompilerOptions", text, pos);
        return NULL;
    }
    if (py)
        V_WARN(ctx, P_CO, "neo.compiler-options.python-style",
               "CompilerOptions is written in Python style (single quotes), as in the Neo documentation: the "
               "service accepts it, but prefer JSON with double quotes, e.g. {\"mattr\": [\"+neon\"]}");
    int inf1 = t->device && !strcmp(t->device, "ml_inf1");
    if (cJSON_IsString(v)) {
        if (!accepts_string_options(t) && target_known(t))
            V_ERR(ctx, P_CO, "neo.compiler-options.type",
                  "CompilerOptions is a JSON string, which only Inferentia (ml_inf1) takes: for this target give a "
                  "JSON object such as {\"mcpu\": \"cortex-a72\"}");
        return v;
    }
    if (!cJSON_IsObject(v)) {
        V_ERR(ctx, P_CO, "neo.compiler-options.type", "CompilerOptions must be a JSON object%s",
              inf1 ? " or, for ml_inf1, a JSON string of Neuron compiler flags" : " such as {\"mcpu\": \"cortex-a72\"}");
        return v;
    }
    if (inf1) {
        V_ERR(ctx, P_CO, "neo.compiler-options.type",
              "for ml_inf1, CompilerOptions is a JSON string of Neuron compiler flags, e.g. "
              "\"\\\"--verbose 1 --num-neuroncores 2 -O2\\\"\", not an object");
        return v;
    }
    const cJSON *k;
    cJSON_ArrayForEach(k, v)
    {
        const char *key = k->string ? k->string : "";
        char *kp = smneo__path_member(ctx, P_CO, key);
        if (!kp)
            return v;
        int scope = -1;
        for (size_t i = 0; i < N_CO_KEYS; i++)
            if (!strcmp(CO_KEYS[i].key, key))
                scope = CO_KEYS[i].scope;
        if (scope < 0) {
            if (target_known(t) && !is_neuron(t->device)) {
                const char *names[N_CO_KEYS];
                for (size_t i = 0; i < N_CO_KEYS; i++)
                    names[i] = CO_KEYS[i].key;
                const char *near = smneo__closest(key, names, N_CO_KEYS);
                char shown[64];
                shorten(shown, sizeof shown, key);
                V_WARN(ctx, kp, "neo.compiler-options.unknown-key",
                       "compiler option \"%s\" is not documented for this target%s%s%s", shown,
                       near ? ": did you mean " : "", near ? near : "", near ? "?" : "");
            }
        } else {
            check_co_value(ctx, t, key, k, kp);
            if (target_known(t) && !scope_applies(scope, t) && scope != K_ANDROID)
                V_WARN(ctx, kp, "neo.compiler-options.not-applicable", "compiler option %s does not apply to %s%s%s",
                       key, t->device ? "TargetDevice " : "this TargetPlatform", t->device ? t->device : "",
                       scope == K_DTYPE ? " (dtype is for PyTorch models on ml_* instances other than Inferentia)"
                       : scope == K_NVIDIA ? " (it is for NVIDIA GPUs)"
                       : "");
            if (scope == K_DTYPE && scope_applies(scope, t) && t->framework && strcmp(t->framework, "PYTORCH"))
                V_WARN(ctx, kp, "neo.compiler-options.not-applicable",
                       "dtype is read for PYTORCH models only; %s ignores it", t->framework);
        }
        free(kp);
    }
    /* ml_eia2: at most one of signature_def_key and output_names */
    if (cJSON_GetObjectItemCaseSensitive(v, "signature_def_key") &&
        cJSON_GetObjectItemCaseSensitive(v, "output_names"))
        V_ERR(ctx, P_CO, "neo.compiler-options.conflict",
              "set at most one of signature_def_key (SavedModel) and output_names (frozen graph)");
    return v;
}

/* ------------------------------------------------------------------ framework and versions */

static const char *const FV_CLOUD[] = {"ml_c4", "ml_c5", "ml_m4", "ml_m5", "ml_p2", "ml_p3", "ml_g4dn", NULL};
static const char *const FV_EDGE_EXCLUDED[] = {"imx8mplus", "jacinto_tda4vm", "coreml", "sitara_am57x", "amba_cv2",
                                               "amba_cv22", "amba_cv25", "lambda", NULL};

/* 1 when FrameworkVersion may be given for this device/framework. */
static int framework_version_allowed(const char *dev, const char *fw)
{
    int pt_tf = !strcmp(fw, "PYTORCH") || !strcmp(fw, "TENSORFLOW");
    if (in_list(dev, FV_CLOUD))
        return pt_tf;
    if (!strcmp(dev, "ml_inf1"))
        return pt_tf || !strcmp(fw, "MXNET");
    if (!strcmp(dev, "ml_inf2") || !strcmp(dev, "ml_trn1"))
        return pt_tf;
    if (is_edge(dev))
        return pt_tf && !in_list(dev, FV_EDGE_EXCLUDED);
    return 0;
}

/* Documented versions (major.minor) per framework and target class. */
static const char *known_versions(const char *dev, const char *fw)
{
    int pt = !strcmp(fw, "PYTORCH"), tf = !strcmp(fw, "TENSORFLOW"), mx = !strcmp(fw, "MXNET");
    if (in_list(dev, FV_CLOUD))
        return pt ? "1.4 1.5 1.6 1.7 1.8 1.12 1.13 2.0" : tf ? "1.15 2.4 2.9" : NULL;
    if (!strcmp(dev, "ml_inf1"))
        return pt ? "1.5 1.7 1.8 1.9" : tf ? "1.15 2.5" : mx ? "1.5 1.8" : NULL;
    if (!strcmp(dev, "ml_inf2") || !strcmp(dev, "ml_trn1"))
        return pt ? "1.13 2.0 2.1" : tf ? "2.10" : NULL;
    if (is_edge(dev))
        return pt ? "1.4 1.5 1.6 1.7 1.8" : tf ? "1.15 2.4" : NULL;
    return NULL;
}

static int version_known(const char *version, const char *list)
{
    /* compare major.minor */
    const char *dot = strchr(version, '.');
    if (!dot)
        return 0;
    size_t n = (size_t)(dot - version) + 1;
    while (isdigit((unsigned char)version[n]))
        n++;
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ' ');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !strncmp(p, version, n))
            return 1;
        p = e ? e + 1 : p + len;
    }
    return 0;
}

static void check_framework_version(smneo__vctx *ctx, const target *t, const char *version)
{
    const char *path = "InputConfig.FrameworkVersion";
    if (t->platform) {
        V_ERR(ctx, path, "neo.framework-version.target-platform",
              "FrameworkVersion cannot be used with TargetPlatform: remove it, or use a TargetDevice");
        return;
    }
    if (!t->device || !t->framework)
        return;
    if (!framework_version_allowed(t->device, t->framework)) {
        V_ERR(ctx, path, "neo.framework-version.unsupported",
              "FrameworkVersion is not supported for %s on %s: remove it (it is accepted for PYTORCH and TENSORFLOW "
              "on cloud instances and most edge devices, and for MXNET on ml_inf1)",
              t->framework, t->device);
        return;
    }
    const char *list = known_versions(t->device, t->framework);
    const smneo_shape *fv = smneo_model_shape("FrameworkVersion");
    if (fv && fv->pattern && smneo__regex_full_match(fv->pattern, version, strlen(version)) != 1)
        return; /* the generic pattern rule has spoken */
    if (list && !version_known(version, list)) {
        char shown[24];
        shorten(shown, sizeof shown, version);
        V_WARN(ctx, path, "neo.framework-version.unknown",
               "%s %s is not in the documented versions for %s (%s): check that Neo supports it", t->framework, shown,
               t->device, list);
    }
}

static void check_framework_target(smneo__vctx *ctx, const target *t)
{
    const char *fw = t->framework;
    if (!fw)
        return;
    const char *path = "InputConfig.Framework";
    if (t->device && !strcmp(t->device, "coreml")) {
        if (strcmp(fw, "TENSORFLOW") && strcmp(fw, "PYTORCH"))
            V_ERR(ctx, path, "neo.coreml.framework",
                  "TargetDevice coreml converts TENSORFLOW and PYTORCH models only, not %s", fw);
        return;
    }
    const char *why = NULL;
    if (!strcmp(fw, "DARKNET") && is_cloud(t->device))
        why = "Neo supports DARKNET models on edge devices only";
    else if (!strcmp(fw, "TFLITE") && is_cloud(t->device))
        why = "TFLITE is supported for edge devices; use TENSORFLOW for cloud instances";
    else if ((!strcmp(fw, "XGBOOST") || !strcmp(fw, "SKLEARN")) && (is_edge(t->device) || t->platform))
        why = "tree models (XGBOOST, SKLEARN) are documented for cloud instances only";
    else if (is_neuron(t->device) && strcmp(fw, "PYTORCH") && strcmp(fw, "TENSORFLOW") && strcmp(fw, "MXNET"))
        why = "Inferentia and Trainium take PYTORCH, TENSORFLOW and MXNET models";
    else if (t->device && !strcmp(t->device, "ml_eia2") && strcmp(fw, "TENSORFLOW"))
        why = "the documented ml_eia2 compilation is for TENSORFLOW models";
    if (why)
        V_WARN(ctx, path, "neo.framework-target", "%s on %s is not a documented combination: %s", fw,
               t->device ? t->device : "a TargetPlatform", why);
}

/* ------------------------------------------------------------------ TargetPlatform combinations */

static void check_platform_combination(smneo__vctx *ctx, const target *t)
{
    if (!t->platform || !t->os || !t->arch)
        return;
    const char *os = t->os, *arch = t->arch, *acc = t->accel;
    int x86 = !strcmp(arch, "X86_64") || !strcmp(arch, "X86");
    int arm32 = !strcmp(arch, "ARM_EABI") || !strcmp(arch, "ARM_EABIHF");
    const char *why = NULL;
    if (!strcmp(os, "ANDROID") && !strcmp(arch, "ARM_EABIHF"))
        why = "32-bit ARM Android uses ARM_EABI (soft float)";
    else if (!strcmp(os, "LINUX") && !strcmp(arch, "ARM_EABI"))
        why = "ARM_EABI is the Android 32-bit ARM ABI; 32-bit ARM Linux boards use ARM_EABIHF";
    else if (acc && !strcmp(acc, "INTEL_GRAPHICS") && !x86)
        why = "INTEL_GRAPHICS is an integrated x86 GPU";
    else if (acc && !strcmp(acc, "MALI") && x86)
        why = "MALI is an ARM GPU";
    else if (acc && !strcmp(acc, "NVIDIA") && (arm32 || !strcmp(arch, "X86")))
        why = "NVIDIA targets are X86_64 or ARM64";
    else if (acc && !strcmp(acc, "NVIDIA") && !strcmp(os, "ANDROID"))
        why = "NVIDIA targets run LINUX";
    if (why)
        V_WARN(ctx, "OutputConfig.TargetPlatform", "neo.target-platform.combination",
               "Os %s, Arch %s%s%s is not a combination the Neo documentation lists: %s", os, arch,
               acc ? ", Accelerator " : "", acc ? acc : "", why);
}

/* ------------------------------------------------------------------ S3, KMS, VPC, tags, stopping */

static void check_input_s3(smneo__vctx *ctx, const char *uri)
{
    if (smneo__regex_full_match("(https|s3)://([^/]+)/?(.*)", uri, strlen(uri)) != 1)
        return; /* the generic pattern rule has spoken */
    size_t n = strcspn(uri, "?#");
    if (strncmp(uri, "https", 5))
        n = strlen(uri); /* s3:// keys may contain ? and # */
    if (n < 7 || strncasecmp(uri + n - 7, ".tar.gz", 7)) {
        char shown[80];
        shorten(shown, sizeof shown, uri);
        V_ERR(ctx, "InputConfig.S3Uri", "neo.s3-uri.archive",
              "InputConfig.S3Uri \"%s\" must name a single gzip-compressed tar archive ending in .tar.gz "
              "(e.g. s3://bucket/model.tar.gz), not a prefix or another file type", shown);
    }
}

static void check_kms(smneo__vctx *ctx, const char *k)
{
    static const char *const forms[] = {
        "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
        "mrk-[0-9a-fA-F]{32}",
        ("arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
         "[0-9a-fA-F]{12}|mrk-[0-9a-fA-F]{32})"),
        "alias/[a-zA-Z0-9/_-]+",
        "arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:alias/[a-zA-Z0-9/_-]+",
    };
    if (!*k)
        return;
    if (smneo__regex_full_match("[a-zA-Z0-9:/_-]*", k, strlen(k)) != 1)
        return; /* the generic pattern rule has spoken */
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++)
        if (match(forms[i], k))
            return;
    char shown[80];
    shorten(shown, sizeof shown, k);
    V_ERR(ctx, "OutputConfig.KmsKeyId", "neo.kms-key-id",
          "KmsKeyId \"%s\" is not a KMS key: use a key id (1234abcd-12ab-34cd-56ef-1234567890ab), a key ARN "
          "(arn:aws:kms:us-west-2:111122223333:key/<id>), an alias name (alias/ExampleAlias) or an alias ARN "
          "(arn:aws:kms:us-west-2:111122223333:alias/ExampleAlias)", shown);
}

static void check_vpc(smneo__vctx *ctx, const cJSON *vpc)
{
    static const struct {
        const char *member, *prefix, *what;
    } lists[] = {{"SecurityGroupIds", "sg-", "security group ids start with sg-"},
                 {"Subnets", "subnet-", "subnet ids start with subnet-"}};
    for (size_t l = 0; l < 2; l++) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(vpc, lists[l].member);
        if (!cJSON_IsArray(arr))
            continue;
        size_t i = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, arr)
        {
            if (cJSON_IsString(e) && match("[-0-9a-zA-Z]+", e->valuestring) &&
                strncmp(e->valuestring, lists[l].prefix, strlen(lists[l].prefix))) {
                char *p0 = smneo__path_member(ctx, "VpcConfig", lists[l].member);
                char *p = p0 ? smneo__path_index(ctx, p0, i) : NULL;
                if (p)
                    V_WARN(ctx, p, "neo.vpc.id-form", "\"%.40s\" does not look like an id of this kind: %s",
                           e->valuestring, lists[l].what);
                free(p);
                free(p0);
            }
            i++;
        }
    }
}

static void check_tags(smneo__vctx *ctx, const cJSON *tags)
{
    size_t i = 0;
    const cJSON *tag;
    cJSON_ArrayForEach(tag, tags)
    {
        const char *key = str_member(tag, "Key");
        if (key) {
            char *p0 = smneo__path_index(ctx, "Tags", i);
            char *p = p0 ? smneo__path_member(ctx, p0, "Key") : NULL;
            if (!p) {
                free(p0);
                return;
            }
            if (!strncasecmp(key, "aws:", 4))
                V_ERR(ctx, p, "neo.tags.aws-prefix",
                      "tag keys starting with \"aws:\" are reserved for AWS: choose another key");
            size_t j = 0;
            const cJSON *prev;
            cJSON_ArrayForEach(prev, tags)
            {
                if (j >= i)
                    break;
                const char *pk = str_member(prev, "Key");
                if (pk && !strcmp(pk, key)) {
                    char shown[64];
                    shorten(shown, sizeof shown, key);
                    V_ERR(ctx, p, "neo.tags.duplicate-key",
                          "tag key \"%s\" is already used by Tags[%zu]: tag keys must be unique", shown, j);
                    break;
                }
                j++;
            }
            free(p);
            free(p0);
        }
        i++;
    }
}

#define MAX_RUNTIME_SECONDS (28 * 24 * 3600)

static void check_stopping(smneo__vctx *ctx, const cJSON *sc)
{
    int64_t run = 0, wait = 0;
    int has_run = smneo__json_int(cJSON_GetObjectItemCaseSensitive(sc, "MaxRuntimeInSeconds"), &run);
    int has_wait = smneo__json_int(cJSON_GetObjectItemCaseSensitive(sc, "MaxWaitTimeInSeconds"), &wait);
    if (has_run && run > MAX_RUNTIME_SECONDS)
        V_ERR(ctx, "StoppingCondition.MaxRuntimeInSeconds", "neo.stopping-condition.max-runtime",
              "MaxRuntimeInSeconds is %lld: the maximum is 28 days (%d seconds); start with 900 and raise as needed",
              (long long)run, MAX_RUNTIME_SECONDS);
    if (has_run && has_wait && wait < run && run >= 1 && wait >= 1)
        V_ERR(ctx, "StoppingCondition", "neo.stopping-condition.max-wait",
              "MaxWaitTimeInSeconds (%lld) must be equal to or greater than MaxRuntimeInSeconds (%lld)",
              (long long)wait, (long long)run);
}

/* ------------------------------------------------------------------ ml_eia2 */

static int tensor_name(const char *s)
{
    const char *c = strrchr(s, ':');
    if (!c || c == s || !c[1])
        return 0;
    for (c++; *c; c++)
        if (!isdigit((unsigned char)*c))
            return 0;
    return 1;
}

static void check_eia(smneo__vctx *ctx, const cJSON *dic, const cJSON *co)
{
    if (!cJSON_IsObject(dic) || !dic->child)
        return;
    int tensors = 0, names = 0;
    const cJSON *in;
    cJSON_ArrayForEach(in, dic)
    {
        if (in->string && tensor_name(in->string))
            tensors++;
        else
            names++;
    }
    int has_out = cJSON_IsObject(co) && cJSON_GetObjectItemCaseSensitive(co, "output_names");
    int has_sig = cJSON_IsObject(co) && cJSON_GetObjectItemCaseSensitive(co, "signature_def_key");
    if (tensors && names)
        V_WARN(ctx, P_DIC, "neo.data-input-config.eia",
               "ml_eia2: DataInputConfig mixes tensor names (name:0) and SavedModel input names: use one kind");
    else if (tensors && !has_out)
        V_WARN(ctx, P_DIC, "neo.data-input-config.eia",
               "ml_eia2: tensor names (name:0) mean a frozen graph, which needs output_names in CompilerOptions, "
               "e.g. {\"output_names\": [\"output:0\"]}");
    else if (tensors && has_sig)
        V_WARN(ctx, P_DIC, "neo.data-input-config.eia",
               "ml_eia2: tensor names (name:0) mean a frozen graph; signature_def_key is for SavedModel inputs");
    else if (names && has_out)
        V_WARN(ctx, P_DIC, "neo.data-input-config.eia",
               "ml_eia2: output_names is for frozen graphs, whose inputs are tensor names such as input_tensor:0");
}

/* ------------------------------------------------------------------ operations */

static void create_compilation_job(smneo__vctx *ctx, const cJSON *p)
{
    const smneo_shape *in_shape = smneo_model_shape("InputConfig");
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(p, "InputConfig");
    const cJSON *mpva = cJSON_GetObjectItemCaseSensitive(p, "ModelPackageVersionArn");
    if (!input == !mpva)
        V_ERR(ctx, "", "neo.input-source",
              input ? "give either InputConfig or ModelPackageVersionArn, not both: the service refuses both"
                    : "give either InputConfig (the model in S3) or ModelPackageVersionArn (a model package)");

    target t;
    memset(&t, 0, sizeof t);
    const cJSON *out = cJSON_GetObjectItemCaseSensitive(p, "OutputConfig");
    const cJSON *tp = NULL;
    if (cJSON_IsObject(out)) {
        const cJSON *td = cJSON_GetObjectItemCaseSensitive(out, "TargetDevice");
        tp = cJSON_GetObjectItemCaseSensitive(out, "TargetPlatform");
        if (!td == !tp)
            V_ERR(ctx, "OutputConfig", "neo.target",
                  td ? "give either OutputConfig.TargetDevice or OutputConfig.TargetPlatform, not both"
                     : "give OutputConfig.TargetDevice (e.g. \"ml_c5\") or OutputConfig.TargetPlatform "
                       "(e.g. {\"Os\": \"LINUX\", \"Arch\": \"ARM64\"})");
        if (td && !tp) {
            t.has_device = 1;
            t.device = known_enum(td, smneo_model_shape("TargetDevice"));
        }
        if (cJSON_IsObject(tp) && !td) {
            t.platform = 1;
            t.os = known_enum(cJSON_GetObjectItemCaseSensitive(tp, "Os"), smneo_model_shape("TargetPlatformOs"));
            t.arch = known_enum(cJSON_GetObjectItemCaseSensitive(tp, "Arch"), smneo_model_shape("TargetPlatformArch"));
            t.accel = known_enum(cJSON_GetObjectItemCaseSensitive(tp, "Accelerator"),
                                 smneo_model_shape("TargetPlatformAccelerator"));
            /* an Accelerator we do not know: treat the platform as unknown for option rules */
            if (cJSON_GetObjectItemCaseSensitive(tp, "Accelerator") && !t.accel)
                t.platform = 0;
        }
    }
    if (cJSON_IsObject(input))
        t.framework = known_enum(cJSON_GetObjectItemCaseSensitive(input, "Framework"),
                                 in_shape ? smneo_shape_member(in_shape, "Framework")->shape : NULL);

    check_platform_combination(ctx, &t);

    cJSON *dic_val = NULL, *co_val = NULL;
    if (cJSON_IsObject(input)) {
        const char *s3 = str_member(input, "S3Uri");
        if (s3)
            check_input_s3(ctx, s3);
        const char *fv = str_member(input, "FrameworkVersion");
        if (fv)
            check_framework_version(ctx, &t, fv);
        check_framework_target(ctx, &t);
        const cJSON *dic = cJSON_GetObjectItemCaseSensitive(input, "DataInputConfig");
        int tree = t.framework && (!strcmp(t.framework, "XGBOOST") || !strcmp(t.framework, "SKLEARN"));
        if (cJSON_IsString(dic) && dic->valuestring && !tree) {
            dic_val = data_input_config(ctx, &t, dic->valuestring);
        } else if (!dic && t.framework && !tree) {
            if (!strcmp(t.framework, "PYTORCH") && is_cloud(t.device))
                V_WARN(ctx, P_DIC, "neo.data-input-config.missing",
                       "no DataInputConfig: the service can derive the input shape of a PyTorch model on cloud "
                       "instances, but giving it (e.g. {\"input0\": [1,3,224,224]}) is safer");
            else if (t.device || t.platform || !t.has_device)
                V_ERR(ctx, P_DIC, "neo.data-input-config.missing",
                      "%s models need DataInputConfig, the name and shape of each input, e.g. %s", t.framework,
                      !strcmp(t.framework, "TENSORFLOW") || !strcmp(t.framework, "TFLITE")
                          ? "{\"input\": [1,224,224,3]} (NHWC)"
                          : "{\"data\": [1,3,224,224]} (NCHW)");
        }
    }
    if (cJSON_IsObject(out) && (t.device || t.platform)) {
        const cJSON *co = cJSON_GetObjectItemCaseSensitive(out, "CompilerOptions");
        if (cJSON_IsString(co) && co->valuestring) {
            co_val = compiler_options(ctx, &t, co->valuestring);
            if (is_nvidia_target(&t) && t.platform && cJSON_IsObject(co_val))
                nvidia_missing(ctx, co_val);
        } else if (!co) {
            if (is_nvidia_target(&t) && t.platform)
                nvidia_missing(ctx, NULL);
            else if (is_cpu_platform(&t))
                V_WARN(ctx, P_CO, "neo.compiler-options.recommended",
                       "CompilerOptions are highly recommended for CPU targets: give the CPU, e.g. "
                       "{\"mcpu\": \"cortex-a72\"} or {\"mattr\": [\"+neon\"]}");
        }
        if (t.device && !strcmp(t.device, "ml_eia2"))
            check_eia(ctx, dic_val, co_val);
    }
    cJSON_Delete(dic_val);
    cJSON_Delete(co_val);

    if (cJSON_IsObject(out)) {
        const char *kms = str_member(out, "KmsKeyId");
        if (kms)
            check_kms(ctx, kms);
    }
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(p, "StoppingCondition");
    if (cJSON_IsObject(sc))
        check_stopping(ctx, sc);
    const cJSON *vpc = cJSON_GetObjectItemCaseSensitive(p, "VpcConfig");
    if (cJSON_IsObject(vpc))
        check_vpc(ctx, vpc);
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(p, "Tags");
    if (cJSON_IsArray(tags))
        check_tags(ctx, tags);
}

static void time_range(smneo__vctx *ctx, const cJSON *p, const char *after, const char *before)
{
    double a, b;
    const cJSON *ja = cJSON_GetObjectItemCaseSensitive(p, after), *jb = cJSON_GetObjectItemCaseSensitive(p, before);
    if (ja && jb && smneo__timestamp_value(ja, &a) == 0 && smneo__timestamp_value(jb, &b) == 0 && a > b)
        V_WARN(ctx, "", "neo.list.time-range",
               "%s is later than %s: no job can match; swap them or widen the range", after, before);
}

void smneo__validate_neo(smneo__vctx *ctx, const smneo_operation *op, const cJSON *params)
{
    if (strcmp(op->service->name, "sagemaker") != 0)
        return; /* the Neo rules are SageMaker's */
    if (!strcmp(op->name, "CreateCompilationJob"))
        create_compilation_job(ctx, params);
    else if (!strcmp(op->name, "ListCompilationJobs")) {
        time_range(ctx, params, "CreationTimeAfter", "CreationTimeBefore");
        time_range(ctx, params, "LastModifiedTimeAfter", "LastModifiedTimeBefore");
    }
}

/* ------------------------------------------------------------------ fuzz entry points */

static void fuzz_target(target *t, const char *framework, const char *device, const char *os, const char *arch,
                        const char *accel, int platform)
{
    memset(t, 0, sizeof *t);
    t->framework = framework;
    t->device = device;
    t->has_device = device != NULL;
    t->platform = platform;
    t->os = os;
    t->arch = arch;
    t->accel = accel;
}

void smneo__check_data_input_config(smneo__vctx *ctx, const char *text, const char *framework, const char *device,
                                    int platform)
{
    target t;
    fuzz_target(&t, framework, device, NULL, NULL, NULL, platform);
    cJSON_Delete(data_input_config(ctx, &t, text));
}

void smneo__check_compiler_options_text(smneo__vctx *ctx, const char *text, const char *framework,
                                        const char *device, const char *os, const char *arch, const char *accel)
{
    target t;
    fuzz_target(&t, framework, device, os, arch, accel, os != NULL);
    cJSON *v = compiler_options(ctx, &t, text);
    if (is_nvidia_target(&t) && t.platform && cJSON_IsObject(v))
        nvidia_missing(ctx, v);
    cJSON_Delete(v);
}
