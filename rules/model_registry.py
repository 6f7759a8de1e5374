from __future__ import annotations

import re
from typing import Dict, List, Optional, Tuple

from mlscan.facts.pycode import NOT_LITERAL
from mlscan.rulekit import Example, Rule
from mlscan.rules._lifecycle import calls_named, cell, imports_any, where

HUB = "pushes the model to the Hugging Face Hub (versioned, but no stages or aliases)"
# (kind, tool, what it does, pattern on the library name of a call)
REGISTRY_CALLS: Tuple[Tuple[str, str, str, "re.Pattern[str]"], ...] = tuple(
    (kind, tool, what, re.compile(rx)) for kind, tool, what, rx in (
        ("supports", "MLflow Model Registry", "registers a model version", r"^mlflow\.(.*\.)?register_model$"),
        ("supports", "MLflow Model Registry", "manages registered model versions",
         r"^mlflow\..*\.(create_registered_model|create_model_version|transition_model_version_stage|"
         r"set_registered_model_alias|copy_model_version|update_model_version|set_model_version_tag)$"),
        ("supports", "MLflow Model Registry", "points MLflow at a model registry", r"^mlflow\.(.*\.)?set_registry_uri$"),
        ("supports", "W&B model registry", "links or logs a versioned model",
         r"^wandb\.(.*\.)?(link_model|link_artifact|log_model|use_model)$"),
        ("supports", "SageMaker Model Registry", "registers a model package",
         r"^sagemaker\.(.*\.)?(register|ModelPackage|ModelPackageGroup|RegisterModel|create_model_package\w*)$"),
        ("supports", "SageMaker Model Registry", "registers a model package",
         r"^boto3\.(.*\.)?(create_model_package|create_model_package_group)$"),
        ("supports", "Vertex AI Model Registry", "uploads a model version",
         r"^google\.cloud\.aiplatform\.(.*\.)?Model\.upload$"),
        ("supports", "Azure ML model registry", "registers a model",
         r"^azure\.ai\.ml\.(.*\.)?models\.create_or_update$|^azureml\.core\.(.*\.)?(Model\.register|register_model)$"),
        ("supports", "BentoML model store", "saves a versioned model", r"^bentoml\.(.*\.)?(save_model|models\.create)$"),
        ("supports", "Neptune model registry", "creates a model version",
         r"^neptune\.(.*\.)?(init_model_version|init_model)$"),
        ("supports", "Comet model registry", "registers a model", r"^comet_ml\.(.*\.)?register_model$"),
        ("supports", "ClearML model repository", "registers an output model",
         r"^clearml\.(.*\.)?(OutputModel|update_output_model)$"),
        ("partial", "MLflow", "logs the model with a run but does not register it", r"^mlflow\.(.*\.)?log_model$"),
        ("partial", "Comet", "logs the model with an experiment but does not register it", r"^comet_ml\.(.*\.)?log_model$"),
        ("partial", "Hugging Face Hub", HUB,
         r"^(transformers|diffusers|sentence_transformers|setfit|peft|trl|timm|huggingface_hub)\.(.*\.)?"
         r"(push_to_hub|push_to_hf_hub|upload_folder|upload_file)$"),
    ))
ROOTS = {"mlflow", "wandb", "pytorch_lightning", "lightning", "ray", "sagemaker", "boto3", "google", "azure", "azureml",
         "bentoml", "neptune", "comet_ml",
         "clearml", "transformers", "diffusers", "sentence_transformers", "setfit", "peft", "trl", "timm",
         "huggingface_hub"}
ATTRS = {"register_model", "create_registered_model", "create_model_version", "transition_model_version_stage",
         "set_registered_model_alias", "copy_model_version", "update_model_version", "set_model_version_tag",
         "set_registry_uri", "link_model", "link_artifact", "log_model", "use_model", "register", "ModelPackage",
         "ModelPackageGroup", "RegisterModel", "create_model_package", "create_model_package_group", "upload",
         "create_or_update", "save_model", "create", "init_model_version", "init_model", "OutputModel",
         "update_output_model", "push_to_hub", "push_to_hf_hub", "upload_folder", "upload_file", "load_model",
         "Artifact", "TrainingArguments", "Seq2SeqTrainingArguments", "WandbLogger", "MLFlowLogger", "WandbCallback",
         "WandbModelCheckpoint", "autolog", "MLflowLoggerCallback"}
HF_LIBS = {"transformers", "diffusers", "sentence_transformers", "setfit", "peft", "trl", "timm", "huggingface_hub"}
LOCAL_SAVES = re.compile(r"^(torch\.save|joblib\.dump|pickle\.dump|dill\.dump|cloudpickle\.dump|skops\.io\.dump|"
                         r"tensorflow\.(.*\.)?saved_model\.save|(tensorflow\.)?keras\.(.*\.)?save_model|"
                         r"[\w.()]+\.(save_pretrained|save_model|save_weights|save_checkpoint))$")


