/* list_jobs [STATUS]: every compilation job (optionally only those with
 * CompilationJobStatus STATUS), newest first, one line each.
 *
 * Shows: the iterator over a paginated operation. smneo_iter_next returns 0
 * with the next item, SMNEO_ITEROVER at the end, or an error code, never
 * "NULL means done or failed"; pages are fetched as the loop goes (small
 * pages here, to make several round trips), so memory stays constant
 * whatever the number of jobs. An item is borrowed until the next call.
 *
 * Exit status: 0 listed (possibly nothing), 1 failure. */
#include <stdio.h>
#include <string.h>

#include <smneo.h>

#include "example.h"

int main(int argc, char **argv)
{
    if (argc > 2) {
        fprintf(stderr, "usage: list_jobs [STATUS]\n");
        return 1;
    }
    smneo_error err = SMNEO_ERROR_INIT;
    smneo_client *client = NULL;
    smneo_jsonw *params = NULL;
    smneo_iter *it = NULL;
    int status = 1;

    smneo_client_options opts = SMNEO_CLIENT_OPTIONS_INIT;
    if (smneo_client_new(&client, &opts, &err) != 0)
        return example_fail("list_jobs", "creating the client", &err);

    /* {"SortBy": "CreationTime", "SortOrder": "Descending"[, "StatusEquals": STATUS]} */
    if (smneo_jsonw_new(&params) != 0 || smneo_jsonw_begin_object(params) != 0 ||
        smneo_jsonw_key(params, "SortBy", 6) != 0 || smneo_jsonw_string(params, "CreationTime", 12) != 0 ||
        smneo_jsonw_key(params, "SortOrder", 9) != 0 || smneo_jsonw_string(params, "Descending", 10) != 0 ||
        (argc == 2 && (smneo_jsonw_key(params, "StatusEquals", 12) != 0 ||
                       smneo_jsonw_string(params, argv[1], strlen(argv[1])) != 0)) ||
        smneo_jsonw_end_object(params) != 0) {
        fprintf(stderr, "list_jobs: out of memory\n");
        goto done;
    }
    size_t len;
    const char *json = smneo_jsonw_data(&len, params);

    smneo_paginate_options popts = SMNEO_PAGINATE_OPTIONS_INIT;
    popts.page_size = 2; /* MaxResults per request */
    if (smneo_iter_new(&it, client, "ListCompilationJobs", json, len, &popts, &err) != 0) {
        status = example_fail("list_jobs", "ListCompilationJobs", &err);
        goto done;
    }

    smneo_value job; /* borrowed: valid until the next smneo_iter_next */
    size_t count = 0;
    int rc;
    while ((rc = smneo_iter_next(&job, it, &err)) == 0) {
        const char *device = example_member(&job, "CompilationTargetDevice");
        if (strcmp(device, "-") != 0)
            printf("%-40s %-12s %s\n", example_member(&job, "CompilationJobName"), example_member(&job, "CompilationJobStatus"),
                   device);
        else /* a TargetPlatform instead of a device */
            printf("%-40s %-12s %s/%s\n", example_member(&job, "CompilationJobName"), example_member(&job, "CompilationJobStatus"),
                   example_member(&job, "CompilationTargetPlatformOs"), example_member(&job, "CompilationTargetPlatformArch"));
        count++;
    }
    /* Anything but the end is an error: from validation before the first
     * request (a STATUS the API does not know is refused, naming
     * StatusEquals), or from a later page (the jobs printed were real). */
    if (rc != SMNEO_ITEROVER) {
        status = example_fail("list_jobs", "ListCompilationJobs", &err);
        goto done;
    }
    printf("%zu job%s\n", count, count == 1 ? "" : "s");
    status = 0;

done:
    smneo_iter_free(it);
    smneo_jsonw_free(params);
    smneo_client_free(client);
    smneo_error_clear(&err);
    return status;
}
