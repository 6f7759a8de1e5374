"""Per-file code facts from one `ast.parse`: imports with aliases resolved to qualified names,
definitions, calls with resolved names and literal arguments, path-like strings and main blocks.

Name resolution is import-aware and scope-aware (module, class, function), flow-insensitive:
`import numpy as np; np.random.seed(0)` resolves to `numpy.random.seed`; a comment never appears
in the tree; a local `random = 3` shadows the import. Instances are named after their
constructor, so `app = FastAPI(); @app.post(...)` resolves to `fastapi.FastAPI().post`.
"""
from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

class _NotLiteral:
    """The value of an argument that is not a literal (a name, a call, an expression).

    A singleton that stays one across processes (it pickles by name), and not a `str`, so
    `isinstance(value, str)` means a real string literal."""
    __slots__ = ()

    def __repr__(self) -> str:
        return "<expr>"

    __str__ = __repr__

    def __reduce__(self) -> str:
        return "NOT_LITERAL"


NOT_LITERAL = _NotLiteral()
TEXT_MIN_CHARS = 16
TEXT_MAX_CHARS = 4000
PATHLIKE = re.compile(
    r"(?:^[~./\\]|^[A-Za-z]:\\|^[a-z][a-z0-9+.-]*://|/|\.(?:csv|tsv|parquet|feather|jsonl?|ya?ml|toml|txt|"
    r"pkl|pickle|joblib|pt|pth|ckpt|h5|hdf5|onnx|npy|npz|bin|safetensors|tfrecords?|zip|gz|xlsx?|db|sqlite|"
    r"arrow|avro|orc|model|sav|cfg|ini|arff|data|dta|sas7bdat)$)", re.I)


_new_tuple = tuple.__new__   # a fact tuple built without its Python-level `__new__` (all fields given)


def _fast_reduce(self):
    """Pickle a fact tuple as `tuple.__new__(cls, values)`: no Python-level `__new__` call per
    tuple, which makes loading cached facts (hundreds of thousands of tuples) several times faster."""
    return tuple.__new__, (type(self), tuple(self))


class CallSite(NamedTuple):
    name: str                    # resolved dotted name, e.g. "numpy.random.seed"
    line: int
    scope: str                   # enclosing def qualname, "<module>", or "<main>" (the main block)
    args: Tuple[Any, ...]        # literal positional args, NOT_LITERAL otherwise
    kwargs: Tuple[Tuple[str, Any], ...]  # (keyword, literal or NOT_LITERAL); "**" for **kw
    refs: Tuple[str, ...] = ()   # resolved names passed as arguments (callbacks)
    arg_names: Tuple[str, ...] = ()  # identifiers the arguments use, in displays and f-strings too
    attr: str = ""               # the name's last part ("seed"): a field, as rules ask for it millions of times

    def kwarg(self, key: str, default: Any = None) -> Any:
        for k, v in self.kwargs:
            if k == key:
                return v
        return default

    def has_kwarg(self, key: str) -> bool:
        return any(k == key for k, _ in self.kwargs)

    __reduce__ = _fast_reduce


class Definition(NamedTuple):
    qualname: str                # "train", "Trainer.fit"
    kind: str                    # "function" | "class"
    line: int
    end_line: int
    decorators: Tuple[str, ...]  # resolved names
    decorator_args: Tuple[Any, ...]  # first literal argument of each decorator call, or None
    bases: Tuple[str, ...] = ()  # resolved base classes
    params: Tuple[str, ...] = ()
    # a function's body tests something (nested defs and lambdas included): it asserts, raises,
    # compares (`==`, `<`, `in`, `is`), negates a condition, or asks a predicate (`isinstance`,
    # `any`, `isnull`, `is_*`, `warn`); a loop (`for x in y`) or a branch on a bare flag does not
    checks: bool = False

    __reduce__ = _fast_reduce


class ImportRef(NamedTuple):
    module: str                  # absolute dotted module (relative imports resolved)
    name: Optional[str]          # for `from module import name`
    alias: str                   # the local name bound
    line: int
    scope: str

    __reduce__ = _fast_reduce


class AttrAssign(NamedTuple):
    target: str                  # resolved dotted target, e.g. "torch.backends.cudnn.deterministic"
    value: Any
    line: int
    scope: str

    __reduce__ = _fast_reduce


class Assignment(NamedTuple):
    """A name bound to a literal at module level or in a class body (`lr = 3e-4`)."""
    name: str            # "lr", or "TrainConfig.lr" for a class attribute
    value: Any           # the literal value (dataclass `field(default=...)` too), or NOT_LITERAL
    line: int
    owner: str = ""      # "" at module level, else the class qualname

    __reduce__ = _fast_reduce


class Comparison(NamedTuple):
    """A comparison in an `assert` or an `if` test, e.g. `assert auc > 0.8` (a quality gate)."""
    line: int
    scope: str
    operands: Tuple[str, ...]    # operands as written (`acc`, `metrics['auc']`, `self.best()`)
    ops: Tuple[str, ...]         # "Gt", "GtE", "Lt", "LtE", "Eq", "NotEq", ...
    literals: Tuple[Any, ...]    # literal operands (numbers, strings)
    context: str                 # "assert" | "if-fails" (the branch raises or exits) | "if"

    __reduce__ = _fast_reduce


