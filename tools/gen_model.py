#!/usr/bin/env python3
"""Generate every model-derived file from model/<service>.json.

Usage: tools/gen_model.py [--model-dir DIR] [--root DIR] [--out-dir DIR] [--check]

Reads every service model in model/ (<service>.json, written by
tools/trim_model.py; other data there, such as neo-failures.json, is
tools/gen_diagnosis.py's) and writes,
under the root (or --out-dir):

  core/src/model_tables.c        the C tables of every service: descriptors,
                                 operations, shapes (model.h describes them)
  python/smneo/_methods.h        the Python client's operation methods (an
                                 X-macro _client.c expands)
  python/smneo/type_defs.py      TypedDicts of the client service's requests
                                 and responses (typing only, importable)
  python/smneo/local/models/     byte copies of model/*.json for smneo.local
  and the regions between "BEGIN GENERATED <name>" and "END GENERATED <name>"
  lines of python/smneo/_smneo.pyi, python/smneo/__init__.pyi, README.md,
  docs/python.md and docs/lua.md (the method stubs and operation lists).

Lua builds its methods from the core's table at load time: nothing to write.
--root is where the files with regions are read (default: the checkout);
--out-dir where everything is written (default: the root). --check writes
nothing and fails, with a diff, when a committed file differs from what
would be written (tests/core/check_model_tables.sh). Standard library only.
"""
import argparse
import difflib
import json
import keyword
import os
import re
import sys
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# The service smneo_client calls and the bindings expose as methods.
CLIENT_SERVICE = "sagemaker"

TYPES = {
    "structure": "SMNEO_SHAPE_STRUCTURE",
    "list": "SMNEO_SHAPE_LIST",
    "map": "SMNEO_SHAPE_MAP",
    "string": "SMNEO_SHAPE_STRING",
    "integer": "SMNEO_SHAPE_INTEGER",
    "long": "SMNEO_SHAPE_LONG",
    "boolean": "SMNEO_SHAPE_BOOLEAN",
    "timestamp": "SMNEO_SHAPE_TIMESTAMP",
    "double": "SMNEO_SHAPE_DOUBLE",
    "float": "SMNEO_SHAPE_FLOAT",
    "blob": "SMNEO_SHAPE_BLOB",
}
PROTOCOLS = {"json": "SMNEO_PROTOCOL_JSON", "query": "SMNEO_PROTOCOL_QUERY", "rest-json": "SMNEO_PROTOCOL_REST_JSON"}
LOCATIONS = {
    None: "SMNEO_LOCATION_BODY",
    "header": "SMNEO_LOCATION_HEADER",
    "headers": "SMNEO_LOCATION_HEADERS",
    "querystring": "SMNEO_LOCATION_QUERYSTRING",
    "uri": "SMNEO_LOCATION_URI",
    "statusCode": "SMNEO_LOCATION_STATUS_CODE",
}
AUTH = {"aws.auth#sigv4": "SMNEO_AUTH_SIGV4", "smithy.api#noAuth": "SMNEO_AUTH_NONE",
        "v4": "SMNEO_AUTH_SIGV4", "none": "SMNEO_AUTH_NONE"}

# Model traits the tables carry, and those they knowingly leave out. Any
# other trait stops the generator: a new model feature must be decided on,
# not dropped silently.
SHAPE_KEYS = {"type", "members", "member", "key", "value", "required", "enum", "min", "max", "pattern",
              "exception", "error", "fault", "sensitive"}
SHAPE_IGNORED = {"box", "deprecated"}
MEMBER_KEYS = {"shape", "location", "locationName"}
MEMBER_IGNORED = {"box", "deprecated"}
REF_KEYS = {"shape"}
OPERATION_KEYS = {"name", "http", "input", "output", "errors", "auth", "authtype"}
OPERATION_IGNORED = {"deprecated", "idempotent"}
HTTP_KEYS = {"method", "requestUri"}
IO_KEYS = {"shape", "resultWrapper"}
ERROR_KEYS = {"code", "httpStatusCode", "senderFault"}
PAGING_KEYS = {"input_token", "output_token", "limit_key", "result_key"}


class ModelError(Exception):
    pass


def check_keys(where, obj, carried, ignored=frozenset()):
    unknown = sorted(set(obj) - set(carried) - set(ignored))
    if unknown:
        raise ModelError("%s has %s, which the generated tables do not carry: teach tools/gen_model.py "
                         "(and core/include/smneo/model.h) about it first" % (where, ", ".join(unknown)))


