from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Dict, List, Optional, Set, Tuple

from mlscan.rulekit import Example, Rule
from mlscan.rules._vocab import CONFIG_MODULE
from mlscan.rules._mlcode import flatten_keys, in_example_dir, training_code_nodes, ranked, strong_hyperparameters

LOADERS = {
    "yaml.safe_load", "yaml.load", "yaml.full_load", "yaml.unsafe_load", "yaml.safe_load_all", "yaml.load_all",
    "json.load", "toml.load", "tomllib.load", "tomli.load", "omegaconf.OmegaConf.load", "hydra.compose",
    "hydra.initialize", "hydra.initialize_config_dir", "hydra.initialize_config_module", "dvc.api.params_show",
    "gin.parse_config_file", "gin.parse_config_files_and_bindings", "mmcv.Config.fromfile", "mmengine.Config.fromfile",
    "mmengine.config.Config.fromfile", "hyperpyyaml.load_hyperpyyaml", "ml_collections.config_flags.DEFINE_config_file",
    "configparser.ConfigParser().read", "ruamel.yaml.YAML().load", "srsly.read_yaml", "srsly.read_json",
}
LOADER_ATTRS = {"merge_from_file", "fromfile", "from_yaml", "from_yaml_file", "from_json_file", "parse_yaml_file",
                "parse_json_file", "load_hyperpyyaml", "params_show",
                "parse_args_and_config"}   # TRL's TrlParser: dataclass arguments from a --config YAML recipe
_ATTRS = {n.rsplit(".", 1)[-1] for n in LOADERS} | LOADER_ATTRS | {"main", "exec", "execfile", "run_path"}
# loaders that run a Python config file named at run time: exec/runpy, ml_collections/absl `DEFINE_config_file`
PY_CONFIG_RUNNERS = ("exec", "runpy.run_path", "execfile")
# folders of recorded run outputs, not inputs
OUTPUT_DIRS = {"artifacts", "mlruns", "wandb", "outputs", "output", "runs", "checkpoints", "logs", "lightning_logs",
               "multirun", "results", ".dvc", "node_modules", ".github", "site-packages", ".venv", "venv",
               "catboost_info", "mlartifacts", "tb_logs", "tensorboard"}
NOT_CONFIG_NAMES = re.compile(r"(?i)^(dvc\.lock|package(-lock)?\.json|tsconfig.*|\.pre-commit.*|docker-compose.*|compose\.ya?ml|"
                              r"mkdocs\.ya?ml|environment\.ya?ml|conda\.ya?ml|meta\.ya?ml|mlmodel|.*\.dvc|"
                              r"devcontainer\.json|renovate\.json|codecov\.ya?ml|\.readthedocs\.ya?ml|citation\.cff|"
                              r"_toctree\.ya?ml|pyproject\.toml|setup\.cfg|tox\.ini|cookiecutter\.json|"
                              r".*(vocab|encoder|tokenizer|merges|labels?|classes|class_map|label_map|id2label)\w*\.json)$")
CONFIGISH = re.compile(r"(?i)(^|[/_.-])(params?|config|configs|conf|cfg|hparams?|hyps?|hyperparam\w*|settings|"
                       r"experiments?|train\w*|recipes?)([/_.-]|$)")
# how long a search runs, not what is trained
SEARCH_BUDGET = re.compile(r"(?i)^(n_|num_)?(trials|evals|max_evals|samples|iter|iterations)$")
HP_SECTIONS = re.compile(r"(?i)^(train|training|trainer|model|optim|optimizer|optimiser|hparams|hyperparameters|"
                         r"hyper_params|params|fit|solver|featurize|features|tune|tuning|search_space)$")


