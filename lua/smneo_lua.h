/* lua/smneo_lua.h: private to the Lua binding: what its files share (smneo.c: module setup; convert.c,
 * client.c, compile.c, s3.c, artifact.c). Not installed. */
#ifndef SMNEO_LUA_H
#define SMNEO_LUA_H

#include <stddef.h>
#include <pthread.h>
#include <stdint.h>

#include <smneo.h>
#include <smneo/artifact.h>
#include <smneo/compile.h>

#include "compat.h"

#define MT_CLIENT "smneo.client"
#define MT_CALL "smneo.call"
#define MT_BOX "smneo.box"
#define MT_ERRHOLD "smneo.errhold"
#define REG_ARRAY_MT "smneo.array_mt"
#define REG_ERROR_MT "smneo.error_mt"

typedef struct lbox {
    void *p;
    void (*free)(void *);
} lbox;

typedef struct lclient {
    smneo_client *c;
    int calls;  /* live call userdata borrowing c, plus a compile() running */
    int closed; /* close() was called: free c once calls == 0 */
    int no_transport;
    int mfa_ref;        /* registry ref of the mfa_token option (string or function), or LUA_NOREF */
    lua_State *cur_L;   /* the thread driving the core right now (for mfa_token and the request hook) */
    int hook_ref;       /* registry ref of client:_set_request_hook's function (smneo.stub), or LUA_NOREF */
    int hook_err_ref;   /* registry ref of the error that function raised (the call's error), or LUA_NOREF */
} lclient;

/* Progress callbacks run inside core frames: the Lua function is called under
 * lua_pcall (nothing can longjmp out of the callback); an error cancels the
 * core call and is re-raised after the core has returned. */
typedef struct progress_ctx {
    lua_State *L;
    int fn;     /* stack index of the Lua function */
    int failed; /* 1: the error value is on the stack top */
} progress_ctx;

/* Progress of a transfer: Lua runs only on the thread that owns the state
 * (a multipart upload reports from its part threads too; done only grows,
 * so the owner's calls and the final one are enough). Nothing can raise. */
typedef struct s3_progress_ctx {
    progress_ctx pc;
    pthread_t owner;
} s3_progress_ctx;

int smneo_lua_box_gc(lua_State *L);
/* Pushes a new empty box that will release its pointer with fn. */
lbox *smneo_lua_box_new(lua_State *L, void (*fn)(void *));
void *smneo_lua_box_take(lbox *b);
void smneo_lua_free_jsonw(void *p);
void smneo_lua_free_result(void *p);
void smneo_lua_free_request(void *p);
void smneo_lua_free_response(void *p);
void smneo_lua_free_issues(void *p);
int smneo_lua_errhold_gc(lua_State *L);
smneo_error *smneo_lua_errhold_new(lua_State *L);
void smneo_lua_set_str(lua_State *L, const char *k, const char *v);
void smneo_lua_push_array_mt(lua_State *L);
void smneo_lua_push_issues(lua_State *L, const smneo_issues *issues);
/* Pushes the validation issues that did not stop the call (warnings; every
 * finding with validation = "warn") as an issues array, or nil when there
 * were none. */
void smneo_lua_push_warnings(lua_State *L, const smneo_result *r);
/* Pushes an error table for (code, err). */
void smneo_lua_push_error(lua_State *L, int code, const smneo_error *err);
int smneo_lua_raise_error(lua_State *L, int code, const smneo_error *err);
/* A binding-level error (bad argument type etc.) as an error table. */
int smneo_lua_raise_msg(lua_State *L, int code, const char *fmt, ...);
int smneo_lua_error_tostring(lua_State *L);
int smneo_lua_l_is_error(lua_State *L);
/* Encodes the params at idx (table or nil) for `operation` into a boxed
 * writer pushed on the stack; returns the JSON text (valid while the box is). */
const char *smneo_lua_encode_params(lua_State *L, int idx, const char *operation, size_t *len);
/* The same for a response of op (its output shape guides the encoding). */
const char *smneo_lua_encode_response(lua_State *L, int idx, const smneo_operation *op, size_t *len);
/* Pushes the Lua form of a borrowed value (its owner must stay alive). */
void smneo_lua_push_value(lua_State *L, const smneo_value *v);
void smneo_lua_push_result(lua_State *L, const smneo_result *r);
void smneo_lua_client_maybe_free(lclient *cl);
int smneo_lua_client_close(lua_State *L);
int smneo_lua_client_tostring(lua_State *L);
/* client:_credentials(): the credentials the client's chain holds, as
 * {access_key_id, secret_access_key, session_token, expiration, source}
 * (nil when none), and their state: 2 fresh, 1 in the refresh window, 0
 * stale or none; _credentials(true): nil and the state. For smneo.resty's
 * shared_dict. */
