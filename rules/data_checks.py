from __future__ import annotations

import re
from operator import attrgetter

from mlscan.rulekit import Example, Rule
from mlscan.rules._mlcode import in_example_dir
from mlscan.rules._vocab import CHECKSUM_DOWNLOADS

CHECK_VERBS = {"verify", "validate", "check", "assert", "ensure", "sanity"}
DATA_TOKENS = {"data", "dataset", "datasets", "label", "labels", "sample", "samples", "record", "records", "schema",
               "df", "dataframe", "row", "rows", "column", "columns", "feature", "features", "split", "splits",
               "annotation", "annotations", "csv", "table"}


INPUT_TOKENS = {"input", "inputs", "payload"}  # what a served model is sent: data only in serving code
MONITORING_WORDS = {"drift", "skew", "monitor", "monitoring"}


def is_check_name(name: str, serving: bool = False) -> bool:
    """`verify_image_label`, `check_dataset`, `validate_schema`: a checking verb first, a data noun after."""
    words = [w for w in name.lower().split("_") if w]
    if MONITORING_WORDS & set(words):
        return False  # `check_data_drift`: monitoring live data, not validating it
    if len(words) >= 3 and words[:2] == ["is", "valid"]:
        words = ["validate"] + words[2:]  # `is_valid_json_input`
    return len(words) >= 2 and words[0] in CHECK_VERBS and any(w in DATA_TOKENS or (serving and w in INPUT_TOKENS)
                                                                     for w in words[1:])


INTEGRITY_CALLS = {**{name: key for name, (key, _) in CHECKSUM_DOWNLOADS.items()},
                   "datasets.load_dataset": "verification_mode"}
# modules about a model's outputs: a `check_label_validity` there checks predicted labels
OUTPUT_MODULE = re.compile(r"(?i)(^|/)(post_?process\w*|metrics?|evaluat\w*)(/|\.py$)")
SUBSTANTIAL = 10   # lines: a check function this long does more than a couple of asserts
_PREFILTER = re.compile(r"sha256|SHA256|SHA-256|sha-256|md5|MD5|checksum|Checksum|CHECKSUM")
_DATA_PATH = re.compile(r"(^|[/_])(data|dataset|datasets|datamodule|loaders?|ingest\w*|etl)([/_.]|$)", re.I)
_DATA_WORD = re.compile(r"\b(data|dataset|datasets|corpus|csv|parquet|archive|records)\b", re.I)
# "Missing columns in input data: ...": code that refuses data lacking the columns it needs
_MISSING_COLUMNS = re.compile(r"(?i)\b(missing|required|expected|unexpected)( required)? (columns?|features?)\b"
                              r"|\bcolumns? (are |is )?(missing|not found|absent)\b")
_MISMATCH = re.compile(r"(sha-?256|sha1|md5|checksum|hash)\b.*\b(not match|mismatch|differ|corrupt|invalid|failed|wrong)"
                       r"|(corrupt|mismatch|integrity)\b.*\b(sha-?256|sha1|md5|checksum|hash)", re.I)


