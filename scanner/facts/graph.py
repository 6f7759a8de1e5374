"""The repo's dependency graph: modules, functions, entry points, configs, artefacts,
CI jobs and pipeline stages, joined by imports, calls, reads/writes and executes edges.

Node ids: `mod:PATH`, `def:PATH:QUALNAME`, `cfg:PATH`, `art:PATH`, `ci:PATH:JOB`,
`stage:PATH:NAME`, `entry:KIND:PATH:LINE`.
"""
from __future__ import annotations

from mlscan.facts.configs import strip_dot_slash

import hashlib
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Collection, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from mlscan.facts.configs import CommandTarget, command_targets
from mlscan.facts.pycode import CallSite, CodeIndex

if TYPE_CHECKING:
    from mlscan.facts.repo import Facts

_TRAIN_NAME = re.compile(r"(?i)(^|[/_.:-])(train|training|trainer|fit|finetune|fine_tune|pretrain)[\w-]*(\.py|\.ipynb|/|$)")
CODE_PREFIXES = ("mod:", "def:", "main:")
IMPLICIT_METHODS = {"__init__", "__post_init__", "__call__", "forward", "__enter__", "__iter__", "__getitem__"}
EXEC_EDGES = {"executes", "calls", "references", "imports", "has-method", "encloses"}
ROUTE_METHODS = {"get", "post", "put", "patch", "delete", "route", "api_route", "websocket", "api", "head", "options"}
WEB_FRAMEWORKS = ("fastapi", "flask", "starlette", "sanic", "quart", "litestar", "bottle", "aiohttp", "falcon",
                  "tornado", "django", "connexion", "robyn", "blacksheep", "bentoml", "ray.serve", "modal", "chalice")
SERVING_BASES = {"kserve.Model": "kserve", "kserve.KFModel": "kserve", "kfserving.KFModel": "kserve",
                 "ts.torch_handler.base_handler.BaseHandler": "torchserve",
                 "mlserver.MLModel": "mlserver", "mlserver.model.MLModel": "mlserver",
                 "bentoml.Runnable": "bentoml", "seldon_core.user_model.SeldonComponent": "seldon"}
PREDICT_ATTRS = {"predict", "predict_proba", "predict_on_batch", "generate", "forward", "infer", "inference",
                 "run_inference", "decision_function", "transform", "classify", "detect", "encode", "embed",
                 "pipeline", "score", "__call__", "call", "load_model", "load", "from_pretrained", "load_learner"}
TRAIN_ATTRS = {"fit", "fit_generator", "train_on_batch", "partial_fit", "backward", "fit_one_cycle", "fine_tune"}
READ_ATTRS = {"read_csv", "read_parquet", "read_json", "read_excel", "read_feather", "read_table", "read_pickle",
              "read_hdf", "load", "safe_load", "load_dataset", "load_from_disk", "loadtxt", "genfromtxt", "imread",
              "open", "read_text", "read_bytes", "load_model", "load_state_dict", "from_pretrained", "load_npz",
              "DataFrame.from_csv", "load_learner", "ImageFolder", "load_img"}
WRITE_ATTRS = {"to_csv", "to_parquet", "to_json", "to_pickle", "to_feather", "to_excel", "to_hdf", "save", "dump",
               "savetxt", "save_model", "save_pretrained", "write_text", "write_bytes", "savez", "export",
               "save_weights", "imwrite", "savefig", "log_model", "save_to_disk"}
_IO_ATTRS = READ_ATTRS | WRITE_ATTRS
HYDRA_BUILDERS = {"instantiate", "call", "get_class"}
MODEL_SUFFIXES = (".pkl", ".pickle", ".joblib", ".pt", ".pth", ".ckpt", ".onnx", ".h5", ".hdf5", ".safetensors",
                  ".bin", ".model", ".sav", ".pb", ".tflite", ".keras", ".mlmodel", ".cbm", ".ubj")
DATA_SUFFIXES = (".csv", ".tsv", ".parquet", ".feather", ".jsonl", ".npy", ".npz", ".tfrecord", ".tfrecords",
                 ".arrow", ".avro", ".orc", ".xlsx", ".xls", ".txt", ".json", ".zip", ".gz", ".db", ".sqlite", ".xml")


def _defined_in(mod_path: str, idx: CodeIndex, rest: List[str]) -> Optional[str]:
    """The node of the longest prefix of `rest` that the module defines (`Class.method`, `func`)."""
    for k in range(len(rest), 0, -1):
        qual = ".".join(rest[:k])
        if qual in idx.defs:
            return f"def:{mod_path}:{qual}"
    return None


def star_imports(idx: CodeIndex) -> Tuple[str, ...]:
    """The modules a file imports everything from at module level (`from helpers import *`)."""
    return tuple(ref.module for ref in idx.imports if ref.name == "*" and ref.scope == "<module>" and ref.module)


@dataclass(frozen=True)
class EntryPoint:
    kind: str          # script | notebook | console-script | ci | pipeline | docker | mlproject | shell | serve
    path: str          # where it is declared
    line: int
    target: str        # node id it executes
    label: str

    @property
    def node(self) -> str:
        return f"entry:{self.kind}:{self.path}:{self.line}:{self.target}"


@dataclass(frozen=True)
class ServingEndpoint:
    path: str
    line: int
    framework: str
    handler: str       # node id of the handler (function, class or module)
    label: str


def is_training_call(call: CallSite) -> bool:
    """Calls that train a model: fit/backward/optimizer steps, trainer and booster `train` calls."""
    found = _TRAINING_NAMES.get(call.name)
    if found is None:
        found = _TRAINING_NAMES[call.name] = _is_training_name(call.name)
    return found


_TRAINING_NAMES: Dict[str, bool] = {}   # the answer depends on the name alone


def _is_training_name(name: str) -> bool:
    attr = name.rpartition(".")[2]
    if attr in TRAIN_ATTRS:
        return True
    head = name[: -len(attr) - 1].lower() if len(name) > len(attr) else ""
    if attr == "train":   # a TF Estimator runs the project's model_fn: the framework's training runner
        return head.startswith(("xgboost", "lightgbm", "catboost")) or "trainer" in head or "yolo" in head \
            or "estimator" in head
    if attr == "step":
        return "optim" in head
    # round 12: the gradient update of JAX/flax and TF code (`state.apply_gradients(grads=g)` on a flax
    # TrainState, flax.optim's `apply_gradient`, `optax.apply_updates`) and TF1's `optimizer.minimize(loss)`,
    # whose op a session runs (`scipy.optimize.minimize` is not an optimizer object)
    if attr in ("apply_gradients", "apply_gradient"):
        return True
    if attr == "apply_updates":
        return head.startswith("optax")
    if attr == "minimize":
        return "optimizer" in head
    if attr == "LightningCLI":   # builds the trainer and runs `fit` from the command line
        return head.startswith(("lightning", "pytorch_lightning"))
    if attr == "train_pipeline":  # BasicSR's trainer, driven by an options file
        return head.startswith("basicsr")
    return False


def artefact_kind(value: str) -> Optional[str]:
    low = value.lower().rstrip("/")
    if low.endswith(MODEL_SUFFIXES):
        return "model"
    if low.endswith(DATA_SUFFIXES):
        return "data"
    return None


_NOTHING: Tuple[None, Tuple[str, ...]] = (None, ())
_LOOP_MARK = "\0loop"                 # ends the modules of an answer found inside a loop of re-exports
_LOOP: Tuple[None, Tuple[str, ...]] = (None, (_LOOP_MARK,))
# A FilePiece, one file's share of the graph (a plain tuple, so it pickles into the fact cache):
(_NODES,        # its own nodes: (id, attrs) for the module, its main block and its definitions
 _MORE_NODES,   # nodes its edges add, in order: configs and artefacts it reads/writes, unknown scopes
 _SUCC,         # {source: {target: [edge attrs]}}: every edge from its nodes
 _EXEC,         # {source: sorted targets} of its execution edges (EXEC_EDGES)
 _DEPS,         # ((module path, interface digest), ...): the modules its names resolved into
 _EXISTS,       # ((path, exists), ...): the files it looked for
 _REGISTERED,   # functions a framework runs when the module runs
 _SERVING,      # its serving endpoints as tuples (none for tests and notebooks)
 _TRAINING,     # scope nodes that make a training call
 _CALL_ORDER,   # its calls' positions in line order
 _CALL_GROUPS,  # ((scope node, positions in that order), ...)
 _IMPORTED,     # module nodes it imports
 ) = range(12)
_PIECE_FIELDS = 12


class _NodeView:
    """`graph.nodes`: `nodes[n]`, `nodes.get(n, default)`, `nodes(data=True)`, iteration, `n in nodes`."""
    __slots__ = ("_attrs",)

    def __init__(self, attrs: Dict[str, dict]):
        self._attrs = attrs

    def __getitem__(self, n: str) -> dict:
        return self._attrs[n]

    def get(self, n: str, default=None):
        return self._attrs.get(n, default)

    def __contains__(self, n: object) -> bool:
        return n in self._attrs

    def __iter__(self):
        return iter(self._attrs)

    def __len__(self) -> int:
        return len(self._attrs)

    def __call__(self, data: bool = False):
        return list(self._attrs.items()) if data else list(self._attrs)


