#include "localserver.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *smneo_test_source_dir(void)
{
    const char *s = getenv("SMNEO_SOURCE_DIR");
    return s && *s ? s : ".";
}

void smneo_test_server_stop(smneo_test_server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        int st;
        int gone = 0;
        for (int i = 0; i < 50 && !gone; i++) {
            if (waitpid(s->pid, &st, WNOHANG) == s->pid)
                gone = 1;
            else
                usleep(100 * 1000);
        }
        if (!gone) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &st, 0);
        }
    }
    if (s->out)
        fclose(s->out);
    memset(s, 0, sizeof *s);
}

int smneo_test_local_start(smneo_test_server *s, const char *const *args)
{
    memset(s, 0, sizeof *s);
    const char *argv[32] = {"python3", "-m", "smneo.local", "--port", "0"};
    size_t argc = 5;
    for (size_t i = 0; args && args[i]; i++) {
        if (argc + 1 >= sizeof argv / sizeof argv[0]) {
            fprintf(stderr, "smneo_test_local_start: too many arguments\n");
            return -1;
        }
        argv[argc++] = args[i];
    }
    argv[argc] = NULL;
    char pypath[4096];
    snprintf(pypath, sizeof pypath, "%s/python", smneo_test_source_dir());
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* no server outlives a crashed test */
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        setenv("PYTHONPATH", pypath, 1);
        setenv("PYTHONUNBUFFERED", "1", 1);
        execvp("python3", (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    s->pid = pid;
    s->out = fdopen(fds[0], "r");
    if (!s->out)
        close(fds[0]);
    if (!s->out || !fgets(s->url, sizeof s->url, s->out)) {
        smneo_test_server_stop(s);
        return -1;
    }
    s->url[strcspn(s->url, "\r\n")] = '\0';
    if (strncmp(s->url, "http://", 7) != 0) {
        smneo_test_server_stop(s);
        return -1;
    }
    return 0;
}

static int loopback_socket(struct sockaddr_in *a, int port)
{
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a->sin_port = htons((uint16_t)port);
    return socket(AF_INET, SOCK_STREAM, 0);
}

int smneo_test_free_port(void)
{
    struct sockaddr_in a;
    int fd = loopback_socket(&a, 0);
    socklen_t len = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

int smneo_test_port_open(int port)
{
    struct sockaddr_in a;
    int fd = loopback_socket(&a, port);
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

int smneo_test_moto_start(smneo_test_server *s, char *why, size_t whylen)
{
    char dummy[1];
    if (!why) {
        why = dummy;
        whylen = sizeof dummy;
    }
    memset(s, 0, sizeof *s);
    int port = smneo_test_free_port();
    if (port <= 0) {
        snprintf(why, whylen, "no free port");
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, whylen, "fork failed");
        return -1;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            dup2(devnull, 1);
            dup2(devnull, 2);
        }
        char p[16];
        snprintf(p, sizeof p, "%d", port);
        execlp("python3", "python3", "-m", "moto.server", "-H", "127.0.0.1", "-p", p, (char *)NULL);
        _exit(127);
    }
    s->pid = pid;
    snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d", port);
    for (int i = 0; i < 300; i++) { /* up to 30 s */
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            s->pid = 0;
            snprintf(why, whylen, "python3 -m moto.server exited with status %d (moto[server] not installed?)",
                     WIFEXITED(status) ? WEXITSTATUS(status) : -1);
            return 1;
        }
        if (smneo_test_port_open(port))
            return 0;
        usleep(100 * 1000);
    }
    snprintf(why, whylen, "moto_server did not listen on port %d within 30 s", port);
    smneo_test_server_stop(s);
    return -1;
}

int smneo_test_http(const char *method, const char *url, const char *body, int sign, char **body_out)
{
    smneo_transport *t = NULL;
    smneo_request *req = NULL;
    smneo_credentials *cr = NULL;
    smneo_response *resp = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int status = -1;
    if (smneo_curl_transport_new(&t, NULL, &err) || smneo_request_new(&req, method, url))
        goto out;
    if (body && (smneo_request_set_body(req, body, strlen(body)) ||
                 smneo_request_add_header(req, "Content-Type", "application/json")))
        goto out;
    if (sign) {
        smneo_sigv4_options so = SMNEO_SIGV4_OPTIONS_INIT;
        so.region = "us-east-1";
        so.service = "s3";
        so.timestamp = (int64_t)time(NULL);
        so.no_normalize_path = 1;
        so.sign_body_header = 1;
        if (smneo_credentials_new(&cr, "test", "test", NULL) || smneo_sigv4_sign(req, cr, &so, &err))
            goto out;
    }
    if (smneo_transport_send(&resp, t, req, &err) == 0) {
        status = resp->status;
        if (body_out)
            *body_out = strndup(resp->body ? resp->body : "", resp->body_len);
    }
out:
    if (status < 0)
        fprintf(stderr, "%s %s: %s\n", method, url, err.message ? err.message : "could not build the request");
    smneo_response_free(resp);
    smneo_credentials_free(cr);
    smneo_request_free(req);
    smneo_transport_free(t);
    smneo_error_clear(&err);
    return status;
}

int smneo_test_create_bucket(const char *base, const char *bucket)
{
    char url[512];
    snprintf(url, sizeof url, "%s/%s", base, bucket);
    return smneo_test_http("PUT", url, NULL, 1, NULL);
}

smneo_client *smneo_test_client(const char *endpoint, smneo_transport *t)
{
    smneo_client_options o = SMNEO_CLIENT_OPTIONS_INIT;
    o.region = "us-east-1";
    o.endpoint_url = endpoint;
    o.access_key_id = "test";
    o.secret_access_key = "test";
    o.retry_backoff_scale = 0.01;
    o.transport = t;
    smneo_client *c = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    if (smneo_client_new(&c, &o, &err) != 0)
        fprintf(stderr, "client: %s\n", err.message ? err.message : "(no message)");
    smneo_error_clear(&err);
    return c;
}
