/* The credential chain: order, shared files, credential_process, unsupported
 * profile kinds, container and IMDSv2 providers driven step by step through
 * the sans-I/O API and against the local test server, the cache and refresh. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "aws_env.h"
#include "harness.h"
#include "httpserver.h"
#include "smneo/auth.h"
#include "smneo/transport.h"

static char *tmp;

static void iso(char *buf, size_t n, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Resolves with no HTTP (the machine must not ask for a request). */
static int resolve_static(smneo_credentials **out, const smneo_chain_options *opts, smneo_error *err)
{
    smneo_credential_chain *chain = NULL;
    *out = NULL;
    int rc = smneo_credential_chain_new(&chain, opts, err);
    if (rc)
        return rc;
    smneo_chain_resolution *r = NULL;
    smneo_chain_resolution_new(&r, chain, 0);
    smneo_request *req = NULL;
    rc = smneo_chain_resolution_step(&req, out, r, err);
    if (rc == 1) {
        fprintf(stderr, "unexpected HTTP request %s %s\n", req->method, req->url);
        smneo_request_free(req);
        rc = -999;
    }
    smneo_chain_resolution_free(r);
    smneo_credential_chain_free(chain);
    return rc;
}

static void base_env(void)
{
    aws_env_reset(tmp);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    aws_remove(tmp, ".aws/config");
    aws_remove(tmp, ".aws/credentials");
}

static void test_explicit_and_env(void)
{
    base_env();
    smneo_credentials *c = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    smneo_chain_options o = SMNEO_CHAIN_OPTIONS_INIT;
    smneo_credential_chain *chain = NULL;

    o.access_key_id = "AKIDONLY";
    CHECK_INT(smneo_credential_chain_new(&chain, &o, &err), SMNEO_EINVAL);
    CHECK(chain == NULL);
    CHECK(err.message && strstr(err.message, "secret_access_key"));
    o.access_key_id = NULL;
    o.session_token = "tok";
    CHECK_INT(smneo_credential_chain_new(&chain, &o, &err), SMNEO_EINVAL);
    o.session_token = NULL;

    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "SECRETENV", 1);
    setenv("AWS_SECURITY_TOKEN", "OLDTOKEN", 1);
    CHECK_INT(resolve_static(&c, &o, &err), 0);
    CHECK_STR(c ? c->access_key_id : NULL, "AKIDENV");
    CHECK_STR(c ? c->secret_access_key : NULL, "SECRETENV");
    CHECK_STR(c ? c->session_token : NULL, "OLDTOKEN");
    CHECK_STR(c ? c->source : NULL, "environment");
    smneo_credentials_free(c);
    setenv("AWS_SESSION_TOKEN", "NEWTOKEN", 1);
    CHECK_INT(resolve_static(&c, &o, &err), 0);
    CHECK_STR(c ? c->session_token : NULL, "NEWTOKEN");
    smneo_credentials_free(c);

    /* Explicit keys beat the environment. */
    o.access_key_id = "AKIDEXPL";
    o.secret_access_key = "SECRETEXPL";
    CHECK_INT(resolve_static(&c, &o, &err), 0);
    CHECK_STR(c ? c->access_key_id : NULL, "AKIDEXPL");
    CHECK(c && c->session_token == NULL);
    CHECK_STR(c ? c->source : NULL, "explicit");
    smneo_credentials_free(c);
    o.access_key_id = o.secret_access_key = NULL;

    /* Half the environment pair is an error, not a fall-through. */
    unsetenv("AWS_SECRET_ACCESS_KEY");
    CHECK_INT(resolve_static(&c, &o, &err), SMNEO_ECREDENTIALS);
    CHECK(err.message && strstr(err.message, "AWS_SECRET_ACCESS_KEY"));
    smneo_error_clear(&err);
    base_env();
}

static void test_files_and_order(void)
{
    base_env();
    smneo_credentials *c = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    smneo_chain_options o = SMNEO_CHAIN_OPTIONS_INIT;
    aws_write(tmp, ".aws/credentials",
              "# keys\n[default]\naws_access_key_id = AKIDCREDFILE\naws_secret_access_key = SECRETCRED\n"
              "aws_session_token = TOKCRED\n"
              "[dev]\n  aws_access_key_id=AKIDDEV\n  aws_secret_access_key=SECRETDEV\n"
              "[half]\naws_access_key_id = AKIDHALF\n");
    aws_write(tmp, ".aws/config",
              "[default]\naws_access_key_id = AKIDCONFIG\naws_secret_access_key = SECRETCONFIG\n"
              "[profile cfgonly]\naws_access_key_id = AKIDCFGONLY\naws_secret_access_key = SECRETCFGONLY\n"
              "[profile half]\nregion = us-east-1\n");
    CHECK_INT(resolve_static(&c, &o, &err), 0);
    CHECK_STR(c ? c->access_key_id : NULL, "AKIDCREDFILE");
    CHECK_STR(c ? c->session_token : NULL, "TOKCRED");
    CHECK_STR(c ? c->source : NULL, "shared-credentials-file");
    smneo_credentials_free(c);

    /* Environment beats files. */
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "SECRETENV", 1);
    CHECK_INT(resolve_static(&c, &o, &err), 0);
    CHECK_STR(c ? c->access_key_id : NULL, "AKIDENV");
    smneo_credentials_free(c);
    /* AWS_PROFILE does not beat environment keys (botocore)... */
    setenv("AWS_PROFILE", "dev", 1);
    CHECK_INT(resolve_static(&c, &o, &err), 0);
    CHECK_STR(c ? c->access_key_id : NULL, "AKIDENV");
    smneo_credentials_free(c);
    /* ...an explicitly named profile does. */
    o.profile = "dev";
    unsetenv("AWS_PROFILE");
    CHECK_INT(resolve_static(&c, &o, &err), 0);
    CHECK_STR(c ? c->access_key_id : NULL, "AKIDDEV");
    CHECK(c && c->session_token == NULL);
    smneo_credentials_free(c);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    o.profile = NULL;

    /* AWS_PROFILE picks the profile; config-file keys work. */
    setenv("AWS_PROFILE", "cfgonly", 1);
    CHECK_INT(resolve_static(&c, &o, &err), 0);
    CHECK_STR(c ? c->access_key_id : NULL, "AKIDCFGONLY");
    CHECK_STR(c ? c->source : NULL, "config-file");
    smneo_credentials_free(c);
    unsetenv("AWS_PROFILE");

    /* A half-configured profile is an error naming the missing key. */
    o.profile = "half";
    CHECK_INT(resolve_static(&c, &o, &err), SMNEO_ECREDENTIALS);
    CHECK(err.message && strstr(err.message, "'half'") && strstr(err.message, "aws_secret_access_key"));
    smneo_error_clear(&err);

    /* A named profile that does not exist: error naming it and the files. */
    o.profile = "nosuch";
    CHECK_INT(resolve_static(&c, &o, &err), SMNEO_ECREDENTIALS);
    CHECK(err.message && strstr(err.message, "'nosuch'"));
    CHECK(err.message && strstr(err.message, "/.aws/credentials") && strstr(err.message, "/.aws/config"));
    smneo_error_clear(&err);
    o.profile = NULL;
    setenv("AWS_PROFILE", "nosuch2", 1);
    CHECK_INT(resolve_static(&c, &o, &err), SMNEO_ECREDENTIALS);
    CHECK(err.message && strstr(err.message, "'nosuch2'") && strstr(err.message, "AWS_PROFILE"));
    smneo_error_clear(&err);
    unsetenv("AWS_PROFILE");

    /* The credentials file path comes from AWS_SHARED_CREDENTIALS_FILE. */
    setenv("AWS_SHARED_CREDENTIALS_FILE",
           aws_write(tmp, "alt-credentials", "[default]\naws_access_key_id=AKIDALT\naws_secret_access_key=S\n"), 1);
    CHECK_INT(resolve_static(&c, &o, &err), 0);
    CHECK_STR(c ? c->access_key_id : NULL, "AKIDALT");
    smneo_credentials_free(c);
    /* Missing credentials file: the config file's keys are next. */
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/smneo/credentials", 1);
    CHECK_INT(resolve_static(&c, &o, &err), 0);
    CHECK_STR(c ? c->access_key_id : NULL, "AKIDCONFIG");
    smneo_credentials_free(c);
    base_env();
}

