"""Market simulators: price processes, impact, and the batched liquidation simulator (numpy, seeded)."""