class CustomDataChecks(Rule):
    """Data loading code checks its inputs

    Hand-written checks short of a validation suite: functions in pipeline code named for
    checking data, a checking verb followed by a data noun (`verify_image_label`,
    `check_dataset`, `validate_schema`, `ensure_columns`; `check_data_drift` is monitoring, not
    validation), and data downloads verified against a
    checksum (torchvision `check_integrity`/`md5=`, Keras `get_file(file_hash=)`,
    `pooch.retrieve(known_hash=)`, or, in data modules, a hash comparison that raises "SHA-256
    does not match"; checksums of model weights do not count), and code that raises when a table
    lacks the columns it needs ("Missing columns in input data: ..."), or that opens each image
    and verifies it decodes (PIL `Image.open(p).verify()`, or `assert img is not None` right after
    `cv2.imread`, which returns None for a corrupt file). A check function of ten lines
    or more that the training entry points reach runs on every load and supports the practice;
    other checks, and checksums, which prove a file is intact but not that its content is
    sound, are partial; so is serving code checking its request inputs by hand
    (`is_valid_json_input`, or an `if` that raises on what the handler was sent: `if 'title' not in
    request: raise ValueError(...)`; an emptiness test or a check of which model to run does not count). A check function nothing calls checks nothing, and one in a module
    about the model's outputs (`postprocess/`, `metrics.py`, `evaluation/`) checks predictions, not
    data. A function named for checking that tests nothing (no comparison, assert, raise, negation or
    predicate call in its body, `Definition.checks`; a loop or a branch on a bare flag is no test:
    `check_data` that drops rows and saves them) is cleaning. Test code does not count here.
    """

    id = "custom-data-checks"
    practice = "data-validation"
    examples = (
        Example({
            "utils/dataloaders.py": "from PIL import Image\n\n"
                                    "def verify_image_label(im_file, labels):\n    im = Image.open(im_file)\n"
                                    "    im.verify()\n    assert im.size[0] > 9 and im.size[1] > 9, 'image size < 10 pixels'\n"
                                    "    assert (labels >= 0).all(), 'negative label values'\n    return labels\n\n\n"
                                    "def cache_labels(files):\n    from multiprocessing.pool import Pool\n"
                                    "    return list(Pool(4).imap(verify_image_label, files))\n",
        }, "partial", "a data-checking function that no training code calls (a caching helper maps it)", fires=True),
        Example({
            "data.py": "import numpy as np\n\ndef verify_labels(labels):\n    \"\"\"Reject malformed label files.\"\"\"\n    labels = np.asarray(labels)\n"
                       "    assert labels.ndim == 2, 'labels must be 2-D'\n    assert labels.shape[1] == 5, 'need 5 columns'\n"
                       "    assert (labels >= 0).all(), 'negative values'\n    assert (labels[:, 1:] <= 1).all(), 'not normalised'\n"
                       "    if len(np.unique(labels, axis=0)) < len(labels):\n        labels = np.unique(labels, axis=0)\n"
                       "    return labels\n\n"
                       "def load(path):\n    return verify_labels(np.loadtxt(path))\n",
            "train.py": "import torch\nfrom data import load\n\ny = torch.tensor(load('labels.txt'))\n"
                        "model = torch.nn.Linear(5, 1)\nmodel(y.float()).sum().backward()\n",
        }, "present", "label checks that every training run goes through", fires=True),
        Example({
            "data/base.py": "import hashlib\n\ndef fetch(meta, path):\n"
                            "    digest = hashlib.sha256(path.read_bytes()).hexdigest()\n"
                            "    if digest != meta['sha256']:\n"
                            "        raise ValueError('Downloaded data file SHA-256 does not match the metadata')\n"
                            "    return path\n",
        }, "partial", "downloads verified against a checksum", fires=True),
        Example({
            "train.py": "import pandas as pd\n\ndef validate(model, df):\n    return model.score(df, df.y)\n\n"
                        "df = pd.read_csv('d.csv')\n",
        }, "absent", "a model `validate` step is not a data check", fires=False),
        Example({
            "app/monitoring.py": "import numpy as np\n\ndef check_data_drift(window, reference):\n"
                                 "    return abs(np.mean(window) - np.mean(reference)) > 0.1\n",
        }, "absent", "a drift check monitors live data; it does not validate it", fires=False),
        Example({
            "app/utils/helpers.py": "def validate_features(features, expected):\n    if len(features) != expected:\n"
                                    "        raise ValueError('wrong number of features')\n    return True\n",
            "app/main.py": "from fastapi import FastAPI\n\napp = FastAPI()\n\n\n@app.post('/predict')\n"
                           "def predict(rows: list):\n    return MODEL.predict(rows).tolist()\n",
        }, "absent", "a check nothing calls checks nothing", fires=False),
        Example({
            "deployment/main.py": "from flask import Flask, request, jsonify\n\napp = Flask(__name__)\nCOLUMNS = ['t', 'h']\n\n\n"
                                  "def is_valid_json_input(rows):\n    return isinstance(rows, list) and all(\n"
                                  "        isinstance(r, dict) and all(isinstance(r.get(c), (int, float)) for c in COLUMNS) for r in rows)\n\n\n"
                                  "@app.route('/predict', methods=['POST'])\ndef predict():\n    rows = request.get_json()\n"
                                  "    if not is_valid_json_input(rows):\n        return jsonify({'error': 'bad input'}), 400\n"
                                  "    return jsonify(MODEL.predict(rows).tolist())\n",
        }, "partial", "serving checks its request inputs by hand", fires=True),
        Example({
            "services/api/app.py": "from litserve import LitAPI, LitServer\n\n\nclass TextAPI(LitAPI):\n"
                                   "    def setup(self, device):\n        self.model = load()\n\n"
                                   "    def decode_request(self, request):\n        if 'title' not in request:\n"
                                   "            raise ValueError(\"Missing 'title' field in request.\")\n"
                                   "        return request['title']\n\n    def predict(self, x):\n"
                                   "        return self.model.predict(x)\n\n\nLitServer(TextAPI()).run()\n",
        }, "partial", "a serving method refuses a request that lacks the field the model needs", fires=True),
        Example({
            "app.py": "from fastapi import FastAPI, HTTPException\n\napp = FastAPI()\nMODELS = {'a': None}\n\n\n"
                      "@app.post('/predict')\ndef predict(text: str, model_name: str):\n    if text == '':\n"
                      "        raise HTTPException(400, 'empty')\n    if model_name not in MODELS:\n"
                      "        raise HTTPException(404, 'unknown model')\n    return {'y': MODELS[model_name].predict([text])}\n",
        }, "absent", "an emptiness test and a check of which model to run do not check the data", fires=False),
        Example({
            "data/parse.py": "import pandas as pd\n\nREQUIRED = {'speaker', 'line', 'episode'}\n\n\ndef parse(path):\n"
                             "    df = pd.read_csv(path)\n    missing = REQUIRED - set(df.columns)\n    if missing:\n"
                             "        raise ValueError(f'Missing columns in CSV: {missing}')\n    return df\n",
        }, "partial", "loading code refuses a table that lacks the columns it needs", fires=True),
        Example({
            "scripts/suite.py": "def load_suite(cfg):\n    for field in ('name', 'runs'):\n        if field not in cfg:\n"
                                "            raise ValueError(f'Missing required field in suite config: {field}')\n    return cfg\n",
        }, "absent", "a configuration file's required fields are not data", fires=False),
        Example({
            "data/check_image.py": "from PIL import Image\n\n\ndef check(paths):\n    good = []\n    for p in paths:\n"
                                   "        try:\n            Image.open(p).convert('RGB').verify()\n            good.append(p)\n"
                                   "        except Exception:\n            continue\n    return good\n",
        }, "partial", "a script that drops images that do not decode", fires=True),
        Example({
            "peko/dataset/hotelid.py": "import cv2\n\n\nclass HotelDataset:\n    def __getitem__(self, i):\n"
                                       "        im = cv2.imread(self.paths[i])\n        assert im is not None\n"
                                       "        return im[..., ::-1]\n",
        }, "partial", "a loader that refuses an image cv2 could not decode", fires=True),
        Example({
            "src/postprocess/postprocess.py": "def check_label_validity(preds, labels):\n    out = []\n"
                                              "    for p, l in zip(preds, labels):\n        if p.startswith('I-') and l == 'O':\n"
                                              "            p = 'B-' + p[2:]\n        out.append(p)\n    return out\n\n\n"
                                              "def run(preds, labels):\n    return check_label_validity(preds, labels)\n",
            "train.py": "from src.postprocess.postprocess import run\n\nif __name__ == '__main__':\n    run([], [])\n",
        }, "absent", "a check of predicted labels in post-processing is not data validation", fires=False),
        Example({
            "dags/functions/data.py": "import pandas as pd\n\n\ndef check_data(src, dst):\n    data = pd.read_csv(src)\n"
                                      "    data = data.dropna(subset=['title'])\n    data.to_csv(dst, index=False)\n"
                                      "    print('processed data shape is:', data.shape)\n\n\n"
                                      "if __name__ == '__main__':\n    check_data('raw.csv', 'clean.csv')\n",
        }, "absent", "a function named check_data that only drops rows and saves them checks nothing", fires=False),
        Example({
            "predict.py": "import cv2\n\n\ndef run(path, mask):\n    img = cv2.imread(path)\n    if mask is None:\n"
                          "        mask = img[..., 0] > 0\n    return img, mask\n",
        }, "absent", "a None test that does not refuse the image is no decode check", fires=False),
    )

    def check(self, facts):
        closure = facts.graph.training_closure
        serving = facts.graph.serving_files
        refused = _request_refused(facts, serving)
        if refused:
            yield self.found("partial", *refused)
        for idx in facts.non_test_code():
            # what the file alone says, kept by its content: (check functions, those counting serving
            # inputs as data, a missing-columns message, a checksum-mismatch message, a decode check)
            plain_checks, serving_checks, missing, mismatch, decoded = facts.per_file(_file_evidence, idx.path, idx)
            checks = serving_checks if idx.path in serving else plain_checks
            if not idx.is_notebook:   # a check-named function that tests nothing is cleaning (Definition.checks)
                checks = [(q, d) for q, d in checks if d.checks]
            on_load = [(q, d) for q, d in checks if f"def:{idx.path}:{q}" in closure and d.end_line - d.line + 1 >= SUBSTANTIAL]
            if not on_load:  # a check nothing calls checks nothing
                called = _called_names(facts)
                checks = [(q, d) for q, d in checks if q.rsplit(".", 1)[-1] in called]
            for qual, d in on_load[:1] or checks[:1]:
                name = qual.rsplit(".", 1)[-1]
                if on_load:
                    yield self.found("supports", idx.path, d.line, f"{name}() checks data on every training run "
                                                                   f"({d.end_line - d.line + 1} lines, reached from training)")
                else:
                    yield self.found("partial", idx.path, d.line, f"{name}() checks data")
            verified = False
            for call in facts.call_table.named(_integrity_call, roots=_INTEGRITY_ROOTS).get(idx.path, ()):
                if call.name not in INTEGRITY_CALLS:
                    continue
                key = INTEGRITY_CALLS[call.name]
                if key is not None and call.kwarg(key) in (None, "no_checks"):
                    continue
                yield self.found("partial", idx.path, call.line, f"{call.name} verifies a download's checksum")
                verified = True
                break
            if not in_example_dir(idx.path):
                opened = next((c for c in facts.call_table.named(_image_verify, roots=("PIL",)).get(idx.path, ())), None)
                if opened is not None:
                    yield self.found("partial", idx.path, opened.line,
                                     "opens each image and verifies that it decodes (PIL verify); corrupt files are caught")
            if not in_example_dir(idx.path) and not idx.is_notebook:
                if decoded is not None:
                    yield self.found("partial", idx.path, decoded[0],
                                     f"fails when an image does not decode ({decoded[1]} result checked against None)")
            if not in_example_dir(idx.path):
                if missing:
                    yield self.found("partial", idx.path, missing[1], f"refuses data without the columns it needs: {missing[0][:70]!r}")
            if mismatch and not verified:
                yield self.found("partial", idx.path, mismatch[1], f"raises on a checksum mismatch: {mismatch[0][:70]!r}")


