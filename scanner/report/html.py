"""HTML pages that work offline: one scan, a fleet of repositories, the history of one repository.

Charts are drawn with matplotlib as SVG and written into the page, so a page carries no script,
loads nothing and needs no network: its Content-Security-Policy forbids fetching anything at all.
Every piece of text that comes from a scanned repository (paths, messages, names, subjects) is
escaped, and links built from it are percent-encoded relative paths, so a hostile file name can
neither inject markup nor become a `javascript:` link.

Renderers only format: levels, statuses and counts (the fleet's adoption and level distribution)
come in the data. matplotlib is imported only here, and only when a page is drawn
(`pip install 'mlscan[html]'`); a plain `mlscan scan` never loads it.
"""
from __future__ import annotations

import html
import io
import os
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import quote, urlsplit

from mlscan import __version__
from mlscan.errors import UsageError
from mlscan.maturity import LEVEL_NAMES
from mlscan.report.model import STATUSES, EvidenceItem, PracticeResult, Report, document_kind

MISSING_EXTRA = "the html format needs matplotlib: pip install 'mlscan[html]'"

# A sequential palette (light to dark) reads as "more" without relying on red/green.
LEVEL_COLORS = {1: "#edf8b1", 2: "#a1dab4", 3: "#41b6c4", 4: "#2c7fb8", 5: "#253494"}
DARK_LEVELS = frozenset({4, 5})  # white text on these
NO_LEVEL_COLOR = "#eceff1"       # not applicable, or no scan
EMPTY_STEP_COLOR = "#f6f7f8"
STATUS_COLORS = {"present": "#2e7d32", "partial": "#f9a825", "absent": "#c62828",
                 "not-applicable": "#9e9e9e", "unknown": "#7e57c2"}
STATUS_MARKS = {"present": "✔", "partial": "◐", "absent": "✘", "not-applicable": "–", "unknown": "?"}
EVENT_COLORS = {"arrived": "#2e7d32", "regressed": "#c62828"}

LABELLED_ROWS = 60      # a fleet heatmap names its repos up to this many rows
ANNOTATED_CELLS = 40    # ... and prints the level in each cell up to this many rows
LABELLED_EVENTS = 12    # a history chart names the practices at its marks up to this many marks
EVIDENCE_SHOWN = 12     # evidence items shown before the rest fold away

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

# Deterministic SVG (fixed ids, no date) with text left as text: searchable, small, and escaped.
MATPLOTLIB_RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": "mlscan",
    "text.parse_math": False,   # a repo called "$x$" is a name, not math
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica"],
    "font.size": 10,
    "axes.edgecolor": "#9aa0a6",
    "axes.labelcolor": "#333333",
    "xtick.color": "#333333",
    "ytick.color": "#333333",
}


class MissingExtra(UsageError):
    """The html extra (matplotlib) is not installed."""


def check_available() -> None:
    """Fail early with one clear line (exit 2) when matplotlib is missing, before any scan runs."""
    _matplotlib()


# ---- escaping and links ------------------------------------------------------------------------
def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def safe_url(url: Any) -> Optional[str]:
    """An external link only when it is plainly http(s); anything else is shown as text."""
    if not isinstance(url, str):
        return None
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url.strip() if scheme in ("http", "https") else None


def relative_href(prefix: str, path: str, line: Optional[int] = None) -> str:
    """`prefix` + the percent-encoded repo path (+ `#Lline`): never a scheme, never markup."""
    anchor = f"#L{int(line)}" if isinstance(line, int) and line > 0 else ""
    return prefix + quote(path.lstrip("/"), safe="/") + anchor


def files_base(root: str, page_dir: Optional[Path] = None) -> str:
    """The prefix that leads from the page's folder to the scanned folder (`../repo/`), so that
    evidence links open the files wherever the page is saved on this machine."""
    return folder_prefix(Path(root), Path.cwd() if page_dir is None else page_dir)


def folder_prefix(target: Path, page_dir: Path) -> str:
    try:
        rel = os.path.relpath(os.path.abspath(target), os.path.abspath(page_dir))
    except ValueError:  # another drive on Windows: absolute file URL instead
        return Path(os.path.abspath(target)).as_uri() + "/"
    if rel == ".":
        return ""
    return quote(Path(rel).as_posix(), safe="/") + "/"


