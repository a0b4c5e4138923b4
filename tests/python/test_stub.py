"""smneo.stub.Stubber and client.meta.events (issue 13, item 2): stubbed
answers replace the transport inside the core, so paginators and the waiter
run against them with no socket; the same with botocore's Stubber through
client.meta.events; smneo.stub works without botocore."""
import datetime
import os
import subprocess
import sys
import textwrap

import pytest

import smneo
from fakes import fake, isolated_env, make_client, need_module  # noqa: F401
from smneo.stub import ANY, StubAssertionError, Stubber, UnStubbedResponseError

PYDIR = os.path.dirname(os.path.dirname(smneo.__file__))
WHEN = datetime.datetime(2024, 5, 1, tzinfo=datetime.timezone.utc)
CLOSED = "http://127.0.0.1:9"  # nothing listens: a request that reached the network would fail


def description(name, status):
    return {"CompilationJobName": name, "CompilationJobArn": "arn:aws:sagemaker:us-east-1:1:compilation-job/" + name,
            "CompilationJobStatus": status, "StoppingCondition": {}, "CreationTime": WHEN,
            "LastModifiedTime": WHEN, "FailureReason": "", "ModelArtifacts": {"S3ModelArtifacts": "s3://b/o"},
            "RoleArn": "arn:aws:iam::1:role/r", "InputConfig": {"S3Uri": "s3://b/m", "Framework": "PYTORCH"},
            "OutputConfig": {"S3OutputLocation": "s3://b/o"}}


@pytest.fixture
def client(isolated_env):
    c = make_client(CLOSED, max_attempts=1)
    yield c
    c.close()


def test_waiter_runs_against_the_stubber(client):
    with Stubber(client) as stubber:
        for status in ("INPROGRESS", "INPROGRESS", "COMPLETED"):
            stubber.add_response("describe_compilation_job", description("j", status), {"CompilationJobName": "j"})
        seen = []
        job = client.wait_for_compilation_job("j", delay=0.001, max_delay=0.001,
                                              callback=lambda d: seen.append(d["CompilationJobStatus"]))
        stubber.assert_no_pending_responses()
    assert job["CompilationJobStatus"] == "COMPLETED" and job["CreationTime"] == WHEN
    assert seen[-1] == "COMPLETED"


def test_waiter_failed_job_from_the_stubber(client):
    with Stubber(client) as stubber:
        failed = dict(description("j", "FAILED"), FailureReason="bad shape")
        stubber.add_response("describe_compilation_job", failed)
        with pytest.raises(smneo.CompilationJobFailed) as ei:
            client.wait_for_compilation_job("j", delay=0.001)
    assert ei.value.FailureReason == "bad shape"


def test_item_iterator_and_paginator_against_the_stubber(client):
    page = lambda names, token=None: dict(  # noqa: E731
        {"CompilationJobSummaries": [{"CompilationJobName": n, "CompilationJobArn": "arn:x/" + n,
                                      "CreationTime": WHEN, "CompilationJobStatus": "COMPLETED"} for n in names]},
        **({"NextToken": token} if token else {}))
    with Stubber(client) as stubber:
        stubber.add_response("list_compilation_jobs", page(["a", "b"], "t"), {})
        stubber.add_response("list_compilation_jobs", page(["c"]), {"NextToken": "t"})
        names = [s["CompilationJobName"] for s in client.iter_compilation_jobs()]
        stubber.assert_no_pending_responses()
    assert names == ["a", "b", "c"]


def test_expected_params_any_and_mismatch(client):
    with Stubber(client) as stubber:
        stubber.add_response("stop_compilation_job", {}, {"CompilationJobName": ANY})
        client.stop_compilation_job(CompilationJobName="anything")
        stubber.add_response("stop_compilation_job", {}, {"CompilationJobName": "a"})
        with pytest.raises(StubAssertionError, match="Expected parameters"):
            client.stop_compilation_job(CompilationJobName="b")
        # the refused answer stays queued, as botocore's
        client.stop_compilation_job(CompilationJobName="a")
        stubber.assert_no_pending_responses()


