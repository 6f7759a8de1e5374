"""`mlscan fleet`: scan many repositories, one Dask task each, and write what was found.

For each source the task scans exactly what `mlscan scan` would (the repository's own
`[tool.mlscan]` config, merged with the fleet's options), so a fleet report is byte-identical to
`mlscan scan SOURCE --format json`. Reports are written to OUT/reports/<name>.json as they
arrive, so an interrupted run keeps what finished, and a re-run skips repositories whose commit
and mlscan version already match a report in OUT (resume).

A bare repository, a REF, or a URL (cloned into a temporary folder) has no work tree to scan:
the commit's files are read from git objects, as `mlscan scan --base` and `mlscan history` read
them, and nothing is checked out. Their own `[tool.mlscan]` is not read (it would come from the
commit's pyproject.toml); the fleet's options apply.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from mlscan import __version__
from mlscan.errors import UsageError
from mlscan.facts.gitsafe import run_git, safe_args, safe_env
from mlscan.fleet.sources import BARE, FOLDER, REMOTE, WORKTREE, Source, expand, name_sources

REPORTS = "reports"


@dataclass(frozen=True)
class ScanSettings:
    """Fleet-wide options, merged over each repository's own [tool.mlscan] like `mlscan scan`'s flags."""
    select: Tuple[str, ...] = ()
    ignore: Tuple[str, ...] = ()
    exclude: Tuple[str, ...] = ()
    history_depth: Optional[int] = None
    model: Optional[str] = None
    cache_dir: Optional[str] = None   # None: the default fact cache; "off": none


@dataclass(frozen=True)
class RepoTask:
    source: Source
    settings: ScanSettings = field(default_factory=ScanSettings)
    skip_if_commit: Optional[str] = None   # a URL's report already in OUT: skip if the clone is at it


# ---- one repository (runs in the isolated child process on a worker) -------------------------
WARM_UP = "mlscan.fleet.repos:warm_up"


def warm_up() -> None:
    """What every scan loads once (its modules, the catalogue, the rules and installed plugins),
    loaded by a scan process as it starts, while the engine is still starting."""
    from mlscan.catalogue import load_catalogue
    from mlscan.config import load_config  # noqa: F401
    from mlscan.engine import scan  # noqa: F401
    from mlscan.facts.repo import CommitTree  # noqa: F401
    from mlscan.report.json_out import render_json  # noqa: F401
    from mlscan.rulekit import all_rules
    load_catalogue()
    all_rules()


def scan_source(task: RepoTask) -> Dict[str, Any]:
    """{"report": JSON text, "commit": sha|None}, or {"unchanged": sha} (resume of a URL)."""
    from mlscan.facts.repo import CommitTree
    from mlscan.report.json_out import render_json

    src = task.source
    scratch = Path(tempfile.mkdtemp(prefix="mlscan-fleet-"))
    try:
        location, kind = Path(src.location) if src.kind != REMOTE else None, src.kind
        if kind == REMOTE:
            location, kind = clone_remote(src.location, scratch / "clone.git"), BARE
        if kind in (WORKTREE, FOLDER) and src.ref is None:
            return {"report": render_json(scan_tree(location, task.settings)), "commit": None}
        sha = resolve_commit(location, src.ref or "HEAD")
        if task.skip_if_commit and sha == task.skip_if_commit:
            return {"unchanged": sha}
        # the commit's files are read from git objects: nothing is checked out
        report = scan_tree(location, task.settings, commit=CommitTree(location.resolve(), sha))
        if src.kind == REMOTE:
            report.root = src.location
        return {"report": render_json(report), "commit": sha}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def scan_tree(root: Path, settings: ScanSettings, commit=None):
    """`mlscan scan ROOT` with the fleet's options, in this process, on one core."""
    from mlscan.config import load_config, load_config_at_commit, merge
    from mlscan.engine import scan
    cfg = load_config(root) if commit is None else load_config_at_commit(root, commit)
    ignore = dict(cfg.ignore)
    ignore.update({i: "ignored on the command line" for i in settings.ignore})
    cfg = merge(cfg, select=settings.select or None, ignore=ignore,
                exclude=(cfg.exclude + settings.exclude) if settings.exclude else None,
                history_depth=settings.history_depth,
                model=Path(settings.model) if settings.model else None)
    return scan(root, cfg, jobs=1, cache_dir=settings.cache_dir, commit=commit)


