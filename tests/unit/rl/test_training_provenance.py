"""A saved agent carries its provenance (model.json: algorithm, spaces, checksums, config hashes,
versions) and `load_trained` loads it only when everything fits: files from different runs, a wrong
--algo, an env of another observation shape, a corrupt, empty or foreign file are each a clean
InputError naming the file; models saved before manifests still load. Saving is atomic: a save that
fails halfway (a full disk) leaves the previous agent whole."""

from __future__ import annotations

import errno
import json
import pickle
import shutil
import zipfile
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import TD3
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecNormalize

from tradebrain.core.errors import InputError
from tradebrain.core.io import TEMPORARY_SUFFIX
from tradebrain.rl.manifest import FORMAT_VERSION, config_digest, saved_algorithm, sha256_file
from tradebrain.rl.training import (
    NormalizedModelPolicy,
    TrainConfig,
    TrainedAgent,
    load_trained,
    save_trained,
    train_agent,
)

TINY = {"n_steps": 32, "batch_size": 32, "n_epochs": 1}
CARTPOLE = gym.make("CartPole-v1")
RUN_CONFIG = {"desk": "cartpole", "episodes": 10}


def _cartpole(n: int) -> VecEnv:
    return DummyVecEnv([lambda: gym.make("CartPole-v1")] * n)