def cstr(s):
    if s is None:
        return "NULL"
    out = ['"']
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ord(ch) < 0x20 or ord(ch) > 0x7E:
            for b in ch.encode("utf-8"):
                out.append("\\%03o" % b)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def ident(name):
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def snake(name):
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


def is_service_model(doc):
    """A trimmed service model (model/ also holds other data, such as
    neo-failures.json for tools/gen_diagnosis.py)."""
    return isinstance(doc, dict) and all(k in doc for k in ("metadata", "operations", "shapes"))


def load_models(model_dir):
    """[(service name, model dict, file bytes)] sorted by service name."""
    out = []
    for fn in sorted(os.listdir(model_dir)):
        if not fn.endswith(".json"):
            continue
        with open(os.path.join(model_dir, fn), "rb") as f:
            raw = f.read()
        doc = json.loads(raw.decode("utf-8"))
        if is_service_model(doc):
            out.append((fn[:-5], doc, raw))
    if not any(name == CLIENT_SERVICE for name, _, _ in out):
        raise ModelError("%s has no %s.json (the client service)" % (model_dir, CLIENT_SERVICE))
    return out


def resolve_auth(where, auth_list, authtype):
    """botocore's resolved_auth_type: the first auth scheme it supports."""
    if auth_list:
        for scheme in auth_list:
            if scheme in AUTH:
                return AUTH[scheme]
            if scheme != "aws.auth#sigv4a":  # botocore needs awscrt for it; sigv4 comes first where listed
                raise ModelError("%s: auth scheme %s is not supported" % (where, scheme))
        raise ModelError("%s: no supported auth scheme in %s" % (where, auth_list))
    if authtype is not None:
        if authtype not in AUTH:
            raise ModelError("%s: authtype %s is not supported" % (where, authtype))
        return AUTH[authtype]
    return None


def paging_of(name, model, op):
    """(paging enum, input_token, output_token, limit_key, [result keys])."""
    p = model.get("pagination", {}).get(op)
    extra = model.get("smneo_paging", {}).get(op)
    if p and extra:
        raise ModelError("%s %s: both a botocore paginator and an smneo_paging rule" % (name, op))
    if not p and not extra:
        return "SMNEO_PAGING_NONE", None, None, None, []
    rule = p or extra
    check_keys("%s pagination of %s" % (name, op), rule, PAGING_KEYS, {"end"} if extra else ())
    for key in ("input_token", "output_token", "limit_key"):
        if isinstance(rule.get(key), list):
            raise ModelError("%s %s: %s is a list (several tokens), which the tables do not carry" % (name, op, key))
    keys = rule.get("result_key")
    keys = keys if isinstance(keys, list) else [keys] if keys else []
    kind = "SMNEO_PAGING_TOKEN"
    if extra:
        if extra.get("end") != "same_token":
            raise ModelError("%s %s: unknown smneo_paging end %r" % (name, op, extra.get("end")))
        kind = "SMNEO_PAGING_SAME_TOKEN"
    return kind, rule["input_token"], rule["output_token"], rule.get("limit_key"), keys


def service_env_name(md):
    """botocore's per-service endpoint setting: serviceId hyphenized, as
    AWS_ENDPOINT_URL_<ID> and the [services] key <id>."""
    sid = md["serviceId"].replace(" ", "_")
    return "AWS_ENDPOINT_URL_" + sid.upper(), sid.lower()


# ---- C tables -------------------------------------------------------------------


def gen_c(models):
    lines = [
        "/* Generated by tools/gen_model.py from model/<service>.json. Do not edit. */",
        "#include \"model_tables.h\"",
        "",
    ]
    for name, model, _ in models:
        lines.extend(gen_c_service(name, model))
    lines.append("const smneo_service *const smneo__services[] = {%s};"
                 % ", ".join("&SVC_%s" % ident(n) for n, _, _ in models))
    lines.append("const size_t smneo__service_count = %d;" % len(models))
    lines.append("const smneo_service *const smneo__client_service = &SVC_%s;" % ident(CLIENT_SERVICE))
    return "\n".join(lines) + "\n"


