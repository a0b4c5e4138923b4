"""Assumed roles from Python: the profiles of tests/fixtures/credentials/
assume-role are resolved by boto3 and by smneo against smneo.local, which
must record the same STS requests (same parameters, same signers) and the
same signer for the SageMaker call; plus mfa_token_callback, errors and
secrets kept out of messages."""
import os

import pytest

from fakes import need_module
from local_fixtures import admin
from local_fixtures import server  # noqa: F401  (fixture)

import smneo

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures", "credentials", "assume-role")
ROLE = "arn:aws:iam::123456789012:role/"
MFA_SERIAL = "arn:aws:iam::123456789012:mfa/dev"
MFA_CODE = "424242"


@pytest.fixture
def profiles_env(monkeypatch, server):
    for k in list(os.environ):
        if k.startswith("AWS_"):
            monkeypatch.delenv(k)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.path.join(FIXTURES, "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.path.join(FIXTURES, "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)  # STS for both, as botocore reads it
    admin(server, "POST", "/_smneo/identity", {"roles": {
        ROLE + "Top": {"external_id": "ext-123"},
        ROLE + "Mfa": {"mfa_serial": MFA_SERIAL, "mfa_code": MFA_CODE},
        ROLE + "Denied": {"deny": True}}})
    return server


def recorded(server, since):
    _, doc = admin(server, "GET", "/_smneo/requests?since=%d" % since)
    out = []
    for r in doc["requests"]:
        params = dict(r["params"] or {}) if r["service"] in ("sts", "sso", "sso-oidc") else None
        if params and params.get("RoleSessionName", "").startswith("botocore-session-"):
            params["RoleSessionName"] = "botocore-session-<epoch>"
        signer = (r.get("signer") or {}).get("arn")
        if signer and "/botocore-session-" in signer:
            signer = signer[:signer.index("/botocore-session-")] + "/botocore-session-<epoch>"
        out.append((r["service"], r["operation"], params, signer, r["status"]))
    return out


def last_seq(server):
    _, doc = admin(server, "GET", "/_smneo/requests")
    return max([r["seq"] for r in doc["requests"]] or [0])


def prompter(prompt):
    assert prompt == "Enter MFA code for %s: " % MFA_SERIAL  # botocore's prompt
    return MFA_CODE


def with_boto3(server, profile):
    need_module("boto3")
    import boto3
    session = boto3.Session(profile_name=profile, region_name="us-east-1")
    provider = session._session.get_component("credential_provider").get_provider("assume-role")
    provider._prompter = prompter
    sm = session.client("sagemaker", endpoint_url=server.url)
    return sm.list_compilation_jobs()


def with_smneo(server, profile):
    c = smneo.Client(profile_name=profile, region_name="us-east-1", endpoint_url=server.url,
                     mfa_token_callback=prompter, _retry_backoff_scale=0.001)
    try:
        return c.list_compilation_jobs()
    finally:
        c.close()


def run(server, fn, profile):
    since = last_seq(server)
    err = None
    try:
        fn(server, profile)
    except Exception as e:  # noqa: BLE001 (compared below)
        err = e
    return recorded(server, since), err


@pytest.mark.parametrize("profile", ["chain3", "generated-name", "env-source", "from-process", "self-keys",
                                     "mfa"])
def test_boto3_and_smneo_make_the_same_requests(profiles_env, monkeypatch, profile):
    server = profiles_env
    if profile == "env-source":
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    theirs, their_err = run(server, with_boto3, profile)
    ours, our_err = run(server, with_smneo, profile)
    assert their_err is None and our_err is None, (their_err, our_err)
    assert ours == theirs
    sts = [r for r in ours if r[0] == "sts"]
    assert sts and all(r[1] == "AssumeRole" and r[4] == 200 for r in sts)
    sagemaker = ours[-1]
    assert sagemaker[0] == "sagemaker" and "assumed-role/" in sagemaker[3]


def test_chain_order_and_parameters(profiles_env):
    ours, err = run(profiles_env, with_smneo, "chain3")
    assert err is None
    sts = [r[2] for r in ours if r[0] == "sts"]
    assert [p["RoleArn"] for p in sts] == [ROLE + "Low", ROLE + "Mid", ROLE + "Top"]
    assert sts[2] == {"RoleArn": ROLE + "Top",
                      "RoleSessionName": "top-session", "ExternalId": "ext-123", "DurationSeconds": "1800"}
    assert ours[-1][3] == "arn:aws:sts::123456789012:assumed-role/Top/top-session"


