#!/usr/bin/env python3
"""mlscan's speed, measured side by side in one run: the numbers of benchmarks/README.md.

Usage: python benchmarks/bench.py TREE [--rev REV] [--small TREE] [--history TREE] [--markdown]
       python benchmarks/bench.py --only history --history TREE [--history-commits N]

TREE must be a git repository. Everything runs on a scratch clone (`git clone --shared`) in a
temporary folder, with a fresh fact cache there, so TREE and the user's cache are never touched.
In one run, on this machine, it times:

  ast.parse         one process, every .py file git lists (the floor a Python-based scan works against)
  ruff              `ruff check --select ALL --no-cache` (when ruff is on PATH)
  cold              `mlscan scan --format json`, empty cache (median of --cold-samples runs)
  warm              the same again, nothing changed
  one file changed  one .py file edited, warm cache
  --base cold/warm  `mlscan scan --base HEAD~1` of a branch that changes 3 files; empty, then warm cache
  small warm        a warm scan of --small TREE (e.g. nanoGPT), interpreter start included
  history           `mlscan history --commits N` of --history TREE, next to one scan of its head

Each mlscan run is the real CLI in its own process; wall time and peak RSS (of the process and
the workers it waited for) are measured. It checks that the cold, warm and --no-cache reports are
byte-identical, prints the load average, and prints each target of issue 8 as ok or MISSED.
Exit status 1 when a report differed (with --strict: also when a target was missed).
"""
from __future__ import annotations

import argparse
import ast
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True, check=True).stdout


def scratch_clone(tree: Path, rev: str, dest: Path) -> Path:
    subprocess.run(["git", "clone", "--quiet", "--shared", "--no-checkout", str(tree), str(dest)], check=True)
    git(dest, "checkout", "--quiet", "--detach", git(tree, "rev-parse", rev).strip())
    return dest


def python_files(tree: Path) -> List[Path]:
    return [tree / p for p in git(tree, "ls-files", "-z", "*.py").split("\0") if p]


def parse_all(files: List[Path]) -> Tuple[float, int, int, float]:
    t0 = time.perf_counter()
    c0 = time.process_time()
    ok = size = 0
    for f in files:
        try:
            data = f.read_bytes()
        except OSError:
            continue
        size += len(data)
        try:
            ast.parse(data)
            ok += 1
        except (SyntaxError, ValueError):
            pass
    return time.perf_counter() - t0, ok, size, time.process_time() - c0


def timed(cmd: List[str], env: Optional[Dict[str, str]] = None, ok=(0, 1)) -> Tuple[float, float, float]:
    """(wall seconds, peak RSS in MB, CPU seconds) of one command (with the workers it waited
    for), waited for with wait4 to read its rusage."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    if code not in ok:
        sys.exit(f"{' '.join(cmd[:6])} ... failed (rc={code}): {err[-800:]}")
    return wall, usage.ru_maxrss / 1024.0, usage.ru_utime + usage.ru_stime


def mlscan_env() -> Dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed mlscan has its .pyc files, as after pip install
    env.pop("MLSCAN_CACHE_DIR", None)
    return env


class Bench:
    def __init__(self, mlscan: List[str], work: Path):
        self.mlscan = mlscan
        self.work = work
        self.rows: List[Tuple[str, float, Optional[float], Optional[float]]] = []
        self.env = mlscan_env()

    def scan(self, label: str, tree: Path, cache: Optional[Path], out: Optional[Path], *extra: str) -> float:
        cmd = [*self.mlscan, "scan", str(tree), "--format", "json", "--no-progress", *extra]
        cmd += ["--cache-dir", str(cache)] if cache is not None else ["--no-cache"]
        cmd += ["-o", str(out)] if out is not None else ["-o", os.devnull]
        wall, rss, cpu = timed(cmd, self.env)
        self.rows.append((label, wall, rss, cpu))
        return wall

    def add(self, label: str, wall: float, rss: Optional[float] = None, cpu: Optional[float] = None) -> None:
        self.rows.append((label, wall, rss, cpu))


STAGES = r"""
import sys, time
t0 = time.process_time()
from pathlib import Path
from mlscan.config import load_config
from mlscan import engine
from mlscan.facts.repo import Facts, ScanOptions
from mlscan.report.json_out import render_json
t1 = time.process_time()
root = Path(sys.argv[1]); cfg = load_config(root, None)
facts = Facts(root, ScanOptions(history_depth=cfg.history_depth, exclude=cfg.exclude, jobs=1, cache_dir="off"))
_ = facts.files
t2 = time.process_time(); _ = facts.code
t3 = time.process_time(); _ = facts.graph
t4 = time.process_time(); _ = facts.history
t5 = time.process_time(); engine.run_rules(facts, cfg)
t6 = time.process_time()
report = engine.scan(root, cfg, jobs=1, cache_dir="off")  # the rest: maturity, findings (on a second Facts)
t7 = time.process_time(); render_json(report)
t8 = time.process_time()
for name, dt in (("start-up (imports)", t1 - t0), ("listing files", t2 - t1), ("read + parse + index code", t3 - t2),
                 ("dependency graph", t4 - t3), ("git history", t5 - t4), ("rules", t6 - t5),
                 ("rendering JSON", t8 - t7)):
    print(f"{name}\t{dt:.2f}")
