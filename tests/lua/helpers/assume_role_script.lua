-- Run by tests/lua/assume_role_spec.lua in a child interpreter whose
-- environment points at the assume-role fixture profiles and smneo.local
-- (Lua cannot set its own environment). Prints one line per check.
local smneo = require "smneo"
local safe = require "smneo.safe"
local url = assert(arg[1])
local smneo_kind = assert(arg[2]) -- the kind of a credential error (smneo_strerror)

local function check(name, cond, detail)
  print((cond and "ok " or "FAIL ") .. name .. (cond and "" or (": " .. tostring(detail))))
end

local function options(profile, extra)
  local o = { profile_name = profile, region_name = "us-east-1", endpoint_url = url, retry_backoff_scale = 0.01 }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

local function client(profile, extra) return smneo.client(options(profile, extra)) end
local function safe_client(profile, extra) return assert(safe.client(options(profile, extra))) end

-- A chain of three roles.
local c = client("chain3")
local r, err = pcall(function() return c:list_compilation_jobs{} end)
check("chain3 resolves and calls SageMaker", r, err)
c:close()

-- MFA: a function given botocore's prompt and the profile, or the code itself.
local prompts = {}
c = client("mfa", { mfa_token = function(prompt, profile)
  prompts[#prompts + 1] = prompt .. "|" .. profile
  return "424242"
end })
r, err = pcall(function() return c:list_compilation_jobs{} end)
check("mfa function", r, err)
r, err = pcall(function() return c:list_compilation_jobs{} end)
check("mfa code asked once", #prompts == 1 and prompts[1] ==
  "Enter MFA code for arn:aws:iam::123456789012:mfa/dev: |mfa", table.concat(prompts, ","))
c:close()
c = client("mfa", { mfa_token = "424242" })
r, err = pcall(function() return c:list_compilation_jobs{} end)
check("mfa string", r, err)
c:close()

-- Without a code, with a failing function: errors naming the profile.
c = safe_client("mfa")
local res, e = c:list_compilation_jobs{}
check("mfa missing", res == nil and e and e.kind == smneo_kind and
  e.message:find("'mfa'", 1, true) and e.message:find("mfa_token", 1, true), e and e.message)
c:close()
c = safe_client("mfa", { mfa_token = function() error("no code today") end })
res, e = c:list_compilation_jobs{}
check("mfa function raising", res == nil and e and e.message:find("gave no code", 1, true), e and e.message)
c:close()
r, err = pcall(smneo.client, { region_name = "us-east-1", mfa_token = 424242 })
check("mfa_token type", not r and tostring(err):find("mfa_token must be", 1, true), err)

-- AccessDenied and a cycle: credential errors naming the profile and role.
c = safe_client("denied")
res, e = c:list_compilation_jobs{}
check("denied", res == nil and e and e.message:find("'denied'", 1, true) and
  e.message:find("role/Denied", 1, true) and e.code == "AccessDenied" and e.kind == smneo_kind and e.status == 403,
  e and e.message)
c:close()
c = safe_client("cycle-a")
res, e = c:list_compilation_jobs{}
check("cycle", res == nil and e and e.message:find("'cycle-a' -> 'cycle-b' -> 'cycle-a'", 1, true), e and e.message)
c:close()
-- IAM Identity Center (arg[3]: a config file with an sso-session profile;
-- HOME holds its token cache).
if arg[3] then
  c = safe_client("sso")
  res, e = c:list_compilation_jobs{}
  check("sso", res ~= nil, e and e.message)
  c:close()
  c = safe_client("sso-expired")
  res, e = c:list_compilation_jobs{}
  check("sso expired", res == nil and e and e.code == "UnauthorizedSSOTokenError" and
    e.message:find("aws sso login --profile sso-expired", 1, true), e and e.message)
  c:close()
end
print("assume role script done")
