"""Shared pieces of the benchmarks in bench/: targets, rows of the result
table, an nginx on 127.0.0.1 with a fixed answer, timed child processes.

Every bench_*.py exposes run(ctx) -> list of Row and runs standalone through
standalone(); bench/bench.py runs them all and prints one table.
"""
import argparse
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
KEY, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
JOB_NAME = "resnet50-ml-c5"


def load_targets():
    with open(os.path.join(HERE, "targets.json"), encoding="utf-8") as f:
        return {k: v for k, v in json.load(f).items() if not k.startswith("_")}


TARGETS = load_targets()


class Row:
    """One line of the table. ratio is ours/peer (higher is better);
    ok is True/False for a row with a target, None for an informational one."""

    def __init__(self, figure, ours, peer, ratio, target="", ok=None, note=""):
        self.figure, self.ours, self.peer, self.ratio = figure, ours, peer, ratio
        self.target, self.ok, self.note = target, ok, note

    def status(self, smoke=False):
        if self.ok is None:
            return "info"
        if smoke:
            return "smoke"
        return "ok" if self.ok else "MISSED"


def target_row(name, figure, ours, peer, ratio, also_ok=True, also_target="", note=""):
    """A row checked against TARGETS[name]['min_ratio'] (and also_ok)."""
    want = TARGETS[name]["min_ratio"]
    target = ">= %gx" % want + (", " + also_target if also_target else "")
    return Row(figure, ours, peer, ratio, target, bool(ratio >= want and also_ok), note)


def fmt_ratio(r):
    return "-" if r is None else "%.*fx" % (2 if r < 10 else 1 if r < 100 else 0, r)


def print_table(rows, smoke=False, out=sys.stdout):
    head = ("figure", "smneo", "peer", "ratio", "target", "")
    cells = [head] + [(r.figure, r.ours, r.peer, fmt_ratio(r.ratio), r.target or "-", r.status(smoke)) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    for i, c in enumerate(cells):
        print("  ".join(v.ljust(widths[k]) for k, v in enumerate(c)).rstrip(), file=out)
        if i == 0:
            print("  ".join("-" * w for w in widths), file=out)
    for r in rows:
        if r.note:
            print("  * %s: %s" % (r.figure, r.note), file=out)


def markdown_table(rows, smoke=False):
    def cell(text):
        return text.replace("|", "\\|")

    lines = ["| figure | smneo | peer | ratio | target | |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append("| %s |" % " | ".join(cell(c) for c in (r.figure, r.ours, r.peer, fmt_ratio(r.ratio),
                                                               r.target or "-", r.status(smoke))))
    notes = ["- %s: %s" % (r.figure, cell(r.note)) for r in rows if r.note]
    return "\n".join(lines + ([""] + notes if notes else []))


def median(xs):
    return statistics.median(xs)


def interleave(rounds, contenders):
    """contenders: {name: fn() -> value}; runs them in turn, `rounds` times,
    so a burst of outside load hits all of them; returns {name: [values]}."""
    out = {k: [] for k in contenders}
    for _ in range(rounds):
        for k, fn in contenders.items():
            out[k].append(fn())
    return out


def timed_child(cmd, env=None, cwd=None, capture=False):
    """Runs cmd; returns (wall seconds, CPU seconds of it and its waited-for
    children, its stdout as text or None). Raises on a non-zero exit."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out if capture else subprocess.DEVNULL, stderr=err)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            err.seek(0)
            raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd)[:300], p.returncode,
                                                       err.read().decode(errors="replace")[-2000:]))
        text = None
        if capture:
            out.seek(0)
            text = out.read().decode()
    return wall, ru.ru_utime + ru.ru_stime, text


def quiet_aws_env(extra=None):
    """The environment with no AWS_* settings and no config or credentials
    files, so neither client reads anything from the machine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    nothing = os.path.join(tempfile.gettempdir(), "smneo-bench-no-such-file")
    env.update(AWS_EC2_METADATA_DISABLED="true", AWS_CONFIG_FILE=nothing, AWS_SHARED_CREDENTIALS_FILE=nothing)
    env.update(extra or {})
    return env


