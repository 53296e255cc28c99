"""Measures over prices and portfolios: drift, estimators, market regimes and performance metrics."""
