# shellcheck shell=sh disable=SC2015,SC2153  # `check && ok || fail`: ok never fails; NAME: set by the suite
# tests/cli/lib.sh: what the CLI suites share. A suite sets its name and
# sources this with the smneo binary as its first argument:
#   NAME=test_s3
#   . "$(dirname "$0")/lib.sh"
# It sets SMNEO (absolute), ROOT, PY (the interpreter itself: a pyenv shim
# costs a second per call), WORK (a fresh directory, removed at exit; the
# process SERVER_PID and those listed in EXTRA_PIDS are killed then), and
# defines:
#   ok, fail TEXT           count a check
#   run NAME RC ARGS...     smneo_cmd ARGS (stdout in $WORK/NAME.out, stderr
#                           in $WORK/NAME.err) must exit with RC; a suite
#                           redefines smneo_cmd to add --endpoint-url, an
#                           environment, setsid... (default: "$SMNEO" ARGS)
#   has NAME out|err TEXT   the output holds TEXT (a fixed string)
#   hasnt NAME out|err TEXT the output does not hold it
#   jcheck NAME EXPR        the Python expression over d (NAME's stdout as
#                           JSON; json, os, re, hashlib imported) is true
#   static_keys             test keys from the environment: every other
#                           AWS_* variable unset, no config or credentials file
#   start_local ARGS...     smneo.local on a free port (SERVER_PID, URL)
#   finish                  the summary line; the suite's exit status
set -u
SMNEO=${1:-build/smneo}
case "$SMNEO" in /*) ;; *) SMNEO=$(pwd)/$SMNEO ;; esac
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=${PYTHON:-python3}
PY=$("$PY" -c 'import sys; print(sys.executable)') || { echo "$NAME: no python3"; exit 1; }
[ -x "$SMNEO" ] || { echo "$NAME: $SMNEO is not built"; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/smneo-$NAME.XXXXXX")
SERVER_PID=""
EXTRA_PIDS=""
cleanup() {
  for pid in $SERVER_PID $EXTRA_PIDS; do
    kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

failures=0
checks=0
ok() { checks=$((checks + 1)); }
fail() { checks=$((checks + 1)); failures=$((failures + 1)); echo "FAIL: $*"; }

smneo_cmd() { "$SMNEO" "$@"; }

run() {
  name=$1 want=$2
  shift 2
  smneo_cmd "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
  got=$?
  [ -n "${CLI_TEST_TIMES:-}" ] && echo "$(date +%s.%N | cut -c1-14) $name" >&2
  if [ "$got" -eq "$want" ]; then ok; else
    fail "$name: exit $got, expected $want"
    sed 's/^/    stderr: /' "$WORK/$name.err" | head -20
  fi
}

has() {
  grep -qF -- "$3" "$WORK/$1.$2" && ok || { fail "$1: no \"$3\" in std$2"; sed 's/^/    /' "$WORK/$1.$2" | head -30; }
}

hasnt() {
  grep -qF -- "$3" "$WORK/$1.$2" && { fail "$1: \"$3\" in std$2"; } || ok
}

jcheck() {
  name=$1 expr=$2
  if "$PY" - "$WORK/$name.out" "$expr" <<'EOF'
import json, sys, os, re, hashlib
with open(sys.argv[1]) as f:
    d = json.load(f)
sys.exit(0 if eval(sys.argv[2]) else 1)
EOF
  then ok; else
    fail "$name: JSON check failed: $expr"
    head -40 "$WORK/$name.out" | sed 's/^/    stdout: /'
  fi
}

static_keys() {
  for v in $(env | sed -n 's/^\(AWS_[A-Z0-9_]*\)=.*/\1/p'); do unset "$v"; done
  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
  export AWS_CONFIG_FILE="$WORK/none" AWS_SHARED_CREDENTIALS_FILE="$WORK/none"
}

start_local() {
  PYTHONPATH="$ROOT/python${PYTHONPATH:+:$PYTHONPATH}" "$PY" -m smneo.local --port 0 "$@" \
    >"$WORK/server.out" 2>"$WORK/server.err" &
  SERVER_PID=$!
  i=0
  while [ ! -s "$WORK/server.out" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  URL=$(head -1 "$WORK/server.out")
  case "$URL" in http://*) ;; *) echo "$NAME: the local endpoint did not start"; cat "$WORK/server.err"; exit 1 ;; esac
}

finish() {
  echo "$NAME: $checks checks, $failures failed"
  [ "$failures" -eq 0 ]
}
