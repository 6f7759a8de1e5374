from __future__ import annotations

import re

from mlscan.facts.graph import looks_predictive
from mlscan.rulekit import Example, Rule
from mlscan.rules._serving import NO_SERVING, NOTEBOOK_DEMO, has_serving, serving_manifests, serving_reach
from mlscan.rules._vocab import RECORD_FILE_WRITES

# records of normal traffic; warnings and errors report problems, not payloads
RECORD_ATTRS = {"info", "debug", "log"}
PERSIST_ATTRS = {"execute", "executemany", "insert_one", "insert_many", "insert", "add", "add_all", "put_item",
                 "put_record", "put_records", "put_object", "send", "produce", "publish", "basic_publish", "emit",
                 "writerow", "writerows", "to_sql", "xadd", "lpush", "rpush", "log_records", "log_record",
                 "upload_fileobj", "create_document", "index", "write_row", "to_csv", "to_parquet", "write_table",
                 "write_to_dataset"}
# methods only a database, queue or stream client has: a sink whatever object holds them
STORE_ONLY_ATTRS = {"insert_one", "insert_many", "put_item", "put_record", "put_records", "xadd", "basic_publish",
                    "executemany", "batch_write_item", "add_all", "bulk_save_objects", "bulk_insert_mappings"}
PERSIST_PREFIXES = ("sqlite3", "sqlalchemy", "psycopg", "pymongo", "kafka", "confluent_kafka", "pika", "boto3", "redis",
                    "google.cloud", "azure", "fluent", "elasticsearch", "gantry", "whylogs", "evidently", "arize",
                    "fiddler", "nannyml", "mlflow", "wandb", "aiokafka", "nats", "csv", "pandas", "json.dump", "open",
                    "pyarrow", "polars")
MONITOR_CLIENTS = ("gantry.log", "whylogs.log", "arize", "fiddler", "fluent.sender.FluentSender().emit",
                   "fluent.asyncsender", "seldon", "gradio.CSVLogger", "gradio.HuggingFaceDatasetSaver",
                   "gradio.flagging.CSVLogger", "zenml.log_metadata", "zenml.log_model_metadata",
                   "zenml.log_artifact_metadata", "mlflow.log_table", "mlflow.log_dict", "wandb.Table",
                   "langfuse", "langsmith", "evidently.ui", "nannyml")
FILE_HANDLERS = ("logging.FileHandler", "logging.handlers.", "fluent.handler", "logging.config.dictConfig",
                 "logging.config.fileConfig", "watchtower", "google.cloud.logging", "logstash")


