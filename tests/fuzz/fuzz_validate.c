/* libFuzzer target for the validator's text parsers: DataInputConfig,
 * CompilerOptions (JSON and the tolerant Python-style form) and the whole
 * smneo_validate entry point.
 *
 * Input layout: byte 0 picks the mode, byte 1 the framework, byte 2 the
 * target; the rest is the text. Build and run: tests/fuzz/run.sh. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smneo/validate.h"
#include "validate_internal.h"

static const char *const FRAMEWORKS[] = {"TENSORFLOW", "KERAS", "MXNET", "ONNX", "PYTORCH",
                                         "XGBOOST", "TFLITE", "DARKNET", NULL};
static const char *const DEVICES[] = {"ml_c5", "ml_inf1", "ml_inf2", "ml_eia2", "coreml", "rasp3b",
                                      "jetson_nano", "lambda", NULL};
static const char *const PLATFORMS[][3] = {
    {"LINUX", "X86_64", NULL}, {"LINUX", "ARM64", "NVIDIA"}, {"ANDROID", "ARM_EABI", NULL},
    {"LINUX", "ARM64", "MALI"}, {"ANDROID", "ARM64", NULL},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    uint8_t mode = data[0] % 4, fsel = data[1], tsel = data[2];
    size_t n = size - 3;
    char *text = malloc(n + 1);
    if (!text)
        return 0;
    memcpy(text, data + 3, n);
    text[n] = 0;
    const char *fw = FRAMEWORKS[fsel % 9]; /* index 8: NULL (unknown) */
    smneo_issues *issues = NULL;
    if (smneo_issues_new(&issues) != 0) {
        free(text);
        return 0;
    }
    smneo__vctx ctx = {issues, 0, 0};
    switch (mode) {
    case 0: /* DataInputConfig on a device (or a TargetPlatform) */
        smneo__check_data_input_config(&ctx, text, fw, (tsel & 0x80) ? NULL : DEVICES[tsel % 8], (tsel & 0x80) != 0);
        break;
    case 1: { /* CompilerOptions on a TargetPlatform */
        const char *const *p = PLATFORMS[tsel % 5];
        smneo__check_compiler_options_text(&ctx, text, fw, NULL, p[0], p[1], p[2]);
        break;
    }
    case 2: /* CompilerOptions on a device */
        smneo__check_compiler_options_text(&ctx, text, fw, DEVICES[tsel % 8], NULL, NULL, NULL);
        break;
    default: { /* the whole entry point, params as given */
        smneo_issues *out = NULL;
        static const char *const ops[] = {"CreateCompilationJob", "ListCompilationJobs",
                                          "ListPipelineExecutionSteps", "DescribeCompilationJob"};
        smneo_validate_options opts = SMNEO_VALIDATE_OPTIONS_INIT;
        opts.allow_unknown_enum_values = tsel & 1;
        (void)smneo_validate(&out, ops[tsel % 4], text, n, &opts, NULL);
        for (size_t i = 0; i < smneo_issues_count(out); i++) {
            const smneo_issue *it = smneo_issues_at(out, i);
            if (!it->path || !it->rule || !it->message || !it->message[0])
                abort(); /* every issue has a path, a rule and a message */
        }
        smneo_issues_free(out);
        break;
    }
    }
    for (size_t i = 0; i < smneo_issues_count(issues); i++)
        if (!smneo_issues_at(issues, i)->message[0])
            abort();
    smneo_issues_free(issues);
    free(text);
    return 0;
}
