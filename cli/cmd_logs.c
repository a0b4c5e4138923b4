/* cli/cmd_logs.c: `smneo logs` (a compilation job's CloudWatch Logs, see
 * docs/logs.md), the job-log driver `smneo wait --logs` shares, and what
 * `wait` and `compile` print about a FAILED job: the reason, the log's last
 * lines and the diagnosis. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

enum { FAILED_TAIL = 50 };

/* Drives a job-log reader with the client's transport, sleeping in short
 * steps so that Ctrl-C cancels it promptly; past `deadline` (cli_now()
 * seconds, 0: none) it ends with SMNEO_EWAITTIMEOUT. Returns the reader's
 * result. */
int cli_joblogs_run(smneo_joblogs *l, cli_log_fn on_line, cli_status_fn on_status, void *payload, double deadline,
                    smneo_error *err)
{
    int timed_out = 0;
    for (;;) {
        smneo_step st;
        if (cli_interrupted)
            smneo_joblogs_cancel(l);
        if (deadline > 0 && !timed_out && cli_now() >= deadline) {
            timed_out = 1;
            smneo_joblogs_cancel(l);
        }
        smneo_joblogs_step(&st, l);
        switch (st.kind) {
        case SMNEO_STEP_SEND:
            smneo_joblogs_send(l, &st);
            break;
        case SMNEO_STEP_SLEEP: {
            double until = cli_now() + (double)st.sleep_ms / 1000.0;
            while (!cli_interrupted && cli_now() < until) {
                struct timespec ts = {0, 20 * 1000000L};
                nanosleep(&ts, NULL);
            }
            break;
        }
        case SMNEO_STEP_EVENT:
            if (st.event == SMNEO_EVENT_LOG && on_line) {
                smneo_log_event ev;
                if (smneo_joblogs_event(&ev, l) == 0)
                    on_line(&ev, payload);
            } else if (st.event == SMNEO_EVENT_WARNING) {
                cli_progress_note("warning: %s", smneo_joblogs_warning(l));
            } else if (st.event == SMNEO_EVENT_STATUS && on_status) {
                on_status(smneo_joblogs_status(l), payload);
            }
            break;
        case SMNEO_STEP_WORK: /* not a step of the log reader */
            break;
        case SMNEO_STEP_WAIT: /* S3 transfers only: never from a call (as DONE, not a hang) */
        case SMNEO_STEP_TRANSFER: /* a compile machine that opted in only */
        case SMNEO_STEP_DONE: {
            int rc = smneo_joblogs_result(l, err);
            if (rc == SMNEO_ECANCELLED && timed_out && !cli_interrupted) {
                const char *s = smneo_joblogs_status(l);
                char msg[160];
                snprintf(msg, sizeof msg, "the compilation job did not finish within the waiter's timeout (last "
                         "status %s)", s ? s : "unknown");
                smneo_error_clear(err);
                err->code = rc = SMNEO_EWAITTIMEOUT;
                err->message = strdup(msg);
            }
            return rc;
        }
        }
    }
}

/* One event as a line for people: "2026-12-03T07:00:01.123Z  message". */
void cli_print_log_line(FILE *f, const smneo_log_event *ev) { cli_print_job_log_line(f, "", ev); }

void cli_print_job_log_line(FILE *f, const char *prefix, const smneo_log_event *ev)
{
    time_t secs = (time_t)(ev->timestamp / 1000);
    struct tm tm;
    char when[40];
    gmtime_r(&secs, &tm);
    size_t n = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + n, sizeof when - n, ".%03dZ", (int)(ev->timestamp % 1000));
    cli_line(f, "%s%s  %s", prefix, when, ev->message);
}

/* One event as a JSON line (--output json): one object a line, so that a
 * followed log can be read as it comes. */
static void print_json_event(const smneo_log_event *ev)
{
    cJSON *o = cJSON_CreateObject();
    char *iso = cli_iso8601((double)ev->timestamp / 1000.0);
    if (o && iso) {
        cJSON_AddStringToObject(o, "timestamp", iso);
        cJSON_AddNumberToObject(o, "timestampMillis", (double)ev->timestamp);
        cJSON_AddStringToObject(o, "logStreamName", ev->stream);
        cJSON_AddStringToObject(o, "message", ev->message);
        char *text = cJSON_PrintUnformatted(o);
        if (text) {
            fputs(text, stdout);
            fputc('\n', stdout);
            fflush(stdout);
        }
        free(text);
    }
    free(iso);
    cJSON_Delete(o);
}

