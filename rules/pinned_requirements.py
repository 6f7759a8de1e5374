from __future__ import annotations

import re

from mlscan.facts.deps import upper_bounded
from mlscan.rulekit import Example, Rule

PINNED = 0.8      # share of exact pins for a set to count as pinned
SOME = 0.2        # share of exact pins (or, in install files, of bounded ranges) for "partly pinned"
BOUNDED = 0.5
FEW = 0.125       # "some pins" that make up less than an eighth of the set are incidental...
# ...unless one of them is the ML framework itself
ML_FRAMEWORKS = {"torch", "torchvision", "tensorflow", "tensorflow-gpu", "tensorflow-cpu", "keras", "jax", "jaxlib",
                 "transformers", "scikit-learn", "xgboost", "lightgbm", "catboost", "pytorch-lightning", "lightning",
                 "timm", "paddlepaddle", "paddlepaddle-gpu", "mxnet"}
# a base image fixed to a patch release or a digest: python:3.11.4-slim, pytorch/pytorch:2.1.0-cuda12.1, image@sha256:...
PINNED_IMAGE = re.compile(r"^\S+@sha256:[0-9a-f]{64}|^[\w./-]+:v?\d+\.\d+\.\d+")


class PinnedRequirements(Rule):
    """Declared dependencies are pinned to exact versions

    Reads each dependency set on its own: requirements files, PEP 621 `dependencies`, Poetry
    tables, `install_requires` in setup.py/setup.cfg, conda environments, Pipfiles and the
    packages a Dockerfile `pip install`s (`==`/`===`, conda `=`, `--hash`, a git URL at a commit).
    A set with at least 80% of its packages pinned supports the practice; one with a few pins
    (two or more, and at least 20%), an install file mostly made of bounded ranges
    (`>=1.3,<1.4`, `~=1.4`, Poetry `~1.4`; a cap at the next major alone, `>=2.1,<3`, or an
    exclusion, `!=1.4.*`, holds nothing), or a set
    where some packages are pinned or held to a release line
    (`==1.27.*`, `~=1.5.1`: a fifth of the set, or two or more that make up an eighth of it or include
    the ML framework) is partial ("some pins"). Lower bounds alone pin nothing, and one pin among many
    floating packages is an exception, not a mix; so are two incidental pins (a logger, an audio tool)
    among seventeen floating packages. A Dockerfile's pins on a base image that floats (untagged or
    `:latest`) that supplies everything else are partial. With no dependency set at all, a base image pinned to a patch release or digest is partial. A Dockerfile that
    pins one or two extra packages beside the project's own requirements is a side install and says nothing. In a
    template repo (no set of its own), the generated project's sets are judged. Development, test, docs and example sets,
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
        Example({
            "conda.yml": "name: train\ndependencies:\n  - python=3.8\n  - pip:\n    - azureml-sdk==1.27.*\n"
                         "    - scikit-learn\n    - pandas\n    - joblib\n",
        }, "partial", "some pins: one package held to a release line, the rest float", fires=True),
        Example({
            "pyproject.toml": "[tool.poetry]\nname = 'svc'\nversion = '0.1.0'\n\n[tool.poetry.dependencies]\n"
                              "python = '^3.10'\ntorch = '~2.1'\nnumpy = '~1.26'\npandas = '*'\nrequests = '*'\ntqdm = '*'\n",
        }, "partial", "Poetry's tilde holds a minor release line (~2.1 is >=2.1,<2.2)", fires=True),
        Example({
            "requirements.txt": "numpy!=1.24.*\npandas!=2.0.*\ntorch>=2.0\n",
        }, "absent", "excluding a bad release holds nothing", fires=False),
        Example({
            "Dockerfile": "FROM python:3.10.13-slim\nCOPY app.py .\nCMD [\"python\", \"app.py\"]\n",
        }, "partial", "pinned base image alone", fires=True),
        Example({
            "requirements.txt": "torch>=2.0\nnumpy>=1.24\n",
            "Dockerfile": "FROM pytorch/pytorch:2.1.0-cuda12.1-cudnn8-runtime\nRUN pip install -r requirements.txt\n",
        }, "absent", "lower bounds beside a pinned image: the image is not alone", fires=False),
        Example({
            "{{ cookiecutter.repo_name }}/requirements.txt": "kedro~=0.19.0\nscikit-learn~=1.5.1\nipython>=8.10\nnotebook\n",
        }, "partial", "a template repo's generated requirements", fires=True),
        Example({
            "Dockerfile": "FROM gcr.io/kaggle-gpu-images/python:latest\nRUN pip install timm==0.9.2 polars==0.18.4 "
                          "pyturbojpeg==1.7.1\n",
        }, "partial", "pinned packages on a `:latest` base image that supplies everything else", fires=True),
        Example({
            "requirements.txt": "torch>=2.1.0,<3.0.0\ntransformers>=4.40,<5\ndatasets>=2.18,<3\ngradio>=4.0,<5.0\n",
            "Dockerfile": "FROM python:3.11-slim\nCOPY . .\nRUN pip install -r requirements.txt\n",
        }, "absent", "caps at the next major version let every minor release in: nothing is held", fires=False),
        Example({
            "requirements.txt": "torch>=2.0\nnumpy>=1.24\npandas>=2.0\nscikit-learn>=1.3\nmlflow>=2.0\nevidently==0.6.7\n",
        }, "absent", "lower bounds with a single exact pin among them", fires=False),
        Example({
            "requirements.txt": "numpy>=1.20\nscipy>=1.5\nlibrosa>=0.9\nsoundfile>=0.12\nresampy>=0.2\nnumba>=0.53\n"
                                "pyyaml>=5.4\nscikit-learn>=1.0\ntqdm>=4.59\nvisualdl==2.5.3\npydub~=0.25.1\n"
                                "termcolor>=1.1\ntorchinfo>=1.7\nloguru>=0.6\nmatplotlib>=3.5\naudiomentations>=0.30\n"
                                "av>=10.0\n",
        }, "absent", "two incidental pins (a logger, an audio tool) among seventeen lower bounds", fires=False),
        Example({
            "requirements.txt": "torch==1.11.0\ntransformers==4.20.1\n" + "".join(f"pkg{i}>=1.0\n" for i in range(12)),
        }, "partial", "the framework pinned among lower bounds", fires=True),
        Example({
            "requirements.txt": "dvc\nscikit-learn\nmlflow\npandas\n",
            "docker/mlflow/Dockerfile": "FROM python:3.11-slim\nRUN pip install psycopg2-binary==2.9.9\n",
        }, "absent", "one pinned package in a side image does not pin an unpinned project", fires=False),
        Example({
            "pytorch_environment.yml": "name: pytorch\nchannels:\n  - conda-forge\ndependencies:\n"
                                       "  - numpy=1.26.4=py310h055cbcc_0\n  - pytorch=2.3.0=py3.10_cuda12.1_cudnn8_0\n"
                                       "  - scikit-learn=1.2.2=py310hd77b12b_1\n",
        }, "present", "a conda export named for its environment, every package pinned with its build", fires=True),
        Example({
            "cog.yaml": "build:\n  gpu: true\n  python_packages:\n    - \"torch==1.7.1\"\n    - \"numpy==1.21.1\"\n"
                        "    - \"basicsr==1.4.2\"\npredict: \"predict.py:Predictor\"\n",
            "requirements.txt": "torch>=1.7\nnumpy\nbasicsr>=1.4.2\n",
        }, "partial", "the Cog image pins its packages; the training requirements float", fires=True),
        Example({
            "requirements_conda.txt": "# This file may be used to create an environment using:\n"
                                      "# $ conda create --name <env> --file <this file>\n# platform: win-64\n"
                                      "numpy=1.26.4=py310h055cbcc_0\npytorch=2.3.0=py3.10_cuda12.1_cudnn8_0\n"
                                      "scikit-learn=1.2.2=py310hd77b12b_1\n",
        }, "present", "a `conda list --export` file: every package with its version and build", fires=True),
        Example({
            "pyproject.toml": '[project]\nname = "pi"\n\n[tool.pixi.dependencies]\ndatasets = ">=3.4.1"\n'
                              'transformers = ">=4.51.3,<=4.55.4"\npeft = ">=0.17.1,<0.18"\nflash-attn = "2.7.4.*"\n'
                              'pytorch-gpu = "2.7.1.*"\nnumpy = ">=1.26.0,<3"\n',
            ".gitignore": "pixi.lock\n",
        }, "partial", "pixi dependencies in ranges and release lines, the lock not committed", fires=True),
    )

    def check(self, facts):
        main = [s for s in facts.dependency_sets if s.source not in ("lock", "compiled") and s.role == "main" and s.size]
        if not main:  # a template repo: the generated project's dependencies are the project's
            main = [s for s in facts.dependency_sets
                    if s.source not in ("lock", "compiled", "docker") and s.role == "generated" and s.size]
        judged = False
        for s in main:
            if side_install(s, main):
                continue
            if s.pinned_share >= PINNED and s.source == "docker" and _floating_base(facts, s.path):
                judged = True
                yield self.found("partial", s.path, s.line,
                                 f"{s.pinned} of {s.size} {_what(s)} pinned, on a base image that floats "
                                 f"({_floating_base(facts, s.path)}) and supplies the rest")
            elif s.pinned_share >= PINNED:
                judged = True
                yield self.found("supports", s.path, s.line,
                                 f"{s.pinned} of {s.size} {_what(s)} pinned to exact versions")
            elif (s.pinned >= 2 and s.pinned_share >= SOME) or (s.concrete and s.bounded >= 2 and s.bounded_share >= BOUNDED):
                judged = True
                yield self.found("partial", s.path, s.line,
                                 f"only {s.pinned} of {s.size} {_what(s)} pinned exactly"
                                 + (f" ({s.bounded} bounded above)" if s.bounded > s.pinned else ""))
            elif _some_pins(s):
                judged = True
                held = [f"{r.name}{r.specifier}" for r in s.counted if r.pinned or upper_bounded(r.specifier)][:3]
                rest = ("the rest float" if s.bounded < s.size else
                        f"{s.pinned or 'none'} of them pinned to an exact version")
                yield self.found("partial", s.path, _line_of(facts, s, held),
                                 f"some pins: {s.bounded} of {s.size} {_what(s)} pinned or held to a release line "
                                 f"({', '.join(held)}); {rest}")
        if judged or main:
            return  # "pinned base image alone": only when no dependency set says more
        for path, instrs in sorted(facts.dockerfiles.items()):
            for i in instrs:
                if i.keyword == "FROM" and PINNED_IMAGE.search(i.value):
                    yield self.found("partial", path, i.line,
                                     f"pinned base image only: {i.value.split()[0]} (the packages installed on it float)")
                    return


def _floating_base(facts, path: str) -> str:
    """The Dockerfile's base image when every FROM is untagged or `:latest` (an earlier stage's name aside)."""
    froms = [i.value.split()[0] for i in facts.dockerfiles.get(path, []) if i.keyword == "FROM" and i.value.split()]
    stages = {i.value.split()[-1].lower() for i in facts.dockerfiles.get(path, [])
              if i.keyword == "FROM" and " as " in i.value.lower()}
    images = [f for f in froms if f.lower() not in stages and "$" not in f]
    if images and all(":" not in f.rsplit("/", 1)[-1] or f.endswith(":latest") for f in images):
        return images[0]
    return ""


def _some_pins(s) -> bool:
    """Some packages pinned or held to a release line: a fifth of the set, or two or more that make up an
    eighth of it or include the ML framework (two pins among twenty-five floating packages are incidental)."""
    if s.bounded and s.bounded_share >= SOME:
        return True
    held = [r for r in s.counted if r.pinned or upper_bounded(r.specifier)]
    return len(held) >= 2 and (s.bounded_share >= FEW or any(r.name in ML_FRAMEWORKS for r in held))


def side_install(s, sets) -> bool:
    """A Dockerfile `pip install` of one or two extra packages beside the project's own requirements
    (an MLflow image's `psycopg2==2.9`, an Airflow provider): it says nothing about the project's environment."""
    return s.source == "docker" and s.size <= 2 and any(
        o.source not in ("docker", "lock", "compiled") and o.concrete and o.size >= 3 for o in sets)


MOSTLY_PINNED = 0.85   # share of all installed packages: "nearly all pinned"


def installed_pinned_share(facts) -> float:
    """The share of exact pins over every package the project's environments install (requirements,
    conda, Pipfile and Dockerfile sets, not package metadata), or -1 when nothing is installed."""
    sets = [s for s in facts.dependency_sets if s.concrete and s.source not in ("lock", "compiled")
            and s.role == "main" and s.size]
    size = sum(s.size for s in sets)
    return sum(s.pinned for s in sets) / size if size else -1.0


def _line_of(facts, s, held) -> int:
    if held and s.source == "requirements":
        name = held[0].split("=")[0].split("~")[0].split("<")[0]
        return facts.line_of(s.path, name) or s.line
    return s.line


def _what(s) -> str:
    return {"docker": "packages installed by the Dockerfile", "conda": "conda environment packages",
            "pipfile": "Pipfile packages", "cog": "packages of the Cog image", "setup": "install_requires entries", "pyproject": "project dependencies",
            "poetry": "Poetry dependencies", "pixi": "pixi dependencies"}.get(s.source, "requirements")
