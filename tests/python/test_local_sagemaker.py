"""smneo.local, SageMaker side, driven through boto3."""
import datetime
import hashlib
import io
import json
import tarfile
import time

import pytest

from local_fixtures import ROLE, FakeClock, Server, client, job_request, tgz
from local_fixtures import s3, server, sm  # noqa: F401  (fixtures)

botocore = pytest.importorskip("botocore")
from botocore.exceptions import ClientError  # noqa: E402


def _error(excinfo):
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


def _wait(sm, name, until=("COMPLETED", "FAILED", "STOPPED"), timeout=10):
    seen = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        d = sm.describe_compilation_job(CompilationJobName=name)
        if not seen or seen[-1] != d["CompilationJobStatus"]:
            seen.append(d["CompilationJobStatus"])
        if d["CompilationJobStatus"] in until:
            return d, seen
        time.sleep(0.03)
    raise AssertionError("job %s stuck in %s" % (name, seen))


@pytest.fixture
def models(s3):
    s3.create_bucket(Bucket="models")
    s3.put_object(Bucket="models", Key="in/model.tar.gz",
                  Body=tgz({"model.pth": b"weights" * 50, "code/inference.py": b"pass\n"}))
    return s3


def test_lifecycle_transitions_and_times():
    clock = FakeClock()
    with Server(job_duration=4.0, clock=clock) as srv:
        s3 = client(srv, "s3")
        sm = client(srv, "sagemaker")
        s3.create_bucket(Bucket="models")
        archive = tgz({"model.pth": b"w" * 100, "code/inference.py": b"pass\n"})
        s3.put_object(Bucket="models", Key="in/resnet.tar.gz", Body=archive)
        arn = sm.create_compilation_job(**job_request(
            "Resnet-1", s3uri="s3://models/in/resnet.tar.gz"))["CompilationJobArn"]
        assert arn == "arn:aws:sagemaker:us-east-1:123456789012:compilation-job/resnet-1"

        def at(offset):
            clock.now = 1700000000.0 + offset
            return sm.describe_compilation_job(CompilationJobName="Resnet-1")

        d = at(0.5)
        assert d["CompilationJobStatus"] == "STARTING"
        assert "CompilationStartTime" not in d and "ModelDigests" not in d
        assert d["LastModifiedTime"].timestamp() == 1700000000.0
        d = at(1.5)
        assert d["CompilationJobStatus"] == "INPROGRESS"
        assert d["CompilationStartTime"].timestamp() == 1700000001.0
        assert d["LastModifiedTime"].timestamp() == 1700000001.0
        assert "CompilationEndTime" not in d
        final = at(4.0)
        assert final["CompilationJobStatus"] == "COMPLETED"
        assert final["CompilationEndTime"].timestamp() == 1700000004.0
        assert final["LastModifiedTime"] == final["CompilationEndTime"]
        assert final["CreationTime"].timestamp() == 1700000000.0
        # the outcome is settled once: later looks do not recompile
        assert at(100)["ModelDigests"] == final["ModelDigests"]
    assert final["CompilationJobArn"] == arn
    assert final["FailureReason"] == ""
    assert final["ModelArtifacts"]["S3ModelArtifacts"] == "s3://models/out/resnet-ml_c5.tar.gz"
    assert final["InputConfig"]["Framework"] == "PYTORCH"
    assert final["OutputConfig"] == {"S3OutputLocation": "s3://models/out",
                                     "TargetDevice": "ml_c5"}
    assert final["RoleArn"] == ROLE
    assert final["InferenceImage"] == "smneo.local/no-inference-image:pytorch-ml_c5"


def test_lifecycle_in_real_time():
    with Server(job_duration=0.8) as srv:
        client(srv, "s3").create_bucket(Bucket="models")
        sm = client(srv, "sagemaker")
        sm.create_compilation_job(**job_request("rt"))
        final, seen = _wait(sm, "rt")
    assert seen[-1] == "FAILED"  # no input archive uploaded
    assert seen == ["STARTING", "INPROGRESS", "FAILED"][-len(seen):]