def _train(out_dir: Path, seed: int = 0, normalize_obs: bool = True, checkpoints: int = 0) -> TrainedAgent:
    torch.set_num_threads(1)
    config = TrainConfig(
        algo="ppo", timesteps=128, n_envs=2, seed=seed, net_arch=(8,), hyperparams=TINY,
        normalize_obs=normalize_obs, normalize_reward=normalize_obs, checkpoints=checkpoints,
    )  # fmt: skip
    return train_agent(_cartpole, "discrete", config, {}, out_dir=out_dir, progress=False, run_config=RUN_CONFIG)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three tiny trained runs: `a` (normalised, with checkpoints), `b` (another seed), `raw` (no normalisation)."""
    root = tmp_path_factory.mktemp("runs")
    _train(root / "a", seed=0, checkpoints=1)
    _train(root / "b", seed=1)
    _train(root / "raw", seed=0, normalize_obs=False)
    return {name: root / name for name in ("a", "b", "raw")}


@pytest.fixture
def run(runs: dict[str, Path], tmp_path: Path) -> Path:
    """A private copy of run `a`, free to tamper with."""
    return Path(shutil.copytree(runs["a"], tmp_path / "a"))


def _observations() -> np.ndarray:
    return np.random.default_rng(0).uniform(-0.2, 0.2, (64, 4)).astype(np.float32)


def test_the_manifest_records_algorithm_spaces_checksums_configs_and_versions(runs: dict[str, Path]) -> None:
    folder = runs["a"]
    assert {"model.zip", "vecnormalize.pkl", "model.json"} <= {path.name for path in folder.iterdir()}
    manifest = json.loads((folder / "model.json").read_text())
    assert (manifest["format"], manifest["format_version"], manifest["algorithm"]) == (
        "tradebrain-model", FORMAT_VERSION, "ppo",
    )  # fmt: skip
    assert manifest["observation_space"] == {"kind": "box", "shape": [4], "dtype": "float32"}
    assert manifest["action_space"] == {"kind": "discrete", "n": 2}
    assert manifest["model"]["sha256"] == sha256_file(folder / "model.zip")
    assert manifest["vecnormalize"]["sha256"] == sha256_file(folder / "vecnormalize.pkl")
    assert manifest["normalize_obs"] is True and manifest["normalize_reward"] is True
    assert manifest["timesteps"] == 128
    assert manifest["train_config_sha256"] == config_digest(TrainConfig.model_validate(manifest["train_config"]))
    assert manifest["run_config_sha256"] == config_digest(RUN_CONFIG)
    assert set(manifest["versions"]) >= {"tradebrain", "stable-baselines3", "torch"}
    assert manifest["created"].endswith("+00:00")
    assert not [path for path in folder.rglob("*") if path.name.endswith(TEMPORARY_SUFFIX)]


def test_a_saved_agent_loads_with_its_algorithm_and_normalisation(runs: dict[str, Path]) -> None:
    agent = load_trained(runs["a"] / "model.zip", observation_space=CARTPOLE.observation_space)
    assert agent.manifest is not None and agent.manifest.algorithm == "ppo"
    assert isinstance(agent.policy, NormalizedModelPolicy) and agent.vec_normalize is not None
    assert agent.policy.name == "PPO" and not agent.vec_normalize.training
    assert saved_algorithm(runs["a"] / "model.zip") == "ppo"
    same = load_trained(runs["a"] / "model.zip", "PPO", CARTPOLE.observation_space, CARTPOLE.action_space)
    np.testing.assert_array_equal(same.policy.act(_observations()), agent.policy.act(_observations()))


def test_checkpoints_carry_their_own_manifest_and_statistics(runs: dict[str, Path]) -> None:
    checkpoints = sorted((runs["a"] / "checkpoints").glob("ppo_*_steps.zip"))
    assert checkpoints
    for checkpoint in checkpoints:
        manifest = json.loads(checkpoint.with_suffix(".json").read_text())
        stats = checkpoint.with_name(manifest["vecnormalize"]["name"])
        assert stats.name.startswith("ppo_vecnormalize_") and manifest["vecnormalize"]["sha256"] == sha256_file(stats)
        assert isinstance(load_trained(checkpoint).policy, NormalizedModelPolicy)


def test_tampered_statistics_are_refused_naming_both_files(run: Path) -> None:
    stats_path = run / "vecnormalize.pkl"
    stats = VecNormalize.load(str(stats_path), _cartpole(1))
    stats.obs_rms.mean = stats.obs_rms.mean + 1.0
    stats.save(str(stats_path))
    with pytest.raises(InputError, match="come from different runs") as error:
        load_trained(run / "model.zip")
    assert str(stats_path) in str(error.value) and str(run / "model.zip") in str(error.value)


def test_statistics_of_another_run_are_refused(run: Path, runs: dict[str, Path]) -> None:
    shutil.copy(runs["b"] / "vecnormalize.pkl", run / "vecnormalize.pkl")
    with pytest.raises(InputError, match=r"vecnormalize\.pkl and .*model\.zip come from different runs"):
        load_trained(run / "model.zip")


def test_a_model_of_another_run_is_refused(run: Path, runs: dict[str, Path]) -> None:
    shutil.copy(runs["b"] / "model.zip", run / "model.zip")
    with pytest.raises(InputError, match="does not match its manifest") as error:
        load_trained(run / "model.zip")
    assert "different runs" in str(error.value) and "model.json" in str(error.value)


def test_missing_statistics_are_refused(run: Path) -> None:
    (run / "vecnormalize.pkl").unlink()
    with pytest.raises(InputError, match=r"vecnormalize\.pkl is missing"):
        load_trained(run / "model.zip")


def test_stray_statistics_beside_a_model_saved_without_them_are_refused(runs: dict[str, Path], tmp_path: Path) -> None:
    raw = Path(shutil.copytree(runs["raw"], tmp_path / "raw"))
    assert not (raw / "vecnormalize.pkl").exists()
    assert type(load_trained(raw / "model.zip").policy).__name__ == "ModelPolicy"
    shutil.copy(runs["a"] / "vecnormalize.pkl", raw / "vecnormalize.pkl")
    with pytest.raises(InputError, match="saved without normalisation statistics"):
        load_trained(raw / "model.zip")


def test_a_given_algorithm_that_differs_from_the_models_is_refused(runs: dict[str, Path]) -> None:
    model = runs["a"] / "model.zip"
    with pytest.raises(InputError, match=f"--algo sac but {model} is a ppo model; drop --algo or pass --algo ppo"):
        load_trained(model, "sac")


def test_an_env_of_another_observation_shape_is_refused(run: Path) -> None:
    (run / "config.yaml").write_text("name: a\n")
    wider = gym.spaces.Box(-np.inf, np.inf, shape=(6,), dtype=np.float32)
    with pytest.raises(InputError) as error:
        load_trained(run / "model.zip", observation_space=wider)
    message = str(error.value)
    assert "was trained on observations of shape (4,), this config makes (6,)" in message
    assert f"use the config the model was trained with: {run / 'config.yaml'}" in message
    with pytest.raises(InputError, match=r"trained on actions Discrete\(2\), this config makes Discrete\(3\)"):
        load_trained(run / "model.zip", action_space=gym.spaces.Discrete(3))


def test_a_model_saved_before_manifests_loads_with_the_checks_its_zip_allows(run: Path) -> None:
    expected = load_trained(run / "model.zip").policy.act(_observations())
    (run / "model.json").unlink()
    legacy = load_trained(run / "model.zip", observation_space=CARTPOLE.observation_space)
    assert legacy.manifest is None and isinstance(legacy.policy, NormalizedModelPolicy)
    np.testing.assert_array_equal(legacy.policy.act(_observations()), expected)
    assert saved_algorithm(run / "model.zip") == "ppo"  # from the policy class inside the zip
    with pytest.raises(InputError, match=r"--algo sac but .* is a ppo model"):
        load_trained(run / "model.zip", "sac")
    with pytest.raises(InputError, match=r"shape \(4,\), this config makes \(5,\)"):
        load_trained(run / "model.zip", observation_space=gym.spaces.Box(-1, 1, (5,)))


def test_legacy_statistics_of_another_shape_are_refused(run: Path, tmp_path: Path) -> None:
    (run / "model.json").unlink()
    other = VecNormalize(DummyVecEnv([lambda: gym.make("Pendulum-v1")]), norm_obs=True)
    other.save(str(run / "vecnormalize.pkl"))
    with pytest.raises(InputError, match=r"normalises observations of shape \(3,\) but .* takes \(4,\)"):
        load_trained(run / "model.zip")


def test_a_model_of_an_algorithm_tradebrain_does_not_train_is_refused(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    TD3("MlpPolicy", "Pendulum-v1", device="cpu").save(tmp_path / "td3.zip")
    with pytest.raises(InputError, match=r"stable_baselines3\.td3\.policies\.TD3Policy, a policy no tradebrain"):
        load_trained(tmp_path / "td3.zip")
    assert saved_algorithm(tmp_path / "td3.zip") is None


def _corrupt(model: Path) -> None:
    """Flip bytes inside the largest member of the zip: the archive opens but fails its CRC check."""
    with zipfile.ZipFile(model) as archive:
        member = max(archive.infolist(), key=lambda info: info.compress_size)
    data = bytearray(model.read_bytes())
    start = member.header_offset + 30 + len(member.filename) + len(member.extra) + member.compress_size // 2
    data[start : start + 16] = bytes(255 - byte for byte in data[start : start + 16])
    model.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("empty", r"is empty \(0 bytes\), not a ppo model saved by stable-baselines3"),
        ("text", r"is not a ppo model saved by stable-baselines3 \(not a zip archive\)"),
        ("truncated", "is not a ppo model saved by stable-baselines3|is corrupt"),
        ("flipped", "is corrupt"),
        ("no-data", "a zip without its 'data' entry"),
        ("folder", "is a folder, not a model file; pass --model"),
        ("missing", "does not exist"),
    ],
)
def test_a_damaged_or_foreign_file_is_a_clean_error_naming_it(run: Path, damage: str, message: str) -> None:
    model = run / "model.zip"
    (run / "model.json").unlink()  # as a file found on its own
    target = model
    if damage == "empty":
        model.write_bytes(b"")
    elif damage == "text":
        model.write_text("model weights, honestly")
    elif damage == "truncated":
        model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    elif damage == "flipped":
        _corrupt(model)
    elif damage == "no-data":
        with zipfile.ZipFile(model, "w") as archive:
            archive.writestr("weights.bin", b"\0" * 64)
    elif damage == "folder":
        target = run
    else:
        target = run / "nope.zip"
    with pytest.raises(InputError, match=message) as error:
        load_trained(target, "ppo")
    assert str(target) in str(error.value)


def test_a_broken_manifest_is_a_clean_error(run: Path) -> None:
    (run / "model.json").write_text("{not json")
    with pytest.raises(InputError, match=r"model\.json, the manifest of model\.zip, is not valid JSON"):
        load_trained(run / "model.zip")
    newer = {"format": "tradebrain-model", "format_version": FORMAT_VERSION + 1}
    (run / "model.json").write_text(json.dumps(newer))
    with pytest.raises(InputError, match="upgrade tradebrain"):
        load_trained(run / "model.zip")


def _fresh_model() -> Any:
    from stable_baselines3 import PPO

    torch.set_num_threads(1)
    return PPO("MlpPolicy", _cartpole(1), n_steps=16, batch_size=16, device="cpu", policy_kwargs={"net_arch": [8]})


def test_a_save_that_fails_halfway_leaves_the_old_model_whole(run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = {name: (run / name).read_bytes() for name in ("model.zip", "vecnormalize.pkl", "model.json")}
    expected = load_trained(run / "model.zip").policy.act(_observations())

    def disk_full(obj: Any, file: Any, *args: Any, **kwargs: Any) -> None:
        file.write(b"\0" * 4096)  # part of the archive is on disk when the device fills up
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)  # SB3 writes each state dict into the zip with torch.save
    with pytest.raises(OSError) as error:
        save_trained(_fresh_model(), run, algorithm="ppo")
    assert error.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert {name: (run / name).read_bytes() for name in before} == before
    assert not [path.name for path in run.iterdir() if path.name.endswith(TEMPORARY_SUFFIX)]
    np.testing.assert_array_equal(load_trained(run / "model.zip").policy.act(_observations()), expected)


def test_statistics_that_fail_to_save_leave_a_mismatch_the_loader_refuses(
    run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stats = pickle.loads((run / "vecnormalize.pkl").read_bytes())

    def disk_full(self: VecNormalize, path: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", path)

    monkeypatch.setattr(VecNormalize, "save", disk_full)
    with pytest.raises(OSError):
        save_trained(_fresh_model(), run, algorithm="ppo", vec_normalize=stats)
    # the new model.zip is in place but the manifest is the old one's: refused, never silently mixed
    with pytest.raises(InputError, match="does not match its manifest"):
        load_trained(run / "model.zip")
    assert not [path.name for path in run.iterdir() if path.name.endswith(TEMPORARY_SUFFIX)]


def test_saving_without_statistics_removes_the_replaced_models(run: Path) -> None:
    manifest = save_trained(_fresh_model(), run, algorithm="ppo", train_config=TrainConfig(), run_config=RUN_CONFIG)
    assert manifest.vecnormalize is None and not (run / "vecnormalize.pkl").exists()
    assert manifest.train_config_sha256 == config_digest(TrainConfig())
    agent = load_trained(run / "model.zip", "ppo")
    assert agent.vec_normalize is None and agent.manifest == manifest
