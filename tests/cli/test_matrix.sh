#!/bin/sh
# shellcheck disable=SC2015  # `check && ok || fail`: ok never fails
# tests/cli/test_matrix.sh SMNEO: `smneo compile --matrix FILE` against a
# local endpoint: a JSON list of jobs in compile()'s terms, each with its own
# options (TargetPlatform, CompilerOptions as an object or text, a
# StoppingCondition, Tags) over the flags shared by every job, the table and
# --output json; and every mistake refused before the first job: unknown
# keys, wrong types, no target, not a list, --model beside --matrix (exit 2),
# a request the validation refuses in the last job (exit 3, no job created);
# a failed job's row with its FailureReason and Diagnosis (exit 5).
# Run from the repository root:
#   sh tests/cli/test_matrix.sh build/smneo
# shellcheck disable=SC2034  # NAME: read by lib.sh
NAME=test_matrix
# shellcheck source=tests/cli/lib.sh
. "$(dirname "$0")/lib.sh"
static_keys
smneo_cmd() { "$SMNEO" --endpoint-url "$URL" "$@"; }
start_local --job-duration 0.2
"$PY" "$ROOT/examples/create_bucket.py" "$URL" data >/dev/null 2>&1 && ok || fail "create the bucket"


M="$ROOT/examples/model"
SHARED="compile --framework PYTORCH --role arn:aws:iam::123456789012:role/NeoRole --bucket data --delay 0.05
  --max-delay 0.2 --output-dir $WORK/out"
creates() {
  curl -s "$URL/_smneo/requests" | "$PY" -c 'import json, sys
print(len([r for r in json.load(sys.stdin)["requests"] if r["operation"] == "CreateCompilationJob"]))'
}

cat >"$WORK/jobs.json" <<JSON
[{"model": "$M", "target_device": "ml_c5", "data_input_config": {"input0": [1, 4]}},
 {"model": "$M", "target_os": "LINUX", "target_arch": "ARM64", "compiler_options": {"mcpu": "cortex-a72"},
  "data_input_config": "{\"input0\":[1,4]}", "max_runtime_seconds": 600, "s3_prefix": "arm"},
 {"model": "$M", "target_device": "jetson_nano", "data_input_config": {"input0": [1, 4]},
  "tags": [{"Key": "team", "Value": "ml"}]}]
JSON
# shellcheck disable=SC2086
run matrix 0 --quiet --output json $SHARED --matrix "$WORK/jobs.json"
"$PY" - "$WORK/matrix.out" "$URL" <<'PYEOF' && ok || fail "the matrix jobs and their own options"
import json, sys, urllib.request
rows = json.load(open(sys.argv[1]))["Jobs"]
assert [r["Target"] for r in rows] == ["ml_c5", "LINUX/ARM64", "jetson_nano"], rows
assert all(r["CompilationJobStatus"] == "COMPLETED" and r["DigestVerified"] for r in rows), rows
reqs = json.load(urllib.request.urlopen(sys.argv[2] + "/_smneo/requests"))["requests"]
creates = {r["params"]["CompilationJobName"]: r["params"] for r in reqs if r["operation"] == "CreateCompilationJob"}
p = [creates[r["CompilationJobName"]] for r in rows]
assert p[0]["OutputConfig"]["TargetDevice"] == "ml_c5" and "CompilerOptions" not in p[0]["OutputConfig"]
assert p[1]["OutputConfig"]["TargetPlatform"] == {"Os": "LINUX", "Arch": "ARM64"}
assert json.loads(p[1]["OutputConfig"]["CompilerOptions"]) == {"mcpu": "cortex-a72"}
assert p[1]["StoppingCondition"]["MaxRuntimeInSeconds"] == 600
assert p[1]["OutputConfig"]["S3OutputLocation"].startswith("s3://data/arm/")
assert p[0]["OutputConfig"]["S3OutputLocation"].startswith("s3://data/smneo/")
assert p[2]["Tags"] == [{"Key": "team", "Value": "ml"}] and "Tags" not in p[0]
assert all(x["RoleArn"] == "arn:aws:iam::123456789012:role/NeoRole" for x in p)
PYEOF
# the table, from stdin
# shellcheck disable=SC2086
"$SMNEO" --endpoint-url "$URL" --quiet $SHARED --matrix - <"$WORK/jobs.json" >"$WORK/table.out" 2>"$WORK/table.err" \
  && ok || fail "--matrix -: exit $?"
