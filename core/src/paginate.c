/* core/src/paginate.c: paginators on the call machine: NextToken, page size, max items and botocore-
 * compatible resume tokens */

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

/* ---- paginator ---------------------------------------------------------- */

/* Resume tokens use botocore's format: base64 of
 * {"NextToken": "...", "boto_truncate_amount": N} so they interoperate. */
char *smneo__paginate_encode_token(const char *next_token, int64_t truncate)
{
    smneo_buf b = SMNEO_BUF_INIT;
    smneo__buf_puts(&b, "{\"NextToken\": ");
    if (next_token)
        smneo__json_escape(&b, next_token, strlen(next_token));
    else
        smneo__buf_puts(&b, "null");
    if (truncate > 0)
        smneo__buf_printf(&b, ", \"boto_truncate_amount\": %lld", (long long)truncate);
    smneo__buf_putc(&b, '}');
    size_t n;
    char *json = smneo__buf_detach(&b, &n);
    if (!json)
        return NULL;
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    if (out)
        EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)json, (int)n);
    free(json);
    return out;
}

static int decode_resume_token(const char *tok, char **next_token, int64_t *truncate)
{
    *next_token = NULL;
    *truncate = 0;
    size_t n = strlen(tok);
    int ok = 0;
    if (n % 4 == 0 && n > 0) {
        unsigned char *raw = malloc(n / 4 * 3 + 1);
        int len = raw ? EVP_DecodeBlock(raw, (const unsigned char *)tok, (int)n) : -1;
        if (len > 0) {
            while (len > 0 && raw[len - 1] == 0)
                len--; /* EVP_DecodeBlock keeps padding bytes as NULs */
            cJSON *j = cJSON_ParseWithLength((const char *)raw, (size_t)len);
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "NextToken");
            const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "boto_truncate_amount");
            if (cJSON_IsObject(j) && (cJSON_IsString(t) || cJSON_IsNull(t))) {
                ok = 1;
                if (cJSON_IsString(t))
                    *next_token = smneo__strdup(t->valuestring);
                /* < 2^53: an item count; larger (1e300) would not fit the cast. */
                if (cJSON_IsNumber(a) && a->valuedouble > 0 && a->valuedouble < 9007199254740992.0)
                    *truncate = (int64_t)a->valuedouble;
            }
            cJSON_Delete(j);
        }
        free(raw);
    }
    if (!ok) /* a plain service token */
        *next_token = smneo__strdup(tok);
    return *next_token || ok ? 0 : SMNEO_ENOMEM;
}

static int set_param_string(cJSON *params, const char *key, const char *value)
{
    cJSON_DeleteItemFromObjectCaseSensitive(params, key);
    if (!value)
        return 0;
    return cJSON_AddStringToObject(params, key, value) ? 0 : SMNEO_ENOMEM;
}

int smneo_paginate_new(smneo_call **out, smneo_client *c, const char *operation, const char *params, size_t len,
                       const smneo_paginate_options *o, smneo_error *err)
{
    if (!out)
        return smneo__error(err, SMNEO_EINVAL, "out is NULL");
    *out = NULL;
    const smneo_operation *op = smneo_model_operation(operation);
    if (op && !op->output_token)
        return smneo__error(err, SMNEO_EINVAL, "%s cannot be paginated: use ListCompilationJobs or "
                            "ListPipelineExecutionSteps", op->name);
    smneo_paginate_options full;
    int orc = smneo__options_copy(&full, o, &smneo__paginate_options_layout, err);
    if (orc)
        return orc;
    o = &full;
    if (o->max_items < 0 || o->page_size < 0)
        return smneo__error(err, SMNEO_EINVAL, "max_items and page_size must not be negative");
    smneo_call *call;
    int rc = smneo__call_alloc(&call, c, operation, params, len, KIND_PAGINATE, err);
    if (rc)
        return rc;
    call->popts = *o;
    call->popts.starting_token = NULL;
    if (o->page_size > 0) {
        cJSON_DeleteItemFromObjectCaseSensitive(call->params, op->limit_key);
        if (!cJSON_AddNumberToObject(call->params, op->limit_key, o->page_size))
            rc = SMNEO_ENOMEM;
    }
    const cJSON *given = cJSON_GetObjectItemCaseSensitive(call->params, op->input_token);
    const char *start = o->starting_token ? o->starting_token : cJSON_IsString(given) ? given->valuestring : NULL;
    if (!rc && start) {
        char *tok = NULL;
        rc = decode_resume_token(start, &tok, &call->skip_first);
        if (!rc)
            rc = set_param_string(call->params, op->input_token, tok);
        if (!rc && tok && !(call->request_token = smneo__strdup(tok)))
            rc = SMNEO_ENOMEM;
        free(tok);
    }
    if (!rc)
        rc = smneo__call_reserialize(call);
    if (rc) {
        smneo_call_free(call);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    *out = call;
    return 0;
}

const cJSON *smneo__paginate_items(const smneo_call *call)
{
    const cJSON *root = smneo__result_root_node(call->page);
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(root, call->op->result_key);
    return cJSON_IsArray(items) ? items : NULL;
}

static const char *page_next_token(const smneo_call *call)
{
    const cJSON *root = smneo__result_root_node(call->page);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, call->op->output_token);
    return cJSON_IsString(t) && *t->valuestring ? t->valuestring : NULL;
}

