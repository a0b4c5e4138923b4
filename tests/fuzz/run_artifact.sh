#!/bin/sh
# Builds and runs the libFuzzer target for the artifact reader (inspect and
# safe extract of arbitrary bytes).
#   tests/fuzz/run_artifact.sh [seconds] [workdir]   (default: 20 s, build/fuzz-artifact)
# Exits 77 (ctest: skipped) when clang with libFuzzer is not available.
# Seeds are generated here (tar, gzip, python3 tarfile): no binaries in git.
set -eu
cd "$(dirname "$0")/../.."
SECONDS_TO_RUN=${1:-20}
WORK=${2:-build/fuzz-artifact}
CLANG=${CLANG:-}
if [ -z "$CLANG" ]; then
  for c in clang clang-17 clang-16 clang-15 clang-14; do
    if command -v "$c" >/dev/null 2>&1; then CLANG=$c; break; fi
  done
fi
if [ -z "$CLANG" ]; then
  echo "fuzz_artifact: clang not found, skipped"; exit 77
fi
mkdir -p "$WORK/corpus"
WORK=$(cd "$WORK" && pwd)
BIN="$WORK/fuzz_artifact"
SRCS="tests/fuzz/fuzz_artifact.c core/src/artifact_digest.c core/src/artifact_extract.c core/src/artifact_gzip.c
      core/src/artifact_inspect.c core/src/artifact_pack.c core/src/artifact_read.c core/src/issues.c core/src/util.c core/src/http.c core/src/error.c core/src/options.c
      core/src/validate_text.c core/src/json.c"
need_build=0
[ -x "$BIN" ] || need_build=1
for s in $SRCS core/src/artifact_internal.h core/include/smneo/artifact.h; do
  [ "$need_build" = 1 ] || [ -z "$(find "$s" -newer "$BIN")" ] || need_build=1
done
if [ "$need_build" = 1 ]; then
  echo "fuzz_artifact: building $BIN with $CLANG"
  # shellcheck disable=SC2086,SC2046
  if ! "$CLANG" -g -O1 -std=c11 -D_GNU_SOURCE -DSMNEO_BUILDING \
      -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
      -Icore/include -Icore/src $SRCS -o "$BIN" \
      $(pkg-config --cflags --libs libcjson libcrypto zlib libarchive libb2 libdeflate) -lpthread -lm \
      2>"$WORK/build.log"; then
    if grep -q "fuzzer" "$WORK/build.log" && ! "$CLANG" -fsanitize=fuzzer -x c /dev/null -o /dev/null 2>/dev/null; then
      echo "fuzz_artifact: $CLANG has no libFuzzer runtime, skipped"; exit 77
    fi
    cat "$WORK/build.log" >&2; exit 1
  fi
fi
if [ -z "$(ls -A "$WORK/corpus" 2>/dev/null)" ]; then
  S=$(mktemp -d)
  mkdir -p "$S/m/code" && printf 'hello' >"$S/m/a.txt" && printf 'x=1\n' >"$S/m/code/i.py"
  printf '\211HDF\r\n\032\n' >"$S/m/model.h5" && ln -s a.txt "$S/m/l"
  # byte 0 of each seed selects the framework
  { printf '\001'; tar -C "$S/m" -czf - .; } >"$WORK/corpus/seed-targz"
  { printf '\003'; tar -C "$S/m" -cf - .; } >"$WORK/corpus/seed-tar"
  { printf '\002'; tar -C "$S/m" -cf - . | gzip -1 | head -c 150; } >"$WORK/corpus/seed-trunc"
  if command -v python3 >/dev/null 2>&1; then
    python3 - "$WORK/corpus/seed-evil" <<'PY'
import io, sys, tarfile
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as t:
    for name, kind, target in [("../up", tarfile.REGTYPE, ""), ("l", tarfile.SYMTYPE, "/etc"),
                               ("h", tarfile.LNKTYPE, "../x"), ("p", tarfile.FIFOTYPE, ""),
                               ("d/" + "n" * 150, tarfile.REGTYPE, "")]:
        ti = tarfile.TarInfo(name); ti.type = kind; ti.linkname = target
        data = b"abc" if kind == tarfile.REGTYPE else b""
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
open(sys.argv[1], "wb").write(b"\x05" + buf.getvalue())
PY
  fi
  rm -rf "$S"
fi
echo "fuzz_artifact: running $BIN for ${SECONDS_TO_RUN}s"
cd "$WORK"
exec ./fuzz_artifact -max_total_time="$SECONDS_TO_RUN" -max_len=65536 -timeout=20 -rss_limit_mb=2048 \
  -print_final_stats=1 corpus
