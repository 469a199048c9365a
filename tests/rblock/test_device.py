"""Device choice and cost metering on this (CPU) machine."""

from __future__ import annotations

import sys

import pytest
import torch

from rblock.device import CostMeter, DeviceError, device_name, resolve_device, tune_cpu_allocator


def test_auto_and_cpu() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu") == torch.device("cpu")
    assert device_name(torch.device("cpu")) == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_says_so() -> None:
    with pytest.raises(DeviceError, match="no CUDA GPU: use auto or cpu"):
        resolve_device("cuda:0")


def test_cpu_meter_reports_process_peak_memory_and_no_energy() -> None:
    meter = CostMeter(torch.device("cpu"))
    meter.sample_power()
    assert meter.energy_joules is None
    assert meter.peak_memory_bytes() > 10 * 2**20


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_allocator_tuning_takes_effect_on_glibc() -> None:
    assert tune_cpu_allocator() is True
