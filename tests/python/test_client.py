"""smneo.Client against a real HTTP server on 127.0.0.1 (tests/python/fakes.py):
every operation, response dicts, errors, retries, pagination, the waiter."""
import datetime
import json
import os
import signal
import socket
import threading
import time

import pytest

import smneo
from fakes import (CLOSE, CREATED, JOB_ARN, KEY, SECRET, FakeSageMaker, client, description, fake,  # noqa: F401
                   isolated_env, make_client, need_module, paged, summary)

UTC = datetime.timezone.utc
ROLE = "arn:aws:iam::123456789012:role/NeoRole"


def create_params(name="job-1", **extra):
    p = {
        "CompilationJobName": name,
        "RoleArn": ROLE,
        "InputConfig": {"S3Uri": "s3://bucket/in/model.tar.gz", "Framework": "PYTORCH",
                        "DataInputConfig": '{"input0": [1, 3, 224, 224]}'},
        "OutputConfig": {"S3OutputLocation": "s3://bucket/out/", "TargetDevice": "ml_c5"},
        "StoppingCondition": {"MaxRuntimeInSeconds": 900},
    }
    p.update(extra)
    return p


def ts(x):
    return datetime.datetime.fromtimestamp(x, UTC)


# ---- every operation --------------------------------------------------------------

def test_create_sends_the_model_body_and_returns_the_arn(client, fake):
    r = client.create_compilation_job(**create_params(Tags=[{"Key": "team", "Value": "ml"}]))
    assert r["CompilationJobArn"] == JOB_ARN % "job-1"
    req = fake.requests[-1]
    assert req.method == "POST" and req.path == "/"
    assert req.headers["x-amz-target"] == "SageMaker.CreateCompilationJob"
    assert req.headers["content-type"] == "application/x-amz-json-1.1"
    assert req.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=%s/" % KEY)
    assert req.json == create_params(Tags=[{"Key": "team", "Value": "ml"}])


def test_describe_returns_boto3_shaped_dict(client, fake):
    r = client.describe_compilation_job(CompilationJobName="job-1")
    md = r.pop("ResponseMetadata")
    expected = description("job-1")
    del expected["ModelPackageVersionArn"]  # null members are left out, as boto3 does
    for k in ("CompilationStartTime", "CompilationEndTime", "CreationTime", "LastModifiedTime"):
        expected[k] = ts(expected[k])
    assert r == expected
    local = datetime.datetime.fromtimestamp(r["CreationTime"].timestamp()).astimezone()  # the local zone then
    assert r["CreationTime"].tzinfo is not None and r["CreationTime"].utcoffset() == local.utcoffset()
    assert r["CreationTime"].microsecond == 123000
    assert isinstance(r["StoppingCondition"]["MaxRuntimeInSeconds"], int)
    assert set(md) == {"RequestId", "HTTPStatusCode", "HTTPHeaders", "RetryAttempts"}
    assert md["HTTPStatusCode"] == 200 and md["RetryAttempts"] == 0
    assert md["RequestId"] == md["HTTPHeaders"]["x-amzn-requestid"]
    assert md["HTTPHeaders"]["content-type"] == "application/x-amz-json-1.1"
    assert all(k == k.lower() for k in md["HTTPHeaders"])


def test_list_compilation_jobs_is_one_page(client, fake):
    fake.handlers["ListCompilationJobs"] = paged([summary(i) for i in range(25)], page_size_default=10)
    r = client.list_compilation_jobs(StatusEquals="COMPLETED", SortBy="Name", SortOrder="Ascending")
    assert len(r["CompilationJobSummaries"]) == 10 and r["NextToken"] == "tok-10"
    assert r["CompilationJobSummaries"][3]["CreationTime"] == ts(CREATED + 3)
    assert fake.requests[-1].json == {"StatusEquals": "COMPLETED", "SortBy": "Name", "SortOrder": "Ascending"}


def test_list_filters_with_datetimes_are_sent_as_epoch_seconds(client, fake):
    after = datetime.datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    naive = datetime.datetime(2023, 11, 15)  # naive: UTC, as botocore
    client.list_compilation_jobs(CreationTimeAfter=after, CreationTimeBefore=naive)
    body = fake.requests[-1].json
    assert body["CreationTimeAfter"] == 1700000000
    assert body["CreationTimeBefore"] == 1700006400


def test_stop_and_delete_return_only_metadata(client, fake):
    for call in (client.stop_compilation_job, client.delete_compilation_job):
        r = call(CompilationJobName="job-1")
        assert list(r) == ["ResponseMetadata"] and r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert fake.ops() == ["StopCompilationJob", "DeleteCompilationJob"]


def test_list_pipeline_execution_steps(client, fake):
    arn = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/abc123"
    r = client.list_pipeline_execution_steps(PipelineExecutionArn=arn, MaxResults=2)
    steps = r["PipelineExecutionSteps"]
    assert [s["StepName"] for s in steps] == ["step-1", "step-2"]
    assert steps[0]["StartTime"] == ts(CREATED + 1) and steps[0]["AttemptCount"] == 1
    assert steps[0]["Metadata"]["Lambda"]["OutputParameters"] == [{"Name": "out", "Value": "1"}]
    assert fake.requests[-1].json == {"PipelineExecutionArn": arn, "MaxResults": 2}


