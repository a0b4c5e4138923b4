"""Client.compile (the binding of smneo_compile) against smneo.local: the whole
flow to a verified artifact, events, a FAILED job, cancel, layout errors."""
import os
import shutil
import sys

import pytest

import smneo
import smneo.local
from fakes import isolated_env  # noqa: F401

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLE = "arn:aws:iam::123456789012:role/NeoRole"
sys.path.insert(0, os.path.join(ROOT, "examples"))
from create_bucket import create_bucket  # noqa: E402


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


def test_compile_to_a_verified_artifact(local, model, tmp_path):
    server, client = local
    events = []
    r = client.compile(model, framework="PYTORCH", role_arn=ROLE, s3_bucket="models", target_device="ml_c5",
                       data_input_config={"input0": [1, 4]}, framework_version="1.8",
                       output_dir=tmp_path / "out", extract=True, delay=0.1,
                       callback=lambda ev: events.append((ev["kind"], ev["description"])))
    assert isinstance(r, smneo.CompileResult)
    assert r.job["CompilationJobStatus"] == "COMPLETED" and r.job["CreationTime"].tzinfo is not None
    assert r.digest_verified and os.path.exists(r.artifact_path) and os.path.isdir(r.extracted_dir)
    assert r.input_uri.startswith("s3://models/")
    kinds = [k for k, _ in events]
    for k in ("PACKED", "UPLOADED", "CREATED", "STATUS", "VERIFIED"):
        assert k in kinds
    statuses = [d["CompilationJobStatus"] for k, d in events if k == "STATUS"]
    assert statuses[-1] == "COMPLETED"
    # the same model again: the upload is skipped
    events.clear()
    client.compile(model, framework="PYTORCH", role_arn=ROLE, s3_bucket="models", target_device="ml_c5",
                   data_input_config='{"input0": [1, 4]}', output_dir=tmp_path / "out2", delay=0.1,
                   callback=lambda ev: events.append((ev["kind"], ev["message"])))
    assert any(k == "UPLOADED" and "already" in m for k, m in events)


def test_compile_cancel_from_callback_stops_the_job(local, model, tmp_path):
    server, client = local
    with pytest.raises(smneo.WaiterCancelled):
        client.compile(model, framework="PYTORCH", role_arn=ROLE, s3_bucket="models", target_device="ml_c5",
                       data_input_config={"input0": [1, 4]}, output_dir=tmp_path / "o", delay=0.1,
                       callback=lambda ev: ev["kind"] != "STATUS")
    jobs = client.list_compilation_jobs()["CompilationJobSummaries"]
    assert jobs and jobs[0]["CompilationJobStatus"] in ("STOPPING", "STOPPED")


def test_compile_callback_exception_propagates(local, model, tmp_path):
    server, client = local

    def cb(ev):
        if ev["kind"] == "CREATED":
            raise LookupError("from the callback")
    with pytest.raises(LookupError, match="from the callback"):
        client.compile(model, framework="PYTORCH", role_arn=ROLE, s3_bucket="models", target_device="ml_c5",
                       data_input_config={"input0": [1, 4]}, output_dir=tmp_path / "o", delay=0.1, callback=cb)


def test_compile_layout_error_uploads_nothing(local, tmp_path):
    server, client = local
    d = tmp_path / "bad"
    d.mkdir()
    (d / "weights.bin").write_bytes(b"nothing a framework can load")
    with pytest.raises(smneo.ParamValidationError) as ei:
        client.compile(d, framework="PYTORCH", role_arn=ROLE, s3_bucket="models", target_device="ml_c5",
                       data_input_config={"input0": [1, 4]}, output_dir=tmp_path / "o")
    assert ei.value.issues and all(i.rule.startswith("artifact.") for i in ei.value.issues
                                   if i.severity == "error")
    assert client.list_compilation_jobs()["CompilationJobSummaries"] == []


def test_compile_invalid_request_is_refused(local, model, tmp_path):
    server, client = local
    with pytest.raises(smneo.ParamValidationError):
        client.compile(model, framework="PYTORCH", role_arn="not-a-role", s3_bucket="models",
                       target_device="ml_c5", data_input_config={"input0": [1, 4]}, output_dir=tmp_path / "o")
    with pytest.raises(TypeError):
        client.compile(model, framework="PYTORCH", role_arn=ROLE, s3_bucket="models", target_device=5)


@pytest.mark.skipif(__import__("threading").current_thread() is not __import__("threading").main_thread(),
                    reason="signals need the main thread")
def test_compile_ctrl_c_stops_the_job(isolated_env, model, tmp_path):
    import signal
    import threading
    import time
    with smneo.local.Server(port=0, job_duration=30) as server:
        create_bucket(server.url, "models", "test", "test", "us-east-1")
        with smneo.Client(region_name="us-east-1", endpoint_url=server.url, aws_access_key_id="test",
                          aws_secret_access_key="test") as client:
            timers = []

            def on_event(ev):
                if ev["kind"] == "CREATED" and not timers:
                    timers.append(threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT)))
                    timers[0].start()
            t0 = time.monotonic()
            try:
                with pytest.raises(KeyboardInterrupt):
                    client.compile(model, framework="PYTORCH", role_arn=ROLE, s3_bucket="models",
                                   target_device="ml_c5", data_input_config={"input0": [1, 4]},
                                   output_dir=tmp_path / "o", delay=5, callback=on_event)
            finally:
                for t in timers:
                    t.cancel()
            assert time.monotonic() - t0 < 10
            jobs = client.list_compilation_jobs()["CompilationJobSummaries"]
            assert len(jobs) == 1 and jobs[0]["CompilationJobStatus"] in ("STOPPING", "STOPPED")