/* After a page arrives: prepare item iteration. */
void smneo__paginate_page(smneo_call *call)
{
    /* A resume token's boto_truncate_amount: drop those items from the page
     * itself (botocore slices the first page's list), so pages mode does
     * not hand them out again; they still count in the next resume token. */
    cJSON *items = (cJSON *)smneo__paginate_items(call);
    call->page_skipped = 0;
    while (items && items->child && call->page_skipped < call->skip_first) {
        cJSON_Delete(cJSON_DetachItemViaPointer(items, items->child));
        call->page_skipped++;
    }
    call->skip_first = 0;
    call->next_item = items ? items->child : NULL;
    call->page_pending = call->popts.pages;
    call->state = ST_ITEMS;
}

/* The page is used up (or max_items reached): fetch the next or finish. */
void smneo__paginate_advance(smneo_call *call, int64_t consumed_in_page)
{
    const char *next = page_next_token(call);
    int64_t max = call->popts.max_items;
    if (max > 0 && call->emitted >= max) {
        /* Stopped by max_items: leave a resume token where we stopped. */
        free(call->resume_token);
        call->resume_token = call->next_item ? smneo__paginate_encode_token(call->request_token, consumed_in_page)
                           : next             ? smneo__paginate_encode_token(next, 0)
                                              : NULL;
        smneo__call_finish(call, SMNEO_ITEROVER);
        return;
    }
    if (!next) {
        smneo__call_finish(call, SMNEO_ITEROVER);
        return;
    }
    /* As botocore: the token received equal to the one received before it
     * (the token just sent, unless that one was the caller's starting
     * token) would fetch the same page forever; stopping there would hand
     * out a truncated listing as if it were complete. botocore compares the
     * whole set of tokens; the model's paginators have one. */
    if (call->token_from_page && call->request_token && !strcmp(next, call->request_token)) {
        smneo_buf b = SMNEO_BUF_INIT;
        smneo__buf_printf(&b, "Error during pagination: The same next token was received twice: {'%s': ",
                          call->op->input_token);
        smneo__py_repr(&b, next);
        smneo__buf_putc(&b, '}');
        char *msg = smneo__buf_detach(&b, NULL);
        smneo__call_finish_error(call, msg ? SMNEO_EPAGINATION : SMNEO_ENOMEM, "%s", msg ? msg : "out of memory");
        free(msg);
        return;
    }
    char *copy = smneo__strdup(next);
    if (!copy || set_param_string(call->params, call->op->input_token, copy) || smneo__call_reserialize(call)) {
        free(copy);
        smneo__call_finish_error(call, SMNEO_ENOMEM, "%s", "out of memory");
        return;
    }
    free(call->request_token);
    call->request_token = copy;
    call->token_from_page = 1;
    call->attempt = 0;
    call->hooked = 0;
    call->state = ST_REQUEST;
}
