#!/bin/sh
# shellcheck disable=SC2015  # `check && ok || fail`: ok never fails
# tests/cli/test_logs.sh SMNEO: a compilation job's log from the CLI
# (docs/logs.md) against a local endpoint: `smneo logs` of a completed job
# (the same lines as the server's own view, --output json, --tail, --since),
# `smneo logs --follow` from before the first line to the job's end,
# `smneo compile` of jobs failed with catalogue entries (the reason, the log's
# last lines and the diagnosis's fix on stderr; --logs streams them; the JSON
# document carries them), `smneo wait` and `wait --logs` of a FAILED job, a
# log refused (AccessDeniedException from Logs) leaving the failure and its
# diagnosis intact, no log yet, Ctrl-C during --follow, usage errors.
# Run from the repository root:
#   sh tests/cli/test_logs.sh build/smneo
# shellcheck disable=SC2034  # NAME: read by lib.sh
NAME=test_logs
# shellcheck source=tests/cli/lib.sh
. "$(dirname "$0")/lib.sh"
static_keys
smneo_cmd() { "$SMNEO" --endpoint-url "$URL" "$@"; }
post() { curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary "$2" "$URL$1"; }
start_local --job-duration 0.3
"$PY" "$ROOT/examples/create_bucket.py" "$URL" models >/dev/null 2>&1 && ok || fail "create the bucket"

COMPILE="compile --model $ROOT/examples/model --framework PYTORCH --input-shape {\"input0\":[1,4]} --target ml_c5
  --role arn:aws:iam::123456789012:role/NeoRole --bucket models --delay 0.05 --max-delay 0.2 --quiet"
# server_view JOB: the messages of GET /_smneo/logs?job=JOB, one a line
server_view() {
  curl -s "$URL/_smneo/logs?job=$1" | "$PY" -c 'import json, sys; [print(e["message"]) for e in json.load(sys.stdin)["events"]]'
}

# ---- a completed job -------------------------------------------------------------------------------
# shellcheck disable=SC2086
run ok_compile 0 $COMPILE --output-dir "$WORK/out"
JOB=$(sed -n 's/^CompilationJobName  *//p' "$WORK/ok_compile.out")
[ -n "$JOB" ] && ok || fail "no job name in the compile output"
run logs 0 logs "$JOB"
server_view "$JOB" >"$WORK/view.txt"
sed 's/^[^ ]*  //' "$WORK/logs.out" >"$WORK/logs.msgs"
[ "$(wc -l <"$WORK/view.txt")" -ge 5 ] && cmp -s "$WORK/view.txt" "$WORK/logs.msgs" && ok \
  || { fail "smneo logs differs from the server's view"; diff "$WORK/view.txt" "$WORK/logs.msgs" | head; }
grep -q "^20[0-9-]*T[0-9:.]*Z  " "$WORK/logs.out" && ok || fail "no timestamps: $(head -2 "$WORK/logs.out")"
run logs_json 0 logs "$JOB" --output json
"$PY" - "$WORK" "$JOB" <<'EOF' && ok || fail "--output json lines"
import json, sys
work, job = sys.argv[1:3]
events = [json.loads(l) for l in open(work + "/logs_json.out")]
msgs = open(work + "/view.txt").read().splitlines()
assert [e["message"] for e in events] == msgs
assert all(e["logStreamName"] == job or e["logStreamName"].startswith(job + "/") for e in events)
assert all(e["timestamp"].endswith("+00:00") and e["timestampMillis"] > 1e12 for e in events)
EOF
run tail 0 logs "$JOB" --tail 2
[ "$(sed 's/^[^ ]*  //' "$WORK/tail.out")" = "$(tail -2 "$WORK/view.txt")" ] && ok || fail "--tail 2: $(cat "$WORK/tail.out")"
run since_future 0 logs "$JOB" --since 2999-01-01T00:00:00Z
[ ! -s "$WORK/since_future.out" ] && ok || fail "--since in the future printed lines"
run since_recent 0 logs "$JOB" --since 1h
cmp -s "$WORK/logs.out" "$WORK/since_recent.out" && ok || fail "--since 1h"

# ---- failed jobs: reason, the log's last lines, the fix ---------------------------------------------
# catalogue entries failing the next compiles (one diagnosed from the log line, one from FailureReason)
[ "$(post /_smneo/faults '[{"kind":"fail","failure":"unsupported-operator","job":"model-*","params":{"operators":"aten::frobnicate"}},
  {"kind":"fail","failure":"pytorch-model-count","job":"model-*","count":3}]')" = 200 ] && ok || fail "faults"