class PayloadsCaptured(Rule):
    """Serving records request inputs together with predictions

    Evidence: a serving handler that predicts and also writes the request to a persistent sink
    (database, file, queue, monitoring client, or a logger with a file/remote handler) — or request
    capture configured in a deployment manifest (KServe or Seldon `logger`, SageMaker
    `DataCaptureConfig`, Azure ML data collector, v2 `Collector` or v1 `ModelDataCollector`). Files count as sinks (`df.to_csv`, `to_parquet`),
    and so does a recorder object serving is handed (`self.db_logger.log_prediction(...)`) whose
    method writes to one. Rows of drift/quality metrics a module computes with Evidently are
    metrics, not payloads. A prediction script a scheduled workflow runs that keeps its predictions
    in files leaves a prediction history, not a record of each input: partial. A recorder function
    named for what it records (`log_prediction`) counts wherever it lives. Logging to stdout only counts as partial (a
    `print` must carry the request and the prediction, not the bare prediction or a throughput
    figure; a print of the request and one of the prediction in the same handler do), and so
    does a function that records payloads but that serving never calls ("defined but never called").
    A write to a local file (`json.dump`, `f.write`, `to_csv`) counts only in a function named for
    recording payloads, after the model ran (in that function or in the serving function that calls
    it), when it writes predictions, or when it appends to the file (`to_csv(path, mode='a')`, a write
    into a file opened with mode `a`): a file that keeps every record is a log. A route that runs no
    model but appends the structured records it is sent (a feedback route) keeps what clients send
    back: partial. A config, cache or model-metadata file a serving route rewrites is not a payload, nor is a result file the route opens for writing (`open(p, 'w')`) and
    replaces on each request, nor a frame serialised to text without a file (`df.to_csv(index=False)`
    for the response or a download button). A free-text line appended to a log file of the service's own is partial.
    A Gradio app beside the log its flag button wrote (`flagged/log.csv` committed) records only the
    requests a user chose to flag: partial. Not applicable without serving code.
    """

    id = "payload-capture"
    practice = "payload-logging"
    examples = (
        Example({
            "app.py": "import sqlite3\nfrom fastapi import FastAPI\napp = FastAPI()\ndb = sqlite3.connect('p.db')\n\n"
                      "@app.post('/predict')\ndef predict(row: dict):\n    y = MODEL.predict([row])\n"
                      "    db.execute('insert into log values (?, ?)', (str(row), float(y)))\n    return {'y': float(y)}\n",
        }, "present"),
        Example({
            "app.py": "import logging\nfrom flask import Flask, request\napp = Flask(__name__)\nlog = logging.getLogger(__name__)\n\n"
                      "@app.route('/predict', methods=['POST'])\ndef predict():\n    y = MODEL.predict(request.json)\n"
                      "    log.info('input=%s prediction=%s', request.json, y)\n    return str(y)\n",
        }, "partial", "stdout logging only"),
        Example({
            "app.py": "import joblib\nfrom flask import Flask, request, render_template\n\napp = Flask(__name__)\n"
                      "MODEL = joblib.load('m.pkl')\n\n\n@app.route('/upload', methods=['POST'])\ndef upload():\n"
                      "    pred = MODEL.predict([request.json['x']])\n    with open('static/prediction.txt', 'w') as f:\n"
                      "        f.write(str(pred[0]))\n    return render_template('result.html')\n",
        }, "absent", "a result file rewritten on every request for the page to show keeps no record"),
        Example({
            "app.py": "from flask import Flask, request\nimport joblib\napp = Flask(__name__)\nMODEL = joblib.load('m.pkl')\n\n"
                      "@app.route('/predict', methods=['POST'])\ndef predict():\n    features = request.get_json()\n"
                      "    y = MODEL.predict([features])\n    print(f'features={features} prediction={y}')\n    return str(y)\n",
        }, "partial", "request and prediction printed to stdout"),
        Example({
            "app.py": "from flask import Flask, request\nimport joblib\n\napp = Flask(__name__)\nMODEL = joblib.load('m.pkl')\n\n"
                      "@app.route('/predict', methods=['POST'])\ndef predict():\n    features = request.json['x']\n"
                      "    pred = MODEL.predict([features])\n    print(pred)\n    return str(pred)\n",
        }, "absent", "printing the bare prediction vector records no payload"),
        Example({
            "app.py": "import joblib\nfrom fastapi import FastAPI\nfrom loguru import logger\n\napp = FastAPI()\n"
                      "MODEL_PATH = 'model.joblib'\n\n\ndef get_model():\n    model = joblib.load(MODEL_PATH)\n"
                      "    logger.info(f'model loaded from {MODEL_PATH}')\n    return model\n\n\n@app.post('/predict')\n"
                      "def predict(payload: dict):\n    age = float(get_model().predict([list(payload.values())])[0])\n"
                      "    logger.info(f'prediction made: {age:.2f} years')\n    return {'age': age}\n",
        }, "absent", "log lines about loading the model and the bare prediction record no request"),
        Example({
            "dags/predict.py": "import lightgbm as lgb\nimport pandas as pd\nimport psycopg2\nfrom airflow import DAG\n"
                               "from airflow.operators.python import PythonOperator\n\n\ndef predict():\n"
                               "    conn = psycopg2.connect(dbname='churn')\n    cur = conn.cursor()\n"
                               "    df = pd.read_sql('select * from features', con=conn)\n"
                               "    model = lgb.Booster(model_file='models/model.txt')\n"
                               "    df['prediction'] = model.predict(df.drop(columns=['id']))\n"
                               "    for _, row in df.iterrows():\n"
                               "        cur.execute('insert into predictions values (%s, %s)', (row.id, row.prediction))\n"
                               "    conn.commit()\n\n\nwith DAG(dag_id='predict', schedule_interval='@daily') as dag:\n"
                               "    PythonOperator(task_id='predict', python_callable=predict)\n",
        }, "present", "a scheduled batch-scoring job stores every prediction with its row id in a table"),
        Example({
            "server.py": "import os\nfrom flask import Flask, jsonify, request\nfrom pymongo import MongoClient\n\napp = Flask(__name__)\n\n\n"
                         "def get_collection():\n    return MongoClient(os.environ['MONGO_URI']).get_database('prod').get_collection('preds')\n\n\n"
                         "def save_to_db(record, prediction):\n    rec = dict(record, prediction=prediction)\n"
                         "    get_collection().insert_one(rec)\n\n\n@app.route('/predict', methods=['POST'])\n"
                         "def predict():\n    record = request.get_json()\n    pred = float(MODEL.predict([record])[0])\n"
                         "    save_to_db(record, pred)\n    return jsonify({'prediction': pred})\n",
        }, "present", "each request and its prediction inserted into MongoDB through a helper's collection"),
        Example({
            "cog.yaml": "predict: 'predict.py:Predictor'\n",
            "predict.py": "import torch\nfrom cog import BasePredictor, Input, Path\n\n\nclass Predictor(BasePredictor):\n"
                          "    def setup(self):\n        self.model = torch.load('model.pt')\n\n"
                          "    def predict(self, img: Path = Input(), scale: float = Input(default=2)) -> Path:\n"
                          "        print(img, scale)\n        out = self.model.generate(img, scale)\n        return out\n",
        }, "absent", "a Cog predictor that echoes its inputs before the model runs records no prediction"),
        Example({
            "app.py": "from flask import Flask, request\napp = Flask(__name__)\n\n"
                      "@app.route('/predict', methods=['POST'])\ndef predict():\n    return str(MODEL.predict(request.json))\n",
        }, "absent"),
        Example({
            "isvc.yaml": "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata: {name: m}\n"
                         "spec:\n  predictor:\n    logger: {mode: all, url: http://logger}\n    sklearn: {storageUri: gs://m}\n",
        }, "present", "capture configured in the manifest"),
        Example({"train.py": "from sklearn.svm import SVC\nSVC().fit([[0]], [0])\n"}, "not-applicable"),
        Example({
            "app.py": "from fastapi import FastAPI\nimport joblib\napp = FastAPI()\nMODEL = joblib.load('m.pkl')\n\n"
                      "@app.post('/predict')\ndef predict(row: dict):\n    return {'y': float(MODEL.predict([row])[0])}\n",
            "monitoring/store.py": "import sqlite3\n\nDB = sqlite3.connect('payloads.db')\n\n\n"
                                   "def log_prediction(row, y):\n    DB.execute('insert into log values (?, ?)', (str(row), y))\n",
        }, "partial", "a payload recorder that serving never calls: defined but never called"),
        Example({"serving/models.config": "model_config_list {\n  config {\n    name: 'churn'\n"
                                          "    base_path: '/models/churn'\n    model_platform: 'tensorflow'\n  }\n}\n",
                 "train.py": "import tensorflow as tf\nm = tf.keras.Sequential()\nm.fit([[0]], [0])\nm.save('export/1')\n"},
                "absent", "a TF Serving model config is a serving path: nothing records its requests"),
        Example({
            "app.py": "import gradio as gr\nimport joblib\nfrom flagging import DbLogger\n\nMODEL = joblib.load('model.pkl')\n\n"
                      "def predict(text):\n    return str(MODEL.predict([text])[0])\n\n"
                      "demo = gr.Interface(fn=predict, inputs='text', outputs='text', flagging_callback=DbLogger())\n",
            "flagging.py": "import sqlite3\nimport gradio as gr\n\nDB = sqlite3.connect('flags.db')\n\n\n"
                           "class DbLogger(gr.FlaggingCallback):\n    def setup(self, components, flagging_dir):\n        pass\n\n"
                           "    def flag(self, flag_data, flag_option=None, flag_index=None, username=None):\n"
                           "        DB.execute('insert into flags values (?)', (str(flag_data),))\n",
        }, "present", "a Gradio flagging callback that the framework calls records inputs and outputs"),
        Example({
            "app.py": "import gradio as gr\nimport joblib\n\nMODEL = joblib.load('model.pkl')\n\n\n"
                      "def predict(text):\n    return str(MODEL.predict([text])[0])\n\n\n"
                      "demo = gr.Interface(fn=predict, inputs='text', outputs='text')\ndemo.launch()\n",
            "flagged/log.csv": "text,output,flag,username,timestamp\ngreat,positive,,,2024-01-01\n",
        }, "partial", "only Gradio's flag button wrote flagged/log.csv: requests a user chose to flag"),
        Example({
            "app.py": "import gradio as gr\nimport joblib\n\nMODEL = joblib.load('model.pkl')\n\n\n"
                      "def predict(text):\n    return str(MODEL.predict([text])[0])\n\n\n"
                      "demo = gr.Interface(fn=predict, inputs='text', outputs='text')\ndemo.launch()\n",
        }, "absent", "a Gradio app with the default flag button and no flagged log records nothing"),
        Example({
            "app.py": "import pandas as pd\nfrom fastapi import FastAPI\n\napp = FastAPI()\n\n\n@app.post('/predict')\n"
                      "def predict(rows: list):\n    df = pd.DataFrame(rows)\n    df['pred'] = MODEL.predict(df)\n"
                      "    df.to_csv('scored/requests.csv', mode='a', header=False)\n    return df['pred'].tolist()\n",
        }, "present", "request rows and predictions appended to a CSV file"),
        Example({
            "monitoring/drift.py": "import psycopg2\nfrom evidently.report import Report\nfrom evidently.metric_preset import DataDriftPreset\n\n\n"
                                   "def log_drift(reference, current):\n    report = Report(metrics=[DataDriftPreset()])\n"
                                   "    report.run(reference_data=reference, current_data=current)\n"
                                   "    score = report.as_dict()['metrics'][0]['result']['share_of_drifted_columns']\n"
                                   "    with psycopg2.connect('dbname=m') as conn:\n"
                                   "        conn.cursor().execute('insert into drift values (%s)', (score,))\n",
            "app.py": "from flask import Flask, request, jsonify\nfrom monitoring.drift import log_drift\n\napp = Flask(__name__)\n\n\n"
                      "@app.route('/predict', methods=['POST'])\ndef predict():\n    rows = request.get_json()\n"
                      "    pred = MODEL.predict(rows)\n    log_drift(REFERENCE, rows)\n    return jsonify(pred.tolist())\n",
        }, "absent", "an aggregate drift score stored per request is a metric, not the payload"),
        Example({
            "database/dblogger.py": "import psycopg\n\n\nclass DBLogger:\n    def __init__(self, uri):\n"
                                    "        self.connection = psycopg.connect(uri)\n\n    def log_prediction(self, row):\n"
                                    "        with self.connection.cursor() as cursor:\n"
                                    "            cursor.execute('insert into predictions values (%s, %s)', row)\n",
            "api/main.py": "from fastapi import FastAPI\n\napp = FastAPI()\n\n\nclass Predictor:\n"
                           "    def __init__(self, db_logger=None):\n        self.db_logger = db_logger\n\n"
                           "    def predict(self, x):\n        y = MODEL.predict(x)\n        if self.db_logger:\n"
                           "            self.db_logger.log_prediction((x, y))\n        return y\n\n\n"
                           "@app.post('/predict')\ndef predict(x: list):\n    return Predictor().predict(x).tolist()\n",
        }, "present", "an injected recorder whose method writes to the database"),
        Example({
            "app.py": "import joblib\nimport pandas as pd\nimport streamlit as st\nfrom database import log_prediction\n\n"
                      "MODEL = joblib.load('model.pkl')\nrow = {'n': st.number_input('N')}\nif st.button('Predict'):\n"
                      "    y = MODEL.predict(pd.DataFrame([row]))[0]\n    log_prediction(row, y)\n    st.success(y)\n",
            "database.py": "import sqlite3\n\n\ndef log_prediction(row, result):\n    conn = sqlite3.connect('logs.db')\n"
                           "    conn.cursor().execute('insert into predictions values (?, ?)', (str(row), str(result)))\n"
                           "    conn.commit()\n",
        }, "present", "a Streamlit app stores each input and prediction through a helper module's log_prediction"),
        Example({
            "app.py": "import joblib\nimport pandas as pd\nimport streamlit as st\nfrom database import cache_result\n\n"
                      "MODEL = joblib.load('model.pkl')\nrow = {'n': st.number_input('N')}\nif st.button('Predict'):\n"
                      "    y = MODEL.predict(pd.DataFrame([row]))[0]\n    cache_result(y)\n    st.success(y)\n",
            "database.py": "import sqlite3\n\n\ndef cache_result(result):\n    conn = sqlite3.connect('cache.db')\n"
                           "    conn.cursor().execute('insert into cache values (?)', (str(result),))\n",
        }, "absent", "a shared helper not named for recording payloads is not counted"),
        Example({
            ".github/workflows/predict.yml": "on:\n  schedule:\n    - cron: '0 */2 * * *'\njobs:\n  predict:\n"
                                             "    runs-on: ubuntu-latest\n    steps:\n      - run: python inference.py\n",
            "inference.py": "import joblib\nimport pandas as pd\n\nif __name__ == '__main__':\n"
                            "    df = pd.read_csv('latest.csv')\n    model = joblib.load('model.pkl')\n"
                            "    df['pred'] = model.predict(df[['a', 'b']])\n    df[['id', 'pred']].to_csv('history/preds.csv', mode='a')\n",
        }, "partial", "a scheduled scoring run keeps its predictions in files: a prediction history"),
        Example({
            "inference.py": "import joblib\nimport pandas as pd\n\nif __name__ == '__main__':\n"
                            "    df = pd.read_csv('latest.csv')\n    model = joblib.load('model.pkl')\n"
                            "    df['pred'] = model.predict(df[['a', 'b']])\n    df[['id', 'pred']].to_csv('history/preds.csv', mode='a')\n",
        }, "not-applicable", "the same script run by hand is offline prediction, not serving"),
        Example({
            "train.py": "import torch\nmodel = torch.nn.Linear(2, 1)\nmodel(torch.zeros(1, 2)).sum().backward()\n"
                        "torch.save(model.state_dict(), 'model.pt')\n",
            "src/transforms.py": "def eval_transform():\n    return lambda x: x\n",
            "demo.ipynb": NOTEBOOK_DEMO,
        }, "absent", "a notebook's Gradio handler records nothing; a file another cell writes is not a payload"),
        Example({
            "app.py": "import json\nfrom fastapi import FastAPI\n\napp = FastAPI()\n\n\n@app.post('/adapters/delete')\n"
                      "def delete_adapter(name: str):\n    with open('adapters.json') as f:\n        data = json.load(f)\n"
                      "    data.pop(name)\n    with open('adapters.json', 'w') as f:\n        json.dump(data, f)\n"
                      "    return {'deleted': name}\n\n\n@app.post('/generate')\ndef generate(prompt: str):\n"
                      "    return {'text': MODEL.generate(prompt)}\n",
        }, "absent", "a config file rewritten by a serving route is not a record of requests"),
        Example({
            "app.py": "import json\nfrom fastapi import FastAPI\n\napp = FastAPI()\n\n\ndef log_prediction(features, y):\n"
                      "    with open('logs/predictions.jsonl', 'a') as f:\n"
                      "        f.write(json.dumps({'features': features, 'prediction': y}) + '\\n')\n\n\n"
                      "@app.post('/predict')\ndef predict(features: dict):\n    y = float(MODEL.predict([features])[0])\n"
                      "    log_prediction(features, y)\n    return {'y': y}\n",
        }, "present", "each request and its prediction appended as a JSON line"),
        Example({
            "server_util.py": "import datetime\n\n\ndef log_info(text):\n    with open('service_log.txt', 'a') as f:\n"
                       "        f.write('%s %s\\n' % (datetime.datetime.now(), text))\n",
            "server.py": "from flask import Flask, request, jsonify\nfrom server_util import log_info\n\napp = Flask(__name__)\n\n\n"
                         "@app.route('/predict', methods=['POST'])\ndef predict():\n    url = request.json['url']\n"
                         "    y = MODEL.predict(url)\n    log_info('infer %s done' % url)\n    return jsonify(y)\n",
        }, "partial", "a home-made free-text log of requests is partial"),
        Example({
            "app.py": "from flask import Flask, request\n\napp = Flask(__name__)\n\n\n@app.route('/predict', methods=['POST'])\n"
                      "def predict():\n    data = request.json\n    print('Request:', data)\n"
                      "    prediction = MODEL.predict(data)\n    print('Prediction:', prediction)\n    return str(prediction)\n",
        }, "partial", "the request and the prediction printed by two prints in the handler"),
        Example({
            "app.py": "import time\nfrom fastapi import FastAPI\n\napp = FastAPI()\n\n\n@app.post('/generate')\n"
                      "def generate(prompt: str):\n    t0 = time.time()\n    out = MODEL.generate(prompt)\n"
                      "    throughput = len(out) / (time.time() - t0)\n    print(COLORS.GREEN, throughput)\n    return out\n",
        }, "absent", "a throughput figure printed after generating records no payload"),
        Example({
            "serve/inference.py": "import io\nimport joblib\nimport pandas as pd\n\n\ndef model_fn(model_dir):\n"
                                  "    return joblib.load(model_dir + '/model.joblib')\n\n\ndef input_fn(body, content_type):\n"
                                  "    return pd.read_csv(io.StringIO(body), header=None)\n\n\ndef predict_fn(data, model):\n"
                                  "    return pd.DataFrame(model.predict(data))\n\n\ndef output_fn(prediction, accept):\n"
                                  "    return prediction.to_csv(index=False)\n",
        }, "absent", "SageMaker's output_fn serialises the response with to_csv(): nothing is written"),
        Example({
            "score.py": "import json\nimport logging\nimport joblib\n\n\ndef init():\n    global model\n"
                        "    model = joblib.load('model.pkl')\n\n\ndef run(raw):\n    data = json.loads(raw)['data']\n"
                        "    result = model.predict(data)\n    logging.info('input=%s prediction=%s', data, result)\n"
                        "    return result.tolist()\n",
        }, "partial", "Azure ML calls run() for each request: its log line is on the serving path"),
        Example({
            "api.py": "import pandas as pd\nimport torch\nfrom fastapi import FastAPI, UploadFile\n\napp = FastAPI()\n"
                      "MODEL = torch.load('model.pt')\n\n\ndef _append_row(path, row):\n"
                      "    pd.DataFrame([row]).to_csv(path, mode='a', header=False, index=False)\n\n\n"
                      "@app.post('/classify')\ndef classify(image: UploadFile):\n    x = to_tensor(image)\n"
                      "    cls = int(MODEL(x).argmax())\n    _append_row('logs/current.csv', {'mean': float(x.mean()), 'cls': cls})\n"
                      "    return {'class': cls}\n",
        }, "present", "a row per request appended to a CSV (mode='a') by a helper serving calls"),
        Example({
            "main.py": "import json\nfrom fastapi import FastAPI\n\napp = FastAPI()\n\n\n@app.post('/predict')\n"
                       "def predict(text: str):\n    return {'label': MODEL.predict([text])[0]}\n\n\n@app.post('/feedback')\n"
                       "def submit_feedback(request: dict):\n    with open('data/feedback.jsonl', 'a') as f:\n"
                       "        f.write(json.dumps(request) + '\\n')\n    return {'status': 'ok'}\n",
        }, "partial", "only a feedback route appends what clients send back; /predict records nothing"),
        Example({
            "tasks.py": "import time\nfrom datetime import datetime\nfrom fastapi import FastAPI\n\napp = FastAPI()\n\n\n"
                        "@app.post('/task/run/{name}')\ndef task_run(name: str):\n    with open('tasks_out.txt', mode='a') as f:\n"
                        "        f.write(f'{name}: {datetime.now()}\\n')\n    return {'ok': True}\n\n\n"
                        "@app.post('/predict')\ndef predict(row: dict):\n    return {'y': MODEL.predict([row])[0]}\n",
        }, "absent", "a route that runs no model appending free text to a task log records no payload"),
    )

    def check(self, facts):
        manifests = serving_manifests(facts)
        for path, line, platform, doc in manifests:
            if _has_key(doc, "logger"):
                yield self.found("supports", path, facts.line_of(path, "logger"),
                                 f"{platform} request/response logger configured")
        for idx, call in facts.call_table.calls(_capture_config, facts.non_test_code(), attrs=_capture_attr,
                                                      roots=("azureml",)):
            if call.attr == "DataCaptureConfig" or call.name.endswith("DataCaptureConfig"):
                yield self.found("supports", idx.path, call.line, "SageMaker endpoint data capture configured")
            elif call.name.startswith(("azureml.ai.monitoring", "azureml.monitoring")) \
                    or call.attr == "Collector" and "azureml" in call.name:   # v2 `Collector`, v1 `ModelDataCollector`
                yield self.found("supports", idx.path, call.line, "Azure ML data collector records payloads")
        for doc in facts.yaml_docs():
            for d in doc.mappings():
                if _has_key(d, "DataCaptureConfig") or _has_key(d, "data_collector"):
                    yield self.found("supports", doc.path, facts.line_of(doc.path, "DataCapture") if "DataCapture" in (facts.text(doc.path) or "") else facts.line_of(doc.path, "data_collector"),
                                     "payload capture configured in a deployment file")
        if not has_serving(facts):
            yield self.found("not-applicable", ".", None, NO_SERVING)
            return
        graph = facts.graph
        reach = serving_reach(facts)
        served_files = {n.split(":", 2)[1] for nodes in reach.values() for n in nodes}
        file_logging = _persisting_log_handler(facts, served_files)
        best = None
        serving_files = graph.serving_files
        serving_dirs = {f.rsplit("/", 1)[0] if "/" in f else "" for f in serving_files}
        recorders = _recorder_methods(facts)
        scheduled = {ep.handler for ep in graph.serving_endpoints if ep.framework == "scheduled-scoring"}
        for handler, nodes in sorted(serving_reach(facts, with_startup=False).items()):
            calls = graph.calls_in(nodes)
            # a route named for predicting may forward the request to the model service and keep the answer
            predicts = any(looks_predictive(c.attr) for _, c in calls) or looks_predictive(handler.rsplit(":", 1)[-1])
            if not predicts:
                # a route that runs no model but appends the structured records it is sent to a file
                # (a feedback route keeping what clients send back): some requests kept, not each prediction
                kept = next(((i, c) for i, c in calls if best is None and _serving_side(i.path, serving_files, serving_dirs)
                             and _persists(c) and _appends(i, c) and (c.attr != "write" or _structured_write(i, c))), None)
                if kept:
                    best = ("partial", kept[0].path, kept[1].line,
                            f"a route that runs no model ({handler.rsplit(':', 1)[-1]}) appends the records it is "
                            f"sent to a file via {kept[1].name}: what clients send back, not a record of each prediction")
                continue
            # only the serving side's own code: shared training/evaluation code logs for other reasons
            # (a helper named for recording payloads, `log_prediction` in `database.py`, is serving's own)
            calls = [(i, c) for i, c in calls if _serving_side(i.path, serving_files, serving_dirs)
                     or PAYLOAD_FUNCTION.search(c.scope.rsplit(".", 1)[-1])]
            for idx, call in calls:
                if _persists(call) and not _records_metrics(idx) and (
                        handler in scheduled or _carries_payload(idx, call, calls)):
                    if handler in scheduled and call.attr in RECORD_FILE_WRITES:
                        # a recurring scoring run that keeps its output files: a prediction history
                        best = best or ("partial", idx.path, call.line,
                                        f"a scheduled scoring run writes its predictions to files via {call.name}, "
                                        f"a prediction history rather than a record of each input")
                        continue
                    if call.attr == "write" and not _structured_write(idx, call):
                        if _overwritten(idx, call):
                            continue  # `open('prediction.txt', 'w')` per request: a scratch file, rewritten each time
                        # `f.write('infer %s done' % url)`: a home-made text log, not a record of each payload
                        best = best or ("partial", idx.path, call.line,
                                        f"serving appends free text to a log file of its own ({call.name}), "
                                        f"not a structured record of each request and its prediction")
                        continue
                    how = "appends each request's record to a file" if _appends(idx, call) else "writes request data"
                    best = ("supports", idx.path, call.line, f"serving {how} via {call.name}")
                    break
                recorder = recorders.get(call.attr) if call.name.startswith(("?", "self.")) or "()." in call.name else None
                if recorder and PAYLOAD_FUNCTION.search(call.attr):
                    best = ("supports", idx.path, call.line,
                            f"serving records payloads with {call.attr}(), which writes them via {recorder[2]} "
                            f"({recorder[0]}:{recorder[1]})")
                    break
                if call.attr in RECORD_ATTRS and not call.name.startswith(("warnings", "math", "numpy", "torch")) \
                        and ((call.arg_names and _logs_request(idx, call)) or _structured_record(idx, call)):
                    structured = _structured_record(idx, call) and call.name.split(".")[:2] != ["logging", call.attr]
                    level = "supports" if file_logging or structured else "partial"
                    where = "to a log handler that persists it" if file_logging else \
                        "as one structured record on an application logger" if structured else "as free text to the console log"
                    cand = (level, idx.path, call.line, f"serving logs requests/predictions ({call.name}) {where}")
                    if best is None or (best[0] == "partial" and level == "supports"):
                        best = cand
                elif call.name == "print" and call.scope not in ("<module>", "<main>") and best is None \
                        and _prints_payload(idx, call):
                    # the request and its prediction; a bare print(pred), the inputs echoed before the
                    # model runs, or a throughput figure records no payload
                    best = ("partial", idx.path, call.line,
                            f"serving prints requests/predictions ({', '.join(call.arg_names[:3])}) to stdout only")
            if best and best[0] == "supports":
                break
        if best is None:
            best = _unwired_recorder(facts, graph, set().union(*reach.values()) if reach else set())
        if best is None:
            best = _gradio_flags(facts, graph)
        if best:
            yield self.found(*best)


