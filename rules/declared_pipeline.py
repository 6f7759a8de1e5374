from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Dict, List, Optional, Set, Tuple

from mlscan.facts.configs import command_targets
from mlscan.facts.repo import is_test_path
from mlscan.rulekit import Example, Rule
from mlscan.rules._lifecycle import cell, imports_any, where
from mlscan.rules._vocab import TRAIN_WORD

# orchestrators declared in code: (tool, how it is declared, pattern on a resolved name)
DECORATORS: Tuple[Tuple[str, "re.Pattern[str]"], ...] = tuple((tool, re.compile(rx)) for tool, rx in (
    ("Kubeflow Pipelines", r"^kfp\.(v2\.)?dsl\.pipeline$"),
    ("Airflow", r"^airflow\.(decorators|sdk)\.(.*\.)?dag$"),
    ("Prefect", r"^prefect\.(.*\.)?flow$"),
    ("ZenML", r"^zenml\.(.*\.)?pipeline$"),
    ("Dagster", r"^dagster\.(job|graph|asset|multi_asset|graph_asset)$"),
    ("Flyte", r"^flytekit\.(.*\.)?(workflow|dynamic)$"),
    ("Azure ML pipelines", r"^azure\.ai\.ml\.dsl\.pipeline$"),
))
COMPONENT_DECORATORS = re.compile(r"^(kfp\.(v2\.)?dsl\.(component|container_component)|zenml\.(.*\.)?step|"
                                  r"prefect\.(.*\.)?task|dagster\.op|flytekit\.(.*\.)?task)$")
CALLS: Tuple[Tuple[str, "re.Pattern[str]"], ...] = tuple((tool, re.compile(rx)) for tool, rx in (
    ("Airflow", r"^airflow\.(models\.(dag\.)?|sdk\.)?DAG$"),
    ("Kedro", r"^kedro\.pipeline\.(modular_pipeline\.)?(Pipeline|pipeline)$"),
    ("TFX", r"^tfx\.(.*\.)?(orchestration\.pipeline\.Pipeline|dsl\.Pipeline)$"),
    ("SageMaker Pipelines", r"^sagemaker\.workflow\.pipeline\.Pipeline$"),
    ("Vertex AI Pipelines", r"^google\.cloud\.aiplatform\.(.*\.)?PipelineJob$"),
    ("Kubeflow Pipelines", r"^kfp\.(v2\.)?compiler\.Compiler\(\)\.compile$|"
                           r"^kfp\.Client\(\)\.create_run_from_pipeline_func$"),
    ("Dagster", r"^dagster\.Definitions$"),
    ("Argo Workflows (Hera)", r"^hera\.workflows\.(Workflow|DAG|Steps)$"),
    ("Kubeflow Pipelines", r"^kfp\.components\.(create_component_from_func|load_component_from_\w+)$"),
))
BASES = {"metaflow.FlowSpec": "Metaflow", "luigi.Task": "Luigi", "luigi.WrapperTask": "Luigi"}
ROOTS = {"kfp", "airflow", "prefect", "zenml", "dagster", "flytekit", "azure", "kedro", "tfx", "sagemaker", "google",
         "hera", "metaflow", "luigi"}
STEP_KWARGS = {"task_id", "bash_command", "command", "cmd", "entrypoint", "name", "display_name", "step_name",
               "job_name", "func", "arguments"}
PYTHON_VAR = re.compile(r"\$[({](PYTHON\w*|PY)[)}]", re.I)


