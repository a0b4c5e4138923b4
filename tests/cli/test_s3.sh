#!/bin/sh
# shellcheck disable=SC2015  # `check && ok || fail`: ok never fails
# tests/cli/test_s3.sh SMNEO: `smneo s3 cp` against a local endpoint: a file
# to S3 and back (a prefix or a directory as the destination, content and
# metadata as boto3 reads them), --output json, progress lines on stderr
# (none with --quiet), and the exit codes: a missing object (the existing
# destination untouched) and a missing bucket (4, the S3 operation named),
# bad options (3), a missing local file (1), usage errors (2); Ctrl-C (130):
# a download interrupted leaves no file, a multipart upload is aborted; --recursive
# both ways (ListObjectsV2 page by page, a key leaving the destination refused); `smneo compile`
# without --bucket: the default bucket made, and refused (6) when another
# account owns it.
# Run from the repository root:
#   sh tests/cli/test_s3.sh build/smneo
# shellcheck disable=SC2034  # NAME: read by lib.sh
NAME=test_s3
# shellcheck source=tests/cli/lib.sh
. "$(dirname "$0")/lib.sh"
static_keys
smneo_cmd() { "$SMNEO" --endpoint-url "$URL" "$@"; }
start_local
"$PY" "$ROOT/examples/create_bucket.py" "$URL" data >/dev/null 2>&1 && ok || fail "create the bucket"

# a 3 MB file of varied bytes
"$PY" -c 'import sys; sys.stdout.buffer.write(bytes((i * 7 + i // 251) % 256 for i in range(3000000)))' \
  >"$WORK/model.bin"

# ---- up and back ----------------------------------------------------------------------------------
run up 0 s3 cp "$WORK/model.bin" s3://data/models/ --content-type application/gzip --metadata '{"stage":"prod"}'
has up out "upload: $WORK/model.bin to s3://data/models/model.bin"
has up err "upload model.bin: 100% (2.9 MiB of 2.9 MiB)"
"$PY" - "$URL" <<'PYEOF' && ok || fail "the object's content type and metadata as boto3 reads them"
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
h = s3.head_object(Bucket="data", Key="models/model.bin")
assert h["ContentType"] == "application/gzip", h["ContentType"]
assert h["Metadata"] == {"stage": "prod"}, h["Metadata"]
assert h["ContentLength"] == 3000000
PYEOF
mkdir "$WORK/dl"
run down 0 --quiet --output json s3 cp s3://data/models/model.bin "$WORK/dl"
has down out '"Destination": "'"$WORK/dl/model.bin"'"'
has down out '"Bytes": 3000000'
[ ! -s "$WORK/down.err" ] && ok || fail "--quiet: stderr is not empty"
cmp -s "$WORK/model.bin" "$WORK/dl/model.bin" && ok || fail "the downloaded file differs"
run down_named 0 --quiet s3 cp s3://data/models/model.bin "$WORK/dl/copy.bin"
cmp -s "$WORK/model.bin" "$WORK/dl/copy.bin" && ok || fail "the downloaded copy.bin differs"
[ "$(find "$WORK/dl" -mindepth 1 | wc -l)" -eq 2 ] && ok || fail "files other than model.bin and copy.bin in dl: $(ls -A "$WORK/dl")"

# ---- errors ---------------------------------------------------------------------------------------
echo "keep me" >"$WORK/dl/keep.bin"
run missing_key 4 --quiet s3 cp s3://data/no/such/key "$WORK/dl/keep.bin"
has missing_key err "s3 cp (HeadObject): object not found at s3://data/no/such/key (404)"
[ "$(cat "$WORK/dl/keep.bin")" = "keep me" ] && ok || fail "the existing destination was changed"
run missing_bucket 4 --quiet s3 cp "$WORK/model.bin" s3://no-such-bucket/k
has missing_bucket err "s3 cp (PutObject): bucket not found at s3://no-such-bucket/k (NoSuchBucket"
run bad_sse 3 --quiet s3 cp "$WORK/model.bin" s3://data/k --sse aes
has bad_sse err 'server_side_encryption "aes" is not valid'
run bad_metadata 2 --quiet s3 cp "$WORK/model.bin" s3://data/k --metadata '["x"]'
has bad_metadata err "--metadata must be a JSON object"
run no_file 1 --quiet s3 cp "$WORK/nothing.bin" s3://data/k
has no_file err "cannot open '$WORK/nothing.bin' for upload"
run both_local 2 s3 cp "$WORK/model.bin" "$WORK/other.bin"
has both_local err "one of SRC and DST must be an s3:// URI"
run dir_src 2 s3 cp "$WORK/dl" s3://data/k
has dir_src err "is a directory"
run down_flags 2 s3 cp s3://data/models/model.bin "$WORK/x" --content-type a/b
has down_flags err "apply to uploads only"
run no_cp 2 s3 ls
has no_cp err "usage: smneo s3 cp SRC DST"
run one_arg 2 s3 cp "$WORK/model.bin"

