from __future__ import annotations

import functools
import re
from typing import Dict, Optional, Tuple

from mlscan.facts.calltable import calls_in_scopes
from mlscan.facts.pycode import NOT_LITERAL
from mlscan.rulekit import Example, Rule, ignorecase_search
from mlscan.rules._mlcode import in_example_dir, in_exploration_dir, pipeline_nodes
from mlscan.rules._ops import serving_nodes
from mlscan.rules._vocab import FIT_ATTRS

TRACKER_ROOTS = {
    "mlflow": "MLflow", "wandb": "Weights & Biases", "neptune": "Neptune", "neptune_client": "Neptune",
    "comet_ml": "Comet", "aim": "Aim", "dvclive": "DVCLive", "clearml": "ClearML", "trains": "ClearML",
    "tensorboardX": "TensorBoard", "tensorboard": "TensorBoard", "tensorboard_logger": "TensorBoard",
    "sacred": "Sacred", "guild": "Guild AI", "polyaxon": "Polyaxon", "mlrun": "MLRun", "swanlab": "SwanLab",
}
# tracker names inside other libraries' integration modules (ray.air.integrations.mlflow, lightning loggers, ...)
TRACKER_WORDS = (("mlflow", "MLflow"), ("wandb", "Weights & Biases"), ("neptune", "Neptune"), ("comet", "Comet"),
                 ("dvclive", "DVCLive"), ("clearml", "ClearML"), ("tensorboard", "TensorBoard"),
                 ("summarywriter", "TensorBoard"), ("aimlogger", "Aim"), ("aimcallback", "Aim"),
                 ("setup_tb_logging", "TensorBoard"), ("setup_plx_logging", "Polyaxon"))   # Ignite's common.setup_*_logging
REPORT_TO_KWARGS = ("report_to", "log_with")
TF_SUMMARY = re.compile(r"^tensorflow\.(?:compat\.v\d\.)?(?:contrib\.)?summary\.")
# the last name of a call that records something: runs, parameters, metrics, artefacts
WRITES = re.compile(r"(?i)^(log(?!in|out)\w*|init\w*|start\w*|autolog|watch|add_\w+|track\w*|report\w*|finish|end_run|end|"
                    r"set_tags?|set_experiment\w*|save\w*|upload\w*|define_metric|create_experiment|create_run|"
                    r"create_file_writer|scalar|histogram|image|text|audio|flush|write|update|use_artifact|artifact|"
                    r"table|live|next_step|make_report|start_logging|tensorboard|summarywriter|setup_\w+_logging)$|"
                    r"(logger|callback|writer|run|experiment|task)$")
# other platforms' run-tracking APIs, by name prefix
TRACKER_PREFIXES = (
    (re.compile(r"^azureml\.core\.(run\.)?(Run|Experiment)\b"), "Azure ML run tracking"),
    (re.compile(r"^sagemaker\.experiments\b"), "SageMaker Experiments"),
    (re.compile(r"^clu\.metric_writers\b"), "TensorBoard"),   # Google's clu: TensorBoard summaries and hparams (acc11)
    (re.compile(r"^google\.cloud\.aiplatform\.(start_run|end_run|log_\w+|autolog|start_execution)\b"),
     "Vertex AI Experiments"),
)


def writes(name: str) -> bool:
    """Whether a tracker call records something (a run, parameters, metrics, artefacts), judged by its
    last name: `mlflow.log_metric` does, `mlflow.search_runs` and `MlflowClient().get_run` only read."""
    if "=...)" in name:  # report_to=/log_with= picks the trackers a trainer logs to
        return True
    last = name.split(".")[-1].replace("()", "").replace("[]", "")
    return bool(WRITES.search(last))


# imports that name a tracker (then every call of the file is looked at) ...
_TRACKER_IMPORT = re.compile(r"(?i)mlflow|wandb|neptune|comet|\baim\b|dvclive|clearml|\btrains\b|tensorboard|sacred|"
                             r"guild|polyaxon|mlrun|swanlab|\bclu\b|azureml|sagemaker\.experiments|aiplatform")
# ... otherwise only calls whose own name or keywords hint at one
_CALL_HINT = re.compile(r"(?i)mlflow|wandb|neptune|comet|dvclive|clearml|tensorboard|summary|loggers|logger$|"
                        r"callback$|writer$|aim|setup_(tb|plx)_logging|metric_writers")


