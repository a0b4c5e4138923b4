"""Parity with botocore 1.43: build_request's body and signature, parse_response's
dicts and exceptions, for the same params / the same response bytes."""
import datetime
import json
import os

import pytest

import smneo
from fakes import KEY, SECRET, description, fake, isolated_env, make_client, need_module, step, summary  # noqa: F401

UTC = datetime.timezone.utc
FIXED = datetime.datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
ROLE = "arn:aws:iam::123456789012:role/NeoRole"


_need = need_module


CREATE = {
    "CompilationJobName": "resnet50-c5",
    "RoleArn": ROLE,
    "InputConfig": {"S3Uri": "s3://bucket/in/model.tar.gz", "Framework": "PYTORCH", "FrameworkVersion": "1.8",
                    "DataInputConfig": '{"input0": [1, 3, 224, 224]}'},
    "OutputConfig": {"S3OutputLocation": "s3://bucket/out/", "TargetDevice": "ml_c5",
                     "CompilerOptions": '{"dtype": "float32"}', "KmsKeyId": "alias/neo"},
    "VpcConfig": {"SecurityGroupIds": ["sg-0123456789abcdef0"], "Subnets": ["subnet-0123456789abcdef0"]},
    "StoppingCondition": {"MaxRuntimeInSeconds": 900, "MaxWaitTimeInSeconds": 1800},
    "Tags": [{"Key": "team", "Value": "vision"}, {"Key": "cost-center", "Value": "42"}],
}

PLATFORM = dict(CREATE, OutputConfig={
    "S3OutputLocation": "s3://bucket/out/",
    "TargetPlatform": {"Os": "LINUX", "Arch": "X86_64", "Accelerator": "NVIDIA"},
    "CompilerOptions": '{"gpu-code": "sm_75", "trt-ver": "7.1.3", "cuda-ver": "10.2"}'})
PLATFORM["InputConfig"] = {k: v for k, v in CREATE["InputConfig"].items() if k != "FrameworkVersion"}

BUILD_CASES = [
    ("CreateCompilationJob", CREATE),
    ("CreateCompilationJob", PLATFORM),
    ("DescribeCompilationJob", {"CompilationJobName": "resnet50-c5"}),
    ("ListCompilationJobs", {"MaxResults": 50, "StatusEquals": "INPROGRESS", "NameContains": "resnet",
                             "CreationTimeAfter": datetime.datetime(2023, 1, 2, 3, 4, 5, tzinfo=UTC),
                             "LastModifiedTimeBefore": datetime.datetime(2024, 1, 1),
                             "SortBy": "CreationTime", "SortOrder": "Descending"}),
    ("ListCompilationJobs", {}),
    ("StopCompilationJob", {"CompilationJobName": "resnet50-c5"}),
    ("DeleteCompilationJob", {"CompilationJobName": "resnet50-c5"}),
    ("ListPipelineExecutionSteps", {
        "PipelineExecutionArn": "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/abc123",
        "MaxResults": 20, "SortOrder": "Ascending", "NextToken": "t0k"}),
]


@pytest.fixture
def sm(isolated_env):
    c = smneo.Client(region_name="us-east-1", endpoint_url="https://api.sagemaker.us-east-1.amazonaws.com",
                     aws_access_key_id=KEY, aws_secret_access_key=SECRET)
    yield c
    c.close()


@pytest.fixture
def botocore_model():
    session = _need("botocore.session")
    return session.get_session().get_service_model("sagemaker")


# ---- build_request -------------------------------------------------------------------

@pytest.mark.parametrize("operation, params", BUILD_CASES, ids=[c[0] + str(i) for i, c in enumerate(BUILD_CASES)])
def test_body_equals_botocore_serializer(sm, botocore_model, operation, params):
    serialize = _need("botocore.serialize")
    op_model = botocore_model.operation_model(operation)
    theirs = serialize.create_serializer("json", include_validation=True).serialize_to_request(params, op_model)
    ours = sm.build_request(operation, params, timestamp=FIXED)
    assert json.loads(ours.body) == json.loads(theirs["body"])
    assert ours.method == theirs["method"] == "POST"
    assert ours.headers["X-Amz-Target"] == theirs["headers"]["X-Amz-Target"]
    assert ours.headers["Content-Type"] == theirs["headers"]["Content-Type"]
    assert ours.url == "https://api.sagemaker.us-east-1.amazonaws.com/"


