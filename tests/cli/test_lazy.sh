#!/bin/sh
# shellcheck disable=SC2015  # `check && ok || fail`: ok never fails
# tests/cli/test_lazy.sh SMNEO BUILD: the CLI loads libcurl and libarchive on
# first use (cli/lazy.c, core/lazy/lazy_deps.c; docs/architecture.md, "Lazy
# loading"). What the dynamic loader loads is read from LD_DEBUG=files: help,
# digest, verify, validate and explain of a description load neither
# library; inspect loads libarchive only, a request libcurl only. Then the
# CLI as `cmake --install` lays it out (BUILD installed into a temporary
# prefix) finds its plugins in <libdir>/smneo; without smneo-curl.so a
# request fails with an error naming the plugin (exit 1, an installation
# fault), and digest still works. Run from the repository root:
#   sh tests/cli/test_lazy.sh build/smneo build
# shellcheck disable=SC2034  # NAME: read by lib.sh
NAME=test_lazy
# shellcheck source=tests/cli/lib.sh
. "$(dirname "$0")/lib.sh"
BUILD=${2:-$(dirname "$SMNEO")}
static_keys

# the libraries among those the dynamic loader opened for the last `run`, e.g. "archive curl"
loaded() {
  sed -n 's/.*file=lib\(curl\|archive\)\.so.*/\1/p' "$WORK/$1.err" | sort -u | tr '\n' ' ' | sed 's/ $//'
}
libs() {
  got=$(loaded "$1")
  [ "$got" = "$2" ] && ok || fail "$1: loaded \"$got\", expected \"$2\""
}
# a port nothing listens on
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

mkdir -p "$WORK/model"
printf 'weights' >"$WORK/model/model.pt"
run pack 0 --quiet pack "$WORK/model" "$WORK/model.tar.gz"
B2=$(b2sum "$WORK/model.tar.gz" | cut -d' ' -f1)
printf '{"CompilationJobName":"j","CompilationJobStatus":"FAILED","FailureReason":"ClientError: InputConfiguration: No such file"}' >"$WORK/desc.json"

smneo_cmd() { LD_DEBUG=files "$SMNEO" "$@"; }
run help 0 --help
libs help ""
run digest 0 digest "$WORK/model.tar.gz"
libs digest ""
has digest out "$B2  $WORK/model.tar.gz"
run verify 0 verify "$WORK/model.tar.gz" "$B2"
libs verify ""
run validate 0 validate --job-name v1 --role arn:aws:iam::123456789012:role/neo \
  --model-s3-uri s3://b/m.tar.gz --framework PYTORCH --input-shape '{"input0":[1,3,224,224]}' --target ml_c5 \
  --output-s3-uri s3://b/out
libs validate ""
run explain 0 --output json explain --description-json "$WORK/desc.json"
libs explain ""
# the other side: each library is loaded when needed, and only then
run inspect 0 inspect "$WORK/model.tar.gz"
libs inspect "archive"
has inspect out "model.pt"
run describe 6 --endpoint-url "http://127.0.0.1:$PORT" describe j
libs describe "curl"
has describe err "127.0.0.1:$PORT"

# ---- installed: the plugins in <libdir>/smneo, found from <bindir>/smneo ----------------------
if cmake --install "$BUILD" --prefix "$WORK/prefix" >"$WORK/install.log" 2>&1; then ok; else
  fail "cmake --install $BUILD failed"; sed 's/^/    /' "$WORK/install.log" | tail -20
fi
plugin=$(find "$WORK/prefix" -name smneo-curl.so | head -1)
case "$plugin" in */smneo/smneo-curl.so) ok ;; *) fail "no <libdir>/smneo/smneo-curl.so installed: \"$plugin\"" ;; esac
SMNEO=$WORK/prefix/bin/smneo
smneo_cmd() { LD_DEBUG=files "$SMNEO" "$@"; }
run installed_inspect 0 inspect "$WORK/model.tar.gz"
libs installed_inspect "archive"
run installed_describe 6 --endpoint-url "http://127.0.0.1:$PORT" describe j
libs installed_describe "curl"
has installed_describe err "127.0.0.1:$PORT"

smneo_cmd() { "$SMNEO" "$@"; }
rm -f "$plugin"
run no_plugin_describe 1 --endpoint-url "http://127.0.0.1:$PORT" describe j
has no_plugin_describe err "smneo-curl.so"
has no_plugin_describe err "reinstall smneo"
run no_plugin_digest 0 digest "$WORK/model.tar.gz"
has no_plugin_digest out "$B2"
finish