static const char *write_script(const char *name, const char *body)
{
    const char *p = aws_write(tmp, name, body);
    chmod(p, 0700);
    return p;
}

static void test_credential_process(void)
{
    base_env();
    smneo_credentials *c = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    smneo_chain_options o = SMNEO_CHAIN_OPTIONS_INIT;
    int64_t exp = (int64_t)time(NULL) + 3600;
    char when[64], script[512], cfg[8192];
    iso(when, sizeof when, exp);
    snprintf(script, sizeof script,
             "#!/bin/sh\n"
             "# arguments arrive split as a shell would, without a shell\n"
             "[ \"$1\" = \"two words\" ] || exit 7\n"
             "echo '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC\", \"SecretAccessKey\": \"SECRETPROC\",'\n"
             "echo ' \"SessionToken\": \"TOKPROC\", \"Expiration\": \"%s\"}'\n",
             when);
    write_script("proc-ok.sh", script);
    write_script("proc-fail.sh", "#!/bin/sh\necho '{\"AccessKeyId\":\"AKIDLEAK\",\"SecretAccessKey\":\"SECRETLEAK\"}'\n"
                                 "echo 'token expired, run login' >&2\nexit 3\n");
    write_script("proc-v2.sh", "#!/bin/sh\necho '{\"Version\": 2, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"S\"}'\n");
    write_script("proc-nojson.sh", "#!/bin/sh\necho 'SECRETTEXT not json'\n");
    write_script("proc-twice.sh", "#!/bin/sh\necho '{\"Version\": 1, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"S\"}'\n"
                                  "echo '{\"Version\": 1, \"AccessKeyId\": \"B\", \"SecretAccessKey\": \"T\"}'\n");
    write_script("proc-badexp.sh", "#!/bin/sh\necho '{\"Version\": 1, \"AccessKeyId\": \"A\", \"SecretAccessKey\": "
                                   "\"S\", \"Expiration\": \"tomorrow\"}'\n");
    snprintf(cfg, sizeof cfg,
             "[default]\ncredential_process = %s/proc-ok.sh \"two words\"\n"
             "aws_access_key_id = AKIDCONFIG\naws_secret_access_key = SECRETCONFIG\n"
             "[profile fail]\ncredential_process = %s/proc-fail.sh\n"
             "[profile v2]\ncredential_process = %s/proc-v2.sh\n"
             "[profile nojson]\ncredential_process = %s/proc-nojson.sh\n"
             "[profile twice]\ncredential_process = %s/proc-twice.sh\n"
             "[profile badexp]\ncredential_process = %s/proc-badexp.sh\n"
             "[profile missing]\ncredential_process = %s/does-not-exist --flag\n"
             "[profile quote]\ncredential_process = %s/proc-ok.sh 'unterminated\n",
             tmp, tmp, tmp, tmp, tmp, tmp, tmp, tmp);
    aws_write(tmp, ".aws/config", cfg);
    /* credential_process comes before the config file's keys (botocore). */
    CHECK_INT(resolve_static(&c, &o, &err), 0);
    CHECK_STR(c ? c->access_key_id : NULL, "AKIDPROC");
    CHECK_STR(c ? c->secret_access_key : NULL, "SECRETPROC");
    CHECK_STR(c ? c->session_token : NULL, "TOKPROC");
    CHECK_INT(c ? c->expiration : 0, exp);
    CHECK_STR(c ? c->source : NULL, "credential_process");
    smneo_credentials_free(c);
    /* ...but after the credentials file. */
    aws_write(tmp, ".aws/credentials", "[default]\naws_access_key_id = AKIDCRED\naws_secret_access_key = S\n");
    CHECK_INT(resolve_static(&c, &o, &err), 0);
    CHECK_STR(c ? c->access_key_id : NULL, "AKIDCRED");
    smneo_credentials_free(c);
    aws_remove(tmp, ".aws/credentials");

    o.profile = "fail";
    CHECK_INT(resolve_static(&c, &o, &err), SMNEO_ECREDENTIALS);
    CHECK(err.message && strstr(err.message, "'fail'") && strstr(err.message, "status 3"));
    CHECK(err.message && strstr(err.message, "token expired"));
    CHECK(err.message && !strstr(err.message, "SECRETLEAK") && !strstr(err.message, "AKIDLEAK"));
    smneo_error_clear(&err);
    o.profile = "v2";
    CHECK_INT(resolve_static(&c, &o, &err), SMNEO_ECREDENTIALS);
    CHECK(err.message && strstr(err.message, "Version"));
    smneo_error_clear(&err);
    o.profile = "nojson";
    CHECK_INT(resolve_static(&c, &o, &err), SMNEO_ECREDENTIALS);
    CHECK(err.message && strstr(err.message, "JSON") && !strstr(err.message, "SECRETTEXT"));
    smneo_error_clear(&err);
    o.profile = "twice"; /* text after the object: refused, as json.loads does */
    CHECK_INT(resolve_static(&c, &o, &err), SMNEO_ECREDENTIALS);
    CHECK(err.message && strstr(err.message, "text after it"));
    smneo_error_clear(&err);
    o.profile = "badexp";
    CHECK_INT(resolve_static(&c, &o, &err), SMNEO_ECREDENTIALS);
    CHECK(err.message && strstr(err.message, "Expiration"));
    smneo_error_clear(&err);
    o.profile = "missing";
    CHECK_INT(resolve_static(&c, &o, &err), SMNEO_ECREDENTIALS);
    CHECK(err.message && strstr(err.message, "'missing'") && strstr(err.message, "does-not-exist"));
    smneo_error_clear(&err);
    o.profile = "quote";
    CHECK_INT(resolve_static(&c, &o, &err), SMNEO_ECREDENTIALS);
    CHECK(err.message && strstr(err.message, "quote"));
    smneo_error_clear(&err);
    base_env();
}

