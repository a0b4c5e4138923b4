-- client:_download (the S3 download machine smneo.resty drives), without a
-- network: the spec plays the transport, cuts the GET midway and answers
-- the resumed request.
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
