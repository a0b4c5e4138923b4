/* cli/smneo.c: `smneo`, the command line tool: argument parsing, help,
 * dispatch, error reporting and exit codes. The commands live in
 * cli/cmd_*.c; output and progress in cli/output.c and cli/progress.c. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

volatile sig_atomic_t cli_interrupted = 0;

/* ---- option tables --------------------------------------------------------- */

#define OPT_INPUT_JSON {"cli-input-json", "FILE|-", "parameters in the API's shape (JSON file, - for stdin, or inline {...}); flags override its members"}

#define OPTS_CREATE                                                                                           \
    {"job-name", "NAME", "CompilationJobName"}, {"role", "ARN", "RoleArn: the IAM role SageMaker assumes"},      \
        {"model-s3-uri", "S3URI", "InputConfig.S3Uri: s3://bucket/key of the model.tar.gz"},                   \
        {"framework", "NAME", "InputConfig.Framework (PYTORCH, TENSORFLOW, KERAS, MXNET, ONNX, TFLITE, ...)"}, \
        {"input-shape", "TEXT", "InputConfig.DataInputConfig (sent as given), e.g. '{\"input0\":[1,3,224,224]}'"}, \
        {"framework-version", "VER", "InputConfig.FrameworkVersion"},                                          \
        {"output-s3-uri", "S3URI", "OutputConfig.S3OutputLocation"},                                           \
        {"target", "DEVICE", "OutputConfig.TargetDevice (ml_c5, jetson_nano, ...)"},                           \
        {"platform", "OS/ARCH[/ACC]", "OutputConfig.TargetPlatform, e.g. LINUX/ARM64 or LINUX/X86_64/NVIDIA"}, \
        {"compiler-options", "TEXT", "OutputConfig.CompilerOptions (sent as given)"},                          \
        {"kms-key-id", "KEY", "OutputConfig.KmsKeyId"},                                                        \
        {"max-runtime", "SECONDS", "StoppingCondition.MaxRuntimeInSeconds"},                                   \
        {"tags", "JSON", "Tags, e.g. '[{\"Key\":\"team\",\"Value\":\"ml\"}]'"}, OPTS_CREATE_MORE

/* The CreateCompilationJob members that compile takes too. */
#define OPTS_CREATE_MORE                                                                                      \
    {"model-package-version-arn", "ARN", "ModelPackageVersionArn (instead of InputConfig; compile: of --model)"}, \
        {"vpc-config", "JSON", "VpcConfig, e.g. '{\"SecurityGroupIds\":[\"sg-1\"],\"Subnets\":[\"subnet-1\"]}'"},   \
        {"max-wait", "SECONDS", "StoppingCondition.MaxWaitTimeInSeconds"},                                     \
        {"max-pending", "SECONDS", "StoppingCondition.MaxPendingTimeInSeconds"}