@dataclass
class CodeIndex:
    path: str
    module: str
    is_notebook: bool = False
    error: Optional[str] = None
    lines: int = 0
    imports: List[ImportRef] = field(default_factory=list)
    exports: Dict[str, str] = field(default_factory=dict)   # module-level name -> qualified name
    defs: Dict[str, Definition] = field(default_factory=dict)
    calls: List[CallSite] = field(default_factory=list)
    attr_assigns: List[AttrAssign] = field(default_factory=list)
    fields: List[Tuple[str, str, int]] = field(default_factory=list)  # class-body `name: Annotation` -> (Class.name, annotation, line)
    assignments: List[Assignment] = field(default_factory=list)
    # module-level dict literals' scalar entries: ("MODEL_CONFIG.params.n_estimators", 100, line)
    mapping_entries: List[Tuple[str, Any, int]] = field(default_factory=list)
    comparisons: List[Comparison] = field(default_factory=list)
    # an `assert` or a raising `if` that asks whether values are missing or not finite (`assert not
    # df.isnull().any().any()`, `if torch.isnan(img).any(): raise`): (line, scope, context, the object asked about)
    missing_checks: List[Tuple[int, str, str, str]] = field(default_factory=list)
    # dict literals built inside a function, bound to a name or passed straight to a call (a record the code
    # writes out, e.g. `metadata = {"name": ..., "features": ..., "metrics": ...}`): (line, scope, the name or
    # "call:" + the callee's last name, its string keys lowercased, at most 24)
    dict_records: List[Tuple[int, str, str, Tuple[str, ...]]] = field(default_factory=list)
    strings: List[Tuple[str, int]] = field(default_factory=list)     # path-like string constants
    texts: List[Tuple[str, int]] = field(default_factory=list)       # longer constants and text fragments
    attributes: Dict[str, int] = field(default_factory=dict)         # attribute name -> first line read
    main_line: Optional[int] = None
    top_level_statements: int = 0
    cell_starts: Tuple[int, ...] = ()                        # notebooks: first line of each code cell
    shell_lines: List[Tuple[str, int]] = field(default_factory=list)  # notebooks: `!cmd` / `%pip`

    @property
    def imported_roots(self) -> frozenset:
        """First parts of the modules the file imports (kept after the first ask: rules ask per call)."""
        got = self.__dict__.get("_imported_roots")
        if got is None:
            got = self.__dict__["_imported_roots"] = frozenset(i.module.split(".")[0] for i in self.imports if i.module)
        return got

    def imports_module(self, *prefixes: str) -> Optional[ImportRef]:
        roots = {p.partition(".")[0] for p in prefixes}
        for ref in self.imports:
            if ref.module.partition(".")[0] not in roots:
                continue  # every test below needs the module's first part to be a prefix's
            full = f"{ref.module}.{ref.name}" if ref.name else ref.module
            for p in prefixes:
                if full == p or full.startswith(p + ".") or ref.module == p or ref.module.startswith(p + "."):
                    return ref
        return None

    def cell_of(self, line: int) -> Optional[int]:
        """1-based index of the notebook code cell holding `line`."""
        if not self.cell_starts:
            return None
        idx = 0
        for i, start in enumerate(self.cell_starts):
            if start <= line:
                idx = i
        return idx + 1


def module_name_for(path: str) -> str:
    stem = path[:-6] if path.endswith(".ipynb") else path.rsplit(".", 1)[0]
    parts = [p for p in stem.split("/") if p]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(p.replace("-", "_") for p in parts)


def _literal(node: ast.AST) -> Any:
    if type(node) is ast.Constant:
        v = node.value
        t = type(v)
        if t is str:
            return v if len(v) <= 300 else v[:300]
        if t is int or t is float or t is bool or v is None:
            return v
    if isinstance(node, ast.Constant):   # a subclass (deprecated ast.Num and kin): as above
        v = node.value
        if isinstance(v, (str, int, float, bool)) or v is None:
            return v if not isinstance(v, str) or len(v) <= 300 else v[:300]
        return NOT_LITERAL
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant) \
            and isinstance(node.operand.value, (int, float)):
        return -node.operand.value
    if isinstance(node, (ast.List, ast.Tuple)) and len(node.elts) <= 16:
        vals = tuple(_literal(e) for e in node.elts)
        return NOT_LITERAL if NOT_LITERAL in vals else vals
    return NOT_LITERAL


MAX_MAPPING_ENTRIES = 400   # per file: a large table is data, and keeps the index small


def _mapping_entries(node: ast.Dict, prefix: str, out: List[Tuple[str, Any, int]], depth: int = 0) -> None:
    """Scalar entries of a dict literal under string keys, nested dicts walked (four levels)."""
    for k, v in zip(node.keys, node.values):
        if len(out) >= MAX_MAPPING_ENTRIES:
            return
        if not isinstance(k, ast.Constant) or not isinstance(k.value, str):
            continue
        name = f"{prefix}.{k.value}"
        if isinstance(v, ast.Dict):
            if depth < 4:
                _mapping_entries(v, name, out, depth + 1)
            continue
        lit = _literal(v)
        if lit is not NOT_LITERAL and not isinstance(lit, tuple):
            out.append((name, lit, getattr(v, "lineno", node.lineno)))


# calls that ask whether values are missing or not finite (CodeIndex.missing_checks)
MISSING_PREDICATES = frozenset({"isnan", "isfinite", "isinf", "isnull", "isna", "notna", "notnull", "isposinf",
                                "isneginf"})


# calls that ask a question of a value (Definition.checks): type and emptiness tests, missing values,
# duplicates, membership, existence, a pattern match, a warning (a finding reported)
PREDICATE_CALLS = frozenset({
    "isinstance", "issubclass", "callable", "hasattr", "any", "all", "isnull", "isna", "notna", "notnull",
    "duplicated", "isin", "exists", "isfile", "isdir", "is_file", "is_dir", "match", "fullmatch",
    "startswith", "endswith", "warn", "warning", "allclose", "isclose", "array_equal", "equals", "isfinite",
    "isnan", "isinf", "validate", "verify"})
