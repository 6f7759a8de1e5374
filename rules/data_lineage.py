from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Dict, List, Optional, Set, Tuple

from mlscan.facts.graph import artefact_kind
from mlscan.facts.pycode import NOT_LITERAL
from mlscan.rulekit import Example, Rule
from mlscan.rules._vocab import MODEL_PATH
from mlscan.rules._lifecycle import calls_named, cell, imports_any, where
from mlscan.rules._mlcode import pipeline_nodes

CODE_SUFFIXES = (".py", ".ipynb", ".sh", ".r", ".R", ".sql", ".yaml", ".yml", ".toml", ".json", ".cfg", ".ini")
DATA_WORD = re.compile(r"(?i)data|corpus|split|raw|processed|features|train|test|valid|sample|table")
DATA_VERSION_KEY = re.compile(r"(?i)^(training_|train_|input_)?(data|dataset|corpus)[_.-]?"
                              r"(version|hash|md5|sha\w*|rev|revision|commit|digest|snapshot|tag|checksum)$")
LINEAGE_IMPORTS = (("openlineage", "an OpenLineage client emits lineage events"),
                   ("ml_metadata", "ML Metadata (MLMD) records artefacts and executions"),
                   ("sagemaker.lineage", "SageMaker Lineage records artefact associations"),
                   ("marquez_client", "a Marquez client records lineage"),
                   ("datahub.emitter", "a DataHub emitter records lineage"))


class DataToModelLineage(Rule):
    """Which data each model was trained on is recorded

    Looks for lineage written by the run: a committed dvc.lock whose stages tie hashed data
    dependencies to a model output (following the stages back to the raw data); MLflow
    `log_input` (datasets logged with the run) and data-version tags or parameters
    (`mlflow.set_tag('data_version', ...)`); a W&B or Comet run that consumes or logs a dataset
    artifact and logs the model it trains; OpenLineage, ML Metadata (including TFX metadata
    connections), SageMaker Lineage, Kubeflow components with `Dataset` inputs and `Model`
    outputs. Partial: MLflow autologging (dataset digests without a versioned source), a dvc.yaml
    whose lock is not committed, a dataset artifact used without logging the model, lineage only
    in illustrative code, and model cards that name their training `datasets:`.
    """

    id = "data-lineage"
    practice = "data-lineage"
    examples = (
        Example({
            "dvc.yaml": "stages:\n  train:\n    cmd: python train.py\n    deps: [data/train.csv, train.py]\n"
                        "    outs: [models/model.pkl]\n",
            "dvc.lock": "schema: '2.0'\nstages:\n  train:\n    cmd: python train.py\n    deps:\n"
                        "    - path: data/train.csv\n      md5: 0123456789abcdef0123456789abcdef\n      size: 10\n"
                        "    - path: train.py\n      md5: 11111111111111111111111111111111\n      size: 5\n"
                        "    outs:\n    - path: models/model.pkl\n"
                        "      md5: 22222222222222222222222222222222\n      size: 7\n",
            "train.py": "import pandas as pd\nfrom sklearn.svm import SVC\ndf = pd.read_csv('data/train.csv')\n"
                        "SVC().fit(df[['x']], df.y)\n",
        }, "present", "dvc.lock ties the data hash to the model", fires=True),
        Example({
            "train.py": "import mlflow\nimport pandas as pd\nfrom sklearn.svm import SVC\n\n"
                        "df = pd.read_csv('s3://bucket/train@v3.csv')\nwith mlflow.start_run():\n"
                        "    ds = mlflow.data.from_pandas(df, source='s3://bucket/train@v3.csv')\n"
                        "    mlflow.log_input(ds, context='training')\n"
                        "    SVC().fit(df[['x']], df.y)\n",
        }, "present", "the dataset is logged with the run"),
        Example({
            "train.py": "import wandb\nimport torch\n\nrun = wandb.init()\n"
                        "data_dir = run.use_artifact('mnist-dataset:v3', type='dataset').download()\n"
                        "model = torch.nn.Linear(2, 1)\nmodel(torch.zeros(1, 2)).sum().backward()\n"
                        "torch.save(model.state_dict(), 'model.pt')\nrun.log_model('model.pt', name='mnist-cnn')\n",
        }, "present", "W&B: dataset artifact in, model artifact out", fires=True),
        Example({
            "train.py": "import pandas as pd\nimport joblib\nfrom sklearn.svm import SVC\n"
                        "df = pd.read_csv('data/train.csv')\njoblib.dump(SVC().fit(df[['x']], df.y), 'model.pkl')\n",
        }, "absent", "the model is saved with no record of its data", fires=False),
        Example({
            "README.md": "---\nlicense: mit\ndatasets:\n- imdb\nlibrary_name: transformers\n---\n# sentiment model\n",
            "train.py": "from transformers import Trainer\nTrainer(model=None).train()\n",
        }, "partial", "a model card names its training data set, no version"),
    )

    def check(self, facts):
        supports: List[Tuple[str, int, str]] = []
        partial: List[Tuple[str, int, str]] = []
        illustrative: List[Tuple[str, int, str]] = []

        def add(kind: str, path: str, line: int, msg: str) -> None:
            if where(path) == "example":
                illustrative.append((path, line, f"{msg}, but only in illustrative code"))
            else:
                (supports if kind == "supports" else partial).append((path, line, msg))

        for kind, path, line, msg in _dvc_lineage(facts):
            add(kind, path, line, msg)
        for kind, path, line, msg in _mlflow_lineage(facts):
            add(kind, path, line, msg)
        for kind, path, line, msg in _artifact_lineage(facts):
            add(kind, path, line, msg)
        for kind, path, line, msg in _metadata_stores(facts):
            add(kind, path, line, msg)
        for path, line, msg in _card_datasets(facts):
            partial.append((path, line, msg))
        for path, line, msg in _dedupe(supports)[:6]:
            yield self.found("supports", path, line, msg)
        if supports:
            return
        for path, line, msg in _dedupe(partial)[:4]:
            yield self.found("partial", path, line, msg)
        if partial:
            return
        for path, line, msg in _dedupe(illustrative)[:2]:
            yield self.found("partial", path, line, msg)


