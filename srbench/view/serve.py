"""How the CLI hands the page its configuration: a JSON file named by ``$SRBENCH_VIEW_CONFIG``.

``srbench view`` (:mod:`srbench.cli.view`) writes it and replaces itself by ``streamlit run`` :data:`PAGE`.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

PAGE = Path(__file__).resolve().parent / "page.py"
ENV_CONFIG = "SRBENCH_VIEW_CONFIG"


def write_config(config: dict) -> Path:
    """The page's configuration (runs, protocol, regenerate, data root, method settings) as a JSON file."""
    fd, name = tempfile.mkstemp(prefix="srbench-view-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(config, f)
    return Path(name)


def read_config() -> dict:
    """The configuration :func:`write_config` wrote (the page reads it from ``$SRBENCH_VIEW_CONFIG``)."""
    path = os.environ.get(ENV_CONFIG)
    if not path:
        raise SystemExit(f"{ENV_CONFIG} is not set: start the viewer with 'srbench view RUN ...'")
    return json.loads(Path(path).read_text())