def test_artifact_content_and_blake2b_digest(models, sm):
    sm.create_compilation_job(**job_request("j1"))
    final, _ = _wait(sm, "j1")
    assert final["CompilationJobStatus"] == "COMPLETED"
    body = models.get_object(Bucket="models", Key="out/model-ml_c5.tar.gz")["Body"].read()
    assert final["ModelDigests"]["ArtifactDigest"] == hashlib.blake2b(body).hexdigest()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tf:
        names = sorted(tf.getnames())
        manifest = json.loads(tf.extractfile("smneo-local-manifest.json").read())
        assert tf.extractfile("model.pth").read() == b"weights" * 50
    assert names == ["code/inference.py", "model.pth", "smneo-local-manifest.json"]
    assert manifest["producedBy"] == "smneo.local"
    assert "NOT a compiled model" in manifest["notice"]
    assert manifest["Target"] == "ml_c5" and manifest["Framework"] == "PYTORCH"


def test_target_platform_names_artifact_and_summary(models, sm):
    sm.create_compilation_job(**job_request(
        "plat", target={"Os": "LINUX", "Arch": "ARM64", "Accelerator": "NVIDIA"}))
    final, _ = _wait(sm, "plat")
    assert final["ModelArtifacts"]["S3ModelArtifacts"] == \
        "s3://models/out/model-LINUX_ARM64_NVIDIA.tar.gz"
    s = sm.list_compilation_jobs()["CompilationJobSummaries"][0]
    assert (s["CompilationTargetPlatformOs"], s["CompilationTargetPlatformArch"],
            s["CompilationTargetPlatformAccelerator"]) == ("LINUX", "ARM64", "NVIDIA")
    assert "CompilationTargetDevice" not in s


def test_stop_moves_through_stopping_to_stopped():
    clock = FakeClock()
    with Server(job_duration=8.0, clock=clock) as srv:
        client(srv, "s3").create_bucket(Bucket="models")
        sm = client(srv, "sagemaker")
        sm.create_compilation_job(**job_request("stopme"))
        clock.now += 3
        sm.stop_compilation_job(CompilationJobName="stopme")
        d = sm.describe_compilation_job(CompilationJobName="stopme")
        assert d["CompilationJobStatus"] == "STOPPING"
        assert d["LastModifiedTime"].timestamp() == clock.now
        # stopping twice is fine while it stops
        sm.stop_compilation_job(CompilationJobName="stopme")
        clock.now += 1.0
        final = sm.describe_compilation_job(CompilationJobName="stopme")
        assert final["CompilationJobStatus"] == "STOPPED"
        assert "ModelDigests" not in final
        assert final["CompilationEndTime"].timestamp() == clock.now
        assert final["CompilationStartTime"].timestamp() == 1700000002.0
        # a stopped job does not finish later
        clock.now += 100
        assert sm.describe_compilation_job(
            CompilationJobName="stopme")["CompilationJobStatus"] == "STOPPED"
        listed = sm.list_compilation_jobs(StatusEquals="STOPPED")["CompilationJobSummaries"]
        assert [s["CompilationJobName"] for s in listed] == ["stopme"]
        with pytest.raises(ClientError):
            client(srv, "s3").head_object(Bucket="models", Key="out/model-ml_c5.tar.gz")


def test_stop_finished_job_is_refused(models, sm):
    sm.create_compilation_job(**job_request("done"))
    _wait(sm, "done")
    with pytest.raises(ClientError) as e:
        sm.stop_compilation_job(CompilationJobName="done")
    code, msg, status = _error(e)
    assert (code, status) == ("ValidationException", 400)
    assert "COMPLETED" in msg


