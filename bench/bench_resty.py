#!/usr/bin/env python3
"""smneo.resty's compile() and compile_many() do not block their nginx
worker: while one request compiles a model (a 50 MB directory packed, uploaded to smneo.local,
compiled, downloaded and verified; its work on a one-thread nginx thread
pool), 20 probe requests go to the same single worker one after the other;
the figure is their 95th-percentile latency (target in targets.json), beside
the same probes with the worker idle. The same again while one request runs
compile_many of three jobs (ml_c5, ml_m5, LINUX/ARM64) on that model (packed
and uploaded once, three jobs, three downloads). Each runs once per round;
medians of the rounds are compared.

    cmake --build build --target smneo_luajit
    python3 bench/bench_resty.py [--smoke]
"""
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

PROBES = 20


def get(url, timeout=120):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def probe_ms(url):
    t0 = time.perf_counter()
    body = get(url + "/probe", timeout=20)
    return (time.perf_counter() - t0) * 1000, body


def p95(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))]


def start_local():
    py = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    proc = subprocess.Popen([py, os.path.join(benchlib.ROOT, "tests/lua/helpers/run_local.py"), "--port", "0",
                             "--credentials", "test:test", "--job-duration", "0.3"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    proc.stdout.readline()
    url = proc.stdout.readline().strip()
    if not url.startswith("http"):
        proc.kill()
        raise RuntimeError("smneo.local did not start")
    env = benchlib.quiet_aws_env({"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"})
    subprocess.run([sys.executable, os.path.join(benchlib.ROOT, "examples/create_bucket.py"), url, "models"],
                   env=env, check=True, capture_output=True)
    return proc, url


def measure(ctx, server, model, size, rounds, what):
    """Rounds of the location WHAT (compile or compile_many of the model) with 20
    probes meanwhile: the median of the rounds' p95 (busy and idle), the
    median run time and each round's p95."""
    busy, idle, run_s = [], [], []
    for rnd in range(rounds):
        ctx.log("resty: round %d: %s of a %d MB model, %d probes meanwhile" % (rnd + 1, what, size // 10**6,
                                                                               PROBES))
        idle.append(p95([probe_ms(server.url)[0] for _ in range(PROBES)]))
        out = {}

        def run_once(rnd=rnd):
            t0 = time.perf_counter()
            out["status"] = get("%s/%s?model=%s&round=%d" % (server.url, what, model, rnd))
            out["s"] = time.perf_counter() - t0

        th = threading.Thread(target=run_once)
        th.start()
        while probe_ms(server.url)[1] != "compiling":
            time.sleep(0.005)
        times = []
        for _ in range(PROBES):
            ms, body = probe_ms(server.url)
            if body != "compiling":
                raise RuntimeError("%s ended before the %d probes: make the model bigger" % (what, PROBES))
            times.append(ms)
        th.join()
        if out.get("status") != "COMPLETED":
            raise RuntimeError("%s: %s" % (what, out.get("status")))
        busy.append(p95(times))
        run_s.append(out["s"])
    med = benchlib.median
    return med(busy), med(idle), med(run_s), busy


def run(ctx):
    ctx.binary("luajit/smneo.so")
    size = ctx.pick(50_000_000, 5_000_000)
    rounds = ctx.pick(3, 1)
    work = tempfile.mkdtemp(prefix="smneo-bench-resty-")
    local, endpoint = start_local()
    want = benchlib.TARGETS["resty_probe"]["max_p95_ms"]
    rows = []
    try:
        model = os.path.join(work, "model")
        os.makedirs(model)
        shutil.copy(os.path.join(benchlib.ROOT, "examples/model/model.pt"), model)
        with open(os.path.join(model, "weights.bin"), "wb") as f:
            f.write(os.urandom(size))
        with benchlib.Nginx("nginx-resty-compile.conf", root=benchlib.ROOT, build=ctx.build,
                            endpoint=endpoint) as server:
            for what, label in (("compile", "compile of"), ("compile_many", "compile_many of 3 jobs on")):
                b, i, s, busy = measure(ctx, server, model, size, rounds, what)
                rows.append(benchlib.Row("smneo.resty %s a %d MB model: %d probes on the same worker meanwhile, "
                                         "p95" % (label, size // 10**6, PROBES),
                                         "%.1f ms" % b, "idle worker: %.1f ms" % i, None, "p95 <= %g ms" % want,
                                         b <= want,
                                         note="%s %.1f s (median); rounds' p95 %s ms; pack uses the machine's CPUs"
                                         % (what, s, ", ".join("%.1f" % x for x in busy))))
    finally:
        local.kill()
        local.wait()
        shutil.rmtree(work, ignore_errors=True)
    return rows


if __name__ == "__main__":
    benchlib.standalone(run, __doc__)
