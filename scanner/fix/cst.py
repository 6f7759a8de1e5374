"""libcst helpers the fixes share: find a place in a module and insert statements there, leaving
every comment and space elsewhere byte-identical. Only `mlscan fix` imports this module."""
from __future__ import annotations

from typing import List, Optional, Sequence

import libcst as cst
import libcst.matchers as m

MAIN_TEST = m.Comparison(
    left=m.Name("__name__"),
    comparisons=[m.ComparisonTarget(operator=m.Equal(), comparator=m.SimpleString())])


def parse(text: str) -> cst.Module:
    return cst.parse_module(text)


def statements(module: cst.Module, code: str) -> List[cst.BaseStatement]:
    """Statements parsed with the module's own newline and indentation conventions."""
    parsed = cst.parse_module(code, config=module.config_for_parsing)
    return list(parsed.body)


def main_block_index(module: cst.Module) -> Optional[int]:
    for i, stmt in enumerate(module.body):
        if isinstance(stmt, cst.If) and m.matches(stmt.test, MAIN_TEST):
            return i
    return None


def import_end(module: cst.Module) -> int:
    """Index of the first top-level statement after the docstring, `__future__` and leading imports."""
    end = 0
    for i, stmt in enumerate(module.body):
        if isinstance(stmt, cst.SimpleStatementLine) and all(
                isinstance(s, (cst.Import, cst.ImportFrom)) or (i == 0 and _is_docstring(s)) for s in stmt.body):
            end = i + 1
            continue
        if isinstance(stmt, cst.Try) and _only_imports(stmt):   # try: import x / except ImportError:
            end = i + 1
            continue
        break
    return end


def _is_docstring(s: cst.BaseSmallStatement) -> bool:
    return isinstance(s, cst.Expr) and isinstance(s.value, (cst.SimpleString, cst.ConcatenatedString))


def _only_imports(stmt: cst.Try) -> bool:
    body = stmt.body.body
    return all(isinstance(b, cst.SimpleStatementLine) and all(isinstance(s, (cst.Import, cst.ImportFrom)) for s in b.body)
               for b in body)


def insert_module_level(module: cst.Module, index: int, new: Sequence[cst.BaseStatement]) -> cst.Module:
    body = list(module.body)
    return module.with_changes(body=body[:index] + list(new) + body[index:])


def with_blank_lines(stmt: cst.BaseStatement, n: int) -> cst.BaseStatement:
    return stmt.with_changes(leading_lines=[cst.EmptyLine()] * n + list(stmt.leading_lines))


def insert_in_block(block: cst.BaseSuite, new: Sequence[cst.BaseStatement]) -> cst.BaseSuite:
    """Insert statements at the start of a block, after its docstring. A one-line block
    (`if __name__ == "__main__": main()`) becomes an indented one; its trailing comment stays."""
    if isinstance(block, cst.SimpleStatementSuite):
        line = cst.SimpleStatementLine(body=[s.with_changes(semicolon=cst.MaybeSentinel.DEFAULT) for s in block.body],
                                       trailing_whitespace=block.trailing_whitespace)
        return cst.IndentedBlock(body=[*new, line])
    if not isinstance(block, cst.IndentedBlock):
        raise ValueError("an unknown kind of block")
    body = list(block.body)
    start = 1 if body and isinstance(body[0], cst.SimpleStatementLine) and _is_docstring(body[0].body[0]) else 0
    return block.with_changes(body=body[:start] + list(new) + body[start:])


def insert_in_main(module: cst.Module, new: Sequence[cst.BaseStatement]) -> Optional[cst.Module]:
    i = main_block_index(module)
    if i is None:
        return None
    block = module.body[i]
    try:
        body = insert_in_block(block.body, new)
    except ValueError:
        return None
    return module.with_changes(body=[*module.body[:i], block.with_changes(body=body), *module.body[i + 1:]])


def find_function(module: cst.Module, qualname: str):
    """(path of indices, node) of a top-level function or a method `Class.method`."""
    parts = qualname.split(".")
    body = module.body
    trail = []
    node = None
    for depth, part in enumerate(parts):
        for i, stmt in enumerate(body):
            if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)) and stmt.name.value == part:
                node = stmt
                trail.append(i)
                break
        else:
            return None, None
        if depth < len(parts) - 1:
            if not isinstance(node, cst.ClassDef) or not isinstance(node.body, cst.IndentedBlock):
                return None, None
            body = node.body.body
    return (trail, node) if isinstance(node, cst.FunctionDef) else (None, None)


def replace_function(module: cst.Module, trail: List[int], new_func: cst.FunctionDef) -> cst.Module:
    def rebuild(body, depth):
        i = trail[depth]
        node = body[i]
        if depth == len(trail) - 1:
            replacement = new_func
        else:
            inner = rebuild(list(node.body.body), depth + 1)
            replacement = node.with_changes(body=node.body.with_changes(body=inner))
        return [*body[:i], replacement, *body[i + 1:]]
    return module.with_changes(body=rebuild(list(module.body), 0))


def insert_in_function(module: cst.Module, qualname: str, new: Sequence[cst.BaseStatement]) -> Optional[cst.Module]:
    trail, func = find_function(module, qualname)
    if func is None:
        return None
    try:
        body = insert_in_block(func.body, new)
    except ValueError:
        return None
    return replace_function(module, trail, func.with_changes(body=body))


def free_name(taken: set, *candidates: str) -> str:
    for c in candidates:
        if c not in taken:
            return c
    i = 2
    while f"{candidates[-1]}_{i}" in taken:
        i += 1
    return f"{candidates[-1]}_{i}"


def bound_modules(module: cst.Module) -> dict:
    """Top-level `import x` / `import x as y`: the bound name -> the module."""
    out = {}
    for stmt in module.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for s in stmt.body:
                if isinstance(s, cst.Import):
                    for a in s.names:
                        out[a.evaluated_alias or a.evaluated_name] = a.evaluated_name
    return out
