#!/bin/sh
# shellcheck disable=SC2015  # `check && ok || fail`: ok never fails
# tests/cli/test_cli.sh SMNEO: drives the `smneo` binary against a local
# endpoint (python3 -m smneo.local) and checks exit codes and the JSON output
# (parsed with python3's json module): usage errors, validate, pack, inspect,
# digest, verify, extract (unsafe archive refused), compile for a cloud and
# an edge target, a FAILED job (exit 5), Ctrl-C stopping a job (exit 130),
# describe/list/steps/stop/delete, --cli-input-json with flag overrides, and
# a transport error (exit 6), a connection closed without an answer (exit 6);
# --input-shape/--compiler-options sent as given (AWS's Python style too),
# the archive limits of inspect and extract (a small gzip bomb), and control
# characters from archives, the service and a hostile server never printed raw.
# Run from the repository root:
#   sh tests/cli/test_cli.sh build/smneo
# shellcheck disable=SC2034  # NAME: read by lib.sh
NAME=test_cli
# shellcheck source=tests/cli/lib.sh
. "$(dirname "$0")/lib.sh"
static_keys
smneo_cmd() { # shellcheck disable=SC2086  # RUN_ENV: NAME=VALUE words
  env ${RUN_ENV:-} "$SMNEO" "$@"
}

# jget NAME PYTHON-EXPR: prints the expression's value
jget() {
  "$PY" - "$WORK/$1.out" "$2" <<'EOF'
import json, sys
with open(sys.argv[1]) as f:
    d = json.load(f)
print(eval(sys.argv[2]))
EOF
}

# raw NAME: neither stdout nor stderr of NAME holds a control character
# (other than the newline), DEL, a C1 control, a bidirectional override or
# bytes that are not UTF-8
raw() {
  if "$PY" - "$WORK/$1.out" "$WORK/$1.err" <<'EOF'
import re, sys
for path in sys.argv[1:]:
    text = open(path, "rb").read()
    try:
        s = text.decode("utf-8")
    except UnicodeDecodeError as e:
        sys.exit("%s: not UTF-8: %s" % (path, e))
    bad = re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", s)
    if bad:
        sys.exit("%s: raw %r at %d" % (path, bad.group(), bad.start()))
EOF
  then ok; else fail "$1: a control character reached the terminal"; fi
}

grep_err() { # NAME TEXT: stderr of NAME mentions TEXT
  if grep -q -- "$2" "$WORK/$1.err"; then ok; else fail "$1: stderr lacks \"$2\""; sed 's/^/    stderr: /' "$WORK/$1.err" | head -10; fi
}

# ---- the local endpoint ----------------------------------------------------------
cat >"$WORK/pipelines.json" <<'EOF'
{"arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/abc123": [
  {"StepName": "Compile", "StepStatus": "Succeeded", "StartTime": "2024-01-01T00:00:00Z", "EndTime": 1704067260},
  {"StepName": "Train", "StepStatus": "Succeeded", "StartTime": "2023-12-31T00:00:00Z", "EndTime": 1704000000}
]}
EOF
start_local --job-duration 2 --pipelines "$WORK/pipelines.json"
"$PY" "$ROOT/examples/create_bucket.py" "$URL" cli-test >/dev/null || { echo "test_cli: cannot create the bucket"; exit 1; }
ROLE=arn:aws:iam::123456789012:role/NeoRole

# ---- usage ----------------------------------------------------------------------
run help 0 --help
grep -q "compile" "$WORK/help.out" && ok || fail "--help lists no commands"
run help_compile 0 compile --help
grep -q -- "--input-shape" "$WORK/help_compile.out" && ok || fail "compile --help lacks --input-shape"
run unknown_cmd 2 frobnicate
run unknown_opt 2 describe --bogus x
grep_err unknown_opt "unknown option --bogus"
run bad_output 2 list --output yaml
run compile_no_model 2 compile --framework PYTORCH
grep_err compile_no_model "--model"
# a device and a platform are two jobs; the second (PyTorch on a platform needs DataInputConfig) is
# refused before anything is uploaded
run both_targets 3 compile --model "$ROOT/examples/model" --framework PYTORCH --target ml_c5 --platform LINUX/ARM64 \
  --role "$ROLE" --bucket cli-test
grep_err both_targets "job 1 (.*model for LINUX/ARM64): validate: "
run bad_platform 2 compile --model "$ROOT/examples/model" --framework PYTORCH --platform LINUX --role "$ROLE" --bucket b

# ---- validate ---------------------------------------------------------------------
run validate_ok 0 validate --job-name v1 --role "$ROLE" --model-s3-uri s3://cli-test/m.tar.gz --framework PYTORCH \
  --input-shape '{"input0":[1,4]}' --output-s3-uri s3://cli-test/out --target ml_c5 --output json
jcheck validate_ok 'd["Valid"] is True and d["ErrorCount"] == 0 and d["Operation"] == "CreateCompilationJob"'
run validate_bad 3 validate --framework PYTORCH --target ml_c5 --role short --output json
jcheck validate_bad 'd["Valid"] is False and any(i["Path"] == "RoleArn" and i["Severity"] == "error" for i in d["Issues"]) and any(i["Path"] == "InputConfig.S3Uri" for i in d["Issues"])'
run validate_table 3 validate --framework PYTORCH --target ml_c5
grep -q "errors\?, " "$WORK/validate_table.out" && ok || fail "validate table lacks the summary line"
# --input-shape and --compiler-options are the API's string members: the text
# goes on as given and the validation rules judge it. The Python style of
# AWS's own CreateCompilationJob example is accepted, with a warning.
run shape_not_json 3 validate --job-name v1 --role "$ROLE" --model-s3-uri s3://cli-test/m.tar.gz --framework PYTORCH \
  --input-shape '{input0:[1,4]}' --output-s3-uri s3://cli-test/out --target ml_c5 --output json
jcheck shape_not_json '[i["Rule"] for i in d["Issues"]] == ["neo.data-input-config.json"]'
run shape_python 0 validate --job-name v1 --role "$ROLE" --model-s3-uri s3://cli-test/m.tar.gz --framework PYTORCH \
  --input-shape "{'input0':[1,3,224,224]}" --output-s3-uri s3://cli-test/out --platform LINUX/ARM64 \
  --compiler-options "{'mcpu': 'cortex-a72'}" --output json
jcheck shape_python 'd["Valid"] is True and sorted(i["Rule"] for i in d["Issues"]) == ["neo.compiler-options.python-style", "neo.data-input-config.python-style"]'
cat >"$WORK/python-style.json" <<EOF
{"CompilationJobName": "v2", "RoleArn": "$ROLE",
 "InputConfig": {"S3Uri": "s3://cli-test/m.tar.gz", "Framework": "PYTORCH", "DataInputConfig": "{'input0':[1,3,224,224]}"},
 "OutputConfig": {"S3OutputLocation": "s3://cli-test/out", "TargetPlatform": {"Os": "LINUX", "Arch": "ARM64"},
                  "CompilerOptions": "{'mcpu': 'cortex-a72'}"}}
