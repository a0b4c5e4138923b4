"""The trimmed SageMaker API model (a copy of model/sagemaker-neo.json) and
request validation driven by it, worded the way the service words it."""
import datetime
import json
import os
import re

_HERE = os.path.dirname(os.path.abspath(__file__))

with open(os.path.join(_HERE, "model.json"), encoding="utf-8") as _f:
    MODEL = json.load(_f)

SHAPES = MODEL["shapes"]
OPERATIONS = MODEL["operations"]


class ServiceError(Exception):
    """An error the JSON side returns as {"__type", "message"}."""

    def __init__(self, code, message, status=400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


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


def _show(value):
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


def validate(shape_name, value):
    """Check value against the shape; raise ValidationException listing every
    constraint violation (as "N validation errors detected: ...") or
    SerializationException for a value of the wrong JSON type."""
    errors = []
    _check(shape_name, value, "", errors)
    if errors:
        n = len(errors)
        raise ServiceError(
            "ValidationException",
            "%d validation error%s detected: %s"
            % (n, "" if n == 1 else "s", "; ".join(errors)),
        )


def _type_error(path, expected, value):
    raise ServiceError(
        "SerializationException",
        "Cannot deserialize %s at '%s': expected %s"
        % (_show(value), path or "request", expected),
    )


def _check(shape_name, value, path, errors):
    shape = SHAPES[shape_name]
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
                _check(member["shape"], value[name], p, errors)
        return
    if t == "list":
        if not isinstance(value, list):
            _type_error(path, "an array", value)
        _length(shape, len(value), value, where, errors)
        for i, item in enumerate(value, 1):
            _check(shape["member"]["shape"], item, "%s.%d.member" % (path, i), errors)
        return
    if t == "map":
        if not isinstance(value, dict):
            _type_error(path, "an object", value)
        _length(shape, len(value), value, where, errors)
        for k, v in value.items():
            _check(shape["value"]["shape"], v, "%s.%s" % (path, k), errors)
        return
    if t == "string":
        if not isinstance(value, str):
            _type_error(path, "a string", value)
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