"""


def stages(mlscan_python: str, tree: Path, env: Dict[str, str]) -> List[Tuple[str, float]]:
    """CPU seconds per step of one cold scan in one process (no workers, no cache)."""
    out = subprocess.run([mlscan_python, "-c", STAGES, str(tree)], capture_output=True, text=True, env=env,
                         check=True).stdout
    return [(line.split("\t")[0], float(line.split("\t")[1])) for line in out.splitlines() if "\t" in line]


def change_files(repo: Path, files: List[Path], n: int) -> List[str]:
    """Edit `n` mid-sized .py files (chosen by size, deterministically); returns their paths."""
    by_size = sorted(files, key=lambda f: (f.stat().st_size, str(f)))
    picks = [by_size[len(by_size) * (i + 1) // (n + 1)] for i in range(n)] if by_size else []
    for f in picks:
        with open(f, "a", encoding="utf-8") as fh:
            fh.write("\n\ndef _benchmark_added(value):\n    return value\n")
    return [str(f.relative_to(repo)) for f in picks]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tree", type=Path, nargs="?", help="a git repository (e.g. huggingface/diffusers at 58eb52c0)")
    ap.add_argument("--rev", default="HEAD", help="commit of TREE to measure (default HEAD)")
    ap.add_argument("--small", type=Path, help="a small git repository (e.g. nanoGPT) for the warm start-up time")
    ap.add_argument("--history", type=Path, help="a git repository for `mlscan history`")
    ap.add_argument("--history-commits", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=1,
                    help="run the history step and its head scan K times each and compare medians")
    ap.add_argument("--cold-samples", type=int, default=3,
                    help="cold scans to time, each with its own empty cache; the median is the cold time "
                         "every ratio is taken against (one sample let one disturbed run move them all)")
    ap.add_argument("--only", choices=["history"], help="run only this step (--history TREE needed; TREE not)")
    ap.add_argument("--mlscan", default=f"{shlex.quote(sys.executable)} -m mlscan")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    ap.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    ap.add_argument("--stages", action="store_true",
                    help="also time each step of a cold scan (CPU seconds, one process) with `python -c`")
    a = ap.parse_args()
    if a.only == "history" and a.history is None or a.only is None and a.tree is None:
        ap.error("TREE is needed (with --only history: --history TREE)")

    work = Path(tempfile.mkdtemp(prefix="mlscan-bench-"))
    try:
        return run_history_only(a, work) if a.only == "history" else run(a, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def history_step(a, b: "Bench", work: Path) -> float:
    """`mlscan history --commits N` (empty cache) over --history TREE, next to one cold scan of its
    head; returns the wall-time ratio. With --repeat K, each is run K times, alternating (each run
    with an empty cache of its own), and the medians are compared: a head scan of a small repo takes
    a third of a second, so one run's noise moves a single ratio by a whole unit."""
    import statistics
    hist = scratch_clone(a.history, "HEAD", work / "hist")
    heads, runs = [], []
    for k in range(max(1, a.repeat)):
        cmd = [*b.mlscan, "scan", str(hist), "--format", "json", "--no-progress",
               "--cache-dir", str(work / f"cache-hist0-{k}"), "-o", os.devnull]
        heads.append(timed(cmd, b.env))
        cmd = [*b.mlscan, "history", str(hist), "--commits", str(a.history_commits), "--format", "json",
               "--cache-dir", str(work / f"cache-hist-{k}"), "-o", os.devnull]
        runs.append(timed(cmd, b.env))
    times = f" (median of {len(runs)})" if len(runs) > 1 else ""

    def median(rows, i):
        values = [r[i] for r in rows if r[i] is not None]
        return statistics.median(values) if values else None
    one = median(heads, 0)
    b.add(f"history repo: one scan of its head (empty cache){times}", one, median(heads, 1), median(heads, 2))
    b.add(f"mlscan history --commits {a.history_commits} (empty cache){times}",
          median(runs, 0), median(runs, 1), median(runs, 2))
    if len(runs) > 1:
        print("history runs (wall s): " + ", ".join(f"{r[0]:.2f}/{h[0]:.2f}={r[0] / h[0]:.2f}x"
                                                     for r, h in zip(runs, heads)), file=sys.stderr)
    return median(runs, 0) / one if one else float("inf")


