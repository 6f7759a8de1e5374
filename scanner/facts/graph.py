"""The repo's dependency graph: modules, functions, entry points, configs, artefacts,
CI jobs and pipeline stages, joined by imports, calls, reads/writes and executes edges.

Node ids: `mod:PATH`, `def:PATH:QUALNAME`, `cfg:PATH`, `art:PATH`, `ci:PATH:JOB`,
`stage:PATH:NAME`, `entry:KIND:PATH:LINE`.
"""
from __future__ import annotations

from mlscan.facts.configs import strip_dot_slash

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Dict, Iterable, List, Optional, Set, Tuple

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
MODEL_SUFFIXES = (".pkl", ".pickle", ".joblib", ".pt", ".pth", ".ckpt", ".onnx", ".h5", ".hdf5", ".safetensors",
                  ".bin", ".model", ".sav", ".pb", ".tflite", ".keras", ".mlmodel", ".cbm", ".ubj")
DATA_SUFFIXES = (".csv", ".tsv", ".parquet", ".feather", ".jsonl", ".npy", ".npz", ".tfrecord", ".tfrecords",
                 ".arrow", ".avro", ".orc", ".xlsx", ".xls", ".txt", ".json", ".zip", ".gz", ".db", ".sqlite", ".xml")


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
    if attr == "train":
        return head.startswith(("xgboost", "lightgbm", "catboost")) or "trainer" in head or "yolo" in head
    if attr == "step":
        return "optim" in head
    return False


def artefact_kind(value: str) -> Optional[str]:
    low = value.lower().rstrip("/")
    if low.endswith(MODEL_SUFFIXES):
        return "model"
    if low.endswith(DATA_SUFFIXES):
        return "data"
    return None


