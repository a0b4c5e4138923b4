"""Faults on demand: request faults (throttle, 500, 503, close, slow,
truncate, reset, drop, deny) and job faults (fail: chosen compilation jobs FAIL with a
catalogue failure)."""
import fnmatch
import random
import threading

from . import compilelog

REQUEST_KINDS = ("throttle", "500", "503", "close", "slow", "truncate", "reset", "drop", "deny")
KINDS = REQUEST_KINDS + ("fail",)
TARGETS = ("sagemaker", "s3", "sts", "sso", "sso-oidc", "logs", "any")
_COMMON = {"kind", "count", "rate", "target", "operation", "delay"}
_FAIL = {"kind", "count", "rate", "failure", "job", "device", "reason", "log", "params"}


class Fault:
    def __init__(self, spec):
        if not isinstance(spec, dict):
            raise ValueError("a fault is a JSON object with at least 'kind'")
        self.kind = str(spec.get("kind"))
        if self.kind not in KINDS:
            raise ValueError("fault kind must be one of %s, not %r"
                             % (", ".join(KINDS), spec.get("kind")))
        allowed = _FAIL if self.kind == "fail" else _COMMON
        unknown = set(spec) - allowed
        if unknown:
            raise ValueError("unknown field(s) for a %s fault: %s (known: %s)"
                             % (self.kind, ", ".join(sorted(unknown)),
                                ", ".join(sorted(allowed))))
        self.target = "sagemaker" if self.kind == "fail" else spec.get("target", "any")
        if self.target not in TARGETS:
            raise ValueError("fault target must be one of %s, not %r"
                             % (", ".join(TARGETS), self.target))
        if "count" in spec and "rate" in spec:
            raise ValueError("give a fault either 'count' or 'rate', not both")
        self.count = spec.get("count")
        self.rate = spec.get("rate")
        if self.rate is None and self.count is None:
            self.count = 1
        if self.count is not None and (isinstance(self.count, bool) or
                                       not isinstance(self.count, int) or self.count < 1):
            raise ValueError("fault 'count' must be a positive integer")
        if self.rate is not None and (isinstance(self.rate, bool) or
                                      not isinstance(self.rate, (int, float)) or
                                      not 0 < self.rate <= 1):
            raise ValueError("fault 'rate' must be a number in (0, 1]")
        self.delay = spec.get("delay", 2.0)
        if isinstance(self.delay, bool) or not isinstance(self.delay, (int, float)) \
                or self.delay < 0:
            raise ValueError("fault 'delay' must be a non-negative number of seconds")
        self.operation = spec.get("operation")
        # fail faults
        self.failure = spec.get("failure")
        self.job = spec.get("job")
        self.device = spec.get("device")
        self.reason = spec.get("reason")
        self.log = spec.get("log")
        self.params = spec.get("params") or {}
        if self.kind == "fail":
            if self.failure is None and self.reason is None:
                raise ValueError("a fail fault names a catalogue 'failure' (one of %s) "
                                 "or gives its own 'reason'"
                                 % ", ".join(sorted(compilelog.CATALOGUE)))
            if self.failure is not None:
                compilelog.check_failure(self.failure)
            for name in ("job", "device", "reason"):
                v = getattr(self, name)
                if v is not None and not isinstance(v, str):
                    raise ValueError("fail fault '%s' must be a string" % name)
            if self.log is not None and (not isinstance(self.log, list) or not all(
                    isinstance(x, str) for x in self.log)):
                raise ValueError("fail fault 'log' must be a list of strings")
            if not isinstance(self.params, dict):
                raise ValueError("fail fault 'params' must be a JSON object")

    def to_json(self):
        d = {"kind": self.kind}
        if self.kind == "fail":
            for k in ("failure", "job", "device", "reason", "log"):
                if getattr(self, k) is not None:
                    d[k] = getattr(self, k)
            if self.params:
                d["params"] = self.params
        else:
            d.update(target=self.target, delay=self.delay)
            if self.operation is not None:
                d["operation"] = self.operation
        if self.count is not None:
            d["count"] = self.count
        if self.rate is not None:
            d["rate"] = self.rate
        return d

    def matches_job(self, name, device):
        return ((self.job is None or fnmatch.fnmatchcase(name, self.job)) and
                (self.device is None or fnmatch.fnmatchcase(device, self.device)))


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.items = []

    def add(self, spec):
        f = Fault(spec)
        with self.lock:
            self.items.append(f)
        return f

    def clear(self):
        with self.lock:
            self.items = []

    def list(self):
        with self.lock:
            return [f.to_json() for f in self.items]

    def _take(self, pred):
        with self.lock:
            for f in list(self.items):
                if not pred(f):
                    continue
                if f.count is not None:
                    f.count -= 1
                    if f.count <= 0:
                        self.items.remove(f)
                    return f
                if random.random() < f.rate:
                    return f
        return None

    def take(self, service, operation):
        """The request fault for this request, if one is due."""
        return self._take(lambda f: f.kind != "fail" and f.target in ("any", service)
                          and (f.operation is None or f.operation == operation))

    def take_job(self, name, device):
        """The fail fault for a new compilation job, if one matches it."""
        return self._take(lambda f: f.kind == "fail" and f.matches_job(name, device))
