"""Which calls seed which random number generators, and which consume them (shared by seed rules)."""
from __future__ import annotations

import re
from typing import FrozenSet, Iterable, Optional, Set, Tuple

from mlscan.facts.pycode import NOT_LITERAL, CallSite

ALL = "all"
SEEDERS = {
    "random.seed": "random",
    "numpy.random.seed": "numpy", "numpy.random.default_rng": "numpy", "numpy.random.RandomState": "numpy",
    "numpy.random.Generator": "numpy", "numpy.random.SeedSequence": "numpy",
    "torch.manual_seed": "torch", "torch.random.manual_seed": "torch", "torch.cuda.manual_seed": "torch",
    "torch.cuda.manual_seed_all": "torch", "torch.Generator().manual_seed": "torch.Generator",
    "tensorflow.random.set_seed": "tensorflow", "tensorflow.set_random_seed": "tensorflow",
    "tensorflow.compat.v1.set_random_seed": "tensorflow", "tensorflow.keras.utils.set_random_seed": ALL,
    "keras.utils.set_random_seed": ALL, "jax.random.PRNGKey": "jax", "jax.random.key": "jax",
    "pytorch_lightning.seed_everything": ALL, "lightning.seed_everything": ALL, "lightning.pytorch.seed_everything": ALL,
    "pytorch_lightning.utilities.seed.seed_everything": ALL, "lightning_fabric.utilities.seed.seed_everything": ALL,
    "lightning.fabric.utilities.seed.seed_everything": ALL, "lightning.pytorch.utilities.seed.seed_everything": ALL,
    "transformers.set_seed": ALL, "transformers.trainer_utils.set_seed": ALL, "accelerate.utils.set_seed": ALL,
    "fastai.torch_core.set_seed": ALL, "fastai.vision.all.set_seed": ALL, "fastai.tabular.all.set_seed": ALL,
    "mmengine.runner.set_random_seed": ALL, "mmcv.runner.set_random_seed": ALL, "mmdet.apis.set_random_seed": ALL,
    "detectron2.utils.env.seed_all_rng": ALL, "ignite.utils.manual_seed": ALL, "keras.utils.set_random_seed.": ALL,
    "tensorflow.keras.utils.set_random_seed.": ALL, "paddle.seed": "paddle", "mxnet.random.seed": "mxnet",
    "cupy.random.seed": "cupy", "sklearn.utils.check_random_state": "sklearn",
    "random.Random": "random.Random",
    "jittor.set_global_seed": ALL, "jittor.misc.set_global_seed": ALL,
}
# "random.Random": a generator of its own (`rng = random.Random(42)` for a split), not the module's
# Trainers that seed every RNG with a default seed when they are built (TrainingArguments.seed = 42)
DEFAULT_SEEDED_TRAINERS = re.compile(r"^(transformers\.(Trainer|Seq2SeqTrainer|TrainingArguments|Seq2SeqTrainingArguments)|"
                                     r"trl\.(SFTTrainer|DPOTrainer|RewardTrainer|PPOTrainer|ORPOTrainer|KTOTrainer|GRPOTrainer|"
                                     r"SFTConfig|DPOConfig|RewardConfig|ORPOConfig|KTOConfig|GRPOConfig))$")
# framework training pipelines that seed every RNG from a key of their options file
OPTION_SEEDED_PIPELINES = {"basicsr.train.train_pipeline": "manual_seed"}
# "torch.Generator": a generator of its own (a seeded `random_split`), not the global torch RNG that
# weight initialisation, dropout and shuffling draw from
# names a seed goes by, as a config key, a setting or a keyword argument (`rng=` as a keyword too)
SEED_NAMES = frozenset({"seed", "random_seed", "random_state", "rng_seed", "manual_seed"})
SEED_KWARGS = SEED_NAMES | {"rng"}
# Libraries whose RNG the training uses when their calls appear in the training code.
CONSUMER_PREFIXES = {
    "random": ("random.shuffle", "random.random", "random.randint", "random.choice", "random.choices",
               "random.sample", "random.uniform", "random.gauss", "random.randrange"),
    "numpy": ("numpy.random.",),
    "torch": ("torch.rand", "torch.randn", "torch.randint", "torch.randperm", "torch.normal", "torch.bernoulli",
              "torch.multinomial", "torch.nn.init.", "torch.utils.data.random_split", "torch.nn.Dropout",
              "torch.utils.data.DataLoader", "torch.nn.Linear", "torch.nn.Conv", "torch.nn.Embedding",
              "torch.nn.LSTM", "torch.nn.GRU", "torch.nn.Transformer"),
    "tensorflow": ("tensorflow.random.", "tensorflow.keras.layers.", "keras.layers.", "tensorflow.keras.Sequential",
                   "keras.Sequential", "tensorflow.keras.Model", "keras.Model"),
    "jax": ("jax.random.",),
}


