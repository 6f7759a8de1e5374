from __future__ import annotations

import re
from pathlib import PurePosixPath

from mlscan.rulekit import Example, Rule
from mlscan.rules._monitoring import serving_modules
from mlscan.rules._serving import has_serving
from mlscan.rules._wiring import is_wired

METRIC_LIBS = {"prometheus_client": "Prometheus client", "prometheus_fastapi_instrumentator": "Prometheus instrumentator",
               "prometheus_flask_exporter": "Prometheus exporter", "starlette_exporter": "Prometheus exporter",
               "starlette_prometheus": "Prometheus exporter", "aioprometheus": "Prometheus client",
               "gantry": "Gantry", "arize": "Arize", "fiddler": "Fiddler", "aporia": "Aporia", "superwise": "Superwise",
               "arthurai": "Arthur", "seldon_core.metrics": "Seldon metrics"}
_ROOTS = {p.split(".")[0] for p in METRIC_LIBS}
DRIFT_NAME = re.compile(r"drift", re.I)
# a function named for checking drift (`drift_audit`, `check_data_drift`), not a drift term (`sde.drift`, `drift_coef`)
DRIFT_CHECK_NAME = re.compile(r"(?i)((^|_)(audit|check|detect|monitor|report|alert)\w*_drift|(^|_)drift_(audit|check|"
                              r"detect\w*|monitor\w*|report|alert\w*|test)s?)($|_)")
MONITOR_PATH = re.compile(r"monitor", re.I)
METRIC_TYPES = ("Counter", "Gauge", "Histogram", "Summary", "Enum", "Info")
# what a service's own health metrics are named for: requests, latency, errors, throughput
OPERATIONAL = re.compile(r"(?i)(request|latency|error|exception|throughput|http|duration|uptime|response_time|"
                         r"status|health|cpu|memory|in_?progress|_seconds$|calls?$|count$|total$)")
DATA_WORDS = re.compile(r"(?i)(predict|input|feature|output|score|drift|distribution|confidence|mean|class|label|"
                        r"value|psi|kl|dist)")
IMAGES = re.compile(r"^(docker\.io/)?(grafana/grafana|prom/prometheus|grafana/[\w-]+|prom/[\w-]+)(:|$)")