has table out "LINUX/ARM64"
has table out "COMPLETED"

# ---- a failed row carries the failure reason and compile's diagnosis -----------------------------------
curl -s -o /dev/null -X POST --data-binary '{"kind": "fail", "device": "jetson_nano", "rate": 1, "failure": "not-tar-gz"}' \
  "$URL/_smneo/faults"
# shellcheck disable=SC2086
run matrix_fail 5 --quiet --output json $SHARED --matrix "$WORK/jobs.json"
curl -s -o /dev/null -X DELETE "$URL/_smneo/faults"
"$PY" - "$WORK/matrix_fail.out" <<'PYEOF' && ok || fail "the failed row's reason and diagnosis"
import json, sys
rows = json.load(open(sys.argv[1]))["Jobs"]
failed = [r for r in rows if r["CompilationJobStatus"] == "FAILED"]
assert [r["Target"] for r in failed] == ["jetson_nano"], rows
assert "Unable to untar input model" in failed[0]["FailureReason"]
d = failed[0]["Diagnosis"]
assert d["Id"] == "not-tar-gz" and "smneo pack" in d["Fix"] and d["Category"], d
assert all(r["Diagnosis"] is None for r in rows if r["CompilationJobStatus"] == "COMPLETED")
PYEOF

# ---- mistakes, refused before the first job ----------------------------------------------------------
before=$(creates)
bad() { # bad NAME EXIT JSON TEXT
  printf '%s\n' "$3" >"$WORK/$1.json"
  # shellcheck disable=SC2086
  run "$1" "$2" --quiet $SHARED --matrix "$WORK/$1.json"
  has "$1" err "$4"
}
bad unknown_key 2 "[{\"model\": \"$M\", \"target_device\": \"ml_c5\"}, {\"model\": \"$M\", \"targt\": \"ml_c5\"}]" \
  'job 1: unknown key "targt": use compile()'"'"'s keywords: model, framework, target_device'
bad no_target 2 "[{\"model\": \"$M\"}]" 'job 0 has no target: give "target_device" or "target_os" and "target_arch"'
bad half_platform 2 "[{\"model\": \"$M\", \"target_os\": \"LINUX\"}]" "job 0: a platform needs target_os and target_arch"
bad wrong_type 2 "[{\"model\": \"$M\", \"target_device\": \"ml_c5\", \"max_runtime_seconds\": \"600\"}]" \
  "job 0: max_runtime_seconds must be a whole number of seconds"
bad not_a_list 2 '{"model": "m"}' "give a non-empty JSON list of jobs"
bad empty 2 '[]' "give a non-empty JSON list of jobs"
bad not_json 2 '[{"model": ' "not valid JSON"
bad not_an_object 2 '["m"]' "job 0 is not an object"
bad extract_type 2 "[{\"model\": \"$M\", \"target_device\": \"ml_c5\", \"extract\": 1}]" "job 0: extract must be true or false"
bad last_invalid 3 "[{\"model\": \"$M\", \"target_device\": \"ml_c5\", \"data_input_config\": {\"input0\": [1, 4]}},
 {\"model\": \"$M\", \"target_device\": \"not_a_device\", \"data_input_config\": {\"input0\": [1, 4]}}]" \
  'job 1 ('
has last_invalid err 'OutputConfig.TargetDevice "not_a_device" is not a known TargetDevice value'
# shellcheck disable=SC2086
run with_model 2 --quiet $SHARED --matrix "$WORK/jobs.json" --model "$M"
has with_model err "--matrix gives the jobs"
# shellcheck disable=SC2086
run no_file 2 --quiet $SHARED --matrix "$WORK/missing.json"
has no_file err "--matrix: cannot open $WORK/missing.json"
[ "$(creates)" = "$before" ] && ok || fail "a refused matrix created jobs: $before before, $(creates) after"

finish