def _widest_mapping(docs) -> int:
    """The number of keys of the largest single mapping in the parsed documents."""
    widest, stack, budget = 0, list(docs), 20000
    while stack and budget > 0:
        node = stack.pop()
        budget -= 1
        if isinstance(node, dict):
            widest = max(widest, len(node))
            stack.extend(v for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend(x for x in node[:100] if isinstance(x, (dict, list)))
    return widest


def config_hyperparameters(docs) -> Set[str]:
    """Hyperparameter keys of a parsed config: known names, plus numeric settings under train/model/... sections.
    A large mapping in which such names are rare (a vocabulary, a label map) is data, not configuration."""
    keys = flatten_keys(docs)
    found = strong_hyperparameters(keys)
    if len(keys) > 150 and len(found) * 20 < len(keys) and _widest_mapping(docs) * 2 > len(keys):
        return set()   # one wide table (a vocabulary, a label map); nested option sections are configuration
    stack = [(d, False) for d in docs]
    seen: Set[int] = set()
    budget = 20000  # nodes: YAML aliases can make a small file an enormous tree
    while stack and len(found) < 200 and budget > 0:
        node, under = stack.pop()
        budget -= 1
        if isinstance(node, (dict, list)):
            if id(node) in seen:
                continue
            seen.add(id(node))
        if isinstance(node, dict):
            for k, v in node.items():
                sec = under or bool(HP_SECTIONS.match(str(k)))
                if under and isinstance(v, (int, float)) and not isinstance(v, bool) and "seed" not in str(k).lower():
                    found.add(str(k))
                stack.append((v, sec))
        elif isinstance(node, list):
            stack.extend((x, under) for x in node[:100])
    return found


# acc10: a file named as the project's configuration (`config.json`, `settings.yaml`, `params.yml`)
CONFIG_FILE_NAME = re.compile(r"(?i)^(\w+[_.-])?(config|configs|conf|cfg|settings|params|parameters)([_.-]\w+)?\.(ya?ml|json|toml|ini|cfg)$")
MIN_RUN_SETTINGS = 2


def _run_settings(docs) -> List[str]:
    """The keys of a parsed config that hold a scalar setting (a number, a flag, a name), paths and
    folders left out: a file of locations configures no run."""
    from mlscan.facts.configs import walk
    out: List[str] = []
    for doc in docs:
        for key, value in walk(doc):
            if key is None or not isinstance(value, (str, int, float, bool)) or str(key) in out or \
                    _LOCATION_KEY.search(str(key)) or isinstance(value, str) and _LOCATION_VALUE.search(value):
                continue
            out.append(str(key))
    return out


_LOCATION_KEY = re.compile(r"(?i)(path|dir|folder|file|url|uri|host|port|bucket|location)s?$")
_LOCATION_VALUE = re.compile(r"[/\\]|\.\w{1,5}$|^(s3|gs|https?|file)://")


def _is_candidate(path: str) -> bool:
    from mlscan.facts.repo import is_test_path
    p = PurePosixPath(path)
    if is_test_path(path) or in_example_dir(path) or NOT_CONFIG_NAMES.match(p.name):
        return False
    return not any(part.lower() in OUTPUT_DIRS for part in p.parts[:-1])


class HyperparametersInConfigFiles(Rule):
    """Training reads its hyperparameters from configuration files

    Looks for hyperparameter configuration that the training actually reads:
    - YAML/TOML/JSON files whose keys are hyperparameters (`lr`, `epochs`, `batch_size`,
      `n_estimators`, numeric settings under `train:`/`model:`...) that training code names
      (`open("params.yaml")`, a default path of a CLI option, a file in the same folder as a
      named one, an absolute path from the author's machine ending in a repo file) or, when it
      calls a config loader
      (`yaml.safe_load`, `OmegaConf.load`, `json.load`...), that sit where configs live
      (`configs/`, `params*.yaml`, `hyp*.yaml`);
    - Hydra (`@hydra.main`, also on a training script the import graph cannot follow to the
      training code, `src/trainer.py` choosing its agent class from the config) and dvc.yaml stage `params:`;
    - config files that a training command passes (`python train.py -opt options/train.yml` in a
      script, Makefile, CI step or a README's shell block), which a framework then reads;
    - Python configuration: `config/*.py` files the training `exec`s (nanoGPT's configurator), or a
      config module the training imports (`from config import LR`, dataclass configs) that fills its
      values from config files; one whose hyperparameters are edited in the module itself, with no
      per-run file, is partial.
    A config file whose only hyperparameter is a search budget (`n_trials`) is partial; one holding
    a single model hyperparameter (`alpha`) supports the practice, and literals elsewhere in the
    training are config-hardcoded's gaps; one holding only paths,
    recorded run outputs (mlruns/, artifacts/, outputs/) and CI files are not hyperparameter
    configuration and say nothing.
    """

    id = "config-files"
    practice = "config-management"
    examples = (
        Example({
            "params.yaml": "train:\n  lr: 0.001\n  epochs: 20\n  batch_size: 32\n",
            "train.py": "import yaml\nimport torch\n\nparams = yaml.safe_load(open('params.yaml'))['train']\n"
                        "model = torch.nn.Linear(2, 1)\nopt = torch.optim.SGD(model.parameters(), lr=params['lr'])\n"
                        "for _ in range(params['epochs']):\n    model(torch.zeros(1, 2)).sum().backward()\n    opt.step()\n",
        }, "present", "params.yaml read by the training script", fires=True),
        Example({
            "trainer/configuration.py": "from dataclasses import dataclass\n\n\n@dataclass\nclass TrainerConfig:\n"
                                        "    learning_rate: float = 1e-3\n    batch_size: int = 32\n    epochs: int = 10\n",
            "train.py": "import torch\nfrom trainer.configuration import TrainerConfig\n\ncfg = TrainerConfig()\n"
                        "model = torch.nn.Linear(2, 1)\nopt = torch.optim.SGD(model.parameters(), lr=cfg.learning_rate)\n"
                        "for _ in range(cfg.epochs):\n    model(torch.zeros(1, 2)).sum().backward()\n    opt.step()\n",
        }, "partial", "a dataclass config edited in place, with no per-run config file", fires=True),
        Example({
            "config/train_small.py": "batch_size = 12\nlearning_rate = 6e-4\nmax_iters = 5000\nn_layer = 4\n",
            "train.py": "import sys\nimport torch\nbatch_size = 64\nlearning_rate = 1e-3\n"
                        "for arg in sys.argv[1:]:\n    exec(open(arg).read())\n"
                        "model = torch.nn.Linear(2, 1)\nmodel(torch.zeros(batch_size, 2)).sum().backward()\n",
        }, "present", "Python config files executed by the training script", fires=True),
        Example({
            "configs/cifar10_ddpm.py": "import ml_collections\n\n\ndef get_config():\n"
                                       "    config = ml_collections.ConfigDict()\n"
                                       "    config.training = training = ml_collections.ConfigDict()\n"
                                       "    training.batch_size = 128\n    training.n_iters = 1300001\n"
                                       "    config.optim = optim = ml_collections.ConfigDict()\n"
                                       "    optim.lr = 2e-4\n    optim.weight_decay = 0\n    return config\n",
            "main.py": "import torch\nfrom absl import app, flags\nfrom ml_collections.config_flags import config_flags\n\n"
                       "FLAGS = flags.FLAGS\nconfig_flags.DEFINE_config_file('config', None, 'Training configuration.')\n\n\n"
                       "def main(argv):\n    cfg = FLAGS.config\n    model = torch.nn.Linear(2, 1)\n"
                       "    opt = torch.optim.Adam(model.parameters(), lr=cfg.optim.lr)\n"
                       "    model(torch.zeros(cfg.training.batch_size, 2)).sum().backward()\n    opt.step()\n\n\n"
                       "if __name__ == '__main__':\n    app.run(main)\n",
        }, "present", "ml_collections Python config files named on the command line (config_flags)", fires=True),
        Example({
            "recipes/sft/config_full.yaml": "model_name_or_path: gpt2\nlearning_rate: 2.0e-05\nnum_train_epochs: 1\n"
                                            "per_device_train_batch_size: 16\ngradient_accumulation_steps: 2\n",
            "scripts/sft.py": "from trl import SFTConfig, SFTTrainer, TrlParser, ModelConfig\n\n\ndef main(training_args, model_args):\n"
                              "    SFTTrainer(model=model_args.model_name_or_path, args=training_args).train()\n\n\n"
                              "if __name__ == '__main__':\n    parser = TrlParser((SFTConfig, ModelConfig))\n"
                              "    training_args, model_args = parser.parse_args_and_config()\n    main(training_args, model_args)\n",
        }, "present", "YAML recipes read by an argument parser's --config (TRL's TrlParser)", fires=True),
        Example({
            "config.yaml": "train_path: data/train.csv\nmodel_path: models/model.pkl\n",
            "train.py": "import yaml\nfrom sklearn.ensemble import RandomForestClassifier\n\n"
                        "cfg = yaml.safe_load(open('config.yaml'))\n"
                        "RandomForestClassifier().fit([[0], [1]], [0, 1])\n",
        }, "absent", "the config file holds only paths", fires=False),
        Example({
            "config.yaml": "data_path: data/train.csv\nn_trials: 20\n",
            "train.py": "import yaml\nimport optuna\nfrom sklearn.ensemble import RandomForestClassifier\n\n"
                        "cfg = yaml.safe_load(open('config.yaml'))\n"
                        "RandomForestClassifier().fit([[0], [1]], [0, 1])\n",
        }, "partial", "a search budget among paths", fires=True),
        Example({
            "parameters.json": '{"training": {"alpha": 0.4}}',
            "train.py": "import json\nfrom sklearn.linear_model import Ridge\n\n"
                        "alpha = json.load(open('parameters.json'))['training']['alpha']\n"
                        "Ridge(alpha=alpha).fit([[0], [1]], [0, 1])\n",
        }, "present", "the model's single hyperparameter read from a parameters file", fires=True),
        Example({
            "training/config/config.json": '{"TEST_SIZE": 0.2, "GRID": {"regressor__max_depth": [8], '
                                           '"regressor__learning_rate": [0.1]}}',
            "training/train.py": "import json\nfrom sklearn.ensemble import RandomForestRegressor\n\n"
                                 "config = json.load(open('/home/me/project/training/config/config.json'))\n"
                                 "RandomForestRegressor().fit([[0], [1]], [0, 1])\n",
        }, "present", "an absolute path from the author's machine ending in the repo's config file; "
                      "pipeline-step parameters (regressor__max_depth)", fires=True),
        Example({
            "yaml/gru.yaml": "training:\n  lr: 0.001\n  epochs: 10\n  batch_size: 32\n",
            "yaml/unet.yaml": "training:\n  lr: 0.0005\n  epochs: 20\n  batch_size: 16\n",
            "train.py": "import argparse\nimport yaml\nimport torch\n\np = argparse.ArgumentParser()\n"
                        "p.add_argument('--config', default='yaml/gru_v2.yaml')\nargs = p.parse_args()\n"
                        "cfg = yaml.safe_load(open(args.config))\nm = torch.nn.Linear(2, 1)\n"
                        "m(torch.zeros(1, 2)).sum().backward()\n",
        }, "present", "a --config default that names a folder of per-experiment YAML files", fires=True),
        Example({
            "conf/base/parameters.yml": "model_options:\n  test_size: 0.2\n  n_estimators: 100\n",
            "src/proj/pipeline.py": "from kedro.pipeline import Pipeline, node\nfrom .nodes import train\n\n"
                                    "def create_pipeline():\n"
                                    "    return Pipeline([node(train, ['X', 'params:model_options'], 'model')])\n",
            "src/proj/nodes.py": "from sklearn.ensemble import RandomForestClassifier\n\n"
                                 "def train(X, options):\n    return RandomForestClassifier(**options).fit(X, X)\n",
        }, "present", "Kedro parameters", fires=True),
        Example({
            "options/train_x4.yml": "name: train_x4\ntrain:\n  ema_decay: 0.999\n  optim_g:\n    type: Adam\n    lr: 0.0001\n"
                                    "  total_iter: 400000\n  warmup_iter: -1\n",
            "facefix/train.py": "import os.path as osp\nfrom basicsr.train import train_pipeline\n\n"
                                "if __name__ == '__main__':\n    train_pipeline(osp.abspath(osp.join(__file__, osp.pardir)))\n",
            "README.md": "# FaceFix\n\n## Training\n\n```bash\npython facefix/train.py -opt options/train_x4.yml --auto_resume\n```\n",
        }, "present", "a framework reads the option file the documented training command passes", fires=True),
        Example({
            "config.json": '{"stock_ticker": "DAI.DE", "outperformance_threshold": 0.01, "test_split_size": 0.2, '
                           '"save_model": true}',
            "main_training.py": "import json\nfrom sklearn.linear_model import LogisticRegression\n\n"
                                "with open('config.json') as f:\n    cfg = json.load(f)\n\nif __name__ == '__main__':\n"
                                "    LogisticRegression(C=0.5).fit([[0], [1]], [0, 1])\n",
        }, "partial", "the training reads its run settings from config.json; the hyperparameters stay in code", fires=True),
        Example({
            "config/model.yaml": "class_path: proj.Model\ninit_args:\n  learning_rate: 5e-4\n  hidden_dim: 64\n  dropout: 0.3\n",
            "scripts/main.py": "from lightning.pytorch.cli import LightningCLI\n\n\ndef main():\n    LightningCLI()\n\n\n"
                               "if __name__ == '__main__':\n    main()\n",
            "README.md": "# TDGU\n\n## Quickstart\n\n```bash\npython scripts/main.py fit --model config/model.yaml\n```\n",
        }, "present", "LightningCLI's fit command reads the model's hyperparameters from a YAML file", fires=True),
        Example({
            "config/breakout_train.yaml": "agent_class: DQNAgent\nlr: 0.00025\nbatch_size: 32\nepochs: 10\n",
            "src/agents.py": "import torch\n\n\nclass DQNAgent:\n    def __init__(self, lr):\n"
                             "        self.net = torch.nn.Linear(4, 2)\n"
                             "        self.opt = torch.optim.Adam(self.net.parameters(), lr=lr)\n\n"
                             "    def train(self, batch):\n        loss = self.net(batch).sum()\n        loss.backward()\n"
                             "        self.opt.step()\n",
            "src/trainer.py": "import importlib\nimport hydra\n\n\n@hydra.main(config_path='../config/', config_name='train')\n"
                              "def trainer(config):\n    agents = importlib.import_module('src.agents')\n"
                              "    agent = getattr(agents, config.agent_class)(config.lr)\n\n\n"
                              "if __name__ == '__main__':\n    trainer()\n",
            "scripts/fit_agent.py": "from src.agents import DQNAgent\n\nif __name__ == '__main__':\n"
                                    "    DQNAgent(0.1).train(None)\n",
        }, "present", "a Hydra training script that picks its agent class from the config at run time", fires=True),
        Example({
            "columns.json": '{"target": "churn", "id": "customer_id", "drop": "notes"}',
            "main_training.py": "import json\nfrom sklearn.linear_model import LogisticRegression\n\n"
                                "cols = json.load(open('columns.json'))\n\nif __name__ == '__main__':\n"
                                "    LogisticRegression(C=0.5).fit([[0], [1]], [0, 1])\n",
        }, "absent", "a column list the training reads is not a configuration file", fires=False),
    )

    def check(self, facts):
        for idx, call in facts.call_table.calls(_kedro_node, facts.non_test_code(), attrs=("node", "Node")):
            kedro_params = _kedro_parameters(facts, call.name, call)
            if kedro_params:
                yield self.found("supports", idx.path, call.line,
                                 f"a Kedro node reads {kedro_params[0]} from the project's parameters files")
                return
        graph = facts.graph
        nodes = training_code_nodes(facts)
        code_paths = sorted({n.split(":")[1] for n in nodes})
        calls = graph.calls_in(nodes)
        loader: Optional[Tuple[str, int, str]] = None
        execs: Optional[Tuple[str, int, str]] = None
        for idx, call in calls:
            if call.attr not in _ATTRS:
                continue
            name = facts.external_name(idx, call.name)
            if name == "hydra.main":
                where = call.kwarg("config_path")
                yield self.found("supports", idx.path, call.line,
                                 f"@hydra.main composes the training configuration"
                                 f"{f' from {where}/' if isinstance(where, str) else ''}")
                return
            if loader is None and (name in LOADERS or call.attr in LOADER_ATTRS and not name.startswith("?")):
                loader = (idx.path, call.line, name)
            if execs is None and (name in PY_CONFIG_RUNNERS or
                                  call.attr == "DEFINE_config_file" and name.startswith(("ml_collections", "absl"))):
                execs = (idx.path, call.line, name)
        hydra = _hydra_entry_point(facts)
        if hydra is not None:
            yield self.found("supports", hydra[0], hydra[1], f"@hydra.main composes the configuration of the {hydra[0]} "
                                                             f"script{f' from {hydra[2]}/' if hydra[2] else ''}")
            return
        got = list(self._files(facts, code_paths, loader))
        direct = [g for g in got if not g[4]]
        chosen = direct or got
        if any(g[0] == "supports" for g in chosen):
            chosen = [g for g in chosen if g[0] == "supports"]
        if not direct and len(chosen) > 1:  # one loader, many config files: say it once
            kind, path, line, msg, _ = chosen[0]
            chosen = [(kind, path, line, f"{msg} and {len(chosen) - 1} more config file(s)", True)]
        for kind, path, line, msg, _ in chosen[:6]:
            yield self.found(kind, path, line, msg)
        for kind, path, line, msg in self._python(facts, code_paths, execs):
            yield self.found(kind, path, line, msg)

    def _files(self, facts, code_paths: List[str], loader):
        dvc_params = _dvc_params(facts)
        seen = set()
        ini = [f.path for f in facts.files if f.suffix in (".ini", ".cfg") and f.size < 256 * 1024
               and f.name not in ("setup.cfg", "tox.ini", "pytest.ini", "mypy.ini", ".flake8", ".coveragerc", "config")]
        named = _named_config_files(facts, code_paths, set(facts.config_files) | set(ini))
        run_with = _configs_on_command_lines(facts, set(facts.config_files))
        for path in list(facts.config_files) + ini:
            if not _is_candidate(path) or path in facts.ci_files:
                continue
            via: Optional[Tuple[str, int, str]] = None
            if path in dvc_params:
                via = (dvc_params[path][0], dvc_params[path][1], "declares as stage params")
            else:
                hit = named.get(path)
                if hit:
                    via = (hit[0], hit[1], "reads")
                elif path in run_with:
                    via = (run_with[path][0], run_with[path][1], "runs the training with")
                elif loader and CONFIGISH.search(path):
                    via = (loader[0], loader[1], f"loads configuration ({loader[2]}) such as")
            if via is None:
                continue
            doc = facts.config(path)
            if doc is None or doc.error:
                continue
            indirect = via[2].startswith("loads")
            hps = config_hyperparameters(doc.docs)
            if via[2] == "declares as stage params" or len(hps) >= 2:
                key = (via[0], via[1])
                shown = ranked(hps) or "its parameters"
                if key not in seen:
                    seen.add(key)
                    yield "supports", via[0], via[1], f"{via[0]} {via[2]} {path} ({shown})", indirect
            elif hps and not SEARCH_BUDGET.match(next(iter(hps))):
                # the model's one setting (a Ridge's alpha): hard-coded others are config-hardcoded's gaps
                key = (via[0], via[1])
                if key not in seen:
                    seen.add(key)
                    yield "supports", via[0], via[1], f"{via[0]} {via[2]} {path} ({next(iter(hps))})", indirect
            elif hps:
                yield "partial", via[0], via[1], (f"{via[0]} {via[2]} {path}, but it holds only a search budget "
                                                  f"({next(iter(hps))}); the hyperparameters live elsewhere"), indirect
            elif via[2] == "reads" and CONFIG_FILE_NAME.search(PurePosixPath(path).name) and \
                    len(settings := _run_settings(doc.docs)) >= MIN_RUN_SETTINGS:
                # acc10: a config file the training reads for its run settings (split size, threshold, folders), with
                # the hyperparameters left in code: a few values externalised
                yield "partial", via[0], via[1], (f"{via[0]} {via[2]} {path} for its run settings "
                                                  f"({', '.join(settings[:4])}), but no hyperparameters are in it"), indirect

    def _python(self, facts, code_paths: List[str], execs):
        graph = facts.graph
        reported = set()
        for p in code_paths:
            idx = facts.code.get(p)
            if idx is None:
                continue
            for ref in idx.imports:
                full = f"{ref.module}.{ref.name}" if ref.name else ref.module
                node = graph.resolve_name(p, full) or (graph.resolve_name(p, ref.module) if ref.module else None)
                target = node.split(":")[1] if node else None
                if not target or target == p or target in reported or not target.endswith(".py"):
                    continue
                cls = node.split(":")[2] if node.count(":") >= 2 else ""
                if not (CONFIG_MODULE.search(target) or re.search(r"(Config|Params|HParams|Args|Settings)$", cls)):
                    continue
                hps = _python_hyperparameters(facts, target)
                if len(hps) >= 2:
                    reported.add(target)
                    what = f"config class {cls}" if cls else "its hyperparameters"
                    if reads_config_files(facts, target):
                        yield "supports", p, ref.line, (f"{p} imports {what} from {target} ({ranked(hps)}), "
                                                        f"which fills it from config files")
                    else:   # r12: one module edited in place, no per-run file (the 352's labels: partial 5, yes 2)
                        yield "partial", p, ref.line, (f"{p} imports {what} from {target} ({ranked(hps)}): the "
                                                       f"hyperparameters are edited in that module, not set per run "
                                                       f"by a config file")
        if execs:
            files = [f.path for f in facts.files if f.suffix == ".py" and CONFIG_MODULE.search(str(PurePosixPath(f.path).parent))
                     and _is_candidate(f.path)]
            good = [(f, _python_hyperparameters(facts, f) | _config_object_settings(facts, f)) for f in files]
            good = [(f, h) for f, h in good if len(h) >= 2]
            if good:
                f, hps = good[0]
                more = f" and {len(good) - 1} more" if len(good) > 1 else ""
                yield "supports", execs[0], execs[1], (f"{execs[0]} runs Python config files with {execs[2]}: {f}{more} "
                                                       f"({ranked(hps)})")


def reads_config_files(facts, path: str) -> bool:
    """The Python module calls a config-file loader (`yaml.safe_load`, `OmegaConf.load`, `from_yaml`): its
    classes are filled from files set per run, not only edited in place."""
    idx = facts.code.get(path)
    return idx is not None and any(c.name in LOADERS or c.attr in LOADER_ATTRS for c in idx.calls)


def _hydra_entry_point(facts) -> Optional[Tuple[str, int, str]]:
    """(path, line, config folder) of a script entry point named for training (`src/trainer.py`) whose main
    function is `@hydra.main`, when the graph cannot follow it to the training code (the agent or model
    class is chosen from the config at run time)."""
    from mlscan.facts.repo import is_test_path
    scripts = {ep.path for ep in facts.graph.entry_points if ep.kind == "script" and not is_test_path(ep.path)
               and _TRAINING_SCRIPT.search(PurePosixPath(ep.path).stem)}
    for idx, call in facts.calls(facts.non_test_code()):
        if idx.path in scripts and call.attr == "main" and facts.external_name(idx, call.name) == "hydra.main":
            where = call.kwarg("config_path")
            return idx.path, call.line, where.rstrip("/") if isinstance(where, str) else ""
    return None


_TRAINING_SCRIPT = re.compile(r"(?i)(^|_)(train\w*|trainer|fit|finetune|fine_tune)$")


def _config_object_settings(facts, path: str) -> Set[str]:
    """Hyperparameters set on a config object in a Python config file (`training.batch_size = 128` inside
    ml_collections' `get_config()`, `cfg.lr = 3e-4`)."""
    from mlscan.facts.pycode import NOT_LITERAL
    idx = facts.code.get(path)
    names = [a.target.rsplit(".", 1)[-1] for a in (idx.attr_assigns if idx is not None else ())
             if "[" not in a.target and a.value is not None and a.value != NOT_LITERAL
             and isinstance(a.value, (int, float, bool))]
    return strong_hyperparameters(names)


def _python_hyperparameters(facts, path: str) -> Set[str]:
    """Hyperparameter names bound to literal numbers/flags (or an optimiser's name) in a Python config file."""
    from mlscan.facts.pycode import NOT_LITERAL
    names = []
    for a in facts.literal_assignments(path):
        short = a.name.rsplit(".", 1)[-1]
        v = a.value
        if v is None or v == NOT_LITERAL:
            continue
        if isinstance(v, str) and short.lower() not in ("optimizer", "optimiser", "scheduler", "lr_scheduler"):
            continue
        names.append(short)
    return strong_hyperparameters(names)


def _dvc_params(facts) -> Dict[str, Tuple[str, int]]:
    """Config file -> (dvc.yaml, line) for files that pipeline stages declare as `params:`."""
    out: Dict[str, Tuple[str, int]] = {}
    for f in facts.glob("dvc.yaml"):
        doc = facts.config(f.path)
        data = doc.data if doc is not None and isinstance(doc.data, dict) else {}
        base = str(PurePosixPath(f.path).parent)
        base = "" if base == "." else base
        stages = data.get("stages") if isinstance(data.get("stages"), dict) else {}
        line = facts.line_of(f.path, r"^\s*params:", regex=True)
        for st in stages.values():
            if not isinstance(st, dict):
                continue
            wdir = st.get("wdir") if isinstance(st.get("wdir"), str) else ""
            d = str(PurePosixPath(base) / wdir) if wdir else base
            items = st.get("params") if isinstance(st.get("params"), list) else []
            for item in items:
                files = [k for k in item] if isinstance(item, dict) else ["params.yaml"]
                for rel in files:
                    p = str(PurePosixPath(d) / str(rel)) if d else str(rel)
                    p = str(PurePosixPath(p))
                    if facts.exists(p):
                        out.setdefault(p, (f.path, line))
    return out


def _kedro_parameters(facts, name: str, call) -> list:
    """`node(func, inputs=["params:lr", ...])` backed by conf/*/parameters*.yml: Kedro's configuration."""
    if not name.startswith("kedro.pipeline") or call.attr not in ("node", "Node"):
        return []
    values = [*call.args[1:2], call.kwarg("inputs")]
    wanted = []
    for v in values:
        for item in (v if isinstance(v, tuple) else (v,)):
            if isinstance(item, str) and item.startswith("params:"):
                wanted.append(item)
    has_files = any(f.name.startswith("parameters") and f.suffix in (".yml", ".yaml") for f in facts.files)
    return wanted if wanted and has_files else []


# a command that runs Python training code (`python gfpgan/train.py -opt options/train.yml`, LightningCLI's
# `python scripts/main.py fit --model config/model.yaml`)
_RUNS_TRAINING = re.compile(r"(?i)\b(python3?|torchrun|accelerate launch|deepspeed)\b.*(\btrain\w*\b|\.py\s+fit\b)")
_CONFIG_TOKEN = re.compile(r"(?:^|[\s=])(?:\./)?([\w./-]+\.(?:ya?ml|json|toml))\b")


def _configs_on_command_lines(facts, config_paths) -> Dict[str, Tuple[str, int]]:
    """Config file -> (where, line) of a script, Makefile, CI step or documented recipe whose command
    runs the training with it: a training framework reads the file, not the project's own code."""
    commands = list(facts.shell_commands) + list(facts.doc_commands) + [
        (job.path, step.line, step.run) for job in facts.ci_jobs for step in getattr(job, "steps", ())
        if getattr(step, "run", None)]
    out: Dict[str, Tuple[str, int]] = {}
    for where, line, text in commands:
        if not _RUNS_TRAINING.search(text or ""):
            continue
        for token in _CONFIG_TOKEN.findall(text):
            if token in config_paths:
                out.setdefault(token, (where, line))
    return out


def _named_config_files(facts, code_paths: List[str], config_paths) -> Dict[str, Tuple[str, int]]:
    """Config file -> (code file, line) where training code names it: the path as written from the
    repo root, else relative to the code's folder or one of its ancestors (projects in subfolders run
    from their own root); a bare file name only when exactly one config file has that name."""
    by_name: Dict[str, List[str]] = {}
    for c in config_paths:
        by_name.setdefault(PurePosixPath(c).name, []).append(c)
    by_folder: Dict[Tuple[str, str], List[str]] = {}
    for c in sorted(config_paths):
        pp = PurePosixPath(c)
        by_folder.setdefault((str(pp.parent), pp.suffix), []).append(c)
    named: Dict[str, Tuple[str, int]] = {}
    for p in code_paths:
        idx = facts.code.get(p)
        parents = [str(a) for a in PurePosixPath(p).parents if str(a) != "."]
        for value, line in idx.strings if idx is not None else []:
            v = value.strip()
            while v.startswith("./"):
                v = v[2:]
            if not v.lower().endswith((".yaml", ".yml", ".json", ".toml", ".cfg", ".ini")):
                continue
            if v.startswith("/"):   # an absolute path on the author's machine: the repo file it ends with
                parts = PurePosixPath(v).parts[1:]
                v = next((str(PurePosixPath(*parts[i:])) for i in range(len(parts) - 1)
                          if str(PurePosixPath(*parts[i:])) in config_paths), "")
                if not v:
                    continue
            candidates = [v, *(f"{a}/{v}" for a in parents)]
            found = next((c for c in candidates if c in config_paths), None)
            if found is None and "/" not in v and len(by_name.get(v, ())) == 1:
                found = by_name[v][0]
            if found is None and "/" in v:   # a default that names a folder of configs (`--config yaml/x.yaml`)
                pp = PurePosixPath(v)
                siblings = next((by_folder[(str(PurePosixPath(c).parent), pp.suffix)] for c in candidates
                                 if (str(PurePosixPath(c).parent), pp.suffix) in by_folder), [])
                for c in siblings:
                    named.setdefault(c, (p, line))
            if found is not None:
                named.setdefault(found, (p, line))
    return named


def _kedro_node(name: str) -> bool:
    return name.startswith("kedro.pipeline") and name.rpartition(".")[2] in ("node", "Node")
