"""The production compose file is valid (``docker-compose config``), says what docs/design.md §6 asks, and opens no
door: it refuses to start without its secrets, has no default password, and keeps flower on 127.0.0.1.

Debian's ``docker-compose`` (Compose v1.29) validates offline, with no Docker engine; CI installs it
(``.ci/run``). Where the binary is missing locally the test is skipped with the command that installs it.
Each run passes its own environment and an empty ``--env-file``, so an operator's ``.env`` or shell
variables never leak into the result.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
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


# The secrets compose must refuse to start without. Values are URL-safe, as .env.example asks.
SECRETS = {
    "POSTGRES_PASSWORD": "pg-secret-5f1c",
    "REDIS_PASSWORD": "redis-secret-9a7e",
    "FLOWER_BASIC_AUTH": "ops:flower-secret-3b2d",
}


def compose(*args: str, env: Mapping[str, str] = SECRETS) -> subprocess.CompletedProcess[str]:
    assert COMPOSE is not None
    clean = {key: value for key, value in os.environ.items() if key not in SECRETS}
    return subprocess.run(
        [
            COMPOSE,
            "--project-directory",
            str(ROOT),
            "--env-file",
            str(_empty_env_file()),
            "-f",
            str(ROOT / "docker-compose.yml"),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**clean, **env},
    )


@functools.cache
def _empty_env_file() -> Path:
    # Compose v1 wants a regular file (not /dev/null); an empty one replaces the project's .env.
    path = Path(tempfile.mkdtemp(prefix="rblock-compose-")) / "empty.env"
    path.write_text("")
    return path


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    result = compose("--profile", "cpu", "config")
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = yaml.safe_load(result.stdout)
    return parsed


def test_compose_config_is_valid() -> None:
    result = compose("config", "-q")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("missing", sorted(SECRETS))
@pytest.mark.parametrize("how", ["unset", "empty"])
def test_compose_refuses_to_start_without_each_secret(missing: str, how: str) -> None:
    env = {key: value for key, value in SECRETS.items() if key != missing}
    if how == "empty":
        env[missing] = ""
    result = compose("config", "-q", env=env)
    assert result.returncode != 0
    # One message that names the variable to set.
    assert f"set {missing}" in result.stderr, result.stderr


def test_no_service_has_a_default_password() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    secret_defaults = re.findall(r"\$\{(\w*(?:PASSWORD|AUTH|SECRET|TOKEN)\w*):?-", text)
    assert secret_defaults == [], f"default values for secrets: {secret_defaults}"
    for name in SECRETS:
        uses = re.findall(r"\$\{" + name + r"(\W[^}]*)?\}", text)
        assert uses and all(use.startswith(":?") for use in uses), (name, uses)


def test_the_secrets_reach_every_service_that_needs_them(config: dict[str, Any]) -> None:
    services = config["services"]
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == SECRETS["POSTGRES_PASSWORD"]
    redis = services["redis"]["command"]
    assert redis[redis.index("--requirepass") + 1] == SECRETS["REDIS_PASSWORD"]
    assert services["flower"]["environment"]["FLOWER_BASIC_AUTH"] == SECRETS["FLOWER_BASIC_AUTH"]
    for name in ("api", "worker", "worker-cpu"):
        url = services[name]["environment"]["DATABASE_URL"]
        assert f"pilot:{SECRETS['POSTGRES_PASSWORD']}@postgres:5432/" in url, (name, url)


def test_every_broker_url_carries_the_redis_password(config: dict[str, Any]) -> None:
    urls = list(_redis_urls(config["services"]))
    # api, worker, worker-cpu and flower: every client of Redis.
    assert {service for service, _ in urls} >= {"api", "worker", "worker-cpu", "flower"}
    for service, url in urls:
        assert url.startswith(f"redis://:{SECRETS['REDIS_PASSWORD']}@redis:6379/"), (service, url)


def test_flower_is_not_published_on_every_interface(config: dict[str, Any]) -> None:
    flower = config["services"]["flower"]
    for port in flower.get("ports", []):
        if isinstance(port, dict):
            host_ip = port.get("host_ip", "")
        else:  # "127.0.0.1:5555:5555/tcp"
            parts = str(port).split(":")
            host_ip = parts[0] if len(parts) == 3 else ""
        assert host_ip == "127.0.0.1", port


def test_the_api_gets_the_proxy_trust_setting_empty_by_default(config: dict[str, Any]) -> None:
    assert config["services"]["api"]["environment"]["TRUSTED_PROXIES"] == ""
    result = compose("config", env={**SECRETS, "TRUSTED_PROXIES": "10.0.0.5"})
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout)["services"]["api"]["environment"]["TRUSTED_PROXIES"] == "10.0.0.5"


def test_api_and_workers_check_that_they_share_the_artifact_store(config: dict[str, Any]) -> None:
    for name in ("api", "worker", "worker-cpu"):
        assert config["services"][name]["environment"]["SHARED_ARTIFACTS"] == "true"


def test_the_api_image_has_a_pg_dump_as_new_as_the_server(config: dict[str, Any]) -> None:
    server = config["services"]["postgres"]["image"]
    dockerfile = (ROOT / "docker" / "api.Dockerfile").read_text()
    match = re.search(r"^ARG PG_MAJOR=(\d+)$", dockerfile, re.MULTILINE)
    assert match and server == f"postgres:{match.group(1)}", (server, match)
    assert '"postgresql-client-${PG_MAJOR}"' in dockerfile


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
    assert services["api"]["environment"]["BROKER_URL"].startswith("redis://:")


def test_the_api_image_has_no_torch_and_the_worker_image_has_cuda_torch() -> None:
    api = (ROOT / "docker" / "api.Dockerfile").read_text()
    worker = (ROOT / "docker" / "worker.Dockerfile").read_text()
    assert "FROM python:3.11-slim" in api and '".[api]"' in api and "torch==" not in api
    assert "torch==" in worker and '".[train,api]"' in worker


def _redis_urls(services: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Every ``redis://`` URL in any service's environment or command, with the service's name."""
    for name, service in services.items():
        environment = service.get("environment") or {}
        words = [str(value) for value in environment.values()] + [str(word) for word in service.get("command") or []]
        for word in words:
            for url in re.findall(r"redis://\S+", word):
                yield name, url


def _volumes(service: dict[str, Any]) -> list[str]:
    out = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):  # the long syntax
            out.append(f"{volume.get('source')}:{volume['target']}")
        else:
            out.append(str(volume))
    return out