# ---- Ctrl-C: a partial download leaves no file, a multipart upload is aborted ---------------------
admin() { # METHOD PATH [JSON]: the local endpoint's admin API; prints the answer
  "$PY" - "$URL" "$1" "$2" "${3:-}" <<'PYEOF'
import sys, urllib.request
url, method, path, body = sys.argv[1:5]
req = urllib.request.Request(url + path, data=body.encode() if body else None, method=method)
print(urllib.request.urlopen(req, timeout=5).read().decode())
PYEOF
}
# seen OPERATION: the endpoint answered an S3 request of that operation since the record was cleared
seen() {
  admin GET "/_smneo/requests?service=s3" | "$PY" -c 'import json, sys
sys.exit(0 if any(r["operation"] == sys.argv[1] for r in json.load(sys.stdin)["requests"]) else 1)' "$1"
}
# interrupt NAME OPERATION|-TEXT smneo-args...: runs smneo in the background, sends SIGINT once the
# endpoint answered OPERATION (the request before the slowed one) or stderr shows TEXT, and expects
# exit 130
interrupt() {
  name=$1 after=$2
  shift 2
  "$SMNEO" --endpoint-url "$URL" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  pid=$!
  i=0
  case "$after" in
    -*) until grep -qF -- "${after#-}" "$WORK/$name.err" 2>/dev/null || [ $i -ge 300 ]; do sleep 0.05; i=$((i + 1)); done ;;
    *) until seen "$after" || [ $i -ge 300 ]; do sleep 0.05; i=$((i + 1)); done ;;
  esac
  sleep 0.3
  kill -INT $pid
  wait $pid
  got=$?
  [ $got -eq 130 ] && ok || { fail "$name: exit $got, expected 130"; sed 's/^/    stderr: /' "$WORK/$name.err" | tail -5; }
}
mkdir "$WORK/int"
admin DELETE /_smneo/requests >/dev/null
admin POST /_smneo/faults '{"kind": "slow", "target": "s3", "operation": "GET", "delay": 5, "count": 1}' >/dev/null
interrupt int_down HeadObject s3 cp s3://data/models/model.bin "$WORK/int/"
has int_down err "s3 cp: interrupted (nothing was written)"
[ -z "$(ls -A "$WORK/int")" ] && ok || fail "int_down: files left behind: $(ls -A "$WORK/int")"
admin DELETE /_smneo/faults >/dev/null
# a 70 MiB file is above the 64 MiB multipart threshold: CreateMultipartUpload (the first POST) is
# slowed, Ctrl-C lands while it is answered, the parts then stop and the upload is aborted
truncate -s 70M "$WORK/big.bin"
admin DELETE /_smneo/requests >/dev/null
admin POST /_smneo/faults '{"kind": "slow", "target": "s3", "operation": "POST", "delay": 3, "count": 1}' >/dev/null
interrupt int_up "-upload big.bin:   0%" s3 cp "$WORK/big.bin" s3://data/int/big.bin
admin DELETE /_smneo/faults >/dev/null
has int_up err "s3 cp: interrupted"
seen CreateMultipartUpload && seen AbortMultipartUpload && ! seen CompleteMultipartUpload && ok ||
  fail "int_up: the multipart upload was not aborted"
"$PY" - "$URL" <<'PYEOF' && ok || fail "int_up: the object exists"
import sys, boto3, botocore
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
try:
    s3.head_object(Bucket="data", Key="int/big.bin")
    raise SystemExit("the object exists")
except botocore.exceptions.ClientError as e:
    assert e.response["Error"]["Code"] == "404"
PYEOF

# ---- --recursive: a directory to a prefix and back, ListObjectsV2 page by page ------------------
mkdir -p "$WORK/tree/sub/deep" "$WORK/tree/e"
echo one >"$WORK/tree/a.txt"
echo two >"$WORK/tree/sub/b.txt"
cp "$WORK/model.bin" "$WORK/tree/sub/deep/model.bin"
echo four >"$WORK/tree/e/d f.txt"
ln -s a.txt "$WORK/tree/link"
admin DELETE /_smneo/requests >/dev/null
run rec_up 0 s3 cp --recursive "$WORK/tree" s3://data/tree
has rec_up out "upload: $WORK/tree/sub/deep/model.bin to s3://data/tree/sub/deep/model.bin"
[ "$(grep -c '^upload: ' "$WORK/rec_up.out")" = 4 ] && ok || fail "rec_up: not 4 files uploaded (the link is not followed)"
run rec_down 0 --output json s3 cp --recursive s3://data/tree/ "$WORK/back" --page-size 2
rm "$WORK/tree/link"
diff -r "$WORK/tree" "$WORK/back" >/dev/null && ok || fail "rec_down: the tree differs: $(diff -r "$WORK/tree" "$WORK/back")"
"$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(0 if len(d["Files"]) == 4 and d["Files"][0]["Destination"].endswith("/back/a.txt") else 1)' \
  "$WORK/rec_down.out" && ok || fail "rec_down: --output json"
