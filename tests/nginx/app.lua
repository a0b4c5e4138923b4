-- The locations of tests/nginx/nginx.conf.in: smneo.resty inside nginx.
local smneo = require "smneo.resty"
local safe = require("smneo.safe").wrap(smneo)

local M = {}
local client -- one per worker, shared by concurrent requests

local OPTIONS = {
  -- region and credentials come from the environment (the env directives)
  endpoint_url = os.getenv("SMNEO_TEST_ENDPOINT"),
  max_attempts = 3,
  retry_backoff_scale = 0.01,
  connect_timeout = 5,
  read_timeout = 10,
}

local function get()
  if not client then client = smneo.client(OPTIONS) end
  return client
end

-- a job on the model archive run.sh seeded smneo.local with
local function create_params(name)
  return {
    CompilationJobName = name,
    RoleArn = "arn:aws:iam::123456789012:role/neo",
    InputConfig = { S3Uri = os.getenv("SMNEO_TEST_MODEL_URI"), Framework = "PYTORCH",
                    DataInputConfig = '{"input0": [1, 3, 224, 224]}' },
    OutputConfig = { S3OutputLocation = "s3://models/out/", TargetDevice = "ml_c5" },
    StoppingCondition = { MaxRuntimeInSeconds = 900 },
  }
end

function M.describe()
  local job = get():describe_compilation_job{ CompilationJobName = ngx.var.arg_name or "job-001" }
  ngx.print(job.CompilationJobName, " ", job.CompilationJobStatus, " ", type(job.CreationTime))
end

function M.create()
  local res = get():create_compilation_job(create_params(ngx.var.arg_name))
  ngx.print(res.CompilationJobArn)
end

function M.iter()
  local n, last = 0, nil
  for summary in get():iter_compilation_jobs({}, { page_size = 5 }) do
    n = n + 1
    last = summary.CompilationJobName
  end
  ngx.print(n, " ", last)
end

function M.steps()
  local n = 0
  for _ in get():iter_pipeline_execution_steps({
    PipelineExecutionArn = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/demo/execution/abc123",
  }, { page_size = 4 }) do
    n = n + 1
  end
  ngx.print(n)
end

