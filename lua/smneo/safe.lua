-- smneo.safe: the smneo API, but failures return `nil, err` instead of
-- raising (the OpenResty habit). `err` is the same error table smneo raises
-- (code, message, status, request_id, retryable, issues; tostring() works),
-- or, when a callback of yours raised, whatever it raised.
--
-- Safe iterators yield `false, err` once when a page fails and then end:
--
--   for job, err in client:iter_compilation_jobs{} do
--     if not job then print("listing failed: " .. tostring(err)) break end
--   end
--
-- require("smneo.safe") wraps the plain module; safe.wrap(require "smneo.resty")
-- gives the same for the OpenResty driver.
local M = {}

local function ret(ok, ...)
  if ok then
    return ...
  end
  return nil, (...)
end

local function safe_fn(f)
  return function(...)
    return ret(pcall(f, ...))
  end
end

-- Wraps an iterator factory method: returns a loop iterator that never raises.
local function safe_iter(method, real, ...)
  local ok, it, state, ctl, closer = pcall(method, real, ...)
  if not ok then
    local err, reported = it, false
    return function()
      if reported then return nil end
      reported = true
      return false, err
    end
  end
  local ended = false
  return function()
    if ended then return nil end
    local ok2, v = pcall(it, state, ctl)
    if not ok2 then
      ended = true
      return false, v
    end
    if v == nil then ended = true end
    return v
  end, nil, nil, closer
end

local function wrap_client(real)
  local cache = {}
  local proxy = { _real = real }
  local mt = {}
  mt.__index = function(_, k)
    local cached = cache[k]
    if cached then return cached end
    local m = real[k]
    if type(m) ~= "function" then return m end
    local w
    if type(k) == "string" and k:sub(1, 5) == "iter_" then
      w = function(_, ...) return safe_iter(m, real, ...) end
    elseif k == "close" then
      w = function() return real:close() end
    else
      w = function(_, ...) return ret(pcall(m, real, ...)) end
    end
    cache[k] = w
    return w
  end
  mt.__tostring = function() return "safe " .. tostring(real) end
  mt.__close = function() real:close() end
  return setmetatable(proxy, mt)
end

-- Returns a safe version of a module with the smneo API (smneo, smneo.resty).
function M.wrap(base)
  local safe = {}
  for k, v in pairs(base) do
    if k == "client" then
      safe.client = function(...)
        local ok, c = pcall(v, ...)
        if not ok then return nil, c end
        return wrap_client(c)
      end
    elseif type(v) == "function" then
      safe[k] = safe_fn(v)
    elseif k == "artifact" and type(v) == "table" then
      local a = {}
      for name, f in pairs(v) do
        a[name] = type(f) == "function" and safe_fn(f) or f
      end
      safe.artifact = a
    else
      safe[k] = v
    end
  end
  safe.wrap = M.wrap
  safe.unsafe = base
  return safe
end

local smneo = require "smneo"
local safe = M.wrap(smneo)
return safe
