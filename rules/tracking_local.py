from __future__ import annotations

import re
from operator import attrgetter

from mlscan.facts.calltable import calls_in_scopes
from mlscan.rulekit import Example, Rule
from mlscan.rules._mlcode import pipeline_nodes
from mlscan.rules._vocab import run_metrics_name

# Trainers that keep a log history and report to every tracker they find installed (report_to="all" by default)
HF_TRAINERS = {"transformers.Trainer", "transformers.Seq2SeqTrainer", "trl.SFTTrainer", "trl.DPOTrainer",
               "trl.RewardTrainer", "setfit.Trainer", "transformers.trainer.Trainer", "transformers.trainer_seq2seq.Seq2SeqTrainer"}
METRIC_NAME = re.compile(r"(?i)(stats|metric|loss|acc|score|result|log|history)")
FILE_SAVES = {"write", "writelines", "save_file", "write_text"}
ARRAY_SAVES = {"numpy.savetxt", "numpy.save"}
# a pandas table built in place (the receiver of `.to_csv` when no variable name survives)
FRAMES = ("pandas.DataFrame", "pandas.DataFrame.from_dict", "pandas.DataFrame.from_records")
SAGEMAKER_METRICS = ("metric_definitions", "objective_metric_name")
# training frameworks' own run-log writers: a CSV or JSON log of each run's metrics in its output folder
FILE_LOGGERS = {"CSVLogger", "LogReport"}
FILE_LOGGER_ROOTS = ("keras", "tensorflow", "tf_keras", "pytorch_pfn_extras", "chainer", "fastai", "ignite")
# Lightning trainers: with no `logger=` they write each run's metrics and hparams to lightning_logs/version_N
LIGHTNING_TRAINERS = {"pytorch_lightning.Trainer", "pytorch_lightning.trainer.Trainer", "pytorch_lightning.trainer.trainer.Trainer",
                      "lightning.Trainer", "lightning.pytorch.Trainer", "lightning.pytorch.trainer.Trainer",
                      "lightning.pytorch.trainer.trainer.Trainer"}



# (rule examples) an evaluator whose metrics writer only counts when something calls it
_EVALUATOR = ("import json\nfrom sklearn.metrics import accuracy_score\n\n\nclass Evaluator:\n"
              "    def evaluate(self, model, X, y):\n        self.metrics = {'acc': accuracy_score(y, model.predict(X))}\n"
              "        return self.metrics\n\n    def save_report(self, path):\n"
              "        with open(path, 'w') as f:\n            json.dump(self.metrics, f)\n")

