"""Base values of the core: types, ports, portfolio state, snapshots, price history, schedules and the ledger."""
