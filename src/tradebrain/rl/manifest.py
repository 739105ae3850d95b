"""The provenance of a saved agent: a small JSON manifest beside `model.zip` (`model.json`).

Why: a model.zip says neither which run it came from nor whether the `vecnormalize.pkl` beside it
is the one it was trained with; a model copied next to another run's statistics scores nonsense
without a word. The manifest records the algorithm, the observation and action spaces, the sha256
of the model and of its normalisation statistics, the hashes of the training and run configs, the
library versions and when it was written. `load_trained` checks it before anything is unpickled.

It also reads what stable-baselines3 stores inside a model.zip (the `data` JSON names the policy
class and the spaces) without unpickling it, so older models without a manifest still get their
algorithm checked, and a corrupt, empty or foreign file is a clean InputError naming it.
"""

from __future__ import annotations

import hashlib
import json
import pickletools
import zipfile
from base64 import b64decode
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from tradebrain.core.errors import InputError
from tradebrain.core.io import atomic_write_text

FORMAT: Final = "tradebrain-model"
FORMAT_VERSION = 1
"""Raised when the manifest's meaning changes; a reader refuses a newer version than it knows."""
MANIFEST_SUFFIX = ".json"


def manifest_path(model_path: Path) -> Path:
    """The manifest of a model file: `model.zip` -> `model.json` (`ppo_1000_steps.zip` -> `ppo_1000_steps.json`)."""
    return model_path.with_suffix(MANIFEST_SUFFIX)


def sha256_file(path: Path) -> str:
    """The sha256 of a file's bytes, read in chunks (a model may be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def config_digest(config: BaseModel | Mapping[str, Any]) -> str:
    """The sha256 of a config's canonical JSON (sorted keys): equal configs, equal digests."""
    data = config.model_dump(mode="json") if isinstance(config, BaseModel) else dict(config)
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def describe_space(space: Any) -> dict[str, Any]:
    """A gymnasium space as JSON: kind and shape (and dtype, n or nvec) - enough to tell whether an env
    fits a model."""
    from gymnasium import spaces

    if isinstance(space, spaces.Discrete):
        return {"kind": "discrete", "n": int(space.n)}
    if isinstance(space, spaces.MultiDiscrete):
        return {"kind": "multi-discrete", "nvec": [int(n) for n in space.nvec.ravel()]}
    shape = getattr(space, "shape", None)
    dtype = getattr(space, "dtype", None)
    kind = "box" if isinstance(space, spaces.Box) else type(space).__name__.lower()
    return {"kind": kind, "shape": list(shape) if shape is not None else None, "dtype": str(dtype) if dtype else None}


def space_label(description: Mapping[str, Any]) -> str:
    """A short label of a described space: '(12,)' for a Box, 'Discrete(3)', ..."""
    if description.get("kind") == "discrete":
        return f"Discrete({description.get('n')})"
    if description.get("kind") == "multi-discrete":
        return f"MultiDiscrete({description.get('nvec')})"
    shape = description.get("shape")
    return str(tuple(shape)) if shape is not None else str(description.get("kind"))


def same_space(saved: Mapping[str, Any], current: Mapping[str, Any]) -> bool:
    """Whether an env's space fits a model's: same kind and shape (or number of actions); the dtype
    may differ (stable-baselines3 casts observations to float32)."""
    keys = ("kind", "n", "nvec", "shape")
    return all(saved.get(key) == current.get(key) for key in keys)