class RunsRecordedWithoutTracker(Rule):
    """Training records its runs, but not in an experiment tracker

    Partial forms of experiment tracking, where each run leaves a record but no tracker keeps it:
    training through a Hugging Face `Trainer` (or a subclass) that sets no `report_to` - it writes
    its log history to `trainer_state.json` and reports to whichever trackers happen to be
    installed; a Lightning `Trainer` given no `logger=`, whose default logger keeps each run's metrics
    and hyperparameters in a local `lightning_logs/version_N` folder; a framework's own run-log writer
    (Keras/fastai `CSVLogger`, pytorch-pfn-extras/Chainer `LogReport`); the run's metrics serialised to a
    JSON or CSV file or a NumPy text array (`json.dump(metrics, f)`, `results_df.to_csv(...)`,
    `np.savetxt('loss.txt', loss_history)`, a table built from them
    (`pd.DataFrame.from_dict([metrics]).to_csv(path)`), `np.save('results/td3_hopper_0', evaluations)`; a pickle is a
    value, not a record, and a metrics text file written by hand is not counted); a training loop that
    appends JSON lines of its metrics to a run file
    (`print(json.dumps(stats), file=log)`); and SageMaker training or tuning jobs that scrape the
    job's metrics (`metric_definitions=`, `objective_metric_name=`). Trainers and run files count
    only in code that a training entry point or a declared pipeline reaches (a method of a plain class
    that no code calls by its name does not run); a SageMaker job
    definition counts wherever it is (it is the training's launcher).
    """

    id = "tracking-local"
    practice = "experiment-tracking"
    examples = (
        Example({
            "train.py": "import transformers\n\n\ndef train():\n    args = transformers.TrainingArguments('out')\n"
                        "    model = transformers.AutoModelForCausalLM.from_pretrained('gpt2')\n"
                        "    trainer = transformers.Trainer(model=model, args=args)\n    trainer.train()\n\n\n"
                        "if __name__ == '__main__':\n    train()\n",
        }, "partial", "a Hugging Face Trainer with no report_to", fires=True),
        Example({
            "train.py": "import transformers\n\n\ndef train():\n"
                        "    args = transformers.TrainingArguments('out', report_to='none')\n"
                        "    model = transformers.AutoModelForCausalLM.from_pretrained('gpt2')\n"
                        "    transformers.Trainer(model=model, args=args).train()\n\n\n"
                        "if __name__ == '__main__':\n    train()\n",
        }, "absent", "a Trainer told to report nowhere (report_to='none')", fires=False),
        Example({
            "train.py": "import json\nimport torch\n\n\ndef main():\n    log = open('stats.txt', 'a')\n"
                        "    model = torch.nn.Linear(2, 1)\n    opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
                        "    for step in range(10):\n        loss = model(torch.zeros(1, 2)).sum()\n"
                        "        loss.backward()\n        opt.step()\n"
                        "        stats = dict(step=step, loss=loss.item())\n"
                        "        print(json.dumps(stats), file=log)\n\n\nif __name__ == '__main__':\n    main()\n",
        }, "partial", "JSON lines of metrics appended to a run file", fires=True),
        Example({
            "train.py": "import json\nimport torch\n\n\ndef main():\n    model = torch.nn.Linear(2, 1)\n"
                        "    loss = model(torch.zeros(1, 2)).sum()\n    print('loss', loss.item())\n"
                        "    json.dump({'path': 'model.pt'}, open('meta.json', 'w'))\n\n\n"
                        "if __name__ == '__main__':\n    main()\n",
        }, "absent", "metrics printed; a metadata file is not a run log", fires=False),
        Example({
            "pipelines/pipeline.py": "from sagemaker.tuner import HyperparameterTuner\n\n\ndef get_pipeline(estimator, ranges):\n"
                                     "    return HyperparameterTuner(estimator, objective_metric_name='validation:auc',\n"
                                     "                               hyperparameter_ranges=ranges)\n",
        }, "partial", "a SageMaker tuning job keeps each trial's objective metric", fires=True),
        Example({
            "train.py": "import pytorch_lightning as pl\nfrom model import Net\n\n\ndef main():\n"
                        "    trainer = pl.Trainer(max_epochs=10, accelerator='gpu')\n    trainer.fit(Net())\n\n\n"
                        "if __name__ == '__main__':\n    main()\n",
            "model.py": "import torch\nimport pytorch_lightning as pl\n\n\nclass Net(pl.LightningModule):\n"
                        "    def __init__(self):\n        super().__init__()\n        self.layer = torch.nn.Linear(2, 1)\n\n"
                        "    def training_step(self, batch, i):\n        loss = self.layer(batch).sum()\n"
                        "        self.log('train_loss', loss)\n        return loss\n",
        }, "partial", "a Lightning Trainer with its default local logger (lightning_logs)", fires=True),
        Example({
            "train.py": "from lightning.pytorch import Trainer\nfrom model import Net\n\n\ndef main():\n"
                        "    Trainer(max_epochs=3, logger=False).fit(Net())\n\n\nif __name__ == '__main__':\n    main()\n",
            "model.py": "import torch\nfrom lightning.pytorch import LightningModule\n\n\nclass Net(LightningModule):\n"
                        "    def training_step(self, batch, i):\n        return batch.sum()\n",
        }, "absent", "a Lightning Trainer with logging switched off (logger=False)", fires=False),
        Example({
            "train.py": "import torch\nimport pytorch_pfn_extras as ppe\nimport pytorch_pfn_extras.training.extensions as E\n\n\n"
                        "def main():\n    model = torch.nn.Linear(2, 1)\n    opt = torch.optim.Adam(model.parameters(), lr=1e-3)\n"
                        "    manager = ppe.training.ExtensionsManager(model, opt, 10, out_dir='results')\n"
                        "    manager.extend(E.LogReport(filename='log'))\n    for _ in range(10):\n"
                        "        with manager.run_iteration():\n            loss = model(torch.zeros(1, 2)).sum()\n"
                        "            loss.backward()\n            opt.step()\n\n\nif __name__ == '__main__':\n    main()\n",
        }, "partial", "pytorch-pfn-extras LogReport writes the run's metrics log", fires=True),
        Example({
            "train.py": "from tensorflow import keras\n\n\ndef main():\n    model = keras.Sequential([keras.layers.Dense(1)])\n"
                        "    model.compile('adam', 'mse')\n"
                        "    model.fit([[0.0]], [[1.0]], callbacks=[keras.callbacks.CSVLogger('training.log')])\n\n\n"
                        "if __name__ == '__main__':\n    main()\n",
        }, "partial", "a Keras CSVLogger callback keeps each epoch's metrics", fires=True),
        Example({
            "train.py": "import json\nfrom sklearn.linear_model import LogisticRegression\nfrom sklearn.metrics import f1_score\n\n\n"
                        "def main():\n    m = LogisticRegression().fit([[0], [1]], [0, 1])\n"
                        "    metrics = {'f1': f1_score([0, 1], m.predict([[0], [1]]))}\n"
                        "    with open('evaluation.json', 'w') as f:\n        json.dump(metrics, f)\n\n\n"
                        "if __name__ == '__main__':\n    main()\n",
        }, "partial", "the run's metrics dumped to a JSON file", fires=True),
        Example({
            "train.py": "import json\nimport pickle\nfrom sklearn.linear_model import LogisticRegression\n\n\n"
                        "def main():\n    m = LogisticRegression().fit([[0], [1]], [0, 1])\n"
                        "    metrics = {'acc': m.score([[0], [1]], [0, 1])}\n"
                        "    pickle.dump(metrics, open('metrics.pkl', 'wb'))\n"
                        "    json.dump({'classes': [0, 1]}, open('labels.json', 'w'))\n\n\n"
                        "if __name__ == '__main__':\n    main()\n",
        }, "absent", "metrics pickled for an app, and a label map in JSON: no run record", fires=False),
        Example({
            "evaluation.py": _EVALUATOR,
            "train.py": "from sklearn.linear_model import LogisticRegression\nfrom evaluation import Evaluator\n\n\n"
                        "def main():\n    m = LogisticRegression().fit([[0], [1]], [0, 1])\n"
                        "    Evaluator().evaluate(m, [[0], [1]], [0, 1])\n\n\nif __name__ == '__main__':\n    main()\n",
        }, "absent", "an evaluator's metrics writer that no code calls records no run", fires=False),
        Example({
            "evaluation.py": _EVALUATOR,
            "train.py": "from sklearn.linear_model import LogisticRegression\nfrom evaluation import Evaluator\n\n\n"
                        "def main():\n    m = LogisticRegression().fit([[0], [1]], [0, 1])\n    ev = Evaluator()\n"
                        "    ev.evaluate(m, [[0], [1]], [0, 1])\n    ev.save_report('metrics.json')\n\n\n"
                        "if __name__ == '__main__':\n    main()\n",
        }, "partial", "the evaluator's metrics writer the training calls", fires=True),
        Example({
            "train.py": "import numpy as np\nimport torch\n\n\ndef main():\n    model = torch.nn.Linear(2, 1)\n"
                        "    opt = torch.optim.SGD(model.parameters(), lr=0.1)\n    loss_history = []\n"
                        "    for _ in range(10):\n        loss = model(torch.zeros(1, 2)).sum()\n        loss.backward()\n"
                        "        opt.step()\n        loss_history.append(loss.item())\n"
                        "    np.savetxt('run/loss.txt', loss_history)\n\n\nif __name__ == '__main__':\n    main()\n",
        }, "partial", "the loss history saved as a text array in the run's folder", fires=True),
        Example({
            "train.py": "from pathlib import Path\nfrom sklearn.linear_model import LogisticRegression\n\n\n"
                        "def main():\n    m = LogisticRegression().fit([[0], [1]], [0, 1])\n"
                        "    metrics = {'accuracy': m.score([[0], [1]], [0, 1])}\n"
                        "    Path('model_metrics.txt').write_text(str(metrics))\n\n\n"
                        "if __name__ == '__main__':\n    main()\n",
        }, "absent", "metrics written by hand to a text file: the labels split on it, so it is not counted", fires=False),
        Example({
            "main.py": "import numpy as np\nimport torch\n\n\ndef main():\n    policy = torch.nn.Linear(2, 1)\n"
                       "    opt = torch.optim.Adam(policy.parameters(), lr=3e-4)\n    evaluations = []\n"
                       "    for t in range(10):\n        loss = policy(torch.zeros(1, 2)).sum()\n"
                       "        loss.backward()\n"
                       "        opt.step()\n        evaluations.append(loss.item())\n"
                       "        np.save('./results/TD3_Hopper_0', evaluations)\n\n\n"
                       "if __name__ == '__main__':\n    main()\n",
        }, "partial", "the evaluation returns saved per run as a NumPy array", fires=True),
        Example({
            "main.py": "import numpy as np\nimport torch\n\n\ndef main():\n    model = torch.nn.Linear(2, 1)\n"
                       "    opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
                       "    loss = model(torch.zeros(4, 2)).sum()\n"
                       "    loss.backward()\n    opt.step()\n"
                       "    preds = model(torch.zeros(4, 2)).detach().numpy()\n"
                       "    np.save('out/preds.npy', preds)\n\n\n"
                       "if __name__ == '__main__':\n    main()\n",
        }, "absent", "predictions saved as a NumPy array are outputs, not a run record", fires=False),
        Example({
            "train.py": "import pandas as pd\nfrom sklearn.linear_model import LogisticRegression\n\n\n"
                        "def main():\n    m = LogisticRegression().fit([[0], [1]], [0, 1])\n"
                        "    metrics = {'acc': m.score([[0], [1]], [0, 1])}\n"
                        "    pd.DataFrame.from_dict([metrics]).to_csv('reports/metrics.csv')\n\n\n"
                        "if __name__ == '__main__':\n    main()\n",
        }, "partial", "a table built from the run's metrics and written to CSV", fires=True),
        Example({
            "train.py": "import pandas as pd\nfrom sklearn.linear_model import LogisticRegression\n\n\n"
                        "def main():\n    m = LogisticRegression().fit([[0], [1]], [0, 1])\n"
                        "    predictions = m.predict([[0], [1]])\n"
                        "    pd.DataFrame(predictions).to_csv('out/predictions.csv')\n\n\n"
                        "if __name__ == '__main__':\n    main()\n",
        }, "absent", "a table of predictions written to CSV is an output, not a run record", fires=False),
        Example({
            "train.py": "import pandas as pd\nfrom sklearn.linear_model import LogisticRegression\n\n\n"
                        "def main():\n    X = [[0], [1]]\n    m = LogisticRegression().fit(X, [0, 1])\n"
                        "    result = m.predict(X)\n"
                        "    pd.DataFrame({'x': X, 'result': result}).to_csv('out/result.csv')\n\n\n"
                        "if __name__ == '__main__':\n    main()\n",
        }, "absent", "inputs and a `result` column of predictions in one table: an output, not a run record", fires=False),
    )

    def check(self, facts):
        from mlscan.facts.repo import is_test_path
        graph = facts.graph
        scopes = graph.scopes_in(pipeline_nodes(facts))
        trainers = facts.call_table.named(_names_hf_trainer, external=True, attrs=_TRAINER_ATTRS)
        subclasses = _trainer_subclasses(facts)
        lightning = facts.call_table.named(_names_lightning_trainer, external=True, attrs={"Trainer"})
        file_loggers = facts.call_table.named(_names_file_logger, external=True, attrs=FILE_LOGGERS)
        for path in sorted(scopes):
            idx = facts.code.get(path)
            if idx is None or is_test_path(path):
                continue
            wanted = scopes[path]
            by_line = {}
            in_scope = calls_in_scopes(idx.calls, wanted)
            for call in in_scope:
                by_line.setdefault(call.line, []).append(call)
                # only a Trainer, or a call that may construct a repo class subclassing one, can be one
                trainer = self._hf_trainer(facts, idx, call) if subclasses or call in trainers.get(path, ()) else None
                if trainer and not any(c.has_kwarg("report_to") for c in idx.calls):  # report_to="none" opts out
                    yield self.found("partial", path, call.line,
                                     f"{trainer} keeps the run's log history (trainer_state.json) and reports only to "
                                     "trackers that happen to be installed; no tracker is configured")
                    return
            for call in calls_in_scopes(lightning.get(path, ()), wanted):
                if _default_logger(call):
                    yield self.found("partial", path, call.line,
                                     f"{facts.external_name(idx, call.name).lstrip('?')} keeps no logger of its own: "
                                     "Lightning's default logger writes each run's metrics to a local "
                                     "lightning_logs folder; no experiment tracker")
                    return
            for call in calls_in_scopes(file_loggers.get(path, ()), wanted):
                yield self.found("partial", path, call.line,
                                 f"{facts.external_name(idx, call.name).lstrip('?')} writes each run's metrics to a local "
                                 "log file; no experiment tracker")
                return
            uncalled = {scope: _uncalled_method(facts, idx, scope) for scope in {c.scope for c in in_scope}}
            metrics_file = _metrics_file([c for c in in_scope if not uncalled[c.scope]])
            if metrics_file is not None:
                call, what = metrics_file
                yield self.found("partial", path, call.line, f"the training writes its metrics ({what}) to a "
                                                             "file of its own; no experiment tracker")
                return
            for line, calls in sorted(by_line.items()):
                dumps = [c for c in calls if c.name == "json.dumps" and any(METRIC_NAME.search(n) for n in c.arg_names)]
                sink = [c for c in calls if (c.name == "print" and c.has_kwarg("file")) or c.attr in ("write", "writelines")]
                if dumps and sink:
                    yield self.found("partial", path, line,
                                     f"the training appends JSON lines of its metrics ({', '.join(dumps[0].arg_names[:2])}) "
                                     "to a run file; no experiment tracker")
                    return
        # a SageMaker pipeline or launcher is the training's definition wherever it lives
        from mlscan.rules._mlcode import in_example_dir
        sagemaker = facts.call_table.named(_sagemaker, external=True, roots=("sagemaker",))
        for idx in facts.non_test_code():
            for call in sagemaker.get(idx.path, ()):
                name = facts.external_name(idx, call.name)
                if not name.startswith("sagemaker") or in_example_dir(idx.path):
                    continue
                how = [k for k in SAGEMAKER_METRICS if call.has_kwarg(k)] or \
                    (["the tuning objective"] if name.endswith("HyperparameterTuner") else [])
                if how:
                    yield self.found("partial", idx.path, call.line, f"{name} has SageMaker record the job's metrics "
                                                                     f"({', '.join(how)}); no experiment tracker")
                    return

    @staticmethod
    def _hf_trainer(facts, idx, call):
        name = facts.external_name(idx, call.name).lstrip("?")
        if name in HF_TRAINERS:
            return name
        node = facts.graph.resolve_name(idx.path, call.name)
        if node and node.startswith("def:"):
            _, p, qual = node.split(":", 2)
            own = facts.code.get(p)
            d = own.defs.get(qual) if own is not None else None
            if d is not None and d.kind == "class" and any(b in HF_TRAINERS for b in d.bases):
                return f"{qual} (a {next(b for b in d.bases if b in HF_TRAINERS)})"
        return None