def report_links(fleet: Mapping[str, Any], fleet_dir: Path, page_dir: Path) -> Dict[str, str]:
    """Where each repo's name links in a fleet page: its HTML report when `reports/<name>.html`
    exists beside the JSON one, else the JSON report; paths are relative to the page."""
    prefix = folder_prefix(fleet_dir, page_dir)
    links: Dict[str, str] = {}
    for repo in fleet.get("repos", []):
        report = repo.get("report")
        if not isinstance(report, str) or not report:
            continue
        target = report
        if report.endswith(".json") and (fleet_dir / (report[:-len(".json")] + ".html")).is_file():
            target = report[:-len(".json")] + ".html"
        links[str(repo.get("name"))] = relative_href(prefix, target)
    return links


# ---- charts ------------------------------------------------------------------------------------
def _matplotlib():
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise MissingExtra(f"{MISSING_EXTRA} ({' '.join(str(exc).split())})") from exc
    return matplotlib, Figure


def warm_up() -> None:
    """Import what drawing a chart needs and draw a blank one (fonts, the SVG backend), so that a
    caller with a core to spare (a fleet's last scans) can pay for it before it draws."""
    matplotlib, Figure = _matplotlib()
    with matplotlib.rc_context(MATPLOTLIB_RC):
        fig = Figure(figsize=(1.0, 1.0), layout="constrained")
        ax = fig.add_subplot()
        ax.imshow([[1.0]], cmap=_level_cmap()[0])
        ax.barh([0], [1])
        ax.text(0, 0, "mlscan")
        fig.legend(handles=[], loc="outside lower center")
        _svg(fig)


def _svg(fig: Any) -> str:
    """The figure as an inline <svg> element (no XML prolog, no external DTD)."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": "mlscan"})
    text = buf.getvalue()
    return text[text.index("<svg"):].strip()


def _level_cmap():
    from matplotlib.colors import BoundaryNorm, ListedColormap
    cmap = ListedColormap([LEVEL_COLORS[level] for level in sorted(LEVEL_COLORS)]).with_extremes(bad=NO_LEVEL_COLOR)
    return cmap, BoundaryNorm([0.5, 1.5, 2.5, 3.5, 4.5, 5.5], cmap.N)


def _level_text(level: Optional[int]) -> str:
    return "n/a" if level is None else f"{level} · {LEVEL_NAMES.get(level, '')}"


def ladder_chart(stages: Sequence[Tuple[str, str, Optional[int]]]) -> str:
    """Stages as rows of five steps, filled up to the stage's level; each name links to its section."""
    matplotlib, Figure = _matplotlib()
    from matplotlib.patches import Rectangle
    with matplotlib.rc_context(MATPLOTLIB_RC):
        rows = max(len(stages), 1)
        fig = Figure(figsize=(8.0, 0.46 * rows + 0.8), layout="constrained")
        ax = fig.add_subplot()
        for row, (stage_id, name, level) in enumerate(stages):
            for step in range(1, 6):
                filled = level is not None and step <= level
                ax.add_patch(Rectangle((step - 0.46, row - 0.36), 0.92, 0.72, linewidth=0,
                                       facecolor=LEVEL_COLORS[step] if filled else EMPTY_STEP_COLOR,
                                       hatch=None if level is not None else "////",
                                       edgecolor="#d5d9dd"))
            if level is None:
                ax.text(3, row, "not applicable", ha="center", va="center", color="#5f6368", fontsize=9)
            ax.text(0.42, row, name, ha="right", va="center", url=f"#stage-{stage_id}", color="#1a4f8b")
            ax.text(5.58, row, _level_text(level), ha="left", va="center",
                    fontweight="bold" if level is not None else "normal",
                    color="#202124" if level is not None else "#5f6368")
        ax.set_xlim(0.5, 5.5)
        ax.set_ylim(rows - 0.5, -0.5)
        ax.set_xticks(range(1, 6), [f"{level}\n{LEVEL_NAMES[level]}" for level in range(1, 6)])
        ax.xaxis.tick_top()
        ax.tick_params(length=0)
        ax.set_yticks([])
        for side in ax.spines.values():
            side.set_visible(False)
        return _svg(fig)


def _level_legend(fig: Any) -> None:
    from matplotlib.patches import Patch
    handles = [Patch(facecolor=LEVEL_COLORS[level], label=f"{level} {LEVEL_NAMES[level]}") for level in range(1, 6)]
    handles.append(Patch(facecolor=NO_LEVEL_COLOR, label="n/a"))
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), frameon=False, fontsize=8,
               handlelength=1.2, columnspacing=1.2)


