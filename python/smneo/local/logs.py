"""The CloudWatch Logs side (AWS JSON 1.1, Logs_20140328.*): GetLogEvents,
FilterLogEvents and DescribeLogStreams over log groups per account and
region.  Events come from sources (each compilation job's log, computed
from the clock, so they appear as the job runs) and from put_events()."""
import base64
import hashlib
import json
import re
import threading

from .model import Model, ServiceError

MAX_PAGE_BYTES = 1024 * 1024
EVENT_OVERHEAD = 26          # bytes CloudWatch Logs counts per event
_TOKEN_RE = re.compile(r"([fb])/(\d{56})/s")


def _invalid(message):
    return ServiceError("InvalidParameterException", message)


class _Group:
    def __init__(self, name, created):
        self.name = name
        self.created = created
        self.sources = []        # callables: now -> [(stream, time, message)]
        self.static = {}         # stream -> [(time, message)]


class Logs:
    def __init__(self, clock):
        self.clock = clock
        self.model = Model("logs")
        self.lock = threading.Lock()
        self.groups = {}         # (account, region) -> {name: _Group}
        self.page_limit = None   # settings: cap events per page (tests of paging)

    # ---- feeding ---------------------------------------------------------------
    def _group(self, account, region, name):
        space = self.groups.setdefault((account, region), {})
        g = space.get(name)
        if g is None:
            g = space[name] = _Group(name, self.clock())
        return g

    def add_source(self, account, region, group, source):
        with self.lock:
            self._group(account, region, group).sources.append(source)

    def put_events(self, account, region, group, stream, events):
        """Append [(epoch seconds, message)] to a stream (created if needed)."""
        with self.lock:
            g = self._group(account, region, group)
            g.static.setdefault(stream, []).extend((float(t), str(m)) for t, m in events)

    # ---- reading ---------------------------------------------------------------
    def _view(self, account, region, name):
        """{stream: [(ts_ms, ingestion_ms, message)]} visible now, in order;
        None when the group does not exist (yet)."""
        with self.lock:
            g = self.groups.get((account, region), {}).get(name)
            if g is None:
                return None
            sources = list(g.sources)
            static = {k: list(v) for k, v in g.static.items()}
        now_ms = int(self.clock() * 1000)
        streams = {}
        order = 0
        for src in sources:
            for stream, t, msg in src(self.clock()):
                ms = int(round(t * 1000))
                if ms <= now_ms:
                    streams.setdefault(stream, []).append((ms, order, msg))
                    order += 1
        for stream, evs in static.items():
            streams.setdefault(stream, [])
            for t, msg in evs:
                streams[stream].append((int(round(t * 1000)), order, msg))
                order += 1
        if not streams and not static and sources:
            return None       # a job's group exists once its first line is written
        return {s: [(ms, ms, msg) for ms, _, msg in sorted(evs)]
                for s, evs in streams.items()}

    def call(self, operation, body, ctx):
        handler = getattr(self, "op_" + operation, None)
        if handler is None or operation not in self.model.operations:
            raise ServiceError("UnknownOperationException",
                               "Operation %s is not served by smneo.local" % operation)
        self.model.validate(self.model.input_shape(operation), body,
                            code="InvalidParameterException")
        return handler(body, ctx)

    def _resolve(self, body, ctx):
        name, ident = body.get("logGroupName"), body.get("logGroupIdentifier")
        if (name is None) == (ident is None):
            raise _invalid("Should provide either logGroupName or logGroupIdentifier."
                           if name is None else "LogGroup name and LogGroup ARN are "
                           "mutually exclusive parameters.")
        account, region = ctx["account"], ctx["region"]
        if ident is not None:
            name = ident
            if ident.startswith("arn:"):
                parts = ident.split(":", 6)
                if len(parts) < 7 or parts[2] != "logs" or parts[5] != "log-group":
                    raise _invalid("Invalid log group ARN: %s" % ident)
                region, account, name = parts[3], parts[4], parts[6]
        view = self._view(account, region, name)
        if view is None:
            raise ServiceError("ResourceNotFoundException",
                               "The specified log group does not exist.")
        return name, view, account, region

    def _limit(self, body, default):
        limit = body.get("limit", default)
        if self.page_limit is not None:
            limit = min(limit, self.page_limit)
        return limit

    # ---- GetLogEvents --------------------------------------------------------
    @staticmethod
    def _token(direction, index, key):
        return "%s/%020d%036d/s" % (direction, index, key)

    def op_GetLogEvents(self, body, ctx):
        name, view, _, _ = self._resolve(body, ctx)
        stream = body["logStreamName"]
        if stream not in view:
            raise ServiceError("ResourceNotFoundException",
                               "The specified log stream does not exist.")
        events = view[stream]
        key = int(hashlib.sha256(("%s\0%s" % (name, stream)).encode()).hexdigest(),
                  16) % 10 ** 36
        lo, hi = body.get("startTime"), body.get("endTime")

        def wanted(i):
            ts = events[i][0]
            return (lo is None or ts >= lo) and (hi is None or ts < hi)

        limit = self._limit(body, 10000)
        token = body.get("nextToken")
        if token is not None:
            m = _TOKEN_RE.fullmatch(token)
            if m is None or int(m.group(2)[20:]) != key or \
                    int(m.group(2)[:20]) > len(events):
                raise _invalid("The specified nextToken is invalid.")
            direction, pos = m.group(1), int(m.group(2)[:20])
        else:
            direction, pos = ("f", 0) if body.get("startFromHead") else ("b", len(events))
        picked, size = [], 0
        step = range(pos, len(events)) if direction == "f" else range(pos - 1, -1, -1)
        for i in step:
            if len(picked) >= limit:
                break
            if not wanted(i):
                continue
            size += len(events[i][2].encode()) + EVENT_OVERHEAD
            if size > MAX_PAGE_BYTES and picked:
                break
            picked.append(i)
        picked.sort()
        if picked:
            first, after = picked[0], picked[-1] + 1
        else:
            first = after = pos
        return {
            "events": [{"timestamp": events[i][0], "message": events[i][2],
                        "ingestionTime": events[i][1]} for i in picked],
            # At either end the token given comes back unchanged.
            "nextForwardToken": token if (token and direction == "f" and not picked)
            else self._token("f", after, key),
            "nextBackwardToken": token if (token and direction == "b" and not picked)
            else self._token("b", first, key),
        }

    # ---- FilterLogEvents -----------------------------------------------------
    def op_FilterLogEvents(self, body, ctx):
        name, view, _, _ = self._resolve(body, ctx)
        names, prefix = body.get("logStreamNames"), body.get("logStreamNamePrefix")
        if names is not None and prefix is not None:
            raise _invalid("logStreamNames and logStreamNamePrefix are mutually "
                           "exclusive parameters.")
        match = _pattern(body.get("filterPattern", ""))
        lo, hi = body.get("startTime"), body.get("endTime")
        rows = []
        for stream in sorted(view):
            if names is not None and stream not in names:
                continue
            if prefix is not None and not stream.startswith(prefix):
                continue
            for i, (ts, ing, msg) in enumerate(view[stream]):
                if (lo is None or ts >= lo) and (hi is None or ts <= hi) and match(msg):
                    rows.append((ts, stream, i, ing, msg))
        rows.sort()
        query = _digest(("filter", name, names, prefix, body.get("filterPattern"), lo, hi))
        after = None
        token = body.get("nextToken")
        if token is not None:
            after = _read_token(token, query)
            after = (after[0], after[1], after[2])
            rows = [r for r in rows if r[:3] > after]
        limit = self._limit(body, 10000)
        page, size = [], 0
        for r in rows:
            if len(page) >= limit:
                break
            size += len(r[4].encode()) + EVENT_OVERHEAD
            if size > MAX_PAGE_BYTES and page:
                break
            page.append(r)
        out = {"events": [{"logStreamName": s, "timestamp": ts, "message": msg,
                           "ingestionTime": ing, "eventId": _event_id(s, ts, i)}
                          for ts, s, i, ing, msg in page],
               "searchedLogStreams": []}
        if len(page) < len(rows):
            last = page[-1]
            out["nextToken"] = _make_token([last[0], last[1], last[2]], query)
        return out

    # ---- DescribeLogStreams --------------------------------------------------
    def op_DescribeLogStreams(self, body, ctx):
        name, view, account, region = self._resolve(body, ctx)
        prefix = body.get("logStreamNamePrefix")
        order = body.get("orderBy", "LogStreamName")
        if order == "LastEventTime" and prefix is not None:
            raise _invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
        rows = []
        for stream, evs in view.items():
            if prefix is not None and not stream.startswith(prefix):
                continue
            row = {"logStreamName": stream,
                   "creationTime": evs[0][0] if evs else int(self.clock() * 1000),
                   "arn": "arn:aws:logs:%s:%s:log-group:%s:log-stream:%s"
                          % (region, account, name, stream),
                   "storedBytes": 0}
            if evs:
                row.update(firstEventTimestamp=evs[0][0], lastEventTimestamp=evs[-1][0],
                           lastIngestionTime=evs[-1][1])
            rows.append(row)
        if order == "LastEventTime":
            rows.sort(key=lambda r: (r.get("lastEventTimestamp", 0), r["logStreamName"]))
        else:
            rows.sort(key=lambda r: r["logStreamName"])
        if body.get("descending"):
            rows.reverse()
        query = _digest(("streams", name, prefix, order, bool(body.get("descending"))))
        offset = 0
        if body.get("nextToken") is not None:
            offset = _read_token(body["nextToken"], query)[0]
        limit = self._limit(body, 50)
        page = rows[offset: offset + limit]
        out = {"logStreams": page}
        if offset + limit < len(rows):
            out["nextToken"] = _make_token([offset + limit], query)
        return out


