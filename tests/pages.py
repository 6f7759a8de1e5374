"""Fleet and history documents assembled from real scan reports, in the shapes `mlscan fleet` and
`mlscan history` write, so the HTML pages can be tested on real data before those commands land.

`python tests/pages.py OUTDIR` scans the fixtures and writes scan.html, fleet.html and history.html
(the pictures in docs/img/ are screenshots of them).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gitrepo import BASE_EPOCH, GitRepo, copy_fixture, git, run_mlscan  # noqa: E402

from mlscan.fleet.commits import events  # noqa: E402



def scan_json(root: Union[str, Path]) -> Dict[str, Any]:
    rc, out, err = run_mlscan(["scan", root, "--format", "json", "--no-progress"])
    assert rc == 0, err[-1500:]
    return json.loads(out)


def fleet_document(entries: Sequence[Tuple[str, str, Optional[Dict[str, Any]], Optional[str]]]) -> Dict[str, Any]:
    """entries: (name, source, report or None, error or None) -> the fleet JSON."""
    first = next(r for _, _, r, _ in entries if r is not None)
    stages = [{"id": s["id"], "name": s["name"]} for s in first["stages"]]
    practices = [{"id": p["id"], "title": p["title"], "stage": p["stage"]} for p in first["practices"]]
    adoption = {p["id"]: {s: 0 for s in ("present", "partial", "absent", "not-applicable", "unknown")}
                for p in practices}
    levels = {str(level): 0 for level in range(1, 6)}
    repos: List[Dict[str, Any]] = []
    for name, source, report, error in entries:
        if report is None:
            repos.append({"name": name, "source": source, "commit": None, "status": "error", "error": error,
                          "report": None, "level": None, "stages": {}, "practices": {}})
            continue
        repos.append({"name": name, "source": source, "commit": report["commit"], "status": "ok", "error": None,
                      "report": f"reports/{name}.json", "level": report["level"],
                      "stages": {s["id"]: s["level"] for s in report["stages"]},
                      "practices": {p["id"]: p["status"] for p in report["practices"]}})
        levels[str(report["level"])] += 1
        for p in report["practices"]:
            adoption[p["id"]][p["status"]] += 1
    return {"schema_version": 1, "tool": {"name": "mlscan", "version": first["tool"]["version"]},
            "stages": stages, "practices": practices, "repos": repos,
            "summary": {"adoption": adoption, "levels": levels, "repos": len(repos),
                        "failed": sum(1 for r in repos if r["status"] != "ok")}}


def history_document(repo: str, scans: Sequence[Tuple[str, str, str, Dict[str, Any]]]) -> Dict[str, Any]:
    """scans: (commit, ISO date, subject, report) oldest first -> the history JSON."""
    commits = [{"commit": c, "date": d, "subject": s, "level": r["level"], "stages": r["stages"],
                "practices": r["practices"]} for c, d, s, r in scans]
    return {"schema_version": 1, "tool": {"name": "mlscan", "version": scans[0][3]["tool"]["version"]},
            "repo": repo, "commits": commits, "events": events(commits)}


def grow_history_repo(root: Path) -> Tuple[GitRepo, List[Tuple[str, str, str, Dict[str, Any]]]]:
    """A repository that matures over four commits, then loses practices, scanned at each commit.
    Commits are a week or more apart so that the dates read like a project's."""
    repo = GitRepo.init(root)
    scans: List[Tuple[str, str, str, Dict[str, Any]]] = []
    staging = root.parent / (root.name + "-fixtures")
    for name in ("notebook-only", "scripted-seeded", "dvc-mlflow-fastapi"):
        copy_fixture(name, staging / name)

    def add(fixture: str, rels: Sequence[str]) -> None:
        for rel in rels:
            src = staging / fixture / rel
            for f in [src] if src.is_file() else sorted(p for p in src.rglob("*") if p.is_file()):
                repo.write(f.relative_to(staging / fixture).as_posix(), f.read_bytes())

    def commit_and_scan(subject: str, days: int) -> None:
        repo.git("add", "-A")
        git(repo.root, "commit", "-q", "--no-verify", "-m", subject, when=BASE_EPOCH + days * 86_400)
        sha = repo.head()
        date = repo.git("show", "-s", "--format=%cI", sha).strip()
        scans.append((sha, date, subject, scan_json(root)))

    add("notebook-only", ["01_explore_loans.ipynb", "02_default_model.ipynb", "README.md"])
    commit_and_scan("Explore the loan data in notebooks", 0)
    add("scripted-seeded", ["train.py", "data.py", "model.py", "utils.py", "config.yaml", "requirements.txt"])
    commit_and_scan("Move training into seeded scripts with a config", 9)
    add("scripted-seeded", ["tests", "requirements-dev.txt", "scripts", ".github"])
    commit_and_scan("Add tests and CI", 23)
    add("dvc-mlflow-fastapi", ["dvc.yaml", "dvc.lock", ".dvc", "data", "MODEL_CARD.md", "src", "serve",
                               "monitoring", "Dockerfile", "params.yaml"])
    commit_and_scan("Version data with DVC, serve with FastAPI, watch drift", 41)
    repo.write("utils.py", "def set_seeds(seed: int) -> None:\n    pass\n")
    repo.write("requirements.txt", "numpy\npandas\nPyYAML\ntorch\n")
    commit_and_scan("Loosen requirements and stub out seeding", 55)
    return repo, scans


def write_pages(out: Path, work: Path) -> Dict[str, Path]:
    """Scan the fixtures and write the three pages into `out` (fleet reports under out/reports/)."""
    from mlscan.report.html import files_base, render_fleet, render_history, render_scan
    from mlscan.report.model import report_from_json
    from conftest import build_fixture_repo

    out.mkdir(parents=True, exist_ok=True)
    (out / "reports").mkdir(exist_ok=True)
    entries = []
    for name in ("dvc-mlflow-fastapi", "scripted-seeded", "serving-skew", "seed-added", "notebook-only",
                 "bad-inputs"):
        repo = build_fixture_repo(name, work / name)
        report = scan_json(repo.root)
        (out / "reports" / f"{name}.json").write_text(json.dumps(report), encoding="utf-8")
        entries.append((name, f"fixtures/{name}", report, None))
    entries.append(("archived-forecasting", "https://example.invalid/archived-forecasting", None,
                    "clone failed: repository not found"))
    fleet = fleet_document(entries)
    mature = entries[0][2]
    pages = {"scan": out / "scan.html", "fleet": out / "fleet.html", "history": out / "history.html"}
    pages["scan"].write_text(render_scan(report_from_json(mature), files=files_base(mature["root"], out)),
                             encoding="utf-8")
    pages["fleet"].write_text(render_fleet(fleet), encoding="utf-8")
    repo, scans = grow_history_repo(work / "churn-model")
    pages["history"].write_text(render_history(history_document(str(repo.root), scans)), encoding="utf-8")
    (out / "fleet.json").write_text(json.dumps(fleet, indent=1), encoding="utf-8")
    return pages


if __name__ == "__main__":
    target = Path(sys.argv[1]).resolve()
    for kind, path in write_pages(target, target / "repos").items():
        print(kind, path)
