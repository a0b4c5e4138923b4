/* lua/convert.c: conversions of the Lua binding: boxes (a userdata owning one C pointer), error
 * holders, error tables, Lua values to parameter JSON, results to Lua tables (through a tape) */

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <smneo.h>
#include <smneo/artifact.h>
#include <smneo/compile.h>
#include <smneo/s3.h>

#include <pthread.h>

#include "compat.h"
#include "smneo_lua.h"

#define MAX_DEPTH 100
/* Results nested deeper than this are refused with a ProtocolError (the
 * model's shapes are a few levels deep; cJSON alone would allow 1000). The
 * Python binding (python/smneo/_convert.c RESULT_MAX_DEPTH) uses the same. */
#define RESULT_MAX_DEPTH 80

/* ---- boxes: a userdata owning one C pointer ------------------------------- */

int smneo_lua_box_gc(lua_State *L)
{
    lbox *b = (lbox *)luaL_checkudata(L, 1, MT_BOX);
    if (b->p && b->free) {
        void *p = b->p;
        b->p = NULL;
        b->free(p);
    }
    return 0;
}

/* Pushes a new empty box that will release its pointer with fn. */
lbox *smneo_lua_box_new(lua_State *L, void (*fn)(void *))
{
    lbox *b = (lbox *)compat_newuserdata(L, sizeof(lbox));
    b->p = NULL;
    b->free = fn;
    luaL_setmetatable(L, MT_BOX);
    return b;
}

void *smneo_lua_box_take(lbox *b)
{
    void *p = b->p;
    b->p = NULL;
    return p;
}

void smneo_lua_free_jsonw(void *p) { smneo_jsonw_free((smneo_jsonw *)p); }
void smneo_lua_free_result(void *p) { smneo_result_free((smneo_result *)p); }
void smneo_lua_free_request(void *p) { smneo_request_free((smneo_request *)p); }
void smneo_lua_free_response(void *p) { smneo_response_free((smneo_response *)p); }
void smneo_lua_free_issues(void *p) { smneo_issues_free((smneo_issues *)p); }

/* ---- error holder: a userdata holding a smneo_error ----------------------- */

int smneo_lua_errhold_gc(lua_State *L)
{
    smneo_error *e = (smneo_error *)luaL_checkudata(L, 1, MT_ERRHOLD);
    smneo_error_clear(e);
    return 0;
}

smneo_error *smneo_lua_errhold_new(lua_State *L)
{
    smneo_error *e = (smneo_error *)compat_newuserdata(L, sizeof(smneo_error));
    smneo_error init = SMNEO_ERROR_INIT;
    *e = init;
    luaL_setmetatable(L, MT_ERRHOLD);
    return e;
}

/* ---- error tables ---------------------------------------------------------- */

void smneo_lua_set_str(lua_State *L, const char *k, const char *v)
{
    if (v) {
        lua_pushstring(L, v);
        lua_setfield(L, -2, k);
    }
}

void smneo_lua_push_array_mt(lua_State *L) { lua_getfield(L, LUA_REGISTRYINDEX, REG_ARRAY_MT); }

void smneo_lua_push_issues(lua_State *L, const smneo_issues *issues)
{
    size_t n = smneo_issues_count(issues);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        const smneo_issue *is = smneo_issues_at(issues, i);
        lua_createtable(L, 0, 4);
        lua_pushstring(L, is->severity == SMNEO_SEVERITY_WARNING ? "warning" : "error");
        lua_setfield(L, -2, "severity");
        lua_pushstring(L, is->path ? is->path : "");
        lua_setfield(L, -2, "path");
        smneo_lua_set_str(L, "rule", is->rule);
        smneo_lua_set_str(L, "message", is->message);
        lua_rawseti(L, -2, (int)i + 1);
    }
    smneo_lua_push_array_mt(L);
    lua_setmetatable(L, -2);
}

/* Pushes the validation issues that did not stop the call (warnings; every
 * finding with validation = "warn") as an issues array, or nil when there
 * were none. */
void smneo_lua_push_warnings(lua_State *L, const smneo_result *r)
{
    const smneo_issues *is = r ? smneo_result_issues(r) : NULL;
    if (is && smneo_issues_count(is) > 0)
        smneo_lua_push_issues(L, is);
    else
        lua_pushnil(L);
}

