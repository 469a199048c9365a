"""``python -m pilot_cli.uvicorn_main ...``: uvicorn's own command line, with Nagle's algorithm off on every
connection also under ``--workers N``.

Why: with one process uvicorn lets asyncio open the port, and asyncio sets ``TCP_NODELAY`` on each
connection. With ``--workers N`` uvicorn opens the port itself with ``socket.socket(family)``, whose
``proto`` is 0, and asyncio sets ``TCP_NODELAY`` only on sockets whose ``proto`` is ``IPPROTO_TCP`` (which
accepted sockets inherit). A response is written as its headers and then its body; with Nagle on, the body
waits for the client's delayed ACK of the headers: 40 ms added to every request (measured: a single client's
``GET /login`` took 44 ms with two workers against 1.1 ms with one). Here the same port is re-wrapped with
``proto = IPPROTO_TCP`` (the same file descriptor; only Python's record of it changes), and the processes
uvicorn starts receive it so (multiprocessing passes ``proto`` along).
"""

from __future__ import annotations

import socket
from typing import Any

import uvicorn.config
from uvicorn.main import main

_bind_socket = uvicorn.config.Config.bind_socket


def _bind_tcp_socket(config: Any) -> socket.socket:
    sock = _bind_socket(config)
    if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.proto == 0:
        return socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
    return sock


setattr(uvicorn.config.Config, "bind_socket", _bind_tcp_socket)  # noqa: B010 (a patch mypy would refuse)

if __name__ == "__main__":
    main()
