"""Analysis of a pilot: pure functions from stored runs to statistics, comparisons, ROI and warnings.

No I/O here but ``service.analyse_pilot``, which reads one pilot from the store: the rest takes plain
entities (``backend.store.entities``) and returns the typed models of ``pilot_spec.analysis``.
"""