/* Pushes an error table for (code, err). */
void smneo_lua_push_error(lua_State *L, int code, const smneo_error *err)
{
    lua_createtable(L, 0, 10);
    if (err && err->service_code && err->service_code[0])
        lua_pushstring(L, err->service_code);
    else
        lua_pushstring(L, smneo_error_name(code));
    lua_setfield(L, -2, "code");
    lua_pushstring(L, err && err->message && err->message[0] ? err->message : smneo_strerror(code));
    lua_setfield(L, -2, "message");
    lua_pushstring(L, smneo_error_name(code));
    lua_setfield(L, -2, "kind");
    if (err && err->http_status > 0) {
        lua_pushinteger(L, err->http_status);
        lua_setfield(L, -2, "status");
    }
    if (err) {
        smneo_lua_set_str(L, "request_id", err->request_id);
        smneo_lua_set_str(L, "field", err->field);
        smneo_lua_set_str(L, "operation", smneo_error_operation(err));
        if (err->attempts > 0) {
            lua_pushinteger(L, err->attempts);
            lua_setfield(L, -2, "attempts");
        }
    }
    lua_pushboolean(L, err ? err->retryable : 0);
    lua_setfield(L, -2, "retryable");
    if (err && err->issues) {
        smneo_lua_push_issues(L, err->issues);
        lua_setfield(L, -2, "issues");
    }
    lua_getfield(L, LUA_REGISTRYINDEX, REG_ERROR_MT);
    lua_setmetatable(L, -2);
}

int smneo_lua_raise_error(lua_State *L, int code, const smneo_error *err)
{
    smneo_lua_push_error(L, code, err);
    return lua_error(L);
}

/* A binding-level error (bad argument type etc.) as an error table. */
int smneo_lua_raise_msg(lua_State *L, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    smneo_error e = SMNEO_ERROR_INIT;
    e.code = code;
    e.message = msg; /* borrowed: smneo_lua_push_error copies it; never cleared */
    smneo_lua_push_error(L, code, &e);
    return lua_error(L);
}

