from __future__ import annotations

import re
from pathlib import PurePosixPath

from mlscan.rulekit import Example, Rule
from mlscan.rules._ops import COMPOSE_NAME
from mlscan.rules._serving import NO_SERVING, has_serving, serving_reach

# resolved-name prefixes of service metrics / tracing / APM clients -> tool
INSTRUMENTS = {
    "prometheus_client": "Prometheus client", "prometheus_fastapi_instrumentator": "Prometheus FastAPI instrumentator",
    "prometheus_flask_exporter": "Prometheus Flask exporter", "starlette_exporter": "Prometheus Starlette exporter",
    "starlette_prometheus": "Prometheus Starlette middleware", "aioprometheus": "Prometheus client",
    "django_prometheus": "django-prometheus", "bentoml.metrics": "BentoML metrics", "ray.serve.metrics": "Ray Serve metrics",
    "ray.util.metrics": "Ray metrics", "opentelemetry": "OpenTelemetry", "statsd": "StatsD", "datadog": "Datadog",
    "ddtrace": "Datadog APM", "newrelic": "New Relic", "elasticapm": "Elastic APM", "sentry_sdk": "Sentry",
    "aws_embedded_metrics": "CloudWatch embedded metrics", "google.cloud.monitoring_v3": "Cloud Monitoring",
    "azure.monitor.opentelemetry": "Azure Monitor", "opencensus.ext.azure": "Azure Monitor",
    "applicationinsights": "Application Insights", "pyroscope": "Pyroscope", "honeycomb": "Honeycomb",
    "logfire": "Logfire", "seldon_core.metrics": "Seldon metrics",
}
_ROOTS = {p.split(".")[0] for p in INSTRUMENTS}
HEALTH_ROUTE = re.compile(r"(?i)^/?(health|healthz|healthcheck|health_check|ready|readyz|readiness|live|livez|liveness|"
                          r"ping|status|metrics|heartbeat)/?$")
PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
ALERT_WORDS = re.compile(r"(?i)latency|duration|request|http|error|5\d\d|status|cpu|memory|throughput|rps|uptime|"
                         r"inference_time|predict")