EOF
run shape_python_json 0 validate --cli-input-json "$WORK/python-style.json" --output json
jcheck shape_python_json 'd["Valid"] is True and sorted(i["Rule"] for i in d["Issues"]) == ["neo.compiler-options.python-style", "neo.data-input-config.python-style"]'
# ... and sent byte for byte (the debug log shows the request; nothing listens on port 1)
RUN_ENV="SMNEO_DEBUG=1 AWS_MAX_ATTEMPTS=1"
run shape_python_sent 6 --endpoint-url http://127.0.0.1:1 create --cli-input-json "$WORK/python-style.json" \
  --input-shape "{'input0': [1,3,224,224], 'input1': [1,4]}"
RUN_ENV=
grep -qF '"DataInputConfig":"{'"'"'input0'"'"': [1,3,224,224], '"'"'input1'"'"': [1,4]}"' "$WORK/shape_python_sent.err" && grep -qF '"CompilerOptions":"{'"'"'mcpu'"'"': '"'"'cortex-a72'"'"'}"' "$WORK/shape_python_sent.err" && ok || { fail "shape_python_sent: not sent as given"; grep -i "datainput" "$WORK/shape_python_sent.err"; }
printf '{"CompilationJobName": "fromjson", "StatusEquals": "NOPE"}' >"$WORK/list.json"
run validate_op 3 validate --operation ListCompilationJobs --cli-input-json "$WORK/list.json" --output json
jcheck validate_op 'any(i["Path"] == "StatusEquals" for i in d["Issues"])'

# ---- pack / digest / inspect / verify / extract ----------------------------------------
run pack 0 pack "$ROOT/examples/model" "$WORK/model.tar.gz" --output json
jcheck pack 'd["Path"].endswith("/model.tar.gz") and len(d["Digest"]) == 128 and d["Size"] == os.path.getsize(d["Path"]) and d["Digest"] == hashlib.blake2b(open(d["Path"], "rb").read()).hexdigest()'
DIGEST=$(jget pack 'd["Digest"]')
run pack_again 0 pack "$ROOT/examples/model" "$WORK/model2.tar.gz" --output json
jcheck pack_again "d['Digest'] == '$DIGEST'"
run digest 0 digest "$WORK/model.tar.gz" --output json
jcheck digest "d['Digest'] == '$DIGEST' and d['Algorithm'] == 'blake2b'"
run digest_sha 0 digest "$WORK/model.tar.gz" --algorithm sha256
grep -q "^$(sha256sum "$WORK/model.tar.gz" | cut -d' ' -f1)  " "$WORK/digest_sha.out" && ok || fail "digest --algorithm sha256 differs from sha256sum"
run inspect 0 inspect "$WORK/model.tar.gz" --framework pytorch --output json
jcheck inspect 'd["Valid"] is True and [m["Name"] for m in d["Members"]] == ["model.pt"] and d["Members"][0]["Type"] == "file" and d["SingleGzipMember"] is True'
mkdir -p "$WORK/nomodel" && echo "no model here" >"$WORK/nomodel/README.txt"
run pack_nomodel 0 pack "$WORK/nomodel" "$WORK/nomodel.tar.gz"
run inspect_nomodel 3 inspect "$WORK/nomodel.tar.gz" --framework PYTORCH --output json
jcheck inspect_nomodel 'd["Valid"] is False and any(i["Rule"].startswith("artifact.pytorch") for i in d["Issues"])'
run inspect_notarchive 3 inspect "$ROOT/examples/make_model.py"
run verify_ok 0 verify "$WORK/model.tar.gz" "$DIGEST" --output json
jcheck verify_ok 'd["Verified"] is True'
BAD=$("$PY" -c 'import sys; d = sys.argv[1]; print(("1" if d[0] == "0" else "0") + d[1:])' "$DIGEST")
run verify_bad 7 verify "$WORK/model.tar.gz" "$BAD" --output json
jcheck verify_bad 'd["Verified"] is False'
run verify_garbage 3 verify "$WORK/model.tar.gz" not-a-digest
run extract 0 extract "$WORK/model.tar.gz" "$WORK/extracted"
[ -f "$WORK/extracted/model.pt" ] && cmp -s "$WORK/extracted/model.pt" "$ROOT/examples/model/model.pt" && ok || fail "extract did not restore model.pt"
"$PY" - "$WORK/evil.tar.gz" <<'EOF'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w:gz") as t:
    data = b"owned\n"
    info = tarfile.TarInfo("../evil.txt")
    info.size = len(data)
    t.addfile(info, io.BytesIO(data))
EOF
run extract_unsafe 7 extract "$WORK/evil.tar.gz" "$WORK/evil-out"
[ ! -e "$WORK/evil.txt" ] && [ ! -e "$WORK/evil-out" ] && ok || fail "unsafe extract left files behind"

# ---- untrusted strings never reach the terminal raw ----------------------------------------
# A member name that would retitle the terminal, erase the line and print a
# fake success; one with a C1 CSI and a right-to-left override; one that is
# not UTF-8.
"$PY" - "$WORK/ansi.tar.gz" <<'EOF'
import io, sys, tarfile
names = ["../\x1b]0;pwned\x07\x1b[2K\rsmneo: extract: OK", "c1-\x9b31m-\u202eoof", "latin1-\udce9t\udce9.txt"]
with tarfile.open(sys.argv[1], "w:gz", format=tarfile.GNU_FORMAT, encoding="utf-8", errors="surrogateescape") as t:
    for n in names:
        info = tarfile.TarInfo(n)
        info.size = 1
        t.addfile(info, io.BytesIO(b"x"))
EOF
run ansi_extract 7 extract "$WORK/ansi.tar.gz" "$WORK/ansi-out"
raw ansi_extract
grep -qF 'entry ../\x1b]0;pwned\x07\x1b[2K\rsmneo: extract: OK has' "$WORK/ansi_extract.err" && ok || { fail "ansi_extract: the name is not shown escaped"; cat "$WORK/ansi_extract.err"; }
run ansi_inspect 3 inspect "$WORK/ansi.tar.gz"
raw ansi_inspect
grep -qF '\u009b31m-\u202eoof' "$WORK/ansi_inspect.out" && grep -qF 'latin1-\xe9t\xe9.txt' "$WORK/ansi_inspect.out" && ok || { fail "ansi_inspect: table not escaped"; cat "$WORK/ansi_inspect.out"; }
run ansi_inspect_json 3 inspect "$WORK/ansi.tar.gz" --output json
raw ansi_inspect_json
jcheck ansi_inspect_json '[m["Name"] for m in d["Members"]] == ["../\x1b]0;pwned\x07\x1b[2K\rsmneo: extract: OK", "c1-\x9b31m-\u202eoof", "latin1-\ufffdt\ufffd.txt"] and "\x1b]0;" in d["Issues"][0]["Message"]'

