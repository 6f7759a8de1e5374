from __future__ import annotations

from mlscan.facts.pycode import NOT_LITERAL
from mlscan.rulekit import Example, Rule
from mlscan.rules._seeding import SEEDERS

SEED_KEYS = {"seed", "random_seed", "random_state", "rng_seed"}


class SeedNullByDefault(Rule):
    """The configured seed is set by default

    Counter-evidence for seed control: the training seeds its RNGs from a configuration value
    (`seed_everything(cfg.seed)`), but the training configuration sets that value to null
    (`seed: null`), so runs are unseeded unless someone overrides it. Makes a seeded repo partial.
    """

    id = "seed-null-by-default"
    practice = "seed-control"
    examples = (
        Example({
            "configs/train.yaml": "defaults:\n  - model: mnist\n\nseed: null\ntrainer:\n  max_epochs: 10\n",
            "src/train.py": "import hydra\nimport lightning as L\n\n\n@hydra.main(config_path='../configs', config_name='train')\n"
                            "def main(cfg):\n    if cfg.get('seed'):\n        L.seed_everything(cfg.seed, workers=True)\n"
                            "    L.Trainer(max_epochs=cfg.trainer.max_epochs).fit(None)\n\n\nif __name__ == '__main__':\n    main()\n",
        }, "partial", "seed_everything(cfg.seed) with seed: null in the config", fires=True),
        Example({
            "configs/train.yaml": "seed: 42\ntrainer:\n  max_epochs: 10\n",
            "src/train.py": "import hydra\nimport lightning as L\n\n\n@hydra.main(config_path='../configs', config_name='train')\n"
                            "def main(cfg):\n    L.seed_everything(cfg.seed, workers=True)\n"
                            "    L.Trainer(max_epochs=cfg.trainer.max_epochs).fit(None)\n\n\nif __name__ == '__main__':\n    main()\n",
        }, "present", "the configured seed has a value", fires=False),
    )

    def check(self, facts):
        graph = facts.graph
        from_config = None
        for idx, call in graph.calls_in(graph.training_closure):
            if call.name in SEEDERS and call.args and call.args[0] is NOT_LITERAL \
                    and any(n.lower().endswith(("seed", "cfg", "config", "conf", "args", "hparams", "params"))
                            for n in call.arg_names):
                from_config = (idx.path, call.line, call.name)
                break
        if from_config is None:
            return
        for doc in facts.yaml_docs():
            if doc.path in facts.ci_files:
                continue
            for d in doc.mappings():
                key = next((k for k in SEED_KEYS if k in d and d[k] is None), None)
                if key:
                    line = facts.line_of(doc.path, rf"^{key}\s*:", regex=True) or 1
                    yield self.found("gap", doc.path, line,
                                     f"{from_config[2]} ({from_config[0]}:{from_config[1]}) takes its seed from the config, "
                                     f"but {doc.path} sets {key}: null, so runs are unseeded unless it is overridden")
                    return
