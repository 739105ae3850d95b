"""MLflow tracking: one experiment per spec, one run per cell, with the grid values, seed, config
hash, git commit and package versions as tags, the resolved config as params, the cell's metrics,
and its folder (model, VecNormalize stats, trade list, daily breakdown, report, TensorBoard logs)
as artifacts. Runs are logged from the coordinating process only: one writer for the store."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tradebrain.core.errors import ConfigError
from tradebrain.core.extras import check, require
from tradebrain.experiments.store import CellRecord

TRACKING = "MLflow tracking (turn it off with --no-tracking)"

PARAM_LIMIT = 100
"""MLflow accepts at most 100 params per batch call."""
VALUE_LIMIT = 5000
"""Params and tags are cut to this many characters (MLflow's limits are 6000 and 8000)."""


CONNECT_TIMEOUT = 5.0
"""Seconds to wait for a tracking server or database to answer before the command gives up on it."""
DATABASE_SCHEMES = ("postgresql", "postgres", "mysql", "mssql")
"""URI schemes of SQL servers (a `+driver` suffix allowed): checked by connecting once."""
MLFLOW_SCHEMES = ("http", "https", "sqlite", "databricks", "databricks-uc", "uc", *DATABASE_SCHEMES)
"""Tracking URI schemes MLflow itself understands (its plain-folder store is retired in MLflow 3)."""
TRACKING_HINT = (
    "use http(s)://host:port of an MLflow server, sqlite:///path/to/mlflow.db or postgresql://user@host/db, "
    "or leave the option out (SQLite under --runs-root) or pass --no-tracking"
)

_PASSWORD = re.compile(r"^(?P<head>[A-Za-z][\w+.-]*://[^/@:?#]*):[^@/?#]*@")
_QUERY_SECRET = re.compile(r"(?P<key>[?&](?:password|passwd|pwd|token|secret)=)[^&#]*", re.IGNORECASE)


def mask_url(url: str) -> str:
    """`url` with any password (user:password@ or ?password=) replaced by ***, for messages and logs."""
    return _QUERY_SECRET.sub(r"\g<key>***", _PASSWORD.sub(r"\g<head>:***@", url))


def url_scheme(url: str) -> str:
    """The URL's scheme without a `+driver` suffix, lower case ('' for none)."""
    head, sep, _ = url.partition("://")
    return head.split("+", 1)[0].lower() if sep else ""


def check_sqlite_url(url: str, option: str, hint: str = TRACKING_HINT) -> None:
    """A sqlite:/// URL must name a file in an existing folder (or be in memory); otherwise a
    ConfigError naming `option` (and `hint` for a URL that does not parse): a typo in the path would
    otherwise create a stray database somewhere else, or fail deep inside the first write."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        database = make_url(url).database
    except ArgumentError as error:
        raise ConfigError(f"{option} {mask_url(url)}: not a valid URL ({error}); {hint}") from None
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    folder = Path(database).expanduser().absolute().parent
    if not folder.is_dir():
        raise ConfigError(
            f"{option} {mask_url(url)}: the folder {folder} does not exist; create it (mkdir -p {folder}) or "
            "name a file in an existing folder (sqlite:////absolute/path/file.db, sqlite:///relative/file.db)"
        )


def check_database_url(url: str, option: str, hint: str) -> None:
    """Connect once to the SQL server of `url` (a `postgresql://`-style URL) and disconnect; a
    ConfigError naming `option`, the URL (password masked) and `hint` when it does not answer or
    refuses the login. Plain `postgresql://` goes through psycopg 3, installed with tradebrain."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    shown = mask_url(url)
    driven = re.sub(r"^postgres(?:ql)?://", "postgresql+psycopg://", url)
    arguments = {"connect_timeout": int(CONNECT_TIMEOUT)} if url_scheme(url) in ("postgresql", "postgres") else {}
    try:
        engine = create_engine(driven, connect_args=arguments)
    except (ArgumentError, ImportError) as error:
        raise ConfigError(f"{option} {shown}: cannot use this URL ({_first_line(error)}); {hint}") from None
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as error:
        raise ConfigError(
            f"{option} {shown}: cannot connect ({_first_line(getattr(error, 'orig', None) or error)}); check the "
            f"host, port, user, password and database, and that the server is running; {hint}"
        ) from None
    finally:
        engine.dispose()


def _first_line(error: BaseException) -> str:
    """The first line of an error's message (drivers append hints and links on further lines)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _check_server(url: str, option: str) -> None:
    """Something must accept a TCP connection at the http(s) URL's host and port."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError as error:
        raise ConfigError(f"{option} {mask_url(url)}: {error}; {TRACKING_HINT}") from None
    if not parts.hostname:
        raise ConfigError(f"{option} {mask_url(url)}: the URL names no host; {TRACKING_HINT}")
    try:
        with socket.create_connection((parts.hostname, port), timeout=CONNECT_TIMEOUT):
            pass
    except OSError as error:
        reason = error.strerror or str(error) or type(error).__name__
        raise ConfigError(
            f"{option} {mask_url(url)}: nothing answers at {parts.hostname}:{port} ({reason}); start the MLflow "
            f"server (mlflow server --host {parts.hostname} --port {port}) or fix the URI, or pass --no-tracking"
        ) from None


def check_tracking_uri(uri: str, option: str = "--tracking-uri") -> None:
    """Fail before any training when MLflow could not track to `uri`: an unknown scheme, a SQLite file
    in a folder that does not exist, a server or database that does not answer. A ConfigError names
    `option` and the URI (password masked) and says how to fix it. Cheap: MLflow itself is not imported
    unless the scheme is one only an MLflow plugin could know."""
    check("mlflow", TRACKING)
    scheme = url_scheme(uri)
    if scheme in ("http", "https"):
        _check_server(uri, option)
    elif scheme == "sqlite":
        check_sqlite_url(uri, option)
    elif scheme in DATABASE_SCHEMES:
        check_database_url(uri, option, TRACKING_HINT)
    elif scheme in ("", "file"):
        raise ConfigError(f"{option} {mask_url(uri)}: MLflow 3 no longer tracks to a plain folder; {TRACKING_HINT}")
    elif scheme not in MLFLOW_SCHEMES:
        _check_plugin_scheme(uri, option)


def _check_plugin_scheme(uri: str, option: str) -> None:
    """A scheme MLflow does not know itself may come from an installed MLflow plugin: ask MLflow once."""
    require("mlflow", TRACKING)
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    try:
        MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
    except MlflowException as error:
        reason = _first_line(error).split(". ")[0].strip()  # MLflow's first sentence; the rest lists links
        raise ConfigError(f"{option} {mask_url(uri)}: MLflow cannot track to a '{url_scheme(uri)}' URI "
                          f"({reason}); {TRACKING_HINT}") from None  # fmt: skip


def default_tracking_uri(runs_root: Path) -> str:
    """A SQLite store under the runs folder (the plain ./mlruns file store is deprecated in MLflow 3)."""
    return f"sqlite:///{(runs_root / 'mlflow.db').resolve()}"


def flatten(data: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Nested mappings as dotted keys: {"train": {"algo": "ppo"}} -> ("train.algo", "ppo")."""
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from flatten(value, f"{name}.")
        else:
            yield name, value


def cell_tags(record: CellRecord, spec_name: str) -> dict[str, str]:
    """Tags to filter and group runs by in MLflow: grid values, seed, hash, commit, versions, status."""
    tags = {f"grid.{key}": str(value) for key, value in record.values.items()}
    tags |= {
        "spec": spec_name, "cell_key": record.key, "seed": str(record.seed), "config_hash": record.config_hash,
        "status": record.status, "git_commit": str(record.provenance.get("git_commit", "unknown")),
    }  # fmt: skip
    versions = record.provenance.get("versions", {})
    tags |= {f"version.{name}": str(version) for name, version in versions.items()}
    if record.error:
        tags["error"] = record.error
    return {key: value[:VALUE_LIMIT] for key, value in tags.items()}


class Tracker:
    """Logs cells of one experiment to an MLflow tracking server or store (any tracking URI).

    Opening it finds or creates the experiment; a store MLflow cannot open or a server that refuses
    raises a ConfigError naming `option` and the URI (password masked)."""

    def __init__(
        self, tracking_uri: str, experiment: str, artifact_root: Path | None = None, option: str = "--tracking-uri"
    ) -> None:
        require("mlflow", TRACKING)
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient
        from sqlalchemy.exc import SQLAlchemyError

        self.uri = tracking_uri
        try:
            self.client = MlflowClient(tracking_uri=tracking_uri)
            found = self.client.get_experiment_by_name(experiment)
            if found is not None:
                self.experiment_id: str = found.experiment_id
            else:
                location = (artifact_root / experiment).resolve().as_uri() if artifact_root is not None else None
                self.experiment_id = self.client.create_experiment(experiment, artifact_location=location)
        except (MlflowException, SQLAlchemyError) as error:
            raise ConfigError(
                f"{option} {mask_url(tracking_uri)}: MLflow could not open the experiment '{experiment}' there "
                f"({_first_line(error)}); {TRACKING_HINT}"
            ) from None
        self.experiment = experiment

    def log_cell(self, record: CellRecord, config: Mapping[str, Any]) -> str:
        """One run for the cell: tags, params (the resolved config), metrics, artifacts. Its id."""
        from mlflow.entities import Metric, Param

        run = self.client.create_run(self.experiment_id, run_name=record.key, tags=cell_tags(record, self.experiment))
        run_id: str = run.info.run_id
        params = [Param(key, str(value)[:VALUE_LIMIT]) for key, value in flatten(config)]
        for start in range(0, len(params), PARAM_LIMIT):
            self.client.log_batch(run_id, params=params[start : start + PARAM_LIMIT])
        now = int(time.time() * 1000)
        metrics = [Metric(key, float(value), now, 0) for key, value in record.metrics.items()]
        metrics.append(Metric("cell_seconds", record.seconds, now, 0))
        self.client.log_batch(run_id, metrics=metrics)
        folder = Path(record.out_dir)
        if record.completed and folder.is_dir():
            self.client.log_artifacts(run_id, str(folder))
        self.client.set_terminated(run_id, status="FINISHED" if record.completed else "FAILED")
        return run_id

    def log_series(self, run_id: str, name: str, points: list[tuple[int, float]]) -> None:
        """A metric per evaluation (step = training steps so far), e.g. a tuning trial's curve."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(run_id, metrics=[Metric(name, value, now, step) for step, value in points])
