"""Answers seed-calls and unseeded-rng (rules/seed_calls.py, rules/unseeded_rngs.py)."""
from __future__ import annotations

from typing import Dict, List, NamedTuple, Set, Tuple

from mlscan.facts.configs import walk
from mlscan.facts.graph import is_training_call
from mlscan.fix import cst as C
from mlscan.fix.base import Edit, Fix, FixExample, Skip, Suggest, top_level_names
from mlscan.rules._seeding import SEED_NAMES, consumed_family, covers, seeded_families


class Entry(NamedTuple):
    target: str        # node id the entry point runs: mod:PATH or def:PATH:QUALNAME
    label: str
    node: str          # where reachability starts


DEFAULT_SEED = 42
NOT_CONFIG = ("test", "tests", ".github", "docs", "examples")


class SeedEntryPoints(Fix):
    """Seed the random number generators at the start of each unseeded training entry point

    Adds one helper, defined after the imports of the entry point's file, and one call to it as
    the first statement of the entry point (the main block, the function a console script or
    pipeline stage runs, or the top of a top-level script). The helper seeds what the training
    actually uses: Lightning's `seed_everything` or `transformers.set_seed` when the training
    imports them, else `random`, NumPy, PyTorch (with CUDA), TensorFlow and a JAX key, each
    only when used. The seed comes from a `seed:` key in the repo's config files when there is
    one, else 42. Notebooks get the same code as a suggestion.
    """

    id = "seed-entry-points"
    practice = "seed-control"
    answers = ("seed-calls", "unseeded-rng")
    examples = (
        FixExample({
            "train.py": "# Train the churn model.\nimport numpy as np\nfrom sklearn.linear_model import LogisticRegression\n\n\n"
                        "def main():\n    X = np.random.rand(10, 2)  # toy data\n"
                        "    LogisticRegression().fit(X, X[:, 0] > 0.5)\n\n\n"
                        "if __name__ == \"__main__\":\n    main()\n",
        }, {
            "train.py": "# Train the churn model.\nimport numpy as np\nfrom sklearn.linear_model import LogisticRegression\n\n\n"
                        "def seed_everything(seed):\n"
                        "    \"\"\"Seed the random number generators the training uses (added by `mlscan fix`).\"\"\"\n"
                        "    import numpy as np\n\n    np.random.seed(seed)\n\n\n"
                        "def main():\n    X = np.random.rand(10, 2)  # toy data\n"
                        "    LogisticRegression().fit(X, X[:, 0] > 0.5)\n\n\n"
                        "if __name__ == \"__main__\":\n    seed_everything(42)\n    main()\n",
        }, "present", "numpy only, seeded first thing in the main block"),
        FixExample({
            "params.yaml": "train:\n  seed: 7\n  epochs: 2\n",
            "train.py": "import lightning as L\nimport torch\n\nmodel = torch.nn.Linear(2, 1)\n"
                        "trainer = L.Trainer(max_epochs=2)\ntrainer.fit(model)\n",
        }, {
            "train.py": "import lightning as L\nimport torch\n\n\n"
                        "def seed_everything(seed):\n"
                        "    \"\"\"Seed the random number generators the training uses (added by `mlscan fix`).\"\"\"\n"
                        "    import lightning\n\n    lightning.seed_everything(seed, workers=True)\n\n\n"
                        "seed_everything(7)  # the seed in params.yaml\n\n"
                        "model = torch.nn.Linear(2, 1)\n"
                        "trainer = L.Trainer(max_epochs=2)\ntrainer.fit(model)\n",
        }, "present", "a top-level Lightning script: seed_everything, with the seed from params.yaml"),
        FixExample({
            "pyproject.toml": "[project]\nname = \"pkg\"\nversion = \"0.1\"\n\n[project.scripts]\ntrain = \"pkg.train:main\"\n",
            "pkg/__init__.py": "",
            "pkg/train.py": "\"\"\"Training.\"\"\"\nimport random\n\nimport torch\n\n\ndef main():\n    \"\"\"Entry point.\"\"\"\n"
                            "    data = list(range(10))\n    random.shuffle(data)\n    model = torch.nn.Linear(2, 1)\n"
                            "    model(torch.randn(1, 2)).sum().backward()\n",
        }, {
            "pkg/train.py": "\"\"\"Training.\"\"\"\nimport random\n\nimport torch\n\n\n"
                            "def seed_everything(seed):\n"
                            "    \"\"\"Seed the random number generators the training uses (added by `mlscan fix`).\"\"\"\n"
                            "    import random\n    import torch\n\n    random.seed(seed)\n    torch.manual_seed(seed)\n"
                            "    torch.cuda.manual_seed_all(seed)\n\n\n"
                            "def main():\n    \"\"\"Entry point.\"\"\"\n    seed_everything(42)\n"
                            "    data = list(range(10))\n    random.shuffle(data)\n    model = torch.nn.Linear(2, 1)\n"
                            "    model(torch.randn(1, 2)).sum().backward()\n",
        }, "present", "a console script's function: seeded after its docstring; random and torch with CUDA"),
        FixExample({
            "fit.py": "import tensorflow as tf\n\n\ndef main():\n    m = tf.keras.Sequential([tf.keras.layers.Dense(1)])\n"
                      "    m.fit([[0.0]], [0.0])\n\n\nif __name__ == '__main__': main()  # run it\n",
        }, {
            "fit.py": "import tensorflow as tf\n\n\ndef seed_everything(seed):\n"
                      "    \"\"\"Seed the random number generators the training uses (added by `mlscan fix`).\"\"\"\n"
                      "    import tensorflow as tf\n\n    tf.random.set_seed(seed)\n\n\n"
                      "def main():\n    m = tf.keras.Sequential([tf.keras.layers.Dense(1)])\n"
                      "    m.fit([[0.0]], [0.0])\n\n\nif __name__ == '__main__':\n    seed_everything(42)\n"
                      "    main()  # run it\n",
        }, "present", "a one-line main block becomes a block; its comment stays"),
        FixExample({
            "train.ipynb": '{"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": '
                           '["import torch\\n", "m = torch.nn.Linear(2, 1)\\n", "m(torch.randn(1, 2)).sum().backward()\\n"]}], '
                           '"metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
        }, {"train.ipynb": None}, "absent", "a notebook gets a suggestion, never a write",
            suggests=("train.ipynb",)),
    )

    def plan(self, ctx):
        facts = ctx.facts
        graph = facts.graph
        entries = [Entry(ep.target, ep.label, ep.node) for ep in graph.primary_training_entry_points]
        entries = entries or top_level_training(facts)
        if not entries:
            yield Skip(".", "no training entry point found (nothing runs the training code), "
                            "so there is no unambiguous place to seed")
            return
        seed, source = config_seed(facts)
        per_file: Dict[str, List[Tuple[object, List[str]]]] = {}
        for ep in entries:
            reach = graph.reachable(ep.node)
            calls = graph.calls_in(reach)
            seeded = seeded_families(calls)
            used = {f for _, c in calls for f in [consumed_family(c)] if f}
            if seeded and all(covers(seeded, f) for f in used):
                continue
            roots: Set[str] = set()
            for path in graph.scopes_in(reach):
                idx = facts.code.get(path)
                if idx is not None:
                    roots |= idx.imported_roots
            lines = seeding_lines(roots, used)
            if not lines:
                yield Skip(ep.path, "the training uses no random number generator mlscan knows how to seed")
                continue
            target_path = ep.target.split(":", 2)[1]
            per_file.setdefault(target_path, []).append((ep, lines))
        for path, items in sorted(per_file.items()):
            yield from self._edit_file(ctx, path, items, seed, source)

    def _edit_file(self, ctx, path: str, items, seed: int, source: str):
        lines = sorted({ln for _, ls in items for ln in ls}, key=ORDER.index)
        comment = f"  # the seed in {source}" if source else ""
        if path.endswith(".ipynb"):
            yield Suggest(path, "add this in the first code cell", helper_code("seed_everything", lines)
                          + f"\n\nseed_everything({seed}){comment}\n")
            return
        text = ctx.workspace.read(path)
        if text is None:
            yield Skip(path, "cannot read the entry point's file")
            return
        module = C.parse(text)
        name = C.free_name(top_level_names(module.code), "seed_everything", "seed_rngs", "mlscan_seed_rngs")
        # JAX has no global RNG: the helper returns a key made from the seed, for the training to pass on
        call_code = f"{'rng_key = ' if 'jax' in lines else ''}{name}({seed}){comment}\n"
        new = module
        at_top = False
        for target in sorted({ep.target for ep, _ in items}):
            kind, rest = target.split(":", 1)
            if kind == "def":
                changed = C.insert_in_function(new, rest.split(":", 1)[1], C.statements(new, call_code))
            elif C.main_block_index(new) is not None:
                changed = C.insert_in_main(new, C.statements(new, call_code))
            else:
                changed, at_top = new, True      # a top-level script: seed right after the helper
            if changed is None:
                yield Skip(path, f"cannot tell where the training in {target} starts (a one-line body?)")
                return
            new = changed
        helper = [C.with_blank_lines(C.statements(new, helper_code(name, lines))[0], 2)]
        if at_top:
            helper.append(C.with_blank_lines(C.statements(new, call_code)[0], 2))
        new = C.insert_module_level(new, C.import_end(new), helper)
        yield Edit(path, new.code, f"seed {', '.join(_family(ln) for ln in lines)} at the start of "
                                   f"{', '.join(sorted({ep.label for ep, _ in items}))}")


