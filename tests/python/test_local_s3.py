"""smneo.local, S3 side, driven through boto3 (and raw signed requests where
boto3 cannot produce the wire form under test)."""
import base64
import hashlib
import hmac
import http.client
import os
import urllib.error
import urllib.parse
import urllib.request
import zlib

import pytest

from local_fixtures import Server, client
from local_fixtures import s3, server  # noqa: F401  (fixtures)

from botocore.auth import S3SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

MiB = 1024 * 1024


def _code(excinfo):
    r = excinfo.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


def b64(raw):
    return base64.b64encode(raw).decode()


def crc32_b64(data):
    return b64(zlib.crc32(data).to_bytes(4, "big"))


@pytest.fixture
def bucket(s3):
    s3.create_bucket(Bucket="data")
    return "data"


class _FixedPayloadAuth(S3SigV4Auth):
    """botocore's S3 signer, but signing the x-amz-content-sha256 we choose."""

    def __init__(self, payload, *a):
        super().__init__(*a)
        self._payload = payload

    def payload(self, request):
        return self._payload


def raw_request(server, method, path, body=b"", headers=None, content_sha=None,
                secret="test", sign=True):
    """Send a request signed by botocore's S3 signer, with the exact body and
    x-amz-content-sha256 given.  Returns (status, headers, body)."""
    headers = dict(headers or {})
    if content_sha is None:
        content_sha = hashlib.sha256(body).hexdigest()
    headers["X-Amz-Content-SHA256"] = content_sha
    url = server.url + path
    if sign:
        req = AWSRequest(method=method, url=url, data=body, headers=headers)
        _FixedPayloadAuth(content_sha, Credentials("test", secret), "s3",
                          "us-east-1").add_auth(req)
        headers = dict(req.prepare().headers)
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        return r.status, r.headers, r.read()
    finally:
        conn.close()


# ---- buckets --------------------------------------------------------------------

def test_bucket_lifecycle(s3):
    s3.create_bucket(Bucket="alpha")
    s3.create_bucket(Bucket="alpha")  # us-east-1 answers 200 to its owner again
    s3.head_bucket(Bucket="alpha")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["alpha"]
    s3.put_object(Bucket="alpha", Key="k", Body=b"v")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket="alpha")
    assert _code(e) == ("BucketNotEmpty", 409)
    s3.delete_object(Bucket="alpha", Key="k")
    s3.delete_bucket(Bucket="alpha")
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket="alpha")
    assert _code(e) == ("404", 404)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="alpha", Key="k", Body=b"v")
    assert _code(e) == ("NoSuchBucket", 404)
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket="Bad_Name")
    assert _code(e) == ("InvalidBucketName", 400)


# ---- objects --------------------------------------------------------------------

def test_put_get_head_delete_round_trip(s3, bucket):
    data = os.urandom(70000)
    put = s3.put_object(Bucket=bucket, Key="dir/obj one.bin", Body=data,
                        ContentType="application/x-test", Metadata={"owner": "neo"})
    assert put["ETag"] == '"%s"' % hashlib.md5(data).hexdigest()
    got = s3.get_object(Bucket=bucket, Key="dir/obj one.bin")
    assert got["Body"].read() == data
    assert got["ContentType"] == "application/x-test"
    assert got["Metadata"] == {"owner": "neo"}
    assert got["ETag"] == put["ETag"] and got["ContentLength"] == len(data)
    head = s3.head_object(Bucket=bucket, Key="dir/obj one.bin")
    assert head["ContentLength"] == len(data) and head["ETag"] == put["ETag"]
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
    s3.delete_object(Bucket=bucket, Key="dir/obj one.bin")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="dir/obj one.bin")
    assert _code(e) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="dir/obj one.bin")
    assert _code(e) == ("404", 404)
    s3.delete_object(Bucket=bucket, Key="never-there")  # S3 answers 204 anyway


def test_range_reads(s3, bucket):
    data = bytes(range(256)) * 4
    s3.put_object(Bucket=bucket, Key="r", Body=data)
    r = s3.get_object(Bucket=bucket, Key="r", Range="bytes=10-19")
    assert r["Body"].read() == data[10:20]
    assert r["ContentRange"] == "bytes 10-19/1024"
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=-5")["Body"].read() == data[-5:]
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=1000-")["Body"].read() == \
        data[1000:]
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=1000-5000")["ContentRange"] \
        == "bytes 1000-1023/1024"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="r", Range="bytes=2000-")
    assert _code(e) == ("InvalidRange", 416)


def test_conditional_get(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="c", Body=b"abc")["ETag"]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c", IfMatch='"0000"')
    assert _code(e) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert _code(e)[1] == 304


