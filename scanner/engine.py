"""One scan: facts -> rules -> maturity -> Report. The only place the four rooms meet."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

from mlscan import __version__
from mlscan.catalogue import load_catalogue
from mlscan.config import Config
from mlscan.facts.repo import Facts, ScanOptions
from mlscan.plugins import installed as installed_plugins
from mlscan.maturity import (assess_stages, finding_severity, load_model, next_steps_in_order, overall_detail,
                             practice_status)
from mlscan.report.model import Finding as ReportFinding, PracticeResult, Report
from mlscan.rulekit import Finding, all_rules

Progress = Callable[[str], None]


def _selected(rule_id: str, practice: str, cfg: Config) -> bool:
    if cfg.select and rule_id not in cfg.select and practice not in cfg.select:
        return False
    return rule_id not in cfg.ignore


def known_ids() -> List[str]:
    return load_catalogue().practice_ids + [r.id for r in all_rules()]


def validate_ids(cfg: Config) -> None:
    from mlscan.errors import UsageError
    known = set(known_ids())
    for what, ids in (("select", cfg.select), ("ignore", tuple(cfg.ignore))):
        bad = sorted(set(ids) - known)
        if bad:
            raise UsageError(f"{what}: unknown id(s) {', '.join(bad)}; `mlscan rules` lists them")


def run_rules(facts: Facts, cfg: Config, progress: Optional[Progress] = None) -> Dict[str, List[Finding]]:
    by_practice: Dict[str, List[Finding]] = {}
    for rule_cls in all_rules():
        if not _selected(rule_cls.id, rule_cls.practice, cfg) or rule_cls.practice in cfg.ignore:
            continue
        if progress:
            progress(f"rule {rule_cls.id}")
        bucket = by_practice.setdefault(rule_cls.practice, [])
        try:
            for f in rule_cls().check(facts):
                bucket.append(f if f.rule else Finding(f.kind, f.path, f.line, f.message, rule_cls.id))
        except Exception as exc:  # a rule bug must not sink the scan, nor pass silently
            facts.add_diagnostic(".", f"rule {rule_cls.id} failed ({exc.__class__.__name__}: {exc}); "
                                      "its practice is reported as unknown")
            bucket.append(Finding("inconclusive", ".", None, f"rule {rule_cls.id} failed", rule_cls.id))
    return by_practice


def scan(root: Path, cfg: Config, progress: Optional[Progress] = None, jobs: int = 0) -> Report:
    return scan_with_facts(root, cfg, progress, jobs)[0]


def scan_with_facts(root: Path, cfg: Config, progress: Optional[Progress] = None,
                    jobs: int = 0) -> Tuple[Report, Facts]:
    """The Report and the Facts it was judged from (`mlscan fix` reads both)."""
    catalogue = load_catalogue()
    model = load_model(cfg.model, catalogue)
    validate_ids(cfg)
    if progress:
        progress("listing files")
    facts = Facts(root, ScanOptions(history_depth=cfg.history_depth, exclude=cfg.exclude, jobs=jobs))
    for problem in installed_plugins().problems:
        facts.add_diagnostic(".", problem)
    if progress:
        progress(f"parsing {sum(1 for f in facts.files if f.suffix in ('.py', '.ipynb'))} code files")
    _ = facts.code
    findings = run_rules(facts, cfg, progress)
    practices: Dict[str, PracticeResult] = {}
    rules_by_practice = {r.practice for r in all_rules()}
    for p in catalogue.practices:
        if p.id in cfg.ignore:
            reason = cfg.ignore[p.id] or "no reason given"
            practices[p.id] = PracticeResult(p.id, p.title, p.stage, "unknown", [], f"ignored by configuration: {reason}",
                                             p.remediation, p.level, ignored=reason)
            continue
        if cfg.select and p.id not in cfg.select and not any(r.practice == p.id and r.id in cfg.select for r in all_rules()):
            practices[p.id] = PracticeResult(p.id, p.title, p.stage, "unknown", [], "not selected", p.remediation, p.level)
            continue
        if p.id not in rules_by_practice:
            practices[p.id] = PracticeResult(p.id, p.title, p.stage, "unknown", [], "no detector for this practice yet",
                                             p.remediation, p.level)
            continue
        status, reason, evidence = practice_status(findings.get(p.id, []))
        if status == "absent" and not reason:
            reason = f"no evidence found; looked for {p.looked_for}"
        practices[p.id] = PracticeResult(p.id, p.title, p.stage, status, evidence, reason, p.remediation, p.level)
    for p in catalogue.practices:
        practices[p.id].link = p.link
        practices[p.id].looked_for = p.looked_for
    facts.check_all_configs()
    stages = assess_stages(model, catalogue, practices)
    overall = overall_detail(model, stages, practices)
    level, _why = overall["level"], overall["reason"]
    hist = facts.history
    ignored_rules = {k: v for k, v in cfg.ignore.items() if k not in practices}
    report = Report(
        tool_version=__version__, root=str(facts.root), commit=hist.head if hist.available else None,
        level=level, stages=stages, practices=[practices[p.id] for p in catalogue.practices],
        diagnostics=facts.diagnostics, history=hist.summary(), model=model.name,
        findings=build_findings(facts, [practices[p.id] for p in catalogue.practices]),
        next_steps=next_steps_in_order(stages),
        repo_prefix=repo_prefix(facts.root) if facts.in_git else "",
        overall=overall,
    )
    report.policy = {"overall": _why, "ignored_rules": ignored_rules} if ignored_rules else {"overall": _why}
    return report, facts


def repo_prefix(root: Path) -> str:
    """Where `root` sits inside its git work tree, as "sub/dir/" ("" at the top or if git can't say)."""
    import subprocess
    try:
        from mlscan.facts.gitsafe import run_git
        r = run_git(root, ["rev-parse", "--show-prefix"], timeout=30, text=True)
    except (OSError, subprocess.SubprocessError):
        return ""
    prefix = r.stdout.strip() if r.returncode == 0 else ""
    return prefix if not prefix or prefix.endswith("/") else prefix + "/"


ANCHOR_FILES = ("README.md", "README.rst", "README.txt", "README", "pyproject.toml", "setup.py", "requirements.txt")


def anchor_for(facts: Facts, practice: PracticeResult) -> str:
    """The most relevant existing file for a repo-level finding about `practice`."""
    graph = facts.graph
    if practice.evidence:
        return practice.evidence[0].path
    if practice.stage in ("feature", "ops", "deployment", "monitoring") and graph.serving_endpoints:
        return graph.serving_endpoints[0].path
    if practice.id == "dependency-pinning":
        reqs = sorted({r.path for r in facts.requirements})
        if reqs:
            return reqs[0]
    if practice.id == "ci" and facts.ci_files:
        return facts.ci_files[0]
    if practice.stage in ("train", "data", "test"):
        entries = graph.training_entry_points
        if entries:
            return entries[0].path
    for name in ANCHOR_FILES:
        if facts.exists(name):
            return name
    return facts.files[0].path if facts.files else "."


def build_findings(facts: Facts, practices: List[PracticeResult]) -> List[ReportFinding]:
    out: List[ReportFinding] = []
    for p in practices:
        if p.status == "absent":
            path = anchor_for(facts, p)
            severity = finding_severity(p)
            out.append(ReportFinding(p.id, p.id, path, 1 if path != "." else None,
                                     f"{p.title}: not found. {p.remediation}", severity, f"{p.id}:absent"))
        elif p.status == "partial":
            gaps = [e for e in p.evidence if e.kind == "gap"]
            if gaps:
                for e in gaps:
                    out.append(ReportFinding(p.id, e.rule, e.path, e.line, e.message, "note",
                                             f"{p.id}:{e.rule}:{e.path}:{_stable(e.message)}"))
            else:
                path = anchor_for(facts, p)
                out.append(ReportFinding(p.id, p.id, path, p.evidence[0].line if p.evidence else 1,
                                         f"{p.title}: only partly in place ({p.reason}). {p.remediation}", "note",
                                         f"{p.id}:partial"))
    return out


def _stable(message: str) -> str:
    import re
    return re.sub(r"\d+", "#", message)[:120]
