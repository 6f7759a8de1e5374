"""The benchmark script keeps working (its timings are not asserted here: see benchmarks/README.md)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gitrepo import make_fixture_repo

ROOT = Path(__file__).resolve().parents[1]


def test_fleet_bench_runs_and_checks_reports(tmp_path):
    import pytest
    pytest.importorskip("distributed", reason="the fleet extra")
    sys.path.insert(0, str(ROOT / "tests"))
    from gitrepo import make_fixture_repo
    repos = [make_fixture_repo(name, tmp_path / name).root for name in ("scripted-seeded", "serving-skew")]
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "fleet_bench.py"), *map(str, repos),
                        "--workers", "1", "--min-speedup", "0"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "reports: identical to the serial scans" in r.stdout and "speed-up:" in r.stdout


def test_error_analysis_groups_misses_by_practice_and_direction(tmp_path):
    import json

    import yaml
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from error_analysis import direction
    finally:
        sys.path.pop(0)
    assert [direction(w, h) for w, h in [("partial", "absent"), ("present", "absent"), ("present", "partial"),
                                          ("partial", "present"), ("absent", "partial"), ("not-applicable", "absent"),
                                          ("present", "unknown"), ("present", "present")]] == [
        "missed partial", "missed present", "under-rated", "over-rated", "false present", "n/a confusion", "unknown", None]
    scan = subprocess.run([sys.executable, "-m", "mlscan", "scan", str(ROOT / "fixtures" / "scripted-seeded"),
                           "--format", "json"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    report = json.loads(scan.stdout)
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "acme+toy.json").write_text(scan.stdout)
    status = {p["id"].replace("-", "_"): p["status"] for p in report["practices"]}
    to_label = {"present": "yes", "partial": "partial", "absent": "no", "not-applicable": "n/a"}
    flip = {"present": "no", "partial": "no", "absent": "partial", "not-applicable": "yes"}
    kinds = sorted(status)[:3]
    evidence = {k: {"label": flip[status[k]] if k in kinds else to_label.get(status[k], "no"), "where": ["x.py:1"],
                    "why": f"labelled {k}"} for k in status}
    labels = [{"repo": "acme/toy", "commit": "0" * 40, "evidence": evidence,
               "expected_levels": {"overall": 5 if report["level"] != 5 else 1}}]
    (tmp_path / "labels.yaml").write_text(yaml.safe_dump(labels))
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "error_analysis.py"), str(tmp_path / "labels.yaml"),
                        "--reports", str(tmp_path / "reports"), "--json", str(tmp_path / "out.json")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert f"3 status misses over {len(status)} labels" in r.stdout
    out = json.loads((tmp_path / "out.json").read_text())
    missed = {(m["practice"], m["direction"]) for m in out["misses"] if m["direction"] != "level"}
    assert {k for k, _ in missed} == set(kinds)
    assert all(f"== {k} / {d}: 1" in r.stdout and f"label:  labelled {k}" in r.stdout for k, d in missed)
    assert "== overall level: 1 off" in r.stdout
    (tmp_path / "set-x.yaml").write_text(yaml.safe_dump(labels))
    tagged = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "error_analysis.py"), str(tmp_path / "labels.yaml"),
                             "--reports", str(tmp_path / "reports"), "--sets", str(tmp_path / "set-x.yaml")],
                            capture_output=True, text=True, timeout=120)
    assert tagged.returncode == 0, tagged.stderr
    assert all(f"== {k} / {d}: 1 from 1 sets" in tagged.stdout for k, d in missed)
    assert tagged.stdout.count("-- acme/toy [set-x]: label") == 3

def test_bench_runs_every_step_and_checks_reports_are_identical(tmp_path):
    repo = make_fixture_repo("dvc-mlflow-fastapi", tmp_path / "repo")
    before = repo.head(), repo.status()
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench.py"), str(repo.root), "--markdown"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    for step in ("ast.parse, one process", "mlscan cold (empty cache)", "mlscan warm (nothing changed)",
                 "mlscan one .py file changed (warm)", "mlscan --base HEAD~1 (3 files changed, empty cache)",
                 "mlscan --base HEAD~1 (warm)"):
        assert f"| {step} |" in r.stdout, (step, r.stdout)
    assert "ok     cold, warm and --no-cache reports byte-identical" in r.stdout
    assert "ok     --base reports byte-identical cold and warm" in r.stdout
    assert "warm re-scan <= 0.10x cold:" in r.stdout and "load average" in r.stdout
    assert "cold scan: median of 3 samples (" in r.stdout and "extra cold sample" not in r.stdout
    assert (repo.head(), repo.status()) == before  # the measured tree is never touched


def test_label_agreement_scores_a_second_labeller_and_mlscan_like_the_corpus_scorer(tmp_path):
    import json

    import yaml
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import label_agreement as la
    finally:
        sys.path.pop(0)

    def entry(repo, labels, level):
        ev = {k: {"label": labels.get(k, "no"), "where": [], "why": ""} for k in la.KINDS}
        return {"repo": repo, "commit": "a" * 40, "evidence": ev, "expected_levels": {"overall": level}}
    first = [entry("o/one", {"seed_control": "yes", "ci": "partial"}, 2), entry("o/two", {"seed_control": "yes"}, 3),
             entry("o/only-first", {}, 1)]
    second = [entry("o/one", {"seed_control": "partial", "ci": "no"}, 3), entry("o/two", {"seed_control": "yes"}, 3)]
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(first))
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(second))
    evaluation = {"per_repo": [{"repo": r, "status": {k: ["?", "absent"] for k in la.KINDS}, "level": [0, 1]}
                               for r in ("o/one", "o/two")]}
    (tmp_path / "eval.json").write_text(json.dumps(evaluation))
    out = tmp_path / "out.json"
    assert la.main([str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml"), "--eval", str(tmp_path / "eval.json"),
                    "--json", str(out)]) == 0
    got = json.loads(out.read_text())
    assert got["repos"] == ["o/one", "o/two"]
    human = got["second labeller vs first"]
    assert (human["score"]["exact"], human["score"]["total"]) == (24, 26)   # seed yes->partial, ci partial->no
    assert human["score"]["per_practice"]["seed_control"]["balanced_f1"] == 1.0   # both have evidence
    import pytest
    # ci: one "has evidence" missed (F1+ 0), one "no evidence" of two found (F1- 2/3)
    assert human["score"]["per_practice"]["ci"]["balanced_f1"] == pytest.approx(0.5 * (0 + 2 / 3), abs=1e-3)
    assert human["level_mae"] == 0.5
    tool = got["mlscan vs first labeller"]
    assert tool["score"]["per_practice"]["seed_control"]["exact"] == 0 and tool["level_mae"] == 1.5


def test_where_check_counts_references_and_names_only_the_bad_ones(tmp_path):
    import yaml
    repo = make_fixture_repo("dvc-mlflow-fastapi", tmp_path / "work")
    mirror = tmp_path / "mirror" / "owner+name" / "repo"
    subprocess.run(["git", "clone", "--quiet", "--bare", str(repo.root), str(mirror)], check=True)
    tracked = subprocess.run(["git", "-C", str(repo.root), "ls-files", "*.py"], capture_output=True, text=True,
                             check=True).stdout.split()[0]
    lines = (repo.root / tracked).read_text(encoding="utf-8").count("\n") + 1
    labels = [{"repo": "owner/name", "commit": repo.head(), "evidence": {
        "seed_control": {"label": "yes", "where": [f"{tracked}:1-{lines}", tracked, f"{tracked}#cell 2"]},
        "ci": {"label": "no", "where": ["no/such/file.py:3", f"{tracked}:{lines + 50}"]}}}]
    (tmp_path / "labels.yaml").write_text(yaml.safe_dump(labels), encoding="utf-8")
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "where_check.py"), str(tmp_path / "labels.yaml"),
                        "--mirror", str(tmp_path / "mirror")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stderr
    assert r.stdout.splitlines()[0] == "5 references, 2 bad"
    assert "no/such/file.py  (missing at the commit)" in r.stdout
    assert f"{tracked}  (line past the end)" in r.stdout
    assert "label" not in r.stdout.lower().replace("labels.yaml", "")  # counts and paths only


def test_round_breadth_calls_a_change_broad_only_when_its_gains_span_sets(tmp_path):
    import json

    import yaml

    def report(**status):
        return json.dumps({"practices": [{"id": k.replace("_", "-"), "status": v} for k, v in status.items()]})

    before, after = tmp_path / "before", tmp_path / "after"
    before.mkdir()
    after.mkdir()
    sets = {}
    # tracking gains in three sets (set-c nets one) and loses once; ci gains twice, both in one set
    for n, (set_name, label, was, now) in enumerate([
            ("set-a", "partial", "absent", "partial"), ("set-b", "yes", "absent", "present"),
            ("set-c", "partial", "absent", "partial"), ("set-c", "no", "absent", "partial"),
            ("set-c", "partial", "absent", "present"), ("set-c", "partial", "absent", "partial")]):
        repo = f"acme/t{n}"
        sets.setdefault(set_name, []).append({"repo": repo, "evidence": {
            "experiment_tracking": {"label": label}, "ci": {"label": "yes"}}})
        ci_now = "present" if set_name == "set-a" else "absent"
        (before / f"acme+t{n}.json").write_text(report(experiment_tracking=was, ci="absent"))
        (after / f"acme+t{n}.json").write_text(report(experiment_tracking=now, ci=ci_now))
    sets["set-a"].append({"repo": "acme/gone", "evidence": {"ci": {"label": "no"}}})
    files = []
    for name, entries in sets.items():
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(entries))
        files.append(str(tmp_path / f"{name}.yaml"))
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "round_breadth.py"), *files, "--before", str(before),
                        "--after", str(after), "--json", str(tmp_path / "out.json")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    out = json.loads((tmp_path / "out.json").read_text())
    tracking, ci = out["verdicts"]["experiment_tracking"], out["verdicts"]["ci"]
    assert (tracking["gains"], tracking["losses"], tracking["shifts"]) == (4, 1, 1)
    assert tracking["sets_gaining"] == ["set-a", "set-b", "set-c"] and tracking["verdict"] == "broad"
    assert (ci["gains"], ci["sets_gaining"], ci["verdict"]) == (1, ["set-a"], "narrow")
    assert out["missing"] == ["acme/gone"]
    assert "shift experiment_tracking" in r.stdout and "set-c" in r.stdout


def test_level_fit_scores_each_set_with_cut_points_fitted_on_the_others(tmp_path):
    import json

    import yaml
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import level_fit as lf
    finally:
        sys.path.pop(0)
    practices = lf.PRACTICES
    every = {p: "present" for p in practices}
    assert lf.level_of(every, lf.CURRENT_WEIGHTS, lf.CURRENT_CUTS) == 5   # everything present
    half = dict(every, ml_tests="absent", ci="absent", experiment_tracking="absent")   # 10 of 16 points
    assert lf.level_of(half, lf.CURRENT_WEIGHTS, lf.CURRENT_CUTS) == 3
    assert lf.level_of(dict(half, payload_logging="not-applicable"), {}, (0.5, 0.7, 0.9)) == 3   # 9 of 12
    assert abs(lf.spearman([1, 2, 3], [3, 2, 1]) + 1) < 1e-9 and abs(lf.spearman([1, 1, 2], [1, 2, 3]) - 0.866) < 1e-3

    # three sets whose level is 1 + the number of practices present among the first three; mlscan's
    # reports miss one of them in set-b, so its statuses score lower there than the labels do
    (tmp_path / "reports").mkdir()
    files = []
    for set_name in ("set-a", "set-b", "set-c"):
        entries = []
        for n in range(4):
            statuses = {p: ("yes" if i < n else "no") for i, p in enumerate(practices)}
            repo = f"acme/{set_name}-{n}"
            entries.append({"repo": repo, "evidence": {p: {"label": s} for p, s in statuses.items()},
                            "expected_levels": {"overall": 1 + min(n, 3)}})
            found = {p: ("present" if s == "yes" else "absent") for p, s in statuses.items()}
            if set_name == "set-b" and n == 3:
                found[practices[0]] = "absent"
            (tmp_path / "reports" / f"acme+{set_name}-{n}.json").write_text(json.dumps(
                {"practices": [{"id": p.replace("_", "-"), "status": s} for p, s in found.items()]}))
        (tmp_path / f"{set_name}.yaml").write_text(yaml.safe_dump(entries))
        files.append(str(tmp_path / f"{set_name}.yaml"))
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "level_fit.py"), *files, "--reports",
                        str(tmp_path / "reports"), "--json", str(tmp_path / "out.json")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "12 repos in 3 sets; 0 without a kept report" in r.stdout
    out = json.loads((tmp_path / "out.json").read_text())
    refit = out["current weights, cuts refitted"]
    # n present of 13 practices (one weighing 2 at n = 3): the fitted cuts separate 0, 1, 2 and 3
    assert refit["labels"]["mae"] == 0.0 and refit["labels"]["rho"] == 1.0
    assert refit["folds"]["set-b"]["mlscan"]["mae"] == 0.25 and refit["folds"]["set-a"]["mlscan"]["mae"] == 0.0
    current = out["current (tests, CI, tracking 2; cuts 0.20/0.50/0.80)"]
    assert current["labels"]["mae"] > 0   # 3 of 13 in place is not level 4 under the current cut points
