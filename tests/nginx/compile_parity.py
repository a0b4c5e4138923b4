"""The same compile through Python's smneo.Client.compile and through
smneo.resty's compile inside nginx (tests/nginx/app.lua: /compile_parity),
against the same smneo.local: the results, the error's kind and message and
the events' kinds in order and the LOG events' lines must be the same (issue
14's "Done when").

Usage: parity.py NGINX_BASE ENDPOINT ROOT TMPDIR CASE...  (run by run.sh, with
PYTHONPATH=python and the in-place extension built). The event kinds are
compared without WAITING (its count follows timing) and LOG (where its
lines fall between the STATUS events follows timing: the lines are compared
on their own), and with a run of one kind counted once (how many STATUS or
progress events come follows timing too); job names, prefixes and output directories, which differ by side, are
replaced in messages. A service's error is botocore's ClientError in Python:
its error code is compared with the Lua error's code, its message without
botocore's "An error occurred (...) when calling the ... operation: ". A validation error's message is botocore's report in
Python (ParamValidationError) and the core's summary in Lua: its issues are
compared."""
import json
import os
import re
import sys
import urllib.parse
import urllib.request

import smneo

base, endpoint, root, tmp = sys.argv[1:5]
cases = sys.argv[5:]

# each case's options over the shared ones, and the outcome it is there for
EXPECT = {"ok": "COMPLETED", "fail": "JobFailed", "bad_target": "ValidationError", "no_model": "InvalidArgument",
          "cancel": "Cancelled", "logs": "COMPLETED", "multipart": "COMPLETED", "upload_denied": "ClientError"}
CASES = {
    "ok": {},
    "fail": {},
    "bad_target": {"target_device": "ml_nope"},
    "no_model": {"model": "/nonexistent/parity-model"},
    "cancel": {},  # the callback returns False at CREATED: the job is stopped
    "logs": {"follow_logs": True},
    # TMPDIR/bigmodel (run.sh): its archive is over the 64 MiB multipart threshold
    "multipart": {"model": os.path.join(tmp, "bigmodel")},
    # the same, with every S3 PUT denied (run.sh sets the fault): UploadPart fails, the upload is aborted
    "upload_denied": {"model": os.path.join(tmp, "bigmodel")},
}

# Python's exception for each of the core's error names (docs/python.md, Exceptions)
KIND_OF_CLASS = {
    "CompilationJobFailed": "JobFailed",
    "CompilationJobStopped": "JobStopped",
    "WaiterTimeout": "WaiterTimeout",
    "WaiterCancelled": "Cancelled",
    "ParamValidationError": "ValidationError",
    "DigestMismatchError": "DigestMismatch",
    "UnsafeArchiveError": "UnsafeArchive",
    "ArtifactError": "ArchiveError",
    "ValueError": "InvalidArgument",
    "FileNotFoundError": "IOError",
    "OSError": "IOError",
}


def normalise(text, case):
    text = re.sub(r"parity-%s-\d{14}-[0-9a-f]{4}" % re.escape(case), "<job>", text or "")
    text = re.sub(r"parity-%s-(py|ngx)" % re.escape(case), "<prefix>", text)
    return text.replace(os.path.join(tmp, "parity-py"), "<out>").replace(os.path.join(tmp, "parity-ngx"), "<out>")


