"""Answers model-card (rules/model_cards.py)."""
from __future__ import annotations

from typing import List

from mlscan.fix.base import Edit, Fix, FixExample, Skip
from mlscan.rules._docs import card_file_name, project_docs

CARD = "MODEL_CARD.md"
FRAMEWORKS = {"torch": "PyTorch", "tensorflow": "TensorFlow", "keras": "Keras", "sklearn": "scikit-learn",
              "xgboost": "XGBoost", "lightgbm": "LightGBM", "catboost": "CatBoost", "jax": "JAX", "flax": "Flax",
              "transformers": "Hugging Face Transformers", "lightning": "Lightning",
              "pytorch_lightning": "PyTorch Lightning", "statsmodels": "statsmodels", "prophet": "Prophet"}
METRIC_ATTRS = {"log_metric", "log_metrics", "add_scalar", "log", "summary_scalar"}
UNKNOWN = "_Not known to mlscan: write this section._"


class ModelCardSkeleton(Fix):
    """Write a model card skeleton filled in from what the scan knows

    Creates `MODEL_CARD.md` when the repo has no model card: the framework, the training entry
    point, the data files the training reads and the metrics it logs are filled in from the
    graph; intended use and limitations, which no scan can know, are left as clearly marked
    gaps. So the card counts as partial until a person writes those sections.
    """

    id = "model-card-skeleton"
    practice = "model-documentation"
    answers = ("model-card",)
    examples = (
        FixExample({
            "train.py": "import mlflow\nimport pandas as pd\nfrom sklearn.linear_model import LogisticRegression\n\n"
                        "df = pd.read_csv('data/churn.csv')\nclf = LogisticRegression().fit(df[['x']], df['y'])\n"
                        "mlflow.log_metric('auc', 0.9)\n",
        }, {
            CARD: "# Model card\n\n"
                  "<!-- Written by `mlscan fix` from a static scan. Check every line; write the sections marked "
                  "as not known. -->\n\n"
                  "## Model details\n\n- Framework: scikit-learn\n- Training entry point: `train.py` (top-level script)\n\n"
                  "## Training data\n\nThe training reads these files:\n\n- `data/churn.csv`\n\n"
                  "Describe where this data comes from, its time span and its size.\n\n"
                  "## Evaluation\n\nThe training logs these metrics:\n\n- `auc`\n\n"
                  "Report their values on held-out data here.\n\n"
                  f"## Intended use\n\n{UNKNOWN}\n\n## Limitations\n\n{UNKNOWN}\n",
        }, "partial", "data and metrics filled in; intended use and limitations left to a person"),
    )

    def plan(self, ctx):
        facts = ctx.facts
        cards = [p for p in project_docs(facts) if card_file_name(p)]
        if cards:
            yield Skip(cards[0], "the repo has a model card; fill in its missing sections by hand")
            return
        if ctx.workspace.exists(CARD):
            yield Skip(CARD, "the file exists")
            return
        graph = facts.graph
        entries = graph.primary_training_entry_points
        if not entries and not graph.training_modules:
            yield Skip(".", "no training code found to describe")
            return
        closure = graph.training_closure
        roots = set()
        for path in graph.scopes_in(closure):
            idx = facts.code.get(path)
            if idx is not None:
                roots |= idx.imported_roots
        frameworks = [name for key, name in FRAMEWORKS.items() if key in roots]
        data, models = _artefacts(graph, closure)
        metrics = _metrics(graph, closure)
        yield Edit(CARD, _card(frameworks, entries, graph.training_modules, data, models, metrics),
                   "model card skeleton; intended use and limitations are left to write")


def _artefacts(graph, closure):
    data, models = [], []
    for node in sorted(closure):
        for _, target, kind in graph.g.out_edges(node, data="kind"):
            if not target.startswith("art:"):
                continue
            what = graph.g.nodes[target].get("kind")
            path = target[4:]
            if kind == "reads" and what == "data" and path not in data:
                data.append(path)
            elif kind == "writes" and what == "model" and path not in models:
                models.append(path)
    return data, models


def _metrics(graph, closure) -> List[str]:
    out: List[str] = []
    for _, call in graph.calls_in(closure):
        if call.attr not in METRIC_ATTRS or call.name.startswith(("logging", "numpy", "math", "torch.log")):
            continue
        names = [call.args[0]] if call.args and isinstance(call.args[0], str) else []
        if call.args and isinstance(call.args[0], dict):
            names = [k for k in call.args[0] if isinstance(k, str)]
        for n in names:
            if n not in out:
                out.append(n)
    return out


def _entry(ep) -> str:
    path = ep.target.split(":", 2)[1]
    return f"`{path}`{ep.label[len(path):]}" if ep.label.startswith(path) else f"{ep.label} (`{path}`)"


def _card(frameworks, entries, modules, data, models, metrics) -> str:
    def bullets(items):
        return "".join(f"- `{i}`\n" for i in items)
    details = [f"- Framework: {', '.join(frameworks) or UNKNOWN}"]
    if entries:
        details += [f"- Training entry point: {_entry(ep)}" for ep in entries]
    else:
        details += [f"- Training code: `{m}`" for m in modules[:3]]
    if models:
        details.append(f"- Saved as: {', '.join(f'`{m}`' for m in models)}")
    training_data = (f"The training reads these files:\n\n{bullets(data)}\n"
                     "Describe where this data comes from, its time span and its size.") if data else UNKNOWN
    evaluation = (f"The training logs these metrics:\n\n{bullets(metrics)}\n"
                  "Report their values on held-out data here.") if metrics else UNKNOWN
    return ("# Model card\n\n"
            "<!-- Written by `mlscan fix` from a static scan. Check every line; write the sections marked as not "
            "known. -->\n\n"
            f"## Model details\n\n{chr(10).join(details)}\n\n"
            f"## Training data\n\n{training_data}\n\n"
            f"## Evaluation\n\n{evaluation}\n\n"
            f"## Intended use\n\n{UNKNOWN}\n\n"
            f"## Limitations\n\n{UNKNOWN}\n")
