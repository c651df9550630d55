"""Names of the trainer's speed options, importable without torch (``srbench train --help`` lists them).

* :data:`TAIL_MODES` - how the generator's output convolution runs under bf16 autocast
  (:mod:`srbench.methods.training.tail`);
* :data:`COMPILE_MODES` - ``torch.compile`` modes of the training step (:mod:`srbench.methods.training.step`).
"""

TAIL_MODES = ("fp32", "bf16", "pad8")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
