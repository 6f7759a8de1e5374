"""--fail-under: compare the report's levels with what the team requires."""
from __future__ import annotations

from typing import List

from mlscan.config import FailUnder
from mlscan.report.model import Report


def apply_fail_under(report: Report, rule: FailUnder) -> bool:
    """Record the outcome in report.policy; True when the policy is met."""
    failures: List[str] = []
    if rule.overall is not None and report.level < rule.overall:
        failures.append(f"overall level {report.level} < {rule.overall}")
    for stage_id, wanted in sorted(rule.stages.items()):
        stage = report.stage(stage_id)
        if stage is None or stage.level is None:
            continue  # a stage that does not apply cannot fail the policy
        if stage.level < wanted:
            failures.append(f"{stage_id} level {stage.level} < {wanted}")
    met = not failures
    policy = dict(report.policy or {})
    policy["fail_under"] = {"required": rule.describe(), "met": met,
                            "message": "; ".join(failures) if failures else "all required levels reached"}
    report.policy = policy
    return met
