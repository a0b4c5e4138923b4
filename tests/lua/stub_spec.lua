-- smneo.stub (issue 13): botocore's Stubber API for Lua clients, through the
-- core's request hook: the waiter and a paginator run against queued answers
-- with nothing listening at the endpoint; expected parameters with ANY; the
-- errors Python's smneo.stub raises (same codes and messages); responses
-- checked against the output shape by the core; deactivate() gives the
-- transport back.
local smneo = require "smneo"
local stub = require "smneo.stub"

local CLOSED = "http://127.0.0.1:9" -- nothing listens: a request that reached the network would fail

local function description(name, status)
  return { CompilationJobName = name, CompilationJobArn = "arn:aws:sagemaker:us-east-1:1:compilation-job/" .. name,
           CompilationJobStatus = status, StoppingCondition = {}, CreationTime = 1714521600,
           LastModifiedTime = 1714521600, FailureReason = "", ModelArtifacts = { S3ModelArtifacts = "s3://b/o" },
           RoleArn = "arn:aws:iam::1:role/r", InputConfig = { S3Uri = "s3://b/m", Framework = "PYTORCH" },
           OutputConfig = { S3OutputLocation = "s3://b/o" } }
end

local function page(names, token)
  local summaries = {}
  for _, n in ipairs(names) do
    summaries[#summaries + 1] = { CompilationJobName = n, CompilationJobArn = "arn:x/" .. n,
                                  CreationTime = 1714521600, CompilationJobStatus = "COMPLETED" }
  end
  return { CompilationJobSummaries = summaries, NextToken = token }
end

local function raises(fn)
  local ok, err = pcall(fn)
  assert.is_false(ok, "expected an error")
  return err
end