def package_versions() -> dict[str, str]:
    """The versions that shape a saved model: tradebrain, stable-baselines3, sb3-contrib, torch, gymnasium."""
    versions: dict[str, str] = {}
    for name in ("tradebrain", "stable-baselines3", "sb3-contrib", "torch", "gymnasium"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def utc_now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


class SavedFile(BaseModel):
    """A file of a saved agent, by its name in the model's folder and its content hash."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str
    sha256: str
    size: int
    """Bytes."""


class ModelManifest(BaseModel):
    """What `model.json` records about a saved agent (unknown keys of later versions are ignored)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    format: Literal["tradebrain-model"] = FORMAT
    format_version: int = FORMAT_VERSION
    algorithm: str
    policy_class: str
    observation_space: dict[str, Any]
    action_space: dict[str, Any]
    model: SavedFile
    vecnormalize: SavedFile | None = None
    normalize_obs: bool = False
    normalize_reward: bool = False
    timesteps: int = 0
    train_config_sha256: str | None = None
    train_config: dict[str, Any] | None = None
    run_config_sha256: str | None = None
    versions: dict[str, str] = {}
    created: str = ""

    def write(self, path: Path) -> Path:
        """Write the manifest (indented JSON) atomically; returns the path."""
        return atomic_write_text(path, json.dumps(self.model_dump(mode="json"), indent=2) + "\n")


def read_manifest(model_path: Path) -> ModelManifest | None:
    """The manifest beside `model_path`, or None when there is none (a model saved before manifests).
    An unreadable or newer manifest is an InputError naming it."""
    path = manifest_path(model_path)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(
            f"{path}, the manifest of {model_path.name}, is not valid JSON ({error}); restore it, or delete it "
            "to load the model without its provenance checks"
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(
            f'{path} is not a tradebrain model manifest (no "format": "{FORMAT}"); move it away from '
            f"{model_path.name}, whose manifest shares its name"
        )
    version = data.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise InputError(
            f"{path} has manifest format version {version!r}; this tradebrain reads up to {FORMAT_VERSION}: "
            "upgrade tradebrain to load the model"
        )
    try:
        return ModelManifest.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, item['loc']))}: {item['msg']}" for item in error.errors())
        raise InputError(f"{path} is not a valid model manifest ({problems}); restore it or delete it") from None


def zip_data(model_path: Path, algo: str | None = None) -> dict[str, Any]:
    """The `data` JSON stable-baselines3 stores in a model.zip (class parameters, spaces and policy
    class, pickled objects left as base64 text: nothing is unpickled), or an InputError naming the
    file for an empty, truncated, corrupt or foreign one."""
    what = f"a {algo} model" if algo else "a model"
    fix = "check --model (and --algo, or the config's train.algo); retrain or restore the file"
    size = model_path.stat().st_size
    if size == 0:
        raise InputError(f"{model_path} is empty (0 bytes), not {what} saved by stable-baselines3: {fix}")
    if not zipfile.is_zipfile(model_path):
        raise InputError(f"{model_path} is not {what} saved by stable-baselines3 (not a zip archive): {fix}")
    try:
        with zipfile.ZipFile(model_path) as archive:
            broken = archive.testzip()
            if broken is not None:
                raise InputError(f"{model_path} is corrupt ({broken} fails its CRC check): {fix}")
            if "data" not in archive.namelist():
                raise InputError(
                    f"{model_path} is not {what} saved by stable-baselines3 (a zip without its 'data' entry): {fix}"
                )
            data = json.loads(archive.read("data").decode("utf-8"))
    except InputError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError, ValueError) as error:
        raise InputError(f"{model_path} is corrupt ({type(error).__name__}: {error}): {fix}") from None
    if not isinstance(data, dict):
        raise InputError(f"{model_path} is not {what} saved by stable-baselines3 (its 'data' is not a mapping)")
    return data


def _pickled_global(serialized: str) -> str | None:
    """'module.name' of the class a cloudpickled reference names, read from the pickle's opcodes
    without executing it; None when the pickle holds anything else."""
    try:
        strings: list[str] = []
        for opcode, argument, _ in pickletools.genops(b64decode(serialized)):
            if isinstance(argument, str) and "UNICODE" in opcode.name:
                strings.append(argument)
            elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                return f"{strings[-2]}.{strings[-1]}"
            elif opcode.name in ("GLOBAL", "INST") and isinstance(argument, str):
                return argument.replace(" ", ".")
    except Exception:  # any malformed pickle: the name is unknown, not an error here
        return None
    return None


def saved_policy_class(data: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(module, 'module.Class') of the policy class a model.zip's `data` names; either may be None."""
    entry = data.get("policy_class")
    if not isinstance(entry, Mapping):
        return None, None
    module = entry.get("__module__")
    serialized = entry.get(":serialized:")
    qualified = _pickled_global(serialized) if isinstance(serialized, str) else None
    if not isinstance(module, str):
        module = qualified.rpartition(".")[0] if qualified else None
    return module, qualified or module


def saved_algorithm(model_path: Path) -> str | None:
    """The algorithm of a saved model - from its manifest, else from the policy class in the zip - or
    None when neither says (an unreadable file: `load_trained` then explains). For the CLI, to evaluate
    with the model's own algorithm when the user gives no --algo."""
    from tradebrain.rl.registry import algorithm_of_policy

    try:
        manifest = read_manifest(model_path)
        if manifest is not None:
            return manifest.algorithm
        module, _ = saved_policy_class(zip_data(model_path))
    except (InputError, OSError):
        return None
    algorithm = algorithm_of_policy(module) if module else None
    return algorithm.name if algorithm else None