static const cli_opt opts_compile[] = {
    {"model", "PATH", "model directory (packed for you) or a .tar.gz archive"},
    {"framework", "NAME", "InputConfig.Framework (PYTORCH, TENSORFLOW, KERAS, MXNET, ONNX, TFLITE, ...)"},
    {"input-shape", "TEXT", "InputConfig.DataInputConfig (sent as given), e.g. '{\"input0\":[1,3,224,224]}'"},
    {"target", "DEVICE", "OutputConfig.TargetDevice (ml_c5, jetson_nano, ...)"},
    {"platform", "OS/ARCH[/ACC]", "OutputConfig.TargetPlatform, e.g. LINUX/ARM64 or LINUX/X86_64/NVIDIA"},
    {"compiler-options", "TEXT", "OutputConfig.CompilerOptions (sent as given), e.g. '{\"mcpu\":\"cortex-a72\"}'"},
    {"framework-version", "VER", "InputConfig.FrameworkVersion"},
    {"role", "ARN", "RoleArn: the IAM role SageMaker assumes to read and write the bucket"},
    {"bucket", "NAME", "S3 bucket for the model and the artifact (default sagemaker-REGION-ACCOUNT, made if missing)"},
    {"prefix", "PREFIX", "key prefix in the bucket (default smneo)"},
    {"job-name", "NAME", "base of the job name (made unique; default: the model's name)"},
    {"output-dir", "DIR", "where the compiled artifact is written (default .)"},
    {"extract", NULL, "also extract the compiled artifact into OUTPUT-DIR/<job>"},
    {"timeout", "SECONDS", "give up waiting after this long (default: no limit)"},
    {"delay", "SECONDS", "first polling delay (default 5)"},
    {"max-delay", "SECONDS", "longest polling delay (default 60)"},
    {"kms-key-id", "KEY", "OutputConfig.KmsKeyId and SSE-KMS for the upload"},
    {"max-runtime", "SECONDS", "StoppingCondition.MaxRuntimeInSeconds (default 900)"},
    {"tags", "JSON", "Tags, e.g. '[{\"Key\":\"team\",\"Value\":\"ml\"}]'"},
    {"keep-job-on-interrupt", NULL, "on Ctrl-C leave the job running instead of stopping it"},
    {"logs", NULL, "print the job's log (CloudWatch Logs) while waiting (several jobs: each line after [N])"},
    OPTS_CREATE_MORE,
    {"max-concurrent", "N", "several jobs: at most N at once (default 4; fewer when the account's limit is met)"},
    {"state-file", "FILE", "several jobs: record them in FILE; a rerun skips the completed, waits for the running"},
    {"retry-failed", NULL, "several jobs: run again the jobs the state file records as FAILED"},
    {"keep-jobs-on-cancel", NULL, "several jobs: on Ctrl-C leave the running jobs running (a rerun waits for them)"},
    {"matrix", "FILE|-", "several jobs from a JSON list, each in compile()'s terms with its own options (see the manual)"},
    OPT_INPUT_JSON,
    {NULL, NULL, NULL}};

static const cli_opt opts_s3[] = {
    {"content-type", "TYPE", "upload: the object's Content-Type (default application/octet-stream)"},
    {"metadata", "JSON", "upload: user metadata, e.g. '{\"stage\":\"prod\"}' (x-amz-meta-*)"},
    {"sse", "ALG", "upload: server-side encryption (AES256, aws:kms, aws:kms:dsse)"},
    {"sse-kms-key-id", "KEY", "upload: the KMS key for SSE-KMS (aws:kms unless --sse says otherwise)"},
    {"recursive", NULL, "copy a directory: every file under SRC, to the same paths under DST"},
    {"page-size", "N", "--recursive download: keys asked for a ListObjectsV2 page (1-1000, default 1000)"},
    {NULL, NULL, NULL}};

static const cli_opt opts_create[] = {OPTS_CREATE, OPT_INPUT_JSON, {NULL, NULL, NULL}};
static const cli_opt opts_validate[] = {
    {"operation", "NAME", "operation to validate (default CreateCompilationJob)"}, OPTS_CREATE, OPT_INPUT_JSON,
    {NULL, NULL, NULL}};
static const cli_opt opts_job[] = {{"job-name", "NAME", "CompilationJobName (or give it as the argument)"},
                                   OPT_INPUT_JSON,
                                   {NULL, NULL, NULL}};
static const cli_opt opts_list[] = {
    {"name-contains", "TEXT", "NameContains"},
    {"status-equals", "STATUS", "StatusEquals (INPROGRESS, COMPLETED, FAILED, STARTING, STOPPING, STOPPED)"},
    {"sort-by", "KEY", "SortBy (Name, CreationTime, Status)"},
    {"sort-order", "ORDER", "SortOrder (Ascending, Descending)"},
    {"creation-time-after", "TIME", "CreationTimeAfter (ISO 8601 or epoch seconds)"},
    {"creation-time-before", "TIME", "CreationTimeBefore (ISO 8601 or epoch seconds)"},
    {"max-items", "N", "stop after N jobs (prints NextToken to resume)"},
    {"page-size", "N", "jobs per request (MaxResults)"},
    {"starting-token", "TOKEN", "resume from a NextToken printed earlier"},
    OPT_INPUT_JSON,
    {NULL, NULL, NULL}};
