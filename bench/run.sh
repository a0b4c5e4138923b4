#!/bin/sh
# `make bench` / `make bench-smoke`: builds what the benchmarks need (the CLI,
# the C benchmark programs, the Python extension in place), then runs
# bench/bench.py with the project's Python (tools/pick-python.sh), passing
# the arguments on (--smoke, --only NAMES, --record).
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PY=$(sh tools/pick-python.sh)
cmake --build "$BUILD" -j "${JOBS:-2}" --target smneo_cli core_bench sign_bench describe_bench model_gen
"$PY" setup.py -q build_ext --inplace
exec "$PY" bench/bench.py --build "$BUILD" "$@"