def test_access_denied_one_call_named(profiles_env):
    server = profiles_env
    theirs, their_err = run(server, with_boto3, "denied")
    ours, our_err = run(server, with_smneo, "denied")
    assert ours == theirs and len(ours) == 1 and ours[0][4] == 403  # one STS call each, no SageMaker
    assert isinstance(our_err, smneo.CredentialRetrievalError)
    text = str(our_err)
    assert "'denied'" in text and ROLE + "Denied" in text and "AccessDenied" in text


def test_cycle_is_named_and_makes_no_call(profiles_env):
    server = profiles_env
    need_module("botocore")
    from botocore.exceptions import InfiniteLoopConfigError
    theirs, their_err = run(server, with_boto3, "cycle-a")
    ours, our_err = run(server, with_smneo, "cycle-a")
    assert isinstance(their_err, InfiniteLoopConfigError)
    assert isinstance(our_err, smneo.CredentialRetrievalError)
    assert "'cycle-a' -> 'cycle-b' -> 'cycle-a'" in str(our_err)
    assert ours == theirs == []


def test_mfa_callback_errors(profiles_env):
    server = profiles_env
    c = smneo.Client(profile_name="mfa", region_name="us-east-1", endpoint_url=server.url)
    with pytest.raises(smneo.CredentialRetrievalError, match="mfa_token_callback"):
        c.list_compilation_jobs()

    def broken(prompt):
        raise ValueError("no code today")

    c = smneo.Client(profile_name="mfa", region_name="us-east-1", endpoint_url=server.url,
                     mfa_token_callback=broken)
    with pytest.raises(smneo.CredentialRetrievalError, match="gave no code") as ei:
        c.list_compilation_jobs()
    assert isinstance(ei.value.__cause__, ValueError) and "no code today" in str(ei.value.__cause__)
    c = smneo.Client(profile_name="mfa", region_name="us-east-1", endpoint_url=server.url,
                     mfa_token_callback=lambda prompt: 424242)
    with pytest.raises(smneo.CredentialRetrievalError) as ei:
        c.list_compilation_jobs()
    assert isinstance(ei.value.__cause__, TypeError)
    with pytest.raises(TypeError, match="callable"):
        smneo.Client(profile_name="mfa", region_name="us-east-1", endpoint_url=server.url,
                     mfa_token_callback="424242")
    calls = []
    c = smneo.Client(profile_name="mfa", region_name="us-east-1", endpoint_url=server.url,
                     mfa_token_callback=lambda p: calls.append(p) or MFA_CODE)
    c.list_compilation_jobs()
    c.list_compilation_jobs()  # the role's credentials are cached: one code
    assert calls == ["Enter MFA code for %s: " % MFA_SERIAL]


def test_callback_cycle_is_collected(profiles_env):
    import gc
    import weakref

    class Holder:
        pass
    h = Holder()
    h.client = smneo.Client(profile_name="mfa", region_name="us-east-1", endpoint_url=profiles_env.url,
                            mfa_token_callback=lambda p: h and MFA_CODE)
    ref = weakref.ref(h)
    del h
    gc.collect()
    assert ref() is None


JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjaS1hIiwiYXVkIjoic3RzLmFtYXpvbmF3cy5jb20ifQ.c2ln"


@pytest.mark.parametrize("where", ["environment", "profile", "role-over-web-identity"])
def test_web_identity_same_requests_as_boto3(profiles_env, monkeypatch, tmp_path, where):
    server = profiles_env
    token = tmp_path / "token"
    token.write_text(JWT)
    if where == "environment":
        monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token))
        monkeypatch.setenv("AWS_ROLE_ARN", ROLE + "Web")
        monkeypatch.setenv("AWS_ROLE_SESSION_NAME", "ci-job")
        profile = None
    else:
        config = tmp_path / "config"
        config.write_text("[profile wi]\nweb_identity_token_file = %s\nrole_arn = %sWebProfile\n"
                          "[profile over]\nrole_arn = %sOver\nsource_profile = wi\nrole_session_name = over\n"
                          % (token, ROLE, ROLE))
        monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
        profile = "wi" if where == "profile" else "over"
    theirs, their_err = run(server, with_boto3, profile)
    ours, our_err = run(server, with_smneo, profile)
    assert their_err is None and our_err is None, (their_err, our_err)
    assert ours == theirs
    web = ours[0]
    assert web[1] == "AssumeRoleWithWebIdentity" and web[3] is None  # unsigned
    assert web[2]["WebIdentityToken"] != JWT  # smneo.local records a fingerprint, never the token
    assert "assumed-role/" in ours[-1][3]


