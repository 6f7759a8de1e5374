from __future__ import annotations

from mlscan.rulekit import Example, Rule
from mlscan.rules._serving import has_serving, node_path, serving_reach
from mlscan.rules._tests import exercised, test_functions, test_suite

# fewer test functions than this in the files that import ML code make a smoke test, not a test suite:
# labels call one or two such tests partial (13 of 32 over-rated, set-wide), and a suite of three or more yes.
# Only test functions that check something count (Definition.checks: an assert, a comparison, a raise or a
# predicate): a test that only calls the code is a smoke run, however many there are (round 14: labels call
# suites of call-only tests partial in sets 10, 11 and 13)
MIN_ML_TESTS = 3


class TestsExerciseMLCode(Rule):
    """Tests import and exercise the repo's ML code

    Follows each test file's imports (tests/, test_*.py, *_test.py, conftest.py; notebooks never
    count) to the repo modules they load. A module is ML code when it uses an ML library (torch,
    tensorflow, scikit-learn, xgboost, transformers...) or handles data inside the training code;
    a test of it supports the practice when the files that import it hold three or more test
    functions that check something (assert, compare, raise); one or two, or any number of tests
    that only call the code without checking its result (smoke runs), are partial. Tests that reach only data-handling code outside the
    training (numpy/pandas helpers, monitoring statistics) are partial. Tests of code that touches
    no data at all - CLI tooling, templating, string helpers - say nothing.
    """

    id = "tests-ml-code"
    practice = "ml-tests"
    examples = (
        Example({
            "src/model.py": "import torch\n\nclass Net(torch.nn.Module):\n    def __init__(self):\n"
                            "        super().__init__()\n        self.fc = torch.nn.Linear(4, 2)\n\n"
                            "    def forward(self, x):\n        return self.fc(x)\n",
            "tests/test_model.py": "import torch\nfrom src.model import Net\n\n"
                                   "def test_output_shape():\n    assert Net()(torch.zeros(3, 4)).shape == (3, 2)\n\n"
                                   "def test_no_nan():\n    assert not Net()(torch.zeros(3, 4)).isnan().any()\n\n"
                                   "def test_grad_flows():\n    net = Net()\n    net(torch.ones(1, 4)).sum().backward()\n"
                                   "    assert net.fc.weight.grad is not None\n",
        }, "present", "shape, value and gradient tests of the model", fires=True),
        Example({
            "src/model.py": "import torch\n\nclass Net(torch.nn.Module):\n    def __init__(self):\n"
                            "        super().__init__()\n        self.fc = torch.nn.Linear(4, 2)\n\n"
                            "    def forward(self, x):\n        return self.fc(x)\n",
            "tests/test_model.py": "import torch\nfrom src.model import Net\n\n"
                                   "def test_forward():\n    Net()(torch.zeros(3, 4))\n\n"
                                   "def test_batch():\n    Net()(torch.zeros(8, 4))\n\n"
                                   "def test_backward():\n    Net()(torch.ones(1, 4)).sum().backward()\n",
        }, "partial", "three tests that run the model but check nothing are smoke runs", fires=True),
        Example({
            "src/model.py": "import torch\n\nclass Net(torch.nn.Module):\n    def __init__(self):\n"
                            "        super().__init__()\n        self.fc = torch.nn.Linear(4, 2)\n\n"
                            "    def forward(self, x):\n        return self.fc(x)\n",
            "tests/test_model.py": "import torch\nfrom src.model import Net\n\n"
                                   "def test_runs():\n    Net()(torch.zeros(3, 4))\n",
        }, "partial", "a single smoke test of the model is not a test suite", fires=True),
        Example({
            "src/cli.py": "import sys\n\ndef parse(argv):\n    return dict(a.split('=') for a in argv)\n",
            "src/train.py": "from sklearn.svm import SVC\nSVC().fit([[0], [1]], [0, 1])\n",
            "tests/test_cli.py": "from src.cli import parse\n\ndef test_parse():\n    assert parse(['a=1']) == {'a': '1'}\n",
        }, "absent", "only the command-line helper is tested", fires=False),
        Example({
            "monitoring/stats.py": "import pandas as pd\n\ndef summary(df):\n    return df.describe()\n",
            "train.py": "from sklearn.svm import SVC\nSVC().fit([[0], [1]], [0, 1])\n",
            "tests/test_stats.py": "import pandas as pd\nfrom monitoring.stats import summary\n\n"
                                   "def test_summary():\n    assert 'mean' in summary(pd.DataFrame({'a': [1]})).index\n",
        }, "partial", "tests cover a data helper, not the model or training", fires=True),
        Example({
            "src/train.py": "import joblib\nfrom sklearn.linear_model import LogisticRegression\n\n\ndef main():\n"
                            "    joblib.dump(LogisticRegression().fit([[0], [1]], [0, 1]), 'model.joblib')\n\n\n"
                            "if __name__ == '__main__':\n    main()\n",
            "api/app.py": "import joblib\nfrom fastapi import FastAPI\n\napp = FastAPI()\n\n\n@app.post('/predict')\n"
                          "def predict(rows: list):\n    return {'y': joblib.load('model.joblib').predict(rows).tolist()}\n",
            "tests/test_api.py": "from fastapi.testclient import TestClient\nfrom api.app import app\n\n\ndef test_predict_shape():\n"
                                 "    r = TestClient(app).post('/predict', json=[[0.5]])\n    assert r.status_code == 200\n",
        }, "partial", "API contract tests only: nothing tests the model, data or training", fires=True),
        Example({
            "src/train.py": "import joblib\nfrom sklearn.linear_model import LogisticRegression\n\n\ndef main():\n"
                            "    joblib.dump(LogisticRegression().fit([[0], [1]], [0, 1]), 'model.joblib')\n\n\n"
                            "if __name__ == '__main__':\n    main()\n",
            "service.py": "import bentoml\n\n\n@bentoml.service\nclass Model:\n    @bentoml.api\n"
                          "    def predict(self, rows: list) -> list:\n        return MODEL.predict(rows).tolist()\n",
            "tests/test_api.py": "import requests\n\n\ndef test_predict_endpoint():\n"
                                 "    r = requests.post('http://localhost:3000/predict', json={'rows': [[0.5]]})\n"
                                 "    assert r.status_code == 200\n",
        }, "partial", "smoke tests of the running service over HTTP only", fires=True),
        Example({
            "src/train.py": "import joblib\nfrom sklearn.linear_model import LogisticRegression\n\n\ndef main():\n"
                            "    joblib.dump(LogisticRegression().fit([[0], [1]], [0, 1]), 'model.joblib')\n\n\n"
                            "if __name__ == '__main__':\n    main()\n",
            "tests/test_download.py": "import requests\n\n\ndef test_mirror_is_up():\n"
                                      "    assert requests.get('https://example.org/data.csv').status_code == 200\n",
        }, "absent", "an HTTP test without serving code tests no API of the project", fires=False),
        Example({
            "train.py": "from sklearn.svm import SVC\nSVC().fit([[0], [1]], [0, 1])\n",
            "analysis.ipynb": '{"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": '
                              '["def test_fit():\\n", "    assert True\\n"]}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
        }, "absent", "no test files (notebook cells are not tests)", fires=False),
    )

    def check(self, facts):
        got = exercised(facts)
        per_file = {}
        for path, line, target, name in got["ml"]:
            per_file.setdefault(path, (line, target, name))
        serving_only = _serving_only(facts)
        if per_file and all(t in serving_only for _, t, _ in per_file.values()):
            for path, (line, target, name) in sorted(per_file.items())[:4]:
                yield self.found("partial", path, line, f"tests exercise only the serving code: {name} ({target}), "
                                                        "not the model, data or training")
            return
        suite = [idx for idx in test_suite(facts) if idx.path in per_file]
        n_tests = sum(len(test_functions(idx)) for idx in suite)
        n_checking = sum(1 for idx in suite for q in test_functions(idx) if idx.defs[q].checks)
        if per_file and n_checking < MIN_ML_TESTS:   # a smoke test or smoke runs, not a suite
            path, (line, target, name) = sorted(per_file.items())[0]
            if n_tests < MIN_ML_TESTS:
                why = (f"only {n_tests} test function(s) exercise ML code ({name} ({target})): "
                       "a smoke test, not a suite of model, data or training tests")
            else:
                why = (f"{n_tests} test functions exercise ML code ({name} ({target})) but only {n_checking} check "
                       "a result (assert, comparison, raise): the others only call the code, a smoke run, not a test suite")
            yield self.found("partial", path, line, why)
            return
        for path, (line, target, name) in sorted(per_file.items())[:8]:
            yield self.found("supports", path, line, f"tests exercise ML code: {name} ({target})")
        if per_file:
            return
        data = {}
        for path, line, target, name in got["data"]:
            data.setdefault(path, (line, target, name))
        for path, (line, target, name) in sorted(data.items())[:4]:
            yield self.found("partial", path, line, f"tests exercise data-handling code only: {name} ({target}), "
                                                    "not the model or training")
        if data or not has_serving(facts):
            return
        api = _api_tests(facts)
        if api:
            yield self.found("partial", api[0], api[1], f"tests only call the serving API over HTTP ({api[2]}): "
                                                        "status and response shape, not the model, data or training")


