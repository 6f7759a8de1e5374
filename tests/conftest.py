"""Shared fixtures: fixture repos as real git repositories, and cached end-to-end scans of them."""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gitrepo import (GitRepo, add_runtime_bad_inputs, make_fixture_repo,  # noqa: E402
                     run_mlscan)


@pytest.fixture(scope="session", autouse=True)
def _isolated_user_dirs(tmp_path_factory):
    """Keep any cache or config mlscan writes out of the real home, for the whole session."""
    base = tmp_path_factory.mktemp("userdirs")
    saved = {k: os.environ.get(k) for k in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME")}
    os.environ["XDG_CACHE_HOME"] = str(base / "cache")
    os.environ["XDG_CONFIG_HOME"] = str(base / "config")
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def build_fixture_repo(name: str, dest: Path) -> GitRepo:
    """A git repo for fixture `name`; bad-inputs also gets its run-time-only files."""
    if name == "bad-inputs":
        repo = GitRepo.init(dest)
        repo.add_fixture(name)
        add_runtime_bad_inputs(repo, dest.parent / (dest.name + "-outside"))
        repo.commit("Import bad-inputs")
        return repo
    return make_fixture_repo(name, dest)


@pytest.fixture
def fixture_repo(tmp_path) -> Callable[[str], GitRepo]:
    """Factory: `fixture_repo("scripted-seeded")` -> a fresh one-commit GitRepo under tmp_path."""
    def make(name: str, dirname: Optional[str] = None) -> GitRepo:
        return build_fixture_repo(name, tmp_path / (dirname or name))
    return make


@dataclass
class ScanRun:
    """Two identical `mlscan scan ROOT --format json` runs on one repo, with before/after state."""
    name: str
    repo: GitRepo
    returncodes: List[int]
    stdouts: List[str]
    stderrs: List[str]
    snapshot_before: Dict[str, Any]
    snapshot_after: Dict[str, Any]
    head_before: str
    head_after: str
    status_after: str
    git_files_before: set
    git_files_after: set
    report: Optional[Dict[str, Any]] = None
    json_error: str = ""

    def practice(self, practice_id: str) -> Dict[str, Any]:
        assert self.report is not None, f"{self.name}: no JSON report ({self.json_error})"
        found = [p for p in self.report.get("practices", []) if p.get("id") == practice_id]
        assert found, f"{self.name}: practice {practice_id} missing from the report"
        return found[0]


def scan_twice(name: str, repo: GitRepo) -> ScanRun:
    before = repo.snapshot()
    git_before = repo.git_dir_files()
    head = repo.head()
    results = [run_mlscan(["scan", repo.root, "--format", "json"]) for _ in range(2)]
    run = ScanRun(
        name=name, repo=repo,
        returncodes=[r[0] for r in results], stdouts=[r[1] for r in results],
        stderrs=[r[2] for r in results],
        snapshot_before=before, snapshot_after=repo.snapshot(),
        head_before=head, head_after=repo.head(), status_after=repo.status(),
        git_files_before=git_before, git_files_after=repo.git_dir_files())
    try:
        run.report = json.loads(results[0][1])
    except json.JSONDecodeError as exc:
        run.json_error = (f"stdout is not JSON ({exc}); rc={results[0][0]}; "
                          f"stdout[:200]={results[0][1][:200]!r}; stderr[-400:]={results[0][2][-400:]!r}")
    return run


@pytest.fixture(scope="session")
def scanned(tmp_path_factory) -> Callable[[str], ScanRun]:
    """Factory: `scanned("dvc-mlflow-fastapi")` -> the (cached) ScanRun of that fixture's repo."""
    cache: Dict[str, ScanRun] = {}
    base = tmp_path_factory.mktemp("scanned")

    def get(name: str) -> ScanRun:
        if name not in cache:
            cache[name] = scan_twice(name, build_fixture_repo(name, base / name))
        return cache[name]
    return get
