from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Optional

from mlscan.rulekit import Example, Rule
from mlscan.rules._vocab import DATA_SUFFIXES

DATA_DIRS = {"data", "datasets", "dataset", "raw", "processed", "input", "inputs", "corpus", "interim", "external"}
_NAME_TOKEN = re.compile(r"[^a-z0-9]+")
# folders that usually hold examples or static files, unless a data folder holds them and something reads them
SOFT_EXCLUDED_DIRS = {"samples", "sample", "assets"}
NOT_TRAINING_DATA_DIRS = {"examples", "example", "docs", "doc", "tests", "test", "fixtures", "samples", "sample",
                          "assets", "static", ".github", "results", "benchmarks", "notebooks"}
MIN_BYTES = 10 * 1024
# a database file in a data folder holds the sample or training table (`data/sample-db.sqlite`)
DB_SUFFIXES = (".sqlite", ".sqlite3")
# images and audio: one file is an asset, a folder of them in a data folder is a dataset
MEDIA_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".wav", ".flac", ".mp3")
MIN_MEDIA_FILES = 20
EXAMPLE_TOKENS = {"example", "examples"}   # `example_model/data/` holds an example's data, not the project's
# a pickle named or filed as a fitted model or transform (`models/model.pkl`, `scaler.pkl`) is an artefact, not data
FITTED_ARTEFACT = re.compile(r"(?i)(^|[/_.-])(models?|saved_models?|artifacts?|checkpoints?|weights|pipelines?|"
                             r"preprocessors?|scalers?|encoders?|vectori[sz]ers?|classifiers?|regressors?|estimators?|"
                             r"transformers?|imputers?|clf|tokenizers?)([/_.-]|$)|[a-z]+_model(s)?([/_.-]|$)")
PICKLES = (".pkl", ".pickle", ".joblib")
# acc11: Keras saves whole models as HDF5 (`model/sixthSubmission.h5`): filed as a model, it is one
SAVED_MODELS = PICKLES + (".h5", ".hdf5")
# acc11: a small text file that lists classes, labels, anchors or a vocabulary is model metadata, not records
TEXT_NOT_RECORDS = re.compile(r"(?i)(class|label|anchor|vocab|names)[^/]*\.txt$")
# acc10: what the code writes out (predictions, Kaggle submissions, out-of-fold predictions, scratch files) is
# output, not the data a model is trained on (`reports/predictions.csv`, `Submission/submission-effnet.csv`)
MODEL_OUTPUT = re.compile(r"(?i)(^|/)(submissions?|predictions?|preds|oof|outputs?|reports?|tmp)(/|$)|"
                          r"(^|/)(submission|predictions?|preds|oof)([_.-][^/]*)?\.\w+$")
# suffixes that are never a dataset's own format; any other sizeable file in a data folder is data (`cora.cites`, `ind.cora.x`)
NOT_DATA_SUFFIXES = {".py", ".pyc", ".ipynb", ".r", ".js", ".ts", ".java", ".c", ".cc", ".cpp", ".h", ".cu", ".go", ".rs",
                     ".sh", ".bat", ".ps1", ".md", ".rst", ".pdf", ".html", ".htm", ".tex", ".doc", ".docx", ".ppt", ".pptx",
                     ".yaml", ".yml", ".toml", ".ini", ".cfg", ".conf", ".xml", ".lock", ".dvc", ".gitkeep", ".keep",
                     ".gitignore", ".gitattributes", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".bmp", ".tif", ".tiff", ".webp",
                     ".ico", ".mp4", ".avi", ".mov", ".mkv", ".webm", ".gif", ".wav", ".mp3", ".flac", ".ogg", ".pt", ".pth",
                     ".ckpt", ".onnx", ".safetensors", ".bin", ".pb", ".tflite", ".keras", ".model", ".joblib", ".pickle",
                     ".sqlite", ".sqlite3", ".db", ".log", ".whl", ".so", ".dll", ".exe", ".jar", ".ttf", ".woff", ".css"}