class TrainingPipelineDeclared(Rule):
    """The training pipeline is declared as stages with inputs and outputs

    Looks for a declared pipeline: dvc.yaml stages; Kubeflow (`@dsl.pipeline`, compiled pipeline
    specs), Vertex AI `PipelineJob`, SageMaker `workflow.pipeline.Pipeline`, Airflow (`DAG`,
    `@dag`), Prefect `@flow`, Metaflow `FlowSpec`, ZenML `@pipeline`, Kedro `Pipeline`/`pipeline`,
    TFX, Dagster, Flyte, Luigi, Azure ML pipelines, Argo Workflows and Snakemake. A pipeline that
    trains (one of its steps reaches a training call, or it names a training step) supports the
    practice; one that only moves data or monitors is partial. So are an MLproject (entry points
    without a DAG), a Makefile whose targets chain preparation and training, and a shell script
    that runs the steps one after another: the order is written down, the inputs and outputs
    are not.
    """

    id = "declared-pipeline"
    practice = "declared-pipeline"
    examples = (
        Example({
            "dvc.yaml": "stages:\n  prepare:\n    cmd: python src/prepare.py\n    deps: [data/raw.csv, src/prepare.py]\n"
                        "    outs: [data/prepared.csv]\n  train:\n    cmd: python src/train.py\n"
                        "    deps: [data/prepared.csv, src/train.py]\n    outs: [model.pkl]\n",
            "src/prepare.py": "import pandas as pd\npd.read_csv('data/raw.csv').dropna().to_csv('data/prepared.csv')\n",
            "src/train.py": "import pandas as pd\nfrom sklearn.svm import SVC\ndf = pd.read_csv('data/prepared.csv')\n"
                            "SVC().fit(df[['x']], df.y)\n",
        }, "present", "a DVC pipeline", fires=True),
        Example({
            "flows/train_flow.py": "from prefect import flow, task\nfrom sklearn.svm import SVC\n\n@task\n"
                                   "def train(X, y):\n    return SVC().fit(X, y)\n\n@flow\ndef training():\n"
                                   "    train([[0], [1]], [0, 1])\n",
        }, "present", "a Prefect flow that trains"),
        Example({
            "Makefile": "data/clean.csv: data/raw.csv\n\tpython src/clean.py\n\n"
                        "train: data/clean.csv\n\tpython src/train.py\n",
            "src/clean.py": "import pandas as pd\n\nif __name__ == '__main__':\n"
                            "    pd.read_csv('data/raw.csv').dropna().to_csv('data/clean.csv')\n",
            "src/train.py": "import pandas as pd\nfrom sklearn.svm import SVC\n\nif __name__ == '__main__':\n"
                            "    df = pd.read_csv('data/clean.csv')\n    SVC().fit(df[['x']], df.y)\n",
        }, "partial", "a Makefile chains cleaning into training", fires=True),
        Example({
            "README.md": "# Steps\n\n1. run `python prepare.py`\n2. then run `python train.py`\n",
            "prepare.py": "import pandas as pd\npd.read_csv('raw.csv').dropna().to_csv('clean.csv')\n",
            "train.py": "import pandas as pd\nfrom sklearn.svm import SVC\ndf = pd.read_csv('clean.csv')\n"
                        "SVC().fit(df[['x']], df.y)\n",
        }, "absent", "steps run by hand, following the README", fires=False),
        Example({
            "MLproject": "name: churn\nentry_points:\n  main:\n    command: python train.py\n",
            "train.py": "from sklearn.svm import SVC\nSVC().fit([[0], [1]], [0, 1])\n",
        }, "partial", "an MLproject: entry points, not a pipeline"),
    )

    def check(self, facts):
        trains = _TrainingCheck(facts)
        supports: List[Tuple[str, int, str]] = []
        partial: List[Tuple[str, int, str]] = []
        illustrative: List[Tuple[str, int, str]] = []
        # dvc.yaml stages
        for f in facts.glob("dvc.yaml"):
            if "{{" in f.path:
                continue
            doc = facts.config(f.path)
            stages = doc.data.get("stages") if doc and isinstance(doc.data, dict) else None
            if not isinstance(stages, dict):
                continue
            names = [str(n) for n, st in stages.items() if isinstance(st, dict) and (st.get("cmd") or st.get("foreach"))]
            if not names:
                continue
            order = " → ".join(names[:6]) + (" …" if len(names) > 6 else "")
            line = facts.line_of(f.path, "stages:")
            if trains.dvc(f.path, stages):
                supports.append((f.path, line, f"dvc.yaml declares {len(names)} stage(s): {order}"))
            else:
                partial.append((f.path, line, f"dvc.yaml declares stage(s) {order}, but none of them trains a model"))
        # orchestrators in code
        for idx in facts.non_test_code():
            if not imports_any(idx, ROOTS):
                continue
            for path, line, tool, owner in _declared_in(idx):
                trained = trains.code(idx, owner)
                text = f"{tool} pipeline {owner}" if owner else f"{tool} pipeline"
                at = cell(facts, path, line)
                if where(path) == "example":
                    illustrative.append((path, line, f"{text}{at} is declared only in illustrative code"))
                elif trained:
                    supports.append((path, line, f"{text}{at} declares the training steps"))
                else:
                    partial.append((path, line, f"{text}{at} is declared, but none of its steps trains a model"))
        # workflow manifests and Snakemake
        for path, line, tool in _manifests(facts):
            if TRAIN_WORD.search(facts.text(path) or ""):
                supports.append((path, line, f"{tool} declares the training steps"))
            else:
                partial.append((path, line, f"{tool} is declared, but none of its steps trains a model"))
        seen: Set[str] = set()
        for path, line, msg in supports[:6]:
            seen.add(path)
            yield self.found("supports", path, line, msg)
        if supports:
            return
        for path, line, msg in partial[:4]:
            yield self.found("partial", path, line, msg)
        # weaker declarations: MLproject, Makefile chains, shell scripts that run the steps in order
        for f in facts.glob("MLproject", "MLproject.yaml"):
            doc = facts.config(f.path)
            eps = doc.data.get("entry_points") if doc and isinstance(doc.data, dict) else None
            if isinstance(eps, dict) and eps:
                yield self.found("partial", f.path, facts.line_of(f.path, "entry_points"),
                                 f"MLproject declares entry point(s) {', '.join(map(str, list(eps)[:4]))}, "
                                 f"but no pipeline of steps with inputs and outputs")
        for path, line, msg in _make_chains(facts, trains) + _script_chains(facts, trains):
            yield self.found("partial", path, line, msg)
        for path, line, msg in illustrative[:2]:
            yield self.found("partial", path, line, msg)


