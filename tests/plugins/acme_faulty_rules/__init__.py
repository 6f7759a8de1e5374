"""Rules with the bugs a fleet must survive, triggered by marker files in a repository."""
import ctypes
import time

from mlscan.rulekit import Practice, Rule

NOWHERE = Practice(id="acme-nowhere", title="A practice of no stage", stage="nowhere", level=2,
                   remediation="none")


class Faulty(Rule):
    """A buggy organisation rule"""

    id = "acme-faulty"
    practice = "ci"

    def check(self, facts):
        if facts.exists("ACME_RAISE"):
            raise RuntimeError("acme-faulty cannot cope with this repository")
        if facts.exists("ACME_CRASH"):
            ctypes.string_at(0)          # a segfault, as a bad native extension would
        if facts.exists("ACME_HANG"):
            while True:
                time.sleep(1)
        if facts.exists("ACME_SLOW"):
            time.sleep(float((facts.text("ACME_SLOW") or "5").strip()))
        yield from ()


class Orphan(Rule):
    """A rule for a practice nobody declared"""

    id = "acme-orphan"
    practice = "acme-undeclared"

    def check(self, facts):
        yield from ()