def _gradio_flags(facts, graph):
    """A Gradio app beside the log its flag button wrote (`flagged/log.csv` committed): users flagged
    some requests with their outputs, by hand: partial, not a record of every request."""
    if not any(ep.framework == "gradio" or ep.path in graph.code and "gradio" in graph.code[ep.path].imported_roots
               for ep in graph.serving_endpoints):   # a Gradio app, or a server class wrapping one (`ServeGradio`)
        return None
    log = next((f.path for f in facts.files if re.search(r"(^|/)\.?flagged/[^/]*\.csv$", f.path)
                or re.search(r"(^|/)\.gradio/flagged/", f.path) and f.path.endswith(".csv")), None)
    if log is None:
        return None
    return ("partial", log, None, f"only Gradio's flag button records requests with their outputs ({log}), "
                                  f"when a user clicks it: not every request")


REQUEST_NAME = re.compile(r"(?i)(request|payload|inputs?|features?|body|data|record|row|rows|sample|query|text|prompt|"
                          r"instances?|x|event)(_\w+)?")
REQUEST_READ = re.compile(r"(^|\.)request\.(get_json|json|form|args|files|get_data|data|values|body)|"
                          r"Request\(\)\.(json|body|form)$")


def _logs_request(idx, call) -> bool:
    """Whether a log line can carry the request: it names the handler's input (a parameter, a name
    such as `payload` or `features`), logs two things after the model ran (the prediction and its
    input), or its function read the request body before it. A line that only reports a load or
    the bare prediction records no payload."""
    names = set(call.arg_names) - {"self", "cls"}
    for other in idx.calls:   # `logging.info({"prediction": str(pred), "request": p})`: names inside nested calls
        if other.line == call.line and other.scope == call.scope:
            names |= set(other.arg_names) - {"self", "cls"}
    d = idx.defs.get(call.scope)
    if names & set(d.params if d else ()) - {"self", "cls"} or any(
            REQUEST_NAME.fullmatch(n) and not RESOURCE_NAME.search(n) for n in names):
        return True
    if len(names) >= 2 and _after_prediction(idx, call) and any(OUTPUT_NAME.search(n) for n in names):
        return True   # the prediction and what it was made from, logged together
    return bool(names) and any(c.scope == call.scope and c.line <= call.line and REQUEST_READ.search(c.name)
                               for c in idx.calls)


