"""Which files the repo has, read safely: never follows links out of the tree, never loads huge
or binary files, and turns every problem into a diagnostic."""
from __future__ import annotations

import os
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Set, Tuple

from mlscan.facts import track
from mlscan.facts.gitsafe import run_git
from mlscan.report.model import Diagnostic

SKIP_DIRS = {".git", ".hg", ".svn", "node_modules", "site-packages", "__pycache__", ".venv", "venv",
             "env", ".env", ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache",
             ".ipynb_checkpoints", ".eggs", "dist", "build"}
MAX_TEXT_BYTES = 2 * 1024 * 1024      # text files we parse
TEXT_SUFFIXES = {".py", ".pyi", ".ipynb", ".yaml", ".yml", ".toml", ".json", ".cfg", ".ini", ".txt",
                 ".md", ".rst", ".in", ".lock", ".sh", ".mlproject", ".dvc", ".conf", ".properties",
                 ".env", ".r", ".groovy", ".jenkinsfile", ".dockerfile"}
TEXT_NAMES = {"Dockerfile", "MLproject", "Makefile", "Jenkinsfile", "Pipfile", ".gitattributes",
              ".gitignore", ".dvcignore", ".lfsconfig", "config", "Procfile", "Containerfile",
              "CODEOWNERS", ".gitlab-ci.yml", "requirements", "environment"}


@dataclass(frozen=True)
class FileEntry:
    path: str          # repo-relative, POSIX separators
    _size: int         # read as `size` (which tells a recording scan that the size was looked at)
    tracked: bool      # in git's index (False outside git or for untracked files)

    @property
    def size(self) -> int:
        if track.ACTIVE is not None:
            track.read(("size", self.path))
        return self._size

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def suffix(self) -> str:
        """As `PurePosixPath(path).suffix.lower()`, without building a path object (rules ask often)."""
        name = self.name
        i = name.rfind(".")
        return name[i:].lower() if 0 < i < len(name) - 1 else ""

    @property
    def parts(self) -> Tuple[str, ...]:
        return tuple(self.path.split("/"))


def _is_virtualenv(dirpath: Path) -> bool:
    return (dirpath / "pyvenv.cfg").is_file()


def _skipped(rel: str, excludes) -> bool:
    parts = rel.split("/")
    if any(p in SKIP_DIRS for p in parts[:-1]):
        return True
    return bool(excludes is not None and excludes.match_file(rel))


