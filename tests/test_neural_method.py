"""Checkpoint-backed methods: availability, lazy loading, inference, provenance, the real CLI.

No trained checkpoint exists on the CPU machines: the tests write randomly
initialised networks as checkpoints under tmp_path (never under results/).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from srbench import methods
from srbench.errors import SrbenchError
from srbench.methods.checkpoint import CheckpointError, environment_fields, file_sha256, save_checkpoint
from srbench.methods.neural import NeuralMethod
from srbench.methods.specs import TRAIN_SPECS, TrainSpec
from srbench.methods.srresnet import SRResNet
from srbench.methods.tiling import upscale_tiled
from srbench.data.sets import load_dataset

FAMILY = ("srresnet-mse", "srresnet-vgg22", "srgan-mse", "srgan-vgg22", "srgan-vgg54")
TINY = TrainSpec("tiny-srresnet", lambda: SRResNet(num_blocks=1, channels=8))


def write_random_checkpoint(root, spec: TrainSpec, seed: int = 0, **extra) -> SRResNet:
    torch.manual_seed(seed)
    model = spec.build_generator()
    save_checkpoint(root / spec.name, model.state_dict(), {"method": spec.name, "iterations": 0, **extra, **environment_fields()})
    return model


@pytest.fixture(scope="module")
def set5(data_root):
    return load_dataset("set5", data_root)


def test_family_is_registered_and_reports_missing_checkpoints(tmp_path, monkeypatch):
    monkeypatch.delenv("SRBENCH_CHECKPOINTS", raising=False)
    assert set(FAMILY) <= set(methods.all_method_names())
    for name in FAMILY:
        method = methods.get_method(name)
        assert isinstance(method, NeuralMethod) and method.name == name and method.spec is TRAIN_SPECS[name]
    absent = NeuralMethod(TRAIN_SPECS["srgan-vgg54"], checkpoint_root=tmp_path)
    assert absent.availability() == (
        f"no checkpoint at {tmp_path}/srgan-vgg54/model.safetensors "
        "(train it with 'srbench train --method srgan-vgg54 ...')"
    )
    default = NeuralMethod(TRAIN_SPECS["srresnet-mse"])
    if not default.weights_path.exists():  # the project ships no trained weights
        assert default.availability().startswith("no checkpoint at results/checkpoints/srresnet-mse/model.safetensors")
    with pytest.raises(CheckpointError, match="no checkpoint"):
        absent.upscale(np.zeros((4, 4, 3), np.uint8), dataset="set5", name="x.png")


def test_upscale_loads_once_and_matches_the_network(tmp_path, set5):
    model = write_random_checkpoint(tmp_path, TINY, note="random init, test only")
    method = NeuralMethod(TINY, checkpoint_root=tmp_path, device="cpu", tile=64)
    assert method.availability() is None
    image = set5[0]
    out = method.upscale(image.lr, dataset="set5", name=image.name)
    assert out.shape == (4 * image.lr.shape[0], 4 * image.lr.shape[1], 3) and out.dtype == np.uint8
    expected = upscale_tiled(model, image.lr, tile=64, device="cpu", output_range=(-1, 1))
    np.testing.assert_array_equal(out, expected)
    cached = method._model
    method.upscale(set5[1].lr, dataset="set5", name=set5[1].name)
    assert method._model is cached

    info = method.checkpoint_info()
    assert info["method"] == TINY.name and info["note"] == "random init, test only"
    assert info["checkpoint_sha256"] == file_sha256(tmp_path / TINY.name / "model.safetensors")
    assert info["checkpoint"].endswith("tiny-srresnet/model.safetensors")
    assert info["inference_device"].startswith("cpu")


def test_checkpoint_of_another_network_is_refused(tmp_path):
    # Weights of the tiny net placed where the full srresnet-mse expects its own.
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "srresnet-mse", TINY.build_generator().state_dict(), {"method": "srresnet-mse"})
    method = NeuralMethod(TRAIN_SPECS["srresnet-mse"], checkpoint_root=tmp_path, device="cpu")
    with pytest.raises(CheckpointError, match="does not fit the srresnet-mse network"):
        method.checkpoint_info()
    # A checkpoint whose sidecar names another method.
    write_random_checkpoint(tmp_path, TINY)
    (tmp_path / "other").mkdir()
    for suffix in (".safetensors", ".json"):
        (tmp_path / TINY.name / f"model{suffix}").rename(tmp_path / "other" / f"model{suffix}")
    wrong = NeuralMethod(TrainSpec("other", TINY.build_generator), checkpoint_root=tmp_path, device="cpu")
    with pytest.raises(CheckpointError, match="holds a 'tiny-srresnet' model"):
        wrong.upscale(np.zeros((4, 4, 3), np.uint8), dataset="", name="")


def test_srbench_run_with_a_random_full_srresnet_checkpoint(tmp_path, monkeypatch, data_root):
    """The real CLI end to end on Set5 with the full-size network (random weights: metrics are meaningless)."""
    from srbench.cli import main

    write_random_checkpoint(tmp_path / "ckpt", TRAIN_SPECS["srresnet-mse"])
    monkeypatch.setenv("SRBENCH_CHECKPOINTS", str(tmp_path / "ckpt"))
    out = tmp_path / "run"
    code = main(["run", "--methods", "srresnet-mse", "--datasets", "set5", "--protocol", "matlab",
                 "--data-root", str(data_root), "--out", str(out), "--no-progress"])
    assert code == 0
    rows = (out / "per_image.csv").read_text().splitlines()
    assert rows[0] == "dataset,image,method,protocol,psnr,ssim" and len(rows) == 1 + 5
    assert all(",srresnet-mse,matlab," in row for row in rows[1:])
    run = json.loads((out / "run.json").read_text())
    assert json.dumps(run).count(file_sha256(tmp_path / "ckpt" / "srresnet-mse" / "model.safetensors")) >= 1


def test_sidecar_architecture_overrides_select_the_network_size(tmp_path):
    spec = TRAIN_SPECS["srresnet-mse"]
    torch.manual_seed(0)
    small = SRResNet(num_blocks=2, channels=8)
    sidecar = {"method": "srresnet-mse", "architecture": {"num_blocks": 2, "channels": 8}}
    save_checkpoint(tmp_path / "srresnet-mse", small.state_dict(), sidecar)
    method = NeuralMethod(spec, checkpoint_root=tmp_path, device="cpu")
    lr = np.random.default_rng(0).integers(0, 256, (12, 10, 3), dtype=np.uint8)
    np.testing.assert_array_equal(method.upscale(lr), upscale_tiled(small, lr, device="cpu"))
    assert method.checkpoint_info()["architecture"] == {"num_blocks": 2, "channels": 8}
    assert method._model.num_blocks == 2

    save_checkpoint(tmp_path / "srresnet-mse", small.state_dict(), {**sidecar, "architecture": {"depth": 3}})
    with pytest.raises(SrbenchError, match="no adjustable depth"):
        NeuralMethod(spec, checkpoint_root=tmp_path, device="cpu").checkpoint_info()
