"""Metric points in the API's long format: chosen keys, downsampled series, and non-finite values.

JSON has no NaN or infinity, yet a diverging run produces them and they must reach the dashboard. Each
point is ``{"run_id", "key", "epoch", "value", "nonfinite"}``: ``value`` is a number, or null when the
value is not finite, and then ``nonfinite`` says which (``"NaN"``, ``"Infinity"``, ``"-Infinity"``).
A chart library draws null as a gap, and a client that needs the exact value reads ``nonfinite``.

Downsampling keeps at most ``max_points`` points of each (run, key) series, evenly strided by position,
always the first and the last (the final value is the one a comparison reads).

The points are read as whole series (``metric_series``: a row per run and key) and the body is written
directly as JSON rather than through pydantic models: a whole pilot has tens of thousands of points, and
validating each as a model would dominate the response time. ``format=columns`` gives the same table by
column (what the dashboard reads), which the C JSON encoder writes several times faster than rows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from backend.store import MetricSeries, MetricSeriesJson
from backend.store.entities import NONFINITE_NAMES

MAX_KEYS = 100
_ANY_FLAG = re.compile(r"[123]")
MAX_KEY_LENGTH = 200


def parse_keys(raw: str | None) -> list[str] | None:
    """``"a,b"`` -> ``["a", "b"]`` (None for all keys); raise ``ValueError`` naming what is allowed."""
    if raw is None:
        return None
    keys = list(dict.fromkeys(k.strip() for k in raw.split(",") if k.strip()))
    if not keys:
        return None
    if len(keys) > MAX_KEYS:
        raise ValueError(f"at most {MAX_KEYS} comma-separated metric names (got {len(keys)})")
    for key in keys:
        if len(key) > MAX_KEY_LENGTH or not key.isprintable():
            raise ValueError(
                f"metric names are printable text of at most {MAX_KEY_LENGTH} characters (got {key!r:.60})"
            )
    return keys


def stride_indices(count: int, max_points: int | None) -> list[int]:
    """Indices of at most ``max_points`` of ``count`` items, evenly spaced, first and last included."""
    if max_points is None or count <= max_points:
        return list(range(count))
    if max_points == 1:
        return [count - 1]
    step = (count - 1) / (max_points - 1)
    return sorted({round(i * step) for i in range(max_points)})


def _selected(series: MetricSeries, max_points: int | None) -> tuple[list[int], list[float | None], list[int]]:
    if max_points is None or len(series.epochs) <= max_points:
        return series.epochs, series.values, series.flags
    keep = stride_indices(len(series.epochs), max_points)
    return [series.epochs[i] for i in keep], [series.values[i] for i in keep], [series.flags[i] for i in keep]


def render_rows(series: Sequence[MetricSeries], max_points: int | None) -> bytes:
    """The JSON body ``{"points": [{"run_id", "key", "epoch", "value", "nonfinite"}, ...]}`` (rows)."""
    parts: list[str] = []
    for one in series:
        key = json.dumps(one.key)
        head = f'{{"run_id":{one.run_id},"key":{key},"epoch":'
        epochs, values, flags = _selected(one, max_points)
        for epoch, value, flag in zip(epochs, values, flags, strict=True):
            if flag:
                parts.append(f'{head}{epoch},"value":null,"nonfinite":"{NONFINITE_NAMES[flag]}"}}')
            else:
                parts.append(f'{head}{epoch},"value":{value!r},"nonfinite":null}}')
    return ('{"points":[' + ",".join(parts) + "]}").encode()


def render_columns(series: Sequence[MetricSeriesJson], max_points: int | None) -> bytes:
    """The JSON body ``{"columns": {"run_id": [...], "key": [...], "epoch": [...], "value": [...]},
    "nonfinite": [[index, "NaN"], ...]}``: the same long-format table by column (the dashboard's format).

    A series short enough to need no downsampling (every series, without ``max_points``) has its stored
    JSON arrays spliced as they are (no parsing, no per-point Python): that keeps a whole pilot's 84,000
    points well under 100 ms, and the dashboard's chart (``max_points`` above its series' length) cheap.
    Only longer series are parsed and strided.
    """
    run_ids: list[str] = []
    keys: list[str] = []
    epochs: list[str] = []
    values: list[str] = []
    nonfinite: list[str] = []
    offset = 0
    for one in series:
        count = 0 if one.epochs == "[]" else one.epochs.count(",") + 1
        if not count:
            continue
        if max_points is not None and count > max_points:
            picked, flags = _strided(one, max_points)
            count = len(picked.epochs)
            epochs.append(json.dumps(picked.epochs, separators=(",", ":"))[1:-1])
            values.append(json.dumps(picked.values, separators=(",", ":"))[1:-1])
        else:  # stored as json.dumps writes them, ", " between items: the spaces go (numbers and null have none)
            epochs.append(one.epochs[1:-1].replace(" ", ""))
            values.append(one.values[1:-1].replace(" ", ""))
            flags = json.loads(one.flags) if _ANY_FLAG.search(one.flags) else []
        run_ids.append(f"{one.run_id}," * count)
        keys.append(f"{json.dumps(one.key)}," * count)
        nonfinite.extend(f'[{offset + i},"{NONFINITE_NAMES[f]}"]' for i, f in enumerate(flags) if f)
        offset += count
    return (
        '{"columns":{"run_id":[' + "".join(run_ids)[:-1] + '],"key":[' + "".join(keys)[:-1]
        + '],"epoch":[' + ",".join(epochs) + '],"value":[' + ",".join(values) + ']},"nonfinite":['
        + ",".join(nonfinite) + "]}"
    ).encode()  # fmt: skip


def _strided(raw: MetricSeriesJson, max_points: int) -> tuple[MetricSeries, list[int]]:
    one = MetricSeries(raw.run_id, raw.key, json.loads(raw.epochs), json.loads(raw.values), json.loads(raw.flags))
    epochs, values, flags = _selected(one, max_points)
    return MetricSeries(one.run_id, one.key, epochs, values, flags), flags
