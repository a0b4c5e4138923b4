-- smneo.resty inside a real nginx: runs tests/nginx/run.sh once, from the
-- LuaJIT pass of the suite (nginx's Lua is LuaJIT: it loads build/luajit).
local is_luajit = type(jit) == "table"

local function build_dir()
  local cpath = os.getenv("LUA_CPATH") or ""
  return cpath:match("([^;]+)/luajit/%?%.so") or "build"
end

describe("smneo.resty in nginx", function()
  if not is_luajit then
    pending("runs in the LuaJIT pass")
    return
  end

  it("serves describe, create, iterators, the waiter and errors without blocking the worker", function()
    local cmd = "BUILD='" .. build_dir() .. "' sh tests/nginx/run.sh 2>&1"
    local p = assert(io.popen(cmd))
    local out = p:read("*a")
    p:close()
    if not out:find("nginx test passed", 1, true) then
      error("tests/nginx/run.sh failed:\n" .. out, 0)
    end
  end)
end)
