from __future__ import annotations

import re

from mlscan.rulekit import Example, Rule

# test names that check the data itself, not the code: test_check_schema, test_no_missing_values, test_label_distribution
DATA_PROPERTY = re.compile(r"(?i)(^|_)(schema|missing|nulls?|nans?|na|dtypes?|distribution|ranges?|columns?|"
                           r"duplicates?|outliers?|cardinality)(_|$)")
# a test named for the model's behaviour (test_predictability_with_outliers) checks the model, not the data
MODEL_WORDS = re.compile(r"(?i)predict|model|infer|train|fit|serv|api|endpoint")
READS_DATA = ("pandas.read_csv", "pandas.read_parquet", "pandas.read_json", "pandas.read_excel", "polars.read_csv",
              "polars.read_parquet", "numpy.load", "datasets.load_dataset")


class DataChecksAsTests(Rule):
    """Data properties are checked by tests

    Test functions named for a property of the data (`test_check_schema`,
    `test_check_missing_values`, `test_label_distribution`, `test_no_duplicates`) in a test module
    that reads a data file (`pd.read_csv`, `np.load`, `load_dataset`...). These check the data, not
    the code, but only when someone runs the tests, and often on fixture files: partial data
    validation. Tests that exercise code (a data loader's output shape) are ML tests, not this.
    """

    id = "data-checks-as-tests"
    practice = "data-validation"
    examples = (
        Example({
            "data/data_test.py": "import pandas as pd\n\nEXPECTED_COLUMNS = 10\n\n\ndef test_check_schema():\n"
                                 "    df = pd.read_csv('data/diabetes.csv')\n    assert df.shape[1] == EXPECTED_COLUMNS\n\n\n"
                                 "def test_check_missing_values():\n    df = pd.read_csv('data/diabetes.csv')\n"
                                 "    assert df.isnull().sum().sum() == 0\n",
        }, "partial", "schema and missing-value tests over the data file", fires=True),
        Example({
            "tests/test_loader.py": "from src.data import load\n\n\ndef test_loader_returns_batches():\n"
                                    "    assert len(load('x')) > 0\n",
            "src/data.py": "def load(path):\n    return [path]\n",
        }, "absent", "a test of the loading code reads no data file", fires=False),
        Example({
            "tests/test_model.py": "import joblib\nimport pandas as pd\n\n\ndef test_predictability_with_outliers():\n"
                                   "    df = pd.read_csv('data/outliers.csv')\n"
                                   "    assert len(joblib.load('model.pkl').predict(df)) == len(df)\n",
        }, "absent", "a model-behaviour test on outlier inputs is an ML test, not data validation", fires=False),
    )

    def check(self, facts):
        shown = 0
        for idx in facts.test_code():
            if shown >= 2:
                break
            if not any(c.name.startswith(READS_DATA) for c in idx.calls):
                continue
            names = [(q, d) for q, d in idx.defs.items()
                     if d.kind == "function" and q.rsplit(".", 1)[-1].startswith("test") and DATA_PROPERTY.search(q)
                     and not MODEL_WORDS.search(q)]
            if names:
                q, d = names[0]
                more = f" and {len(names) - 1} more" if len(names) > 1 else ""
                shown += 1
                yield self.found("partial", idx.path, d.line,
                                 f"data checks written as tests: {q}(){more} check the data file it reads")
