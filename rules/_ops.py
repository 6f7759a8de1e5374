"""Shared operational questions for the packaging, deployment, retraining and service-monitoring
rules: what a CI step really runs (GitHub `with:` inputs and the shell scripts it calls included),
whether a job is manual or scheduled, which Dockerfiles and compose services run the serving code,
and whether a command starts a model server or trains. Pure functions over `Facts`."""
from __future__ import annotations

from mlscan.facts.configs import strip_dot_slash

import re
import shlex
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Dict, List, Optional, Set, Tuple

from mlscan.facts.pycode import module_name_for
from mlscan.rules._vocab import SERVER_IMAGES

# a command that starts a web or model server
SERVER_CMD = re.compile(
    r"(?<![\w/.-])(uvicorn|gunicorn|hypercorn|daphne|waitress-serve|granian|torchserve|tritonserver|"
    r"tensorflow_model_server|mlserver\s+start|bentoml\s+serve(?:-http|-grpc)?|mlflow\s+models\s+serve|"
    r"serve\s+run|streamlit\s+run|flask\s+run|fastapi\s+(?:run|dev)|seldon-core-microservice|panel\s+serve|"
    r"chainlit\s+run|litserve|text-generation-launcher|vllm\s+serve|python[\d.]*\s+-m\s+(?:uvicorn|gunicorn|"
    r"flask\s+run|vllm\.entrypoints[\w.]*|streamlit\s+run|mlserver))(?![\w-])")
LAMBDA_IMAGES = re.compile(r"(?i)^(public\.ecr\.aws/lambda/python|amazon/aws-lambda-python)")
APP_TARGET = re.compile(r"^([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*):([A-Za-z_][\w.]*(?:\(\))?)$")
SCRIPT_REF = re.compile(r"(?:^|[\s=\"'(\[,])((?:\.{0,2}/)?[\w.-]+(?:/[\w.-]+)*\.(?:sh|bash))\b")
MANUAL_TRIGGERS = {"workflow_dispatch"}
TEST_TRIGGERS = {"pull_request", "pull_request_target", "merge_request_event"}


@dataclass(frozen=True)
class StepText:
    job: object           # the CIJob
    line: int
    text: str             # shell text, with GitHub `with:` command-like inputs and called scripts appended
    uses: str
    inputs: Dict[str, object]


def _raw_jobs(facts, path: str) -> Dict[str, dict]:
    doc = facts.config(path)
    if doc is None or doc.error:
        return {}
    out: Dict[str, dict] = {}
    for d in doc.mappings():
        jobs = d.get("jobs") if isinstance(d.get("jobs"), dict) else d
        for name, job in jobs.items():
            if isinstance(job, dict):
                out.setdefault(str(name), job)
    return out


def raw_job(facts, job) -> dict:
    """The job's mapping as written in its CI file ({} for Jenkins or when unreadable)."""
    if job.system == "jenkins":
        return {}
    return facts.memo(f"ops-raw-jobs:{job.path}", lambda: _raw_jobs(facts, job.path)).get(job.name, {})


def _shell_index(facts) -> Dict[str, List[Tuple[str, int, str]]]:
    index: Dict[str, List[Tuple[str, int, str]]] = {}
    for path, line, cmd in facts.shell_commands:
        if path.endswith((".sh", ".bash")):
            index.setdefault(path, []).append((path, line, cmd))
    return index


def script_lines(facts, ref: str, near: str = "") -> List[Tuple[str, int, str]]:
    """Lines of the repo shell script a command refers to (by path, else by unique file name)."""
    index = facts.memo("ops-shell-scripts", lambda: _shell_index(facts))
    raw = re.sub(r"^(\./)+", "", ref)
    cands = []
    if near:
        cands.append(str(PurePosixPath(near) / raw))
    cands.append(raw)
    for c in cands:
        c = str(PurePosixPath(c))
        if c in index:
            return index[c]
    tails = [p for p in index if p.endswith("/" + strip_dot_slash(raw)) or PurePosixPath(p).name == PurePosixPath(raw).name]
    return index[tails[0]] if len(tails) == 1 else []


def called_scripts(facts, text: str, near: str = "") -> List[str]:
    """Repo paths of the shell scripts a command text calls."""
    out = []
    for m in SCRIPT_REF.finditer(text):
        lines = script_lines(facts, m.group(1), near)
        if lines and lines[0][0] not in out:
            out.append(lines[0][0])
    return out


