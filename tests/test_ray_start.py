"""A local Ray's start-up work happens before the sweep needs it: Ray Tune's trial actors run in
the worker processes ``ray.init`` started, which imported torch as they started (runner.py), not
in fresh processes started once a trial asks for them."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process start times from /proc")


def test_tune_actors_run_in_the_workers_ray_init_started(tmp_path):
    from ray import tune

    from optbasin.sweeps.runner import ray_session

    def trainable(config):  # runs in the trial's actor process
        after_paren = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime"))
        tune.report({"process_started": boot + int(after_paren[19]) / os.sysconf("SC_CLK_TCK"),
                     "torch_loaded": "torch" in sys.modules})

    with ray_session(None, False):
        # the workers ray.init started accept work once their imports are done (seconds on a busy
        # machine); a trial that asks before then gets a fresh process, as every trial did before
        time.sleep(8)
        asked = time.time()
        results = tune.Tuner(
            tune.with_resources(trainable, {"cpu": 1}), param_space={"x": tune.grid_search([1, 2])},
            run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
        ).fit()
    assert len(results) == 2 and not results.errors
    for r in results:
        assert r.metrics["torch_loaded"]  # imported by the worker as it started, not by the trial
        # /proc/stat's boot time is whole seconds (the start may read up to 1 s early): 1.5 s margin
        assert r.metrics["process_started"] < asked - 1.5