int smneo_lua_error_tostring(lua_State *L)
{
    luaL_Buffer b;
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_buffinit(L, &b);
    lua_getfield(L, 1, "code");
    luaL_addstring(&b, lua_isstring(L, -1) ? lua_tostring(L, -1) : "Error");
    lua_pop(L, 1);
    luaL_addstring(&b, ": ");
    lua_getfield(L, 1, "message");
    luaL_addstring(&b, lua_isstring(L, -1) ? lua_tostring(L, -1) : "(no message)");
    lua_pop(L, 1);
    lua_getfield(L, 1, "status");
    lua_getfield(L, 1, "request_id");
    if (lua_isnumber(L, -2) || lua_isstring(L, -1)) {
        char tmp[64];
        luaL_addstring(&b, " (");
        if (lua_isnumber(L, -2)) {
            snprintf(tmp, sizeof tmp, "HTTP %d", (int)lua_tointeger(L, -2));
            luaL_addstring(&b, tmp);
            if (lua_isstring(L, -1))
                luaL_addstring(&b, ", ");
        }
        if (lua_isstring(L, -1)) {
            luaL_addstring(&b, "request id ");
            luaL_addstring(&b, lua_tostring(L, -1));
        }
        luaL_addstring(&b, ")");
    }
    lua_pop(L, 2);
    lua_getfield(L, 1, "issues");
    if (lua_istable(L, -1)) {
        int n = (int)lua_rawlen(L, -1);
        for (int i = 1; i <= n; i++) {
            lua_rawgeti(L, -1, i);
            if (lua_istable(L, -1)) {
                luaL_addstring(&b, "\n  ");
                lua_getfield(L, -1, "severity");
                luaL_addstring(&b, lua_isstring(L, -1) ? lua_tostring(L, -1) : "?");
                lua_pop(L, 1);
                luaL_addstring(&b, " at ");
                lua_getfield(L, -1, "path");
                luaL_addstring(&b, lua_isstring(L, -1) && lua_rawlen(L, -1) ? lua_tostring(L, -1) : "(root)");
                lua_pop(L, 1);
                luaL_addstring(&b, ": ");
                lua_getfield(L, -1, "message");
                luaL_addstring(&b, lua_isstring(L, -1) ? lua_tostring(L, -1) : "");
                lua_pop(L, 1);
                luaL_addstring(&b, " [");
                lua_getfield(L, -1, "rule");
                luaL_addstring(&b, lua_isstring(L, -1) ? lua_tostring(L, -1) : "");
                lua_pop(L, 1);
                luaL_addstring(&b, "]");
            }
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    luaL_pushresult(&b);
    return 1;
}

int smneo_lua_l_is_error(lua_State *L)
{
    int is = 0;
    if (lua_getmetatable(L, 1)) {
        lua_getfield(L, LUA_REGISTRYINDEX, REG_ERROR_MT);
        is = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
    }
    lua_pushboolean(L, is);
    return 1;
}

/* ---- Lua values -> JSON (parameters) --------------------------------------- */

typedef struct enc {
    lua_State *L;
    smneo_jsonw *w;
    char path[512];
} enc;

static void enc_check(enc *e, int rc)
{
    if (rc != 0)
        smneo_lua_raise_msg(e->L, rc == SMNEO_ENOMEM ? SMNEO_ENOMEM : SMNEO_EINVAL,
                  "params%s%s: could not encode the value (%s)", e->path[0] ? "." : "", e->path, smneo_strerror(rc));
}

static void enc_fail(enc *e, const char *what)
{
    smneo_lua_raise_msg(e->L, SMNEO_EINVAL, "params%s%s: %s", e->path[0] ? "." : "", e->path, what);
}

static void enc_value(enc *e, int idx, const smneo_shape *shape, int depth);

static size_t path_push_key(enc *e, const char *k, size_t klen)
{
    size_t old = strlen(e->path);
    snprintf(e->path + old, sizeof e->path - old, "%s%.*s", old ? "." : "", (int)klen, k);
    return old;
}

static size_t path_push_index(enc *e, size_t i)
{
    size_t old = strlen(e->path);
    snprintf(e->path + old, sizeof e->path - old, "[%zu]", i);
    return old;
}

/* 1: array, 0: object (also for an empty table without a hint). */
static int table_is_array(lua_State *L, int idx, const smneo_shape *shape, enc *e)
{
    if (lua_getmetatable(L, idx)) {
        smneo_lua_push_array_mt(L);
        int is = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
        if (is)
            return 1;
    }
    size_t n = 0, strings = 0, ints = 0;
    lua_Number maxi = 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        n++;
        if (lua_type(L, -2) == LUA_TSTRING) {
            strings++;
        } else if (lua_type(L, -2) == LUA_TNUMBER) {
            lua_Number k = lua_tonumber(L, -2);
            if (k >= 1 && floor(k) == k) {
                ints++;
                if (k > maxi)
                    maxi = k;
            }
        }
        lua_pop(L, 1);
    }
    if (n == 0)
        return shape && shape->type == SMNEO_SHAPE_LIST;
    if (strings == n)
        return 0;
    if (ints == n && maxi == (lua_Number)n)
        return 1;
    enc_fail(e, "a table must be either an array (keys 1..n) or an object (string keys), not a mix");
    return 0;
}

static void enc_table(enc *e, int idx, const smneo_shape *shape, int depth)
{
    lua_State *L = e->L;
    if (depth > MAX_DEPTH)
        enc_fail(e, "nested too deeply (a table that contains itself?)");
    luaL_checkstack(L, 6, "smneo: params nested too deeply");
    if (table_is_array(L, idx, shape, e)) {
        const smneo_shape *elem = shape && shape->type == SMNEO_SHAPE_LIST ? shape->member : NULL;
        size_t n = lua_rawlen(L, idx);
        enc_check(e, smneo_jsonw_begin_array(e->w));
        for (size_t i = 1; i <= n; i++) {
            size_t old = path_push_index(e, i - 1);
            lua_rawgeti(L, idx, (int)i);
            enc_value(e, lua_gettop(L), elem, depth + 1);
            lua_pop(L, 1);
            e->path[old] = '\0';
        }
        enc_check(e, smneo_jsonw_end_array(e->w));
        return;
    }
    enc_check(e, smneo_jsonw_begin_object(e->w));
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        size_t klen;
        const char *k = lua_tolstring(L, -2, &klen); /* keys are strings here */
        const smneo_shape *sub = NULL;
        if (shape && shape->type == SMNEO_SHAPE_STRUCTURE) {
            const smneo_member *m = smneo_shape_member(shape, k);
            sub = m ? m->shape : NULL;
        } else if (shape && shape->type == SMNEO_SHAPE_MAP) {
            sub = shape->value;
        }
        size_t old = path_push_key(e, k, klen);
        enc_check(e, smneo_jsonw_key(e->w, k, klen));
        enc_value(e, lua_gettop(L), sub, depth + 1);
        e->path[old] = '\0';
        lua_pop(L, 1);
    }
    enc_check(e, smneo_jsonw_end_object(e->w));
}

