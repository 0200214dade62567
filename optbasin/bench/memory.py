"""Peak memory of one trial per optimizer: each runs in a fresh process (gpt-tiny, a few steps).

Reported: the process's peak resident memory (ru_maxrss), and the trial's own peak: the high-water
mark of resident memory from after imports and data loading (the baseline every Ray worker pays
once; the mark is reset there through /proc/self/clear_refs, Linux) minus the memory in use at that
point. On CUDA, also torch.cuda.max_memory_allocated.
"""

from __future__ import annotations

import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys
import torch

def vm(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024

torch.set_num_threads(1)
from optbasin.catalog import Catalog, optimizer_class, task_factory
from optbasin.optimizers import build_from_class, needs_loss
name, steps = sys.argv[1], int(sys.argv[2])
cat = Catalog.load()
td, od = cat.task("gpt-tiny"), cat.optimizer(name)
task = task_factory(td.factory)(**td.defaults())
dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
batches = task.train_batches(0, dev)
next(batches)
base = vm("VmRSS")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak (VmHWM) to the current resident size
model = task.build_model(0).to(dev)
opt = build_from_class(optimizer_class(od.cls), model, od.defaults(), task.head)
for _ in range(steps):
    opt.zero_grad(set_to_none=True)
    loss = task.loss(model, next(batches))
    loss.backward()
    opt.step(loss=loss.detach()) if needs_loss(opt) else opt.step()
task.evaluate(model, dev)
out = {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "trial_rss_mb": vm("VmHWM") - base}
if dev.type == "cuda":
    out["cuda_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
print(json.dumps(out))
"""


def bench_memory(optimizers: list[str], steps: int = 10) -> list[dict]:
    rows = []
    for name in optimizers:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, name, str(steps)], capture_output=True, text=True, check=True
        )
        rows.append({"optimizer": name, **json.loads(out.stdout.strip().splitlines()[-1])})
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "peak memory of one gpt-tiny trial, fresh process",
        f"{'optimizer':<15}{'peak RSS MB':>12}{'trial adds MB':>15}",
    ]
    lines += [f"{r['optimizer']:<15}{r['peak_rss_mb']:>12.0f}{r['trial_rss_mb']:>15.0f}" for r in rows]
    return "\n".join(lines)
