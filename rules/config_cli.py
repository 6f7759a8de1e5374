from __future__ import annotations

import re
from typing import Dict, List, Optional, Set, Tuple

from mlscan.facts.ci import is_ci_path
from mlscan.rulekit import Example, Rule
from mlscan.rules._mlcode import training_code_nodes, ranked, strong_hyperparameters
from mlscan.rules._vocab import ENV_READS

OPTION_ATTRS = {"option", "argument", "Option", "Argument"}
ABSL_DEFINES = ("DEFINE_float", "DEFINE_integer", "DEFINE_string", "DEFINE_enum", "DEFINE_bool", "DEFINE_boolean",
                "DEFINE_list", "DEFINE_multi_float", "DEFINE_multi_integer")
CLI_FRAMEWORKS = ("click", "typer", "cloup", "?click", "?typer")
CLI_ATTRS = OPTION_ATTRS | {"add_argument", "Fire", "run", "command", "HfArgumentParser", "LightningCLI"}
# whole-run configuration objects that come from the command line or a parameterised run
RUN_PARAMETERS = {
    "transformers.HfArgumentParser": "transformers HfArgumentParser (dataclass arguments from the command line)",
    "lightning.pytorch.cli.LightningCLI": "LightningCLI (trainer and model arguments from the command line)",
    "pytorch_lightning.cli.LightningCLI": "LightningCLI (trainer and model arguments from the command line)",
    "pytorch_lightning.utilities.cli.LightningCLI": "LightningCLI (trainer and model arguments from the command line)",
    "lightning.LightningCLI": "LightningCLI (trainer and model arguments from the command line)",
}


# r16: the label of options generated from a mapping of defaults, as the reasons name it
GENERATED = "command-line (generated from a dict of defaults)"
# options with in-code defaults only: how many hyperparameters make the run's configuration
MIN_DEFAULT_OPTIONS = 2