def expand_scripts(facts, text: str, near: str = "", depth: int = 0) -> str:
    """`text` with the lines of the repo shell scripts it calls appended (two levels deep)."""
    if depth > 1 or ".sh" not in text and ".bash" not in text:
        return text
    extra = []
    for m in SCRIPT_REF.finditer(text):
        lines = script_lines(facts, m.group(1), near)
        if lines:
            body = "\n".join(c for _, _, c in lines)
            extra.append(expand_scripts(facts, body, str(PurePosixPath(lines[0][0]).parent), depth + 1))
    return text + ("\n" + "\n".join(extra) if extra else "")


def step_texts(facts, job) -> List[StepText]:
    """Each step of a CI job with what it runs. GitHub steps that wrap a command in an action
    (`with: {run: ...}`, `command:`, `script:`, `args:`) count as running it."""
    return facts.memo(f"ops-step-texts:{job.path}:{job.name}:{job.line}", lambda: _step_texts(facts, job))


def _step_texts(facts, job) -> List[StepText]:
    raw = raw_job(facts, job) if job.system == "github" else {}
    raw_steps = [s for s in raw.get("steps") or [] if isinstance(s, dict)] if isinstance(raw.get("steps"), list) else []
    offset = 1 if isinstance(raw.get("uses"), str) else 0   # a reusable-workflow call comes first
    out = []
    for i, step in enumerate(job.steps):
        inputs: Dict[str, object] = {}
        rs = raw_steps[i - offset] if 0 <= i - offset < len(raw_steps) else {}
        if (rs.get("uses") or "") == step.uses and isinstance(rs.get("with"), dict):
            inputs = rs["with"]
        text = step.run or ""
        line = step.line
        for k, v in inputs.items():
            if k in ("run", "command", "commands", "script", "args", "cmd", "inline-script", "inlineScript") \
                    and isinstance(v, str) and v.strip():
                if not text:
                    line = facts.line_of(job.path, v.strip().splitlines()[0])
                text += "\n" + v
        out.append(StepText(job, line, expand_scripts(facts, text), step.uses, inputs))
    return out


def job_manual_only(facts, job) -> bool:
    """The job runs only when someone starts it (GitHub `workflow_dispatch`, GitLab `when: manual`)."""
    if job.system == "github":
        return bool(job.triggers) and set(job.triggers) <= MANUAL_TRIGGERS
    raw = raw_job(facts, job)
    if raw.get("when") == "manual":
        return True
    rules = raw.get("rules")
    if isinstance(rules, list) and rules and all(isinstance(r, dict) and r.get("when") == "manual" for r in rules):
        return True
    if job.system == "azure":
        doc = facts.config(job.path)
        data = doc.data if doc and isinstance(doc.data, dict) else {}
        return data.get("trigger") == "none" and not data.get("schedules") and not data.get("pr")
    return False


def job_schedule(facts, job) -> Optional[str]:
    """A description of the job's schedule, if it runs on one."""
    if job.system == "github":
        if "schedule" not in job.triggers:
            return None
        doc = facts.config(job.path)
        data = doc.data if doc and isinstance(doc.data, dict) else {}
        on = data.get("on", data.get(True))
        crons = [c.get("cron") for c in (on.get("schedule") or []) if isinstance(c, dict)] \
            if isinstance(on, dict) and isinstance(on.get("schedule"), list) else []
        crons = [c for c in crons if isinstance(c, str)]
        return f"cron {crons[0]!r}" if crons else "a schedule"
    raw = raw_job(facts, job)
    if job.system == "gitlab":
        only = raw.get("only")
        refs = only.get("refs") if isinstance(only, dict) else only
        if isinstance(refs, list) and "schedules" in refs:
            return "GitLab pipeline schedules"
        for r in raw.get("rules") or []:
            cond = r.get("if") if isinstance(r, dict) else None
            if isinstance(cond, str) and re.search(r"CI_PIPELINE_SOURCE\s*==\s*[\"']schedule[\"']", cond) \
                    and r.get("when") != "never":
                return "GitLab pipeline schedules"
        return None
    doc = facts.config(job.path)
    data = doc.data if doc and isinstance(doc.data, dict) else {}
    if job.system == "azure" and isinstance(data.get("schedules"), list) and data["schedules"]:
        first = data["schedules"][0]
        return f"cron {first.get('cron')!r}" if isinstance(first, dict) and first.get("cron") else "a schedule"
    if job.system == "circleci":
        for wf in (data.get("workflows") or {}).values() if isinstance(data.get("workflows"), dict) else []:
            if not isinstance(wf, dict):
                continue
            trig = wf.get("triggers") or []
            listed = wf.get("jobs") if isinstance(wf.get("jobs"), list) else []
            jobs = [j if isinstance(j, str) else next(iter(j), "") if isinstance(j, dict) else "" for j in listed]
            if job.name in jobs and any(isinstance(t, dict) and "schedule" in t for t in trig):
                return "a CircleCI scheduled workflow"
    return None


