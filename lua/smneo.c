/* lua/smneo.c: the Lua binding of libsmneo (Lua 5.4 and LuaJIT 2.1).
 *
 * Thin by design: it converts Lua tables to the JSON the core takes, walks
 * results into tables, maps error codes to error tables and manages object
 * lifetimes. Everything about AWS (validation, signing, retries, paging, the
 * waiter) is the core's.
 *
 * Memory rule: every C allocation is owned by a Lua userdata ("box", error
 * holder, client, call) from the moment it exists, so a Lua error (which
 * longjmps) can never leak it, and no Lua API that may raise is ever called
 * while core frames are on the C stack: results are first walked into a
 * private tape (no Lua calls inside the core's walk), then the tape is
 * replayed into tables. */
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

#if defined(__GNUC__)
#define SMNEO_LUA_EXPORT __attribute__((visibility("default")))
#else
#define SMNEO_LUA_EXPORT
#endif

#define MT_CLIENT "smneo.client"
#define MT_CALL "smneo.call"
#define MT_BOX "smneo.box"
#define MT_ERRHOLD "smneo.errhold"
#define MT_JOBLOGS "smneo.joblogs"
#define REG_ARRAY_MT "smneo.array_mt"
#define REG_ERROR_MT "smneo.error_mt"

#define MAX_DEPTH 100
/* Results nested deeper than this are refused with a ProtocolError (the
 * model's shapes are a few levels deep; cJSON alone would allow 1000). The
 * Python binding (python/smneo/_convert.c RESULT_MAX_DEPTH) uses the same. */
#define RESULT_MAX_DEPTH 80

/* ---- boxes: a userdata owning one C pointer ------------------------------- */

typedef struct lbox {
    void *p;
    void (*free)(void *);
} lbox;

static int box_gc(lua_State *L)
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
static lbox *box_new(lua_State *L, void (*fn)(void *))
{
    lbox *b = (lbox *)compat_newuserdata(L, sizeof(lbox));
    b->p = NULL;
    b->free = fn;
    luaL_setmetatable(L, MT_BOX);
    return b;
}

static void *box_take(lbox *b)
{
    void *p = b->p;
    b->p = NULL;
    return p;
}

static void free_jsonw(void *p) { smneo_jsonw_free((smneo_jsonw *)p); }
static void free_result(void *p) { smneo_result_free((smneo_result *)p); }
static void free_request(void *p) { smneo_request_free((smneo_request *)p); }
static void free_response(void *p) { smneo_response_free((smneo_response *)p); }
static void free_issues(void *p) { smneo_issues_free((smneo_issues *)p); }

/* ---- error holder: a userdata holding a smneo_error ----------------------- */

static int errhold_gc(lua_State *L)
{
    smneo_error *e = (smneo_error *)luaL_checkudata(L, 1, MT_ERRHOLD);
    smneo_error_clear(e);
    return 0;
}

static smneo_error *errhold_new(lua_State *L)
{
    smneo_error *e = (smneo_error *)compat_newuserdata(L, sizeof(smneo_error));
    smneo_error init = SMNEO_ERROR_INIT;
    *e = init;
    luaL_setmetatable(L, MT_ERRHOLD);
    return e;
}

/* ---- error tables ---------------------------------------------------------- */

static void set_str(lua_State *L, const char *k, const char *v)
{
    if (v) {
        lua_pushstring(L, v);
        lua_setfield(L, -2, k);
    }
}

static void push_array_mt(lua_State *L) { lua_getfield(L, LUA_REGISTRYINDEX, REG_ARRAY_MT); }

static void push_issues(lua_State *L, const smneo_issues *issues)
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
        set_str(L, "rule", is->rule);
        set_str(L, "message", is->message);
        lua_rawseti(L, -2, (int)i + 1);
    }
    push_array_mt(L);
    lua_setmetatable(L, -2);
}

/* Pushes the validation issues that did not stop the call (warnings; every
 * finding with validation = "warn") as an issues array, or nil when there
 * were none. */
static void push_warnings(lua_State *L, const smneo_result *r)
{
    const smneo_issues *is = r ? smneo_result_issues(r) : NULL;
    if (is && smneo_issues_count(is) > 0)
        push_issues(L, is);
    else
        lua_pushnil(L);
}

/* Pushes an error table for (code, err). */
static void push_error(lua_State *L, int code, const smneo_error *err)
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
        set_str(L, "request_id", err->request_id);
        set_str(L, "field", err->field);
        if (err->attempts > 0) {
            lua_pushinteger(L, err->attempts);
            lua_setfield(L, -2, "attempts");
        }
    }
    lua_pushboolean(L, err ? err->retryable : 0);
    lua_setfield(L, -2, "retryable");
    if (err && err->issues) {
        push_issues(L, err->issues);
        lua_setfield(L, -2, "issues");
    }
    lua_getfield(L, LUA_REGISTRYINDEX, REG_ERROR_MT);
    lua_setmetatable(L, -2);
}

static int raise_error(lua_State *L, int code, const smneo_error *err)
{
    push_error(L, code, err);
    return lua_error(L);
}

/* A binding-level error (bad argument type etc.) as an error table. */
static int raise_msg(lua_State *L, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    smneo_error e = SMNEO_ERROR_INIT;
    e.code = code;
    e.message = msg; /* borrowed: push_error copies it; never cleared */
    push_error(L, code, &e);
    return lua_error(L);
}

static int error_tostring(lua_State *L)
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

static int l_is_error(lua_State *L)
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
        raise_msg(e->L, rc == SMNEO_ENOMEM ? SMNEO_ENOMEM : SMNEO_EINVAL,
                  "params%s%s: could not encode the value (%s)", e->path[0] ? "." : "", e->path, smneo_strerror(rc));
}

