from __future__ import annotations

from mlscan.rulekit import Example, Rule
from mlscan.rules._ops import (CI_SERVER_VARS, DEPLOY_ACTIONS, MANUAL_TRIGGERS, PUSH_ACTIONS, TEST_TRIGGERS, deploy_kind,
                               expand_make, job_manual_only, serving_images, step_texts)
from mlscan.rules._serving import NO_SERVING, has_serving

GITOPS = {("argoproj.io", "Application"): "Argo CD Application", ("argoproj.io", "ApplicationSet"): "Argo CD ApplicationSet",
          ("kustomize.toolkit.fluxcd.io", "Kustomization"): "Flux Kustomization",
          ("helm.toolkit.fluxcd.io", "HelmRelease"): "Flux HelmRelease"}
DEPLOY_CALL_ROOTS = ("sagemaker", "boto3", "botocore", "google.cloud.aiplatform", "vertexai", "azure.ai.ml", "azureml",
                     "mlflow", "bentoml", "kubernetes", "modal", "huggingface_hub")
DEPLOY_ATTRS = {"deploy", "create_endpoint", "update_endpoint", "create_deployment", "update_deployment",
                "create_namespaced_deployment", "patch_namespaced_deployment", "replace_namespaced_deployment",
                "deploy_model", "create_inference_endpoint"}


def _deploy_call(call) -> bool:
    return _deploys(call.name)


def _deploys(call_name: str) -> bool:
    name = call_name.replace("()", "")
    if not name.startswith(DEPLOY_CALL_ROOTS):
        return False
    attr = call_name.rpartition(".")[2]
    if attr == "begin_create_or_update":
        return "online_deployments" in name or "online_endpoints" in name or "batch_deployments" in name
    return attr in DEPLOY_ATTRS


