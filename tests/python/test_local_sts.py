"""smneo.local's STS through boto3's sts client: responses, validation, role
settings, web identity, issued credentials on the other services, and the
request record."""
import base64
import json
import re
import time
import urllib.request

import pytest

from local_fixtures import (FakeClock, Server, admin, client, client_for, error_of,
                            job_request)
from local_fixtures import server  # noqa: F401  (fixture)

from botocore import UNSIGNED  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

fingerprint = __import__("smneo.local", fromlist=["fingerprint"]).fingerprint
ROLE = "arn:aws:iam::111122223333:role/team/Neo"


def jwt(claims, header=None):
    def part(doc):
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")
    return "%s.%s.%s" % (part(header or {"alg": "RS256", "kid": "k"}), part(claims),
                         "c2lnbmF0dXJl")


def assume(server, **kw):
    kw.setdefault("RoleArn", ROLE)
    kw.setdefault("RoleSessionName", "sess")
    return client(server, "sts").assume_role(**kw)


def test_caller_identity_and_assume_role_answer(server):
    sts = client(server, "sts")
    me = sts.get_caller_identity()
    assert (me["Account"], me["Arn"]) == ("123456789012", "arn:aws:iam::123456789012:user/test")
    assert re.fullmatch(r"AIDA[A-Z2-7]{17}", me["UserId"])
    bodies = []
    sts.meta.events.register("after-call.sts.AssumeRole",
                             lambda http_response, **_: bodies.append(http_response.content))
    t0 = time.time()
    r = sts.assume_role(RoleArn=ROLE, RoleSessionName="sess", DurationSeconds=900,
                        Tags=[{"Key": "team", "Value": "neo"}], SourceIdentity="alice")
    c, user = r["Credentials"], r["AssumedRoleUser"]
    assert user["Arn"] == "arn:aws:sts::111122223333:assumed-role/Neo/sess"
    assert re.fullmatch(r"AROA[A-Z2-7]{17}:sess", user["AssumedRoleId"])
    assert re.fullmatch(r"ASIA[A-Z2-7]{16}", c["AccessKeyId"])
    assert len(c["SecretAccessKey"]) == 40 and len(c["SessionToken"]) > 300
    assert t0 + 898 <= c["Expiration"].timestamp() <= time.time() + 900
    assert r["PackedPolicySize"] >= 1 and r["SourceIdentity"] == "alice"
    # STS writes Expiration to the second, with a Z
    assert re.search(rb"<Expiration>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ</Expiration>", bodies[0])
    # the issued credentials sign for every service, as the assumed role
    who = client_for(server, "sts", c).get_caller_identity()
    assert (who["Arn"], who["Account"], who["UserId"]) == (
        user["Arn"], "111122223333", user["AssumedRoleId"])
    s3 = client_for(server, "s3", c)
    s3.create_bucket(Bucket="assumed")
    s3.put_object(Bucket="assumed", Key="k", Body=b"v")
    arn = client_for(server, "sagemaker", c).create_compilation_job(
        **job_request("by-role", out="s3://assumed/o"))["CompilationJobArn"]
    assert arn == "arn:aws:sagemaker:us-east-1:111122223333:compilation-job/by-role"
    with pytest.raises(ClientError) as e:
        client_for(server, "logs", c).describe_log_streams(logGroupName="/none")
    assert error_of(e)[0] == "ResourceNotFoundException"    # authenticated, no group
    signed = [r["signer"] for r in server.requests() if r["service"] in ("s3", "sagemaker")]
    assert [s["access_key_id"] for s in signed] == [c["AccessKeyId"]] * 3
    assert signed[0]["session_token"] == fingerprint(c["SessionToken"])
    assert signed[0]["source"] == "AssumeRole" and signed[0]["arn"] == user["Arn"]


