from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Dict, List, Set

from mlscan.facts.graph import is_training_call
from mlscan.rulekit import Example, Rule
from mlscan.rules._mlcode import in_example_dir
from mlscan.rules._vocab import FRAMEWORK_TRAINING_RUNNERS, definition_roles, roles_of

# scripts of the other lifecycle stages, by file name: data preparation, evaluation, registration,
# serving, batch scoring, monitoring
# (of them, the stages that belong to the model's pipeline, not to using the model)
_PIPELINE_WORDS = (r"prepare|preprocess|process|featur|ingest|etl|split|clean|download|fetch|evaluat|eval\b|"
                   r"valid|register|registry|promot|monitor|drift")
STAGE_SCRIPT = re.compile(rf"(?i)({_PIPELINE_WORDS}|deploy|export|serv|app\b|api\b|predict|infer|score|scoring|batch)")
PIPELINE_STAGE = re.compile(rf"(?i)({_PIPELINE_WORDS})")
# a script that prepares the training data as its own stage (make_dataset.py, build_features.py, create_folds.py)
DATA_STAGE = re.compile(r"(?i)^(?!.*(model|monitor|deploy|serv|referen|predict|infer|stat|report|plot|visual))"
                        r"(.*[_-])?(prepar|preprocess|process|featur|ingest|etl|split|clean|download|fetch|"
                        r"make_data|dataset|fold)")
# a training function longer than this is the whole script in one function (one long main())
MAX_TRAINING_FUNCTION = 100
_NOT_TRAINING_SCRIPT = re.compile(r"(?i)(bench|export|demo|profil|convert|example|sample|infer|predict|serv|app\b|"
                                  r"visuali[sz]|plot|debug|scratch|test)")
# an optimizer's constructor (not a scheduler's)
OPTIMIZER = re.compile(r"^(torch\.optim\.(?!lr_scheduler)[A-Z]\w*|(tensorflow\.)?(tf_)?keras\.optimizers\.[A-Z]\w*|"
                       r"optax\.[a-z]\w*)(\(\))?$")
# a TF1 session run: the script's own loop runs the graph's train op (`sess.run([model.opt_op, model.loss])`)
SESSION_RUN = re.compile(r"^(tensorflow\.|tf\.)(compat\.v1\.)?(Interactive|Monitored\w*)?Session\(\)\.run$")
# steps of a training loop written in the script (a whole fit is `.fit()`, `trainer.train()`)
LOOP_STEPS = {"backward", "step", "zero_grad", "apply_gradients", "train_on_batch", "partial_fit"}
# a thin wiring script imports at least this many of the project's modules (data and model among them)
MIN_WIRED = 3
# copy-pasted training: this many top-level definitions repeated across the training scripts
MIN_COPIED = 6
MIN_COPIES = 3
# definitions every script has whatever its design: argument parsing, entry functions
_SCRIPT_BOILERPLATE = {"main", "parse_args", "get_args", "parse_arguments", "parse_opt", "parse_option", "get_parser",
                       "cli", "run", "setup", "seed_everything", "set_seed", "seed_torch", "str2bool"}


def module_roles(facts, path: str) -> Set[str]:
    """Roles a module plays, from its path and the names it defines (cached per scan)."""
    def compute() -> Set[str]:
        roles = roles_of(path)
        for q in facts.code[path].defs:
            roles |= roles_of(q)
        return roles
    return facts.memo(f"module-roles:{path}", compute)


def _repo_callee(graph, path: str, call) -> bool:
    """The training call goes to a class or function defined in another file of the project, and is a
    whole fit (`.fit()`, `.train()`), not a step of a loop written here (`loss.backward()`)."""
    if call.attr in ("backward", "step", "zero_grad"):
        return False
    head = call.name.rsplit(".", 1)[0].replace("()", "") if "." in call.name else ""
    node = graph.resolve_name(path, head) if head else None
    if not (node and node.startswith("def:") and node.split(":")[1] != path):
        return False
    # the project's own estimator class; a function that builds a library model leaves the fit to the script
    _, p, qual = node.split(":", 2)
    d = graph.code[p].defs.get(qual) if p in graph.code else None
    return d is not None and d.kind == "class"