static void enc_value(enc *e, int idx, const smneo_shape *shape, int depth)
{
    lua_State *L = e->L;
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        enc_check(e, smneo_jsonw_string(e->w, s, len));
        return;
    }
    case LUA_TNUMBER: {
        if (compat_isinteger(L, idx)) {
            enc_check(e, smneo_jsonw_int(e->w, (int64_t)lua_tointeger(L, idx)));
            return;
        }
        lua_Number v = lua_tonumber(L, idx);
        if (isnan(v) || isinf(v))
            enc_fail(e, "NaN and infinity cannot be sent; use a finite number");
        if (floor(v) == v && fabs(v) < 9007199254740992.0 && !(v == 0 && signbit(v)))
            enc_check(e, smneo_jsonw_int(e->w, (int64_t)v));
        else
            enc_check(e, smneo_jsonw_double(e->w, (double)v));
        return;
    }
    case LUA_TBOOLEAN:
        enc_check(e, smneo_jsonw_bool(e->w, lua_toboolean(L, idx)));
        return;
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == NULL) { /* smneo.null */
            enc_check(e, smneo_jsonw_null(e->w));
            return;
        }
        break;
    case LUA_TTABLE:
        enc_table(e, idx, shape, depth);
        return;
    default:
        break;
    }
    char what[96];
    snprintf(what, sizeof what, "a %s cannot be sent (use a string, number, boolean, table or smneo.null)",
             luaL_typename(L, idx));
    enc_fail(e, what);
}

/* Encodes the params at idx (table or nil) for `operation` into a boxed
 * writer pushed on the stack; returns the JSON text (valid while the box is). */
static const char *encode_shape(lua_State *L, int idx, const smneo_shape *shape, size_t *len);

const char *smneo_lua_encode_params(lua_State *L, int idx, const char *operation, size_t *len)
{
    const smneo_operation *op = operation ? smneo_model_operation(operation) : NULL;
    return encode_shape(L, idx, op ? op->input : NULL, len);
}

const char *smneo_lua_encode_response(lua_State *L, int idx, const smneo_operation *op, size_t *len)
{
    return encode_shape(L, idx, op ? op->output : NULL, len);
}

/* The table at idx (nil: {}) as JSON text, guided by shape (NULL: by the values alone);
 * the text lives in a box pushed on the stack. */
static const char *encode_shape(lua_State *L, int idx, const smneo_shape *shape, size_t *len)
{
    idx = compat_absindex(L, idx);
    if (!lua_isnoneornil(L, idx) && !lua_istable(L, idx))
        smneo_lua_raise_msg(L, SMNEO_EINVAL, "params must be a table (or nil), not a %s", luaL_typename(L, idx));
    lbox *b = smneo_lua_box_new(L, smneo_lua_free_jsonw);
    smneo_jsonw *w = NULL;
    if (smneo_jsonw_new(&w) != 0)
        smneo_lua_raise_msg(L, SMNEO_ENOMEM, "out of memory");
    b->p = w;
    if (lua_isnoneornil(L, idx)) {
        if (smneo_jsonw_begin_object(w) != 0 || smneo_jsonw_end_object(w) != 0)
            smneo_lua_raise_msg(L, SMNEO_ENOMEM, "out of memory");
    } else {
        enc e;
        e.L = L;
        e.w = w;
        e.path[0] = '\0';
        enc_table(&e, idx, shape, 0);
    }
    return smneo_jsonw_data(len, w);
}

/* ---- results -> Lua (via a tape) --------------------------------------------- */

enum { T_OBJ = 1, T_OBJ_END, T_ARR, T_ARR_END, T_KEY, T_STR, T_INT, T_NUM, T_BOOL, T_TS, T_NULL };

typedef struct tape {
    unsigned char *data;
    size_t len, cap;
} tape;

