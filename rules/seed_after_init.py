from __future__ import annotations

import re
from typing import Dict, List, Optional, Set, Tuple

from mlscan.rulekit import Example, Rule
from mlscan.rules._seeding import ALL, DEFAULT_SEEDED_TRAINERS, seeded_family, seeding_closure

# calls that give a model weights drawn at random: LoRA adapters, a task head a pretrained body lacks,
# a model built from its config alone
FRESH_WEIGHTS = re.compile(r"^(peft\.(mapping\.)?get_peft_model|transformers\.\w+For(SequenceClassification|"
                           r"TokenClassification|QuestionAnswering|MultipleChoice|ImageClassification|"
                           r"AudioClassification)\.from_pretrained|transformers\.\w+\.from_config)$")


class SeedAfterInit(Rule):
    """The seed is set before the model's weights are initialised

    Counter-evidence for seed control: the training seeds its RNGs only after it has built a model
    with random weights (LoRA adapters from `get_peft_model`, a new classification head from
    `AutoModelForSequenceClassification.from_pretrained`, a model from its config), so those
    weights differ from run to run. Two forms: `set_seed(...)` called in the same function after
    the model is built, and a seed given only to `TrainingArguments(seed=...)`, which the
    `Trainer` applies when it is built, after the model it is handed (unless `model_init=`
    builds the model inside the Trainer). Makes a seeded repo partial.
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
            "train.py": "from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments\n\n\n"
                        "def load_model():\n    return AutoModelForSequenceClassification.from_pretrained('distilbert-base-uncased', num_labels=2)\n\n\n"
                        "def main(rows):\n    model = load_model()\n    args = TrainingArguments(output_dir='out', seed=42)\n"
                        "    Trainer(model=model, args=args, train_dataset=rows).train()\n\n\n"
                        "if __name__ == '__main__':\n    main([1, 2, 3])\n",
        }, "partial", "TrainingArguments' seed is applied after the new classification head is initialised", fires=True),
        Example({
            "train.py": "from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments\n\n\n"
                        "def load_model():\n    return AutoModelForSequenceClassification.from_pretrained('distilbert-base-uncased', num_labels=2)\n\n\n"
                        "def main(rows):\n    args = TrainingArguments(output_dir='out', seed=42)\n"
                        "    Trainer(model_init=load_model, args=args, train_dataset=rows).train()\n\n\n"
                        "if __name__ == '__main__':\n    main([1, 2, 3])\n",
        }, "present", "model_init builds the model inside the Trainer, after it seeds", fires=False),
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
        explicit = [(idx, c) for idx, c in calls if seeded_family(c) in (ALL, "torch")]
        if explicit:
            found = _seeded_late(graph, closure, explicit)
            if found:
                (m_idx, m_call, init), (s_idx, s_call) = found
                yield self.found("gap", s_idx.path, s_call.line,
                                 f"{s_call.name} seeds only after {m_call.name} ({m_idx.path}:{m_call.line}) has built "
                                 f"the model, so the weights {init.name} draws at random are unseeded")
            return
        if any(c.has_kwarg("model_init") for _, c in calls if DEFAULT_SEEDED_TRAINERS.match(c.name)):
            return
        seeded_args = next(((idx, c) for idx, c in calls if DEFAULT_SEEDED_TRAINERS.match(c.name)
                            and c.kwarg("seed") is not None), None)
        if seeded_args:
            a_idx, a_call = seeded_args
            f_idx, f_call = fresh[0]
            yield self.found("gap", f_idx.path, f_call.line,
                             f"{f_call.name} draws new weights at random before any seed is set: the seed "
                             f"{a_call.name} carries ({a_idx.path}:{a_call.line}) is applied only when the Trainer "
                             f"is built, after the model")


def _seeded_late(graph, closure, explicit):
    """((index, call that builds the model, the fresh-weights call it reaches), (index, first seeding call))
    when one function builds the model before it seeds, and every torch seeding comes from that late call."""
    fresh_memo: Dict[str, Optional[object]] = {}

    def fresh_in(node: str):
        if node not in fresh_memo:
            fresh_memo[node] = None
            fresh_memo[node] = next((c for n in graph.code_reach(node) for _, c in graph.node_calls(n)
                                     if FRESH_WEIGHTS.match(c.name)), None)
        return fresh_memo[node]

    seed_nodes = {n for n in closure if any(seeded_family(c) in (ALL, "torch") for _, c in graph.node_calls(n))}
    for node in sorted(seed_nodes | _callers(graph, closure, seed_nodes)):
        callees = _callees_by_line(graph, node)
        model: Optional[Tuple[object, object, object]] = None
        for idx, call in graph.node_calls(node):
            targets = callees.get(call.line, ())
            if seeded_family(call) in (ALL, "torch") or any(t in seed_nodes or _reaches(graph, t, seed_nodes)
                                                             for t in targets):
                if model is None:
                    break
                late: Set[str] = {node}
                for later_idx, later in graph.node_calls(node):
                    if later.line >= call.line:
                        for t in callees.get(later.line, ()):
                            late |= graph.code_reach(t)
                if seed_nodes <= late and not any(seeded_family(c) in (ALL, "torch")
                                                  for _, c in graph.node_calls(node) if c.line < model[1].line):
                    return model, (idx, call)
                break
            if model is None:
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


def _callers(graph, closure, nodes: Set[str]) -> Set[str]:
    """Closure nodes that call one of `nodes` directly."""
    out = set()
    for n in closure:
        for _, target, data in graph.g.out_edges(n, data=True):
            if data.get("kind") == "calls" and target in nodes:
                out.add(n)
    return out


def _reaches(graph, start: str, nodes: Set[str]) -> bool:
    return bool(graph.code_reach(start) & nodes)
