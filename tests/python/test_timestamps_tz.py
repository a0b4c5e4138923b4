"""Timestamps as botocore returns them (issue 13, item 7): aware datetimes in
the local zone (botocore's tzlocal()), checked under TZ=America/Los_Angeles
against botocore's parser on the same bytes, winter and summer."""
import json
import os
import subprocess
import sys

import smneo
from fakes import need_module

PYDIR = os.path.dirname(os.path.dirname(smneo.__file__))

CODE = r"""
import json, sys
import smneo
from botocore import parsers, session

ops = session.get_session().get_service_model("sagemaker")
for ts in (1704067200.5, 1719792000, 0):
    body = json.dumps({"CompilationJobSummaries": [
        {"CompilationJobName": "a", "CompilationJobArn": "arn:aws:sagemaker:us-east-1:1:compilation-job/a",
         "CreationTime": ts, "CompilationJobStatus": "COMPLETED"}]}).encode()
    ours = smneo.parse_response("ListCompilationJobs", 200, {}, body)["CompilationJobSummaries"][0]["CreationTime"]
    theirs = parsers.create_parser("json").parse(
        {"status_code": 200, "headers": {}, "body": body},
        ops.operation_model("ListCompilationJobs").output_shape)["CompilationJobSummaries"][0]["CreationTime"]
    print(json.dumps([str(ours), ours.tzname(), ours.utcoffset().total_seconds(),
                      str(theirs), theirs.tzname(), theirs.utcoffset().total_seconds(), ours == theirs]))
"""


def run(tz):
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, PYTHONPATH=PYDIR, TZ=tz))
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_timestamps_are_local_as_botocores_under_los_angeles():
    need_module("botocore.parsers")
    rows = run("America/Los_Angeles")
    assert [r[:3] for r in rows] == [r[3:6] for r in rows]
    assert all(r[6] for r in rows)
    assert rows[0][:3] == ["2023-12-31 16:00:00.500000-08:00", "PST", -8 * 3600]
    assert rows[1][:3] == ["2024-06-30 17:00:00-07:00", "PDT", -7 * 3600]


def test_timestamps_in_utc_zone():
    need_module("botocore.parsers")
    rows = run("UTC")
    assert [r[:3] for r in rows] == [r[3:6] for r in rows]
    assert rows[1][:3] == ["2024-07-01 00:00:00+00:00", "UTC", 0]