# ---- IAM Identity Center -------------------------------------------------------------

SSO_CONFIG = """[profile sso]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = Admin
[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1
[profile legacy]
sso_start_url = https://legacy.awsapps.com/start
sso_region = us-east-1
sso_account_id = 111122223333
sso_role_name = ReadOnly
[profile over-sso]
role_arn = arn:aws:iam::123456789012:role/OverSso
source_profile = sso
role_session_name = over
[base]
"""


@pytest.fixture
def sso_env(profiles_env, monkeypatch, tmp_path):
    need_module("botocore")
    import botocore.credentials
    import botocore.tokens
    home = tmp_path / "home"
    cache = home / ".aws" / "sso" / "cache"
    cache.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    # botocore computed its cache directory from HOME when it was imported
    monkeypatch.setattr(botocore.credentials.SSOProvider, "_SSO_TOKEN_CACHE_DIR", str(cache))
    monkeypatch.setattr(botocore.tokens.SSOTokenProvider, "_SSO_TOKEN_CACHE_DIR", str(cache))
    config = tmp_path / "sso-config"
    config.write_text(SSO_CONFIG)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    return profiles_env, cache


def write_token(cache, key, access, expires_in, refresh=None):
    import datetime
    import hashlib
    import json
    now = datetime.datetime.now(datetime.timezone.utc)
    doc = {"startUrl": "https://corp.awsapps.com/start", "region": "us-east-1", "accessToken": access,
           "expiresAt": (now + datetime.timedelta(seconds=expires_in)).strftime("%Y-%m-%dT%H:%M:%SZ")}
    if refresh:
        doc.update(clientId="cid", clientSecret="csecret", refreshToken=refresh,
                   registrationExpiresAt=(now + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    path = cache / (hashlib.sha1(key.encode()).hexdigest() + ".json")
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("profile", ["sso", "legacy", "over-sso"])
def test_sso_same_requests_as_boto3(sso_env, profile):
    server, cache = sso_env
    admin(server, "POST", "/_smneo/identity", {"sso_tokens": {"tok-live": {"expires_in": 3600, "user": "alice"}}})
    write_token(cache, "corp", "tok-live", 3600)
    write_token(cache, "https://legacy.awsapps.com/start", "tok-live", 3600)
    theirs, their_err = run(server, with_boto3, profile)
    ours, our_err = run(server, with_smneo, profile)
    assert their_err is None and our_err is None, (their_err, our_err)
    assert ours == theirs
    assert ours[0][:2] == ("sso", "GetRoleCredentials") and ours[0][3] is None  # unsigned
    assert ("assumed-role/OverSso/over" if profile == "over-sso" else "/alice") in ours[-1][3]


def test_sso_refresh_like_boto3_and_cache_shared(sso_env):
    server, cache = sso_env
    admin(server, "POST", "/_smneo/identity", {"refresh_tokens": {"rt-1": {
        "client_id": "cid", "client_secret": "csecret", "access_token_ttl": 28800, "user": "carol",
        "rotate": False}}})
    write_token(cache, "corp", "tok-old", 300, refresh="rt-1")
    theirs, their_err = run(server, with_boto3, "sso")
    write_token(cache, "corp", "tok-old", 300, refresh="rt-1")
    ours, our_err = run(server, with_smneo, "sso")
    assert their_err is None and our_err is None, (their_err, our_err)
    # CreateToken with the same parameters, then GetRoleCredentials with a new token
    assert [r[:3] for r in ours if r[0] == "sso-oidc"] == [r[:3] for r in theirs if r[0] == "sso-oidc"]
    assert [r[1] for r in ours] == [r[1] for r in theirs] == ["CreateToken", "GetRoleCredentials",
                                                              "ListCompilationJobs"]
    # boto3 reads the cache file smneo wrote: no refresh, the same token
    ours_token = ours[1][2]["accessToken"]
    again, err = run(server, with_boto3, "sso")
    assert err is None
    assert [r[1] for r in again] == ["GetRoleCredentials", "ListCompilationJobs"]
    assert again[0][2]["accessToken"] == ours_token


def test_sso_errors_name_the_login_command(sso_env):
    server, cache = sso_env
    write_token(cache, "https://legacy.awsapps.com/start", "tok-legacy", -60)
    with pytest.raises(smneo.UnauthorizedSSOTokenError, match="aws sso login --profile legacy"):
        with_smneo(server, "legacy")
    need_module("botocore")
    from botocore.exceptions import UnauthorizedSSOTokenError
    with pytest.raises(UnauthorizedSSOTokenError):
        with_boto3(server, "legacy")
    write_token(cache, "corp", "tok-gone", -60, refresh="rt-revoked")
    with pytest.raises(smneo.TokenRetrievalError, match="aws sso login --sso-session corp") as ei:
        with_smneo(server, "sso")
    assert "rt-revoked" not in str(ei.value) and "tok-gone" not in str(ei.value)
    assert isinstance(ei.value, smneo.CredentialRetrievalError)
    os.unlink(write_token(cache, "corp", "x", 60))
    with pytest.raises(smneo.TokenRetrievalError, match="aws sso login --sso-session corp"):
        with_smneo(server, "sso")


# ---- retries of STS, SSO and SSO-OIDC requests ------------------------------------------

@pytest.mark.parametrize("case", ["throttled-chain", "mfa-503", "web-idp-error", "web-invalid-token",
                                  "sso-500", "oidc-500"])
def test_retries_same_requests_as_boto3(sso_env, monkeypatch, tmp_path, case):
    """botocore's STS, SSO and SSO-OIDC clients retry throttling, 5xx and
    STS's IDPCommunicationError (not InvalidIdentityToken): smneo makes the
    same requests, in the same retry mode (legacy here, as boto3's default)
    with the same attempts (AWS_MAX_ATTEMPTS)."""
    server, cache = sso_env
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "3")
    fault = None
    token = tmp_path / "token"
    token.write_text(JWT)
    config = tmp_path / "retry-config"
    config.write_text(open(os.path.join(FIXTURES, "config")).read() + SSO_CONFIG.replace("[base]\n", "") +
                      "[profile wi]\nweb_identity_token_file = %s\nrole_arn = %sWeb\nrole_session_name = wi-s\n"
                      % (token, ROLE))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    if case == "throttled-chain":
        profile, fault = "chain3", {"kind": "throttle", "count": 2, "target": "sts"}
    elif case == "mfa-503":
        profile, fault = "mfa", {"kind": "503", "count": 1, "target": "sts"}
    elif case.startswith("web-"):
        profile = "wi"
        code = "IDPCommunicationError" if case == "web-idp-error" else "InvalidIdentityToken"
        admin(server, "POST", "/_smneo/identity", {"web_identity": {"accept": "none", "error": code}})
    else:
        profile = "sso"
        admin(server, "POST", "/_smneo/identity", {
            "sso_tokens": {"tok-live": {"expires_in": 3600, "user": "alice"}},
            "refresh_tokens": {"rt-1": {"client_id": "cid", "client_secret": "csecret",
                                        "access_token_ttl": 28800, "user": "carol", "rotate": False}}})
        fault = {"kind": "500", "count": 1, "target": "sso" if case == "sso-500" else "sso-oidc"}
    results = []
    try:
        for fn in (with_boto3, with_smneo):
            if case == "oidc-500":
                write_token(cache, "corp", "tok-old", 300, refresh="rt-1")
            else:
                write_token(cache, "corp", "tok-live", 3600)
            if fault:
                admin(server, "POST", "/_smneo/faults", fault)
            results.append(run(server, fn, profile))
    finally:
        admin(server, "DELETE", "/_smneo/faults")
        admin(server, "POST", "/_smneo/identity", {"web_identity": {"accept": "jwt", "error": None}})
    (theirs, their_err), (ours, our_err) = results
    if case == "oidc-500":  # each CreateToken issues a new access token
        ours, theirs = ([r[:2] + (dict(r[2], accessToken="<new>") if r[1] == "GetRoleCredentials" else r[2],)
                         + r[3:] for r in x] for x in (ours, theirs))
    assert ours == theirs
    statuses = [r[4] for r in ours]
    if case == "web-idp-error":
        assert statuses == [400, 400, 400] and their_err is not None
        assert isinstance(our_err, smneo.CredentialRetrievalError) and "IDPCommunicationError" in str(our_err)
        assert "eyJ" not in str(our_err)
    elif case == "web-invalid-token":
        assert statuses == [400] and their_err is not None
        assert isinstance(our_err, smneo.CredentialRetrievalError) and "InvalidIdentityToken" in str(our_err)
    else:
        assert their_err is None and our_err is None, (their_err, our_err)
        want = {"throttled-chain": [400, 400] + [200] * 4, "mfa-503": [503, 200, 200],
                "sso-500": [500, 200, 200], "oidc-500": [500, 200, 200, 200]}[case]
        assert statuses == want
