"""The execution desk as the platform sees it (the `Desk` of desks/contract.py)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from tradebrain.desks.contract import AGENT, CellOutput, Desk, DeskResult, Score

if TYPE_CHECKING:
    import typer
    from rich.console import Console

    from tradebrain.desks.execution.study import ExecutionDeskConfig
    from tradebrain.rl.training import TrainedAgent


class ExecutionDesk(Desk["ExecutionDeskConfig"]):
    """Sell (or buy) a block before a deadline on the Almgren-Chriss market."""

    name = "execution"
    summary = "liquidate a block before a deadline: PPO, SAC, Double DQN vs TWAP, VWAP, sell-now, AC optimum"
    envs: ClassVar[Mapping[str, str]] = {
        "tradebrain/Execution-v0": "tradebrain.desks.execution.env:ExecutionEnv",
    }
    baselines = ("TWAP", "AC-optimal", "VWAP", "sell-now")
    colors: ClassVar[Mapping[str, str]] = {
        "TWAP": "#1f77b4",
        "AC-optimal": "#2ca02c",
        "VWAP": "#9467bd",
        "sell-now": "#7f7f7f",
    }
    headline = (
        f"{AGENT}/objective_usd",
        f"{AGENT}_minus_AC-optimal/objective_usd",
        f"{AGENT}_minus_TWAP/objective_usd",
        f"{AGENT}/shortfall_bps",
    )
    comparison = ("objective_usd", "shortfall_usd")

    @property
    def config_cls(self) -> type[ExecutionDeskConfig]:
        from tradebrain.desks.execution.study import ExecutionDeskConfig

        return ExecutionDeskConfig

    def train(self, config: ExecutionDeskConfig, out_dir: Path | None, progress: bool = True) -> TrainedAgent:
        from tradebrain.desks.execution.study import train

        return train(config, out_dir, progress)

    def evaluate(self, config: ExecutionDeskConfig, model: Path, progress: bool = True) -> DeskResult:
        from tradebrain.desks.execution.observer import ExecutionObserver
        from tradebrain.desks.execution.study import baseline_policies, evaluate
        from tradebrain.desks.runs import Evaluation
        from tradebrain.rl.training import load_trained

        # the action kind follows the model (run_episodes steps the env with the policy's own kind)
        agent = load_trained(model, config.train.algo, observation_space=ExecutionObserver(config).space)
        evaluation = config.evaluate
        baselines = baseline_policies(config, evaluation.baselines, evaluation.vwap_profile)
        return Evaluation(config.name, evaluate(config, [*baselines, agent.policy], progress))

    def demo(self, config: ExecutionDeskConfig, runs_root: Path, progress: bool = True) -> DeskResult:
        from tradebrain.desks.execution.study import run_study

        return run_study(config, runs_root, progress)

    def print_result(self, result: Mapping[str, Any], console: Console) -> None:
        from tradebrain.desks.execution.cli import print_result

        print_result(result, console)

    def commands(self) -> typer.Typer:
        from tradebrain.desks.execution.cli import app

        return app

    def run_cell(self, config: ExecutionDeskConfig, out_dir: Path, write_report: bool) -> CellOutput:
        from tradebrain.desks.execution.experiment import run_execution_cell

        return run_execution_cell(config, out_dir, write_report)

    def validation_score(self, config: ExecutionDeskConfig, episodes: int, seed_offset: int) -> Score:
        """E+λV of the agent's shortfall on the validation episodes (lower is better)."""
        from tradebrain.backtest.bootstrap import mean_plus_variance
        from tradebrain.desks.execution.evaluate import run_episodes
        from tradebrain.desks.runs import evaluation_seeds

        seeds = evaluation_seeds(episodes, seed_offset)
        objective = mean_plus_variance(config.task.risk_aversion)
        return lambda agent: float(objective(run_episodes(config, agent.policy, seeds).shortfall))


DESK = ExecutionDesk()
