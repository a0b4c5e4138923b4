"""smneo.Client and boto3.client("sagemaker") against one smneo.local server:
every operation through both clients, and both must see the same results
(member for member, including value types; ResponseMetadata minus request
ids and dates), the same errors, the same retries and the same resume tokens.

Run: python3 tests/python/run_pytest.py -q tests/python/test_local_parity.py
"""
import datetime
import os

import pytest
from fakes import botocore_required

try:
    import boto3
    import botocore
    import botocore.exceptions
    from botocore.config import Config
except ImportError as _e:  # pragma: no cover (these machines have boto3)
    if botocore_required():
        pytest.fail("boto3/botocore are required under CI=true: %s" % _e, pytrace=False)
    pytest.skip("boto3/botocore not installed: %s" % _e, allow_module_level=True)

import smneo  # noqa: E402  (the C extension must be built: a failure here is a failure)
from smneo.local import Server  # noqa: E402

from local_fixtures import admin, job_request, tgz  # noqa: E402
from parity_helpers import Clock, assert_same, both_raise, error_of  # noqa: E402

DURATION = 0.5          # job duration: STARTING < 0.125 s <= INPROGRESS < 0.5 s <= done
EXEC = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/neo-pipe/execution/0123456789ab"
EXEC2 = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/neo-pipe/execution/ffffffffffff"
PIPELINES = {
    EXEC: [
        {"StepName": "Train", "StepDisplayName": "Train the model", "StepDescription": "fit",
         "StepStatus": "Succeeded", "StartTime": "2024-01-01T00:00:00Z", "EndTime": 1704067260,
         "AttemptCount": 1,
         "Metadata": {"TrainingJob": {"Arn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/t1"}}},
        {"StepName": "Check", "StepStatus": "Succeeded", "StartTime": 1704067300.25,
         "EndTime": "2024-01-01T00:05:00.500Z", "AttemptCount": 2,
         "Metadata": {"QualityCheck": {"CheckType": "DATA_QUALITY", "SkipCheck": False,
                                       "RegisterNewBaseline": True,
                                       "CheckJobArn": "arn:aws:sagemaker:us-east-1:123456789012:"
                                                      "processing-job/q1"}}},
        {"StepName": "Cond", "StepStatus": "Succeeded", "StartTime": 1704067400,
         "EndTime": 1704067401, "Metadata": {"Condition": {"Outcome": "True"}}},
        {"StepName": "Callback", "StepStatus": "Succeeded", "StartTime": 1704067500,
         "CacheHitResult": {"SourcePipelineExecutionArn": EXEC2},
         "Metadata": {"Callback": {"CallbackToken": "tok1234567", "SqsQueueUrl": "https://sqs.example/q",
                                   "OutputParameters": [{"Name": "a", "Value": "1"},
                                                        {"Name": "b", "Value": "2"}]}}},
        {"StepName": "Compile", "StepStatus": "Executing", "StartTime": 1704067600,
         "Metadata": {"Lambda": {"Arn": "arn:aws:lambda:us-east-1:123456789012:function:f",
                                 "OutputParameters": [{"Name": "x", "Value": "y"}]}}},
        {"StepName": "Fail", "StepStatus": "Failed", "StartTime": 1704067700, "EndTime": 1704067701,
         "FailureReason": "the condition failed", "Metadata": {"Fail": {"ErrorMessage": "boom"}}},
        {"StepName": "Emr", "StepStatus": "Stopped", "StartTime": 1704067800,
         "Metadata": {"EMR": {"ClusterId": "j-1", "StepId": "s-1", "StepName": "e",
                              "LogFilePath": "s3://logs/e"}}},
    ],
    EXEC2: [],
}


# ---- fixtures --------------------------------------------------------------------------------
@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def server(clock):
    with Server(port=0, job_duration=DURATION, clock=clock, pipelines=PIPELINES) as s:
        yield s


def _kw(server):
    return dict(endpoint_url=server.url, region_name="us-east-1",
                aws_access_key_id="test", aws_secret_access_key="test")


def _open_clients(server, max_attempts=3, mode="standard"):
    """(smneo, boto3) with the same retry settings, and the input model uploaded."""
    ours = smneo.Client(max_attempts=max_attempts, retry_mode=mode, connect_timeout=5, read_timeout=10,
                        **_kw(server))
    theirs = boto3.client("sagemaker", config=Config(
        retries={"total_max_attempts": max_attempts, "mode": mode}, connect_timeout=5, read_timeout=10),
        **_kw(server))
    s3 = boto3.client("s3", **_kw(server))
    if s3.list_buckets()["Buckets"] == []:
        s3.create_bucket(Bucket="models")
        s3.put_object(Bucket="models", Key="in/model.tar.gz",
                      Body=tgz({"model.pth": b"weights" * 40, "code/inference.py": b"pass\n"}))
    return ours, theirs


@pytest.fixture
def clients(server):
    """(smneo, boto3), both with 3 attempts in standard retry mode."""
    ours, theirs = _open_clients(server)
    yield ours, theirs
    ours.close()


def _both(clients, method, **kwargs):
    """The same call through smneo and boto3: (ours, theirs)."""
    ours, theirs = clients
    return getattr(ours, method)(**kwargs), getattr(theirs, method)(**kwargs)


def _same(clients, method, what=None, **kwargs):
    ours, theirs = _both(clients, method, **kwargs)
    assert_same(ours, theirs, what or "%s(%r)" % (method, kwargs))
    return ours, theirs


