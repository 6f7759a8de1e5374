"""Markdown for a pull-request comment or a job summary: readable in ten seconds.

Verdict first (from the delta's summary when there is one), then a table of stages, what changed
in practices, the top next steps, and everything else folded into <details>. The hidden marker
lets the GitHub Action find and update its one comment; the text stays under GitHub's 65,536
character comment limit.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from mlscan.report.model import PracticeResult, Report

MARKER = "<!-- mlscan-report -->"
MAX_CHARS = 65_000
TOP_STEPS = 5
STATUS_MARK = {"present": "✅", "partial": "🟡", "absent": "❌", "not-applicable": "➖", "unknown": "❔"}
TRUNCATED = ("\n\n_… truncated to stay within GitHub's comment size limit: {n} more practice(s) not shown. "
             "Run `mlscan scan --format json` for the full report._\n")


# ---- escaping: report text comes from the scanned repository --------------------------------
def text(value: Any) -> str:
    """Inline text: no HTML, no @mentions, no line breaks."""
    s = str(value)
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = s.replace("@", "&#64;")
    return " ".join(s.split())


def cell(value: Any) -> str:
    """A table cell: inline text with pipes escaped."""
    return text(value).replace("|", "\\|")


def code(value: Any) -> str:
    """An inline code span that survives backticks (and pipes, for table cells)."""
    s = " ".join(str(value).split()).replace("|", "\\|")
    ticks = "`"
    while ticks in s:
        ticks += "`"
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{ticks}{pad}{s}{pad}{ticks}"


def _level(value: Optional[int]) -> str:
    return "n/a" if value is None else str(value)


def _where(path: str, line: Optional[int]) -> str:
    return code(f"{path}:{line}" if line else path)


# ---- sections ---------------------------------------------------------------------------------
def _verdict(report: Report) -> List[str]:
    delta = report.delta
    overall = f"Overall maturity level {report.level}/5"
    if delta is None:
        lines = [f"### mlscan: {overall}"]
    else:
        summary = list(delta.get("summary") or ["No change to maturity levels"])
        lines = [f"### mlscan: {text(summary[0])}"]
        lines += [f"- {text(s)}" for s in summary[1:]]
        base = delta.get("base") or {}
        commit = base.get("commit") or ""
        ref = base.get("ref") or ""
        against = code(commit[:12]) if commit else "the base"
        if ref and commit and not commit.startswith(ref):
            against = f"{code(ref)} ({code(commit[:12])})"
        overall += f" (base {against}: {_level(base.get('level'))}/5)"
    where = f"Commit {code(report.commit[:12])} · " if report.commit else ""
    if delta is None:
        lines += ["", f"{where}model {code(report.model)}"]
    else:
        lines += ["", f"**{overall}** · {where}model {code(report.model)}"]
    lines += _overall_why(report)
    return lines


def _overall_why(report: Report) -> List[str]:
    """What the overall number measures and why it is what it is (the stage table beside it)."""
    overall = report.overall or {}
    if not overall.get("reason"):
        return []
    measure = overall.get("measure")
    return ["", f"Overall level{f' ({text(measure)})' if measure else ''}: {text(overall['reason'])}"]


def _stage_table(report: Report) -> List[str]:
    if report.delta is None:
        lines = ["", "| Stage | Level |", "|---|---|"]
        lines += [f"| {cell(s.name)} | {_level(s.level)} |" for s in report.stages]
        return lines
    changed: Dict[str, Dict[str, Any]] = {s["id"]: s for s in report.delta.get("stages", [])}
    lines = ["", "| Stage | Level | |", "|---|---|---|"]
    for s in report.stages:
        if s.id in changed:
            c = changed[s.id]
            up = c["to"] is not None and (c["from"] is None or c["to"] > c["from"])
            level = f"{_level(c['from'])} → **{_level(c['to'])}**"
            note = "⬆️ raised" if up else "⬇️ lowered"
        else:
            level = _level(s.level)
            note = ""
        lines.append(f"| {cell(s.name)} | {level} | {note} |")
    return lines


def _practice_changes(report: Report) -> List[str]:
    delta = report.delta
    if delta is None:
        return []
    changes = delta.get("practices") or []
    new, fixed = delta.get("new_findings") or [], delta.get("fixed_findings") or []
    lines: List[str] = []
    if changes:
        lines += ["", "**Practices changed**", "", "| Practice | Before | After |", "|---|---|---|"]
        for c in changes:
            title = c.get("title") or c["id"]
            lines.append(f"| {cell(title)} ({code(c['id'])}) | {STATUS_MARK.get(c['from'], '')} {cell(c['from'])} "
                         f"| {STATUS_MARK.get(c['to'], '')} {cell(c['to'])} |")
    if new or fixed:
        lines += ["", f"Findings: {len(new)} new, {len(fixed)} fixed."]
        for f in new[:5]:
            lines.append(f"- new: {_where(f['path'], f.get('line'))} {text(f['message'])}")
        if len(new) > 5:
            lines.append(f"- … {len(new) - 5} more new finding(s)")
    return lines


def _next_steps(report: Report) -> List[str]:
    names = {s.id: s.name for s in report.stages}
    steps = [(names.get(n.stage, n.stage), n) for n in report.next_steps]
    if not steps:
        return []
    lines = ["", "**Next steps**", ""]
    for i, (s, n) in enumerate(steps[:TOP_STEPS], 1):
        more = f" ([how]({n.link}))" if n.link else ""
        lines.append(f"{i}. **{text(n.title)}** ({text(s)}): {text(n.remediation)}{more}")
    if len(steps) > TOP_STEPS:
        lines.append(f"\n_{len(steps) - TOP_STEPS} more in the details below._")
    return lines


def _practice_block(p: PracticeResult, max_evidence: int = 20) -> List[str]:
    head = f"- {STATUS_MARK.get(p.status, '')} **{text(p.title)}** ({code(p.id)}, {text(p.stage)}): {text(p.status)}"
    lines = [head]
    if p.ignored is not None or p.status in ("absent", "partial", "unknown", "not-applicable") or not p.evidence:
        if p.reason:
            lines.append(f"  - {text(p.reason)}")
    for e in p.evidence[:max_evidence]:
        kind = "" if e.kind == "supports" else f" ({text(e.kind)})"
        lines.append(f"  - {_where(e.path, e.line)}{kind} {text(e.message)}")
    if len(p.evidence) > max_evidence:
        lines.append(f"  - … {len(p.evidence) - max_evidence} more (see `--format json`)")
    return lines


def _details(report: Report, budget: int) -> str:
    """All practices with evidence, cut to `budget` characters with a note if needed."""
    opening = [f"<details><summary>All {len(report.practices)} practices and their evidence</summary>", ""]
    closing = ["", "</details>"]
    if report.diagnostics:
        closing = ["", f"_{len(report.diagnostics)} file(s) could not be fully read; "
                   "see `--format json` for the diagnostics._"] + closing
    base = "\n".join(opening) + "\n" + "\n".join(closing) + "\n"
    blocks = ["\n".join(_practice_block(p)) + "\n" for p in report.practices]
    room = budget - len(base) - len(TRUNCATED.format(n=len(blocks)))
    kept: List[str] = []
    used = 0
    for b in blocks:
        if used + len(b) > room:
            break
        kept.append(b)
        used += len(b)
    body = "".join(kept)
    if len(kept) < len(blocks):
        body += TRUNCATED.format(n=len(blocks) - len(kept))
    return "\n".join(opening) + "\n" + body + "\n".join(closing) + "\n"


def render_markdown(report: Report, max_chars: int = MAX_CHARS) -> str:
    top = [MARKER]
    top += _verdict(report)
    top += _stage_table(report)
    top += _practice_changes(report)
    top += _next_steps(report)
    head = "\n".join(top) + "\n\n"
    if len(head) > max_chars - 1000:  # pathological: keep the verdict, drop the rest
        head = head[: max_chars - 1000].rsplit("\n", 1)[0] + "\n\n_… truncated._\n\n"
    return head + _details(report, max_chars - len(head))
