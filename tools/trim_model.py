#!/usr/bin/env python3
"""Trim botocore's SageMaker service model to the Neo operations.

Usage: tools/trim_model.py [BOTOCORE_DATA_DIR] > model/sagemaker-neo.json

Keeps the six compilation-job operations, every shape they reach (inputs,
outputs, errors), and their paginators; drops documentation strings. The
result is committed; tools/gen_model.py turns it into C tables.
"""
import gzip
import json
import os
import sys

OPERATIONS = [
    "CreateCompilationJob",
    "DescribeCompilationJob",
    "ListCompilationJobs",
    "StopCompilationJob",
    "DeleteCompilationJob",
    "ListPipelineExecutionSteps",
]
DROP_KEYS = {"documentation", "documentationUrl"}


def load(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return json.load(f)


def find_data_dir():
    import botocore  # noqa: only used to locate the data files

    return os.path.join(os.path.dirname(botocore.__file__), "data", "sagemaker", "2017-07-24")


def strip(obj):
    if isinstance(obj, dict):
        return {k: strip(v) for k, v in obj.items() if k not in DROP_KEYS}
    if isinstance(obj, list):
        return [strip(v) for v in obj]
    return obj


def main():
    data_dir = sys.argv[1] if len(sys.argv) > 1 else find_data_dir()
    svc_file = next(f for f in sorted(os.listdir(data_dir)) if f.startswith("service-2.json"))
    model = load(os.path.join(data_dir, svc_file))
    pag = load(os.path.join(data_dir, "paginators-1.json"))["pagination"]

    seen = []

    def walk(name):
        if name in seen:
            return
        seen.append(name)
        shape = model["shapes"][name]
        for member in shape.get("members", {}).values():
            walk(member["shape"])
        for key in ("member", "key", "value"):
            if key in shape:
                walk(shape[key]["shape"])

    ops = {}
    for op in OPERATIONS:
        od = model["operations"][op]
        ops[op] = strip(od)
        for key in ("input", "output"):
            if key in od:
                walk(od[key]["shape"])
        for err in od.get("errors", []):
            walk(err["shape"])

    out = {
        "comment": "Trimmed from botocore's sagemaker 2017-07-24 model by tools/trim_model.py",
        "metadata": model["metadata"],
        "operations": ops,
        "shapes": {name: strip(model["shapes"][name]) for name in sorted(seen)},
        "pagination": {op: pag[op] for op in OPERATIONS if op in pag},
    }
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
