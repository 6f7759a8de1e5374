"""`mlscan fleet` end to end: real git repositories made here, the real CLI, real Dask clusters
(the embedded LocalCluster, and a `dask scheduler` with two `dask worker` processes), and the
faults a fleet must survive: a scan that crashes, one that hangs past --timeout, a worker killed
while it scans. Every repository's fleet report must equal `mlscan scan REPO --format json`."""
from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from gitrepo import GitRepo, git, make_fixture_repo, mlscan_env, run_mlscan
from plugin_dist import install_plugins

pytest.importorskip("distributed", reason="the fleet extra: pip install 'mlscan[fleet]'")

ACME_TRAIN = ("import acme_features\nimport acme_registry\nimport torch\n\n\ndef main():\n"
              "    X = acme_features.get_features('churn')\n    model = torch.nn.Linear(2, 1)\n"
              "    acme_registry.push_model(model)\n\n\nif __name__ == '__main__':\n    main()\n")


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory) -> Dict[str, str]:
    """The environment of every command here: the two test plugin distributions installed."""
    target = install_plugins(tmp_path_factory.mktemp("plugins") / "site")
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(target), os.environ.get("PYTHONPATH", "")]))}


def marker_repo(root: Path, marker: str, content: str = "") -> GitRepo:
    repo = make_fixture_repo("scripted-seeded", root)
    repo.write(marker, content or marker + "\n")
    repo.commit(f"add {marker}")
    return repo


def scan_alone(path: Path, env: Dict[str, str]) -> str:
    rc, out, err = run_mlscan(["scan", path, "--format", "json"], env=env)
    assert rc == 0, err
    return out


def fleet_rows(out: Path) -> Dict[str, dict]:
    doc = json.loads((out / "fleet.json").read_text("utf-8"))
    return {r["name"]: r for r in doc["repos"]}