class ServingMonitoring(Rule):
    """The model in production is monitored

    Partial evidence for drift monitoring: the service exports metrics (Prometheus client or
    exporters, CloudWatch `put_metric_data`), sends predictions to an ML observability platform
    (Gantry, Arize, Fiddler, Aporia, Superwise, Arthur), ships Prometheus or Grafana
    configuration (scrape configs, provisioned dashboards and data sources, compose services),
    or has code named for drift, without a detector, in serving or monitoring modules. Dashboards let people watch inputs and
    outputs; nothing here compares them against a reference, hence partial. When every Prometheus
    metric the code defines is named for the service's operation (request counts, latency,
    errors, a count of predictions or their latency), the exporters and their dashboards watch the
    service, not the model, and say nothing (a count split by predicted class is a distribution);
    so do they when nothing serves a model (a training pipeline's stage timings, platform health),
    and dashboards or scrapes when the code exports no metric of its own (node and container
    exporters). A function named for drift that only returns a literal is a placeholder. A function
    named for checking drift (`drift_audit`, `check_data_drift`) that an entry point runs is partial
    wherever it lives; a drift term (`drift_coef`) is not monitoring.
    """

    id = "serving-monitoring"
    practice = "drift-monitoring"
    examples = (
        Example({
            "api/metrics.py": "from prometheus_client import Gauge\n\n"
                              "input_mean = Gauge('input_mean', 'mean of the last 100 inputs', ['feature'])\n\n"
                              "def record(window):\n    for col in window:\n"
                              "        input_mean.labels(col).set(window[col].mean())\n",
            "monitoring/prometheus.yml": "scrape_configs:\n  - job_name: api\n    static_configs:\n"
                                         "      - targets: ['api:8000']\n",
            "api/app.py": "from fastapi import FastAPI\n\napp = FastAPI()\n\n\n@app.post('/predict')\n"
                          "def predict(row: dict):\n    return {'y': MODEL.predict([row])[0]}\n",
        }, "partial", "summary statistics exported to Prometheus, no reference comparison", fires=True),
        Example({
            "app.py": "import logging\nfrom flask import Flask, request\n\napp = Flask(__name__)\n\n"
                      "@app.route('/predict', methods=['POST'])\ndef predict():\n"
                      "    logging.info('payload %s', request.json)\n    return {'y': 1}\n",
        }, "absent", "logging requests is payload logging, not monitoring", fires=False),
        Example({
            "service.py": "from prometheus_client import Counter, Histogram\n\n"
                          "REQUEST_LATENCY = Histogram('request_latency_seconds', 'Request latency in seconds')\n"
                          "ERROR_COUNT = Counter('error_count', 'Total number of errors', ['endpoint'])\n",
            "prometheus.yml": "scrape_configs:\n  - job_name: api\n    static_configs:\n      - targets: ['api:3000']\n",
        }, "absent", "request latency and error counts watch the service, not its data", fires=False),
        Example({
            "src/pipeline_metrics.py": "from prometheus_client import CollectorRegistry, Gauge, push_to_gateway\n\n\n"
                                       "def push(stage, seconds, rows):\n    registry = CollectorRegistry()\n"
                                       "    Gauge('stage_rows', 'rows processed', registry=registry).set(rows)\n"
                                       "    push_to_gateway('pushgateway:9091', job=stage, registry=registry)\n",
            "train.py": "from sklearn.linear_model import LogisticRegression\nfrom src.pipeline_metrics import push\n\n"
                        "LogisticRegression().fit([[0], [1]], [0, 1])\npush('train', 1.0, 2)\n",
            "k8s/grafana/dashboards/platform.json": '{"panels": [], "schemaVersion": 36}',
        }, "absent", "no model is served: pipeline metrics and platform dashboards watch no model", fires=False),
        Example({
            "app/main.py": "from fastapi import FastAPI\nfrom prometheus_client import Counter, Histogram\n\n"
                           "PREDICTIONS = Counter('predictions_total', 'Total number of predictions')\n"
                           "DURATION = Histogram('prediction_duration_seconds', 'Time spent processing prediction')\n"
                           "app = FastAPI()\n\n\n@app.post('/predict')\ndef predict(row: dict):\n"
                           "    PREDICTIONS.inc()\n    return {'y': MODEL.predict([row])[0]}\n",
            "monitoring/prometheus.yml": "scrape_configs:\n  - job_name: api\n    static_configs:\n"
                                         "      - targets: ['api:8000']\n",
        }, "absent", "a count of predictions and their latency watch the traffic, not the data", fires=False),
        Example({
            "app/main.py": "from fastapi import FastAPI\nfrom prometheus_client import Counter\n\n"
                           "PREDICTIONS = Counter('predictions_total', 'Predictions by class', ['predicted_class'])\n"
                           "app = FastAPI()\n\n\n@app.post('/predict')\ndef predict(row: dict):\n"
                           "    y = MODEL.predict([row])[0]\n    PREDICTIONS.labels(str(y)).inc()\n    return {'y': y}\n",
        }, "partial", "a count per predicted class is a prediction distribution over time", fires=True),
        Example({
            "app.py": "from fastapi import FastAPI\n\napp = FastAPI()\n\n\n@app.post('/predict')\ndef predict(row: dict):\n"
                      "    return {'y': MODEL.predict([row])[0]}\n",
            "docker-compose.yml": "services:\n  api:\n    build: .\n  grafana:\n    image: grafana/grafana-oss\n"
                                  "  cadvisor:\n    image: gcr.io/cadvisor/cadvisor\n",
        }, "absent", "a Grafana service with no metric of the code's own watches the platform", fires=False),
        Example({
            "api/monitoring.py": "from fastapi import APIRouter, HTTPException\n\nrouter = APIRouter()\n\n\n"
                                 "@router.get('/drift')\ndef check_data_drift(window: int = 100):\n"
                                 "    return {'drift_detected': False, 'message': 'not implemented'}\n",
            "api/main.py": "from fastapi import FastAPI\nfrom api.monitoring import router\n\napp = FastAPI()\n"
                           "app.include_router(router)\n\n\n@app.post('/predict')\ndef predict(row: dict):\n"
                           "    return {'y': MODEL.predict([row])[0]}\n",
        }, "absent", "a drift endpoint that returns a literal monitors nothing", fires=False),
        Example({
            "serving/app.py": "from fastapi import FastAPI\n\napp = FastAPI()\n\n\n@app.post('/predict')\ndef predict(row: dict):\n"
                              "    return {'y': MODEL.predict([row])[0]}\n",
            "retrain_monthly.py": "import logging\nimport pandas as pd\n\n\ndef drift_audit(served, recomputed):\n"
                                  "    diff = (served - recomputed).abs().max().max()\n"
                                  "    logging.info('drift audit: max feature drift %.3e', diff)\n\n\n"
                                  "if __name__ == '__main__':\n    drift_audit(pd.read_csv('served.csv'), pd.read_csv('recomputed.csv'))\n",
        }, "partial", "a drift audit a job runs, with no drift statistic against a reference", fires=True),
        Example({
            "app.py": "import gradio as gr\n\n\ndef predict(x):\n    return MODEL.predict([x])[0]\n\n\n"
                      "gr.Interface(fn=predict, inputs='text', outputs='text').launch()\n",
            "sde.py": "def drift_coef(x, t):\n    return -0.5 * x\n\n\nif __name__ == '__main__':\n    print(drift_coef(1.0, 0.1))\n",
        }, "absent", "the drift term of a stochastic differential equation is not drift monitoring", fires=False),
    )

    def check(self, facts):
        if not has_serving(facts):
            return  # no model in production: exporters and dashboards watch pipelines or the platform
        near_serving = serving_modules(facts)
        operational = _operational_only(facts)
        exported = False
        metric_calls = facts.call_table.named(_metric_call, attrs=("put_metric_data",), roots=_ROOTS)
        for idx in facts.non_test_code():
            hit = None
            for call in metric_calls.get(idx.path, ()):
                root = call.name.split(".", 1)[0].split("(", 1)[0]
                tool = None
                if operational and root.startswith(("prometheus", "starlette", "aioprometheus")):
                    continue
                if root in _ROOTS:
                    tool = METRIC_LIBS.get(root) or next((t for p, t in METRIC_LIBS.items() if call.name.startswith(p + ".")), None)
                elif call.attr == "put_metric_data":
                    tool = "CloudWatch metrics"
                if tool:
                    hit = (call.line, f"{tool} ({call.name.replace('()', '')}) exports monitoring data")
                    break
            if hit is None and (idx.path in near_serving or MONITOR_PATH.search(idx.path)):
                for qual, d in sorted(idx.defs.items(), key=lambda kv: kv[1].line):
                    if DRIFT_NAME.search(qual.rsplit(".", 1)[-1]) and not _stub(idx, qual):
                        hit = (d.line, f"{qual} is named for drift but compares against no reference")
                        break
            if hit is None and not idx.is_notebook:
                # a drift check a job runs wherever it lives (`drift_audit()` in the monthly retraining script)
                for qual, d in sorted(idx.defs.items(), key=lambda kv: kv[1].line):
                    if d.kind == "function" and DRIFT_CHECK_NAME.search(qual.rsplit(".", 1)[-1]) \
                            and not _stub(idx, qual) and is_wired(facts, idx.path, qual):
                        hit = (d.line, f"{qual}() checks for drift, run from an entry point, but with no drift "
                                       f"statistic against a reference")
                        break
            if hit:
                exported = True
                yield self.found("partial", idx.path, hit[0], hit[1])
        exported = exported or bool(metric_calls) and not operational
        for f in facts.files:
            if f.suffix not in (".yml", ".yaml", ".json") or f.size > 512 * 1024:
                continue
            low = f.path.lower()
            name = PurePosixPath(low).name
            if operational or not exported:
                # dashboards and scrapes of request/latency/error metrics, or of no metric the code
                # exports at all (node, container and cluster exporters), watch the platform, not the model
                break
            if name.startswith("prometheus") or "grafana" in low or "dashboard" in low or \
                    name.startswith(("docker-compose", "compose")):
                doc = facts.config(f.path)
                what = _monitoring_config(doc.mappings() if doc and not doc.error else [], low)
                if what:
                    yield self.found("partial", f.path, facts.line_of(f.path, what[1]) if what[1] else 1, what[0])


