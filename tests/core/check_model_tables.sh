#!/bin/sh
# Fails when a file generated from model/*.json (the core's tables, the
# Python methods, type_defs and stubs, the local endpoint's model copies and
# the docs' operation lists: tools/gen_model.py lists them) differs from a
# regeneration. Standard-library Python only.
set -eu
root=${1:-.}
py=$(command -v python3 || command -v /usr/bin/python3)
"$py" "$root/tools/gen_model.py" --root "$root" --model-dir "$root/model" --check
echo "model tables match a regeneration: 1 passed, 0 failed"