static void free_tape(void *p)
{
    tape *t = (tape *)p;
    free(t->data);
    free(t);
}

static int tape_put(tape *t, const void *d, size_t n)
{
    if (t->len + n > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        while (cap < t->len + n)
            cap *= 2;
        unsigned char *nd = (unsigned char *)realloc(t->data, cap);
        if (!nd)
            return SMNEO_ENOMEM;
        t->data = nd;
        t->cap = cap;
    }
    memcpy(t->data + t->len, d, n);
    t->len += n;
    return 0;
}

static int tape_tag(tape *t, unsigned char tag) { return tape_put(t, &tag, 1); }

static int tape_tag_size(tape *t, unsigned char tag, size_t n)
{
    uint64_t v = n;
    return tape_tag(t, tag) || tape_put(t, &v, sizeof v) ? SMNEO_ENOMEM : 0;
}

static int tv_begin_object(void *p, const smneo_shape *s, size_t count)
{
    (void)s;
    return tape_tag_size((tape *)p, T_OBJ, count);
}
static int tv_end_object(void *p) { return tape_tag((tape *)p, T_OBJ_END); }
static int tv_begin_array(void *p, const smneo_shape *s, size_t count)
{
    (void)s;
    return tape_tag_size((tape *)p, T_ARR, count);
}
static int tv_end_array(void *p) { return tape_tag((tape *)p, T_ARR_END); }
static int tv_bytes(tape *t, unsigned char tag, const char *s, size_t len)
{
    return tape_tag_size(t, tag, len) || tape_put(t, s, len) ? SMNEO_ENOMEM : 0;
}
static int tv_key(void *p, const char *k, size_t len) { return tv_bytes((tape *)p, T_KEY, k, len); }
static int tv_string(void *p, const char *s, size_t len) { return tv_bytes((tape *)p, T_STR, s, len); }
static int tv_integer(void *p, int64_t v) { return tape_tag((tape *)p, T_INT) || tape_put((tape *)p, &v, sizeof v); }
static int tv_number(void *p, double v) { return tape_tag((tape *)p, T_NUM) || tape_put((tape *)p, &v, sizeof v); }
static int tv_boolean(void *p, int v)
{
    unsigned char b = v ? 1 : 0;
    return tape_tag((tape *)p, T_BOOL) || tape_put((tape *)p, &b, 1);
}
static int tv_timestamp(void *p, double v) { return tape_tag((tape *)p, T_TS) || tape_put((tape *)p, &v, sizeof v); }
static int tv_null(void *p) { return tape_tag((tape *)p, T_NULL); }

static const smneo_visitor tape_visitor = {tv_begin_object, tv_end_object, tv_begin_array, tv_end_array,
                                           tv_key,          tv_string,     tv_integer,     tv_number,
                                           tv_boolean,      tv_timestamp,  tv_null};

static uint64_t tape_u64(const tape *t, size_t *pos)
{
    uint64_t v;
    memcpy(&v, t->data + *pos, sizeof v);
    *pos += sizeof v;
    return v;
}

static double tape_f64(const tape *t, size_t *pos)
{
    double v;
    memcpy(&v, t->data + *pos, sizeof v);
    *pos += sizeof v;
    return v;
}