def test_default_endpoint_is_botocores(isolated_env):
    boto3 = _need("boto3")
    for region in ("us-east-1", "eu-west-1", "cn-north-1"):
        with smneo.Client(region_name=region, aws_access_key_id=KEY, aws_secret_access_key=SECRET) as c:
            theirs = boto3.client("sagemaker", region_name=region, aws_access_key_id=KEY,
                                  aws_secret_access_key=SECRET)
            assert c.build_request("DescribeCompilationJob", {"CompilationJobName": "x"}).url.rstrip("/") == \
                theirs.meta.endpoint_url.rstrip("/")


def _botocore_authorization(monkeypatch, req, token=None):
    """Signs our request bytes with botocore's SigV4Auth at our X-Amz-Date."""
    auth = _need("botocore.auth")
    awsrequest = _need("botocore.awsrequest")
    credentials = _need("botocore.credentials")
    stamp = datetime.datetime.strptime(req.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    monkeypatch.setattr(auth, "get_current_datetime", lambda: stamp)
    signed = req.headers["Authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    headers = {k: v for k, v in req.headers.items()
               if k.lower() in signed and k.lower() not in ("x-amz-date", "x-amz-security-token")}
    breq = awsrequest.AWSRequest(method=req.method, url=req.url, data=req.body, headers=headers)
    auth.SigV4Auth(credentials.Credentials(KEY, SECRET, token), "sagemaker", "us-east-1").add_auth(breq)
    return breq.headers["Authorization"]


@pytest.mark.parametrize("operation, params", BUILD_CASES[:3])
def test_botocore_reproduces_our_signature(sm, monkeypatch, operation, params):
    req = sm.build_request(operation, params, timestamp=FIXED)
    assert req.headers["X-Amz-Date"] == "20231114T221320Z"
    auth = req.headers["Authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=%s/20231114/us-east-1/sagemaker/aws4_request, "
                           "SignedHeaders=" % KEY)
    assert "x-amz-target" in auth and "host" in auth and "x-amz-date" in auth
    assert _botocore_authorization(monkeypatch, req) == auth


def test_signature_with_session_token_and_epoch_timestamp(isolated_env, monkeypatch):
    with smneo.Client(region_name="us-east-1", aws_access_key_id=KEY, aws_secret_access_key=SECRET,
                      aws_session_token="FQoGZXIvYXdzEXAMPLETOKEN") as c:
        req = c.build_request("DescribeCompilationJob", {"CompilationJobName": "x"}, timestamp=1700000000)
    assert req.headers["X-Amz-Security-Token"] == "FQoGZXIvYXdzEXAMPLETOKEN"
    assert req.headers["X-Amz-Date"] == "20231114T221320Z"
    assert _botocore_authorization(monkeypatch, req, token="FQoGZXIvYXdzEXAMPLETOKEN") == \
        req.headers["Authorization"]


def test_build_request_is_deterministic_and_validates(sm):
    a = sm.build_request("CreateCompilationJob", CREATE, timestamp=FIXED)
    b = sm.build_request("create_compilation_job", CREATE, timestamp=FIXED.timestamp())
    assert (a.method, a.url, a.headers, a.body) == (b.method, b.url, b.headers, b.body)
    assert isinstance(a.body, bytes) and isinstance(a.headers, dict)
    with pytest.raises(smneo.ParamValidationError):
        sm.build_request("CreateCompilationJob", dict(CREATE, RoleArn="nope"), timestamp=FIXED)
    with pytest.raises(ValueError, match="aware"):
        sm.build_request("DescribeCompilationJob", {"CompilationJobName": "x"}, timestamp=datetime.datetime(2023, 1, 1))
    with pytest.raises(ValueError, match="unknown operation"):
        sm.build_request("DescribeTrainingJob", {})


def test_request_body_keeps_strict_valid_params_unchanged(sm):
    req = sm.build_request("CreateCompilationJob", CREATE, timestamp=FIXED)
    assert json.loads(req.body) == CREATE


# ---- parse_response --------------------------------------------------------------------

class _Raw:
    def __init__(self, body):
        self._body = body

    def stream(self, **kwargs):
        yield self._body


def _boto3_call(operation, params, status, headers, body):
    """What boto3 returns or raises for these response bytes."""
    boto3 = _need("boto3")
    awsrequest = _need("botocore.awsrequest")
    config = _need("botocore.config")
    bc = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id=KEY, aws_secret_access_key=SECRET,
                      config=config.Config(retries={"total_max_attempts": 1}))
    bc.meta.events.register("before-send.sagemaker",
                            lambda request, **kw: awsrequest.AWSResponse(request.url, status, headers, _Raw(body)))
    method = getattr(bc, bc.meta.method_to_api_mapping and
                     {v: k for k, v in bc.meta.method_to_api_mapping.items()}[operation])
    try:
        return method(**params), None
    except Exception as e:  # noqa: BLE001 - compared below
        return None, e


