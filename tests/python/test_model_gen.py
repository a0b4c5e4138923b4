"""The model pipeline: tools/trim_model.py reproduces model/*.json from the
botocore they record, and tools/gen_model.py turns a model with one more
operation into core tables, Python methods, stubs and docs that carry it (a
new operation is a regeneration for every binding). The generated stubs
match the runtime client and the model's member names."""
import ast
import json
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import gen_model  # noqa: E402
import trim_model  # noqa: E402


def _botocore():
    try:
        import botocore
    except ImportError:
        pytest.skip("botocore is not installed")
    return botocore


def _model(name):
    with open(os.path.join(ROOT, "model", name + ".json"), encoding="utf-8") as f:
        return json.load(f)


def test_every_service_is_trimmed_and_records_its_botocore():
    services = [f[:-5] for f in os.listdir(os.path.join(ROOT, "model"))
                if f.endswith(".json") and gen_model.is_service_model(_model(f[:-5]))]
    assert sorted(services) == sorted(trim_model.SERVICES)
    for name, (api_version, operations) in trim_model.SERVICES.items():
        m = _model(name)
        assert m["metadata"]["apiVersion"] == api_version
        assert list(m["operations"]) == operations
        assert m["metadata"]["botocoreVersion"]


def test_trim_reproduces_the_committed_models(tmp_path):
    botocore = _botocore()
    recorded = _model("sagemaker")["metadata"]["botocoreVersion"]
    if botocore.__version__ != recorded:
        pytest.skip("model/ was trimmed from botocore %s; this interpreter has %s" % (recorded, botocore.__version__))
    assert trim_model.main(["--out-dir", str(tmp_path)]) == 0
    for name in trim_model.SERVICES:
        with open(os.path.join(ROOT, "model", name + ".json"), "rb") as f:
            committed = f.read()
        assert (tmp_path / (name + ".json")).read_bytes() == committed, name


def test_local_endpoint_reads_the_models_copies():
    from smneo.local import model as local_model

    for name in trim_model.SERVICES:
        m = local_model.Model(name)
        assert (m.operations, m.shapes, m.metadata) == (_model(name)["operations"], _model(name)["shapes"],
                                                        _model(name)["metadata"])


def _gen_with_extra_operation(tmp_path):
    _botocore()
    models = tmp_path / "model"
    assert trim_model.main(["--out-dir", str(models), "--add-operation",
                            "sagemaker:DescribeEdgePackagingJob"]) == 0
    out = tmp_path / "out"
    assert gen_model.main(["--model-dir", str(models), "--root", ROOT, "--out-dir", str(out)]) == 0
    return out


def test_a_new_operation_is_a_regeneration(tmp_path):
    out = _gen_with_extra_operation(tmp_path)
    read = lambda rel: (out / rel).read_text(encoding="utf-8")  # noqa: E731
    tables = read("core/src/model_tables.c")
    assert '.name = "DescribeEdgePackagingJob", .python_name = "describe_edge_packaging_job"' in tables
    methods = read("python/smneo/_methods.h")
    assert 'X(describe_edge_packaging_job, "DescribeEdgePackagingJob",' in methods
    assert "DescribeEdgePackagingJob" in methods.split("SMNEO_PY_OPERATION_NAMES")[1]
    stub = read("python/smneo/_smneo.pyi")
    tree = ast.parse(stub)
    client = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Client")
    fn = next(n for n in client.body if isinstance(n, ast.FunctionDef) and n.name == "describe_edge_packaging_job")
    assert [a.arg for a in fn.args.kwonlyargs] == ["EdgePackagingJobName"]
    assert ast.unparse(fn.returns) == "DescribeEdgePackagingJobResponseTypeDef"
    ns = {}
    exec(compile(read("python/smneo/type_defs.py"), "type_defs.py", "exec"), ns)
    assert "ModelName" in ns["DescribeEdgePackagingJobResponseTypeDef"].__annotations__
    assert "DescribeEdgePackagingJob" in read("README.md")
    assert "`describe_edge_packaging_job(**kwargs)` | DescribeEdgePackagingJob" in read("docs/python.md")
    assert "client:describe_edge_packaging_job{ EdgePackagingJobName = ... }" in read("docs/lua.md")
    local = json.loads(read("python/smneo/local/models/sagemaker.json"))
    assert "DescribeEdgePackagingJob" in local["operations"]
    # Only the regions changed: the text around them is the committed one.
    with open(os.path.join(ROOT, "docs", "lua.md"), encoding="utf-8") as f:
        committed = f.read()
    assert read("docs/lua.md").split("-- BEGIN GENERATED")[0] == committed.split("-- BEGIN GENERATED")[0]
    assert read("docs/lua.md").split("-- END GENERATED")[1] == committed.split("-- END GENERATED")[1]


