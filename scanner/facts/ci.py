"""CI configurations read into jobs and steps: GitHub Actions, GitLab CI, Azure Pipelines,
CircleCI, Bitbucket, Travis, Buildkite, Jenkins (text), Drone/Woodpecker."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

CI_FILES = {
    ".gitlab-ci.yml": "gitlab", "azure-pipelines.yml": "azure", "azure-pipelines.yaml": "azure",
    ".circleci/config.yml": "circleci", ".circleci/config.yaml": "circleci",
    "bitbucket-pipelines.yml": "bitbucket", ".travis.yml": "travis", ".buildkite/pipeline.yml": "buildkite",
    ".drone.yml": "drone", ".woodpecker.yml": "woodpecker", "Jenkinsfile": "jenkins", "cloudbuild.yaml": "cloudbuild",
    "cloudbuild.yml": "cloudbuild", ".cirrus.yml": "cirrus", "appveyor.yml": "appveyor",
}


@dataclass(frozen=True)
class CIStep:
    line: int
    run: str                        # shell text ("" for uses-only steps)
    uses: str = ""
    may_fail: bool = False          # continue-on-error / allow_failure / `|| true`
    name: str = ""


@dataclass
class CIJob:
    path: str
    system: str
    name: str
    line: int
    steps: List[CIStep] = field(default_factory=list)
    may_fail: bool = False
    triggers: Tuple[str, ...] = ()


# a folder of Azure DevOps pipelines named for them: ado_pipelines/, azdo_pipelines/, devops-pipelines/
ADO_FOLDER = re.compile(r"(?i)^(ado|azdo|azure|devops|azure[-_]devops)[-_]pipelines?$")


def is_ci_path(path: str) -> Optional[str]:
    if path.startswith(".github/workflows/") and path.endswith((".yml", ".yaml")):
        return "github"
    if path in CI_FILES:
        return CI_FILES[path]
    if path.startswith(".azure-pipelines/") or (path.startswith(".gitlab/ci/") and path.endswith((".yml", ".yaml"))):
        return "azure" if "azure" in path else "gitlab"
    if path.endswith("Jenkinsfile"):
        return "jenkins"
    # Azure DevOps pipelines kept elsewhere: azure-pipelines*.yml anywhere, .pipelines/ and .azuredevops/ folders
    name = path.rsplit("/", 1)[-1]
    if name in ("buildspec.yml", "buildspec.yaml"):
        return "codebuild"   # AWS CodeBuild, wherever a CodePipeline stage points at it
    if path.endswith((".yml", ".yaml")) and (name.startswith("azure-pipelines") or
                                             path.startswith((".pipelines/", ".azuredevops/", ".ado/")) or
                                             any(ADO_FOLDER.match(part) for part in path.split("/")[:-1])):
        return "azure"
    return None


def _swallows_failure(script: str) -> bool:
    return bool(re.search(r"\|\|\s*(true|:|exit\s+0)\b", script)) or "set +e" in script


def _script_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(_script_text(v) for v in value)
    if isinstance(value, dict):
        return "\n".join(_script_text(v) for k, v in value.items() if k in ("script", "run", "command", "commands", "bash", "pwsh", "powershell"))
    return ""


def parse_ci(path: str, system: str, docs: List[Any], text: str, line_of: Callable[..., int]) -> List[CIJob]:
    """`line_of(needle, after=N)` finds a needle's line at or after line N of the file."""
    if system == "jenkins":
        return _parse_jenkins(path, text)
    jobs: List[CIJob] = []
    for doc in docs:
        if not isinstance(doc, dict):
            continue
        if system == "github":
            jobs.extend(_parse_github(path, doc, line_of))
        elif system == "gitlab":
            jobs.extend(_parse_generic_jobs(path, system, {k: v for k, v in doc.items() if isinstance(v, dict)
                                                           and ("script" in v or "trigger" in v)}, line_of,
                                            fail_key="allow_failure"))
        elif system == "circleci":
            jobs.extend(_parse_generic_jobs(path, system, doc.get("jobs") or {}, line_of))
        elif system == "azure":
            jobs.extend(_parse_azure(path, doc, line_of))
        else:
            jobs.append(CIJob(path, system, system, 1, [CIStep(1, _script_text_deep(doc))]))
    return jobs


