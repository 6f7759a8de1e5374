"""Run the composite action's steps for real (bash, git, mlscan) against a fake GitHub runner.

Two kinds of test live here:

* ``real`` tests drive the installed mlscan (the package under test) through the action, on a
  git repo whose pull request adds ``torch.manual_seed(0)``;
* ``fake`` tests swap in a small contract-following fake mlscan (``action_harness.FAKE_MLSCAN``)
  to pin down the action's own control flow: argument passing, errors, fork/comment logic,
  shallow checkouts and size caps.

The install step is replaced by one that points at the mlscan under test, except in
``test_real_install_step``, which runs it as written.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from action_harness import (ROOT, evaluate, evaluate_if, fake_mlscan_install_script, interpolate,
                            load_action, parse_file_commands, run_action,
                            use_installed_mlscan_script)
from toy_repos import commit_files, git, init_repo, make_pr_repo

MARKER = "<!-- mlscan-report -->"


def pr_event(base: str, head: str, *, head_repo: str = "acme/ml", base_repo: str = "acme/ml",
             number: int = 7) -> dict:
    return {
        "action": "synchronize",
        "number": number,
        "pull_request": {
            "number": number,
            "base": {"sha": base, "ref": "main", "repo": {"full_name": base_repo}},
            "head": {"sha": head, "ref": "feature", "repo": {"full_name": head_repo}},
        },
        "repository": {"full_name": base_repo},
    }


@pytest.fixture
def pr_repo(tmp_path):
    repo = tmp_path / "ws"
    shas = make_pr_repo(repo)
    return repo, shas


def run_real(tmp_path, repo, event, **kw):
    return run_action(workspace=repo, tmp=tmp_path / "gh", event=event,
                      replace_run={"install": use_installed_mlscan_script()}, **kw)


def run_fake(tmp_path, repo, event, **kw):
    extra = {"FAKE_MLSCAN_LOG": str(tmp_path / "mlscan-calls.jsonl"), **kw.pop("extra_env", {})}
    return run_action(workspace=repo, tmp=tmp_path / "gh", event=event, extra_env=extra,
                      replace_run={"install": fake_mlscan_install_script(tmp_path / "fake")},
                      **kw)


def mlscan_calls(tmp_path) -> list:
    log = tmp_path / "mlscan-calls.jsonl"
    if not log.exists():
        return []
    return [json.loads(line)["argv"] for line in log.read_text().splitlines()]


def writes(run) -> list:
    """The comment-writing gh calls (POST/PATCH)."""
    return [c for c in run.gh_calls if "--method" in c["argv"]]


# --------------------------------------------------------------------------- harness self-checks

def test_expression_subset():
    ctx = {"inputs": {"sarif": "true", "fail-under": ""},
           "github": {"event": {"pull_request": {"base": {"sha": "abc"}}}, "token": "t"},
           "steps": {"scan": {"outputs": {"level": "2"}}}, "env": {}, "runner": {}}
    assert evaluate("inputs.sarif == 'true'", ctx) is True
    assert evaluate("inputs.sarif == 'TRUE'", ctx) is True  # GitHub compares strings case-insensitively
    assert evaluate("inputs.fail-under != ''", ctx) is False
    assert evaluate("!inputs.fail-under && inputs.sarif", ctx) == "true"
    assert evaluate("github.event.pull_request.head.sha", ctx) is None
    assert evaluate("steps.scan.outputs.level == 2", ctx) is True
    assert interpolate("${{ github.event.pull_request.base.sha }}", ctx) == "abc"
    assert interpolate("${{ github.event.push.before }}", ctx) == ""
    assert evaluate_if("inputs.sarif == 'true'", ctx, job_failed=True) is False
    assert evaluate_if("always() && inputs.sarif == 'true'", ctx, job_failed=True) is True
    with pytest.raises(ValueError):
        evaluate("fromJSON(inputs.sarif)", ctx)
    with pytest.raises(ValueError):
        evaluate("secrets.TOKEN", ctx)


def test_parse_file_commands(tmp_path):
    f = tmp_path / "out"
    f.write_text("a=1\nb<<EOF\nx\ny=z\nEOF\nc=\n")
    assert parse_file_commands(f) == {"a": "1", "b": "x\ny=z", "c": ""}


def test_action_only_uses_the_expression_subset_the_harness_knows():
    """Every expression in action.yml parses with the harness (it raises on anything else)."""
    action = load_action()
    ctx = {"inputs": {}, "github": {}, "steps": {}, "env": {}, "runner": {}}
    texts = [spec.get("default", "") for spec in action["inputs"].values()]
    texts += [spec["value"] for spec in action["outputs"].values()]
    for step in action["runs"]["steps"]:
        texts += [str(v) for v in (step.get("env") or {}).values()]
        texts += [str(v) for v in (step.get("with") or {}).values()]
        if "if" in step:
            evaluate_if(step["if"], ctx, job_failed=False)
    for text in texts:
        interpolate(text, ctx)


# --------------------------------------------------------------------------- real mlscan

def test_pr_scan_writes_summary_and_level(tmp_path, pr_repo):
    repo, shas = pr_repo
    run = run_real(tmp_path, repo, pr_event(shas["base"], shas["head"]))
    assert run.returncode == 0, run.log
    level = run.outputs["level"]
    assert level.isdigit(), run.outputs
    report = json.loads(Path(run.outputs["report-json"]).read_text())
    assert report["level"] == int(level)
    assert "delta" in report, "the PR base was not passed as --base"
    markdown = (Path(run.outputs["report-json"]).parent / "mlscan.md").read_text()
    assert markdown.strip() and markdown.strip() in run.summary
    assert run.step("summary").summary == run.summary  # only the summary step writes it
    annotations = [ln for ln in run.log.splitlines() if ln.startswith(("::warning file=", "::notice file="))]
    assert annotations, "findings were not annotated"
    assert all(",line=" in ln and ",title=mlscan%3A " in ln for ln in annotations)
    # defaults: the fact cache kept between runs; no comment, no SARIF, no gate
    assert run.gh_calls == []
    (cache,) = run.uses_run
    assert cache.uses.startswith("actions/cache@")
    from mlscan import __version__
    assert cache.with_["key"].startswith(f"mlscan-facts-Linux-{__version__}-"), cache.with_
    assert cache.with_["restore-keys"].strip() == f"mlscan-facts-Linux-{__version__}-"
    assert (Path(cache.with_["path"]) / "facts-v1.sqlite").is_file(), "the scan did not use the cache folder"
    assert not run.step("Apply fail-under").ran


def test_fail_under_fails_after_summary_and_comment(tmp_path, pr_repo):
    repo, shas = pr_repo
    first = run_real(tmp_path / "first", repo, pr_event(shas["base"], shas["head"]))
    assert first.returncode == 0, first.log
    too_high = str(int(first.outputs["level"]) + 1)
    run = run_real(tmp_path / "second", repo, pr_event(shas["base"], shas["head"]),
                   inputs={"fail-under": too_high, "comment": "true"})
    assert run.returncode == 1, run.log
    failing = [s for s in run.steps if s.ran and s.returncode]
    assert [s.name for s in failing] == ["Apply fail-under"], run.log
    assert "::error title=mlscan::" in failing[0].stdout
    assert "Policy not met" in run.summary and run.summary.strip()
    assert len(writes(run)) == 1 and MARKER in writes(run)[0]["input"]


def test_fail_under_met_passes(tmp_path, pr_repo):
    repo, shas = pr_repo
    run = run_real(tmp_path, repo, pr_event(shas["base"], shas["head"]), inputs={"fail-under": "1"})
    assert run.returncode == 0, run.log
    assert run.step("Apply fail-under").ran and run.step("Apply fail-under").returncode == 0


def test_bad_fail_under_is_a_usage_error(tmp_path, pr_repo):
    repo, shas = pr_repo
    run = run_real(tmp_path, repo, pr_event(shas["base"], shas["head"]),
                   inputs={"fail-under": "train=x", "comment": "true"})
    assert run.returncode == 2, run.log
    assert "failed with exit status 2" in run.summary
    assert run.gh_calls == [] and not run.step("Apply fail-under").ran


def test_comment_posted_once_with_marker_same_repo(tmp_path, pr_repo):
    repo, shas = pr_repo
    run = run_real(tmp_path, repo, pr_event(shas["base"], shas["head"]), inputs={"comment": "true"})
    assert run.returncode == 0, run.log
    lists = [c for c in run.gh_calls if "--method" not in c["argv"]]
    assert len(lists) == 1 and "repos/acme/ml/issues/7/comments" in lists[0]["argv"]
    (post,) = writes(run)
    assert post["argv"][:4] == ["api", "--method", "POST", "repos/acme/ml/issues/7/comments"]
    assert post["token_set"]
    body = json.loads(post["input"])["body"]
    assert body.startswith(MARKER + "\n") and body.count(MARKER) == 1
    assert body.replace(MARKER, "").strip() == run.summary.replace(MARKER, "").strip()


def test_suggest_fixes_adds_the_diff_to_summary_and_comment(tmp_path, pr_repo):
    repo, shas = pr_repo
    run = run_real(tmp_path, repo, pr_event(shas["base"], shas["head"]),
                   inputs={"suggest-fixes": "true", "comment": "true"})
    assert run.returncode == 0, run.log
    assert run.step("fixes").ran and run.step("fixes").returncode == 0
    assert "<b>mlscan fix</b>: suggested changes" in run.summary
    assert "```diff\ndiff --git a/MODEL_CARD.md b/MODEL_CARD.md\n" in run.summary
    (post,) = writes(run)
    body = json.loads(post["input"])["body"]
    assert "+++ b/MODEL_CARD.md" in body
    assert subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True).stdout == ""
    default = run_real(tmp_path / "default", repo, pr_event(shas["base"], shas["head"]))
    assert not default.step("fixes").ran and "mlscan fix" not in default.summary
    fork = run_real(tmp_path / "fork", repo, pr_event(shas["base"], shas["head"], head_repo="mallory/ml"),
                    inputs={"suggest-fixes": "true", "comment": "true"})
    assert fork.returncode == 0 and fork.gh_calls == [], "a fork PR must not get a token-backed comment"
    assert "+++ b/MODEL_CARD.md" in fork.summary


def test_comment_skipped_on_fork_pr(tmp_path, pr_repo):
    repo, shas = pr_repo
    run = run_real(tmp_path, repo, pr_event(shas["base"], shas["head"], head_repo="mallory/ml"),
                   inputs={"comment": "true"})
    assert run.returncode == 0, run.log
    assert run.gh_calls == []
    assert "fork" in run.step("Comment on the pull request").stdout


def test_sarif_upload_only_when_enabled(tmp_path, pr_repo):
    repo, shas = pr_repo
    event = pr_event(shas["base"], shas["head"])
    off = run_real(tmp_path / "off", repo, event)
    assert off.returncode == 0, off.log
    assert not off.step("sarif").ran and [s.name for s in off.uses_run] == ["Restore the fact cache"]

    on = run_real(tmp_path / "on", repo, event, inputs={"sarif": "true", "cache": "false"})
    assert on.returncode == 0, on.log
    (upload,) = on.uses_run  # no cache step with cache: false
    assert upload.uses.startswith("github/codeql-action/upload-sarif@")
    assert upload.with_["category"] == "mlscan"
    sarif = json.loads(Path(upload.with_["sarif_file"]).read_text())
    assert sarif["version"] == "2.1.0"
    assert len(sarif["runs"]) == 1  # GitHub rejects several runs of one tool and category


# --------------------------------------------------------------------------- real install step

def _copy_project(dst: Path) -> Path:
    ignore = shutil.ignore_patterns(".git", "*.egg-info", "__pycache__", "build", "dist",
                                    ".pytest_cache", ".venv", "tests")
    shutil.copytree(ROOT, dst, ignore=ignore)
    return dst


def test_real_install_step(tmp_path, pr_repo):
    """The install step as written: a venv under RUNNER_TEMP, mlscan from the action path."""
    repo, shas = pr_repo
    action_copy = _copy_project(tmp_path / "action")  # pip may build in-tree; keep ROOT clean
    started = time.monotonic()
    run = run_action(workspace=repo, tmp=tmp_path / "gh", event=pr_event(shas["base"], shas["head"]),
                     action_path=action_copy)
    elapsed = time.monotonic() - started
    install = run.step("install")
    assert install.returncode == 0, run.log
    venv_mlscan = Path(install.outputs["mlscan"])
    assert venv_mlscan.is_file() and str(venv_mlscan).startswith(str(tmp_path / "gh" / "runner_temp"))
    proc = subprocess.run([install.outputs["python"], "-I", "-c",
                           "import mlscan, sys; sys.stdout.write(mlscan.__file__)"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0 and str(tmp_path / "gh" / "runner_temp") in proc.stdout, proc.stderr
    assert run.returncode == 0, run.log
    assert run.outputs["level"].isdigit()
    print(f"real install + scan took {elapsed:.1f}s")


def test_version_input_is_validated(tmp_path, pr_repo):
    repo, shas = pr_repo
    run = run_action(workspace=repo, tmp=tmp_path / "gh", event=pr_event(shas["base"], shas["head"]),
                     inputs={"version": "0.1; touch pwned"})
    assert run.returncode == 2
    assert "plain version" in run.step("install").stdout
    assert not (repo / "pwned").exists() and not Path("pwned").exists()
    assert [s.name for s in run.steps if s.ran] == ["Install mlscan"]


# --------------------------------------------------------------------------- fake mlscan

def test_inputs_reach_mlscan_literally(tmp_path):
    """Inputs travel through env:, so shell metacharacters are data, not code."""
    repo = init_repo(tmp_path / "ws")
    base = commit_files(repo, {"a.py": "x = 1\n"}, "base")
    weird = "sub dir $(touch pwned) `id`"
    head = commit_files(repo, {f"{weird}/train.py": "import torch\ntorch.manual_seed(0)\n"}, "head")
    run = run_fake(tmp_path, repo, pr_event(base, head),
                   inputs={"path": weird, "fail-under": "train=1,data=0"})
    assert run.returncode == 0, run.log
    assert not list(repo.rglob("pwned")) and not Path("pwned").exists()
    calls = mlscan_calls(tmp_path)
    scans = [argv for argv in calls if argv[0] == "scan"]
    assert len(scans) == 1, "the repo is scanned once; other views are rendered from the JSON report"
    assert scans[0][:3] == ["scan", weird, "--no-progress"]
    assert f"--base={base}" in scans[0] and "--fail-under=train=1,data=0" in scans[0]
    assert "--format=json" in scans[0]
    renders = [argv for argv in calls if argv[0] == "render"]
    assert {a for c in renders for a in c if a.startswith("--format=")} == {"--format=markdown", "--format=github"}
    assert all(c[1].endswith("mlscan.json") for c in renders)
    assert run.outputs["level"] == "1"


def test_path_that_looks_like_an_option_stays_a_path(tmp_path):
    repo = init_repo(tmp_path / "ws")
    base = commit_files(repo, {"--select=X/a.py": "x = 1\n"}, "base")
    run = run_fake(tmp_path, repo, pr_event(base, base), inputs={"path": "--select=X"})
    assert run.returncode == 0, run.log
    assert all(argv[1] == "./--select=X" for argv in mlscan_calls(tmp_path) if argv[0] == "scan")


def test_no_base_outside_pull_requests(tmp_path, pr_repo):
    repo, shas = pr_repo
    run = run_fake(tmp_path, repo, {"ref": "refs/heads/main", "after": shas["head"]},
                   event_name="push", inputs={"comment": "true"})
    assert run.returncode == 0, run.log
    assert all(not a.startswith("--base") for argv in mlscan_calls(tmp_path) for a in argv)
    assert run.gh_calls == []  # not a PR: nothing to comment on
    assert "Not a pull request" in run.step("Comment on the pull request").stdout


def test_base_as_a_branch_name_is_resolved_to_a_sha(tmp_path, pr_repo):
    repo, shas = pr_repo
    git(repo, "branch", "base-branch", shas["base"])
    run = run_fake(tmp_path, repo, pr_event(shas["base"], shas["head"]), inputs={"base": "base-branch"})
    assert run.returncode == 0, run.log
    assert run.step("base").outputs["base"] == shas["base"]


def test_base_branch_only_on_origin_is_fetched(tmp_path):
    origin = tmp_path / "origin"
    shas = make_pr_repo(origin)
    git(origin, "branch", "release", shas["base"])
    clone = tmp_path / "ws"
    git(tmp_path, "clone", "-q", "--single-branch", str(origin), str(clone))
    run = run_fake(tmp_path, clone, pr_event(shas["base"], shas["head"]), inputs={"base": "release"})
    assert run.returncode == 0, run.log
    assert run.step("base").outputs["base"] == shas["base"]
    assert f"--base={shas['base']}" in mlscan_calls(tmp_path)[0]


def test_option_like_base_is_refused(tmp_path, pr_repo):
    repo, shas = pr_repo
    run = run_fake(tmp_path, repo, pr_event(shas["base"], shas["head"]),
                   inputs={"base": "--upload-pack=touch pwned"})
    assert run.returncode == 2
    assert not list(tmp_path.rglob("pwned"))


def test_comment_updates_the_existing_comment(tmp_path, pr_repo):
    repo, shas = pr_repo
    run = run_fake(tmp_path, repo, pr_event(shas["base"], shas["head"]), inputs={"comment": "true"},
                   extra_env={"FAKE_GH_LIST_OUTPUT": "12345\n67890\n"})
    assert run.returncode == 0, run.log
    (patch,) = writes(run)
    assert patch["argv"][:4] == ["api", "--method", "PATCH", "repos/acme/ml/issues/comments/12345"]
    assert json.loads(patch["input"])["body"].startswith(MARKER)


def test_comment_skipped_on_fork_and_when_head_repo_is_gone(tmp_path, pr_repo):
    repo, shas = pr_repo
    fork = run_fake(tmp_path / "fork", repo, pr_event(shas["base"], shas["head"], head_repo="mallory/ml"),
                    inputs={"comment": "true"})
    assert fork.returncode == 0 and fork.gh_calls == []
    event = pr_event(shas["base"], shas["head"])
    event["pull_request"]["head"]["repo"] = None  # deleted fork
    gone = run_fake(tmp_path / "gone", repo, event, inputs={"comment": "true"})
    assert gone.returncode == 0 and gone.gh_calls == []


def test_marker_is_not_doubled_when_the_report_has_it(tmp_path, pr_repo):
    repo, shas = pr_repo
    md = tmp_path / "report.md"
    md.write_text(MARKER + "\n### mlscan: level 1\n", encoding="utf-8")
    run = run_fake(tmp_path, repo, pr_event(shas["base"], shas["head"]), inputs={"comment": "true"},
                   extra_env={"FAKE_MLSCAN_MARKDOWN_FILE": str(md)})
    body = json.loads(writes(run)[0]["input"])["body"]
    assert body == MARKER + "\n### mlscan: level 1\n"


def test_comment_failure_does_not_fail_the_job(tmp_path, pr_repo):
    repo, shas = pr_repo
    run = run_fake(tmp_path, repo, pr_event(shas["base"], shas["head"]), inputs={"comment": "true"},
                   extra_env={"FAKE_GH_EXIT": "1"})
    assert run.returncode == 0, run.log
    assert "::warning title=mlscan::" in run.step("Comment on the pull request").stdout


def test_comment_capped_at_65536_characters(tmp_path, pr_repo):
    repo, shas = pr_repo
    big = tmp_path / "big.md"
    big.write_text("é" * 70000, encoding="utf-8")  # characters, not bytes, are what GitHub counts
    run = run_fake(tmp_path, repo, pr_event(shas["base"], shas["head"]), inputs={"comment": "true"},
                   extra_env={"FAKE_MLSCAN_MARKDOWN_FILE": str(big)})
    assert run.returncode == 0, run.log
    body = json.loads(writes(run)[0]["input"])["body"]
    assert len(body) <= 65536 and body.startswith(MARKER) and "truncated" in body
    assert "https://github.com/acme/ml/actions/runs/4242" in body


def test_summary_capped_at_one_mebibyte(tmp_path, pr_repo):
    repo, shas = pr_repo
    big = tmp_path / "big.md"
    big.write_text("€" * 600000, encoding="utf-8")  # 1.8 MB of UTF-8
    run = run_fake(tmp_path, repo, pr_event(shas["base"], shas["head"]),
                   extra_env={"FAKE_MLSCAN_MARKDOWN_FILE": str(big)})
    assert run.returncode == 0, run.log
    data = run.step("summary").summary.encode("utf-8")
    assert len(data) <= 1024 * 1024 and b"truncated" in data
    data.decode("utf-8")  # cut on a character boundary


def test_fail_under_with_fake_writes_everything_first(tmp_path, pr_repo):
    repo, shas = pr_repo
    run = run_fake(tmp_path, repo, pr_event(shas["base"], shas["head"]),
                   inputs={"fail-under": "train=3", "comment": "true", "sarif": "true"},
                   extra_env={"FAKE_MLSCAN_LEVEL": "2"})
    assert run.returncode == 1
    ran = [s.name for s in run.steps if s.ran]
    assert ran[-1] == "Apply fail-under" and run.steps[-1].returncode == 1
    assert "Upload SARIF" in ran and len(writes(run)) == 1
    assert "Policy not met" in run.summary and "train=3" in run.summary
    assert run.outputs["level"] == "2"


def test_scan_error_fails_with_status_2_and_says_so(tmp_path, pr_repo):
    repo, shas = pr_repo
    run = run_fake(tmp_path, repo, pr_event(shas["base"], shas["head"]), inputs={"comment": "true"},
                   extra_env={"FAKE_MLSCAN_RC": "2"})
    assert run.returncode == 2
    assert "failed with exit status 2" in run.summary
    assert run.gh_calls == [] and not run.step("Apply fail-under").ran


def test_exit_1_without_fail_under_is_an_error(tmp_path, pr_repo):
    repo, shas = pr_repo
    run = run_fake(tmp_path, repo, pr_event(shas["base"], shas["head"]),
                   extra_env={"FAKE_MLSCAN_RC": "1"})
    # exit 1 is reserved for an unmet fail-under; anything else is an error (2)
    assert run.returncode == 2 and run.step("scan").returncode == 2
    assert "failed with exit status 1" in run.summary


def test_workflow_commands_printed_by_the_scan_are_fenced(tmp_path, pr_repo):
    """Text from the scanned repo must not act as a workflow command (e.g. ::set-output)."""
    repo, shas = pr_repo
    run = run_fake(tmp_path, repo, pr_event(shas["base"], shas["head"]),
                   extra_env={"FAKE_MLSCAN_STDOUT": "::set-output name=level::99"})
    assert run.returncode == 0, run.log
    out = run.step("scan").stdout.splitlines()
    start = next(i for i, l in enumerate(out) if l.startswith("::stop-commands::"))
    token = out[start].split("::stop-commands::", 1)[1]
    assert len(token) > 20
    injected = out.index("::set-output name=level::99")
    resume = out.index(f"::{token}::")
    assert start < injected < resume


def test_shallow_checkout_fetches_the_base(tmp_path):
    origin = tmp_path / "origin"
    shas = make_pr_repo(origin)
    git(origin, "config", "uploadpack.allowAnySHA1InWant", "true")
    clone = tmp_path / "ws"
    git(tmp_path, "clone", "-q", "--depth=1", f"file://{origin}", str(clone))
    assert git(clone, "rev-parse", "--is-shallow-repository") == "true"
    run = run_fake(tmp_path, clone, pr_event(shas["base"], shas["head"]))
    assert run.returncode == 0, run.log
    assert run.step("base").outputs["base"] == shas["base"]
    assert "Shallow checkout" not in run.summary


def test_shallow_checkout_without_base_is_named_in_the_summary(tmp_path):
    origin = tmp_path / "origin"
    shas = make_pr_repo(origin)
    clone = tmp_path / "ws"
    git(tmp_path, "clone", "-q", "--depth=1", f"file://{origin}", str(clone))
    missing = "0123456789abcdef0123456789abcdef01234567"
    run = run_fake(tmp_path, clone, pr_event(missing, shas["head"]))
    assert run.returncode == 0, run.log
    assert run.step("base").outputs["base"] == ""
    assert "Shallow checkout" in run.summary and missing in run.summary
    assert "fetch-depth: 0" in run.summary
    assert "::warning title=mlscan::Shallow checkout" in run.step("base").stdout
    assert all(not a.startswith("--base") for argv in mlscan_calls(tmp_path) for a in argv)


def test_missing_base_in_full_clone_is_reported(tmp_path, pr_repo):
    repo, shas = pr_repo
    missing = "0123456789abcdef0123456789abcdef01234567"
    run = run_fake(tmp_path, repo, pr_event(missing, shas["head"]))
    assert run.returncode == 0, run.log
    assert "could not be found" in run.summary and "Shallow" not in run.summary
