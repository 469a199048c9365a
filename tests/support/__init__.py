"""Helpers the tests share (not tests, not fixtures: fixtures stay in the conftest.py files).

- ``api``: the real API on a real store with the enqueue call recorded; users, tokens, pilots, runs.
- ``site``: the whole web app (API + pages) in a test client; the CSRF token of a page's form.
- ``chromium``: how browser tests start Debian's Chromium under Playwright.
- ``browser``: the app under uvicorn for browser tests, signing in, the console watch, chart points,
  a pilot of the engineer's.
- ``processes``: real processes (uvicorn, Celery workers, ``rblock-pilot up``) and the shared servers.
- ``servers``: private Redis and PostgreSQL servers the fault tests may kill and restart.
- ``faults``: the service of a fault test (workers, reconciler, store) on the private servers.
- ``uploads``: PNG images, zips of them (a good ImageFolder set, a truncated image) and posting a zip.
- ``hostile``: markup and exotic Unicode for every text field, a pilot made of it, the escaping check,
  and bodies posted straight to the ASGI app.
- ``analysis``: pilots and runs built in memory for the analysis functions; on the API, a pilot whose runs
  finished and the rounds of a sequential pilot.
- ``store``: a pilot written straight to the store.
- ``broker``: the messages waiting on a queue, read as a worker reads them.
- ``metrics``: a ``GET /metrics`` scrape, parsed.

Test modules import helpers from here, never from one another.
"""
