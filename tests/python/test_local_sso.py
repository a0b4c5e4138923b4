"""smneo.local's SSO portal and SSO-OIDC through boto3's sso and sso-oidc
clients, and boto3's SSO profiles (sso-session with a token refresh)."""
import datetime
import hashlib
import json
import re
import time

import pytest

from local_fixtures import admin, client, client_for, error_of
from local_fixtures import server  # noqa: F401  (fixture)

from botocore.exceptions import ClientError  # noqa: E402

fingerprint = __import__("smneo.local", fromlist=["fingerprint"]).fingerprint
ACCOUNT = "111122223333"


def test_portal_role_credentials_and_refusals(server):
    server.add_sso_token("portal-token", user="alice",
                         roles=[{"account_id": ACCOUNT, "role_name": "Admin"}])
    server.add_sso_token("stale-token", expires_in=-1)
    sso = client(server, "sso")
    t0 = time.time()
    rc = sso.get_role_credentials(roleName="Admin", accountId=ACCOUNT,
                                  accessToken="portal-token")["roleCredentials"]
    assert re.fullmatch(r"ASIA[A-Z2-7]{16}", rc["accessKeyId"])
    assert isinstance(rc["expiration"], int)
    assert (t0 + 3598) * 1000 <= rc["expiration"] <= (time.time() + 3600) * 1000
    who = client_for(server, "sts", rc).get_caller_identity()
    assert who["Account"] == ACCOUNT
    assert re.fullmatch(r"arn:aws:sts::%s:assumed-role/AWSReservedSSO_Admin_[0-9a-f]{16}/"
                        r"alice" % ACCOUNT, who["Arn"])
    client_for(server, "sagemaker", rc).list_compilation_jobs()

    def refused(**kw):
        with pytest.raises(ClientError) as e:
            sso.get_role_credentials(**dict({"roleName": "Admin", "accountId": ACCOUNT},
                                            **kw))
        return error_of(e)

    unauthorized = ("UnauthorizedException", 401, "Session token not found or invalid")
    assert refused(accessToken="unknown-token") == unauthorized
    assert refused(accessToken="stale-token") == unauthorized
    with pytest.raises(sso.exceptions.UnauthorizedException):
        sso.get_role_credentials(roleName="Admin", accountId=ACCOUNT, accessToken="x")
    assert refused(accessToken="portal-token", roleName="ReadOnly") == (
        "ForbiddenException", 403, "No access")
    recs = server.requests("sso")
    assert recs[0]["params"] == {"roleName": "Admin", "accountId": ACCOUNT,
                                 "accessToken": fingerprint("portal-token")}
    assert recs[0]["signer"] is None and "portal-token" not in json.dumps(recs)


def test_oidc_refresh_rotates_tokens(server):
    server.add_refresh_token("refresh-1", client_id="cli-1", client_secret="cli-secret",
                             access_token_ttl=1800,
                             roles=[{"account_id": ACCOUNT, "role_name": "Dev"}])
    oidc = client(server, "sso-oidc")
    out = oidc.create_token(clientId="cli-1", clientSecret="cli-secret",
                            grantType="refresh_token", refreshToken="refresh-1")
    assert (out["tokenType"], out["expiresIn"]) == ("Bearer", 1800)
    assert out["refreshToken"] != "refresh-1"
    # the new access token works at the portal, for the refresh token's roles
    client(server, "sso").get_role_credentials(roleName="Dev", accountId=ACCOUNT,
                                               accessToken=out["accessToken"])
    with pytest.raises(oidc.exceptions.InvalidGrantException) as e:
        oidc.create_token(clientId="cli-1", clientSecret="cli-secret",
                          grantType="refresh_token", refreshToken="refresh-1")
    assert e.value.response["error"] == "invalid_grant"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(oidc.exceptions.InvalidClientException) as e:
        oidc.create_token(clientId="cli-1", clientSecret="wrong", grantType="refresh_token",
                          refreshToken=out["refreshToken"])
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 401
    with pytest.raises(oidc.exceptions.UnsupportedGrantTypeException):
        oidc.create_token(clientId="cli-1", clientSecret="cli-secret",
                          grantType="authorization_code", code="c")
    rec = server.requests("sso-oidc")[0]
    assert rec["params"]["clientSecret"] == fingerprint("cli-secret")
    assert rec["params"]["refreshToken"] == fingerprint("refresh-1")
    text = json.dumps(server.requests())
    assert "cli-secret" not in text and out["accessToken"] not in text
    # a throttled OIDC answer is retried by botocore
    admin(server, "POST", "/_smneo/faults", {"kind": "throttle", "target": "sso-oidc"})
    again = client(server, "sso-oidc", retries=2).create_token(
        clientId="cli-1", clientSecret="cli-secret", grantType="refresh_token",
        refreshToken=out["refreshToken"])
    assert again["ResponseMetadata"]["RetryAttempts"] == 1


def test_boto3_sso_session_profile_refreshes_through_oidc(server, tmp_path, monkeypatch):
    boto3 = pytest.importorskip("boto3")
    import botocore.credentials
    import botocore.tokens
    cache = tmp_path / "sso-cache"
    cache.mkdir()
    for cls in (botocore.tokens.SSOTokenProvider, botocore.credentials.SSOProvider):
        monkeypatch.setattr(cls, "_SSO_TOKEN_CACHE_DIR", str(cache))
    (tmp_path / "config").write_text(
        "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\n"
        "sso_region = us-east-1\n"
        "[profile dev]\nsso_session = corp\nsso_account_id = %s\nsso_role_name = Dev\n"
        "region = us-east-1\n" % ACCOUNT)
    for k, v in {"AWS_CONFIG_FILE": str(tmp_path / "config"),
                 "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
                 "AWS_ENDPOINT_URL": server.url}.items():
        monkeypatch.setenv(k, v)
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
              "AWS_PROFILE"):
        monkeypatch.delenv(k, raising=False)
    soon = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=5)
    later = soon + datetime.timedelta(days=30)
    token_file = cache / (hashlib.sha1(b"corp").hexdigest() + ".json")
    token_file.write_text(json.dumps({
        "startUrl": "https://corp.awsapps.com/start", "region": "us-east-1",
        "accessToken": "old-access", "expiresAt": soon.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "clientId": "cli-9", "clientSecret": "cli-9-secret",
        "registrationExpiresAt": later.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "refreshToken": "refresh-9"}))
    server.add_refresh_token("refresh-9", client_id="cli-9", client_secret="cli-9-secret")
    who = boto3.Session(profile_name="dev").client("sts").get_caller_identity()
    assert who["Account"] == ACCOUNT and "AWSReservedSSO_Dev_" in who["Arn"]
    ops = [(r["service"], r["operation"], r["status"]) for r in server.requests()]
    assert ops == [("sso-oidc", "CreateToken", 200), ("sso", "GetRoleCredentials", 200),
                   ("sts", "GetCallerIdentity", 200)]
    cached = json.loads(token_file.read_text())
    assert cached["accessToken"] != "old-access" and cached["refreshToken"] != "refresh-9"
    assert server.requests("sso")[0]["params"]["accessToken"] == \
        fingerprint(cached["accessToken"])
