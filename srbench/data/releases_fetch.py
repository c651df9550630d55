"""Installing a published release (``srbench datasets fetch --datasets ledig2017``).

Sources (``--source``), as for the benchmark sets (:mod:`srbench.data.fetch`):

* nothing: the public repository the manifest names, one raw file at a time
  (``raw_url_template`` at the pinned commit);
* ``http(s)://.../X.zip|.tar.gz``: an archive, e.g. GitHub's archive of that
  commit (``Super-Resolution-<commit>/result/SRGAN/images/...``);
* ``http(s)://BASE``: a server with ``BASE/<release>/<method>/<set>/NAME.png``,
  ``BASE/<method>/<set>/NAME.png`` or the repository layout ``BASE/result/...``;
* a local folder or archive in any of those layouts (``../shared/datasets/published``,
  or the ``ledig2017`` folder itself).

Every file is checked against its SHA-256 and byte count; the release is
staged in a hidden folder inside the published root, verified as a whole and
renamed into place, so a failed or interrupted fetch leaves nothing behind.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from srbench.data import releases as published
from srbench.errors import DataError
from srbench.data.fetch import SCRATCH_PREFIX, FetchResult, FileSpec, HttpSource, install_files, open_source


def file_specs(release: str) -> list[FileSpec]:
    """The release's files as :class:`srbench.data.fetch.FileSpec` (``dataset`` = the release name)."""
    return [FileSpec(f.release, f.path, f.sha256, f.bytes, f.width, f.height, f.source_path, alternatives=(f.path,))
            for f in published.release_files(release)]


def public_source(release: str, timeout: float) -> HttpSource:
    """The manifest's public source: each file from its raw URL at the pinned commit."""
    manifest = published.load_release(release)
    template = manifest["source"]["raw_url_template"]
    host = template.split("/")[2]
    return HttpSource(lambda spec: [template.format(source_path=spec.source_path)],
                      f"{manifest['source']['repository']} on GitHub ({host})", timeout)


def fetch_release(
    release: str,
    published_root: str | os.PathLike | None = None,
    source: str | None = None,
    *,
    data_root: str | os.PathLike | None = None,
    force: bool = False,
    timeout: float = 30.0,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> FetchResult:
    """Install ``release`` into ``<published root>/<release>`` (see the module docstring).

    Skipped when already present and verified, unless ``force``. Raises
    :class:`DataError` on any failure, leaving an installed copy untouched.
    ``timeout`` is in seconds per network operation.
    """
    release = published.normalize_release(release)
    if not (isinstance(timeout, (int, float)) and math.isfinite(timeout) and timeout > 0):
        raise DataError(f"--timeout must be a positive number of seconds, got {timeout!r}")
    root, origin = published.published_root_choice(published_root, data_root)
    say = log or (lambda msg: None)
    specs = file_specs(release)
    total = sum(s.bytes for s in specs)
    dest = root / release
    if not force and not published.verify_release(release, dest):
        say(f"{release}: already present and verified in {dest} (use --force to fetch again)")
        return FetchResult(release, "skipped", len(specs), total, dest)
    created = not root.exists()
    installed = False
    try:
        root.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=root))
        try:
            src = open_source(source, scratch, specs, timeout, progress,
                              default=lambda t: public_source(release, t))
            install_files(release, specs, dest, src, scratch, lambda stage: published.verify_release(release, stage),
                          progress)
            installed = True
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    except OSError as exc:
        raise DataError(f"cannot write into the published root {root} (from {origin}): {exc}") from exc
    finally:
        if created and not installed:
            try:
                root.rmdir()
            except OSError:
                pass
    say(f"{release}: installed {len(specs)} files ({total / 1e6:.1f} MB) from {src.description} into {dest}")
    return FetchResult(release, "installed", len(specs), total, dest)
