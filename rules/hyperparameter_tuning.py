from __future__ import annotations

from mlscan.facts.configs import strip_dot_slash

import re
import shlex
from typing import Dict, List, Optional, Tuple

from mlscan.rulekit import Example, Rule
from mlscan.rules._lifecycle import calls_named, cell, where

# (tool, pattern on the library name of a call)
TUNERS: Tuple[Tuple[str, "re.Pattern[str]"], ...] = tuple((tool, re.compile(rx)) for tool, rx in (
    ("Optuna", r"^optuna(_integration)?\.(.*\.)?(create_study|load_study|OptunaSearchCV)(\(\)\.optimize)?$"),
    ("Ray Tune", r"^ray\.tune\.(.*\.)?(Tuner|run|run_experiments|TuneSearchCV)(\(\)\.fit)?$"),
    ("Hyperopt", r"^hyperopt\.(.*\.)?fmin$"),
    ("scikit-learn search", r"^sklearn\.model_selection\.(.*\.)?(GridSearchCV|RandomizedSearchCV|HalvingGridSearchCV|"
                            r"HalvingRandomSearchCV|ParameterGrid|ParameterSampler)$"),
    ("scikit-optimize", r"^skopt\.(.*\.)?(BayesSearchCV|gp_minimize|forest_minimize|gbrt_minimize|dummy_minimize)$"),
    ("tune-sklearn", r"^tune_sklearn\.(.*\.)?(TuneSearchCV|TuneGridSearchCV)$"),
    ("Keras Tuner", r"^(keras_tuner|kerastuner)\.(.*\.)?(RandomSearch|Hyperband|BayesianOptimization|GridSearch|"
                    r"SklearnTuner|Tuner)$"),
    ("W&B sweeps", r"^wandb\.(sweep|agent|controller)$"),
    ("NNI", r"^nni\.(get_next_parameter|report_final_result|experiment\.Experiment|Experiment)$"),
    ("Ax", r"^ax\.(.*\.)?(AxClient|optimize|Client)$"),
    ("Nevergrad", r"^nevergrad\.(.*\.)?optimizers\.\w+$"),
    ("SageMaker tuning", r"^sagemaker\.(.*\.)?HyperparameterTuner$"),
    ("Vertex AI tuning", r"^google\.cloud\.aiplatform\.(.*\.)?HyperparameterTuningJob$"),
    ("Azure ML sweep", r"^azure\.ai\.ml\.(.*\.)?sweep$"),
    ("ClearML HPO", r"^clearml\.automation\.(.*\.)?HyperParameterOptimizer$"),
    ("Comet optimizer", r"^comet_ml\.(.*\.)?Optimizer$"),
    ("transformers hyperparameter_search", r"^(transformers|setfit)\..*\.hyperparameter_search$"),
    ("FLAML", r"^flaml\.(.*\.)?(tune\.run|AutoML)$"),
    ("PyCaret tune_model", r"^pycaret\.(.*\.)?tune_model$"),
    ("Syne Tune", r"^syne_tune\.(.*\.)?Tuner$"),
))
ROOTS = {"optuna", "optuna_integration", "ray", "hyperopt", "sklearn", "skopt", "tune_sklearn", "keras_tuner",
         "kerastuner", "wandb", "nni", "ax", "nevergrad", "sagemaker", "google", "azure", "clearml", "comet_ml",
         "transformers", "setfit", "flaml", "pycaret", "syne_tune"}
ATTRS = {"create_study", "load_study", "OptunaSearchCV", "optimize", "Tuner", "run", "run_experiments", "fit", "fmin",
         "GridSearchCV", "RandomizedSearchCV", "HalvingGridSearchCV", "HalvingRandomSearchCV", "ParameterGrid",
         "ParameterSampler", "BayesSearchCV", "gp_minimize", "forest_minimize", "gbrt_minimize", "dummy_minimize",
         "TuneSearchCV", "TuneGridSearchCV", "RandomSearch", "Hyperband", "BayesianOptimization", "GridSearch",
         "SklearnTuner", "sweep", "agent", "controller", "get_next_parameter", "report_final_result", "Experiment",
         "AxClient", "Client", "HyperparameterTuner", "HyperparameterTuningJob", "HyperParameterOptimizer",
         "Optimizer", "hyperparameter_search", "AutoML", "tune_model"}
