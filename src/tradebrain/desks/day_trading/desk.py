"""The day-trading desk as the platform sees it (the `Desk` of desks/contract.py).

Its config is the study config plus where the bars come from (a file, or seeded synthetic bars) and
the walk-forward windows; `train` and `evaluate` use the first window's training and test sessions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from tradebrain.desks.contract import AGENT, CellOutput, Desk, DeskResult, LiveStrategy, Score

if TYPE_CHECKING:
    from rich.console import Console

    from tradebrain.desks.day_trading.experiment import DayTradingExperimentConfig
    from tradebrain.risk.gate import RiskGate
    from tradebrain.rl.export import ExportedPolicy
    from tradebrain.rl.training import TrainedAgent

BASELINE = "buy-and-hold"
"""The one baseline of the desk: buy at the first test bar, hold overnight to the last."""
WALK_FORWARD_RETURN = "walk_forward_return"
"""The walk-forward windows' test returns compounded one after the other (see experiment.py)."""


@dataclass(frozen=True)
class Evaluation:
    """A saved agent and buy-and-hold backtested on the same test sessions, bars and costs."""

    name: str
    symbol: str
    sessions: int
    policies: dict[str, dict[str, float]]
    fills: str = ""
    """The label of the venue both were backtested through."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: each policy's return, Sharpe, drawdown, trades and win rate, and the fills."""
        from tradebrain.reports.common import finite_json

        result: dict[str, Any] = finite_json(
            {"name": self.name, "symbol": self.symbol, "sessions": self.sessions, "fills": self.fills,
             "policies": self.policies}
        )  # fmt: skip
        return result