def _sagemaker(name: str) -> bool:
    return name.startswith("sagemaker")


_TRAINER_ATTRS = {t.rsplit(".", 1)[-1] for t in HF_TRAINERS}


def _names_hf_trainer(name: str) -> bool:
    return name.lstrip("?") in HF_TRAINERS


def _names_lightning_trainer(name: str) -> bool:
    return name.lstrip("?") in LIGHTNING_TRAINERS


def _uncalled_method(facts, idx, scope: str) -> bool:
    """A method no code of the repo calls or hands on by its name (`save_report` nobody calls), and
    no decorator registers: an object the training builds does not run it."""
    d = idx.defs.get(scope)
    owner = idx.defs.get(scope.rsplit(".", 1)[0]) if "." in scope else None
    if d is None or owner is None or owner.kind != "class" or d.decorators or \
            any(b not in ("object", "ABC", "abc.ABC") for b in owner.bases):
        return False   # a framework calls the hooks of its subclasses (`on_epoch_end`) by itself
    name = scope.rsplit(".", 1)[-1]
    if name.startswith("__"):
        return False

    def names() -> frozenset:
        out = set()
        refs = set()
        for idx in facts.code.values():
            out.update(map(attrgetter("attr"), idx.calls))
            for r in map(attrgetter("refs"), idx.calls):
                if r:
                    refs.update(r)
        out.update(r.rpartition(".")[2] for r in refs)
        return frozenset(out)
    return name not in facts.memo("called-names", names)


