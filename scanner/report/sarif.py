"""SARIF 2.1.0 for GitHub code scanning: one run, one rule per practice, one result per finding.

What GitHub needs (see ecosystem notes): exactly one run; every result with `message.text` and a
physicalLocation whose URI is a file relative to the repository root; every rule with an id, a
readable `name`, short and full descriptions and `help.text`; fingerprints without line numbers;
and no `security-severity` (these are maturity practices, not security alerts).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List
from urllib.parse import quote

from mlscan.report.model import Finding, PracticeResult, Report

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
# pyproject.toml has no project URL yet; this is where `mlscan explain` and the docs will live.
INFORMATION_URI = "https://github.com/OWNER/mlscan"
FINGERPRINT_KEY = "mlscan/v1"
SRCROOT = "%SRCROOT%"
ACRONYMS = {"ci": "CI", "cd": "CD", "ml": "ML", "api": "API"}


def rule_name(practice_id: str) -> str:
    """A readable slug for SARIF `name`: "seed-control" -> "SeedControl", "ml-tests" -> "MLTests"."""
    return "".join(ACRONYMS.get(w, w.capitalize()) for w in practice_id.split("-") if w)


def _rule(p: PracticeResult, report: Report) -> Dict[str, Any]:
    stage = report.stage(p.stage)
    stage_name = stage.name if stage else p.stage
    full = f"{p.title}. {stage_name} stage; expected from maturity level {p.level}."
    if p.looked_for:
        full += f" mlscan looks for {p.looked_for}."
    help_text = p.remediation
    help_md = f"**How to add it:** {p.remediation}"
    if p.looked_for:
        help_text += f"\n\nmlscan looks for: {p.looked_for}"
        help_md += f"\n\n**mlscan looks for:** {p.looked_for}"
    if p.link:
        help_text += f"\n\nMore: {p.link}"
        help_md += f"\n\n[Learn more]({p.link})"
    help_text += f"\n\n`mlscan explain {p.id}` explains the practice."
    help_md += f"\n\n`mlscan explain {p.id}` explains the practice."
    rule: Dict[str, Any] = {
        "id": p.id,
        "name": rule_name(p.id),
        "shortDescription": {"text": p.title},
        "fullDescription": {"text": full},
        "help": {"text": help_text, "markdown": help_md},
        "defaultConfiguration": {"level": "warning"},
        "properties": {"tags": ["ml-maturity", f"stage:{p.stage}"], "stage": p.stage,
                       "ladderLevel": p.level},
    }
    if p.link:
        rule["helpUri"] = p.link
    return rule


def _uri(report: Report, path: str) -> str:
    rel = (report.repo_prefix + path) if path not in ("", ".") else report.repo_prefix.rstrip("/")
    return quote(rel, safe="/")


def _result(f: Finding, index: Dict[str, int], report: Report) -> Dict[str, Any]:
    result: Dict[str, Any] = {
        "ruleId": f.practice,
        "level": "warning" if f.severity == "warning" else "note",
        "message": {"text": f.message},
        "locations": [{"physicalLocation": {
            "artifactLocation": {"uri": _uri(report, f.path), "uriBaseId": SRCROOT},
            "region": {"startLine": f.line if f.line and f.line >= 1 else 1},
        }}],
        "partialFingerprints": {FINGERPRINT_KEY: f.fingerprint},
    }
    if f.practice in index:
        result["ruleIndex"] = index[f.practice]
    if f.rule and f.rule != f.practice:
        result["properties"] = {"detector": f.rule}
    return result


def _srcroot(report: Report) -> str:
    root = Path(report.root)
    for _ in [part for part in report.repo_prefix.split("/") if part]:
        root = root.parent
    uri = root.as_uri() if root.is_absolute() else quote(root.as_posix(), safe="/")
    return uri if uri.endswith("/") else uri + "/"


def sarif_document(report: Report) -> Dict[str, Any]:
    rules = [_rule(p, report) for p in report.practices]
    index = {r["id"]: i for i, r in enumerate(rules)}
    # a result without a file cannot be uploaded (GitHub rejects the whole file); the engine anchors
    # findings at an existing file and only falls back to "." for a repository with no files at all
    anchored = [f for f in report.findings if f.path not in ("", ".")]
    results = [_result(f, index, report) for f in anchored]
    notifications: List[Dict[str, Any]] = [
        {"level": "warning", "message": {"text": f"{d.path}: {d.message}"}} for d in report.diagnostics]
    props: Dict[str, Any] = {
        "level": report.level,
        "model": report.model,
        "stages": {s.id: s.level for s in report.stages},
    }
    if report.commit:
        props["commit"] = report.commit
    if len(anchored) != len(report.findings):
        props["unanchoredFindings"] = len(report.findings) - len(anchored)
    if report.delta is not None:
        props["delta"] = {"baseCommit": report.delta.get("base", {}).get("commit"),
                          "baseLevel": report.delta.get("base", {}).get("level"),
                          "summary": list(report.delta.get("summary", []))}
    run: Dict[str, Any] = {
        "tool": {"driver": {
            "name": "mlscan",
            "version": report.tool_version,
            "semanticVersion": report.tool_version,
            "informationUri": INFORMATION_URI,
            "rules": rules,
        }},
        "invocations": [{"executionSuccessful": True, "toolExecutionNotifications": notifications}],
        "originalUriBaseIds": {SRCROOT: {"uri": _srcroot(report)}},
        "results": results,
        "columnKind": "unicodeCodePoints",
        "properties": {"mlscan": props},
    }
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def render_sarif(report: Report) -> str:
    return json.dumps(sarif_document(report), indent=2, ensure_ascii=False) + "\n"
