-- A short script exercising the binding's allocation paths, run under
-- valgrind by tests/lua/valgrind_spec.lua (Lua 5.4):
--   lua5.4 tests/lua/helpers/valgrind_script.lua ENDPOINT_URL MODEL_URI ROOT
-- against smneo.local seeded by tests/lua/helpers/server.lua (S.start():
-- jobs job-000..job-056, the model archive at MODEL_URI, the bucket
-- "models"); ROOT is the checkout. Exits non-zero if an expectation fails;
-- valgrind reports leaks and errors.
local smneo = require "smneo"
local safe = require "smneo.safe"
local url = assert(arg[1], "usage: valgrind_script.lua ENDPOINT_URL MODEL_URI ROOT")
local model_uri, root = assert(arg[2]), assert(arg[3])

-- smneo.local's admin endpoint: how long the jobs created from now on run
local function job_duration(seconds)
  io.popen("curl -s -o /dev/null -X POST -d '{\"job_duration\": " .. seconds .. "}' " .. url ..
    "/_smneo/settings"):close()
end

local opts = {
  region_name = "us-east-1", endpoint_url = url,
  aws_access_key_id = "AKIDEXAMPLE", aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
  max_attempts = 2, retry_backoff_scale = 0.001,
}
local function params(name)
  return {
    CompilationJobName = name, RoleArn = "arn:aws:iam::123456789012:role/neo",
    InputConfig = { S3Uri = model_uri, Framework = "PYTORCH",
                    DataInputConfig = '{"input0": [1, 3, 224, 224]}' },
    OutputConfig = { S3OutputLocation = "s3://models/out/", TargetDevice = "ml_c5" },
    StoppingCondition = { MaxRuntimeInSeconds = 900 },
  }
end

local client = smneo.client(opts)
assert(client:describe_compilation_job{ CompilationJobName = "job-001" }.CompilationJobName == "job-001")
assert(client:create_compilation_job(params("vg-1")).CompilationJobArn)
assert(not pcall(client.describe_compilation_job, client, { CompilationJobName = "missing" }))
assert(not pcall(client.create_compilation_job, client, { CompilationJobName = "bad name" }))
assert(not pcall(client.describe_compilation_job, client, { CompilationJobName = print }))

local n = 0
for _ in client:iter_compilation_jobs({}, { page_size = 20 }) do n = n + 1 end
assert(n == 58, n)
local it = client:iter_compilation_jobs({}, { page_size = 5 }) -- abandoned mid-run
it()
it = nil

-- waiter: success, callback error (cancel + re-raise), callback cancel
job_duration(0.2)
client:create_compilation_job(params("wait-ok-3-vg"))
assert(client:wait_for_compilation_job("wait-ok-3-vg", { delay = 0.001, callback = function() end })
  .CompilationJobStatus == "COMPLETED")
job_duration(86400)
client:create_compilation_job(params("wait-forever-vg"))
local ok, err = pcall(client.wait_for_compilation_job, client, "wait-forever-vg",
  { delay = 0.001, callback = function() error("cb") end })
assert(not ok and tostring(err):find("cb"))
ok, err = pcall(client.wait_for_compilation_job, client, "wait-forever-vg",
  { delay = 0.001, callback = function() return false end })
assert(not ok and err.code == "Cancelled")