/* A host whose SIGCHLD handler reaps every child (an nginx worker does:
 * waitpid(-1) in its handler) does not take the program's exit status first;
 * the program starts with the caller's signal mask (SIGCHLD not blocked in
 * it, or it exits 9), and the caller's mask is restored. */
static volatile sig_atomic_t host_reaped;
static void host_sigchld(int sig)
{
    (void)sig;
    int saved = errno;
    while (waitpid(-1, NULL, WNOHANG) > 0)
        host_reaped++;
    errno = saved;
}

static void test_credential_process_reaping_host(void)
{
    base_env();
    write_script("proc-mask.sh", "#!/bin/sh\n"
                                 "blk=$(sed -n 's/^SigBlk:[[:space:]]*//p' /proc/$$/status)\n"
                                 "[ $((0x$blk & 0x10000)) = 0 ] || exit 9\n"
                                 "echo '{\"Version\": 1, \"AccessKeyId\": \"AKIDHOST\", \"SecretAccessKey\": \"S\"}'\n");
    char cfg[1024];
    snprintf(cfg, sizeof cfg, "[profile host]\ncredential_process = %s/proc-mask.sh\n", tmp);
    aws_write(tmp, ".aws/config", cfg);
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = host_sigchld;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, &old);
    smneo_credentials *c = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    smneo_chain_options o = SMNEO_CHAIN_OPTIONS_INIT;
    o.profile = "host";
    for (int i = 0; i < 3; i++) {
        CHECK_INT(resolve_static(&c, &o, &err), 0);
        CHECK_MSG(c && !strcmp(c->access_key_id, "AKIDHOST"), "%s", err.message ? err.message : "(no credentials)");
        smneo_credentials_free(c);
        c = NULL;
        smneo_error_clear(&err);
    }
    sigset_t now;
    pthread_sigmask(SIG_SETMASK, NULL, &now);
    CHECK(!sigismember(&now, SIGCHLD));
    CHECK_INT(host_reaped, 0); /* the handler ran and found nothing to reap */
    sigaction(SIGCHLD, &old, NULL);
    base_env();
}

/* SMNEO_CREDENTIAL_PROCESS_TIMEOUT: a hung process is an error, killed with
 * its children and reaped; 0 waits as botocore does. */
static void test_credential_process_timeout(void)
{
    base_env();
    smneo_credentials *c = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    smneo_chain_options o = SMNEO_CHAIN_OPTIONS_INIT;
    char cfg[4096], pidfile[512];
    snprintf(pidfile, sizeof pidfile, "%s/grandchild.pid", tmp);
    /* Prints a secret, then a shell child sleeps with the pipes open. */
    write_script("proc-hang.sh", "#!/bin/sh\necho '{\"Version\": 1, \"AccessKeyId\": \"AKIDHANG\", "
                                 "\"SecretAccessKey\": \"SECRETHANG\",'\necho 'oops' >&2\n"
                                 "sleep 300 &\necho $! > \"$1\"\nwait\n");
    write_script("proc-closed.sh", "#!/bin/sh\nexec >&- 2>&-\nsleep 300\n");
    write_script("proc-chatty.sh", "#!/bin/sh\nhead -c 3000000 /dev/zero >&2\n"
                                   "echo '{\"Version\": 1, \"AccessKeyId\": \"AKIDCHATTY\", \"SecretAccessKey\": \"S\"}'\n");
    write_script("proc-slow.sh", "#!/bin/sh\nsleep 2\n"
                                 "echo '{\"Version\": 1, \"AccessKeyId\": \"AKIDSLOW\", \"SecretAccessKey\": \"S\"}'\n");
    snprintf(cfg, sizeof cfg,
             "[profile sleepy]\ncredential_process = sleep 300\n"
             "[profile hang]\ncredential_process = %s/proc-hang.sh %s\n"
             "[profile closed]\ncredential_process = %s/proc-closed.sh\n"
             "[profile chatty]\ncredential_process = %s/proc-chatty.sh\n"
             "[profile slow]\ncredential_process = %s/proc-slow.sh\n",
             tmp, pidfile, tmp, tmp, tmp);
    aws_write(tmp, ".aws/config", cfg);

    setenv("SMNEO_CREDENTIAL_PROCESS_TIMEOUT", "1", 1);
    const char *hung[] = {"sleepy", "hang", "closed"};
    for (int i = 0; i < 3; i++) {
        o.profile = hung[i];
        CHECK_INT(resolve_static(&c, &o, &err), SMNEO_ECREDENTIALS);
        CHECK_MSG(err.message && strstr(err.message, hung[i]) && strstr(err.message, "1 seconds") &&
                      strstr(err.message, "SMNEO_CREDENTIAL_PROCESS_TIMEOUT"),
                  "%s", err.message ? err.message : "(null)");
        CHECK(err.message && !strstr(err.message, "SECRETHANG") && !strstr(err.message, "AKIDHANG") &&
              !strstr(err.message, "oops"));
        CHECK(c == NULL);
        smneo_error_clear(&err);
        /* Reaped: this test process has no child left (no zombie). */
        CHECK(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD);
    }
    /* The shell's own child (same process group) was killed too, unless
     * this test runs in the foreground of a terminal, where the process
     * stays in the caller's group so it can prompt. */
    int fg_tty = 0, tty = open("/dev/tty", O_RDONLY | O_NOCTTY);
    if (tty >= 0) {
        fg_tty = tcgetpgrp(tty) == getpgrp();
        close(tty);
    }
    FILE *f = fopen(pidfile, "r");
    long gpid = 0;
    CHECK(f && fscanf(f, "%ld", &gpid) == 1 && gpid > 1);
    if (f)
        fclose(f);
    int gone = 0;
    if (fg_tty) {
        kill((pid_t)gpid, SIGKILL);
        gone = 1;
    }
    for (int i = 0; i < 200 && gpid > 1 && !gone; i++) { /* up to 20 s for init to reap it */
        gone = kill((pid_t)gpid, 0) != 0 && errno == ESRCH;
        if (!gone)
            usleep(100000);
    }
    CHECK_MSG(gone, "the sleeping grandchild %ld survived the timeout", gpid);

    /* A megabyte-plus of stderr neither blocks the process nor smneo. */
    o.profile = "chatty";
    CHECK_INT(resolve_static(&c, &o, &err), 0);
    CHECK_STR(c ? c->access_key_id : NULL, "AKIDCHATTY");
    smneo_credentials_free(c);
    c = NULL;

    /* 0: no timeout (botocore): a process slower than 1 s still answers. */
    setenv("SMNEO_CREDENTIAL_PROCESS_TIMEOUT", "0", 1);
    o.profile = "slow";
    CHECK_INT(resolve_static(&c, &o, &err), 0);
    CHECK_STR(c ? c->access_key_id : NULL, "AKIDSLOW");
    smneo_credentials_free(c);
    c = NULL;

    /* A bad value names the variable. */
    const char *bad[] = {"abc", "-1", "1.5", "86401", "99999999999999999999"};
    for (int i = 0; i < 5; i++) {
        setenv("SMNEO_CREDENTIAL_PROCESS_TIMEOUT", bad[i], 1);
        CHECK_INT(resolve_static(&c, &o, &err), SMNEO_ECREDENTIALS);
        CHECK_MSG(err.message && strstr(err.message, "SMNEO_CREDENTIAL_PROCESS_TIMEOUT") &&
                      strstr(err.message, "whole number of seconds"),
                  "%s", err.message ? err.message : "(null)");
        smneo_error_clear(&err);
    }
    unsetenv("SMNEO_CREDENTIAL_PROCESS_TIMEOUT");
    base_env();
}

