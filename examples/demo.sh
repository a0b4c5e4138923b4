#!/bin/sh
# examples/demo.sh: the README's main job (`make demo`, which builds first).
#
# Starts the local SageMaker Neo + S3 endpoint (python3 -m smneo.local), then
# compiles the example model (examples/model) for a cloud instance (ml_c5)
# and an edge device (TargetPlatform LINUX/ARM64 with compiler options)
# three ways: the `smneo` CLI, Python (smneo.Client.compile) and Lua
# (client:compile). Each run prints the job's status progression, the
# verified digest and where the compiled files are. Exits 0 only when every
# step succeeded; the endpoint is stopped on exit.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${BUILD:-build}
SMNEO=$ROOT/$BUILD/smneo
OUT=$ROOT/$BUILD/demo
PY=$(sh tools/pick-python.sh)
PY=$("$PY" -c 'import sys; print(sys.executable)')

step() { printf '\n==> %s\n' "$*"; }

SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ -x "$SMNEO" ] || { echo "demo: $SMNEO is missing: run \`make demo\` (it builds first)" >&2; exit 1; }

step "Python extension ($PY)"
if ! "$PY" -c 'import setuptools' 2>/dev/null; then
  sh tools/install-deps.sh python3-setuptools # setup.py needs it; Debian ships it apart
fi
"$PY" setup.py -q build_ext --inplace >/dev/null

step "the example model (examples/make_model.py: a tiny TorchScript archive, standard library only)"
"$PY" examples/make_model.py
rm -rf "$OUT"
mkdir -p "$OUT"

step "local endpoint (python3 -m smneo.local --port 0 --job-duration 2)"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
unset AWS_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_ENDPOINT_URL_SAGEMAKER 2>/dev/null || true
PYTHONPATH="$ROOT/python${PYTHONPATH:+:$PYTHONPATH}" "$PY" -m smneo.local --port 0 --job-duration 2 \
  >"$OUT/server.out" 2>"$OUT/server.err" &
SERVER_PID=$!
i=0
while [ ! -s "$OUT/server.out" ] && [ $i -lt 150 ]; do
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.1
  i=$((i + 1))
done
URL=$(head -1 "$OUT/server.out" 2>/dev/null || true)
case "$URL" in
http://*) echo "endpoint $URL" ;;
*) echo "demo: the local endpoint did not start:" >&2; cat "$OUT/server.err" >&2; exit 1 ;;
esac
BUCKET=smneo-demo
ROLE=arn:aws:iam::123456789012:role/service-role/NeoDemoRole
"$PY" examples/create_bucket.py "$URL" "$BUCKET"

SHAPE='{"input0":[1,4]}'
EDGE_OPTS='{"mcpu":"cortex-a72"}'

# cli_compile NAME TARGET-FLAGS...: compile with the CLI, then check the
# artifact again with `smneo verify` against the job's ArtifactDigest.
cli_compile() {
  name=$1
  shift
  step "CLI: $name"
  "$SMNEO" --endpoint-url "$URL" compile --model examples/model --framework PYTORCH --input-shape "$SHAPE" \
    --role "$ROLE" --bucket "$BUCKET" --prefix "demo/cli" --job-name "cli-$name" \
    --output-dir "$OUT/cli-$name" --extract --delay 0.5 --max-delay 1 --timeout 60 "$@" \
    --output json >"$OUT/cli-$name.json"
  "$PY" - "$OUT/cli-$name.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
print("job        %s: %s" % (d["CompilationJobName"], d["CompilationJobStatus"]))
print("digest     %s (verified: %s)" % (d["ArtifactDigest"], d["DigestVerified"]))
print("artifact   %s" % d["ArtifactPath"])
print("extracted  %s" % d["ExtractedDir"])
sys.exit(0 if d["CompilationJobStatus"] == "COMPLETED" and d["DigestVerified"] else 1)
EOF
  art=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["ArtifactPath"])' "$OUT/cli-$name.json")
  dig=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["ArtifactDigest"])' "$OUT/cli-$name.json")
  "$SMNEO" verify "$art" "$dig"
}

cli_compile cloud --target ml_c5
cli_compile edge --platform LINUX/ARM64 --compiler-options "$EDGE_OPTS"

step "Python: smneo.Client(endpoint_url=...).compile(...)"
PYTHONPATH="$ROOT/python${PYTHONPATH:+:$PYTHONPATH}" "$PY" examples/demo_compile.py \
  "$URL" "$BUCKET" "$ROLE" "$OUT/python"

step "Lua 5.4: smneo.client{...}:compile{...}"
LUA_PATH="$ROOT/lua/?.lua;$ROOT/lua/?/init.lua;;" LUA_CPATH="$ROOT/$BUILD/lua5.4/?.so;;" \
  lua5.4 examples/demo_compile.lua "$URL" "$BUCKET" "$ROLE" "$OUT/lua"

step "jobs on the endpoint"
"$SMNEO" --endpoint-url "$URL" list --sort-by CreationTime

step "demo: every step succeeded; compiled files under $OUT"
