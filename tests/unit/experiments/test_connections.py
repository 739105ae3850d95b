"""An Optuna storage or MLflow tracking URI that cannot be used fails before any training: a
ConfigError (exit 2 on the command line) naming the option and the URL, password masked, and the fix."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tradebrain.cli import app
from tradebrain.core.errors import ConfigError
from tradebrain.desks.registry import get_desk
from tradebrain.experiments.tracking import Tracker, check_tracking_uri, mask_url
from tradebrain.experiments.tuning import open_storage

runner = CliRunner()
SpecWriter = Callable[..., Path]  # the make_spec fixture of tests/conftest.py
TUNE = {"trials": 1, "eval_every": 512, "eval_episodes": 10, "startup_trials": 1,
        "space": {"train.hyperparams.learning_rate": {"type": "float", "low": 1e-4, "high": 1e-3}}}  # fmt: skip


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://nobody:s3cret@127.0.0.1:1/x", "postgresql://nobody:***@127.0.0.1:1/x"),
        ("postgresql+psycopg://u:p%40ss@db.example:5432/optuna", "postgresql+psycopg://u:***@db.example:5432/optuna"),
        ("http://admin:hunter2@mlflow.local:5000", "http://admin:***@mlflow.local:5000"),
        ("postgresql://host/db?user=u&password=s3cret&sslmode=require",
         "postgresql://host/db?user=u&password=***&sslmode=require"),
        ("postgresql://nobody@127.0.0.1:1/x", "postgresql://nobody@127.0.0.1:1/x"),
        ("sqlite:////tmp/o.db", "sqlite:////tmp/o.db"),
    ],
)  # fmt: skip
def test_mask_url_hides_passwords_only(url: str, shown: str) -> None:
    assert mask_url(url) == shown


def _refused() -> str:
    return f"postgresql://nobody:s3cret@127.0.0.1:{_closed_port()}/x"


@pytest.mark.parametrize(
    ("uri", "words"),
    [
        ("CLOSED-HTTP", ["nothing answers", "mlflow server"]),
        ("foo://bar", ["'foo'", "http(s)://"]),
        ("/no/such/dir/mlruns", ["plain folder"]),
        ("sqlite:////no/such/dir/mlflow.db", ["/no/such/dir does not exist", "mkdir -p"]),
        ("REFUSED", ["cannot connect", "***", "server is running"]),
    ],
)
def test_a_tracking_uri_that_cannot_work_is_a_config_error(uri: str, words: list[str]) -> None:
    # ports are picked at run time: a parametrize id must be the same in every xdist worker
    uri = {"REFUSED": _refused(), "CLOSED-HTTP": f"http://127.0.0.1:{_closed_port()}"}.get(uri, uri)
    with pytest.raises(ConfigError) as raised:
        check_tracking_uri(uri)
    message = str(raised.value)
    assert message.startswith(f"--tracking-uri {mask_url(uri)}:") and "s3cret" not in message
    for word in words:
        assert word in message, (word, message)
    assert not Path("/no/such/dir").exists()  # nothing created on the way


def test_a_usable_sqlite_tracking_uri_passes_and_creates_nothing(tmp_path: Path) -> None:
    check_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    assert list(tmp_path.iterdir()) == []


def test_a_tracker_that_mlflow_cannot_open_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^--tracking-uri foo://bar: MLflow could not open the experiment"):
        Tracker("foo://bar", "spec", tmp_path)


@pytest.mark.parametrize(
    ("storage", "words"),
    [
        ("REFUSED", ["cannot connect", "***", "leave --storage out"]),
        ("foo://bar", ["Optuna cannot open this storage", "foo"]),
        ("notaurl", ["Could not parse"]),
        ("sqlite:////no/such/dir/optuna.db", ["/no/such/dir does not exist"]),
    ],
)
def test_a_storage_that_cannot_work_is_a_config_error(storage: str, words: list[str]) -> None:
    storage = _refused() if storage == "REFUSED" else storage
    with pytest.raises(ConfigError) as raised:
        open_storage(storage)
    message = str(raised.value)
    assert message.startswith(f"--storage {mask_url(storage)}:") and "s3cret" not in message
    for word in words:
        assert word in message, (word, message)


def test_a_usable_sqlite_storage_opens(tmp_path: Path) -> None:
    storage = open_storage(f"sqlite:///{tmp_path}/optuna.db")
    assert storage.get_all_studies() == [] and (tmp_path / "optuna.db").is_file()


@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any trial that starts training fails the test (as a crash, not a clean exit 2)."""

    def trains(*args: Any, **kwargs: Any) -> float:
        raise AssertionError("a trial started training before the URL was checked")

    monkeypatch.setattr(type(get_desk("execution")), "tune_trial", trains)


@pytest.mark.usefixtures("no_training")
@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--storage", "REFUSED"),
        ("--storage", "foo://bar"),
        ("--storage", "sqlite:////no/such/dir/optuna.db"),
        ("--tracking-uri", "REFUSED"),
        ("--tracking-uri", "http://127.0.0.1:PORT"),
        ("--tracking-uri", "foo://bar"),
        ("--tracking-uri", "sqlite:////no/such/dir/mlflow.db"),
    ],
)
def test_tune_exits_2_naming_the_option_before_any_trial(
    make_spec: SpecWriter, tmp_path: Path, option: str, value: str
) -> None:
    value = _refused() if value == "REFUSED" else value.replace("PORT", str(_closed_port()))
    spec = make_spec("tune-me", tune=TUNE)
    result = runner.invoke(app, ["tune", str(spec), "--runs-root", str(tmp_path / "runs"), option, value])
    output = result.output.replace("\n", "")
    assert result.exit_code == 2, result.output
    assert f"{option} {mask_url(value)}" in output and "s3cret" not in output and "Traceback" not in output
    assert not (spec.parent / "tune-me.best.yaml").exists()


def test_run_exits_2_on_a_tracking_uri_before_any_cell(make_spec: SpecWriter, tmp_path: Path) -> None:
    spec = make_spec("grid")
    uri = f"http://127.0.0.1:{_closed_port()}"
    result = runner.invoke(app, ["run", str(spec), "--runs-root", str(tmp_path / "runs"), "--tracking-uri", uri])
    assert result.exit_code == 2, result.output
    assert f"--tracking-uri {uri}" in result.output.replace("\n", "") and "Traceback" not in result.output
    assert not (tmp_path / "runs" / "grid").exists()  # no cell ran