_UNSET = object()


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
    order (nodes and edges in insertion order). Importing networkx cost more than a whole small scan."""

    def __init__(self) -> None:
        self._attrs: Dict[str, dict] = {}
        self._succ: Dict[str, Dict[str, List[dict]]] = {}
        self._pred: Dict[str, Dict[str, List[dict]]] = {}
        self.nodes = _NodeView(self._attrs)

    def add_node(self, n: str, **attrs) -> None:
        if n in self._attrs:
            self._attrs[n].update(attrs)
        else:
            self._attrs[n] = attrs
            self._succ[n] = {}
            self._pred[n] = {}

    def add_edge(self, u: str, v: str, **attrs) -> None:
        if u not in self._attrs:
            self.add_node(u)
        if v not in self._attrs:
            self.add_node(v)
        data = dict(attrs)
        self._succ[u].setdefault(v, []).append(data)
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

    def out_edges(self, n: str, data=False):
        for v, datas in self._succ.get(n, {}).items():
            for d in datas:
                yield _edge(n, v, d, data)

    def in_edges(self, n: str, data=False):
        for u, datas in self._pred.get(n, {}).items():
            for d in datas:
                yield _edge(u, n, d, data)


def _edge(u: str, v: str, d: dict, data):
    if data is True:
        return u, v, d
    if data:
        return u, v, d.get(data)
    return u, v


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
        self._name_cache: Dict[Tuple[str, str], Optional[str]] = {}
        self._registered: Dict[str, List[str]] = {}   # path -> functions a framework runs when the module runs
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
        """Node id (def or module) for a resolved dotted name used in `importer`, if it is repo code."""
        if not name or name.startswith("?") or "[]" in name or depth > 3:
            return None
        if name.partition(".")[0].replace("()", "") not in self._components:
            return None  # no module name has this part: no prefix of the name can resolve
        # the answer depends on the importer's folder only (see resolve_module), so files of one
        # folder share their lookups
        key = (importer.rsplit("/", 1)[0] if "/" in importer else "", name)
        found = self._name_cache.get(key, _UNSET)
        if found is _UNSET:
            found = self._name_cache[key] = self._resolve_name(importer, name, depth)
        return found

    def _resolve_name(self, importer: str, name: str, depth: int) -> Optional[str]:
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
                return f"mod:{mod_path}"
            idx = self.code[mod_path]
            for k in range(len(rest), 0, -1):
                qual = ".".join(rest[:k])
                if qual in idx.defs:
                    return f"def:{mod_path}:{qual}"
            target = idx.exports.get(rest[0])
            if target and target != name:
                return self.resolve_name(mod_path, ".".join([target] + rest[1:]), depth + 1)
            return None
        return None

    # ---- code nodes and edges ---------------------------------------------------------------
    def scope_node(self, path: str, scope: str) -> str:
        """The code node a call's scope ("<module>", "<main>" or a def qualname) belongs to."""
        return self._scope_node(path, scope)

    def _scope_node(self, path: str, scope: str) -> str:
        if scope == "<module>":
            return f"mod:{path}"
        return f"main:{path}" if scope == "<main>" else f"def:{path}:{scope}"

    def _add_code(self) -> None:
        g = self.g
        for path in sorted(self.code):
            idx = self.code[path]
            g.add_node(f"mod:{path}", kind="notebook" if idx.is_notebook else "module", path=path, line=1)
            if idx.main_line:
                g.add_node(f"main:{path}", kind="main-block", path=path, line=idx.main_line)
            for qual, d in idx.defs.items():
                node = f"def:{path}:{qual}"
                g.add_node(node, kind=d.kind, path=path, line=d.line, name=qual)
                owner = qual.rsplit(".", 1)[0] if "." in qual else None
                if owner and owner in idx.defs and idx.defs[owner].kind == "class":
                    # instantiating a class runs its constructor; `obj(x)` runs __call__/forward
                    kind = "has-method" if qual.rsplit(".", 1)[1] in IMPLICIT_METHODS else "defines"
                    g.add_edge(f"def:{path}:{owner}", node, kind=kind)
                elif owner and owner in idx.defs:  # a function defined inside a function
                    g.add_edge(f"def:{path}:{owner}", node, kind="encloses")
                else:
                    g.add_edge(f"mod:{path}", node, kind="defines")
        for path in sorted(self.code):
            idx = self.code[path]
            seen_imports: Set[str] = set()
            for ref in idx.imports:
                full = f"{ref.module}.{ref.name}" if ref.name else ref.module
                target = self.resolve_name(path, full) or (self.resolve_name(path, ref.module) if ref.module else None)
                if target:
                    mod_target = target if target.startswith("mod:") else "mod:" + target.split(":")[1]
                    if mod_target != f"mod:{path}" and mod_target not in seen_imports:
                        seen_imports.add(mod_target)
                        self.g.add_edge(self._scope_node(path, ref.scope if ref.scope in idx.defs else "<module>"),
                                        mod_target, kind="imports", line=ref.line)
            for call in idx.calls:
                src = self._scope_node(path, call.scope)
                target = self.resolve_name(path, call.name)
                if target is None and call.name == "torch.hub.load" and "hubconf.py" in self.code:
                    for entry in self._hub_entries(call):  # torch.hub runs an entry function of the repo's hubconf
                        self.g.add_edge(src, entry, kind="calls", line=call.line)
                if target and target != src:
                    self.g.add_edge(src, target, kind="calls", line=call.line)
                for ref in call.refs:
                    t = self.resolve_name(path, ref)
                    if t and t.startswith("def:") and t != src:
                        self.g.add_edge(src, t, kind="references", line=call.line)
                if call.name.rpartition(".")[2] in _IO_ATTRS:
                    self._add_io(path, src, call)
            for qual, d in idx.defs.items():  # decorators run at definition time
                for dec in d.decorators:
                    t = self.resolve_name(path, dec)
                    if t and t.startswith("def:"):
                        self.g.add_edge(f"def:{path}:{qual}", t, kind="calls", line=d.line)
                    if "." not in qual and _registers(dec):  # @app.command, @hydra.main, @task: run by the framework
                        self._registered.setdefault(path, []).append(f"def:{path}:{qual}")

    def _hub_entries(self, call: CallSite) -> List[str]:
        """hubconf.py functions `torch.hub.load(repo, model)` may run: the named one, else every public one."""
        hub = self.code["hubconf.py"]
        name = call.args[1] if len(call.args) > 1 else call.kwarg("model")
        public = [q for q, d in hub.defs.items() if d.kind == "function" and "." not in q and not q.startswith("_")]
        chosen = [name] if isinstance(name, str) and name in public else public
        return [f"def:hubconf.py:{q}" for q in sorted(chosen)]

    def _add_io(self, path: str, src: str, call: CallSite) -> None:
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
            if self.facts.exists(strip_dot_slash(value)) and value.lower().endswith((".yaml", ".yml", ".toml", ".json", ".cfg", ".ini")):
                node = f"cfg:{strip_dot_slash(value)}"
                self.g.add_node(node, kind="config", path=strip_dot_slash(value), line=1)
                self.g.add_edge(src, node, kind="reads", line=call.line)
            elif kind:
                node = f"art:{value}"
                self.g.add_node(node, kind=kind, path=value, line=None)
                self.g.add_edge(src, node, kind=direction, line=call.line)
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
        `PythonOperator(python_callable=func)`, and DAG files, which the scheduler executes."""
        from mlscan.facts.repo import is_test_path
        for path in sorted(self.code):
            if is_test_path(path):
                continue
            idx = self.code[path]
            dag_file = False
            for call in idx.calls:
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

    def _is_top_level_script(self, path: str, idx: CodeIndex) -> bool:
        """A module that does its work at import time and that no other module imports."""
        if idx.is_notebook or path.endswith("__init__.py") or idx.top_level_statements < 3:
            return False
        if not any(c.scope == "<module>" for c in idx.calls):
            return False
        return not any(kind == "imports" for _, _, kind in self.g.in_edges(f"mod:{path}", data="kind"))

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
        radj: Dict[str, List[str]] = {}
        for u, vs in self._exec_adjacency.items():
            for v in vs:
                radj.setdefault(v, []).append(u)
        seen = set(self.training_call_nodes)
        stack = list(seen)
        while stack:
            for u in radj.get(stack.pop(), ()):
                if u not in seen:
                    seen.add(u)
                    stack.append(u)
        return seen

    @cached_property
    def _exec_adjacency(self) -> Dict[str, Tuple[str, ...]]:
        adj: Dict[str, Set[str]] = {}
        for u, v, kind in self.g.edges(data="kind"):
            if kind in EXEC_EDGES:
                adj.setdefault(u, set()).add(v)
        return {u: tuple(sorted(vs)) for u, vs in adj.items()}

    def _reachable(self, start: str) -> Set[str]:
        return self.reach_all((start,))

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
    def _calls_by_scope(self) -> Dict[str, List[Tuple[CodeIndex, CallSite]]]:
        """Scope node id -> the calls made directly in that scope."""
        out: Dict[str, List[Tuple[CodeIndex, CallSite]]] = {}
        for path in sorted(self.code):
            idx = self.code[path]
            nodes: Dict[str, List[Tuple[CodeIndex, CallSite]]] = {}  # scope -> its list in `out`
            for call in idx.calls:
                bucket = nodes.get(call.scope)
                if bucket is None:
                    bucket = nodes[call.scope] = out.setdefault(self._scope_node(path, call.scope), [])
                bucket.append((idx, call))
        return out

    @cached_property
    def _call_ranks(self) -> Tuple[List[Tuple[CodeIndex, CallSite]], Dict[str, List[int]]]:
        """Every call in file and line order once, and each scope node's calls as positions in it."""
        ordered: List[Tuple[CodeIndex, CallSite]] = []
        for entries in self._calls_by_scope.values():
            ordered.extend(entries)
        ordered.sort(key=lambda ic: (ic[0].path, ic[1].line, ic[1].scope, ic[1].name))
        rank = {id(e): i for i, e in enumerate(ordered)}
        return ordered, {n: [rank[id(e)] for e in entries] for n, entries in self._calls_by_scope.items()}

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
        return {n for n, calls in self._calls_by_scope.items() if any(is_training_call(c) for _, c in calls)}

    @cached_property
    def serving_endpoints(self) -> List[ServingEndpoint]:
        from mlscan.facts.repo import is_test_path
        found: List[ServingEndpoint] = []
        for path in sorted(self.code):
            idx = self.code[path]
            if is_test_path(path) or idx.is_notebook:
                continue
            found.extend(_serving_in_module(path, idx))
        return found

    @cached_property
    def serving_files(self) -> Set[str]:
        """Files that define serving endpoints."""
        return {ep.path for ep in self.serving_endpoints}

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
        return out

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
        named = [ep for ep in self.training_entry_points if _TRAIN_NAME.search(ep.target)]
        return named or self.training_entry_points

    @cached_property
    def training_closure(self) -> Set[str]:
        """Code nodes the training entry points reach; without any, the modules that train."""
        nodes: Set[str] = set()
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


