"""Client.compile_many (the binding of smneo_compile_many) against smneo.local
with a limit of 5 concurrent jobs: 3 models x 4 targets (the limit met and
absorbed), one target failing while the rest complete, Ctrl-C halfway then a
rerun with the state file that finishes without duplicates, a mistake in the
last job refused before any job starts."""
import json
import os
import signal
import sys

import pytest

import smneo
import smneo.local
from fakes import isolated_env  # noqa: F401

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "examples"))
from create_bucket import create_bucket  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/NeoRole"
TARGETS = ["ml_c5", "ml_m5", "ml_c4", "ml_p3"]
COMMON = dict(framework="XGBOOST", role_arn=ROLE, s3_bucket="models", delay=0.1, max_delay=0.2, timeout=120)


@pytest.fixture
def local(isolated_env):
    with smneo.local.Server(port=0, job_duration=0.3, max_concurrent_jobs=5) as server:
        create_bucket(server.url, "models", "test", "test", "us-east-1")
        with smneo.Client(region_name="us-east-1", endpoint_url=server.url, aws_access_key_id="test",
                          aws_secret_access_key="test") as client:
            yield server, client


@pytest.fixture
def models(tmp_path):
    out = []
    for name in ("churn", "fraud", "ranker"):
        d = tmp_path / name
        d.mkdir()
        (d / "xgboost.model").write_text("booster %s\n" % name)
        out.append(str(d))
    return out


def creates(server, errors=False):
    reqs = [r for r in server.requests("sagemaker") if r["operation"] == "CreateCompilationJob"]
    if errors:
        return [r for r in reqs if r["error"] == "ResourceLimitExceeded"]
    return [r for r in reqs if r["status"] == 200]


def test_models_x_targets_under_the_limit(local, models, tmp_path):
    server, client = local
    events = []
    rows = client.compile_many(models=models, targets=TARGETS, max_concurrent=12, output_dir=tmp_path / "out",
                               callback=events.append, **COMMON)
    assert len(rows) == 12 and all(isinstance(r, smneo.CompileRow) for r in rows)
    assert [(r.model, r.target) for r in rows] == [(m, t) for m in models for t in TARGETS]
    for r in rows:
        assert r.compilation_job_status == "COMPLETED" and r.failure_reason is None
        assert r.digest_verified and os.path.exists(r.artifact_path) and r.duration_seconds > 0
    assert len({r.compilation_job_name for r in rows}) == 12
    assert len(creates(server)) == 12
    queued = [e for e in events if e["kind"] == "QUEUED"]
    assert queued and len(queued) == len(creates(server, errors=True))
    # never more than 5 running: from the events, in order
    running = peak = 0
    for e in events:
        if e["kind"] == "CREATED":
            running += 1
            peak = max(peak, running)
        elif e["kind"] == "DONE":
            running -= 1
    assert peak == 5
    uploads = [e for e in events if e["kind"] == "UPLOADED" and "already" not in e["message"]]
    assert len(uploads) == 3
    assert {e["job"] for e in events if e["kind"] == "WAITING"} == {None}
    assert {e["job"] for e in events if e["kind"] == "DONE"} == set(range(12))


def test_one_target_fails_the_rest_complete(local, models, tmp_path):
    server, client = local
    server.add_fault({"kind": "fail", "device": "ml_m5", "rate": 1, "failure": "not-tar-gz"})
    rows = client.compile_many([{"model": m, "target_device": t} for m in models for t in TARGETS],
                               max_concurrent=5, output_dir=tmp_path / "out", **COMMON)
    failed = [r for r in rows if r.compilation_job_status == "FAILED"]
    assert {r.target for r in failed} == {"ml_m5"} and len(failed) == 3
    assert all("Unable to untar input model" in r.failure_reason and r.artifact_path is None for r in failed)
    assert sum(r.compilation_job_status == "COMPLETED" for r in rows) == 9
    # each failed row carries compile()'s diagnosis; the others none
    assert all(isinstance(r.diagnosis, smneo.Diagnosis) and r.diagnosis.id == "not-tar-gz" for r in failed)
    assert all("smneo pack" in r.diagnosis.fix for r in failed)
    assert all(r.diagnosis is None for r in rows if r.compilation_job_status == "COMPLETED")


