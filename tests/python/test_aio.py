"""smneo.aio.Client against smneo.local: every operation, paginators, the
waiter, errors, cancellation (the request in flight is aborted and its call
released), asyncio.wait_for / asyncio.timeout, read timeouts, many calls at
once, in-process transports (smneo.local.mock) and uvloop. The blocking
smneo.Client is the reference: the same results and the same exceptions.

Plain tests driving asyncio.run (no pytest-asyncio needed)."""
import asyncio
import datetime
import gc
import importlib
import re
import sys

import pytest

import smneo
import smneo.aio

from fakes import fake, isolated_env  # noqa: F401
from local_fixtures import Server, admin, client as boto_client, job_request, tgz

PIPELINE = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/0123456789ab"
KEYS = dict(region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")


@pytest.fixture(scope="module")
def server():
    steps = [{"StepName": "S%d" % i, "StepStatus": "Succeeded", "StartTime": 1704067200 + i, "AttemptCount": 1}
             for i in range(7)]
    with Server(port=0, job_duration=0.3, pipelines={PIPELINE: steps}) as s:
        s3 = boto_client(s, "s3")
        s3.create_bucket(Bucket="models")
        s3.put_object(Bucket="models", Key="in/model.tar.gz",
                      Body=tgz({"model.pth": b"w" * 64, "code/inference.py": b"pass\n"}))
        yield s


@pytest.fixture(autouse=True)
def _no_faults(server):
    admin(server, "DELETE", "/_smneo/faults")
    yield
    admin(server, "DELETE", "/_smneo/faults")


def _clients(server, **kw):
    args = dict(KEYS, endpoint_url=server.url, **kw)
    return smneo.Client(**args), smneo.aio.Client(**args)


def _run(coro):
    return asyncio.run(coro)


def _strip(d):
    """A result without what differs between two calls (request ids, dates)."""
    d = dict(d)
    md = dict(d.pop("ResponseMetadata", {}))
    md.pop("RequestId", None)
    md.pop("HTTPHeaders", None)
    d["ResponseMetadata"] = md
    return d


def _steps_alive():
    gc.collect()
    return [o for o in gc.get_objects() if type(o).__name__ == "Steps"]


def _raises_same(sync_fn, coro):
    with pytest.raises(Exception) as se:
        sync_fn()
    with pytest.raises(Exception) as ae:
        _run(coro)
    assert type(ae.value) is type(se.value)
    # libcurl's detail says how long the connect took ("after 5 ms"): the
    # same words, the number the machine's load
    assert re.sub(r"after \d+ ms", "after N ms", str(ae.value)) == re.sub(r"after \d+ ms", "after N ms", str(se.value))
    return ae.value


def test_every_operation_matches_the_blocking_client(server):
    sync, aio = _clients(server)

    async def ops():
        async with aio:
            out = {"create": await aio.create_compilation_job(**job_request("aio-ops"))}
            out["describe"] = await aio.describe_compilation_job(CompilationJobName="aio-ops")
            out["list"] = await aio.list_compilation_jobs(NameContains="ops-")
            out["stop"] = await aio.stop_compilation_job(CompilationJobName="aio-ops")
            out["steps"] = await aio.list_pipeline_execution_steps(PipelineExecutionArn=PIPELINE)
            await aio.create_compilation_job(**job_request("aio-ops-done"))
            await aio.wait_for_compilation_job("aio-ops-done", delay=0.05)
            out["delete"] = await aio.delete_compilation_job(CompilationJobName="aio-ops-done")
            return out

    got = _run(ops())
    assert aio.closed
    want = {"create": sync.create_compilation_job(**job_request("sync-ops"))}
    want["describe"] = sync.describe_compilation_job(CompilationJobName="sync-ops")
    want["list"] = sync.list_compilation_jobs(NameContains="ops-")
    want["stop"] = sync.stop_compilation_job(CompilationJobName="sync-ops")
    want["steps"] = sync.list_pipeline_execution_steps(PipelineExecutionArn=PIPELINE)
    sync.create_compilation_job(**job_request("sync-ops-done"))
    sync.wait_for_compilation_job("sync-ops-done", delay=0.05)
    want["delete"] = sync.delete_compilation_job(CompilationJobName="sync-ops-done")
    assert got["create"]["CompilationJobArn"].endswith("/aio-ops")
    assert type(got["describe"]) is type(want["describe"])  # the notebook display types too
    assert type(got["list"]) is type(want["list"])
    for d in (got["describe"], want["describe"]):
        for k in ("CompilationJobName", "CompilationJobArn", "CreationTime", "LastModifiedTime"):
            d.pop(k, None)
    for k in ("describe", "stop", "steps", "delete"):
        assert _strip(got[k]) == _strip(want[k]), k
    assert [j["CompilationJobName"] for j in got["list"]["CompilationJobSummaries"]] == ["sync-ops"] or \
        got["list"]["CompilationJobSummaries"] == []  # the sync job did not exist yet when aio listed


def test_paginators_and_item_iterators(server):
    sync, aio = _clients(server)
    config = {"PageSize": 2, "MaxItems": 5}

    async def pages():
        async with aio:
            it = aio.get_paginator("list_pipeline_execution_steps").paginate(
                PipelineExecutionArn=PIPELINE, PaginationConfig=config)
            got = [p async for p in it]
            full = await aio.get_paginator("list_pipeline_execution_steps").paginate(
                PipelineExecutionArn=PIPELINE).build_full_result()
            items = [s async for s in aio.iter_pipeline_execution_steps(PipelineExecutionArn=PIPELINE)]
            return got, it.resume_token, full, items

    got, token, full, items = _run(pages())
    it = sync.get_paginator("list_pipeline_execution_steps").paginate(PipelineExecutionArn=PIPELINE,
                                                                       PaginationConfig=config)
    want = list(it)
    assert [_strip(p) for p in got] == [_strip(p) for p in want]
    assert token == it.resume_token and token is not None
    want_full = sync.get_paginator("list_pipeline_execution_steps").paginate(
        PipelineExecutionArn=PIPELINE).build_full_result()
    assert full == want_full
    assert items == list(sync.iter_pipeline_execution_steps(PipelineExecutionArn=PIPELINE))
    assert len(items) == 7
    with pytest.raises(ValueError) as e:
        smneo.aio.Client(endpoint_url=server.url, **KEYS).get_paginator("describe_compilation_job")
    with pytest.raises(ValueError) as s:
        sync.get_paginator("describe_compilation_job")
    assert str(e.value) == str(s.value)


def test_breaking_out_of_async_for_releases_the_run(server):
    sync, aio = _clients(server)

    async def first():
        async with aio:
            async for s in aio.iter_pipeline_execution_steps(PipelineExecutionArn=PIPELINE):
                return s

    assert _run(first()) == next(iter(sync.iter_pipeline_execution_steps(PipelineExecutionArn=PIPELINE)))
    assert _steps_alive() == []


def test_waiter_completes_with_status_callbacks(server):
    sync, aio = _clients(server)
    seen = []

    async def wait():
        async with aio:
            await aio.create_compilation_job(**job_request("aio-wait"))

            async def callback(desc):  # a coroutine function is awaited
                seen.append(desc["CompilationJobStatus"])

            return await aio.wait_for_compilation_job("aio-wait", delay=0.05, max_delay=0.05, callback=callback)

    done = _run(wait())
    assert done["CompilationJobStatus"] == "COMPLETED"
    assert seen[-1] == "COMPLETED" and seen[0] in ("STARTING", "INPROGRESS")


def test_waiter_cancelled_by_callback_and_timeout(server):
    sync, aio = _clients(server)
    sync.create_compilation_job(**job_request("aio-wait2"))

    async def cancelled():
        return await aio.wait_for_compilation_job("aio-wait2", delay=0.05, callback=lambda d: False)

    exc = _raises_same(lambda: sync.wait_for_compilation_job("aio-wait2", delay=0.05, callback=lambda d: False),
                       cancelled())
    assert isinstance(exc, smneo.WaiterCancelled)
    with pytest.raises(ValueError) as e:
        _run(aio.wait_for_compilation_job("aio-wait2", delay=-1))
    assert "delay" in str(e.value)


def test_errors_are_the_blocking_clients(server):
    sync, aio = _clients(server)
    e = _raises_same(lambda: sync.describe_compilation_job(CompilationJobName="nope"),
                     aio.describe_compilation_job(CompilationJobName="nope"))
    assert isinstance(e, smneo.ResourceNotFound) and isinstance(e, aio.exceptions.ResourceNotFound)
    assert e.response["Error"]["Code"] == "ResourceNotFound"
    e = _raises_same(lambda: sync.create_compilation_job(CompilationJobName="x"),
                     aio.create_compilation_job(CompilationJobName="x"))
    assert isinstance(e, smneo.ParamValidationError)
    e = _raises_same(lambda: sync.describe_compilation_job("x"), aio.describe_compilation_job("x"))
    assert isinstance(e, TypeError) and "keyword arguments" in str(e)
    admin(server, "POST", "/_smneo/faults", {"kind": "500", "count": 2})
    sync1, aio1 = _clients(server, max_attempts=1)
    e = _raises_same(lambda: sync1.list_compilation_jobs(), aio1.list_compilation_jobs())
    assert e.response["Error"]["Code"] == "InternalFailure"
    admin(server, "POST", "/_smneo/faults", {"kind": "500", "count": 1})
    assert "CompilationJobSummaries" in _run(aio.list_compilation_jobs())  # retried (legacy mode: 5 attempts)


def test_connection_refused_is_the_blocking_clients():
    args = dict(KEYS, endpoint_url="http://127.0.0.1:9", max_attempts=1)
    e = _raises_same(lambda: smneo.Client(**args).list_compilation_jobs(),
                     smneo.aio.Client(**args).list_compilation_jobs())
    assert isinstance(e, smneo.EndpointConnectionError)


def test_read_timeout_is_the_blocking_clients(server):
    sync, aio = _clients(server, read_timeout=0.3, max_attempts=1)
    admin(server, "POST", "/_smneo/faults", {"kind": "slow", "delay": 1.5, "count": 2})
    e = _raises_same(lambda: sync.list_compilation_jobs(), aio.list_compilation_jobs())
    assert isinstance(e, smneo.ReadTimeoutError)


def test_read_timeout_of_a_call_that_waited_for_a_connection(server):
    """The driver checks read timeouts only once the earliest can be due: a
    call queued behind another (one connection) times out a read timeout
    after it got its connection, not before and not never; a quick call
    next to a slow one is not cut."""
    from botocore.config import Config
    aio = smneo.aio.Client(endpoint_url=server.url, **KEYS, read_timeout=0.3, max_attempts=1,
                           config=Config(max_pool_connections=1))
    admin(server, "POST", "/_smneo/faults", {"kind": "slow", "delay": 1.5, "count": 2})

    async def two():
        return await asyncio.gather(aio.list_compilation_jobs(), aio.list_compilation_jobs(),
                                    return_exceptions=True)

    got = _run(two())
    assert [type(g) for g in got] == [smneo.ReadTimeoutError] * 2
    aio = smneo.aio.Client(endpoint_url=server.url, **KEYS, read_timeout=0.5, max_attempts=1)
    admin(server, "POST", "/_smneo/faults", {"kind": "slow", "delay": 0.2, "count": 1})

    async def slow_and_quick():
        slow = asyncio.ensure_future(aio.list_compilation_jobs())  # 0.2 s: under the read timeout
        await asyncio.sleep(0.1)
        quick = await aio.list_compilation_jobs()
        return await slow, quick

    slow, quick = _run(slow_and_quick())
    assert "CompilationJobSummaries" in slow and "CompilationJobSummaries" in quick


def test_cancelling_aborts_the_request_and_frees_the_call(server):
    sync, aio = _clients(server)
    admin(server, "POST", "/_smneo/faults", {"kind": "slow", "delay": 30, "count": 20})

    async def cancel_in_flight():
        for _ in range(10):
            task = asyncio.ensure_future(aio.list_compilation_jobs())
            while aio._driver is None or aio._driver.in_flight == 0:
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert aio._driver.in_flight == 0  # the transfer was removed at once, not left to the server
        await aio.close()

    _run(cancel_in_flight())
    assert _steps_alive() == []  # every call was freed with its handle


def test_wait_for_and_timeout_cancel_the_call(server):
    sync, aio = _clients(server)
    admin(server, "POST", "/_smneo/faults", {"kind": "slow", "delay": 30, "count": 10})

    async def timeouts():
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(aio.describe_compilation_job(CompilationJobName="nope"), 0.2)
        assert aio._driver.in_flight == 0
        if hasattr(asyncio, "timeout"):  # Python 3.11+
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.2):
                    await aio.list_compilation_jobs()
            assert aio._driver.in_flight == 0
        admin(server, "DELETE", "/_smneo/faults")
        await aio.create_compilation_job(**job_request("aio-wait3"))
        with pytest.raises(asyncio.TimeoutError):  # mid-wait: between polls
            await asyncio.wait_for(aio.wait_for_compilation_job("aio-wait3", delay=10), 0.5)
        await aio.close()

    _run(timeouts())
    assert _steps_alive() == []


