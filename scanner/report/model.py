"""The one Report model. Renderers format it; they never compute."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

SCHEMA_VERSION = 1
STATUSES = ("present", "partial", "absent", "not-applicable", "unknown")


@dataclass(frozen=True)
class EvidenceItem:
    path: str
    line: Optional[int]
    rule: str
    message: str
    # "supports" | "partial" | "gap": how the item weighs on the practice
    kind: str = "supports"

    def to_json(self) -> Dict[str, Any]:
        return {"path": self.path, "line": self.line, "rule": self.rule,
                "message": self.message, "kind": self.kind}


@dataclass
class PracticeResult:
    id: str
    title: str
    stage: str
    status: str
    evidence: List[EvidenceItem]
    reason: str
    remediation: str
    level: int  # the ladder level at which the practice is expected
    ignored: Optional[str] = None  # reason from config when the user ignored it
    link: str = ""
    looked_for: str = ""  # what detectors look for (catalogue), e.g. for SARIF rule descriptions

    def to_json(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"id": self.id, "title": self.title, "stage": self.stage,
                               "status": self.status,
                               "evidence": [e.to_json() for e in self.evidence],
                               "reason": self.reason, "remediation": self.remediation,
                               "level": self.level, "link": self.link, "looked_for": self.looked_for}
        if self.ignored is not None:
            out["ignored"] = self.ignored
        return out


@dataclass
class NextStep:
    practice: str
    title: str
    remediation: str
    link: str = ""
    example: str = ""
    stage: str = ""

    def to_json(self) -> Dict[str, Any]:
        return {"practice": self.practice, "title": self.title, "stage": self.stage,
                "remediation": self.remediation, "example": self.example, "link": self.link}


@dataclass
class StageResult:
    id: str
    name: str
    level: Optional[int]
    reason: str
    next: List[str]
    next_steps: List[NextStep] = field(default_factory=list)

    def to_json(self) -> Dict[str, Any]:
        return {"id": self.id, "name": self.name, "level": self.level, "reason": self.reason,
                "next": list(self.next), "next_steps": [s.to_json() for s in self.next_steps]}


@dataclass(frozen=True)
class Finding:
    """A problem to act on: a practice not (fully) in place, or counter-evidence, at a location.

    `fingerprint` identifies it across commits (no line numbers), for deltas and SARIF."""
    practice: str
    rule: str
    path: str
    line: Optional[int]
    message: str
    severity: str          # "warning" (absent) | "note" (partial, gap)
    fingerprint: str

    def to_json(self) -> Dict[str, Any]:
        return {"practice": self.practice, "rule": self.rule, "path": self.path, "line": self.line,
                "message": self.message, "severity": self.severity, "fingerprint": self.fingerprint}


@dataclass(frozen=True)
class Diagnostic:
    path: str
    message: str

    def to_json(self) -> Dict[str, Any]:
        return {"path": self.path, "message": self.message}


@dataclass
class Report:
    tool_version: str
    root: str
    commit: Optional[str]
    level: int
    stages: List[StageResult]
    practices: List[PracticeResult]
    diagnostics: List[Diagnostic]
    findings: List[Finding] = field(default_factory=list)
    next_steps: List[NextStep] = field(default_factory=list)   # all stages', one per practice, in order
    history: Dict[str, Any] = field(default_factory=dict)
    model: str = "builtin"
    delta: Optional[Dict[str, Any]] = None
    policy: Optional[Dict[str, Any]] = None
    # POSIX path of the scanned folder inside its git work tree ("" at the top or outside git):
    # report paths are relative to `root`; prefix them with this for repo-relative paths (SARIF).
    repo_prefix: str = ""
    # how the overall level was reached: measure (breadth|depth), score, thresholds, stage levels
    overall: Optional[Dict[str, Any]] = None

    def practice(self, practice_id: str) -> Optional[PracticeResult]:
        return next((p for p in self.practices if p.id == practice_id), None)

    def stage(self, stage_id: str) -> Optional[StageResult]:
        return next((s for s in self.stages if s.id == stage_id), None)

    def to_json(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "mlscan", "version": self.tool_version},
            "root": self.root,
            "commit": self.commit,
            "level": self.level,
            "model": self.model,
            "stages": [s.to_json() for s in self.stages],
            "practices": [p.to_json() for p in self.practices],
            "next_steps": [n.to_json() for n in self.next_steps],
            "findings": [f.to_json() for f in self.findings],
            "diagnostics": [d.to_json() for d in self.diagnostics],
            "history": self.history,
        }
        if self.repo_prefix:
            out["repo_prefix"] = self.repo_prefix
        if self.delta is not None:
            out["delta"] = self.delta
        if self.policy is not None:
            out["policy"] = self.policy
        if self.overall is not None:
            out["overall"] = self.overall
        return out


def document_kind(data: Any) -> str:
    """What a saved mlscan JSON document is, by its shape: "fleet", "history" or (else) "report"."""
    if isinstance(data, dict) and isinstance(data.get("repos"), list) and isinstance(data.get("summary"), dict):
        return "fleet"
    if isinstance(data, dict) and isinstance(data.get("commits"), list) and isinstance(data.get("events"), list):
        return "history"
    return "report"


def report_from_json(data: Dict[str, Any]) -> Report:
    """Rebuild a Report from its JSON form (schema_version 1), to render it again without a rescan."""
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"not an mlscan report with schema_version {SCHEMA_VERSION}")

    def next_step(n: Dict[str, Any]) -> NextStep:
        return NextStep(n["practice"], n.get("title", ""), n.get("remediation", ""), n.get("link", ""),
                        n.get("example", ""), n.get("stage", ""))

    def evidence(e: Dict[str, Any]) -> EvidenceItem:
        return EvidenceItem(e["path"], e.get("line"), e.get("rule", ""), e.get("message", ""), e.get("kind", "supports"))

    practices = [PracticeResult(
        id=p["id"], title=p.get("title", p["id"]), stage=p.get("stage", ""), status=p["status"],
        evidence=[evidence(e) for e in p.get("evidence", [])], reason=p.get("reason", ""),
        remediation=p.get("remediation", ""), level=int(p.get("level", 1)), ignored=p.get("ignored"),
        link=p.get("link", ""), looked_for=p.get("looked_for", "")) for p in data.get("practices", [])]
    stages = [StageResult(
        id=s["id"], name=s.get("name", s["id"]), level=s.get("level"), reason=s.get("reason", ""),
        next=list(s.get("next", [])),
        next_steps=[next_step(n) for n in s.get("next_steps", [])]) for s in data.get("stages", [])]
    findings = [Finding(f["practice"], f.get("rule", f["practice"]), f["path"], f.get("line"), f.get("message", ""),
                        f.get("severity", "warning"), f.get("fingerprint", "")) for f in data.get("findings", [])]
    return Report(
        next_steps=[next_step(n) for n in data.get("next_steps", [])],
        tool_version=data.get("tool", {}).get("version", ""), root=data.get("root", ""), commit=data.get("commit"),
        level=int(data["level"]), stages=stages, practices=practices,
        diagnostics=[Diagnostic(d["path"], d.get("message", "")) for d in data.get("diagnostics", [])],
        findings=findings, history=data.get("history", {}), model=data.get("model", ""),
        delta=data.get("delta"), policy=data.get("policy"), repo_prefix=data.get("repo_prefix", ""),
        overall=data.get("overall"))
