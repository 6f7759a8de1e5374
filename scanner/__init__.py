"""mlscan: a static ML maturity scanner."""
__version__ = "0.1.0"
