"""The HTTP front: one threaded HTTP/1.1 server for SageMaker and CloudWatch
Logs (AWS JSON 1.1), STS (Query), the SSO portal and SSO-OIDC (REST-JSON),
S3 (REST/XML), and the admin endpoints under /_smneo/."""
import collections
import copy
import ipaddress
import json
import re
import shutil
import socket
import struct
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from . import sigv4
from .compilelog import LOG_GROUP
from .faults import Faults
from .fronts import JsonFront, S3Front, SSOFront, STSFront, route
from .identity import Identity, load_settings
from .logs import Logs
from .s3 import BUCKET_RE, S3, Store
from .sagemaker import SageMaker
from .sso import SSO
from .sts import STS

DEFAULT_CREDENTIALS = ("test:test",)
MAX_BODY = 5 * 1024 ** 3
RECORD_LIMIT = 10000
_REDACT = re.compile(r"(X-Amz-Security-Token|X-Amz-Signature)=[^&\s]*", re.I)
SETTINGS = ("max_concurrent_jobs", "job_duration", "logs_page_limit")


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


class Request:
    """What the protocol fronts see of one HTTP request, and what they learn
    about it (operation, region, principal, error code) for the record."""

    def __init__(self, method, raw_path, raw_query, headers, body, base_url,
                 request_id=None):
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
        self.request_id = request_id or str(uuid.uuid4())
        self.operation = None
        self.region = None
        self.principal = None
        self.error_code = None
        self.params = None
        self.claimed_key = None
        self._form = None

    def form(self):
        """Query-protocol parameters: the form-encoded body of a POST, else
        the query string (first value of each)."""
        if self._form is None:
            ctype = self.headers_lower.get("content-type", "")
            pairs = sigv4.parse_query(self.raw_query)
            if self.method == "POST" and ctype.split(";")[0].strip().lower() == \
                    "application/x-www-form-urlencoded":
                try:
                    pairs = sigv4.parse_query(self.body.decode("utf-8"))
                except UnicodeDecodeError:
                    pairs = []
            self._form = {}
            for k, v in pairs:
                self._form.setdefault(k, v)
        return self._form


