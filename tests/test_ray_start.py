"""A local Ray's workers import torch (and optbasin) as they start, so a trial does not wait for
those imports after it is scheduled (sweeps/ray_session.py, WORKER_PRELOAD)."""

from __future__ import annotations

import sys


def test_ray_workers_import_torch_as_they_start(tmp_path):
    from ray import tune

    from optbasin.sweeps.ray_session import ray_session

    def trainable(config):  # runs in the trial's actor process; imports nothing itself
        import ray

        env_vars = ray.get_runtime_context().runtime_env.get("env_vars") or {}
        tune.report(
            {
                "torch_loaded": "torch" in sys.modules,
                "trainable_loaded": "optbasin.sweeps.trainable" in sys.modules,
                "actor_env_vars": len(env_vars),
            }
        )

    with ray_session(None, False):
        results = tune.Tuner(
            tune.with_resources(trainable, {"cpu": 1}),
            param_space={"x": tune.grid_search([1, 2])},
            run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
        ).fit()
    assert len(results) == 2 and not results.errors
    assert all(r.metrics["torch_loaded"] and r.metrics["trainable_loaded"] for r in results)
    # no runtime_env on Tune's actors (ray_session._tune_actors_on_started_workers), so they may take the
    # workers ray.init started instead of a fresh process each; fails if Ray's private table moves
    assert all(r.metrics["actor_env_vars"] == 0 for r in results)