def test_delete_refuses_running_job_then_deletes(models, sm):
    sm.create_compilation_job(**job_request("del"))
    with pytest.raises(ClientError) as e:
        sm.delete_compilation_job(CompilationJobName="del")
    code, msg, status = _error(e)
    assert code == "ValidationException" and "STOPPED" in msg and status == 400
    _wait(sm, "del")
    sm.delete_compilation_job(CompilationJobName="del")
    with pytest.raises(ClientError) as e:
        sm.describe_compilation_job(CompilationJobName="del")
    assert _error(e) == ("ResourceNotFound", "Could not find compilation job 'del'.", 400)


@pytest.mark.parametrize("op", ["describe_compilation_job", "stop_compilation_job",
                                "delete_compilation_job"])
def test_unknown_job_is_resource_not_found(sm, op):
    with pytest.raises(ClientError) as e:
        getattr(sm, op)(CompilationJobName="ghost")
    assert _error(e) == ("ResourceNotFound", "Could not find compilation job 'ghost'.", 400)


def test_duplicate_name_is_resource_in_use(models, sm):
    sm.create_compilation_job(**job_request("twice"))
    with pytest.raises(ClientError) as e:
        sm.create_compilation_job(**job_request("twice"))
    code, msg, status = _error(e)
    assert (code, status) == ("ResourceInUse", 400) and "twice" in msg


FAIL_CASES = [
    ("missing", "s3://models/in/absent.tar.gz", "PYTORCH", None,
     "S3 object does not exist. Bucket: models, Key: in/absent.tar.gz"),
    ("not-gzip", "s3://models/in/plain.tar.gz", "PYTORCH", b"not an archive at all",
     "Unable to untar input model. Please confirm the model is a tar.gz file"),
    ("pt-missing", "s3://models/in/x.tar.gz", "PYTORCH", {"model.onnx": b"x"},
     ".pt or .pth"),
    ("tf-missing", "s3://models/in/x.tar.gz", "TENSORFLOW", {"variables/v": b"x"},
     "Exactly one .pb file is allowed for TensorFlow models."),
    ("keras-missing", "s3://models/in/x.tar.gz", "KERAS", {"m.json": b"x"},
     "No h5 file provided in s3://models/in/keras-missing.tar.gz"),
    ("keras-two", "s3://models/in/x.tar.gz", "KERAS", {"a.h5": b"x", "b.h5": b"x"},
     "Multiple h5 files provided"),
    ("mxnet-two", "s3://models/in/x.tar.gz", "MXNET",
     {"m-symbol.json": b"{}", "a.params": b"x", "b.params": b"x"},
     "Only one parameter file is allowed for MXNet model."),
    ("mxnet-half", "s3://models/in/x.tar.gz", "MXNET", {"m-symbol.json": b"{}"},
     ".params"),
    ("onnx-missing", "s3://models/in/x.tar.gz", "ONNX", {"m.pt": b"x"}, ".onnx"),
    ("tflite-missing", "s3://models/in/x.tar.gz", "TFLITE", {"m.pb": b"x"}, ".tflite"),
    ("darknet-half", "s3://models/in/x.tar.gz", "DARKNET", {"y.cfg": b"x"}, ".weights"),
    ("xgb-empty", "s3://models/in/x.tar.gz", "XGBOOST", {}, "contains no files"),
]


def test_failed_jobs_give_service_style_reason(models, sm):
    # All cases run side by side: one job duration for the lot.
    for name, uri, framework, content, _ in FAIL_CASES:
        if content is not None:
            key = uri.split("/", 3)[3].replace("x.tar.gz", name + ".tar.gz")
            body = content if isinstance(content, bytes) else tgz(content)
            models.put_object(Bucket="models", Key=key, Body=body)
            uri = "s3://models/" + key
        sm.create_compilation_job(**job_request(name, s3uri=uri, framework=framework))
    for name, uri, framework, content, reason in FAIL_CASES:
        final, seen = _wait(sm, name)
        assert final["CompilationJobStatus"] == "FAILED", name
        assert "COMPLETED" not in seen, name
        assert final["FailureReason"].startswith("ClientError: "), name
        assert reason in final["FailureReason"], (name, final["FailureReason"])
        assert "ModelDigests" not in final, name


