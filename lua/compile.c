/* lua/compile.c: client:compile{...} (the compile machine, driven here) and client:compile_many{...}
 * (smneo_compile_many) in Lua */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#endif

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <smneo.h>
#include <smneo/artifact.h>
#include <smneo/compile.h>
#include <smneo/s3.h>


#include "compat.h"
#include "smneo_lua.h"

/* ---- client:compile{...} (smneo_compile) ------------------------------------------ */

/* A log event: {timestamp = epoch seconds (ms precision), message = string, stream = string}. */
void smneo_lua_push_log_event(lua_State *L, const smneo_log_event *ev)
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
            smneo_lua_push_log_event(L, &ev);
            lua_rawseti(L, -2, (int)i + 1);
        }
    }
    lua_setfield(L, -2, "logs");
    if (smneo_compile_result_diagnosis(res)) {
        smneo_lua_push_diagnosis(L, smneo_compile_result_diagnosis(res));
        lua_setfield(L, -2, "diagnosis");
    }
}

typedef struct compile_ctx {
    lua_State *L;
    int trampoline; /* stack index of compile_event_call */
    int fn;         /* stack index of the Lua callback */
    int failed;     /* 1: the callback's error is on the stack top */
    int cancelled;  /* the callback returned false */
} compile_ctx;

/* Pushes the event's table ({kind, message, done, total, elapsed, description?,
 * job?}); job_idx: a stack index holding the job's number, or 0. */
void smneo_lua_push_compile_event(lua_State *L, const smneo_compile_event *ev, int job_idx)
{
    lua_createtable(L, 0, 7);
    if (job_idx && !lua_isnil(L, job_idx)) {
        lua_pushvalue(L, job_idx);
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
        smneo_lua_push_value(L, ev->description);
        lua_setfield(L, -2, "description");
    }
}

/* Runs under lua_pcall (from deliver_event): builds the event table and calls
 * the user's callback. Arguments: callback, light userdata event, and for
 * compile_many the job's index (1-based) or nil. */
static int compile_event_call(lua_State *L)
{
    const smneo_compile_event *ev = (const smneo_compile_event *)lua_touserdata(L, 2);
    lua_settop(L, 3);
    lua_pushvalue(L, 1);
    smneo_lua_push_compile_event(L, ev, 3);
    lua_call(L, 1, 1);
    return 1;
}

/* An event to the callback, on the thread that owns the Lua state (the
 * machines' EVENT steps). Nothing here can raise: all Lua work is inside
 * lua_pcall. 1 when the flow is to be cancelled. */
