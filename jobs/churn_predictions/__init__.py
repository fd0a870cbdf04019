"""`churn_predictions`: each user of the churn population at dt, their calibrated churn
probability, risk band, top 3 reasons and the model version that scored them."""

from include.pulse.table import Table

TABLE = Table(
    name="churn_predictions",
    package=__name__,
    path="marts/churn_predictions",
    partition_key="dt",
    group="churn_features",
    description="one row per user of the churn population at dt: probability, band, reasons",
    upstream=("churn_features",),
)