def use_quiet_aws_env():
    os.environ.clear()
    os.environ.update(quiet_aws_env())


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def describe_answer():
    """The 1.3 KB DescribeCompilationJob body nginx-describe.conf returns."""
    with open(os.path.join(HERE, "nginx-describe.conf"), encoding="utf-8") as f:
        m = re.search(r"return 200 '(.*)';", f.read())
    return m.group(1).replace("\\\\", "\\").encode()


class Nginx:
    """Debian's nginx on 127.0.0.1 with one of the bench/nginx-*.conf files
    (__PORT__ and the given __NAME__ placeholders replaced), in a temporary
    prefix removed on exit."""

    def __init__(self, conf_name, **values):
        self.nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        if not os.path.exists(self.nginx):
            raise RuntimeError("nginx is not installed (Debian: apt-get install nginx-extras)")
        self.dir = tempfile.mkdtemp(prefix="smneo-bench-")
        os.makedirs(os.path.join(self.dir, "tmp"))
        self.port = free_port()
        with open(os.path.join(HERE, conf_name), encoding="utf-8") as f:
            conf = f.read().replace("__PORT__", str(self.port))
        for k, v in values.items():
            conf = conf.replace("__%s__" % k.upper(), str(v))
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w", encoding="utf-8") as f:
            f.write(conf)
        self.url = "http://127.0.0.1:%d" % self.port
        self.proc = None

    def __enter__(self):
        self.proc = subprocess.Popen([self.nginx, "-p", self.dir + "/", "-e", os.path.join(self.dir, "error.log"),
                                      "-c", self.conf], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while True:
            try:
                req = urllib.request.Request(self.url + "/", data=b"{}", method="POST")
                with urllib.request.urlopen(req, timeout=2) as r:
                    r.read()
                return self
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    err = self.proc.stderr.read().decode(errors="replace") if self.proc.poll() is not None else ""
                    log = os.path.join(self.dir, "error.log")
                    if os.path.exists(log):
                        with open(log, encoding="utf-8", errors="replace") as f:
                            err += f.read()
                    self.__exit__()
                    raise RuntimeError("nginx did not start: %s" % err.strip())
                time.sleep(0.05)

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        return False


class Context:
    """What a benchmark needs: the CMake build directory, smoke mode (token
    sizes, targets not judged), a log for progress lines."""

    def __init__(self, build="build", smoke=False, verbose=True):
        self.build = build if os.path.isabs(build) else os.path.join(ROOT, build)
        self.smoke = smoke
        self.verbose = verbose

    def log(self, msg):
        if self.verbose:
            print("  .. " + msg, file=sys.stderr, flush=True)

    def binary(self, name):
        path = os.path.join(self.build, name)
        if not os.access(path, os.X_OK):
            raise RuntimeError("%s not found: build it with `cmake --build %s --target %s` (make bench does)"
                               % (path, os.path.relpath(self.build, ROOT), name))
        return path

    def pick(self, full, smoke):
        return smoke if self.smoke else full


def import_smneo():
    sys.path.insert(0, os.path.join(ROOT, "python"))
    import smneo  # noqa: E402 - after the path is set
    return smneo


def machine():
    """A line describing where the figures were measured."""
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return "%s, %d CPUs, Linux %s, Python %s" % (cpu, os.cpu_count() or 0, platform.release(),
                                                 platform.python_version())


def load_average():
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def standalone(run, doc):
    ap = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    ap.add_argument("--build", default=os.environ.get("BUILD", "build"), help="CMake build directory (default build)")
    ap.add_argument("--smoke", action="store_true", help="token sizes, targets not judged")
    a = ap.parse_args()
    ctx = Context(a.build, a.smoke)
    rows = run(ctx)
    print_table(rows, a.smoke)
    sys.exit(0 if a.smoke or all(r.ok is not False for r in rows) else 1)