def _describe(clients, name):
    return _same(clients, "describe_compilation_job", CompilationJobName=name)[0]


# ---- create / describe -----------------------------------------------------------------------
def test_create_by_each_client_is_seen_by_the_other(clients, clock):
    ours, theirs = clients
    t = clock.freeze()
    r1 = ours.create_compilation_job(**job_request("made-by-smneo"))
    r2 = theirs.create_compilation_job(**job_request("made-by-boto3"))
    # Same shape and values except the name in the ARN.
    assert_same(r1, {**r2, "CompilationJobArn": r2["CompilationJobArn"].replace("boto3", "smneo")},
                "CreateCompilationJob")
    assert r1["CompilationJobArn"].endswith(":compilation-job/made-by-smneo")
    for name, arn in (("made-by-smneo", r1["CompilationJobArn"]),
                      ("made-by-boto3", r2["CompilationJobArn"])):
        d = _describe(clients, name)
        assert d["CompilationJobArn"] == arn
        assert d["CompilationJobStatus"] == "STARTING"
        assert d["CreationTime"].timestamp() == pytest.approx(round(t, 3))


@pytest.mark.parametrize("offset,status", [(0.01, "STARTING"), (0.2, "INPROGRESS"),
                                           (DURATION, "COMPLETED")])
def test_describe_equal_in_each_state(clients, clock, offset, status):
    ours, _ = clients
    t = clock.freeze()
    req = job_request("desc-job", Tags=[{"Key": "team", "Value": "neo"}],
                      VpcConfig={"SecurityGroupIds": ["sg-0123456789abcdef0"],
                                 "Subnets": ["subnet-0123456789abcdef0"]})
    req["InputConfig"]["FrameworkVersion"] = "2.0"
    req["OutputConfig"]["KmsKeyId"] = "1234abcd-12ab-34cd-56ef-1234567890ab"
    ours.create_compilation_job(**req)
    clock.freeze(t + offset)
    d = _describe(clients, "desc-job")
    assert d["CompilationJobStatus"] == status
    # The types a user relies on (both clients were already found equal).
    assert d["StoppingCondition"]["MaxRuntimeInSeconds"] == 900
    assert type(d["StoppingCondition"]["MaxRuntimeInSeconds"]) is int
    assert d["CreationTime"].utcoffset() == datetime.timedelta(0)
    if status == "COMPLETED":
        assert len(d["ModelDigests"]["ArtifactDigest"]) == 128
        assert d["CompilationEndTime"] > d["CompilationStartTime"] > d["CreationTime"]


def test_describe_failed_job_equal(clients, clock):
    ours, theirs = clients
    t = clock.freeze()
    theirs.create_compilation_job(**job_request("no-input", s3uri="s3://models/in/missing.tar.gz"))
    clock.freeze(t + DURATION + 1)
    d = _describe(clients, "no-input")
    assert d["CompilationJobStatus"] == "FAILED"
    assert d["FailureReason"].startswith("ClientError: InputConfiguration:")
    assert "ModelDigests" not in d


# ---- list: filters, sort, pagination ---------------------------------------------------------
NAMES = ["alpha-1", "Beta-2", "gamma-3", "ALPHA-4", "delta-5", "beta-6", "eps-7", "alpha-8",
         "zeta-9", "Eta-10", "theta-11", "alpha-12", "iota-13", "kappa-14"]


@pytest.fixture(scope="module")
def fleet():
    """One server for the (read-only) list tests: 14 jobs created 10 s apart
    (frozen clock), every 4th one stopped, every 5th one FAILED (missing
    input), the last one still INPROGRESS, the others COMPLETED.
    Yields ((smneo, boto3), creation time of the first job)."""
    clock = Clock()
    with Server(port=0, job_duration=DURATION, clock=clock) as srv:
        ours, theirs = _open_clients(srv)
        base = clock.freeze()
        for i, name in enumerate(NAMES):
            clock.freeze(base + 10 * i)
            c = ours if i % 2 else theirs
            uri = "s3://models/in/missing.tar.gz" if i % 5 == 4 else "s3://models/in/model.tar.gz"
            c.create_compilation_job(**job_request(name, s3uri=uri,
                                                   target="ml_c5" if i % 3 else "jetson_nano"))
            if i % 4 == 3:
                clock.freeze(base + 10 * i + 0.01)
                (theirs if i % 2 else ours).stop_compilation_job(CompilationJobName=name)
        clock.freeze(base + 10 * (len(NAMES) - 1) + 0.2)
        yield (ours, theirs), base
        ours.close()


@pytest.fixture
def many(fleet):
    return fleet[1]


@pytest.fixture
def lclients(fleet):
    return fleet[0]


def _at(base, seconds):
    return datetime.datetime.fromtimestamp(base + seconds, datetime.timezone.utc)


LIST_CASES = [
    {},
    {"MaxResults": 100},
    {"MaxResults": 1},
    {"NameContains": "alpha", "MaxResults": 100},
    {"NameContains": "BETA", "SortBy": "Name", "SortOrder": "Descending"},
    {"StatusEquals": "COMPLETED", "MaxResults": 100, "SortBy": "Name"},
    {"StatusEquals": "STOPPED"},
    {"StatusEquals": "FAILED", "SortOrder": "Descending"},
    {"StatusEquals": "INPROGRESS"},
    {"SortBy": "Status", "MaxResults": 100},
    {"SortBy": "Status", "SortOrder": "Descending", "MaxResults": 100},
    {"SortBy": "CreationTime", "SortOrder": "Descending", "MaxResults": 5},
    {"SortBy": "Name", "MaxResults": 100},
    {"NameContains": "no-such-job"},
]