def gen_c_service(name, model):
    sid = ident(name)
    md = model["metadata"]
    shapes = model["shapes"]
    names = sorted(shapes)

    def S(n):
        if n not in shapes:
            raise ModelError("%s: shape %s is referenced but not in the model" % (name, n))
        return "&S_%s__%s" % (sid, ident(n))

    if md.get("protocol") not in PROTOCOLS:
        raise ModelError("%s: protocol %r is not supported (one of %s)" % (name, md.get("protocol"),
                                                                          ", ".join(PROTOCOLS)))
    svc_auth = resolve_auth(name, md.get("auth"), None) or resolve_auth(name, None, md.get("signatureVersion"))
    lines = ["/* ---- %s (%s %s) ---- */" % (name, md["serviceId"], md["apiVersion"]),
             "static const smneo_service SVC_%s;" % sid]
    for n in names:
        lines.append("static const smneo_shape S_%s__%s;" % (sid, ident(n)))
    lines.append("")
    for n in names:
        sh = shapes[n]
        check_keys("%s shape %s" % (name, n), sh, SHAPE_KEYS, SHAPE_IGNORED)
        for k in ("member", "key", "value"):
            if k in sh:
                check_keys("%s shape %s's %s" % (name, n, k), sh[k], REF_KEYS)
        if "enum" in sh:
            lines.append("static const char *const E_%s__%s[] = {" % (sid, ident(n)))
            for v in sh["enum"]:
                lines.append("    %s," % cstr(v))
            lines.append("};")
        if sh["type"] == "structure" and sh.get("members"):
            req = set(sh.get("required", []))
            lines.append("static const smneo_member M_%s__%s[] = {" % (sid, ident(n)))
            for mn, mv in sh["members"].items():
                check_keys("%s member %s.%s" % (name, n, mn), mv, MEMBER_KEYS, MEMBER_IGNORED)
                loc = mv.get("location")
                if loc not in LOCATIONS:
                    raise ModelError("%s member %s.%s: location %r is not supported" % (name, n, mn, loc))
                lines.append("    {%s, %s, %d, %s, %s}," % (cstr(mn), S(mv["shape"]), 1 if mn in req else 0,
                                                           LOCATIONS[loc], cstr(mv.get("locationName"))))
            lines.append("};")
    lines.append("")
    for n in names:
        sh = shapes[n]
        t = sh["type"]
        if t not in TYPES:
            raise ModelError("%s shape %s: type %s is not supported" % (name, n, t))
        f = [".name = %s" % cstr(n), ".type = %s" % TYPES[t]]
        if "min" in sh:
            f += [".has_min = 1", ".min = %dLL" % int(sh["min"])]
        if "max" in sh:
            f += [".has_max = 1", ".max = %dLL" % int(sh["max"])]
        if "pattern" in sh:
            f.append(".pattern = %s" % cstr(sh["pattern"]))
        if "enum" in sh:
            f += [".enums = E_%s__%s" % (sid, ident(n)), ".enum_count = %d" % len(sh["enum"])]
        if t == "structure" and sh.get("members"):
            f += [".members = M_%s__%s" % (sid, ident(n)), ".member_count = %d" % len(sh["members"])]
        for k in ("member", "key", "value"):
            if k in sh:
                f.append(".%s = %s" % (k, S(sh[k]["shape"])))
        if sh.get("exception"):
            f.append(".exception = 1")
        if sh.get("sensitive"):
            f.append(".sensitive = 1")
        err = sh.get("error")
        if err:
            check_keys("%s shape %s's error" % (name, n), err, ERROR_KEYS)
            if err.get("code") and err["code"] != n:
                f.append(".error_code = %s" % cstr(err["code"]))
            if err.get("httpStatusCode"):
                f.append(".error_status = %d" % int(err["httpStatusCode"]))
        if sh.get("fault"):
            f.append(".fault = 1")
        lines.append("static const smneo_shape S_%s__%s = {%s};" % (sid, ident(n), ", ".join(f)))
    lines.append("")
    lines.append("static const smneo_shape *const SH_%s[] = {" % sid)
    for n in names:
        lines.append("    &S_%s__%s," % (sid, ident(n)))
    lines.append("};")
    lines.append("")
    ops = model["operations"]
    rows = []
    for op, od in ops.items():
        where = "%s operation %s" % (name, op)
        check_keys(where, od, OPERATION_KEYS, OPERATION_IGNORED)
        check_keys(where + "'s http", od["http"], HTTP_KEYS)
        for k in ("input", "output"):
            if k in od:
                check_keys("%s's %s" % (where, k), od[k], IO_KEYS)
        if "resultWrapper" in od.get("input", {}):
            raise ModelError("%s: an input resultWrapper is not supported" % where)
        errs = [e["shape"] for e in od.get("errors", [])]
        for e in errs:
            S(e)
        if errs:
            lines.append("static const char *const ERR_%s__%s[] = {%s};" % (sid, op, ", ".join(cstr(e) for e in errs)))
        kind, itok, otok, limit, rkeys = paging_of(name, model, op)
        if rkeys:
            lines.append("static const char *const RK_%s__%s[] = {%s};" % (sid, op, ", ".join(cstr(k) for k in rkeys)))
        auth = resolve_auth(where, od.get("auth"), od.get("authtype")) or svc_auth
        if "input" not in od:
            raise ModelError("%s has no input shape" % where)
        f = [
            ".name = %s" % cstr(op),
            ".python_name = %s" % cstr(snake(op)),
            ".input = %s" % S(od["input"]["shape"]),
            ".output = %s" % (S(od["output"]["shape"]) if "output" in od else "NULL"),
        ]
        if errs:
            f += [".errors = ERR_%s__%s" % (sid, op), ".error_count = %d" % len(errs)]
        if kind != "SMNEO_PAGING_NONE":
            f += [".input_token = %s" % cstr(itok), ".output_token = %s" % cstr(otok),
                  ".limit_key = %s" % cstr(limit), ".result_key = %s" % cstr(rkeys[0] if rkeys else None)]
        if kind == "SMNEO_PAGING_TOKEN":
            f.append(".iter_name = %s" % cstr(iter_name(snake(op))))
        f += [".service = &SVC_%s" % sid, ".http_method = %s" % cstr(od["http"]["method"]),
              ".request_uri = %s" % cstr(od["http"]["requestUri"]), ".auth = %s" % auth]
        if od.get("output", {}).get("resultWrapper"):
            f.append(".result_wrapper = %s" % cstr(od["output"]["resultWrapper"]))
        f.append(".paging = %s" % kind)
        if rkeys:
            f += [".result_keys = RK_%s__%s" % (sid, op), ".result_key_count = %d" % len(rkeys)]
        rows.append("    {%s}," % ", ".join(f))
    lines.append("static const smneo_operation OPS_%s[] = {" % sid)
    lines.extend(rows)
    lines.append("};")
    env, key = service_env_name(md)
    f = [
        ".name = %s" % cstr(name),
        ".service_id = %s" % cstr(md["serviceId"]),
        ".protocol = %s" % PROTOCOLS[md["protocol"]],
        ".api_version = %s" % cstr(md["apiVersion"]),
        ".json_version = %s" % cstr(md.get("jsonVersion") if md["protocol"] in ("json", "rest-json") else None),
        ".target_prefix = %s" % cstr(md.get("targetPrefix")),
        ".signing_name = %s" % cstr(md.get("signingName") or md["endpointPrefix"]),
        ".endpoint_prefix = %s" % cstr(md["endpointPrefix"]),
        ".global_endpoint = %s" % cstr(md.get("globalEndpoint")),
        ".xml_namespace = %s" % cstr(md.get("xmlNamespace")),
        ".endpoint_env = %s" % cstr(env),
        ".config_key = %s" % cstr(key),
        ".auth = %s" % svc_auth,
        ".operations = OPS_%s" % sid,
        ".operation_count = %d" % len(ops),
        ".shapes = SH_%s" % sid,
        ".shape_count = %d" % len(names),
    ]
    if md["protocol"] == "json" and not md.get("targetPrefix"):
        raise ModelError("%s: a JSON service needs a targetPrefix" % name)
    lines.append("static const smneo_service SVC_%s = {" % sid)
    lines.extend("    %s," % x for x in f)
    lines.append("};")
    lines.append("")
    return lines