class DeploymentAutomated(Rule):
    """CI or CD deploys the model service

    Evidence: a CI job (GitHub Actions, GitLab, Azure, CircleCI, Jenkins, …) whose steps — shell
    commands, command inputs of wrapper actions, the repo scripts and Makefile targets they call —
    roll the service out (`kubectl apply/rollout`, `helm upgrade`, `gcloud run deploy`,
    `az ml online-deployment`, `aws ecs update-service`, SageMaker endpoints, `serverless`/`sam`/
    `cdk deploy`, `bentoml deploy`, `modal deploy`, `terraform apply`, Anyscale, Fly, Heroku, Hugging
    Face Spaces, deploy actions), or run Python that deploys (SageMaker/Vertex/Azure ML/MLflow
    deploy calls); GitOps manifests (Argo CD, Flux). Pushing a container image supports the
    practice when an image in the repo runs the serving code, else it is partial. A job that runs
    only on manual dispatch, or a deploy script no CI in the repo runs but written for a CI server
    (it reads `GO_PIPELINE_LABEL`, `BUILD_NUMBER`, …), is partial; a deploy script nothing
    automates is a gap. Documentation deploys (`mkdocs gh-deploy`) do not count. Not applicable
    without serving code.
    """

    id = "deployment-automated"
    practice = "automated-deployment"
    examples = (
        Example({
            "app.py": "from fastapi import FastAPI\napp = FastAPI()\n\n@app.post('/predict')\ndef predict(x: list):\n"
                      "    return {'y': MODEL.predict([x]).tolist()}\n",
            "Dockerfile": "FROM python:3.11\nCOPY . .\nCMD [\"uvicorn\", \"app:app\"]\n",
            ".github/workflows/deploy.yml": "on:\n  push:\n    branches: [main]\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n"
                                            "    steps:\n      - uses: actions/checkout@v4\n"
                                            "      - run: docker build -t $IMAGE . && docker push $IMAGE\n"
                                            "      - run: kubectl rollout restart deploy/model\n",
        }, "present", "build, push and roll out on every merge", fires=True),
        Example({
            "app.py": "from fastapi import FastAPI\napp = FastAPI()\n\n@app.post('/predict')\ndef predict(x: list):\n"
                      "    return {'y': MODEL.predict([x]).tolist()}\n",
            ".github/workflows/deploy.yml": "on: workflow_dispatch\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n"
                                            "    steps:\n      - uses: actions/checkout@v4\n"
                                            "      - run: gcloud run deploy model --source .\n",
        }, "partial", "deploys only when someone presses the button", fires=True),
        Example({
            "app.py": "from fastapi import FastAPI\napp = FastAPI()\n\n@app.post('/predict')\ndef predict(x: list):\n"
                      "    return {'y': MODEL.predict([x]).tolist()}\n",
            ".github/workflows/docs.yml": "on: push\njobs:\n  docs:\n    runs-on: ubuntu-latest\n    steps:\n"
                                          "      - run: mkdocs gh-deploy --force\n",
            "deploy.sh": "#!/bin/sh\nkubectl apply -f k8s/\n",
        }, "absent", "a docs deploy in CI, a deploy script run by hand", fires=True),
        Example({
            "app.py": "from fastapi import FastAPI\napp = FastAPI()\n\n@app.post('/predict')\ndef predict(x: list):\n"
                      "    return {'y': MODEL.predict([x]).tolist()}\n",
            ".github/workflows/release.yml": "on:\n  release:\n    types: [published]\njobs:\n  ship:\n    runs-on: ubuntu-latest\n"
                                             "    steps:\n      - uses: some/retry-action@v1\n        with:\n"
                                             "          run: ./scripts/ship.sh\n",
            "scripts/ship.sh": "#!/bin/sh\nset -e\nhelm upgrade --install model ./chart --set image.tag=$GITHUB_SHA\n",
        }, "present", "the release job runs a script that upgrades the Helm release"),
        Example({"train.py": "from sklearn.svm import SVC\nSVC().fit([[0]], [0])\n",
                 ".github/workflows/d.yml": "on: push\njobs:\n  d:\n    steps:\n      - run: docker push x\n"},
                "not-applicable"),
    )

    def check(self, facts):
        if not has_serving(facts):
            yield self.found("not-applicable", ".", None, NO_SERVING)
            return
        images_serve = serving_images(facts)
        strong = False
        weak = []
        for job in facts.ci_jobs:
            manual = job_manual_only(facts, job)
            for st in step_texts(facts, job):
                what = None
                kind = deploy_kind(expand_make(facts, st.text)) if st.text else None
                if kind:
                    what = (kind[0], f"`{kind[1]}`")
                elif st.uses and DEPLOY_ACTIONS.match(st.uses):
                    what = ("rollout", st.uses.split("@")[0])
                elif st.uses and PUSH_ACTIONS.match(st.uses) and _truthy(st.inputs.get("push")):
                    what = ("push", f"{st.uses.split('@')[0]} with push: true")
                if what is None:
                    continue
                where = f"CI job {job.name!r}"
                if job.triggers and set(job.triggers) <= TEST_TRIGGERS | MANUAL_TRIGGERS and not manual:
                    weak.append((job.path, st.line, f"{where} deploys ({what[1]}) only for pull requests: a preview "
                                                     "or test deployment"))
                elif manual:
                    weak.append((job.path, st.line, f"{where} deploys ({what[1]}) but runs only when started by hand"))
                elif what[0] == "push" and not images_serve:
                    weak.append((job.path, st.line, f"{where} publishes a container image ({what[1]}), but no image "
                                                     "in the repo runs the serving code"))
                else:
                    strong = True
                    verb = "rolls out the service" if what[0] == "rollout" else "builds and pushes the service image"
                    yield self.found("supports", job.path, st.line, f"{where} {verb} ({what[1]})"
                                     + (f" on {', '.join(job.triggers)}" if job.triggers else ""))
                break
        strong |= yield from self._python_deploys(facts)
        for doc in facts.yaml_docs():
            for d in doc.mappings():
                api = str(d.get("apiVersion", "")).split("/")[0]
                kind = d.get("kind")
                label = GITOPS.get((api, kind)) if isinstance(kind, str) else None
                if label:
                    strong = True
                    yield self.found("supports", doc.path, facts.line_of(doc.path, f"kind: {d.get('kind')}"),
                                     f"{label}: a GitOps controller deploys what is merged")
                    break
        for path, line, msg in weak:
            yield self.found("partial", path, line, msg)
        if strong or weak:
            return
        yield from self._unautomated_scripts(facts)

    def _python_deploys(self, facts):
        graph = facts.graph
        found = False
        seen = set()
        deploying = None
        for ep in graph.entry_points:
            if ep.kind != "ci" or ep.target in seen:
                continue
            seen.add(ep.target)
            if deploying is None:  # the scopes that make a deploy call
                deploying = {graph.scope_node(idx.path, call.scope) for idx, call in facts.call_table.calls(
                    _deploys, roots=[r.split(".")[0] for r in DEPLOY_CALL_ROOTS])}
            nodes = graph.code_reach(ep.node) & deploying  # only scopes that deploy can hold the first deploy call
            for idx, call in graph.calls_in(nodes):
                if _deploy_call(call):
                    found = True
                    yield self.found("supports", ep.path, ep.line,
                                     f"{ep.label} runs {idx.path}, which deploys ({call.name.replace('()', '')}, line {call.line})")
                    break
        return found

    def _unautomated_scripts(self, facts):
        by_file = {}
        for path, line, cmd in facts.shell_commands:
            kind = deploy_kind(cmd)
            if kind and kind[0] == "rollout" and path not in by_file:
                by_file[path] = (line, kind[1])
        for path, (line, cmd) in sorted(by_file.items()):
            text = facts.text(path) or ""
            var = CI_SERVER_VARS.search(text)
            if var:
                yield self.found("partial", path, line,
                                 f"{path} deploys (`{cmd}`) and reads the CI server variable {var.group(1)}, so a CI "
                                 "pipeline kept outside the repo probably runs it")
            else:
                yield self.found("gap", path, line, f"{path} deploys (`{cmd}`), but no CI job runs it: deployment is manual")


def _truthy(v) -> bool:
    return v is True or isinstance(v, str) and v.strip().lower() in ("true", "yes", "1") or \
        isinstance(v, str) and "${{" in v