def _cell_separators(ax: Any, columns: int, rows: int) -> None:
    """White lines between cells; rows only while they are few (a thousand grid lines cost seconds)."""
    import numpy as np
    ax.set_xticks(np.arange(-0.5, columns, 1), minor=True)
    if rows <= LABELLED_ROWS:
        ax.set_yticks(np.arange(-0.5, rows, 1), minor=True)
    ax.tick_params(which="minor", length=0)
    ax.grid(which="minor", color="white", linewidth=1.5)
    for side in ax.spines.values():
        side.set_visible(False)


def heatmap_chart(rows: Sequence[Tuple[str, Optional[str], bool]], columns: Sequence[str],
                  levels: Sequence[Sequence[Optional[int]]], row_title: str) -> str:
    """Rows x columns of levels (None: not applicable or not scanned). Rows are (label, link, failed)."""
    import textwrap
    matplotlib, Figure = _matplotlib()
    import numpy as np
    cmap, norm = _level_cmap()
    count = max(len(rows), 1)
    labelled = len(rows) <= LABELLED_ROWS
    grid = np.array([[np.nan if v is None else float(v) for v in line] for line in levels] or [[np.nan] * len(columns)])
    with matplotlib.rc_context(MATPLOTLIB_RC):
        fig = Figure(figsize=(9.0, (0.3 * count + 1.6) if labelled else 9.0), layout="constrained")
        ax = fig.add_subplot()
        ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, norm=norm, aspect="auto", interpolation="none")
        ax.set_xticks(range(len(columns)), [textwrap.fill(c, 13) for c in columns], fontsize=9)
        ax.xaxis.tick_top()
        ax.tick_params(length=0)
        ax.set_yticks([])
        if labelled:
            for y, (label, link, failed) in enumerate(rows):
                ax.text(-0.6, y, label + ("  (error)" if failed else ""), ha="right", va="center", fontsize=9,
                        url=link, color="#c62828" if failed else "#1a4f8b", clip_on=False)
            if len(rows) <= ANNOTATED_CELLS:
                for y, line in enumerate(levels):
                    for x, value in enumerate(line):
                        if value is not None:
                            ax.text(x, y, str(value), ha="center", va="center", fontsize=9,
                                    color="white" if value in DARK_LEVELS else "#202124")
        else:
            ax.set_ylabel(f"{len(rows)} {row_title}, one row each (names in the table below)")
        _cell_separators(ax, len(columns), len(rows))
        _level_legend(fig)
        return _svg(fig)


def adoption_chart(practices: Sequence[Tuple[str, Mapping[str, int]]]) -> str:
    """One stacked bar per practice: how many repos have it present, partial, absent, ..."""
    matplotlib, Figure = _matplotlib()
    with matplotlib.rc_context(MATPLOTLIB_RC):
        count = max(len(practices), 1)
        fig = Figure(figsize=(9.0, 0.27 * count + 1.0), layout="constrained")
        ax = fig.add_subplot()
        ys = list(range(len(practices)))
        left = [0] * len(practices)
        for status in STATUSES:
            widths = [int(counts.get(status, 0) or 0) for _, counts in practices]
            ax.barh(ys, widths, left=left, height=0.72, color=STATUS_COLORS[status], label=status, linewidth=0)
            left = [a + b for a, b in zip(left, widths)]
        ax.set_yticks(ys, [title for title, _ in practices], fontsize=9)
        ax.set_ylim(len(practices) - 0.5, -0.5)
        ax.margins(x=0)
        ax.set_xlabel("repositories")
        ax.xaxis.get_major_locator().set_params(integer=True)
        fig.legend(loc="outside upper center", ncol=len(STATUSES), frameon=False, fontsize=9)
        ax.tick_params(axis="y", length=0)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        return _svg(fig)