@pytest.mark.parametrize("params", LIST_CASES, ids=[str(i) for i in range(len(LIST_CASES))])
def test_list_one_page_equal(lclients, many, params):
    ours, theirs = _same(lclients, "list_compilation_jobs", **params)
    summaries = ours["CompilationJobSummaries"]
    if "NameContains" in params:
        assert all(params["NameContains"].lower() in s["CompilationJobName"].lower() for s in summaries)
    if "StatusEquals" in params:   # the fleet has jobs in each of these states
        assert summaries and all(s["CompilationJobStatus"] == params["StatusEquals"] for s in summaries)


def test_list_time_filters_equal(lclients, many):
    base = many
    # datetimes (aware and naive-UTC are both what boto3 users pass), and epoch numbers
    cases = [
        {"CreationTimeAfter": _at(base, 35), "MaxResults": 100},
        {"CreationTimeBefore": _at(base, 40), "MaxResults": 100},      # strict: job 4 excluded
        {"CreationTimeAfter": _at(base, 20), "CreationTimeBefore": _at(base, 60), "SortBy": "Name"},
        {"LastModifiedTimeAfter": _at(base, 100), "MaxResults": 100},
        {"LastModifiedTimeBefore": _at(base, 50), "StatusEquals": "COMPLETED"},
        {"CreationTimeAfter": int(base + 65), "MaxResults": 100},
        {"CreationTimeAfter": base + 65.5, "MaxResults": 100},
    ]
    for params in cases:
        ours, _ = _same(lclients, "list_compilation_jobs", **params)
        assert ours["CompilationJobSummaries"] or "LastModifiedTimeBefore" in params, params
    ours, _ = _same(lclients, "list_compilation_jobs", CreationTimeBefore=_at(base, 40), MaxResults=100)
    assert [s["CompilationJobName"] for s in ours["CompilationJobSummaries"]] == NAMES[:4]


def test_list_next_token_from_one_client_works_in_the_other(lclients, many):
    ours, theirs = lclients
    kw = {"MaxResults": 4, "SortBy": "Name", "NameContains": "a"}
    first_ours, first_theirs = _same(lclients, "list_compilation_jobs", **kw)
    token = first_ours["NextToken"]
    # Each client continues from the token the other one got.
    a = ours.list_compilation_jobs(NextToken=first_theirs["NextToken"], **kw)
    b = theirs.list_compilation_jobs(NextToken=token, **kw)
    assert_same(a, b, "second page")
    assert not set(s["CompilationJobName"] for s in a["CompilationJobSummaries"]) & \
        set(s["CompilationJobName"] for s in first_ours["CompilationJobSummaries"])


PAGE_CASES = [
    ({}, {"PageSize": 3}),
    ({}, {"PageSize": 100}),
    ({}, {"PageSize": 3, "MaxItems": 7}),       # truncated mid page: boto_truncate_amount
    ({}, {"PageSize": 5, "MaxItems": 5}),       # truncated on a page boundary
    ({}, {"PageSize": 4, "MaxItems": 100}),     # MaxItems beyond the end: no token
    ({}, {"MaxItems": 3}),                      # the service's default page size (10)
    ({"SortBy": "Name", "SortOrder": "Descending"}, {"PageSize": 2, "MaxItems": 5}),
    ({"NameContains": "alpha"}, {"PageSize": 1, "MaxItems": 3}),
    ({"StatusEquals": "COMPLETED", "SortBy": "Status"}, {"PageSize": 2}),
    ({"NameContains": "nothing"}, {"PageSize": 2, "MaxItems": 3}),
]


@pytest.mark.parametrize("params,config", PAGE_CASES, ids=[str(i) for i in range(len(PAGE_CASES))])
def test_paginator_full_result_and_pages_equal(lclients, many, params, config):
    ours, theirs = lclients
    full = [p.get_paginator("list_compilation_jobs").paginate(PaginationConfig=dict(config), **params)
            .build_full_result() for p in lclients]
    assert_same(full[0], full[1], "build_full_result(%r, %r)" % (params, config))
    pages = [list(p.get_paginator("list_compilation_jobs").paginate(PaginationConfig=dict(config), **params))
             for p in lclients]
    assert_same(pages[0], pages[1], "pages(%r, %r)" % (params, config))
    n = len(full[0].get("CompilationJobSummaries", []))
    if config.get("MaxItems"):
        assert n <= config["MaxItems"]
    expected_all = list(ours.iter_compilation_jobs(**params))
    names = [s["CompilationJobName"] for s in full[0].get("CompilationJobSummaries", [])]
    assert names == [s["CompilationJobName"] for s in expected_all][:len(names)]
    assert ("NextToken" in full[0]) == (len(expected_all) > n)


@pytest.mark.parametrize("config", [{"PageSize": 3, "MaxItems": 7}, {"PageSize": 5, "MaxItems": 5},
                                    {"PageSize": 4, "MaxItems": 1}])
