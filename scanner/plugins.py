"""An organisation's own rules, from installed packages: the `mlscan.rules` entry-point group.

An entry point names a module (`acme_rules = "acme_mlscan.rules"`). Every `mlscan.rulekit.Rule`
subclass with an `id` in that module is loaded, and every `mlscan.rulekit.Practice` in it declares
a new practice (with its stage, level and remediation). A rule attaches to a catalogue practice or
to a practice a plugin declares. Rules and practices remember the distribution they came from.

A plugin that fails to import, or declares something inconsistent (an unknown stage or practice,
an id already taken), is left out and reported as a problem: `mlscan rules` prints the problems,
and every scan lists them under diagnostics. It never stops mlscan. A rule that raises while
checking a repository is handled like a built-in rule's failure (engine.run_rules).

Distributions found through the current directory are not loaded (`python -m mlscan` inside a
checkout puts it on sys.path; a checkout must not be able to plant rules). MLSCAN_NO_PLUGINS=1
switches plugins off.
"""
from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Iterator, List, Set, Tuple, Type

if TYPE_CHECKING:
    from mlscan.catalogue import Practice as CataloguePractice, Stage
    from mlscan.rulekit import Rule

GROUP = "mlscan.rules"
DISABLE_ENV = "MLSCAN_NO_PLUGINS"


@dataclass(frozen=True)
class Plugins:
    rules: Tuple[Type["Rule"], ...]
    practices: Tuple["CataloguePractice", ...]
    problems: Tuple[str, ...]


def _entry_points() -> Iterator[Tuple[str, object]]:
    """(distribution name, entry point) for the group, sorted, each (distribution, name) once."""
    from importlib import metadata
    cwd = os.path.realpath(os.getcwd())
    if sys.version_info >= (3, 10):   # one pass over the installed metadata, with each entry point's dist
        pairs = [(ep.dist, ep) for ep in metadata.entry_points(group=GROUP)]
    else:
        pairs = [(dist, ep) for dist in metadata.distributions() for ep in dist.entry_points if ep.group == GROUP]
    seen: Set[Tuple[str, str]] = set()
    found = []
    for dist, ep in pairs:
        if dist is None or os.path.realpath(str(dist.locate_file(""))) == cwd:
            continue   # found through the current directory: a checkout must not plant rules
        name = dist.metadata["Name"] or "?"
        if (name, ep.name) not in seen:
            seen.add((name, ep.name))
            found.append((name, ep))
    return iter(sorted(found, key=lambda t: (t[0].lower(), t[1].name)))


def discover(builtin_practices: Tuple["CataloguePractice", ...], stages: Tuple["Stage", ...],
             builtin_rule_ids: Set[str]) -> Plugins:
    from mlscan.rulekit import Practice, Rule
    if os.environ.get(DISABLE_ENV):
        return Plugins((), (), ())
    stage_ids = {s.id for s in stages}
    practice_ids = {p.id for p in builtin_practices}
    rule_ids = set(builtin_rule_ids)
    problems: List[str] = []
    modules = []
    try:
        entry_points = list(_entry_points())
    except Exception as exc:  # noqa: BLE001 - broken metadata must not stop the scan
        return Plugins((), (), (f"plugins: cannot list installed packages ({exc.__class__.__name__}: {exc})",))
    for dist, ep in entry_points:
        where = f"plugin {ep.name} from {dist}"
        try:
            module = importlib.import_module(ep.value.split(":", 1)[0].strip())
        except BaseException as exc:  # noqa: BLE001 - SystemExit in a plugin is still only a plugin problem
            if isinstance(exc, KeyboardInterrupt):
                raise
            problems.append(f"{where} failed to import ({exc.__class__.__name__}: {exc}); its rules are not run")
            continue
        modules.append((dist, where, module))
    practices = []
    loaded: Set[int] = set()   # a module may re-export another entry point's objects: load each once
    for dist, where, module in modules:
        for obj in _members(module):
            if not isinstance(obj, Practice) or id(obj) in loaded:
                continue
            loaded.add(id(obj))
            bad = _practice_problem(obj, stage_ids, practice_ids)
            if bad:
                problems.append(f"{where}: practice {obj.id!r} {bad}; left out")
                continue
            practice_ids.add(obj.id)
            practices.append(obj.to_catalogue(dist))
    rules = []
    for dist, where, module in modules:
        for obj in _members(module):
            if not (isinstance(obj, type) and issubclass(obj, Rule) and obj.id) or obj.__module__.startswith("mlscan.") \
                    or id(obj) in loaded:
                continue
            loaded.add(id(obj))
            if obj.id in rule_ids:
                problems.append(f"{where}: rule id {obj.id!r} is already taken; left out")
                continue
            if obj.practice not in practice_ids:
                problems.append(f"{where}: rule {obj.id} names unknown practice {obj.practice!r}; left out")
                continue
            rule_ids.add(obj.id)
            obj.package = dist   # shown next to the rule in `mlscan rules`
            rules.append(obj)
    return Plugins(tuple(rules), tuple(practices), tuple(problems))


def _members(module) -> List[object]:
    """The module's public objects, in a stable order, each once."""
    seen: Set[int] = set()
    out = []
    for name in sorted(vars(module)):
        obj = vars(module)[name]
        if not name.startswith("_") and id(obj) not in seen:
            seen.add(id(obj))
            out.append(obj)
    return out


def _practice_problem(p, stage_ids: Set[str], practice_ids: Set[str]) -> str:
    if not p.id or p.id in practice_ids:
        return "is already taken" if p.id else "has no id"
    if p.stage not in stage_ids:
        return f"has unknown stage {p.stage!r} (stages: {', '.join(sorted(stage_ids))})"
    if not isinstance(p.level, int) or not 1 <= p.level <= 5:
        return f"needs a level from 1 to 5, got {p.level!r}"
    if not p.title or not p.remediation:
        return "needs a title and a remediation"
    return ""


@lru_cache(maxsize=1)
def installed() -> Plugins:
    """The installed plugins, loaded once per process."""
    from mlscan.catalogue import builtin_catalogue
    from mlscan.rulekit import builtin_rules
    cat = builtin_catalogue()
    return discover(cat.practices, cat.stages, {r.id for r in builtin_rules()})
