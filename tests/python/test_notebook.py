"""Notebooks (docs/python.md, "Notebooks"): examples/notebook.ipynb executed
through IPython's API (notebook_runner.py, a kernel's display messages without
Jupyter), the live progress display (display_id updates, tqdm bars, escaping),
the rich representations of results, descriptions and listings, and
progress=True outside a notebook."""
import datetime
import json
import os
import subprocess
import sys
import textwrap

import pytest

import smneo
from fakes import isolated_env  # noqa: F401
from test_compile_py import local  # noqa: F401  (smneo.local with a "models" bucket, and a client)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUNNER = os.path.join(ROOT, "tests", "python", "notebook_runner.py")
ROLE = "arn:aws:iam::123456789012:role/NeoRole"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>&amp;'


def _ipython():
    """The interpreter's IPython, or a skip saying why (the notebook is driven
    through IPython's API in this interpreter, not through Jupyter)."""
    try:
        import IPython
    except ImportError:
        pytest.skip("%s has no IPython: the notebook and its display are not executed" % sys.executable)
    return IPython


def run_notebook(path, tmp_path, pythonpath=()):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE=str(tmp_path / "config"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"),
               AWS_EC2_METADATA_DISABLED="true",
               PYTHONPATH=os.pathsep.join(list(pythonpath) + [os.path.join(ROOT, "python")]))
    out = tmp_path / "executed.json"
    p = subprocess.run([sys.executable, RUNNER, str(path), str(out)], env=env, capture_output=True, text=True,
                       timeout=300)
    assert out.exists(), p.stderr
    executed = json.loads(out.read_text())
    errors = [m for m in executed["messages"] if m["msg_type"] == "error"]
    assert p.returncode == 0 and not errors, (errors, p.stderr)
    return executed


def displays(executed):
    """{display_id: (the display_data output with updates applied, number of updates)}"""
    out = {}
    for cell in executed["notebook"]["cells"]:
        for o in cell.get("outputs", ()):
            if o["output_type"] == "display_data" and o["transient"].get("display_id"):
                out[o["transient"]["display_id"]] = o
    updates = {}
    for m in executed["messages"]:
        if m["msg_type"] == "update_display_data":
            updates[m["transient"]["display_id"]] = updates.get(m["transient"]["display_id"], 0) + 1
    return {k: (v, updates.get(k, 0)) for k, v in out.items()}


def notebook(tmp_path, *sources):
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                     "source": textwrap.dedent(s).strip()} for s in sources],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "nb" / "t.ipynb"
    path.parent.mkdir()
    path.write_text(json.dumps(nb))
    return path


SETUP = """
    import os, shutil, sys, tempfile
    sys.path.insert(0, %r)
    import smneo, smneo.local
    from create_bucket import create_bucket
    server = smneo.local.Server(port=0, job_duration=0.5).start()
    create_bucket(server.url, "models", "test", "test", "us-east-1")
    client = smneo.Client(region_name="us-east-1", endpoint_url=server.url, aws_access_key_id="test",
                          aws_secret_access_key="test")
    MODEL = os.path.join(%r, "examples", "model")
""" % (os.path.join(ROOT, "examples"), ROOT)

COMPILE = """
    result = client.compile(MODEL, framework="PYTORCH", role_arn=%r, s3_bucket="models", target_device="ml_c5",
                            data_input_config={"input0": [1, 4]}, output_dir=tempfile.mkdtemp(), delay=0.1,
                            max_delay=0.2, timeout=60, progress=True)
    result
""" % ROLE


def test_example_notebook_compiles_with_a_live_display(tmp_path):
    _ipython()
    executed = run_notebook(os.path.join(ROOT, "examples", "notebook.ipynb"), tmp_path)
    shown = displays(executed)
    assert shown, "no display_data with a display_id"
    best, updates = max(shown.values(), key=lambda v: v[1])
    assert updates >= 3
    # the compile's display ends on the verified artifact, with both byte counters
    compile_display = next(o for o, n in shown.values() if "digest verified" in o["data"]["text/plain"])
    text = compile_display["data"]["text/plain"]
    assert "COMPLETED" in text and "upload 760 B / 760 B" in text and "download" in text
    assert compile_display["data"]["text/html"].startswith("<table")
    # smneo.aio's compile with top-level await in the shell's loop: its own live display
    async_display = [(o, n) for o, n in shown.values() if "notebook-async" in o["data"]["text/plain"]]
    assert len(async_display) == 1 and async_display[0][1] >= 3
    assert "COMPLETED, digest verified" in async_display[0][0]["data"]["text/plain"]
    # the waiter's display, and the CompileResult and the listing as tables
    assert any("notebook-edge" in o["data"]["text/plain"] and "COMPLETED" in o["data"]["text/plain"]
               for o, _ in shown.values())
    results = [o for c in executed["notebook"]["cells"] for o in c.get("outputs", ())
               if o["output_type"] == "execute_result" and "text/html" in o["data"]]
    assert any("digest verified: yes" in o["data"]["text/html"] for o in results)
    assert any("notebook-edge" in o["data"]["text/html"] and "LINUX/ARM64" in o["data"]["text/html"]
               for o in results)


