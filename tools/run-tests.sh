#!/bin/sh
# Runs the binding suites named as arguments: python-ext (only builds the
# in-place Python extension), python, python-versions (the
# smoke pass under the other CPython versions: tools/test-python-versions.sh), lua,
# rocks (luarocks make for Lua 5.4 and LuaJIT: tools/test-rocks.sh).
# Python: the interpreter from tools/pick-python.sh; when it lacks pytest,
# Debian's python3-pytest directory is appended AFTER its own site-packages
# (never before: Debian's botocore 1.29 would shadow the newer one).
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD
# tests/python/test_version.py compares the CMake build's artifacts with the package
SMNEO_BUILD_DIR=$(cd "$BUILD" && pwd)
export SMNEO_BUILD_DIR
status=0
for suite in "$@"; do
  case "$suite" in
  python)
    if [ -z "$(find tests/python -name 'test_*.py' 2>/dev/null | head -1)" ]; then
      echo "python: no test files yet"; continue
    fi
    PY=$(sh tools/pick-python.sh)
    echo "python suite with $PY"
    "$PY" setup.py -q build_ext --inplace
    "$PY" tests/python/run_pytest.py -q tests/python || status=1
    ;;
  python-ext)
    # the in-place extension the C suites' smneo.local imports the package with
    "$(sh tools/pick-python.sh)" setup.py -q build_ext --inplace
    ;;
  python-versions)
    sh tools/test-python-versions.sh || status=1
    ;;
  lua)
    if [ -z "$(find tests/lua -name '*_spec.lua' 2>/dev/null | head -1)" ]; then
      echo "lua: no spec files yet"; continue
    fi
    for lua in lua5.4 luajit; do
      echo "lua suite with $lua"
      dir=$BUILD/$lua
      [ "$lua" = lua5.4 ] || dir=$BUILD/luajit
      LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="$dir/?.so;;" \
        busted --lua="$lua" -o utfTerminal tests/lua || status=1
    done
    ;;
  rocks)
    # luarocks make of the rockspec for Lua 5.4 and LuaJIT into temporary trees, a smoke test from each
    sh tools/test-rocks.sh || status=1
    ;;
  *) echo "unknown suite $suite" >&2; status=2 ;;
  esac
done
exit $status
