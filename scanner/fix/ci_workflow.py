"""Answers ci-checks (rules/ci_checks.py)."""
from __future__ import annotations

from mlscan.fix.base import Edit, Fix, FixExample, Skip

WORKFLOW = ".github/workflows/tests.yml"
TEMPLATE = """\
# Written by `mlscan fix`: run the tests on every push and pull request.
name: tests
on:
  push:
  pull_request:
permissions:
  contents: read
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1
        with:
          persist-credentials: false
      - uses: actions/setup-python@a309ff8b426b58ec0e2a45f0f869d46889d02405 # v6.2.0
        with:
          python-version: "{python}"
      - name: Install
        run: python -m pip install {install}
      - name: Test
        run: python -m pytest
"""
MODEL_TEST = ("import torch\nfrom src.model import build\n\n\n"
              "def test_shape():\n    assert build()(torch.zeros(1, 4)).shape == (1, 2)\n")


class CIWorkflow(Fix):
    """Add a GitHub Actions workflow that runs the repo's tests

    Only for a repo that has tests and no CI at all: writes `.github/workflows/tests.yml`, which
    installs the project (its `requirements.txt`, else the package itself) with pytest and runs
    `python -m pytest` on every push and pull request, with a read-only token, no persisted
    credentials and actions pinned to commits (zizmor finds nothing in it). Existing CI is
    never rewritten.
    """

    id = "ci-workflow"
    practice = "ci"
    answers = ("ci-checks",)
    examples = (
        FixExample({
            "requirements.txt": "torch==2.3.1\n",
            "src/model.py": "import torch\n\n\ndef build():\n    return torch.nn.Linear(4, 2)\n",
            "tests/test_model.py": MODEL_TEST,
        }, {
            WORKFLOW: TEMPLATE.format(python="3.11", install="-r requirements.txt pytest"),
        }, "present", "tests and no CI: a workflow that runs them"),
        FixExample({
            "src/model.py": "import torch\n\n\ndef build():\n    return torch.nn.Linear(4, 2)\n",
        }, {WORKFLOW: None}, "absent", "no tests: nothing to run", skips=("no tests",)),
    )

    def plan(self, ctx):
        facts = ctx.facts
        if facts.ci_files:
            yield Skip(facts.ci_files[0], "the repo has CI; mlscan does not rewrite existing workflows")
            return
        if not facts.test_code():
            yield Skip(".", "no tests to run: write tests first (see `mlscan explain ml-tests`)")
            return
        if facts.exists("requirements.txt"):
            install = "-r requirements.txt pytest"
        elif facts.exists("pyproject.toml") or facts.exists("setup.py"):
            install = "-e . pytest"
        else:
            install = "pytest"
        yield Edit(WORKFLOW, TEMPLATE.format(python="3.11", install=install),
                   "runs the tests with pytest on pushes and pull requests")
