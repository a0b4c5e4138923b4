/* lua/s3.c: S3 transfers in Lua: client:upload_file{...} and client:download_file{...} (smneo/s3.h) */

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

/* ---- S3 transfer: client:upload_file{...}, client:download_file{...} ----------------- */

static int s3_progress_cb(uint64_t done, uint64_t total, void *payload)
{
    s3_progress_ctx *x = (s3_progress_ctx *)payload;
    if (x->pc.failed)
        return 1;
    if (!pthread_equal(pthread_self(), x->owner))
        return 0;
    return smneo_lua_progress_cb(done, total, &x->pc);
}

static const char *const UP_NAMES[] = {"filename", "bucket", "key", "content_type", "metadata",
                                       "server_side_encryption", "sse_kms_key_id", "multipart_threshold",
                                       "part_size", "concurrency", "progress", NULL};
static const char *const DOWN_NAMES[] = {"filename", "bucket", "key", "progress", NULL};

static uint64_t opt_size(lua_State *L, int t, const char *k)
{
    lua_Number n = 0;
    if (smneo_lua_opt_number(L, t, k, &n) && (!(n >= 1) || n > 9007199254740992.0 || n != floor(n)))
        smneo_lua_raise_msg(L, SMNEO_EINVAL, "option %s must be a positive whole number of bytes", k);
    return (uint64_t)n;
}

/* The options of an upload in table t (content_type, metadata, ...) into *o;
 * the strings are borrowed from t and the metadata array stays on the stack. */
static void read_upload_options(lua_State *L, int t, smneo_s3_options *o)
{
    o->content_type = smneo_lua_opt_string(L, t, "content_type");
    o->server_side_encryption = smneo_lua_opt_string(L, t, "server_side_encryption");
    o->sse_kms_key_id = smneo_lua_opt_string(L, t, "sse_kms_key_id");
    o->multipart_threshold = opt_size(L, t, "multipart_threshold");
    o->part_size = opt_size(L, t, "part_size");
    uint64_t conc = opt_size(L, t, "concurrency");
    if (conc > 1000)
        smneo_lua_raise_msg(L, SMNEO_EINVAL, "option concurrency must be at most 1000");
    o->concurrency = (int)conc;
    lua_getfield(L, t, "metadata");
    if (!lua_isnil(L, -1)) {
        if (!lua_istable(L, -1))
            smneo_lua_raise_msg(L, SMNEO_EINVAL, "option metadata must be a table of strings, not a %s",
                                luaL_typename(L, -1));
        int mt = lua_gettop(L); /* stays on the stack: its strings are borrowed */
        size_t n = 0;
        for (lua_pushnil(L); lua_next(L, mt); lua_pop(L, 1)) {
            if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
                smneo_lua_raise_msg(L, SMNEO_EINVAL, "option metadata must map strings to strings");
            n++;
        }
        const char **pairs = (const char **)compat_newuserdata(L, (2 * n + 1) * sizeof *pairs);
        size_t i = 0;
        for (lua_pushnil(L); lua_next(L, mt); lua_pop(L, 1)) {
            pairs[i++] = lua_tostring(L, -2);
            pairs[i++] = lua_tostring(L, -1);
        }
        pairs[i] = NULL;
        o->metadata = pairs;
    }
}

