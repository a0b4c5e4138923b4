"""smneo's exceptions as botocore's (issue 13, item 1): real subclasses of
botocore.exceptions' classes where botocore is importable, created on first
use (importing smneo does not import botocore), standalone without it."""
import os
import pickle
import subprocess
import sys
import textwrap

import pytest

import smneo
from fakes import CLOSE, KEY, SECRET, client, fake, isolated_env, make_client, need_module  # noqa: F401

PYDIR = os.path.dirname(os.path.dirname(smneo.__file__))

# smneo name -> botocore.exceptions name
COUNTERPARTS = {
    "ClientError": "ClientError", "ParamValidationError": "ParamValidationError",
    "NoCredentialsError": "NoCredentialsError", "NoRegionError": "NoRegionError",
    "CredentialRetrievalError": "CredentialRetrievalError", "HTTPClientError": "HTTPClientError",
    "EndpointConnectionError": "EndpointConnectionError", "ConnectTimeoutError": "ConnectTimeoutError",
    "ReadTimeoutError": "ReadTimeoutError", "ConnectionClosedError": "ConnectionClosedError",
    "SSLError": "SSLError", "ProxyConnectionError": "ProxyConnectionError", "PaginationError": "PaginationError",
    "WaiterError": "WaiterError",
}


def run_python(code, env=None):
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=PYDIR, **(env or {})), timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_import_smneo_does_not_import_botocore():
    need_module("botocore.exceptions")
    out = run_python("""
        import sys
        import smneo
        c = smneo.Client(region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
        print("after import and Client:", "botocore" in sys.modules)
        smneo.ClientError
        print("after smneo.ClientError:", "botocore" in sys.modules)
    """)
    assert "after import and Client: False" in out
    assert "after smneo.ClientError: True" in out


def test_first_raise_builds_the_classes_with_botocore_bases():
    need_module("botocore.exceptions")
    # the extension's first raise, before any smneo.<Error> access, gives the same classes
    out = run_python("""
        import sys, smneo
        c = smneo.Client(region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
        try:
            c.describe_compilation_job(CompilationJobName="")
        except Exception as e:
            import botocore.exceptions as b
            print(type(e) is smneo.ParamValidationError, isinstance(e, b.ParamValidationError))
    """)
    assert out.split() == ["True", "True"]


@pytest.mark.parametrize("name", sorted(COUNTERPARTS))
def test_classes_are_real_subclasses_of_botocores(name):
    bce = need_module("botocore.exceptions")
    ours, theirs = getattr(smneo, name), getattr(bce, COUNTERPARTS[name])
    # the real hierarchy, not __subclasscheck__ or ABC registration
    assert theirs in ours.__mro__
    assert smneo.SmneoError in ours.__mro__
    if getattr(theirs, "fmt", None):
        assert ours.fmt == theirs.fmt


def test_modeled_errors_subclass_botocores_client_error(client, fake):
    bce = need_module("botocore.exceptions")
    fake.queue("DescribeCompilationJob", 400, {"__type": "ResourceNotFound", "Message": "no job x"})
    with pytest.raises(bce.ClientError) as ei:
        client.describe_compilation_job(CompilationJobName="x")
    e = ei.value
    assert type(e) is client.exceptions.ResourceNotFound is smneo.ResourceNotFound
    assert isinstance(e, client.exceptions.ClientError)
    assert client.exceptions.from_code("ResourceNotFound") is smneo.ResourceNotFound
    assert client.exceptions.from_code("Nope") is smneo.ClientError
    assert e.response["Error"] == {"Code": "ResourceNotFound", "Message": "no job x"}
    assert e.operation_name == "DescribeCompilationJob"
    assert str(e) == "An error occurred (ResourceNotFound) when calling the DescribeCompilationJob operation: no job x"
    # botocore's own constructor gives the same text
    assert str(e) == str(bce.ClientError(e.response, "DescribeCompilationJob"))
    with pytest.raises(AttributeError, match="modeled errors are"):
        client.exceptions.NoSuchThing


def test_keyword_construction_matches_botocore():
    bce = need_module("botocore.exceptions")
    for name, kwargs in [("NoRegionError", {}), ("NoCredentialsError", {}),
                         ("EndpointConnectionError", {"endpoint_url": "https://x"}),
                         ("ConnectTimeoutError", {"endpoint_url": "https://x"}),
                         ("ReadTimeoutError", {"endpoint_url": "https://x"}),
                         ("ConnectionClosedError", {"endpoint_url": "https://x"}),
                         ("SSLError", {"endpoint_url": "https://x", "error": "bad cert"}),
                         ("ProxyConnectionError", {"proxy_url": "http://p:3128"}),
                         ("CredentialRetrievalError", {"provider": "sso", "error_msg": "expired"}),
                         ("ParamValidationError", {"report": "Name: too long"}),
                         ("PaginationError", {"message": "twice"})]:
        ours, theirs = getattr(smneo, name)(**kwargs), getattr(bce, name)(**kwargs)
        assert str(ours) == str(theirs), name
        assert ours.kwargs == theirs.kwargs, name
    w = smneo.WaiterError(name="W", reason="r", last_response={"a": 1})
    assert str(w) == str(bce.WaiterError("W", "r", {"a": 1})) and w.last_response == {"a": 1}
    h = smneo.HTTPClientError(error="boom")
    assert str(h) == str(bce.HTTPClientError(error="boom")) and h.request is None and h.response is None