def test_resume_token_crosses_clients(lclients, many, config):
    """A resume token produced by one paginator resumes correctly in the other."""
    ours, theirs = lclients
    params = {"SortBy": "Name"}
    everything = [s["CompilationJobName"] for s in ours.iter_compilation_jobs(**params)]
    assert len(everything) == len(NAMES)
    for first, second in ((ours, theirs), (theirs, ours)):
        head = first.get_paginator("list_compilation_jobs").paginate(
            PaginationConfig=dict(config), **params).build_full_result()
        token = head["NextToken"]
        rest = second.get_paginator("list_compilation_jobs").paginate(
            PaginationConfig={"PageSize": config["PageSize"], "StartingToken": token}, **params
        ).build_full_result()
        got = [s["CompilationJobName"] for s in head["CompilationJobSummaries"] + rest["CompilationJobSummaries"]]
        assert got == everything, "resuming in %s from %s's token" % (type(second).__module__,
                                                                     type(first).__module__)
        assert "NextToken" not in rest
    # A second truncated stretch (resumed and cut by MaxItems again): the same
    # token from both, and the three stretches make up the whole list.
    pag = {c: c.get_paginator("list_compilation_jobs") for c in lclients}
    head = pag[ours].paginate(PaginationConfig=dict(config), **params).build_full_result()
    mid = [pag[c].paginate(PaginationConfig={**config, "StartingToken": head["NextToken"]}, **params)
           .build_full_result() for c in lclients]
    assert_same(mid[0], mid[1], "resumed and truncated again")
    if "NextToken" not in mid[0]:   # the second stretch reached the end
        got = [s["CompilationJobName"] for part in (head, mid[0]) for s in part["CompilationJobSummaries"]]
        assert got == everything
        return
    for c in lclients:
        tail = pag[c].paginate(PaginationConfig={"PageSize": config["PageSize"],
                                                 "StartingToken": mid[0]["NextToken"]}, **params).build_full_result()
        got = [s["CompilationJobName"] for part in (head, mid[0], tail) for s in part["CompilationJobSummaries"]]
        assert got == everything


# ---- pipeline execution steps ----------------------------------------------------------------
@pytest.mark.parametrize("params", [
    {"PipelineExecutionArn": EXEC},
    {"PipelineExecutionArn": EXEC, "SortOrder": "Ascending"},
    {"PipelineExecutionArn": EXEC, "MaxResults": 3},
    {"PipelineExecutionArn": EXEC, "MaxResults": 100, "SortOrder": "Descending"},
    {"PipelineExecutionArn": EXEC2},
])
def test_list_pipeline_execution_steps_equal(clients, params):
    ours, _ = _same(clients, "list_pipeline_execution_steps", **params)
    steps = ours["PipelineExecutionSteps"]
    if params["PipelineExecutionArn"] == EXEC and params.get("MaxResults", 10) >= 7:
        assert len(steps) == 7
        check = [s for s in steps if s["StepName"] == "Check"][0]
        assert check["Metadata"]["QualityCheck"]["RegisterNewBaseline"] is True
        assert check["AttemptCount"] == 2
        assert check["StartTime"] == datetime.datetime(2024, 1, 1, 0, 1, 40, 250000, datetime.timezone.utc)


@pytest.mark.parametrize("config", [{"PageSize": 2}, {"PageSize": 2, "MaxItems": 3},
                                    {"PageSize": 3, "MaxItems": 6}, {"MaxItems": 1}])
def test_pipeline_steps_paginator_equal_and_tokens_cross(clients, config):
    ours, theirs = clients
    kw = {"PipelineExecutionArn": EXEC, "SortOrder": "Ascending"}
    full = [c.get_paginator("list_pipeline_execution_steps").paginate(PaginationConfig=dict(config), **kw)
            .build_full_result() for c in clients]
    assert_same(full[0], full[1], "steps build_full_result(%r)" % config)
    everything = [s["StepName"] for s in ours.iter_pipeline_execution_steps(**kw)]
    if "NextToken" in full[0]:
        for first, second in ((0, 1), (1, 0)):
            rest = clients[second].get_paginator("list_pipeline_execution_steps").paginate(
                PaginationConfig={"PageSize": config.get("PageSize", 10),
                                  "StartingToken": full[first]["NextToken"]}, **kw).build_full_result()
            got = [s["StepName"] for s in full[first]["PipelineExecutionSteps"] + rest["PipelineExecutionSteps"]]
            assert got == everything
    else:
        assert [s["StepName"] for s in full[0]["PipelineExecutionSteps"]] == everything


def test_pipeline_steps_unknown_execution_same_error(clients):
    arn = EXEC.replace("0123456789ab", "000000000000")
    e1, e2 = both_raise(lambda c, **k: c.list_pipeline_execution_steps(**k), clients, PipelineExecutionArn=arn)
    assert error_of(e1) == error_of(e2)
    assert error_of(e1)[:2] == ("ResourceNotFound", "ResourceNotFound")


# ---- stop / delete ---------------------------------------------------------------------------
def test_stop_equal(clients, clock):
    ours, theirs = clients
    t = clock.freeze()
    ours.create_compilation_job(**job_request("stop-a"))
    theirs.create_compilation_job(**job_request("stop-b"))
    clock.freeze(t + 0.2)   # INPROGRESS
    ra = theirs.stop_compilation_job(CompilationJobName="stop-a")   # each stops the other's job
    rb = ours.stop_compilation_job(CompilationJobName="stop-b")
    assert_same(rb, ra, "StopCompilationJob")
    assert set(rb) == {"ResponseMetadata"}
    for name in ("stop-a", "stop-b"):
        assert _describe(clients, name)["CompilationJobStatus"] == "STOPPING"
    # stopping a STOPPING job is a no-op for both
    _same(clients, "stop_compilation_job", CompilationJobName="stop-a")
    clock.freeze(t + 0.2 + DURATION)
    for name in ("stop-a", "stop-b"):
        d = _describe(clients, name)
        assert d["CompilationJobStatus"] == "STOPPED"
        assert "ModelDigests" not in d


