"""`mlscan history` on a repository the test builds: each commit's levels and statuses are what a
scan of that commit's checkout says, the events name where a practice arrived and regressed, and
the scanned repository is never changed."""
from __future__ import annotations

import json

import pytest

from gitrepo import GitRepo, make_fixture_repo, run_mlscan, snapshot


def test_history_matches_a_scan_of_each_commit_and_names_the_events(tmp_path):
    repo = make_fixture_repo("seed-added", tmp_path / "repo", message="Churn model, unseeded")
    unseeded_train = (repo.root / "train.py").read_text()
    repo.apply_overlay("seed-added")
    seeded = repo.commit("Seed every RNG")
    repo.write("README.md", (repo.root / "README.md").read_text() + "\nMore words.\n")
    repo.commit("Docs only")
    repo.write("train.py", unseeded_train)
    repo.remove("seeding.py")
    dropped = repo.commit("Drop the seeding again")
    shas = repo.git("log", "--first-parent", "--format=%H").split()[::-1]
    assert len(shas) == 4
    before = snapshot(repo.root, include_git=True)

    cache = tmp_path / "cache"
    rc, out, err = run_mlscan(["history", repo.root, "--commits", "10", "--format", "json",
                               "--cache-dir", cache])
    assert rc == 0, err[-2000:]
    doc = json.loads(out)
    assert out == json.dumps(doc, indent=2, ensure_ascii=False) + "\n"  # the layout json.dumps gives
    assert snapshot(repo.root, include_git=True) == before  # nothing checked out, nothing written
    assert doc["schema_version"] == 1 and doc["tool"]["name"] == "mlscan"
    assert [c["commit"] for c in doc["commits"]] == shas  # oldest first
    assert doc["commits"][-1]["subject"] == "Drop the seeding again"
    assert all(c["date"][:4] == "2024" and "T" in c["date"] for c in doc["commits"])

    # each row is exactly what a scan of that commit's checkout reports
    checkout = GitRepo(tmp_path / "checkout")
    repo.clone(checkout.root)
    for row in doc["commits"]:
        checkout.git("checkout", "-q", "--detach", row["commit"])
        rc, out, err = run_mlscan(["scan", checkout.root, "--format", "json", "--no-cache"])
        assert rc == 0, err[-1500:]
        scanned = json.loads(out)
        assert row["level"] == scanned["level"], row["commit"]
        assert row["stages"] == scanned["stages"], row["commit"]
        assert row["practices"] == scanned["practices"], row["commit"]

    seed = [next(p["status"] for p in c["practices"] if p["id"] == "seed-control") for c in doc["commits"]]
    assert seed[0] == seed[3] and seed[1] == seed[2] and seed[0] != seed[1], seed
    seed_events = [e for e in doc["events"] if e["practice"] == "seed-control"]
    assert seed_events == [
        {"commit": seeded, "practice": "seed-control", "from": seed[0], "to": seed[1], "kind": "arrived"},
        {"commit": dropped, "practice": "seed-control", "from": seed[1], "to": seed[0], "kind": "regressed"},
    ]
    # a docs-only commit changes no practice
    assert not [e for e in doc["events"] if e["commit"] == shas[2]]

    # sampling: every 2nd commit counted back from HEAD; the terminal view names the events
    rc, out, err = run_mlscan(["history", repo.root, "--commits", "10", "--every", "2", "--format", "json",
                               "--cache-dir", cache])
    assert rc == 0, err[-2000:]
    assert [c["commit"] for c in json.loads(out)["commits"]] == [shas[1], shas[3]]
    rc, out, err = run_mlscan(["history", repo.root, "--cache-dir", cache])
    assert rc == 0, err[-2000:]
    assert f"{dropped[:12]}  seed-control: {seed[1]} -> {seed[0]} (regressed)" in out


def test_history_outside_git_is_a_usage_error(tmp_path):
    (tmp_path / "plain").mkdir()
    rc, out, err = run_mlscan(["history", tmp_path / "plain"], env={"GIT_CEILING_DIRECTORIES": str(tmp_path)})
    assert rc == 2 and "git repository" in err and out == ""


