"""What a fix is. One class per module under `mlscan/fix/`, named after the practice it answers;
its docstring's first line is its title; its examples are before/after repos run as tests
(tests/test_fix_examples.py).

A fix reads the Facts and the Report of one scan and proposes outcomes:
  Edit     the new text of one file (created when it does not exist)
  Skip     a place that needs the fix but cannot be changed safely, with the reason
  Suggest  a change shown to the user but never written (notebooks, commands to run)
The fix engine (mlscan/fix/engine.py) checks every edit, confirms it with a rescan and renders
or writes it. Fixes never write files themselves.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Dict, Iterable, Optional, Sequence, Tuple, Union

if TYPE_CHECKING:
    from mlscan.facts.repo import Facts
    from mlscan.report.model import PracticeResult, Report


@dataclass(frozen=True)
class Edit:
    path: str
    text: str
    message: str


@dataclass(frozen=True)
class Skip:
    path: str
    reason: str


@dataclass(frozen=True)
class Suggest:
    path: str
    message: str
    text: str = ""


Outcome = Union[Edit, Skip, Suggest]


@dataclass(frozen=True)
class FixExample:
    """A tiny repo before the fix and what `mlscan fix --write` makes of it.

    `after` holds the exact text of every file the fix writes (None: the fix must not write it);
    `status` the practice's status after the rescan; `skips` substrings of the reasons given for
    what was left alone."""
    files: Dict[str, str]
    after: Dict[str, Optional[str]]
    status: str
    note: str = ""
    skips: Tuple[str, ...] = ()
    suggests: Tuple[str, ...] = ()


class Workspace:
    """The repo's files as the fixes accepted so far left them (nothing is written to disk)."""

    def __init__(self, facts: "Facts"):
        self.facts = facts
        self.changed: Dict[str, str] = {}
        self._originals: Dict[str, Optional[str]] = {}

    def read(self, path: str) -> Optional[str]:
        if path in self.changed:
            return self.changed[path]
        return self.original(path)

    def original(self, path: str) -> Optional[str]:
        """The file's text exactly as on disk (line endings kept); None if missing or not UTF-8."""
        if path not in self._originals:
            target = self.facts.root / path
            try:
                self._originals[path] = target.read_bytes().decode("utf-8") if target.is_file() else None
            except (OSError, UnicodeDecodeError):
                self._originals[path] = None
        return self._originals[path]

    def exists(self, path: str) -> bool:
        return path in self.changed or (self.facts.root / path).exists() or (self.facts.root / path).is_symlink()


@dataclass
class FixContext:
    facts: "Facts"
    report: "Report"
    practice: "PracticeResult"
    workspace: Workspace


class Fix:
    id: ClassVar[str] = ""
    practice: ClassVar[str] = ""
    answers: ClassVar[Tuple[str, ...]] = ()       # the rule ids whose findings this fix answers
    examples: ClassVar[Sequence[FixExample]] = ()

    def plan(self, ctx: FixContext) -> Iterable[Outcome]:
        raise NotImplementedError

    @classmethod
    def title(cls) -> str:
        return (cls.__doc__ or cls.id).strip().splitlines()[0].strip()


def top_level_names(text: str) -> set:
    """Names a module binds when it runs (what `from module import NAME` can import): top-level
    definitions, imports and assignments, also inside top-level if/try/with/for blocks."""
    names = set()
    stack = list(ast.parse(text).body)
    while stack:
        node = stack.pop()
        targets = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names if a.name != "*")
        elif isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign, ast.For, ast.AsyncFor)):
            targets = [node.target]
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            targets = [i.optional_vars for i in node.items if i.optional_vars is not None]
        for t in targets:
            names.update(n.id for n in ast.walk(t) if isinstance(n, ast.Name))
        if isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for block in ("body", "orelse", "finalbody", "handlers"):
                stack.extend(getattr(node, block, []))
    return names