FRAMEWORK_FILES = [
    ("TENSORFLOW", {"1/saved_model.pb": b"x"}),
    ("TENSORFLOW", {"frozen.pb": b"x"}),
    ("KERAS", {"m.h5": b"x"}),
    ("MXNET", {"m-symbol.json": b"{}", "m-0000.params": b"x"}),
    ("ONNX", {"m.onnx": b"x"}),
    ("TFLITE", {"m.tflite": b"x"}),
    ("XGBOOST", {"xgboost-model": b"x"}),
    ("DARKNET", {"y.cfg": b"x", "y.weights": b"x"}),
]


def test_each_framework_completes_with_its_files(models, sm):
    for i, (framework, files) in enumerate(FRAMEWORK_FILES):
        models.put_object(Bucket="models", Key="in/fw%d.tar.gz" % i, Body=tgz(files))
        sm.create_compilation_job(**job_request(
            "fw%d" % i, s3uri="s3://models/in/fw%d.tar.gz" % i, framework=framework))
    for i, (framework, _) in enumerate(FRAMEWORK_FILES):
        final, _ = _wait(sm, "fw%d" % i)
        assert final["CompilationJobStatus"] == "COMPLETED", (framework,
                                                              final["FailureReason"])
        assert final["ModelArtifacts"]["S3ModelArtifacts"] == \
            "s3://models/out/fw%d-ml_c5.tar.gz" % i


def test_failed_when_output_bucket_missing(models, sm):
    sm.create_compilation_job(**job_request("nobucket", out="s3://absent-bucket/o"))
    final, _ = _wait(sm, "nobucket")
    assert final["CompilationJobStatus"] == "FAILED"
    assert "absent-bucket" in final["FailureReason"]


# ---- request validation --------------------------------------------------------

def _create_raw(sm, **kw):
    """Call CreateCompilationJob with client-side validation off."""
    with pytest.raises(ClientError) as e:
        sm.create_compilation_job(**kw)
    return _error(e)


@pytest.fixture
def sm_raw(server):
    return client(server, "sagemaker", parameter_validation=False)


def test_model_constraints_are_checked(sm_raw):
    req = job_request("bad_name!", target="ml_c5")
    req["StoppingCondition"] = {"MaxRuntimeInSeconds": 0}
    req["OutputConfig"]["TargetDevice"] = "toaster"
    del req["RoleArn"]
    code, msg, status = _create_raw(sm_raw, **req)
    assert (code, status) == ("ValidationException", 400)
    assert msg.startswith("4 validation errors detected: ")
    assert "Value null at 'roleArn' failed to satisfy constraint: Member must not be null" in msg
    assert ("Value 'bad_name!' at 'compilationJobName' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern") in msg
    assert "at 'outputConfig.targetDevice' failed to satisfy constraint: Member must " \
           "satisfy enum value set: [lambda, ml_m4" in msg
    assert "Value '0' at 'stoppingCondition.maxRuntimeInSeconds' failed to satisfy " \
           "constraint: Member must have value greater than or equal to 1" in msg


def test_exactly_one_target_is_required(sm_raw):
    code, msg, _ = _create_raw(sm_raw, **job_request("t", target=None))
    assert code == "ValidationException" and "TargetDevice" in msg
    req = job_request("t2")
    req["OutputConfig"]["TargetPlatform"] = {"Os": "LINUX", "Arch": "X86_64"}
    code, msg, _ = _create_raw(sm_raw, **req)
    assert code == "ValidationException" and "Exactly one of" in msg