def test_stop_completed_and_unknown_same_errors(clients, clock):
    ours, _ = clients
    t = clock.freeze()
    ours.create_compilation_job(**job_request("done"))
    clock.freeze(t + DURATION)
    assert _describe(clients, "done")["CompilationJobStatus"] == "COMPLETED"
    for name in ("done", "never-created"):
        e1, e2 = both_raise(lambda c, **k: c.stop_compilation_job(**k), clients, CompilationJobName=name)
        assert error_of(e1) == error_of(e2), name
    assert error_of(e1)[1] == "ResourceNotFound"


def test_delete_equal(clients, clock):
    ours, theirs = clients
    t = clock.freeze()
    ours.create_compilation_job(**job_request("del-a"))
    theirs.create_compilation_job(**job_request("del-b"))
    # a running job cannot be deleted: the same ValidationException for both
    e1, e2 = both_raise(lambda c, **k: c.delete_compilation_job(**k), clients, CompilationJobName="del-a")
    assert error_of(e1) == error_of(e2)
    assert error_of(e1)[:2] == ("ClientError", "ValidationException")
    clock.freeze(t + DURATION)
    ra = theirs.delete_compilation_job(CompilationJobName="del-a")
    rb = ours.delete_compilation_job(CompilationJobName="del-b")
    assert_same(rb, ra, "DeleteCompilationJob")
    for name in ("del-a", "del-b"):
        e1, e2 = both_raise(lambda c, **k: c.describe_compilation_job(**k), clients, CompilationJobName=name)
        assert error_of(e1) == error_of(e2) == (
            "ResourceNotFound", "ResourceNotFound", "Could not find compilation job '%s'." % name, 400)
    e1, e2 = both_raise(lambda c, **k: c.delete_compilation_job(**k), clients, CompilationJobName="del-a")
    assert error_of(e1) == error_of(e2)
    assert _same(clients, "list_compilation_jobs")[0]["CompilationJobSummaries"] == []


# ---- errors ----------------------------------------------------------------------------------
def test_resource_not_found_same_exception(clients):
    e1, e2 = both_raise(lambda c, **k: c.describe_compilation_job(**k), clients, CompilationJobName="nope")
    assert error_of(e1) == error_of(e2)
    for client, e in zip(clients, (e1, e2)):
        assert isinstance(e, client.exceptions.ResourceNotFound)
        assert isinstance(e, client.exceptions.ClientError)
        assert e.operation_name == "DescribeCompilationJob"
    assert str(e1) == str(e2)
    assert_same(e1.response, e2.response, "error response")


def test_resource_in_use_same_exception(clients):
    ours, theirs = clients
    ours.create_compilation_job(**job_request("dup"))
    e1, e2 = both_raise(lambda c, **k: c.create_compilation_job(**k), clients, **job_request("dup"))
    assert error_of(e1) == error_of(e2)
    assert error_of(e1)[:2] == ("ResourceInUse", "ResourceInUse")
    assert "already exists" in error_of(e1)[2]
    for client, e in zip(clients, (e1, e2)):
        assert isinstance(e, client.exceptions.ResourceInUse)
    assert str(e1) == str(e2)
    assert_same(e1.response, e2.response, "error response")


def test_service_validation_error_same_exception(server, clients):
    """A request the service refuses (both target kinds), sent by smneo with its
    own validation off: the server's ValidationException reaches both alike."""
    _, theirs = clients
    ours = smneo.Client(validation="off", **_kw(server))
    req = job_request("both-targets")
    req["OutputConfig"]["TargetPlatform"] = {"Os": "LINUX", "Arch": "X86_64"}
    e1, e2 = both_raise(lambda c, **k: c.create_compilation_job(**k), (ours, theirs), **req)
    assert error_of(e1) == error_of(e2)
    assert error_of(e1)[:2] == ("ClientError", "ValidationException")
    assert str(e1) == str(e2)
    assert_same(e1.response, e2.response, "error response")
    # ...while strict smneo refuses it before sending (the one intended difference)
    with pytest.raises(smneo.ParamValidationError):
        clients[0].create_compilation_job(**req)
    ours.close()


# ---- retries ---------------------------------------------------------------------------------
def _fault(server, **fault):
    """Queue a SageMaker fault through the admin endpoint (POST /_smneo/faults)."""
    status, body = admin(server, "POST", "/_smneo/faults", dict(fault, target="sagemaker"))
    assert status == 200 and body["faults"], body
    return fault


def _pending_faults(server):
    status, body = admin(server, "GET", "/_smneo/faults")
    assert status == 200, body
    return body["faults"]


@pytest.mark.parametrize("mode,kind", [("standard", "throttle"), ("standard", "503"), ("legacy", "500")])
def test_faults_retried_by_both(server, clock, kind, mode):
    """One fault, then success: both retry it and report RetryAttempts 1."""
    ours, theirs = _open_clients(server, 3, mode)
    clock.freeze()
    ours.create_compilation_job(**job_request("retry-me", s3uri="s3://models/in/missing.tar.gz"))
    results = []
    for c in (ours, theirs):
        _fault(server, kind=kind, count=1, operation="DescribeCompilationJob")
        results.append(c.describe_compilation_job(CompilationJobName="retry-me"))
        assert _pending_faults(server) == []
    assert results[0]["ResponseMetadata"]["RetryAttempts"] == 1
    assert_same(results[0], results[1], "describe after one %s (%s mode)" % (kind, mode))
    ours.close()


