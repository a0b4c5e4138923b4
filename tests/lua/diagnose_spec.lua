-- smneo.explain (docs/diagnosis.md) on Lua 5.4 and LuaJIT: jobs failed in
-- smneo.local with each failure of its own catalogue and each case of
-- tests/fixtures/diagnosis/cases.json, described with the Lua client, their
-- log read from GET /_smneo/logs; the answer's fields, tostring, unknown and
-- not-failed answers, smneo.safe, bad arguments and hostile input.
local smneo = require "smneo"
local safe = require "smneo.safe"
local json = require "dkjson"
local S = require "tests.lua.helpers.server"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local FIXTURE = assert(json.decode(read("tests/fixtures/diagnosis/cases.json")))
local CATALOGUE = assert(json.decode(read("model/neo-failures.json")))
local ENTRIES = {}
for _, e in ipairs(CATALOGUE.failures) do ENTRIES[e.id] = e end

local function sh(cmd)
  local p = assert(io.popen("env -u LD_PRELOAD " .. cmd .. " 2>&1"))
  local out = p:read("*a")
  p:close()
  return out
end

-- smneo.local's fault texts are format strings: literal braces are doubled.
local function braces_doubled(s) return (s:gsub("[{}]", "%0%0")) end

local function check(d, want_id, want_evidence, what)
  assert.are.equal(want_id, d.id, what .. "\n" .. tostring(d))
  if want_id == "unknown" then
    assert.is_false(d.matched)
    assert.are.equal("system", d.category)
    assert.truthy(d.title:find("does not recognise", 1, true))
  else
    local e = ENTRIES[want_id]
    assert.is_true(d.matched, what)
    assert.are.equal(e.category, d.category, what)
    assert.are.equal(e.rule ~= json.null and e.rule or nil, d.rule, what)
    assert.are.equal(e.fix, d.fix, what)
    assert.are.equal(CATALOGUE.sources[e.source], d.source, what)
  end
  if want_evidence == "log" then
    assert.are.equal("log", d.evidence_source, what)
    assert.is_number(d.evidence_line, what)
  else
    assert.are.equal("FailureReason", d.evidence_source, what)
    assert.are.equal(d.failure_reason, d.evidence, what)
    assert.is_nil(d.evidence_line, what)
  end
  assert.truthy(tostring(d):find("Diagnosis: " .. want_id .. " (", 1, true), what)
end

