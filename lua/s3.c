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

static uint64_t opt_size(lua_State *L, int t, const char *k)
{
    lua_Number n = 0;
    if (smneo_lua_opt_number(L, t, k, &n) && (!(n >= 1) || n > 9007199254740992.0 || n != floor(n)))
        smneo_lua_raise_msg(L, SMNEO_EINVAL, "option %s must be a positive whole number of bytes", k);
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
    lclient *cl = smneo_lua_check_blocking_client(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    smneo_lua_check_known_keys(L, 2, upload ? up_names : down_names, what);
    const char *filename = smneo_lua_opt_string(L, 2, "filename");
    const char *bucket = smneo_lua_opt_string(L, 2, "bucket");
    const char *key = smneo_lua_opt_string(L, 2, "key");
    if (!filename || !*filename || !bucket || !*bucket || !key || !*key)
        smneo_lua_raise_msg(L, SMNEO_EINVAL, "%s: filename, bucket and key are required (non-empty strings)", what);
    smneo_s3_options o = SMNEO_S3_OPTIONS_INIT;
    const char *failed_op = NULL;
    o.failed_operation = &failed_op;
    if (upload) {
        o.content_type = smneo_lua_opt_string(L, 2, "content_type");
        o.server_side_encryption = smneo_lua_opt_string(L, 2, "server_side_encryption");
        o.sse_kms_key_id = smneo_lua_opt_string(L, 2, "sse_kms_key_id");
        o.multipart_threshold = opt_size(L, 2, "multipart_threshold");
        o.part_size = opt_size(L, 2, "part_size");
        uint64_t conc = opt_size(L, 2, "concurrency");
        if (conc > 1000)
            smneo_lua_raise_msg(L, SMNEO_EINVAL, "option concurrency must be at most 1000");
        o.concurrency = (int)conc;
        lua_getfield(L, 2, "metadata");
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