static int deliver_event(compile_ctx *x, const smneo_compile_event *ev, size_t job)
{
    if (x->failed || x->cancelled)
        return 1;
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

/* The options' callback (table at 2): 1 when one is given, with the
 * callback and the trampoline left on the stack for deliver_event. */
static int callback_of(lua_State *L, compile_ctx *x, const char *what)
{
    memset(x, 0, sizeof *x);
    x->L = L;
    lua_getfield(L, 2, "callback");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    if (!lua_isfunction(L, -1))
        smneo_lua_raise_msg(L, SMNEO_EINVAL, "%s: callback must be a function, not a %s", what, luaL_typename(L, -1));
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
        smneo_lua_raise_msg(L, SMNEO_EINVAL, "compile: %s must be JSON text or a table, not a %s", k, luaL_typename(L, -1));
    size_t len;
    const char *json = smneo_lua_encode_params(L, -1, NULL, &len); /* pushes its box: stays on the stack */
    lua_remove(L, -2);                                   /* the table */
    return json;
}

/* compile()'s options from the table at t (strings anchored by it; JSON
 * given as tables encoded into boxes left on the stack). */
void smneo_lua_read_compile_options(lua_State *L, int t, smneo_compile_options *o, const char *what)
{
    const smneo_compile_option_info *opt;
    for (size_t i = 0; (opt = smneo_compile_option_at(i)); i++) {
        void *field = (char *)o + opt->offset;
        lua_Number n;
        int b;
        switch (opt->type) {
        case SMNEO_COMPILE_OPTION_STRING:
            *(const char **)field = smneo_lua_opt_string(L, t, opt->name);
            break;
        case SMNEO_COMPILE_OPTION_JSON:
            *(const char **)field = opt_json(L, t, opt->name);
            break;
        case SMNEO_COMPILE_OPTION_FLAG:
            if ((b = smneo_lua_opt_bool(L, t, opt->name)) >= 0)
                *(int *)field = b;
            break;
        case SMNEO_COMPILE_OPTION_SECONDS:
            if (smneo_lua_opt_number(L, t, opt->name, &n))
                *(double *)field = n;
            break;
        case SMNEO_COMPILE_OPTION_INTEGER:
            if (smneo_lua_opt_number(L, t, opt->name, &n)) {
                if (n < 1 || n > 2147483647 || floor(n) != n)
                    smneo_lua_raise_msg(L, SMNEO_EINVAL, "%s: %s must be a positive integer", what, opt->name);
                *(int *)field = (int)n;
            }
            break;
        }
    }
    if (!o->role_arn || (!o->model_package_version_arn && (!o->model || !o->framework)))
        smneo_lua_raise_msg(L, SMNEO_EINVAL, "%s: model, framework (or model_package_version_arn) and role_arn are required "
                  "(s3_bucket too, unless the default bucket sagemaker-REGION-ACCOUNT will do)", what);
}

/* compile's keywords from the core's table (smneo_compile_option_at; per_job: only those a
 * job of compile_many takes), then extras: a NULL-terminated list in out. */
enum { COMPILE_KEYS_MAX = 64 };
static void compile_keys(const char **out, int per_job, const char *const *extras)
{
    size_t n = 0;
    const smneo_compile_option_info *o;
    for (size_t i = 0; (o = smneo_compile_option_at(i)) && n < COMPILE_KEYS_MAX - 1; i++)
        if (o->per_job || !per_job)
            out[n++] = o->name;
    for (size_t i = 0; extras && extras[i] && n < COMPILE_KEYS_MAX - 1; i++)
        out[n++] = extras[i];
    out[n] = NULL;
}

/* compile's options table at 2 (the stack cut to it), read into *o. */
void smneo_lua_compile_options_arg(lua_State *L, smneo_compile_options *o)
{
    static const char *const extras[] = {"callback", NULL};
    const char *names[COMPILE_KEYS_MAX];
    compile_keys(names, 0, extras);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    smneo_lua_check_known_keys(L, 2, names, "compile");
    smneo_lua_read_compile_options(L, 2, o, "compile");
}

/* compile()'s outcome: 1 with the result table pushed, or 0 with the error
 * object pushed (carrying the description, and for FAILED the log and the
 * diagnosis). */
int smneo_lua_push_compile_outcome(lua_State *L, int rc, const smneo_compile_result *res, const smneo_error *err)
{
    if (rc != 0) {
        smneo_lua_push_error(L, rc, err);
        if (res && smneo_compile_result_job(res)) {
            smneo_lua_push_result(L, smneo_compile_result_job(res));
            lua_setfield(L, -2, "description");
        }
        if (res && rc == SMNEO_EJOBFAILED) {
            set_failure_log(L, res);
            smneo_lua_push_issues(L, smneo_compile_result_issues(res));
            lua_setfield(L, -2, "issues");
        }
        return 0;
    }
    lua_createtable(L, 0, 7);
    if (smneo_compile_result_job(res)) {
        smneo_lua_push_result(L, smneo_compile_result_job(res));
        lua_setfield(L, -2, "job");
    }
    smneo_lua_set_str(L, "job_name", smneo_compile_result_job_name(res));
    smneo_lua_set_str(L, "artifact_path", smneo_compile_result_artifact_path(res));
    smneo_lua_set_str(L, "extracted_dir", smneo_compile_result_extracted_dir(res));
    lua_pushboolean(L, smneo_compile_result_digest_verified(res));
    lua_setfield(L, -2, "digest_verified");
    smneo_lua_set_str(L, "input_uri", smneo_compile_result_input_uri(res));
    smneo_lua_push_issues(L, smneo_compile_result_issues(res));
    lua_setfield(L, -2, "issues");
    return 1;
}

/* Drives a compile (many 0) or compile_many (many 1) machine here until
 * DONE: WORK inline, SEND with the client's transport, SLEEP, and every
 * event to x's callback (x NULL: none) on this thread, in order; the
 * callback's false or error cancels. */
static void drive_here(lua_State *L, lclient *cl, smneo_call *call, compile_ctx *x, int many)
{
    for (;;) {
        smneo_step st;
        cl->cur_L = L;
        smneo_call_next(&st, call);
        if (st.kind == SMNEO_STEP_SEND) {
            smneo_call_send(call, &st);
        } else if (st.kind == SMNEO_STEP_SLEEP) {
            struct timespec ts = {st.sleep_ms / 1000, (st.sleep_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        } else if (st.kind == SMNEO_STEP_WORK) {
            smneo_call_work(call);
        } else if (st.kind == SMNEO_STEP_EVENT) {
            smneo_compile_event ev;
            size_t job = SMNEO_COMPILE_MANY_ALL;
            cl->cur_L = NULL;
            int got = many ? smneo_call_compile_many_event(&ev, &job, call) : smneo_call_compile_event(&ev, call);
            if (x && got == 0 && deliver_event(x, &ev, job))
                smneo_call_cancel(call);
        } else {
            break;
        }
    }
    cl->cur_L = NULL;
}


/* client:compile{model=, framework=, role_arn=, s3_bucket=, ...}: drives the
 * compile machine here: WORK steps inline, SEND with the client's transport,
 * SLEEP, and every event (those raised on the transfer's threads included)
 * to the callback on this thread, in order. false from the callback cancels;
 * its error cancels too and is raised once the flow has stopped. */
int smneo_lua_client_compile(lua_State *L)
{
    lclient *cl = smneo_lua_check_blocking_client(L, 1);
    smneo_compile_options o = SMNEO_COMPILE_OPTIONS_INIT;
    smneo_lua_compile_options_arg(L, &o);
    compile_ctx x;
    int has_cb = callback_of(L, &x, "compile");
    smneo_error *err = smneo_lua_errhold_new(L);
    lbox *cb = smneo_lua_box_new(L, smneo_lua_free_call);
    lbox *rb = smneo_lua_box_new(L, free_compile_result);
    smneo_call *call = NULL;
    int rc = smneo_compile_new(&call, cl->c, &o, err);
    if (rc)
        return smneo_lua_raise_error(L, rc, err);
    cb->p = call;
    /* The callback runs Lua code between the steps: a client:close() (or
     * __close) there must not free the core client under the machine, so
     * the flow counts as a user until it ends (nothing between can raise). */
    cl->calls++;
    drive_here(L, cl, call, has_cb ? &x : NULL, 0);
    smneo_compile_result *res = NULL;
    rc = smneo_call_compile_result(&res, call, err);
    rb->p = res;
    cl->calls--;
    smneo_lua_client_maybe_free(cl);
    if (x.failed)
        return lua_error(L); /* the callback's own error, after the flow has stopped */
    if (!smneo_lua_push_compile_outcome(L, rc, res, err))
        return lua_error(L);
    return 1;
}

/* ---- client:compile_many{...} (smneo_compile_many) ---------------------------------- */


void smneo_lua_free_many_result(void *p) { smneo_compile_many_result_free((smneo_compile_many_result *)p); }
void smneo_lua_free_call(void *p) { smneo_call_free((smneo_call *)p); }

/* Copies the compile keys of the table at `from` into the table at `to`. */
static void copy_job_keys(lua_State *L, int from, int to)
{
    const char *keys[COMPILE_KEYS_MAX];
    compile_keys(keys, 1, NULL);
    for (size_t i = 0; keys[i]; i++) {
        lua_getfield(L, from, keys[i]);
        if (lua_isnil(L, -1))
            lua_pop(L, 1);
        else
            lua_setfield(L, to, keys[i]);
    }
}

/* A models x targets target into the job table on the top: "ml_c5",
 * "OS/ARCH[/ACCELERATOR]" or a table of compile keys. */
static void set_target(lua_State *L, int target)
{
    int job = lua_gettop(L);
    if (lua_istable(L, target)) {
        const char *keys[COMPILE_KEYS_MAX];
        compile_keys(keys, 1, NULL);
        smneo_lua_check_known_keys(L, target, keys, "compile_many: a target");
        copy_job_keys(L, target, job);
        return;
    }
    if (lua_type(L, target) != LUA_TSTRING)
        smneo_lua_raise_msg(L, SMNEO_EINVAL, "compile_many: a target is a device (\"ml_c5\"), a platform (\"LINUX/ARM64\") or "
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
            smneo_lua_raise_msg(L, SMNEO_EINVAL, "compile_many: target \"%s\": give a device (\"ml_c5\") or "
                      "OS/ARCH[/ACCELERATOR] (\"LINUX/ARM64\")", t);
        lua_pushlstring(L, p, (size_t)(q - p));
        lua_setfield(L, job, parts[i]);
        p = q + 1;
    }
}

/* compile_many's arguments (the table at 2; the stack is cut to it) made
 * into the compile_many machine (which copies what it keeps); raises on bad
 * arguments, returns the machine's code (*call set on 0) with *errp, an
 * error holder left on the stack top, saying why. */
int smneo_lua_new_compile_many(lua_State *L, lclient *cl, smneo_call **call, smneo_error **errp)
{
    static const char *const extras[] = {"jobs",         "models",       "targets",
                                         "max_concurrent", "state_file", "retry_failed",
                                         "keep_jobs_on_cancel", "callback", NULL};
    const char *names[COMPILE_KEYS_MAX];
    compile_keys(names, 1, extras);
    const char *job_keys[COMPILE_KEYS_MAX];
    compile_keys(job_keys, 1, NULL);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    smneo_lua_check_known_keys(L, 2, names, "compile_many");
    lua_newtable(L); /* 3: the merged job tables */
    lua_getfield(L, 2, "jobs");    /* 4 */
    lua_getfield(L, 2, "models");  /* 5 */
    lua_getfield(L, 2, "targets"); /* 6 */
    size_t n = 0;
    if (!lua_isnil(L, 4)) {
        if (!lua_istable(L, 4) || !lua_isnil(L, 5) || !lua_isnil(L, 6))
            smneo_lua_raise_msg(L, SMNEO_EINVAL, "compile_many: give either jobs (a list of compile option tables) or models "
                      "and targets (two lists)");
        size_t count = (size_t)lua_rawlen(L, 4);
        for (size_t i = 1; i <= count; i++) {
            lua_rawgeti(L, 4, (lua_Integer)i);
            if (!lua_istable(L, -1))
                smneo_lua_raise_msg(L, SMNEO_EINVAL, "compile_many: jobs[%d] must be a table of compile options", (int)i);
            char what[64];
            snprintf(what, sizeof what, "compile_many: jobs[%d]", (int)i);
            smneo_lua_check_known_keys(L, lua_gettop(L), job_keys, what);
            lua_newtable(L);
            copy_job_keys(L, 2, lua_gettop(L));
            copy_job_keys(L, lua_gettop(L) - 1, lua_gettop(L));
            lua_rawseti(L, 3, (lua_Integer)++n);
            lua_pop(L, 1);
        }
    } else {
        if (!lua_istable(L, 5) || !lua_istable(L, 6) || lua_rawlen(L, 5) == 0 || lua_rawlen(L, 6) == 0)
            smneo_lua_raise_msg(L, SMNEO_EINVAL, "compile_many: give either jobs (a list of compile option tables) or models "
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
        smneo_lua_read_compile_options(L, lua_gettop(L), &jobs[i], "compile_many");
    }
    smneo_compile_many_options mo = SMNEO_COMPILE_MANY_OPTIONS_INIT;
    lua_Number num;
    int b;
    if (smneo_lua_opt_number(L, 2, "max_concurrent", &num)) {
        if (num < 1 || num > 100000 || floor(num) != num)
            smneo_lua_raise_msg(L, SMNEO_EINVAL, "compile_many: max_concurrent must be a positive integer");
        mo.max_concurrent = (unsigned)num;
    }
    mo.state_file = smneo_lua_opt_string(L, 2, "state_file");
    if ((b = smneo_lua_opt_bool(L, 2, "retry_failed")) >= 0)
        mo.retry_failed = b;
    if ((b = smneo_lua_opt_bool(L, 2, "keep_jobs_on_cancel")) >= 0)
        mo.keep_jobs_on_cancel = b;
    *errp = smneo_lua_errhold_new(L);
    return smneo_compile_many_new(call, cl->c, ptrs, n, &mo, *errp);
}

/* compile_many's outcome: 2 with the rows and whether every job completed
 * pushed, or 0 with the error pushed (no job started). */
int smneo_lua_push_many_outcome(lua_State *L, int rc, const smneo_compile_many_result *res, const smneo_error *err)
{
    if (!res) {
        smneo_lua_push_error(L, rc, err);
        return 0;
    }
    size_t count = smneo_compile_many_result_count(res);
    lua_createtable(L, (int)count, 0);
    for (size_t i = 0; i < count; i++) {
        const smneo_compile_row *row = smneo_compile_many_result_row(res, i);
        lua_createtable(L, 0, 10);
        smneo_lua_set_str(L, "model", row->model);
        smneo_lua_set_str(L, "target", row->target);
        smneo_lua_set_str(L, "compilation_job_name", row->job_name);
        smneo_lua_set_str(L, "compilation_job_status", row->status);
        lua_pushnumber(L, row->duration);
        lua_setfield(L, -2, "duration_seconds");
        smneo_lua_set_str(L, "artifact_path", row->artifact_path);
        lua_pushboolean(L, row->digest_verified);
        lua_setfield(L, -2, "digest_verified");
        smneo_lua_set_str(L, "failure_reason", row->failure_reason);
        lua_pushboolean(L, row->stopped_by_smneo);
        lua_setfield(L, -2, "stopped_by_smneo");
        lua_pushboolean(L, row->skipped);
        lua_setfield(L, -2, "skipped");
        if (smneo_compile_many_result_diagnosis(res, i)) {
            smneo_lua_push_diagnosis(L, smneo_compile_many_result_diagnosis(res, i));
            lua_setfield(L, -2, "diagnosis");
        }
        lua_rawseti(L, -2, (lua_Integer)(i + 1));
    }
    lua_pushboolean(L, rc == 0);
    return 2;
}

/* client:compile_many{jobs = {{model=, target_device=, ...}, ...} or
 * models = {...}, targets = {...}; max_concurrent=, state_file=,
 * retry_failed=, keep_jobs_on_cancel=, callback=, and compile's options for
 * every job} -> rows, ok: drives the compile_many machine here (WORK inline,
 * SEND with the client's transport, SLEEP) and every event to the callback
 * on this thread, in order (those of an upload's threads when its WORK step
 * ends). false cancels; an error cancels and is raised once the run stopped. */
int smneo_lua_client_compile_many(lua_State *L)
{
    lclient *cl = smneo_lua_check_blocking_client(L, 1);
    smneo_call *call = NULL;
    smneo_error *err = NULL;
    int rc = smneo_lua_new_compile_many(L, cl, &call, &err);
    if (rc)
        return smneo_lua_raise_error(L, rc, err);
    lbox *cb = smneo_lua_box_new(L, smneo_lua_free_call);
    cb->p = call;
    compile_ctx x;
    int has_cb = callback_of(L, &x, "compile_many");
    lbox *rb = smneo_lua_box_new(L, smneo_lua_free_many_result);
    /* as for compile: the callback may close the client; nothing between can raise */
    cl->calls++;
    drive_here(L, cl, call, has_cb ? &x : NULL, 1);
    smneo_compile_many_result *res = NULL;
    rc = smneo_call_compile_many_result(&res, call, err);
    rb->p = res;
    cl->calls--;
    smneo_lua_client_maybe_free(cl);
    if (x.failed)
        return lua_error(L); /* the callback's own error, after the run has stopped */
    if (!smneo_lua_push_many_outcome(L, rc, res, err))
        return lua_error(L);
    return 2;
}
