"""A container credentials endpoint and an IMDSv2 for tests/nginx/run.sh and
the credential parity tests: prints its URL, answers with keys smneo.local
accepts, counts requests (GET /_stats).

  metadata.py KEY_ID SECRET [SESSION_TOKEN] [--auth TOKEN] [--expires SECONDS]

Without SESSION_TOKEN the answers have no Token (botocore refuses them).
--auth: the container endpoint answers 401 unless the Authorization header is
TOKEN (what AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE holds). --expires: the
answers' Expiration, seconds from now (default 6 hours). POST /_settings with
{"delay": SECONDS, "expires": SECONDS} changes both while it runs: delay
holds each credentials answer that long."""
import argparse
import datetime
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("key_id")
parser.add_argument("secret")
parser.add_argument("session_token", nargs="?")
parser.add_argument("--auth")
parser.add_argument("--expires", type=float, default=6 * 3600)
args = parser.parse_args()
ROLE = "ngx-imds-role"
TOKEN = "imds-token-for-nginx"
counts = {}
settings = {"delay": 0.0, "expires": args.expires}
lock = threading.Lock()


def creds():
    with lock:
        delay, expires = settings["delay"], settings["expires"]
    if delay:
        time.sleep(delay)
    exp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=expires)
    token = {"Token": args.session_token} if args.session_token else {}
    return {**token, "Code": "Success", "AccessKeyId": args.key_id, "SecretAccessKey": args.secret,
            "Expiration": exp.strftime("%Y-%m-%dT%H:%M:%SZ")}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        pass

    def reply(self, status, body, ctype="application/json"):
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def count(self, key=None):
        with lock:
            key = key or "%s %s" % (self.command, self.path)
            counts[key] = counts.get(key, 0) + 1

    def do_POST(self):  # noqa: N802
        if self.path == "/_settings":
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            with lock:
                settings.update({k: float(v) for k, v in body.items() if k in settings})
                return self.reply(200, dict(settings))
        self.reply(404, {})

    def do_PUT(self):  # noqa: N802
        self.count()
        if self.path == "/latest/api/token":
            return self.reply(200, TOKEN, "text/plain")
        self.reply(404, {})

    def do_GET(self):  # noqa: N802
        if self.path == "/_stats":
            with lock:
                return self.reply(200, dict(counts))
        self.count()
        imds = self.path.startswith("/latest/")
        if imds and self.headers.get("X-aws-ec2-metadata-token") != TOKEN:
            return self.reply(401, {})
        if self.path == "/container":
            if args.auth is not None and self.headers.get("Authorization") != args.auth:
                self.count("container unauthorized")
                return self.reply(401, {"message": "bad or missing Authorization"})
            return self.reply(200, creds())
        if self.path == "/latest/meta-data/iam/security-credentials/":
            return self.reply(200, ROLE, "text/plain")
        if self.path == "/latest/meta-data/iam/security-credentials/" + ROLE:
            return self.reply(200, creds())
        self.reply(404, {})


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print("http://127.0.0.1:%d" % server.server_address[1], flush=True)
server.serve_forever()
