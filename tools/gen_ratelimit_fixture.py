"""Writes tests/fixtures/retries/adaptive.json: botocore's adaptive-mode rate
limiter (retries/adaptive.py, bucket.py, throttling.py) replayed over a fixed
sequence of sends and answers on a fake clock. tests/core/test_retry.c replays
the same sequence through the core's limiter and compares every number;
tests/python/test_retry_config.py checks the file against the installed
botocore. Run: python3 tools/gen_ratelimit_fixture.py [--check]"""
import json
import os
import sys

from botocore.exceptions import CapacityNotAvailableError
from botocore.retries import adaptive, bucket, standard, throttling

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures", "retries", "adaptive.json")


class FakeClock(bucket.Clock):
    def __init__(self, now):
        self.now = now

    def current_time(self):
        return self.now


def script():
    """(time, event): "send", "ok" or "throttle"; deterministic."""
    events, t = [], 1000.0
    # A burst of successes (limiting not enabled yet), then throttling.
    for i in range(12):
        t += 0.13
        events.append((round(t, 3), "send"))
        events.append((round(t + 0.02, 3), "ok"))
    for i in range(6):
        t += 0.21
        events.append((round(t, 3), "send"))
        events.append((round(t + 0.03, 3), "throttle"))
    for i in range(20):
        t += 0.37 + (i % 3) * 0.11
        events.append((round(t, 3), "send"))
        events.append((round(t + 0.05, 3), "throttle" if i in (4, 5, 13) else "ok"))
    return events


def replay():
    clock = FakeClock(999.7)
    limiter = adaptive.ClientRateLimiter(
        rate_adjustor=throttling.CubicCalculator(starting_max_rate=0, start_time=clock.current_time()),
        rate_clocker=adaptive.RateClocker(clock),
        token_bucket=bucket.TokenBucket(max_rate=1, clock=clock),
        throttling_detector=standard.ThrottlingErrorDetector(standard.RetryEventAdapter()),
        clock=clock,
    )
    steps = []
    for t, ev in script():
        clock.now = t
        if ev == "send":
            wait = 0.0
            if limiter._enabled:
                tb = limiter._token_bucket
                try:
                    tb.acquire(1, block=False)
                except CapacityNotAvailableError:
                    wait = (1 - tb.available_capacity) / tb.max_rate
            steps.append({"t": t, "event": ev, "wait": wait})
            continue
        code = "ThrottlingException" if ev == "throttle" else None
        parsed = {"Error": {"Code": code}} if code else {}
        limiter.on_receiving_response(
            response=(None, parsed), attempts=1, operation=None, caught_exception=None,
            request_dict={"context": {}})
        steps.append({"t": t, "event": ev, "rate": limiter._token_bucket.max_rate,
                      "enabled": limiter._enabled, "measured": limiter._rate_clocker.measured_rate})
    return {"start": 999.7, "steps": steps}


def main():
    data = replay()
    text = json.dumps(data, indent=1) + "\n"
    if "--check" in sys.argv:
        with open(OUT) as f:
            if json.load(f) != json.loads(text):
                sys.exit("tests/fixtures/retries/adaptive.json differs from botocore's limiter: regenerate it")
        return
    tmp = OUT + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, OUT)


if __name__ == "__main__":
    main()
