"""Analysis of a pilot: pure functions from stored runs to statistics, comparisons, ROI and warnings.

No I/O here: callers pass plain entities (``backend.store.entities``) and get plain dataclasses back.
"""