class ModelsRegistered(Rule):
    """Trained models are versioned in a model registry

    Looks for model registration and promotion: MLflow `register_model`, `log_model(...,
    registered_model_name=...)`, `autolog(registered_model_name=...)`, `MlflowClient` version,
    stage and alias calls, `set_registry_uri` and loads from `models:/` URIs; W&B
    `link_model`/`link_artifact`/`log_model`, model-typed artifacts and Lightning
    `WandbLogger(log_model=...)`; SageMaker model packages (`register`, `RegisterModel`, boto3
    `create_model_package`); Vertex AI `Model.upload`; Azure ML model registration; BentoML
    `save_model`; Neptune model versions; Comet `register_model`; ClearML output models; and a
    DVC `artifacts:` section or GTO `artifacts.yaml`. A model logged with an MLflow or Comet run
    but not registered (`log_model`, `autolog`, Ray's `MLflowLoggerCallback(save_artifact=True)`)
    or pushed to the Hugging Face Hub is partial; so is registration shown only under examples/
    or docs/. When nothing registers models and the training saves them only to local files, the
    local save is named as the gap. Tests are ignored.
    """

    id = "model-registry"
    practice = "model-registry"
    examples = (
        Example({
            "train.py": "import mlflow\nfrom sklearn.linear_model import LogisticRegression\n\n"
                        "with mlflow.start_run():\n    clf = LogisticRegression().fit(X, y)\n"
                        "    mlflow.sklearn.log_model(clf, 'model', registered_model_name='churn')\n",
        }, "present", "log_model registers the model", fires=True),
        Example({
            "promote.py": "from mlflow import MlflowClient\n\nclient = MlflowClient()\n"
                          "client.set_registered_model_alias('churn', 'champion', 3)\n",
            "train.py": "from sklearn.svm import SVC\nSVC().fit(X, y)\n",
        }, "present", "promotion by alias through the client"),
        Example({
            "train.py": "import mlflow\nfrom sklearn.svm import SVC\n\nwith mlflow.start_run():\n"
                        "    m = SVC().fit(X, y)\n    mlflow.sklearn.log_model(m, 'model')\n",
        }, "partial", "logged with the run, never registered", fires=True),
        Example({
            "train.py": "import joblib\nfrom sklearn.svm import SVC\n\nif __name__ == '__main__':\n"
                        "    m = SVC().fit(X, y)\n    joblib.dump(m, 'models/model.pkl')\n",
        }, "absent", "saved only to a local file", fires=True),
        Example({
            "train.py": "# later: mlflow.register_model(uri, 'churn')\nimport joblib\nfrom sklearn.svm import SVC\n"
                        "registered_model_name = 'churn'\nm = SVC().fit(X, y)\n",
        }, "absent", "a comment and a variable are not a registry", fires=False),
    )

    def check(self, facts):
        found: Dict[Tuple[str, str, str], Tuple[str, int, str]] = {}   # (kind, where, tool) -> (path, line, text)
        for idx, call, name in calls_named(facts, ROOTS, ATTRS):
            got = _classify(name, call)
            if got:
                kind, tool, what = got
                found.setdefault((kind, where(idx.path), tool),
                                 (idx.path, call.line, f"{name}{cell(facts, idx.path, call.line)} {what}"))
        # a model-typed W&B artifact, and an HF push through an object the index cannot name
        graph = facts.graph
        for idx in facts.non_test_code():
            hf = imports_any(idx, HF_LIBS)
            wb = imports_any(idx, {"wandb"})
            if not (hf or wb):
                continue
            for call in facts.call_table.named(_artifact_or_push, attrs=("push_to_hub",), roots=("wandb", "?wandb")).get(idx.path, ()):
                name = call.name.lstrip("?")
                at = cell(facts, idx.path, call.line)
                if wb and name.startswith("wandb") and name.endswith("Artifact") and \
                        (call.kwarg("type") == "model" or (len(call.args) > 1 and call.args[1] == "model")):
                    found.setdefault(("supports", where(idx.path), "W&B artifacts"),
                                     (idx.path, call.line, f"{name}(type='model'){at} versions the model as a W&B artifact"))
                elif hf and call.attr == "push_to_hub" and not name.startswith("datasets") and \
                        call.kwarg("repo_type") not in ("dataset", "space") and \
                        graph.resolve_name(idx.path, call.name) is None:
                    found.setdefault(("partial", where(idx.path), "Hugging Face Hub"),
                                     (idx.path, call.line, f"{name}{at} {HUB}"))
        for path, line, what in _dvc_artifacts(facts):
            found.setdefault(("supports", where(path), "DVC model registry"), (path, line, what))
        project = {k: v for k, v in found.items() if k[1] != "example"}
        examples = {k: v for k, v in found.items() if k[1] == "example"}
        supports = sorted((k, v) for k, v in project.items() if k[0] == "supports")
        for (_, _, tool), (path, line, what) in supports[:6]:
            yield self.found("supports", path, line, what)
        if supports:
            return
        partial = sorted((k, v) for k, v in project.items() if k[0] == "partial")
        for (_, _, tool), (path, line, what) in partial[:4]:
            yield self.found("partial", path, line, what)
        if partial:
            return
        for (kind, _, tool), (path, line, what) in sorted(examples.items())[:3]:
            yield self.found("partial", path, line, f"{what} ({tool}), but only in illustrative code")
        if examples:
            return
        local = _local_save(facts)
        if local:
            path, line, name = local
            yield self.found("gap", path, line, f"the training saves the model only to a local file ({name}); "
                                                f"no registry versions it{cell(facts, path, line)}")


