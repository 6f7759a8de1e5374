from __future__ import annotations

from mlscan.rulekit import Example, Rule

PINNED = 0.8      # share of exact pins for a set to count as pinned
SOME = 0.2        # share of exact pins (or, in install files, of bounded ranges) for "partly pinned"
BOUNDED = 0.5


class PinnedRequirements(Rule):
    """Declared dependencies are pinned to exact versions

    Reads each dependency set on its own: requirements files, PEP 621 `dependencies`, Poetry
    tables, `install_requires` in setup.py/setup.cfg, conda environments, Pipfiles and the
    packages a Dockerfile `pip install`s (`==`/`===`, conda `=`, `--hash`, a git URL at a commit).
    A set with at least 80% of its packages pinned supports the practice; one with a few pins
    (two or more, and at least 20%), or an install file mostly made of bounded ranges
    (`>=1.3,<1.4`, `~=1.4`), is partial. Lower bounds alone pin nothing. Development, test, docs and example sets,
    inputs that a lock resolves, and generated environments (MLflow model folders, templates)
    are left out; packaging tools (pip, setuptools, wheel) do not count.
    """

    id = "pinned-requirements"
    practice = "dependency-pinning"
    examples = (
        Example({
            "requirements.txt": "numpy==1.26.4\npandas==2.2.2\nscikit-learn==1.4.2\nmlflow==2.12.1\nfastapi>=0.110\n",
            "requirements-dev.txt": "pytest\nruff\n",
        }, "present", "four of five main requirements pinned; dev tools do not count", fires=True),
        Example({
            "environment.yml": "name: exp\nchannels: [conda-forge]\ndependencies:\n  - python=3.10\n  - numpy=1.26.4\n"
                               "  - pandas=2.2.2\n  - scikit-learn\n  - matplotlib\n  - pip:\n    - mlflow\n",
        }, "partial", "two of five packages pinned (python itself does not count)", fires=True),
        Example({
            "requirements.txt": "torch>=1.8.0\ntorchvision>=0.9.0\nopencv-python>=4.1.1\n",
            "Dockerfile": "FROM python:3.11-slim\nCOPY . .\nRUN pip install --upgrade pip && pip install -r requirements.txt\n",
        }, "absent", "lower bounds only; upgrading pip is not a dependency", fires=False),
        Example({
            "setup.py": "from setuptools import setup\nsetup(name='svc', install_requires=['flask==3.0.3', 'gunicorn==22.0.0'])\n",
        }, "present", "install_requires with exact pins", fires=True),
    )

    def check(self, facts):
        for s in facts.dependency_sets:
            if s.source in ("lock", "compiled") or s.role not in ("main",) or not s.size:
                continue
            if s.pinned_share >= PINNED:
                yield self.found("supports", s.path, s.line,
                                 f"{s.pinned} of {s.size} {_what(s)} pinned to exact versions")
            elif (s.pinned >= 2 and s.pinned_share >= SOME) or (s.concrete and s.bounded >= 2 and s.bounded_share >= BOUNDED):
                yield self.found("partial", s.path, s.line,
                                 f"only {s.pinned} of {s.size} {_what(s)} pinned exactly"
                                 + (f" ({s.bounded} bounded above)" if s.bounded > s.pinned else ""))


def _what(s) -> str:
    return {"docker": "packages installed by the Dockerfile", "conda": "conda environment packages",
            "pipfile": "Pipfile packages", "setup": "install_requires entries", "pyproject": "project dependencies",
            "poetry": "Poetry dependencies"}.get(s.source, "requirements")
