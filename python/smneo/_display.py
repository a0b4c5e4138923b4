"""Notebook display (docs/python.md, "Notebooks"): the live progress of
compile(..., progress=True) and wait_for_compilation_job(..., progress=True),
and the rich representations (_repr_html_, _repr_pretty_) of CompileResult,
job descriptions and listings.

The live display needs an IPython shell whose display publisher shows
displays and updates them in place (a Jupyter kernel; IPython's terminal
publisher only prints text, so a terminal gets nothing). It is one display
with a display_id (text/plain and text/html) updated on every phase change;
when tqdm is importable the upload and download bytes are tqdm.auto bars
instead (tqdm.auto picks ipywidgets when those are installed). Neither is
a dependency. Every string shown (job names, failure reasons, paths) is
HTML-escaped.
"""
import sys
import time

_THROTTLE = 0.1  # seconds between two updates for the same phase (byte counters)


def _shell():
    """The IPython shell when it can show a live display, else None. IPython
    is never imported here: a script that did not import it has no kernel."""
    if "IPython" not in sys.modules:
        return None
    try:
        from IPython import get_ipython
        from IPython.core.displaypub import DisplayPublisher
    except ImportError:
        return None
    ip = get_ipython()
    pub = getattr(ip, "display_pub", None)
    if pub is None or type(pub).publish is DisplayPublisher.publish:
        return None  # no shell, or IPython's terminal publisher (prints text/plain, cannot update)
    return ip


def _tqdm():
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm


# ---- tables -------------------------------------------------------------------

def _when(value):
    if value is None:
        return ""
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def _target(job):
    """TargetDevice or Os/Arch[/Accelerator], from a description or a summary."""
    out = job.get("OutputConfig") or {}
    device = out.get("TargetDevice") or job.get("CompilationTargetDevice")
    if device:
        return device
    platform = out.get("TargetPlatform") or {
        "Os": job.get("CompilationTargetPlatformOs"), "Arch": job.get("CompilationTargetPlatformArch"),
        "Accelerator": job.get("CompilationTargetPlatformAccelerator")}
    return "/".join(str(platform[k]) for k in ("Os", "Arch", "Accelerator") if platform.get(k))


COLUMNS = ("name", "status", "target", "created", "ended")


def _row(job):
    return (job.get("CompilationJobName", ""), job.get("CompilationJobStatus", ""), _target(job),
            _when(job.get("CreationTime")), _when(job.get("CompilationEndTime")))


def _html_table(rows, notes=()):
    """rows: tuples of COLUMNS; notes: (label, text) lines under the table."""
    from html import escape as e  # here, not at import: `import smneo` stays fast (issue 17)
    head = "".join("<th style=\"text-align:left\">%s</th>" % c for c in COLUMNS)
    body = "".join("<tr>%s</tr>" % "".join("<td style=\"text-align:left\">%s</td>" % e(str(v)) for v in row)
                   for row in rows)
    extra = "".join("<tr><th style=\"text-align:left\">%s</th><td colspan=\"%d\" style=\"text-align:left\">%s</td></tr>"
                    % (e(label), len(COLUMNS) - 1, e(str(text))) for label, text in notes)
    return "<table class=\"smneo\"><thead><tr>%s</tr></thead><tbody>%s%s</tbody></table>" % (head, body, extra)


def _text_table(rows, notes=()):
    rows = [tuple(str(v) for v in r) for r in rows]
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(COLUMNS)]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in [COLUMNS] + rows]
    lines += ["%s: %s" % (label, text) for label, text in notes]
    return "\n".join(lines)


def _pretty(p, cycle, kind, text):
    p.text("<%s ...>" % kind if cycle else text)


def _failure_notes(job):
    return [("failure", job["FailureReason"])] if job.get("FailureReason") else []


class JobDescription(dict):
    """describe_compilation_job's and wait_for_compilation_job's dict, shown as
    a one-row table in IPython (the dict itself is unchanged)."""
    __slots__ = ()

    def _parts(self):
        return [_row(self)], _failure_notes(self)

    def _repr_html_(self):
        return _html_table(*self._parts())

    def _repr_pretty_(self, p, cycle):
        _pretty(p, cycle, "JobDescription", _text_table(*self._parts()))


class JobList(dict):
    """list_compilation_jobs' dict, shown as a table of its summaries."""
    __slots__ = ()

    def _parts(self):
        notes = [("next page", "NextToken=%s" % self["NextToken"])] if self.get("NextToken") else []
        return [_row(s) for s in self.get("CompilationJobSummaries") or ()], notes

    def _repr_html_(self):
        return _html_table(*self._parts())

    def _repr_pretty_(self, p, cycle):
        _pretty(p, cycle, "JobList", _text_table(*self._parts()))


