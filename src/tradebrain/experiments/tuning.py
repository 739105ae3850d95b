"""`tradebrain tune`: Optuna TPE search over the spec's space with a MedianPruner on intermediate
evaluations; the study lives in SQLite under runs/<spec>/ or in any Optuna storage (PostgreSQL lets
several machines tune one study); the best parameters go to `<spec stem>.best.yaml` next to the spec."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tradebrain.core.config import read_yaml, with_updates
from tradebrain.core.errors import ConfigError
from tradebrain.core.extras import check
from tradebrain.core.io import atomic_write_text
from tradebrain.experiments.spec import LoadedSpec, SearchParam
from tradebrain.experiments.tracking import (
    CONNECT_TIMEOUT,
    DATABASE_SCHEMES,
    TRACKING,
    Tracker,
    check_database_url,
    check_sqlite_url,
    check_tracking_uri,
    default_tracking_uri,
    mask_url,
    url_scheme,
)

STORAGE_HINT = (
    "give an SQLAlchemy URL such as postgresql://user:password@host:5432/db or sqlite:///path/to/optuna.db, "
    "or leave --storage out to keep the study in SQLite under --runs-root/<spec>/"
)


@dataclass(frozen=True)
class TrialOutcome:
    """One finished trial as the CLI reports it."""

    number: int
    state: str
    value: float | None
    params: dict[str, Any]
    curve: list[tuple[int, float]] = field(default_factory=list)
    """(training steps, validation objective) at each intermediate evaluation."""


@dataclass(frozen=True)
class TuneResult:
    """This run's trials, the study's best trial (over all runs of the study) and where it was saved."""

    study_name: str
    trials: list[TrialOutcome]
    best_value: float
    best_params: dict[str, Any]
    best_path: Path

    def count(self, state: str) -> int:
        """Trials in the given state (COMPLETE, PRUNED, FAIL)."""
        return sum(1 for trial in self.trials if trial.state == state)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "study": self.study_name, "best_value": self.best_value, "best_params": self.best_params,
            "best_path": str(self.best_path), "complete": self.count("COMPLETE"), "pruned": self.count("PRUNED"),
            "failed": self.count("FAIL"),
            "trials": [{"number": t.number, "state": t.state, "value": t.value, "params": t.params}
                       for t in self.trials],
        }  # fmt: skip


def default_storage(runs_root: Path, name: str) -> str:
    """SQLite study storage under runs/<spec>/."""
    folder = (runs_root / name).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'optuna.db'}"


def storage_url(storage: str) -> str:
    """SQLAlchemy's URL for an Optuna storage: plain `postgresql://` goes through psycopg 3 (installed
    with tradebrain), since SQLAlchemy would otherwise look for psycopg2."""
    for prefix in ("postgresql://", "postgres://"):
        if storage.startswith(prefix):
            return "postgresql+psycopg://" + storage.removeprefix(prefix)
    return storage


def open_storage(storage: str, option: str = "--storage") -> Any:
    """The Optuna storage at `storage` (an SQLAlchemy URL), opened now so that a URL that does not parse,
    a database that does not answer or a SQLite file in a missing folder is a ConfigError naming `option`
    and the URL (password masked) before any trial trains."""
    import optuna
    from sqlalchemy.exc import SQLAlchemyError

    scheme = url_scheme(storage)
    if scheme == "sqlite":
        check_sqlite_url(storage, option, STORAGE_HINT)
    elif scheme in DATABASE_SCHEMES:
        check_database_url(storage, option, STORAGE_HINT)  # one connection, with a timeout
    url = storage_url(storage)
    timeout = {"connect_args": {"connect_timeout": int(CONNECT_TIMEOUT)}}
    engine = timeout if url.startswith("postgresql+psycopg://") else None
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=engine)
    except (SQLAlchemyError, ImportError, ValueError) as error:
        text = str(error).strip()
        reason = text.splitlines()[0] if text else type(error).__name__
        raise ConfigError(f"{option} {mask_url(storage)}: Optuna cannot open this storage ({reason}); "
                          f"{STORAGE_HINT}") from None  # fmt: skip


def suggest(trial: Any, key: str, param: SearchParam) -> Any:
    """The trial's value for one dimension of the search space."""
    if param.type == "categorical":
        return trial.suggest_categorical(key, list(param.choices or ()))
    low, high = float(param.low or 0.0), float(param.high or 0.0)
    if param.type == "int":
        return trial.suggest_int(key, int(low), int(high), log=param.log)
    return trial.suggest_float(key, low, high, log=param.log)


