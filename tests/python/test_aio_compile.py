"""await smneo.aio.Client.compile(...) against smneo.local: the blocking
compile's result, events and errors (a layout error, a refused request, a
FAILED job with its log and diagnosis, a callback's False and exception),
and cancellation: the task cancelled (or timed out by asyncio.wait_for)
after the job was created stops the job, as Ctrl-C does for the blocking
compile; keep_job_on_cancel leaves it running; cancelled while its work
runs in the executor, nothing is left behind.

Plain tests driving asyncio.run (no pytest-asyncio needed)."""
import asyncio
import gc
import os
import shutil
import sys

import pytest

import smneo
import smneo.aio
import smneo.local
from fakes import isolated_env  # noqa: F401

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLE = "arn:aws:iam::123456789012:role/NeoRole"
sys.path.insert(0, os.path.join(ROOT, "examples"))
from create_bucket import create_bucket  # noqa: E402

KEYS = dict(region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")


@pytest.fixture
def local(isolated_env):
    with smneo.local.Server(port=0, job_duration=0.3) as server:
        create_bucket(server.url, "models", "test", "test", "us-east-1")
        with smneo.Client(endpoint_url=server.url, **KEYS) as client:
            yield server, client


@pytest.fixture
def model(tmp_path):
    d = tmp_path / "resnet"
    d.mkdir()
    shutil.copy(os.path.join(ROOT, "examples", "model", "model.pt"), d / "model.pt")
    return d


def _args(model, out, **kw):
    args = dict(framework="PYTORCH", role_arn=ROLE, s3_bucket="models", target_device="ml_c5",
                data_input_config={"input0": [1, 4]}, output_dir=out, delay=0.1)
    args.update(kw)
    return (model,), args


def _aio(server):
    return smneo.aio.Client(endpoint_url=server.url, **KEYS)


def _steps_alive():
    """Calls not released (a Steps an exception's traceback still holds is closed)."""
    gc.collect()
    return [o for o in gc.get_objects() if type(o).__name__ == "Steps" and o.open]


def _jobs(client):
    return {j["CompilationJobName"]: j["CompilationJobStatus"]
            for j in client.list_compilation_jobs()["CompilationJobSummaries"]}


def _same_result(a, b):
    """Two CompileResults of two runs of the same flow: equal but for the job
    name, the dates and the output paths."""
    assert type(a) is type(b) is smneo.CompileResult
    ja, jb = dict(a.job), dict(b.job)
    for j in (ja, jb):
        for k in ("CompilationJobName", "CompilationJobArn", "CreationTime", "LastModifiedTime",
                  "CompilationStartTime", "CompilationEndTime", "ResponseMetadata", "OutputConfig",
                  "ModelArtifacts", "ModelDigests"):  # (the artifact names its job)
            j.pop(k, None)
    assert ja == jb
    assert a.digest_verified == b.digest_verified
    assert a.input_uri == b.input_uri  # the same content, the same key
    assert (a.extracted_dir is None) == (b.extracted_dir is None)
    assert a.issues == b.issues and a.logs == b.logs and a.diagnosis == b.diagnosis


def test_compile_matches_the_blocking_compile(local, model, tmp_path):
    server, sync = local
    want_events = []
    args, kw = _args(model, tmp_path / "sync", extract=True)
    want = sync.compile(*args, callback=lambda ev: want_events.append(ev["kind"]), **kw)
    got_events = []

    async def on_event(ev):  # a coroutine function is awaited
        got_events.append((ev["kind"], ev["description"]))

    async def run():
        async with _aio(server) as aio:
            args, kw = _args(model, tmp_path / "aio", extract=True)
            return await aio.compile(*args, callback=on_event, **kw)

    got = _run(run())
    _same_result(got, want)
    assert got.job["CompilationJobStatus"] == "COMPLETED" and got.job["CreationTime"].tzinfo is not None
    assert os.path.exists(got.artifact_path) and os.path.isdir(got.extracted_dir)
    assert str(tmp_path / "aio") in got.artifact_path
    kinds = [k for k, _ in got_events]
    # the same phases in the same order (progress events may be fewer: a
    # transfer's come when its step ends)
    phases = ("PACKED", "UPLOADED", "CREATED", "VERIFIED")
    assert [k for k in kinds if k in phases] == [k for k in want_events if k in phases] == list(phases)
    statuses = [d["CompilationJobStatus"] for k, d in got_events if k == "STATUS"]
    assert statuses[-1] == "COMPLETED"
    assert _steps_alive() == []


def test_compile_errors_are_the_blocking_ones(local, model, tmp_path):
    server, sync = local
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "weights.bin").write_bytes(b"nothing a framework can load")
    cases = [
        (_args(bad, tmp_path / "o1"), smneo.ParamValidationError),                     # the layout
        (_args(model, tmp_path / "o2", role_arn="not-a-role"), smneo.ParamValidationError),  # the request
        (_args(model, tmp_path / "o3", target_device=5), TypeError),
        (_args(model, tmp_path / "o4", delay=-1), ValueError),
        (((), dict(framework="PYTORCH")), TypeError),                                  # role_arn missing
        (_args(model, tmp_path / "o5", frobnicate=1), TypeError),
    ]
    for (args, kw), kind in cases:
        with pytest.raises(Exception) as se:
            sync.compile(*args, **kw)

        async def run():
            async with _aio(server) as aio:
                return await aio.compile(*args, **kw)

        with pytest.raises(Exception) as ae:
            _run(run())
        assert type(ae.value) is type(se.value), (kw, ae.value, se.value)
        assert isinstance(ae.value, kind)
        if isinstance(ae.value, smneo.ParamValidationError):
            assert str(ae.value) == str(se.value)
            assert [i.rule for i in ae.value.issues] == [i.rule for i in se.value.issues]
    assert _jobs(sync) == {}  # nothing was created
    assert _steps_alive() == []


