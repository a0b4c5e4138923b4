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
 * replayed into tables.
 *
 * Files by concern, mirroring python/smneo/_*.c: smneo.c (this file) sets
 * the module up (luaopen_smneo, module functions, metatables); convert.c
 * converts (boxes, error tables, Lua values to JSON, results to tables);
 * client.c has the client, calls and job logs; compile.c compile and
 * compile_many; s3.c S3 transfers; artifact.c smneo.artifact.
 * smneo_lua.h is what they share. */
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

#if defined(__GNUC__)
#define SMNEO_LUA_EXPORT __attribute__((visibility("default")))
#else
#define SMNEO_LUA_EXPORT
#endif

/* ---- module functions ---------------------------------------------------------- */

/* smneo.validate(operation, params, {allow_unknown_enum_values = bool}) */
static int l_validate(lua_State *L)
{
    static const char *const names[] = {"allow_unknown_enum_values", NULL};
    const smneo_operation *op = smneo_lua_check_operation(L, 1);
    lua_settop(L, 3);
    smneo_validate_options vo = SMNEO_VALIDATE_OPTIONS_INIT;
    if (!lua_isnil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        smneo_lua_check_known_keys(L, 3, names, "validate options");
        if (smneo_lua_opt_bool(L, 3, "allow_unknown_enum_values") == 1)
            vo.allow_unknown_enum_values = 1;
    }
    size_t len;
    const char *json = smneo_lua_encode_params(L, 2, op->name, &len);
    smneo_error *err = smneo_lua_errhold_new(L);
    lbox *b = smneo_lua_box_new(L, smneo_lua_free_issues);
    smneo_issues *issues = NULL;
    int rc = smneo_validate(&issues, op->name, json, len, &vo, err);
    b->p = issues;
    if (rc != 0 && !(rc == SMNEO_EVALIDATION && (issues || err->issues)))
        return smneo_lua_raise_error(L, rc, err);
    smneo_lua_push_issues(L, issues ? issues : err->issues);
    return 1;
}

/* smneo._validate_response(operation, response): the response table as JSON text
 * (its output shape guiding the encoding) when it fits the operation's output
 * shape (smneo_validate_response: botocore's Stubber checks); else raises
 * ParamValidationError with the issues. For smneo.stub. */
