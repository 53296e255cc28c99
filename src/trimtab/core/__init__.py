"""Pure rebalancing core: stdlib, numpy, numba and pydantic only; no I/O."""
