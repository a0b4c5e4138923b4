#!/usr/bin/env python3
"""Trim botocore's service models to the operations smneo uses.

Usage: tools/trim_model.py [--data-dir BOTOCORE_DATA_DIR] [--out-dir DIR]
                           [--add-operation SERVICE:OPERATION ...] [SERVICE ...]

Writes DIR/<service>.json (default: model/) for each service named (default:
every service in SERVICES): the listed operations, every shape they reach
(inputs, outputs, errors) and their paginators, without documentation. The
metadata keeps botocore's (protocol, jsonVersion, targetPrefix, signingName,
endpointPrefix, globalEndpoint, ...) plus "botocoreVersion", the version the
trim was made from: re-running this script with that botocore installed gives
the committed files byte for byte (tests/python/test_model_gen.py checks it).
tools/gen_model.py turns the files into the core's tables and the bindings'
generated parts. Standard library only (botocore is read as data).
"""
import argparse
import gzip
import json
import os
import sys

# service name (botocore's client name) -> API version directory and the
# operations smneo uses.
SERVICES = {
    "sagemaker": ("2017-07-24", [
        "CreateCompilationJob",
        "DescribeCompilationJob",
        "ListCompilationJobs",
        "StopCompilationJob",
        "DeleteCompilationJob",
        "ListPipelineExecutionSteps",
    ]),
    "sts": ("2011-06-15", ["AssumeRole", "AssumeRoleWithWebIdentity", "GetCallerIdentity"]),
    "sso": ("2019-06-10", ["GetRoleCredentials"]),
    "sso-oidc": ("2019-06-10", ["CreateToken"]),
    "logs": ("2014-03-28", ["GetLogEvents", "FilterLogEvents", "DescribeLogStreams"]),
}

# Paging that botocore's paginators-1.json does not describe. GetLogEvents is
# no botocore paginator: it always returns nextForwardToken, and the end of
# the stream is reached when the token comes back equal to the one sent (the
# CloudWatch Logs API reference for GetLogEvents says so). Recorded in the
# trimmed model under "smneo_paging" with "end": "same_token".
EXTRA_PAGING = {
    "logs": {
        "GetLogEvents": {
            "input_token": "nextToken",
            "output_token": "nextForwardToken",
            "limit_key": "limit",
            "result_key": "events",
            "end": "same_token",
        },
    },
}

# Prose is not carried (ours is written in docs/); the flags are.
DROP_KEYS = {"documentation", "documentationUrl", "deprecatedMessage"}


def load(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return json.load(f)


def botocore_data_dir():
    import botocore  # noqa: only used to locate its data files and version

    return os.path.join(os.path.dirname(botocore.__file__), "data"), botocore.__version__


def strip(obj):
    if isinstance(obj, dict):
        return {k: strip(v) for k, v in obj.items() if k not in DROP_KEYS}
    if isinstance(obj, list):
        return [strip(v) for v in obj]
    return obj


def trim(data_dir, version, service, operations):
    api_version = SERVICES[service][0]
    svc_dir = os.path.join(data_dir, service, api_version)
    if not os.path.isdir(svc_dir):
        raise SystemExit("trim_model: %s has no %s %s model: install the botocore recorded in model/%s.json"
                         % (data_dir, service, api_version, service))
    svc_file = next(f for f in sorted(os.listdir(svc_dir)) if f.startswith("service-2.json"))
    model = load(os.path.join(svc_dir, svc_file))
    pag_file = os.path.join(svc_dir, "paginators-1.json")
    pag = load(pag_file)["pagination"] if os.path.exists(pag_file) else {}

    seen = set()

    def walk(name):
        if name in seen:
            return
        seen.add(name)
        shape = model["shapes"][name]
        for member in shape.get("members", {}).values():
            walk(member["shape"])
        for key in ("member", "key", "value"):
            if key in shape:
                walk(shape[key]["shape"])

    ops = {}
    for op in operations:
        if op not in model["operations"]:
            raise SystemExit("trim_model: %s has no operation %s" % (service, op))
        od = model["operations"][op]
        ops[op] = strip(od)
        for key in ("input", "output"):
            if key in od:
                walk(od[key]["shape"])
        for err in od.get("errors", []):
            walk(err["shape"])

    metadata = dict(model["metadata"])
    metadata["botocoreVersion"] = version
    out = {
        "comment": "Trimmed from botocore %s's %s %s model by tools/trim_model.py: do not edit"
                   % (version, service, api_version),
        "metadata": metadata,
        "operations": ops,
        "shapes": {name: strip(model["shapes"][name]) for name in sorted(seen)},
        "pagination": {op: pag[op] for op in operations if op in pag},
    }
    extra = {op: rule for op, rule in EXTRA_PAGING.get(service, {}).items() if op in ops}
    if extra:
        out["smneo_paging"] = extra
    return out


def dumps(model):
    return json.dumps(model, indent=1) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("services", nargs="*", help="services to trim (default: all of %s)" % ", ".join(SERVICES))
    ap.add_argument("--data-dir", help="botocore's data directory (default: the installed botocore's)")
    ap.add_argument("--botocore-version", help="the version to record with --data-dir (default: installed)")
    ap.add_argument("--out-dir", default=os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), "model"), help="where <service>.json goes (default: model/)")
    ap.add_argument("--add-operation", action="append", default=[], metavar="SERVICE:OPERATION",
                    help="trim one more operation (to try a new one before adding it to SERVICES)")
    args = ap.parse_args(argv)
    data_dir, version = (args.data_dir, args.botocore_version) if args.data_dir else botocore_data_dir()
    if not version:
        version = botocore_data_dir()[1]
    extra = {}
    for spec in args.add_operation:
        svc, _, op = spec.partition(":")
        if svc not in SERVICES or not op:
            raise SystemExit("trim_model: --add-operation takes SERVICE:OPERATION with SERVICE one of %s"
                             % ", ".join(SERVICES))
        extra.setdefault(svc, []).append(op)
    for svc in args.services or list(SERVICES):
        if svc not in SERVICES:
            raise SystemExit("trim_model: unknown service %r: use one of %s" % (svc, ", ".join(SERVICES)))
        model = trim(data_dir, version, svc, SERVICES[svc][1] + extra.get(svc, []))
        os.makedirs(args.out_dir, exist_ok=True)
        path = os.path.join(args.out_dir, svc + ".json")
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(dumps(model))
        os.replace(tmp, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
