"""The day-trading desk: a long-only intraday agent on minute bars, flat by the close. Maskable PPO
(invalid actions masked) against buy-and-hold, trained on historical sessions and backtested out of
sample through the shared engine (`tradebrain/DayTrading-v0` and its batched twin).

The desk object is `tradebrain.desks.day_trading.desk.DESK`."""
