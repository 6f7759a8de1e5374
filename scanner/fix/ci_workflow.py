from __future__ import annotations

from mlscan.fix.base import Fix


class CIWorkflow(Fix):
    """TODO"""

    id = "ci_workflow"
    practice = "ci"

    def plan(self, ctx):
        return []
