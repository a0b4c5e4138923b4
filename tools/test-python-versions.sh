#!/bin/sh
# A smoke pass of the Python binding under every CPython from 3.8 to 3.13 this
# machine has (pyenv's versions, or pythonX.Y on PATH): for each, build the
# extension in its own directory ($BUILD/python-X.Y; the in-place build of the
# main interpreter is left alone) and run the core of the Python suite with it.
# Versions that are absent, or lack their C headers, are skipped, saying so.
# The main interpreter's version (tools/pick-python.sh) runs the whole suite
# in tools/run-tests.sh and is not repeated here.
#
# The extension links the core CMake already built ($BUILD/libsmneo.a, see
# setup.py's SMNEO_CORE_LIB), so each interpreter compiles only the binding.
# Interpreters without setuptools (3.12+) or pytest borrow Debian's, appended
# after their own site-packages (tests/python/run_pytest.py).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
VERSIONS=${SMNEO_PYTHON_VERSIONS:-"3.8 3.9 3.10 3.11 3.12 3.13"}
SMOKE="tests/python/test_build_parse.py tests/python/test_validate_py.py tests/python/test_client.py
  tests/python/test_artifact_binding.py tests/python/test_compile_py.py tests/python/test_threads.py
  tests/python/test_version.py::test_python_package tests/python/test_lazy_load.py"
# the slowest few (seconds each under load; TLS is libcurl's, the same for every
# interpreter), covered by the main interpreter's run
SMOKE_SKIP="gil_is_released_while_hashing or gzip_bomb or tls_"
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "python versions: no build directory $BUILD (make build first)" >&2; exit 1; }
CORE=$BUILD/libsmneo.a
if [ ! -f "$CORE" ]; then
  echo "python versions: $CORE is missing (make build first)" >&2
  exit 1
fi
MAIN=$("$(sh tools/pick-python.sh)" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

# The interpreter for version $1 with its C headers, or nothing.
find_python() {
  for py in $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$1".*/bin/python"$1" 2>/dev/null | sort -V -r) \
            "$(command -v "python$1" 2>/dev/null)"; do
    [ -n "$py" ] && [ -x "$py" ] || continue
    if "$py" -c 'import os, sys, sysconfig
want = tuple(int(x) for x in sys.argv[1].split("."))
h = os.path.join(sysconfig.get_paths()["include"], "Python.h")
sys.exit(0 if sys.version_info[:2] == want and os.path.exists(h) else 1)' "$1" 2>/dev/null; then
      echo "$py"
      return
    fi
  done
}

# smoke_one VERSION INTERPRETER: build (when a source is newer than the built
# extension) and run the smoke set; everything it prints goes to stdout.
smoke_one() {
  v=$1 py=$2 dir=$BUILD/python-$1
  echo "python $v: $py, build in $dir"
  so=$(ls "$dir"/lib/smneo/_smneo*.so 2>/dev/null | head -1)
  if [ -z "$so" ] || [ -n "$(find python/smneo core/include setup.py "$CORE" -newer "$so" -type f \
                              ! -name '*.so' ! -name '*.pyc' 2>/dev/null | head -1)" ]; then
    # setup.py under this interpreter; Debian's setuptools when it has none
    if ! SMNEO_CORE_LIB=$CORE "$py" -c 'import runpy, sys
try:
    import setuptools  # noqa: F401
except ImportError:
    sys.path.append("/usr/lib/python3/dist-packages")
sys.argv = ["setup.py"] + sys.argv[1:]
runpy.run_path("setup.py", run_name="__main__")' -q build --build-base "$dir" --build-lib "$dir/lib" \
          --build-temp "$dir/temp" >"$dir.log" 2>&1; then
      cat "$dir.log"
      echo "python $v: the extension does not build"
      return 1
    fi
    # a compiler warning here is a C API this version lacks or deprecates: fix it in _compat.h
    if grep -q ": warning: " "$dir.log"; then
      grep ": warning: " "$dir.log" | head -20
      echo "python $v: the extension builds with warnings"
      rm -f "$dir"/lib/smneo/_smneo*.so # so that the next run compiles (and warns) again
      return 1
    fi
  fi
  # (pytest borrowed from Debian warns about its own use of ast on 3.12+: not ours)
  # shellcheck disable=SC2086
  # (these interpreters have no botocore: the main interpreter's run checks parity)
  if ! SMNEO_BOTOCORE_OPTIONAL=1 SMNEO_PYTHON_DIR=$dir/lib "$py" tests/python/run_pytest.py -q -p no:cacheprovider \
       -W "ignore::DeprecationWarning:_pytest.assertion.rewrite" -k "not ($SMOKE_SKIP)" $SMOKE; then
    echo "python $v: the smoke pass failed"
    return 1
  fi
}

# The versions present, in two lanes that run side by side (the smoke tests
# mostly wait on sockets); each version's output is printed once it is done.
lane0="" lane1="" n=0 present=""
for v in $VERSIONS; do
  if [ "$v" = "$MAIN" ]; then
    echo "python $v: the main interpreter, whose whole suite runs in tools/run-tests.sh"
    continue
  fi
  py=$(find_python "$v")
  if [ -z "$py" ]; then
    echo "python $v: not installed (or no C headers): skipped"
    continue
  fi
  present="$present $v"
  rm -f "$BUILD/python-$v.out" "$BUILD/python-$v.failed"
  if [ $((n % 2)) -eq 0 ]; then lane0="$lane0 $v=$py"; else lane1="$lane1 $v=$py"; fi
  n=$((n + 1))
done
run_lane() {
  for vp in "$@"; do
    smoke_one "${vp%%=*}" "${vp#*=}" >"$BUILD/python-${vp%%=*}.out" 2>&1 || : >"$BUILD/python-${vp%%=*}.failed"
  done
}
# shellcheck disable=SC2086
run_lane $lane0 &
pid0=$!
# shellcheck disable=SC2086
run_lane $lane1
wait $pid0
status=0
for v in $present; do
  cat "$BUILD/python-$v.out"
  [ -e "$BUILD/python-$v.failed" ] && status=1
done
exit $status
