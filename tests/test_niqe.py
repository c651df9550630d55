"""NIQE (srbench.metrics.niqe, srbench.metrics.niqe_model).

Evidence, from the ground up:

* hand-computed values on tiny SYNTHETIC images and samples (MSCN of a
  constant, a ramp and an impulse; AGGD shapes of Gaussian, Laplacian,
  two-point and one-sided samples; the alpha search against the exhaustive
  MATLAB ``min``);
* a second, plain implementation written here from the MATLAB release's
  description (direct 2-D window, per-block loops, explicit circshift indices,
  a dense mirrored imresize matrix, numpy's own pinv), compared on real
  benchmark images to 1e-9 relative;
* a published MATLAB value (Set14 baboon, see the test) and sanity on real images;
* the model file: checksum, loader, a fetch over a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import functools
import http.server
import math
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from scipy.special import gamma

from srbench.data.sets import load_dataset
from srbench.errors import SrbenchError
from srbench.data.imageio import read_image
from srbench.metrics import niqe as N
from srbench.metrics import niqe_model as NM

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_MODEL = PROJECT_ROOT.parent / "shared" / "reference" / "niqe_modelparameters.mat"
SIGMA = 7.0 / 6.0


@pytest.fixture(scope="session")
def model_path() -> Path:
    """The authors' model: ``$SRBENCH_NIQE_MODEL``, else ``../shared/reference`` (CI has it)."""
    path = Path(os.environ.get("SRBENCH_NIQE_MODEL") or SHARED_MODEL)
    if not path.is_file():
        pytest.fail(f"NIQE model not found at {path}: set SRBENCH_NIQE_MODEL")
    return path


@pytest.fixture(scope="session")
def model(model_path) -> NM.NiqeModel:
    return NM.load_model(model_path)


def _hr(data_root: Path, rel: str) -> tuple[np.ndarray, bool]:
    return read_image(data_root / rel)


# ---------------------------------------------------------------- the model file


def test_model_file_matches_its_manifest(model_path, model):
    m = NM.manifest()
    assert model_path.stat().st_size == m["bytes"]
    assert model.sha256 == m["sha256"]
    assert model.mean.shape == (36,) and model.cov.shape == (36, 36)
    assert np.allclose(model.cov, model.cov.T)
    assert not model.mean.flags.writeable and not model.cov.flags.writeable
    assert NM.load_model(model_path) is model  # cached


def test_model_from_env_var_and_missing_model_names_fetch_command(model_path, monkeypatch, tmp_path):
    monkeypatch.setenv("SRBENCH_NIQE_MODEL", str(model_path))
    assert NM.load_model().sha256 == NM.manifest()["sha256"]
    monkeypatch.delenv("SRBENCH_NIQE_MODEL")
    monkeypatch.setattr(NM, "default_cache_path", lambda: tmp_path / "niqe" / "niqe_modelparameters.mat")
    with pytest.raises(NM.NiqeModelError) as err:
        NM.load_model()
    msg = str(err.value)
    assert NM.FETCH_COMMAND in msg and "SRBENCH_NIQE_MODEL" in msg and "data cache" in msg


def test_altered_or_foreign_model_files_are_refused(model_path, tmp_path):
    altered = tmp_path / "altered.mat"
    data = bytearray(model_path.read_bytes())
    data[-1] ^= 0x01
    altered.write_bytes(bytes(data))
    with pytest.raises(NM.NiqeModelError, match="sha256"):
        NM.load_model(altered)
    # a custom model (SYNTHETIC values) loads with verify=False, its own checksum recorded
    custom = tmp_path / "custom.mat"
    scipy.io.savemat(custom, {"mu_prisparam": np.ones((1, 36)), "cov_prisparam": np.eye(36)})
    with pytest.raises(NM.NiqeModelError, match="sha256"):
        NM.load_model(custom)
    loaded = NM.load_model(custom, verify=False)
    assert loaded.mean.tolist() == [1.0] * 36 and loaded.sha256 == NM.sha256_file(custom)
    wrong = tmp_path / "wrong.mat"
    scipy.io.savemat(wrong, {"mu": np.ones((1, 36))})
    with pytest.raises(NM.NiqeModelError, match="no variable mu_prisparam, cov_prisparam"):
        NM.load_model(wrong, verify=False)
    small = tmp_path / "small.mat"
    scipy.io.savemat(small, {"mu_prisparam": np.ones((1, 18)), "cov_prisparam": np.eye(18)})
    with pytest.raises(NM.NiqeModelError, match="1x36 and 36x36"):
        NM.load_model(small, verify=False)
    text = tmp_path / "text.mat"
    text.write_text("not a mat file")
    with pytest.raises(NM.NiqeModelError, match="not a readable"):
        NM.load_model(text, verify=False)


