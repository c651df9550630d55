"""Coverage of the benchmark sets by a method that reads stored SR images (``external:``, ``published:``).

A :class:`CoverageReport` is what :meth:`srbench.run.registry.Method.check_coverage`
returns: per set, which images are missing, extra, of the wrong size or
unreadable, so that a run can say so up front and mark a set as partially
covered instead of averaging it as if it were complete.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "external:"


@dataclass(frozen=True)
class DatasetCoverage:
    """Which of one set's images a result folder provides.

    ``expected`` is the set's image count; ``missing``, ``extra``,
    ``mis_sized`` and ``unreadable`` hold file names (or, for ``extra`` in
    the flat layout, paths relative to ``DIR``), sorted. ``mis_sized`` entries
    read ``"NAME.png (WxH, expected WxH)"``. ``altered`` (methods whose files
    are pinned by checksums, ``published:``) lists files present but not the
    released bytes, ``"NAME.png (why)"``; they are never measured. ``note``
    says why a set is not covered at all (e.g. not part of a release).
    """

    dataset: str
    expected: int
    missing: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    mis_sized: tuple[str, ...] = ()
    unreadable: tuple[str, ...] = ()
    altered: tuple[str, ...] = ()
    note: str = ""

    @property
    def covered(self) -> int:
        """Number of the set's images that are present and usable as far as names go (altered ones excluded)."""
        return self.expected - len(self.missing) - len(self.altered)

    @property
    def complete(self) -> bool:
        """True when every image is present, unaltered, readable and of the HR size."""
        return not (self.missing or self.mis_sized or self.unreadable or self.altered)


@dataclass(frozen=True)
class CoverageReport:
    """Coverage of the requested sets by one ``external:`` (or ``published:``) folder.

    ``extra`` lists files in ``DIR`` that no requested set uses (relative to
    ``DIR``); in the flat layout only files that belong to no benchmark set at
    all count as extra, so a flat folder holding all three sets is not
    flagged when only Set5 is evaluated.
    """

    method: str
    directory: Path
    layout: str  # "per-set" or "flat"
    datasets: dict[str, DatasetCoverage] = field(default_factory=dict)
    extra: tuple[str, ...] = ()
    prefix: str = PREFIX  # the family's prefix, as the method is written on the command line

    @property
    def complete(self) -> bool:
        return all(d.complete for d in self.datasets.values())

    def lines(self) -> list[str]:
        """One human-readable line per set, plus one for extra files, e.g.

        ``external:selfexsr covers 98/100 of bsd100 (missing img_007.png, img_042.png)``
        """
        out = []
        for cov in self.datasets.values():
            line = f"{self.prefix}{self.method} covers {cov.covered}/{cov.expected} of {cov.dataset}"
            details = []
            if cov.note and cov.covered == 0:  # e.g. a set the release does not hold: the reason, not 100 names
                out.append(f"{line} ({cov.note})")
                continue
            if cov.missing:
                details.append("missing " + _shorten(cov.missing))
            if cov.mis_sized:
                details.append("wrong size " + _shorten(cov.mis_sized))
            if cov.unreadable:
                details.append("unreadable " + _shorten(cov.unreadable))
            if cov.altered:
                details.append("altered, not measured " + _shorten(cov.altered))
            if cov.note:
                details.append(cov.note)
            if details:
                line += " (" + "; ".join(details) + ")"
            out.append(line)
        if self.extra:
            out.append(f"{self.prefix}{self.method}: extra files in {self.directory}: {_shorten(self.extra)}")
        return out


def _shorten(items: tuple[str, ...], limit: int = 8) -> str:
    shown = ", ".join(items[:limit])
    if len(items) > limit:
        shown += f", ... ({len(items) - limit} more)"
    return shown
