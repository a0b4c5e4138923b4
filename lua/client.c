/* lua/client.c: the Lua client: smneo.client{...}, calls as step machines, the blocking operations,
 * build_request/parse_response and job logs */

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

#define MT_JOBLOGS "smneo.joblogs"

/* ---- the client -------------------------------------------------------------- */

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

void smneo_lua_client_maybe_free(lclient *cl)
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
        smneo_lua_raise_msg(L, SMNEO_EINVAL, "the client is closed; create a new one with smneo.client{...}");
    return cl;
}

int smneo_lua_client_close(lua_State *L)
{
    lclient *cl = (lclient *)luaL_checkudata(L, 1, MT_CLIENT);
    cl->closed = 1;
    smneo_lua_client_maybe_free(cl);
    if (!cl->c) { /* The core client that called them is gone. */
        int *refs[] = {&cl->mfa_ref, &cl->hook_ref, &cl->hook_err_ref};
        for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
            luaL_unref(L, LUA_REGISTRYINDEX, *refs[i]);
            *refs[i] = LUA_NOREF;
        }
    }
    return 0;
}

/* ---- the request hook (smneo.stub) ------------------------------------------------------ */

static lbox *response_args(lua_State *L, const char *what);

/* In a protected call: fn (1), the operation's name (2), its params as a light
 * userdata (3) -> the answer's box, or nil to let the request go on. */
static int hook_call(lua_State *L)
{
    const smneo_value *params = (const smneo_value *)lua_touserdata(L, 3);
    lua_settop(L, 2);
    if (params)
        smneo_lua_push_value(L, params);
    else
        lua_newtable(L);
    lua_call(L, 2, 3);     /* status, headers, body  |  nil */
    lua_pushnil(L);
    lua_insert(L, 1);      /* as feed()'s arguments: status at 2, headers at 3, body at 4 */
    lua_settop(L, 4);
    if (lua_isnil(L, 2))
        return 0;
    response_args(L, "request hook answer"); /* pushes the response's box */
    return 1;
}

/* The core's request hook: client:_set_request_hook(fn)'s fn(operation, params),
 * called in a protected call on the thread driving the core. nil lets the request
 * go on; status, headers, body are its answer; an error cancels the call, and is
 * the error the binding raises once the core has returned. */
static int lua_request_hook(smneo_response **out, const smneo_operation *op, const smneo_value *params,
                            void *payload)
{
    lclient *cl = (lclient *)payload;
    lua_State *L = cl->cur_L;
    if (!L || cl->hook_ref == LUA_NOREF)
        return 0;
    if (!lua_checkstack(L, 8))
        return 1;
    int top = lua_gettop(L);
    lua_pushcfunction(L, hook_call);
    lua_rawgeti(L, LUA_REGISTRYINDEX, cl->hook_ref);
    lua_pushstring(L, op->name);
    lua_pushlightuserdata(L, (void *)params);
    if (lua_pcall(L, 3, 1, 0) != 0) {
        luaL_unref(L, LUA_REGISTRYINDEX, cl->hook_err_ref);
        cl->hook_err_ref = luaL_ref(L, LUA_REGISTRYINDEX); /* pops the error */
        lua_settop(L, top);
        return 1;
    }
    if (!lua_isnil(L, -1))
        *out = (smneo_response *)smneo_lua_box_take((lbox *)lua_touserdata(L, -1));
    lua_settop(L, top);
    return 0;
}

int smneo_lua_client_push_hook_error(lua_State *L, lclient *cl, int rc)
{
    if (cl->hook_err_ref == LUA_NOREF)
        return 0;
    int ref = cl->hook_err_ref;
    cl->hook_err_ref = LUA_NOREF;
    if (rc != SMNEO_ECANCELLED) { /* stale: this call failed for another reason */
        luaL_unref(L, LUA_REGISTRYINDEX, ref);
        return 0;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    luaL_unref(L, LUA_REGISTRYINDEX, ref);
    return 1;
}

/* client:_set_request_hook(fn | nil): fn(operation, params) answers the client's
 * operation requests (smneo.stub's Stubber), nil removes it. */
int smneo_lua_client_set_request_hook(lua_State *L)
{
    lclient *cl = check_client(L, 1);
    if (!lua_isnoneornil(L, 2))
        luaL_checktype(L, 2, LUA_TFUNCTION);
    luaL_unref(L, LUA_REGISTRYINDEX, cl->hook_ref);
    cl->hook_ref = LUA_NOREF;
    if (lua_isnoneornil(L, 2)) {
        smneo_client_set_request_hook(cl->c, NULL, NULL);
        return 0;
    }
    lua_pushvalue(L, 2);
    cl->hook_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    smneo_client_set_request_hook(cl->c, lua_request_hook, cl);
    return 0;
}

int smneo_lua_client_tostring(lua_State *L)
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
int smneo_lua_client_credentials(lua_State *L)
{
    lclient *cl = check_client(L, 1);
    smneo_credentials *c = NULL;
    int state = smneo_credential_chain_peek(&c, smneo_client_credential_chain(cl->c));
    if (state < 0)
        return smneo_lua_raise_msg(L, state, "out of memory");
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
int smneo_lua_client_seed_credentials(lua_State *L)
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
        smneo_lua_push_error(L, rc, &err);
        smneo_error_clear(&err);
        return lua_error(L);
    }
    return 0;
}

/* The string, or nil: one return value (the client's and the call's string getters). */
static int push_string_or_nil(lua_State *L, const char *s)
{
    if (s)
        lua_pushstring(L, s);
    else
        lua_pushnil(L);
    return 1;
}

int smneo_lua_client_region(lua_State *L) { return push_string_or_nil(L, smneo_client_region(check_client(L, 1)->c)); }

int smneo_lua_client_endpoint(lua_State *L)
{
    return push_string_or_nil(L, smneo_client_endpoint(check_client(L, 1)->c));
}

int smneo_lua_client_max_attempts(lua_State *L)
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

const char *smneo_lua_opt_string(lua_State *L, int t, const char *k)
{
    lua_getfield(L, t, k);
    const char *s = NULL;
    if (lua_type(L, -1) == LUA_TSTRING)
        s = lua_tostring(L, -1); /* stays valid: the options table holds it */
    else if (!lua_isnil(L, -1))
        smneo_lua_raise_msg(L, SMNEO_EINVAL, "option %s must be a string, not a %s", k, luaL_typename(L, -1));
    lua_pop(L, 1);
    return s;
}

