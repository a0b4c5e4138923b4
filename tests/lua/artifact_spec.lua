-- smneo.artifact from Lua: pack, digest, verify (progress callbacks under
-- lua_pcall; an error in one cancels and is re-raised).
local smneo = require "smneo"
local safe = require "smneo.safe"

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("*a")
  p:close()
  return out
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

local function write(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

describe("smneo.artifact", function()
  local dir

  lazy_setup(function()
    dir = sh("mktemp -d"):gsub("%s+$", "")
    assert(os.execute("mkdir -p " .. dir .. "/model/code"))
    write(dir .. "/model/model.pth", string.rep("weights", 50000))
    write(dir .. "/model/code/inference.py", "print('hi')\n")
  end)

  lazy_teardown(function()
    if dir and dir:match("^/tmp/") then os.execute("rm -rf " .. dir) end
  end)

  it("packs a directory reproducibly and reports path, size and digest", function()
    local a = smneo.artifact.pack(dir .. "/model", dir .. "/a.tar.gz")
    assert.are.equal(dir .. "/a.tar.gz", a.path)
    local f = assert(io.open(a.path, "rb"))
    assert.are.equal(f:seek("end"), a.size)
    f:close()
    assert.truthy(a.digest:match("^" .. string.rep("%x", 128) .. "$"))
    assert.are.equal(a.digest, smneo.artifact.digest(a.path))
    local listing = sh("tar -tzf " .. a.path)
    assert.truthy(listing:find("model.pth", 1, true))
    assert.truthy(listing:find("code/inference.py", 1, true))
    local b = smneo.artifact.pack(dir .. "/model", dir .. "/b.tar.gz", { threads = 1 })
    assert.are.equal(a.digest, b.digest)
  end)

  it("packs a list of files relative to base_dir", function()
    local r = smneo.artifact.pack({ "model.pth" }, dir .. "/list.tar.gz", { base_dir = dir .. "/model", compresslevel = 1 })
    assert.are.equal("model.pth\n", sh("tar -tzf " .. r.path))
  end)

  it("digests with other algorithms and matches b2sum", function()
    local path = dir .. "/model/model.pth"
    local b2 = sh("b2sum " .. path):match("^(%x+)")
    if b2 then assert.are.equal(b2, smneo.artifact.digest(path)) end
    assert.are.equal(sh("sha256sum " .. path):match("^(%x+)"), smneo.artifact.digest(path, "sha256"))
    assert.are.equal(64, #smneo.artifact.digest(path, "blake2b-256"))
    local ok, err = pcall(smneo.artifact.digest, path, "md5")
    assert.is_false(ok)
    assert.are.equal("InvalidArgument", err.code)
  end)

  it("verifies digests and raises DigestMismatch", function()
    local path = dir .. "/model/model.pth"
    local d = smneo.artifact.digest(path)
    assert.is_true(smneo.artifact.verify(path, d))
    assert.is_true(smneo.artifact.verify(path, "sha256:" .. smneo.artifact.digest(path, "sha256")))
    local ok, err = pcall(smneo.artifact.verify, path, string.rep("0", 128))
    assert.is_false(ok)
    assert.are.equal("DigestMismatch", err.code)
    local v, verr = safe.artifact.verify(path, "not-a-digest")
    assert.is_nil(v)
    assert.are.equal("InvalidArgument", verr.code)
  end)

  it("reports progress and cancels on false or on an error, leaving no file", function()
    local calls, last = 0, nil
    smneo.artifact.pack(dir .. "/model", dir .. "/p.tar.gz", {
      progress = function(done, total) calls = calls + 1; last = { done, total } end,
    })
    assert.is_true(calls >= 1)
    assert.are.equal(last[1], last[2])

    local ok, err = pcall(smneo.artifact.pack, dir .. "/model", dir .. "/c.tar.gz", {
      progress = function() return false end,
    })
    assert.is_false(ok)
    assert.are.equal("Cancelled", err.code)
    assert.is_false(exists(dir .. "/c.tar.gz"))

    ok, err = pcall(smneo.artifact.pack, dir .. "/model", dir .. "/e.tar.gz", {
      progress = function() error("progress failed", 0) end,
    })
    assert.is_false(ok)
    assert.are.equal("progress failed", err)
    assert.is_false(exists(dir .. "/e.tar.gz"))
    assert.is_false(exists(dir .. "/c.tar.gz"))
  end)

  it("inspects members and checks the layout for a framework", function()
    local r = smneo.artifact.inspect(dir .. "/a.tar.gz", { framework = "PYTORCH" })
    assert.is_true(r.single_gzip_member)
    assert.are.equal(smneo.array_mt, getmetatable(r.members))
    local by = {}
    for _, m in ipairs(r.members) do by[m.name] = m end
    assert.are.equal("file", by["model.pth"].type)
    assert.are.equal(350000, by["model.pth"].size)
    assert.are.equal("file", by["code/inference.py"].type)
    local rules = {}
    for _, i in ipairs(r.issues) do rules[i.rule] = i end
    local sd = rules["artifact.pytorch.state-dict"]
    assert.truthy(sd, "a finding that model.pth is not TorchScript")
    assert.are.equal("model.pth", sd.path)
    assert.truthy(sd.message:find("torch.jit", 1, true))
    local plain = smneo.artifact.inspect(dir .. "/a.tar.gz")
    assert.are.equal(0, #plain.issues)
    local ok, err = pcall(smneo.artifact.inspect, dir .. "/model/model.pth")
    assert.is_false(ok)
    assert.are.equal("ArchiveError", err.code)
  end)

  it("extracts into a new directory and refuses unsafe archives, leaving nothing", function()
    assert.is_true(smneo.artifact.extract(dir .. "/a.tar.gz", dir .. "/out"))
    local f = assert(io.open(dir .. "/out/code/inference.py", "rb"))
    assert.are.equal("print('hi')\n", f:read("*a"))
    f:close()
    local ok, err = pcall(smneo.artifact.extract, dir .. "/a.tar.gz", dir .. "/out")
    assert.is_false(ok)
    assert.are.equal("InvalidArgument", err.code)

    -- an archive with a "../" member
    local py = io.open("/usr/bin/python3") and "/usr/bin/python3" or "python3"
    sh(py .. [[ -c "import io,tarfile; t=tarfile.open(']] .. dir .. [[/evil.tar.gz','w:gz'); ]] ..
       [[i=tarfile.TarInfo('../evil.txt'); d=b'gotcha'; i.size=len(d); t.addfile(i, io.BytesIO(d)); t.close()"]])
    local before = sh("ls -A " .. dir)
    ok, err = pcall(smneo.artifact.extract, dir .. "/evil.tar.gz", dir .. "/evil-out")
    assert.is_false(ok)
    assert.are.equal("UnsafeArchive", err.code)
    assert.truthy(err.message:find("evil.txt", 1, true))
    assert.is_false(exists(dir .. "/evil.txt"))
    assert.are.equal(before, sh("ls -A " .. dir)) -- no destination, no temporary left

    ok, err = pcall(smneo.artifact.extract, dir .. "/a.tar.gz", dir .. "/small", { max_bytes = 1000 })
    assert.is_false(ok)
    assert.are.equal("UnsafeArchive", err.code)
    assert.are.equal(before, sh("ls -A " .. dir))
  end)

  it("inspects under extract's limits: a gzip bomb is refused", function()
    assert(os.execute("mkdir -p " .. dir .. "/bomb && truncate -s 24M " .. dir .. "/bomb/zeros"))
    local bomb = smneo.artifact.pack(dir .. "/bomb", dir .. "/bomb.tar.gz", { compresslevel = 9 }).path
    local ok, err = pcall(smneo.artifact.inspect, bomb)
    assert.is_false(ok)
    assert.are.equal("UnsafeArchive", err.code)
    assert.truthy(err.message:find("compression ratio", 1, true))
    ok, err = pcall(smneo.artifact.inspect, bomb, { max_ratio = -1, max_bytes = 1000000 })
    assert.is_false(ok)
    assert.are.equal("UnsafeArchive", err.code)
    assert.truthy(err.message:find("max_bytes", 1, true))
    local info = smneo.artifact.inspect(bomb, { max_ratio = 5000 })
    assert.are.equal(24 * 1024 * 1024, info.members[1].size)
    ok, err = pcall(smneo.artifact.inspect, bomb, { max_bytes = 0 })
    assert.is_false(ok)
    assert.truthy(err.message:find("inspect: max_bytes must be at least 1", 1, true))
  end)

  it("refuses bad input with clear errors", function()
    local ok, err = pcall(smneo.artifact.pack, dir .. "/missing", dir .. "/x.tar.gz")
    assert.is_false(ok)
    assert.is_string(err.message)
    ok, err = pcall(smneo.artifact.pack, dir .. "/model", dir .. "/x.tar.gz", { compresslevel = 11 })
    assert.is_false(ok)
    assert.truthy(err.message:find("compresslevel", 1, true))
    ok, err = pcall(smneo.artifact.digest, dir .. "/missing")
    assert.is_false(ok)
    assert.are.equal("IOError", err.code)
  end)
end)
