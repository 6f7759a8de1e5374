from __future__ import annotations

import re
from typing import Any, Optional, Tuple

from mlscan.facts.pycode import NOT_LITERAL
from mlscan.rulekit import Example, Rule
from mlscan.rules._seeding import SEED_NAMES, SEEDERS, seeded_family

SEED_OPTIONS = {"--seed", "--random-seed", "--random_seed", "--rng-seed", "--rng_seed", "--manual-seed", "--manual_seed"}
CONFIG_NAMES = ("seed", "cfg", "config", "conf", "args", "hparams", "params", "opt", "opts", "options")
SEED_READ = re.compile(r"\b(?!random\.|np\.random\.|numpy\.random\.)\w+\.(random_)?seed\b(?!\s*\()")  # `args.seed`
UNSET = (None, -1)  # -1 is the common "draw a random seed" value


class SeedNullByDefault(Rule):
    """The configured seed is set by default

    Counter-evidence for seed control: the training seeds its RNGs from a configuration value
    (`seed_everything(cfg.seed)`, `set_seed(args.seed)`), but that value is unset by default: the
    training configuration says `seed: null` or `seed: -1` (draw a random one), the command-line
    option `--seed` has no default, or the config class declares `seed = None`. Runs are then
    unseeded unless someone passes a seed. Also counter-evidence: a `--seed` option the training
    declares but never uses, because every seeding call takes a hard-coded value. Makes a seeded
    repo partial.
    """

    id = "seed-null-by-default"
    practice = "seed-control"
    examples = (
        Example({
            "configs/train.yaml": "defaults:\n  - model: mnist\n\nseed: null\ntrainer:\n  max_epochs: 10\n",
            "src/train.py": "import hydra\nimport lightning as L\n\n\n@hydra.main(config_path='../configs', config_name='train')\n"
                            "def main(cfg):\n    if cfg.get('seed'):\n        L.seed_everything(cfg.seed, workers=True)\n"
                            "    L.Trainer(max_epochs=cfg.trainer.max_epochs).fit(None)\n\n\nif __name__ == '__main__':\n    main()\n",
        }, "partial", "seed_everything(cfg.seed) with seed: null in the config", fires=True),
        Example({
            "configs/train.yaml": "seed: 42\ntrainer:\n  max_epochs: 10\n",
            "src/train.py": "import hydra\nimport lightning as L\n\n\n@hydra.main(config_path='../configs', config_name='train')\n"
                            "def main(cfg):\n    L.seed_everything(cfg.seed, workers=True)\n"
                            "    L.Trainer(max_epochs=cfg.trainer.max_epochs).fit(None)\n\n\nif __name__ == '__main__':\n    main()\n",
        }, "present", "the configured seed has a value", fires=False),
        Example({
            "yaml/gru.yaml": "model: gru\nenvironment:\n    seed: -1\n    device: cuda\n",
            "train.py": "import random\nimport numpy as np\nimport torch\nimport yaml\n\n\ndef set_seed(seed):\n"
                        "    random.seed(seed)\n    np.random.seed(seed)\n    torch.manual_seed(seed)\n\n\n"
                        "if __name__ == '__main__':\n    cfg = yaml.safe_load(open('yaml/gru.yaml'))\n"
                        "    set_seed(cfg['environment']['seed'])\n    model = torch.nn.Linear(2, 1)\n"
                        "    model(torch.zeros(1, 2)).sum().backward()\n",
        }, "partial", "every shipped config says seed: -1, so each run draws a random seed", fires=True),
        Example({
            "train.py": "import argparse\nimport random\nimport numpy as np\nimport tensorflow as tf\n\n"
                        "parser = argparse.ArgumentParser()\nparser.add_argument('--seed', type=int, help='random seed')\n\n\n"
                        "def set_random_seed(seed):\n    random.seed(seed)\n    np.random.seed(seed)\n    tf.random.set_seed(seed)\n\n\n"
                        "def main(args):\n    if args.seed:\n        set_random_seed(args.seed)\n"
                        "    model = tf.keras.Sequential([tf.keras.layers.Dense(1)])\n    model.fit([[0.0]], [0.0])\n\n\n"
                        "if __name__ == '__main__':\n    main(parser.parse_args())\n",
        }, "partial", "seeded only when --seed is given: the option has no default", fires=True),
        Example({
            "train.py": "import argparse\nimport random\nimport numpy as np\nimport tensorflow as tf\n\n"
                        "parser = argparse.ArgumentParser()\nparser.add_argument('--seed', type=int, default=7)\n\n\n"
                        "def main(args):\n    random.seed(args.seed)\n    np.random.seed(args.seed)\n    tf.random.set_seed(args.seed)\n"
                        "    model = tf.keras.Sequential([tf.keras.layers.Dense(1)])\n    model.fit([[0.0]], [0.0])\n\n\n"
                        "if __name__ == '__main__':\n    main(parser.parse_args())\n",
        }, "present", "--seed has a default", fires=False),
        Example({
            "run.py": "import argparse\nimport numpy as np\nimport torch\n\ntorch.manual_seed(0)\nnp.random.seed(0)\n"
                      "parser = argparse.ArgumentParser()\nparser.add_argument('--seed', default=None, type=int)\n\n"
                      "if __name__ == '__main__':\n    args = parser.parse_args()\n    model = torch.nn.Linear(2, 1)\n"
                      "    model(torch.zeros(1, 2)).sum().backward()\n",
        }, "partial", "the --seed option is declared but every seed is hard-coded", fires=True),
    )

    def check(self, facts):
        graph = facts.graph
        closure = graph.training_closure
        calls = graph.calls_in(closure)
        from_config = None
        hard_coded = None
        for idx, call in calls:
            if call.name in SEEDERS and call.args and call.args[0] is NOT_LITERAL \
                    and any(n.lower().endswith(CONFIG_NAMES) for n in call.arg_names):
                from_config = from_config or (idx.path, call.line, call.name)
            elif seeded_family(call) not in (None, "lib", "sklearn") and call.args and call.args[0] is not NOT_LITERAL:
                hard_coded = hard_coded or (idx.path, call.line, call.name)
        option = _seed_option(calls)
        if from_config is None:
            reads_seed = any(SEED_READ.search(facts.text(p) or "") for p in _paths(closure) if not p.endswith(".ipynb"))
            if hard_coded and option and option[3] in UNSET and not reads_seed:
                yield self.found("gap", option[0], option[1],
                                 f"the training declares {option[2]}, but every seed is hard-coded "
                                 f"({hard_coded[2]} at {hard_coded[0]}:{hard_coded[1]}), so the option does nothing")
            return
        seeder = f"{from_config[2]} ({from_config[0]}:{from_config[1]})"
        for doc in facts.yaml_docs():
            if doc.path in facts.ci_files:
                continue
            for d in doc.mappings():
                found = _unset_seed(d)
                if found:
                    key, value = found
                    line = facts.line_of(doc.path, rf"^\s*{key}\s*:", regex=True) or 1
                    shown = "null" if value is None else value
                    what = "runs are unseeded unless it is overridden" if value is None else \
                        "each run draws a random seed unless it is overridden"
                    yield self.found("gap", doc.path, line,
                                     f"{seeder} takes its seed from the config, but {doc.path} sets {key}: {shown}, so {what}")
                    return
        if option and option[3] in UNSET:
            yield self.found("gap", option[0], option[1],
                             f"{seeder} takes its seed from the command line, but {option[2]} has no default, "
                             f"so runs are unseeded unless it is given")
            return
        for path in sorted(_paths(closure)):
            idx = facts.code.get(path)
            for a in (idx.assignments if idx else ()):
                if a.owner and a.name.rsplit(".", 1)[-1] in SEED_NAMES and a.value in UNSET and not isinstance(a.value, bool):
                    yield self.found("gap", path, a.line,
                                     f"{seeder} takes its seed from the config, but {a.name} defaults to {a.value}, "
                                     f"so runs are unseeded unless it is set")
                    return


def _paths(closure) -> set:
    return {n[4:].rsplit(":", 1)[0] if n.startswith("def:") else n.split(":", 1)[1] for n in closure}


def _seed_option(calls) -> Optional[Tuple[str, int, str, Any]]:
    """(path, line, option, default) of an argparse `--seed` option the training declares."""
    for idx, call in calls:
        if call.attr == "add_argument" and call.args and call.args[0] in SEED_OPTIONS \
                and call.kwarg("required") is not True and call.kwarg("action") is None:
            default = call.kwarg("default")
            return idx.path, call.line, call.args[0], (-1 if default == -1 else default)
    return None


def _unset_seed(d: dict, depth: int = 0) -> Optional[Tuple[str, Any]]:
    """(key, value) of a seed key set to null or -1, in `d` or the mappings nested in it."""
    for key in sorted(SEED_NAMES & set(k for k in d if isinstance(k, str))):
        value = d[key]
        if value is None or (value == -1 and value is not True and not isinstance(value, bool)):
            return key, value
    if depth < 3:
        for value in d.values():
            if isinstance(value, dict):
                found = _unset_seed(value, depth + 1)
                if found:
                    return found
    return None