class HyperparametersFromCommandLine(Rule):
    """Hyperparameters are run-time parameters (command line, MLproject, papermill)

    The training takes hyperparameters as run-time parameters instead of literals: argparse
    `add_argument("--lr")`, click/typer options and typer command parameters, absl flags,
    `fire.Fire(train)`, transformers `HfArgumentParser`, `LightningCLI`, MLproject entry-point
    `parameters:`, papermill `execute_notebook(parameters=...)`, and an orchestrator's run parameters
    (Metaflow `Parameter`, SageMaker Pipelines `ParameterString`/`ParameterInteger`, ZenML step
    parameters, Dagster run config, a Kubeflow pipeline function's arguments, a Prefect flow's
    hyperparameter arguments). Only options named like
    hyperparameters (`--lr`, `--epochs`, `--batch_size`, `--max_depth`...) count, so a CLI of paths
    says nothing. This is partial: values live in shell history and scripts, not in a versioned
    configuration file.

    Options whose values exist only as in-code defaults are partial too (issue 7: "argparse-only is
    partial"): a run can set them, but nothing keeps the values; one such option alone (`--batch_size`
    beside paths) is a value externalised, not the run's configuration (round 12: 4 labels no, 1
    partial). The reason names what keeps them when something does: a shell script, Makefile or CI
    step that passes the hyperparameter flags (`--lr=1e-4`), an option that reads a config file (`--config FILE`), or a launcher that hands
    the training job its hyperparameters (SageMaker `set_hyperparameters(...)`,
    `Estimator(hyperparameters=...)`).
    Hyperparameters read from environment variables (`LR = float(os.getenv("LR"))`, two or more)
    count the same way, when a Dockerfile, `.env` file or job spec sets them.
    Options generated from in-code defaults count as options too: a bare `fire.Fire()` (every
    top-level function of the module a command, its keyword defaults the flags), and options added
    one per key of a dict of defaults (`add_dict_to_argparser(parser, dict(lr=1e-4, batch_size=1))`,
    `define_flags_with_default(...)`). An option that hands the training a config over its in-code
    defaults (`--hparams '{"lr": 1e-4}'`, `--config FILE`) counts even with no hyperparameter option.
    """

    id = "config-cli"
    practice = "config-management"
    examples = (
        Example({
            "train.py": "import argparse\nimport torch\n\np = argparse.ArgumentParser()\n"
                        "p.add_argument('--lr', type=float, default=1e-3)\np.add_argument('--epochs', type=int, default=5)\n"
                        "p.add_argument('--data', default='data/')\nargs = p.parse_args()\n"
                        "model = torch.nn.Linear(2, 1)\nopt = torch.optim.Adam(model.parameters(), lr=args.lr)\n"
                        "model(torch.zeros(1, 2)).sum().backward()\nopt.step()\n",
            "scripts/train.sh": "python train.py --lr 3e-4 --epochs 20\n",
        }, "partial", "hyperparameters as argparse options, values kept in a run script", fires=True),
        Example({
            "train.py": "import argparse\nimport torch\n\np = argparse.ArgumentParser()\n"
                        "p.add_argument('--lr', type=float, default=1e-3)\np.add_argument('--epochs', type=int, default=5)\n"
                        "args = p.parse_args()\n"
                        "model = torch.nn.Linear(2, 1)\nopt = torch.optim.Adam(model.parameters(), lr=args.lr)\n"
                        "model(torch.zeros(1, 2)).sum().backward()\nopt.step()\n",
        }, "partial", "argparse defaults only: settable per run, no file keeps the values (issue 7)", fires=True),
        Example({
            "train.py": "import argparse\nimport torch\n\np = argparse.ArgumentParser()\n"
                        "p.add_argument('--data_dir', default='data/')\np.add_argument('--batch_size', type=int, default=32)\n"
                        "args = p.parse_args()\n"
                        "model = torch.nn.Linear(2, 1)\nopt = torch.optim.Adam(model.parameters(), lr=1e-3)\n"
                        "model(torch.zeros(args.batch_size, 2)).sum().backward()\nopt.step()\n",
        }, "absent", "one hyperparameter flag beside paths, with an in-code default, configures no run", fires=False),
        Example({
            "train.py": "import argparse\nimport yaml\nimport torch\n\np = argparse.ArgumentParser()\n"
                        "p.add_argument('-c', '--config', default='')\np.add_argument('--lr', type=float, default=1e-3)\n"
                        "args = p.parse_args()\n"
                        "model = torch.nn.Linear(2, 1)\nopt = torch.optim.Adam(model.parameters(), lr=args.lr)\n",
        }, "partial", "options that a --config file can set", fires=True),
        Example({
            "train.py": "import argparse\nfrom sklearn.linear_model import LogisticRegression\n\n"
                        "p = argparse.ArgumentParser()\np.add_argument('--input')\np.add_argument('--output')\n"
                        "args = p.parse_args()\nLogisticRegression().fit([[0], [1]], [0, 1])\n",
        }, "absent", "a command line of paths only", fires=False),
        Example({
            "train.py": "import argparse\nimport json\nimport torch\n\n"
                        "HPARAMS = dict(lr=1e-3, batch_size=32, epochs=2)\n\n\n"
                        "def main():\n    p = argparse.ArgumentParser()\n    p.add_argument('--data_dir', default='data/')\n"
                        "    p.add_argument('--hparams', default='', help='JSON overriding the defaults')\n"
                        "    args = p.parse_args()\n    hp = dict(HPARAMS, **json.loads(args.hparams or '{}'))\n"
                        "    model = torch.nn.Linear(2, 1)\n    opt = torch.optim.Adam(model.parameters(), lr=hp['lr'])\n"
                        "    for _ in range(hp['epochs']):\n        model(torch.zeros(hp['batch_size'], 2)).sum().backward()\n"
                        "        opt.step()\n\n\nif __name__ == '__main__':\n    main()\n",
        }, "partial", "an --hparams option overrides in-code defaults per run, with no hyperparameter option beside it",
            fires=True),
        Example({
            "train.py": "import torch\n\n\ndef main():\n    model = torch.nn.Linear(2, 1)\n"
                        "    opt = torch.optim.Adam(model.parameters(), lr=1e-3)\n"
                        "    model(torch.zeros(4, 2)).sum().backward()\n    opt.step()\n    torch.save(model, 'model.pt')\n\n\n"
                        "if __name__ == '__main__':\n    main()\n",
            "serve.py": "import argparse\nimport torch\n\n\ndef main():\n    p = argparse.ArgumentParser()\n"
                        "    p.add_argument('--config', default='serve.yaml')\n    args = p.parse_args()\n"
                        "    model = torch.load('model.pt')\n    print(args.config, model)\n\n\n"
                        "if __name__ == '__main__':\n    main()\n",
        }, "absent", "a --config option of a serving script the training never reaches sets no training run",
            fires=False),
        Example({
            "MLproject": "name: demo\nentry_points:\n  main:\n    parameters:\n      alpha: {type: float, default: 0.5}\n"
                         "    command: python train.py {alpha}\n",
            "train.py": "import sys\nfrom sklearn.linear_model import Ridge\n"
                        "Ridge(alpha=float(sys.argv[1])).fit([[0], [1]], [0, 1])\n",
        }, "partial", "MLproject parameters passed on the command line", fires=True),
        Example({
            "main_supcon.py": "import argparse\nimport torch\n\np = argparse.ArgumentParser()\n"
                              "p.add_argument('--learning_rate', type=float, default=0.05)\n"
                              "p.add_argument('--batch_size', type=int, default=256)\nargs = p.parse_args()\n"
                              "model = torch.nn.Linear(2, 1)\nopt = torch.optim.SGD(model.parameters(), lr=args.learning_rate)\n"
                              "model(torch.zeros(1, 2)).sum().backward()\nopt.step()\n",
            "README.md": "# SupCon\n\n## Running\n\n```bash\npython main_supcon.py --batch_size 1024 --learning_rate 0.5\n```\n",
        }, "partial", "a README's example command over argparse defaults: command-line options only", fires=True),
        Example({
            "flow.py": "from metaflow import FlowSpec, Parameter, step\n\n\nclass TrainFlow(FlowSpec):\n"
                       "    epochs = Parameter('epochs', default=5)\n\n    @step\n    def start(self):\n"
                       "        from sklearn.linear_model import LogisticRegression\n"
                       "        LogisticRegression(max_iter=self.epochs).fit([[0], [1]], [0, 1])\n        self.next(self.end)\n\n"
                       "    @step\n    def end(self):\n        pass\n\n\nif __name__ == '__main__':\n    TrainFlow()\n",
        }, "partial", "Metaflow Parameters: run settings a pipeline run takes from outside", fires=True),
        Example({
            "steps/config.py": "from zenml.steps import BaseParameters\n\n\nclass ModelConfig(BaseParameters):\n"
                               "    model_name: str = 'lightgbm'\n    fine_tuning: bool = False\n",
            "steps/train.py": "from sklearn.linear_model import LogisticRegression\nfrom steps.config import ModelConfig\n\n\n"
                              "def train(config: ModelConfig):\n    return LogisticRegression().fit([[0], [1]], [0, 1])\n",
        }, "partial", "ZenML step parameters with in-code defaults", fires=True),
        Example({
            "flow.py": "from metaflow import FlowSpec, step\n\n\nclass TrainFlow(FlowSpec):\n    @step\n    def start(self):\n"
                       "        from sklearn.linear_model import LogisticRegression\n"
                       "        LogisticRegression(max_iter=5).fit([[0], [1]], [0, 1])\n        self.next(self.end)\n\n"
                       "    @step\n    def end(self):\n        pass\n",
            "tests/test_flow.py": "from metaflow import Parameter\n\n\ndef test_param():\n    assert Parameter('x', default=1)\n",
        }, "absent", "a pipeline with literal settings; a Parameter only in a test", fires=False),
        Example({
            "job/run.py": "import os\nimport torch\n\n\ndef getenv_cast(name, cast=str):\n    return cast(os.environ[name])\n\n\n"
                          "LR = getenv_cast('LR', cast=float)\nN_EPOCHS = getenv_cast('N_EPOCHS', cast=int)\n"
                          "BATCH_SIZE = getenv_cast('BATCH_SIZE', cast=int)\n\nif __name__ == '__main__':\n"
                          "    model = torch.nn.Linear(2, 1)\n    opt = torch.optim.Adam(model.parameters(), lr=LR)\n"
                          "    for _ in range(N_EPOCHS):\n        model(torch.zeros(BATCH_SIZE, 2)).sum().backward()\n"
                          "        opt.step()\n",
            "job/Dockerfile": "FROM python:3.11\nENV LR=6.5e-5 \\\n    N_EPOCHS=3 \\\n    BATCH_SIZE=32\nCMD python run.py\n",
        }, "partial", "hyperparameters from environment variables that the job's Dockerfile sets", fires=True),
        Example({
            "train.py": "import os\nimport torch\n\nLR = float(os.getenv('LR', '1e-3'))\n"
                        "EPOCHS = int(os.getenv('EPOCHS', '5'))\n\nif __name__ == '__main__':\n"
                        "    model = torch.nn.Linear(2, 1)\n    opt = torch.optim.Adam(model.parameters(), lr=LR)\n"
                        "    for _ in range(EPOCHS):\n        model(torch.zeros(1, 2)).sum().backward()\n        opt.step()\n",
        }, "absent", "environment variables whose values exist only as in-code defaults", fires=False),
        Example({
            "training/train.py": "from prefect import flow\nfrom sklearn.linear_model import LogisticRegression\n\n\n"
                                 "@flow\ndef train_model(n_trials: int = 20, n_epochs: int = 5):\n"
                                 "    return LogisticRegression(max_iter=n_epochs).fit([[0], [1]], [0, 1])\n\n\n"
                                 "if __name__ == '__main__':\n    train_model()\n",
        }, "partial", "a Prefect flow that takes the search budget and epochs as run parameters", fires=True),
        Example({
            "flows/train.py": "from prefect import flow\nfrom sklearn.linear_model import LogisticRegression\n\n\n"
                              "@flow(name='retrain')\ndef retrain(date: str = '2024-01-01', bucket_name: str = 'raw'):\n"
                              "    return LogisticRegression(C=0.5).fit([[0], [1]], [0, 1])\n\n\n"
                              "if __name__ == '__main__':\n    retrain()\n",
        }, "absent", "a Prefect flow that takes a date and a bucket: no hyperparameter is a run parameter", fires=False),
        Example({
            "scripts/run_cifar.py": "import fire\nimport torch\n\n\n"
                                    "def train(exp_name, lr=2e-4, dropout=0.1, total_bs=128):\n"
                                    "    model = torch.nn.Dropout(dropout)\n"
                                    "    opt = torch.optim.Adam(torch.nn.Linear(2, 1).parameters(), lr=lr)\n"
                                    "    opt.step()\n\n\n"
                                    "if __name__ == '__main__':\n    fire.Fire()\n",
        }, "partial", "a bare fire.Fire(): the module's functions are commands, their keyword defaults the flags",
            fires=True),
        Example({
            "scripts/run_cifar.py": "import fire\nimport torch\n\n\n"
                                    "def train(exp_name, data_dir='data/', log_dir='logs'):\n"
                                    "    opt = torch.optim.Adam(torch.nn.Linear(2, 1).parameters(), lr=2e-4)\n"
                                    "    opt.step()\n\n\n"
                                    "if __name__ == '__main__':\n    fire.Fire()\n",
        }, "absent", "a bare fire.Fire() whose functions take only names and folders", fires=False),
        Example({
            "util.py": "def add_dict_to_argparser(parser, default_dict):\n"
                       "    for k, v in default_dict.items():\n"
                       "        parser.add_argument(f'--{k}', default=v, type=type(v))\n",
            "train.py": "import argparse\nimport torch\nfrom util import add_dict_to_argparser\n\n\n"
                        "def create_argparser():\n"
                        "    defaults = dict(data_dir='', lr=1e-4, weight_decay=0.0, batch_size=1)\n"
                        "    parser = argparse.ArgumentParser()\n    add_dict_to_argparser(parser, defaults)\n"
                        "    return parser\n\n\n"
                        "def main():\n    args = create_argparser().parse_args()\n"
                        "    opt = torch.optim.Adam(torch.nn.Linear(2, 1).parameters(), lr=args.lr)\n    opt.step()\n\n\n"
                        "if __name__ == '__main__':\n    main()\n",
        }, "partial", "argparse options generated, one per key, from a dict of hyperparameter defaults", fires=True),
        Example({
            "util.py": "def add_dict_to_argparser(parser, default_dict):\n"
                       "    for k, v in default_dict.items():\n"
                       "        parser.add_argument(f'--{k}', default=v, type=type(v))\n",
            "train.py": "import argparse\nimport torch\nfrom util import add_dict_to_argparser\n\n\n"
                        "def create_argparser():\n"
                        "    defaults = dict(data_dir='', out_dir='runs', log_interval=10)\n"
                        "    parser = argparse.ArgumentParser()\n    add_dict_to_argparser(parser, defaults)\n"
                        "    return parser\n\n\n"
                        "def main():\n    args = create_argparser().parse_args()\n"
                        "    opt = torch.optim.Adam(torch.nn.Linear(2, 1).parameters(), lr=1e-4)\n    opt.step()\n\n\n"
                        "if __name__ == '__main__':\n    main()\n",
        }, "absent", "options generated from a dict of folders and intervals: no hyperparameter is set per run",
            fires=False),
    )

    def check(self, facts):
        graph = facts.graph
        nodes = training_code_nodes(facts)
        training_calls = graph.calls_in(nodes) if nodes else list(facts.calls(facts.non_test_code()))
        options: Dict[str, Set[str]] = {}
        where: Dict[str, Tuple[str, int]] = {}
        primary = {ep.target[4:] for ep in getattr(graph, "primary_training_entry_points", graph.training_entry_points) if ep.target.startswith("mod:")}
        calls = sorted((c for c in training_calls if c[1].attr in CLI_ATTRS or c[1].attr.startswith("DEFINE_")),
                       key=lambda c: (c[0].path not in primary, c[0].path, c[1].line))  # the loop reads no other call
        defs_seen: Set[str] = set()
        config_option: Dict[str, Tuple[str, int]] = {}
        for idx, call in calls:
            if not (call.attr in CLI_ATTRS or call.attr.startswith("DEFINE_")):
                continue
            name = facts.external_name(idx, call.name)
            label = None
            got: List[str] = []
            if call.attr == "add_argument":  # argparse, whatever the parser object resolves to
                got = [a for a in call.args if isinstance(a, str) and a.startswith("-")]
                label = "argparse"
            elif call.attr in OPTION_ATTRS and name.startswith(CLI_FRAMEWORKS):
                got = [a for a in call.args if isinstance(a, str)]
                label = name.split(".")[0].lstrip("?")
            elif call.attr in ABSL_DEFINES and name.startswith(("absl", "tensorflow", "?flags", "gflags")):
                got = [call.args[0]] if call.args and isinstance(call.args[0], str) else []
                label = "absl flags"
            elif name in RUN_PARAMETERS:
                yield self.found("partial", idx.path, call.line, f"hyperparameters come from {RUN_PARAMETERS[name]}")
                return
            elif name == "fire.Fire" or name.startswith(("typer.run", "typer.Typer().command", "click.command")):
                for ref in call.refs:
                    node = graph.resolve_name(idx.path, ref)
                    if node and node.startswith("def:") and node not in defs_seen:
                        defs_seen.add(node)
                        got.extend(_params(facts, node))
                if name == "fire.Fire" and not call.args and not call.kwargs and not call.refs:
                    # r16: a bare `fire.Fire()` makes every top-level function of the module a command, its
                    # keyword defaults the flags (`train(lr=2e-4, dropout=0.1)` run as `train --lr=1e-4`)
                    got.extend(p for qual, d in sorted(idx.defs.items())
                               if d.kind == "function" and "." not in qual and not qual.startswith("_") for p in d.params)
                label = name.split(".")[0]
            hps = strong_hyperparameters(got)
            if hps and label:
                options.setdefault(label, set()).update(hps)
                where.setdefault(label, (idx.path, call.line))
            if label and any(_is_config_option(a) for a in got if isinstance(a, str)):
                config_option.setdefault(label, (idx.path, call.line))
        # r16: options generated from a mapping of defaults - a helper that adds one argparse option per key
        # (`add_dict_to_argparser(parser, dict(lr=1e-4, batch_size=1))`) or a library call that defines a flag per
        # keyword default (`define_flags_with_default(lr=..., epochs=...)`): the same in-code defaults, set per run
        generated = _generated_options(graph, training_calls, defs_seen)
        if generated is not None:
            path, line, got = generated
            hps = strong_hyperparameters(got)
            options.setdefault(GENERATED, set()).update(hps)
            where.setdefault(GENERATED, (path, line))
        # typer/click commands declared with decorators
        for p in sorted({n.split(":")[1] for n in nodes}):
            idx = facts.code.get(p)
            for qual, d in (idx.defs.items() if idx is not None else []):
                if any(dec.endswith((".command", ".callback")) and dec.startswith(("typer", "click")) for dec in d.decorators):
                    hps = strong_hyperparameters(d.params)
                    if hps:
                        label = d.decorators[0].split(".")[0]
                        options.setdefault(label, set()).update(hps)
                        where.setdefault(label, (p, d.line))
        if options:
            all_hps = set().union(*options.values())
            recorded = _recorded_run(facts, all_hps)
            judged = False
            for label, hps in sorted(options.items()):
                path, line = where[label]
                if label in config_option:
                    judged = True
                    yield self.found("partial", path, line,
                                     f"hyperparameters are {label} options ({ranked(hps, 6)}) that a config file "
                                     f"can set (option at {config_option[label][0]}:{config_option[label][1]})")
                elif recorded:
                    judged = True
                    yield self.found("partial", recorded[0], recorded[1],
                                     f"hyperparameters are {label} options ({ranked(hps, 6)}) whose values a run "
                                     f"records: {recorded[2]}; no config file keeps them")
            if judged:
                return
            # r12: one hyperparameter flag with an in-code default (`--batch_size` beside paths) configures no run
            if len(all_hps) >= MIN_DEFAULT_OPTIONS:
                label, hps = sorted(options.items())[0]
                path, line = where[label]
                yield self.found("partial", path, line,
                                 f"hyperparameters are {label} options ({ranked(hps, 6)}) with in-code defaults: "
                                 "they can be set per run, but no config file or run script keeps the values")
                return
        if not options and config_option:
            # r16: no hyperparameter option, but one that hands the training a config (`--hparams '{"lr": 1e-4}'`,
            # `--config FILE`) over in-code defaults, in training code
            label, (path, line) = sorted(config_option.items())[0]
            yield self.found("partial", path, line, f"the training takes an option ({label}) that overrides its in-code "
                                                    "hyperparameter defaults with a config given per run; no config "
                                                    "file keeps them")
            return
        env = _env_hyperparameters(facts, training_calls)
        if env is not None:
            path, line, hps, recorded = env
            yield self.found("partial", path, line, f"hyperparameters come from environment variables "
                                                    f"({', '.join(hps[:5])}) that {recorded} sets per run; "
                                                    f"no config file keeps them")
            return
        pipeline_params = _pipeline_parameters(facts)
        if pipeline_params is not None:
            path, line, what = pipeline_params
            yield self.found("partial", path, line, f"run settings are {what}, set per run; the values not "
                                                    "passed in keep in-code defaults, and no config file keeps them")
            return
        for idx in facts.non_test_code():  # a notebook workflow: papermill runs parameterised notebooks
            for call in idx.calls:
                if call.attr == "execute_notebook" and call.name.startswith("papermill") and call.has_kwarg("parameters"):
                    yield self.found("partial", idx.path, call.line, "notebooks run with papermill parameters: "
                                                                    "run settings are passed in, not kept in a config file")
                    return
        for f in facts.glob("MLproject", "MLproject.yaml", "MLproject.yml"):
            doc = facts.config(f.path)
            data = doc.data if doc is not None and isinstance(doc.data, dict) else {}
            for ep_name, ep in (data.get("entry_points") or {}).items() if isinstance(data.get("entry_points"), dict) else []:
                params = ep.get("parameters") if isinstance(ep, dict) else None
                if isinstance(params, dict) and params:
                    yield self.found("partial", f.path, facts.line_of(f.path, "parameters:"),
                                     f"MLproject entry point {ep_name} takes parameters ({', '.join(list(params)[:6])}) "
                                     "passed on the command line")
                    return