def test_methods_take_keywords_only(client):
    with pytest.raises(TypeError, match="only accepts keyword arguments"):
        client.describe_compilation_job("job-1")


# ---- argument conversion -----------------------------------------------------------

@pytest.mark.parametrize("value, path", [
    (b"job", "CompilationJobName"),
    ({"a"}, "CompilationJobName"),
    (object(), "CompilationJobName"),
])
def test_unconvertible_values_name_the_field(client, fake, value, path):
    with pytest.raises(smneo.ParamValidationError) as ei:
        client.describe_compilation_job(CompilationJobName=value)
    assert isinstance(ei.value, ValueError)
    assert [(i.severity, i.path, i.rule) for i in ei.value.issues] == [("error", path, "type")]
    assert path in str(ei.value)
    assert fake.requests == []


def test_nested_bad_value_path(client, fake):
    p = create_params(Tags=[{"Key": "a", "Value": "b"}, {"Key": "c", "Value": b"d"}])
    with pytest.raises(smneo.ParamValidationError) as ei:
        client.create_compilation_job(**p)
    assert ei.value.issues[0].path == "Tags[1].Value"
    assert fake.requests == []


def test_wrong_type_and_unknown_keyword_are_refused_before_sending(client, fake):
    with pytest.raises(smneo.ParamValidationError) as ei:
        client.describe_compilation_job(CompilationJobName=["job-1"])
    assert [(i.path, i.rule) for i in ei.value.issues if i.severity == "error"] == [("CompilationJobName", "type")]
    with pytest.raises(smneo.ParamValidationError) as ei:
        client.describe_compilation_job(CompilationJobName="job-1", CompilationJobNames="x")
    errs = [i for i in ei.value.issues if i.severity == "error"]
    assert [(i.path, i.rule) for i in errs] == [("CompilationJobNames", "unknown-member")]
    assert "CompilationJobName" in errs[0].message  # did you mean
    with pytest.raises(smneo.ParamValidationError) as ei:
        client.describe_compilation_job()
    assert ("CompilationJobName", "required") in [(i.path, i.rule) for i in ei.value.issues]
    assert fake.requests == []


def test_strict_validation_reports_every_issue(client, fake):
    p = create_params(RoleArn="not-an-arn", StoppingCondition={"MaxRuntimeInSeconds": 0})
    with pytest.raises(smneo.ParamValidationError) as ei:
        client.create_compilation_job(**p)
    paths = {i.path for i in ei.value.issues if i.severity == "error"}
    assert {"RoleArn", "StoppingCondition.MaxRuntimeInSeconds"} <= paths
    assert all(isinstance(i, smneo.Issue) for i in ei.value.issues)
    assert "RoleArn" in str(ei.value)
    assert fake.requests == []


def test_validation_off_and_warn_send(fake, isolated_env):
    import warnings
    p = create_params(RoleArn="not-an-arn")
    with make_client(fake.url, validation="off") as c:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            c.create_compilation_job(**p)
    with make_client(fake.url, validation="warn") as c:
        with pytest.warns(smneo.ValidationWarning, match="RoleArn") as rec:
            c.create_compilation_job(**p)
        assert "error: RoleArn" in str(rec[0].message)
        assert rec[0].filename == __file__  # points at the caller's line
        # The warnings come with the result: a filter that turns them into
        # errors raises after the request was sent.
        with warnings.catch_warnings():
            warnings.simplefilter("error", smneo.ValidationWarning)
            with pytest.raises(smneo.ValidationWarning):
                c.create_compilation_job(**p)
    assert fake.ops() == ["CreateCompilationJob"] * 3


def test_warnings_are_emitted_once_per_call_and_not_for_failed_calls(fake, isolated_env):
    import warnings
    p = create_params(RoleArn="not-an-arn")
    with make_client(fake.url, validation="warn") as c:
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            c.create_compilation_job(**p)
        assert [str(w.message).count("RoleArn") > 0 for w in rec] == [True]
        fake.queue("CreateCompilationJob", 400, {"__type": "ResourceInUse", "Message": "taken"})
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            with pytest.raises(smneo.ResourceInUse):
                c.create_compilation_job(**p)
        assert rec == []


def test_waiter_final_result_carries_the_warnings(fake, isolated_env):
    fake.handlers["DescribeCompilationJob"] = lambda req: (200, description(req.json["CompilationJobName"]))
    with make_client(fake.url, validation="warn") as c:
        with pytest.warns(smneo.ValidationWarning, match="CompilationJobName") as rec:
            r = c.wait_for_compilation_job("bad name!", delay=0.01)
    assert r["CompilationJobStatus"] == "COMPLETED"
    assert all(str(w.message).startswith("DescribeCompilationJob: error: CompilationJobName") for w in rec)
    assert fake.requests[-1].json == {"CompilationJobName": "bad name!"}


