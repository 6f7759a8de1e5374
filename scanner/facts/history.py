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


SHALLOW_CLONE = Diagnostic(".git", "shallow clone: history evidence covers only the fetched commits "
                                  "(fetch with depth 0 for full history)")

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


def read_history(root: Path, depth: int, diagnostics: List[Diagnostic], rev: str = "HEAD",
                 store=None) -> History:
    """The history of commit `rev` (HEAD: the work tree's) down to `depth` commits. With `store` (a
    FactStore), what `git log` gave is kept there by commit SHA and depth, and read back instead of
    running it again (not for a shallow clone: fetching more changes its log)."""
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
        diagnostics.append(SHALLOW_CLONE)
    if depth <= 0:
        hist.note = "history reading disabled"
        return hist
    key = f"{hist.head}:{depth}"
    if store is not None and not hist.shallow:
        saved = store.get_many("history", [key]).get(key)
        if isinstance(saved, History) and saved.head == hist.head and saved.depth_limit == depth:
            return saved
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
    said = len(diagnostics)
    _read_blob_sizes(root, hist, diagnostics)
    if store is not None and not hist.shallow and len(diagnostics) == said:   # nothing it would have to say again
        store.put_encoded("history", [(key, hist, None)], later=True)
    return hist


def _decode(data) -> str:
    return data.decode("utf-8", "surrogateescape") if isinstance(data, bytes) else (data or "")


def _first_line(text) -> str:
    text = (text or "").strip().splitlines()
    return text[0][:160] if text else "unknown error"


def _parse_log(out: str, sep: str, parents_of: Optional[Dict[str, Tuple[str, ...]]] = None) -> List[Commit]:
    """The commits of a `git log` in its order; `parents_of`, when given, gets each one's parents."""
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
        if parents_of is not None:
            parents_of[sha.strip()] = tuple(parents.split())
    return commits


def _read_blob_sizes(root: Path, hist: History, diagnostics: List[Diagnostic], objects=None) -> None:
    """Sizes of data/model blobs only, with one `git cat-file --batch-check` call (or through
    `objects`, a GitObjects reader, when one is shared)."""
    import subprocess
    blobs = sorted({ch.blob for c in hist.commits for ch in c.changes
                    if ch.blob and not set(ch.blob) <= {"0"} and ch.path.lower().endswith(DATA_OR_MODEL_SUFFIXES)})
    if not blobs:
        return
    if objects is not None:
        from mlscan.facts.gitobjects import GitObjectError
        try:
            sizes = objects.sizes(blobs)
        except GitObjectError:
            diagnostics.append(Diagnostic(".git", "git cat-file failed; blob sizes not read"))
            return
        for blob in blobs:
            if sizes[blob] is None:
                hist.missing_blobs += 1
            else:
                hist.blob_sizes[blob] = sizes[blob]  # type: ignore[assignment]
        _report_missing(hist, diagnostics)
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
    _report_missing(hist, diagnostics)


def _report_missing(hist: History, diagnostics: List[Diagnostic]) -> None:
    if hist.missing_blobs:
        diagnostics.append(Diagnostic(".git", f"{hist.missing_blobs} data/model blob(s) in history are missing "
                                      "(partial clone or pruned objects); their sizes are unknown"))


LOG_SEP = "\x1e"
LOG_FORMAT = f"--format={LOG_SEP}%H%x00%ct%x00%an%x00%P%x00%s%x00"


