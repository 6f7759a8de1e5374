"""mlscan on a hostile repository: it must not execute, import or install anything from it."""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ENV = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t",
       "GIT_COMMITTER_EMAIL": "t@e"}


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, env=ENV)


@pytest.fixture
def hostile(tmp_path: Path):
    repo = tmp_path / "repo"
    marker = tmp_path / "pwned"
    repo.mkdir()
    payload = f"open({str(marker)!r}, 'a').write('x')\n"
    # code that leaves a marker if anything imports or runs it
    for name in ("setup.py", "conftest.py", "sitecustomize.py", "train.py", "mlscan.py", "__main__.py"):
        (repo / name).write_text(f"import random\nrandom.seed(0)\n{payload}")
    (repo / "nb.ipynb").write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "metadata": {}, "outputs": [], "source": ["!touch " + str(marker) + "\n", payload]}]}))
    (repo / "pyproject.toml").write_text("[build-system]\nrequires = ['setuptools']\n[project]\nname = 'evil'\n")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "init")
    # programs named by the repo's own git config
    script = tmp_path / "evil.sh"
    script.write_text(f"#!/bin/sh\necho x >> {marker}\nexit 0\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    git(repo, "config", "core.fsmonitor", str(script))
    git(repo, "config", "log.showSignature", "true")
    git(repo, "config", "gpg.program", str(script))
    git(repo, "config", "core.hooksPath", str(tmp_path))
    return repo, marker


def console_script() -> list:
    """The installed `mlscan` command. (`python -m mlscan` run inside an untrusted checkout would let
    Python itself import the checkout's own `mlscan.py` first; the console script does not.)"""
    exe = Path(sys.executable).with_name("mlscan")
    found = str(exe) if exe.exists() else shutil.which("mlscan")
    return [found] if found else [sys.executable, "-P", "-m", "mlscan"]


def scan(repo: Path, *extra: str, cwd=None, prefix=()):
    return subprocess.run([*prefix, *console_script(), "scan", str(repo), "--format", "json", *extra],
                          capture_output=True, text=True, cwd=cwd, env={k: v for k, v in os.environ.items()
                                                                        if k != "PYTHONPATH"})


def test_nothing_from_the_repo_runs(hostile, tmp_path):
    repo, marker = hostile
    r = scan(repo, cwd=repo)  # even with the repo as the working directory
    assert r.returncode == 0, r.stderr
    assert not marker.exists(), "a program named by the scanned repo was executed"
    report = json.loads(r.stdout)
    seeds = {p["id"]: p["status"] for p in report["practices"]}["seed-control"]
    assert seeds in ("present", "partial")  # the code was read, not run


def test_base_comparison_runs_nothing_either(hostile):
    repo, marker = hostile
    (repo / "utils.py").write_text("import numpy as np\nnp.random.seed(1)\n")
    git(repo, "-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null", "add", "-A")
    git(repo, "-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null", "-c", "log.showSignature=false",
        "commit", "-qm", "more")
    marker.unlink(missing_ok=True)
    r = scan(repo, "--base", "HEAD~1")
    assert r.returncode == 0, r.stderr
    assert "delta" in json.loads(r.stdout)
    assert not marker.exists()


@pytest.mark.skipif(shutil.which("unshare") is None or
                    subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode != 0,
                    reason="needs `unshare -n` (a network namespace) to cut the network")
def test_scan_needs_no_network(hostile):
    repo, _ = hostile
    r = scan(repo, prefix=("unshare", "-n"))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["schema_version"] == 1