def candidate_calls(facts, idx) -> list:
    """The calls of one file that can reach a tracker (a cheap prefilter, cached per file)."""
    cache = facts.memo("tracking-candidates", dict)
    got = cache.get(idx.path)
    if got is None:
        if any(_tracker_import(f"{r.module}.{r.name or ''}") for r in idx.imports):
            got = list(idx.calls)
        else:
            hinted = facts.call_table.named(_call_hint).get(idx.path, [])
            report_to = facts.call_table.with_keyword(*REPORT_TO_KWARGS).get(idx.path)
            if report_to:
                keep = {id(c) for c in hinted} | {id(c) for c in report_to}
                hinted = [c for c in idx.calls if id(c) in keep]
            got = hinted
        cache[idx.path] = got
    return got


@functools.lru_cache(maxsize=65536)
def _tracker_import(name: str) -> bool:
    return bool(_TRACKER_IMPORT.search(name))


_call_hint = ignorecase_search(_CALL_HINT)


def tracker_of(facts, idx, call) -> Optional[Tuple[str, str]]:
    """(tool, library name) when `call` sends runs, parameters or metrics to an experiment tracker."""
    memo = facts.memo("tracker-of-name", dict)
    memo_key = (idx.path, call.name)
    by_name = memo.get(memo_key, memo)
    if by_name is memo:
        by_name = memo[memo_key] = _tracker_of_name(facts, idx, call.name)
    if by_name is _UNRESOLVED:   # None or _BY_KEYWORDS: which one matters only to a call passing report_to=/log_with=
        if not call.kwargs or not any(call.has_kwarg(key) for key in REPORT_TO_KWARGS):
            return None
        by_name = memo[memo_key] = _resolved(facts, idx, facts.external_name(idx, call.name), None, _BY_KEYWORDS)
    if by_name is not _BY_KEYWORDS:
        return by_name
    if not call.kwargs:
        return None
    name = facts.external_name(idx, call.name)
    root = name.split(".", 1)[0].replace("()", "").replace("[]", "")
    for key in REPORT_TO_KWARGS:
        value = call.kwarg(key)
        if value is None or not call.has_kwarg(key):
            continue
        values = value if isinstance(value, tuple) else (value,)
        named = [v for v in values if isinstance(v, str) and v != NOT_LITERAL and v.lower() not in ("none", "")]
        if value == NOT_LITERAL:
            value = object()  # chosen at run time
        if named or (not isinstance(value, (str, tuple)) and value is not None and root in ("transformers", "accelerate", "trl")):
            return (", ".join(named) if named else f"trackers chosen at run time via {key}="), f"{name}({key}=...)"
    return None


_BY_KEYWORDS = ("", "")  # the name alone says nothing: the call's report_to=/log_with= may
_UNRESOLVED = ("", "?")  # None or _BY_KEYWORDS, as `_resolved` decides when a call needs to know


def _tracker_of_name(facts, idx, call_name: str):
    """tracker_of's judgement on the call's name alone (None: not a tracker call, whatever its keywords)."""
    name = facts.external_name(idx, call_name)
    held = _held_tracker(idx, name)
    if held is not None:
        return held
    if name.startswith("?"):
        return None
    library = _tracker_library(name)
    word = _tracker_word(name) if library is None else None
    if word is _BY_KEYWORDS:
        return _UNRESOLVED   # the names most calls have: resolved only for a call with report_to=/log_with=
    return _resolved(facts, idx, name, library, word)


def _resolved(facts, idx, name: str, library, word):
    """The rest of `_tracker_of_name`, which looks the name up in the repo's own code."""
    if facts.graph.resolve_name(idx.path, name) is not None:
        return None  # the repo's own wrapper: its body is looked at on its own
    if library is not None:
        return library
    if facts.graph.resolve_module(None, _root_of(name)) is not None:
        return None  # the repo's own package (`fastapi_mlflow._mlflow_types...`): a name, not a tracker
    return word


# acc6b: a tracker module kept on an object (`import wandb; self._wandb = wandb; self._wandb.init(...)`)
HELD_TRACKERS = {"wandb", "mlflow", "neptune", "comet_ml", "clearml"}


def _held_tracker(idx, name: str):
    """(tool, name) for a call through an attribute that holds a tracker module the file imports."""
    parts = [p.replace("()", "").replace("[]", "") for p in name.split(".")]
    for p in parts[1:-1]:
        root = p.lstrip("_")
        if root in HELD_TRACKERS and root in idx.imported_roots:
            return TRACKER_ROOTS[root], name
    return None


