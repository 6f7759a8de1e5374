from __future__ import annotations

from typing import Dict, List, Tuple

from mlscan.facts.history import DATA_OR_MODEL_SUFFIXES
from mlscan.rulekit import Example, Rule

LIMIT = 5 * 1024 * 1024
_BIG_CSV = "a,b\n" + "1,2\n" * (LIMIT // 4 + 4096)   # just over 5 MiB


class LargeFilesOutOfGitHistory(Rule):
    """Large data and model files are kept out of plain git history

    Reads what the scan's one `git log` already collected: every data or model file version
    (CSV, Parquet, NumPy, HDF5, pickles, PyTorch/ONNX/safetensors weights, archives, ...) added
    or changed in the commits read, with blob sizes from a single `git cat-file --batch-check`.
    A blob over 5 MiB committed without git-LFS is a gap, named with its path and commit - also
    when the file was deleted later, because every clone still downloads it. No such blob, with
    git-LFS or DVC tracking the artefacts or only small data files committed, supports the
    practice; a history without any data or model file leaves it not applicable. When
    the history cannot be read (not a git repository, a shallow clone, no commits, or blobs
    missing from a partial clone) the result is inconclusive, never a failure.
    """

    id = "large-files-in-history"
    practice = "large-files-managed"
    examples = (
        Example({"train.py": "import torch\n"}, "absent", "a 5 MiB data file committed without LFS", fires=True,
                commits=({"data/train.csv": _BIG_CSV},)),
        Example({"train.py": "import pandas as pd\npd.read_csv('data/small.csv')\n", "data/small.csv": "a,b\n1,2\n"},
                "present", "only small files in history", fires=True, commits=({"data/small.csv": "a,b\n1,2\n3,4\n"},)),
        Example({".gitattributes": "*.pt filter=lfs diff=lfs merge=lfs -text\n", "train.py": "import torch\n"},
                "present", "git-LFS tracks the weights", fires=True, commits=({"README.md": "# model\n"},)),
        Example({"train.py": "import torch\n"}, "unknown", "not a git repository: history cannot be read", fires=True),
        Example({"train.py": "import torch\n"}, "not-applicable", "no data or model file ever committed", fires=True,
                commits=({"README.md": "# model\n"},)),
        Example({"train.py": "import torch\n", ".gitattributes": "*.py text\n"}, "absent",
                "a large checkpoint committed, then deleted: history still holds it", fires=True,
                commits=({"models/best.pt": _BIG_CSV}, {"models/best.pt": None})),
    )

    def check(self, facts):
        hist = facts.history
        if not hist.available:
            yield self.found("inconclusive", ".", None,
                             f"git history not read ({hist.note or 'not a git repository'}), "
                             f"so large files in it cannot be checked")
            return
        if not hist.commits:
            yield self.found("inconclusive", ".", None,
                             f"no commits read ({hist.note or 'empty history'}), "
                             f"so large files in history cannot be checked")
            return
        offenders: Dict[str, Tuple[int, str]] = {}   # path -> (size, commit) of its largest version
        missing: List[str] = []
        seen = set()
        current = {f.path for f in facts.files}
        for commit in hist.commits:   # newest first
            for ch in commit.changes:
                if not ch.blob or set(ch.blob) <= {"0"} or not ch.path.lower().endswith(DATA_OR_MODEL_SUFFIXES):
                    continue
                seen.add(ch.blob)
                size = hist.blob_sizes.get(ch.blob)
                if size is None:
                    missing.append(ch.path)
                elif size > LIMIT and size >= offenders.get(ch.path, (0, ""))[0]:
                    offenders[ch.path] = (size, commit.sha[:7])
        n = len(hist.commits)
        scope = f"the latest {n} commits" if hist.truncated else f"{n} commit{'s' if n != 1 else ''}"
        if offenders:
            ranked = sorted(offenders.items(), key=lambda kv: (-kv[1][0], kv[0]))
            # a file deleted since has no place in the tree; point at where LFS is configured instead
            elsewhere = ".gitattributes" if facts.exists(".gitattributes") else "."
            for path, (size, sha) in ranked[:5]:
                state = "" if path in current else "; deleted since, but every clone still downloads it"
                yield self.found("gap", path if path in current else elsewhere, None,
                                 f"{path} ({size / 1024 / 1024:.1f} MiB) committed to git without LFS in {sha}{state}")
            if len(ranked) > 5:
                yield self.found("gap", ranked[5][0] if ranked[5][0] in current else elsewhere, None,
                                 f"{len(ranked) - 5} more data/model file(s) over 5 MiB in {scope}")
            return
        if missing:
            uniq = sorted(set(missing))
            yield self.found("inconclusive", ".", None,
                             f"{len(set(missing))} data/model file version(s) in history could not be read (partial clone "
                             f"or pruned objects), e.g. {uniq[0]}; their sizes are unknown")
            return
        if hist.shallow:
            yield self.found("inconclusive", ".", None,
                             f"shallow clone: only {scope} fetched, so large files committed earlier cannot be ruled out "
                             f"(fetch with depth 0 for the full history)")
            return
        lfs = [r for r in facts.gitattributes if r.lfs]
        dvc = [f.path for f in facts.files if f.suffix == ".dvc" and f.name != ".dvc"] or \
            [f.path for f in facts.glob("dvc.yaml")]
        if lfs:
            patterns = ", ".join(r.pattern for r in lfs[:4]) + (", …" if len(lfs) > 4 else "")
            yield self.found("supports", lfs[0].path, lfs[0].line,
                             f"git-LFS tracks {patterns}, and no data/model blob over 5 MiB is in {scope}")
        elif dvc:
            yield self.found("supports", dvc[0], 1,
                             f"DVC tracks the data ({dvc[0]}), and no data/model blob over 5 MiB is in {scope}")
        elif seen:
            yield self.found("supports", ".", None,
                             f"no large data or model blobs (over 5 MiB) in {scope}; {len(seen)} small data/model file "
                             f"version(s) committed")
        else:
            yield self.found("not-applicable", ".", None,
                             f"no data or model files committed in {scope}, so there are no large ones to manage")