HEADERS = {"x-amzn-RequestId": "b0e91dc8-3807-4cb3-a3e3-1e1e1e1e1e1e", "Content-Type": "application/x-amz-json-1.1",
           "Content-Length": "0", "Date": "Tue, 14 Nov 2023 22:13:20 GMT"}

PARSE_CASES = [
    ("DescribeCompilationJob", {"CompilationJobName": "job-1"}, description("job-1")),
    ("DescribeCompilationJob", {"CompilationJobName": "job-2"},
     description("job-2", "FAILED", FailureReason="ClientError: No pth file found", CreationTime=1700000000,
                 LastModifiedTime=1700000000.999999)),
    ("ListCompilationJobs", {}, {"CompilationJobSummaries": [summary(i) for i in range(3)], "NextToken": "abc"}),
    ("ListCompilationJobs", {}, {"CompilationJobSummaries": []}),
    ("CreateCompilationJob", CREATE, {"CompilationJobArn": "arn:aws:sagemaker:us-east-1:1:compilation-job/x"}),
    # members out of the model's order, unknown ones among them (pruned), in nested structures too
    ("DescribeCompilationJob", {"CompilationJobName": "job-3"},
     dict(reversed(list(dict(description("job-3", "COMPLETED", CreationTime=1700000000),
                             Zzz=1, Aaa={"x": 1}).items())))),
    ("ListCompilationJobs", {}, {"NextToken": "n", "Extra": [1], "CompilationJobSummaries": [
        dict(reversed(list(dict(summary(i), CompilationJobName="s%d" % i, Unknown=i).items()))) for i in range(3)]}),
    ("ListPipelineExecutionSteps", {"PipelineExecutionArn":
                                    "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/abc123"},
     {"PipelineExecutionSteps": [step(1), step(2)]}),
]


@pytest.mark.parametrize("operation, params, body", PARSE_CASES, ids=[c[0] + str(i) for i, c in enumerate(PARSE_CASES)])
def test_parse_response_equals_boto3(operation, params, body):
    raw = json.dumps(body).encode()
    headers = dict(HEADERS, **{"Content-Length": str(len(raw))})
    theirs, exc = _boto3_call(operation, params, 200, headers, raw)
    assert exc is None, exc
    ours = smneo.parse_response(operation, 200, headers, raw)
    assert ours == theirs
    assert list(ours["ResponseMetadata"]) == list(theirs["ResponseMetadata"])


def test_equal_values_of_a_page_share_one_object_and_equal_boto3s():
    """A page's repeated short strings (status, target) and equal instants are
    one object each (str and datetime are immutable: a 20,000-job listing
    keeps a fifth less memory, bench/README.md); the values are boto3's."""
    items = [summary(i, "FAILED" if i % 3 == 0 else "COMPLETED") for i in range(6)]
    items[1]["CompilationJobName"] = items[2]["CompilationJobName"] = "jöb-ü"  # non-ASCII: made each time
    body = {"CompilationJobSummaries": items}
    raw = json.dumps(body).encode()
    headers = dict(HEADERS, **{"Content-Length": str(len(raw))})
    theirs, exc = _boto3_call("ListCompilationJobs", {}, 200, headers, raw)
    assert exc is None, exc
    ours = smneo.parse_response("ListCompilationJobs", 200, headers, raw)
    assert ours == theirs
    s = ours["CompilationJobSummaries"]
    assert s[1]["CompilationJobStatus"] is s[2]["CompilationJobStatus"] == "COMPLETED"
    assert s[0]["CompilationJobStatus"] is s[3]["CompilationJobStatus"] == "FAILED"
    assert len({id(x["CompilationTargetDevice"]) for x in s}) == 1
    for x in s:  # the same instant twice in a summary
        assert x["CompilationEndTime"] is x["LastModifiedTime"]
        assert x["CreationTime"] is not x["CompilationEndTime"]
    assert s[1]["CompilationJobName"] == s[2]["CompilationJobName"] == "jöb-ü"


