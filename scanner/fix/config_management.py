"""Answers config-hardcoded (rules/config_hardcoded.py)."""
from __future__ import annotations

import ast
import json
from pathlib import PurePosixPath
from typing import Dict, List, Optional, Tuple

import libcst as cst
import yaml
from libcst.metadata import MetadataWrapper, PositionProvider

from mlscan.facts.repo import is_test_path
from mlscan.fix import cst as C
from mlscan.fix.base import Edit, Fix, FixExample, Skip, Suggest, top_level_names
from mlscan.rules._mlcode import root_of
from mlscan.rules._vocab import FIT_ATTRS, TRAINING_HYPERPARAMETER
from mlscan.rules.config_hardcoded import ESTIMATOR_LIBS, TRAINING_APIS

SECTIONS = ("train", "hyperparameters")
HEADER = "# Training hyperparameters, moved out of the code by `mlscan fix`.\n"


class HyperparametersToConfig(Fix):
    """Move hard-coded training hyperparameters into a config file the training loads

    Each literal hyperparameter that config-hardcoded flags (`n_estimators=300`, `lr=0.05`) is
    replaced by a lookup in a `PARAMS` mapping that the training file loads, next to its imports,
    from `params.yaml` (or from the YAML config file the training already reads, in a new
    `train:` section). The values are written exactly, so the run does not change. Without
    PyYAML in the repo the file is `params.json`, read with the standard library.
    """

    id = "hyperparameters-to-config"
    practice = "config-management"
    answers = ("config-hardcoded", "config-files")
    examples = (
        FixExample({
            "requirements.txt": "pyyaml==6.0.1\nscikit-learn==1.4.2\n",
            "train.py": "\"\"\"Train the forest.\"\"\"\nimport yaml  # configs later\n"
                        "from sklearn.ensemble import RandomForestClassifier\n\n"
                        "clf = RandomForestClassifier(n_estimators=300, max_depth=8,  # tuned by hand\n"
                        "                             min_samples_leaf=3, random_state=0)\n"
                        "clf.fit([[0], [1]], [0, 1])\n",
        }, {
            "params.yaml": HEADER + "train:\n  n_estimators: 300\n  max_depth: 8\n  min_samples_leaf: 3\n",
            "train.py": "\"\"\"Train the forest.\"\"\"\nimport yaml  # configs later\n"
                        "from sklearn.ensemble import RandomForestClassifier\nimport pathlib\n"
                        "PARAMS = yaml.safe_load((pathlib.Path(__file__).resolve().parent / \"params.yaml\").read_text())[\"train\"]\n\n"
                        "clf = RandomForestClassifier(n_estimators=PARAMS[\"n_estimators\"], max_depth=PARAMS[\"max_depth\"],  # tuned by hand\n"
                        "                             min_samples_leaf=PARAMS[\"min_samples_leaf\"], random_state=0)\n"
                        "clf.fit([[0], [1]], [0, 1])\n",
        }, "present", "three literals moved to params.yaml; comments and layout kept"),
        FixExample({
            "src/train.py": "import torch\n\nnet = torch.nn.Linear(2, 1)\n"
                            "opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)\n"
                            "net(torch.zeros(1, 2)).sum().backward()\nopt.step()\n",
        }, {
            "params.json": "{\n  \"train\": {\n    \"lr\": 0.05,\n    \"momentum\": 0.9\n  }\n}\n",
            "src/train.py": "import torch\nimport json\nimport pathlib\n"
                            "PARAMS = json.loads((pathlib.Path(__file__).resolve().parents[1] / \"params.json\").read_text())[\"train\"]\n\n"
                            "net = torch.nn.Linear(2, 1)\n"
                            "opt = torch.optim.SGD(net.parameters(), lr=PARAMS[\"lr\"], momentum=PARAMS[\"momentum\"])\n"
                            "net(torch.zeros(1, 2)).sum().backward()\nopt.step()\n",
        }, "present", "no PyYAML in the repo: params.json at the repo root, read with json"),
        FixExample({
            "params.yaml": "train:  # the forest\n  n_estimators: 300\n  max_depth: 8\n",
            "train.py": "import yaml\nimport torch\nfrom sklearn.ensemble import RandomForestClassifier\n\n"
                        "p = yaml.safe_load(open('params.yaml'))['train']\n"
                        "RandomForestClassifier(**p).fit([[0], [1]], [0, 1])\n"
                        "net = torch.nn.Linear(2, 1)\nopt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)\n"
                        "net(torch.zeros(1, 2)).sum().backward()\nopt.step()\n",
        }, {
            "params.yaml": "train:  # the forest\n  n_estimators: 300\n  max_depth: 8\n"
                           "hyperparameters:\n  lr: 0.05\n  momentum: 0.9\n",
            "train.py": "import yaml\nimport torch\nfrom sklearn.ensemble import RandomForestClassifier\nimport pathlib\n"
                        "PARAMS = yaml.safe_load((pathlib.Path(__file__).resolve().parent / \"params.yaml\").read_text())"
                        "[\"hyperparameters\"]\n\n"
                        "p = yaml.safe_load(open('params.yaml'))['train']\n"
                        "RandomForestClassifier(**p).fit([[0], [1]], [0, 1])\n"
                        "net = torch.nn.Linear(2, 1)\n"
                        "opt = torch.optim.SGD(net.parameters(), lr=PARAMS[\"lr\"], momentum=PARAMS[\"momentum\"])\n"
                        "net(torch.zeros(1, 2)).sum().backward()\nopt.step()\n",
        }, "present", "the config file the training reads gets a new section; its comments are kept"),
    )

    def plan(self, ctx):
        facts = ctx.facts
        hits = hardcoded_calls(facts)
        if not hits:
            yield Skip(".", "no hard-coded hyperparameters in the training code to move")
            return
        use_yaml = _has_yaml(facts)
        config = _existing_config(ctx) if use_yaml else None
        if config is None:
            config = "params.yaml" if use_yaml else "params.json"
        existing = ctx.workspace.read(config)
        section, problem = _section(config, existing)
        if problem:
            yield Skip(config, problem)
            return
        values: Dict[str, object] = {}
        keys_by_site: Dict[Tuple[str, int, str], str] = {}
        for path, line, attr, hps in hits:
            for k, v in hps:
                key = k
                n = 1
                while key in values and (values[key] != v or type(values[key]) is not type(v)):
                    n += 1
                    key = f"{attr.lower()}_{k}" if n == 2 else f"{attr.lower()}_{k}_{n - 1}"
                values[key] = v
                keys_by_site[(path, line, k)] = key
        edits: List[Edit] = []
        for path in sorted({h[0] for h in hits}):
            if path.endswith(".ipynb"):
                yield Suggest(path, f"move the hyperparameter literals into {config} and read them from there")
                continue
            if path in ctx.workspace.changed:
                yield Skip(path, "another fix changed this file first; run `mlscan fix` again after applying it")
                return
            text = ctx.workspace.read(path)
            if text is None:
                yield Skip(path, "not readable UTF-8 text")
                continue
            sites = {(line, k): key for (p, line, k), key in keys_by_site.items() if p == path}
            new, problem = _rewrite(text, path, config, sites, values, use_yaml, section)
            if problem:
                yield Skip(path, problem)
                return
            edits.append(Edit(path, new, f"hyperparameters {', '.join(sorted(set(sites.values())))} read from {config}"))
        if not edits:
            return
        used = {k: values[k] for k in dict.fromkeys(keys_by_site.values())}
        yield Edit(config, _config_text(config, existing, section, used), f"holds the moved hyperparameters ({section})")
        yield from edits


