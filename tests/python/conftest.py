"""Shared pytest setup for tests/python: make python/ importable (or
$SMNEO_PYTHON_DIR: a package built for another interpreter by
tools/test-python-versions.sh).

Suite-specific fixtures live in their own modules (local_fixtures.py for the
smneo.local tests) and are imported by the test files that use them."""
import os
import sys

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_PY = os.environ.get("SMNEO_PYTHON_DIR") or os.path.join(_ROOT, "python")
if _PY not in sys.path:
    sys.path.insert(0, _PY)
_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


# botocore reads its data files (the service models, SageMaker's alone
# megabytes of JSON, endpoint rule sets, partitions) again in every new
# Session: the boto3 sides of the parity tests make hundreds of sessions and
# spent a good part of the suite's time in json.loads. One Loader per data
# path, shared by every session of this process, reads each file once. What a
# session does with the data is unchanged: a Loader holds nothing but the
# files it read (the same for every session) and its search paths (boto3
# appends its own directory to them once per Session: kept once here). Hooked
# in when a test module has imported botocore; the suite never imports it
# itself (the smoke pass under other Pythons runs without it).
class _OncePaths(list):
    def append(self, path):
        if path not in self:
            list.append(self, path)


def _share_botocore_loaders():
    session = sys.modules.get("botocore.session")
    if session is None or getattr(session.create_loader, "_smneo_shared", False):
        return
    loaders = {}
    create = session.create_loader

    def create_loader(search_path_string=None):
        loader = loaders.get(search_path_string)
        if loader is None:
            loader = loaders[search_path_string] = create(search_path_string)
            loader._search_paths = _OncePaths(loader._search_paths)
        return loader

    create_loader._smneo_shared = True
    session.create_loader = create_loader


def pytest_runtest_setup(item):
    _share_botocore_loaders()
