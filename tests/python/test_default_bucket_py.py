"""compile() and compile_many() without s3_bucket: the SageMaker Python SDK's
default bucket sagemaker-{region}-{account} (account from STS
GetCallerIdentity), checked with HeadBucket + ExpectedBucketOwner, created
when missing (with a LocationConstraint outside us-east-1), refused when
another account owns it. Against smneo.local."""
import os
import shutil

import pytest

import smneo
import smneo.local
from fakes import isolated_env  # noqa: F401

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLE = "arn:aws:iam::123456789012:role/NeoRole"
ACCOUNT = "123456789012"


@pytest.fixture
def model(tmp_path):
    d = tmp_path / "resnet"
    d.mkdir()
    shutil.copy(os.path.join(ROOT, "examples", "model", "model.pt"), d / "model.pt")
    return d


def client_for(server, region):
    return smneo.Client(region_name=region, endpoint_url=server.url, aws_access_key_id="test",
                        aws_secret_access_key="test")


def s3_ops(server, name):
    return [r for r in server.requests("s3") if r["operation"] == name]


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_compile_creates_the_default_bucket_once(isolated_env, model, tmp_path, region):
    with smneo.local.Server(port=0, job_duration=0.2) as server, client_for(server, region) as client:
        kw = dict(framework="PYTORCH", role_arn=ROLE, target_device="ml_c5", data_input_config={"input0": [1, 4]},
                  delay=0.05, output_dir=tmp_path / "out")
        r = client.compile(model, **kw)
        bucket = "sagemaker-%s-%s" % (region, ACCOUNT)
        assert r.input_uri.startswith("s3://%s/smneo/" % bucket)
        assert r.job["OutputConfig"]["S3OutputLocation"].startswith("s3://%s/" % bucket)
        assert r.digest_verified
        heads = s3_ops(server, "HeadBucket")
        assert heads and heads[0]["status"] == 404
        created = s3_ops(server, "CreateBucket")
        assert [c["status"] for c in created] == [200]  # the LocationConstraint matched the region
        assert created[0]["region"] == region
        assert [s["operation"] for s in server.requests("sts")] == ["GetCallerIdentity"]
        # a second compile finds it (HeadBucket 200) and creates nothing
        client.compile(model, **kw)
        assert len(s3_ops(server, "CreateBucket")) == 1
        assert s3_ops(server, "HeadBucket")[-1]["status"] == 200


def test_a_default_bucket_owned_by_another_account_is_refused(isolated_env, model, tmp_path):
    with smneo.local.Server(port=0, job_duration=0.2) as server, client_for(server, "us-east-1") as client:
        bucket = "sagemaker-us-east-1-%s" % ACCOUNT
        server.create_bucket(bucket, owner="999999999999")
        with pytest.raises(smneo.ClientError) as e:
            client.compile(model, framework="PYTORCH", role_arn=ROLE, target_device="ml_c5",
                           data_input_config={"input0": [1, 4]}, output_dir=tmp_path / "out")
        text = str(e.value)
        assert "bucket: the default bucket %s is not owned by account %s" % (bucket, ACCOUNT) in text
        assert "give a bucket of yours" in text
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        # nothing was uploaded to it, no job was created
        assert s3_ops(server, "PutObject") == [] and s3_ops(server, "CreateMultipartUpload") == []
        assert [r for r in server.requests("sagemaker") if r["operation"] == "CreateCompilationJob"] == []


def test_compile_many_resolves_the_default_bucket_once(isolated_env, model, tmp_path):
    with smneo.local.Server(port=0, job_duration=0.2) as server, client_for(server, "us-east-1") as client:
        rows = client.compile_many(models=[model], targets=["ml_c5", "ml_m5", "LINUX/ARM64"], framework="PYTORCH",
                                   role_arn=ROLE, data_input_config={"input0": [1, 4]}, delay=0.05,
                                   output_dir=tmp_path / "out")
        assert [r.compilation_job_status for r in rows] == ["COMPLETED"] * 3
        assert len(server.requests("sts")) == 1
        assert len(s3_ops(server, "HeadBucket")) == 1
        assert len(s3_ops(server, "CreateBucket")) == 1
        jobs = [r for r in server.requests("sagemaker") if r["operation"] == "CreateCompilationJob"]
        assert all(j["params"]["OutputConfig"]["S3OutputLocation"].startswith("s3://sagemaker-us-east-1-%s/" % ACCOUNT)
                   for j in jobs)


