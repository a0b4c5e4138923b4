-- client:compile{...} (smneo_compile) against smneo.local: the whole flow to
-- a verified artifact, events, reuse of an uploaded archive, cancel, errors.
local smneo = require "smneo"
local safe = require "smneo.safe"
local S = require "tests.lua.helpers.server"

local ROLE = "arn:aws:iam::123456789012:role/NeoRole"

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("*a")
  p:close()
  return out
end

local function isdir(path)
  return sh("test -d '" .. path .. "' && echo yes") == "yes\n"
end

describe("client:compile", function()
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

  local function base(extra)
    local o = { model = tmp .. "/resnet", framework = "PYTORCH", role_arn = ROLE, s3_bucket = "models",
                target_device = "ml_c5", data_input_config = { input0 = { 1, 4 } }, delay = 0.1 }
    for k, v in pairs(extra or {}) do o[k] = v end
    return o
  end

  it("packs, uploads, compiles, waits, downloads and verifies", function()
    local events, statuses = {}, {}
    local r = client:compile(base{
      framework_version = "1.8", output_dir = tmp .. "/out", extract = true,
      callback = function(ev)
        events[ev.kind] = ev
        if ev.kind == "STATUS" then statuses[#statuses + 1] = ev.description.CompilationJobStatus end
      end,
    })
    assert.are.equal("COMPLETED", r.job.CompilationJobStatus)
    assert.are.equal("number", type(r.job.CreationTime))
    assert.is_true(r.digest_verified)
    assert.are.equal(r.job.ModelDigests.ArtifactDigest, smneo.artifact.digest(r.artifact_path))
    assert.is_true(isdir(r.extracted_dir))
    assert.truthy(r.input_uri:match("^s3://models/"))
    assert.is_string(r.job_name)
    assert.are.equal(smneo.array_mt, getmetatable(r.issues))
    for _, k in ipairs{ "PACKED", "UPLOADED", "CREATED", "STATUS", "VERIFIED" } do
      assert.truthy(events[k], "event " .. k)
    end
    assert.are.equal(r.job_name, events.CREATED.message)
    assert.are.equal("COMPLETED", statuses[#statuses])

    -- the same model again (data_input_config as JSON text): the upload is skipped
    local uploaded
    client:compile(base{ data_input_config = '{"input0": [1, 4]}', output_dir = tmp .. "/out2",
      callback = function(ev) if ev.kind == "UPLOADED" then uploaded = ev.message end end })
    assert.truthy(uploaded:find("already", 1, true))
  end)

  it("delivers the events of a multipart upload's parallel parts to the callback, in order", function()
    -- above the 64 MiB multipart threshold: two parts sent from two threads
    local big = tmp .. "/big"
    assert(os.execute("mkdir -p " .. big .. " && cp " .. srv.root .. "/examples/model/model.pt " .. big ..
      "/ && head -c 70000000 /dev/urandom > " .. big .. "/weights.bin"))
    local kinds, uploads, last_done, ordered = {}, {}, -1, true
    local r = client:compile(base{ model = big, output_dir = tmp .. "/out-big",
      callback = function(ev)
        if kinds[#kinds] ~= ev.kind then kinds[#kinds + 1] = ev.kind end
        if ev.kind == "UPLOAD" then
          uploads[#uploads + 1] = ev
          if ev.done < last_done then ordered = false end
          last_done = ev.done
        end
      end })
    assert.are.equal("COMPLETED", r.job.CompilationJobStatus)
    assert.is_true(#uploads > 0)
    assert.is_true(ordered)
    local final = uploads[#uploads]
    assert.is_true(final.total > 64 * 1048576)
    assert.are.equal(final.total, final.done) -- the last part's progress, whichever thread sent it
    local seq = table.concat(kinds, ",")
    assert.truthy(seq:find("PACKED,.*UPLOAD,UPLOADED,CREATED,STATUS", 1), seq)
    os.execute("rm -rf " .. big .. " " .. tmp .. "/out-big")
  end)

  it("is a step machine for other drivers: work steps by id, events, then the API calls", function()
    local call = client:_compile(base{ output_dir = tmp .. "/o-steps" })
    local kind, id = call:next()
    assert.are.equal("work", kind)
    assert.is_number(id)
    local ok, err = pcall(call.next, call) -- the work has not run
    assert.is_false(ok)
    assert.truthy(err.message:find("smneo._work(" .. id .. ")", 1, true))
    assert.is_true(smneo._work(id)) -- as a worker thread's Lua state runs it
    local again, msg = smneo._work(id)
    assert.is_nil(again)
    assert.truthy(msg:find("no work step", 1, true))
    local seen, works, send = {}, 1, nil
    while true do
      local k, a, b, c = call:next()
      if k == "work" then
        works = works + 1
        call:work()
      elseif k == "event" then
        assert.are.equal("compile", a)
        seen[#seen + 1] = b.kind
      elseif k == "send" then
        send = c
        break
      else
        error("unexpected step " .. tostring(k))
      end
    end
    assert.are.equal(2, works) -- prepare, upload
    local order = table.concat(seen, ",")
    assert.truthy(order:find("^PACK,.*PACKED,.*UPLOADED$"), order)
    assert.are.equal("SageMaker.CreateCompilationJob", send["X-Amz-Target"])
    call:close() -- half-way: nothing leaks (valgrind pass)
  end)

  it("cancels when the callback returns false, stopping the job", function()
    local ok, err = pcall(client.compile, client, base{ output_dir = tmp .. "/o1",
      callback = function(ev) return ev.kind ~= "STATUS" end })
    assert.is_false(ok)
    assert.are.equal("Cancelled", err.code)
    local jobs = client:list_compilation_jobs{ SortBy = "CreationTime", SortOrder = "Descending" }
    local st = jobs.CompilationJobSummaries[1].CompilationJobStatus
    assert.truthy(st == "STOPPING" or st == "STOPPED", st)
  end)

  it("re-raises the callback's own error after the flow stopped", function()
    local marker = setmetatable({}, { __tostring = function() return "marker" end })
    local ok, err = pcall(client.compile, client, base{ output_dir = tmp .. "/o2",
      callback = function(ev) if ev.kind == "CREATED" then error(marker) end end })
    assert.is_false(ok)
    assert.are.equal(marker, err)
    local r, serr = safe.client{ region_name = "us-east-1", endpoint_url = srv.url,
                                 aws_access_key_id = "test", aws_secret_access_key = "test" }
      :compile(base{ output_dir = tmp .. "/o3", callback = function() error("from safe", 0) end })
    assert.is_nil(r)
    assert.are.equal("from safe", serr)
  end)

  it("lets the callback close the client: the flow finishes, then the client refuses calls", function()
    -- close() inside the callback used to free the core client under smneo_compile
    local own = smneo.client{ region_name = "us-east-1", endpoint_url = srv.url,
                              aws_access_key_id = "test", aws_secret_access_key = "test" }
    local closed_at
    local r = own:compile(base{ output_dir = tmp .. "/o-closed", callback = function(ev)
      if not closed_at then closed_at = ev.kind; own:close() end
      collectgarbage()
    end })
    assert.truthy(closed_at)
    assert.are.equal("COMPLETED", r.job.CompilationJobStatus)
    assert.is_true(r.digest_verified)
    assert.are.equal("smneo.client (closed)", tostring(own))
    local ok, err = pcall(own.describe_compilation_job, own, { CompilationJobName = r.job_name })
    assert.is_false(ok)
    assert.are.equal("InvalidArgument", err.code)
    assert.truthy(err.message:find("closed", 1, true))
  end)

  it("refuses incomplete or invalid requests before uploading", function()
    local ok, err = pcall(client.compile, client, { model = tmp .. "/resnet" })
    assert.is_false(ok)
    assert.are.equal("InvalidArgument", err.code)
    assert.truthy(err.message:find("role_arn", 1, true))
    ok, err = pcall(client.compile, client, base{ target_device = "ml_c55", output_dir = tmp .. "/o4" })
    assert.is_false(ok)
    assert.are.equal("ValidationError", err.code)
    ok, err = pcall(client.compile, client, base{ modle = "x" })
    assert.is_false(ok)
    assert.truthy(err.message:find("modle", 1, true))
  end)
end)
