"""`mlscan fix` end to end: the real CLI on real git repos made by the tests."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from gitrepo import GitRepo, git, make_fixture_repo, mlscan_env, run_mlscan, snapshot
from mlscan.fix.base import Edit, Workspace
from mlscan.fix.engine import check_edit, plan_fixes, write_plan
from mlscan.config import Config

IMPORTING_TEST = ("from app import app, estimate\nfrom src.model import build_model\nfrom src.train import main\n\n\n"
                  "def test_names():\n    assert callable(build_model) and callable(main) and app and estimate\n")


def _practices(root: Path) -> dict:
    rc, out, err = run_mlscan(["scan", root, "--format", "json", "--no-progress"])
    assert rc == 0, err
    return {p["id"]: p for p in json.loads(out)["practices"]}


def _imported_names(test_text: str):
    for node in ast.walk(ast.parse(test_text)):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module, [a.name for a in node.names]


def _top_level_names(text: str) -> set:
    from mlscan.fix.engine import top_level_names
    return top_level_names(text)


@pytest.fixture
def skew_repo(tmp_path):
    def make(name: str) -> GitRepo:
        repo = make_fixture_repo("serving-skew", tmp_path / name)
        repo.write("tests/test_names.py", IMPORTING_TEST)
        repo.commit("a test that imports the modules the fixes change")
        return repo
    return make


def test_diff_changes_nothing_applies_with_git_and_write_moves_practices(skew_repo):
    repo = skew_repo("repo")
    before = _practices(repo.root)
    assert {before[p]["status"] for p in ("seed-control", "config-management", "payload-logging", "ci")} == {"absent"}
    untouched = snapshot(repo.root, include_git=True)

    rc, diff, err = run_mlscan(["fix", repo.root])
    assert rc == 0, err
    assert snapshot(repo.root, include_git=True) == untouched, "mlscan fix without --write wrote something"
    assert diff.startswith("diff --git ") and "+def seed_everything(seed):" in diff
    rc2, diff_flag, _ = run_mlscan(["fix", repo.root, "--diff"])
    assert rc2 == 0 and diff_flag == diff

    other = skew_repo("other")
    (other.root.parent / "fix.patch").write_text(diff, encoding="utf-8")
    git(other.root, "apply", "--check", str(other.root.parent / "fix.patch"))
    git(other.root, "apply", str(other.root.parent / "fix.patch"))

    rc, out, err = run_mlscan(["fix", repo.root, "--write"])
    assert rc == 0 and out == "", err
    assert "wrote src/train.py" in err
    assert snapshot(repo.root) == snapshot(other.root), "--write and `git apply` of --diff disagree"

    after = _practices(repo.root)
    for practice in ("seed-control", "config-management", "payload-logging", "ci"):
        assert after[practice]["status"] == "present", (practice, after[practice]["reason"])
    assert after["model-documentation"]["status"] == "partial"
    assert "intended use" in after["model-documentation"]["reason"]

    changed = [line[len("diff --git a/"):].split(" ")[0] for line in diff.splitlines() if line.startswith("diff --git")]
    originals = {p: (other.root / p) for p in changed}
    for path in changed:
        if path.endswith(".py"):
            ast.parse((repo.root / path).read_text(encoding="utf-8"))
    test_text = (repo.root / "tests/test_names.py").read_text(encoding="utf-8")
    for module, names in _imported_names(test_text):
        target = repo.root / (module.replace(".", "/") + ".py")
        assert set(names) <= _top_level_names(target.read_text(encoding="utf-8")), (module, names)
    assert originals

    rc, again, err = run_mlscan(["fix", repo.root])
    assert rc == 0 and again == "", again
    assert "nothing to change" in err


def test_diff_paths_are_relative_to_the_git_top_and_crlf_is_kept(tmp_path):
    repo = GitRepo.init(tmp_path / "mono")
    repo.write("ml/train.py", "import numpy as np\r\nfrom sklearn.svm import SVC\r\n\r\n"
                              "X = np.random.rand(10, 2)\r\nSVC().fit(X, X[:, 0] > 0.5)\r\n")
    repo.write("README.md", "monorepo\n")
    repo.commit("ml project in a subfolder")
    proc = subprocess.run([sys.executable, "-m", "mlscan", "fix", str(repo.root / "ml"), "--select", "seed-control"],
                          capture_output=True, env=mlscan_env(), stdin=subprocess.DEVNULL, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert b"+++ b/ml/train.py" in proc.stdout      # bytes: text capture would turn CRLF into LF
    patch = tmp_path / "seed.patch"
    patch.write_bytes(proc.stdout)
    git(repo.root, "apply", str(patch))
    text = (repo.root / "ml/train.py").read_bytes()
    assert b"seed_everything(42)\r\n" in text and b"\n" not in text.replace(b"\r\n", b"")
    assert _practices(repo.root / "ml")["seed-control"]["status"] == "present"


def test_unsafe_fixes_are_reported_and_nothing_is_written(tmp_path):
    repo = GitRepo.init(tmp_path / "r")
    repo.write("gen/train_gen.py", "# Code generated by trainer-gen. DO NOT EDIT.\nimport numpy as np\n"
                                   "from sklearn.svm import SVC\n\nif __name__ == '__main__':\n"
                                   "    X = np.random.rand(10, 2)\n    SVC().fit(X, X[:, 0] > 0.5)\n")
    repo.write("train_nb.ipynb", json.dumps({"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": [
        "import torch\n", "m = torch.nn.Linear(2, 1)\n", "m(torch.randn(1, 2)).sum().backward()\n"]}],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    repo.commit("generated training code and a notebook")
    untouched = snapshot(repo.root, include_git=True)
    rc, out, err = run_mlscan(["fix", repo.root, "--write", "--select", "seed-control"])
    assert rc == 0, err
    assert snapshot(repo.root, include_git=True) == untouched
    assert "gen/train_gen.py: generated code" in err
    assert "suggestion for train_nb.ipynb" in err and "seed_everything(42)" in err


def test_no_entry_point_is_ambiguous(tmp_path):
    repo = GitRepo.init(tmp_path / "lib")
    repo.write("fitlib.py", "import numpy as np\nfrom sklearn.svm import SVC\n\n\n"
                            "def fit():\n    X = np.random.rand(10, 2)\n    return SVC().fit(X, X[:, 0] > 0.5)\n")
    repo.commit("a library that trains, run by nobody here")
    rc, out, err = run_mlscan(["fix", repo.root, "--select", "seed-control"])
    assert rc == 0 and out == ""
    assert "no training entry point found" in err


def test_unknown_select_is_a_usage_error(tmp_path):
    (tmp_path / "x.py").write_text("x = 1\n")
    rc, out, err = run_mlscan(["fix", tmp_path, "--select", "no-such-fix"])
    assert rc == 2 and "no fix for no-such-fix" in err


def test_edits_through_symlinks_or_dropping_names_are_refused(tmp_path):
    from mlscan.facts.repo import Facts
    (tmp_path / "repo").mkdir()
    (tmp_path / "outside").mkdir()
    root = tmp_path / "repo"
    (root / "train.py").write_text("import numpy as np\nLR = 0.1\n\n\ndef main():\n    pass\n")
    (root / "linked").symlink_to(tmp_path / "outside")
    ws = Workspace(Facts(root))
    assert check_edit(root, ws, Edit("linked/new.py", "x = 1\n", "")).reason.startswith("the path goes through a symlink")
    assert check_edit(root, ws, Edit("../escape.py", "x = 1\n", "")).reason == "the path leaves the repository"
    dropped = check_edit(root, ws, Edit("train.py", "import numpy as np\n\n\ndef main():\n    pass\n", ""))
    assert "LR" in dropped.reason
    assert check_edit(root, ws, Edit("train.py", "def (:\n", "")).reason.startswith("the edited file would not parse")
    assert check_edit(root, ws, Edit("train.py", "import numpy as np\nLR = 0.1\nSEED = 1\n\n\ndef main():\n    pass\n",
                                     "")) is None


def test_write_refuses_files_changed_since_the_scan(tmp_path):
    from mlscan.errors import UsageError
    (tmp_path / "train.py").write_text("import numpy as np\nfrom sklearn.svm import SVC\n\n"
                                       "X = np.random.rand(10, 2)\nSVC().fit(X, X[:, 0] > 0.5)\n")
    plan = plan_fixes(tmp_path, Config(), ("seed-control",), jobs=1)
    assert "train.py" in plan.changes
    (tmp_path / "train.py").write_text("changed meanwhile\n")
    with pytest.raises(UsageError, match="changed since the scan"):
        write_plan(plan)
    assert (tmp_path / "train.py").read_text() == "changed meanwhile\n"


@pytest.mark.parametrize("command,imports_libcst", [("scan", False), ("fix", True)])
def test_only_fix_imports_libcst(tmp_path, command, imports_libcst):
    (tmp_path / "train.py").write_text("import numpy as np\nfrom sklearn.svm import SVC\n\n"
                                       "X = np.random.rand(10, 2)\nSVC().fit(X, X[:, 0] > 0.5)\n")
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "mlscan", command, str(tmp_path)],
                          capture_output=True, text=True, env=mlscan_env(), stdin=subprocess.DEVNULL, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert ("libcst" in imported) is imports_libcst


def test_two_fixes_on_one_file_compose(tmp_path):
    train = ("import yaml\nimport numpy as np\nfrom sklearn.ensemble import RandomForestClassifier\n\n\n"
             "def main():\n    X = np.random.rand(20, 2)\n"
             "    RandomForestClassifier(n_estimators=300, max_depth=8).fit(X, X[:, 0] > 0.5)\n\n\n"
             "if __name__ == '__main__':\n    main()\n")
    (tmp_path / "train.py").write_text(train)
    plan = plan_fixes(tmp_path, Config(), ("seed-control", "config-management"), jobs=1)
    assert [r.practice for r in plan.results if r.accepted] == ["config-management", "seed-control"]
    new = plan.changes["train.py"]
    assert "n_estimators=PARAMS[\"n_estimators\"]" in new and "    seed_everything(42)\n    main()" in new
    write_plan(plan)
    ast.parse((tmp_path / "train.py").read_text())
    assert plan_fixes(tmp_path, Config(), ("seed-control", "config-management"), jobs=1).changes == {}