def _dedupe(items):
    seen = set()
    out = []
    for it in items:
        if (it[0], it[2]) not in seen:
            seen.add((it[0], it[2]))
            out.append(it)
    return out


# ---- DVC ---------------------------------------------------------------------------------------
def _entries(items) -> List[Tuple[str, bool]]:
    """(path, hashed) for a dvc.lock/dvc.yaml deps or outs list."""
    out = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, str):
            out.append((item, False))
        elif isinstance(item, dict):
            path = item.get("path")
            if isinstance(path, str):
                out.append((path, any(k in item for k in ("md5", "hash", "etag", "checksum", "sha256"))))
            else:   # dvc.yaml form: {path: {cache: false, ...}}
                out.extend((k, False) for k in item if isinstance(k, str))
    return out


def _is_data(path: str) -> bool:
    return not path.endswith(CODE_SUFFIXES) and not MODEL_PATH.search(path)


def _is_model(path: str, declared_models: Set[str]) -> bool:
    return path in declared_models or artefact_kind(path) == "model" or bool(MODEL_PATH.search(path))


def _dvc_lineage(facts) -> List[Tuple[str, str, int, str]]:
    out = []
    for f in facts.glob("dvc.yaml"):
        if "{{" in f.path:
            continue
        base = str(PurePosixPath(f.path).parent)
        lock_path = "dvc.lock" if base == "." else f"{base}/dvc.lock"
        yaml_doc = facts.config(f.path)
        data = yaml_doc.data if yaml_doc and isinstance(yaml_doc.data, dict) else {}
        arts = data.get("artifacts") if isinstance(data.get("artifacts"), dict) else {}
        declared_models = {a.get("path") for a in arts.values() if isinstance(a, dict) and a.get("type") == "model"}
        lock = facts.yaml_file(lock_path)
        lock_stages = lock.data.get("stages") if lock and isinstance(lock.data, dict) else None
        entry = facts.inventory.get(lock_path)
        committed = entry is not None and (entry.tracked or not facts.in_git)
        if isinstance(lock_stages, dict) and lock_stages:
            chain = _model_chain(lock_stages, declared_models, hashed=True)
            if chain and committed:
                model, stage, data_deps = chain
                shown = ", ".join(data_deps[:4]) + (", …" if len(data_deps) > 4 else "")
                out.append(("supports", lock_path, facts.line_of(lock_path, f"{stage}:"),
                            f"dvc.lock ties {model} (stage {stage}) to the hashes of the data it was built from ({shown})"))
                continue
            if chain:
                out.append(("partial", lock_path, 1, f"dvc.lock ties {chain[0]} to its data, but it is not committed"))
                continue
            hashed = [p for st in lock_stages.values() if isinstance(st, dict)
                      for p, h in _entries(st.get("deps")) if h and _is_data(p)]
            if hashed:
                out.append(("partial", lock_path, 1, f"dvc.lock pins the hashes of {', '.join(hashed[:3])}, "
                                                     f"but no stage outputs a model"))
                continue
        stages = data.get("stages")
        if isinstance(stages, dict):
            chain = _model_chain(stages, declared_models, hashed=False)
            if chain:
                model, stage, data_deps = chain
                out.append(("partial", f.path, facts.line_of(f.path, f"{stage}:"),
                            f"dvc.yaml links {model} to {', '.join(data_deps[:3])}, but no committed dvc.lock records "
                            f"which versions were used"))
    return out


