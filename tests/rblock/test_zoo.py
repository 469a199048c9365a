"""The timm zoo: names, curated table, drop sites on five families with every arm, weights files, errors."""

from __future__ import annotations

import copy
import json
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import huggingface_hub.constants
import pytest
import safetensors.torch
import timm
import torch
from timm.models import get_pretrained_cfg
from torch import Tensor, nn

from pilot_spec.models import model_problem
from pilot_spec.zoo import CURATED, TIMM_VERSION, describe_curated, timm_names
from rblock import ARMS, MODELS, DropLayer, create_model, create_regularizer, drop_sites
from rblock.config import TrainConfig
from rblock.train import train_run
from rblock.zoo import SITE_NAMES, FeatureStage, _DropSiteHook, feature_stages, model_normalisation
from rblock.zoo_weights import load_weights

ROOT = Path(__file__).resolve().parents[2]
FAMILIES = (
    "timm/resnet10t",
    "timm/efficientnet_b0",
    "timm/convnext_atto",
    "timm/mobilenetv3_small_100",
    "timm/regnetx_002",
)
IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    # Tiny models on tiny images: one thread is faster than several fighting over a busy machine's cores.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_the_names_file_is_timms_list_and_the_pin_agrees() -> None:
    assert timm.__version__ == TIMM_VERSION
    listed = (ROOT / "pilot_spec" / "timm_models.txt").read_text(encoding="utf-8").splitlines()
    assert listed == sorted(timm.list_models()), "run: python -m rblock.zoo --write-names"
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    assert f"timm=={TIMM_VERSION}" in extras["train"]


def test_model_names_for_the_api() -> None:
    """pilot_spec.models.model_problem, the API's and TrainConfig's check, accepts every listed timm name."""
    assert len(timm_names()) > 1000
    for name in (*MODELS, "timm/resnet50", "timm/vit_tiny_patch16_224"):
        assert model_problem(name) is None, name
    for name in ("resnet50", "timm/", "timm/resnet5", "vgg16", "timm/../resnet50"):
        assert model_problem(name) is not None, name
    assert "did you mean timm/resnet50" in str(model_problem("timm/resnet50x"))


def test_the_curated_table_is_timms_and_every_entry_takes_two_sites() -> None:
    assert 10 <= len(CURATED) <= 15 and len({m.name for m in CURATED}) == len(CURATED)
    reg = create_regularizer("rblock_b")  # channel groups: the site widths must take the default groups
    for entry in CURATED:
        assert model_problem(entry.name) is None and entry.description
        cfg = get_pretrained_cfg(entry.name.removeprefix("timm/"))
        assert cfg is not None and cfg.input_size[-1] == entry.image_size, entry.name
        with torch.device("meta"):  # shapes only: no memory, no initialisation cost
            imagenet = create_model(entry.name, in_channels=3, num_classes=1000)
            model = create_model(entry.name, in_channels=3, num_classes=10, drop_layer=reg.drop_layer)
        assert round(sum(p.numel() for p in imagenet.parameters()) / 1e6, 2) == entry.params_m, entry.name
        assert len(drop_sites(model)) == 2, entry.name
        assert [s.reduction for s in feature_stages(model, entry.name)] == [16, 32], entry.name  # as described
    described = describe_curated()
    assert list(described) == [m.name for m in CURATED] and json.loads(json.dumps(described)) == described


def _forward_order(model: nn.Module, x: Tensor) -> list[nn.Module]:
    called: list[nn.Module] = []
    handles = [s.register_forward_hook(lambda m, _i, _o: called.append(m)) for s in drop_sites(model)]
    with torch.no_grad():
        model.eval()(x)
    for handle in handles:
        handle.remove()
    return called


@pytest.mark.parametrize("name", FAMILIES)
def test_two_sites_in_forward_order_and_a_training_step_with_every_arm(name: str) -> None:
    x, y = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])
    for arm in ARMS:
        torch.manual_seed(0)
        reg = create_regularizer(arm)
        model = create_model(name, in_channels=3, num_classes=5, drop_layer=reg.drop_layer)
        sites = drop_sites(model)
        assert [type(model.get_submodule(s)) for s in SITE_NAMES] == [type(reg.drop_layer())] * 2
        assert len(sites) == (0 if arm == "none" else 2), arm
        if sites:
            assert _forward_order(model, x) == sites
            assert all(isinstance(s, DropLayer) and not s.training for s in sites)  # they follow .eval()
        model.train()
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        loss, logits = reg.loss(model, x, y)
        loss.backward()
        optimizer.step()
        assert logits.shape == (4, 5) and torch.isfinite(loss), arm
        assert all(s.last_drop_fraction is not None and s.last_drop_fraction > 0 for s in sites), arm
        assert all(p.grad is not None for p in model.parameters()), arm
        stem = next(iter(before))  # the first parameter: the step reached the bottom of the network
        assert not torch.equal(model.get_parameter(stem), before[stem]), arm


