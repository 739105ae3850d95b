"""The Desk contract proven from outside the package: the coin-betting desk in tests/toy_desk/ is
registered by its own dist-info folder (no install, no edit of tradebrain) and shows up in
`tradebrain desks`, `tradebrain demo`, `tradebrain toy ...`, `tradebrain run` (in spawned worker
processes too) and `gym.make` as soon as its folder is on the Python path.

The CLI runs in subprocesses with PYTHONPATH set, exactly as a user would run it; this process never
gets the folder on its path except inside a monkeypatched test, so the other tests see only the
desks tradebrain ships."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console

from tradebrain.desks.registry import get_desk, load_registry

TOY = Path(__file__).resolve().parents[1] / "toy_desk"
"""The folder holding the toy desk's package and its dist-info (what goes on the path)."""
CLI = "from tradebrain.cli import app; app(prog_name='tradebrain')"
TINY = ["--timesteps", "1024", "--episodes", "40"]
SpecWriter = Callable[..., Path]
"""The `make_spec` fixture of tests/conftest.py."""


def _python_path(with_toy: bool) -> str:
    """This process's PYTHONPATH without the toy folder, with it prepended when asked."""
    kept = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and Path(p).resolve() != TOY]
    return os.pathsep.join([str(TOY), *kept] if with_toy else kept)


def _python(*args: str, cwd: Path, with_toy: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": _python_path(with_toy), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def tradebrain(*args: str, cwd: Path, with_toy: bool = True) -> subprocess.CompletedProcess[str]:
    """The real `tradebrain` command line in a fresh process (the toy folder on its path, or not)."""
    return _python("-c", CLI, *args, cwd=cwd, with_toy=with_toy)


def _json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def _check_interval(estimate: dict[str, float], what: str) -> None:
    assert estimate["low"] <= estimate["value"] <= estimate["high"], what


# ------------------------------------------------------------------------------- in this process


def test_the_kelly_stake_beats_all_in_on_expected_log_growth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(TOY))
    from toy_desk.coin import CoinCore, GameConfig, expected_log_growth, kelly_fraction, optimal_growth

    p = np.linspace(0.55, 0.95, 9)
    kelly = expected_log_growth(kelly_fraction(p), p)
    assert np.all(kelly > expected_log_growth(kelly_fraction(p) / 2, p))
    assert np.all(kelly > expected_log_growth(0.99, p))  # all-in (at the largest stake) loses, for every edge
    stakes = np.linspace(0.0, 0.99, 199)[:, None]
    assert np.all(expected_log_growth(stakes, p).max(axis=0) <= kelly + 1e-12)  # 2p - 1 is the optimum
    assert np.allclose(kelly, p * np.log(2 * p) + (1 - p) * np.log(2 - 2 * p))  # log 2 - H(p), in nats

    game = GameConfig(rounds=10)  # the simulated Kelly bettor grows as the closed form says
    core = CoinCore(game, 20_000)
    observations = core.reset(list(range(20_000)))
    for _ in range(game.rounds):
        core.step(kelly_fraction(observations[:, 0]))
        observations = core.observation
    gap = core.log_wealth - optimal_growth(core.p, game)
    assert abs(gap.mean()) < 4 * gap.std() / np.sqrt(gap.size)


def test_the_single_env_equals_the_batched_core_seed_for_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(TOY))
    from toy_desk.coin import CoinCore, CoinEnv, GameConfig

    game, seeds, stakes = GameConfig(rounds=6), [3, 11, 42], np.array([0.1, 0.5, 0.99])
    core = CoinCore(game, len(seeds))
    core.reset(seeds)
    batched = []
    for _ in range(game.rounds):
        core.step(stakes)
        batched.append(core.reward.copy())
    for i, seed in enumerate(seeds):
        env = CoinEnv(game)
        env.reset(seed=seed)
        rewards = [env.step(np.array([stakes[i]], dtype=np.float32))[1] for _ in range(game.rounds)]
        assert np.allclose(rewards, [row[i] for row in batched], atol=1e-6)  # float32 actions in the env


def test_the_registry_finds_the_toy_desk_when_its_folder_joins_the_path(monkeypatch: pytest.MonkeyPatch) -> None:
    without = [p for p in sys.path if Path(p or ".").resolve() != TOY]
    monkeypatch.setattr(sys, "path", without)
    assert "toy" not in load_registry().desks
    monkeypatch.setattr(sys, "path", [str(TOY), *without])  # a new cache key: the entry points are read again
    registry = load_registry()
    assert "toy" in registry.desks, registry.broken
    assert registry.desks["toy"].envs == {"toy/CoinBetting-v0": "toy_desk.coin:CoinEnv"}
    assert set(registry.desks) > {"execution", "market-making", "daytrading"}


# ----------------------------------------------------------------------------- the command line