@pytest.mark.parametrize("mode", ["off", "warn"])
def test_structural_errors_are_refused_in_every_mode(fake, isolated_env, mode):
    import warnings
    with make_client(fake.url, validation=mode) as c:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # refused, not warned about
            with pytest.raises(smneo.ParamValidationError, match="CompilationJobName") as ei:
                c.describe_compilation_job(CompilationJobName=["x"])
            assert [(i.path, i.rule) for i in ei.value.issues] == [("CompilationJobName", "type")]
            with pytest.raises(smneo.ParamValidationError, match="CompilationJobNme") as ei:
                c.describe_compilation_job(CompilationJobName="job-1", CompilationJobNme="job-1")
            assert [(i.path, i.rule) for i in ei.value.issues] == [("CompilationJobNme", "unknown-member")]
            assert isinstance(ei.value, ValueError)
            with pytest.raises(smneo.ParamValidationError, match="OutputConfig.Bogus"):
                c.create_compilation_job(**create_params(OutputConfig={"S3OutputLocation": "s3://b/o/",
                                                                       "TargetDevice": "ml_c5", "Bogus": 1}))
    assert fake.requests == []


def test_strict_mode_sends_with_warnings_and_reports_them(client, fake):
    p = create_params(OutputConfig={"S3OutputLocation": "s3://bucket/out/",
                                    "TargetPlatform": {"Os": "LINUX", "Arch": "ARM_EABIHF"},
                                    "CompilerOptions": "{'mattr': ['+neon']}"},
                      InputConfig={"S3Uri": "s3://bucket/in/model.tar.gz", "Framework": "TENSORFLOW",
                                   "DataInputConfig": '{"input":[1,224,224,3]}'})
    with pytest.warns(smneo.ValidationWarning, match="OutputConfig.CompilerOptions"):
        client.create_compilation_job(**p)
    assert fake.requests[-1].json["OutputConfig"]["CompilerOptions"] == "{'mattr': ['+neon']}"  # unchanged
    with pytest.raises(ValueError, match="validation"):
        make_client(fake.url, validation="loose")


def test_nan_and_huge_ints_are_refused(client, fake):
    with pytest.raises(smneo.ParamValidationError, match="MaxResults"):
        client.list_compilation_jobs(MaxResults=2 ** 70)
    with pytest.raises(smneo.ParamValidationError, match="finite"):
        client.list_compilation_jobs(MaxResults=float("nan"))
    assert fake.requests == []


# ---- errors ----------------------------------------------------------------------

@pytest.mark.parametrize("code, status", [("ResourceNotFound", 400), ("ResourceInUse", 400),
                                          ("ResourceLimitExceeded", 400)])
def test_modeled_errors_are_client_error_subclasses(client, fake, code, status):
    fake.queue("CreateCompilationJob", status, {"__type": "com.amazonaws.sagemaker#%s" % code, "Message": "nope"})
    exc_cls = getattr(client.exceptions, code)
    assert exc_cls is getattr(smneo, code) and issubclass(exc_cls, smneo.ClientError)
    with pytest.raises(exc_cls) as ei:
        client.create_compilation_job(**create_params())
    e = ei.value
    assert e.operation_name == "CreateCompilationJob"
    assert e.response["Error"] == {"Code": code, "Message": "nope"}
    assert e.response["Message"] == "nope"  # the modeled member, merged as botocore does
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert e.response["ResponseMetadata"]["RequestId"]
    assert str(e) == "An error occurred (%s) when calling the CreateCompilationJob operation: nope" % code
    assert client.exceptions.from_code(code) is exc_cls


def test_client_error_constructs_like_botocores():
    import pickle
    e = smneo.ResourceNotFound({"Error": {"Code": "ResourceNotFound", "Message": "gone"},
                                "ResponseMetadata": {"MaxAttemptsReached": True, "RetryAttempts": 2}},
                               "DescribeCompilationJob")
    assert str(e) == ("An error occurred (ResourceNotFound) when calling the DescribeCompilationJob operation "
                      "(reached max retries: 2): gone")
    assert e.operation_name == "DescribeCompilationJob" and e.response["Error"]["Message"] == "gone"
    again = pickle.loads(pickle.dumps(e))
    assert type(again) is smneo.ResourceNotFound and again.response == e.response and str(again) == str(e)
    assert str(smneo.ClientError({}, "Op")) == "An error occurred (Unknown) when calling the Op operation: Unknown"


def test_modeled_error_fields_are_the_shapes_members_only(client, fake):
    fake.queue("DescribeCompilationJob", 400, {"__type": "ResourceNotFound", "Message": "gone", "Extra": 1,
                                               "Error": "not merged"})
    with pytest.raises(smneo.ResourceNotFound) as ei:
        client.describe_compilation_job(CompilationJobName="job-1")
    r = ei.value.response
    assert r["Message"] == "gone" and "Extra" not in r
    assert r["Error"] == {"Code": "ResourceNotFound", "Message": "gone"}
    fake.queue("DescribeCompilationJob", 400, {"__type": "ResourceNotFound", "Message": None})
    with pytest.raises(smneo.ResourceNotFound) as ei:
        client.describe_compilation_job(CompilationJobName="job-1")
    assert "Message" not in ei.value.response  # null members are left out
    fake.queue("DescribeCompilationJob", 400, {"__type": "ValidationException", "Message": "bad"})
    with pytest.raises(smneo.ClientError) as ei:
        client.describe_compilation_job(CompilationJobName="job-1")
    assert "Message" not in ei.value.response  # not a modeled error


