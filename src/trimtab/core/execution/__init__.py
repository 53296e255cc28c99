"""How to trade: the planner, routes, splits, TWAP slices, guards and the execution plan."""