static void test_unsupported_profiles(void)
{
    base_env();
    smneo_credentials *c = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    smneo_chain_options o = SMNEO_CHAIN_OPTIONS_INIT;
    /* (Assumed roles, web identity and SSO are supported: tests/core/
     * test_assume_role.c.) A login session (aws login) is refused, also as
     * the source_profile of a role, naming the profile. */
    aws_write(tmp, ".aws/config",
              "[profile login]\nlogin_session = arn:aws:iam::1:user/u\nregion = us-east-1\n"
              "[profile rolelogin]\nrole_arn = arn:aws:iam::1:role/z\nsource_profile = login\n");
    /* Even with IMDS enabled, no request is made: never a silent fall-through. */
    unsetenv("AWS_EC2_METADATA_DISABLED");
    const char *profiles[] = {"login", "rolelogin"};
    for (int i = 0; i < 2; i++) {
        o.profile = profiles[i];
        CHECK_INT(resolve_static(&c, &o, &err), SMNEO_EUNSUPPORTED);
        CHECK_MSG(err.message && strstr(err.message, profiles[i]) && strstr(err.message, "login_session"), "%s",
                  err.message ? err.message : "(null)");
        smneo_error_clear(&err);
    }
    base_env();
}

static void test_no_credentials(void)
{
    base_env();
    smneo_credentials *c = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    smneo_chain_options o = SMNEO_CHAIN_OPTIONS_INIT;
    CHECK_INT(resolve_static(&c, &o, &err), SMNEO_ENOCREDENTIALS);
    CHECK(c == NULL);
    CHECK_INT(err.code, SMNEO_ENOCREDENTIALS);
    const char *m = err.message ? err.message : "";
    CHECK(strstr(m, "environment"));
    CHECK(strstr(m, "profile 'default'"));
    CHECK(strstr(m, "/.aws/credentials"));
    CHECK(strstr(m, "/.aws/config"));
    CHECK(strstr(m, "container"));
    CHECK(strstr(m, "AWS_EC2_METADATA_DISABLED"));
    smneo_error_clear(&err);
    /* The blocking convenience with no transport gives the same answer
     * without any I/O. */
    smneo_credential_chain *chain = NULL;
    CHECK_INT(smneo_credential_chain_new(&chain, NULL, &err), 0);
    CHECK_INT(smneo_credential_chain_get(&c, chain, NULL, &err), SMNEO_ENOCREDENTIALS);
    smneo_error_clear(&err);
    smneo_credential_chain_free(chain);
}

/* ---- step-driven HTTP providers ------------------------------------------------ */

static smneo_response *response(int status, const char *body)
{
    smneo_response *r = NULL;
    smneo_response_new(&r, status);
    if (body)
        smneo_response_append_body(r, body, strlen(body));
    return r;
}

static void feed(smneo_chain_resolution *r, int status, const char *body)
{
    smneo_response *resp = response(status, body);
    CHECK_INT(smneo_chain_resolution_feed(r, resp, 0), 0);
    smneo_response_free(resp);
}

static char creds_json[512];

static const char *make_creds_json(const char *ak, int64_t exp)
{
    char when[64];
    iso(when, sizeof when, exp);
    snprintf(creds_json, sizeof creds_json,
             "{\"Code\": \"Success\", \"LastUpdated\": \"2026-01-01T00:00:00Z\", \"Type\": \"AWS-HMAC\", "
             "\"AccessKeyId\": \"%s\", \"SecretAccessKey\": \"SECRET-%s\", \"Token\": \"TOKEN-%s\", "
             "\"Expiration\": \"%s\"}",
             ak, ak, ak, when);
    return creds_json;
}

