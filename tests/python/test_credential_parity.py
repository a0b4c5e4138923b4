"""The same ~/.aws/config profiles (tests/fixtures/credentials/assume-role)
with web identity and IAM Identity Center profiles beside them, resolved by
boto3 and by smneo's Python, Lua, CLI and smneo.resty front ends against
smneo.local: each records the same STS/SSO/SSO-OIDC requests (parameters,
signers) and signs its SageMaker call and its S3 requests (an upload_file and
a download_file: PutObject, HeadObject, GetObject) with the same credentials.
Python and Lua make all three in one client, boto3 in one session; the CLI
makes each in its own command (`list`, `s3 cp` up, `s3 cp` down), as boto3
does in three sessions then, its ~/.aws/cli/cache emptied in between (the
cache has its own tests: tests/cli/test_credentials.sh, below). smneo.resty
runs in an nginx started for each case with the case's environment
(tests/nginx/parity.conf.in, parity.lua) and makes the three in one client
over cosockets, as Python and Lua do.
docs/credentials.md, "Parity with boto3", is the table of these rows."""
import datetime
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from fakes import need_module
from local_fixtures import admin
from local_fixtures import server  # noqa: F401  (fixture)

import smneo
from smneo.local.identity import fingerprint  # how smneo.local records a secret

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "credentials", "assume-role")
BUILD = os.environ.get("SMNEO_BUILD_DIR") or os.path.join(ROOT, "build")
ROLE = "arn:aws:iam::123456789012:role/"
MFA_SERIAL = "arn:aws:iam::123456789012:mfa/dev"
MFA_CODE = "424242"
PROFILES = ["chain3", "generated-name", "env-source", "from-process", "self-keys", "mfa",
            "web", "over-web", "sso", "legacy-sso", "over-sso", "ecs-source", "imds-source", "web-environment"]
# rows resolved without a profile (the default chain), from the environment alone
NO_PROFILE = {"web-environment": {"AWS_WEB_IDENTITY_TOKEN_FILE": "{tmp}/token",
                                  "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/WebEnv",
                                  "AWS_ROLE_SESSION_NAME": "web-env-session"}}
# sources without a role: no STS call, SageMaker signed with the source's keys.
# None: no profile, the default chain (environment, legacy files, container, IMDS)
PLAIN = {"credentials-file": ("base", {}), "config-keys": ("config-keys", {}),
         "process": ("process-source", {}),
         "environment": (None, {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}),
         "ec2-credential-file": (None, {"AWS_CREDENTIAL_FILE": "{tmp}/ec2"}),
         "boto2-config": (None, {"BOTO_CONFIG": "{tmp}/boto"}),
         "container": (None, {"AWS_CONTAINER_CREDENTIALS_FULL_URI": "{meta}/container"}),
         "imds": (None, {"AWS_EC2_METADATA_SERVICE_ENDPOINT": "{meta}"}),
         # botocore reads AWS_DEFAULT_PROFILE before AWS_PROFILE
         "default-profile-variable": (None, {"AWS_DEFAULT_PROFILE": "config-keys", "AWS_PROFILE": "no-such"})}
