"""Yield positions: deposits that accrue by an index, the migration rule, and migrations as trades."""
