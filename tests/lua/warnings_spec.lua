-- Validation issues that did not stop a call come back as a second value:
-- warnings always, every finding with validation = "warn"; nil when none.
local smneo = require "smneo"
local safe = require "smneo.safe"
local S = require "tests.lua.helpers.server"

-- Create parameters the validator only warns about (no DataInputConfig).
local function warned_params(name)
  local p = S.create_params(name)
  p.InputConfig.DataInputConfig = nil
  return p
end

local function by_path(issues)
  local t = {}
  for _, i in ipairs(issues) do t[i.path] = i end
  return t
end

describe("warnings", function()
  local srv, client

  lazy_setup(function()
    srv = S.start()
    client = smneo.client(S.options(srv))
  end)

  lazy_teardown(function()
    if client then client:close() end
    if srv then srv:stop() end
  end)

  it("come with the result of a call that was sent", function()
    local params = warned_params("lua-warned")
    local expected = smneo.validate("CreateCompilationJob", params)
    assert.is_true(#expected > 0)
    local before = S.requests(srv)
    local res, warnings = client:create_compilation_job(params)
    assert.are.equal(before + 1, S.requests(srv))
    assert.truthy(res.CompilationJobArn:find("compilation-job/lua-warned", 1, true))
    assert.is_table(warnings)
    assert.are.equal(smneo.array_mt, getmetatable(warnings))
    assert.are.equal(#expected, #warnings)
    local w = by_path(warnings)["InputConfig.DataInputConfig"]
    assert.is_table(w)
    assert.are.equal("warning", w.severity)
    assert.are.equal("neo.data-input-config.missing", w.rule)
    assert.truthy(w.message:find("DataInputConfig", 1, true))
    assert.is_nil(res.warnings) -- the result table holds the service's members only
  end)

  it("are nil when there are none", function()
    local n = select("#", client:describe_compilation_job{ CompilationJobName = "lua-warned" })
    assert.are.equal(2, n)
    local job, warnings = client:describe_compilation_job{ CompilationJobName = "lua-warned" }
    assert.are.equal("lua-warned", job.CompilationJobName)
    assert.is_nil(warnings)
  end)

  it("hold the errors validation = 'warn' let through", function()
    -- A TensorFlow job without DataInputConfig: an error for smneo's Neo
    -- rules, which the endpoint accepts (the job would fail later).
    local params = warned_params("lua-tf-warned")
    params.InputConfig.Framework = "TENSORFLOW"
    params.InputConfig.FrameworkVersion = nil
    local c = smneo.client(S.options(srv, { validation = "warn" }))
    local before = S.requests(srv)
    local res, warnings = c:create_compilation_job(params)
    assert.are.equal(before + 1, S.requests(srv))
    assert.truthy(res.CompilationJobArn:find("compilation-job/lua-tf-warned", 1, true))
    assert.is_table(warnings)
    local e = by_path(warnings)["InputConfig.DataInputConfig"]
    assert.are.equal("error", e.severity)
    assert.are.equal("neo.data-input-config.missing", e.rule)
    assert.truthy(e.message:find("TENSORFLOW models need DataInputConfig", 1, true), e.message)
    -- strict refuses the same call before sending
    params.CompilationJobName = "lua-tf-strict"
    local ok, err = pcall(client.create_compilation_job, client, params)
    assert.is_false(ok)
    assert.are.equal("ValidationError", err.code)
    assert.are.equal(before + 1, S.requests(srv))
    c:close()
  end)

  it("come second from smneo.safe too (nil, err on failure as before)", function()
    local c = assert(safe.client(S.options(srv)))
    local res, warnings = c:create_compilation_job(warned_params("lua-warned-safe"))
    assert.is_table(res)
    assert.are.equal("warning", by_path(warnings)["InputConfig.DataInputConfig"].severity)
    local none, err = c:create_compilation_job(warned_params("lua-warned-safe"))
    assert.is_nil(none)
    assert.are.equal("ResourceInUse", err.code)
    c:close()
  end)

  it("come with the step API's done", function()
    local c = smneo.client{
      region_name = "us-east-1", endpoint_url = "https://sagemaker.test.invalid",
      aws_access_key_id = "AKIDEXAMPLE", aws_secret_access_key = "secret", no_transport = true,
    }
    local call = c:_call("CreateCompilationJob", warned_params("steps"))
    assert.are.equal("send", (call:next()))
    call:feed(200, { ["Content-Type"] = "application/x-amz-json-1.1" },
              '{"CompilationJobArn":"arn:aws:sagemaker:us-east-1:1:compilation-job/steps"}')
    local kind, res, err, warnings = call:next()
    assert.are.equal("done", kind)
    assert.is_nil(err)
    assert.are.equal("arn:aws:sagemaker:us-east-1:1:compilation-job/steps", res.CompilationJobArn)
    assert.are.equal("warning", by_path(warnings)["InputConfig.DataInputConfig"].severity)
    call:close()
    call = c:_call("DescribeCompilationJob", { CompilationJobName = "steps" })
    call:next()
    call:feed(200, {}, '{"CompilationJobName":"steps"}')
    local k2, r2, e2, w2 = call:next()
    assert.are.equal("done", k2)
    assert.are.equal("steps", r2.CompilationJobName)
    assert.is_nil(e2)
    assert.is_nil(w2)
    call:close()
    c:close()
  end)
end)