ORDER = ["lightning", "pytorch_lightning", "transformers", "keras", "random", "numpy", "torch", "tensorflow", "jax"]
SEED_CALLS = {
    "lightning": ("import lightning", "lightning.seed_everything(seed, workers=True)"),
    "pytorch_lightning": ("import pytorch_lightning", "pytorch_lightning.seed_everything(seed, workers=True)"),
    "transformers": ("import transformers", "transformers.set_seed(seed)"),
    "keras": ("import keras", "keras.utils.set_random_seed(seed)"),
    "random": ("import random", "random.seed(seed)"),
    "numpy": ("import numpy as np", "np.random.seed(seed)"),
    "torch": ("import torch", "torch.manual_seed(seed)\n    torch.cuda.manual_seed_all(seed)"),
    "tensorflow": ("import tensorflow as tf", "tf.random.set_seed(seed)"),
    "jax": ("import jax", "return jax.random.PRNGKey(seed)  # pass this key to the jax.random calls"),
}


def _family(line: str) -> str:
    return {"lightning": "every RNG (Lightning)", "pytorch_lightning": "every RNG (Lightning)",
            "transformers": "every RNG (transformers)", "keras": "every RNG (Keras)"}.get(line, line)


def seeding_lines(roots: Set[str], used: Set[str]) -> List[str]:
    """The seed calls for what the training imports and draws from."""
    for everything in ("lightning", "pytorch_lightning", "transformers"):
        if everything in roots:
            return [everything] + (["jax"] if "jax" in used else [])
    if "keras" in roots and "tensorflow" not in roots:
        return ["keras"] + (["jax"] if "jax" in used else [])   # Keras 3 seeds Python, NumPy and its backend
    out = []
    if "random" in used:
        out.append("random")
    if "numpy" in used or "numpy" in roots or "sklearn" in roots:
        out.append("numpy")        # scikit-learn draws from NumPy's global RNG when random_state is None
    if "torch" in used or "torch" in roots:
        out.append("torch")
    if "tensorflow" in used or "tensorflow" in roots:
        out.append("tensorflow")
    if "jax" in used:
        out.append("jax")
    if not out and "random" in roots:
        out.append("random")
    return out


