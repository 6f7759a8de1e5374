from __future__ import annotations

import re

from mlscan.facts.configs import walk
from mlscan.rulekit import Example, Rule

DATA_PATTERN = re.compile(r"\.(csv|tsv|parquet|feather|jsonl?|npy|npz|h5|hdf5|tfrecords?|zip|tar|gz|arrow|xlsx|pkl|"
                          r"pt|pth|bin|safetensors|onnx|ckpt|wav|mp3|png|jpe?g)\b|\*\*?|data|dataset", re.I)
REVISION_LOADERS = {"datasets.load_dataset": "revision", "huggingface_hub.snapshot_download": "revision",
                    "huggingface_hub.hf_hub_download": "revision", "dvc.api.open": "rev", "dvc.api.read": "rev",
                    "dvc.api.get_url": "rev"}
# a data file fetched from a git host at a fixed commit: immutable, unlike a branch name
COMMIT_URL = re.compile(r"(?i)^https?://(github\.com/[\w.-]+/[\w.-]+/(raw|blob)|raw\.githubusercontent\.com/[\w.-]+/[\w.-]+|"
                        r"gitlab\.com/[\w./-]+/-/raw|huggingface\.co/datasets/[\w.-]+/[\w.-]+/resolve)/[0-9a-f]{40}/\S+")
DATA_URL_FILE = re.compile(r"(?i)\.(csv|tsv|parquet|feather|jsonl?|npy|npz|h5|hdf5|tfrecords?|arrow|xlsx?|zip|tar|tgz|gz|bz2|xz|"
                           r"7z|txt|arff|data|pkl)$")
# a Hugging Face cache path at one dataset snapshot (`datasets--org--name/snapshots/<commit>/`)
HF_SNAPSHOT = re.compile(r"datasets--[\w.-]+--[\w.-]+/snapshots/[0-9a-f]{40}")
# a TFDS dataset named with its version (`cifar10:3.0.0`, `celeb_a_hq/256:2.0.0`)
TFDS_VERSION = re.compile(r"""['"]([a-z][a-z0-9_]*(?:/[\w.-]+)?):(\d+\.\d+\.\d+)['"]""")


