"""Shared trunk: a two-pass step on x equals the concatenated pass model(cat([x, x])) with the same masks.

Both paths are run in float64 from the same RNG state: the trunk draws no random numbers, so the drop
layers draw the same masks in the same order (and the test checks that they did).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from rblock import Regularizer, create_model, create_regularizer, drop_sites
from rblock.data import load_dataset

ModelFactory = Callable[[Regularizer], nn.Module]


class HookedNet(nn.Module):
    """A model that knows nothing of rblock: its drop sites are attached by forward hooks, as for timm's zoo."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.block1 = nn.Sequential(nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.block2 = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 5))

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.head(self.block2(self.block1(self.stem(x))))
        return out


def _hooked(reg: Regularizer) -> nn.Module:
    model = HookedNet()
    for block in (model.block1, model.block2):
        site = reg.drop_layer()
        block.register_forward_hook(lambda _module, _inputs, out, site=site: site(out))
        # Not a submodule (the model's state dict is unchanged); kept alive beside the model.
        model.__dict__.setdefault("hooked_sites", []).append(site)
    return model


def _builtin(name: str, width: int) -> ModelFactory:
    return lambda reg: create_model(name, in_channels=3, num_classes=5, drop_layer=reg.drop_layer, width=width)


MODELS: dict[str, ModelFactory] = {
    "small_cnn": _builtin("small_cnn", 8),
    "resnet18": _builtin("resnet18", 4),
    "hooked": _hooked,
}
TWO_PASS_ARMS = ("rdrop", "rblock_b", "rblock_s")


def _step(reg: Regularizer, model: nn.Module, x: Tensor, y: Tensor, *, shared: bool, seed: int) -> dict[str, Any]:
    """One training forward and backward; everything the two paths must agree on."""
    reg.shared_trunk = shared
    rows_in: list[int] = []
    bn_stats: list[tuple[int, int, Tensor, Tensor]] = []
    drop_outputs: list[Tensor] = []

    def record_bn(_m: nn.Module, inputs: tuple[Tensor, ...]) -> None:
        h = inputs[0].detach()
        values = h.numel() // h.shape[1]  # the n of BatchNorm's unbiased running-variance update
        bn_stats.append((h.shape[0], values, h.mean(dim=(0, 2, 3)), h.var(dim=(0, 2, 3), unbiased=False)))

    handles = [model.register_forward_pre_hook(lambda _m, inputs: rows_in.append(inputs[0].shape[0]))]
    handles += [m.register_forward_pre_hook(record_bn) for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    sites = list(reg._layers)  # every drop layer of this regularizer, submodule or hooked
    handles += [s.register_forward_hook(lambda _m, _i, out: drop_outputs.append(out.detach())) for s in sites]
    model.zero_grad(set_to_none=True)
    torch.manual_seed(seed)
    try:
        loss, logits = reg.loss(model, x, y)
        loss.backward()
    finally:
        for handle in handles:
            handle.remove()
    return {
        "loss": loss.detach(),
        "logits": logits.detach(),
        "kl": reg.last_consistency_kl,
        "grads": {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None},
        "rows_in": rows_in,
        "bn_stats": bn_stats,
        "dropped": [out == 0 for out in drop_outputs],
        "buffers": {name: b.clone() for name, b in model.named_buffers()},
    }


def _both_paths(reg: Regularizer, model: nn.Module, x: Tensor, y: Tensor, seed: int) -> tuple[dict[str, Any], ...]:
    """The shared-trunk step and the concatenated one, from the same weights and the same RNG state."""
    state = {k: v.clone() for k, v in model.state_dict().items()}
    shared = _step(reg, model, x, y, shared=True, seed=seed)
    model.load_state_dict(state)
    return shared, _step(reg, model, x, y, shared=False, seed=seed)


def _close(a: Tensor, b: Tensor) -> None:
    torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("arm", TWO_PASS_ARMS)
@pytest.mark.parametrize("model_name", list(MODELS))
def test_loss_and_every_gradient_equal_the_concatenated_pass(model_name: str, arm: str) -> None:
    torch.manual_seed(0)
    reg = create_regularizer(arm, schedule="constant")
    model = MODELS[model_name](reg).double().train()
    x, y = torch.randn(6, 3, 16, 16, dtype=torch.float64), torch.randint(0, 5, (6,))
    shared, concat = _both_paths(reg, model, x, y, seed=1)

    assert shared["rows_in"] == [6] and concat["rows_in"] == [12]  # the model was called on B rows
    assert len(shared["dropped"]) == 2 and all(d.shape[0] == 12 for d in shared["dropped"])
    for a, b in zip(shared["dropped"], concat["dropped"], strict=True):
        assert torch.equal(a, b)  # the same masks on both paths
    assert shared["dropped"][0].float().mean() > 0  # ... and they do drop something
    _close(shared["loss"], concat["loss"])
    _close(shared["logits"], concat["logits"])
    _close(shared["kl"], concat["kl"])
    assert shared["grads"].keys() == concat["grads"].keys() == {n for n, _ in model.named_parameters()}
    for name in shared["grads"]:
        torch.testing.assert_close(shared["grads"][name], concat["grads"][name], rtol=1e-9, atol=1e-12, msg=name)


@pytest.mark.parametrize(("model_name", "atol"), [("small_cnn", 1e-6), ("resnet18", 1e-5)])
def test_float32_training_precision_agrees_to_rounding(model_name: str, atol: float) -> None:
    """In float32 only the summation order differs (the cat's backward adds the two branches first)."""
    torch.manual_seed(6)
    reg = create_regularizer("rblock_s", schedule="constant")
    model = MODELS[model_name](reg).train()
    x, y = torch.randn(32, 3, 32, 32), torch.randint(0, 5, (32,))
    shared, concat = _both_paths(reg, model, x, y, seed=7)
    torch.testing.assert_close(shared["loss"], concat["loss"], rtol=1e-5, atol=1e-6)
    for name in shared["grads"]:
        torch.testing.assert_close(shared["grads"][name], concat["grads"][name], rtol=1e-5, atol=atol, msg=name)


@pytest.mark.parametrize("model_name", list(MODELS))
def test_batchnorm_statistics_equal_and_running_variance_differs_by_n_over_n_minus_1(model_name: str) -> None:
    torch.manual_seed(2)
    reg = create_regularizer("rblock_s", schedule="constant")
    model = MODELS[model_name](reg).double().train()
    x, y = torch.randn(8, 3, 16, 16, dtype=torch.float64), torch.randint(0, 5, (8,))
    shared, concat = _both_paths(reg, model, x, y, seed=3)

    names = [name for name, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)]
    assert [rows for rows, *_ in concat["bn_stats"]] == [16] * len(names)
    assert {rows for rows, *_ in shared["bn_stats"]} == {8, 16}  # BatchNorms in the trunk and after the split
    momentum = 0.1
    buffers_s, buffers_c = shared["buffers"], concat["buffers"]
    for name, (rows, n, mean_s, var_s), (_, _, mean_c, var_c) in zip(
        names, shared["bn_stats"], concat["bn_stats"], strict=True
    ):
        _close(mean_s, mean_c)  # the batch mean over h equals that over [h; h]
        _close(var_s, var_c)  # and so does the biased variance used to normalise
        _close(buffers_s[f"{name}.running_mean"], buffers_c[f"{name}.running_mean"])
        assert torch.equal(buffers_s[f"{name}.num_batches_tracked"], buffers_c[f"{name}.num_batches_tracked"])
        difference = buffers_s[f"{name}.running_var"] - buffers_c[f"{name}.running_var"]
        if rows == 8:
            # The running variance took var·n/(n-1) with n = B·H·W here, 2B·H·W in the concatenated pass.
            expected = momentum * var_s * (n / (n - 1) - 2 * n / (2 * n - 1))
            assert expected.abs().max() > 0
            _close(difference, expected)
        else:
            _close(difference, torch.zeros_like(difference))


