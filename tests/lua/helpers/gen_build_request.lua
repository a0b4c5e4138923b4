-- Regenerates tests/fixtures/build_request/*.json from the C core's output
-- (through the Lua binding's build_request, which hands params to the core
-- unchanged). Run from the repository root after a deliberate change of the
-- wire format, and review the diff:
--   LUA_PATH="lua/?.lua;;" LUA_CPATH="build/lua5.4/?.so;;" lua5.4 tests/lua/helpers/gen_build_request.lua
-- Each fixture: name, client (options), operation, params, timestamp,
-- ignore_headers (may differ per binding: not signed), expected {method,
-- url, headers, body}. The C, Lua and Python suites check them.
local smneo = require "smneo"
local json = require "dkjson"

local AKID, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
local BASE = { region_name = "us-east-1", endpoint_url = "https://api.sagemaker.us-east-1.amazonaws.com",
               aws_access_key_id = AKID, aws_secret_access_key = SECRET }

local function with(t, extra)
  local o = {}
  for k, v in pairs(t) do o[k] = v end
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

local cases = {
  { file = "describe", name = "DescribeCompilationJob, explicit endpoint", client = BASE,
    operation = "DescribeCompilationJob", params = { CompilationJobName = "resnet50" }, timestamp = 1700000000 },
  { file = "create_full", name = "CreateCompilationJob with every structure, members given out of order",
    client = BASE, operation = "CreateCompilationJob", timestamp = 1700000000,
    params = {
      Tags = { { Value = "v1", Key = "team" }, { Key = "cost-center", Value = "ml" } },
      StoppingCondition = { MaxWaitTimeInSeconds = 1200, MaxRuntimeInSeconds = 900 },
      OutputConfig = { CompilerOptions = '{"mcpu": "skylake-avx512"}', TargetPlatform = { Arch = "X86_64", Os = "LINUX" },
                       S3OutputLocation = "s3://bucket/out/" },
      InputConfig = { Framework = "PYTORCH", DataInputConfig = '{"input0": [1, 3, 224, 224]}',
                      S3Uri = "s3://bucket/model.tar.gz" },
      RoleArn = "arn:aws:iam::123456789012:role/SageMakerRole",
      VpcConfig = { Subnets = { "subnet-0123456789abcdef0" }, SecurityGroupIds = { "sg-0123456789abcdef0" } },
      CompilationJobName = "resnet50-linux",
    } },
  { file = "list_timestamps", name = "ListCompilationJobs with timestamps as epoch seconds",
    client = BASE, operation = "ListCompilationJobs", timestamp = 1700000000,
    params = { CreationTimeAfter = 1690000000, LastModifiedTimeBefore = 1700000000, MaxResults = 25,
               StatusEquals = "COMPLETED", SortBy = "CreationTime", SortOrder = "Descending", NameContains = "res" } },
  { file = "session_token", name = "StopCompilationJob with a session token, eu-west-1 endpoint from the region",
    client = { region_name = "eu-west-1", aws_access_key_id = AKID, aws_secret_access_key = SECRET,
               aws_session_token = "IQoJb3JpZ2luX2VjEXAMPLETOKEN/+=" },
    operation = "StopCompilationJob", params = { CompilationJobName = "job-1" }, timestamp = 1700000123 },
  { file = "unicode_tags", name = "CreateCompilationJob with escapes: non-ASCII tag values, quotes inside JSON-in-string members",
    client = BASE, operation = "CreateCompilationJob", timestamp = 1700000000,
    params = {
      CompilationJobName = "job-utf8",
      RoleArn = "arn:aws:iam::123456789012:role/SageMakerRole",
      InputConfig = { S3Uri = "s3://bucket/model.tar.gz", Framework = "TENSORFLOW",
                      DataInputConfig = '{"input": [1, 224, 224, 3]}' },
      OutputConfig = { S3OutputLocation = "s3://bucket/out/", TargetDevice = "jetson_nano",
                       CompilerOptions = '{"gpu-code": "sm_53", "trt-ver": "7.1.3", "cuda-ver": "10.2"}' },
      StoppingCondition = { MaxRuntimeInSeconds = 900 },
      Tags = { { Key = "owner", Value = "Zoë Ångström 数据" }, { Key = "path", Value = "s3:/a/b+c=d@e_f.g" } },
    } },
  { file = "pipeline_steps", name = "ListPipelineExecutionSteps",
    client = BASE, operation = "ListPipelineExecutionSteps", timestamp = 1700000000,
    params = { PipelineExecutionArn = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/demo/execution/abc123",
               SortOrder = "Ascending", NextToken = "tok==", MaxResults = 10 } },
}

local dir = "tests/fixtures/build_request/"
for _, c in ipairs(cases) do
  local client = smneo.client(with(c.client))
  local req = client:build_request(c.operation, c.params, { timestamp = c.timestamp })
  client:close()
  local copts = {}
  for k, v in pairs(c.client) do copts[k] = v end
  -- User-Agent is not signed and names the version: left out of the expected headers
  local headers = {}
  for k, v in pairs(req.headers) do
    if k:lower() ~= "user-agent" then headers[k] = v end
  end
  local doc = {
    name = c.name, client = copts, operation = c.operation, params = c.params, timestamp = c.timestamp,
    ignore_headers = { "User-Agent" },
    expected = { method = req.method, url = req.url, headers = headers, body = req.body },
  }
  local keyorder = { "name", "client", "operation", "params", "timestamp", "ignore_headers", "expected",
                     "method", "url", "headers", "body" }
  local f = assert(io.open(dir .. c.file .. ".json", "w"))
  f:write(json.encode(doc, { indent = true, keyorder = keyorder }), "\n")
  f:close()
  print("wrote " .. dir .. c.file .. ".json")
end
