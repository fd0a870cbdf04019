"""Import what Pulse's tasks import, once, in the Airflow process that forks them.

Airflow's LocalExecutor forks its workers from the scheduler, and each worker forks one process
per task: what the scheduler has imported, every task process inherits instead of importing it
again. Great Expectations, PySpark and pandas take about 8 s to import on a 2-core machine,
more than a small day's work of a table group, and every group's task needs them. Pulse's
`airflow_local_settings.py` (which Airflow imports in each of its processes) calls `preload()`;
it acts in the scheduler only, since the API server, DAG processor and triggerer run no task.

With another executor, the process that forks the tasks is the one to preload (a Celery
worker, say). Nothing breaks without it: each task then imports what it needs itself.
"""

from __future__ import annotations

import importlib
import logging
import sys

log = logging.getLogger(__name__)

# Import-time only: no JVM, no Spark session, no thread pools of our own. The Spark Connect
# client (gRPC) is left out: gRPC is not fork-safe once initialised.
MODULES = (
    "pandas",
    "pyarrow",
    "pyspark.sql",
    "great_expectations",
    "include.pulse.quality",
    "include.pulse.runner",
    "include.pulse.spark",
    # The daily report's charts (about 1 s to import; the report task runs every night).
    "matplotlib.figure",
    "matplotlib.dates",
    "matplotlib.backends.backend_svg",
)


def preload(argv: list[str] | None = None) -> list[str]:
    """In `airflow scheduler`, import `MODULES`; elsewhere nothing. The modules imported."""
    args = sys.argv if argv is None else argv
    if args[1:2] != ["scheduler"]:
        return []
    done = []
    for name in MODULES:
        try:
            importlib.import_module(name)
            done.append(name)
        except ImportError as exc:  # a lean scheduler image: tasks import it themselves
            log.warning("pulse preload: %s not imported (%s)", name, exc)
    return done
