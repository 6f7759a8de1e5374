"""The maturity policy: findings -> practice status -> stage levels -> overall level and next steps.

The ladder itself is data (`data/model.yaml`, or a team's own file via `--model`). It is mlscan's
reconstruction: the paper's Appendix A table did not survive, so the level definitions are ours.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from mlscan.catalogue import Catalogue, DATA_DIR
from mlscan.errors import UsageError
from mlscan.report.model import EvidenceItem, NextStep, PracticeResult, StageResult
from mlscan.rulekit import Finding

STATUS_RANK = {"absent": 0, "partial": 1, "present": 2}
LEVEL_NAMES = {1: "initial", 2: "repeatable", 3: "defined", 4: "managed", 5: "optimizing"}


@dataclass(frozen=True)
class Requirement:
    practice: str
    minimum: str   # "partial" or "present"


@dataclass(frozen=True)
class StageLadder:
    id: str
    levels: Dict[int, Tuple[Requirement, ...]]   # level -> what reaching it requires (cumulative)


@dataclass(frozen=True)
class MaturityModel:
    name: str
    source: str
    stages: Tuple[StageLadder, ...]
    overall_method: str
    weights: Dict[str, float]
    thresholds: Dict[int, float]
    practices: Tuple[str, ...] = ()   # practices counted by the overall score (default: all)
    practice_weights: Dict[str, float] = field(default_factory=dict)  # practice -> weight (default 1)


def load_model(path: Optional[Path], catalogue: Catalogue) -> MaturityModel:
    import yaml
    src = path if path is not None else DATA_DIR / "model.yaml"
    try:
        raw = yaml.load(Path(src).read_text("utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except OSError as exc:
        raise UsageError(f"cannot read maturity model {src}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"maturity model {src} is not valid YAML: {exc}") from None
    return with_plugin_practices(parse_model(raw, catalogue, "builtin" if path is None else str(path)), catalogue)


def with_plugin_practices(model: MaturityModel, catalogue: Catalogue) -> MaturityModel:
    """A practice declared by a plugin joins its stage's ladder at its level (needing `present`),
    unless the model already places it. Level 1 needs nothing, so a level-1 practice is only shown."""
    placed = {r.practice for st in model.stages for reqs in st.levels.values() for r in reqs}
    added = [p for p in catalogue.practices if p.package and p.id not in placed and p.level >= 2]
    if not added:
        return model
    stages = {st.id: dict(st.levels) for st in model.stages}
    for p in added:
        levels = stages.setdefault(p.stage, {})
        levels[p.level] = levels.get(p.level, ()) + (Requirement(p.id, "present"),)
    order = [st.id for st in model.stages] + [s.id for s in catalogue.stages
                                              if s.id in stages and s.id not in {st.id for st in model.stages}]
    return replace(model, stages=tuple(StageLadder(sid, dict(sorted(stages[sid].items()))) for sid in order))


def parse_model(raw: object, catalogue: Catalogue, source: str) -> MaturityModel:
    def bad(msg: str) -> UsageError:
        return UsageError(f"maturity model {source}: {msg}")
    if not isinstance(raw, dict):
        raise bad("top level must be a mapping")
    known_practices = set(catalogue.practice_ids)
    known_stages = {s.id for s in catalogue.stages}
    stages = []
    for st in raw.get("stages") or []:
        if not isinstance(st, dict) or "id" not in st:
            raise bad("each stage needs an id")
        if st["id"] not in known_stages:
            raise bad(f"unknown stage {st['id']!r} (known: {', '.join(sorted(known_stages))})")
        levels: Dict[int, Tuple[Requirement, ...]] = {}
        for lvl, reqs in (st.get("levels") or {}).items():
            try:
                lvl_i = int(lvl)
            except (TypeError, ValueError):
                raise bad(f"stage {st['id']}: level {lvl!r} is not a number") from None
            if not 2 <= lvl_i <= 5:
                raise bad(f"stage {st['id']}: levels run from 2 to 5 (level 1 needs nothing), got {lvl_i}")
            if not isinstance(reqs, dict) or not reqs:
                raise bad(f"stage {st['id']} level {lvl_i}: expected a mapping of practice: partial|present")
            out = []
            for pid, minimum in reqs.items():
                if pid not in known_practices:
                    raise bad(f"stage {st['id']} level {lvl_i}: unknown practice {pid!r}")
                if minimum not in ("partial", "present"):
                    raise bad(f"stage {st['id']} level {lvl_i}: {pid} must be 'partial' or 'present'")
                out.append(Requirement(pid, minimum))
            levels[lvl_i] = tuple(out)
        stages.append(StageLadder(st["id"], levels))
    overall = raw.get("overall") or {}
    method = overall.get("method", "score")
    if method not in ("share", "score", "min", "median", "mean"):
        raise bad(f"overall.method must be share, score, min, median or mean, got {method!r}")
    weights = {"present": 1.0, "partial": 0.5, **(overall.get("weights") or {})}
    thresholds = {int(k): float(v) for k, v in (overall.get("thresholds") or {}).items()}
    if method in ("score", "share") and sorted(thresholds) != [2, 3, 4, 5]:
        raise bad("overall.thresholds needs a score for each of levels 2, 3, 4 and 5")
    counted = tuple(overall.get("practices") or ())
    for pid in counted:
        if pid not in known_practices:
            raise bad(f"overall.practices: unknown practice {pid!r}")
    practice_weights = overall.get("practice_weights") or {}
    if not isinstance(practice_weights, dict):
        raise bad("overall.practice_weights must map practice ids to numbers")
    for pid, w in practice_weights.items():
        if pid not in known_practices:
            raise bad(f"overall.practice_weights: unknown practice {pid!r}")
        if not isinstance(w, (int, float)) or isinstance(w, bool) or w <= 0:
            raise bad(f"overall.practice_weights: {pid} needs a positive number, got {w!r}")
    return MaturityModel(str(raw.get("name", source)), source, tuple(stages), method, weights, thresholds, counted,
                         {str(k): float(v) for k, v in sorted(practice_weights.items())})


# ---- practice status ---------------------------------------------------------------------------
def practice_status(findings: Sequence[Finding]) -> Tuple[str, str, List[EvidenceItem]]:
    """(status, reason, evidence) from one practice's findings."""
    kinds = {f.kind for f in findings}
    evidence = [EvidenceItem(f.path, f.line, f.rule, f.message, f.kind) for f in findings
                if f.kind in ("supports", "partial", "gap")]
    evidence.sort(key=lambda e: ({"supports": 0, "partial": 1, "gap": 2}[e.kind], e.path, e.line or 0, e.rule, e.message))
    supports = [f for f in findings if f.kind == "supports"]
    partial = [f for f in findings if f.kind == "partial"]
    gaps = [f for f in findings if f.kind == "gap"]
    if supports and not gaps:
        return "present", _summary("evidence found", supports), evidence
    if supports or partial:
        why = gaps or partial
        return "partial", _summary("partly in place", why), evidence
    if "inconclusive" in kinds:  # before not-applicable: a rule that could not judge (or failed) must show
        reason = next(f.message for f in findings if f.kind == "inconclusive")
        return "unknown", reason, evidence
    if "not-applicable" in kinds:
        reason = next(f.message for f in findings if f.kind == "not-applicable")
        return "not-applicable", reason, []
    if gaps:
        return "absent", _summary("missing", gaps), evidence
    return "absent", "", evidence


