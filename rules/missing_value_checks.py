from __future__ import annotations

import re

from mlscan.rulekit import Example, Rule
from mlscan.rules._mlcode import in_example_dir
from mlscan.rules._vocab import MODEL_MODULE
from mlscan.rules.data_checks import DATA_TOKENS

# what is asked about must be named as data: the shared data nouns, the conventional `X`/`y`, a split, a batch,
# an image, the model's inputs or targets (`df`, `X_train`, `img`, `gt`); a NaN loss, gradient, weight or
# prediction is a training failure, not bad data
DATA_NAMES = DATA_TOKENS | {"x", "y", "train", "test", "val", "valid", "validation", "batch", "img", "imgs", "image",
                            "images", "input", "inputs", "target", "targets", "gt", "frame", "frames"}
MODEL_SIDE = frozenset({"loss", "losses", "grad", "grads", "gradient", "gradients", "weight", "weights", "param",
                        "params", "parameters", "pred", "preds", "prediction", "predictions", "output", "outputs",
                        "out", "logit", "logits", "prob", "probs", "probability", "probabilities", "score", "scores",
                        "metric", "metrics", "submission", "lr"})
_TOKENS = re.compile(r"[a-z0-9]+")


class MissingValueChecks(Rule):
    """Code fails on missing or non-finite data

    Partial evidence for data validation: an `assert` or a raising `if` that asks whether the data
    holds missing or non-finite values (`assert not df.isnull().any().any()`, `if torch.isnan(img).any():
    raise ValueError`, `assert torch.isfinite(targets).all()`), so a table or a batch with holes
    stops the run instead of training on them. One property checked, not a schema, hence partial.
    What is checked must be named as data (`df`, `X_train`, `img`, `batch`, `targets`, `gt`): a check
    on what the model computes (a NaN loss, gradient, weight or prediction) or on another value
    (`uv`, a window `w`) is not data validation, nor is a check in model, loss or network code;
    tests and examples do not count.
    """

    id = "missing-value-checks"
    practice = "data-validation"
    examples = (
        Example({
            "train.py": "import torch\n\n\ndef train(loader, model):\n    for img, mask in loader:\n"
                        "        if torch.isnan(img).any():\n            raise ValueError('NaN in img')\n"
                        "        model(img)\n",
        }, "partial", "a training loop that refuses a batch holding NaN", fires=True),
        Example({
            "prepare.ipynb": '{"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": 1, '
                             '"source": ["import pandas as pd\\n", "df = pd.read_csv(\'train.csv\').fillna(0)\\n", '
                             '"assert df.isnull().sum().sum() == 0, \'missing values remain\'\\n"]}], '
                             '"metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
        }, "partial", "a notebook asserts no missing values remain before training", fires=True),
        Example({
            "engine.py": "import math\n\n\ndef step(model, batch):\n    loss_value = model(batch).item()\n"
                         "    if not math.isfinite(loss_value):\n        raise SystemExit('Loss is not finite')\n"
                         "    assert not torch.isnan(model.weight).any()\n",
        }, "absent", "a NaN loss or weight is a training failure, not bad data", fires=False),
        Example({
            "maps/geometry.py": "import numpy as np\n\n\ndef one_ring_uv(points):\n    uv = np.linalg.solve(points, points)\n"
                                "    if np.isnan(uv).any():\n        raise ValueError('degenerate ring')\n    return uv\n",
        }, "absent", "a value computed in geometry code is not named as data", fires=False),
        Example({
            "tests/test_data.py": "import pandas as pd\n\n\ndef test_frame():\n"
                                  "    assert not pd.read_csv('x.csv').isnull().any().any()\n",
        }, "absent", "a test is not a check on every load", fires=False),
    )

    def check(self, facts):
        for idx in facts.non_test_code():
            if in_example_dir(idx.path) or MODEL_MODULE.search(idx.path):
                continue
            for line, _scope, context, target in idx.missing_checks:
                words = set(_TOKENS.findall(target.lower().replace("_", " ")))
                if MODEL_SIDE & words or not DATA_NAMES & words:
                    continue
                verb = "asserts" if context == "assert" else "raises"
                yield self.found("partial", idx.path, line,
                                 f"{verb} when {target} holds missing or non-finite values; "
                                 "one property checked, not a schema")
                return
