#!/usr/bin/env python3
"""Which label sets a change's gains and losses come from: a guard against fixes that fit one set.

    python benchmarks/round_breadth.py --before DIR --after DIR LABELS.yaml [LABELS.yaml ...]

BEFORE and AFTER are folders of kept JSON reports (`error_analysis.py` keeps one per repository,
`owner+name.json`), from mlscan before and after a change, over the same repositories. Each labels
file is one set (its file name names it: dev, blind-set7, ...). For every status the change moved
it says whether the move is a gain (now the label's), a loss (was the label's) or a shift (wrong
both times), and prints them per practice with the sets they come from.

Four rounds in a row gained 17-63 statuses on the sets they were designed on and 0-2 on the next
held-out set: a form that one set's labellers happened to use fits that set and no other. A gain
spread over several sets is more likely to be a form that new repositories use too, so the verdict
per practice is "broad" when its gains come from at least --min-sets sets and its losses are no
more than --max-loss-share of its gains, and "narrow" otherwise. The verdict is advice for the
person choosing what to keep; the held-out set still judges.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import yaml

LABEL_TO_STATUS = {"yes": "present", "partial": "partial", "no": "absent", "n/a": "not-applicable",
                   True: "present", False: "absent"}


def load_report(folder: Path, repo: str) -> Optional[dict]:
    try:
        return json.loads((folder / f"{repo.replace('/', '+')}.json").read_text("utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def statuses(report: Optional[dict]) -> Dict[str, str]:
    if report is None:
        return {}
    return {p["id"]: p.get("status", "missing") for p in report.get("practices", [])}


def moves(sets: Dict[str, List[dict]], before: Path, after: Path) -> Tuple[List[dict], List[str]]:
    """(every moved status with its set and whether it is a gain, loss or shift; repos lacking a report)."""
    out: List[dict] = []
    missing: List[str] = []
    for set_name, entries in sets.items():
        for e in entries:
            old_report, new_report = load_report(before, e["repo"]), load_report(after, e["repo"])
            if old_report is None or new_report is None:
                missing.append(e["repo"])
                continue
            old, new = statuses(old_report), statuses(new_report)
            for kind, lab in (e.get("evidence") or {}).items():
                practice = kind.replace("_", "-")
                was, now = old.get(practice, "missing"), new.get(practice, "missing")
                if was == now:
                    continue
                want = LABEL_TO_STATUS.get(lab.get("label"), str(lab.get("label")))
                effect = "gain" if now == want else "loss" if was == want else "shift"
                out.append({"set": set_name, "repo": e["repo"], "practice": kind, "label": want,
                            "before": was, "after": now, "effect": effect})
    return out, missing


def verdicts(moved: List[dict], min_sets: int, max_loss_share: float) -> Dict[str, dict]:
    """practice -> gains, losses, shifts, the sets gaining and losing, and broad/narrow."""
    out: Dict[str, dict] = {}
    by_practice: Dict[str, List[dict]] = defaultdict(list)
    for m in moved:
        by_practice[m["practice"]].append(m)
    for kind, items in sorted(by_practice.items()):
        net: Dict[str, int] = defaultdict(int)
        for m in items:
            net[m["set"]] += {"gain": 1, "loss": -1}.get(m["effect"], 0)
        gains = sum(m["effect"] == "gain" for m in items)
        losses = sum(m["effect"] == "loss" for m in items)
        gaining = sorted(s for s, n in net.items() if n > 0)
        losing = sorted(s for s, n in net.items() if n < 0)
        broad = len(gaining) >= min_sets and losses <= max_loss_share * gains
        out[kind] = {"gains": gains, "losses": losses, "shifts": sum(m["effect"] == "shift" for m in items),
                     "sets_gaining": gaining, "sets_losing": losing, "verdict": "broad" if broad else "narrow"}
    return out


def render(moved: List[dict], judged: Dict[str, dict], missing: List[str]) -> str:
    lines = [f"{len(moved)} statuses moved: {sum(m['effect'] == 'gain' for m in moved)} gains, "
             f"{sum(m['effect'] == 'loss' for m in moved)} losses, {sum(m['effect'] == 'shift' for m in moved)} shifts"]
    if missing:
        lines.append(f"{len(missing)} repositories lack a report before or after (not compared): {', '.join(sorted(missing)[:8])}"
                     + (" ..." if len(missing) > 8 else ""))
    lines.append("")
    lines.append(f"{'practice':22} {'gain':>5} {'loss':>5} {'shift':>5}  verdict  sets gaining / losing")
    for kind, v in judged.items():
        lines.append(f"{kind:22} {v['gains']:>5} {v['losses']:>5} {v['shifts']:>5}  {v['verdict']:7}  "
                     f"{', '.join(v['sets_gaining']) or '-'} / {', '.join(v['sets_losing']) or '-'}")
    lines.append("")
    for m in sorted(moved, key=lambda m: (m["practice"], m["effect"], m["set"], m["repo"])):
        lines.append(f"{m['effect']:5} {m['practice']:22} {m['set']:16} {m['repo']}: "
                     f"{m['before']} -> {m['after']} (label {m['label']})")
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("labels", nargs="+", help="label files, one per set (the scorer's YAML format)")
    ap.add_argument("--before", required=True, type=Path, help="reports of mlscan before the change")
    ap.add_argument("--after", required=True, type=Path, help="reports of mlscan after the change")
    ap.add_argument("--min-sets", type=int, default=3, help="sets that must gain for a broad verdict")
    ap.add_argument("--max-loss-share", type=float, default=0.34,
                    help="losses allowed per gain for a broad verdict")
    ap.add_argument("--json", type=Path, help="also write the moves and verdicts as JSON here")
    a = ap.parse_args(argv)
    sets: Dict[str, List[dict]] = {}
    for path in a.labels:
        name = Path(path).stem
        if name in sets:
            ap.error(f"two label files are both named {name}")
        sets[name] = yaml.safe_load(Path(path).read_text("utf-8")) or []
    moved, missing = moves(sets, a.before, a.after)
    judged = verdicts(moved, a.min_sets, a.max_loss_share)
    sys.stdout.write(render(moved, judged, missing))
    if a.json:
        a.json.write_text(json.dumps({"moves": moved, "verdicts": judged, "missing": sorted(missing)}, indent=1),
                          encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