@pytest.mark.parametrize("operation, params", [("StopCompilationJob", {"CompilationJobName": "x"}),
                                               ("DeleteCompilationJob", {"CompilationJobName": "x"})])
def test_parse_empty_responses_equal_boto3(operation, params):
    headers = dict(HEADERS)
    theirs, exc = _boto3_call(operation, params, 200, headers, b"")
    assert exc is None, exc
    assert smneo.parse_response(operation, 200, headers, b"") == theirs


ERROR_CASES = [
    (400, {"__type": "com.amazonaws.sagemaker#ResourceNotFound", "Message": "Could not find job 'x'."}),
    (400, {"__type": "ResourceInUse", "Message": "Job already exists"}),
    (400, {"__type": "ResourceLimitExceeded", "message": "Too many jobs"}),
    (400, {"__type": "ValidationException", "message": "1 validation error detected"}),
    (400, {"__type": "ThrottlingException", "message": "Rate exceeded"}),
    (403, {"__type": "AccessDeniedException", "Message": "not authorized"}),
    (500, {"__type": "InternalFailure", "message": "boom"}),
]


@pytest.mark.parametrize("status, body", ERROR_CASES, ids=[c[1]["__type"].split("#")[-1] for c in ERROR_CASES])
def test_parse_errors_raise_what_boto3_raises(status, body):
    raw = json.dumps(body).encode()
    headers = dict(HEADERS, **{"Content-Length": str(len(raw))})
    _, theirs = _boto3_call("DescribeCompilationJob", {"CompilationJobName": "x"}, status, headers, raw)
    assert theirs is not None
    with pytest.raises(smneo.ClientError) as ei:
        smneo.parse_response("DescribeCompilationJob", status, headers, raw)
    ours = ei.value
    assert type(ours).__name__ == (type(theirs).__name__ if type(theirs).__name__ != "ClientError" else "ClientError")
    assert ours.operation_name == theirs.operation_name
    assert ours.response["Error"] == theirs.response["Error"]
    assert ours.response["ResponseMetadata"] == theirs.response["ResponseMetadata"]
    assert ours.response == theirs.response
    assert str(ours) == str(theirs)


def test_parse_response_accepts_header_pairs_and_str_body():
    raw = json.dumps(description("x"))
    r = smneo.parse_response("DescribeCompilationJob", 200, [("X-Amzn-RequestId", "rid"), ("Set-Cookie", "a"),
                                                             ("set-cookie", "b")], raw)
    assert r["ResponseMetadata"]["RequestId"] == "rid"
    assert r["ResponseMetadata"]["HTTPHeaders"]["set-cookie"] == "a, b"
    assert r["CompilationJobName"] == "x"


def test_parse_truncated_body_is_a_parser_error():
    with pytest.raises(smneo.SmneoError) as ei:
        smneo.parse_response("DescribeCompilationJob", 200, HEADERS, b'{"CompilationJobName": "x"')
    assert not isinstance(ei.value, smneo.ClientError)


def _nested(levels, member="FailureReason"):
    """A DescribeCompilationJob body whose modeled string member holds `levels - 1`
    nested lists (kept as they came, as botocore keeps a value of another type
    than its shape's): `levels` containers counting the top-level object."""
    return '{"CompilationJobName": "x", "%s": %s%s}' % (member, "[" * (levels - 1), "]" * (levels - 1))


def test_parse_response_nested_past_the_binding_limit_is_a_parser_error():
    """80 levels convert; 81 raise ResponseParserError (it was a plain
    RuntimeError), as a call, a paginator page or an error body would."""
    assert smneo.parse_response("DescribeCompilationJob", 200, HEADERS, _nested(80))["CompilationJobName"] == "x"
    with pytest.raises(smneo.ResponseParserError, match="nested deeper than 80 levels"):
        smneo.parse_response("DescribeCompilationJob", 200, HEADERS, _nested(81))
    # cJSON's own limit (1000) stays the core's protocol error
    with pytest.raises(smneo.ResponseParserError, match="not a JSON object"):
        smneo.parse_response("DescribeCompilationJob", 200, HEADERS, _nested(1001))


