"""smneo.explain: why did a compilation job fail? (docs/diagnosis.md)

The matching, the catalogue of known Neo failures and the text all live in
the C core (smneo_explain); this module only wraps the answer.
"""
from collections.abc import Mapping

from . import _smneo

__all__ = ["Diagnosis", "explain"]


class Diagnosis(dict):
    """A diagnosis: a dict (id, matched, category, title, cause, fix, rule,
    source, evidence, evidence_source, evidence_line, job_name, status,
    failure_reason, issues, text) whose keys are also attributes. str() is
    the text for people; IPython shows it as well."""

    __slots__ = ()

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __str__(self):
        return self["text"].rstrip("\n")

    def __repr__(self):
        return "<smneo.Diagnosis %s (%s): %s>" % (self["id"], self["category"], self["title"])

    def _repr_pretty_(self, p, cycle):
        p.text(self["text"].rstrip("\n"))


def explain(description=None, logs=None):
    """Explains a failed compilation job.

    description: the dict describe_compilation_job returns (smneo's or
    boto3's), a FailureReason string, or None. logs: the job's compile log
    as an iterable of lines (str or bytes) or of events with a "message"
    (boto3's get_log_events()["events"]), or None. Returns a Diagnosis; a job
    that did not fail is "not-failed", a failure smneo does not know
    "unknown" (category "system")."""
    if isinstance(description, Mapping) and not isinstance(description, dict):
        description = dict(description)
    return Diagnosis(_smneo._explain(description, logs))