@pytest.fixture()
def http_base(model_path, tmp_path):
    """A real HTTP server on 127.0.0.1 serving the model and a wrong file."""
    root = tmp_path / "www"
    root.mkdir()
    shutil.copyfile(model_path, root / "model.mat")
    (root / "wrong.mat").write_bytes(b"x" * 8347)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_fetch_over_http_is_verified_and_atomic(http_base, tmp_path):
    dest = tmp_path / "cache" / "niqe" / "niqe_modelparameters.mat"
    with pytest.raises(NM.NiqeModelError, match="sha256"):
        NM.fetch_model(f"{http_base}/wrong.mat", dest, progress=False)
    with pytest.raises(NM.NiqeModelError, match="404"):
        NM.fetch_model(f"{http_base}/missing.mat", dest, progress=False)
    assert list(dest.parent.iterdir()) == []  # nothing half-written
    assert NM.fetch_model(f"{http_base}/model.mat", dest, progress=False) == dest
    assert NM.load_model(dest).sha256 == NM.manifest()["sha256"]
    assert [p.name for p in dest.parent.iterdir()] == [dest.name]


def test_fetch_and_verify_command_line(model_path, tmp_path, capsys):
    dest = tmp_path / "m.mat"
    assert NM.main(["fetch", "--source", str(model_path), "--dest", str(dest)]) == 0
    assert "installed" in capsys.readouterr().out
    assert NM.main(["verify", str(dest)]) == 0
    dest.write_bytes(b"broken")
    assert NM.main(["verify", str(dest)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "error:" in err and "sha256" in err
    assert NM.main(["fetch", "--source", str(tmp_path / "nope.mat"), "--dest", str(dest)]) == 2
    assert "is not a file" in capsys.readouterr().err
    assert NM.main(["fetch", "--timeout", "nan", "--dest", str(dest)]) == 2


# ---------------------------------------------------------------- SYNTHETIC hand-computed features


def _g(k: int) -> float:
    """1-D Gaussian tap at offset k, normalised over -3..3 (closed form)."""
    z = sum(math.exp(-(j * j) / (2 * SIGMA * SIGMA)) for j in range(-3, 4))
    return math.exp(-(k * k) / (2 * SIGMA * SIGMA)) / z


def test_gaussian_window_is_fspecial_7_by_7_sigma_7_over_6():
    w2 = np.outer(N.gaussian_taps(), N.gaussian_taps())
    x = np.arange(-3, 4)
    ref = np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2 * SIGMA**2))
    assert np.allclose(w2, ref / ref.sum(), rtol=1e-14, atol=0)
    rings = N.weight_rings()
    assert [len(offs) for _, offs in rings] == [4, 4, 4, 8, 4, 4, 8, 8, 4]
    assert sum(w * len(offs) for w, offs in rings) + _g(0) ** 2 == pytest.approx(1.0, abs=1e-15)


def test_mscn_of_a_constant_image_is_exactly_zero():
    plane = np.full((40, 50), 137.0)  # SYNTHETIC
    assert np.all(N.mscn(plane) == 0.0)


def test_mscn_of_a_ramp_is_zero_inside_and_hand_computed_at_the_edge():
    a = 3.0
    plane = np.tile(a * np.arange(30, dtype=np.float64), (12, 1))  # SYNTHETIC: I(i, j) = 3 j
    m = N.mscn(plane)
    assert np.all(m[:, 3:-3] == 0.0)  # the window is symmetric: mean = centre, exactly
    # column 0 with replicated borders: the window sees 3 max(k, 0) for k = -3..3
    mu = sum(_g(k) * a * max(k, 0) for k in range(-3, 4))
    ex2 = sum(_g(k) * (a * max(k, 0)) ** 2 for k in range(-3, 4))
    expected = (0.0 - mu) / (math.sqrt(ex2 - mu * mu) + 1.0)
    assert np.allclose(m[:, 0], expected, rtol=1e-12, atol=0)
    assert np.allclose(m[:, -1], -expected, rtol=1e-12, atol=0)  # mirror image at the right edge


