"""A small threaded HTTP/1.1 server on 127.0.0.1 serving canned SageMaker
(AWS JSON 1.1) responses and recording every request.

    with FakeSageMaker() as fake:
        fake.queue("DescribeCompilationJob", 400, {"__type": "ResourceNotFound", "Message": "no"})
        fake.handlers["ListCompilationJobs"] = lambda req: (200, {...})
        client = smneo.Client(endpoint_url=fake.url, ...)
        fake.requests  # [Recorded(...)]

Responses come, per operation, from the queue first (one per request), then
from a handler, then from DEFAULTS. A response is (status, body) or
(status, body, headers) or (status, body, headers, delay_seconds); a dict
body is JSON-encoded, bytes are sent as they are. The special body CLOSE
drops the connection without answering.
"""
import http.client
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

CLOSE = object()

CREATED = 1700000000.123
MODIFIED = 1700000456.5

JOB_ARN = "arn:aws:sagemaker:us-east-1:123456789012:compilation-job/%s"


def description(name="job-1", status="COMPLETED", **extra):
    d = {
        "CompilationJobName": name,
        "CompilationJobArn": JOB_ARN % name,
        "CompilationJobStatus": status,
        "CompilationStartTime": CREATED + 1,
        "CompilationEndTime": MODIFIED,
        "StoppingCondition": {"MaxRuntimeInSeconds": 900},
        "InferenceImage": "763104351884.dkr.ecr.us-east-1.amazonaws.com/neo:latest",
        "ModelPackageVersionArn": None,
        "CreationTime": CREATED,
        "LastModifiedTime": MODIFIED,
        "FailureReason": "",
        "ModelArtifacts": {"S3ModelArtifacts": "s3://bucket/out/model-ml_c5.tar.gz"},
        "ModelDigests": {"ArtifactDigest": "a" * 128},
        "RoleArn": "arn:aws:iam::123456789012:role/NeoRole",
        "InputConfig": {"S3Uri": "s3://bucket/in/model.tar.gz", "DataInputConfig": '{"input0":[1,3,224,224]}',
                        "Framework": "PYTORCH", "FrameworkVersion": "1.8"},
        "OutputConfig": {"S3OutputLocation": "s3://bucket/out/", "TargetDevice": "ml_c5",
                         "CompilerOptions": '{"dtype": "float32"}'},
        "VpcConfig": {"SecurityGroupIds": ["sg-0123456789abcdef0"], "Subnets": ["subnet-0123456789abcdef0"]},
        "DerivedInformation": {"DerivedDataInputConfig": '[{"input0": [1, 3, 224, 224]}]'},
    }
    d.update(extra)
    return d


def summary(i, status="COMPLETED"):
    return {
        "CompilationJobName": "job-%04d" % i,
        "CompilationJobArn": JOB_ARN % ("job-%04d" % i),
        "CreationTime": CREATED + i,
        "CompilationStartTime": CREATED + i + 0.25,
        "CompilationEndTime": CREATED + i + 60,
        "CompilationTargetDevice": "ml_c5",
        "LastModifiedTime": CREATED + i + 60,
        "CompilationJobStatus": status,
    }


def step(i):
    return {
        "StepName": "step-%d" % i,
        "StepDisplayName": "Step %d" % i,
        "StepDescription": "compile",
        "StartTime": CREATED + i,
        "EndTime": CREATED + i + 5,
        "StepStatus": "Succeeded",
        "AttemptCount": 1,
        "Metadata": {"Model": {"Arn": "arn:aws:sagemaker:us-east-1:123456789012:model/m-%d" % i},
                     "Lambda": {"Arn": "arn:aws:lambda:us-east-1:123456789012:function:f",
                                "OutputParameters": [{"Name": "out", "Value": "1"}]}},
    }


DEFAULTS = {
    "CreateCompilationJob": lambda req: (200, {"CompilationJobArn": JOB_ARN % req.json.get("CompilationJobName")}),
    "DescribeCompilationJob": lambda req: (200, description(req.json.get("CompilationJobName", "job-1"))),
    "ListCompilationJobs": lambda req: (200, {"CompilationJobSummaries": [summary(1), summary(2)]}),
    "StopCompilationJob": lambda req: (200, b""),
    "DeleteCompilationJob": lambda req: (200, b""),
    "ListPipelineExecutionSteps": lambda req: (200, {"PipelineExecutionSteps": [step(1), step(2)]}),
}


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict
    body: bytes
    operation: str
    json: dict = field(default_factory=dict)
    peer: tuple = ()   # the client's (address, port): one per TCP connection


