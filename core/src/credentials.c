/* The credential chain, in botocore's order:
 *
 *   explicit keys -> environment -> assume role (role_arn with source_profile
 *   or credential_source) -> (profile kinds we refuse: web identity, SSO) ->
 *   shared credentials file -> credential_process -> config file ->
 *   container credentials -> EC2 instance metadata (IMDSv2)
 *
 * Resolution is a sans-I/O state machine: the static providers run inside
 * step (they read files and may run credential_process), the HTTP providers
 * hand a request to the caller and continue when the response is fed back.
 * The chain caches the result; temporary credentials are re-resolved when
 * less than REFRESH_ADVISORY_S remain, and kept if that fails while more
 * than REFRESH_MANDATORY_S remain. */
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

#define REFRESH_ADVISORY_S 300 /* refresh when fewer seconds than this remain */
#define REFRESH_MANDATORY_S 60 /* keep stale-ish credentials only above this */
/* botocore's windows for credentials from STS (and SSO): 15 and 10 minutes. */
#define STS_REFRESH_ADVISORY_S 900
#define STS_REFRESH_MANDATORY_S 600
#define STS_TIMEOUT_MS 60000   /* botocore's default connect/read timeouts */
#define MAX_ROLE_CHAIN 64
#define MFA_CODE_MAX 64
#define WAIT_FOR_OTHER_S 10    /* wait this long for another thread's resolution */
#define IMDS_TIMEOUT_MS 1000
#define CONTAINER_TIMEOUT_MS 2000
#define PROCESS_OUTPUT_MAX (1024 * 1024)

#define CONTAINER_HOST_URL "http://169.254.170.2"
#define IMDS_DEFAULT_URL "http://169.254.169.254"
#define IMDS_DEFAULT_URL_IPV6 "http://[fd00:ec2::254]"
#define IMDS_TOKEN_PATH "latest/api/token"
#define IMDS_CREDS_PATH "latest/meta-data/iam/security-credentials/"

extern char **environ;

/* ---- the chain -------------------------------------------------------------- */

struct smneo_credential_chain {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    char *profile;                     /* explicit profile option or NULL */
    char *region;                      /* STS's region (the client's), or NULL */
    smneo_mfa_cb mfa_cb;
    void *payload;
    smneo_credentials *explicit_creds; /* explicit keys, or NULL */
    smneo_credentials *cached;         /* last resolved credentials */
    int resolving;                     /* a registered resolution is running */
    pthread_t resolver;
    /* How STS, SSO and SSO-OIDC requests are retried: set by the client
     * (smneo__chain_set_retry), else resolved at the first resolution from
     * the environment and the profile with smneo's defaults. */
    smneo__retry_policy retry;
    int retry_set;
    char *role_cache;                  /* the AWS CLI's assumed-role cache directory, or NULL */
};

int smneo_credential_chain_set_role_cache(smneo_credential_chain *c, const char *dir, smneo_error *err)
{
    if (!c)
        return smneo__error(err, SMNEO_EINVAL, "smneo_credential_chain_set_role_cache: chain is NULL");
    if (dir && !*dir)
        return smneo__error(err, SMNEO_EINVAL, "the role cache directory is empty: give a path, or NULL for none");
    char *copy = NULL;
    if (dir && !(copy = smneo__strdup(dir)))
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    pthread_mutex_lock(&c->lock);
    free(c->role_cache);
    c->role_cache = copy;
    pthread_mutex_unlock(&c->lock);
    return 0;
}

const char *smneo_credential_chain_profile(const smneo_credential_chain *c)
{
    return c ? smneo__profile_name(c->profile) : NULL;
}

void smneo__chain_set_retry(smneo_credential_chain *c, const smneo__retry_policy *p)
{
    pthread_mutex_lock(&c->lock);
    c->retry = *p;
    c->retry_set = 1;
    pthread_mutex_unlock(&c->lock);
}

/* The chain's retry policy (resolved once). */
static int chain_retry(smneo__retry_policy *out, smneo_credential_chain *c, smneo_error *err)
{
    pthread_mutex_lock(&c->lock);
    int set = c->retry_set;
    *out = c->retry;
    pthread_mutex_unlock(&c->lock);
    if (set)
        return 0;
    smneo__retry_policy p = {0};
    int rc = smneo__retry_resolve(&p, NULL, 0, 0, 1, c->profile, err);
    if (rc)
        return rc;
    smneo__chain_set_retry(c, &p);
    *out = p;
    return 0;
}

int smneo_credential_chain_new(smneo_credential_chain **out, const smneo_chain_options *opts, smneo_error *err)
{
    if (!out)
        return smneo__error(err, SMNEO_EINVAL, "smneo_credential_chain_new: out is NULL");
    *out = NULL;
    smneo_chain_options full;
    int orc = smneo__options_copy(&full, opts, &smneo__chain_options_layout, err);
    if (orc)
        return orc;
    opts = &full;
    int has_ak = opts->access_key_id && *opts->access_key_id;
    int has_sk = opts->secret_access_key && *opts->secret_access_key;
    if (has_ak != has_sk)
        return smneo__error(err, SMNEO_EINVAL,
                            "explicit credentials need both access_key_id and secret_access_key: "
                            "%s was given without %s",
                            has_ak ? "access_key_id" : "secret_access_key",
                            has_ak ? "secret_access_key" : "access_key_id");
    if (!has_ak && opts->session_token && *opts->session_token)
        return smneo__error(err, SMNEO_EINVAL,
                            "session_token was given without access_key_id and secret_access_key");
    smneo_credential_chain *c = calloc(1, sizeof *c);
    if (!c)
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    int rc = 0;
    if (opts->profile && *opts->profile && !(c->profile = smneo__strdup(opts->profile)))
        rc = SMNEO_ENOMEM;
    if (rc == 0 && opts->region && *opts->region && !(c->region = smneo__strdup(opts->region)))
        rc = SMNEO_ENOMEM;
    c->mfa_cb = opts->mfa_cb;
    c->payload = opts->payload;
    if (rc == 0 && has_ak) {
        rc = smneo_credentials_new(&c->explicit_creds, opts->access_key_id, opts->secret_access_key,
                                   opts->session_token);
        if (rc == 0) {
            free(c->explicit_creds->source);
            c->explicit_creds->source = smneo__strdup("explicit");
            if (!c->explicit_creds->source)
                rc = SMNEO_ENOMEM;
        }
    }
    if (rc) {
        smneo_credential_chain_free(c);
        return smneo__error(err, rc, "out of memory");
    }
    *out = c;
    return 0;
}

void smneo_credential_chain_free(smneo_credential_chain *c)
{
    if (!c)
        return;
    free(c->profile);
    free(c->role_cache);
    free(c->region);
    smneo_credentials_free(c->explicit_creds);
    smneo_credentials_free(c->cached);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* ---- small helpers ------------------------------------------------------------ */

/* Keys and tokens end up in headers (X-Amz-Security-Token, the IMDS token):
 * a control character (CR/LF above all) from a hostile or broken source
 * would split the header. Returns the name of the first bad field, or NULL. */
static const char *control_char_field(const char *ak, const char *sk, const char *token)
{
    const char *v[3] = {ak, sk, token};
    static const char *const names[3] = {"AccessKeyId", "SecretAccessKey", "Token"};
    for (int i = 0; i < 3; i++)
        for (const unsigned char *p = (const unsigned char *)v[i]; p && *p; p++)
            if (*p < 0x20 || *p == 0x7f)
                return names[i];
    return NULL;
}

static int make_creds(smneo_credentials **out, const char *ak, const char *sk, const char *token, int64_t expiration,
                      const char *source)
{
    int rc = smneo_credentials_new(out, ak, sk, token);
    if (rc)
        return rc;
    free((*out)->source);
    (*out)->source = smneo__strdup(source);
    (*out)->expiration = expiration;
    if (!(*out)->source) {
        smneo_credentials_free(*out);
        *out = NULL;
        return SMNEO_ENOMEM;
    }
    return 0;
}

static int days_from_civil(int y, int m, int d, int64_t *out)
{
    /* Howard Hinnant's algorithm; proleptic Gregorian calendar. */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    *out = era * 146097 + doe - 719468;
    return 0;
}

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

/* ISO 8601 / RFC 3339: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM|+HHMM).
 * A missing zone means UTC. Returns 0 and epoch seconds, or -1. */
static int parse_iso8601(const char *s, int64_t *out)
{
    int Y, M, D, h, m, sec = 0;
    const char *p = s;
    if (digits(&p, 4, &Y) || *p++ != '-' || digits(&p, 2, &M) || *p++ != '-' || digits(&p, 2, &D))
        return -1;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return -1;
    p++;
    if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &m))
        return -1;
    if (*p == ':') {
        p++;
        if (digits(&p, 2, &sec))
            return -1;
        if (*p == '.' || *p == ',') {
            p++;
            if (!isdigit((unsigned char)*p))
                return -1;
            while (isdigit((unsigned char)*p))
                p++;
        }
    }
    int64_t offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
        if (digits(&p, 2, &oh))
            return -1;
        if (*p == ':')
            p++;
        if (*p && digits(&p, 2, &om))
            return -1;
        offset = sign * (oh * 3600 + om * 60);
    }
    if (*p != '\0' || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
        return -1;
    int64_t days;
    days_from_civil(Y, M, D, &days);
    *out = days * 86400 + h * 3600 + m * 60 + sec - offset;
    return 0;
}

/* Appends one "where we looked" entry. */
typedef struct looked {
    smneo_buf b;
} looked;

static void look(looked *l, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void look(looked *l, const char *fmt, ...)
{
    if (l->b.len)
        smneo__buf_puts(&l->b, "; ");
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n >= 0 && (s = malloc((size_t)n + 1)) != NULL) {
        va_start(ap, fmt);
        vsnprintf(s, (size_t)n + 1, fmt, ap);
        va_end(ap);
        smneo__buf_puts(&l->b, s);
        free(s);
    }
}

/* ---- credential_process --------------------------------------------------------- */

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
 * pipes are closed without waiting for a child that inherited them. */
static int run_process(char **argv, int64_t timeout_ms, smneo_buf *out, smneo_buf *errout, int *status,
                       int *spawn_errno, int *timed_out)
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
    if (own_group) {
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
        posix_spawnattr_setpgroup(&attr, 0);
    }
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

static const char *json_string(const cJSON *obj, const char *name)
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
static void json_wipe_delete(cJSON *j)
{
    json_wipe(j);
    cJSON_Delete(j);
}

/* An answer (container, IMDS, credential_process) as one JSON value, as
 * botocore's json.loads reads it: only whitespace may follow it. A refused
 * tree is wiped before it is freed. */
static cJSON *parse_answer(const char *text, size_t len)
{
    const char *end = NULL;
    cJSON *j = text ? cJSON_ParseWithLengthOpts(text, len, &end, 0) : NULL;
    if (j && (!end || end < text || end > text + len ||
              (size_t)(end - text) + smneo__json_space_len(end, len - (size_t)(end - text)) != len)) {
        json_wipe_delete(j);
        j = NULL;
    }
    return j;
}

static int credential_process(smneo_credentials **out, const char *profile, const char *command, int64_t now,
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
    cJSON *j = parse_answer(so.data, so.len);
    smneo__buf_free(&so); /* wiped */
    if (!cJSON_IsObject(j)) {
        json_wipe_delete(j);
        return smneo__error(err, SMNEO_ECREDENTIALS,
                            "the credential_process of profile '%s' did not print a JSON object on stdout (or "
                            "printed text after it)",
                            profile);
    }
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(j, "Version");
    const char *ak = json_string(j, "AccessKeyId"), *sk = json_string(j, "SecretAccessKey");
    const char *tok = json_string(j, "SessionToken"), *exp = json_string(j, "Expiration");
    int64_t expiration = 0;
    if (!cJSON_IsNumber(ver) || ver->valuedouble != 1)
        rc = smneo__error(err, SMNEO_ECREDENTIALS,
                          "the credential_process of profile '%s' printed an unsupported Version (expected 1)",
                          profile);
    else if (!ak || !*ak || !sk || !*sk)
        rc = smneo__error(err, SMNEO_ECREDENTIALS,
                          "the credential_process of profile '%s' printed no %s", profile,
                          (!ak || !*ak) ? "AccessKeyId" : "SecretAccessKey");
    else if (control_char_field(ak, sk, tok))
        rc = smneo__error(err, SMNEO_ECREDENTIALS,
                          "the credential_process of profile '%s' printed a %s with control characters (e.g. a "
                          "line break): it cannot be sent in a header",
                          profile, control_char_field(ak, sk, tok));
    else if (exp && parse_iso8601(exp, &expiration) != 0)
        rc = smneo__error(err, SMNEO_ECREDENTIALS,
                          "the credential_process of profile '%s' printed an Expiration that is not an ISO 8601 "
                          "time (e.g. 2026-01-01T00:00:00Z)",
                          profile);
    else if (expiration && expiration <= now)
        rc = smneo__error(err, SMNEO_ECREDENTIALS,
                          "the credential_process of profile '%s' printed credentials that have already expired",
                          profile);
    else if ((rc = make_creds(out, ak, sk, tok, expiration, "credential_process")) != 0)
        smneo__error(err, rc, "out of memory");
    json_wipe_delete(j);
    return rc;
}

/* ---- the resolution machine ------------------------------------------------------ */

enum stage {
    ST_START,
    ST_STATIC,
    ST_ASSUME,
    ST_ASSUME_WAIT,
    ST_ASSUME_RETRY,
    ST_CONTAINER,
    ST_CONTAINER_WAIT,
    ST_IMDS,
    ST_IMDS_TOKEN_WAIT,
    ST_IMDS_ROLE,
    ST_IMDS_ROLE_WAIT,
    ST_IMDS_CREDS_WAIT,
    ST_NONE,
    ST_DONE
};

