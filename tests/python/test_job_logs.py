"""Client.get_compilation_job_logs and the log on a FAILED compile against
smneo.local: a completed job's log equals what boto3 reads from the same
server, start_time, tail, follow to the job's end, no log yet, AccessDenied
as a LogWarning that leaves the failure intact, Ctrl-C during follow."""
import datetime
import os
import shutil
import sys
import warnings

import pytest

import smneo
import smneo.local
from fakes import isolated_env  # noqa: F401

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLE = "arn:aws:iam::123456789012:role/NeoRole"
GROUP = "/aws/sagemaker/CompilationJobs"
sys.path.insert(0, os.path.join(ROOT, "examples"))
from create_bucket import create_bucket  # noqa: E402


def job_request(name):
    return {
        "CompilationJobName": name, "RoleArn": ROLE,
        "InputConfig": {"S3Uri": "s3://models/in/model.tar.gz", "Framework": "PYTORCH",
                        "DataInputConfig": '{"input0": [1, 3, 224, 224]}'},
        "OutputConfig": {"S3OutputLocation": "s3://models/out", "TargetDevice": "ml_c5"},
        "StoppingCondition": {"MaxRuntimeInSeconds": 900},
    }


@pytest.fixture
def local(isolated_env):
    with smneo.local.Server(port=0, job_duration=0.3) as server:
        create_bucket(server.url, "models", "test", "test", "us-east-1")
        with smneo.Client(region_name="us-east-1", endpoint_url=server.url, aws_access_key_id="test",
                          aws_secret_access_key="test") as client:
            yield server, client


@pytest.fixture
def model(tmp_path):
    d = tmp_path / "resnet"
    d.mkdir()
    shutil.copy(os.path.join(ROOT, "examples", "model", "model.pt"), d / "model.pt")
    return d


def failed_job(server, client, name, failure="pytorch-model-count", **params):
    server.fail_jobs(failure, job=name, params=params or None)
    client.create_compilation_job(**job_request(name))
    with pytest.raises(smneo.CompilationJobFailed):
        client.wait_for_compilation_job(name, delay=0.05, max_delay=0.1, timeout=30)


