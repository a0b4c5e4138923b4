#!/bin/sh
# Fails when core/src/diagnose_table.c or the catalogue list in
# docs/diagnosis.md differs from a regeneration of model/neo-failures.json
# (tools/gen_diagnosis.py, standard-library Python only).
set -eu
root=${1:-.}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
py=$(command -v python3 || command -v /usr/bin/python3)
"$py" "$root/tools/gen_diagnosis.py" "$root/model/neo-failures.json" "$tmp/diagnose_table.c" \
  "$tmp/diagnosis.md" "$root/docs/diagnosis.md"
rc=0
if ! cmp -s "$tmp/diagnose_table.c" "$root/core/src/diagnose_table.c"; then
  echo "core/src/diagnose_table.c is stale: run tools/gen_diagnosis.py" >&2
  diff -u "$root/core/src/diagnose_table.c" "$tmp/diagnose_table.c" | head -40 >&2
  rc=1
fi
if ! cmp -s "$tmp/diagnosis.md" "$root/docs/diagnosis.md"; then
  echo "docs/diagnosis.md's catalogue list is stale: run tools/gen_diagnosis.py" >&2
  diff -u "$root/docs/diagnosis.md" "$tmp/diagnosis.md" | head -40 >&2
  rc=1
fi
[ $rc -eq 0 ] && echo "diagnosis tables match a regeneration: 1 passed, 0 failed"
exit $rc
