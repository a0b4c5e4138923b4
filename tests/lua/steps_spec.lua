-- The low-level call userdata (what smneo.resty drives), without a network:
-- the spec plays the transport and feeds canned answers.
local smneo = require "smneo"

local function new_client(extra)
  local o = {
    region_name = "us-east-1",
    endpoint_url = "https://sagemaker.test.invalid",
    aws_access_key_id = "AKIDEXAMPLE",
    aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    no_transport = true,
    max_attempts = 3,
    retry_backoff_scale = 0.001,
  }
  for k, v in pairs(extra or {}) do o[k] = v end
  return smneo.client(o)
end

local JSON = { ["Content-Type"] = "application/x-amz-json-1.1", ["x-amzn-RequestId"] = "rid-1" }

describe("smneo call steps", function()
  it("asks to send a signed request, retries a 500 and finishes", function()
    local c = new_client()
    local call = c:_call("DescribeCompilationJob", { CompilationJobName = "resnet" })
    local kind, method, url, headers, body = call:next()
    assert.are.equal("send", kind)
    assert.are.equal("POST", method)
    assert.are.equal("https://sagemaker.test.invalid/", url)
    assert.are.equal("SageMaker.DescribeCompilationJob", headers["X-Amz-Target"])
    assert.truthy(headers.Authorization:find("^AWS4%-HMAC%-SHA256 "))
    assert.are.equal('{"CompilationJobName":"resnet"}', body)
    assert.has_error(function() call:next() end) -- must feed first
    call:feed(500, JSON, '{"__type":"InternalFailure","message":"oops"}')

    local kinds = {}
    local r
    repeat
      r = { call:next() }
      kinds[#kinds + 1] = r[1]
    until r[1] ~= "sleep"
    assert.are.equal("send", r[1])
    assert.is_true(#kinds >= 1)
    call:feed(200, JSON, '{"CompilationJobName":"resnet","CompilationJobStatus":"COMPLETED","CreationTime":1700000000.5}')
    local done, result, err = call:next()
    assert.are.equal("done", done)
    assert.is_nil(err)
    assert.are.equal("COMPLETED", result.CompilationJobStatus)
    assert.are.equal(1700000000.5, result.CreationTime)
    assert.has_error(function() call:next() end) -- finished
    call:close()
    call:close()
    c:close()
  end)

  it("turns transport failures into the mapped error after max_attempts", function()
    local c = new_client()
    local call = c:_call("DescribeCompilationJob", { CompilationJobName = "resnet" })
    local sends = 0
    while true do
      local kind, a, b = call:next()
      if kind == "send" then
        sends = sends + 1
        call:feed_error("Timeout", "read timed out")
      elseif kind == "done" then
        assert.is_nil(a)
        assert.are.equal("Timeout", b.code)
        assert.are.equal(3, b.attempts)
        break
      end
    end
    assert.are.equal(3, sends)
    assert.has_error(function() c:_call("DescribeCompilationJob", {}):feed_error("Bogus", "x") end)
    c:close()
  end)

  it("retries a connection closed early and reports it as ConnectionClosed", function()
    local c = new_client()
    local call = c:_call("DescribeCompilationJob", { CompilationJobName = "resnet" })
    local sends = 0
    while true do
      local kind, a, b = call:next()
      if kind == "send" then
        sends = sends + 1
        call:feed_error(-28, "closed the connection without sending a response")
      elseif kind == "done" then
        assert.is_nil(a)
        assert.are.equal("ConnectionClosed", b.code)
        assert.are.equal("ConnectionClosed", b.kind)
        assert.are.equal(3, b.attempts)
        assert.truthy(b.message:find("without sending a response", 1, true))
        break
      end
    end
    assert.are.equal(3, sends)
    assert.are.equal("ConnectionClosed", smneo.strerror(-28))
    c:close()
  end)

  it("feed_error takes the core's names of the connection errors", function()
    local c = new_client()
    for _, name in ipairs({ "ConnectionError", "DNSError", "TLSError", "Timeout", "ConnectionClosed" }) do
      local call = c:_call("DescribeCompilationJob", { CompilationJobName = "resnet" })
      local sends, err = 0, nil
      while true do
        local kind, a, b = call:next()
        if kind == "send" then
          sends = sends + 1
          call:feed_error(name, "the peer reset the connection")
        elseif kind == "done" then
          assert.is_nil(a)
          err = b
          break
        end
      end
      call:close()
      assert.are.equal(name, err.code)
      assert.are.equal(3, sends) -- every connection error is retried
    end
    -- the name before 1.0
    local call = c:_call("DescribeCompilationJob", { CompilationJobName = "resnet" })
    assert.are.equal("send", (call:next()))
    call:feed_error("DnsError", "no such host")
    call:close()
    call = c:_call("DescribeCompilationJob", { CompilationJobName = "resnet" })
    assert.are.equal("send", (call:next()))
    local ok, e = pcall(call.feed_error, call, "Closed", "x")
    assert.is_false(ok)
    assert.are.equal("InvalidArgument", e.code)
    assert.truthy(e.message:find("ConnectionClosed", 1, true))
    call:close()
    c:close()
  end)

  it("pages through items with events", function()
    local c = new_client()
    local call = c:_paginate("ListCompilationJobs", {}, { page_size = 2 })
    local pages = {
      '{"CompilationJobSummaries":[{"CompilationJobName":"a"},{"CompilationJobName":"b"}],"NextToken":"t1"}',
      '{"CompilationJobSummaries":[{"CompilationJobName":"c"}]}',
    }
    local names, bodies = {}, {}
    while true do
      local kind, a, b, _, body = call:next()
      if kind == "send" then
        bodies[#bodies + 1] = body
        call:feed(200, JSON, table.remove(pages, 1))
      elseif kind == "event" then
        assert.are.equal("item", a)
        names[#names + 1] = b.CompilationJobName
      elseif kind == "done" then
        assert.is_true(a)
        assert.is_nil(b)
        break
      end
    end
    assert.are.same({ "a", "b", "c" }, names)
    assert.are.equal('{"MaxResults":2}', bodies[1])
    assert.are.equal('{"NextToken":"t1","MaxResults":2}', bodies[2])
    c:close()
  end)

  it("raises PaginationError when a page repeats the token it was sent", function()
    local c = new_client()
    local call = c:_paginate("ListCompilationJobs", {}, { page_size = 2 })
    local pages = {
      '{"CompilationJobSummaries":[{"CompilationJobName":"a"}],"NextToken":"t1"}',
      '{"CompilationJobSummaries":[{"CompilationJobName":"b"}],"NextToken":"t1"}',
      '{"CompilationJobSummaries":[{"CompilationJobName":"c"}]}',
    }
    local names, err = {}, nil
    while true do
      local kind, a, b = call:next()
      if kind == "send" then
        call:feed(200, JSON, table.remove(pages, 1))
      elseif kind == "event" then
        names[#names + 1] = b.CompilationJobName
      elseif kind == "done" then
        assert.is_nil(a)
        err = b
        break
      end
    end
    assert.are.same({ "a", "b" }, names) -- the repeated page is handed out, then the error
    assert.are.equal("PaginationError", err.code)
    assert.are.equal("Error during pagination: The same next token was received twice: {'NextToken': 't1'}",
      err.message)
    assert.are.equal("PaginationError", smneo.strerror(-29))
    assert.are.equal(1, #pages) -- nothing fetched after it
    c:close()
  end)

  local CREATE = {
    CompilationJobName = "own", RoleArn = "arn:aws:iam::123456789012:role/r",
    InputConfig = { S3Uri = "s3://b/m.tar.gz", Framework = "PYTORCH", DataInputConfig = '{"x":[1,3,224,224]}' },
    OutputConfig = { S3OutputLocation = "s3://b/out", TargetDevice = "ml_c5" },
    StoppingCondition = { MaxRuntimeInSeconds = 900 },
  }
  local IN_USE = '{"__type":"ResourceInUse","message":"Resource Already Exists: Compilation job with name own already exists."}'
  local function described(role)
    return '{"CompilationJobName":"own","CompilationJobArn":"arn:aws:sagemaker:us-east-1:123456789012:compilation-job/own",'
      .. '"CompilationJobStatus":"STARTING","RoleArn":"' .. role .. '","InputConfig":{"S3Uri":"s3://b/m.tar.gz",'
      .. '"Framework":"PYTORCH","DataInputConfig":"{\\"x\\":[1,3,224,224]}"},"OutputConfig":{"S3OutputLocation":"s3://b/out",'
      .. '"TargetDevice":"ml_c5"},"StoppingCondition":{"MaxRuntimeInSeconds":900,"MaxWaitTimeInSeconds":1800}}'
  end

  it("answers a resent create that meets its own job with the job's ARN", function()
    local c = new_client({ max_attempts = 1 })
    local call = c:_call("CreateCompilationJob", CREATE)
    assert.are.equal("send", (call:next()))
    call:feed(400, JSON, IN_USE, 2) -- the transport sent it twice: the first copy made the job
    local kind, _, _, headers, body = call:next()
    assert.are.equal("send", kind)
    assert.are.equal("SageMaker.DescribeCompilationJob", headers["X-Amz-Target"])
    assert.are.equal('{"CompilationJobName":"own"}', body)
    call:feed(200, JSON, described("arn:aws:iam::123456789012:role/r"))
    local done, result, err = call:next()
    assert.are.equal("done", done)
    assert.is_nil(err)
    assert.are.equal("arn:aws:sagemaker:us-east-1:123456789012:compilation-job/own", result.CompilationJobArn)
    assert.is_nil(result.CompilationJobStatus) -- only what CreateCompilationJob answers
    assert.are.equal(1, result.ResponseMetadata.RetryAttempts)
    c:close()
  end)

  it("keeps ResourceInUse for another job, and for a create sent once", function()
    local c = new_client({ max_attempts = 1 })
    local call = c:_call("CreateCompilationJob", CREATE)
    call:next()
    call:feed(400, JSON, IN_USE, 2)
    assert.are.equal("send", (call:next()))
    call:feed(200, JSON, described("arn:aws:iam::123456789012:role/someone-else"))
    local done, result, err = call:next()
    assert.are.equal("done", done)
    assert.is_nil(result)
    assert.are.equal("ResourceInUse", err.code)
    assert.are.equal(2, err.attempts)
    call = c:_call("CreateCompilationJob", CREATE)
    call:next()
    call:feed(400, JSON, IN_USE)
    done, result, err = call:next()
    assert.are.equal("done", done)
    assert.are.equal("ResourceInUse", err.code)
    assert.are.equal(1, err.attempts)
    assert.has_error(function()
      local k = c:_call("DescribeCompilationJob", { CompilationJobName = "x" })
      k:next()
      k:feed(200, JSON, "{}", 0)
    end)
    c:close()
  end)

  it("reports waiter status events and cancels on request", function()
    local c = new_client()
    local call = c:_wait("resnet", { delay = 0.001 })
    local statuses = {}
    while true do
      local kind, a, b = call:next()
      if kind == "send" then
        call:feed(200, JSON, '{"CompilationJobName":"resnet","CompilationJobStatus":"INPROGRESS"}')
      elseif kind == "event" then
        assert.are.equal("status", a)
        statuses[#statuses + 1] = b.CompilationJobStatus
        call:cancel()
      elseif kind == "done" then
        assert.is_nil(a)
        assert.are.equal("Cancelled", b.code)
        break
      end
    end
    assert.are.same({ "INPROGRESS" }, statuses)
    c:close()
  end)

  it("refuses blocking calls on a client without transport", function()
    local c = new_client()
    local ok, err = pcall(c.describe_compilation_job, c, { CompilationJobName = "x" })
    assert.is_false(ok)
    assert.truthy(err.message:find("no_transport", 1, true))
    c:close()
  end)

  it("frees abandoned calls and clients (collect in loops)", function()
    for _ = 1, 200 do
      local c = new_client()
      local call = c:_call("DescribeCompilationJob", { CompilationJobName = "x" })
      call:next()
      local p = c:_paginate("ListCompilationJobs", {})
      p:next()
      c:close() -- deferred while calls live
      c:close()
    end
    collectgarbage()
    collectgarbage()
    local c = new_client()
    local call = c:_call("DescribeCompilationJob", { CompilationJobName = "x" })
    c = nil
    collectgarbage()
    collectgarbage()
    -- the call keeps its client alive
    assert.are.equal("send", (call:next()))
    call:feed(200, JSON, "{}")
    assert.are.equal("done", (call:next()))
  end)
end)