# what a placeholder does: report, raise or answer with a literal
STUB_CALLS = {"error", "warning", "info", "debug", "exception", "HTTPException", "print", "str", "dict", "jsonify",
              "JSONResponse", "NotImplementedError"}


def _stub(idx, qual: str) -> bool:
    """A function that computes nothing (`return {"drift_detected": False, "message": "not
    implemented"}`): named for drift, it monitors nothing."""
    return all(c.attr in STUB_CALLS for c in idx.calls if c.scope == qual)


def _operational_only(facts) -> bool:
    """Whether every Prometheus metric the code defines is named for the service's operation
    (requests, latency, errors) rather than for its data or predictions."""
    names = []
    for idx, call in facts.call_table.calls(_prometheus_metric, facts.non_test_code(), attrs=METRIC_TYPES):
        if call.name.startswith(("prometheus_client.", "aioprometheus.")) and call.attr in METRIC_TYPES:
            text = " ".join(a for a in call.args[:2] if isinstance(a, str))
            if not text:
                return False  # a metric named at run time may be about data
            labels = call.args[2] if len(call.args) > 2 else call.kwarg("labelnames", ())
            labels = [x for x in labels if isinstance(x, str)] if isinstance(labels, (list, tuple)) else []
            names.append((call.args[0] if isinstance(call.args[0], str) else "", text, labels))
    return bool(names) and all(_operational(name, text, labels) for name, text, labels in names)


