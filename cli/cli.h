/* cli/cli.h: shared pieces of the `smneo` command line tool.
 *
 * The CLI is a client of the public C API only (core/include/smneo.h and the
 * headers beside it). It adds argument parsing, --cli-input-json merging, output
 * (JSON for harnesses, tables for people), a progress display and the exit
 * codes documented in cli/smneo.1. */
#ifndef SMNEO_CLI_H
#define SMNEO_CLI_H

#include <cjson/cJSON.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "smneo.h"
#include "smneo/compile.h"
#include "smneo/s3.h"

/* Exit codes (cli/smneo.1, EXIT STATUS). */
enum {
    EXIT_OK = 0,
    EXIT_OTHER = 1,      /* local I/O, wait timeout, anything else */
    EXIT_USAGE = 2,
    EXIT_VALIDATION = 3,
    EXIT_SERVICE = 4,
    EXIT_JOB = 5,        /* job FAILED or STOPPED */
    EXIT_TRANSPORT = 6,  /* connection, TLS, timeout, credentials, region */
    EXIT_INTEGRITY = 7,  /* digest mismatch, unsafe archive */
    EXIT_INTERRUPTED = 130
};

/* ---- options ------------------------------------------------------------- */

typedef struct cli_opt {
    const char *name;  /* without the leading "--" */
    const char *arg;   /* metavariable for help, NULL for a flag */
    const char *help;
} cli_opt;

typedef struct cli_args {
    const char *names[128];
    const char *values[128]; /* "1" for flags */
    size_t count;
    const char *pos[16];     /* positional arguments */
    size_t npos;
    /* globals */
    const char *endpoint_url, *region, *profile;
    const char *retry_mode;  /* --retry-mode, or NULL: the environment, the profile, standard */
    int max_attempts;        /* --max-attempts, or 0: the environment, the profile, 3 */
    int json;                /* --output json (default: table) */
    int quiet;               /* --quiet: no progress display */
} cli_args;

/* Last value given for --name, or NULL. */
const char *cli_get(const cli_args *a, const char *name);
int cli_has(const cli_args *a, const char *name);

typedef struct cli_command {
    const char *name;
    const char *summary;
    const char *usage;       /* after "smneo <name> " */
    const char *details;     /* extra help text, or NULL */
    const cli_opt *opts;     /* NULL-name terminated */
    int (*run)(cli_args *a);
} cli_command;

extern const cli_command cli_commands[];
extern volatile sig_atomic_t cli_interrupted;

/* Prints "smneo: <message>" to stderr and returns `code`. */
int cli_fail(int code, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Reports a core error (message, service code, request id, issues) on
 * stderr and returns the exit code for it. */
int cli_error(const smneo_error *err, int code, const char *what);
int cli_exit_code(int smneo_code);

/* ---- JSON input ---------------------------------------------------------- */

/* Reads --cli-input-json (a file path, "-" for stdin, or inline JSON text
 * starting with '{') into an object; {} when not given. NULL on error
 * (reported). */
cJSON *cli_input_json(const cli_args *a);
/* Reads a whole stream (caller frees; NUL-terminated, *len without it). */
char *cli_read_all(FILE *f, size_t *len);
/* Sets obj[key] (replacing), creating intermediate objects along a dotted path. */
int cli_json_set(cJSON *obj, const char *path, cJSON *value);
/* Parses a flag's JSON text; reports which flag was bad. NULL on error. */
cJSON *cli_json_flag(const char *flag, const char *text);

/* ---- client --------------------------------------------------------------- */

typedef struct cli_client {
    smneo_client *client;
} cli_client;

int cli_client_open(cli_client *cc, const cli_args *a);
void cli_client_close(cli_client *cc);

/* ---- output --------------------------------------------------------------- */

/* Untrusted text (member names, service answers, error messages, file
 * names): everything the CLI prints goes through one escaping function in
 * output.c, so no string can move the cursor, retitle the terminal or fake a
 * line. cli_escape: control characters (C0, DEL, C1), the Unicode line
 * separators and bidirectional controls as \n \r \t \xNN \uNNNN, bytes that
 * are not UTF-8 as \xNN; malloc'd (NULL on allocation failure). */
char *cli_escape(const char *s);
/* Formats one line (fmt without the trailing newline), escapes all of it
 * and writes it with a newline. */
void cli_line(FILE *f, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void cli_vline(FILE *f, const char *fmt, va_list ap)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 0)))
#endif
    ;
/* The debug log's sink (SMNEO_DEBUG=1): "smneo[level] message" on stderr,
 * escaped, line breaks kept. */
void cli_log(int level, const char *message, void *payload);

/* Converts a result value to cJSON (timestamps as ISO 8601 strings, as the
 * AWS CLI prints them). NULL on allocation failure. */