[ "$(admin GET "/_smneo/requests?service=s3" | "$PY" -c 'import json, sys; print(sum(r["operation"] == "ListObjectsV2" for r in json.load(sys.stdin)["requests"]))')" -ge 2 ] &&
  ok || fail "rec_down: 4 objects 2 a page read in fewer than 2 ListObjectsV2 pages"
# a key that would land outside the destination is refused
"$PY" - "$URL" <<'PYEOF' && ok || fail "put an object with .. in its key"
import sys, boto3
boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1").put_object(Bucket="data", Key="evil/../../x", Body=b"x")
PYEOF
run rec_evil 1 --quiet s3 cp --recursive s3://data/evil "$WORK/evil"
has rec_evil err "would be written outside"
[ ! -e "$WORK/x" ] && ok || fail "rec_evil: wrote outside the destination"
run rec_nobucket 4 --quiet s3 cp --recursive s3://no-such-bucket/p "$WORK/nob"
has rec_nobucket err "s3 cp --recursive (ListObjectsV2): bucket not found at s3://no-such-bucket/p/ (NoSuchBucket"
run rec_file 2 s3 cp --recursive "$WORK/model.bin" s3://data/x
has rec_file err "is not one"
run rec_page 2 s3 cp --recursive s3://data/tree "$WORK/back2" --page-size 0
has rec_page err "--page-size must be a number from 1 to 1000"
run page_alone 2 s3 cp s3://data/models/model.bin "$WORK/back3" --page-size 2
has page_alone err "--page-size applies to --recursive downloads only"

# ---- compile without --bucket: the default bucket sagemaker-REGION-ACCOUNT ------------------------
DEFAULT=sagemaker-us-east-1-123456789012
# shellcheck disable=SC2089  # the quotes are the JSON's, split as words on purpose
COMPILE="compile --model $ROOT/examples/model --framework PYTORCH --input-shape {\"input0\":[1,4]} --target ml_c5
  --role arn:aws:iam::123456789012:role/NeoRole --delay 0.05 --max-delay 0.2 --quiet"
admin DELETE /_smneo/requests >/dev/null
# shellcheck disable=SC2086,SC2090
run default_bucket 0 --output json $COMPILE --output-dir "$WORK/c1"
has default_bucket out "\"S3OutputLocation\": \"s3://$DEFAULT/smneo/"
# again, and two jobs at once: the bucket is created once
# shellcheck disable=SC2086,SC2090
run default_bucket2 0 $COMPILE --target ml_m5 --output-dir "$WORK/c1"
[ "$(admin GET "/_smneo/requests?service=s3" | "$PY" -c 'import json, sys; print(sum(r["operation"] == "CreateBucket" for r in json.load(sys.stdin)["requests"]))')" = 1 ] &&
  ok || fail "default_bucket: the default bucket was not created exactly once"
# a bucket of that name owned by another account: refused, nothing uploaded to it
"$PY" - "$URL" <<'PYEOF' && ok || fail "a bucket owned by account 999999999999 (through smneo.local's STS)"
import sys, boto3
url = sys.argv[1]
sts = boto3.client("sts", endpoint_url=url, region_name="eu-west-1")
c = sts.assume_role(RoleArn="arn:aws:iam::999999999999:role/Other", RoleSessionName="other")["Credentials"]
s3 = boto3.client("s3", endpoint_url=url, region_name="eu-west-1", aws_access_key_id=c["AccessKeyId"],
                  aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"])
s3.create_bucket(Bucket="sagemaker-eu-west-1-123456789012",
                 CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
PYEOF
# shellcheck disable=SC2086,SC2090
run foreign_bucket 6 --region eu-west-1 $COMPILE --output-dir "$WORK/c2"
has foreign_bucket err "the default bucket sagemaker-eu-west-1-123456789012 is not owned by account 123456789012"
[ ! -d "$WORK/c2" ] || [ -z "$(ls -A "$WORK/c2")" ] && ok || fail "foreign_bucket wrote output"

finish
