"""symmetric_kl and the two-pass loss convention against direct formulas."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from rblock import symmetric_kl, two_pass_loss


def _direct(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    pa, pb = a.double().softmax(-1), b.double().softmax(-1)
    kl_ab = (pa * (pa.log() - pb.log())).sum(-1)
    kl_ba = (pb * (pb.log() - pa.log())).sum(-1)
    return 0.5 * (kl_ab + kl_ba)


def test_matches_the_direct_formula_and_is_symmetric() -> None:
    torch.manual_seed(30)
    a, b = torch.randn(16, 10), torch.randn(16, 10)
    value = symmetric_kl(a, b)
    assert value.shape == (16,)
    torch.testing.assert_close(value.double(), _direct(a, b), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(symmetric_kl(b, a), value)


def test_hand_computed_two_class_case() -> None:
    # p = (0.5, 0.5), q = (0.8, 0.2): KL(p||q) = 0.5 ln(0.5/0.8) + 0.5 ln(0.5/0.2); KL(q||p) likewise.
    a = torch.log(torch.tensor([[0.5, 0.5]]))
    b = torch.log(torch.tensor([[0.8, 0.2]]))
    kl_pq = 0.5 * math.log(0.5 / 0.8) + 0.5 * math.log(0.5 / 0.2)
    kl_qp = 0.8 * math.log(0.8 / 0.5) + 0.2 * math.log(0.2 / 0.5)
    assert symmetric_kl(a, b).item() == pytest.approx(0.5 * (kl_pq + kl_qp), rel=1e-5)


def test_zero_for_equal_inputs_and_float32_under_bfloat16() -> None:
    a = torch.randn(8, 5)
    assert torch.allclose(symmetric_kl(a, a), torch.zeros(8), atol=1e-7)
    out = symmetric_kl(a.bfloat16(), torch.randn(8, 5).bfloat16())
    assert out.dtype == torch.float32
    assert (out >= 0).all()


def test_shape_mismatch_raises() -> None:
    with pytest.raises(ValueError, match="two \\(B, K\\) logit tensors"):
        symmetric_kl(torch.randn(4, 3), torch.randn(4, 2))


def test_two_pass_loss_is_the_design_convention() -> None:
    torch.manual_seed(31)
    a, b, y = torch.randn(6, 4), torch.randn(6, 4), torch.randint(0, 4, (6,))
    loss, kl = two_pass_loss(a, b, y, alpha=0.7)
    expected = (
        0.5 * (F.cross_entropy(a, y, reduction="none") + F.cross_entropy(b, y, reduction="none"))
        + 0.7 * _direct(a, b).float()
    ).mean()
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(kl, _direct(a, b).float().mean())