# `is_numeric_dtype`, `has_nans`, `assert_frame_equal`, and a call to another checker (`check_schema(df)`)
PREDICATE_PREFIXES = ("is_", "has_", "assert", "check_", "validate_", "verify_", "ensure_")
PREDICATE_ATTRS = frozenset({"empty", "hasnans", "is_unique", "is_monotonic_increasing", "is_monotonic_decreasing"})


class _Scope:
    __slots__ = ("kind", "qualname", "names", "parent", "cls", "checks")

    def __init__(self, kind: str, qualname: str, parent: Optional["_Scope"], cls: Optional[str] = None):
        self.kind = kind
        self.qualname = qualname
        self.names: Dict[str, Optional[str]] = {}
        self.parent = parent
        self.cls = cls
        self.checks = False   # the body tests something (Definition.checks)

    def lookup(self, name: str) -> Optional[str]:
        scope: Optional[_Scope] = self
        while scope is not None:
            if name in scope.names:
                return scope.names[name]
            scope = scope.parent
            while scope is not None and scope.kind == "class":  # class bodies are not enclosing scopes
                scope = scope.parent
        return None


class _Binder(ast.NodeVisitor):
    """First pass over one scope's body: which names it binds, and to what."""

    _dispatch: Dict[type, Any] = {}   # statement type -> method, for the types that bind names

    def visit(self, node: ast.AST) -> None:
        method = self._dispatch.get(type(node))
        if method is not None:
            method(self, node)

    def __init__(self, indexer: "_Indexer", scope: _Scope):
        self.ix = indexer
        self.scope = scope

    def bind_body(self, body: List[ast.stmt]) -> None:
        get = self._dispatch.get
        for stmt in body:
            method = get(type(stmt))
            if method is not None:
                method(self, stmt)

    def visit_Import(self, node: ast.Import) -> None:
        for a in node.names:
            if a.asname:
                self.scope.names[a.asname] = a.name
            else:
                root = a.name.split(".")[0]
                self.scope.names[root] = root

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = self.ix.absolute_module(node.module, node.level)
        for a in node.names:
            if a.name == "*":
                continue
            self.scope.names[a.asname or a.name] = f"{base}.{a.name}" if base else a.name

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.scope.names[node.name] = self.ix.def_qualified(self.scope, node.name)

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.scope.names[node.name] = self.ix.def_qualified(self.scope, node.name)

    def _bind_target(self, target: ast.AST, value: Optional[ast.AST]) -> None:
        if isinstance(target, ast.Name):
            if isinstance(value, ast.Constant) and value.value is None and self.scope.names.get(target.id):
                return  # `except ImportError: wandb = None` keeps the import's meaning where it exists
            self.scope.names[target.id] = self.ix.value_name(value, self.scope) if value is not None else None
        elif isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                self._bind_target(elt, None)
        elif isinstance(target, ast.Starred):
            self._bind_target(target.value, None)

    def visit_Assign(self, node: ast.Assign) -> None:
        for t in node.targets:
            self._bind_target(t, node.value)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._bind_target(node.target, node.value)

    def visit_With(self, node: ast.With) -> None:
        for item in node.items:
            if item.optional_vars is not None:
                self._bind_target(item.optional_vars, item.context_expr)
        self.bind_body(node.body)

    visit_AsyncWith = visit_With  # type: ignore[assignment]

    def visit_For(self, node: ast.For) -> None:
        self._bind_target(node.target, None)
        self.bind_body(node.body)
        self.bind_body(node.orelse)

    visit_AsyncFor = visit_For  # type: ignore[assignment]

    def visit_If(self, node: ast.If) -> None:
        self.bind_body(node.body)
        self.bind_body(node.orelse)

    def visit_While(self, node: ast.While) -> None:
        self.bind_body(node.body)
        self.bind_body(node.orelse)

    def visit_Try(self, node: ast.Try) -> None:
        self.bind_body(node.body)
        for h in node.handlers:
            self.bind_body(h.body)
        self.bind_body(node.orelse)
        self.bind_body(node.finalbody)

    visit_TryStar = visit_Try  # type: ignore[assignment]

    def generic_visit(self, node: ast.AST) -> None:  # do not descend into expressions
        return


_Binder._dispatch = {getattr(ast, name[6:]): method for name, method in vars(_Binder).items()
                     if name.startswith("visit_") and hasattr(ast, name[6:])}


def _leaf_types() -> frozenset:
    """Node types with nothing the index records below them."""
    out = {ast.Name, ast.alias, ast.arg, ast.Pass, ast.Break, ast.Continue, ast.Global, ast.Nonlocal}
    for base in (ast.expr_context, ast.operator, ast.cmpop, ast.unaryop, ast.boolop):
        out.update(base.__subclasses__())
    return frozenset(out)


_LEAVES = _leaf_types()
# fields that hold identifiers, flags, or leaf nodes only (operators, contexts), never a node to visit
_SCALAR_FIELDS = frozenset({"ctx", "op", "ops", "type_comment", "kind", "is_async", "level", "conversion",
                            "simple", "id", "attr", "arg", "module", "name", "names"})
_CHILD_FIELDS: Dict[type, Tuple[str, ...]] = {}


