"""The sweep script keeps working: it checks out pinned commits from bare mirrors, scans them and
groups the diagnostics by class (the sweep's own numbers are in benchmarks/README.md)."""
from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

from gitrepo import GitRepo, git

ROOT = Path(__file__).resolve().parents[1]
SWEEP = ROOT / "benchmarks" / "sweep.py"
MLSCAN = f"{shlex.quote(sys.executable)} -m mlscan"


def make_mirror(mirror: Path, name: str, files: dict) -> tuple:
    """A bare mirror at mirror/<owner>+<name>/repo with two commits; returns (first sha, head sha)."""
    src = GitRepo.init(mirror.parent / "src" / name.replace("/", "+"))
    for rel, text in files.items():
        src.write(rel, text)
    first = src.commit("first")
    src.write("README.md", "# later\n")
    head = src.commit("second")
    git(mirror, "clone", "-q", "--bare", str(src.root), str(mirror / name.replace("/", "+") / "repo"))
    return first, head


def test_sweep_scans_pinned_mirrors_and_classifies_diagnostics(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    first, _ = make_mirror(mirror, "acme/py2", {"old.py": "print 'hello'\n", "train.py": "import torch\n"})
    _, head = make_mirror(mirror, "acme/clean", {"train.py": "import numpy as np\nnp.random.seed(0)\n"})
    listing = tmp_path / "repos.txt"
    listing.write_text(f"# two tiny repos\nacme/py2@{first}\nacme/clean  # at HEAD\nacme/absent\n")
    out_json = tmp_path / "results.json"
    r = subprocess.run([sys.executable, str(SWEEP), str(listing), "--mirror", str(mirror), "--mlscan", MLSCAN,
                        "--json", str(out_json)], capture_output=True, text=True, timeout=300)
    # acme/absent has no mirror: the sweep says so and fails, but still scans the others.
    assert r.returncode == 1, r.stdout + r.stderr
    assert "repos: 3 listed, 2 scanned" in r.stdout
    assert "tracebacks: 0" in r.stdout and "timeouts (over 60 s): 0" in r.stdout
    assert "python 2: 1 in 1 repos; e.g. acme/py2: old.py: looks like Python 2 source" in r.stdout
    rows = {row["repo"]: row for row in json.loads(out_json.read_text())}
    assert rows["acme/py2"]["sha"] == first and rows["acme/clean"]["sha"] == head
    assert rows["acme/clean"]["exit_code"] == 0 and rows["acme/clean"]["diagnostics"] == []
    assert rows["acme/py2"]["classes"] == ["python 2"]
    assert rows["acme/absent"]["error"].startswith("no mirror at")
    # Work trees live in a temporary folder that is gone afterwards; the mirrors are untouched.
    assert not (mirror / "acme+py2" / "repo" / "index").exists()


def test_sweep_reports_a_timeout_and_kills_the_scan(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    make_mirror(mirror, "acme/slow", {"train.py": "x = 1\n"})
    listing = tmp_path / "repos.txt"
    listing.write_text("acme/slow\n")
    slow = tmp_path / "slow-mlscan"
    slow.write_text("#!/bin/sh\nsleep 30\n")
    slow.chmod(0o755)
    r = subprocess.run([sys.executable, str(SWEEP), str(listing), "--mirror", str(mirror), "--mlscan", str(slow),
                        "--timeout", "1"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert "timeouts (over 1 s): 1" in r.stdout and "FAILED acme/slow" in r.stdout


DETERMINISM = ROOT / "benchmarks" / "determinism.py"


def test_determinism_script_finds_a_report_that_follows_the_hash_seed(tmp_path):
    """determinism.py scans each tree once per PYTHONHASHSEED and fails when the reports differ: shown with
    a stand-in scanner whose report follows the seed, then with the real one on a small repo."""
    tree = tmp_path / "repo"
    tree.mkdir()
    (tree / "train.py").write_text("import numpy as np\nnp.random.seed(0)\n")
    fake = tmp_path / "fake_mlscan.py"
    fake.write_text("import json, os\nprint(json.dumps({'practices': [{'id': 'seed-control', "
                    "'reason': 'picked ' + str(sorted({'a', 'b', 'c'}, key=hash)[0])}]}))\n")
    unstable = subprocess.run([sys.executable, str(DETERMINISM), str(tree), "--seeds", "1,2,3,4,5,6",
                               "--mlscan", f"{shlex.quote(sys.executable)} {shlex.quote(str(fake))}"],
                              capture_output=True, text=True, timeout=120)
    assert unstable.returncode == 1, unstable.stdout
    assert "practice seed-control: reason" in unstable.stdout
    stable = subprocess.run([sys.executable, str(DETERMINISM), str(tree), "--mlscan", MLSCAN],
                            capture_output=True, text=True, timeout=120)
    assert stable.returncode == 0, stable.stdout
    assert "1 trees scanned under seeds 1,2: 0 with differing reports" in stable.stdout


EVIDENCE_LINES = ROOT / "benchmarks" / "evidence_lines.py"


def test_evidence_lines_script_flags_evidence_that_cannot_be_opened(tmp_path):
    """evidence_lines.py opens each report's evidence in its tree: a real scan passes; a line past a file's
    end and a path the tree lacks are flagged; a file the evidence itself says is only in history is not."""
    tree = tmp_path / "work" / "repo"
    tree.mkdir(parents=True)
    (tree / "train.py").write_text("import numpy as np\nnp.random.seed(0)\n")
    reports = tmp_path / "reports"
    reports.mkdir()
    scan = subprocess.run([sys.executable, "-m", "mlscan", "scan", str(tree), "--format", "json", "--no-cache"],
                          capture_output=True, text=True)
    (reports / "repo.json").write_text(scan.stdout)
    ok = subprocess.run([sys.executable, str(EVIDENCE_LINES), str(reports), str(tmp_path / "work")],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "1 reports checked: 0 evidence" in ok.stdout, ok.stdout
    bad = {"practices": [{"id": "seed-control", "evidence": [
        {"path": "train.py", "line": 9, "rule": "seed-calls", "message": "m"},
        {"path": "gone.csv", "line": None, "rule": "data-in-git", "message": "raw data"},
        {"path": "old.csv", "line": None, "rule": "data-in-git", "message": "raw data committed to git history"}]}]}
    (reports / "repo.json").write_text(json.dumps(bad))
    flagged = subprocess.run([sys.executable, str(EVIDENCE_LINES), str(reports), str(tmp_path / "work")],
                             capture_output=True, text=True, timeout=60)
    assert flagged.returncode == 1
    assert "seed-calls: line past the end" in flagged.stdout and "data-in-git: path not in the tree" in flagged.stdout
    assert "2 evidence entries that cannot be opened" in flagged.stdout