class MultiDiGraph:
    """The few operations of networkx's MultiDiGraph the graph needs, with the same iteration
    order (nodes and edges in insertion order). Importing networkx cost more than a whole small scan.
    Predecessors are indexed on first use (`in_edges`), from the successors, in node order."""

    def __init__(self) -> None:
        self._attrs: Dict[str, dict] = {}
        self._succ: Dict[str, Dict[str, List[dict]]] = {}
        self._pred: Optional[Dict[str, Dict[str, List[dict]]]] = None
        self.nodes = _NodeView(self._attrs)

    def add_node(self, n: str, **attrs) -> None:
        if n in self._attrs:
            self._attrs[n].update(attrs)
        else:
            self._attrs[n] = attrs
            self._succ[n] = {}
            if self._pred is not None:
                self._pred[n] = {}

    def add_edge(self, u: str, v: str, **attrs) -> None:
        if u not in self._attrs:
            self.add_node(u)
        if v not in self._attrs:
            self.add_node(v)
        data = dict(attrs)
        self._succ[u].setdefault(v, []).append(data)
        if self._pred is not None:
            self._pred[v].setdefault(u, []).append(data)

    def __contains__(self, n: object) -> bool:
        return n in self._attrs

    def successors(self, n: str):
        return iter(self._succ[n])

    def edges(self, data=False):
        for u, nbrs in self._succ.items():
            for v, datas in nbrs.items():
                for d in datas:
                    yield _edge(u, v, d, data)

    def edges_from(self, nodes: Collection[str], data=False):
        """`edges()` of the sources in `nodes` alone, in the same order."""
        for u, nbrs in self._succ.items():
            if u in nodes:
                for v, datas in nbrs.items():
                    for d in datas:
                        yield _edge(u, v, d, data)

    def out_edges(self, n: str, data=False):
        for v, datas in self._succ.get(n, {}).items():
            for d in datas:
                yield _edge(n, v, d, data)

    def in_edges(self, n: str, data=False):
        for u, datas in self._predecessors().get(n, {}).items():
            for d in datas:
                yield _edge(u, n, d, data)

    def _predecessors(self) -> Dict[str, Dict[str, List[dict]]]:
        if self._pred is None:
            pred: Dict[str, Dict[str, List[dict]]] = {n: {} for n in self._attrs}
            for u, nbrs in self._succ.items():
                for v, datas in nbrs.items():
                    pred[v].setdefault(u, []).extend(datas)
            self._pred = pred
        return self._pred


def _edge(u: str, v: str, d: dict, data):
    if data is True:
        return u, v, d
    if data:
        return u, v, d.get(data)
    return u, v


PIECES_PARALLEL_MIN = 300   # pieces to compute before forked workers pay for themselves
_FORKED_GRAPH: Optional["CodeGraph"] = None   # the graph whose pieces forked workers compute


def _pieces_in_worker(paths: List[str]) -> Tuple[List[Tuple[str, bytes]], Dict[str, str]]:
    """The pieces of `paths`, encoded, and the module interfaces computed for them (by content key)."""
    from mlscan.facts.cache import dumps
    graph = _FORKED_GRAPH
    assert graph is not None
    known = set(graph._interfaces)
    pieces = [(path, dumps(graph._file_piece(path, graph.code[path]))) for path in paths]
    keys = graph._code_keys
    return pieces, {keys[p]: d for p, d in graph._interfaces.items() if p not in known and p in keys}


def _framework_call(name: str) -> bool:
    """The calls `_add_framework_tasks` looks at (Kedro nodes, Airflow operators and DAGs)."""
    return name.startswith(("kedro.pipeline", "airflow"))