def test_connection_error_has_botocores_keywords_and_smneos_detail(isolated_env):
    bce = need_module("botocore.exceptions")
    c = make_client("http://127.0.0.1:9", max_attempts=1)
    with pytest.raises(bce.EndpointConnectionError) as ei:
        c.describe_compilation_job(CompilationJobName="x")
    e = ei.value
    assert e.kwargs["endpoint_url"] == "http://127.0.0.1:9"
    assert str(e).startswith('Could not connect to the endpoint URL: "http://127.0.0.1:9": ')
    assert "127.0.0.1:9" in e.kwargs["error"]


def test_closed_connection_is_botocores_connection_closed_error(isolated_env, fake):
    bce = need_module("botocore.exceptions")
    fake.queue("DescribeCompilationJob", 200, CLOSE)
    client = make_client(fake.url, max_attempts=1)
    with pytest.raises(bce.ConnectionClosedError) as ei:
        client.describe_compilation_job(CompilationJobName="x")
    assert isinstance(ei.value, bce.HTTPClientError) and isinstance(ei.value, smneo.HTTPClientError)
    assert str(ei.value).startswith("Connection was closed before we received a valid response from endpoint URL: "
                                    '"%s".' % fake.url)


def test_read_timeout_is_botocores(isolated_env, fake):
    bce = need_module("botocore.exceptions")
    fake.queue("DescribeCompilationJob", 200, {}, delay=1.5)
    c = make_client(fake.url, read_timeout=0.2, max_attempts=1)
    with pytest.raises(bce.ReadTimeoutError) as ei:
        c.describe_compilation_job(CompilationJobName="x")
    assert type(ei.value) is smneo.ReadTimeoutError
    assert str(ei.value).startswith('Read timeout on endpoint URL: "%s"' % fake.url)


def test_param_validation_error_is_botocores_and_a_value_error(client):
    bce = need_module("botocore.exceptions")
    with pytest.raises(bce.ParamValidationError) as ei:
        client.describe_compilation_job(CompilationJobName="")
    e = ei.value
    assert isinstance(e, ValueError)
    assert str(e).startswith("Parameter validation failed:\nCompilationJobName: ")
    assert e.kwargs["report"] == str(e).split("\n", 1)[1]
    assert e.issues[0].path == "CompilationJobName"


def test_pickle_keeps_class_message_and_attributes(client, fake):
    fake.queue("DescribeCompilationJob", 400, {"__type": "ResourceNotFound", "Message": "gone"})
    with pytest.raises(smneo.ClientError) as ei:
        client.describe_compilation_job(CompilationJobName="x")
    back = pickle.loads(pickle.dumps(ei.value))
    assert type(back) is smneo.ResourceNotFound and str(back) == str(ei.value)
    assert back.response == ei.value.response and back.operation_name == "DescribeCompilationJob"
    with pytest.raises(smneo.ParamValidationError) as ei:
        client.describe_compilation_job(CompilationJobName="")
    back = pickle.loads(pickle.dumps(ei.value))
    assert str(back) == str(ei.value) and back.issues == ei.value.issues and back.kwargs == ei.value.kwargs
    e = smneo.EndpointConnectionError("detail", endpoint_url="http://x")
    back = pickle.loads(pickle.dumps(e))
    assert str(back) == str(e) and back.kwargs == {"endpoint_url": "http://x"}


def test_without_botocore_smneo_stands_alone():
    # botocore made unimportable: the same tree, no botocore base, same messages
    out = run_python("""
        import sys
        sys.modules["botocore"] = None
        import http.server, json, threading
        import smneo

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a): pass
            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                body = json.dumps({"__type": "ResourceNotFound", "Message": "no"}).encode()
                self.send_response(400)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
        srv = http.server.HTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        c = smneo.Client(region_name="us-east-1", endpoint_url="http://127.0.0.1:%d" % srv.server_port,
                         aws_access_key_id="a", aws_secret_access_key="b")
        try:
            c.describe_compilation_job(CompilationJobName="x")
        except c.exceptions.ResourceNotFound as e:
            print(type(e).__name__, [k.__module__ for k in type(e).__mro__ if k.__module__.startswith("botocore")])
            print(str(e))
        print(str(smneo.NoRegionError()))
        print(str(smneo.EndpointConnectionError(endpoint_url="https://x")))
        print(issubclass(smneo.ParamValidationError, ValueError), "botocore" in str(smneo.ClientError.__mro__))
        srv.shutdown()
    """)
    lines = out.splitlines()
    assert lines[0] == "ResourceNotFound []"
    assert lines[1] == "An error occurred (ResourceNotFound) when calling the DescribeCompilationJob operation: no"
    assert lines[2] == "You must specify a region."
    assert lines[3] == 'Could not connect to the endpoint URL: "https://x"'
    assert lines[4] == "True False"


@pytest.mark.parametrize("status,body", [
    (429, b""), (413, b"<html><body>Too big</body></html>"), (500, b""), (503, b"<html>busy</html>"),
    (504, b" \r\n"), (400, b"not json"), (502, b"not json"), (404, b"{}"), (400, b'{"message": "m"}'),
    (400, b'{"__type": "x.y#ThrottlingException:extra", "Message": "slow"}'),
])
def test_error_code_and_message_as_botocores_parser(status, body):
    """Empty and non-JSON error bodies give botocore's Error.Code and Error.Message
    (parsers.py: generic 5xx bodies get the reason phrase, other text is the message)."""
    parsers = need_module("botocore.parsers")
    session = need_module("botocore.session")
    shape = session.get_session().get_service_model("sagemaker").operation_model(
        "DescribeCompilationJob").output_shape
    theirs = parsers.create_parser("json").parse({"status_code": status, "headers": {}, "body": body}, shape)
    with pytest.raises(smneo.ClientError) as ei:
        smneo.parse_response("DescribeCompilationJob", status, {}, body)
    assert ei.value.response["Error"] == theirs["Error"]
