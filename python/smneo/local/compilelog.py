"""The compile log smneo.local writes for every job (a fake: plausible
stages, no compiler runs), and the catalogue of failures (failures.json)
that fills a FAILED job's FailureReason and its log."""
import json
import os
import re

LOG_GROUP = "/aws/sagemaker/CompilationJobs"
STAGES = ("download", "model-info-extraction", "compilation", "packaging", "upload")
# Stage -> log stream suffix ("" is the stream named after the job).
STREAMS = {"download": "", "model-info-extraction": "/model-info-extraction",
           "compilation": "/compilation", "packaging": "/packaging", "upload": ""}
# (fraction of the way from CompilationStartTime to the end, stage, line)
TIMELINE = (
    (0.00, "download", "[smneo.local] simulated compilation log: these lines imitate "
                       "the service's stages; no compiler runs"),
    (0.00, "download", "Starting compilation job {job}: framework {framework} "
                       "{framework_version}, target {target}"),
    (0.04, "download", "Downloading the model from {input_uri}"),
    (0.15, "model-info-extraction", "Extracting model information from the {framework} "
                                    "model"),
    (0.25, "model-info-extraction", "Input configuration: {data_input_config}"),
    (0.35, "compilation", "Loading the {framework} model"),
    (0.50, "compilation", "Converting the model to the compiler's intermediate "
                          "representation"),
    (0.70, "compilation", "Optimizing the graph and generating code for {target}"),
    (0.90, "packaging", "Packaging the compiled model"),
    (1.00, "upload", "Uploading the compiled model to {artifact_uri}"),
)

_HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(_HERE, "failures.json"), encoding="utf-8") as _f:
    CATALOGUE = json.load(_f)["failures"]


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def render(text, fields):
    """Fill {name} placeholders from fields.  Anything else (an unknown
    name, {0}, {a.b}, a lone brace) stays as written: custom failure texts
    given with --fault are the user's, not format strings."""
    def sub(m):
        value = fields.get(m.group(1))
        return m.group(0) if value is None else str(value)
    return _PLACEHOLDER.sub(sub, text)


def check_failure(name):
    """ValueError naming the catalogue when `name` is not in it."""
    if name not in CATALOGUE:
        raise ValueError("unknown failure %r: known failures are %s"
                         % (name, ", ".join(sorted(CATALOGUE))))


def failure(name, fields, params=None, reason=None, log=None):
    """A rendered failure: {"name", "reason", "stage", "log"}.  params fill
    the entry's own placeholders (e.g. operators); reason and log replace
    the catalogue's text (a custom failure)."""
    entry = CATALOGUE[name] if name is not None else {"stage": "compilation",
                                                       "reason": "", "log": []}
    f = dict(entry.get("params", {}))
    f.update(fields)
    f.update(params or {})
    return {"name": name,
            "reason": render(reason if reason is not None else entry["reason"], f),
            "stage": entry["stage"],
            "log": [render(line, f) for line in (log if log is not None else entry["log"])]}


def events(job_name, fields, start, end, fail=None, stopped_at=None, stop_done=None):
    """The job's log as [(stream, time, message)] in time order, all of it
    (the caller keeps what is visible now).  fail: a rendered failure, the
    job FAILED at `end`; stopped_at/stop_done: the job was stopped."""
    span = end - start
    cut = STAGES.index(fail["stage"]) if fail else len(STAGES)
    out = []
    seen_cut = False
    for frac, stage, line in TIMELINE:
        idx = STAGES.index(stage)
        if fail and idx > cut:
            continue
        if fail and idx == cut:
            if seen_cut:
                continue
            seen_cut = True
        t = start + frac * span
        if stopped_at is not None and t >= stopped_at:
            break
        out.append((job_name + STREAMS[stage], t, render(line, fields)))
    if stopped_at is not None:
        out.append((job_name, stopped_at, "Stopping compilation job %s: "
                    "StopCompilationJob was called" % job_name))
        out.append((job_name, stop_done, "Compilation job %s stopped" % job_name))
    elif fail:
        stream = job_name + STREAMS[fail["stage"]]
        out.extend((stream, end, line) for line in fail["log"])
        out.append((job_name, end, "Compilation job %s failed: %s"
                    % (job_name, fail["reason"])))
    else:
        out.append((job_name, end, "Compilation job %s completed" % job_name))
    return out