SWEEP_METHODS = {"grid", "random", "bayes"}
_TUNER_COMMAND = re.compile(r"(?:^|[\s;&|!])(wandb)\s+(?:sweep|agent)\b|(?:^|[\s;&|!])(nnictl)\s+create\b")
_CONFIG_HINT = re.compile(r"(?m)^\s*(method|sweeper|searchSpace\w*|tuner|algorithm)\s*:|hydra/sweeper")


class HyperparametersTunedWithATuner(Rule):
    """Hyperparameters are searched with a tuner

    Looks for hyperparameter search: Optuna studies, Ray Tune (`Tuner`, `tune.run`), Hyperopt
    `fmin`, scikit-learn `GridSearchCV`/`RandomizedSearchCV`/`Halving*SearchCV`/`ParameterGrid`,
    scikit-optimize, Keras Tuner, W&B sweeps (`wandb.sweep`/`wandb.agent` or a sweep config with
    `method: grid|random|bayes` and `parameters:`), Hydra sweepers (`hydra/sweeper` configs or a
    `--multirun` command), NNI, Ax, Nevergrad, SageMaker `HyperparameterTuner`, Vertex AI tuning
    jobs, Azure ML sweeps, ClearML and Comet optimizers, transformers `hyperparameter_search`,
    FLAML and PyCaret `tune_model`. Names are resolved through imports, so a comment or a
    variable called `study` is not a tuner. A search in project code or notebooks supports the
    practice; one shown only under examples/, docs/ or tutorials/ is partial. Tests are ignored.
    """

    id = "hyperparameter-search"
    practice = "hyperparameter-tuning"
    examples = (
        Example({
            "src/tune.py": "import optuna\nfrom sklearn.ensemble import RandomForestClassifier\n"
                           "from sklearn.model_selection import cross_val_score\n\n"
                           "def objective(trial):\n    depth = trial.suggest_int('max_depth', 2, 16)\n"
                           "    return cross_val_score(RandomForestClassifier(max_depth=depth), X, y).mean()\n\n"
                           "if __name__ == '__main__':\n    study = optuna.create_study(direction='maximize')\n"
                           "    study.optimize(objective, n_trials=50)\n",
        }, "present", "an Optuna study", fires=True),
        Example({
            "train.py": "from sklearn.model_selection import GridSearchCV as Search\nfrom sklearn.svm import SVC\n"
                        "Search(SVC(), {'C': [0.1, 1, 10]}, cv=5).fit(X, y)\n",
        }, "present", "an aliased GridSearchCV"),
        Example({
            "sweep.yaml": "program: train.py\nmethod: bayes\nmetric:\n  name: val_loss\n  goal: minimize\n"
                          "parameters:\n  lr:\n    min: 0.0001\n    max: 0.1\n",
            "train.py": "import wandb\nwandb.init()\n",
        }, "present", "a W&B sweep configuration", fires=True),
        Example({
            "train.py": "# TODO: try optuna for the study of learning rates\nfrom sklearn.svm import SVC\n"
                        "study = {'C': 1.0}\nSVC(C=study['C']).fit(X, y)\n",
        }, "absent", "a comment and a variable named study are not a tuner", fires=False),
        Example({
            "train.py": "from sklearn.svm import SVC\nSVC(C=1.0).fit(X, y)\n",
            "examples/search.py": "from sklearn.model_selection import RandomizedSearchCV\n"
                                  "from sklearn.svm import SVC\nRandomizedSearchCV(SVC(), {'C': [1, 10]}).fit(X, y)\n",
        }, "partial", "a search only in an example", fires=True),
    )

    def check(self, facts):
        found: Dict[Tuple[str, str], Tuple[str, int, str]] = {}   # (where, tool) -> first (path, line, text)
        for idx, call, name in calls_named(facts, ROOTS, lambda c: c.attr in ATTRS or "optimizers" in c.name):
            tool = _tool(name)
            if tool:
                found.setdefault((where(idx.path), tool), (idx.path, call.line, f"{name}{cell(facts, idx.path, call.line)}"))
        for tool, path, line, what in self._configs(facts):
            found.setdefault((where(path), tool), (path, line, what))
        project = sorted((k, v) for k, v in found.items() if k[0] != "example")
        for (_, tool), (path, line, what) in project[:6]:
            yield self.found("supports", path, line, f"{what}: hyperparameters searched with {tool}")
        if project:
            return
        for (_, tool), (path, line, what) in sorted(found.items())[:3]:
            yield self.found("partial", path, line, f"{what}: {tool} search shown only in illustrative code")

    # ---- configuration files and commands ----------------------------------------------------
    def _configs(self, facts) -> List[Tuple[str, str, int, str]]:
        out: List[Tuple[str, str, int, str]] = []
        for path in facts.config_files:
            if not path.endswith((".yaml", ".yml")):
                continue
            text = facts.text(path) or ""
            if not _CONFIG_HINT.search(text):
                continue
            doc = facts.config(path)
            for d in doc.mappings() if doc else []:
                got = _config_tuner(d)
                if got:
                    tool, key = got
                    out.append((tool, path, facts.line_of(path, key), f"{path}"))
                    break
        hydra_apps = {idx.path for idx in facts.non_test_code()
                      if any(d.startswith("hydra.main") for df in idx.defs.values() for d in df.decorators)}
        commands = [(p, line, cmd) for p, line, cmd in facts.shell_commands]
        for job in facts.ci_jobs:
            for step in job.steps:
                if isinstance(step.run, str):
                    commands.extend((job.path, step.line, c) for c in step.run.splitlines())
        for idx in facts.notebooks:
            commands.extend((idx.path, line, c) for c, line in idx.shell_lines)
        for path, line, cmd in commands:
            m = _TUNER_COMMAND.search(cmd)
            if m:
                tool = "W&B sweeps" if m.group(1) == "wandb" else "NNI"
                out.append((tool, path, line, f"`{cmd.strip().lstrip('!%')[:60]}`{cell(facts, path, line)}"))
            elif _multirun(cmd, hydra_apps):
                out.append(("a Hydra multirun sweep", path, line, f"`{cmd.strip()[:60]}`"))
        return out