assert(#smneo.validate("CreateCompilationJob", { CompilationJobName = "x" }) > 0)
local req = client:build_request("DescribeCompilationJob", { CompilationJobName = "x" }, { timestamp = 1700000000 })
assert(req.headers.Authorization)
assert(smneo.parse_response("DescribeCompilationJob", 200, { a = "b" }, '{"CompilationJobName":"x"}'))
assert(not pcall(smneo.parse_response, "DescribeCompilationJob", 400, {}, '{"__type":"ResourceNotFound"}'))

-- step-driven calls, abandoned and finished
local nt = smneo.client{ region_name = "us-east-1", endpoint_url = "http://127.0.0.1:9", no_transport = true,
                         aws_access_key_id = "a", aws_secret_access_key = "b" }
local call = nt:_call("DescribeCompilationJob", { CompilationJobName = "x" })
assert(call:next() == "send")
call:feed(200, { ["x-amzn-RequestId"] = "r" }, '{"CompilationJobName":"x"}')
assert(call:next() == "done")
nt:_paginate("ListCompilationJobs", {}):next()
-- the job-log reader's steps: a stream read to its end, a warning, an abandoned reader
local jl = nt:_job_logs{ name = "x" }
assert(jl:next() == "send")
jl:feed(200, {}, '{"logStreams":[{"logStreamName":"x"}]}')
local answers = { '{"events":[{"timestamp":1,"message":"m"}],"nextForwardToken":"f/1"}', '{"events":[],"nextForwardToken":"f/1"}' }
local k, a, nlog = nil, nil, 0
repeat
  k, a = jl:next()
  if k == "send" then jl:feed(200, {}, table.remove(answers, 1)) elseif k == "event" then nlog = nlog + 1 end
until k == "done"
assert(nlog == 1 and a == true)
jl = nt:_job_logs{ name = "x" }
assert(jl:next() == "send")
jl:feed(400, {}, '{"__type":"AccessDeniedException","message":"no"}')
assert(select(2, jl:next()) == "warning" and jl:next() == "done" and #jl:warnings() == 1)
nt:_job_logs{ name = "y", follow = true }:next() -- abandoned while a send waits
assert(not pcall(nt._job_logs, nt, { name = "y", follow = true, tail = 1 }))
nt:close()

local sc = assert(safe.client(opts))
assert(select(2, sc:describe_compilation_job{ CompilationJobName = "missing" }).code == "ResourceNotFound")
for item, e in sc:iter_pipeline_execution_steps{ PipelineExecutionArn = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/x/execution/y" } do
  assert(item == false and e.code == "ResourceNotFound")
end
sc:close()

-- artifacts: pack, digest, verify, a progress callback that raises
local tmp = os.tmpname()
os.remove(tmp)
assert(os.execute("mkdir -p " .. tmp .. "/m"))
local f = assert(io.open(tmp .. "/m/model.pth", "wb"))
f:write(string.rep("x", 100000))
f:close()
local packed = smneo.artifact.pack(tmp .. "/m", tmp .. "/m.tar.gz", { threads = 2 })
assert(smneo.artifact.verify(packed.path, packed.digest))
assert(#smneo.artifact.digest(packed.path, "sha256") == 64)
assert(not pcall(smneo.artifact.verify, packed.path, string.rep("0", 128)))
assert(not pcall(smneo.artifact.pack, tmp .. "/m", tmp .. "/n.tar.gz", { progress = function() error("p") end }))
assert(not pcall(smneo.artifact.pack, { "model.pth" }, tmp .. "/n.tar.gz", { base_dir = tmp .. "/m", progress = function() return false end }))
local ins = smneo.artifact.inspect(packed.path, { framework = "PYTORCH" })
assert(#ins.members == 1 and ins.single_gzip_member and #ins.issues >= 1)
assert(smneo.artifact.extract(packed.path, tmp .. "/out"))
assert(not pcall(smneo.artifact.extract, packed.path, tmp .. "/out"))
assert(not pcall(smneo.artifact.extract, packed.path, tmp .. "/out2", { max_bytes = 10 }))
assert(not pcall(smneo.artifact.inspect, tmp .. "/m/model.pth"))
os.execute("rm -rf " .. tmp)

do
  job_duration(0.3)
  local lc = smneo.client{ region_name = "us-east-1", endpoint_url = url,
                           aws_access_key_id = "test", aws_secret_access_key = "test" }
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. dir .. "/m && cp " .. root .. "/examples/model/model.pt " .. dir .. "/m/"))
  local o = { model = dir .. "/m", framework = "PYTORCH", role_arn = "arn:aws:iam::123456789012:role/NeoRole",
              s3_bucket = "models", target_device = "ml_c5", data_input_config = { input0 = { 1, 4 } },
              output_dir = dir .. "/out", extract = true, delay = 0.05,
              callback = function(ev) assert(ev.kind) end }
  local r = lc:compile(o)
  assert(r.digest_verified and r.job.CompilationJobStatus == "COMPLETED")
  o.output_dir, o.callback = dir .. "/out2", function(ev) if ev.kind == "CREATED" then error("stop") end end
  assert(not pcall(lc.compile, lc, o))
  o.output_dir, o.callback = dir .. "/out3", function(ev) return ev.kind ~= "STATUS" end
  assert(not pcall(lc.compile, lc, o))
  -- the callback closes the client: the flow keeps its core client until it returns
  local lc2 = smneo.client{ region_name = "us-east-1", endpoint_url = url,
                            aws_access_key_id = "test", aws_secret_access_key = "test" }
  o.output_dir, o.callback = dir .. "/out4", function() lc2:close() end
  assert(lc2:compile(o).digest_verified)
  assert(not pcall(lc2.describe_compilation_job, lc2, { CompilationJobName = "x" }))
  -- a FAILED compile with its log and diagnosis; the log followed, and abandoned
  io.popen("curl -s -o /dev/null -X POST -d '{\"kind\":\"fail\",\"failure\":\"pytorch-model-count\",\"job\":\"m-*\"}' " ..
    url .. "/_smneo/faults"):close()
  o.output_dir, o.callback, o.follow_logs = dir .. "/out5", nil, true
  local ok, err = pcall(lc.compile, lc, o)
  assert(not ok and err.code == "JobFailed" and #err.logs >= 3 and err.diagnosis.id == "pytorch-model-files")
  local nlines = 0
  for _ in lc:compilation_job_logs{ name = err.description.CompilationJobName, follow = true, delay = 0.05 } do
    nlines = nlines + 1
  end
  assert(nlines >= 3)
  local it2 = lc:compilation_job_logs{ name = err.description.CompilationJobName }
  it2()
  it2 = nil
  -- the compile machine by steps: a work step run by id, events, closed half-way
  o.output_dir, o.follow_logs = dir .. "/out6", nil
  local call = lc:_compile(o)
  local kind, id = call:next()
  assert(kind == "work" and smneo._work(id))
  kind = call:next()
  assert(kind == "event")
  call:close()
  lc:close()
  os.execute("rm -rf " .. dir)
  print("compile checked")
end

-- smneo.explain: a match from the log, an unknown failure, refused arguments
do
  local d = smneo.explain({ CompilationJobStatus = "FAILED", FailureReason = "InternalServerError" },
    { "x", { message = "OperatorNotImplemented: \255\0 'Grid'" } })
  assert(d.id == "operator-not-implemented" and tostring(d):find("Evidence", 1, true))
  assert(smneo.explain("ClientError: what").id == "unknown")
  assert(not pcall(smneo.explain, nil, { "a", 1 }))
  assert(not pcall(smneo.explain, { FailureReason = function() end }))
  print("explain checked")
end

for _ = 1, 20 do smneo.client(opts) end -- collected, never closed
client:close()
client:close()
collectgarbage()
collectgarbage()
print("valgrind script done")