class CodeGraph:
    def __init__(self, facts: "Facts"):
        self.facts = facts
        self.g = MultiDiGraph()
        self.code: Dict[str, CodeIndex] = facts.code
        self._by_name: Dict[str, str] = {}
        self._by_suffix: Dict[str, List[str]] = {}
        self._by_loose_suffix: Dict[str, List[str]] = {}
        self._external_roots = external_roots(facts)
        self._resolve_cache: Dict[Tuple[str, str], Optional[str]] = {}
        self._reach_cache: Dict[str, frozenset] = {}
        self._code_reach_cache: Dict[str, frozenset] = {}
        self._name_cache: Dict[Tuple[str, str], Tuple[Optional[str], Tuple[str, ...]]] = {}
        self._registered: Dict[str, List[str]] = {}   # path -> functions a framework runs when the module runs
        self._interfaces: Dict[str, str] = {}
        self._code_keys: Dict[str, str] = getattr(facts, "code_keys", {})   # path -> "blob:path" (see Facts.code)
        self._resolving: Set[Tuple[str, str]] = set()
        self._pieces: Dict[str, tuple] = {}           # path -> its FilePiece (see _file_piece)
        self._build_module_tables()
        self._add_code()
        self.entry_points: List[EntryPoint] = []
        self._add_entry_points()

    # ---- module resolution ------------------------------------------------------------------
    def _build_module_tables(self) -> None:
        """Module names, and the shorter names a module is importable by from a sys.path root.

        `src/pkg/utils/logging.py` is importable as `pkg.utils.logging` (src/ is a plain folder that
        can be a sys.path root) but not as `logging` or `utils.logging` (pkg/ is a package, so its
        modules are only importable through it)."""
        packages = {p.rsplit("/", 1)[0] for p in self.code if p.endswith("/__init__.py")}
        self._components: Set[str] = set()   # every part of every module name: a name resolves only from one
        self._last_parts: Set[str] = set()   # and only up to a prefix that ends with a module's last part
        for idx in self.code.values():
            if idx.module:
                parts = idx.module.split(".")
                self._components.update(parts)
                self._last_parts.add(parts[-1])
        for path in sorted(self.code):
            idx = self.code[path]
            if not idx.module:
                continue
            if idx.is_notebook:
                self._by_name.setdefault(idx.module, path)
                continue
            self._by_name[idx.module] = path
            dirs = path.split("/")[:-1]
            parts = idx.module.split(".")
            crossed = False
            for i in range(1, len(parts)):
                crossed = crossed or "/".join(dirs[:i]) in packages
                # past a package, the short name works only through sys.path edits (tests, scripts)
                table = self._by_loose_suffix if crossed else self._by_suffix
                table.setdefault(".".join(parts[i:]), []).append(path)

    def resolve_module(self, importer: Optional[str], dotted: str) -> Optional[str]:
        key = (importer.rsplit("/", 1)[0] if importer and "/" in importer else "", dotted)
        if key in self._resolve_cache:
            return self._resolve_cache[key]
        found = self._resolve_module(importer, dotted)
        self._resolve_cache[key] = found
        return found

    def _resolve_module(self, importer: Optional[str], dotted: str) -> Optional[str]:
        if importer and "/" in importer:
            d = importer.rsplit("/", 1)[0]
            if d:
                local = d.replace("/", ".").replace("-", "_") + "." + dotted
                if local in self._by_name:
                    return self._by_name[local]
        if dotted in self._by_name:
            return self._by_name[dotted]
        cands = self._by_suffix.get(dotted)
        if not cands and dotted.split(".")[0] not in self._external_roots:
            cands = self._by_loose_suffix.get(dotted)
        if not cands:
            return None
        if len(cands) == 1:
            return cands[0]
        if importer:
            imp = importer.split("/")

            def shared(p: str) -> int:
                n = 0
                for a, b in zip(imp, p.split("/")):
                    if a != b:
                        break
                    n += 1
                return n
            return sorted(cands, key=lambda p: (-shared(p), len(p), p))[0]
        return sorted(cands, key=lambda p: (len(p), p))[0]

    def resolve_name(self, importer: str, name: str, depth: int = 0) -> Optional[str]:
        """Node id (def or module) for a resolved dotted name used in `importer`, if it is repo code.
        Re-exports are followed to their end (a loop of re-exports resolves to nothing), so the
        answer does not depend on which names were resolved before (`depth` is not used)."""
        return self._resolve_traced(importer, name)[0]

    def _resolve_traced(self, importer: str, name: str) -> Tuple[Optional[str], Tuple[str, ...]]:
        """(resolve_name's answer, the modules whose definitions or exports it looked into).
        Besides those, the answer depends only on the module tables (see resolution_digest)."""
        if not name or name[0] == "?" or "[]" in name:
            return _NOTHING
        if name.partition(".")[0].replace("()", "") not in self._components:
            return _NOTHING  # no module name has this part: no prefix of the name can resolve
        # the answer depends on the importer's folder only (see resolve_module), so files of one
        # folder share their lookups
        key = (importer.rsplit("/", 1)[0] if "/" in importer else "", name)
        found = self._name_cache.get(key)
        if found is None:
            resolving = self._resolving
            if key in resolving or len(resolving) > 200:
                return _LOOP  # re-exports that lead back here: nothing
            resolving.add(key)
            try:
                found = self._resolve_name(importer, name)
            finally:
                resolving.discard(key)
            if found[1] and found[1][-1] is _LOOP_MARK:  # part of a loop: complete only from its start
                return (found[0], found[1][:-1]) if not resolving else found
            self._name_cache[key] = found
        return found

    def _resolve_name(self, importer: str, name: str) -> Tuple[Optional[str], Tuple[str, ...]]:
        parts = name.replace("()", "").split(".")
        last_parts = self._last_parts
        for i in range(len(parts), 0, -1):
            if parts[i - 1] not in last_parts:
                continue
            mod_path = self.resolve_module(importer, ".".join(parts[:i]))
            if mod_path is None:
                continue
            rest = parts[i:]
            if not rest:
                return f"mod:{mod_path}", ()
            idx = self.code[mod_path]
            defined = _defined_in(mod_path, idx, rest)
            if defined:
                return defined, (mod_path,)
            target = idx.exports.get(rest[0])
            if target and target != name:
                found, via = self._resolve_traced(mod_path, ".".join([target] + rest[1:]))
                return found, (mod_path, *via)
            found, via = self._star_lookup(mod_path, idx, rest)   # `from .utils import *` in an __init__.py
            if found:
                return found, (mod_path, *via)
            return None, (mod_path,)
        return _NOTHING

    def _star_lookup(self, mod_path: str, idx: CodeIndex, rest: List[str]) -> Tuple[Optional[str], Tuple[str, ...]]:
        """`rest` defined or exported by a module that `mod_path` imports everything from, one star
        deep: a star module's own star imports are not followed (chains of them, as in a vendored
        library's __init__, would multiply the lookups)."""
        for star in star_imports(idx):
            spath = self.resolve_module(mod_path, star)
            if spath is None or spath == mod_path:
                continue
            sidx = self.code[spath]
            defined = _defined_in(spath, sidx, rest)
            if defined:
                return defined, (spath,)
            target = sidx.exports.get(rest[0])
            if target and not target.startswith(star + "."):
                found, via = self._resolve_traced(spath, ".".join([target] + rest[1:]))
                if found:
                    return found, (spath, *via)
        return None, ()

    def name_origin(self, importer: str, name: str, seen: Optional[Set[str]] = None) -> Tuple[Optional[str], Tuple[str, ...]]:
        """(what a name used in `importer` stands for, the modules looked into): the outside name a
        project module's variable was bound to, following re-exports (`tutorial.app` ->
        `fastapi.FastAPI()` when tutorial/__init__.py says `app = FastAPI()`); the name itself when
        no prefix of it is project code; the node of a project definition it names; None when it
        names a project module, or a variable whose value is not a name."""
        seen = set() if seen is None else seen
        if not name or name[0] == "?" or "[]" in name or name in seen or len(seen) > 20:
            return None, ()
        seen.add(name)
        parts = name.split(".")
        bare = [q.replace("()", "") for q in parts]
        for i in range(len(parts), 0, -1):
            if "()" in "".join(parts[: i - 1]) or bare[i - 1] not in self._last_parts:
                continue   # a call's result is no module
            mod_path = self.resolve_module(importer, ".".join(bare[:i]))
            if mod_path is None:
                continue
            rest = parts[i:]
            if not rest and parts[i - 1].endswith("()"):
                return None, (mod_path,)
            if not rest:
                return None, ()
            idx = self.code[mod_path]
            defined = _defined_in(mod_path, idx, [q.replace("()", "") for q in rest])
            if defined:   # past the definition (`S().app`, an instance's attribute) it cannot be followed
                return (defined if defined.count(".") - mod_path.count(".") >= len(rest) - 1 else name), (mod_path,)
            head = rest[0].replace("()", "")
            target = idx.exports.get(head)
            if not target:
                return None, (mod_path,)
            call = "()" if rest[0].endswith("()") else ""
            found, via = self.name_origin(mod_path, ".".join([target + call] + rest[1:]), seen)
            return found, (mod_path, *via)
        return name, ()

    # ---- incremental building: what the pieces depend on --------------------------------------
    def resolution_digest(self) -> str:
        """What name resolution depends on besides the modules it looks into: every code file's
        path and module name (the module tables) and the top-level names of outside packages."""
        h = hashlib.sha1()
        for path, idx in self.code.items():
            h.update(f"{path}\0{idx.module}\0{idx.is_notebook:d}\n".encode("utf-8", "surrogateescape"))
        h.update("\0".join(sorted(self._external_roots)).encode("utf-8", "surrogateescape"))
        return h.hexdigest()[:20]

    def _interface(self, path: str) -> str:
        """A digest of what resolution reads in one module: its definitions (names, kinds), exports and
        star imports. Kept across scans by the file's content (checking each cached piece asks for
        the interfaces of nearly every module)."""
        found = self._interfaces.get(path)
        if found is None:
            key = self._code_keys.get(path)
            if key is not None:
                found = self.facts.file_maps.get("graph.interface", key, lambda: self._interface_of(path))
            else:
                found = self._interface_of(path)
            self._interfaces[path] = found
        return found

    def _interface_of(self, path: str) -> str:
        idx = self.code.get(path)
        text = "-" if idx is None else repr(([(q, d.kind) for q, d in idx.defs.items()],
                                             sorted(idx.exports.items()), star_imports(idx)))
        return hashlib.sha1(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]

    def _still_valid(self, piece: tuple) -> bool:
        if not isinstance(piece, tuple) or len(piece) != _PIECE_FIELDS:
            return False
        interface, exists = self._interface, self.facts.exists
        try:
            return all(interface(m) == d for m, d in piece[_DEPS]) and all(exists(p) == e for p, e in piece[_EXISTS])
        except (TypeError, ValueError):  # not a piece this build wrote: rebuild it
            return False

    # ---- code nodes and edges ---------------------------------------------------------------
    def scope_node(self, path: str, scope: str) -> str:
        """The code node a call's scope ("<module>", "<main>" or a def qualname) belongs to."""
        return self._scope_node(path, scope)

    def _scope_node(self, path: str, scope: str) -> str:
        if scope == "<module>":
            return f"mod:{path}"
        return f"main:{path}" if scope == "<main>" else f"def:{path}:{scope}"

    def _add_code(self) -> None:
        """Code nodes and edges: each file's share (a FilePiece) comes from the fact cache when the
        file, the module tables and every module its names resolved into are as they were;
        otherwise it is computed. The graph is then assembled from the pieces in path order."""
        facts = self.facts
        keys: Dict[str, str] = getattr(facts, "code_keys", {})
        store = facts._fact_store() if keys else None
        digest = self.resolution_digest() if keys else ""
        wanted = {p: f"{keys[p]}|{digest}" for p in self.code if p in keys}
        hits = store.get_many("graph", wanted.values()) if store is not None and wanted else {}
        found: Dict[str, tuple] = {}
        todo: List[str] = []
        for path in self.code:
            key = wanted.get(path)
            piece = hits.get(key) if key is not None else None
            if piece is None or not self._still_valid(piece):
                todo.append(path)
            else:
                found[path] = piece
        computed = self._pieces_forked(todo, store is not None and store.persistent) if todo else None
        if computed is None:
            computed = {path: (self._file_piece(path, self.code[path]), None) for path in todo}
        pieces = self._pieces
        for path in self.code:   # in path order, as the graph is assembled
            pieces[path] = found[path] if path in found else computed[path][0]
        if store is not None:
            fresh = [(wanted[p], piece, data) for p, (piece, data) in computed.items() if p in wanted]
            if fresh:
                store.put_encoded("graph", fresh, later=facts.defer_writes)
        self._assemble()

    def _pieces_forked(self, paths: List[str], encode: bool) -> Optional[Dict[str, Tuple[tuple, Optional[bytes]]]]:
        """path -> (piece, its cache encoding) for many pieces at once (a cold scan), computed in
        forked processes on the free cores; None where that is not worth it or not possible (then
        they are computed here). A piece depends only on its file and the module tables, which
        the workers inherit, so where it is computed changes nothing."""
        import os
        from mlscan.facts import track
        if len(paths) < PIECES_PARALLEL_MIN or not hasattr(os, "fork") or track.ACTIVE is not None:
            return None
        from mlscan.facts.indexing import default_jobs
        jobs = self.facts.options.jobs or default_jobs()
        if jobs < 2:
            return None
        from mlscan.facts.cache import dumps, loads
        from mlscan.facts.indexing import share_out
        global _FORKED_GRAPH
        # the costliest files first, in chunks of about equal calls; this process takes chunks
        # too, after the rules' call index (it needs no graph)
        from mlscan.facts.indexing import chunks_by_size
        chunks: List[List[str]] = chunks_by_size(paths, lambda p: len(self.code[p].calls), jobs)

        def here(chunk: List[str]) -> List[Tuple[str, tuple, Optional[bytes]]]:
            out = []
            for path in chunk:
                piece = self._file_piece(path, self.code[path])
                out.append((path, piece, dumps(piece) if encode else None))
            return out

        _FORKED_GRAPH = self
        try:
            interfaces: Dict[str, str] = {}   # what the workers computed (this process's are kept as computed)

            def decode(got) -> List[Tuple[str, tuple, Optional[bytes]]]:
                pieces, found = got
                interfaces.update(found)
                return [(path, loads(data), data if encode else None) for path, data in pieces]

            parts = share_out(chunks, _pieces_in_worker, here, jobs, decode=decode,
                              meanwhile=(self.facts.call_table.prepare,))
            if interfaces:
                self.facts.file_maps.merge({"graph.interface": interfaces})   # kept for the next scans
        finally:
            _FORKED_GRAPH = None
        return {path: (piece, data) for part in parts for path, piece, data in part}

    def _assemble(self) -> None:
        g = self.g
        attrs, succ = g._attrs, g._succ
        pieces = self._pieces.values()
        # The pieces' dicts are shared, not copied (a --base scan shares them with the head scan):
        # nothing changes a file's own nodes after this, and only its own file gave them edges.
        for piece in pieces:      # every file's own nodes first, then what its edges added
            for n, a in piece[_NODES]:
                attrs[n] = a
        for piece in pieces:
            for n, a in piece[_MORE_NODES]:  # configs and artefacts: later steps may add to them
                if n in attrs:
                    attrs[n].update(a)
                else:
                    attrs[n] = dict(a)
        for n in attrs:
            succ[n] = {}
        for piece in pieces:
            succ.update(piece[_SUCC])
        for path, piece in self._pieces.items():
            if piece[_REGISTERED]:
                self._registered[path] = list(piece[_REGISTERED])

    def _file_piece(self, path: str, idx: CodeIndex) -> tuple:
        """One file's share of the graph, computed from its index and the module tables alone
        (plus the interfaces of the modules its names resolve into, recorded as dependencies)."""
        nodes: List[Tuple[str, dict]] = []
        more_nodes: List[Tuple[str, dict]] = []
        succ: Dict[str, Dict[str, List[dict]]] = {}
        deps: Set[str] = set()
        exists: Dict[str, bool] = {}
        imported: Set[str] = set()
        registered: List[str] = []

        shared: Dict[Tuple[str, int], dict] = {}   # one attrs dict per (kind, line): many calls share a line

        def edge(u: str, v: str, data: dict) -> None:
            data = shared.setdefault((data["kind"], data.get("line", 0)), data)
            if u not in known:
                known.add(u)
                more_nodes.append((u, {}))
            nbrs = succ.get(u)
            if nbrs is None:
                nbrs = succ[u] = {}
            datas = nbrs.get(v)
            if datas is None:
                nbrs[v] = [data]
            else:
                datas.append(data)

        nodes.append((f"mod:{path}", {"kind": "notebook" if idx.is_notebook else "module", "path": path, "line": 1}))
        if idx.main_line:
            nodes.append((f"main:{path}", {"kind": "main-block", "path": path, "line": idx.main_line}))
        defs = idx.defs
        for qual, d in defs.items():
            nodes.append((f"def:{path}:{qual}", {"kind": d.kind, "path": path, "line": d.line, "name": qual}))
        known = {n for n, _ in nodes}
        for qual, d in defs.items():
            node = f"def:{path}:{qual}"
            owner = qual.rsplit(".", 1)[0] if "." in qual else None
            if owner and owner in defs and defs[owner].kind == "class":
                # instantiating a class runs its constructor; `obj(x)` runs __call__/forward
                kind = "has-method" if qual.rsplit(".", 1)[1] in IMPLICIT_METHODS else "defines"
                edge(f"def:{path}:{owner}", node, {"kind": kind})
            elif owner and owner in defs:  # a function defined inside a function
                edge(f"def:{path}:{owner}", node, {"kind": "encloses"})
            else:
                edge(f"mod:{path}", node, {"kind": "defines"})
        memo: Dict[str, Tuple[Optional[str], Tuple[str, ...]]] = {}   # names repeat within a file

        stars = star_imports(idx)

        def resolve(name: str) -> Tuple[Optional[str], Tuple[str, ...]]:
            found = memo.get(name)
            if found is None:
                found = self._resolve_traced(path, name)
                if found[0] is None and stars and name and name[0] not in "?." and "[]" not in name:
                    for star in stars:   # a name the file never binds may come from `from helpers import *`
                        by_star = self._resolve_traced(path, f"{star}.{name}")
                        if by_star[0]:
                            found = (by_star[0], found[1] + by_star[1])
                            break
                memo[name] = found
                if found[1]:
                    deps.update(found[1])
            return found

        scope_node = self._scope_node
        seen_imports: Set[str] = set()
        for ref in idx.imports:
            full = f"{ref.module}.{ref.name}" if ref.name else ref.module
            target = resolve(full)[0]
            if not target and ref.module:
                target = resolve(ref.module)[0]
            if target:
                mod_target = target if target.startswith("mod:") else "mod:" + target.split(":")[1]
                if mod_target != f"mod:{path}" and mod_target not in seen_imports:
                    seen_imports.add(mod_target)
                    imported.add(mod_target)
                    edge(scope_node(path, ref.scope if ref.scope in defs else "<module>"), mod_target,
                         {"kind": "imports", "line": ref.line})
        has_hub = "hubconf.py" in self.code
        scopes: Dict[str, str] = {}
        for call in idx.calls:
            src = scopes.get(call.scope)
            if src is None:
                src = scopes[call.scope] = scope_node(path, call.scope)
            target = (memo.get(call.name) or resolve(call.name))[0]
            if target is None and has_hub and call.name == "torch.hub.load":
                deps.add("hubconf.py")
                for entry in self._hub_entries(call):  # torch.hub runs an entry function of the repo's hubconf
                    edge(src, entry, {"kind": "calls", "line": call.line})
            if target and target != src:
                edge(src, target, {"kind": "calls", "line": call.line})
            for ref in call.refs:
                t = (memo.get(ref) or resolve(ref))[0]
                if t and t.startswith("def:") and t != src:
                    edge(src, t, {"kind": "references", "line": call.line})
            if call.attr in _IO_ATTRS:
                self._add_io(src, call, edge, more_nodes, known, exists)
        for qual, d in defs.items():  # decorators run at definition time
            for dec in d.decorators:
                t = resolve(dec)[0]
                if t and t.startswith("def:"):
                    edge(f"def:{path}:{qual}", t, {"kind": "calls", "line": d.line})
                if "." not in qual and _registers(dec):  # @app.command, @hydra.main, @task: run by the framework
                    registered.append(f"def:{path}:{qual}")
        exec_adj = {}
        for u, nbrs in succ.items():
            vs = [v for v, datas in nbrs.items() if any(d["kind"] in EXEC_EDGES for d in datas)]
            if vs:
                exec_adj[u] = tuple(sorted(vs))
        from mlscan.facts.repo import is_test_path

        def app_origin(head: str) -> Optional[str]:
            """What a route's app stands for, through the project's modules: an outside name
            (`fastapi.FastAPI()`), a project function's node (an app factory), or None."""
            found, via = self.name_origin(path, head)
            deps.update(via)
            return found
        # a notebook serves only through an app it launches (a Gradio demo); its other calls are offline
        serving = () if is_test_path(path) else tuple(
            (e.path, e.line, e.framework, e.handler, e.label) for e in _serving_in_module(path, idx, app_origin)
            if not idx.is_notebook or e.framework == "gradio")
        calls = idx.calls
        training = tuple(sorted({scopes[c.scope] for c in calls if is_training_call(c)}))
        order = [k[3] for k in sorted([(c.line, c.scope, c.name, i) for i, c in enumerate(calls)])]
        groups: Dict[str, List[int]] = {}
        for pos, i in enumerate(order):
            scope = calls[i].scope
            group = groups.get(scope)
            if group is None:
                groups[scope] = [pos]
            else:
                group.append(pos)
        call_groups = tuple((scopes[scope], tuple(ps)) for scope, ps in groups.items())
        return (tuple(nodes), tuple(more_nodes), succ, exec_adj, tuple(sorted((m, self._interface(m)) for m in deps)),
                tuple(sorted(exists.items())), tuple(registered), serving, training, tuple(order), call_groups,
                tuple(sorted(imported)))

    def _hub_entries(self, call: CallSite) -> List[str]:
        """hubconf.py functions `torch.hub.load(repo, model)` may run: the named one, else every public one."""
        hub = self.code["hubconf.py"]
        name = call.args[1] if len(call.args) > 1 else call.kwarg("model")
        public = [q for q, d in hub.defs.items() if d.kind == "function" and "." not in q and not q.startswith("_")]
        chosen = [name] if isinstance(name, str) and name in public else public
        return [f"def:hubconf.py:{q}" for q in sorted(chosen)]

    def _add_io(self, src: str, call: CallSite, edge, more_nodes: List[Tuple[str, dict]], known: Set[str],
                exists: Dict[str, bool]) -> None:
        attr = call.attr
        direction = "reads" if attr in READ_ATTRS else "writes" if attr in WRITE_ATTRS else None
        if direction is None:
            return
        for value in (*call.args, *(v for _, v in call.kwargs)):
            if not isinstance(value, str):
                continue
            if attr == "open" and len(call.args) > 1 and isinstance(call.args[1], str) and \
                    any(m in call.args[1] for m in "wax"):
                direction = "writes"
            kind = artefact_kind(value)
            rel = strip_dot_slash(value)
            found = exists.get(rel)
            if found is None:
                found = exists[rel] = self.facts.exists(rel)
            if found and value.lower().endswith((".yaml", ".yml", ".toml", ".json", ".cfg", ".ini")):
                node = f"cfg:{rel}"
                more_nodes.append((node, {"kind": "config", "path": rel, "line": 1}))
                known.add(node)
                edge(src, node, {"kind": "reads", "line": call.line})
            elif kind:
                node = f"art:{value}"
                more_nodes.append((node, {"kind": kind, "path": value, "line": None}))
                known.add(node)
                edge(src, node, {"kind": direction, "line": call.line})
            break

    # ---- entry points -----------------------------------------------------------------------
    def _target_for_command(self, t: CommandTarget, base_dir: str = "") -> Optional[str]:
        if t.kind in ("script", "notebook"):
            raw = t.target.replace("\\", "/")
            for cand in (str(PurePosixPath(base_dir) / raw) if base_dir else raw, raw):
                cand = re.sub(r"^(\./)+", "", cand)
                cand = str(PurePosixPath(cand))
                if cand in self.code:
                    return f"mod:{cand}"
            # a path that names a file only by its tail (cd'ed into a folder first)
            tails = [p for p in self.code if p.endswith("/" + strip_dot_slash(raw))]
            return f"mod:{tails[0]}" if len(tails) == 1 else None
        if t.kind == "module":
            p = self.resolve_module(None, t.target)
            return f"mod:{p}" if p else None
        if t.kind == "app":
            mod = t.target.split(":", 1)[0]
            p = self.resolve_module(None, mod)
            return f"mod:{p}" if p else None
        return None

    def _add_entry(self, kind: str, path: str, line: int, target: Optional[str], label: str,
                   via: Optional[str] = None) -> None:
        if not target or target not in self.g:
            return
        ep = EntryPoint(kind, path, line, target, label)
        self.entry_points.append(ep)
        self.g.add_node(ep.node, kind="entry-point", entry_kind=kind, path=path, line=line, label=label)
        self.g.add_edge(ep.node, target, kind="executes", line=line)
        if via:
            self.g.add_edge(via, target, kind="executes", line=line)
            self.g.add_edge(ep.node, via, kind="declared-in", line=line)
        if target.startswith("mod:") and f"main:{target[4:]}" in self.g:  # running it runs its main block
            self.g.add_edge(ep.node, f"main:{target[4:]}", kind="executes", line=line)
        if target.startswith("mod:"):  # running a module runs its registered commands (typer, click, hydra)
            for fn in self._registered.get(target[4:], []):
                self.g.add_edge(ep.node, fn, kind="executes", line=line)

    def _add_entry_points(self) -> None:
        from mlscan.facts.repo import is_test_path
        facts = self.facts
        for path in sorted(self.code):
            idx = self.code[path]
            if is_test_path(path):
                continue
            if idx.is_notebook:
                self._add_entry("notebook", path, 1, f"mod:{path}", f"notebook {path}")
            elif idx.main_line:
                self._add_entry("script", path, idx.main_line, f"mod:{path}", f"{path} main block")
            elif self._is_top_level_script(path, idx):
                self._add_entry("script", path, 1, f"mod:{path}", f"{path} (top-level script)")
        # console scripts
        for f in facts.named("pyproject.toml"):
            facts.guarded(f.path, "pyproject scripts", lambda p=f.path: self._add_console_scripts(p), None)
        # CI jobs
        for job in facts.ci_jobs:
            job_node = f"ci:{job.path}:{job.name}"
            self.g.add_node(job_node, kind="ci-job", path=job.path, line=job.line, name=job.name)
            for step in job.steps:
                for t in command_targets(step.run):
                    self._add_entry("ci", job.path, step.line, self._target_for_command(t), f"CI {job.name}: {step.run.strip()[:60]}", via=job_node)
        # declared pipelines
        for f in facts.glob("dvc.yaml", "MLproject", "MLproject.yaml"):
            facts.guarded(f.path, "pipeline file", lambda p=f.path: self._add_pipeline_stages(p), None)
        for path, instrs in sorted(facts.dockerfiles.items()):
            base = str(PurePosixPath(path).parent)
            for ins in instrs:
                if ins.keyword in ("CMD", "ENTRYPOINT"):
                    for t in command_targets(ins.command()):
                        tgt = self._target_for_command(t) or self._target_for_command(t, base if base != "." else "")
                        self._add_entry("docker", path, ins.line, tgt, f"{ins.keyword} {ins.command()[:60]}")
        for path, line, cmd in facts.shell_commands:
            base = str(PurePosixPath(path).parent)
            for t in command_targets(cmd):
                tgt = self._target_for_command(t) or self._target_for_command(t, base if base != "." else "")
                self._add_entry("shell", path, line, tgt, f"{path}: {cmd[:60]}")
        for ep in self.serving_endpoints:
            self._add_entry("serve", ep.path, ep.line, ep.handler, ep.label)
        self._add_framework_tasks()

    def _add_framework_tasks(self) -> None:
        """Functions a pipeline framework runs: Kedro `node(func, ...)`, Airflow
        `PythonOperator(python_callable=func)`, DAG files, which the scheduler executes, and the
        `@step` methods of a Metaflow `FlowSpec`."""
        from mlscan.facts.repo import is_test_path
        framework_calls = self.facts.call_table.named(_framework_call, roots=("kedro", "airflow"))
        for path in sorted(self.code):
            if is_test_path(path):
                continue
            idx = self.code[path]
            dag_file = False
            for call in framework_calls.get(path, ()):
                name = call.name
                if name.startswith("kedro.pipeline") and call.attr in ("node", "Node") and call.refs:
                    target = self.resolve_name(path, call.refs[0])
                    self._add_entry("pipeline", path, call.line, target, f"Kedro node {call.refs[0].rsplit('.', 1)[-1]}")
                elif name.startswith("airflow") and call.attr.endswith("Operator") and call.has_kwarg("python_callable"):
                    for ref in call.refs:
                        target = self.resolve_name(path, ref)
                        if target and target.startswith("def:"):
                            self._add_entry("pipeline", path, call.line, target, f"Airflow task {ref.rsplit('.', 1)[-1]}")
                elif name in ("airflow.DAG", "airflow.models.DAG", "airflow.models.dag.DAG", "airflow.decorators.dag"):
                    dag_file = True
            if dag_file:
                self._add_entry("pipeline", path, 1, f"mod:{path}", f"Airflow DAG {path}")
            for qual, d in idx.defs.items():   # Metaflow: the @step methods of a FlowSpec are the flow's stages
                if d.kind == "function" and "metaflow.step" in d.decorators and "." in qual:
                    owner = idx.defs.get(qual.rsplit(".", 1)[0])
                    if owner is not None and any(b.startswith("metaflow.FlowSpec") for b in owner.bases):
                        self._add_entry("pipeline", path, d.line, f"def:{path}:{qual}", f"Metaflow step {qual}")

    def _is_top_level_script(self, path: str, idx: CodeIndex) -> bool:
        """A module that does its work at import time and that no other module imports."""
        if idx.is_notebook or path.endswith("__init__.py") or idx.top_level_statements < 3:
            return False
        if not any(c.scope == "<module>" for c in idx.calls):
            return False
        return f"mod:{path}" not in self._imported_modules

    def _add_console_scripts(self, path: str) -> None:
        doc = self.facts.config(path)
        data = doc.data if doc and isinstance(doc.data, dict) else {}
        project, tool = data.get("project"), data.get("tool")
        scripts = dict(project.get("scripts") or {}) if isinstance(project, dict) else {}
        poetry = tool.get("poetry") if isinstance(tool, dict) else None
        if isinstance(poetry, dict) and isinstance(poetry.get("scripts"), dict):
            scripts.update(poetry["scripts"])
        for name, spec in sorted(scripts.items()):
            if isinstance(spec, str) and ":" in spec:
                mod, func = spec.split(":", 1)
                target = self.resolve_name("", f"{mod}.{func.split('.')[0]}") or self.resolve_name("", mod)
                self._add_entry("console-script", path, self.facts.line_of(path, name), target, f"console script {name}")

    def _add_pipeline_stages(self, path: str) -> None:
        facts = self.facts
        doc = facts.config(path)
        if not doc or doc.error or not isinstance(doc.data, dict):
            return
        base = str(PurePosixPath(path).parent)
        base = "" if base == "." else base
        data = doc.data
        stages = data.get("stages") if "stages" in data else data.get("entry_points")
        if not isinstance(stages, dict):
            return
        for name, st in stages.items():
            if not isinstance(st, dict):
                continue
            node = f"stage:{path}:{name}"
            line = facts.line_of(path, f"{name}:")
            self.g.add_node(node, kind="pipeline-stage", path=path, line=line, name=str(name))
            wdir = st.get("wdir") if isinstance(st.get("wdir"), str) else ""
            cmd_dir = str(PurePosixPath(base) / wdir) if wdir else base
            cmds = st.get("cmd", st.get("command"))
            for cmd in cmds if isinstance(cmds, list) else [cmds]:
                for t in command_targets(cmd) if isinstance(cmd, str) else []:
                    tgt = self._target_for_command(t, cmd_dir) or self._target_for_command(t)
                    self._add_entry("pipeline", path, line, tgt, f"stage {name}: {str(cmd)[:60]}", via=node)
            for key, edge in (("deps", "reads"), ("outs", "writes"), ("params", "reads"), ("metrics", "writes")):
                items = st.get(key) or []
                for item in items if isinstance(items, list) else []:
                    value = item if isinstance(item, str) else next(iter(item), None) if isinstance(item, dict) else None
                    if not isinstance(value, str):
                        continue
                    rel = str(PurePosixPath(cmd_dir) / value) if cmd_dir else value
                    if rel in self.code:
                        if key == "deps":
                            continue
                    kind = "config" if key == "params" else (artefact_kind(rel) or "data")
                    tnode = f"cfg:{rel}" if key == "params" else f"art:{rel}"
                    self.g.add_node(tnode, kind=kind, path=rel, line=None)
                    self.g.add_edge(node, tnode, kind=edge, line=line)

    # ---- derived facts ----------------------------------------------------------------------
    def reachable(self, start: str) -> Set[str]:
        return set(self._reach(start))

    def _reach(self, start: str) -> frozenset:
        cached = self._reach_cache.get(start)
        if cached is None:
            cached = self._reach_cache[start] = frozenset(self._reachable(start))
        return cached

    @cached_property
    def _reaches_training(self) -> Set[str]:
        """Nodes from which some training call node is reachable (one walk backwards over the
        execution edges, instead of one forward walk per entry point)."""
        return self.reaching(self.training_call_nodes)

    @cached_property
    def _dispatch_edges(self) -> Dict[str, List[str]]:
        """Edges the call graph cannot see when objects are built by name: a class to its own
        methods (an object built from a registry, hydra `instantiate` or a pipeline of task objects,
        or handed to a runner, has its methods called), a module to the classes it defines (a registry
        that collects a package's classes by introspection instantiates them), and a module calling
        `fire.Fire()` to its top-level functions (each is a command)."""
        extra: Dict[str, List[str]] = {}
        for path, idx in self.code.items():
            defs = idx.defs
            for qual, d in defs.items():
                owner = qual.rsplit(".", 1)[0] if "." in qual else None
                if owner and owner in defs and defs[owner].kind == "class":
                    extra.setdefault(f"def:{path}:{owner}", []).append(f"def:{path}:{qual}")
                elif owner is None and d.kind == "class":
                    extra.setdefault(f"mod:{path}", []).append(f"def:{path}:{qual}")
            if any(c.name == "fire.Fire" and not c.args and not c.kwargs for c in idx.calls):
                extra.setdefault(f"mod:{path}", []).extend(
                    f"def:{path}:{q}" for q, d in defs.items() if "." not in q and d.kind == "function")
        # r12: hydra `instantiate(cfg.agent)` builds the project's classes that the YAML configs name
        # (`_target_: agent.sac.SACAgent`, hydra 0.x `class:`): the calling code reaches them
        named = self._config_named_classes() if any(
            c.attr in HYDRA_BUILDERS and c.name.startswith(("hydra.", "?hydra")) for idx in self.code.values()
            for c in idx.calls) else []
        if named:
            for path, idx in self.code.items():
                for c in idx.calls:
                    if c.attr in HYDRA_BUILDERS and c.name.startswith(("hydra.", "?hydra")):
                        extra.setdefault(self.scope_node(path, c.scope), []).extend(named)
        return extra

    def _config_named_classes(self) -> List[str]:
        """Class nodes of the project named by a `_target_`/`class` string in the YAML configs."""
        found: Set[str] = set()
        for doc in self.facts.yaml_docs():
            stack, seen = list(doc.docs), 0
            while stack and seen < 5000:
                node, seen = stack.pop(), seen + 1
                if isinstance(node, dict):
                    for k, v in node.items():
                        if k in ("_target_", "class") and isinstance(v, str) and "." in v:
                            mod, _, cls = v.rpartition(".")
                            target = self.resolve_module(None, mod)
                            if target and target in self.code and cls in self.code[target].defs:
                                found.add(f"def:{target}:{cls}")
                        elif isinstance(v, (dict, list)):
                            stack.append(v)
                elif isinstance(node, list):
                    stack.extend(node[:500])
        return sorted(found)

    @cached_property
    def _reaches_training_by_dispatch(self) -> Set[str]:
        """As `_reaches_training`, with the edges of objects built by name (`_dispatch_edges`)."""
        adj: Dict[str, List[str]] = {u: list(vs) for u, vs in self._exec_adjacency.items()}
        for u, vs in self._dispatch_edges.items():
            adj.setdefault(u, []).extend(vs)
        return self._walk_back_from_training(adj)

    @cached_property
    def _reaches_training_by_method(self) -> Set[str]:
        """As `_reaches_training`, with the edges from a class to its own methods named for training."""
        adj: Dict[str, List[str]] = {u: list(vs) for u, vs in self._exec_adjacency.items()}
        for u, vs in self._dispatch_edges.items():
            if u.startswith("def:"):
                adj.setdefault(u, []).extend(v for v in vs if "train" in v.rsplit(".", 1)[-1].lower())
        return self._walk_back_from_training(adj)

    def _dispatched_reach(self, starts: Iterable[str]) -> Set[str]:
        """What dispatched training entry points run: the execution edges, and of the edges of
        objects built by name only those into code that trains (a registry or a fire CLI offers
        evaluation and prediction commands too)."""
        adj, extra, trains = self._exec_adjacency, self._dispatch_edges, self._reaches_training_by_dispatch
        seen: Set[str] = set(starts)
        stack = list(seen)
        while stack:
            u = stack.pop()
            for v in list(adj.get(u, ())) + [w for w in extra.get(u, ()) if w in trains]:
                if v not in seen:
                    seen.add(v)
                    stack.append(v)
        return seen

    def _walk_back_from_training(self, adjacency) -> Set[str]:
        return _nodes_reaching(adjacency, self.training_call_nodes)

    @cached_property
    def _exec_adjacency(self) -> Dict[str, Tuple[str, ...]]:
        adj: Dict[str, Tuple[str, ...]] = {}
        for piece in self._pieces.values():
            adj.update(piece[_EXEC])
        # the rest: edges from entry points, CI jobs and pipeline stages (code nodes have only their file's)
        for u, nbrs in self.g._succ.items():
            if u.startswith(("entry:", "ci:", "stage:")):
                vs = [v for v, datas in nbrs.items() if any(d.get("kind") in EXEC_EDGES for d in datas)]
                if vs:
                    adj[u] = tuple(sorted(vs))
        return adj

    def _reachable(self, start: str) -> Set[str]:
        return self.reach_all((start,))

    def reaching(self, targets: Iterable[str]) -> Set[str]:
        """Every node from which one of `targets` is reachable (`targets` included): the nodes
        whose `reachable` meets `targets`, in one walk backwards over the execution edges (reversed
        per ask: kept, they would stay on the heap for no one)."""
        return _nodes_reaching(self._exec_adjacency, targets)

    @cached_property
    def class_methods(self) -> Dict[str, Tuple[str, ...]]:
        """class node -> its methods (its successors named under it); classes without any left out."""
        out: Dict[str, Tuple[str, ...]] = {}
        succ = self.g._succ
        for n, attrs in self.g._attrs.items():
            if attrs.get("kind") == "class":
                prefix = n + "."
                methods = tuple(m for m in succ[n] if m.startswith(prefix))
                if methods:
                    out[n] = methods
        return out

    def _code_reach(self, start: str) -> frozenset:
        """`code_reach(start)`, cached per node (shared, do not change)."""
        cached = self._code_reach_cache.get(start)
        if cached is None:
            cached = self._code_reach_cache[start] = frozenset(
                n for n in self._reach(start) if n.startswith(CODE_PREFIXES))
        return cached

    def reach_union(self, starts: Iterable[str]) -> Set[str]:
        """The union of `reachable(s)` for every s in `starts`, from the per-node cache (no new walk
        for a start asked before; for many overlapping starts asked again and again)."""
        out: Set[str] = set()
        for s in starts:
            out.update(self._reach(s))
        return out

    def reach_all(self, starts: Iterable[str]) -> Set[str]:
        """Every node reachable from any of `starts` (the union of their `reachable`, in one walk)."""
        adj = self._exec_adjacency
        seen: Set[str] = set()
        stack: List[str] = []
        for s in starts:
            if s not in seen:
                seen.add(s)
                stack.append(s)
        while stack:
            for v in adj.get(stack.pop(), ()):
                if v not in seen:
                    seen.add(v)
                    stack.append(v)
        return seen

    def code_reach_all(self, starts: Iterable[str]) -> Set[str]:
        """The code nodes reachable from any of `starts` (the union of their `code_reach`)."""
        return {n for n in self.reach_all(starts) if n.startswith(CODE_PREFIXES)}

    def code_reach(self, start: str) -> Set[str]:
        """The code nodes (module top levels, main blocks, functions, classes) reachable from `start`."""
        return {n for n in self._reach(start) if n.startswith(CODE_PREFIXES)}

    def scopes_in(self, nodes: Iterable[str]) -> Dict[str, Set[str]]:
        """path -> scopes ("<module>" or def qualname) covered by a node set."""
        out: Dict[str, Set[str]] = {}
        for n in nodes:
            if n.startswith("mod:"):
                out.setdefault(n[4:], set()).add("<module>")
            elif n.startswith("main:"):
                out.setdefault(n[5:], set()).add("<main>")
            elif n.startswith("def:"):
                path, qual = n[4:].rsplit(":", 1)
                out.setdefault(path, set()).add(qual)
        return out

    @cached_property
    def _call_ranks(self) -> Tuple[List[Tuple[CodeIndex, CallSite]], Dict[str, List[int]]]:
        """Every call in file and line order once, and each scope node's calls as positions in it."""
        ordered: List[Tuple[CodeIndex, CallSite]] = []
        ranks: Dict[str, List[int]] = {}
        for path, piece in self._pieces.items():
            idx = self.code[path]
            calls = idx.calls
            base = len(ordered)
            ordered.extend([(idx, calls[i]) for i in piece[_CALL_ORDER]])
            for node, positions in piece[_CALL_GROUPS]:
                ranks[node] = [base + p for p in positions]
        return ordered, ranks

    def node_calls(self, node: str) -> List[Tuple[CodeIndex, CallSite]]:
        """The calls made in one code node, in line order (`calls_in` of that node alone)."""
        ordered, ranks = self._call_ranks
        return [ordered[i] for i in ranks.get(node, ())]

    def calls_in(self, nodes: Iterable[str]) -> List[Tuple[CodeIndex, CallSite]]:
        """The calls made in a set of code nodes, in file and line order."""
        ordered, ranks = self._call_ranks
        picked: List[int] = []
        for n in nodes:
            picked.extend(ranks.get(n, ()))
        picked.sort()
        return [ordered[i] for i in picked]

    @cached_property
    def training_call_nodes(self) -> Set[str]:
        """Code nodes that make a training call directly."""
        return {n for piece in self._pieces.values() for n in piece[_TRAINING]}

    @cached_property
    def serving_endpoints(self) -> List[ServingEndpoint]:
        found = [ServingEndpoint(*e) for piece in self._pieces.values() for e in piece[_SERVING]]
        return found + self._scheduled_scoring({ep.path for ep in found})

    def _scheduled_scoring(self, known: Set[str]) -> List[ServingEndpoint]:
        """Scripts a scheduled CI workflow (`on: schedule`) runs that load a trained model and
        predict without training: recurring batch scoring, whose predictions are the product,
        wherever they are written (unlike a prediction script run by hand)."""
        out: List[ServingEndpoint] = []
        for job in self.facts.ci_jobs:
            if "schedule" not in job.triggers:
                continue
            for step in job.steps:
                for t in command_targets(step.run):
                    target = self._target_for_command(t)
                    path = target[4:] if target and target.startswith("mod:") else None
                    idx = self.code.get(path) if path else None
                    if idx is None or path in known or idx.is_notebook:
                        continue
                    scoring = _scheduled_scoring_job(path, idx)
                    if scoring:
                        known.add(path)
                        out.append(ServingEndpoint(path, scoring[0], "scheduled-scoring", f"mod:{path}",
                                                   f"scheduled batch scoring: {job.path} runs {path} on a schedule, "
                                                   f"which loads a trained model ({scoring[1]}) and predicts"))
        return sorted(out, key=lambda e: (e.path, e.line))

    @cached_property
    def _imported_modules(self) -> Set[str]:
        return {n for piece in self._pieces.values() for n in piece[_IMPORTED]}

    @cached_property
    def serving_files(self) -> Set[str]:
        """Files whose code serves requests (a call that deploys a model to a managed model server
        is deployment code, not the request path)."""
        return {ep.path for ep in self.serving_endpoints if ep.framework not in MODEL_SERVER_FRAMEWORKS}

    @cached_property
    def training_entry_points(self) -> List[EntryPoint]:
        out = []
        seen_targets: Set[str] = set()
        from mlscan.facts.repo import is_test_path
        for ep in self.entry_points:
            if ep.kind == "serve" or ep.target in seen_targets or is_test_path(ep.target.split(":", 2)[1]):
                continue  # a test that trains a toy model is not the project's training
            if ep.node in self._reaches_training:
                seen_targets.add(ep.target)
                out.append(ep)
        if not out and self.training_call_nodes:
            out = self._dispatched_training_entry_points(is_test_path, self._reaches_training_by_dispatch)
        elif out and all(ep.kind == "notebook" for ep in out):
            # only exploratory notebooks train directly: a script whose stage object's method named for
            # training (`ModelTrainerPipeline().initiate_model_training()`) trains is the project's training
            scripts = [ep for ep in self._dispatched_training_entry_points(is_test_path, self._reaches_training_by_method)
                       if ep.kind != "notebook" and ep.target not in seen_targets]
            out = scripts + out
        return out

    @cached_property
    def _dispatched_entry_nodes(self) -> Set[str]:
        """Training entry points found only through objects built by name (see `_dispatch_edges`)."""
        return {ep.node for ep in self.training_entry_points if ep.node not in self._reaches_training}

    @property
    def _training_dispatched(self) -> bool:
        return bool(self._dispatched_entry_nodes)

    def _dispatched_training_entry_points(self, is_test_path, reaching: Set[str]) -> List[EntryPoint]:
        """Entry points that reach training only through the methods of a class they construct or
        import: the trainer or task objects are chosen by name or run by a framework. Asked only
        when no entry point reaches a training call directly."""
        out: List[EntryPoint] = []
        seen_targets: Set[str] = set()
        for ep in self.entry_points:
            if ep.kind == "serve" or ep.target in seen_targets or is_test_path(ep.target.split(":", 2)[1]):
                continue
            if ep.node in reaching:
                seen_targets.add(ep.target)
                out.append(ep)
        # a module other project code imports, with a demo in its main block, is a library, not the
        # project's training script, when a script nobody imports runs the trainer too
        scripts = [ep for ep in out if not (ep.target.startswith("mod:") and ep.target in self._imported_modules)]
        return scripts or out

    @cached_property
    def training_modules(self) -> List[str]:
        """Non-test code files that contain training calls."""
        from mlscan.facts.repo import is_test_path
        return [p for p in sorted(self.code) if not is_test_path(p)
                and any(is_training_call(c) for c in self.code[p].calls)]

    @cached_property
    def primary_training_entry_points(self) -> List[EntryPoint]:
        """Training entry points named for training (train.py, training/…, fit_*.py) when there are
        any, else all training entry points: benchmark, export and demo scripts also call fit/backward."""
        eps = self.training_entry_points
        if self._dispatched_entry_nodes:   # scripts that run the trainers, not the notebooks beside them
            eps = [ep for ep in eps if ep.node in self._dispatched_entry_nodes]
        named = [ep for ep in eps if _TRAIN_NAME.search(ep.target)]
        return named or eps

    @cached_property
    def training_closure(self) -> Set[str]:
        """Code nodes the training entry points reach; without any, the modules that train."""
        nodes: Set[str] = set()
        if self._training_dispatched:
            nodes = self._dispatched_reach(ep.node for ep in self.primary_training_entry_points
                                           if ep.node in self._dispatched_entry_nodes)
        for ep in self.primary_training_entry_points:
            nodes |= self._reach(ep.node)
        if not nodes:
            for path in self.training_modules:
                nodes |= self._reach(f"mod:{path}")
                for qual in self.code[path].defs:
                    nodes |= self._reach(f"def:{path}:{qual}")
        return {n for n in nodes if n.startswith(CODE_PREFIXES)}

    def to_json(self) -> Dict[str, object]:
        nodes = []
        for n, data in sorted(self.g.nodes(data=True)):
            nodes.append({"id": n, **{k: v for k, v in sorted(data.items())}})
        edges = []
        for u, v, data in sorted(self.g.edges(data=True), key=lambda e: (e[0], e[1], e[2].get("kind", ""), e[2].get("line") or 0)):
            edges.append({"source": u, "target": v, "kind": data.get("kind"), "line": data.get("line")})
        return {"nodes": nodes, "edges": edges}