static void enc_fail(enc *e, const char *what)
{
    raise_msg(e->L, SMNEO_EINVAL, "params%s%s: %s", e->path[0] ? "." : "", e->path, what);
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
        push_array_mt(L);
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
static const char *encode_params(lua_State *L, int idx, const char *operation, size_t *len)
{
    idx = compat_absindex(L, idx);
    if (!lua_isnoneornil(L, idx) && !lua_istable(L, idx))
        raise_msg(L, SMNEO_EINVAL, "params must be a table (or nil), not a %s", luaL_typename(L, idx));
    lbox *b = box_new(L, free_jsonw);
    smneo_jsonw *w = NULL;
    if (smneo_jsonw_new(&w) != 0)
        raise_msg(L, SMNEO_ENOMEM, "out of memory");
    b->p = w;
    const smneo_operation *op = operation ? smneo_model_operation(operation) : NULL;
    if (lua_isnoneornil(L, idx)) {
        if (smneo_jsonw_begin_object(w) != 0 || smneo_jsonw_end_object(w) != 0)
            raise_msg(L, SMNEO_ENOMEM, "out of memory");
    } else {
        enc e;
        e.L = L;
        e.w = w;
        e.path[0] = '\0';
        enc_table(&e, idx, op ? op->input : NULL, 0);
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
        raise_msg(L, SMNEO_EPROTOCOL, "malformed response: nested deeper than %d levels (smneo's limit for results)",
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
        push_array_mt(L);
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
static void push_value(lua_State *L, const smneo_value *v)
{
    lbox *b = box_new(L, free_tape);
    tape *t = (tape *)calloc(1, sizeof *t);
    if (!t)
        raise_msg(L, SMNEO_ENOMEM, "out of memory");
    b->p = t;
    int rc = smneo_value_walk(v, &tape_visitor, t);
    if (rc != 0)
        raise_msg(L, SMNEO_ENOMEM, "could not convert the result (%s)", smneo_strerror(rc));
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
    set_str(L, "RequestId", smneo_result_request_id(r));
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

static void push_result(lua_State *L, const smneo_result *r)
{
    smneo_value root;
    smneo_result_root(&root, r);
    push_value(L, &root);
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
    }
    push_metadata(L, r);
    lua_setfield(L, -2, "ResponseMetadata");
}

/* ---- the client -------------------------------------------------------------- */

typedef struct lclient {
    smneo_client *c;
    int calls;  /* live call userdata borrowing c, plus a compile() running */
    int closed; /* close() was called: free c once calls == 0 */
    int no_transport;
    int mfa_ref;        /* registry ref of the mfa_token option (string or function), or LUA_NOREF */
    lua_State *cur_L;   /* the thread driving the core right now (for mfa_token) */
} lclient;

/* The core's MFA callback: the mfa_token option, a string (the code) or a
 * function called with botocore's prompt and the profile, in a protected
 * call on the thread driving the core. Anything but a string refuses. */
static int lua_mfa_cb(char *out, size_t size, const char *serial, const char *profile, void *payload)
{
    lclient *cl = (lclient *)payload;
    lua_State *L = cl->cur_L;
    if (!L || cl->mfa_ref == LUA_NOREF || cl->mfa_ref == LUA_REFNIL || !lua_checkstack(L, 4))
        return 1;
    int top = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, cl->mfa_ref);
    if (lua_isfunction(L, -1)) {
        char prompt[512];
        snprintf(prompt, sizeof prompt, "Enter MFA code for %s: ", serial);
        lua_pushstring(L, prompt);
        lua_pushstring(L, profile);
        if (lua_pcall(L, 2, 1, 0) != 0) {
            lua_settop(L, top);
            return 1;
        }
    }
    int rc = 1;
    if (lua_type(L, -1) == LUA_TSTRING) {
        size_t n = 0;
        const char *code = lua_tolstring(L, -1, &n);
        if (n < size && strlen(code) == n) {
            memcpy(out, code, n + 1);
            rc = 0;
        }
    }
    lua_settop(L, top);
    return rc;
}

static void client_maybe_free(lclient *cl)
{
    if (cl->closed && cl->calls == 0 && cl->c) {
        smneo_client *c = cl->c;
        cl->c = NULL;
        smneo_client_free(c);
    }
}

static lclient *check_client(lua_State *L, int idx)
{
    lclient *cl = (lclient *)luaL_checkudata(L, idx, MT_CLIENT);
    if (cl->closed || !cl->c)
        raise_msg(L, SMNEO_EINVAL, "the client is closed; create a new one with smneo.client{...}");
    return cl;
}

static int client_close(lua_State *L)
{
    lclient *cl = (lclient *)luaL_checkudata(L, 1, MT_CLIENT);
    cl->closed = 1;
    client_maybe_free(cl);
    if (!cl->c && cl->mfa_ref != LUA_NOREF) {
        /* The core client that called it is gone. */
        luaL_unref(L, LUA_REGISTRYINDEX, cl->mfa_ref);
        cl->mfa_ref = LUA_NOREF;
    }
    return 0;
}

static int client_tostring(lua_State *L)
{
    lclient *cl = (lclient *)luaL_checkudata(L, 1, MT_CLIENT);
    if (cl->closed || !cl->c)
        lua_pushstring(L, "smneo.client (closed)");
    else
        lua_pushfstring(L, "smneo.client (%s, %s)", smneo_client_region(cl->c) ? smneo_client_region(cl->c) : "?",
                        smneo_client_endpoint(cl->c) ? smneo_client_endpoint(cl->c) : "?");
    return 1;
}

/* client:_credentials(): the credentials the client's chain holds, as
 * {access_key_id, secret_access_key, session_token, expiration, source}
 * (nil when none), and their state: 2 fresh, 1 in the refresh window, 0
 * stale or none; _credentials(true): nil and the state. For smneo.resty's
 * shared_dict. */
static int client_credentials(lua_State *L)
{
    lclient *cl = check_client(L, 1);
    smneo_credentials *c = NULL;
    int state = smneo_credential_chain_peek(&c, smneo_client_credential_chain(cl->c));
    if (state < 0)
        return raise_msg(L, state, "out of memory");
    if (!c || lua_toboolean(L, 2)) { /* _credentials(true): the state only, no secret copied */
        lua_pushnil(L);
    } else {
        lua_createtable(L, 0, 5);
        lua_pushstring(L, c->access_key_id);
        lua_setfield(L, -2, "access_key_id");
        lua_pushstring(L, c->secret_access_key);
        lua_setfield(L, -2, "secret_access_key");
        if (c->session_token) {
            lua_pushstring(L, c->session_token);
            lua_setfield(L, -2, "session_token");
        }
        lua_pushinteger(L, (lua_Integer)c->expiration);
        lua_setfield(L, -2, "expiration");
        lua_pushstring(L, c->source ? c->source : "");
        lua_setfield(L, -2, "source");
    }
    smneo_credentials_free(c); /* wiped */
    lua_pushinteger(L, state);
    return 2;
}

/* client:_seed_credentials(t): credentials another worker resolved (the
 * table client:_credentials() returns), kept as the chain's own. */
static int client_seed_credentials(lua_State *L)
{
    lclient *cl = check_client(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    smneo_credentials c = {0};
    lua_getfield(L, 2, "access_key_id");
    lua_getfield(L, 2, "secret_access_key");
    lua_getfield(L, 2, "session_token");
    lua_getfield(L, 2, "expiration");
    lua_getfield(L, 2, "source");
    c.access_key_id = (char *)lua_tostring(L, -5);
    c.secret_access_key = (char *)lua_tostring(L, -4);
    c.session_token = (char *)lua_tostring(L, -3);
    c.expiration = (int64_t)lua_tointeger(L, -2);
    c.source = (char *)lua_tostring(L, -1);
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_credential_chain_seed(smneo_client_credential_chain(cl->c), &c, &err);
    lua_pop(L, 5);
    if (rc) {
        push_error(L, rc, &err);
        smneo_error_clear(&err);
        return lua_error(L);
    }
    return 0;
}

static int client_region(lua_State *L)
{
    lclient *cl = check_client(L, 1);
    const char *r = smneo_client_region(cl->c);
    if (r)
        lua_pushstring(L, r);
    else
        lua_pushnil(L);
    return 1;
}

static int client_endpoint(lua_State *L)
{
    lclient *cl = check_client(L, 1);
    const char *r = smneo_client_endpoint(cl->c);
    if (r)
        lua_pushstring(L, r);
    else
        lua_pushnil(L);
    return 1;
}

static int client_max_attempts(lua_State *L)
{
    lclient *cl = check_client(L, 1);
    lua_pushinteger(L, smneo_client_max_attempts(cl->c));
    return 1;
}

static const char *const client_option_names[] = {
    "region_name",  "endpoint_url", "profile_name", "aws_access_key_id", "aws_secret_access_key",
    "aws_session_token", "max_attempts", "retry_mode", "validation", "allow_unknown_enum_values",
    "connect_timeout", "read_timeout", "verify", "ca_bundle", "use_fips", "use_dualstack",
    "s3_endpoint_url", "no_transport", "retry_backoff_scale", "mfa_token", NULL};

static const char *opt_string(lua_State *L, int t, const char *k)
{
    lua_getfield(L, t, k);
    const char *s = NULL;
    if (lua_type(L, -1) == LUA_TSTRING)
        s = lua_tostring(L, -1); /* stays valid: the options table holds it */
    else if (!lua_isnil(L, -1))
        raise_msg(L, SMNEO_EINVAL, "option %s must be a string, not a %s", k, luaL_typename(L, -1));
    lua_pop(L, 1);
    return s;
}

static int opt_number(lua_State *L, int t, const char *k, lua_Number *out)
{
    lua_getfield(L, t, k);
    int have = 0;
    if (lua_type(L, -1) == LUA_TNUMBER) {
        *out = lua_tonumber(L, -1);
        have = 1;
    } else if (!lua_isnil(L, -1)) {
        raise_msg(L, SMNEO_EINVAL, "option %s must be a number, not a %s", k, luaL_typename(L, -1));
    }
    lua_pop(L, 1);
    return have;
}

/* -1 when absent. */
static int opt_bool(lua_State *L, int t, const char *k)
{
    lua_getfield(L, t, k);
    int v = -1;
    if (lua_type(L, -1) == LUA_TBOOLEAN)
        v = lua_toboolean(L, -1);
    else if (!lua_isnil(L, -1))
        raise_msg(L, SMNEO_EINVAL, "option %s must be a boolean, not a %s", k, luaL_typename(L, -1));
    lua_pop(L, 1);
    return v;
}

static void check_known_keys(lua_State *L, int t, const char *const *names, const char *what)
{
    lua_pushnil(L);
    while (lua_next(L, t) != 0) {
        int ok = 0;
        if (lua_type(L, -2) == LUA_TSTRING) {
            const char *k = lua_tostring(L, -2);
            for (size_t i = 0; names[i]; i++)
                if (strcmp(names[i], k) == 0)
                    ok = 1;
        }
        if (!ok) {
            char known[600];
            size_t off = 0;
            known[0] = '\0';
            for (size_t i = 0; names[i] && off < sizeof known; i++)
                off += (size_t)snprintf(known + off, sizeof known - off, "%s%s", i ? ", " : "", names[i]);
            if (lua_type(L, -2) == LUA_TSTRING)
                raise_msg(L, SMNEO_EINVAL, "%s: unknown option '%s' (known: %s)", what, lua_tostring(L, -2), known);
            raise_msg(L, SMNEO_EINVAL, "%s: option names must be strings (known: %s)", what, known);
        }
        lua_pop(L, 1);
    }
}

static int l_client_new(lua_State *L)
{
    smneo_client_options o = SMNEO_CLIENT_OPTIONS_INIT;
    lua_Number n;
    int b;
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    check_known_keys(L, 1, client_option_names, "smneo.client");
    o.region = opt_string(L, 1, "region_name");
    o.endpoint_url = opt_string(L, 1, "endpoint_url");
    o.profile = opt_string(L, 1, "profile_name");
    o.access_key_id = opt_string(L, 1, "aws_access_key_id");
    o.secret_access_key = opt_string(L, 1, "aws_secret_access_key");
    o.session_token = opt_string(L, 1, "aws_session_token");
    if ((o.access_key_id == NULL) != (o.secret_access_key == NULL))
        raise_msg(L, SMNEO_EINVAL,
                  "smneo.client: give both aws_access_key_id and aws_secret_access_key, or neither");
    if (opt_number(L, 1, "max_attempts", &n)) {
        if (n < 1 || n > 100 || floor(n) != n)
            raise_msg(L, SMNEO_EINVAL, "smneo.client: max_attempts must be an integer from 1 to 100");
        o.max_attempts = (int)n;
    }
    o.retry_mode = opt_string(L, 1, "retry_mode");
    const char *v = opt_string(L, 1, "validation");
    if (v) {
        if (strcmp(v, "strict") == 0)
            o.validation = SMNEO_VALIDATION_STRICT;
        else if (strcmp(v, "warn") == 0)
            o.validation = SMNEO_VALIDATION_WARN;
        else if (strcmp(v, "off") == 0)
            o.validation = SMNEO_VALIDATION_OFF;
        else
            raise_msg(L, SMNEO_EINVAL, "smneo.client: validation must be \"strict\", \"warn\" or \"off\", not \"%s\"",
                      v);
    }
    if ((b = opt_bool(L, 1, "allow_unknown_enum_values")) >= 0)
        o.allow_unknown_enum_values = b;
    if (opt_number(L, 1, "connect_timeout", &n)) {
        if (n <= 0)
            raise_msg(L, SMNEO_EINVAL, "smneo.client: connect_timeout must be a positive number of seconds");
        o.connect_timeout_ms = (long)(n * 1000);
    }
    if (opt_number(L, 1, "read_timeout", &n)) {
        if (n <= 0)
            raise_msg(L, SMNEO_EINVAL, "smneo.client: read_timeout must be a positive number of seconds");
        o.read_timeout_ms = (long)(n * 1000);
    }
    if ((b = opt_bool(L, 1, "verify")) >= 0)
        o.no_verify_tls = !b;
    o.ca_bundle = opt_string(L, 1, "ca_bundle");
    if ((b = opt_bool(L, 1, "use_fips")) >= 0)
        o.use_fips = b ? 1 : -1;
    if ((b = opt_bool(L, 1, "use_dualstack")) >= 0)
        o.use_dualstack = b ? 1 : -1;
    o.s3_endpoint_url = opt_string(L, 1, "s3_endpoint_url");
    if ((b = opt_bool(L, 1, "no_transport")) >= 0)
        o.no_transport = b;
    if (opt_number(L, 1, "retry_backoff_scale", &n)) {
        if (n < 0)
            raise_msg(L, SMNEO_EINVAL, "smneo.client: retry_backoff_scale must not be negative");
        o.retry_backoff_scale = n;
    }

    lua_getfield(L, 1, "mfa_token");
    int mfa_type = lua_type(L, -1);
    if (mfa_type != LUA_TNIL && mfa_type != LUA_TSTRING && mfa_type != LUA_TFUNCTION)
        raise_msg(L, SMNEO_EINVAL, "smneo.client: mfa_token must be the code (a string) or a function(prompt, "
                  "profile) returning it, not a %s", luaL_typename(L, -1));

    smneo_error *err = errhold_new(L);
    lclient *cl = (lclient *)compat_newuserdata(L, sizeof(lclient));
    memset(cl, 0, sizeof *cl);
    cl->mfa_ref = LUA_NOREF;
    luaL_setmetatable(L, MT_CLIENT);
    cl->no_transport = o.no_transport;
    if (mfa_type != LUA_TNIL) {
        lua_pushvalue(L, -3); /* the mfa_token value, under err and cl */
        cl->mfa_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        o.mfa_cb = lua_mfa_cb;
        o.payload = cl;
    }
    int rc = smneo_client_new(&cl->c, &o, err);
    if (rc != 0) {
        cl->c = NULL;
        cl->closed = 1;
        return raise_error(L, rc, err);
    }
    return 1;
}

/* ---- calls (step machines) -------------------------------------------------- */

enum { CALL_OP = 0, CALL_PAGINATE = 1, CALL_WAIT = 2 };

typedef struct lcall {
    smneo_call *call;
    lclient *owner; /* kept alive through the userdata's user value */
    int kind;
    int awaiting;   /* a SEND is waiting for feed */
    int finished;
    char *resume;   /* resume token kept after the call is released */
} lcall;

static char *dup_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = (char *)malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static void lcall_release(lcall *lc)
{
    if (lc->call) {
        smneo_call *c = lc->call;
        lc->call = NULL;
        smneo_call_free(c);
        lc->owner->calls--;
        client_maybe_free(lc->owner);
    }
    lc->finished = 1;
}

static int call_gc(lua_State *L)
{
    lcall *lc = (lcall *)luaL_checkudata(L, 1, MT_CALL);
    lcall_release(lc);
    free(lc->resume);
    lc->resume = NULL;
    return 0;
}

/* Pushes a new call userdata referencing the client at index cidx. */
static lcall *lcall_push(lua_State *L, int cidx, lclient *cl, int kind)
{
    cidx = compat_absindex(L, cidx);
    lcall *lc = (lcall *)compat_newuserdata(L, sizeof(lcall));
    memset(lc, 0, sizeof *lc);
    lc->owner = cl;
    lc->kind = kind;
    luaL_setmetatable(L, MT_CALL);
    lua_pushvalue(L, cidx);
    compat_setuservalue(L, -2);
    return lc;
}

static void lcall_attached(lcall *lc) { lc->owner->calls++; }

static const smneo_operation *check_operation(lua_State *L, int idx)
{
    const char *name = luaL_checkstring(L, idx);
    const smneo_operation *op = smneo_model_operation(name);
    if (!op)
        raise_msg(L, SMNEO_EINVAL, "unknown operation '%s' (use an API name such as \"DescribeCompilationJob\")",
                  name);
    return op;
}

static void read_paginate_opts(lua_State *L, int idx, smneo_paginate_options *po)
{
    static const char *const names[] = {"max_items", "page_size", "starting_token", "pages", NULL};
    lua_Number n;
    if (lua_isnoneornil(L, idx))
        return;
    luaL_checktype(L, idx, LUA_TTABLE);
    check_known_keys(L, idx, names, "paginate options");
    if (opt_number(L, idx, "max_items", &n))
        po->max_items = (int64_t)n;
    if (opt_number(L, idx, "page_size", &n))
        po->page_size = (int)n;
    po->starting_token = opt_string(L, idx, "starting_token");
    if (opt_bool(L, idx, "pages") == 1)
        po->pages = 1;
}

static void read_wait_opts(lua_State *L, int idx, smneo_wait_options *wo, int *cb_idx)
{
    static const char *const names[] = {"delay", "max_delay", "timeout", "callback", NULL};
    lua_Number n;
    *cb_idx = 0;
    if (lua_isnoneornil(L, idx))
        return;
    luaL_checktype(L, idx, LUA_TTABLE);
    check_known_keys(L, idx, names, "wait options");
    if (opt_number(L, idx, "delay", &n))
        wo->delay = n;
    if (opt_number(L, idx, "max_delay", &n))
        wo->max_delay = n;
    if (opt_number(L, idx, "timeout", &n))
        wo->timeout = n;
    lua_getfield(L, idx, "callback");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
    } else if (lua_isfunction(L, -1) || lua_istable(L, -1) || lua_isuserdata(L, -1)) {
        *cb_idx = lua_gettop(L); /* left on the stack */
    } else {
        raise_msg(L, SMNEO_EINVAL, "wait option callback must be a function, not a %s", luaL_typename(L, -1));
    }
}

/* client:_call(op, params) / _paginate(op, params, opts) / _wait(name, opts):
 * a call userdata for step-driven use (smneo.resty). */
static int client_lowlevel_call(lua_State *L)
{
    lclient *cl = check_client(L, 1);
    const smneo_operation *op = check_operation(L, 2);
    size_t len;
    const char *json = encode_params(L, 3, op->name, &len);
    smneo_error *err = errhold_new(L);
    lcall *lc = lcall_push(L, 1, cl, CALL_OP);
    int rc = smneo_call_new(&lc->call, cl->c, op->name, json, len, err);
    if (rc != 0) {
        lc->call = NULL;
        return raise_error(L, rc, err);
    }
    lcall_attached(lc);
    return 1;
}

static int client_lowlevel_paginate(lua_State *L)
{
    lclient *cl = check_client(L, 1);
    const smneo_operation *op = check_operation(L, 2);
    smneo_paginate_options po = SMNEO_PAGINATE_OPTIONS_INIT;
    read_paginate_opts(L, 4, &po);
    size_t len;
    const char *json = encode_params(L, 3, op->name, &len);
    smneo_error *err = errhold_new(L);
    lcall *lc = lcall_push(L, 1, cl, CALL_PAGINATE);
    int rc = smneo_paginate_new(&lc->call, cl->c, op->name, json, len, &po, err);
    if (rc != 0) {
        lc->call = NULL;
        return raise_error(L, rc, err);
    }
    lcall_attached(lc);
    return 1;
}

static int client_lowlevel_wait(lua_State *L)
{
    lclient *cl = check_client(L, 1);
    const char *name = luaL_checkstring(L, 2);
    smneo_wait_options wo = SMNEO_WAIT_OPTIONS_INIT;
    int cb;
    read_wait_opts(L, 3, &wo, &cb); /* the callback is the driver's business */
    smneo_error *err = errhold_new(L);
    lcall *lc = lcall_push(L, 1, cl, CALL_WAIT);
    int rc = smneo_wait_new(&lc->call, cl->c, name, &wo, err);
    if (rc != 0) {
        lc->call = NULL;
        return raise_error(L, rc, err);
    }
    lcall_attached(lc);
    return 1;
}

static lcall *check_live_call(lua_State *L, int idx)
{
    lcall *lc = (lcall *)luaL_checkudata(L, idx, MT_CALL);
    if (!lc->call)
        raise_msg(L, SMNEO_EINVAL, "this call has finished or was closed");
    return lc;
}

static void push_headers(lua_State *L, const smneo_request *r)
{
    lua_createtable(L, 0, (int)r->header_count);
    for (size_t i = 0; i < r->header_count; i++) {
        lua_pushstring(L, r->headers[i].value ? r->headers[i].value : "");
        lua_setfield(L, -2, r->headers[i].name);
    }
}

static void push_request(lua_State *L, const smneo_request *r)
{
    lua_createtable(L, 0, 6);
    set_str(L, "method", r->method);
    set_str(L, "url", r->url);
    set_str(L, "host", r->host);
    set_str(L, "path", r->path);
    push_headers(L, r);
    lua_setfield(L, -2, "headers");
    lua_pushlstring(L, r->body ? r->body : "", r->body ? r->body_len : 0);
    lua_setfield(L, -2, "body");
}

static const char *event_name(smneo_event_kind k)
{
    switch (k) {
    case SMNEO_EVENT_ITEM: return "item";
    case SMNEO_EVENT_PAGE: return "page";
    case SMNEO_EVENT_STATUS: return "status";
    default: return "unknown";
    }
}

/* Pushes the value of the current event. */
static void push_event_value(lua_State *L, lcall *lc, smneo_event_kind k)
{
    if (k == SMNEO_EVENT_ITEM) {
        smneo_value v;
        if (smneo_call_item(&v, lc->call) != 0) {
            lua_pushnil(L);
            return;
        }
        push_value(L, &v);
    } else {
        const smneo_result *page = smneo_call_page(lc->call);
        if (page)
            push_result(L, page);
        else
            lua_pushnil(L);
    }
}

static void push_done_raw(lua_State *L, lcall *lc, int with_warnings)
{
    smneo_error *err = errhold_new(L);
    lbox *rb = box_new(L, free_result);
    smneo_result *res = NULL;
    int rc = smneo_call_result(&res, lc->call, err);
    rb->p = res;
    const char *tok = smneo_call_resume_token(lc->call);
    if (tok && !lc->resume)
        lc->resume = dup_string(tok); /* NULL on OOM: the token is then lost, not the call */
    lcall_release(lc);
    if (rc != 0) {
        lua_pushnil(L);
        push_error(L, rc, err);
        if (res) { /* JobFailed / JobStopped: the final description */
            push_result(L, res);
            lua_setfield(L, -2, "description");
        }
        if (with_warnings)
            lua_pushnil(L);
        return;
    }
    if (res)
        push_result(L, res);
    else
        lua_pushboolean(L, 1);
    lua_pushnil(L);
    if (with_warnings)
        push_warnings(L, res);
}

/* After DONE: pushes (result-or-true, nil) or (nil, err), then the warnings
 * array or nil when with_warnings, and releases the call. Returns the count. */
static int push_done(lua_State *L, lcall *lc, int with_warnings)
{
    int base = lua_gettop(L);
    push_done_raw(L, lc, with_warnings);
    /* drop the error holder and the result box under the values */
    lua_remove(L, base + 1);
    lua_remove(L, base + 1);
    return with_warnings ? 3 : 2;
}

/* call:next() -> "send", method, url, headers, body | "sleep", seconds |
 *                "event", kind, value | "done", result|true|nil, err, warnings|nil */
static int call_next(lua_State *L)
{
    lcall *lc = check_live_call(L, 1);
    if (lc->awaiting)
        raise_msg(L, SMNEO_EINVAL, "call:next(): feed the answer to the last send first (call:feed or call:feed_error)");
    smneo_step st;
    memset(&st, 0, sizeof st);
    lc->owner->cur_L = L;
    smneo_call_next(&st, lc->call);
    lc->owner->cur_L = NULL; /* never a stale thread */
    switch (st.kind) {
    case SMNEO_STEP_SEND: {
        const smneo_request *r = st.request;
        lc->awaiting = 1;
        lua_pushstring(L, "send");
        lua_pushstring(L, r->method ? r->method : "POST");
        lua_pushstring(L, r->url ? r->url : "");
        push_headers(L, r);
        lua_pushlstring(L, r->body ? r->body : "", r->body ? r->body_len : 0);
        return 5;
    }
    case SMNEO_STEP_SLEEP:
        lua_pushstring(L, "sleep");
        lua_pushnumber(L, (lua_Number)st.sleep_ms / 1000.0);
        return 2;
    case SMNEO_STEP_EVENT:
        lua_pushstring(L, "event");
        lua_pushstring(L, event_name(st.event));
        push_event_value(L, lc, st.event);
        return 3;
    case SMNEO_STEP_DONE:
    default:
        lua_pushstring(L, "done");
        return 1 + push_done(L, lc, 1);
    }
}

/* call:feed(status, headers, body[, sends]): headers is a table name -> value
 * (a value may be an array of values for repeated headers); sends is how many
 * times the transport sent the request to get this answer (2 when it resent
 * it by itself on a fresh connection; default 1). */
/* The response of feed(status, headers, body[, sends]) at stack 2..5, in a
 * box pushed on the stack (raises on bad arguments). */
static lbox *response_args(lua_State *L, const char *what)
{
    lua_Integer status = luaL_checkinteger(L, 2);
    size_t blen = 0;
    const char *body = luaL_optlstring(L, 4, "", &blen);
    lua_Integer sends = luaL_optinteger(L, 5, 1);
    if (sends < 1 || sends > 100)
        raise_msg(L, SMNEO_EINVAL, "%s: sends must be a whole number from 1 to 100", what);
    lbox *b = box_new(L, free_response);
    smneo_response *resp = NULL;
    if (smneo_response_new(&resp, (int)status) != 0)
        raise_msg(L, SMNEO_ENOMEM, "out of memory");
    b->p = resp;
    resp->sends = (int)sends;
    if (lua_istable(L, 3)) {
        lua_pushnil(L);
        while (lua_next(L, 3) != 0) {
            if (lua_type(L, -2) == LUA_TSTRING) {
                size_t nl, vl;
                const char *name = lua_tolstring(L, -2, &nl);
                if (lua_istable(L, -1)) {
                    int n = (int)lua_rawlen(L, -1);
                    for (int i = 1; i <= n; i++) {
                        lua_rawgeti(L, -1, i);
                        const char *val = lua_tolstring(L, -1, &vl);
                        if (val && smneo_response_add_header(resp, name, nl, val, vl) != 0)
                            raise_msg(L, SMNEO_ENOMEM, "out of memory");
                        lua_pop(L, 1);
                    }
                } else if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER) {
                    lua_pushvalue(L, -1);
                    const char *val = lua_tolstring(L, -1, &vl);
                    if (smneo_response_add_header(resp, name, nl, val, vl) != 0)
                        raise_msg(L, SMNEO_ENOMEM, "out of memory");
                    lua_pop(L, 1);
                }
            }
            lua_pop(L, 1);
        }
    } else if (!lua_isnoneornil(L, 3)) {
        raise_msg(L, SMNEO_EINVAL, "%s: headers must be a table, not a %s", what, luaL_typename(L, 3));
    }
    if (blen && smneo_response_append_body(resp, body, blen) != 0)
        raise_msg(L, SMNEO_ENOMEM, "out of memory");
    return b;
}

static int call_feed(lua_State *L)
{
    lcall *lc = check_live_call(L, 1);
    if (!lc->awaiting)
        raise_msg(L, SMNEO_EINVAL, "call:feed(): there is no send waiting for an answer");
    lbox *b = response_args(L, "call:feed()");
    lc->awaiting = 0;
    smneo_call_feed(lc->call, (smneo_response *)box_take(b), 0, NULL);
    return 0;
}

/* feed_error(code, message) at stack 2..3: the transport error code. */
static int transport_error_arg(lua_State *L, const char *what)
{
    if (lua_type(L, 2) == LUA_TNUMBER)
        return (int)lua_tointeger(L, 2);
    const char *s = luaL_checkstring(L, 2);
    if (strcmp(s, "ConnectionError") == 0)
        return SMNEO_ECONNECT;
    if (strcmp(s, "DnsError") == 0)
        return SMNEO_EDNS;
    if (strcmp(s, "TLSError") == 0)
        return SMNEO_ETLS;
    if (strcmp(s, "Timeout") == 0)
        return SMNEO_ETIMEOUT;
    return raise_msg(L, SMNEO_EINVAL, "%s: code must be ConnectionError, DnsError, TLSError or Timeout, not %s",
                     what, s);
}

/* call:feed_error(code, message): code is "ConnectionError", "DnsError",
 * "TLSError", "Timeout" or a negative smneo code. */
static int call_feed_error(lua_State *L)
{
    lcall *lc = check_live_call(L, 1);
    if (!lc->awaiting)
        raise_msg(L, SMNEO_EINVAL, "call:feed_error(): there is no send waiting for an answer");
    int code = transport_error_arg(L, "call:feed_error()");
    const char *msg = luaL_optstring(L, 3, "transport error");
    lc->awaiting = 0;
    smneo_call_feed(lc->call, NULL, code, msg);
    return 0;
}

static int call_cancel(lua_State *L)
{
    lcall *lc = (lcall *)luaL_checkudata(L, 1, MT_CALL);
    if (lc->call)
        smneo_call_cancel(lc->call);
    return 0;
}

static int call_close(lua_State *L)
{
    lcall *lc = (lcall *)luaL_checkudata(L, 1, MT_CALL);
    lcall_release(lc);
    return 0;
}

static int call_resume_token(lua_State *L)
{
    lcall *lc = (lcall *)luaL_checkudata(L, 1, MT_CALL);
    const char *t = lc->call ? smneo_call_resume_token(lc->call) : lc->resume;
    if (t)
        lua_pushstring(L, t);
    else
        lua_pushnil(L);
    return 1;
}

static int call_tostring(lua_State *L)
{
    lcall *lc = (lcall *)luaL_checkudata(L, 1, MT_CALL);
    lua_pushfstring(L, "smneo.call (%s)", lc->call ? "live" : "finished");
    return 1;
}

/* ---- blocking operations (plain Lua, the client's libcurl transport) -------- */

static lclient *check_blocking_client(lua_State *L, int idx)
{
    lclient *cl = check_client(L, idx);
    if (cl->no_transport)
        raise_msg(L, SMNEO_EINVAL,
                  "this client was created with no_transport: drive calls step by step (smneo.resty does)");
    return cl;
}

/* client:<operation>(params): upvalue 1 = the smneo_operation. */
static int client_op(lua_State *L)
{
    const smneo_operation *op = (const smneo_operation *)lua_touserdata(L, lua_upvalueindex(1));
    lclient *cl = check_blocking_client(L, 1);
    lua_settop(L, 2);
    size_t len;
    const char *json = encode_params(L, 2, op->name, &len);
    smneo_error *err = errhold_new(L);
    lbox *rb = box_new(L, free_result);
    smneo_result *res = NULL;
    cl->cur_L = L;
    int rc = smneo_client_call(&res, cl->c, op->name, json, len, err);
    cl->cur_L = NULL;
    rb->p = res;
    if (rc != 0)
        return raise_error(L, rc, err);
    push_result(L, res);
    push_warnings(L, res);
    return 2;
}

/* Iterator function: upvalue 1 = the call userdata. */
static int iter_step(lua_State *L)
{
    lcall *lc = (lcall *)luaL_checkudata(L, lua_upvalueindex(1), MT_CALL);
    if (!lc->call)
        return 0; /* finished (or failed once already) */
    for (;;) {
        smneo_step st;
        memset(&st, 0, sizeof st);
        smneo_call_run(&st, lc->call);
        if (st.kind == SMNEO_STEP_EVENT) {
            if (st.event != SMNEO_EVENT_ITEM && st.event != SMNEO_EVENT_PAGE)
                continue;
            push_event_value(L, lc, st.event);
            return 1;
        }
        if (st.kind == SMNEO_STEP_DONE) {
            push_done(L, lc, 0); /* (true|result, nil) or (nil, err) */
            if (lua_isnil(L, -2))
                return lua_error(L); /* err on top */
            return 0;
        }
        /* SEND/SLEEP are handled inside smneo_call_run. */
    }
}

/* client:iter_<name>(params, opts): upvalue 1 = the operation.
 * Returns iterator, nil, nil, call (the 4th closes the run when a 5.4 loop
 * is left early). */
static int client_iter(lua_State *L)
{
    const smneo_operation *op = (const smneo_operation *)lua_touserdata(L, lua_upvalueindex(1));
    lclient *cl = check_blocking_client(L, 1);
    lua_settop(L, 3);
    smneo_paginate_options po = SMNEO_PAGINATE_OPTIONS_INIT;
    read_paginate_opts(L, 3, &po);
    size_t len;
    const char *json = encode_params(L, 2, op->name, &len);
    smneo_error *err = errhold_new(L);
    lcall *lc = lcall_push(L, 1, cl, CALL_PAGINATE);
    int rc = smneo_paginate_new(&lc->call, cl->c, op->name, json, len, &po, err);
    if (rc != 0) {
        lc->call = NULL;
        return raise_error(L, rc, err);
    }
    lcall_attached(lc);
    int ud = lua_gettop(L);
    lua_pushvalue(L, ud);
    lua_pushcclosure(L, iter_step, 1);
    lua_pushnil(L);
    lua_pushnil(L);
    lua_pushvalue(L, ud);
    return 4;
}

/* client:wait_for_compilation_job(name, {delay, max_delay, timeout, callback}) */
static int client_wait(lua_State *L)
{
    lclient *cl = check_blocking_client(L, 1);
    const char *name = luaL_checkstring(L, 2);
    lua_settop(L, 3);
    smneo_wait_options wo = SMNEO_WAIT_OPTIONS_INIT;
    int cb = 0;
    read_wait_opts(L, 3, &wo, &cb);
    smneo_error *err = errhold_new(L);
    lcall *lc = lcall_push(L, 1, cl, CALL_WAIT);
    int rc = smneo_wait_new(&lc->call, cl->c, name, &wo, err);
    if (rc != 0) {
        lc->call = NULL;
        return raise_error(L, rc, err);
    }
    lcall_attached(lc);
    for (;;) {
        smneo_step st;
        memset(&st, 0, sizeof st);
        smneo_call_run(&st, lc->call);
        if (st.kind == SMNEO_STEP_EVENT) {
            if (st.event != SMNEO_EVENT_STATUS || !cb)
                continue;
            lua_pushvalue(L, cb);
            push_event_value(L, lc, st.event);
            if (lua_pcall(L, 1, 1, 0) != 0) {
                /* Cancel and free the machine, then re-raise the callback's error. */
                smneo_call_cancel(lc->call);
                lcall_release(lc);
                return lua_error(L);
            }
            int cancel = lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1);
            lua_pop(L, 1);
            if (cancel)
                smneo_call_cancel(lc->call);
            continue;
        }
        if (st.kind == SMNEO_STEP_DONE) {
            push_done(L, lc, 0);
            if (lua_isnil(L, -2))
                return lua_error(L);
            lua_pop(L, 1);
            return 1;
        }
    }
}

/* ---- client:compile{...} (smneo_compile) ------------------------------------------ */


static void push_diagnosis(lua_State *L, const smneo_diagnosis *d);

/* A log event: {timestamp = epoch seconds (ms precision), message = string, stream = string}. */
static void push_log_event(lua_State *L, const smneo_log_event *ev)
{
    lua_createtable(L, 0, 3);
    lua_pushnumber(L, (lua_Number)ev->timestamp / 1000.0);
    lua_setfield(L, -2, "timestamp");
    lua_pushlstring(L, ev->message, ev->message_len);
    lua_setfield(L, -2, "message");
    lua_pushstring(L, ev->stream);
    lua_setfield(L, -2, "stream");
}

/* FAILED: the log's last lines (array) and the diagnosis, into the table on top. */
static void set_failure_log(lua_State *L, const smneo_compile_result *res)
{
    size_t n = smneo_compile_result_log_count(res);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        smneo_log_event ev;
        if (smneo_compile_result_log_at(&ev, res, i) == 0) {
            push_log_event(L, &ev);
            lua_rawseti(L, -2, (int)i + 1);
        }
    }
    lua_setfield(L, -2, "logs");
    if (smneo_compile_result_diagnosis(res)) {
        push_diagnosis(L, smneo_compile_result_diagnosis(res));
        lua_setfield(L, -2, "diagnosis");
    }
}

