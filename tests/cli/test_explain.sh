#!/bin/sh
# shellcheck disable=SC2015  # `check && ok || fail`: ok never fails
# tests/cli/test_explain.sh SMNEO: `smneo explain` (docs/diagnosis.md) against
# a local endpoint: a job is failed (a fail fault) with each failure of
# smneo.local's own catalogue and each case of tests/fixtures/diagnosis/
# cases.json (one job per answer: every catalogue entry and unknown), created
# with `smneo create`, the last waited for with `smneo wait` (exit 5), its
# log read from GET /_smneo/logs; then `smneo explain JOB
# --log-file LOG --output json` must name the expected catalogue entry with
# its rule and evidence, and so must `smneo explain JOB` reading the log from
# the local CloudWatch Logs itself. Also: the table output, --description-json from
# `smneo describe`, stdin, a plain-text log, an unknown failure, usage errors.
# Run from the repository root:
#   sh tests/cli/test_explain.sh build/smneo
# shellcheck disable=SC2034  # NAME: read by lib.sh
NAME=test_explain
# shellcheck source=tests/cli/lib.sh
. "$(dirname "$0")/lib.sh"
static_keys
start_local --job-duration 0.2

# ---- the jobs: a fail fault each (one POST), then `smneo create` ------------------------------
mkdir -p "$WORK/jobs" "$WORK/logs"
"$PY" - "$ROOT" "$URL" "$WORK" <<'EOF' || { echo "test_explain: cannot queue the faults"; exit 1; }
import json, sys, urllib.request
root, url, work = sys.argv[1:4]
fx = json.load(open(root + "/tests/fixtures/diagnosis/cases.json"))
dbl = lambda s: s.replace("{", "{{").replace("}", "}}")  # smneo.local's texts are format strings
# one job per catalogue entry (and unknown), from smneo.local's own failures first:
# the C, Python and Lua suites run every failure and case, this one every answer
faults, jobs, seen = [], [], set()
for k, (failure, want) in enumerate(sorted(fx["local"].items())):
    if want in seen:
        continue
    seen.add(want)
    name = "diag-cli-local-%d" % k
    faults.append({"kind": "fail", "failure": failure, "job": name})
    jobs.append((name, "smneo.local " + failure, want, "FailureReason", {}))
for k, case in enumerate(fx["cases"]):
    if case["id"] in seen and case["evidence"] != "log":
        continue
    seen.add(case["id"])
    name = "diag-cli-case-%d" % k
    faults.append({"kind": "fail", "job": name, "reason": dbl(case["reason"]), "log": [dbl(l) for l in case["log"]]})
    jobs.append((name, case["name"], case["id"], case["evidence"], case))
req = urllib.request.Request(url + "/_smneo/faults", data=json.dumps(faults).encode(), method="POST")
urllib.request.urlopen(req, timeout=10).read()
with open(work + "/jobs.txt", "w") as out:
    for name, what, want, evidence, case in jobs:
        fw = case.get("framework", "PYTORCH")
        oc = {"S3OutputLocation": "s3://models/out"}
        if case.get("platform"):
            oc["TargetPlatform"] = case["platform"]
        else:
            oc["TargetDevice"] = case.get("target", "ml_c5")
        if case.get("compiler_options"):
            oc["CompilerOptions"] = case["compiler_options"]
        shape = {"PYTORCH": {"input0": [1, 3, 224, 224]}, "TENSORFLOW": {"input": [1, 224, 224, 3]}}
        params = {"CompilationJobName": name, "RoleArn": "arn:aws:iam::123456789012:role/NeoRole",
                  "InputConfig": {"S3Uri": "s3://models/in/model.tar.gz", "Framework": fw,
                                  "DataInputConfig": shape.get(fw, {"data": [1, 3, 416, 416]})},
                  "OutputConfig": oc}
        json.dump(params, open("%s/jobs/%s.json" % (work, name), "w"))
        out.write("%s\t%s\t%s\t%s\n" % (name, want, evidence, what))