class _Indexer(ast.NodeVisitor):
    # node type -> method, for every node type but the leaves (filled below the class): one lookup
    # per child, no `visit` frame in between
    _dispatch: Dict[type, Any] = {}

    def visit(self, node: ast.AST) -> None:
        method = self._dispatch.get(type(node))
        if method is not None:
            method(self, node)

    def generic_visit(self, node: ast.AST) -> None:
        get = self._dispatch.get
        for name in _CHILD_FIELDS[type(node)]:
            value = getattr(node, name, None)
            if type(value) is list:
                for item in value:
                    method = get(type(item))
                    if method is not None:
                        method(self, item)
            else:
                method = get(type(value))
                if method is not None:
                    method(self, value)

    # the commonest node types, their children visited in field order as generic_visit would
    def visit_BinOp(self, node: ast.BinOp) -> None:
        get = self._dispatch.get
        child = node.left
        method = get(type(child))
        if method is not None:
            method(self, child)
        child = node.right
        method = get(type(child))
        if method is not None:
            method(self, child)

    def visit_Compare(self, node: ast.Compare) -> None:
        self.scope.checks = True
        get = self._dispatch.get
        child = node.left
        method = get(type(child))
        if method is not None:
            method(self, child)
        for child in node.comparators:
            method = get(type(child))
            if method is not None:
                method(self, child)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        get = self._dispatch.get
        child = node.value
        method = get(type(child))
        if method is not None:
            method(self, child)
        child = node.slice
        method = get(type(child))
        if method is not None:
            method(self, child)

    def visit_Tuple(self, node: ast.Tuple) -> None:
        get = self._dispatch.get
        for child in node.elts:
            method = get(type(child))
            if method is not None:
                method(self, child)

    visit_List = visit_Set = visit_Tuple  # type: ignore[assignment]

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        get = self._dispatch.get
        for child in node.values:
            method = get(type(child))
            if method is not None:
                method(self, child)

    visit_JoinedStr = visit_BoolOp  # type: ignore[assignment]

    def visit_Return(self, node: ast.Return) -> None:
        child = node.value
        method = self._dispatch.get(type(child))
        if method is not None:
            method(self, child)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        if type(node.op) is ast.Not:
            self.scope.checks = True
        child = node.operand
        method = self._dispatch.get(type(child))
        if method is not None:
            method(self, child)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> None:
        get = self._dispatch.get
        child = node.value
        method = get(type(child))
        if method is not None:
            method(self, child)
        child = node.format_spec
        if child is not None:
            method = get(type(child))
            if method is not None:
                method(self, child)

    def __init__(self, index: CodeIndex):
        self.index = index
        self.module = index.module
        self.is_package = index.path.endswith("__init__.py")
        self.scope = _Scope("module", "", None)
        self.toplevel = "<module>"   # "<main>" inside `if __name__ == "__main__":`

    # ---- names ------------------------------------------------------------------------------
    def absolute_module(self, module: Optional[str], level: int) -> str:
        if not level:
            return module or ""
        parts = self.module.split(".") if self.module else []
        if not self.is_package:
            parts = parts[:-1]
        if level > 1:
            parts = parts[: max(0, len(parts) - (level - 1))]
        if module:
            parts = parts + module.split(".")
        return ".".join(parts)

    def def_qualified(self, scope: _Scope, name: str) -> str:
        if scope.kind == "module":
            return f"{self.module}.{name}" if self.module else name
        return f"{self.module}.{scope.qualname}.{name}" if self.module else f"{scope.qualname}.{name}"

    def dotted(self, node: ast.AST, scope: _Scope) -> Optional[str]:
        """Resolved dotted name of a Name/Attribute/Call chain, or None."""
        tail: List[str] = []   # the chain's parts, outermost first
        while True:
            t = type(node)
            if t is ast.Attribute:
                tail.append("." + node.attr)
                node = node.value
            elif t is ast.Call:
                tail.append("()")
                node = node.func
            elif t is ast.Subscript:
                tail.append("[]")
                node = node.value
            elif t is ast.Name:
                base = scope.lookup(node.id)
                if base is None:
                    if self._is_shadowed(node.id, scope):
                        return None
                    base = node.id
                if not tail:
                    return base
                if not base:
                    return None
                tail.append(base)
                tail.reverse()
                return "".join(tail)
            else:
                return None

    def _is_shadowed(self, name: str, scope: _Scope) -> bool:
        s: Optional[_Scope] = scope
        while s is not None:
            if name in s.names:
                return True
            s = s.parent
        return False

    def value_name(self, value: ast.AST, scope: _Scope) -> Optional[str]:
        if isinstance(value, (ast.Name, ast.Attribute, ast.Call)):
            return self.dotted(value, scope)
        return None

    # ---- scopes -----------------------------------------------------------------------------
    def run(self, tree: ast.Module) -> None:
        _Binder(self, self.scope).bind_body(tree.body)
        self.index.exports = {k: v for k, v in self.scope.names.items() if v}
        self.index.top_level_statements = sum(
            1 for s in tree.body if not isinstance(s, (ast.Import, ast.ImportFrom, ast.FunctionDef,
                                                       ast.AsyncFunctionDef, ast.ClassDef))
            and not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))) + sum(
            _argv_dispatch_size(s) for s in tree.body)
        for stmt in tree.body:
            self.visit(stmt)

    def visit_If(self, node: ast.If) -> None:
        if self.scope.kind == "module" and _is_main_test(node.test):
            self.index.main_line = node.lineno
            self.toplevel = "<main>"  # runs only when the module is executed, not when imported
            for stmt in node.body:
                self.visit(stmt)
            self.toplevel = "<module>"
            for stmt in node.orelse:
                self.visit(stmt)
            return
        else:
            fails = _fails(node.body)
            self._record_comparisons(node.test, "if-fails" if fails else "if")
            if fails:
                self._record_missing_checks(node.test, "if-fails")
            if type(node.test) is ast.Attribute and node.test.attr in PREDICATE_ATTRS:
                self.scope.checks = True   # `if df.empty:`
        self.generic_visit(node)

    def visit_Assert(self, node: ast.Assert) -> None:
        self.scope.checks = True
        self._record_comparisons(node.test, "assert")
        self._record_missing_checks(node.test, "assert")
        self.generic_visit(node)

    def _record_missing_checks(self, test: ast.AST, context: str) -> None:
        for node in ast.walk(test):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            if name not in MISSING_PREDICATES:
                continue
            # `df.isnull()` asks about df; `torch.isnan(img)`, `np.isfinite(x)` about their argument
            target = node.args[0] if node.args else f.value if isinstance(f, ast.Attribute) else None
            if target is not None:
                self.index.missing_checks.append((node.lineno, self.scope.qualname or self.toplevel, context,
                                                  _source_label(target)[:80]))
                return

    def visit_Raise(self, node: ast.Raise) -> None:
        self.scope.checks = True
        self.generic_visit(node)

    def _record_comparisons(self, test: ast.AST, context: str) -> None:
        stack = [test]
        while stack:  # only through `and`/`or`/`not`: comparisons nested in calls are not gates
            node = stack.pop()
            if isinstance(node, ast.BoolOp):
                stack.extend(node.values)
            elif isinstance(node, ast.UnaryOp):
                stack.append(node.operand)
            elif isinstance(node, ast.Compare):
                operands, literals = [], []
                for o in (node.left, *node.comparators):
                    lit = _literal(o)
                    if lit is not NOT_LITERAL and not isinstance(lit, tuple):
                        literals.append(lit)
                    else:
                        operands.append(_source_label(o))  # the name as written: `acc`, not what it was assigned
                self.index.comparisons.append(Comparison(
                    node.lineno, self.scope.qualname or self.toplevel, tuple(operands),
                    tuple(type(op).__name__ for op in node.ops), tuple(literals), context))

    def _visit_def(self, node, kind: str) -> None:
        parent = self.scope
        qual = f"{parent.qualname}.{node.name}" if parent.qualname else node.name
        decorators, dargs = [], []
        for d in node.decorator_list:
            target = d.func if isinstance(d, ast.Call) else d
            decorators.append(self.dotted(target, parent) or "")
            first = None
            if isinstance(d, ast.Call) and d.args:
                first = _literal(d.args[0])
            dargs.append(first)
            self.visit(d)
        bases: Tuple[str, ...] = ()
        params: Tuple[str, ...] = ()
        if kind == "class":
            bases = tuple(self.dotted(b, parent) or "" for b in node.bases)
            for b in node.bases:
                self.visit(b)
            for kw in node.keywords:
                self.visit(kw.value)
        else:
            a = node.args
            params = tuple(x.arg for x in (*a.posonlyargs, *a.args, *a.kwonlyargs))
            for dflt in (*a.defaults, *a.kw_defaults):
                if dflt is not None:
                    self.visit(dflt)
        end = getattr(node, "end_lineno", None) or node.lineno
        self.index.defs[qual] = Definition(qual, kind, node.lineno, end, tuple(decorators), tuple(dargs), bases, params)
        scope = _Scope(kind, qual, parent, cls=(qual if kind == "class" else parent.cls))
        if kind == "function":
            for p in params:
                scope.names[p] = None
            static = any(dec in ("staticmethod", "classmethod") for dec in decorators)
            if parent.kind == "class" and params and not static:
                owner = f"{self.module}.{parent.qualname}" if self.module else parent.qualname
                scope.names[params[0]] = f"{owner}()"
        _Binder(self, scope).bind_body(node.body)
        self.scope = scope
        for stmt in node.body:
            self.visit(stmt)
        self.scope = parent
        if scope.checks and kind == "function":
            self.index.defs[qual] = self.index.defs[qual]._replace(checks=True)
            if parent.kind == "function":
                parent.checks = True   # a nested helper's test is the enclosing function's too

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._visit_def(node, "function")

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._visit_def(node, "class")

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self.visit(node.body)

    # ---- facts ------------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for a in node.names:
            self.index.imports.append(ImportRef(a.name, None, a.asname or a.name.split(".")[0],
                                                node.lineno, self.scope.qualname or self.toplevel))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = self.absolute_module(node.module, node.level)
        for a in node.names:
            self.index.imports.append(ImportRef(base, a.name, a.asname or a.name, node.lineno,
                                                self.scope.qualname or self.toplevel))

    def visit_Call(self, node: ast.Call) -> None:
        func, args, keywords = node.func, node.args, node.keywords
        scope = self.scope
        tf = type(func)
        if tf is ast.Name:   # what `dotted` answers, inline for the two commonest forms
            ident = func.id
            name = scope.lookup(ident)
            if name is None and not self._is_shadowed(ident, scope):
                name = ident
        elif tf is ast.Attribute and type(func.value) is ast.Name:
            ident = func.value.id
            base = scope.lookup(ident)
            if base is None and not self._is_shadowed(ident, scope):
                base = ident
            name = f"{base}.{func.attr}" if base else None
        else:
            name = self.dotted(func, scope)
        if scope.kind == "function" and not scope.checks:
            last = func.id if tf is ast.Name else func.attr if tf is ast.Attribute else ""
            if last in PREDICATE_CALLS or last.startswith(PREDICATE_PREFIXES):
                scope.checks = True
        if name is None and tf is ast.Attribute:
            recv = func.value
            label = recv.id if type(recv) is ast.Name else recv.attr if type(recv) is ast.Attribute else ""
            name = f"?{label}.{func.attr}"  # method on an unknown object: keep receiver and method names
        if scope.kind == "function":
            for a in args:
                if type(a) is ast.Dict:
                    last = func.id if tf is ast.Name else func.attr if tf is ast.Attribute else ""
                    self._record_dict(a, "call:" + last)
        if name:
            lits = tuple(map(_literal, args[:8]))
            kwargs = tuple([(k.arg or "**", _literal(k.value)) for k in keywords]) if keywords else ()
            refs = []
            arg_names: List[str] = []
            for a in (*args, *[k.value for k in keywords]) if keywords else args:
                t = type(a)
                if t is ast.Constant:
                    continue   # neither a reference nor an identifier
                if t is ast.Name:   # what `dotted` answers for a name, inline
                    ident = a.id
                    r = scope.lookup(ident)
                    if r is None and not self._is_shadowed(ident, scope):
                        r = ident
                    if r:
                        refs.append(r)
                    arg_names.append(ident)
                    continue
                if t is ast.Attribute:
                    r = self.dotted(a, scope)
                    if r:
                        refs.append(r)
                _identifiers(a, arg_names)
            self.index.calls.append(_new_tuple(CallSite, (
                name, node.lineno, scope.qualname or self.toplevel, lits, kwargs, tuple(refs),
                tuple(dict.fromkeys(arg_names)), sys.intern(name.rpartition(".")[2]))))
        # the children, in field order (func, args, keywords), as generic_visit would
        get = self._dispatch.get
        method = get(type(func))
        if method is not None:
            method(self, func)
        for child in args:
            method = get(type(child))
            if method is not None:
                method(self, child)
        for k in keywords:
            child = k.value
            method = get(type(child))
            if method is not None:
                method(self, child)

    def _record_assignment(self, target: ast.AST, value: Optional[ast.AST], line: int) -> None:
        if value is None or not isinstance(target, ast.Name) or self.scope.kind == "function":
            return
        lit = _literal(value)
        if lit is NOT_LITERAL and isinstance(value, ast.Call):
            for kw in value.keywords:  # dataclasses.field(default=3)
                if kw.arg == "default":
                    lit = _literal(kw.value)
        owner = self.scope.qualname if self.scope.kind == "class" else ""
        self.index.assignments.append(Assignment(f"{owner}.{target.id}" if owner else target.id, lit, line, owner))
        if isinstance(value, ast.Dict) and not owner:
            _mapping_entries(value, target.id, self.index.mapping_entries)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._record_assignment(node.target, node.value, node.lineno)
        if self.scope.kind == "function" and type(node.value) is ast.Dict and type(node.target) is ast.Name:
            self._record_dict(node.value, node.target.id)
        if self.scope.kind == "class" and isinstance(node.target, ast.Name):
            try:
                annotation = ast.unparse(node.annotation)[:80]
            except (ValueError, TypeError, AttributeError, RecursionError):
                annotation = ""
            self.index.fields.append((f"{self.scope.qualname}.{node.target.id}", annotation, node.lineno))
        if node.value is not None:
            self.visit(node.value)

    def _record_dict(self, node: ast.Dict, name: str) -> None:
        keys = tuple(k.value.lower() for k in node.keys if type(k) is ast.Constant and type(k.value) is str)
        if len(keys) >= 2:
            self.index.dict_records.append((node.lineno, self.scope.qualname or self.toplevel, name, keys[:24]))

    def visit_Assign(self, node: ast.Assign) -> None:
        targets, value = node.targets, node.value
        if self.scope.kind != "function":
            for t in targets:
                self._record_assignment(t, value, node.lineno)
        elif type(value) is ast.Dict and len(targets) == 1 and type(targets[0]) is ast.Name:
            self._record_dict(value, targets[0].id)
        for t in targets:
            tt = type(t)
            if tt is ast.Name:
                continue
            if tt is ast.Attribute:
                target = self.dotted(t, self.scope)
                if target:
                    self.index.attr_assigns.append(AttrAssign(target, _literal(node.value), node.lineno,
                                                              self.scope.qualname or self.toplevel))
            elif tt is ast.Tuple or tt is ast.List:
                # `self.train_data, self.test_data = split(...)`: each attribute unpacked is bound too
                for el in t.elts:
                    target = self.dotted(el, self.scope) if type(el) is ast.Attribute else None
                    if target:
                        self.index.attr_assigns.append(AttrAssign(target, NOT_LITERAL, node.lineno,
                                                                  self.scope.qualname or self.toplevel))
            elif isinstance(t, ast.Subscript):
                base = self.dotted(t.value, self.scope)
                key = _literal(t.slice) if not isinstance(t.slice, ast.Tuple) else NOT_LITERAL
                if base and isinstance(key, str):
                    self.index.attr_assigns.append(AttrAssign(f"{base}[{key}]", _literal(node.value),
                                                              node.lineno, self.scope.qualname or self.toplevel))
        get = self._dispatch.get   # the children: targets, then the value, as generic_visit would
        for child in targets:
            method = get(type(child))
            if method is not None:
                method(self, child)
        method = get(type(value))
        if method is not None:
            method(self, value)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        attributes = self.index.attributes
        while True:   # down an attribute chain without a call per link
            if node.attr not in attributes:
                attributes[node.attr] = node.lineno
            node = node.value
            t = type(node)
            if t is not ast.Attribute:
                break
        method = self._dispatch.get(t)   # none for a name: it holds nothing to index
        if method is not None:
            method(self, node)

    def visit_Name(self, node: ast.Name) -> None:
        return

    def visit_keyword(self, node: ast.keyword) -> None:
        value = node.value
        method = self._dispatch.get(type(value))
        if method is not None:
            method(self, value)

    def visit_Expr(self, node: ast.Expr) -> None:
        if isinstance(node.value, (ast.Constant, ast.JoinedStr)):
            return  # a docstring or a bare string statement: prose, not data
        self.visit(node.value)

    def visit_Constant(self, node: ast.Constant) -> None:
        v = node.value
        if not isinstance(v, str):
            return
        if 2 < len(v) < 300 and "\n" not in v and PATHLIKE.search(v):
            self.index.strings.append((v, node.lineno))
        elif len(v) >= TEXT_MIN_CHARS or (len(v) >= 6 and ("\n" in v or ": " in v or "#" in v)):
            self.index.texts.append((v[:TEXT_MAX_CHARS], node.lineno))


