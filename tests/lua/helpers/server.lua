-- Starts smneo.local (python/smneo/local: SageMaker, S3 and the rest on one
-- port, Python standard library only) on 127.0.0.1 for the specs, and talks
-- to its admin endpoint (/_smneo/: faults, the requests it answered,
-- settings) with curl(1).
--
-- S.start_local() gives a bare server with the bucket "models".
-- S.start() also seeds it: 57 compilation jobs job-000..job-056 created in
-- that order (so a listing, by CreationTime ascending, is in name order):
-- every 3rd (job-000, job-003, ...) COMPLETED from a real model archive,
-- the next FAILED (its input is missing), the next still STARTING (jobs
-- created from then on run for a day unless a spec sets job_duration); and a
-- pipeline execution (M.PIPELINE_ARN) with 23 steps step-00..step-22, newest
-- first. srv.model_uri is the model archive's S3 URI.
local M = {}

M.PIPELINE_ARN = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/demo/execution/abc123"
M.ACCESS_KEY = "AKIDEXAMPLE"
M.SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
M.SEEDED_JOBS = 57
M.LONG = 86400 -- job_duration of jobs that must not end during a spec

local function here()
  local src = debug.getinfo(1, "S").source:sub(2)
  return src:match("^(.*)/[^/]*$") or "."
end

M.helpers_dir = here()

local function python()
  -- stdlib only: Debian's python3 starts fastest (no pyenv shim)
  local py = os.getenv("SMNEO_TEST_PYTHON")
  if not py then
    local f = io.open("/usr/bin/python3", "r")
    py = f and "/usr/bin/python3" or "python3"
    if f then f:close() end
  end
  return py
end

