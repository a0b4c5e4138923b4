-- smneo.stub: botocore's Stubber for smneo clients in Lua, for busted suites,
-- with the API and semantics of smneo.stub.Stubber in Python (docs/lua.md,
-- "Stubbing"):
--
--   local stub = require "smneo.stub"
--   local stubber = stub.Stubber(client)
--   stubber:add_response("describe_compilation_job", { ... }, { CompilationJobName = stub.ANY })
--   stubber:activate()
--   client:describe_compilation_job{ CompilationJobName = "x" }
--   stubber:assert_no_pending_responses()
--   stubber:deactivate()
--
-- It works through the core's request hook (smneo_client_set_request_hook):
-- a queued answer is the final answer of one SageMaker operation request (a
-- call, a page of a paginator, a poll of the waiter, compile()'s calls),
-- parsed as the service's but never signed, sent or retried, so no
-- credentials or server are needed. Responses are checked against the
-- operation's output shape by the core (smneo_validate_response), as in
-- Python. Errors are error tables (code, kind, message; tostring works):
-- code StubResponseError, StubAssertionError or UnStubbedResponseError, kind
-- "StubResponseError" for all three (Python's base class).
local smneo = require "smneo"

local M = {}

-- Equal to anything: a parameter whose value is not checked.
M.ANY = setmetatable({}, { __name = "smneo.stub.ANY", __tostring = function() return "<ANY>" end })

local OPERATIONS = {} -- method or API name -> API name (SageMaker's operations)
local API = {}
for _, op in ipairs(smneo.operations()) do
  OPERATIONS[op.python_name] = op.name
  OPERATIONS[op.name] = op.name
  API[op.name] = true
end

local function fail(code, operation, reason)
  error(smneo._error(code, "StubResponseError",
                     ("Error getting response stub for operation %s: %s"):format(operation, reason)), 0)
end

-- Python's equality of expected and actual parameters, ANY matching anything.
local function same(expected, actual)
  if expected == M.ANY then
    return true
  end
  if type(expected) ~= "table" or type(actual) ~= "table" then
    return expected == actual
  end
  for k, v in pairs(expected) do
    if actual[k] == nil or not same(v, actual[k]) then
      return false
    end
  end
  for k in pairs(actual) do
    if expected[k] == nil then
      return false
    end
  end
  return true
end

local function show(v, indent)
  indent = indent or ""
  if v == M.ANY then
    return "<ANY>"
  elseif type(v) == "string" then
    return ("%q"):format(v)
  elseif type(v) ~= "table" then
    return tostring(v)
  end
  local keys = {}
  for k in pairs(v) do
    keys[#keys + 1] = k
  end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local parts = {}
  for _, k in ipairs(keys) do
    parts[#parts + 1] = indent .. "  " .. tostring(k) .. " = " .. show(v[k], indent .. "  ")
  end
  if #parts == 0 then
    return "{}"
  end
  return "{\n" .. table.concat(parts, ",\n") .. "\n" .. indent .. "}"
end

-- The hook's answer for an operation request: the next queued response,
-- after checking the operation and the parameters (botocore's order).
local function answer(queue, operation, params)
  if not API[operation] then
    return nil -- CloudWatch Logs, STS: not the client's operations
  end
  local head = queue[1]
  if not head then
    fail("UnStubbedResponseError", operation,
         "Unexpected API Call: A call was made but no additional calls expected. Either the API Call was not "
         .. "stubbed or it was called multiple times.")
  end
  if head.operation ~= operation then
    fail("StubResponseError", operation, ("Operation mismatch: found response for %s."):format(head.operation))
  end
  if head.expected ~= nil and not same(head.expected, params) then
    fail("StubAssertionError", operation,
         ("Expected parameters:\n%s,\nbut received:\n%s"):format(show(head.expected), show(params)))
  end
  table.remove(queue, 1)
  return head.status, head.headers, head.body
end

local Stubber = {}
Stubber.__index = Stubber
Stubber.__name = "smneo.stub.Stubber"

-- stub.Stubber(client): queues responses for the client's calls, in order.
function M.Stubber(client)
  return setmetatable({ client = client, queue = {} }, Stubber)
end

local function operation_of(self, method)
  local operation = type(method) == "string" and OPERATIONS[method]
  if not operation then
    error(smneo._error("InvalidParameter", "InvalidParameter",
                       ("Client sagemaker does not have method: %s"):format(tostring(method))), 2)
  end
  return operation
end

local function headers_of(meta)
  return { ["Content-Type"] = "application/x-amz-json-1.1",
           ["x-amzn-RequestId"] = tostring(meta and meta.RequestId or "") }
end

-- Answers the client's SageMaker requests from the queue from now on;
-- returns the stubber (`local s <close> = stub.Stubber(c):activate()` on 5.4).
function Stubber:activate()
  local queue = self.queue -- the hook holds the queue, not the stubber
  self.client:_set_request_hook(function(operation, params) return answer(queue, operation, params) end)
  return self
end

-- Lets the client's requests go to the service again.
function Stubber:deactivate()
  self.client:_set_request_hook(nil)
end

Stubber.__close = Stubber.deactivate

-- Queues a successful response for method (checked against the operation's
-- output shape); expected_params, when given, must equal the call's
-- parameters (stub.ANY matches any value).
function Stubber:add_response(method, service_response, expected_params)
  local operation = operation_of(self, method)
  local body = {}
  for k, v in pairs(service_response or {}) do
    if k ~= "ResponseMetadata" then
      body[k] = v
    end
  end
  local json = smneo._validate_response(operation, body)
  self.queue[#self.queue + 1] = { operation = operation, status = 200,
                                  headers = headers_of((service_response or {}).ResponseMetadata),
                                  body = json, expected = expected_params }
end

-- Queues an error response: the call raises the service error
-- service_error_code, as botocore's Stubber does. The arguments of Python's
-- add_client_error, in its order, or as one table of them after method.
function Stubber:add_client_error(method, service_error_code, service_message, http_status_code,
                                  service_error_meta, expected_params, response_meta, modeled_fields)
  if type(service_error_code) == "table" then
    local a = service_error_code
    service_error_code, service_message, http_status_code = a.service_error_code, a.service_message,
                                                            a.http_status_code
    service_error_meta, expected_params, response_meta = a.service_error_meta, a.expected_params, a.response_meta
    modeled_fields = a.modeled_fields
  end
  local operation = operation_of(self, method)
  local body = { __type = service_error_code or "", Message = service_message or "" }
  for k, v in pairs(service_error_meta or {}) do
    body[k] = v
  end
  for k, v in pairs(modeled_fields or {}) do
    body[k] = v
  end
  self.queue[#self.queue + 1] = { operation = operation, status = http_status_code or 400,
                                  headers = headers_of(response_meta), body = smneo._json(body),
                                  expected = expected_params }
end

-- Raises an AssertionError when queued responses were not used.
function Stubber:assert_no_pending_responses()
  if #self.queue > 0 then
    error(smneo._error("AssertionError", "AssertionError", ("%d responses remaining in queue."):format(#self.queue)),
          2)
  end
end

return M