int smneo_lua_opt_number(lua_State *L, int t, const char *k, lua_Number *out)
{
    lua_getfield(L, t, k);
    int have = 0;
    if (lua_type(L, -1) == LUA_TNUMBER) {
        *out = lua_tonumber(L, -1);
        have = 1;
    } else if (!lua_isnil(L, -1)) {
        smneo_lua_raise_msg(L, SMNEO_EINVAL, "option %s must be a number, not a %s", k, luaL_typename(L, -1));
    }
    lua_pop(L, 1);
    return have;
}

/* -1 when absent. */
int smneo_lua_opt_bool(lua_State *L, int t, const char *k)
{
    lua_getfield(L, t, k);
    int v = -1;
    if (lua_type(L, -1) == LUA_TBOOLEAN)
        v = lua_toboolean(L, -1);
    else if (!lua_isnil(L, -1))
        smneo_lua_raise_msg(L, SMNEO_EINVAL, "option %s must be a boolean, not a %s", k, luaL_typename(L, -1));
    lua_pop(L, 1);
    return v;
}

void smneo_lua_check_known_keys(lua_State *L, int t, const char *const *names, const char *what)
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
                smneo_lua_raise_msg(L, SMNEO_EINVAL, "%s: unknown option '%s' (known: %s)", what, lua_tostring(L, -2), known);
            smneo_lua_raise_msg(L, SMNEO_EINVAL, "%s: option names must be strings (known: %s)", what, known);
        }
        lua_pop(L, 1);
    }
}

int smneo_lua_l_client_new(lua_State *L)
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
    smneo_lua_check_known_keys(L, 1, client_option_names, "smneo.client");
    o.region = smneo_lua_opt_string(L, 1, "region_name");
    o.endpoint_url = smneo_lua_opt_string(L, 1, "endpoint_url");
    o.profile = smneo_lua_opt_string(L, 1, "profile_name");
    o.access_key_id = smneo_lua_opt_string(L, 1, "aws_access_key_id");
    o.secret_access_key = smneo_lua_opt_string(L, 1, "aws_secret_access_key");
    o.session_token = smneo_lua_opt_string(L, 1, "aws_session_token");
    if ((o.access_key_id == NULL) != (o.secret_access_key == NULL))
        smneo_lua_raise_msg(L, SMNEO_EINVAL,
                  "smneo.client: give both aws_access_key_id and aws_secret_access_key, or neither");
    if (smneo_lua_opt_number(L, 1, "max_attempts", &n)) {
        if (n < 1 || n > 100 || floor(n) != n)
            smneo_lua_raise_msg(L, SMNEO_EINVAL, "smneo.client: max_attempts must be an integer from 1 to 100");
        o.max_attempts = (int)n;
    }
    o.retry_mode = smneo_lua_opt_string(L, 1, "retry_mode");
    const char *v = smneo_lua_opt_string(L, 1, "validation");
    if (v) {
        if (strcmp(v, "strict") == 0)
            o.validation = SMNEO_VALIDATION_STRICT;
        else if (strcmp(v, "warn") == 0)
            o.validation = SMNEO_VALIDATION_WARN;
        else if (strcmp(v, "off") == 0)
            o.validation = SMNEO_VALIDATION_OFF;
        else
            smneo_lua_raise_msg(L, SMNEO_EINVAL, "smneo.client: validation must be \"strict\", \"warn\" or \"off\", not \"%s\"",
                      v);
    }
    if ((b = smneo_lua_opt_bool(L, 1, "allow_unknown_enum_values")) >= 0)
        o.allow_unknown_enum_values = b;
    if (smneo_lua_opt_number(L, 1, "connect_timeout", &n)) {
        if (n <= 0)
            smneo_lua_raise_msg(L, SMNEO_EINVAL, "smneo.client: connect_timeout must be a positive number of seconds");
        o.connect_timeout_ms = (long)(n * 1000);
    }
    if (smneo_lua_opt_number(L, 1, "read_timeout", &n)) {
        if (n <= 0)
            smneo_lua_raise_msg(L, SMNEO_EINVAL, "smneo.client: read_timeout must be a positive number of seconds");
        o.read_timeout_ms = (long)(n * 1000);
    }
    if ((b = smneo_lua_opt_bool(L, 1, "verify")) >= 0)
        o.no_verify_tls = !b;
    o.ca_bundle = smneo_lua_opt_string(L, 1, "ca_bundle");
    if ((b = smneo_lua_opt_bool(L, 1, "use_fips")) >= 0)
        o.use_fips = b ? 1 : -1;
    if ((b = smneo_lua_opt_bool(L, 1, "use_dualstack")) >= 0)
        o.use_dualstack = b ? 1 : -1;
    o.s3_endpoint_url = smneo_lua_opt_string(L, 1, "s3_endpoint_url");
    if ((b = smneo_lua_opt_bool(L, 1, "no_transport")) >= 0)
        o.no_transport = b;
    if (smneo_lua_opt_number(L, 1, "retry_backoff_scale", &n)) {
        if (n < 0)
            smneo_lua_raise_msg(L, SMNEO_EINVAL, "smneo.client: retry_backoff_scale must not be negative");
        o.retry_backoff_scale = n;
    }

    lua_getfield(L, 1, "mfa_token");
    int mfa_type = lua_type(L, -1);
    if (mfa_type != LUA_TNIL && mfa_type != LUA_TSTRING && mfa_type != LUA_TFUNCTION)
        smneo_lua_raise_msg(L, SMNEO_EINVAL, "smneo.client: mfa_token must be the code (a string) or a function(prompt, "
                  "profile) returning it, not a %s", luaL_typename(L, -1));

    smneo_error *err = smneo_lua_errhold_new(L);
    lclient *cl = (lclient *)compat_newuserdata(L, sizeof(lclient));
    memset(cl, 0, sizeof *cl);
    cl->mfa_ref = LUA_NOREF;
    cl->hook_ref = cl->hook_err_ref = LUA_NOREF;
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
        return smneo_lua_raise_error(L, rc, err);
    }
    return 1;
}