def test_a_bare_repository_is_scanned_at_its_head_and_its_history_read(tmp_path):
    """A bare clone (a server's copy, a mirror) has no work tree: `scan` reads its HEAD and
    `history` its commits from git objects, and both say what they say for a checkout."""
    repo = make_fixture_repo("seed-added", tmp_path / "repo", message="Churn model, unseeded")
    repo.apply_overlay("seed-added")
    repo.commit("Seed every RNG")
    bare = tmp_path / "mirror.git"
    repo.git("clone", "-q", "--bare", str(repo.root), str(bare))
    before = snapshot(bare, include_git=True)

    rc, out, err = run_mlscan(["scan", bare, "--format", "json", "--no-cache"])
    assert rc == 0, err[-1500:]
    from_bare = json.loads(out)
    rc, out, err = run_mlscan(["scan", repo.root, "--format", "json", "--no-cache"])
    assert rc == 0, err[-1500:]
    from_checkout = json.loads(out)
    assert from_bare["commit"] == repo.git("rev-parse", "HEAD").strip()
    assert [(p["id"], p["status"]) for p in from_bare["practices"]] == \
        [(p["id"], p["status"]) for p in from_checkout["practices"]]
    assert from_bare["level"] == from_checkout["level"] and from_bare["stages"] == from_checkout["stages"]
    assert any(p["status"] == "present" for p in from_bare["practices"])  # files were read, not an empty folder

    rc, out, err = run_mlscan(["history", bare, "--format", "json", "--no-cache"])
    assert rc == 0, err[-1500:]
    rc2, out2, err2 = run_mlscan(["history", repo.root, "--format", "json", "--no-cache"])
    assert rc2 == 0, err2[-1500:]
    assert json.loads(out)["commits"] == json.loads(out2)["commits"]
    assert snapshot(bare, include_git=True) == before

    rc, out, err = run_mlscan(["scan", bare, "--base", "HEAD~1"])
    assert rc == 2 and "bare repository" in err


def test_history_on_an_embedded_dask_cluster_equals_the_one_process_run(tmp_path):
    pytest.importorskip("distributed", reason="the fleet extra")
    repo = make_fixture_repo("seed-added", tmp_path / "repo", message="Churn model, unseeded")
    repo.apply_overlay("seed-added")
    repo.commit("Seed every RNG")
    before = snapshot(repo.root, include_git=True)
    args = ["history", repo.root, "--commits", "5", "--format", "json", "--no-cache"]
    rc, alone, err = run_mlscan(args)
    assert rc == 0, err[-2000:]
    rc, on_dask, err = run_mlscan(args + ["--scheduler", "local"])
    assert rc == 0, err[-2000:]
    assert on_dask == alone and len(json.loads(on_dask)["commits"]) == 2
    assert snapshot(repo.root, include_git=True) == before
    # the option really goes to Dask: an address nobody listens on is a usage error
    rc, out, err = run_mlscan(args + ["--scheduler", "tcp://127.0.0.1:9"])
    assert rc == 2 and "cannot reach the Dask scheduler" in err, err[-2000:]


def _commit_at(repo: GitRepo, message: str, when: int) -> str:
    from gitrepo import git
    git(repo.root, "commit", "-q", "--allow-empty", "--no-verify", "-m", message, when=when)
    return repo.head()