# what a role's credential_source reads (the profiles ecs-source, imds-source)
SOURCE_ENV = {"env-source": {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"},
              "ecs-source": {"AWS_CONTAINER_CREDENTIALS_FULL_URI": "{meta}/container"},
              "imds-source": {"AWS_EC2_METADATA_SERVICE_ENDPOINT": "{meta}"}}
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjaS1hIiwiYXVkIjoic3RzLmFtYXpvbmF3cy5jb20ifQ.c2ln"

LUA = """local smneo = require "smneo"
local profile = arg[1] ~= "" and arg[1] or nil
local c = smneo.client{ region_name = "us-east-1", profile_name = profile, endpoint_url = arg[2],
                        mfa_token = arg[3], retry_backoff_scale = 0.001 }
c:list_compilation_jobs{}
c:upload_file{ filename = arg[4], bucket = "parity", key = "obj" }
c:download_file{ filename = arg[4] .. ".back", bucket = "parity", key = "obj" }
c:close()
"""
BUCKET = "parity"


@pytest.fixture
def profiles_env(monkeypatch, server, tmp_path):  # noqa: F811
    for k in list(os.environ):
        if k.startswith("AWS_"):
            monkeypatch.delenv(k)
    monkeypatch.setenv("HOME", str(tmp_path))  # the CLI's ~/.aws/cli/cache starts empty
    token = tmp_path / "token"
    token.write_text(JWT)
    config = tmp_path / "config"
    with open(os.path.join(FIXTURES, "config")) as f, open(os.path.join(FIXTURES, "parity.config")) as g:
        config.write_text(f.read() + g.read().format(token=token, url=server.url))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    # SSO tokens in $HOME/.aws/sso/cache (botocore computed its directory at import)
    need_module("botocore")
    import botocore.credentials
    import botocore.tokens
    cache = tmp_path / ".aws" / "sso" / "cache"
    cache.mkdir(parents=True)
    monkeypatch.setattr(botocore.credentials.SSOProvider, "_SSO_TOKEN_CACHE_DIR", str(cache))
    monkeypatch.setattr(botocore.tokens.SSOTokenProvider, "_SSO_TOKEN_CACHE_DIR", str(cache))
    now = datetime.datetime.now(datetime.timezone.utc)
    for key, start in (("corp", "https://corp.awsapps.com/start"),
                       ("https://legacy.awsapps.com/start", "https://legacy.awsapps.com/start")):
        doc = {"startUrl": start, "region": "us-east-1", "accessToken": "tok-live",
               "expiresAt": (now + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")}
        (cache / (hashlib.sha1(key.encode()).hexdigest() + ".json")).write_text(json.dumps(doc))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.path.join(FIXTURES, "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)
    admin(server, "POST", "/_smneo/identity", {"roles": {
        ROLE + "Top": {"external_id": "ext-123"},
        ROLE + "Mfa": {"mfa_serial": MFA_SERIAL, "mfa_code": MFA_CODE}},
        "sso_tokens": {"tok-live": {"expires_in": 3600, "user": "alice"}}})
    import boto3
    boto3.client("s3", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id="test",
                 aws_secret_access_key="test").create_bucket(Bucket=BUCKET)
    (tmp_path / "obj").write_bytes(b"the same object from every front\n")
    boto3.client("s3", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id="test",
                 aws_secret_access_key="test").upload_file(str(tmp_path / "obj"), BUCKET, "obj")
    return server


@pytest.fixture(scope="module")
def metadata():
    """tests/nginx/metadata.py: a container credentials endpoint and an IMDSv2
    answering with keys smneo.local accepts; one for the module (it holds no
    state the tests read, each answer's expiry is counted from its request)."""
    p = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests", "nginx", "metadata.py"), "test", "test",
                          "meta-session-token"],
                         stdout=subprocess.PIPE, text=True)
    try:
        yield p.stdout.readline().strip()
    finally:
        p.kill()
        p.wait()


def source_env(monkeypatch, tmp_path, env, meta):
    (tmp_path / "ec2").write_text("AWSAccessKeyId=test\nAWSSecretKey=test\n")
    (tmp_path / "boto").write_text("[Credentials]\naws_access_key_id = test\naws_secret_access_key = test\n")
    for k, v in env.items():
        monkeypatch.setenv(k, v.format(tmp=str(tmp_path), meta=meta))
    if "AWS_EC2_METADATA_SERVICE_ENDPOINT" in env:
        monkeypatch.delenv("AWS_EC2_METADATA_DISABLED")


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


def with_boto3(server, profile, tmp_path, steps=("list", "put", "get")):
    need_module("boto3")
    import boto3
    session = boto3.Session(profile_name=profile, region_name="us-east-1")
    provider = session._session.get_component("credential_provider").get_provider("assume-role")
    provider._prompter = lambda prompt: MFA_CODE
    obj = str(tmp_path / "obj")
    for step in steps:
        if step == "list":
            session.client("sagemaker", endpoint_url=server.url).list_compilation_jobs()
        elif step == "put":
            session.client("s3", endpoint_url=server.url).upload_file(obj, BUCKET, "obj")
        else:
            session.client("s3", endpoint_url=server.url).download_file(BUCKET, "obj", obj + ".back")


def with_python(server, profile, tmp_path):
    c = smneo.Client(profile_name=profile, region_name="us-east-1", endpoint_url=server.url,
                     mfa_token_callback=lambda prompt: MFA_CODE, _retry_backoff_scale=0.001)
    try:
        c.list_compilation_jobs()
        c.upload_file(str(tmp_path / "obj"), BUCKET, "obj")
        c.download_file(BUCKET, "obj", str(tmp_path / "obj.back"))
    finally:
        c.close()
    assert (tmp_path / "obj.back").read_bytes() == (tmp_path / "obj").read_bytes()


def with_lua(server, profile, tmp_path):
    module = os.path.join(BUILD, "lua5.4", "smneo.so")
    if not shutil.which("lua5.4") or not os.path.exists(module):
        pytest.skip("lua5.4 or %s missing" % module)
    env = dict(os.environ, LUA_CPATH=os.path.join(os.path.dirname(module), "?.so"),
               LUA_PATH=os.path.join(ROOT, "lua", "?.lua"))
    p = subprocess.run(["lua5.4", "-", profile or "", server.url, MFA_CODE, str(tmp_path / "obj")], input=LUA,
                       env=env, text=True, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "obj.back").read_bytes() == (tmp_path / "obj").read_bytes()


NGINX_LUA = "/usr/lib/nginx/modules/ngx_http_lua_module.so"


def resty(server, profile, tmp_path):
    """GET /parity (tests/nginx/parity.lua) from an nginx started for this
    case with the test's environment, every variable of it named by an `env`
    directive (nginx clears its workers' environment). Returns (status, body,
    error.log)."""
    import signal
    import socket
    import urllib.error
    import urllib.parse
    import urllib.request
    module = os.path.join(BUILD, "luajit", "smneo.so")
    if not shutil.which("nginx") or not os.path.exists(NGINX_LUA) or not os.path.exists(module):
        pytest.skip("nginx, its lua module or %s missing" % module)
    prefix = tmp_path / "nginx"
    for d in ("conf", "logs", "tmp"):
        (prefix / d).mkdir(parents=True, exist_ok=True)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    names = sorted(k for k in os.environ if k.startswith("AWS_") or k in ("HOME", "PATH", "BOTO_CONFIG"))
    with open(os.path.join(ROOT, "tests", "nginx", "parity.conf.in")) as f:
        conf = f.read()
    for k, v in (("@ROOT@", ROOT), ("@BUILD@", os.path.relpath(BUILD, ROOT)), ("@PORT@", str(port)),
                 ("@USER_LINE@", "user root;" if os.getuid() == 0 else ""),
                 ("@ENV@", "\n".join("env %s;" % n for n in names))):
        conf = conf.replace(k, v)
    (prefix / "conf" / "nginx.conf").write_text(conf)
    (prefix / "logs" / "error.log").write_text("")
    p = subprocess.Popen(["nginx", "-p", str(prefix) + "/", "-c", "conf/nginx.conf", "-e", "logs/error.log"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        query = urllib.parse.urlencode({"profile": profile or "", "endpoint": server.url, "mfa": MFA_CODE,
                                        "up": str(tmp_path / "obj"), "file": str(tmp_path / "obj.back")})
        url = "http://127.0.0.1:%d/parity?%s" % (port, query)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert p.poll() is None, p.stderr.read().decode()
                time.sleep(0.05)
        try:
            with urllib.request.urlopen(url, timeout=60) as r:
                status, body = r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            status, body = e.code, e.read().decode()
    finally:
        p.send_signal(signal.SIGQUIT)
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        p.stderr.close()
    return status, body, (prefix / "logs" / "error.log").read_text()


def with_resty(server, profile, tmp_path):
    status, body, log = resty(server, profile, tmp_path)
    assert (status, body) == (200, "ok"), (status, body, log[-3000:])
    assert (tmp_path / "obj.back").read_bytes() == (tmp_path / "obj").read_bytes()
    for secret in ("tok-live", JWT):
        assert secret not in log


CLI_STEPS = {"list": ["list", "--output", "json"], "put": ["s3", "cp", "{obj}", "s3://%s/obj" % BUCKET],
             "get": ["s3", "cp", "s3://%s/obj" % BUCKET, "{obj}.back"]}


def with_cli(server, profile, tmp_path, steps=("list", "put", "get")):
    cli = os.path.join(BUILD, "smneo")
    if not os.path.exists(cli):
        pytest.skip("%s not built" % cli)
    for step in steps:
        shutil.rmtree(tmp_path / ".aws" / "cli" / "cache", ignore_errors=True)
        args = [a.format(obj=str(tmp_path / "obj")) for a in CLI_STEPS[step]]
        # no controlling terminal: the MFA prompt reads the code from stdin, as getpass does
        p = subprocess.run([cli] + (["--profile", profile] if profile else []) + ["--region", "us-east-1",
                           "--endpoint-url", server.url] + args, input=MFA_CODE + "\n", text=True,
                           capture_output=True, timeout=60, start_new_session=True)
        assert p.returncode == 0, p.stderr
        assert MFA_CODE not in p.stdout


def run(server, fn, profile, tmp_path, **kw):
    since = last_seq(server)
    fn(server, profile, tmp_path, **kw)
    return recorded(server, since)


FRONTS = {"python": with_python, "lua": with_lua, "cli": with_cli, "resty": with_resty}


def boto3_and(front, server, profile, tmp_path):
    """boto3's requests and the front's, for the same steps: the CLI's
    commands each in its own boto3 session."""
    if front == "cli":
        theirs, ours = [], []
        for step in ("list", "put", "get"):
            theirs += run(server, with_boto3, profile, tmp_path, steps=(step,))
            ours += run(server, with_cli, profile, tmp_path, steps=(step,))
        return theirs, ours
    return run(server, with_boto3, profile, tmp_path), run(server, FRONTS[front], profile, tmp_path)


S3_STEPS = [("s3", "PutObject"), ("s3", "HeadObject"), ("s3", "GetObject")]


def front_steps(front):
    return [("sagemaker", "ListCompilationJobs")] + S3_STEPS


def signed_calls(rows):
    return [r for r in rows if r[0] in ("sagemaker", "s3")]


@pytest.mark.parametrize("front", ["python", "lua", "cli", "resty"])
@pytest.mark.parametrize("profile", PROFILES)
def test_same_requests_as_boto3(profiles_env, monkeypatch, tmp_path, metadata, profile, front):
    server = profiles_env
    source_env(monkeypatch, tmp_path, NO_PROFILE.get(profile) or SOURCE_ENV.get(profile, {}), metadata)
    theirs, ours = boto3_and(front, server, None if profile in NO_PROFILE else profile, tmp_path)
    assert ours == theirs
    assert [r[0] for r in ours if r[0] in ("sts", "sso")] and all(r[4] == 200 for r in ours)
    calls = signed_calls(ours)
    assert [r[:2] for r in calls] == front_steps(front), ours
    assert "assumed-role/" in calls[0][3] and all(r[3] == calls[0][3] for r in calls), calls


@pytest.mark.parametrize("front", ["python", "lua", "cli", "resty"])
@pytest.mark.parametrize("source", sorted(PLAIN))
def test_plain_sources_as_boto3(profiles_env, monkeypatch, tmp_path, metadata, source, front):
    server = profiles_env
    profile, env = PLAIN[source]
    source_env(monkeypatch, tmp_path, env, metadata)
    theirs, ours = boto3_and(front, server, profile, tmp_path)
    assert ours == theirs
    assert [r[:2] for r in ours] == front_steps(front), ours
    assert all(r[4] == 200 and r[3] == ours[0][3] for r in ours), ours


# A container or IMDS answer without Token: botocore 1.43 refuses it (its
# container provider reads answer['Token'] and fails; its IMDS fetcher drops the
# answer, so the chain finds nothing and a credential_source finds nothing).
# Each front refuses it too, with the error botocore's refusal maps to, and
# neither side sends a signed request. The rows: source -> (profile, env,
# smneo's error code, botocore's exception class name, what the message names).
REFUSED = {"container": (None, {"AWS_CONTAINER_CREDENTIALS_FULL_URI": "{meta}/container"},
                         "CredentialsError", "KeyError", "Token"),
           "imds": (None, {"AWS_EC2_METADATA_SERVICE_ENDPOINT": "{meta}"},
                    "NoCredentials", "NoCredentialsError", "EC2 instance metadata"),
           "ecs-source": ("ecs-source", SOURCE_ENV["ecs-source"], "CredentialsError", "KeyError", "Token"),
           "imds-source": ("imds-source", SOURCE_ENV["imds-source"], "CredentialsError",
                           "CredentialRetrievalError", "credential_source")}
NO_TOKEN_SECRET = "no-token-secret-value"
PY_CLASS = {"CredentialsError": "CredentialRetrievalError", "NoCredentials": "NoCredentialsError"}

LUA_REFUSED = """local smneo = require "smneo"
local profile = arg[1] ~= "" and arg[1] or nil
local ok, err = pcall(function()
  local c = smneo.client{ region_name = "us-east-1", profile_name = profile, endpoint_url = arg[2],
                          retry_backoff_scale = 0.001 }
  c:list_compilation_jobs{}
end)
io.write(tostring(ok), " ", type(err) == "table" and tostring(err.code) or "?", "\\n",
         type(err) == "table" and tostring(err.message) or tostring(err))
"""


@pytest.fixture(scope="module")
def metadata_no_token():
    """tests/nginx/metadata.py answering without a Token (one for the module)."""
    p = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests", "nginx", "metadata.py"), "AKIDNOTOKEN",
                          NO_TOKEN_SECRET], stdout=subprocess.PIPE, text=True)
    try:
        yield p.stdout.readline().strip()
    finally:
        p.kill()
        p.wait()


def refused_by(front, server, profile, tmp_path, python_error=smneo.SmneoError):
    """(error code, message) of smneo's refusal through FRONT (Python: the
    exception's class name; the CLI: None)."""
    if front == "python":
        with pytest.raises(python_error) as info:
            with_python(server, profile, tmp_path)
        return type(info.value).__name__, str(info.value)
    if front == "resty":
        status, body, log = resty(server, profile, tmp_path)
        assert status == 500, (status, body)
        code, _, message = body.partition("\n")
        return code, message
    if front == "lua":
        module = os.path.join(BUILD, "lua5.4", "smneo.so")
        if not shutil.which("lua5.4") or not os.path.exists(module):
            pytest.skip("lua5.4 or %s missing" % module)
        env = dict(os.environ, LUA_CPATH=os.path.join(os.path.dirname(module), "?.so"),
                   LUA_PATH=os.path.join(ROOT, "lua", "?.lua"))
        p = subprocess.run(["lua5.4", "-", profile or "", server.url], input=LUA_REFUSED, env=env, text=True,
                           capture_output=True, timeout=60)
        assert p.returncode == 0, p.stderr
        first, _, message = p.stdout.partition("\n")
        ok, code = first.split(" ")
        assert ok == "false", p.stdout
        return code, message
    cli = os.path.join(BUILD, "smneo")
    if not os.path.exists(cli):
        pytest.skip("%s not built" % cli)
    p = subprocess.run([cli] + (["--profile", profile] if profile else []) + ["--region", "us-east-1",
                       "--endpoint-url", server.url, "list", "--output", "json"], text=True, capture_output=True,
                       timeout=60, start_new_session=True)
    assert p.returncode != 0 and p.stdout == "", (p.returncode, p.stdout)
    return None, p.stderr


@pytest.mark.parametrize("front", ["python", "lua", "cli", "resty"])
@pytest.mark.parametrize("source", sorted(REFUSED))
def test_answer_without_token_refused_as_boto3(profiles_env, monkeypatch, tmp_path, metadata_no_token, source,
                                               front):
    server = profiles_env
    profile, env, code, boto_class, named = REFUSED[source]
    source_env(monkeypatch, tmp_path, env, metadata_no_token)
    since = last_seq(server)
    with pytest.raises(Exception) as theirs:
        with_boto3(server, profile, tmp_path)
    assert type(theirs.value).__name__ == boto_class, repr(theirs.value)
    ours, message = refused_by(front, server, profile, tmp_path)
    assert ours in (None, code if front in ("lua", "resty") else PY_CLASS[code]), (ours, message)
    assert named in message, message
    assert NO_TOKEN_SECRET not in message, message  # no secret quoted
    assert recorded(server, since) == []  # neither side sent a signed request


# A login session (`aws login`): botocore 1.43's login provider needs awscrt
# (without it: MissingDependencyException); smneo refuses the profile, alone or
# as a role's source, naming it and login_session (docs/credentials.md).
# Neither side sends a request, and smneo never falls through to another source.


@pytest.mark.parametrize("front", ["python", "lua", "cli", "resty"])
@pytest.mark.parametrize("profile", ["login", "over-login"])
def test_login_session_refused(profiles_env, monkeypatch, tmp_path, metadata, front, profile):
    server = profiles_env
    # credentials the chain would find if it fell through: the environment's and IMDS
    source_env(monkeypatch, tmp_path, SOURCE_ENV["imds-source"], metadata)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    since = last_seq(server)
    need_module("botocore")
    import botocore.exceptions
    try:
        import awscrt  # noqa: F401
    except ImportError:
        with pytest.raises(botocore.exceptions.MissingDependencyException):
            with_boto3(server, profile, tmp_path)
    ours, message = refused_by(front, server, profile, tmp_path, python_error=NotImplementedError)
    assert ours in (None, "NotImplementedError" if front == "python" else "Unsupported"), (ours, message)
    assert "profile 'login'" in message and "login_session" in message, message
    assert recorded(server, since) == []


# SSO-OIDC CreateToken refresh: the sso-session's cached token has expired and
# the cache holds a refresh token (and the client registration): boto3 and each
# front send the same CreateToken (refresh_token grant), call GetRoleCredentials
# with the token it returned and write the cache file back with the same keys
# (the new access token, its expiry, the rotated refresh token). Each side
# starts from the same expired file and the same refresh token. The CLI makes
# one command (`list`): the next one would read the file the first wrote.
REFRESH_STEPS = {"cli": ("list",)}


def expired_sso_session(server, tmp_path):
    now = datetime.datetime.now(datetime.timezone.utc)
    admin(server, "POST", "/_smneo/identity", {"refresh_tokens": {"rt-parity": {
        "client_id": "cid-parity", "client_secret": "csecret-parity", "access_token_ttl": 28800,
        "user": "dave", "rotate": True}}})
    doc = {"startUrl": "https://corp.awsapps.com/start", "region": "us-east-1", "accessToken": "tok-expired",
           "expiresAt": (now - datetime.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
           "clientId": "cid-parity", "clientSecret": "csecret-parity", "refreshToken": "rt-parity",
           "registrationExpiresAt": (now + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")}
    path = tmp_path / ".aws" / "sso" / "cache" / (hashlib.sha1(b"corp").hexdigest() + ".json")
    path.write_text(json.dumps(doc))
    return path


def refreshed(server, fn, tmp_path, profile="sso", **kw):
    """The requests of one refresh, the access token in GetRoleCredentials
    replaced by what the cache file now holds (checked: the same), and the
    file's contents."""
    path = expired_sso_session(server, tmp_path)
    rows = run(server, fn, profile, tmp_path, **kw)
    doc = json.loads(path.read_text())
    out = []
    for service, op, params, signer, status in rows:
        if op == "GetRoleCredentials":
            # smneo.local records a token as its digest
            assert params["accessToken"] == fingerprint(doc["accessToken"]) != fingerprint("tok-expired"), params
            params = dict(params, accessToken="<the refreshed token>")
        out.append((service, op, params, signer, status))
    return out, doc


@pytest.mark.parametrize("front", ["python", "lua", "cli", "resty"])
def test_sso_oidc_refresh_as_boto3(profiles_env, tmp_path, front):
    server = profiles_env
    steps = REFRESH_STEPS.get(front, ("list", "put", "get"))
    theirs, their_doc = refreshed(server, with_boto3, tmp_path, steps=steps)
    ours, our_doc = refreshed(server, FRONTS[front], tmp_path,
                              **({"steps": steps} if front == "cli" else {}))
    assert ours == theirs
    assert [r[:2] for r in ours][:2] == [("sso-oidc", "CreateToken"), ("sso", "GetRoleCredentials")], ours
    assert ours[0][2] == {"clientId": "cid-parity", "clientSecret": fingerprint("csecret-parity"),
                          "grantType": "refresh_token", "refreshToken": fingerprint("rt-parity")}, ours[0]
    assert all(r[4] == 200 for r in ours) and "/dave" in ours[2][3], ours
    # the same file written back: same keys, the registration kept, a rotated refresh token, ~8 hours ahead
    assert sorted(our_doc) == sorted(their_doc), (sorted(our_doc), sorted(their_doc))
    for doc in (our_doc, their_doc):
        assert doc["refreshToken"] not in ("rt-parity", "") and doc["clientSecret"] == "csecret-parity"
        left = (datetime.datetime.strptime(doc["expiresAt"], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc) - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
        assert 28000 < left <= 28800, doc["expiresAt"]


# Each credential service's own endpoint settings: AWS_ENDPOINT_URL_STS,
# AWS_ENDPOINT_URL_SSO and AWS_ENDPOINT_URL_SSO_OIDC with AWS_ENDPOINT_URL
# pointing nowhere, or the profile's `services` section (below
# AWS_ENDPOINT_URL, so that is unset), its keys sts, sso and sso_oidc, on the
# role's profile only (botocore's nested clients take the session's profile).
# The case: the role over the sso-session whose token is refreshed (CreateToken,
# GetRoleCredentials, AssumeRole). SageMaker and S3: the fronts' endpoint
# option and AWS_ENDPOINT_URL_S3.


@pytest.mark.parametrize("front", ["python", "lua", "cli", "resty"])
@pytest.mark.parametrize("how", ["variables", "services"])
def test_credential_endpoints_as_boto3(profiles_env, monkeypatch, tmp_path, front, how):
    server = profiles_env
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", server.url)
    if how == "variables":
        profile = "over-sso"
        monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
        for var in ("AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_SSO", "AWS_ENDPOINT_URL_SSO_OIDC"):
            monkeypatch.setenv(var, server.url)
    else:
        profile = "over-sso-services"
        monkeypatch.delenv("AWS_ENDPOINT_URL")
    steps = REFRESH_STEPS.get(front, ("list", "put", "get"))
    theirs, their_doc = refreshed(server, with_boto3, tmp_path, profile, steps=steps)
    ours, our_doc = refreshed(server, FRONTS[front], tmp_path, profile,
                              **({"steps": steps} if front == "cli" else {}))
    assert ours == theirs
    assert [r[:2] for r in ours][:3] == [("sso-oidc", "CreateToken"), ("sso", "GetRoleCredentials"),
                                         ("sts", "AssumeRole")], ours
    assert all(r[4] == 200 for r in ours) and "assumed-role/OverSso/over" in ours[3][3], ours
    assert sorted(our_doc) == sorted(their_doc)