struct smneo_chain_resolution {
    smneo_credential_chain *chain;
    int64_t now;
    enum stage stage;
    int registered;   /* we hold chain->resolving */
    int awaiting;     /* a request was handed out and not fed yet */
    int fed;          /* a response (or transport error) was fed */
    int resp_status;
    char *resp_body;  /* may hold secrets: wiped */
    size_t resp_len;
    char *resp_error_type; /* x-amzn-ErrorType (REST-JSON's error code), or NULL */
    char *resp_request_id; /* x-amzn-RequestId, or NULL */
    int transport_error;
    int timeout_ms;
    char *profile;    /* resolved profile name */
    char *url;        /* URL of the outstanding request (container / IMDS base) */
    char *imds_base;
    char *imds_token; /* secret */
    char *role;
    int imds_v1_disabled;
    int imds_timeout_ms;   /* AWS_METADATA_SERVICE_TIMEOUT / metadata_service_timeout (s), default 1 */
    int imds_attempts;     /* AWS_METADATA_SERVICE_NUM_ATTEMPTS / metadata_service_num_attempts, default 1 */
    int imds_tries;        /* attempts made for the outstanding IMDS request */
    char imds_method[8];
    char *imds_path;
    looked where;
    int result_rc;
    char *result_msg;
    char *result_code;       /* the service's error code (STS), or NULL */
    int result_status;       /* its HTTP status */
    char *result_request_id;
    smneo_credentials *result;
    /* assume role: roles[0] is the profile asked for, roles[nroles - 1] the
     * deepest; they are assumed from the deepest up (role_next counts down). */
    struct role_step {
        char *profile, *role_arn, *external_id, *session_name, *mfa_serial;
        long duration;    /* 0: not set */
        char *token_file; /* web identity: AssumeRoleWithWebIdentity with this file's token */
        int from_env;     /* web identity configured by AWS_WEB_IDENTITY_TOKEN_FILE / AWS_ROLE_ARN */
        /* SSO: GetRoleCredentials with the cached token (refreshed through
         * SSO-OIDC CreateToken for an sso-session) */
        int sso;
        char *sso_session, *sso_start_url, *sso_region, *sso_account_id, *sso_role_name;
        char *sso_cache_path;
        cJSON *sso_token;  /* the cache file's token (secret: wiped) */
        int sso_phase;     /* 0: load the token; 1: CreateToken sent; 2: GetRoleCredentials to send/sent */
    } *roles;
    size_t nroles, role_next;
    char *credential_source; /* the deepest role's credential_source, or NULL */
    int for_role;            /* container / IMDS are fetching a role's source credentials */
    smneo_credentials *source; /* the credentials the next AssumeRole is signed with */
    char *sts_url;
    /* The outstanding STS/SSO/OIDC request, kept to be sent again on a
     * retryable failure (the same parameters: an MFA code is asked once). */
    const smneo_operation *pend_op;
    char *pend_json;          /* its parameters (may hold secrets: wiped) */
    char *pend_region;        /* the signing region */
    int pend_signed;          /* 1: signed with r->source (AssumeRole) */
    int pend_sts;             /* 1: an STS request (IDPCommunicationError is retried) */
    int attempt;              /* attempts made of it */
    long delay_ms;            /* wait before sending the request handed out (a retry) */
    uint64_t rng;             /* jitter */
    smneo__retry_policy retry;
    int retry_ok;             /* retry resolved */
};

int smneo_chain_resolution_new(smneo_chain_resolution **out, smneo_credential_chain *chain, int64_t now)
{
    if (!out || !chain)
        return SMNEO_EINVAL;
    *out = NULL;
    smneo_chain_resolution *r = calloc(1, sizeof *r);
    if (!r)
        return SMNEO_ENOMEM;
    r->chain = chain;
    r->now = now ? now : smneo__now();
    r->stage = ST_START;
    *out = r;
    return 0;
}

static void unregister(smneo_chain_resolution *r)
{
    if (!r->registered)
        return;
    pthread_mutex_lock(&r->chain->lock);
    r->chain->resolving = 0;
    pthread_cond_broadcast(&r->chain->cond);
    pthread_mutex_unlock(&r->chain->lock);
    r->registered = 0;
}

static void clear_response(smneo_chain_resolution *r)
{
    if (r->resp_body)
        smneo__wipe(r->resp_body, r->resp_len); /* the body may hold NULs: its length, not strlen */
    free(r->resp_body);
    r->resp_body = NULL;
    r->resp_len = 0;
    free(r->resp_error_type);
    free(r->resp_request_id);
    r->resp_error_type = r->resp_request_id = NULL;
    r->resp_status = 0;
    r->transport_error = 0;
    r->fed = 0;
}

static void clear_pending(smneo_chain_resolution *r)
{
    smneo__free_secret(r->pend_json);
    free(r->pend_region);
    r->pend_json = r->pend_region = NULL;
    r->pend_op = NULL;
}

void smneo_chain_resolution_free(smneo_chain_resolution *r)
{
    if (!r)
        return;
    unregister(r);
    clear_response(r);
    free(r->profile);
    free(r->url);
    free(r->imds_base);
    free(r->imds_path);
    smneo__free_secret(r->imds_token);
    free(r->role);
    smneo__buf_free(&r->where.b);
    free(r->result_msg);
    free(r->result_code);
    free(r->result_request_id);
    smneo_credentials_free(r->result);
    for (size_t i = 0; i < r->nroles; i++) {
        free(r->roles[i].profile);
        free(r->roles[i].role_arn);
        free(r->roles[i].external_id);
        free(r->roles[i].session_name);
        free(r->roles[i].mfa_serial);
        free(r->roles[i].token_file);
        free(r->roles[i].sso_session);
        free(r->roles[i].sso_start_url);
        free(r->roles[i].sso_region);
        free(r->roles[i].sso_account_id);
        free(r->roles[i].sso_role_name);
        free(r->roles[i].sso_cache_path);
        smneo__json_wipe_delete(r->roles[i].sso_token);
    }
    free(r->roles);
    free(r->credential_source);
    smneo_credentials_free(r->source);
    free(r->sts_url);
    clear_pending(r);
    free(r);
}

int smneo_chain_resolution_timeout_ms(const smneo_chain_resolution *r)
{
    return r && r->awaiting ? r->timeout_ms : 0;
}

long smneo_chain_resolution_delay_ms(const smneo_chain_resolution *r)
{
    return r && r->awaiting && r->stage == ST_ASSUME_WAIT ? r->delay_ms : 0;
}

/* Usable from the cache at time now: 2 = fresh, 1 = in the refresh window
 * but still usable, 0 = stale or absent. */
static int from_sts(const smneo_credentials *c)
{
    return c->source &&
           (!strcmp(c->source, "assume-role") || !strcmp(c->source, "web-identity") || !strcmp(c->source, "sso"));
}

static int cache_state(const smneo_credentials *c, int64_t now)
{
    if (!c)
        return 0;
    /* STS's credentials refresh in botocore's 15/10-minute windows; the
     * others (credential_process, container, IMDS) in 5/1. */
    int64_t advisory = from_sts(c) ? STS_REFRESH_ADVISORY_S : REFRESH_ADVISORY_S;
    int64_t mandatory = from_sts(c) ? STS_REFRESH_MANDATORY_S : REFRESH_MANDATORY_S;
    if (!c->expiration || c->expiration - now > advisory)
        return 2;
    if (c->expiration - now > mandatory)
        return 1;
    return 0;
}

int smneo_credential_chain_peek(smneo_credentials **out, smneo_credential_chain *chain)
{
    if (!out || !chain)
        return SMNEO_EINVAL;
    *out = NULL;
    pthread_mutex_lock(&chain->lock);
    int state = cache_state(chain->cached, smneo__now());
    int rc = chain->cached ? smneo_credentials_copy(out, chain->cached) : 0;
    pthread_mutex_unlock(&chain->lock);
    return rc ? rc : state;
}

int smneo_credential_chain_seed(smneo_credential_chain *chain, const smneo_credentials *c, smneo_error *err)
{
    if (!chain || !c || !c->access_key_id || !*c->access_key_id || !c->secret_access_key || !*c->secret_access_key)
        return smneo__error(err, SMNEO_EINVAL, "smneo_credential_chain_seed: a chain and credentials with both keys "
                                               "are required");
    if (control_char_field(c->access_key_id, c->secret_access_key, c->session_token))
        return smneo__error(err, SMNEO_EINVAL, "smneo_credential_chain_seed: the %s has control characters",
                            control_char_field(c->access_key_id, c->secret_access_key, c->session_token));
    smneo_credentials *copy = NULL;
    if (make_creds(&copy, c->access_key_id, c->secret_access_key, c->session_token, c->expiration,
                   c->source ? c->source : "explicit"))
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    pthread_mutex_lock(&chain->lock);
    smneo_credentials_free(chain->cached);
    chain->cached = copy;
    pthread_mutex_unlock(&chain->lock);
    return 0;
}

/* Ends the resolution with credentials (rc 0, takes creds) or an error. */
static int finish(smneo_chain_resolution *r, int rc, smneo_credentials *creds, const char *msg)
{
    smneo_credential_chain *ch = r->chain;
    pthread_mutex_lock(&ch->lock);
    if (rc == 0 && creds) {
        smneo_credentials *copy = NULL;
        if (smneo_credentials_copy(&copy, creds) == 0) {
            smneo_credentials_free(ch->cached);
            ch->cached = copy;
        }
    } else if (cache_state(ch->cached, r->now) >= 1) {
        /* Refresh failed inside the advisory window: keep the old ones. */
        if (smneo_credentials_copy(&creds, ch->cached) == 0)
            rc = 0;
    }
    if (r->registered) {
        ch->resolving = 0;
        r->registered = 0;
        pthread_cond_broadcast(&ch->cond);
    }
    pthread_mutex_unlock(&ch->lock);
    r->stage = ST_DONE;
    r->result_rc = rc;
    if (rc == 0) {
        r->result = creds;
    } else {
        smneo_credentials_free(creds);
        r->result_msg = smneo__strdup(msg);
    }
    return rc;
}

static int finish_err(smneo_chain_resolution *r, smneo_error *e)
{
    int rc = finish(r, e->code ? e->code : SMNEO_ERROR, NULL, e->message);
    smneo_error_clear(e);
    return rc;
}