# ---- inspect and extract take the same limits: a small gzip bomb -------------------------------
"$PY" - "$WORK/bomb.tar.gz" <<'EOF'
import sys, tarfile, zlib
info = tarfile.TarInfo("zeros.bin")
info.size = 24 << 20  # 24 MiB of zeros in about 24 KiB
z = zlib.compressobj(9, zlib.DEFLATED, 31)
with open(sys.argv[1], "wb") as f:
    f.write(z.compress(info.tobuf(format=tarfile.USTAR_FORMAT)))
    for _ in range(24):
        f.write(z.compress(bytes(1 << 20)))
    f.write(z.compress(bytes(1024)) + z.flush())
EOF
run bomb_inspect 7 inspect "$WORK/bomb.tar.gz"
grep_err bomb_inspect "compression ratio over 200"
run bomb_inspect_bytes 7 inspect "$WORK/bomb.tar.gz" --max-ratio -1 --max-bytes 1000000
grep_err bomb_inspect_bytes "zeros.bin (25165824 bytes) takes the total over max_bytes (1000000)"
run bomb_inspect_trusted 0 inspect "$WORK/bomb.tar.gz" --max-ratio 5000 --output json
jcheck bomb_inspect_trusted 'd["Members"] == [{"Name": "zeros.bin", "Type": "file", "Size": 24 << 20}]'
run bomb_extract 7 extract "$WORK/bomb.tar.gz" "$WORK/bomb-out" --max-ratio 5000 --max-bytes 1000000
grep_err bomb_extract "max_bytes (1000000)"
run bomb_extract_ratio 7 extract "$WORK/bomb.tar.gz" "$WORK/bomb-out"
grep_err bomb_extract_ratio "compression ratio"
[ ! -e "$WORK/bomb-out" ] && ok || fail "a refused bomb left files behind"
# inspect's --compiler-options is CompilerOptions text too (class_labels in the Python style)
run inspect_copts_python 3 inspect "$WORK/model.tar.gz" --compiler-options "{'class_labels': 'labels.txt'}" --output json
jcheck inspect_copts_python '[i["Rule"] for i in d["Issues"]] == ["artifact.coreml.class-labels"]'
run entries_inspect 7 inspect "$WORK/ansi.tar.gz" --max-entries 2
grep_err entries_inspect "more than 2 members"
run bad_limit 2 extract "$WORK/bomb.tar.gz" "$WORK/bomb-out" --max-entries 0
grep_err bad_limit "max-entries"
run bad_ratio 2 inspect "$WORK/bomb.tar.gz" --max-ratio lots
grep_err bad_ratio "max-ratio"

# ---- compile: cloud and edge targets ------------------------------------------------------
run compile_cloud 0 --endpoint-url "$URL" compile --model "$ROOT/examples/model" --framework PYTORCH --input-shape '{"input0":[1,4]}' \
  --target ml_c5 --role "$ROLE" --bucket cli-test --prefix cli --output-dir "$WORK/out-cloud" --extract \
  --delay 0.2 --max-delay 0.5 --timeout 60 --output json
jcheck compile_cloud 'd["CompilationJobStatus"] == "COMPLETED" and d["DigestVerified"] is True and d["CompilationJobName"].startswith("model-") and d["ArtifactPath"].endswith("/model-ml_c5.tar.gz") and hashlib.blake2b(open(d["ArtifactPath"], "rb").read()).hexdigest() == d["ArtifactDigest"] and os.path.isfile(os.path.join(d["ExtractedDir"], "model.pt")) and d["Job"]["OutputConfig"]["TargetDevice"] == "ml_c5" and d["InputS3Uri"].startswith("s3://cli-test/cli/")'
grep_err compile_cloud "INPROGRESS"
grep_err compile_cloud "COMPLETED"
grep_err compile_cloud "verified digest"
CLOUD_JOB=$(jget compile_cloud 'd["CompilationJobName"]')
ART=$(jget compile_cloud 'd["ArtifactPath"]')
ADIG=$(jget compile_cloud 'd["ArtifactDigest"]')
run verify_artifact 0 verify "$ART" "$ADIG"

run compile_edge 0 --endpoint-url "$URL" compile --model "$WORK/model.tar.gz" --framework pytorch --input-shape '{"input0":[1,4]}' \
  --platform linux/arm64 --compiler-options '{"mcpu":"cortex-a72"}' --role "$ROLE" --bucket cli-test \
  --job-name edge --output-dir "$WORK/out-edge" --delay 0.2 --max-delay 0.5 --output json
jcheck compile_edge 'd["CompilationJobStatus"] == "COMPLETED" and d["DigestVerified"] is True and d["CompilationJobName"].startswith("edge-") and d["ArtifactPath"].endswith("/model-LINUX_ARM64.tar.gz") and d["Job"]["OutputConfig"]["TargetPlatform"] == {"Os": "LINUX", "Arch": "ARM64"} and json.loads(d["Job"]["OutputConfig"]["CompilerOptions"]) == {"mcpu": "cortex-a72"}'

run compile_table 0 --endpoint-url "$URL" compile --model "$ROOT/examples/model" --framework PYTORCH --input-shape '{"input0":[1,4]}' \
  --target ml_c5 --role "$ROLE" --bucket cli-test --prefix cli --output-dir "$WORK/out-table" --delay 0.2 --max-delay 0.5
grep -q "^DigestVerified *true" "$WORK/compile_table.out" && ok || fail "compile table output lacks DigestVerified true"
grep_err compile_table "already there"

# ---- a FAILED job: the layout check passes (.hdf5), the service's does not (.h5 only) -----
mkdir -p "$WORK/keras"
printf '\211HDF\r\n\032\n0000000000000000' >"$WORK/keras/model.hdf5"
run compile_failed 5 --endpoint-url "$URL" compile --model "$WORK/keras" --framework KERAS --input-shape '{"input_1":[1,3,224,224]}' \
  --target ml_c5 --role "$ROLE" --bucket cli-test --output-dir "$WORK/out-fail" --delay 0.2 --max-delay 0.5 --output json
jcheck compile_failed 'd["CompilationJobStatus"] == "FAILED" and "InputConfiguration" in d["FailureReason"] and "ArtifactPath" not in d'
grep_err compile_failed "ClientError"

