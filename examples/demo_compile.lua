-- The Lua half of the demo (examples/demo.sh):
--
--   lua5.4 examples/demo_compile.lua ENDPOINT_URL BUCKET ROLE_ARN OUTPUT_DIR
--
-- Compiles examples/model for a cloud instance (ml_c5) and an edge device
-- (TargetPlatform LINUX/ARM64 with compiler options) with client:compile,
-- printing each job's status changes, the verified digest and where the
-- compiled files are. Raises (non-zero exit) when a compile fails or an
-- artifact is not verified. Credentials and region come from the
-- environment (the demo exports the local endpoint's test keys).
local smneo = require "smneo"

local url, bucket, role, out = arg[1], arg[2], arg[3], arg[4]
assert(url and bucket and role and out, "usage: demo_compile.lua ENDPOINT_URL BUCKET ROLE_ARN OUTPUT_DIR")
local here = (arg[0]:match("^(.*)/[^/]*$") or ".")
local model = here .. "/model"

local targets = {
  { name = "cloud", target_device = "ml_c5" },
  { name = "edge", target_os = "LINUX", target_arch = "ARM64", compiler_options = '{"mcpu":"cortex-a72"}' },
}

local client = smneo.client{ endpoint_url = url }
for _, t in ipairs(targets) do
  print("-- lua: " .. t.name)
  local result = client:compile{
    model = model, framework = "PYTORCH", role_arn = role, s3_bucket = bucket, s3_prefix = "demo/lua",
    data_input_config = '{"input0":[1,4]}', job_name = "lua-" .. t.name, output_dir = out .. "/" .. t.name,
    extract = true, timeout = 60, delay = 0.5, max_delay = 1,
    target_device = t.target_device, target_os = t.target_os, target_arch = t.target_arch,
    compiler_options = t.compiler_options,
    callback = function(ev)
      if ev.kind == "CREATED" then
        print("created    " .. ev.message)
      elseif ev.kind == "UPLOADED" then
        print("uploaded   " .. ev.message)
      elseif ev.kind == "STATUS" then
        print(string.format("status     %-10s %5.1fs", ev.message, ev.elapsed))
      elseif ev.kind == "WARNING" then
        print("warning    " .. ev.message)
      end
      io.stdout:flush()
    end,
  }
  local job = result.job
  print(string.format("job        %s: %s", result.job_name, job.CompilationJobStatus))
  print(string.format("digest     %s (verified: %s)", job.ModelDigests.ArtifactDigest, tostring(result.digest_verified)))
  print("artifact   " .. tostring(result.artifact_path))
  print("extracted  " .. tostring(result.extracted_dir))
  io.stdout:flush()
  assert(job.CompilationJobStatus == "COMPLETED" and result.digest_verified,
         "lua: " .. t.name .. " did not complete with a verified digest")
end
client:close()
