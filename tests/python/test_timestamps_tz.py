"""Timestamps as botocore returns them (issue 13, item 7): aware datetimes in
the local zone (botocore's tzlocal()), checked under TZ=America/Los_Angeles
against botocore's parser on the same bytes, winter and summer."""
import json
import os
import subprocess
import sys

import smneo
from fakes import need_module

PYDIR = os.path.dirname(os.path.dirname(smneo.__file__))

CODE = r"""
import datetime, json, sys
import smneo
from botocore import parsers, session

ops = session.get_session().get_service_model("sagemaker")
for ts in (1704067200.5, 1719792000, 0, 1699173000, 1699176600):
    body = json.dumps({"CompilationJobSummaries": [
        {"CompilationJobName": "a", "CompilationJobArn": "arn:aws:sagemaker:us-east-1:1:compilation-job/a",
         "CreationTime": ts, "CompilationJobStatus": "COMPLETED"}]}).encode()
    ours = smneo.parse_response("ListCompilationJobs", 200, {}, body)["CompilationJobSummaries"][0]["CreationTime"]
    theirs = parsers.create_parser("json").parse(
        {"status_code": 200, "headers": {}, "body": body},
        ops.operation_model("ListCompilationJobs").output_shape)["CompilationJobSummaries"][0]["CreationTime"]
    later, their_later = ours + datetime.timedelta(days=200), theirs + datetime.timedelta(days=200)
    print(json.dumps([str(ours), ours.tzname(), ours.utcoffset().total_seconds(),
                      str(theirs), theirs.tzname(), theirs.utcoffset().total_seconds(), ours.timestamp() == theirs.timestamp(),
                      str(later), str(their_later), later == their_later, repr(ours.tzinfo), ours.fold]))
"""


def run(tz):
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, PYTHONPATH=PYDIR, TZ=tz))
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_timestamps_are_local_as_botocores_under_los_angeles():
    need_module("botocore.parsers")
    rows = run("America/Los_Angeles")
    assert [r[:3] for r in rows] == [r[3:6] for r in rows]
    assert all(r[6] for r in rows)
    assert rows[0][:3] == ["2023-12-31 16:00:00.500000-08:00", "PST", -8 * 3600]
    assert rows[1][:3] == ["2024-06-30 17:00:00-07:00", "PDT", -7 * 3600]
    # 01:30 twice on 2023-11-05: PDT, then (fold) PST, as botocore's tzlocal() gives them
    assert rows[3][:3] == ["2023-11-05 01:30:00-07:00", "PDT", -7 * 3600]
    assert rows[4][:3] == ["2023-11-05 01:30:00-08:00", "PST", -8 * 3600] and rows[4][11] == 1
    # arithmetic across a DST change lands on the new offset, as with botocore's tzinfo
    assert all(r[7] == r[8] and r[9] for r in rows)
    assert rows[0][7] == "2024-07-18 16:00:00.500000-07:00"
    assert all(r[10] == "tzlocal()" for r in rows)


def test_timestamps_in_utc_zone():
    need_module("botocore.parsers")
    rows = run("UTC")
    assert [r[:3] for r in rows] == [r[3:6] for r in rows]
    assert rows[1][:3] == ["2024-07-01 00:00:00+00:00", "UTC", 0]


SAME_AS_FROMTIMESTAMP = r"""
import datetime, json, sys
import smneo

stamps = [0, 0.5, -0.5, 1.0000005, 1.0000015, 2.0000025, -1.0000005, 1704067200.5, 1719792000.9999996,
          1719792000.9999994, 1710064799.999999, 1710064800, 1730624399.5, 1730624400.25, -86400.75,
          -2208988800.123456, 253402300799.999, 253402300799, -62135596800, 1e-7, 0.1, 1234567890.123456789]
out = []
for ts in stamps:
    body = json.dumps({"CompilationJobSummaries": [
        {"CompilationJobName": "a", "CompilationJobArn": "arn:aws:sagemaker:us-east-1:1:compilation-job/a",
         "CreationTime": ts, "CompilationJobStatus": "COMPLETED"}]}).encode()
    try:
        ours = smneo.parse_response("ListCompilationJobs", 200, {}, body)["CompilationJobSummaries"][0]["CreationTime"]
    except Exception as e:
        out.append([ts, "error", type(e).__name__])
        continue
    ref = datetime.datetime.fromtimestamp(ts, ours.tzinfo)  # what the zone's own conversion gives
    out.append([ts, repr(ours), repr(ref), ours.fold, ref.fold])
print(json.dumps(out))
"""


def test_timestamp_fields_match_fromtimestamp_with_the_same_zone():
    """smneo builds the datetime from its fields: the same as
    datetime.fromtimestamp(ts, zone) (rounding half to even to microseconds,
    negative fractions, DST edges, years 1 and 9999) in two zones."""
    for tz in ("America/Los_Angeles", "UTC", "Asia/Kolkata"):
        out = subprocess.run([sys.executable, "-c", SAME_AS_FROMTIMESTAMP], capture_output=True, text=True,
                             timeout=120, env=dict(os.environ, PYTHONPATH=PYDIR, TZ=tz))
        assert out.returncode == 0, out.stderr
        rows = json.loads(out.stdout)
        assert len(rows) == 22
        for row in rows:
            if row[1] == "error":
                continue
            assert row[1] == row[2] and row[3] == row[4], (tz, row)
        assert sum(row[1] != "error" for row in rows) >= 20, rows