local function sh(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("*a")
  p:close()
  return out
end

local function json()
  return require "dkjson"
end

-- The pipelines smneo.local serves (--pipelines FILE holds this JSON): 23
-- steps, step-00 the newest, so the default order (StartTime descending)
-- is step-00 first.
function M.pipelines_json()
  local steps = {}
  for i = 0, 22 do
    steps[#steps + 1] = string.format(
      '{"StepName": "step-%02d", "StepStatus": "Succeeded", "StartTime": %d, "EndTime": %.1f, ' ..
      '"AttemptCount": 1, "Metadata": {"CompilationJob": {"CompilationJobArn": ' ..
      '"arn:aws:sagemaker:us-east-1:123456789012:compilation-job/job-%03d"}}}',
      i, 1700001100 - i, 1700001110.5 - i, i)
  end
  return '{"' .. M.PIPELINE_ARN .. '": [' .. table.concat(steps, ", ") .. "]}\n"
end

local function pipelines_file()
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(M.pipelines_json())
  f:close()
  return path
end

-- smneo.local with the bucket "models"; it accepts the keys test:test and
-- M.ACCESS_KEY:M.SECRET_KEY. extra: more smneo.local arguments.
function M.start_local(extra)
  local root = M.helpers_dir .. "/../../.."
  local py = python()
  -- env -u LD_PRELOAD: a sanitizer runtime preloaded for the Lua process
  -- must not follow into the helper processes
  local cmd = "exec env -u LD_PRELOAD " .. py .. " " .. M.helpers_dir ..
    "/run_local.py --port 0 --job-duration 0.3 --credentials test:test --credentials " ..
    M.ACCESS_KEY .. ":" .. M.SECRET_KEY .. " " .. (extra or "") .. " 2>/dev/null"
  local f = assert(io.popen(cmd, "r"))
  local pid, url = f:read("*l"), f:read("*l")
  if not (pid and url and url:match("^http://")) then
    f:close()
    error("smneo.local did not start (python/smneo/local)")
  end
  local srv = { url = url, pid = pid, handle = f, files = {} }
  function srv:stop()
    if self.handle then
      os.execute("kill " .. self.pid .. " 2>/dev/null")
      self.handle:close()
      self.handle = nil
    end
    for _, path in ipairs(self.files) do os.execute("rm -rf '" .. path .. "'") end
    self.files = {}
  end
  local out = sh("env -u LD_PRELOAD AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test " .. py .. " " ..
    root .. "/examples/create_bucket.py " .. url .. " models 2>&1")
  if not out:find("ready", 1, true) then
    srv:stop()
    error("could not create the bucket: " .. out)
  end
  srv.root = root
  return srv
end

-- A request to the admin endpoint; the decoded JSON answer.
function M.admin(srv, method, path, body)
  local cmd = "env -u LD_PRELOAD curl -s -X " .. method
  if body then cmd = cmd .. " -H 'Content-Type: application/json' -d '" .. body .. "'" end
  local out = sh(cmd .. " " .. srv.url .. "/_smneo/" .. path)
  local v, _, err = json().decode(out)
  assert(v ~= nil, "admin " .. method .. " " .. path .. ": " .. tostring(err) .. ": " .. out)
  assert(not v.error, "admin " .. method .. " " .. path .. ": " .. tostring(v.error))
  return v
end

-- Injects a fault (a JSON text, docs/local-endpoint.md); M.clear_faults ends them.
function M.fault(srv, spec) return M.admin(srv, "POST", "faults", spec) end
function M.clear_faults(srv) return M.admin(srv, "DELETE", "faults") end

-- How long the compilation jobs created from now on run, in seconds.
function M.job_duration(srv, seconds)
  M.admin(srv, "POST", "settings", string.format('{"job_duration": %s}', tostring(seconds)))
end

local function recorded(srv)
  return M.admin(srv, "GET", "requests").requests
end

-- How many requests the server has answered (admin requests aside).
function M.requests(srv)
  local list = recorded(srv)
  return #list > 0 and list[#list].seq or 0
end

-- How many requests for this operation it has answered.
function M.count(srv, op)
  local n = 0
  for _, r in ipairs(recorded(srv)) do
    if r.operation == op then n = n + 1 end
  end
  return n
end

-- Options for a client against the server.
function M.options(srv, extra)
  local o = {
    region_name = "us-east-1",
    endpoint_url = srv.url,
    aws_access_key_id = M.ACCESS_KEY,
    aws_secret_access_key = M.SECRET_KEY,
    max_attempts = 3,
    retry_backoff_scale = 0.01,
  }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

-- A valid CreateCompilationJob request (its input: s3_uri or a missing object).
function M.create_params(name, s3_uri)
  return {
    CompilationJobName = name,
    RoleArn = "arn:aws:iam::123456789012:role/neo",
    InputConfig = {
      S3Uri = s3_uri or "s3://models/missing/model.tar.gz",
      Framework = "PYTORCH",
      DataInputConfig = '{"input0": [1, 3, 224, 224]}',
      FrameworkVersion = "1.13",
    },
    OutputConfig = { S3OutputLocation = "s3://models/out/", TargetDevice = "ml_c5" },
    StoppingCondition = { MaxRuntimeInSeconds = 900 },
  }
end

-- Seeds a running smneo.local (srv: url; root, the checkout; files, a list
-- the temporary files made go to) with the jobs above; its bucket "models"
-- exists, and its job duration is 0 (it is M.LONG afterwards). Sets
-- srv.model_uri.
function M.seed(srv)
  local smneo = require "smneo"
  local client = smneo.client(M.options(srv))
  local ok, err = pcall(function()
    -- A job through the compile flow, deleted after: the model archive it
    -- uploaded is the input of every job meant to complete.
    local tmp = os.tmpname()
    os.remove(tmp)
    srv.files[#srv.files + 1] = tmp
    assert(os.execute("mkdir -p " .. tmp .. "/resnet && cp " .. srv.root .. "/examples/model/model.pt " ..
      tmp .. "/resnet/"))
    local r = client:compile{ model = tmp .. "/resnet", framework = "PYTORCH", s3_bucket = "models",
                              role_arn = "arn:aws:iam::123456789012:role/neo", target_device = "ml_c5",
                              data_input_config = { input0 = { 1, 4 } }, job_name = "seed",
                              output_dir = tmp .. "/out", delay = 0.01 }
    assert(r.job.CompilationJobStatus == "COMPLETED", "the seed job did not complete")
    client:delete_compilation_job{ CompilationJobName = r.job.CompilationJobName }
    srv.model_uri = r.input_uri
    local duration = 0
    for i = 0, M.SEEDED_JOBS - 1 do
      local want = (i % 3 == 2) and M.LONG or 0
      if want ~= duration then
        M.job_duration(srv, want)
        duration = want
      end
      client:create_compilation_job(M.create_params(string.format("job-%03d", i),
        i % 3 == 0 and srv.model_uri or nil))
    end
    if duration ~= M.LONG then M.job_duration(srv, M.LONG) end
  end)
  client:close()
  if not ok then error("seeding smneo.local failed: " .. tostring(err), 0) end
end

-- smneo.local seeded with the jobs and the pipeline execution above.
function M.start()
  local pipelines = pipelines_file()
  local ok, srv = pcall(M.start_local, "--job-duration 0 --pipelines " .. pipelines)
  if not ok then
    os.remove(pipelines)
    error(srv, 0)
  end
  srv.files[#srv.files + 1] = pipelines
  local seeded, err = pcall(M.seed, srv)
  if not seeded then
    srv:stop()
    error(err, 0)
  end
  return srv
end

return M