def test_success_on_last_attempt_metadata(server, clock):
    both = _open_clients(server, max_attempts=2)
    clock.freeze()
    both[0].create_compilation_job(**job_request("retry-last"))
    results = []
    for c in both:
        _fault(server, kind="throttle", count=1, operation="DescribeCompilationJob")
        results.append(c.describe_compilation_job(CompilationJobName="retry-last"))
    assert results[1]["ResponseMetadata"]["RetryAttempts"] == 1
    assert_same(results[0], results[1], "describe after 1 throttle, 2 attempts")


def test_throttled_create_is_retried_once_created(server, clients):
    ours, theirs = clients
    results = []
    for c, name in zip(clients, ("thr-a", "thr-b")):
        _fault(server, kind="throttle", count=1, operation="CreateCompilationJob")
        results.append(c.create_compilation_job(**job_request(name)))
    assert_same(results[0], {**results[1], "CompilationJobArn": results[1]["CompilationJobArn"][:-1] + "a"},
                "create after a throttle")
    assert results[0]["ResponseMetadata"]["RetryAttempts"] == 1
    names = [s["CompilationJobName"] for s in _same(clients, "list_compilation_jobs")[0]["CompilationJobSummaries"]]
    assert names == ["thr-a", "thr-b"]


# ---- a create that meets its own job (docs/hostile-input.md) ----------------------------------
def test_create_whose_answer_was_lost_meets_its_own_job(server, clients):
    """The first answer is dropped after the job was made; the retry meets the job. boto3 reports
    the conflict with its own job; smneo describes it, sees the settings it sent, answers the ARN."""
    ours, theirs = clients
    _fault(server, kind="drop", count=1, operation="CreateCompilationJob")
    r = ours.create_compilation_job(**job_request("lost-a"))
    assert _pending_faults(server) == []
    assert r["CompilationJobArn"] == ours.describe_compilation_job(CompilationJobName="lost-a")["CompilationJobArn"]
    assert r["ResponseMetadata"]["RetryAttempts"] == 1 and r["ResponseMetadata"]["HTTPStatusCode"] == 200
    _fault(server, kind="drop", count=1, operation="CreateCompilationJob")
    with pytest.raises(theirs.exceptions.ResourceInUse) as ei:
        theirs.create_compilation_job(**job_request("lost-b"))
    assert ei.value.response["ResponseMetadata"]["RetryAttempts"] == 1
    theirs.describe_compilation_job(CompilationJobName="lost-b")  # it was made, by its first attempt


def test_create_resent_by_libcurl_meets_its_own_job(server):
    """One attempt allowed: only libcurl's own resend (a reused keep-alive connection closed
    without an answer) can send the create twice. smneo counts both copies."""
    ours, theirs = _one_shot(server.url)
    ours.list_compilation_jobs()  # a keep-alive connection to reuse
    _fault(server, kind="drop", count=1, operation="CreateCompilationJob")
    r = ours.create_compilation_job(**job_request("resent"))
    assert r["ResponseMetadata"]["RetryAttempts"] == 1
    assert r["CompilationJobArn"].endswith("compilation-job/resent")
    ours.close()


def test_create_meeting_another_job_is_still_the_error(server, clients):
    """A retried create meets a job of that name with other settings: the same ResourceInUse as
    boto3's (smneo looked at the job first)."""
    ours, theirs = clients
    theirs.create_compilation_job(**job_request("taken", RoleArn="arn:aws:iam::123456789012:role/Other"))
    errors = []
    for c in clients:
        _fault(server, kind="close", count=1, operation="CreateCompilationJob")
        with pytest.raises(c.exceptions.ResourceInUse) as ei:
            c.create_compilation_job(**job_request("taken"))
        errors.append(ei.value)
    assert error_of(errors[0]) == error_of(errors[1])
    assert str(errors[0]) == str(errors[1])
    assert [e.response["ResponseMetadata"]["RetryAttempts"] for e in errors] == [1, 1]
    assert ours.describe_compilation_job(CompilationJobName="taken")["RoleArn"].endswith("role/Other")


def test_throttling_beyond_max_attempts_same_error(server):
    errors = []
    for c in _open_clients(server, max_attempts=2):
        _fault(server, kind="throttle", count=2, operation="ListCompilationJobs")
        with pytest.raises(c.exceptions.ClientError) as ei:
            c.list_compilation_jobs()
        errors.append(ei.value)
        assert _pending_faults(server) == []
    assert error_of(errors[0]) == error_of(errors[1]) == (
        "ClientError", "ThrottlingException", "Rate exceeded", 400)
    assert str(errors[0]) == str(errors[1])
    assert_same(errors[0].response, errors[1].response, "throttled error response")


# ---- waiter ----------------------------------------------------------------------------------
def _poll(client, name, timeout=10):
    import time
    deadline = time.time() + timeout
    while time.time() < deadline:
        d = client.describe_compilation_job(CompilationJobName=name)
        if d["CompilationJobStatus"] in ("COMPLETED", "FAILED", "STOPPED"):
            return d
        time.sleep(0.05)
    raise AssertionError("%s did not finish" % name)


def test_waiter_reaches_the_same_final_description(clients):
    ours, theirs = clients
    theirs.create_compilation_job(**job_request("wait-ok"))
    seen = []
    final = ours.wait_for_compilation_job("wait-ok", delay=0.05, max_delay=0.1, timeout=10,
                                          callback=lambda d: seen.append(d["CompilationJobStatus"]))
    polled = _poll(theirs, "wait-ok")
    assert final["CompilationJobStatus"] == "COMPLETED" and seen[-1] == "COMPLETED"
    assert_same(final, polled, "waiter result vs boto3 polling")