# acc10: an archive named for data wherever it sits (`dataset.zip`, `NewData.zip`)
ARCHIVE_SUFFIXES = (".zip", ".gz")
DATA_ARCHIVE = re.compile(r"(?i)data|corpus")
MIN_BYTES_READ = 128      # a smaller file counts when it sits in a data folder and the code reads it
# r14: a record table the code reads by file name is the project's data wherever it sits: at the root
# (`bank.csv`), in a package (`src/pkg/datasets/train.csv`), beside the notebooks that read it, or in a folder
# of its own (`project/practicedata/`); examples, tests, docs and run output stay out
READ_TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".feather", ".xlsx", ".xls", ".jsonl", ".arff", ".dat", ".data",
                       ".dta", ".sas7bdat")
READ_TABLE_EXCLUDED = NOT_TRAINING_DATA_DIRS - {"notebooks"}
TEST_TOKENS = {"test", "tests", "testing", "fixture", "fixtures", "mock", "mocks"}
# what runs leave behind (`experiments/<timestamp>/metrics.csv`, `runs/`, `logs/`, `mlruns/`) is output too
RUN_OUTPUT_DIRS = {"experiments", "runs", "logs", "log", "mlruns", "wandb", "lightning_logs", "checkpoints", "artifacts"}
# small JSON files that hold settings, label maps or logs rather than records
JSON_NOT_RECORDS = re.compile(r"(?i)(config|settings|param|meta|label|class|vocab|schema|log|report|summary|"
                              r"manifest|mapping|map)")


def fitted_artefact(path: str) -> bool:
    """A pickle of a fitted model or transform (`models/sample_model.pkl`, `train/preprocessors.pkl`)."""
    return path.lower().endswith(SAVED_MODELS) and bool(FITTED_ARTEFACT.search(path))


def model_output(path: str) -> bool:
    """A file the code writes out (`reports/predictions.csv`, `subs/submission_v3.csv`) outside any data folder."""
    return bool(MODEL_OUTPUT.search(path)) and not in_data_dir(p.lower() for p in path.split("/")[:-1])


def in_data_dir(folders) -> bool:
    """Folders (lower case, outermost first) that include one named for data: `data/`, `raw/`, or at
    the top of the repo a compound such as `external_data/` or `raw-data/`."""
    folders = list(folders)
    if any(f in DATA_DIRS for f in folders):
        return True
    return bool(folders) and any(t in DATA_DIRS for t in _NAME_TOKEN.split(folders[0]))


