"""smneo.explain (docs/diagnosis.md) against jobs failed in smneo.local: each
failure of smneo.local's own catalogue and each case of
tests/fixtures/diagnosis/cases.json, described with smneo's and boto3's
clients, the log read through boto3's CloudWatch Logs client; the answer's
fields, the text, unknown and not-failed answers, hostile input, and the
catalogue's documentation."""
import json
import os
import re
import time

import pytest

import smneo
from local_fixtures import Server, admin, client, job_request
from test_refleak import _check

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
with open(os.path.join(ROOT, "tests", "fixtures", "diagnosis", "cases.json"), encoding="utf-8") as f:
    FIXTURE = json.load(f)
with open(os.path.join(ROOT, "model", "neo-failures.json"), encoding="utf-8") as f:
    CATALOGUE = json.load(f)
ENTRIES = {e["id"]: e for e in CATALOGUE["failures"]}
GROUP = "/aws/sagemaker/CompilationJobs"


def braces_doubled(text):
    """smneo.local's fault texts are format strings: keep braces literal."""
    return text.replace("{", "{{").replace("}", "}}")


def case_request(name, case=None):
    case = case or {}
    framework = case.get("framework", "PYTORCH")
    req = job_request(name, framework=framework,
                      target=case.get("platform") or case.get("target", "ml_c5"))
    req["InputConfig"]["DataInputConfig"] = {
        "PYTORCH": '{"input0": [1, 3, 224, 224]}', "TENSORFLOW": '{"input": [1, 224, 224, 3]}',
    }.get(framework, '{"data": [1, 3, 416, 416]}')
    if case.get("compiler_options"):
        req["OutputConfig"]["CompilerOptions"] = case["compiler_options"]
    return req


def check(d, want_id, want_evidence, what):
    assert isinstance(d, smneo.Diagnosis)
    assert d.id == want_id, "%s: %s, expected %s\n%s" % (what, d.id, want_id, d)
    if want_id == "unknown":
        assert not d.matched and d.category == "system" and "does not recognise" in d.title
    else:
        e = ENTRIES[want_id]
        assert d.matched and d.category == e["category"] and d.rule == e["rule"], what
        assert d.title == e["title"] and d.cause == e["cause"] and d.fix == e["fix"], what
        assert d.source == CATALOGUE["sources"][e["source"]], what
    if want_evidence == "log":
        assert d.evidence_source == "log" and isinstance(d.evidence_line, int), what
    else:
        assert d.evidence_source == "FailureReason" and d.evidence == d.failure_reason, what
        assert d.evidence_line is None
    assert ("Diagnosis: %s (" % want_id) in str(d)


@pytest.fixture(scope="module")
def failed_jobs():
    """One job per smneo.local failure and per fixture case, all FAILED."""
    with Server(port=0, job_duration=0.2) as server:
        sm = client(server, "sagemaker")
        jobs = []
        for k, (failure, want) in enumerate(sorted(FIXTURE["local"].items())):
            name = "diag-py-local-%d" % k
            server.fail_jobs(failure, job=name)
            sm.create_compilation_job(**case_request(name))
            jobs.append((name, "smneo.local " + failure, want, "FailureReason"))
        for k, case in enumerate(FIXTURE["cases"]):
            name = "diag-py-case-%d" % k
            server.fail_jobs(job=name, reason=braces_doubled(case["reason"]),
                             log=[braces_doubled(line) for line in case["log"]])
            sm.create_compilation_job(**case_request(name, case))
            jobs.append((name, case["name"], case["id"], case["evidence"]))
        deadline = time.time() + 60
        for name, *_ in jobs:
            while sm.describe_compilation_job(CompilationJobName=name)["CompilationJobStatus"] != "FAILED":
                assert time.time() < deadline, "job %s did not fail" % name
                time.sleep(0.05)
        yield server, jobs


def job_log(logs, name):
    """The job's log through boto3's logs client: every stream named after the
    job, merged in time order (FilterLogEvents with the job's name as prefix)."""
    pages = logs.get_paginator("filter_log_events").paginate(logGroupName=GROUP, logStreamNamePrefix=name)
    return [e for page in pages for e in page["events"]
            if e["logStreamName"] == name or e["logStreamName"].startswith(name + "/")]


