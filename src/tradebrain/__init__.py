"""tradebrain: build, train, backtest and compare deep-RL trading strategies against classical ones.

Importing the package registers the Gymnasium envs of every registered desk
(`tradebrain/Execution-v0`, `tradebrain/MarketMaking-v0`, `tradebrain/DayTrading-v0`, and those of
any desk a user's package adds); `tradebrain desks` lists them.
"""

from tradebrain.desks.registry import register_envs

__version__ = "0.1.0"

register_envs()
