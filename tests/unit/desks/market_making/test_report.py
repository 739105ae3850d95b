from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tradebrain.desks.market_making.baselines import inventory_quotes, symmetric_quotes
from tradebrain.desks.market_making.evaluate import MarketMakingOutcomes, measure_market_making
from tradebrain.desks.market_making.report import write_market_making_report
from tradebrain.desks.market_making.simulator import MarketMakingConfig, MarketMakingSimulator

EPISODES = 60
GAMMA = 0.1
AGENT = "agent (A-S, γ = 1)"
POLICIES = (AGENT, "A-S inventory", "symmetric")
Quotes = Callable[[float, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def simulate(name: str, quotes: Quotes, config: MarketMakingConfig) -> MarketMakingOutcomes:
    """Run a quote function (time, inventory, mid) -> (delta_b, delta_a) on seeds 0..EPISODES-1."""
    sim = MarketMakingSimulator(config, episodes=EPISODES)
    sim.reset(seeds=list(range(EPISODES)))
    steps = config.steps
    inventory, mids = np.empty((EPISODES, steps + 1)), np.empty((EPISODES, steps + 1))
    bids, asks, fills = np.empty((EPISODES, steps)), np.empty((EPISODES, steps)), np.empty((EPISODES, steps))
    inventory[:, 0], mids[:, 0] = sim.inventory, sim.mid
    for step in range(steps):
        bids[:, step], asks[:, step] = quotes(step * config.dt, sim.inventory.copy(), sim.mid.copy())
        sim.step(bids[:, step], asks[:, step])
        fills[:, step] = sim.bid_fills + sim.ask_fills
        inventory[:, step + 1], mids[:, step + 1] = sim.inventory, sim.mid
    return MarketMakingOutcomes(name, sim.profit().copy(), inventory, mids, bids, asks, fills, config.dt)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = MarketMakingConfig()
    outcomes = [
        simulate(AGENT, lambda t, q, s: inventory_quotes(t, q, s, 1.0, config), config),
        simulate("A-S inventory", lambda t, q, s: inventory_quotes(t, q, s, GAMMA, config), config),
        simulate("symmetric", lambda t, q, s: symmetric_quotes(t, q, s, GAMMA, config), config),
    ]
    report = measure_market_making(outcomes, gamma=GAMMA)
    out_dir = tmp_path_factory.mktemp("mm-report")
    path = write_market_making_report(
        report, out_dir, title="mm-check", config=config, agents=[AGENT], notes=["a note for the reader"]
    )
    assert path == out_dir / "report.html"
    return out_dir


def test_figures_are_real_pngs(written: Path) -> None:
    for name in ("quotes.png", "inventory.png", "pnl.png"):
        data = (written / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", name
        assert len(data) > 5_000, name


def test_html_is_self_contained_and_names_everything(written: Path) -> None:
    html = (written / "report.html").read_text()
    assert "mm-check" in html
    for policy in POLICIES:
        assert policy in html
    assert html.count("data:image/png;base64,") == 3
    assert not re.search(r"(src|href)=\"https?://", html)
    assert "a note for the reader" in html
    assert "fill_A" in html  # the config is shown in full
    assert "utility − A-S inventory" in html and "95% CI" in html


def test_raw_data_files(written: Path) -> None:
    metrics = json.loads((written / "metrics.json").read_text())
    assert set(metrics["policies"]) == set(POLICIES)
    assert metrics["gamma"] == GAMMA and metrics["episodes"] == EPISODES
    assert set(metrics["policies"][AGENT]["utility_minus_symmetric"]) == {"value", "low", "high"}
    with (written / "episodes.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(POLICIES) * EPISODES
    assert list(rows[0]) == ["policy", "episode", "pnl", "final_inventory", "max_abs_inventory", "fills"]
    assert abs(float(rows[0]["final_inventory"])) <= float(rows[0]["max_abs_inventory"])
