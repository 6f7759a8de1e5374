#!/usr/bin/env python3
"""Check that every piece of evidence in kept reports can be opened at its path:line.

Usage: python benchmarks/evidence_lines.py REPORTS_DIR WORK_DIR [--json OUT]

REPORTS_DIR holds JSON reports named `<tree>.json` (as `error_analysis.py _tee` keeps them), WORK_DIR the
scanned trees of the same names. For each evidence entry: the path must exist in the tree (evidence that
says its file is only in git history or not in the checkout, and the repository itself, `.`, excepted), and a line must fall
inside the file (notebooks are counted by cell lines, so only their existence is checked). Prints the
problems grouped by rule with one example each, and exits 1 if any.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional, Tuple


# evidence that says its file is not in the checkout: a blob in git history, a file the clone left out
ABSENT_BY_DESIGN = ("history", "not in this checkout")


def line_count(path: Path) -> Optional[int]:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    return data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)


def problems(report: dict, tree: Path) -> List[Tuple[str, str, str]]:
    """(rule, problem, "practice path:line") for each piece of evidence that cannot be opened."""
    out = []
    for practice in report.get("practices", []):
        for ev in practice.get("evidence", []):
            path, line, rule = ev.get("path"), ev.get("line"), ev.get("rule", "?")
            where = f"{practice.get('id')} {path}:{line}"
            if not path:
                out.append((rule, "no path", where))
                continue
            if path == "." or any(w in ev.get("message", "") for w in ABSENT_BY_DESIGN):
                continue
            full = tree / path
            if not full.exists():
                out.append((rule, "path not in the tree", where))
                continue
            if full.is_dir() or line is None or path.endswith(".ipynb"):
                continue
            if line < 1:
                out.append((rule, "line below 1", where))
                continue
            n = line_count(full)
            if n is not None and line > max(n, 1):
                out.append((rule, f"line past the end ({n} lines)", where))
    return out


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reports", type=Path)
    ap.add_argument("work", type=Path)
    ap.add_argument("--json", type=Path, help="also write {tree: [[rule, problem, where], ...]} here")
    a = ap.parse_args(argv)
    found: Dict[str, list] = {}
    checked = 0
    for report_path in sorted(a.reports.glob("*.json")):
        tree = a.work / report_path.stem
        if not tree.is_dir():
            continue
        checked += 1
        got = problems(json.loads(report_path.read_text("utf-8")), tree)
        if got:
            found[report_path.stem] = got
    by_rule = Counter((rule, problem.split(" (")[0]) for got in found.values() for rule, problem, _ in got)
    for (rule, problem), n in by_rule.most_common():
        tree, where = next((t, w) for t, got in found.items() for r, p, w in got if r == rule and p.startswith(problem))
        print(f"{n:5d}  {rule}: {problem}   e.g. {tree}: {where}")
    total = sum(by_rule.values())
    print(f"{checked} reports checked: {total} evidence entries that cannot be opened, in {len(found)} reports")
    if a.json:
        a.json.write_text(json.dumps(found, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
