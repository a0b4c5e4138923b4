#!/bin/sh
# Builds and runs the libFuzzer target for the validator's parsers.
#   tests/fuzz/run.sh [seconds] [workdir]     (default: 20 s, build/fuzz)
# e.g. `tests/fuzz/run.sh 600` for a longer run. Exits 77 (ctest: skipped)
# when clang with libFuzzer is not available. Crashes are written to the
# workdir as crash-* files; re-run one with `<workdir>/fuzz_validate crash-...`.
set -eu
cd "$(dirname "$0")/../.."
SECONDS_TO_RUN=${1:-20}
WORK=${2:-build/fuzz}
CLANG=${CLANG:-}
if [ -z "$CLANG" ]; then
  for c in clang clang-17 clang-16 clang-15 clang-14; do
    if command -v "$c" >/dev/null 2>&1; then CLANG=$c; break; fi
  done
fi
if [ -z "$CLANG" ]; then
  echo "fuzz: clang not found, skipped"; exit 77
fi
mkdir -p "$WORK/corpus"
BIN="$WORK/fuzz_validate"
# The whole core: the validator reaches into other modules (timestamps, JSON
# helpers), and a hand-kept list breaks whenever that changes.
SRCS="tests/fuzz/fuzz_validate.c $(ls core/src/*.c | tr '\n' ' ')"
need_build=0
[ -x "$BIN" ] || need_build=1
for s in $SRCS core/src/*.h; do
  [ "$need_build" = 1 ] || [ -z "$(find "$s" -newer "$BIN")" ] || need_build=1
done
if [ "$need_build" = 1 ]; then
  echo "fuzz: building $BIN with $CLANG"
  # shellcheck disable=SC2086,SC2046 # word splitting of the source list and pkg-config flags is wanted
  if ! "$CLANG" -g -O1 -std=c11 -D_GNU_SOURCE -DSMNEO_BUILDING \
      -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
      -Icore/include -Icore/src $SRCS -o "$BIN" \
      $(pkg-config --cflags --libs libcjson libpcre2-8 libcrypto libcurl zlib libarchive libb2 libdeflate) -lpthread -lm \
      2>"$WORK/build.log"; then
    if grep -q "fuzzer" "$WORK/build.log" && ! "$CLANG" -fsanitize=fuzzer -x c /dev/null -o /dev/null 2>/dev/null; then
      echo "fuzz: $CLANG has no libFuzzer runtime, skipped"; exit 77
    fi
    cat "$WORK/build.log" >&2; exit 1
  fi
fi
# Seeds: every DataInputConfig / CompilerOptions / params of the shared cases.
if command -v python3 >/dev/null 2>&1 && [ -z "$(ls -A "$WORK/corpus" 2>/dev/null)" ]; then
  python3 - "$WORK/corpus" <<'PY'
import json, os, sys
out = sys.argv[1]
cases = json.load(open("tests/fixtures/validation/cases.json", encoding="utf-8"))
n = 0
def seed(mode, text):
    global n
    with open(os.path.join(out, "seed-%04d" % n), "wb") as f:
        f.write(bytes([mode, n % 9, n % 256]) + text.encode("utf-8"))
    n += 1
for c in cases:
    p = c.get("params")
    if not isinstance(p, dict):
        continue
    ic, oc = p.get("InputConfig"), p.get("OutputConfig")
    if isinstance(ic, dict) and isinstance(ic.get("DataInputConfig"), str):
        seed(0, ic["DataInputConfig"])
    if isinstance(oc, dict) and isinstance(oc.get("CompilerOptions"), str):
        seed(1 + n % 2, oc["CompilerOptions"])
    seed(3, json.dumps(p, ensure_ascii=False))
PY
fi
echo "fuzz: running $BIN for ${SECONDS_TO_RUN}s"
cd "$WORK"
exec ./fuzz_validate -max_total_time="$SECONDS_TO_RUN" -max_len=4096 -timeout=10 -rss_limit_mb=1024 \
  -print_final_stats=1 corpus
