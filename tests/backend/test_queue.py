"""The queue client on real brokers: kombu's SQLAlchemy transport (the embedded default) and Redis."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from backend.queue import QUEUES, TASK_NAME, QueueClient, QueueUnavailable, celery_config, make_celery, resolve_queue
from backend.settings import Settings
from tests.support.broker import received

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(autouse=True)
def in_tmp_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Settings() makes the folder of its default SQLite files: keep it out of the checkout."""
    monkeypatch.chdir(tmp_path)


def test_task_name_is_the_contract_with_the_worker() -> None:
    assert TASK_NAME == "rblock_pilot.train_run"
    assert QUEUES == ("gpu", "cpu")


def test_celery_config_for_long_runs(tmp_path: Path) -> None:
    config = celery_config(Settings(broker_url=f"sqla+sqlite:///{tmp_path}/b.db"))
    assert config["broker_url"] == f"sqla+sqlite:///{tmp_path}/b.db"
    assert config["task_acks_late"] and config["task_reject_on_worker_lost"] and config["task_ignore_result"]
    assert config["worker_prefetch_multiplier"] == 1 and config["task_default_queue"] == "cpu"
    assert config["broker_transport_options"] == {"connect_args": {"timeout": 30}}  # create_engine's arguments
    redis = celery_config(Settings(broker_url="redis://127.0.0.1:6379/0"))["broker_transport_options"]
    assert redis["visibility_timeout"] >= 24 * 3600
    assert config["broker_connection_retry_on_startup"] is True
    assert make_celery(Settings()).tasks.get(TASK_NAME) is None  # no task code on the sending side


def _worker(device: str, queues: list[str]) -> SimpleNamespace:
    return SimpleNamespace(device=device, queues=queues)


def test_resolve_queue() -> None:
    assert resolve_queue("cpu", [_worker("cuda:H100", ["gpu"])]) == "cpu"
    assert resolve_queue("gpu", []) == "gpu"
    assert resolve_queue("auto", []) == "cpu"
    assert resolve_queue("auto", [_worker("cpu", ["cpu"])]) == "cpu"
    assert resolve_queue("auto", [_worker("cuda:H100", ["cpu"])]) == "cpu"  # a GPU box serving the cpu queue
    assert resolve_queue("auto", [_worker("cpu", ["cpu"]), _worker("cuda:NVIDIA H100", ["gpu"])]) == "gpu"


def test_enqueue_by_name_on_the_embedded_sqlalchemy_broker(tmp_path: Path) -> None:
    client = QueueClient(Settings(broker_url=f"sqla+sqlite:///{tmp_path}/broker.db"))
    try:
        assert client.depths() == {"gpu": 0, "cpu": 0}
        client.enqueue(1, "cpu")
        client.enqueue(2, "cpu")
        client.enqueue(3, "gpu")
        assert client.depths() == {"gpu": 1, "cpu": 2}
        assert received(client, "cpu") == [(TASK_NAME, [1]), (TASK_NAME, [2])]
        assert client.depths() == {"gpu": 1, "cpu": 0}
        with pytest.raises(ValueError, match="queue must be one of gpu, cpu"):
            client.enqueue(4, "tpu")
    finally:
        client.close()


@pytest.fixture
def redis_client() -> Iterator[QueueClient]:
    """A client on the real Redis, with keys under a prefix of this test's own (other tests share the server)."""
    redis = pytest.importorskip("redis")
    server = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        server.ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}: {error}")
    prefix = f"test_{uuid.uuid4().hex[:10]}:"
    settings = Settings(broker_url=REDIS_URL)
    app = make_celery(settings)
    app.conf.broker_transport_options = {**app.conf.broker_transport_options, "global_keyprefix": prefix}
    client = QueueClient(settings, app=app)
    try:
        yield client
    finally:
        client.close()
        keys = list(server.scan_iter(match=f"{prefix}*"))
        if keys:
            server.delete(*keys)
        server.close()


def test_enqueue_and_depths_on_redis(redis_client: QueueClient) -> None:
    redis_client.enqueue(7, "gpu")
    redis_client.enqueue(8, "gpu")
    redis_client.enqueue(9, "cpu")
    assert redis_client.depths() == {"gpu": 2, "cpu": 1}
    assert received(redis_client, "gpu") == [(TASK_NAME, [7]), (TASK_NAME, [8])]


def test_an_unreachable_broker_is_one_clear_error() -> None:
    client = QueueClient(Settings(broker_url="redis://:secret@127.0.0.1:1/0"))  # nothing listens on port 1
    try:
        started = time.monotonic()
        with pytest.raises(QueueUnavailable) as raised:
            client.enqueue(1, "cpu")
        assert "did not take run 1" in str(raised.value) and "secret" not in str(raised.value)
        assert client.depths() == {"gpu": None, "cpu": None}
        assert time.monotonic() - started < 30
    finally:
        client.close()
