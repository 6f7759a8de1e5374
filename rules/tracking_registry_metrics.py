from __future__ import annotations

import json

from mlscan.rulekit import Example, Rule
from mlscan.rules._vocab import run_metrics_name

# Hopsworks' model registry: `mr.python.create_model(name, metrics={...})`, one entry point per model flavour
HSML_FLAVOURS = {"python", "sklearn", "tensorflow", "torch", "llm"}
HSML_ROOTS = ("hsml.", "hopsworks.")


class RegistryKeepsMetrics(Rule):
    """A model store keeps the run's metrics with the saved model

    A partial form of experiment tracking: the training saves its model to a model registry or store
    together with the run's evaluation metrics - Hopsworks' `mr.sklearn.create_model(..., metrics={...})`,
    BentoML's `bentoml.sklearn.save_model(..., metadata=...)` with metric values in the metadata, a
    SageMaker pipeline's `ModelMetrics` attached to the registered model package. Each saved model
    carries how well it did, but no parameters or run history are tracked. BentoML metadata counts only
    when the function that saves the model handles metric-named values (`test_metrics`, `accuracy`); a
    model saved with no metadata records nothing. Anywhere in the project's own code, notebooks included
    (the registry is where the run is recorded), outside tests and examples.
    """

    id = "tracking-registry-metrics"
    practice = "experiment-tracking"
    examples = (
        Example({
            "train.ipynb": json.dumps({"cells": [
                {"cell_type": "code", "metadata": {}, "outputs": [], "source": [
                    "import hopsworks\nfrom sklearn.linear_model import LogisticRegression\n"
                    "from sklearn.metrics import accuracy_score\n"
                    "project = hopsworks.login()\nmr = project.get_model_registry()\n"
                    "m = LogisticRegression().fit([[0], [1]], [0, 1])\n"
                    "acc = accuracy_score([0, 1], m.predict([[0], [1]]))\n"
                    "entry = mr.sklearn.create_model(name='iris', metrics={'accuracy': acc})\n"
                    "entry.save('model_dir')\n"]}],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}),
        }, "partial", "a Hopsworks registry entry created with the run's metrics", fires=True),
        Example({
            "train.py": "import bentoml\nfrom sklearn.linear_model import LinearRegression\n"
                        "from sklearn.metrics import mean_absolute_error\n\n\n"
                        "def main():\n    m = LinearRegression().fit([[0], [1]], [0, 1])\n"
                        "    test_metrics = {'mae': mean_absolute_error([0, 1], m.predict([[0], [1]]))}\n"
                        "    metadata = {'test_mae': float(test_metrics['mae'])}\n"
                        "    bentoml.sklearn.save_model('regressor', m, metadata=metadata)\n\n\n"
                        "if __name__ == '__main__':\n    main()\n",
        }, "partial", "a BentoML model saved with its test metrics as metadata", fires=True),
        Example({
            "train.py": "import bentoml\nfrom sklearn.linear_model import LinearRegression\n"
                        "from sklearn.metrics import r2_score\n\n\n"
                        "def main():\n    m = LinearRegression().fit([[0], [1]], [0, 1])\n"
                        "    bentoml.sklearn.save_model('regressor', m)\n"
                        "    r2 = r2_score([0, 1], m.predict([[0], [1]]))\n    print(r2)\n\n\n"
                        "if __name__ == '__main__':\n    main()\n",
        }, "absent", "a BentoML model saved without metadata, its score only printed", fires=False),
        Example({
            "model.py": "from tensorflow import keras\n\n\ndef create_model(metrics):\n"
                        "    m = keras.Sequential([keras.layers.Dense(1)])\n"
                        "    m.compile('adam', 'mse', metrics=metrics)\n    return m\n\n\n"
                        "model = create_model(metrics=['mae'])\nmodel.fit([[0.0]], [[1.0]])\n",
        }, "absent", "a model factory of the repo's own given Keras metric names records no run", fires=False),
        Example({
            "pipeline.py": "from sagemaker.model_metrics import MetricsSource, ModelMetrics\n\n\n"
                           "def get_pipeline(eval_uri):\n"
                           "    return ModelMetrics(model_statistics=MetricsSource(s3_uri=eval_uri,\n"
                           "                                                       content_type='application/json'))\n",
        }, "partial", "a SageMaker ModelMetrics attached to the registered model package", fires=True),
    )

    def check(self, facts):
        from mlscan.rules._mlcode import in_example_dir
        for idx in facts.non_test_code():
            if in_example_dir(idx.path):
                continue
            for call in idx.calls:
                how = self._registry_metrics(facts, idx, call)
                if how:
                    yield self.found("partial", idx.path, call.line,
                                     f"{how}; the saved model carries its metrics, but no parameters or run history "
                                     "are tracked")
                    return

    @staticmethod
    def _registry_metrics(facts, idx, call) -> str:
        attr = call.attr
        if attr == "create_model" and call.has_kwarg("metrics"):
            name = facts.external_name(idx, call.name).lstrip("?")
            parts = name.split(".")
            if (name.startswith(HSML_ROOTS) or len(parts) >= 2 and parts[-2] in HSML_FLAVOURS) \
                    and not isinstance(call.kwarg("metrics"), (list, tuple, str)):
                return f"{name} registers the model with the run's metrics (Hopsworks model registry)"
        elif attr == "save_model" and call.has_kwarg("metadata"):
            name = facts.external_name(idx, call.name).lstrip("?")
            if name.startswith("bentoml."):
                names = [n for c in idx.calls if c.scope == call.scope for n in c.arg_names]
                what = run_metrics_name(n.rsplit(".", 1)[-1] for n in names)
                if what:
                    return f"{name} stores the model with metadata beside its metrics ({what}) in the BentoML store"
        elif attr == "ModelMetrics":
            name = facts.external_name(idx, call.name).lstrip("?")
            if name.startswith("sagemaker"):
                return f"{name} attaches the evaluation's metrics to the registered SageMaker model package"
        return ""
