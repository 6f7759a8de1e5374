from __future__ import annotations

import re

from mlscan.rulekit import Example, Rule
from mlscan.rules._seeding import (SEED_KWARGS, covers, seeded_family, training_seeded_families,
                                  unseeded_search_scope)

# model constructors that draw random numbers and take a seed argument
STOCHASTIC_MODELS = re.compile(
    r"^(sklearn\.(ensemble\.(RandomForest|ExtraTrees|GradientBoosting|HistGradientBoosting|Bagging|AdaBoost|IsolationForest)\w*"
    r"|tree\.(DecisionTree|ExtraTree)\w*|linear_model\.(SGD\w*|Perceptron|PassiveAggressive\w*)|neural_network\.MLP\w*"
    r"|cluster\.(KMeans|MiniBatchKMeans)|decomposition\.(TruncatedSVD|NMF|LatentDirichletAllocation)))$")
# splitters and shufflers that draw from NumPy's global RNG unless given random_state (KFold and its
# kin only when shuffle=True)
RANDOM_SPLITS = re.compile(r"^sklearn\.(model_selection\.(train_test_split|(Stratified|Group)?ShuffleSplit)|utils\.(shuffle|resample))$")
SHUFFLED_FOLDS = re.compile(r"^sklearn\.model_selection\.(Stratified|Repeated|RepeatedStratified|StratifiedGroup)?KFold$")
# XGBoost, LightGBM and CatBoost are not listed: without a seed argument they use a fixed seed of
# their own (XGBoost and CatBoost 0, LightGBM's fixed C++ defaults), so runs repeat exactly