typedef struct compile_ctx {
    lua_State *L;
    int trampoline; /* stack index of compile_event_call */
    int fn;         /* stack index of the Lua callback */
    int failed;     /* 1: the callback's error is on the stack top */
    int cancelled;  /* the callback returned false */
    pthread_t owner;
} compile_ctx;

/* Runs under lua_pcall (from compile_cb): builds the event table and calls
 * the user's callback. Arguments: callback, light userdata event, and for
 * compile_many the job's index (1-based) or nil. */
static int compile_event_call(lua_State *L)
{
    const smneo_compile_event *ev = (const smneo_compile_event *)lua_touserdata(L, 2);
    lua_settop(L, 3);
    lua_pushvalue(L, 1);
    lua_createtable(L, 0, 7);
    if (!lua_isnil(L, 3)) {
        lua_pushvalue(L, 3);
        lua_setfield(L, -2, "job");
    }
    int k = (int)ev->kind;
    lua_pushstring(L, smneo_compile_event_name(k));
    lua_setfield(L, -2, "kind");
    lua_pushstring(L, ev->message ? ev->message : "");
    lua_setfield(L, -2, "message");
    lua_pushnumber(L, (lua_Number)ev->done);
    lua_setfield(L, -2, "done");
    lua_pushnumber(L, (lua_Number)ev->total);
    lua_setfield(L, -2, "total");
    lua_pushnumber(L, ev->elapsed);
    lua_setfield(L, -2, "elapsed");
    if (ev->description) {
        push_value(L, ev->description);
        lua_setfield(L, -2, "description");
    }
    lua_call(L, 1, 1);
    return 1;
}

