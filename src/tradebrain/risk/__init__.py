"""Hard risk limits every order passes, in training, backtest and live alike."""

from tradebrain.risk.gate import RiskDecision, RiskEvent, RiskGate
from tradebrain.risk.limits import RiskLimits
from tradebrain.risk.var import historical_var, parametric_var

__all__ = ["RiskDecision", "RiskEvent", "RiskGate", "RiskLimits", "historical_var", "parametric_var"]
