"""Build real, deterministic git repositories from `fixtures/<name>/`, and run the mlscan CLI.

A fixture folder holds plain files. `FIXTURE.md` (what the fixture represents and what the scan
should say) and `_next/` (an overlay applied as a later commit) describe the fixture and are never
copied into the repository that gets scanned.

Commits are deterministic: fixed author and committer, and dates derived from the number of commits
already in the repository, so the same fixture always gives the same commit SHAs.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterable, Mapping, Optional, Sequence, Tuple, Union

TESTS = Path(__file__).resolve().parent
MAIN = TESTS.parent
FIXTURES = MAIN / "fixtures"

# Fixture metadata: described next to the files, never part of the scanned repository.
FIXTURE_ONLY = frozenset({"FIXTURE.md", "_next"})
NEVER_COPY = frozenset({"__pycache__", ".pytest_cache"})

AUTHOR = ("Fixture Author", "fixtures@example.com")
COMMITTER = ("Fixture Committer", "ci@example.com")
BASE_EPOCH = 1_717_200_000  # 2024-06-01T00:00:00Z; the n-th commit is dated BASE_EPOCH + n hours

Content = Union[str, bytes]


class GitError(RuntimeError):
    pass


def git_env(when: Optional[int] = None) -> Dict[str, str]:
    """The environment for git: no user/system config, fixed identity, and optionally a fixed date."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update({
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": AUTHOR[0], "GIT_AUTHOR_EMAIL": AUTHOR[1],
        "GIT_COMMITTER_NAME": COMMITTER[0], "GIT_COMMITTER_EMAIL": COMMITTER[1],
        "GIT_TERMINAL_PROMPT": "0",
    })
    if when is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = f"@{when} +0000"
    return env


def git(cwd: Union[str, Path], *args: str, when: Optional[int] = None, check: bool = True) -> str:
    proc = subprocess.run(["git", *args], cwd=str(cwd), env=git_env(when),
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise GitError(f"git {' '.join(args)} failed in {cwd}: {proc.stderr.strip()}")
    return proc.stdout


def fixture_path(name: str) -> Path:
    path = FIXTURES / name
    if not path.is_dir():
        raise FileNotFoundError(f"no fixture named {name!r} in {FIXTURES}")
    return path


def _copy_tree(src: Path, dest: Path, skip: Iterable[str]) -> None:
    """Copy src's contents into dest (merging, overwriting files), skipping top-level names in skip."""
    skip = set(skip)
    dest.mkdir(parents=True, exist_ok=True)
    for entry in sorted(src.iterdir()):
        if entry.name in skip or entry.name in NEVER_COPY:
            continue
        target = dest / entry.name
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, target, symlinks=True, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns(*NEVER_COPY))
        else:
            shutil.copy2(entry, target, follow_symlinks=False)


def copy_fixture(name: str, dest: Union[str, Path]) -> Path:
    """A plain copy of a fixture (no git), without its metadata files."""
    dest = Path(dest)
    _copy_tree(fixture_path(name), dest, FIXTURE_ONLY)
    return dest