# acc6b: an orchestrator's run parameters - settings a pipeline run takes from outside (Metaflow `Parameter`,
# SageMaker Pipelines `ParameterString`/`ParameterInteger`, ZenML step parameters, Dagster run config,
# a Kubeflow pipeline function's arguments)
PIPELINE_PARAMETER_CALLS = {
    "metaflow.Parameter": "Metaflow Parameters",
    "sagemaker.workflow.parameters.ParameterString": "SageMaker Pipelines parameters",
    "sagemaker.workflow.parameters.ParameterInteger": "SageMaker Pipelines parameters",
    "sagemaker.workflow.parameters.ParameterFloat": "SageMaker Pipelines parameters",
    "sagemaker.workflow.parameters.ParameterBoolean": "SageMaker Pipelines parameters",
    "sagemaker.workflow.parameters.ParameterEnum": "SageMaker Pipelines parameters",
}
PIPELINE_PARAMETER_BASES = {
    "zenml.steps.BaseParameters": "ZenML step parameters",
    "zenml.steps.BaseStepConfig": "ZenML step parameters",
    "zenml.steps.base_parameters.BaseParameters": "ZenML step parameters",
    "zenml.steps.base_step_config.BaseStepConfig": "ZenML step parameters",
    "dagster.Config": "Dagster run config",
    "dagster.ConfigurableResource": "Dagster run config",
    "dagster.PermissiveConfig": "Dagster run config",
}
PIPELINE_DECORATORS = {"kfp.dsl.pipeline": "Kubeflow pipeline arguments", "kfp.v2.dsl.pipeline": "Kubeflow pipeline arguments",
                       "kfp.dsl.pipeline()": "Kubeflow pipeline arguments"}
