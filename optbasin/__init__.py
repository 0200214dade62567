"""optbasin: measure how robust deep-learning optimizers are to their hyperparameters.

The Python API (optbasin/api.py): ``run_sweep``, ``plan_sweep``, ``open_run`` and ``Run``, imported
on first use (so that importing optbasin in every Ray worker stays cheap)."""

__version__ = "0.1.0"

API = ("Run", "open_run", "plan_sweep", "run_sweep")
__all__ = ["__version__", *API]


def __getattr__(name: str):
    if name in API:
        from optbasin import api

        return getattr(api, name)
    raise AttributeError(f"module 'optbasin' has no attribute {name!r}")
