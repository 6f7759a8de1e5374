from __future__ import annotations

from pathlib import PurePosixPath
from typing import Dict, List, Set, Tuple

from mlscan.rulekit import Example, Rule
from mlscan.rules._mlcode import in_example_dir
from mlscan.rules._vocab import roles_of

CORE_ROLES = ("data", "model", "training")
MIN_BYTES = 40   # smaller files are stubs, not units


def _layout_units(facts) -> Dict[str, List[Tuple[str, Set[str]]]]:
    """Top folder -> [(file, roles from its name)] for project code files named for one pipeline role."""
    from mlscan.facts.repo import is_test_path
    out: Dict[str, List[Tuple[str, Set[str]]]] = {}
    for f in facts.files:   # files, not parsed code: a template's Jinja-laden modules do not parse
        path = f.path
        if f.suffix not in (".py", ".ipynb") or f.size < MIN_BYTES or is_test_path(path) or in_example_dir(path) \
                or f.name.startswith("_"):
            continue
        p = PurePosixPath(path)
        top = p.parts[0] if len(p.parts) > 1 else "."
        units = out.setdefault(top, [])
        roles = roles_of(p.stem.lstrip("0123456789_-")) & set(CORE_ROLES)
        if len(roles) == 1:
            units.append((path, roles))
        if len(p.parts) > 2:   # a package named for a role (modeling/, data/) is a unit too
            folder = roles_of(p.parent.name) & set(CORE_ROLES)
            if len(folder) == 1 and (f"{p.parent}/", folder) not in units:
                units.append((f"{p.parent}/", folder))
    return out


class ModularProjectLayout(Rule):
    """The project is laid out in separate units for data, model and training

    A project whose code is split into files named for the pipeline's roles (`dataset.py`,
    `features.py`, `modeling/train.py`, `model.py`; or numbered notebooks such as
    `00_data_etl.ipynb`, `01_model_class.ipynb`, `02_train_test_validate.ipynb`) has a modular
    layout even when the training itself is a placeholder or lives in a notebook. This is
    partial: the units exist, but no training entry point composes them (the call-graph rule
    `modular-training` judges that).
    """

    id = "modular-layout"
    practice = "modular-train-code"
    examples = (
        Example({
            "{{ cookiecutter.module_name }}/dataset.py": "def main(input_path, output_path):\n    print('processing dataset')\n",
            "{{ cookiecutter.module_name }}/features.py": "def main(input_path, output_path):\n    print('generating features')\n",
            "{{ cookiecutter.module_name }}/modeling/train.py": "def main(features_path, model_path):\n    print('training')\n",
            "{{ cookiecutter.module_name }}/config.py": "DATA_DIR = 'data'\n",
        }, "partial", "a template's modular layout with placeholder code", fires=True),
        Example({
            "pipe/00_data_etl.ipynb": '{"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": null, '
                                      '"source": ["def load():\\n", "    pass\\n"]}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
            "pipe/01_model_class.ipynb": '{"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": null, '
                                         '"source": ["class Model:\\n", "    pass\\n"]}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
            "pipe/02_train_test_validate.ipynb": '{"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], '
                                                 '"execution_count": null, "source": ["def fit(m):\\n", "    pass\\n"]}], '
                                                 '"metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
        }, "partial", "numbered notebooks, one per pipeline role", fires=True),
        Example({
            "train.py": "import pandas as pd\nfrom sklearn.svm import SVC\ndf = pd.read_csv('x.csv')\nSVC().fit(df, df.y)\n",
            "utils.py": "def plot(x):\n    return x\n",
        }, "absent", "one script and a helper", fires=False),
    )

    def check(self, facts):
        best = None
        for top, units in _layout_units(facts).items():
            covered = set().union(*(r for _, r in units))
            if not set(CORE_ROLES) <= covered:
                continue
            files = [next(p for p, r in units if role in r) for role in CORE_ROLES]
            if best is None or len(units) > best[0]:
                best = (len(units), files)
        if best is not None:
            files = best[1]
            yield self.found("partial", files[0], 1,
                             f"modular layout: separate files for data, model and training ({', '.join(files)})")