def _ours():
    """Live objects of smneo's types and asyncio futures and tasks (the server
    threads still sleeping on the aborted requests are the server's)."""
    def smneo_type(o):
        # a type's __module__ is not always a str (a metaclass's instances
        # can see its getset descriptor): such a type is not smneo's
        m = type(o).__module__
        return isinstance(m, str) and m.startswith("smneo") and not m.startswith("smneo.local")
    return sum(1 for o in gc.get_objects() if isinstance(o, asyncio.Future) or smneo_type(o))


def test_cancelled_calls_do_not_leak(server):
    import tracemalloc
    sync, aio = _clients(server)
    admin(server, "POST", "/_smneo/faults", {"kind": "slow", "delay": 30, "count": 1000})

    async def rounds(n):
        tasks = [asyncio.ensure_future(aio.list_compilation_jobs()) for _ in range(n)]
        while aio._driver is None or aio._driver.in_flight < n:
            await asyncio.sleep(0.01)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert aio._driver.in_flight == 0

    # allocations attributed to smneo's Python code (the C calls they make
    # included) and to this file; the server's own bookkeeping is not counted
    filters = [tracemalloc.Filter(True, __file__), tracemalloc.Filter(True, "*/smneo/aio.py"),
               tracemalloc.Filter(True, "*/smneo/_glue.py")]

    async def check():
        await rounds(20)  # warm-up
        tracemalloc.start()
        windows = []
        try:
            gc.collect()
            before, objects = tracemalloc.take_snapshot().filter_traces(filters), _ours()
            for _ in range(3):
                await rounds(50)
                gc.collect()
                after, now = tracemalloc.take_snapshot().filter_traces(filters), _ours()
                grown = sum(st.size_diff for st in after.compare_to(before, "lineno") if st.size_diff > 0)
                windows.append((grown, now - objects))
                before, objects = after, now
        finally:
            tracemalloc.stop()
        await aio.close()
        return windows

    windows = _run(check())
    # a leaked Steps (with its result or exception) per call would be 50 objects
    # and several kB in every window
    assert min(w[0] for w in windows) < 50 * 100, windows
    assert min(w[1] for w in windows) < 10, windows
    assert _steps_alive() == []