def test_operation_mismatch_and_unstubbed(client):
    with Stubber(client) as stubber:
        stubber.add_response("stop_compilation_job", {})
        with pytest.raises(smneo.stub.StubResponseError, match="Operation mismatch: found response for "
                                                                "StopCompilationJob"):
            client.delete_compilation_job(CompilationJobName="a")
        client.stop_compilation_job(CompilationJobName="a")
        with pytest.raises(UnStubbedResponseError):
            client.stop_compilation_job(CompilationJobName="a")


def test_client_error_and_modeled_fields(client):
    with Stubber(client) as stubber:
        stubber.add_client_error("describe_compilation_job", "ResourceNotFound", "no such job", 400,
                                 response_meta={"RequestId": "req-9"})
        with pytest.raises(client.exceptions.ResourceNotFound) as ei:
            client.describe_compilation_job(CompilationJobName="x")
    assert ei.value.response["Error"] == {"Code": "ResourceNotFound", "Message": "no such job"}
    assert ei.value.response["ResponseMetadata"]["RequestId"] == "req-9"
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_responses_are_checked_against_the_output_shape(client):
    # by the core (smneo_validate_response), with or without botocore: its Stubber's rules
    stubber = Stubber(client)
    with pytest.raises(smneo.ParamValidationError, match="NoSuchMember"):
        stubber.add_response("describe_compilation_job", dict(description("j", "COMPLETED"), NoSuchMember=1))
    with pytest.raises(smneo.ParamValidationError, match="CompilationJobSummaries is required"):
        stubber.add_response("list_compilation_jobs", {})
    with pytest.raises(smneo.ParamValidationError, match="CompilationJobSummaries"):
        stubber.add_response("list_compilation_jobs", {"CompilationJobSummaries": "not a list"})
    with pytest.raises(smneo.ParamValidationError, match="ResponseMetadata"):
        stubber.add_response("stop_compilation_job", {"Anything": 1})
    # neither an enum nor a pattern is checked (botocore's Stubber checks neither)
    stubber.add_response("describe_compilation_job", dict(description("j", "NOT-A-STATUS"), ResponseMetadata={}))
    stubber.add_response("stop_compilation_job", {"ResponseMetadata": {"RequestId": "r"}})
    with pytest.raises(ValueError, match="does not have method"):
        stubber.add_response("describe_job", {})


def test_deactivate_gives_the_transport_back(client, fake):
    c = make_client(fake.url)
    stubber = Stubber(c)
    stubber.activate()
    with pytest.raises(UnStubbedResponseError):
        c.stop_compilation_job(CompilationJobName="a")
    assert fake.requests == []  # nothing reached the server
    stubber.deactivate()
    c.stop_compilation_job(CompilationJobName="a")
    assert fake.ops() == ["StopCompilationJob"]


def test_botocore_stubber_on_a_smneo_client_with_the_waiter(client):
    botocore_stub = need_module("botocore.stub")
    with botocore_stub.Stubber(client) as stubber:
        stubber.add_response("describe_compilation_job", description("j", "INPROGRESS"))
        stubber.add_response("describe_compilation_job", description("j", "COMPLETED"),
                             {"CompilationJobName": botocore_stub.ANY})
        assert client.wait_for_compilation_job("j", delay=0.001)["CompilationJobStatus"] == "COMPLETED"
        stubber.assert_no_pending_responses()


def test_meta_events_fire_with_botocores_names(client):
    need_module("botocore.hooks")
    fired = []
    client.meta.events.register("before-parameter-build.sagemaker.*",
                                lambda params, model, **kw: fired.append(("build", model.name, dict(params))))
    client.meta.events.register("before-call.sagemaker.StopCompilationJob",
                                lambda model, params, **kw: fired.append(("call", model.name, params["method"])))

    def before_send(request, **kw):
        fired.append(("send", request.url))
        raise RuntimeError("stop here")
    client.meta.events.register("before-send", before_send)
    with pytest.raises(RuntimeError, match="stop here"):
        client.stop_compilation_job(CompilationJobName="a")
    assert fired == [("build", "StopCompilationJob", {"CompilationJobName": "a"}),
                     ("call", "StopCompilationJob", "POST"), ("send", CLOSED + "/")]
    assert client.meta.method_to_api_mapping["stop_compilation_job"] == "StopCompilationJob"
    assert client.meta.service_model.service_name == "sagemaker"


