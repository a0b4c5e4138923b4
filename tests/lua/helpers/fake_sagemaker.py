#!/usr/bin/env python3
"""A small fake of the SageMaker Neo JSON API for the Lua specs (stdlib only).

    python3 tests/lua/helpers/fake_sagemaker.py --port 0

prints "http://127.0.0.1:PORT PID" as its first line and serves until killed
(or until --lifetime seconds have passed, so a crashed test run leaves
nothing behind). HTTP/1.1 with keep-alive.

Canned data: 57 compilation jobs job-000..job-056 (every 3rd COMPLETED, the
others FAILED/INPROGRESS), and a pipeline execution with 23 steps; lists page
with MaxResults (default 10) and NextToken.

Job names with special behaviour (create them first, then describe):
  wait-ok-N[-x]   STARTING, INPROGRESS, ..., COMPLETED after N describes
  wait-fail[-x]   STARTING, then FAILED with a FailureReason
  wait-stop[-x]   STARTING, then STOPPED
  wait-forever[-x] always INPROGRESS
  throttle-N[-x]  the first N describes answer ThrottlingException
  slow-S[-x]      each describe waits S seconds (float) before answering
  boom[-x]        describe answers 500 InternalFailure
ListPipelineExecutionSteps answers with a chunked body. --tls-cert/--tls-key
serve HTTPS. Control: GET /_stats (request and connection counts, the last request's headers),
POST /_reset (forget created jobs and counters).
"""
import argparse
import json
import os
import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REGION = "us-east-1"
ACCOUNT = "123456789012"
PIPELINE_ARN = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/demo/execution/abc123"
STATUSES = ["COMPLETED", "FAILED", "INPROGRESS"]

lock = threading.Lock()
state = {}


def job_arn(name):
    return "arn:aws:sagemaker:%s:%s:compilation-job/%s" % (REGION, ACCOUNT, name)


def seed():
    jobs = {}
    for i in range(57):
        name = "job-%03d" % i
        jobs[name] = {
            "CompilationJobName": name,
            "CompilationJobArn": job_arn(name),
            "CompilationJobStatus": STATUSES[i % 3],
            "CreationTime": 1700000000 + i + 0.25,
            "LastModifiedTime": 1700000100 + i,
            "RoleArn": "arn:aws:iam::123456789012:role/neo",
            "InputConfig": {"S3Uri": "s3://bucket/model.tar.gz", "Framework": "PYTORCH",
                            "DataInputConfig": "{\"input0\": [1,3,224,224]}"},
            "OutputConfig": {"S3OutputLocation": "s3://bucket/out/", "TargetDevice": "ml_c5"},
            "StoppingCondition": {"MaxRuntimeInSeconds": 900},
            "describes": 0,
        }
    state.clear()
    state.update({"jobs": jobs, "requests": 0, "targets": {}, "last_headers": {}, "last_body": "",
                  "connections": 0})


def summary(job):
    return {
        "CompilationJobName": job["CompilationJobName"],
        "CompilationJobArn": job["CompilationJobArn"],
        "CreationTime": job["CreationTime"],
        "LastModifiedTime": job["LastModifiedTime"],
        "CompilationJobStatus": job["CompilationJobStatus"],
        "CompilationTargetDevice": job["OutputConfig"].get("TargetDevice", "ml_c5"),
    }


def pipeline_steps():
    steps = []
    for i in range(23):
        steps.append({
            "StepName": "step-%02d" % i,
            "StepStatus": "Succeeded",
            "StartTime": 1700001000 + i,
            "EndTime": 1700001010.5 + i,
            "Metadata": {"CompilationJob": {"CompilationJobArn": job_arn("job-%03d" % i)}},
            "AttemptCount": 1,
        })
    return steps


class ServiceError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def page(items, params, key):
    limit = params.get("MaxResults") or 10
    start = int(params.get("NextToken") or 0)
    out = {key: items[start:start + limit]}
    if start + limit < len(items):
        out["NextToken"] = str(start + limit)
    return out


def describe(params):
    name = params.get("CompilationJobName")
    with lock:
        job = state["jobs"].get(name)
        if job is None:
            raise ServiceError(400, "ResourceNotFound", "Could not find compilation job %s" % name)
        job["describes"] += 1
        n = job["describes"]
        m = re.match(r"(wait-ok-(\d+)|wait-fail|wait-stop|wait-forever|throttle-(\d+)|slow-([0-9.]+)|boom)", name)
        delay = 0
        if m:
            if m.group(2):
                need = int(m.group(2))
                job["CompilationJobStatus"] = "STARTING" if n == 1 else ("COMPLETED" if n >= need else "INPROGRESS")
            elif name.startswith("wait-fail"):
                if n >= 2:
                    job["CompilationJobStatus"] = "FAILED"
                    job["FailureReason"] = "ClientError: No pth file found in the model archive"
                else:
                    job["CompilationJobStatus"] = "STARTING"
            elif name.startswith("wait-stop"):
                job["CompilationJobStatus"] = "STOPPED" if n >= 2 else "STARTING"
            elif name.startswith("wait-forever"):
                job["CompilationJobStatus"] = "INPROGRESS"
            elif m.group(3):
                if n <= int(m.group(3)):
                    raise ServiceError(400, "ThrottlingException", "Rate exceeded")
            elif m.group(4):
                delay = float(m.group(4))
            elif name.startswith("boom"):
                raise ServiceError(500, "InternalFailure", "something broke")
        body = {k: v for k, v in job.items() if k != "describes"}
        body["ModelArtifacts"] = {"S3ModelArtifacts": "s3://bucket/out/model-ml_c5.tar.gz"}
        body["ModelDigests"] = {"ArtifactDigest": "a" * 128}
        body["VpcConfig"] = None  # JSON null on the wire
        body["Tags"] = []
    if delay:
        time.sleep(delay)
    return body