def test_waiter_on_failed_job_same_final_description(clients):
    ours, theirs = clients
    ours.create_compilation_job(**job_request("wait-fail", s3uri="s3://models/in/missing.tar.gz"))
    with pytest.raises(smneo.CompilationJobFailed) as ei:
        ours.wait_for_compilation_job("wait-fail", delay=0.05, max_delay=0.1, timeout=10)
    polled = _poll(theirs, "wait-fail")
    assert polled["CompilationJobStatus"] == "FAILED"
    assert polled["FailureReason"] in str(ei.value)
    last = getattr(ei.value, "last_response", None)
    assert last is not None, "CompilationJobFailed carries the final description as last_response"
    assert_same(last, polled, "failed waiter's last_response vs boto3 polling")


def test_waiter_on_stopped_job_same_final_description(clients, clock):
    ours, theirs = clients
    t = clock.freeze()
    theirs.create_compilation_job(**job_request("wait-stop"))
    clock.freeze(t + 0.2)
    ours.stop_compilation_job(CompilationJobName="wait-stop")
    clock.thaw()   # real time from here on: STOPPING, then STOPPED
    with pytest.raises(smneo.CompilationJobStopped) as ei:
        ours.wait_for_compilation_job("wait-stop", delay=0.05, max_delay=0.1, timeout=10)
    polled = _poll(theirs, "wait-stop")
    assert polled["CompilationJobStatus"] == "STOPPED"
    assert_same(ei.value.last_response, polled, "stopped waiter's last_response vs boto3 polling")


# ---- more faults -----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["close", "truncate", "reset"])
def test_broken_answer_on_fresh_connection_retried_alike(server, kind):
    """The first request of each client (a fresh connection) is hung up on or
    cut short: both clients retry it once and then see the same answer."""
    results = []
    for c in _open_clients(server):
        _fault(server, kind=kind, count=1, operation="ListCompilationJobs")
        results.append(c.list_compilation_jobs())
        assert _pending_faults(server) == []
    assert results[0]["ResponseMetadata"]["RetryAttempts"] == 1
    assert_same(results[0], results[1], "list after one %s" % kind)


def test_close_on_reused_connection_counted_alike(server):
    """A keep-alive connection hung up on before any answer: libcurl sends the request again on a
    fresh connection by itself; the transport reports both copies (smneo_response.sends), so smneo
    reports RetryAttempts 1, as botocore does for its retry after ConnectionClosedError."""
    both = _open_clients(server)
    results = []
    for c in both:
        c.list_compilation_jobs()                  # opens the keep-alive connection
        _fault(server, kind="close", count=1, operation="ListCompilationJobs")
        results.append(c.list_compilation_jobs())
    assert_same(results[0], results[1], "list after a close on a reused connection")


def test_throttled_page_in_a_paginator_retried_alike(server, clients, clock):
    ours, theirs = clients
    clock.freeze()
    for i in range(7):
        ours.create_compilation_job(**job_request("page-%d" % i))
    full = []
    for c in clients:
        run = iter(c.get_paginator("list_compilation_jobs").paginate(PaginationConfig={"PageSize": 3}))
        pages = [next(run)]
        _fault(server, kind="throttle", count=1, operation="ListCompilationJobs")
        pages.extend(run)
        assert _pending_faults(server) == []
        full.append(pages)
    assert [p["ResponseMetadata"]["RetryAttempts"] for p in full[0]] == [0, 1, 0]
    assert_same(full[0], full[1], "pages with a throttled second page")


# ---- the service's own checks, timestamps given as text --------------------------------------
def test_service_list_errors_same_exception(server, clients):
    """Requests only the service refuses (smneo's validation off): the same error for both."""
    lax = smneo.Client(validation="off", **_kw(server))
    theirs = clients[1]
    theirs.create_compilation_job(**job_request("j1"))
    theirs.create_compilation_job(**job_request("j2"))
    token = theirs.list_compilation_jobs(MaxResults=1)["NextToken"]
    cases = [{"MaxResults": 101},
             {"NextToken": "bogus"},
             {"NextToken": token, "SortBy": "Name"}]      # a token bound to other filters
    for params in cases:
        e1, e2 = both_raise(lambda c, **k: c.list_compilation_jobs(**k), (lax, theirs), **params)
        assert error_of(e1) == error_of(e2), params
        assert error_of(e1)[:2] == ("ClientError", "ValidationException")
        assert str(e1) == str(e2)
    # strict smneo refuses the range error before sending (the intended difference)
    with pytest.raises(smneo.ParamValidationError, match="MaxResults"):
        clients[0].list_compilation_jobs(MaxResults=101)
    lax.close()


@pytest.mark.parametrize("value", ["2020-01-01T00:00:00Z", "2020-01-01", "2020-01-01T01:00:00+01:00",
                                   1577836800, 1577836800.5, "1577836800", " 1.5778368e9 ",
                                   datetime.datetime(2020, 1, 1),
                                   datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)])
