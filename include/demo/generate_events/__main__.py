"""`python -m include.demo.generate_events --landing DIR [...]` (`--help` lists the options)."""

from include.demo.generate_events.cli import main

raise SystemExit(main())
