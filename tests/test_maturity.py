"""Table-driven tests of the maturity policy: findings -> status -> stage levels -> overall level."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from mlscan.catalogue import load_catalogue
from mlscan.errors import UsageError
from mlscan.maturity import assess_stages, load_model, overall_detail, overall_level, parse_model, practice_status
from mlscan.report.model import PracticeResult
from mlscan.rulekit import Finding

CAT = load_catalogue()


def F(kind: str, msg: str = "m") -> Finding:
    return Finding(kind, "a.py", 1, msg, "r")


@pytest.mark.parametrize("kinds,status", [
    ([], "absent"),
    (["supports"], "present"),
    (["supports", "gap"], "partial"),
    (["partial"], "partial"),
    (["partial", "supports"], "present"),
    (["gap"], "absent"),
    (["not-applicable"], "not-applicable"),
    (["not-applicable", "supports"], "present"),
    (["inconclusive"], "unknown"),
    (["inconclusive", "partial"], "partial"),
    (["inconclusive", "not-applicable"], "unknown"),  # a failed rule is never hidden behind n/a
])
def test_practice_status_from_findings(kinds, status):
    got, reason, evidence = practice_status([F(k) for k in kinds])
    assert got == status
    if status in ("present", "partial"):
        assert evidence, "present/partial must cite evidence"
    if status in ("not-applicable", "unknown"):
        assert reason


def practices(**statuses: str):
    out = {}
    for p in CAT.practices:
        st = statuses.get(p.id.replace("-", "_"), "absent")
        out[p.id] = PracticeResult(p.id, p.title, p.stage, st, [], "", p.remediation, p.level)
    return out


SMALL_MODEL = {
    "name": "small",
    "stages": [
        {"id": "train", "levels": {2: {"seed-control": "partial"}, 3: {"seed-control": "present",
                                                                     "experiment-tracking": "partial"}}},
        {"id": "feature", "levels": {2: {"train-serve-parity": "partial"}}},
    ],
    "overall": {"method": "min"},
}


@pytest.mark.parametrize("statuses,train,feature", [
    ({}, 1, 1),
    ({"seed_control": "partial"}, 2, 1),
    ({"seed_control": "present"}, 2, 1),
    ({"seed_control": "present", "experiment_tracking": "partial"}, 3, 1),
    ({"seed_control": "partial", "experiment_tracking": "present"}, 2, 1),   # levels are cumulative
    ({"train_serve_parity": "not-applicable"}, 1, None),                     # stage not applicable
    ({"seed_control": "unknown"}, 1, 1),                                      # unknown never counts as met
])
def test_stage_levels_table(statuses, train, feature):
    model = parse_model(SMALL_MODEL, CAT, "test")
    stages = {s.id: s for s in assess_stages(model, CAT, practices(**statuses))}
    assert stages["train"].level == train
    assert stages["feature"].level == feature
    assert stages["data"].level is None  # not in this model


def test_next_steps_name_the_unmet_requirements_with_remediation():
    model = parse_model(SMALL_MODEL, CAT, "test")
    stages = {s.id: s for s in assess_stages(model, CAT, practices(seed_control="partial"))}
    steps = stages["train"].next_steps
    assert [s.practice for s in steps] == ["seed-control", "experiment-tracking"]
    assert all(s.remediation and s.link for s in steps)


@pytest.mark.parametrize("method,levels,expected", [
    ("min", [1, 3, 4], 1), ("median", [1, 3, 4], 3), ("mean", [1, 3, 4], 2), ("median", [2, 4], 2),
])
def test_overall_from_stage_levels(method, levels, expected):
    model = parse_model({**SMALL_MODEL, "overall": {"method": method}}, CAT, "t")

    class S:
        def __init__(self, i, level):
            self.id, self.level = f"s{i}", level
    assert overall_level(model, [S(i, x) for i, x in enumerate(levels)], {})[0] == expected
    assert overall_detail(model, [S(i, x) for i, x in enumerate(levels)], {})["measure"] == "depth"


def test_overall_breadth_says_why():
    model = parse_model({"stages": [], "overall": {"method": "share", "thresholds": {2: 0.1, 3: 0.4, 4: 0.75, 5: 0.9},
                                                   "practices": ["seed-control", "ci", "ml-tests"]}}, CAT, "t")
    detail = overall_detail(model, [], practices(seed_control="present", ci="partial"))
    assert (detail["level"], detail["measure"]) == (3, "breadth")
    assert detail["practices"]["absent"] == ["ml-tests"] and detail["practices"]["partial"] == ["ci"]
    assert detail["reason"] == ("50% of 3 applicable core practices in place (1 present, 1 partial counting 0.5, "
                                "1 absent); level 3 needs 40%, level 4 needs 75%")


def test_overall_score_thresholds():
    model = parse_model({"stages": [], "overall": {"method": "score", "thresholds": {2: 1, 3: 2, 4: 3, 5: 4},
                                                   "practices": ["seed-control", "ci", "ml-tests"]}}, CAT, "t")
    assert overall_level(model, [], practices())[0] == 1
    assert overall_level(model, [], practices(seed_control="present"))[0] == 2
    assert overall_level(model, [], practices(seed_control="present", ci="partial", ml_tests="partial"))[0] == 3


@pytest.mark.parametrize("raw,message", [
    ({"stages": [{"id": "nope", "levels": {2: {"ci": "present"}}}]}, "unknown stage"),
    ({"stages": [{"id": "test", "levels": {2: {"no-such-practice": "present"}}}]}, "unknown practice"),
    ({"stages": [{"id": "test", "levels": {7: {"ci": "present"}}}]}, "levels run from 2 to 5"),
    ({"stages": [{"id": "test", "levels": {2: {"ci": "great"}}}]}, "'partial' or 'present'"),
    ({"overall": {"method": "vibes"}}, "overall.method"),
    ([1, 2], "top level must be a mapping"),
])
def test_invalid_models_are_usage_errors(raw, message):
    with pytest.raises(UsageError, match=message):
        parse_model(raw, CAT, "bad.yaml")


def test_builtin_model_loads_and_covers_every_stage():
    model = load_model(None, CAT)
    assert {s.id for s in model.stages} == {s.id for s in CAT.stages}


def test_builtin_model_says_it_is_a_reconstruction():
    text = (Path(__file__).parents[1] / "scanner" / "data" / "model.yaml").read_text()
    assert "reconstruction" in text and "Appendix A" in text


def test_custom_model_file_changes_levels_as_documented(tmp_path: Path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "train.py").write_text("import random\nfrom sklearn.svm import SVC\nrandom.seed(0)\nSVC().fit([[0]], [0])\n")
    model = tmp_path / "team.yaml"
    model.write_text(yaml.safe_dump({"name": "team", "stages": [
        {"id": "train", "levels": {2: {"seed-control": "present"}, 3: {"seed-control": "present"},
                                   4: {"seed-control": "present"}}}],
        "overall": {"method": "min"}}))

    def scan(*extra):
        out = subprocess.run([sys.executable, "-m", "mlscan", "scan", str(repo), "--format", "json", *extra],
                             capture_output=True, text=True, check=True).stdout
        return json.loads(out)
    default = scan()
    custom = scan("--model", str(model))
    assert custom["model"] == "team"
    train = {s["id"]: s["level"] for s in custom["stages"]}
    assert train["train"] == 4 and custom["level"] == 4
    assert {s["id"]: s["level"] for s in default["stages"]}["train"] != 4
    (repo / "pyproject.toml").write_text('[tool.mlscan]\nmodel = "team.yaml"\n')
    (repo / "team.yaml").write_text(model.read_text())
    assert scan()["model"] == "team"


def test_bad_model_file_exits_2_with_a_message(tmp_path: Path):
    bad = tmp_path / "m.yaml"
    bad.write_text(textwrap.dedent("""\
        stages:
          - id: train
            levels: {2: {seed-control: sometimes}}
        """))
    r = subprocess.run([sys.executable, "-m", "mlscan", "scan", str(tmp_path), "--model", str(bad)],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "seed-control" in r.stderr and "Traceback" not in r.stderr


def test_next_steps_are_listed_once_in_stage_order():
    from mlscan.maturity import next_steps_in_order
    from mlscan.report.model import NextStep, StageResult
    a = NextStep("ci", "CI", "r", stage="test")
    b = NextStep("seed-control", "Seeds", "r", stage="train")
    stages = [StageResult("train", "Train", 1, "", [], [b, a]), StageResult("test", "Test", 1, "", [], [a])]
    assert [n.practice for n in next_steps_in_order(stages)] == ["seed-control", "ci"]


def test_catalogue_is_consistent():
    from mlscan.catalogue import catalogue_problems
    assert catalogue_problems(CAT) == []


def test_overall_practice_weights_count_in_share_and_reason():
    model = parse_model({"stages": [], "overall": {"method": "share", "thresholds": {2: 0.1, 3: 0.4, 4: 0.75, 5: 0.9},
                                                   "practice_weights": {"ci": 2},
                                                   "practices": ["seed-control", "ci", "ml-tests"]}}, CAT, "t")
    detail = overall_detail(model, [], practices(ci="present"))
    assert detail["score"] == 0.5 and detail["level"] == 3   # 2 of 4 weighted units; unweighted it would be 1/3
    assert "weighted ci 2: 2 of 4 points" in detail["reason"]
    with pytest.raises(UsageError):
        parse_model({"stages": [], "overall": {"method": "share", "thresholds": {2: 0.1, 3: 0.4, 4: 0.75, 5: 0.9},
                                               "practice_weights": {"no-such": 2}}}, CAT, "t")
