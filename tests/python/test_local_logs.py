"""smneo.local's CloudWatch Logs through boto3's logs client: the compile log
each job writes as it runs, the three operations' paging rules, errors."""
import re

import pytest

from local_fixtures import FakeClock, Server, client, error_of, job_request, tgz
from local_fixtures import server  # noqa: F401  (fixture)

from botocore.exceptions import ClientError  # noqa: E402

GROUP = "/aws/sagemaker/CompilationJobs"
T0 = 1700000000.0


@pytest.fixture
def clocked():
    clock = FakeClock(T0)
    with Server(job_duration=8.0, clock=clock) as srv:
        s3 = client(srv, "s3")
        s3.create_bucket(Bucket="models")
        s3.put_object(Bucket="models", Key="in/model.tar.gz",
                      Body=tgz({"model.pth": b"w" * 10}))
        srv.clock_ = clock
        yield srv


def refused(call, **kw):
    with pytest.raises(ClientError) as e:
        call(**kw)
    return error_of(e)


def messages(events):
    return [e["message"] for e in events]


def test_job_log_is_written_as_the_job_runs(clocked):
    clock, logs = clocked.clock_, client(clocked, "logs")
    client(clocked, "sagemaker").create_compilation_job(**job_request("resnet"))
    assert refused(logs.describe_log_streams, logGroupName=GROUP) == (
        "ResourceNotFoundException", 400, "The specified log group does not exist.")
    clock.now = T0 + 2.5                      # INPROGRESS since T0 + 2
    assert [s["logStreamName"] for s in
            logs.describe_log_streams(logGroupName=GROUP)["logStreams"]] == ["resnet"]
    assert refused(logs.get_log_events, logGroupName=GROUP,
                   logStreamName="resnet/compilation") == (
        "ResourceNotFoundException", 400, "The specified log stream does not exist.")
    clock.now = T0 + 8
    streams = logs.describe_log_streams(logGroupName=GROUP)["logStreams"]
    assert [s["logStreamName"] for s in streams] == [
        "resnet", "resnet/compilation", "resnet/model-info-extraction", "resnet/packaging"]
    assert streams[0]["arn"] == ("arn:aws:logs:us-east-1:123456789012:log-group:%s:"
                                 "log-stream:resnet" % GROUP)
    events = logs.filter_log_events(logGroupName=GROUP,
                                    logStreamNamePrefix="resnet")["events"]
    stamps = [e["timestamp"] for e in events]
    assert stamps == sorted(stamps) and stamps[0] == (T0 + 2) * 1000
    assert stamps[-1] == (T0 + 8) * 1000
    assert events[0]["message"].startswith("[smneo.local] simulated compilation log")
    assert events[-1]["message"] == "Compilation job resnet completed"
    assert {e["logStreamName"] for e in events} == {s["logStreamName"] for s in streams}


def test_failed_job_log_holds_the_failure_and_logs_can_be_denied(clocked):
    clock = clocked.clock_
    clocked.fail_jobs("unsupported-operator", job="res*", params={"operators":
                                                                   "{'aten::roll'}"})
    sm, logs = client(clocked, "sagemaker"), client(clocked, "logs")
    sm.create_compilation_job(**job_request("resnet"))
    clock.now = T0 + 8
    reason = sm.describe_compilation_job(CompilationJobName="resnet")["FailureReason"]
    assert reason == ("ClientError: InputConfiguration: TVM cannot convert PYTORCH model. "
                      "Please make sure the framework you selected is correct. The "
                      "following operators are not implemented: {'aten::roll'}")
    comp = messages(logs.get_log_events(logGroupName=GROUP,
                                        logStreamName="resnet/compilation",
                                        startFromHead=True)["events"])
    assert comp[0] == "Loading the PYTORCH model"
    assert "OperatorNotImplemented: The following operators are not implemented: " \
           "{'aten::roll'}" in comp[-1]
    main = messages(logs.get_log_events(logGroupName=GROUP, logStreamName="resnet")["events"])
    assert main[-1] == "Compilation job resnet failed: " + reason
    assert refused(logs.get_log_events, logGroupName=GROUP,
                   logStreamName="resnet/packaging")[0] == "ResourceNotFoundException"
    # a missing logs:GetLogEvents permission, while other services answer
    clocked.add_fault({"kind": "deny", "target": "logs", "rate": 1.0})
    code, status, msg = refused(logs.get_log_events, logGroupName=GROUP,
                                logStreamName="resnet")
    assert (code, status) == ("AccessDeniedException", 400)
    assert "is not authorized to perform: logs:GetLogEvents" in msg
    sm.describe_compilation_job(CompilationJobName="resnet")
    clocked.clear_faults()
    logs.get_log_events(logGroupName=GROUP, logStreamName="resnet")


