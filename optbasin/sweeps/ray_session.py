"""Ray's lifecycle for a sweep: start an embedded Ray (or join a cluster), hand signals to
optbasin, stop it and remove its session directory; the environment Ray Tune runs under; how many
trials the cluster runs at once."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from optbasin.sweeps.signals import StopRequest, stop_on_signals
from optbasin.training.trial_spec import TrialSpec

# What a local Ray's worker processes import as they start (Ray starts one per CPU with ray.init):
# Ray Tune's actors then find torch and optbasin loaded instead of importing them (about 1.6 s)
# after the sweep has begun.
WORKER_PRELOAD = ("torch", "ray.tune", "optbasin.sweeps.trainable")


def tune_environment() -> None:
    """The environment Ray Tune reads on the driver when a run starts (set before each run, not
    at import: importing optbasin changes no environment)."""
    # Ray Tune's own per-trial JSON/CSV/TensorBoard loggers: the results store replaces them.
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    # Ray Tune's SIGINT handler makes fit() return as if finished: optbasin handles signals (signals.py).
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"


def concurrent_slots(example: TrialSpec, address: str | None) -> int:
    """How many trials of this shape the cluster (or this machine) runs at once."""
    import ray

    if ray.is_initialized():
        total = ray.cluster_resources()
    elif address:
        return 64  # unknown until connected; a large cluster gets small batches
    else:
        total = {"CPU": os.cpu_count() or 1}
    slots = total.get("CPU", 1) / example.cpus
    if example.gpus > 0:
        slots = min(slots, total.get("GPU", 0) / example.gpus)
    return max(1, int(slots))


def init_ray(address: str | None = None, show_ray_logs: bool = False) -> Path | None:
    """Start an embedded Ray (or join ``address``). Returns the Ray session directory when this
    call started Ray (None when Ray was already running in this process).

    On the calling thread, which goes on to use Ray: a driver whose ``ray.init`` ran in another
    thread (tried, to overlap Ray's start with the planning) loses its connection to Ray's GCS."""
    import ray

    if ray.is_initialized():
        return None
    quiet = {} if show_ray_logs else {"log_to_driver": False, "logging_level": logging.ERROR}
    if not show_ray_logs:  # a dead or timed-out worker is recorded in its trial's row; no Tune error dump
        logging.getLogger("ray.tune").setLevel(logging.CRITICAL)
    tune_environment()
    _tune_actors_on_started_workers()
    if address:
        ctx = ray.init(address=address, **quiet)
    else:  # "local": always a fresh embedded Ray, never a cluster that happens to run on this machine
        ctx = ray.init(
            address="local",
            include_dashboard=False,
            **quiet,
            _system_config={"preload_python_modules": list(WORKER_PRELOAD)},
        )
    return Path(ctx.address_info["session_dir"])


def _tune_actors_on_started_workers() -> None:
    """Let Ray Tune's trial actors use the worker processes Ray starts with ``ray.init``.

    Ray Tune gives every trial actor a runtime_env setting PL_DISABLE_FORK=1 (a PyTorch Lightning
    switch; ray/tune/execution/class_cache.py), and Ray runs an actor with a runtime_env only in
    a worker started for that env, after the actor is requested: a fresh process that then imports
    torch and optbasin while the sweep waits. Set in this process instead, the variable reaches
    every worker (they inherit the driver's environment) and the actors take the started workers.
    Only a speed-up: a Ray without that table keeps its default."""
    os.environ.setdefault("PL_DISABLE_FORK", "1")
    try:
        from ray.tune.execution import class_cache
    except ImportError:
        return
    defaults = getattr(class_cache, "DEFAULT_ENV_VARS", None)
    if isinstance(defaults, dict) and defaults.get("PL_DISABLE_FORK") == os.environ["PL_DISABLE_FORK"]:
        del defaults["PL_DISABLE_FORK"]


def stop_ray(session_dir: Path, local: bool, keep_logs: bool) -> None:
    """Shut down the Ray this process started; a local Ray's session directory (logs, sockets,
    in Ray's temp directory) is removed unless ``keep_logs`` (--ray-logs).

    On the calling thread: Ray shut down from another thread while this one still holds Ray
    objects (Ray Tune's actor handles, object refs) ends the whole process when those are freed
    ("The core worker has already been shutdown ... The process will exit")."""
    import ray

    ray.shutdown()
    if local and not keep_logs:
        shutil.rmtree(session_dir, ignore_errors=True)
        latest = session_dir.parent / "session_latest"
        if latest.is_symlink() and latest.resolve() == session_dir.resolve():
            latest.unlink(missing_ok=True)


@contextmanager
def ray_session(address: str | None, show_ray_logs: bool) -> Iterator[None]:
    """Ray for the block: started (or joined) here unless this process already runs one, then
    stopped on leaving. From the moment ``ray.init`` returns, which installs its own SIGTERM
    handler, signals go to optbasin's (signals.py)."""
    session_dir = init_ray(address, show_ray_logs)
    try:
        with stop_on_signals(StopRequest()):
            yield
    finally:
        if session_dir is not None:
            stop_ray(session_dir, local=not address, keep_logs=show_ray_logs)
