from __future__ import annotations

from mlscan.fix.base import Fix


class LogPayloads(Fix):
    """TODO"""

    id = "payload_logging"
    practice = "payload-logging"

    def plan(self, ctx):
        return []