def test_get_log_events_tokens(server):
    server.put_log_events("g", "s", [(T0 + i, "e%d" % i) for i in range(25)])
    logs = client(server, "logs")

    def page(**kw):
        r = logs.get_log_events(logGroupName="g", logStreamName="s", limit=10, **kw)
        return messages(r["events"]), r["nextForwardToken"], r["nextBackwardToken"]

    got, fwd, back = page(startFromHead=True)
    assert got == ["e%d" % i for i in range(10)] and back.startswith("b/")
    seen = list(got)
    while True:
        got, nxt, _ = page(nextToken=fwd)
        if nxt == fwd:                        # the end: the token comes back unchanged
            assert got == []
            break
        seen += got
        fwd = nxt
    assert seen == ["e%d" % i for i in range(25)]
    # appended events are read with the same forward token (follow mode)
    server.put_log_events("g", "s", [(T0 + 30, "late")])
    assert page(nextToken=fwd)[0] == ["late"]
    # default: the newest events; backward tokens walk to the start
    got, _, back = page()
    assert got == ["e%d" % i for i in range(16, 25)] + ["late"]
    got, _, back = page(nextToken=back)
    assert got == ["e%d" % i for i in range(6, 16)]
    got, _, back2 = page(nextToken=back)
    assert got == ["e%d" % i for i in range(6)]
    assert page(nextToken=back2) == ([], page(nextToken=back2)[1], back2)
    # endTime is exclusive here, startTime inclusive
    got = page(startFromHead=True, startTime=int((T0 + 3) * 1000),
               endTime=int((T0 + 6) * 1000))[0]
    assert got == ["e3", "e4", "e5"]
    server.put_log_events("g", "other", [(T0, "x")])
    for token in ("f/123/s", fwd.replace("f/", "x/")):
        assert refused(logs.get_log_events, logGroupName="g", logStreamName="s",
                       nextToken=token) == ("InvalidParameterException", 400,
                                            "The specified nextToken is invalid.")
    assert refused(logs.get_log_events, logGroupName="g", logStreamName="other",
                   nextToken=fwd)[0] == "InvalidParameterException"
    assert refused(logs.get_log_events, logStreamName="s")[:2] == (
        "InvalidParameterException", 400)
    assert refused(logs.get_log_events, logGroupName="g", logGroupIdentifier="g",
                   logStreamName="s")[0] == "InvalidParameterException"
    arn = "arn:aws:logs:us-east-1:123456789012:log-group:g"
    assert logs.get_log_events(
        logGroupIdentifier=arn, logStreamName="other")["events"][0]["message"] == "x"
    server.configure(logs_page_limit=3)
    r = logs.get_log_events(logGroupName="g", logStreamName="s", startFromHead=True)
    assert messages(r["events"]) == ["e0", "e1", "e2"]


