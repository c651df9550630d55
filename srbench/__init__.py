"""srbench: reproducible 4x single-image super-resolution benchmark (SRGAN re-creation).

Conventions used throughout the project:

* Images are ``numpy.ndarray`` of dtype ``uint8``, shape ``(H, W, 3)``, RGB
  channel order, values 0..255, unless a docstring says otherwise.
* Torch tensors are ``float32`` NCHW RGB in ``[0, 1]`` unless stated.
* The scale factor is 4 everywhere (the paper's setting).
"""

__version__ = "0.1.0"
SCALE = 4

from srbench import _checkout

_checkout.install()  # PYTHONPATH=. on an uninstalled checkout (see srbench/_checkout.py)
