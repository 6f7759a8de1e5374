from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Dict, List, Set, Tuple

from mlscan.facts.pycode import NOT_LITERAL
from mlscan.rulekit import Example, Rule
from mlscan.rules._mlcode import in_example_dir, ranked, strong_hyperparameters, training_code_nodes
from mlscan.rules._vocab import CONFIG_MODULE

SETTINGS_BASES = ("pydantic_settings.BaseSettings", "pydantic.BaseSettings", "pydantic.v1.BaseSettings",
                  "pydantic_settings.main.BaseSettings")
ENV_READS = {"os.getenv", "os.environ.get", "os.environ.__getitem__", "environs.Env", "decouple.config"}
PATHLIKE = re.compile(r"[/\\]|\.\w{1,5}$|^(s3|gs|https?|file|azureml|dbfs)://")
MIN_SETTINGS = 3


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


class CentralConfigModule(Rule):
    """Settings live in one configuration module the code imports

    A central configuration module is configuration management in Python: a `config.py` /
    `settings.py` / `constants.py` (or `conf/`, `params.py`...) module, a dataclass config, or a
    pydantic `BaseSettings` class that reads its values from environment variables, imported by
    the project's other modules. One holding hyperparameters (two or more) supports the practice;
    one holding other settings only (model names, feature lists, thresholds, environment
    variables: three or more) that training code imports is partial: a few values externalised.
    A module of paths only, one nothing imports, or settings only a service or library reads
    (API keys, CORS origins, library defaults) say nothing about the training's configuration.
    """

    id = "config-module"
    practice = "config-management"
    examples = (
        Example({
            "src/config.py": "MODEL_NAME = 'distilbert-base-uncased'\nLEARNING_RATE = 3e-5\nBATCH_SIZE = 16\nEPOCHS = 3\n",
            "src/train.py": "from src import config\n\n\ndef main():\n"
                            "    return config.MODEL_NAME, config.LEARNING_RATE * config.BATCH_SIZE * config.EPOCHS\n",
        }, "present", "a constants module with hyperparameters, imported by training", fires=True),
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
            if len(hps) >= 2:
                shown += 1
                yield self.found("supports", path, line, f"central config module: {what} holds hyperparameters "
                                                         f"({ranked(hps)}), imported by {user}:{user_line}{more}")
            elif len(set(names)) + len(set(env)) >= MIN_SETTINGS and any(u in training for u, _ in users):
                shown += 1
                source = f"{len(set(env))} environment variables" if len(env) >= len(names) else f"{len(set(names))} settings"
                sample = ", ".join(sorted(set(env) if len(env) >= len(names) else set(names))[:4])
                yield self.found("partial", path, line, f"central config module: {what} keeps {source} ({sample}), "
                                                        f"imported by {user}:{user_line}{more}; no hyperparameters in it")

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