/* Called by the core, possibly on one of its transfer threads: Lua runs only
 * on the thread that owns the state (events from other threads are not
 * delivered; a pending cancel is). Nothing here can raise: all Lua work is
 * inside lua_pcall. */
static int deliver_event(compile_ctx *x, const smneo_compile_event *ev, size_t job)
{
    if (x->failed || x->cancelled)
        return 1;
    if (!pthread_equal(pthread_self(), x->owner))
        return 0;
    lua_State *L = x->L;
    if (!lua_checkstack(L, 5))
        return 0;
    lua_pushvalue(L, x->trampoline);
    lua_pushvalue(L, x->fn);
    lua_pushlightuserdata(L, (void *)ev);
    if (job == SMNEO_COMPILE_MANY_ALL)
        lua_pushnil(L);
    else
        lua_pushnumber(L, (lua_Number)job + 1);
    if (lua_pcall(L, 3, 1, 0) != 0) {
        x->failed = 1; /* error value left on the stack top */
        return 1;
    }
    if (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1))
        x->cancelled = 1;
    lua_pop(L, 1);
    return x->cancelled;
}

static int compile_cb(const smneo_compile_event *ev, void *payload)
{
    return deliver_event((compile_ctx *)payload, ev, SMNEO_COMPILE_MANY_ALL);
}

static int compile_many_cb(size_t job, const smneo_compile_event *ev, void *payload)
{
    return deliver_event((compile_ctx *)payload, ev, job);
}

/* The options' callback (table at 2): 1 when one is given, with the
 * callback and the trampoline left on the stack for deliver_event. */
static int callback_of(lua_State *L, compile_ctx *x, const char *what)
{
    memset(x, 0, sizeof *x);
    x->L = L;
    x->owner = pthread_self();
    lua_getfield(L, 2, "callback");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    if (!lua_isfunction(L, -1))
        raise_msg(L, SMNEO_EINVAL, "%s: callback must be a function, not a %s", what, luaL_typename(L, -1));
    x->fn = lua_gettop(L);
    lua_pushcfunction(L, compile_event_call);
    x->trampoline = lua_gettop(L);
    return 1;
}

static void free_compile_result(void *p) { smneo_compile_result_free((smneo_compile_result *)p); }

/* A JSON-text option given as a string or as a table (encoded here). */
static const char *opt_json(lua_State *L, int t, const char *k)
{
    lua_getfield(L, t, k);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return NULL;
    }
    if (lua_type(L, -1) == LUA_TSTRING) {
        const char *s = lua_tostring(L, -1); /* anchored by the options table */
        lua_pop(L, 1);
        return s;
    }
    if (!lua_istable(L, -1))
        raise_msg(L, SMNEO_EINVAL, "compile: %s must be JSON text or a table, not a %s", k, luaL_typename(L, -1));
    size_t len;
    const char *json = encode_params(L, -1, NULL, &len); /* pushes its box: stays on the stack */
    lua_remove(L, -2);                                   /* the table */
    return json;
}

/* compile()'s options from the table at t (strings anchored by it; JSON
 * given as tables encoded into boxes left on the stack). */
static void read_compile_options(lua_State *L, int t, smneo_compile_options *o, const char *what)
{
    lua_Number n;
    int b;
    o->model = opt_string(L, t, "model");
    o->framework = opt_string(L, t, "framework");
    o->role_arn = opt_string(L, t, "role_arn");
    o->s3_bucket = opt_string(L, t, "s3_bucket");
    o->model_package_version_arn = opt_string(L, t, "model_package_version_arn");
    if (!o->role_arn || (!o->model_package_version_arn && (!o->model || !o->framework)))
        raise_msg(L, SMNEO_EINVAL, "%s: model, framework (or model_package_version_arn) and role_arn are required "
                  "(s3_bucket too, unless the default bucket sagemaker-REGION-ACCOUNT will do)", what);
    o->vpc_config_json = opt_json(L, t, "vpc_config");
    o->target_device = opt_string(L, t, "target_device");
    o->target_os = opt_string(L, t, "target_os");
    o->target_arch = opt_string(L, t, "target_arch");
    o->target_accelerator = opt_string(L, t, "target_accelerator");
    o->framework_version = opt_string(L, t, "framework_version");
    o->s3_prefix = opt_string(L, t, "s3_prefix");
    o->job_name = opt_string(L, t, "job_name");
    o->output_dir = opt_string(L, t, "output_dir");
    o->kms_key_id = opt_string(L, t, "kms_key_id");
    o->data_input_config = opt_json(L, t, "data_input_config");
    o->compiler_options = opt_json(L, t, "compiler_options");
    o->tags_json = opt_json(L, t, "tags");
    if ((b = opt_bool(L, t, "extract")) >= 0)
        o->extract = b;
    if ((b = opt_bool(L, t, "keep_job_on_cancel")) >= 0)
        o->keep_job_on_cancel = b;
    if ((b = opt_bool(L, t, "follow_logs")) >= 0)
        o->follow_logs = b;
    if (opt_number(L, t, "timeout", &n))
        o->timeout = n;
    if (opt_number(L, t, "delay", &n))
        o->delay = n;
    if (opt_number(L, t, "max_delay", &n))
        o->max_delay = n;
    static const char *const limits[] = {"max_runtime_seconds", "max_wait_seconds", "max_pending_seconds"};
    int *slots[] = {&o->max_runtime_seconds, &o->max_wait_seconds, &o->max_pending_seconds};
    for (int i = 0; i < 3; i++)
        if (opt_number(L, t, limits[i], &n)) {
            if (n < 1 || n > 2147483647 || floor(n) != n)
                raise_msg(L, SMNEO_EINVAL, "%s: %s must be a positive integer", what, limits[i]);
            *slots[i] = (int)n;
        }
}

