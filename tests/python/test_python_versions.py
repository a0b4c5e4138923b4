"""tools/test-python-versions.sh, the smoke pass under the other CPythons:
a version that is absent is skipped with a line saying so (and fails
nothing); the main interpreter's version is left to the whole suite."""
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _build_dir():
    build = os.environ.get("SMNEO_BUILD_DIR") or os.path.join(ROOT, "build")
    if not os.path.exists(os.path.join(build, "libsmneo.a")):
        if "SMNEO_BUILD_DIR" in os.environ:
            pytest.fail("%s/libsmneo.a is missing: the CMake build did not produce it" % build)
        pytest.skip("build/libsmneo.a not built (make build)")
    return build


def test_absent_versions_are_skipped_saying_so():
    # the version tools/pick-python.sh picks: its whole suite runs elsewhere
    picked = subprocess.run(["sh", os.path.join(ROOT, "tools", "pick-python.sh")], capture_output=True, text=True,
                            check=True, cwd=ROOT).stdout.strip()
    main = subprocess.run([picked, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True,
                          text=True, check=True).stdout.strip()
    env = dict(os.environ, BUILD=_build_dir(), SMNEO_PYTHON_VERSIONS="2.9 %s" % main)
    r = subprocess.run(["sh", os.path.join(ROOT, "tools", "test-python-versions.sh")], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert "python 2.9: not installed (or no C headers): skipped" in lines
    assert any(line.startswith("python %s: the main interpreter" % main) for line in lines), lines
