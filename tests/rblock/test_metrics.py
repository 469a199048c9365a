"""Tests of rblock.metrics on hand-computed cases."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor, nn

from rblock import DropBlock2d, DropLayer, create_regularizer, paired_forward
from rblock.metrics import (
    Stability,
    accuracy,
    expected_calibration_error,
    nll,
    predict,
    seed_churn,
    sub_model_stability,
)
from rblock.models import create_model, drop_sites

# ---------------------------------------------------------------------------------------------- accuracy, nll


def test_accuracy() -> None:
    logits = torch.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 4.0], [5.0, 6.0, 0.0]])
    # arg-max: 0, 1, 2, 1 against targets 0, 1, 1, 0: two right.
    assert accuracy(logits, torch.tensor([0, 1, 1, 0])) == 0.5
    assert accuracy(logits.half(), torch.tensor([0, 1, 2, 1])) == 1.0


def test_nll() -> None:
    # Sample 1: p = (1/2, 1/2), target 0 -> ln 2. Sample 2: p = (3/4, 1/4), target 1 -> ln 4. Mean 1.5 ln 2.
    logits = torch.tensor([[0.0, 0.0], [math.log(3.0), 0.0]])
    target = torch.tensor([0, 1])
    assert nll(logits, target) == pytest.approx(1.5 * math.log(2.0), rel=1e-6)
    assert nll(logits.half(), target) == pytest.approx(1.5 * math.log(2.0), rel=1e-3)


# ------------------------------------------------------------------------------------------------------- ECE


def test_ece_hand_computed() -> None:
    probs = torch.tensor([[0.9, 0.1], [0.9, 0.1], [0.3, 0.7], [0.7, 0.3], [0.22, 0.78]])
    target = torch.tensor([0, 1, 1, 0, 0])
    # 15 bins: conf 0.9 in (13/15, 14/15]: 2 samples, acc 1/2 -> 2/5 * 0.4 = 0.16
    #          conf 0.7 in (10/15, 11/15]: 2 samples, acc 1   -> 2/5 * 0.3 = 0.12
    #          conf 0.78 in (11/15, 12/15]: 1 sample, acc 0   -> 1/5 * 0.78 = 0.156
    assert expected_calibration_error(probs, target) == pytest.approx(0.436, abs=1e-6)
    # One bin: acc 3/5, mean conf 3.98/5.
    assert expected_calibration_error(probs, target, bins=1) == pytest.approx(0.796 - 0.6, abs=1e-6)


def test_ece_bins_are_closed_on_the_right() -> None:
    # bins = 4: edges 0.25, 0.5, 0.75 (exact in binary). Conf 0.5 joins 0.4 in (0.25, 0.5]: one bin with
    # acc 1/2 and conf 0.45 -> 0.05. Left-closed bins would separate them (0.25 + 0.2 = 0.45).
    probs = torch.tensor([[0.5, 0.25, 0.25], [0.4, 0.3, 0.3]])
    assert expected_calibration_error(probs, torch.tensor([0, 1]), bins=4) == pytest.approx(0.05, abs=1e-6)
    # Confidence 1 is in the last bin (0.75, 1].
    one = torch.tensor([[1.0, 0.0, 0.0]])
    assert expected_calibration_error(one, torch.tensor([0]), bins=4) == 0.0
    assert expected_calibration_error(one, torch.tensor([1]), bins=4) == 1.0


def test_ece_zero_when_calibrated() -> None:
    # Ten samples at confidence 0.8, eight of them right.
    probs = torch.tensor([[0.8, 0.2]] * 10)
    target = torch.tensor([0] * 8 + [1] * 2)
    assert expected_calibration_error(probs, target) == pytest.approx(0.0, abs=1e-6)
    # Two confidence levels in different bins, each calibrated: 0.6 (3 of 5 right) and 1.0 (all right).
    probs = torch.tensor([[0.4, 0.6]] * 5 + [[0.0, 1.0]] * 3)
    target = torch.tensor([1, 1, 1, 0, 0, 1, 1, 1])
    assert expected_calibration_error(probs, target) == pytest.approx(0.0, abs=1e-6)


# ------------------------------------------------------------------------------------------------ seed churn


def test_seed_churn() -> None:
    a = torch.tensor([0, 1, 2, 3])
    b = torch.tensor([0, 1, 2, 0])
    c = torch.tensor([1, 1, 0, 3])
    # a-b differ at 1 of 4, a-c at 2 of 4, b-c at 3 of 4: mean 0.5.
    assert seed_churn([a, b, c]) == pytest.approx(0.5)
    assert seed_churn([a, b]) == pytest.approx(0.25)
    assert seed_churn([a, a]) == 0.0
    assert seed_churn([a]) is None
    assert seed_churn([]) is None


# ---------------------------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: accuracy(torch.zeros(3, 2), torch.zeros(4, dtype=torch.long)), "target must have shape"),
        (lambda: accuracy(torch.zeros(3), torch.zeros(3, dtype=torch.long)), r"shape \(N, K\)"),
        (lambda: accuracy(torch.zeros(0, 2), torch.zeros(0, dtype=torch.long)), r"N, K >= 1"),
        (lambda: accuracy(torch.zeros(2, 2), torch.zeros(2)), "integer class ids"),
        (lambda: nll(torch.zeros(2, 2), torch.tensor([0, 2])), r"\[0, 2\)"),
        (lambda: expected_calibration_error(torch.full((2, 2), 0.5), torch.tensor([0, 1]), bins=0), "bins"),
        (lambda: expected_calibration_error(torch.tensor([[2.0, -1.0]]), torch.tensor([0])), "softmax"),
        (lambda: expected_calibration_error(torch.tensor([[0.2, 0.2]]), torch.tensor([0])), "sum to 1"),
        (lambda: seed_churn([torch.zeros(3), torch.zeros(4)]), "one length"),
        (lambda: seed_churn([torch.zeros(0), torch.zeros(0)]), "non-empty"),
        (lambda: predict(nn.Identity(), torch.zeros(0, 2)), "non-empty"),
        (lambda: predict(nn.Identity(), torch.zeros(2, 2), batch_size=0), "batch_size"),
    ],
)
def test_bad_input(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


# ------------------------------------------------------------------------------------- predict, stability


def _small_model(arm: str = "dropblock", **params: object) -> nn.Module:
    torch.manual_seed(0)
    regularizer = create_regularizer(arm, **params)
    return create_model("small_cnn", in_channels=1, num_classes=10, width=8, drop_layer=regularizer.drop_layer)


def _state(model: nn.Module) -> tuple[list[bool], list[float], dict[str, Tensor]]:
    flags = [m.training for m in model.modules()]
    scales = [layer.rate_scale for layer in drop_sites(model)]
    buffers = {k: v.clone() for k, v in model.named_buffers()}
    return flags, scales, buffers


def _assert_same_state(model: nn.Module, before: tuple[list[bool], list[float], dict[str, Tensor]]) -> None:
    flags, scales, buffers = _state(model)
    assert flags == before[0]
    assert scales == before[1]
    assert buffers.keys() == before[2].keys()
    for key, value in buffers.items():
        assert torch.equal(value, before[2][key]), key


def test_predict() -> None:
    model = _small_model()
    x = torch.randn(5, 1, 8, 8)
    model.train()
    model.get_submodule("fc").eval()  # a mixed state must come back as it was
    before = _state(model)
    logits = predict(model, x, batch_size=2)
    _assert_same_state(model, before)
    assert logits.shape == (5, 10) and logits.dtype == torch.float32
    with torch.no_grad():
        assert torch.allclose(logits, model.eval()(x), atol=1e-6)


def test_evaluations_call_back_after_every_batch() -> None:
    # A worker's heartbeat rides on this: a long evaluation must not look like a hung worker.
    calls: list[int] = []
    predict(_small_model(), torch.randn(5, 1, 8, 8), batch_size=2, after_batch=lambda: calls.append(1))
    assert len(calls) == 3  # batches of 2, 2 and 1
    calls.clear()
    model = _small_model("dropblock", drop_prob=0.2)
    sub_model_stability(model, torch.randn(5, 1, 8, 8), masks=4, batch_size=2, after_batch=lambda: calls.append(1))
    assert len(calls) == 3


class _ZeroAll(DropLayer):
    """A deterministic 'drop' of everything: the sub-model's logits are all 0, so p_sub is uniform."""

    def _drop(self, x: Tensor, drop_prob: float, pairing: str | None) -> tuple[Tensor, Tensor]:
        del drop_prob, pairing
        return x * 0.0, torch.ones(())