def test_fleet_on_the_embedded_cluster_matches_single_scans_and_resumes(tmp_path, plugin_env):
    repos = tmp_path / "repos"
    seeded = make_fixture_repo("scripted-seeded", repos / "seeded")
    dvc = make_fixture_repo("dvc-mlflow-fastapi", repos / "dvc")
    acme = GitRepo.init(repos / "acme")
    acme.write("train.py", ACME_TRAIN)
    acme.commit("acme training")
    skew = make_fixture_repo("serving-skew", tmp_path / "skew-src")
    git(tmp_path, "clone", "-q", "--bare", str(skew.root), str(repos / "skew.git"))
    added = make_fixture_repo("seed-added", tmp_path / "seed-added")
    before = added.head()
    added.apply_overlay("seed-added")
    added.commit("seed the training")
    sources = tmp_path / "fleet.txt"
    sources.write_text(f"# our repositories\nrepos\n\n{added.root}@HEAD~1\n")
    out = tmp_path / "out"

    rc, _, err = run_mlscan(["fleet", sources, "-o", out, "--workers", "2", "--clone",
                             (tmp_path / "skew-src").as_uri()], env=plugin_env, timeout=300)
    assert rc == 0, err
    rows = fleet_rows(out)
    assert sorted(rows) == ["acme", "dvc", "seed-added@HEAD_1", "seeded", "skew", "skew-src"]
    assert all(r["status"] == "ok" for r in rows.values()), rows

    # work trees: byte for byte what `mlscan scan` says
    for name, repo in (("seeded", seeded), ("dvc", dvc), ("acme", acme)):
        assert (out / rows[name]["report"]).read_text("utf-8") == scan_alone(repo.root, plugin_env), name
    # a bare repo, a URL and a REF: the same report as a checkout of that commit, but for its root
    for name, checkout, commit in (("skew", skew.root, skew.head()), ("skew-src", skew.root, skew.head())):
        fleet_report = json.loads((out / rows[name]["report"]).read_text("utf-8"))
        alone = json.loads(scan_alone(checkout, plugin_env))
        assert fleet_report["commit"] == commit == rows[name]["commit"]
        assert {**fleet_report, "root": ""} == {**alone, "root": ""}, name
    old = tmp_path / "old-checkout"
    git(tmp_path, "clone", "-q", str(added.root), str(old))
    git(old, "checkout", "-q", before)
    fleet_report = json.loads((out / rows["seed-added@HEAD_1"]["report"]).read_text("utf-8"))
    assert fleet_report["commit"] == before
    assert {**fleet_report, "root": ""} == {**json.loads(scan_alone(old, plugin_env)), "root": ""}
    assert fleet_report["root"] == str(added.root.resolve())

    # the fleet table: the plugin's own practice is a column, its rule's evidence is in the report
    doc = json.loads((out / "fleet.json").read_text("utf-8"))
    assert [s["id"] for s in doc["stages"]][:3] == ["data", "feature", "train"]
    assert "acme-feature-store" in [p["id"] for p in doc["practices"]]
    assert rows["acme"]["practices"]["acme-feature-store"] == "present"
    assert rows["seeded"]["practices"]["acme-feature-store"] == "absent"
    assert doc["summary"]["adoption"]["acme-feature-store"]["present"] == 1
    assert doc["summary"]["repos"] == 6 and doc["summary"]["failed"] == 0
    assert sum(doc["summary"]["levels"].values()) == 6
    with (out / "fleet.csv").open(encoding="utf-8") as fh:
        table = {row["repo"]: row for row in csv.DictReader(fh)}
    assert table["acme"]["practice:acme-feature-store"] == "present"
    assert table["acme"]["stage:feature"] == str(rows["acme"]["stages"]["feature"])
    import pyarrow.parquet as pq
    parquet = pq.read_table(out / "fleet.parquet").to_pydict()
    assert parquet["repo"] == sorted(rows)
    assert parquet["practice:acme-feature-store"][parquet["repo"].index("acme")] == "present"
    assert parquet["level"] == [rows[n]["level"] for n in sorted(rows)]
    assert "seed-added@HEAD_1" in (out / "index.html").read_text("utf-8")

    # resume: nothing changed, nothing is scanned again, and the outputs are byte-identical
    first = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    stamps = {p: p.stat().st_mtime_ns for p in (out / "reports").iterdir()}
    rc, _, err = run_mlscan(["fleet", sources, "-o", out, "--workers", "2", "--no-progress", "--clone",
                             (tmp_path / "skew-src").as_uri()], env=plugin_env, timeout=300)
    assert rc == 0, err
    assert {p: p.stat().st_mtime_ns for p in (out / "reports").iterdir()} == stamps
    assert {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()} == first
    # a new commit in one repository: only that one is scanned again
    seeded.write("NOTES.md", "notes\n")
    seeded.commit("notes")
    rc, _, err = run_mlscan(["fleet", sources, "-o", out, "--no-progress", "--clone",   # workers: free cores
                             (tmp_path / "skew-src").as_uri()], env=plugin_env, timeout=300)
    assert rc == 0, err
    changed = sorted(p.name for p, t in stamps.items() if p.stat().st_mtime_ns != t)
    assert changed == ["seeded.json"]
    assert fleet_rows(out)["seeded"]["commit"] == seeded.head()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> List[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _scan_processes(env: Dict[str, str]) -> List[int]:
    """Live `mlscan.fleet.child` processes started with this test's environment."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if b"mlscan.fleet.child" not in (proc / "cmdline").read_bytes():
                continue
            if f"PYTHONPATH={env['PYTHONPATH']}".encode() in (proc / "environ").read_bytes().split(b"\0"):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def _dask(*args: str, env: Dict[str, str]) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("dask")
    return subprocess.Popen([str(exe), *args], env=mlscan_env(env), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def _stop(proc: Optional[subprocess.Popen]) -> None:
    if proc is not None and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the worker's scan processes in /proc")
def test_fleet_on_a_dask_cluster_survives_crash_hang_and_a_killed_worker(tmp_path, plugin_env):
    from distributed import Client
    repos = tmp_path / "repos"
    good = {"seeded": make_fixture_repo("scripted-seeded", repos / "seeded"),
            "skew": make_fixture_repo("serving-skew", repos / "skew"),
            "raises": marker_repo(repos / "raises", "ACME_RAISE")}
    slow = [marker_repo(repos / f"slow{i}", "ACME_SLOW", "6\n") for i in (1, 2)]
    marker_repo(repos / "crash", "ACME_CRASH")
    marker_repo(repos / "hang", "ACME_HANG")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = worker_a = worker_b = fleet = None
    try:
        scheduler = _dask("scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard", env=plugin_env)
        worker_args = [address, "--nworkers", "1", "--nthreads", "1", "--no-nanny", "--no-dashboard"]
        worker_a = _dask("worker", *worker_args, "--name", "a", env=plugin_env)
        worker_b = _dask("worker", *worker_args, "--name", "b", env=plugin_env)
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=60)
        fleet = subprocess.Popen([sys.executable, "-m", "mlscan", "fleet", str(repos), "-o", str(tmp_path / "out"),
                                  "--scheduler", address, "--timeout", "10", "--no-progress"],
                                 env=mlscan_env(plugin_env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, start_new_session=True)
        deadline = time.monotonic() + 60
        while not _children(worker_a.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _children(worker_a.pid), "worker a never started a scan"
        os.kill(worker_a.pid, signal.SIGKILL)       # mid-scan
        worker_a.wait()
        _, err = fleet.communicate(timeout=240)
        assert fleet.returncode == 0, err
    finally:
        for proc in (fleet, worker_a, worker_b, scheduler):
            _stop(proc)
    deadline = time.monotonic() + 10   # scan processes never outlive their worker
    while _scan_processes(plugin_env) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _scan_processes(plugin_env) == []

    out = tmp_path / "out"
    rows = fleet_rows(out)
    assert sorted(rows) == ["crash", "hang", "raises", "seeded", "skew", "slow1", "slow2"]
    assert rows["crash"]["status"] == "error" and "SIGSEGV" in rows["crash"]["error"], rows["crash"]
    assert rows["crash"]["report"] is None and not (out / "reports" / "crash.json").exists()
    assert rows["hang"]["status"] == "timeout" and "10 s" in rows["hang"]["error"], rows["hang"]
    for name in ("seeded", "skew", "raises", "slow1", "slow2"):
        assert rows[name]["status"] == "ok", rows[name]
    for name, repo in good.items():
        assert (out / "reports" / f"{name}.json").read_text("utf-8") == scan_alone(repo.root, plugin_env), name
    raised = json.loads((out / "reports" / "raises.json").read_text("utf-8"))
    assert any("acme-faulty failed" in d["message"] for d in raised["diagnostics"])
    assert {r["commit"] for n, r in rows.items() if n.startswith("slow")} == {r.head() for r in slow}
    assert json.loads((out / "fleet.json").read_text("utf-8"))["summary"]["failed"] == 2


def _busy_scan_process(env: Dict[str, str]) -> Optional[int]:
    """A live scan process of this test's that is in the middle of a call (its scratch folder exists)."""
    for pid in _scan_processes(env):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        home = next((e[len(b"TMPDIR="):].decode() for e in environ if e.startswith(b"TMPDIR=")), None)
        if home and any(p.name.startswith("task-") for p in Path(home).glob("task-*")):
            return pid
    return None


def _listening(pid: int) -> List[str]:
    """Local addresses (hex, as /proc/net/tcp* writes them) that process `pid` listens on over TCP."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:   # LISTEN
                found.append(fields[1].rsplit(":", 1)[0])
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the scan processes in /proc")
def test_embedded_cluster_retries_a_scan_process_killed_mid_scan(tmp_path, plugin_env):
    """The embedded cluster's workers are threads of `mlscan fleet` itself; what can die apart from it
    is a scan process. Killed from outside (as the out-of-memory killer would), its repository is
    scanned again in a fresh one."""
    repos = tmp_path / "repos"
    slow = {f"slow{i}": marker_repo(repos / f"slow{i}", "ACME_SLOW", "3\n") for i in (1, 2, 3)}
    seeded = make_fixture_repo("scripted-seeded", repos / "seeded")
    fleet = subprocess.Popen([sys.executable, "-m", "mlscan", "fleet", str(repos), "-o", str(tmp_path / "out"),
                              "--workers", "2", "--timeout", "60", "--no-progress"], env=mlscan_env(plugin_env),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        victim = None
        while victim is None and time.monotonic() < deadline and fleet.poll() is None:
            victim = _busy_scan_process(plugin_env)
            time.sleep(0.05)
        assert victim is not None, "no scan process ever started a scan"
        listening = _listening(fleet.pid)   # the embedded cluster listens on the loopback only
        assert listening and all(a in ("0100007F", "00000000000000000000000001000000") for a in listening), listening
        os.kill(victim, signal.SIGKILL)
        _, err = fleet.communicate(timeout=240)
        assert fleet.returncode == 0, err
    finally:
        _stop(fleet)
    assert not Path(f"/proc/{victim}").exists()
    deadline = time.monotonic() + 10   # scan processes never outlive the fleet
    while _scan_processes(plugin_env) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _scan_processes(plugin_env) == []
    out = tmp_path / "out"
    rows = fleet_rows(out)
    assert all(r["status"] == "ok" for r in rows.values()), rows
    for name, repo in {**slow, "seeded": seeded}.items():
        assert (out / "reports" / f"{name}.json").read_text("utf-8") == scan_alone(repo.root, plugin_env), name


def test_a_scan_process_killed_again_when_retried_is_an_error_and_a_crash_is_not_retried():
    from mlscan.fleet.engine import ERROR, OK, run_isolated
    status, _, error = run_isolated(signal.raise_signal, signal.SIGKILL, timeout=60)
    assert status == ERROR and error == "the scan process crashed (killed by SIGKILL), and again when retried"
    status, _, error = run_isolated(signal.raise_signal, signal.SIGSEGV, timeout=60)
    assert status == ERROR and error.startswith("the scan process crashed (killed by SIGSEGV)")
    assert "retried" not in error
    assert run_isolated(abs, -3, timeout=60) == (OK, 3, None)   # the thread's next child serves calls


def test_a_call_that_starts_after_its_engine_closed_starts_no_scan_process():
    # Ctrl-C closes the embedded engine while a Dask worker thread may still be about to start the
    # next repository's call: it must fail at once, not start a process of its own that the
    # cluster's shutdown then waits for (the next repository could take minutes)
    import threading
    pytest.importorskip("distributed", reason="the fleet extra")
    from mlscan.fleet import engine as fleet_engine
    eng = fleet_engine.Engine(workers=1)
    run = eng.run
    eng.close()
    started = []
    real = fleet_engine.ChildServer
    fleet_engine.ChildServer = lambda *a, **k: started.append(1) or real(*a, **k)
    try:
        outcome = {}
        def late_call():
            try:
                outcome["value"] = fleet_engine.run_isolated(abs, -3, timeout=60, pool_key=run)
            except RuntimeError as exc:
                outcome["error"] = str(exc)
        t = threading.Thread(target=late_call)   # a worker thread of its own (its own thread-local child)
        t.start()
        t.join(60)
    finally:
        fleet_engine.ChildServer = real
    assert outcome == {"error": "the engine is closed"} and started == []


def test_ctrl_c_keeps_finished_reports(tmp_path, plugin_env):
    repos = tmp_path / "repos"
    quick = make_fixture_repo("scripted-seeded", repos / "a-quick")
    marker_repo(repos / "b-slow", "ACME_SLOW", "60\n")
    out = tmp_path / "out"
    # a cache of its own: another test's identical slow repo would give b-slow a remembered report,
    # and the run would end (drawing its charts) instead of being interrupted mid-scan
    fleet = subprocess.Popen([sys.executable, "-m", "mlscan", "fleet", str(repos), "-o", str(out), "--workers", "1",
                              "--no-progress", "--cache-dir", str(tmp_path / "cache")],
                             env=mlscan_env({**plugin_env, "PYTHONFAULTHANDLER": "1"}),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                             # as a terminal's foreground job has it: a suite started in the background (`&`)
                             # ignores SIGINT, its children inherit that, and Python then never raises
                             # KeyboardInterrupt (every full-suite failure of this test was that)
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 120
        while not (out / "reports" / "a-quick.json").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        fleet.send_signal(signal.SIGINT)
        try:
            _, err = fleet.communicate(timeout=60)
        except subprocess.TimeoutExpired:   # say where it hangs: faulthandler prints every thread on SIGABRT
            fleet.send_signal(signal.SIGABRT)
            _, err = fleet.communicate(timeout=30)
            raise AssertionError(f"no exit 60 s after Ctrl-C; its threads:\n{err[-6000:]}") from None
    finally:
        _stop(fleet)
    assert fleet.returncode == 130, err
    assert (out / "reports" / "a-quick.json").read_text("utf-8") == scan_alone(quick.root, plugin_env)
    rows = fleet_rows(out)
    assert rows["a-quick"]["status"] == "ok"
    assert rows["b-slow"]["status"] == "error" and "interrupted" in rows["b-slow"]["error"]
    page = (out / "index.html").read_text("utf-8")   # the plain list: no charts drawn on the way out
    assert f'href="{rows["a-quick"]["report"]}"' in page and "b-slow" in page and "<svg" not in page


def test_plugin_rules_show_in_rules_and_scans(tmp_path, plugin_env):
    rc, out, err = run_mlscan(["rules", "--format", "json"], env=plugin_env)
    assert rc == 0, err
    practices = {p["id"]: p for p in json.loads(out)}
    assert practices["acme-feature-store"]["package"] == "acme-mlscan-rules"
    assert practices["acme-feature-store"]["stage"] == "feature"
    assert {"id": "acme-registry-push", "title": "Models are pushed to the ACME model registry",
            "package": "acme-mlscan-rules"} in practices["model-registry"]["rules"]
    assert "broken from acme-faulty-rules failed to import" in err
    assert "practice 'acme-nowhere' has unknown stage 'nowhere'" in err
    assert "rule acme-orphan names unknown practice 'acme-undeclared'" in err
    assert "acme-nowhere" not in practices
    rc, out, _ = run_mlscan(["rules"], env={**plugin_env, "COLUMNS": "200"})
    assert rc == 0 and "acme-registry-push (plugin: acme-mlscan-rules)" in out

    repo = GitRepo.init(tmp_path / "acme")
    repo.write("train.py", ACME_TRAIN)
    repo.commit("acme")
    report = json.loads(scan_alone(repo.root, plugin_env))
    by_id = {p["id"]: p for p in report["practices"]}
    assert [(e["rule"], e["path"], e["line"]) for e in by_id["acme-feature-store"]["evidence"]] == [
        ("acme-feature-store-reads", "train.py", 7)]
    assert by_id["model-registry"]["status"] == "present"
    assert by_id["model-registry"]["evidence"][0]["rule"] == "acme-registry-push"
    feature = next(s for s in report["stages"] if s["id"] == "feature")
    assert feature["level"] == 2   # the plugin's practice joined the feature ladder at level 2
    assert any("failed to import" in d["message"] for d in report["diagnostics"])

    plain = json.loads(scan_alone(repo.root, {"MLSCAN_NO_PLUGINS": "1"}))
    assert "acme-feature-store" not in {p["id"] for p in plain["practices"]}
    assert next(s for s in plain["stages"] if s["id"] == "feature")["level"] is None


def test_fleet_without_the_extra_says_how_to_get_it(tmp_path):
    # not installed: Python finds no `distributed` at all (checked up front, without importing Dask)
    absent = tmp_path / "absent"
    absent.mkdir()
    (absent / "sitecustomize.py").write_text(
        "import sys\n\n\nclass Absent:\n    def find_spec(self, name, path=None, target=None):\n"
        "        if name.partition('.')[0] == 'distributed':\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n\n\n"
        "sys.meta_path.insert(0, Absent())\n")
    rc, _, err = run_mlscan(["fleet", tmp_path, "-o", tmp_path / "out"], env={"PYTHONPATH": str(absent)})
    assert rc == 2
    assert "needs distributed" in err and "pip install 'mlscan[fleet]'" in err and "Traceback" not in err
    # there, but it fails to import: said when the engine imports it
    shadow = tmp_path / "shadow" / "distributed"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('No module named distributed')\n")
    repo = make_fixture_repo("scripted-seeded", tmp_path / "repo")
    rc, _, err = run_mlscan(["fleet", repo.root, "-o", tmp_path / "out"], env={"PYTHONPATH": str(shadow.parent)})
    assert rc == 2
    assert "pip install 'mlscan[fleet]'" in err and "Traceback" not in err


def test_sources_need_clone_for_urls_and_read_list_files(tmp_path):
    rc, _, err = run_mlscan(["fleet", "https://example.com/org/repo.git", "-o", tmp_path / "out"])
    assert rc == 2 and "--clone" in err
    make_fixture_repo("scripted-seeded", tmp_path / "a" / "repo")
    make_fixture_repo("notebook-only", tmp_path / "b" / "repo")
    from mlscan.fleet.sources import expand, name_sources
    (tmp_path / "list.txt").write_text("# two checkouts, one at two commits\na/repo\n  b/repo@main  \nb/repo\n")
    got = name_sources(expand([str(tmp_path / "list.txt")], allow_clone=False))
    assert [(s.name, s.kind, s.ref) for s in got] == [
        ("a-repo", "worktree", None), ("repo@main", "worktree", "main"), ("b-repo", "worktree", None)]
    folder = name_sources(expand([str(tmp_path / "a")], allow_clone=False))
    assert [(s.name, s.location) for s in folder] == [("repo", str((tmp_path / "a" / "repo").resolve()))]
    shutil.rmtree(tmp_path / "b")
    rc, _, err = run_mlscan(["fleet", tmp_path / "list.txt", "-o", tmp_path / "out"])
    assert rc == 2 and "does not exist" in err


def test_bare_and_ref_sources_read_tool_mlscan_from_the_commit_not_the_work_tree(tmp_path):
    """A bare repository has no work tree, and `path@REF`'s work tree may hold another commit's
    config: [tool.mlscan] comes from the scanned commit's own pyproject.toml."""
    from mlscan.fleet.repos import RepoTask, scan_source
    from mlscan.fleet.sources import BARE, WORKTREE, Source
    repo = make_fixture_repo("scripted-seeded", tmp_path / "work")
    repo.write("pyproject.toml", '[tool.mlscan]\nignore = { seed-control = "seeds live in the launcher" }\n')
    repo.commit("ignore seed control")
    old = git(repo.root, "rev-parse", "HEAD").strip()
    repo.write("pyproject.toml", '[tool.mlscan]\nignore = { ci = "CI lives elsewhere" }\n')
    repo.commit("ignore ci instead")
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "--bare", "-q", str(repo.root), str(bare))

    def ignored(kind: str, location: Path, ref: Optional[str]) -> Dict[str, str]:
        out = scan_source(RepoTask(Source(str(location), str(location), ref, kind, "r")))
        return {p["id"]: p.get("ignored") for p in json.loads(out["report"])["practices"] if p.get("ignored")}
    assert ignored(BARE, bare, None) == {"ci": "CI lives elsewhere"}
    assert ignored(WORKTREE, repo.root, old) == {"seed-control": "seeds live in the launcher"}
    assert ignored(BARE, bare, old) == {"seed-control": "seeds live in the launcher"}
    repo.write("pyproject.toml", '[tool.mlscan]\nmodel = "levels.yaml"\n')
    custom = repo.commit("a custom model")
    from mlscan.errors import UsageError
    with pytest.raises(UsageError, match="custom model is not read from git objects"):
        ignored(WORKTREE, repo.root, custom)