def _classify(name: str, call) -> Optional[Tuple[str, str, str]]:
    attr = call.attr
    if attr == "load_model":
        uri = call.args[0] if call.args else call.kwarg("model_uri")
        if name.startswith("mlflow.") and isinstance(uri, str) and uri != NOT_LITERAL and uri.startswith("models:/"):
            return "supports", "MLflow Model Registry", f"loads the registered model {uri}"
        return None
    if attr in ("WandbLogger", "MLFlowLogger", "WandbCallback", "WandbModelCheckpoint"):
        flag = call.kwarg("log_model")
        if attr == "WandbModelCheckpoint" and name.startswith("wandb."):
            return "supports", "W&B model registry", "logs checkpoints as versioned W&B model artifacts"
        if not call.has_kwarg("log_model") or flag in (None, False, 0, "") or \
                not name.startswith(("pytorch_lightning.", "lightning.", "wandb.")):
            return None
        if attr == "MLFlowLogger":
            return "partial", "MLflow", "logs checkpoints with the run (log_model=) but does not register them"
        return "supports", "W&B model registry", "logs checkpoints as versioned W&B model artifacts (log_model=)"
    if attr == "autolog" and name.startswith("mlflow."):
        if call.kwarg("registered_model_name") is not None:
            return "supports", "MLflow Model Registry", "registers the autologged model (registered_model_name=)"
        if call.kwarg("log_models") is False:
            return None
        return "partial", "MLflow", "logs the model with each run (autolog) but does not register it"
    if attr == "MLflowLoggerCallback":
        if name.startswith("ray.") and call.kwarg("save_artifact") not in (None, False):
            return "partial", "MLflow", "logs checkpoints with each MLflow run (save_artifact=) but does not register them"
        return None
    if attr in ("TrainingArguments", "Seq2SeqTrainingArguments"):
        if name.startswith("transformers.") and call.kwarg("push_to_hub") is True:
            return "partial", "Hugging Face Hub", f"{HUB} (push_to_hub=True)"
        return None
    if attr == "log_model" and name.startswith("mlflow.") and call.has_kwarg("registered_model_name") \
            and call.kwarg("registered_model_name") is not None:
        return "supports", "MLflow Model Registry", "registers the logged model (registered_model_name=)"
    if attr in ("push_to_hub", "upload_folder", "upload_file") and \
            (call.kwarg("repo_type") in ("dataset", "space") or name.startswith("datasets.")):
        return None   # a dataset or a demo app pushed to the Hub, not a model
    for kind, tool, what, rx in REGISTRY_CALLS:
        if rx.match(name):
            return kind, tool, what
    return None


def _dvc_artifacts(facts) -> List[Tuple[str, int, str]]:
    out = []
    for f in facts.glob("dvc.yaml"):
        doc = facts.config(f.path)
        arts = doc.data.get("artifacts") if doc and isinstance(doc.data, dict) else None
        if isinstance(arts, dict):
            models = [n for n, a in arts.items() if isinstance(a, dict) and a.get("type") == "model"]
            if models:
                out.append((f.path, facts.line_of(f.path, "artifacts:"),
                            f"dvc.yaml declares model artifact(s) {', '.join(map(str, models[:3]))} "
                            f"for the DVC model registry"))
    for f in facts.glob("artifacts.yaml"):
        doc = facts.config(f.path)
        if doc and isinstance(doc.data, dict) and any(isinstance(a, dict) and a.get("type") == "model"
                                                      for a in doc.data.values()):
            out.append((f.path, 1, "GTO artifacts.yaml registers model artifacts"))
    return out


def _local_save(facts) -> Optional[Tuple[str, int, str]]:
    from mlscan.facts.repo import is_test_path
    graph = facts.graph
    for idx, call in graph.calls_in(graph.training_closure):
        if is_test_path(idx.path):
            continue
        if LOCAL_SAVES.match(call.name.lstrip("?")):
            return idx.path, call.line, call.name.lstrip("?")
    return None


def _artifact_or_push(name: str) -> bool:
    """The names the W&B artifact / Hub push loop in check() acts on."""
    bare = name.lstrip("?")
    return bare.startswith("wandb") and bare.endswith("Artifact") or name.rpartition(".")[2] == "push_to_hub"