/* client:compile{model=, framework=, role_arn=, s3_bucket=, ...} */
static int client_compile(lua_State *L)
{
    static const char *const names[] = {
        "model", "framework", "role_arn", "s3_bucket", "target_device", "target_os", "target_arch",
        "target_accelerator", "data_input_config", "framework_version", "compiler_options", "s3_prefix",
        "job_name", "output_dir", "extract", "timeout", "delay", "max_delay", "max_runtime_seconds", "tags",
        "kms_key_id", "keep_job_on_cancel", "vpc_config", "model_package_version_arn", "max_wait_seconds",
        "max_pending_seconds", "callback", "follow_logs", NULL};
    lclient *cl = check_blocking_client(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    check_known_keys(L, 2, names, "compile");
    smneo_compile_options o = SMNEO_COMPILE_OPTIONS_INIT;
    read_compile_options(L, 2, &o, "compile");
    compile_ctx x;
    if (callback_of(L, &x, "compile")) {
        o.callback = compile_cb;
        o.payload = &x;
    }
    smneo_error *err = errhold_new(L);
    lbox *rb = box_new(L, free_compile_result);
    smneo_compile_result *res = NULL;
    /* The callback runs Lua code inside smneo_compile: a client:close() (or
     * __close) there must not free the core client under it, so the flow
     * counts as a user until it returns (nothing between can raise). */
    cl->calls++;
    cl->cur_L = L;
    int rc = smneo_compile(&res, cl->c, &o, err);
    cl->cur_L = NULL;
    cl->calls--;
    client_maybe_free(cl);
    rb->p = res;
    if (x.failed)
        return lua_error(L); /* the callback's own error, after the flow has stopped */
    if (rc != 0) {
        if (rc == SMNEO_ECANCELLED && x.cancelled)
            push_error(L, rc, err);
        else
            push_error(L, rc, err);
        if (res && smneo_compile_result_job(res)) {
            push_result(L, smneo_compile_result_job(res));
            lua_setfield(L, -2, "description");
        }
        if (res && rc == SMNEO_EJOBFAILED) {
            set_failure_log(L, res);
            push_issues(L, smneo_compile_result_issues(res));
            lua_setfield(L, -2, "issues");
        }
        return lua_error(L);
    }
    lua_createtable(L, 0, 7);
    if (smneo_compile_result_job(res)) {
        push_result(L, smneo_compile_result_job(res));
        lua_setfield(L, -2, "job");
    }
    set_str(L, "job_name", smneo_compile_result_job_name(res));
    set_str(L, "artifact_path", smneo_compile_result_artifact_path(res));
    set_str(L, "extracted_dir", smneo_compile_result_extracted_dir(res));
    lua_pushboolean(L, smneo_compile_result_digest_verified(res));
    lua_setfield(L, -2, "digest_verified");
    set_str(L, "input_uri", smneo_compile_result_input_uri(res));
    push_issues(L, smneo_compile_result_issues(res));
    lua_setfield(L, -2, "issues");
    return 1;
}

/* ---- client:compilation_job_logs{...} (smneo/joblogs.h) ----------------------------- */

typedef struct ljoblogs {
    smneo_joblogs *l;
    lclient *owner; /* kept alive through the userdata's user value */
    int awaiting;   /* step-driven: a SEND waits for feed */
} ljoblogs;

static void joblogs_release(ljoblogs *jl)
{
    if (jl->l) {
        smneo_joblogs *l = jl->l;
        jl->l = NULL;
        smneo_joblogs_free(l);
        jl->owner->calls--;
        client_maybe_free(jl->owner);
    }
}

static int joblogs_gc(lua_State *L)
{
    joblogs_release((ljoblogs *)luaL_checkudata(L, 1, MT_JOBLOGS));
    return 0;
}

/* handle:warnings() -> array of strings (no log yet, AccessDenied) */
static int joblogs_warnings(lua_State *L)
{
    luaL_checkudata(L, 1, MT_JOBLOGS);
    compat_getuservalue(L, 1);
    lua_getfield(L, -1, "warnings");
    return 1;
}

/* handle:status() -> the job's last status seen in follow mode, or nil */
static int joblogs_status(lua_State *L)
{
    luaL_checkudata(L, 1, MT_JOBLOGS);
    compat_getuservalue(L, 1);
    lua_getfield(L, -1, "status");
    return 1;
}

/* Copies the reader's warnings and status into the user value (they outlive the reader). */
static void joblogs_keep(lua_State *L, int ud, ljoblogs *jl)
{
    compat_getuservalue(L, ud);
    size_t n = smneo_joblogs_warning_count(jl->l);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushstring(L, smneo_joblogs_warning_at(jl->l, i));
        lua_rawseti(L, -2, (int)i + 1);
    }
    lua_setfield(L, -2, "warnings");
    if (smneo_joblogs_status(jl->l)) {
        lua_pushstring(L, smneo_joblogs_status(jl->l));
        lua_setfield(L, -2, "status");
    }
    lua_pop(L, 1);
}

/* Iterator function: upvalue 1 = the joblogs userdata. */
static int joblogs_step(lua_State *L)
{
    ljoblogs *jl = (ljoblogs *)luaL_checkudata(L, lua_upvalueindex(1), MT_JOBLOGS);
    if (!jl->l)
        return 0;
    smneo_error *err = errhold_new(L);
    smneo_log_event ev;
    int rc = smneo_joblogs_next(&ev, jl->l, err);
    joblogs_keep(L, lua_upvalueindex(1), jl);
    if (rc == 0) {
        push_log_event(L, &ev);
        return 1;
    }
    joblogs_release(jl);
    if (rc == SMNEO_ITEROVER)
        return 0;
    return raise_error(L, rc, err);
}

/* Reads the options table at index 2 and pushes a new reader userdata for
 * the client at index 1; returns it (raises on bad options). */
static ljoblogs *joblogs_push(lua_State *L, lclient *cl)
{
    static const char *const names[] = {"name", "follow", "start_time", "delay", "max_delay", "tail", NULL};
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    check_known_keys(L, 2, names, "compilation_job_logs");
    const char *name = opt_string(L, 2, "name");
    if (!name || !*name)
        raise_msg(L, SMNEO_EINVAL, "compilation_job_logs: name (the CompilationJobName) is required");
    smneo_joblogs_options o = SMNEO_JOBLOGS_OPTIONS_INIT;
    lua_Number n;
    int b;
    if ((b = opt_bool(L, 2, "follow")) >= 0)
        o.follow = b;
    if (opt_number(L, 2, "start_time", &n)) {
        if (!(n >= 0) || n > 1e13)
            raise_msg(L, SMNEO_EINVAL, "compilation_job_logs: start_time must be epoch seconds");
        o.start_time = (int64_t)(n * 1000.0 + 0.5);
    }
    if (opt_number(L, 2, "delay", &n))
        o.delay = n;
    if (opt_number(L, 2, "max_delay", &n))
        o.max_delay = n;
    if (opt_number(L, 2, "tail", &n)) {
        if (n < 1 || floor(n) != n || n > 1e9)
            raise_msg(L, SMNEO_EINVAL, "compilation_job_logs: tail must be a positive integer");
        o.tail = (size_t)n;
    }
    smneo_error *err = errhold_new(L);
    ljoblogs *jl = (ljoblogs *)compat_newuserdata(L, sizeof *jl);
    jl->l = NULL;
    jl->owner = cl;
    jl->awaiting = 0;
    luaL_setmetatable(L, MT_JOBLOGS);
    int ud = lua_gettop(L);
    lua_createtable(L, 0, 3); /* user value: the client, warnings, status */
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, "client");
    lua_newtable(L);
    lua_setfield(L, -2, "warnings");
    compat_setuservalue(L, ud);
    int rc = smneo_joblogs_new(&jl->l, cl->c, name, &o, err);
    if (rc != 0)
        raise_error(L, rc, err);
    cl->calls++;
    lua_remove(L, ud - 1); /* the error holder */
    return jl;
}

/* client:compilation_job_logs{name=, follow=, start_time=, delay=, max_delay=, tail=}
 * -> iterator, nil, nil, handle (handle:warnings(), handle:status(), handle:close()) */
static int client_job_logs(lua_State *L)
{
    lclient *cl = check_blocking_client(L, 1);
    lua_settop(L, 2);
    joblogs_push(L, cl);
    int ud = lua_gettop(L);
    lua_pushvalue(L, ud);
    lua_pushcclosure(L, joblogs_step, 1);
    lua_pushnil(L);
    lua_pushnil(L);
    lua_pushvalue(L, ud);
    return 4;
}

/* client:_job_logs{...} -> a reader driven step by step (smneo.resty):
 * next() -> "send", method, url, headers, body | "sleep", seconds |
 *           "event", "log", event | "event", "warning", text | "event", "status", status |
 *           "done", true | "done", nil, err;  feed(status, headers, body[, sends]);
 * feed_error(code, message); cancel(); close(). */
static int client_lowlevel_job_logs(lua_State *L)
{
    lclient *cl = check_client(L, 1);
    lua_settop(L, 2);
    joblogs_push(L, cl);
    return 1;
}

static ljoblogs *check_live_joblogs(lua_State *L)
{
    ljoblogs *jl = (ljoblogs *)luaL_checkudata(L, 1, MT_JOBLOGS);
    if (!jl->l)
        raise_msg(L, SMNEO_EINVAL, "this job log reader has finished or was closed");
    return jl;
}

static int joblogs_next(lua_State *L)
{
    ljoblogs *jl = check_live_joblogs(L);
    if (jl->awaiting)
        raise_msg(L, SMNEO_EINVAL, "next(): feed the answer to the last send first (feed or feed_error)");
    smneo_step st;
    memset(&st, 0, sizeof st);
    smneo_joblogs_step(&st, jl->l);
    switch (st.kind) {
    case SMNEO_STEP_SEND: {
        const smneo_request *r = st.request;
        jl->awaiting = 1;
        lua_pushstring(L, "send");
        lua_pushstring(L, r->method ? r->method : "POST");
        lua_pushstring(L, r->url ? r->url : "");
        push_headers(L, r);
        lua_pushlstring(L, r->body ? r->body : "", r->body ? r->body_len : 0);
        return 5;
    }
    case SMNEO_STEP_SLEEP:
        lua_pushstring(L, "sleep");
        lua_pushnumber(L, (lua_Number)st.sleep_ms / 1000.0);
        return 2;
    case SMNEO_STEP_EVENT:
        lua_pushstring(L, "event");
        joblogs_keep(L, 1, jl);
        if (st.event == SMNEO_EVENT_LOG) {
            smneo_log_event ev;
            lua_pushstring(L, "log");
            if (smneo_joblogs_event(&ev, jl->l) == 0)
                push_log_event(L, &ev);
            else
                lua_pushnil(L);
        } else if (st.event == SMNEO_EVENT_WARNING) {
            lua_pushstring(L, "warning");
            lua_pushstring(L, smneo_joblogs_warning(jl->l));
        } else {
            lua_pushstring(L, "status");
            lua_pushstring(L, smneo_joblogs_status(jl->l));
        }
        return 3;
    case SMNEO_STEP_DONE:
    default: {
        joblogs_keep(L, 1, jl);
        smneo_error *err = errhold_new(L);
        int rc = smneo_joblogs_result(jl->l, err);
        joblogs_release(jl);
        lua_pushstring(L, "done");
        if (rc == 0) {
            lua_pushboolean(L, 1);
            return 2;
        }
        lua_pushnil(L);
        push_error(L, rc, err);
        return 3;
    }
    }
}

static int joblogs_feed(lua_State *L)
{
    ljoblogs *jl = check_live_joblogs(L);
    if (!jl->awaiting)
        raise_msg(L, SMNEO_EINVAL, "feed(): there is no send waiting for an answer");
    lbox *b = response_args(L, "feed()");
    jl->awaiting = 0;
    smneo_joblogs_feed(jl->l, (smneo_response *)box_take(b), 0, NULL);
    return 0;
}

static int joblogs_feed_error(lua_State *L)
{
    ljoblogs *jl = check_live_joblogs(L);
    if (!jl->awaiting)
        raise_msg(L, SMNEO_EINVAL, "feed_error(): there is no send waiting for an answer");
    int code = transport_error_arg(L, "feed_error()");
    const char *msg = luaL_optstring(L, 3, "transport error");
    jl->awaiting = 0;
    smneo_joblogs_feed(jl->l, NULL, code, msg);
    return 0;
}

static int joblogs_cancel(lua_State *L)
{
    ljoblogs *jl = (ljoblogs *)luaL_checkudata(L, 1, MT_JOBLOGS);
    if (jl->l)
        smneo_joblogs_cancel(jl->l);
    return 0;
}

static void make_joblogs_metatable(lua_State *L)
{
    static const luaL_Reg methods[] = {{"warnings", joblogs_warnings}, {"status", joblogs_status},
                                       {"close", joblogs_gc},         {"next", joblogs_next},
                                       {"feed", joblogs_feed},        {"feed_error", joblogs_feed_error},
                                       {"cancel", joblogs_cancel},    {NULL, NULL}};
    luaL_newmetatable(L, MT_JOBLOGS);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, joblogs_gc);
    lua_setfield(L, -2, "__gc");
#if COMPAT_HAS_CLOSE
    lua_pushcfunction(L, joblogs_gc);
    lua_setfield(L, -2, "__close");
#endif
    lua_pop(L, 1);
}

/* ---- client:compile_many{...} (smneo_compile_many) ---------------------------------- */

static const char *const compile_job_keys[] = {
    "model", "framework", "role_arn", "s3_bucket", "target_device", "target_os", "target_arch",
    "target_accelerator", "data_input_config", "framework_version", "compiler_options", "s3_prefix",
    "job_name", "output_dir", "extract", "timeout", "delay", "max_delay", "max_runtime_seconds", "tags",
    "kms_key_id", "vpc_config", "model_package_version_arn", "max_wait_seconds", "max_pending_seconds", NULL};

static void free_compile_many_result(void *p) { smneo_compile_many_result_free((smneo_compile_many_result *)p); }

/* Copies the compile keys of the table at `from` into the table at `to`. */
static void copy_job_keys(lua_State *L, int from, int to)
{
    for (size_t i = 0; compile_job_keys[i]; i++) {
        lua_getfield(L, from, compile_job_keys[i]);
        if (lua_isnil(L, -1))
            lua_pop(L, 1);
        else
            lua_setfield(L, to, compile_job_keys[i]);
    }
}

/* A models x targets target into the job table on the top: "ml_c5",
 * "OS/ARCH[/ACCELERATOR]" or a table of compile keys. */
static void set_target(lua_State *L, int target)
{
    int job = lua_gettop(L);
    if (lua_istable(L, target)) {
        check_known_keys(L, target, compile_job_keys, "compile_many: a target");
        copy_job_keys(L, target, job);
        return;
    }
    if (lua_type(L, target) != LUA_TSTRING)
        raise_msg(L, SMNEO_EINVAL, "compile_many: a target is a device (\"ml_c5\"), a platform (\"LINUX/ARM64\") or "
                  "a table of compile options, not a %s", luaL_typename(L, target));
    size_t len;
    const char *t = lua_tolstring(L, target, &len);
    static const char *const parts[] = {"target_os", "target_arch", "target_accelerator"};
    const char *slash = memchr(t, '/', len);
    if (!slash) {
        lua_pushvalue(L, target);
        lua_setfield(L, job, "target_device");
        return;
    }
    const char *p = t, *end = t + len;
    for (int i = 0; p <= end; i++) {
        const char *q = memchr(p, '/', (size_t)(end - p));
        if (!q)
            q = end;
        if (i > 2 || q == p || (i == 0 && q == end))
            raise_msg(L, SMNEO_EINVAL, "compile_many: target \"%s\": give a device (\"ml_c5\") or "
                      "OS/ARCH[/ACCELERATOR] (\"LINUX/ARM64\")", t);
        lua_pushlstring(L, p, (size_t)(q - p));
        lua_setfield(L, job, parts[i]);
        p = q + 1;
    }
}

