from __future__ import annotations

from mlscan.facts.configs import strip_dot_slash

import re
from pathlib import PurePosixPath
from typing import Dict, List, Optional, Set, Tuple

from mlscan.facts.configs import command_targets
from mlscan.rulekit import Example, Rule
from mlscan.rules._tests import ml_tests_exist
from mlscan.rules._vocab import PIPELINE_COMMAND, TEST_COMMAND

KINDS_OF_STEP = (
    ("lint", re.compile(r"(?i)\b(flake8|ruff|pylint|black|isort|mypy|pyright|pre-commit|bandit|pycodestyle|pydocstyle|"
                        r"codespell|make\s+lint|yamllint|hadolint|super-linter|trufflehog|codeql)\b")),
    ("docs", re.compile(r"(?i)\b(mkdocs|sphinx|make\s+docs|doc-builder|jupyter-book|pdoc|gh-pages)\b")),
    ("build", re.compile(r"(?i)\b(docker\s+(compose\s+)?build|build-push-action|python\s+-m\s+build|make\s+dist|"
                         r"poetry\s+build|docker/login-action|buildx)\b")),
    ("publish", re.compile(r"(?i)\b(twine|pypi-publish|rollout|deploy|helm|kubectl|release)\b")),
    ("report", re.compile(r"(?i)\b(cml\s|cml-|dvc\s+(plots|metrics|exp\s+diff|pull)|comment)\b")),
)
INSTALL = re.compile(r"(?i)\b(pip3?|uv\s+pip|conda|mamba|apt(-get)?|brew|poetry\s+add|pipx)\s+install\b|\becho\b|"
                     r"\binstall\s+-r\b|--with\s+pytest")
MANUAL_TRIGGERS = {"workflow_dispatch", "repository_dispatch"}
# repository housekeeping bots: a workflow of nothing else builds or checks no code
CHORE_ACTIONS = re.compile(r"(?i)^(actions/(stale|labeler|first-interaction|add-to-project)|dessant/lock-threads|"
                           r"release-drafter/release-drafter|peter-evans/(create-or-update-comment|close-issue)|"
                           r"actions-ecosystem/action-[\w-]+|github/issue-labeler)@")
TEMPLATE_CI = re.compile(r"(^|/)(\.github/workflows/|\.gitlab-ci\.ya?ml$|\.azure-pipelines/|azure-pipelines[\w-]*\.ya?ml$|"
                         r"\.circleci/|Jenkinsfile$)")
FILE_REF = re.compile(r"(?:^|[\s=\"'(])((?:\./)?[\w.-]+(?:/[\w.-]+)*\.(?:sh|bash|ya?ml|mk))\b")


