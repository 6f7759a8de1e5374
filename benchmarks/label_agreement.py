#!/usr/bin/env python3
"""How far apart two labellers are, next to how far mlscan is from each of them.

    python benchmarks/label_agreement.py FIRST.yaml SECOND.yaml [--eval EVAL.json]

FIRST and SECOND are label files in the corpus schema (`../shared/corpus/dev.yaml`); only the
repositories both label at the same commit are compared. With `--eval` (the `--json` output of the
corpus scorer, `evalcorpus.py --json`, run on FIRST), mlscan's statuses for the same repositories are
scored against each labeller too. The measures are the scorer's: exact status, the class-balanced
F1 of "has evidence" (present or partial) per practice and its mean (macro F1), and the overall
level's mean absolute difference. A second labeller's score against the first is a ceiling for what
any tool can score against one labeller on the same repositories.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List, Tuple

import yaml

LABEL_TO_STATUS = {"yes": "present", "partial": "partial", "no": "absent", "n/a": "not-applicable",
                   True: "present", False: "absent"}
KINDS = ["data_versioning", "modular_train_code", "train_serve_parity", "seed_control",
         "payload_logging", "experiment_tracking", "config_management", "ml_tests", "ci",
         "dependency_pinning", "model_documentation", "data_validation", "drift_monitoring"]
HAS_EVIDENCE = ("present", "partial")

Statuses = Dict[str, Dict[str, str]]   # repo -> practice -> status


def load_labels(path: Path) -> Tuple[Statuses, Dict[str, int], Dict[str, str]]:
    statuses: Statuses = {}
    levels: Dict[str, int] = {}
    commits: Dict[str, str] = {}
    for entry in yaml.safe_load(path.read_text()) or []:
        repo = entry["repo"]
        statuses[repo] = {k: LABEL_TO_STATUS.get(entry["evidence"][k]["label"], str(entry["evidence"][k]["label"]))
                          for k in KINDS}
        commits[repo] = entry["commit"]
        level = entry.get("expected_levels", {}).get("overall")
        if isinstance(level, int):
            levels[repo] = level
    return statuses, levels, commits


def load_eval(path: Path) -> Tuple[Statuses, Dict[str, int]]:
    statuses: Statuses = {}
    levels: Dict[str, int] = {}
    for row in json.loads(path.read_text())["per_repo"]:
        if "status" not in row:
            continue
        statuses[row["repo"]] = {k: pair[1] for k, pair in row["status"].items()}
        if "level" in row:
            levels[row["repo"]] = row["level"][1]
    return statuses, levels


def _f1(tp: int, fp: int, fn: int) -> float:
    p = tp / (tp + fp) if tp + fp else (1.0 if fn == 0 else 0.0)
    r = tp / (tp + fn) if tp + fn else (1.0 if fp == 0 else 0.0)
    return 2 * p * r / (p + r) if p + r else 0.0


def compare(truth: Statuses, other: Statuses, repos: List[str]) -> dict:
    """`other` scored against `truth` on `repos`, as the corpus scorer does."""
    per_practice = {}
    exact = total = 0
    for k in KINDS:
        tp = fp = fn = tn = same = 0
        for repo in repos:
            want, have = truth[repo][k], other[repo][k]
            same += want == have
            w, h = want in HAS_EVIDENCE, have in HAS_EVIDENCE
            tp += w and h
            fp += h and not w
            fn += w and not h
            tn += not w and not h
        balanced = (_f1(tp, fp, fn) + _f1(tn, fn, fp)) / 2
        per_practice[k] = {"balanced_f1": round(balanced, 3), "exact": same, "n": len(repos)}
        exact += same
        total += len(repos)
    macro = sum(v["balanced_f1"] for v in per_practice.values()) / len(KINDS)
    return {"macro_f1": round(macro, 3), "exact": exact, "total": total, "per_practice": per_practice}


def level_mae(a: Dict[str, int], b: Dict[str, int], repos: List[str]) -> float:
    pairs = [(a[r], b[r]) for r in repos if r in a and r in b]
    return round(sum(abs(x - y) for x, y in pairs) / len(pairs), 2) if pairs else float("nan")


def main(argv: List[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("first", type=Path)
    ap.add_argument("second", type=Path)
    ap.add_argument("--eval", type=Path, help="evalcorpus.py --json output for FIRST")
    ap.add_argument("--json", type=Path, help="write the comparison here")
    a = ap.parse_args(argv)
    first, first_levels, first_commits = load_labels(a.first)
    second, second_levels, second_commits = load_labels(a.second)
    repos = sorted(r for r in first if r in second and first_commits[r] == second_commits[r])
    if not repos:
        print("no repository is labelled in both files at the same commit", file=sys.stderr)
        return 2
    rows = {"second labeller vs first": (compare(first, second, repos), level_mae(first_levels, second_levels, repos))}
    if a.eval:
        tool, tool_levels = load_eval(a.eval)
        scanned = [r for r in repos if r in tool]
        if len(scanned) != len(repos):
            print(f"mlscan has no report for {sorted(set(repos) - set(scanned))}", file=sys.stderr)
            repos = scanned
            rows = {"second labeller vs first": (compare(first, second, repos),
                                                 level_mae(first_levels, second_levels, repos))}
        rows["mlscan vs first labeller"] = (compare(first, tool, repos), level_mae(first_levels, tool_levels, repos))
        rows["mlscan vs second labeller"] = (compare(second, tool, repos), level_mae(second_levels, tool_levels, repos))
    print(f"{len(repos)} repositories labelled twice: {', '.join(repos)}\n")
    print(f"{'':28} {'macro F1':>8} {'exact':>12} {'level MAE':>9}")
    for name, (score, mae) in rows.items():
        pct = 100 * score["exact"] / score["total"]
        print(f"{name:28} {score['macro_f1']:8.2f} {score['exact']:4}/{score['total']:<3} {pct:3.0f}% {mae:9.2f}")
    print(f"\n{'practice':22} " + " ".join(f"{n[:24]:>24}" for n in rows))
    for k in KINDS:
        cells = [f"{s['per_practice'][k]['balanced_f1']:.2f} ({s['per_practice'][k]['exact']}/{s['per_practice'][k]['n']})"
                 for s, _ in rows.values()]
        print(f"{k:22} " + " ".join(f"{c:>24}" for c in cells))
    if a.json:
        a.json.write_text(json.dumps({"repos": repos, **{n: {"score": s, "level_mae": m} for n, (s, m) in rows.items()}},
                                     indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
