-- Shared fixtures (tests/fixtures), checked by the C, Python and Lua suites:
-- build_request output, the validation cases and the archives.
local smneo = require "smneo"
local json = require "dkjson"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local function decode(text)
  local v, _, err = json.decode(text, 1, smneo.null, nil, smneo.array_mt)
  assert(v ~= nil, err)
  return v
end

local function list(pattern)
  local out = {}
  local p = assert(io.popen("ls " .. pattern .. " 2>/dev/null"))
  for line in p:lines() do out[#out + 1] = line end
  p:close()
  return out
end

describe("build_request fixtures", function()
  local files = list("tests/fixtures/build_request/*.json")

  it("exist", function()
    assert.is_true(#files >= 5)
  end)

  for _, path in ipairs(files) do
    local fx = decode(read(path))
    it(fx.name .. " (" .. path:match("[^/]+$") .. ")", function()
      local client = smneo.client(fx.client)
      local req = client:build_request(fx.operation, fx.params, { timestamp = fx.timestamp })
      client:close()
      local exp = fx.expected
      assert.are.equal(exp.method, req.method)
      assert.are.equal(exp.url, req.url)
      assert.are.equal(exp.body, req.body)
      local ignore = {}
      for _, h in ipairs(fx.ignore_headers or {}) do ignore[h:lower()] = true end
      local want, got = {}, {}
      for k, v in pairs(exp.headers) do if not ignore[k:lower()] then want[k] = v end end
      for k, v in pairs(req.headers) do if not ignore[k:lower()] then got[k] = v end end
      assert.are.same(want, got)
    end)
  end
end)

describe("validation fixtures", function()
  local cases = decode(read("tests/fixtures/validation/cases.json"))

  it("exist", function()
    assert.is_true(#cases > 100)
  end)

  for i, case in ipairs(cases) do
    -- Raw JSON text cannot be written as a Lua table: those cases are the C suite's.
    if case.params ~= nil then
      it(string.format("#%d %s", i, case.name), function()
        local issues = smneo.validate(case.operation, case.params, case.options)
        local errors, warnings = {}, {}
        for _, is in ipairs(issues) do
          local key = is.path .. " " .. is.rule
          if is.severity == "error" then
            errors[#errors + 1] = key
          else
            warnings[key] = true
          end
        end
        local want = {}
        for _, e in ipairs(case.errors) do want[#want + 1] = e.path .. " " .. e.rule end
        table.sort(errors)
        table.sort(want)
        assert.are.same(want, errors)
        for _, w in ipairs(case.warnings) do
          assert.is_true(warnings[w.path .. " " .. w.rule] == true, "missing warning " .. w.path .. " " .. w.rule)
        end
      end)
    end
  end
end)

describe("artifact fixtures", function()
  local root = "tests/fixtures/artifacts/"
  local cases = decode(read(root .. "cases.json"))
  local tmp

  lazy_setup(function()
    local p = assert(io.popen("mktemp -d"))
    tmp = p:read("*l")
    p:close()
  end)

  lazy_teardown(function()
    if tmp and tmp:match("^/tmp/") then os.execute("rm -rf " .. tmp) end
  end)

  for i, case in ipairs(cases) do
    it(case.file .. ": " .. case.note, function()
      local path = root .. case.file
      local framework = case.framework ~= smneo.null and case.framework or nil
      if case.members == smneo.null then
        local ok, err = pcall(smneo.artifact.inspect, path, { framework = framework })
        assert.is_false(ok)
        assert.are.equal("ArchiveError", err.code)
      else
        local info = smneo.artifact.inspect(path, { framework = framework })
        local got = {}
        for _, m in ipairs(info.members) do got[#got + 1] = { m.name, m.type, m.size } end
        assert.are.same(case.members, got)
        assert.are.equal(case.single_gzip_member, info.single_gzip_member)
        local rules, want = {}, {}
        for _, is in ipairs(info.issues) do rules[#rules + 1] = is.rule end
        for _, r in ipairs(case.rules) do want[#want + 1] = r end
        table.sort(rules)
        table.sort(want)
        assert.are.same(want, rules)
      end
      local dest = tmp .. "/out" .. i
      local ok, err = pcall(smneo.artifact.extract, path, dest)
      if case.extract == "OK" then
        assert.is_true(ok, not ok and err.message or nil)
      else
        assert.is_false(ok)
        assert.are.equal(case.extract == "EUNSAFE" and "UnsafeArchive" or "ArchiveError", err.code)
        assert.is_nil(io.open(dest, "rb"))
      end
    end)
  end
end)

describe("response framing fixtures", function()
  local fx = decode(read("tests/fixtures/protocol/response_framing.json"))

  it("exist", function()
    assert.is_true(#fx.cases >= 10)
  end)

  for _, case in ipairs(fx.cases) do
    it(case.name, function()
      local ok, res = pcall(smneo.parse_response, fx.operation, 200, { ["x-amzn-RequestId"] = "r1" }, case.body)
      if case.ok then
        assert.is_true(ok, tostring(res))
        assert.are.equal("job-1", res.CompilationJobName)
      else
        assert.is_false(ok)
        assert.are.equal("ProtocolError", res.code)
      end
    end)
  end
end)
