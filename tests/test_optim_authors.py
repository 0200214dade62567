"""MuonMax and MuonMax-Momo step for step against the MuonMax authors' arithmetic, written out here
(GPT-opt: gptopt/optim/polar.py PolarExpress, gptopt/optim/muonmax_momo.py MuonMaxMomo), in fp32, on
a two-layer network with biases (so the Adam part and Momo's denominator are exercised), at an lr
where Momo's truncation binds, with the stale nuclear norm on and off, from optbasin's defaults.

The authors orthogonalize in bfloat16; the arithmetic below is theirs in fp32 (optbasin's
orth_dtype="float32"), so the two runs can be compared to float rounding. optbasin adds 1e-7 to
the Frobenius norm before dividing (a zero momentum gives a zero step instead of NaN).
"""

import pytest
import torch

from optbasin.optimizers.nesgd import MuonMax, MuonMaxMomo

COEFFS = [  # the Polar Express paper's list, as copied into the authors' polar.py
    (8.28721201814563, -23.595886519098837, 17.300387312530933),
    (4.107059111542203, -2.9478499167379106, 0.5448431082926601),
    (3.9486908534822946, -2.908902115962949, 0.5518191394370137),
    (3.3184196573706015, -2.488488024314874, 0.51004894012372),
    (2.300652019954817, -1.6689039845747493, 0.4188073119525673),
    (1.891301407787398, -1.2679958271945868, 0.37680408948524835),
    (1.8750014808534479, -1.2500016453999487, 0.3750001645474248),
    (1.875, -1.25, 0.375),
]
AUTHORS_DEFAULTS = dict(
    lr=1e-3,
    muon_lr_scale=10.0,
    wd=0.1,
    momentum=0.95,
    betas=(0.95, 0.95),
    eps=1e-8,
    ns_steps=5,
    truncate_loss=0.0,
    stale_nuc=True,
)
STEPS = 10


def polar_express(g, steps):
    """The authors' PolarExpress: X / (||X||_F (1 + 1e-2)), every triple divided by (1 + 1e-2)."""
    x = g.clone()
    tall = g.size(-2) > g.size(-1)
    if tall:
        x = x.mT
    x = x / (x.norm(dim=(-2, -1), keepdim=True) * (1 + 1e-2))
    hs = COEFFS[:steps] + [COEFFS[-1]] * (steps - len(COEFFS))
    for a, b, c in hs:
        a, b, c = a / (1 + 1e-2), b / (1 + 1e-2), c / (1 + 1e-2)
        A = x @ x.mT
        B = b * A + c * A @ A
        x = a * x + B @ x
    return x.mT if tall else x


class AuthorsMuonMaxMomo:
    """The authors' MuonMaxMomo.step, statement by statement (truncate_loss=None: plain MuonMax)."""

    def __init__(
        self, muon_params, adam_params, lr, muon_lr_scale, wd, momentum, betas, eps, ns_steps, truncate_loss, stale_nuc
    ):
        self.muon, self.adam = muon_params, adam_params
        self.lr, self.s, self.wd, self.momentum, self.betas, self.eps = lr, muon_lr_scale, wd, momentum, betas, eps
        self.ns_steps, self.truncate_loss, self.stale_nuc = ns_steps, truncate_loss, stale_nuc
        self.state = {id(p): {} for p in muon_params + adam_params}
        self.loss_model = None
        self.truncated = []

    @torch.no_grad()
    def step(self, loss):
        lr, wd, momentum, (beta1, beta2), eps = self.lr, self.wd, self.momentum, self.betas, self.eps
        muon_dual_norm, adam_sq_dual_norm, current_loss_model, new_loss_model = 0.0, 0.0, 0.0, 0.0
        for p in self.muon + self.adam:
            g, st, is_muon = p.grad, self.state[id(p)], any(p is q for q in self.muon)
            if is_muon:
                if "buf" not in st:
                    st["buf"] = g.clone()
                st["buf"].mul_(momentum).add_(g, alpha=1.0 - momentum)
            else:
                if "buf" not in st:
                    st["buf"], st["buf2"] = g.clone(), g.square()
                st["buf"].lerp_(g, 1 - beta1)
                st["buf2"].lerp_(g.square(), 1 - beta2)
            current_loss_model += torch.sum(p * g)
            new_loss_model += torch.sum(p * st["buf"])
            m = st["buf"]
            if is_muon:
                if not self.stale_nuc or "prev_nuc" not in st:
                    u = polar_express(m.view(m.shape[0], -1), self.ns_steps).view(m.shape)
                    muon_dual_norm += (m * u).sum()
                else:
                    muon_dual_norm += st["prev_nuc"]
            else:
                adam_sq_dual_norm += torch.sum(m**2 / (eps + st["buf2"].sqrt()))
        global_dual_norm = torch.sqrt(self.s * muon_dual_norm**2 + adam_sq_dual_norm)
        current_lr = lr
        if self.truncate_loss is not None:
            update = loss.item() - current_loss_model.item()
            if self.loss_model is None:
                self.loss_model = update
            self.loss_model = momentum * self.loss_model + (1 - momentum) * update
            truncated_lr = (self.loss_model - self.truncate_loss + new_loss_model.item()) / global_dual_norm**2
            current_lr = min(truncated_lr, lr)
            self.truncated.append(bool(truncated_lr < lr))
        for p in self.muon:
            m = self.state[id(p)]["buf"]
            u = polar_express(m.view(m.shape[0], -1), self.ns_steps).view(m.shape)
            p.mul_(1 - lr * wd)
            p.add_(u, alpha=-current_lr * self.s * muon_dual_norm)
            if self.stale_nuc:
                self.state[id(p)]["prev_nuc"] = (m * u).sum()
        for p in self.adam:
            st = self.state[id(p)]
            p.mul_(1 - lr * wd)
            p.add_(st["buf"] / (eps + st["buf2"].sqrt()), alpha=-current_lr)


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(12, 16), torch.nn.Tanh(), torch.nn.Linear(16, 6))


