from __future__ import annotations

from mlscan.facts.calltable import calls_in_scopes
from mlscan.rulekit import Example, Rule
from mlscan.rules._mlcode import pipeline_nodes
from mlscan.rules.tracking_calls import SETTINGS_NAME

# a file the run's log lines go to (`logging.FileHandler(os.path.join(run_dir, 'train.log'))`)
LOG_FILES = {"logging.FileHandler", "logging.handlers.RotatingFileHandler", "logging.handlers.TimedRotatingFileHandler"}
# writers of the settings file (`json.dump(config, f)`, `yaml.safe_dump(vars(args), f)`)
DUMPS = {"json.dump", "yaml.dump", "yaml.safe_dump", "toml.dump"}


class RunFolderRecord(Rule):
    """Training keeps a home-made record of each run: its settings and its log

    A partial form of experiment tracking: the training module dumps the run's configuration or
    arguments to a file (`json.dump(config, f)` into the run's output folder) and also sends the
    run's log to a file (`logging.FileHandler(os.path.join(run_dir, 'train.log'))`), so each run
    leaves a folder with what was set and what happened - home-grown per-run folders, without a
    tracker's comparison. A plain text log alone is not a run record, nor is a config dump alone;
    both must be written by the same module, in code a training entry point reaches.
    """

    id = "tracking-runfolder"
    practice = "experiment-tracking"
    examples = (
        Example({
            "train.py": "import json\nimport logging\nimport os\nimport torch\n\n\n"
                        "def main():\n    config = {'lr': 0.1, 'epochs': 2}\n    run_dir = 'experiments/exp1'\n"
                        "    os.makedirs(run_dir, exist_ok=True)\n"
                        "    log = logging.getLogger('train')\n"
                        "    log.addHandler(logging.FileHandler(os.path.join(run_dir, 'train.log')))\n"
                        "    with open(os.path.join(run_dir, 'training_config.json'), 'w') as f:\n"
                        "        json.dump(config, f)\n"
                        "    model = torch.nn.Linear(2, 1)\n    opt = torch.optim.SGD(model.parameters(), lr=config['lr'])\n"
                        "    for epoch in range(config['epochs']):\n        loss = model(torch.zeros(1, 2)).sum()\n"
                        "        loss.backward()\n        opt.step()\n        log.info('epoch %d loss %f', epoch, loss.item())\n\n\n"
                        "if __name__ == '__main__':\n    main()\n",
        }, "partial", "each run's folder gets its config JSON and its train.log", fires=True),
        Example({
            "train.py": "import logging\nimport torch\n\n\n"
                        "def main():\n    logging.basicConfig(handlers=[logging.FileHandler('train.log')])\n"
                        "    model = torch.nn.Linear(2, 1)\n    opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
                        "    for epoch in range(2):\n        loss = model(torch.zeros(1, 2)).sum()\n"
                        "        loss.backward()\n        opt.step()\n        logging.info('loss %f', loss.item())\n\n\n"
                        "if __name__ == '__main__':\n    main()\n",
        }, "absent", "a plain text log alone, with no settings recorded, is no run record", fires=False),
        Example({
            "train.py": "import json\nimport torch\n\n\n"
                        "def main():\n    config = {'lr': 0.1}\n    json.dump(config, open('config.json', 'w'))\n"
                        "    model = torch.nn.Linear(2, 1)\n    opt = torch.optim.SGD(model.parameters(), lr=config['lr'])\n"
                        "    loss = model(torch.zeros(1, 2)).sum()\n    loss.backward()\n    opt.step()\n    print(loss.item())\n\n\n"
                        "if __name__ == '__main__':\n    main()\n",
        }, "absent", "a config dumped with the metrics only printed records no run", fires=False),
    )

    def check(self, facts):
        from mlscan.facts.repo import is_test_path
        scopes = facts.graph.scopes_in(pipeline_nodes(facts))
        for path in sorted(scopes):
            idx = facts.code.get(path)
            if idx is None or is_test_path(path) or idx.is_notebook:
                continue
            calls = calls_in_scopes(idx.calls, scopes[path])
            log_file = next((c for c in calls if c.name.lstrip("?") in LOG_FILES), None)
            if log_file is None:
                continue
            for c in calls:
                if c.name.lstrip("?") not in DUMPS:
                    continue
                # the dumped value, also when wrapped in another call on the line (`json.dump(vars(args), f)`)
                names = [n for o in calls if o.line == c.line and o.scope == c.scope for n in (*o.arg_names, *o.refs)]
                if any(SETTINGS_NAME.search(n) or "parse_args" in n for n in names):
                    yield self.found("partial", path, c.line,
                                     f"a home-made run record: {c.name.lstrip('?')} writes the run's settings and "
                                     f"logging.FileHandler (line {log_file.line}) its log to files of the run; "
                                     "no experiment tracker")
                    return
