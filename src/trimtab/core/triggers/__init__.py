"""When to rebalance: threshold, calendar and combined rules, adaptive bands and opportunity triggers."""