# ---- a layout error stops before anything is sent ---------------------------------------------
run compile_layout 3 --endpoint-url "$URL" compile --model "$WORK/nomodel" --framework PYTORCH --target ml_c5 --role "$ROLE" \
  --bucket cli-test --output-dir "$WORK/out-layout"

# ---- create + wait (FAILED: the input is not in S3) --------------------------------------------
run create_missing 0 --endpoint-url "$URL" create --job-name missing-input --role "$ROLE" --model-s3-uri s3://cli-test/nothing.tar.gz \
  --framework PYTORCH --input-shape '{"input0":[1,4]}' --output-s3-uri s3://cli-test/out --target ml_c5 --output json
jcheck create_missing 'd["CompilationJobArn"].endswith(":compilation-job/missing-input")'
run wait_failed 5 --endpoint-url "$URL" wait missing-input --delay 0.2 --max-delay 0.5
grep_err wait_failed "FAILED"
grep_err wait_failed "S3 object does not exist"
# The service's strings (a FailureReason quoting the S3 URI) are escaped too.
ESC_URI=$(printf 's3://cli-test/\033]0;pwned\007\033[2K\rsmneo: OK.tar.gz')
run create_ansi 0 --endpoint-url "$URL" create --job-name ansi-input --role "$ROLE" --model-s3-uri "$ESC_URI" \
  --framework PYTORCH --input-shape '{"input0":[1,4]}' --output-s3-uri s3://cli-test/out --target ml_c5
run wait_ansi 5 --endpoint-url "$URL" wait ansi-input --delay 0.2 --max-delay 0.5
raw wait_ansi
grep -qF 'Bucket: cli-test, Key: \x1b]0;pwned\x07\x1b[2K\rsmneo: OK.tar.gz' "$WORK/wait_ansi.err" && ok || { fail "wait_ansi: FailureReason not escaped"; cat "$WORK/wait_ansi.err"; }
run describe_ansi 0 --endpoint-url "$URL" describe ansi-input
raw describe_ansi
run describe_ansi_json 0 --endpoint-url "$URL" describe ansi-input --output json
raw describe_ansi_json
jcheck describe_ansi_json 'd["InputConfig"]["S3Uri"] == "s3://cli-test/\x1b]0;pwned\x07\x1b[2K\rsmneo: OK.tar.gz" and "\x1b[2K" in d["FailureReason"]'
run create_dup 4 --endpoint-url "$URL" create --job-name missing-input --role "$ROLE" --model-s3-uri s3://cli-test/nothing.tar.gz \
  --framework PYTORCH --output-s3-uri s3://cli-test/out --target ml_c5
grep_err create_dup "ResourceInUse"

# ---- --cli-input-json with a flag override --------------------------------------------------------
cat >"$WORK/create.json" <<EOF
{"CompilationJobName": "from-json", "RoleArn": "$ROLE",
 "InputConfig": {"S3Uri": "$(jget compile_cloud 'd["InputS3Uri"]')", "Framework": "PYTORCH",
                 "DataInputConfig": {"input0": [1, 4]}},
 "OutputConfig": {"S3OutputLocation": "s3://cli-test/json-out", "TargetDevice": "ml_c5"},
 "StoppingCondition": {"MaxRuntimeInSeconds": 600}}
EOF
run create_json 0 --endpoint-url "$URL" create --cli-input-json "$WORK/create.json" --job-name overridden --output json
run describe_json 0 --endpoint-url "$URL" describe overridden --output json
jcheck describe_json 'd["CompilationJobName"] == "overridden" and d["StoppingCondition"]["MaxRuntimeInSeconds"] == 600 and json.loads(d["InputConfig"]["DataInputConfig"]) == {"input0": [1, 4]} and re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$", d["CreationTime"]) is not None'
run describe_input_json 0 --endpoint-url "$URL" describe --cli-input-json '{"CompilationJobName": "overridden"}' --output json
jcheck describe_input_json 'd["CompilationJobName"] == "overridden"'
run describe_none 4 --endpoint-url "$URL" describe from-json
grep_err describe_none "ResourceNotFound"
run wait_json 0 --endpoint-url "$URL" wait overridden --delay 0.2 --max-delay 0.5 --output json
jcheck wait_json 'd["CompilationJobStatus"] == "COMPLETED" and len(d["ModelDigests"]["ArtifactDigest"]) == 128'
run compile_stdin 0 --endpoint-url "$URL" compile --model "$ROOT/examples/model" --cli-input-json - --job-name stdin \
  --output-dir "$WORK/out-stdin" --delay 0.2 --max-delay 0.5 --output json <"$WORK/create.json"
jcheck compile_stdin 'd["CompilationJobStatus"] == "COMPLETED" and d["CompilationJobName"].startswith("stdin-") and d["Job"]["OutputConfig"]["S3OutputLocation"].startswith("s3://cli-test/json-out/")'

