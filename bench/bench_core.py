#!/usr/bin/env python3
"""Per-call protocol cost, no network: smneo from Python, smneo's C core and
botocore doing the same work in the same run.

build: validate + serialize + SigV4-sign a CreateCompilationJob request
       (smneo: Client.build_request; botocore: its parameter validator, JSON
       serializer and SigV4Auth over an AWSRequest)
parse: parse the 1.3 KB DescribeCompilationJob answer nginx-describe.conf
       returns, with its headers, into a dict with ResponseMetadata
       (smneo.parse_response; botocore: its JSON response parser)

The C figures come from bench/core_bench.c (a subprocess, the same body).
The three run in turn, in several rounds; medians are compared.

The target row (issue 17's "in-process call") is the first: smneo from
Python against botocore's validator, serializer, SigV4Auth and parser, the
work itself. botocore's whole client call with the network replaced (a
before-send handler answering) costs about 5x those parts (its events,
endpoint rules, retry handler) and is not what is compared. The "28x" in the
issue matches no row of this benchmark: the C core row was 16x and the
Python row 9.5x in the table bench/README.md records.

    cmake --build build --target core_bench
    python3 setup.py build_ext --inplace
    python3 bench/bench_core.py [--smoke]
"""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

URL = "https://api.sagemaker.us-west-2.amazonaws.com"
FIX = os.path.join(benchlib.ROOT, "tests", "fixtures", "protocol")


def per_call_ns(fn, n):
    for _ in range(max(n // 10, 20)):
        fn()
    t0 = time.perf_counter_ns()
    for _ in range(n):
        fn()
    return (time.perf_counter_ns() - t0) / n


def contenders(params, body, headers):
    import botocore.session
    from botocore import parsers, serialize, validate
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    smneo = benchlib.import_smneo()

    model = botocore.session.get_session().get_service_model("sagemaker")
    create = model.operation_model("CreateCompilationJob")
    describe = model.operation_model("DescribeCompilationJob")
    serializer = serialize.create_serializer("json")
    validator = validate.ParamValidator()
    signer = SigV4Auth(Credentials(benchlib.KEY, benchlib.SECRET), "sagemaker", "us-west-2")
    parser = parsers.create_parser("json")

    def b_build():
        report = validator.validate(params, create.input_shape)
        assert not report.has_errors()
        d = serializer.serialize_to_request(params, create)
        req = AWSRequest(method="POST", url=URL + "/", headers=d["headers"], data=d["body"])
        signer.add_auth(req)
        return req

    def b_parse():
        return parser.parse({"status_code": 200, "headers": headers, "body": body}, describe.output_shape)

    client = smneo.Client(region_name="us-west-2", endpoint_url=URL, aws_access_key_id=benchlib.KEY,
                          aws_secret_access_key=benchlib.SECRET)

    def s_build():
        return client.build_request("CreateCompilationJob", params)

    def s_parse():
        return smneo.parse_response("DescribeCompilationJob", 200, headers, body)

    a, b = s_parse(), b_parse()
    a.pop("ResponseMetadata")
    b.pop("ResponseMetadata")
    if a != b:
        raise RuntimeError("smneo and botocore parse the answer differently: the comparison would be meaningless")
    return (b_build, b_parse), (s_build, s_parse), client


def run(ctx):
    import botocore
    exe = ctx.binary("core_bench")
    with open(os.path.join(FIX, "create_request.json"), encoding="utf-8") as f:
        params = json.load(f)
    body = benchlib.describe_answer()
    headers = {"x-amzn-requestid": "0f4b2d35-5e1c-4d0e-9b7a-3f2b8f9e6a11",
               "content-type": "application/x-amz-json-1.1", "content-length": str(len(body))}
    (b_build, b_parse), (s_build, s_parse), client = contenders(params, body, headers)
    n = ctx.pick(3000, 30)
    rounds = ctx.pick(7, 1)
    with tempfile.NamedTemporaryFile(suffix=".json") as bf:
        bf.write(body)
        bf.flush()

        def c_core():
            out = subprocess.run([exe, str(n * 10), bf.name], check=True, capture_output=True, text=True,
                                 env=dict(os.environ, SMNEO_SOURCE_DIR=benchlib.ROOT)).stdout
            vals = dict(line.split() for line in out.splitlines() if line.strip())
            return {k[:-3]: float(v) for k, v in vals.items()}

        ctx.log("in-process call: %d rounds of %d calls (botocore, smneo from Python, C core x10)" % (rounds, n))
        got = benchlib.interleave(rounds, {
            "botocore": lambda: (per_call_ns(b_build, n), per_call_ns(b_parse, n)),
            "python": lambda: (per_call_ns(s_build, n), per_call_ns(s_parse, n)),
            "c": c_core,
        })
    client.close()
    med = benchlib.median
    bb, bp = med([x[0] for x in got["botocore"]]), med([x[1] for x in got["botocore"]])
    pb, pp = med([x[0] for x in got["python"]]), med([x[1] for x in got["python"]])
    cb, cp = med([x["build"] for x in got["c"]]), med([x["parse"] for x in got["c"]])
    peer = "botocore %s: %.1f us" % (botocore.__version__, (bb + bp) / 1e3)
    return [
        benchlib.target_row("call_python", "in-process call, from Python", "%.2f us" % ((pb + pp) / 1e3), peer,
                            (bb + bp) / (pb + pp),
                            note="build %.2f us vs %.1f us (%.0fx), parse %.2f us vs %.1f us (%.0fx)"
                            % (pb / 1e3, bb / 1e3, bb / pb, pp / 1e3, bp / 1e3, bp / pp)),
        benchlib.Row("in-process call, C core", "%.2f us" % ((cb + cp) / 1e3), peer, (bb + bp) / (cb + cp),
                     note="build %.2f us, parse %.2f us (bench/core_bench.c, visitor walk)" % (cb / 1e3, cp / 1e3)),
    ]


if __name__ == "__main__":
    benchlib.standalone(run, __doc__)