def _file_evidence(path: str, idx):
    """CustomDataChecks' judgement of one file's own facts (a per-file value, see `check`)."""
    outputs = bool(OUTPUT_MODULE.search(path))   # checks of predictions or scores, not of data
    by_line = [] if outputs else [(qual, d) for qual, d in sorted(idx.defs.items(), key=lambda kv: kv[1].line)
                                  if d.kind == "function"]
    plain = tuple((q, d) for q, d in by_line if is_check_name(q.rsplit(".", 1)[-1], False))
    serving = tuple((q, d) for q, d in by_line if is_check_name(q.rsplit(".", 1)[-1], True))
    literals = sorted(set(idx.strings) | set(idx.texts), key=lambda t: (t[1], t[0]))   # Facts.string_literals
    missing = next(((s, line) for s, line in literals if _MISSING_COLUMNS.search(s)), None)
    mismatch = None
    if literals and any(_PREFILTER.search(s) for s, _ in literals):
        data_module = bool(_DATA_PATH.search(path))
        mismatch = next(((s, line) for s, line in literals
                         if _MISMATCH.search(s) and (data_module or _DATA_WORD.search(s))), None)
    decoded = None if idx.is_notebook else _decode_checked(idx)
    return plain, serving, missing, mismatch, decoded


# what a request carries besides data: which model to run, who asks, how many results
NOT_DATA = re.compile(r"(?i)(model|version|name|_id$|^id$|user|token|key|auth|top_?k|limit|page|lang)")
EMPTY = {None, "", 0}