# HTTP clients a test drives the serving API with: framework test clients, or requests to the running service
HTTP_TEST_CLIENTS = ("fastapi.testclient.TestClient", "starlette.testclient.TestClient", "httpx.AsyncClient",
                     "httpx.Client", "flask.testing.FlaskClient")
HTTP_CALLS = ("requests.", "httpx.", "aiohttp.")
HTTP_VERBS = {"get", "post", "put", "patch", "request"}


def _api_tests(facts):
    """(path, line, call) of a test that drives the serving API over HTTP: a framework test client
    (`TestClient(app)`, `app.test_client()`) or a request to the running service (`requests.post(url)`)."""
    from mlscan.rules._tests import test_suite
    for idx in test_suite(facts):
        for call in idx.calls:
            if call.name.startswith(HTTP_TEST_CLIENTS) or call.attr == "test_client" or (
                    call.attr in HTTP_VERBS and call.name.startswith(HTTP_CALLS)):
                return idx.path, call.line, call.name
    return None


def _serving_only(facts) -> set:
    """Files only serving reaches (the API app, its model wrapper), none of which training reaches."""
    if not has_serving(facts):
        return set()
    training = {node_path(n) for n in facts.graph.training_closure}
    if not training:
        return set()
    # a batch-scoring job is a pipeline stage: its feature code is the model's, so tests of it test ML code
    batch = {ep.handler for ep in facts.graph.serving_endpoints if ep.framework in ("batch-scoring", "scheduled-scoring")}
    reach = {h: nodes for h, nodes in serving_reach(facts).items() if h not in batch}
    files = {ep.path for ep in facts.graph.serving_endpoints if ep.handler not in batch} & set(facts.graph.serving_files)
    serving = {node_path(n) for nodes in reach.values() for n in nodes} | files
    return serving - training
