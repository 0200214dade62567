"""Synthetic results shaped like the store's (trials, steps) frames, for benchmarks and demos.

Each optimizer gets a quadratic valley in log10 lr (centre, half-width in decades, floor) plus
seed noise; a run diverges when its lr is far enough above the valley. NAMO-D gets a clamp_c axis,
the Momo variants an f_star axis, and the diag columns the real optimizers log. Not data about any
real optimizer: only the shape of the tables is real.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

# label: (catalog name, log10 best lr, basin half-width in decades, floor above the task's best, extra axis)
PROFILES = {
    "adamw": ("adamw", -2.9, 0.6, 0.06, None),
    "muon": ("muon", -2.9, 0.45, 0.03, None),
    "muonmax": ("muonmax", -2.4, 1.1, 0.02, None),
    "muonadam": ("muonadam", -2.7, 0.6, 0.04, None),
    "muonadam_momo": ("muonadam_momo", -2.2, 1.2, 0.03, "f_star"),
    "muonmax_momo": ("muonmax_momo", -2.2, 1.5, 0.01, "f_star"),
    "namo": ("namo", -1.9, 0.6, 0.02, None),
    "namo_d": ("namo_d", -2.0, 0.7, 0.0, "clamp_c"),
}
EXTRA = {"clamp_c": [0.12, 0.40, 0.75, 0.90], "f_star": [0.0, 1.6, 2.4, 2.8, 3.2]}
DIAG = {
    "namo_d": ["clamped_frac", "scale_spread"],
    "namo": ["alpha"],
    "muonmax": ["nuclear_norm"],
    "muonadam_momo": ["tau_over_lr", "truncated"],
    "muonmax_momo": ["tau_over_lr", "truncated", "nuclear_norm"],
}


def synthetic_results(
    n_tasks: int = 1,
    optimizers: list[str] | None = None,
    lr_points: int = 10,
    lr_range: tuple[float, float] = (1e-4, 1e-1),
    seeds: int = 3,
    log_rows: int = 20,
    log_every: int = 10,
    missing: float = 0.0,
    failed: float = 0.0,
    rng_seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(trials, steps). missing / failed: fraction of trials dropped / recorded as failed."""
    rng = np.random.default_rng(rng_seed)
    optimizers = optimizers or list(PROFILES)
    lrs = np.geomspace(*lr_range, lr_points)
    frames = []
    for t in range(n_tasks):
        task = "gpt-tiny" if t == 0 else f"task-{t}"
        base, l0 = 3.0 + 0.2 * t, 6.0 + 0.3 * t
        for opt in optimizers:
            name, centre, half, floor, extra = PROFILES[opt]
            values = EXTRA[extra] if extra else [np.nan]
            lr, ev, seed = (a.ravel() for a in np.meshgrid(lrs, values, np.arange(seeds), indexing="ij"))
            x = (np.log10(lr) - centre) / half
            penalty = np.zeros_like(x)
            if extra == "clamp_c":
                penalty = 0.08 * (ev - 0.6) ** 2
            elif extra == "f_star":
                penalty = 0.02 * np.abs(ev - 2.4)
                x = x * (1.0 - 0.1 * ev / 3.2)
            final = base + floor + 0.4 * x**2 + penalty + rng.normal(0, 0.01, x.size)
            diverged = x + rng.normal(0, 0.3, x.size) > 2.2
            frames.append(
                pd.DataFrame(
                    {
                        "task": task,
                        "task_name": "gpt",
                        "optimizer": opt,
                        "optimizer_name": name,
                        "seed": seed,
                        "hp.lr": lr,
                        "hp.weight_decay": 0.1,
                        "hp.clamp_c": ev if extra == "clamp_c" else np.nan,
                        "hp.f_star": ev if extra == "f_star" else np.nan,
                        "swept": json.dumps(["lr", extra] if extra else ["lr"]),
                        "init_loss": l0 + rng.normal(0, 0.01, x.size),
                        "final": final,
                        "is_div": diverged,
                        "x": x,
                    }
                )
            )
    df = pd.concat(frames, ignore_index=True)
    n = len(df)
    df["trial_id"] = [f"t{i:07d}" for i in range(n)]
    is_failed = rng.random(n) < failed
    status = np.where(is_failed, "failed", np.where(df["is_div"], "diverged", "completed"))
    total = log_rows * log_every
    done = np.where(status == "completed", total, np.maximum(log_every, (rng.random(n) * total).astype(int)))
    final = df["final"].to_numpy()
    ok = status == "completed"
    trials = pd.DataFrame(
        {
            "trial_id": df["trial_id"],
            "sweep": "synthetic",
            "task": df["task"],
            "task_name": df["task_name"],
            "optimizer": df["optimizer"],
            "optimizer_name": df["optimizer_name"],
            "seed": df["seed"],
            **{c: df[c] for c in df.columns if c.startswith("hp.")},
            "swept": df["swept"],
            "status": status,
            "init_loss": df["init_loss"],
            "final_train_loss": np.where(ok, final - 0.02, np.nan),
            "final_val_loss": np.where(ok, final, np.nan),
            "best_val_loss": np.where(ok, final - 0.005, np.nan),
            "steps": total,
            "steps_done": done,
            "wall_time": done * 0.05 * (1 + 0.1 * rng.random(n)),
            "error": np.where(is_failed, "RuntimeError: synthetic failure", ""),
            "attempt": "a0",
            "written_at": 0.0,
        }
    )
    keep = rng.random(n) >= missing
    trials = trials[keep].reset_index(drop=True)
    return trials, _steps(df[keep].reset_index(drop=True), trials, log_rows, log_every, rng)


