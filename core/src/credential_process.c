/* core/src/credential_process.c: the credential_process provider: runs the profile's command (no
 * shell) and reads its JSON answer, as botocore's ProcessProvider */

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config_internal.h"
#include "credentials_internal.h"
#include "crypto.h"
#include "internal.h"
#include "options_internal.h"
#include "protocol_internal.h"
#include "smneo/auth.h"
#include "smneo/log.h"
#include "smneo/model.h"
#include "smneo/protocol.h"
#include "smneo/transport.h"

#include <openssl/evp.h>
#include "chain_internal.h"

#define PROCESS_OUTPUT_MAX (1024 * 1024)

/* ---- smneo__cred_credential_process --------------------------------------------------------- */

/* POSIX-shell-like word splitting (quotes and backslashes, no expansion), as
 * botocore's shlex.split. Returns a NULL-terminated argv (free_argv). */
static void free_argv(char **argv)
{
    if (!argv)
        return;
    for (char **a = argv; *a; a++)
        free(*a);
    free(argv);
}

static int split_command(const char *cmd, char ***out)
{
    *out = NULL;
    size_t cap = 8, n = 0;
    char **argv = calloc(cap, sizeof *argv);
    if (!argv)
        return SMNEO_ENOMEM;
    const char *p = cmd;
    for (;;) {
        while (*p && isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        smneo_buf w = SMNEO_BUF_INIT;
        smneo__buf_grow(&w, 0);
        while (*p && !isspace((unsigned char)*p)) {
            if (*p == '\'') {
                const char *e = strchr(p + 1, '\'');
                if (!e) {
                    smneo__buf_free(&w);
                    free_argv(argv);
                    return SMNEO_EINVAL;
                }
                smneo__buf_append(&w, p + 1, (size_t)(e - p - 1));
                p = e + 1;
            } else if (*p == '"') {
                p++;
                while (*p && *p != '"') {
                    if (*p == '\\' && p[1] && strchr("\"\\$`\n", p[1]))
                        p++;
                    smneo__buf_putc(&w, *p++);
                }
                if (*p != '"') {
                    smneo__buf_free(&w);
                    free_argv(argv);
                    return SMNEO_EINVAL;
                }
                p++;
            } else if (*p == '\\' && p[1]) {
                smneo__buf_putc(&w, p[1]);
                p += 2;
            } else {
                smneo__buf_putc(&w, *p++);
            }
        }
        if (n + 2 > cap) {
            char **na = realloc(argv, (cap *= 2) * sizeof *na);
            if (!na) {
                smneo__buf_free(&w);
                free_argv(argv);
                return SMNEO_ENOMEM;
            }
            argv = na;
        }
        argv[n] = smneo__buf_detach(&w, NULL);
        if (!argv[n]) {
            free_argv(argv);
            return SMNEO_ENOMEM;
        }
        argv[++n] = NULL;
    }
    if (n == 0) {
        free_argv(argv);
        return SMNEO_EINVAL;
    }
    *out = argv;
    return 0;
}

/* Runs argv without a shell; collects stdout and stderr, both read as they
 * come so a chatty stderr cannot block the process. timeout_ms > 0 bounds the
 * whole run (until both pipes are closed and the process has exited); past
 * it the process is killed with SIGKILL (its process group when it has one of
 * its own, so the children of a shell die too), reaped, and *timed_out is
 * set. timeout_ms == 0 waits as long as it takes (botocore).
 *
 * The process gets a process group of its own unless the caller is in the
 * foreground of a terminal: there it stays in the caller's group, so it can
 * prompt on the terminal (a background group is stopped by SIGTTIN) and
 * Ctrl-C reaches it; on a timeout only the process itself is killed, and its
 * pipes are closed without waiting for a child that inherited them.
 *
 * SIGCHLD is blocked in the calling thread from the spawn until the process
 * is reaped (the child starts with the caller's mask, child_mask): a host
 * whose SIGCHLD handler reaps every child (an nginx worker: waitpid(-1) in
 * its handler) would otherwise take the exit status first, and waitpid here
 * would fail with ECHILD. The pending signal reaches that handler once the
 * mask is restored, with nothing left for it to reap. */
static int run_process_masked(char **argv, int64_t timeout_ms, smneo_buf *out, smneo_buf *errout, int *status,
                              int *spawn_errno, int *timed_out, const sigset_t *child_mask)
{
    int po[2] = {-1, -1}, pe[2] = {-1, -1};
    *spawn_errno = 0;
    *timed_out = 0;
    if (pipe2(po, O_CLOEXEC) != 0 || pipe2(pe, O_CLOEXEC) != 0) {
        *spawn_errno = errno;
        if (po[0] >= 0) {
            close(po[0]);
            close(po[1]);
        }
        return -1;
    }
    int own_group = 1;
    int tty = open("/dev/tty", O_RDONLY | O_NOCTTY | O_CLOEXEC);
    if (tty >= 0) {
        own_group = tcgetpgrp(tty) != getpgrp();
        close(tty);
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, child_mask);
    if (own_group)
        posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, (short)(POSIX_SPAWN_SETSIGMASK | (own_group ? POSIX_SPAWN_SETPGROUP : 0)));
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv, environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    close(po[1]);
    close(pe[1]);
    if (rc != 0) {
        close(po[0]);
        close(pe[0]);
        *spawn_errno = rc;
        return -1;
    }
    int64_t deadline = timeout_ms > 0 ? smneo__monotonic_ms() + timeout_ms : 0;
    struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
    smneo_buf *bufs[2] = {out, errout};
    int open_fds = 2, reaped = 0;
    char chunk[4096];
    while (open_fds > 0 || !reaped) {
        int wait_ms = -1;
        if (deadline) {
            int64_t left = deadline - smneo__monotonic_ms();
            if (left <= 0) {
                *timed_out = 1;
                break;
            }
            wait_ms = left > 1000 ? 1000 : (int)left;
        }
        if (open_fds == 0) {
            /* Both pipes are closed: wait for the exit (polling, under a
             * deadline; blocking without one). */
            pid_t w = waitpid(pid, status, deadline ? WNOHANG : 0);
            if (w == pid) {
                reaped = 1;
            } else if (w < 0 && errno != EINTR) {
                *spawn_errno = errno;
                reaped = 1; /* nothing to reap */
                rc = -1;
            } else if (w == 0) {
                poll(NULL, 0, wait_ms < 20 ? wait_ms : 20);
            }
            continue;
        }
        int r = poll(fds, 2, wait_ms);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            *spawn_errno = errno;
            rc = -1;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t got = read(fds[i].fd, chunk, sizeof chunk);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            } else if (bufs[i]->len < PROCESS_OUTPUT_MAX) {
                smneo__buf_append(bufs[i], chunk, (size_t)got);
            }
        }
    }
    smneo__wipe(chunk, sizeof chunk);
    for (int i = 0; i < 2; i++)
        if (fds[i].fd >= 0)
            close(fds[i].fd);
    if (!reaped) {
        /* Timed out (or poll failed): kill, then reap, so no zombie is left. */
        if (own_group)
            kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        while (waitpid(pid, status, 0) < 0 && errno == EINTR)
            ;
        if (!*timed_out)
            return -1;
        return 0;
    }
    return rc == 0 ? 0 : -1;
}

