"""smneo.local fault injection: each kind, through boto3 with retries off."""
import time

import pytest

from local_fixtures import Server, admin, client, job_request
from local_fixtures import server  # noqa: F401  (fixture)

from botocore.exceptions import (  # noqa: E402
    ClientError, ConnectionClosedError, ReadTimeoutError, ResponseStreamingError)
import botocore.exceptions  # noqa: E402


def _err(excinfo):
    r = excinfo.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


def test_admin_health_and_fault_listing(server):
    status, doc = admin(server, "GET", "/_smneo/health")
    assert status == 200 and doc["status"] == "ok" and doc["region"] is None
    status, doc = admin(server, "POST", "/_smneo/faults",
                        {"kind": "throttle", "count": 2, "target": "s3"})
    assert status == 200
    assert doc["faults"] == [{"kind": "throttle", "count": 2, "target": "s3",
                              "delay": 2.0}]
    status, doc = admin(server, "DELETE", "/_smneo/faults")
    assert (status, doc) == (200, {"faults": []})
    status, doc = admin(server, "POST", "/_smneo/faults", {"kind": "explode"})
    assert status == 400 and "throttle" in doc["error"]
    status, doc = admin(server, "POST", "/_smneo/faults", {"kind": "500", "rate": 2})
    assert status == 400 and "rate" in doc["error"]
    status, doc = admin(server, "GET", "/_smneo/nothing")
    assert status == 404 and "/_smneo/health" in doc["error"]


@pytest.mark.parametrize("kind,sm_expect,s3_expect", [
    ("throttle", ("ThrottlingException", 400), ("SlowDown", 503)),
    ("500", ("InternalFailure", 500), ("InternalError", 500)),
    ("503", ("ServiceUnavailable", 503), ("ServiceUnavailable", 503)),
])
def test_error_faults_hit_count_requests_of_their_target(server, kind, sm_expect,
                                                         s3_expect):
    sm, s3 = client(server, "sagemaker"), client(server, "s3")
    admin(server, "POST", "/_smneo/faults", {"kind": kind, "count": 2,
                                             "target": "sagemaker"})
    s3.list_buckets()  # other target: untouched
    for _ in range(2):
        with pytest.raises(ClientError) as e:
            sm.list_compilation_jobs()
        assert _err(e) == sm_expect
    sm.list_compilation_jobs()  # count used up
    admin(server, "POST", "/_smneo/faults", {"kind": kind, "target": "s3"})
    with pytest.raises(ClientError) as e:
        s3.list_buckets()
    assert _err(e) == s3_expect
    s3.list_buckets()


def test_sdk_retries_through_a_throttle(server):
    admin(server, "POST", "/_smneo/faults", {"kind": "throttle", "count": 1})
    sm = client(server, "sagemaker", retries=3)
    out = sm.list_compilation_jobs()
    assert out["ResponseMetadata"]["RetryAttempts"] == 1


def test_close_fault_drops_the_connection(server):
    admin(server, "POST", "/_smneo/faults", {"kind": "close", "target": "any"})
    sm = client(server, "sagemaker")
    with pytest.raises((ConnectionClosedError, botocore.exceptions.HTTPClientError,
                        botocore.exceptions.EndpointConnectionError)):
        sm.list_compilation_jobs()
    sm.list_compilation_jobs()


def test_slow_fault_delays_and_can_time_out(server):
    admin(server, "POST", "/_smneo/faults", {"kind": "slow", "delay": 0.4})
    sm = client(server, "sagemaker")
    t = time.monotonic()
    sm.list_compilation_jobs()
    assert time.monotonic() - t >= 0.4
    admin(server, "POST", "/_smneo/faults", {"kind": "slow", "delay": 1.0})
    impatient = __import__("boto3").client(
        "sagemaker", endpoint_url=server.url, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
        config=__import__("botocore.config", fromlist=["Config"]).Config(
            read_timeout=0.3, retries={"total_max_attempts": 1}))
    with pytest.raises(ReadTimeoutError):
        impatient.list_compilation_jobs()