def test_mscn_of_an_impulse_uses_sigma_7_over_6_and_c_1():
    plane = np.zeros((15, 15))  # SYNTHETIC
    plane[7, 7] = 200.0
    w00 = _g(0) ** 2
    expected = (200.0 - 200.0 * w00) / (math.sqrt(200.0**2 * w00 - (200.0 * w00) ** 2) + 1.0)
    assert N.mscn(plane)[7, 7] == pytest.approx(expected, rel=1e-12)
    # a neighbour two rows up: window weight g(2) g(0) on the impulse, own value 0
    w = _g(2) * _g(0)
    expected_nb = (0.0 - 200.0 * w) / (math.sqrt(200.0**2 * w - (200.0 * w) ** 2) + 1.0)
    assert N.mscn(plane)[5, 7] == pytest.approx(expected_nb, rel=1e-12)


def test_alpha_grid_and_nearest_point_search_match_the_exhaustive_min():
    grid = N.ALPHA_GRID
    assert len(grid) == 9801 and grid[0] == 0.2 and grid[-1] == 10.0
    assert np.allclose(np.diff(grid), 0.001, atol=1e-12)
    rho = gamma(2 / grid) ** 2 / (gamma(1 / grid) * gamma(3 / grid))
    rng = np.random.default_rng(17)
    targets = np.concatenate([
        rng.uniform(-0.1, 0.9, 3000),
        rho[::97], (rho[1:] + rho[:-1])[::89] / 2,  # grid points and midpoints
        [np.nan, np.inf, -np.inf, -1.0, 0.0, 0.75, 5.0],
    ])
    brute = np.array([np.argmin((rho - t) ** 2) for t in targets])  # numpy's argmin: first on ties, NaN first
    assert np.array_equal(N.nearest_alpha_index(targets), brute)


def test_aggd_of_gaussian_samples_has_shape_2():
    x = np.random.default_rng(0).normal(0.0, 2.0, 400_000)  # SYNTHETIC
    alpha, bl, br = (float(v[0]) for v in N.aggd_fit(x))
    assert alpha == pytest.approx(2.0, abs=0.03)
    # beta = std sqrt(G(1/a)/G(3/a)) = 2 sqrt(2) for a Gaussian of std 2
    assert bl == pytest.approx(2 * math.sqrt(2), rel=0.01) and br == pytest.approx(2 * math.sqrt(2), rel=0.01)


def test_aggd_of_laplacian_samples_has_shape_1_and_scale_b():
    x = np.random.default_rng(1).laplace(0.0, 1.5, 400_000)  # SYNTHETIC
    alpha, bl, br = (float(v[0]) for v in N.aggd_fit(x))
    assert alpha == pytest.approx(1.0, abs=0.03)
    assert bl == pytest.approx(1.5, rel=0.02) and br == pytest.approx(1.5, rel=0.02)


def test_aggd_of_symmetric_and_asymmetric_samples():
    v = np.random.default_rng(2).gamma(0.7, 1.0, 50_000)  # SYNTHETIC
    alpha, bl, br = N.aggd_fit(np.concatenate([v, -v]))
    assert br[0] == pytest.approx(bl[0], rel=1e-13)
    # SYNTHETIC AGGD with alpha 2, right scale twice the left: the sides carry mass in proportion 1 : 2
    rng = np.random.default_rng(3)
    left, right = np.abs(rng.normal(size=100_000)), 2 * np.abs(rng.normal(size=200_000))
    alpha, bl, br = N.aggd_fit(np.concatenate([-left, right]))
    assert alpha[0] == pytest.approx(2.0, abs=0.03) and br[0] / bl[0] == pytest.approx(2.0, rel=0.01)


