from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Dict, List, Set, Tuple

from mlscan.facts.pycode import NOT_LITERAL
from mlscan.rulekit import Example, Rule
from mlscan.rules._mlcode import in_example_dir, ranked, strong_hyperparameters, training_code_nodes
from mlscan.rules._vocab import CONFIG_MODULE, ENV_READS
from mlscan.rules.config_files import reads_config_files

SETTINGS_BASES = ("pydantic_settings.BaseSettings", "pydantic.BaseSettings", "pydantic.v1.BaseSettings",
                  "pydantic_settings.main.BaseSettings")
PATHLIKE = re.compile(r"[/\\]|\.\w{1,5}$|^(s3|gs|https?|file|azureml|dbfs)://")
MIN_SETTINGS = 3
CONFIG_CLASS = re.compile(r"(Config|Configuration|Settings|Params|HParams|Hyperparameters|Args|Arguments|Options)$")
MIN_RUN_SETTINGS = 2
# settings of the infrastructure around a run (credentials, endpoints, storage, logging, service
# knobs) and a library's fallback values: none of them configures what is trained
INFRA_SETTING = re.compile(r"(?i)(key|secret|token|passw|(^|_)user(name)?(_|$)|ur[il]$|host|port$|region|bucket|"
                           r"endpoint|dsn|database|(^|_)db(_|$)|account|credential|profile|log_?level|debug|"
                           r"(^|_)env(ironment)?$|tracking|work_?pool|cors|origins?$|timeout|workers|interval|frequency|"
                           r"(^|_)(aws|gcp|gcs|azure|s3|minio|supabase|mlflow|prefect|wandb|api)_|^default_|"
                           # where runs are logged and models registered: the tracker's settings, not the run's
                           r"(^|_)experiment(_name|_id)?$|registry)")


def _settings_of(facts, path: str) -> Tuple[List[str], List[str]]:
    """(non-path settings bound to literals, environment variables read) in one module."""
    names = []
    for a in facts.literal_assignments(path):
        v = a.value
        if v is None or v is NOT_LITERAL or isinstance(v, bool) and a.name.startswith("_"):
            continue
        if isinstance(v, str) and PATHLIKE.search(v):
            continue  # paths are locations, not settings
        names.append(a.name.rsplit(".", 1)[-1])
    env = []
    idx = facts.code.get(path)
    for call in facts.call_table.named(_env_read, roots=[n.split(".")[0] for n in ENV_READS]).get(path, ()) if idx is not None else []:
        if call.name in ENV_READS and call.args and isinstance(call.args[0], str):
            env.append(call.args[0])
    return names, env


def _mapping_hyperparameters(facts, path: str) -> Dict[str, Tuple[str, int]]:
    """Hyperparameter -> (dotted entry, line) of the dict literals a module binds
    (`MODEL_CONFIG = {"params": {"n_estimators": 100}}`); a library's `DEFAULT_*` tables excluded."""
    idx = facts.code.get(path)
    out: Dict[str, Tuple[str, int]] = {}
    for dotted, value, line in getattr(idx, "mapping_entries", ()) if idx is not None else ():
        if dotted.split(".", 1)[0].lower().startswith("default") or value is None or isinstance(value, bool) \
                or isinstance(value, str) and PATHLIKE.search(value):
            continue
        key = dotted.rsplit(".", 1)[-1]
        for hp in strong_hyperparameters([key]):
            out.setdefault(hp, (dotted, line))
    return out


