/* Lookups over the generated shape tables. */
#include <string.h>

#include "model_tables.h"

const smneo_operation *smneo_model_operation(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < smneo__operation_count; i++) {
        const smneo_operation *op = &smneo__operations[i];
        if (!strcmp(op->name, name) || !strcmp(op->python_name, name))
            return op;
    }
    return NULL;
}

size_t smneo_model_operation_count(void) { return smneo__operation_count; }

const smneo_operation *smneo_model_operation_at(size_t i)
{
    return i < smneo__operation_count ? &smneo__operations[i] : NULL;
}

const smneo_shape *smneo_model_shape(const char *name)
{
    if (!name)
        return NULL;
    size_t lo = 0, hi = smneo__shape_count; /* the table is sorted by name */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(smneo__shapes[mid]->name, name);
        if (c == 0)
            return smneo__shapes[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const smneo_member *smneo_shape_member(const smneo_shape *s, const char *name)
{
    if (!s || !name || s->type != SMNEO_SHAPE_STRUCTURE)
        return NULL;
    for (size_t i = 0; i < s->member_count; i++)
        if (!strcmp(s->members[i].name, name))
            return &s->members[i];
    return NULL;
}

const char *smneo_model_api_version(void) { return smneo__api_version; }
const char *smneo_model_target_prefix(void) { return smneo__target_prefix; }
const char *smneo_model_signing_name(void) { return smneo__signing_name; }
const char *smneo_model_endpoint_prefix(void) { return smneo__endpoint_prefix; }
