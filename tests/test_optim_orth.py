"""Orthogonalization: NS5 / Polar Express / SVD singular values, shapes, batching."""

import pytest
import torch

from optbasin.optimizers.orth import orthogonalize, orthogonalize_many


def _singular_values(x):
    return torch.linalg.svdvals(x.double())


def _ill_conditioned(m, n, seed=0, cond=1e3):
    """Random (m, n) matrix with singular values log-spaced in [1/cond, 1]."""
    g = torch.Generator().manual_seed(seed)
    k = min(m, n)
    u, _ = torch.linalg.qr(torch.randn(m, k, generator=g))
    v, _ = torch.linalg.qr(torch.randn(n, k, generator=g))
    s = torch.logspace(0, -torch.log10(torch.tensor(cond)).item(), k)
    return (u * s) @ v.T


@pytest.mark.parametrize("shape", [(32, 64), (64, 32), (48, 48)])
def test_ns5_singular_values_in_band(shape):
    """NS5 is not converged by design: we verify every singular value lands in [0.5, 1.5] for a
    Gaussian matrix (condition number ~ tens) and mostly in [0.6, 1.2] (band Jordan reports, with
    a little margin for float32)."""
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    s = _singular_values(orthogonalize(x, "ns5", 5, torch.float32))
    assert s.min() > 0.5 and s.max() < 1.5
    assert ((s > 0.6) & (s < 1.2)).float().mean() > 0.9


def _last_polynomial_fixed_point(scale):
    """The s > 0 with s = p(s) / scale for the last Polar Express triple p (scalar iteration)."""
    s = 1.0
    for _ in range(200):
        s = (1.875 * s - 1.25 * s**3 + 0.375 * s**5) / scale
    return s


@pytest.mark.parametrize("method", ["polar_express", "polar_express_paper"])
def test_polar_express_closer_to_one_than_ns5(method):
    """Condition number 100: after 5 steps NS5 spans about [0.68, 1.20], Polar Express [0.87, 1.12]."""
    x = _ill_conditioned(64, 128, cond=100)
    err_ns5 = (_singular_values(orthogonalize(x, "ns5", 5)) - 1).abs().max()
    err_pe5 = (_singular_values(orthogonalize(x, method, 5)) - 1).abs().max()
    assert err_pe5 < 0.6 * err_ns5


def test_polar_express_variants_converge_to_their_fixed_points():
    """After 8 steps both have converged to the fixed point of their last polynomial: the paper's
    form leaves the last triple unscaled (fixed point 1); the MuonMax authors' form divides it by
    1.01 too, so every singular value lands on s = p(s) / 1.01 (about 0.9901)."""
    x = _ill_conditioned(64, 128, cond=100)
    paper = _singular_values(orthogonalize(x, "polar_express_paper", 8))
    authors = _singular_values(orthogonalize(x, "polar_express", 8))
    assert (paper - 1).abs().max() < 1e-3
    target = _last_polynomial_fixed_point(1.01)
    assert target < 0.995
    assert (authors - target).abs().max() < 1e-4


@pytest.mark.parametrize("shape", [(20, 12), (12, 20)])
def test_svd_is_exact_polar_factor(shape):
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(2))
    o = orthogonalize(x, "svd")
    u, _, vh = torch.linalg.svd(x.double(), full_matrices=False)
    torch.testing.assert_close(o.double(), u @ vh, atol=1e-5, rtol=0)
    # <X, Polar(X)> is the nuclear norm
    _, inner = orthogonalize_many([x], "svd", with_inner=True)
    torch.testing.assert_close(inner[0].double(), torch.linalg.matrix_norm(x.double(), "nuc"), rtol=1e-5, atol=0)


def test_svd_drops_null_directions():
    x = torch.randn(8, 6)
    x[:, 2] = 0  # a zero input column (a constant feature): no update in that column
    o = orthogonalize(x, "svd")
    assert torch.all(o[:, 2].abs() < 1e-6)
    assert torch.allclose(_singular_values(o), torch.tensor([1.0] * 5 + [0.0], dtype=torch.float64), atol=1e-5)


@pytest.mark.parametrize("method", ["ns5", "polar_express", "polar_express_paper", "svd"])
def test_batched_equals_unbatched_and_order_kept(method):
    g = torch.Generator().manual_seed(3)
    mats = [
        torch.randn(16, 8, generator=g),
        torch.randn(8, 16, generator=g),
        torch.randn(16, 8, generator=g),
        torch.randn(5, 5, generator=g),
    ]
    batched = orthogonalize_many(mats, method, 5)
    for m, o in zip(mats, batched):
        assert o.shape == m.shape
        torch.testing.assert_close(o, orthogonalize(m, method, 5), atol=1e-6, rtol=1e-5)


def test_compute_dtype_and_output_dtype():
    x = torch.randn(16, 24)
    o16 = orthogonalize(x, "ns5", 5, torch.bfloat16)
    o32 = orthogonalize(x, "ns5", 5, torch.float32)
    assert o16.dtype == torch.float32 and not torch.equal(o16, o32)
    assert (o16 - o32).abs().max() < 0.05


def test_unknown_method_named():
    with pytest.raises(ValueError, match="orth='qr'"):
        orthogonalize(torch.randn(3, 3), "qr")