def test_input_or_model_package_exclusive(sm_raw):
    req = job_request("p")
    del req["InputConfig"]
    code, msg, _ = _create_raw(sm_raw, **req)
    assert code == "ValidationException" and "InputConfig" in msg


def test_data_input_config_must_be_json(sm_raw):
    req = job_request("dic")
    req["InputConfig"]["DataInputConfig"] = "input0: 1,3,224,224"
    code, msg, _ = _create_raw(sm_raw, **req)
    assert code == "ValidationException" and "DataInputConfig" in msg


def test_data_input_config_python_literal_is_accepted(sm_raw):
    """The Python-dict form of AWS's CreateCompilationJob example is
    accepted by the service, so the local endpoint takes it too."""
    req = job_request("dicpy")
    req["InputConfig"]["DataInputConfig"] = "{'input0': [1, 3, 224, 224]}"
    sm_raw.create_compilation_job(**req)
    d = sm_raw.describe_compilation_job(CompilationJobName="dicpy")
    assert d["InputConfig"]["DataInputConfig"] == "{'input0': [1, 3, 224, 224]}"
    req = job_request("dicpy2")
    req["InputConfig"]["DataInputConfig"] = "{'input0': __import__('os')}"
    code, msg, _ = _create_raw(sm_raw, **req)
    assert code == "ValidationException" and "DataInputConfig" in msg


def raw_call(server, operation, body):
    """POST a signed SageMaker request with a body boto3 would not send."""
    import urllib.error
    import urllib.request
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = AWSRequest(method="POST", url=server.url + "/", data=data, headers={
        "X-Amz-Target": "SageMaker." + operation,
        "Content-Type": "application/x-amz-json-1.1"})
    SigV4Auth(Credentials("test", "test"), "sagemaker", "us-east-1").add_auth(req)
    p = req.prepare()
    try:
        r = urllib.request.urlopen(urllib.request.Request(
            p.url, data=data, headers=dict(p.headers), method="POST"), timeout=10)
    except urllib.error.HTTPError as e:
        r = e
    return r.status, r.headers, json.loads(r.read() or b"{}")


def test_wrong_json_type_is_serialization_exception(server):
    status, _, doc = raw_call(server, "CreateCompilationJob",
                              dict(job_request("x"), StoppingCondition="900"))
    assert (status, doc["__type"]) == (400, "SerializationException")
    status, _, doc = raw_call(server, "DescribeCompilationJob", b"{not json")
    assert (status, doc["__type"]) == (400, "SerializationException")


def test_unknown_operation(server):
    status, _, doc = raw_call(server, "CreateTrainingJob", {})
    assert (status, doc["__type"]) == (400, "UnknownOperationException")


def test_max_results_bounds(sm_raw):
    with pytest.raises(ClientError) as e:
        sm_raw.list_compilation_jobs(MaxResults=101)
    code, msg, _ = _error(e)
    assert code == "ValidationException" and "less than or equal to 100" in msg


def test_timestamps_are_epoch_numbers_and_request_id_present(server, models, sm):
    sm.create_compilation_job(**job_request("raw"))
    status, headers, doc = raw_call(server, "DescribeCompilationJob",
                                    {"CompilationJobName": "raw"})
    assert status == 200
    assert headers["x-amzn-RequestId"]
    assert headers["Content-Type"] == "application/x-amz-json-1.1"
    assert isinstance(doc["CreationTime"], (int, float))
    assert abs(doc["CreationTime"] - time.time()) < 30
    assert set(doc) >= {"CompilationJobName", "CompilationJobArn", "CompilationJobStatus",
                        "StoppingCondition", "CreationTime", "LastModifiedTime",
                        "FailureReason", "ModelArtifacts", "RoleArn", "InputConfig",
                        "OutputConfig"}


# ---- ListCompilationJobs --------------------------------------------------------