def distribution_chart(levels: Mapping[str, int]) -> str:
    """How many repos sit at each overall level."""
    matplotlib, Figure = _matplotlib()
    with matplotlib.rc_context(MATPLOTLIB_RC):
        fig = Figure(figsize=(5.0, 2.8), layout="constrained")
        ax = fig.add_subplot()
        xs = list(range(1, 6))
        counts = [int(levels.get(str(level), 0) or 0) for level in xs]
        bars = ax.bar(xs, counts, color=[LEVEL_COLORS[level] for level in xs], edgecolor="#9aa0a6", linewidth=0.5)
        ax.bar_label(bars, padding=2, fontsize=9)
        ax.set_xticks(xs, [f"{level}\n{LEVEL_NAMES[level]}" for level in xs], fontsize=9)
        ax.set_ylabel("repositories")
        ax.set_ylim(0, max(counts + [1]) * 1.18)
        ax.yaxis.get_major_locator().set_params(integer=True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        return _svg(fig)


def timeline_chart(ticks: Sequence[str], overall: Sequence[int], stage_names: Sequence[str],
                   stage_levels: Sequence[Sequence[Optional[int]]],
                   marks: Sequence[Tuple[int, str, Sequence[str]]]) -> str:
    """The overall level per commit, with a mark where practices arrived or were lost (commit index,
    kind, practice ids), above a stage x commit strip of stage levels."""
    matplotlib, Figure = _matplotlib()
    import numpy as np
    from matplotlib.ticker import FuncFormatter, MaxNLocator
    cmap, norm = _level_cmap()
    n = len(overall)
    strip = max(len(stage_names), 1)
    grid = np.array([[np.nan if v is None else float(v) for v in row] for row in stage_levels] or [[np.nan] * n])
    with matplotlib.rc_context(MATPLOTLIB_RC):
        fig = Figure(figsize=(9.0, 3.4 + 0.26 * strip), layout="constrained")
        top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [2.4, 0.26 * strip]})
        xs = list(range(n))
        top.step(xs, overall, where="post", color="#253494", linewidth=2, zorder=2)
        top.plot(xs, overall, "o", color="#253494", markersize=3 if n > 60 else 5, zorder=3)
        labelled = len(marks) <= LABELLED_EVENTS
        for index, kind, practices in marks:
            up = kind == "arrived"
            color = EVENT_COLORS.get(kind, "#5f6368")
            y = overall[index] + (0.45 if up else -0.45)
            top.plot([index], [y], "^" if up else "v", color=color, markersize=10, zorder=4, linestyle="none")
            if labelled:
                names = list(practices)
                label = ("+" if up else "\u2212") + (", ".join(names) if len(names) <= 2 else
                                                     f"{len(names)}: {names[0]}, {names[1]}, \u2026")
                top.annotate(label, (index, y), xytext=(7, 0), textcoords="offset points", va="center",
                             fontsize=8, color=color)
        top.plot([], [], "^", color=EVENT_COLORS["arrived"], label="practices arrived", linestyle="none")
        top.plot([], [], "v", color=EVENT_COLORS["regressed"], label="practices lost", linestyle="none")
        top.legend(loc="upper left", frameon=False, fontsize=8, ncol=2)
        top.set_ylim(0.2, 6.4)
        top.set_yticks(range(1, 6))
        top.set_ylabel("overall level")
        top.grid(axis="y", color="#e8eaed")
        for side in ("top", "right"):
            top.spines[side].set_visible(False)
        bottom.imshow(np.ma.masked_invalid(grid), cmap=cmap, norm=norm, aspect="auto", interpolation="none",
                      extent=(-0.5, n - 0.5, strip - 0.5, -0.5))
        bottom.set_yticks(range(len(stage_names)), list(stage_names), fontsize=8)
        bottom.tick_params(axis="y", length=0)
        if n <= LABELLED_ROWS:
            _cell_separators(bottom, n, strip)
        else:
            for side in bottom.spines.values():
                side.set_visible(False)
        bottom.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True))
        bottom.xaxis.set_major_formatter(FuncFormatter(lambda x, _: ticks[int(x)] if 0 <= int(x) < n else ""))
        bottom.tick_params(axis="x", labelsize=8)
        bottom.set_xlim(-0.5, n - 0.5)
        _level_legend(fig)
        return _svg(fig)