def test_timestamp_parameter_forms_alike(clients, clock, value):
    ours, theirs = clients
    clock.freeze()  # the job must not change state between the two clients' calls (a loaded machine)
    ours.create_compilation_job(**job_request("ts-job"))
    a, b = _same(clients, "list_compilation_jobs", CreationTimeAfter=value, LastModifiedTimeAfter=value)
    assert [s["CompilationJobName"] for s in a["CompilationJobSummaries"]] == ["ts-job"]
    a, b = _same(clients, "list_compilation_jobs", CreationTimeBefore=value)
    assert a["CompilationJobSummaries"] == []


def test_timestamp_text_that_botocore_refuses_is_refused_too(clients):
    for value in ("yesterday", "0x5E0BE100", "inf", "1577836800s"):
        with pytest.raises(smneo.ParamValidationError, match="CreationTimeAfter"):
            clients[0].list_compilation_jobs(CreationTimeAfter=value)
    # botocore refuses these before sending as well (ParamValidationError or ValueError)
    for value in ("yesterday", "1577836800s"):
        with pytest.raises((botocore.exceptions.ParamValidationError, ValueError)):
            clients[1].list_compilation_jobs(CreationTimeAfter=value)


@pytest.fixture
def far_timezone(monkeypatch):
    """The process runs in UTC+05:30 for the test (naive datetimes and
    botocore's tzlocal() answers then differ from UTC)."""
    import time
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_times_in_a_non_utc_local_timezone(far_timezone, clients, clock):
    """Same instants in both; naive datetimes and zone-less ISO text given as
    parameters mean UTC to both (botocore's parse_to_aware_datetime).
    Both answer in the local zone (issue 13: smneo as botocore's tzlocal()),
    the instants and the offsets the same."""
    ours, theirs = clients
    t = clock.freeze()
    ours.create_compilation_job(**job_request("tz-job"))
    clock.freeze(t + DURATION)
    d = _describe(clients, "tz-job")               # instant for instant
    created = d["CreationTime"]
    assert created.utcoffset() == datetime.timedelta(hours=5, minutes=30)
    assert created.tzname() == "IST"
    boto_created = theirs.describe_compilation_job(CompilationJobName="tz-job")["CreationTime"]
    assert (str(created), created.tzname()) == (str(boto_created), boto_created.tzname())
    assert created.timestamp() == pytest.approx(round(t, 3))
    utc_wall = created.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    for delta, found in ((60, ["tz-job"]), (-60, [])):
        for value in (utc_wall + datetime.timedelta(seconds=delta),
                      (utc_wall + datetime.timedelta(seconds=delta)).strftime("%Y-%m-%dT%H:%M:%S")):
            a, _ = _same(clients, "list_compilation_jobs", CreationTimeBefore=value)
            assert [s["CompilationJobName"] for s in a["CompilationJobSummaries"]] == found, value


def test_default_retry_settings_alike(server, monkeypatch):
    for var in ("AWS_RETRY_MODE", "AWS_MAX_ATTEMPTS", "AWS_CONFIG_FILE", "AWS_DEFAULTS_MODE",
                "AWS_NEW_RETRIES_2026"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    ours = smneo.Client(**_kw(server))
    theirs = boto3.client("sagemaker", **_kw(server))
    assert (ours.max_attempts, theirs.meta.config.retries.get("mode")) == (5, "legacy")
    assert ours.retry_mode == "legacy"


# ---- transport failures (one attempt, no retry) ----------------------------------------------
def _one_shot(url, timeout=None):
    kw = dict(endpoint_url=url, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
    t = {} if timeout is None else {"read_timeout": timeout}
    return (smneo.Client(max_attempts=1, connect_timeout=2, **t, **kw),
            boto3.client("sagemaker", config=Config(retries={"total_max_attempts": 1}, connect_timeout=2, **t),
                         **kw))


def _transport_error(client):
    try:
        client.list_compilation_jobs()
    except Exception as e:  # noqa: BLE001 (the class is what is compared)
        return e
    raise AssertionError("%s did not raise" % type(client).__module__)


def _names(e):
    return [k.__name__ for k in type(e).__mro__]


def test_read_timeout_same_exception(server):
    errors = []
    for c in _one_shot(server.url, timeout=0.3):
        _fault(server, kind="slow", delay=0.8, count=1, operation="ListCompilationJobs")
        errors.append(_transport_error(c))
    assert [type(e).__name__ for e in errors] == ["ReadTimeoutError", "ReadTimeoutError"]
    assert all("HTTPClientError" in _names(e) for e in errors)


def test_connection_refused_same_exception():
    import socket
    with socket.socket() as s:          # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        url = "http://127.0.0.1:%d" % s.getsockname()[1]
    errors = [_transport_error(c) for c in _one_shot(url)]
    assert [type(e).__name__ for e in errors] == ["EndpointConnectionError", "EndpointConnectionError"]
    assert not isinstance(errors[0], smneo.ConnectionClosedError)


@pytest.mark.parametrize("kind", ["close", "truncate"])
def test_broken_answer_same_exception_base(server, kind):
    errors = []
    for c in _one_shot(server.url):
        _fault(server, kind=kind, count=1, operation="ListCompilationJobs")
        errors.append(_transport_error(c))
    assert all("HTTPClientError" in _names(e) for e in errors), [_names(e) for e in errors]


def test_closed_connection_same_exception_class(server):
    errors = []
    for c in _one_shot(server.url):
        _fault(server, kind="close", count=1, operation="ListCompilationJobs")
        errors.append(_transport_error(c))
    assert [type(e).__name__ for e in errors] == ["ConnectionClosedError", "ConnectionClosedError"]
    assert isinstance(errors[0], smneo.HTTPClientError)
    assert not isinstance(errors[0], smneo.EndpointConnectionError)
