from __future__ import annotations

from mlscan.rulekit import Example, Rule
from mlscan.rules._seeding import SEED_KWARGS, training_seeded_families, unseeded_search_scope

OPTUNA_SAMPLER = "optuna.samplers."


class UnseededSearch(Rule):
    """Hyperparameter searches are seeded when the training seeds anything

    Counter-evidence for seed control: the training seeds its models or splits but runs a
    hyperparameter search whose own sampler is unseeded (`hyperopt.fmin` without `rstate=`, an
    Optuna study without a seeded sampler), so the chosen hyperparameters, and the model trained
    with them, change from run to run. Makes a seeded repo partial; says nothing when nothing is
    seeded at all.
    """

    id = "unseeded-search"
    practice = "seed-control"
    examples = (
        Example({
            "train.py": "import optuna\nfrom sklearn.ensemble import RandomForestRegressor\n"
                        "from sklearn.model_selection import cross_val_score, train_test_split\n\n"
                        "X, y = [[0], [1], [2], [3]] * 5, [0, 1, 2, 3] * 5\n"
                        "X_tr, X_te, y_tr, y_te = train_test_split(X, y, random_state=42)\n\n\n"
                        "def objective(trial):\n    m = RandomForestRegressor(max_depth=trial.suggest_int('d', 2, 8), random_state=42)\n"
                        "    return cross_val_score(m, X_tr, y_tr, cv=3).mean()\n\n\n"
                        "if __name__ == '__main__':\n    study = optuna.create_study(direction='maximize')\n"
                        "    study.optimize(objective, n_trials=20)\n"
                        "    RandomForestRegressor(**study.best_params, random_state=42).fit(X_tr, y_tr)\n",
        }, "partial", "split and forest seeded, the Optuna sampler is not", fires=True),
        Example({
            "train.py": "import optuna\nfrom optuna.samplers import TPESampler\nfrom sklearn.ensemble import RandomForestRegressor\n\n"
                        "X, y = [[0], [1], [2], [3]] * 5, [0, 1, 2, 3] * 5\n\n\n"
                        "def objective(trial):\n    m = RandomForestRegressor(max_depth=trial.suggest_int('d', 2, 8), random_state=42)\n"
                        "    return m.fit(X, y).score(X, y)\n\n\n"
                        "if __name__ == '__main__':\n    study = optuna.create_study(direction='maximize', sampler=TPESampler(seed=42))\n"
                        "    study.optimize(objective, n_trials=20)\n",
        }, "present", "the sampler is seeded", fires=False),
        Example({
            "notebooks/Training.ipynb": '{"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": "import pandas as pd\\nfrom sklearn.model_selection import train_test_split\\nfrom xgboost import XGBRegressor\\ndf = pd.read_csv(\'trips.csv\')\\nX_tr, X_te, y_tr, y_te = train_test_split(df[[\'a\']], df.y, random_state=42)\\nXGBRegressor(random_state=42).fit(X_tr, y_tr)\\n"}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
            "steps/hpo_tuner.py": "import optuna\nfrom xgboost import XGBRegressor\n\n\n"
                                  "def tune(X, y):\n    def objective(trial):\n"
                                  "        m = XGBRegressor(max_depth=trial.suggest_int('d', 2, 8), random_state=42)\n"
                                  "        return m.fit(X, y).score(X, y)\n"
                                  "    study = optuna.create_study(direction='maximize')\n"
                                  "    study.optimize(objective, n_trials=20)\n    return study.best_params\n",
            "run.py": "import pandas as pd\nfrom xgboost import XGBRegressor\nfrom steps.hpo_tuner import tune\n\n"
                      "if __name__ == '__main__':\n    df = pd.read_csv('trips.csv')\n"
                      "    XGBRegressor(**tune(df[['a']], df.y), random_state=42).fit(df[['a']], df.y)\n",
        }, "partial", "the pipeline runner beside Training.ipynb tunes with an unseeded Optuna study", fires=True),
        Example({
            "hpo.py": "import numpy as np\nimport xgboost as xgb\nfrom hyperopt import fmin, hp, tpe, Trials\n\n\n"
                      "def objective(params):\n    booster = xgb.train(params, xgb.DMatrix([[0], [1]], label=[0, 1]))\n"
                      "    return 0.0\n\n\nif __name__ == '__main__':\n"
                      "    space = {'max_depth': hp.choice('max_depth', [3, 5]), 'seed': 42}\n"
                      "    fmin(fn=objective, space=space, algo=tpe.suggest, max_evals=10, trials=Trials(),\n"
                      "         rstate=np.random.default_rng(42))\n",
        }, "present", "hyperopt gets rstate", fires=False),
    )

    def check(self, facts):
        graph = facts.graph
        calls = graph.calls_in(unseeded_search_scope(facts))
        if not training_seeded_families(facts):
            return
        seeded_sampler = any(c.name.startswith(OPTUNA_SAMPLER) and any(k in SEED_KWARGS for k, _ in c.kwargs)
                             for _, c in calls)
        for idx, call in calls:
            if call.name in ("hyperopt.fmin", "hyperopt.fmin.fmin") and not call.has_kwarg("rstate") \
                    and not call.has_kwarg("**"):
                yield self.found("gap", idx.path, call.line,
                                 "hyperopt.fmin runs without rstate=, so the hyperparameter search, and the model "
                                 "trained with its best parameters, differ from run to run" + _cell(idx, call.line))
                return
            if call.name == "optuna.create_study" and not seeded_sampler and not call.has_kwarg("**"):
                sampler = call.kwarg("sampler")
                if sampler is None:
                    yield self.found("gap", idx.path, call.line,
                                     "optuna.create_study uses the default sampler unseeded, so the hyperparameter "
                                     "search, and the model trained with its best parameters, differ from run to run"
                                     + _cell(idx, call.line))
                    return


def _cell(idx, line):
    cell = idx.cell_of(line)
    return f" (cell {cell})" if cell else ""
