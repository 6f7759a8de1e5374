"""HTML pages (scan, fleet, history): their charts and links, escaping of repo-derived text, and that
they open with no network access. Real scans of real git repos; fleet and history documents are
assembled from real reports in the shapes `mlscan fleet` / `mlscan history` write (tests/pages.py)."""
from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import tempfile
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Dict, List, Optional, Tuple
from urllib.parse import unquote, urlsplit

import pytest

from gitrepo import BASE_EPOCH, GitRepo, git, make_fixture_repo, run_mlscan
from pages import fleet_document, history_document, scan_json
from mlscan.report.html import relative_href, render_fleet, render_history, render_scan
from mlscan.report.model import report_from_json

HOSTILE_DIR_FILE = "<script>alert(1)</script>.py"      # a folder "<script>alert(1)<" holding "script>.py"
HOSTILE_SCHEME_FILE = "javascript:alert(1).py"
HOSTILE_STAGE = "<img src=x onerror=alert(1)>"
TRAINING = ("import numpy as np\nfrom sklearn.linear_model import LogisticRegression\n\n"
            "np.random.seed(0)\nX = np.load('data/x.npy')\nLogisticRegression().fit(X, X[:, 0] > 0)\n")


# ---- reading a page ----------------------------------------------------------------------------
class Page(HTMLParser):
    """Every element with its attributes, the text inside each chart, and the links."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.elements: List[Tuple[str, Dict[str, Optional[str]]]] = []
        self.links: List[Tuple[str, str]] = []   # (href, link text)
        self.charts: Dict[str, List[str]] = {}    # data-chart -> text inside its SVG
        self.chart_links: Dict[str, List[str]] = {}
        self.text: List[str] = []
        self._chart: Optional[str] = None
        self._depth = 0
        self._link: Optional[List[str]] = None
        self._href = ""
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.elements.append((tag, attributes))
        if tag == "figure" and attributes.get("data-chart"):
            self._chart = attributes["data-chart"]
            self.charts[self._chart] = []
            self.chart_links[self._chart] = []
            self._depth = 0
        if self._chart is not None:
            self._depth += tag == "figure"
            if tag == "a":
                self.chart_links[self._chart].append(attributes.get("xlink:href") or attributes.get("href") or "")
        elif tag == "a" and attributes.get("href") is not None:
            self._link, self._href = [], attributes["href"]

    def handle_endtag(self, tag):
        if self._chart is not None and tag == "figure":
            self._depth -= 1
            if self._depth <= 0:
                self._chart = None
        if tag == "a" and self._link is not None:
            self.links.append((self._href, "".join(self._link)))
            self._link = None

    def handle_data(self, data):
        if self._chart is not None:
            self.charts[self._chart].append(data)
        elif self._link is not None:
            self._link.append(data)
        self.text.append(data)

    def chart_text(self, name: str) -> str:
        return " ".join(" ".join(self.charts[name]).split())

    def tags(self, name: str) -> List[Dict[str, Optional[str]]]:
        return [a for t, a in self.elements if t == name]


def assert_loads_nothing(page: Page) -> None:
    """No script at all, no event handler, and nothing fetched from anywhere: only links point out."""
    assert not page.tags("script") and not page.tags("iframe") and not page.tags("object")
    for tag, attrs in page.elements:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        for name in ("src", "srcset", "data", "poster", "background"):
            assert name not in attrs or str(attrs[name]).startswith("data:"), (tag, attrs)
        if tag in ("link", "image", "use", "feimage"):
            ref = attrs.get("href") or attrs.get("xlink:href") or ""
            assert ref.startswith(("#", "data:")), (tag, attrs)
        for name in ("href", "xlink:href"):
            assert not str(attrs.get(name) or "").strip().lower().startswith(("javascript:", "data:text", "vbscript:"))
    csp = [a for a in page.tags("meta") if a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in csp[0]["content"]


def resolves(page_dir: Path, href: str) -> Path:
    """The local file a relative link opens."""
    parts = urlsplit(href)
    assert not parts.scheme and not parts.netloc, href
    return (page_dir / unquote(parts.path)).resolve()


# ---- one scan ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mature(tmp_path_factory):
    """The mature fixture scanned to JSON, and to site/scan.html by `mlscan scan --format html -o`."""
    base = tmp_path_factory.mktemp("html-scan")
    repo = make_fixture_repo("dvc-mlflow-fastapi", base / "repo")
    rc, _, err = run_mlscan(["scan", repo.root, "--format", "html", "-o", base / "site" / "scan.html",
                             "--no-progress"])
    assert rc == 0, err[-1500:]
    return repo, scan_json(repo.root), base


def test_scan_page_shows_the_ladder_the_evidence_links_and_the_next_steps(mature):
    repo, report, base = mature
    out = base / "site" / "scan.html"
    text = out.read_text(encoding="utf-8")
    page = Page(text)
    assert_loads_nothing(page)

    ladder = page.chart_text("ladder")
    for stage in report["stages"]:
        assert stage["name"] in ladder
        assert f"#stage-{stage['id']}" in page.chart_links["ladder"]
        assert page.tags("h2") and any(a.get("id") == f"stage-{stage['id']}" for a in page.tags("h2"))
        label = f"{stage['level']} · " if stage["level"] is not None else "n/a"
        assert label in ladder
    assert f"Level {report['level']}/5" in text
    # what the overall number measures, and why it is what it is, beside the ladder
    assert f"overall ({report['overall']['measure']})" in text
    assert html.escape(report["overall"]["reason"], quote=True) in text

    evidence = [(e["path"], e["line"]) for p in report["practices"] for e in p["evidence"]]
    assert len(evidence) > 20
    links = dict((label, href) for href, label in page.links)
    for path, line in evidence:
        label = f"{path}:{line}" if line else path
        assert label in links, label
        href = links[label]
        assert resolves(out.parent, href) == (repo.root / path).resolve(), (label, href)
        assert (repo.root / path).exists()
        if line:
            assert href.endswith(f"#L{line}")

    assert report["next_steps"]
    steps = text.split('id="next-steps"', 1)[1].split("</ol>", 1)[0]
    for step in report["next_steps"]:
        assert step["title"] in steps


def test_render_of_the_saved_json_gives_the_same_page(mature):
    _, report, base = mature
    saved = base / "report.json"
    saved.write_text(json.dumps(report), encoding="utf-8")
    rc, _, err = run_mlscan(["render", saved, "--format", "html", "-o", base / "site" / "again.html"])
    assert rc == 0, err[-1500:]
    first = (base / "site" / "scan.html").read_text(encoding="utf-8")
    assert "<svg" in first and first == (base / "site" / "again.html").read_text(encoding="utf-8")


def test_scan_page_leads_with_the_delta_and_the_policy(tmp_path):
    repo = make_fixture_repo("seed-added", tmp_path / "seed-added")
    repo.apply_overlay("seed-added")
    repo.commit("Seed every RNG")
    rc, out, err = run_mlscan(["scan", repo.root, "--base", "HEAD~1", "--fail-under", "5", "--format", "json"])
    assert rc == 1, err[-1500:]
    report = json.loads(out)
    assert report["delta"]["summary"] and report["policy"]["fail_under"]["met"] is False
    text = render_scan(report_from_json(report))
    changed = text.split("<h2>What changed</h2>", 1)[1].split("</ul>", 1)[0]
    for line in report["delta"]["summary"]:
        assert f"<li>{escape(line)}</li>" in changed
    assert f"Policy not met (fail-under overall&gt;=5): {escape(report['policy']['fail_under']['message'])}" in text
    assert text.index("What changed") < text.index('data-chart="ladder"')


def test_hostile_names_and_messages_are_text_not_markup(tmp_path):
    repo = GitRepo.init(tmp_path / "evil")
    repo.write(HOSTILE_DIR_FILE, TRAINING)
    repo.write(HOSTILE_SCHEME_FILE, TRAINING.replace("np.random.seed(0)", "import torch\ntorch.manual_seed(0)"))
    repo.write("dvc.yaml", f'stages:\n  "{HOSTILE_STAGE}":\n    cmd: python train.py\n    outs:\n      - model.pkl\n')
    repo.commit("<b>init</b>")
    report = scan_json(repo.root)
    cited = {e["path"] for p in report["practices"] for e in p["evidence"]}
    messages = " ".join(e["message"] for p in report["practices"] for e in p["evidence"])
    assert {HOSTILE_DIR_FILE, HOSTILE_SCHEME_FILE} <= cited and HOSTILE_STAGE in messages  # the scan cites them

    out = tmp_path / "evil.html"
    rc, _, err = run_mlscan(["scan", repo.root, "--format", "html", "-o", out, "--no-progress"])
    assert rc == 0, err[-1500:]
    text = out.read_text(encoding="utf-8")
    page = Page(text)
    assert_loads_nothing(page)
    assert not page.tags("img") and not page.tags("b")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.py" in text and "&lt;img src=x onerror=alert(1)&gt;" in text
    links = dict((label, href) for href, label in page.links)
    scheme_link = next(href for label, href in links.items() if label.startswith(HOSTILE_SCHEME_FILE))
    assert not urlsplit(scheme_link).scheme and resolves(out.parent, scheme_link) == (repo.root / HOSTILE_SCHEME_FILE)
    dir_link = next(href for label, href in links.items() if label.startswith(HOSTILE_DIR_FILE))
    assert resolves(out.parent, dir_link) == (repo.root / HOSTILE_DIR_FILE)

    # Printed from inside the repo, links carry no prefix: the bare file name must still not be a scheme.
    saved = tmp_path / "evil.json"
    saved.write_text(json.dumps(report), encoding="utf-8")
    rc, text, err = run_mlscan(["render", saved, "--format", "html"], cwd=repo.root)
    assert rc == 0, err[-1500:]
    page = Page(text)
    assert_loads_nothing(page)
    bare = next(href for href, label in page.links if label.startswith(HOSTILE_SCHEME_FILE))
    assert bare.startswith("javascript%3Aalert") and resolves(repo.root, bare) == repo.root / HOSTILE_SCHEME_FILE


def test_links_are_relative_paths_whatever_the_file_is_called():
    assert relative_href("../r/", "javascript:alert(1).py", 3) == "../r/javascript%3Aalert%281%29.py#L3"
    assert relative_href("", "a b/<x>.py") == "a%20b/%3Cx%3E.py"
    assert relative_href("", "//evil.example/x.py", 1) == "evil.example/x.py#L1"


# ---- a fleet -----------------------------------------------------------------------------------
FLEET = ("dvc-mlflow-fastapi", "scripted-seeded", "serving-skew", "notebook-only")
FAILED = ("archived-<b>forecast</b>", "clone failed: <script>alert('x')</script> not found")


@pytest.fixture(scope="module")
def fleet_dir(scanned, tmp_path_factory):
    """fleet.json with reports/<name>.json beside it (and one reports/<name>.html), like `mlscan fleet`."""
    base = tmp_path_factory.mktemp("html-fleet") / "fleet-run"
    (base / "reports").mkdir(parents=True)
    entries = []
    for name in FLEET:
        report = scanned(name).report
        (base / "reports" / f"{name}.json").write_text(json.dumps(report), encoding="utf-8")
        entries.append((name, f"https://example.invalid/{name}.git", report, None))
    entries.append((FAILED[0], "https://example.invalid/archived.git", None, FAILED[1]))
    (base / "reports" / f"{FLEET[0]}.html").write_text("<p>per-repo page</p>", encoding="utf-8")
    fleet = fleet_document(entries)
    (base / "fleet.json").write_text(json.dumps(fleet), encoding="utf-8")
    return base, fleet


def test_fleet_page_has_heatmap_adoption_levels_and_links_to_each_report(fleet_dir, tmp_path):
    base, fleet = fleet_dir
    out = tmp_path / "site" / "fleet.html"
    rc, _, err = run_mlscan(["render", base / "fleet.json", "--format", "html", "-o", out])
    assert rc == 0, err[-1500:]
    text = out.read_text(encoding="utf-8")
    page = Page(text)
    assert_loads_nothing(page)

    heatmap = page.chart_text("heatmap")
    for stage in fleet["stages"]:
        assert stage["name"].split()[0] in heatmap
    for repo in fleet["repos"]:
        assert repo["name"] in heatmap
    adoption = page.chart_text("adoption")
    for practice in fleet["practices"]:
        assert practice["title"] in adoption
    assert {"present", "partial", "absent", "not-applicable", "unknown"} <= set(adoption.split())
    levels = page.chart_text("levels")
    assert all(f"{n}" in levels.split() for n in fleet["summary"]["levels"].values())

    links = dict((label, href) for href, label in page.links)
    for name in FLEET:
        target = resolves(out.parent, links[name])
        assert target.is_file(), links[name]
        assert target.name == (f"{name}.html" if name == FLEET[0] else f"{name}.json")
        assert links[name] in page.chart_links["heatmap"]
    assert FAILED[0] not in links
    assert "archived-&lt;b&gt;forecast&lt;/b&gt;" in text and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text
    assert not page.tags("b")
    failed_row = text.split("archived-&lt;b&gt;forecast&lt;/b&gt;</td>", 1)[1].split("</tr>", 1)[0]
    assert "status-error" in failed_row and "not found" in failed_row


def test_fleet_of_a_thousand_repos_stays_a_page(fleet_dir):
    """Page size, not time: a thousand repos give one heatmap image, not a thousand labels."""
    _, fleet = fleet_dir
    ok = [r for r in fleet["repos"] if r["status"] == "ok"]
    big = dict(fleet, repos=[dict(ok[i % len(ok)], name=f"team-{i:04d}", report=f"reports/team-{i:04d}.json")
                             for i in range(1000)])
    big["summary"] = dict(fleet["summary"], repos=1000, failed=0)
    text = render_fleet(big)
    page = Page(text)
    assert len(text) < 1_500_000, len(text)
    assert "team-0999" not in page.chart_text("heatmap") and "1000 repositories" in page.chart_text("heatmap")
    assert sum(1 for href, _ in page.links if href.startswith("reports/team-")) == 1000


def test_fleet_and_history_render_only_as_html(fleet_dir):
    base, _ = fleet_dir
    rc, out, err = run_mlscan(["render", base / "fleet.json", "--format", "markdown"])
    assert rc == 2 and not out and "fleet" in err and "--format html" in err and len(err.strip().splitlines()) == 1


# ---- history -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """seed-added: no seeds, then seeds added, then a commit that drops them again."""
    base = tmp_path_factory.mktemp("html-history")
    repo = make_fixture_repo("seed-added", base / "repo", message="Random-forest churn model")
    scans = []

    def record(subject: str) -> None:
        sha = repo.head()
        scans.append((sha, repo.git("show", "-s", "--format=%cI", sha).strip(), subject, scan_json(repo.root)))

    record("Random-forest churn model")
    repo.apply_overlay("seed-added")
    subject = "Seed every RNG <script>alert(2)</script>"
    repo.git("add", "-A")
    git(repo.root, "commit", "-q", "-m", subject, when=BASE_EPOCH + 20 * 86_400)
    record(subject)
    first = scans[0][0]
    repo.git("checkout", first, "--", ".")
    git(repo.root, "commit", "-q", "-m", "Revert seeding", when=BASE_EPOCH + 41 * 86_400)
    record("Revert seeding")
    doc = history_document(str(repo.root), scans)
    (base / "history.json").write_text(json.dumps(doc), encoding="utf-8")
    return base, doc


def test_history_page_marks_arrivals_and_losses_over_time(history, tmp_path):
    base, doc = history
    kinds = {(e["practice"], e["kind"]) for e in doc["events"]}
    assert {("seed-control", "arrived"), ("seed-control", "regressed")} <= kinds
    out = tmp_path / "history.html"
    rc, _, err = run_mlscan(["render", base / "history.json", "--format", "html", "-o", out])
    assert rc == 0, err[-1500:]
    text = out.read_text(encoding="utf-8")
    page = Page(text)
    assert_loads_nothing(page)
    timeline = page.chart_text("timeline")
    for commit in doc["commits"]:
        assert commit["commit"][:7] in timeline and commit["date"][:10] in timeline
    assert "seed-control" in timeline and "+" in timeline and "\u2212" in timeline
    assert "practices arrived" in timeline and "practices lost" in timeline
    for stage in doc["commits"][-1]["stages"]:
        assert stage["name"] in timeline
    events = text.split('id="events"', 1)[1].split("</table>", 1)[0]
    assert events.count("<tr>") == len(doc["events"]) + 1
    assert "kind-arrived" in events and "kind-regressed" in events
    assert "Seed every RNG &lt;script&gt;alert(2)&lt;/script&gt;" in text


def test_pages_are_deterministic(history, fleet_dir, mature):
    _, doc = history
    _, fleet = fleet_dir
    _, report, _ = mature
    assert render_history(doc) == render_history(json.loads(json.dumps(doc)))
    assert render_fleet(fleet) == render_fleet(json.loads(json.dumps(fleet)))
    assert render_scan(report_from_json(report)) == render_scan(report_from_json(json.loads(json.dumps(report))))


# ---- imports and the extra ---------------------------------------------------------------------
def test_plain_scan_never_imports_matplotlib(tmp_path):
    repo = GitRepo.init(tmp_path / "r")
    repo.write("train.py", TRAINING)
    repo.commit("init")
    rc, _, err = run_mlscan(["scan", repo.root, "--format", "json"], env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert rc == 0 and "import time:" in err
    assert "matplotlib" not in err and "numpy" not in err
    rc, _, err = run_mlscan(["scan", repo.root, "--format", "html"], env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert rc == 0 and "matplotlib.figure" in err  # the measurement sees it when it is imported


def test_missing_extra_is_one_line_usage_error(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "matplotlib.py").write_text("raise ImportError(\"No module named 'matplotlib'\")\n")
    repo = GitRepo.init(tmp_path / "r")
    repo.write("train.py", TRAINING)
    repo.commit("init")
    env = {"PYTHONPATH": os.pathsep.join([str(blocker), os.environ.get("PYTHONPATH", "")])}
    for args in (["scan", repo.root, "--format", "html"], ["render", tmp_path / "r.json", "--format", "html"]):
        (tmp_path / "r.json").write_text("{}", encoding="utf-8")
        rc, out, err = run_mlscan(args, env=env)
        assert rc == 2 and not out, (args, rc, err)
        assert err.strip().count("\n") == 0 and "pip install 'mlscan[html]'" in err, err
        assert "Traceback" not in err


# ---- in a browser, offline -----------------------------------------------------------------------
def chromium() -> Optional[str]:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(chromium() is None, reason="no chromium on this machine")
def test_pages_open_in_a_browser_without_network(mature, fleet_dir, history, tmp_path):
    _, report, _ = mature
    _, fleet = fleet_dir
    _, doc = history
    pages = {"ladder": render_scan(report_from_json(report)), "heatmap": render_fleet(fleet),
             "timeline": render_history(doc)}
    for chart, text in pages.items():
        path = tmp_path / f"{chart}.html"
        path.write_text(text, encoding="utf-8")
        with tempfile.TemporaryDirectory() as profile:
            proc = subprocess.run(
                [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", f"--user-data-dir={profile}",
                 "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",  # any fetch would fail
                 "--dump-dom", path.as_uri()],
                capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)
        dom = proc.stdout
        assert proc.returncode == 0 and "</html>" in dom, proc.stderr[-1500:]
        figure = re.search(rf'<figure class="chart" data-chart="{chart}".*?</figure>', dom, re.S)
        assert figure and "<svg" in figure.group(0) and "<text" in figure.group(0), chart
