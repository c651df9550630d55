"""The trainer's written record: ``OUT/train.log`` (text) and ``OUT/metrics.jsonl`` (one JSON object a line).

Both files are appended to (a resumed run continues them) and flushed after
every line, so a crash loses nothing already reported. They (and the output
folder) are created with their first line: a run refused before it logs
anything leaves no empty files behind. Only rank 0 of a multi-process run
writes; other ranks get a logger that does nothing.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

LOG_FILE = "train.log"
METRICS_FILE = "metrics.jsonl"


class RunLog:
    """Timestamped text log + JSON-lines metrics under ``out`` (disabled: writes nothing)."""

    def __init__(self, out: Path, *, enabled: bool = True, echo: bool = True) -> None:
        self.out = out
        self.enabled = enabled
        self.echo = echo
        self._log = self._metrics = None
        self._wrote = False

    def _file(self, name: str):
        """The open file ``name``; the folder and both files are made on the first line written."""
        if self._log is None:
            self.out.mkdir(parents=True, exist_ok=True)
            self._log = open(self.out / LOG_FILE, "a", encoding="utf-8")
            self._metrics = open(self.out / METRICS_FILE, "a", encoding="utf-8")
            self._wrote = True
        return self._log if name == LOG_FILE else self._metrics

    @property
    def written(self) -> bool:
        """True once a line was written by this logger (also after :meth:`close`)."""
        return self._wrote

    def info(self, message: str) -> None:
        """Write ``message`` with a UTC timestamp to train.log (and to stderr, above any progress bar)."""
        if not self.enabled:
            return
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        log = self._file(LOG_FILE)
        log.write(f"{stamp} {message}\n")
        log.flush()
        if self.echo:
            from tqdm import tqdm

            tqdm.write(message, file=sys.stderr)

    def metrics(self, record: dict) -> None:
        """Append ``record`` (JSON-serialisable) as one line of metrics.jsonl."""
        if not self.enabled:
            return
        metrics = self._file(METRICS_FILE)
        metrics.write(json.dumps(record, sort_keys=True) + "\n")
        metrics.flush()

    def close(self) -> None:
        for f in (self._log, self._metrics):
            if f is not None:
                f.close()
        self._log = self._metrics = None