def test_many_calls_at_once_match_the_blocking_client(server):
    from botocore.config import Config
    # 500 calls at once on one client; at most 50 connections (more would
    # overflow the local server's listen backlog, 64, and the dropped connects
    # come back after the kernel's SYN retransmission delays: 1, 3, 7 s...);
    # bench/bench_aio.py runs 200 on the wire against nginx
    sync, aio = _clients(server, config=Config(max_pool_connections=50))
    sync.create_compilation_job(**job_request("aio-many"))
    sync.wait_for_compilation_job("aio-many", delay=0.05)
    want = _strip(sync.describe_compilation_job(CompilationJobName="aio-many"))
    want_missing = _raises_same(lambda: sync.describe_compilation_job(CompilationJobName="aio-none"),
                                aio.describe_compilation_job(CompilationJobName="aio-none"))
    aio = smneo.aio.Client(**dict(KEYS, endpoint_url=server.url, config=Config(max_pool_connections=50)))

    async def many():
        async def one(i):
            name = "aio-many" if i % 5 else "aio-none"
            try:
                return await aio.describe_compilation_job(CompilationJobName=name)
            except smneo.ClientError as e:
                return e

        async with aio:
            return await asyncio.gather(*[one(i) for i in range(500)])

    got = _run(many())
    assert len(got) == 500
    for i, d in enumerate(got):
        if i % 5:
            assert _strip(d) == want
        else:
            assert type(d) is type(want_missing) and str(d) == str(want_missing)


