"""Muon on the matrix parameters, AdamW on the others (docs/optimizers.md, section 2).

Matrix update, torch.optim.Muon's rule (torch >= 2.9):
    M <- lerp(M, G, 1 - beta)                       (EMA, zero init)
    U = lerp(G, M, beta) if nesterov else M         (Nesterov: (1 - beta) G + beta M)
    W <- W (1 - lr wd);  W <- W - lr k(m, n) Orth(U)
with k = sqrt(max(1, m/n)) ("original") or 0.2 sqrt(max(m, n)) ("match_rms_adamw"), (m, n) the
2-D shape (conv kernels flattened to (out, -1)). Orth is our orth module, batched over same-shape
matrices, in ``orth_dtype`` (torch.optim.Muon always uses bf16; with orth_dtype="bfloat16" and
orth="ns5" the two compute the same steps, rounded differently). Other params: torch's AdamW with lr = adamw_lr_ratio * lr.

Choices of optbasin where torch.optim.Muon's defaults differ (docs/optimizers.md lists them): ``adjust_lr_fn`` defaults to "match_rms_adamw" so that
one learning rate serves both halves (Moonlight; how the NAMO paper compares Muon with AdamW at
one lr grid); AdamW betas default to (0.9, 0.95) as in the NAMO setup.
"""

from __future__ import annotations

import torch

from optbasin.optimizers.functional import adamw_others, muon_matrix_update
from optbasin.optimizers.hybrid import HybridOptimizer
from optbasin.optimizers.orth import compute_dtype
from optbasin.optimizers.split import MATRIX
from optbasin.catalog import check_hparams

class Muon(HybridOptimizer):
    def __init__(self, params, lr: float = 0.01, weight_decay: float = 0.1, momentum: float = 0.95,
                 nesterov: bool = True, adjust_lr_fn: str = "match_rms_adamw", orth: str = "ns5",
                 ns_steps: int = 5, orth_dtype: str = "auto", adamw_beta1: float = 0.9, adamw_beta2: float = 0.95,
                 adamw_eps: float = 1e-8, adamw_wd: float | None = None, adamw_lr_ratio: float = 1.0) -> None:
        check_hparams(type(self), "muon", dict(
            lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov, adjust_lr_fn=adjust_lr_fn,
            orth=orth, ns_steps=ns_steps, orth_dtype=orth_dtype, adamw_beta1=adamw_beta1, adamw_beta2=adamw_beta2,
            adamw_eps=adamw_eps, adamw_wd=adamw_wd, adamw_lr_ratio=adamw_lr_ratio))
        defaults = dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                        adjust_lr_fn=adjust_lr_fn, orth=orth, ns_steps=ns_steps, orth_dtype=orth_dtype,
                        adamw_beta1=adamw_beta1, adamw_beta2=adamw_beta2, adamw_eps=adamw_eps,
                        adamw_wd=weight_decay if adamw_wd is None else adamw_wd, adamw_lr_ratio=adamw_lr_ratio)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            if group["kind"] == MATRIX:
                self._muon(group)
            else:
                self._adamw(group, group["adamw_lr_ratio"] * group["lr"], group["adamw_beta1"],
                            group["adamw_beta2"], group["adamw_eps"], group["adamw_wd"])
        return loss

    def _muon(self, group: dict) -> None:
        params = self._with_grad(group)
        if not params:
            return
        bufs = [self.state[p].setdefault("momentum_buffer", torch.zeros_like(p)) for p in params]
        muon_matrix_update(params, [p.grad for p in params], bufs, group["lr"], group["momentum"],
                           group["weight_decay"], group["nesterov"], group["adjust_lr_fn"], group["orth"],
                           group["ns_steps"], compute_dtype(group["orth_dtype"], params[0].device))

    @staticmethod
    def population_step(state: dict, params: list, grads: list, kinds: list[str], hp: dict, step: int,
                        loss=None) -> dict:
        """The same updates on a population (tensors with a member dimension, (K,) hyperparameters)."""
        matrix = [i for i, k in enumerate(kinds) if k == MATRIX]
        bufs = [state.setdefault(i, {}).setdefault("momentum_buffer", torch.zeros_like(params[i])) for i in matrix]
        muon_matrix_update([params[i] for i in matrix], [grads[i] for i in matrix], bufs, hp["lr"], hp["momentum"],
                           hp["weight_decay"], hp["nesterov"], hp["adjust_lr_fn"], hp["orth"], hp["ns_steps"],
                           compute_dtype(hp["orth_dtype"], params[0].device), members=True)
        adamw_others(state, params, grads, kinds, step, hp["adamw_lr_ratio"] * hp["lr"], hp)
        return {}