# shellcheck disable=SC2086
run failed_op 5 $COMPILE
has failed_op err "failed: ClientError: InputConfiguration: TVM cannot convert PYTORCH model"
has failed_op err "lines of the log of model-"
has failed_op err "  20"
has failed_op err "tvm.error.OpNotImplemented: OperatorNotImplemented"
has failed_op err "Diagnosis: operator-not-implemented (a compilation error)"
has failed_op err "Fix: "
# --logs: the lines as they come (stdout), the diagnosis after
# shellcheck disable=SC2086
run failed_logs 5 $COMPILE --logs
has failed_logs out "Exactly one .pt or .pth file is allowed"
has failed_logs err "Diagnosis: pytorch-model-files (a load error)"
has failed_logs err "Fix: Keep only the TorchScript model file"
# --output json: the document carries the lines and the diagnosis
# shellcheck disable=SC2086
run failed_json 5 $COMPILE --output json
"$PY" - "$WORK" <<'EOF' && ok || fail "compile --output json of a FAILED job"
import json, sys
d = json.load(open(sys.argv[1] + "/failed_json.out"))
assert d["CompilationJobStatus"] == "FAILED" and d["Diagnosis"]["Id"] == "pytorch-model-files", d.get("Diagnosis")
assert d["Diagnosis"]["Fix"] and 3 <= len(d["Logs"]) <= 50
assert any("failed: ClientError" in e["message"] for e in d["Logs"])
EOF
FAILED_JOB=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["CompilationJobName"])' "$WORK/failed_json.out")
run wait_failed 5 wait "$FAILED_JOB" --delay 0.05
has wait_failed err "FAILED: ClientError: InputConfiguration: Exactly one .pt or .pth"
has wait_failed err "lines of the log of $FAILED_JOB"
has wait_failed err "Diagnosis: pytorch-model-files"
run explain_fetch 0 explain "$FAILED_JOB"
has explain_fetch out "Diagnosis: pytorch-model-files"

# ---- follow: from before the first line to the job's end --------------------------------------------
[ "$(post /_smneo/settings '{"job_duration": 1.5}')" = 200 ] && ok || fail "settings"
post /_smneo/faults '{"kind":"fail","failure":"unsupported-operator","job":"follow-1","params":{"operators":"aten::frobnicate"}}' >/dev/null
cat >"$WORK/follow.json" <<EOF
{"CompilationJobName": "follow-1", "RoleArn": "arn:aws:iam::123456789012:role/NeoRole",
 "InputConfig": {"S3Uri": "s3://models/in/model.tar.gz", "Framework": "PYTORCH", "DataInputConfig": "{\"input0\": [1, 4]}"},
 "OutputConfig": {"S3OutputLocation": "s3://models/out", "TargetDevice": "ml_c5"}}
EOF
run create_follow 0 create --cli-input-json "$WORK/follow.json"
run follow 0 logs follow-1 --follow --delay 0.05 --max-delay 0.2
has follow err "no log yet"
server_view follow-1 >"$WORK/follow_view.txt"
sed 's/^[^ ]*  //' "$WORK/follow.out" | cmp -s - "$WORK/follow_view.txt" && ok \
  || { fail "--follow missed lines"; sed 's/^[^ ]*  //' "$WORK/follow.out" | diff - "$WORK/follow_view.txt" | head; }
has follow out "Compilation job follow-1 failed"
# wait --logs: the lines, then the diagnosis (the job has ended: one round)
run wait_logs 5 wait follow-1 --logs --delay 0.05
has wait_logs out "tvm.error.OpNotImplemented"
has wait_logs err "Diagnosis: operator-not-implemented"

# ---- the log refused: the failure stays what it is -----------------------------------------------------
post /_smneo/settings '{"job_duration": 0.3}' >/dev/null
post /_smneo/faults '[{"kind":"fail","failure":"pytorch-model-count","job":"model-*"},{"kind":"deny","target":"logs","rate":1}]' >/dev/null
# shellcheck disable=SC2086
run denied 5 $COMPILE --logs
has denied err "failed: ClientError: InputConfiguration: Exactly one .pt or .pth"
has denied err "No log lines of model-"
has denied err "cannot read the job's log: AccessDeniedException"
has denied err "logs:GetLogEvents"
has denied err "Diagnosis: pytorch-model-files"
has denied err "Evidence (FailureReason)"
run denied_logs 0 logs "$FAILED_JOB"
has denied_logs err "AccessDeniedException"
curl -s -X DELETE "$URL/_smneo/faults" >/dev/null
run no_log 0 logs never-created
has no_log err "no log yet"

# ---- Ctrl-C stops --follow ---------------------------------------------------------------------------
post /_smneo/settings '{"job_duration": 60}' >/dev/null
sed 's/follow-1/long-1/' "$WORK/follow.json" >"$WORK/long.json"
run create_long 0 create --cli-input-json "$WORK/long.json"
post /_smneo/settings '{"job_duration": 0.3}' >/dev/null
run wait_logs_timeout 1 wait long-1 --logs --delay 0.05 --timeout 1
has wait_logs_timeout err "did not finish within the waiter's timeout"
"$SMNEO" --endpoint-url "$URL" logs long-1 --follow --delay 30 >"$WORK/int.out" 2>"$WORK/int.err" &
LOGS_PID=$!
sleep 1
kill -INT "$LOGS_PID"
i=0
while kill -0 "$LOGS_PID" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 "$LOGS_PID" 2>/dev/null; then
  fail "smneo logs --follow did not stop on SIGINT"
  kill "$LOGS_PID"
fi
wait "$LOGS_PID"
[ $? -eq 130 ] && ok || fail "Ctrl-C: exit status"
has int err "interrupted"

# ---- usage --------------------------------------------------------------------------------------------
run usage_none 2 logs
run usage_tail_follow 2 logs x --follow --tail 3
run usage_since 2 logs x --since yesterday
run usage_tail 2 logs x --tail 0

finish
