"""The HTTP front: one threaded HTTP/1.1 server for SageMaker (AWS JSON 1.1),
S3 (REST/XML) and the admin endpoints under /_smneo/."""
import datetime
import hashlib
import ipaddress
import json
import random
import shutil
import socket
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

from . import sigv4
from .model import ServiceError
from .s3 import S3, S3Error, Store, decode_aws_chunked, error_xml
from .sagemaker import SageMaker

FAULT_KINDS = ("throttle", "500", "503", "close", "slow", "truncate")
FAULT_TARGETS = ("sagemaker", "s3", "any")
DEFAULT_CREDENTIALS = ("test:test",)
MAX_BODY = 5 * 1024 ** 3

# How the JSON (coral) side refuses a request, by sigv4.AuthError kind.
_JSON_AUTH_ERRORS = {
    "missing": ("MissingAuthenticationTokenException", 403),
    "incomplete": ("IncompleteSignatureException", 400),
    "malformed": ("IncompleteSignatureException", 400),
    "unknown_key": ("UnrecognizedClientException", 403),
    "mismatch": ("InvalidSignatureException", 403),
    "region": ("InvalidSignatureException", 403),
    "skew": ("InvalidSignatureException", 403),
    "expired": ("InvalidSignatureException", 403),
}


def parse_credentials(items):
    """["KEYID:SECRET", ...] or [(id, secret)] -> {id: secret}."""
    out = {}
    for item in items:
        if isinstance(item, (tuple, list)) and len(item) == 2:
            kid, secret = item
        elif isinstance(item, str) and ":" in item:
            kid, secret = item.split(":", 1)
        else:
            raise ValueError("credentials must be 'KEYID:SECRET' or (keyid, secret) "
                             "pairs; got an item without ':'")
        if not kid or not secret:
            raise ValueError("credentials need a non-empty key id and secret")
        out[kid] = secret
    return out


class Fault:
    def __init__(self, spec):
        if not isinstance(spec, dict):
            raise ValueError("a fault is a JSON object with at least 'kind'")
        unknown = set(spec) - {"kind", "count", "rate", "delay", "target", "operation"}
        if unknown:
            raise ValueError("unknown fault field(s): %s" % ", ".join(sorted(unknown)))
        self.kind = str(spec.get("kind"))
        if self.kind not in FAULT_KINDS:
            raise ValueError("fault kind must be one of %s, not %r"
                             % (", ".join(FAULT_KINDS), spec.get("kind")))
        self.target = spec.get("target", "any")
        if self.target not in FAULT_TARGETS:
            raise ValueError("fault target must be one of %s, not %r"
                             % (", ".join(FAULT_TARGETS), self.target))
        if "count" in spec and "rate" in spec:
            raise ValueError("give a fault either 'count' or 'rate', not both")
        self.count = spec.get("count")
        self.rate = spec.get("rate")
        if self.rate is None and self.count is None:
            self.count = 1
        if self.count is not None and (isinstance(self.count, bool) or
                                       not isinstance(self.count, int) or self.count < 1):
            raise ValueError("fault 'count' must be a positive integer")
        if self.rate is not None and (isinstance(self.rate, bool) or
                                      not isinstance(self.rate, (int, float)) or
                                      not 0 < self.rate <= 1):
            raise ValueError("fault 'rate' must be a number in (0, 1]")
        self.delay = spec.get("delay", 2.0)
        if isinstance(self.delay, bool) or not isinstance(self.delay, (int, float)) \
                or self.delay < 0:
            raise ValueError("fault 'delay' must be a non-negative number of seconds")
        self.operation = spec.get("operation")

    def to_json(self):
        d = {"kind": self.kind, "target": self.target, "delay": self.delay}
        if self.count is not None:
            d["count"] = self.count
        if self.rate is not None:
            d["rate"] = self.rate
        if self.operation is not None:
            d["operation"] = self.operation
        return d


