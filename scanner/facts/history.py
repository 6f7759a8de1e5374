"""Git history through one streamed `git log` (no gitpython: its import cost more than reading the
log of a small repo), bounded by a depth the
report states. Shallow clones, missing objects and a missing git are diagnostics, never errors."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from mlscan.facts.gitsafe import run_git
from mlscan.report.model import Diagnostic

DATA_OR_MODEL_SUFFIXES = (".csv", ".tsv", ".parquet", ".feather", ".jsonl", ".npy", ".npz", ".h5", ".hdf5",
                          ".pkl", ".pickle", ".joblib", ".pt", ".pth", ".ckpt", ".onnx", ".safetensors", ".bin",
                          ".tfrecord", ".tfrecords", ".zip", ".tar", ".gz", ".xlsx", ".arrow", ".avro", ".orc",
                          ".sav", ".model", ".pb", ".tflite", ".db", ".sqlite")


def _iso_date(timestamp: int) -> str:
    import datetime
    return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).strftime("%Y-%m-%d")


def _is_test_file(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py")
                                     or "/tests/" in f"/{path}" or "/test/" in f"/{path}")


MILESTONES = (
    ("dvc", lambda p: p in ("dvc.yaml", ".dvc/config") or p.endswith((".dvc", "/dvc.yaml"))),
    ("ci", lambda p: p.startswith((".github/workflows/", ".circleci/")) or p in (".gitlab-ci.yml", "Jenkinsfile")
     or p.startswith("azure-pipelines")),
    ("tests", _is_test_file),
    ("lock-file", lambda p: p.rsplit("/", 1)[-1] in ("poetry.lock", "uv.lock", "pdm.lock", "Pipfile.lock", "conda-lock.yml")),
    ("model-card", lambda p: p.rsplit("/", 1)[-1].lower() in ("model_card.md", "modelcard.md", "model-card.md")),
    ("dockerfile", lambda p: p.rsplit("/", 1)[-1].lower().startswith("dockerfile")),
)


@dataclass(frozen=True)
class Change:
    status: str          # A, M, D, T
    path: str
    blob: str            # new blob sha ("" for deletions)


@dataclass(frozen=True)
class Commit:
    sha: str
    timestamp: int
    author: str
    subject: str
    parents: int
    changes: Tuple[Change, ...]


@dataclass
class History:
    available: bool
    head: Optional[str] = None
    shallow: bool = False
    depth_limit: int = 0
    commits: List[Commit] = field(default_factory=list)   # newest first
    truncated: bool = False
    blob_sizes: Dict[str, int] = field(default_factory=dict)  # data/model blobs only
    missing_blobs: int = 0
    note: str = ""

    def summary(self) -> Dict[str, object]:
        return {"available": self.available, "head": self.head, "shallow": self.shallow,
                "depth_limit": self.depth_limit, "commits_read": len(self.commits),
                "truncated": self.truncated, "note": self.note, "first_seen": self.milestones()}

    def milestones(self) -> Dict[str, Dict[str, object]]:
        """When each practice's files first appeared in the history read (bounded by its depth)."""
        out: Dict[str, Dict[str, object]] = {}
        for name, predicate in MILESTONES:
            hit = self.first_touch(predicate)
            if hit:
                commit, change = hit
                out[name] = {"commit": commit.sha[:12], "date": _iso_date(commit.timestamp), "path": change.path,
                             "may_be_older": self.truncated}
        return out

    def first_touch(self, predicate) -> Optional[Tuple[Commit, Change]]:
        """The oldest read commit that added a path matching `predicate`."""
        found = None
        for c in self.commits:  # newest first, so keep overwriting
            for ch in c.changes:
                if ch.status == "A" and predicate(ch.path):
                    found = (c, ch)
        return found


def is_git_work_tree(root: Path) -> bool:
    import subprocess
    try:
        r = run_git(root, ["rev-parse", "--is-inside-work-tree", "--show-toplevel"], timeout=30, text=True)
    except (OSError, subprocess.SubprocessError):
        return False
    if r.returncode != 0:
        return False
    lines = r.stdout.split()
    return bool(lines) and lines[0] == "true"


