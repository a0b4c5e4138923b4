#!/bin/sh
# shellcheck disable=SC2015  # `check && ok || fail`: ok never fails
# tests/cli/test_transport.sh SMNEO: the CLI sends through the client
# (smneo_call_send), so the client's transport settings reach its requests:
# a profile's ca_bundle lets it reach an HTTPS endpoint with a self-signed
# certificate, which it refuses without one (exit 6).
# Run from the repository root:
#   sh tests/cli/test_transport.sh build/smneo
# shellcheck disable=SC2034  # NAME: read by lib.sh
NAME=test_transport
# shellcheck source=tests/cli/lib.sh
. "$(dirname "$0")/lib.sh"
static_keys
export AWS_MAX_ATTEMPTS=1 AWS_CONFIG_FILE="$WORK/config"

if ! openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" -out "$WORK/cert.pem" -days 1 \
     -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1; then
  if [ "${CI:-}" = true ]; then echo "test_transport: openssl is needed under CI=true"; exit 1; fi
  echo "test_transport: SKIP (openssl could not make a test certificate)"
  exit 0
fi

"$PY" - "$WORK/cert.pem" "$WORK/key.pem" >"$WORK/server.url" 2>"$WORK/server.err" <<'PYEOF' &
import http.server, json, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"CompilationJobName": "job-1", "CompilationJobStatus": "COMPLETED",
                           "CompilationJobArn": "arn:aws:sagemaker:us-east-1:123456789012:compilation-job/job-1",
                           "CreationTime": 1704067200, "LastModifiedTime": 1704067260}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("x-amzn-RequestId", "req-1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
s.socket = ctx.wrap_socket(s.socket, server_side=True)
print("https://127.0.0.1:%d" % s.server_port, flush=True)
s.serve_forever()
PYEOF
SERVER_PID=$!
i=0
while [ ! -s "$WORK/server.url" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
URL=$(head -1 "$WORK/server.url")
case "$URL" in https://*) ;; *) echo "test_transport: the TLS endpoint did not start"; cat "$WORK/server.err"; exit 1 ;; esac

# No CA for the certificate: refused as a TLS failure (exit 6).
: >"$WORK/config"
run untrusted 6 --endpoint-url "$URL" describe job-1 --output json
# The profile's ca_bundle: the client's transport trusts it, and so does the CLI.
printf '[default]\nca_bundle = %s\n' "$WORK/cert.pem" >"$WORK/config"
run profile_ca_bundle 0 --endpoint-url "$URL" describe job-1 --output json
grep -q '"job-1"' "$WORK/profile_ca_bundle.out" && ok || fail "profile_ca_bundle: no job-1 in the output"

finish
