from __future__ import annotations

from mlscan.facts.deps import command_installs
from mlscan.rulekit import Example, Rule


class PinnedInstallCommands(Rule):
    """With no dependency file, the documented install commands pin versions

    A repo that declares its dependencies in no file at all (no requirements, pyproject, setup.py,
    conda environment, Pipfile, lock or Dockerfile install) still tells its users what to install:
    the `pip install` / `conda install` commands of its README and docs, its notebooks' `!pip
    install` cells and its shell scripts. When some of those commands pin exact versions
    (`torch==1.8.0+cu111`, `efficientnet==1.1.0`) the environment is partly pinned; unpinned
    commands pin nothing. A repo with a dependency file is judged by that file, not by its docs.
    """

    id = "pinned-install-commands"
    practice = "dependency-pinning"
    examples = (
        Example({
            "README.md": "# ConvNet\n\n## Install\n\n```bash\npip install torch==1.8.0+cu111 torchvision==0.9.0+cu111\n"
                         "pip install timm tensorboardX\n```\n",
            "train.py": "import torch\n",
        }, "partial", "README install commands pin the framework, no dependency file", fires=True),
        Example({
            "demo.ipynb": '{"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": '
                          '["!pip install efficientnet==1.1.0\\n", "import efficientnet\\n"]}], "metadata": {}, '
                          '"nbformat": 4, "nbformat_minor": 5}',
        }, "partial", "a notebook installs a pinned package, no dependency file", fires=True),
        Example({
            "README.md": "# Course\n\n```bash\npip install torch torchvision\n```\n",
            "train.py": "import torch\n",
        }, "absent", "unpinned install commands pin nothing", fires=False),
        Example({
            "README.md": "# Classifier\n\n```bash\npip install torch==1.7.1 torchvision==0.8.2\n```\n",
            "requirements.txt": "torch\ntorchvision\nopencv-python\n",
        }, "absent", "the dependency file is bare names: the repo is judged by its file, not its README", fires=False),
    )

    def check(self, facts):
        if any(s.size or s.source in ("lock", "compiled") for s in facts.dependency_sets if s.role == "main"):
            return   # a dependency file says how the project is installed
        pinned = [r for r in command_installs(facts) if r.pinned]
        if not pinned:
            return
        names = sorted({r.name for r in pinned})
        first = min(pinned, key=lambda r: (r.path, r.line))
        shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
        yield self.found("partial", first.path, first.line,
                         f"no dependency file, but install commands pin {len(names)} package(s) exactly ({shown})")
