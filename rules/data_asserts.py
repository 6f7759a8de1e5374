from __future__ import annotations

import re

from mlscan.rulekit import Example, Rule
from mlscan.rules._mlcode import in_example_dir
from mlscan.rules.data_checks import CHECK_VERBS

# an operand that describes the data's structure: its length, shape, size, columns, types, missing values
STRUCTURE = re.compile(r"(^len\(|\.shape\b|\.size\b|\.ndim\b|\.columns\b|\.dtypes?\b|isnull|isna\(|nunique)")
DATA_MODULE = re.compile(r"(^|[/_])(data|dataset|datasets|datamodule|dataloaders?|loaders?|ingest\w*|etl|preprocess\w*)"
                         r"([/_.]|$)", re.I)
MIN_CHECKS = 2


class NarrowDataAsserts(Rule):
    """Data loading code asserts the data's structure

    Narrow checks, short of validation: `assert`s or raising `if`s on the data's length, shape,
    size, columns, types or missing values (`assert img.size == mask.size`, `assert col in
    df.columns`, `if X.shape[0] != y.shape[0]: raise ValueError`) in data modules (`data/`,
    `dataset*.py`, `datamodule.py`, `*_loading.py`, ingestion and preprocessing code) or in
    functions named for checking (`_validate_fit_inputs`, `check_*`). Two or more such checks, at
    least one about more than a length, are partial: they catch malformed inputs, not wrong
    content. Tests, examples and notebooks do not count.
    """

    id = "data-asserts"
    practice = "data-validation"
    examples = (
        Example({
            "utils/data_loading.py": "from PIL import Image\n\n\nclass Pairs:\n    def __getitem__(self, i):\n"
                                     "        img, mask = Image.open(f'{i}.png'), Image.open(f'{i}_mask.png')\n"
                                     "        assert img.size == mask.size, 'image and mask differ in size'\n"
                                     "        assert len(img.getbands()) == 3, 'expected RGB'\n        return img, mask\n",
        }, "partial", "asserts on every loaded pair", fires=True),
        Example({
            "model.py": "import torch\n\n\nclass Attention(torch.nn.Module):\n    def __init__(self, d, h):\n"
                        "        super().__init__()\n        assert d % h == 0\n        self.h = h\n\n"
                        "    def forward(self, x):\n        assert x.ndim == 3\n        assert x.shape[-1] > 0\n        return x\n",
        }, "absent", "shape asserts in model code check tensors, not data", fires=False),
        Example({
            "lib/base.py": "def _validate_fit_inputs(X, y):\n    if X.shape[0] != y.shape[0]:\n"
                           "        raise ValueError('X and y differ in length')\n    if len(X) == 0:\n"
                           "        raise ValueError('empty training data')\n",
        }, "partial", "a validating function that raises on inconsistent inputs", fires=True),
        Example({
            "mylib/data/config.py": "def resolve(input_size, mean):\n    assert len(input_size) == 3\n"
                                    "    assert len(mean) == 3\n    return input_size, mean\n",
        }, "absent", "length asserts on arguments only", fires=False),
    )

    def check(self, facts):
        from mlscan.facts.repo import is_test_path
        found = []
        for idx in facts.non_test_code():
            if idx.is_notebook or is_test_path(idx.path) or in_example_dir(idx.path):
                continue
            data_module = bool(DATA_MODULE.search(idx.path))
            for c in idx.comparisons:
                if c.context not in ("assert", "if-fails") or not any(STRUCTURE.search(o) for o in c.operands):
                    continue
                if data_module or _checking_scope(c.scope):
                    found.append((idx.path, c.line, f"{c.context.replace('if-fails', 'raise')} on "
                                                    f"{' vs '.join(o for o in c.operands[:2])}",
                                  any(STRUCTURE.search(o) and not o.startswith("len(") for o in c.operands)))
        # lengths alone (`assert len(x) == 2`) are as often about arguments as about data
        beyond_length = [f for f in found if f[3]]
        if len(found) >= MIN_CHECKS and beyond_length:
            path, line, what, _ = beyond_length[0]
            files = sorted({f[0] for f in found})
            yield self.found("partial", path, line,
                             f"narrow checks of the data's structure ({len(found)} in {len(files)} file(s), e.g. {what}); "
                             "no content or schema validation")


def _checking_scope(scope: str) -> bool:
    words = [w for w in scope.rsplit(".", 1)[-1].lower().split("_") if w]
    return bool(words) and words[0] in CHECK_VERBS
