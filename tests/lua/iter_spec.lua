-- Paginators: many pages, filters, max_items + resume, pages mode, lifetime.
local smneo = require "smneo"
local S = require "tests.lua.helpers.server"

describe("smneo iterators", function()
  local srv, client

  lazy_setup(function()
    srv = S.start()
    client = smneo.client(S.options(srv))
  end)

  lazy_teardown(function()
    if client then client:close() end
    if srv then srv:stop() end
  end)

  it("walks every item over many pages", function()
    local before = S.count(srv, "ListCompilationJobs")
    local names = {}
    for summary in client:iter_compilation_jobs({}, { page_size = 5 }) do
      names[#names + 1] = summary.CompilationJobName
      assert.are.equal("number", type(summary.CreationTime))
    end
    assert.are.equal(57, #names)
    for i, n in ipairs(names) do assert.are.equal(string.format("job-%03d", i - 1), n) end
    assert.are.equal(before + 12, S.count(srv, "ListCompilationJobs"))
  end)

  it("passes the request parameters to every page", function()
    local n = 0
    for summary in client:iter_compilation_jobs({ StatusEquals = "COMPLETED" }, { page_size = 4 }) do
      assert.are.equal("COMPLETED", summary.CompilationJobStatus)
      n = n + 1
    end
    assert.are.equal(19, n)
  end)

  it("iterates pipeline execution steps", function()
    local steps = {}
    for step in client:iter_pipeline_execution_steps({ PipelineExecutionArn = S.PIPELINE_ARN }, { page_size = 4 }) do
      steps[#steps + 1] = step.StepName
    end
    assert.are.equal(23, #steps)
    assert.are.equal("step-22", steps[23])
  end)

  it("stops at max_items and resumes from the token", function()
    local first = {}
    local it, _, _, call = client:iter_compilation_jobs({}, { max_items = 7, page_size = 5 })
    for s in it do first[#first + 1] = s.CompilationJobName end
    assert.are.equal(7, #first)
    local token = call:resume_token()
    assert.is_string(token)
    local rest = {}
    for s in client:iter_compilation_jobs({}, { starting_token = token, page_size = 5 }) do
      rest[#rest + 1] = s.CompilationJobName
    end
    assert.are.equal(50, #rest)
    assert.are.equal("job-007", rest[1])
  end)

  it("yields whole pages with pages = true", function()
    local pages, items = 0, 0
    for page in client:iter_compilation_jobs({}, { page_size = 10, pages = true }) do
      pages = pages + 1
      items = items + #page.CompilationJobSummaries
    end
    assert.are.equal(6, pages)
    assert.are.equal(57, items)
  end)

  it("raises a failing page as an error table, then ends", function()
    local it = client:iter_pipeline_execution_steps{ PipelineExecutionArn = S.PIPELINE_ARN .. "x" }
    local ok, err = pcall(it)
    assert.is_false(ok)
    assert.are.equal("ResourceNotFound", err.code)
    assert.is_nil(it())
  end)

  it("refuses invalid parameters when the iterator is created", function()
    local ok, err = pcall(client.iter_compilation_jobs, client, { MaxResults = 1000 })
    assert.is_false(ok)
    assert.are.equal("ValidationError", err.code)
  end)

  it("survives abandoned iterators and a closed client", function()
    for _ = 1, 50 do
      local it = client:iter_compilation_jobs({}, { page_size = 3 })
      assert.is_table(it())
    end
    collectgarbage()
    collectgarbage()
    local c = smneo.client(S.options(srv))
    local it = c:iter_compilation_jobs({}, { page_size = 20 })
    assert.is_table(it())
    c:close() -- the running iterator keeps the core client until it ends
    local n = 1
    for _ in it do n = n + 1 end
    assert.are.equal(57, n)
    local ok, err = pcall(c.iter_compilation_jobs, c, {})
    assert.is_false(ok)
    assert.truthy(err.message:find("closed", 1, true))
  end)

  if _VERSION == "Lua 5.4" then
    it("closes the run when a loop is left early (Lua 5.4 to-be-closed)", function()
      local it, s, c, call = client:iter_compilation_jobs({}, { page_size = 5 })
      for _ in it, s, c, call do break end
      assert.are.equal("smneo.call (finished)", tostring(call))
    end)
  end
end)