def test_pagination_over_many_jobs_with_filters_and_sort(models, sm):
    names = ["job-%03d" % i for i in range(130)]
    for n in names:
        sm.create_compilation_job(**job_request(n, target="ml_m5" if int(n[4:]) % 2
                                                else "ml_c5"))
    sm.create_compilation_job(**job_request("other-1"))
    pages = list(sm.get_paginator("list_compilation_jobs").paginate(
        NameContains="job-", SortBy="Name", SortOrder="Descending",
        PaginationConfig={"PageSize": 50}))
    assert [len(p["CompilationJobSummaries"]) for p in pages] == [50, 50, 30]
    got = [s["CompilationJobName"] for p in pages for s in p["CompilationJobSummaries"]]
    assert got == sorted(names, reverse=True)
    # default page size is 10 and the order defaults to CreationTime ascending
    first = sm.list_compilation_jobs()
    assert len(first["CompilationJobSummaries"]) == 10 and "NextToken" in first
    assert first["CompilationJobSummaries"][0]["CompilationJobName"] == "job-000"
    # a token is bound to the query that produced it
    with pytest.raises(ClientError) as e:
        sm.list_compilation_jobs(NextToken=first["NextToken"], NameContains="other")
    assert _error(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        sm.list_compilation_jobs(NextToken="garbage")
    assert _error(e)[0] == "ValidationException"


def test_list_filters_by_time_status_and_name():
    with Server(job_duration=0.3) as srv:
        client(srv, "s3").create_bucket(Bucket="models")
        sm = client(srv, "sagemaker")
        sm.create_compilation_job(**job_request("early-a"))
        sm.create_compilation_job(**job_request("early-b"))
        # boto3 sends whole epoch seconds: put the boundary on the next second
        boundary = int(time.time()) + 1
        time.sleep(boundary - time.time() + 0.02)
        middle = datetime.datetime.fromtimestamp(boundary, datetime.timezone.utc)
        sm.create_compilation_job(**job_request("late-c"))

        def names(**kw):
            out = sm.list_compilation_jobs(MaxResults=100, **kw)
            return [s["CompilationJobName"] for s in out["CompilationJobSummaries"]]

        assert names(CreationTimeBefore=middle) == ["early-a", "early-b"]
        assert names(CreationTimeAfter=middle) == ["late-c"]
        assert names(NameContains="EARLY") == ["early-a", "early-b"]
        assert names(SortBy="CreationTime", SortOrder="Descending") == \
            ["late-c", "early-b", "early-a"]
        assert names(StatusEquals="COMPLETED") == []
        time.sleep(0.4)
        assert names(StatusEquals="FAILED") == ["early-a", "early-b", "late-c"]
        now = datetime.datetime.now(datetime.timezone.utc)
        hour = datetime.timedelta(hours=1)
        assert names(LastModifiedTimeAfter=now - hour, SortBy="Name") == \
            ["early-a", "early-b", "late-c"]
        assert names(LastModifiedTimeBefore=now - hour) == []
        assert names(LastModifiedTimeAfter=now + hour) == []
        assert "late-c" in names(LastModifiedTimeAfter=middle)
        assert names(SortBy="Status", StatusEquals="FAILED", SortOrder="Descending") == \
            ["late-c", "early-b", "early-a"]


# ---- ListPipelineExecutionSteps --------------------------------------------------

PIPE = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p1/execution/abc123"


def test_pipeline_steps_from_seed_file(tmp_path):
    steps = [{"StepName": "Step%d" % i, "StepStatus": "Succeeded",
              "StartTime": "2024-01-01T00:0%d:00Z" % i,
              "EndTime": 1704067200 + i * 60 + 30,
              "Metadata": {"TrainingJob": {
                  "Arn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/t%d" % i}}}
             for i in range(5)]
    path = tmp_path / "pipes.json"
    path.write_text(json.dumps({PIPE: steps}))
    with Server(pipelines=str(path)) as srv:
        sm = client(srv, "sagemaker")
        pages = list(sm.get_paginator("list_pipeline_execution_steps").paginate(
            PipelineExecutionArn=PIPE, SortOrder="Ascending",
            PaginationConfig={"PageSize": 2}))
        got = [s["StepName"] for p in pages for s in p["PipelineExecutionSteps"]]
        assert got == ["Step0", "Step1", "Step2", "Step3", "Step4"]
        assert len(pages) == 3
        desc = sm.list_pipeline_execution_steps(PipelineExecutionArn=PIPE)
        assert [s["StepName"] for s in desc["PipelineExecutionSteps"]][0] == "Step4"
        s0 = pages[0]["PipelineExecutionSteps"][0]
        assert s0["StartTime"] == datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
        assert s0["Metadata"]["TrainingJob"]["Arn"].endswith("training-job/t0")
        with pytest.raises(ClientError) as e:
            sm.list_pipeline_execution_steps(PipelineExecutionArn=PIPE.replace("abc", "zzz"))
        assert _error(e)[0] == "ResourceNotFound"


def test_pipeline_seed_file_errors_name_the_entry(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({PIPE: [{"StepName": "s", "StepStatus": "Sleeping"}]}))
    with pytest.raises(ValueError) as e:
        Server(pipelines=str(path))
    assert "stepStatus" in str(e.value) and PIPE in str(e.value)


# ---- the concurrent-job limit and chosen failures --------------------------------

def test_concurrent_job_limit():
    clock = FakeClock()
    with Server(job_duration=4.0, clock=clock, max_concurrent_jobs=2) as srv:
        client(srv, "s3").create_bucket(Bucket="models")
        sm = client(srv, "sagemaker")
        sm.create_compilation_job(**job_request("a"))
        clock.now += 1.5                           # a: INPROGRESS
        sm.create_compilation_job(**job_request("b"))
        with pytest.raises(ClientError) as e:
            sm.create_compilation_job(**job_request("c"))
        assert _error(e) == ("ResourceLimitExceeded", (
            "The account-level service limit 'Number of concurrent compilation jobs' is 2 "
            "Jobs, with current utilization of 2 Jobs and a request delta of 1 Jobs. "
            "Please use AWS Service Quotas to request an increase for this quota. If AWS "
            "Service Quotas is not available, contact AWS support to request an increase "
            "for this quota."), 400)
        clock.now += 3                             # a finished (FAILED: no input)
        sm.create_compilation_job(**job_request("c"))
        srv.configure(max_concurrent_jobs=None)
        sm.create_compilation_job(**job_request("d"))
    with pytest.raises(ValueError):
        Server(max_concurrent_jobs=0)


def test_fail_faults_choose_jobs_by_name_and_target(models, sm, server):
    server.fail_jobs("input-shape-mismatch", job="edge-*", device="jetson_*", rate=1.0)
    server.add_fault({"kind": "fail", "reason": "ClientError: custom {job} on {target}",
                      "log": ["custom line"], "job": "custom"})
    for name, target in (("edge-nano", "jetson_nano"), ("edge-c5", "ml_c5"),
                         ("cloud-nano", "jetson_nano"), ("custom", "ml_c5")):
        sm.create_compilation_job(**job_request(name, target=target))
    reasons = {n: _wait(sm, n)[0]["FailureReason"] for n in
               ("edge-nano", "edge-c5", "cloud-nano", "custom")}
    assert reasons == {
        "edge-nano": "ClientError: InputConfiguration: Input input0 has wrong shape in "
                     "Input Shape dictionary. Input shapes should be provided in NCHW "
                     "format.",
        "edge-c5": "", "cloud-nano": "", "custom": "ClientError: custom custom on ml_c5"}
    assert [f["kind"] for f in server.list_faults()] == ["fail"]   # rate: stays
    with pytest.raises(ValueError) as e:
        server.fail_jobs("no-such-failure")
    assert "unsupported-operator" in str(e.value)
