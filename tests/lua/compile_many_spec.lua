-- client:compile_many{...} (smneo_compile_many) against smneo.local with a
-- limit of 5 concurrent jobs: 3 models x 4 targets (the limit met and
-- absorbed), one target failing while the rest complete, a cancel halfway
-- then a rerun with the state file that finishes without duplicates, a
-- mistake in the last job refused before any job starts.
local smneo = require "smneo"
local safe = require "smneo.safe"
local S = require "tests.lua.helpers.server"

local ROLE = "arn:aws:iam::123456789012:role/NeoRole"
local TARGETS = { "ml_c5", "ml_m5", "ml_c4", "ml_p3" }

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("*a")
  p:close()
  return out
end

local function admin(srv, method, path, body)
  return sh("env -u LD_PRELOAD curl -s -X " .. method .. " " .. srv.url .. path ..
            (body and (" -H 'Content-Type: application/json' -d '" .. body .. "'") or ""))
end

-- CreateCompilationJob requests the server accepted since the record was cleared
local function creates(srv)
  local n = 0
  local text = admin(srv, "GET", "/_smneo/requests?service=sagemaker")
  for _ in text:gmatch('"operation": "CreateCompilationJob", "method": "POST", "path": "[^"]*", "region": "[^"]*", "status": 200') do
    n = n + 1
  end
  return n
end