static const cli_opt opts_wait[] = {{"job-name", "NAME", "CompilationJobName (or give it as the argument)"},
                                    {"timeout", "SECONDS", "give up after this long (default: no limit)"},
                                    {"delay", "SECONDS", "first polling delay (default 5)"},
                                    {"max-delay", "SECONDS", "longest polling delay (default 60)"},
                                    {"logs", NULL, "print the job's log (CloudWatch Logs) as it is written"},
                                    OPT_INPUT_JSON,
                                    {NULL, NULL, NULL}};
static const cli_opt opts_steps[] = {
    {"pipeline-execution-arn", "ARN", "PipelineExecutionArn (or give it as the argument)"},
    {"sort-order", "ORDER", "SortOrder (Ascending, Descending)"},
    {"max-items", "N", "stop after N steps (prints NextToken to resume)"},
    {"page-size", "N", "steps per request (MaxResults)"},
    {"starting-token", "TOKEN", "resume from a NextToken printed earlier"},
    OPT_INPUT_JSON,
    {NULL, NULL, NULL}};
static const cli_opt opts_pack[] = {{"model", "DIR", "directory to pack (or the first argument)"},
                                    {"archive", "FILE", "archive to write (or the second argument; default DIR.tar.gz)"},
                                    {"level", "1-9", "gzip level (default 6)"},
                                    {"threads", "N", "compression threads (default: CPUs; output does not depend on it)"},
                                    {NULL, NULL, NULL}};
#define OPTS_LIMITS                                                                                          \
    {"max-bytes", "N", "refuse more than N bytes of file data (default 64 GiB)"},                             \
        {"max-entries", "N", "refuse more than N members (default 100000)"},                                   \
        {"max-ratio", "R", "refuse a decompressed/compressed ratio over R, a gzip bomb (default 200; -1: off)"}

static const cli_opt opts_inspect[] = {
    {"framework", "NAME", "check the layout for this framework"},
    {"target", "NAME", "target device or platform, for target-specific checks"},
    {"compiler-options", "JSON", "CompilerOptions (CoreML class_labels)"},
    OPTS_LIMITS,
    {NULL, NULL, NULL}};
static const cli_opt opts_extract[] = {{"output-dir", "DIR", "destination (must not exist or be empty)"}, OPTS_LIMITS,
                                       {NULL, NULL, NULL}};
static const cli_opt opts_none[] = {{NULL, NULL, NULL}};
static const cli_opt opts_digest[] = {
    {"algorithm", "NAME", "blake2b (default), blake2b-256, blake2s, sha256, sha512"}, {NULL, NULL, NULL}};
static const cli_opt opts_verify[] = {
    {"expected", "DIGEST", "expected digest: 128 hex (BLAKE2b-512), 64 hex, or algorithm:hex"},
    {NULL, NULL, NULL}};

static const cli_opt opts_explain[] = {
    {"job-name", "NAME", "the job to describe and explain (or give it as the argument)"},
    {"description-json", "FILE|-", "explain this description instead (smneo describe JOB --output json)"},
    {"log-file", "FILE|-", "the job's compile log: lines, or the JSON of aws logs get-log-events"},
    {NULL, NULL, NULL}};

static const cli_opt opts_logs[] = {
    {"job-name", "NAME", "CompilationJobName (or give it as the argument)"},
    {"follow", NULL, "keep reading until the job is COMPLETED, FAILED or STOPPED"},
    {"since", "10m|ISO-TIME", "only events from then on: 30s, 10m, 2h, 1d, 1w ago, an ISO 8601 time or epoch seconds"},
    {"tail", "N", "only the last N events (not with --follow)"},
    {"delay", "SECONDS", "--follow: first polling delay (default 5)"},
    {"max-delay", "SECONDS", "--follow: longest polling delay (default 60)"},
    {NULL, NULL, NULL}};

