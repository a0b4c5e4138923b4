"""Run pytest with this interpreter; borrow Debian's pytest when it lacks one.

Debian's dist-packages is appended AFTER site-packages (never before: its
older botocore would shadow ours).  Exit code 5 (no tests collected) counts
as a failure only under CI=true."""
import os
import sys

try:
    import pytest
except ImportError:
    sys.path.append("/usr/lib/python3/dist-packages")
    import pytest

code = pytest.main(sys.argv[1:])
if code == 5 and os.environ.get("CI") != "true":
    code = 0
sys.exit(code)