class VersionedDataReferences(Rule):
    """Data is read through versioned references

    Evidence: git-LFS filters for data or model files in `.gitattributes`; datasets read at a pinned
    revision (`load_dataset(..., revision=)`, `dvc.api.open(..., rev=)`); dataset artefacts in
    W&B (`wandb.Artifact(type="dataset")`, `use_artifact("name:v3")`); lakeFS, Delta Lake time
    travel (`versionAsOf`), ClearML or Pachyderm datasets.
    Partial: a dataset logged to MLflow (`mlflow.log_input` records its digest and schema, but stores
    no version to train from), and data pinned in code or config outside a versioning tool: a TFDS
    dataset named with its version (`cifar10:3.0.0`), a data file fetched from a git host at a commit
    (`github.com/org/repo/raw/<sha>/data.zip`), a Hugging Face dataset cache path at one snapshot.
    """

    id = "versioned-data-refs"
    practice = "data-versioning"
    examples = (
        Example({".gitattributes": "*.parquet filter=lfs diff=lfs merge=lfs -text\n",
                 "data/raw/sales.parquet": "version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 12345\n"}, "present"),
        Example({".gitattributes": "*.parquet filter=lfs diff=lfs merge=lfs -text\n*.arrow filter=lfs diff=lfs merge=lfs -text\n",
                 "README.md": "x\n"}, "absent", "LFS patterns that match no file store nothing"),
        Example({".gitattributes": "*.csv filter=lfs diff=lfs merge=lfs -text\n*.png filter=lfs diff=lfs merge=lfs -text\n",
                 "data/train.csv": "version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 12345\n"},
                "present", "the LFS pattern matches a data file in the tree"),
        Example({".gitattributes": "*.7z filter=lfs diff=lfs merge=lfs -text\n*.onnx filter=lfs diff=lfs merge=lfs -text\n"
                                   "*.zip filter=lfs diff=lfs merge=lfs -text\n*tfevents* filter=lfs diff=lfs merge=lfs -text\n",
                 "model/model.onnx": "version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 12345\n",
                 "app.py": "import onnxruntime\n"},
                "absent", "a Hugging Face Space's stock LFS patterns that store only the model file"),
        Example({".gitattributes": "*.png filter=lfs diff=lfs merge=lfs -text\n",
                 "docs/figures/pipeline.png": "version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 12345\n"},
                "absent", "LFS for the pictures of the docs"),
        Example({"src/iris.py": "import pandas as pd\nfrom sklearn.datasets import load_iris\n\n\ndef iris_generator(context):\n"
                                "    iris = load_iris()\n    df = pd.DataFrame(iris.data, columns=iris.feature_names)\n"
                                "    context.log_dataset('iris_dataset', df=df, format='csv')\n"},
                "partial", "an MLRun handler logs its dataset as a per-run artifact"),
        Example({"train.py": "from datasets import load_dataset\n"
                             "ds = load_dataset('imdb', revision='e6281661ce1c48d982bc483cf8a173c1bbeb5d31')\n"}, "present"),
        Example({"train.py": "from datasets import load_dataset\nds = load_dataset('imdb')\n"}, "absent"),
        Example({"train.py": "from huggingface_hub import hf_hub_download\n\ndef weights(rev):\n"
                             "    return hf_hub_download('org/model', 'model_index.json', revision=rev)\n"}, "absent",
                "a model file at a revision chosen at run time is not a pinned dataset"),
    )

    def check(self, facts):
        lfs = [rule for rule in facts.gitattributes if rule.lfs and DATA_PATTERN.search(rule.pattern)]
        if lfs:
            yield from self._lfs(facts, lfs)
        for idx, call in facts.call_table.calls(_versioning_call, facts.non_test_code(), attrs=("use_artifact", "option", "log_dataset"),
                                                 roots=_VERSIONING_ROOTS):
            name = call.name
            key = REVISION_LOADERS.get(name)
            if key:
                rev = call.kwarg(key)
                model_repo = name.startswith("huggingface_hub") and call.kwarg("repo_type") != "dataset"
                if isinstance(rev, str) and rev not in ("main", "master", "latest", "HEAD") and not model_repo:
                    yield self.found("supports", idx.path, call.line, f"{name} reads data at the pinned {key}={rev!r}")
            elif name.endswith("log_input") and name.startswith("mlflow"):
                yield self.found("partial", idx.path, call.line, "the dataset is logged to MLflow with the run (its digest "
                                                                 "and schema); the data itself is not stored as a version")
            elif name.startswith("wandb") and name.endswith("Artifact") and call.kwarg("type", call.args[1] if len(call.args) > 1 else None) in ("dataset", "data", "raw_data"):
                yield self.found("supports", idx.path, call.line, "the dataset is versioned as a W&B artifact")
            elif call.attr == "use_artifact" and call.args and isinstance(call.args[0], str) and re.search(r":v\d+$", call.args[0]):
                yield self.found("supports", idx.path, call.line, f"reads the pinned W&B artifact {call.args[0]}")
            elif name.startswith(("lakefs", "lakefs_client", "lakefs_sdk")):
                yield self.found("supports", idx.path, call.line, "data read through lakeFS")
            elif call.attr == "option" and call.args and call.args[0] in ("versionAsOf", "timestampAsOf"):
                yield self.found("supports", idx.path, call.line, "Delta Lake time travel pins the data version")
            elif name.startswith("clearml.Dataset.") and call.attr in ("get", "create"):
                yield self.found("partial", idx.path, call.line, "ClearML dataset versioning is used")
            elif (call.attr == "log_dataset" and (name.startswith(("?", "mlrun")) or "context" in name)) \
                    or name.startswith(MLRUN_DATASETS):
                yield self.found("partial", idx.path, call.line,
                                 "each run stores its dataset as an MLRun artifact (log_dataset): kept per run, "
                                 "but no version is pinned for training to read")
            elif name.startswith(("python_pachyderm", "pachyderm_sdk")):
                yield self.found("supports", idx.path, call.line, "data versioned in Pachyderm")
        for idx in facts.non_test_code():
            for value, line in idx.strings:
                if value.startswith("lakefs://"):
                    yield self.found("supports", idx.path, line, "data read from a lakeFS repository")
                    break
        yield from self._pinned_in_code(facts)

    def _pinned_in_code(self, facts):
        """Data pinned to one version in code or config, with no versioning tool: partial."""
        found = 0
        for idx in facts.non_test_code():
            for value, line in idx.strings:
                if (COMMIT_URL.match(value) and DATA_URL_FILE.search(value)) or HF_SNAPSHOT.search(value):
                    yield self.found("partial", idx.path, line, _pinned_message(value))
                    found += 1
                    break
            if idx.imports_module("tensorflow_datasets"):
                text = facts.text(idx.path) or ""
                m = TFDS_VERSION.search(text)
                if m:
                    yield self.found("partial", idx.path, text.count("\n", 0, m.start()) + 1,
                                     f"TFDS dataset pinned to version {m.group(2)} ({m.group(1)}:{m.group(2)})")
                    found += 1
            if found >= 3:
                return
        for doc in facts.yaml_docs():
            for _, value in walk(doc.docs):
                if isinstance(value, str) and ((COMMIT_URL.match(value) and DATA_URL_FILE.search(value)) or HF_SNAPSHOT.search(value)):
                    yield self.found("partial", doc.path, facts.line_of(doc.path, value[:60]), _pinned_message(value))
                    return

    def _lfs(self, facts, rules):
        """git-LFS versions data when what it stores is data: the files its patterns match in the tree
        decide: a Hugging Face Space's stock `.gitattributes` that matches nothing, or `*.png` for
        README figures, stores no data."""
        specs = [(rule, _lfs_spec(rule)) for rule in rules]
        matched = [(rule, f.path) for f in facts.files for rule, spec in specs if spec.match_file(_below(rule, f.path))]
        data = [(rule, path) for rule, path in matched if _data_file(path)]
        if data:
            rule, path = data[0]
            more = f" and {len(data) - 1} more" if len(data) > 1 else ""
            yield self.found("supports", rule.path, rule.line, f"git-LFS stores {rule.pattern}: data files such as {path}{more}")

