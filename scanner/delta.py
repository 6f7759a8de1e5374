"""`mlscan scan PATH --base REF`: scan the work tree and a base commit, and report what changed.

The base commit is read from git objects, without touching the work tree or the repository's
.git, and without any temporary checkout; unchanged files reuse the head scan's facts.

The verdict sentences ("This PR raises Train pipeline from level 2 to 3: seed control added")
are computed here, so that every renderer shows the same words.
"""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from mlscan.config import Config
from mlscan.errors import UsageError
from mlscan.report.model import Report

Progress = Callable[[Optional[str]], None]

from mlscan.facts.gitsafe import safe_args, safe_env

STATUS_RANK = {"absent": 1, "partial": 2, "present": 3}
NO_CHANGE = "No change to maturity levels"


# ---- git plumbing -----------------------------------------------------------------------------
def _git_env() -> Dict[str, str]:
    return safe_env()


def _git(cwd: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", *safe_args(), "-C", str(cwd), *args], capture_output=True,
                              text=True, errors="replace", env=_git_env(), timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise UsageError("--base needs git, and no `git` executable was found on PATH") from None
    except subprocess.TimeoutExpired:
        raise UsageError(f"git {args[0]} timed out in {cwd}") from None


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    return lines[0] if lines else ""


def resolve_base(path: Path, ref: str) -> Tuple[Path, str, str]:
    """(work-tree top level, prefix of `path` inside it, full SHA of `ref`), or a UsageError."""
    if not ref or ref.startswith("-") or any(c in ref for c in "\0\n\r"):
        raise UsageError(f"--base {ref!r} is not a valid git ref")
    top = _git(path, "rev-parse", "--show-toplevel")
    if top.returncode != 0 or not top.stdout.strip():
        raise UsageError(f"--base {ref} needs a git repository, and {str(path)!r} is not inside one "
                         f"({_first_line(top.stderr) or 'git rev-parse failed'})")
    toplevel = Path(top.stdout.strip())
    prefix = _git(path, "rev-parse", "--show-prefix").stdout.strip()
    found = _git(path, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")  # ref can't start with '-'
    sha = found.stdout.strip()
    if found.returncode != 0 or len(sha) < 40:
        msg = f"unknown base ref {ref!r}: no such commit in {toplevel}"
        if _git(path, "rev-parse", "--is-shallow-repository").stdout.strip() == "true":
            count = _git(path, "rev-list", "--count", "HEAD").stdout.strip() or "?"
            msg += (f". This is a shallow clone with {count} commit(s) of history, so the base may "
                    "simply not have been fetched: fetch it (`git fetch --deepen=50`, or `git fetch "
                    "origin <base>`), or check out with full history (actions/checkout `fetch-depth: 0`)")
        else:
            msg += " (fetch it first, or check the spelling; `git log --oneline` lists commits)"
        raise UsageError(msg)
    return toplevel, prefix, sha


# ---- scanning ---------------------------------------------------------------------------------
def scan_with_base(path: Path, base: str, cfg: Config, progress: Optional[Progress] = None,
                   jobs: int = 0, cache_dir: Optional[str] = None) -> Report:
    """Scan `path` as it is, scan commit `base` with the same configuration, and attach the delta.

    The base is read from git objects (`git ls-tree`, `git cat-file --batch`): nothing is checked
    out or written, and every file whose blob the head scan (or an earlier run) already indexed
    is taken from the fact cache, so a branch that changes a few files costs about one scan."""
    from mlscan.engine import scan
    from mlscan.facts.repo import CommitTree

    path = Path(path)
    toplevel, prefix, sha = resolve_base(path, base)
    missing = bool(prefix) and _git(toplevel, "cat-file", "-e", f"{sha}:{prefix.rstrip('/')}").returncode != 0
    alongside = _BaseAlongside(lambda: scan(path, cfg, jobs=1, cache_dir=cache_dir,
                                            commit=CommitTree(toplevel, sha, prefix)))
    try:
        head = scan(path, cfg, progress=progress, jobs=jobs, cache_dir=cache_dir,  # its facts are freed already
                    alongside=alongside.start, also_meanwhile=(lambda facts: facts.prefetch_history(sha),))
        if progress and alongside.running:
            progress(f"base {sha[:12]}: finishing its scan")
        before = alongside.result()
    finally:
        alongside.stop()
    if before is None:
        if progress:
            progress(f"reading base commit {sha[:12]}")
        base_progress = (lambda msg: progress(f"base {sha[:12]}: {msg}")) if progress else None
        before = scan(path, cfg, progress=base_progress, jobs=jobs, cache_dir=cache_dir,
                      commit=CommitTree(toplevel, sha, prefix))
    head.delta = compute_delta(before, head, base_ref=base, base_commit=sha)
    if missing:  # the scanned folder did not exist yet in the base commit
        head.delta["base"]["note"] = f"{prefix.rstrip('/')} did not exist in the base commit"
    return head


class _BaseAlongside:
    """The base scan in a forked process while the head scan judges its rules, on a machine with
    two free cores. It forks once the head's facts and graph are built, so it reuses them from
    memory as the sequential base scan does; it sends its report back as the JSON the report cache
    keeps (which reads back to the same Report). Wherever forking is not possible or the child
    fails, result() is None and the base is scanned afterwards, in this process."""

    def __init__(self, run_scan: Callable[[], Report]):
        self._run_scan = run_scan
        self._pid: Optional[int] = None
        self._read_end: Optional[int] = None

    def start(self) -> bool:
        """Fork the base scan; True when it runs (the caller then leaves the other core to it)."""
        import os
        if not hasattr(os, "fork"):
            return False
        try:
            read_end, write_end = os.pipe()
            pid = os.fork()
        except OSError:
            return False
        if pid == 0:  # the child: scan the base, write its report, and leave without any clean-up
            status = 1
            try:
                os.close(read_end)
                from mlscan.facts.cache import after_fork
                from mlscan.report.json_out import render_json
                after_fork()
                data = render_json(self._run_scan()).encode("utf-8")
                with os.fdopen(write_end, "wb") as out:
                    out.write(data)
                status = 0
            finally:
                os._exit(status)
        os.close(write_end)
        self._pid, self._read_end = pid, read_end
        return True

    @property
    def running(self) -> bool:
        return self._pid is not None

    def result(self) -> Optional[Report]:
        """The base scan's report, or None when none was started or it failed."""
        import json
        import os
        if self._pid is None or self._read_end is None:
            return None
        with os.fdopen(self._read_end, "rb") as fh:
            self._read_end = None
            data = fh.read()
        _, status = os.waitpid(self._pid, 0)
        self._pid = None
        if status != 0 or not data:
            return None
        from mlscan.report.model import report_from_json
        try:
            return report_from_json(json.loads(data.decode("utf-8")))
        except (ValueError, KeyError, TypeError):
            return None

    def stop(self) -> None:
        """End a child still running (the head scan failed) and close the pipe."""
        import os
        import signal
        if self._read_end is not None:
            os.close(self._read_end)
            self._read_end = None
        if self._pid is not None:
            try:
                os.kill(self._pid, signal.SIGKILL)
                os.waitpid(self._pid, 0)
            except OSError:
                pass
            self._pid = None


# ---- the delta --------------------------------------------------------------------------------
def compute_delta(base: Report, head: Report, base_ref: str = "", base_commit: Optional[str] = None
                  ) -> Dict[str, Any]:
    """What changed from `base` to `head`: only the stages, practices and findings that differ."""
    stages: List[Dict[str, Any]] = []
    for s in head.stages:
        old = base.stage(s.id)
        before = old.level if old else None
        if before != s.level:
            stages.append({"id": s.id, "name": s.name, "from": before, "to": s.level})
    practices: List[Dict[str, Any]] = []
    for p in head.practices:
        old_p = base.practice(p.id)
        before_status = old_p.status if old_p else "unknown"
        if before_status != p.status:
            practices.append({"id": p.id, "title": p.title, "stage": p.stage,
                              "from": before_status, "to": p.status})
    base_prints = {f.fingerprint for f in base.findings}
    head_prints = {f.fingerprint for f in head.findings}
    new = [f.to_json() for f in head.findings if f.fingerprint not in base_prints]
    fixed = [f.to_json() for f in base.findings if f.fingerprint not in head_prints]
    return {
        "base": {"ref": base_ref, "commit": base_commit if base_commit is not None else base.commit,
                 "level": base.level},
        "level": {"from": base.level, "to": head.level},
        "stages": stages,
        "practices": practices,
        "new_findings": new,
        "fixed_findings": fixed,
        "summary": summarise(base, head, stages, practices),
    }


def practice_phrase(practice_id: str) -> str:
    """"seed-control" -> "seed control", "ci" -> "CI"."""
    words = practice_id.split("-")
    return " ".join(w.upper() if w in ("ci", "ml", "cd", "api") else w for w in words)


def change_phrase(practice_id: str, before: str, after: str) -> str:
    name = practice_phrase(practice_id)
    if after == "not-applicable":
        return f"{name} no longer applies"
    if before == "not-applicable":
        return f"{name} now applies ({after})"
    if after == "unknown":
        return f"{name} can no longer be assessed"
    if before == "unknown":
        return f"{name} now {after}"
    if after == "present":
        return f"{name} added" if before == "absent" else f"{name} completed"
    if after == "partial":
        return f"{name} partly added" if before == "absent" else f"{name} now only partial"
    return f"{name} removed"


def direction(before: str, after: str) -> int:
    """+1 better, -1 worse, 0 neither (unknown or not applicable on either side)."""
    if before in STATUS_RANK and after in STATUS_RANK:
        return (STATUS_RANK[after] > STATUS_RANK[before]) - (STATUS_RANK[after] < STATUS_RANK[before])
    return 0


def still_blocked(head: Report, practices: Sequence[Dict[str, Any]]) -> str:
    """Why an improved practice did not move its stage: what that stage's next level still needs."""
    improved = [p for p in practices if direction(p["from"], p["to"]) > 0]
    parts = []
    for stage_id in sorted({p["stage"] for p in improved}):
        stage = head.stage(stage_id)
        if stage is None or stage.level is None or not stage.next_steps:
            continue
        needs = ", ".join(n.practice.replace("-", " ") for n in stage.next_steps[:3])
        parts.append(f"{stage.name} stays at level {stage.level} until it also has {needs}")
    return "; ".join(parts)


def summarise(base: Report, head: Report, stages: Sequence[Dict[str, Any]],
              practices: Sequence[Dict[str, Any]]) -> List[str]:
    """The verdict, one sentence per changed stage (raises first), then the overall level."""
    def explain(stage: Dict[str, Any], sign: int) -> List[str]:
        # practices of this stage, plus those that blocked it before (raise) or block it now (lower)
        blockers = base.stage(stage["id"]) if sign > 0 else head.stage(stage["id"])
        blocking = {n.practice for n in (blockers.next_steps if blockers else [])}
        related = [p for p in practices if p["stage"] == stage["id"] or p["id"] in blocking]
        pointed = [p for p in related if direction(p["from"], p["to"]) == sign] or related
        return [change_phrase(p["id"], p["from"], p["to"]) for p in pointed]

    def sentence(stage: Dict[str, Any]) -> Tuple[int, str]:
        a, b, name = stage["from"], stage["to"], stage["name"]
        if a is None:
            return 0, f"This PR brings {name} into scope at level {b}"
        if b is None:
            return 2, f"This PR takes {name} out of scope (it was at level {a})"
        sign = 1 if b > a else -1
        why = explain(stage, sign)
        text = f"This PR {'raises' if sign > 0 else 'lowers'} {name} from level {a} to {b}"
        return (0 if sign > 0 else 1), text + (f": {', '.join(why)}" if why else "")

    lines = [text for _, text in sorted((sentence(s) for s in stages), key=lambda t: t[0])]
    if not lines:
        lines.append(NO_CHANGE)
        if practices:
            lines.append("Practices changed: " + ", ".join(change_phrase(p["id"], p["from"], p["to"])
                                                          for p in practices))
            held = still_blocked(head, practices)
            if held:
                lines.append(held)
    if base.level != head.level:
        verb = "rises" if head.level > base.level else "falls"
        lines.append(f"Overall maturity level {verb} from {base.level} to {head.level}")
    return lines