def test_unmodeled_service_error_is_plain_client_error(client, fake):
    fake.queue("DescribeCompilationJob", 400, {"__type": "ValidationException", "message": "bad name"})
    with pytest.raises(smneo.ClientError) as ei:
        client.describe_compilation_job(CompilationJobName="job-1")
    assert type(ei.value) is smneo.ClientError
    assert ei.value.response["Error"] == {"Code": "ValidationException", "Message": "bad name"}
    assert client.exceptions.from_code("ValidationException") is smneo.ClientError


def test_throttling_is_retried_and_counted(client, fake):
    for _ in range(2):
        fake.queue("DescribeCompilationJob", 400, {"__type": "ThrottlingException", "message": "slow down"})
    r = client.describe_compilation_job(CompilationJobName="job-1")
    assert r["ResponseMetadata"]["RetryAttempts"] == 2
    assert fake.ops() == ["DescribeCompilationJob"] * 3


def test_server_errors_exhaust_retries(fake, isolated_env):
    with make_client(fake.url, max_attempts=3) as c:
        for _ in range(5):
            fake.queue("DescribeCompilationJob", 500, {"__type": "InternalFailure", "message": "boom"})
        with pytest.raises(smneo.ClientError) as ei:
            c.describe_compilation_job(CompilationJobName="job-1")
    md = ei.value.response["ResponseMetadata"]
    assert md["RetryAttempts"] == 2 and md["HTTPStatusCode"] == 500
    assert "(reached max retries: 2)" in str(ei.value)
    assert len(fake.requests) == 3


def test_connection_dropped_is_retried(client, fake):
    fake.queue("DescribeCompilationJob", 200, CLOSE)
    r = client.describe_compilation_job(CompilationJobName="job-1")
    assert r["ResponseMetadata"]["RetryAttempts"] == 1


def test_connection_dropped_every_attempt_is_connection_closed(fake, isolated_env):
    with make_client(fake.url, max_attempts=2) as c:
        for _ in range(6):
            fake.queue("DescribeCompilationJob", 200, CLOSE)
        with pytest.raises(smneo.ConnectionClosedError) as ei:
            c.describe_compilation_job(CompilationJobName="job-1")
    assert isinstance(ei.value, smneo.HTTPClientError)
    assert not isinstance(ei.value, smneo.EndpointConnectionError)
    assert "without sending a response" in str(ei.value)


def test_connection_refused(isolated_env):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with make_client("http://127.0.0.1:%d" % port, max_attempts=1) as c:
        with pytest.raises(smneo.EndpointConnectionError) as ei:
            c.describe_compilation_job(CompilationJobName="job-1")
    assert not isinstance(ei.value, smneo.ConnectionClosedError)


def test_read_timeout(fake, isolated_env):
    fake.queue("DescribeCompilationJob", 200, description(), None, 1.5)
    with make_client(fake.url, max_attempts=1, read_timeout=0.3) as c:
        t0 = time.monotonic()
        with pytest.raises(smneo.ReadTimeoutError):
            c.describe_compilation_job(CompilationJobName="job-1")
        assert time.monotonic() - t0 < 1.4


def test_no_credentials(fake, isolated_env):
    with smneo.Client(region_name="us-east-1", endpoint_url=fake.url) as c:
        with pytest.raises(smneo.NoCredentialsError):
            c.describe_compilation_job(CompilationJobName="job-1")
    assert fake.requests == []


