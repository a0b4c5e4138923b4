#!/usr/bin/env python3
"""Per-call protocol cost: smneo's C core beside botocore, in the same run.

build: validate + serialize + SigV4-sign a CreateCompilationJob request
       (botocore: its parameter validator, JSON serializer and SigV4Auth)
parse: parse a DescribeCompilationJob response body into values
       (botocore: its JSON response parser, which also builds datetimes)

    cmake --build build --target core_bench
    python3 bench/bench_core.py [--n 20000]

The C figures come from bench/core_bench.c, run as a subprocess. Both sides
use the fixtures in tests/fixtures/protocol/.
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from unittest import mock

import botocore.session
from botocore import parsers, serialize, validate
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "tests", "fixtures", "protocol")


def botocore_costs(n):
    model = botocore.session.get_session().get_service_model("sagemaker")
    create = model.operation_model("CreateCompilationJob")
    describe = model.operation_model("DescribeCompilationJob")
    params = json.load(open(os.path.join(FIX, "create_request.json")))
    body = open(os.path.join(FIX, "describe_completed.json"), "rb").read()
    serializer = serialize.create_serializer("json")
    validator = validate.ParamValidator()
    signer = SigV4Auth(Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"), "sagemaker",
                       "us-west-2")
    parser = parsers.create_parser("json")
    url = "https://api.sagemaker.us-west-2.amazonaws.com/"

    def build():
        report = validator.validate(params, create.input_shape)
        assert not report.has_errors()
        d = serializer.serialize_to_request(params, create)
        req = AWSRequest(method="POST", url=url, headers=d["headers"], data=d["body"])
        signer.add_auth(req)
        return req

    def parse():
        return parser.parse({"status_code": 200, "headers": {"x-amzn-requestid": "r"}, "body": body},
                            describe.output_shape)

    out = {}
    for name, fn in (("build", build), ("parse", parse)):
        for _ in range(max(n // 10, 50)):
            fn()
        t0 = time.perf_counter_ns()
        for _ in range(n):
            fn()
        out[name] = (time.perf_counter_ns() - t0) / n
    out["call"] = out["build"] + out["parse"]
    return out


def c_costs(exe, n):
    env = dict(os.environ, SMNEO_SOURCE_DIR=ROOT)
    text = subprocess.run([exe, str(n)], check=True, capture_output=True, text=True, env=env).stdout
    vals = dict(line.split() for line in text.splitlines() if line.strip())
    return {k[:-3]: float(v) for k, v in vals.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--c-bench", default=os.path.join(ROOT, "build", "core_bench"))
    a = ap.parse_args()
    if not os.access(a.c_bench, os.X_OK):
        sys.exit("build it first: cmake --build build --target core_bench")
    c = c_costs(a.c_bench, a.n)
    b = botocore_costs(max(a.n // 10, 1000))
    print("botocore %s" % botocore.__version__)
    print("%-6s %14s %14s %8s" % ("", "smneo ns/op", "botocore ns/op", "ratio"))
    for k in ("build", "parse", "call"):
        print("%-6s %14.0f %14.0f %7.1fx" % (k, c[k], b[k], b[k] / c[k]))


if __name__ == "__main__":
    main()