typedef struct printer {
    int json;
} printer;

static void print_event(const smneo_log_event *ev, void *payload)
{
    printer *p = payload;
    cli_progress_end();
    if (p->json)
        print_json_event(ev);
    else {
        cli_print_log_line(stdout, ev);
        fflush(stdout);
    }
}

/* --since: 30s, 10m, 2h, 1d, 1w (before now), or an ISO 8601 time
 * (YYYY-MM-DD[THH:MM[:SS[.fff]]][Z|+HH:MM|-HH:MM]), or epoch seconds. ms
 * since the epoch into *out, or -1 with the error reported. */
static int parse_since(const char *text, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (!errno && end != text && v >= 0) {
        double unit = !*end ? 0 : !strcmp(end, "s") ? 1 : !strcmp(end, "m") ? 60 : !strcmp(end, "h") ? 3600
                             : !strcmp(end, "d") ? 86400 : !strcmp(end, "w") ? 604800 : -1;
        if (unit == 0 && v > 1e9) { /* epoch seconds */
            *out = (int64_t)llround(v * 1000);
            return 0;
        }
        if (unit > 0) {
            *out = (int64_t)llround((cli_now() - v * unit) * 1000);
            return 0;
        }
    }
    int y, mo, d, h = 0, mi = 0, n = 0;
    double s = 0;
    const char *p = text;
    if (sscanf(p, "%4d-%2d-%2d%n", &y, &mo, &d, &n) == 3) {
        p += n;
        if (*p == 'T' || *p == ' ') {
            p++;
            if (sscanf(p, "%2d:%2d%n", &h, &mi, &n) != 2)
                goto bad;
            p += n;
            if (*p == ':') {
                p++;
                char *e;
                s = strtod(p, &e);
                if (e == p)
                    goto bad;
                p = e;
            }
        }
        long off = 0;
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int oh, om = 0;
            int sign = *p == '-' ? -1 : 1;
            p++;
            if (sscanf(p, "%2d:%2d%n", &oh, &om, &n) == 2 || sscanf(p, "%2d%2d%n", &oh, &om, &n) == 2)
                p += n;
            else
                goto bad;
            off = sign * (oh * 3600L + om * 60L);
        }
        if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s < 0 || s >= 61)
            goto bad;
        struct tm tm;
        memset(&tm, 0, sizeof tm);
        tm.tm_year = y - 1900;
        tm.tm_mon = mo - 1;
        tm.tm_mday = d;
        tm.tm_hour = h;
        tm.tm_min = mi;
        time_t t = timegm(&tm);
        *out = (int64_t)llround(((double)t + s - (double)off) * 1000);
        return 0;
    }
bad:
    return cli_fail(EXIT_USAGE, "--since \"%s\": give a duration before now (30s, 10m, 2h, 1d, 1w), an ISO 8601 "
                                "time (2026-12-03T07:00:00Z) or epoch seconds", text);
}

static int parse_seconds(const char *flag, const char *text, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || !end || end == text || *end || !(v > 0) || !isfinite(v))
        return cli_fail(EXIT_USAGE, "--%s \"%s\": give a positive number of seconds", flag, text);
    *out = v;
    return 0;
}

