from __future__ import annotations

import re

from mlscan.rulekit import Example, Rule
from mlscan.rules._vocab import RECORD_FILE_WRITES

# a repo class or function named for keeping experiment runs (`ExperimentTracker`, `RunLogger`, `log_experiment`)
TRACKER_NAME = re.compile(r"(?i)(experiment|run|trial)_?(tracker|logger|registry|store|db|database|log)$|"
                          r"^_*(log|record|save|store)_(experiment|run)s?(_results?)?$")
SINKS = ("sqlite3.", "sqlalchemy.", "json.dump", "csv.writer", "pandas.DataFrame().to_csv", "duckdb.")


class HomemadeExperimentTracker(Rule):
    """Training records its runs in a tracker of its own

    A partial form of experiment tracking: the repo keeps its own experiment store - a class or
    function named for it (`ExperimentTracker`, `RunLogger`, `log_experiment`) that writes runs'
    configurations and metrics to SQLite, JSON or CSV - and code that an entry point reaches uses
    it - or a logger or callback class of its own, derived from a training framework's
    (`TrainerCallback.on_log`, Lightning's logger base), that writes the metrics to a local file.
    Runs are recorded, but without a tracker's comparison, artefacts and UI.
    """

    id = "tracking-homemade"
    practice = "experiment-tracking"
    examples = (
        Example({
            "src/experiment_tracker.py": "import json\nimport sqlite3\n\n\nclass ExperimentTracker:\n"
                                         "    def __init__(self, db_path='results/experiments.db'):\n"
                                         "        self.conn = sqlite3.connect(db_path)\n\n"
                                         "    def log_run(self, name, config, metrics):\n"
                                         "        self.conn.execute('insert into runs values (?, ?, ?)',\n"
                                         "                          (name, json.dumps(config), json.dumps(metrics)))\n",
            "run_suite.py": "from sklearn.linear_model import LogisticRegression\nfrom src.experiment_tracker import ExperimentTracker\n\n\n"
                            "def main():\n    tracker = ExperimentTracker()\n    for c in (0.1, 1.0):\n"
                            "        m = LogisticRegression(C=c).fit([[0], [1]], [0, 1])\n"
                            "        tracker.log_run(f'C={c}', {'C': c}, {'acc': m.score([[0], [1]], [0, 1])})\n\n\n"
                            "if __name__ == '__main__':\n    main()\n",
        }, "partial", "runs go to a SQLite table of the repo's own", fires=True),
        Example({
            "src/experiment_tracker.py": "import sqlite3\n\n\nclass ExperimentTracker:\n"
                                         "    def __init__(self, db_path='results/experiments.db'):\n"
                                         "        self.conn = sqlite3.connect(db_path)\n",
            "train.py": "from sklearn.linear_model import LogisticRegression\nLogisticRegression().fit([[0], [1]], [0, 1])\n",
        }, "absent", "a tracker class nothing uses records no run", fires=False),
        Example({
            "train_lora.py": "from transformers import Trainer, TrainerCallback\n\n\nclass CsvLogger(TrainerCallback):\n"
                             "    def __init__(self, path):\n        self.fh = open(path, 'w')\n\n"
                             "    def on_log(self, args, state, control, logs=None, **kw):\n"
                             "        self.fh.write(f\"{state.global_step},{logs['loss']}\\n\")\n\n\n"
                             "def main():\n    trainer = Trainer(model=None, args=None)\n    trainer.add_callback(CsvLogger('log.csv'))\n"
                             "    trainer.train()\n\n\nif __name__ == '__main__':\n    main()\n",
        }, "partial", "a TrainerCallback of the repo's own writes the loss to a CSV file", fires=True),
        Example({
            "train.py": "import lightning.pytorch as pl\nimport pandas as pd\n\n\nclass TableLogger(pl.loggers.Logger):\n"
                        "    rows = []\n\n    def log_metrics(self, metrics, step=None):\n"
                        "        self.rows.append(metrics)\n        pd.DataFrame(self.rows).to_parquet('metrics.parquet')\n\n\n"
                        "pl.Trainer(logger=TableLogger()).fit(None)\n",
        }, "partial", "a Lightning logger of the repo's own writes the metrics to a Parquet table", fires=True),
    )

    def check(self, facts):
        own = self._own_loggers(facts)
        if own:
            yield own
            return
        graph = facts.graph
        reached = graph.code_reach_all([ep.node for ep in graph.entry_points if ep.kind != "serve"])
        for idx in facts.non_test_code():
            if not any(c.name.startswith(SINKS) for c in idx.calls):
                continue
            for qual, d in sorted(idx.defs.items()):
                if "." in qual or not TRACKER_NAME.search(qual):
                    continue
                node = f"def:{idx.path}:{qual}"
                if node not in reached:
                    continue
                sink = next((c.name for c in idx.calls if c.name.startswith(SINKS)
                             and (c.scope == qual or c.scope.startswith(qual + "."))), None)
                if sink:
                    yield self.found("partial", idx.path, d.line,
                                     f"a homemade experiment tracker: {qual} records runs via {sink}; "
                                     f"no experiment tracker keeps them")
                    return

    def _own_loggers(self, facts):
        """A logger or callback class of the repo's own, derived from a training framework's (`TrainerCallback.on_log`,
        Lightning's `LightningLoggerBase.log_metrics`), whose methods write the metrics to a local file."""
        for idx in facts.non_test_code():
            if idx.is_notebook:
                continue
            for qual, d in sorted(idx.defs.items()):
                if d.kind != "class" or not any(b.startswith(LOGGER_BASES) for b in d.bases):
                    continue
                writes = next((c for c in idx.calls if (c.scope == qual or c.scope.startswith(qual + "."))
                               and (c.attr in RECORD_FILE_WRITES or c.name.startswith(SINKS))), None)
                if writes is not None:
                    return self.found("partial", idx.path, d.line,
                                      f"{qual.rsplit('.', 1)[-1]} (a {next(b for b in d.bases if b.startswith(LOGGER_BASES))}) "
                                      f"writes the training's metrics to a local file (.{writes.attr}()); no experiment tracker")
        return None


# framework base classes for loggers and callbacks: a subclass of the repo's own is a homemade run log
LOGGER_BASES = ("transformers.TrainerCallback", "transformers.trainer_callback.TrainerCallback",
                "pytorch_lightning.loggers.LightningLoggerBase", "pytorch_lightning.loggers.base.LightningLoggerBase",
                "pytorch_lightning.loggers.Logger", "pytorch_lightning.loggers.logger.Logger",
                "lightning.pytorch.loggers.Logger", "lightning.pytorch.loggers.logger.Logger",
                "pytorch_lightning.logging.LightningLoggerBase")