int smneo_lua_client_credentials(lua_State *L);
/* client:_seed_credentials(t): credentials another worker resolved (the
 * table client:_credentials() returns), kept as the chain's own. */
int smneo_lua_client_seed_credentials(lua_State *L);
int smneo_lua_client_region(lua_State *L);
int smneo_lua_client_endpoint(lua_State *L);
int smneo_lua_client_max_attempts(lua_State *L);
const char *smneo_lua_opt_string(lua_State *L, int t, const char *k);
int smneo_lua_opt_number(lua_State *L, int t, const char *k, lua_Number *out);
/* -1 when absent. */
int smneo_lua_opt_bool(lua_State *L, int t, const char *k);
/* The error the client's request hook raised during the call that just
 * failed with SMNEO_ECANCELLED: pushed (and forgotten by the client), 1; else
 * 0 and nothing pushed. */
int smneo_lua_client_push_hook_error(lua_State *L, lclient *cl, int rc);
int smneo_lua_client_set_request_hook(lua_State *L);
void smneo_lua_check_known_keys(lua_State *L, int t, const char *const *names, const char *what);
int smneo_lua_l_client_new(lua_State *L);
int smneo_lua_call_gc(lua_State *L);
const smneo_operation *smneo_lua_check_operation(lua_State *L, int idx);
/* client:_call(op, params) / _paginate(op, params, opts) / _wait(name, opts):
 * a call userdata for step-driven use (smneo.resty). */
int smneo_lua_client_lowlevel_call(lua_State *L);
int smneo_lua_client_lowlevel_paginate(lua_State *L);
int smneo_lua_client_lowlevel_wait(lua_State *L);
/* client:_compile(opts): the compile machine as a call userdata (smneo.resty);
 * next() adds "work", id (run it with smneo._work(id) on any thread's Lua
 * state, or call:work()) and "event", "compile", event table. */
int smneo_lua_client_lowlevel_compile(lua_State *L);
/* client:_compile_many(opts): the compile_many machine as a call userdata
 * (smneo.resty); its steps are _compile's, events with their job, and
 * "done", rows, ok | "done", nil, err. */
int smneo_lua_client_lowlevel_compile_many(lua_State *L);
/* compile_many's arguments (the table at 2; the stack is cut to it) made into
 * the compile_many machine; raises on bad arguments, returns the machine's
 * code (*call set on 0), *errp an error holder on the stack top. */
int smneo_lua_new_compile_many(lua_State *L, lclient *cl, smneo_call **call, smneo_error **errp);
/* 2 with the rows and whether every job completed pushed, or 0 with the
 * error pushed (no job started). */
int smneo_lua_push_many_outcome(lua_State *L, int rc, const smneo_compile_many_result *res, const smneo_error *err);
void smneo_lua_free_many_result(void *p); /* box free functions */
void smneo_lua_free_call(void *p);
/* WORK steps handed to smneo._work (client.c): run(arg) registered under
 * a new id (0, or SMNEO_ENOMEM); run (0, or -1 when nothing waits under id);
 * forget once run (1; 0 and kept when it has not run), or with cancel
 * whatever its state (cancel(arg) while it runs, then waits for it). */
int smneo_lua_work_register(lua_Integer *id, void (*run)(void *), void (*cancel)(void *), void *arg);
int smneo_lua_work_run(lua_Integer id);
int smneo_lua_work_forget(lua_Integer id, int cancel);
/* smneo._work(id): runs the pending WORK step registered under id. */
int smneo_lua_l_work(lua_State *L);
int smneo_lua_call_work(lua_State *L);
void smneo_lua_read_compile_options(lua_State *L, int t, smneo_compile_options *o, const char *what);
/* compile's options table at 2 (the stack cut to it), checked and read into *o. */
void smneo_lua_compile_options_arg(lua_State *L, smneo_compile_options *o);
void smneo_lua_push_compile_event(lua_State *L, const smneo_compile_event *ev, int job_idx);
int smneo_lua_push_compile_outcome(lua_State *L, int rc, const smneo_compile_result *res, const smneo_error *err);
/* call:next() -> "send", method, url, headers, body | "sleep", seconds |
 *                "event", kind, value | "done", result|true|nil, err, warnings|nil */
