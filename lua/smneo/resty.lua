-- smneo.resty: the smneo client API for OpenResty / ngx_lua.
--
-- The C core still does everything about AWS (validation, signing, retries
-- with their quota, pagination, the waiter); this file only moves bytes: it
-- drives the core's call steps, sending with ngx.socket.tcp (keep-alive pool,
-- TLS with verification) and sleeping with ngx.sleep, so a call never blocks
-- the nginx worker. The libcurl transport is never created here.
--
--   local smneo = require "smneo.resty"
--   local client = smneo.client{ region_name = "us-east-1" }
--   local job = client:describe_compilation_job{ CompilationJobName = "resnet" }
--
-- Extra client options (besides those of smneo.client):
--   keepalive_timeout  idle time of pooled connections, ms (default 60000)
--   keepalive_pool     connections kept per host (default 32)
--   shared_dict        name of a lua_shared_dict: the workers share the
--                      credentials the chain resolves (an assumed role is
--                      assumed by one worker, not by each); docs/lua.md
--   thread_pool        nginx thread pool (the `thread_pool` directive) where
--                      compile() runs its CPU-bound and blocking work and
--                      upload_file() its part hashes over plain HTTP
--                      (default "smneo")
-- connect_timeout / read_timeout (seconds, default 60) and verify (default
-- true) apply to the cosockets; the trust store is nginx's
-- lua_ssl_trusted_certificate, so ca_bundle is refused.
local smneo = require "smneo"

local ngx = ngx
local M = {}
for k, v in pairs(smneo) do M[k] = v end

local Client = {}
Client.__index = Client

local RESTY_ONLY = { keepalive_timeout = true, keepalive_pool = true, shared_dict = true, thread_pool = true }

-- ---- credentials shared by the workers (shared_dict) ----------------------
-- The dict holds "smneo:creds:PROFILE" -> the credentials (fields joined by
-- NUL; the core refuses control characters in them) and, while one worker
-- refreshes them, "smneo:lock:PROFILE" -> its pid (30 s at most). The core
-- decides what is fresh (its refresh windows) through _credentials().
local SEP = "\0"
local LOCK_TTL = 30   -- a refresher that died does not block the others longer
local WAIT_S = 10     -- the others wait this long for it, then resolve themselves

local function encode_creds(t)
  return table.concat({ t.access_key_id, t.secret_access_key, t.session_token or "",
                        tostring(t.expiration or 0), t.source or "" }, SEP)
end

