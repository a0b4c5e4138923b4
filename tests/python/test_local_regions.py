"""smneo.local serves every region a request is signed for, each with its own
jobs, buckets' regions and logs; --region pins one."""
import pytest

from local_fixtures import Server, client, error_of, job_request, tgz
from local_fixtures import server  # noqa: F401  (fixture)

from botocore.exceptions import ClientError  # noqa: E402


def _wait_terminal(sm, name):
    import time
    deadline = time.time() + 10
    while time.time() < deadline:
        d = sm.describe_compilation_job(CompilationJobName=name)
        if d["CompilationJobStatus"] in ("COMPLETED", "FAILED"):
            return d
        time.sleep(0.03)
    raise AssertionError("job %s did not finish" % name)


def test_each_region_has_its_own_jobs_and_buckets(server):
    east = {s: client(server, s) for s in ("s3", "sagemaker", "logs")}
    west = {s: client(server, s, region="eu-west-2") for s in ("s3", "sagemaker", "logs")}
    east["s3"].create_bucket(Bucket="models")
    with pytest.raises(ClientError) as e:
        west["s3"].create_bucket(Bucket="models-west")
    assert error_of(e)[0] == "IllegalLocationConstraintException"
    west["s3"].create_bucket(Bucket="models-west", CreateBucketConfiguration={
        "LocationConstraint": "eu-west-2"})
    assert west["s3"].head_bucket(Bucket="models-west")["ResponseMetadata"][
        "HTTPHeaders"]["x-amz-bucket-region"] == "eu-west-2"
    assert west["s3"].get_bucket_location(Bucket="models-west")[
        "LocationConstraint"] == "eu-west-2"
    archive = tgz({"model.pth": b"w"})
    east["s3"].put_object(Bucket="models", Key="in/model.tar.gz", Body=archive)
    west["s3"].put_object(Bucket="models-west", Key="in/model.tar.gz", Body=archive)
    arns = {}
    for region, c, bucket in (("us-east-1", east, "models"),
                              ("eu-west-2", west, "models-west")):
        arns[region] = c["sagemaker"].create_compilation_job(**job_request(
            "Same-Name", s3uri="s3://%s/in/model.tar.gz" % bucket,
            out="s3://%s/out" % bucket))["CompilationJobArn"]
    assert arns == {r: "arn:aws:sagemaker:%s:123456789012:compilation-job/same-name" % r
                    for r in arns}
    # a job reading a bucket of another region fails as the service says
    west["sagemaker"].create_compilation_job(**job_request(
        "cross", s3uri="s3://models/in/model.tar.gz", out="s3://models-west/out"))
    assert _wait_terminal(west["sagemaker"], "Same-Name")["CompilationJobStatus"] == \
        "COMPLETED"
    assert _wait_terminal(west["sagemaker"], "cross")["FailureReason"] == (
        "ClientError: InputConfiguration: Bucket models is in region us-east-1 which is "
        "different from AWS Sagemaker service region eu-west-2")
    names = {r: [j["CompilationJobName"] for j in c["sagemaker"].list_compilation_jobs()[
        "CompilationJobSummaries"]] for r, c in (("us-east-1", east), ("eu-west-2", west))}
    assert names == {"us-east-1": ["Same-Name"], "eu-west-2": ["Same-Name", "cross"]}
    # and its log is in that region's log group
    streams = west["logs"].describe_log_streams(
        logGroupName="/aws/sagemaker/CompilationJobs", logStreamNamePrefix="cross")
    assert streams["logStreams"][0]["arn"].startswith("arn:aws:logs:eu-west-2:")
    assert [r["region"] for r in server.requests("sagemaker")][:2] == \
        ["us-east-1", "eu-west-2"]


def test_pinned_region_refuses_sts_and_logs_elsewhere():
    with Server(region="eu-west-1") as srv:
        client(srv, "sts", region="eu-west-1").get_caller_identity()
        for service, call, code in (
                ("sts", lambda c: c.get_caller_identity(), "SignatureDoesNotMatch"),
                ("logs", lambda c: c.describe_log_streams(logGroupName="g"),
                 "InvalidSignatureException")):
            with pytest.raises(ClientError) as e:
                call(client(srv, service, region="us-west-2"))
            assert error_of(e) == (code, 403, "Credential should be scoped to a valid "
                                   "region, not 'us-west-2'. ")