static const cli_opt opts_global[] = {
    {"endpoint-url", "URL", "service endpoint (also used for S3 unless AWS_ENDPOINT_URL_S3 is set)"},
    {"region", "REGION", "AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, the profile)"},
    {"profile", "NAME", "profile in ~/.aws/config and ~/.aws/credentials"},
    {"output", "json|table", "output format (default table)"},
    {"retry-mode", "standard|legacy|adaptive", "retry mode (default: AWS_RETRY_MODE, the profile's retry_mode, "
                                              "standard)"},
    {"max-attempts", "N", "attempts per request, the first included (default: AWS_MAX_ATTEMPTS, the profile's "
                          "max_attempts, 3)"},
    {"quiet", NULL, "no progress display"},
    {"debug", NULL, "log requests, responses and retries to stderr, secrets redacted (as SMNEO_DEBUG=1)"},
    {"help", NULL, "show help"},
    {NULL, NULL, NULL}};

const cli_command cli_commands[] = {
    {"compile", "pack, upload, compile, wait, download and verify in one step", "--model PATH --framework NAME "
     "(--target DEVICE | --platform OS/ARCH[/ACC]) --role ARN [--bucket NAME] [options]",
     "Packs a model directory (or takes a .tar.gz), checks its layout, validates the request, uploads it\n"
     "(skipped when the same content is there), creates the job, waits, downloads the compiled artifact\n"
     "and verifies it against the job's ArtifactDigest. Ctrl-C stops the job (exit 130).\n"
     "Several --model and --target/--platform: every model for every target (the cross product), each\n"
     "model uploaded once, every request validated before the first job, at most --max-concurrent at\n"
     "once; one line per job while they run, then a table (--output json: {\"Jobs\": [...]}); exit 0 when\n"
     "every job completed, 5 when any did not, 130 after Ctrl-C (the jobs it started are stopped).",
     opts_compile, cmd_compile},
    {"create", "CreateCompilationJob", "[--cli-input-json FILE] [options]", NULL, opts_create, cmd_create},
    {"describe", "DescribeCompilationJob", "JOB-NAME", NULL, opts_job, cmd_describe},
    {"list", "ListCompilationJobs (every page)", "[options]", NULL, opts_list, cmd_list},
    {"stop", "StopCompilationJob", "JOB-NAME", NULL, opts_job, cmd_stop},
    {"delete", "DeleteCompilationJob", "JOB-NAME", NULL, opts_job, cmd_delete},
    {"wait", "wait until a job is COMPLETED (exit 5 when FAILED or STOPPED)", "JOB-NAME [options]",
     "Ctrl-C stops waiting (exit 130); the job itself goes on. When the job FAILED, its log's last\n"
     "lines and the diagnosis are printed (on stderr).", opts_wait, cmd_wait},
    {"logs", "print a job's log (CloudWatch Logs, the streams JOB and JOB/...) in time order",
     "JOB-NAME [--follow] [--since 10m|ISO-TIME] [--tail N]",
     "Reads the log group /aws/sagemaker/CompilationJobs. --output json prints one JSON object a line\n"
     "(timestamp, timestampMillis, logStreamName, message). No log yet, or no permission to read it, is\n"
     "a warning (exit 0). Ctrl-C stops --follow (exit 130).", opts_logs, cmd_logs},
    {"steps", "ListPipelineExecutionSteps (every page)", "PIPELINE-EXECUTION-ARN [options]", NULL, opts_steps,
     cmd_steps},
    {"validate", "check request parameters without sending them (exit 3 on errors)",
     "[--operation NAME] [--cli-input-json FILE] [create options]", NULL, opts_validate, cmd_validate},
    {"pack", "pack a model directory into a reproducible model.tar.gz", "DIR [ARCHIVE] [options]", NULL, opts_pack,
     cmd_pack},
    {"inspect", "list an archive and check its layout for a framework", "ARCHIVE [options]",
     "Exit 3 when the layout check finds errors.", opts_inspect, cmd_inspect},
    {"extract", "extract an archive safely (exit 7 for unsafe archives)", "ARCHIVE DIR", NULL, opts_extract,
     cmd_extract},
    {"digest", "print a file's digest (BLAKE2b-512 by default)", "FILE [--algorithm NAME]", NULL, opts_digest,
     cmd_digest},
    {"verify", "check a file against a digest (exit 7 on a mismatch)", "FILE DIGEST", NULL, opts_verify,
     cmd_verify},
    {"s3", "copy a file or a directory to S3 or back (s3 cp)",
     "cp SRC DST [--recursive] [--content-type TYPE] [--metadata JSON] [--sse ALG]",
     "SRC or DST is s3://BUCKET/KEY, the other a local file. A DST ending in / (or a local directory)\n"
     "gets the source's name. --recursive copies a directory to s3://BUCKET/PREFIX/ (its regular files,\n"
     "symbolic links not followed) or every object under PREFIX/ into a directory (ListObjectsV2 page by\n"
     "page), one file after the other, stopping at the first failure. Large files go in parallel parts\n"
     "(multipart upload); a download is written to a temporary file beside DST and renamed at the end,\n"
     "so DST is never half-written. Progress on stderr (a bar on a terminal). Exit 0 on success, 2 usage, 3 bad options, 4 an S3 error (a missing\n"
     "object or bucket included), 6 transport or credentials, 1 a local file error, 130 after Ctrl-C.",
     opts_s3, cmd_s3},
    {"explain", "why did a job fail? cause, fix and rule from a catalogue of known Neo failures",
     "JOB-NAME [--log-file FILE] | --description-json FILE|- [--log-file FILE]",
     "Matches the job's FailureReason, its compile log and its own parameters against the catalogue of\n"
     "known Neo failures (docs/diagnosis.md). With JOB-NAME the job is described for you; the log is\n"
     "read from --log-file, or else from CloudWatch Logs (best-effort: a log that cannot be read is a\n"
     "warning and the job is explained without it).",
     opts_explain, cmd_explain},
    {"whoami", "who the credentials belong to (STS GetCallerIdentity) and where they came from", "",
     "Prints the account, the caller's ARN and user id, and the credential source (with the profile\n"
     "when the source is one): environment, shared-credentials-file, config-file, credential_process,\n"
     "assume-role, web-identity, sso, container, imds, ... Never prints a key or token. Assumed roles\n"
     "are cached in ~/.aws/cli/cache as the AWS CLI caches them (shared with it).",
     opts_none, cmd_whoami},
    {NULL, NULL, NULL, NULL, NULL, NULL}};

