"""``srbench.data.resize.imresize(..., edges="symmetric")``: MATLAB's mirrored border indices (NIQE uses them).

Checked against the default (clamped) resize of an explicitly mirror-padded
image: with a pad wider than the kernel no index is ever clamped, and
padding by p input pixels shifts the output grid by exactly p * scale pixels.
"""

from __future__ import annotations

import numpy as np
import pytest

from srbench.data.resize import ResizeError, imresize


@pytest.mark.parametrize("scale, pad", [(0.5, 16), (0.25, 32), (2.0, 4)])
def test_symmetric_edges_equal_resizing_a_mirror_padded_image(scale, pad):
    img = np.random.default_rng(7).uniform(0, 255, (24, 40))  # SYNTHETIC
    got = imresize(img, scale, kernel="bicubic", edges="symmetric")
    padded = np.pad(img, pad, mode="symmetric")  # numpy's 'symmetric' repeats the edge, like MATLAB's aux
    off = int(pad * scale)
    ref = imresize(padded, scale, kernel="bicubic")[off : off + got.shape[0], off : off + got.shape[1]]
    assert got.shape == (int(24 * scale), int(40 * scale))
    assert np.allclose(got, ref, rtol=0, atol=1e-10)
    # and the default (replicate) differs only near the borders
    clamped = imresize(img, scale, kernel="bicubic")
    assert np.allclose(clamped[3:-3, 3:-3], got[3:-3, 3:-3], atol=1e-10)
    assert not np.allclose(clamped, got, atol=1e-3)


def test_unknown_edges_are_refused():
    with pytest.raises(ResizeError, match="edges"):
        imresize(np.zeros((8, 8)), 0.5, edges="wrap")