class GitRepo:
    """A git repository in a temporary folder, built commit by commit."""

    def __init__(self, root: Union[str, Path]):
        self.root = Path(root)

    @classmethod
    def init(cls, root: Union[str, Path], branch: str = "main") -> "GitRepo":
        root = Path(root)
        root.mkdir(parents=True, exist_ok=True)
        git(root, "init", "-q", "-b", branch)
        for key, value in (("core.autocrlf", "false"), ("core.symlinks", "true"),
                           ("commit.gpgsign", "false"), ("tag.gpgsign", "false"),
                           ("gc.auto", "0")):
            git(root, "config", key, value)
        return cls(root)

    def git(self, *args: str, check: bool = True) -> str:
        return git(self.root, *args, check=check)

    # --- content -------------------------------------------------------------------------------
    def add_fixture(self, name: str) -> "GitRepo":
        """Copy a fixture's files into the work tree (overwriting), without its metadata."""
        _copy_tree(fixture_path(name), self.root, FIXTURE_ONLY)
        return self

    def apply_overlay(self, name: str, overlay: str = "_next") -> "GitRepo":
        """Copy `fixtures/<name>/<overlay>/` over the work tree."""
        src = fixture_path(name) / overlay
        if not src.is_dir():
            raise FileNotFoundError(f"fixture {name!r} has no {overlay}/ overlay")
        _copy_tree(src, self.root, ())
        return self

    def write(self, rel: str, content: Content) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(content.encode("utf-8"))
        return path

    def symlink(self, rel: str, target: Union[str, Path]) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(str(target), str(path))
        return path

    def remove(self, rel: str) -> None:
        path = self.root / rel
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()

    # --- history -------------------------------------------------------------------------------
    def commit_count(self) -> int:
        return int(self.git("rev-list", "--all", "--count").strip() or 0)

    def commit(self, message: str) -> str:
        """Stage everything and commit with a deterministic identity and date; returns the SHA."""
        self.git("add", "-A")
        when = BASE_EPOCH + 3600 * (self.commit_count() + 1)
        git(self.root, "commit", "-q", "--allow-empty", "--no-verify", "-m", message, when=when)
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").strip()

    def rev_parse(self, rev: str) -> str:
        return self.git("rev-parse", rev).strip()

    def current_branch(self) -> str:
        return self.git("symbolic-ref", "--short", "-q", "HEAD", check=False).strip()

    def branch(self, name: str, start: str = "HEAD") -> "GitRepo":
        self.git("branch", name, start)
        return self

    def checkout(self, name: str, create: bool = False) -> "GitRepo":
        if create:
            self.git("checkout", "-q", "-b", name)
        else:
            self.git("checkout", "-q", name)
        return self

    def clone(self, dest: Union[str, Path], depth: Optional[int] = None) -> "GitRepo":
        """Clone through file:// (so that --depth is honoured) into dest."""
        args = ["clone", "-q"]
        if depth is not None:
            args += ["--depth", str(depth)]
        git(Path(dest).parent, *args, self.root.resolve().as_uri(), str(dest))
        return GitRepo(dest)

    # --- observation ---------------------------------------------------------------------------
    def status(self) -> str:
        """`git status --porcelain --ignored`: empty when the work tree is exactly HEAD."""
        return self.git("status", "--porcelain", "--ignored")

    def worktrees(self) -> str:
        return self.git("worktree", "list", "--porcelain")

    def snapshot(self) -> Dict[str, Tuple[str, Union[bytes, str, None]]]:
        return snapshot(self.root)

    def git_dir_files(self) -> set:
        """Paths under .git, to notice files a scan leaves there (the index may be refreshed)."""
        git_dir = self.root / ".git"
        return {p.relative_to(git_dir).as_posix() for p in git_dir.rglob("*")
                if p.relative_to(git_dir).as_posix() not in ("index", "index.lock")}


def snapshot(root: Union[str, Path], include_git: bool = False) -> Dict[str, Tuple[str, Union[bytes, str, None]]]:
    """Every entry under root, .git only with `include_git` (less .git/index, whose stat data git
    may refresh): files by bytes, symlinks by target (never followed)."""
    root = Path(root)
    out: Dict[str, Tuple[str, Union[bytes, str, None]]] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        if here == root and ".git" in dirnames and not include_git:
            dirnames.remove(".git")
        for name in sorted(dirnames + filenames):
            path = here / name
            rel = path.relative_to(root).as_posix()
            if rel in (".git/index", ".git/index.lock"):
                continue
            if path.is_symlink():
                out[rel] = ("link", os.readlink(path))
            elif path.is_dir():
                out[rel] = ("dir", None)
            else:
                out[rel] = ("file", path.read_bytes())
    return out


def make_fixture_repo(name: str, dest: Union[str, Path], message: Optional[str] = None) -> GitRepo:
    """A one-commit git repository holding fixture `name`."""
    repo = GitRepo.init(dest)
    repo.add_fixture(name)
    repo.commit(message or f"Import {name}")
    return repo