# ---- page ----------------------------------------------------------------------------------------
STYLE = """
:root { --ink:#202124; --muted:#5f6368; --line:#e0e3e7; --link:#1a4f8b; --bg:#ffffff; --panel:#f8f9fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: var(--ink); background: var(--bg); }
header { padding: 20px 32px 14px; border-bottom: 1px solid var(--line); background: var(--panel); }
header h1 { margin: 0 0 4px; font-size: 22px; }
header .meta { color: var(--muted); font-size: 13px; overflow-wrap: anywhere; }
main { padding: 8px 32px 32px; max-width: 1100px; }
h2 { font-size: 18px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 0; }
a { color: var(--link); }
code { font: 13px/1.4 ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; overflow-wrap: anywhere; }
.chart svg { max-width: 100%; height: auto; display: block; }
.big { display: inline-block; font-size: 28px; font-weight: 700; margin-right: 10px; }
.pill { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600;
        color: #fff; white-space: nowrap; }
.status-present { background: #2e7d32; } .status-partial { background: #f9a825; color: #202124; }
.status-absent { background: #c62828; } .status-not-applicable { background: #9e9e9e; }
.status-unknown { background: #7e57c2; } .status-ok { background: #2e7d32; } .status-error,
.status-timeout { background: #c62828; } .kind-arrived { background: #2e7d32; } .kind-regressed { background: #c62828; }
.level { display: inline-block; min-width: 2.2em; text-align: center; border-radius: 4px; font-weight: 600; }
.l1 { background: #edf8b1; } .l2 { background: #a1dab4; } .l3 { background: #41b6c4; }
.l4 { background: #2c7fb8; color: #fff; } .l5 { background: #253494; color: #fff; } .lna { background: #eceff1; color: #5f6368; }
.practice { border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; margin: 10px 0; }
.practice p { margin: 4px 0; }
.why { color: var(--muted); }
ul.evidence { margin: 6px 0 0; padding-left: 18px; }
ul.evidence li { margin: 2px 0; }
.gap { color: #c62828; font-size: 12px; } .partialkind { color: #8d6e00; font-size: 12px; }
ol.steps li { margin: 6px 0; }
table { border-collapse: collapse; font-size: 14px; margin: 8px 0; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: var(--panel); position: sticky; top: 0; }
td.num, th.num { text-align: center; }
.error { color: #c62828; overflow-wrap: anywhere; }
td code, td.nowrap { white-space: nowrap; }
td.source { min-width: 12em; } td.source code { white-space: normal; overflow-wrap: anywhere; font-size: 12px; color: var(--muted); }
.scroll { overflow-x: auto; }
.grid2 { display: grid; grid-template-columns: minmax(280px, 1fr) minmax(280px, 1fr); gap: 24px; align-items: start; }
.facts { font-size: 15px; } .facts div { margin: 6px 0; }
details > summary { cursor: pointer; color: var(--link); margin: 6px 0; }
footer { color: var(--muted); font-size: 12px; padding: 12px 32px 24px; }
"""


def _page(title: str, header: str, body: List[str]) -> str:
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="referrer" content="no-referrer">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta name="generator" content="mlscan {esc(__version__)}">',
        f"<title>{esc(title)}</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        f"<header>{header}</header>",
        "<main>",
        *body,
        "</main>",
        f"<footer>mlscan {esc(__version__)} · this page loads nothing from the network</footer>",
        "</body>",
        "</html>",
        "",
    ])


def _chart(svg: str, label: str, kind: str) -> str:
    return f'<figure class="chart" data-chart="{esc(kind)}" role="img" aria-label="{esc(label)}">{svg}</figure>'


def _level_cell(level: Any) -> str:
    if isinstance(level, int) and level in LEVEL_COLORS:
        return f'<span class="level l{level}">{level}</span>'
    return '<span class="level lna">n/a</span>'


def _status(status: Any) -> str:
    s = str(status)
    cls = s if s in STATUS_COLORS or s in ("ok", "error", "timeout") else "unknown"
    return f'<span class="pill status-{esc(cls)}">{esc(STATUS_MARKS.get(s, ""))} {esc(s)}</span>'


def _short(commit: Any) -> str:
    return esc(str(commit)[:12]) if commit else ""


def _external(label: str, url: Any) -> str:
    href = safe_url(url)
    return f'<a href="{esc(href)}" rel="noopener noreferrer">{esc(label)}</a>' if href else ""


# ---- one scan ------------------------------------------------------------------------------------
def _evidence_item(item: EvidenceItem, base: str) -> str:
    where = f"{item.path}:{item.line}" if item.line else item.path
    href = relative_href(base, item.path, item.line)
    kind = ""
    if item.kind == "gap":
        kind = ' <span class="gap">counter-evidence</span>'
    elif item.kind == "partial":
        kind = ' <span class="partialkind">partial</span>'
    return (f'<li><a class="evidence" href="{esc(href)}"><code>{esc(where)}</code></a>{kind} '
            f'{esc(item.message)}</li>')


