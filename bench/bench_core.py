#!/usr/bin/env python3
"""Per-call cost, no network: smneo from Python, smneo's C core and
botocore doing the same work in the same run.

call:  a whole public DescribeCompilationJob call on each side, its HTTP send
       answered in process with the 1.3 KB answer nginx-describe.conf returns:
       boto3's client.describe_compilation_job(...) with a before-send handler
       returning an AWSResponse, smneo.Client's describe_compilation_job(...)
       with an in-process transport (the _transport= hook smneo.local.mock()
       uses) returning the same status, headers and body. Both build,
       validate, sign (SigV4, key from the client's credentials) and parse
       into the same dict; boto3 also runs its events, endpoint rules and
       retry handler, which are part of its call.
build: validate + serialize + SigV4-sign a CreateCompilationJob request
       (smneo: Client.build_request; botocore: its parameter validator, JSON
       serializer and SigV4Auth over an AWSRequest)
parse: parse the same 1.3 KB answer, with its headers, into a dict with
       ResponseMetadata (smneo.parse_response; botocore: its JSON response
       parser)

The C figures come from bench/core_bench.c (a subprocess, the same body).
The contenders run in turn, in several rounds; medians are compared.

The target row (issue 17's "in-process call", 28x when the issue was filed)
is the whole call: measured at the commit the issue was filed at (21a4854),
boto3's whole describe call over smneo's build_request + parse_response of
the same describe (smneo had no in-process transport then) gave 29x, the
components row (build + parse against botocore's parts) 9x: bench/README.md
has the figures. The components rows are kept as information.

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


def whole_calls(body, headers):
    """boto3's and smneo's public describe_compilation_job, each answered in
    process with the same bytes (no socket): (boto3 fn, smneo fn, smneo client)."""
    import boto3
    from botocore.awsrequest import AWSResponse
    smneo = benchlib.import_smneo()

    class Raw:  # what AWSResponse reads its body from (urllib3's stream())
        def stream(self, **kw):
            yield body

    def before_send(request, **kw):
        return AWSResponse(request.url, 200, headers, Raw())

    b3 = boto3.client("sagemaker", region_name="us-west-2", aws_access_key_id=benchlib.KEY,
                      aws_secret_access_key=benchlib.SECRET)
    b3.meta.events.register("before-send.sagemaker.DescribeCompilationJob", before_send)
    answer = (200, headers, body)
    sent = []

    def transport(request):
        sent.append(request.headers.get("Authorization", ""))
        return answer

    client = smneo.Client(region_name="us-west-2", aws_access_key_id=benchlib.KEY,
                          aws_secret_access_key=benchlib.SECRET, _transport=transport)

    def b_call():
        return b3.describe_compilation_job(CompilationJobName=benchlib.JOB_NAME)

    def s_call():
        return client.describe_compilation_job(CompilationJobName=benchlib.JOB_NAME)

    a, b = dict(s_call()), dict(b_call())
    if not sent or not sent[-1].startswith("AWS4-HMAC-SHA256 Credential=" + benchlib.KEY):
        raise RuntimeError("smneo's call did not reach its in-process transport signed")
    a.pop("ResponseMetadata")
    b.pop("ResponseMetadata")
    if a != b:
        raise RuntimeError("smneo and boto3 return different describes: the comparison would be meaningless")
    del sent[:]
    return b_call, s_call, client


def run(ctx):
    import botocore
    exe = ctx.binary("core_bench")
    with open(os.path.join(FIX, "create_request.json"), encoding="utf-8") as f:
        params = json.load(f)
    body = benchlib.describe_answer()
    headers = {"x-amzn-requestid": "0f4b2d35-5e1c-4d0e-9b7a-3f2b8f9e6a11",
               "content-type": "application/x-amz-json-1.1", "content-length": str(len(body))}
    (b_build, b_parse), (s_build, s_parse), client = contenders(params, body, headers)
    b_call, s_call, call_client = whole_calls(body, headers)
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

        ctx.log("in-process call: %d rounds of %d calls (boto3 /4, smneo, botocore, smneo from Python, C core x10)"
            % (rounds, n))
        got = benchlib.interleave(rounds, {
            "boto3": lambda: per_call_ns(b_call, max(n // 4, 20)),
            "smneo": lambda: per_call_ns(s_call, n),
            "botocore": lambda: (per_call_ns(b_build, n), per_call_ns(b_parse, n)),
            "python": lambda: (per_call_ns(s_build, n), per_call_ns(s_parse, n)),
            "c": c_core,
        })
    client.close()
    call_client.close()
    med = benchlib.median
    wb, ws = med(got["boto3"]), med(got["smneo"])
    bb, bp = med([x[0] for x in got["botocore"]]), med([x[1] for x in got["botocore"]])
    pb, pp = med([x[0] for x in got["python"]]), med([x[1] for x in got["python"]])
    cb, cp = med([x["build"] for x in got["c"]]), med([x["parse"] for x in got["c"]])
    peer = "botocore %s: %.1f us" % (botocore.__version__, (bb + bp) / 1e3)
    return [
        benchlib.target_row("call_python", "in-process describe call, from Python", "%.2f us" % (ws / 1e3),
                            "boto3 %s: %.1f us" % (botocore.__version__, wb / 1e3), wb / ws,
                            note="describe_compilation_job answered in process on both sides (boto3: a "
                            "before-send handler; smneo: an in-process transport), build+sign+parse included"),
        benchlib.Row("in-process build+parse, from Python", "%.2f us" % ((pb + pp) / 1e3), peer,
                     (bb + bp) / (pb + pp),
                     note="build %.2f us vs %.1f us (%.0fx), parse %.2f us vs %.1f us (%.0fx); botocore's "
                     "validator, serializer, SigV4Auth and parser, not its whole call"
                     % (pb / 1e3, bb / 1e3, bb / pb, pp / 1e3, bp / 1e3, bp / pp)),
        benchlib.Row("in-process build+parse, C core", "%.2f us" % ((cb + cp) / 1e3), peer, (bb + bp) / (cb + cp),
                     note="build %.2f us, parse %.2f us (bench/core_bench.c, visitor walk)" % (cb / 1e3, cp / 1e3)),
    ]


if __name__ == "__main__":
    benchlib.standalone(run, __doc__)