def _tool(name: str) -> Optional[str]:
    for tool, rx in TUNERS:
        if rx.match(name):
            return tool
    return None


def _config_tuner(d: dict) -> Optional[Tuple[str, str]]:
    """(tool, key to point at) for a tuner configuration document."""
    method = d.get("method")
    if isinstance(method, str) and method.lower() in SWEEP_METHODS and isinstance(d.get("parameters"), dict):
        return "a W&B sweep configuration", "method:"
    hydra = d.get("hydra")
    if isinstance(hydra, dict) and isinstance(hydra.get("sweeper"), dict) and \
            (hydra["sweeper"].get("params") or hydra["sweeper"].get("_target_") or hydra["sweeper"].get("search_space")):
        return "a Hydra sweeper", "sweeper:"
    defaults = d.get("defaults")
    if isinstance(defaults, list):
        for item in defaults:
            keys = list(item) if isinstance(item, dict) else [item] if isinstance(item, str) else []
            if any(isinstance(k, str) and "hydra/sweeper" in k for k in keys):
                return "a Hydra sweeper", "hydra/sweeper"
    if ("searchSpace" in d or "searchSpaceFile" in d) and ("tuner" in d or "trialCommand" in d):
        return "an NNI experiment", "tuner" if "tuner" in d else "searchSpace"
    api = str(d.get("apiVersion", ""))
    if d.get("kind") == "Experiment" and api.startswith("kubeflow.org") and isinstance(d.get("spec"), dict) \
            and d["spec"].get("algorithm"):
        return "a Katib experiment", "algorithm:"
    return None


def _multirun(cmd: str, hydra_apps) -> bool:
    if "--multirun" in cmd:
        return True
    if " -m" not in cmd:
        return False
    try:
        tokens = shlex.split(cmd, comments=True)
    except ValueError:
        return False
    for i, t in enumerate(tokens):
        if t.endswith(".py") and strip_dot_slash(t) in hydra_apps and "-m" in tokens[i + 1:]:
            return True
    return False
