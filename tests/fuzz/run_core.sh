#!/bin/sh
# Builds and runs the libFuzzer targets for the core's parsers of untrusted
# input (tests/fuzz/fuzz_protocol.c, fuzz_config.c, fuzz_s3xml.c,
# fuzz_sigv4.c, fuzz_diagnose.c).
#   tests/fuzz/run_core.sh TARGET [seconds] [workdir]
#     TARGET: protocol | config | s3xml | sigv4 | diagnose | all   (default 20 s, build/fuzz-core)
# e.g. `tests/fuzz/run_core.sh protocol 600` for a longer run. The whole core
# is compiled once with clang (-fsanitize=fuzzer-no-link,address,undefined)
# into <workdir>/obj and shared by the targets. Exits 77 (ctest: skipped)
# when clang with libFuzzer is not available. Crashes land in the workdir as
# crash-*; re-run one with `<workdir>/fuzz_TARGET crash-...`.
set -eu
cd "$(dirname "$0")/../.."
TARGET=${1:-all}
SECONDS_TO_RUN=${2:-20}
WORK=${3:-build/fuzz-core}
CLANG=${CLANG:-}
if [ -z "$CLANG" ]; then
  for c in clang clang-17 clang-16 clang-15 clang-14; do
    if command -v "$c" >/dev/null 2>&1; then CLANG=$c; break; fi
  done
fi
if [ -z "$CLANG" ]; then
  echo "fuzz_core: clang not found, skipped"; exit 77
fi
if ! "$CLANG" -fsanitize=fuzzer -x c - -o /dev/null 2>/dev/null <<'EOF'
#include <stdint.h>
#include <stddef.h>
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }
EOF
then
  echo "fuzz_core: $CLANG has no libFuzzer runtime, skipped"; exit 77
fi
mkdir -p "$WORK/obj"
WORK=$(cd "$WORK" && pwd)
PKGS="libcjson libpcre2-8 libcrypto libcurl zlib libarchive libb2 libdeflate"
CFLAGS="-g -O1 -std=c11 -D_GNU_SOURCE -DSMNEO_BUILDING
        -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -Icore/include -Icore/src"
# shellcheck disable=SC2086
CFLAGS="$CFLAGS $(pkg-config --cflags $PKGS)"

# Object per core source, rebuilt when the source or any private header is newer.
newest_hdr=$(ls -t core/src/*.h core/include/smneo/*.h | head -n 1)
objs=""
for s in core/src/*.c; do
  o="$WORK/obj/$(basename "$s" .c).o"
  objs="$objs $o"
  if [ ! -f "$o" ] || [ "$s" -nt "$o" ] || [ "$newest_hdr" -nt "$o" ]; then
    echo "fuzz_core: compiling $s"
    # shellcheck disable=SC2086
    if ! "$CLANG" $CFLAGS -c "$s" -o "$o" 2>"$WORK/build.log"; then
      cat "$WORK/build.log" >&2; exit 1
    fi
  fi
done

build_target() { # name
  bin="$WORK/fuzz_$1"
  src="tests/fuzz/fuzz_$1.c"
  need=0
  [ -x "$bin" ] || need=1
  for f in $src $objs; do
    [ "$need" = 1 ] || [ ! "$f" -nt "$bin" ] || need=1
  done
  if [ "$need" = 1 ]; then
    echo "fuzz_core: linking $bin"
    # shellcheck disable=SC2086,SC2046
    if ! "$CLANG" $CFLAGS -fsanitize=fuzzer,address,undefined "$src" $objs -o "$bin" \
        $(pkg-config --libs $PKGS) -lpthread -lm 2>"$WORK/build.log"; then
      cat "$WORK/build.log" >&2; exit 1
    fi
  fi
}

seed_protocol() { # dir
  [ -z "$(ls -A "$1" 2>/dev/null)" ] || return 0
  command -v python3 >/dev/null 2>&1 || return 0
  python3 - "$1" <<'PY'
import glob, json, os, sys
out = sys.argv[1]
n = 0
def seed(mode, sel, hsel, data):
    global n
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(out, "seed-%04d" % n), "wb") as f:
        f.write(bytes([mode, sel, hsel]) + data)
    n += 1
# response bodies and params of the shared fixtures
for path in sorted(glob.glob("tests/fixtures/**/*.json", recursive=True)):
    try:
        doc = json.load(open(path, encoding="utf-8"))
    except Exception:
        continue
    stack = [doc]
    while stack and n < 400:
        d = stack.pop()
        if isinstance(d, dict):
            for k in ("body", "response", "params", "expected"):
                v = d.get(k)
                if isinstance(v, (dict, list)):
                    seed(0 if k != "params" else 2, n % 24, n % 16, json.dumps(v))
                elif isinstance(v, str) and v[:1] in "{[":
                    seed(0, n % 24, n % 16, v)
            stack.extend(d.values())
        elif isinstance(d, list):
            stack.extend(d)
seed(0, 6, 3, '{"__type":"com.amazon.coral#ResourceNotFound:http://x","message":"nope"}')
seed(0, 11, 2, 'ThrottlingException:extra')
seed(0, 0, 1, '{"CompilationJobName":"j","CreationTime":1700000000.5,"CompilationJobStatus":"COMPLETED"}')
page = {"CompilationJobSummaries": [{"CompilationJobName": "a", "CreationTime": 1.5,
        "CompilationJobStatus": "COMPLETED"}], "NextToken": "t2"}
seed(3, 0, 0, "\n" + json.dumps(page))
seed(3, 8, 0x31, "eyJOZXh0VG9rZW4iOiAidCIsICJib3RvX3RydW5jYXRlX2Ftb3VudCI6IDF9\n" + json.dumps(page))
seed(3, 0x40, 0x10, '{"NextToken": "t", "boto_truncate_amount": 1}\n' + json.dumps(page))
seed(4, 0, 0, '{"CompilationJobStatus":"INPROGRESS"}')
seed(4, 0, 0, '{"CompilationJobStatus":"FAILED","FailureReason":"bad"}')
seed(2, 0, 0, '{"CompilationJobName":"j","RoleArn":"arn:aws:iam::123456789012:role/r",'
              '"InputConfig":{"S3Uri":"s3://b/m.tar.gz","Framework":"PYTORCH",'
              '"DataInputConfig":"{\\"x\\":[1,3,224,224]}"},"OutputConfig":{"S3OutputLocation":"s3://b/o",'
              '"TargetDevice":"ml_c5"},"StoppingCondition":{"MaxRuntimeInSeconds":900},'
              '"Tags":[{"Key":"k","Value":"v"}]}')
seed(2, 2, 0, '{"CreationTimeAfter":"2024-01-31T12:00:00Z","MaxResults":10}')
PY
}