def _batches():
    g = torch.Generator().manual_seed(1)
    w = torch.randn(6, 12, generator=g)
    xs = [torch.randn(32, 12, generator=g) for _ in range(STEPS)]
    return [(x, torch.tanh(x @ w.T) + 0.1 * torch.randn(32, 6, generator=g)) for x in xs]


def _train(net, step):
    for x, y in _batches():
        net.zero_grad()
        loss = torch.nn.functional.mse_loss(net(x), y)
        loss.backward()
        step(loss)
    return [p.detach().clone() for p in net.parameters()]


def _run_both(cls, lr, stale, truncate_loss):
    """Both optimizers from the same init on the same batches; returns (ours, authors', our diags, authors')."""
    ref_net, our_net = _net(), _net()
    ref_matrices = [ref_net[0].weight, ref_net[2].weight]
    ref_vectors = [ref_net[0].bias, ref_net[2].bias]
    authors = AuthorsMuonMaxMomo(
        ref_matrices, ref_vectors, **{**AUTHORS_DEFAULTS, "lr": lr, "stale_nuc": stale, "truncate_loss": truncate_loss}
    )
    groups = [
        {"params": [our_net[0].weight, our_net[2].weight], "kind": "matrix"},
        {"params": [our_net[0].bias, our_net[2].bias], "kind": "other"},
    ]
    ours = cls(groups, lr=lr, stale_nuclear_norm=stale, orth_dtype="float32")  # every other value: the defaults
    diags = []

    def our_step(loss):
        ours.step(loss=loss) if ours.needs_loss else ours.step()
        diags.append(ours.diagnostics())

    start = [p.detach().clone() for p in ref_net.parameters()]
    return _train(our_net, our_step), _train(ref_net, authors.step), diags, authors, start


def _assert_same_trajectory(got, want, start):
    """Each parameter within 1e-4 of the distance it travelled (fp32 rounding over 10 steps)."""
    for g, w, s in zip(got, want, start):
        travelled = (w - s).norm()
        assert travelled > 0
        assert (g - w).norm() / travelled < 1e-4


@pytest.mark.parametrize("stale", [True, False])
def test_muonmax_momo_is_the_authors_arithmetic(stale):
    lr = 0.01  # truncation binds from the 4th step on (checked below)
    got, want, diags, authors, start = _run_both(MuonMaxMomo, lr, stale, truncate_loss=0.0)
    assert any(authors.truncated) and not all(authors.truncated)
    assert [bool(d["truncated"]) for d in diags] == authors.truncated
    _assert_same_trajectory(got, want, start)


@pytest.mark.parametrize("stale", [True, False])
def test_muonmax_is_the_authors_arithmetic(stale):
    got, want, _, _, start = _run_both(MuonMax, 2e-3, stale, truncate_loss=None)
    _assert_same_trajectory(got, want, start)


def test_stale_norm_changes_the_trajectory():
    """The two settings above are different runs: the test could tell them apart."""
    stale, _, _, _, start = _run_both(MuonMaxMomo, 0.01, True, truncate_loss=0.0)
    fresh, _, _, _, _ = _run_both(MuonMaxMomo, 0.01, False, truncate_loss=0.0)
    assert (stale[0] - fresh[0]).norm() / (stale[0] - start[0]).norm() > 1e-3
