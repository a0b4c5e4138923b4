#!/bin/sh
# Packing and digest throughput of smneo's artifact code against peers, in the
# same run on the same generated data:
#   pack   vs  tar -czf            (ratio of throughput, and of output size)
#   pack   vs  tar -cf - | pigz -p 2 -6
#   digest vs  b2sum
# Usage: [ROUNDS=3] [LEVEL=6] [THREADS=2] bench/bench_artifact.sh [BUILD_DIR] [SIZE_MB]
#   BUILD_DIR  a CMake build directory holding libsmneo.a (default: build)
#   SIZE_MB    size of the generated model directory (default: 200)
# Needs cc, tar, gzip, pigz, b2sum. Uses a temporary directory (removed).
set -eu
cd "$(dirname "$0")/.."
BUILD=${1:-build}
SIZE_MB=${2:-200}
LEVEL=${LEVEL:-6}
THREADS=${THREADS:-2}
for t in cc tar gzip pigz b2sum pkg-config bc /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "bench_artifact: $t is required" >&2; exit 2; }
done
[ -f "$BUILD/libsmneo.a" ] || { echo "bench_artifact: $BUILD/libsmneo.a not found: build first (cmake --build $BUILD --target smneo_static)" >&2; exit 2; }

W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT INT TERM

# Data generator: float32 weights drawn from N(0, 0.02) (what trained weights
# look like to a compressor), some float16 and int8 tensors, text configs.
cat >"$W/gen.c" <<'C'
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static uint64_t s = 0x9E3779B97F4A7C15ull;
static double u(void) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return ((s >> 11) + 0.5) / 9007199254740992.0; }
static double g(void) { return sqrt(-2 * log(u())) * cos(6.283185307179586 * u()); }
int main(int argc, char **argv) {
    const char *dir = argv[1];
    long long total = atoll(argv[2]) << 20, done = 0;
    char path[4096];
    int i = 0;
    while (done < total) {
        long long n = total - done > (48ll << 20) ? (48ll << 20) : total - done;
        int kind = i % 4;
        snprintf(path, sizeof path, "%s/%s%d.%s", dir, kind == 3 ? "quant/" : "layer", i, kind == 3 ? "int8" : "bin");
        FILE *f = fopen(path, "wb");
        if (!f) { perror(path); return 1; }
        for (long long k = 0; k < n;) {
            if (kind == 0 || kind == 1) { float v = (float)(g() * 0.02); fwrite(&v, 4, 1, f); k += 4; }
            else if (kind == 2) { float v = (float)(g() * 0.05); uint32_t b; memcpy(&b, &v, 4); uint16_t h = (uint16_t)(b >> 16); fwrite(&h, 2, 1, f); k += 2; }
            else { int q = (int)lround(g() * 20); if (q > 127) q = 127; if (q < -127) q = -127; signed char c = (signed char)q; fwrite(&c, 1, 1, f); k += 1; }
        }
        fclose(f);
        done += n;
        i++;
    }
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    for (int k = 0; k < 2000; k++) fprintf(f, "{\"layer\": %d, \"activation\": \"relu\", \"units\": %d},\n", k, 64 + k % 512);
    fclose(f);
    return 0;
}
C
cat >"$W/tool.c" <<'C'
#include "smneo.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
    smneo_error e = SMNEO_ERROR_INIT;
    if (argc >= 5 && strcmp(argv[1], "pack") == 0) {
        smneo_pack_options o = SMNEO_PACK_OPTIONS_INIT;
        o.threads = atoi(argv[4]);
        o.compress_level = argc > 5 ? atoi(argv[5]) : 6;
        smneo_artifact_pack_result *r = NULL;
        if (smneo_artifact_pack(&r, argv[2], argv[3], &o, &e)) { fprintf(stderr, "%s\n", e.message); return 1; }
        printf("%s\n", smneo_artifact_pack_result_digest(r));
        smneo_artifact_pack_result_free(r);
        return 0;
    }
    if (argc >= 3 && strcmp(argv[1], "digest") == 0) {
        char *hex = NULL;
        if (smneo_artifact_digest(&hex, argv[2], argc > 3 ? argv[3] : NULL, NULL, &e)) { fprintf(stderr, "%s\n", e.message); return 1; }
        printf("%s\n", hex);
        free(hex);
        return 0;
    }
    fprintf(stderr, "usage: tool pack SRC DEST THREADS [LEVEL] | tool digest FILE [ALG]\n");
    return 2;
}
C
cc -O2 -o "$W/gen" "$W/gen.c" -lm
# shellcheck disable=SC2046
cc -O2 -Icore/include -o "$W/tool" "$W/tool.c" "$BUILD/libsmneo.a" \
  $(pkg-config --libs libcurl libcjson libcrypto zlib libarchive libpcre2-8 libb2 libdeflate) -lpthread -lm

mkdir -p "$W/model/quant"
"$W/gen" "$W/model" "$SIZE_MB"
IN=$(du -sb "$W/model" | cut -f1)
sync