def create(params):
    name = params.get("CompilationJobName")
    if not name:
        raise ServiceError(400, "ValidationException", "CompilationJobName is required")
    with lock:
        if name in state["jobs"]:
            raise ServiceError(400, "ResourceInUse", "Compilation job %s already exists" % name)
        state["jobs"][name] = {
            "CompilationJobName": name,
            "CompilationJobArn": job_arn(name),
            "CompilationJobStatus": "STARTING",
            "CreationTime": time.time(),
            "LastModifiedTime": time.time(),
            "RoleArn": params.get("RoleArn"),
            "InputConfig": params.get("InputConfig", {}),
            "OutputConfig": params.get("OutputConfig", {}),
            "StoppingCondition": params.get("StoppingCondition", {}),
            "describes": 0,
        }
    return {"CompilationJobArn": job_arn(name)}


def stop(params):
    with lock:
        job = state["jobs"].get(params.get("CompilationJobName"))
        if job is None:
            raise ServiceError(400, "ResourceNotFound", "Could not find compilation job")
        job["CompilationJobStatus"] = "STOPPING"
    return None


def delete(params):
    with lock:
        if state["jobs"].pop(params.get("CompilationJobName"), None) is None:
            raise ServiceError(400, "ResourceNotFound", "Could not find compilation job")
    return None


def list_jobs(params):
    with lock:
        jobs = [summary(j) for _, j in sorted(state["jobs"].items())]
    if params.get("StatusEquals"):
        jobs = [j for j in jobs if j["CompilationJobStatus"] == params["StatusEquals"]]
    if params.get("NameContains"):
        jobs = [j for j in jobs if params["NameContains"] in j["CompilationJobName"]]
    return page(jobs, params, "CompilationJobSummaries")


def list_steps(params):
    if params.get("PipelineExecutionArn") != PIPELINE_ARN:
        raise ServiceError(400, "ResourceNotFound", "Pipeline execution not found")
    return page(pipeline_steps(), params, "PipelineExecutionSteps")


OPS = {
    "DescribeCompilationJob": describe,
    "CreateCompilationJob": create,
    "StopCompilationJob": stop,
    "DeleteCompilationJob": delete,
    "ListCompilationJobs": list_jobs,
    "ListPipelineExecutionSteps": list_steps,
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        # headers and body go out in two writes: no Nagle delay between them
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with lock:
            state["connections"] += 1  # accepted (with TLS: handshaken) connections

    def log_message(self, fmt, *args):
        if os.environ.get("FAKE_SAGEMAKER_VERBOSE"):
            sys.stderr.write("fake_sagemaker %.3f: %s %s\n" % (time.time(), self.headers.get("X-Amz-Target", "") if hasattr(self, "headers") else "", fmt % args))

    def reply_chunked(self, status, body):
        """Same as reply, but the body goes out in three chunks."""
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Transfer-Encoding", "chunked")
        with lock:
            rid = "req-%06d" % state["requests"]
        self.send_header("x-amzn-RequestId", rid)
        self.end_headers()
        third = max(1, len(data) // 3)
        parts = [data[:third], data[third:2 * third], data[2 * third:]]
        out = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts if p) + b"0\r\n\r\n"
        self.wfile.write(out)

    def reply(self, status, body, extra=None):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        with lock:
            rid = "req-%06d" % state["requests"]
        self.send_header("x-amzn-RequestId", rid)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        if self.path == "/_stats":
            with lock:
                body = json.dumps({"requests": state["requests"], "connections": state["connections"],
                                   "targets": state["targets"],
                                   "last_headers": state["last_headers"], "last_body": state["last_body"]})
            return self.reply(200, body)
        self.reply(404, json.dumps({"__type": "UnknownOperationException", "message": "GET is not supported"}))

    def do_POST(self):
        raw = self.read_body()
        if self.path == "/_reset":
            with lock:
                seed()
            return self.reply(200, "{}")
        target = self.headers.get("X-Amz-Target", "")
        op = target.split(".", 1)[1] if "." in target else ""
        with lock:
            state["requests"] += 1
            state["targets"][op] = state["targets"].get(op, 0) + 1
            state["last_headers"] = {k: v for k, v in self.headers.items()}
            state["last_body"] = raw.decode("utf-8", "replace")
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("AWS4-HMAC-SHA256 Credential="):
            return self.reply(400, json.dumps({"__type": "MissingAuthenticationTokenException",
                                               "message": "Missing Authentication Token"}))
        fn = OPS.get(op)
        if fn is None:
            return self.reply(400, json.dumps({"__type": "UnknownOperationException",
                                               "message": "unknown operation %r" % target}))
        try:
            params = json.loads(raw or b"{}")
        except ValueError:
            return self.reply(400, json.dumps({"__type": "SerializationException", "message": "bad JSON"}))
        try:
            result = fn(params)
        except ServiceError as e:
            return self.reply(e.status, json.dumps({"__type": e.code, "message": e.message}))
        if op == "ListPipelineExecutionSteps":  # exercises chunked response bodies
            return self.reply_chunked(200, json.dumps(result))
        self.reply(200, "{}" if result is None else json.dumps(result))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--lifetime", type=float, default=600)
    ap.add_argument("--tls-cert", help="serve HTTPS with this PEM certificate (and --tls-key)")
    ap.add_argument("--tls-key")
    args = ap.parse_args()
    seed()
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    scheme = "http"
    if args.tls_cert:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        scheme = "https"
    print("%s://127.0.0.1:%d %d" % (scheme, srv.server_address[1], os.getpid()), flush=True)
    timer = threading.Timer(args.lifetime, lambda: os._exit(0))
    timer.daemon = True
    timer.start()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
