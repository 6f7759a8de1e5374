from __future__ import annotations

import re
from pathlib import PurePosixPath

from mlscan.rulekit import Example, Rule
from mlscan.rules._ops import compose_packaging, dockerfile_packaging
from mlscan.rules._serving import NO_SERVING, has_serving, serving_manifests

# images and charts of supporting infrastructure, not the model service
INFRA = re.compile(r"(?i)(^|[/_-])(postgres(ql)?|mysql|mariadb|redis|mongo(db)?|minio|mlflow|prometheus|grafana|"
                   r"alertmanager|airflow|jupyter(hub|lab)?|kafka|zookeeper|elasticsearch|kibana|fluentd|fluent-bit|"
                   r"rabbitmq|nginx|traefik|envoy|busybox|memcached|cassandra|clickhouse|superset|"
                   r"label-studio|feast|kubeflow|argo|tekton|cert-manager|ingress)([:/_-]|$)")
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet"}
MANAGED_MODELS = re.compile(r"^sagemaker\.([\w.]+\.)?(Model|PyTorchModel|TensorFlowModel|SKLearnModel|XGBoostModel|"
                            r"HuggingFaceModel|MXNetModel|ModelBuilder)$|^azure\.ai\.ml\.entities\.(ManagedOnline|"
                            r"KubernetesOnline)Deployment$|^google\.cloud\.aiplatform\.Model\.upload$")


class ServingPackaged(Rule):
    """The prediction service is packaged as a container or a model-server manifest

    Evidence: a Dockerfile whose `CMD`/`ENTRYPOINT` runs the serving code — directly, through a
    shell script it calls, or by starting a server (uvicorn, gunicorn, BentoML, TorchServe,
    Triton, MLflow, Ray Serve…) — or that builds on a model-server image or the AWS Lambda image;
    a compose service built from the repo that does the same; `bentofile.yaml`, `cog.yaml`, KServe
    or Seldon manifests, Kubernetes workloads, Helm charts, Ray Serve configs, Serverless/SAM
    templates, TorchServe/Triton model configs, or SageMaker/Azure ML/Vertex model objects that
    run the service in a managed container. Dockerfiles that exist but do not run the serving
    code (a training or development image) count as partial. Not applicable without serving code.
    """

    id = "serving-packaged"
    practice = "containerised-serving"
    examples = (
        Example({
            "serve/app.py": "from fastapi import FastAPI\nimport joblib\napp = FastAPI()\nmodel = joblib.load('m.pkl')\n\n"
                            "@app.post('/predict')\ndef predict(x: list):\n    return {'y': model.predict([x]).tolist()}\n",
            "Dockerfile": "FROM python:3.11-slim\nCOPY . /app\nWORKDIR /app\nRUN pip install -r requirements.txt\n"
                          "CMD [\"uvicorn\", \"serve.app:app\", \"--host\", \"0.0.0.0\", \"--port\", \"8000\"]\n",
        }, "present", "the image starts the FastAPI app", fires=True),
        Example({
            "app.py": "from flask import Flask, request\napp = Flask(__name__)\n\n"
                      "@app.route('/predict', methods=['POST'])\ndef predict():\n    return str(MODEL.predict(request.json))\n",
            "train.py": "from sklearn.svm import SVC\nSVC().fit([[0]], [0])\n",
            "Dockerfile": "FROM python:3.11\nCOPY . .\nCMD [\"python\", \"train.py\"]\n",
        }, "partial", "the only image trains; nothing packages the service", fires=True),
        Example({
            "app.py": "from flask import Flask, request\napp = Flask(__name__)\n\n"
                      "@app.route('/predict', methods=['POST'])\ndef predict():\n    return str(MODEL.predict(request.json))\n",
        }, "absent", "serving code, no packaging", fires=False),
        Example({
            "service.py": "import bentoml\n\n@bentoml.service\nclass Classifier:\n    @bentoml.api\n"
                          "    def predict(self, x: list) -> list:\n        return self.model.predict(x)\n",
            "bentofile.yaml": "service: 'service:Classifier'\ninclude:\n  - '*.py'\npython:\n  requirements_txt: requirements.txt\n",
        }, "present", "a BentoML build file"),
        Example({
            "scripts/start.sh": "#!/bin/sh\ncd /srv && gunicorn -b 0.0.0.0:8080 api.main:app\n",
            "api/main.py": "from fastapi import FastAPI\napp = FastAPI()\n\n@app.get('/predict')\n"
                           "def predict(q: str):\n    return {'y': MODEL.predict([q])}\n",
            "docker/Dockerfile": "FROM python:3.11\nCOPY . /srv\nENTRYPOINT [\"/srv/scripts/start.sh\"]\n",
        }, "present", "the entrypoint script starts the server", fires=True),
        Example({"train.py": "from sklearn.svm import SVC\nSVC().fit([[0]], [0])\n",
                 "Dockerfile": "FROM python:3.11\nCOPY . .\nCMD [\"python\", \"train.py\"]\n"}, "not-applicable"),
    )

    def check(self, facts):
        if not has_serving(facts):
            yield self.found("not-applicable", ".", None, NO_SERVING)
            return
        other = []
        for p in dockerfile_packaging(facts):
            if p.serves:
                yield self.found("supports", p.path, p.line, p.message)
            else:
                other.append(p)
        for p in compose_packaging(facts):
            yield self.found("supports", p.path, p.line, p.message)
        for hit in self._manifests(facts):
            yield self.found("supports", *hit)
        for idx, call in facts.call_table.calls(_managed, facts.non_test_code(), roots=("sagemaker", "azure", "google")):
            if MANAGED_MODELS.match(call.name.replace("()", "")):
                yield self.found("supports", idx.path, call.line,
                                 f"{call.name.replace('()', '')} runs the model in a managed serving container")
                break
        if any(ep.framework == "modal" for ep in facts.graph.serving_endpoints):
            ep = next(ep for ep in facts.graph.serving_endpoints if ep.framework == "modal")
            yield self.found("supports", ep.path, ep.line, "Modal web endpoint: Modal builds and runs the container image")
        for p in other:
            yield self.found("partial", p.path, p.line, f"{p.message}; it does not run the prediction service")

    def _manifests(self, facts):
        seen = set()
        for path, line, platform, _ in serving_manifests(facts):
            if path not in seen:
                seen.add(path)
                yield path, line, f"{platform} manifest deploys the model server"
        for f in facts.files:
            name = f.name.lower()
            if name in ("bentofile.yaml", "bentofile.yml"):
                yield f.path, 1, "BentoML build file packages the service as a Bento (and container image)"
            elif name == "cog.yaml":
                doc = facts.config(f.path)
                if doc and isinstance(doc.data, dict) and doc.data.get("predict"):
                    yield f.path, facts.line_of(f.path, "predict"), "Cog config packages the predictor as a container"
            elif name in ("serverless.yml", "serverless.yaml"):
                doc = facts.config(f.path)
                if doc and isinstance(doc.data, dict) and doc.data.get("functions"):
                    yield f.path, facts.line_of(f.path, "functions"), "Serverless Framework config packages the functions"
            elif name == "chart.yaml" and not any(p in ("node_modules", "vendor") for p in PurePosixPath(f.path).parts):
                doc = facts.config(f.path)
                chart = str(doc.data.get("name", "")) if doc and isinstance(doc.data, dict) else ""
                if not INFRA.search(chart or PurePosixPath(f.path).parent.name):
                    yield f.path, 1, f"Helm chart {chart or ''} packages the service for Kubernetes".replace("  ", " ")
            elif name == "config.pbtxt":
                yield f.path, 1, "Triton model configuration for a Triton Inference Server container"
            elif name == "model-config.yaml" or name == "config.properties" and "torchserve" in f.path.lower():
                yield f.path, 1, "TorchServe model configuration"
        for doc in facts.yaml_docs():
            if doc.path in seen:
                continue
            for d in doc.mappings():
                what = _workload(d)
                if what:
                    seen.add(doc.path)
                    yield doc.path, what[1] and facts.line_of(doc.path, what[1]) or 1, what[0]
                    break


