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
