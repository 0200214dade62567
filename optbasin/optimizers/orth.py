"""Orthogonalization Orth(X) ~ U V^T of a batch of matrices (docs/optimizers.md, section 1).

``orthogonalize(x, method, steps, dtype)`` works on one (m, n) matrix or a (..., m, n) stack (a
population's member dimension is one more leading dimension); tall
matrices (m > n) are transposed so the iteration multiplies the small Gram matrix X X^T.
``orthogonalize_many(mats, ...)`` groups a list of 2-D matrices by shape, runs one batched call
per shape and returns the results in input order (optionally with <M_i, Orth(M_i)>).

Methods
- ``ns5``: Newton-Schulz quintic (Jordan), X <- X / (||X||_F + 1e-7), then ``steps`` times
  A = X X^T, B = b A + c A A, X = a X + B X with (a, b, c) = (3.4445, -4.7750, 2.0315).
  Singular values land roughly in [0.5, 1.5] (not exactly 1). Same arithmetic as
  torch.optim.Muon's ``_zeropower_via_newtonschulz`` (tests compare the two in bf16).
- ``polar_express``: the MuonMax authors' arithmetic (GPT-opt, gptopt/optim/polar.py):
  X <- X / (1.01 ||X||_F + 1e-7), step k uses the k-th coefficient triple (the last one repeats),
  every triple, the last one too, divided by 1.01: (a, b, c) -> (a / 1.01, b / 1.01, c / 1.01).
- ``polar_express_paper``: the Polar Express paper's code: same normalisation and triples, but
  every polynomial except the last is evaluated at x / 1.01, i.e.
  (a, b, c) -> (a / 1.01, b / 1.01^3, c / 1.01^5), and the last triple is not scaled.
  A different iteration: after 10 MuonMax steps the two move the weights apart by a few percent.
- ``svd``: exact U V^T from an SVD in fp32 (fp64 if the input is fp64). Directions with a
  singular value below max(m, n) * eps(dtype) * s_max are dropped (a zero gradient column gives a
  zero update column, as NS5 does), instead of the arbitrary basis vectors plain U V^T would add.

``dtype`` is the compute dtype of the iterations (bf16 is fast on GPUs, slow on most CPUs; see
``compute_dtype``); the result is cast back to the input's dtype.
"""

from __future__ import annotations

from collections import defaultdict

import torch
from torch import Tensor

METHODS = ("ns5", "polar_express", "polar_express_paper", "svd")
DTYPES = {
    "auto": None,
    "float32": torch.float32,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
    "float64": torch.float64,
}

NS5_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
NORM_EPS = 1e-7

_POLAR_EXPRESS_RAW = (
    (8.28721201814563, -23.595886519098837, 17.300387312530933),
    (4.107059111542203, -2.9478499167379106, 0.5448431082926601),
    (3.9486908534822946, -2.908902115962949, 0.5518191394370137),
    (3.3184196573706015, -2.488488024314874, 0.51004894012372),
    (2.300652019954817, -1.6689039845747493, 0.4188073119525673),
    (1.891301407787398, -1.2679958271945868, 0.37680408948524835),
    (1.8750014808534479, -1.2500016453999487, 0.3750001645474248),
    (1.875, -1.25, 0.375),
)
POLAR_EXPRESS_SAFETY = 1.01
# MuonMax authors (GPT-opt): every triple divided by 1.01.
POLAR_EXPRESS_COEFFICIENTS = tuple(
    (a / POLAR_EXPRESS_SAFETY, b / POLAR_EXPRESS_SAFETY, c / POLAR_EXPRESS_SAFETY) for a, b, c in _POLAR_EXPRESS_RAW
)
# Polar Express paper: p(x / 1.01) for every polynomial but the last, which is kept as is.
POLAR_EXPRESS_PAPER_COEFFICIENTS = tuple(
    (a / POLAR_EXPRESS_SAFETY, b / POLAR_EXPRESS_SAFETY**3, c / POLAR_EXPRESS_SAFETY**5)
    for a, b, c in _POLAR_EXPRESS_RAW[:-1]
) + (_POLAR_EXPRESS_RAW[-1],)


def compute_dtype(name: str, device: torch.device) -> torch.dtype:
    """The orth compute dtype for setting ``name``: "auto" is bf16 on CUDA, fp32 elsewhere."""
    if name not in DTYPES:
        raise ValueError(f"orth_dtype={name!r} is not allowed: expected one of {', '.join(map(repr, DTYPES))}")
    if name == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return DTYPES[name]


