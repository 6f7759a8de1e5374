"""Answers unpinned-installs and pinned-requirements (rules/unpinned_installs.py, rules/pinned_requirements.py)."""
from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Dict, Optional, Tuple

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from mlscan.facts.deps import locked_versions
from mlscan.fix.base import Edit, Fix, FixExample, Skip, Suggest

PIPFILE_LOCK = ('{"_meta": {"hash": {"sha256": "0"}}, "default": {"pandas": {"version": "==2.2.2"}, '
                '"mlflow": {"version": "==2.12.1"}, "scikit-learn": {"version": "==1.4.2"}, '
                '"flask": {"version": "==3.0.3"}, "gunicorn": {"version": "==22.0.0"}}}\n')


class PinFromLock(Fix):
    """Pin unpinned requirements to the versions the repo's own lock file already fixes

    For each runtime requirements file that installs packages without exact pins, every package
    that a lock file of the repo (`poetry.lock`, `uv.lock`, `pdm.lock`, `Pipfile.lock`,
    `pylock.toml`, a pip-compile output) fixes is pinned to that exact version, keeping extras,
    markers and comments. The nearest lock wins; a package no lock fixes, or on which locks
    disagree, is left alone and named. Versions are never guessed: without any lock file the
    fix only says which command would create one.
    """

    id = "pin-from-lock"
    practice = "dependency-pinning"
    answers = ("unpinned-installs", "pinned-requirements")
    examples = (
        FixExample({
            "Pipfile": '[packages]\npandas = "*"\nmlflow = "*"\n',
            "Pipfile.lock": PIPFILE_LOCK,
            "deployment/requirements.txt": "mlflow\nscikit-learn>=1.3  # model format\nflask[async]\ngunicorn ; sys_platform != 'win32'\n",
            "deployment/Dockerfile": "FROM python:3.11-slim\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\n",
        }, {
            "deployment/requirements.txt": "mlflow==2.12.1\nscikit-learn==1.4.2  # model format\nflask[async]==3.0.3\n"
                                           "gunicorn==22.0.0 ; sys_platform != 'win32'\n",
        }, "present", "the serving image's requirements pinned to Pipfile.lock's versions"),
        FixExample({
            "requirements.txt": "torch>=2.0\nnumpy\n",
            "train.py": "import torch\n",
        }, {"requirements.txt": None}, "absent", "no lock file: say how to make one, write nothing",
            suggests=("requirements.txt",)),
    )

    def plan(self, ctx):
        facts = ctx.facts
        locks = locked_versions(facts)
        targets = [s for s in facts.dependency_sets
                   if s.source == "requirements" and s.role == "main" and s.size and s.pinned < s.size]
        if not targets:
            yield Skip(".", "no runtime requirements file with unpinned packages (Dockerfile, conda and "
                            "package-metadata dependencies are not rewritten)")
            return
        if not locks:
            for s in targets:
                yield Suggest(s.path, "no lock file in the repo to take exact versions from (mlscan never guesses "
                                      "versions); create one, then run `mlscan fix` again", _lock_command(facts, s.path))
            return
        for s in targets:
            text = ctx.workspace.read(s.path)
            if text is None:
                continue
            lines = text.splitlines(keepends=True)
            pinned, missing = [], []
            for r in s.counted:
                if r.pinned:
                    continue
                version, why = _version_for(s.path, r.name, locks)
                if version is None:
                    missing.append(f"{r.name} ({why})")
                    continue
                new_line = _pin_line(lines[r.line - 1], version)
                if new_line is None:
                    missing.append(f"{r.name} (the line is not a plain requirement)")
                    continue
                lines[r.line - 1] = new_line
                pinned.append(f"{r.name}=={version}")
            if missing:
                yield Skip(s.path, f"left unpinned: {', '.join(missing)}")
            if pinned:
                yield Edit(s.path, "".join(lines), f"pinned {', '.join(pinned)} from the lock file")


def _version_for(path: str, name: str, locks: Dict[str, Dict[str, str]]) -> Tuple[Optional[str], str]:
    """The version the nearest lock fixes, among locks in the file's folder and its ancestors
    (a lock in a sibling folder belongs to another environment)."""
    here = PurePosixPath(path).parent
    ranked = sorted(locks, key=lambda lock: (-_shared(PurePosixPath(lock).parent, here), lock))
    for depth in sorted({d for lock in locks for d in [_shared(PurePosixPath(lock).parent, here)] if d >= 0},
                        reverse=True):
        found = {locks[lock][name] for lock in ranked if name in locks[lock]
                 and _shared(PurePosixPath(lock).parent, here) == depth}
        if len(found) == 1:
            return found.pop(), ""
        if len(found) > 1:
            return None, f"the locks disagree: {', '.join(sorted(found))}"
    return None, "no lock file fixes it"


def _shared(lock_dir: PurePosixPath, here: PurePosixPath) -> int:
    """How close a lock's folder is to a requirements file's folder (-1: not an ancestor)."""
    lock_parts = [p for p in lock_dir.parts if p != "."]
    here_parts = [p for p in here.parts if p != "."]
    return len(lock_parts) if here_parts[:len(lock_parts)] == lock_parts else -1


REQ_LINE = re.compile(r"^(\s*)(.*?)(\s+#.*)?(\r?\n)?$", re.S)


def _pin_line(line: str, version: str) -> Optional[str]:
    m = REQ_LINE.match(line)
    if not m:
        return None
    indent, body, comment, newline = m.group(1), m.group(2), m.group(3) or "", m.group(4) or ""
    if body.startswith("-") or " --" in body:
        return None
    try:
        req = Requirement(body)
        if req.url or not req.specifier.contains(Version(version), prereleases=True):
            return None
    except (InvalidRequirement, InvalidVersion):
        return None
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    cut = body.find(";")
    marker = ""                  # the environment marker exactly as written
    if cut >= 0:
        head = body[:cut]
        marker = head[len(head.rstrip()):] + body[cut:]
    return f"{indent}{req.name}{extras}=={version}{marker}{comment}{newline}"


def _lock_command(facts, path: str) -> str:
    """The command that would make a lock for a requirements file's project (never run by mlscan)."""
    folder = str(PurePosixPath(path).parent)

    def beside(name: str) -> str:
        return name if folder == "." else f"{folder}/{name}"
    if facts.exists(beside("pyproject.toml")):
        doc = facts.config(beside("pyproject.toml"))
        data = doc.data if doc is not None and isinstance(doc.data, dict) else {}
        if isinstance(data.get("tool"), dict) and "poetry" in data["tool"]:
            return "poetry lock"
    if facts.exists(beside("Pipfile")):
        return "pipenv lock"
    name = PurePosixPath(path).name
    return (f"uv pip compile {name} -o {PurePosixPath(name).stem}.lock.txt   "
            f"# or: pip-compile {name} -o {PurePosixPath(name).stem}.lock.txt; then install from the compiled file")
