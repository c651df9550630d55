"""NIQE's pristine model file: where it is, fetching it, checking and loading it.

The model is the authors' ``modelparameters.mat`` (``mu_prisparam`` 1x36,
``cov_prisparam`` 36x36; see ``srbench/data/niqe_model.json`` for its
SHA-256, size, public sources and why srbench does not ship it).

Where it is looked for, first match wins:

1. a path given by the caller (``load_model(path)``);
2. ``$SRBENCH_NIQE_MODEL``;
3. the data cache, ``datasets/cache/niqe/niqe_modelparameters.mat``
   (where ``srbench datasets fetch --niqe-model`` puts it).

Every load checks the file's SHA-256 against the manifest (a custom model
can be loaded with ``verify=False``; its own SHA-256 is still recorded).

Command line (thin layers over :func:`fetch_model` / :func:`load_model`):
``srbench datasets fetch --niqe-model [--source URL|FILE]``, ``srbench
datasets verify --niqe-model``, and, without the CLI package::

    python -m srbench.metrics.niqe_model fetch                      # from the manifest's URLs
    python -m srbench.metrics.niqe_model fetch --source ../shared/reference/niqe_modelparameters.mat
    python -m srbench.metrics.niqe_model verify [PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import urllib.parse
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from srbench.atomicio import atomic_path
from srbench.data.sets import DEFAULT_CACHE, sha256_file
from srbench.errors import SrbenchError

MANIFEST_PATH = Path(__file__).resolve().parent.parent / "data" / "niqe_model.json"
FETCH_COMMAND = "srbench datasets fetch --niqe-model"
FEATURES = 36


class NiqeModelError(SrbenchError):
    """The NIQE model file is missing, altered or not a NIQE model."""


@dataclass(frozen=True)
class NiqeModel:
    """The pristine multivariate Gaussian: ``mean`` (36,), ``cov`` (36, 36), both float64, read-only."""

    mean: np.ndarray
    cov: np.ndarray
    path: str
    sha256: str


@lru_cache(maxsize=1)
def manifest() -> dict:
    """The parsed ``srbench/data/niqe_model.json``."""
    return json.loads(MANIFEST_PATH.read_text())


def default_cache_path() -> Path:
    """Where ``fetch`` installs the model: ``datasets/cache/niqe/niqe_modelparameters.mat``."""
    return DEFAULT_CACHE / manifest()["cache_path"]


def model_path_choice(path: str | os.PathLike | None = None) -> tuple[Path, str]:
    """``(path, origin)``: the caller's path, else ``$SRBENCH_NIQE_MODEL``, else the cache."""
    env = manifest()["env_var"]
    if path:
        return Path(path), "the given path"
    if os.environ.get(env):
        return Path(os.environ[env]), f"${env}"
    return default_cache_path(), "the data cache"


def _missing_message(path: Path, origin: str) -> str:
    m = manifest()
    return (
        f"NIQE model not found at {path} (from {origin}); fetch it with '{FETCH_COMMAND}' "
        f"(downloads {m['name']} and checks its SHA-256), or point ${m['env_var']} at a copy "
        f"with sha256 {m['sha256']}"
    )


def verify_file(path: str | os.PathLike) -> str:
    """Return the file's SHA-256 if it matches the manifest, else raise :class:`NiqeModelError`."""
    m = manifest()
    path = Path(path)
    digest = sha256_file(path)
    if digest != m["sha256"]:
        raise NiqeModelError(
            f"NIQE model {path} has sha256 {digest}, expected {m['sha256']} (altered or a different "
            f"model); re-fetch it with '{FETCH_COMMAND}', or load a custom model with verify=False"
        )
    return digest


def read_mat(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """``(mean (36,), cov (36, 36))`` from a .mat holding ``mu_prisparam`` and ``cov_prisparam``."""
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    try:
        data = loadmat(str(path))
    except (MatReadError, ValueError, TypeError, OSError, NotImplementedError) as exc:
        raise NiqeModelError(f"{path}: not a readable MATLAB .mat file ({exc})") from exc
    missing = [k for k in ("mu_prisparam", "cov_prisparam") if k not in data]
    if missing:
        raise NiqeModelError(f"{path}: no variable {', '.join(missing)} (is it a NIQE model?)")
    mean = np.asarray(data["mu_prisparam"], dtype=np.float64)
    cov = np.asarray(data["cov_prisparam"], dtype=np.float64)
    if mean.size != FEATURES or cov.shape != (FEATURES, FEATURES):
        raise NiqeModelError(
            f"{path}: mu_prisparam is {mean.shape} and cov_prisparam {cov.shape}; NIQE needs 1x36 and 36x36"
        )
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(cov))):
        raise NiqeModelError(f"{path}: the model holds NaN or infinite values")
    return mean.reshape(FEATURES), cov