def test_every_failure_explained_with_smneo_client(failed_jobs):
    server, jobs = failed_jobs
    logs = client(server, "logs")
    with smneo.Client(region_name="us-east-1", endpoint_url=server.url, aws_access_key_id="test",
                      aws_secret_access_key="test") as sm:
        for name, what, want, evidence in jobs:
            desc = sm.describe_compilation_job(CompilationJobName=name)
            events = job_log(logs, name)
            assert len(events) >= 3, what
            d = smneo.explain(desc, events)  # events: dicts with "message"
            check(d, want, evidence, what)
            assert d.job_name == name and d.status == "FAILED" and d.failure_reason == desc["FailureReason"]
            assert d.issues == []
            if evidence == "log":
                assert d.evidence == events[d.evidence_line]["message"]


def test_every_failure_explained_with_boto3(failed_jobs):
    """boto3's description (with datetimes and ResponseMetadata) and plain lines."""
    server, jobs = failed_jobs
    sm, logs = client(server, "sagemaker"), client(server, "logs")
    for name, what, want, evidence in jobs:
        desc = sm.describe_compilation_job(CompilationJobName=name)
        lines = [e["message"] for e in job_log(logs, name)]
        check(smneo.explain(desc, lines), want, evidence, what)
        if evidence == "FailureReason":
            check(smneo.explain(desc["FailureReason"]), want, evidence, what + " (reason alone)")


def test_local_failures_quote_aws_as_the_real_service_would():
    """smneo.local's texts that quote AWS's wording match the entry the real
    message does (the fixture's AWS cases)."""
    local = json.load(open(os.path.join(ROOT, "python", "smneo", "local", "failures.json")))["failures"]
    assert set(local) == set(FIXTURE["local"]), "every smneo.local failure needs an expected entry"
    aws_ids = {c["id"] for c in FIXTURE["cases"] if c["quote"].startswith("neo-troubleshooting")}
    for name, f in local.items():
        if f["source"].startswith("https://docs.aws.amazon.com/") and "plausible" not in f["source"]:
            assert FIXTURE["local"][name] in aws_ids, name


def test_unknown_says_so_plainly():
    d = smneo.explain({"CompilationJobStatus": "FAILED", "FailureReason": "ClientError: the moon is wrong"},
                      ["compiler output", "more output"])
    assert d.id == "unknown" and d.category == "system" and not d.matched and d.rule is None
    assert "smneo does not recognise this failure" in str(d)
    assert "system error" in d.cause and "AWS Support" in d.fix
    assert d.evidence == "ClientError: the moon is wrong" and d.evidence_source == "FailureReason"
    nothing = smneo.explain(None)
    assert nothing.id == "unknown" and "Nothing to go on" in nothing.cause and nothing.evidence is None


def test_not_failed():
    d = smneo.explain({"CompilationJobStatus": "COMPLETED", "FailureReason": "OperatorNotImplemented"})
    assert d.id == "not-failed" and d.category == "none" and "COMPLETED" in d.cause and d.source is None


def test_parameters_point_at_an_entry():
    desc = case_request("nv", {"platform": {"Os": "LINUX", "Arch": "ARM64", "Accelerator": "NVIDIA"}})
    desc.update(CompilationJobStatus="FAILED", FailureReason="InternalServerError: boom")
    d = smneo.explain(desc)
    assert d.id == "nvidia-compiler-options" and d.evidence_source == "validation"
    assert sorted(i.path for i in d.issues) == ["OutputConfig.CompilerOptions.cuda-ver",
                                                "OutputConfig.CompilerOptions.gpu-code",
                                                "OutputConfig.CompilerOptions.trt-ver"]
    assert all(isinstance(i, smneo.Issue) and i.rule == "neo.compiler-options.missing" for i in d.issues)


def test_repr_and_pretty():
    d = smneo.explain("ClientError: InputConfiguration: No h5 file provided in s3://b/k")
    assert repr(d) == "<smneo.Diagnosis keras-no-h5 (load): The Keras archive has no .h5 model>"
    assert d["id"] == d.id and dict(d)["rule"] == "artifact.keras.no-model"
    with pytest.raises(AttributeError):
        d.nonexistent

    class Printer:
        def __init__(self):
            self.out = []

        def text(self, s):
            self.out.append(s)

    p = Printer()
    d._repr_pretty_(p, False)
    assert p.out == [str(d)] and not str(d).endswith("\n")
    assert str(d).splitlines()[0] == "Diagnosis: keras-no-h5 (a load error): The Keras archive has no .h5 model"


def test_bad_arguments():
    with pytest.raises(TypeError, match="description"):
        smneo.explain(42)
    with pytest.raises(TypeError, match="iterable of lines"):
        smneo.explain(None, "one string of many lines")
    with pytest.raises(TypeError, match="message"):
        smneo.explain(None, [{"timestamp": 1}])
    with pytest.raises(TypeError, match=r"logs\[1\]"):
        smneo.explain(None, ["ok", 3])
    with pytest.raises(TypeError):
        smneo.explain(None, 5)


