"""Helpers the tests share (not tests, not fixtures: fixtures stay in the conftest.py files).

- ``api``: the real API on a real store with the enqueue call recorded; users, tokens, pilots, runs.
- ``site``: the whole web app (API + pages) in a test client.
- ``chromium``: how browser tests start Debian's Chromium under Playwright.
- ``browser``: the app under uvicorn for browser tests, signing in, the console watch, chart points.
- ``processes``: real processes (uvicorn, Celery workers, ``rblock-pilot up``) and the shared servers.
- ``servers``: private Redis and PostgreSQL servers the fault tests may kill and restart.
- ``faults``: the service of a fault test (workers, reconciler, store) on the private servers.
"""