# --- runtime-only content for fixtures/bad-inputs -----------------------------------------------
LATIN1_PY = ("# \u00c9tiquettes des cat\u00e9gories, export\u00e9es du syst\u00e8me de caisse\n"
             "LABELS = {'caf\u00e9': 0, 'cr\u00e8me br\u00fbl\u00e9e': 1, 'p\u00e2tisserie': 2}\n"
             ).encode("latin-1")
BINARY_PY = (b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (1024,), }"
             + b" " * 10 + b"\n" + bytes(range(256)) * 16)
OUTSIDE_MARKER = "OUTSIDE_REPO_MARKER_7f3a"
HUGE_PY_BYTES = 12 * 1024 * 1024

# Paths (relative to the repo root) of the unreadable files created at run time.
RUNTIME_BAD_FILES = ("legacy/latin1_labels.py", "weights_blob.py")
# Symlinks that leave the repository: nothing under them may be cited.
OUTSIDE_LINKS = ("outside_dir", "outside_leak.py")


def huge_python_module(size: int = HUGE_PY_BYTES) -> bytes:
    """A generated lookup-table module of about `size` bytes (valid Python, cheap to make)."""
    head = b'"""Generated by tools/export_lookup.py -- do not edit."""\nLOOKUP = [\n'
    lines = []
    total = len(head)
    i = 0
    while total < size:
        digest = hashlib.sha256(str(i).encode()).hexdigest()
        line = f'    "{digest}{digest}",\n'.encode()
        lines.append(line)
        total += len(line)
        i += 1
    return head + b"".join(lines) + b"]\n"


def add_runtime_bad_inputs(repo: GitRepo, outside: Union[str, Path]) -> None:
    """Add to a bad-inputs work tree what is awkward or unwise to commit in the fixture:
    non-UTF-8 and binary .py files, symlink loops, symlinks leaving the repo and a huge file."""
    outside = Path(outside)
    outside.mkdir(parents=True, exist_ok=True)
    (outside / "leak.py").write_text(
        f"import torch\n\ntorch.manual_seed(0)  # {OUTSIDE_MARKER}\n"
        "import mlflow\nmlflow.start_run()\n")
    repo.write("legacy/latin1_labels.py", LATIN1_PY)
    repo.write("weights_blob.py", BINARY_PY)
    repo.symlink("loop_a.py", "loop_b.py")
    repo.symlink("loop_b.py", "loop_a.py")
    repo.write("nested/README.md", "nested folder with a link back to its parent\n")
    repo.symlink("nested/back", "..")
    repo.symlink("outside_dir", outside.resolve())
    repo.symlink("outside_leak.py", (outside / "leak.py").resolve())
    repo.write("generated/huge_table.py", huge_python_module())


# --- running the CLI ------------------------------------------------------------------------------
def mlscan_env(extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    env = dict(os.environ)
    for key in ("FORCE_COLOR", "CLICOLOR_FORCE", "PYTHONSTARTUP"):
        env.pop(key, None)
    env.update({"NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "120", "PYTHONIOENCODING": "utf-8"})
    if extra:
        env.update(extra)
    return env


def run_mlscan(args: Sequence[Union[str, Path]], cwd: Optional[Union[str, Path]] = None,
               env: Optional[Mapping[str, str]] = None, timeout: float = 120) -> Tuple[int, str, str]:
    """Run the real CLI (`python -m mlscan ARGS`) as a subprocess: (returncode, stdout, stderr)."""
    proc = subprocess.run([sys.executable, "-m", "mlscan", *map(str, args)],
                          cwd=None if cwd is None else str(cwd), env=mlscan_env(env),
                          capture_output=True, text=True, encoding="utf-8", errors="replace",
                          timeout=timeout, stdin=subprocess.DEVNULL)
    return proc.returncode, proc.stdout, proc.stderr


# A maturity model where the train stage depends on seed control alone, so that the seed-added
# story raises train whatever the detectors of other practices decide.
SEED_MODEL = """\
name: seed-only
stages:
  - id: train
    levels:
      2: {seed-control: partial}
      3: {seed-control: present}
overall:
  method: min
"""
