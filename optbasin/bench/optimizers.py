"""Per-step cost of every catalog optimizer relative to AdamW, on gpt-tiny and a width-512 gpt.

``optimizer.step()`` alone is timed on fixed gradients, and the full iteration (forward, backward,
step) on one fixed batch, on the device given (CPU: fp32 orthogonalization; CUDA: bf16,
synchronized around each timed block). Reported: median over ``repeats`` of the mean time over
``steps`` steps, and the ratio to AdamW. Part of ``optbasin bench``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch

from optbasin.catalog import Catalog, optimizer_class, task_factory
from optbasin.optimizers import build_from_class, needs_loss

OPTIMIZERS = [
    "adamw",
    "muon",
    "namo",
    "namo_d",
    "muonadam",
    "scion",
    "muonmax",
    "polargrad",
    "momo",
    "momo_adam",
    "muonadam_momo",
    "muonmax_momo",
]
RATIOS = [("namo", "muon"), ("namo_d", "muon"), ("muonmax", "muon")]
MODELS = {"gpt-tiny": {}, "gpt-w512": {"n_embd": 512, "n_head": 8}}  # gpt-tiny's params, overridden


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_time(fn: Callable[[], None], steps: int, repeats: int, device: torch.device) -> float:
    for _ in range(2):  # warm-up: state allocation, kernels
        fn()
    times = []
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(steps):
            fn()
        _sync(device)
        times.append((time.perf_counter() - t0) / steps)
    return statistics.median(times)


def time_steps(name: str, params: dict, steps: int, repeats: int, device: torch.device) -> tuple[float, float]:
    """(optimizer.step seconds, full iteration seconds) of optimizer ``name`` on a gpt-tiny variant."""
    cat = Catalog.load()
    td, od = cat.task("gpt-tiny"), cat.optimizer(name)
    task = task_factory(td.factory)(**{**td.defaults(), **params})
    torch.manual_seed(0)
    model = task.build_model(0).to(device)
    batch = next(task.train_batches(0, device))
    opt = build_from_class(optimizer_class(od.cls), model, od.defaults(), task.head)
    with_loss = needs_loss(opt)

    def step(loss: torch.Tensor) -> None:
        opt.step(loss=loss) if with_loss else opt.step()

    def iteration() -> None:
        opt.zero_grad(set_to_none=True)
        loss = task.loss(model, batch)
        loss.backward()
        step(loss.detach())

    iteration()
    fixed = task.loss(model, batch).detach()
    return median_time(lambda: step(fixed), steps, repeats, device), median_time(iteration, steps, repeats, device)


def bench(
    model: str = "gpt-tiny",
    steps: int = 5,
    repeats: int = 5,
    device: str | None = None,
    optimizers: list[str] = OPTIMIZERS,
) -> list[dict]:
    """One row per optimizer: {optimizer, model, device, step_ms, iter_ms, vs_adamw, iter_vs_adamw}."""
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    names = ["adamw"] + [n for n in optimizers if n != "adamw"]
    times = {n: time_steps(n, MODELS[model], steps, repeats, dev) for n in names}
    a_step, a_iter = times["adamw"]
    return [
        {
            "optimizer": n,
            "model": model,
            "device": dev.type,
            "step_ms": 1e3 * s,
            "iter_ms": 1e3 * it,
            "vs_adamw": s / a_step,
            "iter_vs_adamw": it / a_iter,
        }
        for n, (s, it) in times.items()
    ]


def table(rows: list[dict]) -> str:
    by = {r["optimizer"]: r for r in rows}
    r0 = rows[0]
    lines = [
        f"{r0['model']} on {r0['device']}: optimizer step, and full iteration (forward + backward + step)",
        f"{'optimizer':<15}{'step ms':>10}{'x AdamW':>9}{'iter ms':>10}{'x AdamW':>9}",
    ]
    lines += [
        f"{r['optimizer']:<15}{r['step_ms']:>10.2f}{r['vs_adamw']:>9.2f}{r['iter_ms']:>10.2f}{r['iter_vs_adamw']:>9.2f}"
        for r in rows
    ]
    lines += [
        f"{a}/{b}: step {by[a]['step_ms'] / by[b]['step_ms']:.3f}, iteration {by[a]['iter_ms'] / by[b]['iter_ms']:.3f}"
        for a, b in RATIOS
        if a in by and b in by
    ]
    return "\n".join(lines)
