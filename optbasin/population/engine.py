"""The population engine: K trials that differ only in hyperparameters, trained as one stacked model.

Members share task, optimizer, seed and budget (grouping.py). The model's parameters are stacked
along a leading member dimension; one shared batch per step (members of one seed see the same
data, as separate trials do); per-member losses come from one vmapped ``functional_call``
of the task's loss, and their gradients from one backward of their sum (the members are
independent, so each member's parameters receive its own loss's gradient). The
optimizer's ``population_step`` (optimizers/functional.py) updates every member at once, with each
float hyperparameter as a (K,) tensor; the schedule multiplies each member's lr.

Each member is recorded as its own trial: the same rows (train loss over the log window, val loss
at evals, lr, diagnostics) and summary that ``run_trial`` gives. A member that diverges is recorded
as diverged at its step and leaves the population (its parameters and state are dropped: no further
updates, no more rows) while the others continue. Summaries: ``wall_time`` and ``cpu_time`` are the
member's share (1/K) of the population's wall and CPU time when the member ended, and
``population_size`` the number of members the population started with (a separate trial has none).

Random operations in the forward pass (dropout > 0) cannot be batched so that each member equals
its separate trial: vmap refuses them (randomness="error") and the runner falls back to running
those members one at a time, as for an optimizer without ``population_step``.
"""

from __future__ import annotations

import inspect
import math
import time
from typing import Any, Callable

import torch
from torch import Tensor, nn

from optbasin.catalog import optimizer_class
from optbasin.optimizers import build_from_class
from optbasin.optimizers.split import OTHER, param_roles
from optbasin.population.grouping import is_member_value
from optbasin.sweeps.schedule import multiplier
from optbasin.sweeps.spec import TrialSpec
from optbasin.sweeps.trial import COMPLETED, DIVERGED, build_task, exploded, pick_device, seed_everything

MemberDone = Callable[[int, list[dict], dict[str, Any]], None]  # (index in specs, rows, summary)


def supports_population(cls: type) -> bool:
    """An optimizer class declares population support with a ``population_step`` function."""
    return callable(getattr(cls, "population_step", None))


def class_hparams(cls: type, given: dict[str, Any]) -> dict[str, Any]:
    """Every constructor hyperparameter of ``cls``: its signature's defaults, overridden by ``given``."""
    sig = inspect.signature(cls)
    defaults = {n: p.default for n, p in sig.parameters.items()
                if p.default is not inspect.Parameter.empty and n != "params"}
    return {**defaults, **given}


def member_hparams(specs: list[TrialSpec], cls: type, dtype: torch.dtype, device: torch.device) -> dict[str, Any]:
    """One dict of hyperparameters: the floats that differ between members as (K,) tensors, the rest
    (equal for all members) as the numbers a single model's optimizer gets, so that its arithmetic
    is the single model's."""
    per = [class_hparams(cls, s.hparams) for s in specs]
    out: dict[str, Any] = {}
    for name, v in per[0].items():
        values = [h[name] for h in per]
        if all(x == v for x in values):
            out[name] = v
        elif is_member_value(v):
            out[name] = torch.tensor(values, dtype=dtype, device=device)
        else:
            raise ValueError(f"population members differ in non-float hyperparameter {name!r}: {values}")
    return out


class _LossOf(nn.Module):
    """The task's loss as a module (so that functional_call can swap the model's parameters)."""

    def __init__(self, task: Any, model: nn.Module):
        super().__init__()
        self.task, self.model = task, model

    def forward(self, batch: Any) -> Tensor:
        return self.task.loss(self.model, batch)


def select(obj: Any, keep: Tensor, k: int) -> Any:
    """Keep members ``keep`` of every tensor with a leading member dimension (size ``k``) in ``obj``."""
    if isinstance(obj, Tensor):
        return obj[keep] if obj.ndim >= 1 and obj.shape[0] == k else obj
    if isinstance(obj, dict):
        return {key: select(v, keep, k) for key, v in obj.items()}
    return obj


def _clip_(grads: list[Tensor], max_norm: float) -> None:
    """torch.nn.utils.clip_grad_norm_ per member: g *= min(1, max_norm / (||g||_2 + 1e-6))."""
    norms = torch.stack([g.reshape(g.shape[0], -1).norm(dim=1) for g in grads]).norm(dim=0)
    coef = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(coef.reshape(-1, *([1] * (g.ndim - 1))))