def test_desks_lists_the_toy_desk(tmp_path: Path) -> None:
    listed = tradebrain("desks", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert any(line.startswith("toy ") and "Kelly" in line for line in listed.stdout.splitlines()), listed.stdout
    data = _json(tradebrain("desks", "--json", cwd=tmp_path))
    toy = next(desk for desk in data["desks"] if desk["name"] == "toy")
    assert toy["envs"] == ["toy/CoinBetting-v0"]
    assert toy["baselines"] == ["Kelly", "half-Kelly", "all-in"]
    assert data["broken"] == []
    closed_form = _json(tradebrain("toy", "kelly", "--p", "0.6", "--json", cwd=tmp_path))  # the desk's own command
    growth = {name: row["growth_per_bet"] for name, row in closed_form["policies"].items()}
    assert closed_form["policies"]["Kelly"]["stake"] == pytest.approx(0.2)
    assert growth["Kelly"] > growth["half-Kelly"] > 0 > growth["all-in"]


def test_demo_trains_evaluates_and_reports_then_the_model_evaluates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _json(tradebrain("demo", "toy", *TINY, "--name", "tiny", "--out", str(tmp_path), "--json", cwd=tmp_path))
    assert data["name"] == "tiny" and data["episodes"] == 40
    assert set(data["policies"]) == {"Kelly", "half-Kelly", "all-in", "PPO"}
    for policy, metrics in data["policies"].items():
        for metric in ("growth", "regret", "median_wealth", "ruin_rate"):
            _check_interval(metrics[metric], f"{policy} {metric}")
    assert set(data["agent_minus"]) == {"Kelly", "half-Kelly", "all-in"}
    for baseline, difference in data["agent_minus"].items():
        _check_interval(difference["growth"], baseline)
    assert data["policies"]["Kelly"]["growth"]["value"] > data["policies"]["all-in"]["growth"]["value"]
    run_dir = tmp_path / "tiny"
    for name in ("report.html", "metrics.json", "model.zip", "config.yaml"):
        assert (run_dir / name).is_file(), name

    monkeypatch.syspath_prepend(str(TOY))  # the saved model through the desk object, in this process
    desk = get_desk("toy")
    evaluated = desk.evaluate(desk.config(None, {"evaluate.episodes": 20}), Path(data["model"]), progress=False)
    result = evaluated.as_dict()
    assert result["episodes"] == 20 and set(result["policies"]) == set(data["policies"])
    screen = io.StringIO()
    desk.print_result(result, Console(file=screen, width=200))
    assert "half-Kelly" in screen.getvalue()


def test_an_experiment_of_the_toy_desk_runs_in_spawned_workers(tmp_path: Path, make_spec: SpecWriter) -> None:
    base = {"train": {"timesteps": 512, "n_envs": 8, "hyperparams": {"n_steps": 32, "batch_size": 64}},
            "evaluate": {"episodes": 30}}  # fmt: skip
    spec = make_spec("toy-seeds", desk="toy", base=base, seeds=[0, 1], write_report=True)
    runs = tmp_path / "runs"
    data = _json(
        tradebrain(
            "run", str(spec), "--workers", "2", "--no-tracking", "--runs-root", str(runs), "--json", cwd=tmp_path
        )
    )
    assert (data["completed"], data["failed"]) == (2, 0), data["cells"]
    (summary,) = data["configurations"]
    assert summary["seeds"] == [0, 1]
    for metric in ("agent/regret", "agent_minus_Kelly/regret", "agent_minus_all-in/ruin_rate", "Kelly/growth"):
        assert summary["metrics"][metric]["n"] == 2, metric
    assert set(summary["probability_of_improvement"]) == {"Kelly", "half-Kelly", "all-in"}
    assert summary["probability_of_improvement"]["all-in"]["value"] > 0.5  # staking nearly everything ruins
    for cell in data["cells"]:
        assert (Path(cell["out_dir"]) / "report.html").is_file()


def test_gym_make_finds_the_toy_env_after_import_tradebrain(tmp_path: Path) -> None:
    script = (
        "import json, gymnasium as gym, tradebrain\n"
        "env = gym.make('toy/CoinBetting-v0', rounds=3)\n"
        "obs, info = env.reset(seed=7)\n"
        "steps = [env.step(env.action_space.sample())[2] for _ in range(3)]\n"
        "print(json.dumps({'obs': obs.tolist(), 'terminated': steps}))\n"
    )
    result = _python("-c", script, cwd=tmp_path)
    data = _json(result)
    assert len(data["obs"]) == 2 and data["obs"][1] == 1.0
    assert data["terminated"] == [False, False, True]


def test_without_its_folder_on_the_path_the_toy_desk_is_unknown(tmp_path: Path) -> None:
    result = tradebrain("demo", "toy", *TINY, "--out", str(tmp_path), cwd=tmp_path, with_toy=False)
    assert result.returncode == 2, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    assert "unknown desk 'toy'" in message and "registered desks:" in message
    assert all(name in message.split("registered desks:")[1] for name in ("execution", "market-making", "daytrading"))
