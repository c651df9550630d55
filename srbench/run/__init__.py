"""The benchmark run: the method registry, the runner, upscaling of any images, and the run's stamp.

* :mod:`srbench.run.registry` - methods by name (built-in, plugins, families), their metadata;
* :mod:`srbench.run.runner` - :func:`~srbench.run.runner.run_benchmark`: super-resolve the sets,
  write per-image metrics and the run's JSON record;
* :mod:`srbench.run.upscale` - super-resolve arbitrary image files (``srbench upscale``);
* :mod:`srbench.run.stamp` - where a number came from: code revision, library versions, data checksums.

Nothing is imported here: ``import srbench.run.registry`` does not load torch.
"""
