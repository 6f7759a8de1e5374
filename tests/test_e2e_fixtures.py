"""End-to-end: the real `mlscan` CLI on the sample repos in fixtures/, built as real git repos.

Each fixture is scanned twice (cached per session, see conftest.scanned); most tests assert on
those two runs, so the file stays fast.  Expected statuses mirror each fixture's FIXTURE.md.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gitrepo import (OUTSIDE_LINKS, OUTSIDE_MARKER, RUNTIME_BAD_FILES, GitRepo, copy_fixture,
                     make_fixture_repo, run_mlscan, snapshot)

PRACTICES = ["data-versioning", "modular-train-code", "train-serve-parity", "seed-control",
             "payload-logging", "experiment-tracking", "config-management", "ml-tests", "ci",
             "dependency-pinning", "model-documentation", "data-validation", "drift-monitoring"]
STATUSES = {"present", "partial", "absent", "not-applicable", "unknown"}

PRESENT, PARTIAL, ABSENT, NA = "present", "partial", "absent", "not-applicable"

# What each fixture's FIXTURE.md promises, for the practices where the answer is clear.
EXPECTED = {
    "notebook-only": {
        "data-versioning": {ABSENT}, "modular-train-code": {ABSENT},
        "train-serve-parity": {NA}, "seed-control": {ABSENT}, "payload-logging": {NA},
        "experiment-tracking": {ABSENT}, "ci": {ABSENT}, "dependency-pinning": {ABSENT},
        "config-management": {ABSENT}, "ml-tests": {ABSENT}, "drift-monitoring": {ABSENT},
    },
    "scripted-seeded": {
        "data-versioning": {ABSENT}, "modular-train-code": {PRESENT},
        "train-serve-parity": {NA}, "seed-control": {PRESENT}, "payload-logging": {NA},
        "experiment-tracking": {PARTIAL}, "ci": {PRESENT}, "dependency-pinning": {PRESENT},
        "config-management": {PRESENT}, "drift-monitoring": {ABSENT},
    },
    "dvc-mlflow-fastapi": {
        "data-versioning": {PRESENT}, "modular-train-code": {PRESENT, PARTIAL},
        "train-serve-parity": {PRESENT}, "seed-control": {PRESENT}, "payload-logging": {PRESENT},
        "experiment-tracking": {PRESENT}, "ci": {PRESENT}, "dependency-pinning": {PRESENT},
        "config-management": {PRESENT}, "model-documentation": {PRESENT},
        "data-validation": {PRESENT}, "ml-tests": {PRESENT, PARTIAL},
        "drift-monitoring": {PRESENT, PARTIAL},
    },
    "serving-skew": {
        "data-versioning": {ABSENT}, "modular-train-code": {PRESENT, PARTIAL},
        "train-serve-parity": {ABSENT}, "seed-control": {ABSENT}, "payload-logging": {ABSENT},
        "experiment-tracking": {ABSENT}, "ci": {ABSENT}, "dependency-pinning": {ABSENT},
        "drift-monitoring": {ABSENT},
    },
    "bad-inputs": {
        "seed-control": {PRESENT, PARTIAL}, "train-serve-parity": {NA}, "payload-logging": {NA},
    },
}
SCANNED = list(EXPECTED)

# Committed files of fixtures/bad-inputs that must each be named by a diagnostic.
BAD_FILES = ("broken_syntax.py", "legacy/py2_export.py", "params.yaml", "config.json",
             "notebooks/broken.ipynb", "notebooks/not_a_notebook.ipynb") + RUNTIME_BAD_FILES


def _report(run):
    assert run.report is not None, f"{run.name}: {run.json_error}"
    return run.report


def _no_traceback(text: str) -> None:
    assert "Traceback (most recent call last)" not in text, f"traceback on stderr:\n{text[-2000:]}"


def _history_text(report) -> str:
    return json.dumps({"diagnostics": report.get("diagnostics"),
                       "history": report.get("history")}).lower()


# --- the basic contract on every fixture ----------------------------------------------------------
@pytest.mark.parametrize("name", SCANNED)
def test_scan_exits_0_with_a_contract_report(scanned, name):
    run = scanned(name)
    assert run.returncodes == [0, 0], f"{name}: stderr: {run.stderrs[0][-1500:]}"
    for err in run.stderrs:
        _no_traceback(err)
    rep = _report(run)
    assert rep.get("schema_version") == 1
    assert rep.get("tool", {}).get("name") == "mlscan"
    assert isinstance(rep.get("tool", {}).get("version"), str)
    assert isinstance(rep.get("level"), int) and 1 <= rep["level"] <= 5
    assert rep.get("commit") == run.head_before
    assert isinstance(rep.get("diagnostics"), list)
    for diag in rep["diagnostics"]:
        assert isinstance(diag.get("path"), str) and isinstance(diag.get("message"), str), diag
    assert isinstance(rep.get("stages"), list) and rep["stages"]
    for stage in rep["stages"]:
        assert isinstance(stage.get("id"), str) and isinstance(stage.get("name"), str), stage
        assert stage.get("level") is None or (isinstance(stage["level"], int)
                                              and 1 <= stage["level"] <= 5), stage
        assert isinstance(stage.get("reason"), str) and isinstance(stage.get("next"), list), stage
    ids = [p.get("id") for p in rep.get("practices", [])]
    assert sorted(set(PRACTICES) - set(ids)) == [], f"missing practices in {ids}"
    assert len(ids) == len(set(ids)), f"duplicate practice ids: {ids}"
    for practice in rep["practices"]:
        assert practice.get("status") in STATUSES, practice
        assert isinstance(practice.get("stage"), str), practice
        assert isinstance(practice.get("reason"), str), practice
        assert isinstance(practice.get("remediation"), str), practice
        assert isinstance(practice.get("evidence"), list), practice


STATUS_CASES = [(name, practice, allowed) for name, table in EXPECTED.items()
                for practice, allowed in table.items()]


@pytest.mark.parametrize("name,practice,allowed", STATUS_CASES,
                         ids=[f"{n}:{p}" for n, p, _ in STATUS_CASES])
def test_expected_status(scanned, name, practice, allowed):
    got = scanned(name).practice(practice)
    assert got["status"] in allowed, (
        f"{name}: {practice} is {got['status']!r}, expected {'/'.join(sorted(allowed))}; "
        f"reason: {got.get('reason')!r}; evidence: {json.dumps(got.get('evidence'))[:600]}")


def _check_evidence_item(root: Path, ev: dict, where: str) -> None:
    path, line = ev.get("path"), ev.get("line")
    assert isinstance(path, str) and path, f"{where}: evidence without a path: {ev}"
    assert isinstance(ev.get("rule"), str) and ev["rule"], f"{where}: evidence without a rule: {ev}"
    assert isinstance(ev.get("message"), str) and ev["message"], f"{where}: no message: {ev}"
    assert not Path(path).is_absolute() and "\\" not in path, \
        f"{where}: evidence path must be repo-relative POSIX: {path!r}"
    target = root / path
    assert target.exists() or target.is_symlink(), f"{where}: cites {path!r}, which does not exist"
    assert line is None or isinstance(line, int), f"{where}: line must be an int or null: {ev}"
    if line is not None:
        assert target.is_file(), f"{where}: line {line} given for a non-file {path!r}"
        if path.endswith(".ipynb"):
            return  # a notebook line may be cell-relative; the path is what we can check
        n_lines = len(target.read_bytes().splitlines())
        assert 1 <= line <= max(n_lines, 1), f"{where}: {path}:{line} but the file has {n_lines} lines"


@pytest.mark.parametrize("name", SCANNED)
def test_evidence_names_real_paths_and_lines(scanned, name):
    run = scanned(name)
    root = run.repo.root
    for practice in _report(run)["practices"]:
        where = f"{name}/{practice['id']} ({practice['status']})"
        if practice["status"] in (PRESENT, PARTIAL):
            assert practice["evidence"], f"{where}: no evidence cited"
        for ev in practice["evidence"]:
            _check_evidence_item(root, ev, where)


@pytest.mark.parametrize("name", SCANNED)
def test_json_is_byte_identical_across_runs(scanned, name):
    run = scanned(name)
    assert run.stdouts[0], f"{name}: empty stdout"
    assert run.stdouts[0] == run.stdouts[1]


@pytest.mark.parametrize("name", SCANNED)
def test_scan_leaves_the_tree_untouched(scanned, name):
    run = scanned(name)
    changed = sorted(k for k in set(run.snapshot_before) | set(run.snapshot_after)
                     if run.snapshot_before.get(k) != run.snapshot_after.get(k))
    assert changed == [], f"{name}: the scan changed {changed[:10]}"
    assert run.status_after == "", f"{name}: git status after the scan:\n{run.status_after}"
    assert run.head_after == run.head_before


@pytest.mark.parametrize("name", SCANNED)
def test_scan_leaves_nothing_in_dot_git(scanned, name):
    run = scanned(name)
    added = sorted(run.git_files_after - run.git_files_before)
    assert added == [], f"{name}: the scan left files in .git: {added[:10]}"


# --- fixture-specific expectations ----------------------------------------------------------------
def test_levels_order_mature_above_notebook(scanned):
    notebook = _report(scanned("notebook-only"))["level"]
    mature = _report(scanned("dvc-mlflow-fastapi"))["level"]
    assert notebook == 1
    assert mature > notebook


def test_seed_comment_is_not_evidence(scanned):
    seed = scanned("scripted-seeded").practice("seed-control")
    paths = {ev["path"] for ev in seed["evidence"]}
    assert "scripts/plot_losses.py" not in paths, seed["evidence"]
    assert "utils.py" in paths, f"set_seeds() in utils.py not cited: {seed['evidence']}"


def test_parity_evidence_cites_the_shared_module(scanned):
    parity = scanned("dvc-mlflow-fastapi").practice("train-serve-parity")
    paths = {ev["path"] for ev in parity["evidence"]}
    assert paths & {"serve/app.py", "src/fraud/features.py"}, parity["evidence"]


def test_payload_logging_cites_the_service(scanned):
    payload = scanned("dvc-mlflow-fastapi").practice("payload-logging")
    assert any(ev["path"] == "serve/app.py" for ev in payload["evidence"]), payload["evidence"]


def test_bad_inputs_are_diagnosed_by_name(scanned):
    rep = _report(scanned("bad-inputs"))
    diag_paths = [d["path"] for d in rep["diagnostics"]]
    missing = [bad for bad in BAD_FILES
               if not any(p == bad or p.endswith("/" + bad) for p in diag_paths)]
    assert missing == [], f"no diagnostic names {missing}; diagnostics: {rep['diagnostics']}"


def test_bad_inputs_symlinks_outside_are_not_followed(scanned):
    run = scanned("bad-inputs")
    rep = _report(run)
    assert OUTSIDE_MARKER not in run.stdouts[0]
    for practice in rep["practices"]:
        for ev in practice["evidence"]:
            first = ev["path"].split("/")[0]
            assert first not in OUTSIDE_LINKS, f"{practice['id']} cites {ev['path']} (outside the repo)"
            assert not ev["path"].startswith("nested/back/"), f"followed a symlink loop: {ev['path']}"


# --- repositories in other states -----------------------------------------------------------------
def test_plain_copy_without_git(tmp_path):
    root = copy_fixture("scripted-seeded", tmp_path / "copy")
    before = snapshot(root)
    rc, out, err = run_mlscan(["scan", root, "--format", "json"],
                              env={"GIT_CEILING_DIRECTORIES": str(tmp_path)})
    _no_traceback(err)
    assert rc == 0, err[-1500:]
    rep = json.loads(out)
    assert rep["commit"] is None
    statuses = {p["id"]: p["status"] for p in rep["practices"]}
    for practice in ("seed-control", "modular-train-code", "ci", "dependency-pinning"):
        assert statuses[practice] in EXPECTED["scripted-seeded"][practice], (practice, statuses)
    assert snapshot(root) == before


def test_shallow_clone_is_scanned_and_named(tmp_path):
    origin = make_fixture_repo("scripted-seeded", tmp_path / "origin")
    origin.write("README.md", (origin.root / "README.md").read_text() + "\nSee CHANGELOG.\n")
    origin.commit("Mention the changelog")
    clone = origin.clone(tmp_path / "clone", depth=1)
    assert clone.git("rev-parse", "--is-shallow-repository").strip() == "true"
    rc, out, err = run_mlscan(["scan", clone.root, "--format", "json"])
    _no_traceback(err)
    assert rc == 0, err[-1500:]
    rep = json.loads(out)
    assert rep["commit"] == clone.head()
    assert "shallow" in _history_text(rep), \
        f"nothing says the clone is shallow: {_history_text(rep)[:600]}"
    statuses = {p["id"]: p["status"] for p in rep["practices"]}
    assert statuses["seed-control"] == PRESENT
    assert clone.status() == ""


# --- CLI surface ----------------------------------------------------------------------------------
def test_bare_path_is_scan(scanned):
    run = scanned("serving-skew")
    rc, out, err = run_mlscan([run.repo.root, "--format", "json"])
    _no_traceback(err)
    assert rc == 0, err[-1500:]
    assert out == run.stdouts[0]


def test_output_file_holds_the_report(scanned, tmp_path):
    run = scanned("scripted-seeded")
    out_file = tmp_path / "report.json"
    rc, _, err = run_mlscan(["scan", run.repo.root, "--format", "json", "--output", out_file])
    _no_traceback(err)
    assert rc == 0, err[-1500:]
    assert json.loads(out_file.read_text()) == _report(run)
    assert run.repo.status() == ""


@pytest.mark.parametrize("fmt", ["terminal", "markdown", "sarif"])
def test_other_formats_render(scanned, fmt):
    run = scanned("scripted-seeded")
    rc, out, err = run_mlscan(["scan", run.repo.root, "--format", fmt])
    _no_traceback(err)
    assert rc == 0, err[-1500:]
    assert out.strip(), f"--format {fmt} printed nothing"
    if fmt == "sarif":
        sarif = json.loads(out)
        assert sarif.get("version") == "2.1.0"
        assert len(sarif.get("runs", [])) == 1
    else:
        assert "\x1b[" not in out, f"--format {fmt} printed ANSI codes with NO_COLOR set"


def test_usage_error_nonexistent_path(tmp_path):
    missing = tmp_path / "no-such-repo"
    rc, out, err = run_mlscan(["scan", missing, "--format", "json"])
    _no_traceback(err)
    assert rc == 2, (rc, out[:300], err[-600:])
    assert "no-such-repo" in err or "does not exist" in err.lower(), err


def test_usage_error_unknown_format(scanned):
    root = scanned("serving-skew").repo.root
    rc, out, err = run_mlscan(["scan", root, "--format", "yaml"])
    _no_traceback(err)
    assert rc == 2, (rc, out[:300], err[-600:])
    assert "yaml" in err or "format" in err.lower(), err


def test_usage_error_bad_fail_under(scanned):
    root = scanned("serving-skew").repo.root
    rc, out, err = run_mlscan(["scan", root, "--fail-under", "banana"])
    _no_traceback(err)
    assert rc == 2, (rc, out[:300], err[-600:])


def test_fail_under_overall_level(scanned):
    root = scanned("notebook-only").repo.root
    rc, _, err = run_mlscan(["scan", root, "--format", "json", "--fail-under", "5"])
    _no_traceback(err)
    assert rc == 1, err[-600:]
    rc, _, err = run_mlscan(["scan", root, "--format", "json", "--fail-under", "1"])
    assert rc == 0, err[-600:]


def test_fail_under_per_stage(scanned):
    run = scanned("notebook-only")
    stages = [s for s in _report(run)["stages"] if isinstance(s.get("level"), int) and s["level"] < 5]
    assert stages, "no stage with a numeric level below 5"
    rc, _, err = run_mlscan(["scan", run.repo.root, "--format", "json",
                             "--fail-under", f"{stages[0]['id']}=5"])
    _no_traceback(err)
    assert rc == 1, err[-600:]


# --- --base: the delta between two commits ----------------------------------------------------------
def _seed_added_repo(root: Path) -> GitRepo:
    repo = make_fixture_repo("seed-added", root, message="Random-forest churn model")
    repo.apply_overlay("seed-added")
    repo.commit("Seed every RNG the training run uses")
    return repo


def _assert_seed_delta(rep, base_sha: str) -> None:
    delta = rep.get("delta")
    assert isinstance(delta, dict), f"no delta in the report: {sorted(rep)}"
    base_commit = delta.get("base", {}).get("commit") or ""
    assert len(base_commit) >= 7 and base_sha.startswith(base_commit), (base_commit, base_sha)
    assert isinstance(delta.get("base", {}).get("level"), int)
    for key in ("stages", "practices", "new_findings", "fixed_findings"):
        assert isinstance(delta.get(key), list), f"delta.{key} must be a list"
    assert {"id": "seed-control", "from": ABSENT, "to": PRESENT} in [
        {k: p.get(k) for k in ("id", "from", "to")} for p in delta["practices"]], delta["practices"]
    assert delta["new_findings"] or delta["fixed_findings"], \
        "adding seeding should show up in new_findings or fixed_findings"


def test_base_delta_parent_commit(tmp_path):
    repo = _seed_added_repo(tmp_path / "seed-added")
    before, head, worktrees = repo.snapshot(), repo.head(), repo.worktrees()
    rc, out, err = run_mlscan(["scan", repo.root, "--base", "HEAD~1", "--format", "json"])
    _no_traceback(err)
    assert rc == 0, err[-1500:]
    rep = json.loads(out)
    assert rep["commit"] == head
    _assert_seed_delta(rep, repo.rev_parse("HEAD~1"))
    # reading the base commit must not disturb the work tree, HEAD, branch or worktrees
    assert repo.snapshot() == before
    assert repo.head() == head and repo.current_branch() == "main"
    assert repo.status() == ""
    assert repo.worktrees() == worktrees


def test_base_delta_against_a_branch(tmp_path):
    repo = make_fixture_repo("seed-added", tmp_path / "seed-added", message="Random-forest churn model")
    main_sha = repo.head()
    repo.checkout("add-seeds", create=True)
    repo.apply_overlay("seed-added")
    repo.commit("Seed every RNG the training run uses")
    rc, out, err = run_mlscan(["scan", repo.root, "--base", "main", "--format", "json"])
    _no_traceback(err)
    assert rc == 0, err[-1500:]
    _assert_seed_delta(json.loads(out), main_sha)
    assert repo.current_branch() == "add-seeds" and repo.status() == ""


def test_base_unknown_ref_is_a_usage_error(scanned):
    root = scanned("serving-skew").repo.root
    rc, out, err = run_mlscan(["scan", root, "--base", "no-such-ref", "--format", "json"])
    _no_traceback(err)
    assert rc == 2, (rc, out[:300], err[-600:])
    assert "no-such-ref" in err, err


# --- the harness itself ----------------------------------------------------------------------------
def test_fixture_repos_are_deterministic(tmp_path):
    first = _seed_added_repo(tmp_path / "a")
    second = _seed_added_repo(tmp_path / "b")
    assert first.head() == second.head()
    assert first.git("log", "--format=%an <%ae> %ad|%cn <%ce> %cd", "--date=iso-strict") == \
        second.git("log", "--format=%an <%ae> %ad|%cn <%ce> %cd", "--date=iso-strict")


def test_fixture_notebooks_are_valid_nbformat4():
    fixtures = Path(__file__).resolve().parents[1] / "fixtures"
    notebooks = [p for p in fixtures.rglob("*.ipynb") if "bad-inputs" not in p.parts]
    assert notebooks
    for nb in notebooks:
        doc = json.loads(nb.read_text(encoding="utf-8"))
        assert doc["nbformat"] == 4 and isinstance(doc["cells"], list), nb
        for cell in doc["cells"]:
            assert cell["cell_type"] in ("code", "markdown", "raw"), nb
            assert isinstance(cell["source"], (list, str)), nb


def test_every_fixture_documents_itself():
    fixtures = Path(__file__).resolve().parents[1] / "fixtures"
    for folder in sorted(p for p in fixtures.iterdir() if p.is_dir()):
        doc = folder / "FIXTURE.md"
        assert doc.is_file(), f"{folder.name} has no FIXTURE.md"
        text = doc.read_text(encoding="utf-8")
        for practice in ("seed-control", "train-serve-parity", "payload-logging"):
            assert re.search(re.escape(practice), text), f"{folder.name}/FIXTURE.md omits {practice}"
