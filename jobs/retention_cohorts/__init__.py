"""`retention_cohorts`: the cohort matrix of each snapshot dt, by grain and breakdown."""

from include.pulse.table import Table

TABLE = Table(
    name="retention_cohorts",
    package=__name__,
    path="marts/retention_cohorts",
    partition_key="dt",
    group="retention_cohorts",
    description="per dt, grain, cohort, breakdown and period: cohort size, retained, rates",
    upstream=("user_daily", "user_feature_daily", "user_first_seen", "user_feature_first_seen"),
)
