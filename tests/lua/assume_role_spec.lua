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
    -- An sso-session profile and an expired legacy one, their tokens cached
    -- in a temporary HOME (the cache name is the SHA-1 of the session name
    -- or start URL).
    local function sh(cmd)
      local h = assert(io.popen(cmd))
      local out = h:read("*a")
      h:close()
      return (out:gsub("%s+$", ""))
    end
    local home = sh("mktemp -d")
    local cache = home .. "/.aws/sso/cache"
    os.execute("mkdir -p " .. cache)
    local function token(key, access, secs)
      local name = sh("printf '%s' '" .. key .. "' | sha1sum | cut -d' ' -f1")
      local exp = sh("date -u -d '@" .. (os.time() + secs) .. "' +%Y-%m-%dT%H:%M:%SZ")
      local f = assert(io.open(cache .. "/" .. name .. ".json", "w"))
      f:write('{"accessToken": "' .. access .. '", "expiresAt": "' .. exp .. '"}')
      f:close()
    end
    token("corp", "tok-lua", 3600)
    token("https://old.awsapps.com/start", "tok-old", -60)
    local sso_config = home .. "/config"
    local f = assert(io.open(fixtures .. "/config"))
    local base = f:read("*a")
    f:close()
    f = assert(io.open(sso_config, "w"))
    f:write(base, "\n[profile sso]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = Admin\n",
      "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n",
      "[profile sso-expired]\nsso_start_url = https://old.awsapps.com/start\nsso_region = us-east-1\n",
      "sso_account_id = 111122223333\nsso_role_name = Admin\n")
    f:close()
    p = assert(io.popen("env -u LD_PRELOAD curl -s -X POST --data '{\"sso_tokens\":{\"tok-lua\":{\"expires_in\":3600}}}' " ..
      srv.url .. "/_smneo/identity"))
    p:read("*a")
    p:close()
    local interp = type(jit) == "table" and "luajit" or "lua5.4"
    local cmd = string.format(
      "env -u AWS_PROFILE -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN " ..
      "AWS_CONFIG_FILE='%s' AWS_SHARED_CREDENTIALS_FILE='%s/credentials' AWS_ENDPOINT_URL='%s' HOME='%s' " ..
      "AWS_EC2_METADATA_DISABLED=true LUA_PATH='%s' LUA_CPATH='%s' %s %s/assume_role_script.lua %s CredentialsError " ..
      "sso 2>&1",
      sso_config, fixtures, srv.url, home, package.path, package.cpath, interp, S.helpers_dir, srv.url)
    local f = assert(io.popen(cmd))
    local out = f:read("*a")
    f:close()
    srv:stop()
    if home:match("^/tmp/") then os.execute("rm -rf " .. home) end
    assert.is_nil(out:find("FAIL", 1, true), out)
    assert.truthy(out:find("assume role script done", 1, true), out)
    local oks = select(2, out:gsub("\nok ", "\n")) + (out:sub(1, 3) == "ok " and 1 or 0)
    assert.are.equal(11, oks, out)
  end)
end)
