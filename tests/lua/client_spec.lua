-- Every operation against smneo.local (seeded: tests/lua/helpers/server.lua),
-- result conversion, errors.
local smneo = require "smneo"
local S = require "tests.lua.helpers.server"

local SECRET = S.SECRET_KEY
-- smneo.local's request ids are UUIDs
local REQUEST_ID = "^%x+%-%x+%-%x+%-%x+%-%x+$"

local function raises(f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok, "expected an error")
  return err
end

describe("smneo client", function()
  local srv, client

  lazy_setup(function()
    srv = S.start()
    client = smneo.client(S.options(srv))
  end)

  lazy_teardown(function()
    if client then client:close() end
    if srv then srv:stop() end
  end)

  it("describes a job with typed members", function()
    local job = client:describe_compilation_job{ CompilationJobName = "job-001" }
    assert.are.equal("job-001", job.CompilationJobName)
    assert.are.equal("FAILED", job.CompilationJobStatus)
    assert.truthy(job.FailureReason:find("model.tar.gz", 1, true), job.FailureReason)
    assert.are.equal("number", type(job.CreationTime))
    assert.is_true(math.abs(job.CreationTime - os.time()) < 600) -- epoch seconds
    assert.is_true(job.LastModifiedTime >= job.CreationTime)
    assert.are.equal("PYTORCH", job.InputConfig.Framework)
    assert.are.equal(900, job.StoppingCondition.MaxRuntimeInSeconds)
    local list = smneo.parse_response("ListCompilationJobs", 200, {}, '{"CompilationJobSummaries":[]}')
    assert.are.equal(smneo.array_mt, getmetatable(list.CompilationJobSummaries))
    assert.are.equal(0, #list.CompilationJobSummaries)
    assert.is_true(smneo.is_array(list.CompilationJobSummaries))
    assert.is_false(smneo.is_array(job.InputConfig))
    -- JSON null members and members the output shape does not have (Tags), as a response may carry
    -- them: left out, as botocore leaves them out
    local parsed = smneo.parse_response("DescribeCompilationJob", 200, {},
      '{"CompilationJobName":"x","CreationTime":1700000001.25,"VpcConfig":null,' ..
      '"OutputConfig":{"S3OutputLocation":"s3://b/o","TargetDevice":"ml_c5","CompilerOptions":null},' ..
      '"DerivedInformation":{"DerivedDataInputConfig":"{}"},"Tags":[]}')
    assert.are.equal(1700000001.25, parsed.CreationTime)
    assert.is_nil(parsed.VpcConfig)
    assert.is_nil(parsed.OutputConfig.CompilerOptions)
    assert.is_nil(parsed.Tags)
  end)

  it("creates, stops and deletes a job", function()
    local res = client:create_compilation_job(S.create_params("lua-crud"))
    assert.are.equal("arn:aws:sagemaker:us-east-1:123456789012:compilation-job/lua-crud", res.CompilationJobArn)
    local again = raises(client.create_compilation_job, client, S.create_params("lua-crud"))
    assert.are.equal("ResourceInUse", again.code)
    assert.are.equal(400, again.status)
    assert.is_false(again.retryable)

    local stopped = client:stop_compilation_job{ CompilationJobName = "lua-crud" }
    local md = stopped.ResponseMetadata
    stopped.ResponseMetadata = nil
    assert.are.same({}, stopped)
    assert.are.equal(200, md.HTTPStatusCode)
    assert.truthy(md.RequestId:match(REQUEST_ID), md.RequestId)
    assert.are.equal(md.RequestId, md.HTTPHeaders["x-amzn-requestid"])
    assert.are.equal(0, md.RetryAttempts)
    -- STOPPING for up to a second, then STOPPED
    local status = client:describe_compilation_job{ CompilationJobName = "lua-crud" }.CompilationJobStatus
    assert.truthy(status == "STOPPING" or status == "STOPPED", status)
    -- a job is deleted once it has stopped (not while it runs)
    local running = raises(client.delete_compilation_job, client, { CompilationJobName = "job-002" })
    assert.are.equal("ValidationException", running.code)
    local ok, waited = pcall(client.wait_for_compilation_job, client, "lua-crud", { delay = 0.05 })
    assert.is_false(ok)
    assert.are.equal("JobStopped", waited.code)

    assert.are.equal(200, client:delete_compilation_job{ CompilationJobName = "lua-crud" }.ResponseMetadata.HTTPStatusCode)
    local gone = raises(client.describe_compilation_job, client, { CompilationJobName = "lua-crud" })
    assert.are.equal("ResourceNotFound", gone.code)
  end)

  it("lists one page of jobs and pipeline steps", function()
    local page = client:list_compilation_jobs{ MaxResults = 5 }
    assert.are.equal(5, #page.CompilationJobSummaries)
    assert.are.equal(smneo.array_mt, getmetatable(page.CompilationJobSummaries))
    assert.is_string(page.NextToken)
    assert.are.equal("job-000", page.CompilationJobSummaries[1].CompilationJobName)
    local next_page = client:list_compilation_jobs{ MaxResults = 5, NextToken = page.NextToken }
    assert.are.equal("job-005", next_page.CompilationJobSummaries[1].CompilationJobName)

    local steps = client:list_pipeline_execution_steps{ PipelineExecutionArn = S.PIPELINE_ARN, MaxResults = 3 }
    assert.are.equal(3, #steps.PipelineExecutionSteps)
    assert.are.equal("step-00", steps.PipelineExecutionSteps[1].StepName)
    assert.are.equal(1700001110.5, steps.PipelineExecutionSteps[1].EndTime)
  end)

  it("raises error tables with code, message, status, request_id, retryable", function()
    local err = raises(client.describe_compilation_job, client, { CompilationJobName = "no-such-job" })
    assert.are.equal("ResourceNotFound", err.code)
    assert.are.equal(400, err.status)
    assert.truthy(err.request_id:match(REQUEST_ID), err.request_id)
    assert.are.equal(false, err.retryable)
    assert.truthy(err.message:find("no-such-job", 1, true))
    assert.is_true(smneo.is_error(err))
    local s = tostring(err)
    assert.truthy(s:find("^ResourceNotFound: "))
    assert.truthy(s:find("HTTP 400", 1, true))
    assert.truthy(s:find(err.request_id, 1, true))
  end)

  it("refuses invalid parameters before sending, with issues", function()
    local before = S.requests(srv)
    local params = S.create_params("Bad_Name!")
    params.OutputConfig.TargetDevice = "ml_c55"
    local err = raises(client.create_compilation_job, client, params)
    assert.are.equal("ValidationError", err.code)
    assert.is_nil(err.status)
    assert.is_table(err.issues)
    local paths = {}
    for _, issue in ipairs(err.issues) do
      assert.is_string(issue.rule)
      assert.is_string(issue.message)
      assert.truthy(issue.severity == "error" or issue.severity == "warning")
      paths[issue.path] = issue.severity
    end
    assert.are.equal("error", paths.CompilationJobName)
    assert.are.equal("error", paths["OutputConfig.TargetDevice"])
    assert.truthy(tostring(err):find("OutputConfig.TargetDevice", 1, true))
    assert.are.equal(before, S.requests(srv))
  end)

  it("sends with validation = 'off' what strict refuses", function()
    local c = smneo.client(S.options(srv, { validation = "off" }))
    local before = S.requests(srv)
    local err = raises(c.describe_compilation_job, c, { CompilationJobName = "Bad_Name!" })
    -- the server answered (its own validation): it was sent
    assert.are.equal("ValidationException", err.code)
    assert.are.equal(400, err.status)
    assert.are.equal(before + 1, S.requests(srv))
    c:close()
  end)

  it("retries throttling and reports the last error after max_attempts", function()
    S.fault(srv, '{"kind": "throttle", "count": 2, "target": "sagemaker", "operation": "DescribeCompilationJob"}')
    local job = client:describe_compilation_job{ CompilationJobName = "job-003" }
    assert.are.equal("job-003", job.CompilationJobName)
    assert.are.equal(2, job.ResponseMetadata.RetryAttempts)

    local once = smneo.client(S.options(srv, { max_attempts = 1 }))
    S.fault(srv, '{"kind": "throttle", "count": 5, "target": "sagemaker", "operation": "DescribeCompilationJob"}')
    local err = raises(once.describe_compilation_job, once, { CompilationJobName = "job-003" })
    S.clear_faults(srv)
    assert.are.equal("ThrottlingException", err.code)
    assert.is_true(err.retryable)
    assert.are.equal(1, err.attempts)
    once:close()
  end)

  it("reports server errors after retrying them", function()
    S.fault(srv, '{"kind": "500", "count": 5, "target": "sagemaker", "operation": "DescribeCompilationJob"}')
    local before = S.count(srv, "DescribeCompilationJob")
    local err = raises(client.describe_compilation_job, client, { CompilationJobName = "job-003" })
    S.clear_faults(srv)
    assert.are.equal("InternalFailure", err.code)
    assert.are.equal(500, err.status)
    assert.are.equal(3, err.attempts)
    assert.are.equal(before + 3, S.count(srv, "DescribeCompilationJob"))
  end)

  -- the libcurl transport's name for an answer cut (FIN) or reset (RST)
  -- mid-body; smneo.resty gives the same (tests/nginx/run.sh)
  it("retries an answer cut or reset mid-body as ConnectionClosed", function()
    for _, kind in ipairs({ "truncate", "reset" }) do
      local fault = '{"kind": "' .. kind .. '", "count": 1, "target": "sagemaker", "operation": "DescribeCompilationJob"}'
      S.fault(srv, fault)
      local job = client:describe_compilation_job{ CompilationJobName = "job-003" }
      assert.are.equal("job-003", job.CompilationJobName)
      assert.are.equal(1, job.ResponseMetadata.RetryAttempts)
      local once = smneo.client(S.options(srv, { max_attempts = 1 }))
      S.fault(srv, fault)
      local err = raises(once.describe_compilation_job, once, { CompilationJobName = "job-003" })
      once:close()
      assert.are.equal("ConnectionClosed", err.code)
      assert.is_true(err.retryable)
      assert.are.equal(1, err.attempts)
    end
  end)

  it("maps an unreachable endpoint to ConnectionError", function()
    local c = smneo.client(S.options(srv, { endpoint_url = "http://127.0.0.1:9", max_attempts = 1 }))
    local err = raises(c.describe_compilation_job, c, { CompilationJobName = "x" })
    assert.are.equal("ConnectionError", err.code)
    c:close()
  end)

  it("never puts the secret key into errors", function()
    local errs = {
      raises(client.describe_compilation_job, client, { CompilationJobName = "no-such-job" }),
      raises(client.create_compilation_job, client, { CompilationJobName = "x" }),
      raises(smneo.client, { aws_access_key_id = "AKID" }),
      raises(smneo.client, { region_name = 5, aws_access_key_id = "AKID", aws_secret_access_key = SECRET }),
    }
    for _, e in ipairs(errs) do
      local s = tostring(e)
      for k, v in pairs(e) do s = s .. tostring(k) .. tostring(v) end
      assert.is_nil(s:find(SECRET, 1, true))
    end
  end)

  it("refuses user information in endpoint URLs without quoting it", function()
    -- Issue 18: user:password@ went out in the Host header and was signed.
    local url = srv.url:gsub("^http://", "http://alice:Pw0rdX@")
    for _, key in ipairs({ "endpoint_url", "s3_endpoint_url" }) do
      local err = raises(smneo.client, S.options(srv, { [key] = url }))
      assert.are.equal("InvalidArgument", err.code)
      assert.truthy(err.message:find("user information", 1, true))
      local s = tostring(err)
      for k, v in pairs(err) do s = s .. tostring(k) .. tostring(v) end
      assert.is_nil(s:find("Pw0rdX", 1, true))
      assert.is_nil(s:find("alice", 1, true))
    end
  end)

  it("closes twice, refuses calls once closed, and is collected in loops", function()
    local c = smneo.client(S.options(srv))
    c:close()
    c:close()
    assert.are.equal("smneo.client (closed)", tostring(c))
    local err = raises(c.describe_compilation_job, c, { CompilationJobName = "job-000" })
    assert.are.equal("InvalidArgument", err.code)
    assert.truthy(err.message:find("closed", 1, true))
    for i = 1, 100 do
      local tmp = smneo.client(S.options(srv))
      if i % 10 == 0 then
        assert.are.equal("job-000", tmp:describe_compilation_job{ CompilationJobName = "job-000" }.CompilationJobName)
      end
      if i % 20 == 0 then collectgarbage() end
    end
    collectgarbage()
    collectgarbage()
  end)

  if _VERSION == "Lua 5.4" and type(jit) ~= "table" then
    it("closes a <close> client when its scope ends (Lua 5.4)", function()
      local chunk = assert(load([[
        local smneo, opts = ...
        local seen
        do
          local c <close> = smneo.client(opts)
          seen = c
          assert(c:describe_compilation_job{ CompilationJobName = "job-000" })
        end
        return tostring(seen)
      ]]))
      assert.are.equal("smneo.client (closed)", chunk(smneo, S.options(srv)))
    end)
  end

  it("defaults to standard mode with 3 attempts, takes legacy and adaptive", function()
    local function opts(extra)
      local o = S.options(srv, extra)
      o.max_attempts = nil -- the mode's default
      return o
    end
    local c = smneo.client(opts({}))
    assert.are.equal(3, c:max_attempts())
    c:close()
    local l = smneo.client(opts({ retry_mode = "legacy" }))
    assert.are.equal(5, l:max_attempts())
    l:close()
    local a = smneo.client(opts({ retry_mode = "adaptive" }))
    assert.are.equal(3, a:max_attempts())
    a:close()
    local e = raises(smneo.client, S.options(srv, { retry_mode = "fast" }))
    assert.truthy(e.message:find("adaptive", 1, true))
  end)

  it("checks client options", function()
    local e1 = raises(smneo.client, { region = "us-east-1" })
    assert.are.equal("InvalidArgument", e1.code)
    assert.truthy(e1.message:find("region", 1, true))
    assert.truthy(e1.message:find("region_name", 1, true))
    local e2 = raises(smneo.client, { validation = "loose" })
    assert.truthy(e2.message:find("strict", 1, true))
    local e3 = raises(smneo.client, { max_attempts = 0 })
    assert.truthy(e3.message:find("max_attempts", 1, true))
  end)

  it("reports parameter values it cannot send, with their path", function()
    local e1 = raises(client.describe_compilation_job, client, { CompilationJobName = print })
    assert.are.equal("InvalidArgument", e1.code)
    assert.truthy(e1.message:find("params.CompilationJobName", 1, true))
    local e2 = raises(client.list_compilation_jobs, client, { MaxResults = 0 / 0 })
    assert.truthy(e2.message:find("MaxResults", 1, true))
    local e3 = raises(client.describe_compilation_job, client, { "a", CompilationJobName = "x" })
    assert.truthy(e3.message:find("mix", 1, true))
    local e4 = raises(client.describe_compilation_job, client, "job")
    assert.truthy(e4.message:find("table", 1, true))
  end)

  it("sends empty arrays marked with smneo.array and JSON null as smneo.null", function()
    -- smneo.null reaches the core as JSON null, which strict validation names
    local issues = smneo.validate("ListCompilationJobs", { NameContains = smneo.null })
    assert.are.equal(1, #issues)
    assert.are.equal("NameContains", issues[1].path)
    assert.truthy(issues[1].message:find("null", 1, true))
    local params = S.create_params("empty-tags")
    params.Tags = smneo.array()
    local req2 = client:build_request("CreateCompilationJob", params, { timestamp = 1700000000 })
    assert.truthy(req2.body:find('"Tags":[]', 1, true))
  end)

  it("parses responses without a client and as a method", function()
    local body = '{"CompilationJobArn":"arn:aws:sagemaker:us-east-1:123456789012:compilation-job/x"}'
    local res = smneo.parse_response("CreateCompilationJob", 200, { ["x-amzn-RequestId"] = "r1" }, body)
    assert.are.equal("arn:aws:sagemaker:us-east-1:123456789012:compilation-job/x", res.CompilationJobArn)
    assert.are.equal("r1", res.ResponseMetadata.RequestId)
    assert.are.equal("r1", res.ResponseMetadata.HTTPHeaders["x-amzn-requestid"])
    local err = raises(client.parse_response, client, "DescribeCompilationJob", 400,
      { ["x-amzn-RequestId"] = "r2" }, '{"__type":"com.amazon.coral#ResourceNotFound","message":"nope"}')
    assert.are.equal("ResourceNotFound", err.code)
    assert.are.equal(400, err.status)
    assert.are.equal("r2", err.request_id)
    assert.are.equal("nope", err.message)
    local bad = raises(smneo.parse_response, "DescribeCompilationJob", 200, {}, "{not json")
    assert.are.equal("ProtocolError", bad.code)
    -- headers as call:feed takes them: a repeated header is an array of values
    local rep = smneo.parse_response("CreateCompilationJob", 200,
      { ["x-amzn-RequestId"] = { "r3" }, ["X-Repeated"] = { "a", "b" } }, body)
    assert.are.equal("r3", rep.ResponseMetadata.RequestId)
    assert.truthy(rep.ResponseMetadata.HTTPHeaders["x-repeated"]:find("a", 1, true))
    assert.truthy(rep.ResponseMetadata.HTTPHeaders["x-repeated"]:find("b", 1, true))
    local badh = raises(smneo.parse_response, "DescribeCompilationJob", 200, "x-amzn-RequestId: r", "{}")
    assert.truthy(badh.message:find("parse_response: headers must be a table", 1, true))
  end)

  it("drops members the model does not have, and null members, as botocore and Python do", function()
    local res = smneo.parse_response("DescribeCompilationJob", 200, {},
      '{"CompilationJobName":"x","BrandNew":{"a":1},"FailureReason":null,'
      .. '"ModelArtifacts":{"S3ModelArtifacts":"s3://b/o","Extra":"y"}}')
    assert.are.equal("x", res.CompilationJobName)
    assert.is_nil(res.BrandNew)
    assert.is_nil(res.FailureReason)
    assert.are.same({ S3ModelArtifacts = "s3://b/o" }, res.ModelArtifacts)
  end)

  it("refuses results nested deeper than 80 levels with a ProtocolError, as Python does", function()
    local function nested(levels) -- levels containers, counting the top-level object
      -- a modeled string member holding lists: kept as it came (as botocore keeps it)
      return '{"CompilationJobName":"x","FailureReason":' .. string.rep("[", levels - 1) .. string.rep("]", levels - 1)
             .. "}"
    end
    assert.are.equal("x", smneo.parse_response("DescribeCompilationJob", 200, {}, nested(80)).CompilationJobName)
    local err = raises(smneo.parse_response, "DescribeCompilationJob", 200, {}, nested(81))
    assert.are.equal("ProtocolError", err.code)
    assert.truthy(err.message:find("nested deeper than 80 levels", 1, true), err.message)
    err = raises(smneo.parse_response, "DescribeCompilationJob", 200, {}, nested(1001)) -- cJSON's own limit
    assert.are.equal("ProtocolError", err.code)
    -- a step-driven call (smneo.resty's path) gets the same error table at "done"
    local nt = smneo.client{ region_name = "us-east-1", endpoint_url = "http://127.0.0.1:9", no_transport = true,
                             aws_access_key_id = "a", aws_secret_access_key = "b" }
    local call = nt:_call("DescribeCompilationJob", { CompilationJobName = "x" })
    assert.are.equal("send", (call:next()))
    call:feed(200, {}, nested(81))
    local ok, e = pcall(call.next, call)
    assert.is_false(ok)
    assert.are.equal("ProtocolError", e.code)
    nt:close()
  end)

  it("builds signed requests without sending them", function()
    local before = S.requests(srv)
    local req = client:build_request("DescribeCompilationJob", { CompilationJobName = "x" }, { timestamp = 1700000000 })
    assert.are.equal("POST", req.method)
    assert.are.equal(srv.url .. "/", req.url)
    assert.are.equal("SageMaker.DescribeCompilationJob", req.headers["X-Amz-Target"])
    assert.are.equal("20231114T221320Z", req.headers["X-Amz-Date"])
    assert.truthy(req.headers.Authorization:find("Credential=AKIDEXAMPLE/20231114/us-east-1/sagemaker/aws4_request", 1, true))
    assert.are.equal('{"CompilationJobName":"x"}', req.body)
    assert.are.equal(before, S.requests(srv))
  end)

  it("validates parameters as an array of issues", function()
    local issues = smneo.validate("CreateCompilationJob", S.create_params("ok-job"))
    for _, i in ipairs(issues) do assert.are_not.equal("error", i.severity) end
    local bad = smneo.validate("CreateCompilationJob", { CompilationJobName = "x", TargetDevices = "ml_c5" })
    assert.are.equal(smneo.array_mt, getmetatable(bad))
    local rules = {}
    for _, i in ipairs(bad) do rules[i.path .. ":" .. i.rule] = i end
    assert.truthy(rules["RoleArn:required"])
    local unknown
    for _, i in ipairs(bad) do if i.path == "TargetDevices" then unknown = i end end
    assert.truthy(unknown, "an issue for the unknown member TargetDevices")
    assert.truthy(unknown.message:find("OutputConfig", 1, true) or unknown.message:find("did you mean", 1, true))
    local e = raises(smneo.validate, "NoSuchOperation", {})
    assert.are.equal("InvalidArgument", e.code)
  end)
end)