class CIRunsChecks(Rule):
    """Continuous integration runs tests or training checks that can fail the build

    Reads the CI jobs (GitHub Actions, GitLab CI, Azure Pipelines, CircleCI, Jenkins, Travis...).
    A step that runs tests (pytest, tox, nox, unittest, `make test`) or reproduces the declared
    pipeline (`dvc repro`, `mlflow run`, `make train`) supports the practice; CI whose only check is
    running a training entry point (a smoke run of `train.py`, no test) is partial; commands are
    followed into the shell scripts and job files a step names (`./tasks/test.sh`,
    `anyscale job submit jobs/ci.yaml`). Partial: CI that only lints, builds, publishes or posts a
    metrics report (CML); tests that run only when started by hand; a call to a reusable workflow
    kept elsewhere; a project template whose CI tests only the template while the projects it
    generates get no CI. Tests that exercise no ML code still make CI present (what they test is
    the ml-tests question). A test step that cannot fail the build (`continue-on-error: true`,
    `allow_failure`, `|| true`) is a gap, unless another test step blocks. No CI configuration, or
    workflows that only run housekeeping bots (stale issues, labels), say nothing.
    """

    id = "ci-checks"
    practice = "ci"
    examples = (
        Example({
            ".github/workflows/ci.yml": "on: [push, pull_request]\njobs:\n  test:\n    runs-on: ubuntu-latest\n"
                                        "    steps:\n      - uses: actions/checkout@v4\n      - run: pip install -r requirements.txt\n"
                                        "      - run: pytest tests\n",
            "src/model.py": "import torch\n\ndef build():\n    return torch.nn.Linear(4, 2)\n",
            "tests/test_model.py": "import torch\nfrom src.model import build\n\n"
                                   "def test_shape():\n    assert build()(torch.zeros(1, 4)).shape == (1, 2)\n",
        }, "present", "pytest on every push, over tests of the model", fires=True),
        Example({
            ".github/workflows/ci.yml": "on: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n"
                                        "      - uses: actions/checkout@v4\n      - run: pytest tests\n        continue-on-error: true\n"
                                        "      - run: flake8 . || true\n",
            "src/model.py": "import torch\n\ndef build():\n    return torch.nn.Linear(4, 2)\n",
            "tests/test_model.py": "import torch\nfrom src.model import build\n\n"
                                   "def test_shape():\n    assert build()(torch.zeros(1, 4)).shape == (1, 2)\n",
        }, "partial", "the test step can never fail the build", fires=True),
        Example({
            ".github/workflows/ci.yml": "on: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n"
                                        "      - uses: actions/checkout@v4\n      - run: pytest tests\n"
                                        "      - run: python test_integration.py\n        continue-on-error: true\n",
            "tests/test_model.py": "def test_ok():\n    assert True\n",
        }, "present", "blocking unit tests; an extra integration run allowed to fail does not undo them", fires=True),
        Example({
            ".github/workflows/docker.yml": "on: [push]\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n"
                                            "      - uses: actions/checkout@v4\n      - run: docker compose build\n",
            "train.py": "from sklearn.svm import SVC\nSVC().fit([[0], [1]], [0, 1])\n",
        }, "partial", "CI only builds an image", fires=True),
        Example({
            "train.py": "from sklearn.svm import SVC\nSVC().fit([[0], [1]], [0, 1])\n",
            "Makefile": "test:\n\tpytest\n",
        }, "absent", "a Makefile is not CI", fires=False),
        Example({
            ".gitlab-ci.yml": "train-smoke:\n  script:\n    - pip install -r requirements.txt\n    - python train.py --epochs 1\n",
            "train.py": "import sys\nimport torch\nm = torch.nn.Linear(2, 1)\nm(torch.zeros(1, 2)).sum().backward()\n",
        }, "partial", "a one-epoch training run in CI, with no test: a smoke run, not a check", fires=True),
        Example({
            ".gitlab-ci.yml": "train-smoke:\n  script:\n    - pip install -r requirements.txt\n    - python train.py --epochs 1\n"
                              "    - pytest tests\n",
            "train.py": "import sys\nimport torch\nm = torch.nn.Linear(2, 1)\nm(torch.zeros(1, 2)).sum().backward()\n",
            "tests/test_train.py": "def test_ok():\n    assert True\n",
        }, "present", "a training run followed by the tests", fires=True),
        Example({
            ".github/workflows/repro.yml": "on: [push]\njobs:\n  repro:\n    runs-on: ubuntu-latest\n    steps:\n"
                                           "      - uses: actions/checkout@v4\n      - run: dvc repro\n",
            "dvc.yaml": "stages:\n  train:\n    cmd: python train.py\n",
            "train.py": "from sklearn.svm import SVC\nSVC().fit([[0], [1]], [0, 1])\n",
        }, "present", "CI reproduces the declared pipeline (dvc repro)", fires=True),
        Example({
            ".github/workflows/stale.yml": "on:\n  schedule:\n  - cron: '18 9 * * *'\njobs:\n  stale:\n"
                                           "    runs-on: ubuntu-latest\n    steps:\n    - uses: actions/stale@v5\n"
                                           "      with:\n        days-before-stale: 30\n",
            "train.py": "from sklearn.svm import SVC\nSVC().fit([[0], [1]], [0, 1])\n",
        }, "absent", "a stale-issue bot is housekeeping, not CI", fires=False),
        Example({
            ".github/workflows/ci.yml": "on: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n"
                                        "      - uses: actions/checkout@v4\n      - run: pytest tests\n",
            "src/settings.py": "import os\n\ndef env_name():\n    return os.environ.get('ENV', 'dev')\n",
            "tests/test_settings.py": "from src.settings import env_name\n\ndef test_env():\n    assert env_name() == 'dev'\n",
            "train.py": "from sklearn.svm import SVC\nSVC().fit([[0], [1]], [0, 1])\n",
        }, "present", "CI runs the tests on every push; that they test no ML code is the ml-tests question", fires=True),
        Example({
            ".github/workflows/tests.yml": "on: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n"
                                           "      - uses: actions/checkout@v4\n      - run: pytest tests\n",
            "tests/test_creation.py": "import subprocess\n\ndef test_bake():\n"
                                      "    assert subprocess.run(['cookiecutter', '--no-input', '.']).returncode == 0\n",
            "{{ cookiecutter.repo_name }}/src/train.py": "from sklearn.svm import SVC\nSVC().fit([[0], [1]], [0, 1])\n",
        }, "partial", "a template's CI tests only the template; the projects it generates get no CI", fires=True),
        Example({
            ".github/workflows/tests.yml": "on: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n"
                                           "      - uses: actions/checkout@v4\n      - run: pytest tests\n",
            "tests/test_creation.py": "import subprocess\n\ndef test_bake():\n"
                                      "    assert subprocess.run(['copier', 'copy', '.', '/tmp/p']).returncode == 0\n",
            "templates/base/src/{{repo_name}}/train.py": "from sklearn.svm import SVC\nSVC().fit([[0], [1]], [0, 1])\n",
            "templates/base/.github/workflows/ci.yml.jinja": "on: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n"
                                                             "    steps:\n      - run: pytest\n",
        }, "present", "a copier template renders a CI workflow for the projects it generates", fires=True),
        Example({
            "ado_pipelines/ci_pipeline.yml": "trigger:\n  branches:\n    include: [main]\nsteps:\n"
                                             "- bash: python -m pytest --junitxml=junit/results.xml tests || true\n"
                                             "- task: PublishTestResults@2\n  inputs:\n    testResultsFiles: 'junit/*.xml'\n"
                                             "    failTaskOnFailedTests: true\n",
            "tests/test_model.py": "def test_ok():\n    assert True\n",
        }, "present", "an Azure DevOps pipeline folder; published test results fail the run", fires=True),
        Example({
            "buildspec.yml": "version: 0.2\nphases:\n  install:\n    commands:\n      - pip install tox\n"
                             "  pre_build:\n    commands:\n      - tox\n  build:\n    commands:\n"
                             "      - docker build -t app .\n",
            "tox.ini": "[testenv]\ncommands = pytest tests\n",
            "src/model.py": "import torch\n\ndef build():\n    return torch.nn.Linear(4, 2)\n",
            "tests/test_model.py": "import torch\nfrom src.model import build\n\n"
                                   "def test_shape():\n    assert build()(torch.zeros(1, 4)).shape == (1, 2)\n",
        }, "present", "an AWS CodeBuild buildspec that runs the tests before building the image", fires=True),
        Example({
            "pipeline/modeldeploy/buildspec.yml": "version: 0.2\nphases:\n  build:\n    commands:\n"
                                                  "      - cdk synth\n      - cdk deploy --require-approval never\n",
            "src/train.py": "from sklearn.svm import SVC\nSVC().fit([[0], [1]], [0, 1])\n",
        }, "partial", "a CodeBuild buildspec that only deploys: CI without tests", fires=True),
    )

    def check(self, facts):
        jobs = facts.ci_jobs
        if not jobs:
            if facts.ci_files:
                path = facts.ci_files[0]
                yield self.found("partial", path, 1, f"{path} configures CI, but no job could be read from it")
            return
        steps = [step for job in jobs for step in job.steps]
        if steps and all(step.uses and not step.run and CHORE_ACTIONS.match(step.uses) for step in steps):
            return  # only issue/PR housekeeping bots: nothing is built or checked
        graph = facts.graph
        train_targets = {ep.target for ep in graph.training_entry_points}
        bare_template = not ml_tests_exist(facts) and _template_without_ci(facts)
        supported: Dict[Tuple[str, str], Tuple[str, str, int, str]] = {}
        gapped = False
        optional: List[Tuple[str, int, str]] = []
        others: List[Tuple[str, int, str]] = []
        duties: Set[str] = set()
        for job in jobs:
            manual = job.system == "github" and bool(job.triggers) and set(job.triggers) <= MANUAL_TRIGGERS
            for step in job.steps:
                if step.uses and not step.run and ".github/workflows/" in step.uses and step.line == job.line:
                    if step.uses.startswith("./") and facts.exists(step.uses[2:].split("@", 1)[0]):
                        continue  # a workflow of this repo: its own jobs are read and judged as well
                    others.append((job.path, job.line, f"job {job.name} calls the reusable workflow {step.uses}, "
                                                       "whose steps are not in this repo"))
                    continue
                what = self._checks(facts, graph, step.run, train_targets)
                if not what:
                    text = f"{step.uses} {step.run} {step.name}"
                    duties.update(k for k, rx in KINDS_OF_STEP if rx.search(text))
                    continue
                kind, desc = what
                if step.may_fail or job.may_fail:
                    gapped = True
                    optional.append((job.path, step.line,
                                     f"job {job.name} {desc}, but the step cannot fail the build "
                                     f"({'continue-on-error/allow_failure' if not _swallows(step.run) else '|| true'})"))
                elif manual:
                    others.append((job.path, step.line, f"job {job.name} {desc}, but only when started by hand"))
                elif kind == "tests" and bare_template:
                    others.append((job.path, step.line, f"job {job.name} {desc}, but they test only the project "
                                                        "template, and the projects it generates get no CI"))
                elif (job.path, job.name) not in supported:
                    supported[(job.path, job.name)] = (kind, job.path, step.line, f"job {job.name} {desc}")
                elif kind != "training" and supported[(job.path, job.name)][0] == "training":
                    supported[(job.path, job.name)] = (kind, job.path, step.line, f"job {job.name} {desc}")
        if any(kind != "training" for kind, *_ in supported.values()):
            # a blocking test step: further optional steps (a backtest, an integration run allowed to
            # fail) do not make the tests optional
            for kind, path, line, msg in list(supported.values())[:6]:
                yield self.found("supports", path, line, msg)
            return
        for path, line, msg in optional[:4]:
            yield self.found("gap", path, line, msg)
        for kind, path, line, msg in list(supported.values())[:4]:
            # a training script run with no test and no pipeline reproduction: a smoke run, not a check
            yield self.found("partial", path, line, f"{msg}, but no job runs tests: a training smoke run is not a check")
        if supported:
            return
        for path, line, msg in others[:4]:
            yield self.found("partial", path, line, msg)
        if not others:
            what = ", ".join(sorted(duties)) or "setup steps"
            first = jobs[0]
            jobs_text = f"{len(jobs)} job{'s' if len(jobs) != 1 else ''}: {what}"
            yield self.found("partial", first.path, first.line,
                             f"CI is configured ({jobs_text}), but its tests cannot fail the build" if gapped else
                             f"CI is configured ({jobs_text}), but no job runs tests or a training check")

    def _checks(self, facts, graph, command: str, train_targets, depth: int = 0) -> Optional[Tuple[str, str]]:
        """("tests"|"pipeline"|"training", description) for what a command (and the files it names) runs:
    tests first, then a pipeline reproduction, then a training entry point."""
        if not command or depth > 2:
            return None
        lines = [ln for ln in command.splitlines() if not INSTALL.search(ln) and not ln.lstrip().startswith("#")]
        for ln in lines:
            m = TEST_COMMAND.search(ln)
            if m:
                return "tests", f"runs the tests ({m.group(0).strip()})"
        for ln in lines:
            m = PIPELINE_COMMAND.search(ln)
            if m:
                return "pipeline", f"reproduces the pipeline ({m.group(0)})"
        for t in command_targets(command):
            node = _node_for(facts, graph, t)
            if node and node in train_targets:
                return "training", f"runs the training entry point {node[4:]}"
        for ref in FILE_REF.findall(command):
            rel = str(PurePosixPath(strip_dot_slash(ref)))
            if facts.exists(rel) and not rel.startswith(".github/workflows/"):
                got = self._checks(facts, graph, facts.text(rel) or "", train_targets, depth + 1)
                if got:
                    return got[0], f"{got[1]} via {rel}"
        return None


