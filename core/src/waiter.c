/* core/src/waiter.c: the compilation-job waiter on the call machine (exponential backoff, timeout,
 * terminal states) and smneo_client_wait */

#include <ctype.h>
#include <math.h>
#include <stddef.h>
#include <strings.h>
#include <pthread.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "client_internal.h"
#include "config_internal.h"
#include "credentials_internal.h"
#include "internal.h"
#include "options_internal.h"
#include "protocol_internal.h"
#include "ratelimit.h"
#include "smneo/client.h"
#include "smneo/log.h"
#include "smneo/validate.h"
#include "value_internal.h"

/* ---- waiter ------------------------------------------------------------- */

int smneo_wait_new(smneo_call **out, smneo_client *c, const char *job_name, const smneo_wait_options *o,
                   smneo_error *err)
{
    if (!out)
        return smneo__error(err, SMNEO_EINVAL, "out is NULL");
    *out = NULL;
    if (!job_name || !*job_name)
        return smneo__error(err, SMNEO_EINVAL, "the waiter needs a CompilationJobName");
    smneo_wait_options full;
    int orc = smneo__options_copy(&full, o, &smneo__wait_options_layout, err);
    if (orc)
        return orc;
    o = &full;
    if (o->delay < 0 || o->max_delay < 0 || o->timeout < 0 || isnan(o->delay) || isnan(o->max_delay) ||
        isnan(o->timeout))
        return smneo__error(err, SMNEO_EINVAL, "delay, max_delay and timeout must be non-negative numbers");
    smneo_jsonw *w = NULL;
    if (smneo_jsonw_new(&w) || smneo_jsonw_begin_object(w) ||
        smneo_jsonw_key(w, "CompilationJobName", strlen("CompilationJobName")) ||
        smneo_jsonw_string(w, job_name, strlen(job_name)) || smneo_jsonw_end_object(w)) {
        smneo_jsonw_free(w);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    size_t len;
    const char *json = smneo_jsonw_data(&len, w);
    smneo_call *call;
    int rc = smneo__call_alloc(&call, c, "DescribeCompilationJob", json, len, KIND_WAIT, err);
    smneo_jsonw_free(w);
    if (rc)
        return rc;
    call->delay = o->delay > 0 ? o->delay : 5;
    call->max_delay = o->max_delay > 0 ? o->max_delay : 60;
    if (call->max_delay < call->delay)
        call->max_delay = call->delay;
    call->timeout = o->timeout;
    call->start_ms = smneo__monotonic_ms();
    *out = call;
    return 0;
}

const char *smneo__wait_job_status(const smneo_result *r)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(smneo__result_root_node(r), "CompilationJobStatus");
    return cJSON_IsString(s) ? s->valuestring : NULL;
}

/* Decide what follows a description (after its status event, if any). */
void smneo__wait_decide(smneo_call *call)
{
    const char *status = smneo__wait_job_status(call->page);
    if (status && !strcmp(status, "COMPLETED")) {
        call->final = call->page;
        call->page = NULL;
        smneo__call_finish(call, 0);
        return;
    }
    if (status && (!strcmp(status, "FAILED") || !strcmp(status, "STOPPED"))) {
        int failed = !strcmp(status, "FAILED");
        const cJSON *reason =
            cJSON_GetObjectItemCaseSensitive(smneo__result_root_node(call->page), "FailureReason");
        if (failed)
            smneo__error(&call->err, SMNEO_EJOBFAILED, "%s",
                         cJSON_IsString(reason) ? reason->valuestring : "the compilation job failed");
        else
            smneo__error(&call->err, SMNEO_EJOBSTOPPED, "the compilation job was stopped");
        call->err.attempts = call->attempt;
        call->final = call->page; /* the description stays reachable */
        call->page = NULL;
        smneo__call_finish(call, failed ? SMNEO_EJOBFAILED : SMNEO_EJOBSTOPPED);
        return;
    }
    double d = call->delay * pow(2.0, call->polls - 1);
    if (d > call->max_delay)
        d = call->max_delay;
    int64_t wake = smneo__monotonic_ms() + (int64_t)(d * 1000);
    if (call->timeout > 0) {
        int64_t deadline = call->start_ms + (int64_t)(call->timeout * 1000);
        if (smneo__monotonic_ms() >= deadline) {
            smneo__error(&call->err, SMNEO_EWAITTIMEOUT,
                         "the compilation job did not finish within the waiter's timeout (last status %s)",
                         status ? status : "unknown");
            smneo__call_finish(call, SMNEO_EWAITTIMEOUT);
            return;
        }
        if (wake > deadline)
            wake = deadline;
    }
    call->wake_ms = wake;
    call->attempt = 0;
    call->hooked = 0;
    call->state = ST_SLEEP;
}

int smneo_client_wait(smneo_result **out, smneo_client *c, const char *job_name, const smneo_wait_options *o,
                      smneo_error *err)
{
    if (out)
        *out = NULL;
    smneo_call *call;
    int rc = smneo_wait_new(&call, c, job_name, o, err);
    if (rc)
        return rc;
    for (;;) {
        smneo_step step;
        smneo_call_run(&step, call);
        if (step.kind == SMNEO_STEP_DONE)
            break;
        if (step.event == SMNEO_EVENT_STATUS && o && o->callback) {
            smneo_value v;
            smneo_result_root(&v, smneo_call_page(call));
            if (o->callback(&v, o->payload))
                smneo_call_cancel(call);
        }
    }
    rc = smneo_call_result(out, call, err);
    smneo_call_free(call);
    return rc;
}
