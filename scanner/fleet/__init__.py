"""Many repositories (or commits) at once: the room above the engine.

It only calls `mlscan.engine.scan` (`fleet.repos` for many repositories, `fleet.commits` for many
commits of one), collects Reports and hands them to writers. Dask lives here and nowhere else, and
only in `mlscan.fleet.engine`: importing this package costs nothing, so a
plain install (the pre-commit hook) never pays for Dask. `pip install 'mlscan[fleet]'` brings
Dask, distributed and pyarrow.
"""
from __future__ import annotations

from typing import Optional

FLEET_EXTRA = ("dask", "distributed", "pyarrow")
INSTALL_HINT = "pip install 'mlscan[fleet]'"


def missing_extra() -> Optional[str]:
    """A one-line message when the fleet extra is not installed, else None. It looks the packages up
    without importing them (importing Dask takes half a second, which the engine spends while its
    scan processes start); one that is there but fails to import is `extra_problem`'s to report."""
    from importlib.util import find_spec
    missing = []
    for name in FLEET_EXTRA:
        try:
            found = find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    return extra_problem(missing) if missing else None


def extra_problem(missing) -> str:
    return (f"`mlscan fleet` needs {', '.join(missing)}, which a plain install leaves out; "
            f"install them with: {INSTALL_HINT}")