function M.wait()
  local seen = {}
  local final = get():wait_for_compilation_job(ngx.var.arg_name, {
    delay = 0.05, max_delay = 0.1, timeout = 30,
    callback = function(d) seen[#seen + 1] = d.CompilationJobStatus end,
  })
  ngx.print(final.CompilationJobStatus, " ", table.concat(seen, ","))
end

-- waiter callbacks: false cancels, an error cancels and comes back unchanged
function M.wait_cancel()
  local c = assert(safe.client(OPTIONS))
  local _, e1 = c:wait_for_compilation_job(ngx.var.arg_name, { delay = 0.01, callback = function() return false end })
  local _, e2 = c:wait_for_compilation_job(ngx.var.arg_name, { delay = 0.01, callback = function() error("cb failed", 0) end })
  c:close()
  ngx.print(tostring(e1.code), " ", tostring(e2))
end

function M.error()
  local c = assert(safe.client(OPTIONS))
  local job, err = c:describe_compilation_job{ CompilationJobName = "no-such-job" }
  c:close()
  ngx.print(tostring(job), " ", err.code, " ", err.status, " ", tostring(err.request_id ~= nil))
end

local function with_endpoint(url)
  local o = {}
  for k, v in pairs(OPTIONS) do o[k] = v end
  o.endpoint_url = url
  o.max_attempts = 1
  return o
end

-- credentials from AWS_SHARED_CREDENTIALS_FILE, profile ngx-file
function M.profile()
  local o = with_endpoint(OPTIONS.endpoint_url)
  o.profile_name = "ngx-file"
  local c = smneo.client(o)
  local job = c:describe_compilation_job{ CompilationJobName = "job-004" }
  c:close()
  ngx.print(job.CompilationJobName, " ", job.CompilationJobStatus, " ", type(job.CreationTime))
end

-- HTTPS with verification against lua_ssl_trusted_certificate
function M.tls()
  local c = smneo.client(with_endpoint(os.getenv("SMNEO_TEST_TLS_ENDPOINT")))
  c:create_compilation_job(create_params("ngx-tls-1"))
  local job = c:describe_compilation_job{ CompilationJobName = "ngx-tls-1" }
  c:close()
  ngx.print(job.CompilationJobName, " ", job.CompilationJobStatus, " ", type(job.CreationTime))
end

-- a certificate nobody trusts: refused
function M.tls_rogue()
  local c = assert(safe.client(with_endpoint(os.getenv("SMNEO_TEST_ROGUE_ENDPOINT"))))
  local job, err = c:describe_compilation_job{ CompilationJobName = "job-003" }
  c:close()
  ngx.print(tostring(job), " ", type(err) == "table" and tostring(err.code) or tostring(err))
end

-- the keep-alive pool and verify: a connection opened without checking the
-- certificate (verify = false) is reused by a second verify = false call but
-- never by a verifying client, whose own handshake must fail
function M.tls_pool()
  local o = with_endpoint(os.getenv("SMNEO_TEST_ROGUE_ENDPOINT"))
  o.verify = false
  local insecure = assert(safe.client(o))
  local created = insecure:create_compilation_job(create_params("ngx-pool-1"))
  local a = created and created.CompilationJobArn:match("[^/]+$")
  local b = insecure:describe_compilation_job{ CompilationJobName = "ngx-pool-1" }
  insecure:close()
  local verifying = assert(safe.client(with_endpoint(os.getenv("SMNEO_TEST_ROGUE_ENDPOINT"))))
  local c, err = verifying:describe_compilation_job{ CompilationJobName = "ngx-pool-1" }
  verifying:close()
  ngx.print(a, " ", b and b.CompilationJobName, " ", tostring(c and c.CompilationJobName),
    " ", type(err) == "table" and tostring(err.code) or tostring(err))
end

-- a CA bundle cannot apply to cosockets: refused rather than ignored
function M.ca_bundle()
  local o = with_endpoint(os.getenv("SMNEO_TEST_TLS_ENDPOINT"))
  o.ca_bundle = "/etc/ssl/certs/ca-certificates.crt"
  local c, err = safe.client(o)
  ngx.print(tostring(c), " ", tostring(err.code), " ", tostring(err.message:find("lua_ssl_trusted_certificate", 1, true) ~= nil))
end

-- a compilation job's log over cosockets (a fail fault makes smneo.local
-- fail the job): follow it to the job's end
function M.logs()
  local c = smneo.client(with_endpoint(OPTIONS.endpoint_url))
  local name = ngx.var.arg_name
  c:create_compilation_job{
    CompilationJobName = name, RoleArn = "arn:aws:iam::123456789012:role/neo",
    InputConfig = { S3Uri = "s3://bucket/model.tar.gz", Framework = "PYTORCH",
                    DataInputConfig = '{"input0": [1, 3, 224, 224]}' },
    OutputConfig = { S3OutputLocation = "s3://bucket/out/", TargetDevice = "ml_c5" },
    StoppingCondition = { MaxRuntimeInSeconds = 900 },
  }
  local n, failed = 0, false
  local it, _, _, handle = c:compilation_job_logs{ name = name, follow = true, delay = 0.05, max_delay = 0.2 }
  for ev in it do
    n = n + 1
    failed = failed or ev.message:find("Compilation job " .. name .. " failed", 1, true) ~= nil
  end
  c:close()
  ngx.print(handle:status(), " ", tostring(n >= 3), " ", tostring(failed), " ",
    tostring((handle:warnings()[1] or ""):find("no log yet", 1, true) ~= nil))
end

-- s3://models/big.bin (run.sh put it there) to tmp/big.out under the nginx
-- prefix: "true", whether progress ended at the total, the event count
function M.s3_download()
  local path = ngx.config.prefix() .. "tmp/big.out"
  local last, total, n = 0, -1, 0
  local ok = get():download_file{ filename = path, bucket = "models", key = "big.bin",
    progress = function(done, t) last, total, n = done, t, n + 1 end }
  ngx.print(tostring(ok), " ", tostring(last == total and total > 0), " ", tostring(n >= 2))
end

-- up.bin (run.sh made it, 12 MiB) to s3://models/up.bin in 5 MiB parts,
-- three in flight: "true", whether progress ended at the total, whether a
-- part's bytes were reported before the end
function M.s3_upload()
  local path = ngx.config.prefix() .. "up.bin"
  local last, total, n = 0, -1, 0
  local mib = 1024 * 1024
  local ok = get():upload_file{ filename = path, bucket = "models", key = "up.bin",
    multipart_threshold = 5 * mib, part_size = 5 * mib, concurrency = 3, content_type = "application/x-test",
    progress = function(done, t) last, total, n = done, t, n + 1 end }
  ngx.print(tostring(ok), " ", tostring(last == total and total > 0), " ", tostring(n >= 3))