/* client:compile_many{jobs = {{model=, target_device=, ...}, ...} or
 * models = {...}, targets = {...}; max_concurrent=, state_file=,
 * retry_failed=, keep_jobs_on_cancel=, callback=, and compile's options for
 * every job} -> rows */
static int client_compile_many(lua_State *L)
{
    static const char *const names[] = {
        "model", "framework", "role_arn", "s3_bucket", "target_device", "target_os", "target_arch",
        "target_accelerator", "data_input_config", "framework_version", "compiler_options", "s3_prefix",
        "job_name", "output_dir", "extract", "timeout", "delay", "max_delay", "max_runtime_seconds", "tags",
        "kms_key_id", "vpc_config", "model_package_version_arn", "max_wait_seconds", "max_pending_seconds",
        "jobs", "models", "targets", "max_concurrent", "state_file", "retry_failed",
        "keep_jobs_on_cancel", "callback", NULL};
    lclient *cl = check_blocking_client(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    check_known_keys(L, 2, names, "compile_many");
    lua_newtable(L); /* 3: the merged job tables */
    lua_getfield(L, 2, "jobs");    /* 4 */
    lua_getfield(L, 2, "models");  /* 5 */
    lua_getfield(L, 2, "targets"); /* 6 */
    size_t n = 0;
    if (!lua_isnil(L, 4)) {
        if (!lua_istable(L, 4) || !lua_isnil(L, 5) || !lua_isnil(L, 6))
            raise_msg(L, SMNEO_EINVAL, "compile_many: give either jobs (a list of compile option tables) or models "
                      "and targets (two lists)");
        size_t count = (size_t)lua_rawlen(L, 4);
        for (size_t i = 1; i <= count; i++) {
            lua_rawgeti(L, 4, (lua_Integer)i);
            if (!lua_istable(L, -1))
                raise_msg(L, SMNEO_EINVAL, "compile_many: jobs[%d] must be a table of compile options", (int)i);
            char what[64];
            snprintf(what, sizeof what, "compile_many: jobs[%d]", (int)i);
            check_known_keys(L, lua_gettop(L), compile_job_keys, what);
            lua_newtable(L);
            copy_job_keys(L, 2, lua_gettop(L));
            copy_job_keys(L, lua_gettop(L) - 1, lua_gettop(L));
            lua_rawseti(L, 3, (lua_Integer)++n);
            lua_pop(L, 1);
        }
    } else {
        if (!lua_istable(L, 5) || !lua_istable(L, 6) || lua_rawlen(L, 5) == 0 || lua_rawlen(L, 6) == 0)
            raise_msg(L, SMNEO_EINVAL, "compile_many: give either jobs (a list of compile option tables) or models "
                      "and targets (two non-empty lists)");
        size_t nm = (size_t)lua_rawlen(L, 5), nt = (size_t)lua_rawlen(L, 6);
        for (size_t m = 1; m <= nm; m++)
            for (size_t t = 1; t <= nt; t++) {
                lua_newtable(L);
                copy_job_keys(L, 2, lua_gettop(L));
                lua_rawgeti(L, 5, (lua_Integer)m);
                lua_setfield(L, -2, "model");
                lua_rawgeti(L, 6, (lua_Integer)t);
                lua_insert(L, -2);
                set_target(L, lua_gettop(L) - 1);
                lua_rawseti(L, 3, (lua_Integer)++n);
                lua_pop(L, 1);
            }
    }
    smneo_compile_options *jobs =
        (smneo_compile_options *)compat_newuserdata(L, (n ? n : 1) * sizeof(smneo_compile_options));
    const smneo_compile_options **ptrs =
        (const smneo_compile_options **)compat_newuserdata(L, (n ? n : 1) * sizeof(*ptrs));
    for (size_t i = 0; i < n; i++) {
        ptrs[i] = &jobs[i];
        luaL_checkstack(L, 8, "compile_many: too many jobs");
        smneo_compile_options d = SMNEO_COMPILE_OPTIONS_INIT;
        jobs[i] = d;
        lua_rawgeti(L, 3, (lua_Integer)(i + 1)); /* stays on the stack: it anchors the strings */
        read_compile_options(L, lua_gettop(L), &jobs[i], "compile_many");
    }
    smneo_compile_many_options mo = SMNEO_COMPILE_MANY_OPTIONS_INIT;
    lua_Number num;
    int b;
    if (opt_number(L, 2, "max_concurrent", &num)) {
        if (num < 1 || num > 100000 || floor(num) != num)
            raise_msg(L, SMNEO_EINVAL, "compile_many: max_concurrent must be a positive integer");
        mo.max_concurrent = (unsigned)num;
    }
    mo.state_file = opt_string(L, 2, "state_file");
    if ((b = opt_bool(L, 2, "retry_failed")) >= 0)
        mo.retry_failed = b;
    if ((b = opt_bool(L, 2, "keep_jobs_on_cancel")) >= 0)
        mo.keep_jobs_on_cancel = b;
    compile_ctx x;
    if (callback_of(L, &x, "compile_many")) {
        mo.callback = compile_many_cb;
        mo.payload = &x;
    }
    smneo_error *err = errhold_new(L);
    lbox *rb = box_new(L, free_compile_many_result);
    smneo_compile_many_result *res = NULL;
    cl->calls++; /* as for compile: the callback may close the client */
    int rc = smneo_compile_many(&res, cl->c, ptrs, n, &mo, err);
    cl->calls--;
    client_maybe_free(cl);
    rb->p = res;
    if (x.failed)
        return lua_error(L);
    if (!res) {
        push_error(L, rc, err);
        return lua_error(L);
    }
    size_t count = smneo_compile_many_result_count(res);
    lua_createtable(L, (int)count, 0);
    for (size_t i = 0; i < count; i++) {
        const smneo_compile_row *row = smneo_compile_many_result_row(res, i);
        lua_createtable(L, 0, 10);
        set_str(L, "model", row->model);
        set_str(L, "target", row->target);
        set_str(L, "compilation_job_name", row->job_name);
        set_str(L, "compilation_job_status", row->status);
        lua_pushnumber(L, row->duration);
        lua_setfield(L, -2, "duration_seconds");
        set_str(L, "artifact_path", row->artifact_path);
        lua_pushboolean(L, row->digest_verified);
        lua_setfield(L, -2, "digest_verified");
        set_str(L, "failure_reason", row->failure_reason);
        lua_pushboolean(L, row->stopped_by_smneo);
        lua_setfield(L, -2, "stopped_by_smneo");
        lua_pushboolean(L, row->skipped);
        lua_setfield(L, -2, "skipped");
        if (smneo_compile_many_result_diagnosis(res, i)) {
            push_diagnosis(L, smneo_compile_many_result_diagnosis(res, i));
            lua_setfield(L, -2, "diagnosis");
        }
        lua_rawseti(L, -2, (lua_Integer)(i + 1));
    }
    lua_pushboolean(L, rc == 0);
    return 2;
}

/* client:build_request(operation, params, {timestamp = epoch}) */
static int client_build_request(lua_State *L)
{
    static const char *const names[] = {"timestamp", NULL};
    lclient *cl = check_client(L, 1);
    const smneo_operation *op = check_operation(L, 2);
    lua_settop(L, 4);
    int64_t ts = 0;
    if (!lua_isnil(L, 4)) {
        lua_Number n;
        luaL_checktype(L, 4, LUA_TTABLE);
        check_known_keys(L, 4, names, "build_request options");
        if (opt_number(L, 4, "timestamp", &n))
            ts = (int64_t)n;
    }
    size_t len;
    const char *json = encode_params(L, 3, op->name, &len);
    smneo_error *err = errhold_new(L);
    lbox *b = box_new(L, free_request);
    smneo_request *req = NULL;
    cl->cur_L = L;
    int rc = smneo_client_build_request(&req, cl->c, op->name, json, len, ts, err);
    cl->cur_L = NULL;
    b->p = req;
    if (rc != 0)
        return raise_error(L, rc, err);
    push_request(L, req);
    return 1;
}

/* parse_response(operation, status, headers, body): module function and
 * client method (the client is not needed). */
static int parse_response_at(lua_State *L, int base)
{
    const smneo_operation *op = check_operation(L, base);
    lua_Integer status = luaL_checkinteger(L, base + 1);
    size_t blen = 0;
    const char *body = luaL_optlstring(L, base + 3, "", &blen);
    lbox *b = box_new(L, free_response);
    smneo_response *resp = NULL;
    if (smneo_response_new(&resp, (int)status) != 0)
        raise_msg(L, SMNEO_ENOMEM, "out of memory");
    b->p = resp;
    if (lua_istable(L, base + 2)) {
        lua_pushnil(L);
        while (lua_next(L, base + 2) != 0) {
            if (lua_type(L, -2) == LUA_TSTRING && (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER)) {
                size_t nl, vl;
                const char *name = lua_tolstring(L, -2, &nl);
                lua_pushvalue(L, -1);
                const char *val = lua_tolstring(L, -1, &vl);
                if (smneo_response_add_header(resp, name, nl, val, vl) != 0)
                    raise_msg(L, SMNEO_ENOMEM, "out of memory");
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
        }
    } else if (!lua_isnoneornil(L, base + 2)) {
        raise_msg(L, SMNEO_EINVAL, "parse_response: headers must be a table, not a %s", luaL_typename(L, base + 2));
    }
    if (blen && smneo_response_append_body(resp, body, blen) != 0)
        raise_msg(L, SMNEO_ENOMEM, "out of memory");
    smneo_error *err = errhold_new(L);
    lbox *rb = box_new(L, free_result);
    smneo_result *res = NULL;
    int rc = smneo_protocol_parse(&res, op->name, resp, err);
    rb->p = res;
    if (rc != 0)
        return raise_error(L, rc, err);
    push_result(L, res);
    return 1;
}

static int client_parse_response(lua_State *L)
{
    luaL_checkudata(L, 1, MT_CLIENT);
    return parse_response_at(L, 2);
}

static int l_parse_response(lua_State *L) { return parse_response_at(L, 1); }


/* ---- smneo.artifact ---------------------------------------------------------------- */

/* Progress callbacks run inside core frames: the Lua function is called under
 * lua_pcall (nothing can longjmp out of the callback); an error cancels the
 * core call and is re-raised after the core has returned. */
typedef struct progress_ctx {
    lua_State *L;
    int fn;     /* stack index of the Lua function */
    int failed; /* 1: the error value is on the stack top */
} progress_ctx;

static int progress_cb(uint64_t done, uint64_t total, void *payload)
{
    progress_ctx *pc = (progress_ctx *)payload;
    lua_State *L = pc->L;
    if (pc->failed)
        return 1;
    if (!lua_checkstack(L, 4))
        return 0; /* cannot report: keep going */
    lua_pushvalue(L, pc->fn);
    lua_pushnumber(L, (lua_Number)done);
    lua_pushnumber(L, (lua_Number)total);
    if (lua_pcall(L, 2, 1, 0) != 0) {
        pc->failed = 1;
        return 1;
    }
    int cancel = lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1);
    lua_pop(L, 1);
    return cancel;
}

/* Reads opts.progress (function) at table index t into pc (0 when absent). */
static int read_progress(lua_State *L, int t, progress_ctx *pc)
{
    pc->L = L;
    pc->fn = 0;
    pc->failed = 0;
    if (!t)
        return 0;
    lua_getfield(L, t, "progress");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    if (!lua_isfunction(L, -1))
        raise_msg(L, SMNEO_EINVAL, "option progress must be a function, not a %s", luaL_typename(L, -1));
    pc->fn = lua_gettop(L); /* stays on the stack */
    return 1;
}

/* After a core call with a progress context: re-raise the callback's error. */
static void progress_rethrow(lua_State *L, progress_ctx *pc)
{
    if (pc->failed)
        lua_error(L);
}

/* ---- S3 transfer: client:upload_file{...}, client:download_file{...} ----------------- */

/* Progress of a transfer: Lua runs only on the thread that owns the state
 * (a multipart upload reports from its part threads too; done only grows,
 * so the owner's calls and the final one are enough). Nothing can raise. */
typedef struct s3_progress_ctx {
    progress_ctx pc;
    pthread_t owner;
} s3_progress_ctx;

static int s3_progress_cb(uint64_t done, uint64_t total, void *payload)
{
    s3_progress_ctx *x = (s3_progress_ctx *)payload;
    if (x->pc.failed)
        return 1;
    if (!pthread_equal(pthread_self(), x->owner))
        return 0;
    return progress_cb(done, total, &x->pc);
}

static uint64_t opt_size(lua_State *L, int t, const char *k)
{
    lua_Number n = 0;
    if (opt_number(L, t, k, &n) && (!(n >= 1) || n > 9007199254740992.0 || n != floor(n)))
        raise_msg(L, SMNEO_EINVAL, "option %s must be a positive whole number of bytes", k);
    return (uint64_t)n;
}

/* upload: 1 for upload_file, 0 for download_file. */
static int s3_transfer(lua_State *L, int upload)
{
    static const char *const up_names[] = {"filename", "bucket", "key", "content_type", "metadata",
                                           "server_side_encryption", "sse_kms_key_id", "multipart_threshold",
                                           "part_size", "concurrency", "progress", NULL};
    static const char *const down_names[] = {"filename", "bucket", "key", "progress", NULL};
    const char *what = upload ? "upload_file" : "download_file";
    lclient *cl = check_blocking_client(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    check_known_keys(L, 2, upload ? up_names : down_names, what);
    const char *filename = opt_string(L, 2, "filename");
    const char *bucket = opt_string(L, 2, "bucket");
    const char *key = opt_string(L, 2, "key");
    if (!filename || !*filename || !bucket || !*bucket || !key || !*key)
        raise_msg(L, SMNEO_EINVAL, "%s: filename, bucket and key are required (non-empty strings)", what);
    smneo_s3_options o = SMNEO_S3_OPTIONS_INIT;
    const char *failed_op = NULL;
    o.failed_operation = &failed_op;
    if (upload) {
        o.content_type = opt_string(L, 2, "content_type");
        o.server_side_encryption = opt_string(L, 2, "server_side_encryption");
        o.sse_kms_key_id = opt_string(L, 2, "sse_kms_key_id");
        o.multipart_threshold = opt_size(L, 2, "multipart_threshold");
        o.part_size = opt_size(L, 2, "part_size");
        uint64_t conc = opt_size(L, 2, "concurrency");
        if (conc > 1000)
            raise_msg(L, SMNEO_EINVAL, "option concurrency must be at most 1000");
        o.concurrency = (int)conc;
        lua_getfield(L, 2, "metadata");
        if (!lua_isnil(L, -1)) {
            if (!lua_istable(L, -1))
                raise_msg(L, SMNEO_EINVAL, "option metadata must be a table of strings, not a %s",
                          luaL_typename(L, -1));
            int mt = lua_gettop(L); /* stays on the stack: its strings are borrowed */
            size_t n = 0;
            for (lua_pushnil(L); lua_next(L, mt); lua_pop(L, 1)) {
                if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
                    raise_msg(L, SMNEO_EINVAL, "option metadata must map strings to strings");
                n++;
            }
            const char **pairs = (const char **)compat_newuserdata(L, (2 * n + 1) * sizeof *pairs);
            size_t i = 0;
            for (lua_pushnil(L); lua_next(L, mt); lua_pop(L, 1)) {
                pairs[i++] = lua_tostring(L, -2);
                pairs[i++] = lua_tostring(L, -1);
            }
            pairs[i] = NULL;
            o.metadata = pairs;
        }
        /* the metadata table and its array stay on the stack */
    }
    char *uri = NULL;
    {
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        luaL_addstring(&b, "s3://");
        luaL_addstring(&b, bucket);
        luaL_addchar(&b, '/');
        luaL_addstring(&b, key);
        luaL_pushresult(&b); /* stays on the stack */
        uri = (char *)lua_tostring(L, -1);
    }
    s3_progress_ctx px;
    px.owner = pthread_self();
    if (read_progress(L, 2, &px.pc)) {
        o.progress = s3_progress_cb;
        o.payload = &px;
    }
    smneo_error *err = errhold_new(L);
    cl->calls++;
    cl->cur_L = L;
    int rc = upload ? smneo_s3_upload(cl->c, filename, uri, &o, err) : smneo_s3_download(cl->c, uri, filename, &o, err);
    cl->cur_L = NULL;
    cl->calls--;
    client_maybe_free(cl);
    progress_rethrow(L, &px.pc); /* the callback's own error, after the transfer has stopped */
    if (rc != 0) {
        push_error(L, rc, err);
        if (failed_op) {
            lua_pushstring(L, failed_op);
            lua_setfield(L, -2, "operation");
        }
        return lua_error(L);
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int client_upload_file(lua_State *L) { return s3_transfer(L, 1); }
static int client_download_file(lua_State *L) { return s3_transfer(L, 0); }

static int opt_table(lua_State *L, int idx, const char *const *names, const char *what)
{
    if (lua_isnoneornil(L, idx))
        return 0;
    luaL_checktype(L, idx, LUA_TTABLE);
    check_known_keys(L, idx, names, what);
    return compat_absindex(L, idx);
}

/* smneo.artifact.pack(source, dest, {compresslevel, threads, source_date_epoch,
 * block_size, base_dir, progress}) -> {path, size, digest}. source: a
 * directory, or an array of paths relative to base_dir. */
static int l_artifact_pack(lua_State *L)
{
    static const char *const names[] = {"compresslevel", "threads", "source_date_epoch", "block_size",
                                        "base_dir", "progress", NULL};
    lua_settop(L, 3);
    int is_list = lua_istable(L, 1);
    const char *source = is_list ? NULL : luaL_checkstring(L, 1);
    const char *dest = luaL_checkstring(L, 2);
    int t = opt_table(L, 3, names, "artifact.pack options");
    smneo_pack_options po = SMNEO_PACK_OPTIONS_INIT;
    lua_Number n;
    const char *base_dir = NULL;
    if (t) {
        if (opt_number(L, t, "compresslevel", &n)) {
            if (n < 1 || n > 9 || floor(n) != n)
                raise_msg(L, SMNEO_EINVAL, "artifact.pack: compresslevel must be an integer from 1 to 9");
            po.compress_level = (int)n;
        }
        if (opt_number(L, t, "threads", &n)) {
            if (n < 0 || n > 256 || floor(n) != n)
                raise_msg(L, SMNEO_EINVAL, "artifact.pack: threads must be an integer from 0 (automatic) to 256");
            po.threads = (int)n;
        }
        if (opt_number(L, t, "source_date_epoch", &n))
            po.source_date_epoch = (int64_t)n;
        if (opt_number(L, t, "block_size", &n)) {
            if (n < 0)
                raise_msg(L, SMNEO_EINVAL, "artifact.pack: block_size must not be negative");
            po.block_size = (size_t)n;
        }
        base_dir = opt_string(L, t, "base_dir");
    }
    progress_ctx pc;
    if (read_progress(L, t, &pc)) {
        po.progress = progress_cb;
        po.payload = &pc;
    }
    /* the path list: pointers into Lua strings held by the table at 1 */
    lbox *lb = NULL;
    const char **paths = NULL;
    size_t npaths = 0;
    if (is_list) {
        npaths = lua_rawlen(L, 1);
        if (npaths == 0)
            raise_msg(L, SMNEO_EINVAL, "artifact.pack: the list of files is empty");
        lb = box_new(L, free);
        paths = (const char **)calloc(npaths, sizeof *paths);
        if (!paths)
            raise_msg(L, SMNEO_ENOMEM, "out of memory");
        lb->p = (void *)paths;
        for (size_t i = 0; i < npaths; i++) {
            lua_rawgeti(L, 1, (int)i + 1);
            if (lua_type(L, -1) != LUA_TSTRING)
                raise_msg(L, SMNEO_EINVAL, "artifact.pack: file list entry %d must be a string", (int)i + 1);
            paths[i] = lua_tostring(L, -1); /* anchored by the table */
            lua_pop(L, 1);
        }
    }
    smneo_error *err = errhold_new(L);
    smneo_artifact_pack_result *res = NULL;
    int rc = is_list ? smneo_artifact_pack_files(&res, base_dir, paths, npaths, dest, &po, err)
                     : smneo_artifact_pack(&res, source, dest, &po, err);
    /* copy the result out before anything can raise */
    char digest[160] = "";
    char path[4096] = "";
    uint64_t size = 0;
    if (rc == 0 && res) {
        const char *d = smneo_artifact_pack_result_digest(res);
        const char *p = smneo_artifact_pack_result_path(res);
        snprintf(digest, sizeof digest, "%s", d ? d : "");
        snprintf(path, sizeof path, "%s", p ? p : dest);
        size = smneo_artifact_pack_result_size(res);
    }
    smneo_artifact_pack_result_free(res);
    progress_rethrow(L, &pc);
    if (rc != 0)
        return raise_error(L, rc, err);
    lua_createtable(L, 0, 3);
    lua_pushstring(L, path);
    lua_setfield(L, -2, "path");
    compat_pushint64(L, (int64_t)size);
    lua_setfield(L, -2, "size");
    lua_pushstring(L, digest);
    lua_setfield(L, -2, "digest");
    return 1;
}

/* smneo.artifact.digest(path, algorithm = "blake2b", {progress}) -> hex */
static int l_artifact_digest(lua_State *L)
{
    static const char *const names[] = {"progress", NULL};
    lua_settop(L, 3);
    const char *path = luaL_checkstring(L, 1);
    const char *alg = luaL_optstring(L, 2, NULL);
    int t = opt_table(L, 3, names, "artifact.digest options");
    smneo_digest_options dopt = SMNEO_DIGEST_OPTIONS_INIT;
    progress_ctx pc;
    if (read_progress(L, t, &pc)) {
        dopt.progress = progress_cb;
        dopt.payload = &pc;
    }
    smneo_error *err = errhold_new(L);
    lbox *b = box_new(L, free);
    char *hex = NULL;
    int rc = smneo_artifact_digest(&hex, path, alg, &dopt, err);
    b->p = hex;
    progress_rethrow(L, &pc);
    if (rc != 0)
        return raise_error(L, rc, err);
    lua_pushstring(L, hex);
    return 1;
}

/* smneo.artifact.verify(path, expected, {progress}) -> true, or raises
 * DigestMismatch. */
static int l_artifact_verify(lua_State *L)
{
    static const char *const names[] = {"progress", NULL};
    lua_settop(L, 3);
    const char *path = luaL_checkstring(L, 1);
    const char *expected = luaL_checkstring(L, 2);
    int t = opt_table(L, 3, names, "artifact.verify options");
    smneo_digest_options dopt = SMNEO_DIGEST_OPTIONS_INIT;
    progress_ctx pc;
    if (read_progress(L, t, &pc)) {
        dopt.progress = progress_cb;
        dopt.payload = &pc;
    }
    smneo_error *err = errhold_new(L);
    int rc = smneo_artifact_verify(path, expected, &dopt, err);
    progress_rethrow(L, &pc);
    if (rc != 0)
        return raise_error(L, rc, err);
    lua_pushboolean(L, 1);
    return 1;
}

static void free_inspection(void *p) { smneo_artifact_inspection_free((smneo_artifact_inspection *)p); }

/* The limits inspect and extract share: max_bytes, max_entries (at least 1),
 * max_ratio (negative: none); absent fields stay 0, the core's default. */
static void read_limits(lua_State *L, int t, const char *fn, uint64_t *max_bytes, uint64_t *max_entries,
                        double *max_ratio)
{
    static const char *const counts[] = {"max_bytes", "max_entries"};
    uint64_t *outs[] = {max_bytes, max_entries};
    lua_Number n;
    for (int i = 0; t && i < 2; i++)
        if (opt_number(L, t, counts[i], &n)) {
            if (n < 1)
                raise_msg(L, SMNEO_EINVAL, "artifact.%s: %s must be at least 1", fn, counts[i]);
            *outs[i] = (uint64_t)n;
        }
    if (t && opt_number(L, t, "max_ratio", &n))
        *max_ratio = n;
}

/* smneo.artifact.inspect(path, {framework, target, compiler_options,
 * max_bytes, max_entries, max_ratio, progress}) -> {members = {{name, type,
 * size, linkname}...}, single_gzip_member = bool, issues = {...}} */
static int l_artifact_inspect(lua_State *L)
{
    static const char *const names[] = {"framework", "target",    "compiler_options", "max_bytes",
                                        "max_entries", "max_ratio", "progress",         NULL};
    lua_settop(L, 2);
    const char *path = luaL_checkstring(L, 1);
    int t = opt_table(L, 2, names, "artifact.inspect options");
    smneo_inspect_options io = SMNEO_INSPECT_OPTIONS_INIT;
    if (t) {
        io.framework = opt_string(L, t, "framework");
        io.target = opt_string(L, t, "target");
        io.compiler_options = opt_string(L, t, "compiler_options");
    }
    read_limits(L, t, "inspect", &io.max_bytes, &io.max_entries, &io.max_ratio);
    progress_ctx pc;
    if (read_progress(L, t, &pc)) {
        io.progress = progress_cb;
        io.payload = &pc;
    }
    smneo_error *err = errhold_new(L);
    lbox *b = box_new(L, free_inspection);
    smneo_artifact_inspection *in = NULL;
    int rc = smneo_artifact_inspect(&in, path, &io, err);
    b->p = in;
    progress_rethrow(L, &pc);
    if (rc != 0)
        return raise_error(L, rc, err);
    size_t count = smneo_artifact_inspection_member_count(in);
    lua_createtable(L, 0, 3);
    lua_createtable(L, count > 100000 ? 100000 : (int)count, 0);
    for (size_t i = 0; i < count; i++) {
        const smneo_artifact_member *m = smneo_artifact_inspection_member_at(in, i);
        if (!m)
            break;
        lua_createtable(L, 0, 4);
        set_str(L, "name", m->name);
        lua_pushstring(L, smneo_member_type_name(m->type));
        lua_setfield(L, -2, "type");
        compat_pushint64(L, (int64_t)m->size);
        lua_setfield(L, -2, "size");
        set_str(L, "linkname", m->linkname);
        lua_rawseti(L, -2, (int)i + 1);
    }
    push_array_mt(L);
    lua_setmetatable(L, -2);
    lua_setfield(L, -2, "members");
    lua_pushboolean(L, smneo_artifact_inspection_single_gzip_member(in));
    lua_setfield(L, -2, "single_gzip_member");
    push_issues(L, smneo_artifact_inspection_issues(in));
    lua_setfield(L, -2, "issues");
    return 1;
}

/* smneo.artifact.extract(path, dest_dir, {max_bytes, max_entries, max_ratio,
 * progress}) -> true, or raises UnsafeArchive / ArchiveError / ... */
static int l_artifact_extract(lua_State *L)
{
    static const char *const names[] = {"max_bytes", "max_entries", "max_ratio", "progress", NULL};
    lua_settop(L, 3);
    const char *path = luaL_checkstring(L, 1);
    const char *dest = luaL_checkstring(L, 2);
    int t = opt_table(L, 3, names, "artifact.extract options");
    smneo_extract_options eo = SMNEO_EXTRACT_OPTIONS_INIT;
    read_limits(L, t, "extract", &eo.max_bytes, &eo.max_entries, &eo.max_ratio);
    progress_ctx pc;
    if (read_progress(L, t, &pc)) {
        eo.progress = progress_cb;
        eo.payload = &pc;
    }
    smneo_error *err = errhold_new(L);
    int rc = smneo_artifact_extract(path, dest, &eo, err);
    progress_rethrow(L, &pc);
    if (rc != 0)
        return raise_error(L, rc, err);
    lua_pushboolean(L, 1);
    return 1;
}

static void push_artifact_table(lua_State *L)
{
    static const luaL_Reg funcs[] = {{"pack", l_artifact_pack},
                                     {"digest", l_artifact_digest},
                                     {"verify", l_artifact_verify},
                                     {"inspect", l_artifact_inspect},
                                     {"extract", l_artifact_extract},
                                     {NULL, NULL}};
    lua_newtable(L);
    luaL_setfuncs(L, funcs, 0);
}

/* ---- module functions ---------------------------------------------------------- */

/* smneo.validate(operation, params, {allow_unknown_enum_values = bool}) */
static int l_validate(lua_State *L)
{
    static const char *const names[] = {"allow_unknown_enum_values", NULL};
    const smneo_operation *op = check_operation(L, 1);
    lua_settop(L, 3);
    smneo_validate_options vo = SMNEO_VALIDATE_OPTIONS_INIT;
    if (!lua_isnil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        check_known_keys(L, 3, names, "validate options");
        if (opt_bool(L, 3, "allow_unknown_enum_values") == 1)
            vo.allow_unknown_enum_values = 1;
    }
    size_t len;
    const char *json = encode_params(L, 2, op->name, &len);
    smneo_error *err = errhold_new(L);
    lbox *b = box_new(L, free_issues);
    smneo_issues *issues = NULL;
    int rc = smneo_validate(&issues, op->name, json, len, &vo, err);
    b->p = issues;
    if (rc != 0 && !(rc == SMNEO_EVALIDATION && (issues || err->issues)))
        return raise_error(L, rc, err);
    push_issues(L, issues ? issues : err->issues);
    return 1;
}

/* smneo.explain(description, logs) -> diagnosis table (docs/diagnosis.md).
 * description: the table describe_compilation_job returns, a FailureReason
 * string, or nil; logs: an array of strings or of events with a `message`. */
static void free_diagnosis(void *p) { smneo_diagnosis_free((smneo_diagnosis *)p); }

static int diagnosis_tostring(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "text");
    if (!lua_isstring(L, -1)) {
        lua_pop(L, 1);
        lua_pushliteral(L, "smneo.diagnosis");
    }
    return 1;
}

/* The diagnosis table (smneo.explain's answer, compile's error.diagnosis). */
static void push_diagnosis(lua_State *L, const smneo_diagnosis *d)
{
    char *text = NULL;
    if (smneo_diagnosis_format(&text, d) != 0)
        raise_msg(L, SMNEO_ENOMEM, "out of memory");
    lua_createtable(L, 0, 16);
    lua_pushstring(L, text);
    free(text);
    lua_setfield(L, -2, "text");
    set_str(L, "id", smneo_diagnosis_id(d));
    lua_pushboolean(L, smneo_diagnosis_matched(d));
    lua_setfield(L, -2, "matched");
    set_str(L, "category", smneo_failure_category_name(smneo_diagnosis_category(d)));
    set_str(L, "title", smneo_diagnosis_title(d));
    set_str(L, "cause", smneo_diagnosis_cause(d));
    set_str(L, "fix", smneo_diagnosis_fix(d));
    set_str(L, "rule", smneo_diagnosis_rule(d));
    set_str(L, "source", smneo_diagnosis_source(d));
    set_str(L, "evidence", smneo_diagnosis_evidence(d));
    set_str(L, "evidence_source", smneo_evidence_kind_name(smneo_diagnosis_evidence_kind(d)));
    if (smneo_diagnosis_evidence_line(d) != (size_t)-1) { /* 1-based, like the logs array */
        lua_pushinteger(L, (lua_Integer)smneo_diagnosis_evidence_line(d) + 1);
        lua_setfield(L, -2, "evidence_line");
    }
    set_str(L, "job_name", smneo_diagnosis_job_name(d));
    set_str(L, "status", smneo_diagnosis_status(d));
    set_str(L, "failure_reason", smneo_diagnosis_failure_reason(d));
    push_issues(L, smneo_diagnosis_issues(d));
    lua_setfield(L, -2, "issues");
    if (luaL_newmetatable(L, "smneo.diagnosis")) {
        lua_pushcfunction(L, diagnosis_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_setmetatable(L, -2);
}

static int l_explain(lua_State *L)
{
    lua_settop(L, 2);
    size_t jlen = 0;
    const char *json = NULL;
    if (lua_type(L, 1) == LUA_TSTRING) { /* a FailureReason */
        size_t n;
        const char *s = lua_tolstring(L, 1, &n);
        lbox *b = box_new(L, free_jsonw);
        smneo_jsonw *w = NULL;
        if (smneo_jsonw_new(&w) != 0)
            raise_msg(L, SMNEO_ENOMEM, "out of memory");
        b->p = w;
        if (smneo_jsonw_begin_object(w) || smneo_jsonw_key(w, "FailureReason", 13) || smneo_jsonw_string(w, s, n) ||
            smneo_jsonw_end_object(w))
            raise_msg(L, SMNEO_ENOMEM, "out of memory");
        json = smneo_jsonw_data(&jlen, w);
    } else if (lua_istable(L, 1)) {
        json = encode_params(L, 1, NULL, &jlen);
    } else if (!lua_isnil(L, 1)) {
        return raise_msg(L, SMNEO_EINVAL,
                         "description must be the table describe_compilation_job returns, a FailureReason string, "
                         "or nil, not a %s",
                         luaL_typename(L, 1));
    }
    size_t n = 0;
    if (!lua_isnil(L, 2)) {
        if (!lua_istable(L, 2))
            return raise_msg(L, SMNEO_EINVAL, "logs must be an array of lines or log events, not a %s",
                             luaL_typename(L, 2));
        n = lua_rawlen(L, 2);
    }
    /* the lines stay referenced by the logs table while the core reads them */
    const char **lines = compat_newuserdata(L, (n ? n : 1) * sizeof *lines);
    size_t *lens = compat_newuserdata(L, (n ? n : 1) * sizeof *lens);
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, 2, (int)i + 1);
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "message");
            lua_remove(L, -2);
        }
        if (lua_type(L, -1) != LUA_TSTRING)
            return raise_msg(L, SMNEO_EINVAL, "logs[%d] must be a string or an event with a string `message`, not a %s",
                             (int)i + 1, luaL_typename(L, -1));
        lines[i] = lua_tolstring(L, -1, &lens[i]);
        lua_pop(L, 1);
    }
    smneo_error *err = errhold_new(L);
    lbox *b = box_new(L, free_diagnosis);
    smneo_diagnosis *d = NULL;
    int rc = smneo_explain(&d, json, jlen, lines, lens, n, err);
    b->p = d;
    if (rc != 0)
        return raise_error(L, rc, err);
    push_diagnosis(L, d);
    return 1;
}

/* smneo.operations() -> array of {name=, python_name=, paginated=, result_key=, iter_name=} */
static int l_operations(lua_State *L)
{
    size_t n = smneo_model_operation_count();
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        const smneo_operation *op = smneo_model_operation_at(i);
        lua_createtable(L, 0, 5);
        set_str(L, "name", op->name);
        set_str(L, "python_name", op->python_name);
        lua_pushboolean(L, op->paging == SMNEO_PAGING_TOKEN);
        lua_setfield(L, -2, "paginated");
        set_str(L, "result_key", op->result_key);
        set_str(L, "iter_name", op->iter_name);
        lua_rawseti(L, -2, (int)i + 1);
    }
    return 1;
}

