"""The market-making desk: quote a bid and an ask around the mid, earning the spread against
inventory risk. RL quoting agents (PPO, SAC) against the Avellaneda-Stoikov inventory strategy,
the symmetric quoter and GLFT, on the A-S market (`tradebrain/MarketMaking-v0` and its batched twin).

The desk object is `tradebrain.desks.market_making.desk.DESK`."""