end

-- upload_file's error paths (issue 14): up.bin (12 MiB, 5 MiB parts) with
-- ?case=
--   nopool  a client whose thread_pool does not exist: the first part's hash
--           (plain HTTP) cannot run off the worker, so the upload fails
--           before any part is sent
--   raise   the progress callback raises once part bytes were sent
-- prints whether upload_file raised, the error's code or text, and whether
-- the error is the original one. run.sh checks the Abort that went out.
local nopool_client
function M.s3_upload_error()
  local case = ngx.var.arg_case
  local c = get()
  if case == "nopool" then
    if not nopool_client then
      local o = {}
      for k, v in pairs(OPTIONS) do o[k] = v end
      o.thread_pool = "no-such-pool"
      nopool_client = smneo.client(o)
    end
    c = nopool_client
  end
  local mib = 1024 * 1024
  local ok, err = pcall(c.upload_file, c, { filename = ngx.config.prefix() .. "up.bin", bucket = "models",
    key = "up-" .. case .. ".bin", multipart_threshold = 5 * mib, part_size = 5 * mib, concurrency = 2,
    progress = function(done)
      if case == "raise" and done > 0 then error("boom from progress", 0) end
    end })
  if type(err) == "table" then
    ngx.print(tostring(ok), " ", tostring(err.code), " ",
      tostring(tostring(err.message):find('thread pool "no-such-pool"', 1, true) ~= nil))
  else
    ngx.print(tostring(ok), " ", tostring(err))
  end
end

