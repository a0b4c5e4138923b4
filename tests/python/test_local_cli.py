"""python3 -m smneo.local: prints its URL first, serves, stops on SIGTERM."""
import json
import os
import signal
import subprocess
import sys
import urllib.request

import pytest

from local_fixtures import boto3  # noqa: F401  (skips without boto3)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _start(*args):
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"))
    p = subprocess.Popen([sys.executable, "-m", "smneo.local", "--port", "0", *args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                         text=True)
    url = p.stdout.readline().strip()
    return p, url


def test_import_smneo_local_needs_no_extension():
    # The real import path, as a user has it: `import smneo.local` must work
    # whatever state the C extension is in.
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"))
    r = subprocess.run([sys.executable, "-c", "import smneo.local; print(smneo.local.Server)"],
                       env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


def test_cli_prints_url_and_serves(tmp_path):
    pipes = tmp_path / "p.json"
    arn = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/e1"
    pipes.write_text(json.dumps({arn: [{"StepName": "Compile", "StepStatus": "Executing"}]}))
    ident = tmp_path / "identity.json"
    ident.write_text(json.dumps({"roles": {"arn:aws:iam::1:role/x": {"deny": True}}}))
    p, url = _start("--credentials", "cli:secret", "--pipelines", str(pipes),
                    "--job-duration", "0.2", "--data-dir", str(tmp_path),
                    "--max-concurrent-jobs", "3", "--region", "us-east-1",
                    "--identity", str(ident), "--credential-duration", "120",
                    "--fault", '{"kind": "fail", "failure": "internal-error"}')
    try:
        assert url.startswith("http://127.0.0.1:"), p.stderr.read()

        def get(path):
            with urllib.request.urlopen(url + path, timeout=5) as r:
                return json.loads(r.read())
        assert get("/_smneo/health")["status"] == "ok"
        assert get("/_smneo/health")["region"] == "us-east-1"
        assert get("/_smneo/settings")["max_concurrent_jobs"] == 3
        assert get("/_smneo/identity")["credential_duration"] == 120
        assert get("/_smneo/identity")["roles"] == {"arn:aws:iam::1:role/x": {"deny": True}}
        assert get("/_smneo/faults")["faults"] == [{"kind": "fail",
                                                    "failure": "internal-error",
                                                    "count": 1}]
        sm = boto3.client("sagemaker", endpoint_url=url, region_name="us-east-1",
                          aws_access_key_id="cli", aws_secret_access_key="secret")
        steps = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)
        assert [s["StepName"] for s in steps["PipelineExecutionSteps"]] == ["Compile"]
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            code = p.wait(timeout=10)
        finally:
            p.stdout.close()
            p.stderr.close()
    assert code == 0


@pytest.mark.parametrize("args,words", [
    (["--pipelines", "BAD"], "not valid JSON"),
    (["--fault", '{"kind": "fail", "failure": "nope"}'], "unsupported-operator"),
])
def test_cli_reports_bad_arguments(tmp_path, args, words):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    p, url = _start(*[str(bad) if a == "BAD" else a for a in args])
    try:
        assert url == ""
        assert p.wait(timeout=10) == 2
        assert words in p.stderr.read()
    finally:
        p.stdout.close()
        p.stderr.close()