def _connections(server):
    return admin(server, "GET", "/_smneo/health")[1]["connections"]  # accepted so far (this one included)


@pytest.mark.parametrize("pool", [3, 20])
def test_max_pool_connections_caps_the_connections_in_flight(server, pool):
    """As aiobotocore's connector (max_pool_connections is aiohttp's limit):
    at most that many connections, the other calls wait for one; every call
    completes with the blocking client's result."""
    from botocore.config import Config
    sync, aio = _clients(server, config=Config(max_pool_connections=pool))
    sync.create_compilation_job(**job_request("aio-pool-%d" % pool))
    sync.wait_for_compilation_job("aio-pool-%d" % pool, delay=0.05)
    want = _strip(sync.describe_compilation_job(CompilationJobName="aio-pool-%d" % pool))
    admin(server, "POST", "/_smneo/faults", {"kind": "slow", "delay": 0.3, "count": 12})
    before = _connections(server)

    async def calls():
        async with aio:
            tasks = [asyncio.ensure_future(aio.describe_compilation_job(CompilationJobName="aio-pool-%d" % pool))
                     for _ in range(12)]
            while aio._driver is None or aio._driver.in_flight < 12:
                await asyncio.sleep(0.01)
            return await asyncio.gather(*tasks)

    got = _run(calls())
    opened = _connections(server) - before - 1
    assert [_strip(d) for d in got] == [want] * 12
    if pool == 3:
        assert 1 <= opened <= 3, opened
    else:  # the control: twelve calls at once open twelve connections
        assert opened == 12, opened


