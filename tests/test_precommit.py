"""Run the mlscan pre-commit hook for real, the way users (and pre-commit.ci) run it.

The hook repository is a throw-away git copy of this project's working tree, so the test sees
exactly the files on disk (``pre-commit try-repo`` on the project itself would miss untracked
files, and it needs at least one commit). pre-commit builds the hook's virtualenv from it,
which needs the package index; everything is cached in a per-module PRE_COMMIT_HOME.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from toy_repos import git, init_repo, make_mature_repo

pytest.importorskip("pre_commit", reason="pre-commit is not installed (it is in the test extra)")

ROOT = Path(__file__).resolve().parents[1]
IGNORE = shutil.ignore_patterns(".git", "*.egg-info", "__pycache__", "build", "dist", ".venv",
                                ".pytest_cache", ".mypy_cache", ".ruff_cache")


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory) -> Path:
    repo = tmp_path_factory.mktemp("hook") / "mlscan"
    shutil.copytree(ROOT, repo, ignore=IGNORE)
    init_repo(repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "snapshot of the working tree")
    return repo


@pytest.fixture(scope="module")
def pc_env(tmp_path_factory) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT"))}
    env["PRE_COMMIT_HOME"] = str(tmp_path_factory.mktemp("pre-commit-home"))
    env["PRE_COMMIT_COLOR"] = "never"
    env["NO_COLOR"] = "1"
    return env


def pre_commit(args, cwd, env, prefix=()):
    return subprocess.run([*prefix, sys.executable, "-m", "pre_commit", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def ml_repo(tmp_path_factory) -> Path:
    repo = tmp_path_factory.mktemp("user") / "churn"
    make_mature_repo(repo)
    return repo


def test_try_repo_runs_the_hook_on_a_mature_repo(hook_repo, ml_repo, pc_env):
    proc = pre_commit(["try-repo", str(hook_repo), "mlscan", "--all-files", "--verbose"],
                      ml_repo, pc_env)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "mlscan ML maturity scan" in out and "Passed" in out
    # the hook scans, it does not edit: the repo is untouched
    assert git(ml_repo, "status", "--porcelain") == ""


def _config(repo: Path, hook_repo: Path, args) -> None:
    rev = git(hook_repo, "rev-parse", "HEAD")
    args_yaml = "[" + ", ".join(f'"{a}"' for a in args) + "]"
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {hook_repo}\n    rev: {rev}\n    hooks:\n"
        f"      - id: mlscan\n        args: {args_yaml}\n", encoding="utf-8")
    git(repo, "add", ".pre-commit-config.yaml")  # pre-commit refuses an unstaged config


def test_fail_under_blocks_the_commit(hook_repo, ml_repo, pc_env, tmp_path):
    repo = tmp_path / "churn"
    shutil.copytree(ml_repo, repo)
    _config(repo, hook_repo, ["--fail-under", "5"])
    proc = pre_commit(["run", "mlscan", "--all-files"], repo, pc_env)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "Failed" in out and "exit code: 1" in out, out


def test_hook_runs_without_network(hook_repo, ml_repo, pc_env, tmp_path):
    """pre-commit.ci runs hooks with the network blocked; `unshare -n` reproduces that."""
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "-n", "true"]).returncode != 0:
        pytest.skip("cannot create a network namespace here (unshare -n)")
    repo = tmp_path / "churn"
    shutil.copytree(ml_repo, repo)
    _config(repo, hook_repo, [])
    install = pre_commit(["install-hooks"], repo, pc_env)  # with network, like pre-commit.ci
    assert install.returncode == 0, install.stdout + install.stderr
    proc = pre_commit(["run", "mlscan", "--all-files"], repo, pc_env, prefix=(unshare, "-n"))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_hook_runs_at_pre_push_and_manual_stages(hook_repo, ml_repo, pc_env, tmp_path):
    repo = tmp_path / "churn"
    shutil.copytree(ml_repo, repo)
    _config(repo, hook_repo, [])
    for stage in ("pre-push", "manual"):
        proc = pre_commit(["run", "mlscan", "--all-files", "--hook-stage", stage], repo, pc_env)
        assert proc.returncode == 0 and "Passed" in proc.stdout, proc.stdout + proc.stderr
