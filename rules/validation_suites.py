from __future__ import annotations

import re
from pathlib import PurePosixPath

from mlscan.facts.repo import is_test_path
from mlscan.rulekit import Example, Rule
from mlscan.rules._wiring import NOT_WIRED, is_wired
from mlscan.rules._monitoring import test_runner_for

# resolved-name prefix -> tool
LIBRARIES = {
    "great_expectations": "Great Expectations", "pandera": "pandera", "tensorflow_data_validation": "TFDV",
    "tfx.components.ExampleValidator": "TFX ExampleValidator", "tfx.components.SchemaGen": "TFX SchemaGen",
    "tfx.v1.components.ExampleValidator": "TFX ExampleValidator", "tfx.v1.components.SchemaGen": "TFX SchemaGen",
    "soda.scan": "Soda", "whylogs.core.constraints": "whylogs constraints", "pointblank": "pointblank",
    "frictionless.validate": "Frictionless", "frictionless.Resource": "Frictionless", "cuallee": "cuallee",
    "pydeequ.checks": "Deequ", "pydeequ.verification": "Deequ", "dataframe_expectations": "dataframe-expectations",
    "evidently.test_preset": "Evidently test preset",
    "evidently.tests": "Evidently tests",
    # an orchestrator's steps that run the same libraries
    "zenml.integrations.great_expectations.steps.great_expectations_validator_step": "Great Expectations (ZenML step)",
    "zenml.integrations.great_expectations.steps.ge_validator_step": "Great Expectations (ZenML step)",
    "zenml.integrations.deepchecks.steps.deepchecks_data_integrity_check_step": "deepchecks (ZenML step)",
}
# ZenML's Evidently test step takes its tests by name: `EvidentlyTestConfig.test("DataQualityTestPreset")`
ZENML_EVIDENTLY_TESTS = "zenml.integrations.evidently.tests.EvidentlyTestConfig"
DEEPCHECKS_INTEGRITY = {"data_integrity", "train_test_validation", "MixedNulls", "MixedDataTypes", "StringMismatch",
                        "DataDuplicates", "IsSingleValue", "SpecialCharacters", "ConflictingLabels", "PercentOfNulls",
                        "StringLengthOutOfBounds", "OutlierSampleDetection", "FeatureLabelCorrelation",
                        "TrainTestSamplesMix", "NewCategoryTrainTest", "NewLabelTrainTest", "DatasetsSizeComparison",
                        "ColumnsInfo", "FeatureFeatureCorrelation", "IdentifierLabelCorrelation", "ImagePropertyOutliers",
                        "LabelPropertyOutliers", "TextPropertyOutliers", "UnknownTokens", "ConflictingLabels"}


_ROOTS = {p.split(".")[0] for p in LIBRARIES} | {"deepchecks"}


def zenml_evidently_test(call) -> bool:
    """`EvidentlyTestConfig.test("DataQualityTestPreset")`: a named Evidently test or preset, drift tests left out."""
    return call.name.startswith(ZENML_EVIDENTLY_TESTS + ".") and bool(call.args) and isinstance(call.args[0], str) \
        and "Drift" not in call.args[0]


def library_of(name: str):
    """The validation tool a resolved call name belongs to, or None."""
    if name.split(".", 1)[0].split("(", 1)[0] not in _ROOTS:
        return None
    for prefix, tool in LIBRARIES.items():
        if name == prefix or name.startswith(prefix + ".") or name.startswith(prefix + "()"):
            if tool and tool.startswith("Evidently") and "Drift" in name:
                return None            # drift tests belong to drift monitoring
            return tool
    if name.startswith("deepchecks.") and name.rsplit(".", 1)[-1].split("(")[0] in DEEPCHECKS_INTEGRITY:
        return "deepchecks"
    return None


