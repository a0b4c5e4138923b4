#!/bin/sh
# Fails when core/src/model_tables.c differs from a regeneration of the
# committed model (tools/gen_model.py, standard-library Python only).
set -eu
root=${1:-.}
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
py=$(command -v python3 || command -v /usr/bin/python3)
"$py" "$root/tools/gen_model.py" "$root/model/sagemaker-neo.json" "$tmp"
if ! cmp -s "$tmp" "$root/core/src/model_tables.c"; then
  echo "core/src/model_tables.c is stale: run tools/gen_model.py" >&2
  diff -u "$root/core/src/model_tables.c" "$tmp" | head -40 >&2
  exit 1
fi
echo "model tables match a regeneration: 1 passed, 0 failed"