def test_a_model_without_drop_sites_returns_both_passes() -> None:
    reg = create_regularizer("rdrop")
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 4), nn.BatchNorm1d(4), nn.Linear(4, 3)).double()
    x, y = torch.randn(5, 3, 2, 2, dtype=torch.float64), torch.tensor([0, 1, 2, 1, 0])
    shared = _step(reg, model, x, y, shared=True, seed=0)
    concat = _step(reg, model, x, y, shared=False, seed=0)
    _close(shared["loss"], concat["loss"])
    for name in shared["grads"]:
        _close(shared["grads"][name], concat["grads"][name])


def test_a_short_training_run_matches_the_concatenated_path() -> None:
    """Eight SGD steps on digits with a ramped rate: per-step losses, KL, drop rates and the final model agree."""
    data = load_dataset("digits")
    x_all, y_all = data.train_x.double(), data.train_y
    runs: dict[bool, dict[str, Any]] = {}
    for shared in (True, False):
        reg = create_regularizer("rblock_b", drop_prob=0.25, groups=4)
        reg.shared_trunk = shared
        torch.manual_seed(5)
        model = create_model("small_cnn", in_channels=1, num_classes=10, drop_layer=reg.drop_layer, width=8).double()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        losses, kls, rates = [], [], []
        for step in range(8):
            reg.set_progress(step / 7)
            rows = slice(64 * step, 64 * (step + 1))
            loss, _ = reg.loss(model, x_all[rows], y_all[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            kls.append(float(reg.last_consistency_kl or 0.0))
            rates.append([layer.last_drop_fraction for layer in drop_sites(model)])
        with torch.no_grad():
            test_logits = model.eval()(data.test_x.double())
        state = model.state_dict()
        runs[shared] = {"losses": losses, "kls": kls, "rates": rates, "logits": test_logits, "state": state}

    a, b = runs[True], runs[False]
    assert a["losses"] == pytest.approx(b["losses"], rel=1e-9)
    assert a["kls"] == pytest.approx(b["kls"], rel=1e-7, abs=1e-12)
    assert a["rates"] == b["rates"]
    for name, value in a["state"].items():
        if name.endswith("running_var"):
            # The trunk's running variances differ by the factor 1 + 1/(2(n-1)) per step (n = 64·H·W here).
            torch.testing.assert_close(value, b["state"][name], rtol=1e-3, atol=0.0, msg=name)
        else:
            torch.testing.assert_close(value, b["state"][name], rtol=1e-8, atol=1e-10, msg=name)
    # Evaluation uses the running statistics, so the deployed model agrees to that same tolerance.
    torch.testing.assert_close(a["logits"], b["logits"], rtol=1e-3, atol=1e-4)
    assert torch.equal(a["logits"].argmax(1), b["logits"].argmax(1))