static int l_array(lua_State *L)
{
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    push_array_mt(L);
    lua_setmetatable(L, 1);
    return 1;
}

static int l_is_array(lua_State *L)
{
    int is = 0;
    if (lua_istable(L, 1) && lua_getmetatable(L, 1)) {
        push_array_mt(L);
        is = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
    }
    lua_pushboolean(L, is);
    return 1;
}

static int l_strerror(lua_State *L)
{
    lua_pushstring(L, smneo_strerror((int)luaL_checkinteger(L, 1)));
    return 1;
}

static void make_client_metatable(lua_State *L)
{
    static const luaL_Reg methods[] = {{"close", client_close},
                                       {"region", client_region},
                                       {"_credentials", client_credentials},
                                       {"_seed_credentials", client_seed_credentials},
                                       {"endpoint", client_endpoint},
                                       {"max_attempts", client_max_attempts},
                                       {"build_request", client_build_request},
                                       {"parse_response", client_parse_response},
                                       {"wait_for_compilation_job", client_wait},
                                       {"compile", client_compile},
                                       {"upload_file", client_upload_file},
                                       {"download_file", client_download_file},
                                       {"compilation_job_logs", client_job_logs},
                                       {"_job_logs", client_lowlevel_job_logs},
                                       {"compile_many", client_compile_many},
                                       {"_call", client_lowlevel_call},
                                       {"_paginate", client_lowlevel_paginate},
                                       {"_wait", client_lowlevel_wait},
                                       {NULL, NULL}};
    luaL_newmetatable(L, MT_CLIENT);
    lua_newtable(L); /* methods */
    luaL_setfuncs(L, methods, 0);
    size_t n = smneo_model_operation_count();
    for (size_t i = 0; i < n; i++) {
        const smneo_operation *op = smneo_model_operation_at(i);
        lua_pushlightuserdata(L, (void *)op);
        lua_pushcclosure(L, client_op, 1);
        lua_setfield(L, -2, op->python_name);
        if (op->iter_name) { /* generated: list_x -> iter_x */
            lua_pushlightuserdata(L, (void *)op);
            lua_pushcclosure(L, client_iter, 1);
            lua_setfield(L, -2, op->iter_name);
        }
    }
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, client_close);
    lua_setfield(L, -2, "__gc");