REGISTERING = {"command", "main", "task", "flow", "step", "component", "pipeline", "op", "asset", "job", "group",
               "callback", "deployment", "service", "api", "remote", "entrypoint", "cli", "script", "route", "get",
               "post", "put", "delete", "patch", "websocket", "api_route", "function", "workflow", "activity"}


def _registers(decorator: str) -> bool:
    return bool(decorator) and ("()" in decorator or decorator.rsplit(".", 1)[-1] in REGISTERING)


_PREDICTIVE = re.compile(r"(?i)predict|infer|generat|classif|detect|recogni|forward|transcrib|translat|segment|embed|score")


KNOWN_LIBRARIES = {"torch", "numpy", "pandas", "sklearn", "scipy", "tensorflow", "keras", "jax", "flax", "datasets",
                   "transformers", "diffusers", "accelerate", "lightning", "pytorch_lightning", "mlflow", "wandb",
                   "yaml", "requests", "PIL", "cv2", "matplotlib", "seaborn", "tqdm", "click", "typer", "fastapi",
                   "flask", "pydantic", "xgboost", "lightgbm", "catboost", "optuna", "ray", "dvc", "hydra",
                   "omegaconf", "evaluate", "tokenizers", "huggingface_hub", "timm", "onnx", "onnxruntime", "boto3",
                   "google", "azure", "joblib", "sqlalchemy", "pytest", "setuptools", "packaging", "rich", "attr"}