def test_failed_job_raises_as_the_blocking_compile(local, model, tmp_path):
    server, sync = local
    server.fail_jobs("unsupported-operator", count=2, params={"operators": "aten::frobnicate"})
    args, kw = _args(model, tmp_path / "sync")
    with pytest.raises(smneo.CompilationJobFailed) as se:
        sync.compile(*args, **kw)

    async def run():
        async with _aio(server) as aio:
            args, kw = _args(model, tmp_path / "aio")
            return await aio.compile(*args, **kw)

    with pytest.raises(smneo.CompilationJobFailed) as ae:
        _run(run())
    a, s = ae.value, se.value
    assert str(a).replace(a.last_response["CompilationJobName"], "J") == \
        str(s).replace(s.last_response["CompilationJobName"], "J")
    assert type(a.diagnosis) is type(s.diagnosis)
    assert a.diagnosis["id"] == s.diagnosis["id"] == "operator-not-implemented"
    assert {k: v for k, v in a.diagnosis.items() if k not in ("text", "job_name")} == \
        {k: v for k, v in s.diagnosis.items() if k not in ("text", "job_name")}
    na, ns = a.last_response["CompilationJobName"], s.last_response["CompilationJobName"]
    assert [e["message"].replace(na, "J") for e in a.logs] == [e["message"].replace(ns, "J") for e in s.logs]
    assert any("frobnicate" in e["message"] for e in a.logs)
    assert a.compile_result["diagnosis"] is a.diagnosis


def test_callback_false_and_exception_stop_the_job(local, model, tmp_path):
    server, sync = local

    async def run(callback, out):
        async with _aio(server) as aio:
            args, kw = _args(model, out)
            return await aio.compile(*args, callback=callback, **kw)

    seen_sync, seen_aio = [], []

    def until_status(seen):
        return lambda ev: seen.append(ev["kind"]) or ev["kind"] != "STATUS"

    with pytest.raises(smneo.WaiterCancelled) as se:
        sync.compile(*_args(model, tmp_path / "s")[0], callback=until_status(seen_sync),
                     **_args(model, tmp_path / "s")[1])
    with pytest.raises(smneo.WaiterCancelled) as ae:
        _run(run(until_status(seen_aio), tmp_path / "a"))
    assert type(ae.value) is type(se.value)
    assert seen_aio[-1] == seen_sync[-1] == "STATUS"  # no event after the False
    statuses = _jobs(sync)
    assert len(statuses) == 2 and set(statuses.values()) <= {"STOPPING", "STOPPED"}

    def raising(ev):
        if ev["kind"] == "CREATED":
            raise LookupError("from the callback")

    with pytest.raises(LookupError, match="from the callback"):
        _run(run(raising, tmp_path / "b"))
    statuses = _jobs(sync)
    assert len(statuses) == 3 and set(statuses.values()) <= {"STOPPING", "STOPPED"}
    assert _steps_alive() == []


@pytest.fixture
def slow(isolated_env):
    with smneo.local.Server(port=0, job_duration=30) as server:
        create_bucket(server.url, "models", "test", "test", "us-east-1")
        with smneo.Client(endpoint_url=server.url, **KEYS) as client:
            yield server, client


def _compile_until(server, model, out, kind, then, **kw):
    """Starts compile, waits for the event `kind`, then then(task) (cancels)
    and awaits the task."""
    async def run():
        async with _aio(server) as aio:
            seen = asyncio.Event()

            def on_event(ev):
                if ev["kind"] == kind:
                    seen.set()

            args, kws = _args(model, out, **kw)
            task = asyncio.ensure_future(aio.compile(*args, callback=on_event, **kws))
            await asyncio.wait([asyncio.ensure_future(seen.wait()), task], return_when=asyncio.FIRST_COMPLETED)
            assert not task.done()
            return await then(task)

    return _run(run())