def test_stability_hand_computed() -> None:
    # The input is the logits. Full model: p = (3/4, 1/4) and (1/4, 3/4); sub-model: p = (1/2, 1/2).
    # KL(p‖u) = 3/4 ln(3/2) + 1/4 ln(1/2) for both samples. Uniform logits give argmax 0 (the first maximum),
    # which flips the second sample only.
    x = torch.tensor([[math.log(3.0), 0.0], [0.0, math.log(3.0)]])
    result = sub_model_stability(nn.Sequential(nn.Identity(), _ZeroAll(0.5)), x, masks=3, batch_size=1)
    assert result == Stability(
        inconsistency_kl=pytest.approx(0.75 * math.log(1.5) + 0.25 * math.log(0.5), rel=1e-6),  # type: ignore[arg-type]
        flip_rate=0.5,
        masks=3,
    )


def test_stability_none_without_drop_layers() -> None:
    x = torch.randn(4, 1, 8, 8)
    assert sub_model_stability(_small_model("none"), x) is None
    assert sub_model_stability(_small_model("dropblock", drop_prob=0.0), x) is None
    assert sub_model_stability(nn.Sequential(nn.Flatten(), DropBlock2d(0.0, 3)), x) is None


def test_stability_positive_deterministic_and_restoring() -> None:
    torch.manual_seed(0)
    regularizer = create_regularizer("dropblock", drop_prob=0.2, block_size=2)
    model = create_model("small_cnn", in_channels=1, num_classes=10, width=8, drop_layer=regularizer.drop_layer)
    x = torch.randn(16, 1, 8, 8)
    # Fill the BN statistics with something other than their initial values, and leave a realised rate.
    model.train()
    with torch.no_grad():
        model(x * 3 + 1)
    fractions = [layer.last_drop_fraction for layer in drop_sites(model)]
    regularizer.set_progress(0.25)  # the schedule's factor must not matter and must come back
    model.get_submodule("stage2").eval()
    before = _state(model)

    torch.manual_seed(1)
    first = sub_model_stability(model, x, masks=4, batch_size=5)
    _assert_same_state(model, before)
    assert [layer.last_drop_fraction for layer in drop_sites(model)] == fractions
    torch.manual_seed(1)
    second = sub_model_stability(model, x, masks=4, batch_size=5)
    assert first == second
    assert first is not None and first.masks == 4
    assert first.inconsistency_kl > 0.0
    assert 0.0 <= first.flip_rate <= 1.0
    # Same model, all in eval mode beforehand: the result depends only on the masks, not on the prior state.
    model.eval()
    torch.manual_seed(1)
    assert sub_model_stability(model, x, masks=4, batch_size=5) == first