# run_timed NAME CMD...: runs once; keeps the best wall time in $W/NAME.wall and
# the CPU seconds (user+sys, children included) of that run in $W/NAME.cpu.
run_timed() {
  name=$1; shift
  /usr/bin/time -f "%e %U %S" -o "$W/t" "$@" >/dev/null
  read -r wall u s <"$W/t"
  if [ ! -f "$W/$name.wall" ] || [ "$(echo "$wall < $(cat "$W/$name.wall")" | bc -l)" = 1 ]; then
    echo "$wall" >"$W/$name.wall"
    echo "$u + $s" | bc -l >"$W/$name.cpu"
  fi
}
# The machine may be shared: the contenders run in turn, ROUNDS times, and
# each keeps its best round, so a burst of outside load hits all of them.
ROUNDS=${ROUNDS:-3}
r=0
while [ "$r" -lt "$ROUNDS" ]; do
  run_timed tar sh -c "tar -C '$W' -cf - model | gzip -$LEVEL >'$W/tar.tar.gz'"
  run_timed pigz sh -c "tar -C '$W' -cf - model | pigz -p 2 -$LEVEL >'$W/pigz.tar.gz'"
  run_timed ours "$W/tool" pack "$W/model" "$W/ours.tar.gz" "$THREADS" "$LEVEL"
  r=$((r + 1))
done
T_TAR=$(cat "$W/tar.wall")
T_PIGZ=$(cat "$W/pigz.wall")
T_OURS=$(cat "$W/ours.wall")
S_TAR=$(stat -c %s "$W/tar.tar.gz")
S_PIGZ=$(stat -c %s "$W/pigz.tar.gz")
S_OURS=$(stat -c %s "$W/ours.tar.gz")
gzip -t "$W/ours.tar.gz"

# Digest: the archive (about 180 MB), hot in the page cache.
cat "$W/ours.tar.gz" >/dev/null
r=0
while [ "$r" -lt "$ROUNDS" ]; do
  run_timed digest "$W/tool" digest "$W/ours.tar.gz"
  run_timed b2sum b2sum "$W/ours.tar.gz"
  r=$((r + 1))
done
T_DG=$(cat "$W/digest.wall")
T_B2B=$(cat "$W/b2sum.wall")
[ "$("$W/tool" digest "$W/ours.tar.gz")" = "$(b2sum "$W/ours.tar.gz" | cut -d' ' -f1)" ] || { echo "digest differs from b2sum" >&2; exit 1; }

mb() { echo "scale=1; $IN / 1048576 / $1" | bc -l; }
cpu() { cat "$W/$1.cpu"; }
printf 'input: %s bytes (%s files), level %s, %s threads, %s CPUs, load %s\n' "$IN" "$(find "$W/model" -type f | wc -l)" \
  "$LEVEL" "$THREADS" "$(nproc)" "$(cut -d' ' -f1 /proc/loadavg)"
printf '%-30s %7.2f s %7s MB/s  cpu %6.2f s  size %s\n' "tar -cf - | gzip (= tar -czf)" "$T_TAR" "$(mb "$T_TAR")" "$(cpu tar)" "$S_TAR"
printf '%-30s %7.2f s %7s MB/s  cpu %6.2f s  size %s\n' "tar -cf - | pigz -p 2" "$T_PIGZ" "$(mb "$T_PIGZ")" "$(cpu pigz)" "$S_PIGZ"
printf '%-30s %7.2f s %7s MB/s  cpu %6.2f s  size %s\n' "smneo pack (+BLAKE2b-512)" "$T_OURS" "$(mb "$T_OURS")" "$(cpu ours)" "$S_OURS"
A=$(stat -c %s "$W/ours.tar.gz")
printf '%-30s %7.3f s %7s MB/s  cpu %6.2f s\n' "b2sum (archive)" "$T_B2B" "$(echo "scale=1; $A / 1048576 / $T_B2B" | bc -l)" "$(cpu b2sum)"
printf '%-30s %7.3f s %7s MB/s  cpu %6.2f s\n' "smneo digest (archive)" "$T_DG" "$(echo "scale=1; $A / 1048576 / $T_DG" | bc -l)" "$(cpu digest)"
echo "ratios (throughput: higher is better; size: ours/theirs):"
printf '  pack throughput vs tar -czf:        %s\n' "$(echo "scale=2; $T_TAR / $T_OURS" | bc -l)"
printf '  pack throughput vs tar | pigz -p 2: %s\n' "$(echo "scale=2; $T_PIGZ / $T_OURS" | bc -l)"
printf '  pigz throughput vs tar -czf:        %s\n' "$(echo "scale=2; $T_TAR / $T_PIGZ" | bc -l)"
printf '  pack cpu vs tar | pigz -p 2:        %s\n' "$(echo "scale=2; $(cpu ours) / $(cpu pigz)" | bc -l)"
printf '  pack size vs tar -czf:              %s\n' "$(echo "scale=4; $S_OURS / $S_TAR" | bc -l)"
printf '  digest throughput vs b2sum:         %s\n' "$(echo "scale=2; $T_B2B / $T_DG" | bc -l)"
