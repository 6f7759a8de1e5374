"""Time `mlscan fleet` on 2 workers against scanning the same repositories one after another.

    python benchmarks/fleet_bench.py [--repos N] [--workers 2] [--min-speedup 1.7] [--shell-loop] [SOURCE ...]

SOURCES are git repositories (bare or not); without them, the repositories named in
benchmarks/fleet_repos.txt are read from their bare mirrors, /work/.mirror/OWNER+NAME/repo (never
one listed in /work/shared/corpus/reserved.txt). All of them (or the first --repos) are scanned:

1. one after another, in this process: for each repository exactly the work a fleet task does
   (`mlscan.fleet.repos.scan_source`: read the commit from git objects, scan it on one core,
   render the JSON), with no Dask and no child processes;
2. with the real CLI, `mlscan fleet LIST -o OUT --workers N` (embedded Dask cluster, one isolated
   child process per repository), start-up included.

It checks that both give byte-identical reports, prints the per-repository times and the
speed-up, and exits 1 when the speed-up is below --min-speedup (judged against 1., the strictest
baseline). Also printed, not judged: the CPU seconds of both sides (which depend far less on what
else the machine runs than wall times do), the time 1. takes to write the fleet's tables and page
too, and with --shell-loop a third baseline: `mlscan scan CHECKOUT --format json` run once per
repository, as a shell loop would, on checkouts of the same commits made beforehand (untimed).
All sides run without the fact cache, so none reuses what another computed. The CPU is often shared: the
load average before and after is printed next to the numbers.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List

MIRRORS = Path("/work/.mirror")
REPOS = Path(__file__).with_name("fleet_repos.txt")
RESERVED = Path("/work/shared/corpus/reserved.txt")


def _names(path: Path) -> List[str]:
    if not path.is_file():
        return []
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]


def default_sources() -> List[str]:
    reserved = {n.lower() for n in _names(RESERVED)}
    out = []
    for name in _names(REPOS):
        mirror = MIRRORS / name.replace("/", "+", 1) / "repo"
        if name.lower() in reserved:
            continue
        if mirror.is_dir():
            out.append(str(mirror))
        else:
            print(f"skipped {name}: no mirror at {mirror}", file=sys.stderr)
    return out


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (git), which does not depend on load."""
    import resource
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def serial_writes(sources, reports) -> float:
    """Seconds to write what the fleet writes besides the reports (fleet.json, CSV, Parquet, index.html)."""
    from mlscan.fleet.output import write_fleet
    from mlscan.fleet.repos import row_for
    with tempfile.TemporaryDirectory(prefix="mlscan-fleet-bench-") as tmp:
        t = time.perf_counter()
        write_fleet(Path(tmp), [row_for(s, "ok", report=json.loads(reports[s.name])) for s in sources])
        return time.perf_counter() - t


