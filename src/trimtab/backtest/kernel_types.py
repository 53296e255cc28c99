"""Array aliases and the integer codes and tolerances the kernels share (no Numba import, so callers of the
ahead-of-time compiled kernels never load it)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

MODE_THRESHOLD, MODE_CALENDAR, MODE_HYBRID, MODE_BUY_AND_HOLD = 0, 1, 2, 3
TO_TARGET, TO_BAND_EDGE = 0, 1
DUST = 1e-9  # a trade counts only if |notional| > DUST * portfolio value
BAND_TOL = 1e-12  # an asset exactly on its band edge is inside (as in core.measures.drift.asset_drifts)
