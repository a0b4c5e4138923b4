-- The smneo.resty front of the credential parity table
-- (tests/python/test_credential_parity.py, tests/nginx/parity.conf.in):
-- GET /parity?profile=NAME&endpoint=URL&mfa=CODE&up=PATH&file=PATH2 makes a
-- client with that profile (none: the default chain) from the worker's
-- environment, lists the compilation jobs, uploads PATH to s3://parity/obj
-- and downloads it into PATH2, all over cosockets. Answers "ok", or (status 500) the error's code and message.
local smneo = require "smneo.resty"

local M = {}

local function arg(name)
  local v = ngx.var["arg_" .. name]
  if v == nil or v == "" then return nil end
  return ngx.unescape_uri(v)
end

function M.run()
  local ok, err = pcall(function()
    local c = smneo.client{ region_name = "us-east-1", profile_name = arg("profile"), endpoint_url = arg("endpoint"),
                            mfa_token = arg("mfa"), retry_backoff_scale = 0.001, connect_timeout = 10,
                            read_timeout = 20 }
    c:list_compilation_jobs{}
    c:upload_file{ filename = arg("up"), bucket = "parity", key = "obj" }
    c:download_file{ filename = arg("file"), bucket = "parity", key = "obj" }
    c:close()
  end)
  if ok then
    ngx.print("ok")
    return
  end
  ngx.status = 500
  if type(err) == "table" then
    ngx.print(tostring(err.code), "\n", tostring(err.message))
  else
    ngx.print("?\n", tostring(err))
  end
end

return M
