from __future__ import annotations

from mlscan.fix.base import Fix


class HyperparametersToConfig(Fix):
    """TODO"""

    id = "config_management"
    practice = "config-management"

    def plan(self, ctx):
        return []