class DataCommittedToGit(Rule):
    """Data files are committed straight into git

    Data files (CSV, Parquet, NumPy, Excel, ARFF, archives, ...) in a data folder (`data/`, `raw/`,
    or a top-level `external_data/`), or read by the code, that are committed to git without LFS:
    in the tree, listed by git but absent from the checkout (a partial clone leaves large blobs
    out), or (once added, since removed) in the history read. Files under 10 KiB count only when
    they sit in a data folder and the code reads them. A SQLite database in a data folder, and an
    image or audio dataset (twenty files or more) in one, count too; a few images are assets.
    An archive named for its data (`dataset.zip` at the root, unzipped by hand) counts wherever it sits.
    A record table (CSV, TSV, Parquet, Excel, JSON lines, `.dat`, ...) that the code names by its file
    name counts wherever it sits, from 128 bytes: at the root, in a folder of its own, beside the
    notebooks that read it, or inside the package (from 10 KiB there: a smaller table shipped in a
    package is a lookup resource); examples, tests, docs and what runs leave (`experiments/`, `runs/`,
    `logs/`) stay out.
    What the code writes out outside a data folder (predictions, Kaggle submissions, out-of-fold
    predictions, files under `outputs/`, `reports/` or `tmp/`) is output, not training data.
    Git keeps every version, so this is partial evidence of data versioning: nothing ties a
    model to the data version it was trained on.
    """

    id = "data-in-git"
    practice = "data-versioning"
    examples = (
        Example({"data/train.csv": "a,b\n" + "1,2\n" * 6000, "train.py": "import pandas as pd\n"
                 "df = pd.read_csv('data/train.csv')\n"}, "partial", commits=({},)),
        Example({"examples/iris.csv": "a,b\n" + "1,2\n" * 6000, "train.py": "print(1)\n"}, "absent",
                "an example file is not training data", commits=({},)),
        Example({"data/raw/train.csv": "a,b\n" + "1,2\n" * 6000, "train.py": "import pandas as pd\n"
                 "df = pd.read_csv('data/raw/train.csv')\n"}, "partial",
                "data committed, then removed from the tree: history still versions it", fires=True,
                commits=({"data/raw/train.csv": None, ".gitignore": "data/\n"},)),
        Example({"messidor_features.arff": "@relation m\n" + "1,2,0\n" * 3000, "train.py": "from scipy.io import arff\n"
                 "data, meta = arff.loadarff('messidor_features.arff')\n"}, "partial",
                "a Weka/UCI .arff table at the root, read by the code", commits=({},)),
        Example({"external_data/scraped.csv": "a,b\n" + "1,2\n" * 6000, "train.py": "print(1)\n"}, "partial",
                "a top-level folder named for data (external_data/)", commits=({},)),
        Example({"data/Advertising.csv": "TV,Radio,Sales\n" + "230.1,37.8,22.1\n" * 200,
                 "lesson.py": "import pandas as pd\ndf = pd.read_csv('data/Advertising.csv')\n"}, "partial",
                "a small table in a data folder that the code reads", commits=({},)),
        Example({"data/colors.csv": "name,hex\n" + "red,#f00\n" * 200, "train.py": "print(1)\n"}, "absent",
                "a small file in a data folder that nothing reads", commits=({},)),
        Example({"data/mmlu/val.json": "[" + ", ".join(['{"q": "2+2?", "a": "4"}'] * 600) + "]",
                 "eval.py": "import json\nrows = json.load(open('data/mmlu/val.json'))\n"}, "partial",
                "a sizeable JSON dataset in a data folder", commits=({},)),
        Example({"data/labels.json": '{"0": "cat", "1": "dog"}', "config/settings.json": "{" + ", ".join(
                     f'"k{i}": {i}' for i in range(2000)) + "}", "train.py": "print(1)\n"}, "absent",
                "a small label map in data/ and a large JSON config outside it are not datasets", commits=({},)),
        Example({"timm/__init__.py": "", "timm/data/__init__.py": "", "timm/data/_info/real_labels.json": "[" + ", ".join(
                     ["[1, 2]"] * 3000) + "]", "train.py": "print(1)\n"}, "absent",
                "a label table shipped inside a package's data module is a resource, not a dataset", commits=({},)),
        Example({"data/samples/tiny.jsonl": '{"instruction": "hi", "output": "hello"}\n' * 300,
                 "configs/train.example.yaml": "dataset_path: ./data/samples/tiny.jsonl\nepochs: 1\n",
                 "train.py": "import yaml\ncfg = yaml.safe_load(open('configs/train.example.yaml'))\n"}, "partial",
                "a sample dataset in data/samples/ that the example training config trains on", commits=({},)),
        Example({"models/sample_model.pkl": "\x80\x04" + "x" * 20000, "data/features.pkl": "\x80\x04" + "y" * 20000,
                 "train.py": "import pandas as pd\ndf = pd.read_pickle('data/features.pkl')\n"}, "partial",
                "a pickled feature table in data/ is data; the model pickle beside it is not", fires=True, commits=({},)),
        Example({"models/sample_model.pkl": "\x80\x04" + "x" * 20000, "train/preprocessors.pkl": "\x80\x04" + "x" * 20000,
                 "serve.py": "import pickle\nmodel = pickle.load(open('models/sample_model.pkl', 'rb'))\n"
                             "prep = pickle.load(open('train/preprocessors.pkl', 'rb'))\n"}, "absent",
                "fitted models and preprocessors committed as pickles are artefacts, not data", commits=({},)),
        Example({"model/sixthSubmission.h5": "\x89HDF" + "x" * 20000, "model_data/coco_classes.txt": "person\nbicycle\n" * 40,
                 "predict.py": "from tensorflow import keras\nm = keras.models.load_model('model/sixthSubmission.h5')\n"
                               "names = open('model_data/coco_classes.txt').read().split()\n"}, "absent",
                "a Keras model saved as HDF5 in model/ and a class-name list are artefacts, not data", commits=({},)),
        Example({"data/train_signals.h5": "\x89HDF" + "x" * 20000, "data/sentences.txt": "a short sentence\n" * 20,
                 "train.py": "import h5py\nx = h5py.File('data/train_signals.h5')\n"
                             "lines = open('data/sentences.txt').read().split()\n"}, "partial",
                "an HDF5 table and a small text corpus in data/ are the training data", fires=True, commits=({},)),
        Example({"data/cora/cora.cites": "35\t1033\n" * 3000, "data/cora/README": "Cora citation graph\n",
                 "utils.py": "import numpy as np\n\ndef load(path, name):\n"
                             "    return np.genfromtxt('{}{}.cites'.format(path, name), dtype=np.int32)\n"},
                "partial", "a dataset in its own format (`.cites`) committed in a data folder", fires=True, commits=({},)),
        Example({"data/tiny.csv": "text,label\n" + "good movie,1\nbad movie,0\n" * 12,
                 "train.py": "import argparse\np = argparse.ArgumentParser()\n"
                             "p.add_argument('--train_csv', default='data/tiny.csv')\n"},
                "partial", "a tiny CSV in data/ that training reads by default", fires=True, commits=({},)),
        Example({"example_model/data/sample_train.csv": "a,b\n" + "1,2\n" * 60,
                 "example_model/train.py": "import pandas as pd\ndf = pd.read_csv('example_model/data/sample_train.csv')\n"},
                "absent", "a sample table of a framework's example model", commits=({},)),
        Example({"assets/img/data/logo.csv": "a,b\n" + "1,2\n" * 6000, "train.py": "print(1)\n"}, "absent",
                "a table under assets/ that nothing reads", commits=({},)),
        Example({**{f"data/xray/train/covid/{i:04}.png": "\x89PNG" + "x" * 300 for i in range(24)},
                 "train.py": "from torchvision import datasets\nds = datasets.ImageFolder('data/xray/train')\n"},
                "partial", "an image dataset committed in a data folder", fires=True, commits=({},)),
        Example({**{f"data/logos/{i}.png": "\x89PNG" + "x" * 300 for i in range(3)},
                 "train.py": "print(1)\n"}, "absent", "a few images are assets, not a dataset", commits=({},)),
        Example({"data/sample-db.sqlite": "SQLite format 3\x00" + "x" * 12000, "train.py": "print(1)\n"}, "partial",
                "a sample SQLite database committed in a data folder", commits=({},)),
        Example({"tracking.sqlite": "SQLite format 3\x00" + "x" * 12000, "train.py": "print(1)\n"}, "absent",
                "a tracking database at the root is not training data", commits=({},)),
        Example({"milestones/m3/raw-data/requests.csv": "a,b\n" + "1,2\n" * 6000, "train.py": "print(1)\n"}, "absent",
                "a compound data-folder name deep in the tree (load-test logs) is not training data", commits=({},)),
        Example({"data/test_set.json": "[" + ", ".join(['{"question": "What is RAG?", "answer": "retrieval"}'] * 60) + "]",
                 "src/config.py": "from pydantic import BaseModel\n\n\nclass Settings(BaseModel):\n"
                                  "    test_set_path: str = 'data/test_set.json'\n"}, "partial",
                "a small evaluation set in data/ that the code reads", fires=True, commits=({},)),
        Example({"data/class_map.json": '{"0": "cat", "1": "dog", "2": "bird", "3": "fish", "4": "horse", "5": "cow"}' * 3,
                 "train.py": "import json\nclasses = json.load(open('data/class_map.json'))\n"}, "absent",
                "a small label map the code reads is not a dataset", fires=False, commits=({},)),
        Example({"data/sample/time_series_sample.sqlite": "SQLite format 3\x00" + "x" * 12000,
                 "configs/run.yaml": "data:\n  source: data/sample/time_series_sample.sqlite\n",
                 "train.py": "print(1)\n"}, "partial",
                "a sample database in data/sample/ that the run config points at", fires=True, commits=({},)),
        Example({"dataset.zip": "PK\x03\x04" + "x" * 20000, "util.py": "def load(name):\n"
                 "    return open('dataset/%s/%s.txt' % (name, name)).read()\n"}, "partial",
                "a data archive committed at the root, unzipped by hand", fires=True, commits=({},)),
        Example({"release.zip": "PK\x03\x04" + "x" * 20000, "util.py": "print(1)\n"}, "absent",
                "an archive not named for data", fires=False, commits=({},)),
        Example({"reports/predictions.csv": "id,score\n" + "1,0.5\n" * 3000,
                 "predict.py": "import pandas as pd\n\ndef main(out):\n"
                               "    pd.DataFrame({'score': [0.5]}).to_csv(out / 'predictions.csv')\n"}, "absent",
                "predictions the code writes to reports/ are output, not training data", commits=({},)),
        Example({"bank.csv": "age;job;y\n" + "30;admin;no\n" * 60,
                 "train.py": "import pandas as pd\ndf = pd.read_csv('bank.csv', sep=';')\n"}, "partial",
                "r14: a small table at the root that the code reads by name", fires=True, commits=({},)),
        Example({"src/prediction_model/__init__.py": "", "src/prediction_model/datasets/train.csv": "a,b\n" + "1,2\n" * 6000,
                 "src/prediction_model/config/config.py": "TRAIN_FILE = 'train.csv'\n"}, "partial",
                "r14: a training table shipped inside the package and named by its config", fires=True, commits=({},)),
        Example({"experiments/20250710-132946/metrics.csv": "epoch,loss\n" + "1,0.5\n" * 200,
                 "src/__init__.py": "", "src/data/__init__.py": "", "src/data/latlon2county.csv": "lat,lon,county\n" + "1,2,3\n" * 60,
                 "train.py": "import pandas as pd\nm = pd.read_csv('metrics.csv')\nc = pd.read_csv('latlon2county.csv')\n"},
                "absent", "r14: a run's metrics log and a small lookup table in a package are not the training data",
                fires=False, commits=({},)),
        Example({"final/Submission/submission-effnet-b3.csv": "id,target\n" + "1,0\n" * 3000,
                 "input/train_folds.csv": "id,fold\n" + "1,0\n" * 3000,
                 "train.py": "import pandas as pd\n\ndf = pd.read_csv('input/train_folds.csv')\n"
                             "df.to_csv('submission-effnet-b3.csv')\n"}, "partial",
                "the fold table in input/ is data; the committed submission beside it is not", fires=True, commits=({},)),
    )

    def check(self, facts):
        lfs_patterns = [r.pattern for r in facts.gitattributes if r.lfs]
        referenced = {PurePosixPath(v).name for idx in facts.non_test_code() for v, _ in idx.strings}
        packages = {f.path.rsplit("/", 1)[0] for f in facts.files if f.name == "__init__.py" and "/" in f.path}
        config_names: list = []

        def configured() -> set:
            """File names that config values point at (`dataset_path: ./data/samples/tiny.jsonl`), read on first use."""
            if not config_names:
                config_names.append(_config_file_names(facts))
            return config_names[0]

        def read_table(path: str, name: str, size: Optional[int]) -> bool:
            """r14: a record table the code reads by its file name, wherever it sits (not examples, tests, docs, run output)."""
            if not name.lower().endswith(READ_TABLE_SUFFIXES) or name not in referenced or (size is not None and size < MIN_BYTES_READ):
                return False
            if any(path.startswith(pkg + "/") for pkg in packages) and size is not None and size < MIN_BYTES:
                return False   # a small lookup table shipped in a package (`data/processed/latlon2county.csv`) is a resource
            folders = [p.lower() for p in path.split("/")[:-1]]
            tokens = {t for f in folders for t in _NAME_TOKEN.split(f)}
            return not (set(folders) & (READ_TABLE_EXCLUDED | RUN_OUTPUT_DIRS) or tokens & (EXAMPLE_TOKENS | TEST_TOKENS)
                        or any(PurePosixPath(path).match(p) for p in lfs_patterns))

        def training_data(path: str, name: str, size: Optional[int]) -> bool:
            """size None: committed, but the blob is not in this clone (a partial clone's large file)."""
            suffix = PurePosixPath(name).suffix.lower()
            if fitted_artefact(path) or model_output(path):
                return False
            if read_table(path, name, size):
                return True
            if suffix and suffix not in DATA_SUFFIXES and suffix not in NOT_DATA_SUFFIXES and suffix != ".json" \
                    and size is not None and size >= MIN_BYTES:
                folders = [p.lower() for p in path.split("/")[:-1]]
                if in_data_dir(folders) and not set(folders) & NOT_TRAINING_DATA_DIRS and \
                        not any(PurePosixPath(path).match(p) for p in lfs_patterns) and \
                        not any(path.startswith(pkg + "/") for pkg in packages):
                    return True   # a dataset in its own format (`data/cora/cora.cites`, `data/ind.cora.x`)
            if suffix == ".json":
                # JSON is usually configuration; a sizeable JSON file in a data folder is a dataset
                # (evaluation splits, records, fitted statistics)
                # (evaluation splits, records, fitted statistics); a smaller one counts when the code reads it
                # as its data (`data/test_set.json`), unless it is named as settings, labels or a log
                folders = [p.lower() for p in path.split("/")[:-1]]
                read_records = name in referenced and not JSON_NOT_RECORDS.search(name)
                return size is not None and (size >= MIN_BYTES or read_records and size >= MIN_BYTES_READ) and \
                    in_data_dir(folders) and not set(folders) & NOT_TRAINING_DATA_DIRS and \
                    not any(PurePosixPath(path).match(p) for p in lfs_patterns) and \
                    not any(path.startswith(pkg + "/") for pkg in packages)   # label tables a package ships
            if suffix in DB_SUFFIXES:
                # a sample database in `data/sample/` counts when the code or a config points at it, as a table does
                folders = [p.lower() for p in path.split("/")[:-1]]
                excluded = set(folders) & NOT_TRAINING_DATA_DIRS
                return size is not None and size >= MIN_BYTES and in_data_dir(folders) and \
                    (not excluded or excluded <= SOFT_EXCLUDED_DIRS and (name in referenced or name in configured())) and \
                    not any(PurePosixPath(path).match(p) for p in lfs_patterns)
            if suffix not in DATA_SUFFIXES:
                return False
            if suffix in ARCHIVE_SUFFIXES and DATA_ARCHIVE.search(PurePosixPath(name).stem) and \
                    (size is None or size >= MIN_BYTES) and not set(p.lower() for p in path.split("/")[:-1]) & NOT_TRAINING_DATA_DIRS \
                    and not any(PurePosixPath(path).match(p) for p in lfs_patterns):
                return True   # acc10: an archive named for the data (`dataset.zip` at the root, unzipped by hand)
            if suffix == ".txt" and (name.startswith(("requirements", "README", "LICENSE")) or "requirements" in path):
                return False
            folders = [p.lower() for p in path.split("/")[:-1]]
            parts = set(folders)
            excluded = parts & NOT_TRAINING_DATA_DIRS | {t for f in folders for t in _NAME_TOKEN.split(f) if t in EXAMPLE_TOKENS}
            if excluded and not (excluded <= SOFT_EXCLUDED_DIRS and in_data_dir(folders)
                                 and (name in referenced or name in configured())):
                return False   # examples, docs (a sample set in data/samples/ that the code or a config reads stays)
            if any(PurePosixPath(path).match(p) for p in lfs_patterns) or any(path.startswith(pkg + "/") for pkg in packages):
                return False   # LFS-tracked files, resources shipped inside a package
            data_dir, read = in_data_dir(folders), name in referenced or name in configured()
            if size is not None and size < MIN_BYTES and not (data_dir and read and size >= MIN_BYTES_READ):
                return False
            if size is not None and size < MIN_BYTES and TEXT_NOT_RECORDS.search(name):
                return False
            return data_dir or read

        hits = [f for f in facts.files if f.tracked and training_data(f.path, f.name, f.size)]
        for f in hits[:5]:
            yield self.found("partial", f.path, None, f"raw data committed to git: {f.path} ({_size(f.size)}), "
                                                      f"without LFS or DVC")
        if hits:
            return
        media = _media_dataset(facts, lfs_patterns)
        if media:
            folder, count, line_path = media
            kind = "an audio" if line_path.lower().endswith((".wav", ".flac", ".mp3")) else "an image"
            yield self.found("partial", line_path, None, f"{kind} dataset committed to git: {folder}/ "
                                                         f"({count} files), without LFS or DVC")
            return
        absent = [(p, size) for p, size in facts.absent_tracked(DATA_SUFFIXES).items()
                  if training_data(p, p.rsplit("/", 1)[-1], size)]
        for path, size in absent[:5]:
            yield self.found("partial", path, None, f"raw data committed to git: {path} "
                                                    f"({_size(size) if size is not None else 'a large file'}, "
                                                    f"not in this checkout), without LFS or DVC")
        if not absent:
            yield from self._in_history(facts, lfs_patterns)

    def _in_history(self, facts, lfs_patterns):
        """Data once committed and since removed from the tree: git history still versions it."""
        hist = facts.history
        if not hist.available:
            return
        present = {f.path for f in facts.files if f.tracked}
        for commit in reversed(hist.commits):   # oldest first
            for ch in commit.changes:
                if ch.status != "A" or ch.path in present:
                    continue
                p = PurePosixPath(ch.path)
                folders = [x.lower() for x in p.parts[:-1]]
                parts = set(folders)
                if p.suffix.lower() not in DATA_SUFFIXES or p.suffix == ".txt" or fitted_artefact(ch.path) \
                        or not in_data_dir(folders) or parts & NOT_TRAINING_DATA_DIRS \
                        or hist.blob_sizes.get(ch.blob, 0) < MIN_BYTES or any(p.match(x) for x in lfs_patterns):
                    continue
                size = hist.blob_sizes[ch.blob] // 1024
                yield self.found("partial", ch.path, None, f"raw data committed to git history: {ch.path} ({size} KiB, "
                                                           f"added in {commit.sha[:12]}, no longer in the tree)")
                return