def _node_types(base: type = ast.AST):
    for cls in base.__subclasses__():
        yield cls
        yield from _node_types(cls)


for _cls in set(_node_types()):
    if _cls in _LEAVES:
        continue
    _CHILD_FIELDS[_cls] = tuple(f for f in _cls._fields if f not in _SCALAR_FIELDS)
    _Indexer._dispatch[_cls] = getattr(_Indexer, "visit_" + _cls.__name__, None) or _Indexer.generic_visit


_DISPLAYS = (ast.Dict, ast.List, ast.Tuple, ast.Set, ast.JoinedStr, ast.FormattedValue, ast.Starred)


def _identifiers(node: ast.AST, out: List[str], budget: int = 24) -> int:
    """Plain identifiers an argument uses: the name itself, an attribute's base, and names inside
    dict/list displays and f-strings (not inside nested calls, which are calls of their own)."""
    if budget <= 0:
        return 0
    if isinstance(node, ast.Name):
        out.append(node.id)
        return budget - 1
    if isinstance(node, ast.Attribute):
        return _identifiers(node.value, out, budget - 1)
    if isinstance(node, ast.Subscript):
        return _identifiers(node.value, out, budget - 1)
    if isinstance(node, _DISPLAYS):
        for child in ast.iter_child_nodes(node):
            budget = _identifiers(child, out, budget - 1)
    return budget


