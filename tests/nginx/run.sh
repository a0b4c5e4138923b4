#!/bin/sh
# Runs smneo.resty inside a real nginx (Debian nginx-extras + the lua module)
# on 127.0.0.1 against smneo.local (python/smneo/local, seeded as the Lua
# specs' server is: tests/lua/helpers/server.lua), and shows that a request
# is served while another waits on a slow upstream (one worker: a blocking
# call would stall it). Usage: tests/nginx/run.sh  (BUILD=build by default)
set -eu
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
BUILD=${BUILD:-build}
NGINX=${NGINX:-nginx}
if [ ! -f "$BUILD/luajit/smneo.so" ]; then
  echo "nginx test: $BUILD/luajit/smneo.so is not built" >&2
  exit 1
fi
if [ ! -f /usr/lib/nginx/modules/ngx_http_lua_module.so ]; then
  echo "nginx test: ngx_http_lua_module.so missing (apt-get install nginx-extras)" >&2
  exit 1
fi

# stdlib-only helpers: Debian's python3 starts fastest (no pyenv shim)
PY=${SMNEO_TEST_PYTHON:-python3}
[ -z "${SMNEO_TEST_PYTHON:-}" ] && [ -x /usr/bin/python3 ] && PY=/usr/bin/python3

tmp=$(mktemp -d)
tlspid=""
roguepid=""
localpid=""
metapid=""
nginxpid=""
nginx2pid=""
cleanup() {
  [ -n "$nginxpid" ] && kill "$nginxpid" 2>/dev/null && wait "$nginxpid" 2>/dev/null
  for p in $nginx2pid; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  for p in $tlspid $roguepid $localpid $metapid; do kill "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
fail() {
  echo "nginx test FAILED: $*" >&2
  echo "--- error.log" >&2
  tail -n 40 "$tmp/logs/error.log" >&2 || true
  [ -f "$tmp/n2/logs/error.log" ] && { echo "--- error.log (two workers)" >&2; grep -v "\[info\]" "$tmp/n2/logs/error.log" | tail -n 40 >&2; }
  echo "--- smneo.local" >&2
  tail -n 20 "$tmp/local.err" "$tmp/tls.err" "$tmp/rogue.err" >&2 || true
  exit 1
}

# start_local NAME [smneo.local options]: sets $local_url and $local_pid. It
# accepts the keys nginx signs with (the environment's and the credentials
# file's) and test:test.
start_local() {
  name=$1; shift
  : >"$tmp/$name.out" # the background command's redirection may come after the loop's first read
  "$PY" tests/lua/helpers/run_local.py --port 0 --credentials test:test \
    --credentials AKIDEXAMPLE:wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY \
    --credentials AKIDFROMFILE:file-secret-key-example "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  local_pid=$!
  i=0
  while [ "$(wc -l <"$tmp/$name.out")" -lt 2 ]; do
    i=$((i + 1)); [ $i -gt 100 ] && fail "smneo.local ($name) did not start"; sleep 0.05
  done
  local_url=$(sed -n 2p "$tmp/$name.out")
}
# the admin endpoint of the plain server: admin METHOD PATH [JSON]
admin() {
  curl -s --max-time 20 -X "$1" ${3:+-d "$3"} "$endpoint/_smneo/$2"
}

# s3_ops: the S3 requests recorded since the last DELETE of them, as
# "Operation=count" (sorted)
s3_ops() {
  admin GET requests | "$PY" -c 'import collections, json, sys
rs = [r for r in json.load(sys.stdin)["requests"] if r["service"] == "s3"]
c = collections.Counter(r["operation"] or r["method"] for r in rs)
print(" ".join("%s=%d" % kv for kv in sorted(c.items())))'
}

# TLS: a test CA, a server certificate it signed for 127.0.0.1, and a
# self-signed ("rogue") one that nginx must refuse.
mkdir -p "$tmp/tls"
(
  cd "$tmp/tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem \
    -days 2 -subj /CN=smneo-test-ca -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout srv.key -out srv.csr -subj /CN=127.0.0.1
  printf 'subjectAltName=DNS:127.0.0.1,IP:127.0.0.1\n' >ext
  openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 -extfile ext
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout rogue.key -out rogue.pem \
    -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=DNS:127.0.0.1,IP:127.0.0.1
) >"$tmp/tls/openssl.log" 2>&1 || fail "openssl could not make the test certificates"

# The seeded server: jobs job-000..job-056 (every 3rd COMPLETED, then FAILED,
# then STARTING), a pipeline execution with 23 steps, the model archive the
# jobs meant to complete read; its compilation jobs run for a day unless set.
LUA_PATH="lua/?.lua;;" luajit -e 'io.write(require("tests.lua.helpers.server").pipelines_json())' \
  >"$tmp/pipelines.json" || fail "pipelines"
start_local local --job-duration 0 --pipelines "$tmp/pipelines.json"
endpoint=$local_url localpid=$local_pid
AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test "$PY" examples/create_bucket.py "$endpoint" models \
  >/dev/null 2>&1 || fail "bucket"
model_uri=$(env -u AWS_PROFILE AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
  LUA_PATH="lua/?.lua;;" LUA_CPATH="$BUILD/luajit/?.so;;" \
  luajit tests/lua/helpers/seed_local.lua "$endpoint" "$ROOT" 2>"$tmp/seed.err") || {
  cat "$tmp/seed.err" >&2; fail "seeding smneo.local"; }
start_local tls --job-duration 86400 --tls-cert "$tmp/tls/srv.pem" --tls-key "$tmp/tls/srv.key"
tls_endpoint=$local_url tlspid=$local_pid
start_local rogue --job-duration 86400 --tls-cert "$tmp/tls/rogue.pem" --tls-key "$tmp/tls/rogue.key"
rogue_endpoint=$local_url roguepid=$local_pid

port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$tmp/conf" "$tmp/logs" "$tmp/tmp"
user_line=""
[ "$(id -u)" = 0 ] && user_line="user root;"
sed -e "s|@ROOT@|$ROOT|g" -e "s|@BUILD@|$BUILD|g" -e "s|@PORT@|$port|g" -e "s|@USER_LINE@|$user_line|g" \
  -e "s|@CA@|$tmp/tls/ca.pem|g" -e "s|@WORKERS@|1|g" -e "s|@REUSEPORT@||g" \
  tests/nginx/nginx.conf.in >"$tmp/conf/nginx.conf"

# credentials: the environment (default client) and a shared credentials
# file profile (/profile): both reach the workers through `env` directives
printf '[ngx-file]\naws_access_key_id = AKIDFROMFILE\naws_secret_access_key = file-secret-key-example\n' \
  >"$tmp/credentials"
env -u AWS_PROFILE AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY \
  AWS_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE="$tmp/credentials" \
  SMNEO_TEST_ENDPOINT="$endpoint" SMNEO_TEST_MODEL_URI="$model_uri" \
  SMNEO_TEST_TLS_ENDPOINT="$tls_endpoint" SMNEO_TEST_ROGUE_ENDPOINT="$rogue_endpoint" \
  "$NGINX" -p "$tmp/" -c conf/nginx.conf -e logs/error.log &
nginxpid=$!
base="http://127.0.0.1:$port"
i=0
until curl -s -o /dev/null "$base/validate"; do
  i=$((i + 1)); [ $i -gt 100 ] && fail "nginx did not start"; sleep 0.05
done

get() { curl -s --max-time 20 -w ' [%{http_code}]' "$base$1"; }
expect() { # path expected-output
  out=$(get "$1")
  [ "$out" = "$2 [200]" ] || fail "GET $1: expected '$2', got '$out'"
  echo "ok  GET $1 -> $2"
}

expect /describe "job-001 FAILED number"
expect "/create?name=ngx-job-1" "arn:aws:sagemaker:us-east-1:123456789012:compilation-job/ngx-job-1"
expect "/describe?name=ngx-job-1" "ngx-job-1 STARTING number"
expect /iter "58 ngx-job-1"
expect /steps "23"
# STARTING for a quarter of 4 s, then INPROGRESS: the waiter sees each status
admin POST settings '{"job_duration": 4}' >/dev/null || fail "settings"
expect "/create?name=wait-ok-ngx" "arn:aws:sagemaker:us-east-1:123456789012:compilation-job/wait-ok-ngx"
admin POST settings '{"job_duration": 86400}' >/dev/null || fail "settings"
expect "/wait?name=wait-ok-ngx" "COMPLETED STARTING,INPROGRESS,COMPLETED"
expect "/create?name=wait-forever-ngx" "arn:aws:sagemaker:us-east-1:123456789012:compilation-job/wait-forever-ngx"
expect "/wait_cancel?name=wait-forever-ngx" "Cancelled cb failed"
expect /error "nil ResourceNotFound 400 true"
expect /profile "job-004 FAILED number"
# the last request, as smneo.local verified its signature: the file's key signed it
admin GET requests | "$PY" -c 'import json, sys
r = json.load(sys.stdin)["requests"][-1]
sys.exit(0 if r["operation"] == "DescribeCompilationJob" and r["status"] == 200 and
         (r["signer"] or {}).get("access_key_id") == "AKIDFROMFILE" and "arn" in r["signer"] else 1)' ||
  fail "/profile did not sign with the credentials file"
admin GET requests | grep -q 'file-secret-key-example' && fail "the secret key was sent"
echo "ok  /profile signed with the shared credentials file"
# S3 download over cosockets (the core's download machine): its GET is cut
# midway by a truncate fault and resumed with Range (answered 206); the file
# is whole
"$PY" -c 'import sys
with open(sys.argv[1], "wb") as f:
    f.write(bytes((i * 7 + 3) % 251 for i in range(3 * 1024 * 1024)))' "$tmp/big.bin"
cat >"$tmp/upload.lua" <<'LUA'
local c = require("smneo").client{ endpoint_url = arg[1], region_name = "us-east-1",
  aws_access_key_id = "test", aws_secret_access_key = "test" }
c:upload_file{ filename = arg[2], bucket = "models", key = "big.bin" }
LUA
env -u AWS_PROFILE AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
  LUA_PATH="lua/?.lua;;" LUA_CPATH="$BUILD/luajit/?.so;;" luajit "$tmp/upload.lua" "$endpoint" "$tmp/big.bin" \
  || fail "upload big.bin"
admin DELETE requests >/dev/null || fail "clear the requests"
admin POST faults '{"kind": "truncate", "target": "s3", "operation": "GET", "count": 1}' >/dev/null \
  || fail "truncate fault"
expect /s3_download "true true true"
cmp -s "$tmp/big.bin" "$tmp/tmp/big.out" || fail "/s3_download: the downloaded file differs"
admin GET requests | "$PY" -c 'import json, sys
gets = [(r["status"], r["fault"]) for r in json.load(sys.stdin)["requests"] if r["method"] == "GET"]
sys.exit(0 if gets == [(200, "truncate"), (206, None)] else "GETs: %r" % (gets,))' ||
  fail "/s3_download was not resumed with a Range request"
ls -a "$tmp/tmp" | grep -q smneo- && fail "/s3_download left a temporary file"
echo "ok  /s3_download: a GET cut midway resumed with Range over cosockets"
# S3 upload over cosockets (the core's upload machine): 12 MiB in three 5 MiB
# parts with three in flight (ngx.thread); the first part's connection is
# closed without an answer and the machine sends that part again; the object
# is whole
"$PY" -c 'import sys
with open(sys.argv[1], "wb") as f:
    f.write(bytes((i * 11 + 5) % 253 for i in range(12 * 1024 * 1024)))' "$tmp/up.bin"
admin DELETE requests >/dev/null || fail "clear the requests"
admin POST faults '{"kind": "close", "target": "s3", "operation": "PUT", "count": 1}' >/dev/null \
  || fail "close fault"
expect /s3_upload "true true true"
admin GET requests | "$PY" -c 'import json, sys
rs = json.load(sys.stdin)["requests"]
puts = [(r["status"] if not r["fault"] else None, r["fault"]) for r in rs if r["method"] == "PUT"]
posts = [r["status"] for r in rs if r["method"] == "POST"]
deletes = [r for r in rs if r["method"] == "DELETE"]
sys.exit(0 if sorted(puts, key=repr) == [(200, None)] * 3 + [(None, "close")] and posts == [200, 200]
         and not deletes else "PUTs %r POSTs %r DELETEs %d" % (puts, posts, len(deletes)))' ||
  fail "/s3_upload: not three parts with the closed one sent again, then Complete"
cat >"$tmp/check_up.lua" <<'LUA'
local c = require("smneo").client{ endpoint_url = arg[1], region_name = "us-east-1",
  aws_access_key_id = "test", aws_secret_access_key = "test" }
c:download_file{ filename = arg[2], bucket = "models", key = "up.bin" }
LUA
env -u AWS_PROFILE AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
  LUA_PATH="lua/?.lua;;" LUA_CPATH="$BUILD/luajit/?.so;;" luajit "$tmp/check_up.lua" "$endpoint" "$tmp/up.out" \
  || fail "download up.bin"
cmp -s "$tmp/up.bin" "$tmp/up.out" || fail "/s3_upload: the object differs"
echo "ok  /s3_upload: three parts in flight over cosockets, a closed connection's part sent again"
# over plain HTTP the parts' payload hashes run on nginx's thread pool
# (ngx.run_worker_thread), never on the worker: with a pool that does not
# exist the upload fails naming it before any part is sent; and an upload
# that fails (that, or the progress callback raising) aborts the multipart
# upload before the error is raised
upload_aborted() { # case: Create, then the Abort; PUTs at most allowed
  admin GET requests | "$PY" -c 'import json, sys
rs = [r for r in json.load(sys.stdin)["requests"] if "up-%s.bin" % sys.argv[1] in (r["path"] or "")]
ms = [r["method"] for r in rs]
puts = ms.count("PUT")
dels = [r for r in rs if r["method"] == "DELETE"]
ok = ms and ms[0] == "POST" and ms.count("POST") == 1 and puts <= int(sys.argv[2]) and len(dels) == 1 \
     and dels[0]["status"] == 204
sys.exit(0 if ok else "requests: %r" % ([(r["method"], r["path"], r["status"]) for r in rs],))' "$1" "$2"
}
admin DELETE requests >/dev/null || fail "clear the requests"
expect "/s3_upload_error?case=nopool" "false InvalidArgument true"
upload_aborted nopool 0 || fail "/s3_upload_error?case=nopool: a part was sent or the upload not aborted"
echo "ok  /s3_upload_error: the part hashes run on the thread pool (none on the worker); the upload aborted"
expect "/s3_upload_error?case=raise" "false boom from progress"
upload_aborted raise 2 || fail "/s3_upload_error?case=raise: the upload was not aborted"
echo "ok  /s3_upload_error: an error raised by the progress callback aborts the upload, then is re-raised"
expect /tls "ngx-tls-1 STARTING number"
expect /tls_rogue "nil TLSError"
# connections the rogue (self-signed) endpoint served; each read is one more
rogue_connections() { curl -sk --max-time 20 "$rogue_endpoint/_smneo/health" | sed -n 's/.*"connections": \([0-9]*\).*/\1/p'; }
n0=$(rogue_connections)
expect /tls_pool "ngx-pool-1 ngx-pool-1 nil TLSError"
n1=$(rogue_connections)
# verify = false: one connection for both calls (pooled); the verifying client: its own (refused)
[ "$((n1 - n0))" = 3 ] || fail "/tls_pool: expected 2 connections (+1 for health), got $((n1 - n0 - 1))"
echo "ok  /tls_pool: the verify = false connection served its twin, never the verifying client"
expect /ca_bundle "nil InvalidArgument true"
admin POST faults '{"kind": "fail", "failure": "pytorch-model-count", "job": "ngx-logs-1"}' >/dev/null || fail "fault"
admin POST settings '{"job_duration": 1.5}' >/dev/null || fail "settings"
expect "/logs?name=ngx-logs-1" "FAILED true true true"
admin POST settings '{"job_duration": 86400}' >/dev/null || fail "settings"

# The worker is not blocked: start a describe the upstream answers after 2 s,
# then a fast request must be answered while the slow one still waits.
expect "/create?name=slow-2-ngx" "arn:aws:sagemaker:us-east-1:123456789012:compilation-job/slow-2-ngx"
admin POST faults '{"kind": "slow", "delay": 2, "count": 1, "target": "sagemaker", "operation": "DescribeCompilationJob"}' \
  >/dev/null || fail "fault"
now() { date +%s.%N; }
t0=$(now)
(get "/describe?name=slow-2-ngx" >"$tmp/slow.out"; now >"$tmp/slow.end") &
slowpid=$!
sleep 0.3
fast=$(get "/describe?name=job-002")
t1=$(now)
[ "$fast" = "job-002 STARTING number [200]" ] || fail "fast request during the slow one: got '$fast'"
[ ! -s "$tmp/slow.end" ] || fail "the slow request finished before the fast one"
wait "$slowpid"
t2=$(cat "$tmp/slow.end")
[ "$(cat "$tmp/slow.out")" = "slow-2-ngx STARTING number [200]" ] || fail "slow request: got '$(cat "$tmp/slow.out")'"
"$PY" - "$t0" "$t1" "$t2" <<'PY' || fail "timing"
import sys
t0, t1, t2 = map(float, sys.argv[1:])
fast, slow = t1 - t0, t2 - t0
print("ok  fast request answered after %.2f s while the slow one took %.2f s" % (fast, slow))
sys.exit(0 if fast < 1.5 and slow >= 2.0 else 1)
PY

# ---- two workers sharing an assumed role's credentials (lua_shared_dict) --------------------------------
# profile ngx-role assumes Ngx with ngx-base's keys through smneo.local's STS
printf '[ngx-base]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\n' \
  >>"$tmp/credentials"
printf '[profile ngx-role]\nrole_arn = arn:aws:iam::123456789012:role/Ngx\nsource_profile = ngx-base\nrole_session_name = ngx\n' \
  >"$tmp/config2"
# the other providers over cosockets: a container endpoint and an IMDSv2 (as a role's
# credential_source), a web identity token file, an SSO token cache
"$PY" tests/nginx/metadata.py AKIDEXAMPLE wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY ngx-meta-session-token >"$tmp/meta.out" 2>"$tmp/meta.err" &
metapid=$!
i=0
while [ ! -s "$tmp/meta.out" ]; do
  i=$((i + 1)); [ $i -gt 100 ] && fail "the metadata server did not start"; sleep 0.05
done
meta=$(head -n1 "$tmp/meta.out")
printf 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJuZ3giLCJhdWQiOiJzdHMuYW1hem9uYXdzLmNvbSJ9.c2ln' >"$tmp/jwt"
cat >>"$tmp/config2" <<EOF
[profile ngx-container]
role_arn = arn:aws:iam::123456789012:role/NgxContainer
credential_source = EcsContainer
role_session_name = ctr
[profile ngx-imds]
role_arn = arn:aws:iam::123456789012:role/NgxImds
credential_source = Ec2InstanceMetadata
role_session_name = imds
[profile ngx-web]
web_identity_token_file = $tmp/jwt
role_arn = arn:aws:iam::123456789012:role/NgxWeb
role_session_name = web
[profile ngx-sso]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = Admin
[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1
EOF
mkdir -p "$tmp/home/.aws/sso/cache"
"$PY" - "$tmp/home/.aws/sso/cache" <<'PY' || fail "the SSO token cache"
import datetime, hashlib, json, os, sys
exp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=2)
doc = {"startUrl": "https://corp.awsapps.com/start", "region": "us-east-1", "accessToken": "ngx-sso-token",
       "expiresAt": exp.strftime("%Y-%m-%dT%H:%M:%SZ")}
with open(os.path.join(sys.argv[1], hashlib.sha1(b"corp").hexdigest() + ".json"), "w") as f:
    json.dump(doc, f)
PY
curl -s -o /dev/null -X POST "$endpoint/_smneo/identity" \
  -d '{"sso_tokens": {"ngx-sso-token": {"expires_in": 7200, "user": "ngx"}}}' || fail "SSO token"
mkdir -p "$tmp/n2/conf" "$tmp/n2/logs" "$tmp/n2/tmp"
port2=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -e "s|@ROOT@|$ROOT|g" -e "s|@BUILD@|$BUILD|g" -e "s|@PORT@|$port2|g" -e "s|@USER_LINE@|$user_line|g" \
  -e "s|@CA@|$tmp/tls/ca.pem|g" -e "s|@WORKERS@|2|g" -e "s|@REUSEPORT@| reuseport|g" \
  tests/nginx/nginx.conf.in >"$tmp/n2/conf/nginx.conf"
curl -s -o /dev/null -X DELETE "$endpoint/_smneo/requests" || fail "clear the requests"
env -u AWS_PROFILE -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_REGION=us-east-1 \
  AWS_CONFIG_FILE="$tmp/config2" AWS_SHARED_CREDENTIALS_FILE="$tmp/credentials" AWS_ENDPOINT_URL_STS="$endpoint" \
  AWS_ENDPOINT_URL_SSO="$endpoint" HOME="$tmp/home" \
  AWS_CONTAINER_CREDENTIALS_FULL_URI="$meta/container" AWS_EC2_METADATA_SERVICE_ENDPOINT="$meta/" \
  SMNEO_TEST_ENDPOINT="$endpoint" \
  "$NGINX" -p "$tmp/n2/" -c conf/nginx.conf -e logs/error.log &
nginx2pid=$!
base2="http://127.0.0.1:$port2"
i=0
until curl -s -o /dev/null "$base2/shared_bad"; do
  i=$((i + 1)); [ $i -gt 100 ] && fail "the two-worker nginx did not start"; sleep 0.05
done
out=$(curl -s --max-time 20 "$base2/shared_bad")
[ "$out" = "false InvalidArgument true" ] || fail "/shared_bad: got '$out'"
echo "ok  shared_dict naming no lua_shared_dict is refused, naming the directive"
# eight at once (one worker assumes the role, the other waits for it), then more one by one
curls=""
for k in 1 2 3 4 5 6 7 8; do
  curl -s --max-time 20 "$base2/shared" >"$tmp/shared.$k" &
  curls="$curls $!"
done
for p in $curls; do wait "$p"; done
for k in $(seq 9 30); do curl -s --max-time 20 "$base2/shared" >"$tmp/shared.$k"; done
bad=$(grep -Lx '[0-9]* table' "$tmp"/shared.* | head -1)
[ -z "$bad" ] || fail "/shared: got '$(cat "$bad")'"
pids=$(cut -d' ' -f1 "$tmp"/shared.* | sort -u | wc -l)
[ "$pids" = 2 ] || fail "/shared: answered by $pids worker(s), expected 2 (reuseport)"
"$PY" - "$endpoint" <<'PY' || fail "shared credentials"
import json, sys, urllib.request
reqs = json.load(urllib.request.urlopen(sys.argv[1] + "/_smneo/requests"))["requests"]
assume = [r for r in reqs if r["operation"] == "AssumeRole"]
lists = [r for r in reqs if r["operation"] == "ListCompilationJobs"]
signers = {(r.get("signer") or {}).get("arn") for r in lists}
ok = len(assume) == 1 and len(lists) == 30 and signers == {"arn:aws:sts::123456789012:assumed-role/Ngx/ngx"}
print("%s  two workers: %d AssumeRole for %d calls signed by %s" % ("ok" if ok else "NOT", len(assume), len(lists), signers))
sys.exit(0 if ok else 1)
PY
# each provider, over cosockets, twice per profile (the second from the client's cache or the dict)
curl -s -o /dev/null -X DELETE "$endpoint/_smneo/requests" || fail "clear the requests"
for profile in ngx-container ngx-imds ngx-web ngx-sso ngx-container ngx-imds ngx-web ngx-sso; do
  out=$(curl -s --max-time 20 "$base2/provider?profile=$profile")
  [ "$out" = "$profile table" ] || fail "/provider?profile=$profile: got '$out'"
done
"$PY" - "$endpoint" "$meta" <<'PY' || fail "providers under nginx"
import json, sys, urllib.request
reqs = json.load(urllib.request.urlopen(sys.argv[1] + "/_smneo/requests"))["requests"]
stats = json.load(urllib.request.urlopen(sys.argv[2] + "/_stats"))
signers = sorted({(r.get("signer") or {}).get("arn", "")
                  for r in reqs if r["operation"] == "ListCompilationJobs"})
ops = sorted(r["operation"] for r in reqs if r["service"] in ("sts", "sso"))
want = ["arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_",
        "arn:aws:sts::123456789012:assumed-role/NgxContainer/ctr",
        "arn:aws:sts::123456789012:assumed-role/NgxImds/imds",
        "arn:aws:sts::123456789012:assumed-role/NgxWeb/web"]
ok = (len(signers) == 4 and all(s.startswith(w) for s, w in zip(signers, want))
      and ops == ["AssumeRole", "AssumeRole", "AssumeRoleWithWebIdentity", "GetRoleCredentials"]
      and stats.get("GET /container") == 1 and stats.get("PUT /latest/api/token") == 1)
print("%s  container, IMDS, web identity and SSO over cosockets: %s, metadata %s"
      % ("ok" if ok else "NOT", ops, stats))
if not ok:
    print(signers)
sys.exit(0 if ok else 1)
PY

# ---- the default chain's container and IMDS providers, then connections closed mid-answer,
# ---- with one worker and with two --------------------------------------------------------------
# A metadata server whose container endpoint wants the token file's Authorization.
"$PY" tests/nginx/metadata.py AKIDEXAMPLE wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY ngx-chain-session-token \
  --auth "Bearer ngx-container-auth" >"$tmp/meta3.out" 2>"$tmp/meta3.err" &
metapid="$metapid $!"
i=0
while [ ! -s "$tmp/meta3.out" ]; do
  i=$((i + 1)); [ $i -gt 100 ] && fail "the second metadata server did not start"; sleep 0.05
done
meta3=$(head -n1 "$tmp/meta3.out")
printf 'Bearer ngx-container-auth' >"$tmp/container-token"
# meta_count KEY: how many requests the metadata server counted under KEY
meta_count() { curl -s --max-time 20 "$meta3/_stats" | "$PY" -c 'import json, sys; print(json.load(sys.stdin).get(sys.argv[1], 0))' "$1"; }
meta_set() { curl -s -o /dev/null --max-time 20 -X POST -d "$1" "$meta3/_settings" || fail "metadata settings"; }
# chain_nginx NAME WORKERS VAR=VALUE...: an nginx with no keys in its environment (only the
# container or IMDS variables given) on $chain_base; $chain_pid
chain_nginx() {
  name=$1 workers=$2; shift 2
  d="$tmp/$name"
  mkdir -p "$d/conf" "$d/logs" "$d/tmp"
  chain_port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  reuse=""
  [ "$workers" -gt 1 ] && reuse=" reuseport"
  sed -e "s|@ROOT@|$ROOT|g" -e "s|@BUILD@|$BUILD|g" -e "s|@PORT@|$chain_port|g" -e "s|@USER_LINE@|$user_line|g" \
    -e "s|@CA@|$tmp/tls/ca.pem|g" -e "s|@WORKERS@|$workers|g" -e "s|@REUSEPORT@|$reuse|g" \
    tests/nginx/nginx.conf.in >"$d/conf/nginx.conf"
  env -u AWS_PROFILE -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
    -u AWS_CONTAINER_CREDENTIALS_FULL_URI -u AWS_CONTAINER_CREDENTIALS_RELATIVE_URI \
    -u AWS_EC2_METADATA_SERVICE_ENDPOINT -u AWS_EC2_METADATA_DISABLED \
    AWS_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null HOME="$tmp/nohome" \
    SMNEO_TEST_ENDPOINT="$endpoint" "$@" \
    "$NGINX" -p "$d/" -c conf/nginx.conf -e logs/error.log &
  chain_pid=$!
  nginx2pid="$nginx2pid $chain_pid"
  chain_base="http://127.0.0.1:$chain_port"
  i=0
  until curl -s -o /dev/null "$chain_base/validate"; do
    i=$((i + 1)); [ $i -gt 100 ] && fail "nginx ($name) did not start"; sleep 0.05
  done
}
# (nginx logs the resets closed_check provokes itself, whatever lua_socket_log_errors says)
chain_stop() {
  kill "$chain_pid" 2>/dev/null; wait "$chain_pid" 2>/dev/null
  if grep -E '\[(error|crit|alert|emerg)\]' "$tmp/$1/logs/error.log" |
    grep -v 'recv() failed (104: Connection reset by peer), .*request: "GET /closed?attempts=[13] ' >&2; then
    fail "errors in the error.log of nginx ($1)"
  fi
}
# chain_get N: N requests to /chain, each answered with "PID table"
chain_get() {
  for k in $(seq 1 "$1"); do
    out=$(curl -s --max-time 20 "$chain_base/chain")
    echo "$out" | grep -qx '[0-9]* table' || fail "/chain ($name): got '$out'"
  done
}
# chain_check NAME WORKERS KEY: the credentials of KEY's answers sign the calls, are fetched
# once per worker while far from expiring, on each request while about to expire (under
# 5 minutes left: refreshed before they expire), and a slow refresh does not block the worker.
chain_check() {
  name=$1 workers=$2 key=$3
  # answers that expire in 200 s: under the 5 minutes left at which the core
  # refreshes, so each call refreshes what the worker holds (a worker's first
  # call resolves)
  meta_set '{"expires": 200, "delay": 0}'
  c0=$(meta_count "$key")
  chain_get 6
  c1=$(meta_count "$key")
  [ $((c1 - c0)) = 6 ] || fail "$name: $((c1 - c0)) credential fetches for 6 calls with credentials about to expire"
  # a refresh that takes 2 s: a request on the same worker(s) is answered meanwhile
  meta_set '{"delay": 2}'
  rm -f "$tmp/chain-slow.end"
  (curl -s --max-time 20 "$chain_base/chain" >"$tmp/chain-slow.out"; date +%s.%N >"$tmp/chain-slow.end") &
  slow=$!
  sleep 0.3
  fast=$(curl -s --max-time 20 "$chain_base/validate")
  echo "$fast" | grep -qx '[0-9][0-9]*' || fail "$name: /validate during a slow refresh: got '$fast'"
  [ ! -s "$tmp/chain-slow.end" ] || fail "$name: the refresh finished before the probe"
  wait "$slow"
  grep -qx '[0-9]* table' "$tmp/chain-slow.out" || fail "$name: the slow refresh's call: $(cat "$tmp/chain-slow.out")"
  # answers good for 6 hours: each worker refreshes once more, then keeps them
  meta_set '{"delay": 0, "expires": 21600}'
  c2=$(meta_count "$key")
  chain_get 6
  c3=$(meta_count "$key")
  chain_get 6
  c4=$(meta_count "$key")
  [ $((c3 - c2)) -ge 1 ] && [ $((c3 - c2)) -le "$workers" ] && [ "$c4" = "$c3" ] ||
    fail "$name: $((c3 - c2)) then $((c4 - c3)) fetches for 6 + 6 calls with fresh credentials on $workers worker(s)"
  echo "ok  $name ($workers worker(s)): a refresh per call near expiry, not blocking the worker; fresh ones kept"
}
# closed_check NAME: a describe whose answer is cut mid-body (smneo.local's truncate fault:
# then a FIN) or reset mid-answer (reset fault: then a RST) is retried as ConnectionClosed and
# succeeds; with no retries left the error is ConnectionClosed
closed_check() {
  for kind in truncate reset; do
    fault="{\"kind\": \"$kind\", \"count\": 1, \"target\": \"sagemaker\", \"operation\": \"DescribeCompilationJob\"}"
    admin POST faults "$fault" >/dev/null || fail "fault"
    out=$(curl -s --max-time 20 "$chain_base/closed?attempts=3")
    [ "$out" = "job-001 FAILED 1" ] || fail "$1: $kind, /closed?attempts=3: got '$out'"
    admin POST faults "$fault" >/dev/null || fail "fault"
    out=$(curl -s --max-time 20 "$chain_base/closed?attempts=1")
    [ "$out" = "nil ConnectionClosed 1 true" ] || fail "$1: $kind, /closed?attempts=1: got '$out'"
  done
  echo "ok  $1: an answer cut or reset mid-body is retried as ConnectionClosed, and is ConnectionClosed with no retry left"
}
signed_by_chain() {
  "$PY" - "$endpoint" "$1" <<'PY' || fail "$1: the calls were not signed with the provider's keys and token"
import json, sys, urllib.request
reqs = json.load(urllib.request.urlopen(sys.argv[1] + "/_smneo/requests"))["requests"]
lists = [r for r in reqs if r["operation"] == "ListCompilationJobs"]
keys = {(r.get("signer") or {}).get("access_key_id") for r in lists}
sys.exit(0 if lists and keys == {"AKIDEXAMPLE"} and all(r["status"] == 200 for r in lists) else 1)
PY
}
for workers in 1 2; do
  curl -s -o /dev/null -X DELETE "$endpoint/_smneo/requests" || fail "clear the requests"
  chain_nginx "container$workers" "$workers" AWS_CONTAINER_CREDENTIALS_FULL_URI="$meta3/container" \
    AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="$tmp/container-token"
  chain_check "container$workers" "$workers" "GET /container"
  [ "$(meta_count "container unauthorized")" = 0 ] || fail "the container endpoint saw a request without the token file's Authorization"
  signed_by_chain "container$workers"
  closed_check "container$workers"
  chain_stop "container$workers"
  curl -s -o /dev/null -X DELETE "$endpoint/_smneo/requests" || fail "clear the requests"
  chain_nginx "imds$workers" "$workers" AWS_EC2_METADATA_SERVICE_ENDPOINT="$meta3/"
  chain_check "imds$workers" "$workers" "GET /latest/meta-data/iam/security-credentials/ngx-imds-role"
  signed_by_chain "imds$workers"
  closed_check "imds$workers"
  chain_stop "imds$workers"
done

if grep -E '\[(error|crit|alert|emerg)\]' "$tmp/n2/logs/error.log" >/dev/null; then
  tail -n 20 "$tmp/n2/logs/error.log" >&2
  fail "errors in the two-worker nginx's error.log"
fi

# compile over cosockets and the thread pool: two targets with their events
admin POST settings '{"job_duration": 0.3}' >/dev/null || fail "settings"
out=$(curl -s --max-time 120 "$base/compile")
echo "$out" | grep -Eq '^ml_c5 COMPLETED true true PACK,PACKED,UPLOAD,UPLOADED,CREATED,STATUS,DOWNLOAD,VERIFIED$' ||
  fail "/compile (ml_c5): got '$out'"
echo "$out" | grep -Eq '^LINUX_ARM64 COMPLETED true true PACK,PACKED,UPLOADED,CREATED,STATUS,DOWNLOAD,VERIFIED$' ||
  fail "/compile (LINUX_ARM64, the same archive: not uploaded again): got '$out'"
echo "ok  compile for ml_c5 and LINUX/ARM64 with its events, work on nginx's thread pool"
expect /compile_cancel "Cancelled true cb failed InvalidArgument true"
# no bucket: GetCallerIdentity, HeadBucket (404) and CreateBucket as SEND steps over cosockets
expect /compile_default_bucket "COMPLETED sagemaker-us-east-1-123456789012 GetCallerIdentity,HeadBucket,CreateBucket"
echo "ok  compile with no bucket: the default bucket found and created over cosockets"
# compile_many over cosockets: three jobs, two at once, one failing; then a cancel
admin POST faults '{"kind": "fail", "failure": "not-tar-gz", "device": "ml_c4", "count": 1}' >/dev/null || fail "fault"
out=$(curl -s --max-time 120 "$base/compile_many")
# (after the callback's false no more events reach it: the rows say the rest)
want='false
ml_c5 COMPLETED true false false PACKED,UPLOADED,CREATED,STATUS,VERIFIED,DONE
ml_c4 FAILED false true false UPLOADED,CREATED,STATUS,DONE
ml_m5 COMPLETED true false false UPLOADED,CREATED,STATUS,VERIFIED,DONE
--
false
ml_c5 STOPPING false false true PACKED,UPLOADED,CREATED
ml_c4  false false false UPLOADED
ml_m5  false false false UPLOADED'
[ "$out" = "$want" ] || fail "/compile_many: got
$out
expected
$want"
echo "ok  compile_many: three jobs (max_concurrent 2) over cosockets, a FAILED row with its diagnosis, then a cancel"
# the same compiles through Python's smneo.Client.compile and smneo.resty: the same
# results, errors and events (tests/nginx/compile_parity.py); the fail case's jobs FAIL;
# bigmodel's archive is over the 64 MiB multipart threshold (multipart, and
# upload_denied: every S3 PUT denied, so an UploadPart fails and the upload is aborted)
mkdir -p "$tmp/bigmodel"
cp examples/model/model.pt "$tmp/bigmodel/"
head -c 70000000 /dev/urandom >"$tmp/bigmodel/weights.bin"
admin POST faults '{"kind": "fail", "failure": "pytorch-model-count", "job": "parity-fail-*", "count": 2}' \
  >/dev/null || fail "fault"
PYS=$(sh tools/pick-python.sh)
PYTHONPATH="$ROOT/python" "$PYS" -c 'import smneo._smneo' 2>/dev/null ||
  fail "parity: the Python extension is not built in place (make test-python, or: $PYS setup.py build_ext --inplace)"
PYTHONPATH="$ROOT/python" env -u AWS_PROFILE AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
  "$PYS" tests/nginx/compile_parity.py "$base" "$endpoint" "$ROOT" "$tmp" ok fail bad_target no_model cancel logs \
  multipart || fail "Python and smneo.resty compile differ"
admin DELETE requests >/dev/null || fail "clear the requests"
admin POST faults '{"kind": "deny", "target": "s3", "operation": "PUT", "rate": 1}' >/dev/null || fail "deny fault"
PYTHONPATH="$ROOT/python" env -u AWS_PROFILE AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
  "$PYS" tests/nginx/compile_parity.py "$base" "$endpoint" "$ROOT" "$tmp" upload_denied ||
  fail "Python and smneo.resty compile differ"
admin DELETE faults >/dev/null || fail "clear the faults"
ops=$(s3_ops)
case "$ops" in
  *"AbortMultipartUpload=2"*"CreateMultipartUpload=2"*) case "$ops" in *Complete*) fail "completed: $ops" ;; esac ;;
  *) fail "upload_denied: S3 requests $ops" ;;