def test_meta_does_not_import_botocore_until_events_are_used():
    need_module("botocore.hooks")
    code = textwrap.dedent("""
        import sys, smneo
        c = smneo.Client(region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
        c.meta.method_to_api_mapping, c.meta.region_name
        print("botocore" in sys.modules)
        c.meta.events
        print("botocore" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, PYTHONPATH=PYDIR))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True"]


def test_smneo_stub_without_botocore():
    code = textwrap.dedent("""
        import sys
        sys.modules["botocore"] = None
        import smneo
        from smneo.stub import ANY, Stubber, StubAssertionError, UnStubbedResponseError
        c = smneo.Client(region_name="us-east-1", endpoint_url="http://127.0.0.1:9",
                         aws_access_key_id="a", aws_secret_access_key="b", max_attempts=1)
        with Stubber(c) as s:
            s.add_response("stop_compilation_job", {}, {"CompilationJobName": ANY})
            s.add_client_error("describe_compilation_job", "ResourceNotFound", "gone")
            print(c.stop_compilation_job(CompilationJobName="x")["ResponseMetadata"]["HTTPStatusCode"])
            try:
                c.describe_compilation_job(CompilationJobName="x")
            except c.exceptions.ResourceNotFound as e:
                print(e.response["Error"]["Code"])
            try:
                c.describe_compilation_job(CompilationJobName="x")
            except UnStubbedResponseError as e:
                print(type(e).__module__, isinstance(e, AssertionError))
            s.assert_no_pending_responses()
        try:
            c.meta.events
        except AttributeError as e:
            print("events:", "smneo.stub.Stubber" in str(e))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, PYTHONPATH=PYDIR))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["200", "ResourceNotFound", "smneo.stub True", "events: True"]


def test_stubbed_and_evented_clients_are_freed_without_the_garbage_collector(isolated_env):
    import gc
    import weakref
    gc.disable()
    try:
        c = make_client(CLOSED)
        Stubber(c).activate()
        ref = weakref.ref(c)
        del c
        assert ref() is None
        if need_module("botocore.hooks"):
            c = make_client(CLOSED)
            c.meta.events
            ref = weakref.ref(c)
            del c
            assert ref() is None
    finally:
        gc.enable()


def test_smneo_stub_needs_no_credentials_and_does_not_retry(isolated_env):
    c = smneo.Client(region_name="us-east-1", endpoint_url=CLOSED, _retry_backoff_scale=0.001)
    with Stubber(c) as stubber:
        stubber.add_client_error("describe_compilation_job", "ThrottlingException", "slow down", 400)
        stubber.add_response("describe_compilation_job", description("j", "COMPLETED"))
        with pytest.raises(smneo.ClientError) as ei:
            c.describe_compilation_job(CompilationJobName="j")
        assert ei.value.response["Error"]["Code"] == "ThrottlingException"
        assert ei.value.response["ResponseMetadata"]["RetryAttempts"] == 0
        # the waiter polls against the stub too, with no credentials anywhere
        assert c.wait_for_compilation_job("j", delay=0.001)["CompilationJobStatus"] == "COMPLETED"
        stubber.assert_no_pending_responses()
    with pytest.raises(smneo.NoCredentialsError):
        c.describe_compilation_job(CompilationJobName="j")


def test_a_request_hook_exception_propagates_from_paginators_and_the_waiter(client):
    with Stubber(client):
        with pytest.raises(UnStubbedResponseError):
            list(client.iter_compilation_jobs())
        with pytest.raises(UnStubbedResponseError):
            client.wait_for_compilation_job("j", delay=0.001)
