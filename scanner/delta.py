"""`mlscan scan PATH --base REF`: scan the work tree and a base commit, and report what changed.

The base commit is read without touching the work tree or the repository's .git: it is cloned
(`--shared --no-checkout`, so objects are borrowed through alternates and nothing is written to
the source repository) into a temporary folder and checked out there; if that fails it is
extracted with `git archive`. The temporary folder is always removed.

The verdict sentences ("This PR raises Train pipeline from level 2 to 3: seed control added")
are computed here, so that every renderer shows the same words.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from mlscan.config import Config
from mlscan.errors import UsageError
from mlscan.report.model import Finding, Report

Progress = Callable[[Optional[str]], None]

from mlscan.facts.gitsafe import GIT_LOCATION_VARS, safe_args, safe_env

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


def materialise(toplevel: Path, sha: str, dest: Path) -> str:
    """Write the tree of commit `sha` into `dest` (which must not exist). Returns how: clone|archive."""
    clone = _git(dest.parent, "clone", "--quiet", "--shared", "--no-checkout", "--no-tags",
                 str(toplevel), str(dest))
    if clone.returncode == 0:
        checkout = _git(dest, "checkout", "--quiet", "--detach", sha)
        if checkout.returncode == 0:
            return "clone"
    if dest.exists():
        _rmtree(dest)
    dest.mkdir()
    _archive(toplevel, sha, dest)
    return "archive"


def _archive(toplevel: Path, sha: str, dest: Path) -> None:
    try:
        proc = subprocess.Popen(["git", *safe_args(), "-C", str(toplevel), "archive", "--format=tar", sha],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_git_env(),
                                stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise UsageError("--base needs git, and no `git` executable was found on PATH") from None
    assert proc.stdout is not None and proc.stderr is not None
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            for member in tar:
                safe = _safe_member(member, dest)
                if safe is not None:
                    tar.extract(safe, dest, set_attrs=False)
    except tarfile.TarError as exc:
        proc.kill()
        proc.wait()
        raise UsageError(f"cannot read base commit {sha[:12]} with git archive ({exc})") from None
    err = proc.stderr.read().decode("utf-8", "replace")
    if proc.wait() != 0:
        raise UsageError(f"cannot read base commit {sha[:12]}: {_first_line(err) or 'git archive failed'}")


def _safe_member(member: tarfile.TarInfo, dest: Path) -> Optional[tarfile.TarInfo]:
    """Regular files, folders and symlinks that stay inside `dest`; anything else is skipped."""
    name = member.name
    if name.startswith("/") or ".." in Path(name).parts or "\\" in name:
        return None
    if member.isdir() or member.isfile():
        return member
    if member.issym():
        target = (dest / name).parent / member.linkname
        if os.path.isabs(member.linkname):
            return None
        try:
            Path(os.path.normpath(target)).relative_to(dest)
        except ValueError:
            return None
        return member
    return None


def _rmtree(path: Path) -> None:
    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=_force_remove)
    else:
        shutil.rmtree(path, onerror=_force_remove)


def _force_remove(func, path, _exc) -> None:
    """rmtree helper: make read-only files (git's objects, on Windows) writable and retry."""
    try:
        os.chmod(path, stat.S_IWRITE | stat.S_IREAD | stat.S_IEXEC)
        func(path)
    except OSError:
        pass


@contextlib.contextmanager
def _checked_out(toplevel: Path, sha: str) -> Iterator[Tuple[Path, str]]:
    tmp = Path(tempfile.mkdtemp(prefix="mlscan-base-"))
    try:
        tree = tmp / "tree"
        how = materialise(toplevel, sha, tree)
        yield tree, how
    finally:
        _rmtree(tmp)


@contextlib.contextmanager
def _without_git_location_vars() -> Iterator[None]:
    """The base scan's own git calls must look at the temporary clone, not a hook's GIT_DIR."""
    saved = {k: os.environ.pop(k) for k in GIT_LOCATION_VARS if k in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


# ---- scanning ---------------------------------------------------------------------------------
def scan_with_base(path: Path, base: str, cfg: Config, progress: Optional[Progress] = None,
                   jobs: int = 0, cache_dir: Optional[str] = None) -> Report:
    """Scan `path` as it is, scan commit `base` with the same configuration, and attach the delta."""
    from mlscan.engine import scan

    path = Path(path)
    toplevel, prefix, sha = resolve_base(path, base)
    head = scan(path, cfg, progress=progress, jobs=jobs, cache_dir=cache_dir)
    if progress:
        progress(f"reading base commit {sha[:12]}")
    base_progress = (lambda msg: progress(f"base {sha[:12]}: {msg}")) if progress else None
    with _checked_out(toplevel, sha) as (tree, how):
        base_root = tree / prefix if prefix else tree
        missing = not base_root.is_dir()
        if missing:  # the scanned folder did not exist yet in the base commit
            base_root.mkdir(parents=True)
        with _without_git_location_vars():
            before = scan(base_root, cfg, progress=base_progress, jobs=jobs, cache_dir=cache_dir)
        _relocate(before, str(base_root.resolve()), head.root)
    head.delta = compute_delta(before, head, base_ref=base, base_commit=sha)
    if how == "archive":
        head.delta["base"]["note"] = ("read with git archive (the repository could not be cloned); "
                                      "history evidence for the base was not read")
    if missing:
        head.delta["base"]["note"] = f"{prefix.rstrip('/')} did not exist in the base commit"
    return head


def _relocate(report: Report, tmp_root: str, real_root: str) -> None:
    """Make the base report speak of the real repository, never of the temporary folder."""
    def fix(text: str) -> str:
        return text.replace(tmp_root, real_root) if tmp_root in text else text

    report.root = real_root
    report.findings = [Finding(f.practice, f.rule, f.path, f.line, fix(f.message), f.severity, f.fingerprint)
                       for f in report.findings]
    for p in report.practices:
        p.reason = fix(p.reason)
    for s in report.stages:
        s.reason = fix(s.reason)


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
