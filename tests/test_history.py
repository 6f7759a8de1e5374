"""`mlscan history` on a repository the test builds: each commit's levels and statuses are what a
scan of that commit's checkout says, the events name where a practice arrived and regressed, and
the scanned repository is never changed."""
from __future__ import annotations

import json

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