def _metrics_file(calls):
    """(call, metrics name) for a JSON dump or CSV export of the run's metrics to a file, else None."""
    scopes_writing = {c.scope for c in calls if c.attr in FILE_SAVES or (c.name == "print" and c.has_kwarg("file"))}
    for c in calls:
        if c.name == "json.dump" and len(c.args) >= 2 or c.name == "json.dumps" and c.scope in scopes_writing:
            what = run_metrics_name(n.rsplit(".", 1)[-1] for n in (*c.arg_names, *c.refs))
            if what:
                return c, what
        elif c.name in ARRAY_SAVES:
            # `np.savetxt('loss.txt', loss_history)`: a metrics array of the run; a text file written by hand is
            # not counted (labels split: a metrics .txt is "no" in two repos, partial in two)
            what = run_metrics_name(n.rsplit(".", 1)[-1] for n in c.arg_names)
            if what:
                return c, what
        elif c.attr == "to_csv":
            receiver = c.name.lstrip("?").rsplit(".", 2)
            what = run_metrics_name(receiver[-2:-1]) if len(receiver) >= 2 else ""
            if not what and c.name.startswith(FRAMES):
                # r13: a table built from the run's metrics and written out (`pd.DataFrame(results).to_csv(p)`,
                # `pd.DataFrame.from_dict([metrics]).to_csv(p)`): the frame's own name is lost, its source's is not
                # built from that one value alone: a table of inputs and predictions beside a `result` column is an
                # output (`pd.DataFrame({'X': X, 'result': preds})`, set 8), and so is `pd.DataFrame(eval_ds, probs)`
                what = next((w for f in calls if f.scope == c.scope and f.line <= c.line and f.name in FRAMES
                             and len(set(f.arg_names)) == 1 for w in [run_metrics_name(f.arg_names)] if w), "")
            if what:
                return c, what
    return None


def _names_file_logger(name: str) -> bool:
    parts = name.lstrip("?").split(".")
    return parts[-1].replace("()", "") in FILE_LOGGERS and parts[0] in FILE_LOGGER_ROOTS


def _default_logger(call) -> bool:
    """A Lightning Trainer that keeps its default logger: no `logger=`, or `logger=True`."""
    if call.has_kwarg("**"):   # Trainer(**cfg): the configuration may name a logger
        return False
    return not call.has_kwarg("logger") or call.kwarg("logger") is True


def _trainer_subclasses(facts) -> bool:
    """Whether any class of the repo's own subclasses a Hugging Face trainer."""
    return facts.memo("hf-trainer-subclasses", lambda: any(
        d.kind == "class" and any(b in HF_TRAINERS for b in d.bases) for idx in facts.code.values() for d in idx.defs.values()))
