from __future__ import annotations

from mlscan.rulekit import Example, Rule
from mlscan.rules.pinned_requirements import MOSTLY_PINNED, PINNED, installed_pinned_share


class UnpinnedInstalls(Rule):
    """Every environment that gets installed is pinned

    Counter-evidence for dependency pinning: a requirements file, conda environment, Pipfile
    without its lock, or Dockerfile `pip install` that installs the project's runtime packages
    with fewer than 80% of them pinned, and that no lock or constraints file resolves. An image
    that only runs an ML tool's own server (`pip install mlflow psycopg2-binary` for `mlflow
    server`) is a service beside the project and is not counted. Package
    metadata (`install_requires`, pyproject `dependencies`) is meant to hold ranges and is not
    counted here, nor are dev/test/docs sets. Makes pinning elsewhere partial (a pinned training
    environment next to an unpinned serving image); on its own it explains the absence. When
    85% or more of all the packages the project installs are pinned, a small loose set beside
    them does not make the pinning partial.
    """

    id = "unpinned-installs"
    practice = "dependency-pinning"
    examples = (
        Example({
            "Pipfile": '[packages]\npandas = "*"\nmlflow = "*"\n',
            "Pipfile.lock": '{"_meta": {"hash": {"sha256": "0"}}, "default": {"pandas": {"version": "==2.2.2"}}}\n',
            "deployment/requirements.txt": "mlflow\nscikit-learn\nflask\ngunicorn\n",
            "deployment/Dockerfile": "FROM python:3.9-slim\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\n",
        }, "partial", "training is locked, the serving image installs unpinned requirements", fires=True),
        Example({
            "Pipfile": '[packages]\npandas = "*"\nmlflow = "*"\n',
            "Pipfile.lock": '{"_meta": {"hash": {"sha256": "0"}}, "default": {"pandas": {"version": "==2.2.2"}}}\n',
        }, "present", "the Pipfile's ranges are resolved by Pipfile.lock", fires=False),
        Example({
            "conda.yaml": "name: tutorial\ndependencies:\n  - numpy>=1.14.3\n  - pandas>=1.0.0\n  - pip\n  - pip:\n    - mlflow\n",
        }, "absent", "lower bounds only", fires=True),
        Example({
            "requirements.txt": "pandas==2.2.2\nscikit-learn==1.5.0\nmlflow==2.14.2\n",
            "deployment/Dockerfile.tracking": "FROM python:3.12-slim\nRUN pip install mlflow psycopg2-binary boto3\n"
                                              "CMD [\"mlflow\", \"server\", \"--host\", \"0.0.0.0\"]\n",
        }, "present", "an image that only runs the MLflow tracking server is a service, not the project's "
                      "environment", fires=False),
        Example({
            "requirements.txt": "pandas==2.2.2\nscikit-learn==1.5.0\nmlflow==2.14.2\n",
            "docker/Dockerfile.playground": "FROM python:3.12-slim\nCOPY . .\nRUN pip install mlflow\n"
                                            "CMD [\"python\", \"train.py\"]\n",
        }, "partial", "an image that runs the training with an unpinned mlflow", fires=True),
        Example({
            "requirements.txt": "".join(f"pkg{i}==1.{i}.0\n" for i in range(20)),
            "monitoring/requirements.txt": "flask\npandas\n",
        }, "present", "twenty pinned packages and a two-package monitoring set beside them: nearly all pinned",
            fires=False),
        Example({
            "lambda/requirements.txt": "pandas==2.2.2\nscikit-learn==1.5.0\nboto3==1.34.0\n",
            "container/Dockerfile": "FROM ubuntu:22.04\nRUN pip3 --no-cache-dir install numpy==1.22 scipy scikit-learn "
                                    "pandas torch sentence_transformers\nCOPY train /opt/program/train\n",
        }, "partial", "a training image whose pip takes a global option before `install` installs unpinned packages",
            fires=True),
    )

    def check(self, facts):
        if installed_pinned_share(facts) >= MOSTLY_PINNED:
            return   # nearly every installed package is pinned: a loose side environment does not undo that
        for s in facts.dependency_sets:
            if not s.concrete or s.source in ("lock", "compiled") or s.role != "main" or not s.size:
                continue
            if s.pinned_share < PINNED:
                loose = [r for r in s.counted if not r.pinned]
                first = min(loose, key=lambda r: r.line)
                names = ", ".join(r.name for r in loose[:4]) + (f" and {len(loose) - 4} more" if len(loose) > 4 else "")
                yield self.found("gap", s.path, first.line,
                                 f"{len(loose)} of {s.size} packages installed without an exact version: {names}")
