#!/usr/bin/env python3
"""Listing 20,000 compilation jobs through the ListCompilationJobs paginator
(200 pages of 100) into one Python list: smneo against boto3, time and
memory, against the same nginx on 127.0.0.1 (bench/nginx-list.conf, pages
built once by Lua at start).

Each round lists once per library, each in a fresh interpreter, in turn;
medians are compared. Memory is the peak resident size during the listing
minus the resident size just before it (the imports, the client and one
warm-up page, which loads each library's HTTP stack and opens the
connection, are not counted: smneo loads libcurl at its first request).

    python3 setup.py build_ext --inplace
    python3 bench/bench_list.py [--smoke]
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

CHILD = """
import json, os, sys, time
lib, url, key, secret = sys.argv[1:5]
keys = dict(region_name="us-east-1", endpoint_url=url, aws_access_key_id=key, aws_secret_access_key=secret)
if lib == "smneo":
    import smneo
    c = smneo.Client(**keys)
else:
    import boto3
    c = boto3.client("sagemaker", **keys)
c.list_compilation_jobs()  # the warm-up page: HTTP stack loaded, connection open
def status(field):  # this process's own figures (ru_maxrss would include the parent's size at fork)
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith(field + ":"))
try:  # reset the peak to the current size (Linux 4.0+), so the imports' peak is not counted
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
except OSError:
    pass
r0 = status("VmRSS")
t0 = time.perf_counter()
jobs = []
for page in c.get_paginator("list_compilation_jobs").paginate():
    jobs.extend(page["CompilationJobSummaries"])
t1 = time.perf_counter()
peak = status("VmHWM")
print(json.dumps({"s": t1 - t0, "n": len(jobs), "mem": peak - r0, "last": jobs[-1]["CompilationJobName"]}))
"""


def run(ctx):
    import botocore
    jobs = ctx.pick(20000, 1000)
    rounds = ctx.pick(3, 1)
    env = benchlib.quiet_aws_env({"PYTHONPATH": os.path.join(benchlib.ROOT, "python")})
    with benchlib.Nginx("nginx-list.conf", jobs=jobs) as server:
        def child(lib):
            def once():
                _, _, out = benchlib.timed_child([sys.executable, "-c", CHILD, lib, server.url, benchlib.KEY,
                                                  benchlib.SECRET], env=env, capture=True)
                got = json.loads(out)
                if got["n"] != jobs or got["last"] != "job-%06d" % jobs:
                    raise RuntimeError("%s listed %d jobs, expected %d" % (lib, got["n"], jobs))
                return got
            return once

        ctx.log("list: %d rounds of listing %d jobs in fresh interpreters (smneo, boto3)" % (rounds, jobs))
        got = benchlib.interleave(rounds, {"smneo": child("smneo"), "boto3": child("boto3")})
    med = benchlib.median
    ts, tb = med([g["s"] for g in got["smneo"]]), med([g["s"] for g in got["boto3"]])
    ms, mb = med([g["mem"] for g in got["smneo"]]), med([g["mem"] for g in got["boto3"]])
    what = "list %s jobs" % format(jobs, ",")
    return [
        benchlib.target_row("list", what, "%.2f s" % ts, "boto3 %s: %.2f s" % (botocore.__version__, tb), tb / ts),
        benchlib.target_row("list_memory", what + ", memory", "%.1f MB" % (ms / 1e6), "boto3: %.1f MB" % (mb / 1e6),
                            mb / ms, note="peak resident size during the listing minus the size before it "
                            "(after a warm-up page); ratio: boto3's over ours"),
    ]


if __name__ == "__main__":
    benchlib.standalone(run, __doc__)