OUTPUT_NAME = re.compile(r"(?i)(^|_)(preds?|predictions?|predicted|outputs?|results?|responses?|answers?|completions?|"
                         r"generations?|labels?|scores?|probs?|probabilit(y|ies)|y|y_hat|classes|class_name)(_|$)")


def _prints_payload(idx, call) -> bool:
    """A print that carries the request and its prediction: one print after the model ran naming
    both, or, in the same function, one naming the request and one after the model naming its output
    (`print('Request:', data)` ... `print('Prediction:', prediction)`)."""
    if not _after_prediction(idx, call):
        return False
    d = idx.defs.get(call.scope)
    params = set(d.params if d else ()) - {"self", "cls"}

    def request_like(names):
        return any(REQUEST_NAME.fullmatch(n) and not RESOURCE_NAME.search(n) or n in params for n in names)

    names = set(call.arg_names)
    if len(names) >= 2 and request_like(names) and any(OUTPUT_NAME.search(n) for n in names):
        return True
    if len(names) >= 2 and any(OUTPUT_NAME.search(n) for n in names) and request_like(names | params):
        return True
    if not any(OUTPUT_NAME.search(n) for n in names):
        return False
    return any(c.name == "print" and c.scope == call.scope and c.line != call.line and request_like(set(c.arg_names))
               for c in idx.calls)


