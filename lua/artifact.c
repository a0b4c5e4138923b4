/* lua/artifact.c: smneo.artifact in Lua: pack, digest, verify, inspect, extract */

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

/* ---- smneo.artifact ---------------------------------------------------------------- */

int smneo_lua_progress_cb(uint64_t done, uint64_t total, void *payload)
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
int smneo_lua_read_progress(lua_State *L, int t, progress_ctx *pc)
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
        smneo_lua_raise_msg(L, SMNEO_EINVAL, "option progress must be a function, not a %s", luaL_typename(L, -1));
    pc->fn = lua_gettop(L); /* stays on the stack */
    return 1;
}

/* After a core call with a progress context: re-raise the callback's error. */
void smneo_lua_progress_rethrow(lua_State *L, progress_ctx *pc)
{
    if (pc->failed)
        lua_error(L);
}

static int opt_table(lua_State *L, int idx, const char *const *names, const char *what)
{
    if (lua_isnoneornil(L, idx))
        return 0;
    luaL_checktype(L, idx, LUA_TTABLE);
    smneo_lua_check_known_keys(L, idx, names, what);
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
        if (smneo_lua_opt_number(L, t, "compresslevel", &n)) {
            if (n < 1 || n > 9 || floor(n) != n)
                smneo_lua_raise_msg(L, SMNEO_EINVAL, "artifact.pack: compresslevel must be an integer from 1 to 9");
            po.compress_level = (int)n;
        }
        if (smneo_lua_opt_number(L, t, "threads", &n)) {
            if (n < 0 || n > 256 || floor(n) != n)
                smneo_lua_raise_msg(L, SMNEO_EINVAL, "artifact.pack: threads must be an integer from 0 (automatic) to 256");
            po.threads = (int)n;
        }
        if (smneo_lua_opt_number(L, t, "source_date_epoch", &n))
            po.source_date_epoch = (int64_t)n;
        if (smneo_lua_opt_number(L, t, "block_size", &n)) {
            if (n < 0)
                smneo_lua_raise_msg(L, SMNEO_EINVAL, "artifact.pack: block_size must not be negative");
            po.block_size = (size_t)n;
        }
        base_dir = smneo_lua_opt_string(L, t, "base_dir");
    }
    progress_ctx pc;
    if (smneo_lua_read_progress(L, t, &pc)) {
        po.progress = smneo_lua_progress_cb;
        po.payload = &pc;
    }
    /* the path list: pointers into Lua strings held by the table at 1 */
    lbox *lb = NULL;
    const char **paths = NULL;
    size_t npaths = 0;
    if (is_list) {
        npaths = lua_rawlen(L, 1);
        if (npaths == 0)
            smneo_lua_raise_msg(L, SMNEO_EINVAL, "artifact.pack: the list of files is empty");
        lb = smneo_lua_box_new(L, free);
        paths = (const char **)calloc(npaths, sizeof *paths);
        if (!paths)
            smneo_lua_raise_msg(L, SMNEO_ENOMEM, "out of memory");
        lb->p = (void *)paths;
        for (size_t i = 0; i < npaths; i++) {
            lua_rawgeti(L, 1, (int)i + 1);
            if (lua_type(L, -1) != LUA_TSTRING)
                smneo_lua_raise_msg(L, SMNEO_EINVAL, "artifact.pack: file list entry %d must be a string", (int)i + 1);
            paths[i] = lua_tostring(L, -1); /* anchored by the table */
            lua_pop(L, 1);
        }
    }
    smneo_error *err = smneo_lua_errhold_new(L);
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
    smneo_lua_progress_rethrow(L, &pc);
    if (rc != 0)
        return smneo_lua_raise_error(L, rc, err);
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
    if (smneo_lua_read_progress(L, t, &pc)) {
        dopt.progress = smneo_lua_progress_cb;
        dopt.payload = &pc;
    }
    smneo_error *err = smneo_lua_errhold_new(L);
    lbox *b = smneo_lua_box_new(L, free);
    char *hex = NULL;
    int rc = smneo_artifact_digest(&hex, path, alg, &dopt, err);
    b->p = hex;
    smneo_lua_progress_rethrow(L, &pc);
    if (rc != 0)
        return smneo_lua_raise_error(L, rc, err);
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
    if (smneo_lua_read_progress(L, t, &pc)) {
        dopt.progress = smneo_lua_progress_cb;
        dopt.payload = &pc;
    }
    smneo_error *err = smneo_lua_errhold_new(L);
    int rc = smneo_artifact_verify(path, expected, &dopt, err);
    smneo_lua_progress_rethrow(L, &pc);
    if (rc != 0)
        return smneo_lua_raise_error(L, rc, err);
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
        if (smneo_lua_opt_number(L, t, counts[i], &n)) {
            if (n < 1)
                smneo_lua_raise_msg(L, SMNEO_EINVAL, "artifact.%s: %s must be at least 1", fn, counts[i]);
            *outs[i] = (uint64_t)n;
        }
    if (t && smneo_lua_opt_number(L, t, "max_ratio", &n))
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
        io.framework = smneo_lua_opt_string(L, t, "framework");
        io.target = smneo_lua_opt_string(L, t, "target");
        io.compiler_options = smneo_lua_opt_string(L, t, "compiler_options");
    }
    read_limits(L, t, "inspect", &io.max_bytes, &io.max_entries, &io.max_ratio);
    progress_ctx pc;
    if (smneo_lua_read_progress(L, t, &pc)) {
        io.progress = smneo_lua_progress_cb;
        io.payload = &pc;
    }
    smneo_error *err = smneo_lua_errhold_new(L);
    lbox *b = smneo_lua_box_new(L, free_inspection);
    smneo_artifact_inspection *in = NULL;
    int rc = smneo_artifact_inspect(&in, path, &io, err);
    b->p = in;
    smneo_lua_progress_rethrow(L, &pc);
    if (rc != 0)
        return smneo_lua_raise_error(L, rc, err);
    size_t count = smneo_artifact_inspection_member_count(in);
    lua_createtable(L, 0, 3);
    lua_createtable(L, count > 100000 ? 100000 : (int)count, 0);
    for (size_t i = 0; i < count; i++) {
        const smneo_artifact_member *m = smneo_artifact_inspection_member_at(in, i);
        if (!m)
            break;
        lua_createtable(L, 0, 4);
        smneo_lua_set_str(L, "name", m->name);
        lua_pushstring(L, smneo_member_type_name(m->type));
        lua_setfield(L, -2, "type");
        compat_pushint64(L, (int64_t)m->size);
        lua_setfield(L, -2, "size");
        smneo_lua_set_str(L, "linkname", m->linkname);
        lua_rawseti(L, -2, (int)i + 1);
    }
    smneo_lua_push_array_mt(L);
    lua_setmetatable(L, -2);
    lua_setfield(L, -2, "members");
    lua_pushboolean(L, smneo_artifact_inspection_single_gzip_member(in));
    lua_setfield(L, -2, "single_gzip_member");
    smneo_lua_push_issues(L, smneo_artifact_inspection_issues(in));
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
    if (smneo_lua_read_progress(L, t, &pc)) {
        eo.progress = smneo_lua_progress_cb;
        eo.payload = &pc;
    }
    smneo_error *err = smneo_lua_errhold_new(L);
    int rc = smneo_artifact_extract(path, dest, &eo, err);
    smneo_lua_progress_rethrow(L, &pc);
    if (rc != 0)
        return smneo_lua_raise_error(L, rc, err);
    lua_pushboolean(L, 1);
    return 1;
}

void smneo_lua_push_artifact_table(lua_State *L)
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
