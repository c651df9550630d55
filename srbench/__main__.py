"""Allow ``python -m srbench``."""

from srbench.cli import main

raise SystemExit(main())
