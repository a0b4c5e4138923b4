/* describe_job JOB_NAME: DescribeCompilationJob, printed as a few lines.
 *
 * Shows: a client from the usual AWS configuration (region, credentials and
 * endpoint from the environment or ~/.aws, as every AWS SDK does), building
 * parameters with the JSON writer (it escapes what the user typed), one
 * blocking call, reading the result through borrowed smneo_value views and a
 * typed walk (timestamps arrive as timestamps), and who frees what.
 *
 * Exit status: 0 found, 2 no such job, 1 any other failure. */
#define _POSIX_C_SOURCE 200809L /* gmtime_r */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <smneo.h>

#include "example.h"

/* The visitor's timestamp callback: the payload is where to store it. */
static int on_timestamp(void *payload, double epoch_seconds)
{
    *(double *)payload = epoch_seconds;
    return 0;
}

static void print_time(const char *label, const smneo_value *obj, const char *name)
{
    smneo_value v;
    double t = -1;
    smneo_visitor vis = {0};
    vis.timestamp = on_timestamp;
    if (smneo_value_get(&v, obj, name) != 0 || smneo_value_walk(&v, &vis, &t) != 0 || t < 0)
        return;
    time_t secs = (time_t)t;
    struct tm tm;
    char text[32];
    gmtime_r(&secs, &tm);
    strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("%-12s %s\n", label, text);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: describe_job JOB_NAME\n");
        return 1;
    }
    smneo_error err = SMNEO_ERROR_INIT; /* caller-owned; smneo_error_clear frees its strings */
    smneo_client *client = NULL;
    smneo_jsonw *params = NULL;
    smneo_result *job = NULL;
    int status = 1;

    smneo_client_options opts = SMNEO_CLIENT_OPTIONS_INIT; /* every field at its default */
    if (smneo_client_new(&client, &opts, &err) != 0)
        return example_fail("describe_job", "creating the client", &err);

    /* {"CompilationJobName": argv[1]}, escaped by the writer */
    if (smneo_jsonw_new(&params) != 0 || smneo_jsonw_begin_object(params) != 0 ||
        smneo_jsonw_key(params, "CompilationJobName", strlen("CompilationJobName")) != 0 ||
        smneo_jsonw_string(params, argv[1], strlen(argv[1])) != 0 || smneo_jsonw_end_object(params) != 0) {
        fprintf(stderr, "describe_job: out of memory\n");
        goto done;
    }
    size_t len;
    const char *json = smneo_jsonw_data(&len, params); /* borrowed from the writer */

    int rc = smneo_client_call(&job, client, "DescribeCompilationJob", json, len, &err);
    if (rc == SMNEO_ENOTFOUND) {
        /* a modeled service error: the code says which, err says the rest */
        fprintf(stderr, "describe_job: no job named %s (%s)\n", argv[1], err.message ? err.message : "");
        smneo_error_clear(&err);
        status = 2;
        goto done;
    }
    if (rc != 0) {
        status = example_fail("describe_job", "DescribeCompilationJob", &err);
        goto done;
    }

    smneo_value root; /* a view into `job`: valid until smneo_result_free(job) */
    smneo_result_root(&root, job);
    printf("%-12s %s\n", "name", example_member(&root, "CompilationJobName"));
    printf("%-12s %s\n", "status", example_member(&root, "CompilationJobStatus"));
    print_time("created", &root, "CreationTime");
    smneo_value input, output, platform;
    if (smneo_value_get(&input, &root, "InputConfig") == 0)
        printf("%-12s %s\n", "framework", example_member(&input, "Framework"));
    if (smneo_value_get(&output, &root, "OutputConfig") == 0) {
        if (smneo_value_get(&platform, &output, "TargetPlatform") == 0)
            printf("%-12s %s/%s\n", "target", example_member(&platform, "Os"), example_member(&platform, "Arch"));
        else
            printf("%-12s %s\n", "target", example_member(&output, "TargetDevice"));
    }
    if (strcmp(example_member(&root, "CompilationJobStatus"), "FAILED") == 0)
        printf("%-12s %s\n", "failure", example_member(&root, "FailureReason"));
    smneo_value artifacts;
    if (smneo_value_get(&artifacts, &root, "ModelArtifacts") == 0)
        printf("%-12s %s\n", "artifact", example_member(&artifacts, "S3ModelArtifacts"));
    printf("%-12s %s\n", "request id", smneo_result_request_id(job) ? smneo_result_request_id(job) : "-");
    status = 0;

done:
    /* Every _free accepts NULL, so one exit path frees whatever was made. */
    smneo_result_free(job);
    smneo_jsonw_free(params);
    smneo_client_free(client);
    smneo_error_clear(&err);
    return status;
}
