"""trimtab: keep crypto portfolios on target, net of every cost."""

__version__ = "0.1.0"