def _request_refused(facts, serving):
    """(path, line, message) for serving code that refuses a malformed request by hand: an `if` that
    raises (or an assert) on what the handler was sent (`if 'title' not in request: raise`,
    `if file.content_type not in ALLOWED: raise HTTPException(400)`). An emptiness test alone
    (`if text == ''`), or a check of which model to run, is not a check of the data."""
    for path in sorted(serving):
        idx = facts.code.get(path)
        if idx is None or idx.is_notebook:
            continue
        for cmp in idx.comparisons:
            if cmp.context not in ("if-fails", "assert") or (cmp.literals and set(cmp.literals) <= EMPTY) \
                    or set(cmp.ops) <= {"Is", "IsNot"}:
                continue
            d = idx.defs.get(cmp.scope)
            sent = (set(d.params) if d else set()) - {"self", "cls", "device", "context"}
            sent |= {"request"}
            for operand in cmp.operands:
                root = re.match(r"(?:len\()?([A-Za-z_]\w*)((?:\.\w+)*)", operand)
                if root and root.group(1) in sent and not NOT_DATA.search(root.group(1) + root.group(2)) \
                        and not (cmp.literals and all(isinstance(x, str) and NOT_DATA.search(x) for x in cmp.literals)):
                    return (path, cmp.line, f"serving refuses a malformed request by hand (raises or asserts on {operand}, "
                                            f"what the handler was sent); the training data is not checked by it")
    return None