def test_hostile_input():
    huge = "Bucket " + " Bucket x is in region y which " * 200000  # 6 MB, backtracking bait
    evil = b"\xff\xfe\x1b[31mERROR\x1b[0m \x00 \xc0\xaf OperatorNotImplemented: \xe2\x82 'Grid\x07'\x9b"
    surrogate = "OperatorAttributeRequired: \udcff\udcfe" + "\x1b]0;title\x07"
    lines = ["INFO: quiet"] * 30000 + [huge, evil, "tail"]
    d = smneo.explain({"FailureReason": "InternalServerError\x1b[2J\x00x", "CompilationJobStatus": "FAILED"}, lines)
    assert d.id == "operator-not-implemented" and d.evidence_line == len(lines) - 2
    for text in (d.evidence, d.failure_reason, str(d)):
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", text), repr(text)
    assert "\ufffd" in d.evidence
    d = smneo.explain(None, [surrogate])
    assert d.id == "operator-attribute-required" and "\x1b" not in d.evidence
    assert smneo.explain(None, ["x" * 5000 + " OperatorNotImplemented"]).id == "operator-not-implemented"
    assert smneo.explain(None, ["x" * 20000 + " OperatorNotImplemented"]).id == "unknown"  # past 16 KiB
    d = smneo.explain(None, ["OperatorNotImplemented " + "\u00e9" * 3000])
    assert d.id == "operator-not-implemented" and d.evidence.endswith("...") and len(d.evidence.encode()) <= 1027


def test_docs_list_every_entry_and_rules_exist():
    doc = open(os.path.join(ROOT, "docs", "diagnosis.md"), encoding="utf-8").read()
    validation = open(os.path.join(ROOT, "docs", "validation.md"), encoding="utf-8").read()
    artifacts = open(os.path.join(ROOT, "docs", "artifacts.md"), encoding="utf-8").read()
    rules = set(re.findall(r"^### `(neo\.[a-z0-9.-]+)`", validation, re.M))
    for row in re.findall(r"^\| `(artifact\.[^|]+)\|", artifacts, re.M):
        names = re.findall(r"`([a-z0-9.-]+)`", "`" + row)
        base = names[0].rsplit(".", 1)[0]
        rules.update(n if n.startswith("artifact.") else base + n for n in names)
    for e in CATALOGUE["failures"]:
        assert "### `%s`" % e["id"] in doc
        assert CATALOGUE["sources"][e["source"]] in doc
        for r in ([e["rule"]] if e["rule"] else []) + e["related_rules"]:
            assert r in rules, "%s names rule %s, which docs/validation.md / docs/artifacts.md do not list" % (
                e["id"], r)


def test_admin_logs_endpoint_matches_the_logs_service(failed_jobs):
    """GET /_smneo/logs?job= (what the C, Lua and CLI tests read) is the job's
    log as CloudWatch Logs serves it."""
    server, jobs = failed_jobs
    logs = client(server, "logs")
    for name, *_ in jobs[:5]:
        status, doc = admin(server, "GET", "/_smneo/logs?job=" + name)
        assert status == 200
        want = [(e["logStreamName"], e["timestamp"], e["message"]) for e in job_log(logs, name)]
        assert [(e["stream"], e["timestamp"], e["message"]) for e in doc["events"]] == want
        assert any(e["message"].startswith("Compilation job %s failed: " % name) for e in doc["events"])
    assert admin(server, "GET", "/_smneo/logs?job=no-such-job") == (200, {"events": []})
    status, doc = admin(server, "GET", "/_smneo/logs")
    assert status == 400 and "job=" in doc["error"]


def test_explain_does_not_leak():
    desc = {"CompilationJobName": "j", "CompilationJobStatus": "FAILED", "FailureReason": "InternalServerError",
            "InputConfig": {"S3Uri": "s3://b/m.tar.gz", "Framework": "PYTORCH"},
            "OutputConfig": {"S3OutputLocation": "s3://b/o", "TargetPlatform": {
                "Os": "LINUX", "Arch": "ARM64", "Accelerator": "NVIDIA"}}}
    lines = ["a", {"message": "OperatorNotImplemented: x"}, b"\xff bytes"]

    def call():
        smneo.explain(desc, lines)
        str(smneo.explain("ClientError: unknown"))
        try:
            smneo.explain(None, ["ok", 3])
        except TypeError:
            pass
    _check(call, rounds=300)