static void test_container_steps(void)
{
    base_env();
    int64_t now = (int64_t)time(NULL), exp = now + 6 * 3600;
    smneo_credential_chain *chain = NULL;
    smneo_chain_resolution *r = NULL;
    smneo_request *req = NULL;
    smneo_credentials *c = NULL;
    smneo_error err = SMNEO_ERROR_INIT;

    setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc", 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Basic dG9rZW4=", 1);
    smneo_credential_chain_new(&chain, NULL, NULL);
    smneo_chain_resolution_new(&r, chain, now);
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), 1);
    CHECK_STR(req ? req->method : NULL, "GET");
    CHECK_STR(req ? req->url : NULL, "http://169.254.170.2/v2/credentials/abc");
    CHECK_STR(smneo_request_header(req, "Authorization"), "Basic dG9rZW4=");
    CHECK_STR(smneo_request_header(req, "Accept"), "application/json");
    CHECK_INT(smneo_chain_resolution_timeout_ms(r), 2000);
    /* Stepping again before feeding is refused. */
    smneo_request *req2 = NULL;
    CHECK_INT(smneo_chain_resolution_step(&req2, &c, r, &err), SMNEO_EINVAL);
    smneo_error_clear(&err);
    smneo_request_free(req);
    feed(r, 200, make_creds_json("AKIDCONTAINER", exp));
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), 0);
    CHECK_STR(c ? c->access_key_id : NULL, "AKIDCONTAINER");
    CHECK_STR(c ? c->secret_access_key : NULL, "SECRET-AKIDCONTAINER");
    CHECK_STR(c ? c->session_token : NULL, "TOKEN-AKIDCONTAINER");
    CHECK_INT(c ? c->expiration : 0, exp);
    CHECK_STR(c ? c->source : NULL, "container");
    smneo_credentials_free(c);
    smneo_chain_resolution_free(r);
    smneo_credential_chain_free(chain);
    unsetenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");

    /* Full URI with the token from a file (a trailing newline is trimmed). */
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:8080/creds", 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", aws_write(tmp, "token", "file-token\n"), 1);
    smneo_credential_chain_new(&chain, NULL, NULL);
    smneo_chain_resolution_new(&r, chain, now);
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), 1);
    CHECK_STR(req ? req->url : NULL, "http://127.0.0.1:8080/creds");
    CHECK_STR(smneo_request_header(req, "Authorization"), "file-token");
    smneo_request_free(req);
    /* An explicitly configured container endpoint that fails is an error. */
    feed(r, 500, "oops");
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), SMNEO_ECREDENTIALS);
    CHECK(err.message && strstr(err.message, "500") && strstr(err.message, "127.0.0.1:8080"));
    smneo_error_clear(&err);
    smneo_chain_resolution_free(r);
    smneo_chain_resolution_new(&r, chain, now);
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), 1);
    smneo_request_free(req);
    CHECK_INT(smneo_chain_resolution_feed(r, NULL, SMNEO_ECONNECT), 0);
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), SMNEO_ECREDENTIALS);
    CHECK(err.message && strstr(err.message, "connection failed"));
    smneo_error_clear(&err);
    smneo_chain_resolution_free(r);
    /* A connection closed before the answer: the same error, its own words. */
    smneo_chain_resolution_new(&r, chain, now);
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), 1);
    smneo_request_free(req);
    CHECK_INT(smneo_chain_resolution_feed(r, NULL, SMNEO_ECLOSED), 0);
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), SMNEO_ECREDENTIALS);
    CHECK(err.message && strstr(err.message, "connection closed"));
    smneo_error_clear(&err);
    smneo_chain_resolution_free(r);
    smneo_credential_chain_free(chain);

    /* Plain http to a non-loopback host is refused; https is fine. */
    unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    const char *bad[] = {"http://example.com/creds", "http://10.0.0.1/x", "http://0127.0.0.1/x",
                         "http://127.0.0.1.evil.com/x", "http://127.0.0.256/x"};
    for (int i = 0; i < 5; i++) {
        setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", bad[i], 1);
        smneo_credential_chain_new(&chain, NULL, NULL);
        smneo_chain_resolution_new(&r, chain, now);
        CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), SMNEO_ECREDENTIALS);
        CHECK(err.message && strstr(err.message, "not allowed"));
        smneo_error_clear(&err);
        smneo_chain_resolution_free(r);
        smneo_credential_chain_free(chain);
    }
    /* User information is refused (it would go out in the Host header),
     * loopback or not, and the message never quotes it. */
    const char *userinfo[] = {"http://user@evil.com:80/", "http://alice:Pw0rdX@127.0.0.1:9/creds",
                              "https://alice:Pw0rdX@example.com/creds", "ftp://alice:Pw0rdX@127.0.0.1/"};
    for (int i = 0; i < 4; i++) {
        setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", userinfo[i], 1);
        smneo_credential_chain_new(&chain, NULL, NULL);
        smneo_chain_resolution_new(&r, chain, now);
        CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), SMNEO_ECREDENTIALS);
        CHECK_MSG(err.message && strstr(err.message, "user information") &&
                      strstr(err.message, "AWS_CONTAINER_CREDENTIALS_FULL_URI") && !strstr(err.message, "Pw0rdX") &&
                      !strstr(err.message, "alice") && !strstr(err.message, "user@"),
                  "%s: %s", userinfo[i], err.message ? err.message : "(null)");
        smneo_error_clear(&err);
        smneo_chain_resolution_free(r);
        smneo_credential_chain_free(chain);
    }
    const char *good[] = {"https://example.com/creds", "http://localhost:9/x", "http://[::1]:9/x",
                          "http://169.254.170.23/v1/credentials", "http://127.1.2.3/x"};
    for (int i = 0; i < 5; i++) {
        setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", good[i], 1);
        smneo_credential_chain_new(&chain, NULL, NULL);
        smneo_chain_resolution_new(&r, chain, now);
        CHECK_MSG(smneo_chain_resolution_step(&req, &c, r, &err) == 1, "%s refused", good[i]);
        CHECK(req && req->header_count == 1); /* Accept only: no Authorization without a token */
        smneo_request_free(req);
        smneo_error_clear(&err);
        smneo_chain_resolution_free(r);
        smneo_credential_chain_free(chain);
    }
    base_env();
}

/* Which sources read a profile (the CLI's whoami names the profile beside them). */
static void test_source_from_profile(void)
{
    static const char *const yes[] = {"shared-credentials-file", "config-file", "credential_process",
                                      "assume-role", "web-identity", "sso"};
    static const char *const no[] = {"explicit", "environment", "container", "imds", "ec2-credentials-file",
                                     "boto-config", "", "SSO"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        CHECK_INT(smneo_credential_source_from_profile(yes[i]), 1);
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        CHECK_INT(smneo_credential_source_from_profile(no[i]), 0);
    CHECK_INT(smneo_credential_source_from_profile(NULL), 0);
}

/* botocore's metadata_service_timeout and metadata_service_num_attempts:
 * the request timeout, and a 5xx or transport failure sent again while
 * attempts remain (one attempt by default). */
static void test_imds_attempts(void)
{
    base_env();
    unsetenv("AWS_EC2_METADATA_DISABLED");
    setenv("AWS_METADATA_SERVICE_TIMEOUT", "3", 1);
    setenv("AWS_METADATA_SERVICE_NUM_ATTEMPTS", "2", 1);
    int64_t now = (int64_t)time(NULL), exp = now + 6 * 3600;
    smneo_credential_chain *chain = NULL;
    smneo_chain_resolution *r = NULL;
    smneo_request *req = NULL;
    smneo_credentials *c = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    smneo_credential_chain_new(&chain, NULL, NULL);
    smneo_chain_resolution_new(&r, chain, now);
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), 1);
    CHECK_INT(smneo_chain_resolution_timeout_ms(r), 3000);
    smneo_request_free(req);
    feed(r, 200, "TOKEN123");
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), 1);
    smneo_request_free(req);
    feed(r, 503, "busy");
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), 1); /* the same GET again */
    CHECK_STR(req ? req->url : NULL, "http://169.254.169.254/latest/meta-data/iam/security-credentials/");
    smneo_request_free(req);
    feed(r, 200, "my-role");
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), 1);
    smneo_request_free(req);
    smneo_chain_resolution_feed(r, NULL, SMNEO_ECONNECT);
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), 1);
    CHECK_STR(req ? req->url : NULL, "http://169.254.169.254/latest/meta-data/iam/security-credentials/my-role");
    smneo_request_free(req);
    feed(r, 200, make_creds_json("AKIDIMDS", exp));
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), 0);
    CHECK_STR(c ? c->access_key_id : NULL, "AKIDIMDS");
    smneo_credentials_free(c);
    smneo_chain_resolution_free(r);
    smneo_credential_chain_free(chain);

    /* One attempt (the default): the 503 ends the IMDS provider. */
    unsetenv("AWS_METADATA_SERVICE_NUM_ATTEMPTS");
    chain = NULL;
    smneo_credential_chain_new(&chain, NULL, NULL);
    smneo_chain_resolution_new(&r, chain, now);
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), 1);
    smneo_request_free(req);
    feed(r, 200, "TOKEN123");
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), 1);
    smneo_request_free(req);
    feed(r, 503, "busy");
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), SMNEO_ENOCREDENTIALS);
    smneo_error_clear(&err);
    smneo_chain_resolution_free(r);
    smneo_credential_chain_free(chain);

    /* A bad value is named. */
    setenv("AWS_METADATA_SERVICE_TIMEOUT", "soon", 1);
    chain = NULL;
    smneo_credential_chain_new(&chain, NULL, NULL);
    smneo_chain_resolution_new(&r, chain, now);
    CHECK(smneo_chain_resolution_step(&req, &c, r, &err) < 0);
    CHECK(err.message && strstr(err.message, "AWS_METADATA_SERVICE_TIMEOUT"));
    smneo_error_clear(&err);
    smneo_chain_resolution_free(r);
    smneo_credential_chain_free(chain);
    unsetenv("AWS_METADATA_SERVICE_TIMEOUT");
}