# ---- Python -----------------------------------------------------------------------


def iter_name(python_name):
    """The item iterator of a paginated operation: list_x -> iter_x (as Lua's)."""
    return "iter_" + (python_name[5:] if python_name.startswith("list_") else python_name)


def ordered_members(shape):
    """Required members first (model order), then the optional ones."""
    req = shape.get("required", [])
    members = shape.get("members", {})
    return [m for m in members if m in req] + [m for m in members if m not in req]


def wrap_words(words, width, first_prefix, prefix):
    """Joins words with ", " into lines no longer than width."""
    out, line = [], first_prefix
    for i, w in enumerate(words):
        piece = w + (", " if i < len(words) - 1 else "")
        if len(line) + len(piece.rstrip()) > width and line.strip():
            out.append(line.rstrip())
            line = prefix
        line += piece
    out.append(line)
    return out


def gen_py_methods(model):
    shapes = model["shapes"]
    svc = model["metadata"]["serviceId"]
    lines = [
        "/* Generated by tools/gen_model.py from model/%s.json. Do not edit." % CLIENT_SERVICE,
        " *",
        " * The client's operation methods: X(python_name, \"ApiName\", docstring).",
        " * _client.c expands the list twice: the functions, then their PyMethodDef",
        " * rows. A new operation in the model is a new row here after regeneration. */",
        "#ifndef SMNEO_PY_METHODS_H",
        "#define SMNEO_PY_METHODS_H",
        "",
        "#define SMNEO_PY_OPERATIONS(X) \\",
    ]
    ops = model["operations"]
    for i, (op, od) in enumerate(ops.items()):
        py = snake(op)
        inp = shapes[od["input"]["shape"]]
        req = inp.get("required", [])
        args = [m if m in req else m + "=..." for m in ordered_members(inp)]
        sig = wrap_words(args, 96, "%s(*, " % py if args else "%s(" % py, "    ")
        sig[-1] += ") -> dict"
        doc = ["\n".join(sig), ""]
        out = shapes[od["output"]["shape"]] if "output" in od else None
        if out and out.get("members"):
            doc.append("%s %s: the response dict as boto3 returns it (%s) with ResponseMetadata."
                       % (svc, op, ", ".join(out["members"])))
        else:
            doc.append("%s %s: returns a dict holding only ResponseMetadata." % (svc, op))
        if op in model.get("pagination", {}):
            doc.append("One page: get_paginator(%r) and %s() walk every page." % (py, iter_name(py)))
        errs = [e["shape"] for e in od.get("errors", [])]
        doc.append("Raises ParamValidationError before sending, ClientError from the service%s."
                   % (" (modeled: %s, in client.exceptions)" % ", ".join(errs) if errs else ""))
        text = "\n".join(doc[:2] + [textwrap.fill(d, 96, break_on_hyphens=False) for d in doc[2:]])
        chunks = [cstr(c) for c in re.findall(r"[^\n]*\n|[^\n]+", text)]
        sep = " \\\n        "
        lines.append("    X(%s, %s,%s%s)%s" % (py, cstr(op), sep, sep.join(chunks),
                                              " \\" if i < len(ops) - 1 else ""))
    lines.append("")
    lines.append("/* For messages: every operation's API name. */")
    lines.append("#define SMNEO_PY_OPERATION_NAMES %s" % cstr(", ".join(ops)))
    lines.append("")
    lines.append("#endif")
    return "\n".join(lines) + "\n"


