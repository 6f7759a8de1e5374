from __future__ import annotations

import re
from typing import Dict, List, Optional, Set, Tuple

from mlscan.facts.graph import CODE_PREFIXES
from mlscan.rulekit import Example, Rule
from mlscan.rules._seeding import ALL, seeded_family, seeding_closure

# calls that give a model weights drawn at random: LoRA adapters, a task head a pretrained body lacks,
# a model built from its config alone, torch layers, torchvision architectures
FRESH_WEIGHTS = re.compile(r"^(peft\.(mapping\.)?get_peft_model|transformers\.\w+For(SequenceClassification|"
                           r"TokenClassification|QuestionAnswering|MultipleChoice|ImageClassification|"
                           r"AudioClassification)\.from_pretrained|transformers\.\w+\.from_config|"
                           r"torch\.nn\.(Linear|Conv[123]d|Embedding|LSTM|GRU|Transformer\w*)|torchvision\.models\.[a-z]\w*)$")

# a model an evaluation or inference step builds (often in another branch of the same block) is not the trained one
NOT_TRAINING = re.compile(r"(?i)(eval|infer|predict|test|valid|export|demo|bench)")


class SeedAfterInit(Rule):
    """The seed is set before the model's weights are initialised

    Counter-evidence for seed control: the training seeds its RNGs only after it has built a model
    with random weights (torch layers, a torchvision architecture, LoRA adapters from `get_peft_model`,
    a new classification head from `AutoModelForSequenceClassification.from_pretrained`, a model
    from its config), so those weights differ from run to run: one function builds the model and
    only then calls the seeding (directly, through a helper, or through an object whose constructor
    seeds), and no seeding runs before. Makes a seeded repo partial.
    """

    id = "seed-after-init"
    practice = "seed-control"
    examples = (
        Example({
            "train.py": "from peft import LoraConfig, get_peft_model\n"
                        "from transformers import AutoModelForCausalLM, Trainer, TrainingArguments, set_seed\n\n\n"
                        "def train(rows):\n    model = AutoModelForCausalLM.from_pretrained('gpt2')\n"
                        "    model = get_peft_model(model, LoraConfig(r=8))\n    set_seed(42)\n"
                        "    Trainer(model=model, args=TrainingArguments(output_dir='out'), train_dataset=rows).train()\n\n\n"
                        "if __name__ == '__main__':\n    train([1, 2, 3])\n",
        }, "partial", "set_seed runs after the LoRA adapters are initialised", fires=True),
        Example({
            "train.py": "from peft import LoraConfig, get_peft_model\n"
                        "from transformers import AutoModelForCausalLM, Trainer, TrainingArguments, set_seed\n\n\n"
                        "def train(rows):\n    set_seed(42)\n    model = AutoModelForCausalLM.from_pretrained('gpt2')\n"
                        "    model = get_peft_model(model, LoraConfig(r=8))\n"
                        "    Trainer(model=model, args=TrainingArguments(output_dir='out'), train_dataset=rows).train()\n\n\n"
                        "if __name__ == '__main__':\n    train([1, 2, 3])\n",
        }, "present", "seeded before the adapters are built", fires=False),
        Example({
            "models.py": "import torch\n\n\ndef get_model(n_classes):\n    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Linear(16, n_classes))\n",
            "utils.py": "import random\nimport numpy as np\nimport torch\n\n\ndef setup_system(seed):\n"
                        "    random.seed(seed)\n    np.random.seed(seed)\n    torch.manual_seed(seed)\n",
            "train.py": "import torch\nfrom models import get_model\nfrom utils import setup_system\n\n\n"
                        "class Experiment:\n    def __init__(self, model):\n        setup_system(21)\n        self.model = model\n\n"
                        "    def run(self):\n        self.model(torch.zeros(1, 8)).sum().backward()\n\n\n"
                        "def main():\n    model = get_model(3)\n    Experiment(model).run()\n\n\n"
                        "if __name__ == '__main__':\n    main()\n",
        }, "partial", "the experiment object seeds when it is built, after get_model initialised the layers", fires=True),
        Example({
            "models.py": "import torch\n\n\ndef get_model(n_classes):\n    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Linear(16, n_classes))\n",
            "utils.py": "import random\nimport numpy as np\nimport torch\n\n\ndef setup_system(seed):\n"
                        "    random.seed(seed)\n    np.random.seed(seed)\n    torch.manual_seed(seed)\n",
            "train.py": "import torch\nfrom models import get_model\nfrom utils import setup_system\n\n\n"
                        "def main():\n    setup_system(21)\n    model = get_model(3)\n    model(torch.zeros(1, 8)).sum().backward()\n    setup_system(22)\n\n\n"
                        "if __name__ == '__main__':\n    main()\n",
        }, "present", "seeded before the layers are built (a later re-seed does not matter)", fires=False),
        Example({
            "train.py": "from transformers import AutoModelForCausalLM, Trainer, TrainingArguments\n\n\n"
                        "def main(rows):\n    model = AutoModelForCausalLM.from_pretrained('gpt2')\n"
                        "    Trainer(model=model, args=TrainingArguments(output_dir='out', seed=42), train_dataset=rows).train()\n\n\n"
                        "if __name__ == '__main__':\n    main([1, 2, 3])\n",
        }, "present", "a pretrained model without new layers has no random weights to seed", fires=False),
    )

    def check(self, facts):
        graph = facts.graph
        closure = seeding_closure(facts)
        calls = graph.calls_in(closure)
        fresh = [(idx, c) for idx, c in calls if FRESH_WEIGHTS.match(c.name)]
        if not fresh:
            return
        explicit = any(seeded_family(c) in (ALL, "torch") for _, c in calls)
        found = _seeded_late(graph, closure) if explicit else None
        if found:
            (m_idx, m_call, init), (s_idx, s_call) = found
            yield self.found("gap", s_idx.path, s_call.line,
                             f"{s_call.name} seeds only after {m_call.name} ({m_idx.path}:{m_call.line}) has built "
                             f"the model, so the weights {init.name} draws at random are unseeded")


