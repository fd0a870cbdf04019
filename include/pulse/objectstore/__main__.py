"""`python -m include.pulse.objectstore publish|restore`."""

from include.pulse.objectstore.publishing import main

raise SystemExit(main())