int smneo_lua_call_next(lua_State *L);
int smneo_lua_call_feed(lua_State *L);
/* call:feed_error(code, message): code is "ConnectionError", "DNSError",
 * "TLSError", "Timeout", "ConnectionClosed" (the core's names) or a negative
 * smneo code. */
int smneo_lua_call_feed_error(lua_State *L);
int smneo_lua_call_cancel(lua_State *L);
int smneo_lua_call_close(lua_State *L);
int smneo_lua_call_resume_token(lua_State *L);
int smneo_lua_call_tostring(lua_State *L);
lclient *smneo_lua_check_blocking_client(lua_State *L, int idx);
/* client:<operation>(params): upvalue 1 = the smneo_operation. */
int smneo_lua_client_op(lua_State *L);
/* client:iter_<name>(params, opts): upvalue 1 = the operation.
 * Returns iterator, nil, nil, call (the 4th closes the run when a 5.4 loop
 * is left early). */
int smneo_lua_client_iter(lua_State *L);
/* client:wait_for_compilation_job(name, {delay, max_delay, timeout, callback}) */
int smneo_lua_client_wait(lua_State *L);
/* A log event: {timestamp = epoch seconds (ms precision), message = string, stream = string}. */
void smneo_lua_push_log_event(lua_State *L, const smneo_log_event *ev);
/* client:compile{model=, framework=, role_arn=, s3_bucket=, ...} */
int smneo_lua_client_compile(lua_State *L);
/* client:compilation_job_logs{name=, follow=, start_time=, delay=, max_delay=, tail=}
 * -> iterator, nil, nil, handle (handle:warnings(), handle:status(), handle:close()) */
int smneo_lua_client_job_logs(lua_State *L);
/* client:_job_logs{...} -> a reader driven step by step (smneo.resty):
 * next() -> "send", method, url, headers, body | "sleep", seconds |
 *           "event", "log", event | "event", "warning", text | "event", "status", status |
 *           "done", true | "done", nil, err;  feed(status, headers, body[, sends]);
 * feed_error(code, message); cancel(); close(). */
int smneo_lua_client_lowlevel_job_logs(lua_State *L);
void smneo_lua_make_joblogs_metatable(lua_State *L);
/* client:compile_many{jobs = {{model=, target_device=, ...}, ...} or
 * models = {...}, targets = {...}; max_concurrent=, state_file=,
 * retry_failed=, keep_jobs_on_cancel=, callback=, and compile's options for
 * every job} -> rows */
int smneo_lua_client_compile_many(lua_State *L);
/* client:build_request(operation, params, {timestamp = epoch}) */
int smneo_lua_client_build_request(lua_State *L);
int smneo_lua_client_parse_response(lua_State *L);
int smneo_lua_l_parse_response(lua_State *L);
int smneo_lua_progress_cb(uint64_t done, uint64_t total, void *payload);
/* Reads opts.progress (function) at table index t into pc (0 when absent). */
int smneo_lua_read_progress(lua_State *L, int t, progress_ctx *pc);
/* After a core call with a progress context: re-raise the callback's error. */
void smneo_lua_progress_rethrow(lua_State *L, progress_ctx *pc);
int smneo_lua_client_upload_file(lua_State *L);
int smneo_lua_client_download_file(lua_State *L);
/* client:_download{filename, bucket, key}: the S3 download machine stepped from Lua (smneo.resty) */
int smneo_lua_client_lowlevel_download(lua_State *L);
int smneo_lua_client_lowlevel_upload(lua_State *L);
void smneo_lua_make_s3xfer_metatable(lua_State *L);
void smneo_lua_push_call_s3xfer(lua_State *L, lclient *cl, int call, smneo_call **from);
/* lua/client.c's helpers for the steppers: a live client; a request's headers
 * as a table; feed's (status, headers, body[, sends]) at stack 2..5 as a
 * response in a box on the stack; feed_error's code at stack 2. */
lclient *smneo_lua_check_client(lua_State *L, int idx);
void smneo_lua_push_request_headers(lua_State *L, const smneo_request *r);
lbox *smneo_lua_response_args(lua_State *L, const char *what);
/* feed_error(code, message) at stack 2..3: the transport error's code (a
 * connection error's name or a negative smneo code) and *msg (default
 * "transport error"). */
int smneo_lua_feed_error_args(lua_State *L, const char *what, const char **msg);
/* A stepper's metatable: methods as __index, __gc and __close; left on the stack. */
void smneo_lua_new_stepper_metatable(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction gc,
                                     lua_CFunction close);
void smneo_lua_push_artifact_table(lua_State *L);
void smneo_lua_push_diagnosis(lua_State *L, const smneo_diagnosis *d);

#endif
