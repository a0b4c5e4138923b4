"""Object lifetimes under threads: re-initialising or closing a Client that
other threads are using is refused or deferred, never a crash (issue 18.1).

The race runs in a child interpreter so that a crash (SIGSEGV, glibc's heap
checks) is reported as a failed test instead of killing the session. It is
bounded by counts (and a generous deadline for loaded machines), never timed."""
import os
import subprocess
import sys
import textwrap
import pytest

import smneo
from fakes import isolated_env  # noqa: F401
from smneo.local import Server

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

RACE = textwrap.dedent(r"""
    import sys, threading, time
    import smneo
    from smneo.local import Server

    mode = sys.argv[1]
    REFUSED = "cannot re-initialise a smneo.Client while it is in use"
    with Server(port=0) as server:
        kw = dict(region_name="us-east-1", endpoint_url=server.url, aws_access_key_id="test",
                  aws_secret_access_key="test", max_attempts=1)
        c = smneo.Client(**kw)
        deadline = time.monotonic() + 60
        stop = threading.Event()
        calls = [0, 0, 0]
        unexpected = []

        def lister(i):
            while not stop.is_set():
                try:
                    assert "CompilationJobSummaries" in c.list_compilation_jobs(MaxResults=1)
                    calls[i] += 1
                except RuntimeError as e:
                    if not (mode == "close" and "is closed" in str(e)):
                        unexpected.append(repr(e))
                except Exception as e:
                    unexpected.append(repr(e))
                time.sleep(0.001)  # leave moments with no call in flight: the re-init can go through

        threads = [threading.Thread(target=lister, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        inits = refused = 0
        while time.monotonic() < deadline and not (inits >= 200 and min(calls) >= 50) and not unexpected:
            try:
                if mode == "close":
                    c.close()
                c.__init__(**kw)
                inits += 1
            except RuntimeError as e:
                if REFUSED not in str(e):
                    unexpected.append(repr(e))
                refused += 1
            time.sleep(0)
        stop.set()
        for t in threads:
            t.join(60)
        c.close()
        print("inits=%d refused=%d calls=%d unexpected=%r" % (inits, refused, sum(calls), unexpected[:3]))
""")


@pytest.mark.parametrize("mode", ["init", "close"])
def test_reinit_and_close_while_threads_call(mode):
    """Three threads list in a loop while a fourth re-initialises (or closes
    and re-initialises) the same client: it used to free the core client
    under the calls in flight (SIGSEGV or "corrupted size vs. prev_size")."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(PYTHONPATH=os.path.join(ROOT, "python"), AWS_CONFIG_FILE=os.devnull,
               AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true")
    r = subprocess.run([sys.executable, "-c", RACE, mode], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, "child died (%d): %s%s" % (r.returncode, r.stdout, r.stderr[-2000:])
    out = dict(kv.split("=", 1) for kv in r.stdout.split()[:3])
    assert r.stdout.rstrip().endswith("unexpected=[]"), r.stdout
    assert int(out["inits"]) > 0 and int(out["calls"]) > 0, r.stdout


@pytest.fixture
def server(isolated_env):
    with Server(port=0, job_duration=0.25) as s:
        yield s


def make(server, **kw):
    return smneo.Client(region_name="us-east-1", endpoint_url=server.url, aws_access_key_id="test",
                        aws_secret_access_key="test", max_attempts=1, **kw)


def test_reinit_with_open_paginator_is_refused(server):
    """An iterator that has not finished keeps the core client: re-init is
    refused with a clear error until it ends (or is closed)."""
    c = make(server)
    it = c.iter_compilation_jobs()
    with pytest.raises(RuntimeError, match="in use .*create a new Client"):
        c.__init__(region_name="us-east-1", endpoint_url=server.url, aws_access_key_id="test",
                   aws_secret_access_key="test")
    assert list(it) == []  # the run still works on the original core client
    c.__init__(region_name="us-east-1", endpoint_url=server.url, aws_access_key_id="test",
               aws_secret_access_key="test")
    assert c.list_compilation_jobs()["CompilationJobSummaries"] == []
    c.close()


def test_close_with_open_paginator_refuses_new_calls(server):
    """close() while an iterator is open: new calls are refused at once; the
    open run finishes on the core client, which is freed when it ends."""
    c = make(server)
    it = c.iter_compilation_jobs()
    c.close()
    assert c.closed
    with pytest.raises(RuntimeError, match="closed"):
        c.list_compilation_jobs()
    with pytest.raises(RuntimeError, match="closed"):
        c.iter_compilation_jobs()
    assert list(it) == []
    with pytest.raises(RuntimeError, match="closed"):
        c.list_compilation_jobs()


def test_close_and_reinit_from_callbacks(server):
    """A waiter callback (running while its call is in flight) may close the
    client or try to re-initialise it: refused or deferred, never freed under
    the waiter."""
    c = make(server)
    c.create_compilation_job(
        CompilationJobName="j1", RoleArn="arn:aws:iam::123456789012:role/R",
        InputConfig={"S3Uri": "s3://b/m.tar.gz", "Framework": "PYTORCH",
                     "DataInputConfig": '{"input0": [1, 3, 224, 224]}'},
        OutputConfig={"S3OutputLocation": "s3://b/o/", "TargetDevice": "ml_c5"},
        StoppingCondition={"MaxRuntimeInSeconds": 900})
    seen = []

    def callback(desc):
        with pytest.raises(RuntimeError, match="in use"):
            c.__init__(region_name="us-east-1", endpoint_url=server.url, aws_access_key_id="test",
                       aws_secret_access_key="test")
        c.close()
        seen.append(desc["CompilationJobStatus"])

    with pytest.raises(smneo.CompilationJobFailed):  # no model in S3: the fake job fails
        c.wait_for_compilation_job("j1", delay=0.05, max_delay=0.05, timeout=60, callback=callback)
    assert seen and c.closed
    with pytest.raises(RuntimeError, match="closed"):
        c.describe_compilation_job(CompilationJobName="j1")