class TrainingCodeIsModular(Rule):
    """Training code is split into reusable units

    Follows each training entry point's imports and calls: when the data loading, model definition,
    training loop and configuration live in separate modules or functions the entry point imports,
    the code is modular, and so is a training module whose own functions train on a unit it imports
    (a data loader beside `build_model`/`train_model`). A training script that imports one separate
    unit (say, the model) but keeps
    the rest as top-level script code is partial, and so is a script that defines its own data, model
    or optimizer units (by name or by library base class, `class Net(nn.Module)`) around a top-level
    loop (an optimizer built as module-level code counts: the loop's functions then close over script
    globals, and so does a TF1 session run at module level over a `minimize` op built elsewhere), or a monolithic training script or notebook beside separate scripts for the other stages
    (data preparation, evaluation, registration, serving, monitoring). One monolithic script or
    notebook alone is absent. A declared pipeline (dvc.yaml, MLproject, Airflow, Kedro, Metaflow)
    whose stages run three or more separate scripts counts as modular, and so do two stages whose
    training stage trains inside functions, and so does a script that hands the project's own data and model
    modules to a training framework's runner (`LightningCLI(Model, DataModule)`, BasicSR's
    `train_pipeline`), and so does a thin top-level script that imports three or more of the
    project's modules (data and model among them) and only calls a whole fit on what they build
    (no `loss.backward()` or `opt.step()` of its own; with one or two modules it stays partial), and
    so does a script that makes no training call at all of its own (the loop is a method of a class it
    imports, `policy.train(buffer)`), and so does a training script that trains in short functions of its own beside a separate
    data-preparation stage script (`make_dataset.py`, `prepare_data.py`, `create_folds.py`). Only stages of the model's pipeline (preparation, evaluation, registration,
    monitoring) make a notebook's training partial; serving and batch-scoring scripts use the model.
    Three or more training scripts that each repeat the same definitions (their own `Config`,
    loaders, feature code) are copies, not shared units: one rank lower. A model-building function
    the script imports does not make its top-level fit the project's own training code. Training
    entry points not named for training (an orchestration flow's `pipeline.py`, a Metaflow flow)
    are judged too; benchmark, export, demo and inference scripts are not, and scripts kept in a
    notebooks/ folder are exploration, judged like notebooks.
    """

    id = "modular-training"
    practice = "modular-train-code"
    examples = (
        Example({
            "src/data.py": "import pandas as pd\n\ndef load(path):\n    return pd.read_csv(path)\n",
            "src/model.py": "from sklearn.ensemble import RandomForestClassifier\n\ndef build(cfg):\n"
                            "    return RandomForestClassifier(**cfg)\n",
            "src/train.py": "from src.data import load\nfrom src.model import build\n\ndef train(cfg):\n"
                            "    df = load('d.csv')\n    m = build(cfg)\n    m.fit(df, df.y)\n    return m\n\n"
                            "if __name__ == '__main__':\n    train({})\n",
        }, "present"),
        Example({
            "model.py": "import torch\n\nclass Net(torch.nn.Module):\n    pass\n",
            "train.py": "import torch\nfrom model import Net\nnet = Net()\nopt = torch.optim.SGD(net.parameters(), lr=0.1)\n"
                        "for step in range(10):\n    loss = net(torch.zeros(1)).sum()\n    loss.backward()\n    opt.step()\n",
        }, "partial", "the model is its own module; the loop is top-level script code"),
        Example({
            "train.py": "import pandas as pd\nfrom sklearn.linear_model import ElasticNet\n"
                        "df = pd.read_csv('wine.csv')\nm = ElasticNet(alpha=0.5)\nm.fit(df.drop(columns='q'), df.q)\nprint(m.score(df, df.q))\n",
        }, "absent", "one monolithic script"),
        Example({
            "nb.ipynb": '{"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": '
                        '["import pandas as pd\\n", "from sklearn.svm import SVC\\n", "df = pd.read_csv(\'x.csv\')\\n", '
                        '"SVC().fit(df, df.y)\\n"]}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
        }, "absent", "notebook-only training"),
        Example({
            "main.py": "import torch\n\nclass Net(torch.nn.Module):\n    pass\n\nclass LARS(torch.optim.Optimizer):\n"
                       "    pass\n\ndef make_loader(ds):\n    return torch.utils.data.DataLoader(ds)\n\n"
                       "net = Net()\nopt = LARS(net.parameters(), {})\nfor x in make_loader([]):\n"
                       "    loss = net(x).sum()\n    loss.backward()\n    opt.step()\n",
        }, "partial", "the script defines its model, optimizer and loader classes, but its loop is top-level code"),
        Example({
            "src/train.py": "import pandas as pd\nfrom sklearn.linear_model import LogisticRegression\n\ndef main():\n"
                            "    df = pd.read_csv('d.csv')\n    m = LogisticRegression().fit(df[['a']], df.y)\n\n"
                            "if __name__ == '__main__':\n    main()\n",
            "register_model.py": "import mlflow\n\nif __name__ == '__main__':\n    mlflow.register_model('runs:/1/m', 'm')\n",
            "monitor/monitor.py": "import pandas as pd\n\nif __name__ == '__main__':\n    print(pd.read_csv('log.csv').mean())\n",
        }, "partial", "registration and monitoring are separate scripts; training is one monolithic main()"),
        Example({
            "train.py": "import pandas as pd\nfrom sklearn.linear_model import LogisticRegression\n\ndef main():\n"
                        "    df = pd.read_csv('d.csv')\n    LogisticRegression().fit(df[['a']], df.y)\n\n"
                        "if __name__ == '__main__':\n    main()\n",
            "utils.py": "def plot(x):\n    return x\n",
        }, "absent", "one monolithic script and a helper module"),
        Example({
            "mylib/data.py": "import pandas as pd\n\ndef load_table(path):\n    return pd.read_csv(path)\n",
            "mylib/models.py": "from sklearn.linear_model import LogisticRegression\n\ndef build_model():\n"
                               "    return LogisticRegression()\n",
            "mylib/estimator.py": "from mylib.data import load_table\nfrom mylib.models import build_model\n\n"
                                  "class AutoTrainer:\n    def fit(self, path):\n        df = load_table(path)\n"
                                  "        return build_model().fit(df[['a']], df.y)\n",
            "quickstart.py": "from mylib.estimator import AutoTrainer\nfrom mylib.data import load_table\n"
                                      "from mylib.models import build_model\n\npath = 'd.csv'\nmodel = AutoTrainer().fit(path)\nprint(model)\n",
        }, "present", "an example drives the library's own training class, whose loop lives in its modules"),
        Example({
            "pkg/data_loading.py": "import pandas as pd\n\ndef load_data(path):\n    return pd.read_csv(path)\n",
            "pkg/model_training.py": "from sklearn.ensemble import RandomForestRegressor\nfrom pkg.data_loading import load_data\n\n"
                                     "def build_model(n):\n    return RandomForestRegressor(n_estimators=n)\n\n"
                                     "def train_model(path):\n    df = load_data(path)\n"
                                     "    return build_model(100).fit(df[['a']], df.y)\n\n"
                                     "if __name__ == '__main__':\n    train_model('d.csv')\n",
        }, "present", "training functions of their own, over a separate data-loading module"),
        Example({
            "exp/data_module.py": "import pytorch_lightning as pl\n\n\nclass Digits(pl.LightningDataModule):\n"
                                  "    def train_dataloader(self):\n        return []\n",
            "exp/resnet_small.py": "import pytorch_lightning as pl\n\n\nclass ResSmall(pl.LightningModule):\n"
                                   "    def training_step(self, batch, i):\n        return batch\n",
            "exp/main.py": "from pytorch_lightning.cli import LightningCLI\n\nfrom data_module import Digits\n"
                           "from resnet_small import ResSmall\n\n\ndef cli_main():\n    LightningCLI(ResSmall, Digits)\n\n\n"
                           "if __name__ == '__main__':\n    cli_main()\n",
        }, "present", "a LightningCLI entry point wires a LightningModule and a DataModule from separate modules"),
        Example({
            "src/model.py": "from tensorflow.keras import layers, models\n\n\ndef build_lstm(shape):\n"
                            "    return models.Sequential([layers.LSTM(8, input_shape=shape), layers.Dense(1)])\n",
            "src/windows.py": "import numpy as np\n\n\ndef make_windows(df, n):\n"
                              "    return np.stack([df[i:i + n] for i in range(len(df) - n)])\n",
            "src/train.py": "import pandas as pd\nfrom src.model import build_lstm\nfrom src.windows import make_windows\n\n"
                            "df = pd.read_csv('weather.csv')\nx = make_windows(df.values, 24)\nmodel = build_lstm((24, 2))\n"
                            "model.fit(x, x[:, -1], epochs=10)\nmodel.save('m.h5')\n",
        }, "partial", "a model-building function is imported, but loading, splitting and fitting are top-level code"),
        Example({
            "app/main.py": "from fastapi import FastAPI\nimport joblib\n\napp = FastAPI()\nmodel = joblib.load('m.pkl')\n\n\n"
                           "@app.post('/predict')\ndef predict(x: list):\n    return model.predict([x]).tolist()\n",
            "app/batch_predict.py": "import joblib\nimport pandas as pd\n\nif __name__ == '__main__':\n"
                                    "    print(joblib.load('m.pkl').predict(pd.read_csv('new.csv')))\n",
            "notebooks/train.ipynb": '{"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": '
                                     '["import pandas as pd\\n", "from sklearn.svm import SVC\\n", "df = pd.read_csv(\'x.csv\')\\n", '
                                     '"SVC().fit(df, df.y)\\n"]}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
        }, "absent", "serving and batch-scoring scripts beside notebook-only training: no pipeline stage is separate"),
        Example({
            **{f"scripts/train_{m}.py": "import pandas as pd\nfrom sklearn.ensemble import RandomForestRegressor\n\n\n"
                                        "class Config:\n    folds = 5\n\n\ndef load_data(p):\n    return pd.read_csv(p)\n\n\n"
                                        "def feature_engineering(df):\n    return df.fillna(0)\n\n\n"
                                        "def create_folds(df):\n    return df\n\n\ndef cv_models(df):\n    return []\n\n\n"
                                        "def evaluate_predictions(y, p):\n    return 0\n\n\n"
                                        "def threshold_rounder(p):\n    return p\n\n\n"
                                        "df = feature_engineering(load_data('train.csv'))\n"
                                        "RandomForestRegressor().fit(df.drop(columns='y'), df.y)\n"
               for m in ("lgb", "xgb", "cat")},
        }, "absent", "three copies of one training script, each with its own loaders and features"),
        Example({
            **{f"{m}.py": "import torch\n\n\nclass ReplayBuffer:\n    def sample(self, n):\n        return []\n\n\n"
                          "class QNet(torch.nn.Module):\n    pass\n\n\nclass Agent:\n    pass\n\n\n"
                          "def soft_update(a, b):\n    return a\n\n\ndef compute_target(q, r):\n    return r\n\n\n"
                          "def test(env, q):\n    return 0\n\n\n"
                          "def train(q, memory, optimizer):\n    loss = q(memory.sample(32)).sum()\n"
                          "    optimizer.zero_grad()\n    loss.backward()\n    optimizer.step()\n\n\n"
                          "def main():\n    q = QNet()\n    optimizer = torch.optim.Adam(q.parameters())\n"
                          "    train(q, ReplayBuffer(), optimizer)\n\n\nif __name__ == '__main__':\n    main()\n"
               for m in ("dqn", "ddqn", "sac")},
        }, "partial", "three copies of one script, each training in short functions of its own: split within "
                      "each file, not shared"),
        Example({
            "utils/io.py": "import numpy as np\n\n\ndef read_dataset(name):\n    return np.load(name)\n",
            "classifiers/fcn.py": "from tensorflow import keras\n\n\nclass Classifier_FCN:\n"
                                  "    def build_model(self):\n        return keras.Sequential([keras.layers.Dense(2)])\n",
            "main.py": "import sys\nfrom utils.io import read_dataset\nfrom classifiers.fcn import Classifier_FCN\n\n\n"
                       "def fit_classifier():\n    x, y = datasets[name]\n    Classifier_FCN().build_model().fit(x, y)\n\n\n"
                       "name = sys.argv[2]\nif sys.argv[1] == 'run_all':\n    datasets = {name: read_dataset(name)}\n"
                       "    fit_classifier()\n",
        }, "partial", "a training function called under a module-level `if sys.argv[1] == ...` reads the script's "
                      "globals: import-time script code"),
        Example({
            "utils/io.py": "import numpy as np\n\n\ndef read_dataset(name):\n    return np.load(name)\n",
            "classifiers/fcn.py": "from tensorflow import keras\n\n\nclass Classifier_FCN:\n"
                                  "    def build_model(self):\n        return keras.Sequential([keras.layers.Dense(2)])\n",
            "main.py": "import sys\nfrom utils.io import read_dataset\nfrom classifiers.fcn import Classifier_FCN\n\n\n"
                       "def fit_classifier(name):\n    x, y = read_dataset(name)\n    Classifier_FCN().build_model().fit(x, y)\n\n\n"
                       "if __name__ == '__main__':\n    fit_classifier(sys.argv[1])\n",
        }, "present", "the same units, run from a main guard: the training function takes what it trains on"),
        Example({
            "src/model/lstm.py": "from tensorflow import keras\n\n\ndef get_model(n):\n"
                                 "    return keras.Sequential([keras.layers.LSTM(n), keras.layers.Dense(1)])\n",
            "src/flow.py": "from metaflow import FlowSpec, step\n\n\nclass TrainFlow(FlowSpec):\n    @step\n"
                           "    def start(self):\n        self.next(self.get_dataset)\n\n    @step\n"
                           "    def get_dataset(self):\n        import pandas as pd\n        self.df = pd.read_csv('s.csv')\n"
                           "        self.next(self.train_model)\n\n    @step\n    def train_model(self):\n"
                           "        from model.lstm import get_model\n        self.m = get_model(8)\n"
                           "        self.m.fit(self.df, self.df.y)\n        self.next(self.end)\n\n    @step\n"
                           "    def end(self):\n        print('done')\n\n\nif __name__ == '__main__':\n    TrainFlow()\n",
        }, "present", "a Metaflow flow whose steps load, train and finish separately"),
        Example({
            "dvc.yaml": "stages:\n  prepare:\n    cmd: python data/prepare.py\n  train:\n    cmd: python model/train.py\n",
            "data/prepare.py": "import pandas as pd\n\n\ndef split(path):\n    df = pd.read_csv(path)\n"
                               "    df.sample(frac=0.8).to_csv('train.csv')\n\n\nif __name__ == '__main__':\n    split('raw.csv')\n",
            "model/train.py": "import pandas as pd\nfrom sklearn.ensemble import RandomForestClassifier\n\n\n"
                              "def load(path):\n    df = pd.read_csv(path)\n    return df.drop(columns='y'), df.y\n\n\n"
                              "def train_model():\n    x, y = load('train.csv')\n    return RandomForestClassifier().fit(x, y)\n\n\n"
                              "if __name__ == '__main__':\n    train_model()\n",
        }, "present", "a two-stage DVC pipeline whose training stage trains in functions"),
        Example({
            "gcn/layers.py": "import torch\n\n\nclass GraphConv(torch.nn.Module):\n    pass\n",
            "gcn/models.py": "import torch\nfrom gcn.layers import GraphConv\n\n\nclass GCN(torch.nn.Module):\n"
                             "    def __init__(self):\n        super().__init__()\n        self.gc = GraphConv()\n",
            "gcn/utils.py": "import numpy as np\n\n\ndef load_data(path):\n    return np.load(path)\n",
            "gcn/train.py": "import torch\nfrom gcn.models import GCN\nfrom gcn.utils import load_data\n\n"
                            "data = load_data('cora.npy')\nmodel = GCN()\noptimizer = torch.optim.Adam(model.parameters(), lr=0.01)\n\n\n"
                            "def train(epoch):\n    optimizer.zero_grad()\n    loss = model(data).sum()\n    loss.backward()\n"
                            "    optimizer.step()\n\n\nfor epoch in range(200):\n    train(epoch)\n",
        }, "partial", "separate layer, model and data modules, but the model and optimizer are module globals the loop closes over"),
        Example({
            "gcn/layers.py": "import torch\n\n\nclass GraphConv(torch.nn.Module):\n    pass\n",
            "gcn/models.py": "import torch\nfrom gcn.layers import GraphConv\n\n\nclass GCN(torch.nn.Module):\n"
                             "    def __init__(self):\n        super().__init__()\n        self.gc = GraphConv()\n",
            "gcn/utils.py": "import numpy as np\n\n\ndef load_data(path):\n    return np.load(path)\n",
            "gcn/train.py": "import torch\nfrom gcn.models import GCN\nfrom gcn.utils import load_data\n\n\n"
                            "def train(epochs):\n    data = load_data('cora.npy')\n    model = GCN()\n"
                            "    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)\n    for _ in range(epochs):\n"
                            "        optimizer.zero_grad()\n        model(data).sum().backward()\n        optimizer.step()\n\n\n"
                            "if __name__ == '__main__':\n    train(200)\n",
        }, "present", "the same modules, with the model and optimizer built inside the training function"),
        Example({
            "fetch_prices.py": "import pandas as pd\n\nif __name__ == '__main__':\n"
                               "    pd.read_csv('https://example.com/prices.csv').to_csv('prices.csv')\n",
            "predict_prices.py": "import joblib\nimport pandas as pd\n\nif __name__ == '__main__':\n"
                                 "    print(joblib.load('m.pkl').predict(pd.read_csv('prices.csv')))\n",
            "train_prices.py": "import joblib\nimport pandas as pd\nfrom sklearn.linear_model import Ridge\n\n"
                               "df = pd.read_csv('prices.csv')\nmodel = Ridge().fit(df[['a']], df.y)\njoblib.dump(model, 'm.pkl')\n",
        }, "partial", "fetching and prediction are scripts of their own; training is one monolithic script"),
        Example({
            "src/data_loader.py": "import pandas as pd\n\n\ndef load_csv(path, target):\n    df = pd.read_csv(path)\n"
                                  "    return df.drop(columns=target), df[target]\n",
            "src/features.py": "from sklearn.preprocessing import StandardScaler\n\n\ndef build_preprocessor(x):\n"
                               "    return StandardScaler()\n",
            "src/models.py": "from sklearn.linear_model import LogisticRegression\n\n\ndef model_candidates(c):\n"
                             "    return LogisticRegression(C=c)\n",
            "src/train.py": "import joblib\nfrom sklearn.pipeline import Pipeline\nfrom src.data_loader import load_csv\n"
                            "from src.features import build_preprocessor\nfrom src.models import model_candidates\n\n"
                            "x, y = load_csv('d.csv', 'y')\npipe = Pipeline([('pre', build_preprocessor(x)), "
                            "('model', model_candidates(1.0))])\npipe.fit(x, y)\njoblib.dump(pipe, 'm.joblib')\n",
        }, "present", "a thin top-level script wires the project's data, feature and model modules into one fit"),
        Example({
            "src/dataset.py": "import torch\n\n\nclass Pairs(torch.utils.data.Dataset):\n    pass\n",
            "src/model.py": "import torch\n\n\nclass Net(torch.nn.Module):\n    pass\n",
            "src/losses.py": "import torch\n\n\ndef pair_loss(a, b):\n    return (a - b).abs().mean()\n",
            "src/train.py": "import torch\nfrom src.dataset import Pairs\nfrom src.model import Net\nfrom src.losses import pair_loss\n\n"
                            "net = Net()\nfor x, y in torch.utils.data.DataLoader(Pairs()):\n    loss = pair_loss(net(x), y)\n"
                            "    loss.backward()\n",
        }, "partial", "three modules imported, but the loop's steps are written in the script"),
        Example({
            "src/prepare_data.py": "import pandas as pd\n\n\ndef clean(path):\n    return pd.read_csv(path).dropna()\n\n\n"
                                   "if __name__ == '__main__':\n    clean('raw.csv').to_csv('clean.csv')\n",
            "src/train_model.py": "import pandas as pd\nfrom sklearn.ensemble import RandomForestRegressor\n\n\n"
                                  "def load(path):\n    df = pd.read_csv(path)\n    return df.drop(columns='y'), df.y\n\n\n"
                                  "def train(x, y):\n    return RandomForestRegressor().fit(x, y)\n\n\n"
                                  "def main():\n    train(*load('clean.csv'))\n\n\nif __name__ == '__main__':\n    main()\n",
        }, "present", "data preparation is a stage script of its own and training is split into functions"),
        Example({
            "src/prepare_data.py": "import pandas as pd\n\n\ndef clean(path):\n    return pd.read_csv(path).dropna()\n\n\n"
                                   "if __name__ == '__main__':\n    clean('raw.csv').to_csv('clean.csv')\n",
            "src/train_model.py": "import pandas as pd\nfrom sklearn.ensemble import RandomForestRegressor\n\n"
                                  "df = pd.read_csv('clean.csv')\nRandomForestRegressor().fit(df.drop(columns='y'), df.y)\n",
        }, "absent", "a data-preparation script beside a training script that is top-level code"),
        Example({
            "gcn/models.py": "import tensorflow as tf\n\n\nclass GCN:\n    def __init__(self, lr):\n"
                             "        self.loss = tf.reduce_sum(tf.zeros([1]))\n"
                             "        self.opt_op = tf.train.AdamOptimizer(lr).minimize(self.loss)\n",
            "gcn/utils.py": "import numpy as np\n\n\ndef load_data(name):\n    return np.load(name)\n",
            "gcn/train.py": "import tensorflow as tf\nfrom gcn.models import GCN\nfrom gcn.utils import load_data\n\n"
                            "data = load_data('cora.npy')\nmodel = GCN(0.01)\nsess = tf.Session()\n"
                            "for epoch in range(200):\n    sess.run([model.opt_op, model.loss])\n",
        }, "partial", "a TF1 script runs the session's training loop at top level over a model whose "
                      "`minimize` op lives in another module"),
        Example({
            "vit/input_pipeline.py": "import tensorflow_datasets as tfds\n\n\ndef get_data(name):\n"
                                     "    return tfds.load(name)\n",
            "vit/models.py": "import flax.linen as nn\n\n\nclass VisionTransformer(nn.Module):\n    pass\n",
            "vit/train.py": "import jax\nimport optax\nfrom flax.training import train_state\n"
                            "from vit.input_pipeline import get_data\nfrom vit.models import VisionTransformer\n\n\n"
                            "def train_step(state, batch):\n    grads = jax.grad(lambda p: 0.0)(state.params)\n"
                            "    return state.apply_gradients(grads=grads)\n\n\n"
                            "def train_and_evaluate(cfg):\n    ds = get_data(cfg)\n    model = VisionTransformer()\n"
                            "    state = train_state.TrainState.create(apply_fn=model.apply, params={}, tx=optax.sgd(0.1))\n"
                            "    step = jax.jit(train_step)\n    for batch in ds:\n        state = step(state, batch)\n\n\n"
                            "if __name__ == '__main__':\n    train_and_evaluate('cifar10')\n",
        }, "present", "a flax TrainState's `apply_gradients` is the training step; data and model are separate modules"),
        Example({
            "TD3.py": "import torch\n\n\nclass Actor(torch.nn.Module):\n    pass\n\n\nclass TD3:\n"
                      "    def __init__(self):\n        self.actor = Actor()\n"
                      "        self.opt = torch.optim.Adam(self.actor.parameters())\n\n"
                      "    def train(self, buffer):\n        loss = self.actor(buffer.sample()).sum()\n"
                      "        self.opt.zero_grad()\n        loss.backward()\n        self.opt.step()\n",
            "main.py": "import gym\nimport TD3\n\n\nif __name__ == '__main__':\n    env = gym.make('Hopper-v2')\n"
                       "    policy = TD3.TD3()\n    for t in range(1000):\n        env.step(env.action_space.sample())\n"
                       "        policy.train(None)\n",
        }, "present", "the script makes no training call of its own: the loop is the imported agent's `train` method"),
        Example({
            "config/train.yaml": "agent:\n  class: agent.sac.SACAgent\n  params:\n    lr: 0.001\n",
            "agent/sac.py": "import torch\n\n\nclass SACAgent:\n    def __init__(self, lr):\n"
                            "        self.net = torch.nn.Linear(2, 1)\n        self.opt = torch.optim.Adam(self.net.parameters(), lr=lr)\n\n"
                            "    def update(self, batch):\n        loss = self.net(batch).sum()\n        self.opt.zero_grad()\n"
                            "        loss.backward()\n        self.opt.step()\n",
            "replay_buffer.py": "import numpy as np\n\n\nclass ReplayBuffer:\n    def sample(self, n):\n"
                                "        return np.zeros((n, 2))\n",
            "logger.py": "import csv\n\n\nclass Logger:\n    def log(self, k, v):\n        print(k, v)\n",
            "train.py": "import hydra\nfrom replay_buffer import ReplayBuffer\nfrom logger import Logger\n\n\n"
                        "class Workspace:\n    def __init__(self, cfg):\n        self.agent = hydra.utils.instantiate(cfg.agent)\n"
                        "        self.buffer = ReplayBuffer()\n        self.logger = Logger()\n\n    def run(self):\n"
                        "        for step in range(10):\n            self.agent.update(self.buffer.sample(32))\n\n\n"
                        "@hydra.main(config_path='config/train.yaml')\ndef main(cfg):\n    Workspace(cfg).run()\n\n\n"
                        "if __name__ == '__main__':\n    main()\n",
        }, "present", "hydra builds the agent class a YAML config names; its update method trains"),
        Example({
            "pyproject.toml": "[project]\nname = 'pkg'\nversion = '0.1.0'\ndependencies = [\n    'torch',\n    'numpy',\n]\n\n"
                              "[project.scripts]\ntrain-model = 'pkg.train:main'\n",
            "pkg/__init__.py": "",
            "pkg/train.py": "import torch\n\n\ndef main():\n    model = torch.nn.Linear(2, 1)\n"
                            "    torch.optim.SGD(model.parameters(), lr=0.1).step()\n",
        }, "absent", "a console script's training function: the evidence points into pkg/train.py, not at "
                     "pyproject.toml's line", fires=True),
    )

    def check(self, facts):
        graph = facts.graph
        entries = graph.primary_training_entry_points
        # an orchestration flow (pipeline.py, flows/) trains too, though it is not named for training;
        # benchmark, export and demo scripts that call fit/backward are not the project's training
        others = [ep for ep in graph.training_entry_points if ep not in entries and ep.kind != "notebook"
                  and not _NOT_TRAINING_SCRIPT.search(ep.target)]
        best = None  # (rank, finding)
        structured: Set[str] = set()   # training scripts that train inside functions, not top-level code
        short_training: Set[str] = set()   # ... in functions of their own, not in one long main()
        for ep in entries + others:
            path = ep.target[4:].rsplit(":", 1)[0] if ep.target.startswith("def:") else ep.target[4:]
            idx = facts.code.get(path)
            if idx is None:
                continue
            reach = graph.reachable(ep.node)
            other_modules = sorted({n[4:].rsplit(":", 1)[0] for n in reach if n.startswith("def:")} - {path})
            other_modules = [m for m in other_modules if facts.code[m].defs]
            roles: Set[str] = set()
            for m in other_modules:
                roles |= module_roles(facts, m)
            own_defs = [q for q, d in idx.defs.items() if "." not in q]
            own_roles = set().union(*(definition_roles(q, idx.defs[q].bases) for q in own_defs)) if own_defs else set()
            trains = [c for c in idx.calls if is_training_call(c)]
            # acc9: an optimizer built as module-level code makes the training's state script globals, whatever
            # functions the loop is written in (pygcn's `train(epoch)` closes over the module's model and optimizer)
            top_level_training = any(c.scope in ("<module>", "<main>") for c in trains) or \
                any(c.scope == "<module>" and OPTIMIZER.match(c.name) for c in idx.calls)
            # r12: a TF1 script whose module-level code runs the session (the model's `minimize` op built in
            # another module) writes its training loop as top-level code all the same (`tkipf/gcn`, `PetarV-/GAT`)
            session_loop = not trains and any(c.scope in ("<module>", "<main>") and SESSION_RUN.match(c.name)
                                              for c in idx.calls)
            top_level_training = top_level_training or session_loop
            # acc11: a training function the module calls as import-time code (no main guard, say under an
            # `if sys.argv[1] == ...` chain) trains on the script's globals, like a top-level loop
            import_time = not top_level_training and _called_at_import(idx, trains)
            top_level_training = top_level_training or import_time
            if trains and not top_level_training and not idx.is_notebook:
                structured.add(path)
                spans = [idx.defs[c.scope].end_line - idx.defs[c.scope].line for c in trains if c.scope in idx.defs]
                if spans and max(spans) <= MAX_TRAINING_FUNCTION:
                    short_training.add(path)
            # `LazyClassifier().fit(...)` on the project's own class: the loop lives in the project's modules
            delegated = bool(trains) and all(_repo_callee(graph, path, c) for c in trains)
            nb = idx.is_notebook or _beside_notebooks(path)   # scripts kept in notebooks/ are exploration too
            wired = {m: r for m, r in (_imported_units(facts, path) if top_level_training and not nb and not import_time else {}).items()
                     if facts.code[m].defs}
            if len(other_modules) >= 2 and len(roles) >= 2 and not top_level_training and not nb:
                rank, kind = 3, "supports"
                msg = f"{path} composes {len(other_modules)} separate modules ({', '.join(other_modules[:4])})"
            elif len(wired) >= MIN_WIRED and {"data", "model"} <= set().union(*wired.values()) \
                    and not session_loop and _whole_fit_only(idx, trains):
                rank, kind = 3, "supports"
                msg = (f"{path} only wires {len(wired)} of the project's modules ({', '.join(sorted(wired)[:4])}) "
                       f"into one fit; the loop is not written in the script")
            elif other_modules and not top_level_training and not nb and len(own_defs) >= 2 \
                    and {"data", "model", "training"} <= roles | own_roles and roles - own_roles:
                rank, kind = 3, "supports"
                msg = (f"{path} trains in its own functions ({', '.join(own_defs[:4])}) on units it imports from "
                       f"{', '.join(other_modules[:3])}")
            elif len(other_modules) >= 2 and len(roles) >= 2 and delegated:
                rank, kind = 3, "supports"
                msg = (f"{path} drives the project's own training code, split into {len(other_modules)} separate "
                       f"modules ({', '.join(other_modules[:4])})")
            elif other_modules and not trains and not nb and not top_level_training:
                # r12: the script makes no training call of its own: the loop is a method or function of the
                # project's modules it imports (`policy.train(replay_buffer)`, `Prophetable(cfg).run()`)
                rank, kind = 3, "supports"
                msg = (f"{path} trains only through the project's own units it imports "
                       f"({', '.join(other_modules[:4])}); the loop is not written in the script")
            elif other_modules and (len(roles) >= 2 or not nb):
                rank, kind = 2, "partial"
                how = "trains in a notebook" if nb else "calls its training function as import-time script code" \
                    if import_time else "runs the TF session's training loop as top-level script code" \
                    if session_loop else "keeps the training loop as top-level script code" \
                    if top_level_training else "imports few separate units"
                msg = f"{path} imports {', '.join(other_modules[:3])} but {how}"
            elif len(own_defs) >= 3 and len(own_roles) >= 2 and not top_level_training and not nb:
                rank, kind = 2, "partial"
                msg = f"{path} splits training into functions ({', '.join(own_defs[:4])}) within one file"
            elif len(own_defs) >= 3 and len(own_roles) >= 2 and not nb:
                rank, kind = 2, "partial"
                msg = (f"{path} defines its own data/model/training units ({', '.join(own_defs[:4])}) but "
                       + ("calls them as import-time script code" if import_time else
                          "keeps the training loop as top-level script code"))
            else:
                rank, kind = 1, "gap"
                msg = f"{path} is {'a notebook' if nb else 'a monolithic script'} that trains without separate reusable units"
            if best is None or rank > best[0]:
                best = (rank, self.found(kind, path, _target_line(idx, ep) if not nb else 1, msg))
        targets = {e.target for e in entries + others}
        # the data preparation is a stage script of its own and the training trains in functions
        if best is not None and best[0] < 3 and best[1].path in short_training:
            data_stages = self._stage_scripts(facts, targets, DATA_STAGE, stem_only=True)
            if data_stages:
                path = best[1].path
                best = (3, self.found("supports", path, facts.code[path].main_line or best[1].line or 1,
                                      f"the data preparation is a separate stage script "
                                      f"({', '.join(p for p, _ in data_stages[:3])}) and {path} trains in functions"))
        copied = _copied_definitions(facts, entries + others)
        # three or more scripts that each carry the same definitions: copies, one rank lower
        if best is not None and len(copied[1]) >= MIN_COPIED and len(copied[0]) >= MIN_COPIES:
            files, names = copied
            # acc11: copies whose training is short functions of their own (a `train()` and `main()` per
            # script) are still split into units within each file: partial, never a monolith
            floor = 2 if short_training & set(files) else 1
            rank = max(best[0] - 1, min(best[0], floor))
            first = next(f for f in files if names[0] in facts.code[f].defs)
            what = (f"{len(files)} training scripts ({', '.join(files[:3])}) repeat the same definitions "
                    f"({', '.join(names[:5])}) instead of sharing them"
                    + (", though each trains in short functions of its own" if rank == 2 and best[0] == 2 else ""))
            best = (rank, self.found("partial" if rank == 2 else "gap", first,
                                     facts.code[first].defs[names[0]].line, what))
        runs = self._framework_runs(facts)
        if runs and (best is None or best[0] < 3):
            path, line, runner, units = runs[0]
            best = (3, self.found("supports", path, line,
                                  f"{path} hands the project's own units ({', '.join(units[:4])}) to {runner}, "
                                  "which runs the training loop"))
        if best is not None and best[0] == 1:
            stages = self._stage_scripts(facts, targets)
            if len(stages) >= 2 and any(PIPELINE_STAGE.search(_stage_name(p)) for p, _ in stages):
                path = best[1].path
                best = (2, self.found("partial", stages[0][0], stages[0][1],
                                      f"the other stages are separate scripts ({', '.join(p for p, _ in stages[:4])}), "
                                      f"but {path} trains in one {'notebook' if path.endswith('.ipynb') else 'monolithic script'}"))
        stage_scripts = self._pipeline_scripts(facts)
        # a declared pipeline of three or more stages, or of two whose training stage trains in functions
        if (len(stage_scripts) >= 3 or len(stage_scripts) == 2 and structured) and (best is None or best[0] < 3):
            path, line, n = stage_scripts[0][0], stage_scripts[0][1], len(stage_scripts)
            best = (3, self.found("supports", path, line, f"a declared pipeline runs {n} separate stages"))
        if best is not None:
            yield best[1]

    @staticmethod
    def _stage_scripts(facts, training_targets: Set[str], named=STAGE_SCRIPT, stem_only=False) -> List[tuple]:
        """(path, line) of Python scripts, other than the training ones, that run another stage of the
        pipeline (data preparation, evaluation, registration, serving, monitoring), one per file."""
        from mlscan.facts.repo import is_test_path
        found: Dict[str, int] = {}
        for ep in facts.graph.entry_points:
            if not ep.target.startswith(("mod:", "def:")) or ep.target in training_targets:
                continue
            path = ep.target.split(":")[1]
            p = PurePosixPath(path)
            if p.suffix != ".py" or is_test_path(path) or in_example_dir(path) or p.parts[0] in ("hooks", "docs") \
                    or p.name in ("setup.py", "conftest.py", "noxfile.py", "manage.py") \
                    or not named.search(p.stem if stem_only else f"{p.parent.name}/{p.stem}"):
                continue
            found.setdefault(path, (facts.code[path].main_line if path in facts.code else None) or 1)
        return sorted(found.items())

    @staticmethod
    def _framework_runs(facts) -> List[tuple]:
        """(path, line, runner, units) of scripts that hand the project's own data and model units to a
        training framework's runner (`LightningCLI(Model, DataModule)`, BasicSR's `train_pipeline`)."""
        from mlscan.facts.repo import is_test_path
        out = []
        for path, calls in sorted(facts.call_table.named(_framework_runner, external=True,
                                                         roots=_RUNNER_ROOTS).items()):
            idx = facts.code.get(path)
            if idx is None or idx.is_notebook or is_test_path(path) or in_example_dir(path):
                continue
            units = _imported_units(facts, path)
            roles = set().union(*units.values()) if units else set()
            if {"data", "model"} <= roles:
                name = facts.external_name(idx, calls[0].name)
                out.append((path, calls[0].line, name.rsplit(".", 1)[-1],
                            sorted(p for p, r in units.items() if r & {"data", "model", "training"})))
        return out

    @staticmethod
    def _pipeline_scripts(facts) -> List[tuple]:
        targets: Dict[str, tuple] = {}
        for ep in facts.graph.entry_points:
            if ep.kind == "pipeline":
                targets.setdefault(ep.target, (ep.path, ep.line))
        return [v for _, v in sorted(targets.items())]


