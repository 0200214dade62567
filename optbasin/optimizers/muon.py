"""Muon on the matrix parameters, AdamW on the others (docs/optimizers.md, section 2).

Matrix update, torch.optim.Muon's rule (torch >= 2.9):
    M <- beta M + (1 - beta) G                      (EMA, zero init)
    U = (1 - beta) G + beta M if nesterov else M
    W <- W (1 - lr wd);  W <- W - lr k(m, n) Orth(U)
with k = sqrt(max(1, m/n)) ("original") or 0.2 sqrt(max(m, n)) ("match_rms_adamw"), (m, n) the
2-D shape (conv kernels flattened to (out, -1)). Orth is our orth module, batched over same-shape
matrices, in ``orth_dtype`` (torch.optim.Muon always uses bf16; with orth_dtype="bfloat16" and
orth="ns5" the two compute the same steps, rounded differently). Other params: AdamW
(functional.py, torch's rule) with lr = adamw_lr_ratio * lr.

Choices of optbasin where torch.optim.Muon's defaults differ (docs/optimizers.md lists them):
``adjust_lr_fn`` defaults to "match_rms_adamw" so that one learning rate serves both halves
(Moonlight; how the NAMO paper compares Muon with AdamW at one lr grid); AdamW betas default to
(0.9, 0.95) as in the NAMO setup. Hyperparameters: optbasin/optimizers/catalog/muon.yaml.
"""

from __future__ import annotations

import torch
from torch import Tensor

from optbasin.optimizers.declared import declared
from optbasin.optimizers.functional import adamw_others, adjusted_lr, ema_, matrix_of, matrix_or_adamw_state
from optbasin.optimizers.hybrid import HybridOptimizer
from optbasin.optimizers.orth import compute_dtype, orthogonalize_many
from optbasin.optimizers.split import MATRIX


def muon_rule(
    params: list[Tensor],
    grads: list[Tensor],
    states: list[dict],
    gstate: dict,
    hp: dict,
    kinds: list[str],
    t: int,
    loss=None,
) -> dict:
    """One Muon step: the matrix update above on the matrices, AdamW on the others."""
    W = [p for p, k in zip(params, kinds) if k == MATRIX]
    G = [g for g, k in zip(grads, kinds) if k == MATRIX]
    M = [st["momentum_buffer"] for st, k in zip(states, kinds) if k == MATRIX]
    lr, beta, wd = hp["lr"], hp["momentum"], hp["weight_decay"]
    for m, g in zip(M, G):
        ema_(m, g, beta)
    U = [g.lerp(m, beta) for g, m in zip(G, M)] if hp["nesterov"] else M  # (1 - beta) G + beta M
    if W:
        dtype = compute_dtype(hp["orth_dtype"], W[0].device)
        for w, o in zip(W, orthogonalize_many([matrix_of(u) for u in U], hp["orth"], hp["ns_steps"], dtype)):
            w.mul_(1 - lr * wd)
            w.sub_(adjusted_lr(lr, hp["adjust_lr_fn"], o.shape) * o.reshape(w.shape))
    adamw_others(params, grads, states, kinds, t, hp["adamw_lr_ratio"] * lr, hp)
    return {}


@declared("muon")
class Muon(HybridOptimizer):
    rule = staticmethod(muon_rule)

    @staticmethod
    def param_state(p: Tensor, kind: str) -> dict[str, Tensor]:
        return matrix_or_adamw_state(p, kind, lambda w: {"momentum_buffer": torch.zeros_like(w)})