def boto3_view(server, name):
    """The job's log read with boto3 from the same server: every stream
    NAME and NAME/..., all pages, merged by (timestamp, stream name)."""
    boto3 = pytest.importorskip("boto3")
    logs = boto3.client("logs", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test")
    streams = [s["logStreamName"] for p in logs.get_paginator("describe_log_streams").paginate(
        logGroupName=GROUP, logStreamNamePrefix=name) for s in p["logStreams"]
        if s["logStreamName"] == name or s["logStreamName"].startswith(name + "/")]
    out = []
    for s in streams:
        token = None
        while True:
            kw = {"nextToken": token} if token else {}
            page = logs.get_log_events(logGroupName=GROUP, logStreamName=s, startFromHead=True, **kw)
            out += [(e["timestamp"], s, i, e["message"]) for i, e in enumerate(page["events"], len(out))]
            if page["nextForwardToken"] == token:
                break
            token = page["nextForwardToken"]
    return [(ts, m) for ts, s, i, m in sorted(out)]


def as_pairs(events):
    return [(int(round(e["timestamp"].timestamp() * 1000)), e["message"]) for e in events]


def test_completed_job_log(local, model):
    server, client = local
    r = client.compile(model, framework="PYTORCH", role_arn=ROLE, s3_bucket="models", target_device="ml_c5",
                       data_input_config={"input0": [1, 4]}, delay=0.05, output_dir=str(model) + "-out")
    name = r.job_name
    assert r.logs == [] and r.diagnosis is None
    server.put_log_events(GROUP, name + "x", [(1, "another job's stream")])
    server.configure(logs_page_limit=2)
    events = list(client.get_compilation_job_logs(name))
    assert events and all(set(e) == {"timestamp", "message"} for e in events)
    assert all(e["timestamp"].tzinfo is not None for e in events)
    assert as_pairs(events) == boto3_view(server, name)
    assert "another job's stream" not in [e["message"] for e in events]
    assert any("completed" in e["message"] for e in events)
    # start_time (datetime, naive = UTC, or epoch seconds) and tail
    mid = events[len(events) // 2]["timestamp"]
    later = list(client.get_compilation_job_logs(name, start_time=mid))
    assert later == [e for e in events if e["timestamp"] >= mid] and len(later) < len(events)
    assert list(client.get_compilation_job_logs(name, start_time=mid.timestamp())) == later
    assert list(client.get_compilation_job_logs(name, start_time=mid.replace(tzinfo=None))) == later
    assert list(client.get_compilation_job_logs(name, tail=2)) == events[-2:]


def test_follow_ends_with_the_job_and_warns_before_the_log(local):
    server, client = local
    server.configure(job_duration=1.5)
    server.fail_jobs("unsupported-operator", job="follow-1", params={"operators": "aten::frobnicate"})
    client.create_compilation_job(**job_request("follow-1"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        events = list(client.get_compilation_job_logs("follow-1", follow=True, delay=0.05, max_delay=0.2))
    assert client.describe_compilation_job(CompilationJobName="follow-1")["CompilationJobStatus"] == "FAILED"
    assert any(issubclass(w.category, smneo.LogWarning) and "no log yet" in str(w.message) for w in caught)
    assert as_pairs(events) == boto3_view(server, "follow-1")
    assert any("frobnicate" in e["message"] for e in events)
    diagnosis = smneo.explain(client.describe_compilation_job(CompilationJobName="follow-1"), events)
    assert diagnosis.id == "operator-not-implemented"


def test_no_log_and_bad_arguments(local):
    server, client = local
    with pytest.warns(smneo.LogWarning, match="no log yet"):
        assert list(client.get_compilation_job_logs("never-created")) == []
    with pytest.raises(smneo.ClientError):  # following a job that does not exist
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", smneo.LogWarning)
            list(client.get_compilation_job_logs("never-created", follow=True, delay=0.05))
    for kwargs, field in (({"follow": True, "tail": 3}, "tail"), ({"tail": 0}, "tail"),
                          ({"delay": -1}, "delay"), ({"start_time": "yesterday"}, "start_time")):
        with pytest.raises(smneo.ParamValidationError, match=field):
            client.get_compilation_job_logs("x", **kwargs)
    with pytest.raises(smneo.ParamValidationError, match="name"):
        client.get_compilation_job_logs("")


@pytest.mark.parametrize("mode", ["standard", "legacy"])
def test_log_error_max_attempts_reached_as_boto3(local, mode):
    """The error of a followed log carries MaxAttemptsReached as the core
    decides it for the client's retry mode, which is what boto3 sets for the
    same answer (standard mode: at the last attempt whatever the error)."""
    boto3 = pytest.importorskip("boto3")
    config = pytest.importorskip("botocore.config")
    server, _ = local
    with smneo.Client(region_name="us-east-1", endpoint_url=server.url, aws_access_key_id="test",
                      aws_secret_access_key="test", retry_mode=mode, max_attempts=1) as client:
        with pytest.raises(smneo.ClientError) as ours:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", smneo.LogWarning)
                list(client.get_compilation_job_logs("never-created", follow=True, delay=0.05))
    bc = boto3.client("sagemaker", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id="test",
                      aws_secret_access_key="test",
                      config=config.Config(retries={"mode": mode, "total_max_attempts": 1}))
    with pytest.raises(bc.exceptions.ClientError) as theirs:
        bc.describe_compilation_job(CompilationJobName="never-created")
    md, their_md = ours.value.response["ResponseMetadata"], theirs.value.response["ResponseMetadata"]
    assert md.get("MaxAttemptsReached", False) == their_md.get("MaxAttemptsReached", False)
    assert md.get("MaxAttemptsReached", False) == (mode == "standard")


def test_compile_failed_carries_log_and_diagnosis(local, model):
    server, client = local
    server.fail_jobs("unsupported-operator", job="resnet-*", params={"operators": "aten::frobnicate"})
    with pytest.raises(smneo.CompilationJobFailed) as e:
        client.compile(model, framework="PYTORCH", role_arn=ROLE, s3_bucket="models", target_device="ml_c5",
                       data_input_config={"input0": [1, 4]}, delay=0.05)
    exc = e.value
    assert 3 <= len(exc.logs) <= 50
    assert isinstance(exc.logs[0]["timestamp"], datetime.datetime)
    assert isinstance(exc.diagnosis, smneo.Diagnosis)
    assert exc.diagnosis.id == "operator-not-implemented" and "frobnicate" in exc.diagnosis.evidence
    assert exc.compile_result["diagnosis"] is exc.diagnosis


def test_compile_follow_logs_and_access_denied(local, model):
    server, client = local
    server.fail_jobs("pytorch-model-count", job="resnet-*", count=2)
    events = []
    with pytest.raises(smneo.CompilationJobFailed) as e:
        client.compile(model, framework="PYTORCH", role_arn=ROLE, s3_bucket="models", target_device="ml_c5",
                       data_input_config={"input0": [1, 4]}, delay=0.05, follow_logs=True,
                       callback=lambda ev: events.append(ev))
    lines = [ev["message"] for ev in events if ev["kind"] == "LOG"]
    assert any(" failed: " in m for m in lines)
    assert e.value.diagnosis.id == "pytorch-model-files"
    # Logs refused: the failure and its diagnosis (from FailureReason) intact
    server.add_fault({"kind": "deny", "target": "logs", "rate": 1})
    with pytest.raises(smneo.CompilationJobFailed) as e:
        client.compile(model, framework="PYTORCH", role_arn=ROLE, s3_bucket="models", target_device="ml_c5",
                       data_input_config={"input0": [1, 4]}, delay=0.05)
    assert "ClientError" in e.value.FailureReason
    assert e.value.logs == []
    assert e.value.diagnosis.id == "pytorch-model-files" and e.value.diagnosis.evidence_source == "FailureReason"
    assert any("AccessDeniedException" in i.message for i in e.value.compile_result["issues"]), e.value.compile_result["issues"]
    with pytest.warns(smneo.LogWarning, match="logs:GetLogEvents"):
        assert list(client.get_compilation_job_logs(e.value.compile_result["job_name"])) == []


@pytest.mark.skipif(__import__("threading").current_thread() is not __import__("threading").main_thread(),
                    reason="signals need the main thread")
def test_ctrl_c_stops_follow(local):
    import signal
    import threading
    import time
    server, client = local
    server.configure(job_duration=60)
    client.create_compilation_job(**job_request("long-1"))
    it = client.get_compilation_job_logs("long-1", follow=True, delay=30)
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    t0 = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", smneo.LogWarning)
                for _ in it:
                    pass
    finally:
        timer.cancel()
    assert time.monotonic() - t0 < 10  # not the 30 s delay
    it.close()
    assert list(it) == []
