#!/usr/bin/env python3
"""Artifact throughput against the usual tools, on the same generated model
directory in the same run (bench/model_gen.c: 200 MB of float32, pruned
float32, bfloat16 and int8 tensors, already-compressed bytes and JSON):

  pack     `smneo pack --threads 2`  vs  `tar -cf - | pigz -p 2 -6`
           (size compared with `tar -czf`'s, which runs once; the archive
           must be the same bytes in every round and with --threads 1)
  digest   `smneo digest`            vs  `b2sum`    (the archive, cached)
  extract  `smneo extract`           vs  `tar -xzf`
  inspect  `smneo inspect`           vs  `tar -tzf`

Contenders run in turn, in several rounds; medians of wall time are
compared, CPU time (user + system, children included) is in the notes.

    cmake --build build --target smneo_cli model_gen
    python3 bench/bench_artifact.py [--smoke] [--size-mb 200]
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

LEVEL = 6
THREADS = 2


def need(*tools):
    for t in tools:
        if not shutil.which(t):
            raise RuntimeError("bench_artifact: %s is required (Debian: apt-get install %s)" % (t, t))


def run(ctx, size_mb=None):
    need("tar", "gzip", "pigz", "b2sum")
    smneo = ctx.binary("smneo")
    gen = ctx.binary("model_gen")
    size_mb = size_mb or ctx.pick(200, 8)
    rounds = ctx.pick(5, 1)
    small_rounds = ctx.pick(3, 1)
    med = benchlib.median
    w = tempfile.mkdtemp(prefix="smneo-bench-artifact-")
    try:
        model = os.path.join(w, "model")
        os.mkdir(model)
        ctx.log("artifact: generating a %d MB model directory" % size_mb)
        subprocess.run([gen, model, str(size_mb)], check=True)
        in_bytes = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(model) for f in fs)
        mb = in_bytes / 1e6

        def sh(cmd):
            return lambda: benchlib.timed_child(["sh", "-c", cmd])[:2]

        ours_gz = os.path.join(w, "ours.tar.gz")
        digests = []

        def pack(threads=THREADS):
            wall, cpu, out = benchlib.timed_child([smneo, "--output", "json", "--quiet", "pack", model, ours_gz,
                                                   "--threads", str(threads), "--level", str(LEVEL)], capture=True)
            digests.append(json.loads(out)["Digest"])
            return wall, cpu

        ctx.log("artifact: tar -czf once (the reference size)")
        t_gzip = sh("tar -C '%s' -cf - model | gzip -%d > '%s/gzip.tar.gz'" % (w, LEVEL, w))()
        ctx.log("artifact: %d rounds of pack (pigz, smneo)" % rounds)
        got = benchlib.interleave(rounds, {
            "pigz": sh("tar -C '%s' -cf - model | pigz -p %d -%d > '%s/pigz.tar.gz'" % (w, THREADS, LEVEL, w)),
            "smneo": pack,
        })
        pack(1)
        s_gzip, s_pigz, s_ours = (os.path.getsize(os.path.join(w, n + ".tar.gz")) for n in ("gzip", "pigz", "ours"))
        same = len(set(digests)) == 1
        b2 = subprocess.run(["b2sum", ours_gz], check=True, capture_output=True, text=True).stdout.split()[0]
        if b2 != digests[-1]:
            raise RuntimeError("smneo pack reported digest %s, b2sum says %s" % (digests[-1], b2))
        subprocess.run(["gzip", "-t", ours_gz], check=True)

        pw, pc = med([x[0] for x in got["pigz"]]), med([x[1] for x in got["pigz"]])
        ow, oc = med([x[0] for x in got["smneo"]]), med([x[1] for x in got["smneo"]])
        size_ratio = s_ours / s_gzip
        max_size = benchlib.TARGETS["pack"]["max_size_ratio"]
        rows = [
            benchlib.target_row(
                "pack", "pack %d MB, wall" % size_mb, "%.2f s (%.0f MB/s)" % (ow, mb / ow),
                "tar | pigz -p %d: %.2f s" % (THREADS, pw), pw / ow, also_ok=size_ratio <= max_size and same,
                also_target="size <= %gx tar -czf, same bytes" % max_size,
                note="size %d = %.4fx tar -czf's %d (pigz: %d, %.4fx); %s across %d runs and 1 or %d threads; "
                "tar -czf took %.2f s (%.2f s CPU)"
                % (s_ours, size_ratio, s_gzip, s_pigz, s_pigz / s_gzip, "same bytes" if same else "BYTES DIFFER",
                   len(digests), THREADS, t_gzip[0], t_gzip[1])),
            benchlib.Row("pack %d MB, CPU time" % size_mb, "%.2f s" % oc, "tar | pigz -p %d: %.2f s" % (THREADS, pc),
                         pc / oc),
        ]

        subprocess.run(["cat", ours_gz], check=True, stdout=subprocess.DEVNULL)  # into the page cache
        out_dirs = [os.path.join(w, "x-ours"), os.path.join(w, "x-tar")]

        def extract_ours():
            shutil.rmtree(out_dirs[0], ignore_errors=True)
            return benchlib.timed_child([smneo, "--quiet", "extract", ours_gz, "--output-dir", out_dirs[0]])[:2]

        def extract_tar():
            shutil.rmtree(out_dirs[1], ignore_errors=True)
            os.mkdir(out_dirs[1])
            return benchlib.timed_child(["tar", "-xzf", ours_gz, "-C", out_dirs[1]])[:2]

        for label, peer_label, ours_fn, peer_fn in (
                ("digest", "b2sum", lambda: benchlib.timed_child([smneo, "--quiet", "digest", ours_gz])[:2],
                 lambda: benchlib.timed_child(["b2sum", ours_gz])[:2]),
                ("extract", "tar -xzf", extract_ours, extract_tar),
                ("inspect", "tar -tzf", lambda: benchlib.timed_child([smneo, "--quiet", "inspect", ours_gz])[:2],
                 lambda: benchlib.timed_child(["tar", "-tzf", ours_gz])[:2])):
            ctx.log("artifact: %d rounds of %s (%s, smneo)" % (small_rounds, label, peer_label))
            g = benchlib.interleave(small_rounds, {"peer": peer_fn, "smneo": ours_fn})
            a, b = med([x[0] for x in g["smneo"]]), med([x[0] for x in g["peer"]])
            # a row with a target where targets.json has one (digest), informational otherwise
            make = benchlib.target_row if label in benchlib.TARGETS else (lambda _, *a, **k: benchlib.Row(*a, **k))
            rows.append(make(label, "%s of the archive" % label, "%.3f s" % a, "%s: %.3f s" % (peer_label, b), b / a,
                             note="CPU %.3f s vs %.3f s" % (med([x[1] for x in g["smneo"]]),
                                                            med([x[1] for x in g["peer"]]))))
        if subprocess.run(["diff", "-r"] + out_dirs, stdout=subprocess.DEVNULL).returncode != 0:
            raise RuntimeError("smneo extract and tar -xzf produced different trees")
        return rows
    finally:
        shutil.rmtree(w, ignore_errors=True)


if __name__ == "__main__":
    benchlib.standalone(run, __doc__)