def _workload(d):
    kind = d.get("kind")
    if isinstance(kind, str) and kind in WORKLOAD_KINDS:
        spec = ((d.get("spec") or {}).get("template") or {}).get("spec") if isinstance(d.get("spec"), dict) else None
        containers = spec.get("containers") if isinstance(spec, dict) else None
        images = [str(c.get("image")) for c in containers if isinstance(c, dict) and c.get("image")] \
            if isinstance(containers, list) else []
        if images and not all(INFRA.search(i) for i in images):
            return f"Kubernetes {kind} runs the service image", f"kind: {kind}"
    if kind == "Application" and str(d.get("apiVersion", "")).startswith("argoproj.io"):
        return "Argo CD application deploys the service", "kind: Application"
    resources = d.get("Resources")
    if isinstance(resources, dict):
        for res in resources.values():
            t = res.get("Type") if isinstance(res, dict) else None
            if t in ("AWS::Serverless::Function", "AWS::Lambda::Function", "AWS::SageMaker::Model",
                     "AWS::SageMaker::Endpoint", "AWS::ECS::TaskDefinition", "AWS::AppRunner::Service"):
                return f"CloudFormation/SAM template declares {t}", t
    rs = d.get("ray_serve_config") if isinstance(d.get("ray_serve_config"), dict) else None
    apps = (rs or d).get("applications")
    if rs and isinstance(rs.get("import_path"), str) or isinstance(apps, list) and any(
            isinstance(a, dict) and isinstance(a.get("import_path"), str) for a in apps):
        return "Ray Serve config declares the service deployment", "import_path"
    return None


def _managed(name: str) -> bool:
    return bool(MANAGED_MODELS.match(name.replace("()", "")))
