"""The call table answers what a walk over every call would (facts/calltable.py), and its shortcut
for external names never skips a name that canonical_name would rename."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlscan.facts.calltable import calls_in_scopes
from mlscan.facts.repo import Facts, ScanOptions
from mlscan.facts.symbols import _import_targets, canonical_name, may_differ, reexported_names
from mlscan.rulekit import all_rules, ignorecase_search, materialise

REPO = {
    "pkg/__init__.py": "from pkg.config import mlflow\nfrom pkg.models import Net\n",
    "pkg/config.py": "import mlflow\ntry:\n    import wandb\nexcept ImportError:\n    wandb = None\n",
    "pkg/models.py": "import torch\n\nclass Net(torch.nn.Module):\n    def forward(self, x):\n"
                     "        return torch.relu(x)\n",
    "train.py": "import pkg\nfrom pkg.config import mlflow, wandb\nfrom pkg import Net\n\n"
                "def main(report=None):\n    net = Net()\n    mlflow.log_metric('acc', 1.0)\n"
                "    wandb.log({'acc': 1.0})\n    pkg.mlflow.log_param('lr', 0.1)\n"
                "    trainer = make(report_to='wandb', log_with=None)\n\n"
                "    def inner():\n        mlflow.log_metric('loss', 0.5)\n    inner()\n\n"
                "if __name__ == '__main__':\n    main()\n",
    "tests/test_train.py": "import mlflow\n\ndef test_it():\n    mlflow.log_metric('acc', 1.0)\n",
}


@pytest.fixture()
def facts(tmp_path: Path) -> Facts:
    materialise(REPO, tmp_path)
    return Facts(tmp_path, ScanOptions(jobs=1, cache_dir="off"))


def _starts_with_mlflow(name: str) -> bool:
    return name.startswith("mlflow")


def _log_metric(name: str) -> bool:
    return name.endswith("log_metric")


def test_named_gives_what_a_walk_over_every_call_gives(facts):
    walked = [(idx.path, call) for idx, call in facts.calls() if _log_metric(call.name)]
    assert len(walked) == 3   # two in train.py (one nested), one in the test
    got = facts.call_table.named(_log_metric)
    assert [(p, c) for p, calls in got.items() for c in calls] == walked
    assert list(facts.call_table.calls(_log_metric, facts.non_test_code())) == \
        [(idx, c) for idx, c in facts.calls(facts.non_test_code()) if _log_metric(c.name)]
    # the attribute hint leaves out only names the test refuses anyway
    assert facts.call_table.named(_log_metric, attrs={"log_metric"}) == got
    assert facts.call_table.named(_log_metric, attrs={"log_param"}) == {}
    assert facts.call_table.named(_log_metric, attrs=lambda a: a.startswith("log_")) == got
    # a root hint: only names whose first part starts so are asked about
    by_root = facts.call_table.named(_log_metric, roots=("pkg",))
    assert [c.name for calls in by_root.values() for c in calls] == ["pkg.config.mlflow.log_metric"] * 2
    assert facts.call_table.named(_log_metric, attrs={"nothing"}, roots=("pkg", "mlflow")) == got


def test_external_names_are_judged_as_facts_give_them(facts):
    external = [(idx.path, c.line) for idx, c in facts.calls()
                if _starts_with_mlflow(facts.external_name(idx, c.name))]
    raw = [(idx.path, c.line) for idx, c in facts.calls() if _starts_with_mlflow(c.name)]
    assert external != raw   # re-exports through pkg.config: only the external names say mlflow
    got = facts.call_table.named(_starts_with_mlflow, external=True)
    assert [(p, c.line) for p, calls in got.items() for c in calls] == external
    renamed = facts.call_table.renamed()
    assert renamed["pkg.config.mlflow.log_metric"] == {"train.py": "mlflow.log_metric"}


def test_keyword_index(facts):
    got = facts.call_table.with_keyword("report_to", "log_with")
    assert [c.attr for c in got["train.py"]] == ["make"]
    assert facts.call_table.with_keyword("nothing") == {}


def test_calls_in_scopes_keeps_nested_definitions(facts):
    idx = facts.code["train.py"]
    wanted = {"main"}
    brute = [c for c in idx.calls if c.scope in wanted or any(c.scope.startswith(w + ".") for w in wanted)]
    assert calls_in_scopes(idx.calls, wanted) == brute
    assert {c.scope for c in brute} == {"main", "main.inner"}
    assert calls_in_scopes(idx.calls, {"<module>"}) == [c for c in idx.calls if c.scope == "<module>"]


def _check_may_differ(facts: Facts) -> int:
    reexported = reexported_names(facts.code.values())
    memo: dict = {}
    renamed = 0
    for idx, call in facts.calls():
        if canonical_name(facts.graph, idx, call.name) != call.name:
            renamed += 1
            assert may_differ(idx, call.name, _import_targets(idx), reexported, memo), (idx.path, call.name)
    return renamed


def test_may_differ_never_skips_a_renamed_call(facts):
    assert _check_may_differ(facts) >= 3


def _brute_renamed(facts: Facts) -> dict:
    out: dict = {}
    for idx, call in facts.calls():
        ext = canonical_name(facts.graph, idx, call.name)
        if ext != call.name:
            out.setdefault(call.name, {})[idx.path] = ext
    return out


SHADOWED = {
    "pkg/logs.py": "try:\n    from torch.utils.tensorboard import SummaryWriter\nexcept ImportError:\n"
                   "    def SummaryWriter(*a):\n        return None\n\nwriter = SummaryWriter()\n",
}


def test_renamed_is_what_canonical_name_gives_every_call(tmp_path: Path):
    materialise({**REPO, **SHADOWED}, tmp_path)
    facts = Facts(tmp_path, ScanOptions(jobs=1, cache_dir="off"))
    brute = _brute_renamed(facts)
    assert brute["pkg.logs.SummaryWriter"] == {"pkg/logs.py": "torch.utils.tensorboard.SummaryWriter"}
    assert brute["pkg.config.wandb.log"] == {"train.py": "wandb.log"}
    assert facts.call_table.renamed() == brute


def test_may_differ_on_every_rule_example(tmp_path: Path):
    n = 0
    for rule in all_rules():
        for example in rule.examples:
            if sum(p.endswith((".py", ".ipynb")) for p in example.files) < 2:
                continue
            root = tmp_path / f"{rule.id}-{n}"
            n += 1
            materialise(example.files, root)
            facts = Facts(root, ScanOptions(jobs=1, cache_dir="off"))
            _check_may_differ(facts)
            assert facts.call_table.renamed() == _brute_renamed(facts), root.name
    assert n > 20


@pytest.mark.parametrize("text", ["mlflow.log", "MLFlow.Log", "torch.nn.Linear", "my_Logger", "x.SummaryWriter",
                                  "aım.track", "AIM", "K\u212aelvin.logger", "", "writer.x"])
def test_ignorecase_search_agrees_with_the_pattern(text):
    rx = re.compile(r"(?i)mlflow|aim|logger$|writer$|summary\b")
    assert ignorecase_search(rx)(text) == bool(rx.search(text))
    capital = re.compile(r"(?i)Writer$")   # a capital letter: the pattern itself is asked
    assert ignorecase_search(capital)(text) == bool(capital.search(text))