def test_aggd_by_hand_on_two_point_and_one_sided_samples():
    # {-1, +1}: sigma_l = sigma_r = 1, r = 1, R = 1 > max rho (0.75 at alpha -> inf): the last grid point
    alpha, bl, br = N.aggd_fit(np.array([-1.0, 1.0] * 50))
    assert alpha[0] == 10.0
    assert bl[0] == br[0] == pytest.approx(math.sqrt(math.gamma(0.1) / math.gamma(0.3)), rel=1e-14)
    # no negative samples: sigma_l = mean of nothing = NaN, R NaN, MATLAB's min picks the first point
    alpha, bl, br = N.aggd_fit(np.array([0.5, 1.0, 2.0, 0.0]))
    assert alpha[0] == 0.2 and math.isnan(bl[0])
    assert br[0] == pytest.approx(math.sqrt(5.25 / 3) * math.sqrt(math.gamma(5) / math.gamma(15)), rel=1e-14)
    alpha, bl, br = N.aggd_fit(np.zeros((2, 9)))  # flat: everything undefined but alpha
    assert np.all(alpha == 0.2) and np.all(np.isnan(bl)) and np.all(np.isnan(br))


def test_blocks_are_column_major_and_pairs_wrap_within_the_block():
    plane = np.arange(24, dtype=np.float64).reshape(4, 6)  # SYNTHETIC
    blocks = N.to_blocks(plane, 2)
    assert [b[0, 0] for b in blocks] == [0, 12, 2, 14, 4, 16]  # down the first column of blocks first
    a = np.arange(9.0).reshape(3, 3)
    rolled = np.roll(a, (1, -1), axis=(0, 1))  # MATLAB circshift(A, [1 -1]): B(i,j) = A(i-1, j+1)
    for i in range(3):
        for j in range(3):
            assert rolled[i, j] == a[(i - 1) % 3, (j + 1) % 3]


# ---------------------------------------------------------------- a plain second implementation


def _ref_luma(rgb: np.ndarray, luma: str, is_gray: bool) -> np.ndarray:
    if is_gray:
        return rgb[..., 0].astype(np.float64)
    r, g, b = (rgb[..., k].astype(np.float64) for k in range(3))
    if luma == "gray":
        v = 0.298936021293775 * r + 0.587043074451121 * g + 0.114020904255103 * b
    else:
        v = 16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0
    return np.floor(v + 0.5)


def _ref_mscn(im: np.ndarray) -> np.ndarray:
    """Direct 2-D window (fspecial normalised), replicated borders; zero where every ring of equal weight cancels."""
    h, w = im.shape
    pad = np.pad(im, 3, mode="edge")
    win = {(a, b): math.exp(-(a * a + b * b) / (2 * SIGMA * SIGMA)) for a in range(-3, 4) for b in range(-3, 4)}
    total = sum(win.values())
    mu = np.zeros_like(im)
    ex2 = np.zeros_like(im)
    rings: dict[int, np.ndarray] = {}
    for (a, b), v in win.items():
        shifted = pad[3 + a : 3 + a + h, 3 + b : 3 + b + w]
        mu += (v / total) * shifted
        ex2 += (v / total) * shifted * shifted
        rings.setdefault(a * a + b * b, np.zeros_like(im))
        rings[a * a + b * b] += shifted - im
    sigma = np.sqrt(np.abs(ex2 - mu * mu))
    cancels = np.all([s == 0 for s in rings.values()], axis=0)
    return np.where(cancels, 0.0, im - mu) / (sigma + 1.0)


def _cubic(x: float) -> float:
    ax = abs(x)
    if ax <= 1:
        return 1.5 * ax**3 - 2.5 * ax**2 + 1
    if ax <= 2:
        return -0.5 * ax**3 + 2.5 * ax**2 - 4 * ax + 2
    return 0.0