def test_ctrl_c_halfway_then_rerun(local, models, tmp_path):
    server, client = local
    state = tmp_path / "state.json"
    done = []

    def interrupt(ev):
        if ev["kind"] == "DONE" and ev["message"] == "COMPLETED":
            done.append(ev["job"])
            if len(done) == 6:
                os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        client.compile_many(models=models, targets=TARGETS, max_concurrent=5, state_file=state,
                            output_dir=tmp_path / "out", callback=interrupt, **COMMON)
    first = len(creates(server))
    doc = json.loads(state.read_text())
    stopped = [j for j in doc["Jobs"] if j.get("StoppedBySmneo")]
    completed = [j for j in doc["Jobs"] if j.get("CompilationJobStatus") == "COMPLETED" and j.get("Downloaded")]
    named = [j for j in doc["Jobs"] if "CompilationJobName" in j]
    # Ctrl-C is seen at the next event: a job may have completed meanwhile (its download cut short)
    assert len(completed) >= 6 and first == len(named)
    stops = [r for r in server.requests("sagemaker") if r["operation"] == "StopCompilationJob"]
    assert len(stops) == len(stopped)

    events = []
    rows = client.compile_many(models=models, targets=TARGETS, max_concurrent=5, state_file=state,
                               output_dir=tmp_path / "out", callback=events.append, **COMMON)
    assert all(r.compilation_job_status == "COMPLETED" and os.path.exists(r.artifact_path) for r in rows)
    assert sum(r.skipped for r in rows) == len(completed)
    assert len(creates(server)) - first == 12 - len(named) + len(stopped)
    assert sum(e["kind"] == "SKIPPED" for e in events) == len(completed)


def test_mistake_in_last_job_refused_before_any_job(local, models, tmp_path):
    server, client = local
    jobs = [{"model": m, "target_device": t} for m in models for t in TARGETS]
    jobs[-1]["target_device"] = "ml_c99"
    with pytest.raises(smneo.ParamValidationError) as e:
        client.compile_many(jobs, output_dir=tmp_path, **COMMON)
    assert str(e.value).startswith("job 11 (") and "ml_c99" in str(e.value) and e.value.job == 11
    assert creates(server) == []
    assert not [r for r in server.requests("s3") if r["method"] == "PUT" and "model.tar.gz" in r["path"]]
    with pytest.raises(TypeError, match=r"jobs\[0\]: .*targt_device"):
        client.compile_many([{"model": models[0], "targt_device": "ml_c5"}], **COMMON)
    with pytest.raises(TypeError, match="either jobs"):
        client.compile_many(**COMMON)
    with pytest.raises(ValueError, match="OS/ARCH"):
        client.compile_many(models=models, targets=["LINUX//"], **COMMON)


def test_s3_error_is_reported_under_the_s3_operation(local, models, tmp_path):
    """An S3 error while uploading the models is the S3 request's
    (ClientError.operation_name == "PutObject"), not CreateCompilationJob's,
    from compile_many and compile alike; no job starts."""
    server, client = local
    args = dict(COMMON, s3_bucket="no-such-bucket")
    with pytest.raises(smneo.ClientError) as e:
        client.compile_many(models=models, targets=TARGETS, output_dir=tmp_path, **args)
    assert e.value.operation_name == "PutObject"
    assert e.value.response["Error"]["Code"] == "NoSuchBucket"
    assert "calling the PutObject operation" in str(e.value)
    with pytest.raises(smneo.ClientError) as e:
        client.compile(model=models[0], target_device="ml_c5", output_dir=str(tmp_path), **args)
    assert e.value.operation_name == "PutObject"
    assert creates(server) == []


