"""GitHub workflow annotations: one `::warning`/`::notice` line per finding, most severe first.

Text from the scanned repository is escaped as GitHub requires (`%`, CR and LF in messages; also
`:` and `,` in properties), so a finding can never become a workflow command of its own.
"""
from __future__ import annotations

from mlscan.report.model import Report

LEVEL = {"warning": "warning", "note": "notice"}


def _message(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    return _message(text).replace(":", "%3A").replace(",", "%2C")


def render_github(report: Report) -> str:
    lines = []
    ordered = sorted(report.findings, key=lambda f: (f.severity != "warning", f.practice, f.path, f.line or 0))
    for f in ordered:
        path = f.path if f.path not in ("", ".") else ""
        props = []
        if path:
            props.append(f"file={_prop(report.repo_prefix + path)}")
            props.append(f"line={max(1, f.line or 1)}")
        props.append(f"title={_prop('mlscan: ' + f.practice)}")
        lines.append(f"::{LEVEL.get(f.severity, 'notice')} {','.join(props)}::{_message(f.message)}")
    return "\n".join(lines) + ("\n" if lines else "")
