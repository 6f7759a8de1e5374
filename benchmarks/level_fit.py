"""How well the overall-level formula tracks the labellers' overall level, judged leave-one-set-out.

    python benchmarks/level_fit.py SET.yaml... --reports DIR... [--json OUT]

Each labels file is one set (a fold). For every candidate formula and every set, the candidate's free
parameters (cut points, weights) are fitted on the other sets and the candidate is scored on the set
left out: rank correlation (Spearman) and mean absolute error between the level it gives and the
labellers' `expected_levels.overall`. Each candidate is scored twice: with the labels' own practice
statuses (what the formula can do with perfect statuses) and with mlscan's statuses from kept JSON
reports (`owner+name.json` in a --reports folder: what a user sees). Cut points are always fitted on
the labels' statuses, so nothing about mlscan's errors is learnt.

The formula is the one in `scanner/data/model.yaml` ("share"): the weighted share of the counted
practices in place (present 1, partial 0.5; not-applicable leaves the denominator), cut into levels
2-4 by thresholds; level 5 needs every counted practice present.
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import yaml

PRACTICES = ("data_versioning", "modular_train_code", "train_serve_parity", "seed_control", "payload_logging",
             "experiment_tracking", "config_management", "ml_tests", "ci", "dependency_pinning",
             "model_documentation", "data_validation", "drift_monitoring")
LABEL_TO_STATUS = {"yes": "present", "partial": "partial", "no": "absent", "n/a": "not-applicable"}
VALUE = {"present": 1.0, "partial": 0.5, "absent": 0.0}
CURRENT_WEIGHTS = {"ml_tests": 2.0, "ci": 2.0, "experiment_tracking": 2.0}
CURRENT_CUTS = (0.20, 0.50, 0.80)
CUT_GRID = [round(0.05 * i, 2) for i in range(1, 20)]


class Repo:
    def __init__(self, name: str, fold: str, level: int, labelled: Dict[str, str], found: Optional[Dict[str, str]]):
        self.name, self.fold, self.level, self.labelled, self.found = name, fold, level, labelled, found


def load(sets: Sequence[str], report_dirs: Sequence[str]) -> List[Repo]:
    out, seen = [], set()
    for path in sets:
        fold = Path(path).stem
        for entry in yaml.safe_load(Path(path).read_text()) or []:
            name = entry["repo"]
            level = (entry.get("expected_levels") or {}).get("overall")
            if name.lower() in seen or not isinstance(level, int):
                continue
            seen.add(name.lower())
            labelled = {p: LABEL_TO_STATUS.get(str((entry["evidence"].get(p) or {}).get("label")), "unknown")
                        for p in PRACTICES}
            out.append(Repo(name, fold, level, labelled, _reported(name, report_dirs)))
    return out


def _reported(name: str, report_dirs: Sequence[str]) -> Optional[Dict[str, str]]:
    for folder in report_dirs:
        f = Path(folder) / (name.replace("/", "+") + ".json")
        if f.exists():
            report = json.loads(f.read_text())
            return {p["id"].replace("-", "_"): p["status"] for p in report["practices"]}
    return None


def share(statuses: Dict[str, str], weights: Dict[str, float]) -> Tuple[float, bool]:
    """(weighted share in place, every counted practice present)."""
    got = total = 0.0
    full = True
    for p in PRACTICES:
        s = statuses.get(p)
        if s not in VALUE:
            continue
        w = weights.get(p, 1.0)
        got += w * VALUE[s]
        total += w
        full = full and s == "present"
    return (got / total if total else 0.0), full and total > 0


def level_of(statuses: Dict[str, str], weights: Dict[str, float], cuts: Sequence[float]) -> int:
    s, full = share(statuses, weights)
    level = 1 + sum(1 for c in cuts if s >= c)
    return 5 if full and level == 4 else level


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float:
    def ranks(v):
        order = sorted(range(len(v)), key=lambda i: v[i])
        r = [0.0] * len(v)
        i = 0
        while i < len(v):
            j = i
            while j + 1 < len(v) and v[order[j + 1]] == v[order[i]]:
                j += 1
            for k in range(i, j + 1):
                r[order[k]] = (i + j) / 2 + 1
            i = j + 1
        return r
    if len(xs) < 2:
        return float("nan")
    rx, ry = ranks(xs), ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    vx = sum((a - mx) ** 2 for a in rx) ** 0.5
    vy = sum((b - my) ** 2 for b in ry) ** 0.5
    return cov / (vx * vy) if vx and vy else float("nan")


def fit_cuts(repos: List[Repo], weights: Dict[str, float]) -> Tuple[float, float, float]:
    """The cut points with the least mean absolute error on these repos' label statuses (ties: closest
    to the current ones)."""
    shares = [(share(r.labelled, weights), r.level) for r in repos]
    best = None
    for cuts in itertools.combinations(CUT_GRID, 3):
        err = 0
        for (s, full), want in shares:
            level = 1 + sum(1 for c in cuts if s >= c)
            err += abs((5 if full and level == 4 else level) - want)
        key = (err, sum(abs(a - b) for a, b in zip(cuts, CURRENT_CUTS)))
        if best is None or key < best[0]:
            best = (key, cuts)
    return best[1]


def practice_rho(repos: List[Repo]) -> Dict[str, float]:
    out = {}
    for p in PRACTICES:
        pairs = [(VALUE[r.labelled[p]], r.level) for r in repos if r.labelled[p] in VALUE]
        rho = spearman([a for a, _ in pairs], [b for _, b in pairs]) if len(pairs) > 2 else 0.0
        out[p] = 0.0 if rho != rho else rho   # a practice with one status everywhere tells nothing
    return out


def top_k_weights(k: int, weight: float):
    def fit(train: List[Repo]) -> Dict[str, float]:
        rho = practice_rho(train)
        return {p: weight for p in sorted(PRACTICES, key=lambda p: -rho[p])[:k]}
    return fit


def rho_weights(train: List[Repo]) -> Dict[str, float]:
    return {p: max(0.1, round(2 * v) / 2) for p, v in practice_rho(train).items()}


CANDIDATES = {
    "current (tests, CI, tracking 2; cuts 0.20/0.50/0.80)": (lambda train: CURRENT_WEIGHTS, False),
    "current weights, cuts refitted": (lambda train: CURRENT_WEIGHTS, True),
    "equal weights, cuts refitted": (lambda train: {}, True),
    "top 3 practices by correlation weigh 2, cuts refitted": (top_k_weights(3, 2.0), True),
    "top 4 practices by correlation weigh 2, cuts refitted": (top_k_weights(4, 2.0), True),
    "top 3 practices weigh 3, cuts refitted": (top_k_weights(3, 3.0), True),
    "weight = correlation rounded to 0.5, cuts refitted": (rho_weights, True),
}


def evaluate(repos: List[Repo]) -> dict:
    folds = sorted({r.fold for r in repos}, key=lambda f: [r.fold for r in repos].index(f))
    out = {}
    for name, (weights_of, refit) in CANDIDATES.items():
        per_fold = {}
        pooled = {"labels": ([], []), "mlscan": ([], [])}
        for fold in folds:
            train = [r for r in repos if r.fold != fold]
            test = [r for r in repos if r.fold == fold]
            weights = weights_of(train)
            cuts = fit_cuts(train, weights) if refit else CURRENT_CUTS
            row = {"n": len(test), "cuts": list(cuts)}
            for kind in ("labels", "mlscan"):
                rows = [(level_of(r.labelled if kind == "labels" else r.found, weights, cuts), r.level)
                        for r in test if kind == "labels" or r.found is not None]
                got, want = [a for a, _ in rows], [b for _, b in rows]
                pooled[kind][0].extend(got)
                pooled[kind][1].extend(want)
                row[kind] = {"rho": round(spearman(got, want), 3),
                             "mae": round(sum(abs(a - b) for a, b in rows) / len(rows), 3) if rows else None}
            per_fold[fold] = row
        out[name] = {"folds": per_fold, **{
            kind: {"rho": round(spearman(*pooled[kind]), 3),
                   "mae": round(sum(abs(a - b) for a, b in zip(*pooled[kind])) / len(pooled[kind][0]), 3)}
            for kind in ("labels", "mlscan")}}
    base = out[next(iter(CANDIDATES))]
    for name, res in out.items():
        res["folds_won"] = {kind: sum(1 for f, row in res["folds"].items()
                                      if row[kind]["rho"] > base["folds"][f][kind]["rho"] + 1e-9)
                            for kind in ("labels", "mlscan")}
        res["folds_lost"] = {kind: sum(1 for f, row in res["folds"].items()
                                       if row[kind]["rho"] < base["folds"][f][kind]["rho"] - 1e-9)
                             for kind in ("labels", "mlscan")}
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sets", nargs="+", help="labels files, one per set (each is a fold)")
    ap.add_argument("--reports", nargs="+", default=[], help="folders of kept JSON reports (owner+name.json)")
    ap.add_argument("--json", help="write the full result here")
    args = ap.parse_args(argv)
    repos = load(args.sets, args.reports)
    missing = sum(1 for r in repos if r.found is None)
    print(f"{len(repos)} repos in {len({r.fold for r in repos})} sets; {missing} without a kept report")
    result = evaluate(repos)
    print(f"{'candidate':58} {'labels rho/MAE':>15} {'mlscan rho/MAE':>15}  sets won-lost (labels; mlscan)")
    for name, res in result.items():
        lab, ml = res["labels"], res["mlscan"]
        print(f"{name:58} {lab['rho']:>7.3f}/{lab['mae']:.3f} {ml['rho']:>7.3f}/{ml['mae']:.3f}  "
              f"{res['folds_won']['labels']}-{res['folds_lost']['labels']}; "
              f"{res['folds_won']['mlscan']}-{res['folds_lost']['mlscan']}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