def test_a_waiting_call_cancelled_frees_its_place(server):
    from botocore.config import Config
    sync, aio = _clients(server, config=Config(max_pool_connections=1))
    admin(server, "POST", "/_smneo/faults", {"kind": "slow", "delay": 30, "count": 1})

    async def calls():
        stuck = asyncio.ensure_future(aio.list_compilation_jobs())  # holds the only connection
        while aio._driver is None or aio._driver.in_flight < 1:
            await asyncio.sleep(0.01)
        waiting = [asyncio.ensure_future(aio.list_compilation_jobs()) for _ in range(3)]
        while aio._driver.in_flight < 4:
            await asyncio.sleep(0.01)
        waiting[1].cancel()  # a queued one: the others keep their places
        stuck.cancel()       # the one on the connection: the next queued one goes
        got = await asyncio.gather(waiting[0], waiting[2])
        for t in (stuck, waiting[1]):
            with pytest.raises(asyncio.CancelledError):
                await t
        assert aio._driver.in_flight == 0
        await aio.close()
        return got

    got = _run(calls())
    assert all("CompilationJobSummaries" in g for g in got)
    assert _steps_alive() == []


def test_closed_client_and_out_of_scope_operations(server):
    sync, aio = _clients(server)

    async def use():
        await aio.close()
        await aio.close()  # idempotent
        with pytest.raises(RuntimeError) as e:
            await aio.list_compilation_jobs()
        assert "closed" in str(e.value)
        with pytest.raises(RuntimeError) as e:
            await aio.compile("model", role_arn="r", s3_bucket="b", target_device="ml_c5")
        assert "closed" in str(e.value)
        with pytest.raises(RuntimeError) as e:
            await aio.compile_many([{"model": "model"}], role_arn="r", s3_bucket="b")
        assert "closed" in str(e.value)

    _run(use())
    assert "closed" in repr(aio)