def _media_dataset(facts, lfs_patterns):
    """(data folder, file count, first file) of the largest set of committed images or audio under a data folder."""
    counts: dict = {}
    first: dict = {}
    for f in facts.files:
        if not f.tracked or not f.name.lower().endswith(MEDIA_SUFFIXES):
            continue
        parts = f.path.split("/")[:-1]
        folders = [p.lower() for p in parts]
        if not in_data_dir(folders) or set(folders) & NOT_TRAINING_DATA_DIRS or \
                any(PurePosixPath(f.path).match(p) for p in lfs_patterns):
            continue
        # the folder named for data, and the one below it (`data/Covid19-dataset`)
        at = next((i for i, p in enumerate(folders) if p in DATA_DIRS), 0)
        folder = "/".join(parts[:at + 2])
        counts[folder] = counts.get(folder, 0) + 1
        first.setdefault(folder, f.path)
    if not counts:
        return None
    folder = max(sorted(counts), key=lambda k: counts[k])
    return (folder, counts[folder], first[folder]) if counts[folder] >= MIN_MEDIA_FILES else None


def _config_file_names(facts) -> set:
    from mlscan.facts.configs import walk
    out = set()
    for doc in facts.yaml_docs():
        for _, value in walk(doc.docs):
            if isinstance(value, str) and "/" in value and PurePosixPath(value).suffix.lower() in DATA_SUFFIXES + DB_SUFFIXES:
                out.add(PurePosixPath(value).name)
    return out


def _size(size: int) -> str:
    return f"{size // 1024} KiB" if size >= 1024 else f"{size} bytes"
