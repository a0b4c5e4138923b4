/* cli/progress.c: progress on stderr. On a terminal, one line redrawn in
 * place (a bar for bytes, status and elapsed time for a job); otherwise
 * plain lines: each quarter of a transfer of 1 MiB or more, each job
 * status change. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static int tty, quiet, open_line;
static double last_draw;
static char last_label[256], last_status[64];
static int last_quarter = -1;

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_progress_init(int q)
{
    quiet = q;
    tty = isatty(STDERR_FILENO);
}

void cli_progress_end(void)
{
    if (open_line) {
        fputc('\n', stderr);
        open_line = 0;
    }
    last_status[0] = 0;
    last_label[0] = 0;
    last_quarter = -1;
}

static void human(char *buf, size_t n, uint64_t v)
{
    if (v >= (uint64_t)1 << 30)
        snprintf(buf, n, "%.1f GiB", (double)v / (double)((uint64_t)1 << 30));
    else if (v >= (uint64_t)1 << 20)
        snprintf(buf, n, "%.1f MiB", (double)v / (double)((uint64_t)1 << 20));
    else if (v >= 1024)
        snprintf(buf, n, "%.1f KiB", (double)v / 1024.0);
    else
        snprintf(buf, n, "%llu B", (unsigned long long)v);
}

void cli_progress_bytes(const char *label, uint64_t done, uint64_t total)
{
    if (quiet)
        return;
    int pct = total ? (int)(done * 100 / total) : 100;
    char d[32], t[32];
    human(d, sizeof d, done);
    human(t, sizeof t, total);
    if (strcmp(label, last_label) != 0) {
        cli_progress_end();
        snprintf(last_label, sizeof last_label, "%s", label);
        last_draw = 0;
    }
    if (tty) {
        double now = cli_now();
        if (done < total && now - last_draw < 0.1)
            return;
        last_draw = now;
        char bar[31];
        int fill = pct * 30 / 100;
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = 0;
        fprintf(stderr, "\r\033[K%s [%s] %3d%% %s / %s", label, bar, pct, d, t);
        open_line = 1;
        if (done >= total) {
            fputc('\n', stderr);
            open_line = 0;
        }
        fflush(stderr);
        return;
    }
    /* Plain lines, for transfers worth watching (1 MiB and more): 0%, then
     * each quarter. Smaller ones are over before anyone could read them. */
    if (total < ((uint64_t)1 << 20))
        return;
    int quarter = pct / 25;
    if (quarter != last_quarter) {
        last_quarter = quarter;
        fprintf(stderr, "%s: %3d%% (%s of %s)\n", label, pct, d, t);
    }
}

void cli_progress_status(const char *job, const char *status, double elapsed)
{
    if (quiet)
        return;
    int changed = strcmp(status, last_status) != 0;
    if (tty) {
        if (changed && last_status[0] && open_line)
            fputc('\n', stderr); /* keep the progression visible: one line per status */
        char *ejob = cli_escape(job), *estatus = cli_escape(status); /* both from the service */
        fprintf(stderr, "\r\033[Kjob %s: %s  %.1fs", ejob ? ejob : "?", estatus ? estatus : "?", elapsed);
        free(ejob);
        free(estatus);
        open_line = 1;
        fflush(stderr);
        snprintf(last_status, sizeof last_status, "%s", status);
        return;
    }
    if (changed && *status) {
        cli_line(stderr, "job %s: %s (%.1fs)", job, status, elapsed);
        snprintf(last_status, sizeof last_status, "%s", status);
    }
}

void cli_progress_note(const char *fmt, ...)
{
    if (quiet)
        return;
    cli_progress_end();
    va_list ap;
    va_start(ap, fmt);
    cli_vline(stderr, fmt, ap); /* names and messages from the service or an archive */
    va_end(ap);
}