def _steps(df: pd.DataFrame, trials: pd.DataFrame, log_rows: int, log_every: int, rng) -> pd.DataFrame:
    n = len(trials)
    rows_done = np.maximum(1, trials["steps_done"].to_numpy() // log_every)
    trial = np.repeat(np.arange(n), rows_done)
    step = (np.arange(len(trial)) - np.repeat(np.cumsum(rows_done) - rows_done, rows_done) + 1) * log_every
    frac = step / (log_rows * log_every)
    l0 = trials["init_loss"].to_numpy()[trial]
    end = df["final"].to_numpy()[trial]
    div = trials["status"].to_numpy()[trial] != "completed"
    train = end + (l0 - end) * np.exp(-4 * frac) + rng.normal(0, 0.01, trial.size)
    train = np.where(div, l0 * (1 + 2 * frac**2), train)
    val = np.where(step % (5 * log_every) == 0, train + 0.02, np.nan)
    lr = trials["hp.lr"].to_numpy()[trial]
    out = {
        "trial_id": trials["trial_id"].to_numpy()[trial],
        "attempt": "a0",
        "step": step,
        "train_loss": train,
        "val_loss": val,
        "lr": lr,
    }
    opt = trials["optimizer"].to_numpy()[trial]
    x = df["x"].to_numpy()[trial]
    c = trials["hp.clamp_c"].to_numpy()[trial]
    noise = rng.normal(0, 0.02, trial.size)
    diag = {
        "clamped_frac": np.clip(0.15 + 0.8 * c + 0.05 * x + noise, 0, 1),
        "scale_spread": 1.0 / np.maximum(c, 0.05) + noise,
        "alpha": lr * 50 * np.exp(-frac),
        "nuclear_norm": 30 + 10 * frac + noise,
        "truncated": np.clip(1 / (1 + np.exp(-3 * (x - 0.3))) * (1 - 0.5 * frac) + noise, 0, 1),
    }
    diag["tau_over_lr"] = 1 - 0.6 * diag["truncated"]
    for key in ("clamped_frac", "scale_spread", "alpha", "nuclear_norm", "truncated", "tau_over_lr"):
        has = np.isin(opt, [o for o, keys in DIAG.items() if key in keys])
        out[f"diag.{key}"] = np.where(has, diag[key], np.nan)
    return pd.DataFrame(out)