def test_cancelling_mid_compile_stops_the_job(slow, model, tmp_path):
    server, sync = slow

    async def cancel(task):
        await asyncio.sleep(0.3)  # polling the job (delay 0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return "cancelled"

    assert _compile_until(server, model, tmp_path / "o", "CREATED", cancel) == "cancelled"
    statuses = _jobs(sync)
    assert len(statuses) == 1 and set(statuses.values()) <= {"STOPPING", "STOPPED"}
    assert not os.path.exists(tmp_path / "o") or os.listdir(tmp_path / "o") == []
    assert _steps_alive() == []


def test_wait_for_timeout_stops_the_job_and_keep_job_on_cancel_does_not(slow, model, tmp_path):
    server, sync = slow

    async def time_out(task):
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(task, 0.3)
        return "timed out"

    assert _compile_until(server, model, tmp_path / "o", "CREATED", time_out) == "timed out"
    statuses = _jobs(sync)
    assert len(statuses) == 1 and set(statuses.values()) <= {"STOPPING", "STOPPED"}

    assert _compile_until(server, model, tmp_path / "k", "CREATED", time_out, keep_job_on_cancel=True) == \
        "timed out"
    statuses = _jobs(sync)
    assert len(statuses) == 2 and sorted(statuses.values())[0] in ("INPROGRESS", "STARTING")
    assert _steps_alive() == []


def test_cancelled_while_packing_leaves_nothing(local, tmp_path):
    """Cancelled during the first work step (packing a large model in the
    executor): the work stops, no job is created, nothing is uploaded, and the
    client works on."""
    server, sync = local
    big = tmp_path / "big"
    big.mkdir()
    shutil.copy(os.path.join(ROOT, "examples", "model", "model.pt"), big / "model.pt")
    with open(big / "weights.bin", "wb") as f:
        f.write(os.urandom(1 << 20) * 64)  # 64 MiB to pack and digest

    async def run():
        async with _aio(server) as aio:
            args, kw = _args(big, tmp_path / "o")
            task = asyncio.ensure_future(aio.compile(*args, **kw))
            await asyncio.sleep(0.05)
            assert not task.done()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return await aio.list_compilation_jobs()

    listed = _run(run())
    assert listed["CompilationJobSummaries"] == []
    s3 = smneo.Client(endpoint_url=server.url, **KEYS)
    assert _jobs(s3) == {}
    assert _steps_alive() == []


def _run(coro):
    return asyncio.run(coro)


def test_compile_on_an_in_process_transport(isolated_env, model, tmp_path):
    """smneo.local.mock(): the calls are sent in the executor, the default
    bucket is made by a work step; the blocking compile's result."""
    from smneo.local import mock

    async def run():
        async with smneo.aio.Client(region_name="us-west-2") as aio:
            return await aio.compile(model, framework="PYTORCH", role_arn=ROLE, target_device="ml_c5",
                                     data_input_config={"input0": [1, 4]}, output_dir=tmp_path / "aio", delay=0.1)

    with mock(job_duration=0.1):
        got = _run(run())
        want = smneo.Client(region_name="us-west-2").compile(
            model, framework="PYTORCH", role_arn=ROLE, target_device="ml_c5", data_input_config={"input0": [1, 4]},
            output_dir=tmp_path / "sync", delay=0.1)
    _same_result(got, want)
    assert got.input_uri.startswith("s3://sagemaker-us-west-2-")


def test_compile_and_cancel_under_uvloop(slow, model, tmp_path):
    from test_aio import _uvloop
    uvloop = _uvloop()
    if uvloop is None:
        pytest.skip("uvloop is not installed (Debian: python3-uvloop)")
    server, sync = slow
    server.configure(job_duration=0.3)

    async def run():
        assert "uvloop" in type(asyncio.get_running_loop()).__module__
        async with _aio(server) as aio:
            args, kw = _args(model, tmp_path / "o")
            done = await aio.compile(*args, **kw)
            server.configure(job_duration=30)
            args, kw = _args(model, tmp_path / "c")
            created = asyncio.Event()
            task = asyncio.ensure_future(aio.compile(*args, callback=lambda ev: ev["kind"] != "CREATED" or
                                                     created.set(), **kw))
            await created.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return done

    loop = uvloop.new_event_loop()
    try:
        done = loop.run_until_complete(run())
    finally:
        loop.close()
    assert done.job["CompilationJobStatus"] == "COMPLETED" and done.digest_verified
    statuses = sorted(_jobs(sync).values())
    assert len(statuses) == 2 and statuses[0] == "COMPLETED" and statuses[1] in ("STOPPING", "STOPPED")
