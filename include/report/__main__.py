"""`python -m include.report --date D [--warehouse URI] [--out FILE]`: one day's page."""

from include.report.task import main

raise SystemExit(main())
