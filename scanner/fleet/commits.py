"""`mlscan history`: the maturity of a repository at each sampled commit of its first-parent line.

Every commit is read from git objects (`git ls-tree`, `git cat-file --batch`), never checked out:
the scanned repository is not changed. Files whose blob an earlier commit (or an earlier run)
already indexed come from the fact cache, so a commit costs about what it changed, plus the
rules. `scan_commit` is a plain top-level function so that a scheduler can run it as a task.
"""
from __future__ import annotations

import functools
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from mlscan.config import Config
from mlscan.errors import UsageError
from mlscan.report.model import Report

SCHEMA_VERSION = 1
STATUS_RANK = {"absent": 1, "partial": 2, "present": 3}
Progress = Callable[[str], None]


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    date: str       # ISO 8601 committer date
    subject: str


def _git(repo: Path, *args: str) -> str:
    from mlscan.facts.gitsafe import run_git
    try:
        r = run_git(repo, args, text=True)
    except (OSError, subprocess.SubprocessError) as exc:
        raise UsageError(f"git {args[0]} failed in {repo} ({exc.__class__.__name__})") from None
    if r.returncode != 0:
        first = (r.stderr or "").strip().splitlines()
        raise UsageError(f"git {args[0]} failed in {repo}: {first[0] if first else 'unknown error'}")
    return r.stdout


@functools.lru_cache(maxsize=64)
def locate(repo_path: Path) -> Tuple[Path, str]:
    """(work-tree top level, prefix of `repo_path` inside it), or a UsageError."""
    try:
        top = _git(repo_path, "rev-parse", "--show-toplevel").strip()
    except UsageError:
        from mlscan.fleet.sources import BARE, git_kind
        if git_kind(repo_path) == BARE:   # no work tree: its commits are read from objects all the same
            return repo_path.resolve(), ""
        raise UsageError(f"{str(repo_path)!r} is not inside a git repository; `mlscan history` reads its commits") \
            from None
    return Path(top), _git(repo_path, "rev-parse", "--show-prefix").strip()


def sampled_commits(repo_path: Path, commits: Optional[int] = None, since: Optional[str] = None,
                    every: int = 1) -> List[CommitInfo]:
    """The first-parent line from HEAD (the newest `commits`, or those since `since`), every
    `every`-th one counted back from HEAD (which is always kept), oldest first."""
    if since is not None and (since.startswith("-") or any(c in since for c in "\0\n")):
        raise UsageError(f"--since {since!r} is not a date")
    args = ["log", "--first-parent", "--no-color", "--format=%H%x00%cI%x00%s"]
    if commits is not None:
        args.append(f"--max-count={commits}")
    if since is not None:
        args.append(f"--since={since}")
    out = _git(repo_path, *args, "HEAD", "--")
    found = []
    for line in out.splitlines():
        parts = line.split("\0")
        if len(parts) == 3:
            found.append(CommitInfo(parts[0], parts[1], parts[2]))
    return list(reversed(found[::max(1, every)]))


def scan_commit(repo_path, sha: str, cfg: Config, cache_dir: Optional[str] = None,
                session: Optional[Tuple[str, int]] = None, jobs: int = 0) -> Report:
    """The scan report of commit `sha` of the repository at `repo_path` (a folder of its work
    tree; a subfolder scans that subfolder), read from git objects.

    session: (newest commit, commits reachable from it but not from the oldest scanned one) when
    this is one of several commits scanned in a row: then they share one git object reader and one
    `git log` (per process), instead of starting git several times per commit."""
    from mlscan.engine import scan
    from mlscan.facts.repo import CommitTree
    path = Path(repo_path).resolve()
    toplevel, prefix = locate(path)
    shared = _session(toplevel, path, *session) if session else None
    return scan(path, cfg, jobs=jobs, cache_dir=cache_dir, commit=CommitTree(toplevel, sha, prefix, shared))


_SESSIONS: Dict[Tuple[Path, Path, str, int], Any] = {}


def _session(toplevel: Path, root: Path, newest: str, reach: int):
    from mlscan.facts.history import CommitSession
    key = (toplevel, root, newest, reach)
    if key not in _SESSIONS:
        while len(_SESSIONS) >= 4:  # one history run needs one; a long-lived worker may see several
            _SESSIONS.pop(next(iter(_SESSIONS))).objects.close()
        _SESSIONS[key] = CommitSession(toplevel, root, newest, reach)
    return _SESSIONS[key]


def session_for(repo_path: Path, sampled: List[CommitInfo]) -> Optional[Tuple[str, int]]:
    """What the commits of one history run share: the newest of them, and how many commits the
    newest reaches that the oldest does not (so one `git log` of the newest covers every history)."""
    if not sampled:
        return None
    newest, oldest = sampled[-1].sha, sampled[0].sha
    reach = int(_git(repo_path, "rev-list", "--count", f"{oldest}..{newest}").strip() or 0)
    return newest, reach


