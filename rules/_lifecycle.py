"""Shared helpers for the lifecycle rules (lineage, registry, tuning, pipelines): the library name
behind a call, and where a piece of code sits (project code, illustrative code, a notebook)."""
from __future__ import annotations

from typing import Callable, Iterable, Iterator, Optional, Set, Tuple, Union

from mlscan.rules._mlcode import in_example_dir


def library_name(facts, idx, call) -> str:
    """The call's dotted name with the repo's re-exports and optional-import fallbacks seen
    through (`?wandb.log` -> `wandb.log`); the plain resolved name when nothing is to be seen through."""
    name = call.name
    if name.startswith("?") or (idx.module and name.startswith(idx.module + ".")) or \
            not name.split(".", 1)[0].replace("()", "") in idx.imported_roots:
        got = facts.external_name(idx, name)
        return got.lstrip("?")
    return name


def calls_named(facts, roots: Set[str], attrs: Union[None, Set[str], Callable[[object], bool]] = None
                ) -> Iterator[Tuple[object, object, str]]:
    """(index, call, library name) for non-test calls into one of `roots`, optionally only those whose
    last name is in `attrs` (or for which `attrs(call)` holds). Files that import none of the roots
    are skipped without looking at their calls."""
    graph = facts.graph
    keep = attrs if callable(attrs) else None
    with_attrs = facts.call_table.named(attrs=attrs) if attrs is not None and not callable(attrs) else None
    for idx in facts.non_test_code():
        if not imports_any(idx, roots):
            continue
        for call in (idx.calls if with_attrs is None else with_attrs.get(idx.path, ())):
            if keep is not None and not keep(call):
                continue
            name = library_name(facts, idx, call)
            root = name.split(".", 1)[0].replace("()", "")
            if root in roots and graph.resolve_name(idx.path, name) is None:   # not the repo's own module
                yield idx, call, name


def imports_any(idx, roots: Set[str]) -> bool:
    """Whether a file imports one of `roots`, directly or re-exported (`from pkg.config import mlflow`)."""
    if idx.imported_roots & roots:
        return True
    return any((ref.name in roots) or (ref.module and ref.module.rsplit(".", 1)[-1] in roots) for ref in idx.imports)


def where(path: str) -> str:
    """'example' for code under examples/, docs/, tutorials/...; 'notebook'; else 'project'."""
    if in_example_dir(path):
        return "example"
    if path.endswith(".ipynb"):
        return "notebook"
    return "project"


def cell(facts, path: str, line: Optional[int]) -> str:
    idx = facts.code.get(path)
    c = idx.cell_of(line) if idx is not None and line else None
    return f" (cell {c})" if c else ""


def first(items: Iterable, n: int):
    out = []
    for x in items:
        out.append(x)
        if len(out) >= n:
            break
    return out