def _serving_in_module(path: str, idx: CodeIndex) -> List[ServingEndpoint]:
    out: List[ServingEndpoint] = []
    roots = idx.imported_roots
    predicts = any(looks_predictive(c.attr) for c in idx.calls)
    for qual, d in idx.defs.items():
        for dec in d.decorators:
            head, _, attr = dec.rpartition(".")
            if attr in ROUTE_METHODS and head.endswith("()") and any(head.startswith(w) for w in WEB_FRAMEWORKS):
                fw = head.split(".")[0]
                route = d.decorator_args[d.decorators.index(dec)]
                out.append(ServingEndpoint(path, d.line, fw, f"def:{path}:{qual}",
                                           f"{fw} route {route if isinstance(route, str) else qual}"))
                break
            if dec.startswith(("bentoml.api", "bentoml.service", "ray.serve.deployment", "modal.web_endpoint",
                               "modal.fastapi_endpoint")) or (attr == "api" and "bentoml" in head):
                out.append(ServingEndpoint(path, d.line, dec.split(".")[0], f"def:{path}:{qual}", f"{dec} {qual}"))
                break
        for base in d.bases:
            fw = SERVING_BASES.get(base.replace("()", ""))
            if fw:
                out.append(ServingEndpoint(path, d.line, fw, f"def:{path}:{qual}", f"{fw} model class {qual}"))
    for call in idx.calls:
        head, _, attr = call.name.rpartition(".")
        if attr in ("add_api_route", "add_url_rule") and any(head.startswith(w) for w in WEB_FRAMEWORKS):
            out.append(ServingEndpoint(path, call.line, head.split(".")[0], f"mod:{path}", f"{call.name}"))
        elif call.name.startswith(("gradio.Interface", "gradio.ChatInterface", "gradio.Blocks",
                                   "gradio.TabbedInterface")) and predicts:
            out.append(ServingEndpoint(path, call.line, "gradio", f"mod:{path}", "gradio app"))
    top = {q for q, d in idx.defs.items() if d.kind == "function" and "." not in q}
    if "model_fn" in top and top & {"predict_fn", "input_fn", "transform_fn", "output_fn"}:
        out.append(ServingEndpoint(path, idx.defs["model_fn"].line, "sagemaker", f"mod:{path}", "SageMaker inference script"))
    if {"init", "run"} <= top and re.search(r"(^|/)(score|scoring|entry_script)[\w-]*\.py$", path):
        out.append(ServingEndpoint(path, idx.defs["run"].line, "azureml", f"mod:{path}", "Azure ML scoring script"))
    if "streamlit" in roots and predicts and not idx.is_notebook:
        line = next((i.line for i in idx.imports if i.module.startswith("streamlit")), 1)
        out.append(ServingEndpoint(path, line, "streamlit", f"mod:{path}", "streamlit app that predicts"))
    for name in ("handler", "lambda_handler"):
        d = idx.defs.get(name)
        if d and len(d.params) == 2 and predicts and "event" in d.params[0]:
            out.append(ServingEndpoint(path, d.line, "aws-lambda", f"def:{path}:{name}", "AWS Lambda handler that predicts"))
    if "handle" in top and "initialize" in top and "torch" in roots:
        out.append(ServingEndpoint(path, idx.defs["handle"].line, "torchserve", f"mod:{path}", "TorchServe handler"))
    # keep one endpoint per handler
    uniq: Dict[str, ServingEndpoint] = {}
    for ep in out:
        uniq.setdefault(ep.handler, ep)
    return sorted(uniq.values(), key=lambda e: (e.path, e.line, e.handler))