def external_roots(facts) -> Set[str]:
    """Top-level names that belong to the standard library or to declared/known packages."""
    import sys
    names = set(getattr(sys, "stdlib_module_names", ())) | set(sys.builtin_module_names) | KNOWN_LIBRARIES
    names |= {"os", "sys", "re", "json", "logging", "typing", "collections", "math", "random", "time", "io",
              "pathlib", "subprocess", "argparse", "functools", "itertools", "dataclasses", "abc", "copy"}
    for req in facts.requirements:
        names.add(req.name.replace("-", "_"))
    return names


def looks_predictive(attr: str) -> bool:
    """A call that runs a model: predict/generate/infer... (also `self._predict`)."""
    return attr in PREDICT_ATTRS or bool(_PREDICTIVE.search(attr))


# ---- serving forms beyond web routes ------------------------------------------------------------
# model-server base classes matched by pattern: Replicate Cog predictors, LitServe APIs, Lightning
# app serving components
SERVING_BASE_FORMS = re.compile(r"^(?P<cog>cog\.(\w+\.)*(BasePredictor|Predictor))$|"
                                r"^(?P<litserve>litserve\.(\w+\.)*LitAPI)$|"
                                r"^(?P<lightning>(lightning\.app|lightning_app)\.(\w+\.)*"
                                r"(ServeGradio|ServeStreamlit|PythonServer))$")
