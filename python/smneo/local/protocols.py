"""Model-driven pieces of the AWS Query protocol (STS): form parameters to
a request structure, a result structure to the XML answer, and the error
document; plus the JSON answer shapes shared by the JSON services."""
import datetime
import json
from xml.sax.saxutils import escape

from .model import ServiceError

_INTEGERS = ("integer", "long")


def _lower_camel(name):
    return name[:1].lower() + name[1:]


def query_input(model, shape_name, params, prefix="", path=""):
    """Rebuild the structure a Query client flattened into `params`
    ({"Tags.member.1.Key": "k", ...}).  Values keep their wire strings
    except integers and booleans, converted here (a bad one is the
    service's ValidationError)."""
    shape = model.shapes[shape_name]
    t = shape["type"]
    if t == "structure":
        out = {}
        for name, member in shape["members"].items():
            key = (prefix + "." if prefix else "") + member.get("locationName", name)
            sub = path + ("." if path else "") + _lower_camel(name)
            if key in params or any(k.startswith(key + ".") for k in params):
                out[name] = query_input(model, member["shape"], params, key, sub)
        return out
    if t == "list":
        member = shape["member"]
        base = prefix + "." + member.get("locationName", "member") + "."
        items = {}
        for k in params:
            if k.startswith(base):
                idx = k[len(base):].split(".", 1)[0]
                if idx.isdigit() and int(idx) >= 1:
                    items[int(idx)] = base + idx
        if prefix in params and params[prefix] == "":
            return []
        return [query_input(model, member["shape"], params, items[i],
                            "%s.%d.member" % (path, i)) for i in sorted(items)]
    value = params.get(prefix, "")
    if t in _INTEGERS:
        try:
            return int(value)
        except ValueError:
            raise ServiceError("ValidationError", "1 validation error detected: Value "
                               "'%s' at '%s' failed to satisfy constraint: Member must "
                               "be a number" % (value, path))
    if t == "boolean":
        if value not in ("true", "false"):
            raise ServiceError("ValidationError", "1 validation error detected: Value "
                               "'%s' at '%s' failed to satisfy constraint: Member must "
                               "be true or false" % (value, path))
        return value == "true"
    return value


def iso8601(epoch):
    """A timestamp as STS writes it: 2024-01-02T03:04:05Z."""
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def _xml_value(model, shape_name, value, out):
    shape = model.shapes[shape_name]
    t = shape["type"]
    if t == "structure":
        for name, member in shape["members"].items():
            if value.get(name) is None:
                continue
            tag = member.get("locationName", name)
            out.append("<%s>" % tag)
            _xml_value(model, member["shape"], value[name], out)
            out.append("</%s>" % tag)
    elif t == "list":
        tag = shape["member"].get("locationName", "member")
        for item in value:
            out.append("<%s>" % tag)
            _xml_value(model, shape["member"]["shape"], item, out)
            out.append("</%s>" % tag)
    elif t == "timestamp":
        out.append(iso8601(value))
    elif t == "boolean":
        out.append("true" if value else "false")
    else:
        out.append(escape(str(value)))


def query_result(model, operation, result, request_id):
    """The XML answer of a Query operation: <OpResponse><OpResult>...
    </OpResult><ResponseMetadata><RequestId>..."""
    op = model.operations[operation]
    ns = model.metadata["xmlNamespace"]
    out = ['<%sResponse xmlns="%s">\n  ' % (operation, ns)]
    wrapper = op["output"].get("resultWrapper", operation + "Result")
    out.append("<%s>" % wrapper)
    _xml_value(model, op["output"]["shape"], result, out)
    out.append("</%s>\n  <ResponseMetadata>\n    <RequestId>%s</RequestId>\n"
               "  </ResponseMetadata>\n</%sResponse>\n" % (wrapper, request_id, operation))
    return "".join(out).encode()


def query_error(model, err, request_id):
    """<ErrorResponse><Error><Type>Sender|Receiver</Type><Code>..."""
    ns = model.metadata["xmlNamespace"]
    kind = "Receiver" if err.status >= 500 else "Sender"
    return ('<ErrorResponse xmlns="%s">\n  <Error>\n    <Type>%s</Type>\n'
            '    <Code>%s</Code>\n    <Message>%s</Message>\n  </Error>\n'
            '  <RequestId>%s</RequestId>\n</ErrorResponse>\n'
            % (ns, kind, escape(err.code), escape(err.message), request_id)).encode()


def json_answer(status, request_id, doc, content_type="application/x-amz-json-1.1",
                error_type=None):
    headers = [("x-amzn-RequestId", request_id), ("Content-Type", content_type)]
    if error_type is not None:
        headers.append(("x-amzn-ErrorType", error_type))
    return status, headers, json.dumps(doc).encode()