def python_side(case):
    client = smneo.Client(region_name="us-east-1", endpoint_url=endpoint, aws_access_key_id="AKIDEXAMPLE",
                          aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    kinds = []

    lines = []

    def callback(ev):
        if ev["kind"] == "LOG":
            lines.append(ev["message"])
        elif ev["kind"] != "WAITING" and (not kinds or kinds[-1] != ev["kind"]):
            kinds.append(ev["kind"])
        return not (case == "cancel" and ev["kind"] == "CREATED")

    options = dict(model=os.path.join(root, "examples/model"), framework="PYTORCH",
                   role_arn="arn:aws:iam::123456789012:role/neo", s3_bucket="models",
                   s3_prefix="parity-%s-py" % case, data_input_config='{"input0": [1, 3, 224, 224]}',
                   output_dir=os.path.join(tmp, "parity-py"), delay=0.05, max_delay=0.1, timeout=60,
                   target_device="ml_c5", job_name="parity-" + case, callback=callback)
    options.update(CASES[case])
    out = {"events": kinds, "log": lines}
    try:
        r = client.compile(**options)
    except Exception as e:  # the comparison is the test: any exception is an outcome
        kind = next((KIND_OF_CLASS[k.__name__] for k in type(e).__mro__ if k.__name__ in KIND_OF_CLASS),
                    type(e).__name__)
        # the core's message: CompilationJobFailed's str() adds botocore's prefix to it
        message = getattr(e, "FailureReason", None) if kind == "JobFailed" else str(e)
        out["error"] = {"kind": kind, "message": message}
        if kind == "ClientError":
            # a service's error: botocore's ClientError, whose str() puts its
            # "An error occurred (Code) when calling the Op operation: " before
            # the core's message; Lua's error has the same code
            out["error"]["code"] = e.response["Error"]["Code"]
            out["error"]["message"] = re.sub(r"^An error occurred \([^)]*\) when calling the \w+ operation: ", "",
                                             message)
        if kind == "ValidationError":
            out["error"]["issues"] = ["|".join(i) for i in e.issues]
    else:
        out["status"] = r.job["CompilationJobStatus"]
        out["digest_verified"] = r.digest_verified
        out["artifact_path"] = r.artifact_path
        out["job_name"] = r.job_name
    return out


def nginx_side(case):
    q = urllib.parse.urlencode({"case": case, "out": os.path.join(tmp, "parity-ngx")})
    with urllib.request.urlopen("%s/compile_parity?%s" % (base, q), timeout=120) as resp:
        return json.load(resp)


status = 0
for case in cases:
    py, ngx = python_side(case), nginx_side(case)
    diffs = []
    if py["events"] != ngx["events"]:
        diffs.append("events: Python %s, nginx %s" % (py["events"], ngx["events"]))
    pl, nl = [normalise(x, case) for x in py["log"]], [normalise(x, case) for x in ngx["log"]]
    if pl != nl or (case == "logs" and not pl):
        diffs.append("log lines: Python %s, nginx %s" % (pl, nl))
    if ("error" in py) != ("error" in ngx):
        diffs.append("outcome: Python %s, nginx %s" % (py.get("error") or "success", ngx.get("error") or "success"))
    elif "error" in py:
        if py["error"]["kind"] == "ClientError":
            if py["error"]["code"] != ngx["error"].get("code"):
                diffs.append("error code: Python %s, nginx %s" % (py["error"]["code"], ngx["error"].get("code")))
        elif py["error"]["kind"] != ngx["error"]["kind"]:
            diffs.append("error kind: Python %s, nginx %s" % (py["error"]["kind"], ngx["error"]["kind"]))
        pm, nm = normalise(py["error"]["message"], case), normalise(ngx["error"]["message"], case)
        if py["error"]["kind"] == "ValidationError":
            # Python's message is botocore's report (docs/python.md); the issues are the core's
            if py["error"]["issues"] != ngx["error"].get("issues") or not py["error"]["issues"]:
                diffs.append("issues: Python %s, nginx %s" % (py["error"]["issues"], ngx["error"].get("issues")))
        elif pm != nm:
            diffs.append("error message:\n  Python %r\n  nginx  %r" % (pm, nm))
    else:
        for k in ("status", "digest_verified"):
            if py[k] != ngx[k]:
                diffs.append("%s: Python %r, nginx %r" % (k, py[k], ngx[k]))
        # the compiled archive, under each side's output_dir, by the same name
        pa, na = py.get("artifact_path") or "", ngx.get("artifact_path") or ""
        if (normalise(pa, case) != normalise(na, case) or not pa.startswith(os.path.join(tmp, "parity-py")) or
                not os.path.isfile(pa) or not os.path.isfile(na)):
            diffs.append("artifact: Python %r, nginx %r" % (pa, na))
        if normalise(py["job_name"], case) != "<job>" or normalise(ngx["job_name"], case) != "<job>":
            diffs.append("job names: Python %r, nginx %r" % (py["job_name"], ngx["job_name"]))
    what = py.get("error", {}).get("kind") or py.get("status")
    if what != EXPECT[case]:
        diffs.append("expected %s, got %s" % (EXPECT[case], what))
    if diffs:
        status = 1
        print("NOT parity %s (%s):\n  %s" % (case, what, "\n  ".join(diffs)))
    else:
        print("ok  parity %s: %s, events %s%s" % (case, what, ",".join(py["events"]),
                                                  ", %d log lines" % len(pl) if pl else ""))
sys.exit(status)
