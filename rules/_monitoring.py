"""Shared helpers for the data-validation and drift-monitoring rules: where a piece of code runs
(pipeline code, a notebook, a test that CI runs) and which modules a serving endpoint loads."""
from __future__ import annotations

import shlex
from typing import Optional, Set, Tuple


def serving_modules(facts, depth: int = 2) -> Set[str]:
    """Paths of the modules that define serving endpoints and of those they import, `depth`
    imports deep: where a request schema would live (not the whole library a server loads)."""
    graph = facts.graph
    frontier = set(graph.serving_files)
    out: Set[str] = set(frontier)
    for _ in range(depth):
        nxt: Set[str] = set()
        for path in frontier:
            idx = facts.code.get(path)
            for ref in idx.imports if idx else []:
                full = f"{ref.module}.{ref.name}" if ref.name else ref.module
                target = graph.resolve_name(path, full) or (graph.resolve_name(path, ref.module) if ref.module else None)
                if target:
                    tpath = target.split(":", 2)[1]
                    if tpath not in out:
                        nxt.add(tpath)
        out |= nxt
        frontier = nxt
    return out


def test_runner_for(facts, path: str) -> Optional[Tuple[str, int]]:
    """(file, line) of a CI step, Makefile or script line that runs the tests in `path`."""
    for where, line, args in facts.test_invocations:
        try:
            words = shlex.split(args, comments=True)
        except ValueError:
            words = args.split()
        targets = []
        for i, w in enumerate(words):
            if w.startswith(("-", "$", ">", "<", "|")) or "=" in w or (i and words[i - 1] in (">", ">>", "-k", "-m")):
                continue
            targets.append(w.strip("./") if w.startswith("./") else w.rstrip("/"))
        targets = [t for t in targets if t and ("/" in t or t.endswith(".py") or t in ("tests", "test"))]
        if not targets or any(path == t or path.startswith(t.rstrip("/") + "/") or path.startswith(t.split("::")[0])
                              for t in targets):
            return where, line
    return None


