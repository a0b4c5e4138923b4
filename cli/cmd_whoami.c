/* cli/cmd_whoami.c: `smneo whoami` (STS GetCallerIdentity), and the
 * credential settings every command's client gets: the MFA prompt and the
 * AWS CLI's assumed-role cache (~/.aws/cli/cache). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"

/* botocore's prompter is getpass.getpass("Enter MFA code for ARN: "): the
 * terminal without echo, else stdin (as getpass falls back to it). */
int cli_mfa_prompt(char *out, size_t size, const char *mfa_serial, const char *profile, void *payload)
{
    (void)profile;
    (void)payload;
    FILE *tty = fopen("/dev/tty", "r+");
    FILE *in = tty ? tty : stdin, *prompt = tty ? tty : stderr;
    cli_progress_end();
    char *serial = cli_escape(mfa_serial);
    fprintf(prompt, "Enter MFA code for %s: ", serial ? serial : "?");
    free(serial);
    fflush(prompt);
    struct termios old, quiet;
    int echo_off = tty && tcgetattr(fileno(tty), &old) == 0;
    if (echo_off) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
    }
    int rc = fgets(out, (int)size, in) ? 0 : -1;
    if (echo_off) {
        tcsetattr(fileno(tty), TCSAFLUSH, &old);
        fputc('\n', prompt);
    }
    if (tty)
        fclose(tty);
    if (rc == 0)
        out[strcspn(out, "\r\n")] = '\0';
    return rc == 0 && *out ? 0 : -1;
}

/* Assumed roles share the AWS CLI's cache: $HOME/.aws/cli/cache. */
void cli_credential_settings(smneo_client *c)
{
    const char *home = getenv("HOME");
    if (!home || !*home)
        return;
    char dir[4096];
    if (snprintf(dir, sizeof dir, "%s/.aws/cli/cache", home) >= (int)sizeof dir)
        return;
    smneo_credential_chain_set_role_cache(smneo_client_credential_chain(c), dir, NULL);
}

static const char *result_string(const smneo_result *res, const char *name)
{
    smneo_value root, v;
    smneo_result_root(&root, res);
    return smneo_value_get(&v, &root, name) == 0 ? smneo_value_string(&v) : NULL;
}

int cmd_whoami(cli_args *a)
{
    if (a->npos)
        return cli_fail(EXIT_USAGE, "whoami takes no arguments (unexpected \"%s\")", a->pos[0]);
    cli_client cc;
    int code = cli_client_open(&cc, a);
    if (code)
        return code;
    smneo_error err = SMNEO_ERROR_INIT;
    smneo_credentials *creds = NULL;
    smneo_request *req = NULL;
    smneo_response *resp = NULL;
    smneo_result *res = NULL;
    char *sts = NULL;
    smneo_credential_chain *chain = smneo_client_credential_chain(cc.client);
    int rc = smneo_credential_chain_get(&creds, chain, NULL, &err);
    const char *what = "cannot find credentials";
    if (rc == 0) {
        /* STS where the other requests go with --endpoint-url, else STS's own endpoint. */
        smneo_endpoint_options eo = SMNEO_ENDPOINT_OPTIONS_INIT;
        eo.service = "sts";
        eo.region = smneo_client_region(cc.client);
        eo.profile = a->profile;
        eo.endpoint_url = a->endpoint_url;
        what = "no STS endpoint";
        rc = smneo_endpoint_resolve(&sts, &eo, &err);
    }
    const smneo_operation *op = smneo_service_operation(smneo_model_service("sts"), "GetCallerIdentity");
    if (rc == 0) {
        smneo_build_options bo = SMNEO_BUILD_OPTIONS_INIT;
        bo.endpoint_url = sts;
        bo.region = smneo_client_region(cc.client);
        what = "GetCallerIdentity";
        rc = smneo_protocol_build_operation(&req, op, NULL, 0, creds, &bo, &err);
    }
    if (rc == 0)
        rc = smneo_transport_send(&resp, smneo_client_transport(cc.client), req, &err);
    if (rc == 0)
        rc = smneo_protocol_parse_operation(&res, op, resp, &err);
    if (rc) {
        code = cli_error(&err, rc, what);
    } else {
        const char *profile = smneo_credential_source_from_profile(creds->source) ? smneo_credential_chain_profile(chain) : NULL;
        const char *account = result_string(res, "Account"), *arn = result_string(res, "Arn");
        const char *user = result_string(res, "UserId");
        if (a->json) {
            cJSON *doc = cJSON_CreateObject();
            cJSON_AddStringToObject(doc, "Account", account ? account : "");
            cJSON_AddStringToObject(doc, "Arn", arn ? arn : "");
            cJSON_AddStringToObject(doc, "UserId", user ? user : "");
            cJSON_AddStringToObject(doc, "Source", creds->source ? creds->source : "");
            if (profile)
                cJSON_AddStringToObject(doc, "Profile", profile);
            else
                cJSON_AddNullToObject(doc, "Profile");
            cli_print_json(doc);
            cJSON_Delete(doc);
        } else {
            cli_line(stdout, "Account  %s", account ? account : "");
            cli_line(stdout, "Arn      %s", arn ? arn : "");
            cli_line(stdout, "UserId   %s", user ? user : "");
            if (profile)
                cli_line(stdout, "Source   %s (profile %s)", creds->source, profile);
            else
                cli_line(stdout, "Source   %s", creds->source ? creds->source : "");
        }
        code = EXIT_OK;
    }
    smneo_error_clear(&err);
    smneo_result_free(res);
    smneo_response_free(resp);
    smneo_request_free(req);
    free(sts);
    smneo_credentials_free(creds);
    cli_client_close(&cc);
    return code;
}
