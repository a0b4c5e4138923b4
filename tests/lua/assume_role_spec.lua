-- Assumed roles from Lua: the assume-role fixture profiles against
-- smneo.local (chain of three, MFA through the mfa_token option, errors
-- naming the profile and the role). Lua cannot set its own environment, so
-- helpers/assume_role_script.lua runs in a child interpreter with it.
local S = require "tests.lua.helpers.server"

describe("assumed roles", function()
  it("resolves the fixture profiles through STS", function()
    local srv = S.start_local()
    local fixtures = S.helpers_dir .. "/../../fixtures/credentials/assume-role"
    local identity = '{"roles":{"arn:aws:iam::123456789012:role/Top":{"external_id":"ext-123"},' ..
      '"arn:aws:iam::123456789012:role/Mfa":{"mfa_serial":"arn:aws:iam::123456789012:mfa/dev",' ..
      '"mfa_code":"424242"},"arn:aws:iam::123456789012:role/Denied":{"deny":true}}}'
    local p = assert(io.popen("env -u LD_PRELOAD curl -s -X POST --data '" .. identity .. "' " .. srv.url ..
      "/_smneo/identity"))
    p:read("*a")
    p:close()
    local interp = type(jit) == "table" and "luajit" or "lua5.4"
    local cmd = string.format(
      "env -u AWS_PROFILE -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN " ..
      "AWS_CONFIG_FILE='%s/config' AWS_SHARED_CREDENTIALS_FILE='%s/credentials' AWS_ENDPOINT_URL='%s' " ..
      "AWS_EC2_METADATA_DISABLED=true LUA_PATH='%s' LUA_CPATH='%s' %s %s/assume_role_script.lua %s CredentialsError 2>&1",
      fixtures, fixtures, srv.url, package.path, package.cpath, interp, S.helpers_dir, srv.url)
    local f = assert(io.popen(cmd))
    local out = f:read("*a")
    f:close()
    srv:stop()
    assert.is_nil(out:find("FAIL", 1, true), out)
    assert.truthy(out:find("assume role script done", 1, true), out)
    local oks = select(2, out:gsub("\nok ", "\n")) + (out:sub(1, 3) == "ok " and 1 or 0)
    assert.are.equal(9, oks, out)
  end)
end)
