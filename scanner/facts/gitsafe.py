"""Running git on a repository we do not trust.

A repository's own `.git/config` can name programs git runs (core.fsmonitor, gpg for
log.showSignature, hooks). Every git call mlscan makes goes through these options and this
environment, so reading a repo never executes anything from it, never prompts, and never
fetches (protocol.allow=never; local file clones stay allowed for --base).
"""
from __future__ import annotations

import os
import subprocess
from typing import Dict, List, Sequence

SAFE_CONFIG = (
    ("core.fsmonitor", "false"),
    ("core.hooksPath", os.devnull),
    ("log.showSignature", "false"),
    ("gpg.program", "false"),
    ("core.sshCommand", "false"),
    ("protocol.allow", "never"),
    ("protocol.file.allow", "always"),
    ("advice.detachedHead", "false"),
)
# Set inside git hooks (pre-commit sets GIT_INDEX_FILE); inherited they would point git at
# another repository, index or object store than the one we pass with -C.
GIT_LOCATION_VARS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
                     "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_PREFIX", "GIT_NAMESPACE")


def safe_args() -> List[str]:
    out: List[str] = []
    for key, value in SAFE_CONFIG:
        out += ["-c", f"{key}={value}"]
    return out


def safe_env() -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in GIT_LOCATION_VARS}
    env.update({"GIT_TERMINAL_PROMPT": "0", "GIT_LFS_SKIP_SMUDGE": "1", "GIT_OPTIONAL_LOCKS": "0",
                "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C"})
    # the same options again as GIT_CONFIG_* entries, for git started by gitpython
    env["GIT_CONFIG_COUNT"] = str(len(SAFE_CONFIG))
    for i, (key, value) in enumerate(SAFE_CONFIG):
        env[f"GIT_CONFIG_KEY_{i}"] = key
        env[f"GIT_CONFIG_VALUE_{i}"] = value
    return env


def popen_git(root, args: Sequence[str]) -> subprocess.Popen:
    """A long-lived `git -C root ARGS` with the safe options, talking over pipes (stderr dropped)."""
    return subprocess.Popen(["git", *safe_args(), "-C", str(root), *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=safe_env())


def run_git(root, args: Sequence[str], timeout: float = 120, text: bool = False, input=None,
            check: bool = False) -> subprocess.CompletedProcess:
    """`git -C root ARGS` with the safe options; raises OSError/SubprocessError like subprocess."""
    return subprocess.run(["git", *safe_args(), "-C", str(root), *args], capture_output=True, timeout=timeout,
                          text=text, input=input, check=check, env=safe_env(),
                          stdin=None if input is not None else subprocess.DEVNULL)