def _model_chain(stages: dict, declared_models: Set[str], hashed: bool) -> Optional[Tuple[str, str, List[str]]]:
    """(model output, stage, data it traces back to) for the first stage that outputs a model
    from data dependencies (hashed ones, for a lock file)."""
    produced: Dict[str, str] = {}
    for name, st in stages.items():
        if isinstance(st, dict):
            for p, _ in _entries(st.get("outs")):
                produced[p.rstrip("/")] = str(name)
    for name, st in stages.items():
        if not isinstance(st, dict):
            continue
        models = [p for p, _ in _entries(st.get("outs")) if _is_model(p, declared_models)]
        deps = [(p, h) for p, h in _entries(st.get("deps")) if _is_data(p)]
        if hashed:
            deps = [(p, h) for p, h in deps if h]
        if not models or not deps:
            continue
        # follow the data back through the stages that produced it
        trail: List[str] = []
        todo = [p for p, _ in deps]
        seen: Set[str] = set()
        while todo and len(seen) < 50:
            p = todo.pop(0).rstrip("/")
            if p in seen:
                continue
            seen.add(p)
            trail.append(p)
            up = produced.get(p)
            if up and isinstance(stages.get(up), dict):
                todo.extend(q for q, h in _entries(stages[up].get("deps")) if _is_data(q) and (h or not hashed))
        return models[0], str(name), list(reversed(trail))   # raw data first
    return None


# ---- MLflow ------------------------------------------------------------------------------------
def _mlflow_lineage(facts) -> List[Tuple[str, str, int, str]]:
    out = []
    attrs = {"log_input", "log_inputs", "set_tag", "set_tags", "log_param", "autolog"}
    for idx, call, name in calls_named(facts, {"mlflow"}, attrs):
        at = cell(facts, idx.path, call.line)
        if call.attr in ("log_input", "log_inputs"):
            out.append(("supports", idx.path, call.line, f"{name}{at} logs the training data set with the run"))
        elif call.attr in ("set_tag", "log_param"):
            key = call.args[0] if call.args else call.kwarg("key")
            if isinstance(key, str) and key != NOT_LITERAL and DATA_VERSION_KEY.match(key):
                out.append(("supports", idx.path, call.line,
                            f"{name}('{key}', ...){at} records the data version with the run"))
        elif call.attr == "autolog" and call.kwarg("log_datasets") is not False:
            out.append(("partial", idx.path, call.line, f"{name}{at} records dataset digests with each run, "
                                                        f"without naming a versioned source"))
    return out