def paged(items, page_size_default=10, token_prefix="tok-"):
    """A handler serving `items` (a list) in pages honouring MaxResults/NextToken."""
    def handler(req):
        size = req.json.get("MaxResults") or page_size_default
        start = 0
        tok = req.json.get("NextToken")
        if tok:
            start = int(tok[len(token_prefix):])
        chunk = items[start:start + size]
        body = {"CompilationJobSummaries": chunk}
        if start + size < len(items):
            body["NextToken"] = "%s%d" % (token_prefix, start + size)
        return 200, body
    return handler


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 64 * 1024           # one write per response (flushed after each request)
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        pass

    def do_POST(self):  # noqa: N802
        fake = self.server.fake
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        target = self.headers.get("X-Amz-Target", "")
        op = target.split(".", 1)[-1]
        try:
            parsed = json.loads(body) if body else {}
        except ValueError:
            parsed = {}
        rec = Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body, op, parsed,
                       tuple(self.client_address))
        resp = fake._next(op, rec)
        if fake.record:
            with fake._lock:
                fake.requests.append(rec)
        status, rbody = resp[0], resp[1]
        headers = resp[2] if len(resp) > 2 else {}
        delay = resp[3] if len(resp) > 3 else 0
        if delay:
            time.sleep(delay)
        if rbody is CLOSE:
            self.close_connection = True
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        if isinstance(rbody, (dict, list)):
            rbody = json.dumps(rbody).encode()
        out = {"x-amzn-RequestId": str(uuid.uuid4()), "Content-Type": "application/x-amz-json-1.1",
               "Date": "Tue, 14 Nov 2023 22:13:20 GMT"}
        out.update(headers)
        self.send_response(status)
        for k, v in out.items():
            if v is not None:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(rbody)))
        self.end_headers()
        self.wfile.write(rbody)


class FakeSageMaker:
    def __init__(self):
        self._lock = threading.Lock()
        self.requests = []
        self.record = True  # False: keep no history (long loops, leak checks)
        self.handlers = {}
        self._queues = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.fake = self
        self.url = "http://127.0.0.1:%d" % self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def queue(self, operation, status, body, headers=None, delay=0):
        with self._lock:
            self._queues.setdefault(operation, []).append((status, body, headers or {}, delay))

    def _next(self, op, rec):
        with self._lock:
            q = self._queues.get(op)
            if q:
                return q.pop(0)
        h = self.handlers.get(op) or DEFAULTS.get(op)
        if h is None:
            return 400, {"__type": "UnknownOperationException", "message": "unknown operation %s" % op}
        return h(rec)

    def ops(self):
        with self._lock:
            return [r.operation for r in self.requests]

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
        return False


# ---- pytest fixtures shared by the binding's test files (import them) ----------
import pytest  # noqa: E402

KEY, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


def botocore_required():
    """Under CI=true a missing boto3/botocore fails the botocore-parity tests;
    the smoke pass under the other CPythons (tools/test-python-versions.sh),
    whose interpreters have no botocore, sets SMNEO_BOTOCORE_OPTIONAL=1: the
    main interpreter's run checks parity there."""
    import os
    return os.environ.get("CI") == "true" and os.environ.get("SMNEO_BOTOCORE_OPTIONAL") != "1"


def need_module(module):
    """Import MODULE (boto3, botocore.*) or skip; a failure where botocore_required()."""
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as e:
        if botocore_required():
            pytest.fail("%s is required under CI=true: %s" % (module, e))
        pytest.skip("%s is not installed: parity with botocore not checked" % module)


@pytest.fixture
def isolated_env(monkeypatch, tmp_path):
    """No AWS settings from the machine: empty config files, no IMDS."""
    import os
    for k in list(os.environ):
        if k.startswith("AWS_"):
            monkeypatch.delenv(k)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return tmp_path


@pytest.fixture
def fake():
    with FakeSageMaker() as f:
        yield f


def make_client(url, **kw):
    import smneo
    opts = dict(region_name="us-east-1", endpoint_url=url, aws_access_key_id=KEY, aws_secret_access_key=SECRET,
                _retry_backoff_scale=0.001, read_timeout=10, connect_timeout=5)
    opts.update(kw)
    return smneo.Client(**opts)


@pytest.fixture
def client(fake, isolated_env):
    c = make_client(fake.url)
    yield c
    c.close()


class _Proxy(BaseHTTPRequestHandler):
    """A forward proxy for plain http: records the absolute URL and forwards."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.seen.append(self.path)
        u = urlsplit(self.path)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-connection", "connection")}
        conn.request("POST", u.path or "/", body, headers)
        r = conn.getresponse()
        data = r.read()
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        conn.close()


@pytest.fixture
def proxy():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    srv.daemon_threads = True
    srv.seen = []
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()