/* Walks IMDSv2 with canned answers; returns the credentials. */
static void test_imds_steps(void)
{
    base_env();
    unsetenv("AWS_EC2_METADATA_DISABLED");
    int64_t now = (int64_t)time(NULL), exp = now + 6 * 3600;
    smneo_credential_chain *chain = NULL;
    smneo_chain_resolution *r = NULL;
    smneo_request *req = NULL;
    smneo_credentials *c = NULL;
    smneo_error err = SMNEO_ERROR_INIT;

    smneo_credential_chain_new(&chain, NULL, NULL);
    smneo_chain_resolution_new(&r, chain, now);
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), 1);
    CHECK_STR(req ? req->method : NULL, "PUT");
    CHECK_STR(req ? req->url : NULL, "http://169.254.169.254/latest/api/token");
    CHECK_STR(smneo_request_header(req, "X-aws-ec2-metadata-token-ttl-seconds"), "21600");
    CHECK_INT(smneo_chain_resolution_timeout_ms(r), 1000);
    smneo_request_free(req);
    feed(r, 200, "TOKEN123\n");
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), 1);
    CHECK_STR(req ? req->method : NULL, "GET");
    CHECK_STR(req ? req->url : NULL, "http://169.254.169.254/latest/meta-data/iam/security-credentials/");
    CHECK_STR(smneo_request_header(req, "X-aws-ec2-metadata-token"), "TOKEN123");
    smneo_request_free(req);
    feed(r, 200, "my-role\n");
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), 1);
    CHECK_STR(req ? req->url : NULL, "http://169.254.169.254/latest/meta-data/iam/security-credentials/my-role");
    CHECK_STR(smneo_request_header(req, "X-aws-ec2-metadata-token"), "TOKEN123");
    smneo_request_free(req);
    feed(r, 200, make_creds_json("AKIDIMDS", exp));
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), 0);
    CHECK_STR(c ? c->access_key_id : NULL, "AKIDIMDS");
    CHECK_STR(c ? c->session_token : NULL, "TOKEN-AKIDIMDS");
    CHECK_INT(c ? c->expiration : 0, exp);
    CHECK_STR(c ? c->source : NULL, "imds");
    smneo_credentials_free(c);
    /* Stepping a finished machine repeats its answer. */
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), 0);
    smneo_credentials_free(c);
    smneo_chain_resolution_free(r);

    /* Cached: a new resolution asks for nothing. */
    smneo_chain_resolution_new(&r, chain, now + 60);
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), 0);
    CHECK_STR(c ? c->access_key_id : NULL, "AKIDIMDS");
    smneo_credentials_free(c);
    smneo_chain_resolution_free(r);

    /* Within 5 minutes of expiry: refreshed. */
    smneo_chain_resolution_new(&r, chain, exp - 200);
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), 1);
    CHECK_STR(req ? req->method : NULL, "PUT");
    smneo_request_free(req);
    feed(r, 200, "TOKEN2");
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), 1);
    smneo_request_free(req);
    feed(r, 200, "my-role");
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), 1);
    smneo_request_free(req);
    feed(r, 200, make_creds_json("AKIDREFRESHED", exp + 6 * 3600));
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), 0);
    CHECK_STR(c ? c->access_key_id : NULL, "AKIDREFRESHED");
    smneo_credentials_free(c);
    smneo_chain_resolution_free(r);

    /* A failed refresh inside the advisory window keeps the old credentials... */
    int64_t exp2 = exp + 6 * 3600;
    smneo_chain_resolution_new(&r, chain, exp2 - 200);
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), 1);
    smneo_request_free(req);
    smneo_chain_resolution_feed(r, NULL, SMNEO_ECONNECT);
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), 0);
    CHECK_STR(c ? c->access_key_id : NULL, "AKIDREFRESHED");
    smneo_credentials_free(c);
    smneo_chain_resolution_free(r);
    /* ...but not within a minute of expiry. */
    smneo_chain_resolution_new(&r, chain, exp2 - 30);
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), 1);
    smneo_request_free(req);
    smneo_chain_resolution_feed(r, NULL, SMNEO_ECONNECT);
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), SMNEO_ENOCREDENTIALS);
    CHECK(err.message && strstr(err.message, "EC2 instance metadata") && strstr(err.message, "connection failed"));
    smneo_error_clear(&err);
    smneo_chain_resolution_free(r);
    smneo_credential_chain_free(chain);

    /* IMDSv1 fallback when the token PUT is refused (403), custom endpoint. */
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1234/", 1);
    smneo_credential_chain_new(&chain, NULL, NULL);
    smneo_chain_resolution_new(&r, chain, now);
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), 1);
    CHECK_STR(req ? req->url : NULL, "http://127.0.0.1:1234/latest/api/token");
    smneo_request_free(req);
    feed(r, 403, "");
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), 1);
    CHECK_STR(req ? req->method : NULL, "GET");
    CHECK(smneo_request_header(req, "X-aws-ec2-metadata-token") == NULL);
    smneo_request_free(req);
    feed(r, 404, "");
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), SMNEO_ENOCREDENTIALS);
    CHECK(err.message && strstr(err.message, "127.0.0.1:1234"));
    smneo_error_clear(&err);
    smneo_chain_resolution_free(r);

    /* A timeout on the PUT also falls back to v1 (botocore), unless v1 is disabled. */
    smneo_chain_resolution_new(&r, chain, now);
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), 1);
    smneo_request_free(req);
    smneo_chain_resolution_feed(r, NULL, SMNEO_ETIMEOUT);
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), 1);
    CHECK_STR(req ? req->url : NULL, "http://127.0.0.1:1234/latest/meta-data/iam/security-credentials/");
    smneo_request_free(req);
    feed(r, 200, "r1");
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), 1);
    smneo_request_free(req);
    feed(r, 200, "{\"Code\": \"AssumeRoleUnauthorizedAccess\", \"Message\": \"no\"}");
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), SMNEO_ENOCREDENTIALS);
    smneo_error_clear(&err);
    smneo_chain_resolution_free(r);
    setenv("AWS_EC2_METADATA_V1_DISABLED", "true", 1);
    smneo_chain_resolution_new(&r, chain, now);
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), 1);
    smneo_request_free(req);
    smneo_chain_resolution_feed(r, NULL, SMNEO_ETIMEOUT);
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), SMNEO_ENOCREDENTIALS);
    CHECK(err.message && strstr(err.message, "IMDSv1 is disabled"));
    smneo_error_clear(&err);
    smneo_chain_resolution_free(r);
    smneo_credential_chain_free(chain);
    unsetenv("AWS_EC2_METADATA_V1_DISABLED");

    /* An IMDS endpoint with user information is refused without quoting it. */
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://alice:Pw0rdX@127.0.0.1:1234/", 1);
    smneo_credential_chain_new(&chain, NULL, NULL);
    smneo_chain_resolution_new(&r, chain, now);
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), SMNEO_ECREDENTIALS);
    CHECK(req == NULL);
    CHECK_MSG(err.message && strstr(err.message, "user information") && !strstr(err.message, "Pw0rdX") &&
                  !strstr(err.message, "alice"),
              "%s", err.message ? err.message : "(null)");
    smneo_error_clear(&err);
    smneo_chain_resolution_free(r);
    smneo_credential_chain_free(chain);
    unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");

    /* AWS_EC2_METADATA_DISABLED=true: no request at all. */
    setenv("AWS_EC2_METADATA_DISABLED", "TRUE", 1);
    smneo_credential_chain_new(&chain, NULL, NULL);
    smneo_chain_resolution_new(&r, chain, now);
    CHECK_INT(smneo_chain_resolution_step(&req, &c, r, &err), SMNEO_ENOCREDENTIALS);
    CHECK(req == NULL);
    smneo_error_clear(&err);
    smneo_chain_resolution_free(r);
    smneo_credential_chain_free(chain);
    base_env();
}