class _Recorder(DropLayer):
    """Records the pairing it saw; raises on demand."""

    def __init__(self, drop_prob: float, fail: bool = False) -> None:
        super().__init__(drop_prob)
        self.fail = fail
        self.seen: list[tuple[str | None, float]] = []

    def _drop(self, x: Tensor, drop_prob: float, pairing: str | None) -> tuple[Tensor, Tensor]:
        if self.fail:
            raise RuntimeError("boom")
        self.seen.append((pairing, drop_prob))
        return x * 0.5, torch.zeros(())


def test_stability_unpaired_full_rate() -> None:
    layer = _Recorder(0.3)
    layer.rate_scale = 0.1
    model = nn.Sequential(nn.Linear(3, 4), layer)
    with paired_forward("disjoint"):
        sub_model_stability(model, torch.randn(4, 3), masks=2)
    # Two masks, each unpaired (even batch inside paired_forward) and at the full target rate.
    assert [pairing for pairing, _ in layer.seen] == [None, None]
    assert [rate for _, rate in layer.seen] == pytest.approx([0.3, 0.3])
    assert layer.rate_scale == 0.1


def test_stability_restores_on_error() -> None:
    layer = _Recorder(0.3, fail=True)
    layer.rate_scale = 0.5
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), layer).train()
    model[1].eval()
    before = _state(model)
    with pytest.raises(RuntimeError, match="boom"):
        sub_model_stability(model, torch.randn(4, 3))
    _assert_same_state(model, before)
    assert layer.rate_scale == 0.5


def test_stability_bad_input() -> None:
    model = nn.Sequential(nn.Identity(), _ZeroAll(0.5))
    with pytest.raises(ValueError, match="masks"):
        sub_model_stability(model, torch.zeros(2, 2), masks=0)
    with pytest.raises(ValueError, match="non-empty"):
        sub_model_stability(model, torch.zeros(0, 2))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda() -> None:
    model = _small_model().cuda()
    x = torch.randn(8, 1, 8, 8, device="cuda")
    assert predict(model, x).device.type == "cuda"
    result = sub_model_stability(model, x, masks=2)
    assert result is not None and result.inconsistency_kl > 0.0