# ---- describe / list / stop / delete / steps --------------------------------------------------------
run describe 0 --endpoint-url "$URL" describe "$CLOUD_JOB" --output json
jcheck describe "d['CompilationJobName'] == '$CLOUD_JOB' and d['CompilationJobStatus'] == 'COMPLETED' and d['ModelArtifacts']['S3ModelArtifacts'].startswith('s3://cli-test/')"
# --debug as the AWS CLI's: the redacted request/response log on stderr, without SMNEO_DEBUG
RUN_ENV_SAVED=${RUN_ENV:-}
RUN_ENV=""
run describe_debug 0 --endpoint-url "$URL" --debug describe "$CLOUD_JOB" --output json
grep_err describe_debug "smneo\[debug\] request: POST"
grep_err describe_debug "X-Amz-Target: SageMaker.DescribeCompilationJob"
grep -q "Signature=<redacted>" "$WORK/describe_debug.err" && ok || fail "describe_debug: the signature is not redacted"
run describe_nodebug 0 --endpoint-url "$URL" describe "$CLOUD_JOB" --output json
[ ! -s "$WORK/describe_nodebug.err" ] && ok || fail "describe_nodebug: stderr not empty without --debug"
# --retry-mode and --max-attempts win over AWS_RETRY_MODE / AWS_MAX_ATTEMPTS (nothing listens on port 1:
# a connection error, retried in every mode); the debug log counts the attempts
RUN_ENV="AWS_MAX_ATTEMPTS=1 AWS_RETRY_MODE=standard"
run retry_flags 6 --endpoint-url http://127.0.0.1:1 --debug --retry-mode legacy --max-attempts 2 describe x
grep_err retry_flags "attempt 1 failed"
! grep -q "attempt 2 failed" "$WORK/retry_flags.err" && ok || fail "retry_flags: more than 2 attempts"
run retry_env 6 --endpoint-url http://127.0.0.1:1 --debug describe x
! grep -q "attempt 1 failed" "$WORK/retry_env.err" && ok || fail "retry_env: AWS_MAX_ATTEMPTS=1 retried"
RUN_ENV=""
run retry_mode_bad 2 --retry-mode fast describe x
grep_err retry_mode_bad "standard, legacy or adaptive"
run max_attempts_bad 2 --max-attempts 0 describe x
grep_err max_attempts_bad "from 1 to 100"
RUN_ENV=$RUN_ENV_SAVED
run list 0 --endpoint-url "$URL" list --output json
jcheck list "'$CLOUD_JOB' in [j['CompilationJobName'] for j in d['CompilationJobSummaries']] and len(d['CompilationJobSummaries']) >= 6 and 'NextToken' not in d"
run list_page 0 --endpoint-url "$URL" list --max-items 2 --page-size 1 --sort-by Name --output json
jcheck list_page 'len(d["CompilationJobSummaries"]) == 2 and d["NextToken"]'
TOKEN=$(jget list_page 'd["NextToken"]')
run list_resume 0 --endpoint-url "$URL" list --max-items 2 --page-size 1 --sort-by Name --starting-token "$TOKEN" --output json
jcheck list_resume 'len(d["CompilationJobSummaries"]) == 2'
run list_failed 0 --endpoint-url "$URL" list --status-equals FAILED --output json
jcheck list_failed 'sorted(j["CompilationJobStatus"] for j in d["CompilationJobSummaries"]) == ["FAILED", "FAILED", "FAILED"]'
run list_table 0 --endpoint-url "$URL" list --name-contains edge
grep -q "^NAME  *STATUS" "$WORK/list_table.out" && grep -q "COMPLETED" "$WORK/list_table.out" && ok || fail "list table"
run steps 0 --endpoint-url "$URL" steps arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/abc123 --output json
jcheck steps '[s["StepName"] for s in d["PipelineExecutionSteps"]] == ["Compile", "Train"] and d["PipelineExecutionSteps"][0]["StartTime"] == "2024-01-01T00:00:00+00:00"'
run delete 0 --endpoint-url "$URL" delete "$CLOUD_JOB"
run describe_deleted 4 --endpoint-url "$URL" describe "$CLOUD_JOB"
run create_stop 0 --endpoint-url "$URL" create --job-name to-stop --role "$ROLE" --model-s3-uri s3://cli-test/nothing.tar.gz \
  --framework PYTORCH --output-s3-uri s3://cli-test/out --target ml_c5
run stop 0 --endpoint-url "$URL" stop to-stop
run wait_stopped 5 --endpoint-url "$URL" wait to-stop --delay 0.2 --max-delay 0.5
grep_err wait_stopped "STOPPED"

# ---- Ctrl-C during compile stops the job -------------------------------------------------------------
"$SMNEO" --endpoint-url "$URL" compile --model "$ROOT/examples/model" --framework PYTORCH --input-shape '{"input0":[1,4]}' \
  --target ml_c5 --role "$ROLE" --bucket cli-test --job-name interrupt --output-dir "$WORK/out-int" \
  --delay 0.2 --max-delay 0.3 >"$WORK/interrupt.out" 2>"$WORK/interrupt.err" &
CPID=$!
i=0
while ! grep -q "created compilation job" "$WORK/interrupt.err" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
kill -INT $CPID
wait $CPID
rc=$?
[ $rc -eq 130 ] && ok || { fail "interrupted compile: exit $rc, expected 130"; sed 's/^/    stderr: /' "$WORK/interrupt.err"; }
grep_err interrupt "stopping compilation job"
JOB=$(sed -n 's/^created compilation job //p' "$WORK/interrupt.err")
run describe_interrupted 0 --endpoint-url "$URL" describe "$JOB" --output json
jcheck describe_interrupted 'd["CompilationJobStatus"] in ("STOPPING", "STOPPED")'

# ---- Ctrl-C during wait stops waiting, not the job -----------------------------------------------------
run create_waited 0 --endpoint-url "$URL" create --job-name wait-interrupt --role "$ROLE" \
  --model-s3-uri s3://cli-test/nothing.tar.gz --framework PYTORCH --output-s3-uri s3://cli-test/out --target ml_c5
"$SMNEO" --endpoint-url "$URL" wait wait-interrupt --delay 5 --max-delay 5 >"$WORK/wint.out" 2>"$WORK/wint.err" &
WPID=$!
i=0
while ! grep -q "STARTING\|INPROGRESS" "$WORK/wint.err" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
kill -INT $WPID
wait $WPID
rc=$?
[ $rc -eq 130 ] && ok || { fail "interrupted wait: exit $rc, expected 130"; sed 's/^/    stderr: /' "$WORK/wint.err"; }
grep_err wint "the job goes on"

# ---- progress: a bar on a terminal, nothing for small files otherwise ------------------------------------
if command -v script >/dev/null 2>&1; then
  script -qc "'$SMNEO' pack '$ROOT/examples/model' '$WORK/tty.tar.gz'" /dev/null >"$WORK/tty.out" 2>&1
  grep -q "packing \[#*\] 100%" "$WORK/tty.out" && ok || { fail "no progress bar on a terminal"; head -5 "$WORK/tty.out"; }
fi
run pack_plain 0 pack "$ROOT/examples/model" "$WORK/plain.tar.gz"
grep -q "packing" "$WORK/pack_plain.err" && fail "plain progress lines for a 1 KiB file" || ok
head -c 3000000 /dev/urandom >"$WORK/nomodel/big.bin"
run pack_big 0 pack "$WORK/nomodel" "$WORK/big.tar.gz"
grep -q "^packing: 100%" "$WORK/pack_big.err" && ok || { fail "no plain progress lines for a 3 MB file"; head -5 "$WORK/pack_big.err"; }

# ---- transport and credentials errors ------------------------------------------------------------------
run connect_refused 6 --endpoint-url http://127.0.0.1:1 describe x
run bad_secret 6 --endpoint-url "$URL" describe x --profile nope
# connected, then closed without an answer on every attempt: a transport error too
"$PY" - "$URL" <<'EOF' || fail "cannot queue the close fault"
import json, sys, urllib.request
body = json.dumps({"kind": "close", "count": 20, "target": "sagemaker", "operation": "DescribeCompilationJob"})
urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/_smneo/faults", data=body.encode(), method="POST"),
                       timeout=5).read()
EOF
run closed_connection 6 --endpoint-url "$URL" describe x
grep_err closed_connection "without sending a response"
"$PY" -c 'import sys, urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/_smneo/faults", method="DELETE"), timeout=5).read()' "$URL" || fail "cannot clear the faults"
RUN_ENV=AWS_SECRET_ACCESS_KEY=wrong
run wrong_secret 6 --endpoint-url "$URL" describe x
grep_err wrong_secret "InvalidSignature"
RUN_ENV=

