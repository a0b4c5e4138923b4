"""One smneo.Client shared by 8 threads: hundreds of calls, no errors, and the
GIL is released while calls wait on the network."""
import threading
import time

from fakes import CREATED, client, fake, isolated_env, make_client, paged, summary  # noqa: F401

THREADS = 8
CALLS = 40  # per thread: 8 x 40 x (2 or 4) requests = 800+ calls


def test_eight_threads_share_one_client(client, fake):
    fake.handlers["ListCompilationJobs"] = paged([summary(i) for i in range(25)], page_size_default=10)
    errors = []
    counts = [0] * THREADS
    start = threading.Barrier(THREADS)

    def work(t):
        try:
            start.wait()
            for i in range(CALLS):
                name = "job-%d-%d" % (t, i)
                d = client.describe_compilation_job(CompilationJobName=name)
                assert d["CompilationJobName"] == name
                assert d["CreationTime"].timestamp() == CREATED
                r = client.create_compilation_job(
                    CompilationJobName=name, RoleArn="arn:aws:iam::123456789012:role/R",
                    InputConfig={"S3Uri": "s3://b/m.tar.gz", "Framework": "PYTORCH",
                                 "DataInputConfig": '{"input0": [1, 3, 224, 224]}'},
                    OutputConfig={"S3OutputLocation": "s3://b/o/", "TargetDevice": "ml_c5"},
                    StoppingCondition={"MaxRuntimeInSeconds": 900})
                assert r["CompilationJobArn"].endswith("/" + name)
                if i % 10 == 0:
                    assert len(list(client.iter_compilation_jobs())) == 25
                else:
                    assert client.list_compilation_jobs()["NextToken"] == "tok-10"
                counts[t] += 1
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    assert errors == []
    assert counts == [CALLS] * THREADS
    assert len(fake.requests) == THREADS * CALLS * 2 + THREADS * (CALLS - CALLS // 10) + THREADS * (CALLS // 10) * 3


def test_gil_is_released_during_calls(fake, isolated_env):
    """Four slow calls (0.4 s each) in four threads finish in about 0.4 s, not 1.6 s,
    and the main thread keeps running Python meanwhile."""
    from fakes import description
    for _ in range(4):
        fake.queue("DescribeCompilationJob", 200, description(), None, 0.4)
    with make_client(fake.url) as c:
        threads = [threading.Thread(target=c.describe_compilation_job, kwargs={"CompilationJobName": "x"})
                   for _ in range(4)]
        t0 = time.monotonic()
        for th in threads:
            th.start()
        ticks = 0
        while any(th.is_alive() for th in threads):
            ticks += 1
            time.sleep(0.01)
        elapsed = time.monotonic() - t0
    assert elapsed < 1.2
    assert ticks > 10


def test_close_while_calls_are_in_flight(fake, isolated_env):
    from fakes import description
    fake.queue("DescribeCompilationJob", 200, description("x"), None, 0.3)
    c = make_client(fake.url)
    result = []
    th = threading.Thread(target=lambda: result.append(c.describe_compilation_job(CompilationJobName="x")))
    th.start()
    time.sleep(0.1)
    c.close()  # the in-flight call finishes; the core is released after it
    th.join(5)
    assert result and result[0]["CompilationJobName"] == "x"
    assert c.closed
    try:
        c.describe_compilation_job(CompilationJobName="x")
    except RuntimeError as e:
        assert "closed" in str(e)
    else:
        raise AssertionError("a closed client must refuse calls")
