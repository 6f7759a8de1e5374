"""The benchmark script keeps working (its timings are not asserted here: see benchmarks/README.md)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_scan_vs_parse_runs_and_reports_a_ratio():
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "scan_vs_parse.py"),
                        str(ROOT / "fixtures" / "dvc-mlflow-fastapi"), "--max-ratio", "100000"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "ast.parse, one process:" in r.stdout and "ratio:" in r.stdout


def test_fleet_bench_runs_and_checks_reports(tmp_path):
    import pytest
    pytest.importorskip("distributed", reason="the fleet extra")
    sys.path.insert(0, str(ROOT / "tests"))
    from gitrepo import make_fixture_repo
    repos = [make_fixture_repo(name, tmp_path / name).root for name in ("scripted-seeded", "serving-skew")]
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "fleet_bench.py"), *map(str, repos),
                        "--workers", "1", "--min-speedup", "0"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "reports: identical to the serial scans" in r.stdout and "speed-up:" in r.stdout
