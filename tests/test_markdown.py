"""Markdown for PR comments and job summaries: marker, verdict first, escaping and the size cap."""
from __future__ import annotations

import json
import re

import pytest

from gitrepo import SEED_MODEL, make_fixture_repo, run_mlscan
from mlscan.report.markdown import MARKER, MAX_CHARS, render_markdown
from mlscan.report.model import (EvidenceItem, NextStep, PracticeResult, Report,
                                 StageResult)


def markdown_scan(root, *extra):
    rc, out, err = run_mlscan(["scan", root, "--format", "markdown", "--no-progress", *extra])
    assert "Traceback (most recent call last)" not in err, err[-2000:]
    assert rc == 0, err[-1500:]
    return out


def verdict(md: str) -> str:
    """The first line after the marker: what a reviewer reads first."""
    lines = md.splitlines()
    assert lines[0] == MARKER
    return lines[1]


@pytest.fixture(scope="module")
def seed_added(tmp_path_factory):
    repo = make_fixture_repo("seed-added", tmp_path_factory.mktemp("md") / "seed-added",
                             message="Random-forest churn model")
    repo.apply_overlay("seed-added")
    repo.commit("Seed every RNG the training run uses")
    return repo


# --- real scans -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["notebook-only", "scripted-seeded", "dvc-mlflow-fastapi"])
def test_without_delta_the_verdict_is_the_overall_level(scanned, name):
    run = scanned(name)
    md = markdown_scan(run.repo.root)
    assert md.startswith(MARKER + "\n")
    assert f"Overall maturity level {run.report['level']}/5" in verdict(md)
    overall = run.report["overall"]
    assert f"Overall level ({overall['measure']}): " in md  # why the number is what it is
    assert overall["reason"].split(";")[0] in md
    assert "<details>" in md and "</details>" in md
    for stage in run.report["stages"]:
        assert stage["name"] in md
    assert len(md) <= MAX_CHARS




def test_with_delta_the_verdict_names_the_raise(seed_added, tmp_path):
    model = tmp_path / "model.yaml"  # train depends on seeds alone, whatever other detectors say
    model.write_text(SEED_MODEL, encoding="utf-8")
    md = markdown_scan(seed_added.root, "--base", "HEAD~1", "--model", model)
    first = verdict(md)
    assert re.search(r"raises Train pipeline from level \d to \d", first), first
    assert "seed control added" in first, first
    table = md.split("**Practices changed**", 1)[1].split("\n\n", 2)[1]
    assert "seed-control" in table and "absent" in table and "present" in table, table
    assert "→" in md  # the stage table shows from → to
    assert seed_added.rev_parse("HEAD~1")[:12] in md


def test_with_delta_and_no_change(seed_added):
    md = markdown_scan(seed_added.root, "--base", "HEAD")
    assert "No change to maturity levels" in verdict(md)
    assert "**Practices changed**" not in md


def test_markdown_matches_the_json_summary(seed_added):
    rc, out, err = run_mlscan(["scan", seed_added.root, "--base", "HEAD~1", "--format", "json"])
    assert rc == 0, err[-1500:]
    summary = json.loads(out)["delta"]["summary"]
    md = markdown_scan(seed_added.root, "--base", "HEAD~1")
    assert summary[0] in verdict(md)  # the renderer formats the delta's words; it computes none


# --- synthetic reports: escaping, next steps, size cap --------------------------------------------
def _report(n_practices: int = 3, n_evidence: int = 2, message: str = "seeds the RNG", delta=None) -> Report:
    practices = [
        PracticeResult(id=f"practice-{i}", title=f"Practice {i}", stage="train",
                       status="present" if i % 2 else "absent",
                       evidence=[EvidenceItem(f"src/mod_{i}/file_{j}.py", j + 1, "rule-x", message)
                                 for j in range(n_evidence)],
                       reason="because", remediation="Do the thing.", level=2, link="https://example.org/p")
        for i in range(n_practices)]
    steps = [NextStep(f"practice-{i}", f"Practice {i}: in place (now absent)", f"Remedy {i}.",
                      "https://example.org/p", stage="train") for i in range(0, n_practices, 2)]
    stages = [StageResult("train", "Train pipeline", 1, "level 1", [s.title for s in steps], steps),
              StageResult("deployment", "Deployment", None, "not applicable", [])]
    return Report(tool_version="0.0.0", root="/repo", commit="a" * 40, level=1, stages=stages,
                  practices=practices, diagnostics=[], delta=delta, next_steps=steps)


def test_size_cap_truncates_the_details_with_a_note():
    big = _report(n_practices=60, n_evidence=20, message="x" * 400)
    md = render_markdown(big)
    assert len(md) <= MAX_CHARS
    assert md.startswith(MARKER)
    assert "truncated" in md
    assert md.rstrip().endswith("</details>")
    assert "Overall maturity level 1/5" in verdict(md)
    small = render_markdown(_report())
    assert "truncated" not in small


def test_custom_cap_is_honoured():
    md = render_markdown(_report(n_practices=30, n_evidence=10), max_chars=5000)
    assert len(md) <= 5000 and "truncated" in md


def test_top_five_next_steps_only():
    md = render_markdown(_report(n_practices=20))
    steps = re.findall(r"^\d+\. \*\*Practice \d+", md, re.M)
    assert len(steps) == 5
    assert "5 more in the details below" in md


def test_repository_text_is_escaped():
    hostile = "<script>alert(1)</script> | cc @octocat"
    md = render_markdown(_report(message=hostile))
    assert "<script>" not in md
    assert "@octocat" not in md
    body = md.split("<details>", 1)[1]
    assert "&lt;script&gt;" in body


def test_lowering_verdict_comes_from_the_delta():
    delta = {"base": {"ref": "main", "commit": "b" * 40, "level": 2}, "level": {"from": 2, "to": 1},
             "stages": [{"id": "train", "name": "Train pipeline", "from": 2, "to": 1}],
             "practices": [{"id": "practice-0", "title": "Practice 0", "stage": "train",
                            "from": "present", "to": "absent"}],
             "new_findings": [], "fixed_findings": [],
             "summary": ["This PR lowers Train pipeline from level 2 to 1: practice 0 removed"]}
    md = render_markdown(_report(delta=delta))
    assert verdict(md) == "### mlscan: This PR lowers Train pipeline from level 2 to 1: practice 0 removed"
    assert "2 → **1**" in md and "lowered" in md
    assert "Overall maturity level 1/5 (base `main` (`bbbbbbbbbbbb`): 2/5)" in md
