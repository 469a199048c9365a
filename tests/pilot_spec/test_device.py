"""The device grammar, one for the run configuration, the worker's binding and the service's --device."""

from __future__ import annotations

import pytest

from pilot_spec.device import DeviceRequest, device_kind, is_device, parse_device


@pytest.mark.parametrize(
    ("text", "request_"),
    [
        ("auto", DeviceRequest("auto")),
        ("cpu", DeviceRequest("cpu")),
        ("cuda", DeviceRequest("cuda")),
        ("cuda:0", DeviceRequest("cuda", 0)),
        ("cuda:12", DeviceRequest("cuda", 12)),
    ],
)
def test_requests_parse(text: str, request_: DeviceRequest) -> None:
    assert parse_device(text) == request_ and is_device(text)


@pytest.mark.parametrize("bad", ["tpu", "cuda:", "cuda:x", "cuda:-1", "cuda:²", "CPU", " cpu", "mps", 0, None])
def test_anything_else_is_refused_with_the_grammar(bad: object) -> None:
    with pytest.raises(ValueError, match=r"^--device must be auto, cpu, cuda or cuda:N \(got "):
        parse_device(bad, "--device")
    assert not is_device(bad)


def test_a_label_s_kind_is_before_the_colon() -> None:
    assert device_kind("cuda:NVIDIA H100 80GB HBM3") == "cuda"
    assert device_kind("cpu") == "cpu"
