"""Training: recipes, datasets, the loop with kill-safe checkpoints, distribution.

Example:
    >>> from bnnzoo.training import recipes, train
    >>> config = recipes.resolve("resnet_e18_imagenet_quick", ["epochs=1"])
    >>> result = train(config, "runs/quick")
"""

from bnnzoo.training import data, recipes
from bnnzoo.training.loop import TrainingError, TrainResult, evaluate_run, train

__all__ = ["TrainResult", "TrainingError", "data", "evaluate_run", "recipes", "train"]