class Request:
    """What the protocol handlers see of one HTTP request."""

    def __init__(self, method, raw_path, raw_query, headers, body, base_url):
        self.method = method
        self.raw_path = raw_path
        self.raw_query = raw_query
        self.headers = headers
        self.headers_lower = {}
        for k, v in headers:
            k = k.lower()
            self.headers_lower[k] = (self.headers_lower[k] + "," + v
                                     if k in self.headers_lower else v)
        self.query = {}
        for k, v in sigv4.parse_query(raw_query):
            self.query.setdefault(k, v)
        self.body = body
        self.trailers = {}
        self.base_url = base_url
        self.presigned = "X-Amz-Signature" in self.query


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, addr, handler, app):
        self.app = app
        self.connections = set()
        self.conn_lock = threading.Lock()
        super().__init__(addr, handler)

    def process_request(self, request, client_address):
        with self.conn_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def handle_error(self, request, client_address):
        # Clients that hang up (or faults that hang up on them) are routine.
        if self.app.verbose:
            super().handle_error(request, client_address)

    def shutdown_request(self, request):
        with self.conn_lock:
            self.connections.discard(request)
        super().shutdown_request(request)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "smneo.local"
    sys_version = ""

    def version_string(self):
        # http.server joins the two with a space: no trailing blank in Server.
        return self.server_version
    timeout = 120

    def setup(self):
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def log_message(self, fmt, *args):
        if self.server.app.verbose:
            super().log_message(fmt, *args)

    def do_GET(self):
        self._handle()

    do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = do_GET

    # ---- plumbing ----------------------------------------------------------
    def _read_body(self):
        te = self.headers.get("Transfer-Encoding", "").lower()
        if "chunked" in te:
            out = bytearray()
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise ValueError("connection closed inside a chunked body")
                size = int(line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    # trailer section of the HTTP chunked encoding
                    while True:
                        t = self.rfile.readline(65537)
                        if t in (b"\r\n", b"\n", b""):
                            break
                    break
                out += self.rfile.read(size)
                if len(out) > MAX_BODY:
                    raise ValueError("body too large")
                self.rfile.readline(3)
            return bytes(out)
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        n = int(length)
        if n < 0 or n > MAX_BODY:
            raise ValueError("bad Content-Length")
        data = self.rfile.read(n)
        if len(data) != n:
            raise ValueError("connection closed before the body was complete")
        return data

    def _send(self, status, headers, body, head=False, truncate=False):
        self.send_response(status)
        names = {k.lower() for k, _ in headers}
        for k, v in headers:
            self.send_header(k, v)
        if "content-length" not in names:
            n = len(body)
            if truncate and n == 0:
                n = 1
            self.send_header("Content-Length", str(n))
        if truncate:
            self.send_header("Connection", "close")
            self.close_connection = True
        # Head and body in one write: two small writes on a keep-alive
        # connection meet the peer's delayed ACK (40 ms per request).
        self._headers_buffer.append(b"\r\n")
        if not head and body:
            self._headers_buffer.append(body[: len(body) // 2] if truncate else body)
        self.wfile.write(b"".join(self._headers_buffer))
        self._headers_buffer = []
        self.wfile.flush()
        if truncate:
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _handle(self):
        app = self.server.app
        request_id = str(uuid.uuid4())
        split = urlsplit(self.path)
        raw_path, raw_query = split.path or "/", split.query
        if raw_path.startswith("/_smneo/") or raw_path == "/_smneo":
            return self._admin(raw_path)
        try:
            body = self._read_body()
        except ValueError as e:
            self.close_connection = True
            return self._send(400, [("Content-Type", "text/plain")],
                              ("Bad request body: %s\n" % e).encode())
        host = self.headers.get("Host", "")
        req = Request(self.command, raw_path, raw_query, list(self.headers.items()),
                      body, app.url)
        target = req.headers_lower.get("x-amz-target")
        service = "s3"
        if target is not None:
            service = "sagemaker"
        else:
            auth = req.headers_lower.get("authorization", "")
            if "/sagemaker/aws4_request" in auth:
                service = "sagemaker"
        fault = app.take_fault(service, target.split(".", 1)[-1] if target else
                               self.command)
        truncate = False
        if fault is not None:
            if fault.kind == "slow":
                time.sleep(fault.delay)
            elif fault.kind == "close":
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            elif fault.kind == "truncate":
                truncate = True
            else:
                status, code, msg = {
                    ("throttle", "sagemaker"): (400, "ThrottlingException", "Rate exceeded"),
                    ("500", "sagemaker"): (500, "InternalFailure", "The request processing "
                                           "has failed because of an unknown error "
                                           "(injected by smneo.local)."),
                    ("503", "sagemaker"): (503, "ServiceUnavailable", "Service is "
                                           "unavailable (injected by smneo.local)."),
                    ("throttle", "s3"): (503, "SlowDown", "Please reduce your request "
                                         "rate."),
                    ("500", "s3"): (500, "InternalError", "We encountered an internal "
                                    "error. Please try again."),
                    ("503", "s3"): (503, "ServiceUnavailable", "Service is unable to "
                                    "handle request."),
                }[(fault.kind, service)]
                if service == "sagemaker":
                    return self._json_error(request_id, ServiceError(code, msg, status))
                return self._s3_error(request_id, S3Error(code, msg, status),
                                      head=self.command == "HEAD")
        if service == "sagemaker":
            self._sagemaker(req, request_id, target, truncate)
        else:
            self._s3(req, request_id, host, truncate)

    # ---- SageMaker -----------------------------------------------------------
    def _json_error(self, request_id, err, truncate=False):
        body = json.dumps({"__type": err.code, "message": err.message}).encode()
        self._send(err.status, [("x-amzn-RequestId", request_id),
                                ("Content-Type", "application/x-amz-json-1.1")],
                   body, truncate=truncate)

    def _sagemaker(self, req, request_id, target, truncate):
        app = self.server.app
        try:
            try:
                sigv4.verify(req.method, req.raw_path, req.raw_query, req.headers,
                             hashlib.sha256(req.body).hexdigest(), app.credentials,
                             region=app.region, service="sagemaker")
            except sigv4.AuthError as e:
                code, status = _JSON_AUTH_ERRORS[e.kind]
                raise ServiceError(code, e.message, status)
            if req.method != "POST" or not target or not target.startswith("SageMaker."):
                raise ServiceError("UnknownOperationException",
                                   "Requests to SageMaker are POST / with an "
                                   "X-Amz-Target header of the form SageMaker.<Operation>.")
            try:
                body = json.loads(req.body.decode("utf-8") or "{}")
            except (ValueError, UnicodeDecodeError):
                raise ServiceError("SerializationException",
                                   "The request body is not valid JSON.")
            result = app.sagemaker.call(target.split(".", 1)[1], body)
        except ServiceError as e:
            return self._json_error(request_id, e, truncate)
        except Exception as e:  # a bug here must not kill the connection silently
            app.log("internal error: %r" % (e,))
            return self._json_error(request_id, ServiceError(
                "InternalFailure", "smneo.local internal error: %s" % e, 500), truncate)
        self._send(200, [("x-amzn-RequestId", request_id),
                         ("Content-Type", "application/x-amz-json-1.1")],
                   json.dumps(result).encode(), truncate=truncate)

    # ---- S3 --------------------------------------------------------------------
    def _s3_error(self, request_id, err, head=False, truncate=False):
        headers = [("x-amz-request-id", request_id),
                   ("x-amz-id-2", request_id.replace("-", ""))]
        if head:
            return self._send(err.status, headers, b"", head=True)
        self._send(err.status, headers + [("Content-Type", "application/xml")],
                   error_xml(err.code, err.message, request_id, **err.extra),
                   truncate=truncate)

    def _s3(self, req, request_id, host, truncate):
        app = self.server.app
        head = req.method == "HEAD"
        try:
            self._s3_auth(req)
            bucket, key = self._s3_address(req.raw_path, host)
            status, headers, body = app.s3.handle(req, bucket, key)
        except S3Error as e:
            return self._s3_error(request_id, e, head=head, truncate=truncate)
        except Exception as e:
            app.log("internal error: %r" % (e,))
            return self._s3_error(request_id, S3Error(
                "InternalError", "smneo.local internal error: %s" % e, 500),
                head=head, truncate=truncate)
        headers = [("x-amz-request-id", request_id),
                   ("x-amz-id-2", request_id.replace("-", ""))] + headers
        if head:
            headers.append(("Content-Length", str(len(body))))
        self._send(status, headers, body, head=head, truncate=truncate)

    @staticmethod
    def _s3_address(raw_path, host):
        hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        path = raw_path[1:]
        if hostname.endswith(".localhost"):
            bucket = unquote(hostname[: -len(".localhost")])
            return bucket, unquote(path) if path else None
        if not path:
            return None, None
        bucket, sep, key = path.partition("/")
        return unquote(bucket), (unquote(key) if sep else None)

    def _s3_auth(self, req):
        app = self.server.app
        h = req.headers_lower
        content_sha = h.get("x-amz-content-sha256")
        if req.presigned:
            payload = content_sha or "UNSIGNED-PAYLOAD"
        else:
            payload = content_sha
            if payload is None and "authorization" in h:
                raise S3Error("InvalidRequest", "Missing required header for this "
                              "request: x-amz-content-sha256")
        try:
            verified = sigv4.verify(req.method, req.raw_path, req.raw_query,
                                    req.headers, payload or "", app.credentials,
                                    region=app.region, service="s3")
        except sigv4.AuthError as e:
            if e.kind == "missing":
                raise S3Error("AccessDenied", "Access Denied", 403)
            if e.kind == "unknown_key":
                raise S3Error("InvalidAccessKeyId", "The AWS Access Key Id you provided "
                              "does not exist in our records.", 403,
                              AWSAccessKeyId=e.extra.get("key_id", ""))
            if e.kind == "skew":
                raise S3Error("RequestTimeTooSkewed", "The difference between the "
                              "request time and the current time is too large.", 403,
                              RequestTime=e.extra["request_time"].strftime(
                                  "%Y%m%dT%H%M%SZ"),
                              ServerTime=e.extra["server_time"].strftime(
                                  "%Y-%m-%dT%H:%M:%SZ"),
                              MaxAllowedSkewMilliseconds=900000)
            if e.kind == "expired":
                raise S3Error("AccessDenied", "Request has expired", 403,
                              Expires=(e.extra["request_time"] + datetime.timedelta(
                                  seconds=e.extra["expires"])).strftime(
                                      "%Y-%m-%dT%H:%M:%SZ"),
                              ServerTime=e.extra["server_time"].strftime(
                                  "%Y-%m-%dT%H:%M:%SZ"))
            if e.kind in ("malformed", "incomplete", "region"):
                raise S3Error("AuthorizationHeaderMalformed" if not req.presigned
                              else "AuthorizationQueryParametersError", e.message, 400,
                              **({"Region": app.region} if e.kind == "region" else {}))
            raise S3Error("SignatureDoesNotMatch", e.message, 403,
                          **({"StringToSign": e.extra["string_to_sign"],
                              "CanonicalRequest": e.extra["canonical_request"]}
                             if "string_to_sign" in e.extra else {}))
        if payload is None or payload in ("UNSIGNED-PAYLOAD",):
            return
        if payload.startswith("STREAMING-"):
            if payload not in ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                               "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
                               "STREAMING-UNSIGNED-PAYLOAD-TRAILER"):
                raise S3Error("InvalidArgument", "x-amz-content-sha256 must be "
                              "UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
                              "[-TRAILER], STREAMING-UNSIGNED-PAYLOAD-TRAILER or the "
                              "hex SHA-256 of the body", ArgumentName="x-amz-content-sha256")
            body, trailers = decode_aws_chunked(req.body, payload, verified)
            declared = h.get("x-amz-decoded-content-length")
            if declared is not None and declared.strip() != str(len(body)):
                raise S3Error("IncompleteBody", "You did not provide the number of "
                              "bytes specified by the x-amz-decoded-content-length "
                              "header (%s != %d)." % (declared, len(body)))
            announced = {t.strip().lower() for t in h.get("x-amz-trailer", "").split(",")
                         if t.strip()}
            missing = announced - set(trailers)
            if missing:
                raise S3Error("IncompleteBody", "The trailer(s) announced in x-amz-trailer "
                              "are missing: %s" % ", ".join(sorted(missing)))
            req.body, req.trailers = body, trailers
            return
        if len(payload) != 64 or payload.lower() != payload:
            raise S3Error("InvalidArgument", "x-amz-content-sha256 must be "
                          "UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER], "
                          "STREAMING-UNSIGNED-PAYLOAD-TRAILER or the hex SHA-256 of the "
                          "body", ArgumentName="x-amz-content-sha256")
        actual = hashlib.sha256(req.body).hexdigest()
        if actual != payload:
            raise S3Error("XAmzContentSHA256Mismatch", "The provided "
                          "'x-amz-content-sha256' header does not match what was "
                          "computed.", ClientComputedContentSHA256=payload,
                          S3ComputedContentSHA256=actual)

    # ---- admin ----------------------------------------------------------------
    def _admin(self, raw_path):
        app = self.server.app
        try:
            body = self._read_body()
        except ValueError:
            self.close_connection = True
            body = b""
        try:
            loopback = ipaddress.ip_address(self.client_address[0]).is_loopback
        except ValueError:
            loopback = False

        def reply(status, obj):
            self._send(status, [("Content-Type", "application/json")],
                       json.dumps(obj).encode() + b"\n", head=self.command == "HEAD")

        if not loopback:
            return reply(403, {"error": "the admin endpoint only answers loopback "
                                        "clients"})
        if raw_path == "/_smneo/health" and self.command in ("GET", "HEAD"):
            return reply(200, {"status": "ok", "service": "smneo.local",
                               "region": app.region, "account": app.account})
        if raw_path == "/_smneo/faults":
            if self.command == "GET":
                return reply(200, {"faults": app.list_faults()})
            if self.command == "DELETE":
                app.clear_faults()
                return reply(200, {"faults": []})
            if self.command == "POST":
                try:
                    spec = json.loads(body.decode("utf-8") or "null")
                    specs = spec if isinstance(spec, list) else [spec]
                    for s in specs:
                        app.add_fault(s)
                except (ValueError, UnicodeDecodeError) as e:
                    return reply(400, {"error": str(e)})
                return reply(200, {"faults": app.list_faults()})
        return reply(404, {"error": "unknown admin endpoint %s %s: use GET "
                                    "/_smneo/health, GET|POST|DELETE /_smneo/faults"
                                    % (self.command, raw_path)})


class Server:
    """A local SageMaker Neo + S3 endpoint.

        with Server(port=0, job_duration=0.5) as s:
            boto3.client("sagemaker", endpoint_url=s.url, ...)
    """

    def __init__(self, host="127.0.0.1", port=0, data_dir=None, credentials=None,
                 pipelines=None, job_duration=3.0, region="us-east-1",
                 account="123456789012", faults=None, verbose=False, clock=None):
        self.host = host
        self.port = port
        self.region = region
        self.account = account
        self.verbose = verbose
        self.credentials = parse_credentials(
            credentials if credentials is not None else DEFAULT_CREDENTIALS)
        if not self.credentials:
            raise ValueError("at least one KEYID:SECRET credential is needed")
        self._own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="smneo-local-")
        self.store = Store(self.data_dir, region)
        self.s3 = S3(self.store, region)
        self.sagemaker = SageMaker(self.store, region, account, job_duration,
                                   pipelines, clock=clock or time.time)
        self._faults = []
        self._fault_lock = threading.Lock()
        for f in faults or ():
            self.add_fault(f)
        self._httpd = None
        self._thread = None
        self.url = None

    # ---- faults ---------------------------------------------------------------
    def add_fault(self, spec):
        """Queue a fault: {"kind": throttle|500|503|close|slow|truncate,
        "count": N | "rate": 0..1, "delay": s, "target": sagemaker|s3|any,
        "operation": name}."""
        f = Fault(spec)
        with self._fault_lock:
            self._faults.append(f)

    def clear_faults(self):
        with self._fault_lock:
            self._faults = []

    def list_faults(self):
        with self._fault_lock:
            return [f.to_json() for f in self._faults]

    def take_fault(self, service, operation):
        with self._fault_lock:
            for f in list(self._faults):
                if f.target not in ("any", service):
                    continue
                if f.operation is not None and f.operation != operation:
                    continue
                if f.count is not None:
                    f.count -= 1
                    if f.count <= 0:
                        self._faults.remove(f)
                    return f
                if random.random() < f.rate:
                    return f
        return None

    def log(self, message):
        if self.verbose:
            import sys
            print("smneo.local: %s" % message, file=sys.stderr, flush=True)

    # ---- lifecycle ------------------------------------------------------------
    def start(self):
        if self._httpd is not None:
            return self
        cls = _HTTPServer
        if ":" in self.host:
            cls = type("_HTTPServer6", (_HTTPServer,), {"address_family": socket.AF_INET6})
        self._httpd = cls((self.host, self.port), Handler, self)
        host, port = self._httpd.server_address[:2]
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        if ":" in shown:
            shown = "[%s]" % shown
        self.port = port
        self.url = "http://%s:%d" % (shown, port)
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="smneo.local", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            with httpd.conn_lock:
                conns = list(httpd.connections)
            for c in conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            httpd.server_close()
            self._thread.join(5)
        if self._own_dir and self.data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None

    def serve_forever(self):
        self.start()
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        finally:
            self.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
