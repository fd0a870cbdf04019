"""`churn_backtest`: the predictions made at dt - H scored against what happened in
(dt - H, dt]: the live monitoring of the churn model."""

from include.pulse.table import Table

TABLE = Table(
    name="churn_backtest",
    package=__name__,
    path="marts/churn_backtest",
    partition_key="dt",
    group="churn_features",
    description="per dt and risk band: predictions made at dt - H against the observed churn",
    upstream=("churn_predictions", "user_daily"),
)
