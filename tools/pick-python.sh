#!/bin/sh
# Prints the Python interpreter the project's scripts use: the `python3` on
# PATH (the interpreter users import smneo into) when it has the C headers to
# build the extension, else Debian's /usr/bin/python3.
for py in python3 /usr/bin/python3; do
  if command -v "$py" >/dev/null 2>&1 &&
     "$py" -c 'import sysconfig, os, sys; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")) else 1)' 2>/dev/null; then
    command -v "$py"
    exit 0
  fi
done
echo "no python3 with development headers found" >&2
exit 1