/* ---- calls (step machines) -------------------------------------------------- */

enum { CALL_OP = 0, CALL_PAGINATE = 1, CALL_WAIT = 2, CALL_COMPILE = 3, CALL_COMPILE_MANY = 4 };

typedef struct lcall {
    smneo_call *call;
    lclient *owner; /* kept alive through the userdata's user value */
    int kind;
    int awaiting;   /* a SEND is waiting for feed */
    int finished;
    char *resume;   /* resume token kept after the call is released */
    lua_Integer work_id; /* CALL_COMPILE: the WORK step handed out (0: none) */
} lcall;

/* ---- WORK steps run on another thread (smneo.resty: ngx.run_worker_thread) ----
 * call:next() registers the machine's pending WORK step here under a new id;
 * smneo._work(id), from any Lua state of the process (a worker thread's has
 * its own), runs it; the next call:next() checks that it ran. Closing the
 * call while its work runs cancels the work and waits for it to stop. */
typedef struct work_slot {
    lua_Integer id;
    void (*run)(void *);    /* the work (smneo_call_work, smneo_s3_transfer_work) */
    void (*cancel)(void *); /* the one function allowed while it runs */
    void *arg;
    int running, done;
    struct work_slot *next;
} work_slot;

static pthread_mutex_t work_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_cv = PTHREAD_COND_INITIALIZER;
static work_slot *work_list;
static lua_Integer work_ids;

static work_slot **work_find(lua_Integer id)
{
    work_slot **p = &work_list;
    while (*p && (*p)->id != id)
        p = &(*p)->next;
    return p;
}

/* 0 and the slot's id in *id, or SMNEO_ENOMEM. */
int smneo_lua_work_register(lua_Integer *id, void (*run)(void *), void (*cancel)(void *), void *arg)
{
    work_slot *w = (work_slot *)calloc(1, sizeof *w);
    if (!w)
        return SMNEO_ENOMEM;
    w->run = run;
    w->cancel = cancel;
    w->arg = arg;
    pthread_mutex_lock(&work_mu);
    w->id = ++work_ids;
    w->next = work_list;
    work_list = w;
    pthread_mutex_unlock(&work_mu);
    *id = w->id;
    return 0;
}

static void call_work(void *call) { smneo_call_work((smneo_call *)call); }
static void call_cancel(void *call) { smneo_call_cancel((smneo_call *)call); }

static int work_register(lua_Integer *id, smneo_call *call)
{
    return smneo_lua_work_register(id, call_work, call_cancel, call);
}

/* Runs the work registered under id: 0, or -1 when there is none waiting to run. */
int smneo_lua_work_run(lua_Integer id)
{
    pthread_mutex_lock(&work_mu);
    work_slot *w = *work_find(id);
    if (!w || w->running || w->done) {
        pthread_mutex_unlock(&work_mu);
        return -1;
    }
    w->running = 1;
    void (*run)(void *) = w->run;
    void *arg = w->arg;
    pthread_mutex_unlock(&work_mu);
    run(arg);
    pthread_mutex_lock(&work_mu);
    w->running = 0;
    w->done = 1;
    pthread_cond_broadcast(&work_cv);
    pthread_mutex_unlock(&work_mu);
    return 0;
}

/* Forgets the slot once its work has run: 1; 0 (the slot kept) when it has
 * not. cancel (closing the call): forgets it whatever its state, a running
 * work cancelled and waited for. */
int smneo_lua_work_forget(lua_Integer id, int cancel)
{
    pthread_mutex_lock(&work_mu);
    work_slot **p = work_find(id);
    if (!*p) {
        pthread_mutex_unlock(&work_mu);
        return 0;
    }
    if (!cancel && !(*p)->done) { /* not run yet, or running: kept */
        pthread_mutex_unlock(&work_mu);
        return 0;
    }
    if ((*p)->running)
        (*p)->cancel((*p)->arg); /* the one function allowed while the work runs */
    while ((*p)->running) {
        pthread_cond_wait(&work_cv, &work_mu);
        p = work_find(id);
    }
    work_slot *w = *p;
    int done = w->done;
    *p = w->next;
    pthread_mutex_unlock(&work_mu);
    free(w);
    return done;
}

/* smneo._work(id) -> true, or nil and a message */
int smneo_lua_l_work(lua_State *L)
{
    lua_Integer id = luaL_checkinteger(L, 1);
    if (smneo_lua_work_run(id) != 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "smneo._work: no work step %d is waiting to run", (int)id);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

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
    if (lc->work_id) {
        smneo_lua_work_forget(lc->work_id, 1);
        lc->work_id = 0;
    }
    if (lc->call) {
        smneo_call *c = lc->call;
        lc->call = NULL;
        smneo_call_free(c);
        lc->owner->calls--;
        smneo_lua_client_maybe_free(lc->owner);
    }
    lc->finished = 1;
}

int smneo_lua_call_gc(lua_State *L)
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

const smneo_operation *smneo_lua_check_operation(lua_State *L, int idx)
{
    const char *name = luaL_checkstring(L, idx);
    const smneo_operation *op = smneo_model_operation(name);
    if (!op)
        smneo_lua_raise_msg(L, SMNEO_EINVAL, "unknown operation '%s' (use an API name such as \"DescribeCompilationJob\")",
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
    smneo_lua_check_known_keys(L, idx, names, "paginate options");
    if (smneo_lua_opt_number(L, idx, "max_items", &n))
        po->max_items = (int64_t)n;
    if (smneo_lua_opt_number(L, idx, "page_size", &n))
        po->page_size = (int)n;
    po->starting_token = smneo_lua_opt_string(L, idx, "starting_token");
    if (smneo_lua_opt_bool(L, idx, "pages") == 1)
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
    smneo_lua_check_known_keys(L, idx, names, "wait options");
    if (smneo_lua_opt_number(L, idx, "delay", &n))
        wo->delay = n;
    if (smneo_lua_opt_number(L, idx, "max_delay", &n))
        wo->max_delay = n;
    if (smneo_lua_opt_number(L, idx, "timeout", &n))
        wo->timeout = n;
    lua_getfield(L, idx, "callback");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
    } else if (lua_isfunction(L, -1) || lua_istable(L, -1) || lua_isuserdata(L, -1)) {
        *cb_idx = lua_gettop(L); /* left on the stack */
    } else {
        smneo_lua_raise_msg(L, SMNEO_EINVAL, "wait option callback must be a function, not a %s", luaL_typename(L, -1));
    }
}