def resolve_commit(repo: Path, ref: str) -> str:
    try:
        r = run_git(repo, ["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], timeout=60, text=True)
    except (OSError, subprocess.SubprocessError) as exc:
        raise UsageError(f"cannot run git in {repo}: {exc}") from None
    sha = r.stdout.strip()
    if r.returncode != 0 or len(sha) < 40:
        raise UsageError(f"no commit {ref!r} in {repo}")
    return sha


def clone_remote(url: str, dest: Path, timeout: float = 1800) -> Path:
    """`git clone --bare URL DEST` with the scan's safe git settings, plus http(s)/git transport
    (network is allowed here, and only here, because the user asked for --clone)."""
    allow = ["-c", "protocol.https.allow=always", "-c", "protocol.http.allow=always",
             "-c", "protocol.git.allow=always"]
    try:
        r = subprocess.run(["git", *safe_args(), *allow, "clone", "--bare", "--quiet", "--no-tags", "--", url,
                            str(dest)], capture_output=True, text=True, errors="replace", timeout=timeout,
                           env=safe_env(), stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise UsageError(f"cloning {url} took longer than {timeout:g} s") from None
    except OSError as exc:
        raise UsageError(f"cannot run git clone: {exc}") from None
    if r.returncode != 0:
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        raise UsageError(f"cannot clone {url}: {lines[-1] if lines else 'git clone failed'}")
    return dest


# ---- the fleet (runs in the `mlscan fleet` process) -------------------------------------------
def head_commit(src: Source) -> Optional[str]:
    """The commit a source will be scanned at, when it can be known without scanning (for resume)."""
    if src.kind == WORKTREE or src.kind == BARE:
        try:
            return resolve_commit(Path(src.location), src.ref or "HEAD")
        except UsageError:
            return None
    return None


def expected_cost(src: Source) -> int:
    """A cheap guess at how long a source takes to scan: KiB of Python and notebooks in its commit
    (one `git ls-tree`; parsing is most of a scan). 0 when git cannot say."""
    if src.kind not in (WORKTREE, BARE):
        return 0
    try:
        r = run_git(src.location, ["ls-tree", "-r", "-l", "-z", "--", src.ref or "HEAD"], timeout=60)
    except (OSError, subprocess.SubprocessError):
        return 0
    total = 0
    for entry in r.stdout.split(b"\0"):
        meta, _, path = entry.partition(b"\t")
        if path.endswith((b".py", b".ipynb")):
            size = meta.split()[-1] if meta else b"-"
            total += int(size) if size.isdigit() else 0
    return total // 1024


def read_report(path: Path) -> Optional[Dict[str, Any]]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("schema_version") == 1 else None


def row_for(src: Source, status: str, error: Optional[str] = None, report: Optional[Dict[str, Any]] = None,
            commit: Optional[str] = None) -> Dict[str, Any]:
    if report is None:
        return {"name": src.name, "source": src.given, "commit": commit, "status": status, "error": error,
                "report": None, "level": None, "stages": {}, "practices": {}}
    return {"name": src.name, "source": src.given, "commit": report.get("commit") or commit,
            "status": "ok", "error": None, "report": f"{REPORTS}/{src.name}.json", "level": report.get("level"),
            "stages": {s["id"]: s.get("level") for s in report.get("stages", [])},
            "practices": {p["id"]: p.get("status") for p in report.get("practices", [])}}


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


Advance = Callable[[str, str], None]


def run_fleet(args: Sequence[str], out: Path, *, settings: ScanSettings = ScanSettings(),
              allow_clone: bool = False, scheduler: Optional[str] = None, workers: Optional[int] = None,
              timeout: Optional[float] = 600, resume: bool = True,
              progress: Optional[Callable[[int], Advance]] = None) -> Dict[str, Any]:
    """Scan every source named by `args` into OUT; returns the fleet document (also OUT/fleet.json).

    `progress(total)` returns a callable `advance(name, status)` called once per repository."""
    from mlscan.facts.indexing import idle_sample
    from mlscan.fleet.engine import Engine
    from mlscan.fleet.output import prepare_writers

    idle_since = idle_sample() if scheduler is None and workers is None else None
    sources = name_sources(expand(args, allow_clone))
    if not sources:
        raise UsageError("no sources to scan")
    reports_dir = out / REPORTS
    try:
        reports_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {reports_dir}: {exc.strerror or exc}") from None
    rows: Dict[str, Dict[str, Any]] = {}
    todo: List[RepoTask] = []
    advance = progress(len(sources)) if progress else None
    costs: List[int] = []
    engine: Optional[Engine] = None
    try:
        if not resume or not any(reports_dir.glob("*.json")):   # nothing to resume: start it at once
            engine = Engine(scheduler=scheduler, workers=workers, warm_up=WARM_UP, idle_since=idle_since)
        with ThreadPoolExecutor(max_workers=8) as pool:   # a few git calls per source, not one at a time
            commits = list(pool.map(head_commit, sources))
            for src, commit in zip(sources, commits):
                old = read_report(reports_dir / f"{src.name}.json") if resume else None
                current = old is not None and old.get("tool", {}).get("version") == __version__
                if current and commit is not None and old.get("commit") == commit:
                    rows[src.name] = row_for(src, "ok", report=old)
                    if advance:
                        advance(src.name, "unchanged")
                    continue
                skip_if = old.get("commit") if current and src.kind == REMOTE else None
                todo.append(RepoTask(src, settings, skip_if_commit=skip_if))
            if todo and engine is None:   # it starts while git sizes up the repositories
                engine = Engine(scheduler=scheduler, workers=workers, warm_up=WARM_UP, idle_since=idle_since)
            costs = list(pool.map(expected_cost, [t.source for t in todo]))
        resumed = len(rows)
        writers_ready = False
        try:
            for outcome in (engine.map(scan_source, todo, timeout=timeout, label="mlscan-fleet", priorities=costs)
                            if engine else ()):
                src = todo[outcome.index].source
                value = outcome.value or {}
                if outcome.status != "ok":
                    rows[src.name] = row_for(src, outcome.status, outcome.error)
                elif "unchanged" in value:
                    old = read_report(reports_dir / f"{src.name}.json")
                    rows[src.name] = row_for(src, "ok", report=old) if old else \
                        row_for(src, "error", "the earlier report vanished during the run")
                else:
                    _write_atomic(reports_dir / f"{src.name}.json", value["report"])
                    rows[src.name] = row_for(src, "ok", report=json.loads(value["report"]),
                                             commit=value.get("commit"))
                if advance:
                    advance(src.name, rows[src.name]["status"])
                if not writers_ready:   # while the scans run, rather than after them
                    prepare_writers()
                    writers_ready = True
        except UsageError:
            if len(rows) == resumed:   # nothing ran (no scheduler, say): leave OUT as it was
                raise
            _write_summary(out, sources, rows)
            raise
        except BaseException:   # Ctrl-C: what finished is on disk, and the tables say what did not
            _write_summary(out, sources, rows, interrupted=True)
            raise
        return _write_summary(out, sources, rows)   # the engine's idle processes stop after it
    finally:
        if engine is not None:
            engine.close()


def _write_summary(out: Path, sources: Sequence[Source], rows: Dict[str, Dict[str, Any]],
                   interrupted: bool = False) -> Dict[str, Any]:
    from mlscan.fleet.output import write_fleet
    for src in sources:
        rows.setdefault(src.name, row_for(src, "error", "not scanned: the run was interrupted or stopped first"))
    return write_fleet(out, [rows[s.name] for s in sources], interrupted=interrupted)
