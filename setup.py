"""Builds the smneo Python package and its C extension smneo._smneo.

The extension is compiled from python/smneo/_*.c TOGETHER WITH every
core/src/*.c file, so the binding and the core it wraps never disagree.

    python3 setup.py build_ext --inplace   # offline: puts _smneo*.so into python/smneo/
    pip install .                          # where pip can reach setuptools and wheel

With SMNEO_CORE_LIB=build/libsmneo.a (the static, position-independent core
that CMake builds from the same tree) only python/smneo/_*.c is compiled and
the core is linked from there: tools/test-python-versions.sh builds one
extension per interpreter that way.

System libraries (Debian: libcurl4-openssl-dev libcjson-dev libssl-dev
zlib1g-dev libarchive-dev libpcre2-dev libb2-dev libdeflate-dev) are found
with pkg-config, mirroring CMakeLists.txt.
"""
import glob
import os
import re
import shutil
import subprocess

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
os.chdir(HERE)  # every path below is relative to the repository root

# pkg-config modules, as in CMakeLists.txt (all required).
REQUIRED = ["libcurl", "libcjson", "libcrypto", "zlib", "libarchive", "libpcre2-8", "libb2", "libdeflate"]
FALLBACK_LIBS = {"libcurl": ["curl"], "libcjson": ["cjson"], "libcrypto": ["crypto"], "zlib": ["z"],
                 "libarchive": ["archive"], "libpcre2-8": ["pcre2-8"], "libdeflate": ["deflate"],
                 "libb2": ["b2"]}


def header_version():
    """MAJOR.MINOR.PATCH from core/include/smneo/version.h, the one place it is written."""
    path = os.path.join(HERE, "core", "include", "smneo", "version.h")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    parts = []
    for name in ("MAJOR", "MINOR", "PATCH"):
        m = re.search(r"^#define SMNEO_VERSION_%s +([0-9]+) *$" % name, text, re.M)
        if not m:
            raise SystemExit("%s: no SMNEO_VERSION_%s line" % (path, name))
        parts.append(m.group(1))
    return ".".join(parts)


def rel(*parts):
    return os.path.join(*parts)


def pkg_config(module):
    """(include_dirs, library_dirs, libraries) for a module, or None when absent."""
    if not shutil.which("pkg-config"):
        return None
    try:
        subprocess.run(["pkg-config", "--exists", module], check=True)
        cflags = subprocess.run(["pkg-config", "--cflags-only-I", module], check=True,
                                capture_output=True, text=True).stdout.split()
        libs = subprocess.run(["pkg-config", "--libs", module], check=True,
                              capture_output=True, text=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return None
    return ([f[2:] for f in cflags if f.startswith("-I")],
            [f[2:] for f in libs if f.startswith("-L")],
            [f[2:] for f in libs if f.startswith("-l")])


# libcurl and libarchive are not linked into smneo._smneo: it loads them on
# first use through smneo._curl and smneo._archive, which link them
# (core/lazy/lazy_deps.c and python/smneo/_lazy.c; docs/architecture.md,
# "Lazy loading").
LAZY = {"libcurl": "_curl", "libarchive": "_archive"}


def flags(modules, include_dirs, library_dirs, libraries):
    """The three lists extended with the pkg-config flags of `modules`."""
    for module in modules:
        found = pkg_config(module)
        if found is None:
            found = ([], [], FALLBACK_LIBS[module])
        for target, values in zip((include_dirs, library_dirs, libraries), found):
            for v in values:
                if v not in target:
                    target.append(v)
    return include_dirs, library_dirs, libraries


# the main extension compiles against every library's headers but links the eager ones only
include_dirs, library_dirs, libraries = flags([m for m in REQUIRED if m not in LAZY],
                                              [rel("core", "include"), rel("core", "src"), rel("core", "lazy")],
                                              [], [])
flags(LAZY, include_dirs, [], [])
for lib in ("pthread", "m", "dl"):
    if lib not in libraries:
        libraries.append(lib)

sources = sorted(glob.glob(rel("python", "smneo", "_*.c"))) + [rel("core", "lazy", "lazy_deps.c")]
extra_objects = []
core_lib = os.environ.get("SMNEO_CORE_LIB")
if core_lib:
    if not os.path.isfile(core_lib):
        raise SystemExit("SMNEO_CORE_LIB=%s: no such file (build it first: make build)" % core_lib)
    extra_objects.append(os.path.abspath(core_lib))
else:
    sources += sorted(glob.glob(rel("core", "src", "*.c")))

# Warnings are errors only in the project's own test runs (`make test` sets
# SMNEO_WERROR=1), never in a build someone else runs with a newer compiler.
warning_flags = ["-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"]
if os.environ.get("SMNEO_WERROR") == "1":
    warning_flags.append("-Werror")

ext = Extension(
    "smneo._smneo",
    sources=sources,
    include_dirs=include_dirs,
    library_dirs=library_dirs,
    libraries=libraries,
    extra_objects=extra_objects,
    define_macros=[("_GNU_SOURCE", None), ("SMNEO_BUILDING", None)],
    extra_compile_args=["-std=gnu11", *warning_flags, "-fvisibility=hidden"],
    depends=sorted(glob.glob(rel("core", "include", "smneo", "*.h")) + glob.glob(rel("core", "src", "*.h"))
                   + glob.glob(rel("core", "lazy", "*.h"))
                   + glob.glob(rel("python", "smneo", "_*.h")) + extra_objects),
)

# smneo._curl, smneo._archive: a reference to their library each, nothing else
lazy_modules = [Extension("smneo." + name, sources=[rel("python", "smneo", "deps", name + ".c")],
                          **dict(zip(("include_dirs", "library_dirs", "libraries"), flags([module], [], [], []))),
                          extra_compile_args=["-std=gnu11", *warning_flags])
                for module, name in LAZY.items()]

setup(
    name="smneo",
    version=header_version(),
    description="Fast, validating client for the Amazon SageMaker Neo compilation API (boto3-compatible)",
    package_dir={"": rel("python")},
    packages=["smneo", "smneo.local"] if os.path.isdir(os.path.join(HERE, "python", "smneo", "local")) else ["smneo"],
    package_data={"smneo": ["py.typed", "*.pyi"], "smneo.local": ["*.json", "models/*.json"]},
    ext_modules=[ext, *lazy_modules],
    python_requires=">=3.8",
    zip_safe=False,
    # keep setuptools' objects out of build/ (the CMake build directory)
    options={"build": {"build_base": "build-python"}},
)