static int run_process(char **argv, int64_t timeout_ms, smneo_buf *out, smneo_buf *errout, int *status,
                       int *spawn_errno, int *timed_out)
{
    sigset_t chld, saved;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    int e = pthread_sigmask(SIG_BLOCK, &chld, &saved);
    if (e != 0) {
        *spawn_errno = e;
        *timed_out = 0;
        return -1;
    }
    int rc = run_process_masked(argv, timeout_ms, out, errout, status, spawn_errno, timed_out, &saved);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    return rc;
}

/* SMNEO_CREDENTIAL_PROCESS_TIMEOUT (seconds, 0 = no timeout); 60 s unset. */
#define CREDENTIAL_PROCESS_TIMEOUT_S 60
static int process_timeout_ms(int64_t *ms, smneo_error *err)
{
    const char *v = smneo__getenv("SMNEO_CREDENTIAL_PROCESS_TIMEOUT");
    *ms = (int64_t)CREDENTIAL_PROCESS_TIMEOUT_S * 1000;
    if (!v)
        return 0;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (end == v || *end || errno || n < 0 || n > 86400)
        return smneo__error(err, SMNEO_ECREDENTIALS,
                            "SMNEO_CREDENTIAL_PROCESS_TIMEOUT=\"%s\" is not valid: use a whole number of seconds "
                            "from 0 (no timeout) to 86400",
                            v);
    *ms = (int64_t)n * 1000;
    return 0;
}

