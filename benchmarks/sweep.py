#!/usr/bin/env python3
"""Scan many repositories from local git mirrors and report crashes, timeouts and diagnostics.

Usage: python benchmarks/sweep.py LIST [--mirror DIR] [--timeout 60] [--mlscan CMD] [--json OUT]

LIST holds one `owner/name[@sha]` a line (`#` starts a comment). Each repository is read from
its mirror `DIR/<owner>+<name>/repo` (a bare git directory, or a clone with `repo/.git`), checked
out at the pinned sha (or the mirror's HEAD) into a temporary work tree outside any project, and
scanned with `mlscan scan TREE --format json`, one repository at a time. Offline: git only reads
the local mirrors. Prints a summary (repos, tracebacks, timeouts, times, diagnostics by class)
and exits 1 when any scan crashed, timed out or gave no valid report.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

RULE_FAILURE = "rule failure (an mlscan bug)"  # the engine caught a rule's exception: a crash in disguise
# Diagnostic classes, first match wins: (class, pattern searched in "path: message").
DIAGNOSTIC_CLASSES: Tuple[Tuple[str, str], ...] = (
    (RULE_FAILURE, r"^\.: rule \S+ failed"),
    ("templated file", r"templated|\{\{|\{%|cookiecutter|jinja"),
    ("python 2", r"Python 2"),
    ("Python 3.12+ syntax", r"Python 3\.\d+\+"),
    ("non-Python notebook", r"kernel language"),
    ("syntax error", r"syntax error|cannot parse|could not be parsed|nested too deeply"),
    ("non-UTF-8", r"UTF-8|decode|encoding"),
    ("binary/huge file", r"binary|KiB|MiB|too large|over the .* limit"),
    ("broken notebook", r"notebook|\.ipynb:"),
    ("JSON with comments", r"JSONC"),
    ("broken YAML/JSON/TOML/INI", r"YAML|JSON|TOML|front matter|unexpected structure|invalid config"),
    ("symlink", r"symlink"),
    ("shallow/missing git objects", r"shallow|missing|git cat-file|git log|git ls-files|git repository"),
    ("ignore file", r"\.gitignore"),
)
OTHER = "other"
TIME_BUCKETS = (0, 1, 5, 15, 30)  # seconds: lower edges of the time distribution in the summary
TRACEBACK = "Traceback (most recent call last)"


@dataclass
class Result:
    repo: str
    sha: str = ""
    seconds: float = 0.0
    exit_code: Optional[int] = None
    traceback: bool = False
    timed_out: bool = False
    error: str = ""  # set when no valid report came back (or the checkout failed)
    missing_in_checkout: int = 0  # files whose blobs the mirror lacks (snapshots omit files of 4 MiB and more)
    stderr_tail: str = ""
    diagnostics: List[Dict[str, str]] = field(default_factory=list)

    @property
    def rule_failures(self) -> int:
        return sum(classify(d) == RULE_FAILURE for d in self.diagnostics)

    @property
    def failed(self) -> bool:
        return self.traceback or self.timed_out or bool(self.error) or self.rule_failures > 0


def classify(diagnostic: Dict[str, str]) -> str:
    text = f"{diagnostic.get('path', '')}: {diagnostic.get('message', '')}"
    for name, pattern in DIAGNOSTIC_CLASSES:
        if re.search(pattern, text, re.IGNORECASE):
            return name
    return OTHER


def read_list(path: Path) -> List[Tuple[str, str]]:
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            repo, _, sha = line.partition("@")
            entries.append((repo.strip(), sha.strip()))
    return entries


def git_env() -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update({"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_TERMINAL_PROMPT": "0",
                "GIT_ALLOW_PROTOCOL": "file"})
    return env


def git(*args: str, cwd: Optional[Path] = None) -> str:
    proc = subprocess.run(["git", "-c", "advice.detachedHead=false", *args], cwd=cwd, env=git_env(),
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise RuntimeError(f"git {args[0]} failed: {proc.stderr.strip().splitlines()[-1:] or proc.returncode}")
    return proc.stdout.strip()


def mirror_git_dir(mirror: Path, repo: str) -> Path:
    base = mirror / repo.replace("/", "+") / "repo"
    return base / ".git" if (base / ".git").is_dir() else base


def checkout(git_dir: Path, sha: str, dest: Path) -> Tuple[str, int]:
    """A work tree of git_dir at sha (default HEAD) in dest, sharing the mirror's objects:
    (the commit, how many of its files could not be written because the mirror lacks their blobs)."""
    git("clone", "--quiet", "--shared", "--no-checkout", str(git_dir), str(dest))
    sha = git("rev-parse", "--verify", f"{sha or 'HEAD'}^{{commit}}", cwd=dest)
    git("checkout", "--quiet", "--detach", sha, cwd=dest)
    missing = git("ls-files", "-z", "--deleted", cwd=dest).count("\0")
    return sha, missing


def scan(cmd: List[str], tree: Path, timeout: float, env: Dict[str, str]) -> Tuple[float, Optional[int], str, str, bool]:
    """Run the scan in its own process group so that a timeout also ends its worker processes."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([*cmd, "scan", str(tree), "--format", "json", "--no-progress"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        timed_out = True
    seconds = time.perf_counter() - t0
    return seconds, (None if timed_out else proc.returncode), out.decode("utf-8", "replace"), \
        err.decode("utf-8", "replace"), timed_out