/* A generic for's values over the userdata on the top: step (a closure holding
 * it), nil, nil, and the userdata (closed with the loop on 5.4). */
static int push_generic_for(lua_State *L, lua_CFunction step)
{
    int ud = lua_gettop(L);
    lua_pushvalue(L, ud);
    lua_pushcclosure(L, step, 1);
    lua_pushnil(L);
    lua_pushnil(L);
    lua_pushvalue(L, ud);
    return 4;
}

/* After smneo_*_new into lc->call: the call attached to its client (1, the
 * userdata on the stack) or, on failure (rc), the error raised. */
static int lcall_made(lua_State *L, lcall *lc, int rc, smneo_error *err)
{
    if (rc != 0) {
        lc->call = NULL;
        return smneo_lua_raise_error(L, rc, err);
    }
    lcall_attached(lc);
    return 1;
}

/* client:_call(op, params) / _paginate(op, params, opts) / _wait(name, opts):
 * a call userdata for step-driven use (smneo.resty). */
int smneo_lua_client_lowlevel_call(lua_State *L)
{
    lclient *cl = check_client(L, 1);
    const smneo_operation *op = smneo_lua_check_operation(L, 2);
    size_t len;
    const char *json = smneo_lua_encode_params(L, 3, op->name, &len);
    smneo_error *err = smneo_lua_errhold_new(L);
    lcall *lc = lcall_push(L, 1, cl, CALL_OP);
    int rc = smneo_call_new(&lc->call, cl->c, op->name, json, len, err);
    return lcall_made(L, lc, rc, err);
}

int smneo_lua_client_lowlevel_paginate(lua_State *L)
{
    lclient *cl = check_client(L, 1);
    const smneo_operation *op = smneo_lua_check_operation(L, 2);
    smneo_paginate_options po = SMNEO_PAGINATE_OPTIONS_INIT;
    read_paginate_opts(L, 4, &po);
    size_t len;
    const char *json = smneo_lua_encode_params(L, 3, op->name, &len);
    smneo_error *err = smneo_lua_errhold_new(L);
    lcall *lc = lcall_push(L, 1, cl, CALL_PAGINATE);
    int rc = smneo_paginate_new(&lc->call, cl->c, op->name, json, len, &po, err);
    return lcall_made(L, lc, rc, err);
}

int smneo_lua_client_lowlevel_wait(lua_State *L)
{
    lclient *cl = check_client(L, 1);
    const char *name = luaL_checkstring(L, 2);
    smneo_wait_options wo = SMNEO_WAIT_OPTIONS_INIT;
    int cb;
    read_wait_opts(L, 3, &wo, &cb); /* the callback is the driver's business */
    smneo_error *err = smneo_lua_errhold_new(L);
    lcall *lc = lcall_push(L, 1, cl, CALL_WAIT);
    int rc = smneo_wait_new(&lc->call, cl->c, name, &wo, err);
    return lcall_made(L, lc, rc, err);
}

static lcall *check_live_call(lua_State *L, int idx)
{
    lcall *lc = (lcall *)luaL_checkudata(L, idx, MT_CALL);
    if (!lc->call)
        smneo_lua_raise_msg(L, SMNEO_EINVAL, "this call has finished or was closed");
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
    smneo_lua_set_str(L, "method", r->method);
    smneo_lua_set_str(L, "url", r->url);
    smneo_lua_set_str(L, "host", r->host);
    smneo_lua_set_str(L, "path", r->path);
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
        smneo_lua_push_value(L, &v);
    } else {
        const smneo_result *page = smneo_call_page(lc->call);
        if (page)
            smneo_lua_push_result(L, page);
        else
            lua_pushnil(L);
    }
}

