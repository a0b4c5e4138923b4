"""Client.upload_file / download_file / upload_fileobj / download_fileobj (the
binding of smneo_s3_upload/download) against smneo.local's S3, side by side
with boto3's S3 client on the same server where the two should agree."""
import io
import os

import pytest

import smneo
import smneo.local
from fakes import isolated_env  # noqa: F401

boto3 = pytest.importorskip("boto3")
from boto3.s3.transfer import TransferConfig  # noqa: E402
from botocore.config import Config  # noqa: E402

MiB = 1024 * 1024


@pytest.fixture
def local(isolated_env):
    with smneo.local.Server(port=0) as server:
        s3 = boto3.client("s3", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id="test",
                          aws_secret_access_key="test", config=Config(retries={"total_max_attempts": 1}))
        s3.create_bucket(Bucket="data")
        with smneo.Client(region_name="us-east-1", endpoint_url=server.url, aws_access_key_id="test",
                          aws_secret_access_key="test") as client:
            yield server, client, s3


def payload(n, seed=1):
    return bytes((i * 7 + seed) % 251 for i in range(n))


def test_round_trip_with_increments(local, tmp_path):
    _, client, s3 = local
    src = tmp_path / "model.tar.gz"
    src.write_bytes(payload(3 * MiB))
    ups = []
    client.upload_file(str(src), "data", "in/model.tar.gz", Callback=ups.append)
    assert sum(ups) == 3 * MiB and all(n > 0 for n in ups)
    assert s3.get_object(Bucket="data", Key="in/model.tar.gz")["Body"].read() == src.read_bytes()
    downs = []
    dst = tmp_path / "got" / "model.tar.gz"
    dst.parent.mkdir()
    client.download_file("data", "in/model.tar.gz", dst, Callback=downs.append)  # a PathLike works
    assert dst.read_bytes() == src.read_bytes()
    assert sum(downs) == 3 * MiB
    assert os.listdir(dst.parent) == ["model.tar.gz"]  # no temporary file left


def test_multipart_from_transfer_config(local, tmp_path):
    _, client, s3 = local
    src = tmp_path / "big.bin"
    src.write_bytes(payload(12 * MiB, 3))
    cfg = TransferConfig(multipart_threshold=6 * MiB, multipart_chunksize=5 * MiB, max_concurrency=2)
    client.upload_file(str(src), "data", "big.bin", Config=cfg)
    head = s3.head_object(Bucket="data", Key="big.bin")
    assert head["ETag"].strip('"').endswith("-3")  # three parts of 5, 5 and 2 MiB
    # boto3 with the same config against the same server makes the same object
    s3.upload_file(str(src), "data", "big-boto3.bin", Config=cfg)
    assert s3.head_object(Bucket="data", Key="big-boto3.bin")["ETag"] == head["ETag"]


def test_extra_args_as_boto3_sends_them(local, tmp_path):
    _, client, s3 = local
    src = tmp_path / "m.bin"
    src.write_bytes(b"x" * 1000)
    extra = {"ContentType": "application/gzip", "Metadata": {"stage": "prod"}, "ServerSideEncryption": "AES256"}
    client.upload_file(str(src), "data", "smneo", ExtraArgs=extra)
    s3.upload_file(str(src), "data", "boto3", ExtraArgs=extra)
    mine, theirs = (s3.head_object(Bucket="data", Key=k) for k in ("smneo", "boto3"))
    for h in (mine, theirs):
        assert h["ContentType"] == "application/gzip" and h["Metadata"] == {"stage": "prod"}
        assert h["ServerSideEncryption"] == "AES256"


