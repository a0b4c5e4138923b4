"""smneo.validate over the shared validation fixtures (tests/fixtures/validation/
cases.json, also run by the C and Lua suites), and validation through the client."""
import json
import os

import pytest

import smneo

CASES_FILE = os.path.join(os.path.dirname(__file__), "..", "fixtures", "validation", "cases.json")


def _cases():
    if not os.path.exists(CASES_FILE):
        return []
    with open(CASES_FILE, encoding="utf-8") as f:
        return json.load(f)


CASES = _cases()


@pytest.mark.skipif(not CASES, reason="tests/fixtures/validation/cases.json is missing")
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_shared_validation_case(case):
    if "params" in case:
        params = case["params"]
    else:
        try:
            params = json.loads(case["params_json"])
        except ValueError:
            pytest.skip("the case is not JSON text: a Python caller cannot pass it")
    options = case.get("options") or {}
    issues = smneo.validate(case["operation"], params, **options)
    assert all(isinstance(i, smneo.Issue) and i.severity in ("error", "warning") for i in issues)
    errors = sorted((i.path, i.rule) for i in issues if i.severity == "error")
    assert errors == sorted((e["path"], e["rule"]) for e in case["errors"]), [tuple(i) for i in issues]
    warnings = {(i.path, i.rule) for i in issues if i.severity == "warning"}
    for w in case["warnings"]:
        assert (w["path"], w["rule"]) in warnings, [tuple(i) for i in issues]
    for i in issues:
        assert i.message, i


def test_issue_type():
    i = smneo.Issue("error", "Tags[3].Key", "pattern", "use letters")
    assert (i.severity, i.path, i.rule, i.message) == ("error", "Tags[3].Key", "pattern", "use letters")
    sev, path, rule, message = i
    assert i == ("error", "Tags[3].Key", "pattern", "use letters")
    assert "Tags[3].Key" in repr(i) and repr(i).startswith("Issue(")
    import pickle
    assert pickle.loads(pickle.dumps(i)) == i
    with pytest.raises(TypeError):
        smneo.Issue("error", "p", "r")


def test_validate_accepts_snake_names_and_reports_everything():
    issues = smneo.validate("create_compilation_job", {"CompilationJobName": "bad name!", "RoleArn": "x"})
    paths = {i.path for i in issues if i.severity == "error"}
    assert {"CompilationJobName", "RoleArn", "OutputConfig", "StoppingCondition"} <= paths


def test_validate_unconvertible_value_is_an_issue():
    issues = smneo.validate("DescribeCompilationJob", {"CompilationJobName": b"x"})
    assert [(i.severity, i.path, i.rule) for i in issues] == [("error", "CompilationJobName", "type")]


def test_validate_unknown_operation():
    with pytest.raises(ValueError, match="unknown operation"):
        smneo.validate("DescribeTrainingJob", {})


def test_param_validation_error_carries_the_same_issues():
    params = {"CompilationJobName": "job", "RoleArn": "arn:aws:iam::123456789012:role/R",
              "InputConfig": {"S3Uri": "s3://b/m.tar.gz", "Framework": "PYTORCH",
                              "DataInputConfig": '{"input0": [1, 3, 224, 224]}'},
              "OutputConfig": {"S3OutputLocation": "s3://b/o/", "TargetDevices": "ml_c5"},
              "StoppingCondition": {"MaxRuntimeInSeconds": 900}}
    expected = smneo.validate("CreateCompilationJob", params)
    with smneo.Client(region_name="us-east-1", endpoint_url="http://127.0.0.1:9", aws_access_key_id="a",
                      aws_secret_access_key="b") as c:
        with pytest.raises(smneo.ParamValidationError) as ei:
            c.create_compilation_job(**params)
    assert ei.value.issues == expected
    assert any(i.path == "OutputConfig.TargetDevices" and "TargetDevice" in i.message for i in expected)
    assert str(ei.value).startswith("Parameter validation failed:")
    assert isinstance(ei.value, ValueError)


def test_paginator_warnings_come_from_the_core():
    """A paginator's warnings (here: a backwards time range) are the core's
    smneo_call_issues, emitted once when the run starts."""
    import warnings

    import smneo.local

    with smneo.local.Server() as s:
        c = smneo.Client(region_name="us-east-1", aws_access_key_id="test",
                         aws_secret_access_key="test", endpoint_url=s.url)
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            pages = c.get_paginator("list_compilation_jobs").paginate(
                CreationTimeAfter=1700000100, CreationTimeBefore=1700000000).build_full_result()
            items = list(c.iter_compilation_jobs(CreationTimeAfter=1700000100,
                                                 CreationTimeBefore=1700000000))
        found = [w for w in seen if issubclass(w.category, smneo.ValidationWarning)]
        assert pages == {"CompilationJobSummaries": []}
        assert items == []
        assert len(found) == 2
        assert all("neo.list.time-range" in str(w.message) for w in found)
