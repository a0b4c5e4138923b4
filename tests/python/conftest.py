"""Shared pytest setup for tests/python: make python/ importable (or
$SMNEO_PYTHON_DIR: a package built for another interpreter by
tools/test-python-versions.sh).

Suite-specific fixtures live in their own modules (local_fixtures.py for the
smneo.local tests) and are imported by the test files that use them."""
import os
import sys

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_PY = os.environ.get("SMNEO_PYTHON_DIR") or os.path.join(_ROOT, "python")
if _PY not in sys.path:
    sys.path.insert(0, _PY)
_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
