#!/usr/bin/env python3
"""Scan each tree under several string-hash seeds and report every report that differs.

Usage: python benchmarks/determinism.py TREE... [--seeds 1,2] [--mlscan CMD] [--jobs N] [--json OUT]

Python salts `str` hashes per process (PYTHONHASHSEED), so a rule that picks "the first" element of a
set, or orders by a set's iteration, gives a different report from one run to the next. Each tree is
scanned with `--no-cache --format json` once per seed; the reports must be byte-identical. Prints
each differing tree with the first practice (or top-level field) that differs, and exits 1 if any.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import List, Optional, Tuple


def scan(cmd: List[str], tree: Path, seed: str) -> Tuple[int, str]:
    env = dict(os.environ, PYTHONHASHSEED=seed)
    r = subprocess.run([*cmd, "scan", str(tree), "--format", "json", "--no-cache"],
                       capture_output=True, text=True, env=env)
    return r.returncode, r.stdout


def first_difference(a: str, b: str) -> str:
    try:
        ra, rb = json.loads(a), json.loads(b)
    except json.JSONDecodeError:
        return "a report is not JSON"
    for pa, pb in zip(ra.get("practices", []), rb.get("practices", [])):
        if pa != pb:
            for key in pa:
                if pa.get(key) != pb.get(key):
                    return f"practice {pa.get('id')}: {key}"
    for key in ra:
        if ra.get(key) != rb.get(key):
            return f"field {key}"
    return "byte order only"


def check(cmd: List[str], tree: Path, seeds: List[str]) -> Optional[str]:
    runs = [scan(cmd, tree, s) for s in seeds]
    if any(out != runs[0][1] for _, out in runs[1:]):
        other = next(out for _, out in runs[1:] if out != runs[0][1])
        return first_difference(runs[0][1], other)
    return None


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trees", nargs="+", type=Path)
    ap.add_argument("--seeds", default="1,2", help="comma list of PYTHONHASHSEED values (default 1,2)")
    ap.add_argument("--mlscan", default=f"{shlex.quote(sys.executable)} -m mlscan")
    ap.add_argument("--jobs", type=int, default=1, help="trees scanned at once")
    ap.add_argument("--json", type=Path, help="also write {tree: difference} here")
    a = ap.parse_args(argv)
    cmd, seeds = shlex.split(a.mlscan), a.seeds.split(",")
    trees = [t for t in a.trees if t.is_dir()]
    with ThreadPoolExecutor(max_workers=max(1, a.jobs)) as pool:
        results = list(pool.map(lambda t: (t, check(cmd, t, seeds)), trees))
    differing = {str(t): d for t, d in results if d}
    for tree, diff in sorted(differing.items()):
        print(f"DIFFERS {tree}: {diff}")
    print(f"{len(trees)} trees scanned under seeds {','.join(seeds)}: {len(differing)} with differing reports")
    if a.json:
        a.json.write_text(json.dumps(differing, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
