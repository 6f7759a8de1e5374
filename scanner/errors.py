"""Errors that end a run with exit code 2 and a one-line message (never a traceback)."""


class UsageError(Exception):
    """Bad command line, config file or maturity model."""
