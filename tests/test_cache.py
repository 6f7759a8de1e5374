"""The fact cache: the same report with and without it, whatever the worker count; a corrupt,
foreign or hostile cache is a diagnostic and a cold scan, never a crash or a wrong answer."""
from __future__ import annotations

import json
import pickle
import sqlite3
from pathlib import Path

from gitrepo import GitRepo, make_fixture_repo, run_mlscan, snapshot
from mlscan.facts.cache import FILE_NAME, stamp
from mlscan.facts.indexing import PARALLEL_MIN_BYTES

# large enough to be indexed in worker processes, cheap to parse
FILLER = 'def helper(x):\n    return compute(x)\n\n\nTABLE = """\n' + "0123456789abcdef\n" * 5000 + '"""\n'


def scan(root: Path, *args: str) -> str:
    rc, out, err = run_mlscan(["scan", root, "--format", "json", *args])
    assert rc == 0, err[-1500:]
    return out


def cache_diagnostics(report: str):
    return [d["message"] for d in json.loads(report)["diagnostics"] if "fact cache" in d["message"]]


def big_repo(root: Path) -> GitRepo:
    repo = make_fixture_repo("dvc-mlflow-fastapi", root)
    for i in range(max(60, PARALLEL_MIN_BYTES // len(FILLER) + 2)):
        repo.write(f"pkg/m{i:03d}.py", FILLER)
    repo.commit("Add a package big enough for worker processes")
    return repo


def test_reports_are_identical_with_and_without_the_cache_and_across_workers(tmp_path):
    repo = big_repo(tmp_path / "repo")
    cache = tmp_path / "cache"
    reference = scan(repo.root, "--no-cache", "--jobs", "1")
    assert '"practices"' in reference and cache_diagnostics(reference) == []
    cold = scan(repo.root, "--cache-dir", str(cache), "--jobs", "2")
    assert (cache / FILE_NAME).is_file()
    warm = scan(repo.root, "--cache-dir", str(cache), "--jobs", "1")
    warm_parallel = scan(repo.root, "--cache-dir", str(cache), "--jobs", "2")
    assert cold == reference
    assert warm == reference
    assert warm_parallel == reference
    # one file changed: the cache answers for the rest, and the report is what a cold scan says
    train = "src/fraud/train.py"  # a line added on top moves its evidence down one line
    repo.write(train, "import os\n" + (repo.root / train).read_text())
    changed_cold = scan(repo.root, "--no-cache", "--jobs", "1")
    assert changed_cold != reference
    assert scan(repo.root, "--cache-dir", str(cache), "--jobs", "2") == changed_cold


def test_a_corrupt_cache_file_is_a_diagnostic_and_a_cold_scan(tmp_path):
    repo = make_fixture_repo("dvc-mlflow-fastapi", tmp_path / "repo")
    cache = tmp_path / "cache"
    reference = scan(repo.root, "--no-cache")
    scan(repo.root, "--cache-dir", str(cache))
    db = cache / FILE_NAME
    for suffix in ("-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    db.write_bytes(b"this is not a database\0" * 200)
    out = scan(repo.root, "--cache-dir", str(cache))
    messages = cache_diagnostics(out)
    assert len(messages) == 1 and "cannot use the fact cache" in messages[0], messages
    strip = lambda text: [d for d in json.loads(text)["diagnostics"] if "fact cache" not in d["message"]]
    assert strip(out) == strip(reference)
    without = json.loads(out)
    without["diagnostics"] = strip(out)
    assert without == json.loads(reference)


def test_a_foreign_database_and_bad_rows_are_diagnostics(tmp_path):
    repo = make_fixture_repo("dvc-mlflow-fastapi", tmp_path / "repo")
    reference = json.loads(scan(repo.root, "--no-cache"))
    # a sqlite file of someone else's making
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    with sqlite3.connect(foreign / FILE_NAME) as con:
        con.execute("CREATE TABLE facts (something_else TEXT)")
    out = json.loads(scan(repo.root, "--cache-dir", str(foreign)))
    assert any("fact cache" in d["message"] for d in out["diagnostics"])
    assert out["practices"] == reference["practices"] and out["level"] == reference["level"]

    # rows that do not unpickle into facts, one of them a pickle that would run a command
    cache = tmp_path / "cache"
    scan(repo.root, "--cache-dir", str(cache))
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            import os
            return os.system, (f"touch {marker}",)
    import zlib
    with sqlite3.connect(cache / FILE_NAME) as con:
        con.execute("UPDATE facts SET value = ? WHERE kind = 'code'", (zlib.compress(pickle.dumps(Evil())),))
        con.execute("DELETE FROM facts WHERE kind = 'report'")
        assert con.execute("SELECT count(*) FROM facts WHERE kind = 'code' AND stamp = ?",
                           (stamp("code"),)).fetchone()[0] > 0
    out = json.loads(scan(repo.root, "--cache-dir", str(cache)))
    assert not marker.exists()
    assert any("unreadable entr" in d["message"] for d in out["diagnostics"])
    assert out["practices"] == reference["practices"] and out["level"] == reference["level"]
    # the entries were recomputed and saved again: the next scan is clean
    assert json.loads(scan(repo.root, "--cache-dir", str(cache)))["diagnostics"] == reference["diagnostics"]


def test_the_cache_is_never_written_inside_the_scanned_tree(tmp_path):
    repo = make_fixture_repo("dvc-mlflow-fastapi", tmp_path / "repo")
    before = snapshot(repo.root)
    out = json.loads(scan(repo.root, "--cache-dir", str(repo.root / ".cache")))
    assert any("inside the scanned tree" in d["message"] for d in out["diagnostics"])
    assert snapshot(repo.root) == before


def test_cache_location_from_the_environment(tmp_path):
    repo = make_fixture_repo("dvc-mlflow-fastapi", tmp_path / "repo")
    rc, out, err = run_mlscan(["scan", repo.root, "--format", "json"], env={"MLSCAN_CACHE_DIR": str(tmp_path / "ci")})
    assert rc == 0, err
    assert (tmp_path / "ci" / FILE_NAME).is_file()
    rc, _, err = run_mlscan(["scan", repo.root, "--format", "json", "--no-cache"],
                            env={"MLSCAN_CACHE_DIR": str(tmp_path / "ci2")})
    assert rc == 0, err
    assert not (tmp_path / "ci2").exists()


def test_base_scan_is_the_same_warm_and_cold(tmp_path):
    repo = make_fixture_repo("seed-added", tmp_path / "repo")
    repo.apply_overlay("seed-added")
    repo.commit("Seed it")
    cache = tmp_path / "cache"
    reference = scan(repo.root, "--base", "HEAD~1", "--no-cache")
    assert "seed control added" in reference
    assert scan(repo.root, "--base", "HEAD~1", "--cache-dir", str(cache)) == reference
    assert scan(repo.root, "--base", "HEAD~1", "--cache-dir", str(cache)) == reference


def test_base_scanned_alongside_the_head_gives_the_same_report(tmp_path, monkeypatch):
    """With two rule processes the base is scanned in a forked process while the head judges its
    rules; the report (delta included) is the one the base scanned afterwards gives, and the
    forked scan wrote the base's facts to the cache."""
    from mlscan import delta as delta_mod
    from mlscan.config import Config
    from mlscan.report.json_out import render_json
    repo = make_fixture_repo("seed-added", tmp_path / "repo")
    repo.apply_overlay("seed-added")
    repo.write("features.py", (repo.root / "features.py").read_text() + "\n\ndef only_in_head():\n    return 1\n")
    repo.commit("Seed it")
    reference = scan(repo.root, "--base", "HEAD~1", "--no-cache", "--jobs", "1")
    assert "seed control added" in reference
    results = []
    real_result = delta_mod._BaseAlongside.result

    def spy(self):
        got = real_result(self)
        results.append(got)
        return got

    monkeypatch.setattr(delta_mod._BaseAlongside, "result", spy)
    cache = tmp_path / "cache"
    report = delta_mod.scan_with_base(repo.root, "HEAD~1", Config(), jobs=2, cache_dir=str(cache))
    assert len(results) == 1 and results[0] is not None   # the base came from the forked scan
    assert render_json(report) == reference
    # the forked scan's facts are in the cache: a second run takes the base's report from there
    db = sqlite3.connect(str(cache / FILE_NAME))
    assert db.execute("SELECT count(*) FROM facts WHERE kind = 'report'").fetchone()[0] == 2
    assert scan(repo.root, "--base", "HEAD~1", "--cache-dir", str(cache), "--jobs", "2") == reference


def test_per_file_values_are_kept_by_content(tmp_path):
    """A document's parse and a rule's judgement of it are cached by the file's blob: the next
    scan takes them from the cache (a value planted there shows in the report), and a changed
    file is judged afresh (then the report is the uncached one)."""
    from mlscan.facts.cache import FileMaps, blob_sha, dumps, loads
    repo = make_fixture_repo("dvc-mlflow-fastapi", tmp_path / "repo")
    readme = "# Churn\n\n## Results\n\nThe model achieves 93% accuracy on the held-out test set.\n"
    repo.write("README.md", readme)
    repo.commit("Results in the README")
    cache = tmp_path / "cache"
    reference = scan(repo.root, "--no-cache")
    assert 'has a \\"Results\\" section on evaluation' in reference  # as JSON writes it
    assert scan(repo.root, "--cache-dir", str(cache)) == reference
    hits = "mlscan.rules.documented_training._doc_hits"
    key = f"{blob_sha(readme.encode())}:README.md"
    with sqlite3.connect(cache / FILE_NAME) as con:
        rows = dict(con.execute("SELECT blob, value FROM facts WHERE kind = ?", (FileMaps.KIND,)).fetchall())
        assert key in loads(rows["document"]) and key in loads(rows[hits])
        planted = loads(rows[hits])
        planted[key] = ((3, "PLANTED by the test"),)
        con.execute("UPDATE facts SET value = ? WHERE kind = ? AND blob = ?", (dumps(planted), FileMaps.KIND, hits))
        con.execute("DELETE FROM facts WHERE kind = 'report'")
    assert "PLANTED by the test" in scan(repo.root, "--cache-dir", str(cache))
    repo.write("README.md", readme + "\nTrained on the 2023 churn table.\n")
    changed = scan(repo.root, "--cache-dir", str(cache))
    assert "PLANTED" not in changed and changed == scan(repo.root, "--no-cache")


def _ring_package_repo(tmp_path):
    """The serving-skew fixture plus a package of 12 modules that call each other in a ring."""
    repo = make_fixture_repo("serving-skew", tmp_path / "repo")
    for i in range(12):
        repo.write(f"pkg/m{i:02d}.py", f"from pkg import m{(i + 1) % 12:02d}\n\n\ndef helper{i}(x):\n"
                                       f"    return m{(i + 1) % 12:02d}.helper{(i + 1) % 12}(x)\n")
    repo.write("pkg/__init__.py", "")
    repo.commit("A package whose modules call each other")
    return repo


def test_graph_pieces_computed_in_workers_give_the_same_graph_and_report(tmp_path, monkeypatch):
    """A cold scan of a large repo computes the graph's per-file pieces in forked workers; the
    graph, the report and the cached pieces are the ones one process gives."""
    from mlscan import engine
    from mlscan.config import Config
    from mlscan.facts import graph as graph_mod
    from mlscan.facts.repo import Facts, ScanOptions
    from mlscan.report.json_out import render_json
    repo = _ring_package_repo(tmp_path)
    monkeypatch.setattr(graph_mod, "PIECES_PARALLEL_MIN", 1)
    forked = []
    real = graph_mod.CodeGraph._pieces_forked

    def spy(self, paths, encode):
        got = real(self, paths, encode)
        forked.append(got is not None)
        return got
    monkeypatch.setattr(graph_mod.CodeGraph, "_pieces_forked", spy)

    def graph_of(jobs: int, cache: str):
        facts = Facts(repo.root, ScanOptions(jobs=jobs, cache_dir=cache))
        g = facts.graph
        return (sorted((n, sorted(a.items())) for n, a in g.g._attrs.items()),
                sorted((u, sorted((v, repr(d)) for v, d in nbrs.items())) for u, nbrs in g.g._succ.items()),
                [(e.kind, e.path, e.line, e.node) for e in g.entry_points])

    one = graph_of(1, str(tmp_path / "cache1"))
    assert forked == [False]
    two = graph_of(2, str(tmp_path / "cache2"))
    assert forked == [False, True]
    assert two == one and any(u.startswith("def:pkg/m00.py") for u, _ in one[1])
    reference = render_json(engine.scan(repo.root, Config(), jobs=1, cache_dir="off"))
    assert render_json(engine.scan(repo.root, Config(), jobs=2, cache_dir=str(tmp_path / "cache3"))) == reference
    # the pieces the workers encoded are the cache's: a warm scan from them says the same
    assert render_json(engine.scan(repo.root, Config(), jobs=1, cache_dir=str(tmp_path / "cache2"))) == reference


def test_history_is_read_once_per_commit_and_depth(tmp_path, monkeypatch):
    """What `git log` gave is kept by commit SHA and depth: the next scan of the same commit (a
    file changed in the work tree) runs no `git log` and says what an uncached scan says; another
    commit has its own log."""
    from mlscan import engine
    from mlscan.config import Config
    from mlscan.facts import cache as cache_mod, history
    from mlscan.report.json_out import render_json
    repo = make_fixture_repo("dvc-mlflow-fastapi", tmp_path / "repo")
    logs = []
    real = history.run_git

    def spy(root, args, *rest, **kwargs):
        if args and args[0] == "log":
            logs.append(args)
        return real(root, args, *rest, **kwargs)
    monkeypatch.setattr(history, "run_git", spy)
    cache = str(tmp_path / "cache")
    engine.scan(repo.root, Config(), jobs=1, cache_dir=cache)
    assert len(logs) == 1
    monkeypatch.setattr(cache_mod, "_STORES", {})   # read back from disk, as another process would
    train = "src/fraud/train.py"
    repo.write(train, "import os\n" + (repo.root / train).read_text())
    warm = render_json(engine.scan(repo.root, Config(), jobs=1, cache_dir=cache))
    assert len(logs) == 1
    assert warm == render_json(engine.scan(repo.root, Config(), jobs=1, cache_dir="off"))
    assert len(logs) == 2
    repo.commit("Another commit")
    after = json.loads(render_json(engine.scan(repo.root, Config(), jobs=1, cache_dir=cache)))
    assert len(logs) == 3
    assert after["history"]["commits_read"] == json.loads(warm)["history"]["commits_read"] + 1


def test_module_interfaces_are_kept_by_content(tmp_path, monkeypatch):
    """Checking cached graph pieces asks for the interfaces of the modules they resolved into: a
    warm scan takes them from the cache, computing only those of changed files."""
    from mlscan import engine
    from mlscan.config import Config
    from mlscan.facts import cache as cache_mod, graph as graph_mod
    from mlscan.facts.cache import FileMaps
    from mlscan.report.json_out import render_json
    repo = _ring_package_repo(tmp_path)
    cache = str(tmp_path / "cache")
    engine.scan(repo.root, Config(), jobs=1, cache_dir=cache)
    computed = []
    real = graph_mod.CodeGraph._interface_of
    monkeypatch.setattr(graph_mod.CodeGraph, "_interface_of", lambda self, path: computed.append(path) or real(self, path))

    def scan_changed(extra: str) -> str:
        monkeypatch.setattr(cache_mod, "_STORES", {})
        repo.write("pkg/m00.py", (repo.root / "pkg/m00.py").read_text() + extra)
        return render_json(engine.scan(repo.root, Config(), jobs=1, cache_dir=cache))

    warm = scan_changed("\n\ndef added_one():\n    return 1\n")
    assert set(computed) <= {"pkg/m00.py"}
    assert warm == render_json(engine.scan(repo.root, Config(), jobs=1, cache_dir="off"))
    with sqlite3.connect(Path(cache) / FILE_NAME) as con:
        con.execute("DELETE FROM facts WHERE kind = ? AND blob = 'graph.interface'", (FileMaps.KIND,))
    computed.clear()
    scan_changed("\n\ndef added_two():\n    return 2\n")
    assert len(set(computed)) >= 12   # without the kept interfaces, every module's is computed again


def test_per_file_keys_a_worker_used_are_kept_when_saved():
    """A forked rule worker reports the per-file values it added and the keys it used: the parent's
    save keeps both (it keeps only the used entries of a row grown to twice their number)."""
    from mlscan.facts.cache import FactStore, FileMaps
    store = FactStore(None)
    store.memory[("judge", FileMaps.KIND)] = {f"b{i}:f{i}.py": i for i in range(10)}
    parent, worker = FileMaps(store), FileMaps(store)   # the worker's copy, as after a fork
    assert worker.get("judge", "b1:f1.py", lambda: -1) == 1
    assert worker.get("judge", "b2:f2.py", lambda: -1) == 2
    assert worker.get("judge", "new:g.py", lambda: 99) == 99
    assert parent.get("judge", "b3:f3.py", lambda: -1) == 3
    parent.merge(*worker.take_news())
    assert worker.take_news() == ({}, {})   # each report says what is new since the last one
    parent.save()
    assert set(store.memory[("judge", FileMaps.KIND)]) == {"b1:f1.py", "b2:f2.py", "b3:f3.py", "new:g.py"}


def test_parsed_configs_are_kept_by_content(tmp_path):
    """Parsed YAML/TOML/JSON/INI documents, requirements files, Dockerfiles and CI jobs are per-file values:
    whatever their parsers build loads back from the cache equal (dates, sets, bytes, tags), and a
    warm scan reads them from there with the report unchanged."""
    from mlscan.facts import configs as cfg
    from mlscan.facts.cache import FileMaps, dumps, loads
    parsed = [
        cfg.parse_yaml("a.yaml", "when: 2024-01-02\nat: 2024-01-02T03:04:05+01:00\nbag: !!set {a, b}\n"
                                 "raw: !!binary aGk=\nref: !Ref Thing\nlist: [1, 2.5, null, true]\n---\nsecond: doc\n"),
        cfg.parse_toml("p.toml", "[t]\nwhen = 1979-05-27T07:32:00-08:00\nday = 1979-05-27\nhour = 07:32:00\n"),
        cfg.parse_json("c.json", '{"a": [1, {"b": null}]}'),
        cfg.parse_ini("setup.cfg", "[metadata]\nname = x\n"),
        cfg.parse_yaml("bad.yaml", "a: [\n"),
        cfg.parse_requirements("requirements.txt", "torch==2.1.0\nnumpy>=1\n-r other.txt\n"),
        cfg.parse_dockerfile("FROM python:3.11\nRUN pip install -r requirements.txt\nCMD [\"python\", \"serve.py\"]\n"),
    ]
    for value in parsed:
        assert loads(dumps(value)) == value
    repo = make_fixture_repo("dvc-mlflow-fastapi", tmp_path / "repo")
    repo.write("requirements.txt", "fastapi==0.110.0\nscikit-learn>=1.3\n")
    repo.write("params.yaml", "train:\n  lr: 0.01\n  epochs: 3\n  started: 2024-01-02\n")
    repo.write(".github/workflows/tests.yml", "on: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n"
                                               "      - uses: actions/checkout@v4\n      - run: pytest -q\n")
    repo.commit("Requirements, params and CI")
    cache = tmp_path / "cache"
    reference = scan(repo.root, "--no-cache")
    assert scan(repo.root, "--cache-dir", str(cache)) == reference
    with sqlite3.connect(cache / FILE_NAME) as con:
        rows = dict(con.execute("SELECT blob, value FROM facts WHERE kind = ?", (FileMaps.KIND,)).fetchall())
        assert any(k.endswith(":requirements.txt") for k in loads(rows["parsed:requirements"]))
        assert any(k.endswith(":params.yaml") for k in loads(rows["parsed:config"]))
        jobs = loads(rows["ci-jobs"])
        assert any(k.endswith(":.github/workflows/tests.yml") and v and v[0].steps for k, v in jobs.items())
        con.execute("DELETE FROM facts WHERE kind = 'report'")
    warm = scan(repo.root, "--cache-dir", str(cache))
    assert warm == reference and cache_diagnostics(warm) == []


def test_unchanged_work_tree_files_are_not_read_again_for_their_blobs(tmp_path, monkeypatch):
    """A file whose lstat (mtime, ctime, inode, size) is what it was when a scan hashed it keeps its
    blob without being read; a file rewritten with the same size and its old mtime put back is read
    again (its ctime moved), and so are files changed too recently to be sure of."""
    import os
    import time
    from mlscan.facts.inventory import Inventory
    from mlscan.facts.repo import Facts, ScanOptions
    repo = make_fixture_repo("dvc-mlflow-fastapi", tmp_path / "repo")
    train = "src/fraud/train.py"
    time.sleep(2.2)   # older than the racy window of the listing below
    reads = []
    real_read = Inventory.read_bytes
    monkeypatch.setattr(Inventory, "read_bytes", lambda self, rel: (reads.append(rel), real_read(self, rel))[1])

    def digest():
        reads.clear()
        return Facts(repo.root, ScanOptions(cache_dir=str(tmp_path / "cache"))).input_digest("settings")

    first = digest()
    assert train in reads   # nothing known yet: every file is hashed
    assert digest() == first and reads == []
    st = os.stat(repo.root / train)
    text = (repo.root / train).read_text()
    (repo.root / train).write_text(text.replace("import", "IMPORT", 1))   # same size
    os.utime(repo.root / train, ns=(st.st_atime_ns, st.st_mtime_ns))
    changed = digest()
    assert changed != first and reads == [train]
    assert digest() == changed and reads == [train]   # changed just now: not trusted yet
    (repo.root / train).write_text(text)
    assert digest() == first
    assert Facts(repo.root, ScanOptions(cache_dir="off")).input_digest("settings") == first