def load_best(loaded: LoadedSpec) -> dict[str, Any]:
    """The best parameters `tradebrain tune` saved for this spec, or a ConfigError saying how to make them."""
    path = loaded.best_path
    if not path.is_file():
        raise ConfigError(f"--use-best: {path} does not exist; run `tradebrain tune {loaded.path}` first")
    params = read_yaml(path).get("params")
    if not isinstance(params, dict):
        raise ConfigError(f"{path} has no 'params' mapping; re-run `tradebrain tune {loaded.path}`")
    return params


def tune(
    loaded: LoadedSpec,
    runs_root: Path,
    trials: int | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    tracking_uri: str | None = "default",
    on_trial: Callable[[TrialOutcome], None] | None = None,
) -> TuneResult:
    """Run `trials` more trials of the spec's study and save the best parameters next to the spec.

    The storage (`--storage`) and the MLflow tracking URI (`--tracking-uri`) are opened before the
    first trial: one that does not connect is a ConfigError naming the option, not a failed trial."""
    check("optuna", "`tradebrain tune`")
    if tracking_uri is not None:
        check("mlflow", TRACKING)
    import optuna

    spec, settings = loaded.spec, loaded.spec.tune
    if settings is None:
        raise ConfigError(f"{loaded.path} has no 'tune' section: add tune.space (see experiments/execution-tune.yaml)")
    if tracking_uri is not None and tracking_uri != "default":
        check_tracking_uri(tracking_uri)  # cheap, before the storage is opened
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    name = study_name or spec.name
    opened = open_storage(storage) if storage else open_storage(default_storage(runs_root, spec.name), "--runs-root")
    study = optuna.create_study(
        study_name=name, storage=opened, direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=settings.sampler_seed, n_startup_trials=settings.startup_trials),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=settings.startup_trials,
                                           n_warmup_steps=settings.warmup_evaluations),
        load_if_exists=True,
    )  # fmt: skip
    uri = default_tracking_uri(runs_root) if tracking_uri == "default" else tracking_uri
    tracker = Tracker(uri, f"{spec.name}-tune", runs_root / "mlartifacts") if uri else None
    outcomes: list[TrialOutcome] = []

    def objective(trial: optuna.Trial) -> float:
        params = {key: suggest(trial, key, param) for key, param in settings.space.items()}
        config = with_updates(loaded.base_config, {**params, "train.seed": spec.seeds[0]})
        curve: list[tuple[int, float]] = []

        def report(steps: int, value: float) -> bool:
            trial.report(value, len(curve))  # step = evaluation index: equal across trials whatever n_steps
            curve.append((steps, value))
            return bool(trial.should_prune())

        value = loaded.desk.tune_trial(
            config, settings.eval_every, settings.eval_episodes, settings.validation_seed_offset, report
        )
        trial.set_user_attr("curve", curve)
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned after {curve[-1][0]} steps at {value:.6g}")
        return value

    def finished(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        curve = [(int(s), float(v)) for s, v in trial.user_attrs.get("curve", [])]
        outcome = TrialOutcome(trial.number, trial.state.name, trial.value, dict(trial.params), curve)
        outcomes.append(outcome)
        if tracker is not None:
            _track_trial(tracker, name, outcome)
        if on_trial is not None:
            on_trial(outcome)

    study.optimize(objective, n_trials=trials or settings.trials, catch=(ConfigError,), callbacks=[finished])
    completed = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not completed:
        raise ConfigError(f"study '{name}' has no completed trial yet; every trial was pruned or failed")
    best = study.best_trial
    assert best.value is not None  # a completed trial has a value
    best_params = dict(best.params)
    best_text = yaml.safe_dump(
        {"study": name, "trial": best.number, "value": best.value, "params": best_params}, sort_keys=False
    )
    atomic_write_text(loaded.best_path, best_text)  # atomic: `run --use-best` never reads half a file
    return TuneResult(name, outcomes, float(best.value), best_params, loaded.best_path)


def _track_trial(tracker: Tracker, study: str, outcome: TrialOutcome) -> None:
    """One MLflow run per trial: its parameters, state, final value and validation curve."""
    from mlflow.entities import Param

    run = tracker.client.create_run(
        tracker.experiment_id, run_name=f"trial-{outcome.number}",
        tags={"study": study, "trial": str(outcome.number), "state": outcome.state},
    )  # fmt: skip
    run_id = run.info.run_id
    tracker.client.log_batch(run_id, params=[Param(key, str(value)) for key, value in outcome.params.items()])
    if outcome.curve:
        tracker.log_series(run_id, "validation/objective_usd", outcome.curve)
    tracker.client.set_terminated(run_id, status="FINISHED" if outcome.state == "COMPLETE" else "KILLED")
