#!/usr/bin/env python3
"""SigV4 signing cost: smneo (C) beside botocore, in the same run.

Signs the same DescribeCompilationJob request (POST /, X-Amz-Target,
Content-Type, User-Agent, Content-Length, a small JSON body) N times with
botocore.auth.SigV4Auth over an AWSRequest, runs bench/sign_bench.c as a
subprocess for the C side, checks that both produce the same Authorization
for a fixed time, and prints ns per signature and the ratio.

    cmake --build build --target sign_bench
    python3 bench/bench_sign.py [--smoke]

The machine is shared, so both sides run in alternating rounds and their
medians are compared. The C figure is the steady state of a client (the
derived signing key is cached per secret/date/region/service); botocore
derives the key on every signature. C figures on a fresh copy of the
request and with the key derived each time are in the note.
"""
import datetime
import os
import subprocess
import sys
import time
from unittest import mock

import botocore
import botocore.auth
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

URL = "https://api.sagemaker.us-west-2.amazonaws.com/"
BODY = b'{"CompilationJobName": "my-neo-job"}'
HEADERS = {
    "X-Amz-Target": "SageMaker.DescribeCompilationJob",
    "Content-Type": "application/x-amz-json-1.1",
    "User-Agent": "smneo/0.1.0",
    "Content-Length": str(len(BODY)),
}
AKID, SECRET = benchlib.KEY, benchlib.SECRET
CHECK_EPOCH = 1795782896  # 2026-11-27T12:34:56Z


def make_request():
    return AWSRequest(method="POST", url=URL, headers=dict(HEADERS), data=BODY)


def botocore_auth_at(epoch):
    signer = SigV4Auth(Credentials(AKID, SECRET), "sagemaker", "us-west-2")
    req = make_request()
    when = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
        signer.add_auth(req)
    return req.headers["Authorization"]


def bench_botocore(n):
    signer = SigV4Auth(Credentials(AKID, SECRET), "sagemaker", "us-west-2")
    req = make_request()
    for _ in range(max(n // 10, 100)):  # warm up
        signer.add_auth(req)
    t0 = time.perf_counter_ns()
    for _ in range(n):
        signer.add_auth(req)
    return (time.perf_counter_ns() - t0) / n


def run(ctx):
    c_bench = ctx.binary("sign_bench")
    n = ctx.pick(10000, 100)
    rounds = ctx.pick(5, 1)

    def run_c(*args):
        return subprocess.run([c_bench, *map(str, args)], check=True, capture_output=True, text=True).stdout

    # Same request, same signature: the two sides measure the same work.
    c_auth = run_c("--auth", CHECK_EPOCH).strip()
    py_auth = botocore_auth_at(CHECK_EPOCH)
    if c_auth != py_auth:
        raise RuntimeError(f"Authorization differs:\n  smneo:    {c_auth}\n  botocore: {py_auth}")

    def c_side():
        return dict(line.split() for line in run_c(n * 10).splitlines())

    ctx.log(f"sign: {rounds} rounds of {n} botocore and {n * 10} smneo signatures")
    got = benchlib.interleave(rounds, {"botocore": lambda: bench_botocore(n), "c": c_side})
    py = benchlib.median(got["botocore"])
    warm, fresh, cold = (benchlib.median([float(f[k]) for f in got["c"]])
                         for k in ("sign_ns", "sign_fresh_ns", "sign_cold_ns"))
    return [benchlib.Row("SigV4 sign, C (key cached)", f"{warm:.0f} ns", f"botocore {botocore.__version__}: "
                         f"{py / 1e3:.1f} us", py / warm,
                         note=f"on a fresh request copy {fresh:.0f} ns ({py / fresh:.0f}x), key derived each time "
                         f"{cold:.0f} ns ({py / cold:.0f}x); Authorization identical to botocore's")]


if __name__ == "__main__":
    benchlib.standalone(run, __doc__)
