"""The Python half of the demo (examples/demo.sh):

    python3 examples/demo_compile.py ENDPOINT_URL BUCKET ROLE_ARN OUTPUT_DIR

Compiles examples/model for a cloud instance (ml_c5) and an edge device
(TargetPlatform LINUX/ARM64 with compiler options) with
smneo.Client.compile, printing each job's status changes, the verified
digest and where the compiled files are. Exits non-zero when a compile
fails or an artifact is not verified. Credentials and region come from the
environment (the demo exports the local endpoint's test keys).
"""
import os
import sys

import smneo

MODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "model")
TARGETS = [
    ("cloud", {"target_device": "ml_c5"}),
    ("edge", {"target_os": "LINUX", "target_arch": "ARM64", "compiler_options": {"mcpu": "cortex-a72"}}),
]


def main(argv):
    url, bucket, role, out = argv[1:5]
    ok = True
    with smneo.Client(endpoint_url=url) as client:
        for name, target in TARGETS:
            print("-- python: %s" % name, flush=True)

            def on_event(ev):
                kind = ev["kind"]
                if kind == "CREATED":
                    print("created    %s" % ev["message"], flush=True)
                elif kind == "UPLOADED":
                    print("uploaded   %s" % ev["message"], flush=True)
                elif kind == "STATUS":
                    print("status     %-10s %5.1fs" % (ev["message"], ev["elapsed"]), flush=True)
                elif kind == "WARNING":
                    print("warning    %s" % ev["message"], flush=True)
                return True

            result = client.compile(MODEL, framework="PYTORCH", role_arn=role, s3_bucket=bucket,
                                    s3_prefix="demo/python", data_input_config={"input0": [1, 4]},
                                    job_name="py-" + name, output_dir=os.path.join(out, name), extract=True,
                                    timeout=60, delay=0.5, max_delay=1, callback=on_event, **target)
            job = result.job
            print("job        %s: %s" % (result.job_name, job["CompilationJobStatus"]))
            print("digest     %s (verified: %s)" % (job["ModelDigests"]["ArtifactDigest"], result.digest_verified))
            print("artifact   %s" % result.artifact_path)
            print("extracted  %s" % result.extracted_dir, flush=True)
            ok = ok and job["CompilationJobStatus"] == "COMPLETED" and result.digest_verified
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
