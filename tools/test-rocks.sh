#!/bin/sh
# `luarocks make` of smneo-scm-1.rockspec for Lua 5.4 and, with
# --lua-version=5.1 and LuaJIT's headers, for LuaJIT, each into a temporary
# tree (--tree), then a smoke test from each tree alone (LUA_PATH/LUA_CPATH
# name only the tree): require smneo and smneo.safe, smneo.resty installed,
# the version of core/include/smneo/version.h, a create + describe and an
# error against smneo.local. Without a network when `unshare -n` works
# (root): the rock must need nothing from a rocks server.
set -eu
cd "$(dirname "$0")/.."
PY=${SMNEO_TEST_PYTHON:-python3}
[ -z "${SMNEO_TEST_PYTHON:-}" ] && [ -x /usr/bin/python3 ] && PY=/usr/bin/python3
command -v luarocks >/dev/null || { echo "rocks: luarocks missing (apt-get install luarocks)" >&2; exit 1; }
tmp=$(mktemp -d)
localpid=""
cleanup() {
  [ -n "$localpid" ] && kill "$localpid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
offline=""
if unshare -n true 2>/dev/null; then offline="unshare -n"; fi

want=$(sed -n 's/^#define SMNEO_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' core/include/smneo/version.h |
  paste -sd. -)
: >"$tmp/local.out"
"$PY" tests/lua/helpers/run_local.py --port 0 --credentials test:test >"$tmp/local.out" 2>"$tmp/local.err" &
localpid=$!
i=0
while [ "$(wc -l <"$tmp/local.out")" -lt 2 ]; do
  i=$((i + 1)); [ $i -gt 200 ] && { cat "$tmp/local.err" >&2; echo "rocks: smneo.local did not start" >&2; exit 1; }
  sleep 0.05
done
url=$(sed -n 2p "$tmp/local.out")

cat >"$tmp/smoke.lua" <<'LUA'
local smneo = require "smneo"
local safe = require "smneo.safe"
assert(io.open(arg[2]), "smneo.resty is not installed")
local c = smneo.client{ endpoint_url = arg[1], region_name = "us-east-1", aws_access_key_id = "test",
                        aws_secret_access_key = "test", max_attempts = 1 }
c:create_compilation_job{
  CompilationJobName = arg[3], RoleArn = "arn:aws:iam::123456789012:role/neo",
  InputConfig = { S3Uri = "s3://bucket/model.tar.gz", Framework = "PYTORCH",
                  DataInputConfig = '{"input0": [1, 3, 224, 224]}' },
  OutputConfig = { S3OutputLocation = "s3://bucket/out/", TargetDevice = "ml_c5" },
  StoppingCondition = { MaxRuntimeInSeconds = 900 },
}
local job = c:describe_compilation_job{ CompilationJobName = arg[3] }
local sc = assert(safe.client{ endpoint_url = arg[1], region_name = "us-east-1", aws_access_key_id = "test",
                               aws_secret_access_key = "test", max_attempts = 1 })
local _, err = sc:describe_compilation_job{ CompilationJobName = "no-such-job" }
c:close()
sc:close()
io.write(smneo._VERSION, " ", smneo.version, " ", job.CompilationJobName, " ", err.code)
LUA

jitinc=$(pkg-config --variable=includedir luajit)
[ -f "$jitinc/lua.h" ] || { echo "rocks: LuaJIT headers not found (apt-get install libluajit2-5.1-dev)" >&2; exit 1; }
status=0
for flavour in lua5.4 luajit; do
  tree="$tmp/tree-$flavour"
  if [ "$flavour" = lua5.4 ]; then
    v=5.4 incdir="" job=rock-smoke-54
  else
    v=5.1 incdir="LUA_INCDIR=$jitinc" job=rock-smoke-jit
  fi
  # shellcheck disable=SC2086
  if ! $offline luarocks --lua-version=$v --tree "$tree" make smneo-scm-1.rockspec $incdir \
    >"$tmp/make-$flavour.log" 2>&1; then
    tail -n 30 "$tmp/make-$flavour.log" >&2
    echo "rocks: luarocks make for $flavour failed${offline:+ (without a network)}" >&2
    status=1; continue
  fi
  out=$(env -u LUA_INIT -u LUA_INIT_5_4 LUA_PATH="$tree/share/lua/$v/?.lua" LUA_CPATH="$tree/lib/lua/$v/?.so" \
    AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
    "$flavour" "$tmp/smoke.lua" "$url" "$tree/share/lua/$v/smneo/resty.lua" "$job" 2>&1) || true
  if [ "$out" = "smneo $want $want $job ResourceNotFound" ]; then
    echo "ok  rocks: $flavour: luarocks make${offline:+ (no network)} into a --tree; require, version $want, describe"
  else
    echo "rocks: $flavour smoke test: expected 'smneo $want $want $job ResourceNotFound', got '$out'" >&2
    status=1
  fi
done
exit $status