class _TrainingCheck:
    """Whether a declared pipeline trains: its code reaches a training call, or it names a training step."""

    def __init__(self, facts):
        self.facts = facts
        self.graph = facts.graph
        self.train_nodes = self.graph.training_call_nodes
        self.train_targets = {ep.target for ep in self.graph.training_entry_points}

    def node(self, node: str) -> bool:
        return bool(self.train_nodes & self.graph.reachable(node)) if node in self.graph.g else False

    def code(self, idx, owner: Optional[str]) -> bool:
        if owner and (TRAIN_WORD.search(owner) or self.node(f"def:{idx.path}:{owner}")):
            return True
        if owner and idx.defs.get(owner) is not None and idx.defs[owner].kind == "class":
            if any(self.node(f"def:{idx.path}:{q}") for q in idx.defs if q.startswith(owner + ".")):
                return True
        if TRAIN_WORD.search(PurePosixPath(idx.path).stem):
            return True
        if self.node(f"mod:{idx.path}"):
            return True
        # steps named in the file's calls (task_id="train_model", bash_command="python train.py")
        for call in idx.calls:
            for k, v in call.kwargs:
                if k in STEP_KWARGS and isinstance(v, str) and TRAIN_WORD.search(v):
                    return True
        return any(TRAIN_WORD.search(q) for q, d in idx.defs.items()
                   if any(COMPONENT_DECORATORS.match(dec) for dec in d.decorators))

    def dvc(self, path: str, stages: dict) -> bool:
        for name, st in stages.items():
            if not isinstance(st, dict):
                continue
            if TRAIN_WORD.search(str(name)) or TRAIN_WORD.search(str(st.get("cmd", ""))):
                return True
        return any(ep.kind == "pipeline" and ep.path == path and ep.target in self.train_targets
                   for ep in self.graph.entry_points)

    def command(self, cmd: str, base: str = "") -> List[Tuple[str, bool]]:
        """(step label, trains) for the Python steps a command line runs."""
        out = []
        for t in command_targets(PYTHON_VAR.sub("python", cmd)):
            if t.kind not in ("script", "module", "notebook"):
                continue
            node = _resolve(self.facts, t, base)
            if node is None or is_test_path(node[4:]):
                continue   # a library module (pytest, pip) or a script the repo does not hold
            out.append((node[4:], node in self.train_targets or self.node(node)))
        return out


def _resolve(facts, t, base: str) -> Optional[str]:
    if t.kind == "module":
        p = facts.graph.resolve_module(None, t.target)
        return f"mod:{p}" if p else None
    raw = re.sub(r"^(\./)+", "", t.target.replace("\\", "/"))
    for cand in ([str(PurePosixPath(base) / raw)] if base else []) + [raw]:
        cand = str(PurePosixPath(cand))
        if cand in facts.code:
            return f"mod:{cand}"
    return None


def _declared_in(idx) -> List[Tuple[str, int, str, Optional[str]]]:
    """(path, line, tool, owner def) for each pipeline a file declares."""
    out: List[Tuple[str, int, str, Optional[str]]] = []
    seen: Set[str] = set()
    for qual, d in idx.defs.items():
        for dec in d.decorators:
            for tool, rx in DECORATORS:
                if rx.match(dec.lstrip("?").replace("()", "")):
                    out.append((idx.path, d.line, tool, qual))
                    seen.add(tool)
                    break
        for base in d.bases:
            tool = BASES.get(base.replace("()", ""))
            if tool:
                out.append((idx.path, d.line, tool, qual))
                seen.add(tool)
    for call in idx.calls:
        name = call.name.lstrip("?")
        for tool, rx in CALLS:
            if tool not in seen and rx.match(name):
                owner = call.scope if call.scope not in ("<module>", "<main>") else None
                out.append((idx.path, call.line, tool, owner))
                seen.add(tool)
                break
    return out