def _two_pass_step(x: Tensor, y: Tensor, *, shared: bool) -> dict[str, Any]:
    """One rblock_s training step on timm/resnet10t from seeded weights and masks, shared trunk or not."""
    torch.manual_seed(0)
    reg = create_regularizer("rblock_s", schedule="constant")
    reg.shared_trunk = shared
    model = create_model("timm/resnet10t", in_channels=3, num_classes=5, drop_layer=reg.drop_layer).double()
    rows: list[int] = []
    model.register_forward_pre_hook(lambda _m, inputs: rows.append(inputs[0].shape[0]))
    torch.manual_seed(1)
    loss, logits = reg.loss(model, x, y)
    loss.backward()
    return {
        "rows": rows,
        "loss": loss.detach(),
        "logits": logits.detach(),
        "grads": {n: p.grad for n, p in model.named_parameters() if p.grad is not None},
        "parameters": len(list(model.parameters())),
        "rate": drop_sites(model)[0].last_drop_fraction,
    }


def test_shared_trunk_equals_the_concatenated_pass_on_a_timm_model() -> None:
    x, y = torch.randn(6, 3, 32, 32, dtype=torch.float64), torch.randint(0, 5, (6,))
    shared, concat = _two_pass_step(x, y, shared=True), _two_pass_step(x, y, shared=False)
    assert shared["rows"] == [6] and concat["rows"] == [12]  # the trunk ran on B rows, not 2B
    assert shared["rate"] == concat["rate"] and shared["rate"] > 0  # the same masks
    for key in ("loss", "logits"):
        torch.testing.assert_close(shared[key], concat[key], rtol=1e-9, atol=1e-12)
    assert shared["grads"].keys() == concat["grads"].keys() and len(shared["grads"]) == shared["parameters"]
    for name, grad in shared["grads"].items():
        torch.testing.assert_close(grad, concat["grads"][name], rtol=1e-9, atol=1e-12, msg=name)


def test_a_deep_copy_runs_its_own_sites() -> None:
    model = create_model(
        "timm/regnetx_002", in_channels=3, num_classes=5, drop_layer=create_regularizer("dropout").drop_layer
    )
    twin = copy.deepcopy(model)
    twin(torch.randn(2, 3, 32, 32))
    assert all(s.last_drop_fraction is not None for s in drop_sites(twin))
    assert all(s.last_drop_fraction is None for s in drop_sites(model))


def _save(payload: object, path: Path) -> Path:
    torch.save(payload, path)
    return path


@pytest.mark.parametrize("wrap", ["plain", "state_dict", "model", "data_parallel", "safetensors"])
def test_a_weights_file_loads_with_the_head_reinitialised(wrap: str, tmp_path: Path) -> None:
    torch.manual_seed(7)
    source = create_model("timm/resnet10t", in_channels=3, num_classes=10)
    state = source.state_dict()
    if wrap == "safetensors":
        path = tmp_path / "w.safetensors"
        safetensors.torch.save_file(state, str(path))
    else:
        wrapped = {
            "plain": state,
            "state_dict": {"state_dict": state, "epoch": 3, "arch": "resnet10t"},
            "model": {"model": state, "optimizer": {}},
            "data_parallel": {f"module.{k}": v for k, v in state.items()},
        }[wrap]
        path = _save(wrapped, tmp_path / "w.pth")

    torch.manual_seed(1)
    fresh = create_model("timm/resnet10t", in_channels=3, num_classes=4)
    torch.manual_seed(1)
    tuned = create_model("timm/resnet10t", in_channels=3, num_classes=4, weights=path)
    loaded = tuned.state_dict()
    assert torch.equal(loaded["conv1.0.weight"], state["conv1.0.weight"])  # the stem is the file's
    assert all(torch.equal(loaded[k], v) for k, v in state.items() if not k.startswith("fc."))
    assert loaded["fc.weight"].shape == (4, 512)  # the head was built for 4 classes, left as initialised
    assert torch.equal(loaded["fc.weight"], fresh.state_dict()["fc.weight"])

    same_classes = create_model("timm/resnet10t", in_channels=3, num_classes=10, weights=path)
    assert torch.equal(same_classes.state_dict()["fc.weight"], state["fc.weight"])  # a fitting head loads


