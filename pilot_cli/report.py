"""``rblock-pilot report PILOT_ID --format pdf|html|csv|json -o FILE``: a pilot's report from the database."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="rblock-pilot report",
        description="Write a pilot's report from the database named by DATABASE_URL (default sqlite:///var/pilot.db). "
        "csv writes the per-run table to FILE and the per-epoch metrics (long format) beside it as FILE-epochs.csv.",
    )
    parser.add_argument("pilot_id", type=int, help="the pilot's id (see the dashboard or GET /api/v1/pilots)")
    parser.add_argument("--format", choices=("pdf", "html", "csv", "json"), default="pdf")
    parser.add_argument(
        "-o", "--output", type=Path, default=None, help="file to write (default pilot-ID-report.FORMAT)"
    )
    args = parser.parse_args(list(argv))

    from backend.reports.charts import ChartsUnavailable
    from backend.reports.export import export_report
    from backend.settings import Settings
    from backend.store import NotFound, Store, StoreUnavailable

    settings = Settings()  # read now: a cached object would miss the environment of this call
    try:
        store = Store(settings.database_url)
        store.ping()
        report = export_report(store, args.pilot_id, args.format, settings.price_per_hour, settings.currency)
        output = args.output or Path(report.filename)
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(report.content)
        written = [output]
        if args.format == "csv":
            epochs = export_report(store, args.pilot_id, "epochs.csv", settings.price_per_hour)
            sibling = output.with_name(f"{output.stem}-epochs.csv")
            sibling.write_bytes(epochs.content)
            written.append(sibling)
    except (NotFound, StoreUnavailable, ChartsUnavailable, ValueError, OSError) as error:
        print(f"rblock-pilot report: {error}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    return 0