static int finish_fmt(smneo_chain_resolution *r, int code, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int finish_fmt(smneo_chain_resolution *r, int code, const char *fmt, ...)
{
    smneo_error e = SMNEO_ERROR_INIT;
    va_list ap;
    va_start(ap, fmt);
    smneo__verror(&e, code, fmt, ap);
    va_end(ap);
    return finish_err(r, &e);
}

/* Keys of profile kinds we do not support yet, with the feature's name. */
static const struct {
    const char *key;
    const char *feature;
} UNSUPPORTED_KEYS[] = {
    {"login_session", "a login session (aws login: login_session)"},
};

/* Web identity as botocore's AssumeRoleWithWebIdentityProvider reads it:
 * each of web_identity_token_file, role_arn and role_session_name from its
 * environment variable (AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN,
 * AWS_ROLE_SESSION_NAME; only with use_env), else the profile's key. Adds a
 * step when a token file is configured; 0 (nothing added) when not. */
static int plan_web_identity(smneo_chain_resolution *r, const smneo__awsconfig *cfg, const char *profile,
                             int use_env, smneo_error *err)
{
    static const char *const keys[3][2] = {{"web_identity_token_file", "AWS_WEB_IDENTITY_TOKEN_FILE"},
                                           {"role_arn", "AWS_ROLE_ARN"},
                                           {"role_session_name", "AWS_ROLE_SESSION_NAME"}};
    const char *v[3];
    int env_used = 0;
    for (int i = 0; i < 3; i++) {
        const char *e = use_env ? smneo__getenv(keys[i][1]) : NULL;
        v[i] = e ? e : smneo__profile_get(cfg, profile, keys[i][0]);
        env_used |= e != NULL && i == 0;
    }
    if (!v[0] || !*v[0])
        return 0;
    if (!v[1] || !*v[1])
        return smneo__error(err, SMNEO_ECREDENTIALS,
                            "web identity is configured (%s = %s) but no role is: set role_arn in profile '%s' or "
                            "AWS_ROLE_ARN",
                            env_used ? "AWS_WEB_IDENTITY_TOKEN_FILE" : "web_identity_token_file", v[0], profile);
    struct role_step *n = realloc(r->roles, (r->nroles + 1) * sizeof *n);
    if (!n)
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    r->roles = n;
    struct role_step *st = &n[r->nroles++];
    memset(st, 0, sizeof *st);
    st->from_env = env_used;
    st->profile = smneo__strdup(profile);
    st->token_file = smneo__strdup(v[0]);
    st->role_arn = smneo__strdup(v[1]);
    st->session_name = smneo__strdup(v[2]);
    if (!st->profile || !st->token_file || !st->role_arn || (v[2] && !st->session_name))
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    return 0;
}

/* IAM Identity Center as botocore's SSOProvider reads it: a profile with
 * sso_role_name or sso_account_id; with sso_session, the [sso-session NAME]
 * section supplies sso_start_url and sso_region (a value set in both must
 * agree). Adds a step; 0 (nothing added) for a profile without SSO. */
static int plan_sso(smneo_chain_resolution *r, const smneo__awsconfig *cfg, const char *profile, smneo_error *err)
{
    if (!smneo__profile_get(cfg, profile, "sso_role_name") && !smneo__profile_get(cfg, profile, "sso_account_id"))
        return 0;
    static const char *const keys[4] = {"sso_role_name", "sso_account_id", "sso_start_url", "sso_region"};
    const char *v[4];
    const char *session = smneo__profile_get(cfg, profile, "sso_session");
    char *section = session ? smneo__aprintf("sso-session %s", session) : NULL;
    if (session && !section)
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    if (session && !smneo__config_has_section(cfg, section)) {
        int rc = smneo__error(err, SMNEO_ECREDENTIALS,
                              "profile '%s' names sso_session = %s, but the config file has no [sso-session %s] "
                              "section: add it (aws configure sso-session) or fix the name",
                              profile, session, session);
        free(section);
        return rc;
    }
    smneo_buf missing = SMNEO_BUF_INIT;
    for (int i = 0; i < 4; i++) {
        v[i] = smneo__profile_get(cfg, profile, keys[i]);
        const char *sv = section ? smneo__config_section_get(cfg, section, keys[i]) : NULL;
        if (sv && v[i] && strcmp(sv, v[i]) != 0) {
            int rc = smneo__error(err, SMNEO_ECREDENTIALS,
                                  "%s differs between profile '%s' (%s) and [sso-session %s] (%s): keep one", keys[i],
                                  profile, v[i], session, sv);
            free(section);
            smneo__buf_free(&missing);
            return rc;
        }
        if (sv)
            v[i] = sv;
        if (!v[i])
            smneo__buf_printf(&missing, "%s%s", missing.len ? ", " : "", keys[i]);
    }
    free(section);
    if (missing.len) {
        int rc = smneo__error(err, SMNEO_ECREDENTIALS,
                              "profile '%s' is configured for SSO but is missing %s%s", profile, missing.data,
                              session ? " (in the profile or its sso-session)" : "");
        smneo__buf_free(&missing);
        return rc;
    }
    smneo__buf_free(&missing);
    /* The token cache: ~/.aws/sso/cache/<sha1 of the session name, or of the
     * start URL for a legacy profile>.json */
    const char *home = smneo__getenv("HOME");
    const char *key = session ? session : v[2];
    unsigned char md[20];
    unsigned int mdlen = 0;
    char hex[41];
    if (!EVP_Digest(key, strlen(key), md, &mdlen, EVP_sha1(), NULL) || mdlen != 20)
        return smneo__error(err, SMNEO_ERROR, "SHA-1 is not available for the SSO token cache name");
    smneo__hex(hex, md, 20);
    struct role_step *n = realloc(r->roles, (r->nroles + 1) * sizeof *n);
    if (!n)
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    r->roles = n;
    struct role_step *st = &n[r->nroles++];
    memset(st, 0, sizeof *st);
    st->sso = 1;
    st->profile = smneo__strdup(profile);
    st->role_arn = smneo__aprintf("%s in account %s", v[0], v[1]); /* for messages */
    st->sso_role_name = smneo__strdup(v[0]);
    st->sso_account_id = smneo__strdup(v[1]);
    st->sso_start_url = smneo__strdup(v[2]);
    st->sso_region = smneo__strdup(v[3]);
    st->sso_session = smneo__strdup(session);
    st->sso_cache_path = smneo__aprintf("%s/.aws/sso/cache/%s.json", home ? home : "", hex);
    if (!st->profile || !st->role_arn || !st->sso_role_name || !st->sso_account_id || !st->sso_start_url ||
        !st->sso_region || (session && !st->sso_session) || !st->sso_cache_path)
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    return 0;
}

/* A profile kind smneo does not support yet: SMNEO_EUNSUPPORTED naming it. */
static int unsupported_profile(const smneo__awsconfig *cfg, const char *profile, const char *why, smneo_error *err)
{
    for (size_t i = 0; i < sizeof UNSUPPORTED_KEYS / sizeof UNSUPPORTED_KEYS[0]; i++)
        if (smneo__profile_get(cfg, profile, UNSUPPORTED_KEYS[i].key))
            return smneo__error(err, SMNEO_EUNSUPPORTED,
                                "profile '%s'%s uses %s, which smneo does not support yet; use a profile with "
                                "aws_access_key_id/aws_secret_access_key, or credential_process = aws configure "
                                "export-credentials --profile %s --format process",
                                profile, why, UNSUPPORTED_KEYS[i].feature, profile);
    return 0;
}

/* Keys of one profile: the credentials file, then credential_process, then
 * the config file. 0 with *out set or NULL (none), or an error. */
static int profile_keys(smneo_chain_resolution *r, const smneo__awsconfig *cfg, const char *profile,
                        smneo_credentials **out, smneo_error *err)
{
    static const char *const sources[2] = {"shared-credentials-file", "config-file"};
    int rc = 0;
    *out = NULL;
    for (int pass = 0; pass < 3 && rc == 0 && !*out; pass++) {
        if (pass == 1) {
            const char *cmd = smneo__profile_get(cfg, profile, "credential_process");
            if (cmd && *cmd)
                rc = credential_process(out, profile, cmd, r->now, err);
            else
                look(&r->where, "credential_process (not set in profile '%s')", profile);
            continue;
        }
        const char *(*get)(const smneo__awsconfig *, const char *, const char *) =
            pass == 0 ? smneo__credfile_profile_get : smneo__config_profile_get;
        const char *path = pass == 0 ? cfg->credentials_path : cfg->config_path;
        const char *ak = get(cfg, profile, "aws_access_key_id");
        const char *sk = get(cfg, profile, "aws_secret_access_key");
        if (ak && *ak && sk && *sk) {
            const char *tok = get(cfg, profile, "aws_session_token");
            if (!tok || !*tok)
                tok = get(cfg, profile, "aws_security_token");
            if (make_creds(out, ak, sk, tok, 0, sources[pass / 2]))
                rc = smneo__error(err, SMNEO_ENOMEM, "out of memory");
        } else if ((ak && *ak) || (sk && *sk)) {
            rc = smneo__error(err, SMNEO_ECREDENTIALS,
                              "profile '%s' in %s sets %s but not %s: set both", profile,
                              path ? path : "(none)", (ak && *ak) ? "aws_access_key_id" : "aws_secret_access_key",
                              (ak && *ak) ? "aws_secret_access_key" : "aws_access_key_id");
        } else {
            look(&r->where, "profile '%s' in the %s file %s (no aws_access_key_id)", profile,
                 pass == 0 ? "credentials" : "config", path ? path : "(none)");
        }
    }
    return rc;
}

/* botocore's tests: an assume-role profile (role_arn, not web identity) and
 * static keys (either key present). */
static int has_role_config(const smneo__awsconfig *cfg, const char *profile)
{
    return smneo__profile_get(cfg, profile, "role_arn") && !smneo__profile_get(cfg, profile, "web_identity_token_file");
}

static int has_static_keys(const smneo__awsconfig *cfg, const char *profile)
{
    return smneo__profile_get(cfg, profile, "aws_access_key_id") ||
           smneo__profile_get(cfg, profile, "aws_secret_access_key");
}

static int add_role(smneo_chain_resolution *r, const smneo__awsconfig *cfg, const char *profile)
{
    struct role_step *n = realloc(r->roles, (r->nroles + 1) * sizeof *n);
    if (!n)
        return SMNEO_ENOMEM;
    r->roles = n;
    struct role_step *st = &n[r->nroles];
    memset(st, 0, sizeof *st);
    r->nroles++;
    const char *sess = smneo__profile_get(cfg, profile, "role_session_name");
    const char *ext = smneo__profile_get(cfg, profile, "external_id");
    const char *mfa = smneo__profile_get(cfg, profile, "mfa_serial");
    const char *dur = smneo__profile_get(cfg, profile, "duration_seconds");
    st->profile = smneo__strdup(profile);
    st->role_arn = smneo__strdup(smneo__profile_get(cfg, profile, "role_arn"));
    st->session_name = smneo__strdup(sess);
    st->external_id = smneo__strdup(ext);
    st->mfa_serial = smneo__strdup(mfa);
    if (dur) {
        /* botocore: int(value), ignored when it is not an integer. */
        char *end;
        long v = strtol(dur, &end, 10);
        while (*end && isspace((unsigned char)*end))
            end++;
        if (end != dur && !*end)
            st->duration = v;
    }
    if (!st->profile || !st->role_arn || (sess && !st->session_name) || (ext && !st->external_id) ||
        (mfa && !st->mfa_serial))
        return SMNEO_ENOMEM;
    return 0;
}

/* "a -> b -> c" from the visited profiles. */
static char *visited_text(char **visited, size_t n, const char *then)
{
    smneo_buf b = SMNEO_BUF_INIT;
    for (size_t i = 0; i < n; i++)
        smneo__buf_printf(&b, "%s'%s'", i ? " -> " : "", visited[i]);
    if (then)
        smneo__buf_printf(&b, " -> '%s'", then);
    smneo__buf_grow(&b, 0);
    return smneo__buf_detach(&b, NULL);
}

/* Walks role_arn / source_profile from profile as botocore's
 * AssumeRoleProvider does: each profile with a role is a role to assume; the
 * walk ends at a profile with static keys or no role (its own credentials:
 * the files or credential_process), or at a credential_source. A profile seen
 * twice is a cycle, except a profile whose source_profile is itself and which
 * has static keys. Sets r->roles and either *out... r->source (source
 * credentials known now) or r->credential_source (container / IMDS). */
static int plan_roles(smneo_chain_resolution *r, const smneo__awsconfig *cfg, const char *profile,
                      smneo_credentials **out, smneo_error *err)
{
    *out = NULL;
    char *visited[MAX_ROLE_CHAIN + 1];
    size_t nvisited = 0;
    visited[nvisited++] = (char *)profile;
    const char *cur = profile;
    int rc = 0;
    for (;;) {
        if (add_role(r, cfg, cur))
            return smneo__error(err, SMNEO_ENOMEM, "out of memory");
        const char *sp = smneo__profile_get(cfg, cur, "source_profile");
        const char *cs = smneo__profile_get(cfg, cur, "credential_source");
        const char *arn = smneo__profile_get(cfg, cur, "role_arn");
        if (sp && cs)
            return smneo__error(err, SMNEO_ECREDENTIALS,
                                "profile '%s' (role %s) sets both source_profile and credential_source: keep one",
                                cur, arn);
        if (!sp && !cs)
            return smneo__error(err, SMNEO_ECREDENTIALS,
                                "profile '%s' sets role_arn = %s but neither source_profile nor credential_source: "
                                "add one to say which credentials assume the role",
                                cur, arn);
        if (cs) {
            if (strcmp(cs, "Environment") && strcmp(cs, "Ec2InstanceMetadata") && strcmp(cs, "EcsContainer"))
                return smneo__error(err, SMNEO_ECREDENTIALS,
                                    "profile '%s' (role %s): credential_source = %s is not valid: use Environment, "
                                    "Ec2InstanceMetadata or EcsContainer",
                                    cur, arn, cs);
            if (!(r->credential_source = smneo__strdup(cs)))
                return smneo__error(err, SMNEO_ENOMEM, "out of memory");
            if (!strcmp(cs, "Environment")) {
                const char *ak = smneo__getenv("AWS_ACCESS_KEY_ID"), *sk = smneo__getenv("AWS_SECRET_ACCESS_KEY");
                if (!ak || !sk)
                    return smneo__error(err, SMNEO_ECREDENTIALS,
                                        "profile '%s' (role %s) sets credential_source = Environment, but "
                                        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set",
                                        cur, arn);
                const char *tok = smneo__getenv("AWS_SESSION_TOKEN");
                if (!tok)
                    tok = smneo__getenv("AWS_SECURITY_TOKEN");
                if (make_creds(&r->source, ak, sk, tok, 0, "environment"))
                    return smneo__error(err, SMNEO_ENOMEM, "out of memory");
            }
            return 0;
        }
        if (!smneo__profile_exists(cfg, sp))
            return smneo__error(err, SMNEO_ECREDENTIALS,
                                "the source_profile '%s' of profile '%s' (role %s) does not exist: create it or fix "
                                "the name",
                                sp, cur, arn);
        int seen = 0;
        for (size_t i = 0; i < nvisited; i++)
            seen |= !strcmp(visited[i], sp);
        if (seen && (strcmp(sp, cur) != 0 || !has_static_keys(cfg, sp))) {
            char *path = visited_text(visited, nvisited, sp);
            rc = smneo__error(err, SMNEO_ECREDENTIALS,
                              "the profiles form a cycle through source_profile: %s; profile '%s' is visited twice. "
                              "End the chain at a profile with keys or a credential_source",
                              path ? path : "", sp);
            free(path);
            return rc;
        }
        if (nvisited >= MAX_ROLE_CHAIN)
            return smneo__error(err, SMNEO_ECREDENTIALS, "profile '%s': more than %d roles chained through "
                                "source_profile", profile, MAX_ROLE_CHAIN);
        visited[nvisited++] = (char *)sp;
        if (!has_static_keys(cfg, sp) && smneo__profile_get(cfg, sp, "web_identity_token_file"))
            return plan_web_identity(r, cfg, sp, 0, err); /* a web identity source: assumed first */
        if (!has_static_keys(cfg, sp) &&
            (smneo__profile_get(cfg, sp, "sso_role_name") || smneo__profile_get(cfg, sp, "sso_account_id")))
            return plan_sso(r, cfg, sp, err); /* an SSO source: its role credentials first */
        if (has_static_keys(cfg, sp) || !has_role_config(cfg, sp)) {
            /* The source profile's own credentials (never the environment). */
            char *why = smneo__aprintf(" (the source_profile of '%s')", cur);
            rc = unsupported_profile(cfg, sp, why ? why : "", err);
            free(why);
            if (rc == 0)
                rc = profile_keys(r, cfg, sp, &r->source, err);
            if (rc == 0 && !r->source)
                rc = smneo__error(err, SMNEO_ECREDENTIALS,
                                  "the source_profile '%s' of profile '%s' (role %s) has no credentials: give it "
                                  "aws_access_key_id/aws_secret_access_key, a credential_process or a role",
                                  sp, cur, arn);
            return rc;
        }
        cur = sp;
    }
}

/* Runs explicit, environment, files and credential_process. Returns 0 with
 * *out set (found) or NULL (continue), or a negative error (err set). */
static int profile_providers(smneo_chain_resolution *r, smneo_credentials **out, smneo_error *err)
{
    smneo_credential_chain *ch = r->chain;
    *out = NULL;
    if (ch->explicit_creds)
        return smneo_credentials_copy(out, ch->explicit_creds) ? smneo__error(err, SMNEO_ENOMEM, "out of memory")
                                                                : 0;
    /* An explicit profile option skips the environment keys (botocore). */
    if (ch->profile) {
        look(&r->where, "environment variables (skipped: a profile was named explicitly)");
    } else {
        const char *ak = smneo__getenv("AWS_ACCESS_KEY_ID"), *sk = smneo__getenv("AWS_SECRET_ACCESS_KEY");
        if (ak && sk) {
            const char *tok = smneo__getenv("AWS_SESSION_TOKEN");
            if (!tok)
                tok = smneo__getenv("AWS_SECURITY_TOKEN");
            return make_creds(out, ak, sk, tok, 0, "environment") ? smneo__error(err, SMNEO_ENOMEM, "out of memory")
                                                                   : 0;
        }
        if (ak || sk)
            return smneo__error(err, SMNEO_ECREDENTIALS,
                                "%s is set but %s is not: set both or unset both", ak ? "AWS_ACCESS_KEY_ID"
                                : "AWS_SECRET_ACCESS_KEY", ak ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
        look(&r->where, "environment variables (AWS_ACCESS_KEY_ID not set)");
    }
    smneo__awsconfig *cfg = NULL;
    int rc = smneo__awsconfig_load(&cfg, err);
    if (rc)
        return rc;
    const char *profile = smneo__profile_name(ch->profile);
    r->profile = smneo__strdup(profile);
    if (!r->profile) {
        smneo__awsconfig_free(cfg);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    const char *origin = smneo__profile_origin(ch->profile);
    int named = origin != NULL;
    char *files = smneo__awsconfig_describe(cfg);
    if (!files) {
        smneo__awsconfig_free(cfg);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    if (!smneo__profile_exists(cfg, profile)) {
        if (named) {
            rc = smneo__error(err, SMNEO_ECREDENTIALS,
                              "profile '%s' (%s) was not found in %s: create it or name an existing profile",
                              profile, origin, files);
            free(files);
            smneo__awsconfig_free(cfg);
            return rc;
        }
        /* Web identity from the environment needs no profile. */
        rc = plan_web_identity(r, cfg, profile, !ch->profile, err);
        if (!r->nroles && !rc)
            look(&r->where, "profile '%s' in %s (no such profile)", profile, files);
        free(files);
        smneo__awsconfig_free(cfg);
        return rc;
    }
    /* botocore's order: assume role, web identity (the environment's
     * variables unless a profile was named explicitly, else the profile's
     * keys), then the profile's own keys. */
    if (has_role_config(cfg, profile))
        rc = plan_roles(r, cfg, profile, out, err);
    else if ((rc = plan_web_identity(r, cfg, profile, !ch->profile, err)) != 0 || r->nroles)
        ;
    else if ((rc = plan_sso(r, cfg, profile, err)) != 0 || r->nroles)
        ;
    else if ((rc = unsupported_profile(cfg, profile, "", err)) == 0)
        rc = profile_keys(r, cfg, profile, out, err);
    free(files);
    smneo__awsconfig_free(cfg);
    return rc;
}

/* botocore's OriginalEC2Provider: AWS_CREDENTIAL_FILE, the EC2 API tools'
 * file of "key=value" lines (AWSAccessKeyId, AWSSecretKey; no session
 * token). A file that cannot be opened is an error (botocore's
 * ConfigNotFound); a file without AWSAccessKeyId is passed over. */
static int ec2_credential_file(smneo_chain_resolution *r, smneo_credentials **out, smneo_error *err)
{
    const char *var = smneo__getenv("AWS_CREDENTIAL_FILE");
    if (!var) {
        look(&r->where, "AWS_CREDENTIAL_FILE (not set)");
        return 0;
    }
    char *path = smneo__expand_user(var);
    if (!path)
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    smneo_buf b = SMNEO_BUF_SECRET_INIT;
    int rc = 0;
    if (smneo__read_secret_file(&b, path) != 0) {
        rc = errno == ENOMEM ? smneo__error(err, SMNEO_ENOMEM, "out of memory")
                             : smneo__error(err, SMNEO_ECREDENTIALS,
                                            "AWS_CREDENTIAL_FILE names %s, which cannot be read (%s): fix the path "
                                            "or unset AWS_CREDENTIAL_FILE",
                                            path, strerror(errno));
        free(path);
        return rc;
    }
    /* Lines with '=': key and value stripped, the last one wins. Pointers
     * into b's data, NUL-terminated in place. */
    char *ak = NULL, *sk = NULL;
    char *text = b.data ? b.data : "";
    for (char *line = text; *line;) {
        char *end = line + strcspn(line, "\n");
        char *next = *end ? end + 1 : end;
        *end = '\0';
        char *eq = strchr(line, '=');
        if (eq) {
            *eq = '\0';
            char *k = line, *v = eq + 1;
            while (*k && isspace((unsigned char)*k))
                k++;
            for (char *e = k + strlen(k); e > k && isspace((unsigned char)e[-1]); e--)
                e[-1] = '\0';
            while (*v && isspace((unsigned char)*v))
                v++;
            for (char *e = v + strlen(v); e > v && isspace((unsigned char)e[-1]); e--)
                e[-1] = '\0';
            if (!strcmp(k, "AWSAccessKeyId"))
                ak = v;
            else if (!strcmp(k, "AWSSecretKey"))
                sk = v;
        }
        line = next;
    }
    if (!ak)
        look(&r->where, "AWS_CREDENTIAL_FILE %s (no AWSAccessKeyId)", path);
    else if (!sk)
        rc = smneo__error(err, SMNEO_ECREDENTIALS, "AWS_CREDENTIAL_FILE %s has AWSAccessKeyId but no AWSSecretKey",
                          path);
    else if (control_char_field(ak, sk, NULL))
        rc = smneo__error(err, SMNEO_ECREDENTIALS, "AWS_CREDENTIAL_FILE %s: the %s has control characters", path,
                          control_char_field(ak, sk, NULL));
    else if (make_creds(out, ak, sk, NULL, 0, "ec2-credentials-file"))
        rc = smneo__error(err, SMNEO_ENOMEM, "out of memory");
    smneo__buf_free(&b); /* wiped */
    free(path);
    return rc;
}

/* botocore's BotoProvider: the [Credentials] section of BOTO_CONFIG, else of
 * /etc/boto.cfg, then ~/.boto (the first file that exists and has
 * aws_access_key_id). */
static int boto2_config(smneo_chain_resolution *r, smneo_credentials **out, smneo_error *err)
{
    const char *env = smneo__getenv("BOTO_CONFIG");
    const char *names[2] = {env ? env : "/etc/boto.cfg", env ? NULL : "~/.boto"};
    for (int i = 0; i < 2 && names[i]; i++) {
        char *path = smneo__expand_user(names[i]);
        if (!path)
            return smneo__error(err, SMNEO_ENOMEM, "out of memory");
        smneo__ini *ini = NULL;
        int exists = 0;
        int rc = smneo__ini_load(&ini, &exists, path, "boto", err);
        const char *ak = ini ? smneo__ini_get(ini, "Credentials", "aws_access_key_id") : NULL;
        const char *sk = ini ? smneo__ini_get(ini, "Credentials", "aws_secret_access_key") : NULL;
        if (!rc && ak) {
            if (!sk)
                rc = smneo__error(err, SMNEO_ECREDENTIALS,
                                  "the boto config file %s has aws_access_key_id but no aws_secret_access_key in "
                                  "[Credentials]",
                                  path);
            else if (control_char_field(ak, sk, NULL))
                rc = smneo__error(err, SMNEO_ECREDENTIALS, "the boto config file %s: the %s has control characters",
                                  path, control_char_field(ak, sk, NULL));
            else if (make_creds(out, ak, sk, NULL, 0, "boto-config"))
                rc = smneo__error(err, SMNEO_ENOMEM, "out of memory");
        } else if (!rc) {
            look(&r->where, "boto config %s (%s)", path, exists ? "no [Credentials] keys" : "not found");
        }
        smneo__ini_free(ini);
        free(path);
        if (rc || *out)
            return rc;
    }
    return 0;
}

/* The providers that need no network: the profile's (and the environment
 * before it), then botocore's legacy ones. */
static int static_providers(smneo_chain_resolution *r, smneo_credentials **out, smneo_error *err)
{
    int rc = profile_providers(r, out, err);
    if (rc || *out || r->nroles)
        return rc;
    rc = ec2_credential_file(r, out, err);
    if (rc || *out)
        return rc;
    return boto2_config(r, out, err);
}

/* Host of an http(s) URL into buf (IPv6 without brackets). */
static void url_host(const char *url, char *buf, size_t size)
{
    buf[0] = '\0';
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    const char *at = NULL;
    for (const char *q = p; *q && *q != '/' && *q != '?' && *q != '#'; q++)
        if (*q == '@')
            at = q;
    if (at)
        p = at + 1;
    size_t n;
    if (*p == '[') {
        p++;
        n = strcspn(p, "]");
    } else {
        n = strcspn(p, ":/?#");
    }
    if (n >= size)
        n = size - 1;
    memcpy(buf, p, n);
    buf[n] = '\0';
}

/* One dotted-decimal part: 1-3 digits, no leading zero (so that "0127" is
 * not read as octal by a resolver), at most 255. */
static const char *ipv4_part(const char *p, int *v)
{
    if (!isdigit((unsigned char)*p) || (p[0] == '0' && isdigit((unsigned char)p[1])))
        return NULL;
    int n = 0, k = 0;
    while (isdigit((unsigned char)*p) && k < 4) {
        n = n * 10 + (*p++ - '0');
        k++;
    }
    if (k > 3 || n > 255)
        return NULL;
    *v = n;
    return p;
}

static int is_loopback(const char *host)
{
    if (!strcmp(host, "::1") || !strcmp(host, "0:0:0:0:0:0:0:1"))
        return 1;
    /* 127.0.0.0/8 in strict dotted decimal */
    int part[4];
    const char *p = host;
    for (int i = 0; i < 4; i++) {
        p = ipv4_part(p, &part[i]);
        if (!p || (i < 3 && *p++ != '.'))
            return 0;
    }
    return *p == '\0' && part[0] == 127;
}

static int container_request(smneo_chain_resolution *r, smneo_request **req_out, smneo_error *err)
{
    const char *rel = smneo__getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = smneo__getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    free(r->url);
    r->url = NULL;
    if (rel) {
        r->url = smneo__aprintf("%s%s%s", CONTAINER_HOST_URL, rel[0] == '/' ? "" : "/", rel);
    } else {
        if (smneo__url_has_userinfo(full))
            return smneo__userinfo_error(err, SMNEO_ECREDENTIALS, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
        char host[256];
        url_host(full, host, sizeof host);
        int https = !strncasecmp(full, "https://", 8);
        if (!https && strncasecmp(full, "http://", 7) != 0)
            return smneo__error(err, SMNEO_ECREDENTIALS,
                                "AWS_CONTAINER_CREDENTIALS_FULL_URI '%s' is not an http:// or https:// URL", full);
        if (!https && !is_loopback(host) && strcmp(host, "169.254.170.2") != 0 &&
            strcmp(host, "169.254.170.23") != 0 && strcasecmp(host, "fd00:ec2::23") != 0 &&
            strcasecmp(host, "localhost") != 0)
            return smneo__error(err, SMNEO_ECREDENTIALS,
                                "AWS_CONTAINER_CREDENTIALS_FULL_URI: host '%s' is not allowed over plain http: use "
                                "https, a loopback address, localhost, 169.254.170.2, 169.254.170.23 or "
                                "fd00:ec2::23",
                                host);
        r->url = smneo__strdup(full);
    }
    if (!r->url)
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    /* Authorization: the token file (read on every fetch) wins over the token. */
    char *token = NULL;
    const char *token_file = smneo__getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    if (token_file) {
        FILE *f = fopen(token_file, "rb");
        if (!f)
            return smneo__error(err, SMNEO_ECREDENTIALS,
                                "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s: %s", token_file,
                                strerror(errno));
        smneo_buf b = SMNEO_BUF_SECRET_INIT;
        char chunk[1024];
        size_t got;
        while ((got = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len < 65536)
            smneo__buf_append(&b, chunk, got);
        smneo__wipe(chunk, sizeof chunk);
        fclose(f);
        /* A trailing newline (echo > file) is forgiven; other SDKs trim too. */
        while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
            b.data[--b.len] = '\0';
        /* The header ends at a NUL: zero what follows, so that wiping the
         * token (to its first NUL) wipes all of it. */
        if (b.data)
            smneo__wipe(b.data + strlen(b.data), b.len - strlen(b.data));
        token = smneo__buf_detach(&b, NULL);
        if (!token)
            return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    } else if (smneo__getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN")) {
        token = smneo__strdup(smneo__getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN"));
        if (!token)
            return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    if (token && strpbrk(token, "\r\n")) {
        smneo__free_secret(token);
        return smneo__error(err, SMNEO_ECREDENTIALS,
                            "the container authorization token (%s) contains a line break, which is not a legal "
                            "header value",
                            token_file ? "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE" : "AWS_CONTAINER_AUTHORIZATION_TOKEN");
    }
    smneo_request *req = NULL;
    int rc = smneo_request_new(&req, "GET", r->url);
    if (rc == SMNEO_EINVAL) {
        smneo__free_secret(token);
        return smneo__error(err, SMNEO_ECREDENTIALS,
                            "the container credentials URL (%s) contains a control character: fix the variable",
                            rel ? "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" : "AWS_CONTAINER_CREDENTIALS_FULL_URI");
    }
    if (rc == 0)
        rc = smneo_request_add_header(req, "Accept", "application/json");
    if (rc == 0 && token)
        rc = smneo_request_add_header(req, "Authorization", token);
    smneo__free_secret(token);
    if (rc) {
        smneo_request_free(req);
        return smneo__error(err, rc, "out of memory");
    }
    *req_out = req;
    return 0;
}

/* Parses {AccessKeyId, SecretAccessKey, Token, Expiration} (container and
 * IMDS). Returns 0 with *out, or -1 with what was wrong in *why. */
static int parse_http_creds(smneo_credentials **out, const char *body, size_t len, const char *source, int64_t now,
                            const char **why)
{
    *out = NULL;
    cJSON *j = parse_answer(body, len);
    if (!cJSON_IsObject(j)) {
        json_wipe_delete(j);
        *why = "the answer is not a JSON object (or has text after it)";
        return -1;
    }
    const char *ak = json_string(j, "AccessKeyId"), *sk = json_string(j, "SecretAccessKey");
    const char *tok = json_string(j, "Token"), *exp = json_string(j, "Expiration");
    int64_t expiration = 0;
    int rc = -1;
    if (!ak || !*ak || !sk || !*sk)
        *why = "the answer has no AccessKeyId/SecretAccessKey";
    else if (control_char_field(ak, sk, tok))
        *why = "the answer's credentials contain control characters (e.g. a line break)";
    else if (exp && parse_iso8601(exp, &expiration) != 0)
        *why = "the answer's Expiration is not an ISO 8601 time";
    else if (expiration && expiration <= now)
        *why = "the credentials in the answer have already expired";
    else if (make_creds(out, ak, sk, tok, expiration, source) != 0)
        *why = "out of memory";
    else
        rc = 0;
    json_wipe_delete(j);
    return rc;
}

static int imds_setup(smneo_chain_resolution *r, smneo_error *err)
{
    const char *base = smneo__getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    char *cfg_base = NULL, *mode = NULL, *v1 = NULL;
    if (!base) {
        smneo_config_get(&cfg_base, r->profile, "ec2_metadata_service_endpoint", NULL);
        base = cfg_base;
    }
    if (!base) {
        const char *m = smneo__getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
        if (!m) {
            smneo_config_get(&mode, r->profile, "ec2_metadata_service_endpoint_mode", NULL);
            m = mode;
        }
        base = (m && !strcasecmp(m, "ipv6")) ? IMDS_DEFAULT_URL_IPV6 : IMDS_DEFAULT_URL;
    }
    const char *v1s = smneo__getenv("AWS_EC2_METADATA_V1_DISABLED");
    if (!v1s) {
        smneo_config_get(&v1, r->profile, "ec2_metadata_v1_disabled", NULL);
        v1s = v1;
    }
    r->imds_v1_disabled = smneo__parse_bool(v1s) == 1;
    /* botocore's metadata_service_timeout (seconds) and
     * metadata_service_num_attempts: environment, then profile; 1 and 1. */
    static const struct {
        const char *env, *key;
        int scale, dflt;
    } knobs[] = {{"AWS_METADATA_SERVICE_TIMEOUT", "metadata_service_timeout", 1000, IMDS_TIMEOUT_MS},
                 {"AWS_METADATA_SERVICE_NUM_ATTEMPTS", "metadata_service_num_attempts", 1, 1}};
    int knob_rc = 0;
    for (int i = 0; i < 2 && !knob_rc; i++) {
        char *cfgv = NULL;
        const char *v = smneo__getenv(knobs[i].env);
        if (!v) {
            smneo_config_get(&cfgv, r->profile, knobs[i].key, NULL);
            v = cfgv;
        }
        int value = knobs[i].dflt;
        if (v) {
            char *end;
            long n = strtol(v, &end, 10);
            if (end == v || *end || n < 1 || n > 3600)
                knob_rc = smneo__error(err, SMNEO_ECREDENTIALS, "%s=\"%s\" is not valid: use a whole number of %s "
                                       "from 1 to 3600", cfgv ? knobs[i].key : knobs[i].env, v,
                                       i ? "attempts" : "seconds");
            value = (int)n * knobs[i].scale;
        }
        free(cfgv);
        if (i == 0)
            r->imds_timeout_ms = value;
        else
            r->imds_attempts = value;
    }
    if (knob_rc) {
        free(cfg_base);
        free(mode);
        free(v1);
        return knob_rc;
    }
    size_t n = strlen(base);
    while (n && base[n - 1] == '/')
        n--;
    r->imds_base = smneo__strndup(base, n);
    int ok = r->imds_base && (!strncasecmp(r->imds_base, "http://", 7) || !strncasecmp(r->imds_base, "https://", 8));
    int rc = 0;
    if (!r->imds_base)
        rc = smneo__error(err, SMNEO_ENOMEM, "out of memory");
    else if (smneo__url_has_userinfo(r->imds_base))
        rc = smneo__userinfo_error(err, SMNEO_ECREDENTIALS,
                                   "AWS_EC2_METADATA_SERVICE_ENDPOINT or ec2_metadata_service_endpoint");
    else if (!ok)
        rc = smneo__error(err, SMNEO_ECREDENTIALS,
                          "the EC2 metadata endpoint '%s' (AWS_EC2_METADATA_SERVICE_ENDPOINT or "
                          "ec2_metadata_service_endpoint) is not an http:// or https:// URL",
                          r->imds_base);
    free(cfg_base);
    free(mode);
    free(v1);
    return rc;
}

/* The token goes back in a header: printable ASCII only (trailing
 * whitespace is trimmed). Anything else is treated as no token. */
static int imds_token_usable(const char *body, size_t len)
{
    while (len && isspace((unsigned char)body[len - 1]))
        len--;
    if (!len)
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)body[i] < 0x20 || (unsigned char)body[i] >= 0x7f)
            return 0;
    return 1;
}

static int imds_request(smneo_chain_resolution *r, smneo_request **req_out, const char *method, const char *path)
{
    /* A new request (not a resend of the outstanding one): count again. */
    if (path != r->imds_path) {
        char *p = smneo__strdup(path);
        if (!p)
            return SMNEO_ENOMEM;
        free(r->imds_path);
        r->imds_path = p;
        path = p;
        snprintf(r->imds_method, sizeof r->imds_method, "%s", method);
        r->imds_tries = 0;
    }
    r->imds_tries++;
    char *url = smneo__aprintf("%s/%s", r->imds_base, path);
    if (!url)
        return SMNEO_ENOMEM;
    smneo_request *req = NULL;
    int rc = smneo_request_new(&req, method, url);
    free(url);
    if (rc)
        return rc;
    if (!strcmp(method, "PUT"))
        rc = smneo_request_add_header(req, "X-aws-ec2-metadata-token-ttl-seconds", "21600");
    else if (r->imds_token)
        rc = smneo_request_add_header(req, "X-aws-ec2-metadata-token", r->imds_token);
    if (rc) {
        smneo_request_free(req);
        return rc;
    }
    r->timeout_ms = r->imds_timeout_ms ? r->imds_timeout_ms : IMDS_TIMEOUT_MS;
    r->awaiting = 1;
    *req_out = req;
    return 0;
}

/* An IMDS answer that botocore's fetcher tries again (a transport error or
 * HTTP 5xx) while attempts remain: resend the same request. 1 with it. */
static int imds_resend(smneo_chain_resolution *r, smneo_request **req_out)
{
    if (!(r->transport_error || r->resp_status >= 500) || r->imds_tries >= r->imds_attempts || !r->imds_path)
        return 0;
    clear_response(r);
    return imds_request(r, req_out, r->imds_method, r->imds_path) == 0;
}

static const char *transport_name(int code)
{
    switch (code) {
    case SMNEO_ECONNECT: return "connection failed";
    case SMNEO_ECLOSED: return "connection closed without a complete response";
    case SMNEO_EDNS: return "name resolution failed";
    case SMNEO_ETLS: return "TLS failed";
    case SMNEO_ETIMEOUT: return "timed out";
    case SMNEO_EUNSUPPORTED: return "no HTTP transport";
    default: return "transport error";
    }
}

static int emit(smneo_chain_resolution *r, smneo_credentials **creds_out, smneo_error *err)
{
    if (r->result_rc == 0) {
        int rc = smneo_credentials_copy(creds_out, r->result);
        return rc ? smneo__error(err, rc, "out of memory") : 0;
    }
    int rc = smneo__error(err, r->result_rc, "%s", r->result_msg ? r->result_msg : "credential resolution failed");
    if (err && r->result_code) {
        err->service_code = smneo__strdup(r->result_code);
        err->http_status = r->result_status;
        err->request_id = smneo__strdup(r->result_request_id);
    }
    return rc;
}

/* ---- assume role ---------------------------------------------------------- */

/* STS's region: the chain's (the client's), else the usual lookup, else
 * the global endpoint (botocore's STS client without a region). */
static char *sts_region(smneo_chain_resolution *r)
{
    if (r->chain->region)
        return smneo__strdup(r->chain->region);
    char *region = NULL;
    smneo_error e = SMNEO_ERROR_INIT;
    if (smneo_region_resolve(&region, NULL, r->profile, &e) != 0)
        region = smneo__strdup("aws-global");
    smneo_error_clear(&e);
    return region;
}

static int add_string(cJSON *o, const char *name, const char *value)
{
    return value && !cJSON_AddStringToObject(o, name, value) ? SMNEO_ENOMEM : 0;
}

/* Who configured a step, for messages: "profile 'x'", or the environment. */
static void step_who(const struct role_step *st, char *buf, size_t size)
{
    if (st->from_env)
        snprintf(buf, size, "web identity from AWS_WEB_IDENTITY_TOKEN_FILE (profile '%s')", st->profile);
    else
        snprintf(buf, size, "profile '%s'", st->profile);
}

/* Reads the web identity token file, again at every refresh (it rotates).
 * The content is sent as is, as botocore reads it. */
static int read_token_file(char **out, const struct role_step *st, smneo_error *err)
{
    char who[320];
    step_who(st, who, sizeof who);
    *out = NULL;
    FILE *f = fopen(st->token_file, "rb");
    if (!f)
        return smneo__error(err, SMNEO_ECREDENTIALS, "%s (role %s): cannot read the web identity token file %s: %s",
                            who, st->role_arn, st->token_file, strerror(errno));
    smneo_buf b = SMNEO_BUF_SECRET_INIT;
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len <= 65536)
        smneo__buf_append(&b, chunk, got);
    smneo__wipe(chunk, sizeof chunk);
    int bad = ferror(f);
    fclose(f);
    if (bad || b.len > 65536 || !b.len || b.failed || strlen(b.data) != b.len) {
        smneo__buf_free(&b);
        return smneo__error(err, SMNEO_ECREDENTIALS,
                            "%s (role %s): the web identity token file %s is %s", who, st->role_arn, st->token_file,
                            bad ? "unreadable" : b.len ? "not a token (larger than 64 KiB or holding NUL bytes)"
                                                       : "empty");
    }
    *out = smneo__buf_detach(&b, NULL);
    return *out ? 0 : smneo__error(err, SMNEO_ENOMEM, "out of memory");
}

/* ---- the AWS CLI's assumed-role cache ------------------------------------- */

static int write_file_atomic(const char *path, const char *text);

/* A string as Python's json.dumps writes it (ensure_ascii: \uXXXX for
 * anything outside ASCII, surrogate pairs above U+FFFF). */
static void py_json_string(smneo_buf *b, const char *s)
{
    smneo__buf_append(b, "\"", 1);
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p, cp = c;
        int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
        if (n > 1) {
            cp = c & (0x7f >> n);
            for (int k = 1; k < n; k++) {
                if ((p[k] & 0xc0) != 0x80) {
                    n = 1, cp = 0xfffd;
                    break;
                }
                cp = (cp << 6) | (p[k] & 0x3f);
            }
        }
        p += n;
        char esc[16];
        if (cp == '"' || cp == '\\') {
            esc[0] = '\\', esc[1] = (char)cp, esc[2] = 0;
        } else if (cp == '\n' || cp == '\r' || cp == '\t' || cp == '\b' || cp == '\f') {
            esc[0] = '\\';
            esc[1] = cp == '\n' ? 'n' : cp == '\r' ? 'r' : cp == '\t' ? 't' : cp == '\b' ? 'b' : 'f';
            esc[2] = 0;
        } else if (cp < 0x20 || (cp >= 0x7f && cp <= 0xffff)) {
            snprintf(esc, sizeof esc, "\\u%04x", cp);
        } else if (cp > 0xffff) {
            cp -= 0x10000;
            snprintf(esc, sizeof esc, "\\u%04x\\u%04x", 0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
        } else {
            esc[0] = (char)cp, esc[1] = 0;
        }
        smneo__buf_append(b, esc, strlen(esc));
    }
    smneo__buf_append(b, "\"", 1);
}

/* DIR/<key>.json for an AssumeRole step, as botocore's
 * AssumeRoleCredentialFetcher names it: the SHA-1 of json.dumps(args,
 * sort_keys=True) of its AssumeRole arguments without the token code (and
 * without a generated session name). NULL without a cache. */
static char *role_cache_path(const smneo_chain_resolution *r, const struct role_step *st)
{
    pthread_mutex_lock(&r->chain->lock);
    char *dir = r->chain->role_cache ? smneo__strdup(r->chain->role_cache) : NULL;
    pthread_mutex_unlock(&r->chain->lock);
    if (!dir || st->token_file || st->sso)
        return free(dir), NULL;
    smneo_buf b = SMNEO_BUF_INIT;
    const char *sep = "{";
    char num[32];
    /* sorted: DurationSeconds, ExternalId, RoleArn, RoleSessionName, SerialNumber */
    if (st->duration) {
        snprintf(num, sizeof num, "%ld", st->duration);
        smneo__buf_append(&b, sep, strlen(sep));
        smneo__buf_append(&b, "\"DurationSeconds\": ", 19);
        smneo__buf_append(&b, num, strlen(num));
        sep = ", ";
    }
    const char *names[4] = {"ExternalId", "RoleArn", "RoleSessionName", "SerialNumber"};
    const char *values[4] = {st->external_id, st->role_arn, st->session_name, st->mfa_serial};
    for (int i = 0; i < 4; i++) {
        if (!values[i])
            continue;
        smneo__buf_append(&b, sep, strlen(sep));
        py_json_string(&b, names[i]);
        smneo__buf_append(&b, ": ", 2);
        py_json_string(&b, values[i]);
        sep = ", ";
    }
    smneo__buf_append(&b, "}", 1);
    unsigned char md[20];
    unsigned int mdlen = 0;
    char hex[41];
    char *path = NULL;
    if (!b.failed && EVP_Digest(b.data, b.len, md, &mdlen, EVP_sha1(), NULL) && mdlen == 20) {
        smneo__hex(hex, md, 20);
        path = smneo__aprintf("%s/%s.json", dir, hex);
    }
    smneo__buf_free(&b);
    free(dir);
    return path;
}

/* Credentials cached for a step with more than botocore's 15 minutes left,
 * or NULL (no cache, no file, a file that is not a cached answer). */
static smneo_credentials *role_cache_read(const smneo_chain_resolution *r, const struct role_step *st)
{
    char *path = role_cache_path(r, st);
    if (!path)
        return NULL;
    smneo_buf b = SMNEO_BUF_SECRET_INIT;
    smneo_credentials *out = NULL;
    if (smneo__read_secret_file(&b, path) == 0 && b.data) {
        cJSON *root = cJSON_ParseWithLength(b.data, b.len);
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(root, "Credentials");
        const char *ak = json_string(c, "AccessKeyId"), *sk = json_string(c, "SecretAccessKey");
        const char *tok = json_string(c, "SessionToken"), *exp = json_string(c, "Expiration");
        char when[64];
        int64_t t = 0;
        /* botocore writes strftime('%Y-%m-%dT%H:%M:%S%Z'): "...UTC"; ISO 8601 too. */
        if (exp && strlen(exp) < sizeof when - 1) {
            snprintf(when, sizeof when, "%s", exp);
            size_t n = strlen(when);
            if (n > 3 && !strcmp(when + n - 3, "UTC"))
                strcpy(when + n - 3, "Z");
        }
        if (ak && *ak && sk && *sk && tok && *tok && exp && parse_iso8601(when, &t) == 0 &&
            t - smneo__now() >= STS_REFRESH_ADVISORY_S && !control_char_field(ak, sk, tok)) {
            if (make_creds(&out, ak, sk, tok, t, "assume-role"))
                out = NULL;
            else
                smneo_log(SMNEO_LOG_DEBUG, "profile '%s': role %s from the cache %s", st->profile, st->role_arn,
                          path);
        }
        json_wipe_delete(root);
    }
    smneo__buf_free(&b);
    free(path);
    return out;
}

/* Writes an AssumeRole answer (the result's members, Expiration as botocore
 * serialises it, Credentials.AccountId from the assumed role's ARN) to the
 * cache. Failures are logged: the credentials are still used. */
static void role_cache_write(const smneo_chain_resolution *r, const struct role_step *st, const cJSON *answer)
{
    char *path = role_cache_path(r, st);
    if (!path)
        return;
    cJSON *doc = cJSON_Duplicate(answer, 1);
    cJSON *c = cJSON_GetObjectItemCaseSensitive(doc, "Credentials");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(c, "Expiration");
    char *text = NULL;
    if (doc && cJSON_IsNumber(exp)) {
        time_t tt = (time_t)exp->valuedouble;
        struct tm tm;
        char when[40];
        gmtime_r(&tt, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SUTC", &tm);
        cJSON_ReplaceItemInObjectCaseSensitive(c, "Expiration", cJSON_CreateString(when));
        const char *arn = json_string(cJSON_GetObjectItemCaseSensitive(doc, "AssumedRoleUser"), "Arn");
        char account[64] = "";
        /* arn:PARTITION:sts::ACCOUNT:assumed-role/... */
        const char *p = arn;
        for (int i = 0; p && i < 4; i++)
            p = strchr(p, ':') ? strchr(p, ':') + 1 : NULL;
        if (p && strchr(p, ':') && (size_t)(strchr(p, ':') - p) < sizeof account)
            snprintf(account, sizeof account, "%.*s", (int)(strchr(p, ':') - p), p);
        if (*account)
            cJSON_AddStringToObject(c, "AccountId", account);
        text = cJSON_PrintUnformatted(doc);
    }
    int ok = 0;
    if (text) {
        struct stat sb;
        char *dir = smneo__strndup(path, (size_t)(strrchr(path, '/') - path));
        /* the directory as os.makedirs makes it (each missing level) */
        for (char *q = dir ? dir + 1 : NULL; q && *q; q++) {
            if (*q == '/') {
                *q = '\0';
                if (stat(dir, &sb) != 0)
                    mkdir(dir, 0700);
                *q = '/';
            }
        }
        if (dir && stat(dir, &sb) != 0)
            mkdir(dir, 0700);
        free(dir);
        ok = write_file_atomic(path, text) == 0;
        smneo__wipe(text, strlen(text));
        cJSON_free(text);
    }
    if (!ok)
        smneo_log(SMNEO_LOG_WARN, "profile '%s': the assumed role's credentials could not be cached in %s",
                  st->profile, path);
    smneo__json_wipe_delete(doc);
    free(path);
}

/* Builds the outstanding request (again, for a retry: signed anew). */
static int pending_build(smneo_chain_resolution *r, smneo_request **req_out, smneo_error *e)
{
    smneo_build_options bo = SMNEO_BUILD_OPTIONS_INIT;
    bo.endpoint_url = r->sts_url;
    bo.region = r->pend_region;
    bo.timestamp = smneo__now();
    return smneo_protocol_build_operation(req_out, r->pend_op, r->pend_json, strlen(r->pend_json),
                                          r->pend_signed ? r->source : NULL, &bo, e);
}

/* The request of roles[role_next]: AssumeRole signed with r->source, or
 * AssumeRoleWithWebIdentity (unsigned) with the token file's token. */
static int assume_request(smneo_chain_resolution *r, smneo_request **req_out, smneo_error *err)
{
    struct role_step *st = &r->roles[r->role_next];
    int web = st->token_file != NULL;
    char who[320];
    step_who(st, who, sizeof who);
    const smneo_operation *op =
        smneo_service_operation(smneo_model_service("sts"), web ? "AssumeRoleWithWebIdentity" : "AssumeRole");
    char *region = sts_region(r);
    if (!region || !op) {
        free(region);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    free(r->sts_url);
    r->sts_url = NULL;
    smneo_endpoint_options eo = SMNEO_ENDPOINT_OPTIONS_INIT;
    eo.service = "sts";
    eo.region = region;
    eo.profile = r->profile;
    smneo_error e = SMNEO_ERROR_INIT;
    int rc = smneo_endpoint_resolve(&r->sts_url, &eo, &e);
    if (rc) {
        rc = smneo__error(err, SMNEO_ECREDENTIALS, "%s (role %s): no STS endpoint: %s", who, st->role_arn,
                          e.message ? e.message : "");
        smneo_error_clear(&e);
        free(region);
        return rc;
    }
    /* Parameters as botocore's AssumeRoleCredentialFetcher sends them. */
    cJSON *p = cJSON_CreateObject();
    char code[MFA_CODE_MAX] = "";
    char generated[64];
    rc = p ? 0 : SMNEO_ENOMEM;
    if (!rc)
        rc = add_string(p, "RoleArn", st->role_arn);
    if (!rc && st->session_name) {
        rc = add_string(p, "RoleSessionName", st->session_name);
    } else if (!rc) {
        snprintf(generated, sizeof generated, "botocore-session-%lld", (long long)smneo__now());
        rc = add_string(p, "RoleSessionName", generated);
    }
    char *token = NULL;
    if (!rc && web) {
        rc = read_token_file(&token, st, err);
        if (rc) {
            smneo__json_wipe_delete(p);
            free(region);
            return rc;
        }
        rc = add_string(p, "WebIdentityToken", token);
        smneo__free_secret(token);
    }
    if (!rc)
        rc = add_string(p, "ExternalId", st->external_id);
    if (!rc && st->duration && !cJSON_AddNumberToObject(p, "DurationSeconds", (double)st->duration))
        rc = SMNEO_ENOMEM;
    if (!rc && st->mfa_serial) {
        if (!r->chain->mfa_cb) {
            cJSON_Delete(p);
            free(region);
            return smneo__error(err, SMNEO_ECREDENTIALS,
                                "profile '%s' (role %s) sets mfa_serial = %s, but no MFA code callback was given: "
                                "pass mfa_token_callback (Python), mfa_token (Lua) or smneo_chain_options.mfa_cb (C)",
                                st->profile, st->role_arn, st->mfa_serial);
        }
        int cb = r->chain->mfa_cb(code, sizeof code, st->mfa_serial, st->profile, r->chain->payload);
        code[sizeof code - 1] = '\0';
        if (cb) {
            smneo__wipe(code, sizeof code);
            cJSON_Delete(p);
            free(region);
            return smneo__error(err, SMNEO_ECREDENTIALS,
                                "profile '%s' (role %s): the MFA code callback gave no code for %s (it returned "
                                "non-zero)",
                                st->profile, st->role_arn, st->mfa_serial);
        }
        rc = add_string(p, "SerialNumber", st->mfa_serial);
        if (!rc)
            rc = add_string(p, "TokenCode", code);
        smneo__wipe(code, sizeof code);
    }
    char *json = rc ? NULL : cJSON_PrintUnformatted(p);
    smneo__json_wipe_delete(p);
    if (!json) {
        free(region);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    /* STS's global endpoint signs for us-east-1. */
    clear_pending(r);
    r->pend_op = op;
    r->pend_json = json;
    r->pend_region = smneo__strdup(!strcmp(region, "aws-global") ? "us-east-1" : region);
    r->pend_signed = !web; /* AssumeRoleWithWebIdentity is unauthenticated: sent unsigned. */
    r->pend_sts = 1;
    free(region);
    rc = r->pend_region ? pending_build(r, req_out, &e) : SMNEO_ENOMEM;
    if (rc) {
        /* Validation messages quote values: never the token's. */
        const char *detail = e.message ? e.message : "";
        if (e.field && !strcmp(e.field, "WebIdentityToken"))
            detail = "the token in the file is not one STS accepts (1 to 20000 characters)";
        rc = smneo__error(err, rc == SMNEO_EVALIDATION ? SMNEO_ECREDENTIALS : rc,
                          "%s (role %s): cannot build the %s request: %s", who, st->role_arn, op->name, detail);
        smneo_error_clear(&e);
    }
    return rc;
}

/* Temporary credentials from an STS or SSO answer: names[] are the
 * wrapper, key id, secret, token and expiration members; the expiration is
 * divided by exp_unit. NULL with *out, or what was wrong. */
static const char *answer_creds(smneo_credentials **out, const cJSON *root, const char *const names[5],
                                double exp_unit, const char *source)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(root, names[0]);
    const char *ak = json_string(c, names[1]), *sk = json_string(c, names[2]), *tok = json_string(c, names[3]);
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(c, names[4]);
    if (!ak || !*ak || !sk || !*sk || !tok || !*tok)
        return "the answer has no complete credentials";
    if (control_char_field(ak, sk, tok))
        return "the answer's credentials contain control characters";
    if (!cJSON_IsNumber(exp))
        return "the answer's expiration is missing or not a time";
    if (make_creds(out, ak, sk, tok, (int64_t)(exp->valuedouble / exp_unit), source))
        return "out of memory";
    return NULL;
}

/* The fed answer as a response for the protocol parser (status, the
 * headers it reads, body). */
static int fed_response(smneo_chain_resolution *r, smneo_response **out)
{
    smneo_response *resp = NULL;
    int rc = smneo_response_new(&resp, r->resp_status);
    if (rc == 0 && r->resp_error_type)
        rc = smneo_response_add_header(resp, "x-amzn-ErrorType", 16, r->resp_error_type, strlen(r->resp_error_type));
    if (rc == 0 && r->resp_request_id)
        rc = smneo_response_add_header(resp, "x-amzn-RequestId", 16, r->resp_request_id, strlen(r->resp_request_id));
    if (rc == 0 && r->resp_len)
        rc = smneo_response_append_body(resp, r->resp_body, r->resp_len);
    if (rc) {
        smneo_response_free(resp);
        resp = NULL;
    }
    *out = resp;
    return rc;
}

/* Reads the answer to AssumeRole: 0 with *out, or -1 having finished the
 * resolution with the error (naming the profile and the role). */
static int assume_answer(smneo_chain_resolution *r, smneo_credentials **out)
{
    struct role_step *st = &r->roles[r->role_next];
    int web = st->token_file != NULL;
    char who[320];
    step_who(st, who, sizeof who);
    *out = NULL;
    if (r->transport_error) {
        finish_fmt(r, SMNEO_ECREDENTIALS, "%s could not assume role %s: STS at %s: %s", who, st->role_arn,
                   r->sts_url, transport_name(r->transport_error));
        return -1;
    }
    const smneo_operation *op =
        smneo_service_operation(smneo_model_service("sts"), web ? "AssumeRoleWithWebIdentity" : "AssumeRole");
    smneo_response *resp = NULL;
    smneo_result *res = NULL;
    smneo_error e = SMNEO_ERROR_INIT;
    int rc = fed_response(r, &resp);
    if (rc == 0)
        rc = smneo__protocol_parse_owned(&res, op, resp, &e); /* takes resp */
    clear_response(r);
    if (rc) {
        /* The service's words (never a secret: STS does not echo them). */
        free(r->result_code);
        free(r->result_request_id);
        r->result_code = smneo__strdup(e.service_code);
        r->result_request_id = smneo__strdup(e.request_id);
        r->result_status = e.http_status;
        if (e.service_code)
            finish_fmt(r, SMNEO_ECREDENTIALS, "%s could not assume role %s: STS %s failed: %s: %s", who,
                       st->role_arn, op->name, e.service_code, e.message ? e.message : "");
        else
            finish_fmt(r, SMNEO_ECREDENTIALS, "%s could not assume role %s: %s", who, st->role_arn,
                       e.message ? e.message : "STS failed");
        smneo_error_clear(&e);
        return -1;
    }
    static const char *const names[5] = {"Credentials", "AccessKeyId", "SecretAccessKey", "SessionToken",
                                         "Expiration"};
    const char *why = answer_creds(out, smneo__result_root_node(res), names, 1,
                                   web && r->role_next == 0 ? "web-identity" : "assume-role");
    if (!why)
        role_cache_write(r, st, smneo__result_root_node(res));
    smneo_result_free(res); /* wiped: its output holds the credentials */
    if (why) {
        finish_fmt(r, SMNEO_ECREDENTIALS, "%s could not assume role %s: %s", who, st->role_arn, why);
        return -1;
    }
    return 0;
}

/* ---- IAM Identity Center (SSO) ------------------------------------------------ */

/* "aws sso login --sso-session NAME" or "--profile NAME": what to run. */
static void sso_login_hint(const struct role_step *st, char *buf, size_t size)
{
    if (st->sso_session)
        snprintf(buf, size, "aws sso login --sso-session %s", st->sso_session);
    else
        snprintf(buf, size, "aws sso login --profile %s", st->profile);
}

/* Loads the cached token (st->sso_token). 0, or an error naming the file and
 * the login command. */
static int sso_load_token(struct role_step *st, smneo_error *err)
{
    char hint[300];
    sso_login_hint(st, hint, sizeof hint);
    const char *name = st->sso_session ? st->sso_session : st->sso_start_url;
    FILE *f = fopen(st->sso_cache_path, "rb");
    if (!f)
        return smneo__error(err, SMNEO_ESSOTOKEN,
                            "profile '%s': no SSO token for %s in the cache (%s: %s): run `%s`", st->profile, name,
                            st->sso_cache_path, strerror(errno), hint);
    smneo_buf b = SMNEO_BUF_SECRET_INIT;
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len <= 1024 * 1024)
        smneo__buf_append(&b, chunk, got);
    smneo__wipe(chunk, sizeof chunk);
    fclose(f);
    cJSON *j = b.data ? parse_answer(b.data, b.len) : NULL;
    smneo__buf_free(&b);
    int64_t exp = 0;
    if (!cJSON_IsObject(j) || !json_string(j, "accessToken") || !json_string(j, "expiresAt") ||
        parse_iso8601(json_string(j, "expiresAt"), &exp) != 0) {
        json_wipe_delete(j);
        return smneo__error(err, SMNEO_ESSOTOKEN,
                            "profile '%s': the cached SSO token for %s (%s) is invalid (no accessToken or expiresAt): "
                            "run `%s`",
                            st->profile, name, st->sso_cache_path, hint);
    }
    smneo__json_wipe_delete(st->sso_token);
    st->sso_token = j;
    return 0;
}

static int64_t sso_token_expiry(const struct role_step *st)
{
    int64_t exp = 0;
    const char *s = json_string(st->sso_token, "expiresAt");
    return s && parse_iso8601(s, &exp) == 0 ? exp : 0;
}

/* botocore refreshes an sso-session token with less than 15 minutes left,
 * when the cache holds the refresh token and a registration still valid. */
static int sso_can_refresh(const struct role_step *st, int64_t now)
{
    const cJSON *t = st->sso_token;
    int64_t reg = 0;
    const char *r = json_string(t, "registrationExpiresAt");
    return st->sso_session && json_string(t, "refreshToken") && json_string(t, "clientId") &&
           json_string(t, "clientSecret") && r && parse_iso8601(r, &reg) == 0 && reg > now;
}

static int sso_build(smneo_chain_resolution *r, struct role_step *st, const char *service, const char *opname,
                     cJSON *params, smneo_request **req_out, smneo_error *err)
{
    const smneo_operation *op = smneo_service_operation(smneo_model_service(service), opname);
    free(r->sts_url);
    r->sts_url = NULL;
    smneo_endpoint_options eo = SMNEO_ENDPOINT_OPTIONS_INIT;
    eo.service = service;
    eo.region = st->sso_region;
    eo.profile = r->profile;
    smneo_error e = SMNEO_ERROR_INIT;
    int rc = op ? smneo_endpoint_resolve(&r->sts_url, &eo, &e) : SMNEO_ENOMEM;
    char *json = rc ? NULL : cJSON_PrintUnformatted(params);
    smneo__json_wipe_delete(params);
    if (rc || !json) {
        rc = smneo__error(err, rc == SMNEO_ENOMEM || !json ? SMNEO_ENOMEM : SMNEO_ECREDENTIALS,
                          "profile '%s': no %s endpoint: %s", st->profile, service, e.message ? e.message : "");
        smneo_error_clear(&e);
        free(json);
        return rc;
    }
    /* Both operations are unauthenticated: sent unsigned. */
    clear_pending(r);
    r->pend_op = op;
    r->pend_json = json;
    r->pend_region = smneo__strdup(st->sso_region);
    r->pend_signed = r->pend_sts = 0;
    rc = r->pend_region ? pending_build(r, req_out, &e) : SMNEO_ENOMEM;
    if (rc) {
        /* Never e.message: validation quotes values, and these are tokens. */
        rc = smneo__error(err, SMNEO_ECREDENTIALS, "profile '%s': cannot build the %s request (%s is not valid)",
                          st->profile, opname, e.field ? e.field : "a parameter");
        smneo_error_clear(&e);
    }
    return rc;
}

/* The next SSO request: CreateToken when the sso-session token needs and
 * allows a refresh, else GetRoleCredentials. */
static int sso_request(smneo_chain_resolution *r, smneo_request **req_out, smneo_error *err)
{
    struct role_step *st = &r->roles[r->role_next];
    char hint[300];
    sso_login_hint(st, hint, sizeof hint);
    if (st->sso_phase == 0) {
        int rc = sso_load_token(st, err);
        if (rc)
            return rc;
        int64_t left = sso_token_expiry(st) - smneo__now();
        if (left < STS_REFRESH_ADVISORY_S && sso_can_refresh(st, smneo__now())) {
            cJSON *p = cJSON_CreateObject();
            if (!p || !cJSON_AddStringToObject(p, "clientId", json_string(st->sso_token, "clientId")) ||
                !cJSON_AddStringToObject(p, "clientSecret", json_string(st->sso_token, "clientSecret")) ||
                !cJSON_AddStringToObject(p, "grantType", "refresh_token") ||
                !cJSON_AddStringToObject(p, "refreshToken", json_string(st->sso_token, "refreshToken"))) {
                smneo__json_wipe_delete(p);
                return smneo__error(err, SMNEO_ENOMEM, "out of memory");
            }
            st->sso_phase = 1;
            return sso_build(r, st, "sso-oidc", "CreateToken", p, req_out, err);
        }
        st->sso_phase = 2;
    }
    /* GetRoleCredentials: an expired token is refused here, as botocore. */
    if (sso_token_expiry(st) <= smneo__now()) {
        if (st->sso_session)
            return smneo__error(err, SMNEO_ESSOTOKEN,
                                "profile '%s': the SSO token of sso-session '%s' has expired and could not be "
                                "refreshed: run `%s`",
                                st->profile, st->sso_session, hint);
        return smneo__error(err, SMNEO_ESSOUNAUTHORIZED,
                            "profile '%s': the SSO session for %s has expired: run `%s`", st->profile,
                            st->sso_start_url, hint);
    }
    cJSON *p = cJSON_CreateObject();
    if (!p || !cJSON_AddStringToObject(p, "roleName", st->sso_role_name) ||
        !cJSON_AddStringToObject(p, "accountId", st->sso_account_id) ||
        !cJSON_AddStringToObject(p, "accessToken", json_string(st->sso_token, "accessToken"))) {
        smneo__json_wipe_delete(p);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    st->sso_phase = 2;
    return sso_build(r, st, "sso", "GetRoleCredentials", p, req_out, err);
}

static void utc_text(char out[32], int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Writes the refreshed token back to the cache: a temporary file in the
 * same directory (0600), then rename, so that a reader never sees half. */
/* Writes text to path through a temporary file in the same directory
 * (created 0600 by mkstemp, fsync'ed, renamed over path), so a reader never
 * sees half of it. 0 or -1. */
static int write_file_atomic(const char *path, const char *text)
{
    char *tmp = smneo__aprintf("%s.XXXXXX", path);
    if (!tmp)
        return -1;
    int rc = -1;
    int fd = mkstemp(tmp);
    if (fd >= 0) {
        size_t n = strlen(text), off = 0;
        while (off < n) {
            ssize_t w = write(fd, text + off, n - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        int ok = off == n && fsync(fd) == 0;
        if (close(fd) == 0 && ok && rename(tmp, path) == 0)
            rc = 0;
        if (rc)
            unlink(tmp);
    }
    free(tmp);
    return rc;
}

static int sso_save_token(const struct role_step *st, const cJSON *token)
{
    char *text = cJSON_Print(token);
    if (!text)
        return -1;
    int rc = write_file_atomic(st->sso_cache_path, text);
    smneo__wipe(text, strlen(text));
    cJSON_free(text);
    return rc;
}

/* Reads an SSO answer. Returns 0 with *out (GetRoleCredentials), 2 when the
 * CreateToken answer was taken (GetRoleCredentials is next), or -1 having
 * finished the resolution with the error. */
static int sso_answer(smneo_chain_resolution *r, smneo_credentials **out)
{
    struct role_step *st = &r->roles[r->role_next];
    char hint[300];
    sso_login_hint(st, hint, sizeof hint);
    *out = NULL;
    int create = st->sso_phase == 1;
    const smneo_operation *op = create ? smneo_service_operation(smneo_model_service("sso-oidc"), "CreateToken")
                                       : smneo_service_operation(smneo_model_service("sso"), "GetRoleCredentials");
    smneo_result *res = NULL;
    smneo_error e = SMNEO_ERROR_INIT;
    int rc = SMNEO_ECONNECT;
    if (!r->transport_error) {
        smneo_response *resp = NULL;
        rc = fed_response(r, &resp);
        if (rc == 0)
            rc = smneo__protocol_parse_owned(&res, op, resp, &e);
    }
    int transport = r->transport_error;
    clear_response(r);
    if (create) {
        /* A failed refresh is not an error yet (botocore logs it): the old
         * token is used while it lasts. */
        const cJSON *root = rc == 0 ? smneo__result_root_node(res) : NULL;
        const char *at = json_string(root, "accessToken");
        const cJSON *in = cJSON_GetObjectItemCaseSensitive(root, "expiresIn");
        if (at && cJSON_IsNumber(in)) {
            char exp[32];
            utc_text(exp, smneo__now() + (int64_t)in->valuedouble);
            cJSON *t = cJSON_CreateObject();
            const char *rt = json_string(root, "refreshToken");
            if (t && cJSON_AddStringToObject(t, "startUrl", st->sso_start_url) &&
                cJSON_AddStringToObject(t, "region", st->sso_region) && cJSON_AddStringToObject(t, "accessToken", at) &&
                cJSON_AddStringToObject(t, "expiresAt", exp) &&
                cJSON_AddStringToObject(t, "clientId", json_string(st->sso_token, "clientId")) &&
                cJSON_AddStringToObject(t, "clientSecret", json_string(st->sso_token, "clientSecret")) &&
                cJSON_AddStringToObject(t, "registrationExpiresAt",
                                        json_string(st->sso_token, "registrationExpiresAt")) &&
                (!rt || cJSON_AddStringToObject(t, "refreshToken", rt))) {
                if (sso_save_token(st, t) != 0)
                    smneo_log(SMNEO_LOG_WARN, "profile '%s': the refreshed SSO token could not be written to %s",
                              st->profile, st->sso_cache_path);
                smneo__json_wipe_delete(st->sso_token);
                st->sso_token = t;
            } else {
                smneo__json_wipe_delete(t);
            }
        } else {
            smneo_log(SMNEO_LOG_WARN, "profile '%s': refreshing the SSO token of sso-session '%s' failed (%s)",
                      st->profile, st->sso_session,
                      transport ? transport_name(transport) : e.service_code ? e.service_code : "bad answer");
        }
        smneo_result_free(res);
        smneo_error_clear(&e);
        st->sso_phase = 2;
        return 2;
    }
    if (rc) {
        free(r->result_code);
        free(r->result_request_id);
        r->result_code = smneo__strdup(e.service_code);
        r->result_request_id = smneo__strdup(e.request_id);
        r->result_status = e.http_status;
        if (transport)
            finish_fmt(r, SMNEO_ECREDENTIALS, "profile '%s': the SSO portal at %s: %s", st->profile, r->sts_url,
                       transport_name(transport));
        else if (e.service_code && !strcmp(e.service_code, "UnauthorizedException"))
            finish_fmt(r, SMNEO_ESSOUNAUTHORIZED,
                       "profile '%s': the SSO session has expired or is otherwise invalid (the portal refused its "
                       "token): run `%s`",
                       st->profile, hint);
        else
            finish_fmt(r, SMNEO_ECREDENTIALS, "profile '%s' could not get the SSO role %s: %s: %s", st->profile,
                       st->role_arn, e.service_code ? e.service_code : "error", e.message ? e.message : "");
        smneo_error_clear(&e);
        return -1;
    }
    /* The portal's expiration is in milliseconds. */
    static const char *const names[5] = {"roleCredentials", "accessKeyId", "secretAccessKey", "sessionToken",
                                         "expiration"};
    const char *why = answer_creds(out, smneo__result_root_node(res), names, 1000,
                                   r->role_next == 0 ? "sso" : "assume-role");
    smneo_result_free(res); /* wiped */
    if (why) {
        finish_fmt(r, SMNEO_ECREDENTIALS, "profile '%s' could not get the SSO role %s: %s", st->profile,
                   st->role_arn, why);
        return -1;
    }
    return 0;
}

/* After an STS, SSO or OIDC answer: 1 when it failed in a way botocore's
 * client for that service retries (its retry mode and attempts: connection
 * errors, throttling, 5xx; STS's IDPCommunicationError as _retry.json and
 * retries/special.py add it) and attempts are left. Then the answer is
 * dropped and r->delay_ms holds the backoff before the resend. */
static int retry_due(smneo_chain_resolution *r)
{
    if (!r->pend_op || !r->fed || r->attempt >= r->retry.max_attempts)
        return 0;
    smneo_error e = SMNEO_ERROR_INIT;
    int rc = r->transport_error;
    if (!rc) {
        if (r->resp_status < 300)
            return 0;
        smneo_response *resp = NULL;
        smneo_result *res = NULL;
        rc = fed_response(r, &resp);
        if (rc == 0)
            rc = smneo__protocol_parse_owned(&res, r->pend_op, resp, &e); /* takes resp */
        smneo_result_free(res);
        if (rc == 0 || rc == SMNEO_ENOMEM) {
            smneo_error_clear(&e);
            return 0;
        }
    }
    const char *code = r->transport_error ? NULL : e.service_code;
    int idp = r->pend_sts && code && !strcmp(code, "IDPCommunicationError") &&
              (r->retry.mode != SMNEO__RETRY_LEGACY || e.http_status == 400);
    int retry = idp || smneo__retry_retryable(r->retry.mode, rc, &e, 0);
    if (retry) {
        int throttled = code && smneo__is_throttling(code);
        double d = smneo__retry_backoff(&r->retry, throttled, r->attempt, smneo__jitter(&r->rng), NULL) *
                   (r->retry.backoff_scale > 0 ? r->retry.backoff_scale : 1.0);
        r->delay_ms = (long)(d * 1000);
        const char *why = r->transport_error ? transport_name(r->transport_error) : code ? code : "HTTP error";
        smneo_log(SMNEO_LOG_INFO, "profile '%s': %s attempt %d failed (%s, HTTP %d), retrying in %.3f s",
                  r->roles[r->role_next].profile, r->pend_op->name, r->attempt, why, r->resp_status, d);
        r->attempt++;
        clear_response(r);
    }
    smneo_error_clear(&e);
    return retry;
}

/* roles[role_next] gave c: the next role is signed with it (ST_ASSUME),
 * or the resolution is finished with it (returns 1). */
static int role_assumed(smneo_chain_resolution *r, smneo_credentials *c)
{
    smneo_credentials_free(r->source);
    r->source = NULL;
    if (r->role_next == 0) {
        finish(r, 0, c, NULL);
        return 1;
    }
    r->source = c;
    r->role_next--;
    r->stage = ST_ASSUME;
    return 0;
}

/* A request was handed out: wait for its answer (step returns 1). */
static int await_answer(smneo_chain_resolution *r, int timeout_ms, enum stage next)
{
    r->timeout_ms = timeout_ms;
    r->awaiting = 1;
    r->stage = next;
    return 1;
}

int smneo_chain_resolution_step(smneo_request **req_out, smneo_credentials **creds_out, smneo_chain_resolution *r,
                                smneo_error *err)
{
    if (!r || !req_out || !creds_out)
        return smneo__error(err, SMNEO_EINVAL, "smneo_chain_resolution_step: res, req_out and creds_out are required");
    *req_out = NULL;
    *creds_out = NULL;
    if (r->awaiting)
        return smneo__error(err, SMNEO_EINVAL,
                            "smneo_chain_resolution_step: feed the response of the last request first");
    smneo_credential_chain *ch = r->chain;
    smneo_error e = SMNEO_ERROR_INIT;
    for (;;) {
        switch (r->stage) {
        case ST_DONE:
            return emit(r, creds_out, err);

        case ST_START: {
            pthread_mutex_lock(&ch->lock);
            struct timespec deadline;
            clock_gettime(CLOCK_REALTIME, &deadline);
            deadline.tv_sec += WAIT_FOR_OTHER_S;
            for (;;) {
                int st = cache_state(ch->cached, r->now);
                if (st == 2 || (st == 1 && ch->resolving)) {
                    smneo_credentials *c = NULL;
                    int rc = smneo_credentials_copy(&c, ch->cached);
                    pthread_mutex_unlock(&ch->lock);
                    if (rc)
                        return smneo__error(err, rc, "out of memory");
                    r->stage = ST_DONE;
                    r->result = c;
                    return emit(r, creds_out, err);
                }
                /* Another thread is resolving: wait for it. The same thread
                 * (coroutines driving two machines) must not wait on itself. */
                if (!ch->resolving || pthread_equal(ch->resolver, pthread_self()))
                    break;
                if (pthread_cond_timedwait(&ch->cond, &ch->lock, &deadline) == ETIMEDOUT) {
                    /* The other resolution is stuck or was abandoned
                     * without being freed: take over. */
                    ch->resolving = 0;
                    break;
                }
            }
            if (!ch->resolving) {
                ch->resolving = 1;
                ch->resolver = pthread_self();
                r->registered = 1;
            }
            pthread_mutex_unlock(&ch->lock);
            r->stage = ST_STATIC;
            break;
        }

        case ST_STATIC: {
            smneo_credentials *c = NULL;
            int rc = static_providers(r, &c, &e);
            if (rc)
                return finish_err(r, &e), emit(r, creds_out, err);
            if (c) {
                finish(r, 0, c, NULL);
                return emit(r, creds_out, err);
            }
            if (r->nroles) {
                /* An assumed role: its source credentials are here, or come
                 * from the container or instance metadata providers. */
                r->role_next = r->nroles - 1;
                if (r->source || r->roles[r->nroles - 1].token_file || r->roles[r->nroles - 1].sso) {
                    r->stage = ST_ASSUME; /* a web identity step needs no source */
                } else {
                    r->for_role = 1;
                    r->stage = !strcmp(r->credential_source, "EcsContainer") ? ST_CONTAINER : ST_IMDS;
                }
                break;
            }
            r->stage = ST_CONTAINER;
            break;
        }

        case ST_ASSUME: {
            if (!r->retry_ok) {
                if (chain_retry(&r->retry, ch, &e) != 0)
                    return finish_err(r, &e), emit(r, creds_out, err);
                r->retry_ok = 1;
                r->rng = (uint64_t)smneo__monotonic_ms() ^ (uint64_t)(uintptr_t)r;
            }
            smneo_credentials *cached = role_cache_read(r, &r->roles[r->role_next]);
            if (cached) { /* the AWS CLI's cache has this role: no AssumeRole (and no MFA code) */
                if (role_assumed(r, cached))
                    return emit(r, creds_out, err);
                break;
            }
            int rc = r->roles[r->role_next].sso ? sso_request(r, req_out, &e) : assume_request(r, req_out, &e);
            if (rc)
                return finish_err(r, &e), emit(r, creds_out, err);
            r->attempt = 1;
            r->delay_ms = 0;
            return await_answer(r, STS_TIMEOUT_MS, ST_ASSUME_WAIT);
        }

        case ST_ASSUME_RETRY:
            if (pending_build(r, req_out, &e) != 0) {
                e.code = e.code == SMNEO_ENOMEM ? SMNEO_ENOMEM : SMNEO_ECREDENTIALS;
                return finish_err(r, &e), emit(r, creds_out, err);
            }
            return await_answer(r, STS_TIMEOUT_MS, ST_ASSUME_WAIT);

        case ST_ASSUME_WAIT: {
            if (retry_due(r)) {
                r->stage = ST_ASSUME_RETRY;
                break;
            }
            smneo_credentials *c = NULL;
            int sso = r->roles[r->role_next].sso;
            int got = sso ? sso_answer(r, &c) : assume_answer(r, &c);
            if (got == 2) { /* the SSO token was refreshed: GetRoleCredentials next */
                r->stage = ST_ASSUME;
                break;
            }
            if (got != 0)
                return emit(r, creds_out, err); /* finished with the error */
            if (role_assumed(r, c))
                return emit(r, creds_out, err);
            break;
        }

        case ST_CONTAINER:
            if (!smneo__getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") &&
                !smneo__getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI")) {
                if (r->for_role) {
                    finish_fmt(r, SMNEO_ECREDENTIALS,
                               "profile '%s' (role %s) sets credential_source = EcsContainer, but neither "
                               "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI nor AWS_CONTAINER_CREDENTIALS_FULL_URI is set",
                               r->roles[r->nroles - 1].profile, r->roles[r->nroles - 1].role_arn);
                    return emit(r, creds_out, err);
                }
                look(&r->where, "container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI "
                                "not set)");
                r->stage = ST_IMDS;
                break;
            }
            if (container_request(r, req_out, &e) != 0)
                return finish_err(r, &e), emit(r, creds_out, err);
            return await_answer(r, CONTAINER_TIMEOUT_MS, ST_CONTAINER_WAIT);

        case ST_CONTAINER_WAIT: {
            /* The container URI was configured explicitly: failures are errors. */
            if (r->transport_error) {
                finish_fmt(r, SMNEO_ECREDENTIALS, "container credentials from %s: %s", r->url,
                           transport_name(r->transport_error));
                return emit(r, creds_out, err);
            }
            if (r->resp_status != 200) {
                finish_fmt(r, SMNEO_ECREDENTIALS, "container credentials from %s: HTTP status %d", r->url,
                           r->resp_status);
                return emit(r, creds_out, err);
            }
            smneo_credentials *c = NULL;
            const char *why = NULL;
            if (parse_http_creds(&c, r->resp_body, r->resp_len, "container", r->now, &why) != 0) {
                finish_fmt(r, SMNEO_ECREDENTIALS, "container credentials from %s: %s", r->url, why);
                return emit(r, creds_out, err);
            }
            clear_response(r);
            if (r->for_role) {
                r->source = c;
                r->stage = ST_ASSUME;
                break;
            }
            finish(r, 0, c, NULL);
            return emit(r, creds_out, err);
        }

        case ST_IMDS: {
            const char *dis = getenv("AWS_EC2_METADATA_DISABLED");
            if (dis && !strcasecmp(dis, "true")) {
                look(&r->where, "EC2 instance metadata (disabled by AWS_EC2_METADATA_DISABLED)");
                r->stage = ST_NONE;
                break;
            }
            if (!r->profile)
                r->profile = smneo__strdup(smneo__profile_name(ch->profile));
            if (imds_setup(r, &e) != 0)
                return finish_err(r, &e), emit(r, creds_out, err);
            if (imds_request(r, req_out, "PUT", IMDS_TOKEN_PATH) != 0)
                return finish_fmt(r, SMNEO_ENOMEM, "out of memory"), emit(r, creds_out, err);
            r->stage = ST_IMDS_TOKEN_WAIT;
            return 1;
        }

        case ST_IMDS_TOKEN_WAIT:
            if (imds_resend(r, req_out))
                return 1;
            /* botocore: 200 -> token; 400 -> bad request; connection
             * failures and other statuses -> try IMDSv1. We skip v1 when the
             * host could not be reached at all (it would fail the same way)
             * but try it after a timeout (a hop limit of 1 in a container
             * drops the PUT's answer). */
            if (!r->transport_error && r->resp_status == 200 && r->resp_len > 0 &&
                imds_token_usable(r->resp_body, r->resp_len)) {
                size_t n = r->resp_len;
                while (n && isspace((unsigned char)r->resp_body[n - 1]))
                    n--;
                r->imds_token = smneo__strndup(r->resp_body, n);
                if (!r->imds_token)
                    return finish_fmt(r, SMNEO_ENOMEM, "out of memory"), emit(r, creds_out, err);
            } else if (!r->transport_error && r->resp_status == 400) {
                look(&r->where, "EC2 instance metadata (%s: the token request was refused with HTTP 400)",
                     r->imds_base);
                r->stage = ST_NONE;
                clear_response(r);
                break;
            } else if (r->transport_error && r->transport_error != SMNEO_ETIMEOUT) {
                look(&r->where, "EC2 instance metadata (%s: %s)", r->imds_base, transport_name(r->transport_error));
                r->stage = ST_NONE;
                clear_response(r);
                break;
            } else if (r->imds_v1_disabled) {
                look(&r->where, "EC2 instance metadata (%s: no IMDSv2 token and IMDSv1 is disabled)",
                     r->imds_base);
                r->stage = ST_NONE;
                clear_response(r);
                break;
            }
            clear_response(r);
            r->stage = ST_IMDS_ROLE;
            break;

        case ST_IMDS_ROLE:
            if (imds_request(r, req_out, "GET", IMDS_CREDS_PATH) != 0)
                return finish_fmt(r, SMNEO_ENOMEM, "out of memory"), emit(r, creds_out, err);
            r->stage = ST_IMDS_ROLE_WAIT;
            return 1;

        case ST_IMDS_ROLE_WAIT: {
            if (imds_resend(r, req_out))
                return 1;
            if (r->transport_error || r->resp_status != 200 || r->resp_len == 0) {
                if (r->transport_error)
                    look(&r->where, "EC2 instance metadata (%s: %s)", r->imds_base,
                         transport_name(r->transport_error));
                else if (r->resp_status != 200)
                    look(&r->where, "EC2 instance metadata (%s: no IAM role, HTTP %d)", r->imds_base,
                         r->resp_status);
                else
                    look(&r->where, "EC2 instance metadata (%s: no IAM role attached)", r->imds_base);
                clear_response(r);
                r->stage = ST_NONE;
                break;
            }
            /* The first line is the role name. */
            size_t n = strcspn(r->resp_body, "\r\n");
            while (n && isspace((unsigned char)r->resp_body[n - 1]))
                n--;
            r->role = smneo__strndup(r->resp_body, n);
            clear_response(r);
            if (!r->role)
                return finish_fmt(r, SMNEO_ENOMEM, "out of memory"), emit(r, creds_out, err);
            /* It becomes a path segment: no separators, spaces or control characters. */
            if (!*r->role || strpbrk(r->role, "/?#%\\ ") || !imds_token_usable(r->role, strlen(r->role))) {
                look(&r->where, "EC2 instance metadata (%s: unusable role name)", r->imds_base);
                r->stage = ST_NONE;
                break;
            }
            char *path = smneo__aprintf("%s%s", IMDS_CREDS_PATH, r->role);
            int rc = path ? imds_request(r, req_out, "GET", path) : SMNEO_ENOMEM;
            free(path);
            if (rc)
                return finish_fmt(r, SMNEO_ENOMEM, "out of memory"), emit(r, creds_out, err);
            r->stage = ST_IMDS_CREDS_WAIT;
            return 1;
        }

        case ST_IMDS_CREDS_WAIT: {
            if (imds_resend(r, req_out))
                return 1;
            smneo_credentials *c = NULL;
            const char *why = NULL;
            if (r->transport_error)
                why = transport_name(r->transport_error);
            else if (r->resp_status != 200)
                why = "HTTP error";
            else if (parse_http_creds(&c, r->resp_body, r->resp_len, "imds", r->now, &why) == 0) {
                clear_response(r);
                if (r->for_role) {
                    r->source = c;
                    r->stage = ST_ASSUME;
                    break;
                }
                finish(r, 0, c, NULL);
                return emit(r, creds_out, err);
            }
            if (r->resp_status && r->resp_status != 200)
                look(&r->where, "EC2 instance metadata (%s, role %s: HTTP %d)", r->imds_base, r->role,
                     r->resp_status);
            else
                look(&r->where, "EC2 instance metadata (%s, role %s: %s)", r->imds_base, r->role, why);
            clear_response(r);
            r->stage = ST_NONE;
            break;
        }

        case ST_NONE: {
            const char *w = r->where.b.data ? r->where.b.data : "";
            if (r->for_role) {
                finish_fmt(r, SMNEO_ECREDENTIALS,
                           "profile '%s' (role %s) sets credential_source = %s, which gave no credentials: %s",
                           r->roles[r->nroles - 1].profile, r->roles[r->nroles - 1].role_arn, r->credential_source,
                           w);
                return emit(r, creds_out, err);
            }
            finish_fmt(r, SMNEO_ENOCREDENTIALS,
                       "no AWS credentials found; looked at: %s. Set AWS_ACCESS_KEY_ID and "
                       "AWS_SECRET_ACCESS_KEY, or configure a profile in the shared files",
                       w);
            return emit(r, creds_out, err);
        }
        }
    }
}

int smneo_chain_resolution_feed(smneo_chain_resolution *r, const smneo_response *resp, int transport_error)
{
    if (!r || !r->awaiting)
        return SMNEO_EINVAL;
    if (!resp && transport_error >= 0)
        return SMNEO_EINVAL;
    clear_response(r);
    r->awaiting = 0;
    r->fed = 1;
    if (!resp) {
        r->transport_error = transport_error;
        return 0;
    }
    r->resp_status = resp->status;
    r->resp_error_type = smneo__strdup(smneo_response_header(resp, "x-amzn-ErrorType"));
    r->resp_request_id = smneo__strdup(smneo_response_header(resp, "x-amzn-RequestId"));
    r->resp_body = smneo__strndup(resp->body ? resp->body : "", resp->body ? resp->body_len : 0);
    r->resp_len = resp->body ? resp->body_len : 0;
    if (!r->resp_body) {
        r->resp_len = 0;
        r->transport_error = SMNEO_ENOMEM;
        return SMNEO_ENOMEM;
    }
    return 0;
}

/* ---- blocking convenience --------------------------------------------------- */

int smneo__credential_chain_get(smneo_credentials **out, smneo_credential_chain *chain, smneo_transport *t,
                                smneo__timed_transports *tt, smneo_error *err)
{
    if (!out || !chain)
        return smneo__error(err, SMNEO_EINVAL, "smneo_credential_chain_get: out and chain are required");
    *out = NULL;
    smneo_chain_resolution *r = NULL;
    int rc = smneo_chain_resolution_new(&r, chain, 0);
    if (rc)
        return smneo__error(err, rc, "out of memory");
    for (;;) {
        smneo_request *req = NULL;
        rc = smneo_chain_resolution_step(&req, out, r, err);
        if (rc != 1)
            break;
        long delay = smneo_chain_resolution_delay_ms(r); /* a retry's backoff */
        if (delay > 0)
            smneo__sleep_ms(delay);
        /* No transport given: libcurl ones with the request's timeouts
         * (short for IMDS and the container, STS's for roles). */
        smneo_response *resp = NULL;
        smneo_error terr = SMNEO_ERROR_INIT;
        int trc = t ? smneo_transport_send(&resp, t, req, &terr)
                    : smneo__send_timed(&resp, tt, req, smneo_chain_resolution_timeout_ms(r), &terr);
        smneo_error_clear(&terr);
        smneo_request_free(req);
        if (trc == 0)
            smneo_chain_resolution_feed(r, resp, 0);
        else
            smneo_chain_resolution_feed(r, NULL, trc < 0 ? trc : SMNEO_ECONNECT);
        smneo_response_free(resp);
    }
    smneo_chain_resolution_free(r);
    return rc;
}

int smneo_credential_chain_get(smneo_credentials **out, smneo_credential_chain *chain, smneo_transport *t,
                               smneo_error *err)
{
    smneo__timed_transports *tt = NULL;
    if (!t && smneo__timed_transports_new(&tt))
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    int rc = smneo__credential_chain_get(out, chain, t, tt, err);
    smneo__timed_transports_free(tt);
    return rc;
}
