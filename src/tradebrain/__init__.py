"""tradebrain: build, train, backtest and compare deep-RL trading strategies against classical ones.

Importing the package registers the Gymnasium envs (`tradebrain/Execution-v0`).
"""

from gymnasium.envs.registration import register, registry

__version__ = "0.1.0"

if "tradebrain/Execution-v0" not in registry:
    register(id="tradebrain/Execution-v0", entry_point="tradebrain.envs.execution.env:ExecutionEnv")