/* upload: 1 for upload_file, 0 for download_file. */
static int s3_transfer(lua_State *L, int upload)
{
    const char *what = upload ? "upload_file" : "download_file";
    lclient *cl = smneo_lua_check_blocking_client(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    smneo_lua_check_known_keys(L, 2, upload ? UP_NAMES : DOWN_NAMES, what);
    const char *filename = smneo_lua_opt_string(L, 2, "filename");
    const char *bucket = smneo_lua_opt_string(L, 2, "bucket");
    const char *key = smneo_lua_opt_string(L, 2, "key");
    if (!filename || !*filename || !bucket || !*bucket || !key || !*key)
        smneo_lua_raise_msg(L, SMNEO_EINVAL, "%s: filename, bucket and key are required (non-empty strings)", what);
    smneo_s3_options o = SMNEO_S3_OPTIONS_INIT;
    const char *failed_op = NULL;
    o.failed_operation = &failed_op;
    if (upload)
        read_upload_options(L, 2, &o); /* its metadata array stays on the stack */
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
    if (smneo_lua_read_progress(L, 2, &px.pc)) {
        o.progress = s3_progress_cb;
        o.payload = &px;
    }
    smneo_error *err = smneo_lua_errhold_new(L);
    cl->calls++;
    cl->cur_L = L;
    int rc = upload ? smneo_s3_upload(cl->c, filename, uri, &o, err) : smneo_s3_download(cl->c, uri, filename, &o, err);
    cl->cur_L = NULL;
    cl->calls--;
    smneo_lua_client_maybe_free(cl);
    smneo_lua_progress_rethrow(L, &px.pc); /* the callback's own error, after the transfer has stopped */
    if (rc != 0) {
        smneo_lua_push_error(L, rc, err);
        if (failed_op) {
            lua_pushstring(L, failed_op);
            lua_setfield(L, -2, "operation");
        }
        return lua_error(L);
    }
    lua_pushboolean(L, 1);
    return 1;
}

int smneo_lua_client_upload_file(lua_State *L) { return s3_transfer(L, 1); }
int smneo_lua_client_download_file(lua_State *L) { return s3_transfer(L, 0); }

/* ---- client:_download{...}, client:_upload{...}: the transfer machines stepped from Lua
 * (smneo.resty) ------------------------------------------------------------------------ */

#define MT_S3XFER "smneo.s3transfer"
/* SENDs in flight at once: the parts (concurrency is at most 1000) and a
 * credential request. */
#define MAX_INFLIGHT 1002

typedef struct ls3xfer {
    smneo_s3_transfer *x;
    smneo_call **from; /* a compile machine's upload (borrowed): its call; NULL when owned */
    lclient *owner;  /* kept alive through the userdata's user value */
    int upload;      /* several SENDs may be in flight (a download has one) */
    int n;           /* SENDs waiting for their feed */
    int ids[MAX_INFLIGHT];
    lua_Integer work_id; /* the WORK step handed out (0: none) */
} ls3xfer;

static void xfer_work(void *x) { smneo_s3_transfer_work((smneo_s3_transfer *)x); }
static void xfer_cancel(void *x) { smneo_s3_transfer_cancel((smneo_s3_transfer *)x); }

static void s3xfer_release(ls3xfer *lx)
{
    if (lx->x && lx->from && (!*lx->from || smneo_call_transfer(*lx->from) != lx->x))
        lx->x = NULL; /* gone with its call */
    if (lx->work_id) { /* a work running on another thread is cancelled and waited for */
        smneo_lua_work_forget(lx->work_id, lx->x != NULL);
        lx->work_id = 0;
    }
    if (lx->x && lx->from) { /* the compile machine's: it frees it */
        lx->x = NULL;
        return;
    }
    if (lx->x) {
        smneo_s3_transfer *x = lx->x;
        lx->x = NULL;
        smneo_s3_transfer_free(x); /* an unfinished download's temporary file goes too */
        lx->owner->calls--;
        smneo_lua_client_maybe_free(lx->owner);
    }
}

static int s3xfer_gc(lua_State *L)
{
    s3xfer_release((ls3xfer *)luaL_checkudata(L, 1, MT_S3XFER));
    return 0;
}

static ls3xfer *check_live_s3xfer(lua_State *L)
{
    ls3xfer *lx = (ls3xfer *)luaL_checkudata(L, 1, MT_S3XFER);
    if (lx->x && lx->from && (!*lx->from || smneo_call_transfer(*lx->from) != lx->x))
        lx->x = NULL; /* the call was closed, or has taken the upload's result */
    if (!lx->x)
        smneo_lua_raise_msg(L, SMNEO_EINVAL, "this transfer has finished or was closed");
    return lx;
}

/* The id argument at stack 2 must name a SEND waiting for its answer: its
 * index in lx->ids. */
static int check_id(lua_State *L, ls3xfer *lx, const char *what)
{
    lua_Integer id = luaL_checkinteger(L, 2);
    for (int i = 0; i < lx->n; i++)
        if (lx->ids[i] == id)
            return i;
    return smneo_lua_raise_msg(L, SMNEO_EINVAL, "%s: no send with id %lld is waiting for an answer", what,
                               (long long)id);
}

/* The SEND at index i was answered: its id, no longer waiting. */
static int answered(ls3xfer *lx, int i)
{
    int id = lx->ids[i];
    lx->ids[i] = lx->ids[--lx->n];
    return id;
}

/* next() -> "send", method, url, headers, body, id, sink, body_len | "wait" |
 *           "sleep", seconds | "event", "progress", done, total |
 *           "work", id (after work_steps(true)) |
 *           "done", true | "done", nil, err
 * A send's body_len (nil otherwise) says its body streams from read(id, n).
 * A work step runs with smneo._work(id) on any thread's Lua state
 * (ngx.run_worker_thread) or with work(), before the next next(); sends in
 * flight may be read and fed meanwhile. */
static int s3xfer_next(lua_State *L)
{
    ls3xfer *lx = check_live_s3xfer(L);
    if (lx->n && (!lx->upload || lx->n >= MAX_INFLIGHT))
        smneo_lua_raise_msg(L, SMNEO_EINVAL, "next(): feed the answer to send %d first (feed or feed_error)",
                            lx->ids[0]);
    if (lx->work_id) {
        if (!smneo_lua_work_forget(lx->work_id, 0))
            smneo_lua_raise_msg(L, SMNEO_EINVAL, "next(): the work step %d has not run: run it with "
                                "smneo._work(%d) (e.g. in ngx.run_worker_thread) or work() first",
                                (int)lx->work_id, (int)lx->work_id);
        lx->work_id = 0;
    }
    smneo_s3_step st;
    lx->owner->cur_L = L;
    smneo_s3_transfer_next(&st, lx->x);
    lx->owner->cur_L = NULL;
    switch (st.kind) {
    case SMNEO_STEP_SEND: {
        const smneo_request *r = st.request;
        lx->ids[lx->n++] = st.id;
        lua_pushstring(L, "send");
        lua_pushstring(L, r->method ? r->method : "GET");
        lua_pushstring(L, r->url ? r->url : "");
        smneo_lua_push_request_headers(L, r);
        lua_pushlstring(L, r->body ? r->body : "", r->body ? r->body_len : 0);
        lua_pushinteger(L, st.id);
        lua_pushboolean(L, st.sink);
        if (!r->body && r->body_len > 0)
            lua_pushnumber(L, (lua_Number)r->body_len);
        else
            lua_pushnil(L);
        return 8;
    }
    case SMNEO_STEP_WAIT:
        lua_pushstring(L, "wait");
        return 1;
    case SMNEO_STEP_WORK:
        if (smneo_lua_work_register(&lx->work_id, xfer_work, xfer_cancel, lx->x) != 0)
            smneo_lua_raise_msg(L, SMNEO_ENOMEM, "out of memory");
        lua_pushstring(L, "work");
        lua_pushinteger(L, lx->work_id);
        return 2;
    case SMNEO_STEP_SLEEP:
        lua_pushstring(L, "sleep");
        lua_pushnumber(L, (lua_Number)st.sleep_ms / 1000.0);
        return 2;
    case SMNEO_STEP_EVENT:
        lua_pushstring(L, "event");
        lua_pushstring(L, "progress");
        lua_pushnumber(L, (lua_Number)st.done);
        lua_pushnumber(L, (lua_Number)st.total);
        return 4;
    case SMNEO_STEP_DONE:
    default: {
        if (lx->from) { /* the compile machine takes the result when stepped again */
            s3xfer_release(lx);
            lua_pushstring(L, "done");
            lua_pushboolean(L, 1);
            return 2;
        }
        smneo_error *err = smneo_lua_errhold_new(L);
        int rc = smneo_s3_transfer_result(lx->x, err);
        const char *op = smneo_s3_transfer_failed_operation(lx->x);
        s3xfer_release(lx);
        lua_pushstring(L, "done");
        if (rc == 0) {
            lua_pushboolean(L, 1);
            return 2;
        }
        lua_pushnil(L);
        smneo_lua_push_error(L, rc, err);
        if (op) {
            lua_pushstring(L, op);
            lua_setfield(L, -2, "operation");
        }
        return 3;
    }
    }
}

/* write(id, data) -> true to go on, false when the driver must stop
 * receiving (a write error or a cancel) and feed. */
static int s3xfer_write(lua_State *L)
{
    ls3xfer *lx = check_live_s3xfer(L);
    int id = lx->ids[check_id(L, lx, "write()")];
    size_t n = 0;
    const char *data = luaL_checklstring(L, 3, &n);
    lua_pushboolean(L, smneo_s3_transfer_write(lx->x, id, data, n) == 0);
    return 1;
}

/* feed(id, status, headers[, body]): the answer to send id (a 2xx body
 * already went through write). */
static int s3xfer_feed(lua_State *L)
{
    ls3xfer *lx = check_live_s3xfer(L);
    int i = check_id(L, lx, "feed()");
    lua_remove(L, 2); /* status, headers, body at 2..4, as call:feed has them */
    lbox *b = smneo_lua_response_args(L, "feed()");
    int id = answered(lx, i);
    smneo_s3_transfer_feed(lx->x, id, (smneo_response *)smneo_lua_box_take(b), 0, NULL);
    return 0;
}

/* feed_error(id, code, message): the transport failed (before or during the body). */
static int s3xfer_feed_error(lua_State *L)
{
    ls3xfer *lx = check_live_s3xfer(L);
    int i = check_id(L, lx, "feed_error()");
    lua_remove(L, 2);
    const char *msg = NULL;
    int code = smneo_lua_feed_error_args(L, "feed_error()", &msg);
    int id = answered(lx, i);
    smneo_s3_transfer_feed(lx->x, id, NULL, code, msg);
    return 0;
}

/* read(id, n) -> the next piece (at most n bytes) of send id's streamed
 * body, "" at its end; nil, message when the file cannot be read (stop
 * sending and feed_error: the transfer fails with that file error). */
static int s3xfer_read(lua_State *L)
{
    ls3xfer *lx = check_live_s3xfer(L);
    int id = lx->ids[check_id(L, lx, "read()")];
    lua_Integer n = luaL_checkinteger(L, 3);
    if (n < 1 || n > 16 * 1024 * 1024)
        smneo_lua_raise_msg(L, SMNEO_EINVAL, "read(): n must be 1 to 16777216 bytes");
    char *p = (char *)compat_newuserdata(L, (size_t)n); /* a scratch buffer, collected */
    int64_t got = smneo_s3_transfer_read(lx->x, id, p, (size_t)n);
    if (got < 0) {
        lua_pushnil(L);
        lua_pushstring(L, "the file cannot be read (or the transfer is stopping)");
        return 2;
    }
    lua_pushlstring(L, p, (size_t)got);
    return 1;
}

/* work_steps(on): opts in (before the first next()) to "work" steps: an
 * upload's payload hashes over plain HTTP (s3.h, WORK). */
static int s3xfer_work_steps(lua_State *L)
{
    ls3xfer *lx = check_live_s3xfer(L);
    smneo_s3_transfer_set_work_steps(lx->x, lua_toboolean(L, 2));
    return 0;
}

/* work(): runs the pending work step here (a driver without threads). */
static int s3xfer_work(lua_State *L)
{
    ls3xfer *lx = check_live_s3xfer(L);
    if (!lx->work_id || smneo_lua_work_run(lx->work_id) != 0)
        smneo_lua_raise_msg(L, SMNEO_EINVAL, "work(): there is no work step waiting to run");
    return 0;
}

/* cancel(): a work step handed out and not run is dropped (one running on
 * another thread is stopped and waited for), so next() can go on to DONE
 * (an upload's Abort first). */
static int s3xfer_cancel(lua_State *L)
{
    ls3xfer *lx = (ls3xfer *)luaL_checkudata(L, 1, MT_S3XFER);
    if (lx->x && lx->from && (!*lx->from || smneo_call_transfer(*lx->from) != lx->x))
        lx->x = NULL;
    if (lx->work_id) {
        smneo_lua_work_forget(lx->work_id, lx->x != NULL);
        lx->work_id = 0;
    }
    if (lx->x)
        smneo_s3_transfer_cancel(lx->x);
    return 0;
}

/* Pushes a transfer userdata (no machine yet) that keeps the client at stack
 * 1 alive; the place for the machine. */
static smneo_s3_transfer **new_s3xfer(lua_State *L, lclient *cl, int upload)
{
    ls3xfer *lx = (ls3xfer *)compat_newuserdata(L, sizeof *lx);
    lx->x = NULL;
    lx->from = NULL;
    lx->owner = cl;
    lx->upload = upload;
    lx->n = 0;
    lx->work_id = 0;
    luaL_setmetatable(L, MT_S3XFER);
    int ud = lua_gettop(L);
    lua_pushvalue(L, 1); /* user value: the client, kept alive */
    compat_setuservalue(L, ud);
    return &lx->x;
}

/* A compile machine's upload after its TRANSFER step (call:next() gives
 * "transfer", x): the same methods as client:_upload's transfer, borrowed
 * from the call at stack index `call` (kept alive by it; *from is its
 * machine). Its "done" is "done", true: the call takes the result. */
void smneo_lua_push_call_s3xfer(lua_State *L, lclient *cl, int call, smneo_call **from)
{
    if (call < 0)
        call = lua_gettop(L) + call + 1;
    ls3xfer *lx = (ls3xfer *)compat_newuserdata(L, sizeof *lx);
    lx->x = smneo_call_transfer(*from);
    lx->from = from;
    lx->owner = cl;
    lx->upload = 1;
    lx->n = 0;
    lx->work_id = 0;
    luaL_setmetatable(L, MT_S3XFER);
    int ud = lua_gettop(L);
    lua_pushvalue(L, call);
    compat_setuservalue(L, ud);
}

/* client:_download{filename=, bucket=, key=} -> a transfer stepped with
 * next/write/feed/feed_error/cancel/close (smneo.resty's download_file). */
int smneo_lua_client_lowlevel_download(lua_State *L)
{
    static const char *const names[] = {"filename", "bucket", "key", NULL};
    lclient *cl = smneo_lua_check_client(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    smneo_lua_check_known_keys(L, 2, names, "download_file");
    const char *filename = smneo_lua_opt_string(L, 2, "filename");
    const char *bucket = smneo_lua_opt_string(L, 2, "bucket");
    const char *key = smneo_lua_opt_string(L, 2, "key");
    if (!filename || !*filename || !bucket || !*bucket || !key || !*key)
        smneo_lua_raise_msg(L, SMNEO_EINVAL, "download_file: filename, bucket and key are required (non-empty strings)");
    lua_pushfstring(L, "s3://%s/%s", bucket, key);
    const char *uri = lua_tostring(L, -1);
    smneo_error *err = smneo_lua_errhold_new(L);
    int rc = smneo_s3_download_new(new_s3xfer(L, cl, 0), cl->c, uri, filename, NULL, err);
    if (rc != 0)
        return smneo_lua_raise_error(L, rc, err);
    cl->calls++;
    return 1;
}

/* client:_upload{filename=, bucket=, key=, content_type=, ...} -> a transfer
 * stepped with next/read/feed/feed_error/cancel/close (smneo.resty's
 * upload_file): several sends may be in flight ("wait": feed one first). */
int smneo_lua_client_lowlevel_upload(lua_State *L)
{
    lclient *cl = smneo_lua_check_client(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    static const char *const names[] = {"filename", "bucket", "key", "content_type", "metadata",
                                        "server_side_encryption", "sse_kms_key_id", "multipart_threshold",
                                        "part_size", "concurrency", NULL};
    smneo_lua_check_known_keys(L, 2, names, "upload_file");
    const char *filename = smneo_lua_opt_string(L, 2, "filename");
    const char *bucket = smneo_lua_opt_string(L, 2, "bucket");
    const char *key = smneo_lua_opt_string(L, 2, "key");
    if (!filename || !*filename || !bucket || !*bucket || !key || !*key)
        smneo_lua_raise_msg(L, SMNEO_EINVAL, "upload_file: filename, bucket and key are required (non-empty strings)");
    smneo_s3_options o = SMNEO_S3_OPTIONS_INIT;
    read_upload_options(L, 2, &o); /* its metadata array stays on the stack */
    lua_pushfstring(L, "s3://%s/%s", bucket, key);
    const char *uri = lua_tostring(L, -1);
    smneo_error *err = smneo_lua_errhold_new(L);
    int rc = smneo_s3_upload_new(new_s3xfer(L, cl, 1), cl->c, filename, uri, &o, err);
    if (rc != 0)
        return smneo_lua_raise_error(L, rc, err);
    cl->calls++;
    return 1;
}

void smneo_lua_make_s3xfer_metatable(lua_State *L)
{
    static const luaL_Reg methods[] = {{"next", s3xfer_next},     {"write", s3xfer_write},
                                       {"feed", s3xfer_feed},     {"feed_error", s3xfer_feed_error},
                                       {"cancel", s3xfer_cancel}, {"close", s3xfer_gc},
                                       {"read", s3xfer_read},     {"work_steps", s3xfer_work_steps},
                                       {"work", s3xfer_work},
                                       {NULL, NULL}};
    smneo_lua_new_stepper_metatable(L, MT_S3XFER, methods, s3xfer_gc, s3xfer_gc);
    lua_pop(L, 1);
}