def _source_label(node: ast.AST) -> str:
    """A short textual label for an operand: `metrics['auc']`, `self.best_score`, `len(x)`."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_source_label(node.value)}.{node.attr}"
    if isinstance(node, ast.Subscript):
        key = _literal(node.slice)
        return f"{_source_label(node.value)}[{key!r}]" if key is not NOT_LITERAL else f"{_source_label(node.value)}[]"
    if isinstance(node, ast.Call):
        return f"{_source_label(node.func)}()"
    return f"<{type(node).__name__}>"  # an expression: always a string, e.g. "<BinOp>"


def _fails(body: List[ast.stmt]) -> bool:
    """The branch raises, exits or fails the run."""
    for stmt in body:
        if isinstance(stmt, ast.Raise):
            return True
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            f = stmt.value.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            if name in ("exit", "_exit", "fail", "abort"):
                return True
    return False


def _is_main_test(test: ast.AST) -> bool:
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
        sides = [test.left, test.comparators[0]]
        has_name = any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides)
        has_main = any(isinstance(s, ast.Constant) and s.value == "__main__" for s in sides)
        return has_name and has_main
    return False


def _argv_dispatch_size(stmt: ast.stmt) -> int:
    """Statements under a module-level `if sys.argv[1] == 'run_all':` chain: a script that dispatches
    its commands on argv without a main guard does its work at import time all the same."""
    if not isinstance(stmt, ast.If) or not any(
            isinstance(n, ast.Attribute) and n.attr == "argv" for n in ast.walk(stmt.test)):
        return 0
    return sum(1 for branch in (stmt.body, stmt.orelse) for _ in branch)


_PY2_HINTS = ("Missing parentheses in call to 'print'", "Missing parentheses in call to 'exec'")
_PY2_SOURCE = re.compile(r"^\s*(print\s+[\"'\w]|exec\s+[\"']|except\s+\w+\s*,\s*\w+\s*:)|\bur?\"|\d+L\b", re.M)


_PEP695 = re.compile(r"^\s*(type\s+\w+\s*(\[.*\])?\s*=|(async\s+)?def\s+\w+\s*\[|class\s+\w+\s*\[)")


def _needs_newer_python(source: str, lineno: Optional[int]) -> bool:
    """The line a syntax error points at is a PEP 695 `type X = ...`, `def f[T]` or `class C[T]`."""
    if sys.version_info >= (3, 12) or not lineno:
        return False
    lines = source.splitlines()
    return 0 < lineno <= len(lines) and bool(_PEP695.match(lines[lineno - 1]))


MAX_REWRITES = 20
PEP701_NOTE = "f-strings of Python 3.12+"   # a partial parse: those lines were rewritten or left out
_FSTRING_START = re.compile(r"(?<![\w'\"])[rRbB]?[fF][rRbB]?(['\"])(?!\1\1)")


def _swap_inner_quotes(line: str) -> str:
    """Rewrite one line's f-strings for an older parser: a quote inside `{...}` that equals the
    f-string's own quote (allowed from Python 3.12, PEP 701) becomes the other quote."""
    out = list(line)
    pos = 0
    while True:
        m = _FSTRING_START.search(line, pos)
        if m is None:
            return "".join(out)
        quote, other = m.group(1), "'" if m.group(1) == '"' else '"'
        i, depth = m.end(), 0
        while i < len(line):
            ch = line[i]
            if depth == 0:
                if ch == "\\":
                    i += 2
                    continue
                if ch == quote:
                    break
                if ch == "{":
                    if line[i + 1:i + 2] == "{":
                        i += 2
                        continue
                    depth = 1
            else:
                if ch in "{[(":
                    depth += ch == "{"
                elif ch == "}":
                    depth -= 1
                elif ch == quote:
                    out[i] = other
            i += 1
        pos = i + 1