class CentralConfigModule(Rule):
    """Settings live in one configuration module the code imports

    A central configuration module is configuration management in Python: a `config.py` /
    `settings.py` / `constants.py` (or `conf/`, `params.py`...) module, a dataclass config, or a
    pydantic `BaseSettings` class that reads its values from environment variables, imported by
    the project's other modules. One holding hyperparameters (two or more) that it fills from config
    files (`yaml.safe_load`, `OmegaConf.load`) supports the practice; one whose hyperparameters are
    edited in the module itself, with no per-run file, is partial (round 12: 5 labels partial, 2 yes);
    one holding other settings only (model names, feature lists, thresholds, environment
    variables: three or more) that training code imports is partial: a few values externalised.
    A module of paths only, one nothing imports, settings only a service or library reads, or
    settings that are all infrastructure (credentials, endpoints, buckets, ports, log levels) or a
    library's `DEFAULT_` fallbacks say nothing about the training's configuration, unless the
    module also reads configuration files. Hyperparameters kept in the module's dict literals
    (`MODEL_CONFIG = {"rf": {"n_estimators": 100}}`) that training imports are partial, like a
    config class's parameter defaults: edited in code, not set per run.
    """

    id = "config-module"
    practice = "config-management"
    examples = (
        Example({
            "src/config.py": "MODEL_NAME = 'distilbert-base-uncased'\nLEARNING_RATE = 3e-5\nBATCH_SIZE = 16\nEPOCHS = 3\n",
            "src/train.py": "from src import config\n\n\ndef main():\n"
                            "    return config.MODEL_NAME, config.LEARNING_RATE * config.BATCH_SIZE * config.EPOCHS\n",
        }, "partial", "a constants module with hyperparameters, edited in place, imported by training", fires=True),
        Example({
            "src/config.py": "import yaml\nfrom dataclasses import dataclass\n\n\n@dataclass\nclass TrainConfig:\n"
                             "    learning_rate: float = 3e-5\n    batch_size: int = 16\n    epochs: int = 3\n\n\n"
                             "def load(path):\n    return TrainConfig(**yaml.safe_load(open(path)))\n",
            "src/train.py": "import sys\nfrom src import config\n\n\ndef main():\n    cfg = config.load(sys.argv[1])\n"
                            "    return cfg.learning_rate * cfg.batch_size * cfg.epochs\n",
        }, "present", "a config class filled from a per-run YAML file", fires=True),
        Example({
            "app/settings.py": "from pydantic_settings import BaseSettings\n\n\nclass Settings(BaseSettings):\n"
                               "    model_name: str = 'churn-xgb'\n    threshold: float = 0.5\n    top_k: int = 5\n"
                               "    log_level: str = 'INFO'\n",
            "app/main.py": "from app.settings import Settings\n\nsettings = Settings()\n",
            "train.py": "from app.settings import Settings\nfrom sklearn.linear_model import LogisticRegression\n\n"
                        "s = Settings()\nLogisticRegression().fit([[0], [1]], [0, 1])\n",
        }, "partial", "a BaseSettings class with run settings, no hyperparameters, read by training", fires=True),
        Example({
            "app/settings.py": "from pydantic_settings import BaseSettings\n\n\nclass Settings(BaseSettings):\n"
                               "    api_key_header: str = 'X-API-Key'\n    cors_origins: str = '*'\n    log_level: str = 'INFO'\n",
            "app/main.py": "from app.settings import Settings\n\nsettings = Settings()\n",
            "train.py": "from sklearn.linear_model import LogisticRegression\nLogisticRegression().fit([[0], [1]], [0, 1])\n",
        }, "absent", "service settings that training never reads", fires=False),
        Example({
            "project/config.py": "import os\nTARGET = os.getenv('TARGET', 'churn')\nMODEL = os.getenv('MODEL', 'rf')\n"
                                 "N_FOLDS = os.getenv('N_FOLDS', '5')\n",
            "project/pipeline.py": "from project.config import TARGET, MODEL, N_FOLDS\n"
                                   "from sklearn.linear_model import LogisticRegression\n\n"
                                   "if __name__ == '__main__':\n    print(TARGET, MODEL, N_FOLDS)\n"
                                   "    LogisticRegression().fit([[0], [1]], [0, 1])\n",
        }, "partial", "settings read from environment variables in one module", fires=True),
        Example({
            "src/config.py": "from pathlib import Path\nDATA_DIR = 'data/raw'\nMODELS_DIR = 'models/'\nREPORTS = 'reports/figures'\n",
            "src/train.py": "from src.config import DATA_DIR, MODELS_DIR\nprint(DATA_DIR, MODELS_DIR)\n",
        }, "absent", "a config module of paths only", fires=False),
        Example({
            "config.py": "LEARNING_RATE = 3e-4\nBATCH_SIZE = 32\nEPOCHS = 5\n",
            "train.py": "LEARNING_RATE = 1e-3\nprint(LEARNING_RATE)\n",
        }, "absent", "a config module that nothing imports", fires=False),
        Example({
            "src/mlflow_config.py": "import os\n\nENVIRONMENT = os.getenv('ENVIRONMENT', 'local')\n"
                                    "MLFLOW_TRACKING_URI = os.getenv('MLFLOW_TRACKING_URI', 'http://localhost:5000')\n"
                                    "EXPERIMENT_NAME = 'churn-classification'\nMODEL_REGISTRY_NAME = 'churn-model'\n",
            "src/train.py": "import mlflow\nfrom sklearn.linear_model import LogisticRegression\n"
                            "from src.mlflow_config import EXPERIMENT_NAME, MLFLOW_TRACKING_URI\n\n"
                            "mlflow.set_tracking_uri(MLFLOW_TRACKING_URI)\nmlflow.set_experiment(EXPERIMENT_NAME)\n"
                            "LogisticRegression(max_iter=500).fit([[0], [1]], [0, 1])\n",
        }, "absent", "a tracker's config module (tracking URI, experiment and registry names) configures no run",
            fires=False),
        Example({
            "config.py": "import os\nMLFLOW_TRACKING_URI = os.getenv('MLFLOW_TRACKING_URI')\n"
                         "AWS_ACCESS_KEY_ID = os.getenv('AWS_ACCESS_KEY_ID')\nS3_BUCKET_NAME = os.getenv('S3_BUCKET_NAME')\n"
                         "MONITORING_PORT = os.getenv('MONITORING_PORT', '8000')\n",
            "train.py": "import config\nfrom sklearn.linear_model import LogisticRegression\n\n"
                        "print(config.MLFLOW_TRACKING_URI)\nLogisticRegression(C=0.5).fit([[0], [1]], [0, 1])\n",
        }, "absent", "credentials, endpoints and buckets only: infrastructure, not the run's configuration", fires=False),
        Example({
            "mylib/config.py": "DEFAULT_RANDOM_STATE = 42\nDEFAULT_N_JOBS = -1\nDEFAULT_IMPUTE_STRATEGY = 'mean'\n",
            "mylib/supervised.py": "from mylib.config import DEFAULT_N_JOBS\nfrom sklearn.linear_model import LogisticRegression\n\n"
                                   "def fit(X, y, n_jobs=DEFAULT_N_JOBS):\n    return LogisticRegression(n_jobs=n_jobs).fit(X, y)\n\n"
                                   "if __name__ == '__main__':\n    fit([[0], [1]], [0, 1])\n",
        }, "absent", "a library's DEFAULT_ fallbacks for its arguments", fires=False),
        Example({
            "constants.py": "import os\nMLFLOW_TRACKING_URI = os.getenv('MLFLOW_TRACKING_URI')\nBUCKET_NAME = 'models'\n"
                            "SEED = 42\nTEST_SIZE = 0.2\n",
            "train.py": "from constants import SEED, TEST_SIZE\nfrom sklearn.linear_model import LogisticRegression\n\n"
                        "print(SEED, TEST_SIZE)\nLogisticRegression().fit([[0], [1]], [0, 1])\n",
        }, "partial", "beside the endpoints, the run's seed and split live in the module", fires=True),
        Example({
            "proj/settings/config.py": "class Config:\n    _config = None\n\n    @classmethod\n"
                                       "    def get(cls, model='deberta-v3-xsmall', num_train_epochs=3, batch_size=8,\n"
                                       "            learning_rate=2e-5):\n        if cls._config is None:\n"
                                       "            cls._config = cls()\n        return cls._config\n",
            "main.py": "from proj.settings.config import Config\n\nif __name__ == '__main__':\n"
                       "    print(Config.get())\n",
        }, "partial", "a config singleton whose factory takes the hyperparameters as defaults", fires=True),
        Example({
            "src/config/settings.py": "DATA_CONFIG = {'target_column': 'y', 'test_size': 0.2}\n"
                                      "MODEL_CONFIG = {'models': {'rf': {'params': {'n_estimators': 100, 'max_depth': 6}},\n"
                                      "                           'lr': {'params': {'max_iter': 1000}}}}\n",
            "src/train.py": "from sklearn.ensemble import RandomForestClassifier\n"
                            "from src.config.settings import MODEL_CONFIG\n\n"
                            "if __name__ == '__main__':\n"
                            "    RandomForestClassifier(**MODEL_CONFIG['models']['rf']['params']).fit([[0], [1]], [0, 1])\n",
        }, "partial", "hyperparameters in a settings module's dict literals, edited in code", fires=True),
        Example({
            "src/config.py": "LABELS = {'cat': 0, 'dog': 1}\nDEFAULT_PARAMS = {'n_estimators': 100, 'max_depth': 6}\n",
            "src/train.py": "from sklearn.ensemble import RandomForestClassifier\nfrom src.config import LABELS\n\n"
                            "if __name__ == '__main__':\n    RandomForestClassifier().fit([[0], [1]], [0, 1])\n",
        }, "absent", "a label map and a library's DEFAULT_ table are not the run's hyperparameters", fires=False),
        Example({
            "proj/config.py": "def train(lr, epochs, batch_size):\n    return lr * epochs * batch_size\n",
            "main.py": "from proj.config import train\n\nif __name__ == '__main__':\n    print(train(0.1, 2, 3))\n",
        }, "absent", "a function that takes hyperparameters is not a config class", fires=False),
    )

    def check(self, facts):
        candidates = self._candidates(facts)
        if not candidates:
            return
        importers = self._importers(facts, set(candidates))
        # settings other than hyperparameters count only when training reads them (not a service's or a library's)
        training = {n.split(":")[1] for n in training_code_nodes(facts)}
        shown = 0
        for path in sorted(candidates, key=lambda p: (-len(importers.get(p, ())), p)):
            users = importers.get(path)
            if not users or shown >= 2:
                continue
            line, what = candidates[path]
            names, env = _settings_of(facts, path)
            hps = strong_hyperparameters(names + env)
            user, user_line = sorted(users)[0]
            more = f" and {len(users) - 1} more module(s)" if len(users) > 1 else ""
            if len(hps) >= 2 and reads_config_files(facts, path):
                shown += 1
                yield self.found("supports", path, line, f"central config module: {what} holds hyperparameters "
                                                         f"({ranked(hps)}) and fills them from config files, "
                                                         f"imported by {user}:{user_line}{more}")
            elif len(hps) >= 2:   # r12: edited in place, no per-run config file (the 352's labels: partial 5, yes 2)
                shown += 1
                yield self.found("partial", path, line, f"central config module: {what} holds hyperparameters "
                                                        f"({ranked(hps)}), imported by {user}:{user_line}{more}; "
                                                        f"edited in the module, not set per run by a config file")
            elif self._config_class_parameters(facts, path):
                shown += 1
                qual, params = self._config_class_parameters(facts, path)
                yield self.found("partial", path, facts.code[path].defs[qual].line,
                                 f"central config class: {qual} in {path} takes the hyperparameters ({ranked(params)}) "
                                 f"as parameter defaults, imported by {user}:{user_line}{more}; edited in code, "
                                 f"not per-run config files")
            elif any(u in training for u, _ in users) and len(entries := _mapping_hyperparameters(facts, path)) >= 2:
                shown += 1
                dicts = sorted({dotted.split(".", 1)[0] for dotted, _ in entries.values()})
                yield self.found("partial", path, min(line for _, line in entries.values()),
                                 f"central config module: {path} keeps hyperparameters ({ranked(set(entries))}) in "
                                 f"dict literals ({', '.join(dicts[:3])}), imported by {user}:{user_line}{more}; "
                                 f"edited in code, not per-run config files")
            elif any(u in training for u, _ in users) and self._configures_runs(facts, path, names, env):
                shown += 1
                source = f"{len(set(env))} environment variables" if len(env) >= len(names) else f"{len(set(names))} settings"
                sample = ", ".join(sorted(set(env) if len(env) >= len(names) else set(names))[:4])
                yield self.found("partial", path, line, f"central config module: {what} keeps {source} ({sample}), "
                                                        f"imported by {user}:{user_line}{more}; no hyperparameters in it")

    @staticmethod
    def _config_class_parameters(facts, path: str):
        """(method, hyperparameters) of a config class (`Config.get(cls, lr=3e-4, epochs=5, ...)`,
        `Settings.__init__`) whose constructor or factory takes two or more hyperparameters."""
        idx = facts.code.get(path)
        for qual, d in sorted(idx.defs.items()) if idx is not None else ():
            cls, _, method = qual.rpartition(".")
            if d.kind != "function" or "." in cls or not CONFIG_CLASS.search(cls) or \
                    not (method in ("__init__", "get", "create", "load", "default") or method.startswith("from_")):
                continue
            hps = strong_hyperparameters(d.params)
            if len(hps) >= 2:
                return qual, hps
        return None

    @staticmethod
    def _configures_runs(facts, path: str, names: List[str], env: List[str]) -> bool:
        """Enough settings, and some of them about the run (a seed, a split, features, a model name),
        not only credentials, endpoints and service knobs - unless the module reads config files."""
        every = set(names) | set(env)
        if len(every) < MIN_SETTINGS:
            return False
        if len({n for n in every if not INFRA_SETTING.search(n)}) >= MIN_RUN_SETTINGS:
            return True
        return reads_config_files(facts, path)

    @staticmethod
    def _candidates(facts) -> Dict[str, Tuple[int, str]]:
        from mlscan.facts.repo import is_test_path
        out: Dict[str, Tuple[int, str]] = {}
        for idx in facts.non_test_code():
            if idx.path.endswith(".ipynb") or in_example_dir(idx.path) or is_test_path(idx.path):
                continue
            for d in idx.defs.values():
                if d.kind == "class" and any(b in SETTINGS_BASES for b in d.bases):
                    out[idx.path] = (d.line, f"settings class {d.qualname}(BaseSettings) in {idx.path}")
                    break
            else:
                if CONFIG_MODULE.search(str(PurePosixPath(idx.path).with_suffix(""))):
                    out[idx.path] = (1, idx.path)
        return out

    @staticmethod
    def _importers(facts, targets: Set[str]) -> Dict[str, Set[Tuple[str, int]]]:
        graph = facts.graph
        out: Dict[str, Set[Tuple[str, int]]] = {}
        for idx in facts.non_test_code():
            for ref in idx.imports:
                full = f"{ref.module}.{ref.name}" if ref.name else ref.module
                node = graph.resolve_name(idx.path, full) or (graph.resolve_name(idx.path, ref.module) if ref.module else None)
                target = node.split(":")[1] if node else None
                if target in targets and target != idx.path:
                    out.setdefault(target, set()).add((idx.path, ref.line))
        return out


def _env_read(name: str) -> bool:
    return name in ENV_READS
