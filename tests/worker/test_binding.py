"""A worker process is bound to one device through CUDA_VISIBLE_DEVICES, and reports itself while idle."""

from __future__ import annotations

import time
from typing import Any

import pytest

from worker.binding import BindingError, bind_process
from worker.presence import Presence


@pytest.mark.parametrize(
    ("env", "visible"),
    [
        ({"WORKER_DEVICE": "cuda:1"}, "1"),  # every GPU visible: cuda:N is physical GPU N
        ({"WORKER_DEVICE": "cuda:1", "CUDA_VISIBLE_DEVICES": "4,5"}, "5"),  # the N-th of those visible
        ({"WORKER_DEVICE": "cuda:0", "CUDA_VISIBLE_DEVICES": "GPU-abc, GPU-def"}, "GPU-abc"),
    ],
)
def test_cuda_n_narrows_the_visible_devices_to_one(env: dict[str, str], visible: str) -> None:
    bind_process(env)
    assert env["CUDA_VISIBLE_DEVICES"] == visible and env["WORKER_DEVICE"] == "cuda"
    bind_process(env)  # idempotent
    assert env["CUDA_VISIBLE_DEVICES"] == visible


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", ""])
def test_other_devices_leave_the_environment_alone(device: str) -> None:
    env = {"WORKER_DEVICE": device, "CUDA_VISIBLE_DEVICES": "2,3"}
    bind_process(env)
    assert env == {"WORKER_DEVICE": device, "CUDA_VISIBLE_DEVICES": "2,3"}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"WORKER_DEVICE": "cuda:2", "CUDA_VISIBLE_DEVICES": "0,1"}, "shows only 2 GPU"),
        ({"WORKER_DEVICE": "tpu"}, "auto, cpu, cuda or cuda:N"),
        ({"WORKER_DEVICE": "cuda:x"}, "auto, cpu, cuda or cuda:N"),
    ],
)
def test_an_impossible_device_is_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(BindingError, match=message):
        bind_process(env)


class RecordingStore:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def worker_seen(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)


def test_presence_reports_at_start_and_while_idle_only() -> None:
    store = RecordingStore()
    presence = Presence(
        store_factory=lambda: store,  # type: ignore[arg-type, return-value]
        name="w@h",
        host="h",
        device="cpu",
        queues=["cpu"],
        idle_every_s=0.2,
    )
    presence.start()
    try:
        time.sleep(0.7)
        idle_reports = len(store.calls)
        assert idle_reports >= 3 and all(call["current_run_id"] is None for call in store.calls)
        presence.report(7)  # a run started: from now on only its heartbeats report
        time.sleep(0.6)
        assert len(store.calls) == idle_reports + 1 and store.calls[-1]["current_run_id"] == 7
    finally:
        presence.stop()