cJSON *cli_value_to_cjson(const smneo_value *v);
/* Prints a document: pretty JSON (4-space indent, keys in response order,
 * strings escaped as RFC 8259 allows: control characters as \uNNNN, bytes
 * that are not UTF-8 as U+FFFD) with --output json, else a readable
 * key/value rendering (escaped as cli_escape does). */
void cli_print(const cli_args *a, const cJSON *doc);
/* Prints rows as a table with the given columns (dotted member paths). */
void cli_print_table(const cJSON *rows, const char *const *columns, const char *const *headers);
void cli_print_json(const cJSON *doc);
char *cli_iso8601(double epoch_seconds);

/* ---- progress -------------------------------------------------------------- */

void cli_progress_init(int quiet);
/* Bytes transferred: a bar on a terminal, a few plain lines otherwise. */
void cli_progress_bytes(const char *label, uint64_t done, uint64_t total);
/* Job status and elapsed time: redrawn on a terminal, a line per change otherwise. */
void cli_progress_status(const char *job, const char *status, double elapsed);
/* A plain informational line (ends any bar first). */
void cli_progress_note(const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 1, 2)))
#endif
    ;
void cli_progress_end(void);
double cli_now(void);

/* ---- commands -------------------------------------------------------------- */

int cmd_compile(cli_args *a);
/* One compile job's options from the command line (cmd_compile.c): the
 * request flags as for create, --bucket, --prefix, --output-dir, the waiter's
 * seconds. The strings are borrowed from a and the job; clear it after. */
typedef struct cli_compile_job {
    smneo_compile_options o;
    cJSON *params;
    char *tags, *bucket, *prefix, *vpc;
} cli_compile_job;
int cli_compile_job_init(cli_compile_job *j, const cli_args *a, const char *model);
/* A diagnosis as the JSON object compile prints ({"Id", "Category", "Title",
 * "Cause", "Fix", "Rule"?, "Evidence"?}); NULL when out of memory. */
cJSON *cli_diagnosis_json(const smneo_diagnosis *d);
void cli_compile_job_clear(cli_compile_job *j);
/* Many jobs (cmd_compile_many.c): more than one --model, --target or
 * --platform, or one of the flags only they take. */
int cli_compile_is_many(const cli_args *a);
int cmd_compile_many(cli_args *a);
int cmd_create(cli_args *a);
int cmd_describe(cli_args *a);
int cmd_list(cli_args *a);
int cmd_stop(cli_args *a);
int cmd_delete(cli_args *a);
int cmd_wait(cli_args *a);
int cmd_steps(cli_args *a);
int cmd_validate(cli_args *a);
int cmd_pack(cli_args *a);
int cmd_inspect(cli_args *a);
int cmd_extract(cli_args *a);
int cmd_digest(cli_args *a);
int cmd_verify(cli_args *a);
int cmd_explain(cli_args *a);
int cmd_logs(cli_args *a);
int cmd_whoami(cli_args *a);
/* The MFA prompt (smneo_mfa_cb) and the assumed-role cache of every
 * command's client (cmd_whoami.c). */
int cli_mfa_prompt(char *out, size_t size, const char *mfa_serial, const char *profile, void *payload);
void cli_credential_settings(smneo_client *c);
int cmd_s3(cli_args *a);

/* ---- job logs (cmd_logs.c) --------------------------------------------------- */

typedef void (*cli_log_fn)(const smneo_log_event *ev, void *payload);
typedef void (*cli_status_fn)(const char *status, void *payload);
/* Drives a job-log reader (Ctrl-C cancels it; past deadline, cli_now()
 * seconds or 0, it is SMNEO_EWAITTIMEOUT); warnings become progress notes.
 * Returns the reader's result (err filled on error). */
int cli_joblogs_run(smneo_joblogs *l, cli_log_fn on_line, cli_status_fn on_status, void *payload,
                    double deadline, smneo_error *err);
/* "2026-12-03T07:00:01.123Z  message", escaped. */
void cli_print_log_line(FILE *f, const smneo_log_event *ev);
/* The same after prefix ("[3] " for a job of several). */
void cli_print_job_log_line(FILE *f, const char *prefix, const smneo_log_event *ev);
/* A FAILED job: the log's last lines (unless they were streamed) and the
 * diagnosis. */
void cli_report_failure(FILE *f, const char *job, const smneo_log_event *lines, size_t n,
                        const smneo_diagnosis *d, int streamed, const char *no_log);
/* Reads the log's last lines best-effort, explains the failure with the
 * description and reports both on stderr. */
void cli_explain_failed(cli_client *cc, const char *job, const smneo_result *description, int streamed);

/* Builds CreateCompilationJob parameters from --cli-input-json and the
 * create/validate flags (flags override JSON members). NULL on error
 * (reported; *code set). */
cJSON *cli_create_params(const cli_args *a, int *code);
/* Prints validation issues (table) or returns them as a JSON array. */
void cli_print_issues(const smneo_issues *issues);
cJSON *cli_issues_json(const smneo_issues *issues);

#endif
