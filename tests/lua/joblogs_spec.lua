-- client:compilation_job_logs{...} (smneo/joblogs.h) and the log on a FAILED
-- client:compile against smneo.local: a completed job's log, start_time and
-- tail, follow to the job's end, no log yet, AccessDenied as a warning that
-- leaves the failure and its diagnosis intact.
local smneo = require "smneo"
local S = require "tests.lua.helpers.server"

local ROLE = "arn:aws:iam::123456789012:role/NeoRole"

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("*a")
  p:close()
  return out
end

describe("compilation_job_logs", function()
  local srv, client, tmp

  lazy_setup(function()
    srv = S.start_local()
    client = smneo.client{ region_name = "us-east-1", endpoint_url = srv.url,
                           aws_access_key_id = "test", aws_secret_access_key = "test" }
    tmp = sh("mktemp -d"):gsub("%s+$", "")
    assert(os.execute("mkdir -p " .. tmp .. "/resnet && cp " .. srv.root .. "/examples/model/model.pt " .. tmp .. "/resnet/"))
  end)

  lazy_teardown(function()
    if client then client:close() end
    if srv then srv:stop() end
    if tmp and tmp:match("^/tmp/") then os.execute("rm -rf " .. tmp) end
  end)

  local function post(path, json)
    local f = assert(io.open(tmp .. "/body.json", "wb"))
    f:write(json)
    f:close()
    return sh("curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @" .. tmp .. "/body.json " ..
      srv.url .. path)
  end

  local function base(extra)
    local o = { model = tmp .. "/resnet", framework = "PYTORCH", role_arn = ROLE, s3_bucket = "models",
                target_device = "ml_c5", data_input_config = { input0 = { 1, 4 } }, delay = 0.05 }
    for k, v in pairs(extra or {}) do o[k] = v end
    return o
  end

  local function collect(opts)
    local out = {}
    local it, _, _, handle = client:compilation_job_logs(opts)
    for ev in it do out[#out + 1] = ev end
    return out, handle
  end

  it("reads a completed job's log: every stream, in time order, start_time, tail", function()
    local r = client:compile(base{ output_dir = tmp .. "/out" })
    assert.are.same({}, r.logs or {})
    local events, handle = collect{ name = r.job_name }
    assert.is_true(#events >= 5)
    assert.are.same({}, handle:warnings())
    local streams = {}
    for i, ev in ipairs(events) do
      assert.are.equal("number", type(ev.timestamp))
      assert.are.equal("string", type(ev.message))
      if i > 1 then assert.is_true(ev.timestamp >= events[i - 1].timestamp) end
      streams[ev.stream] = true
    end
    assert.is_true(streams[r.job_name])
    assert.is_true(streams[r.job_name .. "/compilation"])
    assert.truthy(events[#events].message:find("completed", 1, true) or events[#events - 1].message:find("completed", 1, true))
    -- the same lines as the server's own view
    local view = sh("curl -s '" .. srv.url .. "/_smneo/logs?job=" .. r.job_name .. "'")
    local n = 0
    for _ in view:gmatch('"message"') do n = n + 1 end
    assert.are.equal(n, #events)
    local mid = events[math.floor(#events / 2) + 1].timestamp
    local later = collect{ name = r.job_name, start_time = mid }
    assert.is_true(#later < #events and #later > 0)
    for _, ev in ipairs(later) do assert.is_true(ev.timestamp >= mid) end
    local tail = collect{ name = r.job_name, tail = 2 }
    assert.are.same({ events[#events - 1], events[#events] }, tail)
  end)

  it("follows a job to its end and warns that there is no log yet", function()
    assert.are.equal("200", post("/_smneo/settings", '{"job_duration": 1.5}'))
    assert.are.equal("200", post("/_smneo/faults",
      '{"kind":"fail","job":"lua-follow","failure":"unsupported-operator","params":{"operators":"aten::frobnicate"}}'))
    local p = S.create_params("lua-follow")
    p.InputConfig.S3Uri = "s3://models/in/model.tar.gz"
    p.InputConfig.FrameworkVersion = nil
    p.OutputConfig = { S3OutputLocation = "s3://models/out", TargetDevice = "ml_c5" }
    client:create_compilation_job(p)
    local events, handle = collect{ name = "lua-follow", follow = true, delay = 0.05, max_delay = 0.2 }
    post("/_smneo/settings", '{"job_duration": 0.3}')
    assert.are.equal("FAILED", handle:status())
    assert.truthy(handle:warnings()[1]:find("no log yet", 1, true))
    local found = false
    for _, ev in ipairs(events) do found = found or ev.message:find("frobnicate", 1, true) ~= nil end
    assert.is_true(found)
    local d = smneo.explain(client:describe_compilation_job{ CompilationJobName = "lua-follow" }, events)
    assert.are.equal("operator-not-implemented", d.id)
  end)

  it("answers no log with a warning, and refuses bad options", function()
    local events, handle = collect{ name = "lua-never-created" }
    assert.are.same({}, events)
    assert.truthy(handle:warnings()[1]:find("no log yet", 1, true))
    assert.has_error(function() client:compilation_job_logs{} end)
    assert.has_error(function() client:compilation_job_logs{ name = "x", follow = true, tail = 2 } end)
    assert.has_error(function() client:compilation_job_logs{ name = "x", bogus = 1 } end)
  end)

  it("a FAILED compile carries the log's last lines and the diagnosis; AccessDenied leaves them intact", function()
    assert.are.equal("200", post("/_smneo/faults",
      '{"kind":"fail","job":"resnet-*","failure":"pytorch-model-count","count":2}'))
    local log_lines = 0
    local ok, err = pcall(client.compile, client, base{ follow_logs = true, callback = function(ev)
      if ev.kind == "LOG" then log_lines = log_lines + 1 end
    end })
    assert.is_false(ok)
    assert.are.equal("JobFailed", err.code)
    assert.is_true(log_lines >= 3)
    assert.is_true(#err.logs >= 3 and #err.logs <= 50)
    assert.are.equal("pytorch-model-files", err.diagnosis.id)
    assert.truthy(tostring(err.diagnosis):find("Fix", 1, true))
    assert.are.equal("200", post("/_smneo/faults", '{"kind":"deny","target":"logs","rate":1}'))
    ok, err = pcall(client.compile, client, base())
    sh("curl -s -X DELETE " .. srv.url .. "/_smneo/faults")
    assert.is_false(ok)
    assert.truthy(err.message:find("ClientError", 1, true))
    assert.are.same({}, err.logs)
    assert.are.equal("pytorch-model-files", err.diagnosis.id)
    assert.are.equal("FailureReason", err.diagnosis.evidence_source)
    local warned = false
    for _, is in ipairs(err.issues) do warned = warned or (is.message:find("AccessDeniedException", 1, true) ~= nil) end
    assert.is_true(warned)
  end)
end)

-- The step-driven reader (what smneo.resty drives), without a network: the
-- spec plays the transport and feeds canned CloudWatch Logs answers.
describe("the job log reader's steps", function()
  local JSON = { ["Content-Type"] = "application/x-amz-json-1.1", ["x-amzn-RequestId"] = "rid-1" }
  local function new_client()
    return smneo.client{ region_name = "us-east-1", endpoint_url = "https://logs.test.invalid",
                         aws_access_key_id = "AKIDEXAMPLE", aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                         no_transport = true, max_attempts = 1 }
  end

  it("lists the job's streams, reads each to the unchanged token and merges them in time order", function()
    local c = new_client()
    local r = c:_job_logs{ name = "job-1" }
    local kind, method, url, headers, body = r:next()
    assert.are.equal("send", kind)
    assert.are.equal("POST", method)
    assert.are.equal("https://logs.test.invalid/", url)
    assert.are.equal("Logs_20140328.DescribeLogStreams", headers["X-Amz-Target"])
    assert.truthy(headers.Authorization:find("/logs/aws4_request", 1, true))
    assert.truthy(body:find('"logStreamNamePrefix":"job-1"', 1, true))
    assert.has_error(function() r:next() end) -- must feed first
    r:feed(200, JSON, '{"logStreams":[{"logStreamName":"job-1"},{"logStreamName":"job-1/compilation"},' ..
      '{"logStreamName":"job-10"}]}')
    local answers = {
      ["job-1"] = { '{"events":[{"timestamp":1000,"message":"a"},{"timestamp":3000,"message":"c"}],' ..
                    '"nextForwardToken":"f/1","nextBackwardToken":"b/0"}',
                    '{"events":[],"nextForwardToken":"f/1","nextBackwardToken":"b/0"}' },
      ["job-1/compilation"] = { '{"events":[{"timestamp":2000,"message":"b"}],"nextForwardToken":"f/2",' ..
                                '"nextBackwardToken":"b/0"}',
                                '{"events":[],"nextForwardToken":"f/2","nextBackwardToken":"b/0"}' },
    }
    local seen, lines = {}, {}
    while true do
      local k, a, b, h, bd = r:next()
      if k == "send" then
        assert.are.equal("Logs_20140328.GetLogEvents", h["X-Amz-Target"])
        local stream = bd:match('"logStreamName":"([^"]+)"')
        assert.truthy(bd:find('"startFromHead":true', 1, true))
        assert.are_not.equal("job-10", stream) -- another job's stream
        seen[stream] = (seen[stream] or 0) + 1
        r:feed(200, JSON, answers[stream][seen[stream]])
      elseif k == "event" then
        assert.are.equal("log", a)
        lines[#lines + 1] = b.message .. "@" .. string.format("%.3f", b.timestamp) .. "@" .. b.stream
      else
        assert.are.equal("done", k)
        assert.is_true(a)
        break
      end
    end
    assert.are.same({ "a@1.000@job-1", "b@2.000@job-1/compilation", "c@3.000@job-1" }, lines)
    assert.are.same({ ["job-1"] = 2, ["job-1/compilation"] = 2 }, seen)
    assert.has_error(function() r:next() end) -- finished
    r:close()
    c:close()
  end)

  it("turns AccessDeniedException into a warning and a normal end", function()
    local c = new_client()
    local r = c:_job_logs{ name = "job-1" }
    assert.are.equal("send", (r:next()))
    r:feed(400, JSON, '{"__type":"AccessDeniedException","message":"User: arn:aws:iam::1:user/x is not authorized"}')
    local k, a, b = r:next()
    assert.are.equal("event", k)
    assert.are.equal("warning", a)
    assert.truthy(b:find("AccessDeniedException", 1, true) and b:find("logs:GetLogEvents", 1, true))
    assert.are.equal("done", (r:next()))
    assert.truthy(r:warnings()[1]:find("AccessDeniedException", 1, true))
    r:close()
    -- a transport error is the reader's error
    r = c:_job_logs{ name = "job-1" }
    assert.are.equal("send", (r:next()))
    r:feed_error("ConnectionError", "refused")
    local done, ok, err = r:next()
    assert.are.equal("done", done)
    assert.is_nil(ok)
    assert.are.equal("ConnectionError", err.code)
    c:close()
  end)
end)
