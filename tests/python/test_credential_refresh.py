"""Refresh of credentials from STS, through a client, from Python and Lua,
beside boto3 against the same smneo.local (its `credential_duration` sets
how long what it issues lives): credentials expiring in two minutes (inside
botocore's 10-minute mandatory window) are refreshed before each next call,
ones valid for an hour are used without a second STS call; a web identity
token file rewritten between calls is read again at the refresh; eight
threads sharing a client assume the role once. The profiles are
test_credential_parity.py's (its profiles_env fixture)."""
import os
import shutil
import subprocess
import threading

import pytest

from fakes import need_module
from local_fixtures import admin
from local_fixtures import server  # noqa: F401  (fixture)
from test_credential_parity import BUILD, JWT, ROOT, last_seq, recorded
from test_credential_parity import profiles_env  # noqa: F401  (fixture)

import smneo
from smneo.local.identity import fingerprint

# another token of the same shape (sub "ci-b")
JWT_B = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjaS1iIiwiYXVkIjoic3RzLmFtYXpvbmF3cy5jb20ifQ.c2ln"
CALLS = 3

LUA = """local smneo = require "smneo"
local c = smneo.client{ region_name = "us-east-1", profile_name = arg[1], endpoint_url = arg[2],
                        retry_backoff_scale = 0.001 }
for i = 1, tonumber(arg[5]) do
  c:list_compilation_jobs{}
  if i == 1 and arg[3] ~= "" then
    local f = assert(io.open(arg[3], "w"))
    f:write(arg[4])
    f:close()
  end
end
c:close()
"""


def rewrite(path, text):
    if path:
        with open(path, "w") as f:
            f.write(text)


def calls_with(front, server, profile, rewrite_path="", new_token=""):
    """CALLS ListCompilationJobs from one client (boto3: one session's client),
    the token file rewritten after the first. Returns the recorded requests."""
    since = last_seq(server)
    if front == "boto3":
        need_module("boto3")
        import boto3
        sm = boto3.Session(profile_name=profile, region_name="us-east-1").client("sagemaker",
                                                                                  endpoint_url=server.url)
        for i in range(CALLS):
            sm.list_compilation_jobs()
            if i == 0:
                rewrite(rewrite_path, new_token)
    elif front == "python":
        c = smneo.Client(profile_name=profile, region_name="us-east-1", endpoint_url=server.url,
                         _retry_backoff_scale=0.001)
        try:
            for i in range(CALLS):
                c.list_compilation_jobs()
                if i == 0:
                    rewrite(rewrite_path, new_token)
        finally:
            c.close()
    else:
        module = os.path.join(BUILD, "lua5.4", "smneo.so")
        if not shutil.which("lua5.4") or not os.path.exists(module):
            pytest.skip("lua5.4 or %s missing" % module)
        env = dict(os.environ, LUA_CPATH=os.path.join(os.path.dirname(module), "?.so"),
                   LUA_PATH=os.path.join(ROOT, "lua", "?.lua"))
        p = subprocess.run(["lua5.4", "-", profile, server.url, rewrite_path, new_token, str(CALLS)], input=LUA,
                           env=env, text=True, capture_output=True, timeout=60)
        assert p.returncode == 0, p.stderr
    return recorded(server, since)


def sts_calls(rows):
    return [r for r in rows if r[0] == "sts"]


@pytest.mark.parametrize("front", ["python", "lua"])
@pytest.mark.parametrize("duration,assumed", [(120, CALLS), (3600, 1)])
def test_role_refreshed_as_boto3(profiles_env, front, duration, assumed):  # noqa: F811
    server = profiles_env
    admin(server, "POST", "/_smneo/identity", {"credential_duration": duration})
    try:
        theirs = calls_with("boto3", server, "chain1")
        ours = calls_with(front, server, "chain1")
    finally:
        admin(server, "POST", "/_smneo/identity", {"credential_duration": None})
    assert [r[:3] for r in ours] == [r[:3] for r in theirs]
    assert len(sts_calls(ours)) == assumed, ours
    lists = [r for r in ours if r[1] == "ListCompilationJobs"]
    assert len(lists) == CALLS and all(r[4] == 200 and "assumed-role/Low/low-session" in r[3] for r in lists)


@pytest.mark.parametrize("front", ["python", "lua"])
def test_web_identity_token_read_again_at_refresh(profiles_env, tmp_path, front):  # noqa: F811
    server = profiles_env
    token = str(tmp_path / "token")
    admin(server, "POST", "/_smneo/identity", {"credential_duration": 120})
    try:
        rows = {}
        for who in ("boto3", front):
            rewrite(token, JWT)
            rows[who] = calls_with(who, server, "web", token, JWT_B)
    finally:
        admin(server, "POST", "/_smneo/identity", {"credential_duration": None})
    assert [r[:3] for r in rows[front]] == [r[:3] for r in rows["boto3"]]
    sent = [r[2]["WebIdentityToken"] for r in sts_calls(rows[front])]
    # the first call's token, then the rewritten file's at each refresh
    assert sent == [fingerprint(JWT)] + [fingerprint(JWT_B)] * (CALLS - 1), sent


def test_eight_threads_assume_once(profiles_env):  # noqa: F811
    server = profiles_env
    since = last_seq(server)
    c = smneo.Client(profile_name="chain1", region_name="us-east-1", endpoint_url=server.url,
                     _retry_backoff_scale=0.001)
    errors = []
    start = threading.Barrier(8)

    def work():
        try:
            start.wait()
            c.list_compilation_jobs()
        except Exception as e:  # noqa: BLE001  (reported below)
            errors.append(e)
    threads = [threading.Thread(target=work) for _ in range(8)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        c.close()
    assert not errors, errors
    rows = recorded(server, since)
    # chain1 assumes Low with base's keys: one AssumeRole for the eight calls
    assert [r[1] for r in rows if r[0] == "sts"] == ["AssumeRole"], rows
    assert len([r for r in rows if r[1] == "ListCompilationJobs" and r[4] == 200]) == 8, rows
