/* lua/compat.h: the one place that absorbs the differences between the Lua
 * 5.1 ABI (LuaJIT 2.1) and Lua 5.4 for the smneo module. Everything else in
 * the binding is written against the 5.4 vocabulary plus the compat_*
 * helpers below. */
#ifndef SMNEO_LUA_COMPAT_H
#define SMNEO_LUA_COMPAT_H

#include <stdint.h>

#include <lauxlib.h>
#include <lua.h>

#if LUA_VERSION_NUM < 502
/* ---- Lua 5.1 / LuaJIT 2.1 ------------------------------------------------ */
/* LuaJIT 2.1 already provides luaL_setfuncs, luaL_testudata,
 * luaL_setmetatable and luaL_newlib. */
#define lua_rawlen(L, i) lua_objlen((L), (i))

#ifndef luaL_newlibtable
/* PUC Lua 5.1 (e.g. a luarocks tree for 5.1) lacks what LuaJIT 2.1 added. */
static inline void luaL_setfuncs(lua_State *L, const luaL_Reg *l, int nup)
{
    luaL_checkstack(L, nup + 1, "too many upvalues");
    for (; l->name; l++) {
        for (int i = 0; i < nup; i++)
            lua_pushvalue(L, -nup);
        lua_pushcclosure(L, l->func, nup);
        lua_setfield(L, -(nup + 2), l->name);
    }
    lua_pop(L, nup);
}

static inline void luaL_setmetatable(lua_State *L, const char *tname)
{
    luaL_getmetatable(L, tname);
    lua_setmetatable(L, -2);
}
#endif

static inline int compat_absindex(lua_State *L, int idx)
{
    return (idx > 0 || idx <= LUA_REGISTRYINDEX) ? idx : lua_gettop(L) + idx + 1;
}

static inline void *compat_newuserdata(lua_State *L, size_t size) { return lua_newuserdata(L, size); }

/* Userdata environments must be tables in 5.1: keep the value at [1]. */
static inline void compat_setuservalue(lua_State *L, int idx)
{
    idx = compat_absindex(L, idx);
    lua_createtable(L, 1, 0);
    lua_insert(L, -2);
    lua_rawseti(L, -2, 1);
    lua_setfenv(L, idx);
}

static inline void compat_getuservalue(lua_State *L, int idx)
{
    lua_getfenv(L, idx);
    if (lua_istable(L, -1)) {
        lua_rawgeti(L, -1, 1);
        lua_remove(L, -2);
    } else {
        lua_pop(L, 1);
        lua_pushnil(L);
    }
}

/* No integer subtype: every number is a double. */
static inline int compat_isinteger(lua_State *L, int idx)
{
    (void)L;
    (void)idx;
    return 0;
}

static inline void compat_pushint64(lua_State *L, int64_t v) { lua_pushnumber(L, (lua_Number)v); }

#define COMPAT_HAS_CLOSE 0

#else
/* ---- Lua 5.2 and later (built and tested: 5.4) ---------------------------- */
#define compat_absindex(L, i) lua_absindex((L), (i))

#if LUA_VERSION_NUM >= 504
static inline void *compat_newuserdata(lua_State *L, size_t size) { return lua_newuserdatauv(L, size, 1); }
static inline void compat_setuservalue(lua_State *L, int idx) { lua_setiuservalue(L, idx, 1); }
static inline void compat_getuservalue(lua_State *L, int idx) { lua_getiuservalue(L, idx, 1); }
#define COMPAT_HAS_CLOSE 1
#else
static inline void *compat_newuserdata(lua_State *L, size_t size) { return lua_newuserdata(L, size); }
static inline void compat_setuservalue(lua_State *L, int idx) { lua_setuservalue(L, idx); }
static inline void compat_getuservalue(lua_State *L, int idx) { lua_getuservalue(L, idx); }
#define COMPAT_HAS_CLOSE 0
#endif

#if LUA_VERSION_NUM >= 503
static inline int compat_isinteger(lua_State *L, int idx) { return lua_isinteger(L, idx); }
static inline void compat_pushint64(lua_State *L, int64_t v) { lua_pushinteger(L, (lua_Integer)v); }
#else
static inline int compat_isinteger(lua_State *L, int idx)
{
    (void)L;
    (void)idx;
    return 0;
}
static inline void compat_pushint64(lua_State *L, int64_t v) { lua_pushnumber(L, (lua_Number)v); }
#endif

#endif

#endif