#if COMPAT_HAS_CLOSE
    lua_pushcfunction(L, client_close);
    lua_setfield(L, -2, "__close");
#endif
    lua_pushcfunction(L, client_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
}

static void make_call_metatable(lua_State *L)
{
    static const luaL_Reg methods[] = {{"next", call_next},       {"feed", call_feed},
                                       {"feed_error", call_feed_error}, {"cancel", call_cancel},
                                       {"close", call_close},     {"resume_token", call_resume_token},
                                       {NULL, NULL}};
    luaL_newmetatable(L, MT_CALL);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, call_gc);
    lua_setfield(L, -2, "__gc");
#if COMPAT_HAS_CLOSE
    lua_pushcfunction(L, call_close);
    lua_setfield(L, -2, "__close");
#endif
    lua_pushcfunction(L, call_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
}

SMNEO_LUA_EXPORT int luaopen_smneo(lua_State *L)
{
    static const luaL_Reg funcs[] = {{"client", l_client_new},
                                     {"validate", l_validate},
                                     {"explain", l_explain},
                                     {"parse_response", l_parse_response},
                                     {"operations", l_operations},
                                     {"array", l_array},
                                     {"is_array", l_is_array},
                                     {"is_error", l_is_error},
                                     {"strerror", l_strerror},
                                     {NULL, NULL}};

    luaL_newmetatable(L, MT_BOX);
    lua_pushcfunction(L, box_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    luaL_newmetatable(L, MT_ERRHOLD);
    lua_pushcfunction(L, errhold_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    make_client_metatable(L);
    make_call_metatable(L);
    make_joblogs_metatable(L);

    lua_newtable(L); /* module */
    luaL_setfuncs(L, funcs, 0);

    /* array_mt: marks arrays in results (and in params, for empty lists). */
    lua_getfield(L, LUA_REGISTRYINDEX, REG_ARRAY_MT);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushstring(L, "smneo.array");
        lua_setfield(L, -2, "__name");
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, REG_ARRAY_MT);
    }
    lua_setfield(L, -2, "array_mt");

    lua_getfield(L, LUA_REGISTRYINDEX, REG_ERROR_MT);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushcfunction(L, error_tostring);
        lua_setfield(L, -2, "__tostring");
        lua_pushstring(L, "smneo.error");
        lua_setfield(L, -2, "__name");
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, REG_ERROR_MT);
    }
    lua_setfield(L, -2, "error_mt");

    /* JSON null: the NULL light userdata (the lua-cjson convention). */
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");

    push_artifact_table(L);
    lua_setfield(L, -2, "artifact");

    lua_pushstring(L, smneo_version());
    lua_setfield(L, -2, "version");
    lua_pushfstring(L, "smneo %s", smneo_version());
    lua_setfield(L, -2, "_VERSION");
    return 1;
}
