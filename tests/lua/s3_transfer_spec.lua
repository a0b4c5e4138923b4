-- client:upload_file{...} / client:download_file{...} (smneo_s3_upload and
-- smneo_s3_download) against smneo.local's S3.
local smneo = require "smneo"
local safe = require "smneo.safe"
local S = require "tests.lua.helpers.server"

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("*a")
  p:close()
  return out
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local d = f:read("*a")
  f:close()
  return d
end

local function write(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

describe("client:upload_file / download_file", function()
  local srv, client, tmp

  lazy_setup(function()
    srv = S.start_local()
    client = smneo.client{ region_name = "us-east-1", endpoint_url = srv.url,
                           aws_access_key_id = "test", aws_secret_access_key = "test" }
    tmp = sh("mktemp -d"):gsub("%s+$", "")
  end)

  lazy_teardown(function()
    if client then client:close() end
    if srv then srv:stop() end
    if tmp and tmp:match("^/tmp/") then os.execute("rm -rf " .. tmp) end
  end)

  it("round-trips a file with (done, total) progress", function()
    local data = string.rep("smneo-s3-", 200000) -- 1.8 MB
    write(tmp .. "/in.bin", data)
    local ups = {}
    assert.is_true(client:upload_file{ filename = tmp .. "/in.bin", bucket = "models", key = "lua/in.bin",
                                       content_type = "application/gzip", metadata = { stage = "prod" },
                                       progress = function(done, total) ups[#ups + 1] = { done, total } end })
    assert.are.same({ #data, #data }, ups[#ups])
    for i = 2, #ups do assert.is_true(ups[i][1] >= ups[i - 1][1]) end
    local last
    assert.is_true(client:download_file{ bucket = "models", key = "lua/in.bin", filename = tmp .. "/out.bin",
                                         progress = function(done, total) last = { done, total } end })
    assert.are.same({ #data, #data }, last)
    assert.are.equal(data, read(tmp .. "/out.bin"))
  end)

  it("uses multipart above the threshold", function()
    local data = string.rep("0123456789abcdef", 11 * 65536) -- 11 MiB
    write(tmp .. "/big.bin", data)
    assert.is_true(client:upload_file{ filename = tmp .. "/big.bin", bucket = "models", key = "lua/big.bin",
                                       multipart_threshold = 6 * 1048576, part_size = 5 * 1048576,
                                       concurrency = 2 })
    assert.is_true(client:download_file{ bucket = "models", key = "lua/big.bin", filename = tmp .. "/big.out" })
    assert.are.equal(data, read(tmp .. "/big.out"))
  end)

  it("raises S3 errors with the S3 operation's name and keeps an existing file", function()
    write(tmp .. "/keep.bin", "keep me")
    local ok, err = pcall(client.download_file, client, { bucket = "models", key = "no/such",
                                                          filename = tmp .. "/keep.bin" })
    assert.is_false(ok)
    assert.are.equal("404", err.code)
    assert.are.equal("HeadObject", err.operation)
    assert.are.equal(404, err.status)
    assert.are.equal("keep me", read(tmp .. "/keep.bin"))
    ok, err = pcall(client.upload_file, client, { filename = tmp .. "/keep.bin", bucket = "no-such-bucket",
                                                  key = "k" })
    assert.is_false(ok)
    assert.are.equal("NoSuchBucket", err.code)
    assert.are.equal("PutObject", err.operation)
    -- smneo.safe: nil, err
    local c = safe.client{ region_name = "us-east-1", endpoint_url = srv.url,
                           aws_access_key_id = "test", aws_secret_access_key = "test" }
    local r, e = c:download_file{ bucket = "models", key = "no/such", filename = tmp .. "/x" }
    assert.is_nil(r)
    assert.are.equal("HeadObject", e.operation)
    c:close()
  end)

  it("refuses bad options by name", function()
    local ok, err = pcall(client.upload_file, client, { filename = tmp .. "/keep.bin", bucket = "models",
                                                        key = "k", acl = "private" })
    assert.is_false(ok)
    assert.truthy(tostring(err):match("acl"))
    ok, err = pcall(client.upload_file, client, { filename = tmp .. "/keep.bin", bucket = "models", key = "k",
                                                  server_side_encryption = "aes" })
    assert.is_false(ok)
    assert.truthy(tostring(err):match("server_side_encryption"))
    ok, err = pcall(client.download_file, client, { bucket = "models", filename = tmp .. "/x" })
    assert.is_false(ok)
    assert.truthy(tostring(err):match("filename, bucket and key are required"))
  end)

  it("cancels when progress returns false, and re-raises the callback's error", function()
    local data = string.rep("x", 3 * 1048576)
    write(tmp .. "/c.bin", data)
    assert.is_true(client:upload_file{ filename = tmp .. "/c.bin", bucket = "models", key = "lua/c.bin" })
    sh("mkdir -p " .. tmp .. "/cancel")
    local ok, err = pcall(client.download_file, client, { bucket = "models", key = "lua/c.bin",
                                                          filename = tmp .. "/cancel/c.bin",
                                                          progress = function(done) return done == 0 end })
    assert.is_false(ok)
    assert.truthy(err.message:match("cancelled by the progress callback"))
    ok, err = pcall(client.download_file, client, { bucket = "models", key = "lua/c.bin",
                                                    filename = tmp .. "/cancel/c.bin",
                                                    progress = function() error("mine") end })
    assert.is_false(ok)
    assert.truthy(tostring(err):match("mine"))
    assert.are.equal("", sh("ls -A " .. tmp .. "/cancel")) -- nothing partial left
  end)

  it("aborts a multipart upload whose progress callback raises, then re-raises (issue 14)", function()
    write(tmp .. "/m.bin", string.rep("m", 12 * 1048576))
    local ok, err = pcall(client.upload_file, client, { filename = tmp .. "/m.bin", bucket = "models",
      key = "lua/raise.bin", multipart_threshold = 5 * 1048576, part_size = 5 * 1048576,
      progress = function(done) if done > 0 then error("mine", 0) end end })
    assert.is_false(ok)
    assert.are.equal("mine", err)
    local methods = {}
    for _, r in ipairs(S.admin(srv, "GET", "requests").requests) do
      if r.path == "/models/lua/raise.bin" then methods[#methods + 1] = r.method end
    end
    assert.are.equal("POST", methods[1]) -- CreateMultipartUpload
    assert.are.equal("DELETE", methods[#methods]) -- AbortMultipartUpload, last
    local posts = 0
    for _, m in ipairs(methods) do if m == "POST" then posts = posts + 1 end end
    assert.are.equal(1, posts) -- never completed
  end)

  it("compile without s3_bucket uses (and makes) sagemaker-REGION-ACCOUNT", function()
    sh("mkdir -p " .. tmp .. "/resnet && cp " .. srv.root .. "/examples/model/model.pt " .. tmp .. "/resnet/")
    local r = client:compile{ model = tmp .. "/resnet", framework = "PYTORCH",
                              role_arn = "arn:aws:iam::123456789012:role/NeoRole", target_device = "ml_c5",
                              data_input_config = { input0 = { 1, 4 } }, delay = 0.05, output_dir = tmp .. "/cout" }
    assert.truthy(r.input_uri:match("^s3://sagemaker%-us%-east%-1%-123456789012/smneo/"))
    assert.is_true(r.digest_verified)
    local ok, err = pcall(client.compile, client, { framework = "PYTORCH", target_device = "ml_c5" })
    assert.is_false(ok)
    assert.truthy(tostring(err):match("unless the default bucket"))
  end)
end)