def test_one_shared_log_gives_each_commit_the_history_its_own_git_log_gives(tmp_path):
    """`mlscan history` reads one `git log` and replays git's walk for every commit: merges,
    equal committer dates and a clock-skewed commit give the same commits, in the same order,
    as `git log COMMIT` itself (the per-commit read), with and without a depth limit."""
    from gitrepo import BASE_EPOCH
    from mlscan.facts.history import CommitSession, read_history
    from mlscan.fleet.commits import sampled_commits, session_for

    repo = GitRepo.init(tmp_path / "repo")
    t = BASE_EPOCH
    repo.write("data/a.csv", "x\n" * 2000)
    _commit_at(repo, "root", t)
    for i in range(3):
        repo.checkout(f"side{i}", create=True)
        repo.write(f"side{i}.py", f"x = {i}\n")
        _commit_at(repo, f"side {i}", t + 10 * i + 5)
        repo.write(f"tests/test_side{i}.py", "def test_x():\n    pass\n")
        _commit_at(repo, f"side {i} again", t + 10 * i + 5)      # the same date as its parent
        repo.checkout("main")
        repo.write(f"main{i}.py", f"y = {i}\n")
        _commit_at(repo, f"main {i}", t + 10 * i + (30 if i == 1 else 5))  # one from a fast clock
        repo.git("merge", "-q", "--no-ff", "--no-edit", f"side{i}")
    repo.write("Dockerfile", "FROM python:3.11\n")
    _commit_at(repo, "after a skewed one", t + 1)                 # older than its parent
    repo.remove("data/a.csv")
    repo.commit("drop the data")

    sampled = sampled_commits(repo.root, 100)
    assert len(sampled) >= 8
    for depth in (2000, 3):
        for shared in (session_for(repo.root, sampled), (sampled[-1].sha, 0)):  # 0: the log falls short
            session = CommitSession(repo.root, repo.root, *shared)
            for c in sampled:
                mine, theirs = [], []
                got = session.history(c.sha, depth, mine)
                expected = read_history(repo.root, depth, theirs, rev=c.sha)
                assert [x.sha for x in got.commits] == [x.sha for x in expected.commits], (depth, c.subject)
                assert got == expected and mine == theirs, (depth, c.subject)
            session.objects.close()
    assert len(read_history(repo.root, 2000, [], rev=sampled[-1].sha).commits) == 15


def test_a_rule_is_reused_only_where_nothing_it_read_changed(tmp_path, monkeypatch):
    """Rule reuse across the commits of one run: a README-only commit does not rerun the seed
    rules (they read code, not the README) but reruns rules that read the README; a commit that
    comments out the seeding call in train.py reruns them. Every commit's whole report equals an independent scan's."""
    from mlscan import engine
    from mlscan.config import Config
    from mlscan.facts.history import CommitSession
    from mlscan.facts.repo import CommitTree, Facts
    from mlscan.facts.track import HISTORY
    from mlscan.report.json_out import render_json

    repo = make_fixture_repo("seed-added", tmp_path / "repo", message="Churn model, unseeded")
    repo.apply_overlay("seed-added")
    shas = [repo.commit("Seed every RNG")]
    repo.write("README.md", (repo.root / "README.md").read_text() + "\nMore words.\n")
    shas.append(repo.commit("Docs only"))
    seeded = (repo.root / "train.py").read_text()
    unseeded = seeded.replace("    seed_everything(SEED)", "    #eed_everything(SEED)")  # the same size
    assert len(unseeded) == len(seeded) and unseeded != seeded
    repo.write("train.py", unseeded)
    shas.append(repo.commit("Unseed the training"))

    # each scan judged afresh: no report remembered by an earlier scan of the same commit
    monkeypatch.setattr(Facts, "remembered", lambda self, kind, key: None)
    ran = []
    real_run_rule = engine._run_rule
    monkeypatch.setattr(engine, "_run_rule", lambda facts, rule: ran.append(rule.id) or real_run_rule(facts, rule))
    session = CommitSession(repo.root, repo.root, shas[-1], 0)
    runs, inputs, statuses = [], [], []
    for sha in shas:
        ran.clear()
        shared = engine.scan(repo.root, Config(), jobs=1, cache_dir="off", commit=CommitTree(repo.root, sha, "", session))
        runs.append(set(ran))
        inputs.append({rule_id: saved[0] for rule_id, saved in
                       next(iter(session.rule_memory.values()))["rules"].items()})
        alone = engine.scan(repo.root, Config(), jobs=1, cache_dir="off", commit=CommitTree(repo.root, sha, ""))
        assert render_json(shared) == render_json(alone), sha
        statuses.append(next(p.status for p in shared.practices if p.id == "seed-control"))
    session.objects.close()
    assert statuses[1] != statuses[2], statuses  # the last commit's change matters to the seed rules

    every_rule = runs[0]
    assert {"seed-calls", "unseeded-rng"} <= every_rule
    # the README-only commit: exactly the rules that read the README (or the history) ran again
    readme = {("content", "README.md"), ("size", "README.md"), HISTORY}
    assert runs[1] == {r for r in every_rule if inputs[0][r] is None or not inputs[0][r].isdisjoint(readme)}
    assert "seed-calls" not in runs[1] and "unseeded-rng" not in runs[1]
    assert runs[1] and runs[1] != every_rule
    # train.py changed: every rule that read it ran again, the seed rules among them
    assert {"seed-calls", "unseeded-rng"} <= runs[2]
    assert {r for r in every_rule if inputs[1][r] is not None and ("content", "train.py") in inputs[1][r]} <= runs[2]