function M.validate()
  local issues = smneo.validate("CreateCompilationJob", { CompilationJobName = "x" })
  ngx.print(#issues)
end

-- Credentials shared by the workers (run with two): an assumed role
-- (profile ngx-role, through smneo.local's STS over cosockets) that one
-- worker assumes and the other takes from the lua_shared_dict.
local shared_client
function M.shared()
  if not shared_client then
    shared_client = smneo.client{
      endpoint_url = os.getenv("SMNEO_TEST_ENDPOINT"), region_name = "us-east-1", profile_name = "ngx-role",
      shared_dict = "smneo_creds", max_attempts = 3, retry_backoff_scale = 0.01, connect_timeout = 5,
      read_timeout = 10,
    }
  end
  local out = shared_client:list_compilation_jobs{}
  ngx.print(ngx.worker.pid(), " ", type(out.CompilationJobSummaries))
end

function M.shared_bad()
  local ok, err = pcall(smneo.client, { shared_dict = "nope", region_name = "us-east-1",
                                        aws_access_key_id = "a", aws_secret_access_key = "b" })
  ngx.print(tostring(ok), " ", err.code, " ", tostring(err.message:find("lua_shared_dict nope", 1, true) ~= nil))
end

-- One client per profile (?profile=NAME): each provider of the chain
-- (credential_source EcsContainer / Ec2InstanceMetadata, web identity, SSO)
-- driven over cosockets; the profiles are in run.sh's config2.
local provider_clients = {}
function M.provider()
  local profile = ngx.var.arg_profile
  local c = provider_clients[profile]
  if not c then
    c = smneo.client{
      endpoint_url = os.getenv("SMNEO_TEST_ENDPOINT"), region_name = "us-east-1", profile_name = profile,
      shared_dict = "smneo_creds", max_attempts = 3, retry_backoff_scale = 0.01, connect_timeout = 5,
      read_timeout = 10,
    }
    provider_clients[profile] = c
  end
  local out = c:list_compilation_jobs{}
  ngx.print(profile, " ", type(out.CompilationJobSummaries))
end

-- A connection closed or reset mid-answer (smneo.local's truncate and
-- reset faults): with
-- ?attempts=3 it is retried and the describe succeeds; with ?attempts=1 the
-- error is ConnectionClosed, as the C transport reports it.
function M.closed()
  local o = with_endpoint(OPTIONS.endpoint_url)
  o.max_attempts = tonumber(ngx.var.arg_attempts)
  local c = assert(safe.client(o))
  local job, err = c:describe_compilation_job{ CompilationJobName = "job-001" }
  c:close()
  if job then
    ngx.print(job.CompilationJobName, " ", job.CompilationJobStatus, " ", job.ResponseMetadata.RetryAttempts)
  else
    ngx.print("nil ", tostring(err.code), " ", tostring(err.attempts), " ",
      tostring(err.message:find("closed before the whole response arrived", 1, true) ~= nil))
  end
end

-- The default chain alone (no keys in the environment: the container
-- endpoint or IMDS, whichever the nginx was started with), one client per
-- worker, so credentials about to expire are refreshed by a later request.
local chain_client
function M.chain()
  if not chain_client then
    chain_client = smneo.client{
      endpoint_url = os.getenv("SMNEO_TEST_ENDPOINT"), region_name = "us-east-1", max_attempts = 3,
      retry_backoff_scale = 0.01, connect_timeout = 5, read_timeout = 10,
    }
  end
  local out = chain_client:list_compilation_jobs{}
  ngx.print(ngx.worker.pid(), " ", type(out.CompilationJobSummaries))
end

-- compile{} over cosockets, ngx.sleep and the thread pool: the example
-- model for a cloud and an edge target, with the events each saw first
local ROOT = package.searchpath("app", package.path):gsub("/tests/nginx/app%.lua$", "")

local function compile_options(model, target, prefix)
  local o = { model = model, framework = "PYTORCH", role_arn = "arn:aws:iam::123456789012:role/neo",
              s3_bucket = "models", s3_prefix = prefix, data_input_config = '{"input0": [1, 3, 224, 224]}',
              output_dir = ngx.config.prefix() .. "compiled/" .. target, delay = 0.05, max_delay = 0.1,
              timeout = 60 }
  if target == "ml_c5" then o.target_device = target else o.target_os, o.target_arch = "LINUX", "ARM64" end
  return o
end

function M.compile()
  local out = {}
  for _, target in ipairs{ "ml_c5", "LINUX_ARM64" } do
    local seen, order, progress = {}, {}, 0
    local o = compile_options(ROOT .. "/examples/model", target, "ngx-compile")
    o.callback = function(ev)
      if ev.kind == "PACK" or ev.kind == "UPLOAD" or ev.kind == "DOWNLOAD" then progress = progress + 1 end
      if not seen[ev.kind] and ev.kind ~= "WARNING" and ev.kind ~= "WAITING" then
        seen[ev.kind] = true
        order[#order + 1] = ev.kind
      end
    end
    local r = get():compile(o)
    out[#out + 1] = table.concat({ target, r.job.CompilationJobStatus, tostring(r.digest_verified),
                                   tostring(progress > 0), table.concat(order, ",") }, " ")
  end
  ngx.print(table.concat(out, "\n"))
end

-- compile_big?model=DIR[&prefix=P&cancel=1]: one compile of a bigger model
-- (its WORK steps take a while; its archive is over the 64 MiB multipart
-- threshold); /probe says whether it is running when it answers. The
-- machine's steps are counted through a wrapper of the work client's
-- _compile: "COMPLETED work=2 transfer=true upload=true hashes=N" when the
-- upload came as transfer steps (driven over cosockets), only the
-- preparation and the download were the machine's work steps, and the
-- upload's N payload hashes (plain HTTP) were the transfer's work steps. cancel=1: the callback returns false at the
-- first UPLOAD event with bytes sent: the error's code and whether its
-- message names the upload.
function M.compile_big()
  local dict = ngx.shared.smneo_test
  local c = get()
  if not c._wc then c._wc = c._work_client() end
  local wc, counts, hashes = c._wc, { work = 0, transfer = 0 }, 0
  local function forward(obj) return { __index = function(_, k) return function(_, ...) return obj[k](obj, ...) end end } end
  c._wc = setmetatable({ _compile = function(_, o, transfers)
    local call = wc:_compile(o, transfers)
    return setmetatable({ next = function(_, ...)
      local kind, a, b, d, e = call:next(...)
      if counts[kind] then counts[kind] = counts[kind] + 1 end
      if kind == "transfer" then -- its work steps (the parts' hashes) counted too
        local x = a
        local function count(step, ...)
          if step == "work" then hashes = hashes + 1 end
          return step, ...
        end
        a = setmetatable({ next = function(_, ...) return count(x:next(...)) end }, forward(x))
      end
      return kind, a, b, d, e
    end }, forward(call))
  end }, { __index = function(_, k) return function(_, ...) return wc[k](wc, ...) end end })
  local uploads = 0
  local o = compile_options(ngx.var.arg_model, "ml_c5", ngx.var.arg_prefix or "ngx-big")
  o.callback = function(ev)
    if ev.kind == "UPLOAD" and ev.done > 0 then
      uploads = uploads + 1
      if ngx.var.arg_cancel then return false end
    end
  end
  dict:set("compiling", true)
  local ok, r, e = pcall(c.compile, c, o)
  dict:delete("compiling")
  c._wc = wc
  if ok and not r then ok, r = false, e end
  if not ok then
    ngx.print(tostring(r and r.code or r), " ", tostring(r and r.message and r.message:find("^upload: ") ~= nil),
              " transfer=", tostring(counts.transfer > 0), " upload=", tostring(uploads > 0))
    return
  end
  ngx.print(r.job.CompilationJobStatus, " work=", counts.work, " transfer=", tostring(counts.transfer > 0),
            " upload=", tostring(uploads > 0), " hashes=", hashes)
end

-- compile_many_big?model=DIR: compile_many of three jobs on that model (one
-- pack and upload, three jobs, three downloads); /probe as for compile_big
function M.compile_many_big()
  local dict = ngx.shared.smneo_test
  dict:set("compiling", true)
  local ok, rows, all = pcall(get().compile_many, get(), {
    jobs = { { target_device = "ml_c5" }, { target_device = "ml_m5" }, { target_os = "LINUX", target_arch = "ARM64" } },
    model = ngx.var.arg_model, framework = "PYTORCH", role_arn = "arn:aws:iam::123456789012:role/neo",
    s3_bucket = "models", s3_prefix = "ngx-big-many", data_input_config = '{"input0": [1, 3, 224, 224]}',
    output_dir = ngx.config.prefix() .. "big-many", delay = 0.05, max_delay = 0.1, timeout = 60 })
  dict:delete("compiling")
  ngx.print(ok and (all and "COMPLETED" or rows[1].compilation_job_status) or tostring(rows and rows.message or rows))
end

function M.probe()
  ngx.print(ngx.shared.smneo_test:get("compiling") and "compiling" or "idle")
end

-- compile_default_bucket: a compile given no bucket finds (and here creates)
-- sagemaker-{region}-{account}; its requests are the machine's SEND steps,
-- sent over this request's cosockets (recorded here), not from a work step
function M.compile_default_bucket()
  local c = smneo.client(OPTIONS)
  local sent = {}
  c._step_send = function(self, call, method, url, headers, body)
    local path = url:match("^https?://[^/]+(/[^?]*)") or "/"
    if body and body:find("Action=GetCallerIdentity", 1, true) then
      sent[#sent + 1] = "GetCallerIdentity"
    elseif path:match("^/sagemaker%-[%w-]+$") then
      sent[#sent + 1] = (method == "HEAD" and "HeadBucket" or method == "PUT" and "CreateBucket" or method)
    end
    return getmetatable(self).__index._step_send(self, call, method, url, headers, body)
  end
  local o = compile_options(ROOT .. "/examples/model", "ml_c5", "ngx-default-bucket")
  o.s3_bucket = nil
  local r = c:compile(o)
  c:close()
  ngx.print(r.job.CompilationJobStatus, " ", r.input_uri:match("^s3://([^/]+)/"), " ", table.concat(sent, ","))
end

-- the callback's false and error cancel compile; no thread pool is a clear error
function M.compile_cancel()
  local c = assert(safe.client(OPTIONS))
  local o = compile_options(ROOT .. "/examples/model", "ml_c5", "ngx-cancel")
  o.callback = function(ev) return ev.kind ~= "PACKED" end
  local _, e1 = c:compile(o)
  o.callback = function(ev) if ev.kind == "CREATED" then error("cb failed", 0) end end
  local _, e2 = c:compile(o)
  local opts = {}
  for k, v in pairs(OPTIONS) do opts[k] = v end
  opts.thread_pool = "no-such-pool"
  local nc = assert(safe.client(opts))
  local _, e3 = nc:compile(compile_options(ROOT .. "/examples/model", "ml_c5", "ngx-cancel"))
  nc:close()
  c:close()
  ngx.print(tostring(e1.code), " ", tostring(e1.message:find("pack: cancelled", 1, true) ~= nil), " ",
            tostring(e2), " ", tostring(e3.code), " ", tostring(e3.message:find("thread_pool no-such-pool", 1, true) ~= nil))
end

-- compile_parity?case=ok|fail|bad_target|no_model&side=ngx&out=DIR: one compile
-- as tests/nginx/compile_parity.py runs it through Python's smneo.Client.compile; JSON
-- of its outcome (the error's kind, code and message), its events' kinds
-- (WAITING and LOG left out, repeats of a kind in a row counted once) and its
-- LOG events' lines
local PARITY_CASES = {
  ok = {},
  fail = {},
  bad_target = { target_device = "ml_nope" },
  no_model = { model = "/nonexistent/parity-model" },
  cancel = {}, -- the callback returns false at CREATED: the job is stopped
  logs = { follow_logs = true },
  multipart = { model = ngx.config.prefix() .. "bigmodel" }, -- over the multipart threshold
  upload_denied = { model = ngx.config.prefix() .. "bigmodel" }, -- every S3 PUT denied (run.sh)
}

-- compile_many over cosockets and the thread pool: three jobs of the example
-- model, two at once, ml_c4's failing (run.sh sets the fault); each row and
-- each job's events; then a run cancelled at its first CREATED
function M.compile_many()
  local function run(prefix, cancel)
    local seen = {}
    local rows, ok = get():compile_many{
      jobs = { { target_device = "ml_c5" }, { target_device = "ml_c4" }, { target_device = "ml_m5" } },
      model = ROOT .. "/examples/model", framework = "PYTORCH", role_arn = "arn:aws:iam::123456789012:role/neo",
      s3_bucket = "models", s3_prefix = prefix, data_input_config = '{"input0": [1, 3, 224, 224]}',
      output_dir = ngx.config.prefix() .. prefix, delay = 0.05, max_delay = 0.1, timeout = 60, max_concurrent = 2,
      callback = function(ev)
        if ev.job and ev.kind ~= "WAITING" and ev.kind ~= "WARNING" and ev.kind ~= "PACK" and ev.kind ~= "UPLOAD"
          and ev.kind ~= "DOWNLOAD" then
          local k = seen[ev.job] or {}
          seen[ev.job] = k
          if k[#k] ~= ev.kind then k[#k + 1] = ev.kind end
        end
        if cancel and ev.kind == "CREATED" then return false end
      end }
    local out = { tostring(ok) }
    for i, row in ipairs(rows) do
      out[#out + 1] = table.concat({ row.target, row.compilation_job_status, tostring(row.digest_verified),
        tostring(row.diagnosis ~= nil), tostring(row.stopped_by_smneo), table.concat(seen[i] or {}, ",") }, " ")
    end
    return table.concat(out, "\n")
  end
  ngx.print(run("ngx-many", false), "\n--\n", run("ngx-many-cancel", true))
end

-- JSON of strings, booleans, arrays of strings and objects of those (no cjson in nginx-extras)
local function to_json(v)
  if type(v) == "string" then
    return '"' .. v:gsub('[%c"\\]', function(ch) return string.format("\\u%04x", ch:byte()) end) .. '"'
  elseif type(v) == "table" and v[1] ~= nil or (type(v) == "table" and next(v) == nil) then
    local parts = {}
    for i, x in ipairs(v) do parts[i] = to_json(x) end
    return "[" .. table.concat(parts, ",") .. "]"
  elseif type(v) == "table" then
    local parts = {}
    for k, x in pairs(v) do parts[#parts + 1] = to_json(tostring(k)) .. ":" .. to_json(x) end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  return tostring(v)
end

function M.compile_parity()
  local case = ngx.var.arg_case
  local o = compile_options(ROOT .. "/examples/model", "ml_c5", "parity-" .. case .. "-ngx")
  o.output_dir = ngx.unescape_uri(ngx.var.arg_out)
  o.job_name = "parity-" .. case
  for k, v in pairs(assert(PARITY_CASES[case], "case")) do o[k] = v end
  local kinds, lines = {}, {}
  o.callback = function(ev)
    if ev.kind == "LOG" then
      lines[#lines + 1] = ev.message
    elseif ev.kind ~= "WAITING" and kinds[#kinds] ~= ev.kind then
      kinds[#kinds + 1] = ev.kind
    end
    return not (case == "cancel" and ev.kind == "CREATED")
  end
  local c = assert(safe.client(OPTIONS))
  local r, e = c:compile(o)
  c:close()
  local out = { events = kinds, log = lines }
  if r then
    out.status = r.job.CompilationJobStatus
    out.digest_verified = r.digest_verified
    out.artifact_path = r.artifact_path
    out.job_name = r.job_name
  else
    out.error = { kind = e.kind, code = e.code, message = e.message }
    if e.issues then
      local issues = {}
      for i, is in ipairs(e.issues) do
        issues[i] = table.concat({ is.severity, is.path, is.rule, is.message }, "|")
      end
      out.error.issues = issues
    end
  end
  ngx.print(to_json(out))
end

return M