int cmd_logs(cli_args *a)
{
    const char *job = cli_get(a, "job-name");
    if (!job && a->npos > 0)
        job = a->pos[0];
    if (!job || a->npos > (cli_has(a, "job-name") ? 0u : 1u))
        return cli_fail(EXIT_USAGE, "usage: smneo logs JOB-NAME [--follow] [--since 10m|ISO-TIME] [--tail N]");
    smneo_joblogs_options o = SMNEO_JOBLOGS_OPTIONS_INIT;
    o.follow = cli_has(a, "follow");
    const char *s;
    if ((s = cli_get(a, "since")) && parse_since(s, &o.start_time))
        return EXIT_USAGE;
    if (((s = cli_get(a, "delay")) && parse_seconds("delay", s, &o.delay)) ||
        ((s = cli_get(a, "max-delay")) && parse_seconds("max-delay", s, &o.max_delay)))
        return EXIT_USAGE;
    if ((s = cli_get(a, "tail"))) {
        char *end = NULL;
        long long n = strtoll(s, &end, 10);
        if (!end || *end || end == s || n < 1)
            return cli_fail(EXIT_USAGE, "--tail \"%s\": give a positive number of lines", s);
        if (o.follow)
            return cli_fail(EXIT_USAGE, "--tail reads the log as it is: it cannot be combined with --follow");
        o.tail = (size_t)n;
    }
    cli_client cc;
    int code = cli_client_open(&cc, a);
    if (code)
        return code;
    smneo_joblogs *l = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_joblogs_new(&l, cc.client, job, &o, &err);
    if (rc == 0) {
        printer p = {a->json};
        rc = cli_joblogs_run(l, print_event, NULL, &p, 0, &err);
    }
    cli_progress_end();
    if (rc == SMNEO_ECANCELLED && cli_interrupted)
        code = cli_fail(EXIT_INTERRUPTED, "interrupted: stopped reading the log of %s", job);
    else if (rc)
        code = cli_error(&err, rc, "logs");
    smneo_joblogs_free(l);
    smneo_error_clear(&err);
    cli_client_close(&cc);
    return code;
}

/* ---- a FAILED job: the reason, the log's last lines, the diagnosis ------------------------------ */

static void print_diagnosis(FILE *f, const smneo_diagnosis *d)
{
    char *text = NULL;
    if (!d || smneo_diagnosis_format(&text, d) != 0)
        return;
    for (char *line = text, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        cli_line(f, "%s", line);
    }
    free(text);
}

void cli_report_failure(FILE *f, const char *job, const smneo_log_event *lines, size_t n,
                        const smneo_diagnosis *d, int streamed, const char *no_log)
{
    cli_progress_end();
    if (n && !streamed) {
        cli_line(f, "Last %zu line%s of the log of %s (%s):", n, n == 1 ? "" : "s", job, SMNEO_JOBLOGS_GROUP);
        for (size_t i = 0; i < n; i++) {
            fputs("  ", f);
            cli_print_log_line(f, &lines[i]);
        }
    } else if (!n && !streamed) {
        cli_line(f, "No log lines of %s: %s", job, no_log ? no_log : "the log is empty");
    }
    print_diagnosis(f, d);
}

/* wait: the log's last lines, read best-effort, and the diagnosis made of
 * them and the description. */
void cli_explain_failed(cli_client *cc, const char *job, const smneo_result *description, int streamed)
{
    smneo_joblogs_options o = SMNEO_JOBLOGS_OPTIONS_INIT;
    o.tail = FAILED_TAIL;
    smneo_joblogs *l = NULL;
    smneo_log_event *lines = NULL;
    size_t n = 0;
    char *no_log = NULL; /* why there are no lines */
    if (smneo_joblogs_new(&l, cc->client, job, &o, NULL) == 0) {
        smneo_log_event ev;
        smneo_error err = SMNEO_ERROR_INIT;
        int rc;
        while ((rc = smneo_joblogs_next(&ev, l, &err)) == 0) {
            smneo_log_event *grown = realloc(lines, (n + 1) * sizeof *grown);
            if (!grown)
                break;
            lines = grown;
            lines[n] = ev;
            lines[n].message = strdup(ev.message);
            lines[n].stream = NULL;
            if (!lines[n].message)
                break;
            n++;
        }
        size_t nw = smneo_joblogs_warning_count(l);
        if (nw)
            no_log = strdup(smneo_joblogs_warning_at(l, nw - 1));
        else if (rc != 0 && rc != SMNEO_ITEROVER && err.message)
            no_log = strdup(err.message);
        smneo_error_clear(&err);
        smneo_joblogs_free(l);
    }
    smneo_value root;
    smneo_result_root(&root, description);
    char *json = NULL;
    smneo_diagnosis *d = NULL;
    const char **text = n ? malloc(n * sizeof *text) : NULL;
    for (size_t i = 0; text && i < n; i++)
        text[i] = lines[i].message;
    if (smneo_value_to_json(&json, &root) == 0)
        smneo_explain(&d, json, strlen(json), text, NULL, text ? n : 0, NULL);
    cli_report_failure(stderr, job, lines, n, d, streamed, no_log);
    smneo_diagnosis_free(d);
    free(json);
    free(text);
    free(no_log);
    for (size_t i = 0; i < n; i++)
        free((char *)lines[i].message);
    free(lines);
}