def run_history_only(a, work: Path) -> int:
    """Only the history step: its wall and CPU time against one scan of the head."""
    b = Bench(shlex.split(a.mlscan), work)
    empty = work / "empty"
    empty.mkdir()
    timed([*b.mlscan, "scan", str(empty), "--format", "json", "--no-cache", "-o", os.devnull], b.env)  # compile
    load_before = os.getloadavg()
    ratio = history_step(a, b, work)
    load_after = os.getloadavg()
    print(f"history tree: {a.history} @ {git(a.history, 'rev-parse', 'HEAD').strip()[:12]}, "
          f"{a.history_commits} commits")
    print(f"cores: {os.cpu_count()}, load average before {load_before[0]:.2f}, after {load_after[0]:.2f}")
    for label, wall, rss, cpu in b.rows:
        print(f"{label:58s} {wall:8.2f} s  {cpu or 0:7.2f} s CPU  {rss or 0:6.0f} MB")
    cpu_ratio = (b.rows[1][3] or 0) / (b.rows[0][3] or 1e-9)
    good = ratio <= 5.0
    print(f"{'ok    ' if good else 'MISSED'} history over {a.history_commits} commits <= 5x one scan: "
          f"{ratio:.2f} (CPU {cpu_ratio:.2f})")
    return 1 if a.strict and not good else 0