def _quintic(x: Tensor, coefficients: list[tuple[float, float, float]]) -> Tensor:
    """X <- a X + (b A + c A^2) X with A = X X^T, once per coefficient triple (x is (B, m, n), m <= n)."""
    for a, b, c in coefficients:
        gram = torch.bmm(x, x.mT)
        poly = torch.baddbmm(gram, gram, gram, beta=b, alpha=c)
        x = torch.baddbmm(x, poly, x, beta=a)
    return x


def _ns5(x: Tensor, steps: int) -> Tensor:
    x = x / (x.norm(dim=(-2, -1), keepdim=True) + NORM_EPS)
    return _quintic(x, [NS5_COEFFICIENTS] * steps)


def _polar_express(x: Tensor, steps: int, table: tuple[tuple[float, float, float], ...]) -> Tensor:
    x = x / (x.norm(dim=(-2, -1), keepdim=True) * POLAR_EXPRESS_SAFETY + NORM_EPS)
    coefficients = [table[min(i, len(table) - 1)] for i in range(steps)]
    return _quintic(x, coefficients)


def _svd(x: Tensor) -> Tensor:
    u, s, vh = torch.linalg.svd(x, full_matrices=False)
    tol = max(x.shape[-2:]) * torch.finfo(x.dtype).eps * s[..., :1]
    keep = (s > tol).to(x.dtype)
    return (u * keep.unsqueeze(-2)) @ vh


def orthogonalize(x: Tensor, method: str = "ns5", steps: int = 5, dtype: torch.dtype = torch.float32) -> Tensor:
    """Orth of a (m, n) matrix or a (..., m, n) stack, computed in ``dtype``, returned in x.dtype."""
    if method not in METHODS:
        raise ValueError(f"orth={method!r} is not allowed: expected one of {', '.join(map(repr, METHODS))}")
    if x.ndim < 2:
        raise ValueError(f"orthogonalize expects a (m, n) or (..., m, n) tensor, got shape {tuple(x.shape)}")
    y = x.reshape(-1, *x.shape[-2:])
    if method == "svd":
        out = _svd(y.to(torch.float64 if x.dtype == torch.float64 else torch.float32))
    else:
        tall = y.size(-2) > y.size(-1)
        y = y.to(dtype)
        if tall:
            y = y.mT
        if method == "ns5":
            y = _ns5(y, steps)
        else:
            y = _polar_express(
                y, steps, POLAR_EXPRESS_COEFFICIENTS if method == "polar_express" else POLAR_EXPRESS_PAPER_COEFFICIENTS
            )
        out = y.mT if tall else y
    return out.to(x.dtype).reshape(x.shape)


@torch.library.custom_op("optbasin::orthogonalize", mutates_args=())
def _orthogonalize_op(x: Tensor, method: str, steps: int, dtype: torch.dtype) -> Tensor:
    """``orthogonalize`` as an operator, so that torch.func.vmap (a population, shell.py) runs it
    on the stacked members as one more leading dimension: the same batched products as one model."""
    return orthogonalize(x, method, steps, dtype)


@_orthogonalize_op.register_vmap
def _orthogonalize_members(info, in_dims, x: Tensor, method: str, steps: int, dtype: torch.dtype):
    if in_dims[0] is None:
        return _orthogonalize_op(x, method, steps, dtype), None
    return _orthogonalize_op(x.movedim(in_dims[0], 0), method, steps, dtype), 0


def orthogonalize_many(
    mats: list[Tensor],
    method: str = "ns5",
    steps: int = 5,
    dtype: torch.dtype = torch.float32,
    with_inner: bool = False,
) -> list[Tensor] | tuple[list[Tensor], list[Tensor]]:
    """Orth of each matrix in ``mats`` (2-D): one batched call per distinct shape.

    With ``with_inner`` also returns <M_i, Orth(M_i)> (0-d tensors; the nuclear norm for exact
    SVD), computed on the stacks, so no per-matrix reduction is launched.
    """
    by_shape: dict[tuple, list[int]] = defaultdict(list)
    for i, m in enumerate(mats):
        by_shape[(tuple(m.shape), m.dtype, m.device)].append(i)
    outs: list[Tensor | None] = [None] * len(mats)
    inners: list[Tensor | None] = [None] * len(mats)
    for idx in by_shape.values():
        stack = torch.stack([mats[i] for i in idx])
        orth = _orthogonalize_op(stack, method, steps, dtype)
        for j, i in enumerate(idx):
            outs[i] = orth[j]
        if with_inner:
            ip = (stack * orth).sum(dim=(-2, -1))  # (B,) or (B, K)
            for j, i in enumerate(idx):
                inners[i] = ip[j]
    return (outs, inners) if with_inner else outs
