"""The CLI as a new user meets it with bad input: every case ends in exit code 2 and one message that
names the file, option or field (no traceback), or is accepted only where the input is valid.

One table, one row per input; the workspace (seeded bar files, broken files, configs, a tiny trained
model, a store) is built once for the module. Parser errors (a word where a number goes) are
click's own exit 2 with a usage line; everything else goes through tradebrain's error handler.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from tradebrain.cli import app
from tradebrain.data.features import FEATURE_NAMES

runner = CliRunner()
BAD_DSN = "postgresql://nobody@127.0.0.1:1/nowhere"


@dataclass(frozen=True)
class Case:
    """One command line (`{ws}` is the workspace folder), the exit code and a text the output must hold."""

    id: str
    args: list[str]
    expect: str
    code: int = 2
    env: dict[str, str] = field(default_factory=dict)


def _bars(rows: int = 60, seed: int = 7) -> pd.DataFrame:
    """Seeded daily bars, timestamps as ISO dates (midnight UTC)."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, rows)))
    open_ = close * np.exp(rng.normal(0, 0.003, rows))
    high = np.maximum(open_, close) * 1.004
    low = np.minimum(open_, close) * 0.996
    stamps = pd.bdate_range("2024-01-02", periods=rows)
    return pd.DataFrame(
        {"timestamp": stamps.strftime("%Y-%m-%d"), "open": open_.round(4), "high": high.round(4),
         "low": low.round(4), "close": close.round(4), "volume": rng.integers(1_000, 9_000, rows)}
    )  # fmt: skip