def shell_loop(sources, reports, tmp: Path):
    """(wall s, CPU s, names whose report differs beyond `root`) of `mlscan scan CHECKOUT --format json`
    run once per repository, on checkouts of each source's commit made first (untimed)."""
    checkouts = {}
    for src in sources:
        commit = json.loads(reports[src.name])["commit"]
        dest = tmp / "checkouts" / src.name
        git = ["git", "-c", "advice.detachedHead=false"]
        subprocess.run([*git, "clone", "--quiet", "--shared", "--no-checkout", src.location, str(dest)], check=True)
        # a mirror may lack some large blobs: the checkout then misses those files (and its report differs)
        subprocess.run([*git, "-C", str(dest), "checkout", "--quiet", commit or "HEAD"], stderr=subprocess.DEVNULL)
        checkouts[src.name] = dest
    differ = []
    start, c = time.perf_counter(), cpu_seconds()
    for name, dest in checkouts.items():
        proc = subprocess.run([sys.executable, "-m", "mlscan", "scan", str(dest), "--format", "json", "--no-cache"],
                              capture_output=True, text=True, cwd=tmp)
        mine, theirs = json.loads(proc.stdout or "{}"), json.loads(reports[name])
        if {**mine, "root": ""} != {**theirs, "root": ""}:
            differ.append(name)
    return time.perf_counter() - start, cpu_seconds() - c, differ


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sources", nargs="*")
    ap.add_argument("--repos", type=int, default=None, help="only the first N sources")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--min-speedup", type=float, default=1.7)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--shell-loop", action="store_true",
                    help="also time `mlscan scan` per repository on checkouts (made first, untimed)")
    args = ap.parse_args(argv)

    from mlscan.fleet.repos import RepoTask, ScanSettings, scan_source
    from mlscan.fleet.sources import expand, name_sources

    sources = name_sources(expand((args.sources or default_sources())[:args.repos], allow_clone=False))
    if len(sources) < 2:
        print("need at least two repositories", file=sys.stderr)
        return 2
    print(f"{len(sources)} repositories; load average before: {loadavg()}")

    serial = {}
    cpu = {}
    reports = {}
    start = time.perf_counter()
    for src in sources:
        t, c = time.perf_counter(), cpu_seconds()
        reports[src.name] = scan_source(RepoTask(src, ScanSettings(cache_dir="off")))["report"]
        serial[src.name] = time.perf_counter() - t
        cpu[src.name] = cpu_seconds() - c
    serial_wall = time.perf_counter() - start
    serial_cpu = sum(cpu.values())
    write_wall = serial_writes(sources, reports)

    with tempfile.TemporaryDirectory(prefix="mlscan-fleet-bench-") as tmp:
        listing = Path(tmp) / "sources.txt"
        listing.write_text("".join(s.given + "\n" for s in sources))
        out = Path(tmp) / "out"
        mlscan = [sys.executable, "-m", "mlscan"]
        t, c = time.perf_counter(), cpu_seconds()
        proc = subprocess.run([*mlscan, "fleet", str(listing), "-o", str(out), "--workers", str(args.workers),
                               "--timeout", str(args.timeout), "--no-progress", "--no-cache"], cwd=tmp,
                              capture_output=True, text=True)
        fleet_wall, fleet_cpu = time.perf_counter() - t, cpu_seconds() - c
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return 2
        rows = {r["name"]: r for r in json.loads((out / "fleet.json").read_text())["repos"]}
        differ = [n for n in reports if rows[n]["status"] != "ok"
                  or (out / rows[n]["report"]).read_text("utf-8") != reports[n]]
        print(f"load average after the fleet: {loadavg()}")
        loop = shell_loop(sources, reports, Path(tmp)) if args.shell_loop else None

    print(f"load average after: {loadavg()}")
    print(f"{'repository':60s} {'serial s':>9s} {'CPU s':>7s}")
    for name in sorted(serial, key=serial.get, reverse=True):
        print(f"{name[:60]:60s} {serial[name]:9.2f} {cpu[name]:7.2f}")
    for what, values in (("wall", serial), ("CPU", cpu)):
        times = sorted(values.values())
        p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
        print(f"per repository, {what}: mean {statistics.mean(times):.2f} s, median {statistics.median(times):.2f} s, "
              f"p95 {p95:.2f} s, max {times[-1]:.2f} s, total {sum(times):.1f} s")
    speedup = serial_wall / fleet_wall
    print(f"one after another (in process): {serial_wall:.1f} s, {serial_cpu:.1f} CPU-s; "
          f"writing the fleet's tables and page as well: +{write_wall:.1f} s")
    print(f"mlscan fleet --workers {args.workers} (CLI, cluster start-up included): {fleet_wall:.1f} s, "
          f"{fleet_cpu:.1f} CPU-s (scan processes included)")
    if loop is not None:
        loop_wall, loop_cpu, loop_differ = loop
        print(f"one after another (`mlscan scan` per repository, as a shell loop): {loop_wall:.1f} s, "
              f"{loop_cpu:.1f} CPU-s; speed-up of the fleet against it: {loop_wall / fleet_wall:.2f}x"
              + (f" (reports differ beyond their root for: {', '.join(loop_differ)})" if loop_differ else ""))
    print(f"speed-up: {speedup:.2f}x (target >= {args.min_speedup}x)")
    if differ:
        print(f"reports differ for: {', '.join(differ)}", file=sys.stderr)
        return 1
    print("reports: identical to the serial scans")
    return 0 if speedup >= args.min_speedup else 1


if __name__ == "__main__":
    sys.exit(main())