def job_tests_changes(job) -> bool:
    """The job (also) runs on pull/merge requests: a check on proposed changes, not a production run."""
    return bool(set(job.triggers) & TEST_TRIGGERS)


# ---- serving code and what runs it -------------------------------------------------------------
def serving_nodes(facts) -> Set[str]:
    out: Set[str] = set()
    for ep in facts.graph.serving_endpoints:
        out.add(ep.handler)
        out.add(f"mod:{ep.path}")
    return out


def _serving_modules(facts) -> Dict[str, str]:
    """module dotted name -> path, for every module that defines a serving endpoint."""
    return {module_name_for(ep.path): ep.path for ep in facts.graph.serving_endpoints}


def serving_file_for(facts, ref: str) -> Optional[str]:
    """The serving module a command names: `app.py`, `src/app.py`, `main:app`, `pkg.api:app`."""
    mods = _serving_modules(facts)
    m = APP_TARGET.match(ref)
    if m and not re.match(r"^[\d.]+$", m.group(1)):
        mod = m.group(1)
        for name, path in mods.items():
            if name == mod or name.endswith("." + mod):
                return path
        return None
    if ref.endswith(".py"):
        raw = re.sub(r"^(\./)+", "", ref.replace("\\", "/")).lstrip("/")
        for path in mods.values():
            if path == raw or path.endswith("/" + raw) or raw.endswith("/" + path):
                return path
        base = PurePosixPath(raw).name
        hits = [p for p in mods.values() if PurePosixPath(p).name == base]
        return hits[0] if len(hits) == 1 else None
    return None


def command_serves(facts, command: str) -> Optional[str]:
    """Why a shell command runs the serving code or a model server, or None."""
    try:
        tokens = shlex.split(command.replace("\\\n", " "), comments=True)
    except ValueError:
        tokens = command.split()
    for tok in tokens:
        hit = serving_file_for(facts, tok) if (tok.endswith(".py") or ":" in tok) else None
        if hit:
            return f"runs the serving code in {hit}"
    m = SERVER_CMD.search(command)
    if m:
        return "starts a server (" + " ".join(m.group(1).split()) + ")"
    return None


def _reaches_serving(facts, entries, targets: Set[str]) -> Optional[str]:
    graph = facts.graph
    for ep in entries:
        hit = graph.reachable(ep.node) & targets
        if hit:
            node = sorted(hit)[0]
            return node.split(":", 2)[1]
    return None


def _shell_entries(facts, script_path: str):
    return [ep for ep in facts.graph.entry_points if ep.kind == "shell" and ep.path == script_path]


@dataclass(frozen=True)
class Packaging:
    path: str
    line: int
    serves: bool
    message: str


def dockerfile_packaging(facts) -> List[Packaging]:
    """For every Dockerfile (devcontainers left out): does the image it builds run the serving code?"""
    return facts.memo("ops-dockerfiles", lambda: _dockerfile_packaging(facts))


def _dockerfile_packaging(facts) -> List[Packaging]:
    graph = facts.graph
    targets = serving_nodes(facts)
    lambdas = any(ep.framework == "aws-lambda" for ep in graph.serving_endpoints)
    out: List[Packaging] = []
    for path, instrs in sorted(facts.dockerfiles.items()):
        if ".devcontainer" in PurePosixPath(path).parts:
            continue
        base = str(PurePosixPath(path).parent)
        base = "" if base == "." else base
        runs = [i for i in instrs if i.keyword in ("CMD", "ENTRYPOINT")]
        froms = [i for i in instrs if i.keyword == "FROM"]
        found: Optional[Tuple[int, str]] = None
        entries = [ep for ep in graph.entry_points if ep.kind == "docker" and ep.path == path]
        hit = _reaches_serving(facts, entries, targets)
        if hit:
            found = (entries[0].line, f"the image's {entries[0].label.split(' ')[0]} runs the serving code in {hit}")
        if found is None and runs:
            whole = " ".join(i.command() for i in sorted(runs, key=lambda i: i.keyword != "ENTRYPOINT"))
            why = command_serves(facts, whole)
            if why is None:
                for m in SCRIPT_REF.finditer(whole):
                    lines = script_lines(facts, m.group(1), base)
                    if not lines:
                        continue
                    sub = _reaches_serving(facts, _shell_entries(facts, lines[0][0]), targets)
                    why = f"runs {lines[0][0]}, which runs the serving code in {sub}" if sub else None
                    if why is None:
                        for _, _, cmd in lines:
                            inner = command_serves(facts, cmd)
                            if inner:
                                why = f"runs {lines[0][0]}, which {inner}"
                                break
                    if why:
                        break
            if why:
                found = (runs[-1].line, f"the image's {runs[-1].keyword} {why}")
        if found is None:
            for f in froms:
                image = f.value.split()[0] if f.value.split() else ""
                if SERVER_IMAGES.match(image):
                    found = (f.line, f"the image builds on the model server {image}")
                elif LAMBDA_IMAGES.match(image) and lambdas and runs:
                    found = (runs[-1].line, f"an AWS Lambda image ({image}) whose handler is {runs[-1].command()}")
                if found:
                    break
        if found:
            out.append(Packaging(path, found[0], True, found[1]))
        else:
            line = runs[-1].line if runs else (froms[0].line if froms else 1)
            what = f"runs `{runs[-1].command()[:60]}`" if runs else "declares no CMD or ENTRYPOINT"
            out.append(Packaging(path, line, False, f"the image {what}"))
    return out