def test_per_file_values_are_kept_across_the_commits_of_a_run(tmp_path, monkeypatch):
    """A rule's judgement of one file (`facts.per_file`) is made once per file content in a
    history run, not once per commit: the commits' scans record what rules read, and the values
    they computed must still reach the next commit. The rows are what a lone scan gives."""
    import functools

    from mlscan.config import Config
    from mlscan.fleet.commits import history
    from mlscan.rules import documented_training

    judged = []
    real = documented_training._doc_hits

    @functools.wraps(real)
    def counting(path, doc):
        judged.append(path)
        return real(path, doc)

    monkeypatch.setattr(documented_training, "_doc_hits", counting)
    repo = GitRepo.init(tmp_path / "repo")
    repo.write("README.md", "# Churn\n\n## Results\n\n| model | accuracy | f1 |\n|---|---|---|\n"
                            "| baseline | 0.81 | 0.77 |\n| tuned | 0.86 | 0.80 |\n")
    for i in range(3):   # code changes only: the rule runs again at each commit
        repo.write("train.py", "import torch\n\n\ndef train():\n    model = torch.nn.Linear(2, 1)\n"
                               f"    return model  # {i}\n\n\nif __name__ == '__main__':\n    train()\n")
        repo.commit(f"train {i}")
    doc = history(repo.root, Config(), commits=3, cache_dir=str(tmp_path / "cache"), workers=1)  # a fresh store
    assert judged.count("README.md") == 1, judged
    rows = [[(p["id"], p["status"], p["evidence"]) for p in c["practices"]] for c in doc["commits"]]
    judged.clear()
    alone = run_mlscan(["scan", repo.root, "--format", "json", "--no-cache"])
    assert alone[0] == 0, alone[2][-2000:]
    assert rows[-1] == [(p["id"], p["status"], p["evidence"]) for p in json.loads(alone[1])["practices"]]
    assert any(e["rule"] == "documented-data-or-results" for _, _, ev in rows[-1] for e in ev)


def test_history_split_over_forked_processes_equals_the_one_process_run(tmp_path):
    """With two worker processes (each taking a run of consecutive commits, with its own git
    reader, fact store and rule reuse) the document is the same as one process's."""
    from mlscan.config import Config
    from mlscan.fleet.commits import MIN_COMMITS_PER_PROCESS, history

    repo = make_fixture_repo("seed-added", tmp_path / "repo", message="Churn model, unseeded")
    unseeded = (repo.root / "train.py").read_text()
    for i in range(2 * MIN_COMMITS_PER_PROCESS - 1):
        if i % 5 == 2:
            repo.apply_overlay("seed-added")
        elif i % 5 == 4:
            repo.write("train.py", unseeded)
        else:
            repo.write("README.md", (repo.root / "README.md").read_text() + f"\nNote {i}.\n")
        repo.commit(f"Change {i}")
    before = snapshot(repo.root, include_git=True)
    alone = history(repo.root, Config(), commits=100, cache_dir=str(tmp_path / "c1"), workers=1)
    forked = history(repo.root, Config(), commits=100, cache_dir=str(tmp_path / "c2"), workers=2)
    assert len(alone["commits"]) == 2 * MIN_COMMITS_PER_PROCESS
    assert json.dumps(forked) == json.dumps(alone)
    assert len({e["kind"] for e in alone["events"]}) == 2  # seeding arrives and regresses along the way
    assert snapshot(repo.root, include_git=True) == before


