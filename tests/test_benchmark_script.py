"""The benchmark script keeps working (its timings are not asserted here: see benchmarks/README.md)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gitrepo import make_fixture_repo

ROOT = Path(__file__).resolve().parents[1]


def test_bench_runs_every_step_and_checks_reports_are_identical(tmp_path):
    repo = make_fixture_repo("dvc-mlflow-fastapi", tmp_path / "repo")
    before = repo.head(), repo.status()
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench.py"), str(repo.root), "--markdown"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    for step in ("ast.parse, one process", "mlscan cold (empty cache)", "mlscan warm (nothing changed)",
                 "mlscan one .py file changed (warm)", "mlscan --base HEAD~1 (3 files changed, empty cache)",
                 "mlscan --base HEAD~1 (warm)"):
        assert f"| {step} |" in r.stdout, (step, r.stdout)
    assert "ok     cold, warm and --no-cache reports byte-identical" in r.stdout
    assert "ok     --base reports byte-identical cold and warm" in r.stdout
    assert "warm re-scan <= 0.10x cold:" in r.stdout and "load average" in r.stdout
    assert (repo.head(), repo.status()) == before  # the measured tree is never touched