def _root_of(name: str) -> str:
    return name.split(".", 1)[0].replace("()", "").replace("[]", "")


@functools.lru_cache(maxsize=65536)
def _tracker_library(name: str):
    """(tool, name) when the name is a tracker library's own, else None."""
    parts = [p.replace("()", "").replace("[]", "") for p in name.split(".")]
    root = parts[0]
    for rx, tool in TRACKER_PREFIXES:
        if rx.match(name):
            return tool, name
    if root in TRACKER_ROOTS:
        return TRACKER_ROOTS[root], name
    if TF_SUMMARY.match(name):
        return "TensorBoard", name
    if root in ("pytorch_lightning", "lightning") and "loggers" in [p.lower() for p in parts]:
        return "a Lightning logger", name
    return None


@functools.lru_cache(maxsize=65536)
def _tracker_word(name: str):
    """(tool, name) when a part after the first names a tracker (`self.writer.add_scalar`), else _BY_KEYWORDS."""
    low = [p.replace("()", "").replace("[]", "").lower() for p in name.split(".")]
    for word, tool in TRACKER_WORDS:
        if any(word in p and "trace_handler" not in p for p in low[1:]):
            return tool, name
    return _BY_KEYWORDS


class TrackingWiredIntoTraining(Rule):
    """Training runs log to an experiment tracker

    Looks for calls into experiment trackers: MLflow, Weights & Biases, Neptune, Comet, Aim, DVCLive,
    ClearML, Sacred, TensorBoard writers (`torch.utils.tensorboard.SummaryWriter`, `tf.summary`, the
    Keras `TensorBoard` callback, `clu.metric_writers`), Lightning loggers, Ignite's `common.setup_tb_logging`,
    integrations such as Ray's
    `MLflowLoggerCallback`, and `report_to=`/`log_with=` in transformers/accelerate. Names are
    resolved through imports, the repo's own re-exports (`from pkg.config import mlflow`) and
    optional-import fallbacks (`try: import wandb / except ImportError: wandb = None`).

    A call that records something (a run, parameters, metrics, artefacts: `log_*`, `init`,
    `start_run`, `autolog`, loggers, callbacks, writers) in code that a training entry point - a
    training script, or a notebook or secondary script that trains - or a declared dvc.yaml/MLproject
    stage reaches supports the practice. Lightning's `CSVLogger` alone is partial: metrics go to a
    local CSV file, not to a tracker. So are TensorBoard scalars alone (`SummaryWriter`, `tf.summary`,
    the Keras `TensorBoard` callback) when the run records none of its settings beside them - no
    `add_hparams`, no config or arguments dumped or copied into the run (`yaml.dump(args, f)`): curves
    in a local folder that cannot say which settings made them. So is a tracker used only in notebooks when the project also
    has a scripted training entry point that records no runs, and a tracker the training uses only
    to store its model (`mlflow.log_model`, `register_model`) with no parameter or metric logged.
    Partial: training code that only reads from a tracker
    (`search_runs`, registry look-ups), and tracking only elsewhere - a notebook that trains nothing,
    serving code, or code under examples/, docs/ or tutorials/ - since runs of the project's own
    training are then not recorded. But a tracker that records both parameters and metrics of runs
    (`log_params` and `log_metric`, `wandb.init(config=...)` and `wandb.log`, `autolog`) in the project's
    own code outside examples, notebooks and exploration folders supports the practice even when no
    detected entry point reaches it (an evaluation or tuning stage, a model class's methods); code that
    a serving endpoint runs logs requests, not runs, unless it trains. A tracker that is only listed in the requirements is a hint,
    not evidence, and says nothing. Test code is ignored.
    """

    id = "tracking-calls"
    practice = "experiment-tracking"
    examples = (
        Example({
            "train.py": "import mlflow\nfrom sklearn.linear_model import LogisticRegression\n\n"
                        "def main():\n    with mlflow.start_run():\n        clf = LogisticRegression(C=1.0)\n"
                        "        clf.fit([[0], [1]], [0, 1])\n        mlflow.log_metric('acc', clf.score([[0], [1]], [0, 1]))\n\n"
                        "if __name__ == '__main__':\n    main()\n",
        }, "present", "MLflow logging inside the training script", fires=True),
        Example({
            "src/loggers.py": "try:\n    import wandb\nexcept ImportError:\n    wandb = None\n\n"
                              "def log(metrics):\n    if wandb is not None:\n        wandb.log(metrics)\n",
            "src/train.py": "import torch\nfrom src.loggers import log\n\n"
                            "def main():\n    model = torch.nn.Linear(2, 1)\n    loss = model(torch.zeros(1, 2)).sum()\n"
                            "    loss.backward()\n    log({'loss': loss.item()})\n\n"
                            "if __name__ == '__main__':\n    main()\n",
        }, "present", "an optional W&B import in a helper the training calls", fires=True),
        Example({
            "train.py": "from sklearn.linear_model import LogisticRegression\nclf = LogisticRegression()\n"
                        "clf.fit([[0], [1]], [0, 1])\nprint('accuracy', clf.score([[0], [1]], [0, 1]))\n",
            "requirements.txt": "scikit-learn==1.4.0\nmlflow==2.10.0\n",
        }, "absent", "mlflow in the requirements only; metrics are printed", fires=False),
        Example({
            "train.py": "from sklearn.linear_model import LogisticRegression\nclf = LogisticRegression()\n"
                        "clf.fit([[0], [1]], [0, 1])\n",
            "examples/with_mlflow.py": "import mlflow\n\nmlflow.autolog()\nmlflow.log_param('C', 1.0)\n",
        }, "partial", "tracking shown only in an example, the project's own training logs nothing", fires=True),
        Example({
            "train.py": "import pytorch_lightning as pl\nfrom pytorch_lightning.loggers import CSVLogger\n\n\n"
                        "def main(model, data):\n    trainer = pl.Trainer(logger=CSVLogger('logs'), max_epochs=3)\n"
                        "    trainer.fit(model, data)\n\n\nif __name__ == '__main__':\n    main(None, None)\n",
        }, "partial", "a Lightning CSVLogger alone: metrics in a local CSV file", fires=True),
        Example({
            "fastapi_mlflow/__init__.py": "",
            "fastapi_mlflow/_mlflow_types.py": "MLFLOW_SIGNATURE_TO_PYTHON = {'double': float, 'string': str}\n",
            "fastapi_mlflow/predictors.py": "from fastapi_mlflow._mlflow_types import MLFLOW_SIGNATURE_TO_PYTHON\n\n\n"
                                            "def python_type(name):\n    return MLFLOW_SIGNATURE_TO_PYTHON.get(name)\n",
            "train.py": "from sklearn.svm import SVC\nSVC().fit([[0], [1]], [0, 1])\n",
        }, "absent", "a package of the repo named after MLflow is not MLflow", fires=False),
        Example({
            "notebooks/explore.ipynb": '{"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": '
                                       '["import mlflow\\n", "from sklearn.linear_model import Ridge\\n", '
                                       '"with mlflow.start_run():\\n", "    m = Ridge().fit([[0], [1]], [0, 1])\\n", '
                                       '"    mlflow.log_metric(\'r2\', 0.5)\\n"]}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
            "src/training.py": "import json\nfrom sklearn.linear_model import Ridge\n\n\ndef train():\n"
                               "    m = Ridge().fit([[0], [1]], [0, 1])\n    json.dump({'alpha': 1.0}, open('meta.json', 'w'))\n\n\n"
                               "if __name__ == '__main__':\n    train()\n",
        }, "partial", "MLflow only in an exploration notebook; the scripted training writes a metadata file", fires=True),
        Example({
            "train.py": "import mlflow\nfrom prophet import Prophet\n\n\ndef train(df):\n    mlflow.set_experiment('stores')\n"
                        "    with mlflow.start_run():\n        m = Prophet().fit(df)\n        mlflow.prophet.log_model(m, 'model')\n\n\n"
                        "if __name__ == '__main__':\n    train(None)\n",
        }, "partial", "MLflow runs that only store the model: no parameters or metrics", fires=True),
        Example({
            "train.py": "import torch\nfrom torch.utils.tensorboard import SummaryWriter\n\n\n"
                        "def main():\n    writer = SummaryWriter('runs')\n    model = torch.nn.Linear(2, 1)\n"
                        "    opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
                        "    for step in range(3):\n        loss = model(torch.zeros(1, 2)).sum()\n"
                        "        loss.backward()\n        opt.step()\n"
                        "        writer.add_scalar('loss', loss.item(), step)\n\n\n"
                        "if __name__ == '__main__':\n    main()\n",
        }, "partial", "TensorBoard scalars alone: no settings recorded with the run", fires=True),
        Example({
            "train.py": "import argparse\nimport os\nimport yaml\nimport torch\nfrom torch.utils.tensorboard import SummaryWriter\n\n\n"
                        "def main():\n    p = argparse.ArgumentParser()\n    p.add_argument('--lr', type=float, default=0.1)\n"
                        "    args = p.parse_args()\n    writer = SummaryWriter('runs/exp1')\n"
                        "    with open(os.path.join(writer.log_dir, 'config.yml'), 'w') as f:\n        yaml.dump(vars(args), f)\n"
                        "    model = torch.nn.Linear(2, 1)\n    opt = torch.optim.SGD(model.parameters(), lr=args.lr)\n"
                        "    loss = model(torch.zeros(1, 2)).sum()\n    loss.backward()\n    opt.step()\n"
                        "    writer.add_scalar('loss', loss.item(), 0)\n\n\n"
                        "if __name__ == '__main__':\n    main()\n",
        }, "present", "TensorBoard scalars with the run's arguments saved in its log folder", fires=True),
        Example({
            "train.py": "import torch\nfrom clu import metric_writers\n\n\n"
                        "def main(config, workdir):\n    writer = metric_writers.create_default_writer(workdir)\n"
                        "    writer.write_hparams(config)\n    model = torch.nn.Linear(2, 1)\n"
                        "    opt = torch.optim.SGD(model.parameters(), lr=config['lr'])\n"
                        "    loss = model(torch.zeros(1, 2)).sum()\n    loss.backward()\n    opt.step()\n"
                        "    writer.write_scalars(0, {'loss': loss.item()})\n\n\n"
                        "if __name__ == '__main__':\n    main({'lr': 0.1}, 'runs')\n",
        }, "present", "clu metric writers: TensorBoard summaries with the config as hparams", fires=True),
        Example({
            "train.py": "import torch\nfrom clu import platform\n\n\n"
                        "def main():\n    platform.work_unit().set_task_status('training')\n"
                        "    model = torch.nn.Linear(2, 1)\n"
                        "    opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
                        "    loss = model(torch.zeros(1, 2)).sum()\n    loss.backward()\n    opt.step()\n\n\n"
                        "if __name__ == '__main__':\n    main()\n",
        }, "absent", "clu's platform status is not a tracker", fires=False),
        Example({
            "utils.py": "class WandbLogger:\n    def __init__(self, args):\n        import wandb\n        self._wandb = wandb\n"
                        "        self._wandb.init(config=args)\n\n    def log(self, metrics):\n        self._wandb.log(metrics)\n",
            "train.py": "import torch\nfrom utils import WandbLogger\n\n\n"
                        "def main():\n    logger = WandbLogger({'lr': 0.1})\n    model = torch.nn.Linear(2, 1)\n"
                        "    opt = torch.optim.SGD(model.parameters(), lr=0.1)\n    loss = model(torch.zeros(1, 2)).sum()\n"
                        "    loss.backward()\n    opt.step()\n    logger.log({'loss': loss.item()})\n\n\n"
                        "if __name__ == '__main__':\n    main()\n",
        }, "present", "W&B kept on a logger object the training uses", fires=True),
        Example({
            "train.py": "import torch\n\n\nclass Settings:\n    def __init__(self, cfg):\n        self.wandb = cfg\n\n\n"
                        "def main():\n    s = Settings({'project': 'x'})\n    print(s.wandb.get('project'))\n"
                        "    model = torch.nn.Linear(2, 1)\n    opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
                        "    loss = model(torch.zeros(1, 2)).sum()\n    loss.backward()\n    opt.step()\n\n\n"
                        "if __name__ == '__main__':\n    main()\n",
        }, "absent", "an attribute named wandb holding settings, in a file that never imports wandb", fires=False),
        Example({
            "utils.py": "from ignite.contrib.engines import common\n\n\ndef setup_exp_logging(config, trainer, optimizer, evaluators):\n"
                        "    return common.setup_tb_logging(config.output_dir, trainer, optimizer, evaluators, 1)\n",
            "main.py": "import yaml\nfrom ignite.engine import Engine\nfrom utils import setup_exp_logging\n\n\n"
                       "def run(config, model, optimizer):\n    trainer = Engine(lambda e, b: model(b).sum().backward())\n"
                       "    (config.output_dir / 'config-lock.yaml').write_text(yaml.dump(config))\n"
                       "    setup_exp_logging(config, trainer, optimizer, {})\n    trainer.run([], max_epochs=1)\n\n\n"
                       "if __name__ == '__main__':\n    run(None, None, None)\n",
        }, "present", "Ignite's setup_tb_logging, with the run's config written to its output folder", fires=True),
        Example({
            "main.py": "from ignite.contrib.engines import common\nfrom ignite.engine import Engine\n\n\n"
                       "def run(model, optimizer):\n    trainer = Engine(lambda e, b: model(b).sum().backward())\n"
                       "    common.setup_tb_logging('runs', trainer, optimizer, {}, 1)\n    trainer.run([], max_epochs=1)\n\n\n"
                       "if __name__ == '__main__':\n    run(None, None)\n",
        }, "partial", "Ignite's setup_tb_logging alone: TensorBoard curves without the run's settings", fires=True),
        Example({
            "train.py": "import joblib\nfrom sklearn.linear_model import Ridge\n\n\ndef main():\n"
                        "    m = Ridge(alpha=1.0).fit([[0], [1]], [0, 1])\n    joblib.dump(m, 'model.pkl')\n\n\n"
                        "if __name__ == '__main__':\n    main()\n",
            "src/components/model_evaluation.py": "import joblib\nimport mlflow\n\n\nclass ModelEvaluation:\n"
                                                  "    def __init__(self, params):\n        self.params = params\n\n"
                                                  "    def log_into_mlflow(self, X, y):\n        model = joblib.load('model.pkl')\n"
                                                  "        with mlflow.start_run():\n            mlflow.log_params(self.params)\n"
                                                  "            mlflow.log_metric('r2', model.score(X, y))\n",
        }, "present", "an evaluation stage logs the run's parameters and metrics to MLflow; no entry point is detected "
                      "to reach it (r14)", fires=True),
        Example({
            "train.py": "import joblib\nfrom sklearn.linear_model import Ridge\n\n\ndef main():\n"
                        "    m = Ridge(alpha=1.0).fit([[0], [1]], [0, 1])\n    joblib.dump(m, 'model.pkl')\n\n\n"
                        "if __name__ == '__main__':\n    main()\n",
            "app.py": "import joblib\nimport mlflow\nfrom fastapi import FastAPI\n\napp = FastAPI()\n"
                      "model = joblib.load('model.pkl')\n\n\n@app.post('/predict')\ndef predict(x: float):\n"
                      "    with mlflow.start_run():\n        mlflow.log_param('model', 'ridge')\n"
                      "        y = float(model.predict([[x]])[0])\n        mlflow.log_metric('prediction', y)\n"
                      "    return {'y': y}\n",
        }, "partial", "MLflow logs each prediction in serving code: requests, not training runs (r14)", fires=True),
    )

    def check(self, facts):
        from mlscan.facts.repo import is_test_path
        graph = facts.graph
        core: Dict[Tuple[str, str], Tuple[bool, int, str]] = {}
        results = False   # some call records parameters, metrics or a whole run, not only a model file
        nodes = pipeline_nodes(facts)
        scopes = graph.scopes_in(nodes)
        for path in sorted(scopes):
            idx = facts.code.get(path)
            if idx is None or is_test_path(path) or in_example_dir(path):
                continue
            wanted = scopes[path]
            for call in calls_in_scopes(candidate_calls(facts, idx), wanted):
                got = tracker_of(facts, idx, call)
                if got:
                    _keep(core, (idx.path, got[0]), (writes(got[1]), call.line, got[1]))
                    results = results or (writes(got[1]) and not _model_only(got[1]))
        logged = {k: v for k, v in core.items() if v[0]}
        tracked = {k: v for k, v in logged.items() if not _local_file_logger(v[2])}
        if tracked and not results:   # an MLflow run that only stores the model: a registry, not a record of the run
            for (path, tool), (_, line, name) in sorted(tracked.items())[:4]:
                yield self.found("partial", path, line, f"{name}: the training stores its model in {tool} but logs no "
                                                        f"parameters or metrics{_cell(facts, path, line)}")
            return
        if tracked and all(tool == "TensorBoard" for _, tool in tracked) and not _records_settings(facts, scopes):
            for (path, tool), (_, line, name) in sorted(tracked.items())[:4]:
                yield self.found("partial", path, line, f"{name}: the training writes TensorBoard scalars to a local "
                                                        f"log folder but records none of the run's settings with them "
                                                        f"(no add_hparams, no config saved with the run){_cell(facts, path, line)}")
            return
        scripted = _untracked_scripted_training(facts, {path for path, _ in tracked})
        for (path, tool), (_, line, name) in sorted(tracked.items())[:8]:
            if scripted:   # the notebook is an experiment; the project's own training records no runs
                yield self.found("partial", path, line, f"{name}: only a notebook logs to {tool}{_cell(facts, path, line)}; "
                                                        f"the scripted training ({scripted}) records no runs")
            else:
                yield self.found("supports", path, line, f"{name}: the training logs to {tool}{_cell(facts, path, line)}")
        if tracked:
            return
        for (path, tool), (_, line, name) in sorted(logged.items())[:4]:
            yield self.found("partial", path, line, f"{name}: the training logs metrics to local CSV files only, "
                                                    f"not to an experiment tracker{_cell(facts, path, line)}")
        if logged:
            return
        for (path, tool), (_, line, name) in sorted(core.items())[:4]:
            yield self.found("partial", path, line, f"{name}: the training reads from {tool} but records no runs"
                                                    f"{_cell(facts, path, line)}")
        if core:
            return
        other: Dict[Tuple[str, str], Tuple[bool, int, str]] = {}
        recorded: Dict[str, Dict[str, Tuple[str, int, str]]] = {}   # tool -> "params"/"metrics" -> first call
        serving = graph.scopes_in(graph.code_reach_all(serving_nodes(facts)))
        for idx in facts.non_test_code():
            own = not (in_example_dir(idx.path) or in_exploration_dir(idx.path) or idx.path.endswith(".ipynb"))
            # code a serving endpoint runs logs requests, not runs, unless it trains itself (a /train endpoint)
            served = {id(c) for c in calls_in_scopes(idx.calls, serving[idx.path])} if idx.path in serving else set()
            training = {c.scope for c in idx.calls if c.attr in TRAIN_ATTRS} if served else set()
            for call in candidate_calls(facts, idx):
                got = tracker_of(facts, idx, call)
                if got:
                    _keep(other, (idx.path, got[0]), (writes(got[1]), call.line, got[1]))
                    if own and got[0] in RUN_TRACKERS and (id(call) not in served or call.scope in training):
                        for kind in _run_record_kinds(call, got[1]):
                            recorded.setdefault(got[0], {}).setdefault(kind, (idx.path, call.line, got[1]))
        # r14: the project's own code records runs (parameters and metrics) in a tracker, in a stage that no
        # detected training entry point reaches (an evaluation or tuning step, a class the pipeline builds)
        for tool, kinds in sorted(recorded.items()):
            if "params" in kinds and "metrics" in kinds:
                (ppath, pline, pname), (mpath, mline, mname) = kinds["params"], kinds["metrics"]
                yield self.found("supports", ppath, pline,
                                 f"{pname} and {mname} ({mpath}:{mline}): the project's code records runs' parameters "
                                 f"and metrics in {tool}{_cell(facts, ppath, pline)}")
                return
        for (path, tool), (_, line, name) in sorted(other.items())[:8]:
            where = "illustrative code" if in_example_dir(path) else "code that no training entry point reaches"
            yield self.found("partial", path, line, f"{name} uses {tool}, but only in {where}{_cell(facts, path, line)}")


