"""The extension loads libcurl and libarchive on first use (python/smneo/_lazy.c,
docs/architecture.md "Lazy loading"): `import smneo` and `Client()` load
neither, nor the pure-Python modules only some calls need; the first request
loads libcurl, the first archive libarchive; without smneo._curl a request
fails with an error naming it. Each case runs in a fresh interpreter."""
import glob
import os
import shutil
import subprocess
import sys
import tarfile
import textwrap

import smneo

PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(smneo.__file__)))

PRELUDE = """
import socket, sys
import smneo

def loaded(name):
    with open("/proc/self/maps") as f:
        return ("/" + name) in f.read()

def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

KEYS = dict(region_name="us-east-1", aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x" * 40)
"""


def run(body, parent=PACKAGE_PARENT, cwd=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(PYTHONPATH=parent, AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
               AWS_EC2_METADATA_DISABLED="true")
    p = subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(body)], env=env, cwd=cwd,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_import_and_client_load_neither_library():
    out = run("""
        c = smneo.Client(**KEYS)
        print(loaded("libcurl"), loaded("libarchive"))
        print(sorted(m for m in ("json", "html", "datetime") if m in sys.modules))
        """)
    assert out.split("\n")[:2] == ["False False", "[]"]


def test_first_request_loads_libcurl_only():
    out = run("""
        c = smneo.Client(endpoint_url="http://127.0.0.1:%d" % closed_port(), **KEYS)
        try:
            c.describe_compilation_job(CompilationJobName="j")
        except smneo.EndpointConnectionError as e:
            print("refused", "127.0.0.1" in str(e))
        print(loaded("libcurl"), loaded("libarchive"))
        """)
    assert out.split("\n")[:2] == ["refused True", "True False"]


def test_first_archive_loads_libarchive(tmp_path):
    src = tmp_path / "model.txt"
    src.write_text("weights")
    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as t:
        t.add(src, arcname="model.txt")
    out = run("""
        import smneo.artifact
        print(loaded("libarchive"))
        info = smneo.artifact.inspect(%r)
        print(loaded("libarchive"), loaded("libcurl"))
        """ % str(tmp_path / "model.tar.gz"))
    assert out.split("\n")[:2] == ["False", "True False"]


def test_missing_transport_module_is_named_in_the_error(tmp_path):
    # the package without smneo._curl: loads and validates, but a request fails
    # with an error naming the missing module (and asking for a reinstall)
    pkg = os.path.dirname(os.path.abspath(smneo.__file__))
    dest = tmp_path / "smneo"
    shutil.copytree(pkg, dest, ignore=shutil.ignore_patterns("_curl*", "__pycache__"))
    assert not glob.glob(str(dest / "_curl*")) and glob.glob(str(dest / "_smneo*"))
    out = run("""
        c = smneo.Client(endpoint_url="http://127.0.0.1:%d" % closed_port(), **KEYS)
        try:
            c.describe_compilation_job(CompilationJobName="j")
        except smneo.SmneoError as e:
            print(type(e).__name__, "|", e)
        """, parent=str(tmp_path), cwd=str(tmp_path))
    assert "smneo._curl" in out and "reinstall smneo" in out, out