seed_config() { # dir
  [ -z "$(ls -A "$1" 2>/dev/null)" ] || return 0
  d=$1
  printf '\000\000\000[default]\naws_access_key_id = AKID\naws_secret_access_key = S\nregion=us-west-2\n[profile p]\ns3 =\n  addressing_style = path\n; c\n# c\n' >"$d/seed-ini"
  printf '\001\000\000{"AccessKeyId":"AKID","SecretAccessKey":"S","Token":"T","Expiration":"2099-01-01T00:00:00Z"}' >"$d/seed-container"
  printf '\002\000\000tok\377role\377{"Code":"Success","AccessKeyId":"AKID","SecretAccessKey":"S","Token":"T","Expiration":"2099-01-01T00:00:00Z"}' >"$d/seed-imds"
  printf '\003\000\000{"Version":1,"AccessKeyId":"AKID","SecretAccessKey":"S","SessionToken":"T","Expiration":"2099-01-01T00:00:00Z"}' >"$d/seed-process"
  printf '\004\000\000[default]\naws_access_key_id=A\naws_secret_access_key=S\n[profile p]\nsource_profile=default\nrole_arn=arn:aws:iam::1:role/r\n' >"$d/seed-files"
}

seed_s3xml() { # dir
  [ -z "$(ls -A "$1" 2>/dev/null)" ] || return 0
  printf '\000<?xml version="1.0"?><Error><Code>NoSuchKey</Code><Message>a &amp; b &#x41;&#65;&bogus;</Message><RequestId>R</RequestId></Error>' >"$1/seed-error"
  printf '\003<InitiateMultipartUploadResult xmlns="x"><UploadId>u-1</UploadId></InitiateMultipartUploadResult>' >"$1/seed-upload"
  printf '\377\004Code<Code/><Code attr="1">x</Code>' >"$1/seed-tag"
}

seed_sigv4() { # dir: cases shaped like the AWS signing test suite's
  [ -z "$(ls -A "$1" 2>/dev/null)" ] || return 0
  printf '\004https://example.amazonaws.com/\377Host:example.amazonaws.com\nMy-Header1:    value1\nMy-Header1:value2\377\377us-east-1\377service' >"$1/seed-dup"
  printf '\014https://example.amazonaws.com/example1/example2/../..\377\377\377us-east-1\377service' >"$1/seed-dots"
  printf '\004https://example.amazonaws.com/?Param2=value2&Param1=value1&%%E1%%88%%B4=x%%20y\377X-Amz-Date:x\377body\377' >"$1/seed-query"
  printf '\022http://[::1]:8080/a%%2Fb//c/./d?x\377Content-Type:a\n  b  c \377\377\377s3' >"$1/seed-s3"
}

seed_diagnose() { # dir: the diagnosis fixtures' reasons and logs
  [ -z "$(ls -A "$1" 2>/dev/null)" ] || return 0
  command -v python3 >/dev/null 2>&1 || return 0
  python3 - "$1" <<'PY'
import json, os, sys
fx = json.load(open("tests/fixtures/diagnosis/cases.json"))
for n, c in enumerate(fx["cases"]):
    desc = {"CompilationJobStatus": "FAILED", "FailureReason": c["reason"], "CompilationJobName": "j",
            "InputConfig": {"S3Uri": "s3://b/m.tar.gz", "Framework": c.get("framework", "PYTORCH")},
            "OutputConfig": {"S3OutputLocation": "s3://b/o", "TargetDevice": c.get("target", "ml_c5")}}
    with open(os.path.join(sys.argv[1], "seed-%03d" % n), "wb") as f:
        f.write((json.dumps(desc) + "\n" + "\n".join(c["log"])).encode())
PY
}

run_target() { # name
  build_target "$1"
  mkdir -p "$WORK/corpus-$1"
  "seed_$1" "$WORK/corpus-$1"
  echo "fuzz_core: running fuzz_$1 for ${SECONDS_TO_RUN}s"
  (cd "$WORK" && "./fuzz_$1" -max_total_time="$SECONDS_TO_RUN" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
     -print_final_stats=1 "corpus-$1")
}

case "$TARGET" in
  protocol|config|s3xml|sigv4|diagnose) run_target "$TARGET" ;;
  all) run_target protocol; run_target config; run_target s3xml; run_target sigv4; run_target diagnose ;;
  *) echo "usage: $0 protocol|config|s3xml|sigv4|diagnose|all [seconds] [workdir]" >&2; exit 2 ;;
esac
