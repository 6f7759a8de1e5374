"""Is code wired in? Code that no entry point (script, console script, CI job, pipeline stage,
scheduled workflow, container command, served app) reaches is defined but never run."""
from __future__ import annotations

from typing import Optional, Set

NOT_WIRED = "defined but never called from an entry point, pipeline stage, CI job or scheduled workflow"


def wired_nodes(facts) -> Set[str]:
    """Code nodes some entry point reaches (memoised per scan)."""
    def compute() -> Set[str]:
        graph = facts.graph
        return graph.code_reach_all(ep.node for ep in graph.entry_points)
    return facts.memo("wiring.wired_nodes", compute)


def scope_node(path: str, scope: str) -> str:
    if scope == "<module>":
        return f"mod:{path}"
    if scope == "<main>":
        return f"main:{path}"
    return f"def:{path}:{scope}"


def is_wired(facts, path: str, scope: Optional[str]) -> bool:
    """Whether code in `scope` of `path` runs from some entry point. A method counts when its class
    is reached (the object is created, so a framework or the caller uses its methods)."""
    nodes = wired_nodes(facts)
    scope = scope or "<module>"
    if scope_node(path, scope) in nodes:
        return True
    parts = scope.split(".")
    return any(f"def:{path}:{'.'.join(parts[:i])}" in nodes for i in range(1, len(parts)))