def _result_parts(result):
    job = result.job or {"CompilationJobName": result.job_name}
    notes = _failure_notes(job)
    notes.append(("artifact", "%s (digest verified: %s)" % (result.artifact_path, "yes" if result.digest_verified
                                                             else "no")))
    if result.extracted_dir:
        notes.append(("extracted", result.extracted_dir))
    if result.input_uri:
        notes.append(("input", result.input_uri))
    for issue in result.issues or ():
        notes.append(("warning", getattr(issue, "message", issue)))
    if result.diagnosis is not None:
        notes.append(("diagnosis", getattr(result.diagnosis, "cause", result.diagnosis)))
    return [_row(job)], notes


def result_html(self):
    """CompileResult._repr_html_"""
    return _html_table(*_result_parts(self))


def result_pretty(self, p, cycle):
    """CompileResult._repr_pretty_"""
    _pretty(p, cycle, "CompileResult", _text_table(*_result_parts(self)))


# ---- live progress ------------------------------------------------------------

def _bytes(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return ("%d %s" % (n, unit)) if unit == "B" else ("%.1f %s" % (n, unit))
        n /= 1024.0
    return str(n)  # not reached


class _Quiet:
    """progress=False, or no notebook: the user's callback, unchanged."""

    def __init__(self, callback):
        self.callback = callback

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class _Live:
    """One display updated in place; callback wraps the user's callback."""

    def __init__(self, callback, job_name, waiter, tqdm):
        from IPython.display import display
        self.user = callback
        self.job = job_name
        self.waiter = waiter
        self.status = "waiting" if waiter else "packing"
        self.phase = None
        self.outcome = None
        self.transfers = {}   # "upload"/"download" -> [done, total]
        self.bars = {}        # with tqdm: "upload"/"download" -> bar
        self.tqdm = tqdm
        self.start = time.monotonic()
        self.last = 0.0
        self.handle = display(self._bundle(), raw=True, display_id=True)
        self.callback = self._on_description if waiter else self._on_event

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is not None:
            self.outcome = "%s: %s" % (exc_type.__name__, exc)
        elif not self.status.startswith("COMPLETED"):
            self.status = "COMPLETED"  # returning at all means the job completed
        for bar in self.bars.values():
            bar.close()
        self.handle.update(self._bundle(), raw=True)
        return False

    # -- what is shown --
    def _fields(self):
        fields = [("job", self.job or "(not created yet)"), ("status", self.status),
                  ("elapsed", "%.1f s" % (time.monotonic() - self.start))]
        if not self.tqdm:
            for name in ("upload", "download"):
                if name in self.transfers:
                    done, total = self.transfers[name]
                    fields.append((name, "%s / %s" % (_bytes(done), _bytes(total))))
        if self.outcome:
            fields.append(("result", self.outcome))
        return fields

    def _bundle(self):
        fields = self._fields()
        text = "smneo: " + "  ".join("%s %s" % kv for kv in fields)
        from html import escape
        cells = "".join("<td style=\"text-align:left\"><b>%s</b> %s</td>" % (escape(k), escape(str(v)))
                        for k, v in fields)
        return {"text/plain": text, "text/html": "<table class=\"smneo-progress\"><tr>%s</tr></table>" % cells}

    def _refresh(self, phase):
        now = time.monotonic()
        if phase == self.phase and now - self.last < _THROTTLE:
            return
        self.phase, self.last = phase, now
        self.handle.update(self._bundle(), raw=True)

    # -- compile events --
    def _transfer(self, name, done, total):
        if self.tqdm:
            bar = self.bars.get(name)
            if bar is None:
                bar = self.bars[name] = self.tqdm(total=total, desc=name, unit="B", unit_scale=True,
                                                  unit_divisor=1024)
            bar.update(done - self.transfers.get(name, [0])[0])
        self.transfers[name] = [done, total]

    def _on_event(self, ev):
        kind = ev["kind"]
        if kind in ("UPLOAD", "DOWNLOAD"):
            self._transfer(kind.lower(), ev["done"], ev["total"])
            self.status = "uploading" if kind == "UPLOAD" else "downloading"
        elif kind == "UPLOADED":
            self.status = "uploaded" if "upload" in self.transfers else "already uploaded"
        elif kind == "CREATED":
            self.job, self.status = ev["message"], "created"
        elif kind in ("STATUS", "WAITING"):
            self.status = ev["message"]
        elif kind == "VERIFIED":
            self.status = "COMPLETED, digest verified"
        elif kind == "STOPPING":
            self.status = "stopping"
        self._refresh(kind if kind != "WAITING" else "STATUS")
        return self.user(ev) if self.user is not None else None

    # -- waiter descriptions --
    def _on_description(self, desc):
        self.job = desc.get("CompilationJobName", self.job)
        self.status = desc.get("CompilationJobStatus", self.status)
        self._refresh(self.status)
        return self.user(desc) if self.user is not None else None


def live(progress, callback, job_name=None, waiter=False):
    """A context manager with .callback: a live display in a notebook when
    progress is true, else the user's callback unchanged."""
    if not progress:
        return _Quiet(callback)
    if _shell() is None:
        return _Quiet(callback)  # a terminal or a script: nothing changes
    return _Live(callback, job_name, waiter, _tqdm())
