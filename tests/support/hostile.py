"""Hostile input: text that breaks out of HTML unless escaped, a pilot made of it, a check that a page
escaped it, and bodies posted straight to the ASGI app (endless ones included)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

from tests.support.api import Api, create_pilot, finish

# Text that breaks out of HTML if it is not escaped, in an element and in an attribute.
SCRIPT = "<script>alert(1)</script>"
PROBE = "<xss-probe onclick=alert(2)>"
QUOTES = '"quotes\' & ampersands" onmouseover="alert(3)'
RTL = "مرحبا بالعالم שלום"
EMOJI = "🧪🚀"
COMBINING = "e\u0301 n\u0303 a\u0308"  # é ñ ä, each written as a letter and a combining mark
NAME = f"{SCRIPT}{PROBE} {QUOTES} {RTL} {EMOJI} {COMBINING}"
DESCRIPTION = f"Why: {SCRIPT} & {QUOTES}\n{RTL} {EMOJI} {COMBINING}"
BASE_ARM = f"base {RTL} {EMOJI}"
OTHER_ARM = f"{SCRIPT}\"q' & {COMBINING}"


def hostile_pilot(api: Api) -> dict[str, Any]:
    """A pilot whose every free-text field holds markup, quotes, RTL text, emoji and combining marks; its
    runs finished, so that reports have numbers and charts."""
    pilot = create_pilot(
        api,
        name=NAME,
        description=DESCRIPTION,
        arms=[{"name": BASE_ARM, "regularizer": "none"}, {"name": OTHER_ARM, "regularizer": "rblock_s"}],
        baseline_arm=BASE_ARM,
    )
    for index, run in enumerate(pilot["runs"]):
        finish(api.store, run["id"], points=[("test_acc", 1, 0.5 + index / 100), ("test_acc", 2, 0.8 + index / 100)])
    return pilot


class Page(HTMLParser):
    """What a browser would build from a page: its elements, attributes, text and script bodies."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[str] = []
        self.attribute_values: list[tuple[str, str | None]] = []
        self.text: list[str] = []
        self.scripts: list[str] = []
        self._raw: str | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend(name for name, _ in attrs)
        self.attribute_values.extend(attrs)
        if tag in ("script", "style"):
            self._raw = tag
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == self._raw:
            self._raw = None

    def handle_data(self, data: str) -> None:
        if self._raw is not None:
            self.scripts[-1] += data
        else:
            self.text.append(data)

    @property
    def visible(self) -> str:
        return "".join(self.text)


def assert_escaped(html: str, *shown: str) -> Page:
    """No markup from the input became markup, and each of ``shown`` reads as typed in the page's text."""
    page = Page(html)
    assert "xss-probe" not in page.tags
    assert not [name for name in page.attributes if name.startswith("on")], "an event handler attribute got in"
    assert "alert(1)" not in [script.strip() for script in page.scripts], "a script element got in"
    for text in shown:
        assert text in page.visible, text
    return page


def asgi_post(app: Any, path: str, headers: dict[str, str], chunks: Iterator[bytes]) -> tuple[int, Any, int]:
    """POST straight to the ASGI app, body from ``chunks`` read on demand: (status, JSON body, chunks read)."""
    pulled = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += 1
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(body), pulled


def endless(size: int = 65536) -> Iterator[bytes]:
    """Chunks of ``size`` spaces, without end: a body that never finishes."""
    while True:
        yield b" " * size
