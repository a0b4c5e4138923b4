-- wait_for_compilation_job: the core's waiter driven from Lua.
local smneo = require "smneo"
local S = require "tests.lua.helpers.server"

describe("smneo waiter", function()
  local srv, client

  lazy_setup(function()
    srv = S.start()
    client = smneo.client(S.options(srv))
  end)

  lazy_teardown(function()
    if client then client:close() end
    if srv then srv:stop() end
  end)

  -- A job on the model archive that runs for `seconds` (default: a day).
  local function job(name, seconds)
    S.job_duration(srv, seconds or S.LONG)
    client:create_compilation_job(S.create_params(name, srv.model_uri))
    S.job_duration(srv, S.LONG)
    return name
  end

  it("returns the final description and reports each status change", function()
    -- STARTING for a quarter of its 4 s (the first poll comes at once),
    -- INPROGRESS for the rest
    local name = job("wait-ok-a", 4)
    local seen = {}
    local final = client:wait_for_compilation_job(name, {
      delay = 0.01, max_delay = 0.02,
      callback = function(d) seen[#seen + 1] = d.CompilationJobStatus end,
    })
    assert.are.equal("COMPLETED", final.CompilationJobStatus)
    assert.are.same({ "STARTING", "INPROGRESS", "COMPLETED" }, seen)
  end)

  it("raises JobFailed with the failure reason and the description", function()
    S.fault(srv, '{"kind": "fail", "job": "wait-fail-a", "reason": "ClientError: No pth file found in the model archive"}')
    local name = job("wait-fail-a", 0.2)
    local ok, err = pcall(client.wait_for_compilation_job, client, name, { delay = 0.01 })
    assert.is_false(ok)
    assert.are.equal("JobFailed", err.code)
    assert.truthy(err.message:find("No pth file found", 1, true))
    assert.are.equal("FAILED", err.description.CompilationJobStatus)
  end)

  it("raises JobStopped", function()
    local name = job("wait-stop-a")
    client:stop_compilation_job{ CompilationJobName = name }
    local ok, err = pcall(client.wait_for_compilation_job, client, name, { delay = 0.01 })
    assert.is_false(ok)
    assert.are.equal("JobStopped", err.code)
  end)

  it("raises WaiterTimeout", function()
    local name = job("wait-forever-a")
    local ok, err = pcall(client.wait_for_compilation_job, client, name, { delay = 0.05, timeout = 0.3 })
    assert.is_false(ok)
    assert.are.equal("WaiterTimeout", err.code)
  end)

  it("cancels when the callback returns false", function()
    local name = job("wait-forever-b")
    local calls = 0
    local ok, err = pcall(client.wait_for_compilation_job, client, name, {
      delay = 0.01, callback = function() calls = calls + 1; return false end,
    })
    assert.is_false(ok)
    assert.are.equal("Cancelled", err.code)
    assert.are.equal(1, calls)
  end)

  it("cancels and re-raises the callback's own error", function()
    local name = job("wait-forever-c")
    local before = S.count(srv, "DescribeCompilationJob")
    local ok, err = pcall(client.wait_for_compilation_job, client, name, {
      delay = 0.01, callback = function() error("boom from callback", 0) end,
    })
    assert.is_false(ok)
    assert.are.equal("boom from callback", err)
    local marker = {}
    local ok2, err2 = pcall(client.wait_for_compilation_job, client, name, {
      delay = 0.01, callback = function() error(marker) end,
    })
    assert.is_false(ok2)
    assert.are.equal(marker, err2)
    -- the machine was cancelled: no polling after the callback failed
    assert.are.equal(before + 2, S.count(srv, "DescribeCompilationJob"))
    -- and the client still works
    assert.are.equal("job-000", client:describe_compilation_job{ CompilationJobName = "job-000" }.CompilationJobName)
  end)

  it("raises ResourceNotFound for an unknown job", function()
    local ok, err = pcall(client.wait_for_compilation_job, client, "no-such-job", { delay = 0.01 })
    assert.is_false(ok)
    assert.are.equal("ResourceNotFound", err.code)
  end)

  it("checks its options", function()
    local ok, err = pcall(client.wait_for_compilation_job, client, "x", { dealy = 1 })
    assert.is_false(ok)
    assert.truthy(err.message:find("dealy", 1, true))
    ok, err = pcall(client.wait_for_compilation_job, client, "x", { callback = 5 })
    assert.is_false(ok)
    assert.truthy(err.message:find("callback", 1, true))
  end)
end)