@lru_cache(maxsize=8)
def _load_cached(path: str, verify: bool, stamp: tuple[int, int]) -> NiqeModel:
    digest = verify_file(path) if verify else sha256_file(path)
    mean, cov = read_mat(path)
    mean.flags.writeable = False
    cov.flags.writeable = False
    return NiqeModel(mean, cov, path, digest)


def load_model(path: str | os.PathLike | None = None, *, verify: bool = True) -> NiqeModel:
    """Load (once; cached while the file is unchanged) and check the NIQE model.

    ``path`` None: ``$SRBENCH_NIQE_MODEL``, else the data cache. ``verify``
    False accepts a custom model (any 1x36 / 36x36 pair) without the checksum.
    Raises :class:`NiqeModelError` naming the fetch command when it is missing.
    """
    where, origin = model_path_choice(path)
    if not where.is_file():
        raise NiqeModelError(_missing_message(where, origin))
    st = where.stat()
    return _load_cached(str(where.resolve()), verify, (st.st_mtime_ns, st.st_size))


def fetch_model(
    source: str | None = None,
    dest: str | os.PathLike | None = None,
    *,
    timeout: float = 30.0,
    progress: bool = True,
) -> Path:
    """Install the model at ``dest`` (default: the data cache) and return its path.

    ``source``: None = the manifest's URLs in turn; an ``http(s)://`` URL; or a
    local file. The bytes are written to a temporary file beside ``dest``,
    checked (SHA-256, loadable) and only then renamed into place, so a failed
    fetch leaves nothing behind. A valid file already at ``dest`` is kept.
    """
    from srbench.data.fetch import download  # network code, imported only when fetching

    dest = Path(dest) if dest else default_cache_path()
    if dest.is_file():
        try:
            verify_file(dest)
            return dest
        except NiqeModelError:
            pass  # replaced below
    if dest.exists() and not dest.is_file():
        raise NiqeModelError(f"cannot install the NIQE model at {dest}: it is a folder")
    dest.parent.mkdir(parents=True, exist_ok=True)
    sources = [source] if source else list(manifest()["sources"])
    errors = []
    for src in sources:
        try:
            with atomic_path(dest) as tmp:  # published only if every check below passes
                if urllib.parse.urlsplit(src).scheme in ("http", "https"):
                    download(src, tmp, timeout, progress)
                else:
                    if not Path(src).is_file():
                        raise NiqeModelError(f"--source {src} is not a file")
                    shutil.copyfile(src, tmp)
                verify_file(tmp)
                read_mat(tmp)
            return dest
        except SrbenchError as exc:
            errors.append(f"{src}: {exc}")
    raise NiqeModelError("could not fetch the NIQE model; " + "; ".join(errors))


def main(argv: list[str] | None = None) -> int:
    """``python -m srbench.metrics.niqe_model fetch|verify``; errors are one line, exit status 2."""
    parser = argparse.ArgumentParser(
        prog="python -m srbench.metrics.niqe_model",
        description="Fetch or verify NIQE's pristine model (the authors' modelparameters.mat, SHA-256 checked).",
        epilog="examples:\n  %(prog)s fetch\n  %(prog)s fetch --source ../shared/reference/niqe_modelparameters.mat\n"
        "  %(prog)s verify",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_fetch = sub.add_parser("fetch", help="download (or copy) the model into the data cache")
    p_fetch.add_argument("--source", help="URL or local file (default: the manifest's public URLs)")
    p_fetch.add_argument("--dest", help=f"where to install it (default: {default_cache_path()})")
    p_fetch.add_argument("--timeout", type=float, default=30.0, help="network timeout in seconds (default 30)")
    p_verify = sub.add_parser("verify", help="check the model's SHA-256 and contents")
    p_verify.add_argument("path", nargs="?", help=f"model file (default: ${manifest()['env_var']}, else the cache)")
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            if not (args.timeout > 0 and np.isfinite(args.timeout)):
                raise NiqeModelError(f"--timeout must be a positive number of seconds, got {args.timeout}")
            path = fetch_model(args.source, args.dest, timeout=args.timeout)
            print(f"NIQE model installed at {path} (sha256 {manifest()['sha256']})")
        else:
            model = load_model(args.path)
            print(f"NIQE model {model.path}: sha256 {model.sha256} OK")
    except SrbenchError as exc:
        print(f"{parser.prog} {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