class DataValidationSuite(Rule):
    """Data is validated against expectations with a validation library

    Calls into Great Expectations (and `expect_*` checks in modules that use it), pandera schemas
    and `check_types`, TensorFlow Data Validation, TFX SchemaGen/ExampleValidator, deepchecks
    data-integrity and train-test suites, Evidently tests and test presets (drift tests belong
    to drift monitoring; a `TestSuite` counts by the tests it holds), Soda scans, whylogs
    constraints, Deequ and Frictionless, the same run as ZenML steps (Great Expectations validator,
    deepchecks data integrity, Evidently test steps given data-quality tests by name), plus Great
    Expectations projects
    (`great_expectations.yml`, expectation suites under `gx/` or `great_expectations/`) and Soda
    check files. Names are resolved through imports. Checks in pipeline code that an entry
    point, pipeline stage, CI job or schedule reaches support the practice (checks nothing calls
    are partial: "defined but never called"); in test code they support it when a CI step, Makefile or script runs those tests,
    and are partial otherwise; in notebooks they are partial (run by hand, not on every load).
    """

    id = "data-validation-suite"
    practice = "data-validation"
    examples = (
        Example({
            "src/validate.py": "import pandera as pa\nimport pandas as pd\n\n"
                               "schema = pa.DataFrameSchema({'age': pa.Column(int, pa.Check.ge(0))})\n\n"
                               "def load(path):\n    return schema.validate(pd.read_csv(path))\n",
            "src/train.py": "from src.validate import load\n\nif __name__ == '__main__':\n    df = load('data/train.csv')\n",
        }, "present", "pandera schema in the loading code the training script runs", fires=True),
        Example({
            "src/checks.py": "import great_expectations as gx\n\n"
                             "def check(df):\n    ds = gx.from_pandas(df)\n    return ds.expect_column_values_to_not_be_null('id')\n",
            "src/train.py": "import pandas as pd\n\nif __name__ == '__main__':\n    df = pd.read_csv('data/train.csv')\n",
        }, "partial", "a validation function nothing calls: defined but never called", fires=True),
        Example({
            "tests/data/conftest.py": "import great_expectations as ge\nimport pandas as pd\nimport pytest\n\n"
                                      "@pytest.fixture\ndef df():\n    return ge.dataset.PandasDataset(pd.read_csv('data.csv'))\n",
            "tests/data/test_dataset.py": "def test_tags(df):\n    df.expect_column_values_to_be_in_set('tag', ['a', 'b'])\n"
                                          "    df.expect_column_values_to_not_be_null('text')\n",
            ".github/workflows/data.yml": "on: push\njobs:\n  data:\n    runs-on: ubuntu-latest\n    steps:\n"
                                          "      - uses: actions/checkout@v4\n      - run: pytest tests/data\n",
        }, "present", "Great Expectations tests that CI runs", fires=True),
        Example({
            "tests/test_data.py": "import pandera as pa\n\ndef test_schema():\n"
                                  "    pa.DataFrameSchema({'x': pa.Column(float)}).validate(make())\n",
        }, "partial", "a schema test nothing runs automatically", fires=True),
        Example({
            "monitor.py": "from evidently.report import Report\nfrom evidently.metrics import DatasetMissingValuesMetric\n\n"
                          "report = Report(metrics=[DatasetMissingValuesMetric()])\n",
        }, "absent", "a missing-values metric in a report is not a validation step", fires=False),
        Example({
            "steps/data_validator.py": "from zenml.integrations.evidently.steps import evidently_test_step\n"
                                       "from zenml.integrations.evidently.tests import EvidentlyTestConfig\n\n"
                                       "data_test = evidently_test_step.with_options(parameters=dict(\n"
                                       "    tests=[EvidentlyTestConfig.test('DataQualityTestPreset')]))\n",
            "pipelines/training.py": "from zenml import pipeline\nfrom steps.data_validator import data_test\n\n\n"
                                     "@pipeline\ndef training(train, test):\n    data_test(reference_dataset=train, "
                                     "comparison_dataset=test)\n",
            "run.py": "from pipelines.training import training\n\nif __name__ == '__main__':\n    training()\n",
        }, "present", "a ZenML Evidently test step with a data-quality preset in the training pipeline", fires=True),
        Example({
            "steps/drift.py": "from zenml.integrations.evidently.steps import evidently_test_step\n"
                              "from zenml.integrations.evidently.tests import EvidentlyTestConfig\n\n"
                              "drift_test = evidently_test_step.with_options(parameters=dict(\n"
                              "    tests=[EvidentlyTestConfig.test('DataDriftTestPreset')]))\n",
        }, "absent", "a drift test step is drift monitoring, not validation", fires=False),
    )

    def check(self, facts):
        uses_ge = any(idx.imports_module("great_expectations") for idx in facts.code.values())
        for idx in [facts.code[p] for p in sorted(facts.code)]:
            first = None
            tools = []
            scope = "<module>"
            for call in facts.library_calls(idx, facts.call_table.named(
                    _validation_call, attrs=_expectation, roots=_ROOTS).get(idx.path, ())):
                tool = library_of(call.name)
                if tool is None and zenml_evidently_test(call):
                    tool = f"Evidently {call.args[0]} (ZenML test step)"
                if tool is None and uses_ge and call.attr.startswith("expect_") and len(call.attr) > 12:
                    tool = "Great Expectations"
                if tool:
                    if first is None:
                        first, scope = call.line, call.scope
                    if tool not in tools:
                        tools.append(tool)
            if not tools:
                for d in idx.defs.values():
                    if any(b.startswith(("pandera.", "pandera.typing")) for b in d.bases) or \
                            any(x.startswith("pandera.") for x in d.decorators):
                        tools, first, scope = ["pandera"], d.line, d.qualname
                        break
            if not tools:
                continue
            what = " and ".join(tools)
            if is_test_path(idx.path):
                runner = test_runner_for(facts, idx.path)
                if runner:
                    yield self.found("supports", idx.path, first, f"{what} checks in tests that {runner[0]} runs")
                else:
                    yield self.found("partial", idx.path, first, f"{what} checks in tests that no CI step or script runs")
            elif idx.is_notebook:
                cell = idx.cell_of(first)
                yield self.found("partial", idx.path, first, f"{what} checks in a notebook (cell {cell}), run by hand")
            elif not is_wired(facts, idx.path, scope):
                where = "this module" if scope in ("<module>", "<main>") else f"{scope}()"
                yield self.found("partial", idx.path, first, f"{what} validates data, but {where} is {NOT_WIRED}")
            else:
                yield self.found("supports", idx.path, first, f"{what} validates data")
        for f in facts.files:
            name = f.name
            parts = PurePosixPath(f.path).parts
            if name == "great_expectations.yml" or (name.endswith(".json") and len(parts) > 1 and
                                                    parts[-2] == "expectations" and any(p in ("great_expectations", "gx") for p in parts)):
                yield self.found("supports", f.path, 1, "Great Expectations project configuration" if name.endswith(".yml")
                                 else "Great Expectations expectation suite")
            elif f.suffix in (".yml", ".yaml") and "soda" in f.path.lower():
                text = facts.text(f.path) or ""
                if re.search(r"^checks for \S+:", text, re.M):
                    yield self.found("supports", f.path, facts.line_of(f.path, "checks for"), "Soda data quality checks")


def _expectation(attr: str) -> bool:
    return attr.startswith("expect_") and len(attr) > 12


def _validation_call(name: str) -> bool:
    """The names check() can take for a validation tool (Great Expectations' `expect_*` only where it is used)."""
    attr = name.rpartition(".")[2]
    return library_of(name) is not None or name.startswith(ZENML_EVIDENTLY_TESTS + ".") or \
        attr.startswith("expect_") and len(attr) > 12