# acc10: a Prefect flow's parameters are run parameters too, when some of them are hyperparameters (`n_trials`,
# `n_epochs`); flows that take dates, buckets or paths configure no training
HYPERPARAMETER_FLOW_DECORATORS = {"prefect.flow": "Prefect flow parameters", "prefect.flow()": "Prefect flow parameters"}


def _is_pipeline_parameter(name: str) -> bool:
    return name in PIPELINE_PARAMETER_CALLS


def _pipeline_parameters(facts) -> Optional[Tuple[str, int, str]]:
    """(path, line, what) of the first orchestrator run parameter in the project's code (tests and examples aside)."""
    from mlscan.facts.repo import is_test_path
    from mlscan.rules._mlcode import in_example_dir
    for path, calls in sorted(facts.call_table.named(_is_pipeline_parameter, external=True,
                                                     attrs={n.rsplit(".", 1)[-1] for n in PIPELINE_PARAMETER_CALLS}).items()):
        if calls and not is_test_path(path) and not in_example_dir(path):
            idx = facts.code.get(path)
            return path, calls[0].line, PIPELINE_PARAMETER_CALLS[facts.external_name(idx, calls[0].name)]
    for idx in facts.non_test_code():
        if in_example_dir(idx.path):
            continue
        for qual, d in idx.defs.items():
            base = next((PIPELINE_PARAMETER_BASES[b] for b in d.bases if b in PIPELINE_PARAMETER_BASES), None)
            if d.kind == "class" and base:
                return idx.path, d.line, f"{base} ({qual})"
            deco = next((PIPELINE_DECORATORS[x] for x in d.decorators if x in PIPELINE_DECORATORS), None)
            if d.kind == "function" and deco and d.params:
                return idx.path, d.line, f"{deco} ({', '.join(d.params[:4])})"
            flow = next((HYPERPARAMETER_FLOW_DECORATORS[x] for x in d.decorators if x in HYPERPARAMETER_FLOW_DECORATORS), None)
            if d.kind == "function" and flow and strong_hyperparameters(d.params):
                return idx.path, d.line, f"{flow} ({ranked(strong_hyperparameters(d.params), 4)} of {qual})"
    return None