def test_credentials_from_environment(fake, isolated_env, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secretenv")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    with smneo.Client(endpoint_url=fake.url) as c:
        assert c.meta.region_name == "eu-west-1"
        c.describe_compilation_job(CompilationJobName="job-1")
    assert "Credential=AKIDENV/" in fake.requests[-1].headers["authorization"]
    assert "/eu-west-1/sagemaker/aws4_request" in fake.requests[-1].headers["authorization"]


def test_malformed_success_body(client, fake):
    fake.queue("DescribeCompilationJob", 200, b"{not json")
    with pytest.raises(smneo.SmneoError):
        client.describe_compilation_job(CompilationJobName="job-1")


def test_text_after_the_response_object_is_a_parser_error(client, fake):
    fake.queue("DescribeCompilationJob", 200, json.dumps(description("job-1")).encode() + b' {"extra": 1}')
    with pytest.raises(smneo.ResponseParserError, match="text after the JSON object"):
        client.describe_compilation_job(CompilationJobName="job-1")
    assert fake.ops() == ["DescribeCompilationJob"]  # not retried
    fake.queue("DescribeCompilationJob", 200, json.dumps(description("job-1")).encode() + b"\r\n \t")
    assert client.describe_compilation_job(CompilationJobName="job-1")["CompilationJobName"] == "job-1"


# ---- client object ----------------------------------------------------------------

def test_repr_and_errors_never_show_secrets(fake, isolated_env):
    c = make_client(fake.url, aws_session_token="TOKENSECRET")
    text = repr(c)
    assert SECRET not in text and "TOKENSECRET" not in text and "us-east-1" in text
    fake.queue("DescribeCompilationJob", 403, {"__type": "InvalidSignatureException", "message": "bad sig"})
    with pytest.raises(smneo.ClientError) as ei:
        c.describe_compilation_job(CompilationJobName="job-1")
    assert SECRET not in repr(ei.value.response) and SECRET not in str(ei.value)
    req = c.build_request("DescribeCompilationJob", {"CompilationJobName": "x"})
    assert "TOKENSECRET" not in repr(req) and "Signature" not in repr(req)
    c.close()


def test_endpoint_url_with_userinfo_is_refused(fake, isolated_env, monkeypatch):
    # Issue 18: user:password@ went out in the Host header, signed, and showed in repr.
    url = fake.url.replace("http://", "http://alice:Pw0rdX@")
    with pytest.raises(ValueError, match="user information") as ei:
        make_client(url)
    assert "Pw0rdX" not in str(ei.value) and "alice" not in str(ei.value)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER", url)
    with pytest.raises(ValueError, match="AWS_ENDPOINT_URL_SAGEMAKER") as ei:
        smneo.Client(region_name="us-east-1", aws_access_key_id=KEY, aws_secret_access_key=SECRET)
    assert "Pw0rdX" not in str(ei.value)
    monkeypatch.delenv("AWS_ENDPOINT_URL_SAGEMAKER")
    # The container credentials URL: refused, never quoted.
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url + "/creds")
    with smneo.Client(region_name="us-east-1", endpoint_url=fake.url) as c:
        with pytest.raises(smneo.CredentialRetrievalError, match="user information") as ei:
            c.describe_compilation_job(CompilationJobName="job-1")
    assert "Pw0rdX" not in str(ei.value) and "alice" not in str(ei.value)
    assert fake.requests == []


def test_close_and_context_manager(fake, isolated_env):
    with make_client(fake.url) as c:
        c.describe_compilation_job(CompilationJobName="job-1")
    assert c.closed
    with pytest.raises(RuntimeError, match="closed"):
        c.describe_compilation_job(CompilationJobName="job-1")
    c.close()  # idempotent


def test_client_options_are_checked(isolated_env):
    with pytest.raises(ValueError, match="max_attempts"):
        smneo.Client(region_name="us-east-1", max_attempts=0)
    with pytest.raises(ValueError, match="read_timeout"):
        smneo.Client(region_name="us-east-1", read_timeout=-1)
    with pytest.raises(TypeError, match="verify"):
        smneo.Client(region_name="us-east-1", verify=3)
    with pytest.raises(smneo.NoRegionError):
        smneo.Client()
    with pytest.raises(ValueError, match="no service name"):
        smneo.Client("sagemaker")


def test_botocore_config_is_honoured(fake, isolated_env):
    botocore_config = need_module("botocore.config")
    cfg = botocore_config.Config(region_name="eu-central-1", retries={"max_attempts": 4, "mode": "standard"})
    with smneo.Client(endpoint_url=fake.url, aws_access_key_id=KEY, aws_secret_access_key=SECRET,
                      config=cfg) as c:
        assert c.meta.region_name == "eu-central-1"
        assert c.max_attempts == 5  # botocore counts retries in max_attempts


def test_client_exceptions_namespace(client):
    ex = client.exceptions
    assert ex.ClientError is smneo.ClientError
    for name in ("ResourceNotFound", "ResourceInUse", "ResourceLimitExceeded"):
        assert issubclass(getattr(ex, name), smneo.ClientError)


# ---- pagination --------------------------------------------------------------------

def test_paginator_over_many_pages(client, fake):
    items = [summary(i) for i in range(237)]
    fake.handlers["ListCompilationJobs"] = paged(items, page_size_default=10)
    assert client.can_paginate("list_compilation_jobs") and client.can_paginate("list_pipeline_execution_steps")
    assert not client.can_paginate("describe_compilation_job")
    pages = list(client.get_paginator("list_compilation_jobs").paginate(StatusEquals="COMPLETED"))
    assert len(pages) == 24
    assert all("ResponseMetadata" in p for p in pages)
    names = [s["CompilationJobName"] for p in pages for s in p["CompilationJobSummaries"]]
    assert names == ["job-%04d" % i for i in range(237)]
    assert all(r.json.get("StatusEquals") == "COMPLETED" for r in fake.requests)
    assert [r.json.get("NextToken") for r in fake.requests[:3]] == [None, "tok-10", "tok-20"]


def test_paginator_page_size_and_full_result(client, fake):
    fake.handlers["ListCompilationJobs"] = paged([summary(i) for i in range(50)])
    full = client.get_paginator("list_compilation_jobs").paginate(PaginationConfig={"PageSize": 7}) \
        .build_full_result()
    assert list(full) == ["CompilationJobSummaries"]
    assert len(full["CompilationJobSummaries"]) == 50
    assert {r.json["MaxResults"] for r in fake.requests} == {7}


