from __future__ import annotations

import re

from mlscan.facts.pycode import NOT_LITERAL
from mlscan.rulekit import Example, Rule

# r15: an attribute named for a dataset or one of its splits (`self.dataset`, `self.train_data`,
# `self.X_train`, `self.test_labels`); a bare `self.features` or `self.labels` names columns or classes
_SPLIT = r"(train|training|test|testing|val|valid|validation|eval|holdout)"
DATA_ATTR = re.compile(r"(?i)^((raw|full|input|clean|processed|" + _SPLIT[1:-1] + r")_)?"
                       r"(data|dataset|datasets|df|dataframe|table|records|samples)$|"
                       r"^" + _SPLIT + r"_(labels|features|x|y|set|split)$|^(x|y)_" + _SPLIT + r"$")
FLOW_BASES = ("metaflow.FlowSpec",)
# r17: other pipeline tools that keep each run's dataset as a run artefact
DATA_READERS = ("read_csv", "read_parquet", "read_json", "read_excel", "read_sql", "read_sql_query", "read_table",
                "read_feather")
VERTEX_DATASET_OP = re.compile(r"(Image|Tabular|Text|Video|TimeSeries)DatasetCreateOp$")
DATA_ARTIFACT_PATH = re.compile(r"(?i)^((input|raw|train|training|processed)_)?(data|dataset|datasets)$")
STEP_DECORATORS = ("metaflow.step",)