def test_nested_response_through_calls_and_paginators(fake, isolated_env):
    fake.queue("DescribeCompilationJob", 200, json.loads(_nested(81)))
    fake.queue("ListCompilationJobs", 200, {"CompilationJobSummaries": [json.loads(_nested(80, "CompilationTargetDevice"))]})
    fake.queue("ListCompilationJobs", 200, {"CompilationJobSummaries": [json.loads(_nested(81, "CompilationTargetDevice"))]})
    # a modeled error whose member is nested too deeply is still the service's error
    fake.queue("DescribeCompilationJob", 400, {"__type": "ResourceNotFound", "Message": json.loads(_nested(90))})
    with make_client(fake.url) as c:
        with pytest.raises(smneo.ResponseParserError, match="nested deeper than 80 levels"):
            c.describe_compilation_job(CompilationJobName="x")
        with pytest.raises(smneo.ResponseParserError, match="nested deeper"):  # the page: list + summary + 80 = 82 levels
            next(iter(c.get_paginator("list_compilation_jobs").paginate()))
        with pytest.raises(smneo.ResponseParserError, match="nested deeper"):  # an item: the summary alone, 81 levels
            list(c.iter_compilation_jobs())
        with pytest.raises(smneo.ClientError) as ei:
            c.describe_compilation_job(CompilationJobName="x")
        assert ei.value.response["Error"]["Code"] == "ResourceNotFound"


_FRAMING_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "protocol",
                             "response_framing.json")
with open(_FRAMING_FILE) as _f:
    _FRAMING = json.load(_f)


@pytest.mark.parametrize("case", _FRAMING["cases"], ids=[c["name"] for c in _FRAMING["cases"]])
def test_text_after_the_json_object_is_a_parser_error(case):
    raw = case["body"].encode()
    try:  # the fixture's verdict is json.loads's, botocore's parser
        json.loads(raw)
        loads_ok = True
    except ValueError:
        loads_ok = False
    assert loads_ok == case["ok"]
    if case["ok"]:
        assert smneo.parse_response(_FRAMING["operation"], 200, HEADERS, raw)["CompilationJobName"] == "job-1"
    else:
        with pytest.raises(smneo.ResponseParserError):
            smneo.parse_response(_FRAMING["operation"], 200, HEADERS, raw)


def test_a_nul_byte_after_the_json_object_is_a_parser_error():
    with pytest.raises(smneo.ResponseParserError, match="text after the JSON object"):
        smneo.parse_response("DescribeCompilationJob", 200, HEADERS, b'{"CompilationJobName": "x"}\x00')


# ---- the shared build_request fixtures (tests/fixtures/build_request, read by every layer) ----

_FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "build_request")
_FIXTURE_FILES = sorted(f for f in os.listdir(_FIXTURES) if f.endswith(".json"))


def test_build_request_fixtures_exist():
    assert len(_FIXTURE_FILES) >= 6, _FIXTURE_FILES


@pytest.mark.parametrize("name", _FIXTURE_FILES)
def test_build_request_matches_the_shared_fixture(isolated_env, name):
    with open(os.path.join(_FIXTURES, name), encoding="utf-8") as f:
        fx = json.load(f)
    with smneo.Client(**fx["client"]) as c:
        req = c.build_request(fx["operation"], fx["params"], timestamp=fx["timestamp"])
    want = fx["expected"]
    ignore = {h.lower() for h in fx.get("ignore_headers", [])}
    assert req.method == want["method"]
    assert req.url == want["url"]
    assert {k: v for k, v in req.headers.items() if k.lower() not in ignore} == \
        {k: v for k, v in want["headers"].items() if k.lower() not in ignore}
    assert req.body == want["body"].encode("utf-8")


def test_members_the_model_does_not_have_are_dropped_as_botocore_drops_them():
    body = json.dumps({"CompilationJobName": "x", "BrandNew": {"a": 1}, "FailureReason": None,
                       "ModelArtifacts": {"S3ModelArtifacts": "s3://b/o", "Extra": "y"},
                       "CompilationJobStatus": "COMPLETED"})
    out = smneo.parse_response("DescribeCompilationJob", 200, HEADERS, body)
    out.pop("ResponseMetadata")
    assert out == {"CompilationJobName": "x", "ModelArtifacts": {"S3ModelArtifacts": "s3://b/o"},
                   "CompilationJobStatus": "COMPLETED"}
    botocore_parsers = need_module("botocore.parsers")
    model = need_module("botocore.session").get_session().get_service_model("sagemaker")
    parsed = botocore_parsers.create_parser("json").parse(
        {"status_code": 200, "headers": {}, "body": body.encode()},
        model.operation_model("DescribeCompilationJob").output_shape)
    parsed.pop("ResponseMetadata")
    assert parsed == out

