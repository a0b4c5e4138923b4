"""Inside moto's mock_aws (issue 13): a smneo client made inside without
endpoint_url is answered by moto's in-process backends, shares their state
with boto3 clients, and never reaches AWS: what moto does not answer fails."""
import socket

import pytest

import smneo
from fakes import isolated_env, need_module  # noqa: F401

REQUEST = dict(CompilationJobName="j1", RoleArn="arn:aws:iam::123456789012:role/neo",
               InputConfig={"S3Uri": "s3://b/m.tar.gz", "Framework": "PYTORCH",
                            "DataInputConfig": '{"input0": [1, 3, 224, 224]}'},
               OutputConfig={"S3OutputLocation": "s3://b/o", "TargetDevice": "ml_c5"},
               StoppingCondition={"MaxRuntimeInSeconds": 900})


@pytest.fixture
def no_sockets(monkeypatch):
    def refuse(self, *args):
        raise AssertionError("a socket connected to %r" % (args,))
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


def test_smneo_inside_mock_aws_uses_motos_backend(isolated_env, no_sockets):
    moto = need_module("moto")
    boto3 = need_module("boto3")
    with moto.mock_aws():
        client = smneo.Client(region_name="us-east-1", _retry_backoff_scale=0.001)
        arn = client.create_compilation_job(**REQUEST)["CompilationJobArn"]
        assert arn == "arn:aws:sagemaker:us-east-1:123456789012:compilation-job/j1"
        assert client.describe_compilation_job(CompilationJobName="j1")["CompilationJobName"] == "j1"
        boto = boto3.client("sagemaker", region_name="us-east-1")
        assert [j["CompilationJobName"] for j in boto.list_compilation_jobs()["CompilationJobSummaries"]] == ["j1"]
        with pytest.raises(client.exceptions.ResourceNotFound):
            client.describe_compilation_job(CompilationJobName="nope")
        # moto has no StopCompilationJob: the request fails, it does not go to AWS
        with pytest.raises(smneo.EndpointConnectionError, match="stop_compilation_job"):
            client.stop_compilation_job(CompilationJobName="j1")
    with pytest.raises(smneo.EndpointConnectionError, match="mock_aws has ended"):
        client.list_compilation_jobs()


def test_unknown_to_moto_names_the_alternatives(isolated_env, no_sockets):
    moto = need_module("moto")
    from smneo import _moto

    class Request:
        method, url, headers, body = "GET", "https://nothing.example.com/x", {}, b""
    with moto.mock_aws():
        with pytest.raises(ConnectionRefusedError, match=r"smneo.local.mock\(\), or moto's server mode"):
            _moto.transport(Request())


def test_outside_mock_aws_nothing_changes(isolated_env):
    need_module("moto")
    from smneo import _moto
    assert not _moto.active()