def _ref_half_matrix(n: int) -> np.ndarray:
    """MATLAB imresize(., 0.5) bicubic, antialiased, mirrored indices, as a dense (n/2, n) matrix."""
    out = np.zeros((n // 2, n))
    aux = list(range(n)) + list(range(n - 1, -1, -1))
    for i in range(1, n // 2 + 1):
        u = i / 0.5 + 0.5 * (1 - 1 / 0.5)
        left = math.floor(u - 4)
        taps = [(j, 0.5 * _cubic(0.5 * (u - j))) for j in range(left, left + 10)]
        total = sum(t for _, t in taps)
        for j, t in taps:
            out[i - 1, aux[(j - 1) % (2 * n)]] += t / total
    return out


_GAM = np.array([0.2 + 0.001 * k for k in range(9801)])  # MATLAB 0.2:0.001:10
_R_GAM = gamma(2 / _GAM) ** 2 / (gamma(1 / _GAM) * gamma(3 / _GAM))


def _ref_aggd(vec: np.ndarray) -> tuple[float, float, float]:
    """estimateaggdparam.m, line by line (exhaustive search of the grid)."""
    gam, r_gam = _GAM, _R_GAM
    left, right = vec[vec < 0], vec[vec > 0]
    left_std = math.sqrt(np.mean(left**2)) if left.size else math.nan
    right_std = math.sqrt(np.mean(right**2)) if right.size else math.nan
    g = left_std / right_std
    rhat = np.mean(np.abs(vec)) ** 2 / np.mean(vec**2) if np.any(vec) else math.nan
    rnorm = rhat * (g**3 + 1) * (g + 1) / ((g**2 + 1) ** 2)
    alpha = float(gam[int(np.argmin((r_gam - rnorm) ** 2))])
    t = math.sqrt(math.gamma(1 / alpha) / math.gamma(3 / alpha))
    return alpha, left_std * t, right_std * t


def _ref_block_features(block: np.ndarray) -> list[float]:
    b = block.shape[0]
    alpha, bl, br = _ref_aggd(block.ravel())
    feat = [alpha, (bl + br) / 2]
    for di, dj in ((0, 1), (1, 0), (1, 1), (1, -1)):
        rows = [(i - di) % b for i in range(b)]  # circshift: B(i, j) = A(i - di, j - dj), wrapping
        cols = [(j - dj) % b for j in range(b)]
        shifted = block[np.ix_(rows, cols)]
        alpha, bl, br = _ref_aggd((block * shifted).ravel())
        feat += [alpha, (br - bl) * math.gamma(2 / alpha) / math.gamma(1 / alpha), bl, br]
    return feat


def _ref_niqe(rgb: np.ndarray, mu_p: np.ndarray, cov_p: np.ndarray, luma: str = "gray", is_gray: bool = False):
    im = _ref_luma(rgb, luma, is_gray)
    rows, cols = im.shape[0] // 96, im.shape[1] // 96
    im = im[: rows * 96, : cols * 96]
    feats = [[] for _ in range(rows * cols)]
    for scale in (1, 2):
        b = 96 // scale
        m = _ref_mscn(im)
        k = 0
        for c in range(cols):
            for r in range(rows):
                feats[k] += _ref_block_features(m[r * b : (r + 1) * b, c * b : (c + 1) * b])
                k += 1
        im = _ref_half_matrix(im.shape[0]) @ im @ _ref_half_matrix(im.shape[1]).T
    x = np.array(feats)
    mu = np.array([np.mean(col[~np.isnan(col)]) for col in x.T])
    full = x[~np.isnan(x).any(axis=1)]
    centred = full - full.mean(axis=0)
    cov = centred.T @ centred / (len(full) - 1)
    d = mu_p - mu
    return math.sqrt(d @ np.linalg.pinv((cov_p + cov) / 2) @ d), x


@pytest.mark.parametrize(
    "rel, luma",
    [
        ("set5/HR/bird.png", "gray"),
        ("set14/HR/baboon.png", "y"),
        ("set14/HR/bridge.png", "gray"),  # a grayscale file
        ("set14/HR/ppt3.png", "gray"),  # a slide: 94537 pixels in flat 7x7 neighbourhoods
        ("bsd100/HR/img_002.png", "y"),
    ],
)
def test_matches_a_plain_reference_implementation(data_root, model, rel, luma):
    rgb, is_gray = _hr(data_root, rel)
    ref_score, ref_feats = _ref_niqe(rgb, model.mean, model.cov, luma, is_gray)
    plane = N.luma_plane(rgb, luma=luma, is_gray=is_gray)
    feats = N.features(plane)
    assert np.allclose(feats, ref_feats, rtol=1e-9, atol=1e-12, equal_nan=True)
    result = N.niqe(rgb, model=model, luma=luma, is_gray=is_gray)
    assert result.available and result.blocks == len(ref_feats)
    assert result.value == pytest.approx(ref_score, rel=1e-9)


def test_set14_baboon_reproduces_the_published_matlab_value(data_root, model):
    """BasicSR's ``calculate_niqe`` docstring: "MATLAB R2021a result for tests/data/baboon.png:
    5.72957338", computed with the authors' release on MATLAB ``rgb2ycbcr`` Y, no crop.
    BasicSR's baboon.png is Set14's HR baboon cut to 480x492; NIQE only reads the
    top-left 480x480, which is pixel-identical to ours. Ours is 5.7295738842, 5.0e-7
    away; replicate-edge resizing (1.0e-2 away) or rounding noise in flat
    neighbourhoods (1.4e-4 away) would fail this."""
    rgb, _ = _hr(data_root, "set14/HR/baboon.png")
    result = N.niqe(rgb, model=model, luma="y")
    assert result.blocks == 25
    assert abs(result.value - 5.72957338) < 1e-6


def test_blurry_upscales_score_worse_than_hr(data_root, model):
    from srbench.data.resize import imresize

    margins = []
    for im in load_dataset("set5", data_root):
        hr = N.niqe(im.hr, model=model).value
        bicubic = N.niqe(imresize(im.lr, 4, kernel="bicubic"), model=model).value
        margins.append(bicubic - hr)
    assert min(margins) > 0 and np.mean(margins) > 2  # measured: 0.98 .. 4.13, mean 3.17


# ---------------------------------------------------------------- n/a and bad input


def _noise(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)  # SYNTHETIC


def test_too_small_images_are_na_with_the_reason(model):
    r = N.niqe(_noise(95, 300), model=model)
    assert not r.available and "smaller than one 96x96" in r.reason and "300x95" in r.reason
    assert r.format() == "n/a" and str(r).startswith("n/a (")
    r = N.niqe(_noise(96, 191), model=model)
    assert not r.available and "only one 96x96 block" in r.reason and r.blocks == 1
    r = N.niqe(_noise(96, 192), model=model)
    assert r.available and r.blocks == 2 and r.value > 0 and r.format(2) == f"{r.value:.2f}"
    r = N.niqe(_noise(200, 200), model=model, border=60)
    assert not r.available and "80x80" in r.reason
    r = N.niqe(_noise(20, 20), model=model, border=10)
    assert not r.available and "leaves nothing" in r.reason


def test_flat_images_are_na_not_zero(model):
    flat = np.full((192, 192, 3), 128, dtype=np.uint8)  # SYNTHETIC
    r = N.niqe(flat, model=model)
    assert not r.available and "undefined features" in r.reason and r.blocks == 4


def test_bad_input_is_a_clear_error(model):
    with pytest.raises(SrbenchError, match="uint8"):
        N.niqe(_noise(200, 200).astype(np.float32), model=model)
    with pytest.raises(SrbenchError, match=r"\(H, W, 3\)"):
        N.niqe(np.zeros((200, 200, 4), np.uint8), model=model)
    with pytest.raises(SrbenchError, match="numpy"):
        N.niqe([[1, 2], [3, 4]], model=model)
    with pytest.raises(SrbenchError, match="luma"):
        N.niqe(_noise(200, 200), model=model, luma="yuv")
    with pytest.raises(SrbenchError, match="border"):
        N.niqe(_noise(200, 200), model=model, border=-1)
    with pytest.raises(SrbenchError, match="NaN"):
        N.niqe_plane(np.full((200, 200), np.nan), model)


def test_gray_input_forms_agree(model):
    rgb = _noise(200, 300, seed=5)
    gray = rgb[..., 0]
    a = N.niqe(np.repeat(gray[..., None], 3, axis=2), model=model, is_gray=True)
    b = N.niqe(gray, model=model)
    c = N.niqe(np.repeat(gray[..., None], 3, axis=2), model=model)  # rgb2gray of R=G=B gives the gray back
    assert a.value == b.value == c.value


def test_bench_smoke(data_root, model_path):
    env = dict(os.environ, SRBENCH_DATA=str(data_root), SRBENCH_NIQE_MODEL=str(model_path))
    proc = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "bench" / "bench_niqe.py"), "--smoke"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "load average" in proc.stdout and "images/s" in proc.stdout