static void push_done_raw(lua_State *L, lcall *lc, int with_warnings)
{
    smneo_error *err = smneo_lua_errhold_new(L);
    lbox *rb = smneo_lua_box_new(L, smneo_lua_free_result);
    smneo_result *res = NULL;
    int rc = smneo_call_result(&res, lc->call, err);
    rb->p = res;
    const char *tok = smneo_call_resume_token(lc->call);
    if (tok && !lc->resume)
        lc->resume = dup_string(tok); /* NULL on OOM: the token is then lost, not the call */
    lcall_release(lc);
    if (rc != 0) {
        lua_pushnil(L);
        if (!smneo_lua_client_push_hook_error(L, lc->owner, rc))
            smneo_lua_push_error(L, rc, err);
        if (res) { /* JobFailed / JobStopped: the final description */
            smneo_lua_push_result(L, res);
            lua_setfield(L, -2, "description");
        }
        if (with_warnings)
            lua_pushnil(L);
        return;
    }
    if (res)
        smneo_lua_push_result(L, res);
    else
        lua_pushboolean(L, 1);
    lua_pushnil(L);
    if (with_warnings)
        smneo_lua_push_warnings(L, res);
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

/* The compile machine's own steps: "work", id | "event", "compile", event |
 * "done", result|nil, err|nil. */
static int compile_step(lua_State *L, lcall *lc, const smneo_step *st)
{
    if (st->kind == SMNEO_STEP_TRANSFER) {
        lua_pushstring(L, "transfer");
        smneo_lua_push_call_s3xfer(L, lc->owner, 1, &lc->call);
        return 2;
    }
    if (st->kind == SMNEO_STEP_WORK) {
        if (work_register(&lc->work_id, lc->call) != 0)
            smneo_lua_raise_msg(L, SMNEO_ENOMEM, "out of memory");
        lua_pushstring(L, "work");
        lua_pushinteger(L, lc->work_id);
        return 2;
    }
    if (st->kind == SMNEO_STEP_EVENT) {
        smneo_compile_event ev;
        size_t job = 0;
        lua_pushstring(L, "event");
        lua_pushstring(L, "compile");
        if (lc->kind == CALL_COMPILE_MANY) {
            if (smneo_call_compile_many_event(&ev, &job, lc->call) == 0) {
                if (job == SMNEO_COMPILE_MANY_ALL)
                    lua_pushnil(L);
                else
                    lua_pushnumber(L, (lua_Number)job + 1);
                smneo_lua_push_compile_event(L, &ev, lua_gettop(L));
                lua_remove(L, -2);
            } else {
                lua_pushnil(L);
            }
        } else if (smneo_call_compile_event(&ev, lc->call) == 0) {
            smneo_lua_push_compile_event(L, &ev, 0);
        } else {
            lua_pushnil(L);
        }
        return 3;
    }
    smneo_error *err = smneo_lua_errhold_new(L);
    if (lc->kind == CALL_COMPILE_MANY) {
        lbox *rb = smneo_lua_box_new(L, smneo_lua_free_many_result);
        smneo_compile_many_result *res = NULL;
        int rc = smneo_call_compile_many_result(&res, lc->call, err);
        rb->p = res;
        lcall_release(lc);
        lua_pushstring(L, "done");
        if (!smneo_lua_push_many_outcome(L, rc, res, err)) {
            lua_pushnil(L);
            lua_insert(L, -2);
        }
        return 3;
    }
    smneo_compile_result *res = NULL;
    int rc = smneo_call_compile_result(&res, lc->call, err);
    lcall_release(lc);
    lua_pushstring(L, "done");
    if (smneo_lua_push_compile_outcome(L, rc, res, err)) {
        lua_pushnil(L);
    } else {
        lua_pushnil(L);
        lua_insert(L, -2);
    }
    smneo_compile_result_free(res);
    return 3;
}

/* call:work(): runs the pending WORK step here (plain Lua). */
int smneo_lua_call_work(lua_State *L)
{
    lcall *lc = check_live_call(L, 1);
    if (!lc->work_id || smneo_lua_work_run(lc->work_id) != 0)
        smneo_lua_raise_msg(L, SMNEO_EINVAL, "call:work(): there is no work step waiting to run");
    return 0;
}

/* client:_compile(opts[, transfers]): the compile machine for step-driven
 * use (smneo.resty); transfers true: the upload comes as a "transfer" step
 * (smneo_call_set_transfer_steps), not inside a work step. */
int smneo_lua_client_lowlevel_compile(lua_State *L)
{
    lclient *cl = check_client(L, 1);
    int transfers = lua_toboolean(L, 3);
    lua_settop(L, 2);
    smneo_compile_options o = SMNEO_COMPILE_OPTIONS_INIT;
    smneo_lua_compile_options_arg(L, &o); /* copied by the machine */
    smneo_error *err = smneo_lua_errhold_new(L);
    lcall *lc = lcall_push(L, 1, cl, CALL_COMPILE);
    int rc = smneo_compile_new(&lc->call, cl->c, &o, err);
    if (rc != 0) {
        lc->call = NULL;
        return smneo_lua_raise_error(L, rc, err);
    }
    if (transfers)
        smneo_call_set_transfer_steps(lc->call, 1);
    lcall_attached(lc);
    return 1;
}

/* client:_compile_many(opts): the compile_many machine for step-driven use (smneo.resty). */
int smneo_lua_client_lowlevel_compile_many(lua_State *L)
{
    lclient *cl = check_client(L, 1);
    smneo_call *call = NULL;
    smneo_error *err = NULL;
    int rc = smneo_lua_new_compile_many(L, cl, &call, &err); /* copied by the machine */
    if (rc != 0)
        return smneo_lua_raise_error(L, rc, err);
    lbox *b = smneo_lua_box_new(L, smneo_lua_free_call);
    b->p = call;
    lcall *lc = lcall_push(L, 1, cl, CALL_COMPILE_MANY);
    lc->call = (smneo_call *)smneo_lua_box_take(b);
    lcall_attached(lc);
    return 1;
}

/* call:next() -> "send", method, url, headers, body | "sleep", seconds |
 *                "event", kind, value | "done", result|true|nil, err, warnings|nil */
/* A send or sleep step as next()'s values: "send", method, url, headers, body
 * (*awaiting set: an answer is due) or "sleep", seconds. */
static int push_io_step(lua_State *L, const smneo_step *st, int *awaiting)
{
    if (st->kind == SMNEO_STEP_SLEEP) {
        lua_pushstring(L, "sleep");
        lua_pushnumber(L, (lua_Number)st->sleep_ms / 1000.0);
        return 2;
    }
    const smneo_request *r = st->request;
    *awaiting = 1;
    lua_pushstring(L, "send");
    lua_pushstring(L, r->method ? r->method : "POST");
    lua_pushstring(L, r->url ? r->url : "");
    push_headers(L, r);
    lua_pushlstring(L, r->body ? r->body : "", r->body ? r->body_len : 0);
    return 5;
}

int smneo_lua_call_next(lua_State *L)
{
    lcall *lc = check_live_call(L, 1);
    if (lc->awaiting)
        smneo_lua_raise_msg(L, SMNEO_EINVAL, "call:next(): feed the answer to the last send first (call:feed or call:feed_error)");
    if (lc->work_id) {
        if (!smneo_lua_work_forget(lc->work_id, 0))
            smneo_lua_raise_msg(L, SMNEO_EINVAL, "call:next(): the work step %d has not run: run it with "
                                "smneo._work(%d) (e.g. in ngx.run_worker_thread) or call:work() first",
                                (int)lc->work_id, (int)lc->work_id);
        lc->work_id = 0;
    }
    smneo_step st;
    memset(&st, 0, sizeof st);
    lc->owner->cur_L = L;
    smneo_call_next(&st, lc->call);
    lc->owner->cur_L = NULL; /* never a stale thread */
    if ((lc->kind == CALL_COMPILE || lc->kind == CALL_COMPILE_MANY) &&
        (st.kind == SMNEO_STEP_EVENT || st.kind == SMNEO_STEP_DONE || st.kind == SMNEO_STEP_WORK ||
         st.kind == SMNEO_STEP_TRANSFER))
        return compile_step(L, lc, &st);
    switch (st.kind) {
    case SMNEO_STEP_SEND:
    case SMNEO_STEP_SLEEP:
        return push_io_step(L, &st, &lc->awaiting);
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
/* A response made of status, headers and body at stack base..base+2, in a
 * box pushed on the stack (raises on bad arguments): the one reader of a Lua
 * header table (name -> value, or an array of values for a repeated header)
 * for call:feed and parse_response. */
static lbox *response_at(lua_State *L, int base, const char *what)
{
    lua_Integer status = luaL_checkinteger(L, base);
    size_t blen = 0;
    const char *body = luaL_optlstring(L, base + 2, "", &blen);
    lbox *b = smneo_lua_box_new(L, smneo_lua_free_response);
    smneo_response *resp = NULL;
    if (smneo_response_new(&resp, (int)status) != 0)
        smneo_lua_raise_msg(L, SMNEO_ENOMEM, "out of memory");
    b->p = resp;
    int hidx = base + 1;
    if (lua_istable(L, hidx)) {
        lua_pushnil(L);
        while (lua_next(L, hidx) != 0) {
            if (lua_type(L, -2) == LUA_TSTRING) {
                size_t nl, vl;
                const char *name = lua_tolstring(L, -2, &nl);
                if (lua_istable(L, -1)) {
                    int n = (int)lua_rawlen(L, -1);
                    for (int i = 1; i <= n; i++) {
                        lua_rawgeti(L, -1, i);
                        const char *val = lua_tolstring(L, -1, &vl);
                        if (val && smneo_response_add_header(resp, name, nl, val, vl) != 0)
                            smneo_lua_raise_msg(L, SMNEO_ENOMEM, "out of memory");
                        lua_pop(L, 1);
                    }
                } else if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER) {
                    lua_pushvalue(L, -1);
                    const char *val = lua_tolstring(L, -1, &vl);
                    if (smneo_response_add_header(resp, name, nl, val, vl) != 0)
                        smneo_lua_raise_msg(L, SMNEO_ENOMEM, "out of memory");
                    lua_pop(L, 1);
                }
            }
            lua_pop(L, 1);
        }
    } else if (!lua_isnoneornil(L, hidx)) {
        smneo_lua_raise_msg(L, SMNEO_EINVAL, "%s: headers must be a table, not a %s", what, luaL_typename(L, hidx));
    }
    if (blen && smneo_response_append_body(resp, body, blen) != 0)
        smneo_lua_raise_msg(L, SMNEO_ENOMEM, "out of memory");
    return b;
}

/* The response of feed(status, headers, body[, sends]) at stack 2..5, in a
 * box pushed on the stack (raises on bad arguments). */
static lbox *response_args(lua_State *L, const char *what)
{
    lua_Integer sends = luaL_optinteger(L, 5, 1);
    if (sends < 1 || sends > 100)
        smneo_lua_raise_msg(L, SMNEO_EINVAL, "%s: sends must be a whole number from 1 to 100", what);
    lbox *b = response_at(L, 2, what);
    ((smneo_response *)b->p)->sends = (int)sends;
    return b;
}

int smneo_lua_call_feed(lua_State *L)
{
    lcall *lc = check_live_call(L, 1);
    if (!lc->awaiting)
        smneo_lua_raise_msg(L, SMNEO_EINVAL, "call:feed(): there is no send waiting for an answer");
    lbox *b = response_args(L, "call:feed()");
    lc->awaiting = 0;
    smneo_call_feed(lc->call, (smneo_response *)smneo_lua_box_take(b), 0, NULL);
    return 0;
}

/* feed_error(code, message) at stack 2..3: the transport error code, by
 * the core's name of a connection error (smneo_error_name: ConnectionError,
 * DNSError, TLSError, Timeout, ConnectionClosed) or a negative smneo code.
 * "DnsError", the name before 1.0, is still taken for DNSError. */
static int transport_error_arg(lua_State *L, const char *what)
{
    static const int transport[] = {SMNEO_ECONNECT, SMNEO_EDNS, SMNEO_ETLS, SMNEO_ETIMEOUT, SMNEO_ECLOSED};
    if (lua_type(L, 2) == LUA_TNUMBER)
        return (int)lua_tointeger(L, 2);
    const char *s = luaL_checkstring(L, 2);
    for (size_t i = 0; i < sizeof transport / sizeof transport[0]; i++)
        if (strcmp(s, smneo_error_name(transport[i])) == 0)
            return transport[i];
    if (strcmp(s, "DnsError") == 0)
        return SMNEO_EDNS;
    return smneo_lua_raise_msg(L, SMNEO_EINVAL, "%s: code must be ConnectionError, DNSError, TLSError, Timeout or "
                               "ConnectionClosed (the connection errors of smneo's vocabulary), not %s", what, s);
}

/* call:feed_error(code, message): code is a connection error's name
 * (transport_error_arg) or a negative smneo code. */
int smneo_lua_call_feed_error(lua_State *L)
{
    lcall *lc = check_live_call(L, 1);
    if (!lc->awaiting)
        smneo_lua_raise_msg(L, SMNEO_EINVAL, "call:feed_error(): there is no send waiting for an answer");
    const char *msg = NULL;
    int code = smneo_lua_feed_error_args(L, "call:feed_error()", &msg);
    lc->awaiting = 0;
    smneo_call_feed(lc->call, NULL, code, msg);
    return 0;
}

int smneo_lua_call_cancel(lua_State *L)
{
    lcall *lc = (lcall *)luaL_checkudata(L, 1, MT_CALL);
    if (lc->call)
        smneo_call_cancel(lc->call);
    return 0;
}

int smneo_lua_call_close(lua_State *L)
{
    lcall *lc = (lcall *)luaL_checkudata(L, 1, MT_CALL);
    lcall_release(lc);
    return 0;
}

int smneo_lua_call_resume_token(lua_State *L)
{
    lcall *lc = (lcall *)luaL_checkudata(L, 1, MT_CALL);
    return push_string_or_nil(L, lc->call ? smneo_call_resume_token(lc->call) : lc->resume);
}

int smneo_lua_call_tostring(lua_State *L)
{
    lcall *lc = (lcall *)luaL_checkudata(L, 1, MT_CALL);
    lua_pushfstring(L, "smneo.call (%s)", lc->call ? "live" : "finished");
    return 1;
}

/* ---- blocking operations (plain Lua, the client's libcurl transport) -------- */

lclient *smneo_lua_check_blocking_client(lua_State *L, int idx)
{
    lclient *cl = check_client(L, idx);
    if (cl->no_transport)
        smneo_lua_raise_msg(L, SMNEO_EINVAL,
                  "this client was created with no_transport: drive calls step by step (smneo.resty does)");
    return cl;
}

/* client:<operation>(params): upvalue 1 = the smneo_operation. */
int smneo_lua_client_op(lua_State *L)
{
    const smneo_operation *op = (const smneo_operation *)lua_touserdata(L, lua_upvalueindex(1));
    lclient *cl = smneo_lua_check_blocking_client(L, 1);
    lua_settop(L, 2);
    size_t len;
    const char *json = smneo_lua_encode_params(L, 2, op->name, &len);
    smneo_error *err = smneo_lua_errhold_new(L);
    lbox *rb = smneo_lua_box_new(L, smneo_lua_free_result);
    smneo_result *res = NULL;
    cl->cur_L = L;
    int rc = smneo_client_call(&res, cl->c, op->name, json, len, err);
    cl->cur_L = NULL;
    rb->p = res;
    if (rc != 0 && smneo_lua_client_push_hook_error(L, cl, rc))
        return lua_error(L);
    if (rc != 0)
        return smneo_lua_raise_error(L, rc, err);
    smneo_lua_push_result(L, res);
    smneo_lua_push_warnings(L, res);
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
        lclient *owner = lc->owner;
        owner->cur_L = L; /* the request hook and mfa_token run on this thread */
        smneo_call_run(&st, lc->call);
        owner->cur_L = NULL;
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
int smneo_lua_client_iter(lua_State *L)
{
    const smneo_operation *op = (const smneo_operation *)lua_touserdata(L, lua_upvalueindex(1));
    lclient *cl = smneo_lua_check_blocking_client(L, 1);
    lua_settop(L, 3);
    smneo_paginate_options po = SMNEO_PAGINATE_OPTIONS_INIT;
    read_paginate_opts(L, 3, &po);
    size_t len;
    const char *json = smneo_lua_encode_params(L, 2, op->name, &len);
    smneo_error *err = smneo_lua_errhold_new(L);
    lcall *lc = lcall_push(L, 1, cl, CALL_PAGINATE);
    int rc = smneo_paginate_new(&lc->call, cl->c, op->name, json, len, &po, err);
    lcall_made(L, lc, rc, err);
    return push_generic_for(L, iter_step);
}

/* client:wait_for_compilation_job(name, {delay, max_delay, timeout, callback}) */
int smneo_lua_client_wait(lua_State *L)
{
    lclient *cl = smneo_lua_check_blocking_client(L, 1);
    const char *name = luaL_checkstring(L, 2);
    lua_settop(L, 3);
    smneo_wait_options wo = SMNEO_WAIT_OPTIONS_INIT;
    int cb = 0;
    read_wait_opts(L, 3, &wo, &cb);
    smneo_error *err = smneo_lua_errhold_new(L);
    lcall *lc = lcall_push(L, 1, cl, CALL_WAIT);
    int rc = smneo_wait_new(&lc->call, cl->c, name, &wo, err);
    lcall_made(L, lc, rc, err);
    for (;;) {
        smneo_step st;
        memset(&st, 0, sizeof st);
        lclient *owner = lc->owner;
        owner->cur_L = L; /* the request hook and mfa_token run on this thread */
        smneo_call_run(&st, lc->call);
        owner->cur_L = NULL;
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
        smneo_lua_client_maybe_free(jl->owner);
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
    smneo_error *err = smneo_lua_errhold_new(L);
    smneo_log_event ev;
    int rc = smneo_joblogs_next(&ev, jl->l, err);
    joblogs_keep(L, lua_upvalueindex(1), jl);
    if (rc == 0) {
        smneo_lua_push_log_event(L, &ev);
        return 1;
    }
    joblogs_release(jl);
    if (rc == SMNEO_ITEROVER)
        return 0;
    return smneo_lua_raise_error(L, rc, err);
}

/* Reads the options table at index 2 and pushes a new reader userdata for
 * the client at index 1; returns it (raises on bad options). */
static ljoblogs *joblogs_push(lua_State *L, lclient *cl)
{
    static const char *const names[] = {"name", "follow", "start_time", "delay", "max_delay", "tail", NULL};
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    smneo_lua_check_known_keys(L, 2, names, "compilation_job_logs");
    const char *name = smneo_lua_opt_string(L, 2, "name");
    if (!name || !*name)
        smneo_lua_raise_msg(L, SMNEO_EINVAL, "compilation_job_logs: name (the CompilationJobName) is required");
    smneo_joblogs_options o = SMNEO_JOBLOGS_OPTIONS_INIT;
    lua_Number n;
    int b;
    if ((b = smneo_lua_opt_bool(L, 2, "follow")) >= 0)
        o.follow = b;
    if (smneo_lua_opt_number(L, 2, "start_time", &n)) {
        if (!(n >= 0) || n > 1e13)
            smneo_lua_raise_msg(L, SMNEO_EINVAL, "compilation_job_logs: start_time must be epoch seconds");
        o.start_time = (int64_t)(n * 1000.0 + 0.5);
    }
    if (smneo_lua_opt_number(L, 2, "delay", &n))
        o.delay = n;
    if (smneo_lua_opt_number(L, 2, "max_delay", &n))
        o.max_delay = n;
    if (smneo_lua_opt_number(L, 2, "tail", &n)) {
        if (n < 1 || floor(n) != n || n > 1e9)
            smneo_lua_raise_msg(L, SMNEO_EINVAL, "compilation_job_logs: tail must be a positive integer");
        o.tail = (size_t)n;
    }
    smneo_error *err = smneo_lua_errhold_new(L);
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
        smneo_lua_raise_error(L, rc, err);
    cl->calls++;
    lua_remove(L, ud - 1); /* the error holder */
    return jl;
}

/* client:compilation_job_logs{name=, follow=, start_time=, delay=, max_delay=, tail=}
 * -> iterator, nil, nil, handle (handle:warnings(), handle:status(), handle:close()) */
int smneo_lua_client_job_logs(lua_State *L)
{
    lclient *cl = smneo_lua_check_blocking_client(L, 1);
    lua_settop(L, 2);
    joblogs_push(L, cl);
    return push_generic_for(L, joblogs_step);
}

/* client:_job_logs{...} -> a reader driven step by step (smneo.resty):
 * next() -> "send", method, url, headers, body | "sleep", seconds |
 *           "event", "log", event | "event", "warning", text | "event", "status", status |
 *           "done", true | "done", nil, err;  feed(status, headers, body[, sends]);
 * feed_error(code, message); cancel(); close(). */
int smneo_lua_client_lowlevel_job_logs(lua_State *L)
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
        smneo_lua_raise_msg(L, SMNEO_EINVAL, "this job log reader has finished or was closed");
    return jl;
}

static int joblogs_next(lua_State *L)
{
    ljoblogs *jl = check_live_joblogs(L);
    if (jl->awaiting)
        smneo_lua_raise_msg(L, SMNEO_EINVAL, "next(): feed the answer to the last send first (feed or feed_error)");
    smneo_step st;
    memset(&st, 0, sizeof st);
    smneo_joblogs_step(&st, jl->l);
    switch (st.kind) {
    case SMNEO_STEP_SEND:
    case SMNEO_STEP_SLEEP:
        return push_io_step(L, &st, &jl->awaiting);
    case SMNEO_STEP_EVENT:
        lua_pushstring(L, "event");
        joblogs_keep(L, 1, jl);
        if (st.event == SMNEO_EVENT_LOG) {
            smneo_log_event ev;
            lua_pushstring(L, "log");
            if (smneo_joblogs_event(&ev, jl->l) == 0)
                smneo_lua_push_log_event(L, &ev);
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
        smneo_error *err = smneo_lua_errhold_new(L);
        int rc = smneo_joblogs_result(jl->l, err);
        joblogs_release(jl);
        lua_pushstring(L, "done");
        if (rc == 0) {
            lua_pushboolean(L, 1);
            return 2;
        }
        lua_pushnil(L);
        smneo_lua_push_error(L, rc, err);
        return 3;
    }
    }
}

static int joblogs_feed(lua_State *L)
{
    ljoblogs *jl = check_live_joblogs(L);
    if (!jl->awaiting)
        smneo_lua_raise_msg(L, SMNEO_EINVAL, "feed(): there is no send waiting for an answer");
    lbox *b = response_args(L, "feed()");
    jl->awaiting = 0;
    smneo_joblogs_feed(jl->l, (smneo_response *)smneo_lua_box_take(b), 0, NULL);
    return 0;
}

static int joblogs_feed_error(lua_State *L)
{
    ljoblogs *jl = check_live_joblogs(L);
    if (!jl->awaiting)
        smneo_lua_raise_msg(L, SMNEO_EINVAL, "feed_error(): there is no send waiting for an answer");
    const char *msg = NULL;
    int code = smneo_lua_feed_error_args(L, "feed_error()", &msg);
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

void smneo_lua_make_joblogs_metatable(lua_State *L)
{
    static const luaL_Reg methods[] = {{"warnings", joblogs_warnings}, {"status", joblogs_status},
                                       {"close", joblogs_gc},         {"next", joblogs_next},
                                       {"feed", joblogs_feed},        {"feed_error", joblogs_feed_error},
                                       {"cancel", joblogs_cancel},    {NULL, NULL}};
    smneo_lua_new_stepper_metatable(L, MT_JOBLOGS, methods, joblogs_gc, joblogs_gc);
    lua_pop(L, 1);
}

/* client:build_request(operation, params, {timestamp = epoch}) */
int smneo_lua_client_build_request(lua_State *L)
{
    static const char *const names[] = {"timestamp", NULL};
    lclient *cl = check_client(L, 1);
    const smneo_operation *op = smneo_lua_check_operation(L, 2);
    lua_settop(L, 4);
    int64_t ts = 0;
    if (!lua_isnil(L, 4)) {
        lua_Number n;
        luaL_checktype(L, 4, LUA_TTABLE);
        smneo_lua_check_known_keys(L, 4, names, "build_request options");
        if (smneo_lua_opt_number(L, 4, "timestamp", &n))
            ts = (int64_t)n;
    }
    size_t len;
    const char *json = smneo_lua_encode_params(L, 3, op->name, &len);
    smneo_error *err = smneo_lua_errhold_new(L);
    lbox *b = smneo_lua_box_new(L, smneo_lua_free_request);
    smneo_request *req = NULL;
    cl->cur_L = L;
    int rc = smneo_client_build_request(&req, cl->c, op->name, json, len, ts, err);
    cl->cur_L = NULL;
    b->p = req;
    if (rc != 0)
        return smneo_lua_raise_error(L, rc, err);
    push_request(L, req);
    return 1;
}

/* parse_response(operation, status, headers, body): module function and
 * client method (the client is not needed). */
static int parse_response_at(lua_State *L, int base)
{
    const smneo_operation *op = smneo_lua_check_operation(L, base);
    lbox *b = response_at(L, base + 1, "parse_response");
    smneo_response *resp = b->p;
    smneo_error *err = smneo_lua_errhold_new(L);
    lbox *rb = smneo_lua_box_new(L, smneo_lua_free_result);
    smneo_result *res = NULL;
    int rc = smneo_protocol_parse(&res, op->name, resp, err);
    rb->p = res;
    if (rc != 0)
        return smneo_lua_raise_error(L, rc, err);
    smneo_lua_push_result(L, res);
    return 1;
}

int smneo_lua_client_parse_response(lua_State *L)
{
    luaL_checkudata(L, 1, MT_CLIENT);
    return parse_response_at(L, 2);
}

int smneo_lua_l_parse_response(lua_State *L) { return parse_response_at(L, 1); }

/* For lua/s3.c's transfer stepper: the same argument handling as call:feed. */
lclient *smneo_lua_check_client(lua_State *L, int idx) { return check_client(L, idx); }
void smneo_lua_push_request_headers(lua_State *L, const smneo_request *r) { push_headers(L, r); }
lbox *smneo_lua_response_args(lua_State *L, const char *what) { return response_args(L, what); }
int smneo_lua_feed_error_args(lua_State *L, const char *what, const char **msg)
{
    int code = transport_error_arg(L, what);
    *msg = luaL_optstring(L, 3, "transport error");
    return code;
}
