"""client.meta.events on real requests (issue 13): each event botocore fires
around a request, fired by a smneo client talking to smneo.local over
loopback, with botocore's names and arguments; handlers' answers have the
effect botocore gives them (needs-retry's delay, before-call's response,
parameter handlers' changes). The same behaviours run against boto3 in
test_dropin.py."""
import pytest

from fakes import need_module
from local_fixtures import admin, job_request
from local_fixtures import server  # noqa: F401  (fixture)

botocore_exceptions = need_module("botocore.exceptions")

import smneo  # noqa: E402


def sm_client(server, **kw):  # noqa: F811
    kw.setdefault("max_attempts", 3)
    return smneo.Client(region_name="us-east-1", endpoint_url=server.url, aws_access_key_id="test",
                        aws_secret_access_key="test", retry_mode="standard", **kw)


def throttle(server, count):  # noqa: F811
    admin(server, "POST", "/_smneo/faults", {"kind": "throttle", "count": count, "target": "sagemaker",
                                             "delay": 0})


def test_each_event_of_a_retried_call_in_botocores_order(server):  # noqa: F811
    client = sm_client(server)
    fired = []
    for event in ("provide-client-params", "before-parameter-build", "before-call", "request-created",
                  "before-sign", "before-send", "response-received", "needs-retry", "after-call",
                  "after-call-error"):
        client.meta.events.register(event + ".sagemaker.ListCompilationJobs",
                                    lambda event_name, **kw: fired.append(event_name.split(".")[0]))
    throttle(server, 1)
    out = client.list_compilation_jobs()
    assert out["ResponseMetadata"]["RetryAttempts"] == 1
    attempt = ["request-created", "before-sign", "before-send", "response-received", "needs-retry"]
    assert fired == ["provide-client-params", "before-parameter-build", "before-call"] + attempt + attempt + \
        ["after-call"]


def test_needs_retry_kwargs_and_the_cores_decision(server):  # noqa: F811
    client = sm_client(server)
    seen = []

    def record(attempts, response, caught_exception, operation, request_dict, **kw):
        http, parsed = response
        seen.append((attempts, http.status_code, parsed.get("Error", {}).get("Code"), caught_exception,
                     operation.name, sorted(request_dict)))
    client.meta.events.register("needs-retry.sagemaker", record)
    throttle(server, 2)
    client.list_compilation_jobs()
    assert seen == [(1, 400, "ThrottlingException", None, "ListCompilationJobs", ["context"]),
                    (2, 400, "ThrottlingException", None, "ListCompilationJobs", ["context"]),
                    (3, 200, None, None, "ListCompilationJobs", ["context"])]


def test_needs_retry_answers(server):  # noqa: F811
    client = sm_client(server, max_attempts=1)
    # a delay retries past max_attempts, a non-retryable error included
    client.meta.events.register("needs-retry", lambda attempts, **kw: 0.01 if attempts < 3 else None,
                                unique_id="more")
    throttle(server, 2)
    assert client.list_compilation_jobs()["ResponseMetadata"]["RetryAttempts"] == 2
    client.meta.events.unregister("needs-retry", unique_id="more")
    # registered first (before the core's own handler), False stops the retries the core would make
    client2 = sm_client(server)
    client2.meta.events.register_first("needs-retry.sagemaker", lambda **kw: False)
    throttle(server, 1)
    with pytest.raises(client2.exceptions.ClientError) as ei:
        client2.list_compilation_jobs()
    assert ei.value.response["ResponseMetadata"]["RetryAttempts"] == 0
    # nonsense is refused by name
    client3 = sm_client(server)
    client3.meta.events.register_first("needs-retry.sagemaker", lambda **kw: "soon")
    with pytest.raises(ValueError, match="needs-retry answer is None, False or a delay in seconds"):
        client3.list_compilation_jobs()


def test_core_retry_handler_can_be_unregistered_as_botocores(server):  # noqa: F811
    client = sm_client(server)
    client.meta.events.unregister("needs-retry.sagemaker", unique_id="retry-config-sagemaker")
    throttle(server, 1)
    with pytest.raises(client.exceptions.ClientError):
        client.list_compilation_jobs()


def test_after_call_on_pages_and_waiter_polls(server):  # noqa: F811
    client = sm_client(server)
    for i in range(3):
        client.create_compilation_job(**job_request("job-%d" % i))
    pages = []
    client.meta.events.register("after-call.sagemaker.ListCompilationJobs",
                                lambda parsed, **kw: pages.append(len(parsed["CompilationJobSummaries"])))
    polls = []
    client.meta.events.register("after-call.sagemaker.DescribeCompilationJob",
                                lambda parsed, **kw: polls.append(parsed["CompilationJobStatus"]))
    list(client.get_paginator("list_compilation_jobs").paginate(PaginationConfig={"PageSize": 2}))
    assert pages == [2, 1]
    with pytest.raises(smneo.CompilationJobFailed):  # (no model uploaded: the job fails)
        client.wait_for_compilation_job("job-0", delay=0.05)
    assert polls[-1] == "FAILED"


def test_handler_exceptions_propagate(server):  # noqa: F811
    client = sm_client(server)

    def boom(**kw):
        raise KeyError("from the handler")
    client.meta.events.register("after-call.sagemaker.ListCompilationJobs", boom)
    with pytest.raises(KeyError, match="from the handler"):
        client.list_compilation_jobs()
    client.meta.events.unregister("after-call.sagemaker.ListCompilationJobs", boom)
    client.meta.events.register("response-received.sagemaker.ListCompilationJobs", boom)
    with pytest.raises(KeyError, match="from the handler"):
        client.list_compilation_jobs()


def test_parameter_handlers_on_every_page_and_validated(server):  # noqa: F811
    client = sm_client(server)
    for i in range(3):
        client.create_compilation_job(**job_request("p-%d" % i))
    seen = []

    def newest_first(params, **kw):
        params["SortOrder"] = "Descending"
        seen.append(dict(params))
    client.meta.events.register("before-parameter-build.sagemaker.ListCompilationJobs", newest_first)
    names = [s["CompilationJobName"] for p in client.get_paginator("list_compilation_jobs").paginate(
        PaginationConfig={"PageSize": 2}) for s in p["CompilationJobSummaries"]]
    assert names == ["p-2", "p-1", "p-0"]
    assert len(seen) == 2 and "NextToken" in seen[1]
    # the changed parameters are validated as the call's: botocore validates after this event too
    client.meta.events.register("provide-client-params.sagemaker.DescribeCompilationJob",
                                lambda params, **kw: {"CompilationJobName": 7})
    with pytest.raises(botocore_exceptions.ParamValidationError, match="CompilationJobName"):
        client.describe_compilation_job(CompilationJobName="p-0")



def test_events_of_an_asyncio_client(server):  # noqa: F811
    import asyncio

    import smneo.aio
    client = smneo.aio.Client(region_name="us-east-1", endpoint_url=server.url, aws_access_key_id="test",
                              aws_secret_access_key="test", retry_mode="standard", max_attempts=3)
    fired = []
    client.meta.events.register("needs-retry.sagemaker", lambda attempts, **kw: fired.append(("retry", attempts)))
    client.meta.events.register("after-call.sagemaker", lambda parsed, **kw: fired.append(
        ("after", parsed["ResponseMetadata"]["RetryAttempts"])))
    throttle(server, 1)

    async def call():
        async with client:
            return await client.list_compilation_jobs()
    asyncio.run(call())
    assert fired == [("retry", 1), ("retry", 2), ("after", 1)]