def _seeded_late(graph, closure):
    """((index, call that builds the model, the fresh-weights call it reaches), (index, first seeding call))
    when one function builds the model before it seeds, and every torch seeding comes from that late call."""
    fresh_memo: Dict[str, Optional[object]] = {}

    def reach(target: str) -> Set[str]:
        """Code a call of `target` runs: a class's construction runs its __init__ as well."""
        init = f"{target}.__init__"
        return set(graph.code_reach(target)) | (set(graph.code_reach(init)) if init in closure else set())

    def fresh_in(target: str):
        if target not in fresh_memo:
            fresh_memo[target] = next((c for n in sorted(reach(target)) for _, c in graph.node_calls(n)
                                       if FRESH_WEIGHTS.match(c.name)), None)
        return fresh_memo[target]

    seed_nodes = {n for n in closure if any(seeded_family(c) in (ALL, "torch") for _, c in graph.node_calls(n))}
    # the targets whose `reach` meets seed_nodes (one walk backwards instead of a walk per target)
    reaches_seed = graph.reaching(n for n in seed_nodes if n.startswith(CODE_PREFIXES))

    def seeds(target: str) -> bool:
        init = f"{target}.__init__"
        return target in reaches_seed or (init in closure and init in reaches_seed)

    for node in sorted(_ancestors(graph, closure, seed_nodes)):
        callees = _callees_by_line(graph, node)
        model: Optional[Tuple[object, object, object]] = None
        for idx, call in graph.node_calls(node):
            targets = callees.get(call.line, ())
            if seeded_family(call) in (ALL, "torch") or any(seeds(t) for t in targets):
                if model is None:
                    break
                late: Set[str] = {node}
                for _, later in graph.node_calls(node):
                    if later.line >= call.line:
                        for t in callees.get(later.line, ()):
                            late |= reach(t)
                if seed_nodes <= late:
                    return model, (idx, call)
                break
            if model is None and not NOT_TRAINING.search(call.name.rsplit(".", 1)[-1]):
                init = call if FRESH_WEIGHTS.match(call.name) else next(
                    (f for f in (fresh_in(t) for t in targets) if f is not None), None)
                if init is not None:
                    model = (idx, call, init)
    return None


def _callees_by_line(graph, node: str) -> Dict[int, List[str]]:
    out: Dict[int, List[str]] = {}
    for _, target, data in graph.g.out_edges(node, data=True):
        if data.get("kind") == "calls" and "line" in data:
            out.setdefault(data["line"], []).append(target)
    return out


def _ancestors(graph, closure, nodes: Set[str]) -> Set[str]:
    """`nodes` and the closure nodes that call into them, directly or through other calls (a call of a
    class counts as a call of its __init__)."""
    callers: Dict[str, Set[str]] = {}
    for n in closure:
        for _, target, data in graph.g.out_edges(n, data=True):
            if data.get("kind") == "calls":
                callers.setdefault(target, set()).add(n)
                callers.setdefault(f"{target}.__init__", set()).add(n)
    seen, stack = set(nodes), list(nodes)
    while stack:
        for caller in callers.get(stack.pop(), ()):
            if caller not in seen:
                seen.add(caller)
                stack.append(caller)
    return seen
