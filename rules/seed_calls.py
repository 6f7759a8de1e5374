from __future__ import annotations

from typing import Dict

from mlscan.rulekit import Example, Rule
from mlscan.rules._seeding import (ALL, DEFAULT_SEEDED_TRAINERS, OPTION_SEEDED_PIPELINES, SEED_KWARGS, consumed_family,
                                  seeded_family, seeding_closure)
from mlscan.rules._serving import with_methods
from mlscan.rules.unseeded_estimators import STOCHASTIC_MODELS


class SeedCallsReachTraining(Rule):
    """Random seeds are set in code the training runs

    Looks for calls that seed random number generators (`random.seed`, `numpy.random.seed`,
    `torch.manual_seed` and CUDA, `tf.random.set_seed`, JAX PRNG keys, Lightning `seed_everything`,
    transformers/accelerate `set_seed`, jittor `set_global_seed`, `random_state=`/`seed=` arguments);
    a seed drawn at run time (`torch.manual_seed(np.random.randint(...))`, `time.time()`) is not
    seeding. Names are resolved through imports and aliases, so `import numpy as np;
    np.random.seed(0)` counts and a comment mentioning "seed" does not. Calls are followed across
    files: a seed set in `utils.set_seeds()` counts when a training entry point calls it, and so does
    a seed in a method of an object the training builds (a split strategy handed to a splitter).
    Every training run counts, not only the one named for training: each lesson notebook that fits a
    model, the job script beside a research notebook (benchmark, export, demo and inference scripts
    aside). Seeding that no training entry point reaches counts as partial.
    """

    id = "seed-calls"
    practice = "seed-control"
    examples = (
        Example({
            "utils.py": "import random\nimport numpy as np\nimport torch\n\n"
                        "def set_seeds(seed):\n    random.seed(seed)\n    np.random.seed(seed)\n    torch.manual_seed(seed)\n",
            "train.py": "import torch\nfrom utils import set_seeds\n\n"
                        "def main():\n    set_seeds(1)\n    model = torch.nn.Linear(2, 1)\n"
                        "    loss = model(torch.zeros(1, 2)).sum()\n    loss.backward()\n\n"
                        "if __name__ == '__main__':\n    main()\n",
        }, "present", "seeded in a helper module, called from the training script"),
        Example({
            "train.py": "# we should call np.random.seed(0) here one day\nimport numpy as np\n"
                        "from sklearn.linear_model import LogisticRegression\n\n"
                        "X = np.random.rand(10, 2)\nLogisticRegression().fit(X, X[:, 0] > 0.5)\n",
        }, "absent", "a comment that mentions seeding is not seeding"),
        Example({
            "train.py": "import tensorflow as tf\nimport keras\nmodel = keras.Sequential()\nmodel.fit([[0]], [0])\n",
            "tools/seed.py": "import tensorflow as tf\n\ndef seed():\n    tf.random.set_seed(3)\n",
        }, "partial", "seeding exists but the training never calls it"),
        Example({
            "nb.ipynb": '{"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": '
                        '["import lightning as L\\n", "L.seed_everything(7)\\n", "trainer = L.Trainer()\\n", '
                        '"trainer.fit(model)\\n"]}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
        }, "present", "notebooks are code too"),
        Example({
            "04_model_training.ipynb": '{"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": "from sklearn.datasets import load_iris\\nfrom sklearn.neighbors import KNeighborsClassifier\\nX, y = load_iris(return_X_y=True)\\nKNeighborsClassifier(n_neighbors=5).fit(X, y)\\n"}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
            "05_model_evaluation.ipynb": '{"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": "from sklearn.datasets import load_iris\\nfrom sklearn.linear_model import LogisticRegression\\nfrom sklearn.model_selection import train_test_split\\nX, y = load_iris(return_X_y=True)\\nX_tr, X_te, y_tr, y_te = train_test_split(X, y, random_state=4)\\nLogisticRegression().fit(X_tr, y_tr)\\n"}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
        }, "present", "every lesson notebook that trains is a training run: the one with a split seeds it"),
        Example({
            "src/splitting.py": "from sklearn.model_selection import train_test_split\n\n\nclass SplitStrategy:\n"
                                "    def split(self, X, y):\n        raise NotImplementedError\n\n\n"
                                "class RandomSplit(SplitStrategy):\n    def split(self, X, y):\n"
                                "        return train_test_split(X, y, test_size=0.2, random_state=42)\n\n\n"
                                "class Splitter:\n    def __init__(self, strategy):\n        self.strategy = strategy\n\n"
                                "    def split(self, X, y):\n        return self.strategy.split(X, y)\n",
            "train.py": "from sklearn.linear_model import LinearRegression\nfrom src.splitting import RandomSplit, Splitter\n\n\n"
                        "def main(X, y):\n    X_tr, X_te, y_tr, y_te = Splitter(RandomSplit()).split(X, y)\n"
                        "    LinearRegression().fit(X_tr, y_tr)\n\n\nif __name__ == '__main__':\n    main([[0], [1]] * 5, [0, 1] * 5)\n",
        }, "present", "the seeded split lives in a strategy object the training builds and hands to a splitter"),
        Example({
            "main.py": "from lightning.pytorch.cli import LightningCLI\nfrom model import Net\n\n\n"
                       "if __name__ == '__main__':\n    LightningCLI(Net, seed_everything_default=42)\n",
            "model.py": "import lightning as L\nimport torch\n\n\nclass Net(L.LightningModule):\n"
                        "    def __init__(self):\n        super().__init__()\n        self.layer = torch.nn.Linear(2, 1)\n",
        }, "present", "LightningCLI trains and seeds every RNG with its seed_everything_default"),
        Example({
            "main.py": "from lightning.pytorch.cli import LightningCLI\nfrom model import Net\n\n\n"
                       "if __name__ == '__main__':\n    LightningCLI(Net, seed_everything_default=False)\n",
            "model.py": "import lightning as L\nimport torch\n\n\nclass Net(L.LightningModule):\n"
                        "    def __init__(self):\n        super().__init__()\n        self.layer = torch.nn.Linear(2, 1)\n",
        }, "absent", "seed_everything_default=False switches the CLI's seeding off"),
        Example({
            "options/train.yml": "name: sr_x4\nmanual_seed: 0\ntrain:\n  total_iter: 1000\n",
            "mypkg/train.py": "import os.path as osp\nfrom basicsr.train import train_pipeline\n\nimport mypkg.archs\n\n"
                              "if __name__ == '__main__':\n    train_pipeline(osp.abspath(osp.join(__file__, osp.pardir)))\n",
            "mypkg/archs.py": "import torch\n\n\nclass Net(torch.nn.Module):\n    pass\n",
        }, "present", "BasicSR's train_pipeline seeds every RNG with manual_seed from the options file"),
        Example({
            "train.py": "from datasets import load_dataset\nfrom transformers import AutoModelForCausalLM, Trainer, TrainingArguments\n\n\n"
                        "def main():\n    model = AutoModelForCausalLM.from_pretrained('gpt2')\n"
                        "    args = TrainingArguments(output_dir='out', num_train_epochs=1)\n"
                        "    Trainer(model=model, args=args, train_dataset=load_dataset('imdb')['train']).train()\n\n\n"
                        "if __name__ == '__main__':\n    main()\n",
        }, "partial", "only the Trainer's implicit default seed"),
        Example({
            "train.py": "import random\nfrom transformers import AutoModelForCausalLM, Trainer, TrainingArguments\n\n\n"
                        "def main(rows):\n    rng = random.Random(42)\n    rng.shuffle(rows)\n"
                        "    model = AutoModelForCausalLM.from_pretrained('gpt2')\n"
                        "    Trainer(model=model, args=TrainingArguments(output_dir='out'), train_dataset=rows).train()\n\n\n"
                        "if __name__ == '__main__':\n    main([1, 2, 3])\n",
        }, "present", "the split shuffles with a seeded random.Random; the Trainer seeds itself"),
        Example({
            "src/__init__.py": "",
            "src/utils/__init__.py": "from src.utils.seeding import *\nfrom src.utils.timer import *\n",
            "src/utils/timer.py": "import time\n\n\ndef now():\n    return time.time()\n",
            "src/utils/seeding.py": "import random\nimport numpy as np\nimport torch\n\n\ndef seed_everything(seed):\n"
                                    "    random.seed(seed)\n    np.random.seed(seed)\n    torch.manual_seed(seed)\n",
            "src/main.py": "import torch\nfrom src.utils import seed_everything\n\n\ndef main():\n    seed_everything(10)\n"
                           "    model = torch.nn.Linear(2, 1)\n    model(torch.zeros(1, 2)).sum().backward()\n\n\n"
                           "if __name__ == '__main__':\n    main()\n",
        }, "present", "the seeding helper is re-exported by a package's `from ... import *`"),
        Example({
            "train_a.py": "import torch\nfrom helpers import seed_all\n\nif __name__ == '__main__':\n    seed_all(0)\n"
                          "    m = torch.nn.Linear(2, 1)\n    m(torch.zeros(1, 2)).sum().backward()\n",
            "train_b.py": "import torch\n\nif __name__ == '__main__':\n"
                          "    m = torch.nn.Linear(2, 1)\n    m(torch.zeros(1, 2)).sum().backward()\n",
            "helpers.py": "import random\nimport numpy as np\nimport torch\n\n\ndef seed_all(seed):\n"
                          "    random.seed(seed)\n    np.random.seed(seed)\n    torch.manual_seed(seed)\n",
        }, "partial", "one training script seeds through the helper, the other trains unseeded"),
        Example({
            "train.py": "import numpy as np\nimport torch\n\n\ndef main():\n    seed = np.random.randint(0, 2**32)\n"
                        "    torch.manual_seed(seed)\n    model = torch.nn.Linear(2, 1)\n"
                        "    model(torch.zeros(1, 2)).sum().backward()\n\n\nif __name__ == '__main__':\n    main()\n",
        }, "absent", "a seed drawn from an unseeded RNG differs each run: nothing is seeded"),
        Example({
            "train.py": "import jittor as jt\nimport torch\n\n\ndef main():\n    jt.set_global_seed(3)\n"
                        "    model = torch.nn.Linear(2, 1)\n    model(torch.zeros(1, 2)).sum().backward()\n\n\n"
                        "if __name__ == '__main__':\n    main()\n",
        }, "present", "jittor's set_global_seed seeds Python, NumPy and jittor"),
    )

    def check(self, facts):
        graph = facts.graph
        # an object the training builds is used by it: a strategy object's methods (`DataSplitter(
        # TrainTestSplit())` then `self.strategy.split_data()`) run although no call names them
        closure = seeding_closure(facts)
        in_closure = graph.calls_in(closure)
        seen = set()
        for idx, call in in_closure:
            fam = seeded_family(call)
            if fam and (idx.path, call.line) not in seen:
                seen.add((idx.path, call.line))
                what = "every RNG" if fam == ALL else f"{fam} RNG" if fam not in ("lib", "sklearn") else \
                    _library_rng(call)
                yield self.found("supports", idx.path, call.line, f"{call.name} seeds {what}{_cell(idx, call.line)}")
        for idx, call in in_closure:
            key = OPTION_SEEDED_PIPELINES.get(call.name)
            found = _option_seed(facts, key) if key else None
            if found and (idx.path, call.line) not in seen:
                seen.add((idx.path, call.line))
                yield self.found("supports", found[0], found[1],
                                 f"{call.name} ({idx.path}:{call.line}) seeds every RNG with {key}: {found[2]} "
                                 f"from its options file")
        if seen:
            yield from _unseeded_entry_points(self, graph)
            return
        trainer = next(((i, c) for i, c in in_closure if DEFAULT_SEEDED_TRAINERS.match(c.name)), None)
        if trainer:
            idx, call = trainer
            yield self.found("partial", idx.path, call.line,
                             f"no explicit seed: the training relies on the default seed (42) {call.name} applies when "
                             f"the trainer is built, after the model's weights are initialised{_cell(idx, call.line)}")
        for idx in facts.non_test_code():
            for call in idx.calls:
                fam = seeded_family(call)
                if fam and fam not in ("lib",):
                    yield self.found("partial", idx.path, call.line,
                                     f"{call.name} seeds {fam}, but no training entry point reaches it{_cell(idx, call.line)}")