local function decode_creds(v)
  local parts, start = {}, 1
  for _ = 1, 4 do
    local i = v:find(SEP, start, true)
    if not i then return nil end
    parts[#parts + 1] = v:sub(start, i - 1)
    start = i + 1
  end
  parts[5] = v:sub(start)
  return { access_key_id = parts[1], secret_access_key = parts[2],
           session_token = parts[3] ~= "" and parts[3] or nil,
           expiration = tonumber(parts[4]) or 0, source = parts[5] }
end

-- Before a call: seeds the client's chain from the dict; returns true when
-- this worker holds the lock and must store what the call resolves.
local function share_before(self)
  local dict = self._dict
  if not dict then return false end
  local _, state = self._c:_credentials(true)
  if state == 2 then return false end
  local deadline = ngx.now() + WAIT_S
  while true do
    local v = dict:get(self._dict_key)
    local t = v and decode_creds(v)
    if t then
      self._c:_seed_credentials(t)
      local _, st = self._c:_credentials(true)
      if st == 2 then return false end
    end
    if dict:add(self._lock_key, ngx.worker.pid(), LOCK_TTL) then return true end
    if ngx.now() >= deadline then return false end
    ngx.sleep(0.05)
  end
end

-- After the call of the worker that held the lock: stores the credentials
-- (the old value overwritten with zeros first: shared memory of the same
-- size is rewritten in place) and lets the others go.
local function share_after(self, refreshing)
  if not refreshing then return end
  local dict = self._dict
  local t, state = self._c:_credentials()
  if t and state >= 1 then
    local old = dict:get(self._dict_key)
    if old then dict:replace(self._dict_key, string.rep("\0", #old)) end
    local ttl = (t.expiration or 0) > 0 and t.expiration - ngx.time() or 0
    if ttl >= 0 then dict:set(self._dict_key, encode_creds(t), ttl) end
  end
  dict:delete(self._lock_key)
end

local function parse_url(url)
  local scheme, hostport, path = url:match("^(%a[%w+.-]*)://([^/?#]+)(.*)$")
  if not scheme then return nil, "not an absolute URL: " .. url end
  scheme = scheme:lower()
  if scheme ~= "http" and scheme ~= "https" then return nil, "unsupported URL scheme " .. scheme end
  if path == "" then path = "/" end
  local host, port = hostport:match("^%[(.+)%]:(%d+)$")
  if not host then host = hostport:match("^%[(.+)%]$") end
  if not host then host, port = hostport:match("^(.-):(%d+)$") end
  if not host then host = hostport end
  port = tonumber(port) or (scheme == "https" and 443 or 80)
  return { scheme = scheme, host = host, port = port, path = path }
end

local function classify(err)
  err = tostring(err or "")
  if err:find("timeout", 1, true) then return "Timeout" end
  if err:find("resolve", 1, true) or err:find("resolver", 1, true) then return "DNSError" end
  return "ConnectionError"
end

-- A failure once the connection was up, named as the C transport names it:
-- a timeout is Timeout; the peer closing or resetting the connection before
-- the whole answer arrived is ConnectionClosed (retried as the other
-- drivers retry it); a malformed answer stays ConnectionError. Returns the
-- error code and the message.
local function after_connect(err, sent, started, host)
  err = tostring(err or "")
  if err:find("timeout", 1, true) then
    return "Timeout", "read timeout: no data from " .. host .. " in time (" .. err .. ")"
  end
  if err:find("malformed", 1, true) then
    return "ConnectionError", "request to " .. host .. " failed: " .. err
  end
  if not sent then
    return "ConnectionClosed", "connection to " .. host .. " failed while sending the request (" .. err .. ")"
  end
  if not started then
    return "ConnectionClosed", host .. " closed the connection without sending a response (" .. err .. ")"
  end
  return "ConnectionClosed", "connection to " .. host .. " closed before the whole response arrived (" .. err .. ")"
end

-- Reads the body in pieces of at most BODY_PIECE bytes into on_body (S3
-- downloads: memory does not grow with the object). n: the length, or nil
-- to read to the end of the connection. Returns true, or nil, err.
local BODY_PIECE = 65536
local function stream_body(sock, n, on_body)
  while n == nil or n > 0 do
    local want = (n == nil or n > BODY_PIECE) and BODY_PIECE or n
    local piece, err, partial = sock:receive(want)
    if not piece then
      if n == nil and err == "closed" then
        if partial and partial ~= "" and on_body(partial) == false then return nil, "stopped" end
        return true
      end
      if partial and partial ~= "" then on_body(partial) end
      return nil, err
    end
    if on_body(piece) == false then return nil, "stopped" end
    if n then n = n - #piece end
  end
  return true
end

-- Reads one response from sock. Returns status, headers, body, reusable
-- (or nil, err, started: whether the status line had arrived). With
-- on_body, a 2xx body goes to on_body(piece) (false stops) and body is "".
local function read_response(sock, method, on_body)
  local line, err = sock:receive("*l")
  if not line then return nil, err, false end
  local major, minor, status = line:match("^HTTP/(%d)%.(%d) (%d%d%d)")
  if not status then return nil, "malformed status line", true end
  status = tonumber(status)
  local headers, lower = {}, {}
  while true do
    local h, herr = sock:receive("*l")
    if not h then return nil, herr, true end
    if h == "" then break end
    local name, value = h:match("^([^:]+):%s*(.-)%s*$")
    if name then
      local prev = headers[name]
      if prev then
        if type(prev) == "table" then prev[#prev + 1] = value else headers[name] = { prev, value } end
      else
        headers[name] = value
      end
      lower[name:lower()] = value
    end
  end
  local reusable = not (major == "1" and minor == "0")
  local conn = lower["connection"]
  if conn and conn:lower():find("close", 1, true) then reusable = false end
  local body
  local te = lower["transfer-encoding"]
  local chunked = te and te:lower():find("chunked", 1, true)
  if not (status >= 200 and status < 300) then on_body = nil end
  if method == "HEAD" or status == 204 or status == 304 or (status >= 100 and status < 200) then
    body = ""
  elseif on_body and not chunked then
    local n = lower["content-length"] and tonumber(lower["content-length"])
    if lower["content-length"] and (not n or n < 0) then return nil, "malformed Content-Length", true end
    local ok, serr = stream_body(sock, n, on_body)
    if not ok then return nil, serr, true end
    body = ""
    if n == nil then reusable = false end
  elseif chunked then
    local parts = {}
    while true do
      local sz, serr = sock:receive("*l")
      if not sz then return nil, serr, true end
      local n = tonumber(sz:match("^%s*(%x+)"), 16)
      if not n then return nil, "malformed chunk size", true end
      if n == 0 then
        repeat
          local t, terr = sock:receive("*l")
          if not t then return nil, terr, true end
        until t == ""
        break
      end
      if on_body then
        local ok, serr = stream_body(sock, n, on_body)
        if not ok then return nil, serr, true end
      else
        local chunk, cerr = sock:receive(n)
        if not chunk then return nil, cerr, true end
        parts[#parts + 1] = chunk
      end
      local crlf, lerr = sock:receive("*l")
      if not crlf then return nil, lerr, true end
    end
    body = table.concat(parts)
  elseif lower["content-length"] then
    local n = tonumber(lower["content-length"])
    if not n or n < 0 then return nil, "malformed Content-Length", true end
    if n == 0 then
      body = ""
    else
      local b, berr = sock:receive(n)
      if not b then return nil, berr, true end
      body = b
    end
  else
    local b, berr = sock:receive("*a")
    if not b then return nil, berr, true end
    body = b
    reusable = false
  end
  return status, headers, body, reusable
end

-- Sends one request over a cosocket. Returns status, headers, body, sends
-- (2 when it was sent again on a fresh connection) or nil, error code,
-- message. With on_body, a 2xx body streams into on_body(piece) (see
-- read_response); like any answer that had begun, it is never resent.
-- body is a string, or a streamed body { length = n, read = function()
-- returning the next piece ("" at the end) or nil, message } (S3 upload
-- parts: memory does not grow with the part); a streamed body is sent
-- once (the transfer machine retries a failure with a new send).
function Client:_send(method, url, headers, body, on_body)
  local streamed = type(body) == "table"
  local u, uerr = parse_url(url)
  if not u then return nil, "ConnectionError", uerr end
  local request = { method, " ", u.path, " HTTP/1.1\r\n" }
  local has_length = false
  for name, value in pairs(headers) do
    local ln = name:lower()
    if ln == "content-length" then has_length = true end
    if ln ~= "connection" then
      request[#request + 1] = name .. ": " .. value .. "\r\n"
    end
  end
  if not has_length then
    request[#request + 1] = "Content-Length: " .. (streamed and body.length or #body) .. "\r\n"
  end
  request[#request + 1] = "\r\n"
  if not streamed then request[#request + 1] = body end

  local tls = u.scheme == "https"
  local sni = tls and u.host or ""
  -- A reused pooled socket skips the handshake, so the pool name carries
  -- everything the handshake checked: the SNI name and whether the
  -- certificate was verified (a verify = false connection must never serve a
  -- verifying client). The trust store is nginx's lua_ssl_trusted_certificate.
  local pool = table.concat({ u.scheme, u.host, u.port, sni,
                              tls and (self._verify and "verify" or "noverify") or "" }, ":")
  for attempt = 1, 2 do
    local sock = ngx.socket.tcp()
    sock:settimeouts(self._connect_ms, self._read_ms, self._read_ms)
    local ok, err = sock:connect(u.host, u.port, { pool = pool })
    if not ok then return nil, classify(err), "connect to " .. u.host .. ":" .. u.port .. " failed: " .. tostring(err) end
    local reused = (sock:getreusedtimes() or 0) > 0
    if tls and not reused then
      -- lua-resty-core 0.1.25 raises (assert) instead of returning an error
      -- when a handshake that completed at once failed verification: catch it.
      local hok, sess, serr = pcall(sock.sslhandshake, sock, nil, sni, self._verify)
      if not hok then
        sess, serr = nil, sess
      end
      if not sess then
        sock:close()
        if tostring(serr):find("timeout", 1, true) then return nil, "Timeout", "TLS handshake timed out" end
        return nil, "TLSError", "TLS handshake with " .. u.host .. " failed: " .. tostring(serr)
      end
    end
    local sent, serr = sock:send(request)
    if sent and streamed then
      local left = body.length
      while sent and left > 0 do
        local piece, rerr = body.read()
        if not piece or piece == "" then
          sock:close()
          return nil, "ConnectionError", "the request body stopped: " .. tostring(rerr or "it ended early")
        end
        left = left - #piece
        sent, serr = sock:send(piece)
      end
    end
    local status, rheaders, rbody, reusable, started
    if sent then
      status, rheaders, rbody, reusable = read_response(sock, method, on_body)
      if not status then serr, started = rheaders, rbody end
    end
    if status then
      if reusable then
        sock:setkeepalive(self._keepalive_timeout, self._keepalive_pool)
      else
        sock:close()
      end
      return status, rheaders, rbody, attempt
    end
    sock:close()
    -- A pooled connection the server had already closed: try once on a new one.
    -- (Not once part of the answer came: the server had taken the request.)
    if streamed or not (reused and attempt == 1 and not started and
                        (serr == "closed" or tostring(serr):find("reset", 1, true))) then
      return nil, after_connect(serr, sent, started, u.host .. ":" .. u.port)
    end
  end
end

-- Performs one SEND step: feeds the answer or the transport error.
function Client:_step_send(call, method, url, headers, body)
  local status, h, b, sends = self:_send(method, url, headers, body)
  if status then
    call:feed(status, h, b, sends)
  else
    call:feed_error(h, b)
  end
end

-- Runs body() (which steps `stepper`: a call, a job-log reader, a
-- transfer), then share_after(refreshing). On an error (a callback's
-- included) stop() ends what is in flight, the stepper is cancelled and
-- closed (freeing the core's state) and the error propagates. Returns
-- body's result.
local function guarded(self, stepper, refreshing, body, stop)
  local ok, res = pcall(body)
  share_after(self, refreshing)
  if not ok then
    if stop then stop() end
    stepper:cancel()
    stepper:close()
    error(res, 0)
  end
  return res
end

-- Drives a call until DONE; on_event(kind, value) sees events, on_work(id)
-- runs a compile machine's work step, on_transfer(x) drives its upload.
-- Returns the result and the warnings array (or nil); many (compile_many's
-- machine): the rows and whether every job completed.
local function drive(self, call, on_event, on_work, many, on_transfer)
  local res = guarded(self, call, share_before(self), function()
    while true do
      local kind, a, b, c, d = call:next()
      if kind == "send" then
        self:_step_send(call, a, b, c, d)
      elseif kind == "sleep" then
        ngx.sleep(a)
      elseif kind == "work" then
        on_work(a)
      elseif kind == "transfer" then
        on_transfer(a)
      elseif kind == "event" then
        if on_event then on_event(a, b) end
      else
        return { a, b, c }
      end
    end
  end)
  if many then
    if res[1] == nil then error(res[2], 0) end
    return res[1], res[2]
  end
  if res[2] then error(res[2], 0) end
  return res[1], res[3]
end

function M.client(opts)
  opts = opts or {}
  local copts = { no_transport = true }
  for k, v in pairs(opts) do
    if not RESTY_ONLY[k] then copts[k] = v end
  end
  local function refuse(message)
    error(setmetatable({ code = "InvalidArgument", retryable = false, message = message }, smneo.error_mt), 4)
  end
  if opts.no_transport == false then
    refuse("smneo.resty never uses the libcurl transport: drop no_transport")
  end
  if opts.ca_bundle ~= nil then
    -- cosockets cannot take a CA file per connection: it would be ignored
    refuse("smneo.resty: ca_bundle cannot apply to cosockets; set lua_ssl_trusted_certificate in nginx.conf "
      .. "and drop ca_bundle")
  end
  local dict
  if opts.shared_dict ~= nil then
    dict = type(opts.shared_dict) == "string" and ngx.shared[opts.shared_dict]
    if not dict then
      refuse("smneo.resty: shared_dict \"" .. tostring(opts.shared_dict) .. "\" is not a lua_shared_dict: declare "
        .. "`lua_shared_dict " .. tostring(opts.shared_dict) .. " 1m;` in nginx.conf's http block")
    end
  end
  local c = smneo.client(copts)
  local profile = opts.profile_name or ""
  local self = setmetatable({
    _dict = dict or nil,
    _dict_key = "smneo:creds:" .. profile,
    _lock_key = "smneo:lock:" .. profile,
    _c = c,
    _connect_ms = math.floor((opts.connect_timeout or 60) * 1000),
    _read_ms = math.floor((opts.read_timeout or 60) * 1000),
    _verify = opts.verify ~= false,
    _keepalive_timeout = opts.keepalive_timeout or 60000,
    _keepalive_pool = opts.keepalive_pool or 32,
    _thread_pool = opts.thread_pool or "smneo",
    -- compile's work client (with a transport, for its work steps), made at
    -- the first compile; a closure keeps the options (credentials too) out
    -- of the client's fields
    _work_client = function()
      local wopts = {}
      for k, v in pairs(copts) do wopts[k] = v end
      wopts.no_transport = nil
      return smneo.client(wopts)
    end,
  }, Client)
  return self
end

-- step_iterator(client, stepper, wanted): a generic-for iterator over a
-- step object (a paginator's call or the job-log reader) driven over
-- cosockets: it yields the value of each event whose name is in WANTED and
-- raises the stepper's error at its end. Returns iterator, nil, nil, stepper
-- (the handle: close() it to stop early), as smneo's client does.
local ITEM_EVENTS = { item = true, page = true }
local LOG_EVENTS = { log = true }
local function step_iterator(client, stepper, wanted)
  local finished = false
  local refreshing = share_before(client)
  return function()
    if finished then return nil end
    local r = guarded(client, stepper, refreshing, function()
      while true do
        local kind, a, b, c, d = stepper:next()
        if kind == "send" then
          client:_step_send(stepper, a, b, c, d)
        elseif kind == "sleep" then
          ngx.sleep(a)
        elseif kind == "event" then
          if wanted[a] then return { "value", b } end
        else
          return { "done", b }
        end
      end
    end, function() finished = true end)
    refreshing = false
    local kind, v = r[1], r[2]
    if kind == "done" then
      finished = true
      if v then error(v, 0) end
      return nil
    end
    return v
  end, nil, nil, stepper
end

for _, op in ipairs(smneo.operations()) do
  local name = op.name
  Client[op.python_name] = function(self, params)
    return drive(self, self._c:_call(name, params))
  end
  if op.iter_name then
    Client[op.iter_name] = function(self, params, popts)
      return step_iterator(self, self._c:_paginate(name, params, popts), ITEM_EVENTS)
    end
  end
end

-- wait_for_compilation_job(name, {delay, max_delay, timeout, callback}):
-- callback(description) on each status change; returning false cancels
-- (Cancelled); an error in it cancels and is re-raised.
function Client:wait_for_compilation_job(name, wopts)
  local cb = wopts and wopts.callback
  local call = self._c:_wait(name, wopts)
  return (drive(self, call, function(kind, value)
    if kind == "status" and cb then
      if cb(value) == false then call:cancel() end
    end
  end))
end

-- compilation_job_logs{name, follow, start_time, delay, max_delay, tail}:
-- the job's log (docs/logs.md) over cosockets, sleeping with ngx.sleep
-- between polls. Returns iterator, nil, nil, handle (handle:warnings(),
-- handle:status(), handle:close()), as smneo's client does.
function Client:compilation_job_logs(opts)
  return step_iterator(self, self._c:_job_logs(opts), LOG_EVENTS)
end

function Client:build_request(...) return self._c:build_request(...) end
function Client:parse_response(...) return self._c:parse_response(...) end
function Client:region() return self._c:region() end
function Client:endpoint() return self._c:endpoint() end
function Client:max_attempts() return self._c:max_attempts() end
function Client:close()
  if self._wc then self._wc:close() end
  return self._c:close()
end
Client.__close = Client.close
function Client:__tostring() return "smneo.resty " .. tostring(self._c) end

-- ---- S3 transfers ---------------------------------------------------------
local unpack = table.unpack or unpack

local function invalid(message)
  error(setmetatable({ code = "InvalidArgument", retryable = false, message = message }, smneo.error_mt), 4)
end

-- The transfer's options checked: its progress function (or nil).
local function check_transfer_opts(opts, what)
  if type(opts) ~= "table" then
    invalid(what .. ": give a table {filename=, bucket=, key=[, progress=]}")
  end
  local progress = opts.progress
  if progress ~= nil and type(progress) ~= "function" then
    invalid(what .. ": progress must be a function, not a " .. type(progress))
  end
  return progress
end

local function without_progress(opts)
  local args = {}
  for k, v in pairs(opts) do
    if k ~= "progress" then args[k] = v end
  end
  return args
end

-- Steps a transfer x until DONE: on_step(kind, ...) handles send, wait and
-- sleep steps; progress events go to progress (false cancels). Returns what
-- the done step gives: { true } or { nil, err } (a compile machine's
-- upload: { true }, the machine takes the result).
local function step_transfer(x, progress, on_step)
  while true do
    local kind, a, b, c, d, id, sink, length = x:next()
    if kind == "event" then
      if progress and progress(b, c) == false then x:cancel() end
    elseif kind == "done" then
      return { a, b }
    else
      on_step(kind, a, b, c, d, id, sink, length)
    end
  end
end

-- Drives a transfer x until DONE (step_transfer). On an error (the
-- callback's included) stop() ends what is in flight, then the transfer is
-- cancelled, closed and the error raised. Returns true.
local function drive_transfer(self, x, progress, on_step, stop)
  local res = guarded(self, x, share_before(self), function()
    return step_transfer(x, progress, on_step)
  end, stop)
  if res[2] then error(res[2], 0) end
  return true
end

-- An error raised by the driver itself (not by the core).
local function driver_error(code, message)
  return setmetatable({ code = code, retryable = false, message = message }, smneo.error_mt)
end

-- Runs work step id of a machine or a transfer on the client's thread pool
-- (ngx.run_worker_thread); what names the caller in the error raised when
-- the pool cannot run it.
local function run_on_pool(self, id, what, step)
  local pool = self._thread_pool
  local tok, wok, werr = ngx.run_worker_thread(pool, "smneo", "_work", id)
  if not tok or not wok then
    error(driver_error("InvalidArgument", what .. ": " .. step .. " could not run on nginx's thread pool \""
      .. pool .. "\" (" .. tostring(werr or wok) .. "): declare `thread_pool " .. pool .. " threads=2;` in "
      .. "nginx.conf's main block, or name yours with the client option thread_pool"), 0)
  end
end

-- The one upload driver's steps for an upload transfer x (upload_file's,
-- and compile's upload): a streamed send (a part, or a PutObject) on an
-- ngx.thread of its own that reads the body from the file and feeds the
-- answer, other sends (Create, Complete, Abort, credentials) here; a wait
-- (or a sleep with parts in flight) waits for one of them; the payload
-- hashes of plain HTTP (x's work steps, turned on here) on nginx's thread
-- pool, one at a time while the other parts stream. Returns on_step and
-- stop for drive_transfer: on an error stop() stops the parts in flight
-- (fed as failed sends), cancels x and drives it to DONE, so a multipart
-- upload's Abort goes out before the error is raised.
local function upload_steps(self, x, what)
  local flying, finished, failure = {}, {}, nil
  x:work_steps(true)
  local function send(method, url, headers, id, length)
    local body = { length = length, read = function() return x:read(id, 65536) end }
    local status, h, b, sends = self:_send(method, url, headers, body)
    if status then
      x:feed(id, status, h, b, sends)
    else
      x:feed_error(id, h, b)
    end
  end
  local function collect()
    for _, fid in ipairs(finished) do flying[fid] = nil end
    finished = {}
  end
  local function on_step(kind, a, b, c, d, id, _, length)
    if kind == "send" then
      if not length then
        local status, h, body, sends = self:_send(a, b, c, d)
        if status then x:feed(id, status, h, body, sends) else x:feed_error(id, h, body) end
        return
      end
      local th, err = ngx.thread.spawn(function()
        local sok, serr = pcall(send, a, b, c, id, length)
        if not sok then failure = failure or serr end
        finished[#finished + 1] = id
      end)
      if not th then
        x:feed_error(id, "ConnectionError", "cannot start a thread: " .. tostring(err))
        return
      end
      flying[id] = th
    elseif kind == "work" then
      run_on_pool(self, a, what, "the payload hash")
    elseif kind == "wait" or (kind == "sleep" and next(flying)) then
      -- an answer first (a sleep with parts in flight: at most that long)
      if #finished == 0 then
        local ths = {}
        for _, th in pairs(flying) do ths[#ths + 1] = th end
        local sleeper = kind == "sleep" and ngx.thread.spawn(function() ngx.sleep(a) end)
        if sleeper then ths[#ths + 1] = sleeper end
        ngx.thread.wait(unpack(ths))
        if sleeper then ngx.thread.kill(sleeper) end
      end
      collect()
      if failure then error(failure, 0) end
    elseif kind == "sleep" then
      ngx.sleep(a)
    end
  end
  return on_step, function()
    collect()
    for id, th in pairs(flying) do
      ngx.thread.kill(th)
      pcall(x.feed_error, x, id, "ConnectionError", "stopped: the upload failed")
    end
    flying = {}
    x:cancel()
    pcall(function()
      while true do
        local kind, a, b, c, d, id, sink, length = x:next()
        if kind == "done" then return end
        if kind ~= "event" then on_step(kind, a, b, c, d, id, sink, length) end
      end
    end)
  end
end

-- download_file{filename=, bucket=, key=, progress=}: the core's download
-- machine (docs/s3.md, "Transfers as steps") over cosockets: the HEAD, then
-- the GET whose body streams into the temporary file piece by piece; a GET
-- cut midway is resumed by the machine with Range: bytes=N-. progress(done,
-- total) runs on this request's Lua thread; returning false cancels
-- (Cancelled, the partial file removed); an error in it cancels and is
-- re-raised. Returns true.
function Client:download_file(opts)
  local progress = check_transfer_opts(opts, "download_file")
  local x = self._c:_download(without_progress(opts))
  return drive_transfer(self, x, progress, function(kind, a, b, c, d, id, sink)
    if kind == "send" then
      local on_body = sink and function(piece) return x:write(id, piece) end or nil
      local status, h, body, sends = self:_send(a, b, c, d, on_body)
      if status then
        x:feed(id, status, h, body, sends)
      else
        x:feed_error(id, h, body)
      end
    elseif kind == "sleep" then
      ngx.sleep(a)
    end
  end)
end

-- upload_file{filename=, bucket=, key=, content_type=, metadata=,
-- server_side_encryption=, sse_kms_key_id=, multipart_threshold=,
-- part_size=, concurrency=, progress=}: the core's upload machine
-- (docs/s3.md, "Transfers as steps") over cosockets: one PutObject, or a
-- multipart upload with up to `concurrency` parts in flight, each sent by an
-- ngx.thread that streams the part from the file and feeds the answer; the
-- machine retries each part on its own and aborts the upload after a
-- failure or a cancel. progress(done, total) as for download_file. Returns
-- true.
function Client:upload_file(opts)
  local progress = check_transfer_opts(opts, "upload_file")
  local x = self._c:_upload(without_progress(opts))
  local on_step, stop = upload_steps(self, x, "upload_file")
  return drive_transfer(self, x, progress, on_step, stop)
end

-- ---- compile, compile_many -------------------------------------------------
-- Drives a compile or compile_many machine: its events to cb on this thread
-- (false: no more events, and the run is cancelled; an error cancels and is
-- raised once the run has stopped), its work steps on nginx's thread pool.
local function drive_machine(self, call, cb, what, many)
  local cb_failed, cb_err = false, nil
  local function on_event(_, ev)
    if cb and not cb_failed then
      local cok, r = pcall(cb, ev)
      if not cok then
        cb_failed, cb_err = true, r
        call:cancel()
      elseif r == false then
        cb = nil -- no more events to it (STOPPING included), as in the plain module and Python
        call:cancel()
      end
    end
  end
  -- the upload: upload_file's driver (upload_steps: its hashes on the
  -- pool, its abort on an error); at each of its progress events the
  -- machine's queued events (the upload's progress) go to cb, whose cancel
  -- reaches the transfer (a multipart upload is aborted)
  local function on_transfer(x)
    local on_step, stop = upload_steps(self, x, what)
    local tok, terr = pcall(step_transfer, x, function()
      while true do
        local kind, a, b = call:next()
        if kind ~= "event" then break end -- "transfer" again: the same upload
        on_event(a, b)
      end
    end, on_step)
    if not tok then
      stop()
      x:cancel()
      x:close()
      error(terr, 0)
    end
  end
  local ok, res, extra = pcall(drive, self, call, on_event, function(id)
    run_on_pool(self, id, what, "the work step")
  end, many, on_transfer)
  if cb_failed then error(cb_err, 0) end
  if not ok then error(res, 0) end
  return res, extra
end

local function options_table(opts, what)
  if type(opts) ~= "table" then
    error(setmetatable({ code = "InvalidArgument", retryable = false,
      message = what .. ": options must be a table" }, smneo.error_mt), 3)
  end
end

-- compile{...}: smneo's client:compile (docs/compile.md) as the core's step
-- machine: API calls (without a bucket the default bucket's
-- GetCallerIdentity, HeadBucket and CreateBucket; create, the waiter or the
-- log reader, stop) and the S3 upload (the upload-skip's HEAD, then the
-- upload as transfer steps, driven by upload_file's code) over cosockets,
-- sleeps with ngx.sleep, and the WORK steps (pack or digest, layout check
-- and validation; download, verification and extraction; a FAILED job's
-- log tail) on nginx's thread pool with ngx.run_worker_thread, so the worker
-- never blocks. Those run in the core with a libcurl transport of their own
-- (a second core client, made at the first compile). callback(event) sees
-- every event on this request's thread, in order (a WORK step's events when
-- it ends, the upload's while its parts are sent); false cancels (a
-- multipart upload is aborted), an error cancels and is raised once the
-- flow has stopped.
function Client:compile(opts)
  options_table(opts, "compile")
  if not self._wc then self._wc = self._work_client() end
  return (drive_machine(self, self._wc:_compile(opts, true), opts.callback, "compile"))
end

-- compile_many{jobs = {...} or models = {...}, targets = {...}, ...} ->
-- rows, ok: the plain module's, its jobs' API calls over cosockets (one
-- request at a time; the jobs run together, up to max_concurrent), its work
-- (preparation, uploads, downloads, a FAILED job's log tail) on the pool
function Client:compile_many(opts)
  options_table(opts, "compile_many")
  if not self._wc then self._wc = self._work_client() end
  return drive_machine(self, self._wc:_compile_many(opts), opts.callback, "compile_many", true)
end

-- For tests: the URL parser.
M._parse_url = parse_url

return M