def test_regenerated_tables_compile_and_find_the_new_operation(tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler")
    out = _gen_with_extra_operation(tmp_path)
    main = tmp_path / "main.c"
    main.write_text(
        '#include <stdio.h>\n#include "smneo/model.h"\n'
        "int main(void) {\n"
        '    const smneo_operation *op = smneo_model_operation("DescribeEdgePackagingJob");\n'
        '    if (!op || op->service != smneo_model_service("sagemaker")) return 1;\n'
        '    printf("%s %s %zu\\n", op->python_name, op->input->members[0].name, smneo_model_operation_count());\n'
        "    return 0;\n}\n")
    exe = tmp_path / "lookup"
    subprocess.run([cc, "-std=c11", "-Wall", "-Werror", "-I", os.path.join(ROOT, "core", "include"),
                    "-I", os.path.join(ROOT, "core", "src"), str(out / "core/src/model_tables.c"),
                    os.path.join(ROOT, "core", "src", "model.c"), str(main), "-o", str(exe)], check=True)
    res = subprocess.run([str(exe)], capture_output=True, text=True, check=True)
    assert res.stdout.split() == ["describe_edge_packaging_job", "EdgePackagingJobName", "7"]


def test_generator_refuses_a_trait_it_does_not_carry(tmp_path, capsys):
    models = tmp_path / "model"
    shutil.copytree(os.path.join(ROOT, "model"), models)
    m = json.loads((models / "sts.json").read_text())
    m["shapes"]["tagListType"]["flattened"] = True
    (models / "sts.json").write_text(json.dumps(m))
    assert gen_model.main(["--model-dir", str(models), "--out-dir", str(tmp_path / "out")]) == 2
    assert "tagListType has flattened" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def _stub_methods(path, cls):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        tree = ast.parse(f.read())
    c = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls)
    return {n.name: n for n in c.body if isinstance(n, ast.FunctionDef)}


def test_stubs_match_the_runtime_client_and_the_model():
    import smneo
    from smneo import _smneo

    model = _model("sagemaker")
    stubs = _stub_methods("python/smneo/_smneo.pyi", "Client")
    iters = _stub_methods("python/smneo/__init__.pyi", "Client")
    for op in _smneo._operations():
        fn = stubs[op["python_name"]]
        shape = model["shapes"][model["operations"][op["name"]]["input"]["shape"]]
        assert sorted(a.arg for a in fn.args.kwonlyargs) == sorted(shape["members"]), op["name"]
        required = set(shape.get("required", []))
        defaults = {a.arg for a, d in zip(fn.args.kwonlyargs, fn.args.kw_defaults) if d is not None}
        assert defaults == set(shape["members"]) - required
        assert callable(getattr(smneo.Client, op["python_name"]))
        if op["iter_name"]:
            assert op["iter_name"] in iters and callable(getattr(smneo.Client, op["iter_name"]))
    assert {n for n in iters if n.startswith("iter_")} == {op["iter_name"] for op in _smneo._operations()
                                                            if op["iter_name"]}
    import smneo.type_defs as td

    hints = td.DescribeCompilationJobResponseTypeDef.__annotations__
    assert "CompilationJobStatus" in hints and "ResponseMetadata" in hints
    assert td.DescribeCompilationJobResponseTypeDef.__required_keys__ >= {"CompilationJobName", "ResponseMetadata"}
    assert "FailureReason" in td.DescribeCompilationJobResponseTypeDef.__required_keys__
    assert "VpcConfig" in td.DescribeCompilationJobResponseTypeDef.__optional_keys__


