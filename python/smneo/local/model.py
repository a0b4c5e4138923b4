"""The trimmed API models (models/<service>.json: copies of model/*.json
that tools/gen_model.py writes and checks) and request validation driven by
them, worded the way the services word it."""
import datetime
import json
import os
import re

_HERE = os.path.dirname(os.path.abspath(__file__))



class ServiceError(Exception):
    """A refused request: code, message, HTTP status, and extra fields some
    protocols add to the error body (SSO-OIDC's error/error_description)."""

    def __init__(self, code, message, status=400, **fields):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.fields = fields


class Model:
    """One service's trimmed model: shapes, operations, metadata."""

    def __init__(self, service):
        with open(os.path.join(_HERE, "models", service + ".json"), encoding="utf-8") as f:
            doc = json.load(f)
        self.shapes = doc["shapes"]
        self.operations = doc["operations"]
        self.metadata = doc["metadata"]

    def input_shape(self, operation):
        return self.operations[operation]["input"]["shape"]

    def validate(self, shape_name, value, code="ValidationException"):
        """Check value against the shape; raise `code` listing every
        constraint violation (as "N validation errors detected: ...") or
        SerializationException for a value of the wrong JSON type."""
        errors = []
        _check(self.shapes, shape_name, value, "", errors)
        if errors:
            n = len(errors)
            raise ServiceError(
                code,
                "%d validation error%s detected: %s"
                % (n, "" if n == 1 else "s", "; ".join(errors)),
            )


MODEL = Model("sagemaker")
SHAPES = MODEL.shapes
OPERATIONS = MODEL.operations
validate = MODEL.validate


def _java_to_python_regex(pattern):
    # The model's patterns are Java regexes; \p{L}/\p{N}/\p{Z} have no
    # direct Python `re` equivalent: \w covers letters and digits (plus _),
    # \s covers separators.
    return (pattern.replace(r"\p{L}", r"\w").replace(r"\p{N}", r"\w")
            .replace(r"\p{Z}", r"\s"))


_REGEX_CACHE = {}


def _regex(pattern):
    r = _REGEX_CACHE.get(pattern)
    if r is None:
        r = _REGEX_CACHE[pattern] = re.compile(_java_to_python_regex(pattern), re.S)
    return r


def _lower_camel(name):
    return name[:1].lower() + name[1:]


class _Redacted(str):
    """A sensitive value: measured and matched, shown redacted."""


def _show(value):
    if isinstance(value, _Redacted):
        return "'*** Sensitive Data Redacted ***'"
    if isinstance(value, str):
        return "'%s'" % value
    if isinstance(value, bool):
        return "'%s'" % str(value).lower()
    if isinstance(value, (dict, list)):
        return "'%s'" % json.dumps(value, separators=(",", ":"))
    return "'%s'" % value


def to_epoch(value, path):
    """A request timestamp (JSON number of epoch seconds; ISO 8601 accepted)."""
    if isinstance(value, bool):
        raise ServiceError("SerializationException",
                           "Expected a timestamp (epoch seconds) for %s" % path)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            d = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
            if d.tzinfo is None:
                d = d.replace(tzinfo=datetime.timezone.utc)
            return d.timestamp()
        except ValueError:
            pass
    raise ServiceError("SerializationException",
                       "Expected a timestamp (epoch seconds) for %s, got %s"
                       % (path, _show(value)))


def _type_error(path, expected, value):
    raise ServiceError(
        "SerializationException",
        "Cannot deserialize %s at '%s': expected %s"
        % (_show(value), path or "request", expected),
    )


def _check(shapes, shape_name, value, path, errors):
    shape = shapes[shape_name]
    t = shape["type"]
    where = path or "request"
    if t == "structure":
        if not isinstance(value, dict):
            _type_error(path, "an object", value)
        for req in shape.get("required", []):
            if value.get(req) is None:
                p = (path + "." if path else "") + _lower_camel(req)
                errors.append("Value null at '%s' failed to satisfy constraint: "
                              "Member must not be null" % p)
        for name, member in shape["members"].items():
            if name in value and value[name] is not None:
                p = (path + "." if path else "") + _lower_camel(name)
                _check(shapes, member["shape"], value[name], p, errors)
        return
    if t == "list":
        if not isinstance(value, list):
            _type_error(path, "an array", value)
        _length(shape, len(value), value, where, errors)
        for i, item in enumerate(value, 1):
            _check(shapes, shape["member"]["shape"], item, "%s.%d.member" % (path, i), errors)
        return
    if t == "map":
        if not isinstance(value, dict):
            _type_error(path, "an object", value)
        _length(shape, len(value), value, where, errors)
        for k, v in value.items():
            _check(shapes, shape["value"]["shape"], v, "%s.%s" % (path, k), errors)
        return
    if t == "string":
        if not isinstance(value, str):
            _type_error(path, "a string",
                        _Redacted() if shape.get("sensitive") else value)
        if shape.get("sensitive"):
            # Secrets are never echoed, as the services word it.
            value = _Redacted(value)
        if "enum" in shape and value not in shape["enum"]:
            errors.append("Value %s at '%s' failed to satisfy constraint: Member "
                          "must satisfy enum value set: [%s]"
                          % (_show(value), where, ", ".join(shape["enum"])))
            return
        _length(shape, len(value), value, where, errors)
        if "pattern" in shape and not _regex(shape["pattern"]).fullmatch(value):
            errors.append("Value %s at '%s' failed to satisfy constraint: Member "
                          "must satisfy regular expression pattern: %s"
                          % (_show(value), where, shape["pattern"]))
        return
    if t in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                _type_error(path, "an integer", value)
        if "min" in shape and value < shape["min"]:
            errors.append("Value %s at '%s' failed to satisfy constraint: Member "
                          "must have value greater than or equal to %d"
                          % (_show(value), where, shape["min"]))
        if "max" in shape and value > shape["max"]:
            errors.append("Value %s at '%s' failed to satisfy constraint: Member "
                          "must have value less than or equal to %d"
                          % (_show(value), where, shape["max"]))
        return
    if t == "boolean":
        if not isinstance(value, bool):
            _type_error(path, "a boolean", value)
        return
    if t == "timestamp":
        to_epoch(value, where)
        return
    raise AssertionError("shape type %s not handled" % t)


def _length(shape, n, value, where, errors):
    if "min" in shape and n < shape["min"]:
        errors.append("Value %s at '%s' failed to satisfy constraint: Member must "
                      "have length greater than or equal to %d"
                      % (_show(value), where, shape["min"]))
    if "max" in shape and n > shape["max"]:
        errors.append("Value %s at '%s' failed to satisfy constraint: Member must "
                      "have length less than or equal to %d"
                      % (_show(value), where, shape["max"]))
