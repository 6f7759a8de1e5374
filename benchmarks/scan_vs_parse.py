#!/usr/bin/env python3
"""Time a full `mlscan scan` of a tree next to a one-process `ast.parse` of the same .py files.

Usage: python benchmarks/scan_vs_parse.py TREE [--max-ratio 5] [--repeat 1] [--mlscan "mlscan"]

Both are measured in this run, on this machine. The parse baseline reads and parses every .py
file git lists (or every .py file below TREE outside git) in one process, as the house-style
note measured it. The scan is the real CLI (`--format json`, output discarded), so start-up,
git history, every rule and rendering are included. Exits 1 when scan/parse exceeds --max-ratio.
"""
from __future__ import annotations

import argparse
import ast
import shlex
import subprocess
import sys
import time
from pathlib import Path


def python_files(tree: Path) -> list:
    try:
        out = subprocess.run(["git", "-C", str(tree), "ls-files", "-z", "*.py"], capture_output=True, check=True).stdout
        return [tree / p for p in out.decode("utf-8", "surrogateescape").split("\0") if p]
    except (OSError, subprocess.CalledProcessError):
        return sorted(tree.rglob("*.py"))


def parse_all(files: list) -> tuple:
    t0 = time.perf_counter()
    ok = 0
    size = 0
    for f in files:
        try:
            data = f.read_bytes()
        except OSError:
            continue
        size += len(data)
        try:
            ast.parse(data)
            ok += 1
        except (SyntaxError, ValueError):
            pass
    return time.perf_counter() - t0, ok, size


def scan(tree: Path, cmd: str) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(shlex.split(cmd) + ["scan", str(tree), "--format", "json", "--no-progress"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t0
    if r.returncode not in (0, 1):
        sys.exit(f"mlscan failed (rc={r.returncode}): {r.stderr[-500:]}")
    return dt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tree", type=Path)
    ap.add_argument("--max-ratio", type=float, default=5.0)
    ap.add_argument("--repeat", type=int, default=1, help="take the best of N runs of each")
    ap.add_argument("--mlscan", default=f"{shlex.quote(sys.executable)} -m mlscan")
    a = ap.parse_args()
    files = python_files(a.tree)
    parse_t = min(parse_all(files)[0] for _ in range(a.repeat))
    _, ok, size = parse_all(files)
    scan_t = min(scan(a.tree, a.mlscan) for _ in range(a.repeat))
    ratio = scan_t / parse_t if parse_t else float("inf")
    print(f"files: {len(files)} .py ({ok} parsed, {size / 1e6:.1f} MB)")
    print(f"ast.parse, one process: {parse_t:.2f} s")
    print(f"mlscan scan (full CLI):  {scan_t:.2f} s")
    print(f"ratio: {ratio:.2f}x (limit {a.max_ratio:g}x) -> {'ok' if ratio <= a.max_ratio else 'TOO SLOW'}")
    return 0 if ratio <= a.max_ratio else 1


if __name__ == "__main__":
    sys.exit(main())
