#!/usr/bin/env python3
"""SigV4 signing cost: smneo (C) beside botocore, in the same run.

Signs the same DescribeCompilationJob request (POST /, X-Amz-Target,
Content-Type, User-Agent, Content-Length, a small JSON body) N times with
botocore.auth.SigV4Auth over an AWSRequest, runs bench/sign_bench.c as a
subprocess for the C side, checks that both produce the same Authorization
for a fixed time, and prints ns per signature and the ratio.

    cmake --build build --target sign_bench
    python3 bench/bench_sign.py [--n 20000] [--c-bench build/sign_bench]

The machine is shared, so both sides run in alternating rounds and the best
round of each is compared (the median is printed too). The C figure is the
steady state of a client (the derived signing key is cached per
secret/date/region/service); botocore derives the key on every signature.
C figures on a fresh copy of the request and with the key derived each time
are printed as well.
"""
import argparse
import datetime
import glob
import os
import statistics
import subprocess
import sys
import time
from unittest import mock

import botocore
import botocore.auth
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
URL = "https://api.sagemaker.us-west-2.amazonaws.com/"
BODY = b'{"CompilationJobName": "my-neo-job"}'
HEADERS = {
    "X-Amz-Target": "SageMaker.DescribeCompilationJob",
    "Content-Type": "application/x-amz-json-1.1",
    "User-Agent": "smneo/0.1.0",
    "Content-Length": str(len(BODY)),
}
AKID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
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


def find_c_bench(explicit):
    if explicit:
        return explicit
    env = os.environ.get("SMNEO_SIGN_BENCH")
    if env:
        return env
    candidates = [os.path.join(ROOT, "build", "sign_bench")]
    candidates += sorted(glob.glob(os.path.join(ROOT, "build*", "sign_bench")))
    for c in candidates:
        if os.access(c, os.X_OK):
            return c
    sys.exit("sign_bench not found: build it with `cmake --build build --target sign_bench` "
             "or pass --c-bench PATH")


def run_c(path, *args):
    out = subprocess.run([path, *map(str, args)], check=True, capture_output=True, text=True).stdout
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10000, help="botocore signatures (C runs 10x as many)")
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds (best and median reported)")
    ap.add_argument("--c-bench", help="path of the sign_bench program")
    args = ap.parse_args()
    c_bench = find_c_bench(args.c_bench)

    # Same request, same signature: the two sides measure the same work.
    c_auth = run_c(c_bench, "--auth", CHECK_EPOCH).strip()
    py_auth = botocore_auth_at(CHECK_EPOCH)
    if c_auth != py_auth:
        sys.exit(f"Authorization differs:\n  smneo:    {c_auth}\n  botocore: {py_auth}")

    py, c, fresh, cold = [], [], [], []
    for _ in range(args.rounds):
        py.append(bench_botocore(args.n))
        fields = dict(line.split() for line in run_c(c_bench, args.n * 10).splitlines())
        c.append(float(fields["sign_ns"]))
        fresh.append(float(fields["sign_fresh_ns"]))
        cold.append(float(fields["sign_cold_ns"]))

    def show(label, xs, n):
        print(f"  {label:<42} best {min(xs):9.0f} ns   median {statistics.median(xs):9.0f} ns  (n={n})")

    print(f"SigV4 sign, DescribeCompilationJob request; Authorization identical to botocore's; "
          f"{args.rounds} alternating rounds")
    show(f"botocore {botocore.__version__} SigV4Auth.add_auth", py, args.n)
    show("smneo_sigv4_sign (key cached)", c, args.n * 10)
    show("smneo_sigv4_sign on a fresh request copy", fresh, args.n * 5)
    show("smneo_sigv4_sign (key derived each time)", cold, args.n * 10 // 4)
    best_py = min(py)
    print(f"  ratio botocore/smneo (best rounds): {best_py / min(c):.1f}x key cached, "
          f"{best_py / min(fresh):.1f}x fresh copy, {best_py / min(cold):.1f}x key derived "
          f"(median rounds: {statistics.median(py) / statistics.median(c):.1f}x key cached); target >= 30x")

if __name__ == "__main__":
    main()
