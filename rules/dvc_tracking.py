from __future__ import annotations

from mlscan.rulekit import Example, Rule


class DvcTracksData(Rule):
    """Data is tracked with DVC

    Evidence: `*.dvc` pointer files, `dvc.yaml` stages with outputs, a committed `dvc.lock`, and a
    configured remote in `.dvc/config`. DVC initialised with nothing tracked counts as partial.
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
    )

    def check(self, facts):
        pointers = [f for f in facts.files if f.suffix == ".dvc" and f.name != ".dvc"]
        tracked = False
        for f in pointers[:20]:
            doc = facts.config(f.path)
            outs = doc.data.get("outs") if doc and isinstance(doc.data, dict) else None
            if outs:
                tracked = True
                yield self.found("supports", f.path, 1, "data tracked by a DVC pointer file")
        for f in facts.glob("dvc.yaml"):
            doc = facts.config(f.path)
            stages = doc.data.get("stages") if doc and isinstance(doc.data, dict) else None
            outs = [name for name, st in (stages or {}).items() if isinstance(st, dict) and st.get("outs")]
            if outs:
                tracked = True
                yield self.found("supports", f.path, facts.line_of(f.path, "outs:"),
                                 f"DVC pipeline versions the outputs of stage(s) {', '.join(map(str, outs[:4]))}")
        for f in facts.glob("dvc.lock"):
            tracked = True
            yield self.found("supports", f.path, 1, "dvc.lock pins the hashes of pipeline data")
        remote = self._remote(facts)
        if remote and tracked:
            yield self.found("supports", remote[0], remote[1], "a DVC remote stores the versioned data")
        elif remote or facts.exists(".dvc/config") or facts.exists(".dvc/.gitignore"):
            path, line = remote or (".dvc/config" if facts.exists(".dvc/config") else ".dvc/.gitignore", 1)
            if not tracked:
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
