"""Reports in seconds (issue 13 §3): a repeated report comes from the cache byte for byte, any change to the
pilot gives a fresh one, and the charts' Chromium is reused between reports and restarted once killed."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import pytest

from backend.reports.cache import REPORTS, ReportCache, report_key
from backend.reports.charts import RELOAD_EVERY, RENDERER, ChartRenderer
from backend.store.entities import RunStatus
from tests.support.api import API, Api, create_pilot, finish, open_api, start
from tests.support.chromium import CHROMIUM

PNG = b"\x89PNG\r\n\x1a\n"
needs_browser = pytest.mark.skipif(
    shutil.which("pdftotext") is None or not Path(CHROMIUM).exists(), reason="needs poppler and chromium"
)


def test_the_cache_drops_the_least_recently_used_past_its_size() -> None:
    cache = ReportCache(max_bytes=10, max_entries=3)
    cache.put("a", b"12345")
    cache.put("b", b"1234")
    assert cache.get_or_make("a", lambda: b"never") == b"12345"  # a is now the most recent
    cache.put("c", b"123")  # 12 bytes: b, the least recent, goes
    assert cache.get_or_make("b", lambda: b"made") == b"made" and len(cache) == 2  # a went to make room for b
    cache.put("huge", b"x" * 11)  # larger than the whole cache: not kept
    assert cache.get_or_make("huge", lambda: b"again") == b"again"


def test_the_key_covers_every_input_and_ignores_key_order() -> None:
    base = report_key(format="pdf", summary={"a": 1, "b": [1.0, float("nan")]}, decisions=[])
    assert base == report_key(decisions=[], summary={"b": [1.0, None], "a": 1}, format="pdf")  # NaN is null
    assert base != report_key(format="html", summary={"a": 1, "b": [1.0, None]}, decisions=[])
    assert base != report_key(format="pdf", summary={"a": 1, "b": [1.0, None]}, decisions=[{"id": 1}])


@pytest.fixture
def running(sqlite_url: str) -> Iterator[tuple[Api, int, int]]:
    """A pilot with every run finished but the last, which is training: (api, pilot id, running run id)."""
    with open_api(sqlite_url) as api:
        pilot = create_pilot(api)
        *done, last = pilot["runs"]
        for index, run in enumerate(done):
            finish(api.store, run["id"], points=[("test_acc", 1, 0.90 + 0.01 * index)])
        start(api.store, last["id"])
        api.store.write_points(run_id=last["id"], points=[("test_acc", 1, 0.91)])
        yield api, pilot["id"], last["id"]


def _report(api: Api, pilot_id: int, fmt: str = "pdf") -> bytes:
    response = api.client.get(f"{API}/pilots/{pilot_id}/report.{fmt}")
    assert response.status_code == 200, response.text
    content: bytes = response.content
    return content


def _text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    raw = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return " ".join(raw.split())


@needs_browser
def test_a_repeated_report_is_the_cached_bytes(running: Any) -> None:
    api, pilot_id, _ = running
    REPORTS.clear()
    first = _report(api, pilot_id)
    misses, hits = REPORTS.misses, REPORTS.hits
    assert _report(api, pilot_id) == first and (REPORTS.misses, REPORTS.hits) == (misses, hits + 1)
    html = _report(api, pilot_id, "html")
    assert _report(api, pilot_id, "html") == html and REPORTS.hits == hits + 2


@needs_browser
def test_any_change_to_the_pilot_gives_a_fresh_pdf_from_the_same_browser(running: Any, tmp_path: Path) -> None:
    api, pilot_id, run_id = running
    REPORTS.clear()
    RENDERER.forget()  # the charts are drawn, so the browser runs (an earlier test's API closed it)
    seen = {_report(api, pilot_id)}
    launches = RENDERER.launches
    changes = {
        "a new point": lambda: api.store.write_points(run_id=run_id, points=[("test_acc", 2, 0.93)]),
        "an ROI edit": lambda: api.client.put(
            f"{API}/pilots/{pilot_id}/roi",
            json={"predictions_per_year": 7.5e6, "cost_per_error": 0.25, "retrains_per_year": 4},
        ).raise_for_status(),
        "a decision": lambda: api.client.post(
            f"{API}/pilots/{pilot_id}/decision", json={"decision": "defer", "arm": "rblock_s", "note": "cache check"}
        ).raise_for_status(),
        "a run's status": lambda: api.store.finish_run(
            run_id=run_id, status=RunStatus.SUCCEEDED, cost={"device_hours": 0.5}, final_metrics={"test_acc": 0.94}
        ),
    }
    for change, make in changes.items():
        misses = REPORTS.misses
        make()
        pdf = _report(api, pilot_id)
        assert REPORTS.misses == misses + 1 and pdf not in seen, f"{change} served the PDF from before it"
        seen.add(pdf)
        if change == "a decision":
            assert "“cache check”" in _text(pdf, tmp_path)
    assert RENDERER.launches == launches  # four fresh PDFs, one browser


def _figure(y: list[float]) -> dict[str, Any]:
    return go.Figure(go.Scatter(x=list(range(len(y))), y=y)).to_dict()


def _png(renderer: ChartRenderer, figures: list[dict[str, Any]]) -> list[bytes]:
    return renderer.render(figures, width=300, height=200, scale=1, image_format="png")


@needs_browser
def test_a_killed_browser_is_restarted_and_threads_share_one() -> None:
    renderer = ChartRenderer(tabs=2)
    try:
        assert _png(renderer, [_figure([3, 1, 2])])[0].startswith(PNG)
        pid = renderer.browser_pid()
        assert pid is not None and renderer.launches == 1
        os.killpg(pid, signal.SIGKILL)  # choreographer starts the browser in a session of its own
        pngs = _png(renderer, [_figure([1, 1, 2]), _figure([1, 2, 2])])
        assert all(png.startswith(PNG) for png in pngs) and renderer.launches == 2
        assert renderer.browser_pid() not in (None, pid)
        # Reports on the API's worker threads at once: one browser, its tabs shared.
        with ThreadPoolExecutor(3) as pool:
            results = list(pool.map(lambda n: _png(renderer, [_figure([n, 2, n + 1]) for _ in range(3)]), [5, 6, 7]))
        assert all(png.startswith(PNG) for pngs in results for png in pngs) and renderer.launches == 2
    finally:
        renderer.close()
    assert renderer.browser_pid() is None


@needs_browser
def test_a_chart_is_drawn_once_per_content_and_kept_tabs_draw_it_alike() -> None:
    """An unchanged chart comes from those kept; tabs reused without a reload draw what a fresh tab draws."""
    import kaleido

    assert hasattr(kaleido.Kaleido, "_return_kaleido_tab"), "kaleido moved its tab reload: see charts.py"
    renderer = ChartRenderer(tabs=1)
    try:
        first = _png(renderer, [_figure([1, 3, 2]), _figure([2, 2, 3])])
        assert renderer.drawn == 2
        again = _png(renderer, [_figure([2, 2, 3]), _figure([1, 3, 2]), _figure([9, 8, 9])])
        assert again[:2] == first[::-1] and renderer.drawn == 3  # only the new figure was drawn
        jpeg = renderer.render([_figure([1, 3, 2])], width=300, height=200, scale=1, image_format="jpeg")[0]
        assert jpeg.startswith(b"\xff\xd8\xff") and renderer.drawn == 4  # the format is part of what is kept
        # One tab drew every chart above without a reload; RELOAD_EVERY charts later it reloads once.
        assert renderer._kaleido.reloads == 0
        _png(renderer, [_figure([n, 0, 1]) for n in range(RELOAD_EVERY - 4)])
        assert renderer._kaleido.reloads == 1
        renderer.forget()
        assert _png(renderer, [_figure([1, 3, 2])])[0] == first[0]  # drawn again in the reused tab: same bytes
    finally:
        renderer.close()


def test_the_pdf_fetches_only_its_charts_and_a_failed_draw_fails_the_report(
    running: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from concurrent.futures import Future

    from backend.analysis.service import analyse_pilot
    from backend.reports import render

    drawn: Future[list[tuple[str, bytes]]] = Future()
    drawn.set_result([("roi", b"\xff\xd8\xff")])
    fetcher = render._chart_fetcher(drawn)
    assert fetcher.fetch("chart:roi").read() == b"\xff\xd8\xff"
    for url in ("file:///etc/passwd", "http://169.254.169.254/", "data:image/png;base64,AAAA"):
        with pytest.raises(ValueError, match="only its charts"):
            fetcher.fetch(url)

    def broken(*_: Any) -> list[tuple[str, bytes]]:
        raise RuntimeError("chromium is gone")

    api, pilot_id, _ = running
    REPORTS.clear()
    monkeypatch.setattr(render, "chart_images", broken)
    with pytest.raises(RuntimeError, match="chromium is gone"):
        summary = analyse_pilot(api.store, pilot_id, {}, render.REPORT_CURVES)
        render.render_pdf(summary, api.store.get_pilot(pilot_id=pilot_id), api.store.list_runs(pilot_id=pilot_id))
    # The browser failing (twice: it is restarted once) is a 503 that says what to do, not a 500.
    monkeypatch.undo()
    RENDERER.forget()
    monkeypatch.setattr(ChartRenderer, "_draw_all", broken)
    response = api.client.get(f"{API}/pilots/{pilot_id}/report.pdf")
    assert response.status_code == 503 and "charts could not be drawn" in response.json()["detail"]
