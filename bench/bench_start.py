#!/usr/bin/env python3
"""Start time: a fresh interpreter's `import smneo; smneo.Client(...)` against
`import boto3; boto3.client("sagemaker", ...)`, interpreter start excluded.

Each round starts one fresh interpreter per contender, in turn; the child
times itself from its first statement (after the interpreter and `site`
have started) to the client being ready, so the interpreter's own start is
not counted for either side. Medians of the rounds are compared. Neither
client finds configuration files or AWS_* variables. Both run from
bytecode written by a warm-up run, as installed packages do.

    python3 setup.py build_ext --inplace
    python3 bench/bench_start.py [--smoke]
"""
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

CHILD = """
import time
t0 = time.perf_counter(); c0 = time.process_time()
%s
t1 = time.perf_counter(); c1 = time.process_time()
print(t1 - t0, c1 - c0)
"""
OURS = ("import smneo\n"
        "c = smneo.Client(region_name='us-east-1', aws_access_key_id=%r, aws_secret_access_key=%r)"
        % (benchlib.KEY, benchlib.SECRET))
THEIRS = ("import boto3\n"
          "c = boto3.client('sagemaker', region_name='us-east-1', aws_access_key_id=%r, aws_secret_access_key=%r)"
          % (benchlib.KEY, benchlib.SECRET))


def run(ctx):
    # Bytecode as an installed package has it (pip compiles it): written once,
    # by the warm-up run below, under a private prefix (not into the tree),
    # for both contenders; PYTHONDONTWRITEBYTECODE in the caller's environment
    # would otherwise make every round compile smneo's sources.
    cache = tempfile.mkdtemp(prefix="smneo-bench-pycache-")
    try:
        return measure(ctx, cache)
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def measure(ctx, cache):
    env = benchlib.quiet_aws_env({"PYTHONPATH": os.path.join(benchlib.ROOT, "python"), "PYTHONPYCACHEPREFIX": cache})
    for name in ("PYTHONSTARTUP", "PYTHONDONTWRITEBYTECODE"):
        env.pop(name, None)

    def child(body):
        def once():
            _, _, out = benchlib.timed_child([sys.executable, "-c", CHILD % body], env=env, capture=True)
            return float(out.split()[0])
        return once

    def bare():
        t0 = time.perf_counter()
        benchlib.timed_child([sys.executable, "-c", "pass"], env=env)
        return time.perf_counter() - t0

    for body in (OURS, THEIRS):  # the warm-up: writes the bytecode
        benchlib.timed_child([sys.executable, "-c", CHILD % body], env=env)
    rounds = ctx.pick(15, 1)
    ctx.log("start: %d rounds of fresh interpreters (smneo, boto3, bare)" % rounds)
    got = benchlib.interleave(rounds, {"smneo": child(OURS), "boto3": child(THEIRS), "bare": bare})
    ours, theirs, bare_s = (benchlib.median(got[k]) for k in ("smneo", "boto3", "bare"))
    import boto3
    return [benchlib.target_row(
        "start", "start: import + first Client", "%.1f ms" % (ours * 1e3),
        "boto3 %s: %.0f ms" % (boto3.__version__, theirs * 1e3), theirs / ours,
        note="interpreter start (%.0f ms for `python -c pass`) not counted; %d rounds" % (bare_s * 1e3, rounds))]


if __name__ == "__main__":
    benchlib.standalone(run, __doc__)
