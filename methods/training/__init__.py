"""The trainer behind ``srbench train``: one generic loop for every trainable method (:mod:`.trainer`).

* :mod:`.trainer` - :func:`~srbench.methods.training.trainer.train` and the :class:`Trainer` loop;
* :mod:`.config` - :class:`TrainConfig`, the paper's and the fast recipes;
* :mod:`.options` - the fast-mode switches (``--compile``, ``--tail``);
* :mod:`.data` - training images, random HR patches and their LR versions;
* :mod:`.step` - one optimisation step (content, adversarial, discriminator);
* :mod:`.tail` - how the output convolution runs under bf16 autocast;
* :mod:`.schedule`, :mod:`.budget` - the learning-rate plan and time budgets;
* :mod:`.state` - resume state (save, load, check);
* :mod:`.validate` - validation PSNR during training;
* :mod:`.log` - ``train.log`` and ``metrics.jsonl``;
* :mod:`.dist` - multi-process (torchrun) data parallelism.

Nothing is imported here: ``srbench.methods.training.config`` does not load torch.
"""