class Inventory:
    """The list of files in scope, plus safe reads of their text."""

    def __init__(self, root: Path, in_git: bool, exclude: Iterable[str] = ()):
        self.root = root.resolve()
        self.in_git = in_git
        self.diagnostics: List[Diagnostic] = []
        patterns = list(exclude)
        self._excludes = None
        if patterns:
            import pathspec
            self._excludes = pathspec.GitIgnoreSpec.from_lines(patterns)
        self.files: List[FileEntry] = []
        self._by_path: Dict[str, FileEntry] = {}
        self._text_cache: Dict[str, Optional[str]] = {}
        self._absent: List[str] = []       # listed by git's index, missing from the work tree
        # what the listing's lstat said of each plain file (mtime, ctime, inode, device, size), and
        # when the listing began: see Facts.input_digest, which trusts a blob known for a file unchanged since
        self.stat_keys: Dict[str, Tuple[int, int, int, int, int]] = {}
        self.listed_at_ns = time.time_ns()
        self._collect()

    # ---- collection -------------------------------------------------------------------------
    def _collect(self) -> None:
        listed = self._git_listing() if self.in_git else None
        rels = listed if listed is not None else self._walk()
        seen = set()
        for rel, tracked in rels:
            if rel in seen or _skipped(rel, self._excludes):
                continue
            seen.add(rel)
            entry = self._stat(rel, tracked)
            if entry is not None:
                self.files.append(entry)
                self._by_path[rel] = entry
            elif tracked and not (self.root / rel).exists() and not (self.root / rel).is_symlink():
                self._absent.append(rel)
        self.files.sort(key=lambda f: f.path)

    def absent_tracked(self, suffixes: Tuple[str, ...], limit: int = 200) -> Dict[str, Optional[int]]:
        """Files with one of `suffixes` that git's index lists but the work tree lacks (deleted
        locally, or large blobs a partial clone left out) -> blob size, None when the blob itself is
        not in the clone. At most `limit` files, with one `ls-files` and one `cat-file` call."""
        wanted = sorted(p for p in self._absent if p.lower().endswith(suffixes))[:limit]
        if not wanted:
            return {}
        try:
            listing = run_git(self.root, ["ls-files", "-s", "-z", "--", *wanted], check=True).stdout
            blobs: Dict[str, str] = {}
            for record in listing.split(b"\0"):
                meta, _, raw = record.partition(b"\t")
                fields = meta.split()
                if len(fields) >= 2:
                    blobs[raw.decode("utf-8", "surrogateescape")] = fields[1].decode()
            sizes = run_git(self.root, ["cat-file", "--batch-check"], text=True,
                            input="".join(f"{b}\n" for b in blobs.values())).stdout.splitlines() if blobs else []
        except (OSError, subprocess.SubprocessError):
            return {}
        known: Dict[str, int] = {}
        for line in sizes:
            parts = line.split()
            if len(parts) == 3 and parts[1] == "blob" and parts[2].isdigit():
                known[parts[0]] = int(parts[2])
        return {p: known.get(b) for p, b in sorted(blobs.items())}

    def _git_listing(self) -> Optional[List[Tuple[str, bool]]]:
        def run(*args: str) -> Optional[List[str]]:
            try:
                out = run_git(self.root, args, check=True).stdout
            except (OSError, subprocess.SubprocessError):
                return None
            return [p.decode("utf-8", "surrogateescape") for p in out.split(b"\0") if p]
        tracked = run("ls-files", "-z", "--cached")
        if tracked is None:
            self.diagnostics.append(Diagnostic(".", "git ls-files failed; listing files by walking the tree"))
            return None
        untracked = run("ls-files", "-z", "--others", "--exclude-standard") or []
        return [(p, True) for p in tracked] + [(p, False) for p in untracked]

    def _walk(self) -> List[Tuple[str, bool]]:
        import pathspec
        found: List[Tuple[str, bool]] = []
        ignore_specs: Dict[str, object] = {}

        def ignored(rel: str, is_dir: bool) -> bool:
            probe = rel + "/" if is_dir else rel
            for base, spec in ignore_specs.items():
                if base and not probe.startswith(base + "/"):
                    continue
                sub = probe[len(base) + 1:] if base else probe
                if spec.match_file(sub):  # type: ignore[attr-defined]
                    return True
            return False

        visited: Set[Tuple[int, int]] = set()
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=False):
            d = Path(dirpath)
            try:
                st = d.stat()
                key = (st.st_dev, st.st_ino)
            except OSError:
                continue
            if key in visited:
                dirnames[:] = []
                continue
            visited.add(key)
            rel_dir = d.relative_to(self.root).as_posix()
            rel_dir = "" if rel_dir == "." else rel_dir
            gi = d / ".gitignore"
            if gi.is_file() and not gi.is_symlink():
                try:
                    ignore_specs[rel_dir] = pathspec.GitIgnoreSpec.from_lines(
                        gi.read_text("utf-8", "replace").splitlines())
                except Exception:  # a malformed pattern must not stop the scan
                    self.diagnostics.append(Diagnostic(f"{rel_dir}/.gitignore".lstrip("/"),
                                                       "unreadable .gitignore; its patterns were not applied"))
            keep = []
            for name in sorted(dirnames):
                rel = f"{rel_dir}/{name}" if rel_dir else name
                if name in SKIP_DIRS or _is_virtualenv(d / name) or ignored(rel, True):
                    continue
                if (d / name).is_symlink():
                    found.append((rel, False))  # checked as a file entry (and reported) below
                    continue
                keep.append(name)
            dirnames[:] = keep
            for name in sorted(filenames):
                rel = f"{rel_dir}/{name}" if rel_dir else name
                if not ignored(rel, False):
                    found.append((rel, False))
        return found

    def _stat(self, rel: str, tracked: bool) -> Optional[FileEntry]:
        try:   # the common case in one system call: a regular file, not a link
            st = os.lstat(os.path.join(self.root, rel))
        except OSError:
            return self._stat_slowly(rel, tracked)
        if stat.S_ISLNK(st.st_mode):
            return self._stat_slowly(rel, tracked)
        if not stat.S_ISREG(st.st_mode):
            return None
        self.stat_keys[rel] = (st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev, st.st_size)
        return FileEntry(rel, st.st_size, tracked)

    def _stat_slowly(self, rel: str, tracked: bool) -> Optional[FileEntry]:
        full = self.root / rel
        try:
            if full.is_symlink():
                try:
                    target = full.resolve(strict=True)
                except (OSError, RuntimeError):
                    self.diagnostics.append(Diagnostic(rel, "symlink is broken or loops; skipped"))
                    return None
                if self.root not in target.parents and target != self.root:
                    self.diagnostics.append(Diagnostic(rel, "symlink points outside the repository; not followed"))
                    return None
                if target.is_dir():
                    return None  # its files are listed under their real path
            st = full.stat()
        except FileNotFoundError:
            return None  # listed by git but deleted in the work tree
        except (OSError, RuntimeError) as exc:
            self.diagnostics.append(Diagnostic(rel, f"cannot stat file: {exc.__class__.__name__}"))
            return None
        if not full.is_file():
            return None
        return FileEntry(rel, st.st_size, tracked)

    # ---- queries ----------------------------------------------------------------------------
    def get(self, rel: str) -> Optional[FileEntry]:
        if track.ACTIVE is not None:
            track.read(("exists", rel))
        return self._by_path.get(rel)

    def exists(self, rel: str) -> bool:
        if track.ACTIVE is not None:
            track.read(("exists", rel))
        return rel in self._by_path

    def named(self, *names: str) -> List[FileEntry]:
        if track.ACTIVE is not None:
            track.read(track.LISTING)
        wanted = set(names)
        return [f for f in self.files if f.name in wanted]

    def blob_of(self, rel: str) -> Optional[str]:
        """The git blob SHA of the file when the listing already knows it (trees read from git)."""
        return None

    def after_fork(self) -> None:
        """In a forked worker: drop what must not be shared with the parent process."""

    def read_bytes(self, rel: str) -> Tuple[Optional[bytes], Optional[str]]:
        """(bytes, None) or (None, problem)."""
        if track.ACTIVE is not None:
            track.read(("content", rel))
        try:
            with open(os.path.join(self.root, rel), "rb") as fh:
                return fh.read(), None
        except OSError as exc:
            return None, f"cannot read: {exc.strerror or exc}"

    def read_text(self, rel: str, what: str = "file") -> Optional[str]:
        """The file's text, or None with a diagnostic. Each file is read at most once."""
        if track.ACTIVE is not None:
            track.read(("content", rel))
        if rel in self._text_cache:
            return self._text_cache[rel]
        text = self._read(rel, what)
        self._text_cache[rel] = text
        return text

    def _read(self, rel: str, what: str) -> Optional[str]:
        entry = self._by_path.get(rel)
        if entry is None:
            return None
        limit = MAX_TEXT_BYTES * 4 if rel.endswith(".ipynb") else MAX_TEXT_BYTES  # notebooks carry outputs
        if entry.size > limit:
            self.diagnostics.append(Diagnostic(
                rel, f"{what} is {entry.size // 1024} KiB, over the {limit // 1024} KiB limit; not parsed"))
            return None
        data, problem = self.read_bytes(rel)
        if data is None:
            self.diagnostics.append(Diagnostic(rel, f"cannot read {what}: {problem.split(': ', 1)[-1]}"))
            return None
        from mlscan.facts.indexing import decode
        text, problem = decode(data, rel.endswith(".py"))
        if problem:
            self.diagnostics.append(Diagnostic(rel, f"{what} {problem}"))
        return text


