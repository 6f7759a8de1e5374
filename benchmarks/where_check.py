#!/usr/bin/env python3
"""Check a label file's `where` references against the repositories, printing counts and bad
references only (never the labels), so the lead can check a blind set without reading it.

    python benchmarks/where_check.py LABELS.yaml --mirror DIR

DIR holds the fetched bare mirrors as `owner+name/repo` (or `owner+name/repo/.git`). A reference
is `path`, `path:line`, `path:start-end` or `path#cell N`; it is bad when the path does not exist
at the entry's commit, or its last line is past the end of the file.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path
from typing import List, Tuple

import yaml

REFERENCE = re.compile(r"^(?P<path>.*?)(?:#.*|:(?P<start>\d+)(?:-(?P<end>\d+))?)?$")


def git_dir(mirror: Path, repo: str) -> Path:
    base = mirror / repo.replace("/", "+") / "repo"
    return base / ".git" if (base / ".git").is_dir() else base


def bad_references(labels: list, mirror: Path) -> Tuple[int, List[Tuple[str, str, str]]]:
    checked, bad = 0, []
    for entry in labels:
        git = git_dir(mirror, entry["repo"])
        for practice in (entry.get("evidence") or {}).values():
            for ref in practice.get("where") or []:
                checked += 1
                m = REFERENCE.match(str(ref))
                path = m.group("path").rstrip("/")
                last = int(m.group("end") or m.group("start") or 0)
                shown = subprocess.run(["git", "--git-dir", str(git), "cat-file", "-p", f"{entry['commit']}:{path}"],
                                       capture_output=True)
                if shown.returncode != 0:
                    bad.append((entry["repo"], path, "missing at the commit"))
                elif last and shown.stdout.count(b"\n") + 1 < last:
                    bad.append((entry["repo"], path, "line past the end"))
    return checked, bad


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("labels")
    ap.add_argument("--mirror", required=True, type=Path)
    a = ap.parse_args()
    checked, bad = bad_references(yaml.safe_load(Path(a.labels).read_text(encoding="utf-8")), a.mirror)
    print(f"{checked} references, {len(bad)} bad")
    for repo, path, why in bad:
        print(f"  {repo}  {path}  ({why})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
