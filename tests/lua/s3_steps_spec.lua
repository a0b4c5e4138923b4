-- client:_download and client:_upload (the S3 transfer machines smneo.resty
-- drives), without a network: the spec plays the transport, cuts the GET
-- midway and answers the resumed request, and answers upload parts in
-- flight together.
local smneo = require "smneo"

local function new_client()
  return smneo.client{
    region_name = "us-east-1",
    endpoint_url = "http://127.0.0.1:9",
    aws_access_key_id = "AKIDEXAMPLE",
    aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    no_transport = true,
    retry_backoff_scale = 0.001,
  }
end

local OBJ = "0123456789abcdefghijklmnopqrstuvwxyz"

-- next() past sleeps and progress events (collected in events)
local function next_send(x, events)
  while true do
    local r = { x:next() }
    if r[1] == "event" then
      assert.are.equal("progress", r[2])
      events[#events + 1] = { r[3], r[4] }
    elseif r[1] ~= "sleep" then
      return r
    end
  end
end

local function tmpname()
  local p = os.tmpname()
  os.remove(p)
  return p
end

describe("smneo S3 download steps", function()
  it("resumes a GET cut midway with Range and If-Match", function()
    local c = new_client()
    local path = tmpname()
    local x = c:_download{ filename = path, bucket = "bkt", key = "k" }
    local events = {}
    local r = next_send(x, events)
    assert.are.same({ "send", "HEAD", "http://127.0.0.1:9/bkt/k" }, { r[1], r[2], r[3] })
    assert.is_false(r[7])
    assert.has_error(function() x:next() end) -- must feed first
    assert.has_error(function() x:feed(r[6] + 1, 200, {}) end) -- another id
    x:feed(r[6], 200, { ["Content-Length"] = "36", ETag = '"e1"' })
    r = next_send(x, events)
    assert.are.equal("GET", r[2])
    assert.is_true(r[7])
    assert.are.equal('"e1"', r[4]["If-Match"])
    assert.is_nil(r[4].Range)
    assert.is_true(x:write(r[6], OBJ:sub(1, 10)))
    x:feed_error(r[6], "ConnectionError", "closed mid-body")
    r = next_send(x, events)
    assert.are.equal("bytes=10-", r[4].Range)
    assert.are.equal('"e1"', r[4]["If-Match"])
    assert.is_true(x:write(r[6], OBJ:sub(11)))
    x:feed(r[6], 206, { ["Content-Range"] = "bytes 10-35/36" })
    r = next_send(x, events)
    assert.are.same({ "done", true }, r)
    assert.are.same({ 0, 36 }, events[1])
    assert.are.same({ 36, 36 }, events[#events])
    local f = assert(io.open(path, "rb"))
    assert.are.equal(OBJ, f:read("*a"))
    f:close()
    os.remove(path)
    assert.has_error(function() x:next() end) -- finished
    c:close()
  end)

  it("reports a missing object with its operation and a cancel", function()
    local c = new_client()
    local path = tmpname()
    local x = c:_download{ filename = path, bucket = "bkt", key = "k" }
    local r = next_send(x, {})
    x:feed(r[6], 404, {})
    r = next_send(x, {})
    assert.are.equal("done", r[1])
    assert.is_nil(r[2])
    assert.are.equal("404", r[3].code) -- a HEAD has no body: the status, as botocore gives it
    assert.are.equal("HeadObject", r[3].operation)
    x = c:_download{ filename = path, bucket = "bkt", key = "k" }
    r = next_send(x, {})
    x:feed(r[6], 200, { ["Content-Length"] = "36", ETag = '"e1"' })
    r = next_send(x, {})
    x:write(r[6], "0123")
    x:cancel()
    assert.is_false(x:write(r[6], "4"))
    x:feed_error(r[6], "ConnectionError", "stopped")
    r = next_send(x, {})
    assert.are.equal("Cancelled", r[3].code)
    assert.is_nil(io.open(path, "rb"))
    assert.has_error(function() c:_download{ filename = path, bucket = "bkt" } end)
    assert.has_error(function() c:_download{ filename = path, bucket = "bkt", key = "k", part_size = 1 } end)
    c:close()
  end)
end)

local function next_step(x, events)
  while true do
    local r = { x:next() }
    if r[1] == "event" then
      events[#events + 1] = { r[3], r[4] }
    elseif r[1] ~= "sleep" then
      return r
    end
  end
end

local function write_file(n)
  local p = os.tmpname()
  local f = assert(io.open(p, "wb"))
  local chunk = {}
  for i = 1, 1024 do chunk[i] = string.char((i * 7) % 251) end
  chunk = table.concat(chunk)
  for _ = 1, n / 1024 do f:write(chunk) end
  f:close()
  return p, chunk
end

-- the whole streamed body of send r
local function read_all(x, r)
  local parts = {}
  while true do
    local piece = assert(x:read(r[6], 65536))
    if piece == "" then break end
    parts[#parts + 1] = piece
  end
  return table.concat(parts)
end

local MIB = 1024 * 1024
local CREATED = "<InitiateMultipartUploadResult><UploadId>u1</UploadId></InitiateMultipartUploadResult>"

describe("smneo S3 upload steps", function()
  it("puts a small file in one streamed PUT", function()
    local c = new_client()
    local path, chunk = write_file(4096)
    local x = c:_upload{ filename = path, bucket = "bkt", key = "k", content_type = "text/plain" }
    local events = {}
    local r = next_step(x, events)
    assert.are.same({ "send", "PUT", "http://127.0.0.1:9/bkt/k" }, { r[1], r[2], r[3] })
    assert.are.equal("text/plain", r[4]["Content-Type"])
    assert.are.equal("", r[5])
    assert.are.equal(4096, r[8])
    assert.are.equal(chunk:rep(4), read_all(x, r))
    x:feed(r[6], 200, { ETag = '"e"' })
    r = next_step(x, events)
    assert.are.same({ "done", true }, { r[1], r[2] })
    assert.are.same({ 4096, 4096 }, events[#events])
    os.remove(path)
  end)

  it("sends parts together, waits, retries one, completes in part order", function()
    local c = new_client()
    local path = write_file(12 * MIB)
    local x = c:_upload{ filename = path, bucket = "bkt", key = "k", multipart_threshold = 5 * MIB,
                         part_size = 5 * MIB, concurrency = 2 }
    local events = {}
    local r = next_step(x, events)
    assert.are.same({ "send", "POST", "http://127.0.0.1:9/bkt/k?uploads" }, { r[1], r[2], r[3] })
    assert.is_nil(r[8])
    x:feed(r[6], 200, {}, CREATED)
    local p1, p2 = next_step(x, events), next_step(x, events)
    assert.are.equal("http://127.0.0.1:9/bkt/k?partNumber=1&uploadId=u1", p1[3])
    assert.are.equal("http://127.0.0.1:9/bkt/k?partNumber=2&uploadId=u1", p2[3])
    assert.are.equal(5 * MIB, p1[8])
    assert.are.same({ "wait" }, next_step(x, events))
    assert.has_error(function() x:feed(p2[6] + 100, 200, {}) end) -- not in flight
    assert.are.equal(5 * MIB, #read_all(x, p2))
    x:feed(p2[6], 200, { ETag = '"e2"' })
    local p3 = next_step(x, events)
    assert.are.equal("http://127.0.0.1:9/bkt/k?partNumber=3&uploadId=u1", p3[3])
    assert.are.equal(2 * MIB, p3[8])
    x:feed(p3[6], 200, { ETag = '"e3"' })
    x:feed_error(p1[6], "ConnectionClosed", "closed")
    local again = next_step(x, events)
    assert.are.equal(p1[3], again[3])
    x:feed(again[6], 200, { ETag = '"e1"' })
    r = next_step(x, events)
    assert.are.same({ "send", "POST", "http://127.0.0.1:9/bkt/k?uploadId=u1" }, { r[1], r[2], r[3] })
    assert.truthy(r[5]:find("e1&quot;</ETag><PartNumber>1</PartNumber></Part><Part><ETag>&quot;e2", 1, true))
    assert.are.same({ 12 * MIB, 12 * MIB }, events[#events])
    x:feed(r[6], 200, {}, "<CompleteMultipartUploadResult/>")
    assert.are.same({ "done", true }, { next_step(x, events)[1], true })
    os.remove(path)
  end)

  it("hands the payload hashes out as work steps when asked (plain HTTP)", function()
    local c = new_client()
    local path = write_file(12 * MIB)
    local args = { filename = path, bucket = "bkt", key = "k", multipart_threshold = 5 * MIB,
                   part_size = 5 * MIB, concurrency = 2 }
    -- without work steps: the hash is computed inside next()
    local plain = c:_upload(args)
    local r = next_step(plain, {})
    plain:feed(r[6], 200, {}, CREATED)
    local inline = next_step(plain, {})
    assert.are.equal("send", inline[1])
    plain:close()
    local x = c:_upload(args)
    x:work_steps(true)
    r = next_step(x, {})
    assert.are.equal("POST", r[2])
    x:feed(r[6], 200, {}, CREATED)
    r = next_step(x, {})
    assert.are.equal("work", r[1])
    assert.is_number(r[2])
    assert.has_error(function() x:next() end) -- run it first
    assert.is_true(smneo._work(r[2])) -- as ngx.run_worker_thread runs it
    assert.is_nil(smneo._work(r[2])) -- once
    local p1 = next_step(x, {})
    assert.are.equal("http://127.0.0.1:9/bkt/k?partNumber=1&uploadId=u1", p1[3])
    -- the same signed payload hash as the one computed inline
    assert.are.equal(inline[4]["X-Amz-Content-Sha256"], p1[4]["X-Amz-Content-Sha256"])
    assert.are.equal(64, #p1[4]["X-Amz-Content-Sha256"])
    r = next_step(x, {})
    assert.are.equal("work", r[1])
    x:work() -- here, while part 1 is in flight
    assert.has_error(function() x:work() end) -- nothing waits any more
    assert.are.equal(5 * MIB, #read_all(x, p1))
    local p2 = next_step(x, {})
    assert.are.equal("http://127.0.0.1:9/bkt/k?partNumber=2&uploadId=u1", p2[3])
    -- closed with a work step handed out: nothing left registered
    x:feed(p1[6], 200, { ETag = '"e1"' })
    r = next_step(x, {})
    assert.are.equal("work", r[1])
    x:close()
    assert.is_nil(smneo._work(r[2]))
    os.remove(path)
  end)

  it("aborts when cancelled, and names bad options", function()
    local c = new_client()
    local path = write_file(12 * MIB)
    local x = c:_upload{ filename = path, bucket = "bkt", key = "k", multipart_threshold = 5 * MIB,
                         part_size = 5 * MIB }
    local r = next_step(x, {})
    x:feed(r[6], 200, {}, CREATED)
    r = next_step(x, {})
    x:cancel()
    x:feed_error(r[6], "ConnectionClosed", "stopped")
    r = next_step(x, {})
    assert.are.same({ "send", "DELETE", "http://127.0.0.1:9/bkt/k?uploadId=u1" }, { r[1], r[2], r[3] })
    x:feed(r[6], 204, {})
    r = next_step(x, {})
    assert.are.equal("done", r[1])
    assert.is_nil(r[2])
    assert.are.equal("Cancelled", r[3].code)
    assert.truthy(r[3].message:find("aborted", 1, true))
    assert.has_error(function() c:_upload{ filename = path, bucket = "bkt", key = "k", part_size = 1 } end)
    assert.has_error(function() c:_upload{ filename = path, bucket = "bkt", key = "k", bogus = 1 } end)
    os.remove(path)
  end)
end)
