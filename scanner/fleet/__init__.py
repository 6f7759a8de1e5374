"""Many repositories (or commits) at once: the room above the engine.

It only calls `mlscan.engine.scan` (`fleet.repos` for many repositories, `fleet.commits` for many
commits of one), collects Reports and hands them to writers. Dask lives here and nowhere else, and
only in `mlscan.fleet.engine`: importing this package costs nothing, so a
plain install (the pre-commit hook) never pays for Dask. `pip install 'mlscan[fleet]'` brings
Dask, distributed and pyarrow.
"""
from __future__ import annotations

import importlib
from typing import Optional

FLEET_EXTRA = ("dask", "distributed", "pyarrow")
INSTALL_HINT = "pip install 'mlscan[fleet]'"


def missing_extra() -> Optional[str]:
    """A one-line message when the fleet extra is not installed, else None."""
    missing = []
    for name in FLEET_EXTRA:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if not missing:
        return None
    return (f"`mlscan fleet` needs {', '.join(missing)}, which a plain install leaves out; "
            f"install them with: {INSTALL_HINT}")
