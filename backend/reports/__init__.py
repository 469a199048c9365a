"""Reports a manager can hand on: PDF, self-contained HTML, CSV and JSON, from a pilot's summary."""