static int l_validate_response(lua_State *L)
{
    const smneo_operation *op = smneo_lua_check_operation(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    size_t len;
    const char *json = smneo_lua_encode_response(L, 2, op, &len); /* its box stays on the stack */
    smneo_error *err = smneo_lua_errhold_new(L);
    lbox *b = smneo_lua_box_new(L, smneo_lua_free_issues);
    smneo_issues *issues = NULL;
    int rc = smneo_validate_response(&issues, op->name, json, len, err);
    b->p = issues;
    if (rc != 0)
        return smneo_lua_raise_error(L, rc, err);
    if (smneo_issues_count(issues)) {
        const smneo_issue *first = smneo_issues_at(issues, 0);
        err->code = SMNEO_EVALIDATION;
        err->issues = (smneo_issues *)smneo_lua_box_take(b); /* the error holder frees it */
        char msg[600];
        snprintf(msg, sizeof msg, "%s response: %s%s%s (%zu issue%s)", op->name, first->path,
                 *first->path ? ": " : "", first->message, smneo_issues_count(err->issues),
                 smneo_issues_count(err->issues) == 1 ? "" : "s");
        size_t n = strlen(msg) + 1;
        if ((err->message = malloc(n)) != NULL) /* freed by the error holder */
            memcpy(err->message, msg, n);
        return smneo_lua_raise_error(L, SMNEO_EVALIDATION, err);
    }
    lua_pushlstring(L, json, len);
    return 1;
}

/* smneo._json(table): the table as JSON text, by its values (smneo.stub's error bodies). */
static int l_json(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    size_t len;
    const char *json = smneo_lua_encode_params(L, 1, NULL, &len);
    lua_pushlstring(L, json, len);
    return 1;
}

/* smneo._error(code, kind, message): an error table as the binding raises them
 * (smneo.stub's StubResponseError family). */
static int l_error(lua_State *L)
{
    const char *code = luaL_checkstring(L, 1), *kind = luaL_checkstring(L, 2);
    const char *message = luaL_checkstring(L, 3);
    smneo_lua_push_error(L, SMNEO_EINVAL, NULL);
    lua_pushstring(L, code);
    lua_setfield(L, -2, "code");
    lua_pushstring(L, kind);
    lua_setfield(L, -2, "kind");
    lua_pushstring(L, message);
    lua_setfield(L, -2, "message");
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
void smneo_lua_push_diagnosis(lua_State *L, const smneo_diagnosis *d)
{
    char *text = NULL;
    if (smneo_diagnosis_format(&text, d) != 0)
        smneo_lua_raise_msg(L, SMNEO_ENOMEM, "out of memory");
    lua_createtable(L, 0, 16);
    lua_pushstring(L, text);
    free(text);
    lua_setfield(L, -2, "text");
    smneo_lua_set_str(L, "id", smneo_diagnosis_id(d));
    lua_pushboolean(L, smneo_diagnosis_matched(d));
    lua_setfield(L, -2, "matched");
    smneo_lua_set_str(L, "category", smneo_failure_category_name(smneo_diagnosis_category(d)));
    smneo_lua_set_str(L, "title", smneo_diagnosis_title(d));
    smneo_lua_set_str(L, "cause", smneo_diagnosis_cause(d));
    smneo_lua_set_str(L, "fix", smneo_diagnosis_fix(d));
    smneo_lua_set_str(L, "rule", smneo_diagnosis_rule(d));
    smneo_lua_set_str(L, "source", smneo_diagnosis_source(d));
    smneo_lua_set_str(L, "evidence", smneo_diagnosis_evidence(d));
    smneo_lua_set_str(L, "evidence_source", smneo_evidence_kind_name(smneo_diagnosis_evidence_kind(d)));
    if (smneo_diagnosis_evidence_line(d) != (size_t)-1) { /* 1-based, like the logs array */
        lua_pushinteger(L, (lua_Integer)smneo_diagnosis_evidence_line(d) + 1);
        lua_setfield(L, -2, "evidence_line");
    }
    smneo_lua_set_str(L, "job_name", smneo_diagnosis_job_name(d));
    smneo_lua_set_str(L, "status", smneo_diagnosis_status(d));
    smneo_lua_set_str(L, "failure_reason", smneo_diagnosis_failure_reason(d));
    smneo_lua_push_issues(L, smneo_diagnosis_issues(d));
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
        lbox *b = smneo_lua_box_new(L, smneo_lua_free_jsonw);
        smneo_jsonw *w = NULL;
        if (smneo_jsonw_new(&w) != 0)
            smneo_lua_raise_msg(L, SMNEO_ENOMEM, "out of memory");
        b->p = w;
        if (smneo_jsonw_begin_object(w) || smneo_jsonw_key(w, "FailureReason", 13) || smneo_jsonw_string(w, s, n) ||
            smneo_jsonw_end_object(w))
            smneo_lua_raise_msg(L, SMNEO_ENOMEM, "out of memory");
        json = smneo_jsonw_data(&jlen, w);
    } else if (lua_istable(L, 1)) {
        json = smneo_lua_encode_params(L, 1, NULL, &jlen);
    } else if (!lua_isnil(L, 1)) {
        return smneo_lua_raise_msg(L, SMNEO_EINVAL,
                         "description must be the table describe_compilation_job returns, a FailureReason string, "
                         "or nil, not a %s",
                         luaL_typename(L, 1));
    }
    size_t n = 0;
    if (!lua_isnil(L, 2)) {
        if (!lua_istable(L, 2))
            return smneo_lua_raise_msg(L, SMNEO_EINVAL, "logs must be an array of lines or log events, not a %s",
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
            return smneo_lua_raise_msg(L, SMNEO_EINVAL, "logs[%d] must be a string or an event with a string `message`, not a %s",
                             (int)i + 1, luaL_typename(L, -1));
        lines[i] = lua_tolstring(L, -1, &lens[i]);
        lua_pop(L, 1);
    }
    smneo_error *err = smneo_lua_errhold_new(L);
    lbox *b = smneo_lua_box_new(L, free_diagnosis);
    smneo_diagnosis *d = NULL;
    int rc = smneo_explain(&d, json, jlen, lines, lens, n, err);
    b->p = d;
    if (rc != 0)
        return smneo_lua_raise_error(L, rc, err);
    smneo_lua_push_diagnosis(L, d);
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
        smneo_lua_set_str(L, "name", op->name);
        smneo_lua_set_str(L, "python_name", op->python_name);
        lua_pushboolean(L, op->paging == SMNEO_PAGING_TOKEN);
        lua_setfield(L, -2, "paginated");
        smneo_lua_set_str(L, "result_key", op->result_key);
        smneo_lua_set_str(L, "iter_name", op->iter_name);
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
    smneo_lua_push_array_mt(L);
    lua_setmetatable(L, 1);
    return 1;
}

static int l_is_array(lua_State *L)
{
    int is = 0;
    if (lua_istable(L, 1) && lua_getmetatable(L, 1)) {
        smneo_lua_push_array_mt(L);
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
    static const luaL_Reg methods[] = {{"close", smneo_lua_client_close},
                                       {"region", smneo_lua_client_region},
                                       {"_credentials", smneo_lua_client_credentials},
                                       {"_seed_credentials", smneo_lua_client_seed_credentials},
                                       {"endpoint", smneo_lua_client_endpoint},
                                       {"max_attempts", smneo_lua_client_max_attempts},
                                       {"build_request", smneo_lua_client_build_request},
                                       {"parse_response", smneo_lua_client_parse_response},
                                       {"wait_for_compilation_job", smneo_lua_client_wait},
                                       {"compile", smneo_lua_client_compile},
                                       {"upload_file", smneo_lua_client_upload_file},
                                       {"download_file", smneo_lua_client_download_file},
                                       {"compilation_job_logs", smneo_lua_client_job_logs},
                                       {"_job_logs", smneo_lua_client_lowlevel_job_logs},
                                       {"_download", smneo_lua_client_lowlevel_download},
                                       {"_upload", smneo_lua_client_lowlevel_upload},
                                       {"compile_many", smneo_lua_client_compile_many},
                                       {"_call", smneo_lua_client_lowlevel_call},
                                       {"_paginate", smneo_lua_client_lowlevel_paginate},
                                       {"_wait", smneo_lua_client_lowlevel_wait},
                                       {"_set_request_hook", smneo_lua_client_set_request_hook},
                                       {"_compile", smneo_lua_client_lowlevel_compile},
                                       {"_compile_many", smneo_lua_client_lowlevel_compile_many},
                                       {NULL, NULL}};
    luaL_newmetatable(L, MT_CLIENT);
    lua_newtable(L); /* methods */
    luaL_setfuncs(L, methods, 0);
    size_t n = smneo_model_operation_count();
    for (size_t i = 0; i < n; i++) {
        const smneo_operation *op = smneo_model_operation_at(i);
        lua_pushlightuserdata(L, (void *)op);
        lua_pushcclosure(L, smneo_lua_client_op, 1);
        lua_setfield(L, -2, op->python_name);
        if (op->iter_name) { /* generated: list_x -> iter_x */
            lua_pushlightuserdata(L, (void *)op);
            lua_pushcclosure(L, smneo_lua_client_iter, 1);
            lua_setfield(L, -2, op->iter_name);
        }
    }
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, smneo_lua_client_close);
    lua_setfield(L, -2, "__gc");
#if COMPAT_HAS_CLOSE
    lua_pushcfunction(L, smneo_lua_client_close);
    lua_setfield(L, -2, "__close");
#endif
    lua_pushcfunction(L, smneo_lua_client_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
}

/* A stepper's metatable (a call, a job-log reader, a transfer): methods as
 * __index, gc as __gc and close as __close (Lua 5.4). Left on the stack. */
void smneo_lua_new_stepper_metatable(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction gc,
                                     lua_CFunction close)
{
    luaL_newmetatable(L, name);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__gc");
#if COMPAT_HAS_CLOSE
    lua_pushcfunction(L, close);
    lua_setfield(L, -2, "__close");
#else
    (void)close;
#endif
}

static void make_call_metatable(lua_State *L)
{
    static const luaL_Reg methods[] = {{"next", smneo_lua_call_next},       {"feed", smneo_lua_call_feed},
                                       {"feed_error", smneo_lua_call_feed_error}, {"cancel", smneo_lua_call_cancel},
                                       {"close", smneo_lua_call_close},     {"resume_token", smneo_lua_call_resume_token},
                                       {"work", smneo_lua_call_work},
                                       {NULL, NULL}};
    smneo_lua_new_stepper_metatable(L, MT_CALL, methods, smneo_lua_call_gc, smneo_lua_call_close);
    lua_pushcfunction(L, smneo_lua_call_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
}

SMNEO_LUA_EXPORT int luaopen_smneo(lua_State *L)
{
    static const luaL_Reg funcs[] = {{"client", smneo_lua_l_client_new},
                                     {"validate", l_validate},
                                     {"_validate_response", l_validate_response},
                                     {"_error", l_error},
                                     {"_json", l_json},
                                     {"explain", l_explain},
                                     {"parse_response", smneo_lua_l_parse_response},
                                     {"operations", l_operations},
                                     {"array", l_array},
                                     {"is_array", l_is_array},
                                     {"is_error", smneo_lua_l_is_error},
                                     {"strerror", l_strerror},
                                     {"_work", smneo_lua_l_work},
                                     {NULL, NULL}};

    luaL_newmetatable(L, MT_BOX);
    lua_pushcfunction(L, smneo_lua_box_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    luaL_newmetatable(L, MT_ERRHOLD);
    lua_pushcfunction(L, smneo_lua_errhold_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    make_client_metatable(L);
    make_call_metatable(L);
    smneo_lua_make_joblogs_metatable(L);
    smneo_lua_make_s3xfer_metatable(L);

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
        lua_pushcfunction(L, smneo_lua_error_tostring);
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

    smneo_lua_push_artifact_table(L);
    lua_setfield(L, -2, "artifact");

    lua_pushstring(L, smneo_version());
    lua_setfield(L, -2, "version");
    lua_pushfstring(L, "smneo %s", smneo_version());
    lua_setfield(L, -2, "_VERSION");
    return 1;
}