def _manifests(facts) -> List[Tuple[str, int, str]]:
    out = []
    for path in facts.config_files:
        if not path.endswith((".yaml", ".yml")) or "{{" in path:
            continue
        text = facts.text(path) or ""
        if "argoproj.io" not in text and "type: pipeline" not in text and "pipelineInfo" not in text:
            continue
        doc = facts.config(path)
        for d in doc.mappings() if doc else []:
            api = str(d.get("apiVersion", ""))
            if api.startswith("argoproj.io") and d.get("kind") in ("Workflow", "WorkflowTemplate", "CronWorkflow"):
                out.append((path, facts.line_of(path, "kind:"), f"Argo {d['kind']} {path}"))
                break
            if d.get("type") == "pipeline" and isinstance(d.get("jobs"), dict):
                out.append((path, facts.line_of(path, "type: pipeline"), f"Azure ML pipeline {path}"))
                break
            if isinstance(d.get("pipelineInfo"), dict) and isinstance(d.get("root"), dict):
                out.append((path, facts.line_of(path, "pipelineInfo"), f"compiled Kubeflow pipeline {path}"))
                break
    for f in facts.named("Snakefile") + facts.glob("*.smk"):
        if re.search(r"(?m)^rule\s+\w+\s*:", facts.text(f.path) or ""):
            out.append((f.path, facts.line_of(f.path, r"^rule\s", regex=True), f"Snakemake workflow {f.path}"))
    return out


def _make_chains(facts, trains: _TrainingCheck) -> List[Tuple[str, int, str]]:
    """Per Makefile, the target whose prerequisites chain the most steps, when one of them trains."""
    by_file: Dict[str, Dict[str, object]] = {}
    for t in facts.makefile_targets:
        if "{{" not in t.path and not is_test_path(t.path):
            by_file.setdefault(t.path, {})[t.name] = t
    out = []
    for path, targets in sorted(by_file.items()):
        base = str(PurePosixPath(path).parent)
        base = "" if base == "." else base
        steps_of: Dict[str, List[Tuple[str, bool]]] = {}
        for name, t in targets.items():
            steps_of[name] = [s for _, cmd in t.recipe for s in trains.command(cmd, base)]
        best = None
        for name, t in targets.items():
            order: List[Tuple[str, str, bool]] = []   # (make target, step, trains)
            _walk(name, targets, steps_of, order, set())
            labels = []
            for _, step, _ in order:
                if step not in labels:
                    labels.append(step)
            owners = {o for o, _, _ in order}
            if len(labels) >= 2 and any(tr for _, _, tr in order) and (len(owners) >= 2 or len(labels) >= 2):
                if best is None or len(labels) > len(best[1]):
                    best = (t, labels)
        if best:
            t, labels = best
            out.append((path, t.line, f"Makefile target `{t.name}` chains {' → '.join(labels[:6])}: the order is "
                                      f"declared, the inputs and outputs of each step are not"))
    return out


def _walk(name, targets, steps_of, order, seen) -> None:
    if name in seen or name not in targets:
        return
    seen.add(name)
    for pre in targets[name].prerequisites:
        _walk(pre, targets, steps_of, order, seen)
    for step, trained in steps_of.get(name, []):
        order.append((name, step, trained))


def _script_chains(facts, trains: _TrainingCheck) -> List[Tuple[str, int, str]]:
    """Shell scripts that run two or more Python steps in order, one of which trains."""
    by_file: Dict[str, List[Tuple[int, str]]] = {}
    for path, line, cmd in facts.shell_commands:
        if path.endswith((".sh", ".bash")) and "{{" not in path and not is_test_path(path):
            by_file.setdefault(path, []).append((line, cmd))
    out = []
    for path, lines in sorted(by_file.items()):
        base = str(PurePosixPath(path).parent)
        base = "" if base == "." else base
        steps: List[Tuple[int, str, bool]] = []
        for line, cmd in lines:
            for label, trained in trains.command(cmd, base):
                if label not in [s for _, s, _ in steps]:
                    steps.append((line, label, trained))
        if len(steps) >= 2 and any(tr for _, _, tr in steps):
            out.append((path, steps[0][0], f"{path} runs {' → '.join(s for _, s, _ in steps[:6])} in order: the "
                                           f"sequence is scripted, the inputs and outputs of each step are not declared"))
    return out[:3]
