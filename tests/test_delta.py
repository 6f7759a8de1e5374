"""`mlscan scan PATH --base REF`: the delta, and reading the base without touching the repository."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, Tuple

import pytest

from gitrepo import SEED_MODEL, GitRepo, copy_fixture, make_fixture_repo, run_mlscan, snapshot
from mlscan import delta as delta_mod
from mlscan.config import Config
from mlscan.errors import UsageError
from mlscan.report.model import Finding, PracticeResult, Report, StageResult

NO_TRACEBACK = "Traceback (most recent call last)"


def seed_added_repo(root: Path) -> GitRepo:
    repo = make_fixture_repo("seed-added", root, message="Random-forest churn model")
    repo.apply_overlay("seed-added")
    repo.commit("Seed every RNG the training run uses")
    return repo


def full_snapshot(root: Path) -> Dict[str, Tuple[str, object]]:
    """Everything under root *including* .git, except .git/index (git may refresh its stat data)."""
    return snapshot(root, include_git=True)




@pytest.fixture
def seed_model(tmp_path) -> Path:
    path = tmp_path / "seed-only-model.yaml"
    path.write_text(SEED_MODEL, encoding="utf-8")
    return path


def scan_json(root, *extra, env=None):
    rc, out, err = run_mlscan(["scan", root, "--format", "json", "--no-progress", *extra], env=env)
    assert NO_TRACEBACK not in err, err[-2000:]
    return rc, out, err


# --- the seed-added story -------------------------------------------------------------------------
def test_seed_added_delta_with_the_default_model(tmp_path):
    """Whatever the levels do under the built-in model, the practice change is named."""
    repo = seed_added_repo(tmp_path / "seed-added")
    rc, out, err = scan_json(repo.root, "--base", "HEAD~1")
    assert rc == 0, err[-1500:]
    delta = json.loads(out)["delta"]
    assert {"id": "seed-control", "from": "absent", "to": "present"} in [
        {k: p[k] for k in ("id", "from", "to")} for p in delta["practices"]]
    assert any("seed control added" in line for line in delta["summary"]), delta["summary"]
    if not delta["stages"]:  # the stage did not move: the verdict says what it still needs
        assert any(line.startswith("Train pipeline stays at level") for line in delta["summary"]), delta["summary"]


def test_seed_added_delta(tmp_path, seed_model):
    repo = seed_added_repo(tmp_path / "seed-added")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    before, head = full_snapshot(repo.root), repo.head()
    index_listing = repo.git("ls-files", "-s")
    rc, out, err = scan_json(repo.root, "--base", "HEAD~1", "--model", seed_model,
                             env={"TMPDIR": str(scratch)})
    assert rc == 0, err[-1500:]
    rep = json.loads(out)
    delta = rep["delta"]
    assert delta["base"]["commit"] == repo.rev_parse("HEAD~1")
    assert isinstance(delta["base"]["level"], int)
    assert {"id": "seed-control", "from": "absent", "to": "present"} in [
        {k: p[k] for k in ("id", "from", "to")} for p in delta["practices"]]
    train = [s for s in delta["stages"] if s["id"] == "train"]
    assert train and train[0]["to"] > train[0]["from"], delta["stages"]
    assert train == [{"id": "train", "name": "Train pipeline", "from": 1, "to": 3}]
    first = delta["summary"][0]
    assert first == "This PR raises Train pipeline from level 1 to 3: seed control added", first
    assert any(f["fingerprint"].startswith("seed-control:") for f in delta["fixed_findings"])
    # only what changed is listed
    assert all(p["from"] != p["to"] for p in delta["practices"])
    assert all(s["from"] != s["to"] for s in delta["stages"])
    # the head report is the work tree, and nothing in the report points at the temporary copy
    assert rep["commit"] == head
    assert str(scratch) not in out and "mlscan-base-" not in out
    # nothing touched: work tree, .git (bar the index's stat cache), HEAD, index content, temp dirs
    assert full_snapshot(repo.root) == before
    assert repo.head() == head and repo.current_branch() == "main"
    assert repo.git("ls-files", "-s") == index_listing
    assert repo.status() == ""
    assert list(scratch.iterdir()) == [], "the temporary base checkout was left behind"


def test_delta_is_deterministic(tmp_path):
    repo = seed_added_repo(tmp_path / "seed-added")
    outs = [scan_json(repo.root, "--base", "HEAD~1")[1] for _ in range(2)]
    assert outs[0] == outs[1]


def test_same_commit_gives_an_empty_delta(tmp_path):
    repo = seed_added_repo(tmp_path / "seed-added")
    rc, out, err = scan_json(repo.root, "--base", "HEAD")
    assert rc == 0, err[-1500:]
    delta = json.loads(out)["delta"]
    assert delta["base"]["commit"] == repo.head()
    for key in ("stages", "practices", "new_findings", "fixed_findings"):
        assert delta[key] == [], key
    assert delta["summary"] == ["No change to maturity levels"]


def test_uncommitted_work_is_the_head(tmp_path):
    repo = make_fixture_repo("seed-added", tmp_path / "wip", message="Random-forest churn model")
    repo.apply_overlay("seed-added")  # not committed: the PR's work in progress
    before = full_snapshot(repo.root)
    status = repo.status()
    assert status
    rc, out, err = scan_json(repo.root, "--base", "HEAD")
    assert rc == 0, err[-1500:]
    delta = json.loads(out)["delta"]
    assert {"id": "seed-control", "from": "absent", "to": "present"} in [
        {k: p[k] for k in ("id", "from", "to")} for p in delta["practices"]]
    assert full_snapshot(repo.root) == before
    assert repo.status() == status


def test_hook_environment_does_not_redirect_git(tmp_path):
    """Inside a git hook GIT_INDEX_FILE/GIT_DIR point at the source repo; the base checkout must not
    write the source index."""
    repo = seed_added_repo(tmp_path / "seed-added")
    listing = repo.git("ls-files", "-s")
    env = {"GIT_INDEX_FILE": str(repo.root / ".git" / "index"), "GIT_DIR": str(repo.root / ".git")}
    rc, out, err = scan_json(repo.root, "--base", "HEAD~1", env=env)
    assert rc == 0, err[-1500:]
    assert any("seed control added" in x for x in json.loads(out)["delta"]["summary"])
    assert repo.git("ls-files", "-s") == listing
    assert repo.status() == ""


# --- subfolders -----------------------------------------------------------------------------------
def test_subfolder_scan_compares_the_same_subfolder(tmp_path):
    repo = GitRepo.init(tmp_path / "mono")
    repo.write("README.md", "# monorepo\n")
    copy_fixture("seed-added", repo.root / "ml")
    repo.commit("Add the churn model")
    for src in (Path(__file__).resolve().parents[1] / "fixtures" / "seed-added" / "_next").iterdir():
        repo.write(f"ml/{src.name}", src.read_bytes())
    repo.commit("Seed it")
    rc, out, err = scan_json(repo.root / "ml", "--base", "HEAD~1")
    assert rc == 0, err[-1500:]
    rep = json.loads(out)
    assert rep.get("repo_prefix") == "ml/"
    assert any("seed control added" in x for x in rep["delta"]["summary"])


def test_subfolder_missing_in_the_base(tmp_path):
    repo = GitRepo.init(tmp_path / "mono")
    repo.write("README.md", "# monorepo\n")
    repo.commit("Start")
    copy_fixture("seed-added", repo.root / "ml")
    repo.commit("Add the churn model")
    rc, out, err = scan_json(repo.root / "ml", "--base", "HEAD~1")
    assert rc == 0, err[-1500:]
    delta = json.loads(out)["delta"]
    assert "did not exist" in delta["base"].get("note", "")


# --- errors ---------------------------------------------------------------------------------------
def test_unknown_ref_exits_2_naming_it(tmp_path):
    repo = seed_added_repo(tmp_path / "seed-added")
    rc, out, err = scan_json(repo.root, "--base", "no-such-branch")
    assert rc == 2, (rc, out[:300], err[-600:])
    assert "no-such-branch" in err
    assert out == ""


def test_option_like_ref_is_refused(tmp_path):
    repo = seed_added_repo(tmp_path / "seed-added")
    rc, _, err = scan_json(repo.root, "--base=--output=/tmp/x")
    assert rc == 2, err[-600:]


def test_shallow_clone_base_is_a_clear_error(tmp_path):
    origin = seed_added_repo(tmp_path / "origin")
    clone = origin.clone(tmp_path / "clone", depth=1)
    assert clone.git("rev-parse", "--is-shallow-repository").strip() == "true"
    before = full_snapshot(clone.root)
    rc, out, err = scan_json(clone.root, "--base", "HEAD~1")
    assert rc == 2, (rc, out[:300], err[-600:])
    assert "HEAD~1" in err and "shallow" in err.lower(), err
    assert "fetch" in err.lower(), err
    assert full_snapshot(clone.root) == before


def test_shallow_clone_with_the_base_fetched_works(tmp_path):
    origin = seed_added_repo(tmp_path / "origin")
    clone = origin.clone(tmp_path / "clone", depth=2)
    rc, out, err = scan_json(clone.root, "--base", "HEAD~1")
    assert rc == 0, err[-1500:]
    assert any("seed control added" in x for x in json.loads(out)["delta"]["summary"])
    assert clone.status() == ""


def test_not_a_git_repo_exits_2(tmp_path):
    root = copy_fixture("seed-added", tmp_path / "plain")
    rc, out, err = scan_json(root, "--base", "HEAD~1", env={"GIT_CEILING_DIRECTORIES": str(tmp_path)})
    assert rc == 2, (rc, out[:300], err[-600:])
    assert "git repository" in err, err


# --- fallbacks, in process ------------------------------------------------------------------------
def test_base_is_read_from_git_objects_without_a_checkout(tmp_path, monkeypatch):
    """No temporary clone or checkout: the base scan writes nothing anywhere, and reads a base
    file that the work tree no longer has."""
    import tempfile
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    repo = seed_added_repo(tmp_path / "seed-added")
    repo.git("rm", "-q", "features.py")
    repo.commit("Drop features")
    before = full_snapshot(repo.root)
    report = delta_mod.scan_with_base(repo.root, "HEAD~2", Config(), cache_dir="off")
    assert any("seed control added" in x for x in report.delta["summary"])
    assert report.root == str(repo.root.resolve())
    assert full_snapshot(repo.root) == before
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_failing_base_scan_is_reported_and_leaves_nothing_behind(tmp_path, monkeypatch):
    import tempfile
    repo = seed_added_repo(tmp_path / "seed-added")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    import mlscan.engine as engine
    real_scan = engine.scan
    calls = []

    def failing_second_scan(root, cfg, progress=None, jobs=0, **kw):
        calls.append(root)
        if len(calls) == 2:
            raise UsageError("boom")
        return real_scan(root, cfg, progress=progress, jobs=jobs, **kw)

    monkeypatch.setattr(engine, "scan", failing_second_scan)
    with pytest.raises(UsageError):
        delta_mod.scan_with_base(repo.root, "HEAD~1", Config())
    assert len(calls) == 2
    assert not list(tmp_path.glob("mlscan-base-*"))


def test_the_base_history_read_while_the_head_indexes_is_the_one_the_base_scan_uses(tmp_path, monkeypatch):
    """scan_with_base has the head scan read the base commit's history (Facts.prefetch_history);
    the base scan then takes it from the fact store, without a `git log` of its own."""
    from mlscan.facts import history
    from mlscan.facts.repo import CommitTree, Facts, ScanOptions
    repo = seed_added_repo(tmp_path / "seed-added")
    sha = repo.git("rev-parse", "HEAD~1").strip()
    options = ScanOptions(cache_dir="off")
    expected = history.read_history(repo.root, options.history_depth, [], rev=sha)
    Facts(repo.root, options).prefetch_history(sha)
    real_run_git = history.run_git

    def no_log(root, args, **kw):
        assert args[0] != "log", "the base scan ran git log again"
        return real_run_git(root, args, **kw)

    monkeypatch.setattr(history, "run_git", no_log)
    base = Facts(repo.root, options, commit=CommitTree(repo.root, sha, ""))
    assert base.history.head == sha
    assert base.history.commits and base.history.commits == expected.commits


# --- the delta computation, on synthetic reports --------------------------------------------------
def _rep(level: int, stages: Dict[str, object], statuses: Dict[str, str], findings=()) -> Report:
    names = {"train": "Train pipeline", "data": "Data pipeline", "deployment": "Deployment"}
    stage_of = {"seed-control": "train", "ml-tests": "test", "data-versioning": "data", "ci": "test"}
    return Report(
        tool_version="0", root="/r", commit=None, level=level,
        stages=[StageResult(s, names[s], lvl, "", []) for s, lvl in stages.items()],
        practices=[PracticeResult(p, p, stage_of[p], st, [], "", "", 2) for p, st in statuses.items()],
        diagnostics=[], findings=list(findings))


def _finding(fp: str) -> Finding:
    return Finding(fp.split(":")[0], fp.split(":")[0], "train.py", 1, "msg", "warning", fp)


def test_lowering_is_named():
    base = _rep(2, {"train": 3, "data": 2}, {"seed-control": "present", "data-versioning": "present"},
                [_finding("data-versioning:partial")])
    head = _rep(1, {"train": 1, "data": 2}, {"seed-control": "absent", "data-versioning": "present"},
                [_finding("seed-control:absent")])
    d = delta_mod.compute_delta(base, head, "main", "c" * 40)
    assert d["stages"] == [{"id": "train", "name": "Train pipeline", "from": 3, "to": 1}]
    assert d["summary"][0] == "This PR lowers Train pipeline from level 3 to 1: seed control removed"
    assert d["summary"][-1] == "Overall maturity level falls from 2 to 1"
    assert [f["fingerprint"] for f in d["new_findings"]] == ["seed-control:absent"]
    assert [f["fingerprint"] for f in d["fixed_findings"]] == ["data-versioning:partial"]


def test_raises_come_before_lowers():
    base = _rep(2, {"train": 1, "data": 3}, {"seed-control": "absent", "data-versioning": "present"})
    head = _rep(2, {"train": 2, "data": 2}, {"seed-control": "present", "data-versioning": "partial"})
    summary = delta_mod.compute_delta(base, head)["summary"]
    assert summary == ["This PR raises Train pipeline from level 1 to 2: seed control added",
                       "This PR lowers Data pipeline from level 3 to 2: data versioning now only partial"]


def test_practice_change_without_a_level_change():
    base = _rep(2, {"train": 2}, {"seed-control": "partial", "ci": "absent"})
    head = _rep(2, {"train": 2}, {"seed-control": "present", "ci": "present"})
    d = delta_mod.compute_delta(base, head)
    assert d["stages"] == []
    assert d["summary"] == ["No change to maturity levels",
                            "Practices changed: seed control completed, CI added"]


def test_stage_coming_into_scope():
    base = _rep(1, {"deployment": None}, {"ci": "absent"})
    head = _rep(1, {"deployment": 2}, {"ci": "absent"})
    assert delta_mod.compute_delta(base, head)["summary"] == [
        "This PR brings Deployment into scope at level 2"]


@pytest.mark.parametrize("before,after,phrase", [
    ("absent", "present", "seed control added"),
    ("absent", "partial", "seed control partly added"),
    ("partial", "present", "seed control completed"),
    ("present", "partial", "seed control now only partial"),
    ("present", "absent", "seed control removed"),
    ("present", "unknown", "seed control can no longer be assessed"),
    ("unknown", "present", "seed control now present"),
    ("present", "not-applicable", "seed control no longer applies"),
])
def test_change_phrases(before, after, phrase):
    assert delta_mod.change_phrase("seed-control", before, after) == phrase
