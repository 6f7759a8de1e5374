"""A code fact the per-file index cannot know alone: it needs the other modules.

`canonical_name`: the external dotted name behind a call, seen through the repo's own re-exports
and through optional-import fallbacks. `from pkg.config import mlflow; mlflow.log_metric()` is
indexed as `pkg.config.mlflow.log_metric`; `try: import wandb / except ImportError: wandb = None`
makes `wandb.log()` unresolved (`?wandb.log`); a fallback `def SummaryWriter(*a)` after a failed
`from torch.utils.tensorboard import SummaryWriter` makes the call look local. All three come back
as the library name (`mlflow.log_metric`, `wandb.log`, `torch.utils.tensorboard.SummaryWriter`).

"""
from __future__ import annotations

from typing import TYPE_CHECKING, Collection, Dict, Iterable, Optional, Set, Tuple

from mlscan.facts.pycode import CodeIndex

if TYPE_CHECKING:
    from mlscan.facts.graph import CodeGraph


def _import_targets(idx: CodeIndex, cache: Optional[Dict[str, Dict[str, str]]] = None) -> Dict[str, str]:
    """Local alias -> full imported name, for module-level and function-level imports alike."""
    if cache is not None and idx.path in cache:
        return cache[idx.path]
    out: Dict[str, str] = {}
    for ref in idx.imports:
        full = f"{ref.module}.{ref.name}" if ref.name else ref.module
        if full:
            out.setdefault(ref.alias, full if ref.name or ref.alias != ref.module.split(".")[0] else ref.alias)
    if cache is not None:
        cache[idx.path] = out
    return out


def may_differ(idx: CodeIndex, name: str, aliases: Dict[str, str], reexported: Set[Tuple[str, str]],
               memo: Dict[str, bool]) -> bool:
    """False when `canonical_name` certainly gives `name` back (nearly every call), judged cheaply.

    `aliases` are the file's import targets (`_import_targets`), `reexported` the repo's
    `reexported_names`. Past a fallback-shadowed import, a name is seen through only where a prefix
    of it names a repo module (then the module's name ends with the prefix's last part: see
    CodeGraph.resolve_module) and the next part is a name that module imports or exports without
    defining it. `memo` keeps that last judgement per name."""
    if not name:
        return False
    if name[0] == "?":
        return name[1:].partition(".")[0] in aliases
    module = idx.module
    if module and name.startswith(module) and name[len(module):len(module) + 1] == "." and \
            name[len(module) + 1:].partition(".")[0].replace("()", "") in aliases:
        return True
    got = memo.get(name)   # the rest depends on the name only
    if got is None:
        got = False
        parts = name.split(".")
        for i in range(1, len(parts)):
            if (parts[i - 1], parts[i].replace("()", "")) in reexported:
                got = True
                break
        memo[name] = got
    return got


def may_differ_somewhere(name: str, aliases: Set[str], modules: Collection[str], reexported: Set[Tuple[str, str]]) -> bool:
    """`may_differ` for some file of the repo, judged once per name: `aliases` holds every
    file's import aliases, `modules` every module name."""
    if not name:
        return False
    if name[0] == "?":
        return name[1:].partition(".")[0] in aliases
    parts = name.split(".")
    prefix = parts[0]
    for i in range(1, len(parts)):
        head = parts[i].replace("()", "")
        if (parts[i - 1], head) in reexported or (prefix in modules and head in aliases):
            return True
        prefix += "." + parts[i]
    return False


def reexported_names(code: Iterable[CodeIndex], aliases: Optional[Dict[str, Dict[str, str]]] = None) \
        -> Set[Tuple[str, str]]:
    """(last part of a module's name, a name the module imports or exports without defining it);
    `aliases`, when given, holds each file's `_import_targets` by path."""
    out: Set[Tuple[str, str]] = set()
    for idx in code:
        if not idx.module:
            continue
        end = idx.module.rsplit(".", 1)[-1]
        targets = aliases[idx.path] if aliases is not None and idx.path in aliases else _import_targets(idx)
        out.update((end, h) for h in targets if h not in idx.defs)
        out.update((end, h) for h in idx.exports if h not in idx.defs)
    return out


def canonical_name(graph: "CodeGraph", idx: CodeIndex, name: str,
                   cache: Optional[Dict[str, Dict[str, str]]] = None) -> str:
    if not name:
        return name
    aliases = _import_targets(idx, cache)
    if name.startswith("?"):
        head, _, rest = name[1:].partition(".")
        target = aliases.get(head)
        return f"{target}.{rest}" if target and rest else name
    parts = name.split(".")
    # a local fallback definition shadowing an import of the same name
    if idx.module and name.startswith(idx.module + "."):
        tail = name[len(idx.module) + 1:]
        head = tail.split(".", 1)[0].replace("()", "")
        target = aliases.get(head)
        if target and graph.resolve_name(idx.path, target) is None:
            return target + tail[len(head):]
    # re-exported through one of the repo's modules
    for i in range(len(parts) - 1, 0, -1):
        prefix = ".".join(parts[:i])
        mod_path = graph.resolve_module(idx.path, prefix)
        if mod_path is None:
            continue
        owner = graph.code.get(mod_path)
        head = parts[i].replace("()", "")
        if owner is None:
            return name
        if head in owner.defs:
            return name
        target = _import_targets(owner, cache).get(head) or owner.exports.get(head)
        if target and target != name and graph.resolve_name(mod_path, target) is None:
            suffix = parts[i][len(head):]
            rest = ".".join(parts[i + 1:])
            return target + suffix + (("." + rest) if rest else "")
        return name
    return name