def hardcoded_calls(facts) -> List[Tuple[str, int, str, List[Tuple[str, object]]]]:
    """(path, line, callee attr, [(keyword, literal)]) for training calls given literal hyperparameters,
    chosen as config-hardcoded chooses them."""
    graph = facts.graph
    out = []
    for idx, call in graph.calls_in(graph.training_closure):
        if is_test_path(idx.path):
            continue
        name = facts.external_name(idx, call.name)
        external = graph.resolve_name(idx.path, name) is None
        if not ((external and (root_of(name) in ESTIMATOR_LIBS or TRAINING_APIS.match(name))) or call.attr in FIT_ATTRS):
            continue
        hps = [(k, v) for k, v in call.kwargs if TRAINING_HYPERPARAMETER.match(k) and isinstance(v, (int, float))
               and not isinstance(v, bool) and v not in (0, 1, -1)]
        if hps:
            out.append((idx.path, call.line, call.attr, hps))
    return out


def _has_yaml(facts) -> bool:
    if any("yaml" in idx.imported_roots for idx in facts.code.values()):
        return True
    return any(r.name in ("pyyaml", "omegaconf", "hydra-core", "dvc") for r in facts.requirements)


def _existing_config(ctx) -> Optional[str]:
    """The YAML config file the training code already reads (a `cfg:` node the graph links to it)."""
    graph = ctx.facts.graph
    found = set()
    for node in graph.training_closure:
        for _, target, kind in graph.g.out_edges(node, data="kind"):
            if kind == "reads" and target.startswith("cfg:") and target.endswith((".yaml", ".yml")) \
                    and ctx.facts.exists(target[4:]):
                found.add(target[4:])
    return sorted(found)[0] if found else None