esac
echo "ok  upload_denied: both sides' multipart uploads aborted ($ops)"
# the worker answers other requests while one compiles (its work on the thread
# pool, its upload over cosockets): the archive is over the 64 MiB multipart
# threshold, so the upload is CreateMultipartUpload, two UploadParts and
# Complete, all as the transfer's steps (no WORK step ran it); the two parts'
# payload hashes are the transfer's work steps, run on the pool
# probe_while LOCATION EXPECTED: 20 probes answered while LOCATION (on the
# big model) runs; its answer is EXPECTED
probe_while() {
  curl -s --max-time 300 "$base/$1?model=$tmp/bigmodel" >"$tmp/big.out" &
  bigpid=$!
  i=0
  until [ "$(curl -s --max-time 20 "$base/probe")" = compiling ]; do
    i=$((i + 1)); [ $i -gt 200 ] && fail "/$1 did not start"; sleep 0.02
  done
  for k in $(seq 1 20); do
    p=$(curl -s --max-time 20 "$base/probe")
    [ "$p" = compiling ] || fail "probe $k answered '$p': not while /$1 ran"
  done
  wait "$bigpid"
  [ "$(cat "$tmp/big.out")" = "$2" ] || fail "/$1: got '$(cat "$tmp/big.out")'"
}
admin DELETE requests >/dev/null || fail "clear the requests"
probe_while compile_big "COMPLETED work=2 transfer=true upload=true hashes=2"
echo "ok  20 probes answered by the single worker while it compiled"
ops=$(s3_ops)
case "$ops" in
  *"CompleteMultipartUpload=1"*"CreateMultipartUpload=1"*"UploadPart=2"*) ;;
  *) fail "/compile_big: S3 requests $ops" ;;
esac
echo "ok  /compile_big: multipart upload as transfer steps over cosockets, its hashes on the pool ($ops)"
# a cancel during the upload (the callback's false at an UPLOAD event) aborts it
admin DELETE requests >/dev/null || fail "clear the requests"
out=$(curl -s --max-time 300 "$base/compile_big?model=$tmp/bigmodel&prefix=ngx-big-cancel&cancel=1")
[ "$out" = "Cancelled true transfer=true upload=true" ] || fail "/compile_big cancel: got '$out'"
ops=$(s3_ops)
case "$ops" in
  *"AbortMultipartUpload=1"*"CreateMultipartUpload=1"*) case "$ops" in *Complete*) fail "completed: $ops" ;; esac ;;
  *) fail "/compile_big cancel: S3 requests $ops" ;;
esac
echo "ok  /compile_big: a cancel during the upload aborts the multipart upload ($ops)"
probe_while compile_many_big COMPLETED
echo "ok  20 probes answered by the single worker while compile_many ran three jobs"

if grep -E '\[(error|crit|alert|emerg)\]' "$tmp/logs/error.log" >/dev/null; then
  fail "errors in error.log"
fi
echo "nginx test passed"