class DayTradingDesk(Desk["DayTradingExperimentConfig"]):
    """Long-only intraday trading of one symbol, flat by the close, on historical minute bars."""

    name = "daytrading"
    aliases = ("day-trading", "day_trading")
    summary = "long-only intraday trading, flat by the close: MaskablePPO (masked actions) vs buy-and-hold"
    envs: ClassVar[Mapping[str, str]] = {
        "tradebrain/DayTrading-v0": "tradebrain.desks.day_trading.env:DayTradingEnv",
    }
    baselines = (BASELINE,)
    colors: ClassVar[Mapping[str, str]] = {BASELINE: "#1f77b4"}
    headline = (
        f"{AGENT}/total_return",
        f"{AGENT}_minus_{BASELINE}/total_return",
        f"{AGENT}/{WALK_FORWARD_RETURN}",
        f"{AGENT}/sharpe",
    )
    comparison = ("total_return", "sharpe")
    options: ClassVar[Mapping[str, str]] = {
        "name": "name",
        "algo": "train.algo",
        "timesteps": "train.timesteps",
        "seed": "train.seed",
    }
    demo_updates: ClassVar[Mapping[str, Any]] = {
        "name": "daytrading-demo",
        "train.timesteps": 30_000,
        "train_sessions": "30",
        "test_sessions": "10",
    }
    """The demo's defaults over the config file (command-line options still win)."""

    @property
    def config_cls(self) -> type[DayTradingExperimentConfig]:
        from tradebrain.desks.day_trading.experiment import DayTradingExperimentConfig

        return DayTradingExperimentConfig

    def train(self, config: DayTradingExperimentConfig, out_dir: Path | None, progress: bool = True) -> TrainedAgent:
        """Train on the first window's training sessions; with `out_dir`, also export `policy.npz`."""
        from tradebrain.desks.day_trading.experiment import first_window
        from tradebrain.desks.day_trading.study import train_day_trader
        from tradebrain.rl.export import export_policy

        _, train, _ = first_window(config)
        agent = train_day_trader(train, config, out_dir, progress)
        if out_dir is not None:
            export_policy(agent.model, agent.vec_normalize, config.train.algo).save(out_dir / "policy.npz")
        return agent

    def evaluate(self, config: DayTradingExperimentConfig, model: Path, progress: bool = True) -> DeskResult:
        """Backtest a saved agent (model.zip with its vecnormalize.pkl, or an exported policy.npz) and
        buy-and-hold on the first window's test sessions."""
        from tradebrain.desks.day_trading.backtest import backtest_days, buy_and_hold_days
        from tradebrain.desks.day_trading.experiment import first_window
        from tradebrain.desks.day_trading.study import session_metrics
        from tradebrain.risk.gate import RiskGate

        bars, _, test = first_window(config)
        policy = self._policy(config, model)
        gate = RiskGate(config.risk) if config.risk is not None else None
        agent = session_metrics(backtest_days(bars, test, policy, config.env, gate), test)
        held = session_metrics(buy_and_hold_days(bars, test, config.env), test)
        policies = {policy.name: agent, BASELINE: held}
        return Evaluation(config.name, config.symbol, len(test), policies, config.env.venue.label())

    def _policy(self, config: DayTradingExperimentConfig, model: Path) -> ExportedPolicy:
        """The policy of a model.zip (exported, with its statistics) or of an exported policy.npz, refused
        when its observations or actions do not fit what this config's env makes."""
        import numpy as np
        from gymnasium import spaces

        from tradebrain.core.errors import InputError
        from tradebrain.desks.day_trading.observer import observation_size
        from tradebrain.rl.export import ExportedPolicy, export_policy
        from tradebrain.rl.trade_masks import N_ACTIONS
        from tradebrain.rl.training import load_trained

        features = observation_size(config.env)
        if model.suffix == ".npz":
            if not model.is_file():
                raise InputError(f"--model {model} does not exist; train one with `tradebrain train daytrading`")
            policy = ExportedPolicy.load(model)
            if policy.n_inputs != features:
                config_file = model.parent / "config.yaml"
                raise InputError(
                    f"the policy {model} was trained on observations of shape ({policy.n_inputs},), this config "
                    f"makes ({features},); use the config the model was trained with: {config_file}"
                )
            return policy
        observations = spaces.Box(-np.inf, np.inf, shape=(features,), dtype=np.float32)
        agent = load_trained(model, config.train.algo, observations, spaces.Discrete(N_ACTIONS))
        return export_policy(agent.model, agent.vec_normalize, config.train.algo)

    def demo(self, config: DayTradingExperimentConfig, runs_root: Path, progress: bool = True) -> DeskResult:
        """The study on 40 synthetic sessions of 1-minute bars and on hourly EURUSD, at commissions 0
        and 1 bp per side, two seeds each."""
        from tradebrain.desks.day_trading.cli import demo_sources, run_day_trading_study
        from tradebrain.desks.day_trading.study import DayTradingDeskConfig

        study_config = DayTradingDeskConfig.model_validate(
            config.model_dump(include=set(DayTradingDeskConfig.model_fields))
        )
        return run_day_trading_study(demo_sources(), [0.0, 0.0001], 2, study_config, runs_root, progress)

    def print_result(self, result: Mapping[str, Any], console: Console) -> None:
        from tradebrain.desks.day_trading.cli import print_result

        print_result(result, console)

    def study_command(self) -> Callable[..., None]:
        from tradebrain.desks.day_trading.cli import study

        return study

    def run_cell(self, config: DayTradingExperimentConfig, out_dir: Path, write_report: bool) -> CellOutput:
        from tradebrain.desks.day_trading.experiment import run_daytrading_cell

        return run_daytrading_cell(config, out_dir, write_report)

    def tuning_agent(self, config: DayTradingExperimentConfig) -> TrainedAgent:
        """Trained on the first window's training sessions but their last 20% (held out to validate)."""
        from tradebrain.desks.day_trading.experiment import tuning_sessions
        from tradebrain.desks.day_trading.study import train_day_trader

        fit, _ = tuning_sessions(config)
        return train_day_trader(fit, config, None, False)

    def validation_score(self, config: DayTradingExperimentConfig, episodes: int, seed_offset: int) -> Score:
        """Minus the exported policy's return over the held-out training sessions (lower is better).
        `episodes` and `seed_offset` do not apply: the validation sessions are historical."""
        from tradebrain.desks.day_trading.backtest import backtest_days
        from tradebrain.desks.day_trading.experiment import load_market, tuning_sessions
        from tradebrain.desks.day_trading.study import session_metrics
        from tradebrain.risk.gate import RiskGate
        from tradebrain.rl.export import export_policy

        del episodes, seed_offset
        bars = load_market(config).bars
        _, validation = tuning_sessions(config)
        gate = RiskGate(config.risk) if config.risk is not None else None

        def score(agent: TrainedAgent) -> float:
            policy = export_policy(agent.model, agent.vec_normalize, "tuning")
            result = backtest_days(bars, validation, policy, config.env, gate)
            return -session_metrics(result, validation)["total_return"]

        return score

    def decision_path(
        self, config: DayTradingExperimentConfig, model: Path, symbol: str, gate: RiskGate | None = None
    ) -> LiveStrategy:
        """The live decision path (streaming features, observation, mask, exported policy, risk gate)."""
        from tradebrain.desks.day_trading.decision import DecisionPath

        return DecisionPath(self._policy(config, model), symbol, config.env, gate)


DESK = DayTradingDesk()
