"""Shared vocabulary for the tracking, configuration, ML-test and CI rules: which libraries are ML,
which names are hyperparameters, which folders hold illustrative code, and what kind of code a
repo module is (ML, data handling, or neither). Pure functions over `Facts`."""
from __future__ import annotations

import functools
import re
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Iterable, List, Optional, Set, Tuple

from mlscan.rules._vocab import CORE_HYPERPARAMETER, FIT_ATTRS, HYPERPARAMETER, WEAK_HYPERPARAMETER

if TYPE_CHECKING:
    from mlscan.facts.pycode import CodeIndex
    from mlscan.facts.repo import Facts

# libraries whose use makes code "ML code" (models, training, features)
ML_LIBS = {
    "torch", "torchvision", "torchaudio", "torchtext", "tensorflow", "keras", "tf_keras", "jax", "flax", "optax",
    "haiku", "sklearn", "xgboost", "lightgbm", "catboost", "transformers", "pytorch_lightning", "lightning",
    "timm", "statsmodels", "prophet", "fbprophet", "spacy", "gensim", "fastai", "mxnet", "paddle", "onnx",
    "onnxruntime", "sentence_transformers", "datasets", "diffusers", "accelerate", "peft", "trl", "ultralytics",
    "detectron2", "mmdet", "mmcv", "mmseg", "tensorflow_hub", "tflite_runtime", "optuna", "hyperopt", "imblearn",
    "sktime", "darts", "pmdarima", "tsfresh", "featuretools", "category_encoders", "umap", "hdbscan",
    "keras_tuner", "torchmetrics", "torch_geometric", "dgl", "pyg_lib", "skorch", "pycaret", "autogluon",
    "h2o", "flaml", "neuralprophet", "gluonts", "pytorch_forecasting", "sentencepiece", "tokenizers",
    "tiktoken", "albumentations", "kornia", "segmentation_models_pytorch", "openai", "langchain", "nltk",
}
# libraries whose use makes code "data code": it handles data without modelling it
DATA_LIBS = {
    "numpy", "pandas", "polars", "scipy", "pyarrow", "dask", "pyspark", "great_expectations", "pandera",
    "evidently", "h5py", "xarray", "cv2", "PIL", "skimage", "imageio", "librosa", "soundfile", "duckdb",
    "deepchecks", "alibi_detect", "whylogs", "tfx", "tensorflow_data_validation", "feast",
}

# folders whose code illustrates rather than runs the project
EXAMPLE_DIRS = {"examples", "example", "docs", "doc", "tutorials", "tutorial", "demo", "demos", "samples",
                "sample", "sandbox", "scratch", "playground"}
# folders of exploratory work beside a project's pipeline
EXPLORATION_DIRS = {"notebooks", "notebook", "nbs", "research", "exploration", "explorations", "eda"}

def strong_hyperparameters(names: Iterable[str]) -> Set[str]:
    """The hyperparameter names among `names`, leaving out the weak ones that alone prove nothing."""
    out = set()
    for n in names:
        k = n.strip().lstrip("-").replace("-", "_")
        if "__" in k.strip("_"):   # a scikit-learn pipeline step's parameter: `regressor__max_depth`
            k = k.rsplit("__", 1)[1]
        if HYPERPARAMETER.match(k) and not WEAK_HYPERPARAMETER.match(k):
            out.add(k.lower())
    return out


@functools.lru_cache(maxsize=65536)   # pure, and asked per call site by several rules
def in_example_dir(path: str) -> bool:
    return any(p.lower() in EXAMPLE_DIRS for p in PurePosixPath(path).parts[:-1])


@functools.lru_cache(maxsize=65536)
def in_exploration_dir(path: str) -> bool:
    """Code kept apart as exploration (`notebooks/`, `research/`, `eda/`), not the project's pipeline."""
    return any(p.lower() in EXPLORATION_DIRS for p in PurePosixPath(path).parts[:-1])


def root_of(name: str) -> str:
    return name.lstrip("?").split(".", 1)[0].replace("()", "")


def uses_libs(idx: "CodeIndex", libs: Set[str]) -> Optional[str]:
    for ref in idx.imports:
        root = (ref.module or "").split(".")[0]
        if root in libs:
            return root
    return None


# ---- which repo file an import loads -------------------------------------------------------------
SOURCE_ROOTS = ("src", "lib", "python", "source", "sources")


def imported_repo_file(facts: "Facts", importer: str, ref) -> Optional[Tuple[str, str]]:
    """(repo path, graph node) that an import statement loads, or None for a library import.

    The graph resolves a module by any dotted suffix (tests often put `src/` or a sibling folder on
    sys.path), so `import logging` can land on `src/pkg/utils/logging.py`: a suffix match is kept
    unless the import names the standard library or a known or required third-party package."""
    import sys
    graph = facts.graph
    full = f"{ref.module}.{ref.name}" if ref.name else ref.module
    node = graph.resolve_name(importer, full) or (graph.resolve_name(importer, ref.module) if ref.module else None)
    if not node:
        return None
    target = node.split(":")[1]
    idx = facts.code.get(target)
    module = idx.module if idx is not None else ""
    dotted = ref.module or ""
    if not dotted or module == dotted or (module and (module.startswith(dotted + ".") or dotted.startswith(module + "."))):
        return target, node
    for head in SOURCE_ROOTS:  # src/ layout: `import pkg.x` loads src/pkg/x.py
        if module == f"{head}.{dotted}" or module.startswith(f"{head}.{dotted}."):
            return target, node
    root = dotted.split(".")[0]
    if root in getattr(sys, "stdlib_module_names", ()) or root in ML_LIBS or root in DATA_LIBS \
            or root.lower().replace("_", "-") in _required(facts):
        return None
    return target, node