def test_builtin_weights_and_a_grayscale_stem(tmp_path: Path) -> None:
    torch.manual_seed(0)
    source = create_model("resnet18", in_channels=3, num_classes=10, width=8)
    path = _save(source.state_dict(), tmp_path / "r.pt")
    model = create_model("resnet18", in_channels=3, num_classes=7, width=8, weights=path)
    assert torch.equal(model.state_dict()["layer4.1.conv2.weight"], source.state_dict()["layer4.1.conv2.weight"])
    assert model.state_dict()["fc.weight"].shape == (7, 64)

    rgb = create_model("timm/resnet10t", in_channels=3, num_classes=5)
    report = load_weights(
        create_model("timm/resnet10t", in_channels=1, num_classes=5),
        _save(rgb.state_dict(), tmp_path / "t.pt"),
        stem="conv1.0",
    )
    assert report.stem_adapted and not report.head_reinitialised and "tensors loaded" in report.note()


def test_weights_that_do_not_fit_name_the_keys(tmp_path: Path) -> None:
    other = _save(create_model("timm/regnetx_002", in_channels=3, num_classes=5).state_dict(), tmp_path / "x.pt")
    with pytest.raises(ValueError, match=r"does not fit the model: missing from the file \(\d+\): conv1\.0\.weight"):
        create_model("timm/resnet10t", in_channels=3, num_classes=5, weights=other)
    with pytest.raises(ValueError, match="no such file"):
        create_model("timm/resnet10t", in_channels=3, num_classes=5, weights=tmp_path / "nothing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable PyTorch"):
        create_model("small_cnn", in_channels=3, num_classes=5, weights=tmp_path / "junk.pt")
    with pytest.raises(ValueError, match="holds no state dict"):
        create_model("small_cnn", in_channels=3, num_classes=5, weights=_save({"epoch": 3}, tmp_path / "e.pt"))
    with pytest.raises(ValueError, match="'hub' is for timm/ models"):
        create_model("small_cnn", in_channels=3, num_classes=5, weights="hub")


def test_hub_weights_without_a_network_give_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Offline mode makes huggingface_hub refuse at once (as a machine without a network does after retries).
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(ValueError, match=r"weights 'hub' for timm/resnet10t: .*give a weights file instead"):
        create_model("timm/resnet10t", in_channels=3, num_classes=5, weights="hub")


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("timm/resnet50x", {}, "unknown timm model 'timm/resnet50x'.*did you mean timm/resnet50"),
        ("resnet50", {}, r"use one of small_cnn, resnet18, or timm/<name> for a timm model"),
        ("timm/vit_tiny_patch16_224", {}, "timm/vit_tiny_patch16_224 has feature stages at fewer than two reductions"),
        ("timm/resnet10t", {"width": 16}, "timm/resnet10t has its own widths"),
        ("timm/botnet50ts_256", {"weights": "hub"}, "timm has no pretrained weights for timm/botnet50ts_256"),
        (
            "timm/mobilenetv3_small_100",
            {"drop_layer": create_regularizer("rblock_b", groups=5).drop_layer},
            "48 channels.*groups=5",
        ),
    ],
)
def test_clear_errors(name: str, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        create_model(name, in_channels=3, num_classes=5, **kwargs)  # type: ignore[arg-type]


def test_a_stage_without_feature_maps_is_named() -> None:
    hook = _DropSiteHook(nn.Identity(), "timm/swin_tiny_patch4_window7_224", FeatureStage("layers.0", 4, 96))
    with pytest.raises(ValueError, match=r"'layers\.0' gives \(2, 8, 8, 96\), not \(B, 96, H, W\)"):
        hook(nn.Identity(), (), torch.zeros(2, 8, 8, 96))  # timm's Swin stages are channels-last


def test_normalisation_of_pretrained_weights() -> None:
    assert model_normalisation("timm/resnet50") == IMAGENET
    assert model_normalisation("timm/vit_tiny_patch16_224") == ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    assert model_normalisation("small_cnn") is None


def test_train_run_takes_a_timm_model() -> None:
    """TrainConfig's model check (pilot_spec.models.model_problem) accepts timm/ names, and a run trains one."""
    config = TrainConfig(
        dataset="shapes",
        dataset_params={"n_train": 64, "n_test": 32},
        model="timm/resnet10t",
        arm="rblock_s",
        epochs=1,
        batch_size=32,
        device="cpu",
    )
    result = train_run(config)
    assert result.status == "succeeded" and result.final_metrics["consistency_kl"] > 0
    assert 0 < result.final_metrics["drop_rate"] < 1


def test_train_config_keeps_the_model_rules_of_the_api() -> None:
    from rblock.config import ConfigError, TrainConfig

    assert TrainConfig(model="timm/resnet10t", weights="hub").weights == "hub"
    with pytest.raises(ConfigError, match="width must be null for 'timm/resnet10t'"):
        TrainConfig(model="timm/resnet10t", width=8)
    with pytest.raises(ConfigError, match="weights hub weights exist only for timm/ models"):
        TrainConfig(model="small_cnn", weights="hub")
    with pytest.raises(ConfigError, match="model must be one of small_cnn, resnet18 or timm/<name>: unknown"):
        TrainConfig(model="resnet9000")
