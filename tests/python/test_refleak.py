"""The same calls repeated many times: Python memory (tracemalloc), object
counts and reference counts stay flat, for results and for errors."""
import gc
import sys
import tracemalloc

import pytest

import smneo
from fakes import client, description, fake, isolated_env, paged, summary  # noqa: F401

CREATE = {
    "CompilationJobName": "job-1", "RoleArn": "arn:aws:iam::123456789012:role/R",
    "InputConfig": {"S3Uri": "s3://b/m.tar.gz", "Framework": "PYTORCH", "DataInputConfig": '{"input0": [1, 3, 224, 224]}'},
    "OutputConfig": {"S3OutputLocation": "s3://b/o/", "TargetDevice": "ml_c5"},
    "StoppingCondition": {"MaxRuntimeInSeconds": 900},
    "Tags": [{"Key": "k%d" % i, "Value": "v"} for i in range(5)],
}


ROUNDS = 600
# Allocations made by the binding are attributed to the Python line that
# called it: count those of this file and of the smneo package only (the fake
# server runs in this process too).
FILTERS = [tracemalloc.Filter(True, __file__), tracemalloc.Filter(True, "*/smneo/*")]


def _window(fn, rounds):
    gc.collect()
    tracemalloc.start(1)
    before = tracemalloc.take_snapshot().filter_traces(FILTERS)
    objects_before = len(gc.get_objects())
    for _ in range(rounds):
        fn()
    gc.collect()
    after = tracemalloc.take_snapshot().filter_traces(FILTERS)
    tracemalloc.stop()
    stats = after.compare_to(before, "lineno")
    return sum(s.size_diff for s in stats if s.size_diff > 0), len(gc.get_objects()) - objects_before, stats[:3]


def _check(fn, warmup=60, rounds=ROUNDS):
    """A leak grows in every window; one-time caches (interned names, lazily
    imported modules, thread-pool warm-up) and free lists only in some. All
    three windows must grow for a failure."""
    for _ in range(warmup):
        fn()
    windows = [_window(fn, rounds) for _ in range(3)]
    first, second = windows[0], windows[1:]
    grown = min(w[0] for w in windows)
    objects = min(w[1] for w in windows)
    # one leaked small object per call would be ROUNDS * 50+ bytes in each window;
    # free lists and in-flight server work make a bounded noise of a few kB
    assert grown < ROUNDS * 25, (first, second)
    assert objects < ROUNDS // 4, (first, second)


@pytest.fixture(autouse=True)
def _no_history(fake):
    fake.record = False


def test_describe_does_not_leak(client):
    _check(lambda: client.describe_compilation_job(CompilationJobName="job-1"))


def test_create_with_nested_params_does_not_leak(client):
    _check(lambda: client.create_compilation_job(**CREATE))


def test_service_errors_do_not_leak(client, fake):
    fake.handlers["DescribeCompilationJob"] = lambda req: (400, {"__type": "ResourceNotFound", "Message": "no"})

    def call():
        try:
            client.describe_compilation_job(CompilationJobName="job-1")
        except smneo.ResourceNotFound:
            pass
    _check(call)


def test_validation_errors_do_not_leak(client):
    def call():
        for bad in ({"CompilationJobName": b"x"}, {"CompilationJobName": ["x"]}, {}):
            try:
                client.describe_compilation_job(**bad)
            except smneo.ParamValidationError:
                pass
    _check(call)


def test_warned_calls_do_not_leak(fake, isolated_env):
    import warnings
    from fakes import make_client
    bad = dict(CREATE, RoleArn="not-an-arn")
    with make_client(fake.url, validation="warn") as c:
        def call():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", smneo.ValidationWarning)
                c.create_compilation_job(**bad)
            with warnings.catch_warnings():
                warnings.simplefilter("error", smneo.ValidationWarning)
                try:
                    c.create_compilation_job(**bad)
                except smneo.ValidationWarning:
                    pass
        _check(call, rounds=ROUNDS // 2)


def test_paginators_and_iterators_do_not_leak(client, fake):
    fake.handlers["ListCompilationJobs"] = paged([summary(i) for i in range(12)], page_size_default=5)

    def call():
        list(client.iter_compilation_jobs())
        client.get_paginator("list_compilation_jobs").paginate(PaginationConfig={"MaxItems": 7}).build_full_result()
        it = client.iter_compilation_jobs()
        next(it)  # abandoned half-way
    _check(call)


def test_build_and_parse_do_not_leak(client):
    import json
    body = json.dumps(description("x")).encode()
    _check(lambda: (client.build_request("CreateCompilationJob", CREATE, timestamp=1700000000),
                    client.parse_response("DescribeCompilationJob", 200, {"x-amzn-RequestId": "r"}, body),
                    smneo.validate("CreateCompilationJob", CREATE)))


def test_refcounts_of_arguments_are_unchanged(client):
    name = "job-refcount-%d" % id(client)
    params = dict(CREATE)
    tags = params["Tags"]
    before = (sys.getrefcount(name), sys.getrefcount(tags), sys.getrefcount(params))
    for _ in range(200):
        client.create_compilation_job(**dict(params, CompilationJobName=name))
    gc.collect()
    assert (sys.getrefcount(name), sys.getrefcount(tags), sys.getrefcount(params)) == before


def test_clients_are_freed(fake, isolated_env):
    import weakref
    from fakes import make_client
    refs = []
    for _ in range(20):
        c = make_client(fake.url)
        c.describe_compilation_job(CompilationJobName="x")
        it = c.iter_compilation_jobs()
        refs.append(weakref.ref(c))
        del c, it
    gc.collect()
    assert all(r() is None for r in refs)


@pytest.mark.skipif(not hasattr(sys, "gettotalrefcount"), reason="needs a debug build of Python for total refcounts")
def test_total_refcount_flat(client):
    for _ in range(50):
        client.describe_compilation_job(CompilationJobName="job-1")
    before = sys.gettotalrefcount()
    for _ in range(500):
        client.describe_compilation_job(CompilationJobName="job-1")
    assert sys.gettotalrefcount() - before < 100