# calls that put a trained model behind a managed endpoint or a batch-prediction service, run from
# a pipeline, flow or deployment script: the model server runs the artefact, not repo code
MODEL_DEPLOY_CALLS = re.compile(
    r"^(?P<sagemaker>sagemaker\.[\w.]*\(\)\.(deploy|transformer)|sagemaker\.transformer\.Transformer|"
    r"sagemaker\.workflow\.steps\.TransformStep|boto3\.client\(\)\.create_endpoint|mlflow\.sagemaker\.deploy)$|"
    r"^(?P<vertex>google\.cloud\.aiplatform\.[\w.()]*\.(deploy|batch_predict)|google\.cloud\.aiplatform\.Endpoint\.create|"
    r"google_cloud_pipeline_components\.[\w.]*(ModelDeployOp|ModelBatchPredictOp))$|"
    r"^(?P<azureml>azureml\.[\w.]*Model\.deploy|azure\.ai\.ml\.entities\.(ManagedOnlineDeployment|"
    r"KubernetesOnlineDeployment|BatchDeployment|ModelBatchDeployment))$|"
    r"^(?P<zenml>zenml\.integrations\.\w+\.steps\.\w*model_deployer_step)$|"
    r"^(?P<mlflow>mlflow\.deployments\.get_deploy_client\(\)\.create_deployment)$|"
    r"^(?P<databricks>databricks\.sdk\.[\w.()]*serving_endpoints\.create\w*)$")
