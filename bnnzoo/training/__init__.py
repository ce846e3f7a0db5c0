"""Training: recipes, datasets, the loop with kill-safe checkpoints, distribution.

One module per idea: ``recipes`` (named configs), ``data`` (datasets and input pipelines),
``precision`` (dtype policies), ``optimizers`` (optimizers and schedules), ``steps`` (the
compiled train and eval steps), ``distillation``, ``monitors`` (gradient norms, latent
weights), ``distribute`` (strategies), ``rundir`` (the files of a run), ``checkpoints`` (a run's
checkpoints), ``epochs`` (one epoch of training), ``loop`` (``train``), ``real_weights`` (binary
activations with real weights, and the hand-over of their weights) and ``two_step`` (ReActNet's
two-step training as one resumable job).

Example:
    >>> from bnnzoo.training import recipes, train
    >>> config = recipes.resolve("resnet_e18_imagenet", ["epochs=1"], quick=True)
    >>> result = train(config, "runs/quick")
"""

from bnnzoo.training import data, recipes
from bnnzoo.training.loop import TrainingError, TrainResult, evaluate_run, train
from bnnzoo.training.rundir import RunDir

__all__ = ["RunDir", "TrainResult", "TrainingError", "data", "evaluate_run", "recipes", "train"]