def test_in_process_transport_runs_in_threads():
    from smneo.local import mock

    async def calls():
        async with smneo.aio.Client(region_name="us-west-2") as aio:
            await aio.create_compilation_job(**job_request("aio-mock"))
            got = await asyncio.gather(*[aio.describe_compilation_job(CompilationJobName="aio-mock")
                                         for _ in range(5)])
            assert aio._driver.in_flight == 0 and aio._driver._multi is None
            return got

    with mock(job_duration=0.1):
        got = _run(calls())
    assert {d["CompilationJobName"] for d in got} == {"aio-mock"}


def test_send_hook_events_answer_in_the_loop(server):
    sync, aio = _clients(server)
    answered = []

    def before_send(request, **kwargs):
        answered.append(request.url)
        return None  # let it go out

    aio.meta.events.register("before-send.sagemaker.ListCompilationJobs", before_send)
    _run(aio.list_compilation_jobs())
    assert answered == [server.url + "/"] or len(answered) == 1


def _uvloop():
    try:
        return importlib.import_module("uvloop")
    except ImportError:
        pass
    sys.path.append("/usr/lib/python3/dist-packages")  # Debian's python3-uvloop
    try:
        return importlib.import_module("uvloop")
    except ImportError:
        return None
    finally:
        sys.path.remove("/usr/lib/python3/dist-packages")


def test_under_uvloop(server):
    uvloop = _uvloop()
    if uvloop is None:
        pytest.skip("uvloop is not installed (Debian: python3-uvloop)")
    sync, aio = _clients(server)
    admin(server, "POST", "/_smneo/faults", {"kind": "slow", "delay": 30, "count": 1})

    async def calls():
        assert "uvloop" in type(asyncio.get_running_loop()).__module__
        task = asyncio.ensure_future(aio.list_compilation_jobs())
        while aio._driver is None or aio._driver.in_flight == 0:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await aio.create_compilation_job(**job_request("aio-uv"))
        got = await asyncio.gather(*[aio.describe_compilation_job(CompilationJobName="aio-uv")
                                     for _ in range(50)])
        items = [s async for s in aio.iter_pipeline_execution_steps(PipelineExecutionArn=PIPELINE)]
        done = await aio.wait_for_compilation_job("aio-uv", delay=0.05)
        await aio.close()
        return got, items, done

    loop = uvloop.new_event_loop()
    try:
        got, items, done = loop.run_until_complete(calls())
    finally:
        loop.close()
    assert {d["CompilationJobName"] for d in got} == {"aio-uv"}
    assert len(items) == 7 and done["CompilationJobStatus"] == "COMPLETED"


def test_job_logs_follow_as_the_blocking_reader(server):
    import warnings
    sync, aio = _clients(server)
    server.configure(job_duration=1.0)
    try:
        server.fail_jobs("unsupported-operator", job="aio-logs", params={"operators": "aten::frobnicate"})
        sync.create_compilation_job(**job_request("aio-logs"))

        async def follow():
            async with aio:
                return [e async for e in aio.get_compilation_job_logs("aio-logs", follow=True, delay=0.05,
                                                                      max_delay=0.1)]

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            events = _run(follow())
    finally:
        server.configure(job_duration=0.3)
    assert sync.describe_compilation_job(CompilationJobName="aio-logs")["CompilationJobStatus"] == "FAILED"
    assert any(issubclass(w.category, smneo.LogWarning) for w in caught)  # no log yet, at first
    assert events == list(sync.get_compilation_job_logs("aio-logs"))
    assert any("frobnicate" in e["message"] for e in events)
    assert list(sync.get_compilation_job_logs("aio-logs", tail=2)) == \
        _run(_collect(smneo.aio.Client(endpoint_url=server.url, **KEYS).get_compilation_job_logs("aio-logs", tail=2)))
    with pytest.raises(smneo.ParamValidationError, match="tail"):
        aio.get_compilation_job_logs("x", follow=True, tail=3)


async def _collect(it):
    return [x async for x in it]


def _aio_keys(url, **kw):
    return dict(KEYS, endpoint_url=url, _retry_backoff_scale=0.001, read_timeout=10, connect_timeout=5, **kw)