def _summary(head: str, items: Sequence[Finding]) -> str:
    first = items[0]
    more = f" (+{len(items) - 1} more)" if len(items) > 1 else ""
    return f"{head}: {first.message}{more}"


def meets(status: str, minimum: str) -> Optional[bool]:
    """None when the status cannot be judged (unknown/ignored)."""
    if status == "not-applicable":
        return True
    if status not in STATUS_RANK:
        return None
    return STATUS_RANK[status] >= STATUS_RANK[minimum]


# ---- stage levels ------------------------------------------------------------------------------
def assess_stages(model: MaturityModel, catalogue: Catalogue,
                  practices: Dict[str, PracticeResult]) -> List[StageResult]:
    out = []
    ladders = {s.id: s for s in model.stages}
    for stage in catalogue.stages:
        ladder = ladders.get(stage.id)
        stage_practices = [p for p in practices.values() if p.stage == stage.id]
        if ladder is None or not ladder.levels:
            out.append(StageResult(stage.id, stage.name, None, "the maturity model does not assess this stage", []))
            continue
        required = {r.practice for reqs in ladder.levels.values() for r in reqs}
        relevant = [practices[p] for p in sorted(required) if p in practices]
        if relevant and all(p.status == "not-applicable" for p in relevant):
            reason = "; ".join(sorted({p.reason for p in relevant if p.reason})) or "no practice of this stage applies"
            out.append(StageResult(stage.id, stage.name, None, f"not applicable: {reason}", []))
            continue
        level = 1
        unknown: List[str] = []
        blocking: List[Tuple[Requirement, PracticeResult]] = []
        for lvl in range(2, 6):
            reqs = ladder.levels.get(lvl)
            if not reqs:
                break
            judged = []
            unmet = []
            for r in reqs:
                pr = practices.get(r.practice)
                ok = meets(pr.status, r.minimum) if pr else None
                if ok is None:
                    unknown.append(r.practice)
                    continue
                if pr.status != "not-applicable":
                    judged.append(r)
                if not ok:
                    unmet.append((r, pr))
            if unmet:
                blocking = unmet
                break
            if judged:
                level = lvl
            elif any(r.practice in unknown for r in reqs):
                break  # nothing here can be judged: do not claim this level
            # a level whose requirements are all not applicable passes through without raising the level
        nxt_steps = []
        for r, pr in blocking:
            p = catalogue.practice(r.practice)
            if p is None:
                continue
            want = "in place" if r.minimum == "present" else "at least partly in place"
            nxt_steps.append(NextStep(p.id, f"{p.title}: {want} (now {pr.status})", p.remediation, p.link, p.example,
                                      stage.id))
        reason = _stage_reason(level, blocking, unknown, stage_practices)
        out.append(StageResult(stage.id, stage.name, level, reason,
                               [f"{s.title}. {s.remediation}" for s in nxt_steps], nxt_steps))
    return out


