"""Helpers for test_local_parity.py: compare what smneo.Client and
boto3.client("sagemaker") return for the same call against one smneo.local."""
import datetime
import time

# Per-response values that legitimately differ between two calls.
VOLATILE_HEADERS = ("date", "x-amzn-requestid")


class Clock:
    """The server's job clock: real time, or frozen at a given epoch second so
    both clients see the same job state (no transition between their calls)."""

    def __init__(self):
        self.frozen = None

    def __call__(self):
        return time.time() if self.frozen is None else self.frozen

    def freeze(self, at=None):
        self.frozen = time.time() if at is None else at
        return self.frozen

    def thaw(self):
        self.frozen = None


def normalize(value):
    """A copy with ResponseMetadata's RequestId and date/request-id headers
    removed (at any depth: pages of a paginator carry one each).

    Header values are compared with surrounding whitespace stripped: HTTP
    defines a field value without its optional whitespace (RFC 9110 5.5),
    http.client (boto3) keeps a trailing space that libcurl-based smneo
    drops, and smneo.local sends `Server: smneo.local ` with one."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k == "ResponseMetadata" and isinstance(v, dict):
                meta = {mk: mv for mk, mv in v.items() if mk != "RequestId"}
                if "HTTPHeaders" in meta:
                    meta["HTTPHeaders"] = {hk: hv.strip() for hk, hv in meta["HTTPHeaders"].items()
                                           if hk not in VOLATILE_HEADERS}
                out[k] = meta
            else:
                out[k] = normalize(v)
        return out
    if isinstance(value, list):
        return [normalize(v) for v in value]
    return value


def differences(a, b, path="$"):
    """Every difference between a (smneo) and b (boto3), member for member,
    including the Python type of each value. Datetimes must both be aware and
    denote the same instant (both in the local zone; smneo's tzinfo is a
    datetime.timezone, botocore's tzlocal())."""
    out = []
    if type(a) is not type(b):
        out.append("%s: type %s (smneo) != %s (boto3): %r vs %r"
                   % (path, type(a).__name__, type(b).__name__, a, b))
        return out
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a:
                out.append("%s.%s: only boto3 has it: %r" % (path, k, b[k]))
            elif k not in b:
                out.append("%s.%s: only smneo has it: %r" % (path, k, a[k]))
            else:
                out.extend(differences(a[k], b[k], "%s.%s" % (path, k)))
    elif isinstance(a, list):
        if len(a) != len(b):
            out.append("%s: %d items (smneo) != %d (boto3)" % (path, len(a), len(b)))
        for i, (x, y) in enumerate(zip(a, b)):
            out.extend(differences(x, y, "%s[%d]" % (path, i)))
    elif isinstance(a, datetime.datetime):
        if a.utcoffset() is None or b.utcoffset() is None:
            out.append("%s: naive datetime: %r vs %r" % (path, a, b))
        elif a != b:
            out.append("%s: %s (smneo) != %s (boto3)" % (path, a.isoformat(), b.isoformat()))
    elif a != b:
        out.append("%s: %r (smneo) != %r (boto3)" % (path, a, b))
    return out


def assert_same(ours, theirs, what=""):
    """ours (smneo) equals theirs (boto3) after normalize()."""
    diffs = differences(normalize(ours), normalize(theirs))
    assert not diffs, "%s: smneo and boto3 differ:\n  %s" % (what or "result", "\n  ".join(diffs))


def error_of(excinfo_value):
    """(exception class name, Code, Message, HTTPStatusCode) of a ClientError."""
    r = excinfo_value.response
    return (type(excinfo_value).__name__, r["Error"]["Code"], r["Error"]["Message"],
            r["ResponseMetadata"]["HTTPStatusCode"])


def both_raise(call, clients, **kwargs):
    """Run call(client, **kwargs) on (smneo, boto3); both must raise a
    ClientError. Returns the two exceptions."""
    errors = []
    for c in clients:
        try:
            result = call(c, **kwargs)
        except c.exceptions.ClientError as e:
            errors.append(e)
        else:
            raise AssertionError("%s did not raise: %r" % (type(c).__module__, result))
    return errors
