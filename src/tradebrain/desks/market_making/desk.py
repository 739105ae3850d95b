"""The market-making desk as the platform sees it (the `Desk` of desks/contract.py)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from tradebrain.desks.contract import AGENT, CellOutput, Desk, DeskResult, Score

if TYPE_CHECKING:
    import typer
    from rich.console import Console

    from tradebrain.desks.market_making.study import MarketMakingDeskConfig
    from tradebrain.rl.training import TrainedAgent


class MarketMakingDesk(Desk["MarketMakingDeskConfig"]):
    """Quote a bid and an ask around the mid on the Avellaneda-Stoikov market."""

    name = "market-making"
    aliases = ("mm", "market_making")
    summary = "quote a bid and an ask around the mid: PPO, SAC vs Avellaneda-Stoikov, symmetric and GLFT quotes"
    envs: ClassVar[Mapping[str, str]] = {
        "tradebrain/MarketMaking-v0": "tradebrain.desks.market_making.env:MarketMakingEnv"
    }
    baselines = ("A-S inventory", "symmetric", "GLFT")
    colors: ClassVar[Mapping[str, str]] = {"A-S inventory": "#1f77b4", "symmetric": "#2ca02c", "GLFT": "#9467bd"}
    headline = (
        f"{AGENT}/utility",
        f"{AGENT}_minus_A-S inventory/utility",
        f"{AGENT}_minus_symmetric/utility",
        f"{AGENT}/pnl_mean",
    )
    comparison = ("utility", "pnl_mean")

    @property
    def config_cls(self) -> type[MarketMakingDeskConfig]:
        from tradebrain.desks.market_making.study import MarketMakingDeskConfig

        return MarketMakingDeskConfig

    def train(self, config: MarketMakingDeskConfig, out_dir: Path | None, progress: bool = True) -> TrainedAgent:
        from tradebrain.desks.market_making.study import train

        return train(config, out_dir, progress)

    def evaluate(self, config: MarketMakingDeskConfig, model: Path, progress: bool = True) -> DeskResult:
        from tradebrain.desks.market_making.core import MarketMakingCore
        from tradebrain.desks.market_making.study import baseline_policies, evaluate
        from tradebrain.desks.runs import Evaluation
        from tradebrain.rl.training import load_trained

        core = MarketMakingCore(config, episodes=1)  # its spaces: what the evaluation feeds the model
        agent = load_trained(model, config.train.algo, core.observation_space, core.action_space)
        policies = [*baseline_policies(config, config.evaluate.baselines), agent.policy]
        return Evaluation(config.name, evaluate(config, policies, progress))

    def demo(self, config: MarketMakingDeskConfig, runs_root: Path, progress: bool = True) -> DeskResult:
        from tradebrain.desks.market_making.study import run_study

        return run_study(config, runs_root, progress)

    def print_result(self, result: Mapping[str, Any], console: Console) -> None:
        from tradebrain.desks.market_making.cli import print_result

        print_result(result, console)

    def commands(self) -> typer.Typer:
        from tradebrain.desks.market_making.cli import app

        return app

    def run_cell(self, config: MarketMakingDeskConfig, out_dir: Path, write_report: bool) -> CellOutput:
        from tradebrain.desks.market_making.experiment import run_market_making_cell

        return run_market_making_cell(config, out_dir, write_report)

    def validation_score(self, config: MarketMakingDeskConfig, episodes: int, seed_offset: int) -> Score:
        """Minus the agent's mean-variance utility on the validation episodes (lower is better)."""
        from tradebrain.desks.market_making.evaluate import utility_statistic
        from tradebrain.desks.market_making.runs import run_market_making
        from tradebrain.desks.runs import evaluation_seeds

        seeds = evaluation_seeds(episodes, seed_offset)
        utility = utility_statistic(config.gamma)
        return lambda agent: -float(utility(run_market_making(config, agent.policy, seeds).pnl))


DESK = MarketMakingDesk()
