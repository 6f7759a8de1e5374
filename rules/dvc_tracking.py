from __future__ import annotations

from mlscan.rulekit import Example, Rule
from mlscan.rules._vocab import OUTPUT_PATH


class DvcTracksData(Rule):
    """Data is tracked with DVC

    Evidence: `*.dvc` pointer files, `dvc.yaml` stages with data outputs, a committed `dvc.lock`, and a
    configured remote in `.dvc/config`. DVC initialised with nothing tracked counts as partial, and so
    does DVC that versions only models, metrics or plots (the input data stays unversioned), and DVC
    that tracks data with no remote configured: the versions live only in one machine's cache.
    """

    id = "dvc-tracked-data"
    practice = "data-versioning"
    examples = (
        Example({"data/train.csv.dvc": "outs:\n- md5: 0123456789abcdef0123456789abcdef\n  size: 42\n  path: train.csv\n",
                 ".dvc/config": "[core]\n    remote = storage\n['remote \"storage\"']\n    url = s3://bucket/dvc\n",
                 "train.py": "import pandas as pd\ndf = pd.read_csv('data/train.csv')\n"}, "present"),
        Example({".dvc/config": "[core]\n    remote = gcs\n['remote \"gcs\"']\n    url = gs://bucket/x\n",
                 "train.py": "print('hi')\n"}, "partial", "DVC initialised, nothing tracked"),
        Example({"train.py": "import pandas as pd\ndf = pd.read_csv('data/train.csv')\n"}, "absent"),
        Example({"dvc.yaml": "stages:\n  train:\n    cmd: python train.py\n    deps:\n    - train.py\n"
                             "    outs:\n    - models/model.pkl\n    metrics:\n    - metrics.json\n",
                 "train.py": "import pandas as pd\ndf = pd.read_csv('https://example.org/train.csv')\n"},
                "partial", "DVC versions the model only, not the data", fires=True),
        Example({"dvc.yaml": "stages:\n  prepare:\n    cmd: python prepare.py\n    outs:\n    - data/prepared\n"
                             "  train:\n    cmd: python train.py\n    deps:\n    - data/prepared\n    outs:\n    - model.pkl\n",
                 ".dvc/config": "[core]\n    remote = s3\n['remote \"s3\"']\n    url = s3://bucket/dvc\n",
                 "prepare.py": "print(1)\n", "train.py": "print(2)\n"}, "present", "prepared data is a versioned output"),
        Example({"dvc.yaml": "stages:\n  preprocess:\n    cmd: python preprocess.py\n    deps:\n    - data/raw/train.csv\n"
                             "  train:\n    cmd: python train.py\n",
                 "dvc.lock": "schema: '2.0'\nstages:\n  preprocess:\n    cmd: python preprocess.py\n    deps:\n"
                             "    - path: data/raw/train.csv\n      md5: 0123456789abcdef0123456789abcdef\n      size: 42\n",
                 "preprocess.py": "print(1)\n", "train.py": "print(2)\n"},
                "partial", "the lock hashes inputs git holds; no outputs, pointers or remote", fires=True),
        Example({"data/train.csv.dvc": "outs:\n- md5: 0123456789abcdef0123456789abcdef\n  size: 42\n  path: train.csv\n",
                 ".dvc/config": "", ".dvc/.gitignore": "/config.local\n/tmp\n/cache\n",
                 "train.py": "import pandas as pd\ndf = pd.read_csv('data/train.csv')\n"},
                "partial", "pointer files but no remote: the data is only in a local cache", fires=True),
    )

    def check(self, facts):
        yield from self._judged(facts, self._remote(facts))

    def _judged(self, facts, remote):
        """The findings, with "supports" held to partial when no remote stores what DVC tracks."""
        for finding in self._findings(facts, remote):
            if not remote and finding.kind == "supports":
                yield self.found("partial", finding.path, finding.line,
                                 f"{finding.message}, but no DVC remote is configured: the versions stay in a local cache")
            else:
                yield finding

    def _findings(self, facts, remote):
        pointers = [f for f in facts.files if f.suffix == ".dvc" and f.name != ".dvc"]
        tracked = False
        for f in pointers[:20]:
            doc = facts.config(f.path)
            outs = doc.data.get("outs") if doc and isinstance(doc.data, dict) else None
            if outs:
                tracked = True
                yield self.found("supports", f.path, 1, "data tracked by a DVC pointer file")
        outputs_only = []
        for f in facts.glob("dvc.yaml"):
            doc = facts.config(f.path)
            stages = doc.data.get("stages") if doc and isinstance(doc.data, dict) else None
            outs = {name: _out_paths(st.get("outs")) for name, st in (stages or {}).items() if isinstance(st, dict) and st.get("outs")}
            data_outs = [name for name, paths in outs.items() if any(not OUTPUT_PATH.search(p) for p in paths)]
            if data_outs:
                tracked = True
                yield self.found("supports", f.path, facts.line_of(f.path, "outs:"),
                                 f"DVC pipeline versions the outputs of stage(s) {', '.join(map(str, data_outs[:4]))}")
            elif outs:
                outputs_only.append((f.path, sorted({p for paths in outs.values() for p in paths})))
        for f in facts.glob("dvc.lock"):
            if tracked or not outputs_only:
                if not tracked and not remote and not _declares_outs(facts):
                    # stages without outputs: the lock only hashes inputs that git itself holds
                    yield self.found("partial", f.path, 1, "dvc.lock records the hashes of the pipeline's inputs, but "
                                                           "DVC stores no data: no stage outputs, pointer files or remote")
                    continue
                tracked = True
                yield self.found("supports", f.path, 1, "dvc.lock pins the hashes of pipeline data")
        if outputs_only and not tracked:
            path, shown = outputs_only[0]
            yield self.found("partial", path, facts.line_of(path, "outs:"),
                             f"DVC used for models or outputs only: it versions {', '.join(shown[:3])}, not the input data")
        if remote and tracked:
            yield self.found("supports", remote[0], remote[1], "a DVC remote stores the versioned data")
        elif remote or facts.exists(".dvc/config") or facts.exists(".dvc/.gitignore"):
            path, line = remote or (".dvc/config" if facts.exists(".dvc/config") else ".dvc/.gitignore", 1)
            if not tracked and not outputs_only:
                yield self.found("partial", path, line, "DVC is initialised but no data is tracked with it")

    @staticmethod
    def _remote(facts):
        for path in (".dvc/config",):
            doc = facts.config(path)
            if doc and isinstance(doc.data, dict):
                for section in doc.data:
                    if section.strip("'\"").startswith("remote"):
                        return path, facts.line_of(path, "remote")
        return None


def _declares_outs(facts) -> bool:
    """Whether any dvc.yaml stage declares outputs (data DVC would store and version)."""
    for f in facts.glob("dvc.yaml"):
        doc = facts.config(f.path)
        stages = doc.data.get("stages") if doc and isinstance(doc.data, dict) else None
        if any(isinstance(st, dict) and st.get("outs") for st in (stages or {}).values()):
            return True
    return False


def _out_paths(outs) -> list:
    """The paths of a dvc.yaml stage's `outs:` (plain strings or one-key mappings with options)."""
    items = outs if isinstance(outs, list) else [outs]
    out = []
    for item in items:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            out.extend(str(k) for k in item)
    return out
