from __future__ import annotations

from typing import Dict, Tuple

from mlscan.rulekit import Example, Rule
from mlscan.rules._seeding import consumed_family, covers, training_seeded_families, unseeded_search_scope


class UnseededRandomness(Rule):
    """Every random number generator the training uses is seeded

    Counter-evidence for seed control: the training code (everything its entry points reach)
    draws from a generator family (`random`, numpy, torch, tensorflow, jax) that no reachable
    call seeds. Makes a seeded repo partial; says nothing when nothing is seeded at all.
    """

    id = "unseeded-rng"
    practice = "seed-control"
    examples = (
        Example({
            "train.py": "import random\nimport numpy as np\nfrom sklearn.svm import SVC\n\n"
                        "random.seed(0)\nX = np.random.rand(20, 3)\nSVC().fit(X, X[:, 0] > 0.5)\n",
        }, "partial", "random is seeded, numpy's global RNG is not", fires=True),
        Example({
            "train.py": "import random\nimport numpy as np\nfrom sklearn.svm import SVC\n\n"
                        "random.seed(0)\nX = np.array([[1, 2], [3, 4]])\nSVC().fit(X, [0, 1])\n",
        }, "present", "every RNG in use is seeded", fires=False),
        Example({
            "train.py": "import torch\nfrom torch.utils.data import DataLoader, TensorDataset, random_split\n\n\n"
                        "def main():\n    ds = TensorDataset(torch.zeros(10, 2), torch.zeros(10))\n"
                        "    train, val = random_split(ds, [8, 2], generator=torch.Generator().manual_seed(0))\n"
                        "    model = torch.nn.Linear(2, 1)\n    for x, y in DataLoader(train, shuffle=True):\n"
                        "        model(x).sum().backward()\n\n\nif __name__ == '__main__':\n    main()\n",
        }, "partial", "a seeded generator for the split leaves weight init and shuffling unseeded", fires=True),
        Example({
            "train.py": "import numpy as np\nimport torch\nfrom torch.utils.data import TensorDataset, random_split\n\n\n"
                        "def main():\n    np.random.seed(0)\n    ds = TensorDataset(torch.zeros(10, 2), torch.zeros(10))\n"
                        "    train, val = random_split(ds, [8, 2], generator=torch.Generator().manual_seed(0))\n"
                        "    x = np.random.rand(3)\n    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1).step()\n\n\n"
                        "if __name__ == '__main__':\n    main()\n",
        }, "present", "random_split draws from the seeded generator it is handed", fires=False),
    )

    def check(self, facts):
        graph = facts.graph
        calls = graph.calls_in(unseeded_search_scope(facts))
        seeded = training_seeded_families(facts)
        if not seeded:
            return
        first_use: Dict[str, Tuple[str, int, str]] = {}
        for idx, call in calls:
            fam = consumed_family(call)
            if fam and fam not in first_use and not covers(seeded, fam):
                first_use[fam] = (idx.path, call.line, call.name)
        for fam, (path, line, name) in sorted(first_use.items()):
            yield self.found("gap", path, line, f"{name} draws from the {fam} RNG, which the training never seeds")
