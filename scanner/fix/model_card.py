from __future__ import annotations

from mlscan.fix.base import Fix


class ModelCardSkeleton(Fix):
    """TODO"""

    id = "model_card"
    practice = "model-documentation"

    def plan(self, ctx):
        return []
