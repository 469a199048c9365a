"""The pilot contract: every fact that more than one layer needs, written once (docs/design.md §1).

``pilot_spec`` imports nothing heavier than pydantic: no torch, FastAPI, SQLAlchemy or Celery (an
import-linter contract holds it to that), so the research library, the worker, the API and the pages all
import it and none of them keeps a copy.
"""
