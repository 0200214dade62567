"""How far two float32 computations of the same update rule may drift apart: the tolerance the
optimizer and population tests use where two code paths meet (docs/optimizers.md, section 4b).

Two code paths that compute the same rule (a population member and its separate trial; optbasin's
class and an independent implementation) differ only in rounding: the order in which reductions
add their terms (CPU kernels: AVX-512, AVX2, NEON or scalar loops block and vectorise sums
differently; batched and single matrix products block their contractions differently) and
whether a multiply and an add are fused. With u = 2^-24, the unit roundoff of float32, a blocked
or pairwise sum of n terms is off by at most about log2(n) u relative (Higham, Accuracy and
Stability of Numerical Algorithms, section 4.2); an elementwise op by u. So one step of the
rule, whose longest reduction has n terms, moves a quantity by at most about ceil(log2 n) u
relative. In a regime that is not chaotic (a perturbation of one step is carried forward, not
amplified) these per-step differences add up: after t steps at most

    drift(t, n) = t * ceil(log2 n) * u

relative. That is the tolerance; it is not fitted to observations (observed member vs trial, on
AVX-512, AVX2 and the scalar kernel: at most 0.24 of it, in Momo's step size).
In a chaotic regime the same rounding grows by a factor per step (NAMO at lr 1 on digits-mlp:
x1000 in 10 steps), so there only the first steps, the status and the step of divergence agree.
"""

from __future__ import annotations

import math

U32 = 2.0**-24  # float32 unit roundoff (torch.finfo(torch.float32).eps / 2)
U_BF16 = 2.0**-8  # bfloat16's (8 significand bits): where a computation runs in bf16, its rounding is this


def drift(steps: int, n: int, u: float = U32) -> float:
    """Relative drift allowed after ``steps`` steps whose longest reduction has ``n`` terms."""
    return max(1, steps) * math.ceil(math.log2(max(2, n))) * u


def agree(a: float, b: float, tol: float, scale: float = 0.0) -> bool:
    """a and b equal within relative ``tol`` (NaN agrees with NaN; an exact 0 with one ulp of 1).
    ``scale``: the size of the terms ``a`` is computed from, where that is larger than ``a``
    (a spread std / mean that is 0 in exact arithmetic is a difference of terms of size 1: its
    rounding is ``tol`` absolute, not relative)."""
    return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=tol, abs_tol=max(U32, tol * scale))


def assert_params_agree(got, want, steps: int, amplification: float = 1.0) -> None:
    """Each parameter tensor of ``got`` within drift(steps, n) of ``want``'s, in norm, n the number
    of parameters (the longest reduction: inner products over all of them). ``amplification``: the
    mean factor by which a step's arithmetic amplifies relative rounding (1: none; a difference of
    nearly equal terms, such as Momo's step size, amplifies it by their cancellation factor)."""
    got, want = list(got), list(want)
    tol = drift(steps, sum(w.numel() for w in want)) * max(1.0, amplification)
    for g, w in zip(got, want):
        assert (g - w).norm() <= tol * w.norm(), (float((g - w).norm() / w.norm()), tol)