def test_issued_credentials_expire_and_tokens_are_checked():
    clock = FakeClock(time.time())
    with Server(clock=clock, identity={"credential_duration": 60}) as srv:
        c = assume(srv)["Credentials"]
        assert c["Expiration"].timestamp() == int(clock.now + 60)
        calls = {"sagemaker": lambda x: x.list_compilation_jobs(),
                 "s3": lambda x: x.list_buckets(),
                 "sts": lambda x: x.get_caller_identity(),
                 "logs": lambda x: x.describe_log_streams(logGroupName="g")}

        def errors(creds):
            out = {}
            for service, call in calls.items():
                try:
                    call(client_for(srv, service, creds))
                    out[service] = None
                except ClientError as e:
                    code, status, msg = error_of(type("E", (), {"value": e}))
                    out[service] = (code, status, msg)
            return out

        clock.now += 59
        assert errors(c)["sagemaker"] is None and errors(c)["s3"] is None
        bad = dict(c, SessionToken=c["SessionToken"][:-4] + "AAAA")
        assert errors(bad) == {
            "sagemaker": ("UnrecognizedClientException", 403,
                          "The security token included in the request is invalid."),
            "s3": ("InvalidToken", 400, "The provided token is malformed or otherwise "
                   "invalid."),
            "sts": ("InvalidClientTokenId", 403,
                    "The security token included in the request is invalid."),
            "logs": ("UnrecognizedClientException", 403,
                     "The security token included in the request is invalid.")}
        with pytest.raises(ClientError) as e:
            client(srv, "s3", c["AccessKeyId"], c["SecretAccessKey"]).list_buckets()
        assert error_of(e)[:2] == ("InvalidAccessKeyId", 403)
        clock.now += 1
        expired = "The security token included in the request is expired"
        assert errors(c) == {
            "sagemaker": ("ExpiredTokenException", 403, expired),
            "s3": ("ExpiredToken", 400, "The provided token has expired."),
            "sts": ("ExpiredToken", 403, expired),
            "logs": ("ExpiredTokenException", 403, expired)}
        # no record or answer carries the session token itself
        assert c["SessionToken"] not in json.dumps(srv.requests())