def helper_code(name: str, lines: List[str]) -> str:
    imports = sorted({SEED_CALLS[ln][0] for ln in lines}, key=lambda s: (s.startswith("import random") is False, s))
    calls = [SEED_CALLS[ln][1] for ln in lines if ln != "jax"] + [SEED_CALLS["jax"][1] for ln in lines if ln == "jax"]
    body = "\n".join(f"    {i}" for i in imports) + "\n\n" + "\n".join(f"    {c}" for c in calls)
    return (f"def {name}(seed):\n"
            f"    \"\"\"Seed the random number generators the training uses (added by `mlscan fix`).\"\"\"\n"
            f"{body}\n")


def top_level_training(facts) -> List[Entry]:
    """Modules that train at their top level and that no other module imports: running the file
    is the only way in, so its top is the entry point (short scripts the graph does not list)."""
    graph = facts.graph
    out = []
    for path in graph.training_modules:
        idx = facts.code[path]
        if idx.is_notebook or not any(c.scope == "<module>" and is_training_call(c) for c in idx.calls):
            continue
        if any(kind == "imports" for _, _, kind in graph.g.in_edges(f"mod:{path}", data="kind")):
            continue
        out.append(Entry(f"mod:{path}", f"{path} (top level)", f"mod:{path}"))
    return out


def config_seed(facts) -> Tuple[int, str]:
    """The seed from the repo's own config files (params.yaml, configs/*.yaml, ...), else 42."""
    for path in sorted(facts.config_files, key=lambda p: (p.count("/"), p)):
        if path.split("/")[0] in NOT_CONFIG or not path.endswith((".yaml", ".yml", ".json", ".toml")) \
                or path.endswith(("pyproject.toml", "package.json")):
            continue
        doc = facts.config(path)
        if doc is None or doc.error:
            continue
        for data in doc.docs:
            for key, value in walk(data, budget=5000):
                if key in SEED_NAMES and isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                    return value, path
    return DEFAULT_SEED, ""