def _script_text_deep(node: Any) -> str:
    from mlscan.facts.configs import walk
    keys = ("script", "run", "command", "commands", "cmd", "bash", "install", "before_script")
    return "\n".join(_script_text(v) for k, v in walk(node) if k in keys and isinstance(v, (str, list)))


def _parse_github(path: str, doc: Dict[str, Any], line_of) -> List[CIJob]:
    on = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on:` key as True
    if isinstance(on, str):
        triggers: Tuple[str, ...] = (on,)
    elif isinstance(on, list):
        triggers = tuple(str(t) for t in on)
    elif isinstance(on, dict):
        triggers = tuple(str(t) for t in on)
    else:
        triggers = ()
    jobs = []
    jobs_line = line_of("jobs:")
    job_map = doc.get("jobs")
    for name, job in (job_map.items() if isinstance(job_map, dict) else ()):
        if not isinstance(job, dict):
            continue
        j = CIJob(path, "github", str(name), line_of(f"{name}:", after=jobs_line), triggers=triggers,
                  may_fail=job.get("continue-on-error") is True)
        if isinstance(job.get("uses"), str):  # reusable workflow call
            j.steps.append(CIStep(j.line, "", uses=job["uses"]))
        for step in job.get("steps") or []:
            if not isinstance(step, dict):
                continue
            run = step.get("run") if isinstance(step.get("run"), str) else ""
            uses = step.get("uses") if isinstance(step.get("uses"), str) else ""
            anchor = (run.strip().splitlines() or [""])[0] if run else uses
            j.steps.append(CIStep(line_of(anchor, after=j.line) if anchor else j.line, run, uses,
                                  step.get("continue-on-error") is True or _swallows_failure(run),
                                  str(step.get("name", ""))))
        jobs.append(j)
    return jobs


def _parse_generic_jobs(path: str, system: str, jobs_map: Any, line_of, fail_key: str = "") -> List[CIJob]:
    jobs = []
    if not isinstance(jobs_map, dict):
        return jobs
    for name, job in jobs_map.items():
        if not isinstance(job, dict) or str(name).startswith("."):
            continue
        j = CIJob(path, system, str(name), line_of(f"{name}:"), may_fail=bool(fail_key and job.get(fail_key) is True))
        script = _script_text_deep(job)
        for chunk in [s for s in script.splitlines() if s.strip()]:
            j.steps.append(CIStep(line_of(chunk.strip(), after=j.line), chunk, may_fail=_swallows_failure(chunk)))
        jobs.append(j)
    return jobs


def _parse_azure(path: str, doc: Dict[str, Any], line_of) -> List[CIJob]:
    from mlscan.facts.configs import walk
    script = _script_text_deep(doc)
    j = CIJob(path, "azure", "pipeline", 1)
    # `pytest ... || true` followed by PublishTestResults with failTaskOnFailedTests: the published
    # results fail the run, so the swallowed exit code does not make the tests optional
    results_fail = any(k == "failTaskOnFailedTests" and str(v).lower() == "true" for k, v in walk(doc))
    for chunk in [s for s in script.splitlines() if s.strip()]:
        j.steps.append(CIStep(line_of(chunk.strip()), chunk, may_fail=_swallows_failure(chunk) and not (
            results_fail and "junit" in chunk.lower())))
    return [j]


def _parse_jenkins(path: str, text: str) -> List[CIJob]:
    j = CIJob(path, "jenkins", "pipeline", 1)
    for i, line in enumerate(text.splitlines(), 1):
        m = re.search(r"\b(?:sh|bat|powershell)\s*\(?\s*(?:script:\s*)?['\"]{1,3}(.+?)['\"]{1,3}", line)
        if m:
            j.steps.append(CIStep(i, m.group(1), may_fail=_swallows_failure(m.group(1))))
    return [j]