def test_a_scan_off_the_main_thread_records_nothing_and_reuses_nothing(tmp_path):
    """One recorder per process, on the main thread: commits scanned in another thread (a Dask
    worker's) run every rule, with the same reports."""
    import threading
    from mlscan import engine
    from mlscan.config import Config
    from mlscan.facts.history import CommitSession
    from mlscan.facts.repo import CommitTree
    from mlscan.report.json_out import render_json

    repo = make_fixture_repo("seed-added", tmp_path / "repo", message="Churn model, unseeded")
    repo.apply_overlay("seed-added")
    sha = repo.commit("Seed every RNG")
    session = CommitSession(repo.root, repo.root, sha, 0)
    got = []
    worker = threading.Thread(target=lambda: got.append(render_json(engine.scan(
        repo.root, Config(), jobs=1, cache_dir="off", commit=CommitTree(repo.root, sha, "", session)))))
    worker.start()
    worker.join()
    assert got and session.rule_memory == {}
    on_main = render_json(engine.scan(repo.root, Config(), jobs=1, cache_dir=str(tmp_path / "c"),
                                      commit=CommitTree(repo.root, sha, "", session)))
    assert session.rule_memory and on_main == got[0]
    session.objects.close()


def test_the_history_json_is_laid_out_exactly_as_json_dumps_lays_it_out():
    """The history encoder lays out each repeated stage or practice once; the text must still be
    json.dumps(indent=2, ensure_ascii=False)'s, byte for byte, whatever the values."""
    from mlscan.fleet.commits import render_history_json

    practice = {"id": "seed-control", "status": "present", "evidence": [{"path": "tr\u00e4in.py", "line": 3}],
                "empty": [], "none": {}, "odd": "quote \" backslash \\ tab \t nul \x00 \u2028 \U0001f600",
                "numbers": [0, -1, 2.5, 1e20, -0.0, float("inf"), float("nan"), True, False, None]}
    other = dict(practice, status="absent", evidence=[])
    rows = [{"commit": f"{i:040x}", "level": i % 3, "stages": [{"id": "data", "next": [[], {}, [[1]]]}],
             "practices": [practice, other if i % 2 else practice, {}]} for i in range(4)]
    doc = {"schema_version": 1, "repo": "/r\u00e9po", "commits": rows, "events": [], "nested": [[[[[{"a": [{}]}]]]]]}
    for value in (doc, {}, [], "text", 3, None, {"commits": []}, [[[[[[[1, [2, {"b": []}]]]]]]]]):
        assert render_history_json(value) == json.dumps(value, indent=2, ensure_ascii=False) + "\n"
    # keys json would convert, and tuples, go to json.dumps as a whole (same text); so do its errors
    for value in ({1: "one", None: [1]}, {"commits": [("a", "b")]}):
        assert render_history_json(value) == json.dumps(value, indent=2, ensure_ascii=False) + "\n"
    with pytest.raises(TypeError):
        render_history_json({"commits": [{"x": object()}]})


def test_idle_cores_measured_around_other_work_count_that_work_as_idle(monkeypatch):
    """`free_cores(since=idle_sample())` waits only what is left of the 100 ms, and the CPU this
    process (and its children) spent meanwhile is not counted as another job's."""
    import os
    import time
    from mlscan.facts import indexing

    slept = []
    monkeypatch.setattr(time, "sleep", slept.append)
    tick = 1.0 / os.sysconf("SC_CLK_TCK")
    start = (time.monotonic() - 1.0, 1000, 2000, 5.0)
    # 40 ticks on 2 cores, none idle, 20 of them this process's own: one core was idle for others
    monkeypatch.setattr(indexing, "idle_sample", lambda: (time.monotonic(), 1000, 2040, 5.0 + 20 * tick))
    assert indexing._idle_cores(2, since=start) == pytest.approx(1.0)
    assert slept == [0.0]
    # measured on its own (sleeping in between), the same two readings say no core is idle
    readings = iter([start, (time.monotonic(), 1000, 2040, 5.0 + 20 * tick)])
    monkeypatch.setattr(indexing, "idle_sample", lambda: next(readings))
    assert indexing._idle_cores(2) == pytest.approx(0.0)