# r14: trackers that keep a run's parameters beside its metrics (TensorBoard curves alone are partial, above)
RUN_TRACKERS = {"MLflow", "Weights & Biases", "Neptune", "Comet", "ClearML", "Aim", "DVCLive", "Azure ML run tracking",
                "SageMaker Experiments", "Vertex AI Experiments", "SwanLab", "Sacred", "Guild AI", "Polyaxon", "MLRun"}
TRAIN_ATTRS = FIT_ATTRS | {"train", "train_model"}   # a serving handler that trains (`manager.train(...)`)
_PARAM_CALLS = {"log_param", "log_params", "log_hyperparams", "log_parameters", "log_parameter", "connect"}
_METRIC_CALLS = {"log_metric", "log_metrics", "log", "log_row", "log_scalar", "report_scalar"}


def _run_record_kinds(call, name: str) -> Tuple[str, ...]:
    """What a tracker call records of a run: ("params",), ("metrics",), both (autolog) or nothing."""
    last = name.split(".")[-1].replace("()", "")
    if last == "autolog" or name.endswith(".autolog()"):
        return ("params", "metrics")
    if last in _PARAM_CALLS or (last == "update" and ".config." in f".{name}."):
        return ("params",)
    if last == "init" and call.has_kwarg("config"):
        return ("params",)
    if last in _METRIC_CALLS:
        return ("metrics",)
    return ()


