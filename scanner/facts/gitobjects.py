"""A repository's git objects through one long-lived `git cat-file --batch-command`.

Reading a commit's files this way costs one process for any number of commits: trees are read
once each (a subtree no commit changed is not read again), blob sizes are asked once each, and
blobs are read on demand. `mlscan history` shares one reader across all its commits.
"""
from __future__ import annotations

import os
import subprocess
import weakref
from collections import OrderedDict
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

from mlscan.facts.gitsafe import popen_git

TREE_MODE = b"40000"
LINK_MODE = b"120000"
SUBMODULE_MODE = b"160000"
SIZE_BATCH = 256   # info commands written before their answers are read (pipes stay well under full)
BLOB_CACHE_BYTES = 32 * 1024 * 1024   # blobs kept for the next commit (most files do not change)


class GitObjectError(Exception):
    """The object reader could not start or broke down."""


class GitObjects:
    def __init__(self, toplevel: Path):
        self.toplevel = Path(toplevel)
        self._proc: Optional[subprocess.Popen] = None
        self._pid = os.getpid()   # the process that started `_proc` (a forked child starts its own)
        self._trees: Dict[str, List[Tuple[bytes, str, str]]] = {}
        self._sizes: Dict[str, Optional[int]] = {}
        self._blobs: "OrderedDict[str, bytes]" = OrderedDict()
        self._blob_bytes = 0

    # ---- the process ------------------------------------------------------------------------
    def _pipe(self) -> subprocess.Popen:
        if self._pid != os.getpid():
            self.after_fork()
        if self._proc is None or self._proc.poll() is not None:
            try:
                self._proc = popen_git(self.toplevel, ["cat-file", "--batch-command"])
            except (OSError, subprocess.SubprocessError) as exc:
                raise GitObjectError(exc.__class__.__name__) from None
            weakref.finalize(self, _close, self._proc, self._pid)
        return self._proc

    def after_fork(self) -> None:
        """In a forked worker: the parent's pipe is not ours; start our own when asked."""
        self._proc = None
        self._pid = os.getpid()

    def close(self) -> None:
        if self._proc is not None:
            _close(self._proc, self._pid)
            self._proc = None

    def _ask(self, lines: Iterable[str]) -> None:
        proc = self._pipe()
        assert proc.stdin is not None
        try:
            proc.stdin.write("".join(f"{line}\n" for line in lines).encode())
            proc.stdin.flush()
        except (OSError, ValueError) as exc:
            self._proc = None
            raise GitObjectError(exc.__class__.__name__) from None

    def _header(self) -> List[bytes]:
        assert self._proc is not None and self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            self._proc = None
            raise GitObjectError("git cat-file stopped")
        return line.split()

    # ---- reads ------------------------------------------------------------------------------
    def read_blob(self, sha: str) -> Tuple[Optional[str], bytes]:
        """read(sha), kept a while: the next commit most likely has the same blob."""
        data = self._blobs.get(sha)
        if data is not None:
            self._blobs.move_to_end(sha)
            return "blob", data
        kind, data = self.read(sha)
        if kind == "blob" and len(data) <= BLOB_CACHE_BYTES // 8:
            self._blobs[sha] = data
            self._blob_bytes += len(data)
            while self._blob_bytes > BLOB_CACHE_BYTES:
                self._blob_bytes -= len(self._blobs.popitem(last=False)[1])
        return kind, data

    def read(self, name: str) -> Tuple[Optional[str], bytes]:
        """(object type, content), or (None, b"") when the object is missing."""
        self._ask([f"contents {name}"])
        header = self._header()
        if len(header) != 3:
            return None, b""
        size = int(header[2])
        assert self._proc is not None and self._proc.stdout is not None
        data = self._proc.stdout.read(size + 1)
        if len(data) != size + 1:
            self._proc = None
            raise GitObjectError("git cat-file stopped")
        return header[1].decode(), data[:size]

    def sizes(self, shas: Iterable[str]) -> Dict[str, Optional[int]]:
        """Each object's size (None when missing), asked once per object for the reader's life."""
        wanted = list(dict.fromkeys(shas))
        unknown = [s for s in wanted if s not in self._sizes]
        for start in range(0, len(unknown), SIZE_BATCH):
            chunk = unknown[start:start + SIZE_BATCH]
            self._ask([f"info {s}" for s in chunk])
            for sha in chunk:
                header = self._header()
                self._sizes[sha] = int(header[2]) if len(header) == 3 and header[2].isdigit() else None
        return {s: self._sizes[s] for s in wanted}

    def tree(self, sha: str) -> List[Tuple[bytes, str, str]]:
        """(mode, name, sha) of each entry of a tree object, read once."""
        got = self._trees.get(sha)
        if got is None:
            kind, data = self.read(sha)
            if kind != "tree":
                raise GitObjectError(f"tree {sha[:12]} missing")
            got = self._trees[sha] = _parse_tree(data, len(sha) // 2)
        return got

    def commit_tree(self, commit: str) -> str:
        kind, data = self.read(commit)
        if kind != "commit" or not data.startswith(b"tree "):
            raise GitObjectError(f"commit {commit[:12]} missing")
        return data[5:data.index(b"\n")].decode()

    def listing(self, commit: str, prefix: str = "") -> List[Tuple[str, bytes, str]]:
        """(path below `prefix`, mode, sha) of every non-tree entry of the commit under `prefix`,
        as `git ls-tree -r --full-tree COMMIT -- PREFIX` lists them; empty when `prefix` is absent."""
        tree = self.commit_tree(commit)
        for part in [p for p in prefix.split("/") if p]:
            sub = next((sha for mode, name, sha in self.tree(tree) if name == part and mode == TREE_MODE), None)
            if sub is None:
                return []
            tree = sub
        out: List[Tuple[str, bytes, str]] = []
        stack = [("", tree)]
        while stack:
            base, sha = stack.pop()
            for mode, name, entry in self.tree(sha):
                path = base + name
                if mode == TREE_MODE:
                    stack.append((path + "/", entry))
                else:
                    out.append((path, mode, entry))
        return out


def _parse_tree(data: bytes, hash_len: int) -> List[Tuple[bytes, str, str]]:
    entries = []
    i, n = 0, len(data)
    while i < n:
        space = data.index(b" ", i)
        nul = data.index(b"\0", space)
        mode = data[i:space]
        name = data[space + 1:nul].decode("utf-8", "surrogateescape")
        sha = data[nul + 1:nul + 1 + hash_len].hex()
        entries.append((mode, name, sha))
        i = nul + 1 + hash_len
    return entries


def _close(proc, owner: int) -> None:
    if os.getpid() != owner:
        return  # a forked child's copy of its parent's reader: the parent closes it
    try:
        if proc.stdin:
            proc.stdin.close()
        proc.wait(timeout=5)
    except Exception:
        proc.kill()