describe("smneo.explain", function()
  local srv, client, tmp
  local jobs = {}

  local function post_faults(specs)
    local f = assert(io.open(tmp .. "/faults.json", "wb"))
    f:write(json.encode(setmetatable(specs, { __jsontype = "array" })))
    f:close()
    local out = sh("curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @" .. tmp .. "/faults.json " ..
      srv.url .. "/_smneo/faults")
    assert.are.equal("200", out)
  end

  -- Every job's log from GET /_smneo/logs, in one curl (one JSON document a line).
  local function job_logs(names)
    local urls = {}
    for i, name in ipairs(names) do urls[i] = "'" .. srv.url .. "/_smneo/logs?job=" .. name .. "'" end
    local out, docs = sh("curl -s " .. table.concat(urls, " ")), {}
    for line in out:gmatch("[^\n]+") do docs[#docs + 1] = assert(json.decode(line)).events end
    assert.are.equal(#names, #docs)
    return docs
  end

  local function request(name, case)
    case = case or {}
    local fw = case.framework or "PYTORCH"
    local out = { S3OutputLocation = "s3://models/out" }
    if case.platform then out.TargetPlatform = case.platform else out.TargetDevice = case.target or "ml_c5" end
    out.CompilerOptions = case.compiler_options
    return {
      CompilationJobName = name, RoleArn = "arn:aws:iam::123456789012:role/NeoRole",
      InputConfig = { S3Uri = "s3://models/in/model.tar.gz", Framework = fw,
                      DataInputConfig = fw == "PYTORCH" and '{"input0": [1,3,224,224]}' or
                        fw == "TENSORFLOW" and '{"input": [1,224,224,3]}' or '{"data": [1,3,416,416]}' },
      OutputConfig = out, StoppingCondition = { MaxRuntimeInSeconds = 900 },
    }
  end

  lazy_setup(function()
    srv = S.start_local()
    client = smneo.client{ region_name = "us-east-1", endpoint_url = srv.url,
                           aws_access_key_id = "test", aws_secret_access_key = "test" }
    tmp = sh("mktemp -d"):gsub("%s+$", "")
    local names, faults = {}, {}
    for name in pairs(FIXTURE["local"]) do names[#names + 1] = name end
    table.sort(names)
    for k, failure in ipairs(names) do
      local job = "diag-lua-local-" .. k
      faults[#faults + 1] = { kind = "fail", failure = failure, job = job }
      jobs[#jobs + 1] = { job, "smneo.local " .. failure, FIXTURE["local"][failure], "FailureReason" }
    end
    for k, case in ipairs(FIXTURE.cases) do
      local job = "diag-lua-case-" .. k
      local log = {}
      for i, line in ipairs(case.log) do log[i] = braces_doubled(line) end
      faults[#faults + 1] = { kind = "fail", job = job, reason = braces_doubled(case.reason),
                              log = setmetatable(log, { __jsontype = "array" }) }
      jobs[#jobs + 1] = { job, case.name, case.id, case.evidence, case }
    end
    post_faults(faults)
    for _, j in ipairs(jobs) do client:create_compilation_job(request(j[1], j[5])) end
  end)

  lazy_teardown(function()
    if client then client:close() end
    if srv then srv:stop() end
    if tmp and tmp:match("^/tmp/") then os.execute("rm -rf " .. tmp) end
  end)

  it("explains every failure of smneo.local and every fixture case", function()
    local descs, names = {}, {}
    for k, j in ipairs(jobs) do
      for _ = 1, 300 do
        descs[k] = client:describe_compilation_job{ CompilationJobName = j[1] }
        if descs[k].CompilationJobStatus == "FAILED" then break end
        os.execute("sleep 0.1")
      end
      names[k] = j[1]
    end
    local logs = job_logs(names)
    for k, j in ipairs(jobs) do
      local name, what, want, evidence = j[1], j[2], j[3], j[4]
      local desc, events = descs[k], logs[k]
      assert.are.equal("FAILED", desc.CompilationJobStatus, what)
      assert.is_true(#events >= 3, what)
      local lines = {}
      for i, e in ipairs(events) do lines[i] = e.message end
      local d = smneo.explain(desc, lines)
      check(d, want, evidence, what)
      assert.are.equal(name, d.job_name)
      assert.are.equal("FAILED", d.status)
      assert.are.equal(0, #d.issues)
      if evidence == "log" then
        assert.are.equal(lines[d.evidence_line], d.evidence)
      end
      -- events with a message, and the reason alone, give the same answer
      check(smneo.explain(desc, events), want, evidence, what .. " (events)")
      if evidence == "FailureReason" then
        check(smneo.explain(desc.FailureReason), want, evidence, what .. " (reason alone)")
      end
    end
  end)

  it("says plainly when it does not know a failure", function()
    local d = smneo.explain({ CompilationJobStatus = "FAILED", FailureReason = "ClientError: the moon is wrong" },
      { "compiler output" })
    assert.are.equal("unknown", d.id)
    assert.are.equal("system", d.category)
    assert.truthy(tostring(d):find("smneo does not recognise this failure", 1, true))
    assert.truthy(d.fix:find("AWS Support", 1, true))
    local nothing = smneo.explain()
    assert.are.equal("unknown", nothing.id)
    assert.truthy(nothing.cause:find("Nothing to go on", 1, true))
  end)

  it("has nothing to explain for a job that did not fail", function()
    local d = smneo.explain{ CompilationJobStatus = "COMPLETED" }
    assert.are.equal("not-failed", d.id)
    assert.are.equal("none", d.category)
  end)

  it("points at an entry through the job's own parameters", function()
    local desc = request("nv", { platform = { Os = "LINUX", Arch = "ARM64", Accelerator = "NVIDIA" } })
    desc.CompilationJobStatus, desc.FailureReason = "FAILED", "InternalServerError: boom"
    local d = smneo.explain(desc)
    assert.are.equal("nvidia-compiler-options", d.id)
    assert.are.equal("validation", d.evidence_source)
    assert.are.equal(3, #d.issues)
    assert.are.equal("neo.compiler-options.missing", d.issues[1].rule)
  end)

  it("refuses bad arguments (and smneo.safe returns them)", function()
    local ok, err = pcall(smneo.explain, 42)
    assert.is_false(ok)
    assert.are.equal("InvalidArgument", err.code)
    assert.truthy(err.message:find("description", 1, true))
    ok, err = pcall(smneo.explain, nil, { "fine", {} })
    assert.is_false(ok)
    assert.truthy(err.message:find("logs[2]", 1, true))
    ok, err = pcall(smneo.explain, nil, "lines")
    assert.is_false(ok)
    local d, e = safe.explain(nil, { 7 })
    assert.is_nil(d)
    assert.are.equal("InvalidArgument", e.code)
    d = assert(safe.explain("ClientError: InputConfiguration: No h5 file provided in s3://b/k"))
    assert.are.equal("keras-no-h5", d.id)
  end)

  it("survives hostile lines", function()
    local huge = "Bucket " .. string.rep(" Bucket x is in region y which ", 200000)
    local evil = "\255\254\27[31mERROR\27[0m \0 \192\175 OperatorNotImplemented: \226\130 'Grid\7'\155"
    local lines = {}
    for i = 1, 30000 do lines[i] = "INFO: quiet" end
    lines[#lines + 1] = huge
    lines[#lines + 1] = evil
    lines[#lines + 1] = "tail"
    local d = smneo.explain({ CompilationJobStatus = "FAILED", FailureReason = "InternalServerError\27[2J" }, lines)
    assert.are.equal("operator-not-implemented", d.id)
    assert.are.equal(#lines - 1, d.evidence_line)
    for _, s in ipairs{ d.evidence, d.failure_reason, tostring(d) } do
      assert.is_nil(s:find("[%z\1-\8\11-\31\127]"), s)
    end
    assert.truthy(d.evidence:find("\239\191\189", 1, true))
  end)
end)
