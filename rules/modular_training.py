from __future__ import annotations

from typing import Dict, List, Set

from mlscan.facts.graph import is_training_call
from mlscan.rulekit import Example, Rule
from mlscan.rules._vocab import roles_of



def module_roles(facts, path: str) -> Set[str]:
    """Roles a module plays, from its path and the names it defines (cached per scan)."""
    def compute() -> Set[str]:
        roles = roles_of(path)
        for q in facts.code[path].defs:
            roles |= roles_of(q)
        return roles
    return facts.memo(f"module-roles:{path}", compute)


class TrainingCodeIsModular(Rule):
    """Training code is split into reusable units

    Follows each training entry point's imports and calls: when the data loading, model definition,
    training loop and configuration live in separate modules or functions the entry point imports,
    the code is modular. A training script that imports one separate unit (say, the model) but keeps
    the rest as top-level script code is partial; one monolithic script or notebook is absent. A
    declared pipeline (dvc.yaml, MLproject) whose stages run separate scripts also counts.
    """

    id = "modular-training"
    practice = "modular-train-code"
    examples = (
        Example({
            "src/data.py": "import pandas as pd\n\ndef load(path):\n    return pd.read_csv(path)\n",
            "src/model.py": "from sklearn.ensemble import RandomForestClassifier\n\ndef build(cfg):\n"
                            "    return RandomForestClassifier(**cfg)\n",
            "src/train.py": "from src.data import load\nfrom src.model import build\n\ndef train(cfg):\n"
                            "    df = load('d.csv')\n    m = build(cfg)\n    m.fit(df, df.y)\n    return m\n\n"
                            "if __name__ == '__main__':\n    train({})\n",
        }, "present"),
        Example({
            "model.py": "import torch\n\nclass Net(torch.nn.Module):\n    pass\n",
            "train.py": "import torch\nfrom model import Net\nnet = Net()\nopt = torch.optim.SGD(net.parameters(), lr=0.1)\n"
                        "for step in range(10):\n    loss = net(torch.zeros(1)).sum()\n    loss.backward()\n    opt.step()\n",
        }, "partial", "the model is its own module; the loop is top-level script code"),
        Example({
            "train.py": "import pandas as pd\nfrom sklearn.linear_model import ElasticNet\n"
                        "df = pd.read_csv('wine.csv')\nm = ElasticNet(alpha=0.5)\nm.fit(df.drop(columns='q'), df.q)\nprint(m.score(df, df.q))\n",
        }, "absent", "one monolithic script"),
        Example({
            "nb.ipynb": '{"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": '
                        '["import pandas as pd\\n", "from sklearn.svm import SVC\\n", "df = pd.read_csv(\'x.csv\')\\n", '
                        '"SVC().fit(df, df.y)\\n"]}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
        }, "absent", "notebook-only training"),
    )

    def check(self, facts):
        graph = facts.graph
        entries = graph.primary_training_entry_points
        best = None  # (rank, finding)
        for ep in entries:
            path = ep.target[4:].rsplit(":", 1)[0] if ep.target.startswith("def:") else ep.target[4:]
            idx = facts.code.get(path)
            if idx is None:
                continue
            reach = graph.reachable(ep.node)
            other_modules = sorted({n[4:].rsplit(":", 1)[0] for n in reach if n.startswith("def:")} - {path})
            other_modules = [m for m in other_modules if facts.code[m].defs]
            roles: Set[str] = set()
            for m in other_modules:
                roles |= module_roles(facts, m)
            own_defs = [q for q, d in idx.defs.items() if "." not in q]
            own_roles = set().union(*(roles_of(q) for q in own_defs)) if own_defs else set()
            top_level_training = any(is_training_call(c) and c.scope in ("<module>", "<main>") for c in idx.calls)
            nb = idx.is_notebook
            if len(other_modules) >= 2 and len(roles) >= 2 and not top_level_training and not nb:
                rank, kind = 3, "supports"
                msg = f"{path} composes {len(other_modules)} separate modules ({', '.join(other_modules[:4])})"
            elif other_modules and (len(roles) >= 2 or not nb):
                rank, kind = 2, "partial"
                how = "trains in a notebook" if nb else "keeps the training loop as top-level script code" \
                    if top_level_training else "imports few separate units"
                msg = f"{path} imports {', '.join(other_modules[:3])} but {how}"
            elif len(own_defs) >= 3 and len(own_roles) >= 2 and not top_level_training and not nb:
                rank, kind = 2, "partial"
                msg = f"{path} splits training into functions ({', '.join(own_defs[:4])}) within one file"
            else:
                rank, kind = 1, "gap"
                msg = f"{path} is {'a notebook' if nb else 'a monolithic script'} that trains without separate reusable units"
            if best is None or rank > best[0]:
                best = (rank, self.found(kind, path, ep.line if not nb else 1, msg))
        stage_scripts = self._pipeline_scripts(facts)
        if len(stage_scripts) >= 3 and (best is None or best[0] < 3):
            path, line, n = stage_scripts[0][0], stage_scripts[0][1], len(stage_scripts)
            best = (3, self.found("supports", path, line, f"a declared pipeline runs {n} separate stage scripts"))
        if best is not None:
            yield best[1]

    @staticmethod
    def _pipeline_scripts(facts) -> List[tuple]:
        targets: Dict[str, tuple] = {}
        for ep in facts.graph.entry_points:
            if ep.kind == "pipeline":
                targets.setdefault(ep.target, (ep.path, ep.line))
        return [v for _, v in sorted(targets.items())]
