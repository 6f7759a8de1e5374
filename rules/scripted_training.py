from __future__ import annotations

from mlscan.rulekit import Example, Rule

SCRIPTED_KINDS = {"script": "script", "console-script": "console script", "pipeline": "pipeline stage",
                  "mlproject": "MLproject entry point", "ci": "CI step", "shell": "command", "docker": "container command"}
NO_TRAINING = ("no training code found (looked for fit/partial_fit, backward and optimizer steps, and trainer or "
               "booster train calls in scripts, modules and notebooks)")


class TrainingRunsFromScripts(Rule):
    """Training runs from scripts, not only from notebooks

    Finds the training entry points: scripts with a main block or top-level code, console scripts
    (`[project.scripts]`), dvc.yaml/MLproject stages, CI steps, Makefile and shell commands, and
    notebooks, that reach a training call (`fit`, `backward`, an optimizer `step`, a trainer's
    `train`) through the code graph. A training entry point that is not a notebook supports the
    practice. When only notebooks train (notebook-only training, smell SM-01) - including
    notebooks run by papermill or nbconvert - it is a gap; training code that lives in modules
    but is only run from notebooks, or from nowhere, is partial. Without any training code the
    practice does not apply.
    """

    id = "scripted-training"
    practice = "scripted-training"
    examples = (
        Example({
            "src/train.py": "import argparse\nfrom sklearn.linear_model import LogisticRegression\n\n"
                            "def main():\n    p = argparse.ArgumentParser()\n    p.add_argument('--c', type=float)\n"
                            "    args = p.parse_args()\n    LogisticRegression(C=args.c).fit([[0], [1]], [0, 1])\n\n"
                            "if __name__ == '__main__':\n    main()\n",
            "notebooks/eda.ipynb": '{"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": '
                                   '["import pandas as pd\\n", "pd.read_csv(\'data.csv\').describe()\\n"]}], '
                                   '"metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
        }, "present", "a command-line training script; the notebook only explores", fires=True),
        Example({
            "train.ipynb": '{"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": '
                           '["from sklearn.ensemble import RandomForestClassifier\\n", '
                           '"clf = RandomForestClassifier()\\n", "clf.fit(X, y)\\n"]}], '
                           '"metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
            "utils.py": "def load(path):\n    return open(path).read()\n",
        }, "absent", "notebook-only training (SM-01)", fires=True),
        Example({
            "src/model.py": "import torch\n\ndef fit(model, batches, opt):\n    for x, y in batches:\n"
                            "        loss = torch.nn.functional.mse_loss(model(x), y)\n        loss.backward()\n"
                            "        opt.step()\n",
            "run.ipynb": '{"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": '
                         '["from src.model import fit\\n", "fit(net, loader, opt)\\n"]}], '
                         '"metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
        }, "partial", "the training loop is in a module, but only a notebook runs it", fires=True),
        Example({
            "app.py": "from flask import Flask\napp = Flask(__name__)\n\n@app.get('/')\ndef index():\n    return 'hi'\n",
        }, "not-applicable", "no training code", fires=True),
    )

    def check(self, facts):
        graph = facts.graph
        training = graph.training_entry_points
        primary = set(graph.primary_training_entry_points)
        scripted = [ep for ep in training if ep.kind in SCRIPTED_KINDS and not ep.target.endswith(".ipynb")]
        if scripted:
            # the entry points named for training when there are any: benchmarks and demos also fit
            scripted = [ep for ep in scripted if ep in primary] or scripted
            scripted.sort(key=lambda ep: (ep.kind != "script", ep.path, ep.line))
            for ep in scripted[:4]:
                target = ep.target[4:] if ep.target.startswith("mod:") else ep.target.split(":")[1]
                how = SCRIPTED_KINDS[ep.kind]
                what = f"{target} trains when run as a {how}" if ep.kind in ("script", "console-script") else \
                    f"a {how} runs the training in {target}"
                yield self.found("supports", ep.path, ep.line, what)
            return
        notebook_runs = [ep for ep in training if ep.target.endswith(".ipynb")]
        modules = [p for p in graph.training_modules if not p.endswith(".ipynb")]
        if modules:
            path = modules[0]
            line = next((c.line for c in facts.code[path].calls if _trains(c)), 1)
            if notebook_runs:
                nb = notebook_runs[0].target[4:]
                yield self.found("partial", path, line,
                                 f"training code lives in {path}, but only notebooks run it (e.g. {nb}); "
                                 f"no script, console command or pipeline stage does")
            else:
                yield self.found("partial", path, line,
                                 f"training code in {path} has no entry point that runs it (no main block, "
                                 f"console script, pipeline stage or command)")
            return
        if notebook_runs:
            seen = set()
            for ep in notebook_runs:
                nb = ep.target[4:]
                if nb in seen:
                    continue
                seen.add(nb)
                idx = facts.code.get(nb)
                line = next((c.line for c in idx.calls if _trains(c)), 1) if idx else 1
                cell = idx.cell_of(line) if idx else None
                via = f" (run by {ep.label})" if ep.kind != "notebook" else ""
                yield self.found("gap", nb, line, f"training runs only in notebooks (SM-01): {nb} trains"
                                                  f"{f' in cell {cell}' if cell else ''}{via}")
                if len(seen) >= 3:
                    break
            return
        yield self.found("not-applicable", ".", None, NO_TRAINING)


def _trains(call) -> bool:
    from mlscan.facts.graph import is_training_call
    return is_training_call(call)
