"""How far optbasin's MuonMax / MuonMax-Momo are from the MuonMax authors' arithmetic, and how far the
Polar Express paper's iteration is from it: relative gap ||ours - authors|| / ||authors - start||
after 10 steps on the two-layer network of tests/test_optim_authors.py (fp32, CPU, seconds).

    PYTHONPATH=. python benchmarks/authors_gap.py
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import test_optim_authors as T  # noqa: E402  (the authors' arithmetic, written out)

from optbasin.optimizers.nesgd import MuonMax, MuonMaxMomo  # noqa: E402


def run(cls, lr, **hp):
    net = T._net()
    groups = [
        {"params": [net[0].weight, net[2].weight], "kind": "matrix"},
        {"params": [net[0].bias, net[2].bias], "kind": "other"},
    ]
    opt = cls(groups, lr=lr, orth_dtype="float32", **hp)
    start = [p.detach().clone() for p in net.parameters()]
    return T._train(net, lambda loss: opt.step(loss=loss) if opt.needs_loss else opt.step()), start


def gap(got, want, start):
    return max(float((a - b).norm() / (b - s).norm()) for a, b, s in zip(got, want, start))


if __name__ == "__main__":
    for stale in (False, True):
        ours, start = run(MuonMax, 2e-3, stale_nuclear_norm=stale)
        paper, _ = run(MuonMax, 2e-3, stale_nuclear_norm=stale, orth="polar_express_paper")
        _, authors, _, _, _ = T._run_both(MuonMax, 2e-3, stale, truncate_loss=None)
        print(
            f"MuonMax lr 2e-3 stale={stale}: orth=polar_express_paper vs authors {gap(paper, authors, start):.2%}, "
            f"optbasin's default vs authors {gap(ours, authors, start):.1e}"
        )
    for stale in (False, True):
        ours, start = run(MuonMaxMomo, 1e-2, stale_nuclear_norm=stale)
        _, authors, _, _, _ = T._run_both(MuonMaxMomo, 1e-2, stale, truncate_loss=0.0)
        print(
            f"MuonMaxMomo lr 1e-2 (truncating) stale={stale}: optbasin's default vs authors "
            f"{gap(ours, authors, start):.1e}"
        )
