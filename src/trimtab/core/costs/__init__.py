"""What trading costs: the cost model, its parts (tiers, impact, gas), books and AMM curves, route pricing."""
