"""Adaptive sweeps (``optbasin run SWEEP --adaptive``): rounds that close the grid, bisect what the
claims measure and add seeds where a claim is still open. Above the analysis and the sweeps: it
reads the analysis of the store and runs each round as a sweep (README, Layout)."""
