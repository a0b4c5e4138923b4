"""smneo.local SigV4 checks: refusals through boto3 on both protocols, and
the verifier against the AWS signing test suite (tests/fixtures)."""
import datetime
import hashlib
import http.client
import json
import os
import urllib.parse

import pytest

from local_fixtures import Server, client
from local_fixtures import s3, server, sm  # noqa: F401  (fixtures)

from botocore import UNSIGNED  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

sigv4 = __import__("smneo.local.sigv4", fromlist=["verify"])

SUITE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures",
                     "aws-signing-test-suite", "v4")


def _err(excinfo):
    r = excinfo.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Message"]


def test_wrong_secret_refused(server):
    with pytest.raises(ClientError) as e:
        client(server, "sagemaker", secret="nope").list_compilation_jobs()
    code, status, msg = _err(e)
    assert (code, status) == ("InvalidSignatureException", 403)
    assert "does not match the signature you provided" in msg
    with pytest.raises(ClientError) as e:
        client(server, "s3", secret="nope").list_buckets()
    assert _err(e)[:2] == ("SignatureDoesNotMatch", 403)


def test_unknown_key_refused(server):
    with pytest.raises(ClientError) as e:
        client(server, "sagemaker", key="AKIDUNKNOWN").list_compilation_jobs()
    assert _err(e)[:2] == ("UnrecognizedClientException", 403)
    with pytest.raises(ClientError) as e:
        client(server, "s3", key="AKIDUNKNOWN").list_buckets()
    assert _err(e)[:2] == ("InvalidAccessKeyId", 403)


def test_missing_authentication(server):
    with pytest.raises(ClientError) as e:
        client(server, "sagemaker", signature_version=UNSIGNED).list_compilation_jobs()
    assert _err(e)[:2] == ("MissingAuthenticationTokenException", 403)
    with pytest.raises(ClientError) as e:
        client(server, "s3", signature_version=UNSIGNED).list_buckets()
    assert _err(e)[:2] == ("AccessDenied", 403)


def test_skewed_clock_refused(server, monkeypatch):
    import botocore.auth
    skewed = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - \
        datetime.timedelta(minutes=20)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: skewed)
    with pytest.raises(ClientError) as e:
        client(server, "sagemaker").list_compilation_jobs()
    code, status, msg = _err(e)
    assert (code, status) == ("InvalidSignatureException", 403)
    assert msg.startswith("Signature expired: %s is now earlier than"
                          % skewed.strftime("%Y%m%dT%H%M%SZ"))
    with pytest.raises(ClientError) as e:
        client(server, "s3").list_buckets()
    assert _err(e)[:2] == ("RequestTimeTooSkewed", 403)
    # 10 minutes off is still accepted
    monkeypatch.setattr(botocore.auth, "get_current_datetime",
                        lambda: skewed + datetime.timedelta(minutes=10))
    client(server, "sagemaker").list_compilation_jobs()


def test_pinned_region_refuses_other_regions():
    with Server(region="us-east-1") as srv:
        client(srv, "sagemaker").list_compilation_jobs()
        kw = dict(endpoint_url=srv.url, region_name="eu-west-1",
                  aws_access_key_id="test", aws_secret_access_key="test")
        with pytest.raises(ClientError) as e:
            __import__("boto3").client("sagemaker", **kw).list_compilation_jobs()
        assert _err(e) == ("InvalidSignatureException", 403, "Credential should be "
                           "scoped to a valid region, not 'eu-west-1'. ")
        with pytest.raises(ClientError) as e:
            __import__("boto3").client("s3", **kw).list_buckets()
        code, status, msg = _err(e)
        assert (code, status) == ("AuthorizationHeaderMalformed", 400)
        assert msg == ("The authorization header is malformed; the region 'eu-west-1' "
                       "is wrong; expecting 'us-east-1'")
        assert e.value.response["Error"]["Region"] == "us-east-1"