def test_logs_fixture_is_what_botocore_builds(monkeypatch):
    """tests/fixtures/protocol/logs_get_log_events.json (the C test builds it
    through the core's JSON path) is botocore's document and signature."""
    _botocore()
    import datetime

    from botocore import auth, serialize
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    import botocore.session

    with open(os.path.join(ROOT, "tests", "fixtures", "protocol", "logs_get_log_events.json")) as f:
        fx = json.load(f)
    model = botocore.session.get_session().get_service_model(fx["service"])
    op = model.operation_model(fx["operation"])
    theirs = serialize.create_serializer("json", include_validation=True).serialize_to_request(fx["params"], op)
    exp = fx["expected"]
    assert json.loads(exp["body"]) == json.loads(theirs["body"])
    for k in ("X-Amz-Target", "Content-Type"):
        assert exp["headers"][k] == theirs["headers"][k]
    assert model.signing_name == "logs"
    stamp = datetime.datetime.fromtimestamp(fx["timestamp"], datetime.timezone.utc).replace(tzinfo=None)
    monkeypatch.setattr(auth, "get_current_datetime", lambda: stamp)
    headers = {k: exp["headers"][k] for k in ("X-Amz-Target", "Content-Type", "Content-Length")}
    req = AWSRequest(method="POST", url=exp["url"], data=exp["body"].encode(), headers=headers)
    auth.SigV4Auth(Credentials(fx["access_key_id"], fx["secret_access_key"]), "logs", fx["region"]).add_auth(req)
    assert req.headers["Authorization"] == exp["headers"]["Authorization"]


_TYPED_OK = '''
import smneo
from smneo.type_defs import CreateCompilationJobRequestTypeDef

c = smneo.Client(region_name="us-west-2")
job = c.describe_compilation_job(CompilationJobName="x")
status: str = job["CompilationJobStatus"]
when: str = job["CreationTime"].isoformat()
req: CreateCompilationJobRequestTypeDef = {
    "CompilationJobName": "x", "RoleArn": "arn",
    "OutputConfig": {"S3OutputLocation": "s3://b/o", "TargetDevice": "ml_c5"},
    "StoppingCondition": {"MaxRuntimeInSeconds": 900}}
c.create_compilation_job(**req)
for s in c.iter_compilation_jobs(StatusEquals="COMPLETED"):
    name: str = s["CompilationJobName"]
c.list_compilation_jobs(CreationTimeAfter=1700000000, SortOrder="Ascending")
try:
    c.stop_compilation_job(CompilationJobName="x")
except c.exceptions.ResourceNotFound as e:
    print(e.response)


async def aio() -> None:
    import smneo.aio
    async with smneo.aio.Client(region_name="us-west-2") as a:
        d = await a.describe_compilation_job(CompilationJobName="x")
        state: str = d["CompilationJobStatus"]
        async for t in a.iter_compilation_jobs(SortOrder="Ascending"):
            n: str = t["CompilationJobName"]
        async for page in a.get_paginator("list_compilation_jobs").paginate():
            print(page)
        await a.wait_for_compilation_job("x", delay=1)
'''

_TYPED_BAD = '''
import smneo
c = smneo.Client(region_name="us-west-2")
c.describe_compilation_job(CompilationJobNam="x")
c.list_compilation_jobs(SortOrder="Up")
job = c.describe_compilation_job(CompilationJobName="x")
job["CompilationJobStatuz"]
c.stop_compilation_job()
for s in c.iter_compilation_jobs():
    s["Nope"]
'''


def test_a_type_checker_sees_the_model_through_the_stubs(tmp_path):
    """mypy (Debian's python3-mypy) accepts correct use of the generated
    stubs and flags a misspelt member, a bad enum value, a missing required
    argument and an unknown response key, as mypy-boto3 users expect."""
    mypy = "/usr/bin/python3"
    if subprocess.run([mypy, "-c", "import mypy"], capture_output=True).returncode != 0:
        pytest.skip("python3-mypy is not installed")
    env = dict(os.environ, MYPYPATH=os.path.join(ROOT, "python"))
    results = {}
    for name, text in (("ok", _TYPED_OK), ("bad", _TYPED_BAD)):
        (tmp_path / (name + ".py")).write_text(text)
        results[name] = subprocess.run(
            [mypy, "-m", "mypy", "--no-incremental", "--cache-dir", str(tmp_path / "cache"), "--python-version",
             "3.8", "--no-error-summary", "--hide-error-context", str(tmp_path / (name + ".py"))],
            capture_output=True, text=True, env=env, timeout=600)
    assert results["ok"].returncode == 0, results["ok"].stdout + results["ok"].stderr
    errors = [l for l in results["bad"].stdout.splitlines() if ": error:" in l]
    assert [int(l.split(":")[1]) for l in errors] == [4, 5, 7, 8, 10], results["bad"].stdout
    assert all(l.startswith(str(tmp_path / "bad.py")) for l in errors), results["bad"].stdout
    assert '"CompilationJobNam"' in errors[0] and "Literal['Up']" in errors[1]
    assert '"CompilationJobStatuz"' in errors[2] and '"CompilationJobName"' in errors[3] and '"Nope"' in errors[4]
