"""optbasin: measure how robust deep-learning optimizers are to their hyperparameters."""

__version__ = "0.1.0"