# ---- a server answering with terminal control sequences (debug log included) -------------
"$PY" - >"$WORK/evil.url" 2>"$WORK/evil.log" <<'EOF' &
import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b'{"__type":"Throttl\\u001b[2K","message":"\\u001b]0;pwned\\u0007\\r\\u009bsmneo: OK"}'
        self.send_response(400)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("x-amzn-RequestId", "req-\x1b[31mred")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print("http://127.0.0.1:%d" % s.server_port, flush=True)
s.serve_forever()
EOF
EVIL_PID=$!; EXTRA_PIDS="$EXTRA_PIDS $EVIL_PID"
i=0
while [ ! -s "$WORK/evil.url" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
RUN_ENV="SMNEO_DEBUG=1 AWS_MAX_ATTEMPTS=1"
run evil_server 4 --endpoint-url "$(head -1 "$WORK/evil.url")" describe some-job
RUN_ENV=
raw evil_server
grep -qF 'request id req-\x1b[31mred' "$WORK/evil_server.err" && grep -qF '\x1b]0;pwned\x07\r\u009bsmneo: OK' "$WORK/evil_server.err" && grep -q '^smneo\[debug\] response: HTTP 400' "$WORK/evil_server.err" && ok || { fail "evil_server: not escaped"; cat "$WORK/evil_server.err"; }

# ---- many jobs: models x targets under a limit of 5, a failing target, Ctrl-C then a rerun ----------------
admin() { # METHOD PATH [JSON]: the local endpoint's admin API
  "$PY" - "$URL" "$1" "$2" "${3:-}" <<'EOF' || fail "admin $1 $2"
import sys, urllib.request
url, method, path, body = sys.argv[1:5]
req = urllib.request.Request(url + path, data=body.encode() if body else None, method=method)
print(urllib.request.urlopen(req, timeout=5).read().decode())
EOF
}
creates() { # accepted CreateCompilationJob requests since the record was cleared
  admin GET "/_smneo/requests?service=sagemaker" | "$PY" -c 'import json, sys; print(sum(r["operation"] == "CreateCompilationJob" and r["status"] == 200 for r in json.load(sys.stdin)["requests"]))'
}
admin POST /_smneo/settings '{"max_concurrent_jobs": 5, "job_duration": 0.5}' >/dev/null
admin DELETE /_smneo/requests >/dev/null
for m in churn fraud ranker; do mkdir -p "$WORK/zoo/$m" && echo "booster $m" >"$WORK/zoo/$m/xgboost.model"; done
ZOO="--model $WORK/zoo/churn --model $WORK/zoo/fraud --model $WORK/zoo/ranker --target ml_c5 --target ml_m5 --target ml_c4 --target ml_p3"
# shellcheck disable=SC2086
run many 0 --endpoint-url "$URL" compile $ZOO --framework XGBOOST --role "$ROLE" --bucket cli-test \
  --output-dir "$WORK/zoo-out" --delay 0.1 --max-delay 0.2 --max-concurrent 12 --output json
jcheck many 'len(d["Jobs"]) == 12 and all(j["CompilationJobStatus"] == "COMPLETED" and j["DigestVerified"] is True and os.path.isfile(j["ArtifactPath"]) and j["FailureReason"] is None for j in d["Jobs"]) and [(j["Model"].rsplit("/", 1)[1], j["Target"]) for j in d["Jobs"]][:5] == [("churn", "ml_c5"), ("churn", "ml_m5"), ("churn", "ml_c4"), ("churn", "ml_p3"), ("fraud", "ml_c5")] and len({j["CompilationJobName"] for j in d["Jobs"]}) == 12 and set(d["Jobs"][0]) == {"Model", "Target", "CompilationJobName", "CompilationJobStatus", "DurationSeconds", "ArtifactPath", "DigestVerified", "FailureReason", "Diagnosis"} and all(j["Diagnosis"] is None for j in d["Jobs"])'
grep_err many "queued: the account's concurrent-job limit was met"
[ "$(creates)" = 12 ] && ok || fail "many: $(creates) jobs created, expected 12"

admin POST /_smneo/faults '{"kind": "fail", "device": "ml_m5", "rate": 1, "failure": "not-tar-gz"}' >/dev/null
# shellcheck disable=SC2086
run many_fail 5 --endpoint-url "$URL" compile $ZOO --framework XGBOOST --role "$ROLE" --bucket cli-test \
  --output-dir "$WORK/zoo-fail" --delay 0.1 --max-delay 0.2 --max-concurrent 5
admin DELETE /_smneo/faults >/dev/null
[ "$(grep -c ' ml_m5 .* FAILED .*Unable to untar input model.* not-tar-gz' "$WORK/many_fail.out")" = 3 ] && [ "$(grep -c ' COMPLETED ' "$WORK/many_fail.out")" = 9 ] && grep -q '^MODEL *TARGET *JOB *STATUS' "$WORK/many_fail.out" && ok || { fail "many_fail: table"; cat "$WORK/many_fail.out"; }
grep_err many_fail "3 of 12 compilation jobs did not complete"

# --logs with several jobs: each job's log lines, prefixed by its number ([1], [2]), its own only
# (on stderr with --output json, on stdout otherwise)
admin POST /_smneo/faults '{"kind": "fail", "device": "ml_m5", "rate": 1, "failure": "not-tar-gz"}' >/dev/null
run many_logs 5 --endpoint-url "$URL" compile --model "$WORK/zoo/churn" --target ml_c5 --target ml_m5 \
  --framework XGBOOST --role "$ROLE" --bucket cli-test --output-dir "$WORK/zoo-logs" --delay 0.1 --max-delay 0.2 \
  --logs --output json
admin DELETE /_smneo/faults >/dev/null
"$PY" - "$WORK/many_logs.out" "$WORK/many_logs.err" <<'PYEOF' && ok || fail "many_logs: the jobs' log lines"
import json, re, sys
jobs = json.load(open(sys.argv[1]))["Jobs"]
names = [j["CompilationJobName"] for j in jobs]
lines = {}
for line in open(sys.argv[2]):
    m = re.match(r"^\[(\d)\] \d{4}-\d\d-\d\dT[\d:.]+Z  (.*)$", line.rstrip("\n"))
    if m:
        lines.setdefault(int(m.group(1)), []).append(m.group(2))
ok = [j["CompilationJobStatus"] for j in jobs] == ["COMPLETED", "FAILED"] and set(lines) == {1, 2}
ok = ok and "Compilation job %s completed" % names[0] in lines[1]
ok = ok and any(l.startswith("Compilation job %s failed: " % names[1]) for l in lines[2])
ok = ok and not any(names[1] in l for l in lines[1]) and not any(names[0] in l for l in lines[2])
if not ok:
    print(jobs, lines)
sys.exit(0 if ok else 1)
PYEOF

# on a terminal the lines go above the live lines (cleared, then drawn again below)
if command -v script >/dev/null 2>&1; then
  script -qc "'$SMNEO' --endpoint-url '$URL' compile --model '$WORK/zoo/fraud' --target ml_c5 --target ml_p3 \
    --framework XGBOOST --role '$ROLE' --bucket cli-test --output-dir '$WORK/zoo-ttylogs' --delay 0.1 \
    --max-delay 0.2 --logs" /dev/null >"$WORK/ttylogs.out" 2>&1
  grep -q "$(printf '\033')\\[2A$(printf '\033')\\[J\\[2\\] [0-9T:.-]*Z  " "$WORK/ttylogs.out" &&
    grep -q "\\[1\\] [0-9T:.-]*Z  Compilation job fraud-[0-9a-z-]* completed" "$WORK/ttylogs.out" &&
    grep -q "ml_p3 *COMPLETED" "$WORK/ttylogs.out" && ok || { fail "many --logs on a terminal"; head -20 "$WORK/ttylogs.out"; }
fi

# a mistake in the last job: refused before anything is uploaded or created
admin DELETE /_smneo/requests >/dev/null
mkdir -p "$WORK/zoo/empty" && echo "not a model" >"$WORK/zoo/empty/README"
run many_mistake 3 --endpoint-url "$URL" compile --model "$WORK/zoo/churn" --model "$WORK/zoo/fraud" \
  --model "$WORK/zoo/empty" --target ml_c5 --target ml_m5 --framework XGBOOST --role "$ROLE" --bucket cli-test \
  --output-dir "$WORK/zoo-x"
grep_err many_mistake "job 4 (.*empty for ml_c5): inspect: "
[ "$(creates)" = 0 ] && ok || fail "many_mistake: $(creates) jobs created"

# an S3 error while uploading is reported under the S3 request, not CreateCompilationJob
admin DELETE /_smneo/requests >/dev/null
# shellcheck disable=SC2086
run many_s3err 4 --endpoint-url "$URL" compile $ZOO --framework XGBOOST --role "$ROLE" --bucket no-such-bucket \
  --output-dir "$WORK/zoo-s3err"
grep_err many_s3err "compile (PutObject): .*(NoSuchBucket"
run one_s3err 4 --endpoint-url "$URL" compile --model "$WORK/zoo/churn" --target ml_c5 --framework XGBOOST \
  --role "$ROLE" --bucket no-such-bucket --output-dir "$WORK/zoo-s3err"
grep_err one_s3err "compile (PutObject): .*(NoSuchBucket"
[ "$(creates)" = 0 ] && ok || fail "many_s3err: $(creates) jobs created"

# Ctrl-C once the first 5 jobs run, then a rerun with the state file: no duplicates. The jobs
# here last 60 s and the endpoint has no limit (stopped jobs stay STOPPING a while), so the
# interrupt lands while they run however loaded the machine is; --max-concurrent 5 limits them.
admin DELETE /_smneo/requests >/dev/null
admin POST /_smneo/settings '{"job_duration": 60, "max_concurrent_jobs": null}' >/dev/null
# shellcheck disable=SC2086
"$SMNEO" --endpoint-url "$URL" compile $ZOO --framework XGBOOST --role "$ROLE" --bucket cli-test \
  --output-dir "$WORK/zoo-int" --delay 0.1 --max-delay 0.2 --max-concurrent 5 --state-file "$WORK/zoo.json" \
  >"$WORK/many_int.out" 2>"$WORK/many_int.err" &
CPID=$!
i=0
# (the background shell may not have made many_int.err yet: no file counts as 0, not as an
# error that ended the wait at once and sent SIGINT before the CLI could handle it)
created() { n=$(grep -c ': CREATED$' "$WORK/many_int.err" 2>/dev/null); echo "${n:-0}"; }
while [ "$(created)" -lt 5 ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
kill -INT $CPID
wait $CPID
rc=$?
[ $rc -eq 130 ] && ok || { fail "interrupted many: exit $rc, expected 130"; sed 's/^/    stderr: /' "$WORK/many_int.err" | tail -5; }
admin POST /_smneo/settings '{"job_duration": 0.5}' >/dev/null
grep_err many_int "the running jobs are being stopped"
STOPPED=$("$PY" -c 'import json, sys; print(sum(bool(j.get("StoppedBySmneo")) for j in json.load(open(sys.argv[1]))["Jobs"]))' "$WORK/zoo.json")
DONE1=$("$PY" -c 'import json, sys; print(sum(j.get("CompilationJobStatus") == "COMPLETED" and j.get("Downloaded") is True for j in json.load(open(sys.argv[1]))["Jobs"]))' "$WORK/zoo.json")
NAMED=$("$PY" -c 'import json, sys; print(sum("CompilationJobName" in j for j in json.load(open(sys.argv[1]))["Jobs"]))' "$WORK/zoo.json")
[ "$(creates)" = "$NAMED" ] && [ "$STOPPED" = 5 ] && [ "$DONE1" = 0 ] && ok || fail "many_int: $(creates) created, $NAMED recorded, $DONE1 completed, $STOPPED stopped"
# shellcheck disable=SC2086
run many_rerun 0 --endpoint-url "$URL" compile $ZOO --framework XGBOOST --role "$ROLE" --bucket cli-test \
  --output-dir "$WORK/zoo-int" --delay 0.1 --max-delay 0.2 --max-concurrent 5 --state-file "$WORK/zoo.json" --output json
jcheck many_rerun 'all(j["CompilationJobStatus"] == "COMPLETED" and os.path.isfile(j["ArtifactPath"]) for j in d["Jobs"])'
[ "$(grep -c 'skipped' "$WORK/many_rerun.err")" = "$DONE1" ] && ok || fail "many_rerun: skipped $(grep -c 'skipped' "$WORK/many_rerun.err"), expected $DONE1"
[ "$(creates)" = $((12 + STOPPED)) ] && ok || fail "many_rerun: $(creates) created in all, expected $((12 + STOPPED))"
admin POST /_smneo/settings '{"max_concurrent_jobs": 5}' >/dev/null

# issue 19's "Done when": the nine jobs of three models for ml_c5, jetson_nano and LINUX/ARM64 against
# an endpoint allowing 3 at a time (below the default --max-concurrent, 4: its ResourceLimitExceeded
# is met and absorbed): the table; then Ctrl-C once 3 completed, and a rerun with the state file that
# finishes only what was left (the downloaded skipped, nothing created twice)
admin POST /_smneo/settings '{"max_concurrent_jobs": 3, "job_duration": 0.5}' >/dev/null
for m in a b c; do mkdir -p "$WORK/nine/$m" && cp "$ROOT/examples/model/model.pt" "$WORK/nine/$m/" && echo "$m" >"$WORK/nine/$m/variant.txt"; done
NINE="--model $WORK/nine/a --model $WORK/nine/b --model $WORK/nine/c --target ml_c5 --target jetson_nano --platform LINUX/ARM64
  --framework PYTORCH --input-shape {\"input0\":[1,4]} --role $ROLE --bucket cli-test --delay 0.1 --max-delay 0.2"
admin DELETE /_smneo/requests >/dev/null
# shellcheck disable=SC2086
run nine 0 --endpoint-url "$URL" compile $NINE --output-dir "$WORK/nine-out"
grep -q '^MODEL *TARGET *JOB *STATUS' "$WORK/nine.out" && [ "$(grep -c ' COMPLETED ' "$WORK/nine.out")" = 9 ] &&
  [ "$(grep -c ' LINUX/ARM64 .* COMPLETED ' "$WORK/nine.out")" = 3 ] && [ "$(grep -c ' jetson_nano .* COMPLETED ' "$WORK/nine.out")" = 3 ] &&
  ok || { fail "nine: table"; cat "$WORK/nine.out"; }
grep_err nine "queued: the account's concurrent-job limit was met"
[ "$(creates)" = 9 ] && ok || fail "nine: $(creates) jobs created, expected 9"
admin DELETE /_smneo/requests >/dev/null
admin POST /_smneo/settings '{"job_duration": 3}' >/dev/null
# shellcheck disable=SC2086
"$SMNEO" --endpoint-url "$URL" compile $NINE --output-dir "$WORK/nine-int" --state-file "$WORK/nine.json" \
  >"$WORK/nine_int.out" 2>"$WORK/nine_int.err" &
CPID=$!
i=0
completed() { n=$(grep -c ': COMPLETED$' "$WORK/nine_int.err" 2>/dev/null); echo "${n:-0}"; }
while [ "$(completed)" -lt 3 ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i + 1)); done
kill -INT $CPID
wait $CPID
rc=$?
[ $rc -eq 130 ] && ok || { fail "nine_int: exit $rc, expected 130"; tail -5 "$WORK/nine_int.err"; }
admin POST /_smneo/settings '{"job_duration": 0.5}' >/dev/null
DONE9=$("$PY" -c 'import json, sys; print(sum(j.get("CompilationJobStatus") == "COMPLETED" and j.get("Downloaded") is True for j in json.load(open(sys.argv[1]))["Jobs"]))' "$WORK/nine.json")
COMPLETED9=$("$PY" -c 'import json, sys; print(sum(j.get("CompilationJobStatus") == "COMPLETED" for j in json.load(open(sys.argv[1]))["Jobs"]))' "$WORK/nine.json")
FIRST9=$(creates)
[ "$COMPLETED9" -ge 3 ] && [ "$COMPLETED9" -lt 9 ] && [ "$DONE9" -ge 1 ] && ok ||
  fail "nine_int: $COMPLETED9 jobs completed ($DONE9 downloaded) before the interrupt, expected 3 to 8"
# shellcheck disable=SC2086
run nine_rerun 0 --endpoint-url "$URL" compile $NINE --output-dir "$WORK/nine-int" --state-file "$WORK/nine.json"
[ "$(grep -c ' COMPLETED ' "$WORK/nine_rerun.out")" = 9 ] && grep -q '^MODEL *TARGET *JOB *STATUS' "$WORK/nine_rerun.out" &&
  ok || { fail "nine_rerun: table"; cat "$WORK/nine_rerun.out"; }
[ "$(grep -c 'skipped' "$WORK/nine_rerun.err")" = "$DONE9" ] && ok || fail "nine_rerun: skipped $(grep -c 'skipped' "$WORK/nine_rerun.err"), expected $DONE9"
[ "$(creates)" = $((FIRST9 + 9 - COMPLETED9)) ] && ok || fail "nine_rerun: $(creates) created in all, expected $((FIRST9 + 9 - COMPLETED9))"
admin POST /_smneo/settings '{"max_concurrent_jobs": 5}' >/dev/null

# one live line per job on a terminal
if command -v script >/dev/null 2>&1; then
  script -qc "'$SMNEO' --endpoint-url '$URL' compile --model '$WORK/zoo/churn' --target ml_c5 --target ml_m5 --framework XGBOOST --role '$ROLE' --bucket cli-test --output-dir '$WORK/zoo-tty' --delay 0.1 --max-delay 0.2" /dev/null >"$WORK/many_tty.out" 2>&1
  grep -q "$(printf '\033')\[2A" "$WORK/many_tty.out" && grep -q "churn *ml_m5 *COMPLETED" "$WORK/many_tty.out" && ok || { fail "many: no live lines on a terminal"; head -5 "$WORK/many_tty.out"; }
fi
admin POST /_smneo/settings '{"max_concurrent_jobs": null, "job_duration": 2}' >/dev/null
# every CreateCompilationJob option reaches the request: VpcConfig, the StoppingCondition limits, a model package
admin DELETE /_smneo/requests >/dev/null
run compile_options 0 --endpoint-url "$URL" compile --model "$WORK/zoo/churn" --target ml_c5 --framework XGBOOST \
  --role "$ROLE" --bucket cli-test --output-dir "$WORK/zoo-opt" --delay 0.1 --max-delay 0.2 \
  --vpc-config '{"SecurityGroupIds":["sg-0123"],"Subnets":["subnet-0a"]}' --max-runtime 600 --max-wait 1800 \
  --max-pending 7200
admin GET "/_smneo/requests?service=sagemaker" >"$WORK/compile_options_req.out"
jcheck compile_options_req '[r["params"] for r in d["requests"] if r["operation"] == "CreateCompilationJob"][0]["VpcConfig"] == {"SecurityGroupIds": ["sg-0123"], "Subnets": ["subnet-0a"]} and [r["params"] for r in d["requests"] if r["operation"] == "CreateCompilationJob"][0]["StoppingCondition"] == {"MaxRuntimeInSeconds": 600, "MaxWaitTimeInSeconds": 1800, "MaxPendingTimeInSeconds": 7200}'
PKG=arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-models/3
run compile_package 5 --endpoint-url "$URL" compile --model-package-version-arn "$PKG" --target ml_c5 \
  --role "$ROLE" --bucket cli-test --delay 0.1 --max-delay 0.2 --output json
jcheck compile_package 'd["CompilationJobStatus"] == "FAILED" and d["Job"]["ModelPackageVersionArn"] == "'"$PKG"'" and d["CompilationJobName"].startswith("churn-models-") and "InputS3Uri" not in d'


finish