def _practice_card(p: PracticeResult, base: str) -> List[str]:
    out = [f'<article class="practice" id="practice-{esc(p.id)}">',
           f'<h3>{_status(p.status)} {esc(p.title)} <code class="why">{esc(p.id)}</code></h3>']
    if p.reason and (p.status != "present" or not p.evidence):  # present evidence speaks for itself
        out.append(f'<p class="why">{esc(p.reason)}</p>')
    if p.ignored is not None:
        out.append(f'<p class="why">ignored: {esc(p.ignored)}</p>')
    if p.evidence:
        items = [_evidence_item(e, base) for e in p.evidence]
        out.append('<ul class="evidence">' + "".join(items[:EVIDENCE_SHOWN]) + "</ul>")
        if len(items) > EVIDENCE_SHOWN:
            out.append(f"<details><summary>{len(items) - EVIDENCE_SHOWN} more</summary>"
                       f'<ul class="evidence">{"".join(items[EVIDENCE_SHOWN:])}</ul></details>')
    if p.status in ("absent", "partial", "unknown") and p.remediation:
        more = _external("how", p.link)
        out.append(f"<p><strong>To do:</strong> {esc(p.remediation)}{' (' + more + ')' if more else ''}</p>")
    out.append("</article>")
    return out


def _measure(report: Report) -> str:
    measure = (report.overall or {}).get("measure")
    return f" ({esc(measure)})" if measure else ""


def _overall_reason(report: Report) -> List[str]:
    reason = (report.overall or {}).get("reason")
    return [f'<div class="meta">why: {esc(reason)}</div>'] if reason else []


def render_scan(report: Report, files: str = "") -> str:
    """One repository: the ladder per stage, next steps, and each practice with its evidence as
    links. `files` is the prefix from the page to the scanned folder (see `files_base`), or a URL
    such as a GitHub blob base ending in "/"."""
    name = Path(report.root).name or report.root
    stages = [(s.id, s.name, s.level) for s in report.stages]
    header = [f"<h1>mlscan: {esc(name)}</h1>",
              f'<div><span class="big">Level {esc(report.level)}/5</span>'
              f'<span class="why">overall{_measure(report)} · {esc(LEVEL_NAMES.get(report.level, ""))}</span></div>',
              *_overall_reason(report),
              f'<div class="meta"><code>{esc(report.root)}</code>'
              + (f" · commit <code>{_short(report.commit)}</code>" if report.commit else " · no git commit")
              + f" · model <code>{esc(report.model)}</code></div>"]
    body: List[str] = []
    if report.delta:
        summary = report.delta.get("summary") or []
        body.append("<h2>What changed</h2><ul>" + "".join(f"<li>{esc(s)}</li>" for s in summary) + "</ul>")
    fail_under = (report.policy or {}).get("fail_under")
    if isinstance(fail_under, dict):
        met = bool(fail_under.get("met"))
        body.append(f'<p class="{"why" if met else "error"}">Policy {"met" if met else "not met"} '
                    f'(fail-under {esc(fail_under.get("required", ""))}): {esc(fail_under.get("message", ""))}</p>')
    body.append("<h2>Maturity ladder</h2>")
    body.append(_chart(ladder_chart(stages), "maturity level per lifecycle stage", "ladder"))
    stage_names = {s.id: s.name for s in report.stages}
    if report.next_steps:
        body.append('<h2 id="next-steps">Next steps</h2><ol class="steps">')
        for step in report.next_steps:
            more = _external("how", step.link)
            example = f"<br><code>{esc(step.example)}</code>" if step.example else ""
            body.append(f"<li><strong>{esc(step.title)}</strong> "
                        f'<span class="why">({esc(stage_names.get(step.stage, step.stage))})</span>: '
                        f"{esc(step.remediation)}{' (' + more + ')' if more else ''}{example}</li>")
        body.append("</ol>")
    shown = set()
    for stage in report.stages:
        body.append(f'<h2 id="stage-{esc(stage.id)}">{esc(stage.name)} {_level_cell(stage.level)}</h2>')
        if stage.reason:
            body.append(f'<p class="why">{esc(stage.reason)}</p>')
        for p in report.practices:
            if p.stage == stage.id:
                shown.add(p.id)
                body.extend(_practice_card(p, files))
    rest = [p for p in report.practices if p.id not in shown]
    if rest:
        body.append('<h2 id="stage-other">Other practices</h2>')
        for p in rest:
            body.extend(_practice_card(p, files))
    if report.diagnostics:
        body.append(f"<h2>Diagnostics</h2><details><summary>{len(report.diagnostics)} file(s) could not be "
                    "fully read</summary><ul>")
        body.extend(f'<li><a href="{esc(relative_href(files, d.path))}"><code>{esc(d.path)}</code></a> '
                    f"{esc(d.message)}</li>" for d in report.diagnostics)
        body.append("</ul></details>")
    return _page(f"mlscan: {name}", "\n".join(header), body)