# readers that return None for a missing or corrupt file instead of raising
DECODERS = ("cv2.imread", "cv2.imdecode", "imageio.imread", "skimage.io.imread")


def _decode_checked(idx):
    """(line, reader) of `img = cv2.imread(p)` followed within three lines by `assert img is not None`
    or `if img is None: raise`: a loader that refuses unreadable images."""
    reads = [c for c in idx.calls if c.name.startswith(DECODERS)]
    if not reads:
        return None
    for cmp in idx.comparisons:
        if cmp.context not in ("assert", "if-fails") or None not in cmp.literals or len(cmp.operands) != 1 or \
                not set(cmp.ops) <= {"Is", "IsNot"}:
            continue
        near = next((c for c in reads if c.scope == cmp.scope and 0 < cmp.line - c.line <= 3), None)
        if near is not None:
            return cmp.line, near.name.split("(")[0]
    return None


_IMAGE_VERIFY = re.compile(r"^PIL\.Image\.open\(\)(\.\w+\(\))*\.verify$")


def _image_verify(name: str) -> bool:
    return bool(_IMAGE_VERIFY.match(name))


def _called_names(facts) -> set:
    """The last name part of every call the repo's non-test code makes (`validate_features`)."""
    def compute():
        names = set()
        refs = set()
        for idx in facts.non_test_code():   # `c.attr` is the name's last part
            names.update(map(attrgetter("attr"), idx.calls))
            for r in map(attrgetter("refs"), idx.calls):
                if r:
                    refs.update(r)
        names.update(r.rsplit(".", 1)[-1] for r in refs)  # `pool.imap(verify_image_label, files)`
        return names
    return facts.memo("data-checks.called", compute)


_INTEGRITY_ROOTS = {n.split(".")[0] for n in INTEGRITY_CALLS}


def _integrity_call(name: str) -> bool:
    return name in INTEGRITY_CALLS