/* ---- helpers ---------------------------------------------------------------- */

const char *cli_get(const cli_args *a, const char *name)
{
    for (size_t i = a->count; i-- > 0;)
        if (!strcmp(a->names[i], name))
            return a->values[i];
    return NULL;
}

int cli_has(const cli_args *a, const char *name) { return cli_get(a, name) != NULL; }

int cli_fail(int code, const char *fmt, ...)
{
    cli_progress_end();
    va_list ap;
    va_start(ap, fmt);
    fputs("smneo: ", stderr);
    cli_vline(stderr, fmt, ap); /* arguments may be names from an archive or a server */
    va_end(ap);
    return code;
}

int cli_exit_code(int c)
{
    switch (c) {
    case SMNEO_OK:
        return EXIT_OK;
    case SMNEO_EVALIDATION:
    case SMNEO_EINVAL:
    case SMNEO_EARCHIVE:
        return EXIT_VALIDATION;
    case SMNEO_ESERVICE:
    case SMNEO_ENOTFOUND:
    case SMNEO_ETHROTTLED:
    case SMNEO_EPROTOCOL:
    case SMNEO_EPAGINATION:
    case SMNEO_EINUSE:
    case SMNEO_ELIMIT:
    case SMNEO_EUNSUPPORTED:
        return EXIT_SERVICE;
    case SMNEO_EJOBFAILED:
    case SMNEO_EJOBSTOPPED:
        return EXIT_JOB;
    case SMNEO_ENOCREDENTIALS:
    case SMNEO_ECREDENTIALS:
    case SMNEO_ESSOTOKEN:
    case SMNEO_ESSOUNAUTHORIZED:
    case SMNEO_ENOREGION:
    case SMNEO_ECONNECT:
    case SMNEO_ECLOSED:
    case SMNEO_EDNS:
    case SMNEO_ETLS:
    case SMNEO_ETIMEOUT:
    case SMNEO_EAUTH:
        return EXIT_TRANSPORT;
    case SMNEO_EDIGEST:
    case SMNEO_EUNSAFE:
        return EXIT_INTEGRITY;
    case SMNEO_ECANCELLED:
        return cli_interrupted ? EXIT_INTERRUPTED : EXIT_OTHER;
    default:
        return EXIT_OTHER;
    }
}

