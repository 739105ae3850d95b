"""The toy desk as the platform sees it: one `Desk` object, published as `toy` through the
`tradebrain.desks` entry-point group (../toy_desk-0.1.0.dist-info/entry_points.txt).

The registry imports this module on `import tradebrain` to register the desk's env, so it imports
only the light contract; everything heavy (torch, stable-baselines3) is imported inside the methods.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from tradebrain.desks.contract import AGENT, CellOutput, Desk, DeskResult, Score

if TYPE_CHECKING:
    import typer
    from rich.console import Console

    from toy_desk.study import ToyDeskConfig
    from tradebrain.rl.training import TrainedAgent


class ToyDesk(Desk["ToyDeskConfig"]):
    """Bet a fraction of wealth on a biased coin: PPO vs the Kelly stake, half-Kelly and all-in."""

    name = "toy"
    summary = "coin betting (test desk): PPO stakes a fraction of wealth on a biased coin vs Kelly, half-Kelly, all-in"
    envs: ClassVar[Mapping[str, str]] = {"toy/CoinBetting-v0": "toy_desk.coin:CoinEnv"}
    baselines = ("Kelly", "half-Kelly", "all-in")
    colors: ClassVar[Mapping[str, str]] = {"Kelly": "#2ca02c", "half-Kelly": "#1f77b4", "all-in": "#7f7f7f"}
    headline = (f"{AGENT}/regret", f"{AGENT}_minus_Kelly/regret", f"{AGENT}_minus_half-Kelly/regret", f"{AGENT}/growth")
    comparison = ("regret", "ruin_rate")

    @property
    def config_cls(self) -> type[ToyDeskConfig]:
        from toy_desk.study import ToyDeskConfig

        return ToyDeskConfig

    def train(self, config: ToyDeskConfig, out_dir: Path | None, progress: bool = True) -> TrainedAgent:
        from toy_desk.study import train

        return train(config, out_dir, progress)

    def evaluate(self, config: ToyDeskConfig, model: Path, progress: bool = True) -> DeskResult:
        from toy_desk.study import baseline_policies, evaluate
        from tradebrain.rl.training import load_trained

        agent = load_trained(model, config.train.algo)
        return evaluate(config, [*baseline_policies(), agent.policy], agent.policy.name)

    def demo(self, config: ToyDeskConfig, runs_root: Path, progress: bool = True) -> DeskResult:
        from toy_desk.study import run_study

        return run_study(config, runs_root, progress)

    def print_result(self, result: Mapping[str, Any], console: Console) -> None:
        from toy_desk.cli import print_result

        print_result(result, console)

    def commands(self) -> typer.Typer:
        from toy_desk.cli import app

        return app

    def run_cell(self, config: ToyDeskConfig, out_dir: Path, write_report: bool) -> CellOutput:
        from toy_desk.study import run_cell

        return run_cell(config, out_dir, write_report)

    def validation_score(self, config: ToyDeskConfig, episodes: int, seed_offset: int) -> Score:
        """The agent's mean regret against the Kelly optimum on the validation episodes (lower is better)."""
        import numpy as np

        from toy_desk.study import run_episodes
        from tradebrain.desks.runs import evaluation_seeds

        seeds = evaluation_seeds(episodes, seed_offset)

        def score(agent: TrainedAgent) -> float:
            outcome = run_episodes(config.game, agent.policy, seeds)
            return float(np.mean(outcome.optimum - outcome.growth))

        return score


DESK = ToyDesk()