# names of resources rather than of data: `features_path`, `input_dir`
RESOURCE_NAME = re.compile(r"(?i)_(path|paths|dir|file|filename|url|uri|name|names|count|size|len|shape|columns|cols)$")


def _after_prediction(idx, call) -> bool:
    """Whether a call comes after a call that runs a model in the same function, so that what it
    records can hold the prediction."""
    return any(c.scope == call.scope and c.line < call.line and looks_predictive(c.attr) for c in idx.calls)


PAYLOAD_FUNCTION = re.compile(r"(?i)(^|_)(log|record|save|store|capture|persist|write)_\w*"
                              r"(request|prediction|payload|inference|input|output|response|feedback)s?($|_)")


def _unwired_recorder(facts, graph, served):
    """A function named for recording payloads that writes them somewhere, but that serving never
    calls: partial at most, 'defined but never called'."""
    from mlscan.rules._wiring import NOT_WIRED
    for idx in facts.non_test_code():
        for qual, d in idx.defs.items():
            node = f"def:{idx.path}:{qual}"
            m = PAYLOAD_FUNCTION.search(qual.rsplit(".", 1)[-1])
            if d.kind != "function" or node in served or m is None:
                continue
            if m.group(3).lower() in ("prediction", "input", "output") and not SERVING_SIDE.search(idx.path):
                continue  # saving predictions in batch or training code is not payload logging
            if any(c.scope == qual and _persists(c) for c in idx.calls):
                return ("partial", idx.path, d.line,
                        f"{qual}() records request payloads, but it is {NOT_WIRED.replace('an entry point', 'the serving code, an entry point')}")
    return None


