"""Run in a fresh interpreter by test_retry_config.py (botocore reads
AWS_NEW_RETRIES_2026 once, at import): makes the same DescribeCompilationJob
call with boto3 and with smneo against a fake SageMaker that answers `fails`
HTTP 500s before succeeding, and prints what each did as JSON. argv[1]: a
JSON object {"config": {Config kwargs} or null, "fails": n}."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakes  # noqa: E402


def outcome(call, fake):
    before = len(fake.requests)
    try:
        md = call()["ResponseMetadata"]
        raised = False
    except Exception as e:  # botocore's or smneo's ClientError
        md = e.response["ResponseMetadata"]
        raised = True
    return {"requests": len(fake.requests) - before, "raised": raised, "RetryAttempts": md.get("RetryAttempts"),
            "MaxAttemptsReached": md.get("MaxAttemptsReached", False)}


def main():
    spec = json.loads(sys.argv[1])
    import boto3
    from botocore.config import Config
    import smneo
    time.sleep = lambda s: None  # botocore's back-off (smneo's is scaled down below)
    out = {}
    with fakes.FakeSageMaker() as fake:
        def queue():
            for _ in range(spec["fails"]):
                fake.queue("DescribeCompilationJob", 500, {"__type": "InternalFailure", "message": "boom"})
        cfg = Config(**spec["config"]) if spec.get("config") is not None else None
        try:
            b = boto3.client("sagemaker", region_name="us-east-1", endpoint_url=fake.url,
                             aws_access_key_id=fakes.KEY, aws_secret_access_key=fakes.SECRET, config=cfg)
        except Exception:
            b = None
        try:
            s = smneo.Client(region_name="us-east-1", endpoint_url=fake.url, aws_access_key_id=fakes.KEY,
                             aws_secret_access_key=fakes.SECRET, config=cfg, _retry_backoff_scale=0.0001)
        except Exception:
            s = None
        if b is None or s is None:  # a setting both refuse: nothing to compare but that
            print(json.dumps({"boto3": {"refused": b is None}, "smneo": {"refused": s is None}}))
            return
        queue()
        out["boto3"] = outcome(lambda: b.describe_compilation_job(CompilationJobName="job-1"), fake)
        out["boto3"]["mode"] = b.meta.config.retries["mode"]
        fake._queues.clear()
        queue()
        out["smneo"] = outcome(lambda: s.describe_compilation_job(CompilationJobName="job-1"), fake)
        out["smneo"]["mode"] = s.retry_mode
        s.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
