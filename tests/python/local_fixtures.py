"""Fixtures and helpers for the smneo.local test files (test_local_*.py)."""
import io
import json
import tarfile
import urllib.request

import pytest

boto3 = pytest.importorskip("boto3")
from botocore.config import Config  # noqa: E402


def _import_local():
    """smneo.local must import even when the C extension (or anything else in
    smneo/__init__.py) is broken; test_local_cli checks the real `import`
    path in a subprocess, so here a broken parent package only costs a stub."""
    try:
        from smneo.local import Server as S
        return S
    except ImportError:
        import importlib
        import os
        import sys
        import types
        for name in [m for m in sys.modules if m == "smneo" or m.startswith("smneo.")]:
            del sys.modules[name]
        here = os.path.dirname(os.path.abspath(__file__))
        stub = types.ModuleType("smneo")
        stub.__path__ = [os.path.join(os.path.dirname(os.path.dirname(here)),
                                      "python", "smneo")]
        sys.modules["smneo"] = stub
        return importlib.import_module("smneo.local").Server


Server = _import_local()

ROLE = "arn:aws:iam::123456789012:role/NeoRole"


class FakeClock:
    """A clock for Server(clock=...): tests move .now by hand."""

    def __init__(self, now=1700000000.0):
        self.now = now

    def __call__(self):
        return self.now


def tgz(files):
    """A gzip tar holding {name: bytes}."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tf.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def client(server, service, key="test", secret="test", retries=1, token=None,
           region="us-east-1", **config):
    return boto3.client(
        service, endpoint_url=server.url, region_name=region,
        aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token,
        config=Config(retries={"total_max_attempts": retries, "mode": "standard"},
                      connect_timeout=5, read_timeout=10, **config))


def client_for(server, service, creds, region="us-east-1", **config):
    """A client signing with credentials STS (Credentials) or the SSO portal
    (roleCredentials) issued."""
    if "accessKeyId" in creds:
        creds = {"AccessKeyId": creds["accessKeyId"],
                 "SecretAccessKey": creds["secretAccessKey"],
                 "SessionToken": creds["sessionToken"]}
    return client(server, service, creds["AccessKeyId"], creds["SecretAccessKey"],
                  token=creds["SessionToken"], region=region, **config)


def error_of(excinfo):
    """(code, HTTP status, message) of a botocore ClientError."""
    r = excinfo.value.response
    return (r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"],
            r["Error"].get("Message"))


def admin(server, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(server.url + path, data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def job_request(name, s3uri="s3://models/in/model.tar.gz", framework="PYTORCH",
                target="ml_c5", out="s3://models/out", **extra):
    req = {
        "CompilationJobName": name,
        "RoleArn": ROLE,
        "InputConfig": {"S3Uri": s3uri, "Framework": framework,
                        "DataInputConfig": '{"input0": [1, 3, 224, 224]}'},
        "OutputConfig": {"S3OutputLocation": out},
        "StoppingCondition": {"MaxRuntimeInSeconds": 900},
    }
    if isinstance(target, dict):
        req["OutputConfig"]["TargetPlatform"] = target
    elif target is not None:
        req["OutputConfig"]["TargetDevice"] = target
    req.update(extra)
    return req


@pytest.fixture
def server():
    with Server(port=0, job_duration=0.25) as s:
        yield s


@pytest.fixture
def s3(server):
    c = client(server, "s3")
    c._smneo_dir = server.data_dir
    return c


@pytest.fixture
def sm(server):
    return client(server, "sagemaker")