def read_history(root: Path, depth: int, diagnostics: List[Diagnostic], rev: str = "HEAD") -> History:
    """The history of commit `rev` (HEAD: the work tree's) down to `depth` commits."""
    import subprocess

    def git(*args: str):
        return run_git(root, args, timeout=600)

    try:
        probe = git("rev-parse", "--git-dir")
    except (OSError, subprocess.SubprocessError) as exc:
        diagnostics.append(Diagnostic(".git", f"cannot run git ({exc.__class__.__name__}); history not read"))
        return History(available=False, note="git missing")
    if probe.returncode != 0:
        err = _decode(probe.stderr)
        if "not a git repository" in err:
            return History(available=False, note="not a git repository")
        diagnostics.append(Diagnostic(".git", f"cannot open the git repository ({_first_line(err)}); history not read"))
        return History(available=False, note="unreadable git repository")
    hist = History(available=True, depth_limit=depth)
    head = git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if head.returncode != 0 or not head.stdout.strip():
        hist.note = "repository has no commits"
        return hist
    hist.head = _decode(head.stdout).strip()
    shallow = git("rev-parse", "--is-shallow-repository")
    hist.shallow = shallow.returncode == 0 and _decode(shallow.stdout).strip() == "true"
    if hist.shallow:
        diagnostics.append(Diagnostic(".git", "shallow clone: history evidence covers only the fetched commits "
                                      "(fetch with depth 0 for full history)"))
    if depth <= 0:
        hist.note = "history reading disabled"
        return hist
    sep = "\x1e"
    try:
        log = git("log", hist.head, f"--max-count={depth + 1}", "--no-renames", "--raw", "--no-abbrev", "-z",
                  "--no-color", f"--format={sep}%H%x00%ct%x00%an%x00%P%x00%s%x00", "--")
    except (OSError, subprocess.SubprocessError) as exc:
        log = None
        failure = exc.__class__.__name__
    if log is None or log.returncode != 0:
        failure = _first_line(_decode(log.stderr)) if log is not None else failure
        diagnostics.append(Diagnostic(".git", f"git log failed ({failure}); history not read"))
        hist.note = "git log failed"
        return hist
    commits = _parse_log(_decode(log.stdout).rstrip("\n"), sep)
    if len(commits) > depth:
        commits = commits[:depth]
        hist.truncated = True
    hist.commits = commits
    _read_blob_sizes(root, hist, diagnostics)
    return hist


def _decode(data) -> str:
    return data.decode("utf-8", "surrogateescape") if isinstance(data, bytes) else (data or "")


def _first_line(text) -> str:
    text = (text or "").strip().splitlines()
    return text[0][:160] if text else "unknown error"


def _parse_log(out: str, sep: str) -> List[Commit]:
    commits: List[Commit] = []
    for record in out.split(sep):
        if not record.strip("\0\n"):
            continue
        fields = record.split("\0")
        if len(fields) < 5:
            continue
        sha, ts, author, parents, subject = fields[:5]
        rest = [f for f in fields[5:]]
        changes: List[Change] = []
        i = 0
        while i < len(rest):
            meta = rest[i].strip("\n")
            if meta.startswith(":") and i + 1 < len(rest):
                parts = meta.split()
                status = parts[4][:1] if len(parts) >= 5 else "M"
                blob = parts[3] if len(parts) >= 4 and status != "D" else ""
                changes.append(Change(status, rest[i + 1], blob))
                i += 2
            else:
                i += 1
        try:
            stamp = int(ts)
        except ValueError:
            stamp = 0
        commits.append(Commit(sha.strip(), stamp, author, subject, len(parents.split()), tuple(changes)))
    return commits


def _read_blob_sizes(root: Path, hist: History, diagnostics: List[Diagnostic]) -> None:
    """Sizes of data/model blobs only, with one `git cat-file --batch-check` call."""
    import subprocess
    blobs = sorted({ch.blob for c in hist.commits for ch in c.changes
                    if ch.blob and not set(ch.blob) <= {"0"} and ch.path.lower().endswith(DATA_OR_MODEL_SUFFIXES)})
    if not blobs:
        return
    try:
        r = run_git(root, ["cat-file", "--batch-check"],
                    input="\n".join(blobs) + "\n", text=True)
    except (OSError, subprocess.SubprocessError):
        diagnostics.append(Diagnostic(".git", "git cat-file failed; blob sizes not read"))
        return
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] == "blob":
            hist.blob_sizes[parts[0]] = int(parts[2])
        elif len(parts) == 2 and parts[1] == "missing":
            hist.missing_blobs += 1
    if hist.missing_blobs:
        diagnostics.append(Diagnostic(".git", f"{hist.missing_blobs} data/model blob(s) in history are missing "
                                      "(partial clone or pruned objects); their sizes are unknown"))
