"""One scan: facts -> rules -> maturity -> Report. The only place the four rooms meet."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from mlscan import __version__
from mlscan.catalogue import load_catalogue
from mlscan.config import Config
from mlscan.facts.repo import CommitTree, Facts, ScanOptions
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
    if not cfg.select and not cfg.ignore:
        return  # nothing to check: don't import every rule for it
    known = set(known_ids())
    for what, ids in (("select", cfg.select), ("ignore", tuple(cfg.ignore))):
        bad = sorted(set(ids) - known)
        if bad:
            raise UsageError(f"{what}: unknown id(s) {', '.join(bad)}; `mlscan rules` lists them")


def run_rules(facts: Facts, cfg: Config, progress: Optional[Progress] = None,
              jobs: int = 1, memory: Optional[Dict[str, object]] = None) -> Dict[str, List[Finding]]:
    """Every selected rule over the facts; with jobs >= 2, in that many forked processes that
    share the facts built so far (the result is the same, in the same order). With `memory`
    (and a recording scan), rules whose inputs did not change since it was filled are reused."""
    rules = [r for r in all_rules() if _selected(r.id, r.practice, cfg) and r.practice not in cfg.ignore]
    by_practice: Dict[str, List[Finding]] = {}
    from mlscan.facts.indexing import paused_gc
    with paused_gc():  # rules make many short-lived objects and next to no cycles: no collections meanwhile
        if memory is not None:
            results = run_rules_reusing(facts, rules, memory)
        else:
            results = _run_forked(facts, rules, jobs) if jobs >= 2 and len(rules) > jobs else None
        if results is None:
            results = []
            for i, rule_cls in enumerate(rules):
                if progress:
                    progress(f"rule {rule_cls.id}")
                results.append((i, _run_rule(facts, rule_cls)))
    for i, found in sorted(results, key=lambda r: r[0]):
        by_practice.setdefault(rules[i].practice, []).extend(found)
    return by_practice


def run_rules_reusing(facts: Facts, rules, memory: Dict[str, object]) -> List[Tuple[int, List[Finding]]]:
    """Each rule's findings, taken from `memory` (what the rule found in the tree scanned before
    and the inputs it read there) when none of those inputs changed since; the other rules run,
    recording what they read, and `memory` learns them.

    Sound because a rule is a function of what it reads: the facts' hooks record each file's
    content, size and existence, the listing and the history, and the cached facts and graph
    carry what they were computed from (facts/track.py). Its diagnostics are replayed with it."""
    from mlscan.facts import track
    rec = track.recording()
    assert rec is not None, "run_rules_reusing needs a recording scan"
    state = track.TreeState(facts.inventory, (facts.commit.sha if facts.commit else None,
                                              facts.options.history_depth))
    before = memory.pop("state", None)   # back only when this scan's records are complete
    changed = track.changed_tokens(before, state) if isinstance(before, track.TreeState) else None
    saved: Dict[str, tuple] = memory.setdefault("rules", {})  # type: ignore[assignment]
    results: List[Tuple[int, List[Finding]]] = []
    frames = {}
    for i, rule_cls in enumerate(rules):
        last = saved.get(rule_cls.id)
        if changed is not None and last is not None and last[0] is not None and last[0].isdisjoint(changed):
            results.append((i, last[1]))
            facts._extra_diagnostics.extend(last[2])
            continue
        seen_facts, seen_inventory = len(facts._extra_diagnostics), len(facts.inventory.diagnostics)
        rec.open()
        try:
            found = _run_rule(facts, rule_cls)
        finally:
            frame = rec.close()
        frames[rule_cls.id] = (frame, found, facts._extra_diagnostics[seen_facts:]
                               + facts.inventory.diagnostics[seen_inventory:])
        results.append((i, found))
    # resolved once every rule ran: the graph's inputs include what its lazy parts read for any rule
    for rule_id, (frame, found, diagnostics) in frames.items():
        saved[rule_id] = (rec.resolve(frame), found, diagnostics)
    memory["state"] = state
    return results


def _run_rule(facts: Facts, rule_cls) -> List[Finding]:
    out: List[Finding] = []
    try:
        for f in rule_cls().check(facts):
            out.append(f if f.rule else Finding(f.kind, f.path, f.line, f.message, rule_cls.id))
    except Exception as exc:  # a rule bug must not sink the scan, nor pass silently
        facts.add_diagnostic(".", f"rule {rule_cls.id} failed ({exc.__class__.__name__}: {exc}); "
                                  "its practice is reported as unknown")
        out.append(Finding("inconclusive", ".", None, f"rule {rule_cls.id} failed", rule_cls.id))
    return out


_FORKED: Optional[tuple] = None   # (facts, rules) that forked rule workers inherit
_WORKER_PID: List[int] = []       # the forked rule worker this process has been set up as

# Rules that cost most on a large repo (CPU seconds on diffusers, where the next costs ~0.3):
# handed out first, so that the cheap ones fill in and the workers finish together.
COSTLY_RULES = ("seed-calls", "tracking-calls", "tracking-local", "documented-data-or-results",
                "fairness-assessed", "custom-data-checks", "tests-ml-code", "config-files", "quality-gated",
                "unseeded-rng", "deployment-automated", "ci-checks", "config-cli", "modular-training")


def _rules_in_worker(indices: List[int]):
    import os
    facts, rules = _FORKED  # type: ignore[misc]
    if _WORKER_PID != [os.getpid()]:   # once per worker process
        _WORKER_PID[:] = [os.getpid()]
        facts.inventory.after_fork()
        from mlscan.facts.cache import after_fork
        after_fork()  # its own cache connection, to read per-file values (the parent writes what it adds)
    seen_facts, seen_inventory = len(facts._extra_diagnostics), len(facts.inventory.diagnostics)
    found = [(i, _run_rule(facts, rules[i])) for i in indices]
    news = facts.worker_news()   # each task sends the per-file values it added and used
    return (found, facts._extra_diagnostics[seen_facts:] + facts.inventory.diagnostics[seen_inventory:], news)


def _handout_order(rules) -> List[int]:
    """Rule indices, the costly ones first (in COSTLY_RULES order), then the rest in their order."""
    rank = {rule_id: k for k, rule_id in enumerate(COSTLY_RULES)}
    return sorted(range(len(rules)), key=lambda i: (rank.get(rules[i].id, len(rank)), i))


def _run_forked(facts: Facts, rules, jobs: int):
    """Rules split between this process and `jobs - 1` forked workers, or None (then they run
    here) where fork is missing."""
    import os
    if not hasattr(os, "fork"):
        return None
    from mlscan.facts.indexing import share_out
    global _FORKED
    # what most rules ask for, computed once here so that the worker and this process both have it
    # (the renamed-call table and the class methods were built on both sides: 0.4 CPU-s each)
    graph = facts.graph
    _ = graph.training_entry_points, graph.serving_endpoints, graph.training_closure, graph.class_methods
    _ = facts.requirements, facts.ci_jobs, facts.history
    facts.call_table.prepare()
    facts.call_table.renamed()
    _FORKED = (facts, rules)

    def here(indices: List[int]):
        return [(i, _run_rule(facts, rules[i])) for i in indices], [], {}   # its news are this process's own

    try:
        # one rule per chunk, the costly ones first: balanced whatever each rule costs. Between
        # rules this process writes the facts kept for later and parses the configs no rule may
        # ask for (their diagnostics are due at the end of the scan anyway)
        done = share_out([[i] for i in _handout_order(rules)], _rules_in_worker, here, jobs,
                         meanwhile=(facts.flush_cache_writes, facts.check_all_configs))
    finally:
        _FORKED = None
    results = []
    for found, diagnostics, per_file in done:
        results.extend(found)
        facts._extra_diagnostics.extend(diagnostics)
        facts.merge_worker_news(per_file)   # saved with the parent's at the end of the scan
    return results


def scan(root: Path, cfg: Config, progress: Optional[Progress] = None, jobs: int = 0,
         cache_dir: Optional[str] = None, commit: Optional[CommitTree] = None,
         alongside: Optional[Callable[[], bool]] = None, also_meanwhile: Sequence[Callable[[Facts], object]] = ()
         ) -> Report:
    """Scan the work tree at `root`, or, with `commit`, that commit's files read from git objects.
    `alongside()` is called once the facts and graph are built, where the rules would use two or
    more processes; when it returns True (it started other work on the spare core), the rules run
    in this process alone. `also_meanwhile`: tasks for this process while workers index the code
    (where they do), for what other work will ask for (kept in the fact store)."""
    report, facts = scan_with_facts(root, cfg, progress, jobs, cache_dir, commit, alongside, also_meanwhile)
    facts.release()  # its graph and it refer to each other: free both now, not at the next full collection
    return report


def scan_with_facts(root: Path, cfg: Config, progress: Optional[Progress] = None, jobs: int = 0,
                    cache_dir: Optional[str] = None, commit: Optional[CommitTree] = None,
                    alongside: Optional[Callable[[], bool]] = None,
                    also_meanwhile: Sequence[Callable[[Facts], object]] = ()) -> Tuple[Report, Facts]:
    """The Report and the Facts it was judged from (`mlscan fix` reads both; the Facts stay lazy
    when the Report is a remembered one)."""
    from mlscan.facts import track
    if commit is not None and commit.shared is not None and commit.shared.reuse_rules and track.ACTIVE is None \
            and threading.current_thread() is threading.main_thread():
        # one of many commits: record what each rule reads, to reuse its findings at the next one
        # (on the main thread only: one recorder per process, never two scans racing for it)
        track.ACTIVE = track.Recorder()
        track.ACTIVE.open()
        try:
            return scan_with_facts(root, cfg, progress, jobs, cache_dir, commit)
        finally:
            track.ACTIVE = None
    from mlscan.facts.indexing import note_cpu_sample
    note_cpu_sample()  # how busy the cores are is then measured over the listing, not by a 100 ms wait
    catalogue = load_catalogue()
    model = _maturity_model(cfg, catalogue)
    validate_ids(cfg)
    if progress:
        progress("listing files")
    facts = Facts(root, ScanOptions(history_depth=cfg.history_depth, exclude=cfg.exclude, jobs=jobs,
                                    cache_dir=cache_dir, also_meanwhile=tuple(also_meanwhile)), commit=commit)
    # a work-tree scan writes its new per-file facts while its rule workers run, not on the way there
    facts.defer_writes = commit is None and track.recording() is None
    for problem in installed_plugins().problems:
        facts.add_diagnostic(".", problem)
    key = facts.input_digest(_settings_digest(cfg, model))
    if key is not None:
        saved = facts.remembered("report", key)
        if saved is not None:  # the same files, history and settings: the same report
            import json
            from mlscan.report.model import report_from_json
            return report_from_json(json.loads(saved)), facts
    if progress:
        progress(f"parsing {sum(1 for f in facts.files if f.suffix in ('.py', '.ipynb'))} code files")
    _ = facts.code
    if track.recording() is not None and commit is not None and commit.shared is not None \
            and commit.shared.reuse_rules:
        memory = commit.shared.rule_memory.setdefault(_settings_digest(cfg, model), {})
        findings = run_rules(facts, cfg, progress, memory=memory)
    else:
        rule_jobs = _rule_jobs(facts, jobs)
        if rule_jobs < 2:   # no rule workers to wait for: write now (not held in memory through the rules)
            facts.flush_cache_writes()
            facts.defer_writes = False
        if alongside is not None and rule_jobs >= 2:
            # before the fork, what the other scan can take from memory: the graph's pieces and
            # the parsed documents (kept by content: a base shares nearly all of them). Written to
            # disk after the fork, by this process alone (the child drops what is pending), where
            # its rules finish before the other scan's
            _ = facts.graph
            facts.prefetch_documents()
            facts.save_file_maps(later=True)
            if alongside():
                rule_jobs = 1
        findings = run_rules(facts, cfg, progress, jobs=rule_jobs)
    facts.flush_cache_writes()   # before the report: a failed write is one of its diagnostics
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
        repo_prefix=_prefix_of(facts),
        overall=overall,
    )
    report.policy = {"overall": _why, "ignored_rules": ignored_rules} if ignored_rules else {"overall": _why}
    facts.save_file_maps()
    if key is not None:  # read back only by json.loads: compact, by the C encoder (not indented)
        import json
        facts.remember("report", key, json.dumps(report.to_json(), ensure_ascii=False, separators=(",", ":")))
    return report, facts


_BUILTIN_MODEL: list = []   # [(catalogue, model)]: the built-in model, read once per process


def _maturity_model(cfg: Config, catalogue):
    """The maturity model the settings name; the built-in one is parsed once (many scans in a
    process: history, fleet)."""
    if cfg.model is not None:
        return load_model(cfg.model, catalogue)
    if not _BUILTIN_MODEL or _BUILTIN_MODEL[0][0] is not catalogue:
        _BUILTIN_MODEL[:] = [(catalogue, load_model(None, catalogue))]
    return _BUILTIN_MODEL[0][1]


def _rule_jobs(facts: Facts, jobs: int) -> int:
    """Processes for the rules: as asked, or on large repos the free cores (never more)."""
    if jobs:
        return jobs
    from mlscan.facts.indexing import PARALLEL_MIN_BYTES, default_jobs
    if sum(f.size for f in facts.files if f.suffix in (".py", ".ipynb")) < PARALLEL_MIN_BYTES:
        return 1
    return default_jobs()


def _settings_digest(cfg: Config, model) -> str:
    """Everything besides the files that decides a report: the settings, the maturity model, and
    the source of mlscan itself (an edited install never reuses an older version's reports)."""
    import hashlib
    from mlscan.facts.cache import source_digest
    parts = [__version__, source_digest(), repr(sorted(cfg.select)), repr(sorted(cfg.ignore.items())),
             repr(cfg.exclude), str(cfg.history_depth)]
    if cfg.model is not None:
        try:
            parts.append(hashlib.sha256(Path(cfg.model).read_bytes()).hexdigest())
        except OSError:
            parts.append(f"unreadable:{cfg.model}")
    parts.append(getattr(model, "name", ""))
    parts.append(_plugins_digest())
    return "\0".join(parts)


def _plugins_digest() -> str:
    """Which plugin rules and practices are installed, at which versions: a change rescans."""
    plugins = installed_plugins()
    if not plugins.rules and not plugins.practices:
        return ""
    from importlib import metadata
    packages = sorted({getattr(r, "package", "") or "" for r in plugins.rules})
    versions = []
    for name in packages:
        try:
            versions.append(f"{name}=={metadata.version(name)}")
        except Exception:  # a plugin's metadata is its own; a bad one only means no reuse
            versions.append(f"{name}==?")
    return repr((versions, sorted(r.id for r in plugins.rules), sorted(p.id for p in plugins.practices)))


def _prefix_of(facts: Facts) -> str:
    if facts.commit is not None and facts.commit.shared is not None:  # known already: no git process per commit
        prefix = facts.commit.prefix
        return prefix if not prefix or prefix.endswith("/") else prefix + "/"
    return repo_prefix(facts.root) if facts.in_git else ""


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