def _section(config: str, existing: Optional[str]) -> Tuple[str, Optional[str]]:
    if existing is None:
        return SECTIONS[0], None
    if config.endswith(".json"):
        return "", f"{config} exists; mlscan does not rewrite JSON configs"
    try:
        data = yaml.safe_load(existing)
    except yaml.YAMLError:
        return "", f"{config} does not parse as YAML"
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return "", f"{config} is not a mapping at the top level"
    for s in SECTIONS:
        if s not in data:
            return s, None
    return "", f"{config} already has {' and '.join(SECTIONS)} sections; move the values by hand"


def _config_text(config: str, existing: Optional[str], section: str, values: Dict[str, object]) -> str:
    if config.endswith(".json"):
        return json.dumps({section: values}, indent=2) + "\n"
    block = yaml.safe_dump({section: values}, sort_keys=False, default_flow_style=False)
    if existing is None:
        return HEADER + block
    sep = "" if existing.endswith("\n") or not existing else "\n"
    return existing + sep + block


def _rewrite(text: str, path: str, config: str, sites: Dict[Tuple[int, str], str], values: Dict[str, object],
             use_yaml: bool, section: str) -> Tuple[str, Optional[str]]:
    module = C.parse(text)
    taken = top_level_names(module.code)
    var = C.free_name(taken, "PARAMS", "TRAIN_PARAMS", "HYPERPARAMETERS")
    loader = "yaml" if use_yaml else "json"
    imported = C.bound_modules(module)
    needs = [m for m in (loader, "pathlib") if imported.get(m) != m]
    if any(m in taken and imported.get(m) != m for m in (loader, "pathlib")):
        return "", f"the names {loader}/pathlib mean something else in {path}"

    class Replace(cst.CSTTransformer):
        METADATA_DEPENDENCIES = (PositionProvider,)

        def __init__(self):
            super().__init__()
            self.done = 0

        def leave_Call(self, original, updated):
            line = self.get_metadata(PositionProvider, original).start.line
            args = []
            for arg in updated.args:
                key = sites.get((line, arg.keyword.value)) if arg.keyword is not None else None
                if key is not None and _is_number(arg.value) and _same(arg.value, values[key]):
                    arg = arg.with_changes(value=cst.parse_expression(f"{var}[{json.dumps(key)}]"))
                    self.done += 1
                args.append(arg)
            return updated.with_changes(args=args)

    replacer = Replace()
    new = MetadataWrapper(module).visit(replacer)
    if replacer.done == 0:
        return "", "cannot find the hyperparameter literals the scan reported"
    depth = path.count("/")
    base = "pathlib.Path(__file__).resolve().parent" if depth == 0 else f"pathlib.Path(__file__).resolve().parents[{depth}]"
    read = "yaml.safe_load" if use_yaml else "json.loads"
    lines = [f"import {m}\n" for m in needs]
    lines.append(f"{var} = {read}(({base} / {json.dumps(PurePosixPath(config).as_posix())}).read_text())"
                 f"[{json.dumps(section)}]\n")
    return C.insert_module_level(new, C.import_end(new), C.statements(new, "".join(lines))).code, None


def _same(node, value) -> bool:
    """The literal in the code is the value moved to the config (two calls on one line may differ)."""
    try:
        found = ast.literal_eval(cst.Module([]).code_for_node(node))
    except (ValueError, SyntaxError):
        return False
    return found == value and type(found) is type(value)


def _is_number(node) -> bool:
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        node = node.expression
    return isinstance(node, (cst.Integer, cst.Float))