# ---- a fleet -------------------------------------------------------------------------------------
def render_fleet(fleet: Mapping[str, Any], links: Optional[Mapping[str, str]] = None) -> str:
    """Many repositories: a stage x repo heatmap, practice adoption, the spread of levels, and a
    table linking each repo to its report. `links` maps repo names to hrefs (see `report_links`);
    without it a repo links to its `report` path as written in the fleet JSON."""
    stages = [(str(s.get("id")), str(s.get("name", s.get("id")))) for s in fleet.get("stages", [])]
    repos = list(fleet.get("repos", []))
    summary = fleet.get("summary", {})
    titles = {str(p.get("id")): str(p.get("title", p.get("id"))) for p in fleet.get("practices", [])}

    def href(repo: Mapping[str, Any]) -> Optional[str]:
        name = str(repo.get("name"))
        if links is not None:
            return links.get(name)
        report = repo.get("report")
        return relative_href("", report) if isinstance(report, str) and report else None

    rows = [(str(r.get("name")), href(r), r.get("status") != "ok") for r in repos]
    grid = [[(r.get("stages") or {}).get(sid) for sid, _ in stages] for r in repos]
    adoption = summary.get("adoption", {})
    header = ["<h1>mlscan fleet</h1>",
              f'<div class="meta">{esc(summary.get("repos", len(repos)))} repositories · '
              f'{esc(summary.get("failed", 0))} failed · {len(stages)} stages · {len(titles)} practices</div>']
    body = ['<div class="grid2"><div>', "<h2>Overall levels</h2>",
            _chart(distribution_chart(summary.get("levels", {})), "repositories per overall level", "levels"),
            '</div><div class="facts">', "<h2>At a glance</h2>"]
    body.append(f'<div><span class="big">{esc(summary.get("repos", len(repos)))}</span>repositories in the fleet</div>')
    if summary.get("failed"):
        body.append(f'<div><span class="big error">{esc(summary.get("failed"))}</span>could not be scanned '
                    '(<a href="#repos">see below</a>)</div>')
    body.append('<p class="why">Each row of the heatmap below is a repository and each column a lifecycle '
                "stage: the darker the cell, the higher the stage's level; grey is not applicable or not "
                "scanned. Repository names link to their reports.</p>")
    body.append("</div></div>")
    body.append("<h2>Stage levels per repository</h2>")
    body.append(_chart(heatmap_chart(rows, [name for _, name in stages], grid, "repositories"),
                       "stage level per repository", "heatmap"))
    body.append("<h2>Practice adoption</h2>")
    practice_ids = [str(p.get("id")) for p in fleet.get("practices", [])] or sorted(adoption)
    body.append(_chart(adoption_chart([(titles.get(pid, pid), adoption.get(pid, {})) for pid in practice_ids]),
                       "practice adoption across repositories", "adoption"))
    body.append('<h2 id="repos">Repositories</h2><div class="scroll"><table><thead><tr><th>repository</th><th>status</th>'
                '<th class="num">level</th>' + "".join(f'<th class="num">{esc(name)}</th>' for _, name in stages)
                + "<th>commit</th><th>source</th></tr></thead><tbody>")
    for repo, (name, link, failed), line in zip(repos, rows, grid):
        label = f'<a href="{esc(link)}">{esc(name)}</a>' if link else esc(name)
        if failed:
            cells = (f'<td class="num">{_level_cell(None)}</td><td colspan="{len(stages)}" class="error">'
                     f'{esc(repo.get("error") or "no report")}</td>')
        else:
            cells = f'<td class="num">{_level_cell(repo.get("level"))}</td>' + "".join(
                f'<td class="num">{_level_cell(v)}</td>' for v in line)
        body.append(f'<tr><td class="nowrap">{label}</td><td>{_status(repo.get("status"))}</td>{cells}'
                    f'<td><code>{_short(repo.get("commit"))}</code></td>'
                    f'<td class="source"><code>{esc(repo.get("source") or "")}</code></td></tr>')
    body.append("</tbody></table></div>")
    return _page("mlscan fleet", "\n".join(header), body)


# ---- history -------------------------------------------------------------------------------------
def _stage_levels(commit: Mapping[str, Any]) -> Dict[str, Optional[int]]:
    return {str(s.get("id")): s.get("level") for s in commit.get("stages", [])}


