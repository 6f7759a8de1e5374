from __future__ import annotations

import re
from pathlib import PurePosixPath

from mlscan.rulekit import Example, Rule
from mlscan.rules._mlcode import in_example_dir

TRACKER_TARGET = re.compile(r"(?i)(mlflow|wandb|neptune|comet|dvclive|clearml|tensorboard|aim)\w*\.?\w*(logger|callback|writer)|"
                            r"loggers\.(wandb|mlflow|neptune|comet|tensorboard|csv_logs|aim)")
# training options that switch a tracker on (`use_tb_logger: true` in BasicSR option files)
SWITCHES = {"use_tb_logger", "use_tensorboard", "tensorboard", "use_wandb", "wandb", "use_mlflow", "mlflow",
            "use_neptune", "use_comet", "use_clearml", "use_aim"}
# a training config that names the tracker's project (axolotl's `wandb_project: my-runs`)
PROJECT_KEYS = {"wandb_project", "comet_project", "neptune_project", "mlflow_experiment_name", "clearml_project"}
TRACKER_VALUE = re.compile(r"(?i)^(mlflow|wandb|neptune|comet(_ml)?|dvclive|clearml|tensorboard|aim)$")


class TrackingConfigured(Rule):
    """Experiment tracking is declared in pipeline or training configuration

    Declarations that make runs recorded without a logging call in the code:
    - dvc.yaml stages with `metrics:` or `plots:` (DVC keeps them per experiment, `dvc exp show`
      and `dvc plots diff` compare runs) - supports;
    - training configs that pick a tracker: a Hydra/Lightning `_target_` naming a tracker logger
      or callback (`lightning.pytorch.loggers.WandbLogger`), or `report_to:`/`log_with:`/`logger:`
      naming one, or a switch that turns one on (`use_tb_logger: true`, `use_wandb: true`), or the
      tracker's project named in a training config (axolotl's `wandb_project: sql-qa`) - supports;
    - an MLproject file: `mlflow run` records each run with its parameters, but metrics are
      logged only by code - partial.
    CI workflows and files under examples/ or docs/ are not looked at.
    """

    id = "tracking-config"
    practice = "experiment-tracking"
    examples = (
        Example({
            "dvc.yaml": "stages:\n  train:\n    cmd: python train.py\n    deps: [train.py]\n    outs: [model.pkl]\n"
                        "  evaluate:\n    cmd: python evaluate.py\n    deps: [model.pkl]\n"
                        "    metrics:\n      - eval/metrics.json:\n          cache: false\n"
                        "    plots:\n      - eval/roc.json\n",
            "train.py": "import pickle\nfrom sklearn.tree import DecisionTreeClassifier\n"
                        "pickle.dump(DecisionTreeClassifier().fit([[0], [1]], [0, 1]), open('model.pkl', 'wb'))\n",
        }, "present", "DVC records metrics and plots of every pipeline run", fires=True),
        Example({
            "configs/logger/wandb.yaml": "wandb:\n  _target_: lightning.pytorch.loggers.wandb.WandbLogger\n  project: demo\n",
            "configs/train.yaml": "defaults:\n  - logger: wandb\ntrainer:\n  max_epochs: 10\n",
        }, "present", "a Hydra config selects a W&B logger", fires=True),
        Example({
            "dvc.yaml": "stages:\n  train:\n    cmd: python train.py\n    outs: [model.pkl]\n",
            "train.py": "print('training')\n",
        }, "absent", "a pipeline that declares no metrics", fires=False),
        Example({
            "options/train_x4.yml": "name: x4\ntrain:\n  total_iter: 400000\nlogger:\n  print_freq: 100\n"
                                    "  use_tb_logger: true\n  wandb:\n    project: ~\n",
        }, "present", "training options switch the TensorBoard logger on", fires=True),
        Example({
            "config.yaml": "train:\n  epochs: 3\nuse_wandb: false\n",
        }, "absent", "a tracker switched off", fires=False),
        Example({
            "config/mistral.yml": "base_model: mistralai/Mistral-7B-v0.1\nnum_epochs: 3\nwandb_project: sql-qa\nwandb_entity:\n",
        }, "present", "an axolotl training config names its W&B project", fires=True),
        Example({
            "config/mistral.yml": "base_model: mistralai/Mistral-7B-v0.1\nnum_epochs: 3\nwandb_project:\nwandb_entity:\n",
        }, "absent", "the W&B project left empty", fires=False),
    )

    def check(self, facts):
        for f in facts.glob("dvc.yaml"):
            if in_example_dir(f.path):
                continue
            doc = facts.config(f.path)
            data = doc.data if doc is not None and isinstance(doc.data, dict) else {}
            found = []
            for key in ("metrics", "plots"):
                if data.get(key):
                    found.append((key, None))
            stages = data.get("stages") if isinstance(data.get("stages"), dict) else {}
            for name, st in stages.items():
                if isinstance(st, dict):
                    for key in ("metrics", "plots"):
                        if st.get(key):
                            found.append((key, name))
            for key, stage in found[:4]:
                line = facts.line_of(f.path, rf"^\s*{key}:", regex=True)
                where = f"stage {stage}" if stage else "the pipeline"
                yield self.found("supports", f.path, line, f"{where} declares DVC {key}, kept and compared per experiment")
        ci = set(facts.ci_files)
        for doc in facts.yaml_docs():
            if doc.path in ci or in_example_dir(doc.path) or PurePosixPath(doc.path).name in ("dvc.yaml", "dvc.lock"):
                continue
            hit = _tracker_setting(doc.docs)
            if hit:
                key, value = hit
                yield self.found("supports", doc.path, facts.line_of(doc.path, str(value)),
                                 f"`{key}: {value}` sends training runs to a tracker")
        for f in facts.glob("MLproject", "MLproject.yaml", "MLproject.yml"):
            if not in_example_dir(f.path):
                yield self.found("partial", f.path, 1,
                                 "MLproject: `mlflow run` records runs and their parameters; metrics need logging calls")


def _tracker_setting(docs):
    stack = list(docs)
    seen = 0
    while stack and seen < 5000:
        node = stack.pop()
        seen += 1
        if isinstance(node, dict):
            for k, v in node.items():
                key = str(k)
                if key in ("_target_", "class_path", "type") and isinstance(v, str) and TRACKER_TARGET.search(v):
                    return key, v
                if key in SWITCHES and v is True:   # BasicSR/MMCV-style options: `use_tb_logger: true`
                    return key, "true"
                if key in PROJECT_KEYS and isinstance(v, str) and v.strip():
                    return key, v
                if key in ("report_to", "log_with", "logger", "loggers", "tracker", "experiment_tracker"):
                    vals = v if isinstance(v, list) else [v]
                    for x in vals:
                        if isinstance(x, str) and (TRACKER_VALUE.match(x.strip()) or key == "report_to" and x == "all"):
                            return key, x
                stack.append(v)
        elif isinstance(node, list):
            stack.extend(node[:500])
    return None
