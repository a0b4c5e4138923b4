#!/usr/bin/env python3
"""N DescribeCompilationJob calls through smneo and through boto3 against the
same fixed-response endpoint, in one run; prints calls per second and the ratio.

The endpoint is Debian's nginx answering every POST with a stored response over
keep-alive (bench/nginx-describe.conf), so the server is never the bottleneck.

    python3 setup.py build_ext --inplace
    python3 bench/bench_python.py [-n 3000] [--threads 1] [--rounds 3]

Target (issue 3): smneo at least 5x boto3's calls per second.
"""
import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "python"))

KEY, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
NAME = "resnet50-ml-c5"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nginx:
    def __init__(self):
        self.nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        if not os.path.exists(self.nginx):
            sys.exit("nginx is not installed (Debian: apt-get install nginx-light or nginx-extras)")
        self.dir = tempfile.mkdtemp(prefix="smneo-bench-")
        os.makedirs(os.path.join(self.dir, "tmp"))
        self.port = free_port()
        with open(os.path.join(HERE, "nginx-describe.conf"), encoding="utf-8") as f:
            conf = f.read().replace("__PORT__", str(self.port))
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w", encoding="utf-8") as f:
            f.write(conf)
        self.url = "http://127.0.0.1:%d" % self.port
        self.proc = None

    def __enter__(self):
        self.proc = subprocess.Popen([self.nginx, "-p", self.dir + "/", "-e", os.path.join(self.dir, "error.log"),
                                      "-c", self.conf], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while True:
            try:
                req = urllib.request.Request(self.url + "/", data=b"{}", method="POST")
                with urllib.request.urlopen(req, timeout=1) as r:
                    r.read()
                return self
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    err = self.proc.stderr.read().decode(errors="replace") if self.proc.poll() is not None else ""
                    log = os.path.join(self.dir, "error.log")
                    if os.path.exists(log):
                        err += open(log, encoding="utf-8", errors="replace").read()
                    self.__exit__()
                    sys.exit("nginx did not start: %s" % err.strip())
                time.sleep(0.05)

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
        return False


def run(call, n, threads):
    """Calls per second for n calls spread over `threads` threads."""
    per = n // threads
    barrier = threading.Barrier(threads + 1)
    errors = []

    def work():
        barrier.wait()
        try:
            for _ in range(per):
                call()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    ths = [threading.Thread(target=work) for _ in range(threads)]
    for t in ths:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in ths:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise errors[0]
    return per * threads / elapsed


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=3000, help="describe calls per client and round (default 3000)")
    ap.add_argument("--threads", type=int, default=1, help="threads sharing each client (default 1)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds; the best of each is kept")
    args = ap.parse_args()

    import smneo
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        sys.exit("boto3 is not installed for %s: the ratio needs it" % sys.executable)

    for k in [k for k in os.environ if k.startswith("AWS_")]:
        del os.environ[k]
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

    with Nginx() as server:
        ours = smneo.Client(region_name="us-east-1", endpoint_url=server.url, aws_access_key_id=KEY,
                            aws_secret_access_key=SECRET)
        theirs = boto3.client("sagemaker", region_name="us-east-1", endpoint_url=server.url,
                              aws_access_key_id=KEY, aws_secret_access_key=SECRET,
                              config=Config(max_pool_connections=max(10, args.threads)))
        a = ours.describe_compilation_job(CompilationJobName=NAME)
        b = theirs.describe_compilation_job(CompilationJobName=NAME)
        a_md, b_md = a.pop("ResponseMetadata"), b.pop("ResponseMetadata")
        if a != b or a_md["HTTPStatusCode"] != b_md["HTTPStatusCode"]:
            sys.exit("smneo and boto3 disagree on the response: the comparison would be meaningless")
        warm = max(50, args.n // 20)
        run(lambda: ours.describe_compilation_job(CompilationJobName=NAME), warm, args.threads)
        run(lambda: theirs.describe_compilation_job(CompilationJobName=NAME), warm, args.threads)
        best_ours = best_theirs = 0.0
        for _ in range(args.rounds):
            best_ours = max(best_ours, run(lambda: ours.describe_compilation_job(CompilationJobName=NAME),
                                           args.n, args.threads))
            best_theirs = max(best_theirs, run(lambda: theirs.describe_compilation_job(CompilationJobName=NAME),
                                               args.n, args.threads))
        ours.close()

    import botocore
    print("DescribeCompilationJob x %d, %d thread(s), best of %d rounds, nginx fixed response on 127.0.0.1"
          % (args.n, args.threads, args.rounds))
    print("  smneo %-8s %10.0f calls/s" % (smneo.__version__, best_ours))
    print("  boto3 %-8s %10.0f calls/s  (botocore %s)" % (boto3.__version__, best_theirs, botocore.__version__))
    print("  ratio smneo/boto3: %.1fx (target >= 5x)" % (best_ours / best_theirs))


if __name__ == "__main__":
    main()