def render_history(history: Mapping[str, Any]) -> str:
    """One repository over time: its overall and stage levels per commit, with the arrival or loss
    of practices marked, and the list of those events."""
    commits = list(history.get("commits", []))
    events = list(history.get("events", []))
    last = commits[-1] if commits else {}
    stages = [(str(s.get("id")), str(s.get("name", s.get("id")))) for s in last.get("stages", [])]
    titles = {str(p.get("id")): str(p.get("title", p.get("id"))) for c in commits for p in c.get("practices", [])}
    index = {str(c.get("commit")): i for i, c in enumerate(commits)}
    per_commit = [_stage_levels(c) for c in commits]
    ticks = [f"{str(c.get('date', ''))[:10]}\n{str(c.get('commit', ''))[:7]}" for c in commits]
    grouped: Dict[Tuple[int, str], List[str]] = {}
    for e in events:
        if str(e.get("commit")) in index:
            grouped.setdefault((index[str(e.get("commit"))], str(e.get("kind"))), []).append(str(e.get("practice")))
    marks = [(i, kind, practices) for (i, kind), practices in grouped.items()]
    repo = str(history.get("repo", ""))
    name = Path(repo).name or repo
    header = [f"<h1>mlscan history: {esc(name)}</h1>",
              f'<div class="meta"><code>{esc(repo)}</code> · {len(commits)} commits'
              + (f" · {esc(str(commits[0].get('date', ''))[:10])} to {esc(str(last.get('date', ''))[:10])}"
                 if commits else "") + f" · {len(events)} practice changes</div>"]
    body = ["<h2>Levels over time</h2>"]
    if commits:
        body.append(_chart(timeline_chart(ticks, [int(c.get("level") or 0) for c in commits],
                                          [n for _, n in stages],
                                          [[levels.get(sid) for levels in per_commit] for sid, _ in stages], marks),
                           "overall and stage levels per commit, practice arrivals and losses marked",
                           "timeline"))
    else:
        body.append('<p class="why">No commits in this history.</p>')
    body.append('<h2 id="events">Practices that arrived or were lost</h2>')
    if events:
        by_commit = {str(c.get("commit")): c for c in commits}
        body.append("<table><thead><tr><th>date</th><th>commit</th><th>practice</th><th>change</th>"
                    "<th>subject</th></tr></thead><tbody>")
        for e in events:
            c = by_commit.get(str(e.get("commit")), {})
            pid = str(e.get("practice"))
            body.append(f"<tr><td class=\"nowrap\">{esc(str(c.get('date', ''))[:10])}</td><td><code>{_short(e.get('commit'))}</code>"
                        f"</td><td>{esc(titles.get(pid, pid))} <code class=\"why\">{esc(pid)}</code></td>"
                        f"<td><span class=\"pill kind-{esc(e.get('kind'))}\">{esc(e.get('kind'))}</span> "
                        f"{esc(e.get('from'))} → {esc(e.get('to'))}</td><td>{esc(c.get('subject', ''))}</td></tr>")
        body.append("</tbody></table>")
    else:
        body.append('<p class="why">No practice arrived or was lost in these commits.</p>')
    body.append(f"<h2>Commits</h2><details><summary>all {len(commits)} commits, oldest first</summary>"
                "<table><thead><tr><th>date</th><th>commit</th><th class=\"num\">level</th>"
                + "".join(f'<th class="num">{esc(n)}</th>' for _, n in stages) + "<th>subject</th></tr></thead><tbody>")
    for c, levels in zip(commits, per_commit):
        body.append(f"<tr><td class=\"nowrap\">{esc(str(c.get('date', ''))[:10])}</td><td><code>{_short(c.get('commit'))}</code></td>"
                    f'<td class="num">{_level_cell(c.get("level"))}</td>'
                    + "".join(f'<td class="num">{_level_cell(levels.get(sid))}</td>' for sid, _ in stages)
                    + f"<td>{esc(c.get('subject', ''))}</td></tr>")
    body.append("</tbody></table></details>")
    return _page(f"mlscan history: {name}", "\n".join(header), body)


def render_saved(data: Mapping[str, Any], source: Path, page_dir: Path) -> str:
    """A saved fleet or history JSON as a page; fleet report links are made relative to the page."""
    if document_kind(data) == "fleet":
        return render_fleet(data, links=report_links(data, source.parent, page_dir))
    return render_history(data)
