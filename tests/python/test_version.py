"""One version, written once in core/include/smneo/version.h: every place that
shows it agrees (the Python package, the C library, the CLI, smneo.pc, the
SONAME, the man page, the Lua modules, setup.py's metadata).

The built artifacts come from the CMake build directory: $SMNEO_BUILD_DIR
(set by tools/run-tests.sh, and then they must exist) or ./build (skipped
when it has not been built)."""
import ctypes
import os
import re
import shutil
import subprocess
import sys

import pytest

import smneo

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def header_version():
    with open(os.path.join(ROOT, "core", "include", "smneo", "version.h"), encoding="utf-8") as f:
        text = f.read()
    nums = [re.search(r"^#define SMNEO_VERSION_%s +([0-9]+) *$" % p, text, re.M) for p in ("MAJOR", "MINOR", "PATCH")]
    assert all(nums), "version.h lost a SMNEO_VERSION_MAJOR/MINOR/PATCH line"
    return ".".join(m.group(1) for m in nums)


VERSION = header_version()


def build_file(*parts):
    required = "SMNEO_BUILD_DIR" in os.environ
    build = os.environ.get("SMNEO_BUILD_DIR") or os.path.join(ROOT, "build")
    path = os.path.join(build, *parts)
    if not os.path.exists(path):
        if required:
            pytest.fail("%s is missing: the CMake build did not produce it" % path)
        pytest.skip("%s not built (make build)" % path)
    return path


def run(*argv, **kw):
    return subprocess.run(argv, check=True, capture_output=True, text=True, timeout=120, **kw).stdout


def test_python_package():
    assert smneo.__version__ == VERSION
    assert smneo.core_version == VERSION


def test_setup_py_metadata():
    assert run(sys.executable, os.path.join(ROOT, "setup.py"), "--version").strip().splitlines()[-1] == VERSION


def test_shared_library_and_soname():
    lib = build_file("libsmneo.so")
    so = ctypes.CDLL(lib)
    so.smneo_version.restype = ctypes.c_char_p
    assert so.smneo_version().decode() == VERSION
    major = VERSION.split(".")[0]
    assert os.path.realpath(lib) == os.path.realpath(build_file("libsmneo.so." + VERSION))
    dynamic = run("readelf", "-d", lib)
    assert re.search(r"\(SONAME\)\s+Library soname: \[libsmneo\.so\.%s\]" % major, dynamic), dynamic


def test_cli():
    assert run(build_file("smneo"), "--version").strip() == "smneo " + VERSION


def test_pkg_config_file():
    with open(build_file("smneo.pc"), encoding="utf-8") as f:
        assert re.search(r"^Version: (.*)$", f.read(), re.M).group(1) == VERSION


def test_man_page():
    with open(build_file("smneo.1"), encoding="utf-8") as f:
        assert f.readline().split('"')[3] == "smneo " + VERSION


@pytest.mark.parametrize("lua,subdir", [("lua5.4", "lua5.4"), ("luajit", "luajit")])
def test_lua_module(lua, subdir):
    module_dir = os.path.dirname(build_file(subdir, "smneo.so"))
    if not shutil.which(lua):
        pytest.skip("%s is not installed" % lua)
    env = dict(os.environ, LUA_CPATH=os.path.join(module_dir, "?.so"), LUA_PATH=os.path.join(ROOT, "lua", "?.lua"))
    out = run(lua, "-e", 'local m = require "smneo"; io.write(m._VERSION, "\\n", m.version, "\\n")', env=env)
    assert out.splitlines() == ["smneo " + VERSION, VERSION]


def test_rockspec():
    """A development rockspec is version scm-N; a release one is VERSION-N."""
    with open(os.path.join(ROOT, "smneo-scm-1.rockspec"), encoding="utf-8") as f:
        assert re.search(r'^version = "scm-1"$', f.read(), re.M)
    for name in os.listdir(ROOT):
        m = re.match(r"smneo-(.*)-[0-9]+\.rockspec$", name)
        if m and m.group(1) != "scm":
            assert m.group(1) == VERSION, name