class Typing:
    """TypedDicts for the client service (python/smneo/type_defs.py and stubs).

    A structure reached from a request is <Shape>TypeDef; from a response
    <Shape>OutputTypeDef when requests use it too (timestamps and lists read
    differently there), else <Shape>TypeDef. Enums are <Shape>Type = Literal.
    """

    def __init__(self, model):
        self.model = model
        self.shapes = model["shapes"]
        self.input_side = set()
        self.output_side = set()
        for od in model["operations"].values():
            self._reach(od["input"]["shape"], self.input_side)
            if "output" in od:
                self._reach(od["output"]["shape"], self.output_side)

    def _reach(self, n, seen):
        if n in seen:
            return
        seen.add(n)
        sh = self.shapes[n]
        for mv in sh.get("members", {}).values():
            self._reach(mv["shape"], seen)
        for k in ("member", "key", "value"):
            if k in sh:
                self._reach(sh[k]["shape"], seen)

    def td_name(self, n, out):
        if out and n in self.input_side:
            return n + "OutputTypeDef"
        return n + "TypeDef"

    def enum_name(self, n):
        return n + "Type"

    def ann(self, n, out):
        sh = self.shapes[n]
        t = sh["type"]
        if t == "structure":
            return self.td_name(n, out)
        if t == "list":
            return ("List[%s]" if out else "Sequence[%s]") % self.ann(sh["member"]["shape"], out)
        if t == "map":
            return ("Dict[%s, %s]" if out else "Mapping[%s, %s]") % (
                self.ann(sh["key"]["shape"], out), self.ann(sh["value"]["shape"], out))
        if t == "string":
            return self.enum_name(n) if "enum" in sh else "str"
        if t in ("integer", "long"):
            return "int"
        if t == "boolean":
            return "bool"
        if t in ("double", "float"):
            return "float"
        if t == "timestamp":
            return "datetime.datetime" if out else "TimestampTypeDef"
        if t == "blob":
            return "bytes" if out else "BlobTypeDef"
        raise ModelError("no Python type for %s (%s)" % (n, t))

    def structures(self):
        """(shape, is_output) pairs in dependency order, deterministic."""
        order, seen = [], set()

        def visit(n, out):
            key = (n, out)
            if key in seen:
                return
            seen.add(key)
            sh = self.shapes[n]
            for mv in sh.get("members", {}).values():
                visit(mv["shape"], out)
            for k in ("member", "key", "value"):
                if k in sh:
                    visit(sh[k]["shape"], out)
            if sh["type"] == "structure":
                order.append(key)

        for op, od in self.model["operations"].items():
            visit(od["input"]["shape"], False)
        for op, od in self.model["operations"].items():
            if "output" in od:
                visit(od["output"]["shape"], True)
        return order

    def is_response(self, n):
        return any(od.get("output", {}).get("shape") == n for od in self.model["operations"].values())

    def typeddict(self, n, out):
        sh = self.shapes[n]
        name = self.td_name(n, out)
        members = list(sh.get("members", {}).items())
        req = set(sh.get("required", []))
        extra = [("ResponseMetadata", "ResponseMetadataTypeDef", True)] if out and self.is_response(n) else []
        fields = [(m, self.ann(mv["shape"], out), m in req) for m, mv in members] + extra
        for m, _, _ in fields:
            if not m.isidentifier() or keyword.iskeyword(m):
                raise ModelError("member %s of %s is not a Python identifier" % (m, n))
        required = [f for f in fields if f[2]]
        optional = [f for f in fields if not f[2]]
        lines = []
        if required and optional:
            lines.append("class _Required%s(TypedDict):" % name)
            lines += ["    %s: %s" % (m, a) for m, a, _ in required]
            lines.append("")
            lines.append("")
            lines.append("class %s(_Required%s, total=False):" % (name, name))
            lines += ["    %s: %s" % (m, a) for m, a, _ in optional]
        elif required:
            lines.append("class %s(TypedDict):" % name)
            lines += ["    %s: %s" % (m, a) for m, a, _ in required]
        else:
            lines.append("class %s(TypedDict, total=False):" % name)
            lines += ["    %s: %s" % (m, a) for m, a, _ in optional] or ["    pass"]
        return lines

    def type_defs_module(self):
        enums = sorted(n for n in self.input_side | self.output_side
                       if self.shapes[n]["type"] == "string" and "enum" in self.shapes[n])
        lines = [
            '"""Typed request and response dicts of the smneo client, as mypy-boto3 names them.',
            "",
            "Generated by tools/gen_model.py from model/%s.json. Do not edit." % CLIENT_SERVICE,
            "For type checkers: the client's methods are annotated with these (see",
            "_smneo.pyi); at run time they are plain dicts. Request dicts are",
            "<Shape>TypeDef; a response structure that requests use too is",
            '<Shape>OutputTypeDef (timestamps are datetimes, lists are lists there)."""',
            "from __future__ import annotations",
            "",
            "import datetime",
            "from typing import Dict, List, Literal, Mapping, Sequence, TypedDict, Union",
            "",
            "TimestampTypeDef = Union[datetime.datetime, str, int, float]",
            "BlobTypeDef = Union[bytes, bytearray, str]",
            "",
        ]
        for n in enums:
            vals = ", ".join(repr(v) for v in self.shapes[n]["enum"])
            lines.extend(wrap_words(vals.split(", "), 110, "%s = Literal[" % self.enum_name(n), "    "))
            lines[-1] += "]"
        lines += [
            "",
            "",
            "class ResponseMetadataTypeDef(TypedDict):",
            "    RequestId: str",
            "    HTTPStatusCode: int",
            "    HTTPHeaders: Dict[str, str]",
            "    RetryAttempts: int",
            "",
            "",
            "class EmptyResponseMetadataTypeDef(TypedDict):",
            "    ResponseMetadata: ResponseMetadataTypeDef",
        ]
        for n, out in self.structures():
            lines += ["", ""] + self.typeddict(n, out)
        return "\n".join(lines) + "\n"

    def result_type(self, od):
        if "output" not in od:
            return "EmptyResponseMetadataTypeDef"
        return self.td_name(od["output"]["shape"], True)

    def method_stubs(self, indent="    ", asynchronous=False):
        """The operation methods (smneo.aio's: coroutines, asynchronous=True)."""
        lines = []
        for op, od in self.model["operations"].items():
            inp = self.shapes[od["input"]["shape"]]
            req = inp.get("required", [])
            params = ["self"]
            ms = ordered_members(inp)
            if ms:
                params.append("*")
            for m in ms:
                a = self.ann(inp["members"][m]["shape"], False)
                params.append("%s: %s%s" % (m, a, "" if m in req else " = ..."))
            lines.extend(self._def(indent, snake(op), params, self.result_type(od), asynchronous))
        return lines

    def iter_stubs(self, indent="    ", asynchronous=False):
        """The iter_* methods (smneo.aio's: async iterators, asynchronous=True)."""
        lines = []
        pag = self.model.get("pagination", {})
        for op, od in self.model["operations"].items():
            if op not in pag:
                continue
            p = pag[op]
            inp = self.shapes[od["input"]["shape"]]
            req = inp.get("required", [])
            params = ["self"]
            ms = [m for m in ordered_members(inp) if m not in (p["input_token"], p.get("limit_key"))]
            if ms:
                params.append("*")
            for m in ms:
                params.append("%s: %s%s" % (m, self.ann(inp["members"][m]["shape"], False),
                                            "" if m in req else " = ..."))
            out = self.shapes[od["output"]["shape"]]
            rk = p["result_key"] if isinstance(p["result_key"], str) else p["result_key"][0]
            lst = self.shapes[out["members"][rk]["shape"]]
            item = self.ann(lst["member"]["shape"], True)
            lines.extend(self._def(indent, iter_name(snake(op)), params,
                                   ("AsyncIterator[%s]" if asynchronous else "PageRun[%s]") % item))
        return lines

    def names_used(self):
        names = {"ResponseMetadataTypeDef", "EmptyResponseMetadataTypeDef", "TimestampTypeDef", "BlobTypeDef"}
        text = "\n".join(self.method_stubs() + self.iter_stubs())
        return sorted(n for n in set(re.findall(r"\b([A-Za-z0-9]+(?:TypeDef|Type))\b", text)) | names
                      if n in text)

    @staticmethod
    def _def(indent, name, params, ret, asynchronous=False):
        head = "%s%sdef %s(" % (indent, "async " if asynchronous else "", name)
        one = head + ", ".join(params) + ") -> %s: ..." % ret
        if len(one) <= 110:
            return [one]
        lines = wrap_words(params, 110, head, " " * len(head))
        lines[-1] += ") -> %s: ..." % ret
        return lines


