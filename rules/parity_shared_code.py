from __future__ import annotations

import re

from mlscan.facts.graph import artefact_kind
from mlscan.rulekit import Example, Rule
from mlscan.rules._serving import (FEATURE_WORDS, NO_SERVING, NOTEBOOK_DEMO, TRANSFORMERS, has_serving,
                                   model_server_deployments,
                                   node_name, node_path, served_by_code, serving_reach)
from mlscan.rules._vocab import MODEL_LOAD_ATTRS

SERVING_LOAD_ATTRS = MODEL_LOAD_ATTRS | {"load", "read_pickle"}


def _loads_model(call) -> bool:
    """A call that loads a saved model or fitted object: `joblib.load`, `from_pretrained`, or a model
    fetched from BentoML's model store (`bentoml.pytorch.get('mnist:latest')`)."""
    return call.attr in SERVING_LOAD_ATTRS or (call.attr == "get" and call.name.startswith("bentoml.")
                                               and call.name.count(".") == 2)
# a function that loads a fitted object (`load_preprocessor`, `_load_pipeline`) reuses it; it does not re-implement it
LOADER = re.compile(r"^_*(load|read|fetch|download|restore)(_|$)", re.I)


class ServingReusesTrainingPreprocessing(Rule):
    """Serving reaches the same preprocessing as training

    Finds the serving entry points (web routes, model-server classes, inference handlers), follows
    their calls across files, and compares with what the training entry points reach. Parity:
    serving calls the same feature/preprocessing code as training, or loads the fitted transform
    that training saved. Skew: serving re-implements preprocessing (feature functions defined only
    on the serving side) or re-fits a transformer on request data. Serving that applies a fitted
    transform training saved (`dv.transform(...)`) but re-implements some feature logic by hand is
    partial; loading only the model and re-implementing the features is skew. When training
    transforms no features at all (no feature functions, encoders, scalers, image transforms or
    pandas feature operations) and serving feeds the request to the model training saved, parity
    is trivial and in place. Serving that calls training's own feature functions shares them, even
    with a helper of its own beside them (renaming request columns, explaining a prediction): that
    helper is not counted as re-implemented preprocessing. The model's own classes (networks,
    model wrappers and their methods) are shared by loading the model, not preprocessing. A
    pipeline that a project function builds (`build_pipeline().fit(...)`) and serving loads carries
    its preprocessing; functions that only name the columns (`infer_feature_columns`) or run the
    pipeline's preprocessor are not feature code outside it. Serving that answers requests with
    the bare model it loads and no preprocessing at all, while training transforms its features
    (a feature function or an encoder in the training run), is skew. A shared function with a mode
    parameter (`process_data(X, training=False, encoder=enc)`) that fits in training and applies the
    fitted encoder otherwise re-fits nothing; a serving function whose only feature word is a
    Transformer (`predict_transformer`) names the model. What the app's startup hook runs
    (`@app.on_event("startup")`, `before_first_request`) is serving: where the model and fitted
    transforms are loaded. A fitted preprocessing object applied through a serving object
    (`Predictor().preprocessor.transform`) shares training's preprocessing when training fits a whole
    one (a column transformer, a project's feature transformer), not when it is one library encoder,
    which sits beside feature logic typed into the service. An inference script's functions the model
    server calls by name (SageMaker `model_fn`/`predict_fn`, Azure ML `init`/`run`, TorchServe
    `handle`) are serving, and a model fetched from BentoML's store (`bentoml.pytorch.get(tag)`) is a
    model load. Not applicable without serving code.
    """

    id = "serving-shares-preprocessing"
    practice = "train-serve-parity"
    examples = (
        Example({
            "src/features.py": "def preprocess(df):\n    return df.fillna(0)\n",
            "src/train.py": "import pandas as pd\nfrom sklearn.linear_model import LogisticRegression\n"
                            "from src.features import preprocess\n\nif __name__ == '__main__':\n"
                            "    df = preprocess(pd.read_csv('data.csv'))\n    LogisticRegression().fit(df, df.y)\n",
            "serve/app.py": "import pandas as pd\nfrom fastapi import FastAPI\nfrom src.features import preprocess\n"
                            "app = FastAPI()\n\n@app.post('/predict')\ndef predict(row: dict):\n"
                            "    return MODEL.predict(preprocess(pd.DataFrame([row])))\n",
        }, "present"),
        Example({
            "src/features.py": "def preprocess(df):\n    return df.fillna(0)\n",
            "src/train.py": "import pandas as pd\nfrom sklearn.linear_model import LogisticRegression\n"
                            "from src.features import preprocess\n\nif __name__ == '__main__':\n"
                            "    df = preprocess(pd.read_csv('data.csv'))\n    LogisticRegression().fit(df, df.y)\n",
            "app.py": "from flask import Flask, request\napp = Flask(__name__)\n\ndef clean(df):\n    return df.fillna(0)\n\n"
                      "@app.route('/predict', methods=['POST'])\ndef predict():\n"
                      "    return str(MODEL.predict(clean(request.json)))\n",
        }, "absent", "serving re-implements the preprocessing"),
        Example({
            "src/features.py": "def build_features(df):\n    df['ratio'] = df.a / df.b\n    return df\n",
            "src/train.py": "import pandas as pd\nfrom sklearn.linear_model import LogisticRegression\n"
                            "from src.features import build_features\n\nif __name__ == '__main__':\n"
                            "    df = build_features(pd.read_csv('data.csv'))\n    LogisticRegression().fit(df[['ratio']], df.y)\n",
            "api/app.py": "import pandas as pd\nfrom fastapi import FastAPI\nfrom src.features import build_features\n"
                          "app = FastAPI()\n\n\ndef normalize_request_columns(df):\n"
                          "    return df.rename(columns=str.lower)\n\n\n@app.post('/predict')\ndef predict(row: dict):\n"
                          "    df = build_features(normalize_request_columns(pd.DataFrame([row])))\n"
                          "    return MODEL.predict(df[['ratio']]).tolist()\n",
        }, "present", "serving calls training's build_features; its own column-naming helper re-implements nothing"),
        Example({"train.py": "from sklearn.svm import SVC\nSVC().fit([[0]], [0])\n"}, "not-applicable"),
        Example({
            "train.py": "import pickle\nimport pandas as pd\nfrom sklearn.feature_extraction import DictVectorizer\n"
                        "from sklearn.linear_model import LinearRegression\n\n\ndef prepare_features(df):\n"
                        "    df['PU_DO'] = df['PU'] + '_' + df['DO']\n    return df\n\n\nif __name__ == '__main__':\n"
                        "    df = prepare_features(pd.read_parquet('data.parquet'))\n    dv = DictVectorizer()\n"
                        "    X = dv.fit_transform(df[['PU_DO']].to_dict('records'))\n    model = LinearRegression().fit(X, df.y)\n"
                        "    with open('model.bin', 'wb') as f:\n        pickle.dump((dv, model), f)\n",
            "predict.py": "import pickle\nfrom flask import Flask, jsonify, request\n\nwith open('model.bin', 'rb') as f:\n"
                          "    dv, model = pickle.load(f)\napp = Flask('duration')\n\n\ndef prepare_features(ride):\n"
                          "    return {'PU_DO': f\"{ride['PU']}_{ride['DO']}\"}\n\n\n@app.route('/predict', methods=['POST'])\n"
                          "def predict_endpoint():\n    X = dv.transform(prepare_features(request.get_json()))\n"
                          "    return jsonify({'duration': float(model.predict(X)[0])})\n",
        }, "partial", "the fitted vectorizer is reused, the feature logic re-implemented by hand in serving"),
        Example({
            "model/train.py": "import joblib\nimport pandas as pd\nfrom sklearn.ensemble import RandomForestClassifier\n\n"
                              "if __name__ == '__main__':\n    df = pd.read_csv('iris.csv')\n"
                              "    X, y = df[['a', 'b', 'c', 'd']], df['species']\n"
                              "    joblib.dump(RandomForestClassifier().fit(X, y), 'model.pkl')\n",
            "api/app.py": "import joblib\nfrom fastapi import FastAPI\n\napp = FastAPI()\nmodel = joblib.load('model.pkl')\n\n"
                          "@app.post('/predict')\ndef predict(a: float, b: float, c: float, d: float):\n"
                          "    return {'y': str(model.predict([[a, b, c, d]])[0])}\n",
        }, "present", "trivial parity: raw features in, the same model, nothing to re-implement"),
        Example({
            "train.py": "import pickle\nfrom sklearn.datasets import load_iris\nfrom sklearn.linear_model import LogisticRegression\n\n\n"
                        "def load_iris_features_and_target():\n    data = load_iris(as_frame=True)\n    return data.data, data.target\n\n\n"
                        "if __name__ == '__main__':\n    X, y = load_iris_features_and_target()\n"
                        "    pickle.dump(LogisticRegression().fit(X, y), open('model.pkl', 'wb'))\n",
            "app/main.py": "import pickle\nimport pandas as pd\nfrom fastapi import FastAPI\n\napp = FastAPI()\n"
                           "MODEL = pickle.load(open('model.pkl', 'rb'))\n\n\n@app.post('/predict')\n"
                           "def predict(row: dict):\n    return {'y': int(MODEL.predict(pd.DataFrame([row]))[0])}\n",
        }, "present", "a function that loads the features transforms nothing: trivial parity"),
        Example({
            "src/preprocessing.py": "import joblib\nimport pandas as pd\nfrom sklearn.preprocessing import StandardScaler\n\n\n"
                                    "def load_and_scale(path):\n    df = pd.read_csv(path)\n    scaler = StandardScaler()\n"
                                    "    X = scaler.fit_transform(df.drop(columns=['y']))\n"
                                    "    joblib.dump(scaler, 'models/scaler.joblib')\n    return X, df['y']\n",
            "src/train.py": "import joblib\nfrom sklearn.ensemble import RandomForestClassifier\n"
                            "from src.preprocessing import load_and_scale\n\nX, y = load_and_scale('data.csv')\n"
                            "joblib.dump(RandomForestClassifier(random_state=0).fit(X, y), 'models/model.joblib')\n",
            "src/app.py": "import os\nimport joblib\nfrom fastapi import FastAPI\n\n"
                          "SCALER_PATH = os.environ.get('SCALER_PATH', 'models/scaler.joblib')\napp = FastAPI()\n"
                          "MODEL = joblib.load('models/model.joblib')\nSCALER = joblib.load(SCALER_PATH)\n\n\n"
                          "@app.post('/predict')\ndef predict(a: float, b: float):\n"
                          "    return {'y': int(MODEL.predict(SCALER.transform([[a, b]]))[0])}\n",
        }, "present", "serving applies the scaler training fitted and saved, and re-implements nothing"),
        Example({
            "train.py": "import joblib\nfrom sklearn.datasets import load_breast_cancer\nfrom sklearn.linear_model import LogisticRegression\n"
                        "from sklearn.pipeline import Pipeline\nfrom sklearn.preprocessing import StandardScaler\n\n\ndef main():\n"
                        "    X, y = load_breast_cancer(return_X_y=True)\n"
                        "    pipe = Pipeline([('scale', StandardScaler()), ('clf', LogisticRegression())])\n"
                        "    pipe.fit(X, y)\n    joblib.dump(pipe, 'model.joblib')\n\n\nif __name__ == '__main__':\n    main()\n",
            "api/app.py": "import joblib\nfrom fastapi import FastAPI\n\napp = FastAPI()\n\n\n@app.post('/predict')\n"
                          "def predict(rows: list):\n    return {'y': joblib.load('model.joblib').predict(rows).tolist()}\n",
        }, "present", "the fitted pipeline carries its scaler into serving"),
        Example({
            "training/data_processing.py": "from sklearn.preprocessing import StandardScaler\n\n\ndef scale(df):\n"
                                           "    return StandardScaler().fit_transform(df)\n",
            "training/train.py": "import pickle\nimport pandas as pd\nfrom sklearn.ensemble import RandomForestClassifier\n"
                                 "from training.data_processing import scale\n\nif __name__ == '__main__':\n"
                                 "    df = pd.read_csv('d.csv')\n    m = RandomForestClassifier().fit(scale(df), df.y)\n"
                                 "    pickle.dump(m, open('model.pkl', 'wb'))\n",
            "app/ml/preprocessor.py": "from sklearn.preprocessing import StandardScaler\n\n\nclass DataPreprocessor:\n"
                                      "    def preprocess_features(self, df):\n        return StandardScaler().fit_transform(df)\n\n\n"
                                      "if __name__ == '__main__':\n    print(DataPreprocessor().preprocess_features([[1.0]]))\n",
            "app/main.py": "import pickle\nfrom fastapi import FastAPI\nfrom app.ml.preprocessor import DataPreprocessor\n\n"
                           "app = FastAPI()\nMODEL = pickle.load(open('model.pkl', 'rb'))\n\n\n@app.post('/predict')\n"
                           "def predict(rows: list):\n    return MODEL.predict(DataPreprocessor().preprocess_features(rows)).tolist()\n",
        }, "absent", "the serving package's own preprocessor (runnable by hand) is not training's"),
        Example({
            "train.py": "import pickle\nimport pandas as pd\nfrom sklearn.preprocessing import StandardScaler\n"
                        "from sklearn.ensemble import RandomForestClassifier\n\nif __name__ == '__main__':\n"
                        "    df = pd.read_csv('d.csv')\n    X = StandardScaler().fit_transform(df.drop(columns=['y']))\n"
                        "    pickle.dump(RandomForestClassifier().fit(X, df.y), open('model.pkl', 'wb'))\n",
            "serve.py": "import pickle\nfrom flask import Flask, request, jsonify\nfrom sklearn.preprocessing import StandardScaler\n\n"
                        "app = Flask(__name__)\nMODEL = pickle.load(open('model.pkl', 'rb'))\n\n\nclass Scaling:\n"
                        "    def __init__(self):\n        self.scalers = {}\n\n    def apply(self, name, x):\n"
                        "        self.scalers[name] = StandardScaler()\n        self.scalers[name].fit(x)\n"
                        "        return self.scalers[name].transform(x)\n\n\n@app.route('/predict', methods=['POST'])\n"
                        "def predict():\n    x = request.get_json()\n    return jsonify(MODEL.predict(Scaling().apply('all', x)).tolist())\n",
        }, "absent", "a scaler built and fitted on the request at serving time, kept in a dict"),
        Example({
            "src/features/fetch_weather.py": "import requests\n\n\ndef fetch_weather(day):\n"
                                             "    return requests.get(f'https://api.example/w?d={day}').json()\n\n\n"
                                             "def enrich_weather(df):\n    df['temp'] = [fetch_weather(d)['t'] for d in df.day]\n    return df\n",
            "src/train.py": "import pandas as pd\nfrom sklearn.linear_model import Ridge\nfrom src.features.fetch_weather import enrich_weather\n\n\n"
                            "def add_calendar_features(df):\n    df['dow'] = pd.to_datetime(df.day).dt.dayofweek\n    return df\n\n\n"
                            "if __name__ == '__main__':\n    df = add_calendar_features(enrich_weather(pd.read_csv('sales.csv')))\n"
                            "    Ridge().fit(df[['dow', 'temp']], df.sales)\n",
            "web/app.py": "import pandas as pd\nfrom flask import Flask, request, jsonify\nfrom src.features.fetch_weather import enrich_weather\n\n"
                          "app = Flask(__name__)\n\n\ndef build_features(df):\n    df['dow'] = pd.to_datetime(df.day).dt.weekday\n    return df\n\n\n"
                          "@app.route('/forecast', methods=['POST'])\ndef forecast():\n"
                          "    df = build_features(enrich_weather(pd.DataFrame(request.get_json())))\n"
                          "    return jsonify(MODEL.predict(df[['dow', 'temp']]).tolist())\n",
        }, "absent", "only the weather fetcher is shared; the calendar features are re-implemented in serving"),
        Example({
            "cog.yaml": "build:\n  python_version: '3.10'\npredict: 'predict.py:Predictor'\n",
            "src/transforms.py": "import torchvision.transforms as T\n\n\ndef eval_transform():\n"
                                 "    return T.Compose([T.Resize(224), T.ToTensor()])\n",
            "train.py": "import torch\nfrom src.transforms import eval_transform\n\nif __name__ == '__main__':\n"
                        "    tf = eval_transform()\n    model = torch.nn.Linear(2, 1)\n    model(torch.zeros(1, 2)).sum().backward()\n"
                        "    torch.save(model.state_dict(), 'model.pt')\n",
            "predict.py": "import torch\nfrom cog import BasePredictor, Input, Path\nfrom PIL import Image\n"
                          "from src.transforms import eval_transform\n\n\nclass Predictor(BasePredictor):\n"
                          "    def setup(self):\n        self.model = torch.load('model.pt')\n\n"
                          "    def predict(self, image: Path = Input(description='photo')) -> str:\n"
                          "        return str(self.model(eval_transform()(Image.open(image))))\n",
        }, "present", "a Cog predictor is serving: it applies training's own transform"),
        Example({
            "train.py": "import joblib\nimport pandas as pd\nfrom sklearn.linear_model import LogisticRegression\n\n"
                        "if __name__ == '__main__':\n    df = pd.read_csv('d.csv')\n"
                        "    joblib.dump(LogisticRegression().fit(df[['a', 'b']], df.y), 'model.pkl')\n",
            "jobs/score.py": "import joblib\nimport pandas as pd\nimport sqlalchemy\n\n\ndef main():\n"
                             "    engine = sqlalchemy.create_engine('postgresql://db/scores')\n"
                             "    df = pd.read_sql('select * from customers', engine)\n    model = joblib.load('model.pkl')\n"
                             "    df['score'] = model.predict(df[['a', 'b']])\n"
                             "    df[['id', 'score']].to_sql('scores', engine, if_exists='append')\n\n\n"
                             "if __name__ == '__main__':\n    main()\n",
        }, "present", "a batch-scoring job writing predictions to a table is serving (trivial parity)"),
        Example({
            "train.py": "import joblib\nimport pandas as pd\nfrom sklearn.linear_model import LogisticRegression\n\n"
                        "if __name__ == '__main__':\n    df = pd.read_csv('d.csv')\n"
                        "    joblib.dump(LogisticRegression().fit(df[['a', 'b']], df.y), 'model.pkl')\n",
            "predict.py": "import joblib\nimport pandas as pd\n\nif __name__ == '__main__':\n"
                          "    df = pd.read_csv('test.csv')\n    df['y'] = joblib.load('model.pkl').predict(df[['a', 'b']])\n"
                          "    df.to_csv('submission.csv', index=False)\n",
        }, "not-applicable", "an offline prediction script writing a local file is not serving"),
        Example({
            "flow.py": "from metaflow import FlowSpec, step\n\n\nclass TrainFlow(FlowSpec):\n    @step\n    def start(self):\n"
                       "        from tensorflow.keras.preprocessing.text import Tokenizer\n        import tensorflow as tf\n"
                       "        tok = Tokenizer()\n        tok.fit_on_texts(['a b'])\n"
                       "        model = tf.keras.Sequential([tf.keras.layers.Dense(1)])\n"
                       "        model.fit(tok.texts_to_sequences(['a b']), [1])\n        model.save('model')\n"
                       "        self.next(self.deploy)\n\n    @step\n    def deploy(self):\n"
                       "        from sagemaker.tensorflow import TensorFlowModel\n"
                       "        TensorFlowModel(model_data='s3://b/model.tar.gz', role='r').deploy(\n"
                       "            initial_instance_count=1, instance_type='ml.m5.large')\n        self.next(self.end)\n\n"
                       "    @step\n    def end(self):\n        pass\n\n\nif __name__ == '__main__':\n    TrainFlow()\n",
        }, "absent", "a SageMaker endpoint deployed from a flow serves the bare model; the fitted tokenizer stays behind"),
        Example({
            "src/train.py": "import xgboost as xgb\nfrom sklearn.datasets import load_iris\n\n\ndef train():\n"
                            "    X, y = load_iris(return_X_y=True)\n    booster = xgb.train({}, xgb.DMatrix(X, label=y))\n"
                            "    booster.save_model('model.json')\n",
            "src/workflow.py": "from kfp import dsl\n\nfuncs = {}\n\n\n@dsl.pipeline(name='train')\ndef pipeline():\n"
                               "    train = funcs['xgb'].as_step(handler='train', outputs=['model'])\n"
                               "    funcs['serving'].deploy_step(models={'iris': train.outputs['model']})\n",
        }, "present", "a model server deployed with the trained model: training transforms no features"),
        Example({
            "train.py": "import mlflow\nimport pandas as pd\nfrom sklearn.linear_model import LogisticRegression\n\n"
                        "if __name__ == '__main__':\n    df = pd.read_csv('d.csv')\n    df['amount_log'] = df.amount.apply('log1p')\n"
                        "    X = pd.get_dummies(df[['amount_log', 'country']])\n"
                        "    mlflow.sklearn.log_model(LogisticRegression().fit(X, df.y), 'model', registered_model_name='m')\n",
            "Makefile": "serve:\n\tmlflow models serve -m models:/m/Production -p 5001\n",
        }, "absent", "mlflow models serve runs the bare model; the dummies and the log transform stay in training"),
        Example({
            "features/repo.py": "from feast import Entity, FeatureView, Field\n\ndriver = Entity(name='driver', join_keys=['driver_id'])\n",
            "train.py": "import pandas as pd\nfrom feast import FeatureStore\nfrom sklearn.linear_model import LinearRegression\n\n"
                        "def select_features(df):\n    return df[['conv_rate']]\n\n\n"
                        "if __name__ == '__main__':\n    store = FeatureStore(repo_path='features')\n"
                        "    df = store.get_historical_features(entity_df=pd.read_parquet('orders.parquet'),\n"
                        "                                       features=['driver_stats:conv_rate']).to_df()\n"
                        "    LinearRegression().fit(select_features(df), df.y)\n",
            "serve.py": "from fastapi import FastAPI\nfrom feast import FeatureStore\n\napp = FastAPI()\nstore = FeatureStore(repo_path='features')\n\n\n"
                        "@app.get('/predict/{driver_id}')\ndef predict(driver_id: int):\n"
                        "    row = store.get_online_features(features=['driver_stats:conv_rate'],\n"
                        "                                    entity_rows=[{'driver_id': driver_id}]).to_dict()\n"
                        "    return {'y': MODEL.predict([[row['conv_rate'][0]]]).tolist()}\n",
        }, "present", "training and serving read the same Feast feature views, offline and online", fires=True),
        Example({
            "functions.py": "import numpy as np\nimport onnxruntime as rt\n\n\ndef normalise_image(image):\n"
                            "    return (image / 255.0 - 0.5) / 0.25\n\n\ndef predict(image):\n"
                            "    sess = rt.InferenceSession('model.onnx')\n"
                            "    return sess.run(None, {'x': normalise_image(image).astype(np.float32)})[0]\n",
            "app.py": "import gradio as gr\nfrom functions import *\n\ngr.Interface(fn=predict, inputs='image', outputs='label').launch()\n",
            "train.py": "import torch\nimport torchvision.transforms as T\n\nif __name__ == '__main__':\n"
                        "    tf = T.Normalize([0.5], [0.25])\n    model = torch.nn.Linear(2, 1)\n"
                        "    model(torch.zeros(1, 2)).sum().backward()\n    torch.onnx.export(model, torch.zeros(1, 2), 'model.onnx')\n",
        }, "absent", "a Gradio app whose handler comes from another module by a star import re-implements the transform"),
        Example({
            "forecast.py": "import boto3\nimport pandas as pd\nfrom prophet import Prophet\n\nif __name__ == '__main__':\n"
                           "    df = pd.read_csv('sales.csv')\n    m = Prophet()\n    m.fit(df)\n"
                           "    out = m.predict(m.make_future_dataframe(periods=30))\n    out.to_csv('/tmp/f.csv')\n"
                           "    boto3.client('s3').upload_file('/tmp/f.csv', 'bucket', 'forecast.csv')\n",
        }, "not-applicable", "a batch run that trains and forecasts in one go is offline, not a scoring job"),
        Example({
            "src/transforms.py": "import torchvision.transforms as T\n\n\ndef eval_transform():\n"
                                 "    return T.Compose([T.Resize(224), T.ToTensor()])\n",
            "train.py": "import torch\nfrom src.transforms import eval_transform\n\nif __name__ == '__main__':\n"
                        "    tf = eval_transform()\n    model = torch.nn.Linear(2, 1)\n    model(torch.zeros(1, 2)).sum().backward()\n"
                        "    torch.save(model.state_dict(), 'model.pt')\n",
            "demo.ipynb": NOTEBOOK_DEMO,
        }, "present", "a Gradio app launched from a notebook serves; its handler applies training's transform"),
        Example({
            ".github/workflows/forecast.yml": "on:\n  schedule:\n    - cron: '0 */6 * * *'\njobs:\n  forecast:\n"
                                              "    runs-on: ubuntu-latest\n    steps:\n      - run: python forecast.py\n",
            "features.py": "import pandas as pd\n\n\ndef add_lags(df):\n    df['lag1'] = df.y.shift(1)\n    return df\n",
            "train.py": "import joblib\nimport pandas as pd\nfrom sklearn.linear_model import Ridge\nfrom features import add_lags\n\n"
                        "if __name__ == '__main__':\n    df = add_lags(pd.read_csv('aqi.csv')).dropna()\n"
                        "    joblib.dump(Ridge().fit(df[['lag1']], df.y), 'model.pkl')\n",
            "forecast.py": "import joblib\nimport pandas as pd\nfrom features import add_lags\n\nif __name__ == '__main__':\n"
                           "    df = add_lags(pd.read_csv('aqi.csv'))\n    model = joblib.load('model.pkl')\n"
                           "    df['pred'] = model.predict(df[['lag1']].fillna(0))\n    df.to_csv('forecasts/latest.csv')\n",
        }, "present", "a script a scheduled workflow runs to load the model and predict is batch serving"),
        Example({
            ".github/workflows/nightly.yml": "on:\n  schedule:\n    - cron: '0 3 * * *'\njobs:\n  eval:\n"
                                            "    runs-on: ubuntu-latest\n    steps:\n      - run: python evaluate.py\n",
            "train.py": "import joblib\nimport pandas as pd\nfrom sklearn.linear_model import Ridge\n\n"
                        "if __name__ == '__main__':\n    df = pd.read_csv('d.csv')\n"
                        "    joblib.dump(Ridge().fit(df[['a']], df.y), 'model.pkl')\n",
            "evaluate.py": "import joblib\nimport pandas as pd\n\nif __name__ == '__main__':\n"
                           "    df = pd.read_csv('test.csv')\n    pred = joblib.load('model.pkl').predict(df[['a']])\n"
                           "    print(((pred - df.y) ** 2).mean())\n",
        }, "not-applicable", "a nightly evaluation of the model on a test set is offline, not serving"),
        Example({
            "src/preprocessing.py": "from sklearn.compose import ColumnTransformer\nfrom sklearn.preprocessing import OneHotEncoder\n\n\n"
                                    "def infer_feature_columns(df):\n    return list(df.select_dtypes('object').columns)\n\n\n"
                                    "def make_preprocessor(cols):\n    return ColumnTransformer([('cat', OneHotEncoder(), cols)])\n",
            "src/train.py": "import joblib\nimport pandas as pd\nfrom sklearn.linear_model import Ridge\nfrom sklearn.pipeline import Pipeline\n"
                            "from src.preprocessing import infer_feature_columns, make_preprocessor\n\n\n"
                            "def build_pipeline(prep):\n    return Pipeline([('prep', prep), ('ridge', Ridge())])\n\n\n"
                            "if __name__ == '__main__':\n    df = pd.read_csv('d.csv')\n"
                            "    pipe = build_pipeline(make_preprocessor(infer_feature_columns(df)))\n"
                            "    pipe.fit(df.drop(columns=['y']), df.y)\n    joblib.dump(pipe, 'pipeline.joblib')\n",
            "api/main.py": "import joblib\nimport pandas as pd\nfrom fastapi import FastAPI\n\napp = FastAPI()\n\n\n"
                           "def get_pipeline():\n    return joblib.load('pipeline.joblib')\n\n\n@app.post('/predict')\n"
                           "def predict(row: dict):\n    return {'y': float(get_pipeline().predict(pd.DataFrame([row]))[0])}\n",
        }, "present", "a pipeline a builder function returns is fitted and loaded by serving: the preprocessing travels with it"),
        Example({
            "src/features.py": "import numpy as np\n\n\ndef preprocess(df):\n    df['income'] = np.log1p(df.income)\n    return df\n",
            "src/train.py": "import pickle\nimport pandas as pd\nfrom sklearn.linear_model import LinearRegression\n"
                            "from src.features import preprocess\n\nif __name__ == '__main__':\n"
                            "    df = preprocess(pd.read_csv('d.csv'))\n"
                            "    pickle.dump(LinearRegression().fit(df[['income']], df.y), open('model.pkl', 'wb'))\n",
            "api/app.py": "import pickle\nfrom fastapi import FastAPI\n\napp = FastAPI()\nMODEL = pickle.load(open('model.pkl', 'rb'))\n\n\n"
                          "@app.post('/predict')\ndef predict(values: list):\n    return {'y': MODEL.predict([values]).tolist()}\n",
        }, "absent", "serving feeds raw request values to the bare model while training log-transforms them"),
        Example({
            "src/models/transformer_model.py": "import torch\n\n\nclass TransformerSentimentModel(torch.nn.Module):\n"
                                               "    def forward(self, x):\n        return x\n\n    def predict(self, x):\n"
                                               "        return self.forward(x)\n",
            "src/data/preprocessing.py": "import re\n\n\ndef clean_text(text):\n    return re.sub(r'http\\S+', '', text)\n",
            "train.py": "import torch\nfrom src.data.preprocessing import clean_text\nfrom src.models.transformer_model import TransformerSentimentModel\n\n"
                        "if __name__ == '__main__':\n    texts = [clean_text(t) for t in open('d.txt')]\n"
                        "    model = TransformerSentimentModel()\n    model(torch.zeros(1)).sum().backward()\n"
                        "    torch.save(model.state_dict(), 'model.pt')\n",
            "api.py": "import torch\nfrom fastapi import FastAPI\nfrom src.models.transformer_model import TransformerSentimentModel\n\n"
                      "app = FastAPI()\nMODEL = TransformerSentimentModel()\nMODEL.load_state_dict(torch.load('model.pt'))\n\n\n"
                      "@app.post('/predict')\ndef predict(text: str):\n    return {'y': MODEL.predict(text).tolist()}\n",
        }, "partial", "sharing the model class is not sharing preprocessing: the trained model is reused, no feature code"),
        Example({
            "src/ml/data.py": "import numpy as np\nfrom sklearn.preprocessing import OneHotEncoder\n\n\n"
                              "def process_data(X, cats, training=True, encoder=None):\n    if training:\n"
                              "        encoder = OneHotEncoder(handle_unknown='ignore')\n"
                              "        Xc = encoder.fit_transform(X[cats])\n    else:\n        Xc = encoder.transform(X[cats])\n"
                              "    return np.hstack([X.drop(columns=cats).values, Xc]), encoder\n",
            "src/train.py": "import joblib\nimport pandas as pd\nfrom sklearn.linear_model import LogisticRegression\n"
                            "from src.ml.data import process_data\n\nif __name__ == '__main__':\n    df = pd.read_csv('census.csv')\n"
                            "    X, enc = process_data(df.drop(columns=['y']), ['job'], training=True)\n"
                            "    joblib.dump(LogisticRegression().fit(X, df.y), 'model.pkl')\n    joblib.dump(enc, 'encoder.pkl')\n",
            "api/main.py": "import joblib\nimport pandas as pd\nfrom fastapi import FastAPI\nfrom src.ml.data import process_data\n\n"
                           "app = FastAPI()\nMODEL, ENC = joblib.load('model.pkl'), joblib.load('encoder.pkl')\n\n\n"
                           "@app.post('/predict')\ndef predict(row: dict):\n"
                           "    X, _ = process_data(pd.DataFrame([row]), ['job'], training=False, encoder=ENC)\n"
                           "    return {'y': int(MODEL.predict(X)[0])}\n",
        }, "present", "a shared function fits its encoder only in training mode and applies the fitted one otherwise"),
        Example({
            "src/ml/data.py": "from sklearn.preprocessing import StandardScaler\n\n\ndef process_data(X, training=True):\n"
                              "    return StandardScaler().fit_transform(X)\n",
            "src/train.py": "import joblib\nimport pandas as pd\nfrom sklearn.linear_model import LogisticRegression\n"
                            "from src.ml.data import process_data\n\nif __name__ == '__main__':\n    df = pd.read_csv('d.csv')\n"
                            "    joblib.dump(LogisticRegression().fit(process_data(df[['a']]), df.y), 'model.pkl')\n",
            "api/main.py": "import joblib\nimport pandas as pd\nfrom fastapi import FastAPI\nfrom src.ml.data import process_data\n\n"
                           "app = FastAPI()\nMODEL = joblib.load('model.pkl')\n\n\n@app.post('/predict')\ndef predict(row: dict):\n"
                           "    return {'y': int(MODEL.predict(process_data(pd.DataFrame([row]), training=False))[0])}\n",
        }, "absent", "a mode flag that never switches the fit off: the scaler is re-fitted on each request"),
        Example({
            "scripts/train.py": "import joblib\nfrom sklearn.feature_extraction.text import TfidfVectorizer\n"
                                "from sklearn.linear_model import LogisticRegression\nfrom sklearn.pipeline import Pipeline\n\n"
                                "if __name__ == '__main__':\n"
                                "    pipe = Pipeline([('tfidf', TfidfVectorizer()), ('clf', LogisticRegression())])\n"
                                "    pipe.fit(['a b', 'c d'], [0, 1])\n    joblib.dump(pipe, 'model.joblib')\n",
            "app/main.py": "import joblib\nfrom fastapi import FastAPI\n\napp = FastAPI()\nMODEL = joblib.load('model.joblib')\n\n\n"
                           "def predict_transformer(texts):\n    return MODEL.predict(texts).tolist()\n\n\n"
                           "@app.post('/predict')\ndef predict(texts: list):\n    return {'y': predict_transformer(texts)}\n",
        }, "present", "a function named for the Transformer model it runs is not preprocessing of serving's own"),
        Example({
            "web/__init__.py": "from flask import Flask\n\napp = Flask(__name__)\nfrom web import views\n",
            "web/views.py": "import joblib\nfrom flask import request, jsonify\nfrom web import app\n\nMODEL = joblib.load('model.pkl')\n\n\n"
                            "@app.route('/predict', methods=['POST'])\ndef predict():\n"
                            "    return jsonify(MODEL.predict([request.json['x']]).tolist())\n",
            "train.py": "import joblib\nfrom sklearn.linear_model import LogisticRegression\n\nif __name__ == '__main__':\n"
                        "    joblib.dump(LogisticRegression().fit([[0], [1]], [0, 1]), 'model.pkl')\n",
        }, "present", "routes declared on an app imported from the package's __init__ are serving (trivial parity)"),
        Example({
            "src/train.py": "import joblib\nfrom sklearn.linear_model import LogisticRegression\nfrom sklearn.pipeline import Pipeline\n"
                            "from sklearn.preprocessing import StandardScaler\n\n\ndef main():\n"
                            "    pipe = Pipeline([('scale', StandardScaler()), ('clf', LogisticRegression())])\n"
                            "    pipe.fit([[0], [1]], [0, 1])\n    joblib.dump(pipe, 'model/model.pkl')\n\n\n"
                            "if __name__ == '__main__':\n    main()\n",
            "api/main.py": "import joblib\nimport pandas as pd\nfrom fastapi import FastAPI\n\napp = FastAPI()\nMODEL = None\n\n\n"
                           "@app.on_event('startup')\ndef load_resources():\n    global MODEL\n    MODEL = joblib.load('model/model.pkl')\n\n\n"
                           "@app.post('/predict')\ndef predict(row: dict):\n    return {'y': int(MODEL.predict(pd.DataFrame([row]))[0])}\n",
        }, "present", "the model a startup hook loads is served: the fitted pipeline carries the preprocessing"),
        Example({
            "src/features.py": "import numpy as np\n\n\ndef preprocess(df):\n    df['income'] = np.log1p(df.income)\n    return df\n",
            "src/train.py": "import joblib\nimport pandas as pd\nfrom sklearn.linear_model import LinearRegression\n"
                            "from src.features import preprocess\n\nif __name__ == '__main__':\n"
                            "    df = preprocess(pd.read_csv('d.csv'))\n    joblib.dump(LinearRegression().fit(df[['income']], df.y), 'm.pkl')\n",
            "api/main.py": "import joblib\nfrom fastapi import FastAPI\n\napp = FastAPI()\nMODEL = None\n\n\n"
                           "@app.on_event('startup')\ndef startup():\n    global MODEL\n    MODEL = joblib.load('m.pkl')\n\n\n"
                           "@app.post('/predict')\ndef predict(values: list):\n    return {'y': MODEL.predict([values]).tolist()}\n",
        }, "absent", "the bare model a startup hook loads is fed raw values while training transforms its features"),
        Example({
            "src/features/engineer.py": "class FeatureEngineer:\n    def fit_transform(self, df):\n        return self.transform(df)\n\n"
                                        "    def transform(self, df):\n        df['ratio'] = df.a / df.b\n        return df\n",
            "src/train.py": "import joblib\nimport pandas as pd\nfrom sklearn.linear_model import LogisticRegression\n"
                            "from src.features.engineer import FeatureEngineer\n\nif __name__ == '__main__':\n"
                            "    feature_engineer = FeatureEngineer()\n    df = feature_engineer.fit_transform(pd.read_csv('d.csv'))\n"
                            "    joblib.dump(LogisticRegression().fit(df[['ratio']], df.y), 'model.pkl')\n"
                            "    joblib.dump(feature_engineer, 'feature_engineer.pkl')\n",
            "api/main.py": "import os\nimport joblib\nimport pandas as pd\nfrom fastapi import FastAPI\n\napp = FastAPI()\n"
                           "MODEL = joblib.load('model.pkl')\nfeature_engineer = joblib.load(os.environ['FE_PATH'])\n\n\n"
                           "@app.post('/predict')\ndef predict(row: dict):\n"
                           "    return {'y': int(MODEL.predict(feature_engineer.transform(pd.DataFrame([row]))[['ratio']])[0])}\n",
        }, "present", "serving applies the project's own feature transformer that training fitted and saved"),
        Example({
            "src/data.py": "from sklearn.compose import ColumnTransformer\nfrom sklearn.preprocessing import OneHotEncoder\n\n\n"
                           "def create_preprocessing_pipeline():\n    return ColumnTransformer([('cat', OneHotEncoder(), ['job'])])\n\n\n"
                           "def prepare_data(df):\n    preprocessor = create_preprocessing_pipeline()\n"
                           "    return preprocessor.fit_transform(df), preprocessor\n",
            "src/train.py": "import joblib\nimport pandas as pd\nfrom sklearn.linear_model import LogisticRegression\n"
                            "from src.data import prepare_data\n\nif __name__ == '__main__':\n    df = pd.read_csv('d.csv')\n"
                            "    X, preprocessor = prepare_data(df)\n    joblib.dump(LogisticRegression().fit(X, df.y), 'model.joblib')\n"
                            "    joblib.dump(preprocessor, 'preprocessing_pipeline.joblib')\n",
            "src/predict.py": "import joblib\nimport pandas as pd\n\n\nclass Predictor:\n    def __init__(self, model_path, pipeline_path):\n"
                              "        self.model = joblib.load(model_path)\n        self.preprocessor = joblib.load(pipeline_path)\n\n"
                              "    def predict(self, row):\n        X = self.preprocessor.transform(pd.DataFrame([row]))\n"
                              "        return int(self.model.predict(X)[0])\n",
            "src/app.py": "from fastapi import FastAPI\nfrom src.predict import Predictor\n\napp = FastAPI()\n"
                          "PREDICTOR = Predictor('model.joblib', 'preprocessing_pipeline.joblib')\n\n\n"
                          "@app.post('/predict')\ndef predict(row: dict):\n    return {'y': PREDICTOR.predict(row)}\n",
        }, "present", "a serving object applies the column transformer training fitted and saved"),
        Example({
            "train.py": "import joblib\nimport pandas as pd\nfrom sklearn.linear_model import LinearRegression\n"
                        "from sklearn.preprocessing import LabelEncoder\n\nif __name__ == '__main__':\n    df = pd.read_csv('d.csv')\n"
                        "    le = LabelEncoder()\n    df['sex'] = le.fit_transform(df.sex)\n"
                        "    joblib.dump((LinearRegression().fit(df[['sex', 'w']], df.y), le), 'model.pkl')\n",
            "service.py": "import joblib\n\n\nclass ModelService:\n    def __init__(self):\n"
                          "        self.model, self.le = joblib.load('model.pkl')\n\n    def predict(self, row):\n"
                          "        sex = self.le.transform([row['sex']])[0]\n        return self.model.predict([[sex, row['w'] * 1000]])\n",
            "app.py": "from flask import Flask, request\nfrom service import ModelService\n\napp = Flask(__name__)\n"
                      "SERVICE = ModelService()\n\n\n@app.route('/predict', methods=['POST'])\n"
                      "def predict():\n    return str(SERVICE.predict(request.json))\n",
        }, "partial", "one encoder a serving object holds sits beside feature logic typed into the service"),
        Example({
            "train.py": "import joblib\nfrom sklearn.svm import SVC\n\nif __name__ == '__main__':\n"
                        "    joblib.dump(SVC().fit([[0], [1]], [0, 1]), 'm.pkl')\n",
            "orders/events.py": "class EventBus:\n    def route(self, topic):\n        return lambda f: f\n\n\nbus = EventBus()\n",
            "orders/handlers.py": "import flask\nimport joblib\nfrom orders.events import bus as app\n\nM = joblib.load('m.pkl')\n\n\n"
                                  "@app.route('/orders')\ndef on_order(order):\n    return str(M.predict([[order]]))\n",
        }, "not-applicable", "`app` is the project's event bus (followed to `EventBus()`), not a web app: no route"),
        Example({
            "train.py": "import joblib\nfrom sklearn.svm import SVC\n\nif __name__ == '__main__':\n"
                        "    joblib.dump(SVC().fit([[0], [1]], [0, 1]), 'm.pkl')\n",
            "web/factory.py": "from flask import Flask\n\n\ndef create_app():\n    return Flask(__name__)\n",
            "web/serve.py": "import flask\nimport joblib\nfrom web.factory import create_app\n\napp = create_app()\n"
                            "M = joblib.load('m.pkl')\n\n\n@app.route('/predict')\ndef predict():\n"
                            "    return str(M.predict([[float(flask.request.args['x'])]]))\n",
        }, "present", "routes on the app a factory function returns serve: trivial parity"),
        Example({
            "pages/train.py": "import pandas as pd\nimport streamlit as st\nfrom sklearn.linear_model import LinearRegression\n\n"
                              "df = pd.read_csv(st.file_uploader('data'))\nmodel = LinearRegression().fit(df[['x']], df.y)\n"
                              "st.write(model.predict(df[['x']]))\n",
        }, "not-applicable", "a Streamlit page that fits the model in the session is a training UI, not serving"),
        Example({
            "train.py": "import joblib\nfrom sklearn.svm import SVC\n\nif __name__ == '__main__':\n"
                        "    joblib.dump(SVC().fit([[0], [1]], [0, 1]), 'm.pkl')\n",
            "server/__init__.py": "from flask import Flask\nfrom flask_restful import Api\n\napp = Flask(__name__)\napi = Api(app)\n",
            "server/resources.py": "import joblib\nfrom flask import request\nfrom flask_restful import Resource\n\n"
                                   "MODEL = joblib.load('m.pkl')\n\n\nclass Predict(Resource):\n    def post(self):\n"
                                   "        return MODEL.predict([[request.json['x']]]).tolist()\n",
            "server/views.py": "from server import api\nfrom server.resources import Predict\n\n"
                               "api.add_resource(Predict, '/predict')\n",
        }, "present", "a Flask-RESTful resource registered on the project's Api serves: trivial parity"),
        Example({
            "train.py": "import joblib\nfrom sklearn.svm import SVC\n\nif __name__ == '__main__':\n"
                        "    joblib.dump(SVC().fit([[0], [1]], [0, 1]), 'm.pkl')\n",
            "server.py": "import flask\nimport joblib\n\nMODEL = joblib.load('m.pkl')\n\n\nclass Server:\n"
                         "    def __init__(self):\n        self.app = flask.Flask(__name__)\n\n"
                         "        @self.app.route('/predict')\n        def predict():\n"
                         "            return str(MODEL.predict([[1]]))\n",
        }, "present", "a route on an app an object holds (`self.app`) cannot be followed: the file imports flask"),
    )

    def check(self, facts):
        if not has_serving(facts):
            yield self.found("not-applicable", ".", None, NO_SERVING)
            return
        graph = facts.graph
        if not served_by_code(facts):
            yield from self._model_server_parity(facts, graph)
            return
        reach = serving_reach(facts)
        serving_files = graph.serving_files
        train = offline_closure(graph, serving_files)
        all_serving = set().union(*reach.values()) if reach else set()
        shared = sorted(n for n in all_serving & train if node_path(n) not in serving_files)
        shared = [n for n in shared if not _nested_function(graph, n) and not _model_code(graph, n)]
        by_name = [n for n in shared if FEATURE_WORDS.search(node_name(n))]
        by_path = [n for n in shared if n not in by_name and FEATURE_WORDS.search(node_path(n))]
        # code that fetches data (`features/fetch_weather.py`) acquires inputs; it is not preprocessing
        feature_shared = [n for n in by_name + by_path
                          if not LOADER.match(node_name(n).rsplit(".", 1)[-1])
                          and not LOADER.match(node_path(n).rsplit("/", 1)[-1])]
        refits = []
        serving_calls = graph.calls_in(all_serving)
        # scopes that build a transformer (`self.scalers[c] = StandardScaler()`): a fit there is a re-fit
        builds = {(i.path, c.scope) for i, c in serving_calls if TRANSFORMER_BUILT.search(c.name)}
        for idx, call in serving_calls:
            if call.attr in ("fit", "fit_transform", "partial_fit") and (
                    TRANSFORMERS.search(call.name)
                    or ((idx.path, call.scope) in builds and f"def:{idx.path}:{call.scope}" not in train)) \
                    and not _fits_in_training_mode(graph, idx, call.scope, train):
                refits.append((idx, call))
        for idx, call in refits[:3]:
            yield self.found("gap", idx.path, call.line,
                             f"{call.name} fits a transform on request data at serving time, so encodings diverge from training")
        emitted = 0
        store = _feature_store(graph, serving_calls, train)
        if store:
            emitted += 1
            yield self.found("supports", store[0], store[1],
                             f"serving reads its features from the feature store ({store[2]}) that training's "
                             f"features come from ({store[3]}): one definition of every feature")
        for n in feature_shared[:5]:
            data = graph.g.nodes[n]
            if refits and any(node_path(n) == i.path for i, _ in refits):
                continue
            emitted += 1
            yield self.found("supports", data.get("path", node_path(n)), data.get("line"),
                             f"serving and training both use {node_name(n)}")
        # fitted artefacts that training writes and serving reads
        written = {v for u in train if u in graph.g for _, v, k in graph.g.out_edges(u, data="kind") if k == "writes"}
        loaded_model = None
        for u, v, data in graph.g.edges_from(all_serving, data=True):
            if data.get("kind") == "reads" and u in all_serving and v.startswith("art:"):
                name = v[4:]
                if FEATURE_WORDS.search(name) and (v in written or artefact_kind(name) == "model"):
                    emitted += 1
                    yield self.found("supports", node_path(u), data.get("line"),
                                     f"serving loads the fitted transform {name} saved by training")
                elif loaded_model is None:
                    loaded_model = (node_path(u), data.get("line"), name)
        own_features = []
        train_feature_defs = {node_name(n).rsplit(".", 1)[-1].lower() for n in train
                              if n.startswith("def:") and FEATURE_WORDS.search(node_name(n))}
        for n in sorted(all_serving):
            if n.startswith("def:") and node_path(n) in serving_files and FEATURE_WORDS.search(node_name(n)) \
                    and n not in train and graph.g.nodes[n].get("kind") == "function" \
                    and not LOADER.match(node_name(n).rsplit(".", 1)[-1]) and not _loads_fitted(graph, n) \
                    and not _names_the_model(node_name(n)) and not _model_code(graph, n):
                own_features.append(n)
        # serving that calls training's own feature functions shares them: a helper of its own beside
        # them (formatting a request, naming columns, explaining a prediction) is no re-implementation
        shares_functions = any(n in by_name for n in feature_shared)
        if own_features and not shares_functions and (train_feature_defs or not emitted):
            n = min(own_features, key=lambda m: (not STRONG_FEATURE.search(node_name(m)), "__" in node_name(m), m))
            yield self.found("gap", node_path(n), graph.g.nodes[n].get("line"),
                             f"serving defines its own preprocessing {node_name(n)} instead of sharing training's")
            applied = next(((i, c) for i, c in graph.calls_in(all_serving) if c.attr == "transform"
                            and not c.name.startswith("?self")), None)
            # the fitted object comes from an artefact file training wrote, or is the result of a
            # loader (`load_preprocessor().transform(...)`)
            loaded = loaded_model
            if loaded is None and applied is not None and _loaded_receiver(applied[1].name):
                loaded = (applied[0].path, applied[1].line, applied[1].name.rsplit(".", 1)[0])
            if not emitted and not refits and loaded is not None and applied is not None:
                yield self.found("partial", applied[0].path, applied[1].line,
                                 f"serving applies the fitted transform loaded from {loaded[2]} (saved by training), "
                                 f"but re-implements feature logic by hand ({node_name(n)} in {node_path(n)})")
        if not emitted and not refits and not own_features:
            if loaded_model or any(_loads_model(c) for _, c in graph.calls_in(all_serving)):
                where = loaded_model or next((i.path, c.line, c.name) for i, c in graph.calls_in(all_serving) if _loads_model(c))
                applied = _applies_loaded_transform(graph, all_serving, train)
                carried = _fitted_pipeline(graph, train)
                if applied:
                    yield self.found("supports", applied[0], applied[1],
                                     f"serving applies the fitted transform it loads ({applied[2]}); training fits "
                                     f"{applied[3]}, and serving re-implements no feature logic")
                elif carried:
                    yield self.found("supports", where[0], where[1],
                                     f"the preprocessing travels inside the model: training fits an sklearn pipeline "
                                     f"({carried[0]}:{carried[1]}) and serving loads the trained model ({where[2]}) "
                                     f"without re-implementing features")
                elif not _transforms_features(graph, train):
                    yield self.found("supports", where[0], where[1],
                                     f"trivial parity: training transforms no features (no feature functions, encoders, "
                                     f"scalers or get_dummies), and serving feeds the request to the trained model it loads "
                                     f"({where[2]})")
                elif not _serving_preprocesses(serving_calls) and _request_serving(graph) \
                        and _training_feature_step(graph):
                    yield self.found("gap", where[0], where[1],
                                     f"serving feeds the request to the trained model it loads ({where[2]}) with no "
                                     f"preprocessing at all, but training transforms its features "
                                     f"({_training_feature_step(graph)}): the model sees raw values it was not trained on")
                else:
                    yield self.found("partial", where[0], where[1],
                                     f"serving loads the trained model ({where[2]}) but shares no preprocessing code with training")

    def _model_server_parity(self, facts, graph):
        """Only a model server handles requests (a deploy call, a config, a manifest): it runs the
        artefact training saved and nothing else, so parity holds when that artefact carries all
        the preprocessing (training transforms no features, or fits them into a pipeline saved as
        the model), and fails when training transforms features outside it."""
        deployments = model_server_deployments(facts)
        if not deployments:
            return
        path, line, what = deployments[0]
        train = offline_closure(graph, set())
        if not _transforms_features(graph, train):
            yield self.found("supports", path, line,
                             f"trivial parity: {what}, which runs the model training saved, and training transforms "
                             f"no features (no feature functions, encoders, scalers or get_dummies)")
            return
        carried = _fitted_pipeline(graph, train)
        if carried:
            yield self.found("supports", path, line,
                             f"the preprocessing travels inside the served model: training fits an sklearn pipeline "
                             f"({carried[0]}:{carried[1]}) and {what}")
            return
        found = _feature_step(graph, train)
        yield self.found("gap", path, line,
                         f"{what}, but the model server runs the bare model: the feature transformation training "
                         f"applies outside it ({found}) is not part of the deployed artefact")