COMPOSE_NAME = re.compile(r"^(docker-)?compose([.-][\w.-]+)?\.ya?ml$")


def compose_packaging(facts) -> List[Packaging]:
    """Compose services built from the repo whose command or entrypoint runs the serving code."""
    out: List[Packaging] = []
    for f in facts.files:
        if not COMPOSE_NAME.match(f.name):
            continue
        doc = facts.config(f.path)
        base = str(PurePosixPath(f.path).parent)
        base = "" if base == "." else base
        for d in doc.mappings() if doc and not doc.error else []:
            services = d.get("services") if isinstance(d.get("services"), dict) else {}
            for name, svc in services.items():
                if not isinstance(svc, dict) or "build" not in svc:
                    continue
                parts = []
                for key in ("entrypoint", "command"):
                    v = svc.get(key)
                    parts.append(" ".join(map(str, v)) if isinstance(v, list) else str(v) if v else "")
                text = " ".join(p for p in parts if p)
                if not text:
                    continue
                why = command_serves(facts, expand_scripts(facts, text, base))
                if why is None:
                    expanded = expand_scripts(facts, text, base)
                    for line in expanded.splitlines():
                        why = command_serves(facts, line)
                        if why:
                            break
                if why:
                    out.append(Packaging(f.path, facts.line_of(f.path, f"{name}:"), True,
                                         f"compose service {name!r} builds the repo's image and {why}"))
    return out


def serving_images(facts) -> bool:
    return any(p.serves for p in dockerfile_packaging(facts)) or bool(compose_packaging(facts))


# ---- deployment commands -----------------------------------------------------------------------
IMAGE_PUSH = re.compile(r"\b(docker|podman|buildah)\s+(image\s+)?push\b|\bdocker\s+(buildx\s+)?(build|bake)\b[^\n]*\s--push\b|"
                        r"\bdocker[\s-]compose\s+(-f\s+\S+\s+)*push\b|\bgcloud\s+builds\s+submit\b|\baz\s+acr\s+build\b|"
                        r"\bskaffold\s+build\b|\bjib:build\b|\bko\s+build\b|\bcog\s+push\b|\btruss\s+push\b|\bbentoml\s+push\b")
