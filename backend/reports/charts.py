"""The report's charts as images from one Chromium kept open between reports, its tabs drawing them at once.

``plotly.io.to_image`` starts a Chromium (through kaleido 1.x and choreographer) for every chart: about 3 s
each on a 2-core machine, four times a report. Here one ``kaleido.Kaleido`` browser with ``TABS`` tabs lives
on an event loop in a daemon thread; a report hands it all its figures at once and kaleido's tab queue draws
them concurrently. The browser is found as kaleido finds it on its own (choreographer's search of the PATH:
Debian's /usr/bin/chromium here), so the images are those ``to_image`` drew.

Two more savings (docs/design.md §5, reports in seconds):
- kaleido reloads a tab after every chart, parsing plotly.js again: about half of each chart's time, and on
  the request's path (the reload finishes before the image is handed back). ``Plotly.toImage`` draws into a
  detached element it purges, so the page is clean without it; ``_TabKeepingKaleido`` reloads a tab every
  ``RELOAD_EVERY`` charts only, a bound on whatever a page might still gather. A failed draw restarts the
  whole browser (below), so a tab in a bad state is never reused.
- A chart is kept by its content (the figure, its size and format): a change to a pilot redraws the charts
  it changed and no others (a decision or a note changes none; a new point changes the curves).

Threads: the API renders reports on AnyIO's worker threads. Submitting coroutines to the loop is
thread-safe (``run_coroutine_threadsafe``); kaleido's queue of ready tabs serialises the tabs themselves,
so reports that arrive together share the tabs. ``_lock`` guards starting, restarting and closing.

A crashed browser (killed, out of memory) is noticed before a report (its process has exited) or by a failed
draw; it is closed and a new one started, and the draw is tried once more.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import hashlib
import json
import threading
from collections.abc import Coroutine, Sequence
from typing import Any, Literal, TypeVar

from backend.reports.cache import ReportCache

TABS = 4  # the report's four charts at once; more tabs only add memory on 2 cores
# These tell a hung or dead browser from a slow one, they are no latency goal: a chart takes about 1 s, but a 2-core
# machine whose cores are busy (training, a test suite) took over 30 s for the first charts of a fresh browser,
# and a report that fails there is worse than one that waits (the page says the PDF is being made).
DRAW_TIMEOUT_S = 90.0  # one chart (kaleido's own default)
START_TIMEOUT_S = 60.0


def longest_render_s(charts: int) -> float:
    """The most a ``render`` of ``charts`` charts can take before it fails: a start and two draws of all of them."""
    return START_TIMEOUT_S + 2 * DRAW_TIMEOUT_S * charts


RELOAD_EVERY = 50  # charts a tab draws between reloads
KEPT_CHARTS = 64  # charts kept by content: a dozen pilots' reports (100 kB each)
KEPT_BYTES = 16 * 1024 * 1024
ImageFormat = Literal["png", "jpeg", "svg"]
T = TypeVar("T")


class ChartsUnavailable(RuntimeError):
    """The charts could not be drawn (no browser, or it failed twice): the API answers 503, the CLI a message."""


def chart_key(figure: dict[str, Any], opts: dict[str, Any]) -> str:
    """What a chart is drawn from, hashed: the figure as plotly serialises it (numpy arrays included)."""
    from plotly.utils import PlotlyJSONEncoder

    text = json.dumps([figure, opts], cls=PlotlyJSONEncoder, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class ChartRenderer:
    """PNG bytes of plotly figures from one long-lived kaleido browser; ``launches`` counts browser starts."""

    def __init__(self, tabs: int = TABS) -> None:
        self._tabs = tabs
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._kaleido: Any = None  # kaleido.Kaleido once started
        self._kept = ReportCache(max_bytes=KEPT_BYTES, max_entries=KEPT_CHARTS)  # chart_key -> image
        self.launches = 0
        self.drawn = 0  # charts drawn by the browser (not served from those kept)

    def render(
        self,
        figures: Sequence[dict[str, Any]],
        *,
        width: int,
        height: int,
        scale: float,
        image_format: ImageFormat = "png",
    ) -> list[bytes]:
        """Each figure (a plotly figure dict) as image bytes, in order; those not kept are drawn concurrently."""
        opts = {"format": image_format, "width": width, "height": height, "scale": scale}
        keys = [chart_key(figure, opts) for figure in figures]
        found = {key: image for key in keys if (image := self._kept.get(key)) is not None}
        todo = {key: figure for key, figure in zip(keys, figures, strict=True) if key not in found}
        if todo:
            try:
                images = self._draw_all(list(todo.values()), opts)
            except Exception as error:
                raise ChartsUnavailable(
                    f"the report's charts could not be drawn ({type(error).__name__}: {error}); try again, and if "
                    "it persists check that Chromium is installed (Debian: apt-get install chromium)"
                ) from error
            drawn = dict(zip(todo, images, strict=True))
            for key, image in drawn.items():
                self._kept.put(key, image)
            with self._lock:
                self.drawn += len(drawn)
            found.update(drawn)
        return [found[key] for key in keys]

    def forget(self) -> None:
        """Drop the charts kept, so that the next ones are drawn."""
        self._kept.clear()

    def _draw_all(self, figures: Sequence[dict[str, Any]], opts: dict[str, Any]) -> list[bytes]:
        for attempt in (1, 2):
            kaleido = self._ensure_browser()
            try:
                return self._run(self._draw(kaleido, figures, opts), timeout=DRAW_TIMEOUT_S * len(figures))
            except Exception:
                if attempt == 2:
                    raise
                self._restart(kaleido)  # a browser that crashed mid-draw: a fresh one, then once more
        raise AssertionError("unreachable")

    def browser_pid(self) -> int | None:
        """The process id of the browser's process group leader (choreographer's wrapper), None if none runs."""
        kaleido = self._kaleido
        process = getattr(kaleido, "subprocess", None)
        return None if process is None or process.poll() is not None else int(process.pid)

    def close(self) -> None:
        """Close the browser and stop the loop's thread (at app shutdown; a later report starts them again)."""
        with self._lock:
            if self._kaleido is not None:
                self._close_browser(self._kaleido)
                self._kaleido = None
            if self._loop is not None and self._thread is not None:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join(timeout=10)
                self._loop.close()
            self._loop, self._thread = None, None

    @staticmethod
    async def _draw(kaleido: Any, figures: Sequence[dict[str, Any]], opts: dict[str, Any]) -> list[bytes]:
        return list(await asyncio.gather(*(kaleido.calc_fig(fig, opts=opts) for fig in figures)))

    def _run(self, coroutine: Coroutine[Any, Any, T], timeout: float) -> T:
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(timeout=timeout)
        except TimeoutError:
            future.cancel()  # the draw would go on holding the browser's tabs
            raise

    def _ensure_browser(self) -> Any:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._loop.run_forever, name="report-charts", daemon=True)
                self._thread.start()
            if self._kaleido is not None and self.browser_pid() is None:  # it died since the last report
                self._close_browser(self._kaleido)
                self._kaleido = None
            if self._kaleido is None:
                self._kaleido = self._run(self._open(), timeout=START_TIMEOUT_S)
                self.launches += 1
            return self._kaleido

    async def _open(self) -> Any:
        # mathjax=False: the charts have no LaTeX, and kaleido's default fetches MathJax from a CDN.
        browser = _tab_keeping_kaleido()(n=self._tabs, timeout=DRAW_TIMEOUT_S, mathjax=False)
        await browser.open()
        return browser

    def _restart(self, failed: Any) -> None:
        with self._lock:
            if self._kaleido is failed:  # another thread may have restarted it already
                self._close_browser(failed)
                self._kaleido = None

    def _close_browser(self, kaleido: Any) -> None:
        # A dead browser may fail to close: its process group has gone anyway.
        with contextlib.suppress(Exception):
            self._run(kaleido.close(), timeout=15)


def _tab_keeping_kaleido() -> type[Any]:
    """kaleido.Kaleido that reloads a tab every RELOAD_EVERY charts instead of after each (see the top).

    ``_return_kaleido_tab`` is where kaleido 1.x reloads a tab before queueing it again (the test suite checks
    the installed kaleido still has it; without it, kaleido's own reload after every chart applies: slower,
    never wrong).
    """
    import kaleido

    class _TabKeepingKaleido(kaleido.Kaleido):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.charts_per_tab: dict[int, int] = {}
            self.reloads = 0

        async def _return_kaleido_tab(self, tab: Any) -> None:
            drawn = self.charts_per_tab.get(id(tab), 0) + 1
            self.charts_per_tab[id(tab)] = drawn % RELOAD_EVERY
            if drawn == RELOAD_EVERY:
                self.reloads += 1
                await tab.reload()
            await self.tabs_ready.put(tab)

    return _TabKeepingKaleido


RENDERER = ChartRenderer()
# The CLI (``rblock-pilot report``) has no lifespan: close the browser when the process exits.
atexit.register(RENDERER.close)