/* Two machines driven from one thread (coroutines) must not wait on each
 * other; expiration times with offsets and fractions are understood. */
static void test_same_thread_and_times(void)
{
    base_env();
    setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/creds", 1);
    int64_t now = (int64_t)time(NULL);
    smneo_credential_chain *chain = NULL;
    smneo_chain_resolution *a = NULL, *b = NULL;
    smneo_request *ra = NULL, *rb = NULL;
    smneo_credentials *c = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    smneo_credential_chain_new(&chain, NULL, NULL);
    smneo_chain_resolution_new(&a, chain, now);
    smneo_chain_resolution_new(&b, chain, now);
    CHECK_INT(smneo_chain_resolution_step(&ra, &c, a, &err), 1);
    int64_t t0 = (int64_t)time(NULL);
    CHECK_INT(smneo_chain_resolution_step(&rb, &c, b, &err), 1); /* returns at once */
    CHECK((int64_t)time(NULL) - t0 < 2);
    smneo_request_free(ra);
    smneo_request_free(rb);
    ra = rb = NULL;
    feed(b, 200, "{\"AccessKeyId\":\"AKIDB\",\"SecretAccessKey\":\"S\",\"Token\":\"T\","
                 "\"Expiration\":\"2030-01-01T02:00:00.123+02:00\"}");
    CHECK_INT(smneo_chain_resolution_step(&rb, &c, b, &err), 0);
    CHECK_INT(c ? c->expiration : 0, 1893456000); /* 2030-01-01T00:00:00Z */
    smneo_credentials_free(c);
    feed(a, 200, "{\"AccessKeyId\":\"AKIDA\",\"SecretAccessKey\":\"S\",\"Token\":\"TA\","
                 "\"Expiration\":\"2030-01-01 00:00:00Z\"}");
    CHECK_INT(smneo_chain_resolution_step(&ra, &c, a, &err), 0);
    CHECK_STR(c ? c->access_key_id : NULL, "AKIDA");
    CHECK_STR(c ? c->session_token : NULL, "TA");
    CHECK_INT(c ? c->expiration : 0, 1893456000);
    smneo_credentials_free(c);
    smneo_request_free(ra);
    smneo_request_free(rb);
    smneo_chain_resolution_free(a);
    smneo_chain_resolution_free(b);
    /* An expiration that is not a time is an error for an explicit container URI. */
    smneo_chain_resolution_new(&a, chain, now + 86400 * 365 * 10);
    CHECK_INT(smneo_chain_resolution_step(&ra, &c, a, &err), 1);
    smneo_request_free(ra);
    feed(a, 200, "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Token\":\"T\",\"Expiration\":\"soon\"}");
    CHECK_INT(smneo_chain_resolution_step(&ra, &c, a, &err), SMNEO_ECREDENTIALS);
    CHECK(err.message && strstr(err.message, "Expiration"));
    smneo_error_clear(&err);
    smneo_chain_resolution_free(a);
    smneo_credential_chain_free(chain);
    base_env();
}

/* ---- against the local test server ---------------------------------------------- */

typedef struct imds_state {
    pthread_mutex_t mu;
    int puts, role_gets, cred_gets, bad_token;
    long delay_ms;
    int64_t exp;
} imds_state;

static void set_body(test_http_response *resp, const char *s)
{
    resp->body_len = strlen(s);
    resp->body = malloc(resp->body_len + 1);
    memcpy(resp->body, s, resp->body_len + 1);
}

