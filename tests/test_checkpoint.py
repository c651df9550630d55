"""Checkpoints: safetensors + JSON sidecar, atomic writes, clear errors."""

from __future__ import annotations

import json
import re

import pytest
import torch
from safetensors.torch import save_file

from srbench.methods.checkpoint import (
    CheckpointError,
    environment_fields,
    file_sha256,
    git_revision,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from srbench.methods.srresnet import SRResNet
from srbench.errors import SrbenchError


def test_round_trip_of_a_model_state_dict(tmp_path):
    model = SRResNet(num_blocks=1, channels=8)
    sidecar = {"method": "srresnet-mse", "iterations": 12, "lr": 1e-4, "data": ["t91"], **environment_fields("cpu")}
    path = save_checkpoint(tmp_path / "ck", model.state_dict(), sidecar)
    assert path == tmp_path / "ck" / "model.safetensors"
    assert json.loads((tmp_path / "ck" / "model.json").read_text()) == sidecar

    for where in (tmp_path / "ck", path):
        state, side = load_checkpoint(where)
        assert side == sidecar
        assert state.keys() == model.state_dict().keys()
        for key, value in model.state_dict().items():
            assert torch.equal(state[key], value), key
    ckpt = read_checkpoint(tmp_path / "ck")
    assert ckpt.path == path and ckpt.sha256 == file_sha256(path) and ckpt.sidecar == sidecar
    fresh = SRResNet(num_blocks=1, channels=8)
    fresh.load_state_dict(state)  # strict: every key and shape fits
    files = sorted((tmp_path / "ck").iterdir())
    assert [p.name for p in files] == ["model.json", "model.safetensors"]  # no temp files left
    assert all(p.stat().st_mode & 0o777 == 0o644 for p in files)


def test_any_tensor_dict_with_a_custom_name(tmp_path):
    shared = torch.arange(6.0).view(2, 3)
    state = {"exp_avg.0": shared, "exp_avg.0.t": shared.t(), "step": torch.tensor(41), "rng": torch.randint(0, 255, (16,), dtype=torch.uint8)}
    save_checkpoint(tmp_path, state, {"kind": "optimizer"}, name="trainer_state")
    loaded, side = load_checkpoint(tmp_path / "trainer_state.safetensors")
    assert side == {"kind": "optimizer"}
    for key, value in state.items():
        assert torch.equal(loaded[key], value) and loaded[key].dtype == value.dtype
    with pytest.raises(TypeError, match="must be tensors"):
        save_checkpoint(tmp_path, {"a": 1.0}, {})


def test_overwrite_replaces_both_files(tmp_path):
    save_checkpoint(tmp_path, {"w": torch.zeros(3)}, {"iterations": 1})
    save_checkpoint(tmp_path, {"w": torch.ones(3)}, {"iterations": 2})
    state, side = load_checkpoint(tmp_path)
    assert torch.equal(state["w"], torch.ones(3)) and side == {"iterations": 2}
    assert json.loads((tmp_path / "model.json").read_text()) == {"iterations": 2}


def test_sidecar_inside_the_weights_file_wins_over_a_stale_json(tmp_path):
    # As after a crash between the weights' replace and the JSON copy's.
    save_checkpoint(tmp_path, {"w": torch.ones(1)}, {"iterations": 2})
    (tmp_path / "model.json").write_text(json.dumps({"iterations": 1}))
    assert load_checkpoint(tmp_path)[1] == {"iterations": 2}


def test_foreign_safetensors_fall_back_to_the_json_beside_them(tmp_path):
    save_file({"w": torch.ones(2)}, str(tmp_path / "model.safetensors"))
    assert load_checkpoint(tmp_path)[1] == {}
    (tmp_path / "model.json").write_text('{"source": "elsewhere"}')
    assert load_checkpoint(tmp_path)[1] == {"source": "elsewhere"}
    (tmp_path / "model.json").write_text("{broken")
    with pytest.raises(CheckpointError, match="corrupt sidecar"):
        load_checkpoint(tmp_path)


def test_missing_and_corrupt_files_raise_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint not found") as err:
        load_checkpoint(tmp_path / "absent")
    assert isinstance(err.value, SrbenchError) and str(tmp_path / "absent" / "model.safetensors") in str(err.value)

    path = save_checkpoint(tmp_path, {"w": torch.ones(1000)}, {"a": 1})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # truncated
    with pytest.raises(CheckpointError, match="corrupt checkpoint"):
        load_checkpoint(path)
    path.write_bytes(b"\x00" * 64)  # garbage header
    with pytest.raises(CheckpointError, match="corrupt checkpoint"):
        load_checkpoint(path)


def test_provenance_helpers(tmp_path):
    rev = git_revision()
    assert rev == "unknown" or re.fullmatch(r"[0-9a-f]{40}(\+dirty)?", rev)
    assert git_revision(tmp_path) == "unknown"  # not a git work tree
    fields = environment_fields("cpu")
    assert fields["torch_version"] == torch.__version__
    assert fields["device"].startswith("cpu")
    assert set(fields) - {"code_changes"} == {"git_revision", "torch_version", "device"}
    assert ("code_changes" in fields) == fields["git_revision"].endswith("+dirty")


def test_a_failed_save_leaves_the_previous_checkpoint_intact(tmp_path):
    save_checkpoint(tmp_path, {"w": torch.ones(2)}, {"iterations": 1})
    with pytest.raises(TypeError):
        save_checkpoint(tmp_path, {"w": torch.zeros(2)}, {"iterations": 2, "bad": object()})
    state, side = load_checkpoint(tmp_path)
    assert torch.equal(state["w"], torch.ones(2)) and side == {"iterations": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json", "model.safetensors"]


def test_check_checkpoint_file_reads_only_the_header_and_catches_damage(tmp_path):
    from srbench.methods.checkpoint import check_checkpoint_file

    path = save_checkpoint(tmp_path / "ok", {"w": torch.arange(12.0)}, {"method": "synthetic", "iterations": 3})
    assert check_checkpoint_file(path) == {"method": "synthetic", "iterations": 3}
    data = path.read_bytes()
    cases = {"short": data[:-4], "padded": data + b"\0" * 8, "tiny": data[:5], "garbage": b"\xff" * 64,
             "text": b"not a checkpoint, a text file\n", "huge header": (10**9).to_bytes(8, "little") + data[8:]}
    messages = {"short": "is truncated: its tensors need", "padded": "unexpected bytes after its tensors",
                "tiny": "not even a safetensors header", "garbage": "is not a safetensors file",
                "text": "is not a safetensors file", "huge header": "is truncated: its header says"}
    for name, content in cases.items():
        bad = tmp_path / f"{name}.safetensors"
        bad.write_bytes(content)
        with pytest.raises(CheckpointError, match=messages[name]):
            check_checkpoint_file(bad)