class UnseededEstimators(Rule):
    """Models are built with a seed when the project seeds anything

    Counter-evidence for seed control: the training seeds something (a split, a global RNG) but
    builds a stochastic model (random forests, gradient boosting, SGD, MLP, k-means) without
    `random_state=`, so its result rests on chance, or splits the data at random (`train_test_split`,
    `ShuffleSplit`, `KFold(shuffle=True)`, `sklearn.utils.shuffle`) without `random_state=`, so
    the model is trained and scored on different rows each run. A scikit-learn model without `random_state`
    draws from NumPy's global RNG, so a training that seeds NumPy covers it. XGBoost, LightGBM and
    CatBoost models without a seed argument are not counter-evidence: their default seed is a fixed
    number, so runs repeat. Makes a seeded repo partial; says nothing when nothing is seeded at all.
    """

    id = "unseeded-estimator"
    practice = "seed-control"
    examples = (
        Example({
            "train.py": "from sklearn.model_selection import train_test_split\n"
                        "from sklearn.ensemble import RandomForestClassifier\n\n"
                        "X_tr, X_te, y_tr, y_te = train_test_split([[0], [1]] * 5, [0, 1] * 5, random_state=42)\n"
                        "RandomForestClassifier(n_estimators=100).fit(X_tr, y_tr)\n",
        }, "partial", "the split is seeded, the forest is not", fires=True),
        Example({
            "train.py": "from sklearn.model_selection import train_test_split\n"
                        "from sklearn.ensemble import RandomForestClassifier\n\n"
                        "X_tr, X_te, y_tr, y_te = train_test_split([[0], [1]] * 5, [0, 1] * 5, random_state=42)\n"
                        "RandomForestClassifier(n_estimators=100, random_state=42).fit(X_tr, y_tr)\n",
        }, "present", "split and model both seeded", fires=False),
        Example({
            "train.py": "import numpy as np\nfrom sklearn.ensemble import RandomForestClassifier\n\n"
                        "params = {'n_estimators': 100, 'random_state': 0}\n"
                        "np.random.seed(0)\nRandomForestClassifier(**params).fit([[0], [1]], [0, 1])\n",
        }, "present", "the seed may come in through **params", fires=False),
        Example({
            "train.py": "import numpy as np\nfrom sklearn.ensemble import RandomForestClassifier\n\n"
                        "np.random.seed(0)\nRandomForestClassifier(n_estimators=100).fit([[0], [1]], [0, 1])\n",
        }, "present", "scikit-learn draws from NumPy's global RNG, which is seeded", fires=False),
        Example({
            "train.py": "import numpy as np\nimport xgboost as xgb\n\n"
                        "np.random.seed(0)\nxgb.XGBClassifier(n_estimators=100).fit([[0], [1]], [0, 1])\n",
        }, "present", "XGBoost's default seed is a fixed number, so the run repeats", fires=False),
        Example({
            "train.py": "from sklearn.model_selection import train_test_split\nimport lightgbm as lgb\n"
                        "from sklearn.ensemble import ExtraTreesClassifier\n\n"
                        "X_tr, X_te, y_tr, y_te = train_test_split([[0], [1]] * 5, [0, 1] * 5, random_state=42)\n"
                        "lgb.LGBMClassifier().fit(X_tr, y_tr)\nExtraTreesClassifier().fit(X_tr, y_tr)\n",
        }, "partial", "LightGBM repeats with its default seeds, the extra-trees model does not", fires=True),
        Example({
            "train.py": "from sklearn.model_selection import train_test_split\n"
                        "from sklearn.ensemble import RandomForestClassifier\n\n"
                        "X_tr, X_te, y_tr, y_te = train_test_split([[0], [1]] * 5, [0, 1] * 5, test_size=0.2)\n"
                        "RandomForestClassifier(n_estimators=100, random_state=42).fit(X_tr, y_tr)\n",
        }, "partial", "the forest is seeded, the split is not", fires=True),
        Example({
            "train.py": "from sklearn.model_selection import KFold, cross_val_score, train_test_split\n"
                        "from sklearn.ensemble import RandomForestClassifier\n\n"
                        "X_tr, X_te, y_tr, y_te = train_test_split([[0], [1]] * 5, [0, 1] * 5, shuffle=False)\n"
                        "model = RandomForestClassifier(n_estimators=100, random_state=42)\n"
                        "cross_val_score(model, X_tr, y_tr, cv=KFold(n_splits=2))\nmodel.fit(X_tr, y_tr)\n",
        }, "present", "a split without shuffling and unshuffled folds draw nothing", fires=False),
        Example({
            "train.py": "from sklearn.model_selection import train_test_split\nfrom sklearn.ensemble import RandomForestClassifier\n\n\n"
                        "def main(X, y):\n    X_tr, X_te, y_tr, y_te = train_test_split(X, y, random_state=42)\n"
                        "    RandomForestClassifier(random_state=42).fit(X_tr, y_tr)\n\n\n"
                        "if __name__ == '__main__':\n    main([[0], [1]] * 5, [0, 1] * 5)\n",
            "explore.ipynb": '{"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": "from sklearn.model_selection import train_test_split\\nfrom sklearn.linear_model import LogisticRegression\\nX_tr, X_te, y_tr, y_te = train_test_split([[0], [1]] * 5, [0, 1] * 5)\\nLogisticRegression().fit(X_tr, y_tr)\\n"}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
        }, "present", "an exploration notebook's unseeded split beside a seeded training script", fires=False),
    )

    def check(self, facts):
        graph = facts.graph
        calls = graph.calls_in(unseeded_search_scope(facts))
        seeded = training_seeded_families(facts)
        if not seeded:
            return
        # default_rng/RandomState seed a generator of their own, not the global one sklearn falls back on
        numpy_global = covers(seeded - {"numpy"}, "numpy") or any(
            c.name == "numpy.random.seed" and seeded_family(c) for _, c in calls)
        # a notebook's split beside training scripts is exploration: the scripts' split is the model's
        scripts_train = any(ep.kind != "notebook" for ep in graph.training_entry_points)
        shown = 0
        for idx, call in calls:
            if shown >= 3:
                break
            split = _unseeded_split(call) and not (scripts_train and idx.path.endswith(".ipynb"))
            if not split and (not STOCHASTIC_MODELS.match(call.name) or any(k in SEED_KWARGS for k, _ in call.kwargs)):
                continue
            if any(k == "**" for k, _ in call.kwargs):
                continue  # **params may carry the seed
            if numpy_global and call.name.startswith("sklearn."):
                continue  # random_state=None uses NumPy's seeded global RNG
            shown += 1
            cell = f" (cell {idx.cell_of(call.line)})" if idx.cell_of(call.line) else ""
            if split:
                yield self.found("gap", idx.path, call.line,
                                 f"{call.name} splits the data at random without random_state, so each run trains and "
                                 f"scores on different rows{cell}")
            else:
                yield self.found("gap", idx.path, call.line,
                                 f"{call.name} is built without random_state/seed, so it rests on the library default{cell}")


def _unseeded_split(call) -> bool:
    """A scikit-learn random split or shuffle that takes no seed (random_state missing or None)."""
    if RANDOM_SPLITS.match(call.name):
        if call.name.endswith("train_test_split") and call.kwarg("shuffle") is False:
            return False   # shuffle=False: the split is the rows' order
    elif not (SHUFFLED_FOLDS.match(call.name) and call.kwarg("shuffle") is True):
        return False
    return call.kwarg("random_state") is None and not any(k in SEED_KWARGS - {"random_state"} for k, _ in call.kwargs)