def _required(facts: "Facts") -> Set[str]:
    return facts.memo("required-names", lambda: {r.name for r in facts.requirements})


# ---- what kind of code a repo module is --------------------------------------------------------
def module_kind(facts: "Facts", path: str) -> str:
    """"ml" (models, training, features: imports an ML library, or handles data inside the training
    code), "data" (handles data with numpy/pandas/... outside the training), or "other" (no data at
    all: CLI tooling, string helpers). A thin module (package __init__, facade) is what it imports."""
    cache = facts.memo("module-kinds", dict)
    if path in cache:
        return cache[path]
    idx = facts.code.get(path)
    kind = "other"
    if idx is not None:
        closure_paths = _closure_paths(facts)
        data = uses_libs(idx, DATA_LIBS)
        if uses_libs(idx, ML_LIBS) or (data and (path in closure_paths or DATA_PIPELINE.search(path))) \
                or _ml_classes(facts, idx) or any(c.attr in MODEL_USE for c in idx.calls):
            kind = "ml"
        elif data:
            kind = "data"
        else:
            # a thin module (package __init__, facade) counts as what it imports from the repo
            kinds = set()
            for ref in idx.imports:
                got = imported_repo_file(facts, path, ref)
                target = got[0] if got else None
                if target and target != path:
                    t_idx = facts.code.get(target)
                    t_data = t_idx is not None and uses_libs(t_idx, DATA_LIBS)
                    if t_idx is not None and (uses_libs(t_idx, ML_LIBS) or (t_data and target in closure_paths)):
                        kinds.add("ml")
                    elif t_data:
                        kinds.add("data")
            kind = "ml" if "ml" in kinds else "data" if "data" in kinds else "other"
    cache[path] = kind
    return kind


# methods that run or train a model (batch scoring with an unpickled model is ML code)
MODEL_USE = {"predict", "predict_proba", "predict_on_batch", "decision_function"} | FIT_ATTRS
# modules of the data side of an ML pipeline: loading, features, preprocessing
DATA_PIPELINE = re.compile(r"(?i)(^|/)(data|datasets?|datamodules?|data_modules?|features?|feature_engineering|"
                           r"preprocess\w*|transforms?|etl|dataloaders?|loaders?)(/|\.py$|_)")


def _ml_classes(facts: "Facts", idx: "CodeIndex") -> bool:
    """A class deriving from an ML library class, directly or through a repo base class that does."""
    graph = facts.graph
    for d in idx.defs.values():
        for base in d.bases if d.kind == "class" else ():
            if root_of(base) in ML_LIBS:
                return True
            node = graph.resolve_name(idx.path, base)
            target = node.split(":")[1] if node else None
            if target and target != idx.path and target in facts.code and uses_libs(facts.code[target], ML_LIBS):
                return True
    return False


def _closure_paths(facts: "Facts") -> Set[str]:
    from mlscan.facts.repo import is_test_path
    def compute() -> Set[str]:
        paths = {n.split(":", 2)[1] for n in facts.graph.training_closure}   # each node's file once
        return {p for p in paths if not is_test_path(p)}
    return facts.memo("closure-paths", compute)


def pipeline_nodes(facts: "Facts") -> Set[str]:
    """Code that any training entry point reaches (the main training script, and also notebooks and
    secondary scripts that train), plus code run by declared pipeline stages (dvc.yaml, MLproject)."""
    def compute() -> frozenset:
        graph = facts.graph
        nodes = set(graph.training_closure)
        training = {ep.target for ep in graph.training_entry_points}
        nodes |= graph.code_reach_all(ep.node for ep in graph.entry_points
                                      if ep.kind in ("pipeline", "mlproject") or ep.target in training)
        return frozenset(nodes)
    return set(facts.memo("pipeline-nodes", compute))


def training_code_nodes(facts: "Facts") -> Set[str]:
    """`pipeline_nodes`, or - in a repo where no code trains (a template, a skeleton) - the code of
    every non-test script and notebook entry point, so that what a would-be training reads still counts."""
    nodes = pipeline_nodes(facts)
    graph = facts.graph
    # r12: code that trains but that no entry point reaches (a flax step a jitted reference runs) says
    # nothing of what the scripts read: they count too
    if nodes and graph.training_entry_points:
        return nodes
    from mlscan.facts.repo import is_test_path
    return nodes | graph.code_reach_all(ep.node for ep in graph.entry_points
                                        if ep.kind in ("script", "notebook", "console-script")
                                        and not is_test_path(ep.path))


def flatten_keys(data: object, limit: int = 4000) -> List[str]:
    """Every mapping key in a parsed config document, nested ones included (bounded)."""
    from mlscan.facts.configs import walk
    out: List[str] = []
    for key, _ in walk(data):
        if key is not None:
            out.append(str(key))
            if len(out) >= limit:
                break
    return out


def ranked(names: Iterable[str], n: int = 5) -> str:
    """Up to n names, the most telling hyperparameters (learning rate, epochs, batch size...) first."""
    return ", ".join(sorted(set(names), key=lambda k: (not CORE_HYPERPARAMETER.search(k), k))[:n])
