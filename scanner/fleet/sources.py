"""What `mlscan fleet SOURCES...` scans: checkouts, folders of checkouts, bare repos, list files, URLs.

A SOURCE is
- a git work tree (scanned in place, as `mlscan scan` would),
- a bare git repository (its HEAD, or REF, is read from its objects),
- a folder whose sub-folders are work trees or bare repos (each becomes a source; a folder with
  none is scanned as one plain folder),
- a text file listing sources, one a line, `#` comments, paths relative to the file,
- a URL (https://, http://, file://, git://), only with `--clone`.
Any of them may end in `@REF` (a branch, tag or commit) to scan that commit instead.
"""
from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from mlscan.errors import UsageError
from mlscan.facts.gitsafe import run_git

URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
SAFE_NAME = re.compile(r"[^A-Za-z0-9._+@-]+")
WORKTREE, BARE, FOLDER, REMOTE = "worktree", "bare", "folder", "url"


@dataclass(frozen=True)
class Source:
    given: str            # as written on the command line or in the list file
    location: str         # absolute path, or the URL
    ref: Optional[str]    # None: the work tree as it is (or a bare repo's HEAD)
    kind: str             # worktree | bare | folder | url
    name: str = ""        # unique display name, filled by `name_sources`


def split_ref(text: str) -> Tuple[str, Optional[str]]:
    """"path@REF" -> ("path", "REF"). A URL's user@host part is not a ref."""
    start = 0
    if URL.match(text):
        after_scheme = text.index("://") + 3
        slash = text.find("/", after_scheme)
        start = slash if slash >= 0 else len(text)
    at = text.rfind("@", start)
    if at <= start or at == len(text) - 1:
        return text, None
    return text[:at], text[at + 1:]


def _valid_ref(ref: str) -> bool:
    return bool(ref) and not ref.startswith("-") and not any(c in ref for c in "\0\n\r\t ")


def git_kind(path: Path) -> Optional[str]:
    """worktree, bare, or None (not a git repository of its own)."""
    if (path / ".git").exists():
        return WORKTREE
    if (path / "HEAD").is_file() and (path / "objects").is_dir() and (path / "refs").is_dir():
        try:
            r = run_git(path, ["rev-parse", "--is-bare-repository"], timeout=30, text=True)
        except (OSError, subprocess.SubprocessError):
            return None
        if r.returncode == 0 and r.stdout.strip() == "true":
            return BARE
    return None


def expand(args: Sequence[str], allow_clone: bool, base: Optional[Path] = None,
           from_list: bool = False) -> List[Source]:
    """Every source named by `args`, in order, without duplicates (names not yet given)."""
    out: List[Source] = []
    for given in args:
        text = given.strip()
        if not text:
            continue
        location, ref = (text, None) if (base or Path(".")).joinpath(text).exists() else split_ref(text)
        if ref is not None and not _valid_ref(ref):
            raise UsageError(f"source {given!r}: {ref!r} is not a valid git ref")
        if URL.match(location):
            if not allow_clone:
                raise UsageError(f"source {given!r} is a URL: cloning needs an explicit --clone "
                                 "(mlscan uses no network otherwise)")
            out.append(Source(given, location, ref, REMOTE))
            continue
        path = ((base / location) if base and not Path(location).is_absolute() else Path(location)).resolve()
        if not path.exists():
            raise UsageError(f"source {given!r}: {str(path)!r} does not exist")
        if path.is_file():
            if from_list:
                raise UsageError(f"source {given!r}: a list file cannot name another list file")
            if ref is not None:
                raise UsageError(f"source {given!r}: @REF applies to repositories, not to list files")
            out.extend(expand(read_list(path), allow_clone, base=path.parent, from_list=True))
            continue
        kind = git_kind(path)
        if kind is None:
            children = [c for c in sorted(path.iterdir()) if c.is_dir() and not c.name.startswith(".")]
            repos = [(c, git_kind(c)) for c in children]
            repos = [(c, k) for c, k in repos if k is not None]
            if repos:
                out.extend(Source(f"{given.rstrip('/')}/{c.name}" + (f"@{ref}" if ref else ""), str(c), ref, k)
                           for c, k in repos)
                continue
            if ref is not None:
                raise UsageError(f"source {given!r}: {str(path)!r} is not a git repository, so it has no {ref!r}")
            kind = FOLDER
        out.append(Source(given, str(path), ref, kind))
    seen = set()
    unique = []
    for s in out:
        if (s.location, s.ref) not in seen:
            seen.add((s.location, s.ref))
            unique.append(s)
    return unique


def read_list(path: Path) -> List[str]:
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the list of sources {str(path)!r} ({exc})") from None
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]


def name_sources(sources: Sequence[Source]) -> List[Source]:
    """Give each source the shortest unique name built from the end of its path (or URL)."""
    def parts(s: Source) -> List[str]:
        loc = s.location.rstrip("/")
        if URL.match(loc):
            loc = loc.split("://", 1)[1]
        pieces = [p for p in re.split(r"[/\\:]+", loc) if p]
        if pieces and pieces[-1].endswith(".git") and len(pieces[-1]) > 4:
            pieces[-1] = pieces[-1][:-4]
        return pieces or ["repo"]

    def name(s: Source, depth: int) -> str:
        p = parts(s)
        base = "-".join(p[-depth:])
        if s.ref:
            base += "@" + s.ref
        return SAFE_NAME.sub("_", base).strip("._") or "repo"

    depth = [1] * len(sources)
    while True:
        groups: Dict[str, List[int]] = {}
        for i, s in enumerate(sources):
            groups.setdefault(name(s, depth[i]), []).append(i)
        clashing = [i for ids in groups.values() if len(ids) > 1 for i in ids if depth[i] < len(parts(sources[i]))]
        if not clashing:
            break
        for i in clashing:
            depth[i] += 1
    named: List[Source] = []
    taken: Dict[str, int] = {}
    for i, s in enumerate(sources):
        base = name(s, depth[i])
        taken[base] = taken.get(base, 0) + 1
        unique = base if taken[base] == 1 else f"{base}-{taken[base]}"   # same path, other spelling
        named.append(Source(s.given, s.location, s.ref, s.kind, unique))
    return named