DEPLOY_PLATFORMS = {"sagemaker": "SageMaker", "vertex": "Vertex AI", "azureml": "Azure ML", "zenml": "ZenML model deployer",
                    "mlflow": "MLflow deployment", "databricks": "Databricks model serving", "mlrun": "MLRun model server"}
# frameworks of endpoints whose requests a model server handles with the deployed artefact alone
MODEL_SERVER_FRAMEWORKS = {"model-deploy"}
# a batch-scoring job: loads a trained model, predicts, and writes the predictions where an
# application reads them (a database table, cloud storage); offline scripts writing local files are not
_MODEL_FILE_LOADS = ("joblib.load", "pickle.load", "cloudpickle.load", "dill.load", "torch.load", "torch.jit.load",
                     "onnxruntime.InferenceSession", "tensorflow.keras.models.load_model", "keras.models.load_model",
                     "keras.saving.load_model", "tensorflow.saved_model.load", "skops.io.load")
_BOOSTERS = ("lightgbm.Booster", "xgboost.Booster", "catboost.CatBoost")
_BATCH_PREDICT_ATTRS = {"predict", "predict_proba", "predict_on_batch", "decision_function"}
_DB_ROOTS = ("psycopg2", "psycopg", "sqlite3", "sqlalchemy", "pymysql", "mysql", "pyodbc", "snowflake", "pymongo",
             "google.cloud.bigquery", "cx_Oracle", "oracledb", "clickhouse_connect", "redshift_connector")
_DB_WRITES = {"execute", "executemany", "insert_one", "insert_many", "insert_rows", "insert_rows_json",
              "load_table_from_dataframe", "copy_from", "copy_expert", "bulk_write", "write_pandas"}
_CLOUD_WRITES = (("boto3", ("upload_file", "put_object", "upload_fileobj", "put_item", "batch_write_item")),
                 ("google.cloud.storage", ("upload_from_filename", "upload_from_string", "upload_from_file")),
                 ("azure.storage.blob", ("upload_blob",)), ("awswrangler", ("to_parquet", "to_csv", "to_sql")))
_STORE_PREDICTIONS = re.compile(r"(?i)^(save|insert|store|write|upload|persist|push)_\w*(predictions?|scores|results)\w*$")
_STORE_NAMED = re.compile(r"(?i)(^|[._])(db|database|sql|postgres\w*|mysql|mongo\w*|bigquery|bq|warehouse|table|s3|gcs|"
                          r"blob|bucket|storage)([._()]|$)")
_REMOTE_URL = re.compile(r"^(s3a?|gs|gcs|abfss?|az|wasbs?)://")
_MONITORING_JOB = re.compile(r"(?i)(monitor|drift)[^/]*$")
_MONITORING_LIBS = {"evidently", "whylogs", "nannyml", "alibi_detect", "deepchecks"}
_JOB_RUNNERS = {"airflow", "prefect", "dagster", "metaflow", "luigi", "kfp", "zenml", "flytekit"}


def _prediction_sink(call: CallSite) -> Optional[str]:
    """What a call writes predictions to when it is a shared store (a table, cloud storage), or None."""
    name, attr = call.name, call.attr
    if attr == "to_sql":
        return "a database table"
    if attr in _DB_WRITES and name.startswith(_DB_ROOTS):
        return "a database table"
    for root, attrs in _CLOUD_WRITES:
        if attr in attrs and name.startswith(root):
            return "cloud storage"
    if _STORE_PREDICTIONS.match(attr) and _STORE_NAMED.search(name):
        return f"a prediction store ({attr})"   # `save_predictions_to_db(...)`, `database.get_db().save_predictions(...)`
    if attr in ("to_parquet", "to_csv", "to_json") and (call.has_kwarg("storage_options") or (
            call.args and isinstance(call.args[0], str) and _REMOTE_URL.match(call.args[0]))):
        return "cloud storage"
    return None


def _batch_scoring(path: str, idx: CodeIndex) -> Optional[ServingEndpoint]:
    """A scheduled or containerised batch-scoring job (one file): it loads a trained model, predicts,
    writes the predictions to a database table or cloud storage, and trains nothing."""
    roots = idx.imported_roots
    if _MONITORING_JOB.search(path) or roots & _MONITORING_LIBS:
        return None
    if idx.main_line is None and not roots & _JOB_RUNNERS and idx.top_level_statements < 3:
        return None
    loads = predicts = None
    sink: Optional[Tuple[str, int]] = None
    for call in idx.calls:
        if is_training_call(call):
            return None
        name = call.name
        if loads is None and (name in _MODEL_FILE_LOADS or (name.startswith(_BOOSTERS) and call.has_kwarg("model_file"))
                              or (name.startswith("mlflow.") and call.attr == "load_model")):
            loads = call
        elif predicts is None and call.attr in _BATCH_PREDICT_ATTRS:
            predicts = call
        elif sink is None:
            where = _prediction_sink(call)
            if where:
                sink = (where, call.line)
    if loads is None or predicts is None or sink is None:
        return None
    return ServingEndpoint(path, predicts.line, "batch-scoring", f"mod:{path}",
                           f"batch scoring job: loads a model ({loads.name}), predicts and writes the predictions "
                           f"to {sink[0]} (line {sink[1]})")