SERVING_SIDE = re.compile(r"(?i)(^|/)[^/]*(serv|api|app|deploy|monitor|log|flag|endpoint|inference|predict|handler)[^/]*(/|\.py$)")


def _serving_side(path: str, files, dirs) -> bool:
    if path in files:
        return True
    return bool(SERVING_SIDE.search(path))


def _records_metrics(idx) -> bool:
    """A module that computes drift/quality reports (Evidently) stores those metrics, not payloads."""
    return idx.imports_module("evidently") is not None


def _recorder_methods(facts):
    """Method name -> (path, line, sink) for functions that persist what they are given: serving that
    holds such a recorder as an injected object (`self.db_logger.log_prediction(...)`) cannot be
    followed through the call graph, but the method's name still says what it does."""
    out = {}
    persisting = facts.call_table.named(_persists_name)
    for idx in facts.non_test_code():
        sinks = persisting.get(idx.path)
        if not idx.defs or not sinks:
            continue
        for qual, d in idx.defs.items():
            name = qual.rsplit(".", 1)[-1]
            if d.kind == "function" and name not in out:
                sink = next((c.name for c in sinks if c.scope == qual), None)
                if sink:
                    out[name] = (idx.path, d.line, sink)
    return out


def _persisting_log_handler(facts, files) -> bool:
    """A file/remote log handler (or a custom logging.Handler) configured in the serving app's code."""
    for path in sorted(files):
        idx = facts.code.get(path)
        if idx is None:
            continue
        if facts.call_table.named(_file_handler, roots=[h.split(".")[0] for h in FILE_HANDLERS]).get(path):
            return True
        if any(b.startswith(("logging.Handler", "logging.StreamHandler")) for d in idx.defs.values() for b in d.bases):
            return True
    return False