def _imported_units(facts, path: str) -> Dict[str, Set[str]]:
    """The project's own modules a file imports directly (tests left out), with their roles."""
    from mlscan.facts.repo import is_test_path
    graph = facts.graph
    units: Dict[str, Set[str]] = {}
    for ref in facts.code[path].imports:
        target = (graph.resolve_module(path, f"{ref.module}.{ref.name}") if ref.name else None) \
            or graph.resolve_module(path, ref.module)
        if target and target != path and target in facts.code and not is_test_path(target):
            units[target] = _unit_roles(facts, target)
    return units


def _whole_fit_only(idx, trains) -> bool:
    """The script's own code trains only by whole fits (`trainer.fit(model, loader)`): no loop step
    (`loss.backward()`, `opt.step()`) and no optimizer built at module level."""
    if any(c.attr in LOOP_STEPS for c in trains):
        return False
    return not any(c.scope in ("<module>", "<main>") and OPTIMIZER.match(c.name) for c in idx.calls)


def _called_at_import(idx, trains) -> bool:
    """The module's own training function is called from module-level code, outside a main guard."""
    own = {c.scope for c in trains if c.scope in idx.defs and "." not in c.scope}
    return any(c.scope == "<module>" and "()" not in c.name and c.name.rpartition(".")[2] in own
               for c in idx.calls)


