"""What a rule is. One class per file under `mlscan/rules/`; its docstring's first line is its title,
the rest its documentation; its examples are tiny repos that run as tests (tests/test_rule_examples.py).

A rule answers one question about one practice. It reads only `Facts` and yields `Finding`s:
  supports        evidence that the practice is in place
  partial         evidence that it is partly in place
  gap             counter-evidence: the practice is in place but incomplete (present -> partial)
  not-applicable  the practice does not apply here, with the reason as message
  inconclusive    cannot be judged statically, with the reason as message
"""
from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, ClassVar, Dict, Iterable, List, Optional, Sequence, Tuple, Type

if TYPE_CHECKING:
    from mlscan.facts.repo import Facts

FINDING_KINDS = ("supports", "partial", "gap", "not-applicable", "inconclusive")


@dataclass(frozen=True)
class Finding:
    kind: str
    path: str
    line: Optional[int]
    message: str
    rule: str = ""

    def __post_init__(self) -> None:
        if self.kind not in FINDING_KINDS:
            raise ValueError(f"unknown finding kind {self.kind!r}")


@dataclass(frozen=True)
class Example:
    """A tiny repo (path -> text) and the practice's status with all of its rules run on it.

    `fires` optionally says whether this rule itself must (True) or must not (False) find anything.
    """
    files: Dict[str, str]
    expect: str
    note: str = ""
    fires: Optional[bool] = None
    # later commits, oldest first: each a dict of path -> text (None deletes the file)
    commits: Tuple[Dict[str, Optional[str]], ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Practice:
    """A practice a plugin declares, next to its rules: the stage it belongs to, the ladder level at
    which it is expected (the stage needs it present to reach that level, unless the maturity model
    places it itself) and the remediation shown when it is missing."""
    id: str
    title: str
    stage: str
    level: int
    remediation: str
    looked_for: str = ""
    link: str = ""
    example: str = ""

    def to_catalogue(self, package: str):
        from mlscan.catalogue import Practice as CataloguePractice
        return CataloguePractice(id=self.id, title=self.title, stage=self.stage, level=self.level,
                                 looked_for=self.looked_for or "evidence from the plugin's rules",
                                 remediation=self.remediation.strip(), example=self.example.rstrip(),
                                 link=self.link, package=package)


class Rule:
    id: ClassVar[str] = ""
    practice: ClassVar[str] = ""
    examples: ClassVar[Sequence[Example]] = ()
    package: ClassVar[str] = ""   # set for rules from plugins: the distribution they came from

    def check(self, facts: "Facts") -> Iterable[Finding]:
        raise NotImplementedError

    # helpers for rule bodies
    def found(self, kind: str, path: str, line: Optional[int], message: str) -> Finding:
        return Finding(kind, path, line, message, self.id)

    @classmethod
    def title(cls) -> str:
        return (cls.__doc__ or cls.id).strip().splitlines()[0].strip()

    @classmethod
    def description(cls) -> str:
        doc = (cls.__doc__ or "").strip().splitlines()
        import textwrap
        return textwrap.dedent("\n".join(doc[1:])).strip()


def ignorecase_search(rx: "re.Pattern[str]") -> Callable[[str], bool]:
    """`bool(rx.search(text))` for a `(?i)` pattern, several times faster on ASCII text: there,
    ignoring case is the same as searching the lowercased text with the pattern as written, when
    the pattern holds no capital letter (else, or on other text, `rx` itself is asked)."""
    pattern = rx.pattern
    if not (isinstance(pattern, str) and pattern.startswith("(?i)") and "(?" not in pattern[4:]
            and pattern == pattern.lower()):
        return lambda text: bool(rx.search(text))
    lowered = re.compile(pattern[4:], rx.flags & ~re.IGNORECASE)

    def search(text: str) -> bool:
        return bool(lowered.search(text.lower()) if text.isascii() else rx.search(text))
    return search


_REGISTRY: Optional[List[Type[Rule]]] = None
_WITH_PLUGINS: Optional[List[Type[Rule]]] = None


def all_rules() -> List[Type[Rule]]:
    """mlscan's rules and those of installed plugins (mlscan.plugins), sorted by practice then id."""
    global _WITH_PLUGINS
    if _WITH_PLUGINS is None:
        from mlscan.plugins import installed
        _WITH_PLUGINS = sorted(builtin_rules() + list(installed().rules), key=lambda r: (r.practice, r.id))
    return list(_WITH_PLUGINS)


def builtin_rules() -> List[Type[Rule]]:
    """Every rule class in `mlscan.rules`, sorted by practice then id."""
    global _REGISTRY
    if _REGISTRY is None:
        import mlscan.rules as pkg
        found: Dict[str, Type[Rule]] = {}
        for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
            if info.name.startswith("_"):
                continue
            mod = importlib.import_module(f"mlscan.rules.{info.name}")
            for obj in vars(mod).values():
                if isinstance(obj, type) and issubclass(obj, Rule) and obj is not Rule and obj.id \
                        and obj.__module__ == mod.__name__:
                    if obj.id in found:
                        raise RuntimeError(f"duplicate rule id {obj.id}")
                    found[obj.id] = obj
        _REGISTRY = sorted(found.values(), key=lambda r: (r.practice, r.id))
    return list(_REGISTRY)


def rules_for(practice: str) -> List[Type[Rule]]:
    return [r for r in all_rules() if r.practice == practice]


def materialise(files: Dict[str, Optional[str]], root) -> None:
    """Write an example repo's files under `root` (None deletes a file)."""
    from pathlib import Path
    for rel, text in files.items():
        p = Path(root) / rel
        if text is None:
            if p.exists():
                p.unlink()
            continue
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")


def run_example(rule_cls: Type[Rule], example: Example, root) -> Tuple[str, List[Finding]]:
    """(practice status with all of the practice's rules, this rule's findings) on the example repo."""
    import subprocess
    from pathlib import Path

    from mlscan.facts.repo import Facts, ScanOptions
    from mlscan.maturity import practice_status
    materialise(example.files, root)
    if example.commits:
        env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
               "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z",
               "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z", "PATH": __import__("os").environ.get("PATH", "")}
        git = ["git", "-C", str(root)]
        subprocess.run([*git, "init", "-q"], check=True, env=env)
        subprocess.run([*git, "add", "-A"], check=True, env=env)
        subprocess.run([*git, "commit", "-q", "-m", "example", "--allow-empty"], check=True, env=env)
        for i, change in enumerate(example.commits):
            materialise(change, root)
            subprocess.run([*git, "add", "-A"], check=True, env=env)
            subprocess.run([*git, "commit", "-q", "-m", f"change {i}", "--allow-empty"], check=True, env=env)
    facts = Facts(Path(root), ScanOptions(jobs=1))
    findings: List[Finding] = []
    own: List[Finding] = []
    for other in rules_for(rule_cls.practice):
        got = [f if f.rule else Finding(f.kind, f.path, f.line, f.message, other.id) for f in other().check(facts)]
        findings.extend(got)
        if other is rule_cls:
            own = got
    status, _, _ = practice_status(findings)
    return status, own
