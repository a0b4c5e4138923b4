# cmake/lua.cmake: the Lua module `smneo` (lua/*.c), built once per Lua
# ABI: build/lua5.4/smneo.so and build/luajit/smneo.so. The module links the
# static, position-independent libsmneo and its dependencies, never liblua:
# the host interpreter (lua5.4, luajit, nginx) provides the Lua symbols.
#
# For `luarocks make` (see smneo-scm-1.rockspec) the rock passes
# SMNEO_LUA_ROCK=ON with LUA_INCDIR: then one module, build-rock/lua-rock/smneo.so,
# is built for that interpreter (target smneo_lua_rock); luarocks installs it
# together with lua/smneo/*.lua.

if(SMNEO_BUILD_LUA)
  set(SMNEO_LUA_SOURCES ${CMAKE_SOURCE_DIR}/lua/smneo.c ${CMAKE_SOURCE_DIR}/lua/convert.c
      ${CMAKE_SOURCE_DIR}/lua/client.c ${CMAKE_SOURCE_DIR}/lua/compile.c ${CMAKE_SOURCE_DIR}/lua/s3.c
      ${CMAKE_SOURCE_DIR}/lua/artifact.c)

  function(smneo_add_lua_module target incdir outdir)
    add_library(${target} MODULE ${SMNEO_LUA_SOURCES})
    target_include_directories(${target} PRIVATE ${incdir} ${CMAKE_SOURCE_DIR}/lua)
    target_compile_options(${target} PRIVATE ${SMNEO_WARNINGS} -fvisibility=hidden)
    # Keep libsmneo's symbols inside the module: only luaopen_smneo is exported.
    target_link_options(${target} PRIVATE -Wl,--exclude-libs,ALL)
    target_link_libraries(${target} PRIVATE smneo_static)
    set_target_properties(${target} PROPERTIES PREFIX "" OUTPUT_NAME smneo
        LIBRARY_OUTPUT_DIRECTORY ${outdir})
  endfunction()

  if(SMNEO_LUA_ROCK)
    if(NOT LUA_INCDIR)
      message(FATAL_ERROR "SMNEO_LUA_ROCK needs LUA_INCDIR (luarocks passes it)")
    endif()
    smneo_add_lua_module(smneo_lua_rock ${LUA_INCDIR} ${CMAKE_BINARY_DIR}/lua-rock)
  else()
    pkg_check_modules(LUA54 QUIET lua5.4)
    if(NOT LUA54_FOUND)
      pkg_check_modules(LUA54 QUIET lua-5.4)
    endif()
    pkg_check_modules(LUAJIT QUIET luajit)
    if(LUA54_FOUND)
      smneo_add_lua_module(smneo_lua54 "${LUA54_INCLUDE_DIRS}" ${CMAKE_BINARY_DIR}/lua5.4)
    else()
      message(STATUS "smneo: Lua 5.4 headers not found (liblua5.4-dev): skipping build/lua5.4/smneo.so")
    endif()
    if(LUAJIT_FOUND)
      smneo_add_lua_module(smneo_luajit "${LUAJIT_INCLUDE_DIRS}" ${CMAKE_BINARY_DIR}/luajit)
    else()
      message(STATUS "smneo: LuaJIT headers not found (libluajit2-5.1-dev): skipping build/luajit/smneo.so")
    endif()
  endif()
endif()