def test_truncate_fault_cuts_the_body(server):
    s3 = client(server, "s3")
    s3.create_bucket(Bucket="trunc")
    s3.put_object(Bucket="trunc", Key="k", Body=b"z" * 10000)
    admin(server, "POST", "/_smneo/faults", {"kind": "truncate", "target": "s3"})
    r = s3.get_object(Bucket="trunc", Key="k")
    with pytest.raises((ResponseStreamingError, botocore.exceptions.IncompleteReadError)):
        r["Body"].read()
    assert s3.get_object(Bucket="trunc", Key="k")["Body"].read() == b"z" * 10000
    admin(server, "POST", "/_smneo/faults", {"kind": "truncate", "target": "sagemaker"})
    with pytest.raises((ConnectionClosedError, botocore.exceptions.HTTPClientError)):
        client(server, "sagemaker").list_compilation_jobs()


def test_reset_fault_resets_the_connection_mid_answer(server):
    """Half the answer, then a RST (not a FIN): the reader gets
    ECONNRESET after the bytes that came; the next request is answered."""
    import socket
    import urllib.parse
    admin(server, "POST", "/_smneo/faults", {"kind": "reset", "target": "sagemaker"})
    u = urllib.parse.urlsplit(server.url)
    sm = client(server, "sagemaker")
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials
    aws = botocore.awsrequest.AWSRequest(
        method="POST", url=server.url + "/", data=b"{}",
        headers={"X-Amz-Target": "SageMaker.ListCompilationJobs", "Content-Type": "application/x-amz-json-1.1"})
    botocore.auth.SigV4Auth(botocore.credentials.Credentials("test", "test"), "sagemaker", "us-east-1").add_auth(aws)
    raw = ["POST / HTTP/1.1", "Host: %s" % u.netloc, "Content-Length: 2"]
    raw += ["%s: %s" % (k, v) for k, v in aws.headers.items() if k.lower() not in ("host", "content-length")]
    s = socket.create_connection((u.hostname, u.port), timeout=10)
    s.sendall(("\r\n".join(raw) + "\r\n\r\n").encode() + b"{}")
    got, reset = b"", False
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    except ConnectionResetError:
        reset = True
    s.close()
    head, _, body = got.partition(b"\r\n\r\n")
    length = int([h.split(b":")[1] for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")][0])
    assert reset and head.startswith(b"HTTP/1.1 200") and 0 < len(body) < length
    assert "CompilationJobSummaries" in sm.list_compilation_jobs()


def test_drop_fault_runs_the_request_and_loses_the_answer(server):
    s3 = client(server, "s3")
    s3.create_bucket(Bucket="models")
    s3.put_object(Bucket="models", Key="in/model.tar.gz", Body=b"x")
    sm = client(server, "sagemaker")
    admin(server, "POST", "/_smneo/faults", {"kind": "drop", "operation": "CreateCompilationJob"})
    with pytest.raises((ConnectionClosedError, botocore.exceptions.HTTPClientError)):
        sm.create_compilation_job(**job_request("dropped"))
    assert sm.describe_compilation_job(CompilationJobName="dropped")["CompilationJobName"] == "dropped"
    admin(server, "POST", "/_smneo/faults", {"kind": "drop", "target": "s3"})
    with pytest.raises((ConnectionClosedError, botocore.exceptions.HTTPClientError)):
        s3.put_object(Bucket="models", Key="dropped", Body=b"y")
    assert s3.get_object(Bucket="models", Key="dropped")["Body"].read() == b"y"


def test_rate_and_operation_filters():
    with Server(faults=[{"kind": "500", "rate": 1.0, "target": "sagemaker",
                         "operation": "DescribeCompilationJob"}]) as srv:
        sm = client(srv, "sagemaker")
        sm.list_compilation_jobs()
        for _ in range(3):
            with pytest.raises(ClientError) as e:
                sm.describe_compilation_job(CompilationJobName="x")
            assert _err(e) == ("InternalFailure", 500)
        admin(srv, "DELETE", "/_smneo/faults")
        with pytest.raises(ClientError) as e:
            sm.describe_compilation_job(CompilationJobName="x")
        assert _err(e) == ("ResourceNotFound", 400)
    with pytest.raises(ValueError):
        Server(faults=[{"kind": "throttle", "count": 0}])