ROLLOUT = re.compile(
    r"\bkubectl\s+(-\S+\s+([^-\s]\S*\s+)?)*(apply|rollout|set\s+image|create|replace|patch)\b|\bhelm(file)?\s+(-\S+\s+)*(upgrade|install|apply|sync)\b|"
    r"\bkustomize\s+build\b[^\n]*\|\s*kubectl\b|\bargocd\s+app\s+(sync|set|create)\b|\bflux\s+reconcile\b|"
    r"\bgcloud\s+(beta\s+)?(run\s+(deploy|services\s+update)|app\s+deploy|functions\s+deploy|ai\s+endpoints\s+deploy-model|"
    r"ai-platform\s+versions\s+create|container\s+clusters\s+get-credentials[^\n]*&&[^\n]*kubectl)\b|"
    r"\baz\s+(ml\s+(online-deployment|online-endpoint|batch-deployment)\s+(create|update)|ml\s+model\s+deploy|"
    r"webapp\s+(deploy|up|create|config\s+container\s+set)|containerapp\s+(update|up|create)|functionapp\s+deployment)\b|"
    r"\baws\s+(ecs\s+update-service|lambda\s+update-function-code|sagemaker\s+(create|update)-endpoint|"
    r"apprunner\s+(start-deployment|update-service)|deploy\s+create-deployment|cloudformation\s+deploy)\b|"
    r"\bsam\s+deploy\b|\bcdk\s+deploy\b|\b(serverless|sls)\s+deploy\b|\bbentoml\s+(deploy|deployment\s+(create|update|apply))\b|"
    r"\bmodal\s+deploy\b|\bterraform\s+(-\S+\s+)*apply\b|\bterragrunt\s+(run-all\s+)?apply\b|\bpulumi\s+up\b|\b(flyctl|fly)\s+deploy\b|"
    r"\bheroku\s+container:release\b|\bgit\s+push\s+(-\S+\s+)*heroku\b|\brailway\s+up\b|\banyscale\s+service\s+(rollout|deploy)\b|"
    r"\bmlflow\s+(deployments\s+(create|update)|sagemaker\s+deploy)\b|\beb\s+deploy\b|\bcopilot\s+(svc\s+)?deploy\b|"
    r"\bkn\s+service\s+(create|update|apply)\b|\bdatabricks\s+bundle\s+deploy\b|\bgit\s+push\b[^\n]*huggingface\.co/spaces\b|"
    r"\bhuggingface-cli\s+upload\b[^\n]*--repo-type[= ]space\b|"
    r"\bssh\b[^\n]*\b(docker[\s-]compose\b[^\n]*\bup|docker\s+(pull|run)|kubectl|systemctl\s+restart)\b")
DEPLOY_ACTIONS = re.compile(
    r"(?i)^(google-github-actions/deploy-(cloudrun|appengine|cloud-functions)|azure/(webapps-deploy|k8s-deploy|"
    r"functions-action|container-apps-deploy-action|aml-deploy|arm-deploy)|aws-actions/(amazon-ecs-deploy-task-definition|"
    r"aws-cloudformation-github-deploy)|akhileshns/heroku-deploy|serverless/github-action|deliverybot/helm|"
    r"wahyd4/kubectl-helm-action|steebchen/kubectl|actions-hub/kubectl|bitovi/github-actions-deploy|"
    r"dflook/terraform-apply|pulumi/actions|superfly/flyctl-actions|appleboy/ssh-action|cloudflare/wrangler-action|"
    r"einaregilsson/beanstalk-deploy|huggingface/hub-sync|modal-labs/)")
PUSH_ACTIONS = re.compile(r"(?i)^(docker/build-push-action|docker/bake-action|redhat-actions/push-to-registry|"
                          r"mr-smithers-excellent/docker-build-push|elgohr/publish-docker-github-action|"
                          r"aws-actions/amazon-ecr-push)")
NOT_SERVICE = re.compile(r"\bmkdocs\s+gh-deploy\b|\bghp-import\b|\bsphinx\b|\bgh-pages\b")
CI_SERVER_VARS = re.compile(r"\$\{?(GO_PIPELINE_\w+|GO_REVISION\w*|BUILD_NUMBER|BUILD_ID|JENKINS_\w+|CI_COMMIT_\w+|"
                            r"CI_PIPELINE_\w+|GITHUB_SHA|GITHUB_RUN_\w+|CIRCLE_\w+|BUILDKITE_\w+|TRAVIS_\w+|"
                            r"BITBUCKET_\w+|CODEBUILD_\w+|DRONE_\w+|TEAMCITY_\w+|BUILD_BUILDID|BUILD_SOURCEVERSION)")


def deploy_kind(text: str) -> Optional[Tuple[str, str]]:
    """("rollout"|"push", the matched command) for a shell text that deploys or publishes an image."""
    clean = NOT_SERVICE.sub(" ", text)
    m = ROLLOUT.search(clean)
    if m:
        return "rollout", " ".join(m.group(0).split())[:60]
    m = IMAGE_PUSH.search(clean)
    if m:
        return "push", " ".join(m.group(0).split())[:60]
    return None


def make_recipe(facts, target: str) -> str:
    """The recipe of a Makefile target, with the recipes of its prerequisites (one level)."""
    targets = {t.name: t for t in facts.makefile_targets}
    t = targets.get(target)
    if t is None:
        return ""
    lines = [c for _, c in t.recipe]
    for pre in t.prerequisites:
        if pre in targets:
            lines.extend(c for _, c in targets[pre].recipe)
    return "\n".join(lines)


def expand_make(facts, text: str) -> str:
    extra = []
    for m in re.finditer(r"\bmake\s+(?:-\S+\s+)*([\w.-]+)", text):
        recipe = make_recipe(facts, m.group(1))
        if recipe:
            extra.append(recipe)
    return text + ("\n" + "\n".join(extra) if extra else "")