def _pep263_encoding(data: bytes) -> Optional[str]:
    import re
    for line in data.splitlines()[:2]:
        m = re.match(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)", line)
        if m:
            return m.group(1).decode("ascii", "replace")
    return None


class GitTreeInventory(Inventory):
    """The files of one commit, read from git objects: no checkout, nothing written anywhere.

    `prefix` ("sub/dir/" or "") limits the listing to a subfolder, and paths are relative to it,
    as they are when that subfolder of the work tree is scanned."""

    def __init__(self, toplevel: Path, commit: str, prefix: str = "", exclude: Iterable[str] = (),
                 objects=None):
        from mlscan.facts.gitobjects import GitObjects
        self.toplevel = Path(toplevel)
        self.commit = commit
        self.prefix = prefix
        self._blobs: Dict[str, str] = {}
        self.objects = objects if objects is not None else GitObjects(self.toplevel)
        super().__init__(self.toplevel / prefix if prefix else self.toplevel, True, exclude)

    def _collect(self) -> None:
        from mlscan.facts.gitobjects import LINK_MODE, SUBMODULE_MODE, GitObjectError
        try:
            listed = self.objects.listing(self.commit, self.prefix)
            listed = [(rel, mode, sha) for rel, mode, sha in listed
                      if mode != SUBMODULE_MODE and not _skipped(rel, self._excludes)]
            sizes = self.objects.sizes(sha for _, mode, sha in listed if mode != LINK_MODE)
        except GitObjectError:
            self.diagnostics.append(Diagnostic(".", f"cannot list the files of commit {self.commit[:12]}"))
            return
        regular: Dict[str, Tuple[str, int]] = {}
        links: Dict[str, str] = {}
        for rel, mode, blob in listed:  # submodules (commits) are not files of this repo
            if mode == LINK_MODE:
                links[rel] = blob
            else:
                regular[rel] = (blob, sizes.get(blob) or 0)
        for rel, link_blob in sorted(links.items()):  # a link to a file inside the tree reads as that file
            target = self._link_target(rel, link_blob)
            if target is None or target not in regular:
                if target is None:
                    self.diagnostics.append(Diagnostic(rel, "symlink points outside the repository; not followed"))
                elif not any(p.startswith(target + "/") for p in regular):
                    self.diagnostics.append(Diagnostic(rel, "symlink is broken or loops; skipped"))
                continue
            regular[rel] = regular[target]
        for rel in sorted(regular):
            blob, size = regular[rel]
            entry = FileEntry(rel, size, True)
            self.files.append(entry)
            self._by_path[rel] = entry
            self._blobs[rel] = blob

    def _link_target(self, rel: str, blob: str) -> Optional[str]:
        data, _ = self._cat(blob)
        if data is None:
            return None
        target = data.decode("utf-8", "surrogateescape")
        if target.startswith("/"):
            return None
        parts: List[str] = rel.split("/")[:-1]
        for part in target.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if not parts:
                    return None
                parts.pop()
            else:
                parts.append(part)
        return "/".join(parts)

    def blob_of(self, rel: str) -> Optional[str]:
        if track.ACTIVE is not None:
            track.read(("content", rel))
        return self._blobs.get(rel)

    def after_fork(self) -> None:
        self.objects.after_fork()  # the parent's `git cat-file` pipe: a worker starts its own

    def read_bytes(self, rel: str) -> Tuple[Optional[bytes], Optional[str]]:
        if track.ACTIVE is not None:
            track.read(("content", rel))
        blob = self._blobs.get(rel)
        if blob is None:
            return None, "cannot read: not in the commit"
        return self._cat(blob)

    def _cat(self, blob: str) -> Tuple[Optional[bytes], Optional[str]]:
        """One blob through the repository's long-lived `git cat-file`."""
        from mlscan.facts.gitobjects import GitObjectError
        try:
            kind, data = self.objects.read_blob(blob)
        except GitObjectError as exc:
            return None, f"cannot read: git cat-file failed ({exc})"
        if kind != "blob":
            return None, "cannot read: git object missing (partial clone or pruned objects)"
        return data, None
