"""`quarantine`: the rows of each arrival day that cannot be events, with a reason."""

from include.pulse.table import Table

TABLE = Table(
    name="quarantine",
    package=__name__,
    path="quarantine",
    partition_key="dt",
    group="events",
    description="rejected rows of arrival day dt, with their reason and raw text",
    recomputed="by the run of its arrival day D only (`dt` = D), replaced whole",
    checked=(
        "kept with the table but not run by the ingest: its exact accounting (rows read ="
        " clean + duplicates + quarantined + erased) fails the run otherwise"
    ),
)
