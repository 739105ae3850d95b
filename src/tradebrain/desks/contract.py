"""The Desk contract: everything the platform (the CLI, the experiment runner, the live node and
the service) needs from a desk, in one object per desk.

A desk is one folder under `tradebrain/desks/` (or in a user's own package) that exports one
`Desk` instance through the `tradebrain.desks` entry-point group (desks/registry.py). The generic
commands (`tradebrain demo|train|evaluate|study <desk>`), the experiment grid and Optuna tuning
work for every registered desk through this contract and nothing else.

Shared steps are written here once (SB3's `common/` is the model): loading a config, the tuning
loop, TensorBoard logging. A desk overrides only what differs. This module stays light (no torch,
no numba): the registry loads every desk object on `import tradebrain` to register its envs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel

if TYPE_CHECKING:
    import typer
    from rich.console import Console

    from tradebrain.risk.gate import RiskGate
    from tradebrain.rl.training import TrainedAgent

AGENT = "agent"
"""Metric prefix of the trained agent in every experiment cell, whatever the algorithm (so cells line up)."""

ConfigT = TypeVar("ConfigT", bound=BaseModel)


@dataclass(frozen=True)
class CellOutput:
    """The measured outcome of one experiment cell.

    `metrics`: flat name -> value (`<policy>/<metric>`, `agent_minus_<baseline>/<metric>`);
    `improvements`: baseline -> per-episode improvement of the agent over it (positive = agent better),
    the raw material of the probability of improvement."""

    metrics: dict[str, float]
    improvements: dict[str, list[float]] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)


ReportValue = Callable[[int, float], bool]
"""Called with (training steps so far, intermediate value); returns True when the trial should stop."""

Score = Callable[["TrainedAgent"], float]
"""A tuning objective of a trained agent on validation data (lower is better)."""


class DeskResult(Protocol):
    """What a desk's demo, study or evaluation returns: printable by the desk, dumpable as JSON."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary for scripts (`--json`)."""
        ...


class LiveStrategy(Protocol):
    """A desk's decision path on a live clock (the node of the paper-trading issue drives it): the
    observation, mask, deterministic policy call, action map and risk gate the backtest runs."""

    def start_session(self, bars_in_session: int) -> None:
        """The next bar stepped is the first of a session of `bars_in_session` bars."""
        ...

    def step(
        self, timestamp: Any, open: float, high: float, low: float, close: float, volume: float,
        vwap: float | None = None,
    ) -> Any:  # fmt: skip
        """Take the newest bar; the decision at its close (its `order` is what to send), or None."""
        ...

    def record_fill(self, quantity: float, price: float, fee: float | None = None, at_open: bool = False) -> None:
        """Book a fill of an order the strategy asked for (`at_open`: at the open of the bar about to be stepped)."""
        ...