def _digest(query):
    return hashlib.sha256(json.dumps(query, default=str).encode()).hexdigest()[:16]


def _make_token(position, query):
    return base64.urlsafe_b64encode(json.dumps({"p": position, "q": query}).encode()) \
        .decode().rstrip("=")


def _read_token(token, query):
    try:
        doc = json.loads(base64.urlsafe_b64decode(token.encode() + b"=="))
        position, q = doc["p"], doc["q"]
    except (ValueError, KeyError, TypeError):
        raise _invalid("The specified nextToken is invalid.")
    if q != query or not isinstance(position, list):
        raise _invalid("The specified nextToken is invalid.")
    return position


def _event_id(stream, ts, index):
    h = int(hashlib.sha256(stream.encode()).hexdigest(), 16) % 10 ** 20
    return "%020d%020d%016d" % (ts, h, index)


def _pattern(text):
    """A filter for FilterLogEvents' term patterns: words that must all
    appear, "quoted phrases", -excluded and ?alternative terms.  JSON and
    space-delimited patterns are not served."""
    text = text.strip()
    if not text:
        return lambda msg: True
    if text[0] in "{[":
        raise _invalid("smneo.local serves term filter patterns only (terms, "
                       "\"phrases\", -exclusions, ?alternatives); got %s" % text)
    terms = re.findall(r'([-?]?)(?:"([^"]*)"|(\S+))', text)
    must, exclude, anyof = [], [], []
    for sign, quoted, bare in terms:
        term = quoted if quoted else bare
        (exclude if sign == "-" else anyof if sign == "?" else must).append(term)

    def match(msg):
        if anyof and not any(t in msg for t in anyof):
            return False
        return all(t in msg for t in must) and not any(t in msg for t in exclude)
    return match
