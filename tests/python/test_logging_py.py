"""The core's debug log through Python's logging (issue 13, item 3): logger
"smneo" at DEBUG gets the requests, responses and retries, secrets redacted;
nothing is formatted while the logger is not enabled for DEBUG."""
import logging
import os
import subprocess
import sys

import smneo
from fakes import KEY, SECRET, client, fake, isolated_env  # noqa: F401

PYDIR = os.path.dirname(os.path.dirname(smneo.__file__))


def test_debug_log_reaches_logging_with_secrets_redacted(client, fake, caplog):
    fake.queue("DescribeCompilationJob", 500, {"__type": "InternalFailure", "message": "try again"})
    with caplog.at_level(logging.DEBUG, logger="smneo"):
        client.describe_compilation_job(CompilationJobName="job-1")
    records = [r for r in caplog.records if r.name == "smneo"]
    text = "\n".join(r.getMessage() for r in records)
    assert any("DescribeCompilationJob" in r.getMessage() for r in records), text
    assert "job-1" in text and "500" in text
    assert all(r.levelno >= logging.DEBUG for r in records)
    assert SECRET not in text
    assert "Signature=<redacted>" in text


def test_no_records_when_the_logger_is_not_enabled(client, fake, caplog):
    with caplog.at_level(logging.DEBUG, logger="smneo"):
        client.describe_compilation_job(CompilationJobName="job-1")
    assert any(r.name == "smneo" for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="smneo"):
        client.describe_compilation_job(CompilationJobName="job-2")
    assert not [r for r in caplog.records if r.name == "smneo"]


def test_set_stream_logger_as_boto3s(isolated_env, fake):
    code = """
import smneo
smneo.set_stream_logger()
c = smneo.Client(region_name="us-east-1", endpoint_url=%r, aws_access_key_id=%r, aws_secret_access_key=%r)
c.describe_compilation_job(CompilationJobName="job-7")
""" % (fake.url, KEY, SECRET)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, PYTHONPATH=PYDIR))
    assert out.returncode == 0, out.stderr
    assert " smneo [DEBUG] " in out.stderr and "job-7" in out.stderr
    assert SECRET not in out.stderr


def test_each_call_follows_the_loggers_current_state(client, fake, caplog):
    """The answer of isEnabledFor(DEBUG) is read from the logger's own cache
    between calls: every change of level, disabled and logging.disable()
    shows on the next call, and a Logger subclass's own isEnabledFor is asked."""
    log = logging.getLogger("smneo")

    def logged(name):
        caplog.clear()
        client.describe_compilation_job(CompilationJobName=name)
        return any(r.name == "smneo" and name in r.getMessage() for r in caplog.records)

    old_level, old_disabled = log.level, log.disabled
    caplog.set_level(logging.DEBUG)  # root's handler catches what propagates
    try:
        log.setLevel(logging.DEBUG)
        assert logged("job-a")
        log.setLevel(logging.INFO)
        assert not logged("job-b")
        log.setLevel(logging.DEBUG)
        assert logged("job-c")
        log.disabled = True
        assert not logged("job-d")
        log.disabled = False
        assert logged("job-e")
        logging.disable(logging.DEBUG)
        try:
            assert not logged("job-f")
        finally:
            logging.disable(logging.NOTSET)
        assert logged("job-g")

        class Quiet(logging.Logger):
            def isEnabledFor(self, level):
                return False

        log.__class__ = Quiet
        try:
            assert not logged("job-h")
        finally:
            log.__class__ = logging.Logger
        assert logged("job-i")
    finally:
        log.setLevel(old_level)
        log.disabled = old_disabled
