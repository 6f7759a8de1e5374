"""Above the engine: scans of many repositories or commits. Each task calls the engine's scan and
hands back a Report; schedulers (Dask) live in their own modules, never imported here."""
