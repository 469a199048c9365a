"""The production compose file is valid (``docker-compose config -q``) and says what DESIGN §6 asks.

Debian's ``docker-compose`` (Compose v1.29) validates offline, with no Docker engine; CI installs it
(``.ci/run``). Where the binary is missing locally the test is skipped with the command that installs it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = shutil.which("docker-compose")

pytestmark = pytest.mark.skipif(
    COMPOSE is None,
    reason="docker-compose is not installed here: apt-get install -y --no-install-recommends docker-compose "
    "(CI installs it)",
)


def compose(*args: str) -> subprocess.CompletedProcess[str]:
    assert COMPOSE is not None
    return subprocess.run(
        [COMPOSE, "--project-directory", str(ROOT), "-f", str(ROOT / "docker-compose.yml"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    result = compose("--profile", "cpu", "config")
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = yaml.safe_load(result.stdout)
    return parsed


def test_compose_config_is_valid() -> None:
    result = compose("config", "-q")
    assert result.returncode == 0, result.stderr


def test_every_service_is_there(config: dict[str, Any]) -> None:
    assert {"postgres", "redis", "api", "worker", "flower"} <= set(config["services"])


def test_redis_keeps_an_append_only_file_on_a_volume(config: dict[str, Any]) -> None:
    redis = config["services"]["redis"]
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert any(str(volume).split(":")[1] == "/data" for volume in _volumes(redis))


def test_postgres_keeps_its_data_on_a_volume(config: dict[str, Any]) -> None:
    assert any("/var/lib/postgresql/data" in volume for volume in _volumes(config["services"]["postgres"]))


def test_the_worker_reserves_an_nvidia_gpu_and_shares_the_artifacts(config: dict[str, Any]) -> None:
    worker = config["services"]["worker"]
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert devices and devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    artifacts = worker["environment"]["ARTIFACT_DIR"]
    assert any(volume.split(":")[1] == artifacts for volume in _volumes(worker))
    assert any(volume.split(":")[1] == artifacts for volume in _volumes(config["services"]["api"]))
    assert worker["command"][:2] == ["rblock-pilot", "worker"] and "gpu" in worker["command"]


def test_api_and_workers_share_one_database_and_broker(config: dict[str, Any]) -> None:
    services = config["services"]
    for key in ("DATABASE_URL", "BROKER_URL"):
        values = {services[name]["environment"][key] for name in ("api", "worker", "worker-cpu")}
        assert len(values) == 1, (key, values)
    assert services["api"]["environment"]["DATABASE_URL"].startswith("postgresql+psycopg://")
    assert services["api"]["environment"]["BROKER_URL"].startswith("redis://redis:6379")


def test_the_api_image_has_no_torch_and_the_worker_image_has_cuda_torch() -> None:
    api = (ROOT / "docker" / "api.Dockerfile").read_text()
    worker = (ROOT / "docker" / "worker.Dockerfile").read_text()
    assert "FROM python:3.11-slim" in api and '".[api]"' in api and "torch==" not in api
    assert "torch==" in worker and '".[train,api]"' in worker


def _volumes(service: dict[str, Any]) -> list[str]:
    out = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):  # the long syntax
            out.append(f"{volume.get('source')}:{volume['target']}")
        else:
            out.append(str(volume))
    return out