def modeled_errors(model):
    """The client service's modeled errors, in the order operations name them."""
    out = []
    for od in model["operations"].values():
        for e in od.get("errors", []):
            if e["shape"] not in out:
                out.append(e["shape"])
    return out


def import_block(names, module):
    lines = ["from %s import (" % module]
    lines += ["    %s," % n for n in names]
    lines.append(")")
    return lines


# ---- docs ---------------------------------------------------------------------------


def doc_readme(model):
    lines = wrap_words(list(model["operations"]), 76, "  ", "  ")
    lines[-1] += "."
    return lines


def doc_python(model):
    pag = model.get("pagination", {})
    lines = ["| method | operation | every page | modeled errors |",
             "| ------ | --------- | ---------- | -------------- |"]
    for op, od in model["operations"].items():
        py = snake(op)
        pages = "`get_paginator(\"%s\")`, `%s()`" % (py, iter_name(py)) if op in pag else ""
        errs = ", ".join("`%s`" % e["shape"] for e in od.get("errors", []))
        lines.append("| `%s(**kwargs)` | %s | %s | %s |" % (py, op, pages, errs))
    return lines


def doc_lua(model):
    shapes = model["shapes"]
    pag = model.get("pagination", {})
    lines = []
    for op, od in model["operations"].items():
        py = snake(op)
        req = shapes[od["input"]["shape"]].get("required", [])
        args = "{ %s }" % ", ".join("%s = ..." % m for m in req) if req else "{ ... }"
        note = []
        if op in pag:
            note.append("one page; client:%s{...} for every item" % iter_name(py))
        if "output" not in od:
            note.append("returns {} (no output)")
        lines.append("local res = client:%s%s%s" % (py, args, ("  -- " + "; ".join(note)) if note else ""))
    return lines