DATA_DIR = re.compile(r"(?i)(^|/)(data|datasets?|raw|processed|interim|inputs?|corpus|corpora|samples)(/|$)")
DATA_FILE = re.compile(r"(?i)\.(csv|tsv|parquet|feather|jsonl?|npy|npz|h5|hdf5|tfrecords?|arrow|xlsx|xls|avro|orc|"
                       r"wav|mp3|flac|txt)$")
MODEL_FILE = re.compile(r"(?i)\.(pt|pth|ckpt|onnx|safetensors|pb|tflite|keras|joblib|pkl|bin|h5)$|(^|/)(models?|weights|"
                        r"checkpoints?|saved_model)(/|$)")


def _pinned_message(value: str) -> str:
    if HF_SNAPSHOT.search(value):
        return "reads a Hugging Face dataset from its cache at one pinned snapshot commit"
    return f"downloads data from a git host at a fixed commit: {value[:100]}"


def _data_file(path: str) -> bool:
    """A file that holds data rather than a model or a picture for the docs."""
    if MODEL_FILE.search(path) and not DATA_DIR.search(path.rsplit("/", 1)[0] if "/" in path else ""):
        return False
    return bool(DATA_FILE.search(path) or DATA_DIR.search(path.rsplit("/", 1)[0] if "/" in path else ""))


def _lfs_spec(rule):
    import pathspec
    return pathspec.GitIgnoreSpec.from_lines([rule.pattern])


def _below(rule, path: str) -> str:
    """`path` relative to the folder of the .gitattributes file that holds `rule` ('' when outside)."""
    base = rule.path.rsplit("/", 1)[0] + "/" if "/" in rule.path else ""
    return path[len(base):] if path.startswith(base) else ""


_VERSIONING_ROOTS = {n.split(".")[0] for n in REVISION_LOADERS} | {"mlflow", "wandb", "lakefs", "python_pachyderm",
                                                                   "pachyderm_sdk", "clearml", "mlrun"}
MLRUN_DATASETS = ("mlrun.artifacts.TableArtifact", "mlrun.artifacts.DatasetArtifact", "mlrun.artifacts.dataset.")


def _versioning_call(name: str) -> bool:
    """The names the chain of branches in check() can act on (one test per branch)."""
    attr = name.rpartition(".")[2]
    return name in REVISION_LOADERS or name.endswith("log_input") and name.startswith("mlflow") or \
        name.startswith("wandb") and name.endswith("Artifact") or attr in ("use_artifact", "option", "log_dataset") or \
        name.startswith(("lakefs", "lakefs_client", "lakefs_sdk", "python_pachyderm", "pachyderm_sdk")) or \
        name.startswith("clearml.Dataset.") and attr in ("get", "create") or name.startswith(MLRUN_DATASETS)