def _node_for(facts, graph, t) -> Optional[str]:
    if t.kind == "script":
        rel = re.sub(r"^(\./)+", "", t.target.replace("\\", "/"))
        if rel in facts.code:
            return f"mod:{rel}"
        tails = [p for p in facts.code if p.endswith("/" + rel)]
        return f"mod:{tails[0]}" if len(tails) == 1 else None
    if t.kind == "module":
        p = graph.resolve_module(None, t.target)
        return f"mod:{p}" if p else None
    return None


def _template_without_ci(facts) -> bool:
    """A project template (cookiecutter/copier `{{ ... }}` folders) that ships no CI configuration."""
    templated = [f.path for f in facts.files if "{{" in f.path]
    # the generated project's CI: under a `{{ ... }}` folder, or a CI file rendered from a
    # `.jinja` template inside a template folder (copier: templates/x/.github/workflows/ci.yml.jinja)
    rendered = [f.path.rsplit(".", 1)[0] for f in facts.files
                if f.path.endswith((".jinja", ".j2")) and "/" in f.path.split(".github/", 1)[0]]
    return bool(templated) and not any(TEMPLATE_CI.search(p.split("}}", 1)[-1]) for p in templated + rendered)


def _swallows(script: str) -> bool:
    return bool(re.search(r"\|\|\s*(true|:|exit\s+0)\b", script or "")) or "set +e" in (script or "")
