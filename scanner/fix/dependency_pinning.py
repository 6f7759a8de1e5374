from __future__ import annotations

from mlscan.fix.base import Fix


class PinFromLock(Fix):
    """TODO"""

    id = "dependency_pinning"
    practice = "dependency-pinning"

    def plan(self, ctx):
        return []
