"""The decision log: every decision the node takes, holds and denials included, with what it saw.

Each record holds the time, strategy, symbol, model hash, the full observation vector, the mask,
the action and its probability distribution (softmax of the policy's logits over the allowed
actions), the risk gate's verdict and the order id. Appending is a list append on the hot path; a
background thread writes batches to numbered Parquet files (each written to a temporary and
renamed into place, so a crash leaves whole files), and `close` writes the rest. `verify_log`
re-runs a policy on the logged observations and masks and reports every action that differs:
the proof that the model in production is the model that was tested.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tradebrain.core.errors import InputError
from tradebrain.core.io import atomic_path
from tradebrain.rl.export import ExportedPolicy

PART = "decisions-{:06d}.parquet"


@dataclass(frozen=True)
class DecisionRecord:
    """One decision as logged."""

    time: pd.Timestamp
    strategy: str
    symbol: str
    model: str
    action: int
    probabilities: list[float]
    mask: list[bool]
    observation: list[float]
    verdict: str
    reason: str
    order_id: str


def model_hash(policy: ExportedPolicy) -> str:
    """A short hash of a policy's weights, biases and normalisation: which model decided."""
    digest = hashlib.sha256()
    for array in (*policy.weights, *policy.biases, policy.obs_mean, policy.obs_var):
        if array is not None:
            digest.update(np.ascontiguousarray(array, dtype=np.float64).tobytes())
    return digest.hexdigest()[:16]


def action_probabilities(policy: ExportedPolicy, observation: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The policy's distribution over actions at `observation`: softmax of its logits, masked actions 0."""
    logits = np.asarray(policy.logits(observation[None, :]), dtype=np.float64).reshape(-1)
    logits = np.where(mask, logits, -np.inf)
    shifted = np.exp(logits - logits.max())
    probabilities: np.ndarray = shifted / shifted.sum()
    return probabilities


class DecisionLog:
    """Decision records written to `folder` in Parquet batches of `batch` records by a background thread."""

    def __init__(self, folder: Path | str, batch: int = 2_000) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.batch = batch
        self._pending: list[DecisionRecord] = []
        self._queue: queue.Queue[list[DecisionRecord] | None] = queue.Queue()
        self._part = len(list(self.folder.glob("decisions-*.parquet")))
        self._writer = threading.Thread(target=self._write_loop, name="decision-log", daemon=True)
        self._writer.start()
        self.written = 0

    def append(self, record: DecisionRecord) -> None:
        """Log one decision (the write happens off the caller's thread)."""
        self._pending.append(record)
        if len(self._pending) >= self.batch:
            self._queue.put(self._pending)
            self._pending = []

    def close(self) -> None:
        """Write what is left and stop the writer."""
        if self._pending:
            self._queue.put(self._pending)
            self._pending = []
        self._queue.put(None)
        self._writer.join()

    def _write_loop(self) -> None:
        while (records := self._queue.get()) is not None:
            frame = pd.DataFrame([asdict(record) for record in records])
            with atomic_path(self.folder / PART.format(self._part)) as temporary:
                frame.to_parquet(temporary, index=False)
            self._part += 1
            self.written += len(records)


def read_log(folder: Path | str) -> pd.DataFrame:
    """Every record of a decision log, in time order."""
    parts = sorted(Path(folder).glob("decisions-*.parquet"))
    if not parts:
        raise InputError(f"{folder} holds no decision log (decisions-*.parquet)")
    return pd.concat([pd.read_parquet(part) for part in parts], ignore_index=True).sort_values("time", kind="stable")


def verify_log(folder: Path | str, policy: ExportedPolicy) -> pd.DataFrame:
    """Re-run `policy` on every logged observation and mask; the records whose action differs
    (an empty table: the log is this policy's)."""
    log = read_log(folder)
    observations = np.stack(log["observation"].to_numpy()).astype(np.float32)
    masks = np.stack(log["mask"].to_numpy()).astype(bool)
    actions = np.asarray(policy.act(observations, masks)).reshape(-1)
    return log.loc[actions != log["action"].to_numpy()].assign(replayed=actions[actions != log["action"].to_numpy()])