# ---- regions and output -------------------------------------------------------------


def replace_region(text, name, body_lines, path):
    lines = text.split("\n")
    begin = [i for i, l in enumerate(lines) if re.search(r"\bBEGIN GENERATED %s\b" % re.escape(name), l)]
    end = [i for i, l in enumerate(lines) if re.search(r"\bEND GENERATED %s\b" % re.escape(name), l)]
    if len(begin) != 1 or len(end) != 1 or end[0] < begin[0]:
        raise ModelError("%s needs one 'BEGIN GENERATED %s' line and one 'END GENERATED %s' line after it"
                         % (path, name, name))
    return "\n".join(lines[:begin[0] + 1] + body_lines + lines[end[0]:])


def outputs(models, root):
    """{relative path: bytes} of everything generated."""
    client = next(m for n, m, _ in models if n == CLIENT_SERVICE)
    typing_ = Typing(client)
    out = {
        "core/src/model_tables.c": gen_c(models).encode(),
        "python/smneo/_methods.h": gen_py_methods(client).encode(),
        "python/smneo/type_defs.py": typing_.type_defs_module().encode(),
    }
    for name, _, raw in models:
        out["python/smneo/local/models/%s.json" % name] = raw
    used = typing_.names_used()
    errors = modeled_errors(client)
    regions = {
        "python/smneo/_smneo.pyi": [
            ("type-imports", import_block(used, ".type_defs")),
            ("errors", ["class %s(ClientError): ..." % e for e in errors]),
            ("operations", typing_.method_stubs()),
        ],
        "python/smneo/__init__.pyi": [
            ("errors", ["from ._smneo import %s as %s" % (e, e) for e in errors]),
            ("type-imports", import_block(used, ".type_defs")),
            ("exceptions", ["    %s: type[_smneo.%s]" % (e, e) for e in errors]),
            ("iterators", typing_.iter_stubs()),
        ],
        "python/smneo/aio.pyi": [
            ("type-imports", import_block(used, ".type_defs")),
            ("operations", typing_.method_stubs(asynchronous=True)),
            ("iterators", typing_.iter_stubs(asynchronous=True)),
        ],
        "README.md": [("operations", doc_readme(client))],
        "docs/python.md": [("operations", doc_python(client))],
        "docs/lua.md": [("operations", doc_lua(client))],
    }
    for rel, parts in regions.items():
        with open(os.path.join(root, rel), encoding="utf-8") as f:
            text = f.read()
        for name, body in parts:
            text = replace_region(text, name, body, rel)
        out[rel] = text.encode()
    return out