describe("client:compile_many", function()
  local srv, client, tmp, models

  lazy_setup(function()
    srv = S.start_local()
    admin(srv, "POST", "/_smneo/settings", '{"max_concurrent_jobs": 5}')
    client = smneo.client{ region_name = "us-east-1", endpoint_url = srv.url,
                           aws_access_key_id = "test", aws_secret_access_key = "test" }
    tmp = sh("mktemp -d"):gsub("%s+$", "")
    models = {}
    for _, name in ipairs{ "churn", "fraud", "ranker" } do
      assert(os.execute("mkdir -p " .. tmp .. "/" .. name .. " && echo 'booster " .. name .. "' > " ..
                        tmp .. "/" .. name .. "/xgboost.model"))
      models[#models + 1] = tmp .. "/" .. name
    end
  end)

  lazy_teardown(function()
    if client then client:close() end
    if srv then srv:stop() end
    if tmp and tmp:match("^/tmp/") then os.execute("rm -rf " .. tmp) end
  end)

  local function common(extra)
    local o = { framework = "XGBOOST", role_arn = ROLE, s3_bucket = "models", delay = 0.1, max_delay = 0.2,
                timeout = 120 }
    for k, v in pairs(extra or {}) do o[k] = v end
    return o
  end

  it("compiles 3 models x 4 targets under a limit of 5, absorbing ResourceLimitExceeded", function()
    admin(srv, "DELETE", "/_smneo/requests")
    local running, peak, queued, uploads = 0, 0, 0, 0
    local rows, ok = client:compile_many(common{
      models = models, targets = TARGETS, max_concurrent = 12, output_dir = tmp .. "/out",
      callback = function(ev)
        if ev.kind == "CREATED" then running = running + 1; if running > peak then peak = running end end
        if ev.kind == "DONE" then running = running - 1 end
        if ev.kind == "QUEUED" then queued = queued + 1 end
        if ev.kind == "UPLOADED" and not ev.message:find("already", 1, true) then uploads = uploads + 1 end
      end })
    assert.is_true(ok)
    assert.equal(12, #rows)
    local names = {}
    for i, r in ipairs(rows) do
      assert.equal("COMPLETED", r.compilation_job_status)
      assert.equal(models[math.floor((i - 1) / 4) + 1], r.model)
      assert.equal(TARGETS[(i - 1) % 4 + 1], r.target)
      assert.is_true(r.digest_verified)
      assert.is_nil(r.failure_reason)
      assert.truthy(io.open(r.artifact_path, "rb"))
      names[r.compilation_job_name] = true
    end
    local distinct = 0
    for _ in pairs(names) do distinct = distinct + 1 end
    assert.equal(12, distinct)
    assert.equal(12, creates(srv))
    assert.equal(5, peak)
    assert.is_true(queued > 0)
    assert.equal(3, uploads)
  end)

  it("delivers the events of a multipart upload's parallel parts to the callback, in order, with the job", function()
    -- above the 64 MiB multipart threshold: parts sent from the transfer's threads
    local big = tmp .. "/big"
    assert(os.execute("mkdir -p " .. big .. " && head -c 70000000 /dev/urandom > " .. big .. "/xgboost.model"))
    local kinds, uploads, last_done, ordered, jobs = {}, {}, -1, true, {}
    local rows, ok = client:compile_many(common{
      jobs = { { model = big, target_device = "ml_c5" } }, output_dir = tmp .. "/out-big",
      callback = function(ev)
        if kinds[#kinds] ~= ev.kind then kinds[#kinds + 1] = ev.kind end
        if ev.kind == "UPLOAD" then
          uploads[#uploads + 1] = ev
          jobs[ev.job] = true
          if ev.done < last_done then ordered = false end
          last_done = ev.done
        end
      end })
    assert.is_true(ok, rows[1].failure_reason)
    assert.are.equal("COMPLETED", rows[1].compilation_job_status)
    assert.is_true(ordered)
    assert.are.same({ [1] = true }, jobs)
    local final = uploads[#uploads]
    assert.is_true(final.total > 64 * 1048576)
    assert.are.equal(final.total, final.done) -- the last part's progress, whichever thread sent it
    -- every part's progress: as many UPLOAD events as compile (whose machine
    -- queues every thread's) gives for the same archive, uploaded afresh
    local single = 0
    client:compile(common{ model = big, target_device = "ml_c5", s3_prefix = "single", output_dir = tmp .. "/out-big",
      callback = function(ev) if ev.kind == "UPLOAD" then single = single + 1 end end })
    assert.are.equal(single, #uploads)
    local seq = table.concat(kinds, ",")
    assert.truthy(seq:find("PACKED,.*UPLOAD,UPLOADED,CREATED,STATUS", 1), seq)
    os.execute("rm -rf " .. big .. " " .. tmp .. "/out-big")
  end)

  it("lets one target fail while the rest complete", function()
    admin(srv, "POST", "/_smneo/faults", '{"kind": "fail", "device": "ml_c4", "rate": 1, "failure": "not-tar-gz"}')
    local jobs = {}
    for _, m in ipairs(models) do
      for _, t in ipairs(TARGETS) do jobs[#jobs + 1] = { model = m, target_device = t } end
    end
    local rows, ok = client:compile_many(common{ jobs = jobs, max_concurrent = 5, output_dir = tmp .. "/fail" })
    admin(srv, "DELETE", "/_smneo/faults")
    assert.is_false(ok)
    local failed, completed = 0, 0
    for _, r in ipairs(rows) do
      if r.target == "ml_c4" then
        assert.equal("FAILED", r.compilation_job_status)
        assert.truthy(r.failure_reason:find("Unable to untar input model", 1, true))
        assert.equal("not-tar-gz", r.diagnosis.id) -- compile()'s diagnosis, per failed row
        assert.truthy(r.diagnosis.fix:find("smneo pack", 1, true))
        failed = failed + 1
      else
        assert.equal("COMPLETED", r.compilation_job_status)
        assert.is_nil(r.diagnosis)
        completed = completed + 1
      end
    end
    assert.equal(3, failed)
    assert.equal(9, completed)
  end)

  it("gives a job with follow_logs its log's lines as LOG events with its index", function()
    admin(srv, "POST", "/_smneo/faults", '{"kind": "fail", "device": "ml_m5", "rate": 1, "failure": "not-tar-gz"}')
    local jobs = { { model = models[1], target_device = "ml_c5" }, { model = models[1], target_device = "ml_m5" },
                   { model = models[1], target_device = "ml_p3", follow_logs = false } }
    local lines = {}
    local rows, ok = client:compile_many(common{
      jobs = jobs, follow_logs = true, output_dir = tmp .. "/logs",
      callback = function(ev)
        if ev.kind == "LOG" then
          lines[ev.job] = lines[ev.job] or {}
          table.insert(lines[ev.job], ev.message)
        end
      end })
    admin(srv, "DELETE", "/_smneo/faults")
    assert.is_false(ok)
    assert.equal("COMPLETED", rows[1].compilation_job_status)
    assert.equal("FAILED", rows[2].compilation_job_status)
    assert.is_nil(lines[3])
    for i = 1, 2 do
      local text = table.concat(assert(lines[i], "no LOG for job " .. i), "\n")
      assert.truthy(#lines[i] >= 3)
      assert.truthy(text:find("Compilation job " .. rows[i].compilation_job_name ..
                              (i == 1 and " completed" or " failed: "), 1, true), text)
      assert.falsy(text:find(rows[3 - i].compilation_job_name, 1, true), text)
    end
  end)

  it("stops what it started on a cancel, and a rerun with the state file finishes without duplicates", function()
    admin(srv, "DELETE", "/_smneo/requests")
    local state = tmp .. "/state.json"
    local done = 0
    local rows, ok = client:compile_many(common{
      models = models, targets = TARGETS, max_concurrent = 5, state_file = state, output_dir = tmp .. "/int",
      callback = function(ev)
        if ev.kind == "DONE" and ev.message == "COMPLETED" then done = done + 1 end
        if done >= 6 then return false end
      end })
    assert.is_false(ok)
    local completed, stopped, first = 0, 0, creates(srv)
    for _, r in ipairs(rows) do
      if r.compilation_job_status == "COMPLETED" then completed = completed + 1 end
      if r.stopped_by_smneo then stopped = stopped + 1 end
    end
    assert.equal(6, completed)
    assert.is_true(stopped > 0)
    assert.equal(completed + stopped, first)

    local skipped = 0
    rows, ok = client:compile_many(common{
      models = models, targets = TARGETS, max_concurrent = 5, state_file = state, output_dir = tmp .. "/int",
      callback = function(ev) if ev.kind == "SKIPPED" then skipped = skipped + 1 end end })
    assert.is_true(ok)
    assert.equal(6, skipped)
    assert.equal(first + 6, creates(srv))
    for _, r in ipairs(rows) do assert.equal("COMPLETED", r.compilation_job_status) end
  end)

  it("refuses a mistake in the last job before any job starts", function()
    admin(srv, "DELETE", "/_smneo/requests")
    local jobs = {}
    for _, m in ipairs(models) do
      for _, t in ipairs(TARGETS) do jobs[#jobs + 1] = { model = m, target_device = t } end
    end
    jobs[#jobs].target_device = "ml_c99"
    local ok, err = pcall(client.compile_many, client, common{ jobs = jobs, output_dir = tmp })
    assert.is_false(ok)
    assert.truthy(tostring(err.message):find("^job 11 %("))
    assert.equal(0, creates(srv))
    local sc = assert(safe.client{ region_name = "us-east-1", endpoint_url = srv.url,
                                   aws_access_key_id = "test", aws_secret_access_key = "test" })
    local rows, e = sc:compile_many(common{ models = models, targets = { "LINUX//" } })
    sc:close()
    assert.is_nil(rows)
    assert.truthy(e.message:find("OS/ARCH", 1, true))
    assert.has_error(function() client:compile_many(common{ models = models }) end)
    -- an S3 error while uploading is the S3 request's, not CreateCompilationJob's
    local ok2, e2 = pcall(client.compile_many, client, common{ models = models, targets = TARGETS,
                                                               s3_bucket = "no-such-bucket", output_dir = tmp })
    assert.is_false(ok2)
    assert.equal("PutObject", e2.operation)
    assert.equal("NoSuchBucket", e2.code)
    local ok3, e3 = pcall(client.compile, client, common{ model = models[1], target_device = "ml_c5",
                                                          s3_bucket = "no-such-bucket", output_dir = tmp })
    assert.is_false(ok3)
    assert.equal("PutObject", e3.operation)
    assert.equal(0, creates(srv))
    assert.has_error(function() client:compile_many(common{ jobs = { { model = models[1], targt = "x" } } }) end)
  end)

  it("creates the default bucket sagemaker-REGION-ACCOUNT once without s3_bucket", function()
    admin(srv, "DELETE", "/_smneo/requests")
    for _ = 1, 2 do
      local o = common{ models = { models[1] }, targets = { "ml_c5", "ml_m5" }, output_dir = tmp .. "/defb" }
      o.s3_bucket = nil
      local rows, ok = client:compile_many(o)
      assert.is_true(ok)
      for _, r in ipairs(rows) do assert.equal("COMPLETED", r.compilation_job_status) end
    end
    local text = admin(srv, "GET", "/_smneo/requests?service=s3")
    local created = 0
    for _ in text:gmatch('"operation": "CreateBucket"') do created = created + 1 end
    assert.equal(1, created)
    assert.truthy(text:find('"path": "/sagemaker-us-east-1-123456789012', 1, true))
  end)
end)

describe("client:compile's CreateCompilationJob options", function()
  local srv, client, tmp

  lazy_setup(function()
    srv = S.start_local()
    client = smneo.client{ region_name = "us-east-1", endpoint_url = srv.url,
                           aws_access_key_id = "test", aws_secret_access_key = "test" }
    tmp = sh("mktemp -d"):gsub("%s+$", "")
    assert(os.execute("mkdir -p " .. tmp .. "/m && echo booster > " .. tmp .. "/m/xgboost.model"))
  end)

  lazy_teardown(function()
    if client then client:close() end
    if srv then srv:stop() end
    if tmp and tmp:match("^/tmp/") then os.execute("rm -rf " .. tmp) end
  end)

  it("sends VpcConfig, the StoppingCondition limits and ModelPackageVersionArn", function()
    local r = client:compile{ model = tmp .. "/m", framework = "XGBOOST", role_arn = ROLE, s3_bucket = "models",
                              target_device = "ml_c5", output_dir = tmp, delay = 0.1, max_delay = 0.2,
                              vpc_config = { SecurityGroupIds = { "sg-0123" }, Subnets = { "subnet-0a" } },
                              max_runtime_seconds = 600, max_wait_seconds = 1800, max_pending_seconds = 7200 }
    assert.equal("COMPLETED", r.job.CompilationJobStatus)
    local text = admin(srv, "GET", "/_smneo/requests?service=sagemaker")
    assert.truthy(text:find('"VpcConfig": {"SecurityGroupIds": ["sg-0123"], "Subnets": ["subnet-0a"]}', 1, true))
    assert.truthy(text:find('"StoppingCondition": {"MaxRuntimeInSeconds": 600, "MaxWaitTimeInSeconds": 1800, ' ..
                            '"MaxPendingTimeInSeconds": 7200}', 1, true))
    local arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-models/3"
    local ok, err = pcall(client.compile, client, { model_package_version_arn = arn, role_arn = ROLE,
                          s3_bucket = "models", target_device = "ml_c5", delay = 0.1, max_delay = 0.2 })
    assert.is_false(ok)
    assert.equal("JobFailed", err.code)
    text = admin(srv, "GET", "/_smneo/requests?service=sagemaker")
    assert.truthy(text:find('"ModelPackageVersionArn": "' .. arn .. '"', 1, true))
  end)
end)

-- compile's and compile_many's keywords come from the core's one table
-- (smneo_compile_option_at): both refuse a key outside it and name the known
-- ones; keep_job_on_cancel is compile's alone.
describe("compile keywords", function()
  local client = smneo.client{ region_name = "us-east-1", endpoint_url = "http://127.0.0.1:9",
                               aws_access_key_id = "AKIDEXAMPLE", aws_secret_access_key = "secret" }

  it("compile names its keywords when given an unknown one", function()
    local ok, err = pcall(client.compile, client, { model = "m", framework = "ONNX", role_arn = ROLE, modle = "x" })
    assert.is_false(ok)
    local msg = tostring(err)
    assert.truthy(msg:find("unknown option 'modle'", 1, true), msg)
    for _, k in ipairs{ "max_pending_seconds", "follow_logs", "keep_job_on_cancel", "vpc_config", "tags", "callback" } do
      assert.truthy(msg:find(k, 1, true), k .. " in " .. msg)
    end
  end)

  it("a job of compile_many refuses compile's own keywords", function()
    local ok, err = pcall(client.compile_many, client,
      { jobs = { { model = "m", framework = "ONNX", role_arn = ROLE, target_device = "ml_c5",
                   keep_job_on_cancel = true } } })
    assert.is_false(ok)
    local msg = tostring(err)
    assert.truthy(msg:find("jobs[1]", 1, true) and msg:find("keep_job_on_cancel", 1, true), msg)
    assert.truthy(msg:find("follow_logs", 1, true), msg) -- a job's own keyword, named among the known ones
    assert.truthy(msg:find("max_pending_seconds", 1, true), msg)
  end)

  it("reads an integer keyword through the table and checks it", function()
    local ok, err = pcall(client.compile, client,
      { model = "m", framework = "ONNX", role_arn = ROLE, max_wait_seconds = 1.5 })
    assert.is_false(ok)
    assert.truthy(tostring(err):find("max_wait_seconds must be a positive integer", 1, true), tostring(err))
  end)
end)
