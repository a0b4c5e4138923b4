"""await smneo.aio.Client.compile_many(...) against smneo.local (a limit of
5 concurrent jobs): several jobs with a failing target give the blocking
client's rows; events reach the callback on the loop thread, in order (a
coroutine callback is awaited), while the loop keeps serving other calls;
a callback's False cancels as it does for the blocking client; cancelling
the task (or asyncio.wait_for timing out) stops the running jobs as Ctrl-C
does, records them in the state file, and a rerun finishes them
(asyncio.timeout too, a coroutine callback still running cancelled with it);
keep_jobs_on_cancel leaves them running; errors before any job starts are
the blocking client's.

Plain tests driving asyncio.run, as test_aio.py's."""
import asyncio
import json
import os
import sys
import threading

import pytest

import smneo
import smneo.aio
import smneo.local
from fakes import isolated_env  # noqa: F401

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "examples"))
from create_bucket import create_bucket  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/NeoRole"
TARGETS = ["ml_c5", "ml_m5", "ml_c4"]
COMMON = dict(framework="XGBOOST", role_arn=ROLE, s3_bucket="models", delay=0.1, max_delay=0.2, timeout=120)
KEYS = dict(region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")


@pytest.fixture
def local(isolated_env):
    with smneo.local.Server(port=0, job_duration=0.3, max_concurrent_jobs=5) as server:
        create_bucket(server.url, "models", "test", "test", "us-east-1")
        with smneo.Client(endpoint_url=server.url, **KEYS) as client:
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


def _aio(server):
    return smneo.aio.Client(endpoint_url=server.url, **KEYS)


def _creates(server):
    return [r for r in server.requests("sagemaker") if r["operation"] == "CreateCompilationJob" and r["status"] == 200]


def _stops(server):
    return [r for r in server.requests("sagemaker") if r["operation"] == "StopCompilationJob"]


def _comparable(row):
    """A row without what differs from run to run (job name, duration, output path)."""
    d = row._asdict()
    for k in ("compilation_job_name", "duration_seconds", "artifact_path"):
        d.pop(k)
    d["diagnosis"] = row.diagnosis.id if row.diagnosis is not None else None
    d["failure_reason"] = (row.failure_reason or "").replace(row.compilation_job_name or "", "NAME")
    return d


def test_several_jobs_and_a_failing_row_as_the_blocking_client(local, models, tmp_path):
    server, client = local
    server.add_fault({"kind": "fail", "device": "ml_m5", "rate": 1, "failure": "not-tar-gz"})
    want = client.compile_many(models=models, targets=TARGETS, max_concurrent=4, output_dir=tmp_path / "sync",
                               **COMMON)
    before = len(_creates(server))
    events, threads, ticks = [], set(), []

    async def on_event(ev):  # a coroutine function: awaited on the loop
        threads.add(threading.get_ident())
        await asyncio.sleep(0)
        events.append(ev)

    async def main():
        loop_thread = threading.get_ident()
        async with _aio(server) as aio:
            task = asyncio.ensure_future(aio.compile_many(models=models, targets=TARGETS, max_concurrent=4,
                                                          output_dir=tmp_path / "aio", callback=on_event, **COMMON))
            while not task.done():  # the loop stays free: other calls go on meanwhile
                ticks.append(await aio.list_compilation_jobs(MaxResults=1))
                await asyncio.sleep(0.05)
            return loop_thread, await task

    loop_thread, rows = asyncio.run(main())
    assert all(isinstance(r, smneo.CompileRow) for r in rows)
    assert [_comparable(r) for r in rows] == [_comparable(r) for r in want]
    failed = [r for r in rows if r.compilation_job_status == "FAILED"]
    assert len(failed) == 3 and {r.target for r in failed} == {"ml_m5"}
    assert all(r.diagnosis.id == "not-tar-gz" and r.artifact_path is None for r in failed)
    done = [r for r in rows if r.compilation_job_status == "COMPLETED"]
    assert len(done) == 6 and all(os.path.exists(r.artifact_path) and r.digest_verified for r in done)
    assert all(str(tmp_path / "aio") in r.artifact_path for r in done)
    assert len(_creates(server)) - before == 9
    # every event on the loop's thread, each job's in order, the batch's shape as the blocking run's
    assert threads == {loop_thread}
    assert {e["job"] for e in events if e["kind"] == "DONE"} == set(range(9))
    for i in range(9):
        kinds = [e["kind"] for e in events if e["job"] == i]
        assert kinds.index("CREATED") < kinds.index("DONE") == len(kinds) - 1
    running = peak = 0
    for e in events:
        if e["kind"] == "CREATED":
            running += 1
            peak = max(peak, running)
        elif e["kind"] == "DONE":
            running -= 1
    assert peak == 4
    assert len(ticks) >= 2


def test_api_calls_go_out_on_the_loop_and_only_work_steps_use_the_executor(local, models, tmp_path,
                                                                            monkeypatch):
    """The run is the core's compile_many machine driven on the loop: every
    API call (the creates, the waiters' describes) is one of the loop
    driver's SEND steps (libcurl's multi interface, no thread), and the loop's
    executor runs only the machine's WORK steps (packing, uploads,
    downloads), never the whole blocking run."""
    server, _ = local
    sends, executed = [], []
    send = smneo.aio._Driver.send

    async def counting_send(self, steps, credential):
        sends.append(credential)
        return await send(self, steps, credential)

    monkeypatch.setattr(smneo.aio._Driver, "send", counting_send)

    async def main():
        loop = asyncio.get_running_loop()
        run_in_executor = loop.run_in_executor

        def recording(executor, fn, *args):
            executed.append(getattr(fn, "__name__", repr(fn)))
            return run_in_executor(executor, fn, *args)

        loop.run_in_executor = recording
        async with _aio(server) as aio:
            return await aio.compile_many(models=models[:2], targets=TARGETS[:2], output_dir=tmp_path, **COMMON)

    before = len(server.requests("sagemaker"))
    rows = asyncio.run(main())
    assert [r.compilation_job_status for r in rows] == ["COMPLETED"] * 4
    sagemaker = len(server.requests("sagemaker")) - before
    assert sagemaker >= 8  # four creates and at least one describe each
    assert len(sends) >= sagemaker and not any(sends)  # every API call sent by the loop's driver
    assert executed and set(executed) == {"work"}


def test_callback_false_cancels_as_the_blocking_client(local, models, tmp_path):
    server, client = local

    def stop_at_first_created(ev):
        return ev["kind"] != "CREATED"

    want = client.compile_many(models=models[:1], targets=TARGETS, max_concurrent=2, output_dir=tmp_path / "s",
                               callback=stop_at_first_created, **COMMON)

    async def main():
        async with _aio(server) as aio:
            return await aio.compile_many(models=models[:1], targets=TARGETS, max_concurrent=2,
                                          output_dir=tmp_path / "a", callback=stop_at_first_created, **COMMON)

    rows = asyncio.run(main())
    assert [_comparable(r) for r in rows] == [_comparable(r) for r in want]
    assert rows[0].stopped_by_smneo and rows[0].compilation_job_status == "STOPPING"
    assert rows[-1].failure_reason == "cancelled before the job started"


_TASK = [None]  # the task a _cancel_after callback cancels


def _cancel_after(n_created, events):
    """A callback that cancels the task _TASK[0] once n jobs were created."""
    def on_event(ev):
        events.append(ev)
        if ev["kind"] == "CREATED" and sum(e["kind"] == "CREATED" for e in events) == n_created:
            _TASK[0].cancel()
    return on_event


@pytest.mark.parametrize("how", ["cancel", "timeout"])
def test_cancelling_the_task_stops_the_jobs_then_a_rerun_finishes(local, models, tmp_path, how):
    """how="timeout": asyncio.timeout (Python 3.11+), made due by a coroutine
    callback at the third job's creation, which then awaits forever: the
    callback is cancelled with the task, the jobs stopped all the same."""
    if how == "timeout" and not hasattr(asyncio, "timeout"):
        pytest.skip("asyncio.timeout is Python 3.11's")
    server, client = local
    state = tmp_path / "state.json"
    events = []
    scope = []

    async def stuck_at_third(ev):
        events.append(ev)
        if ev["kind"] == "CREATED" and sum(e["kind"] == "CREATED" for e in events) == 3:
            scope[0].reschedule(asyncio.get_running_loop().time())
            await asyncio.Event().wait()

    async def main():
        async with _aio(server) as aio:
            if how == "timeout":
                async with asyncio.timeout(None) as cm:
                    scope.append(cm)
                    await aio.compile_many(models=models, targets=TARGETS, max_concurrent=3, state_file=state,
                                           output_dir=tmp_path / "out", callback=stuck_at_third, **COMMON)
                return
            _TASK[0] = asyncio.ensure_future(aio.compile_many(
                models=models, targets=TARGETS, max_concurrent=3, state_file=state, output_dir=tmp_path / "out",
                callback=_cancel_after(3, events), **COMMON))
            await _TASK[0]

    if how == "timeout":
        with pytest.raises(TimeoutError):
            asyncio.run(main())
    else:
        with pytest.raises(asyncio.CancelledError):
            asyncio.run(main())
    first = len(_creates(server))
    assert 3 <= first < 9
    doc = json.loads(state.read_text())
    stopped = [j for j in doc["Jobs"] if j.get("StoppedBySmneo")]
    assert stopped and len(_stops(server)) == len(stopped)
    stopped_names = {j["CompilationJobName"] for j in stopped}
    assert {r["params"]["CompilationJobName"] for r in _stops(server)} == stopped_names
    # the run ended with the task: no event after it, nothing left running on its thread
    count = len(events)
    named = [j for j in doc["Jobs"] if "CompilationJobName" in j]
    completed = [j for j in named if j.get("CompilationJobStatus") == "COMPLETED" and j.get("Downloaded")]

    async def rerun():
        async with _aio(server) as aio:
            return await aio.compile_many(models=models, targets=TARGETS, max_concurrent=3, state_file=state,
                                          output_dir=tmp_path / "out", **COMMON)

    rows = asyncio.run(rerun())
    assert len(events) == count
    assert all(r.compilation_job_status == "COMPLETED" and os.path.exists(r.artifact_path) for r in rows)
    assert sum(r.skipped for r in rows) == len(completed)
    assert len(_creates(server)) - first == 9 - len(named) + len(stopped)


def test_keep_jobs_on_cancel_leaves_them_running(local, models, tmp_path):
    server, client = local
    events = []

    async def main():
        async with _aio(server) as aio:
            _TASK[0] = asyncio.ensure_future(aio.compile_many(
                models=models[:1], targets=TARGETS, max_concurrent=3, keep_jobs_on_cancel=True,
                output_dir=tmp_path / "out", callback=_cancel_after(1, events), **COMMON))
            await _TASK[0]

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(main())
    assert _creates(server) and _stops(server) == []


def test_errors_before_any_job_are_the_blocking_clients(local, models, tmp_path):
    server, client = local
    jobs = [{"model": m, "target_device": t} for m in models for t in TARGETS]
    jobs[-1]["target_device"] = "ml_c99"
    with pytest.raises(smneo.ParamValidationError) as want:
        client.compile_many(jobs, output_dir=tmp_path, **COMMON)

    async def main():
        async with _aio(server) as aio:
            with pytest.raises(smneo.ParamValidationError) as got:
                await aio.compile_many(jobs, output_dir=tmp_path, **COMMON)
            assert str(got.value) == str(want.value) and got.value.job == want.value.job == 8
            with pytest.raises(TypeError, match="either jobs"):
                await aio.compile_many(**COMMON)
            with pytest.raises(smneo.ClientError) as e:
                await aio.compile_many(models=models, targets=TARGETS, output_dir=tmp_path,
                                       **dict(COMMON, s3_bucket="no-such-bucket"))
            assert e.value.operation_name == "PutObject"

    asyncio.run(main())
    assert _creates(server) == []