# tracker calls that set a run up or store a model, but record neither parameters nor metrics
_MODEL_ONLY = {"log_model", "save_model", "register_model", "set_experiment", "set_tracking_uri", "set_registry_uri",
               "start_run", "end_run", "create_experiment", "get_experiment_by_name", "set_tag", "set_tags",
               "create_registered_model", "create_model_version", "transition_model_version_stage",
               "set_registered_model_alias", "log_artifact", "log_artifacts", "start_run()", "MlflowClient"}


# acc6b: a run's settings recorded beside its TensorBoard curves: hyperparameters given to the writer, or the
# run's config/arguments dumped or copied into its output (`yaml.dump(args, f)`, `shutil.copy(cfg.config_path, out)`)
SETTINGS_CALLS = {"add_hparams", "log_hyperparams", "save_hyperparameters", "hparams", "write_hparams"}
SETTINGS_DUMPS = {"dump", "safe_dump", "save", "copy", "copyfile", "copy2", "add_text", "text"}
SETTINGS_NAME = re.compile(r"(?i)(^|[._])(config|configs|cfg|conf|args|opt|opts|options|hparams?|hyp|hyps|params|"
                           r"hyperparam\w*|flags|kwargs|settings)([._]|$)")


def _records_settings(facts, scopes) -> bool:
    """Whether code the training reaches records the run's settings with it (hyperparameters handed to
    the writer, or the config or arguments dumped or copied into the run's output)."""
    for path in sorted(scopes):
        idx = facts.code.get(path)
        if idx is None:
            continue
        calls = calls_in_scopes(idx.calls, scopes[path])
        for call in calls:
            if call.attr in SETTINGS_CALLS:
                return True
            if call.attr in SETTINGS_DUMPS and call.name.lstrip("?").split(".")[0] in SETTINGS_ROOTS:
                # the dumped value, also when wrapped in another call on the line (`yaml.dump(vars(args), f)`)
                names = [n for c in calls if c.line == call.line and c.scope == call.scope for n in (*c.arg_names, *c.refs)]
                if any(SETTINGS_NAME.search(n) or "parse_args" in n for n in names):
                    return True
    return False


