"""The backtester: the same strategy objects over real history, on a Numba fast path or the step path, with reports."""
