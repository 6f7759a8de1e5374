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


BOMB = "".join(f"{c}: &{c} [{', '.join(['*' + p] * 10) if p else ', '.join(['x'] * 10)}]\n"
               for p, c in zip(["", "a", "b", "c", "d", "e", "f", "g", "h"], "abcdefghi"))
ODD_INPUTS = {
    "pyproject.toml": '[project]\nname = "x"\noptional-dependencies = ["a"]\nscripts = "nope"\n'
                      "[tool.poetry.dependencies]\nnumpy = {version = 1}\n",
    ".github/workflows/ci.yml": "on: {schedule: [1, 2]}\njobs: [1, 2]\n",
    ".github/workflows/alias.yml": "on: push\n" + BOMB + "jobs:\n  t:\n    runs-on: x\n    steps:\n      - run: ./.ci/check.sh\n",
    ".ci/check.sh": "pytest -q\n",
    "params.yaml": BOMB,
    "isvc.yaml": "kind: [InferenceService]\napiVersion: serving.kserve.io/v1beta1\n" + BOMB,
    "Makefile": "deploy:\n\tkubectl " + "-a " * 40 + "x\n",
    "train.py": "import yaml\nfrom sklearn.svm import SVC\np = yaml.safe_load(open('params.yaml'))\n"
                "if " + " " * 40 + "acc > y" + " " * 40 + "and z != 1:\n    pass\nSVC(C=p['c']).fit([[0]], [0])\n",
    "tests/test_train.py": "from train import SVC\n\ndef test_fit():\n    assert SVC().fit([[0], [1]], [0, 1])\n",
}


def test_odd_but_valid_input_neither_crashes_nor_hangs(tmp_path: Path):
    for rel, text in ODD_INPUTS.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    r = subprocess.run([*console_script(), "scan", str(tmp_path), "--format", "json"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    failed = [d for d in report["diagnostics"] if "failed" in d["message"]]
    assert failed == [], failed
    ci = {p["id"]: p for p in report["practices"]}["ci"]
    assert ci["status"] == "present", ci  # ./.ci/check.sh runs pytest: the dot-folder path is kept