class Recorder:
    """The requests the server answered, newest last (at most `limit`)."""

    def __init__(self, limit=RECORD_LIMIT):
        self.lock = threading.Lock()
        self.items = collections.deque(maxlen=limit)
        self.seq = 0

    def add(self, entry):
        with self.lock:
            self.seq += 1
            entry["seq"] = self.seq
            self.items.append(entry)

    def list(self, service=None, since=0):
        with self.lock:
            return [copy.deepcopy(e) for e in self.items
                    if (service is None or e["service"] == service) and e["seq"] > since]

    def clear(self):
        with self.lock:
            self.items.clear()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, addr, handler, app):
        self.app = app
        self.connections = set()
        self.conn_lock = threading.Lock()
        self.accepted = 0  # connections served (with TLS: those whose handshake succeeded)
        self.resets = set()  # connections a reset fault ends with a RST (SO_LINGER 0, no shutdown)
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
            reset = request in self.resets
            self.resets.discard(request)
        if reset:
            # no shutdown (it would send a FIN first): closing the last
            # reference with SO_LINGER 0 sends the RST
            self.close_request(request)
            return
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
        if hasattr(self.request, "do_handshake"):
            # TLS: the handshake runs here, in the connection's thread (a
            # client that refuses the certificate ends it), not in accept()
            self.request.settimeout(self.timeout)
            self.request.do_handshake()
        with self.server.conn_lock:
            self.server.accepted += 1
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def log_request(self, code="-", size="-"):
        # The request line without the secrets a presigned URL carries.
        line = _REDACT.sub(r"\1=REDACTED", self.requestline)
        self.log_message('"%s" %s %s', line, str(code), str(size))

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

    def _send(self, status, headers, body, head=False, truncate=False, reset=False):
        self.send_response(status)
        names = {k.lower() for k, _ in headers}
        for k, v in headers:
            self.send_header(k, v)
        if "content-length" not in names:
            n = len(body)
            if (truncate or reset) and n == 0:
                n = 1
            self.send_header("Content-Length", str(n))
        if truncate and not reset:
            self.send_header("Connection", "close")
            self.close_connection = True
        # Head and body in one write: two small writes on a keep-alive
        # connection meet the peer's delayed ACK (40 ms per request).
        self._headers_buffer.append(b"\r\n")
        if not head and body:
            self._headers_buffer.append(body[: len(body) // 2] if truncate or reset else body)
        self.wfile.write(b"".join(self._headers_buffer))
        self._headers_buffer = []
        self.wfile.flush()
        if reset:
            # half the body, then the connection is reset (RST) once the
            # handler returns: SO_LINGER with a zero timeout, closed unshut
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            with self.server.conn_lock:
                self.server.resets.add(self.connection)
        elif truncate:
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _handle(self):
        app = self.server.app
        split = urlsplit(self.path)
        raw_path, raw_query = split.path or "/", split.query
        if raw_path.startswith("/_smneo/") or raw_path == "/_smneo":
            return self._admin(raw_path, raw_query)
        try:
            body = self._read_body()
        except ValueError as e:
            self.close_connection = True
            return self._send(400, [("Content-Type", "text/plain")],
                              ("Bad request body: %s\n" % e).encode())
        req = Request(self.command, raw_path, raw_query, list(self.headers.items()),
                      body, app.url)
        answer, fault = app.answer(req)
        if answer is None or (fault is not None and fault.kind == "drop"):
            # "close": no answer; "drop": the request ran, its answer is lost.
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        status, headers, out = answer
        self._send(status, headers, out, head=req.method == "HEAD",
                   truncate=fault is not None and fault.kind == "truncate",
                   reset=fault is not None and fault.kind == "reset")

    # ---- admin ----------------------------------------------------------------
    def _admin(self, raw_path, raw_query):
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
        method = self.command
        query = dict(sigv4.parse_query(raw_query))
        try:
            doc = json.loads(body.decode("utf-8") or "null") if method == "POST" else None
        except (ValueError, UnicodeDecodeError) as e:
            return reply(400, {"error": "the body is not JSON: %s" % e})
        try:
            if raw_path == "/_smneo/health" and method in ("GET", "HEAD"):
                with self.server.conn_lock:
                    accepted = self.server.accepted
                return reply(200, {"status": "ok", "service": "smneo.local",
                                   "region": app.region, "account": app.account,
                                   "connections": accepted})
            if raw_path == "/_smneo/faults":
                if method == "GET":
                    return reply(200, {"faults": app.list_faults()})
                if method == "DELETE":
                    app.clear_faults()
                    return reply(200, {"faults": []})
                if method == "POST":
                    for spec in doc if isinstance(doc, list) else [doc]:
                        app.add_fault(spec)
                    return reply(200, {"faults": app.list_faults()})
            if raw_path == "/_smneo/requests":
                if method == "GET":
                    since = int(query.get("since", "0") or 0)
                    return reply(200, {"requests": app.requests(query.get("service"),
                                                                since)})
                if method == "DELETE":
                    app.clear_requests()
                    return reply(200, {"requests": []})
            if raw_path == "/_smneo/identity":
                if method == "GET":
                    return reply(200, app.identity.snapshot())
                if method == "POST":
                    app.configure_identity(doc)
                    return reply(200, app.identity.snapshot())
            if raw_path == "/_smneo/identity/expire" and method == "POST":
                n = app.expire_credentials((doc or {}).get("access_key_id"))
                return reply(200, {"expired": n})
            if raw_path == "/_smneo/settings":
                if method == "POST":
                    app.configure(**(doc or {}))
                if method in ("GET", "POST"):
                    return reply(200, app.settings())
            if raw_path == "/_smneo/logs" and method == "GET":
                if not query.get("job"):
                    raise ValueError("give ?job=NAME (and optionally region=, account=)")
                return reply(200, {"events": app.job_log_events(
                    query["job"], region=query.get("region"), account=query.get("account"))})
            if raw_path == "/_smneo/logs" and method == "POST":
                d = doc or {}
                app.put_log_events(d.get("group", LOG_GROUP), d["stream"],
                                   [(e["timestamp"] / 1000.0, e["message"])
                                    for e in d.get("events", [])],
                                   region=d.get("region"), account=d.get("account"))
                return reply(200, {})
        except (ValueError, TypeError, KeyError) as e:
            return reply(400, {"error": "%s: %s" % (type(e).__name__, e)})
        return reply(404, {"error": "unknown admin endpoint %s %s: use GET /_smneo/health, "
                                    "GET|POST|DELETE /_smneo/faults, GET|DELETE "
                                    "/_smneo/requests, GET|POST /_smneo/identity, POST "
                                    "/_smneo/identity/expire, GET|POST /_smneo/settings, "
                                    "GET|POST /_smneo/logs" % (method, raw_path)})


class Server:
    """A local SageMaker Neo endpoint with S3, STS, the SSO portal, SSO-OIDC
    and CloudWatch Logs on one port.

        with Server(port=0, job_duration=0.5) as s:
            boto3.client("sagemaker", endpoint_url=s.url, ...)
    """

    def __init__(self, host="127.0.0.1", port=0, data_dir=None, credentials=None,
                 pipelines=None, job_duration=3.0, region=None,
                 account="123456789012", faults=None, verbose=False, clock=None,
                 identity=None, max_concurrent_jobs=None, record_limit=RECORD_LIMIT,
                 tls_cert=None, tls_key=None):
        self.host = host
        if tls_key is not None and tls_cert is None:
            raise ValueError("tls_key needs tls_cert (the PEM certificate to serve HTTPS with)")
        self.tls_cert, self.tls_key = tls_cert, tls_key
        self.port = port
        self.region = region          # None: every region, each with its own jobs
        self.account = account
        self.verbose = verbose
        self.clock = clock or time.time
        creds = parse_credentials(
            credentials if credentials is not None else DEFAULT_CREDENTIALS)
        if not creds:
            raise ValueError("at least one KEYID:SECRET credential is needed")
        self.identity = Identity(account, creds, self.clock)
        if identity is not None:
            self.identity.configure(load_settings(identity))
        self.faults = Faults()
        for f in faults or ():
            self.faults.add(f)
        self.recorder = Recorder(record_limit)
        self._own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="smneo-local-")
        self.store = Store(self.data_dir)
        self.s3 = S3(self.store, account)
        self.logs = Logs(self.clock)
        self.sagemaker = SageMaker(self.store, self.logs, account, job_duration,
                                   pipelines, clock=self.clock,
                                   take_job_fault=self.faults.take_job)
        self.sts = STS(self.identity)
        self.sso = SSO(self.identity)
        self.fronts = {
            "sagemaker": JsonFront(self, "sagemaker", "SageMaker", self.sagemaker),
            "logs": JsonFront(self, "logs", "Logs_20140328", self.logs),
            "sts": STSFront(self),
            "sso": SSOFront(self, "sso"),
            "sso-oidc": SSOFront(self, "sso-oidc"),
            "s3": S3Front(self),
        }
        self.configure(max_concurrent_jobs=max_concurrent_jobs)
        self._httpd = None
        self._thread = None
        self.url = None

    # ---- faults ---------------------------------------------------------------
    def add_fault(self, spec):
        """Queue a fault (docs/local-endpoint.md): {"kind": throttle|500|503|
        close|slow|truncate|reset|drop|deny, "count": N | "rate": 0..1, "delay": s,
        "target": sagemaker|s3|sts|sso|sso-oidc|logs|any, "operation": name},
        or {"kind": "fail", "failure": NAME, "job": GLOB, "device": GLOB, ...}."""
        self.faults.add(spec)

    def fail_jobs(self, failure=None, job=None, device=None, count=None, rate=None,
                  reason=None, log=None, params=None):
        """Make the next matching compilation job(s) FAIL with a catalogue
        failure (or a reason and log lines of your own)."""
        spec = {"kind": "fail"}
        for k, v in (("failure", failure), ("job", job), ("device", device),
                     ("count", count), ("rate", rate), ("reason", reason), ("log", log),
                     ("params", params)):
            if v is not None:
                spec[k] = v
        self.faults.add(spec)

    def clear_faults(self):
        self.faults.clear()

    def list_faults(self):
        return self.faults.list()

    # ---- requests received -----------------------------------------------------
    def record(self, service, req, status, fault):
        self.recorder.add({
            "time": time.time(), "service": service,
            "operation": req.operation, "method": req.method, "path": req.raw_path,
            "region": req.region, "status": status, "error": req.error_code,
            "fault": fault.kind if fault is not None else None,
            "params": req.params,
            "signer": req.principal.describe() if req.principal is not None else (
                {"access_key_id": req.claimed_key, "verified": False}
                if req.claimed_key else None),
        })

    def requests(self, service=None, since=0):
        """The requests answered so far, oldest first: dicts with service,
        operation, region, status, error, fault, params (STS, SSO and OIDC:
        secrets fingerprinted) and signer (access key id, ARN, account,
        source, session token fingerprint)."""
        return self.recorder.list(service, since)

    def clear_requests(self):
        self.recorder.clear()

    # ---- identity ----------------------------------------------------------------
    def configure_identity(self, settings):
        """Merge identity settings (a dict or a JSON file path): roles,
        web_identity, sso_tokens, oidc_clients, refresh_tokens,
        credential_duration.  See docs/local-endpoint.md."""
        self.identity.configure(load_settings(settings))

    def add_role(self, arn, **spec):
        """Settings for one role: deny, external_id, mfa_serial, mfa_code,
        max_session_duration."""
        self.identity.configure({"roles": {arn: spec}})

    def add_sso_token(self, access_token, **spec):
        """Accept an SSO access token at the portal: expires_in (default
        3600) or expires_at, user, roles [{"account_id", "role_name"}]."""
        self.identity.configure({"sso_tokens": {access_token: spec}})

    def add_refresh_token(self, refresh_token, **spec):
        """Accept an SSO-OIDC refresh token: client_id, client_secret,
        expires_in, access_token_ttl, user, roles, rotate."""
        self.identity.configure({"refresh_tokens": {refresh_token: spec}})

    def expire_credentials(self, access_key_id=None):
        """Make one issued credential (or all of them) expire now."""
        return self.identity.expire(access_key_id)

    # ---- settings and logs ----------------------------------------------------------
    def configure(self, **settings):
        """max_concurrent_jobs (None: no limit), job_duration (seconds, for
        jobs created from now on), logs_page_limit (cap events per Logs page)."""
        unknown = set(settings) - set(SETTINGS)
        if unknown:
            raise ValueError("unknown setting(s) %s (known: %s)"
                             % (", ".join(sorted(unknown)), ", ".join(SETTINGS)))
        for name, value in settings.items():
            if value is not None and (isinstance(value, bool) or not isinstance(
                    value, (int, float)) or value < (0 if name == "job_duration" else 1)):
                raise ValueError("%s must be a %s number or null"
                                 % (name, "non-negative" if name == "job_duration"
                                    else "positive"))
        with self.sagemaker.lock:
            if "max_concurrent_jobs" in settings:
                self.sagemaker.max_concurrent_jobs = settings["max_concurrent_jobs"]
            if settings.get("job_duration") is not None:
                self.sagemaker.job_duration = float(settings["job_duration"])
        if "logs_page_limit" in settings:
            self.logs.page_limit = settings["logs_page_limit"]

    def settings(self):
        return {"max_concurrent_jobs": self.sagemaker.max_concurrent_jobs,
                "job_duration": self.sagemaker.job_duration,
                "logs_page_limit": self.logs.page_limit}

    def put_log_events(self, group, stream, events, region=None, account=None):
        """Append [(epoch seconds, message)] to a log stream, e.g. to test
        paging over more events than a job writes."""
        self.logs.put_events(account or self.account, region or self.region or
                             "us-east-1", group, stream, events)

    def job_log_events(self, job, region=None, account=None):
        """A job's compile log as it is now: every event of the streams named
        JOB or JOB/..., merged in time order, as [{"stream", "timestamp" (ms),
        "message"}] ([] when there is none yet)."""
        view = self.logs._view(account or self.account, region or self.region or "us-east-1",
                               LOG_GROUP) or {}
        rows = [(ts, stream, i, msg) for stream, evs in view.items()
                if stream == job or stream.startswith(job + "/")
                for i, (ts, _, msg) in enumerate(evs)]
        rows.sort()
        return [{"stream": s, "timestamp": ts, "message": m} for ts, s, _, m in rows]

    def log(self, message):
        if self.verbose:
            print("smneo.local: %s" % message, file=sys.stderr, flush=True)

    def create_bucket(self, name, region="us-east-1", owner=None):
        """Creates an S3 bucket (as `aws s3 mb` would, without a request),
        owned by the account `owner` (default: the server's); False when it
        already exists."""
        if not BUCKET_RE.fullmatch(name) or ".." in name:
            raise ValueError("invalid bucket name %r: 3 to 63 lowercase letters, digits, dots "
                             "and hyphens" % (name,))
        return self.s3.make_bucket(name, region, owner)

    # ---- answering -------------------------------------------------------------
    def answer(self, req):
        """(status, headers, body) for a Request, and the fault taken for it
        (None, or a fault whose kind the caller applies to the connection:
        "close" gives no answer, "drop", "truncate" and "reset" an answer to
        lose or cut). Shared by the HTTP handler and dispatch()."""
        service = route(req)
        front = self.fronts[service]
        fault = self.faults.take(service, front.operation(req))
        answer = None
        if fault is not None:
            if fault.kind == "slow":
                time.sleep(fault.delay)
            elif fault.kind == "close":
                self.record(service, req, None, fault)
                return None, fault
            elif fault.kind not in ("truncate", "reset", "drop", "deny"):
                req.operation = front.operation(req)
                answer = front.fault(req, fault.kind)
        if answer is None:
            try:
                answer = front.handle(req, deny=fault is not None and fault.kind == "deny")
            except Exception as e:  # a bug here must not kill the connection silently
                self.log("internal error: %r" % (e,))
                answer = front.internal(req, e)
        self.record(service, req, answer[0], fault)
        return answer, fault

    def dispatch(self, method, url, headers, body):
        """Answers one request in this process, with no socket (smneo.local.mock):
        (status, headers, body). The connection faults raise as a transport
        would fail: close, drop and reset ConnectionResetError, truncate
        ConnectionAbortedError."""
        split = urlsplit(url)
        if (split.path or "/").startswith("/_smneo"):
            raise ConnectionRefusedError("the admin endpoint is not served in-process: use the Server object")
        req = Request(method, split.path or "/", split.query, list(headers.items()), body,
                      self.url or "%s://%s" % (split.scheme or "https", split.netloc))
        answer, fault = self.answer(req)
        if answer is None or (fault is not None and fault.kind == "drop"):
            raise ConnectionResetError("smneo.local: connection closed without an answer (%s fault)" % fault.kind)
        if fault is not None and fault.kind == "truncate":
            raise ConnectionAbortedError("smneo.local: response truncated (truncate fault)")
        if fault is not None and fault.kind == "reset":
            raise ConnectionResetError("smneo.local: connection reset mid-answer (reset fault)")
        status, out_headers, out = answer
        if method == "HEAD":
            out = b""
        return status, out_headers, out

    # ---- lifecycle ------------------------------------------------------------
    def start(self):
        if self._httpd is not None:
            return self
        cls = _HTTPServer
        if ":" in self.host:
            cls = type("_HTTPServer6", (_HTTPServer,), {"address_family": socket.AF_INET6})
        self._httpd = cls((self.host, self.port), Handler, self)
        scheme = "http"
        if self.tls_cert is not None:
            import ssl
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            try:
                ctx.load_cert_chain(self.tls_cert, self.tls_key)
            except (OSError, ssl.SSLError) as e:
                self._httpd.server_close()
                self._httpd = None
                raise ValueError("cannot serve HTTPS with tls_cert %r and tls_key %r: %s"
                                 % (self.tls_cert, self.tls_key, e))
            self._httpd.socket = ctx.wrap_socket(self._httpd.socket, server_side=True,
                                                 do_handshake_on_connect=False)
            scheme = "https"
        host, port = self._httpd.server_address[:2]
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        if ":" in shown:
            shown = "[%s]" % shown
        self.port = port
        self.url = "%s://%s:%d" % (scheme, shown, port)
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