# what a metric about the model's data is named for (a count of predictions alone is not)
DATA_STRONG = re.compile(r"(?i)(input|feature|output|score|drift|distribution|confidence|mean|class|label|value|psi|"
                         r"(^|_)kl(_|$)|dist|bucket|prob)")
# label dimensions that split predictions by outcome: a count per predicted class is a distribution
OUTCOME_LABEL = re.compile(r"(?i)(class|label|sentiment|category|prediction|predicted|outcome|tier|bucket|result|target)")


def _operational(name: str, text: str, labels) -> bool:
    """A metric of the service's operation: requests, predictions made, latency, errors, resources.
    `predictions_total` counts traffic; `predictions_total{predicted_class}` is a distribution."""
    if DATA_STRONG.search(text) or any(OUTCOME_LABEL.search(x) for x in labels):
        return False
    return bool(OPERATIONAL.search(name) or OPERATIONAL.search(text))


def _monitoring_config(maps, low):
    for d in maps:
        if "scrape_configs" in d:
            return "Prometheus scrape configuration", "scrape_configs"
        if "grafana" in low and ("datasources" in d or "providers" in d or "panels" in d or "dashboard" in d):
            return "Grafana dashboards / data sources", None
        if isinstance(d.get("panels"), list) and "schemaVersion" in d:
            return "Grafana dashboard", None
        services = d.get("services") if isinstance(d.get("services"), dict) else {}
        for name, svc in services.items():
            image = str((svc or {}).get("image", "")) if isinstance(svc, dict) else ""
            if IMAGES.match(image):
                return f"compose service {name!r} runs {image.split(':')[0]}", f"{name}:"
    return None


def _metric_call(name: str) -> bool:
    """A name the loop in check() acts on: a metrics library, or CloudWatch's put_metric_data."""
    return name.split(".", 1)[0].split("(", 1)[0] in _ROOTS or name.rpartition(".")[2] == "put_metric_data"


def _prometheus_metric(name: str) -> bool:
    return name.startswith(("prometheus_client.", "aioprometheus.")) and name.rpartition(".")[2] in METRIC_TYPES