class CommitSession:
    """What the scans of many commits of one repository share (`mlscan history`): one git object
    reader, and one `git log` of the newest commit whose records serve every older commit's history.

    A commit's history is what `git log COMMIT` lists: its ancestors, in the order git's default
    walk gives (newest committer date first, parents queued in order, ties first come first out),
    which is replayed here over the parent links of the one log. Where that log does not reach far
    enough, the commit's history is read with its own `git log`."""

    def __init__(self, toplevel: Path, root: Path, newest: str, reach: int = 0, reuse_rules: bool = True):
        from mlscan.facts.gitobjects import GitObjects
        self.reuse_rules = reuse_rules
        self.objects = GitObjects(toplevel)
        self.root = root            # where a scan runs git (the scanned folder)
        self.newest = newest
        self.reach = reach          # commits reachable from `newest` but not from the oldest scanned one
        self._log: Optional[Dict[str, Commit]] = None
        self._parents: Dict[str, Tuple[str, ...]] = {}
        self._log_depth = -1
        self._walks: Dict[str, Tuple[List[Commit], int]] = {}   # the last walks, for their children
        self._shallow: Optional[bool] = None
        self.rule_memory: Dict[str, Dict[str, object]] = {}   # per settings: what each rule read and found
        self.parsed: Dict[Tuple[str, str, str], object] = {}  # (kind, path, blob): a parsed file (Facts.parsed_once)

    def history(self, sha: str, depth: int, diagnostics: List[Diagnostic]) -> History:
        """What read_history(root, depth, diagnostics, rev=sha) returns, without a git process per commit."""
        commits = self._walk(sha, depth + 1) if depth > 0 else []
        if commits is None:
            return read_history(self.root, depth, diagnostics, rev=sha)
        hist = History(available=True, depth_limit=depth, head=sha, shallow=self._is_shallow())
        if hist.shallow:
            diagnostics.append(SHALLOW_CLONE)
        if depth <= 0:
            hist.note = "history reading disabled"
            return hist
        if len(commits) > depth:
            commits = commits[:depth]
            hist.truncated = True
        hist.commits = commits
        _read_blob_sizes(self.root, hist, diagnostics, self.objects)
        return hist

    def _is_shallow(self) -> bool:
        if self._shallow is None:
            import subprocess
            try:
                r = run_git(self.root, ["rev-parse", "--is-shallow-repository"], timeout=60)
                self._shallow = r.returncode == 0 and _decode(r.stdout).strip() == "true"
            except (OSError, subprocess.SubprocessError):
                self._shallow = False
        return self._shallow

    def _read_log(self, depth: int) -> Optional[Dict[str, Commit]]:
        if self._log is None or self._log_depth < depth:
            import subprocess
            try:
                r = run_git(self.root, ["log", self.newest, f"--max-count={depth + 1 + self.reach}", "--no-renames",
                                        "--raw", "--no-abbrev", "-z", "--no-color", LOG_FORMAT, "--"], timeout=600)
            except (OSError, subprocess.SubprocessError):
                return None
            if r.returncode != 0:
                return None
            self._parents = {}
            commits = _parse_log(_decode(r.stdout).rstrip("\n"), LOG_SEP, self._parents)
            self._log, self._log_depth = {c.sha: c for c in commits}, depth
        return self._log

    def _walk(self, start: str, count: int) -> Optional[List[Commit]]:
        """The first `count` commits `git log START` would list, or None when the log lacks one."""
        log = self._read_log(count - 1)
        if log is None or start not in log:
            return None
        parents = self._parents.get(start, ())
        if len(parents) == 1 and parents[0] in self._walks:  # the walk from its one parent, after it
            before, asked = self._walks[parents[0]]
            if len(before) >= count - 1 or len(before) < asked:
                out = [log[start]] + before[:count - 1]
                self._remember_walk(start, out, count)
                return out
        out = self._full_walk(log, start, count)
        if out is not None:
            self._remember_walk(start, out, count)
        return out

    def _remember_walk(self, sha: str, walk: List[Commit], asked: int) -> None:
        while len(self._walks) >= 2:
            self._walks.pop(next(iter(self._walks)))
        self._walks[sha] = (walk, asked)

    def _full_walk(self, log: Dict[str, Commit], start: str, count: int) -> Optional[List[Commit]]:
        queue: List[Commit] = [log[start]]   # newest committer date first; equal dates first in, first out
        seen = {start}
        out: List[Commit] = []
        while queue and len(out) < count:
            commit = queue.pop(0)
            out.append(commit)
            for parent in self._parents.get(commit.sha, ()):
                if parent in seen:
                    continue
                found = log.get(parent)
                if found is None:
                    return None
                seen.add(parent)
                at = len(queue)
                for i, queued in enumerate(queue):
                    if queued.timestamp < found.timestamp:
                        at = i
                        break
                queue.insert(at, found)
        return out
