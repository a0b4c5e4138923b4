#!/usr/bin/env python3
"""Trim botocore's STS, SSO, SSO-OIDC and CloudWatch Logs models to the
operations smneo.local serves, with tools/trim_model.py's walk.

Usage: tools/trim_local_models.py [BOTOCORE_DATA_DIR]

Writes python/smneo/local/model-<service>.json (committed). smneo.local
validates requests and serializes answers from these shapes, as it does
from model/sagemaker-neo.json for SageMaker.
"""
import contextlib
import io
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import trim_model  # noqa: E402

SERVICES = {
    "sts": ("2011-06-15", ["AssumeRole", "AssumeRoleWithWebIdentity", "GetCallerIdentity"]),
    "sso": ("2019-06-10", ["GetRoleCredentials"]),
    "sso-oidc": ("2019-06-10", ["CreateToken"]),
    "logs": ("2014-03-28", ["GetLogEvents", "FilterLogEvents", "DescribeLogStreams"]),
}
OUT = os.path.join(HERE, "..", "python", "smneo", "local")


def main():
    if len(sys.argv) > 1:
        data = sys.argv[1]
    else:
        import botocore
        data = os.path.join(os.path.dirname(botocore.__file__), "data")
    for service, (version, operations) in SERVICES.items():
        trim_model.OPERATIONS = operations
        buf = io.StringIO()
        argv = sys.argv
        sys.argv = [argv[0], os.path.join(data, service, version)]
        try:
            with contextlib.redirect_stdout(buf):
                trim_model.main()
        finally:
            sys.argv = argv
        model = json.loads(buf.getvalue())
        model["comment"] = ("Trimmed from botocore's %s %s model by "
                            "tools/trim_local_models.py" % (service, version))
        path = os.path.join(OUT, "model-%s.json" % service)
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(model, f, indent=1, sort_keys=False)
            f.write("\n")
        os.replace(path + ".tmp", path)
        print("wrote %s (%d operations, %d shapes)"
              % (os.path.relpath(path), len(model["operations"]), len(model["shapes"])))


if __name__ == "__main__":
    main()
