"""The execution desk: sell (or buy) a block before a deadline, trading market impact against
price risk. RL agents (PPO, SAC, Double DQN) against TWAP, VWAP, sell-now and the Almgren-Chriss
optimum, on the Almgren-Chriss market (`tradebrain/Execution-v0` and its batched twin).

The desk object is `tradebrain.desks.execution.desk.DESK`; this package imports nothing else on
purpose, so listing the desks stays cheap."""