# a parameter that switches a shared preprocessing function between fitting (training) and applying
MODE_FLAG = re.compile(r"(?i)^(is_)?(training|train|fit|is_train|fitting)$")


def _fits_in_training_mode(graph, idx, scope: str, train) -> bool:
    """`process_data(X, training=True)` fits the encoder, `training=False` applies the one it is
    handed: a shared function with a mode flag that training also runs, which both fits and
    applies (`encoder.transform`), fits only in training."""
    d = idx.defs.get(scope)
    if d is None or f"def:{idx.path}:{scope}" not in train or not any(MODE_FLAG.match(p) for p in d.params):
        return False
    return any(c.attr == "transform" and c.scope == scope for c in idx.calls)


def _names_the_model(name: str) -> bool:
    """`predict_transformer`, `SentenceTransformerModel._predict`: a Transformer is the network
    architecture, not preprocessing, when it is the name's only feature word."""
    words = [w for w in re.split(r"[^a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()) if w]
    found = [w for w in words if FEATURE_WORDS.search(w)]
    return bool(found) and all(w in ("transformer", "transformers") for w in found)


SERVING_PREP = re.compile(r"(?i)(transform|preprocess|feature|encod|scal|normali[sz]|tokeni[sz]|vectori[sz]|"
                          r"get_dummies|resize|clean|prepare|to_tensor|ToTensor|Compose|apply_chat_template)")


BATCH_FRAMEWORKS = {"scheduled-scoring", "batch-scoring"}


def _request_serving(graph) -> bool:
    """Serving answers requests; a batch job may read features a pipeline stage already prepared."""
    return not any(ep.framework in BATCH_FRAMEWORKS for ep in graph.serving_endpoints)


def _training_feature_step(graph):
    """Where the training run itself transforms features outside the model: a feature function it
    calls or an encoder, scaler or transform it builds (not a config getter or a column list)."""
    from mlscan.rules._mlcode import in_example_dir
    train = graph.training_closure
    for n in sorted(train):
        if not n.startswith("def:") or graph.g.nodes.get(n, {}).get("kind") != "function":
            continue
        path, qual = n[4:].rsplit(":", 1)
        name = qual.rsplit(".", 1)[-1]
        if "." in qual or not _feature_def(name) or FEATURE_LIST.search(name) or NOT_FEATURE_CODE.search(name):
            continue
        data = graph.g.nodes.get(n, {})
        return f"{qual} at {data.get('path', path)}:{data.get('line')}"
    for idx, call in graph.calls_in(train):
        if FEATURE_CALLS.search(call.name) and not in_example_dir(idx.path) and not call.name.startswith("?"):
            return f"{call.name} at {idx.path}:{call.line}"
    return None


NOT_FEATURE_CODE = re.compile(r"(?i)(config|component|artifact|registry|settings)")


def _serving_preprocesses(serving_calls) -> bool:
    """Whether serving does any preprocessing of its own: transform calls, encoders, image
    transforms, feature or cleaning helpers (by hand or not)."""
    return any(FEATURE_CALLS.search(c.name) or SERVING_PREP.search(c.attr) for _, c in serving_calls)


def _feature_step(graph, train) -> str:
    """Where training transforms features outside the model: a feature function or a transform call."""
    from mlscan.rules._mlcode import in_example_dir
    for n in sorted(train):
        if n.startswith("def:") and FEATURE_DEF.search(node_name(n).rsplit(".", 1)[-1]):
            data = graph.g.nodes.get(n, {})
            return f"{node_name(n)} at {data.get('path', node_path(n))}:{data.get('line')}"
    for idx, call in graph.calls_in(train):
        if FEATURE_CALLS.search(call.name) and not in_example_dir(idx.path):
            return f"{call.name} at {idx.path}:{call.line}"
    return "training's own preprocessing"


MONITORING = re.compile(r"(?i)(monitor|drift|reference_data)[^/]*$")  # a monitoring job is not the training side
TRANSFORMER_BUILT = re.compile(r"^sklearn\.(preprocessing|impute|feature_extraction|decomposition)\.\w+$")
STRONG_FEATURE = re.compile(r"(?i)preprocess|feature|transform|encod|scal")
FEATURE_CALLS = re.compile(r"(Encoder|Scaler|Vectori[sz]er|Imputer|Normali[sz]e|Binarizer|Discretizer|PCA|Polynomial|"
                           r"Tokenizer|OneHot|Ordinal|get_dummies|transforms\.|ColumnTransformer|sklearn\.pipeline|"
                           r"FunctionTransformer|log1p|\.cut$|\.qcut$)")
FEATURE_DEF = re.compile(r"(?i)(feature|preprocess|transform|encod|engineer|featuri[sz]e|normali[sz]e|scale|tokeni[sz]e)")
PANDAS_FEATURES = re.compile(r"(get_dummies|\.cut$|\.qcut$|log1p)")
FIT_ATTRS = {"fit", "train", "fit_generator", "train_model"}


def _transforms_features(graph, train) -> bool:
    """Whether training transforms its inputs at all (feature functions, encoders, scalers, image
    transforms, a fitted pipeline), or cannot be seen fitting a model (notebooks run by papermill)."""
    from mlscan.rules._mlcode import in_example_dir
    calls = [c for i, c in graph.calls_in(train) if not in_example_dir(i.path)]
    if not any(c.attr in FIT_ATTRS for c in calls):
        return True
    if any(n.startswith("def:") and _feature_def(node_name(n).rsplit(".", 1)[-1]) for n in train):
        return True
    return any(FEATURE_CALLS.search(c.name) for c in calls)


def _feature_def(name: str) -> bool:
    """A function named for transforming features; `load_iris_features()` loads them, it transforms nothing."""
    return bool(FEATURE_DEF.search(name)) and not LOADER.match(name)


def _applies_loaded_transform(graph, all_serving, train):
    """(path, line, call, fitted) when serving calls `.transform` on a fitted preprocessing object it
    loads (`SCALER.transform(x)` after `SCALER = joblib.load(...)`) and training fits that kind of
    transform (`StandardScaler().fit_transform`)."""
    serving_calls = graph.calls_in(all_serving)
    if not any(_loads_model(c) for _, c in serving_calls):
        return None
    fits = [c.name.rsplit(".", 1)[0] for _, c in graph.calls_in(train)
            if c.attr in ("fit", "fit_transform") and _fits_transform(c.name)]
    if not fits:
        return None
    fitted = fits[0]
    # a whole preprocessing object (a column transformer, a project's feature transformer), not one encoder
    whole = next((f for f in fits if f.startswith("sklearn.compose.") or not TRANSFORMERS.search(f)), None)
    for idx, call in serving_calls:
        receiver = call.name.rsplit(".", 1)[0]
        if call.attr != "transform" or receiver in ("self", "?self"):
            continue   # a class's own transform method, not a fitted object
        loaded = receiver.endswith("()") and receiver[:-2].rsplit(".", 1)[-1] in SERVING_LOAD_ATTRS
        held = receiver.rsplit(".", 1)[-1]    # `self.dv.transform`, `SCALER.transform`, `Predictor().preprocessor`
        if loaded or ("(" not in receiver and (FEATURE_WORDS.search(held) or held.lower() in FITTED_NAMES)):
            return idx.path, call.line, call.name, fitted
        # held by a serving object (`Predictor().preprocessor.transform`): only a whole preprocessing
        # object counts, as a single encoder there sits beside feature logic typed into the service
        if whole and "(" not in held and FEATURE_WORDS.search(held):
            return idx.path, call.line, call.name, whole
    return None


def _fits_transform(name: str) -> bool:
    """A fit of a preprocessing object: a library transformer (`StandardScaler().fit`), a column
    transformer, or an object held under a preprocessing name (`self.feature_engineer.fit_transform`,
    `preprocessor.fit`), as a project's own transformer class is."""
    receiver = name.rsplit(".", 1)[0]
    held = receiver[:-2] if receiver.endswith("()") else receiver
    held = held.rsplit(".", 1)[-1]
    return bool(TRANSFORMERS.search(name)) or name.startswith("sklearn.compose.") \
        or (held not in ("self", "?self") and FEATURE_WORDS.search(held) and held.lower() != "pipeline")


# short names a fitted transform is usually held under (`dv = DictVectorizer()`, `le`, `ohe`)
FITTED_NAMES = {"dv", "vec", "enc", "le", "ohe", "tfidf", "cv", "pca", "sc", "mms", "ss"}


PIPELINE_BUILDERS = ("sklearn.pipeline.Pipeline", "sklearn.pipeline.make_pipeline", "imblearn.pipeline.Pipeline",
                     "imblearn.pipeline.make_pipeline")
TRANSFORM_BUILDERS = PIPELINE_BUILDERS + ("sklearn.compose.ColumnTransformer", "sklearn.compose.make_column_transformer")
ESTIMATOR = re.compile(r"^(sklearn\.(ensemble|linear_model|svm|tree|neighbors|naive_bayes|neural_network|"
                       r"gaussian_process|discriminant_analysis)\.[A-Z]\w*|xgboost\.XGB\w+|lightgbm\.LGBM\w+|"
                       r"catboost\.CatBoost\w*)$")
MODEL_SAVES = re.compile(r"^(joblib\.dump|pickle\.dump|cloudpickle\.dump|dill\.dump|skops\.io\.dump|"
                         r"mlflow\.\w+\.(log_model|save_model)|bentoml\.\w+\.save_model)$")


def _fitted_pipeline(graph, train):
    """(path, line) of an sklearn pipeline that training saves as the model, when training has no
    feature functions of its own outside it: the fitted pipeline, saved as the model, carries the
    preprocessing. The pipeline is the model when it is fitted (`Pipeline(...).fit`), handed to the
    call that saves the model, or built beside the estimator that ends it (`make_pipeline(prep,
    RandomForestRegressor())`). Functions that build the pipeline and the methods of custom
    transformers inside it are part of it, not feature code outside it."""
    from mlscan.rules._mlcode import in_example_dir
    calls = [(i, c) for i, c in graph.calls_in(train) if not in_example_dir(i.path)]
    if any(PANDAS_FEATURES.search(c.name) for _, c in calls):
        return None
    builders = {(i.path, c.scope) for i, c in calls if c.name.startswith(TRANSFORM_BUILDERS)}
    estimators = {(i.path, c.scope) for i, c in calls if ESTIMATOR.match(c.name)}
    # project functions that return a pipeline (`build_pipeline()`, `get_pipeline()`)
    pipeline_functions = {c.scope.rsplit(".", 1)[-1] for i, c in calls
                          if c.name.startswith(PIPELINE_BUILDERS) and c.scope not in ("<module>", "<main>")}
    found = None
    for idx, call in calls:
        name = call.name
        receiver = name[: -len(call.attr) - 1]
        fitted = call.attr == "fit" and (name.startswith(tuple(f"{b}()" for b in PIPELINE_BUILDERS)) or (
            receiver.endswith("()") and "()" not in receiver[:-2]
            and receiver[:-2].rsplit(".", 1)[-1] in pipeline_functions))
        saved = MODEL_SAVES.match(name) and any(r.startswith(tuple(f"{b}()" for b in PIPELINE_BUILDERS)) for r in call.refs)
        ends_in_model = name.startswith(PIPELINE_BUILDERS) and "()" not in name and (idx.path, call.scope) in estimators
        if fitted or saved or ends_in_model:
            found = (idx.path, call.line)
            break
    if found is None:
        return None
    for n in train:
        if not (n.startswith("def:") and _feature_def(node_name(n).rsplit(".", 1)[-1])):
            continue
        path, qual = n[4:].rsplit(":", 1)
        d = graph.code[path].defs.get(qual) if path in graph.code else None
        if d is None or d.kind != "function" or "." in qual or (path, qual) in builders \
                or _transformer_method(graph, path, qual) or FEATURE_LIST.search(qual) \
                or _runs_builder(graph, n, builders):
            continue   # classes, methods, the functions that build or run the pipeline, and the ones that
            # name its columns (`infer_feature_columns`) are not feature code outside it
        return None
    return found


# functions that name the features rather than compute them: `infer_feature_columns`, `get_feature_names`
FEATURE_LIST = re.compile(r"(?i)_(columns?|cols|names|list|types|dtypes)$")


def _runs_builder(graph, node: str, builders) -> bool:
    """A function that reaches a pipeline or column-transformer builder (a `data_transformation`
    stage that fits the preprocessor the saved pipeline carries)."""
    reached = graph.reachable(node)
    return any(f"def:{path}:{scope}" in reached for path, scope in builders)


def _transformer_method(graph, path: str, qual: str) -> bool:
    """A custom transformer class (one with fit and transform methods) or one of its methods."""
    is_class = graph.g.nodes.get(f"def:{path}:{qual}", {}).get("kind") == "class"
    owner = qual if is_class or "." not in qual else qual.rsplit(".", 1)[0]
    return f"def:{path}:{owner}.fit" in graph.g and f"def:{path}:{owner}.transform" in graph.g


def _loads_fitted(graph, node: str) -> bool:
    """A serving function that loads a fitted object (`get_pipeline()` returning `joblib.load(PATH)`)
    and transforms nothing itself: a loader, whatever its name."""
    if STRONG_FEATURE.search(node_name(node).rsplit(".", 1)[-1]):
        return False   # `_build_features_for_future` builds features even if it reads a file on the way
    calls = [c for _, c in graph.calls_in({node})]
    return any(c.attr in SERVING_LOAD_ATTRS or LOADER.match(c.attr) for c in calls) and \
        not any(c.attr in ("transform", "fit_transform") or FEATURE_CALLS.search(c.name) for c in calls)


# feature-store reads: online (serving) and offline (training) views of the same feature definitions
ONLINE_FEATURES = {"get_online_features", "get_feature_vector", "get_feature_vectors", "score_batch", "read_online_features"}
OFFLINE_FEATURES = {"get_historical_features", "get_training_data", "create_training_set", "training_dataset",
                    "get_batch_data", "read_table", "get_offline_features"}


def _feature_store(graph, serving_calls, train):
    """(path, line, online call, offline call) when serving fetches features online from a feature
    store (Feast, Hopsworks, Databricks) and training reads the same store offline."""
    online = next(((i, c) for i, c in serving_calls if c.attr in ONLINE_FEATURES and _store_call(c)), None)
    if online is None:
        return None
    offline = next((c for _, c in graph.calls_in(train) if c.attr in OFFLINE_FEATURES and _store_call(c)), None)
    if offline is None:
        return None
    return online[0].path, online[1].line, online[1].name, offline.name


def _store_call(call) -> bool:
    return call.name.startswith(("feast", "hopsworks", "hsfs", "databricks.feature_store", "databricks.feature_engineering",
                                 "tecton", "?", "self.")) and "(" not in call.name.split(".", 1)[0]


def _loaded_receiver(name: str) -> bool:
    """`load_preprocessor().transform`, `joblib.load().transform`: a transform applied to what a loader returns."""
    receiver = name.rsplit(".", 1)[0]
    return receiver.endswith("()") and bool(LOADER.match(receiver[:-2].rsplit(".", 1)[-1]))


MODEL_BASES = re.compile(r"(^|\.)(Module|LightningModule|PreTrainedModel|Model|Sequential)$")
MODEL_CLASS_NAME = re.compile(r"(Model|Net|Network|Arch)$")


def _model_code(graph, node: str) -> bool:
    """The model itself (a network class, a model wrapper, one of their methods), which serving
    shares with training by loading it: `TransformerSentimentModel.predict`, `GFPGANv1Clean.forward`.
    Its name may hold a feature word (a Transformer, a `...Clean` architecture), but it is not
    preprocessing."""
    if node.startswith("mod:"):   # a module of model classes only (`transformer_model.py`)
        index = graph.code.get(node[4:])
        if index is None:
            return False
        tops = [d for q, d in index.defs.items() if "." not in q]
        classes = [d for d in tops if d.kind == "class"]
        return bool(classes) and all(_model_code(graph, f"def:{node[4:]}:{d.qualname}") for d in classes) \
            and not any(d.kind == "function" and _feature_def(d.qualname) for d in tops)
    if not node.startswith("def:"):
        return False
    path, qual = node[4:].rsplit(":", 1)
    index = graph.code.get(path)
    if index is None:
        return False
    parts = qual.split(".")
    for i in range(len(parts), 0, -1):
        d = index.defs.get(".".join(parts[:i]))
        if d is not None and d.kind == "class":
            return bool(MODEL_CLASS_NAME.search(d.qualname.rsplit(".", 1)[-1])
                        or any(MODEL_BASES.search(b) for b in d.bases)
                        or f"{d.qualname}.forward" in index.defs)
    return False


def _nested_function(graph, node: str) -> bool:
    """A function defined inside another function (not a method)."""
    if not node.startswith("def:"):
        return False
    path, qual = node[4:].rsplit(":", 1)
    if "." not in qual:
        return False
    owner = f"def:{path}:{qual.rsplit('.', 1)[0]}"
    return graph.g.nodes.get(owner, {}).get("kind") == "function"


def serving_dirs(graph, serving_files) -> set:
    """The folders of the serving application (`app/`, `web/`) that hold no training code: not the
    repo root, nor a package where training lives too (`madewithml/serve.py` next to `train.py`)."""
    training_paths = {node_path(n) for n in graph.training_closure}
    dirs = {p.rsplit("/", 1)[0] + "/" for p in serving_files if "/" in p}
    return {d for d in dirs if not any(t.startswith(d) for t in training_paths)}


def offline_closure(graph, serving_files) -> set:
    """What training-side code reaches: the training closure plus every offline entry point
    (featurize/prepare scripts, pipeline stages), since preprocessing often runs before training."""
    nodes = set(graph.training_closure)
    training = {ep.node for ep in graph.training_entry_points}
    # a script in the serving application's own folders (`web/`, `app/`) that trains nothing is a
    # serving helper run by hand (a `__main__` self-check), and a drift-monitoring job is monitoring:
    # neither is the training side
    own_dirs = tuple(serving_dirs(graph, serving_files))
    starts = []
    for ep in graph.entry_points:
        target_path = ep.target[4:].rsplit(":", 1)[0] if ep.target.startswith("def:") else ep.target[4:]
        if ep.kind in ("serve", "docker") or target_path in serving_files:
            continue
        if ep.node not in training and (target_path.startswith(own_dirs) or MONITORING.search(target_path)):
            continue
        starts.append(ep.node)
    return nodes | graph.code_reach_all(starts)