def test_filter_and_describe_paging(server):
    server.put_log_events("g", "job/a", [(T0 + 2 * i, "a%d error" % i if i % 2 else
                                          "a%d" % i) for i in range(6)])
    server.put_log_events("g", "job/b", [(T0 + 2 * i + 1, "b%d" % i) for i in range(6)])
    server.put_log_events("g", "zeta", [(T0 + 100, "z")])
    logs = client(server, "logs")
    pages = list(logs.get_paginator("filter_log_events").paginate(
        logGroupName="g", logStreamNamePrefix="job/", PaginationConfig={"PageSize": 4}))
    got = [m for p in pages for m in messages(p["events"])]
    assert [len(p["events"]) for p in pages] == [4, 4, 4]
    assert got == [x for i in range(6) for x in (
        "a%d error" % i if i % 2 else "a%d" % i, "b%d" % i)]
    assert "nextToken" not in pages[-1]
    assert messages(logs.filter_log_events(logGroupName="g", filterPattern="error -a3")[
        "events"]) == ["a1 error", "a5 error"]
    assert messages(logs.filter_log_events(
        logGroupName="g", logStreamNames=["job/b"], startTime=int((T0 + 3) * 1000),
        endTime=int((T0 + 7) * 1000))["events"]) == ["b1", "b2", "b3"]
    assert refused(logs.filter_log_events, logGroupName="g", logStreamNames=["job/a"],
                   logStreamNamePrefix="job")[0] == "InvalidParameterException"
    streams = list(logs.get_paginator("describe_log_streams").paginate(
        logGroupName="g", PaginationConfig={"PageSize": 2}))
    assert [[s["logStreamName"] for s in p["logStreams"]] for p in streams] == [
        ["job/a", "job/b"], ["zeta"]]
    newest = logs.describe_log_streams(logGroupName="g", orderBy="LastEventTime",
                                       descending=True)["logStreams"]
    assert [s["logStreamName"] for s in newest] == ["zeta", "job/b", "job/a"]
    assert newest[0]["lastEventTimestamp"] == (T0 + 100) * 1000
    assert refused(logs.describe_log_streams, logGroupName="g", orderBy="LastEventTime",
                   logStreamNamePrefix="job") == (
        "InvalidParameterException", 400,
        "Cannot order by LastEventTime with a logStreamNamePrefix.")
    raw = client(server, "logs", parameter_validation=False)
    assert refused(raw.describe_log_streams, logGroupName="g", limit=51) == (
        "InvalidParameterException", 400, "1 validation error detected: Value '51' at "
        "'limit' failed to satisfy constraint: Member must have value less than or equal "
        "to 50")
    assert refused(logs.describe_log_streams, logGroupName="nope")[0] == \
        "ResourceNotFoundException"


def test_every_catalogue_entry_fails_a_job_with_its_reason_and_log(clocked):
    catalogue = __import__("smneo.local.compilelog", fromlist=["CATALOGUE"]).CATALOGUE
    sm, logs = client(clocked, "sagemaker"), client(clocked, "logs")
    for name in catalogue:
        clocked.fail_jobs(name, job=name)
        sm.create_compilation_job(**job_request(name))
    clocked.clock_.now = T0 + 8
    for name, entry in catalogue.items():
        reason = sm.describe_compilation_job(CompilationJobName=name)["FailureReason"]
        assert not re.search(r"\{[a-z_]+\}", reason), (name, reason)
        assert reason.startswith(entry["reason"].split("{")[0]), name
        stream = name + ("" if entry["stage"] in ("download", "upload")
                         else "/" + entry["stage"])
        got = messages(logs.get_log_events(logGroupName=GROUP,
                                           logStreamName=stream)["events"])
        tail = got[-len(entry["log"]) - 1:-1] if stream == name else got[-len(entry["log"]):]
        assert len(tail) == len(entry["log"]) and not any(
            re.search(r"\{[a-z_]+\}", m) for m in tail), (name, got)
        assert logs.get_log_events(logGroupName=GROUP, logStreamName=name)["events"][-1][
            "message"] == "Compilation job %s failed: %s" % (name, reason)


def test_custom_failure_text_is_not_a_format_string(clocked):
    """A reason or log line of the user's own (--fault) may hold braces of
    any kind: only {name} placeholders of the job's fields are filled."""
    sm, logs = client(clocked, "sagemaker"), client(clocked, "logs")
    reason = "bad {job.x} {0} { {{ }} {unknown} in {job}"
    clocked.fail_jobs(job="braces", reason=reason, log=["shape {input_name}: {.x}"])
    sm.create_compilation_job(**job_request("braces"))
    clocked.clock_.now = T0 + 8
    got = sm.describe_compilation_job(CompilationJobName="braces")["FailureReason"]
    assert got == "bad {job.x} {0} { {{ }} {unknown} in braces"
    lines = messages(logs.get_log_events(logGroupName=GROUP,
                                         logStreamName="braces/compilation")["events"])
    assert "shape input0: {.x}" in lines
