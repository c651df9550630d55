"""``srbench view``: a pixel-exact comparison viewer for runs (a Streamlit page on 127.0.0.1).

One job per module:

* :mod:`.runs` - load run folders, join their per-image rows, sort images (also by the difference
  between two methods) and check every image source before anything is served;
* :mod:`.images` - the pixels of one image: saved PNG (checked by SHA-256), or regenerated from the
  recorded method (checkpoint checked by SHA-256, result checked against the run's row); difference maps;
* :mod:`.state` - the view's state (set, image, methods, region, zoom, ...) as URL query parameters;
* :mod:`.export` - the current grid as a PNG laid out like the report's Figure 2, and the region as text;
* :mod:`.component` and ``compare.js`` - the synchronised pixel-exact panels (drawing shared with the
  MOS rating screen, :mod:`srbench.mos_app.viewer`);
* :mod:`.serve` - the configuration the CLI hands the page; ``page.py`` is the thin Streamlit script over all
  of the above (started by :mod:`srbench.cli.view`).

This package sits above :mod:`srbench.report` (it reuses Figure 2's labels) and below the CLI.
"""
