"""SARIF from real scans of the fixture repos: valid SARIF 2.1.0, and acceptable to GitHub code scanning.

The schema (tests/schemas/sarif-schema-2.1.0.json, see PROVENANCE.md) checks the structure; GitHub
adds rules of its own that the schema does not express (a result without a file location gets the
whole upload rejected, for example), so those are checked here one by one.
"""
from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any, Dict, Iterator, List
from urllib.parse import unquote

import pytest
from jsonschema import Draft4Validator
from rfc3986_validator import validate_rfc3986

from gitrepo import GitRepo, make_fixture_repo, run_mlscan

SCHEMAS = Path(__file__).resolve().parent / "schemas"
SCHEMA_FILE = SCHEMAS / "sarif-schema-2.1.0.json"
SCHEMA_SHA256 = "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e"
FIXTURES = ["notebook-only", "scripted-seeded", "dvc-mlflow-fastapi", "serving-skew", "bad-inputs"]

# A repo whose seed control is partial: `random` is seeded, numpy's global RNG (line 6) is not.
# The gap finding has a real line number, so moving the code down tests the fingerprints.
PARTIAL_SEEDS = ("import random\nimport numpy as np\nfrom sklearn.svm import SVC\n\n"
                 "random.seed(0)\nX = np.random.rand(20, 3)\nSVC().fit(X, X[:, 0] > 0.5)\n")


@pytest.fixture(scope="session")
def validator() -> Draft4Validator:
    assert hashlib.sha256(SCHEMA_FILE.read_bytes()).hexdigest() == SCHEMA_SHA256, \
        "the vendored SARIF schema was modified; see tests/schemas/PROVENANCE.md"
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    Draft4Validator.check_schema(schema)
    return Draft4Validator(schema, format_checker=Draft4Validator.FORMAT_CHECKER)


def sarif_scan(root: Path, *extra: str) -> Dict[str, Any]:
    rc, out, err = run_mlscan(["scan", root, "--format", "sarif", "--no-progress", *extra])
    assert "Traceback (most recent call last)" not in err, err[-2000:]
    assert rc == 0, err[-1500:]
    return json.loads(out)


@pytest.fixture(scope="session")
def sarif_of(scanned):
    """`sarif_of(name)` -> (repo, SARIF dict, raw text), scanned once per session."""
    cache: Dict[str, Any] = {}

    def get(name: str):
        if name not in cache:
            repo = scanned(name).repo
            rc, out, err = run_mlscan(["scan", repo.root, "--format", "sarif", "--no-progress"])
            assert "Traceback (most recent call last)" not in err, err[-2000:]
            assert rc == 0, err[-1500:]
            cache[name] = (repo, json.loads(out), out)
        return cache[name]
    return get


