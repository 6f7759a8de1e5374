from __future__ import annotations

from mlscan.rulekit import Example, Rule
from mlscan.rules._tests import exercised, handles_data, model_checks, test_suite


class TestsCheckModelsAndData(Rule):
    """Tests check a trained model or the data directly

    Model and data tests that need no import of repo code: a test that loads a trained model
    (`pickle.load`, `joblib.load`, `torch.load`, `mlflow...load_model`, `from_pretrained`...) and
    predicts or scores with it (an RMSE threshold, an output shape), or one that validates data
    with Great Expectations, pandera, Deepchecks or Evidently, supports the practice. Test files that
    only use numpy/pandas or ML libraries in passing, with no model or data check, are partial.
    """

    id = "tests-model-checks"
    practice = "ml-tests"
    examples = (
        Example({
            "test/test_model.py": "import pickle\nimport pandas as pd\nfrom sklearn.metrics import mean_squared_error\n\n"
                                  "def test_rmse_below_threshold():\n    model = pickle.load(open('models/model.pkl', 'rb'))\n"
                                  "    df = pd.read_parquet('data/valid.parquet')\n"
                                  "    pred = model.predict(df.drop(columns=['y']))\n"
                                  "    assert mean_squared_error(df['y'], pred) ** 0.5 < 6.5\n",
        }, "present", "a quality threshold on the trained model", fires=True),
        Example({
            "tests/test_io.py": "import numpy as np\nimport json\n\ndef test_roundtrip(tmp_path):\n"
                                "    p = tmp_path / 'a.json'\n    p.write_text(json.dumps([1, 2]))\n"
                                "    assert np.array(json.loads(p.read_text())).sum() == 3\n",
        }, "partial", "a test that only touches numpy", fires=True),
        Example({
            "tests/test_strings.py": "def test_upper():\n    assert 'a'.upper() == 'A'\n",
        }, "absent", "tests with no ML or data at all", fires=False),
    )

    def check(self, facts):
        suite = test_suite(facts)
        checks = [(idx.path, model_checks(facts, idx)) for idx in suite]
        good = [(p, c) for p, c in checks if c]
        for path, (line, what) in good[:6]:
            yield self.found("supports", path, line, f"a test {what}")
        if good or exercised(facts)["ml"] or exercised(facts)["data"]:
            return  # the repo code the tests exercise is judged by tests-ml-code
        for idx in suite:
            lib = handles_data(idx)
            if lib and any(q.rsplit(".", 1)[-1].startswith("test") for q in idx.defs):
                line = next(r.line for r in idx.imports if (r.module or "").split(".")[0] == lib)
                yield self.found("partial", idx.path, line, f"tests use {lib} but check no model and no data set")
                return
