from __future__ import annotations

import re

from mlscan.rulekit import Example, Rule
from mlscan.rules._serving import serving_manifests

# resolved-name prefixes of explanation libraries -> tool
EXPLAINERS = {
    "shap": "SHAP", "lime": "LIME", "captum": "Captum", "alibi.explainers": "Alibi explainers", "interpret": "InterpretML",
    "interpret_community": "Interpret-Community", "eli5": "ELI5", "dalex": "dalex", "tf_explain": "tf-explain",
    "innvestigate": "iNNvestigate", "omnixai": "OmniXAI", "pytorch_grad_cam": "pytorch-grad-cam", "torchcam": "TorchCAM",
    "zennit": "Zennit", "quantus": "Quantus", "explainerdashboard": "explainerdashboard", "skater": "Skater",
    "dice_ml": "DiCE counterfactuals", "shapash": "Shapash", "transformers_interpret": "transformers-interpret",
    "ferret": "ferret", "inseq": "Inseq", "xplique": "Xplique", "lit_nlp": "Language Interpretability Tool",
    "raiwidgets.ExplanationDashboard": "Responsible AI explanation dashboard", "tf_keras_vis": "tf-keras-vis",
    "sagemaker.clarify.SHAPConfig": "SageMaker Clarify SHAP", "sagemaker.clarify.SageMakerClarifyProcessor.run_explainability":
        "SageMaker Clarify", "sagemaker.model_monitor.ModelExplainabilityMonitor": "SageMaker explainability monitor",
    "google.cloud.aiplatform.explain": "Vertex Explainable AI", "interpret_text": "interpret-text", "lofo": "LOFO importance",
    "pdpbox": "PDPbox", "alepython": "ALE plots", "PyALE": "ALE plots",
}
_ROOTS = {p.split(".")[0] for p in EXPLAINERS}
IMPLEMENTS = re.compile(r"(?i)(^|_)(integrated_?gradients?|grad_?cam(pp|_?plus_?plus)?|saliency(_map)?|smooth_?grad|"
                        r"deep_?lift|layer_?wise_?relevance|lrp|occlusion_(sensitivity|map)|shapley_values?|"
                        r"kernel_?shap|attributions?)($|_)")
IMPORTANCE_ATTRS = {"permutation_importance", "plot_importance", "feature_importance", "get_feature_importance",
                    "PartialDependenceDisplay", "partial_dependence", "plot_partial_dependence", "get_fscore",
                    "plot_tree", "export_text", "plot_split_value_histogram"}
IMPORTANCE_ROOTS = ("sklearn", "xgboost", "lightgbm", "catboost", "?")
TREE_LIBS = {"sklearn", "xgboost", "lightgbm", "catboost", "pyspark", "h2o", "interpret", "imblearn"}
ROUTE = re.compile(r"(?i)(^|/)explain(ations?)?/?$")


def explainer_of(name: str):
    bare = name.replace("()", "")
    root = bare.split(".", 1)[0]
    if root not in _ROOTS:
        return None
    for prefix, tool in EXPLAINERS.items():
        if bare == prefix or bare.startswith(prefix + "."):
            return tool
    return None