def test_list_objects_v2_prefix_delimiter_and_pages(s3, bucket):
    keys = ["a/1", "a/2", "a/b/3", "c d/é.txt", "top1", "top2", "z/9"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    out = s3.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in out["Contents"]] == sorted(keys)
    assert out["KeyCount"] == len(keys) and out["IsTruncated"] is False
    assert out["Contents"][0]["ETag"] == '"%s"' % hashlib.md5(b"a/1").hexdigest()
    out = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["a/", "c d/", "z/"]
    assert [o["Key"] for o in out["Contents"]] == ["top1", "top2"]
    out = s3.list_objects_v2(Bucket=bucket, Prefix="a/", Delimiter="/")
    assert [o["Key"] for o in out["Contents"]] == ["a/1", "a/2"]
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["a/b/"]
    # pages of 2 with a delimiter: prefixes count toward MaxKeys, none repeats
    pages = list(s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Delimiter="/", PaginationConfig={"PageSize": 2}))
    seen = []
    for p in pages:
        seen += [o["Key"] for o in p.get("Contents", [])]
        seen += [c["Prefix"] for c in p.get("CommonPrefixes", [])]
        assert p["KeyCount"] <= 2
    assert sorted(seen) == ["a/", "c d/", "top1", "top2", "z/"]
    assert len(pages) == 3
    out = s3.list_objects_v2(Bucket=bucket, MaxKeys=0)
    assert out["KeyCount"] == 0 and "Contents" not in out
    out = s3.list_objects_v2(Bucket=bucket, StartAfter="top1")
    assert [o["Key"] for o in out["Contents"]] == ["top2", "z/9"]


# ---- checksums --------------------------------------------------------------------

@pytest.mark.parametrize("algorithm", ["CRC32", "SHA1", "SHA256"])
def test_flexible_checksums_computed_by_boto3(s3, bucket, algorithm):
    data = b"checksummed " * 1000
    put = s3.put_object(Bucket=bucket, Key="ck", Body=data, ChecksumAlgorithm=algorithm)
    assert put["Checksum" + algorithm]
    got = s3.get_object(Bucket=bucket, Key="ck", ChecksumMode="ENABLED")
    assert got["Body"].read() == data
    assert got["Checksum" + algorithm] == put["Checksum" + algorithm]
    head = s3.head_object(Bucket=bucket, Key="ck", ChecksumMode="ENABLED")
    assert head["Checksum" + algorithm] == put["Checksum" + algorithm]


def test_default_put_sends_crc32_and_it_is_checked(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="d", Body=b"hello")
    assert put["ChecksumCRC32"] == crc32_b64(b"hello")


@pytest.mark.parametrize("header,value", [
    ("ChecksumCRC32", crc32_b64(b"other")),
    ("ChecksumSHA256", b64(hashlib.sha256(b"other").digest())),
    ("ChecksumCRC32C", "yZRlqg=="),  # 4 bytes, but not the CRC32C of b"payload"
])
def test_wrong_checksum_is_bad_digest(server, bucket, header, value):
    name = "x-amz-checksum-" + header[len("Checksum"):].lower()
    status, _, body = raw_request(server, "PUT", "/data/bad", b"payload", {name: value})
    assert status == 400 and b"<Code>BadDigest</Code>" in body


def test_crc32c_and_crc64nvme_headers_are_verified(server, bucket):
    data = b"123456789"
    # check values of the CRC-32C and CRC-64/NVME catalogues
    good = {"x-amz-checksum-crc32c": b64(bytes.fromhex("e3069283")),
            "x-amz-checksum-crc64nvme": b64(bytes.fromhex("ae8b14860a799888"))}
    for name, value in good.items():
        status, headers, body = raw_request(server, "PUT", "/data/n", data, {name: value})
        assert status == 200, body
        assert headers[name] == value
    status, _, body = raw_request(server, "PUT", "/data/n", data + b"!",
                                  {"x-amz-checksum-crc32c": good["x-amz-checksum-crc32c"]})
    assert status == 400 and b"BadDigest" in body


def test_content_md5_checked(s3, bucket):
    s3.put_object(Bucket=bucket, Key="m", Body=b"abc",
                  ContentMD5=b64(hashlib.md5(b"abc").digest()))
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="m", Body=b"abc",
                      ContentMD5=b64(hashlib.md5(b"abd").digest()))
    assert _code(e) == ("BadDigest", 400)