static void tape_replay(lua_State *L, const tape *t, size_t *pos, int depth)
{
    luaL_checkstack(L, 4, "smneo: result nested too deeply");
    if (*pos >= t->len)
        luaL_error(L, "smneo: internal error: truncated result tape");
    unsigned char tag = t->data[(*pos)++];
    if ((tag == T_OBJ || tag == T_ARR) && depth >= RESULT_MAX_DEPTH)
        smneo_lua_raise_msg(L, SMNEO_EPROTOCOL, "malformed response: nested deeper than %d levels (smneo's limit for results)",
                  RESULT_MAX_DEPTH);
    switch (tag) {
    case T_OBJ: {
        uint64_t n = tape_u64(t, pos);
        lua_createtable(L, 0, n > 64 ? 64 : (int)n);
        while (*pos < t->len && t->data[*pos] == T_KEY) {
            (*pos)++;
            size_t klen = (size_t)tape_u64(t, pos);
            lua_pushlstring(L, (const char *)t->data + *pos, klen);
            *pos += klen;
            tape_replay(L, t, pos, depth + 1);
            lua_rawset(L, -3);
        }
        if (*pos >= t->len || t->data[*pos] != T_OBJ_END)
            luaL_error(L, "smneo: internal error: malformed result tape");
        (*pos)++;
        return;
    }
    case T_ARR: {
        uint64_t n = tape_u64(t, pos);
        lua_createtable(L, n > 1024 ? 1024 : (int)n, 0);
        int i = 1;
        while (*pos < t->len && t->data[*pos] != T_ARR_END) {
            tape_replay(L, t, pos, depth + 1);
            lua_rawseti(L, -2, i++);
        }
        if (*pos >= t->len)
            luaL_error(L, "smneo: internal error: malformed result tape");
        (*pos)++;
        smneo_lua_push_array_mt(L);
        lua_setmetatable(L, -2);
        return;
    }
    case T_STR: {
        size_t len = (size_t)tape_u64(t, pos);
        lua_pushlstring(L, (const char *)t->data + *pos, len);
        *pos += len;
        return;
    }
    case T_INT: {
        int64_t v;
        memcpy(&v, t->data + *pos, sizeof v);
        *pos += sizeof v;
        compat_pushint64(L, v);
        return;
    }
    case T_NUM:
    case T_TS:
        lua_pushnumber(L, (lua_Number)tape_f64(t, pos));
        return;
    case T_BOOL:
        lua_pushboolean(L, t->data[(*pos)++]);
        return;
    case T_NULL:
        lua_pushlightuserdata(L, NULL);
        return;
    default:
        luaL_error(L, "smneo: internal error: bad result tape tag %d", (int)tag);
    }
}

/* Pushes the Lua form of a borrowed value (its owner must stay alive). */
void smneo_lua_push_value(lua_State *L, const smneo_value *v)
{
    lbox *b = smneo_lua_box_new(L, free_tape);
    tape *t = (tape *)calloc(1, sizeof *t);
    if (!t)
        smneo_lua_raise_msg(L, SMNEO_ENOMEM, "out of memory");
    b->p = t;
    int rc = smneo_value_walk(v, &tape_visitor, t);
    if (rc != 0)
        smneo_lua_raise_msg(L, SMNEO_ENOMEM, "could not convert the result (%s)", smneo_strerror(rc));
    if (t->len == 0) {
        lua_pushnil(L);
    } else {
        size_t pos = 0;
        tape_replay(L, t, &pos, 0);
    }
    lua_remove(L, -2); /* the box: collected later */
}

/* ResponseMetadata, as the Python binding (and boto3) give it: RequestId,
 * HTTPStatusCode, HTTPHeaders (lower-case names; repeated headers joined
 * with ", "), RetryAttempts. */
static void push_metadata(lua_State *L, const smneo_result *r)
{
    const smneo_response *resp = smneo_result_response(r);
    lua_createtable(L, 0, 4);
    smneo_lua_set_str(L, "RequestId", smneo_result_request_id(r));
    lua_pushinteger(L, smneo_result_status(r));
    lua_setfield(L, -2, "HTTPStatusCode");
    lua_newtable(L);
    for (size_t i = 0; resp && i < resp->header_count; i++) {
        const char *name = resp->headers[i].name;
        const char *val = resp->headers[i].value ? resp->headers[i].value : "";
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        for (const char *c = name; *c; c++)
            luaL_addchar(&b, (*c >= 'A' && *c <= 'Z') ? (char)(*c + 32) : *c);
        luaL_pushresult(&b);
        lua_pushvalue(L, -1);
        lua_rawget(L, -3);
        if (lua_isstring(L, -1)) {
            lua_pushliteral(L, ", ");
            lua_pushstring(L, val);
            lua_concat(L, 3);
        } else {
            lua_pop(L, 1);
            lua_pushstring(L, val);
        }
        lua_rawset(L, -3);
    }
    lua_setfield(L, -2, "HTTPHeaders");
    int attempts = smneo_result_attempts(r);
    lua_pushinteger(L, attempts > 1 ? attempts - 1 : 0);
    lua_setfield(L, -2, "RetryAttempts");
}

void smneo_lua_push_result(lua_State *L, const smneo_result *r)
{
    smneo_value root;
    smneo_result_root(&root, r);
    smneo_lua_push_value(L, &root);
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
    }
    push_metadata(L, r);
    lua_setfield(L, -2, "ResponseMetadata");
}
