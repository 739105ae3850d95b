"""The one compiled event-driven backtest loop, its ledger and engine, the vectorised replay, metrics,
bootstrap confidence intervals, and the classical trading baselines (buy-and-hold, SMA crossover)."""