def write_atomic(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model-dir", default=os.path.join(ROOT, "model"))
    ap.add_argument("--root", default=ROOT, help="where the files with generated regions are read")
    ap.add_argument("--out-dir", help="where to write (default: the root)")
    ap.add_argument("--check", action="store_true", help="compare with the files under the root; write nothing")
    args = ap.parse_args(argv)
    try:
        models = load_models(args.model_dir)
        files = outputs(models, args.root)
    except ModelError as e:
        print("gen_model: %s" % e, file=sys.stderr)
        return 2
    if args.check:
        stale = []
        expected_copies = {p for p in files if p.startswith("python/smneo/local/models/")}
        models_dir = os.path.join(args.root, "python", "smneo", "local", "models")
        if os.path.isdir(models_dir):
            for fn in os.listdir(models_dir):
                if "python/smneo/local/models/" + fn not in expected_copies:
                    stale.append("python/smneo/local/models/" + fn)
                    print("%s has no model/ source: remove it" % stale[-1], file=sys.stderr)
        for rel, data in sorted(files.items()):
            path = os.path.join(args.root, rel)
            try:
                with open(path, "rb") as f:
                    have = f.read()
            except OSError:
                have = b""
            if have != data:
                stale.append(rel)
                diff = difflib.unified_diff(have.decode("utf-8", "replace").splitlines(),
                                            data.decode("utf-8", "replace").splitlines(),
                                            rel, rel + " (regenerated)", lineterm="", n=1)
                print("\n".join(list(diff)[:40]), file=sys.stderr)
        if stale:
            print("stale: %s: run tools/gen_model.py" % ", ".join(stale), file=sys.stderr)
            return 1
        print("%d generated files match a regeneration" % len(files))
        return 0
    dest = args.out_dir or args.root
    for rel, data in files.items():
        write_atomic(os.path.join(dest, rel), data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