class Desk(ABC, Generic[ConfigT]):
    """One desk as the platform sees it. Subclasses set the class attributes and implement the
    abstract methods; every other method has a default that suits most desks."""

    name: ClassVar[str]
    """Registry key, used by experiment specs and the CLI (`tradebrain demo <name>`)."""
    aliases: ClassVar[tuple[str, ...]] = ()
    """Other names the CLI and specs accept (older command names keep working through them)."""
    summary: ClassVar[str]
    """One line for `tradebrain desks`: the problem, the agent and the baselines it must beat."""
    envs: ClassVar[Mapping[str, str]] = {}
    """Gymnasium id -> "module:Class", registered on `import tradebrain` (imported only by gym.make)."""
    baselines: ClassVar[tuple[str, ...]] = ()
    """The classical policies every agent of the desk is compared with."""
    colors: ClassVar[Mapping[str, str]] = {}
    """A fixed colour per baseline, the same in every figure of the desk's reports and experiments."""
    headline: ClassVar[tuple[str, ...]]
    """Cell metrics shown first in experiment tables, in order."""
    comparison: ClassVar[tuple[str, str]]
    """The two metrics compared with each baseline: the desk's objective, then a per-episode mean (each
    present as `<baseline>/<metric>` and `agent_minus_<baseline>/<metric>` in a cell)."""
    options: ClassVar[Mapping[str, str]] = {
        "name": "name", "algo": "train.algo", "timesteps": "train.timesteps", "seed": "train.seed",
        "episodes": "evaluate.episodes",
    }  # fmt: skip
    """Generic CLI option -> the dotted config key it sets; an option missing here does not apply."""
    demo_updates: ClassVar[Mapping[str, Any]] = {}
    """Config updates the demo applies over the config file (command-line options still win)."""

    # ------------------------------------------------------------------------------------ config

    @property
    @abstractmethod
    def config_cls(self) -> type[ConfigT]:
        """The desk's config model (frozen pydantic; imported on first use, so listing desks is cheap)."""

    def config(self, path: Path | None = None, updates: Mapping[str, Any] | None = None) -> ConfigT:
        """The config from a YAML file (embedded defaults when None) with TRADEBRAIN_* overrides, then
        dotted `updates` (None values are skipped); every error names the key to fix."""
        from tradebrain.core.config import load_config, with_updates

        config = load_config(self.config_cls, path)
        return with_updates(config, {key: value for key, value in (updates or {}).items() if value is not None})

    # ---------------------------------------------------------------------------------- research

    @abstractmethod
    def train(self, config: ConfigT, out_dir: Path | None, progress: bool = True) -> TrainedAgent:
        """Train the configured algorithm; with `out_dir`, save `model.zip`, `vecnormalize.pkl` and the
        `model.json` manifest that lets loaders check them (rl.training.save_trained)."""

    @abstractmethod
    def evaluate(self, config: ConfigT, model: Path, progress: bool = True) -> DeskResult:
        """A saved model against the desk's baselines on the same held-out data, paired, with 95% intervals."""

    @abstractmethod
    def demo(self, config: ConfigT, runs_root: Path, progress: bool = True) -> DeskResult:
        """The desk's main job end to end: train, evaluate against the baselines, write
        `runs_root/<name>/report.html` with the raw results beside it."""

    @abstractmethod
    def print_result(self, result: Mapping[str, Any], console: Console) -> None:
        """Show a demo or evaluation result (its `as_dict()`) as tables in the terminal."""

    def commands(self) -> typer.Typer | None:
        """Desk-specific commands, mounted as `tradebrain <name> ...` (closed forms, replications)."""
        return None

    def study_command(self) -> Callable[..., None] | None:
        """The desk's own `tradebrain study <name>` command, when its study has its own options (symbols,
        costs); None: the generic study, several training seeds of the demo aggregated with intervals."""
        return None

    # ------------------------------------------------------------------------------- experiments

    @abstractmethod
    def run_cell(self, config: ConfigT, out_dir: Path, write_report: bool) -> CellOutput:
        """One experiment cell: train, evaluate against the baselines, write the artifacts under `out_dir`."""

    @abstractmethod
    def validation_score(self, config: ConfigT, episodes: int, seed_offset: int) -> Score:
        """How `tradebrain tune` scores an agent during training (lower is better), on validation data
        that no evaluation of the desk uses (`episodes` seeded from `seed_offset`, where that applies)."""

    def tuning_agent(self, config: ConfigT) -> TrainedAgent:
        """The agent a tuning trial trains first (its budget is `config.train.timesteps`), not saved."""
        return self.train(config, None, progress=False)

    def tune_trial(
        self, config: ConfigT, eval_every: int, episodes: int, seed_offset: int, report: ReportValue
    ) -> float:
        """Train in chunks of `eval_every` steps; after each, report the validation score (the pruner
        may stop the trial). Returns the last score (lower is better)."""
        from tradebrain.core.config import with_updates

        total = int(config.train.timesteps)  # type: ignore[attr-defined]
        agent = self.tuning_agent(with_updates(config, {"train.timesteps": min(eval_every, total)}))
        score = self.validation_score(config, episodes, seed_offset)
        while True:
            value = float(score(agent))
            done = agent.timesteps
            if report(done, value) or done >= total:
                return value
            agent.learn_more(min(eval_every, total - done))

    def with_tensorboard(self, config: ConfigT, folder: Path) -> ConfigT:
        """The config with SB3's TensorBoard logging into `folder` (the training itself is unchanged)."""
        from tradebrain.core.config import with_updates

        hyperparams = {**config.train.hyperparams, "tensorboard_log": str(folder)}  # type: ignore[attr-defined]
        return with_updates(config, {"train.hyperparams": hyperparams})

    # -------------------------------------------------------------------------------------- live

    def decision_path(
        self, config: ConfigT, model: Path, symbol: str, gate: RiskGate | None = None
    ) -> LiveStrategy | None:
        """The live decision path of a trained policy for one symbol, or None for a desk that does not
        trade bars (its simulator is the market)."""
        return None