class ServiceMonitored(Rule):
    """The prediction service exports health metrics, and alerts on them

    Evidence: metrics, tracing or APM instrumentation (Prometheus client and exporters,
    OpenTelemetry, StatsD, Datadog, New Relic, Elastic APM, Sentry, CloudWatch `put_metric_data`,
    BentoML/Ray Serve metrics) in code the serving endpoints reach; Prometheus alerting rules
    (`groups: … alert:` or `PrometheusRule`), Alertmanager configs, CloudWatch alarms and Grafana
    dashboards that chart request, latency or error metrics. On their own, health or metrics
    endpoints (`/health`, `/ready`, `/metrics`), Kubernetes probes, Docker `HEALTHCHECK`,
    Prometheus scrape configs and dashboards of other data are partial. Not applicable without
    serving code.
    """

    id = "service-monitored"
    practice = "service-monitoring"
    examples = (
        Example({
            "app.py": "from fastapi import FastAPI\nfrom prometheus_fastapi_instrumentator import Instrumentator\n"
                      "app = FastAPI()\nInstrumentator().instrument(app).expose(app)\n\n"
                      "@app.post('/predict')\ndef predict(x: list):\n    return {'y': MODEL.predict([x]).tolist()}\n",
            "monitoring/alerts.yml": "groups:\n  - name: model-api\n    rules:\n      - alert: HighLatency\n"
                                     "        expr: histogram_quantile(0.95, rate(http_request_duration_seconds_bucket[5m])) > 0.5\n"
                                     "        for: 10m\n",
        }, "present", "instrumented, with an alert rule", fires=True),
        Example({
            "app.py": "from flask import Flask, request\napp = Flask(__name__)\n\n@app.route('/healthz')\ndef health():\n"
                      "    return 'ok'\n\n@app.route('/predict', methods=['POST'])\ndef predict():\n"
                      "    return str(MODEL.predict(request.json))\n",
        }, "partial", "only a health endpoint", fires=True),
        Example({
            "app.py": "from flask import Flask, request\napp = Flask(__name__)\n\n@app.route('/predict', methods=['POST'])\n"
                      "def predict():\n    return str(MODEL.predict(request.json))\n",
            "train.py": "from prometheus_client import Gauge, push_to_gateway\nGauge('train_loss', 'loss').set(0.1)\n",
        }, "absent", "metrics pushed from training are not service monitoring", fires=False),
        Example({
            "app.py": "from flask import Flask, request\napp = Flask(__name__)\n\n@app.route('/predict', methods=['POST'])\n"
                      "def predict():\n    return str(MODEL.predict(request.json))\n",
            "grafana/dashboards/api.json": '{"title": "model api", "schemaVersion": 36, "panels": [{"type": "timeseries", '
                                           '"targets": [{"expr": "rate(http_requests_total{status=~\\"5..\\"}[5m])"}]}]}',
        }, "present", "a provisioned dashboard of the service's error rate"),
        Example({"train.py": "from sklearn.svm import SVC\nSVC().fit([[0]], [0])\n"}, "not-applicable"),
    )

    def check(self, facts):
        if not has_serving(facts):
            yield self.found("not-applicable", ".", None, NO_SERVING)
            return
        graph = facts.graph
        reach = set()
        for nodes in serving_reach(facts).values():
            reach |= nodes
        reach_paths = {n[4:].rsplit(":", 1)[0] if n.startswith("def:") else n[4:] for n in reach}
        serving_paths = set(graph.serving_files)
        seen = set()
        for idx in facts.non_test_code():
            if idx.path not in reach_paths or idx.is_notebook:
                continue
            for call in sorted(idx.calls, key=lambda c: c.line):
                tool = _instrument(call.name)
                if tool is None and call.attr == "put_metric_data" and "boto" in call.name:
                    tool = "CloudWatch metrics"
                if tool and idx.path not in seen:
                    seen.add(idx.path)
                    yield self.found("supports", idx.path, call.line,
                                     f"serving code exports service metrics with {tool} ({call.name.replace('()', '')})")
                    break
        for path in sorted(serving_paths - seen):   # imported and wired (`Instrumentator().instrument(app)` counts above)
            idx = facts.code.get(path)
            ref = idx.imports_module(*[p for p in INSTRUMENTS]) if idx else None
            if ref and path not in seen:
                seen.add(path)
                yield self.found("supports", path, ref.line, f"serving module imports {INSTRUMENTS.get(ref.module.split('.')[0], ref.module)}")
        yield from self._alerting(facts)
        for ep in graph.serving_endpoints:
            route = ep.label.rsplit(" ", 1)[-1]
            if HEALTH_ROUTE.match(route):
                yield self.found("partial", ep.path, ep.line, f"{ep.framework} exposes a {route} endpoint")
        yield from self._probes(facts)

    def _alerting(self, facts):
        for doc in facts.yaml_docs():
            for d in doc.mappings():
                if d.get("kind") == "PrometheusRule" or _alert_groups(d):
                    yield self.found("supports", doc.path, facts.line_of(doc.path, "alert:"), "Prometheus alerting rules")
                    break
                if isinstance(d.get("receivers"), list) and isinstance(d.get("route"), dict):
                    yield self.found("supports", doc.path, facts.line_of(doc.path, "receivers"), "Alertmanager routes alerts")
                    break
                res = d.get("Resources")
                if isinstance(res, dict) and any(isinstance(r, dict) and r.get("Type") == "AWS::CloudWatch::Alarm"
                                                 for r in res.values()):
                    yield self.found("supports", doc.path, facts.line_of(doc.path, "AWS::CloudWatch::Alarm"),
                                     "CloudWatch alarm declared")
                    break
                if "scrape_configs" in d:
                    yield self.found("partial", doc.path, facts.line_of(doc.path, "scrape_configs"),
                                     "Prometheus scrapes the service (no alert rules in the repo)")
                    break
        for idx, call in facts.call_table.calls(_alarm, facts.non_test_code(), attrs=("put_metric_alarm",)):
            if call.attr == "put_metric_alarm" and "boto" in call.name:
                yield self.found("supports", idx.path, call.line, "CloudWatch alarm created in code")
        for f in facts.files:
            low = f.path.lower()
            if f.suffix != ".json" or not ("grafana" in low or "dashboard" in low) or f.size > 1024 * 1024:
                continue
            doc = facts.config(f.path)
            data = doc.data if doc and isinstance(doc.data, dict) else {}
            data = data.get("dashboard", data) if isinstance(data.get("dashboard"), dict) else data
            if isinstance(data.get("panels"), list) or isinstance(data.get("rows"), list):
                text = facts.text(f.path) or ""
                exprs = " ".join(re.findall(r'"(?:expr|query|rawSql|target)"\s*:\s*"([^"]*)"', text))
                if ALERT_WORDS.search(exprs):
                    yield self.found("supports", f.path, 1, "Grafana dashboard charts request/latency/error metrics"
                                     + (" with alerts" if '"alert"' in text else ""))
                else:
                    yield self.found("partial", f.path, 1, "Grafana dashboard, but its panels chart no service health metrics")

    def _probes(self, facts):
        for path, instrs in sorted(facts.dockerfiles.items()):
            for ins in instrs:
                if ins.keyword == "HEALTHCHECK" and not ins.value.strip().upper().startswith("NONE"):
                    yield self.found("partial", path, ins.line, "Docker HEALTHCHECK probes the container")
                    break
        for doc in facts.yaml_docs():
            text = None
            for d in doc.mappings():
                if d.get("kind") in ("Deployment", "StatefulSet", "Service", "InferenceService", "SeldonDeployment") \
                        or COMPOSE_NAME.match(PurePosixPath(doc.path).name):
                    text = facts.text(doc.path) or ""
                    break
            if text is None:
                continue
            probe = next((p for p in (*PROBES, "healthcheck:") if p in text), None)
            if probe:
                yield self.found("partial", doc.path, facts.line_of(doc.path, probe),
                                 f"{probe.rstrip(':')} checks that the service is up")


def _instrument(name: str):
    root = name.split(".", 1)[0].split("(", 1)[0]
    if root not in _ROOTS:
        return None
    bare = name.replace("()", "")
    for prefix, tool in INSTRUMENTS.items():
        if bare == prefix or bare.startswith(prefix + "."):
            return tool
    return None


def _alert_groups(d) -> bool:
    groups = d.get("groups")
    if not isinstance(groups, list):
        return False
    for g in groups:
        rules = g.get("rules") if isinstance(g, dict) else None
        if isinstance(rules, list) and any(isinstance(r, dict) and "alert" in r for r in rules):
            return True
    return False


def _alarm(name: str) -> bool:
    return name.rpartition(".")[2] == "put_metric_alarm" and "boto" in name