def test_stubber_answers_the_async_client_without_network(isolated_env):
    """smneo.stub.Stubber on an aio client (client.meta is the wrapped
    client's, the request hook the core's): calls, paginators and the waiter
    are answered from the queue; nothing listens at the endpoint."""
    from smneo.stub import Stubber, UnStubbedResponseError
    when = datetime.datetime(2024, 5, 1, tzinfo=datetime.timezone.utc)
    desc = lambda status: {  # noqa: E731
        "CompilationJobName": "j", "CompilationJobArn": "arn:aws:sagemaker:us-east-1:1:compilation-job/j",
        "CompilationJobStatus": status, "StoppingCondition": {}, "CreationTime": when, "LastModifiedTime": when,
        "FailureReason": "", "ModelArtifacts": {"S3ModelArtifacts": "s3://b/o"}, "RoleArn": "arn:aws:iam::1:role/r",
        "InputConfig": {"S3Uri": "s3://b/m", "Framework": "PYTORCH"}, "OutputConfig": {"S3OutputLocation": "s3://b/o"}}
    page = lambda names, token=None: dict(  # noqa: E731
        {"CompilationJobSummaries": [{"CompilationJobName": n, "CompilationJobArn": "arn:x/" + n,
                                      "CreationTime": when, "CompilationJobStatus": "COMPLETED"} for n in names]},
        **({"NextToken": token} if token else {}))
    aio = smneo.aio.Client(**_aio_keys("http://127.0.0.1:9", max_attempts=1))

    async def calls(stubber):
        stubber.add_response("describe_compilation_job", desc("INPROGRESS"), {"CompilationJobName": "j"})
        got = await aio.describe_compilation_job(CompilationJobName="j")
        stubber.add_response("list_compilation_jobs", page(["a", "b"], "t"), {})
        stubber.add_response("list_compilation_jobs", page(["c"]), {"NextToken": "t"})
        names = [s["CompilationJobName"] async for s in aio.iter_compilation_jobs()]
        for status in ("INPROGRESS", "COMPLETED"):
            stubber.add_response("describe_compilation_job", desc(status))
        job = await aio.wait_for_compilation_job("j", delay=0.001, max_delay=0.001)
        stubber.add_client_error("describe_compilation_job", "ResourceNotFound", "no such job", 400)
        with pytest.raises(aio.exceptions.ResourceNotFound) as ei:
            await aio.describe_compilation_job(CompilationJobName="x")
        stubber.assert_no_pending_responses()
        with pytest.raises(UnStubbedResponseError):
            await aio.describe_compilation_job(CompilationJobName="j")
        return got, names, job, ei.value

    with Stubber(aio) as stubber:
        got, names, job, err = _run(calls(stubber))
    aio.sync.close()
    assert got["CompilationJobStatus"] == "INPROGRESS" and got["CreationTime"] == when
    assert names == ["a", "b", "c"]
    assert job["CompilationJobStatus"] == "COMPLETED"
    assert err.response["Error"] == {"Code": "ResourceNotFound", "Message": "no such job"}


def test_retry_quota_reached_as_the_blocking_client(fake, isolated_env):
    """Standard mode against a service that always answers 500: the aio client
    marks ResponseMetadata.RetryQuotaReached at the same call as smneo.Client."""
    fake.handlers["DescribeCompilationJob"] = lambda rec: (500, {"__type": "InternalFailure", "message": "boom"})
    opts = _aio_keys(fake.url, retry_mode="standard", max_attempts=3)
    sync, aio = smneo.Client(**opts), smneo.aio.Client(**opts)

    def record(seen, e):
        md = e.response["ResponseMetadata"]
        seen.append((md["RetryAttempts"], md.get("RetryQuotaReached", False)))

    seen_sync, seen_aio = [], []
    for _ in range(55):
        with pytest.raises(smneo.ClientError) as ei:
            sync.describe_compilation_job(CompilationJobName="j")
        record(seen_sync, ei.value)

    async def calls():
        for _ in range(55):
            with pytest.raises(smneo.ClientError) as ei:
                await aio.describe_compilation_job(CompilationJobName="j")
            record(seen_aio, ei.value)

    _run(calls())
    sync.close()
    aio.sync.close()
    assert seen_aio == seen_sync
    assert seen_aio[0] == (2, False) and seen_aio[-1] == (0, True)


