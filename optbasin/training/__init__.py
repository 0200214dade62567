"""Training, independent of Ray and of sweeps: a TrialSpec in, rows and a summary out.

trial_spec.py  TrialSpec, everything one trial needs (sweeps/spec.py expands a sweep into them)
schedule.py    the lr schedule as a multiplier of the base lr
build.py       what every run builds first: seeded RNGs, the device, the task
loop.py        the one training loop (schedule, accumulation, evaluation, divergence, rows, summary)
single.py      its engine for one model: run_trial
population.py  its engine for K stacked members that differ only in hyperparameters: run_population
grouping.py    which trials may be members of one population

This package imports nothing from optbasin.sweeps (sweeps/ imports it).
"""
