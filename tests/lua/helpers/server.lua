-- Starts tests/lua/helpers/fake_sagemaker.py on 127.0.0.1 (ephemeral port)
-- and gives the specs clients pointed at it.
local M = {}

M.PIPELINE_ARN = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/demo/execution/abc123"

local function here()
  local src = debug.getinfo(1, "S").source:sub(2)
  return src:match("^(.*)/[^/]*$") or "."
end

M.helpers_dir = here()

function M.start()
  local script = M.helpers_dir .. "/fake_sagemaker.py"
  -- stdlib only: Debian's python3 starts fastest (no pyenv shim)
  local python = os.getenv("SMNEO_TEST_PYTHON")
  if not python then
    local f = io.open("/usr/bin/python3", "r")
    python = f and "/usr/bin/python3" or "python3"
    if f then f:close() end
  end
  -- env -u LD_PRELOAD: a sanitizer runtime preloaded for the Lua process
  -- must not follow into the helper processes
  local f = assert(io.popen("exec env -u LD_PRELOAD " .. python .. " " .. script .. " --port 0 --lifetime 900", "r"))
  local line = f:read("*l")
  if not line then
    f:close()
    error("fake_sagemaker.py did not start")
  end
  local url, pid = line:match("^(%S+) (%d+)$")
  assert(url, "unexpected first line from fake_sagemaker.py: " .. line)
  local srv = { url = url, pid = pid, handle = f }
  function srv:stop()
    if self.handle then
      os.execute("kill " .. self.pid .. " 2>/dev/null")
      self.handle:close()
      self.handle = nil
    end
  end
  return srv
end

-- Starts smneo.local (python/smneo/local: SageMaker + S3, standard library
-- only) for the compile flow; creates the bucket "models" (test:test keys).
function M.start_local()
  local root = M.helpers_dir .. "/../../.."
  local python = os.getenv("SMNEO_TEST_PYTHON")
  if not python then
    local f = io.open("/usr/bin/python3", "r")
    python = f and "/usr/bin/python3" or "python3"
    if f then f:close() end
  end
  local cmd = "exec env -u LD_PRELOAD " .. python .. " " .. M.helpers_dir ..
    "/run_local.py --port 0 --job-duration 0.3 2>/dev/null"
  local f = assert(io.popen(cmd, "r"))
  local pid, url = f:read("*l"), f:read("*l")
  if not (pid and url and url:match("^http://")) then
    f:close()
    error("smneo.local did not start (python/smneo/local)")
  end
  local srv = { url = url, pid = pid, handle = f }
  function srv:stop()
    if self.handle then
      os.execute("kill " .. self.pid .. " 2>/dev/null")
      self.handle:close()
      self.handle = nil
    end
  end
  local p = assert(io.popen("env -u LD_PRELOAD AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test " .. python .. " " ..
    root .. "/examples/create_bucket.py " .. url .. " models 2>&1"))
  local out = p:read("*a")
  p:close()
  if not out:find("ready", 1, true) then
    srv:stop()
    error("could not create the bucket: " .. out)
  end
  srv.root = root
  return srv
end

-- Options for a client against the fake endpoint.
function M.options(srv, extra)
  local o = {
    region_name = "us-east-1",
    endpoint_url = srv.url,
    aws_access_key_id = "AKIDEXAMPLE",
    aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    max_attempts = 3,
    retry_backoff_scale = 0.01,
  }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

-- A minimal HTTP/1.0 GET/POST to the control endpoints, with curl(1).
function M.control(srv, path, method)
  local cmd = "env -u LD_PRELOAD curl -s -X " .. (method or "GET") .. " " .. srv.url .. path
  local f = assert(io.popen(cmd, "r"))
  local out = f:read("*a")
  f:close()
  return out
end

-- Reads the request counter from /_stats (a number).
function M.requests(srv)
  local s = M.control(srv, "/_stats")
  return tonumber(s:match('"requests": (%d+)'))
end

function M.count(srv, op)
  local s = M.control(srv, "/_stats")
  return tonumber(s:match('"' .. op .. '": (%d+)')) or 0
end

function M.reset(srv)
  M.control(srv, "/_reset", "POST")
end

-- A valid CreateCompilationJob request.
function M.create_params(name)
  return {
    CompilationJobName = name,
    RoleArn = "arn:aws:iam::123456789012:role/neo",
    InputConfig = {
      S3Uri = "s3://bucket/model.tar.gz",
      Framework = "PYTORCH",
      DataInputConfig = '{"input0": [1, 3, 224, 224]}',
      FrameworkVersion = "1.13",
    },
    OutputConfig = { S3OutputLocation = "s3://bucket/out/", TargetDevice = "ml_c5" },
    StoppingCondition = { MaxRuntimeInSeconds = 900 },
  }
end

return M
