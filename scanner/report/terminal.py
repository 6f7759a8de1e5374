"""Terminal output with rich: the levels per stage, each practice with its top evidence, next steps."""
from __future__ import annotations

from typing import IO, Optional

from mlscan.report.model import Report

STATUS_STYLE = {"present": ("✔", "green"), "partial": ("◐", "yellow"), "absent": ("✘", "red"),
                "not-applicable": ("–", "dim"), "unknown": ("?", "magenta")}


def render_terminal(report: Report, file: Optional[IO[str]] = None, verbose: bool = False,
                    width: Optional[int] = None) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(file=file, width=width, highlight=False, soft_wrap=False)
    head = Text.assemble(("mlscan ", "bold"), (report.root, "cyan"),
                         (f"  @ {report.commit[:12]}" if report.commit else "  (no git commit)", "dim"))
    console.print(head)
    overall = report.overall or {}
    measure = overall.get("measure")
    console.print(Text.assemble(("Overall maturity level: ", "bold"), (f"{report.level} / 5", "bold green"),
                                (f" ({measure})" if measure else "", "bold"), (f"   model: {report.model}", "dim")))
    if overall.get("reason"):
        console.print(Text(f"  why: {overall['reason']}", style="dim"))
    if measure == "breadth" and overall.get("stage_levels"):
        depth = ", ".join(f"{s.id} {s.level}" for s in report.stages if s.level is not None)
        console.print(Text(f"  depth, per stage (each level needs the ones below it): {depth}", style="dim"))
    if report.delta:
        for line in report.delta.get("summary", []):
            console.print(Text(line, style="bold"))
    stages = Table(title="Stages", show_lines=False, expand=False, title_justify="left")
    stages.add_column("stage")
    stages.add_column("level", justify="center")
    stages.add_column("why")
    said: set = set()
    for s in report.stages:
        stages.add_row(s.name, "n/a" if s.level is None else str(s.level), s.reason if verbose else _once(s.reason, said))
    console.print(stages)
    table = Table(title="Practices", title_justify="left")
    table.add_column("", width=1)
    table.add_column("practice")
    table.add_column("stage")
    table.add_column("evidence / reason")
    for p in report.practices:
        mark, style = STATUS_STYLE.get(p.status, ("?", ""))
        shown = p.evidence if verbose else p.evidence[:2]
        lines = [f"{e.path}:{e.line or 1} {e.message}" for e in shown]
        if len(p.evidence) > len(shown):
            lines.append(f"… {len(p.evidence) - len(shown)} more (use --verbose or --format json)")
        if not lines or p.status in ("absent", "not-applicable", "unknown", "partial"):
            lines.insert(0, p.reason if verbose else _once(p.reason, said))
        table.add_row(Text(mark, style=style), Text(p.id, style=style), p.stage, "\n".join(lines))
    console.print(table)
    if report.next_steps:
        console.print(Text("Next steps", style="bold"))
        for n in report.next_steps[:8]:
            console.print(Text.assemble(("• ", "bold"), (f"[{n.stage}] ", "cyan"), n.title))
            console.print(Text(f"  {n.remediation}", style="dim"))
            if n.link:
                console.print(Text(f"  {n.link}", style="dim"))
    first_seen = (report.history or {}).get("first_seen") or {}
    if first_seen:
        parts = [f"{name} since {info['date']}" + (" or earlier" if info.get("may_be_older") else "")
                 for name, info in sorted(first_seen.items())]
        console.print(Text("History: " + ", ".join(parts), style="dim"))
    elif (report.history or {}).get("shallow"):
        console.print(Text("History: shallow clone, history evidence skipped", style="dim"))
    if report.diagnostics:
        console.print(Text(f"{len(report.diagnostics)} file(s) could not be fully read:", style="yellow"))
        for d in report.diagnostics[: (None if verbose else 10)]:
            console.print(Text(f"  {d.path}: {d.message}", style="dim"))
        if not verbose and len(report.diagnostics) > 10:
            console.print(Text(f"  … {len(report.diagnostics) - 10} more (use --verbose)", style="dim"))


def _once(text: str, said: set) -> str:
    """A long reason's closing parenthesis (what was looked for) in full the first time only;
    again, "(as above)", so that one missing serving path does not fill the screen four times."""
    cut = text.find(" (")
    if len(text) < 100 or cut < 0 or not text.endswith(")"):
        return text
    if text[cut:] in said:
        return text[:cut] + " (as above)"
    said.add(text[cut:])
    return text