def _structured_write(idx, call) -> bool:
    """A file write of a serialised record: JSON or a model dump made in the same function before it."""
    return any(c.scope == call.scope and c.line <= call.line and (
        c.name in ("json.dumps", "orjson.dumps", "ujson.dumps") or c.attr in ("model_dump_json", "to_json", "dumps"))
        for c in idx.calls)


def _overwritten(idx, call) -> bool:
    """The file written was opened for writing (`open(p, 'w')`), not appending, in the same function:
    each request replaces the last one (a result file a page renders), so nothing is kept."""
    mode = _open_mode(idx, call)
    return isinstance(mode, str) and mode.startswith("w")


def _open_mode(idx, call):
    """The mode of the last file the function opened before `call` (None when it opened none)."""
    opened = [c for c in idx.calls if c.scope == call.scope and c.line <= call.line
              and (c.name in ("open", "io.open", "builtins.open") or c.attr == "open")]
    if not opened:
        return None
    last = max(opened, key=lambda c: c.line)
    at = 0 if last.attr == "open" and last.name not in ("open", "io.open", "builtins.open") else 1   # Path().open(mode)
    return last.kwarg("mode", last.args[at] if len(last.args) > at else None)


def _appends(idx, call) -> bool:
    """A file write that adds to what the file holds, so each call's record is kept: a frame
    written with `mode='a'` (`df.to_csv(path, mode='a', header=False)`), or a write into a file the
    same function opened for appending (`open(p, 'a')`, `path.open('a')`)."""
    if call.attr in ("to_csv", "to_json"):
        mode = call.kwarg("mode", None)
    elif call.attr in ("write", "writerow", "writerows") or call.name == "json.dump":
        mode = _open_mode(idx, call)
    else:
        return False
    return isinstance(mode, str) and mode.startswith("a")


