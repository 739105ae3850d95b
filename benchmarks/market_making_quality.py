"""Market-making quality: does the agent match Avellaneda-Stoikov, and beat it under model mismatch?

Why: the market-making desk's done-when numbers, on the mean-variance utility mean(PnL) -
gamma/2 * var(PnL) over held-out episodes. (a) On the A-S market (`configs/market-making.yaml`) the
agent must beat the symmetric quoter (paired 95% CI above zero) and come within 10% of the A-S
inventory strategy; (b) under mismatch (`configs/market-making-mismatch.yaml`: true fill decay k
half what the strategies assume) it must beat A-S with the paired 95% CI above zero.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table

from benchmarks.paths import CONFIGS, shown
from benchmarks.report import interval, verdict
from tradebrain.backtest.bootstrap import Estimate
from tradebrain.core.config import load_config, with_updates
from tradebrain.desks.market_making.study import MarketMakingDeskConfig, baseline_policies, evaluate, train

GAP_TARGET_PCT = 10.0
STUDIES = (
    ("a-s", CONFIGS / "market-making.yaml", "utility above symmetric (CI > 0) and within 10% of A-S"),
    ("mismatch", CONFIGS / "market-making-mismatch.yaml", "utility above A-S, 95% CI above zero"),
)


@dataclass(frozen=True)
class MarketMakingQuality:
    """One study and one training seed: the agent's utility against the baselines'."""

    name: str
    config: str
    target: str
    seed: int
    train_seconds: float
    utility: dict[str, Estimate]
    minus_as: Estimate
    minus_symmetric: Estimate
    gap_pct: float
    """How far the agent's utility is below A-S's, % of A-S's (negative: above)."""
    passed: bool


def run_market_making_quality(
    seeds: Sequence[int] = (0,),
    timesteps_scale: float = 1.0,
    episodes: int | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> list[MarketMakingQuality]:
    """Both studies for every seed, each trained on its configured budget (times `timesteps_scale`)."""
    notify = on_progress or (lambda _message: None)
    results = []
    for key, path, target in STUDIES:
        config = load_config(MarketMakingDeskConfig, path, environ={})
        updates: dict[str, object] = {"train.timesteps": max(int(config.train.timesteps * timesteps_scale), 1)}
        if episodes is not None:
            updates["evaluate.episodes"] = episodes
        for seed in seeds:
            seeded = with_updates(config, {**updates, "train.seed": seed})
            notify(f"{seeded.name}: seed {seed}, training {seeded.train.timesteps:,} steps, then evaluating")
            results.append(_study(key, path, target, seeded))
    return results


def _study(key: str, path: Path, target: str, config: MarketMakingDeskConfig) -> MarketMakingQuality:
    start = time.perf_counter()
    agent = train(config, None, progress=False)
    seconds = time.perf_counter() - start
    report = evaluate(config, [agent.policy, *baseline_policies(config, ("A-S inventory", "symmetric"))], False)
    metrics = report.metrics[agent.policy.name]
    minus_as, minus_symmetric = metrics["utility_minus_A-S inventory"], metrics["utility_minus_symmetric"]
    as_utility = report.metrics["A-S inventory"]["utility"].value
    gap = -100.0 * minus_as.value / abs(as_utility)
    beats_as = minus_as.low > 0
    passed = beats_as if key == "mismatch" else (minus_symmetric.low > 0 and gap <= GAP_TARGET_PCT)
    utility = {name: values["utility"] for name, values in report.metrics.items()}
    return MarketMakingQuality(
        config.name, shown(path), target, config.train.seed, seconds, utility, minus_as, minus_symmetric, gap, passed
    )


COLUMNS = ("study", "seed", "agent utility $", "A-S $", "symmetric $", "agent − A-S $", "agent − symmetric $",
           "gap to A-S %", "train s", "result")  # fmt: skip


def cells(row: MarketMakingQuality, markup: bool = True) -> list[str]:
    """One table row."""
    agent = next(name for name in row.utility if name not in ("A-S inventory", "symmetric"))
    return [
        row.name, str(row.seed), interval(row.utility[agent], 2), f"{row.utility['A-S inventory'].value:,.2f}",
        f"{row.utility['symmetric'].value:,.2f}", interval(row.minus_as, 2), interval(row.minus_symmetric, 2),
        f"{row.gap_pct:+.1f}", f"{row.train_seconds:.0f}", verdict(row.passed, markup),
    ]  # fmt: skip


def table(rows: list[MarketMakingQuality]) -> Table:
    """The rich table of every study and seed."""
    result = Table(title="Market making: agent vs A-S inventory and symmetric (utility, 95% CIs)")
    for column in COLUMNS:
        result.add_column(column, justify="left" if column == "study" else "right")
    for row in rows:
        result.add_row(*cells(row))
    return result


def markdown(rows: list[MarketMakingQuality]) -> str:
    """The same table in markdown, for results.md."""
    lines = ["", "## Market making: agent vs A-S inventory and symmetric", ""]
    lines += [f"- {key}: {target}" for key, _, target in STUDIES] + [""]
    lines += ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cells(row, markup=False)) + " |" for row in rows]
    return "\n".join(lines) + "\n"