CONFIG_OPTION_NAMES = ("config", "cfg", "config_file", "config_path", "cfg_file", "hparams", "hparams_file", "params_file")


def _is_config_option(option: str) -> bool:
    """`--config`, `--cfg`, `--model-yaml-config`, `--hparams-file`: an option that reads a config file."""
    n = option.strip().lstrip("-").replace("-", "_").lower()
    return option.startswith("-") and (n in CONFIG_OPTION_NAMES or n.endswith(tuple("_" + c for c in CONFIG_OPTION_NAMES)))


def _keys(data, depth: int = 0) -> Set[str]:
    out: Set[str] = set()
    if isinstance(data, dict) and depth < 4:
        for k, v in data.items():
            out.add(str(k).replace("-", "_").lower())
            out |= _keys(v, depth + 1)
    elif isinstance(data, list) and depth < 4:
        for v in data[:50]:
            out |= _keys(v, depth + 1)
    return out
HP_FLAG = re.compile(r"--([A-Za-z][\w-]*)")


def _recorded_run(facts, hps: Set[str]) -> Optional[Tuple[str, int, str]]:
    """Where the repo keeps the values of hyperparameter options: a script, Makefile or CI step passing
    the flags, or a launcher handing the job its hyperparameters (SageMaker estimators)."""
    commands = list(facts.shell_commands) + [(job.path, step.line, step.run) for job in facts.ci_jobs
                                             for step in getattr(job, "steps", ()) if getattr(step, "run", None)]
    for path, line, text in commands:
        flags = {m.replace("-", "_").lower() for m in HP_FLAG.findall(text)}
        hit = sorted(flags & hps)
        if hit:
            return path, line, f"{path} passes --{', --'.join(hit[:3])}"
    for path in facts.config_files:  # a run configuration (e.g. an orchestrator's JSON conf) keeps the values
        if is_ci_path(path):
            continue
        doc = facts.config(path)
        hit = sorted(_keys(doc.data) & hps) if doc is not None else []
        if hit:
            return path, facts.line_of(path, hit[0]) or 1, f"{path} sets {', '.join(hit[:3])}"
    for idx, call in facts.calls(facts.non_test_code()):
        if call.attr == "set_hyperparameters" or (call.has_kwarg("hyperparameters") and "stimator" in call.name):
            return idx.path, call.line, f"{call.name.lstrip('?')} hands the training job its hyperparameters"
    return None