def test_paginator_max_items_and_resume(client, fake):
    fake.handlers["ListCompilationJobs"] = paged([summary(i) for i in range(40)])
    pag = client.get_paginator("list_compilation_jobs")
    first = pag.paginate(PaginationConfig={"MaxItems": 15}).build_full_result()
    assert len(first["CompilationJobSummaries"]) == 15 and first["NextToken"]
    rest = pag.paginate(PaginationConfig={"StartingToken": first["NextToken"]}).build_full_result()
    names = [s["CompilationJobName"] for s in first["CompilationJobSummaries"] + rest["CompilationJobSummaries"]]
    assert names == ["job-%04d" % i for i in range(40)]
    assert "NextToken" not in rest


def test_item_run_max_items_and_resume(client, fake):
    fake.handlers["ListCompilationJobs"] = paged([summary(i) for i in range(40)])
    run = client._paginate("ListCompilationJobs", {}, 15, 0, None, False)
    first = list(run)
    assert len(first) == 15 and run.resume_token
    run2 = client._paginate("ListCompilationJobs", {}, 0, 0, run.resume_token, False)
    names = [s["CompilationJobName"] for s in first + list(run2)]
    assert names == ["job-%04d" % i for i in range(40)]
    assert run2.resume_token is None


def test_pagination_config_is_checked(client):
    with pytest.raises(smneo.ParamValidationError, match="MaxItemz") as ei:
        client.get_paginator("list_compilation_jobs").paginate(PaginationConfig={"MaxItemz": 3})
    assert [(i.path, i.rule) for i in ei.value.issues] == [("PaginationConfig.MaxItemz", "unknown-member")]
    with pytest.raises(smneo.ParamValidationError, match="PageSize"):
        client.get_paginator("list_compilation_jobs").paginate(PaginationConfig={"PageSize": "10"})
    with pytest.raises(ValueError):
        client.get_paginator("describe_compilation_job")


def test_iter_compilation_jobs_yields_summaries(client, fake):
    fake.handlers["ListCompilationJobs"] = paged([summary(i) for i in range(95)], page_size_default=20)
    it = client.iter_compilation_jobs(SortOrder="Ascending")
    out = list(it)
    assert [s["CompilationJobName"] for s in out] == ["job-%04d" % i for i in range(95)]
    assert out[0]["CreationTime"] == ts(CREATED)
    assert len(fake.requests) == 5


def test_iter_pipeline_execution_steps(client, fake):
    arn = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/abc123"
    from fakes import step
    pages = [{"PipelineExecutionSteps": [step(1), step(2)], "NextToken": "n1"},
             {"PipelineExecutionSteps": [step(3)]}]
    fake.handlers["ListPipelineExecutionSteps"] = lambda req: (200, pages[1 if req.json.get("NextToken") else 0])
    steps = list(client.iter_pipeline_execution_steps(PipelineExecutionArn=arn))
    assert [s["StepName"] for s in steps] == ["step-1", "step-2", "step-3"]


def test_paginator_error_midway(client, fake):
    fake.handlers["ListCompilationJobs"] = paged([summary(i) for i in range(30)])
    it = client.iter_compilation_jobs()
    got = [next(it) for _ in range(10)]
    fake.queue("ListCompilationJobs", 400, {"__type": "ValidationException", "message": "token expired"})
    with pytest.raises(smneo.ClientError, match="token expired"):
        list(it)
    assert len(got) == 10


def _stuck_at(items, token):
    """paged(), but the page for `token` comes back with `token` as its NextToken."""
    base = paged(items, page_size_default=4)

    def handler(req):
        status, body = base(req)
        if req.json.get("NextToken") == token:
            body = dict(body, NextToken=token)
        return status, body
    return handler


@pytest.mark.parametrize("start", [None, "tok-8"])
def test_paginator_same_token_twice_raises_as_botocore(client, fake, start):
    botocore_session = pytest.importorskip("botocore.session")
    fake.handlers["ListCompilationJobs"] = _stuck_at([summary(i) for i in range(25)], "tok-8")
    config = {"PageSize": 4}
    if start:
        config["StartingToken"] = start

    def run(paginator):
        pages = []
        with pytest.raises(Exception) as ei:
            for p in paginator.paginate(PaginationConfig=config):
                pages.append([s["CompilationJobName"] for s in p["CompilationJobSummaries"]])
        return pages, ei.value

    ours, our_error = run(client.get_paginator("list_compilation_jobs"))
    sent = [r.json.get("NextToken") for r in fake.requests]
    del fake.requests[:]
    boto = botocore_session.get_session().create_client(
        "sagemaker", region_name="us-east-1", endpoint_url=fake.url, aws_access_key_id=KEY,
        aws_secret_access_key=SECRET)
    theirs, their_error = run(boto.get_paginator("list_compilation_jobs"))
    assert type(their_error).__name__ == "PaginationError"
    assert isinstance(our_error, smneo.PaginationError) and isinstance(our_error, smneo.SmneoError)
    assert str(our_error) == str(their_error)
    assert ours == theirs  # the pages before the error, the repeated one included
    assert sent == [r.json.get("NextToken") for r in fake.requests]
    assert sent == ([None, "tok-4", "tok-8"] if start is None else ["tok-8", "tok-8"])