_PEP701_ONLY_MSGS = ("cannot include a backslash", "cannot include '#'")


def _uses_pep701(line: str, msg: str) -> bool:
    """The line's f-string error comes from syntax Python 3.12 accepts: the enclosing quote reused
    inside `{...}` (the swap changes the line), or a backslash or comment in the expression part.
    Not an empty `{}`, a lone `}` or a bad conversion, which no Python accepts."""
    return _swap_inner_quotes(line) != line or any(m in msg for m in _PEP701_ONLY_MSGS)


def _parse_pep701(source: str, path: str) -> Tuple[ast.AST, List[int]]:
    """`ast.parse`; on a Python older than 3.12, lines whose f-strings use 3.12's syntax (the
    enclosing quote reused inside `{...}`) are rewritten with the other quote, or, failing that,
    blanked, so that the rest of the file is still read. Returns the tree and the lines touched;
    raises the first SyntaxError when that does not help."""
    try:
        return ast.parse(source, filename=path), []
    except SyntaxError as first:
        if sys.version_info >= (3, 12) or not (first.msg or "").startswith("f-string"):
            raise
        lines = source.split("\n")
        touched: List[int] = []
        exc: SyntaxError = first
        while len(touched) < MAX_REWRITES and (exc.msg or "").startswith("f-string") \
                and exc.lineno and 0 < exc.lineno <= len(lines) and exc.lineno not in touched:
            line = lines[exc.lineno - 1]
            if not _uses_pep701(line, exc.msg or ""):
                break  # an f-string error in every Python (`{}`, a lone `}`, `!z`): a syntax error, not newer syntax
            indent = line[:len(line) - len(line.lstrip())]
            nxt: Optional[SyntaxError] = None
            # the line with its inner quotes swapped; else a statement, or an argument inside brackets
            for candidate in (_swap_inner_quotes(line), indent + "pass", indent + "None,"):
                lines[exc.lineno - 1] = candidate
                try:
                    return ast.parse("\n".join(lines), filename=path), touched + [exc.lineno]
                except SyntaxError as err:
                    nxt = err
                    if err.lineno != exc.lineno:
                        break
            if nxt is None or nxt.lineno == exc.lineno:
                break
            touched.append(exc.lineno)
            exc = nxt
        raise first


