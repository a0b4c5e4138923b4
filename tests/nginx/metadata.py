"""A container credentials endpoint and an IMDSv2 for tests/nginx/run.sh:
prints its URL, answers with keys smneo.local accepts, counts requests
(GET /_stats). An optional third argument is a session token to answer with
(botocore's container provider requires one)."""
import datetime
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KEY_ID, SECRET = sys.argv[1], sys.argv[2]
SESSION_TOKEN = sys.argv[3] if len(sys.argv) > 3 else None
ROLE = "ngx-imds-role"
TOKEN = "imds-token-for-nginx"
counts = {}
lock = threading.Lock()


def creds():
    exp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=6)
    token = {"Token": SESSION_TOKEN} if SESSION_TOKEN else {}
    return {**token, "Code": "Success", "AccessKeyId": KEY_ID, "SecretAccessKey": SECRET,
            "Expiration": exp.strftime("%Y-%m-%dT%H:%M:%SZ")}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body, ctype="application/json"):
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def count(self):
        with lock:
            key = "%s %s" % (self.command, self.path)
            counts[key] = counts.get(key, 0) + 1

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
            return self.reply(200, creds())
        if self.path == "/latest/meta-data/iam/security-credentials/":
            return self.reply(200, ROLE, "text/plain")
        if self.path == "/latest/meta-data/iam/security-credentials/" + ROLE:
            return self.reply(200, creds())
        self.reply(404, {})


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print("http://127.0.0.1:%d" % server.server_address[1], flush=True)
server.serve_forever()
