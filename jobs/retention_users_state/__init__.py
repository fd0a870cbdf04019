"""`retention_users_state`: the users whose cohort is in a retention matrix of dt, with the
periods they were active in (the retention group's state, continued from day to day)."""

from include.pulse.table import Table

TABLE = Table(
    name="retention_users_state",
    package=__name__,
    path="retention_users_state",
    partition_key="dt",
    group="retention_cohorts",
    description="one row per user whose cohort is in a retention matrix of dt: cohort day,"
    " breakdowns, active periods per grain",
    upstream=("user_daily", "user_feature_daily", "user_first_seen", "user_feature_first_seen"),
    recomputed=(
        "with the retention marts, for the same snapshots, in date order. A state is continued"
        " only when it is known to be current: staged by the same run, or published under the"
        " same `rules` with no change marked on or before its day; otherwise it is built anew"
        " from the whole span the matrices cover (equal rows, tested)"
    ),
)