EOF
njobs=0
while IFS="	" read -r job want evidence what; do
  "$SMNEO" --endpoint-url "$URL" create --cli-input-json "$WORK/jobs/$job.json" >/dev/null 2>"$WORK/create.err" \
    && ok || { fail "create $job ($what)"; sed 's/^/    /' "$WORK/create.err"; }
  njobs=$((njobs + 1))
done <"$WORK/jobs.txt"
[ "$njobs" -ge 40 ] && ok || fail "only $njobs jobs"
# the last job created ends last: `smneo wait` exits 5 for it
LAST=$(tail -1 "$WORK/jobs.txt" | cut -f1)
run wait_last 5 --endpoint-url "$URL" wait "$LAST" --delay 0.1 --max-delay 0.3 --timeout 60

# every job's log, as GET /_smneo/logs answers it ({"events": [{"message": ...}]}), once it
# ends with the job's "failed" line
"$PY" - "$URL" "$WORK" <<'EOF' && ok || fail "cannot read the logs"
import json, sys, time, urllib.request
url, work = sys.argv[1:3]
for line in open(work + "/jobs.txt"):
    job = line.split("\t")[0]
    deadline = time.time() + 60
    while True:
        with urllib.request.urlopen("%s/_smneo/logs?job=%s" % (url, job), timeout=10) as r:
            body = r.read()
        events = json.loads(body)["events"]
        if any(e["message"].startswith("Compilation job %s failed: " % job) for e in events):
            break
        if time.time() > deadline:
            sys.exit("%s did not fail" % job)
        time.sleep(0.1)
    open("%s/logs/%s.json" % (work, job), "wb").write(body)
EOF

# ---- explain each --------------------------------------------------------------------------------
while IFS="	" read -r job want evidence what; do
  "$SMNEO" --endpoint-url "$URL" explain "$job" --log-file "$WORK/logs/$job.json" --output json \
    >"$WORK/jobs/$job.out" 2>"$WORK/jobs/$job.err" && ok || { fail "explain $job ($what)"; cat "$WORK/jobs/$job.err"; }
  # without --log-file the CLI reads the log from CloudWatch Logs itself
  "$SMNEO" --endpoint-url "$URL" explain "$job" --output json \
    >"$WORK/jobs/$job.fetch" 2>"$WORK/jobs/$job.fetch.err" && ok || { fail "explain $job (fetch)"; cat "$WORK/jobs/$job.fetch.err"; }
done <"$WORK/jobs.txt"
"$PY" - "$ROOT" "$WORK" <<'EOF' && ok || fail "explain answers"
import json, sys
root, work = sys.argv[1:3]
cat = json.load(open(root + "/model/neo-failures.json"))
entries = {e["id"]: e for e in cat["failures"]}
bad = 0
answers = {line.split("\t")[1] for line in open(work + "/jobs.txt")}
if answers != set(entries) | {"unknown"}:
    bad += 1
    print("    the jobs miss the answers %s" % sorted(set(entries) | {"unknown"} - answers))
for line in open(work + "/jobs.txt"):
    job, want, evidence, what = line.rstrip("\n").split("\t")
    try:
        d = json.load(open("%s/jobs/%s.out" % (work, job)))
        log = [e["message"] for e in json.load(open("%s/logs/%s.json" % (work, job)))["events"]]
        assert d["Id"] == want, "diagnosed %s" % d["Id"]
        f = json.load(open("%s/jobs/%s.fetch" % (work, job)))
        assert (f["Id"], f["EvidenceSource"], f["Evidence"]) == (want, evidence, d["Evidence"]), \
            "with the log from CloudWatch Logs: %s" % f["Id"]
        assert d["JobName"] == job and d["Status"] == "FAILED" and d["Issues"] == []
        assert d["EvidenceSource"] == evidence
        if evidence == "log":
            assert d["Evidence"] == log[d["EvidenceLine"] - 1]
        else:
            assert d["Evidence"] == d["FailureReason"] and d["EvidenceLine"] is None
        if want == "unknown":
            assert d["Matched"] is False and d["Category"] == "system" and "does not recognise" in d["Title"]
        else:
            e = entries[want]
            assert d["Matched"] is True and d["Category"] == e["category"] and d["Rule"] == e["rule"]
            assert d["Fix"] == e["fix"] and d["Source"] == cat["sources"][e["source"]]
    except Exception as exc:  # report every job, not only the first
        bad += 1
        print("    %s (%s, expected %s): %s" % (job, what, want, exc))
