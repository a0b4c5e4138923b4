"""A test module written the way boto3 users write theirs, run twice: once
with a boto3 client and once with a smneo client. The two runs differ only
in the line that makes the client (CLIENTS below); everything else is plain
boto3/botocore usage. Differences between the two are listed in
docs/python.md ("Drop-in differences"), each with its reason (issue 13)."""
import datetime
import json
import socket
import time
import urllib.request

import pytest

from fakes import CREATED, fake, need_module, proxy  # noqa: F401

boto3 = need_module("boto3")
botocore_config = need_module("botocore.config")
botocore_exceptions = need_module("botocore.exceptions")
botocore_stub = need_module("botocore.stub")
ANY, Stubber = botocore_stub.ANY, botocore_stub.Stubber

import smneo  # noqa: E402

CLIENTS = {
    "boto3": lambda **kw: boto3.session.Session().client("sagemaker", region_name="us-east-1", **kw),
    "smneo": lambda **kw: smneo.Client(region_name="us-east-1", **kw),
}

ARN = "arn:aws:sagemaker:us-east-1:123456789012:compilation-job/%s"
WHEN = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone.utc)


@pytest.fixture(params=sorted(CLIENTS))
def new_client(request, monkeypatch, tmp_path):
    """Makes a client with client() arguments (endpoint_url, config) when the
    test has set its environment."""
    # as moto's documentation recommends: fake credentials, nothing from the machine
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    for name in ("AWS_RETRY_MODE", "AWS_MAX_ATTEMPTS", "AWS_DEFAULTS_MODE", "AWS_ENDPOINT_URL",
                 "AWS_ENDPOINT_URL_SAGEMAKER", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    return CLIENTS[request.param]


@pytest.fixture
def client(new_client):
    return new_client()


def description(name, status="COMPLETED"):
    return {
        "CompilationJobName": name, "CompilationJobArn": ARN % name, "CompilationJobStatus": status,
        "StoppingCondition": {"MaxRuntimeInSeconds": 900}, "CreationTime": WHEN, "LastModifiedTime": WHEN,
        "FailureReason": "", "ModelArtifacts": {"S3ModelArtifacts": "s3://bucket/out/model.tar.gz"},
        "RoleArn": "arn:aws:iam::123456789012:role/neo",
        "InputConfig": {"S3Uri": "s3://bucket/model.tar.gz", "Framework": "PYTORCH",
                        "DataInputConfig": '{"input0": [1, 3, 224, 224]}'},
        "OutputConfig": {"S3OutputLocation": "s3://bucket/out", "TargetDevice": "ml_c5"},
    }


def summaries(names):
    return [{"CompilationJobName": n, "CompilationJobArn": ARN % n, "CreationTime": WHEN,
             "CompilationJobStatus": "COMPLETED"} for n in names]


def test_stubbed_describe_with_expected_params(client):
    with Stubber(client) as stubber:
        stubber.add_response("describe_compilation_job", description("resnet"), {"CompilationJobName": "resnet"})
        job = client.describe_compilation_job(CompilationJobName="resnet")
        stubber.assert_no_pending_responses()
    assert job["CompilationJobStatus"] == "COMPLETED"
    assert job["CreationTime"] == WHEN
    assert job["OutputConfig"]["TargetDevice"] == "ml_c5"


def test_expected_params_with_any(client):
    stubber = Stubber(client)
    stubber.add_response("create_compilation_job", {"CompilationJobArn": ARN % "j"},
                         {"CompilationJobName": "j", "RoleArn": ANY, "InputConfig": ANY, "OutputConfig": ANY,
                          "StoppingCondition": {"MaxRuntimeInSeconds": 900}})
    stubber.activate()
    out = client.create_compilation_job(
        CompilationJobName="j", RoleArn="arn:aws:iam::123456789012:role/neo",
        InputConfig={"S3Uri": "s3://bucket/model.tar.gz", "Framework": "PYTORCH",
                     "DataInputConfig": '{"input0": [1, 3, 224, 224]}'},
        OutputConfig={"S3OutputLocation": "s3://bucket/out", "TargetDevice": "ml_c5"},
        StoppingCondition={"MaxRuntimeInSeconds": 900})
    stubber.deactivate()
    assert out["CompilationJobArn"] == ARN % "j"
    stubber.assert_no_pending_responses()


def test_unexpected_params_fail_the_test(client):
    with Stubber(client) as stubber:
        stubber.add_response("describe_compilation_job", description("a"), {"CompilationJobName": "a"})
        with pytest.raises(botocore_exceptions.StubAssertionError):
            client.describe_compilation_job(CompilationJobName="b")


def test_a_call_that_was_not_stubbed(client):
    with Stubber(client):
        with pytest.raises(botocore_exceptions.UnStubbedResponseError):
            client.describe_compilation_job(CompilationJobName="a")


def test_pending_responses_are_reported(client):
    with Stubber(client) as stubber:
        stubber.add_response("stop_compilation_job", {})
        with pytest.raises(AssertionError, match="1 responses remaining"):
            stubber.assert_no_pending_responses()


def test_client_error_caught_as_botocores(client):
    with Stubber(client) as stubber:
        stubber.add_client_error("describe_compilation_job", service_error_code="ResourceNotFound",
                                 service_message="Could not find job x", http_status_code=400,
                                 expected_params={"CompilationJobName": "x"})
        try:
            client.describe_compilation_job(CompilationJobName="x")
        except botocore_exceptions.ClientError as e:
            error = e.response["Error"]
            assert error["Code"] == "ResourceNotFound"
            assert error["Message"] == "Could not find job x"
            assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400
            assert e.operation_name == "DescribeCompilationJob"
        else:
            pytest.fail("no ClientError")


def test_modeled_exception_from_client_exceptions(client):
    with Stubber(client) as stubber:
        stubber.add_client_error("stop_compilation_job", "ResourceNotFound", "gone")
        stubber.add_client_error("create_compilation_job", "ResourceInUse", "exists")
        with pytest.raises(client.exceptions.ResourceNotFound) as ei:
            client.stop_compilation_job(CompilationJobName="x")
        assert str(ei.value) == ("An error occurred (ResourceNotFound) when calling the StopCompilationJob "
                                 "operation: gone")
        with pytest.raises(client.exceptions.ClientError) as ei:
            client.create_compilation_job(
                CompilationJobName="x", RoleArn="arn:aws:iam::123456789012:role/neo",
                InputConfig={"S3Uri": "s3://b/m.tar.gz", "Framework": "PYTORCH",
                             "DataInputConfig": '{"input0": [1, 3, 224, 224]}'},
                OutputConfig={"S3OutputLocation": "s3://b/out", "TargetDevice": "ml_c5"},
                StoppingCondition={"MaxRuntimeInSeconds": 900})
        assert isinstance(ei.value, client.exceptions.ResourceInUse)
        stubber.assert_no_pending_responses()


def test_paginator_with_pagination_config(client):
    with Stubber(client) as stubber:
        stubber.add_response("list_compilation_jobs", {"CompilationJobSummaries": summaries(["a", "b"]),
                                                       "NextToken": "t1"}, {})
        stubber.add_response("list_compilation_jobs", {"CompilationJobSummaries": summaries(["c", "d"]),
                                                       "NextToken": "t2"}, {"NextToken": "t1"})
        stubber.add_response("list_compilation_jobs", {"CompilationJobSummaries": summaries(["e"])},
                             {"NextToken": "t2"})
        paginator = client.get_paginator("list_compilation_jobs")
        names = [s["CompilationJobName"] for page in paginator.paginate() for s in page["CompilationJobSummaries"]]
        stubber.assert_no_pending_responses()
    assert names == ["a", "b", "c", "d", "e"]


def test_build_full_result_with_max_items(client):
    with Stubber(client) as stubber:
        stubber.add_response("list_compilation_jobs", {"CompilationJobSummaries": summaries(["a", "b"]),
                                                       "NextToken": "t1"}, {"MaxResults": 2})
        stubber.add_response("list_compilation_jobs", {"CompilationJobSummaries": summaries(["c", "d"]),
                                                       "NextToken": "t2"}, {"MaxResults": 2, "NextToken": "t1"})
        result = client.get_paginator("list_compilation_jobs").paginate(
            PaginationConfig={"MaxItems": 3, "PageSize": 2}).build_full_result()
        stubber.assert_no_pending_responses()
    assert [s["CompilationJobName"] for s in result["CompilationJobSummaries"]] == ["a", "b", "c"]
    token = result["NextToken"]
    with Stubber(client) as stubber:
        stubber.add_response("list_compilation_jobs", {"CompilationJobSummaries": summaries(["c", "d"])},
                             {"MaxResults": 2, "NextToken": "t1"})
        rest = client.get_paginator("list_compilation_jobs").paginate(
            PaginationConfig={"PageSize": 2, "StartingToken": token}).build_full_result()
        stubber.assert_no_pending_responses()
    assert [s["CompilationJobName"] for s in rest["CompilationJobSummaries"]] == ["d"]


def test_polling_loop_on_describe(client):
    with Stubber(client) as stubber:
        for status in ("STARTING", "INPROGRESS", "COMPLETED"):
            stubber.add_response("describe_compilation_job", description("j", status), {"CompilationJobName": "j"})
        seen = []
        while True:
            status = client.describe_compilation_job(CompilationJobName="j")["CompilationJobStatus"]
            seen.append(status)
            if status in ("COMPLETED", "FAILED", "STOPPED"):
                break
        stubber.assert_no_pending_responses()
    assert seen == ["STARTING", "INPROGRESS", "COMPLETED"]


def test_parameter_validation_before_anything_is_sent(client):
    with Stubber(client) as stubber:
        stubber.add_response("describe_compilation_job", description("a"))
        with pytest.raises(botocore_exceptions.ParamValidationError):
            client.describe_compilation_job(CompilationJobName=5)
        assert client.describe_compilation_job(CompilationJobName="a")["CompilationJobName"] == "a"


def test_events_before_send_can_answer(client):
    sent = []

    def answer(request, **kwargs):
        target = request.headers["X-Amz-Target"]
        sent.append(target.decode() if isinstance(target, bytes) else target)
        return botocore_awsrequest.AWSResponse(request.url, 200, {"x-amzn-RequestId": "r-1"},
                                               _Raw(b'{"CompilationJobArn": "%s"}' % (ARN % "z").encode()))

    botocore_awsrequest = need_module("botocore.awsrequest")
    client.meta.events.register("before-send.sagemaker.StopCompilationJob", answer)
    out = client.stop_compilation_job(CompilationJobName="z")
    assert out["ResponseMetadata"]["RequestId"] == "r-1"
    assert [t.split(".")[-1] for t in sent] == ["StopCompilationJob"]


class _Raw:
    """The raw stream an AWSResponse reads its content from."""

    def __init__(self, data):
        self._data = data

    def stream(self, *args, **kwargs):
        yield self._data


@pytest.fixture(params=sorted(CLIENTS))
def anonymous_client(request, monkeypatch, tmp_path):
    # no credentials anywhere (and no instance metadata to ask): botocore's Stubber needs none
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    return CLIENTS[request.param]()


def test_stubbing_needs_no_credentials(anonymous_client):
    client = anonymous_client
    with Stubber(client) as stubber:
        stubber.add_response("describe_compilation_job", description("j"), {"CompilationJobName": "j"})
        stubber.add_response("list_compilation_jobs", {"CompilationJobSummaries": summaries(["a"])})
        assert client.describe_compilation_job(CompilationJobName="j")["CompilationJobName"] == "j"
        pages = list(client.get_paginator("list_compilation_jobs").paginate())
        stubber.assert_no_pending_responses()
    assert [s["CompilationJobName"] for s in pages[0]["CompilationJobSummaries"]] == ["a"]
    # without the stubber the call needs credentials, and there are none
    with pytest.raises(botocore_exceptions.NoCredentialsError):
        client.describe_compilation_job(CompilationJobName="j")


@pytest.mark.parametrize("code,status", [("ThrottlingException", 400), ("InternalFailure", 500),
                                         ("ServiceUnavailable", 503)])
def test_stubbed_retryable_errors_are_not_retried(client, code, status):
    with Stubber(client) as stubber:
        stubber.add_client_error("describe_compilation_job", code, "try later", status)
        stubber.add_response("describe_compilation_job", description("j"))
        with pytest.raises(botocore_exceptions.ClientError) as ei:
            client.describe_compilation_job(CompilationJobName="j")
        assert ei.value.response["Error"]["Code"] == code
        # the second answer is still queued: the error was final
        with pytest.raises(AssertionError, match="1 responses remaining"):
            stubber.assert_no_pending_responses()
        assert client.describe_compilation_job(CompilationJobName="j")["CompilationJobName"] == "j"


def test_expected_params_keep_their_python_values(client):
    with Stubber(client) as stubber:
        stubber.add_response("list_compilation_jobs", {"CompilationJobSummaries": []},
                             {"CreationTimeAfter": WHEN, "MaxResults": 5})
        client.list_compilation_jobs(CreationTimeAfter=WHEN, MaxResults=5)
        stubber.assert_no_pending_responses()


EVENTS = ("provide-client-params", "before-parameter-build", "before-call", "request-created", "before-sign",
          "before-send", "needs-retry", "after-call", "after-call-error")


def _record(client, operation):
    seen = []
    for event in EVENTS:
        client.meta.events.register("%s.sagemaker.%s" % (event, operation),
                                    lambda event=event, **kwargs: seen.append((event, sorted(kwargs))))
    return seen


def test_events_of_a_stubbed_call_with_botocores_arguments(client):
    seen = _record(client, "DescribeCompilationJob")
    with Stubber(client) as stubber:
        stubber.add_response("describe_compilation_job", description("j"))
        client.describe_compilation_job(CompilationJobName="j")
        stubber.add_client_error("describe_compilation_job", "ResourceNotFound", "gone")
        with pytest.raises(client.exceptions.ResourceNotFound):
            client.describe_compilation_job(CompilationJobName="j")
    # the Stubber's before-call handler (registered for before-call.*.*) answers before the
    # recorder's; nothing is signed or sent
    call = [("provide-client-params", ["context", "event_name", "model", "params"]),
            ("before-parameter-build", ["context", "event_name", "model", "params"]),
            ("after-call", ["context", "event_name", "http_response", "model", "parsed"])]
    assert seen == call + call


# ---- against a service on 127.0.0.1 (tests/python/fakes.py), through client() arguments ----------
THROTTLED = {"__type": "ThrottlingException", "message": "Rate exceeded"}


def test_config_with_retries_timeouts_user_agent_extra_and_proxies(new_client, fake, proxy):  # noqa: F811
    proxy_url = "http://127.0.0.1:%d" % proxy.server_address[1]
    config = botocore_config.Config(retries={"mode": "standard", "total_max_attempts": 2}, connect_timeout=5,
                                    read_timeout=10, user_agent_extra="dropin-suite/1.0",
                                    proxies={"http": proxy_url})
    client = new_client(endpoint_url=fake.url, config=config)
    fake.queue("DescribeCompilationJob", 500, {"__type": "InternalFailure", "message": "boom"})
    job = client.describe_compilation_job(CompilationJobName="job-1")
    assert job["CompilationJobName"] == "job-1"
    assert job["ResponseMetadata"]["RetryAttempts"] == 1
    assert job["ResponseMetadata"]["MaxAttemptsReached"] is True   # a success at the last attempt
    # both attempts went through the proxy, each with the extra user agent at its end
    assert proxy.seen == [fake.url + "/"] * 2
    assert [r.headers["user-agent"].endswith(" dropin-suite/1.0") for r in fake.requests] == [True, True]
    # two attempts, then the throttling error
    fake.queue("DescribeCompilationJob", 400, THROTTLED)
    fake.queue("DescribeCompilationJob", 400, THROTTLED)
    with pytest.raises(client.exceptions.ClientError) as ei:
        client.describe_compilation_job(CompilationJobName="job-1")
    assert ei.value.response["Error"]["Code"] == "ThrottlingException"
    assert ei.value.response["ResponseMetadata"]["RetryAttempts"] == 1
    assert ei.value.response["ResponseMetadata"]["MaxAttemptsReached"] is True
    assert len(fake.requests) == 4


def test_read_timeout(new_client, fake):  # noqa: F811
    config = botocore_config.Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=0.5)
    client = new_client(endpoint_url=fake.url, config=config)
    fake.queue("DescribeCompilationJob", 200, {}, delay=2)
    with pytest.raises(botocore_exceptions.ReadTimeoutError) as ei:
        client.describe_compilation_job(CompilationJobName="job-1")
    assert fake.url in str(ei.value)
    assert len(fake.requests) == 1


