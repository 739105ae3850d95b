"""`tradebrain/Execution-v0`: liquidate a block before a deadline."""

from tradebrain.envs.execution.config import ExecutionEnvConfig
from tradebrain.envs.execution.env import ExecutionEnv
from tradebrain.envs.execution.vec_env import ExecutionVecEnv

__all__ = ["ExecutionEnv", "ExecutionEnvConfig", "ExecutionVecEnv"]
