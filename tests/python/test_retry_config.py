"""Retry settings resolved as botocore 1.43 resolves them, compared with
botocore itself: for a matrix of environment variables, profile keys and
Config(retries=..., defaults_mode=...) the same call against the same fake
service makes the same number of attempts and reports the same RetryAttempts
and MaxAttemptsReached with boto3 and with smneo (tests/python/retry_probe.py
runs both in a fresh interpreter per case, as botocore reads
AWS_NEW_RETRIES_2026 at import). Also: the adaptive limiter fixture matches
the installed botocore, and adaptive mode slows down after throttling."""
import json
import os
import subprocess
import sys

import pytest

from fakes import fake, isolated_env, make_client, need_module  # noqa: F401

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

CASES = [
    # (id, environment, profile lines, Config kwargs or None)
    ("defaults", {}, "", None),
    ("new-retries", {"AWS_NEW_RETRIES_2026": "true"}, "", None),
    ("new-retries-legacy", {"AWS_NEW_RETRIES_2026": "TRUE", "AWS_RETRY_MODE": "legacy"}, "", None),
    ("new-retries-false", {"AWS_NEW_RETRIES_2026": "false"}, "", None),
    ("env-standard", {"AWS_RETRY_MODE": "standard"}, "", None),
    ("env-adaptive-4", {"AWS_RETRY_MODE": "adaptive", "AWS_MAX_ATTEMPTS": "4"}, "", None),
    ("env-attempts-2", {"AWS_MAX_ATTEMPTS": "2"}, "", None),
    ("env-attempts-0", {"AWS_MAX_ATTEMPTS": "0", "AWS_RETRY_MODE": "standard"}, "", None),
    ("defaults-mode-standard", {"AWS_DEFAULTS_MODE": "standard"}, "", None),
    ("defaults-mode-vs-profile", {"AWS_DEFAULTS_MODE": "in-region"}, "retry_mode = legacy\n", None),
    ("profile", {}, "retry_mode = standard\nmax_attempts = 6\n", None),
    ("profile-defaults-mode", {}, "defaults_mode = mobile\n", None),
    ("env-over-profile", {"AWS_MAX_ATTEMPTS": "2"}, "max_attempts = 4\n", None),
    ("config-max-attempts", {}, "", {"retries": {"max_attempts": 1}}),
    ("config-total-wins", {}, "", {"retries": {"total_max_attempts": 4, "max_attempts": 9, "mode": "standard"}}),
    ("config-mode-env-attempts", {"AWS_MAX_ATTEMPTS": "3"}, "", {"retries": {"mode": "legacy"}}),
    ("config-over-env", {"AWS_RETRY_MODE": "legacy", "AWS_MAX_ATTEMPTS": "5"}, "",
     {"retries": {"mode": "adaptive", "total_max_attempts": 2}}),
    ("config-defaults-mode", {}, "", {"defaults_mode": "standard"}),
    ("config-one-attempt", {}, "", {"retries": {"mode": "standard", "total_max_attempts": 1}}),
    ("config-legacy-one", {}, "", {"retries": {"mode": "legacy", "total_max_attempts": 1}}),
]


@pytest.mark.parametrize("fails", [0, 1, 100])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_retries_match_botocore(case, fails, tmp_path):
    need_module("boto3")
    _, env_add, profile, config = case
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_CONFIG_FILE": str(tmp_path / "config"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "creds"),
                "AWS_EC2_METADATA_DISABLED": "true",
                "PYTHONPATH": os.pathsep.join([os.path.join(ROOT, "python")] + [p for p in sys.path if p])})
    env.update(env_add)
    (tmp_path / "config").write_text("[default]\n" + profile)
    spec = json.dumps({"config": config, "fails": fails})
    p = subprocess.run([sys.executable, os.path.join(HERE, "retry_probe.py"), spec], env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    assert got["smneo"] == got["boto3"]


def test_adaptive_fixture_is_botocores():
    """tests/fixtures/retries/adaptive.json (replayed by tests/core/test_retry.c
    through the core's limiter) is what the installed botocore's limiter does."""
    need_module("botocore.retries.adaptive")
    p = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "gen_ratelimit_fixture.py"), "--check"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr


def test_adaptive_slows_down_after_throttling(fake, isolated_env):  # noqa: F811
    """Adaptive mode against throttling: the client stops sending at once and
    waits for its rate limiter (observed as the requests the service sees, not
    as time): with one ThrottlingException, botocore's limiter drops the rate
    to 0.5 request/s, so a burst of calls after it takes its tokens one by one
    while standard mode sends the burst at once."""
    import threading
    import smneo
    throttle = {"__type": "ThrottlingException", "message": "Rate exceeded"}
    with make_client(fake.url, retry_mode="adaptive", max_attempts=1, _retry_backoff_scale=1) as c:
        fake.queue("DescribeCompilationJob", 400, throttle)
        with pytest.raises(smneo.ClientError) as ei:
            c.describe_compilation_job(CompilationJobName="job-1")
        assert ei.value.response["Error"]["Code"] == "ThrottlingException"
        # Three calls from threads: the limiter lets one through, the others wait for tokens.
        threads = [threading.Thread(target=c.describe_compilation_job, kwargs={"CompilationJobName": "job-1"})
                   for _ in range(3)]
        before = len(fake.requests)
        for t in threads:
            t.start()
        for t in threads:  # well over what three calls take without the limiter (all three are sent)
            t.join(0.3)
        sent_early = len(fake.requests) - before
        for t in threads:
            t.join()
        assert len(fake.requests) - before == 3
        assert sent_early <= 1
    with make_client(fake.url, retry_mode="standard", max_attempts=1) as c:
        fake.queue("DescribeCompilationJob", 400, throttle)
        with pytest.raises(smneo.ClientError):
            c.describe_compilation_job(CompilationJobName="job-1")
        before = len(fake.requests)
        for _ in range(3):
            c.describe_compilation_job(CompilationJobName="job-1")
        assert len(fake.requests) - before == 3


def test_retry_quota_reached_as_botocore(fake, isolated_env, monkeypatch):
    """Standard mode: a service that always answers 500 drains the client's
    retry quota (500; 5 per retry). From then on a call makes one attempt
    and its error says RetryQuotaReached, at the same call as with boto3."""
    boto3 = need_module("boto3")
    botocore_config = need_module("botocore.config")
    import time

    import smneo
    monkeypatch.setattr(time, "sleep", lambda s: None)  # botocore's back-off (smneo's is scaled down)
    fake.handlers["DescribeCompilationJob"] = lambda rec: (500, {"__type": "InternalFailure", "message": "boom"})
    clients = {
        "boto3": boto3.session.Session().client(
            "sagemaker", region_name="us-east-1", endpoint_url=fake.url, aws_access_key_id="a",
            aws_secret_access_key="b", config=botocore_config.Config(retries={"mode": "standard",
                                                                             "total_max_attempts": 3})),
        "smneo": make_client(fake.url, retry_mode="standard", max_attempts=3),
    }
    seen = {}
    for name, client in clients.items():
        seen[name] = []
        for _ in range(55):
            try:
                client.describe_compilation_job(CompilationJobName="j")
            except smneo.ClientError if name == "smneo" else client.exceptions.ClientError as e:
                md = e.response["ResponseMetadata"]
                seen[name].append((md["RetryAttempts"], md.get("RetryQuotaReached", False)))
    assert seen["smneo"] == seen["boto3"]
    assert seen["smneo"][0] == (2, False) and seen["smneo"][-1] == (0, True)
