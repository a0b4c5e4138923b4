#!/usr/bin/env python3
"""DescribeCompilationJob calls per second against the same fixed-answer
nginx on 127.0.0.1, in one run: smneo from Python, bench/describe_bench.c
through libsmneo's smneo_client_call (the binding's overhead is the gap
between those two), and boto3.

nginx answers every POST with a stored 1.3 KB response over keep-alive
(bench/nginx-describe.conf), so the server is never the bottleneck. One
thread each; the three run in turn, in several rounds; medians are compared.

    cmake --build build --target describe_bench
    python3 setup.py build_ext --inplace
    python3 bench/bench_python.py [--smoke]
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402


def rate(call, n):
    """(calls per second, CPU microseconds of this process per call)"""
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(n):
        call()
    return n / (time.perf_counter() - t0), (time.process_time() - c0) * 1e6 / n


def run(ctx):
    exe = ctx.binary("describe_bench")
    smneo = benchlib.import_smneo()
    import boto3
    import botocore
    env = benchlib.quiet_aws_env()
    saved = dict(os.environ)
    benchlib.use_quiet_aws_env()
    try:
        with benchlib.Nginx("nginx-describe.conf") as server:
            keys = dict(region_name="us-east-1", endpoint_url=server.url, aws_access_key_id=benchlib.KEY,
                        aws_secret_access_key=benchlib.SECRET)
            ours = smneo.Client(**keys)
            theirs = boto3.client("sagemaker", **keys)
            a = ours.describe_compilation_job(CompilationJobName=benchlib.JOB_NAME)
            b = theirs.describe_compilation_job(CompilationJobName=benchlib.JOB_NAME)
            a_md, b_md = a.pop("ResponseMetadata"), b.pop("ResponseMetadata")
            if a != b or a_md["HTTPStatusCode"] != b_md["HTTPStatusCode"]:
                raise RuntimeError("smneo and boto3 disagree on the response: the comparison would be meaningless")
            n = ctx.pick(4000, 100)
            rounds = ctx.pick(7, 1)

            def py():
                return rate(lambda: ours.describe_compilation_job(CompilationJobName=benchlib.JOB_NAME), n)

            def c():
                out = subprocess.run([exe, server.url, str(n)], check=True, capture_output=True, text=True,
                                     env=env).stdout
                vals = dict(line.split() for line in out.splitlines())
                return float(vals["calls_per_s"]), float(vals["cpu_us_per_call"])

            def boto():
                return rate(lambda: theirs.describe_compilation_job(CompilationJobName=benchlib.JOB_NAME),
                            max(n // 8, 20))

            py()  # warm up the Python side (the C program warms up itself)
            boto()
            ctx.log("describe: %d rounds of %d calls (Python, C, boto3 an eighth as many)" % (rounds, n))
            got = benchlib.interleave(rounds, {"python": py, "c": c, "boto3": boto})
            ours.close()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    (p, pcpu), (cc, ccpu), (b3, bcpu) = ((benchlib.median([x[0] for x in got[k]]),
                                          benchlib.median([x[1] for x in got[k]])) for k in ("python", "c", "boto3"))
    return [
        benchlib.target_row("binding", "describe calls/s, Python vs C", "%.0f/s" % p,
                            "describe_bench.c: %.0f/s" % cc, p / cc,
                            note="client CPU per call %.1f us vs %.1f us (%.2fx)" % (pcpu, ccpu, ccpu / pcpu)),
        benchlib.Row("describe calls/s vs boto3", "%.0f/s" % p, "boto3 %s: %.0f/s" % (botocore.__version__, b3),
                     p / b3, note="client CPU per call %.1f us vs %.1f us (%.1fx)" % (pcpu, bcpu, bcpu / pcpu)),
    ]


if __name__ == "__main__":
    benchlib.standalone(run, __doc__)
