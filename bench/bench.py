#!/usr/bin/env python3
"""Runs every benchmark in bench/ and prints one table (figure, peer, ratio,
target); exits 1 when a target in bench/targets.json is missed or a
benchmark fails. `make bench` builds what they need and runs this.

    python3 bench/bench.py [--build DIR] [--smoke] [--only start,call,...] [--record]

--smoke   token sizes and one round each, so the benchmarks do not rot;
          targets are shown but not judged (make bench-smoke).
--record  also writes the table, with the machine and versions, into
          bench/README.md (between its bench:begin / bench:end markers).
"""
import argparse
import datetime
import os
import re
import subprocess
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
import bench_aio  # noqa: E402
import bench_artifact  # noqa: E402
import bench_core  # noqa: E402
import bench_list  # noqa: E402
import bench_python  # noqa: E402
import bench_resty  # noqa: E402
import bench_sign  # noqa: E402
import bench_start  # noqa: E402

BENCHES = [("start", bench_start), ("call", bench_core), ("describe", bench_python), ("list", bench_list),
           ("aio", bench_aio), ("resty", bench_resty),
           ("sign", bench_sign), ("artifact", bench_artifact)]


def versions():
    import boto3
    import botocore

    def cmd(args, pattern=r"(\S+)$"):
        try:
            p = subprocess.run(args, capture_output=True, text=True, check=False)
            m = re.search(pattern, (p.stdout + p.stderr).strip().splitlines()[0])
            return m.group(1) if m else "?"
        except (OSError, IndexError):
            return "?"

    return ("boto3 %s, botocore %s, libdeflate %s, zlib %s, pigz %s, nginx %s" % (
        boto3.__version__, botocore.__version__, cmd(["pkg-config", "--modversion", "libdeflate"]),
        cmd(["pkg-config", "--modversion", "zlib"]), cmd(["pigz", "--version"]),
        cmd(["nginx", "-v"], r"nginx/(\S+)")))


def commit():
    try:
        head = subprocess.run(["git", "-C", benchlib.ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", benchlib.ROOT, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
        return head + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "?"


def record(rows, header):
    path = os.path.join(benchlib.HERE, "README.md")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
    if begin not in text or end not in text:
        raise SystemExit("bench/README.md has no %s ... %s section" % (begin, end))
    block = "%s\n%s\n\n%s\n%s" % (begin, "\n".join(header), benchlib.markdown_table(rows), end)
    text = text[:text.index(begin)] + block + text[text.index(end) + len(end):]
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    print("recorded in %s" % os.path.relpath(path))


def main():
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--build", default=os.environ.get("BUILD", "build"), help="CMake build directory")
    ap.add_argument("--smoke", action="store_true", help="token sizes, one round, targets not judged")
    ap.add_argument("--only", default="", help="comma-separated subset of: " + ",".join(n for n, _ in BENCHES))
    ap.add_argument("--record", action="store_true", help="write the table into bench/README.md")
    a = ap.parse_args()
    only = [x for x in a.only.split(",") if x]
    unknown = set(only) - {n for n, _ in BENCHES}
    if unknown:
        ap.error("unknown benchmark(s): %s" % ", ".join(sorted(unknown)))
    if a.record and (a.smoke or only):
        ap.error("--record needs a full run (no --smoke, no --only)")
    ctx = benchlib.Context(a.build, a.smoke)
    load0 = benchlib.load_average()
    header = ["Measured %s on %s." % (datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), benchlib.machine()),
              "", "Commit %s; %s." % (commit(), versions())]
    rows, failed = [], False
    t0 = time.monotonic()
    for name, mod in BENCHES:
        if only and name not in only:
            continue
        try:
            rows += mod.run(ctx)
        except Exception as e:  # noqa: BLE001 - reported in the table, the others still run
            traceback.print_exc()
            failed = True
            rows.append(benchlib.Row(name, "FAILED", "-", None, "", False, note="%s: %s" % (type(e).__name__, e)))
    header[0] = header[0][:-1] + "; load average %.1f at the start, %.1f at the end; %.0f s in all." % (
        load0, benchlib.load_average(), time.monotonic() - t0)
    print()
    print("\n".join(header))
    print()
    benchlib.print_table(rows, a.smoke)
    missed = [r.figure for r in rows if r.ok is False]
    if a.record:
        record(rows, header)
    if failed or (missed and not a.smoke):
        print("\nmissed: %s" % ", ".join(missed), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