def test_content_sha256_mismatch_and_unsigned_payload(server, bucket):
    status, _, body = raw_request(server, "PUT", "/data/s", b"real body",
                                  content_sha=hashlib.sha256(b"other").hexdigest())
    assert status == 400 and b"XAmzContentSHA256Mismatch" in body
    status, _, _ = raw_request(server, "PUT", "/data/u", b"unsigned body",
                               content_sha="UNSIGNED-PAYLOAD")
    assert status == 200
    status, _, body = raw_request(server, "GET", "/data/u", content_sha="UNSIGNED-PAYLOAD")
    assert (status, body) == (200, b"unsigned body")


# ---- aws-chunked --------------------------------------------------------------------

@pytest.fixture
def tls_pretend(monkeypatch):
    """Make botocore believe the endpoint is https, so that it sends what it
    sends over TLS: STREAMING-UNSIGNED-PAYLOAD-TRAILER, aws-chunked bodies with
    a trailing x-amz-checksum-crc32, Transfer-Encoding: chunked."""
    import botocore.httpchecksum as hc
    real = hc.urlparse

    def fake(url, *a, **kw):
        p = real(url, *a, **kw)
        return p._replace(scheme="https") if p.hostname == "127.0.0.1" else p
    monkeypatch.setattr(hc, "urlparse", fake)