def test_iterator_same_token_twice_raises(client, fake):
    fake.handlers["ListCompilationJobs"] = _stuck_at([summary(i) for i in range(25)], "tok-4")
    it = client.iter_compilation_jobs(MaxResults=4)
    got = []
    with pytest.raises(smneo.PaginationError, match="The same next token was received twice: {'NextToken': 'tok-4'}"):
        for s in it:
            got.append(s)
    assert len(got) == 8


# ---- waiter -----------------------------------------------------------------------

def _status_sequence(fake, statuses, **extra):
    seq = list(statuses)

    def handler(req):
        s = seq.pop(0) if len(seq) > 1 else seq[0]
        return 200, description(req.json["CompilationJobName"], s, **(extra if s in ("FAILED",) else {}))
    fake.handlers["DescribeCompilationJob"] = handler


def test_waiter_completed_with_callback(client, fake):
    _status_sequence(fake, ["STARTING", "INPROGRESS", "INPROGRESS", "COMPLETED"])
    seen = []
    r = client.wait_for_compilation_job("job-1", delay=0.01, max_delay=0.02,
                                        callback=lambda d: seen.append(d["CompilationJobStatus"]))
    assert r["CompilationJobStatus"] == "COMPLETED" and "ResponseMetadata" in r
    assert seen == ["STARTING", "INPROGRESS", "COMPLETED"]  # on status changes only
    assert len(fake.requests) == 4


def test_waiter_failed(client, fake):
    _status_sequence(fake, ["INPROGRESS", "FAILED"], FailureReason="ClientError: no pth file found")
    with pytest.raises(smneo.CompilationJobFailed) as ei:
        client.wait_for_compilation_job("job-1", delay=0.01)
    assert ei.value.FailureReason == "ClientError: no pth file found"
    assert isinstance(ei.value, smneo.WaiterError)
    assert ei.value.last_response["CompilationJobStatus"] == "FAILED"


def test_waiter_stopped(client, fake):
    _status_sequence(fake, ["STOPPING", "STOPPED"])
    with pytest.raises(smneo.CompilationJobStopped):
        client.wait_for_compilation_job("job-1", delay=0.01)


def test_waiter_timeout(client, fake):
    _status_sequence(fake, ["INPROGRESS"])
    t0 = time.monotonic()
    with pytest.raises(smneo.WaiterTimeout):
        client.wait_for_compilation_job("job-1", delay=0.05, timeout=0.3)
    assert time.monotonic() - t0 < 2


def test_waiter_cancelled_by_callback(client, fake):
    _status_sequence(fake, ["STARTING", "INPROGRESS", "COMPLETED"])
    with pytest.raises(smneo.WaiterCancelled):
        client.wait_for_compilation_job("job-1", delay=0.01, callback=lambda d: d["CompilationJobStatus"] != "INPROGRESS")


def test_waiter_callback_exception_propagates(client, fake):
    _status_sequence(fake, ["STARTING", "COMPLETED"])

    def cb(d):
        raise KeyError("from callback")
    with pytest.raises(KeyError, match="from callback"):
        client.wait_for_compilation_job("job-1", delay=0.01, callback=cb)