def test_compile_many_validates_every_job_before_creating_the_default_bucket(isolated_env, model, tmp_path):
    """A mistake in the last job: refused before any side effect, the default
    bucket not created (smneo.local's state, seen through boto3)."""
    boto3 = pytest.importorskip("boto3")
    with smneo.local.Server(port=0, job_duration=0.2) as server, client_for(server, "us-east-1") as client:
        jobs = [{"model": model, "target_device": t} for t in ("ml_c5", "ml_m5", "ml_c99")]
        with pytest.raises(smneo.ParamValidationError) as e:
            client.compile_many(jobs, framework="PYTORCH", role_arn=ROLE, data_input_config={"input0": [1, 4]},
                                output_dir=tmp_path / "out")
        assert str(e.value).startswith("job 2 (") and "ml_c99" in str(e.value)
        assert s3_ops(server, "CreateBucket") == [] and s3_ops(server, "HeadBucket") == []
        assert [r for r in server.requests("s3") if r["method"] == "PUT"] == []
        s3 = boto3.client("s3", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id="test",
                          aws_secret_access_key="test")
        assert s3.list_buckets()["Buckets"] == []
        # the same jobs corrected: the bucket is created then, once
        jobs[-1]["target_device"] = "ml_inf1"
        rows = client.compile_many(jobs, framework="PYTORCH", role_arn=ROLE, data_input_config={"input0": [1, 4]},
                                   delay=0.05, output_dir=tmp_path / "out")
        assert [r.compilation_job_status for r in rows] == ["COMPLETED"] * 3
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["sagemaker-us-east-1-%s" % ACCOUNT]
        assert len(s3_ops(server, "CreateBucket")) == 1


def test_an_explicit_bucket_makes_no_sts_call(isolated_env, model, tmp_path):
    with smneo.local.Server(port=0, job_duration=0.2) as server, client_for(server, "us-east-1") as client:
        server.create_bucket("mine")
        client.compile(model, framework="PYTORCH", role_arn=ROLE, s3_bucket="mine", target_device="ml_c5",
                       data_input_config={"input0": [1, 4]}, delay=0.05, output_dir=tmp_path / "out")
        assert server.requests("sts") == [] and s3_ops(server, "HeadBucket") == []


def test_local_s3_bucket_owners_as_boto3_sees_them(isolated_env):
    """smneo.local's side of the above, through boto3: a bucket belongs to the
    account that created it (here one assumed through its STS)."""
    boto3 = pytest.importorskip("boto3")
    from botocore.exceptions import ClientError
    with smneo.local.Server(port=0) as server:
        kw = dict(endpoint_url=server.url, region_name="us-east-1")
        sts = boto3.client("sts", aws_access_key_id="test", aws_secret_access_key="test", **kw)
        c = sts.assume_role(RoleArn="arn:aws:iam::999999999999:role/Other", RoleSessionName="other")["Credentials"]
        theirs = boto3.client("s3", aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                              aws_session_token=c["SessionToken"], **kw)
        mine = boto3.client("s3", aws_access_key_id="test", aws_secret_access_key="test", **kw)
        theirs.create_bucket(Bucket="shared-name")
        assert mine.head_bucket(Bucket="shared-name", ExpectedBucketOwner="999999999999")
        with pytest.raises(ClientError) as e:
            mine.head_bucket(Bucket="shared-name", ExpectedBucketOwner=ACCOUNT)
        assert e.value.response["Error"]["Code"] == "403"
        with pytest.raises(ClientError) as e:
            mine.create_bucket(Bucket="shared-name")
        assert e.value.response["Error"]["Code"] == "BucketAlreadyExists"
        mine.create_bucket(Bucket="my-name")
        mine.create_bucket(Bucket="my-name")  # us-east-1: creating one's own bucket again succeeds
