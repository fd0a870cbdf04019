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
    recomputed=(
        "the run's day and every computed snapshot from the earliest change on (a change on X"
        " alters every snapshot from X on: cohorts are over all history), in date order, each"
        " continuing the state just computed. Nightly runs go back `PULSE_LATENESS_DAYS` at"
        " most; older changes wait for a backfill (until then a nightly snapshot is built from"
        " the whole span, so it includes them)"
    ),
)
