-- smneo.safe: the same API returning nil, err instead of raising.
local smneo = require "smneo"
local safe = require "smneo.safe"
local S = require "tests.lua.helpers.server"

describe("smneo.safe", function()
  local srv, client

  lazy_setup(function()
    srv = S.start()
    client = assert(safe.client(S.options(srv)))
  end)

  lazy_teardown(function()
    if client then client:close() end
    if srv then srv:stop() end
  end)

  it("returns results like smneo", function()
    local job, err = client:describe_compilation_job{ CompilationJobName = "job-002" }
    assert.is_nil(err)
    assert.are.equal("STARTING", job.CompilationJobStatus)
    assert.are.equal(smneo.null, safe.null)
    assert.are.equal(smneo.array_mt, safe.array_mt)
  end)

  it("returns nil, err where smneo raises", function()
    local job, err = client:describe_compilation_job{ CompilationJobName = "no-such-job" }
    assert.is_nil(job)
    assert.are.equal("ResourceNotFound", err.code)
    assert.are.equal(400, err.status)
    assert.is_true(smneo.is_error(err))

    local res, verr = client:create_compilation_job{ CompilationJobName = "x" }
    assert.is_nil(res)
    assert.are.equal("ValidationError", verr.code)
    assert.is_table(verr.issues)

    local c, cerr = safe.client{ no_such_option = 1 }
    assert.is_nil(c)
    assert.are.equal("InvalidArgument", cerr.code)

    local issues, ierr = safe.validate("NoSuchOperation", {})
    assert.is_nil(issues)
    assert.are.equal("InvalidArgument", ierr.code)

    local r, perr = safe.parse_response("DescribeCompilationJob", 400, {}, '{"__type":"ResourceNotFound","message":"x"}')
    assert.is_nil(r)
    assert.are.equal("ResourceNotFound", perr.code)
  end)

  it("iterates every item when nothing fails", function()
    local n = 0
    for item, err in client:iter_compilation_jobs({}, { page_size = 10 }) do
      assert.is_nil(err)
      assert.is_table(item)
      n = n + 1
    end
    assert.are.equal(57, n)
  end)

  it("yields false, err once when a page fails, then ends", function()
    local rounds, seen = 0, nil
    for item, err in client:iter_pipeline_execution_steps{ PipelineExecutionArn = S.PIPELINE_ARN .. "-missing" } do
      rounds = rounds + 1
      assert.are.equal(false, item)
      seen = err
    end
    assert.are.equal(1, rounds)
    assert.are.equal("ResourceNotFound", seen.code)
  end)

  it("yields false, err once when the iterator cannot start", function()
    local rounds, seen = 0, nil
    for item, err in client:iter_compilation_jobs{ MaxResults = 5000 } do
      rounds = rounds + 1
      assert.are.equal(false, item)
      seen = err
    end
    assert.are.equal(1, rounds)
    assert.are.equal("ValidationError", seen.code)
  end)

  it("returns a waiter callback's error as err", function()
    assert(client:create_compilation_job(S.create_params("wait-forever-safe")))
    local final, err = client:wait_for_compilation_job("wait-forever-safe", {
      delay = 0.01, callback = function() error("stop here", 0) end,
    })
    assert.is_nil(final)
    assert.are.equal("stop here", err)
  end)

  it("closes twice without error", function()
    local c = assert(safe.client(S.options(srv)))
    c:close()
    c:close()
    local job, err = c:describe_compilation_job{ CompilationJobName = "job-000" }
    assert.is_nil(job)
    assert.truthy(err.message:find("closed", 1, true))
  end)
end)