def test_assume_role_is_validated_as_sts_does(server):
    sts = client(server, "sts", parameter_validation=False)

    def refused(**kw):
        kw.setdefault("RoleArn", ROLE)
        kw.setdefault("RoleSessionName", "sess")
        with pytest.raises(ClientError) as e:
            sts.assume_role(**kw)
        return error_of(e)

    assert refused(RoleSessionName="a") == (
        "ValidationError", 400, "1 validation error detected: Value 'a' at "
        "'roleSessionName' failed to satisfy constraint: Member must have length greater "
        "than or equal to 2")
    assert "Member must satisfy regular expression pattern: [\\w+=,.@-]*" in \
        refused(RoleSessionName="bad name!")[2]
    code, _, msg = refused(DurationSeconds=899, ExternalId="x", TokenCode="12a456")
    assert code == "ValidationError" and msg.startswith("3 validation errors detected: ")
    assert refused(DurationSeconds=7200) == (
        "ValidationError", 400,
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
    assert refused(RoleArn="not-an-arn-but-long-enough") == (
        "ValidationError", 400, "Request ARN is invalid")
    assert refused(RoleArn="arn:aws:s3:::a-bucket-not-a-role") == (
        "AccessDenied", 403, "User: arn:aws:iam::123456789012:user/test is not "
        "authorized to perform: sts:AssumeRole on resource: arn:aws:s3:::a-bucket-not-a-role")
    assert refused(Policy="{not json")[:2] == ("MalformedPolicyDocument", 400)
    assert refused(Tags=[{"Key": "A", "Value": "1"}, {"Key": "a", "Value": "2"}])[0] == \
        "ValidationError"
    server.add_role(ROLE, max_session_duration=43200)
    c = sts.assume_role(RoleArn=ROLE, RoleSessionName="s1", DurationSeconds=7200)
    # role chaining: one hour at most
    with pytest.raises(ClientError) as e:
        client_for(server, "sts", c["Credentials"]).assume_role(
            RoleArn=ROLE, RoleSessionName="s2", DurationSeconds=3601)
    assert error_of(e)[2] == ("The requested DurationSeconds exceeds the 1 hour session "
                              "limit for roles assumed by role chaining.")


def test_role_settings_deny_external_id_and_mfa(server):
    denied = "arn:aws:iam::111122223333:role/Denied"
    server.add_role(denied, deny=True)
    with pytest.raises(ClientError) as e:
        client(server, "sts", retries=3).assume_role(RoleArn=denied, RoleSessionName="s1")
    assert error_of(e) == ("AccessDenied", 403, "User: arn:aws:iam::123456789012:user/test "
                           "is not authorized to perform: sts:AssumeRole on resource: "
                           + denied)
    tried = server.requests("sts")
    assert len(tried) == 1 and tried[0]["error"] == "AccessDenied"   # never retried

    ext = "arn:aws:iam::111122223333:role/Partner"
    server.add_role(ext, external_id="ext-42")
    for kw in ({}, {"ExternalId": "ext-41"}):
        with pytest.raises(ClientError) as e:
            assume(server, RoleArn=ext, **kw)
        assert error_of(e)[0] == "AccessDenied"
    assume(server, RoleArn=ext, ExternalId="ext-42")

    mfa = "arn:aws:iam::111122223333:role/Mfa"
    serial = "arn:aws:iam::123456789012:mfa/test"
    server.add_role(mfa, mfa_serial=serial, mfa_code="123456")
    cases = [({}, "is not authorized to perform: sts:AssumeRole"),
             ({"SerialNumber": serial + "x", "TokenCode": "123456"},
              "MultiFactorAuthentication failed, unable to validate MFA code"),
             ({"SerialNumber": serial, "TokenCode": "654321"},
              "MultiFactorAuthentication failed with invalid MFA one time pass code")]
    for kw, words in cases:
        with pytest.raises(ClientError) as e:
            assume(server, RoleArn=mfa, **kw)
        code, status, msg = error_of(e)
        assert (code, status) == ("AccessDenied", 403) and words in msg
    assume(server, RoleArn=mfa, SerialNumber=serial, TokenCode="123456")
    last = server.requests("sts")[-1]
    assert last["params"] == {"RoleArn": mfa, "RoleSessionName": "sess",
                              "SerialNumber": serial, "TokenCode": "123456"}
    assert last["signer"]["access_key_id"] == "test" and last["status"] == 200


def test_web_identity_is_unsigned_and_can_be_refused(server):
    wi = client(server, "sts", signature_version=UNSIGNED, retries=3)
    token = jwt({"sub": "system:serviceaccount:ci:runner", "aud": "sts.amazonaws.com",
                 "iss": "https://oidc.example.com", "exp": int(time.time()) + 600})
    r = wi.assume_role_with_web_identity(RoleArn=ROLE, RoleSessionName="ci",
                                         WebIdentityToken=token)
    assert r["SubjectFromWebIdentityToken"] == "system:serviceaccount:ci:runner"
    assert (r["Provider"], r["Audience"]) == ("oidc.example.com", "sts.amazonaws.com")
    assert r["AssumedRoleUser"]["Arn"] == "arn:aws:sts::111122223333:assumed-role/Neo/ci"
    rec = server.requests("sts")[-1]
    assert rec["signer"] is None and rec["params"]["WebIdentityToken"] == fingerprint(token)
    assert token not in json.dumps(server.requests())

    def refused(tok, role=ROLE):
        with pytest.raises(ClientError) as e:
            wi.assume_role_with_web_identity(RoleArn=role, RoleSessionName="ci",
                                             WebIdentityToken=tok)
        return error_of(e)

    assert refused("an-opaque-access-token") == (
        "InvalidIdentityToken", 400, "The ID Token provided is not a valid JWT. (You may "
        "see this error if you sent an Access Token)")
    code, _, msg = refused(jwt({"sub": "x", "exp": 1000}))
    assert code == "ExpiredTokenException" and msg.startswith("Token expired: current")
    assert refused(token, "arn:aws:iam::111122223333:oidc-provider/x")[2] == \
        "Request ARN is invalid"
    server.configure_identity({"web_identity": {"accept": "listed", "tokens": [token]}})
    wi.assume_role_with_web_identity(RoleArn=ROLE, RoleSessionName="ci",
                                     WebIdentityToken=token)
    assert refused(jwt({"sub": "other"}))[0] == "InvalidIdentityToken"
    server.configure_identity({"web_identity": {"accept": "none",
                                                "error": "IDPCommunicationError"}})
    server.clear_requests()
    assert refused(token)[0] == "IDPCommunicationError"
    assert len(server.requests("sts")) == 3      # botocore retries this one


def test_admin_http_for_identity_and_requests(server):
    status, doc = admin(server, "POST", "/_smneo/identity", {
        "roles": {ROLE: {"deny": "Denied by the test"}},
        "sso_tokens": {"secret-access-token": {"expires_in": 60, "roles": [
            {"account_id": "111122223333", "role_name": "Dev"}]}}})
    assert status == 200 and doc["roles"][ROLE] == {"deny": "Denied by the test"}
    assert "secret-access-token" not in json.dumps(doc)
    assert list(doc["sso_tokens"].values())[0]["roles"] == [["111122223333", "Dev"]]
    with pytest.raises(ClientError) as e:
        assume(server)
    assert error_of(e) == ("AccessDenied", 403, "Denied by the test")
    status, doc = admin(server, "GET", "/_smneo/requests?service=sts")
    assert [(r["operation"], r["status"], r["error"]) for r in doc["requests"]] == [
        ("AssumeRole", 403, "AccessDenied")]
    assert admin(server, "POST", "/_smneo/identity", {"rolez": {}})[0] == 400
    admin(server, "POST", "/_smneo/identity", {"roles": {ROLE: {"deny": False}}})
    c = assume(server)["Credentials"]
    status, doc = admin(server, "POST", "/_smneo/identity/expire", {})
    assert (status, doc) == (200, {"expired": 1})
    with pytest.raises(ClientError) as e:
        client_for(server, "sagemaker", c).list_compilation_jobs()
    assert error_of(e)[0] == "ExpiredTokenException"
    assert admin(server, "DELETE", "/_smneo/requests") == (200, {"requests": []})


def test_unsigned_and_unknown_actions(server):
    def post(form):
        req = urllib.request.Request(server.url + "/", data=form.encode(), method="POST",
                                     headers={"Content-Type":
                                              "application/x-www-form-urlencoded"})
        try:
            urllib.request.urlopen(req, timeout=5)
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
    status, body = post("Action=GetCallerIdentity&Version=2011-06-15")
    assert status == 403 and "<Code>MissingAuthenticationToken</Code>" in body
    assert "<Type>Sender</Type>" in body and "<RequestId>" in body
    status, body = post("Action=GetSessionToken&Version=2011-06-15")
    assert status == 400 and "<Code>InvalidAction</Code>" in body


def test_boto3_profiles_assume_role_and_web_identity(server, tmp_path, monkeypatch):
    """boto3's own providers, pointed at the endpoint by AWS_ENDPOINT_URL."""
    boto3 = pytest.importorskip("boto3")
    token_file = tmp_path / "token"
    token_file.write_text(jwt({"sub": "ci", "aud": "sts.amazonaws.com"}))
    (tmp_path / "config").write_text(
        "[profile base]\naws_access_key_id = test\naws_secret_access_key = test\n"
        "[profile neo]\nrole_arn = %s\nsource_profile = base\nexternal_id = ext-7\n"
        "duration_seconds = 900\nrole_session_name = neo-session\n"
        "[profile wi]\nrole_arn = %s\nweb_identity_token_file = %s\n"
        % (ROLE, ROLE, token_file))
    for k, v in {"AWS_CONFIG_FILE": str(tmp_path / "config"),
                 "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
                 "AWS_ENDPOINT_URL": server.url, "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
              "AWS_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(k, raising=False)
    server.add_role(ROLE, external_id="ext-7")
    boto3.Session(profile_name="neo").client("sagemaker").list_compilation_jobs()
    boto3.Session(profile_name="wi").client("sagemaker").list_compilation_jobs()
    recs = [(r["service"], r["operation"], r["params"], (r["signer"] or {}).get("source"))
            for r in server.requests()]
    assert recs[0] == ("sts", "AssumeRole", {
        "DurationSeconds": "900", "ExternalId": "ext-7", "RoleArn": ROLE,
        "RoleSessionName": "neo-session"}, "static")
    assert recs[1] == ("sagemaker", "ListCompilationJobs", {}, "AssumeRole")
    assert recs[2][:2] == ("sts", "AssumeRoleWithWebIdentity") and recs[2][3] is None
    assert recs[3] == ("sagemaker", "ListCompilationJobs", {},
                       "AssumeRoleWithWebIdentity")


def test_verbose_log_and_records_keep_tokens_out(capfd):
    with Server(verbose=True) as srv:
        c = assume(srv)["Credentials"]
        s3 = client_for(srv, "s3", c, signature_version="s3v4")
        s3.create_bucket(Bucket="presigned")
        s3.put_object(Bucket="presigned", Key="k", Body=b"v")
        url = s3.generate_presigned_url("get_object", Params={"Bucket": "presigned",
                                                              "Key": "k"})
        assert "X-Amz-Security-Token=" in url
        with urllib.request.urlopen(url, timeout=5) as r:
            assert r.read() == b"v"
        with pytest.raises(ClientError):
            client(srv, "sts").assume_role(RoleArn=ROLE, RoleSessionName="s1",
                                           Policy="{not json")
        expired = srv.requests()[-1]
        assert expired["signer"] == {"access_key_id": "test", "arn":
                                     "arn:aws:iam::123456789012:user/test",
                                     "account": "123456789012", "source": "static"}
        srv.expire_credentials()
        with pytest.raises(ClientError):
            s3.list_buckets()
        assert srv.requests()[-1]["signer"] == {"access_key_id": c["AccessKeyId"],
                                                "verified": False}
    err = capfd.readouterr().err
    assert "X-Amz-Security-Token=REDACTED" in err
    assert c["SessionToken"] not in err and c["SecretAccessKey"] not in err