def run(a, work: Path) -> int:
    mlscan = shlex.split(a.mlscan)
    b = Bench(mlscan, work)
    load_before = os.getloadavg()
    repo = scratch_clone(a.tree, a.rev, work / "repo")
    files = python_files(repo)
    # compile mlscan's own modules once (an installed mlscan has them compiled), outside the timings
    empty = work / "empty"
    empty.mkdir()
    timed([*mlscan, "scan", str(empty), "--format", "json", "--no-cache", "-o", os.devnull], b.env)

    parse_t, ok, size, parse_cpu = parse_all(files)
    b.add("ast.parse, one process", parse_t, None, parse_cpu)
    ruff = shutil.which("ruff")
    if ruff:
        wall, rss, cpu = timed([ruff, "check", "--select", "ALL", "--no-cache", "--exit-zero", str(repo)],
                               ok=(0, 1, 2))
        b.add("ruff check --select ALL --no-cache", wall, rss, cpu)

    cache = work / "cache"
    cold = b.scan("mlscan cold (empty cache)", repo, cache, work / "cold.json")
    cold_note = "cold scan: one sample"
    if a.cold_samples > 1:
        samples = [b.rows[-1][1:]]
        for k in range(1, a.cold_samples):
            b.scan("extra cold sample", repo, work / f"cache-cold-{k}", None)
            samples.append(b.rows.pop()[1:])
        walls = sorted(s[0] for s in samples)
        cold = statistics.median(walls)
        cold_note = f"cold scan: median of {len(walls)} samples ({', '.join(f'{w:.2f}' for w in walls)} s)"
        b.rows[-1] = ("mlscan cold (empty cache)", cold, statistics.median(s[1] for s in samples),
                      statistics.median(s[2] for s in samples))
    b.scan("mlscan warm (nothing changed)", repo, cache, work / "warm.json")
    b.scan("mlscan --no-cache", repo, None, work / "nocache.json")
    same = (work / "cold.json").read_bytes() == (work / "warm.json").read_bytes() == (work / "nocache.json").read_bytes()

    changed = change_files(repo, files, 1)
    b.scan("mlscan one .py file changed (warm)", repo, cache, None)
    git(repo, "checkout", "--quiet", "--", *changed)

    git(repo, "checkout", "--quiet", "-b", "mlscan-bench")
    change_files(repo, files, 3)
    git(repo, "-c", "user.name=bench", "-c", "user.email=bench@example.com", "-c", "commit.gpgsign=false",
        "commit", "--quiet", "-am", "benchmark: a branch that changes three files")
    base_cache = work / "cache-base"
    b.scan("mlscan --base HEAD~1 (3 files changed, empty cache)", repo, base_cache, work / "base-cold.json",
           "--base", "HEAD~1")
    b.scan("mlscan --base HEAD~1 (warm)", repo, base_cache, work / "base-warm.json", "--base", "HEAD~1")
    same_base = (work / "base-cold.json").read_bytes() == (work / "base-warm.json").read_bytes()

    small_warm = None
    if a.small:
        small = scratch_clone(a.small, "HEAD", work / "small")
        b.scan("small repo, first scan", small, work / "cache-small", None)
        small_warm = b.scan("small repo, warm scan (interpreter start included)", small, work / "cache-small", None)

    hist_ratio = None
    if a.history:
        hist_ratio = history_step(a, b, work)

    stage_times = stages(mlscan[0], repo, b.env) if a.stages else []
    load_after = os.getloadavg()
    rows = {label: (wall, rss) for label, wall, rss, _ in b.rows}
    print(f"tree: {a.tree} @ {git(repo, 'rev-parse', 'HEAD~1').strip()[:12]} "
          f"({len(files)} .py files, {ok} parsed, {size / 1e6:.1f} MB)")
    print(f"cores: {os.cpu_count()}, load average before {load_before[0]:.2f}, after {load_after[0]:.2f}; {cold_note}")
    print()
    if a.markdown:
        print("| step | wall (s) | x ast.parse | x cold scan | CPU (s) | peak RSS (MB) |")
        print("|---|---:|---:|---:|---:|---:|")
    for label, wall, rss, cpu in b.rows:
        rss_s = f"{rss:.0f}" if rss is not None else ""
        cpu_s = f"{cpu:.2f}" if cpu is not None else ""
        if a.markdown:
            print(f"| {label} | {wall:.2f} | {wall / parse_t:.2f} | {wall / cold:.2f} | {cpu_s} | {rss_s} |")
        else:
            print(f"{label:58s} {wall:8.2f} s  {wall / parse_t:6.2f}x parse  {wall / cold:6.2f}x cold  "
                  f"{cpu_s:>7} s CPU  {(rss_s + ' MB') if rss_s else ''}")
    if stage_times:
        print()
        print("Where a cold scan's time goes (CPU seconds, one process, no cache):")
        total = sum(t for _, t in stage_times)
        for name, t in stage_times:
            print(f"  {name:32s} {t:7.2f} s  {100 * t / total:5.1f}%")
    print()
    checks = [
        ("warm re-scan <= 0.10x cold", rows["mlscan warm (nothing changed)"][0] / cold, 0.10),
        ("one changed .py file <= 0.15x cold", rows["mlscan one .py file changed (warm)"][0] / cold, 0.15),
        ("--base, empty cache <= 1.3x cold",
         rows["mlscan --base HEAD~1 (3 files changed, empty cache)"][0] / cold, 1.3),
        ("--base, warm <= 0.2x cold", rows["mlscan --base HEAD~1 (warm)"][0] / cold, 0.2),
        ("cold <= 2.0x ast.parse", cold / parse_t, 2.0),
        ("cold peak RSS <= 500 MB", rows["mlscan cold (empty cache)"][1] or 0, 500),
    ]
    if small_warm is not None:
        checks.append(("small repo warm scan <= 0.35 s", small_warm, 0.35))
    if hist_ratio is not None:
        checks.append((f"history over {a.history_commits} commits <= 5x one scan", hist_ratio, 5.0))
    missed = 0
    for name, value, limit in checks:
        good = value <= limit
        missed += not good
        print(f"{'ok    ' if good else 'MISSED'} {name}: {value:.2f}")
    cpu = {label: c for label, _, _, c in b.rows}
    cold_cpu = cpu["mlscan cold (empty cache)"] or 1e-9
    print("CPU-time ratios (less sensitive to other load on the machine; mlscan's include its workers):")
    for name, num, den in (("cold / ast.parse", cold_cpu, parse_cpu),
                           ("warm / cold", cpu["mlscan warm (nothing changed)"], cold_cpu),
                           ("one .py file changed / cold", cpu["mlscan one .py file changed (warm)"], cold_cpu),
                           ("--base, empty cache / cold",
                            cpu["mlscan --base HEAD~1 (3 files changed, empty cache)"], cold_cpu),
                           ("--base, warm / cold", cpu["mlscan --base HEAD~1 (warm)"], cold_cpu)):
        print(f"       {name}: {num / den:.2f}" if den else f"       {name}: n/a")
    print(f"{'ok    ' if same else 'DIFFER'} cold, warm and --no-cache reports byte-identical")
    print(f"{'ok    ' if same_base else 'DIFFER'} --base reports byte-identical cold and warm")
    if not (same and same_base):
        return 1
    return 1 if a.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