_SCORING_NAME = re.compile(r"(?i)(predict|inferen|infer_|forecast|scor)")
_EVALUATION_NAME = re.compile(r"(?i)(eval|bench|test|valid|metric)")


def _scheduled_scoring_job(path: str, idx: CodeIndex) -> Optional[Tuple[int, str]]:
    """(line, load call) when a script loads a trained model and predicts (a predict call, or a
    file named for predicting that runs the model it loads) and trains nothing."""
    if _MONITORING_JOB.search(path) or _EVALUATION_NAME.search(path.rsplit("/", 1)[-1]):
        return None   # a nightly evaluation or benchmark scores a test set: offline, not serving
    loads = predicts = None
    for call in idx.calls:
        if is_training_call(call):
            return None
        if loads is None and (call.name in _MODEL_FILE_LOADS or call.attr in ("load_state_dict", "load_model")
                              or (call.name.startswith(_BOOSTERS) and call.has_kwarg("model_file"))):
            loads = call
        elif predicts is None and looks_predictive(call.attr) and call.attr not in ("forward", "backward"):
            predicts = call
    if loads is None or (predicts is None and not _SCORING_NAME.search(path.rsplit("/", 1)[-1])):
        return None
    return (predicts or loads).line, loads.name


_WEB_ROOTS = {w.split(".")[0] for w in WEB_FRAMEWORKS}
RESTFUL_APIS = ("flask_restful.Api()", "flask_restx.Api()", "flask_restplus.Api()", "flask_restx.Namespace()",
                "flask_restplus.Namespace()")


def _imported_web_app(head: str, attr: str, route, roots: Set[str], app_origin) -> Optional[str]:
    """The framework of a route declared on an app object that another module of the project builds
    (`from tutorial import app`, `@app.post('/uploadfile/')`), found by following the name through
    the project's modules and re-exports to the framework's constructor (`fastapi.FastAPI()`). What
    a project function returns (`app = create_app()`), or a name that leads outside the project,
    is an app when the file imports the framework itself. None for a project object built by
    anything else (`app = EventBus()`), however its methods are named."""
    if attr not in ROUTE_METHODS or not head or not isinstance(route, str) \
            or not route.startswith("/") or any(head.startswith(w) for w in WEB_FRAMEWORKS):
        return None
    origin = app_origin(head) if app_origin else head
    if origin is None:
        return None   # a project module or a value that is no name: no app
    if origin.startswith("def:"):   # an app factory (`app = create_app()`) or a class of the project
        return next((w for w in WEB_FRAMEWORKS if w in roots), None) if head.endswith("()") else None
    if origin != head:
        return next((w.split(".")[0] for w in WEB_FRAMEWORKS if origin.startswith(w + ".")), None)
    return None if head.endswith("()") else next((w for w in WEB_FRAMEWORKS if w in roots), None)


def _serving_in_module(path: str, idx: CodeIndex, app_origin=None) -> List[ServingEndpoint]:
    out: List[ServingEndpoint] = []
    roots = idx.imported_roots
    answer: List[bool] = []

    def predicts() -> bool:  # asked for few files: computed on first use
        if not answer:
            answer.append(any(looks_predictive(c.attr) for c in idx.calls))
        return answer[0]
    for qual, d in idx.defs.items():
        for dec in d.decorators:
            head, _, attr = dec.rpartition(".")
            if attr in ROUTE_METHODS and head.endswith("()") and any(head.startswith(w) for w in WEB_FRAMEWORKS):
                fw = head.split(".")[0]
                route = d.decorator_args[d.decorators.index(dec)]
                out.append(ServingEndpoint(path, d.line, fw, f"def:{path}:{qual}",
                                           f"{fw} route {route if isinstance(route, str) else qual}"))
                break
            route = d.decorator_args[d.decorators.index(dec)]
            fw = _imported_web_app(head, attr, route, roots, app_origin)
            if fw:  # `from app import app` then `@app.route('/predict')`: the app object lives in another module
                out.append(ServingEndpoint(path, d.line, fw, f"def:{path}:{qual}", f"{fw} route {route}"))
                break
            if dec.startswith(("bentoml.api", "bentoml.service", "ray.serve.deployment", "modal.web_endpoint",
                               "modal.fastapi_endpoint")) or (attr == "api" and "bentoml" in head):
                out.append(ServingEndpoint(path, d.line, dec.split(".")[0], f"def:{path}:{qual}", f"{dec} {qual}"))
                break
        for base in d.bases:
            fw = SERVING_BASES.get(base.replace("()", ""))
            form = None if fw else SERVING_BASE_FORMS.match(base.replace("()", ""))
            fw = fw or (form.lastgroup if form else None)
            if fw:
                out.append(ServingEndpoint(path, d.line, fw, f"def:{path}:{qual}", f"{fw} model class {qual}"))
        if qual == "TritonPythonModel" and d.kind == "class" and "TritonPythonModel.execute" in idx.defs:
            out.append(ServingEndpoint(path, d.line, "triton", f"def:{path}:{qual}", "Triton Python backend model"))
    for call in idx.calls:
        head, _, attr = call.name.rpartition(".")
        if attr in ("add_api_route", "add_url_rule") and any(head.startswith(w) for w in WEB_FRAMEWORKS):
            out.append(ServingEndpoint(path, call.line, head.split(".")[0], f"mod:{path}", f"{call.name}"))
        elif attr == "add_resource" and call.refs and app_origin and \
                (app_origin(head) or "").startswith(RESTFUL_APIS):
            # Flask-RESTful/RESTX `api.add_resource(PredictResource, '/predict')`: the framework calls the
            # resource class's get/post methods; the Api object may be built in another module
            resource = app_origin(call.refs[0])
            if resource and resource.startswith("def:"):
                out.append(ServingEndpoint(path, call.line, "flask", resource,
                                           f"flask-restful resource {resource.rsplit(':', 1)[-1]} "
                                           f"{call.args[1] if len(call.args) > 1 and isinstance(call.args[1], str) else ''}".rstrip()))
        elif call.name.startswith(("gradio.Interface", "gradio.ChatInterface", "gradio.Blocks",
                                   "gradio.TabbedInterface")) and not (idx.is_notebook and "()" in call.name) and (
                predicts() or any(looks_predictive(r.rsplit(".", 1)[-1]) for r in call.refs)):
            # the handler may live in another module (`gr.Interface(fn=predict)` after `from model import *`)
            # in a notebook the app's request path is the function it is handed, not every cell
            fn = next((r.rsplit(".", 1)[-1] for r in call.refs if r.rsplit(".", 1)[-1] in idx.defs), None) \
                if idx.is_notebook else None
            out.append(ServingEndpoint(path, call.line, "gradio", f"def:{path}:{fn}" if fn else f"mod:{path}",
                                       "gradio app"))
        else:
            deploy = MODEL_DEPLOY_CALLS.match(call.name)
            platform = deploy.lastgroup if deploy else (
                "mlrun" if call.attr in ("deploy_step", "deploy_function") and call.has_kwarg("models") else None)
            if platform:
                handler = f"mod:{path}" if call.scope == "<module>" else \
                    f"main:{path}" if call.scope == "<main>" else f"def:{path}:{call.scope}"
                out.append(ServingEndpoint(path, call.line, "model-deploy", handler,
                                           f"{DEPLOY_PLATFORMS[platform]} serves the trained model "
                                           f"({call.attr if call.name.startswith('?') else call.name})"))
    top = {q for q, d in idx.defs.items() if d.kind == "function" and "." not in q}
    if "model_fn" in top and top & {"predict_fn", "input_fn", "transform_fn", "output_fn"}:
        out.append(ServingEndpoint(path, idx.defs["model_fn"].line, "sagemaker", f"mod:{path}", "SageMaker inference script"))
    if {"init", "run"} <= top and re.search(r"(^|/)(score|scoring|entry_script)[\w-]*\.py$", path):
        out.append(ServingEndpoint(path, idx.defs["run"].line, "azureml", f"mod:{path}", "Azure ML scoring script"))
    if "streamlit" in roots and not idx.is_notebook and predicts() and not any(is_training_call(c) for c in idx.calls):
        # a page that fits the model in the session is a training UI (it scores its own validation split)
        line = next((i.line for i in idx.imports if i.module.startswith("streamlit")), 1)
        out.append(ServingEndpoint(path, line, "streamlit", f"mod:{path}", "streamlit app that predicts"))
    for name in ("handler", "lambda_handler"):
        d = idx.defs.get(name)
        if d and len(d.params) == 2 and "event" in d.params[0] and predicts():
            out.append(ServingEndpoint(path, d.line, "aws-lambda", f"def:{path}:{name}", "AWS Lambda handler that predicts"))
    if "handle" in top and "initialize" in top and "torch" in roots:
        out.append(ServingEndpoint(path, idx.defs["handle"].line, "torchserve", f"mod:{path}", "TorchServe handler"))
    if not out:
        batch = _batch_scoring(path, idx)
        if batch:
            out.append(batch)
    # keep one endpoint per handler
    uniq: Dict[str, ServingEndpoint] = {}
    for ep in out:
        uniq.setdefault(ep.handler, ep)
    return sorted(uniq.values(), key=lambda e: (e.path, e.line, e.handler))


def _nodes_reaching(adjacency: Dict[str, Sequence[str]], targets: Iterable[str]) -> Set[str]:
    """Every node of `adjacency` from which one of `targets` is reachable (`targets` included)."""
    radj: Dict[str, List[str]] = {}
    for u, vs in adjacency.items():
        for v in vs:
            radj.setdefault(v, []).append(u)
    seen: Set[str] = set(targets)
    stack = list(seen)
    while stack:
        for u in radj.get(stack.pop(), ()):
            if u not in seen:
                seen.add(u)
                stack.append(u)
    return seen
