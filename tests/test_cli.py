"""The command line: catalogue commands, generated docs, [tool.mlscan] config, policy and exit codes."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlscan.catalogue import load_catalogue
from mlscan.docs import catalogue_markdown
from mlscan.rulekit import all_rules

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, cwd=None):
    r = subprocess.run([sys.executable, "-m", "mlscan", *args], capture_output=True, text=True, cwd=cwd)
    return r.returncode, r.stdout, r.stderr


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "train.py").write_text(
        "import numpy as np\nfrom sklearn.svm import SVC\n\n"
        "def main():\n    np.random.seed(0)\n    SVC().fit(np.random.rand(4, 2), [0, 1, 0, 1])\n\n"
        "if __name__ == '__main__':\n    main()\n")
    (tmp_path / "requirements.txt").write_text("numpy==1.26.4\nscikit-learn==1.5.1\n")
    return tmp_path


def test_generated_docs_are_fresh():
    doc = ROOT / "docs" / "rules.md"
    assert doc.read_text() == catalogue_markdown(), \
        "docs/rules.md is stale: run `mlscan rules --format markdown > docs/rules.md`"


def test_rules_lists_every_practice_and_rule():
    rc, out, _ = run("rules", "--format", "json")
    assert rc == 0
    data = json.loads(out)
    assert [p["id"] for p in data] == load_catalogue().practice_ids
    listed = {r["id"] for p in data for r in p["rules"]}
    assert listed == {r.id for r in all_rules()}
    rc, out, _ = run("rules")
    assert rc == 0 and "seed-control" in out


def test_explain_practice_and_rule():
    rc, out, _ = run("explain", "seed-control")
    assert rc == 0 and "How to add it" in out and "seed-calls" in out
    rc, out, _ = run("explain", "seed-calls")
    assert rc == 0 and "practice: seed-control" in out
    rc, _, err = run("explain", "no-such-thing")
    assert rc == 2 and "no practice or rule" in err


def test_ignore_with_reason_is_shown_and_select_limits(repo: Path):
    (repo / "pyproject.toml").write_text(
        '[tool.mlscan]\nignore = { drift-monitoring = "batch scoring only" }\nhistory-depth = 10\n')
    rc, out, _ = run("scan", str(repo), "--format", "json")
    assert rc == 0
    practices = {p["id"]: p for p in json.loads(out)["practices"]}
    assert practices["drift-monitoring"]["ignored"] == "batch scoring only"
    assert "batch scoring only" in practices["drift-monitoring"]["reason"]
    rc, out, _ = run("scan", str(repo), "--format", "json", "--select", "seed-control")
    practices = {p["id"]: p for p in json.loads(out)["practices"]}
    assert practices["seed-control"]["status"] == "present"
    assert practices["ci"]["status"] == "unknown" and practices["ci"]["reason"] == "not selected"


@pytest.mark.parametrize("toml,needle", [
    ('[tool.mlscan]\nbogus = 1\n', "unknown key"),
    ('[tool.mlscan]\nfail-under = "train=9"\n', "level from 1 to 5"),
    ('[tool.mlscan]\nselect = ["no-such-practice"]\n', "unknown id"),
    ('[tool.mlscan]\nmodel = "../../etc/passwd"\n', "outside the repository"),
])
def test_config_errors_exit_2_with_a_clear_message(repo: Path, toml: str, needle: str):
    (repo / "pyproject.toml").write_text(toml)
    rc, out, err = run("scan", str(repo), "--format", "json")
    assert rc == 2 and needle in err and "Traceback" not in err and out == ""


def test_broken_pyproject_in_scanned_repo_is_not_a_usage_error(repo: Path):
    (repo / "pyproject.toml").write_text("[tool.mlscan\nbroken")
    rc, out, _ = run("scan", str(repo), "--format", "json")
    assert rc == 0
    assert any(d["path"] == "pyproject.toml" for d in json.loads(out)["diagnostics"])


def test_explicit_config_file(repo: Path, tmp_path_factory):
    cfg = tmp_path_factory.mktemp("cfg") / "mlscan.toml"
    cfg.write_text('[tool.mlscan]\nignore = ["ci"]\n')
    rc, out, _ = run("scan", str(repo), "--format", "json", "--config", str(cfg))
    assert rc == 0
    assert {p["id"]: p for p in json.loads(out)["practices"]}["ci"]["ignored"] == "no reason given"
    bad = cfg.with_name("bad.toml")
    bad.write_text("x = [")
    rc, _, err = run("scan", str(repo), "--config", str(bad))
    assert rc == 2 and "not valid TOML" in err


def test_fail_under_overall_and_stage(repo: Path):
    rc, out, err = run("scan", str(repo), "--format", "json", "--fail-under", "5")
    assert rc == 1 and "policy not met" in err
    report = json.loads(out)
    assert report["policy"]["fail_under"]["met"] is False
    rc, _, _ = run("scan", str(repo), "--format", "json", "--fail-under", "1")
    assert rc == 0
    rc, _, err = run("scan", str(repo), "--format", "json", "--fail-under", "train=5")
    assert rc == 1 and "train level" in err
    rc, _, err = run("scan", str(repo), "--fail-under", "nonsense=2")
    assert rc == 2 and "unknown stage" in err


def test_usage_errors_exit_2(tmp_path: Path):
    assert run("scan", str(tmp_path / "missing"))[0] == 2
    assert run("scan", str(tmp_path), "--format", "yaml")[0] == 2
    assert run("--no-such-flag")[0] == 2


def test_no_progress_noise_when_stderr_is_not_a_tty(repo: Path):
    rc, out, err = run("scan", str(repo), "--format", "json")
    assert rc == 0 and err == ""


def test_terminal_output_and_output_file(repo: Path, tmp_path_factory):
    rc, out, _ = run("scan", str(repo))
    assert rc == 0 and "Overall maturity level" in out and "seed-control" in out
    flat = " ".join(out.split())
    report = json.loads(run("scan", str(repo), "--format", "json")[1])
    assert f"{report['level']} / 5 (breadth)" in flat and f"why: {report['overall']['reason']}" in flat
    assert "depth, per stage" in flat and all(f"{k} {v}" in flat for k, v in report["overall"]["stage_levels"].items())
    target = tmp_path_factory.mktemp("o") / "report.md"
    rc, out, _ = run("scan", str(repo), "--format", "markdown", "-o", str(target))
    assert rc == 0 and out == "" and "mlscan" in target.read_text()


def test_a_repeated_long_reason_is_printed_in_full_once(repo: Path):
    # no serving code: four practices and two stages share the reason and its list of what was looked for
    report = json.loads(run("scan", str(repo), "--format", "json")[1])
    reason = next(p["reason"] for p in report["practices"] if p["id"] == "train-serve-parity")
    head, looked_for = reason.split(" (", 1)
    sharing = [p["id"] for p in report["practices"] if p["reason"] == reason]
    assert len(sharing) >= 3, sharing
    rc, out, _ = run("scan", str(repo), "--no-progress")
    flat = " ".join(out.replace("│", " ").split())
    assert rc == 0 and flat.count(" ".join(looked_for.split())[:40]) == 1
    assert flat.count(f"{head} (as above)") >= len(sharing) - 1
    rc, out, _ = run("scan", str(repo), "--verbose")
    flat = " ".join(out.replace("│", " ").split())
    assert flat.count(" ".join(looked_for.split())[:40]) >= len(sharing) and "(as above)" not in out


def test_graph_export(repo: Path):
    rc, out, _ = run("graph", str(repo), "--format", "json")
    data = json.loads(out)
    ids = {n["id"] for n in data["nodes"]}
    assert "mod:train.py" in ids and "def:train.py:main" in ids
    assert any(e["kind"] == "calls" and e["target"] == "def:train.py:main" for e in data["edges"])
    rc, out, _ = run("graph", str(repo), "--format", "dot")
    assert rc == 0 and out.startswith("digraph mlscan")


def test_default_command_is_scan(repo: Path):
    a = run(str(repo), "--format", "json")
    b = run("scan", str(repo), "--format", "json")
    assert a[0] == b[0] == 0 and a[1] == b[1]


def test_github_annotations_escape_repo_text():
    from mlscan.report.github import render_github
    from mlscan.report.model import Finding, Report
    report = Report("0", "/r", None, 1, [], [], [], findings=[
        Finding("ci", "ci", "we:ird,dir/a.py", 3, "100% sure\n::error::injected", "note", "x"),
        Finding("seed-control", "seed-control", "train.py", 1, "Random seeds: not found.", "warning", "y")])
    lines = render_github(report).splitlines()
    assert lines[0].startswith("::warning file=train.py,line=1,title=mlscan%3A seed-control::")
    assert lines[1] == "::notice file=we%3Aird%2Cdir/a.py,line=3,title=mlscan%3A ci::100%25 sure%0A::error::injected"
    assert len(lines) == 2


def test_render_reproduces_every_format_from_saved_json(repo: Path, tmp_path_factory):
    saved = tmp_path_factory.mktemp("r") / "report.json"
    assert run("scan", str(repo), "--format", "json", "-o", str(saved))[0] == 0
    for fmt in ("json", "markdown", "sarif", "github"):
        direct = run("scan", str(repo), "--format", fmt)[1]
        rendered = run("render", str(saved), "--format", fmt)[1]
        assert direct == rendered, fmt
    bad = saved.with_name("bad.json")
    bad.write_text('{"schema_version": 99}')
    rc, _, err = run("render", str(bad))
    assert rc == 2 and "not a readable mlscan JSON report" in err


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, __import__("click").exceptions.Abort])
def test_ctrl_c_during_a_scan_exits_130_not_the_policy_code(repo: Path, monkeypatch, capsys, interrupt):
    import mlscan.engine
    from mlscan.cli import main

    def interrupted(*args, **kwargs):
        raise interrupt()
    monkeypatch.setattr(mlscan.engine, "scan", interrupted)
    monkeypatch.setattr(sys, "argv", ["mlscan", "scan", str(repo), "--no-cache"])
    with pytest.raises(SystemExit) as stopped:
        main()
    assert stopped.value.code == 130
    assert "interrupted" in capsys.readouterr().err


def test_entry_point_keeps_exit_codes(repo: Path, monkeypatch):
    import mlscan.cli
    from mlscan.cli import main
    # `scan` ends the process without interpreter teardown (os._exit): not this test's process
    monkeypatch.setattr(mlscan.cli, "_exit_without_teardown", lambda code: sys.exit(code))
    monkeypatch.setattr(mlscan.cli, "_QUICK_EXIT", False)
    for argv, expected in ((["scan", str(repo), "--no-cache", "--format", "json"], 0),
                           (["scan", str(repo), "--bogus-flag"], 2),
                           (["scan", str(repo / "missing")], 2),
                           (["--version"], 0)):
        monkeypatch.setattr(sys, "argv", ["mlscan", *argv])
        with pytest.raises(SystemExit) as stopped:
            main()
        assert (stopped.value.code or 0) == expected, argv