def _structured_record(idx, call) -> bool:
    """The log call emits one JSON/dict record (json.dumps on the same line, or `extra=`)."""
    return call.has_kwarg("extra") or any(
        c.line == call.line and (c.name in ("json.dumps", "dict", "orjson.dumps", "ujson.dumps")
                                 or c.attr in ("model_dump_json", "to_json", "model_dump"))
        for c in idx.calls)


def _persists(call) -> bool:
    if call.attr in SERIALISERS and not call.args and not any(k in SERIALISERS[call.attr] for k, _ in call.kwargs):
        return False   # `prediction.to_csv(index=False)` returns the response body: nothing is written
    return _persists_name(call.name)


# pandas writers that return the text when given no file: (keywords that name the file)
SERIALISERS = {"to_csv": ("path_or_buf",), "to_json": ("path_or_buf",), "to_parquet": ("path",)}


def _persists_name(name: str) -> bool:
    """`_persists` judged on the call's name alone (its last part is `call.attr`)."""
    attr = name.rpartition(".")[2]
    if name.startswith(MONITOR_CLIENTS):
        return True
    if attr in PERSIST_ATTRS:
        head = name[: -len(attr) - 1]
        if attr in ("execute", "executemany") and head.endswith("cursor()"):
            return True  # a DB-API cursor, however the connection was reached (`self.connection.cursor()`)
        if attr in STORE_ONLY_ATTRS:
            return True  # only a store has these, however it was reached (`get_mongo_collection().insert_one`)
        return head.startswith(PERSIST_PREFIXES) or head.startswith("?") and attr in (
            "execute", "executemany", "insert_one", "insert_many", "put_item", "put_record", "produce", "publish",
            "basic_publish", "emit", "writerow", "writerows", "to_sql", "xadd", "log_records", "to_csv", "to_parquet")
    return name in ("json.dump",) or (attr == "write" and name.startswith(("open", "?f", "?fh", "?file")))


def _carries_payload(idx, call, calls) -> bool:
    """Whether a write can hold a request's payload. Databases, queues and monitoring clients are
    sinks for records; a local file written by `json.dump`, `write` or `to_csv` is as often a cache,
    a config or model metadata (`adapters.json`, `tmdb_ids.json`, `model_metadata.json`), so it counts
    only in a function named for recording payloads (`log_prediction`), after the model ran in the same
    function or in the serving function that calls it (`output_data(scored)` after `score_data(df)`),
    or when what it writes is named for predictions."""
    if not _file_write(call):
        return True
    if _appends(idx, call):
        return True   # a file opened for appending keeps every record: a log, not a cache or a config
    function = call.scope.rsplit(".", 1)[-1]
    if PAYLOAD_FUNCTION.search(function) or _after_model_ran(idx, call):
        return True
    if call.scope not in ("<module>", "<main>") and any(
            c.attr == function and _after_model_ran(i, c) for i, c in calls):
        return True
    names = set(call.arg_names) | {n for c in idx.calls if c.line == call.line and c.scope == call.scope
                                   for n in c.arg_names}
    names |= {call.name.split(".")[0].lstrip("?")}   # `scored_df.to_csv(...)`: the frame written
    return any(PREDICTION_NAME.search(n) for n in names)


# calls that read or load rather than run a model, although `looks_predictive` accepts them
NOT_A_RUN = {"load", "load_model", "from_pretrained", "load_learner", "pipeline", "transform", "__call__", "call",
             "encode", "embed"}


def _after_model_ran(idx, call) -> bool:
    """Whether the model ran (predict, generate, score ...) before `call` in the same function."""
    return any(c.scope == call.scope and c.line < call.line and looks_predictive(c.attr) and c.attr not in NOT_A_RUN
               for c in idx.calls)


PREDICTION_NAME = re.compile(r"(?i)(^|_)(preds?|predictions?|predicted|scored|forecasts?|payloads?|inferences?|"
                             r"log_entry)(_|$)")


def _file_write(call) -> bool:
    """A write to a local file (`json.dump`, `f.write`, `df.to_csv`, a csv writer), not to a store."""
    return call.attr in RECORD_FILE_WRITES




def _has_key(node, key: str) -> bool:
    from mlscan.facts.configs import walk
    return any(k == key for k, _ in walk(node))


def _capture_attr(attr: str) -> bool:
    return attr.endswith("DataCaptureConfig") or attr in ("Collector", "ModelDataCollector")


def _capture_config(name: str) -> bool:
    """The names the first loop of check() acts on: SageMaker data capture, Azure ML collectors."""
    attr = name.rpartition(".")[2]
    return attr == "DataCaptureConfig" or name.endswith("DataCaptureConfig") or \
        name.startswith(("azureml.ai.monitoring", "azureml.monitoring")) or attr == "Collector" and "azureml" in name


def _file_handler(name: str) -> bool:
    return name.startswith(FILE_HANDLERS)