def _stage_reason(level: int, blocking, unknown: List[str], stage_practices) -> str:
    name = LEVEL_NAMES[level]
    parts = [f"level {level} ({name})"]
    if blocking:
        parts.append("next level needs " + ", ".join(f"{r.practice} {r.minimum}" for r, _ in blocking))
    elif level == 5:
        parts.append("top of the ladder")
    if unknown:
        parts.append("not statically assessable: " + ", ".join(sorted(set(unknown))))
    return "; ".join(parts)


def next_steps_in_order(stages: List[StageResult]) -> List[NextStep]:
    """Every stage's next steps in stage order, each practice once (a practice can block two stages)."""
    seen = set()
    out = []
    for stage in stages:
        for step in stage.next_steps:
            if step.practice not in seen:
                seen.add(step.practice)
                out.append(step)
    return out


def finding_severity(practice: PracticeResult) -> str:
    """SARIF/annotation level of an absent practice: missing basics warn; upper-level goals are notes."""
    return "warning" if practice.level <= 3 else "note"


# ---- overall -----------------------------------------------------------------------------------
MEASURES = {"share": "breadth", "score": "breadth", "min": "depth", "median": "depth", "mean": "depth"}


def overall_level(model: MaturityModel, stages: List[StageResult], practices: Dict[str, PracticeResult]) -> Tuple[int, str]:
    detail = overall_detail(model, stages, practices)
    return detail["level"], detail["reason"]


def overall_detail(model: MaturityModel, stages: List[StageResult],
                   practices: Dict[str, PracticeResult]) -> Dict[str, object]:
    """The overall level and everything a reader needs to see why it is that number.

    `share`/`score` measure breadth (how many core practices are in place); `min`/`median`/`mean`
    summarise the stage levels (depth). Either way the stage levels are reported beside it."""
    stage_levels = {s.id: s.level for s in stages if s.level is not None}
    out: Dict[str, object] = {"measure": MEASURES[model.overall_method], "method": model.overall_method,
                              "stage_levels": stage_levels}
    levels = sorted(stage_levels.values())
    if model.overall_method in ("share", "score"):
        counted = [practices[p] for p in (model.practices or sorted(practices)) if p in practices]
        judged = [p for p in counted if p.status in ("present", "partial", "absent")]
        tally = {k: sorted(p.id for p in judged if p.status == k) for k in ("present", "partial", "absent")}
        tally["not-counted"] = sorted(p.id for p in counted if p not in judged)
        pw = model.practice_weights
        total = sum(model.weights.get(p.status, 0.0) * pw.get(p.id, 1.0) for p in judged)
        weight = sum(pw.get(p.id, 1.0) for p in judged)
        score = total / weight if model.overall_method == "share" and judged else total
        level = 1
        for lvl in (2, 3, 4, 5):
            if judged and score >= model.thresholds[lvl]:
                level = lvl
        fmt = (lambda v: f"{v:.0%}") if model.overall_method == "share" else (lambda v: f"{v:g}")
        if not judged:
            reason = "no counted practice could be judged"
        elif model.overall_method == "share":
            heavier = [f"{p} {pw[p]:g}" for p in sorted(pw) if pw[p] != 1.0 and any(j.id == p for j in judged)]
            reason = (f"{fmt(score)} of {len(judged)} applicable core practices in place "
                      f"({len(tally['present'])} present, {len(tally['partial'])} partial counting "
                      f"{model.weights['partial']:g}, {len(tally['absent'])} absent"
                      + (f"; weighted {', '.join(heavier)}: {total:g} of {weight:g} points" if heavier else "")
                      + ")")
        else:
            reason = (f"practice score {score:g} (present {model.weights['present']:g}, "
                      f"partial {model.weights['partial']:g})")
        needs = [f"level {lvl} needs {fmt(model.thresholds[lvl])}" for lvl in (level, level + 1)
                 if judged and lvl in model.thresholds]
        reason = "; ".join([reason, ", ".join(needs)]) if needs else reason
        out.update(level=level, reason=reason, score=round(score, 4), practices=tally,
                   thresholds={str(k): v for k, v in sorted(model.thresholds.items())})
        return out
    if not levels:
        out.update(level=1, reason="no stage assessed")
    elif model.overall_method == "min":
        out.update(level=levels[0], reason="lowest stage level")
    elif model.overall_method == "median":
        out.update(level=levels[(len(levels) - 1) // 2], reason="median stage level (lower median)")
    else:
        out.update(level=int(sum(levels) / len(levels)), reason="mean stage level, rounded down")
    return out