def run_population(specs: list[TrialSpec], done: MemberDone) -> None:
    """Train ``specs`` (one population, see grouping.py) together; call ``done(i, rows, summary)``
    for member i as soon as it ends (diverged members first, the rest after the last step)."""
    t0, c0 = time.perf_counter(), time.process_time()
    spec, k0 = specs[0], len(specs)
    torch.set_num_threads(max(1, int(spec.cpus)))
    seed_everything(spec.seed)
    device = pick_device(spec)
    task = build_task(spec)
    model = task.build_model(spec.seed).to(device)
    cls = optimizer_class(spec.optimizer_class, spec.import_paths)
    if not supports_population(cls):
        raise TypeError(f"{cls.__name__} declares no population_step: run its trials one at a time")
    for s in specs:  # the constructor's own checks, as a separate trial would run them
        build_from_class(cls, model, dict(s.hparams), task.head, s.split_matrix, s.split_other, s.optimizer_tuples)

    if getattr(cls, "hybrid", False):
        roles = param_roles(model, task.head, spec.split_matrix, spec.split_other)
        names, kinds = [r.name for r in roles], [r.role for r in roles]
    else:
        names = [n for n, p in model.named_parameters() if p.requires_grad]
        kinds = [OTHER] * len(names)
    own = dict(model.named_parameters())
    dtype = own[names[0]].dtype
    params = [own[n].detach().unsqueeze(0).repeat(k0, *([1] * own[n].ndim)).requires_grad_() for n in names]
    hp = member_hparams(specs, cls, torch.float64, device)  # cast to the parameters' dtype where used
    one_lr = None if isinstance(hp["lr"], Tensor) else float(hp["lr"])  # one lr for all: it stays a number
    base_lr = hp["lr"] if one_lr is None else torch.full((k0,), one_lr, dtype=torch.float64, device=device)
    wrapper = _LossOf(task, model)

    def member_loss(ps: list[Tensor], batch: Any) -> Tensor:
        return torch.func.functional_call(wrapper, {f"model.{n}": p for n, p in zip(names, ps)}, (batch,))

    member_losses = torch.func.vmap(member_loss, in_dims=(0, None), randomness="error")

    def grad_and_loss(ps: list[Tensor], batch: Any) -> tuple[list[Tensor], Tensor]:
        """Per-member gradients and losses: one backward of the members' summed losses (the members
        are independent, so d(sum)/d(member k's parameters) is member k's own gradient)."""
        losses = member_losses(ps, batch)
        return list(torch.autograd.grad(losses.sum(), ps)), losses.detach()

    batches = task.train_batches(spec.seed, device)

    model.eval()
    init_loss = float(task.evaluate(model, device))
    model.train()
    limit = spec.divergence_threshold * init_loss if math.isfinite(init_loss) else math.inf

    def evaluate(j: int) -> float:
        with torch.no_grad():
            for n, p in zip(names, params):
                own[n].copy_(p[j])
        model.eval()
        value = float(task.evaluate(model, device))
        model.train()
        return value

    members = list(range(k0))  # the specs index of each remaining row of the stacked tensors
    rows: list[list[dict]] = [[] for _ in range(k0)]
    val_loss, best_val = [math.nan] * k0, [math.inf] * k0
    state: dict = {}
    window_loss, window_n, window_diag = torch.zeros(k0, dtype=dtype, device=device), 0, {}

    def finish(i: int, status: str, step: int, last_train: float) -> None:
        done(i, rows[i], {
            "status": status,
            "init_loss": init_loss,
            **task.reference_losses(),
            "final_train_loss": last_train if status == COMPLETED else math.nan,
            "final_val_loss": val_loss[i] if status == COMPLETED else math.nan,
            "best_val_loss": best_val[i] if math.isfinite(best_val[i]) else math.nan,
            "steps_done": step,
            "wall_time": (time.perf_counter() - t0) / k0,
            "cpu_time": (time.process_time() - c0) / k0,
            "device": str(device),
            "population_size": k0,
        })

    for step in range(1, spec.steps + 1):
        mult = multiplier(spec.schedule, step - 1, spec.steps)
        hp["lr"] = base_lr * mult if one_lr is None else one_lr * mult
        grads, loss = None, 0.0
        for _ in range(spec.accumulate):  # the step's loss: mean over its micro-batches
            g, micro = grad_and_loss(params, next(batches))
            g = [x / spec.accumulate for x in g] if spec.accumulate > 1 else g
            grads = g if grads is None else [a + b for a, b in zip(grads, g)]
            loss = loss + micro / spec.accumulate
        if spec.grad_clip is not None:
            _clip_(grads, spec.grad_clip)
        with torch.no_grad():
            diag = cls.population_step(state, params, grads, kinds, hp, step, loss=loss)
        window_loss = window_loss + loss
        window_n += 1
        for key, v in diag.items():
            window_diag[key] = window_diag.get(key, 0.0) + v

        is_eval = step % spec.eval_every == 0 or step == spec.steps
        if step % spec.log_every == 0 or is_eval:
            train = (window_loss / window_n).tolist()
            diags = {key: (v / window_n).tolist() for key, v in window_diag.items()}
            keep = []
            lrs = base_lr.tolist()  # one device sync for every member's row
            for j, i in enumerate(members):
                diverged = exploded(train[j], limit)
                val = math.nan
                if is_eval and not diverged:
                    val = evaluate(j)
                    val_loss[i] = val
                    best_val[i] = min(best_val[i], val) if math.isfinite(val) else best_val[i]
                    diverged = exploded(val, limit)
                row = {"step": step, "train_loss": train[j], "val_loss": val, "lr": lrs[j] * mult}
                row.update({f"diag.{key}": v[j] for key, v in diags.items()})
                rows[i].append(row)
                if diverged:
                    finish(i, DIVERGED, step, train[j])
                else:
                    keep.append(j)
            window_loss, window_n, window_diag = torch.zeros(len(keep), dtype=dtype, device=device), 0, {}
            if len(keep) < len(members):
                idx = torch.tensor(keep, dtype=torch.long, device=device)
                params = [p.detach()[idx].requires_grad_() for p in params]
                state = select(state, idx, len(members))
                hp = select(hp, idx, len(members))
                base_lr = base_lr[idx]
                members = [members[j] for j in keep]
                if not members:
                    return
    for i in members:
        finish(i, COMPLETED, spec.steps, rows[i][-1]["train_loss"])