def walk_keys(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from walk_keys(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk_keys(item)


def github_problems(sarif: Dict[str, Any], repo_root: Path) -> List[str]:
    """What GitHub code scanning would reject or mis-file, as readable problems."""
    problems: List[str] = []
    runs = sarif.get("runs") or []
    if sarif.get("version") != "2.1.0":
        problems.append(f"version is {sarif.get('version')!r}")
    if len(runs) != 1:
        problems.append(f"{len(runs)} runs; GitHub rejects several runs of one tool and category")
        return problems
    run = runs[0]
    driver = run.get("tool", {}).get("driver", {})
    if driver.get("name") != "mlscan" or not driver.get("version"):
        problems.append(f"driver name/version: {driver.get('name')!r} {driver.get('version')!r}")
    rules = driver.get("rules") or []
    rule_ids = [r.get("id") for r in rules]
    if len(rule_ids) != len(set(rule_ids)):
        problems.append(f"duplicate rule ids {rule_ids}")
    for rule in rules:
        where = f"rule {rule.get('id')!r}"
        for key in ("id", "name"):
            if not isinstance(rule.get(key), str) or not rule[key]:
                problems.append(f"{where}: no {key}")
        if re.search(r"\s", rule.get("name") or " "):
            problems.append(f"{where}: name {rule.get('name')!r} is not a slug")
        for key in ("shortDescription", "fullDescription", "help"):
            if not (rule.get(key) or {}).get("text"):
                problems.append(f"{where}: no {key}.text")
    for i, result in enumerate(run.get("results") or []):
        where = f"result {i} ({result.get('ruleId')})"
        if result.get("ruleId") not in rule_ids:
            problems.append(f"{where}: ruleId not among the rules")
        if "ruleIndex" in result and rule_ids[result["ruleIndex"]] != result.get("ruleId"):
            problems.append(f"{where}: ruleIndex points at another rule")
        if result.get("level") not in ("warning", "note"):
            problems.append(f"{where}: level {result.get('level')!r}")
        if not (result.get("message") or {}).get("text"):
            problems.append(f"{where}: no message.text")
        physical = [loc.get("physicalLocation") for loc in result.get("locations") or []
                    if loc.get("physicalLocation")]
        if not physical:
            problems.append(f"{where}: no physicalLocation (GitHub rejects the whole upload)")
        for loc in physical:
            art = loc.get("artifactLocation") or {}
            uri = art.get("uri") or ""
            if not uri or uri.startswith(("/", "file:")) or "\\" in uri or uri.startswith("../"):
                problems.append(f"{where}: uri {uri!r} is not repo-relative POSIX")
            elif validate_rfc3986(uri, rule="URI_reference") is None:
                problems.append(f"{where}: uri {uri!r} is not a valid URI reference")
            elif not (repo_root / unquote(uri)).is_file():
                problems.append(f"{where}: uri {uri!r} is not a file in the repository")
            if art.get("uriBaseId") != "%SRCROOT%":
                problems.append(f"{where}: uriBaseId {art.get('uriBaseId')!r}")
            start = (loc.get("region") or {}).get("startLine")
            if not isinstance(start, int) or start < 1:
                problems.append(f"{where}: region.startLine {start!r}")
        prints = result.get("partialFingerprints") or {}
        if not prints.get("mlscan/v1"):
            problems.append(f"{where}: no mlscan/v1 fingerprint")
    if "security-severity" in set(walk_keys(sarif)):
        problems.append("security-severity present: it would turn practices into security alerts")
    return problems


# --- schema ---------------------------------------------------------------------------------------
def test_vendored_schema_is_the_recorded_copy():
    provenance = (SCHEMAS / "PROVENANCE.md").read_text(encoding="utf-8")
    assert f"{SCHEMA_SHA256}  sarif-schema-2.1.0.json" in provenance
    assert hashlib.sha256(SCHEMA_FILE.read_bytes()).hexdigest() == SCHEMA_SHA256


def test_validator_is_real(validator, sarif_of):
    """The schema and the format checker reject broken documents, so a pass means something."""
    _, good, _ = sarif_of("serving-skew")
    assert not list(validator.iter_errors(good))
    no_version = copy.deepcopy(good)
    del no_version["version"]
    bad_uri = copy.deepcopy(good)
    bad_uri["runs"][0]["tool"]["driver"]["informationUri"] = "not a uri"
    bad_level = copy.deepcopy(good)
    bad_level["runs"][0]["results"][0]["level"] = "severe"
    for broken in (no_version, bad_uri, bad_level):
        assert list(validator.iter_errors(broken)), "the validator accepted a broken SARIF file"
    # and our GitHub checks catch what the schema lets through
    no_location = copy.deepcopy(good)
    no_location["runs"][0]["results"][0]["locations"] = []
    assert not list(validator.iter_errors(no_location))
    assert any("physicalLocation" in p for p in github_problems(no_location, Path("/nonexistent")))


@pytest.mark.parametrize("name", FIXTURES)
def test_sarif_validates_against_the_2_1_0_schema(validator, sarif_of, name):
    _, sarif, _ = sarif_of(name)
    errors = sorted(validator.iter_errors(sarif), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])


@pytest.mark.parametrize("name", FIXTURES)
def test_sarif_meets_github_rules(sarif_of, name):
    repo, sarif, _ = sarif_of(name)
    assert github_problems(sarif, repo.root) == []


@pytest.mark.parametrize("name", FIXTURES)
def test_one_result_per_finding_and_one_rule_per_practice(scanned, sarif_of, name):
    report = scanned(name).report
    _, sarif, _ = sarif_of(name)
    run = sarif["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == [p["id"] for p in report["practices"]]
    results = run["results"]
    assert len(results) == len(report["findings"])
    for result, finding in zip(results, report["findings"]):
        assert result["ruleId"] == finding["practice"]
        assert result["level"] == finding["severity"]
        assert result["partialFingerprints"] == {"mlscan/v1": finding["fingerprint"]}
        loc = result["locations"][0]["physicalLocation"]
        assert unquote(loc["artifactLocation"]["uri"]) == finding["path"]
        assert loc["region"]["startLine"] == (finding["line"] or 1)
    levels = run["properties"]["mlscan"]
    assert levels["level"] == report["level"]
    assert levels["stages"] == {s["id"]: s["level"] for s in report["stages"]}


def test_rules_carry_the_practice_text(sarif_of, scanned):
    _, sarif, _ = sarif_of("scripted-seeded")
    practices = {p["id"]: p for p in scanned("scripted-seeded").report["practices"]}
    for rule in sarif["runs"][0]["tool"]["driver"]["rules"]:
        p = practices[rule["id"]]
        assert rule["shortDescription"]["text"] == p["title"]
        assert p["remediation"] in rule["help"]["text"]
        assert p["remediation"] in rule["help"]["markdown"]
        assert rule["helpUri"] == p["link"]
        assert re.fullmatch(r"[A-Z][A-Za-z0-9]*", rule["name"]), rule["name"]
    assert next(r for r in sarif["runs"][0]["tool"]["driver"]["rules"]
                if r["id"] == "seed-control")["name"] == "SeedControl"


@pytest.mark.parametrize("name", ["serving-skew", "bad-inputs"])
def test_sarif_is_deterministic(scanned, name):
    repo = scanned(name).repo
    outs = [run_mlscan(["scan", repo.root, "--format", "sarif", "--no-progress"]) for _ in range(2)]
    assert [rc for rc, _, _ in outs] == [0, 0], outs[0][2][-1500:]
    assert outs[0][1] == outs[1][1]


def test_sarif_has_results_to_check(sarif_of):
    """Guard against the checks above passing vacuously."""
    assert sum(len(sarif_of(n)[1]["runs"][0]["results"]) for n in FIXTURES) > 0


# --- fingerprints ---------------------------------------------------------------------------------
def test_fingerprints_survive_moving_lines(tmp_path, validator):
    repo = GitRepo.init(tmp_path / "partial-seeds")
    repo.write("train.py", PARTIAL_SEEDS)
    repo.write("README.md", "# demo\n")
    repo.commit("Train an SVC")
    before = sarif_scan(repo.root)["runs"][0]["results"]
    gap = [r for r in before if r["ruleId"] == "seed-control" and r["level"] == "note"]
    assert gap, f"expected a partial seed-control finding; got {[r['ruleId'] for r in before]}"
    assert gap[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 6

    shifted = "# Train an SVC on random features.\n" * 7 + "\n" + PARTIAL_SEEDS
    repo.write("train.py", shifted)
    repo.write("README.md", "# demo\n\nNow with a longer introduction.\n\nAnd more.\n")
    repo.commit("Document the script")
    after_doc = sarif_scan(repo.root)
    assert not list(validator.iter_errors(after_doc))
    after = after_doc["runs"][0]["results"]

    def prints(results):
        return sorted(r["partialFingerprints"]["mlscan/v1"] for r in results)

    assert prints(after) == prints(before)
    moved = [r for r in after if r["partialFingerprints"] == gap[0]["partialFingerprints"]]
    assert moved[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 14
    for result in after:
        fp = result["partialFingerprints"]["mlscan/v1"]
        line = result["locations"][0]["physicalLocation"]["region"]["startLine"]
        assert not re.search(rf"(^|\D){line}(\D|$)", fp) or line == 1, (fp, line)


# --- scanning a subfolder, and with --base --------------------------------------------------------
def test_subfolder_scan_gives_repo_relative_uris(tmp_path, validator):
    repo = GitRepo.init(tmp_path / "mono")
    repo.write("README.md", "# monorepo\n")
    repo.write("ml/train.py", PARTIAL_SEEDS)
    repo.write("ml/README.md", "# model\n")
    repo.commit("Add the model")
    sarif = sarif_scan(repo.root / "ml")
    assert not list(validator.iter_errors(sarif))
    results = sarif["runs"][0]["results"]
    assert results
    for result in results:
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert uri.startswith("ml/"), uri
    assert github_problems(sarif, repo.root) == []


def test_uris_are_percent_encoded(tmp_path, validator):
    repo = GitRepo.init(tmp_path / "spaces")
    repo.write("my model/train #1.py", PARTIAL_SEEDS)
    repo.commit("A path with a space and a hash")
    sarif = sarif_scan(repo.root)
    assert not list(validator.iter_errors(sarif))
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in sarif["runs"][0]["results"]]
    assert "my%20model/train%20%231.py" in uris, uris
    assert github_problems(sarif, repo.root) == []


def test_sarif_with_base_is_still_one_valid_run(tmp_path, validator):
    repo = make_fixture_repo("seed-added", tmp_path / "seed-added", message="Random-forest churn model")
    repo.apply_overlay("seed-added")
    repo.commit("Seed every RNG the training run uses")
    sarif = sarif_scan(repo.root, "--base", "HEAD~1")
    assert not list(validator.iter_errors(sarif))
    assert github_problems(sarif, repo.root) == []
    delta = sarif["runs"][0]["properties"]["mlscan"]["delta"]
    assert delta["baseCommit"] == repo.rev_parse("HEAD~1")
    assert delta["summary"]