const char *smneo__cred_json_string(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

static void json_wipe(cJSON *j)
{
    for (cJSON *c = j; c; c = c->next) {
        if (c->valuestring) {
            volatile char *v = c->valuestring;
            while (*v)
                *v++ = 0;
        }
        json_wipe(c->child);
    }
}

/* Deletes a cJSON tree after wiping its strings (they hold secrets). */
void smneo__cred_json_wipe_delete(cJSON *j)
{
    json_wipe(j);
    cJSON_Delete(j);
}

/* An answer (container, IMDS, smneo__cred_credential_process) as one JSON value, as
 * botocore's json.loads reads it: only whitespace may follow it. A refused
 * tree is wiped before it is freed. */
cJSON *smneo__cred_parse_answer(const char *text, size_t len)
{
    const char *end = NULL;
    cJSON *j = text ? cJSON_ParseWithLengthOpts(text, len, &end, 0) : NULL;
    if (j && (!end || end < text || end > text + len ||
              (size_t)(end - text) + smneo__json_space_len(end, len - (size_t)(end - text)) != len)) {
        smneo__cred_json_wipe_delete(j);
        j = NULL;
    }
    return j;
}

int smneo__cred_credential_process(smneo_credentials **out, const char *profile, const char *command, int64_t now,
                              smneo_error *err)
{
    *out = NULL;
    char **argv = NULL;
    int rc = split_command(command, &argv);
    if (rc == SMNEO_ENOMEM)
        return smneo__error(err, rc, "out of memory");
    if (rc)
        return smneo__error(err, SMNEO_ECREDENTIALS,
                            "the credential_process of profile '%s' cannot be parsed (empty or an unterminated "
                            "quote): fix the command line",
                            profile);
    int64_t timeout_ms = 0;
    if ((rc = process_timeout_ms(&timeout_ms, err)) != 0) {
        free_argv(argv);
        return rc;
    }
    smneo_buf so = SMNEO_BUF_SECRET_INIT, se = SMNEO_BUF_INIT; /* stdout holds the keys */
    int status = 0, serr = 0, timed_out = 0;
    rc = run_process(argv, timeout_ms, &so, &se, &status, &serr, &timed_out);
    if (rc == 0 && timed_out) {
        /* Neither stream is quoted: the output so far may hold a secret. */
        rc = smneo__error(err, SMNEO_ECREDENTIALS,
                          "the credential_process of profile '%s' (%s) did not finish within %lld seconds and was "
                          "killed: fix the command, or raise SMNEO_CREDENTIAL_PROCESS_TIMEOUT (seconds; 0 waits "
                          "without a limit)",
                          profile, argv[0], (long long)(timeout_ms / 1000));
        free_argv(argv);
        smneo__buf_free(&so); /* wiped */
        smneo__buf_free(&se);
        return rc;
    }
    if (rc != 0) {
        rc = smneo__error(err, SMNEO_ECREDENTIALS,
                          "the credential_process of profile '%s' could not be started (%s): %s", profile,
                          argv[0], strerror(serr));
        free_argv(argv);
        smneo__buf_free(&so); /* wiped */
        smneo__buf_free(&se);
        return rc;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        /* stderr is the program's diagnostic: quote its start (never stdout). */
        char detail[256] = "";
        if (se.len) {
            size_t n = se.len < 200 ? se.len : 200;
            while (n && isspace((unsigned char)se.data[n - 1]))
                n--;
            snprintf(detail, sizeof detail, ": %.*s", (int)n, se.data);
        }
        if (WIFEXITED(status))
            rc = smneo__error(err, SMNEO_ECREDENTIALS, "the credential_process of profile '%s' (%s) exited with "
                              "status %d%s", profile, argv[0], WEXITSTATUS(status), detail);
        else
            rc = smneo__error(err, SMNEO_ECREDENTIALS, "the credential_process of profile '%s' (%s) was killed "
                              "by signal %d%s", profile, argv[0], WIFSIGNALED(status) ? WTERMSIG(status) : 0,
                              detail);
        free_argv(argv);
        smneo__buf_free(&so); /* wiped */
        smneo__buf_free(&se);
        return rc;
    }
    free_argv(argv);
    smneo__buf_free(&se);
    cJSON *j = smneo__cred_parse_answer(so.data, so.len);
    smneo__buf_free(&so); /* wiped */
    if (!cJSON_IsObject(j)) {
        smneo__cred_json_wipe_delete(j);
        return smneo__error(err, SMNEO_ECREDENTIALS,
                            "the credential_process of profile '%s' did not print a JSON object on stdout (or "
                            "printed text after it)",
                            profile);
    }
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(j, "Version");
    const char *ak = smneo__cred_json_string(j, "AccessKeyId"), *sk = smneo__cred_json_string(j, "SecretAccessKey");
    const char *tok = smneo__cred_json_string(j, "SessionToken"), *exp = smneo__cred_json_string(j, "Expiration");
    int64_t expiration = 0;
    if (!cJSON_IsNumber(ver) || ver->valuedouble != 1)
        rc = smneo__error(err, SMNEO_ECREDENTIALS,
                          "the credential_process of profile '%s' printed an unsupported Version (expected 1)",
                          profile);
    else if (!ak || !*ak || !sk || !*sk)
        rc = smneo__error(err, SMNEO_ECREDENTIALS,
                          "the credential_process of profile '%s' printed no %s", profile,
                          (!ak || !*ak) ? "AccessKeyId" : "SecretAccessKey");
    else if (smneo__cred_control_char_field(ak, sk, tok))
        rc = smneo__error(err, SMNEO_ECREDENTIALS,
                          "the credential_process of profile '%s' printed a %s with control characters (e.g. a "
                          "line break): it cannot be sent in a header",
                          profile, smneo__cred_control_char_field(ak, sk, tok));
    else if (exp && smneo__cred_parse_iso8601(exp, &expiration) != 0)
        rc = smneo__error(err, SMNEO_ECREDENTIALS,
                          "the credential_process of profile '%s' printed an Expiration that is not an ISO 8601 "
                          "time (e.g. 2026-01-01T00:00:00Z)",
                          profile);
    else if (expiration && expiration <= now)
        rc = smneo__error(err, SMNEO_ECREDENTIALS,
                          "the credential_process of profile '%s' printed credentials that have already expired",
                          profile);
    else if ((rc = smneo__cred_make_creds(out, ak, sk, tok, expiration, "credential_process")) != 0)
        smneo__error(err, rc, "out of memory");
    smneo__cred_json_wipe_delete(j);
    return rc;
}