def test_boto3_streaming_trailer_checksum(server, bucket, tls_pretend):
    s3 = client(server, "s3")
    seen = {}

    def capture(request, **kw):
        seen.update({k: v.decode() if isinstance(v, bytes) else v
                     for k, v in request.headers.items()})
    s3.meta.events.register("before-send.s3.PutObject", capture)
    import io
    data = os.urandom(200000)
    put = s3.put_object(Bucket=bucket, Key="chunked", Body=io.BytesIO(data))
    assert seen["X-Amz-Content-SHA256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    assert seen["X-Amz-Trailer"] == "x-amz-checksum-crc32"
    assert seen["Transfer-Encoding"] == "chunked"
    assert put["ChecksumCRC32"] == crc32_b64(data)
    got = s3.get_object(Bucket=bucket, Key="chunked")
    assert got["Body"].read() == data
    assert "aws-chunked" not in got.get("ContentEncoding", "")


def _chunked(chunks, trailer_lines=(), sign=None):
    out = b""
    for c in list(chunks) + [b""]:
        ext = b""
        if sign:
            ext = b";chunk-signature=" + sign(c).encode()
        out += b"%x" % len(c) + ext + b"\r\n" + c + b"\r\n"
    if trailer_lines:
        out = out[:-2] + b"".join(l + b"\r\n" for l in trailer_lines) + b"\r\n"
    return out


def test_unsigned_trailer_with_wrong_checksum_is_refused(server, bucket):
    data = b"x" * 1000
    body = _chunked([data], [b"x-amz-checksum-crc32:" + crc32_b64(b"y").encode()])
    status, _, resp = raw_request(server, "PUT", "/data/t", body, {
        "Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": "1000",
        "X-Amz-Trailer": "x-amz-checksum-crc32"},
        content_sha="STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    assert status == 400 and b"BadDigest" in resp
    body = _chunked([data], [b"x-amz-checksum-crc32:" + crc32_b64(data).encode()])
    status, _, resp = raw_request(server, "PUT", "/data/t", body, {
        "Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": "1000",
        "X-Amz-Trailer": "x-amz-checksum-crc32"},
        content_sha="STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    assert status == 200, resp


def _signed_chunk_upload(server, chunks, tamper=False, trailer=None):
    """PUT with STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER], chunk signatures
    chained from the seed signature (computed here from the SigV4 spec)."""
    decoded = sum(len(c) for c in chunks)
    mode = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" + ("-TRAILER" if trailer else "")
    headers = {"Content-Encoding": "aws-chunked",
               "X-Amz-Decoded-Content-Length": str(decoded),
               "X-Amz-Content-SHA256": mode}
    if trailer:
        headers["X-Amz-Trailer"] = trailer[0]
    req = AWSRequest(method="PUT", url=server.url + "/data/signed", data=b"",
                     headers=headers)
    _FixedPayloadAuth(mode, Credentials("test", "test"), "s3",
                      "us-east-1").add_auth(req)
    hdrs = dict(req.prepare().headers)
    auth = hdrs["Authorization"]
    seed = auth.rsplit("Signature=", 1)[1]
    scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/", 1)[1]
    amz_date = hdrs["X-Amz-Date"]
    key = ("AWS4test").encode()
    for part in [scope.split("/")[0], "us-east-1", "s3", "aws4_request"]:
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    prev = [seed]

    def sign(chunk):
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev[0],
                         hashlib.sha256(b"").hexdigest(),
                         hashlib.sha256(chunk).hexdigest()])
        sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        prev[0] = sig
        return sig
    body = _chunked(chunks, sign=sign)
    if trailer:
        canon = "%s:%s\n" % trailer
        # the trailer signature chains from the final (empty) chunk's signature
        sts = "\n".join(["AWS4-HMAC-SHA256-TRAILER", amz_date, scope, prev[0],
                         hashlib.sha256(canon.encode()).hexdigest()])
        tsig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        lines = [("%s:%s" % trailer).encode(), b"x-amz-trailer-signature:" + tsig.encode()]
        body = body[:-2] + b"".join(line + b"\r\n" for line in lines) + b"\r\n"
    if tamper:
        body = body.replace(b"bbbb", b"bbbX", 1)
    hdrs["Content-Length"] = str(len(body))
    u = urllib.parse.urlsplit(server.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    conn.request("PUT", "/data/signed", body=body, headers=hdrs)
    r = conn.getresponse()
    out = r.status, r.read()
    conn.close()
    return out


def test_signed_streaming_chunks(server, s3, bucket):
    chunks = [b"a" * 65536, b"b" * 1000]
    status, body = _signed_chunk_upload(server, chunks)
    assert status == 200, body
    assert s3.get_object(Bucket=bucket, Key="signed")["Body"].read() == b"".join(chunks)
    status, body = _signed_chunk_upload(server, chunks, tamper=True)
    assert status == 403 and b"SignatureDoesNotMatch" in body
    whole = b"".join(chunks)
    status, body = _signed_chunk_upload(server, chunks,
                                        trailer=("x-amz-checksum-crc32", crc32_b64(whole)))
    assert status == 200, body
    status, body = _signed_chunk_upload(server, chunks,
                                        trailer=("x-amz-checksum-crc32", crc32_b64(b"no")))
    assert status == 400 and b"BadDigest" in body


# ---- multipart ------------------------------------------------------------------------

def test_multipart_round_trip_with_composite_checksum(s3, bucket):
    parts_data = [os.urandom(5 * MiB), os.urandom(1234)]
    up = s3.create_multipart_upload(Bucket=bucket, Key="big", ChecksumAlgorithm="CRC32",
                                    ContentType="application/x-tar")
    uid = up["UploadId"]
    parts = []
    for n, data in enumerate(parts_data, 1):
        r = s3.upload_part(Bucket=bucket, Key="big", UploadId=uid, PartNumber=n,
                           Body=data, ChecksumAlgorithm="CRC32")
        assert r["ChecksumCRC32"] == crc32_b64(data)
        parts.append({"PartNumber": n, "ETag": r["ETag"],
                      "ChecksumCRC32": r["ChecksumCRC32"]})
    done = s3.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=uid,
                                        MultipartUpload={"Parts": parts})
    md5s = b"".join(hashlib.md5(d).digest() for d in parts_data)
    assert done["ETag"] == '"%s-2"' % hashlib.md5(md5s).hexdigest()
    crcs = b"".join(zlib.crc32(d).to_bytes(4, "big") for d in parts_data)
    assert done["ChecksumCRC32"] == crc32_b64(crcs) + "-2"
    got = s3.get_object(Bucket=bucket, Key="big")
    assert got["Body"].read() == b"".join(parts_data)
    assert got["ETag"] == done["ETag"] and got["ContentType"] == "application/x-tar"
    assert not os.listdir(os.path.join(s3._smneo_dir, ".uploads"))


def test_multipart_errors_and_abort(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="m")["UploadId"]
    e1 = s3.upload_part(Bucket=bucket, Key="m", UploadId=uid, PartNumber=1,
                        Body=b"small")["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key="m", UploadId=uid, PartNumber=2,
                        Body=b"tail")["ETag"]
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="m", UploadId=uid, MultipartUpload={
            "Parts": [{"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}]})
    assert _code(e) == ("InvalidPartOrder", 400)
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="m", UploadId=uid, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": e2}]})
    assert _code(e) == ("InvalidPart", 400)
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="m", UploadId=uid, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    assert _code(e) == ("EntityTooSmall", 400)
    s3.abort_multipart_upload(Bucket=bucket, Key="m", UploadId=uid)
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="m", UploadId=uid, PartNumber=3, Body=b"x")
    assert _code(e) == ("NoSuchUpload", 404)
    # a single small part is a valid upload
    uid = s3.create_multipart_upload(Bucket=bucket, Key="one")["UploadId"]
    e1 = s3.upload_part(Bucket=bucket, Key="one", UploadId=uid, PartNumber=1,
                        Body=b"only")["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key="one", UploadId=uid,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}]})
    assert s3.get_object(Bucket=bucket, Key="one")["Body"].read() == b"only"


def test_transfer_manager_upload_and_ranged_download(s3, bucket, tmp_path):
    from boto3.s3.transfer import TransferConfig
    src = tmp_path / "src.bin"
    data = os.urandom(11 * MiB)
    src.write_bytes(data)
    cfg = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB,
                         max_concurrency=3)
    s3.upload_file(str(src), bucket, "tm/src.bin", Config=cfg)
    head = s3.head_object(Bucket=bucket, Key="tm/src.bin")
    assert head["ETag"].endswith('-3"') and head["ContentLength"] == len(data)
    dst = tmp_path / "dst.bin"
    s3.download_file(bucket, "tm/src.bin", str(dst), Config=cfg)
    assert dst.read_bytes() == data


# ---- presigned URLs and storage -------------------------------------------------------

def test_presigned_get(server, bucket):
    s3 = client(server, "s3", signature_version="s3v4")
    s3.put_object(Bucket=bucket, Key="p/x y.txt", Body=b"presigned!")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket,
                                                          "Key": "p/x y.txt"},
                                    ExpiresIn=60)
    with urllib.request.urlopen(url, timeout=5) as r:
        assert r.read() == b"presigned!"
    bad = url.replace("X-Amz-Signature=", "X-Amz-Signature=0")
    bad = bad[:bad.index("X-Amz-Signature=") + 16 + 64]
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(bad, timeout=5)
    assert e.value.code == 403 and b"SignatureDoesNotMatch" in e.value.read()
    v2 = client(server, "s3", signature_version="s3").generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "p/x y.txt"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(v2, timeout=5)
    assert e.value.code == 400 and b"Signature Version 2" in e.value.read()


def test_data_dir_persists_and_default_dir_is_removed(tmp_path):
    d = tmp_path / "store"
    d.mkdir()
    with Server(data_dir=str(d)) as srv:
        c = client(srv, "s3")
        c.create_bucket(Bucket="keep")
        c.put_object(Bucket="keep", Key="a/b", Body=b"persist")
    with Server(data_dir=str(d)) as srv:
        c = client(srv, "s3")
        assert c.get_object(Bucket="keep", Key="a/b")["Body"].read() == b"persist"
    srv = Server().start()
    tmp = srv.data_dir
    assert os.path.isdir(tmp)
    srv.stop()
    assert not os.path.exists(tmp)


def test_virtual_host_style_addressing(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="vh", Body=b"virtual")
    req = AWSRequest(method="GET", url=server.url + "/vh", headers={
        "Host": "data.localhost:%d" % server.port,
        "X-Amz-Content-SHA256": hashlib.sha256(b"").hexdigest()})
    S3SigV4Auth(Credentials("test", "test"), "s3", "us-east-1").add_auth(req)
    u = urllib.parse.urlsplit(server.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
    conn.request("GET", "/vh", headers=dict(req.prepare().headers))
    r = conn.getresponse()
    assert (r.status, r.read()) == (200, b"virtual")
    conn.close()


def test_copy_object_and_delete_objects(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src/a b", Body=b"copy me", ContentType="text/x",
                  Metadata={"m": "1"}, ChecksumAlgorithm="SHA256")
    out = s3.copy_object(Bucket=bucket, Key="dst/1", CopySource={"Bucket": bucket,
                                                                 "Key": "src/a b"})
    assert out["CopyObjectResult"]["ETag"] == '"%s"' % hashlib.md5(b"copy me").hexdigest()
    got = s3.get_object(Bucket=bucket, Key="dst/1", ChecksumMode="ENABLED")
    assert got["Body"].read() == b"copy me" and got["Metadata"] == {"m": "1"}
    assert got["ContentType"] == "text/x" and got["ChecksumSHA256"]
    s3.copy_object(Bucket=bucket, Key="dst/2", CopySource="%s/src/a b" % bucket,
                   MetadataDirective="REPLACE", Metadata={"m": "2"})
    assert s3.head_object(Bucket=bucket, Key="dst/2")["Metadata"] == {"m": "2"}
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="src/a b", CopySource={"Bucket": bucket,
                                                                 "Key": "src/a b"})
    assert _code(e) == ("InvalidRequest", 400)
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "nope"})
    assert _code(e) == ("NoSuchKey", 404)
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [
        {"Key": "src/a b"}, {"Key": "dst/1"}, {"Key": "dst/2"}]})
    assert sorted(d["Key"] for d in out["Deleted"]) == ["dst/1", "dst/2", "src/a b"]
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