describe("smneo.stub", function()
  local client, stubber

  before_each(function()
    client = smneo.client{ region_name = "us-east-1", endpoint_url = CLOSED, max_attempts = 1,
                           aws_access_key_id = "AKIDEXAMPLE", aws_secret_access_key = "secret" }
    stubber = stub.Stubber(client)
  end)

  after_each(function()
    stubber:deactivate()
    client:close()
  end)

  it("runs the waiter against queued answers", function()
    for _, status in ipairs{ "INPROGRESS", "INPROGRESS", "COMPLETED" } do
      stubber:add_response("describe_compilation_job", description("j", status), { CompilationJobName = "j" })
    end
    stubber:activate()
    local seen = {}
    local job = client:wait_for_compilation_job("j", { delay = 0.001, max_delay = 0.001,
      callback = function(d) seen[#seen + 1] = d.CompilationJobStatus end })
    stubber:assert_no_pending_responses()
    assert.are.equal("COMPLETED", job.CompilationJobStatus)
    assert.are.equal("COMPLETED", seen[#seen])
  end)

  it("raises the waiter's JobFailed from a stubbed FAILED job", function()
    local failed = description("j", "FAILED")
    failed.FailureReason = "bad shape"
    stubber:add_response("describe_compilation_job", failed)
    stubber:activate()
    local err = raises(function() client:wait_for_compilation_job("j", { delay = 0.001 }) end)
    assert.are.equal("JobFailed", err.code)
  end)

  it("runs a paginator against queued pages", function()
    stubber:add_response("list_compilation_jobs", page({ "a", "b" }, "t"), {})
    stubber:add_response("list_compilation_jobs", page({ "c" }), { NextToken = "t" })
    stubber:activate()
    local names = {}
    for job in client:iter_compilation_jobs{} do
      names[#names + 1] = job.CompilationJobName
    end
    stubber:assert_no_pending_responses()
    assert.are.same({ "a", "b", "c" }, names)
  end)

  it("checks expected parameters, ANY matching any value", function()
    stubber:activate()
    stubber:add_response("stop_compilation_job", {}, { CompilationJobName = stub.ANY })
    client:stop_compilation_job{ CompilationJobName = "anything" }
    stubber:add_response("stop_compilation_job", {}, { CompilationJobName = "a" })
    local err = raises(function() client:stop_compilation_job{ CompilationJobName = "b" } end)
    assert.are.equal("StubAssertionError", err.code)
    assert.are.equal("StubResponseError", err.kind)
    assert.truthy(err.message:find("Error getting response stub for operation StopCompilationJob: Expected parameters",
                                   1, true), err.message)
    -- the refused answer stays queued, as botocore's
    client:stop_compilation_job{ CompilationJobName = "a" }
    stubber:assert_no_pending_responses()
  end)

  it("raises Python's errors for an operation mismatch and a call with nothing queued", function()
    stubber:activate()
    stubber:add_response("stop_compilation_job", {})
    local err = raises(function() client:delete_compilation_job{ CompilationJobName = "a" } end)
    assert.are.equal("StubResponseError", err.code)
    assert.are.equal("Error getting response stub for operation DeleteCompilationJob: Operation mismatch: found "
                     .. "response for StopCompilationJob.", err.message)
    client:stop_compilation_job{ CompilationJobName = "a" }
    err = raises(function() client:stop_compilation_job{ CompilationJobName = "a" } end)
    assert.are.equal("UnStubbedResponseError", err.code)
    assert.are.equal("Error getting response stub for operation StopCompilationJob: Unexpected API Call: A call was "
                     .. "made but no additional calls expected. Either the API Call was not stubbed or it was "
                     .. "called multiple times.", err.message)
    assert.truthy(tostring(err):find("UnStubbedResponseError", 1, true))
  end)

  it("answers with a client error", function()
    stubber:add_client_error("describe_compilation_job", "ResourceNotFound", "no such job", 400, nil, nil,
                             { RequestId = "req-9" })
    stubber:add_client_error("describe_compilation_job", { service_error_code = "ValidationException",
                                                           service_message = "bad", http_status_code = 400 })
    stubber:activate()
    local err = raises(function() client:describe_compilation_job{ CompilationJobName = "x" } end)
    assert.are.equal("ResourceNotFound", err.code)
    assert.are.equal("no such job", err.message)
    assert.are.equal(400, err.status)
    assert.are.equal("req-9", err.request_id)
    err = raises(function() client:describe_compilation_job{ CompilationJobName = "x" } end)
    assert.are.equal("ValidationException", err.code)
    stubber:assert_no_pending_responses()
  end)

  it("checks responses against the output shape (the core's check, as Python's)", function()
    local bad = description("j", "COMPLETED")
    bad.NoSuchMember = 1
    local err = raises(function() stubber:add_response("describe_compilation_job", bad) end)
    assert.are.equal("ValidationError", err.code) -- the core's name of a ParamValidationError
    assert.truthy(err.message:find("NoSuchMember", 1, true), err.message)
    err = raises(function() stubber:add_response("list_compilation_jobs", {}) end)
    assert.truthy(err.issues and err.issues[1].path == "CompilationJobSummaries", err.message)
    err = raises(function() stubber:add_response("stop_compilation_job", { Anything = 1 }) end)
    assert.truthy(err.message:find("ResponseMetadata", 1, true), err.message)
    err = raises(function() stubber:add_response("describe_job", {}) end)
    assert.truthy(err.message:find("does not have method: describe_job", 1, true), err.message)
    -- neither an enum nor a pattern is checked (botocore's Stubber checks neither)
    stubber:add_response("describe_compilation_job", description("j", "NOT-A-STATUS"))
  end)

  it("reports unused answers", function()
    stubber:add_response("stop_compilation_job", {})
    local err = raises(function() stubber:assert_no_pending_responses() end)
    assert.are.equal("1 responses remaining in queue.", err.message)
  end)

  it("gives the transport back on deactivate", function()
    stubber:activate()
    local err = raises(function() client:stop_compilation_job{ CompilationJobName = "a" } end)
    assert.are.equal("UnStubbedResponseError", err.code)
    stubber:deactivate()
    err = raises(function() client:stop_compilation_job{ CompilationJobName = "a" } end)
    assert.are.equal("ConnectionError", err.code) -- the request went to the closed port
  end)
end)