def test_aio_live_display_without_tqdm(tmp_path):
    _ipython()
    path = notebook(tmp_path, SETUP, AIO_COMPILE, "import sys; 'tqdm' in sys.modules")
    executed = run_notebook(path, tmp_path)
    (display, updates), = displays(executed).values()
    assert updates >= 3
    text = display["data"]["text/plain"]
    assert "COMPLETED, digest verified" in text and "upload 760 B / 760 B" in text and "download" in text
    assert display["data"]["text/html"].startswith("<table")
    results = [o["data"]["text/plain"] for c in executed["notebook"]["cells"] for o in c["outputs"]
               if o["output_type"] == "execute_result"]
    assert results[-1] == "False"  # tqdm absent: this was the plain display


def test_live_display_without_tqdm_escapes_a_hostile_failure(tmp_path):
    _ipython()
    path = notebook(tmp_path, SETUP, """
        server.fail_jobs(job="hostile", reason=%r)
        client.create_compilation_job(CompilationJobName="hostile", RoleArn=%r,
            InputConfig={"S3Uri": "s3://models/in.tar.gz", "Framework": "PYTORCH",
                         "DataInputConfig": '{"input0": [1, 4]}'},
            OutputConfig={"S3OutputLocation": "s3://models/out", "TargetDevice": "ml_c5"},
            StoppingCondition={"MaxRuntimeInSeconds": 60})
        try:
            client.wait_for_compilation_job("hostile", delay=0.1, max_delay=0.2, progress=True)
        except smneo.CompilationJobFailed as e:
            failed = e
        failed.FailureReason
    """ % (HOSTILE, ROLE), """
        seen = []
        try:  # the user's callback is still called, and False still cancels
            client.wait_for_compilation_job("hostile", progress=True, callback=lambda d: seen.append(d) or False)
        except smneo.WaiterCancelled:
            pass
        len(seen)
    """, "import sys; 'tqdm' in sys.modules")
    executed = run_notebook(path, tmp_path)
    (display, updates), (cancelled, _) = displays(executed).values()
    assert updates >= 2
    assert "WaiterCancelled" in cancelled["data"]["text/plain"]
    page = display["data"]["text/html"]
    assert "CompilationJobFailed" in page and "hostile" in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img" in page and "&amp;amp;" in page
    assert "<script" not in page and "<img" not in page
    assert HOSTILE in display["data"]["text/plain"]
    results = [o["data"]["text/plain"] for c in executed["notebook"]["cells"] for o in c["outputs"]
               if o["output_type"] == "execute_result"]
    assert results[-2:] == ["1", "False"]  # one description seen; tqdm absent: this was the plain display


FAKE_TQDM = '''
"""A stand-in for tqdm.auto.tqdm taking real tqdm's keywords (a wrong one is a
TypeError, as with tqdm) and recording what it was given."""
BARS = []


class tqdm:
    def __init__(self, iterable=None, desc=None, total=None, leave=True, file=None, ncols=None, mininterval=0.1,
                 maxinterval=10.0, miniters=None, ascii=None, disable=False, unit="it", unit_scale=False,
                 dynamic_ncols=False, smoothing=0.3, bar_format=None, initial=0, position=None, postfix=None,
                 unit_divisor=1000, write_bytes=False, lock_args=None, nrows=None, colour=None, delay=0.0):
        self.record = {"desc": desc, "total": total, "unit": unit, "unit_scale": unit_scale, "n": initial,
                       "closed": False}
        BARS.append(self.record)

    def update(self, n=1):
        self.record["n"] += n

    def close(self):
        self.record["closed"] = True
'''


AIO_COMPILE = """
    import smneo.aio
    aio = smneo.aio.Client(region_name="us-east-1", endpoint_url=server.url, aws_access_key_id="test",
                           aws_secret_access_key="test")
    result = await aio.compile(MODEL, framework="PYTORCH", role_arn=%r, s3_bucket="models", target_device="ml_c5",
                               data_input_config={"input0": [1, 4]}, output_dir=tempfile.mkdtemp(), delay=0.1,
                               max_delay=0.2, timeout=60, progress=True)
    await aio.close()
    result
""" % ROLE


@pytest.mark.parametrize("compile_cell", [COMPILE, AIO_COMPILE], ids=["sync", "aio"])
def test_live_display_with_tqdm_shows_bytes_as_bars(tmp_path, compile_cell):
    _ipython()
    fake = tmp_path / "fake" / "tqdm"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "auto.py").write_text(FAKE_TQDM)
    path = notebook(tmp_path, SETUP, compile_cell, "import tqdm.auto; tqdm.auto.BARS")
    executed = run_notebook(path, tmp_path, pythonpath=[str(tmp_path / "fake")])
    (display, updates), = displays(executed).values()
    assert updates >= 3
    text = display["data"]["text/plain"]
    assert "COMPLETED, digest verified" in text and "upload" not in text  # the bytes are in the bars
    bars = eval(executed["notebook"]["cells"][-1]["outputs"][0]["data"]["text/plain"])
    assert [b["desc"] for b in bars] == ["upload", "download"]
    for b in bars:
        assert b["unit"] == "B" and b["unit_scale"] and b["closed"] and b["n"] == b["total"] > 0