def test_every_create_compilation_job_option(local, models, tmp_path):
    server, client = local
    r = client.compile(models[0], vpc_config={"SecurityGroupIds": ["sg-0123"], "Subnets": ["subnet-0a"]},
                       max_runtime_seconds=600, max_wait_seconds=1800, max_pending_seconds=7200,
                       target_device="ml_c5", output_dir=tmp_path, **COMMON)
    assert r.job["CompilationJobStatus"] == "COMPLETED"
    sent = creates(server)[-1]["params"]
    assert sent["VpcConfig"] == {"SecurityGroupIds": ["sg-0123"], "Subnets": ["subnet-0a"]}
    assert sent["StoppingCondition"] == {"MaxRuntimeInSeconds": 600, "MaxWaitTimeInSeconds": 1800,
                                         "MaxPendingTimeInSeconds": 7200}
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-models/3"
    # a model package instead of a model (smneo.local does not serve model packages: the job FAILS)
    with pytest.raises(smneo.CompilationJobFailed):
        client.compile(model_package_version_arn=arn, target_device="ml_c5", role_arn=ROLE, s3_bucket="models",
                       delay=0.1, max_delay=0.2)
    sent = creates(server)[-1]["params"]
    assert sent["ModelPackageVersionArn"] == arn and "InputConfig" not in sent
    assert sent["CompilationJobName"].startswith("churn-models-")
    with pytest.raises(ValueError, match="model_package_version_arn"):
        client.compile(models[0], model_package_version_arn=arn, target_device="ml_c5", **COMMON)
    rows = client.compile_many(models=[models[0]], targets=["ml_c5"], vpc_config='{"SecurityGroupIds": ["sg-1"], '
                               '"Subnets": ["subnet-1"]}', output_dir=tmp_path / "many", **COMMON)
    assert rows[0].compilation_job_status == "COMPLETED"
    assert creates(server)[-1]["params"]["VpcConfig"] == {"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1"]}


def test_follow_logs_per_job(local, models, tmp_path):
    """follow_logs=True: each job's log lines come as LOG events with its
    index (its own lines, to its end line); a job given follow_logs=False
    gets none; logs refused: a warning, and the jobs finish all the same."""
    server, client = local
    server.fail_jobs("unsupported-operator", device="ml_m5", rate=1, params={"operators": "aten::frobnicate"})
    events = []
    jobs = [dict(model=models[0], target_device=t) for t in TARGETS[:3]]
    jobs[2]["follow_logs"] = False
    rows = client.compile_many(jobs, follow_logs=True, output_dir=tmp_path / "out", callback=events.append, **COMMON)
    assert [r.compilation_job_status for r in rows] == ["COMPLETED", "FAILED", "COMPLETED"]
    lines = {}
    for e in events:
        if e["kind"] == "LOG":
            lines.setdefault(e["job"], []).append(e["message"])
    assert set(lines) == {0, 1}
    for i in (0, 1):
        assert len(lines[i]) >= 3
        assert not any(r.compilation_job_name in m for r in rows if r is not rows[i] for m in lines[i])
    # every line once (the streams are read in turn, one request a round: not in time order across them)
    assert "Compilation job %s completed" % rows[0].compilation_job_name in lines[0]
    for i in (0, 1):
        assert len(lines[i]) == len(set(lines[i])), lines[i]
    assert any("frobnicate" in m for m in lines[1])
    assert "Compilation job %s failed: " % rows[1].compilation_job_name in "\n".join(lines[1])
    assert rows[1].diagnosis.id == "operator-not-implemented"
    server.add_fault({"kind": "deny", "target": "logs", "rate": 1})
    events = []
    rows = client.compile_many([dict(model=models[1], target_device="ml_c5")], follow_logs=True,
                               output_dir=tmp_path / "out2", callback=events.append, **COMMON)
    assert rows[0].compilation_job_status == "COMPLETED" and rows[0].failure_reason is None
    assert not [e for e in events if e["kind"] == "LOG"]
    assert any(e["kind"] == "WARNING" and e["job"] == 0 and "AccessDenied" in e["message"] for e in events), \
        [e for e in events if e["kind"] != "WAITING"]