MAX_SKIPPED_LINES = 3


def _parse_skipping_bad_lines(source: str, path: str, exc: SyntaxError):
    """(tree, skipped line numbers) when blanking at most MAX_SKIPPED_LINES single lines the parser
    rejects makes the file parse: a Python 3.12 f-string (`f"{d["k"]}"`) or one stray line should
    not hide a whole training script. None for Python 2 and anything needing more."""
    lines = source.splitlines()
    skipped: List[int] = []
    while len(skipped) < MAX_SKIPPED_LINES:
        lineno = exc.lineno
        if not lineno or not 0 < lineno <= len(lines) or lineno in skipped or (exc.end_lineno or lineno) != lineno:
            return None
        text = lines[lineno - 1]
        indent = text[:len(text) - len(text.lstrip())]
        if text.rstrip().endswith(("(", "[", "{", ",", "\\")) or text.rstrip() in ("", ")", "]", "}"):
            return None  # part of a longer statement: blanking one line cannot help
        lines[lineno - 1] = indent + ("if True:" if text.rstrip().endswith(":") else "pass")
        skipped.append(lineno)
        try:
            return ast.parse("\n".join(lines) + "\n", filename=path), sorted(skipped)
        except SyntaxError as again:
            exc = again
        except (ValueError, RecursionError, MemoryError):
            return None
    return None


def index_source(path: str, source: str, is_notebook: bool = False,
                 cell_starts: Tuple[int, ...] = ()) -> CodeIndex:
    index = CodeIndex(path=path, module=module_name_for(path), is_notebook=is_notebook, cell_starts=cell_starts)
    index.lines = source.count("\n") + 1
    try:
        tree, touched = _parse_pep701(source, path)
        if touched:
            index.error = (f"{PEP701_NOTE} on line(s) {', '.join(map(str, touched))}, which Python "
                           f"{sys.version_info[0]}.{sys.version_info[1]} (running mlscan) cannot parse, were read "
                           f"with their inner quotes swapped (or left out)")
    except SyntaxError as exc:
        msg = exc.msg or "invalid syntax"
        looks_py2 = any(h in msg for h in _PY2_HINTS) or bool(_PY2_SOURCE.search(source[:20000]) and "print " in source)
        recovered = None if looks_py2 or _needs_newer_python(source, exc.lineno) else \
            _parse_skipping_bad_lines(source, path, exc)
        if recovered is not None:
            tree, skipped = recovered
            where = f"line {skipped[0]}" if len(skipped) == 1 else f"lines {', '.join(map(str, skipped))}"
            index.error = f"syntax error ({where}): {msg}; {where} skipped, the rest analysed"
            try:
                _Indexer(index).run(tree)
            except RecursionError:
                index.error = "code nested too deeply to analyse; partially indexed"
            return index
        where = f" (line {exc.lineno})" if exc.lineno else ""
        if looks_py2:
            index.error = f"looks like Python 2 source; not analysed{where}"
        elif _needs_newer_python(source, exc.lineno):
            index.error = (f"uses type-parameter syntax of Python 3.12+ that Python {sys.version_info[0]}."
                           f"{sys.version_info[1]} (running mlscan) cannot parse; not analysed{where}")
        else:
            index.error = f"syntax error{where}: {msg}; not analysed"
        return index
    except (ValueError, RecursionError, MemoryError) as exc:
        index.error = f"cannot parse: {exc.__class__.__name__}; not analysed"
        return index
    try:
        _Indexer(index).run(tree)
    except RecursionError:
        index.error = "code nested too deeply to analyse; partially indexed"
    return index
