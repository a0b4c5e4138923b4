#!/bin/sh
# shellcheck disable=SC2015  # `check && ok || fail`: ok never fails
# tests/examples/test_c_examples.sh DIR: runs the C examples built into DIR
# (examples/c/*.c: compile_model, list_jobs, describe_job) against the local
# endpoint (python3 -m smneo.local), configured only through the standard AWS
# environment (AWS_ENDPOINT_URL, keys, region) as a user's program would be:
# three compiles (a device, a platform, the same model again: upload skipped),
# the list through the iterator over several pages (and a refused status
# filter), a describe (and a missing job), and Ctrl-C cancelling a compile
# through the progress callback (against a second endpoint with slow jobs).
set -u
DIR=${1:-build/examples}
case "$DIR" in /*) ;; *) DIR=$(pwd)/$DIR ;; esac
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=$(sh "$ROOT/tools/pick-python.sh") || exit 1
PY=$("$PY" -c 'import sys; print(sys.executable)') # the interpreter itself, not a pyenv shim
for p in compile_model list_jobs describe_job; do
  [ -x "$DIR/$p" ] || { echo "test_c_examples: $DIR/$p is not built"; exit 1; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/smneo-c-examples.XXXXXX")
PIDS=""
cleanup() {
  for pid in $PIDS; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
unset AWS_PROFILE AWS_ENDPOINT_URL_S3 AWS_ENDPOINT_URL_SAGEMAKER AWS_REGION 2>/dev/null || true
export AWS_CONFIG_FILE="$WORK/none" AWS_SHARED_CREDENTIALS_FILE="$WORK/none"

failures=0
checks=0
ok() { checks=$((checks + 1)); }
fail() { checks=$((checks + 1)); failures=$((failures + 1)); echo "FAIL: $*"; }

# start NAME JOB_DURATION: a local endpoint; its URL in $WORK/NAME.url
start() {
  PYTHONPATH="$ROOT/python${PYTHONPATH:+:$PYTHONPATH}" "$PY" -m smneo.local --port 0 --job-duration "$2" \
    >"$WORK/$1.server" 2>"$WORK/$1.server.err" &
  PIDS="$PIDS $!"
}
url_of() {
  i=0
  while [ ! -s "$WORK/$1.server" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
  u=$(head -1 "$WORK/$1.server")
  case "$u" in http://*) echo "$u" ;; *) echo "test_c_examples: the endpoint did not start" >&2; cat "$WORK/$1.server.err" >&2; exit 1 ;; esac
}
start fast 1
start slow 300
FAST=$(url_of fast) || exit 1
SLOW=$(url_of slow) || exit 1
for u in "$FAST" "$SLOW"; do
  "$PY" "$ROOT/examples/create_bucket.py" "$u" examples >/dev/null || { echo "test_c_examples: no bucket at $u"; exit 1; }
done
ROLE=arn:aws:iam::123456789012:role/NeoRole
SHAPE='{"input0":[1,4]}'

# run NAME EXPECTED_RC program args...: stdout in $WORK/NAME.out, stderr in $WORK/NAME.err
run() {
  name=$1 want=$2 prog=$3
  shift 3
  "$DIR/$prog" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
  got=$?
  if [ "$got" -eq "$want" ]; then ok; else
    fail "$name: exit $got, expected $want"
    sed 's/^/    stdout: /' "$WORK/$name.out" | head -20
    sed 's/^/    stderr: /' "$WORK/$name.err" | head -20
  fi
}
has() { # NAME out|err REGEX
  if grep -q -- "$3" "$WORK/$1.$2"; then ok; else
    fail "$1: $2 lacks /$3/"
    sed "s/^/    $2: /" "$WORK/$1.$2" | head -20
  fi
}

export AWS_ENDPOINT_URL="$FAST"

# ---- compile_model: the whole flow with a progress callback ------------------------------------
run cloud 0 compile_model "$ROOT/examples/model" PYTORCH "$SHAPE" ml_c5 examples "$ROLE" "$WORK/out-cloud"
has cloud out '^  packing   100% of'
has cloud out '^  uploading 100% of'
has cloud out '^uploaded   s3://examples/smneo/'
has cloud out '^status     COMPLETED'
has cloud out '^verified   [0-9a-f]\{128\}$'
has cloud out '^artifact   .* (digest verified)$'
ART=$(sed -n 's/^artifact   \(.*\) (digest verified)$/\1/p' "$WORK/cloud.out")
[ -n "$ART" ] && [ -s "$ART" ] && ok || fail "cloud: the artifact \"$ART\" is not there"
JOB=$(sed -n 's/^job        //p' "$WORK/cloud.out")
run edge 0 compile_model "$ROOT/examples/model" PYTORCH "$SHAPE" LINUX/ARM64 examples "$ROLE" "$WORK/out-edge"
has edge out '^status     COMPLETED'
run again 0 compile_model "$ROOT/examples/model" PYTORCH "$SHAPE" ml_c5 examples "$ROLE" "$WORK/out-again"
has again out '^uploaded   .*(already there)'
run nomodel 1 compile_model "$WORK/nothing" PYTORCH "$SHAPE" ml_c5 examples "$ROLE" "$WORK/out-none"
has nomodel err '^compile_model: compiling failed: '

# ---- list_jobs: the iterator, two jobs a page ----------------------------------------------------
run list 0 list_jobs
has list out '^3 jobs$'
[ "$(grep -c ' COMPLETED ' "$WORK/list.out")" -eq 3 ] && ok || fail "list: not 3 COMPLETED lines"
has list out ' COMPLETED  *LINUX/ARM64$'
has list out "^$JOB  *COMPLETED  *ml_c5\$"
run list_done 0 list_jobs COMPLETED
has list_done out '^3 jobs$'
run list_failed 0 list_jobs FAILED
has list_failed out '^0 jobs$'
run list_bogus 1 list_jobs NOPE
has list_bogus err 'StatusEquals'

# ---- describe_job ---------------------------------------------------------------------------------
run describe 0 describe_job "$JOB"
has describe out "^name  *$JOB\$"
has describe out '^status  *COMPLETED$'
has describe out '^target  *ml_c5$'
has describe out '^framework  *PYTORCH$'
has describe out '^created  *20[0-9-]*T[0-9:]*Z$'
has describe out '^artifact  *s3://examples/'
EDGE_JOB=$(sed -n 's/^job        //p' "$WORK/edge.out")
run describe_edge 0 describe_job "$EDGE_JOB"
has describe_edge out '^target  *LINUX/ARM64$'
run describe_missing 2 describe_job no-such-job
has describe_missing err 'no job named no-such-job'

# ---- Ctrl-C: the callback returns non-zero, the flow cancels and stops the job ------------------------
AWS_ENDPOINT_URL="$SLOW" "$DIR/compile_model" "$ROOT/examples/model" PYTORCH "$SHAPE" ml_c5 examples "$ROLE" \
  "$WORK/out-int" >"$WORK/int.out" 2>"$WORK/int.err" &
CPID=$!
i=0
while ! grep -q "^status " "$WORK/int.out" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
kill -INT $CPID
wait $CPID
rc=$?
[ $rc -eq 130 ] && ok || { fail "interrupted compile: exit $rc, expected 130"; sed 's/^/    /' "$WORK/int.out" "$WORK/int.err"; }
has int out '^stopping   '
has int err 'interrupted'
IJOB=$(sed -n 's/^created    //p' "$WORK/int.out")
AWS_ENDPOINT_URL=$SLOW
run describe_int 0 describe_job "$IJOB"
has describe_int out '^status  *STOPP\(ING\|ED\)$'

echo "test_c_examples: $checks checks, $failures failed"
[ $failures -eq 0 ]
