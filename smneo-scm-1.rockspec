-- luarocks make (from the checkout, offline): builds the C module `smneo`
-- for the interpreter luarocks is configured for (cmake + pkg-config; needs
-- the -dev packages of libcurl, cJSON, OpenSSL, zlib, libarchive, pcre2,
-- libb2, libdeflate) and installs smneo.safe, smneo.resty and smneo.stub. libsmneo is
-- built from the checkout too and linked statically into smneo.so (nothing
-- to install beside it); the only dependency is the interpreter, so nothing
-- is fetched (tools/test-rocks.sh runs both without a network).
--   luarocks --lua-version=5.4 make
--   luarocks --lua-version=5.1 make LUA_INCDIR=/usr/include/luajit-2.1
--                                    (LuaJIT / OpenResty: its own headers)
-- CMake builds in build-rock/ (one module at a time: a make for the other
-- interpreter rebuilds only smneo.so).
-- A development rockspec's version is "scm-1" (luarocks requires the
-- rockspec's version in its file name, and a rockspec cannot read files);
-- the module's smneo._VERSION and smneo.version come from
-- core/include/smneo/version.h, the one place the version is written.
rockspec_format = "3.0"
package = "smneo"
version = "scm-1"
source = {
  url = "file://.",
}
description = {
  summary = "Client for the Amazon SageMaker Neo compilation API (C core, Lua binding, OpenResty driver)",
  detailed = [[
smneo validates, signs and sends SageMaker Neo requests (Create/Describe/
Stop/Delete/ListCompilationJobs, ListPipelineExecutionSteps), pages through
lists and waits for jobs. smneo.safe returns nil, err instead of raising;
smneo.resty drives the same calls over ngx.socket.tcp inside OpenResty.
]],
  license = "Apache-2.0",
}
dependencies = {
  "lua >= 5.1",
}
build = {
  type = "command",
  build_command = [[cmake -S . -B build-rock -DCMAKE_BUILD_TYPE=Release -DSMNEO_BUILD_TESTS=OFF ]] ..
    [[-DSMNEO_BUILD_LUA=ON -DSMNEO_LUA_ROCK=ON "-DLUA_INCDIR=$(LUA_INCDIR)" && ]] ..
    [[cmake --build build-rock --target smneo_lua_rock -j2]],
  install = {
    lib = { smneo = "build-rock/lua-rock/smneo.so" },
    lua = { ["smneo.safe"] = "lua/smneo/safe.lua", ["smneo.resty"] = "lua/smneo/resty.lua",
            ["smneo.stub"] = "lua/smneo/stub.lua" },
  },
}
