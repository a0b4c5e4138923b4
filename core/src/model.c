/* Lookups over the generated tables (model_tables.c). */
#include <string.h>

#include "model_tables.h"
#include "value_internal.h"

const smneo_service *smneo_model_service(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < smneo__service_count; i++)
        if (!strcmp(smneo__services[i]->name, name))
            return smneo__services[i];
    return NULL;
}

size_t smneo_model_service_count(void) { return smneo__service_count; }

const smneo_service *smneo_model_service_at(size_t i)
{
    return i < smneo__service_count ? smneo__services[i] : NULL;
}

const smneo_operation *smneo_service_operation(const smneo_service *svc, const char *name)
{
    if (!svc || !name)
        return NULL;
    for (size_t i = 0; i < svc->operation_count; i++) {
        const smneo_operation *op = &svc->operations[i];
        if (!strcmp(op->name, name) || !strcmp(op->python_name, name))
            return op;
    }
    return NULL;
}

size_t smneo_service_operation_count(const smneo_service *svc) { return svc ? svc->operation_count : 0; }

const smneo_operation *smneo_service_operation_at(const smneo_service *svc, size_t i)
{
    return svc && i < svc->operation_count ? &svc->operations[i] : NULL;
}

const smneo_shape *smneo_service_shape(const smneo_service *svc, const char *name)
{
    if (!svc || !name)
        return NULL;
    size_t lo = 0, hi = svc->shape_count; /* sorted by name */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(svc->shapes[mid]->name, name);
        if (c == 0)
            return svc->shapes[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const smneo_shape *smneo_service_error_shape(const smneo_service *svc, const char *code)
{
    if (!svc || !code)
        return NULL;
    const smneo_shape *s = smneo_service_shape(svc, code);
    if (s && s->exception && !s->error_code)
        return s;
    for (size_t i = 0; i < svc->shape_count; i++) {
        s = svc->shapes[i];
        if (s->exception && s->error_code && !strcmp(s->error_code, code))
            return s;
    }
    return NULL;
}

const smneo_operation *smneo_model_operation(const char *name)
{
    return smneo_service_operation(smneo__client_service, name);
}

size_t smneo_model_operation_count(void) { return smneo__client_service->operation_count; }

const smneo_operation *smneo_model_operation_at(size_t i)
{
    return smneo_service_operation_at(smneo__client_service, i);
}

const smneo_shape *smneo_model_shape(const char *name) { return smneo_service_shape(smneo__client_service, name); }

const smneo_member *smneo_shape_member(const smneo_shape *s, const char *name)
{
    if (!s || !name || s->type != SMNEO_SHAPE_STRUCTURE)
        return NULL;
    for (size_t i = 0; i < s->member_count; i++) /* the first byte rules most out without a call */
        if (s->members[i].name[0] == name[0] && !strcmp(s->members[i].name, name))
            return &s->members[i];
    return NULL;
}

const smneo_member *smneo__shape_member_next(const smneo_shape *s, const char *name, size_t *next)
{
    if (!s || !name || s->type != SMNEO_SHAPE_STRUCTURE)
        return NULL;
    size_t n = s->member_count;
    for (size_t k = 0, i = *next < n ? *next : 0; k < n; k++, i = i + 1 < n ? i + 1 : 0) {
        const smneo_member *m = &s->members[i];
        if (m->name[0] == name[0] && !strcmp(m->name, name)) {
            *next = i + 1;
            return m;
        }
    }
    return NULL;
}
