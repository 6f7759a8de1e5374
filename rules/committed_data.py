from __future__ import annotations

from pathlib import PurePosixPath

from mlscan.rulekit import Example, Rule
from mlscan.rules._vocab import DATA_SUFFIXES

DATA_DIRS = {"data", "datasets", "dataset", "raw", "processed", "input", "inputs", "corpus", "interim", "external"}
NOT_TRAINING_DATA_DIRS = {"examples", "example", "docs", "doc", "tests", "test", "fixtures", "samples", "sample",
                          "assets", "static", ".github", "results", "benchmarks", "notebooks"}
MIN_BYTES = 10 * 1024


class DataCommittedToGit(Rule):
    """Data files are committed straight into git

    Data files (CSV, Parquet, NumPy, archives, ...) in a data folder, or read by the code, that are
    committed to git without LFS, in the tree or (once added, since removed) in the history read. Git keeps every version, so this is partial evidence of data
    versioning: nothing ties a model to the data version it was trained on.
    """

    id = "data-in-git"
    practice = "data-versioning"
    examples = (
        Example({"data/train.csv": "a,b\n" + "1,2\n" * 6000, "train.py": "import pandas as pd\n"
                 "df = pd.read_csv('data/train.csv')\n"}, "partial", commits=({},)),
        Example({"examples/iris.csv": "a,b\n" + "1,2\n" * 6000, "train.py": "print(1)\n"}, "absent",
                "an example file is not training data", commits=({},)),
        Example({"data/raw/train.csv": "a,b\n" + "1,2\n" * 6000, "train.py": "import pandas as pd\n"
                 "df = pd.read_csv('data/raw/train.csv')\n"}, "partial",
                "data committed, then removed from the tree: history still versions it", fires=True,
                commits=({"data/raw/train.csv": None, ".gitignore": "data/\n"},)),
    )

    def check(self, facts):
        lfs_patterns = [r.pattern for r in facts.gitattributes if r.lfs]
        referenced = {PurePosixPath(v).name for idx in facts.non_test_code() for v, _ in idx.strings}
        packages = {f.path.rsplit("/", 1)[0] for f in facts.files if f.name == "__init__.py" and "/" in f.path}
        hits = []
        for f in facts.files:
            if not f.tracked or f.suffix not in DATA_SUFFIXES or f.size < MIN_BYTES:
                continue
            if f.suffix == ".txt" and (f.name.startswith(("requirements", "README", "LICENSE")) or "requirements" in f.path):
                continue
            parts = {p.lower() for p in f.parts[:-1]}
            if parts & NOT_TRAINING_DATA_DIRS:
                continue
            if any(PurePosixPath(f.path).match(p) for p in lfs_patterns):
                continue
            if any(f.path.startswith(pkg + "/") for pkg in packages):
                continue  # resources shipped inside a Python package, not training data
            if parts & DATA_DIRS or f.name in referenced:
                hits.append(f)
        for f in hits[:5]:
            yield self.found("partial", f.path, None, f"raw data committed to git: {f.path} ({f.size // 1024} KiB), "
                                                      f"without LFS or DVC")
        if not hits:
            yield from self._in_history(facts, lfs_patterns)

    def _in_history(self, facts, lfs_patterns):
        """Data once committed and since removed from the tree: git history still versions it."""
        hist = facts.history
        if not hist.available:
            return
        present = {f.path for f in facts.files if f.tracked}
        for commit in reversed(hist.commits):   # oldest first
            for ch in commit.changes:
                p = PurePosixPath(ch.path)
                parts = {x.lower() for x in p.parts[:-1]}
                if ch.status != "A" or ch.path in present or p.suffix.lower() not in DATA_SUFFIXES or p.suffix == ".txt" \
                        or not parts & DATA_DIRS or parts & NOT_TRAINING_DATA_DIRS \
                        or hist.blob_sizes.get(ch.blob, 0) < MIN_BYTES or any(p.match(x) for x in lfs_patterns):
                    continue
                size = hist.blob_sizes[ch.blob] // 1024
                yield self.found("partial", ch.path, None, f"raw data committed to git history: {ch.path} ({size} KiB, "
                                                           f"added in {commit.sha[:12]}, no longer in the tree)")
                return