sys.exit(1 if bad else 0)
EOF

# ---- the table, --description-json, stdin, plain lines, unknown -------------------------------
FIRST=$(head -1 "$WORK/jobs.txt" | cut -f1)
FIRST_ID=$(head -1 "$WORK/jobs.txt" | cut -f2)
run table 0 --endpoint-url "$URL" explain "$FIRST"
grep -q "^Job $FIRST: FAILED$" "$WORK/table.out" && grep -q "^Diagnosis: $FIRST_ID (" "$WORK/table.out" \
  && grep -q "^Cause: " "$WORK/table.out" && grep -q "^Fix: " "$WORK/table.out" && grep -q "^Source: https://docs.aws.amazon.com/" "$WORK/table.out" \
  && ok || { fail "table output"; sed 's/^/    /' "$WORK/table.out"; }
STATE=$(grep "	log-state-dict$" "$WORK/jobs.txt" | cut -f1)
run describe 0 --endpoint-url "$URL" describe "$STATE" --output json
run from_json 0 explain --description-json "$WORK/describe.out" --log-file "$WORK/logs/$STATE.json" --output json
grep -q '"Id": "pytorch-state-dict"' "$WORK/from_json.out" && ok || fail "--description-json: $(cat "$WORK/from_json.out")"
"$PY" -c 'import json, sys; [print(e["message"]) for e in json.load(open(sys.argv[1]))["events"]]' \
  "$WORK/logs/$STATE.json" >"$WORK/plain.log"
"$SMNEO" explain --description-json - --log-file "$WORK/plain.log" <"$WORK/describe.out" >"$WORK/stdin.out" 2>&1 \
  && grep -q "^Diagnosis: pytorch-state-dict (a load error)" "$WORK/stdin.out" \
  && grep -q "^Evidence (log line [0-9]*): RuntimeError: PytorchStreamReader" "$WORK/stdin.out" && ok \
  || { fail "stdin description with a plain-text log"; sed 's/^/    /' "$WORK/stdin.out"; }
"$SMNEO" explain --description-json "$WORK/describe.out" --log-file - <"$WORK/plain.log" >"$WORK/stdin2.out" 2>&1 \
  && grep -q "^Diagnosis: pytorch-state-dict" "$WORK/stdin2.out" && ok || fail "log from stdin"
printf '{"CompilationJobStatus": "FAILED", "FailureReason": "ClientError: the moon is wrong \033[2J"}' >"$WORK/unknown.json"
printf 'INFO a\r\n\033]0;x\007 \377 nothing known\r\n' >"$WORK/hostile.log"
run unknown 0 explain --description-json "$WORK/unknown.json" --log-file "$WORK/hostile.log"
grep -q "^Diagnosis: unknown (a system error): smneo does not recognise this failure" "$WORK/unknown.out" && ok \
  || fail "unknown: $(cat "$WORK/unknown.out")"
LC_ALL=C grep -q "$(printf '\033')" "$WORK/unknown.out" && fail "a control character reached the output" || ok

# ---- usage ------------------------------------------------------------------------------------------
run usage_none 2 explain
run usage_both 2 explain "$FIRST" --description-json "$WORK/describe.out"
run usage_bad_json 2 explain --description-json "$WORK/plain.log"
run usage_stdin_twice 2 explain --description-json - --log-file -
run usage_missing_file 2 explain --description-json "$WORK/no-such-file"
run missing_job 4 --endpoint-url "$URL" explain no-such-job

finish
