"""Plotly figures of a pilot, built by pure functions from its summary (no I/O)."""

from backend.figures.builders import FIGURE_CURVES, FIGURES, build_figure

__all__ = ["FIGURES", "FIGURE_CURVES", "build_figure"]