ENV_WRAPPER = re.compile(r"^_?get_?env\w*$")      # a project's own `getenv_cast("LR", cast=float)`
ENV_FILE = re.compile(r"(?i)(^|/)(dockerfile[^/]*|[^/]*\.env(\.\w+)?|\.env[^/]*|[^/]*compose[^/]*\.ya?ml|[^/]*\.ya?ml)$")


def _env_hyperparameters(facts, calls) -> Optional[Tuple[str, int, List[str], str]]:
    """(path, line, variables, file) when training reads two or more hyperparameters from environment
    variables (`LR = float(os.getenv("LR", 3e-4))`) and a Dockerfile, .env file or job spec sets them."""
    found: Dict[str, Tuple[str, int]] = {}
    for idx, call in calls:
        if not call.args or not isinstance(call.args[0], str) or not call.args[0].isupper():
            continue
        if call.name in ENV_READS or ENV_WRAPPER.match(call.attr or ""):
            found.setdefault(call.args[0], (idx.path, call.line))
    names = {v: k for k in found for v in strong_hyperparameters([k])}
    if len(names) < 2:
        return None
    variables = sorted(names.values(), key=lambda v: found[v])
    setter = re.compile(r"(?m)^\s*(?:ENV\s+|ARG\s+|export\s+|-\s*(?:name:\s*)?)?(%s)\s*[=:\s]"
                        % "|".join(re.escape(v) for v in variables))
    for f in facts.files:
        if ENV_FILE.search(f.path) and not is_ci_path(f.path) and setter.search(facts.text(f.path) or ""):
            path, line = found[variables[0]]
            return path, line, variables, f.path
    return None