@pytest.fixture
def unanswered_port():
    """A port whose accept queue is full: the kernel drops further SYNs, so a
    connection attempt waits until the client's connect timeout."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    queued = []
    for _ in range(3):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        queued.append(s)
    yield port
    for s in queued + [server]:
        s.close()


def test_connect_timeout(new_client, unanswered_port):
    url = "http://127.0.0.1:%d" % unanswered_port
    config = botocore_config.Config(retries={"total_max_attempts": 1}, connect_timeout=0.5, read_timeout=5)
    client = new_client(endpoint_url=url, config=config)
    with pytest.raises(botocore_exceptions.ConnectTimeoutError) as ei:
        client.list_compilation_jobs()
    assert isinstance(ei.value, botocore_exceptions.ConnectionError)
    assert str(ei.value).startswith('Connect timeout on endpoint URL: "%s' % url)


@pytest.mark.parametrize("mode,fails,attempts,reached", [
    ("standard", 1, 2, True),      # succeeds at its last attempt
    ("standard", 9, 2, True),
    ("legacy", 1, 2, None),        # legacy reports it only when the last attempt failed
    ("legacy", 9, 2, True),
    ("standard", 9, 1, True),
])
def test_retry_environment_variables(new_client, fake, monkeypatch, mode, fails, attempts, reached):  # noqa: F811
    monkeypatch.setenv("AWS_RETRY_MODE", mode)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", str(attempts))
    client = new_client(endpoint_url=fake.url)
    for _ in range(fails):
        fake.queue("DescribeCompilationJob", 400, THROTTLED)
    try:
        meta = client.describe_compilation_job(CompilationJobName="job-1")["ResponseMetadata"]
    except botocore_exceptions.ClientError as e:
        assert e.response["Error"]["Code"] == "ThrottlingException"
        meta = e.response["ResponseMetadata"]
    assert len(fake.requests) == min(fails + 1, attempts)
    assert meta["RetryAttempts"] == len(fake.requests) - 1
    assert meta.get("MaxAttemptsReached") is reached


@pytest.fixture
def los_angeles(monkeypatch):
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_timestamps_under_a_non_utc_zone(los_angeles, new_client, fake):  # noqa: F811
    client = new_client(endpoint_url=fake.url)
    job = client.describe_compilation_job(CompilationJobName="job-1")
    created = job["CreationTime"]
    expected = datetime.datetime.fromtimestamp(CREATED, datetime.timezone.utc)
    assert created == expected
    assert created.timestamp() == CREATED
    # in the local zone, as botocore's tzlocal(): 2023-11-14 14:13:20.123 PST
    assert created.utcoffset() == datetime.timedelta(hours=-8)
    assert (created.year, created.month, created.day, created.hour, created.minute) == (2023, 11, 14, 14, 13)
    assert created.microsecond == 123000
    assert created.tzinfo.tzname(created) == "PST"
    assert job["LastModifiedTime"] - created == datetime.timedelta(seconds=456.377)
    assert created + datetime.timedelta(days=1) == expected + datetime.timedelta(days=1)
    assert created.astimezone(datetime.timezone.utc) == expected
    # a wall-clock step across the DST change: the new offset, as tzlocal() gives it
    later = created + datetime.timedelta(days=200)
    assert (later.month, later.day, later.hour, later.utcoffset()) == (6, 1, 14, datetime.timedelta(hours=-7))
    assert later.tzname() == "PDT"
    assert later.timestamp() - created.timestamp() == 200 * 86400 - 3600


# ---- moto's server mode ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def moto_server():
    moto_server = need_module("moto.server")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield "http://%s:%d" % (host, port)
    server.stop()


def test_compilation_jobs_in_motos_server_mode(new_client, moto_server):
    urllib.request.urlopen(urllib.request.Request(moto_server + "/moto-api/reset", method="POST"), timeout=30)
    client = new_client(endpoint_url=moto_server)
    arn = client.create_compilation_job(
        CompilationJobName="resnet", RoleArn="arn:aws:iam::123456789012:role/neo",
        InputConfig={"S3Uri": "s3://bucket/model.tar.gz", "Framework": "PYTORCH",
                     "DataInputConfig": json.dumps({"input0": [1, 3, 224, 224]})},
        OutputConfig={"S3OutputLocation": "s3://bucket/out", "TargetDevice": "ml_c5"},
        StoppingCondition={"MaxRuntimeInSeconds": 900})["CompilationJobArn"]
    assert arn.endswith(":compilation-job/resnet")
    job = client.describe_compilation_job(CompilationJobName="resnet")
    assert job["CompilationJobArn"] == arn
    assert job["OutputConfig"]["TargetDevice"] == "ml_c5"
    assert isinstance(job["CreationTime"], datetime.datetime) and job["CreationTime"].tzinfo is not None
    names = [s["CompilationJobName"] for page in client.get_paginator("list_compilation_jobs").paginate()
             for s in page["CompilationJobSummaries"]]
    assert names == ["resnet"]
    with pytest.raises(client.exceptions.ClientError) as ei:
        client.describe_compilation_job(CompilationJobName="missing")
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


# ---- adaptive mode against the local endpoint's throttling fault ---------------------------------
def test_adaptive_mode_slows_down_after_throttling(new_client, monkeypatch):
    """After one ThrottlingException the adaptive limiter drops the send rate
    (botocore's: to 0.5 request/s): of three calls started at once, the
    service has answered at most one a moment later (in standard mode, all
    three), then the rest one by one. Observed as the requests the service
    has answered, not as a duration."""
    import threading

    import smneo.local
    monkeypatch.setenv("AWS_RETRY_MODE", "adaptive")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with smneo.local.Server(port=0, credentials=["testing:testing"]) as server:  # the fixture's keys
        client = new_client(endpoint_url=server.url)
        client.list_compilation_jobs()
        server.add_fault({"kind": "throttle", "count": 1, "operation": "ListCompilationJobs"})
        with pytest.raises(botocore_exceptions.ClientError) as ei:
            client.list_compilation_jobs()
        assert ei.value.response["Error"]["Code"] == "ThrottlingException"
        before = len(server.requests("sagemaker"))
        threads = [threading.Thread(target=client.list_compilation_jobs) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:  # well over what three calls take in standard mode (all three are answered)
            t.join(0.3)
        sent_at_first = len(server.requests("sagemaker")) - before
        for t in threads:
            t.join()
        assert len(server.requests("sagemaker")) - before == 3
        assert sent_at_first <= 1


# ---- event handlers on real requests (against the service on 127.0.0.1) ----------------------------
def test_needs_retry_handler_counts_attempts_and_sees_each_answer(new_client, fake):  # noqa: F811
    client = new_client(endpoint_url=fake.url, config=botocore_config.Config(retries={"mode": "standard"}))
    attempts, received = [], []

    def count(response=None, caught_exception=None, **kwargs):
        attempts.append((kwargs["attempts"], response[0].status_code, response[1].get("Error", {}).get("Code")))

    client.meta.events.register("needs-retry.sagemaker.DescribeCompilationJob",
                                lambda **kw: count(**kw))
    client.meta.events.register("response-received.sagemaker",
                                lambda response_dict, parsed_response, exception, **kw:
                                received.append((response_dict["status_code"], exception)))
    fake.queue("DescribeCompilationJob", 500, {"__type": "InternalFailure", "message": "boom"})
    job = client.describe_compilation_job(CompilationJobName="job-1")
    assert job["ResponseMetadata"]["RetryAttempts"] == 1
    assert attempts == [(1, 500, "InternalFailure"), (2, 200, None)]
    assert received == [(500, None), (200, None)]


def test_needs_retry_handler_answer_retries_after_its_delay(new_client, fake):  # noqa: F811
    client = new_client(endpoint_url=fake.url)
    # a ValidationException is never retried by botocore's handler: this one asks for one retry
    client.meta.events.register("needs-retry.sagemaker.DescribeCompilationJob",
                                lambda attempts, response, **kw: 0 if attempts == 1 and response and
                                response[1]["Error"].get("Code") == "ValidationException" else None)
    fake.queue("DescribeCompilationJob", 400, {"__type": "ValidationException", "message": "not yet"})
    job = client.describe_compilation_job(CompilationJobName="job-1")
    assert job["CompilationJobName"] == "job-1"
    assert fake.ops() == ["DescribeCompilationJob"] * 2


def test_register_first_needs_retry_handler_overrides_the_retry(new_client, fake):  # noqa: F811
    client = new_client(endpoint_url=fake.url)
    # registered first, its False answer comes before botocore's retry handler: no retry
    client.meta.events.register_first("needs-retry.sagemaker", lambda **kw: False)
    fake.queue("DescribeCompilationJob", 500, {"__type": "InternalFailure", "message": "boom"})
    with pytest.raises(botocore_exceptions.ClientError) as ei:
        client.describe_compilation_job(CompilationJobName="job-1")
    assert ei.value.response["Error"]["Code"] == "InternalFailure"
    assert len(fake.requests) == 1


def test_after_call_handlers_capture_the_parsed_answer_hierarchically(new_client, fake):  # noqa: F811
    client = new_client(endpoint_url=fake.url)
    seen = []
    client.meta.events.register("after-call", lambda event_name, parsed, http_response, model, **kw:
                                seen.append(("any", event_name, http_response.status_code, model.name,
                                             parsed.get("CompilationJobName") or parsed["Error"]["Code"])))
    client.meta.events.register("after-call.sagemaker", lambda **kw: seen.append(("service",)),
                                unique_id="svc")
    client.meta.events.register("after-call.sagemaker", lambda **kw: seen.append(("again",)), unique_id="svc")
    client.meta.events.register_first("after-call.sagemaker.DescribeCompilationJob",
                                      lambda **kw: seen.append(("op",)))
    client.describe_compilation_job(CompilationJobName="job-1")
    assert seen == [("op",), ("service",),
                    ("any", "after-call.sagemaker.DescribeCompilationJob", 200, "DescribeCompilationJob", "job-1")]
    del seen[:]
    client.meta.events.unregister("after-call.sagemaker", unique_id="svc")
    fake.queue("DescribeCompilationJob", 400, {"__type": "ResourceNotFound", "message": "gone"})
    with pytest.raises(client.exceptions.ResourceNotFound):
        client.describe_compilation_job(CompilationJobName="job-1")
    assert seen == [("op",), ("any", "after-call.sagemaker.DescribeCompilationJob", 400, "DescribeCompilationJob",
                              "ResourceNotFound")]


def test_after_call_error_on_a_connection_error(new_client):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    url = "http://127.0.0.1:%d" % listener.getsockname()[1]
    listener.close()  # nothing listens there now: the connection is refused
    client = new_client(endpoint_url=url, config=botocore_config.Config(retries={"total_max_attempts": 1}))
    seen = []
    client.meta.events.register("after-call-error.sagemaker.ListCompilationJobs",
                                lambda exception, context, **kw: seen.append(exception))
    client.meta.events.register("after-call", lambda **kw: seen.append("after-call"))
    with pytest.raises(botocore_exceptions.EndpointConnectionError) as ei:
        client.list_compilation_jobs()
    assert len(seen) == 1 and isinstance(seen[0], botocore_exceptions.EndpointConnectionError)
    assert type(seen[0]) is type(ei.value)


def test_before_call_handler_answer_short_circuits(new_client, fake):  # noqa: F811
    client = new_client(endpoint_url=fake.url)
    awsrequest = need_module("botocore.awsrequest")

    def answer(model, params, **kwargs):
        http = awsrequest.AWSResponse(params["url"], 200, {}, _Raw(b"{}"))
        return http, dict(description("cached"), ResponseMetadata={"RequestId": "cached"})

    client.meta.events.register("before-call.sagemaker.DescribeCompilationJob", answer)
    out = client.describe_compilation_job(CompilationJobName="cached")
    assert (out["CompilationJobArn"], out["CreationTime"]) == (ARN % "cached", WHEN)
    assert out["ResponseMetadata"]["RequestId"] == "cached"
    assert fake.requests == []


def test_parameter_handlers_change_what_is_sent(new_client, fake):  # noqa: F811
    client = new_client(endpoint_url=fake.url)

    def rename(params, **kwargs):
        params["CompilationJobName"] = params["CompilationJobName"] + "-v2"

    client.meta.events.register("before-parameter-build.sagemaker.DescribeCompilationJob", rename)
    client.meta.events.register("provide-client-params.sagemaker.ListCompilationJobs",
                                lambda params, **kw: dict(params, MaxResults=7))
    assert client.describe_compilation_job(CompilationJobName="job")["CompilationJobName"] == "job-v2"
    client.list_compilation_jobs(MaxResults=3)
    assert [(r.operation, r.json.get("CompilationJobName", r.json.get("MaxResults"))) for r in fake.requests] == [
        ("DescribeCompilationJob", "job-v2"), ("ListCompilationJobs", 7)]
