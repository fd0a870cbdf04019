"""`retention_curve`: each period's retention averaged over the complete cohorts of dt."""

from include.pulse.table import Table

TABLE = Table(
    name="retention_curve",
    package=__name__,
    path="marts/retention_curve",
    partition_key="dt",
    group="retention_cohorts",
    description="per dt, grain, breakdown and period: retention over the complete cohorts",
    upstream=("retention_cohorts",),
)