int cli_error(const smneo_error *err, int code, const char *what)
{
    cli_progress_end();
    const char *msg = err && err->message && *err->message ? err->message : smneo_strerror(code);
    const char *sc = err && err->service_code && !strstr(msg, err->service_code) ? err->service_code : NULL;
    /* the request that failed, when it is not what the command is named after
     * ("compile (PutObject): ...", "s3 cp (HeadObject): ...") */
    const char *op = smneo_error_operation(err);
    if (op && what && !strcmp(op, what))
        op = NULL;
    cli_line(stderr, "smneo: %s%s%s%s%s%s%s%s%s", what ? what : "", what && op ? " (" : "", what && op ? op : "",
             what && op ? ")" : "", what ? ": " : "", msg, sc ? " (" : "", sc ? sc : "", sc ? ")" : "");
    if (err && err->request_id)
        cli_line(stderr, "smneo: request id %s", err->request_id);
    if (err && err->issues && smneo_issues_count(err->issues) > 0)
        cli_print_issues(err->issues);
    return cli_exit_code(code);
}

/* ---- help ------------------------------------------------------------------------ */

static void print_opts(FILE *f, const cli_opt *o)
{
    for (; o && o->name; o++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        fprintf(f, "  %-34s %s\n", left, o->help);
    }
}

static void usage_main(FILE *f)
{
    fprintf(f, "usage: smneo [global options] <command> [options]\n\n"
               "A client for the Amazon SageMaker Neo compilation API (libsmneo %s).\n\ncommands:\n",
            smneo_version());
    for (const cli_command *c = cli_commands; c->name; c++)
        fprintf(f, "  %-10s %s\n", c->name, c->summary);
    fprintf(f, "\nglobal options:\n");
    print_opts(f, opts_global);
    fprintf(f, "\nexit status: 0 success, 2 usage, 3 validation, 4 service error, 5 job FAILED or STOPPED,\n"
               "6 transport or credentials, 7 digest mismatch or unsafe archive, 130 interrupted, 1 other.\n"
               "`smneo <command> --help` for a command's options; `man smneo` for the manual.\n");
}

static void usage_command(FILE *f, const cli_command *c)
{
    fprintf(f, "usage: smneo %s %s\n\n%s.\n", c->name, c->usage, c->summary);
    if (c->details)
        fprintf(f, "%s\n", c->details);
    fprintf(f, "\noptions:\n");
    print_opts(f, c->opts);
    fprintf(f, "\nglobal options:\n");
    print_opts(f, opts_global);
}

static const cli_opt *find_opt(const cli_opt *opts, const char *name, size_t len)
{
    for (const cli_opt *o = opts; o && o->name; o++)
        if (strlen(o->name) == len && !strncmp(o->name, name, len))
            return o;
    return NULL;
}

/* ---- main ------------------------------------------------------------------------- */

static void on_sigint(int sig)
{
    (void)sig;
    if (cli_interrupted) /* a second Ctrl-C: leave at once */
        _exit(EXIT_INTERRUPTED);
    cli_interrupted = 1;
}

