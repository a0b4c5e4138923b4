-- No leaks or memory errors under valgrind for a short script (Lua 5.4 only:
-- LuaJIT's allocator makes valgrind noise). The one suppression
-- (helpers/valgrind.supp) is libgomp's constructor, not smneo's.
local S = require "tests.lua.helpers.server"

local function have_valgrind()
  return os.execute("command -v valgrind >/dev/null 2>&1") == true
end

describe("valgrind", function()
  if _VERSION ~= "Lua 5.4" or type(jit) == "table" then
    pending("runs in the Lua 5.4 pass")
    return
  end
  if not have_valgrind() then
    pending("valgrind is not installed (apt-get install valgrind)")
    return
  end

  it("reports no leaks or errors for tests/lua/helpers/valgrind_script.lua", function()
    local srv = S.start()
    local cmd = string.format(
      "LUA_PATH='%s' LUA_CPATH='%s' valgrind -q --error-exitcode=97 --leak-check=full " ..
      "--keep-debuginfo=yes --suppressions=" .. S.helpers_dir .. "/valgrind.supp " ..
      "--errors-for-leak-kinds=definite,indirect,possible lua5.4 %s/valgrind_script.lua %s %s %s 2>&1",
      os.getenv("LUA_PATH") or "lua/?.lua;;", os.getenv("LUA_CPATH") or "build/lua5.4/?.so;;",
      S.helpers_dir, srv.url, srv.model_uri, srv.root)
    local p = assert(io.popen(cmd))
    local out = p:read("*a")
    local _, _, code = p:close()
    srv:stop()
    if code ~= 0 or not out:find("compile checked", 1, true) or not out:find("valgrind script done", 1, true) then
      error("valgrind run failed (exit " .. tostring(code) .. "):\n" .. out, 0)
    end
  end)
end)
