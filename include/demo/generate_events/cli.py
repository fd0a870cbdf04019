"""`python -m include.demo.generate_events`: the generator's command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date

from include.demo.generate_events.landing import generate_events


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m include.demo.generate_events",
        description="Write deterministic synthetic product events into a Pulse landing area.",
    )
    parser.add_argument("--landing", required=True, help="landing folder (dt=YYYY-MM-DD/ below)")
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--start-date", type=date.fromisoformat, default=date(2024, 3, 1))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--buyers", type=int, default=None, help="sparse buyers (default: users / 10; 0: none)"
    )
    parser.add_argument("--clean", action="store_true", help="remove existing dt= folders first")
    parser.add_argument("--summary", action="store_true", help="print the manifest as JSON")
    args = parser.parse_args(argv)
    try:
        manifest = generate_events(
            args.landing,
            args.users,
            args.days,
            args.start_date,
            args.seed,
            args.clean,
            buyers=args.buyers,
        )
    except (FileExistsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.summary:
        print(json.dumps(manifest, indent=2))
    else:
        totals = manifest["totals"]
        print(
            f"wrote {totals['rows']} rows in {totals['files']} files "
            f"({totals['events_generated']} events, {totals['buyer_purchases']} of them"
            f" sparse buyers' purchases) to {args.landing}"
        )
    return 0
