"""What to hold: allocation models (static, market-cap index, Kelly, risk parity, ...) and overlays."""