# ---- W&B and Comet artifacts -------------------------------------------------------------------
def _artifact_lineage(facts) -> List[Tuple[str, str, int, str]]:
    """A run that consumes or logs a dataset artifact and logs the model it trains."""
    nodes = None
    per_file: Dict[str, Tuple[Optional[Tuple[int, str]], Optional[Tuple[int, str]]]] = {}
    for idx in facts.non_test_code():
        if not imports_any(idx, {"wandb", "comet_ml"}) and \
                idx.path not in facts.call_table.named(attrs=("WandbLogger", "CometLogger")):
            continue
        data_at: Optional[Tuple[int, str]] = None
        model_at: Optional[Tuple[int, str]] = None
        for call in idx.calls:
            name = call.name.lstrip("?")
            attr = call.attr
            if attr == "Artifact" and name.startswith(("wandb", "comet_ml")):
                key = "type" if call.has_kwarg("type") else "artifact_type"
                kind = call.kwarg(key)
                if kind is None and len(call.args) > 1:
                    key, kind = "type", call.args[1]
                if isinstance(kind, str) and kind != NOT_LITERAL:
                    if "model" in kind.lower():
                        model_at = model_at or (call.line, f"{name}({key}='{kind}')")
                    elif "data" in kind.lower():
                        data_at = data_at or (call.line, f"{name}({key}='{kind}')")
            elif attr in ("use_artifact", "get_artifact"):
                lits = [v for v in (*call.args, *(v for _, v in call.kwargs)) if isinstance(v, str) and v != NOT_LITERAL]
                if any(DATA_WORD.search(v) for v in lits) and not any("model" in v.lower() for v in lits):
                    data_at = data_at or (call.line, name)
            elif attr in ("log_model", "link_model") and not name.startswith(("mlflow", "torch")):
                model_at = model_at or (call.line, name)
            elif attr in ("WandbLogger", "CometLogger") and call.kwarg("log_model") not in (None, False):
                model_at = model_at or (call.line, f"{name}(log_model=...)")
        if data_at or model_at:
            per_file[idx.path] = (data_at, model_at)
    out = []
    for path, (data_at, model_at) in sorted(per_file.items()):
        if data_at and model_at:
            out.append(("supports", path, data_at[0], f"{data_at[1]}{cell(facts, path, data_at[0])} records the dataset "
                                                      f"artifact of the run that logs the model ({model_at[1]})"))
    if out:
        return out
    data_files = [(p, d) for p, (d, _) in per_file.items() if d]
    model_files = [(p, m) for p, (_, m) in per_file.items() if m]
    if data_files and model_files:
        nodes = pipeline_nodes(facts)
        reached = {n[4:].rsplit(":", 1)[0] if n.startswith("def:") else n[4:] for n in nodes}
        d = next(((p, x) for p, x in data_files if p in reached), None)
        m = next(((p, x) for p, x in model_files if p in reached), None)
        if d and m:
            return [("supports", d[0], d[1][0], f"{d[1][1]} records the dataset artifact the training uses, and "
                                                f"{m[0]} logs the model ({m[1][1]}) in the same run")]
    for path, d in data_files[:2]:
        out.append(("partial", path, d[0], f"{d[1]}{cell(facts, path, d[0])} records the dataset artifact with the run, "
                                           f"but the trained model is not logged as an artifact"))
    return out


# ---- metadata stores ---------------------------------------------------------------------------
def _metadata_stores(facts) -> List[Tuple[str, str, int, str]]:
    out = []
    for idx in facts.non_test_code():
        for ref in idx.imports:
            full = f"{ref.module}.{ref.name}" if ref.name else ref.module
            for prefix, what in LINEAGE_IMPORTS:
                if full == prefix or full.startswith(prefix + "."):
                    out.append(("supports", idx.path, ref.line, what))
                    break
        kfp_types = {ref.name for ref in idx.imports if ref.module.startswith(("kfp.dsl", "kfp.v2.dsl")) and ref.name}
        if {"Dataset", "Model"} <= kfp_types and ({"Input", "Output"} & kfp_types):
            line = next(r.line for r in idx.imports if r.name == "Model" and r.module.startswith(("kfp.dsl", "kfp.v2.dsl")))
            out.append(("supports", idx.path, line, "Kubeflow components pass Dataset inputs and Model outputs, "
                                                    "which KFP records in ML Metadata"))
        if "tfx" in idx.imported_roots:
            for call in idx.calls:
                if call.attr in ("sqlite_metadata_connection_config", "mysql_metadata_connection_config") or \
                        (call.attr == "Pipeline" and call.has_kwarg("metadata_connection_config")):
                    out.append(("supports", idx.path, call.line, "the TFX pipeline records its artefacts in ML Metadata"))
                    break
    return out


# ---- model cards -------------------------------------------------------------------------------
def _card_datasets(facts) -> List[Tuple[str, int, str]]:
    out = []
    for path in facts.doc_files:
        if not path.lower().endswith((".md", ".markdown")) or "{{" in path:
            continue
        text = facts.text(path) or ""
        if not text.startswith("---") or "datasets" not in text[:4000]:
            continue
        doc = facts.document(path)
        fm = doc.front_matter if doc else None
        names = fm.get("datasets") if isinstance(fm, dict) else None
        if isinstance(names, str):
            names = [names]
        if isinstance(names, list) and names:
            out.append((path, facts.line_of(path, "datasets"),
                        f"the model card names its training data ({', '.join(map(str, names[:3]))}), "
                        f"but not which version the model was trained on"))
    return out[:2]