int main(int argc, char **argv)
{
    static cli_args a; /* zeroed */
    const cli_command *cmd = NULL;
    int help = 0;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "-h")) {
            help = 1;
            continue;
        }
        if (!strcmp(s, "--version")) {
            printf("smneo %s\n", smneo_version());
            return EXIT_OK;
        }
        if (!strcmp(s, "--")) {
            for (i++; i < argc; i++) {
                if (a.npos >= sizeof a.pos / sizeof a.pos[0])
                    return cli_fail(EXIT_USAGE, "too many arguments");
                a.pos[a.npos++] = argv[i];
            }
            break;
        }
        if (s[0] == '-' && s[1] == '-') {
            const char *name = s + 2, *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            const cli_opt *o = find_opt(opts_global, name, len);
            if (!o && cmd)
                o = find_opt(cmd->opts, name, len);
            if (!o) {
                if (cmd)
                    return cli_fail(EXIT_USAGE, "unknown option --%.*s for `smneo %s` (see smneo %s --help)",
                                    (int)len, name, cmd->name, cmd->name);
                return cli_fail(EXIT_USAGE, "unknown option --%.*s (see smneo --help)", (int)len, name);
            }
            const char *val = "1";
            if (o->arg) {
                if (eq)
                    val = eq + 1;
                else if (i + 1 < argc)
                    val = argv[++i];
                else
                    return cli_fail(EXIT_USAGE, "option --%s needs a value (%s)", o->name, o->arg);
            } else if (eq) {
                return cli_fail(EXIT_USAGE, "option --%s takes no value", o->name);
            }
            if (a.count >= sizeof a.names / sizeof a.names[0])
                return cli_fail(EXIT_USAGE, "too many options");
            a.names[a.count] = o->name;
            a.values[a.count++] = val;
            continue;
        }
        if (!cmd) {
            for (const cli_command *c = cli_commands; c->name; c++)
                if (!strcmp(c->name, s))
                    cmd = c;
            if (!cmd) {
                if (!strcmp(s, "help")) {
                    usage_main(stdout);
                    return EXIT_OK;
                }
                return cli_fail(EXIT_USAGE, "unknown command `%s` (see smneo --help)", s);
            }
            continue;
        }
        if (a.npos >= sizeof a.pos / sizeof a.pos[0])
            return cli_fail(EXIT_USAGE, "too many arguments");
        a.pos[a.npos++] = s;
    }
    if (help || cli_has(&a, "help")) {
        if (cmd)
            usage_command(stdout, cmd);
        else
            usage_main(stdout);
        return EXIT_OK;
    }
    if (!cmd) {
        usage_main(stderr);
        return EXIT_USAGE;
    }
    a.endpoint_url = cli_get(&a, "endpoint-url");
    a.region = cli_get(&a, "region");
    a.profile = cli_get(&a, "profile");
    a.quiet = cli_has(&a, "quiet");
    const char *output = cli_get(&a, "output");
    if (output && strcmp(output, "json") && strcmp(output, "table"))
        return cli_fail(EXIT_USAGE, "--output must be json or table, not \"%s\"", output);
    a.json = output && !strcmp(output, "json");
    a.retry_mode = cli_get(&a, "retry-mode");
    if (a.retry_mode && strcmp(a.retry_mode, "standard") && strcmp(a.retry_mode, "legacy") &&
        strcmp(a.retry_mode, "adaptive"))
        return cli_fail(EXIT_USAGE, "--retry-mode must be standard, legacy or adaptive, not \"%s\"", a.retry_mode);
    const char *attempts = cli_get(&a, "max-attempts");
    if (attempts) {
        char *end = NULL;
        long n = strtol(attempts, &end, 10);
        if (end == attempts || *end || n < 1 || n > 100)
            return cli_fail(EXIT_USAGE, "--max-attempts must be a whole number from 1 to 100 (the first attempt "
                                        "included), not \"%s\"", attempts);
        a.max_attempts = (int)n;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL); /* no SA_RESTART: sleeps end early */
    cli_progress_init(a.quiet);
    /* --debug or SMNEO_DEBUG=1: the log shows what servers send (escaped) */
    if (cli_has(&a, "debug") || smneo_log_enabled())
        smneo_log_set_callback(cli_log, NULL);
    int rc = cmd->run(&a);
    cli_progress_end();
    if (fflush(stdout) != 0 && rc == EXIT_OK)
        return cli_fail(EXIT_OTHER, "cannot write the output: %s", strerror(errno));
    return rc;
}