# libraries whose dump/copy/text call writes a file or a summary (not `torch.save` of a checkpoint)
SETTINGS_ROOTS = {"yaml", "json", "omegaconf", "OmegaConf", "toml", "shutil", "tensorflow", "tf", "writer", "self",
                  "ruamel", "hydra", "ml_collections"}


def _model_only(name: str) -> bool:
    return name.split(".")[-1].replace("()", "") in _MODEL_ONLY


def _untracked_scripted_training(facts, tracked_paths) -> str:
    """A scripted training entry point (not a notebook, test or example) when every tracker call is in
    notebooks: the path of the first such script, else ""."""
    from mlscan.facts.repo import is_test_path
    if not tracked_paths or not all(p.endswith(".ipynb") for p in tracked_paths):
        return ""
    for ep in facts.graph.primary_training_entry_points:
        path = ep.target.split(":")[1]
        if not path.endswith(".ipynb") and not is_test_path(path) and not in_example_dir(path):
            return path
    return ""


def _local_file_logger(name: str) -> bool:
    """Lightning's CSVLogger writes metrics.csv next to the checkpoints: a run record, not a tracker."""
    return name.split(".")[-1].replace("()", "") == "CSVLogger"


def _keep(table, key, value) -> None:
    """Keep one call per (file, tracker): the first that records something, else the first."""
    old = table.get(key)
    if old is None or (value[0] and not old[0]):
        table[key] = value


def _cell(facts, path: str, line: int) -> str:
    idx = facts.code.get(path)
    cell = idx.cell_of(line) if idx is not None else None
    return f" (cell {cell})" if cell else ""
