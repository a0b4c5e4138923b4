"""Run pytest with this interpreter; borrow Debian's pytest when it lacks one.

Debian's dist-packages is appended AFTER site-packages (never before: its
older botocore would shadow ours).  Exit code 5 (no tests collected) counts
as a failure only under CI=true."""
import os
import signal
import sys

# Started as a background job of a non-interactive shell (tools/test-python-versions.sh
# runs two interpreters side by side), SIGINT arrives ignored and Python keeps it
# ignored: restore Python's own handler, which the Ctrl-C tests rely on.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

try:
    import pytest
except ImportError:
    sys.path.append("/usr/lib/python3/dist-packages")
    import pytest

code = pytest.main(sys.argv[1:])
if code == 5 and os.environ.get("CI") != "true":
    code = 0
sys.exit(code)
