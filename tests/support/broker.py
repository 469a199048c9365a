"""Helpers for the queue tests: the messages waiting on a real broker, read as a worker reads them."""

from __future__ import annotations

from backend.queue import QueueClient


def received(client: QueueClient, queue: str) -> list[tuple[str, list[int]]]:
    """Read the waiting messages of a queue as a worker would see them: task name and arguments."""
    out = []
    with client.app.connection_for_read() as connection:
        channel = connection.default_channel
        while (message := channel.basic_get(queue, no_ack=True)) is not None:
            args, _kwargs, _embed = message.decode()
            out.append((message.headers["task"], args))
    return out
