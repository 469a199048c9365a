"""Shared test set-up: one torch thread per test process (pytest-xdist runs one process per core)."""

from __future__ import annotations

import os

if os.environ.get("PYTEST_XDIST_WORKER"):
    try:
        import torch
    except ImportError:  # the API-only install has no torch; its tests do not need it
        pass
    else:
        torch.set_num_threads(1)