FALLBACK = r"""
import datetime, json
from dateutil import tz as dateutil_tz
from smneo import _tz

ours, theirs = _tz.tzlocal(), dateutil_tz.tzlocal()
out = []
for ts in (0, 1699173000, 1699176600, 1710064799, 1710064800, 1719792000.25, 1704067200.5):
    a, b = datetime.datetime.fromtimestamp(ts, ours), datetime.datetime.fromtimestamp(ts, theirs)
    c, d = a + datetime.timedelta(days=200), b + datetime.timedelta(days=200)
    out.append([str(a), str(b), a.fold, b.fold, a.tzname(), b.tzname(), str(a.dst()), str(b.dst()),
                str(c), str(d), a.timestamp(), b.timestamp()])
print(json.dumps(out))
"""


def test_the_stand_in_zone_behaves_as_dateutils_tzlocal():
    """smneo._tz.tzlocal (used where dateutil is not installed) gives the
    wall-clock fields, fold, names, DST and arithmetic of dateutil's."""
    need_module("dateutil.tz")
    for zone in ("America/Los_Angeles", "Europe/Berlin", "UTC"):
        out = subprocess.run([sys.executable, "-c", FALLBACK], capture_output=True, text=True, timeout=120,
                             env=dict(os.environ, PYTHONPATH=PYDIR, TZ=zone))
        assert out.returncode == 0, out.stderr
        for row in json.loads(out.stdout):
            assert row[0::2] == row[1::2], (zone, row)


SPAN = r"""
import datetime, json, random, time, os
import smneo

def parse(stamps):
    body = json.dumps({"CompilationJobSummaries": [
        {"CompilationJobName": "a", "CompilationJobArn": "arn:aws:sagemaker:us-east-1:1:compilation-job/a",
         "CreationTime": ts, "CompilationJobStatus": "COMPLETED"} for ts in stamps]}).encode()
    got = smneo.parse_response("ListCompilationJobs", 200, {}, body)["CompilationJobSummaries"]
    return [s["CreationTime"] for s in got]

def check(stamps):
    bad = []
    for ts, ours in zip(stamps, parse(stamps)):
        ref = datetime.datetime.fromtimestamp(ts, ours.tzinfo)
        if (repr(ours), ours.fold, ours.tzname(), ours.utcoffset()) != (repr(ref), ref.fold, ref.tzname(), ref.utcoffset()):
            bad.append([os.environ["TZ"], ts, repr(ours), repr(ref)])
    return bad

rng = random.Random(17)
bad = []
for zone, changes in json.loads(os.environ["ZONES"]):
    os.environ["TZ"] = zone
    time.tzset()
    for change in changes:
        # hour by hour across the change, forwards, backwards, then shuffled, and a day apart
        walk = [change + h * 3600 + 0.25 for h in range(-60, 61)]
        for stamps in (walk, walk[::-1], rng.sample(walk, len(walk)),
                       [change + d * 86400 for d in range(-5, 6)], [change + d * 86400 - 1 for d in range(5, -6, -1)]):
            bad += check(stamps)
# New York's summer days learnt, then a zone of the same names and offsets whose summer ended a week earlier
os.environ["TZ"] = "America/New_York"
time.tzset()
bad += check([1729400000 + d * 86400 for d in range(12)])
os.environ["TZ"] = "EST5EDT,M4.1.0,M10.5.0"
time.tzset()
bad += check([1730100000 + h * 3600 for h in range(48)])
print(json.dumps(bad))
"""


def test_timestamps_near_offset_changes_in_one_process():
    """The offsets learnt for one timestamp serve the next ones (one
    response, then the next) without asking the C library each time: every
    datetime still equals datetime.fromtimestamp(ts, zone) hour by hour
    across DST changes, walked forwards, backwards and shuffled, in zones
    with 30-minute and negative DST, and after time.tzset() switched to a
    zone of the same names and offsets but other change dates."""
    zones = [
        ("America/Los_Angeles", [1710064800, 1730624400]),
        ("Australia/Lord_Howe", [1712415600, 1728142200]),  # DST of 30 minutes
        ("Europe/Dublin", [1711846800, 1729990800]),  # winter is the "DST" (negative)
        ("America/New_York", [1710054000, 1730613600]),
        ("EST5EDT,M4.1.0,M10.5.0", [1712473200, 1730008800]),  # the same names and offsets, other dates
        ("UTC", [0]),
    ]
    out = subprocess.run([sys.executable, "-c", SPAN], capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, PYTHONPATH=PYDIR, TZ="UTC", ZONES=json.dumps(zones)))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []
