"""Plotly figures of a pilot, built by pure functions from its summary (no I/O)."""

from backend.figures.builders import FIGURES, build_figure

__all__ = ["FIGURES", "build_figure"]
