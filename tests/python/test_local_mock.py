"""smneo.local.mock() (issue 13): clients made inside without endpoint_url
talk to a fresh in-process smneo.local, with no socket; fake credentials
when none are set; compile() works end to end inside it."""
import os
import socket

import pytest

import smneo
from fakes import isolated_env  # noqa: F401
from smneo.local import Server, mock

EXAMPLE_MODEL = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                             "examples", "model")
ROLE = "arn:aws:iam::123456789012:role/neo"


@pytest.fixture
def no_sockets(monkeypatch):
    """Any connection attempt fails the test: nothing may leave the process."""
    def refuse(self, *args):
        raise AssertionError("a socket connected to %r" % (args,))
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


def test_context_manager_compile_end_to_end_without_sockets(isolated_env, no_sockets, tmp_path):
    with mock() as server:
        server.create_bucket("models", region="us-west-2")
        client = smneo.Client(region_name="us-west-2")
        result = client.compile(EXAMPLE_MODEL, framework="PYTORCH", role_arn=ROLE, s3_bucket="models",
                                target_device="ml_c5", data_input_config={"input0": [1, 4]},
                                output_dir=str(tmp_path / "out"), extract=True, delay=0.05, max_delay=0.1)
        assert result.job["CompilationJobStatus"] == "COMPLETED"
        assert result.digest_verified and os.path.isfile(result.artifact_path)
        assert result.job["CompilationJobArn"].startswith("arn:aws:sagemaker:us-west-2:123456789012:")
        names = [j["CompilationJobName"] for j in client.iter_compilation_jobs()]
        assert names == [result.job_name]
        # the server saw the signed requests: STS-free, SageMaker and S3
        services = {r["service"] for r in server.requests(None, 0)}
        assert {"sagemaker", "s3"} <= services


def test_decorator_gives_a_fresh_server_each_call(isolated_env, no_sockets):
    @mock()
    def create_and_list(name):
        client = smneo.Client(region_name="us-east-1")
        with pytest.raises(client.exceptions.ResourceNotFound):
            client.describe_compilation_job(CompilationJobName=name)
        return client.list_compilation_jobs()["CompilationJobSummaries"]

    assert create_and_list("a") == []
    assert create_and_list("b") == []


def test_fake_credentials_only_inside_and_only_when_none_are_set(isolated_env, no_sockets):
    assert "AWS_ACCESS_KEY_ID" not in os.environ
    with mock():
        assert os.environ["AWS_ACCESS_KEY_ID"] == "test"
        smneo.Client(region_name="eu-west-1").list_compilation_jobs()
    assert "AWS_ACCESS_KEY_ID" not in os.environ
    os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"] = "AKIDMINE", "my-secret"
    try:
        with mock():
            assert os.environ["AWS_ACCESS_KEY_ID"] == "AKIDMINE"  # kept, and accepted by the mock
            smneo.Client(region_name="eu-west-1").list_compilation_jobs()
    finally:
        del os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]


def test_explicit_endpoint_url_is_not_intercepted(isolated_env):
    with Server(job_duration=0.1) as real, mock() as mocked:
        client = smneo.Client(region_name="us-east-1", endpoint_url=real.url, aws_access_key_id="test",
                              aws_secret_access_key="test")
        client.list_compilation_jobs()
        assert [r["operation"] for r in real.requests("sagemaker", 0)] == ["ListCompilationJobs"]
        assert mocked.requests("sagemaker", 0) == []


def test_faults_of_the_mock_server_and_a_client_outliving_it(isolated_env, no_sockets):
    with mock() as server:
        client = smneo.Client(region_name="us-east-1", _retry_backoff_scale=0.001)
        server.add_fault({"kind": "throttle", "count": 1, "target": "sagemaker"})
        out = client.list_compilation_jobs()
        assert out["ResponseMetadata"]["RetryAttempts"] == 1
        server.add_fault({"kind": "close", "count": 5, "target": "sagemaker"})
        with pytest.raises(smneo.ConnectionClosedError, match="in-process transport"):
            client.list_compilation_jobs()
    with pytest.raises(smneo.EndpointConnectionError, match="mock\\(\\) has ended"):
        client.list_compilation_jobs()
