"""The fast-mode pieces of one training step, on the CPU: the output-layer modes, torch.compile of the whole
forward + loss (equal to eager, BatchNorm and PReLU fused), a step that reads nothing back, fp32 evaluation."""

from __future__ import annotations

import pytest
import torch

from srbench.methods.specs import TRAIN_SPECS, build_network
from srbench.methods.training.step import StepRunner, make_adam
from srbench.methods.training.tail import (
    Fp32Conv2d,
    PaddedConv2d,
    keep_fp32,
    pad_output_channels,
    plain_output_layer,
)

SPEC = TRAIN_SPECS["srresnet-mse"]
pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

TINY = {"num_blocks": 1, "channels": 8}


def test_pad8_tail_gives_the_same_output_and_gradients():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(8, 3, 9, padding=4)
    x = torch.randn(2, 8, 20, 20)
    ref = conv(x)
    (ref ** 2).sum().backward()
    ref_grad = conv.weight.grad.clone()
    conv.weight.grad = None
    pad_output_channels(conv, 8)
    assert type(conv) is PaddedConv2d
    out = conv(x)
    (out ** 2).sum().backward()
    assert out.shape == ref.shape and torch.allclose(out, ref, atol=1e-5)
    assert torch.allclose(conv.weight.grad, ref_grad, rtol=1e-4, atol=1e-4)
    assert set(conv.state_dict()) == {"weight", "bias"}  # checkpoints unchanged


def test_pad8_tail_in_bf16_stays_close_to_the_fp32_layer():
    """Under bf16 autocast the padded layer differs from fp32 by bf16 rounding only (< 1 % of the output scale)."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(8, 3, 9, padding=4)
    x = torch.randn(2, 8, 20, 20)
    ref = conv(x)
    pad_output_channels(conv, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = conv(x)
    assert out.dtype == torch.bfloat16
    assert (out.float() - ref).abs().max() < 0.01 * ref.abs().max()


def test_fp32_tail_escapes_autocast():
    conv, plain = torch.nn.Conv2d(8, 3, 3, padding=1), torch.nn.Conv2d(8, 3, 3, padding=1)
    keep_fp32(conv, "cpu")
    assert type(conv) is Fp32Conv2d
    x = torch.randn(1, 8, 6, 6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert plain(x).dtype == torch.bfloat16  # what autocast does to a layer
        assert conv(x.to(torch.bfloat16)).dtype == torch.float32  # the output layer stays fp32
    assert set(conv.state_dict()) == {"weight", "bias"}


@pytest.fixture(scope="module")
def set5(data_root):
    from srbench.data.sets import load_dataset

    return load_dataset("set5", data_root)


def test_validation_evaluates_the_plain_network_in_fp32(set5):
    """Whatever the training tail mode and any autocast around it, validation runs the saved network in fp32."""
    from srbench.methods.training.validate import ValidationSet, validate

    torch.manual_seed(0)
    g = build_network(SPEC, TINY).eval()
    vset = ValidationSet("set5", set5[0].name, tuple((im.name, im.lr, im.hr, im.is_gray) for im in set5[:2]))
    reference = validate(g, vset, output_range=(-1, 1), device=torch.device("cpu"))
    pad_output_channels(g.tail, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16), plain_output_layer(g):
        assert type(g.tail) is torch.nn.Conv2d
        result = validate(g, vset, output_range=(-1, 1), device=torch.device("cpu"))
    assert type(g.tail) is PaddedConv2d  # switched back for training
    assert result == reference


def _batches(n: int, batch: int = 4) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    return [(torch.rand(batch, 3, 8, 8, generator=g), torch.rand(batch, 3, 32, 32, generator=g)) for _ in range(n)]


def _runner(compile: str | None, fused: bool = False) -> tuple[torch.nn.Module, StepRunner]:
    torch.manual_seed(1)
    g = build_network(SPEC, TINY)
    opt = make_adam(g.parameters(), lr=1e-3, betas=(0.9, 0.999), fused=fused)
    return g, StepRunner(SPEC, g, opt, torch.nn.MSELoss(), device=torch.device("cpu"), channels_last=True,
                         compile=compile)


def test_a_whole_step_with_fused_adam_reads_nothing_back(images_dir):
    """Sampling a batch (crops, flips, MATLAB bicubic) and one update (forward, loss, backward, fused Adam, as
    --fast on CUDA) never read a value back to the host: no aten._local_scalar_dense, no nonzero."""
    from torch.utils._python_dispatch import TorchDispatchMode

    from srbench.methods.training.data import PatchSampler, list_training_files

    reads = []

    class Reads(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func is torch.ops.aten._local_scalar_dense.default or func.name().startswith("aten::nonzero"):
                reads.append(func.name())
            return func(*args, **(kwargs or {}))

    sampler = PatchSampler.from_files(list_training_files([images_dir]), hr_patch=32, device="cpu", seed=0)
    _, runner = _runner(None, fused=True)
    runner.step(*sampler.sample(4))  # the first step creates Adam's state
    with Reads():
        for _ in range(3):
            out = runner.step(*sampler.sample(4))
    assert reads == [] and set(out) == {"content", "loss"}
    reads.clear()
    with Reads():
        float(out["loss"])  # the counter does see a read
    assert reads == ["aten::_local_scalar_dense"]


@pytest.fixture(scope="module")
def images_dir(train_root, tmp_path_factory):
    folder = tmp_path_factory.mktemp("imgs") / "t91"
    folder.mkdir()
    for p in sorted((train_root / "t91").glob("*.webp"))[:4]:
        (folder / p.name).symlink_to(p)
    return folder


@pytest.mark.slow
def test_compiled_whole_step_matches_eager_and_fuses_batchnorm_and_prelu():
    """torch.compile of forward + loss (AOT backward) on the CPU: the same losses and gradients as eager within
    float tolerance, and BatchNorm / PReLU no longer run as separate ATen kernels (Inductor fused them)."""
    from torch.profiler import profile

    batches = _batches(3)
    grads: dict[str, list[torch.Tensor]] = {"eager": [], "compiled": []}
    losses = {"eager": [], "compiled": []}
    ops = {}
    for name, mode in (("eager", None), ("compiled", "default")):
        g, runner = _runner(mode)

        def keep_grads(part, g=g, name=name):
            if part == "backward":
                grads[name].append(torch.cat([p.grad.flatten() for p in g.parameters()]))

        try:
            for lr_img, hr in batches[:2]:
                losses[name].append(runner.step(lr_img, hr, mark=keep_grads)["loss"])
        except Exception as exc:  # no C++ compiler, an unsupported platform
            if mode is None:
                raise
            pytest.skip(f"torch.compile does not work on this CPU machine: {type(exc).__name__}: {exc}"[:300])
        with profile() as prof:
            runner.step(*batches[2])
        ops[name] = {e.key for e in prof.key_averages()}
    for a, b in zip(losses["eager"], losses["compiled"]):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-6)
    first_e, first_c = grads["eager"][0], grads["compiled"][0]
    assert torch.allclose(first_e, first_c, rtol=1e-4, atol=1e-6), (first_e - first_c).abs().max()
    fused_away = {"aten::native_batch_norm", "aten::_prelu_kernel", "aten::native_batch_norm_backward"}
    assert fused_away <= ops["eager"]
    assert not fused_away & ops["compiled"], fused_away & ops["compiled"]
    assert any("Compiled" in k for k in ops["compiled"])