def test_progress_outside_a_notebook_changes_nothing(local, tmp_path, capfd):
    server, client = local
    events = []
    r = client.compile(os.path.join(ROOT, "examples", "model"), framework="PYTORCH", role_arn=ROLE,
                       s3_bucket="models", target_device="ml_c5", data_input_config={"input0": [1, 4]},
                       output_dir=tmp_path / "out", delay=0.1, progress=True, callback=lambda ev: events.append(ev))
    assert r.digest_verified and "STATUS" in [e["kind"] for e in events]
    seen = []
    job = client.wait_for_compilation_job(r.job_name, delay=0.1, progress=True,
                                          callback=lambda d: seen.append(d["CompilationJobStatus"]))
    assert job["CompilationJobStatus"] == "COMPLETED" and seen == ["COMPLETED"]
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    # the user's callback still cancels through the progress wrapper
    with pytest.raises(smneo.WaiterCancelled):
        client.wait_for_compilation_job(r.job_name, delay=0.1, progress=True, callback=lambda d: False)


def test_progress_in_terminal_ipython_prints_nothing(tmp_path):
    """IPython's terminal display publisher prints text/plain and cannot update
    a display: there, progress=True shows nothing, as in a script."""
    _ipython()
    script = tmp_path / "terminal.py"
    script.write_text(textwrap.dedent("""
        from IPython.core.interactiveshell import InteractiveShell
        shell = InteractiveShell.instance()
        cell = %r + %r + "print('done', result.digest_verified)"
        assert shell.run_cell(cell).success
    """) % (textwrap.dedent(SETUP), textwrap.dedent(COMPILE).replace("\nresult\n", "\n")))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE=str(tmp_path / "config"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"),
               AWS_EC2_METADATA_DISABLED="true", PYTHONPATH=os.path.join(ROOT, "python"))
    p = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300,
                       cwd=str(tmp_path))
    assert p.returncode == 0, p.stderr
    assert p.stdout == "done True\n" and p.stderr == ""


def _job(name, status="FAILED", **extra):
    t = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    job = {"CompilationJobName": name, "CompilationJobStatus": status, "CreationTime": t,
           "CompilationEndTime": t, "OutputConfig": {"TargetPlatform": {"Os": "LINUX", "Arch": "ARM64",
                                                                       "Accelerator": "NVIDIA"}}}
    job.update(extra)
    return job


def _formats(obj):
    from IPython.core.formatters import DisplayFormatter
    data, _ = DisplayFormatter().format(obj)
    return data


def test_rich_reprs_are_tables_with_every_string_escaped(local):
    _ipython()
    server, client = local
    desc = smneo._display.JobDescription(_job(HOSTILE, FailureReason=HOSTILE))
    listing = smneo._display.JobList({"CompilationJobSummaries": [
        {"CompilationJobName": HOSTILE, "CompilationJobStatus": "COMPLETED", "CompilationTargetDevice": HOSTILE,
         "CreationTime": datetime.datetime(2026, 1, 2, tzinfo=datetime.timezone.utc)}], "NextToken": HOSTILE})
    result = smneo.CompileResult(job=_job("j", FailureReason=HOSTILE), job_name="j", artifact_path=HOSTILE,
                                 extracted_dir=HOSTILE, digest_verified=False, input_uri=HOSTILE,
                                 issues=[smneo.Issue("warning", "a", "r", HOSTILE)])
    for obj in (desc, listing, result):
        data = _formats(obj)
        page = data["text/html"]
        assert page.startswith("<table") and "<th style=\"text-align:left\">status</th>" in page
        assert "&lt;script&gt;" in page and "&amp;amp;" in page
        assert "<script" not in page and "<img" not in page
        assert HOSTILE in data["text/plain"] and data["text/plain"].startswith("name")
    assert "LINUX/ARM64/NVIDIA" in _formats(desc)["text/plain"]
    assert "2026-01-02 03:04:05" in _formats(desc)["text/plain"]
    # the client's descriptions and listings are those dicts, equal to the plain ones
    client.create_compilation_job(CompilationJobName="plain", RoleArn=ROLE,
                                  InputConfig={"S3Uri": "s3://models/in.tar.gz", "Framework": "PYTORCH",
                                               "DataInputConfig": '{"input0": [1, 4]}'},
                                  OutputConfig={"S3OutputLocation": "s3://models/out", "TargetDevice": "ml_c5"},
                                  StoppingCondition={"MaxRuntimeInSeconds": 60})
    d = client.describe_compilation_job(CompilationJobName="plain")
    assert isinstance(d, dict) and isinstance(d, smneo._display.JobDescription)
    assert "plain" in _formats(d)["text/html"] and "ml_c5" in _formats(d)["text/plain"]
    assert repr(d) == repr(dict(d))  # print() and repr are the dict's
    listing = client.list_compilation_jobs()
    assert "plain" in _formats(listing)["text/html"]
