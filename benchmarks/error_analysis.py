#!/usr/bin/env python3
"""Group mlscan's misses on a labelled corpus by practice and by direction, biggest class first.

    python benchmarks/error_analysis.py LABELS.yaml --scorer evalcorpus.py [--mlscan mlscan] [--work DIR]
    python benchmarks/error_analysis.py LABELS.yaml --reports DIR      # reuse the reports of an earlier run
    ... --sets SET1.yaml SET2.yaml ...   # name each miss's label set, and count the sets per class

It runs the corpus scorer (`evalcorpus.py`, the same one that produces the headline numbers) with
mlscan wrapped so that every JSON report is also kept under `--reports` (default: WORK/reports),
then lines up each miss: the label with its `where`/`why` next to mlscan's status, reason and
evidence. Directions:

  missed partial     labelled partial, mlscan says absent
  missed present     labelled present, mlscan says absent
  under-rated        labelled present, mlscan says partial
  over-rated         labelled partial, mlscan says present
  false present      labelled absent, mlscan says present or partial
  n/a confusion      one side says not-applicable and the other does not
  unknown            mlscan could not judge (unknown) or did not report the practice

Choose the next round of fixes from the largest group, never from one repo; with --sets, prefer a
class whose misses come from many label sets over one that a single set's labellers make up.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import yaml

LABEL_TO_STATUS = {"yes": "present", "partial": "partial", "no": "absent", "n/a": "not-applicable",
                   True: "present", False: "absent"}
DIRECTIONS = ("missed partial", "missed present", "under-rated", "over-rated", "false present",
              "n/a confusion", "unknown")


def direction(want: str, have: str) -> Optional[str]:
    """The class of one disagreement (None when label and status agree)."""
    if want == have:
        return None
    if have in ("unknown", "missing"):
        return "unknown"
    if "not-applicable" in (want, have):
        return "n/a confusion"
    if want == "absent":
        return "false present"
    if have == "absent":
        return "missed partial" if want == "partial" else "missed present"
    return "under-rated" if want == "present" else "over-rated"


def practice_id(kind: str) -> str:
    return kind.replace("_", "-")


def tee_main(argv: List[str]) -> int:
    """`_tee DIR CMD... scan TREE --format json`: run mlscan, keep its report as DIR/<tree name>.json."""
    out_dir, cmd = Path(argv[0]), argv[1:]
    r = subprocess.run(cmd, capture_output=True, text=True)
    tree = Path(cmd[cmd.index("scan") + 1]) if "scan" in cmd else None
    if tree is not None and r.stdout.strip():
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / f"{tree.name}.json").write_text(r.stdout, encoding="utf-8")
    sys.stdout.write(r.stdout)
    sys.stderr.write(r.stderr)
    return r.returncode


def run_scorer(args: argparse.Namespace, reports: Path) -> None:
    wrapped = " ".join(shlex.quote(p) for p in [sys.executable, str(Path(__file__).resolve()), "_tee", str(reports)])
    cmd = [sys.executable, args.scorer, args.labels, "--mlscan", f"{wrapped} {args.mlscan}", "--work", args.work]
    if args.only:
        cmd += ["--only", args.only]
    if args.mirror:
        cmd += ["--mirror", args.mirror]
    subprocess.run(cmd, check=True)


def load_report(reports: Path, repo: str) -> Optional[dict]:
    path = reports / f"{repo.replace('/', '+')}.json"
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def collect(entries: List[dict], reports: Path) -> Tuple[List[dict], Dict[str, Tuple[int, int]]]:
    """(misses, practice -> (exact, labelled)) over the repos that have a report."""
    misses: List[dict] = []
    tally: Dict[str, List[int]] = defaultdict(lambda: [0, 0])
    for e in entries:
        report = load_report(reports, e["repo"])
        if report is None:
            print(f"no report for {e['repo']} (skipped or failed)", file=sys.stderr)
            continue
        got = {p["id"]: p for p in report.get("practices", [])}
        for kind, lab in (e.get("evidence") or {}).items():
            want = LABEL_TO_STATUS.get(lab.get("label"), str(lab.get("label")))
            p = got.get(practice_id(kind), {})
            have = p.get("status", "missing")
            tally[kind][1] += 1
            d = direction(want, have)
            if d is None:
                tally[kind][0] += 1
                continue
            misses.append({"repo": e["repo"], "practice": kind, "direction": d, "want": want, "have": have,
                           "label_where": lab.get("where") or [], "label_why": lab.get("why", ""),
                           "reason": p.get("reason", ""), "evidence": p.get("evidence", [])})
        lvl = (e.get("expected_levels") or {}).get("overall")
        if isinstance(lvl, int) and lvl != report.get("level"):
            misses.append({"repo": e["repo"], "practice": "overall-level", "direction": "level",
                           "want": lvl, "have": report.get("level"), "label_where": [], "label_why": "",
                           "reason": (report.get("policy") or {}).get("overall", ""), "evidence": []})
    return misses, {k: (v[0], v[1]) for k, v in tally.items()}


def set_names(paths: List[str]) -> Dict[str, str]:
    """repo -> the name (file stem) of the label set that labels it."""
    out: Dict[str, str] = {}
    for path in paths:
        for e in yaml.safe_load(Path(path).read_text("utf-8")) or []:
            out.setdefault(e["repo"], Path(path).stem)
    return out


def render(misses: List[dict], tally: Dict[str, Tuple[int, int]], evidence_lines: int) -> str:
    out: List[str] = []
    status_misses = [m for m in misses if m["direction"] != "level"]
    by_dir = Counter(m["direction"] for m in status_misses)
    by_practice = Counter(m["practice"] for m in status_misses)
    out.append(f"{len(status_misses)} status misses over {sum(n for _, n in tally.values())} labels")
    out.append("")
    out.append("by direction: " + ", ".join(f"{d} {by_dir[d]}" for d in DIRECTIONS if by_dir[d]))
    out.append("")
    out.append(f"{'practice':22} {'exact':>7} " + " ".join(f"{d[:12]:>12}" for d in DIRECTIONS))
    for kind in sorted(tally, key=lambda k: (-by_practice[k], k)):
        row = Counter(m["direction"] for m in status_misses if m["practice"] == kind)
        ok, n = tally[kind]
        out.append(f"{kind:22} {ok:3}/{n:<3} " + " ".join(f"{row[d] or '':>12}" for d in DIRECTIONS))
    groups: Dict[Tuple[str, str], List[dict]] = defaultdict(list)
    for m in status_misses:
        groups[(m["practice"], m["direction"])].append(m)
    out.append("")
    out.append("classes, biggest first")
    for (kind, d), items in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        out.append("")
        sets = {m["set"] for m in items if m.get("set")}
        out.append(f"== {kind} / {d}: {len(items)}" + (f" from {len(sets)} sets" if sets else ""))
        for m in items:
            where_from = f" [{m['set']}]" if m.get("set") else ""
            out.append(f"-- {m['repo']}{where_from}: label {m['want']}, mlscan {m['have']}")
            where = ", ".join(str(w) for w in m["label_where"][:6])
            out.append(f"   label:  {m['label_why']}" + (f"  [{where}]" if where else ""))
            out.append(f"   mlscan: {m['reason'] or '(no reason)'}")
            for ev in m["evidence"][:evidence_lines]:
                out.append(f"           {ev.get('kind', '')}: {ev['path']}:{ev.get('line') or 1} {ev.get('message', '')}")
    levels = [m for m in misses if m["direction"] == "level"]
    if levels:
        out.append("")
        out.append(f"== overall level: {len(levels)} off")
        for m in levels:
            out.append(f"-- {m['repo']}: label {m['want']}, mlscan {m['have']} ({m['reason']})")
    return "\n".join(out) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_tee"]:
        return tee_main(argv[1:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("labels", help="labelled corpus (the scorer's YAML format)")
    ap.add_argument("--scorer", default=os.environ.get("MLSCAN_SCORER"),
                    help="path of evalcorpus.py (or set MLSCAN_SCORER); not needed with --reports")
    ap.add_argument("--mlscan", default="mlscan", help="the mlscan command to score")
    ap.add_argument("--work", default="/tmp/mlscan-error-analysis", help="the scorer's work trees")
    ap.add_argument("--mirror", help="passed on to the scorer")
    ap.add_argument("--only", help="comma list of repos, passed on to the scorer")
    ap.add_argument("--reports", help="read reports kept by an earlier run from this folder instead of scanning")
    ap.add_argument("--evidence", type=int, default=3, help="evidence lines shown per miss")
    ap.add_argument("--json", help="also write the grouped misses as JSON here")
    ap.add_argument("--sets", nargs="+", default=[], metavar="LABELS",
                    help="label files, one per set: each miss is tagged with its set's file name")
    a = ap.parse_args(argv)
    if a.reports:
        reports = Path(a.reports)
    else:
        if not a.scorer:
            ap.error("give --scorer PATH/evalcorpus.py (or MLSCAN_SCORER), or --reports DIR")
        reports = Path(a.work) / "reports"
        run_scorer(a, reports)
    entries = yaml.safe_load(Path(a.labels).read_text("utf-8")) or []
    if a.only:
        keep = set(a.only.split(","))
        entries = [e for e in entries if e["repo"] in keep]
    misses, tally = collect(entries, reports)
    if a.sets:
        set_of = set_names(a.sets)
        for m in misses:
            m["set"] = set_of.get(m["repo"], "")
    sys.stdout.write(render(misses, tally, a.evidence))
    if a.json:
        Path(a.json).write_text(json.dumps({"misses": misses, "exact": tally}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