def _stage_name(path: str) -> str:
    p = PurePosixPath(path)
    return f"{p.parent.name}/{p.stem}"


def _framework_runner(name: str) -> bool:
    return name in FRAMEWORK_TRAINING_RUNNERS


_RUNNER_ROOTS = {n.split(".")[0] for n in FRAMEWORK_TRAINING_RUNNERS}


def _unit_roles(facts, path: str) -> Set[str]:
    """A module's roles from its path, its names and the library classes its classes derive from."""
    roles = set(module_roles(facts, path))
    for qual, d in facts.code[path].defs.items():
        if "." not in qual and d.kind == "class":
            roles |= definition_roles(qual, d.bases)
    return roles


def _target_line(idx, ep) -> int:
    """The line in the training file itself: the entry point's own line when it is declared there, else the
    trained function's definition or the main block (a pipeline or console script declares it elsewhere)."""
    if ep.path == idx.path:
        return ep.line
    qual = ep.target.rsplit(":", 1)[1] if ep.target.startswith("def:") else ""
    definition = idx.defs.get(qual)
    return definition.line if definition else idx.main_line or 1


def _copied_definitions(facts, entries) -> tuple:
    """(scripts, names): top-level definitions that two or more training scripts each define for
    themselves, the sign of a training script copied and edited instead of shared."""
    from mlscan.facts.repo import is_test_path
    files = sorted({ep.target.split(":")[1] for ep in entries if ep.target.startswith(("mod:", "def:"))})
    files = [f for f in files if f in facts.code and not facts.code[f].is_notebook and not is_test_path(f)
             and not in_example_dir(f)]
    seen: Dict[str, List[str]] = {}
    for f in files:
        for qual in facts.code[f].defs:
            if "." not in qual and qual not in _SCRIPT_BOILERPLATE and not qual.startswith("_"):
                seen.setdefault(qual, []).append(f)
    names = sorted(n for n, where in seen.items() if len(where) >= 2)
    return sorted({f for n in names for f in seen[n]}), names


def _beside_notebooks(path: str) -> bool:
    return any(p.lower() in ("notebooks", "notebook", "nbs") for p in PurePosixPath(path).parts[:-1])