def _write_files(ws: Path) -> None:
    good = _bars()
    good.to_csv(ws / "good.csv", index=False)
    text = (ws / "good.csv").read_text()
    noted = good.assign(note=["café"] + ["-"] * (len(good) - 1))
    (ws / "latin1.csv").write_bytes(noted.to_csv(index=False).encode("latin-1"))
    (ws / "utf16.csv").write_bytes(text.encode("utf-16"))
    lines = text.splitlines()
    (ws / "ragged.csv").write_text("\n".join([*lines[:10], lines[10] + ",7,8", *lines[11:]]) + "\n")
    (ws / "semicolon.csv").write_text(text.replace(",", ";"))
    (ws / "empty.csv").write_bytes(b"")
    (ws / "header_only.csv").write_text(lines[0] + "\n")
    (ws / "garbage.csv").write_bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    (ws / "folder.csv").mkdir()

    def variant(name: str, frame: pd.DataFrame) -> None:
        frame.to_csv(ws / name, index=False)

    offsets = ["-05:00" if i % 2 else "-04:00" for i in range(len(good))]
    variant(
        "mixed_tz.csv",
        good.assign(timestamp=[f"{d}T14:30:00{o}" for d, o in zip(good["timestamp"], offsets, strict=True)]),
    )
    naive_aware = [f"{d}T14:30:00" + ("+00:00" if i % 3 == 0 else "") for i, d in enumerate(good["timestamp"])]
    variant("naive_aware.csv", good.assign(timestamp=naive_aware))
    variant("year3000.csv", good.assign(timestamp=[*good["timestamp"][:-1], "3000-01-02"]))
    variant("year1700.csv", good.assign(timestamp=["1700-01-04", *good["timestamp"][1:]]))
    variant("century_gap.csv", good.assign(timestamp=["1850-01-04", *good["timestamp"][1:]]))
    variant("nan_close.csv", good.assign(close=[np.nan, *good["close"][1:]]))
    variant("negative.csv", good.assign(open=[-1.0, *good["open"][1:]]))
    variant("zero_price.csv", good.assign(low=[0.0, *good["low"][1:]]))
    variant("unsorted.csv", good.iloc[[1, 0, *range(2, len(good))]])
    variant("duplicate.csv", pd.concat([good.iloc[:5], good.iloc[4:]]))
    variant("high_low.csv", good.assign(high=[good["low"][0] * 0.9, *good["high"][1:]]))
    variant("missing_volume.csv", good.drop(columns="volume"))
    variant("word_ts.csv", good.assign(timestamp=["yesterday", *good["timestamp"][1:]]))
    variant("bool_text_volume.csv", good.assign(volume=["true"] * len(good)))
    variant("negative_volume.csv", good.assign(volume=[-5, *good["volume"][1:]]))
    variant("inf_high.csv", good.assign(high=[np.inf, *good["high"][1:]]))
    variant("no_time.csv", good.drop(columns="timestamp"))

    frame = good.assign(timestamp=pd.to_datetime(good["timestamp"], utc=True))
    frame.to_parquet(ws / "good.parquet")
    frame.assign(timestamp=frame["timestamp"].astype("int64") // 10**9).to_parquet(ws / "int_ts.parquet")
    frame.assign(volume=frame["volume"] > 3_000).to_parquet(ws / "bool_volume.parquet")
    frame.assign(close=frame["close"].astype(str).astype("category")).to_parquet(ws / "category_close.parquet")
    data = (ws / "good.parquet").read_bytes()
    (ws / "truncated.parquet").write_bytes(data[: len(data) // 2])
    (ws / "text.parquet").write_text("this is not parquet")

    configs = {
        "dup_keys.yaml": "train:\n  timesteps: 100\n  timesteps: 200\n",
        "dup_top.yaml": "name: a\nname: b\n",
        "invalid.yaml": "train: [1,\n",
        "list.yaml": "- 1\n- 2\n",
        "unknown_key.yaml": "trian:\n  timesteps: 100\n",
        "neg_lr.yaml": "train:\n  hyperparams:\n    learning_rate: -0.1\n",
        "zero_width.yaml": "train:\n  net_arch: [0, 64]\n",
        "neg_width.yaml": "train:\n  net_arch: [64, -3]\n",
        "bad_hyper_key.yaml": "train:\n  hyperparams:\n    learning_rat: 0.001\n",
        "bad_gamma.yaml": "train:\n  hyperparams:\n    gamma: 1.5\n",
        "zero_batch.yaml": "train:\n  hyperparams:\n    batch_size: 0\n",
        "nan.yaml": "market:\n  sigma: .nan\n",
        "wrong_type.yaml": "task:\n  steps: many\n",
        "neg_timesteps.yaml": "train:\n  timesteps: -5\n",
        "tab.yaml": "train:\n\ttimesteps: 5\n",
    }
    for name, content in configs.items():
        (ws / name).write_text(content)
    (ws / "latin1.yaml").write_bytes("name: caf\xe9\n".encode("latin-1"))

    spec = {"name": "tiny", "desk": "execution", "base": {"train": {"timesteps": 64}}, "seeds": [0],
            "tensorboard": False, "write_report": False,
            "tune": {"space": {"train.hyperparams.learning_rate": {"type": "float", "low": 1e-4, "high": 1e-3}},
                     "trials": 1, "eval_every": 32, "eval_episodes": 10}}  # fmt: skip
    (ws / "spec.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    (ws / "spec_dup.yaml").write_text("name: tiny\nname: other\ndesk: execution\n")
    (ws / "spec_bad_desk.yaml").write_text("name: tiny\ndesk: nodesk\n")
    (ws / "spec_bad_grid.yaml").write_text("name: tiny\ndesk: execution\ngrid:\n  train.nope: [1, 2]\n")
    (ws / "spec_bad_name.yaml").write_text("name: 'a b/c'\ndesk: execution\n")
    (ws / "a_file").write_text("a file where a folder is expected")

    for name in ("empty.zip", "text.zip"):
        (ws / name).write_bytes(b"" if name == "empty.zip" else b"not a zip at all")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = tmp_path_factory.mktemp("bad-inputs")
    _write_files(ws)
    trained = runner.invoke(app, ["train", "execution", "--timesteps", "64", "--out", str(ws), "--name", "model"])
    assert trained.exit_code == 0, trained.output
    sac = ["train", "execution", "--algo", "sac", "--timesteps", "64", "--out", str(ws), "--name", "sac"]
    assert runner.invoke(app, [*sac, "--set", "train.hyperparams.learning_starts=0"]).exit_code == 0
    imported = runner.invoke(
        app, ["data", "import", str(ws / "good.csv"), "--symbol", "GOOD", "--store", str(ws / "store")]
    )
    assert imported.exit_code == 0, imported.output
    return ws


IMPORT = ["data", "import"]
VALIDATE = ["data", "validate"]
STORE = ["--store", "{ws}/store"]
TRAIN = ["train", "execution", "--timesteps", "64", "--out", "{ws}/runs"]
EVALUATE = ["evaluate", "execution", "--episodes", "10"]
BACKTEST = ["backtest", "--data", "{ws}/good.csv"]
SQRT_IMPACT = ["--impact", "sqrt", "--impact-coefficient", "0.5"]
LIMIT_ORDERS = ["--orders", "limit", "--limit-offset-bps", "5"]

CASES: list[Case] = [
    # --- files: encodings, delimiters, ragged rows
    Case("latin1-csv", [*IMPORT, "{ws}/latin1.csv", "--symbol", "X", *STORE], "--encoding"),
    Case("latin1-csv-validate", [*VALIDATE, "{ws}/latin1.csv", "--symbol", "X"], "latin1.csv"),
    Case(
        "latin1-csv-encoding-given", [*VALIDATE, "{ws}/latin1.csv", "--symbol", "X", "--encoding", "latin-1"], "60", 0
    ),
    Case("utf16-csv", [*VALIDATE, "{ws}/utf16.csv", "--symbol", "X"], "--encoding"),
    Case("utf16-csv-encoding-given", [*VALIDATE, "{ws}/utf16.csv", "--symbol", "X", "--encoding", "utf-16"], "60", 0),
    Case("unknown-encoding", [*VALIDATE, "{ws}/good.csv", "--symbol", "X", "--encoding", "klingon"], "klingon"),
    Case("ragged-row", [*VALIDATE, "{ws}/ragged.csv", "--symbol", "X"], "ragged.csv"),
    Case("semicolons", [*VALIDATE, "{ws}/semicolon.csv", "--symbol", "X"], "--delimiter"),
    Case("semicolons-delimiter-given", [*VALIDATE, "{ws}/semicolon.csv", "--symbol", "X", "--delimiter", ";"], "60", 0),
    Case("empty-file", [*VALIDATE, "{ws}/empty.csv", "--symbol", "X"], "empty"),
    Case("header-only", [*VALIDATE, "{ws}/header_only.csv", "--symbol", "X"], "no data rows"),
    Case("binary-garbage", [*VALIDATE, "{ws}/garbage.csv", "--symbol", "X"], "garbage.csv"),
    Case("folder-as-file", [*VALIDATE, "{ws}/folder.csv", "--symbol", "X"], "folder.csv"),
    Case("missing-file", [*IMPORT, "{ws}/nope.csv", "--symbol", "X", *STORE], "nope.csv"),
    Case("import-no-symbol", [*IMPORT, "{ws}/good.csv", *STORE], "--symbol"),
    Case("import-nothing", [*IMPORT, *STORE], "FILE"),
    Case("import-unknown-dataset", [*IMPORT, "--dataset", "nope", *STORE], "nope"),
    # --- timestamps
    Case("mixed-offsets-become-utc", [*VALIDATE, "{ws}/mixed_tz.csv", "--symbol", "X"], "60", 0),
    Case("naive-mixed-with-aware", [*VALIDATE, "{ws}/naive_aware.csv", "--symbol", "X"], "naive"),
    Case("year-3000", [*VALIDATE, "{ws}/year3000.csv", "--symbol", "X"], "3000"),
    Case("year-1700", [*VALIDATE, "{ws}/year1700.csv", "--symbol", "X"], "1700"),
    Case("century-gap", [*VALIDATE, "{ws}/century_gap.csv", "--symbol", "X"], "timestamp"),
    Case("word-timestamp", [*VALIDATE, "{ws}/word_ts.csv", "--symbol", "X"], "yesterday"),
    Case("no-timestamp-column", [*VALIDATE, "{ws}/no_time.csv", "--symbol", "X"], "timestamp"),
    Case("unknown-tz", [*VALIDATE, "{ws}/good.csv", "--symbol", "X", "--tz", "Mars/Phobos"], "Mars/Phobos"),
    Case("integer-timestamps", [*IMPORT, "{ws}/int_ts.parquet", "--symbol", "X", *STORE], "timestamp"),
    Case(
        "integer-timestamps-unit-given",
        [*VALIDATE, "{ws}/int_ts.parquet", "--symbol", "X", "--timestamp-unit", "s"],
        "60",
        0,
    ),
    Case(
        "bad-timestamp-unit",
        [*VALIDATE, "{ws}/int_ts.parquet", "--symbol", "X", "--timestamp-unit", "years"],
        "--timestamp-unit",
    ),
    Case("unsorted", [*VALIDATE, "{ws}/unsorted.csv", "--symbol", "X"], "not after the previous bar"),
    Case("unsorted-repaired", [*IMPORT, "{ws}/unsorted.csv", "--symbol", "U", "--repair", *STORE], "60", 0),
    Case("duplicate-timestamps", [*VALIDATE, "{ws}/duplicate.csv", "--symbol", "X"], "repeats"),
    # --- values
    Case("nan-close", [*VALIDATE, "{ws}/nan_close.csv", "--symbol", "X"], "close"),
    Case("negative-price", [*VALIDATE, "{ws}/negative.csv", "--symbol", "X"], "open"),
    Case("zero-price", [*VALIDATE, "{ws}/zero_price.csv", "--symbol", "X"], "low"),
    Case("high-below-low", [*VALIDATE, "{ws}/high_low.csv", "--symbol", "X"], "high"),
    Case("infinite-high", [*VALIDATE, "{ws}/inf_high.csv", "--symbol", "X"], "high"),
    Case("negative-volume", [*VALIDATE, "{ws}/negative_volume.csv", "--symbol", "X"], "volume"),
    Case("missing-volume", [*VALIDATE, "{ws}/missing_volume.csv", "--symbol", "X"], "volume"),
    Case("boolean-text-volume", [*VALIDATE, "{ws}/bool_text_volume.csv", "--symbol", "X"], "volume"),
    Case("boolean-volume", [*VALIDATE, "{ws}/bool_volume.parquet", "--symbol", "X"], "volume"),
    Case("categorical-close", [*VALIDATE, "{ws}/category_close.parquet", "--symbol", "X"], "close"),
    Case("truncated-parquet", [*VALIDATE, "{ws}/truncated.parquet", "--symbol", "X"], "truncated.parquet"),
    Case("text-as-parquet", [*VALIDATE, "{ws}/text.parquet", "--symbol", "X"], "text.parquet"),
    Case("good-parquet", [*VALIDATE, "{ws}/good.parquet", "--symbol", "X"], "60", 0),
    # --- the store and its commands
    Case("show-unknown-symbol", ["data", "show", "GOOF", *STORE], "GOOD"),
    Case(
        "show-start-after-end",
        ["data", "show", "GOOD", "--start", "2024-03-01", "--end", "2024-02-01", *STORE],
        "--start",
    ),
    Case("show-bad-start", ["data", "show", "GOOD", "--start", "someday", *STORE], "--start"),
    Case("show-bad-end", ["data", "show", "GOOD", "--end", "2024-13-45", *STORE], "--end"),
    Case("show-negative-rows", ["data", "show", "GOOD", "--rows", "-3", *STORE], "--rows"),
    Case("show-word-rows", ["data", "show", "GOOD", "--rows", "three", *STORE], "--rows"),
    Case("show-good", ["data", "show", "GOOD", "--rows", "2", *STORE], "60 bars", 0),
    Case("list-missing-store", ["data", "list", "--store", "{ws}/no-such-store"], "no-such-store"),
    Case("list-store-is-a-file", ["data", "list", "--store", "{ws}/a_file"], "a_file"),
    Case("show-missing-store", ["data", "show", "GOOD", "--store", "{ws}/no-such-store"], "no-such-store"),
    Case("features-unknown-symbol", ["data", "features", "NOPE", *STORE], "NOPE"),
    Case("features-csv-out-ok", ["data", "features", "GOOD", "--out", "{ws}/features.csv", *STORE], "GOOD", 0),
    Case("features-unknown-suffix", ["data", "features", "GOOD", "--out", "{ws}/features.xlsx", *STORE], ".xlsx"),
    Case("features-out-in-a-file", ["data", "features", "GOOD", "--out", "{ws}/a_file/f.parquet", *STORE], "a_file"),
    Case("import-into-a-file", [*IMPORT, "{ws}/good.csv", "--symbol", "X", "--store", "{ws}/a_file"], "a_file"),
    Case("postgres-unreachable", ["data", "list", "--postgres", BAD_DSN], "127.0.0.1:1"),
    Case("postgres-malformed-dsn", ["data", "list", "--postgres", "not a dsn"], "--postgres"),
    Case("doctor-missing-store", ["data", "doctor", "--store", "{ws}/no-such-store"], "no-such-store"),
    # --- configs
    Case("config-missing", ["config", "show", "execution", "-c", "{ws}/nope.yaml"], "nope.yaml"),
    Case("config-duplicate-keys", ["config", "show", "execution", "-c", "{ws}/dup_keys.yaml"], "timesteps"),
    Case("config-duplicate-top-key", ["config", "show", "execution", "-c", "{ws}/dup_top.yaml"], "appears twice"),
    Case("config-invalid-yaml", ["config", "show", "execution", "-c", "{ws}/invalid.yaml"], "invalid.yaml"),
    Case("config-tab-indent", ["config", "show", "execution", "-c", "{ws}/tab.yaml"], "tab.yaml"),
    Case("config-a-list", ["config", "show", "execution", "-c", "{ws}/list.yaml"], "mapping"),
    Case("config-unknown-key", ["config", "show", "execution", "-c", "{ws}/unknown_key.yaml"], "did you mean 'train'"),
    Case("config-not-utf8", ["config", "show", "execution", "-c", "{ws}/latin1.yaml"], "UTF-8"),
    Case("config-nan", ["config", "show", "execution", "-c", "{ws}/nan.yaml"], "market.sigma"),
    Case("config-wrong-type", ["config", "show", "execution", "-c", "{ws}/wrong_type.yaml"], "task.steps"),
    Case(
        "config-negative-timesteps", ["config", "show", "execution", "-c", "{ws}/neg_timesteps.yaml"], "train.timesteps"
    ),
    Case("config-negative-learning-rate", ["config", "show", "execution", "-c", "{ws}/neg_lr.yaml"], "learning_rate"),
    Case("config-zero-layer-width", ["config", "show", "execution", "-c", "{ws}/zero_width.yaml"], "net_arch"),
    Case("config-negative-layer-width", ["config", "show", "execution", "-c", "{ws}/neg_width.yaml"], "net_arch"),
    Case(
        "config-unknown-hyperparameter",
        ["config", "show", "execution", "-c", "{ws}/bad_hyper_key.yaml"],
        "learning_rat",
    ),
    Case("config-gamma-above-one", ["config", "show", "execution", "-c", "{ws}/bad_gamma.yaml"], "gamma"),
    Case("config-zero-batch", ["config", "show", "execution", "-c", "{ws}/zero_batch.yaml"], "batch_size"),
    Case("config-a-folder", ["config", "show", "execution", "-c", "{ws}/folder.csv"], "folder.csv"),
    Case("config-unknown-desk", ["config", "show", "nodesk"], "nodesk"),
    Case(
        "env-malformed-yaml",
        ["config", "show", "execution"],
        "TRADEBRAIN_TASK__STEPS",
        env={"TRADEBRAIN_TASK__STEPS": "[1,"},
    ),
    Case("env-unknown-key", ["config", "show", "execution"], "market.sigmaa", env={"TRADEBRAIN_MARKET__SIGMAA": "1"}),
    Case("env-near-miss-top-key", ["config", "show", "execution"], "TRADEBRAIN_NAME", env={"TRADEBRAIN_NAEM": "x"}),
    Case("env-bad-value", ["config", "show", "execution"], "task.steps", env={"TRADEBRAIN_TASK__STEPS": "-3"}),
    Case(
        "env-top-key-accepted",
        ["config", "show", "execution"],
        "name: from-env",
        0,
        env={"TRADEBRAIN_NAME": "from-env"},
    ),
    Case(
        "env-through-a-value",
        ["config", "show", "execution"],
        "train.timesteps",
        env={"TRADEBRAIN_TRAIN__TIMESTEPS__X": "1"},
    ),
    # --- command options of train / demo / evaluate
    Case("set-without-equals", [*TRAIN, "--set", "train.seed"], "KEY=VALUE"),
    Case("set-unknown-key", [*TRAIN, "--set", "trian.seed=1"], "trian"),
    Case("set-malformed-yaml", [*TRAIN, "--set", "train.net_arch=[1,"], "--set"),
    Case("set-negative-learning-rate", [*TRAIN, "--set", "train.hyperparams.learning_rate=-1"], "learning_rate"),
    Case("set-zero-width", [*TRAIN, "--set", "train.net_arch=[0]"], "net_arch"),
    Case("train-unknown-desk", ["train", "nodesk"], "nodesk"),
    Case("train-unknown-algo", [*TRAIN, "--algo", "a2c-plus"], "a2c-plus"),
    Case("train-algo-wrong-for-desk", ["train", "market-making", "--algo", "dqn", "--timesteps", "64"], "dqn"),
    Case("train-zero-timesteps", [*TRAIN, "--timesteps", "0"], "timesteps"),
    Case("train-word-timesteps", ["train", "execution", "--timesteps", "lots"], "--timesteps"),
    Case("train-negative-seed", [*TRAIN, "--seed", "-1"], "seed"),
    Case("train-option-desk-lacks", ["train", "execution", "--episodes", "3"], "--episodes"),
    Case("train-out-is-a-file", ["train", "execution", "--timesteps", "64", "--out", "{ws}/a_file"], "a_file"),
    Case(
        "train-out-not-writable",
        ["train", "execution", "--timesteps", "64", "--out", "/sys/tradebrain-runs"],
        "/sys/tradebrain-runs",
    ),
    Case("demo-zero-episodes", ["demo", "execution", "--episodes", "0", "--out", "{ws}/runs"], "episodes"),
    Case("evaluate-missing-model", [*EVALUATE, "--model", "{ws}/nope.zip"], "nope.zip"),
    Case("evaluate-empty-model", [*EVALUATE, "--model", "{ws}/empty.zip"], "empty.zip"),
    Case("evaluate-text-model", [*EVALUATE, "--model", "{ws}/text.zip"], "text.zip"),
    Case("evaluate-csv-as-model", [*EVALUATE, "--model", "{ws}/good.csv"], "good.csv"),
    Case("evaluate-folder-as-model", [*EVALUATE, "--model", "{ws}/model"], "model"),
    Case("evaluate-wrong-algo", [*EVALUATE, "--model", "{ws}/model/model.zip", "--algo", "sac"], "ppo"),
    Case("evaluate-sac-as-ppo", [*EVALUATE, "--model", "{ws}/sac/model.zip", "--algo", "ppo"], "sac"),
    Case(
        "evaluate-other-desk",
        ["evaluate", "market-making", "--episodes", "10", "--model", "{ws}/model/model.zip"],
        "shape",
    ),
    Case("evaluate-other-shape", [*EVALUATE, "--model", "{ws}/model/model.zip", "--set", "market.lookback=6"], "shape"),
    Case("evaluate-good", [*EVALUATE, "--model", "{ws}/model/model.zip"], "PPO", 0),
    # --- backtest
    Case("backtest-window-longer-than-data", [*BACKTEST, "--slow", "500"], "--slow"),
    Case("backtest-fast-not-below-slow", [*BACKTEST, "--fast", "30", "--slow", "20"], "--fast"),
    Case("backtest-zero-window", [*BACKTEST, "--fast", "0"], "--fast"),
    Case("backtest-negative-cash", [*BACKTEST, "--cash", "-100"], "--cash"),
    Case("backtest-negative-commission", [*BACKTEST, "--commission", "-0.1"], "--commission"),
    Case("backtest-commission-above-one", [*BACKTEST, "--commission", "1.5"], "--commission"),
    Case("backtest-unknown-policy", [*BACKTEST, "--policy", "moonshot"], "moonshot"),
    Case("backtest-unknown-fill", [*BACKTEST, "--fill", "tomorrow"], "--fill"),
    Case("backtest-negative-spread", [*BACKTEST, "--spread", "fixed", "--spread-bps", "-5"], "--spread-bps"),
    Case("backtest-unknown-spread-model", [*BACKTEST, "--spread", "bogus"], "--spread"),
    Case("backtest-negative-latency", [*BACKTEST, "--latency-bars", "-1"], "--latency-bars"),
    Case("backtest-latency-longer-than-data", [*BACKTEST, "--latency-bars", "100000"], "--latency-bars"),
    Case("backtest-limit-orders-without-offset", [*BACKTEST, "--orders", "limit"], "--limit-offset-bps"),
    Case(
        "backtest-negative-limit-offset",
        [*BACKTEST, "--orders", "limit", "--limit-offset-bps", "-5"],
        "--limit-offset-bps",
    ),
    Case("backtest-limit-offset-with-market-orders", [*BACKTEST, "--limit-offset-bps", "5"], "--orders limit"),
    Case("backtest-unknown-order-kind-not-limit", [*BACKTEST, "--orders", "iceberg"], "--orders"),
    Case(
        "backtest-negative-impact-coefficient",
        [*BACKTEST, "--impact", "sqrt", "--impact-coefficient", "-1"],
        "--impact-coefficient",
    ),
    Case("backtest-sqrt-impact-without-coefficient", [*BACKTEST, "--impact", "sqrt"], "--impact-coefficient"),
    Case("backtest-unknown-impact-model", [*BACKTEST, "--impact", "linear"], "--impact"),
    Case(
        "backtest-sqrt-impact-and-limit-orders-good",
        [*BACKTEST, *SQRT_IMPACT, *LIMIT_ORDERS, "--json"],
        "sqrt impact 0.5, limit orders 5 bps",
        0,
    ),
    Case("backtest-missing-data", ["backtest", "--data", "{ws}/nope.csv"], "nope.csv"),
    Case("backtest-latin1-data", ["backtest", "--data", "{ws}/latin1.csv"], "latin1.csv"),
    Case("backtest-out-is-a-file", [*BACKTEST, "--out", "{ws}/a_file/bt"], "a_file"),
    # --- desk commands
    Case("analyze-extreme-drift", ["execution", "analyze"], "drift", env={"TRADEBRAIN_MARKET__DRIFT": "1e305"}),
    Case(
        "analyze-large-drift-is-finite",
        ["execution", "analyze"],
        "AC-optimal",
        0,
        env={"TRADEBRAIN_MARKET__DRIFT": "1e6"},
    ),
    Case("analyze-negative-lambda", ["execution", "analyze", "--lambda", "-1"], "lambda"),
    Case("replicate-zero-gamma", ["market-making", "replicate", "--gamma", "0"], "gamma"),
    Case("replicate-one-path", ["market-making", "replicate", "--paths", "1"], "paths"),
    Case("daytrading-study-no-data", ["study", "daytrading", "--data", "{ws}/nope.csv"], "nope.csv"),
    Case("daytrading-study-bad-split", ["study", "daytrading", "--synthetic", "AAA", "--train", "zz"], "train='zz'"),
    Case(
        "daytrading-study-bad-commission",
        ["study", "daytrading", "--synthetic", "AAA", "--commissions", "x"],
        "--commissions",
    ),
    Case("daytrading-study-bad-fill", ["study", "daytrading", "--synthetic", "AAA", "--fill", "tomorrow"], "--fill"),
    Case(
        "daytrading-study-negative-spread",
        ["study", "daytrading", "--synthetic", "AAA", "--spread", "fixed", "--spread-bps", "-2"],
        "--spread-bps",
    ),
    Case(
        "daytrading-study-latency-beyond-session",
        ["study", "daytrading", "--synthetic", "AAA", "--train", "20", "--test", "10", "--latency-bars", "100000"],
        "latency_bars",
    ),
    # --- experiments
    Case("run-missing-spec", ["run", "{ws}/nope.yaml"], "nope.yaml"),
    Case("run-spec-duplicate-keys", ["run", "{ws}/spec_dup.yaml"], "appears twice"),
    Case("run-spec-unknown-desk", ["run", "{ws}/spec_bad_desk.yaml"], "nodesk"),
    Case("run-spec-unknown-grid-key", ["run", "{ws}/spec_bad_grid.yaml"], "train.nope"),
    Case("run-spec-bad-name", ["run", "{ws}/spec_bad_name.yaml"], "name"),
    Case("run-bad-backend", ["run", "{ws}/spec.yaml", "--backend", "slurm"], "slurm"),
    Case(
        "tune-unreachable-storage",
        ["tune", "{ws}/spec.yaml", "--storage", BAD_DSN.replace("postgresql", "postgresql+psycopg")],
        "--storage",
    ),
    Case("tune-malformed-storage", ["tune", "{ws}/spec.yaml", "--storage", "foo://bar"], "--storage"),
    Case(
        "tune-storage-in-missing-folder",
        ["tune", "{ws}/spec.yaml", "--storage", "sqlite:///{ws}/no/such/t.db"],
        "--storage",
    ),
    Case(
        "run-unreachable-tracking", ["run", "{ws}/spec.yaml", "--tracking-uri", "http://127.0.0.1:1"], "--tracking-uri"
    ),
    Case("run-malformed-tracking", ["run", "{ws}/spec.yaml", "--tracking-uri", "foo://bar"], "--tracking-uri"),
    Case("unknown-command", ["frobnicate"], "frobnicate"),
    Case("unknown-option", ["desks", "--colour"], "--colour"),
]


def test_the_table_covers_at_least_100_bad_inputs() -> None:
    assert len({case.id for case in CASES}) == len(CASES)
    assert sum(case.code != 0 for case in CASES) >= 100


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_exits_2_with_a_message_naming_the_fix(
    case: Case, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(workspace)  # relative defaults (runs/, runs/store) land in the workspace
    args = [arg.replace("{ws}", str(workspace)) for arg in case.args]
    result = runner.invoke(app, args)
    output = result.output
    assert result.exit_code == case.code, output
    assert "Traceback" not in output
    if case.code == 0:
        assert "inf" not in output.lower(), output  # no -Infinity or inf printed as a result
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert case.expect.replace("{ws}", str(workspace)) in output, output
    if case.code:
        message = output[output.find("error") :] if "error:" in output else output
        assert "\n\n" not in message.strip(), "one paragraph"


def test_a_missing_store_is_not_created_by_reading_it(workspace: Path) -> None:
    runner.invoke(app, ["data", "list", "--store", str(workspace / "never-made")])
    assert not (workspace / "never-made").exists()


def test_features_csv_is_text(workspace: Path) -> None:
    result = runner.invoke(app, ["data", "features", "GOOD", "--out", str(workspace / "f.csv"), "--json",
                                 "--store", str(workspace / "store")])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["rows"] == 60
    written = pd.read_csv(workspace / "f.csv")  # text a CSV reader takes, not Parquet bytes under a .csv name
    assert len(written) == 60 and set(FEATURE_NAMES) <= set(written.columns)
    assert [path.name for path in workspace.iterdir() if path.name.endswith(".tmp")] == []
