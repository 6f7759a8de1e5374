from __future__ import annotations

import re

from mlscan.rulekit import Example, Rule
from mlscan.rules._mlcode import in_example_dir, in_exploration_dir, root_of
from mlscan.rules._vocab import FIT_ATTRS, TRAINING_HYPERPARAMETER

ESTIMATOR_LIBS = {"sklearn", "xgboost", "lightgbm", "catboost", "imblearn"}
TRAINING_APIS = re.compile(r"^(torch\.optim\.|tensorflow\.keras\.optimizers\.|keras\.optimizers\.|tf_keras\.optimizers\.|"
                           r"optax\.|transformers\.(\w+\.)?(Trainer|TrainingArguments|Seq2SeqTrainingArguments)\b|"
                           r"(pytorch_lightning|lightning\.pytorch|lightning)\.Trainer\b|torch\.utils\.data\.DataLoader\b|"
                           r"trl\.\w+(Config|Trainer)\b)")
class HyperparametersHardCoded(Rule):
    """Hyperparameters are hard-coded in training calls

    Counter-evidence: the training code passes literal hyperparameters straight to model,
    optimiser, trainer and fit calls of ML libraries - `RandomForestClassifier(n_estimators=100,
    max_depth=8)`, `torch.optim.Adam(params, lr=3e-4)`, `model.fit(X, y, epochs=10)`. Trivial values
    (0, 1, -1, booleans) and names that are not hyperparameters are ignored; one stray literal is
    not enough (two or more are needed). Changing such a run means editing code, so a repo that
    also keeps configuration files is partial, and one with nothing else stays absent. Literals in
    exploratory code kept apart from the pipeline (`notebooks/`, `research/`, `eda/`) do not count
    when the training also runs from code outside those folders. A hyperparameter search whose
    space is literals in code (Optuna `trial.suggest_int("max_depth", 3, 12)`, two or more) is a
    gap as well: the ranges that choose the model change only by editing code.
    """

    id = "config-hardcoded"
    practice = "config-management"
    examples = (
        Example({
            "train.py": "from sklearn.ensemble import RandomForestClassifier\n\n"
                        "clf = RandomForestClassifier(n_estimators=300, max_depth=8, min_samples_leaf=3)\n"
                        "clf.fit([[0], [1]], [0, 1])\n",
        }, "absent", "hyperparameters written into the training call", fires=True),
        Example({
            "params.yaml": "train:\n  n_estimators: 300\n  max_depth: 8\n",
            "train.py": "import yaml\nfrom sklearn.ensemble import RandomForestClassifier\n\n"
                        "p = yaml.safe_load(open('params.yaml'))['train']\n"
                        "RandomForestClassifier(**p).fit([[0], [1]], [0, 1])\n",
        }, "present", "hyperparameters come from params.yaml", fires=False),
        Example({
            "params.yaml": "train:\n  n_estimators: 300\n  max_depth: 8\n",
            "train.py": "import yaml\nimport torch\nfrom sklearn.ensemble import RandomForestClassifier\n\n"
                        "p = yaml.safe_load(open('params.yaml'))['train']\n"
                        "RandomForestClassifier(**p).fit([[0], [1]], [0, 1])\n"
                        "net = torch.nn.Linear(2, 1)\nopt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)\n"
                        "net(torch.zeros(1, 2)).sum().backward()\nopt.step()\n",
        }, "partial", "a config file, but the optimiser's settings are literals", fires=True),
        Example({
            "params.yaml": "train:\n  n_estimators: 300\n  max_depth: 8\n",
            "src/train.py": "import yaml\nfrom sklearn.ensemble import RandomForestClassifier\n\n"
                            "p = yaml.safe_load(open('params.yaml'))['train']\n"
                            "if __name__ == '__main__':\n    RandomForestClassifier(**p).fit([[0], [1]], [0, 1])\n",
            "research/try_models.py": "from sklearn.ensemble import RandomForestClassifier\n\n"
                                      "RandomForestClassifier(n_estimators=50, max_depth=3).fit([[0], [1]], [0, 1])\n",
        }, "present", "literals in a research script beside a pipeline that reads params.yaml", fires=False),
        Example({
            "notebooks/train.py": "from sklearn.ensemble import RandomForestClassifier\n\n"
                                  "RandomForestClassifier(n_estimators=50, max_depth=3).fit([[0], [1]], [0, 1])\n",
        }, "absent", "the only training lives in notebooks/: its literals are the configuration", fires=True),
        Example({
            "config/config.yaml": "train:\n  n_estimators: 300\n  max_depth: 8\n",
            "src/train.py": "import yaml\nfrom sklearn.ensemble import RandomForestClassifier\n\n"
                            "p = yaml.safe_load(open('config/config.yaml'))['train']\n"
                            "if __name__ == '__main__':\n    RandomForestClassifier(**p).fit([[0], [1]], [0, 1])\n",
            "src/tune.py": "import optuna\n\n\ndef objective(trial):\n    return {'n_estimators': trial.suggest_int('n_estimators', 50, 300),\n"
                           "            'max_depth': trial.suggest_int('max_depth', 3, 12)}\n",
        }, "partial", "a config file, but the search space is literals in the tuner", fires=True),
        Example({
            "config/config.yaml": "train:\n  n_estimators: 300\n  max_depth: 8\nspace:\n  max_depth: [3, 12]\n",
            "src/train.py": "import yaml\nfrom sklearn.ensemble import RandomForestClassifier\n\n"
                            "p = yaml.safe_load(open('config/config.yaml'))\n"
                            "if __name__ == '__main__':\n    RandomForestClassifier(**p['train']).fit([[0], [1]], [0, 1])\n",
            "src/tune.py": "def objective(trial, space):\n    return {k: trial.suggest_int(k, lo, hi) for k, (lo, hi) in space.items()}\n",
        }, "present", "a search space read from the config file", fires=False),
    )

    def check(self, facts):
        from mlscan.facts.repo import is_test_path
        graph = facts.graph
        hits = []
        pipeline = any(not in_exploration_dir(p) for p in _closure_paths(graph.training_closure))
        for idx, call in graph.calls_in(graph.training_closure):
            if is_test_path(idx.path) or not any(TRAINING_HYPERPARAMETER.match(k) for k, _ in call.kwargs):
                continue
            if pipeline and in_exploration_dir(idx.path):
                continue  # a research notebook's literals beside a pipeline that trains from elsewhere
            name = facts.external_name(idx, call.name)
            external = graph.resolve_name(idx.path, name) is None
            if not ((external and (root_of(name) in ESTIMATOR_LIBS or TRAINING_APIS.match(name)))
                    or call.attr in FIT_ATTRS or call.attr == "train"):
                continue
            hps = sorted({k for k, v in call.kwargs if TRAINING_HYPERPARAMETER.match(k) and isinstance(v, (int, float))
                          and not isinstance(v, bool) and v not in (0, 1, -1)})
            if hps:
                hits.append((idx.path, call.line, name, hps))
        # two different hyperparameters: one literal copied into a notebook beside the script is still one
        if len({hp for h in hits for hp in h[3]}) >= 2:
            for path, line, name, hps in hits[:5]:
                yield self.found("gap", path, line, f"{name} gets literal {', '.join(hps)}{_cell(facts, path, line)}")
        suggestions = facts.call_table.named(_suggestion_name, attrs=SUGGESTIONS)
        space = [(idx.path, call) for idx in facts.non_test_code() if not in_example_dir(idx.path)
                 and not (pipeline and in_exploration_dir(idx.path))
                 for call in suggestions.get(idx.path, ()) if _literal_suggestion(call)]
        if len(space) >= 2:
            path, call = space[0]
            shown = ", ".join(repr(a) for a in call.args[:3])
            more = f" (+{len(space) - 1} more)" if len(space) > 1 else ""
            yield self.found("gap", path, call.line, f"the search space is written in code: "
                                                     f"{call.attr}({shown}){more}{_cell(facts, path, call.line)}")


SUGGESTIONS = {"suggest_int", "suggest_float", "suggest_uniform", "suggest_loguniform", "suggest_discrete_uniform",
               "suggest_categorical"}


def _suggestion_name(name: str) -> bool:
    """The calls `_literal_suggestion` can pass: those whose last name part is a suggest_* method."""
    return name.rpartition(".")[2] in SUGGESTIONS


def _literal_suggestion(call) -> bool:
    """An Optuna `trial.suggest_int("max_depth", 3, 12)` whose range or choices are literals."""
    if call.attr not in SUGGESTIONS or len(call.args) < 2 or not isinstance(call.args[0], str):
        return False
    if call.attr == "suggest_categorical":
        return isinstance(call.args[1], tuple) and len(call.args[1]) > 1
    return len(call.args) >= 3 and all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in call.args[1:3])


def _closure_paths(closure) -> set:
    return {n[4:].rsplit(":", 1)[0] if n.startswith("def:") else n.split(":", 1)[1] for n in closure}


def _cell(facts, path: str, line: int) -> str:
    idx = facts.code.get(path)
    cell = idx.cell_of(line) if idx is not None else None
    return f" (cell {cell})" if cell else ""