def sweep_one(repo: str, sha: str, mirror: Path, cmd: List[str], timeout: float, work: Path,
              env: Dict[str, str]) -> Result:
    result = Result(repo=repo, sha=sha)
    git_dir = mirror_git_dir(mirror, repo)
    tree = work / repo.replace("/", "+")
    try:
        if not (git_dir / "HEAD").is_file():
            result.error = f"no mirror at {git_dir}"
            return result
        try:
            result.sha, result.missing_in_checkout = checkout(git_dir, sha, tree)
        except RuntimeError as exc:
            result.error = f"checkout: {exc}"
            return result
        result.seconds, result.exit_code, out, err, result.timed_out = scan(cmd, tree, timeout, env)
        result.seconds = round(result.seconds, 2)
        result.traceback = TRACEBACK in err or "internal error" in err
        result.stderr_tail = "\n".join(err.strip().splitlines()[-5:])
        if result.timed_out:
            return result
        if result.exit_code not in (0, 1):
            result.error = f"exit code {result.exit_code}"
            return result
        try:
            report = json.loads(out)
            result.diagnostics = [{"path": d.get("path", ""), "message": d.get("message", "")}
                                  for d in report.get("diagnostics", [])]
        except (ValueError, AttributeError) as exc:
            result.error = f"no JSON report: {exc}"
        return result
    finally:
        shutil.rmtree(tree, ignore_errors=True)


def summarise(results: List[Result], timeout: float) -> str:
    scanned = [r for r in results if r.exit_code is not None or r.timed_out]
    times = sorted(r.seconds for r in scanned)
    lines = [f"repos: {len(results)} listed, {len(scanned)} scanned",
             f"tracebacks: {sum(r.traceback for r in results)}",
             f"timeouts (over {timeout:g} s): {sum(r.timed_out for r in results)}",
             f"rule failures: {sum(r.rule_failures for r in results)}",
             f"other failures: {sum(bool(r.error) for r in results)}",
             f"repos whose checkout lacks files (absent from the mirror): {sum(r.missing_in_checkout > 0 for r in results)}"]
    if times:
        lines.append(f"time: median {statistics.median(times):.1f} s, 90th percentile "
                     f"{times[int(0.9 * (len(times) - 1))]:.1f} s, max {times[-1]:.1f} s "
                     f"({max(scanned, key=lambda r: r.seconds).repo}), total {sum(times):.0f} s")
        edges = [lo for lo in TIME_BUCKETS if lo < timeout] + [timeout]
        counts = [sum(lo <= t < hi for t in times) for lo, hi in zip(edges, edges[1:])]
        lines.append("time buckets: " + ", ".join(f"{lo:g}-{hi:g} s: {n}" for lo, hi, n in zip(edges, edges[1:], counts))
                     + f", over {timeout:g} s: {sum(t >= timeout for t in times)}")
    for r in results:
        if r.failed:
            what = "timeout" if r.timed_out else "traceback" if r.traceback else r.error or "rule failure"
            lines.append(f"  FAILED {r.repo}@{r.sha[:12]}: {what} {r.stderr_tail.splitlines()[-1:] or ''}")
    groups: Dict[str, List[Tuple[str, Dict[str, str]]]] = {}
    for r in results:
        for d in r.diagnostics:
            groups.setdefault(classify(d), []).append((r.repo, d))
    total = sum(len(v) for v in groups.values())
    lines.append(f"diagnostics: {total} in {sum(bool(r.diagnostics) for r in results)} repos")
    for name, items in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        repos = len({repo for repo, _ in items})
        repo, d = min(items, key=lambda item: (item[0], item[1]["path"], item[1]["message"]))
        lines.append(f"  {name}: {len(items)} in {repos} repos; e.g. {repo}: {d['path']}: {d['message']}")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("list", type=Path, help="file of owner/name[@sha] lines")
    ap.add_argument("--mirror", type=Path, default=Path("/work/.mirror"), help="folder of <owner>+<name>/repo mirrors")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per scan")
    ap.add_argument("--mlscan", default="mlscan", help="the mlscan command to run")
    ap.add_argument("--json", type=Path, help="write the raw per-repo results here")
    ap.add_argument("--only", action="append", default=[], help="scan only this owner/name (repeatable)")
    a = ap.parse_args(argv)
    entries = [(repo, sha) for repo, sha in read_list(a.list) if not a.only or repo in a.only]
    cmd = shlex.split(a.mlscan)
    results = []
    with tempfile.TemporaryDirectory(prefix="mlscan-sweep-") as tmp:
        work = Path(tmp)
        # A fresh cache/config home: every scan is cold and nothing lands in the user's home.
        env = {**os.environ, "MLSCAN_DEBUG": "1", "XDG_CACHE_HOME": str(work / ".cache"),
               "XDG_CONFIG_HOME": str(work / ".config")}
        for repo, sha in entries:
            r = sweep_one(repo, sha, a.mirror.resolve(), cmd, a.timeout, work, env)
            status = "TIMEOUT" if r.timed_out else "TRACEBACK" if r.traceback else r.error or f"rc={r.exit_code}"
            print(f"{r.repo}@{r.sha[:12]}: {r.seconds:.1f} s {status}, {len(r.diagnostics)} diagnostics",
                  file=sys.stderr, flush=True)
            results.append(r)
    if a.json:
        rows = [{**asdict(r), "classes": [classify(d) for d in r.diagnostics]} for r in results]
        a.json.write_text(json.dumps(rows, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(summarise(results, a.timeout))
    return 1 if any(r.failed for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