def test_waiter_service_error(client, fake):
    fake.queue("DescribeCompilationJob", 400, {"__type": "ResourceNotFound", "Message": "no job"})
    with pytest.raises(smneo.ResourceNotFound):
        client.wait_for_compilation_job("job-1", delay=0.01)


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals need the main thread")
def test_waiter_ctrl_c_interrupts_promptly(client, fake):
    _status_sequence(fake, ["INPROGRESS"])
    timer = threading.Timer(0.4, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    t0 = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            client.wait_for_compilation_job("job-1", delay=30, max_delay=60)
    finally:
        timer.cancel()
    assert time.monotonic() - t0 < 1.5
    # the client still works afterwards
    _status_sequence(fake, ["COMPLETED"])
    assert client.wait_for_compilation_job("job-1", delay=0.01)["CompilationJobStatus"] == "COMPLETED"


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals need the main thread")
def test_ctrl_c_interrupts_retry_back_off(fake, isolated_env):
    fake.handlers["DescribeCompilationJob"] = lambda req: (500, {"__type": "InternalFailure", "message": "x"})
    with make_client(fake.url, max_attempts=12, _retry_backoff_scale=1.0) as c:
        timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
        timer.start()
        t0 = time.monotonic()
        try:
            with pytest.raises(KeyboardInterrupt):
                c.describe_compilation_job(CompilationJobName="job-1")
        finally:
            timer.cancel()
        assert time.monotonic() - t0 < 1.5
        fake.handlers.pop("DescribeCompilationJob")
        assert c.describe_compilation_job(CompilationJobName="job-1")["CompilationJobName"] == "job-1"


# ---- against smneo.local (the project's full local endpoint) -------------------------

def test_lifecycle_against_smneo_local(isolated_env):
    import smneo.local as local
    # long enough that the describe right after the create sees the job still running under load
    with local.Server(port=0, job_duration=2.0) as server:
        import io
        import tarfile
        import urllib.request
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tf:
            data = b"PK\x03\x04 not really torchscript"
            info = tarfile.TarInfo("model.pth")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        with make_client(server.url, aws_access_key_id="test", aws_secret_access_key="test") as c:
            # S3 upload through botocore-free plain HTTP is not needed: a missing model makes the job FAIL
            c.create_compilation_job(**create_params("local-1", InputConfig={
                "S3Uri": "s3://nobucket/in/model.tar.gz", "Framework": "PYTORCH",
                "DataInputConfig": '{"input0": [1, 3, 224, 224]}'}))
            with pytest.raises(smneo.ResourceInUse):
                c.create_compilation_job(**create_params("local-1"))
            d = c.describe_compilation_job(CompilationJobName="local-1")
            assert d["CompilationJobStatus"] in ("INPROGRESS", "STARTING")
            assert d["CreationTime"].tzinfo is not None
            with pytest.raises(smneo.CompilationJobFailed) as ei:
                c.wait_for_compilation_job("local-1", delay=0.05)
            assert ei.value.FailureReason
            names = [j["CompilationJobName"] for j in c.iter_compilation_jobs()]
            assert names == ["local-1"]
            c.delete_compilation_job(CompilationJobName="local-1")
            with pytest.raises(smneo.ResourceNotFound):
                c.describe_compilation_job(CompilationJobName="local-1")
            with pytest.raises(smneo.ResourceNotFound):
                c.stop_compilation_job(CompilationJobName="local-1")
        with make_client(server.url, aws_access_key_id="test", aws_secret_access_key="wrong", max_attempts=1) as c:
            with pytest.raises(smneo.ClientError) as ei:
                c.describe_compilation_job(CompilationJobName="x")
            assert ei.value.response["Error"]["Code"] in ("InvalidSignatureException", "UnrecognizedClientException")
            assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        del urllib


# ---- TLS: verify and the CA bundle reach the core's transport ------------------------

@pytest.fixture
def tls_fake(tmp_path):
    """FakeSageMaker over TLS with a self-signed certificate for 127.0.0.1."""
    import ssl
    import subprocess
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                        "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as e:
        if os.environ.get("CI") == "true":
            pytest.fail("openssl is needed for the TLS tests under CI=true: %s" % e)
        pytest.skip("openssl could not make a test certificate: %s" % e)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    with FakeSageMaker() as f:
        f._server.socket = ctx.wrap_socket(f._server.socket, server_side=True)
        f.url = f.url.replace("http://", "https://")
        f.cert = str(cert)
        yield f


def test_tls_verify_default_refuses_an_unknown_certificate(tls_fake, isolated_env):
    with make_client(tls_fake.url, max_attempts=1) as c:
        with pytest.raises(smneo.SSLError):
            c.describe_compilation_job(CompilationJobName="job-1")


@pytest.mark.parametrize("mode", ["standard", "legacy"])
def test_tls_failures_are_retried_as_botocore_retries_them(tls_fake, isolated_env, monkeypatch, mode):
    """botocore's SSLError is a ConnectionError: _retry.json (legacy) and
    retries/standard.py both retry it. Counted as TLS handshakes the server saw."""
    boto3 = need_module("boto3")
    config = need_module("botocore.config")
    botocore_exceptions = need_module("botocore.exceptions")
    monkeypatch.setattr(time, "sleep", lambda s: None)  # botocore's back-off (smneo's is scaled down)
    handshakes = []
    accept = tls_fake._server.get_request
    tls_fake._server.get_request = lambda: (handshakes.append(1), accept())[1]
    b = boto3.session.Session().client(
        "sagemaker", region_name="us-east-1", endpoint_url=tls_fake.url, aws_access_key_id="a",
        aws_secret_access_key="b", config=config.Config(retries={"mode": mode, "total_max_attempts": 3}))
    with pytest.raises(botocore_exceptions.SSLError):
        b.describe_compilation_job(CompilationJobName="job-1")
    botocore_count = len(handshakes)
    del handshakes[:]
    with make_client(tls_fake.url, retry_mode=mode, max_attempts=3) as c:
        with pytest.raises(smneo.SSLError):
            c.describe_compilation_job(CompilationJobName="job-1")
    assert len(handshakes) == botocore_count == 3


@pytest.mark.parametrize("how", ["verify-path", "verify-false", "profile-ca_bundle", "AWS_CA_BUNDLE"])
def test_tls_ca_bundle_and_verify_false_connect(tls_fake, isolated_env, monkeypatch, how):
    kw = {}
    if how == "verify-path":
        kw["verify"] = tls_fake.cert
    elif how == "verify-false":
        kw["verify"] = False
    elif how == "profile-ca_bundle":
        (isolated_env / "config").write_text("[default]\nca_bundle = %s\n" % tls_fake.cert)
    else:
        monkeypatch.setenv("AWS_CA_BUNDLE", tls_fake.cert)
    with make_client(tls_fake.url, max_attempts=1, **kw) as c:
        r = c.describe_compilation_job(CompilationJobName="job-1")
    assert r["CompilationJobName"] == "job-1"
    assert tls_fake.ops() == ["DescribeCompilationJob"]