def test_bad_extra_args_and_config(local, tmp_path):
    _, client, s3 = local
    src = tmp_path / "m.bin"
    src.write_bytes(b"x")
    with pytest.raises(ValueError, match="'ACL'"):
        client.upload_file(str(src), "data", "k", ExtraArgs={"ACL": "private"})
    with pytest.raises(ValueError, match="ContentType"):
        client.upload_file(str(src), "data", "k", ExtraArgs={"Nope": 1})
    with pytest.raises(ValueError, match="'VersionId'"):
        client.download_file("data", "k", str(tmp_path / "o"), ExtraArgs={"VersionId": "1"})
    with pytest.raises(ValueError, match="server_side_encryption"):
        client.upload_file(str(src), "data", "k", ExtraArgs={"ServerSideEncryption": "aes"})
    with pytest.raises(ValueError, match="Filename must be a string or a path-like object"):
        client.upload_file(b"m.bin", "data", "k")
    with pytest.raises(ValueError, match="multipart_chunksize"):
        client.upload_file(str(src), "data", "k", Config=TransferConfig(multipart_chunksize=0))
    # boto3 refuses the same Filename with the same type
    with pytest.raises(ValueError):
        s3.upload_file(b"m.bin", "data", "k")


def test_download_of_a_missing_key_is_boto3s_client_error(local, tmp_path):
    _, client, s3 = local
    dst = tmp_path / "out.bin"
    dst.write_bytes(b"keep me")
    with pytest.raises(smneo.ClientError) as mine:
        client.download_file("data", "no/such/key", str(dst))
    import botocore.exceptions
    with pytest.raises(botocore.exceptions.ClientError) as theirs:
        s3.download_file("data", "no/such/key", str(dst))
    assert isinstance(mine.value, botocore.exceptions.ClientError)
    for e in (mine.value, theirs.value):
        assert e.operation_name == "HeadObject"
        assert e.response["Error"]["Code"] == "404"
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert dst.read_bytes() == b"keep me"  # the existing file is left as it was
    assert os.listdir(tmp_path) == ["out.bin"]


def test_upload_errors_as_boto3_raises_them(local, tmp_path):
    _, client, s3 = local
    src = tmp_path / "m.bin"
    src.write_bytes(b"abc")
    import boto3.exceptions
    with pytest.raises(smneo.S3UploadFailedError) as mine:
        client.upload_file(str(src), "no-such-bucket", "k")
    with pytest.raises(boto3.exceptions.S3UploadFailedError) as theirs:
        s3.upload_file(str(src), "no-such-bucket", "k")
    assert isinstance(mine.value, boto3.exceptions.S3UploadFailedError)
    prefix = "Failed to upload %s to no-such-bucket/k: " % src
    assert str(mine.value).startswith(prefix) and str(theirs.value).startswith(prefix)
    assert "(NoSuchBucket) when calling the PutObject operation" in str(mine.value)
    assert "(NoSuchBucket) when calling the PutObject operation" in str(theirs.value)
    cause = mine.value.__cause__
    assert isinstance(cause, smneo.ClientError) and cause.operation_name == "PutObject"
    with pytest.raises(FileNotFoundError):
        client.upload_file(str(tmp_path / "missing"), "data", "k")
    with pytest.raises(FileNotFoundError):
        s3.upload_file(str(tmp_path / "missing"), "data", "k")


def test_callback_exception_cancels_and_leaves_nothing(local, tmp_path):
    _, client, s3 = local
    src = tmp_path / "m.bin"
    src.write_bytes(payload(2 * MiB))
    client.upload_file(str(src), "data", "k")

    def boom(n):
        raise KeyError("stop")

    dst = tmp_path / "d" / "out.bin"
    dst.parent.mkdir()
    with pytest.raises(KeyError):
        client.download_file("data", "k", str(dst), Callback=boom)
    assert os.listdir(dst.parent) == []  # the partial download was removed


def test_fileobj_round_trip(local, tmp_path):
    _, client, s3 = local
    data = payload(100000, 5)
    seen = []
    client.upload_fileobj(io.BytesIO(data), "data", "obj", Callback=seen.append)
    assert sum(seen) == len(data)
    out = io.BytesIO()
    client.download_fileobj("data", "obj", out)
    assert out.getvalue() == data
    with pytest.raises(ValueError, match="read"):
        client.upload_fileobj(b"raw", "data", "obj")
    with pytest.raises(ValueError, match="write"):
        client.download_fileobj("data", "obj", b"raw")
    with pytest.raises(smneo.S3UploadFailedError, match="Failed to upload .*BytesIO.* to nope/obj"):
        client.upload_fileobj(io.BytesIO(data), "nope", "obj")