def _raw(server, headers, body=b"{}"):
    u = urllib.parse.urlsplit(server.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
    conn.request("POST", "/", body=body, headers=headers)
    r = conn.getresponse()
    out = r.status, json.loads(r.read())
    conn.close()
    return out


def test_incomplete_signature(server):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    status, doc = _raw(server, {
        "X-Amz-Target": "SageMaker.ListCompilationJobs", "X-Amz-Date": now,
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/%s/us-east-1/sagemaker/"
                         "aws4_request, SignedHeaders=host;x-amz-date" % now[:8]})
    assert (status, doc["__type"]) == (400, "IncompleteSignatureException")
    assert "Signature" in doc["message"]


def test_several_credentials(tmp_path):
    with Server(credentials=["alice:s3cret", ("bob", "hunter2")]) as srv:
        client(srv, "sagemaker", key="alice", secret="s3cret").list_compilation_jobs()
        client(srv, "s3", key="bob", secret="hunter2").list_buckets()
        with pytest.raises(ClientError):
            client(srv, "s3").list_buckets()  # test:test is not accepted any more


def _suite_cases():
    if not os.path.isdir(SUITE):
        return []
    return sorted(os.listdir(SUITE))


def _parse_request(text):
    head, _, body = text.partition("\n\n")
    lines = head.split("\n")
    method, rest = lines[0].split(" ", 1)
    target = rest.rsplit(" ", 1)[0]
    headers = []
    for line in lines[1:]:
        if line.startswith((" ", "\t")) and headers:
            name, value = headers[-1]
            headers[-1] = (name, value + "\n" + line)
        else:
            name, _, value = line.partition(":")
            headers.append((name, value))
    path, _, query = target.partition("?")
    return method, path, query, headers, body.encode()


@pytest.mark.parametrize("case", _suite_cases())
@pytest.mark.parametrize("form", ["header", "query"])
def test_verifier_accepts_aws_signing_suite(case, form):
    d = os.path.join(SUITE, case)
    with open(os.path.join(d, "context.json")) as f:
        ctx = json.load(f)
    if not ctx.get("normalize", True) and case.startswith("get-"):
        pytest.skip("unnormalised paths are an S3 rule; this verifier applies it "
                    "only to the s3 service")
    path = os.path.join(d, "%s-signed-request.txt" % form)
    if not os.path.exists(path):
        pytest.skip("no %s form for this case" % form)
    with open(path, encoding="utf-8") as f:
        method, rpath, query, headers, body = _parse_request(f.read())
    if form == "query" and case == "post-sts-header-after":
        pytest.skip("a token added to the query after signing is not signed; services "
                    "sign X-Amz-Security-Token like any query parameter")
    now = datetime.datetime.strptime(ctx["timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc)
    hmap = {k.lower(): v for k, v in headers}
    payload = hmap.get("x-amz-content-sha256", hashlib.sha256(body).hexdigest())
    creds = {ctx["credentials"]["access_key_id"]: ctx["credentials"]["secret_access_key"]}
    v = sigv4.verify(method, rpath, query, headers, payload, creds, now=now)
    assert v.credential.service == ctx["service"]
    # and one flipped bit in the body hash is refused
    with pytest.raises(sigv4.AuthError) as e:
        sigv4.verify(method, rpath, query, headers, "0" * 64, creds, now=now)
    assert e.value.kind == "mismatch"


def test_signed_for_the_wrong_service(server):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    req = AWSRequest(method="POST", url=server.url + "/", data=b"{}", headers={
        "X-Amz-Target": "SageMaker.ListCompilationJobs",
        "Content-Type": "application/x-amz-json-1.1"})
    SigV4Auth(Credentials("test", "test"), "s3", "us-east-1").add_auth(req)
    status, doc = _raw(server, dict(req.prepare().headers))
    assert (status, doc["__type"]) == (403, "InvalidSignatureException")
    assert "'sagemaker'" in doc["message"]
