/* A create that meets its own resource: recognising it.
 *
 * A create whose request went out more than once (a retry of ours after a
 * lost answer, or the transport's own resend on a dead keep-alive
 * connection) can meet ResourceInUse for the very job its first copy made.
 * The call machine then describes the resource and, when the description
 * carries every setting the request gave, answers the create with a result
 * built from it. Everything here is derived from the model: a "CreateX"
 * operation pairs with "DescribeX"; the description is asked for with the
 * describe input's required members taken from the create's parameters;
 * the result holds the create output's members, read from the description
 * (CreateCompilationJob -> DescribeCompilationJob by CompilationJobName,
 * CompilationJobArn). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client_internal.h"
#include "internal.h"
#include "protocol_internal.h"

const smneo_operation *smneo__create_describe_op(const smneo_operation *create)
{
    if (!create || strncmp(create->name, "Create", 6) != 0 || !create->output)
        return NULL;
    char name[128];
    if ((size_t)snprintf(name, sizeof name, "Describe%s", create->name + 6) >= sizeof name)
        return NULL;
    const smneo_operation *d = smneo_model_operation(name);
    return d && d->output ? d : NULL;
}

int smneo__create_describe_params(cJSON **out, const smneo_operation *describe, const cJSON *params)
{
    *out = NULL;
    cJSON *p = cJSON_CreateObject();
    if (!p)
        return SMNEO_ENOMEM;
    const smneo_shape *in = describe->input;
    for (size_t i = 0; i < in->member_count; i++) {
        const smneo_member *m = &in->members[i];
        if (!m->required)
            continue;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, m->name);
        cJSON *copy = v && !cJSON_IsNull(v) ? cJSON_Duplicate(v, 1) : NULL;
        if (!copy) {
            cJSON_Delete(p);
            return v ? SMNEO_ENOMEM : SMNEO_EINVAL; /* the create did not give it: nothing to describe */
        }
        if (!cJSON_AddItemToObject(p, m->name, copy)) {
            cJSON_Delete(copy);
            cJSON_Delete(p);
            return SMNEO_ENOMEM;
        }
    }
    *out = p;
    return 0;
}

/* Is every value the request gives equal in the description? Members the
 * request leaves out are not compared: the service fills in defaults (a
 * StoppingCondition, for one). Enum values compare case-insensitively. */
static int same_value(const cJSON *req, const cJSON *desc, const smneo_shape *shape)
{
    if (!desc)
        return 0;
    switch (shape ? shape->type : 0) {
    case SMNEO_SHAPE_STRUCTURE:
        if (!cJSON_IsObject(req) || !cJSON_IsObject(desc))
            return 0;
        for (size_t i = 0; i < shape->member_count; i++) {
            const smneo_member *m = &shape->members[i];
            const cJSON *r = cJSON_GetObjectItemCaseSensitive(req, m->name);
            if (r && !cJSON_IsNull(r) && !same_value(r, cJSON_GetObjectItemCaseSensitive(desc, m->name), m->shape))
                return 0;
        }
        return 1;
    case SMNEO_SHAPE_LIST: {
        if (!cJSON_IsArray(req) || !cJSON_IsArray(desc) || cJSON_GetArraySize(req) != cJSON_GetArraySize(desc))
            return 0;
        const cJSON *d = desc->child;
        for (const cJSON *r = req->child; r; r = r->next, d = d->next)
            if (!same_value(r, d, shape->member))
                return 0;
        return 1;
    }
    case SMNEO_SHAPE_MAP:
        if (!cJSON_IsObject(req) || !cJSON_IsObject(desc) || cJSON_GetArraySize(req) != cJSON_GetArraySize(desc))
            return 0;
        for (const cJSON *r = req->child; r; r = r->next)
            if (!same_value(r, cJSON_GetObjectItemCaseSensitive(desc, r->string), shape->value))
                return 0;
        return 1;
    case SMNEO_SHAPE_STRING:
        if (!cJSON_IsString(req) || !cJSON_IsString(desc))
            return 0;
        return shape->enum_count ? strcasecmp(req->valuestring, desc->valuestring) == 0
                                 : strcmp(req->valuestring, desc->valuestring) == 0;
    default:
        return cJSON_Compare(req, desc, 1);
    }
}

int smneo__create_is_ours(const smneo_operation *create, const cJSON *params, const cJSON *description)
{
    const smneo_operation *d = smneo__create_describe_op(create);
    if (!d || !cJSON_IsObject(params) || !cJSON_IsObject(description))
        return 0;
    const smneo_shape *in = create->input;
    for (size_t i = 0; i < in->member_count; i++) {
        const smneo_member *m = &in->members[i];
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(params, m->name);
        if (!r || cJSON_IsNull(r) || !smneo_shape_member(d->output, m->name))
            continue; /* not given, or not described (Tags) */
        if (!same_value(r, cJSON_GetObjectItemCaseSensitive(description, m->name), m->shape))
            return 0;
    }
    /* The result is made of the description: it must hold what the create
     * answers (its required members). */
    for (size_t i = 0; i < create->output->member_count; i++) {
        const smneo_member *m = &create->output->members[i];
        if (m->required && !cJSON_GetObjectItemCaseSensitive(description, m->name))
            return 0;
    }
    return 1;
}

int smneo__create_result(smneo_result **out, const smneo_operation *create, smneo_result *description)
{
    *out = NULL;
    const cJSON *desc = smneo__result_root_node(description);
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return SMNEO_ENOMEM;
    for (size_t i = 0; i < create->output->member_count; i++) {
        const smneo_member *m = &create->output->members[i];
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(desc, m->name);
        if (!v)
            continue;
        cJSON *copy = cJSON_Duplicate(v, 1);
        if (!copy || !cJSON_AddItemToObject(root, m->name, copy)) {
            cJSON_Delete(copy);
            cJSON_Delete(root);
            return SMNEO_ENOMEM;
        }
    }
    return smneo__result_new(out, create, root, smneo__result_take_response(description));
}
