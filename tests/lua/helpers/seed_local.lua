-- Seeds a running smneo.local as tests/lua/helpers/server.lua's S.start()
-- does (tests/nginx/run.sh: the server runs beside nginx, not under busted):
--   luajit tests/lua/helpers/seed_local.lua URL ROOT
-- from the checkout (ROOT), with smneo.so on LUA_CPATH; the bucket "models"
-- must exist and the job duration be 0. Prints the model archive's S3 URI.
local S = require "tests.lua.helpers.server"
local srv = { url = assert(arg[1], "usage: seed_local.lua URL ROOT"), root = assert(arg[2]), files = {} }
local ok, err = pcall(S.seed, srv)
for _, path in ipairs(srv.files) do os.execute("rm -rf '" .. path .. "'") end
if not ok then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end
print(srv.model_uri)