def seeded_family(call: CallSite) -> Optional[str]:
    """The RNG family a call seeds ("all" for seed-everything helpers), or None."""
    name = call.name
    fam = SEEDERS.get(name)
    if (fam is not None or name.endswith("manual_seed")) and _drawn_at_random(call):
        return None   # `torch.manual_seed(np.random.randint(...))`: a fresh seed each run seeds nothing
    if fam is not None:
        if name in ("numpy.random.default_rng", "numpy.random.RandomState", "jax.random.PRNGKey", "jax.random.key",
                    "numpy.random.Generator", "random.Random") and not call.args and not call.kwargs:
            return None  # an unseeded generator
        if call.args and call.args[0] is None:
            return None
        return fam
    if name.endswith("manual_seed") and name.startswith("torch."):
        return "torch"
    if name.endswith(".LightningCLI") and name.startswith(("lightning", "pytorch_lightning")):
        seed = call.kwarg("seed_everything_default")   # the CLI calls seed_everything with it
        return ALL if isinstance(seed, int) and not isinstance(seed, bool) else None
    for key, value in call.kwargs:
        if key in SEED_KWARGS and value is not None:
            if key == "random_state" or name.startswith("sklearn."):
                return "sklearn"
            return "lib"
    return None


# where a seed drawn at run time comes from: an unseeded global RNG, the clock, the OS
_RANDOM_SOURCES = ("random.", "numpy.random.", "torch.rand", "torch.seed", "time.time", "os.urandom", "secrets.")


def _drawn_at_random(call: CallSite) -> bool:
    """The seed argument is the result of a random draw (`np.random.randint(...)`, `time.time()`)."""
    return any(r.endswith("()") and r[:-2].startswith(_RANDOM_SOURCES) and r[:-2] not in SEEDERS for r in call.refs)


def seeded_families(calls: Iterable[Tuple[object, CallSite]]) -> Set[str]:
    """The RNG families that any of `calls` ((index, call) pairs, as `graph.calls_in` gives) seeds."""
    return {fam for fam in (seeded_family(call) for _, call in calls) if fam}


def training_seeded_families(facts) -> FrozenSet[str]:
    """seeded_families of the seeding closure's calls, once per scan (several rules ask)."""
    def compute() -> FrozenSet[str]:
        return frozenset(seeded_families(facts.graph.calls_in(seeding_closure(facts))))
    return facts.memo("seeded-families:training-closure", compute)


# acc6a: entry points that call fit/backward but are not training runs (their seeding says nothing)
_NOT_TRAINING_RUN = re.compile(r"(?i)(bench|export|demo|profil|convert|example|sample|infer|predict|serv|app\b|"
                               r"visuali[sz]|plot|debug|scratch|test)")


def seeding_closure(facts) -> FrozenSet[str]:
    """The code every training run reaches, with the methods of the objects it builds: the training
    entry points named for training and the others that train as well (a pipeline runner beside a
    `Training.ipynb`, the job's `run.py` beside a research notebook, every lesson notebook that fits a
    model). Benchmark, export, demo and inference scripts are left out. The seed rules judge this one
    set, so seeding and the randomness it should cover are looked for in the same code."""
    def compute() -> FrozenSet[str]:
        from mlscan.rules._serving import with_methods
        graph = facts.graph
        primary = {ep.node for ep in graph.primary_training_entry_points}
        others = [ep.node for ep in graph.training_entry_points
                  if ep.node not in primary and not _NOT_TRAINING_RUN.search(ep.target.split(":", 2)[-1])]
        nodes = set(graph.training_closure) | graph.code_reach_all(others)
        return frozenset(with_methods(graph, nodes))
    return facts.memo("seeding-closure", compute)


def unseeded_search_scope(facts) -> FrozenSet[str]:
    """Where the counter-evidence rules look for randomness nobody seeded: the training named for
    training (with the methods of objects it builds) and, when that training is only notebooks, the
    scripts that train beside them (the pipeline runner next to `Training.ipynb`). Lesson notebooks
    and experiments beside a training script are not searched: their randomness is not the model's."""
    def compute() -> FrozenSet[str]:
        from mlscan.rules._serving import with_methods
        graph = facts.graph
        primary = graph.primary_training_entry_points
        nodes = set(graph.training_closure)
        if primary and all(ep.kind == "notebook" for ep in primary):
            nodes |= graph.code_reach_all(ep.node for ep in graph.training_entry_points
                                          if ep.kind != "notebook" and ep not in primary
                                          and not _NOT_TRAINING_RUN.search(ep.target.split(":", 2)[-1]))
        return frozenset(with_methods(graph, nodes))
    return facts.memo("unseeded-search-scope", compute)


def consumed_family(call: CallSite) -> Optional[str]:
    name = call.name
    if name in SEEDERS or name.endswith("manual_seed"):
        return None
    for fam, prefixes in CONSUMER_PREFIXES.items():
        if name.startswith(prefixes):
            if fam == "numpy" and name.rsplit(".", 1)[-1] in ("seed", "default_rng", "RandomState", "SeedSequence",
                                                               "get_state", "set_state", "Generator", "PCG64"):
                return None
            if name == "torch.utils.data.DataLoader" and call.kwarg("shuffle") not in (True, NOT_LITERAL):
                return None
            if name == "torch.utils.data.random_split" and call.has_kwarg("generator"):
                return None   # draws from the generator it is handed, not the global torch RNG
            return fam
    return None


def covers(seeded: Set[str], family: str) -> bool:
    return ALL in seeded or family in seeded
