"""The launcher's pieces that need no processes: embedded defaults, GPU detection, argument errors.

The processes themselves (``up``, ``api``, ``worker``) are tested end to end in ``tests/e2e``.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from pilot_cli.service import (
    MAX_DEFAULT_API_WORKERS,
    api_command,
    default_api_workers,
    embedded_defaults,
    gpu_present,
    main,
)


def test_embedded_defaults_live_under_the_data_dir(tmp_path: Path) -> None:
    defaults = embedded_defaults({}, tmp_path)
    assert defaults["DATABASE_URL"] == f"sqlite:///{tmp_path}/pilot.db"
    assert defaults["BROKER_URL"] == f"sqla+sqlite:///{tmp_path}/broker.db"
    assert defaults["ARTIFACT_DIR"] == str(tmp_path / "artifacts")
    assert defaults["DATA_ROOT"] == str(tmp_path / "data")  # datasets and uploads (<DATA_ROOT>/uploads)


def test_the_environment_wins_over_the_embedded_defaults(tmp_path: Path) -> None:
    env = {"DATABASE_URL": "postgresql+psycopg://u@db/pilot", "BROKER_URL": "redis://r:6379/0", "DATA_ROOT": "/d"}
    defaults = embedded_defaults(env, tmp_path)
    assert "DATABASE_URL" not in defaults and "BROKER_URL" not in defaults and "DATA_ROOT" not in defaults
    assert defaults["ARTIFACT_DIR"] == str(tmp_path / "artifacts")


@pytest.mark.parametrize("visible", ["", "-1", "none"])
def test_hidden_gpus_are_not_present(visible: str) -> None:
    assert gpu_present({"CUDA_VISIBLE_DEVICES": visible}) is False


def test_a_bad_device_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main("worker", ["--device", "tpu:0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["rblock-pilot: --device must be auto, cpu, cuda or cuda:N (got 'tpu:0')"]


def test_unknown_service_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main("deploy", []) == 2
    assert "unknown service command" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["up", "api", "worker"])
def test_help_exits_0(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(command, ["--help"])
    assert exit_info.value.code == 0
    assert f"rblock-pilot {command}" in capsys.readouterr().out


def test_api_workers_reach_uvicorn_and_up_picks_them_for_the_cores() -> None:
    assert "--workers" not in api_command("127.0.0.1", 8000, "")
    command = api_command("127.0.0.1", 8000, "", workers=3)
    assert command[command.index("--workers") + 1] == "3"
    assert 1 <= default_api_workers() <= MAX_DEFAULT_API_WORKERS


@pytest.mark.parametrize("count", ["0", "two", "65"])
def test_a_bad_worker_count_is_one_line_and_exit_2(count: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main("api", ["--workers", count])
    assert stopped.value.code == 2
    assert f"--workers wants a whole number from 1 to 64, not '{count}'" in capsys.readouterr().err


def test_the_api_port_takes_tcp_nodelay_under_several_workers() -> None:
    """Under --workers uvicorn opens the port itself; the launcher gives it the TCP proto asyncio needs to turn
    Nagle's algorithm off on each connection (without it every response waited 40 ms for a delayed ACK)."""
    import uvicorn.config

    import pilot_cli.uvicorn_main  # noqa: F401 (patches uvicorn's Config.bind_socket)

    config = uvicorn.config.Config("pilot_cli.webapp:serve_app", factory=True, host="127.0.0.1", port=0, workers=2)
    sock = config.bind_socket()
    try:
        assert sock.proto == socket.IPPROTO_TCP
        sock.listen()
        with socket.create_connection(sock.getsockname()) as _client:
            accepted, _ = sock.accept()
            with accepted:
                assert accepted.proto == socket.IPPROTO_TCP  # what asyncio checks before setting TCP_NODELAY
    finally:
        sock.close()
    assert api_command("127.0.0.1", 8000, "", workers=2)[2] == "pilot_cli.uvicorn_main"
