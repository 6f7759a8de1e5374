from __future__ import annotations

import re

from mlscan.facts.pycode import NOT_LITERAL
from mlscan.rulekit import Example, Rule

AZURE_ROOTS = ("azureml.", "azure.ai.ml.")
# Hopsworks feature store: feature views, feature groups and training datasets are versioned
HOPSWORKS_VERSIONED = {"get_feature_view": ("version", 1), "get_or_create_feature_view": ("version", None),
                       "get_or_create_feature_group": ("version", None), "get_feature_group": ("version", 1),
                       "get_train_test_split": ("training_dataset_version", 0),
                       "get_training_data": ("training_dataset_version", 0),
                       "get_train_validation_test_split": ("training_dataset_version", 0)}
HOPSWORKS_CREATES = {"create_training_data", "create_train_test_split", "create_train_validation_test_split"}
HF_UPLOADS = {"upload_file", "upload_folder", "upload_large_folder", "create_commit"}
KAGGLE_VERSION = re.compile(r"^[\w.-]+/[\w.-]+/versions/\d+$")
AZURE_ASSET = re.compile(r"^azureml:(//)?[\w./-]*?([\w.-]+)(:(\d+)|@(\w+))$")


def _given(value) -> bool:
    return value is not None and value != "latest"


class RegisteredDatasetVersions(Rule):
    """Datasets are versioned in a platform registry

    Evidence: a dataset registered as a new version or read at a version in a platform's dataset
    registry: Azure ML (`Dataset.register(..., create_new_version=True)`,
    `Dataset.get_by_name(ws, name, version)`, `Data(version=...)`, `azureml:name:3` inputs),
    ZenML artifact versions (`Client().get_artifact_version(name, version)`), ClearML
    (`Dataset.get(..., dataset_version=)`), Roboflow dataset versions (`project.version(3)`), Hopsworks
    feature views, feature groups and training datasets read or created at a version
    (`fs.get_feature_view("iris", version=1)`, `fv.create_training_data()`,
    `fv.get_train_test_split(training_dataset_version=1)`), and
    Kaggle datasets pinned to a version (`kagglehub.dataset_download("owner/name/versions/3")`).
    Reading only the latest version of a registered dataset is partial: the data is versioned,
    but the run does not name the version it used; so is a pipeline that uploads its own data to a
    Hugging Face dataset repo (`HfApi().upload_file(..., repo_type="dataset")`): each upload is a
    commit of a git-versioned remote, but reads follow the moving branch.
    """

    id = "registered-dataset-versions"
    practice = "data-versioning"
    examples = (
        Example({"train_aml.py": "from azureml.core import Dataset\n\n"
                                 "def register(ws, path):\n    ds = Dataset.Tabular.from_delimited_files(path=path)\n"
                                 "    return ds.register(workspace=ws, name='diabetes', create_new_version=True)\n"},
                "present", "an Azure ML dataset registered as a new version", fires=True),
        Example({"run.py": "from zenml.client import Client\n\n"
                           "def main(name, version):\n    return Client().get_artifact_version(name, version)\n"},
                "present", "a ZenML dataset artifact read at a given version", fires=True),
        Example({"data.py": "from roboflow import Roboflow\n"
                            "ds = Roboflow(api_key='k').workspace('w').project('cells').version(4).download('yolov8')\n"},
                "present", "a Roboflow dataset version", fires=True),
        Example({"score.py": "from azureml.core import Dataset\n\ndef load(ws):\n"
                             "    return Dataset.get_by_name(ws, 'diabetes').to_pandas_dataframe()\n"},
                "partial", "the latest version of a registered dataset", fires=True),
        Example({"data.py": "import kagglehub\npath = kagglehub.dataset_download('owner/titanic')\n"}, "absent",
                "a Kaggle download without a version pins nothing", fires=False),
        Example({"io/hf.py": "from huggingface_hub import HfApi\n\ndef upload(path, repo_id, name):\n    api = HfApi()\n"
                             "    api.upload_file(path_or_fileobj=path, path_in_repo=name, repo_id=repo_id, repo_type='dataset')\n"},
                "partial", "the pipeline uploads its data to a Hugging Face dataset repo", fires=True),
        Example({"io/hf.py": "from huggingface_hub import hf_hub_download\n\ndef get(repo_id, name):\n"
                             "    return hf_hub_download(repo_id=repo_id, filename=name, repo_type='dataset')\n"},
                "absent", "downloading someone's dataset at its latest revision versions nothing", fires=False),
        Example({"train.py": "import hopsworks\n\nproject = hopsworks.login()\nfs = project.get_feature_store()\n"
                             "fv = fs.get_feature_view(name='iris', version=1)\n"
                             "X_train, X_test, y_train, y_test = fv.get_train_test_split(training_dataset_version=1)\n"},
                "present", "training data read from a Hopsworks feature view and training dataset at a version", fires=True),
        Example({"train.py": "import pandas as pd\n\nclass Store:\n    def get_feature_view(self, name, version=1):\n"
                             "        return pd.read_csv(name)\n\nfv = Store().get_feature_view('iris', 1)\n"},
                "absent", "a method of the same name outside Hopsworks", fires=False),
    )

    def check(self, facts):
        for idx, call in facts.call_table.calls(_registry_root, facts.non_test_code(),
                                                roots=("azureml", "azure", "zenml", "clearml", "roboflow", "kagglehub", "huggingface_hub")):
            found = self._judge(call)
            if found:
                kind, message = found
                yield self.found(kind, idx.path, call.line, message)
        yield from self._hopsworks(facts)
        for idx in facts.non_test_code():
            for value, line in idx.strings:
                m = AZURE_ASSET.match(value) if value.startswith("azureml:") else None
                if m and m.group(4):
                    yield self.found("supports", idx.path, line, f"reads Azure ML data asset {m.group(2)} at version {m.group(4)}")
                    break

    def _hopsworks(self, facts):
        """Hopsworks: training data read from a feature view or training dataset at a given version."""
        attrs = set(HOPSWORKS_VERSIONED) | HOPSWORKS_CREATES
        for idx, call in facts.call_table.calls(lambda name: name.rpartition(".")[2] in attrs, facts.non_test_code(),
                                                attrs=tuple(sorted(attrs))):
            if not idx.imports_module("hopsworks", "hsfs"):
                continue
            if call.attr in HOPSWORKS_CREATES:
                yield self.found("supports", idx.path, call.line,
                                 f"materialises a versioned Hopsworks training dataset ({call.attr})")
                return
            key, pos = HOPSWORKS_VERSIONED[call.attr]
            version = call.kwarg(key, call.args[pos] if pos is not None and len(call.args) > pos else None)
            if _given(version):
                shown = "" if version is NOT_LITERAL else f" {version}"
                yield self.found("supports", idx.path, call.line,
                                 f"versioned Hopsworks feature data: {call.attr}() at version{shown or ' (given)'}")
                return

    @staticmethod
    def _judge(call):
        name, attr = call.name, call.attr
        if name.startswith(AZURE_ROOTS):
            if attr == "register" and call.kwarg("create_new_version") is True:
                return "supports", "registers the dataset in Azure ML as a new version (create_new_version=True)"
            if attr == "get_by_name":
                version = call.kwarg("version", call.args[2] if len(call.args) > 2 else None)
                if _given(version):
                    shown = "" if version is NOT_LITERAL else f" {version}"
                    return "supports", f"reads a registered Azure ML dataset at a given version{shown}"
                return "partial", "reads the latest version of a registered Azure ML dataset (no version named)"
            if attr == "Data" and call.has_kwarg("version"):
                return "supports", "declares an Azure ML data asset with a version"
        elif name.startswith("zenml") and attr in ("get_artifact_version", "load_artifact"):
            version = call.kwarg("version", call.args[1] if len(call.args) > 1 else None)
            if _given(version):
                return "supports", "reads a ZenML artifact at a given version"
        elif name.startswith("clearml.Dataset.") and attr == "get" and _given(call.kwarg("dataset_version")):
            return "supports", "reads a ClearML dataset at a given version"
        elif name.startswith("roboflow") and attr == "version" and call.args and call.args[0] is not NOT_LITERAL:
            return "supports", f"downloads Roboflow dataset version {call.args[0]}"
        elif name.startswith("huggingface_hub") and attr in HF_UPLOADS and call.kwarg("repo_type") == "dataset":
            return "partial", (f"uploads the project's data to a Hugging Face dataset repo ({attr}): every upload is a "
                               "commit there, but no run names the revision it read")
        elif name.startswith("kagglehub") and attr == "dataset_download" and call.args \
                and isinstance(call.args[0], str) and KAGGLE_VERSION.match(call.args[0]):
            return "supports", f"downloads the pinned Kaggle dataset version {call.args[0]}"
        return None


def _registry_root(name: str) -> bool:
    """The names _judge() can say something about (one prefix per branch)."""
    return name.startswith(AZURE_ROOTS + ("zenml", "clearml.Dataset.", "roboflow", "kagglehub")) or \
        name.startswith("huggingface_hub") and name.rpartition(".")[2] in HF_UPLOADS
