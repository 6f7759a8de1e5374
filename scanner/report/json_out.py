"""JSON: the canonical form of the Report (schema_version 1)."""
from __future__ import annotations

import json

from mlscan.report.model import Report


def render_json(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n"