def events(rows: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Where a practice arrived (its status rose) or regressed (fell), commit after commit.
    Moves to or from `unknown` and `not-applicable` are neither."""
    out: List[Dict[str, Any]] = []
    for before, after in zip(rows, rows[1:]):
        old = {p["id"]: p["status"] for p in before["practices"]}
        for p in after["practices"]:
            a, b = old.get(p["id"]), p["status"]
            if a in STATUS_RANK and b in STATUS_RANK and a != b:
                out.append({"commit": after["commit"], "practice": p["id"], "from": a, "to": b,
                            "kind": "arrived" if STATUS_RANK[b] > STATUS_RANK[a] else "regressed"})
    return out


def history_task(item: Tuple[str, str, Config, Optional[str], Optional[Tuple[str, int]]]) -> Dict[str, Any]:
    """One commit's row data (see `row_data`): the unit of work a Dask worker runs."""
    repo_path, sha, cfg, cache_dir, session = item
    return row_data(scan_commit(repo_path, sha, cfg, cache_dir, session))


def row_data(report: Report) -> Dict[str, Any]:
    """What a history row takes from a commit's report, as in its JSON (not the findings,
    diagnostics and next steps, which would only be encoded and sent to be dropped)."""
    return {"level": report.level, "stages": [s.to_json() for s in report.stages],
            "practices": [p.to_json() for p in report.practices]}


def history(repo_path, cfg: Config, commits: Optional[int] = None, since: Optional[str] = None, every: int = 1,
            cache_dir: Optional[str] = None, progress: Optional[Progress] = None,
            scheduler: Optional[str] = None, workers: Optional[int] = None) -> Dict[str, Any]:
    """The history document (schema_version 1): one row per sampled commit, oldest first, and events.

    workers: processes for a run without a scheduler (None: the free cores; runs of at least
    MIN_COMMITS_PER_PROCESS consecutive commits each).

    scheduler: None runs here, one commit after another; "local" runs on an embedded Dask cluster,
    any other value is a Dask scheduler address (`mlscan fleet`'s engine, one task per commit).
    """
    from mlscan import __version__
    from mlscan.facts.indexing import default_jobs, idle_sample
    path = Path(repo_path)
    idle_since = idle_sample() if scheduler is None and workers is None else None
    sampled = sampled_commits(path, commits, since, every)
    session = session_for(path, sampled)
    scanned: Optional[List[Dict[str, Any]]] = None
    if scheduler is None and len(sampled) >= 2 * MIN_COMMITS_PER_PROCESS:
        from mlscan.fleet.repos import warm_up
        warm_up()  # once, before forking (the processes inherit it), while the idle cores are measured
        if workers is None:
            workers = default_jobs(since=idle_since)
        processes = min(workers, len(sampled) // MIN_COMMITS_PER_PROCESS)
        if processes >= 2:
            scanned = _scan_forked(path, sampled, cfg, cache_dir, session, processes, progress)
    if scanned is None and scheduler is None:
        scanned = []
        for i, c in enumerate(sampled, 1):
            if progress:
                progress(f"commit {i}/{len(sampled)} {c.sha[:12]}")
            scanned.append(row_data(scan_commit(path, c.sha, cfg, cache_dir, session)))
    elif scanned is None:
        scanned = _scan_on_dask(path, sampled, cfg, cache_dir, scheduler, progress, session)
    rows: List[Dict[str, Any]] = []
    for c, data in zip(sampled, scanned):
        rows.append({"commit": c.sha, "date": c.date, "subject": c.subject, "level": data["level"],
                     "stages": data["stages"], "practices": data["practices"]})
    return {"schema_version": SCHEMA_VERSION, "tool": {"name": "mlscan", "version": __version__},
            "repo": str(path.resolve()), "commits": rows, "events": events(rows)}


MIN_COMMITS_PER_PROCESS = 10


def _scan_run(repo_path: str, shas: List[str], cfg: Config, cache_dir: Optional[str],
              session: Optional[Tuple[str, int]]) -> List[Dict[str, Any]]:
    """Consecutive commits in one worker process, so that they share what one commit leaves the next."""
    return [row_data(scan_commit(repo_path, sha, cfg, cache_dir, session, jobs=1)) for sha in shas]


def _forked_worker() -> None:
    """A forked history worker opens its own fact store and git readers (never its parent's)."""
    from mlscan.facts import cache
    _INHERITED.append((dict(cache._STORES), dict(_SESSIONS)))  # kept, not closed: they are the parent's
    cache._STORES.clear()
    _SESSIONS.clear()


_INHERITED: List[Any] = []


def _scan_forked(path: Path, sampled: List[CommitInfo], cfg: Config, cache_dir: Optional[str],
                 session: Optional[Tuple[str, int]], workers: int,
                 progress: Optional[Progress]) -> Optional[List[Dict[str, Any]]]:
    """The commits split into `workers` runs of consecutive commits, one forked process each (the
    free cores); None where fork is missing or fails (then they run here, one after another)."""
    import os
    if not hasattr(os, "fork"):
        return None
    import concurrent.futures as cf
    import multiprocessing as mp
    size = -(-len(sampled) // workers)
    runs = [sampled[i:i + size] for i in range(0, len(sampled), size)]
    parts: List[Optional[List[Dict[str, Any]]]] = [None] * len(runs)
    try:
        with cf.ProcessPoolExecutor(max_workers=len(runs), mp_context=mp.get_context("fork"),
                                    initializer=_forked_worker) as pool:
            futures = {pool.submit(_scan_run, str(path), [c.sha for c in run], cfg, cache_dir, session): i
                       for i, run in enumerate(runs)}
            done = 0
            for future in cf.as_completed(futures):
                parts[futures[future]] = future.result()
                done += len(runs[futures[future]])
                if progress:
                    progress(f"commits {done}/{len(sampled)} ({len(runs)} processes)")
    except (OSError, cf.process.BrokenProcessPool):
        return None
    return [row for part in parts for row in part or []]


def _scan_on_dask(path: Path, sampled, cfg: Config, cache_dir: Optional[str], scheduler: str,
                  progress: Optional[Progress], session: Optional[Tuple[str, int]]) -> List[Dict[str, Any]]:
    from mlscan.fleet.engine import map_tasks
    items = [(str(path), c.sha, cfg, cache_dir, session) for c in sampled]
    results: List[Optional[Dict[str, Any]]] = [None] * len(items)
    done = 0
    for outcome in map_tasks(history_task, items, scheduler=None if scheduler == "local" else scheduler,
                             label="mlscan-history", warm_up="mlscan.fleet.repos:warm_up"):
        if outcome.status != "ok":
            raise UsageError(f"commit {items[outcome.index][1][:12]} could not be scanned: {outcome.error}")
        results[outcome.index] = outcome.value
        done += 1
        if progress:
            progress(f"commit {done}/{len(items)} {items[outcome.index][1][:12]}")
    return results  # type: ignore[return-value]


def render_history_json(doc: Dict[str, Any]) -> str:
    """Exactly `json.dumps(doc, indent=2, ensure_ascii=False) + "\n"`, about three times faster.
    The indenting encoder is pure Python, and most of a history is the same stages and practices
    commit after commit: each distinct one (told by its compact encoding, which the C encoder
    makes) is laid out once."""
    compact = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    laid_out: Dict[Tuple[str, int], str] = {}
    out: List[str] = []

    def lay_out(o: Any, level: int) -> None:
        if level >= _REPEATS_FROM and isinstance(o, (dict, list)) and o:
            key = (compact(o), level)
            text = laid_out.get(key)
            if text is None:
                text = laid_out[key] = json.dumps(o, indent=2, ensure_ascii=False).replace(
                    "\n", "\n" + "  " * level)
            out.append(text)
        elif isinstance(o, dict) and o:
            inner = "\n" + "  " * (level + 1)
            out.append("{")
            for i, (k, v) in enumerate(o.items()):
                if not isinstance(k, str):
                    raise _NotPlain
                out.append(("," if i else "") + inner + compact(k) + ": ")
                lay_out(v, level + 1)
            out.append("\n" + "  " * level + "}")
        elif isinstance(o, list) and o:
            inner = "\n" + "  " * (level + 1)
            out.append("[")
            for i, v in enumerate(o):
                out.append(("," if i else "") + inner)
                lay_out(v, level + 1)
            out.append("\n" + "  " * level + "]")
        elif isinstance(o, (dict, list, str, int, float, bool)) or o is None:
            out.append(compact(o))
        else:
            raise _NotPlain

    try:
        lay_out(doc, 0)
    except _NotPlain:  # keys json would convert, values it would refuse: let it do (or refuse) all
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    out.append("\n")
    return "".join(out)


_REPEATS_FROM = 4   # doc > commits > commit > practices (or stages) > one practice


class _NotPlain(Exception):
    pass


def render_history_terminal(doc: Dict[str, Any]) -> str:
    """A plain table: one line per commit (levels per stage), then the events."""
    rows = doc["commits"]
    if not rows:
        return f"mlscan history {doc['repo']}: no commits\n"
    stages = [s["id"] for s in rows[0]["stages"]]
    head = f"{'commit':12}  {'date':10}  lvl  " + "  ".join(f"{s[:7]:>7}" for s in stages) + "  subject"
    lines = [f"mlscan history {doc['repo']} ({len(rows)} commits, oldest first)", "", head]
    for r in rows:
        levels = {s["id"]: s["level"] for s in r["stages"]}
        cells = "  ".join(f"{'-' if levels.get(s) is None else levels[s]:>7}" for s in stages)
        lines.append(f"{r['commit'][:12]}  {r['date'][:10]}  {r['level']:>3}  {cells}  {r['subject'][:60]}")
    lines.append("")
    if doc["events"]:
        lines.append("Events:")
        for e in doc["events"]:
            lines.append(f"  {e['commit'][:12]}  {e['practice']}: {e['from']} -> {e['to']} ({e['kind']})")
    else:
        lines.append("No practice arrived or regressed in these commits.")
    return "\n".join(lines) + "\n"
