"""`mlscan fix`: the room beside report that turns next steps into reviewable patches.

It reads the Facts and the Report of a scan and writes patches with libcst (which keeps every
comment and space it does not change). Rules never edit; only this package imports libcst, and
only the `mlscan fix` command imports this package, so a scan never pays libcst's start-up cost.
"""