static void imds_handler(const test_http_request *req, test_http_response *resp, void *payload)
{
    imds_state *st = payload;
    pthread_mutex_lock(&st->mu);
    resp->delay_ms = st->delay_ms;
    if (!strcmp(req->method, "PUT") && !strcmp(req->path, "/latest/api/token")) {
        st->puts++;
        const char *ttl = test_http_header(req, "x-aws-ec2-metadata-token-ttl-seconds");
        resp->status = ttl && !strcmp(ttl, "21600") ? 200 : 400;
        set_body(resp, "SERVER-TOKEN");
    } else if (!strcmp(req->method, "GET") && !strncmp(req->path, "/latest/meta-data/iam/security-credentials/", 43)) {
        const char *tok = test_http_header(req, "x-aws-ec2-metadata-token");
        if (!tok || strcmp(tok, "SERVER-TOKEN") != 0) {
            st->bad_token++;
            resp->status = 401;
        } else if (req->path[43] == '\0') {
            st->role_gets++;
            resp->status = 200;
            set_body(resp, "server-role");
        } else if (!strcmp(req->path + 43, "server-role")) {
            st->cred_gets++;
            resp->status = 200;
            char when[64], body[512];
            iso(when, sizeof when, st->exp);
            snprintf(body, sizeof body,
                     "{\"Code\":\"Success\",\"AccessKeyId\":\"AKIDSERVER\",\"SecretAccessKey\":\"SECRETSERVER\","
                     "\"Token\":\"TOKSERVER\",\"Expiration\":\"%s\"}",
                     when);
            set_body(resp, body);
        } else {
            resp->status = 404;
        }
    } else if (!strcmp(req->method, "GET") && !strcmp(req->path, "/container/creds")) {
        const char *auth = test_http_header(req, "authorization");
        if (!auth || strcmp(auth, "container-secret") != 0) {
            resp->status = 401;
        } else {
            resp->status = 200;
            char when[64], body[512];
            iso(when, sizeof when, st->exp);
            snprintf(body, sizeof body,
                     "{\"AccessKeyId\":\"AKIDCONT\",\"SecretAccessKey\":\"S\",\"Token\":\"T\",\"Expiration\":\"%s\"}",
                     when);
            set_body(resp, body);
        }
    } else {
        resp->status = 404;
    }
    pthread_mutex_unlock(&st->mu);
}

typedef struct thread_arg {
    smneo_credential_chain *chain;
    smneo_transport *t;
    int rc;
    char akid[32];
} thread_arg;

static void *getter(void *p)
{
    thread_arg *a = p;
    smneo_credentials *c = NULL;
    a->rc = smneo_credential_chain_get(&c, a->chain, a->t, NULL);
    if (c)
        snprintf(a->akid, sizeof a->akid, "%s", c->access_key_id);
    smneo_credentials_free(c);
    return NULL;
}

static void test_against_server(void)
{
    base_env();
    unsetenv("AWS_EC2_METADATA_DISABLED");
    imds_state st;
    memset(&st, 0, sizeof st);
    pthread_mutex_init(&st.mu, NULL);
    st.exp = (int64_t)time(NULL) + 6 * 3600;
    test_http_server *srv = test_http_server_start(imds_handler, &st);
    CHECK(srv != NULL);
    if (!srv)
        return;
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", test_http_server_url(srv), 1);

    /* IMDSv2 through the private libcurl transport (t = NULL). */
    smneo_credential_chain *chain = NULL;
    smneo_credentials *c = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    smneo_credential_chain_new(&chain, NULL, NULL);
    CHECK_INT(smneo_credential_chain_get(&c, chain, NULL, &err), 0);
    CHECK_STR(c ? c->access_key_id : NULL, "AKIDSERVER");
    CHECK_STR(c ? c->session_token : NULL, "TOKSERVER");
    CHECK_INT(c ? c->expiration : 0, st.exp);
    smneo_credentials_free(c);
    CHECK_INT(st.puts, 1);
    CHECK_INT(st.role_gets, 1);
    CHECK_INT(st.cred_gets, 1);
    CHECK_INT(st.bad_token, 0);
    /* Cached: no further requests. */
    CHECK_INT(smneo_credential_chain_get(&c, chain, NULL, &err), 0);
    smneo_credentials_free(c);
    CHECK_INT(test_http_server_requests(srv), 3);
    smneo_credential_chain_free(chain);

    /* Several threads sharing a cold chain: one resolution, all get it. */
    smneo_transport *t = NULL;
    smneo_curl_options co = SMNEO_CURL_OPTIONS_INIT;
    co.connect_timeout_ms = co.read_timeout_ms = 2000;
    CHECK_INT(smneo_curl_transport_new(&t, &co, NULL), 0);
    st.delay_ms = 50;
    smneo_credential_chain_new(&chain, NULL, NULL);
    int before = test_http_server_requests(srv);
    pthread_t th[4];
    thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        memset(&args[i], 0, sizeof args[i]);
        args[i].chain = chain;
        args[i].t = t;
        pthread_create(&th[i], NULL, getter, &args[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT(args[i].rc, 0);
        CHECK_STR(args[i].akid, "AKIDSERVER");
    }
    CHECK_INT(test_http_server_requests(srv) - before, 3);
    smneo_credential_chain_free(chain);
    st.delay_ms = 0;

    /* Container credentials with an authorization token file. */
    char url[256];
    snprintf(url, sizeof url, "%s/container/creds", test_http_server_url(srv));
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", aws_write(tmp, "ctoken", "container-secret"), 1);
    smneo_credential_chain_new(&chain, NULL, NULL);
    CHECK_INT(smneo_credential_chain_get(&c, chain, t, &err), 0);
    CHECK_STR(c ? c->access_key_id : NULL, "AKIDCONT");
    CHECK_STR(c ? c->source : NULL, "container");
    smneo_credentials_free(c);
    smneo_credential_chain_free(chain);
    /* A wrong token: the server says 401 and that is an error. */
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", aws_write(tmp, "ctoken", "wrong"), 1);
    smneo_credential_chain_new(&chain, NULL, NULL);
    CHECK_INT(smneo_credential_chain_get(&c, chain, t, &err), SMNEO_ECREDENTIALS);
    CHECK(err.message && strstr(err.message, "401"));
    smneo_error_clear(&err);
    smneo_credential_chain_free(chain);
    unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");

    /* IMDS gone (server stopped): no credentials, quickly. */
    char gone[256];
    snprintf(gone, sizeof gone, "%s", test_http_server_url(srv));
    test_http_server_stop(srv);
    smneo_credential_chain_new(&chain, NULL, NULL);
    CHECK_INT(smneo_credential_chain_get(&c, chain, t, &err), SMNEO_ENOCREDENTIALS);
    CHECK(err.message && strstr(err.message, gone));
    smneo_error_clear(&err);
    smneo_credential_chain_free(chain);
    smneo_transport_free(t);
    pthread_mutex_destroy(&st.mu);
    base_env();
}

int main(void)
{
    tmp = smneo_test_tmpdir();
    if (!tmp)
        return 1;
    RUN(test_explicit_and_env);
    RUN(test_files_and_order);
    RUN(test_credential_process);
    RUN(test_credential_process_timeout);
    RUN(test_credential_process_reaping_host);
    RUN(test_unsupported_profiles);
    RUN(test_no_credentials);
    RUN(test_container_steps);
    RUN(test_imds_steps);
    RUN(test_imds_attempts);
    RUN(test_source_from_profile);
    RUN(test_same_thread_and_times);
    RUN(test_against_server);
    smneo_test_rmtree(tmp);
    free(tmp);
    return smneo_test_summary("test_credentials");
}
