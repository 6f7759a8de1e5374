"""Tiny throw-away git repositories (a PR with a base and a head commit; a small mature ML repo)
for the action and pre-commit tests. (Fixture-based repos live in gitrepo.py.)"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Dict, Optional

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(cwd: Path, *args: str, env: Optional[Dict[str, str]] = None) -> str:
    full_env = {**os.environ, **GIT_ENV, **(env or {})}
    proc = subprocess.run(["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false",
                           *args], cwd=cwd, env=full_env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {cwd}:\n{proc.stdout}{proc.stderr}")
    return proc.stdout.strip()


def init_repo(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q")
    return root


def commit_files(root: Path, files: Dict[str, str], message: str) -> str:
    """Write ``files`` (path -> text), commit them, return the new commit's sha."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD")


TRAIN_BASE = """\
import torch


def train(model, loader, epochs=1):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(epochs):
        for x, y in loader:
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
    return model
"""

TRAIN_SEEDED = TRAIN_BASE.replace("import torch\n", "import torch\n\ntorch.manual_seed(0)\n", 1)


def make_pr_repo(root: Path) -> Dict[str, str]:
    """A repo with a base commit and a head commit that seeds training.

    Returns ``{"base": sha, "head": sha}``."""
    init_repo(root)
    base = commit_files(root, {
        "train.py": TRAIN_BASE,
        "requirements.txt": "torch==2.3.1\n",
        "README.md": "# toy model\n",
    }, "base")
    head = commit_files(root, {"train.py": TRAIN_SEEDED}, "seed the training run")
    return {"base": base, "head": head}


MATURE_FILES = {
    "README.md": "# churn model\n\nTrain with `python -m churn.train --config configs/train.yaml`.\n",
    "pyproject.toml": """\
[project]
name = "churn"
version = "0.1.0"
requires-python = ">=3.9"
dependencies = ["torch==2.3.1", "numpy==1.26.4", "pandas==2.2.2", "mlflow==2.14.1"]

[tool.pytest.ini_options]
testpaths = ["tests"]
""",
    "requirements.lock": "torch==2.3.1\nnumpy==1.26.4\npandas==2.2.2\nmlflow==2.14.1\n",
    "configs/train.yaml": "seed: 0\nlr: 0.001\nepochs: 10\nbatch_size: 64\n",
    "churn/__init__.py": "",
    "churn/data.py": """\
import pandas as pd


def load(path):
    df = pd.read_csv(path)
    assert set(df.columns) >= {"customer_id", "churned"}, "schema check"
    return df


def split(df, seed=0):
    test = df.sample(frac=0.2, random_state=seed)
    return df.drop(test.index), test
""",
    "churn/train.py": """\
import random

import mlflow
import numpy as np
import torch
import yaml


def set_seed(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def main(config_path="configs/train.yaml"):
    with open(config_path) as fh:
        cfg = yaml.safe_load(fh)
    set_seed(cfg["seed"])
    with mlflow.start_run():
        mlflow.log_params(cfg)
        model = torch.nn.Linear(4, 1)
        mlflow.log_metric("loss", 0.1)
        torch.save(model.state_dict(), "model.pt")


if __name__ == "__main__":
    main()
""",
    "churn/evaluate.py": """\
from sklearn.metrics import roc_auc_score


def evaluate(y_true, y_score):
    return {"auc": roc_auc_score(y_true, y_score)}
""",
    "tests/test_data.py": """\
import pandas as pd

from churn.data import split


def test_split_is_deterministic():
    df = pd.DataFrame({"customer_id": range(10), "churned": [0, 1] * 5})
    a, _ = split(df, seed=0)
    b, _ = split(df, seed=0)
    assert list(a.index) == list(b.index)
""",
    ".github/workflows/ci.yml": """\
name: ci
on: [push, pull_request]
permissions:
  contents: read
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - run: pip install -r requirements.lock pytest
      - run: pytest
""",
    "dvc.yaml": """\
stages:
  train:
    cmd: python -m churn.train
    deps: [churn/train.py, configs/train.yaml]
    outs: [model.pt]
""",
}


def make_mature_repo(root: Path) -> str:
    """A small but mature ML repo (seeded, tracked, tested, CI, pinned deps, DVC)."""
    init_repo(root)
    return commit_files(root, MATURE_FILES, "initial")