def _unseeded_entry_points(rule, graph):
        """Training scripts that reach no seeding while other training scripts do: seeding set in a
        helper that only some entry points call (notebooks aside: they are exploration as often as training)."""
        scripts = [ep for ep in graph.primary_training_entry_points if ep.kind != "notebook"]
        if not scripts:
            return
        seeds: Dict[str, bool] = {}   # code node -> whether a call in it seeds (judged once per node)
        draws: Dict[str, bool] = {}   # ... draws randomness

        def node_seeds(n: str) -> bool:
            got = seeds.get(n)
            if got is None:
                got = seeds[n] = any(seeded_family(c) or OPTION_SEEDED_PIPELINES.get(c.name)
                                     for _, c in graph.node_calls(n))
            return got

        def node_draws(n: str) -> bool:
            got = draws.get(n)
            if got is None:
                got = draws[n] = any(_draws_randomness(c) for _, c in graph.node_calls(n))
            return got
        unseeded = []
        for ep in scripts:
            nodes = with_methods(graph, graph.code_reach(ep.node))
            if not any(node_seeds(n) for n in nodes) and any(node_draws(n) for n in nodes):
                unseeded.append(ep)
        if unseeded and len(unseeded) < len(scripts):
            ep = unseeded[0]
            yield rule.found("gap", ep.path, ep.line,
                             f"{ep.label} trains without seeding anything, while {len(scripts) - len(unseeded)} of "
                             f"{len(scripts)} training scripts seed their RNGs")
        elif unseeded and len(unseeded) == len(scripts):
            # only notebooks or side scripts seed: the training scripts themselves run unseeded
            ep = unseeded[0]
            yield rule.found("gap", ep.path, ep.line,
                             f"{ep.label} trains without seeding anything; only other training runs (notebooks, "
                             f"side scripts) seed their RNGs")


def _draws_randomness(call) -> bool:
    """A call whose result depends on an RNG: a consumer of a global RNG, a stochastic scikit-learn
    model, a trainer seeded only by its default, or a backward pass (weights initialised at random).
    Training with LightGBM or XGBoost alone repeats without any seed."""
    return bool(consumed_family(call) or STOCHASTIC_MODELS.match(call.name) or DEFAULT_SEEDED_TRAINERS.match(call.name)
                or call.attr == "backward")


def _option_seed(facts, key):
    """(path, line, value) of an options file that sets `key` to a number (BasicSR's `manual_seed: 0`)."""
    for doc in facts.yaml_docs():
        for d in doc.mappings():
            value = d.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                return doc.path, facts.line_of(doc.path, f"{key}:") or 1, value
    return None


def _library_rng(call):
    """`sklearn.utils.check_random_state(0)` seeds through a positional argument, not a keyword."""
    keyword = next((k for k, _ in call.kwargs if k in SEED_KWARGS), None)
    return f"a library RNG via {keyword}=" if keyword else "a library RNG"


def _cell(idx, line):
    cell = idx.cell_of(line)
    return f" (cell {cell})" if cell else ""