class PredictionsExplained(Rule):
    """Model predictions are explained with attribution or interpretability methods

    Evidence: calls into explanation libraries — SHAP, LIME, Captum, Alibi explainers, InterpretML
    (glass-box models and black-box explainers), ELI5, dalex, tf-explain, iNNvestigate, OmniXAI,
    Grad-CAM libraries, DiCE counterfactuals, Shapash, SageMaker Clarify SHAP, Vertex Explainable
    AI — in code or notebooks (tests left out); a repo implementation of integrated gradients,
    Grad-CAM, saliency or attribution methods; a KServe `explainer:` or an `/explain` endpoint.
    Only feature importances (`feature_importances_`, `permutation_importance`,
    `plot_importance`, partial dependence) count as partial.
    """

    id = "predictions-explained"
    practice = "explainability"
    examples = (
        Example({
            "evaluate.py": "import shap\nimport joblib\n\nmodel = joblib.load('model.pkl')\nX = load_validation()\n"
                           "explainer = shap.TreeExplainer(model)\nshap.summary_plot(explainer.shap_values(X), X)\n",
        }, "present", "SHAP summary of the validation set", fires=True),
        Example({
            "evaluate.py": "import pandas as pd\nfrom sklearn.ensemble import RandomForestClassifier\n\n"
                           "def importance(model: RandomForestClassifier, names):\n"
                           "    imp = model.feature_importances_\n    pd.Series(imp, index=names).plot.bar()\n",
        }, "partial", "impurity-based feature importances only", fires=True),
        Example({
            "train.py": "# explain predictions with shap later\nfrom sklearn.svm import SVC\nSVC().fit([[0]], [0])\n",
        }, "absent", "a comment mentioning shap", fires=False),
        Example({
            "attribution.py": "import torch\n\ndef integrated_gradients(model, x, baseline, steps=50):\n"
                              "    alphas = torch.linspace(0, 1, steps)\n    grads = []\n    for a in alphas:\n"
                              "        xi = (baseline + a * (x - baseline)).requires_grad_()\n"
                              "        grads.append(torch.autograd.grad(model(xi).sum(), xi)[0])\n"
                              "    return (x - baseline) * torch.stack(grads).mean(0)\n",
        }, "present", "integrated gradients implemented in the repo"),
    )

    def check(self, facts):
        found = False
        seen = set()
        code = facts.non_test_code()
        calls = facts.call_table.named(explainer_of, roots=_ROOTS)
        for idx in code:
            for call in calls.get(idx.path, ()):
                tool = explainer_of(call.name)
                if tool:
                    seen.add(idx.path)
                    found = True
                    yield self.found("supports", idx.path, call.line,
                                     f"{tool} explains the model ({call.name.replace('()', '')}){_cell(idx, call.line)}")
                    break
        for idx in code:
            if idx.path in seen:
                continue
            for qual, d in sorted(idx.defs.items(), key=lambda kv: kv[1].line):
                if d.kind == "function" and IMPLEMENTS.search(qual.rsplit(".", 1)[-1]) and d.end_line - d.line >= 3 \
                        and idx.imported_roots & {"torch", "tensorflow", "jax", "numpy", "keras"}:
                    found = True
                    yield self.found("supports", idx.path, d.line, f"{qual} computes attributions{_cell(idx, d.line)}")
                    break
        for path, line, platform, doc in serving_manifests(facts):
            pred = (doc.get("spec") or {}) if isinstance(doc.get("spec"), dict) else {}
            if "explainer" in pred:
                found = True
                yield self.found("supports", path, facts.line_of(path, "explainer"), f"{platform} explainer serves explanations")
        for ep in facts.graph.serving_endpoints:
            if ROUTE.search(ep.label.rsplit(" ", 1)[-1]):
                found = True
                yield self.found("supports", ep.path, ep.line, f"{ep.label} serves explanations")
        if found:
            return
        yield from self._importances(facts, code)

    def _importances(self, facts, code):
        importances = facts.call_table.named(_importance_call, attrs=IMPORTANCE_ATTRS)
        for idx in code:
            hit = None
            # without a tree library only an importance call can hit (the refs below need one)
            for call in idx.calls if idx.imported_roots & TREE_LIBS else importances.get(idx.path, ()):
                if call.attr in IMPORTANCE_ATTRS and call.name.startswith(IMPORTANCE_ROOTS) and \
                        (not call.name.startswith("?") or idx.imported_roots & TREE_LIBS):
                    hit = (call.line, f"{call.name.replace('()', '')} computes feature importances{_cell(idx, call.line)}")
                    break
                ref = next((r for r in call.refs if r.endswith(("feature_importances_", "coef_"))), None)
                if ref and idx.imported_roots & TREE_LIBS:
                    hit = (call.line, f"reads the model's {ref.rsplit('.', 1)[-1]}{_cell(idx, call.line)}")
                    break
            if hit is None and idx.imported_roots & TREE_LIBS and "feature_importances_" in idx.attributes:
                line = idx.attributes["feature_importances_"]
                hit = (line, f"reads the model's feature_importances_{_cell(idx, line)}")
            if hit:
                yield self.found("partial", idx.path, hit[0],
                                 f"{hit[1]}: a global ranking, no "
                                 "per-prediction explanation")


def _cell(idx, line):
    cell = idx.cell_of(line) if idx.is_notebook else None
    return f" (cell {cell})" if cell else ""


def _importance_call(name: str) -> bool:
    return name.rpartition(".")[2] in IMPORTANCE_ATTRS and name.startswith(IMPORTANCE_ROOTS)