def test_botocore_stubber_on_the_async_client_as_on_the_blocking_one(isolated_env):
    """botocore.stub.Stubber(aio_client) works unchanged (client.meta is the
    wrapped client's): the same answers, errors and stub assertions as on
    smneo.Client, for calls, item iterators and the waiter."""
    botocore_stub = pytest.importorskip("botocore.stub")
    when = datetime.datetime(2024, 5, 1, tzinfo=datetime.timezone.utc)
    desc = lambda status: {  # noqa: E731
        "CompilationJobName": "j", "CompilationJobArn": "arn:aws:sagemaker:us-east-1:1:compilation-job/j",
        "CompilationJobStatus": status, "StoppingCondition": {}, "CreationTime": when, "LastModifiedTime": when,
        "FailureReason": "", "ModelArtifacts": {"S3ModelArtifacts": "s3://b/o"}, "RoleArn": "arn:aws:iam::1:role/r",
        "InputConfig": {"S3Uri": "s3://b/m", "Framework": "PYTORCH"}, "OutputConfig": {"S3OutputLocation": "s3://b/o"}}

    def queue(stubber):
        stubber.add_response("describe_compilation_job", desc("INPROGRESS"),
                             {"CompilationJobName": botocore_stub.ANY})
        stubber.add_response("list_compilation_jobs", {"CompilationJobSummaries": [
            {"CompilationJobName": "a", "CompilationJobArn": "arn:x/a", "CreationTime": when,
             "CompilationJobStatus": "FAILED"}], "NextToken": "t"}, {})
        stubber.add_response("list_compilation_jobs", {"CompilationJobSummaries": []}, {"NextToken": "t"})
        stubber.add_response("describe_compilation_job", desc("STARTING"))
        stubber.add_response("describe_compilation_job", desc("COMPLETED"))
        stubber.add_client_error("stop_compilation_job", "ResourceNotFound", "no such job", 400)
        stubber.add_response("delete_compilation_job", {}, {"CompilationJobName": "expected"})

    def outcome(fn):
        try:
            return "ok", fn()
        except Exception as e:  # noqa: BLE001 (compared below)
            return type(e), str(e)

    args = _aio_keys("http://127.0.0.1:9", max_attempts=1)
    sync, aio = smneo.Client(**args), smneo.aio.Client(**args)
    with botocore_stub.Stubber(sync) as stubber:
        queue(stubber)
        want = [outcome(lambda: sync.describe_compilation_job(CompilationJobName="j")),
                outcome(lambda: [s["CompilationJobName"] for s in sync.iter_compilation_jobs()]),
                outcome(lambda: sync.wait_for_compilation_job("j", delay=0.001)["CompilationJobStatus"]),
                outcome(lambda: sync.stop_compilation_job(CompilationJobName="j")),
                outcome(lambda: sync.delete_compilation_job(CompilationJobName="other"))]
        with pytest.raises(AssertionError) as left_sync:  # the refused one stays queued
            stubber.assert_no_pending_responses()

    async def calls():
        async def wait():
            return (await aio.wait_for_compilation_job("j", delay=0.001))["CompilationJobStatus"]

        got = []
        for coro in (aio.describe_compilation_job(CompilationJobName="j"),
                     _collect_names(aio.iter_compilation_jobs()), wait(),
                     aio.stop_compilation_job(CompilationJobName="j"),
                     aio.delete_compilation_job(CompilationJobName="other")):
            try:
                got.append(("ok", await coro))
            except Exception as e:  # noqa: BLE001
                got.append((type(e), str(e)))
        return got

    with botocore_stub.Stubber(aio) as stubber:
        queue(stubber)
        got = _run(calls())
        with pytest.raises(AssertionError) as left_aio:
            stubber.assert_no_pending_responses()
    assert str(left_aio.value) == str(left_sync.value)
    sync.close()
    aio.sync.close()
    assert got == want
    assert want[0][1]["CompilationJobStatus"] == "INPROGRESS" and want[1] == ("ok", ["a"])
    assert want[2] == ("ok", "COMPLETED") and want[3][0] is smneo.ResourceNotFound
    assert want[4][0] is botocore_stub.StubAssertionError and "expected" in want[4][1]


async def _collect_names(it):
    return [s["CompilationJobName"] async for s in it]