FLAG_DEFINERS = re.compile(r"(?i)^define_flags?(_with_defaults?)?$|^(flags|args|arguments)_from_(dict|defaults)$")


def _generated_options(graph, calls, seen: Set[str]) -> Optional[Tuple[str, int, List[str]]]:
    """(path, line, keys) of command-line options generated from a mapping of defaults, in training code:
    a call to a helper of the repo's own that adds an argparse option per key of a mapping it is given
    (the option's name is not a literal), with the keys of the `dict(...)` literal built in the calling
    scope; or a library call that defines a flag per keyword default (`define_flags_with_default(...)`)."""
    from mlscan.facts.pycode import NOT_LITERAL
    adds_options: Dict[str, bool] = {}   # helper node -> whether it adds an option named by a variable
    dict_keys: Dict[Tuple[str, str], List[str]] = {}   # (file, scope) -> keys of the dict(...) literals built there
    for idx, call in calls:   # a scope's calls are all in `calls` when one of them is
        if call.name == "dict":
            dict_keys.setdefault((idx.path, call.scope), []).extend(k for k, _ in call.kwargs if k != "**")
    for idx, call in calls:
        keys: List[str] = []
        if FLAG_DEFINERS.match(call.attr) and not call.name.startswith(("absl", "tensorflow", "?flags")):
            keys = [k for k, _ in call.kwargs if k != "**"]
        elif call.refs or call.arg_names:
            keys = dict_keys.get((idx.path, call.scope), [])
            if len(strong_hyperparameters(keys)) < MIN_DEFAULT_OPTIONS:
                continue   # too few defaults here for any helper to turn into options
            node = graph.resolve_name(idx.path, call.name)
            if not (node and node.startswith("def:")) or node in seen:
                continue
            if node not in adds_options:
                adds_options[node] = any(c.attr == "add_argument" and c.args and c.args[0] is NOT_LITERAL
                                         for _, c in graph.node_calls(node))
            if not adds_options[node]:
                continue
        if len(strong_hyperparameters(keys)) >= MIN_DEFAULT_OPTIONS:
            return idx.path, call.line, keys
    return None


def _params(facts, node: str) -> List[str]:
    _, path, qual = node.split(":", 2)
    idx = facts.code.get(path)
    d = idx.defs.get(qual) if idx is not None else None
    return list(d.params) if d is not None else []
