from __future__ import annotations

import re

from mlscan.rulekit import Example, Rule
from mlscan.rules._mlcode import in_example_dir
from mlscan.rules._vocab import writes_record

# the three things a metadata record says about a trained model: which model it is, what data it saw, how well
# it did; a record must name all three to document the model (a checkpoint's `{"model": ..., "epoch": ...}` or a
# metrics log does not)
MODEL_KEYS = frozenset({"model", "model_name", "model_type", "model_class", "model_id", "model_version", "name",
                        "algorithm", "estimator", "architecture", "base_model", "version"})
DATA_KEY = re.compile(r"^(features?|feature_names|feature_columns|feature_cols|feature_list|columns|target|"
                      r"target_column|target_col|data|data_path|dataset|dataset_name|training_data|train_data|"
                      r"data_source|trained_on|train_size|train_rows|n_train|n_samples|training_samples)$")
METRIC_KEY = re.compile(r"^(metrics?(_\w+)?|\w+_metrics|performance|evaluation|scores?|accuracy|auc|roc_auc|"
                        r"f1(_score)?|precision|recall|rmse|mae|r2|"
                        r"(test|val|valid|cv)_(score|accuracy|acc|auc|roc_auc|f1|precision|recall|rmse|mae|r2|loss))$")


def _topics(keys) -> bool:
    return (any(k in MODEL_KEYS for k in keys) and any(DATA_KEY.match(k) for k in keys)
            and any(METRIC_KEY.match(k) for k in keys))


class ModelMetadataRecord(Rule):
    """Training writes a metadata record beside the model (its name, features and metrics)

    Partial evidence of model documentation: a function builds a record that names the model, the
    data it was trained on and how well it did, and writes it out with the model
    (`metadata = {"name": MODEL_NAME, "version": ..., "features": FEATURE_NAMES, "metrics": metrics}`
    then `json.dumps(metadata)`, `save_json(meta, path)`, `joblib.dump({"model": m, "features": cols,
    "metrics": metrics}, path)`). Every trained model then carries what it is, what it saw and its
    scores, as a machine-readable record; it is not a model card (no intended use or limitations),
    hence partial. All three topics are needed: a checkpoint (`model`, `epoch`, `optimizer`) or a
    metrics log alone is not a record of the model. A record that is only returned (an API reply)
    is not written beside the model; tests and examples do not count.
    """

    id = "model-metadata-record"
    practice = "model-documentation"
    examples = (
        Example({
            "app/ml/training.py": "import json\nimport joblib\n\n\ndef train(model, X, y, path, meta_path):\n"
                                  "    model.fit(X, y)\n    metrics = {'roc_auc': 0.9}\n"
                                  "    metadata = {'name': 'churn', 'version': '1', 'features': list(X.columns),"
                                  " 'metrics': metrics}\n    joblib.dump(model, path)\n"
                                  "    meta_path.write_text(json.dumps(metadata, indent=2))\n",
        }, "partial", "training writes the model's name, features and metrics as JSON beside it", fires=True),
        Example({
            "train.py": "import joblib\n\n\ndef train(model, X, y):\n    model.fit(X, y)\n"
                        "    joblib.dump({'model': model, 'features': list(X.columns), 'metrics': {'auc': 0.8}},"
                        " 'model.pkl')\n",
        }, "partial", "the model is saved in a bundle with its features and metrics", fires=True),
        Example({
            "service.py": "def train(model, X, y):\n    model.fit(X, y)\n"
                          "    metadata = {'model_type': 'RandomForest', 'features': list(X.columns),"
                          " 'performance': {'acc': 0.9}}\n    return {'success': True, 'metadata': metadata}\n",
        }, "absent", "a record only returned to the caller is not written beside the model", fires=False),
        Example({
            "train.py": "import torch\n\n\ndef save(model, opt, epoch, acc):\n"
                        "    ckpt = {'model': model.state_dict(), 'optimizer': opt.state_dict(), 'epoch': epoch,"
                        " 'best_acc': acc}\n    torch.save(ckpt, 'ckpt.pt')\n",
        }, "absent", "a checkpoint names no data", fires=False),
        Example({
            "train/bundle.py": "import json\n\n\ndef write(run_dir, model_type, target):\n"
                               "    cfg = {'target_col': target, 'primary_metric': 'roc_auc', 'cv_splits': 5,"
                               " 'model_type': model_type}\n    json.dump(cfg, open(run_dir / 'cfg.json', 'w'))\n",
        }, "absent", "a run configuration names the metric to optimise and the folds, not the scores", fires=False),
        Example({
            "tests/test_train.py": "import json\n\n\ndef test_meta(tmp_path):\n"
                                   "    meta = {'model': 'x', 'features': ['a'], 'metrics': {}}\n"
                                   "    json.dump(meta, open(tmp_path / 'm.json', 'w'))\n",
        }, "absent", "a test's record documents no model", fires=False),
    )

    def check(self, facts):
        for idx in facts.non_test_code():
            if in_example_dir(idx.path) or not idx.dict_records:
                continue
            writes = {}   # scope -> identifiers passed to a writing call
            for c in idx.calls:
                if writes_record(c.attr):
                    writes.setdefault(c.scope, set()).update(c.arg_names)
            for line, scope, name, keys in idx.dict_records:
                if not _topics(keys):
                    continue
                if name.startswith("call:"):
                    written = writes_record(name[5:])
                else:
                    written = name in writes.get(scope, ())
                if written:
                    shown = ", ".join(keys[:6]) + (", ..." if len(keys) > 6 else "")
                    yield self.found("partial", idx.path, line,
                                     f"writes a metadata record of the model ({shown}): what model, on which "
                                     "data, with which metrics; not a model card")
                    return
