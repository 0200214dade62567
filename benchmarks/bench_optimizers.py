"""Per-step cost of every catalog optimizer relative to AdamW, on a small GPT-like MLP stack.

Model: token embedding (vocab 512) -> ``depth`` pre-norm residual MLP blocks (w -> 4w -> w) -> norm ->
head (w -> vocab). Only ``optimizer.step()`` is timed (gradients are computed once and kept), on
the device given (CPU: fp32 orthogonalization; CUDA: bf16, synchronized around each timed block).
Reported: median over ``repeats`` of the mean step time over ``steps`` steps, and its ratio to AdamW.

    .venv/bin/python benchmarks/bench_optimizers.py --width 256 512 --depth 4
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from optbasin.optimizers import build, needs_loss

OPTIMIZERS = ["adamw", "muon", "namo", "namo_d", "muonadam", "scion", "muonmax", "polargrad", "momo", "momo_adam",
              "muonadam_momo", "muonmax_momo"]
RATIOS = [("namo", "muon"), ("namo_d", "muon"), ("muonmax", "muon")]
VOCAB = 512


class Block(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.up = nn.Linear(width, 4 * width)
        self.down = nn.Linear(4 * width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.down(nn.functional.gelu(self.up(self.norm(x))))


def gpt_mlp(width: int, depth: int) -> nn.Module:
    return nn.Sequential(nn.Embedding(VOCAB, width), *[Block(width) for _ in range(depth)], nn.LayerNorm(width),
                         nn.Linear(width, VOCAB))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_step(name: str, width: int, depth: int, steps: int, repeats: int, device: torch.device) -> float:
    """Median over repeats of the mean seconds per optimizer.step()."""
    torch.manual_seed(0)
    model = gpt_mlp(width, depth).to(device)
    opt = build(name, model)
    tokens = torch.randint(0, VOCAB, (8, 64), device=device)
    loss = nn.functional.cross_entropy(model(tokens).flatten(0, 1), tokens.flatten())
    loss.backward()
    loss = loss.detach()
    step = (lambda: opt.step(loss=loss)) if needs_loss(opt) else opt.step
    for _ in range(3):  # warm-up: state allocation, kernels
        step()
    times = []
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        _sync(device)
        times.append((time.perf_counter() - t0) / steps)
    return statistics.median(times)


def bench(width: int = 256, depth: int = 4, steps: int = 10, repeats: int = 5, device: str | None = None,
          optimizers: list[str] = OPTIMIZERS) -> list[dict]:
    """One row per optimizer: {optimizer, width, depth, device, step_ms, vs_adamw}."""
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    names = ["adamw"] + [n for n in optimizers if n != "adamw"]
    ms = {n: 1e3 * time_step(n, width, depth, steps, repeats, dev) for n in names}
    return [{"optimizer": n, "width": width, "depth": depth, "device": dev.type, "step_ms": ms[n],
             "vs_adamw": ms[n] / ms["adamw"]} for n in names]


def table(rows: list[dict]) -> str:
    by = {r["optimizer"]: r for r in rows}
    r0 = rows[0]
    lines = [f"width {r0['width']}, depth {r0['depth']}, {r0['device']}",
             f"{'optimizer':<15}{'step ms':>10}{'x AdamW':>10}"]
    lines += [f"{r['optimizer']:<15}{r['step_ms']:>10.2f}{r['vs_adamw']:>10.2f}" for r in rows]
    lines += [f"{a}/{b}: {by[a]['step_ms'] / by[b]['step_ms']:.2f}" for a, b in RATIOS if a in by and b in by]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--device", default=None)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    for w in args.width:
        print(table(bench(w, args.depth, args.steps, args.repeats, args.device)), end="\n\n", flush=True)


if __name__ == "__main__":
    main()