class FlowDataArtifacts(Rule):
    """A workflow stores each run's dataset as a versioned run artefact

    Metaflow persists every attribute a step sets on the flow (`self.dataset = fetch(...)`,
    `self.train_data, self.test_data = split(...)`) as an artefact of that run in its datastore,
    so the exact data a model was trained on can be read back by run id
    (`Flow('DataFlow')[run_id].data.train_data`). A step that keeps the fetched dataset or its
    train/test split this way snapshots the data per run; the input source itself (a warehouse
    view, a bucket prefix, a local CSV) stays unversioned and a new run cannot pin it, hence
    partial. A literal list set for a `foreach` (`self.data = [1, 2, 3]`) and names of columns
    or classes (`self.features`) are not a dataset. Kubeflow Pipelines does the same for a
    component's `Output[Dataset]`: the artefact store keeps the dataset each run wrote.
    """

    id = "flow-data-artifacts"
    practice = "data-versioning"
    examples = (
        Example({"flow.py": "from metaflow import FlowSpec, step\nimport pandas as pd\n\n\n"
                            "class TrainFlow(FlowSpec):\n    @step\n    def start(self):\n"
                            "        self.dataset = pd.read_csv('s3://bucket/events.csv')\n        self.next(self.end)\n\n"
                            "    @step\n    def end(self):\n        pass\n"},
                "partial", "r15: a Metaflow step keeps the fetched dataset as a run artefact", fires=True),
        Example({"flow.py": "from metaflow import FlowSpec, step\nfrom sklearn import datasets\n"
                            "from sklearn.model_selection import train_test_split\n\n\n"
                            "class TrainFlow(FlowSpec):\n    @step\n    def start(self):\n"
                            "        X, y = datasets.load_wine(return_X_y=True)\n"
                            "        self.train_data, self.test_data, self.train_labels, self.test_labels = "
                            "train_test_split(X, y)\n        self.next(self.end)\n\n"
                            "    @step\n    def end(self):\n        pass\n"},
                "partial", "r15: the train/test split unpacked onto the flow is versioned per run", fires=True),
        Example({"flow.py": "from metaflow import FlowSpec, step\n\n\n"
                            "class FanFlow(FlowSpec):\n    @step\n    def start(self):\n"
                            "        self.data = [1, 2, 3, 4, 5]\n        self.features = list('abc')\n"
                            "        self.next(self.train, foreach='data')\n\n"
                            "    @step\n    def train(self):\n        self.next(self.end)\n\n"
                            "    @step\n    def end(self):\n        pass\n"},
                "absent", "a literal foreach list and a list of feature names are not a dataset", fires=False),
        Example({"components/load.py": "from kfp.dsl import Dataset, Output, component\n\n\n@component\n"
                                       "def load(bucket: str, output: Output[Dataset]):\n"
                                       "    import pandas as pd\n    pd.read_csv(bucket).to_csv(output.path)\n"},
                "partial", "r15: a Kubeflow component writes its dataset as a per-run Dataset artefact", fires=True),
        Example({"components/train.py": "from kfp.dsl import Model, Output, component\n\n\n@component\n"
                                        "def train(model: Output[Model]):\n    pass\n"},
                "absent", "a Kubeflow component that outputs only a model", fires=False),
        Example({"train.py": "import pandas as pd\n\n\nclass Trainer:\n    def load(self):\n"
                             "        self.dataset = pd.read_csv('data.csv')\n"},
                "absent", "a plain class keeping its data in memory versions nothing", fires=False),
        Example({"steps/loader.py": "import pandas as pd\nfrom zenml import step\n\n\n@step\n"
                                    "def data_loader() -> pd.DataFrame:\n    return pd.read_csv('data/train.csv')\n"},
                "partial", "r17: a ZenML step's loaded DataFrame is stored as an artefact of each run", fires=True),
        Example({"steps/loader.py": "import pandas as pd\n\n\n"
                                    "def data_loader() -> pd.DataFrame:\n    return pd.read_csv('data/train.csv')\n"},
                "absent", "r17: a plain loader function stores nothing per run", fires=False),
        Example({"pipeline.py": "from google_cloud_pipeline_components import aiplatform as gcc_aip\n\n\n"
                                "def pipeline(project_id: str):\n"
                                "    ds_op = gcc_aip.ImageDatasetCreateOp(project=project_id, gcs_source='gs://b/all.csv')\n"},
                "partial", "r17: a Vertex pipeline creates a managed dataset per run", fires=True),
        Example({"train.py": "import mlflow\n\n\ndef train(df):\n    with mlflow.start_run():\n"
                             "        df.to_csv('/tmp/input_data.csv', index=False)\n"
                             "        mlflow.log_artifact('/tmp/input_data.csv', 'input_data')\n"},
                "partial", "r17: the training data logged as an MLflow run artefact", fires=True),
        Example({"stats.py": "import mlflow\n\n\ndef log_stats(path):\n"
                             "    mlflow.log_artifact(path, artifact_path='feature_importance')\n"},
                "absent", "r17: a table of results logged to MLflow is not the training data", fires=False),
    )

    def check(self, facts):
        found = next(self._run_stores(facts), None)
        if found is not None:
            yield found
            return
        yield from self._flows(facts)

    def _run_stores(self, facts):
        """r17: ZenML steps, Vertex dataset ops and MLflow runs that keep the data a run used."""
        for idx in facts.non_test_code():
            steps = {q for q, d in idx.defs.items() if d.kind == "function"
                     and any(dec.startswith("zenml") and dec.rsplit(".", 1)[-1] == "step" for dec in d.decorators)}
            for call in idx.calls:
                if steps and call.scope in steps and call.attr in DATA_READERS:
                    yield self.found("partial", idx.path, call.line,
                                     f"ZenML keeps the data step {call.scope}() loads ({call.attr}) as a versioned "
                                     "artefact of each run, but the input data itself is not pinned")
                    return
                if VERTEX_DATASET_OP.search(call.attr):
                    yield self.found("partial", idx.path, call.line,
                                     f"each pipeline run creates a Vertex AI managed dataset ({call.attr}), kept with the "
                                     "run's lineage, but the source data itself is not pinned")
                    return
                if call.name in ("mlflow.log_artifact", "mlflow.log_artifacts"):
                    dest = call.kwarg("artifact_path", call.args[1] if len(call.args) > 1 else None)
                    if isinstance(dest, str) and DATA_ARTIFACT_PATH.match(dest):
                        yield self.found("partial", idx.path, call.line,
                                         f"the run stores the data it trained on as an MLflow artefact ({dest!r}); "
                                         "the data is kept per run but not versioned at its source")
                        return

    def _flows(self, facts):
        for idx in facts.non_test_code():
            kfp = next((ref for ref in idx.imports if ref.module.split(".")[0] == "kfp"
                        and (ref.name == "Dataset" or "Dataset" in idx.attributes)), None)
            if kfp is not None:
                yield self.found("partial", idx.path, kfp.line,
                                 "Kubeflow Pipelines keeps the dataset a component outputs (Output[Dataset]) as an "
                                 "artefact of each run, but the input data itself is not pinned")
                return
            if not idx.imports_module("metaflow"):
                continue
            flows = {q for q, d in idx.defs.items() if d.kind == "class" and any(b in FLOW_BASES for b in d.bases)}
            if not flows:
                continue
            steps = {q for q, d in idx.defs.items() if d.kind == "function" and q.rsplit(".", 1)[0] in flows
                     and any(dec in STEP_DECORATORS for dec in d.decorators)}
            for a in idx.attr_assigns:
                name = a.target.rsplit(".", 1)[-1]
                if a.scope in steps and a.value == NOT_LITERAL and "[" not in a.target and DATA_ATTR.match(name):
                    flow, step = a.scope.rsplit(".", 1)
                    yield self.found("partial", idx.path, a.line,
                                     f"Metaflow keeps the dataset as a versioned run artefact (self.{name} in step "
                                     f"{step} of {flow}), but the input data itself is not pinned")
                    return
